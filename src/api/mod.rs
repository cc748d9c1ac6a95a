//! The HTTP API: routes, the layers around them, and shared state.
//!
//! Layers, outermost first, and why they sit where they do ([`app`]):
//! 1. `request_context` gives every request an id (in the envelope, the
//!    `x-request-id` header and its log lines) and counts it in flight; it is
//!    outermost so even unmatched routes and rejected keys carry an id.
//! 2. A handler's panic answers `internal` instead of dropping the
//!    connection.
//! 3. `require_api_key` (on `/v1` routes only) before any handler runs.
//! 4. The body limit and the body read timeout, so no handler buffers an
//!    oversized or stalled body.
//! 5. The router; `track` (per matched route) counts requests by route
//!    template.

mod accounts;
mod audit;
mod catalog;
mod connect;
mod connections;
pub mod envelope;
mod execute;
mod health;
mod lists;
mod mcp;
mod oauth;
mod pages;
mod proxy;
mod webhooks;

pub use oauth::callback_url;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Config, Role};
use crate::error::{Error, ErrorCode};
use crate::logging::{REQUEST, RequestContext};
use crate::metrics::Metrics;
use crate::registry::Specs;
use crate::store::Store;
use crate::upstream::Upstream;
use crate::upstream::limit::KeyedLimit;
use crate::upstream::limit::shared::{SharedLimit, SharedLimits, Verdict};
use crate::vault::Vault;
use envelope::ApiError;

/// Everything a handler may use.
pub struct AppState {
    pub config: Config,
    pub specs: Arc<Specs>,
    pub store: Store,
    pub vault: Arc<Vault>,
    pub upstream: Upstream,
    pub metrics: Metrics,
    pub api_keys: ApiKeys,
    /// Credentials for calls (opened, refreshed, or fetched), and the OAuth
    /// flow's view of the gateway.
    pub auth: crate::auth::Resolver,
}

pub type SharedState = Arc<AppState>;

/// The gateway API keys, kept as SHA-256 digests and compared in constant
/// time, each with its name, its role and its own ingress rate limit when
/// one is configured (kept in Redis by key name when limits are shared).
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
    /// Shared with the requests that come with the key (their log lines).
    names: Vec<Arc<str>>,
    roles: Vec<Role>,
    limit: Option<KeyedLimit<u32>>,
    shared: Option<SharedLimits>,
}

impl ApiKeys {
    pub fn new(
        keys: &[crate::config::ApiKeyConfig],
        limit: Option<&crate::config::RateQuotaConfig>,
    ) -> ApiKeys {
        let parts: Vec<_> = keys.iter().enumerate().map(|(i, k)| k.parts(i)).collect();
        ApiKeys {
            digests: parts
                .iter()
                .map(|(_, key, _)| Sha256::digest(key.as_bytes()).into())
                .collect(),
            names: parts
                .iter()
                .map(|(name, _, _)| Arc::from(name.as_str()))
                .collect(),
            roles: parts.iter().map(|(_, _, role)| *role).collect(),
            limit: limit
                .and_then(|l| crate::upstream::limit::quota(l.requests_per_second, l.burst))
                .map(KeyedLimit::new),
            shared: None,
        }
    }

    /// Keeps the ingress limits in Redis, one per key name for the fleet.
    pub fn with_shared_limits(mut self, shared: Option<SharedLimits>) -> ApiKeys {
        self.shared = shared;
        self
    }

    /// Which key `presented` is, if any. Every key is compared, in constant
    /// time, whatever matches.
    pub fn find(&self, presented: &str) -> Option<u32> {
        use subtle::ConditionallySelectable;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, d) in self.digests.iter().enumerate() {
            let hit = d.ct_eq(&digest);
            index = u32::conditional_select(&index, &(i as u32), hit);
            found |= hit;
        }
        bool::from(found).then_some(index)
    }

    /// Whether `presented` is one of the keys.
    pub fn accepts(&self, presented: &str) -> bool {
        self.find(presented).is_some()
    }

    /// The name of key `index`.
    fn name(&self, index: u32) -> &Arc<str> {
        &self.names[index as usize]
    }

    /// The role of key `index`.
    fn role(&self, index: u32) -> Role {
        self.roles[index as usize]
    }

    /// How long key `index` must wait before its next request, if it must.
    /// An error only when the shared limits do not answer and
    /// `redis_failure` is `closed`.
    async fn throttle(&self, index: u32) -> Result<Option<std::time::Duration>, Error> {
        let Some(limit) = &self.limit else {
            return Ok(None);
        };
        if let Some(shared) = &self.shared {
            let name = self.name(index);
            let key = SharedLimit {
                key: shared.key("api_key", "gateway", Some(name)),
                gcra: limit.gcra(),
            };
            match shared.acquire(std::slice::from_ref(&key)).await? {
                Verdict::Go => return Ok(None),
                Verdict::Wait(wait, _) => return Ok(Some(wait)),
                Verdict::Local => {}
            }
        }
        Ok(limit.check(&index))
    }
}

/// The whole API. `streams` ends the MCP server's long-lived streams (at
/// shutdown).
fn router(state: SharedState, streams: tokio_util::sync::CancellationToken) -> Router {
    let v1 = Router::new()
        .route(
            "/connections",
            post(connections::create).get(connections::list),
        )
        .route(
            "/connections/{id}",
            get(connections::get)
                .patch(connections::update)
                .delete(connections::delete),
        )
        .route(
            "/connected-accounts",
            post(accounts::create).get(accounts::list),
        )
        .route(
            "/connected-accounts/{id}",
            get(accounts::get)
                .patch(accounts::update)
                .delete(accounts::delete),
        )
        .route(
            "/connected-accounts/{id}/credentials",
            post(accounts::set_credentials),
        )
        .route("/connected-accounts/{id}/auth-url", post(oauth::auth_url))
        .route("/connect-sessions", post(connect::create))
        .route("/providers", get(catalog::providers))
        .route("/providers/{provider}", get(catalog::provider))
        .route("/tools", get(catalog::tools))
        .route("/tools/execute", post(execute::execute))
        .route("/proxy/{id}", any(proxy::proxy))
        .route("/proxy/{id}/", any(proxy::proxy))
        .route("/proxy/{id}/{*path}", any(proxy::proxy))
        .route("/mcp-links", post(mcp::create_link))
        .route(
            "/mcp-links/{id}",
            get(mcp::get_link).delete(mcp::delete_link),
        )
        .route("/audit-logs", get(audit::list))
        .route("/audit-logs/export", get(audit::export))
        .route("/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/webhooks/{id}",
            get(webhooks::get).delete(webhooks::delete),
        )
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries));
    // The MCP server: one service behind two ways of saying who the user is.
    let mcp_service = mcp::service(state.clone(), streams);
    let mcp_by_key = Router::new()
        .route_service("/mcp", mcp_service.clone())
        .route_layer(middleware::from_fn(mcp::scope_from_header))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    let mcp_by_link = Router::new()
        .route_service("/mcp/{token}", mcp_service)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            mcp::scope_from_link,
        ));
    Router::new()
        .nest("/v1", v1)
        .merge(mcp_by_key)
        .merge(mcp_by_link)
        // The provider's redirect: its `state` authenticates it, not a key.
        .route("/v1/oauth/callback", get(oauth::callback))
        .route(
            "/v1/oauth/start/{state}",
            get(oauth::start_page).post(oauth::start),
        )
        // The hosted connect page: its link and session cookie authenticate it.
        .route("/connect/{token}", get(connect::page).post(connect::claim))
        .route(
            "/connect/{token}/oauth/{connection_id}",
            post(connect::start_oauth),
        )
        .route(
            "/connect/{token}/credentials/{connection_id}",
            post(connect::submit_credentials),
        )
        .route(
            "/connect/{token}/disconnect/{connection_id}",
            post(connect::disconnect),
        )
        .route("/assets/connect.css", get(pages::stylesheet))
        .route("/assets/logo", get(pages::logo))
        .route(
            "/assets/providers/{provider}/logo",
            get(pages::provider_logo),
        )
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .route_layer(TrackLayer(state.metrics.http_requests.clone()))
        .with_state(state)
}

/// The routes inside the layers every request passes once, outermost first
/// (see the module's documentation). They wrap the router as a whole:
/// `Router::layer` would wrap every route in each of them, and a request
/// would pay for copying those wrappers on its way in.
pub fn app(
    state: SharedState,
    streams: tokio_util::sync::CancellationToken,
) -> impl tower::Service<
    axum::http::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let body_limit = state.config.max_body_bytes;
    // A body that stalls is cut off (a slow-body client holds nothing long).
    let body_timeout = std::time::Duration::from_millis(state.config.server.body_read_timeout_ms);
    tower::ServiceBuilder::new()
        .map_request(|req: axum::http::Request<hyper::body::Incoming>| {
            req.map(axum::body::Body::new)
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        // Before routing, so a caller without a key learns nothing of the
        // routes under /v1 (no 404 or 405 that tells them apart).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_key_for_v1,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        .service(router(state, streams))
}

/// `GET /openapi.json`: the API described (`docs/openapi.json`), with this
/// gateway's public origin as its server.
async fn openapi(State(state): State<SharedState>) -> axum::Json<serde_json::Value> {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        serde_json::from_str(include_str!("../../docs/openapi.json"))
            .expect("docs/openapi.json is valid JSON")
    });
    let mut document = DOCUMENT.clone();
    document["servers"] = serde_json::json!([{"url": connect::public_base(&state)}]);
    axum::Json(document)
}

async fn unknown_route(State(state): State<SharedState>, req: Request) -> ApiError {
    state
        .metrics
        .http_requests
        .with_label_values(&[method_label(req.method()), "unmatched", "404"])
        .inc();
    ApiError(Error::new(ErrorCode::NotFound, "no such route"))
}

/// A known path with another method: the envelope, with HTTP 405.
async fn wrong_method(req: Request) -> Response {
    let message = format!("{} is not allowed on {}", req.method(), req.uri().path());
    let mut response = ApiError(Error::new(ErrorCode::InvalidRequest, message)).into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Request id, in-flight gauge, and what the request's log lines say of it
/// (its [`RequestContext`]), ending with its `request served` line.
async fn request_context(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let context = RequestContext::new(method_label(req.method()), log_path(req.uri().path()));
    let id = HeaderValue::from_str(&context.id).ok();
    // Decremented when the request ends, however it ends (a panic too).
    let in_flight = InFlight::start(&state.metrics);
    let started = Instant::now();
    // A body declared larger than the limit is refused before a byte of it
    // is read (a client that sent `Expect: 100-continue` never sends it).
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // The raw proxy streams bodies of any size to the provider.
    let streamed = req.uri().path().starts_with("/v1/proxy/");
    let too_large = !streamed && declared.is_some_and(|n| n > state.config.max_body_bytes);
    let run = async move {
        let response = if too_large {
            envelope::invalid("the body is too large").into_response()
        } else {
            next.run(req).await
        };
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request served"
        );
        response
    };
    let mut response = REQUEST.scope(context, run).await;
    drop(in_flight);
    if let Some(id) = id {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// A 303 to `location`, setting `cookie` when there is one (pages' redirects).
fn see_other(location: String, cookie: Option<String>) -> Response {
    let mut response = (
        axum::http::StatusCode::SEE_OTHER,
        [(header::LOCATION, location)],
    )
        .into_response();
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The value of the cookie `name` the browser sent, if any.
fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// A request path as logged: link tokens (connect pages, MCP links) are
/// secrets and are replaced by `{token}`, and the length is bounded.
fn log_path(path: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(path.len().min(MAX));
    let mut segments = path.split('/');
    let mut previous = "";
    let mut first = true;
    for segment in segments.by_ref() {
        if !first {
            out.push('/');
        }
        first = false;
        let secret = (matches!(previous, "connect" | "mcp") && out.matches('/').count() == 2)
            || (previous == "start" && out == "/v1/oauth/start/");
        out.push_str(if secret { "{token}" } else { segment });
        previous = segment;
        if out.len() > MAX {
            let cut = (0..=MAX)
                .rev()
                .find(|i| out.is_char_boundary(*i))
                .unwrap_or(0);
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    out
}

/// A request method as a metric label: the standard ones by name, any
/// other as `other` (a client must not be able to make series at will).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One request in flight, counted while it lives.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn start(metrics: &Metrics) -> InFlight {
        metrics.in_flight.inc();
        InFlight(metrics.in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A handler that panicked answers `internal`; the process and the other
/// requests go on.
fn panicked(detail: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = detail
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| detail.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a request handler panicked");
    ApiError(Error::new(ErrorCode::Internal, "internal error")).into_response()
}

/// Counts requests by route template (never by raw path: ids are
/// unbounded). It wraps every route (only there is the template known), so
/// it is a plain service rather than a `from_fn` layer, which would copy the
/// route's service on each request.
#[derive(Clone)]
struct Track<S> {
    inner: S,
    requests: prometheus::IntCounterVec,
}

/// Puts [`Track`] around a route.
#[derive(Clone)]
struct TrackLayer(prometheus::IntCounterVec);

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            requests: self.0.clone(),
        }
    }
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = method_label(req.method());
        let route = req.extensions().get::<MatchedPath>().cloned();
        let answer = self.inner.call(req);
        let requests = self.requests.clone();
        Box::pin(async move {
            let response = answer.await?;
            let route = route.as_ref().map_or("", MatchedPath::as_str);
            requests
                .with_label_values(&[method, route, response.status().as_str()])
                .inc();
            Ok(response)
        })
    }
}

/// Every `/v1` path but the OAuth callback (its `state` authenticates it)
/// needs an API key.
async fn require_key_for_v1(state: State<SharedState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // The OAuth start link and callback are authenticated by their state.
    let keyed = (path == "/v1" || path.starts_with("/v1/"))
        && path != "/v1/oauth/callback"
        && !path.starts_with("/v1/oauth/start/");
    if keyed {
        require_api_key(state, req, next).await
    } else {
        next.run(req).await
    }
}

/// Whether `role` may make this request. `execute` keys get what an agent
/// runtime needs: tool calls, the proxy, the catalog, the MCP server.
fn role_allows(role: Role, method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    match role {
        Role::Admin => true,
        Role::Execute => {
            path == "/mcp"
                || path.starts_with("/v1/proxy/")
                || (*method == Method::POST && path == "/v1/tools/execute")
                || (*method == Method::GET
                    && (path == "/v1/tools"
                        || path == "/v1/providers"
                        || path.starts_with("/v1/providers/")))
        }
    }
}

/// `Authorization: Bearer <key>` with a configured key, or `unauthenticated`;
/// a key whose role does not cover the request, `forbidden`. The key's name
/// goes into the request's context (its log lines, the audit trail's actor).
async fn require_api_key(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented.and_then(|key| state.api_keys.find(key)) {
        Some(index) => match state.api_keys.throttle(index).await {
            Err(e) => ApiError(e).into_response(),
            Ok(None) => {
                let (name, role) = (state.api_keys.name(index), state.api_keys.role(index));
                crate::logging::record_api_key(name);
                let path = req
                    .extensions()
                    .get::<axum::extract::OriginalUri>()
                    .map_or(req.uri().path(), |o| o.0.path());
                if !role_allows(role, req.method(), path) {
                    return ApiError(Error::new(
                        ErrorCode::Forbidden,
                        format!(
                            "API key `{}` (role {}) may not {} {}",
                            name,
                            role.as_str(),
                            method_label(req.method()),
                            log_path(path)
                        ),
                    ))
                    .into_response();
                }
                next.run(req).await
            }
            Ok(Some(wait)) => {
                state
                    .metrics
                    .rate_limited
                    .with_label_values(&["gateway", "api_key", "rejected"])
                    .inc();
                ApiError(
                    Error::new(
                        ErrorCode::RateLimited,
                        "this API key is over its request rate",
                    )
                    .with_retry_after(wait.as_secs_f64().ceil().max(1.0) as u64),
                )
                .into_response()
            }
        },
        None if presented.is_some() => ApiError(Error::new(
            ErrorCode::Unauthenticated,
            "the API key is not valid",
        ))
        .into_response(),
        None => ApiError(Error::new(
            ErrorCode::Unauthenticated,
            "send an API key as `Authorization: Bearer <key>`",
        ))
        .into_response(),
    }
}

pub use crate::clock::now;

/// A `redirect_url` where a user is sent after an authorization: absolute
/// http(s), and on an origin of `allowed_redirect_origins` when the operator
/// lists any (so a minted link cannot send a user to a site of its choosing).
pub fn check_redirect_url(state: &SharedState, url: &str) -> envelope::ApiResult<()> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| envelope::invalid("redirect_url must be an absolute http(s) URL"))?;
    let allowed = &state.config.allowed_redirect_origins;
    let origin = parsed.origin().ascii_serialization();
    if !allowed.is_empty() && !allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return Err(envelope::invalid(format!(
            "redirect_url must be on an allowed origin ({}), not {origin}",
            allowed.join(", ")
        )));
    }
    Ok(())
}

pub use crate::store::new_id;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths_hide_link_tokens() {
        let cases = [
            ("/connect/s3cr3t", "/connect/{token}"),
            ("/v1/oauth/start/s3cr3t", "/v1/oauth/start/{token}"),
            (
                "/connect/s3cr3t/oauth/conn_1",
                "/connect/{token}/oauth/conn_1",
            ),
            ("/mcp/s3cr3t", "/mcp/{token}"),
            ("/mcp", "/mcp"),
            ("/v1/connections/conn_1", "/v1/connections/conn_1"),
            ("/v1/proxy/ca_1/connect/x", "/v1/proxy/ca_1/connect/x"),
        ];
        for (path, logged) in cases {
            assert_eq!(log_path(path), logged, "{path}");
        }
        assert!(log_path(&format!("/{}", "é".repeat(500))).len() <= 210);
    }

    #[test]
    fn only_standard_methods_are_metric_labels() {
        let made_up = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&made_up), "other");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
