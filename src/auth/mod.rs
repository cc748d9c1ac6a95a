//! Credentials for calls: opened from the vault, refreshed, or obtained
//! from a token endpoint.
//!
//! [`Resolver`] decides, by the connection's auth method, which credentials
//! a call injects: the account's own, opened from the vault (the common
//! case, which costs nothing more); an OAuth account's, refreshed first when
//! its access token expires or the provider just refused it (`refresh`); or,
//! for `oauth2_client_credentials` providers, a token the connection's
//! client id and secret buy (RFC 6749 section 4.4), cached per connection
//! until shortly before it expires. Fetching is single-flight: however many
//! calls find the token missing or stale at once, one request goes to the
//! token endpoint and the others wait for its answer. The resolver also
//! hands the authorization code flow (`flow`) its view of the gateway.
//!
//! **Architecture invariant:** `auth` never imports `api`: handlers ask the
//! resolver, the resolver never asks a handler.

pub mod flow;
pub mod identity;
pub mod refresh;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth2::Scope;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::engine;
use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::registry::{Auth, Provider, Specs};
use crate::spec::AuthType;
use crate::store::{Change, ConnectedAccount, Connection, Store};
use crate::upstream::Upstream;
use crate::vault::Vault;
use flow::OAuthEnv;
use refresh::Refresher;
use token::{ClientCredentials, read_tokens, token_client, token_error};

/// How long a token endpoint may take to answer.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Resolves the credentials of calls, and gives the OAuth flow its view of
/// the gateway. Built once at start; every call shares it.
pub struct Resolver {
    store: Store,
    vault: Arc<Vault>,
    upstream: Upstream,
    metrics: Metrics,
    /// The gateway's OAuth callback URL, registered with providers.
    redirect_uri: String,
    /// The operator's shared OAuth apps by provider (`managed_oauth_apps`).
    managed_apps: BTreeMap<String, ClientCredentials>,
    /// How long before its expiry a token is renewed.
    skew: Duration,
    refresher: Refresher,
    client_tokens: Arc<ClientTokens>,
    opened: Arc<OpenedCredentials>,
}

impl Resolver {
    /// A resolver for the gateway of `config`, whose OAuth callback is
    /// `redirect_uri`.
    pub fn new(
        config: &Config,
        redirect_uri: String,
        store: Store,
        vault: Arc<Vault>,
        upstream: Upstream,
        metrics: Metrics,
    ) -> Resolver {
        let client_tokens = Arc::new(ClientTokens::default());
        let opened = Arc::new(OpenedCredentials::default());
        store.on_change({
            let (client_tokens, opened) = (Arc::clone(&client_tokens), Arc::clone(&opened));
            move |change| forget(&client_tokens, &opened, change)
        });
        Resolver {
            store,
            vault,
            upstream,
            metrics,
            redirect_uri,
            managed_apps: config.managed_oauth_apps.clone(),
            skew: Duration::from_secs(config.token_refresh_skew_s),
            refresher: Refresher::default(),
            client_tokens,
            opened,
        }
    }

    /// The credentials a call on `account` injects, by the connection's
    /// `auth` method: the account's own (refreshed first when its OAuth
    /// token expires), or for client-credentials providers a token fetched
    /// for the connection. `refused` are credentials the provider just
    /// refused: they are renewed whatever their expiry says.
    pub async fn credentials(
        &self,
        provider: &Provider,
        auth: &Auth,
        account: &ConnectedAccount,
        connection: &Connection,
        refused: Option<&Map<String, Value>>,
    ) -> Result<Opened, Error> {
        match auth.kind {
            // The common case costs no more than a lookup of the opened
            // credentials.
            AuthType::Oauth2 if refused.is_none() && !refresh::expiring(account, self.skew) => {
                self.opened.get(&self.vault, account)
            }
            AuthType::Oauth2 => {
                let force = refused.is_some();
                let (credentials, _) = self
                    .refresher
                    .credentials(
                        &self.env(provider),
                        provider,
                        connection,
                        account,
                        force,
                        self.skew,
                    )
                    .await?;
                Ok(Arc::new(credentials))
            }
            AuthType::Oauth2ClientCredentials => {
                if let Some(stale) = refused
                    .and_then(|c| c.get("access_token"))
                    .and_then(Value::as_str)
                {
                    self.client_tokens.invalidate(connection, stale).await;
                }
                let managed = connection
                    .managed
                    .then(|| self.managed_apps.get(&provider.key))
                    .flatten();
                let token = self
                    .client_tokens
                    .get(
                        &self.upstream,
                        &self.vault,
                        provider,
                        connection,
                        managed,
                        self.skew,
                    )
                    .await?;
                Ok(Arc::new(Map::from_iter([(
                    "access_token".to_owned(),
                    Value::String(token),
                )])))
            }
            _ => self.opened.get(&self.vault, account),
        }
    }

    /// What the OAuth flow needs of the gateway, for `provider`.
    pub fn env(&self, provider: &Provider) -> OAuthEnv<'_> {
        OAuthEnv {
            store: &self.store,
            vault: &self.vault,
            upstream: &self.upstream,
            redirect_uri: &self.redirect_uri,
            managed: self.managed_apps.get(&provider.key),
            metrics: &self.metrics,
        }
    }

    /// The gateway's OAuth callback URL.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// Drops the secrets kept for what `change` wrote or deleted: an account's
/// opened credentials, or a connection's token and its accounts' opened
/// credentials (opened again on their next call, if they are still there).
/// When changes may have been missed, every opened credential goes; the
/// tokens stay (a changed connection gets a new token anyway, see
/// [`ClientTokens::slot`]).
fn forget(client_tokens: &ClientTokens, opened: &OpenedCredentials, change: Change<'_>) {
    if let Change::Connection(id) = change {
        client_tokens.forget(id);
    }
    opened.forget(change);
}

/// Access tokens of client-credentials connections, per process.
#[derive(Default)]
struct ClientTokens {
    /// By connection id.
    slots: Mutex<HashMap<String, Slot>>,
}

/// A connection's token, for the version of the connection it was fetched
/// with.
struct Slot {
    /// The connection's `updated_at` when the slot was made.
    updated_at: String,
    token: Arc<tokio::sync::Mutex<Option<CachedToken>>>,
}

#[derive(Clone)]
struct CachedToken {
    access_token: String,
    /// When to stop using it (expiry minus the skew); `None` never expires.
    fresh_until: Option<Instant>,
}

impl ClientTokens {
    /// A valid access token for `connection`, fetched when missing or stale
    /// with `client` (else the connection's own client credentials).
    async fn get(
        &self,
        upstream: &Upstream,
        vault: &Vault,
        provider: &Provider,
        connection: &Connection,
        client: Option<&ClientCredentials>,
        skew: Duration,
    ) -> Result<String, Error> {
        let slot = self.slot(connection);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.fresh_until.is_none_or(|t| Instant::now() < t)
        {
            return Ok(token.access_token.clone());
        }
        let own;
        let client = match client {
            Some(c) => c,
            None => {
                own = connection_client(vault, provider, connection)?;
                &own
            }
        };
        let tokens = fetch(upstream, provider, connection, client).await?;
        let fresh_until = tokens
            .expires_in
            .map(|e| Instant::now() + e.saturating_sub(skew));
        *cached = Some(CachedToken {
            access_token: tokens.access_token.clone(),
            fresh_until,
        });
        Ok(tokens.access_token)
    }

    /// Forgets `stale` (a token the provider refused), unless another call
    /// has replaced it already.
    async fn invalidate(&self, connection: &Connection, stale: &str) {
        let slot = self.slot(connection);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.access_token == stale) {
            *cached = None;
        }
    }

    /// Drops the token of a connection that was written or deleted.
    fn forget(&self, connection_id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(connection_id);
    }

    /// The slot of a connection; an update of the connection (new secret,
    /// new scopes) gets a fresh slot in place of the old one. The common
    /// case, a slot for the connection as it is, is one lookup by id with
    /// nothing allocated.
    fn slot(&self, connection: &Connection) -> Arc<tokio::sync::Mutex<Option<CachedToken>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(connection.id.as_str())
            && slot.updated_at == connection.updated_at
        {
            return slot.token.clone();
        }
        let token = Arc::default();
        let slot = Slot {
            updated_at: connection.updated_at.clone(),
            token: Arc::clone(&token),
        };
        slots.insert(connection.id.clone(), slot);
        token
    }
}

/// Accounts' credentials as last opened, each with the sealed text it was
/// opened from. A call on an account whose sealed credentials are the same
/// text skips the decryption and the JSON parse; every new seal is a new
/// text (a fresh nonce), so an entry can never be stale. Bounded: a full
/// map starts over.
#[derive(Default)]
struct OpenedCredentials {
    /// By account id.
    entries: Mutex<HashMap<String, OpenedEntry>>,
}

/// An account's credentials as opened from one sealed text.
struct OpenedEntry {
    /// The account's connection (forgotten with it).
    connection_id: String,
    sealed: String,
    opened: Opened,
}

/// Credentials as opened, shared by the calls that use them.
pub type Opened = Arc<Map<String, Value>>;

/// Most accounts whose opened credentials are kept.
const MAX_OPENED: usize = 10_000;

impl OpenedCredentials {
    fn get(
        &self,
        vault: &Vault,
        account: &crate::store::ConnectedAccount,
    ) -> Result<Opened, Error> {
        let Some(sealed) = &account.credentials else {
            return Ok(Arc::default());
        };
        let lock = || self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = lock().get(&account.id)
            && entry.sealed == *sealed
        {
            return Ok(Arc::clone(&entry.opened));
        }
        let opened = Arc::new(open_account_credentials(vault, account)?);
        let mut entries = lock();
        if entries.len() >= MAX_OPENED {
            entries.clear();
        }
        let entry = OpenedEntry {
            connection_id: account.connection_id.clone(),
            sealed: sealed.clone(),
            opened: Arc::clone(&opened),
        };
        entries.insert(account.id.clone(), entry);
        Ok(opened)
    }

    /// Drops what `change` makes stale: an account's entry (a lookup), a
    /// connection's accounts' (a pass over them all: connections change
    /// seldom), or every entry.
    fn forget(&self, change: Change<'_>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match change {
            Change::Account(id) => {
                entries.remove(id);
            }
            Change::Connection(id) => entries.retain(|_, entry| entry.connection_id != id),
            Change::Unknown => entries.clear(),
        }
    }
}

/// An account's credentials, opened; an account without any has none.
pub fn open_account_credentials(
    vault: &Vault,
    account: &ConnectedAccount,
) -> Result<Map<String, Value>, Error> {
    let Some(sealed) = &account.credentials else {
        return Ok(Map::new());
    };
    let bytes = vault
        .open(
            crate::vault::Place::account_credentials(&account.id),
            sealed,
        )
        .map_err(|e| {
            tracing::error!(account = %account.id, error = %e, "cannot open stored credentials");
            Error::new(
                ErrorCode::Internal,
                "the account's credentials cannot be read",
            )
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|_| Error::new(ErrorCode::Internal, "the account's credentials are corrupt"))
}

/// The connection's own client id and secret.
pub fn connection_client(
    vault: &Vault,
    provider: &Provider,
    connection: &Connection,
) -> Result<ClientCredentials, Error> {
    let missing = || {
        Error::new(
            ErrorCode::InvalidRequest,
            "the connection has no client_id and client_secret for this provider",
        )
        .with_provider(&provider.key)
    };
    let sealed = connection.secret.as_ref().ok_or_else(missing)?;
    let bytes = vault.open(crate::vault::Place::connection_secret(&connection.id), sealed).map_err(|e| {
        tracing::error!(connection = %connection.id, error = %e, "cannot open connection credentials");
        Error::new(ErrorCode::Internal, "the connection's credentials cannot be read")
    })?;
    let map: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| missing())?;
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(ClientCredentials {
        client_id: text("client_id").ok_or_else(missing)?,
        client_secret: text("client_secret").ok_or_else(missing)?,
    })
}

/// One client-credentials grant.
async fn fetch(
    upstream: &Upstream,
    provider: &Provider,
    connection: &Connection,
    client: &ClientCredentials,
) -> Result<token::Tokens, Error> {
    let auth = method(provider, connection)?;
    let token_url = auth.token_url.as_ref().ok_or_else(|| {
        Error::new(ErrorCode::Internal, "the provider has no token_url")
            .with_provider(&provider.key)
    })?;
    let url = engine::render_auth_url(provider, token_url, &connection.config)?;
    let oauth = token_client(provider, auth, client, &url)?;
    let mut request = oauth
        .exchange_client_credentials()
        .add_scopes(scopes(provider, connection).into_iter().map(Scope::new));
    for (k, v) in &auth.token_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let http = token::http_client(upstream, &provider.key, TOKEN_TIMEOUT);
    let response = request
        .request_async(&http)
        .await
        .map_err(|e| token_error(&provider.key, e))?;
    read_tokens(response.raw(), &auth.token_response).ok_or_else(|| {
        Error::new(
            ErrorCode::ProviderError,
            "the token endpoint's answer holds no access token",
        )
        .with_provider(&provider.key)
    })
}

/// The auth method a connection uses (its `auth_type`).
pub fn method<'p>(provider: &'p Provider, connection: &Connection) -> Result<&'p Auth, Error> {
    provider.auth_for(&connection.auth_type).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "the connection uses auth_type `{}`, which provider `{}` no longer offers (it offers: {})",
                connection.auth_type,
                provider.key,
                provider.auth_types().join(", ")
            ),
        )
        .with_provider(&provider.key)
    })
}

/// The provider's default scopes and the connection's, without repeats.
pub fn scopes(provider: &Provider, connection: &Connection) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let defaults = provider
        .auth_for(&connection.auth_type)
        .map(|a| a.default_scopes.as_slice())
        .unwrap_or_default();
    for s in defaults.iter().chain(&connection.scopes) {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    all
}

/// One round of background upkeep: drops expired authorization states,
/// connect sessions and MCP links, and (unless `idle` is `None`) refreshes
/// the tokens of OAuth accounts idle for `idle`, so a provider never expires
/// a refresh token for lack of use. A refused
/// refresh token revokes the account (as on any refresh); a transient
/// failure is tried again next round. Returns how many accounts were
/// refreshed.
pub async fn upkeep(resolver: &Resolver, specs: &Specs, idle: Option<Duration>) -> usize {
    let store = &resolver.store;
    let now_ms = crate::clock::now_ms();
    let _ = store.purge_oauth_states(now_ms).await;
    let _ = store.purge_expired_links(now_ms).await;
    let Some(idle) = idle else {
        return 0;
    };
    // The same fixed-width text as stored values, so the comparison in SQL
    // is a comparison of times.
    let before = crate::clock::text(time::OffsetDateTime::now_utc() - idle);
    let accounts = match store.idle_accounts(&before, 100).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "upkeep could not list idle accounts");
            return 0;
        }
    };
    let registry = specs.current();
    let mut refreshed = 0;
    for account in accounts {
        let Some(provider) = registry.provider(&account.provider) else {
            continue;
        };
        if provider.auth_for("oauth2").is_none() {
            continue;
        }
        let Ok(Some(connection)) = store.get_connection(&account.connection_id).await else {
            continue;
        };
        if connection.auth_type != "oauth2" {
            continue;
        }
        match resolver
            .refresher
            .credentials(
                &resolver.env(provider),
                provider,
                &connection,
                &account,
                true,
                resolver.skew,
            )
            .await
        {
            Ok(_) => refreshed += 1,
            Err(e) => {
                tracing::warn!(account = %account.id, error = %e, "idle account refresh failed")
            }
        }
    }
    refreshed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opened_credentials_follow_the_sealed_text() {
        let vault = Vault::new(&Vault::generate_key(), &[]).unwrap();
        let opened = OpenedCredentials::default();
        let mut account = ConnectedAccount::sample("ca_1");
        assert!(opened.get(&vault, &account).unwrap().is_empty());

        let seal = |key: &str| {
            let place = crate::vault::Place::account_credentials("ca_1");
            Some(vault.seal(place, format!(r#"{{"api_key": "{key}"}}"#).as_bytes()))
        };
        account.credentials = seal("first");
        let first = opened.get(&vault, &account).unwrap();
        assert_eq!(first["api_key"], "first");
        let again = opened.get(&vault, &account).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "opened once");

        // New credentials (even the same ones, sealed again) are opened anew.
        account.credentials = seal("second");
        assert_eq!(opened.get(&vault, &account).unwrap()["api_key"], "second");
        account.credentials = seal("second");
        let resealed = opened.get(&vault, &account).unwrap();
        assert!(!Arc::ptr_eq(&resealed, &again));
        assert_eq!(resealed["api_key"], "second");
    }

    #[test]
    fn deleted_accounts_and_connections_leave_no_opened_secrets() {
        let vault = Vault::new(&Vault::generate_key(), &[]).unwrap();
        let tokens = ClientTokens::default();
        let opened = OpenedCredentials::default();
        let account = |id: &str, connection: &str| {
            let mut a = ConnectedAccount::sample(id);
            a.connection_id = connection.into();
            let place = crate::vault::Place::account_credentials(id);
            a.credentials = Some(vault.seal(place, br#"{"api_key": "k"}"#));
            a
        };
        for (id, connection) in [("ca_1", "conn_1"), ("ca_2", "conn_1"), ("ca_3", "conn_2")] {
            opened.get(&vault, &account(id, connection)).unwrap();
        }
        tokens.slot(&connection("2025-01-01T00:00:00.000Z"));
        let held = |opened: &OpenedCredentials| {
            let mut ids: Vec<String> = opened.entries.lock().unwrap().keys().cloned().collect();
            ids.sort();
            ids
        };

        forget(&tokens, &opened, Change::Account("ca_3"));
        assert_eq!(held(&opened), ["ca_1", "ca_2"]);
        forget(&tokens, &opened, Change::Connection("conn_2"));
        assert_eq!(
            tokens.slots.lock().unwrap().len(),
            1,
            "another connection's token stays"
        );
        forget(&tokens, &opened, Change::Connection("conn_1"));
        assert!(held(&opened).is_empty());
        assert!(tokens.slots.lock().unwrap().is_empty());

        opened.get(&vault, &account("ca_1", "conn_1")).unwrap();
        forget(&tokens, &opened, Change::Unknown);
        assert!(
            held(&opened).is_empty(),
            "changes missed: every opened credential goes"
        );
    }

    fn connection(updated_at: &str) -> Connection {
        Connection {
            id: "conn_1".into(),
            provider: "p".into(),
            auth_type: "oauth2_client_credentials".into(),
            scopes: Vec::new(),
            config: Map::new(),
            managed: false,
            secret: None,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            updated_at: updated_at.into(),
        }
    }

    #[test]
    fn a_connection_keeps_its_token_slot_until_it_is_updated() {
        let tokens = ClientTokens::default();
        let first = tokens.slot(&connection("2025-01-01T00:00:00.000Z"));
        let again = tokens.slot(&connection("2025-01-01T00:00:00.000Z"));
        assert!(Arc::ptr_eq(&first, &again));

        let updated = tokens.slot(&connection("2025-01-02T00:00:00.000Z"));
        assert!(!Arc::ptr_eq(&first, &updated), "a new secret, a new token");
        assert_eq!(
            tokens.slots.lock().unwrap().len(),
            1,
            "the old slot is gone"
        );
    }
}
