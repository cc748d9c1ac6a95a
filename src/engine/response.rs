//! Mapping a provider's response back: error detection, then output fields.

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode};
use crate::registry::{Provider, Tool};

/// What a provider answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ProviderResponse {
    /// A JSON response with the given status (tests and examples).
    pub fn json(status: u16, body: &Value) -> ProviderResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        ProviderResponse {
            status,
            headers,
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// Longest piece of a non-JSON body quoted in an error's details.
const EXCERPT_CHARS: usize = 200;

/// Parses the body and turns any provider failure into the unified error.
/// Returns the parsed body on success.
pub fn check(provider: &Provider, response: &ProviderResponse) -> Result<Value, Error> {
    let status = response.status;
    let success_status = (200..300).contains(&status);
    let body = match parse_body(&response.body) {
        Ok(body) => body,
        Err(()) => {
            let mut err = if success_status {
                provider_failure(
                    provider,
                    ErrorCode::ProviderError,
                    status,
                    "the provider answered with a body that is not valid JSON".into(),
                )
            } else {
                let code = status_code(provider, status);
                provider_failure(
                    provider,
                    code,
                    status,
                    format!("the provider answered HTTP {status}"),
                )
            };
            err = err.with_detail("body_excerpt", excerpt(&response.body));
            return Err(with_retry_after(err, &response.headers));
        }
    };
    let rules = provider.errors.as_ref();
    let rule_hit = rules
        .and_then(|r| r.when.as_ref())
        .is_some_and(|w| w.holds(&body));
    if success_status && !rule_hit {
        return Ok(body);
    }

    let message = rules
        .and_then(|r| r.message.as_ref())
        .and_then(|p| p.first(&body))
        .map(scalar_text);
    let provider_code = rules
        .and_then(|r| r.code.as_ref().or(r.message.as_ref()))
        .and_then(|p| p.first(&body))
        .map(scalar_text);
    let code = provider_code
        .as_deref()
        .and_then(|c| rules.and_then(|r| r.codes.get(c)).copied())
        .unwrap_or_else(|| status_code(provider, status));
    let text = message
        .clone()
        .unwrap_or_else(|| format!("the provider answered HTTP {status}"));
    let mut err = provider_failure(provider, code, status, text);
    if let Some(m) = message {
        err = err.with_detail("provider_message", m);
    }
    if let Some(c) = provider_code {
        err = err.with_detail("provider_code", c);
    }
    Err(with_retry_after(err, &response.headers))
}

/// The output of a successful call: the mapped fields, or the whole body.
pub fn map_output(tool: &Tool, body: &Value) -> Value {
    match &tool.output {
        None => body.clone(),
        Some(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (name, path) in fields {
                out.insert(name.clone(), path.select(body));
            }
            Value::Object(out)
        }
    }
}

/// An empty body is `null`; anything else must be JSON.
fn parse_body(body: &[u8]) -> Result<Value, ()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| ())
}

/// The unified code for an HTTP status, unless the spec maps it.
fn status_code(provider: &Provider, status: u16) -> ErrorCode {
    if let Some(code) = provider
        .errors
        .as_ref()
        .and_then(|r| r.codes.get(status.to_string().as_str()))
    {
        return *code;
    }
    match status {
        401 => ErrorCode::ReauthorizationRequired,
        429 => ErrorCode::RateLimited,
        _ => ErrorCode::ProviderError,
    }
}

fn provider_failure(provider: &Provider, code: ErrorCode, status: u16, message: String) -> Error {
    Error::new(code, message)
        .with_provider(&provider.key)
        .with_upstream_status(status)
}

/// Copies a `Retry-After` in seconds onto a rate-limit error.
fn with_retry_after(err: Error, headers: &HeaderMap) -> Error {
    if err.code != ErrorCode::RateLimited {
        return err;
    }
    let seconds = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match seconds {
        Some(s) => err.with_retry_after(s),
        None => err,
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}
