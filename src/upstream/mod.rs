//! Everything between a rendered request and the provider: the HTTP client,
//! and the resilience around it.
//!
//! One pooled hyper-util client for the whole gateway: HTTP/1.1 and HTTP/2
//! (ALPN), rustls with the Mozilla roots (plus any extra CA certificates the
//! operator configures), a connect timeout, and a bound on response size.
//!
//! Every attempt of [`Upstream::call`] and [`Upstream::forward`] passes
//! these layers, each its own function, composed in one place
//! (`Upstream::attempts`), outermost first:
//!
//! 1. the client-side rate limits (`limit`, `Upstream::wait_for_rate_limit`):
//!    outermost, so waiting for a turn never counts against a provider or
//!    its breaker;
//! 2. the circuit breaker of the provider's host (`breaker`,
//!    `Upstream::through_breaker`): an unhealthy host is not hammered, and
//!    every attempt it lets through is recorded as healthy or not;
//! 3. the attempt itself under its timeout (`Upstream::timed`): the
//!    attempt's own limit or what remains of the call's deadline, whichever
//!    is less, measured in the upstream metrics;
//! 4. the retry policy (`retry`, `RetryPolicy::again`): whether another
//!    attempt follows, and after what pause, within the deadline.
//!
//! [`Upstream::exchange`] (a provider's OAuth token, revocation and
//! discovery requests) and [`Upstream::once`] (the lookup of who an account
//! is) pass layers 2 and 3 only (`Upstream::single`): the same breakers and
//! metrics, no rate limit, no retry.
//!
//! Transport failures become contract errors here; the engine sees either a
//! [`ProviderResponse`] or an [`Error`].

pub mod breaker;
pub mod limit;
pub mod retry;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::engine::{ProviderResponse, RenderedRequest};
use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use breaker::{BreakerConfig, Breakers};
use limit::ProviderLimit;
use retry::{RetryConfig, RetryPolicy};

/// Upstream settings (config key `upstream`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub connect_timeout_ms: u64,
    /// Whole-call deadline (every page and retry) when neither the tool nor
    /// the provider sets one.
    pub timeout_ms: u64,
    /// Deadline of one attempt (capped by what remains of the call's).
    pub attempt_timeout_ms: u64,
    pub retry: RetryConfig,
    /// How long a call may wait for a client-side rate limit before it fails
    /// with `rate_limited`; 0 fails at once.
    pub rate_limit_wait_ms: u64,
    pub circuit_breaker: BreakerConfig,
    /// Responses larger than this fail with `provider_error`.
    pub max_response_bytes: usize,
    /// Extra PEM CA certificates to trust (private CAs, test servers).
    pub ca_certs: Vec<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> UpstreamConfig {
        UpstreamConfig {
            connect_timeout_ms: 5_000,
            timeout_ms: 30_000,
            attempt_timeout_ms: 10_000,
            retry: RetryConfig::default(),
            rate_limit_wait_ms: 1_000,
            circuit_breaker: BreakerConfig::default(),
            max_response_bytes: 10 * 1024 * 1024,
            ca_certs: Vec::new(),
        }
    }
}

/// Errors a streamed request body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body as the client sends it: bytes, or a stream.
pub type OutBody = UnsyncBoxBody<Bytes, BoxError>;

/// A proxied request's body.
pub enum ForwardBody {
    /// Read whole (small enough): sent again on a retry.
    Replayable(Bytes),
    /// Streamed as it arrives: sent once, never retried.
    Stream(OutBody),
}

/// Bytes as a request body.
fn full(bytes: Bytes) -> OutBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The status and headers of an answer, whatever holds its body.
trait Answered {
    fn status(&self) -> u16;
    fn headers(&self) -> &HeaderMap;
}

impl Answered for ProviderResponse {
    fn status(&self) -> u16 {
        self.status
    }

    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl<B> Answered for http::Response<B> {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }

    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

/// The shared provider client.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, OutBody>,
    max_response_bytes: usize,
    user_agent: HeaderValue,
    config: Arc<UpstreamConfig>,
    breakers: Arc<Breakers>,
    limits: Arc<limit::ProviderLimits>,
    metrics: Metrics,
}

/// What one call through [`Upstream::call`] is allowed.
#[derive(Debug)]
pub struct CallPlan<'a> {
    pub provider: &'a str,
    /// The connected account, for its rate limit.
    pub account: &'a str,
    /// Whether a request that may have reached the provider can be sent again.
    pub idempotent: bool,
    /// When the whole call must be over, and how long it had in all.
    pub deadline: Instant,
    pub budget: Duration,
    pub retry: RetryPolicy,
    pub rate_limit: Option<Arc<ProviderLimit>>,
}

/// A response and how many attempts it took.
#[derive(Debug)]
pub struct Answer {
    pub response: ProviderResponse,
    pub attempts: u32,
}

/// How one attempt ended, once through its timeout.
enum Attempted<T> {
    Answered(T),
    Failed(AttemptError),
    TimedOut,
}

impl<T: Answered> Attempted<T> {
    /// Whether the attempt speaks for a healthy host: it answered, below
    /// 500 (a 4xx is the caller's problem, not the host's).
    fn healthy(&self) -> bool {
        matches!(self, Attempted::Answered(r) if r.status() < 500)
    }
}

/// How one attempt failed.
struct AttemptError {
    error: Error,
    /// The request never left (connect failure): safe to send again.
    unsent: bool,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// A client that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    #[error("cannot read CA certificate {path}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CA certificate {0} holds no usable certificate")]
    CaInvalid(PathBuf),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
}

impl Upstream {
    pub fn new(config: &UpstreamConfig, metrics: Metrics) -> Result<Upstream, UpstreamSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for path in &config.ca_certs {
            let pem = std::fs::read(path).map_err(|source| UpstreamSetupError::CaFile {
                path: path.clone(),
                source,
            })?;
            let mut added = 0;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
                if roots.add(cert).is_ok() {
                    added += 1;
                }
            }
            if added == 0 {
                return Err(UpstreamSetupError::CaInvalid(path.clone()));
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(config.connect_timeout_ms)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Ok(Upstream {
            client,
            max_response_bytes: config.max_response_bytes,
            user_agent: HeaderValue::from_static(concat!(
                "switchboard/",
                env!("CARGO_PKG_VERSION")
            )),
            config: Arc::new(config.clone()),
            breakers: Arc::new(Breakers::new(config.circuit_breaker.clone())),
            limits: Arc::default(),
            metrics,
        })
    }

    /// The retry rules for a provider: the gateway's, overridden by its spec.
    pub fn retry_policy(&self, spec: Option<&crate::spec::RetrySpec>) -> RetryPolicy {
        RetryPolicy::new(&self.config.retry, spec)
    }

    /// The rate limits of a provider, if its spec sets any.
    pub fn rate_limit(
        &self,
        provider: &str,
        spec: Option<&crate::spec::RateLimitSpec>,
    ) -> Option<Arc<ProviderLimit>> {
        spec.map(|s| self.limits.get(provider, s))
    }

    /// Keeps the rate limits in Redis, shared by every replica (the
    /// limits so far, none yet in a gateway that is starting, are
    /// replaced).
    pub fn with_shared_limits(mut self, shared: limit::shared::SharedLimits) -> Upstream {
        self.limits = Arc::new(limit::ProviderLimits::new(Some(shared)));
        self
    }

    /// The Redis that keeps the rate limits, when they are shared.
    pub fn shared_limits(&self) -> Option<&limit::shared::SharedLimits> {
        self.limits.shared()
    }

    /// Drops idle rate-limit state and the circuits of hosts not called
    /// lately (called now and then).
    pub fn shrink(&self) {
        self.limits.shrink();
        self.breakers.shrink();
    }

    /// Sends `req` with the resilience of the module docs.
    pub async fn call(&self, plan: &CallPlan<'_>, req: RenderedRequest) -> Result<Answer, Error> {
        let host = req.url.host_str().unwrap_or_default();
        // Serialized once; every attempt sends the same bytes.
        let body = body_bytes(&req);
        let (response, attempts) = self
            .attempts(plan, host, true, || {
                self.attempt(plan.provider, &req, body.clone())
            })
            .await?;
        Ok(Answer { response, attempts })
    }

    /// Sends `req` once within `timeout` (the lookup of who an account is,
    /// made while it connects), reading the bounded response. It passes the
    /// provider's breaker and is measured like its tool calls; no rate limit
    /// (the account makes no calls yet) and no retry (the lookup never holds
    /// up a connection).
    pub async fn once(
        &self,
        provider: &str,
        req: RenderedRequest,
        timeout: Duration,
    ) -> Result<ProviderResponse, Error> {
        let host = req.url.host_str().unwrap_or_default();
        let body = body_bytes(&req);
        self.single(provider, host, timeout, self.attempt(provider, &req, body))
            .await
    }

    /// Posts `body` to `url` once (a webhook: its outbox does the
    /// retrying), within `timeout`, and returns the answer's status; at
    /// most 64 KiB of the answer's body is read, then dropped. Redirects
    /// are not followed.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<u16, String> {
        let mut request = Request::builder()
            .method(http::Method::POST)
            .uri(url)
            .body(full(body))
            .map_err(|e| format!("invalid request: {e}"))?;
        *request.headers_mut() = headers;
        let host = request.uri().host().unwrap_or_default().to_owned();
        request
            .headers_mut()
            .insert(http::header::USER_AGENT, self.user_agent.clone());
        let send = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| transport_failure(&e, &host))?;
            let status = response.status().as_u16();
            let _ = Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await;
            Ok(status)
        };
        tokio::time::timeout(timeout, send)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())))
    }

    /// Sends a proxied request with the same limits and circuit breaker as
    /// [`Upstream::call`], retried (idempotent methods only) while its body
    /// can be sent again. Only the answer's head is awaited within the
    /// deadline; its body is handed on as a stream, never read here.
    pub async fn forward(
        &self,
        plan: &CallPlan<'_>,
        req: RenderedRequest,
        body: ForwardBody,
    ) -> Result<(http::Response<Incoming>, u32), Error> {
        let host = req.url.host_str().unwrap_or_default();
        let (replayable, mut stream) = match body {
            ForwardBody::Replayable(bytes) => (Some(bytes), None),
            ForwardBody::Stream(s) => (None, Some(s)),
        };
        let again = replayable.is_some();
        self.attempts(plan, host, again, || {
            let body = match &replayable {
                Some(bytes) => full(bytes.clone()),
                // Sent at most once: `attempts` does not repeat a stream.
                None => stream.take().unwrap_or_else(|| full(Bytes::new())),
            };
            self.send(plan.provider, &req, body)
        })
        .await
    }

    /// The layers of the module docs, composed: each attempt waits for the
    /// rate limits, passes the breaker and runs under its timeout; the retry
    /// policy then decides whether another follows (only when `repeatable`).
    /// All within the plan's deadline; the answer comes with how many
    /// attempts were made.
    async fn attempts<T, F, Fut>(
        &self,
        plan: &CallPlan<'_>,
        host: &str,
        repeatable: bool,
        mut attempt: F,
    ) -> Result<(T, u32), Error>
    where
        T: Answered,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let fail = |e: Error| {
                Err(e
                    .with_provider(plan.provider)
                    .with_detail("attempts", attempts))
            };
            if let Err(e) = self.wait_for_rate_limit(plan).await {
                return fail(e);
            }
            let remaining = plan.deadline.saturating_duration_since(Instant::now());
            let budget = remaining.min(Duration::from_millis(self.config.attempt_timeout_ms));
            let attempted = self
                .through_breaker(plan.provider, host, || {
                    self.timed(plan.provider, budget, attempt())
                })
                .await;
            let (retryable, asked, result) = match attempted {
                Err(refused) => return fail(refused),
                Ok(Attempted::Answered(response)) => (
                    plan.idempotent && plan.retry.retries_status(response.status()),
                    plan.retry.server_delay(response.headers()),
                    Ok(response),
                ),
                Ok(Attempted::Failed(AttemptError { error, unsent })) => {
                    (unsent || plan.idempotent, None, Err(error))
                }
                Ok(Attempted::TimedOut) => (
                    plan.idempotent,
                    None,
                    Err(timed_out(plan, budget, remaining)),
                ),
            };
            let time_left = plan.deadline.saturating_duration_since(Instant::now());
            let pause = match repeatable && retryable {
                true => plan.retry.again(attempts, asked, time_left),
                false => None,
            };
            let Some(pause) = pause else {
                return match result {
                    Ok(response) => Ok((response, attempts)),
                    Err(e) => fail(e),
                };
            };
            let reason = match &result {
                Ok(r) => r.status().to_string(),
                Err(e) => e.code.as_str().to_owned(),
            };
            self.metrics
                .retries
                .with_label_values(&[plan.provider, &reason])
                .inc();
            tokio::time::sleep(pause).await;
        }
    }

    /// The timeout layer: runs one attempt within `budget`, and measures
    /// it (its duration, and its status or its running out of time).
    async fn timed<T: Answered>(
        &self,
        provider: &str,
        budget: Duration,
        attempt: impl Future<Output = Result<T, AttemptError>>,
    ) -> Attempted<T> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(budget, attempt).await;
        self.metrics
            .upstream_seconds
            .with_label_values(&[provider])
            .observe(started.elapsed().as_secs_f64());
        match outcome {
            Ok(Ok(response)) => {
                // Its digits from http's static table: no text built per call.
                let status = response.status();
                let code = http::StatusCode::from_u16(status);
                let digits;
                let label = match &code {
                    Ok(code) => code.as_str(),
                    Err(_) => {
                        digits = status.to_string();
                        &digits
                    }
                };
                self.metrics
                    .upstream_responses
                    .with_label_values(&[provider, label])
                    .inc();
                Attempted::Answered(response)
            }
            Ok(Err(e)) => Attempted::Failed(e),
            Err(_) => {
                self.metrics
                    .upstream_timeouts
                    .with_label_values(&[provider])
                    .inc();
                Attempted::TimedOut
            }
        }
    }

    /// Sends a request built elsewhere for `provider` (an OAuth token
    /// request, a revocation, a discovery lookup) once, within `timeout`,
    /// and reads the bounded response. It passes the same breaker as the
    /// provider's tool calls and is measured in the same metrics (layers 2
    /// and 3 of the module docs): a token endpoint that is down opens its
    /// host's circuit, and its 4xx answers (`invalid_grant`) are a healthy
    /// host. No rate limit (an account's limit is for its calls) and no
    /// retry (a grant is not sent twice).
    pub async fn exchange(
        &self,
        provider: &str,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let (mut parts, body) = request.into_parts();
        let host = parts.uri.host().unwrap_or_default().to_owned();
        let host = host.as_str();
        parts
            .headers
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        let request = Request::from_parts(parts, full(Bytes::from(body)));
        let once = async {
            let response = self.dispatch(provider, host, request).await?;
            let (parts, body) = self.read_whole(response, host).await?;
            Ok(http::Response::from_parts(parts, body.to_vec()))
        };
        self.single(provider, host, timeout, once).await
    }

    /// Layers 2 and 3 of the module docs for one request to `host`: its
    /// breaker, then `attempt` within `timeout`, measured; any failure as a
    /// contract error for `provider`.
    async fn single<T: Answered>(
        &self,
        provider: &str,
        host: &str,
        timeout: Duration,
        attempt: impl Future<Output = Result<T, AttemptError>>,
    ) -> Result<T, Error> {
        let attempted = self
            .through_breaker(provider, host, || self.timed(provider, timeout, attempt))
            .await;
        match attempted {
            Ok(Attempted::Answered(response)) => Ok(response),
            Ok(Attempted::Failed(e)) => Err(e.error.with_provider(provider)),
            Ok(Attempted::TimedOut) => Err(Error::new(
                ErrorCode::UpstreamTimeout,
                format!("{host} did not answer within {} ms", timeout.as_millis()),
            )
            .with_provider(provider)),
            Err(refused) => Err(refused.with_provider(provider)),
        }
    }

    /// Sends one request and reads the whole (bounded) response.
    async fn attempt(
        &self,
        provider: &str,
        req: &RenderedRequest,
        body: Bytes,
    ) -> Result<ProviderResponse, AttemptError> {
        let host = req.url.host_str().unwrap_or_default();
        let response = self.send(provider, req, full(body)).await?;
        let (parts, body) = self.read_whole(response, host).await?;
        Ok(ProviderResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.to_vec(),
        })
    }

    /// The head and whole body of an answer from `host`; a body larger than
    /// `max_response_bytes` is refused (unread when its declared length
    /// says so).
    async fn read_whole(
        &self,
        response: http::Response<Incoming>,
        host: &str,
    ) -> Result<(http::response::Parts, Bytes), AttemptError> {
        let (parts, body) = response.into_parts();
        let too_large = || AttemptError {
            error: Error::new(
                ErrorCode::ProviderError,
                format!(
                    "the provider's response is larger than {} bytes",
                    self.max_response_bytes
                ),
            )
            .with_upstream_status(parts.status.as_u16()),
            unsent: false,
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_response_bytes) {
            return Err(too_large());
        }
        let body = Limited::new(body, self.max_response_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large()
                } else {
                    AttemptError {
                        error: Error::new(
                            ErrorCode::UpstreamUnavailable,
                            format!("the connection to {host} broke while reading the response"),
                        ),
                        unsent: false,
                    }
                }
            })?
            .to_bytes();
        Ok((parts, body))
    }
}

/// The error of an attempt that ran out of `budget` when `remaining` was
/// left of the call: its own time, or the call's.
fn timed_out(plan: &CallPlan<'_>, budget: Duration, remaining: Duration) -> Error {
    let message = if budget < remaining {
        format!(
            "the provider did not answer one attempt within {} ms",
            budget.as_millis()
        )
    } else {
        format!(
            "the provider did not answer within {} ms",
            plan.budget.as_millis()
        )
    };
    Error::new(ErrorCode::UpstreamTimeout, message)
}

/// The bytes of a rendered request's body (empty when it has none).
fn body_bytes(req: &RenderedRequest) -> Bytes {
    req.body
        .as_ref()
        .map(|b| Bytes::from(b.to_bytes()))
        .unwrap_or_default()
}

impl Upstream {
    /// Sends one request as rendered (headers included) with `body`; the
    /// answer's head. Transport failures say whether the request left.
    async fn send(
        &self,
        provider: &str,
        req: &RenderedRequest,
        body: OutBody,
    ) -> Result<http::Response<Incoming>, AttemptError> {
        let host = req.url.host_str().unwrap_or_default();
        let mut request = Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str())
            .body(body)
            .map_err(|_| AttemptError {
                error: Error::new(
                    ErrorCode::Internal,
                    "the rendered request is not valid HTTP",
                ),
                unsent: true,
            })?;
        *request.headers_mut() = req.headers.clone();
        request
            .headers_mut()
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        // A POST, PUT or PATCH without a body still says so: some providers
        // answer 411 Length Required otherwise (Google, Microsoft Graph).
        if req.body.is_none()
            && !request.headers().contains_key(CONTENT_LENGTH)
            && !request
                .headers()
                .contains_key(http::header::TRANSFER_ENCODING)
            && hyper::body::Body::size_hint(request.body()).exact() == Some(0)
            && matches!(req.method.as_str(), "POST" | "PUT" | "PATCH")
        {
            request
                .headers_mut()
                .insert(CONTENT_LENGTH, http::HeaderValue::from_static("0"));
        }
        self.dispatch(provider, host, request).await
    }

    /// Hands a request for `host` to the client; the answer's head.
    /// Transport failures say whether the request left.
    async fn dispatch(
        &self,
        provider: &str,
        host: &str,
        request: Request<OutBody>,
    ) -> Result<http::Response<Incoming>, AttemptError> {
        self.client.request(request).await.map_err(|e| {
            let unsent = e.is_connect();
            let what = transport_failure(&e, host);
            tracing::warn!(provider, host, error = %error_chain(&e), "upstream transport error");
            AttemptError {
                error: Error::new(ErrorCode::UpstreamUnavailable, what),
                unsent,
            }
        })
    }
}

/// An error and its sources on one line, for logs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why a request to `host` could not be sent, in words (the host only: a
/// URL may hold a secret).
fn transport_failure(e: &hyper_util::client::legacy::Error, host: &str) -> String {
    if e.is_connect() {
        format!("could not connect to {host}")
    } else {
        format!("the connection to {host} failed")
    }
}
