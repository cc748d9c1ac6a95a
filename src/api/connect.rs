//! The hosted connect page: a short-lived link an app hands to its user,
//! where the user connects accounts (OAuth buttons, API-key forms) without
//! the app building any UI.
//!
//! Safe by default: the link's token is single-use (the first browser to
//! press Continue gets an HttpOnly session cookie and keeps the page; any
//! other browser is refused), it expires, every form carries a CSRF token
//! derived from that session, and every text on the page is escaped. A GET
//! or HEAD changes nothing, so a chat app's link preview does not use the
//! link up. An OAuth flow started here is bound to the browser too: the
//! callback must bring the flow's nonce cookie. The page uses no external
//! assets and no JavaScript.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::envelope::{ApiResult, Json, Path, Query, invalid, not_found};
use super::{AppState, SharedState, now};
use crate::auth::identity::Identity;
use crate::registry::Provider;
use crate::spec::AuthType;
use crate::store::{
    AccountFilter, AccountStatus, ConnectSession, ConnectedAccount, Connection, PageRequest,
};
use crate::vault::fingerprint;

/// How long a connect link stays usable.
const SESSION_TTL_MS: i64 = 30 * 60 * 1000;
const COOKIE: &str = "sb_connect";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    identifier: String,
    #[serde(default)]
    connection_ids: Option<Vec<String>>,
    #[serde(default)]
    redirect_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    status: Option<String>,
    error: Option<String>,
}

/// `POST /v1/connect-sessions`: `{identifier, connection_ids?, redirect_url?}`
/// → `{url, expires_at}`.
pub async fn create(
    State(state): State<SharedState>,
    Json(body): Json<CreateSession>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    if body.identifier.trim().is_empty() {
        return Err(invalid("`identifier` must not be empty"));
    }
    if let Some(url) = &body.redirect_url {
        super::check_redirect_url(&state, url)?;
    }
    let ids = match body.connection_ids {
        Some(ids) if !ids.is_empty() => {
            for id in &ids {
                if state.store.get_connection(id).await?.is_none() {
                    return Err(not_found(format!("no connection `{id}`")));
                }
            }
            ids
        }
        _ => {
            let page = PageRequest {
                limit: 200,
                after: None,
            };
            let all = state.store.list_connections(None, page).await?;
            if all.is_empty() {
                return Err(invalid("there is no connection to offer"));
            }
            all.into_iter().map(|c| c.id).collect()
        }
    };
    let (url, expires_at) = new_session(&state, body.identifier, ids, body.redirect_url).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"url": url, "expires_at": crate::clock::text_of_ms(expires_at)})),
    ))
}

/// Stores a new connect session; its link and expiry (ms).
async fn new_session(
    state: &SharedState,
    identifier: String,
    connection_ids: Vec<String>,
    redirect_url: Option<String>,
) -> Result<(String, i64), crate::store::StoreError> {
    let token = crate::vault::random_token();
    let expires_at = crate::clock::now_ms() + SESSION_TTL_MS;
    state
        .store
        .insert_connect_session(&ConnectSession {
            token_hash: fingerprint(&token),
            identifier,
            connection_ids,
            redirect_url,
            created_at: now(),
            expires_at,
            browser_hash: None,
        })
        .await?;
    Ok((
        format!("{}/connect/{token}", public_base(state)),
        expires_at,
    ))
}

/// A fresh connect link where `identifier` can connect a `provider` account
/// (the app's connections of that provider), for a call that found none;
/// `None` when the app has no such connection.
pub async fn link_for_provider(
    state: &SharedState,
    identifier: &str,
    provider: &str,
) -> Option<String> {
    let page = PageRequest {
        limit: 20,
        after: None,
    };
    let connections = state
        .store
        .list_connections(Some(provider), page)
        .await
        .ok()?;
    if connections.is_empty() {
        return None;
    }
    let ids = connections.into_iter().map(|c| c.id).collect();
    new_session(state, identifier.to_owned(), ids, None)
        .await
        .ok()
        .map(|(url, _)| url)
}

/// `POST /connect/{token}`: the Continue button. The first browser to press
/// it gets the link.
pub async fn claim(
    State(state): State<SharedState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let set_cookie = match open(&state, &token, &headers, true).await {
        Ok((_, _, set_cookie)) => set_cookie,
        Err(page) => return page,
    };
    super::see_other(format!("/connect/{token}"), set_cookie)
}

/// `GET /connect/{token}`: the page, once this browser has claimed the link
/// (else the Continue button).
pub async fn page(
    State(state): State<SharedState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (session, sid, _) = match open(&state, &token, &headers, false).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let banner = match q.status.as_deref() {
        Some("active") => Some("connected"),
        Some("disconnected") => Some("disconnected"),
        Some("denied") => Some("denied"),
        Some(_) => Some("failed"),
        None => None,
    };
    let view = View {
        token: &token,
        session: &session,
        sid: &sid,
    };
    show(&state, view, StatusCode::OK, banner, q.error, None).await
}

/// The page of one claimed session.
#[derive(Clone, Copy)]
struct View<'a> {
    token: &'a str,
    session: &'a ConnectSession,
    sid: &'a str,
}

/// What a refused API-key form shows beside its fields, and keeps.
#[derive(Debug, Default, serde::Serialize)]
struct FormErrors {
    connection: String,
    /// Which form of the card: `a1`, `a2`… (an account's), `add` or `first`.
    slot: String,
    /// The label typed into the "add another account" form.
    label: String,
    /// Field name → what is wrong with it.
    fields: std::collections::BTreeMap<String, String>,
    /// Field name → the value typed (non-secret fields only).
    values: std::collections::BTreeMap<String, String>,
}

/// Renders the connect page: each offered connection with the user's
/// accounts there, what connecting allows, and any form errors.
async fn show(
    state: &SharedState,
    view: View<'_>,
    status: StatusCode,
    banner: Option<&str>,
    error: Option<String>,
    errors: Option<FormErrors>,
) -> Response {
    let registry = state.specs.current();
    let mut items = Vec::new();
    for id in &view.session.connection_ids {
        let Ok(Some(connection)) = state.store.get_connection(id).await else {
            continue;
        };
        let Some(provider) = registry.provider(&connection.provider) else {
            continue;
        };
        let accounts = user_accounts(state, &connection, &view.session.identifier).await;
        if let Some(item) = item(view.token, provider, &connection, &accounts) {
            items.push(item);
        }
    }
    super::pages::render(
        state,
        status,
        "connect.html",
        minijinja::context! {
            items,
            banner,
            error,
            errors => errors.map(minijinja::value::Serde),
            csrf => csrf(view.sid),
            back => view.session.redirect_url.clone(),
        },
    )
}

/// `POST /connect/{token}/oauth/{connection_id}`: off to the provider.
pub async fn start_oauth(
    State(state): State<SharedState>,
    Path((token, connection_id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let FormPost {
        session,
        connection,
        provider,
        label,
    } = match post_context(&state, &token, &connection_id, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let Some(account) =
        find_or_create_account(&state, &connection, &session.identifier, &label).await
    else {
        return message(&state, StatusCode::INTERNAL_SERVER_ERROR, "save_failed");
    };
    let back = format!("{}/connect/{token}", public_base(&state));
    let nonce = crate::vault::random_token();
    match crate::auth::flow::begin(
        &state.auth.env(&provider),
        &provider,
        &connection,
        &account,
        Some(back),
        &[],
        Some(&nonce),
    )
    .await
    {
        Ok(link) => {
            let cookie = super::oauth::flow_cookie(&state, &link.state_hash, &nonce);
            super::see_other(link.url, Some(cookie))
        }
        Err(e) => failure(&state, StatusCode::BAD_REQUEST, &e.message),
    }
}

/// `POST /connect/{token}/credentials/{connection_id}`: an API-key form.
/// Empty fields, and a key the provider refuses (when the spec says how to
/// ask it), are shown beside the field with the form kept; nothing is saved.
pub async fn submit_credentials(
    State(state): State<SharedState>,
    Path((token, connection_id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let FormPost {
        session,
        connection,
        provider,
        label,
    } = match post_context(&state, &token, &connection_id, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let (sid, auth) = match (
        super::cookie_value(&headers, COOKIE),
        crate::auth::method(&provider, &connection),
    ) {
        (Some(sid), Ok(auth)) => (sid, auth),
        _ => return message(&state, StatusCode::BAD_REQUEST, "provider_gone"),
    };
    let existing = user_accounts(&state, &connection, &session.identifier).await;
    let slot = match form.get("form").map(String::as_str) {
        Some("add") => "add".to_owned(),
        _ => match existing.iter().position(|a| a.label == label) {
            Some(i) => format!("a{}", i + 1),
            None => "first".to_owned(),
        },
    };
    let mut errors = FormErrors {
        connection: connection.id.clone(),
        slot,
        label: form.get("label").cloned().unwrap_or_default(),
        ..FormErrors::default()
    };
    let mut credentials = Map::new();
    for (key, field) in &auth.credential_fields {
        let value = form.get(key).map(|v| v.trim()).unwrap_or_default();
        let name = field.label.as_deref().unwrap_or(key);
        if value.is_empty() {
            let text = super::pages::text("field_missing").replace("{field}", name);
            errors.fields.insert(key.clone(), text);
        }
        if !field.secret {
            errors.values.insert(key.clone(), value.to_owned());
        }
        credentials.insert(key.clone(), Value::String(value.to_owned()));
    }
    let view = View {
        token: &token,
        session: &session,
        sid: &sid,
    };
    if !errors.fields.is_empty() {
        return refused(&state, view, errors).await;
    }
    if let Err(e) = super::accounts::check_credentials(&provider, auth, &credentials) {
        return failure(&state, StatusCode::BAD_REQUEST, &e.0.message);
    }
    let account_config = existing
        .iter()
        .find(|a| a.label == label)
        .map(|a| a.config.clone())
        .unwrap_or_default();
    let identity = super::accounts::look_up(
        &state,
        &provider,
        auth,
        &connection,
        &account_config,
        &credentials,
    )
    .await;
    if identity == Identity::Refused {
        // Beside the secret the provider refused (the first one).
        let field = auth
            .credential_fields
            .iter()
            .find(|(_, f)| f.secret)
            .or_else(|| auth.credential_fields.first())
            .map(|(k, _)| k.clone())
            .unwrap_or_default();
        let text = super::pages::text("key_refused").replace("{provider}", &provider.display_name);
        errors.fields.insert(field, text);
        return refused(&state, view, errors).await;
    }
    let Some(account) =
        find_or_create_account(&state, &connection, &session.identifier, &label).await
    else {
        return message(&state, StatusCode::INTERNAL_SERVER_ERROR, "save_failed");
    };
    let account = super::accounts::store_credentials(
        &state,
        &provider,
        auth,
        &connection,
        account,
        credentials,
        &identity,
    )
    .await;
    let Ok(account) = account else {
        return message(&state, StatusCode::INTERNAL_SERVER_ERROR, "save_failed");
    };
    let back = format!(
        "{}/connect/{token}?connected_account_id={}&status=active",
        public_base(&state),
        account.id
    );
    super::see_other(back, None)
}

/// `POST /connect/{token}/disconnect/{connection_id}`: the user removes
/// their account; its grant is revoked at the provider first.
pub async fn disconnect(
    State(state): State<SharedState>,
    Path((token, connection_id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let FormPost {
        session,
        connection,
        provider: _,
        label,
    } = match post_context(&state, &token, &connection_id, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if let Some(account) = find_account(&state, &connection, &session.identifier, &label).await
        && super::accounts::remove(&state, &account, &connection)
            .await
            .is_err()
    {
        return message(&state, StatusCode::INTERNAL_SERVER_ERROR, "remove_failed");
    }
    let back = format!(
        "{}/connect/{token}?status=disconnected",
        public_base(&state)
    );
    super::see_other(back, None)
}

/// A checked form post from the page: its session, the connection it is
/// about, and the account label it names.
struct FormPost {
    session: ConnectSession,
    connection: Connection,
    provider: std::sync::Arc<Provider>,
    label: String,
}

/// Checks session, CSRF token, connection and label of a form post.
async fn post_context(
    state: &SharedState,
    token: &str,
    connection_id: &str,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Result<FormPost, Response> {
    let (session, sid, _) = open(state, token, headers, false).await?;
    let expected = csrf(&sid);
    let presented = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(message(state, StatusCode::FORBIDDEN, "form_expired"));
    }
    if !session.connection_ids.iter().any(|c| c == connection_id) {
        return Err(message(state, StatusCode::NOT_FOUND, "connection_gone"));
    }
    let Ok(Some(connection)) = state.store.get_connection(connection_id).await else {
        return Err(message(state, StatusCode::NOT_FOUND, "connection_gone"));
    };
    let Some(provider) = state
        .specs
        .current()
        .provider(&connection.provider)
        .cloned()
    else {
        return Err(message(state, StatusCode::NOT_FOUND, "provider_gone"));
    };
    let label = form_label(form).map_err(|text| failure(state, StatusCode::BAD_REQUEST, &text))?;
    Ok(FormPost {
        session,
        connection,
        provider,
        label,
    })
}

/// The session of `token` and the browser's session id. With `may_claim`
/// (the Continue button) an unclaimed link is bound to this browser,
/// returning the cookie to set; otherwise an unclaimed link answers with the
/// Continue page. Once claimed, requests must come with that cookie.
async fn open(
    state: &SharedState,
    token: &str,
    headers: &HeaderMap,
    may_claim: bool,
) -> Result<(ConnectSession, String, Option<String>), Response> {
    let hash = fingerprint(token);
    let Ok(Some(session)) = state.store.get_connect_session(&hash).await else {
        return Err(message(state, StatusCode::NOT_FOUND, "link_invalid"));
    };
    if session.expires_at <= crate::clock::now_ms() {
        return Err(message(state, StatusCode::GONE, "link_expired"));
    }
    let presented = super::cookie_value(headers, COOKIE);
    match (&session.browser_hash, presented) {
        (Some(bound), Some(sid))
            if bool::from(bound.as_bytes().ct_eq(fingerprint(&sid).as_bytes())) =>
        {
            Ok((session, sid, None))
        }
        (None, _) if !may_claim => Err(continue_page(state, token)),
        (None, _) => {
            let sid = crate::vault::random_token();
            if !state
                .store
                .open_connect_session(&hash, &fingerprint(&sid))
                .await
                .unwrap_or(false)
            {
                return Err(used(state));
            }
            let cookie = cookie(
                state,
                COOKIE,
                &sid,
                &format!("/connect/{token}"),
                (SESSION_TTL_MS / 1000) as u64,
            );
            Ok((session, sid, Some(cookie)))
        }
        _ => Err(used(state)),
    }
}

/// An HttpOnly, SameSite=Lax cookie for `path` (Secure when the gateway is
/// reached over https).
pub(super) fn cookie(
    state: &SharedState,
    name: &str,
    value: &str,
    path: &str,
    max_age_s: u64,
) -> String {
    let secure = if public_base(state).starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// What an unclaimed link shows: nothing happens until the user continues.
fn continue_page(state: &AppState, token: &str) -> Response {
    super::pages::render(
        state,
        StatusCode::OK,
        "continue.html",
        minijinja::context! { action => format!("/connect/{token}") },
    )
}

fn used(state: &AppState) -> Response {
    message(state, StatusCode::FORBIDDEN, "link_used")
}

/// The label a form names (`default` when it names none), checked as the
/// API checks labels.
fn form_label(form: &std::collections::HashMap<String, String>) -> Result<String, String> {
    let label = form
        .get("label")
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .unwrap_or("default");
    super::accounts::check_text("label", label, super::accounts::MAX_LABEL)
        .map_err(|e| e.0.message)?;
    Ok(label.to_owned())
}

/// The account of `identifier` on `connection` with `label`, if any.
async fn find_account(
    state: &SharedState,
    connection: &Connection,
    identifier: &str,
    label: &str,
) -> Option<ConnectedAccount> {
    accounts_of(state, connection, identifier, Some(label), 1)
        .await
        .pop()
}

/// The accounts of `identifier` on `connection` (the first 20).
async fn user_accounts(
    state: &SharedState,
    connection: &Connection,
    identifier: &str,
) -> Vec<ConnectedAccount> {
    accounts_of(state, connection, identifier, None, 20).await
}

async fn accounts_of(
    state: &SharedState,
    connection: &Connection,
    identifier: &str,
    label: Option<&str>,
    limit: u32,
) -> Vec<ConnectedAccount> {
    let filter = AccountFilter {
        identifier: Some(identifier.to_owned()),
        connection_id: Some(connection.id.clone()),
        label: label.map(str::to_owned),
        ..AccountFilter::default()
    };
    let page = PageRequest { limit, after: None };
    state
        .store
        .list_accounts(&filter, page)
        .await
        .unwrap_or_default()
}

async fn find_or_create_account(
    state: &SharedState,
    connection: &Connection,
    identifier: &str,
    label: &str,
) -> Option<ConnectedAccount> {
    if let Some(account) = find_account(state, connection, identifier, label).await {
        return Some(account);
    }
    let account = super::accounts::new_account(
        connection,
        identifier.to_owned(),
        label.to_owned(),
        Default::default(),
        Map::new(),
    );
    match state.store.insert_account(&account).await {
        Ok(()) => Some(account),
        // Created meanwhile (a double click): use that one.
        Err(_) => find_account(state, connection, identifier, label).await,
    }
}

/// One connection on the page: the user's accounts there, their state, and
/// the ways to connect, reconnect, disconnect or add another.
fn item(
    token: &str,
    provider: &Provider,
    connection: &Connection,
    accounts: &[ConnectedAccount],
) -> Option<minijinja::Value> {
    let auth = provider.auth_for(&connection.auth_type)?;
    let (kind, path) = match auth.kind {
        AuthType::Oauth2 => ("oauth", "oauth"),
        AuthType::ApiKey | AuthType::Bearer | AuthType::Basic => ("form", "credentials"),
        _ => return None,
    };
    let fields: Vec<minijinja::Value> = auth
        .credential_fields
        .iter()
        .map(|(key, f)| {
            minijinja::context! {
                key,
                label => f.label.as_deref().unwrap_or(key),
                help => f.description.as_deref(),
                secret => f.secret,
                help_url => f.help_url.as_deref(),
            }
        })
        .collect();
    let accounts: Vec<minijinja::Value> = accounts
        .iter()
        .map(|a| {
            let connected = a.status == AccountStatus::Active;
            // Why an existing account needs its user again.
            let reason = (!connected).then(|| {
                a.status_reason.clone().or_else(|| {
                    (a.status != AccountStatus::Pending).then(|| a.status.as_str().to_owned())
                })
            });
            minijinja::context! {
                label => &a.label,
                name => &a.display_name,
                connected,
                reason => reason.flatten(),
            }
        })
        .collect();
    let connected = accounts
        .iter()
        .any(|a| a.get_attr("connected").is_ok_and(|c| c.is_true()));
    let scopes = crate::auth::scopes(provider, connection);
    let permissions: Vec<String> = auth.permissions_for(&scopes).map(str::to_owned).collect();
    Some(minijinja::context! {
        id => &connection.id,
        name => &provider.display_name,
        logo => provider.logo.is_some().then(|| format!("/assets/providers/{}/logo", provider.key)),
        permissions,
        connected,
        kind,
        action => format!("/connect/{token}/{path}/{}", connection.id),
        disconnect => format!("/connect/{token}/disconnect/{}", connection.id),
        accounts,
        fields,
    })
}

/// The page again, with what is wrong beside the fields of a form.
async fn refused(state: &SharedState, view: View<'_>, errors: FormErrors) -> Response {
    show(
        state,
        view,
        StatusCode::BAD_REQUEST,
        None,
        None,
        Some(errors),
    )
    .await
}

/// A page that says the text `key` went wrong.
fn message(state: &AppState, status: StatusCode, key: &str) -> Response {
    failure(state, status, super::pages::text(key))
}

/// A page that says what went wrong, in `text`.
fn failure(state: &AppState, status: StatusCode, text: &str) -> Response {
    super::pages::message(
        state,
        status,
        super::pages::text("connect_title"),
        text,
        false,
    )
}

fn csrf(sid: &str) -> String {
    fingerprint(&format!("csrf:{sid}"))
}

/// The gateway's public origin (from `public_url`, or the listen address).
pub(super) fn public_base(state: &SharedState) -> String {
    let uri = state.auth.redirect_uri();
    uri.trim_end_matches("/v1/oauth/callback").to_owned()
}
