//! Mapping a provider's response back: error detection, then output fields.

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode};
use crate::registry::{ErrorRules, OutputField, Provider, Tool};
use crate::template::TemplateSet;

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
    let code = rules
        .and_then(|r| rule_code(r, status, &response.headers, &body))
        .or_else(|| {
            provider_code
                .as_deref()
                .and_then(|c| rules.and_then(|r| r.codes.get(c)).copied())
        })
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
    if let Some(details) = rules
        .and_then(|r| r.details.as_ref())
        .map(|p| p.select(&body))
        .filter(|v| !v.is_null())
    {
        err = err.with_detail("provider_details", details);
    }
    let err = with_retry_after(err, &response.headers);
    // A delay in the body (Discord's `retry_after`) when no header gave one.
    let body_delay = rules
        .and_then(|r| r.retry_after.as_ref())
        .and_then(|p| p.first(&body))
        .and_then(body_seconds);
    Err(match body_delay {
        Some(s) if err.code == ErrorCode::RateLimited && err.retry_after_s.is_none() => {
            err.with_retry_after(s)
        }
        _ => err,
    })
}

/// The code of the first rule whose conditions all hold.
fn rule_code(
    rules: &ErrorRules,
    status: u16,
    headers: &HeaderMap,
    body: &Value,
) -> Option<ErrorCode> {
    rules
        .rules
        .iter()
        .find(|rule| {
            (rule.statuses.is_empty() || rule.statuses.contains(&status))
                && rule.headers.iter().all(|(name, want)| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.trim() == want)
                })
                && rule.when.as_ref().is_none_or(|w| w.holds(body))
        })
        .map(|rule| rule.code)
}

/// A delay in seconds from a body value (a number, possibly fractional, or
/// its text), rounded up and bounded to a day.
fn body_seconds(value: &Value) -> Option<u64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.ceil().min(86_400.0) as u64)
}

/// The output of a successful call: the mapped fields, or the whole body.
pub fn map_output(provider: &Provider, tool: &Tool, body: &Value) -> Value {
    match &tool.output {
        // An answer with no body (204) is an empty object, not null.
        None if body.is_null() => Value::Object(Map::new()),
        None => body.clone(),
        Some(fields) => map_fields(&provider.templates, fields, body),
    }
}

fn map_fields(templates: &TemplateSet, fields: &[(String, OutputField)], value: &Value) -> Value {
    let mut out = Map::with_capacity(fields.len());
    for (name, field) in fields {
        out.insert(name.clone(), map_field(templates, field, value));
    }
    Value::Object(out)
}

fn map_field(templates: &TemplateSet, field: &OutputField, value: &Value) -> Value {
    match field {
        OutputField::Path(path) => path.select(value),
        OutputField::Items { path, fields } => match path.select(value) {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| map_fields(templates, fields, i))
                    .collect(),
            ),
            Value::Null if path.is_singular() => Value::Array(Vec::new()),
            object @ Value::Object(_) => map_fields(templates, fields, &object),
            other => other,
        },
        OutputField::Value { path, expr } => {
            let selected = path.select(value);
            let ctx = minijinja::Value::from(std::collections::BTreeMap::from([(
                "value",
                minijinja::Value::from(minijinja::value::Serde(&selected)),
            )]));
            match templates.eval(*expr, &ctx) {
                Ok(Some(v)) => serde_json::to_value(&v).unwrap_or(Value::Null),
                Ok(None) => Value::Null,
                // The provider's answer was a success; a value the expression
                // cannot take is left out rather than failing the call.
                Err(e) => {
                    tracing::warn!(error = ?e, "an output value expression failed");
                    Value::Null
                }
            }
        }
    }
}

/// The output of a content (download) response: text for textual media
/// types, base64 otherwise.
pub fn content_output(response: &ProviderResponse) -> Value {
    let mime = response
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let essence = mime
        .as_deref()
        .and_then(|m| m.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let textual = essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        );
    let mut out = Map::new();
    match std::str::from_utf8(&response.body) {
        Ok(text) if textual => {
            out.insert("content".into(), Value::String(text.to_owned()));
        }
        _ => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&response.body);
            out.insert("content_base64".into(), Value::String(encoded));
        }
    }
    out.insert(
        "mime_type".into(),
        mime.map(Value::String).unwrap_or(Value::Null),
    );
    out.insert("size".into(), Value::from(response.body.len()));
    Value::Object(out)
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

/// Copies a `Retry-After` (seconds or an HTTP date) onto a rate-limit error,
/// in whole seconds.
fn with_retry_after(err: Error, headers: &HeaderMap) -> Error {
    if err.code != ErrorCode::RateLimited {
        return err;
    }
    let seconds = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::clock::retry_after)
        .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
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
