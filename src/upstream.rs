//! The HTTP client that talks to providers.
//!
//! One pooled hyper-util client for the whole gateway: HTTP/1.1 and HTTP/2
//! (ALPN), rustls with the Mozilla roots (plus any extra CA certificates the
//! operator configures), a connect timeout, and a bound on response size.
//! Transport failures become contract errors here; the engine sees either a
//! [`ProviderResponse`] or an [`Error`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, USER_AGENT};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::engine::{ProviderResponse, RenderedRequest};
use crate::error::{Error, ErrorCode};

/// Upstream settings (config key `upstream`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub connect_timeout_ms: u64,
    /// Whole-request deadline when neither the tool nor the provider sets one.
    pub timeout_ms: u64,
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
            max_response_bytes: 10 * 1024 * 1024,
            ca_certs: Vec::new(),
        }
    }
}

/// The shared provider client.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    max_response_bytes: usize,
    user_agent: HeaderValue,
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
    pub fn new(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
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
        })
    }

    /// Sends one request and reads the whole (bounded) response.
    pub async fn send(
        &self,
        provider: &str,
        req: RenderedRequest,
    ) -> Result<ProviderResponse, Error> {
        let host = req.url.host_str().unwrap_or_default().to_owned();
        let body = req
            .body
            .as_ref()
            .map(|b| Bytes::from(b.to_bytes()))
            .unwrap_or_default();
        let mut request = Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str())
            .body(Full::new(body))
            .map_err(|_| {
                Error::new(
                    ErrorCode::Internal,
                    "the rendered request is not valid HTTP",
                )
            })?;
        *request.headers_mut() = req.headers;
        request
            .headers_mut()
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());

        let response = self.client.request(request).await.map_err(|e| {
            let what = if e.is_connect() {
                format!("could not connect to {host}")
            } else {
                format!("the connection to {host} failed")
            };
            tracing::warn!(provider, host, error = %error_chain(&e), "upstream transport error");
            Error::new(ErrorCode::UpstreamUnavailable, what).with_provider(provider)
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let too_large = || {
            Error::new(
                ErrorCode::ProviderError,
                format!(
                    "the provider's response is larger than {} bytes",
                    self.max_response_bytes
                ),
            )
            .with_provider(provider)
            .with_upstream_status(status)
        };
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_response_bytes) {
            return Err(too_large());
        }
        let body = Limited::new(response.into_body(), self.max_response_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large()
                } else {
                    Error::new(
                        ErrorCode::UpstreamUnavailable,
                        format!("the connection to {host} broke while reading the response"),
                    )
                    .with_provider(provider)
                }
            })?
            .to_bytes();
        Ok(ProviderResponse {
            status,
            headers,
            body: body.to_vec(),
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
