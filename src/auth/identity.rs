//! Who a connected account is at its provider: the spec's `account_name`,
//! read from the token endpoint's answer or from one GET with the account's
//! credentials. It is what the connect page shows ("Connected as …") and
//! the API returns as `display_name`; for a typed key it doubles as the
//! check that the provider accepts the key.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::{Map, Value};

use crate::engine::{self, CallContext};
use crate::error::ErrorCode;
use crate::registry::{Auth, Provider};
use crate::store::{ConnectedAccount, Connection, Store};
use crate::upstream::Upstream;

/// The lookup waits no longer than this: it never holds up a connection.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Longer names are cut (a provider's answer is not trusted to be short).
const MAX_CHARS: usize = 200;

/// What the provider said about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Its display name or email.
    Named(String),
    /// The provider refused the credentials (a 401, or an answer the
    /// spec's error rules read as `reauthorization_required`).
    Refused,
    /// The spec says no way to learn it, or the provider did not tell.
    Unknown,
}

/// Where the account's credentials and values come from for a lookup.
pub struct Subject<'a> {
    pub provider: &'a Provider,
    pub auth: &'a Auth,
    pub connection: &'a Connection,
    pub account_config: &'a Map<String, Value>,
    pub credentials: &'a Map<String, Value>,
}

/// Asks the provider who the account is, as the spec's `account_name` says;
/// `token_response` is the token endpoint's answer (`Null` when there was
/// none).
pub async fn look_up(
    upstream: &Upstream,
    subject: &Subject<'_>,
    token_response: &Value,
) -> Identity {
    let Some(name) = &subject.auth.account_name else {
        return Identity::Unknown;
    };
    let Some(path) = &name.path else {
        return named(name.value.first(token_response));
    };
    let ctx = CallContext {
        connection_config: Some(&subject.connection.config),
        account_config: Some(subject.account_config),
        credentials: Some(subject.credentials),
        auth: Some(subject.auth),
        credentials_origin: None,
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let provider = subject.provider;
    let request = match engine::render_proxy(provider, Method::GET, path, headers, &ctx) {
        Ok(request) => request,
        Err(e) => {
            tracing::info!(provider = %provider.key, error = %e.message, "the account name request cannot be built");
            return Identity::Unknown;
        }
    };
    // Through the provider's breaker: a provider that is down is not asked,
    // and a lookup it fails counts against it as a tool call would.
    let response = match upstream.once(&provider.key, request, TIMEOUT).await {
        Ok(response) => response,
        Err(e) => {
            tracing::info!(provider = %provider.key, code = %e.code, error = %e.message, "the account name was not found");
            return Identity::Unknown;
        }
    };
    // The spec's own error rules read the answer: a provider that says
    // "bad token" inside a 200 (Slack) is understood as well as a 401.
    match engine::check(provider, &response) {
        Ok(body) => named(name.value.first(&body)),
        Err(e) if response.status == 401 || e.code == ErrorCode::ReauthorizationRequired => {
            Identity::Refused
        }
        Err(e) => {
            tracing::info!(provider = %provider.key, status = response.status, code = %e.code, "the account name was not found");
            Identity::Unknown
        }
    }
}

/// Looks the account up and records its name (clearing a name that no
/// longer holds); OAuth accounts connect whatever the answer.
pub async fn record(
    store: &Store,
    upstream: &Upstream,
    subject: &Subject<'_>,
    account: &mut ConnectedAccount,
    token_response: &Value,
) {
    let identity = look_up(upstream, subject, token_response).await;
    save(store, account, &identity).await;
}

/// Stores what `identity` says of the account's name.
pub async fn save(store: &Store, account: &mut ConnectedAccount, identity: &Identity) {
    let name = match identity {
        Identity::Named(name) => Some(name.clone()),
        _ => None,
    };
    if name == account.display_name {
        return;
    }
    match store.set_display_name(&account.id, name.as_deref()).await {
        Ok(()) => account.display_name = name,
        Err(e) => {
            tracing::warn!(account = %account.id, error = %e, "the account name was not stored")
        }
    }
}

fn named(found: Option<&Value>) -> Identity {
    let text = match found {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Identity::Unknown,
    };
    if text.is_empty() || text.chars().any(char::is_control) {
        return Identity::Unknown;
    }
    Identity::Named(text.chars().take(MAX_CHARS).collect())
}
