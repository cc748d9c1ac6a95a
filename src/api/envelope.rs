//! The one place errors become HTTP responses, and the extractors that make
//! bad input an `invalid_request` in the same envelope.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorCode};
use crate::store::StoreError;

pub use crate::audit::request_id;

/// An error on its way to becoming the unified envelope.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError(Error::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status =
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = Map::new();
        body.insert("code".into(), json!(e.code));
        body.insert("message".into(), json!(e.message));
        body.insert("request_id".into(), json!(request_id()));
        if let Some(p) = &e.provider {
            body.insert("provider".into(), json!(p));
        }
        if let Some(s) = e.upstream_status {
            body.insert("upstream_status".into(), json!(s));
        }
        if let Some(s) = e.retry_after_s {
            body.insert("retry_after_s".into(), json!(s));
        }
        body.insert("details".into(), Value::Object(*e.details));
        let mut response = (status, axum::Json(json!({ "error": body }))).into_response();
        if let Some(s) = e.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// A `not_found` error.
pub fn not_found(message: impl Into<String>) -> ApiError {
    ApiError(Error::new(ErrorCode::NotFound, message))
}

/// An `invalid_request` error.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(Error::new(ErrorCode::InvalidRequest, message))
}

/// A JSON object body; any problem with it is an `invalid_request` envelope.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Json<T>, ApiError> {
        let bytes = json_bytes(req, state).await?;
        decode(&bytes).map(Json)
    }
}

/// A JSON object body that may be left out (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<OptionalJson<T>, ApiError> {
        let declared_empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        if declared_empty || !req.headers().contains_key(header::CONTENT_TYPE) {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|r| bytes_rejection(r.status(), &r.body_text()))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            return Err(invalid(
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        let bytes = json_bytes(req, state).await?;
        decode(&bytes).map(OptionalJson)
    }
}

/// The body of a request that says it is JSON, read within the body limit.
async fn json_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|e| {
            e == "application/json" || (e.starts_with("application/") && e.ends_with("+json"))
        });
    if !is_json {
        return Err(invalid(
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|r| bytes_rejection(r.status(), &r.body_text()))
}

/// A body is a JSON object (serde would also read a list into a struct).
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(invalid("the body must be a JSON object"));
    }
    // Read plainly first; only a body that fails is read again, through
    // axum, for an error that says where (the path to the bad value).
    serde_json::from_slice(bytes).or_else(|_| {
        axum::Json::<T>::from_bytes(bytes)
            .map(|axum::Json(v)| v)
            .map_err(json_rejection)
    })
}

fn bytes_rejection(status: StatusCode, text: &str) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        invalid("the body is too large")
    } else {
        invalid(format!("the body could not be read: {text}"))
    }
}

/// Path parameters; one that cannot be read is an `invalid_request`.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Path<T>, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text
        .split_once(": ")
        .map(|(_, d)| d.to_owned())
        .unwrap_or(text);
    invalid(format!("invalid path: {detail}"))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON, sent with Content-Type: application/json".to_owned()
        }
        JsonRejection::JsonSyntaxError(_) => {
            format!("the body is not valid JSON: {}", inner_text(&rejection))
        }
        JsonRejection::JsonDataError(_) => format!(
            "the body does not fit this endpoint: {}",
            inner_text(&rejection)
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            "the body is too large".to_owned()
        }
        _ => format!("the body could not be read: {}", rejection.body_text()),
    };
    invalid(message)
}

/// The part of a rejection's text after axum's generic prefix.
fn inner_text(rejection: &JsonRejection) -> String {
    let text = rejection.body_text();
    match text.split_once(": ") {
        Some((_, rest)) => rest.to_owned(),
        None => text,
    }
}

/// Query parameters; any problem is an `invalid_request` envelope.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text
        .split_once(": ")
        .map(|(_, d)| d.to_owned())
        .unwrap_or(text);
    invalid(format!("invalid query parameters: {detail}"))
}
