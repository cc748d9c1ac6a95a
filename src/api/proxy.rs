//! `ANY /v1/proxy/{connected_account_id}/{path…}`: the provider's own API,
//! for the endpoint no tool covers.
//!
//! The request goes to the provider's base URL (of the account's auth
//! method) joined with the path by the same rules as tools, so the host can
//! never change; the method, query, headers (less hop-by-hop ones, `Host`,
//! `Authorization` and cookies) and body are the caller's, and the
//! credentials come from the spec's `auth.inject`, refreshed as for tools.
//! The rate limits and circuit breaker of the tool path apply. Bodies stream
//! both ways: a small request body is read whole so that it can be retried
//! (idempotent methods) or resent after a refresh; a larger one is streamed
//! once. The provider's answer comes back as it is; only the gateway's own
//! failures use the error envelope.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};

use super::SharedState;
use super::envelope::{ApiError, Path};
use super::execute::{self, Subject};
use crate::engine::{self, CallContext};
use crate::error::{Error, ErrorCode};
use crate::spec::AuthType;
use crate::upstream::ForwardBody;

/// Request bodies up to this size are read whole, and can be sent again.
const REPLAYABLE_BODY_BYTES: usize = 1024 * 1024;

/// Headers that belong to one connection (RFC 9110 section 7.6.1), never
/// forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The caller's headers that must not reach the provider: the gateway's own
/// credentials, the caller's cookies, and the host the caller addressed.
const NOT_FORWARDED: &[&str] = &["host", "authorization", "cookie"];

/// `ANY /v1/proxy/{id}/{*path}` (and `/v1/proxy/{id}` for the base itself).
pub async fn proxy(
    State(state): State<SharedState>,
    Path(params): Path<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let id = params
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match forward(&state, &id, req).await {
        Ok(response) => response,
        Err(e) => ApiError(e).into_response(),
    }
}

async fn forward(state: &SharedState, id: &str, req: Request) -> Result<Response, Error> {
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let found =
        state.store.account_for_call(id).await?.ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("no connected account `{id}`"))
        })?;
    let (account, connection) = (&found.0, &found.1);
    let registry = state.specs.current();
    let provider = registry.provider(&account.provider).ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            format!("provider `{}` is not loaded", account.provider),
        )
    })?;
    let subject = Subject {
        provider,
        auth: crate::auth::method(provider, connection)?,
        account,
        connection,
    };
    if let Err(e) = execute::ensure_active(account) {
        return Err(execute::with_user_link(state, subject, e, &[]).await);
    }

    // The path as the caller wrote it (still percent-encoded), after the
    // prefix; the router under `/v1` sees the URI without it.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let prefix = format!("/v1/proxy/{id}");
    let rest = uri.path().strip_prefix(&prefix).unwrap_or_default();
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let headers = forwarded_headers(&parts.headers);
    let (body, replayable) = request_body(&parts.headers, body).await?;

    let idempotent = matches!(
        parts.method,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::OPTIONS
    );
    let plan = execute::plan(state, subject, idempotent, None);

    let send = |credentials: &serde_json::Map<String, serde_json::Value>, body: ForwardBody| {
        let ctx = CallContext {
            connection_config: Some(&connection.config),
            account_config: Some(&account.config),
            credentials: Some(credentials),
            auth: Some(subject.auth),
            credentials_origin: execute::credentials_origin(subject),
        };
        let rendered = engine::render_proxy(
            provider,
            parts.method.clone(),
            &path_and_query,
            headers.clone(),
            &ctx,
        );
        let plan = &plan;
        async move { state.upstream.forward(plan, rendered?, body).await }
    };
    let sent = async {
        let credentials = subject
            .credentials(state, None)
            .await
            .map_err(|e| e.with_provider(&provider.key))?;
        let (mut response, _) = send(&credentials, body).await?;
        // A token the provider refuses is replaced once, and the request
        // sent again when its body can be.
        let renewable = matches!(
            subject.auth.kind,
            AuthType::Oauth2 | AuthType::Oauth2ClientCredentials
        );
        if response.status() == http::StatusCode::UNAUTHORIZED
            && renewable
            && let Some(bytes) = &replayable
        {
            let fresh = subject.credentials(state, Some(&credentials)).await?;
            (response, _) = send(&fresh, ForwardBody::Replayable(bytes.clone())).await?;
        }
        Ok::<_, Error>(response)
    }
    .await;
    // The trail has the method and the answer, not the path (it may carry
    // values the caller would not want kept).
    let mut event = crate::audit::Event::new("proxy.request").account(account);
    event.tool = Some(parts.method.as_str().to_owned());
    event.outcome = Some(match &sent {
        Ok(_) => "forwarded".to_owned(),
        Err(e) => e.code.as_str().to_owned(),
    });
    event.upstream_status = match &sent {
        Ok(r) => Some(i64::from(r.status().as_u16())),
        Err(e) => e.upstream_status.map(i64::from),
    };
    event.duration_ms = Some(started.elapsed().as_millis() as i64);
    state.store.audit().record(event);
    let response = sent?;
    execute::record_use(state, account);

    let (mut head, incoming) = response.into_parts();
    for name in HOP_BY_HOP {
        head.headers.remove(*name);
    }
    Ok(Response::from_parts(head, Body::new(incoming)))
}

/// The caller's headers less those that must not be forwarded.
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    // `Connection` may name more headers of the same hop.
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    for name in named {
        out.remove(name.as_str());
    }
    for name in HOP_BY_HOP.iter().chain(NOT_FORWARDED) {
        out.remove(*name);
    }
    out
}

/// The request body: read whole when it is declared small (the bytes are
/// returned, for a retry), otherwise a stream sent once. A body without a
/// declared length is streamed unless the method has none.
async fn request_body(
    headers: &HeaderMap,
    body: Body,
) -> Result<(ForwardBody, Option<Bytes>), Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    let small = match declared {
        Some(n) => n <= REPLAYABLE_BODY_BYTES,
        None => !chunked,
    };
    if !small {
        return Ok((
            ForwardBody::Stream(body.map_err(Into::into).boxed_unsync()),
            None,
        ));
    }
    let bytes = Limited::new(body, REPLAYABLE_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| {
            Error::new(
                ErrorCode::InvalidRequest,
                "the request body is not the length it declared",
            )
        })?
        .to_bytes();
    Ok((ForwardBody::Replayable(bytes.clone()), Some(bytes)))
}
