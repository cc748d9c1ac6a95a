//! The OAuth 2.0 authorization code flow (RFC 6749 section 4.1, with PKCE
//! from RFC 7636 where the spec asks for it).
//!
//! [`begin`] hands out an authorization URL whose `state` is random,
//! single-use, bound to one account and expiring; only its SHA-256 is
//! stored. [`complete`] takes the provider's redirect: it checks the state
//! (and uses it up atomically, so a replayed callback finds it used, on any
//! replica), exchanges the code, reads the tokens with the spec's
//! `token_response` paths, discovers the account's config values, and
//! activates the account.

use std::time::Duration;

use base64::Engine as _;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, StandardRevocableToken,
};
use serde_json::{Map, Value, json};

use super::identity;
use super::token::{ClientCredentials, RawTokenResponse, read_tokens, token_client, token_error};
use crate::clock;
use crate::engine;
use crate::error::{Error, ErrorCode};
use crate::registry::{Auth, Provider};
use crate::spec::AuthType;
use crate::store::{ConnectedAccount, Connection, Grant, OAuthState, Store};
use crate::upstream::Upstream;
use crate::vault::{Place, Vault, fingerprint};

/// How long an authorization URL stays usable.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// How long token and discovery requests may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

type AuthClient = oauth2::Client<
    BasicErrorResponse,
    RawTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
>;

/// What the flow needs from the gateway.
pub struct OAuthEnv<'a> {
    pub store: &'a Store,
    pub vault: &'a Vault,
    pub upstream: &'a Upstream,
    /// The gateway's callback URL, registered with the provider.
    pub redirect_uri: &'a str,
    /// The operator's app for `managed` connections of this provider.
    pub managed: Option<&'a ClientCredentials>,
    pub metrics: &'a crate::metrics::Metrics,
}

/// An authorization URL to hand to the user.
#[derive(Debug, Clone)]
pub struct AuthorizationLink {
    pub url: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// The state, which the gateway's start link carries.
    pub state: String,
    /// SHA-256 of the state, which names the flow's browser cookie.
    pub state_hash: String,
}

/// The cookie that binds a flow to the browser that started it. One per
/// flow, so flows started side by side in one browser do not overwrite each
/// other's.
pub fn browser_cookie_name(state_hash: &str) -> String {
    format!("sb_oauth_{}", &state_hash[..16])
}

/// Starts an authorization of `account` (see module docs): a new state and
/// the provider's authorization URL. With a `browser` nonce (a flow started
/// from a page the gateway served to that browser), only a callback that
/// presents it, in the cookie named by [`browser_cookie_name`], completes the
/// flow. Without one, the flow must first be claimed by a browser
/// ([`claim`], the gateway's start link) before its callback is accepted.
pub async fn begin(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    account: &ConnectedAccount,
    redirect_url: Option<String>,
    extra_scopes: &[String],
    browser: Option<&str>,
) -> Result<AuthorizationLink, Error> {
    let auth = oauth2_method(provider, connection)?;
    let mut scopes = super::scopes(provider, connection);
    for s in extra_scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    let state = crate::vault::random_token();
    let state_hash = fingerprint(&state);
    let verifier = auth.pkce.then(|| PkceCodeChallenge::new_random_sha256().1);
    let url = provider_url(
        env,
        provider,
        connection,
        &state,
        &scopes,
        verifier.as_ref(),
    )?;
    let code_verifier = verifier.map(|v| {
        env.vault
            .seal(Place::code_verifier(&state_hash), v.secret().as_bytes())
    });
    let expires_at = clock::now_ms() + STATE_TTL.as_millis() as i64;
    env.store
        .insert_oauth_state(&OAuthState {
            state_hash: state_hash.clone(),
            account_id: account.id.clone(),
            redirect_url,
            code_verifier,
            scopes,
            created_at: clock::now(),
            expires_at,
            used_at: None,
            browser_required: true,
            browser_hash: browser.map(fingerprint),
        })
        .await
        .map_err(Error::from)?;
    env.store
        .audit()
        .record(crate::audit::Event::new("authorization.started").account(account));
    Ok(AuthorizationLink {
        url,
        expires_at,
        state,
        state_hash,
    })
}

/// The connection's auth method, which must be the authorization code flow.
fn oauth2_method<'p>(provider: &'p Provider, connection: &Connection) -> Result<&'p Auth, Error> {
    let auth = super::method(provider, connection)?;
    if auth.kind != AuthType::Oauth2 {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "provider `{}` does not use OAuth 2.0 authorization",
                provider.key
            ),
        ));
    }
    Ok(auth)
}

/// The provider's authorization URL for `state`: the same URL whenever it
/// is built from the same state, scopes and verifier.
fn provider_url(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    state: &str,
    scopes: &[String],
    verifier: Option<&PkceCodeVerifier>,
) -> Result<String, Error> {
    let auth = oauth2_method(provider, connection)?;
    let client = client_of(env, provider, connection)?;
    let authorization_url = auth
        .authorization_url
        .as_ref()
        .ok_or_else(|| Error::new(ErrorCode::Internal, "the provider has no authorization_url"))?;
    let auth_url = engine::render_auth_url(provider, authorization_url, &connection.config)?;
    let oauth: AuthClient = oauth2::Client::new(ClientId::new(client.client_id.clone()))
        .set_auth_uri(AuthUrl::new(auth_url).map_err(|_| invalid_endpoint(provider))?)
        .set_redirect_uri(
            RedirectUrl::new(env.redirect_uri.to_owned())
                .map_err(|_| invalid_endpoint(provider))?,
        );
    let mut request = oauth.authorize_url(|| CsrfToken::new(state.to_owned()));
    if !scopes.is_empty() {
        // Joined here: providers disagree on the separator (Slack: ",").
        request = request.add_extra_param("scope", scopes.join(&auth.scope_separator));
    }
    for (k, v) in &auth.authorization_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    if let Some(verifier) = verifier {
        request =
            request.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(verifier));
    }
    Ok(request.url().0.to_string())
}

/// Claims the flow of `state` (its pending `row`, for `connection` of
/// `provider`) for the browser holding `browser`, a nonce in its cookie, and
/// rebuilds the provider's URL. The first browser wins; the same browser may
/// claim again (a double click); any other is refused.
pub async fn claim(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    state: &str,
    row: &OAuthState,
    browser: &str,
) -> Result<Result<String, StateProblem>, Error> {
    let claimed = match &row.browser_hash {
        Some(bound) => same_browser(bound, Some(browser)),
        None => env
            .store
            .bind_oauth_state(&row.state_hash, &fingerprint(browser))
            .await
            .map_err(Error::from)?,
    };
    if !claimed {
        return Ok(Err(StateProblem::OtherBrowser));
    }
    let verifier = row
        .code_verifier
        .as_ref()
        .map(|sealed| open_verifier(env, &row.state_hash, sealed))
        .transpose()?;
    provider_url(
        env,
        provider,
        connection,
        state,
        &row.scopes,
        verifier.as_ref(),
    )
    .map(Ok)
}

/// Whether the browser presenting `presented` is the one bound by `bound`.
pub fn same_browser(bound: &str, presented: Option<&str>) -> bool {
    let presented = presented.map(fingerprint).unwrap_or_default();
    bool::from(subtle::ConstantTimeEq::ct_eq(
        bound.as_bytes(),
        presented.as_bytes(),
    ))
}

fn open_verifier(
    env: &OAuthEnv<'_>,
    state_hash: &str,
    sealed: &str,
) -> Result<PkceCodeVerifier, Error> {
    let verifier = env
        .vault
        .open(Place::code_verifier(state_hash), sealed)
        .map_err(|_| {
            Error::new(
                ErrorCode::Internal,
                "the authorization's PKCE verifier cannot be read",
            )
        })?;
    Ok(PkceCodeVerifier::new(
        String::from_utf8_lossy(&verifier).into_owned(),
    ))
}

/// The state row of `hash` if it can still be used.
pub async fn pending(store: &Store, hash: &str) -> Result<Result<OAuthState, StateProblem>, Error> {
    let Some(row) = store.get_oauth_state(hash).await.map_err(Error::from)? else {
        return Ok(Err(StateProblem::Unknown));
    };
    if row.used_at.is_some() {
        return Ok(Err(StateProblem::Used));
    }
    if row.expires_at <= clock::now_ms() {
        return Ok(Err(StateProblem::Expired));
    }
    Ok(Ok(row))
}

/// Why a callback's state was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    Unknown,
    Used,
    Expired,
    /// The flow was started in another browser.
    OtherBrowser,
    /// The provider's link was used without the gateway's start link.
    NotStarted,
}

impl StateProblem {
    /// The key of the page text that explains the problem to the user.
    pub fn text_key(self) -> &'static str {
        match self {
            StateProblem::Unknown => "state_unknown",
            StateProblem::Used => "state_used",
            StateProblem::Expired => "state_expired",
            StateProblem::NotStarted => "state_not_started",
            StateProblem::OtherBrowser => "state_other_browser",
        }
    }
}

/// A callback whose state checks out, ready to complete.
pub struct AcceptedState {
    pub state: OAuthState,
}

/// Checks the state of a callback (and the browser's nonce, when the flow is
/// bound to a browser) and uses it up. A callback from another browser does
/// not use it up: the user who started the flow can still finish it.
pub async fn accept_state(
    store: &Store,
    state: &str,
    browser: Option<&str>,
) -> Result<Result<AcceptedState, StateProblem>, Error> {
    let hash = fingerprint(state);
    let row = match pending(store, &hash).await? {
        Ok(row) => row,
        Err(problem) => return Ok(Err(problem)),
    };
    match &row.browser_hash {
        Some(bound) if !same_browser(bound, browser) => {
            return Ok(Err(StateProblem::OtherBrowser));
        }
        None if row.browser_required => return Ok(Err(StateProblem::NotStarted)),
        _ => {}
    }
    if !store
        .use_oauth_state(&hash, &clock::now(), clock::now_ms())
        .await
        .map_err(Error::from)?
    {
        return Ok(Err(StateProblem::Used));
    }
    Ok(Ok(AcceptedState { state: row }))
}

/// Exchanges the code and activates the account.
pub async fn complete(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    accepted: &AcceptedState,
    code: &str,
) -> Result<ConnectedAccount, Error> {
    let auth = super::method(provider, connection)?;
    let client = client_of(env, provider, connection)?;
    let token_url = auth
        .token_url
        .as_ref()
        .ok_or_else(|| Error::new(ErrorCode::Internal, "the provider has no token_url"))?;
    let url = engine::render_auth_url(provider, token_url, &connection.config)?;
    let oauth = token_client(provider, auth, &client, &url)?.set_redirect_uri(
        RedirectUrl::new(env.redirect_uri.to_owned()).map_err(|_| invalid_endpoint(provider))?,
    );
    let mut request = oauth.exchange_code(AuthorizationCode::new(code.to_owned()));
    if let Some(sealed) = &accepted.state.code_verifier {
        request =
            request.set_pkce_verifier(open_verifier(env, &accepted.state.state_hash, sealed)?);
    }
    for (k, v) in &auth.token_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let http = super::token::http_client(env.upstream, &provider.key, REQUEST_TIMEOUT);
    let response = request
        .request_async(&http)
        .await
        .map_err(|e| token_error(&provider.key, e))?;
    let tokens = read_tokens(response.raw(), &auth.token_response).ok_or_else(|| {
        Error::new(
            ErrorCode::ProviderError,
            "the token endpoint's answer holds no access token",
        )
        .with_provider(&provider.key)
    })?;

    let config = discover(
        env,
        provider,
        auth,
        connection,
        response.raw(),
        &tokens.access_token,
        Discovery::Required,
    )
    .await?;
    let scopes: Vec<String> = match &tokens.scope {
        Some(s) => s
            .split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        None => accepted.state.scopes.clone(),
    };
    let expires_at = tokens
        .expires_in
        .map(|e| clock::now_ms() + e.as_millis() as i64);
    // The grant this one replaces, kept to be revoked once the new one is
    // stored (where the spec says revoking it spares the new one).
    let replaced = match auth.revoke_replaced {
        true => env
            .store
            .get_account(&accepted.state.account_id)
            .await
            .ok()
            .flatten()
            .filter(|old| old.credentials.is_some()),
        false => None,
    };
    let granted = Granted {
        access_token: &tokens.access_token,
        refresh_token: tokens.refresh_token.as_deref(),
        token_type: tokens.token_type.as_deref(),
        expires_at,
        scopes: &scopes,
        config: &config,
        token_response: response.raw(),
    };
    let account = authorize(
        env,
        provider,
        auth,
        connection,
        &accepted.state.account_id,
        granted,
    )
    .await?;
    if let Some(old) = replaced {
        let previous = super::open_account_credentials(env.vault, &old).unwrap_or_default();
        let old_token = previous
            .get("refresh_token")
            .or_else(|| previous.get("access_token"))
            .and_then(Value::as_str);
        // A provider may hand the same refresh token back: that one stays.
        let still_in_use =
            |t: &str| tokens.refresh_token.as_deref() == Some(t) || tokens.access_token == t;
        if old_token.is_some_and(|t| !still_in_use(t)) {
            let revoked = revoke(env, provider, connection, &old).await;
            tracing::info!(account = %account.id, revoked, "the replaced grant was revoked at the provider");
        }
    }
    Ok(account)
}

/// Revokes the account's token at the provider (RFC 7009), when the spec
/// has a `revoke_url`: the refresh token if there is one, else the access
/// token. Returns whether the provider accepted; failures are logged only,
/// since the account is being deleted regardless.
pub async fn revoke(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    account: &ConnectedAccount,
) -> bool {
    let Some(auth) = provider.auth_for(&connection.auth_type) else {
        return false;
    };
    let Some(endpoint) = auth.revoke_url.as_ref() else {
        return false;
    };
    let attempt = async {
        let credentials = super::open_account_credentials(env.vault, account)?;
        let text = |k: &str| {
            credentials
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (secret, hint) = match (text("refresh_token"), text("access_token")) {
            (Some(r), _) => (r, "refresh_token"),
            (None, Some(a)) => (a, "access_token"),
            (None, None) => return Ok(false),
        };
        let client = client_of(env, provider, connection)?;
        let url = engine::render_auth_url(provider, endpoint, &connection.config)?;
        // Built by hand: the oauth2 crate refuses plain-http revocation
        // endpoints, which the gateway allows on loopback (local providers).
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let mut form = format!("token={}&token_type_hint={hint}", enc(&secret));
        let mut request = http::Request::post(&url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        match auth.client_auth {
            crate::spec::ClientAuth::Basic => {
                let pair = format!("{}:{}", enc(&client.client_id), enc(&client.client_secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                request = request.header(http::header::AUTHORIZATION, format!("Basic {basic}"));
            }
            crate::spec::ClientAuth::Body => {
                form.push_str(&format!(
                    "&client_id={}&client_secret={}",
                    enc(&client.client_id),
                    enc(&client.client_secret)
                ));
            }
        }
        let request = request
            .body(form.into_bytes())
            .map_err(|_| invalid_endpoint(provider))?;
        let response = env
            .upstream
            .exchange(&provider.key, request, REQUEST_TIMEOUT)
            .await?;
        Ok::<bool, Error>(response.status().is_success())
    };
    match attempt.await {
        Ok(done) => done,
        Err(e) => {
            tracing::warn!(account = %account.id, error = %e, "could not revoke the account's token");
            false
        }
    }
}

/// Whether a value that cannot be discovered fails the whole step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discovery {
    /// After an authorization: the account needs every value.
    Required,
    /// For imported tokens: what can be found is kept; the app may set the
    /// rest (`PATCH … {config}`).
    BestEffort,
}

/// Tokens an app brings from another system (`POST …/credentials` on an
/// OAuth 2.0 account).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedTokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token expires: RFC 3339 text or Unix seconds.
    #[serde(default)]
    pub expires_at: Option<Value>,
    /// The scopes the user granted; by default those the connection asks for.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub token_type: Option<String>,
}

/// Stores imported tokens as if the account had just been authorized:
/// sealed, with their expiry and scopes, account values discovered where
/// the spec can find them with the access token; the account becomes
/// active and refreshes as usual.
pub async fn import(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    account: &ConnectedAccount,
    tokens: ImportedTokens,
) -> Result<ConnectedAccount, Error> {
    let invalid = |m: &str| Error::new(ErrorCode::InvalidRequest, m.to_owned());
    let auth = super::method(provider, connection)?;
    if tokens.access_token.trim().is_empty() {
        return Err(invalid("access_token must be a non-empty string"));
    }
    if tokens
        .refresh_token
        .as_deref()
        .is_some_and(|r| r.trim().is_empty())
    {
        return Err(invalid(
            "refresh_token must be a non-empty string when given",
        ));
    }
    let expires_at = match &tokens.expires_at {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .and_then(|s| s.checked_mul(1000))
                .ok_or_else(|| invalid("expires_at must be Unix seconds or RFC 3339 text"))?,
        ),
        Some(Value::String(text)) => Some(
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| invalid("expires_at must be Unix seconds or RFC 3339 text"))?,
        ),
        Some(_) => return Err(invalid("expires_at must be Unix seconds or RFC 3339 text")),
    };
    let scopes = match tokens.scopes {
        Some(s) => s,
        None => super::scopes(provider, connection),
    };
    let mut found = discover(
        env,
        provider,
        auth,
        connection,
        &Value::Null,
        &tokens.access_token,
        Discovery::BestEffort,
    )
    .await?;
    // Values the app set before (a chosen site) are kept unless found again.
    let mut config = account.config.clone();
    config.append(&mut found);
    let granted = Granted {
        access_token: &tokens.access_token,
        refresh_token: tokens.refresh_token.as_deref(),
        token_type: tokens.token_type.as_deref(),
        expires_at,
        scopes: &scopes,
        config: &config,
        token_response: &Value::Null,
    };
    authorize(env, provider, auth, connection, &account.id, granted).await
}

/// Tokens just obtained or imported for an account, with what goes with them.
struct Granted<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    token_type: Option<&'a str>,
    /// When the access token expires (Unix ms).
    expires_at: Option<i64>,
    scopes: &'a [String],
    /// The account's values (discovered, or set before).
    config: &'a Map<String, Value>,
    /// The token endpoint's answer (`Null` for imported tokens).
    token_response: &'a Value,
}

/// Seals and stores the tokens of account `id`, which becomes active, and
/// asks the provider who the account is.
async fn authorize(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    auth: &Auth,
    connection: &Connection,
    id: &str,
    granted: Granted<'_>,
) -> Result<ConnectedAccount, Error> {
    let mut credentials = Map::new();
    credentials.insert("access_token".into(), json!(granted.access_token));
    if let Some(r) = granted.refresh_token {
        credentials.insert("refresh_token".into(), json!(r));
    }
    if let Some(t) = granted.token_type {
        credentials.insert("token_type".into(), json!(t));
    }
    let sealed = env.vault.seal(
        Place::account_credentials(id),
        Value::Object(credentials.clone()).to_string().as_bytes(),
    );
    let origin = engine::api_origin(provider, auth, &connection.config, granted.config);
    let grant = Grant {
        sealed: &sealed,
        expires_at: granted.expires_at,
        origin: origin.as_deref(),
        scopes: granted.scopes,
        config: granted.config,
        imported: granted.token_response.is_null(),
    };
    let mut account = env
        .store
        .authorize_account(id, &grant, &clock::now())
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "the account no longer exists"))?;
    let subject = identity::Subject {
        provider,
        auth,
        connection,
        account_config: granted.config,
        credentials: &credentials,
    };
    identity::record(
        env.store,
        env.upstream,
        &subject,
        &mut account,
        granted.token_response,
    )
    .await;
    Ok(account)
}

/// Finds the account's config values the spec declares with `discover`.
async fn discover(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    auth: &Auth,
    connection: &Connection,
    token_response: &Value,
    access_token: &str,
    mode: Discovery,
) -> Result<Map<String, Value>, Error> {
    let mut config = Map::new();
    // Several values often come from one answer (Jira's sites and cloud id):
    // each URL is fetched once.
    let mut answers: std::collections::HashMap<String, Value> = Default::default();
    for (name, field) in &auth.account_config {
        let Some(discover) = &field.discover else {
            continue;
        };
        let failed = |why: &str| {
            Error::new(
                ErrorCode::ProviderError,
                format!("could not discover the account's `{name}`: {why}"),
            )
            .with_provider(&provider.key)
        };
        let body = match &discover.url {
            // Read from the token response (Slack's team, Notion's workspace).
            None => token_response,
            Some(url) => {
                let url = engine::render_auth_url(provider, url, &connection.config)?;
                if !answers.contains_key(&url) {
                    let body = match fetch_json(env, provider, &url, access_token).await {
                        Ok(body) => body,
                        Err(why) if mode == Discovery::Required => return Err(failed(&why)),
                        Err(why) => {
                            tracing::info!(provider = %provider.key, value = %name, why, "an account value was not discovered");
                            Value::Null
                        }
                    };
                    answers.insert(url.clone(), body);
                }
                &answers[&url]
            }
        };
        match discover.value.first(body) {
            Some(value) => {
                config.insert(name.clone(), value.clone());
            }
            None if mode == Discovery::BestEffort => {}
            None => {
                return Err(failed(match discover.url {
                    None => "not in the token response",
                    Some(_) => "not in the answer",
                }));
            }
        }
    }
    Ok(config)
}

/// One GET with the fresh access token; the parsed JSON answer, or why not.
async fn fetch_json(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    url: &str,
    access_token: &str,
) -> Result<Value, String> {
    let request = http::Request::get(url)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {access_token}"),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| invalid_endpoint(provider).message)?;
    let response = env
        .upstream
        .exchange(&provider.key, request, REQUEST_TIMEOUT)
        .await
        .map_err(|e| e.message)?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    serde_json::from_slice(response.body()).map_err(|_| "not JSON".to_owned())
}

/// The OAuth client of a connection: its own, or the operator's when managed.
fn client_of(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
) -> Result<ClientCredentials, Error> {
    if connection.managed {
        return env.managed.cloned().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                format!("no managed OAuth app is configured for `{}`", provider.key),
            )
        });
    }
    super::connection_client(env.vault, provider, connection)
}

fn invalid_endpoint(provider: &Provider) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("{}: an OAuth endpoint is not a valid URL", provider.key),
    )
}
