//! Talking to OAuth 2.0 token endpoints, with the `oauth2` crate.
//!
//! The crate builds and authenticates token requests (client authentication
//! by HTTP Basic or in the body, RFC 6749 section 2.3.1) and reads the
//! standard error response. Token responses vary between providers (nested
//! tokens, no `token_type`, no `expires_in`), so they are read leniently into
//! a [`RawTokenResponse`] that keeps the whole JSON, and the spec's
//! `token_response` JSONPaths then pick the values out.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, ErrorCode};
use crate::registry::{Auth, Provider, TokenResponsePaths};
use crate::spec::ClientAuth;
use crate::upstream::Upstream;

/// An OAuth client with a token endpoint.
pub type TokenClient = oauth2::Client<
    BasicErrorResponse,
    RawTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An app's OAuth client credentials (a connection's, or an operator's
/// shared app from config `managed_oauth_apps`).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Tokens as the spec's `token_response` paths read them.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<Duration>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// A token response kept whole, with the standard fields read leniently.
#[derive(Debug, Clone)]
pub struct RawTokenResponse {
    raw: Value,
    access_token: AccessToken,
    token_type: BasicTokenType,
    expires_in: Option<u64>,
    refresh_token: Option<RefreshToken>,
    scopes: Option<Vec<Scope>>,
}

impl RawTokenResponse {
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    fn from_value(raw: Value) -> RawTokenResponse {
        let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        RawTokenResponse {
            access_token: AccessToken::new(text("access_token").unwrap_or_default()),
            token_type: match text("token_type")
                .map(|t| t.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("bearer") => BasicTokenType::Bearer,
                Some("mac") => BasicTokenType::Mac,
                Some(other) => BasicTokenType::Extension(other.to_owned()),
            },
            expires_in: raw.get("expires_in").and_then(seconds),
            refresh_token: text("refresh_token").map(RefreshToken::new),
            scopes: text("scope").map(|s| {
                s.split([' ', ','])
                    .map(|p| Scope::new(p.to_owned()))
                    .collect()
            }),
            raw,
        }
    }
}

impl<'de> Deserialize<'de> for RawTokenResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawTokenResponse, D::Error> {
        Value::deserialize(d).map(RawTokenResponse::from_value)
    }
}

impl Serialize for RawTokenResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl TokenResponse for RawTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// Seconds as a number or a numeric string (some providers send `"3600"`).
fn seconds(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Reads the tokens out of a response with the spec's paths.
pub fn read_tokens(raw: &Value, paths: &TokenResponsePaths) -> Option<Tokens> {
    let text = |p: &crate::registry::OutputPath| {
        p.first(raw).and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    };
    Some(Tokens {
        access_token: text(&paths.access_token)?,
        refresh_token: text(&paths.refresh_token),
        expires_in: paths
            .expires_in
            .first(raw)
            .and_then(seconds)
            .map(Duration::from_secs),
        scope: text(&paths.scope),
        token_type: text(&paths.token_type),
    })
}

/// A token client for `token_url` with the provider's client authentication.
pub fn token_client(
    provider: &Provider,
    auth: &Auth,
    client: &ClientCredentials,
    token_url: &str,
) -> Result<TokenClient, Error> {
    let url = TokenUrl::new(token_url.to_owned()).map_err(|_| {
        Error::new(
            ErrorCode::Internal,
            format!("{}: the token URL is not valid", provider.key),
        )
    })?;
    let auth_type = match auth.client_auth {
        ClientAuth::Basic => oauth2::AuthType::BasicAuth,
        ClientAuth::Body => oauth2::AuthType::RequestBody,
    };
    Ok(oauth2::Client::new(ClientId::new(client.client_id.clone()))
        .set_client_secret(ClientSecret::new(client.client_secret.clone()))
        .set_auth_type(auth_type)
        .set_token_uri(url))
}

/// The HTTP function the `oauth2` crate sends `provider`'s token requests
/// through: the gateway's own client, with the given timeout, behind the
/// provider's circuit breaker and in its upstream metrics
/// ([`Upstream::exchange`]).
pub fn http_client<'a>(
    upstream: &'a Upstream,
    provider: &'a str,
    timeout: Duration,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, TokenHttpError>> + Send>,
> + 'a {
    move |request| {
        // Owned, so the future is 'static: one that borrows would keep the
        // handlers that await it from proving they are `Send`.
        let (upstream, provider) = (upstream.clone(), provider.to_owned());
        Box::pin(async move {
            upstream
                .exchange(&provider, request, timeout)
                .await
                .map_err(TokenHttpError)
        })
    }
}

/// A transport failure while talking to a token endpoint.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message)]
pub struct TokenHttpError(pub Error);

/// Turns a failed token request into the contract's error.
pub fn token_error(
    provider: &str,
    e: RequestTokenError<TokenHttpError, BasicErrorResponse>,
) -> Error {
    match e {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().to_string();
            let detail = response
                .error_description()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            Error::new(
                ErrorCode::ProviderError,
                format!("the token endpoint refused the request ({code}{detail})"),
            )
            .with_detail("provider_code", code)
        }
        RequestTokenError::Request(TokenHttpError(e)) => e,
        RequestTokenError::Parse(_, _) | RequestTokenError::Other(_) => Error::new(
            ErrorCode::ProviderError,
            "the token endpoint answered with something that is not a token response",
        ),
    }
    .with_provider(provider)
}
