//! The public error model: one enum of the contract's error codes.
//!
//! Every failure a caller can see ends up as an [`Error`], whose [`ErrorCode`] is
//! one of the codes of the public contract (DESIGN section 4). Internal details
//! (sources, provider bodies) travel in `details` or are logged, never shown
//! raw. The HTTP envelope is built from this type in exactly one place (the API
//! layer).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The unified error codes of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    ReauthorizationRequired,
    InvalidParameters,
    RateLimited,
    ProviderError,
    UpstreamUnavailable,
    UpstreamTimeout,
    Internal,
}

impl ErrorCode {
    /// All codes, in the order of the contract's table.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::ReauthorizationRequired,
        ErrorCode::InvalidParameters,
        ErrorCode::RateLimited,
        ErrorCode::ProviderError,
        ErrorCode::UpstreamUnavailable,
        ErrorCode::UpstreamTimeout,
        ErrorCode::Internal,
    ];

    /// The HTTP status the envelope is sent with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::ReauthorizationRequired => 409,
            ErrorCode::InvalidParameters => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::ProviderError => 502,
            ErrorCode::UpstreamUnavailable => 503,
            ErrorCode::UpstreamTimeout => 504,
            ErrorCode::Internal => 500,
        }
    }

    /// The wire name, e.g. `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::ReauthorizationRequired => "reauthorization_required",
            ErrorCode::InvalidParameters => "invalid_parameters",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::UpstreamUnavailable => "upstream_unavailable",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field that failed a tool's parameter schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON Pointer of the offending value inside `parameters` (`""` for the object itself).
    pub field: String,
    pub message: String,
}

/// The longest wait an error asks a caller for: one day.
pub const MAX_RETRY_AFTER_S: u64 = 24 * 60 * 60;

/// A failure as callers see it: a contract code, a message safe to show, and
/// the optional envelope fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub provider: Option<String>,
    pub upstream_status: Option<u16>,
    pub retry_after_s: Option<u64>,
    /// Structured context (failing fields, the provider's own code…); boxed
    /// to keep `Result<_, Error>` small on the happy path.
    pub details: Box<Map<String, Value>>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            provider: None,
            upstream_status: None,
            retry_after_s: None,
            details: Box::default(),
        }
    }

    /// `invalid_parameters` with one entry per failing field in `details.fields`.
    pub fn invalid_parameters(fields: Vec<FieldError>) -> Error {
        let message = match fields.as_slice() {
            [one] if one.field.is_empty() => format!("parameters: {}", one.message),
            [one] => {
                let name = one.field.trim_start_matches('/');
                let sep = if one.message.starts_with("is ") {
                    " "
                } else {
                    ": "
                };
                format!("parameter `{name}`{sep}{}", one.message)
            }
            many => format!("{} parameters are invalid", many.len()),
        };
        let fields = serde_json::to_value(&fields).unwrap_or_default();
        Error::new(ErrorCode::InvalidParameters, message).with_detail("fields", fields)
    }

    pub fn with_provider(mut self, provider: impl Into<String>) -> Error {
        self.provider = Some(provider.into());
        self
    }

    pub fn with_upstream_status(mut self, status: u16) -> Error {
        self.upstream_status = Some(status);
        self
    }

    /// Sets `retry_after_s`, at most [`MAX_RETRY_AFTER_S`] (a provider's
    /// absurd ask is not passed on as such).
    pub fn with_retry_after(mut self, seconds: u64) -> Error {
        self.retry_after_s = Some(seconds.min(MAX_RETRY_AFTER_S));
        self
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Error {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_contract_statuses() {
        let table: Vec<_> = ErrorCode::ALL
            .iter()
            .map(|c| format!("{} {}", c.as_str(), c.http_status()))
            .collect();
        assert_eq!(
            table,
            [
                "invalid_request 400",
                "unauthenticated 401",
                "forbidden 403",
                "not_found 404",
                "conflict 409",
                "reauthorization_required 409",
                "invalid_parameters 422",
                "rate_limited 429",
                "provider_error 502",
                "upstream_unavailable 503",
                "upstream_timeout 504",
                "internal 500",
            ]
        );
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn invalid_parameters_lists_every_field() {
        let err = Error::invalid_parameters(vec![
            FieldError {
                field: "/channel".into(),
                message: "is required".into(),
            },
            FieldError {
                field: "/text".into(),
                message: "must be a string".into(),
            },
        ]);
        assert_eq!(err.code, ErrorCode::InvalidParameters);
        assert_eq!(err.message, "2 parameters are invalid");
        assert_eq!(
            Value::Object(*err.details),
            serde_json::json!({"fields": [
                {"field": "/channel", "message": "is required"},
                {"field": "/text", "message": "must be a string"}
            ]})
        );
    }
}
