//! Connecting OAuth 2.0 accounts: `POST /v1/connected-accounts/{id}/auth-url`,
//! the start link it returns (`/v1/oauth/start/{state}`), and the provider's
//! redirect back, `GET /v1/oauth/callback`.
//!
//! Every flow is bound to one browser. The start link shows a Continue
//! button (a GET changes nothing, so a link preview does not claim it); the
//! first browser to continue gets a nonce cookie and goes on to the provider,
//! and the callback is accepted only with that cookie. So a provider link
//! forwarded to someone else cannot put their account under this user.
//!
//! The start link and the callback carry no API key: the `state`
//! authenticates them. The callback ends in a redirect to the app's
//! `redirect_url` (with `connected_account_id` and `status`) or, without one,
//! in a small result page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{ApiResult, OptionalJson, Path, Query, not_found};
use super::pages::text;
use super::{AppState, SharedState, now};
use crate::auth::flow::{self, StateProblem};
use crate::config::Config;
use crate::error::Error;
use crate::registry::Provider;
use crate::store::{ConnectedAccount, Connection, OAuthState};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthUrlRequest {
    #[serde(default)]
    redirect_url: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The gateway's OAuth callback URL under `config` (from `public_url`, or
/// the listen address), which the auth resolver holds.
pub fn callback_url(config: &Config) -> String {
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    format!("{}/v1/oauth/callback", base.trim_end_matches('/'))
}

/// A fresh authorization link for an account, for `details.auth_url`.
pub async fn link_for(
    state: &SharedState,
    provider: &Provider,
    connection: &Connection,
    account: &ConnectedAccount,
    extra_scopes: &[String],
) -> Option<String> {
    match flow::begin(
        &state.auth.env(provider),
        provider,
        connection,
        account,
        None,
        extra_scopes,
        None,
    )
    .await
    {
        Ok(link) => Some(start_url(state, &link.state)),
        Err(e) => {
            tracing::warn!(account = %account.id, error = %e, "no authorization link for the account");
            None
        }
    }
}

pub async fn auth_url(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    // The body is optional: no body means no redirect URL and no extra scopes.
    OptionalJson(body): OptionalJson<AuthUrlRequest>,
) -> ApiResult<axum::Json<Value>> {
    if let Some(url) = &body.redirect_url {
        super::check_redirect_url(&state, url)?;
    }
    let (account, connection) = state
        .store
        .get_account_with_connection(&id)
        .await?
        .ok_or_else(|| not_found(format!("no connected account `{id}`")))?;
    let registry = state.specs.current();
    let provider = registry
        .provider(&account.provider)
        .ok_or_else(|| not_found(format!("provider `{}` is not loaded", account.provider)))?;
    let scopes = body.scopes.unwrap_or_default();
    let link = flow::begin(
        &state.auth.env(provider),
        provider,
        &connection,
        &account,
        body.redirect_url,
        &scopes,
        None,
    )
    .await?;
    let expires = crate::clock::text_of_ms(link.expires_at);
    Ok(axum::Json(
        json!({"url": start_url(&state, &link.state), "state_expires_at": expires}),
    ))
}

/// The gateway's start link of a flow.
fn start_url(state: &AppState, flow_state: &str) -> String {
    let base = state.auth.redirect_uri();
    format!("{}/start/{flow_state}", base.trim_end_matches("/callback"))
}

/// The cookie binding the flow of `state_hash` to the browser holding `nonce`
/// (sent to the start link and the callback only).
pub(super) fn flow_cookie(state: &SharedState, state_hash: &str, nonce: &str) -> String {
    super::connect::cookie(
        state,
        &flow::browser_cookie_name(state_hash),
        nonce,
        "/v1/oauth",
        flow::STATE_TTL.as_secs(),
    )
}

/// A start link's request: the pending flow of its state, the account's
/// connection and provider, and the browser's flow cookie, once the cookie
/// is known to fit (an extractor: a refusal is the answer).
pub struct StartContext {
    flow_state: String,
    row: OAuthState,
    connection: Connection,
    provider: std::sync::Arc<Provider>,
    cookie: Option<String>,
}

impl axum::extract::FromRequestParts<SharedState> for StartContext {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &SharedState,
    ) -> Result<StartContext, Response> {
        let Path(flow_state) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        start_context(state, flow_state, &parts.headers).await
    }
}

async fn start_context(
    state: &SharedState,
    flow_state: String,
    headers: &axum::http::HeaderMap,
) -> Result<StartContext, Response> {
    let hash = crate::vault::fingerprint(&flow_state);
    let row = match flow::pending(&state.store, &hash).await {
        Ok(Ok(row)) => row,
        Ok(Err(problem)) => return Err(refused(state, problem)),
        Err(e) => return Err(failed(state, &e)),
    };
    let cookie = super::cookie_value(headers, &flow::browser_cookie_name(&hash));
    if let Some(bound) = &row.browser_hash
        && !flow::same_browser(bound, cookie.as_deref())
    {
        return Err(refused(state, StateProblem::OtherBrowser));
    }
    let Ok(Some((account, connection))) = state
        .store
        .get_account_with_connection(&row.account_id)
        .await
    else {
        return Err(refused(state, StateProblem::Unknown));
    };
    let Some(provider) = state.specs.current().provider(&account.provider).cloned() else {
        return Err(refused(state, StateProblem::Unknown));
    };
    Ok(StartContext {
        flow_state,
        row,
        connection,
        provider,
        cookie,
    })
}

/// `GET /v1/oauth/start/{state}`: what the flow is, and a Continue button.
/// Changes nothing.
pub async fn start_page(State(state): State<SharedState>, context: StartContext) -> Response {
    super::pages::render(
        &state,
        StatusCode::OK,
        "start.html",
        minijinja::context! {
            provider => &context.provider.display_name,
            action => format!("/v1/oauth/start/{}", context.flow_state),
        },
    )
}

/// `POST /v1/oauth/start/{state}`: the Continue button. Binds the flow to
/// this browser and sends it to the provider.
pub async fn start(State(state): State<SharedState>, context: StartContext) -> Response {
    let nonce = context.cookie.unwrap_or_else(crate::vault::random_token);
    let provider_url = match flow::claim(
        &state.auth.env(&context.provider),
        &context.provider,
        &context.connection,
        &context.flow_state,
        &context.row,
        &nonce,
    )
    .await
    {
        Ok(Ok(url)) => url,
        Ok(Err(problem)) => return refused(&state, problem),
        Err(e) => return failed(&state, &e),
    };
    let cookie = flow_cookie(&state, &context.row.state_hash, &nonce);
    super::see_other(provider_url, Some(cookie))
}

fn refused(state: &AppState, problem: StateProblem) -> Response {
    page(
        state,
        StatusCode::BAD_REQUEST,
        text("auth_failed_title"),
        text(problem.text_key()),
    )
}

fn failed(state: &AppState, e: &Error) -> Response {
    page(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        text("auth_failed_title"),
        &e.message,
    )
}

pub async fn callback(
    State(state): State<SharedState>,
    Query(q): Query<CallbackQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(raw_state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return refused(&state, StateProblem::Unknown);
    };
    let cookie = flow::browser_cookie_name(&crate::vault::fingerprint(raw_state));
    let browser = super::cookie_value(&headers, &cookie);
    let accepted = match flow::accept_state(&state.store, raw_state, browser.as_deref()).await {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(problem)) => return refused(&state, problem),
        Err(e) => return failed(&state, &e),
    };
    let redirect = accepted.state.redirect_url.clone();
    let account_id = accepted.state.account_id.clone();
    let finish = |status: &str, error: Option<&str>, message: &str| match &redirect {
        Some(url) => back_to_app(&state, url, &account_id, status, error),
        None => {
            let code = if status == "active" {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            let title = if status == "active" {
                text("auth_done_title")
            } else {
                text("auth_failed_title")
            };
            page(&state, code, title, message)
        }
    };

    if let Some(error) = q.error.as_deref() {
        let reason = match q.error_description.as_deref() {
            Some(d) => format!("{error}: {d}"),
            None => error.to_owned(),
        };
        let _ = state
            .store
            .set_status_reason(&account_id, &reason, &now())
            .await;
        let status = if error == "access_denied" {
            "denied"
        } else {
            "error"
        };
        return finish(status, Some(error), text("auth_not_granted"));
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return finish("error", Some("invalid_request"), text("auth_no_code"));
    };
    match complete(&state, &accepted, code).await {
        Ok(_) => finish("active", None, text("auth_done")),
        Err(e) => {
            tracing::warn!(account = %account_id, error = %e, "authorization did not complete");
            let _ = state
                .store
                .set_status_reason(&account_id, &e.message, &now())
                .await;
            let code = e
                .details
                .get("provider_code")
                .and_then(Value::as_str)
                .unwrap_or(e.code.as_str())
                .to_owned();
            finish("error", Some(&code), &e.message)
        }
    }
}

async fn complete(
    state: &SharedState,
    accepted: &flow::AcceptedState,
    code: &str,
) -> Result<ConnectedAccount, Error> {
    let (account, connection) = state
        .store
        .get_account_with_connection(&accepted.state.account_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            Error::new(
                crate::error::ErrorCode::NotFound,
                "the account no longer exists",
            )
        })?;
    let registry = state.specs.current();
    let provider = registry.provider(&account.provider).ok_or_else(|| {
        Error::new(
            crate::error::ErrorCode::NotFound,
            "the account's provider is not loaded",
        )
    })?;
    flow::complete(
        &state.auth.env(provider),
        provider,
        &connection,
        accepted,
        code,
    )
    .await
}

/// A 303 to the app's page with the outcome in the query.
fn back_to_app(
    state: &AppState,
    url: &str,
    account_id: &str,
    status: &str,
    error: Option<&str>,
) -> Response {
    let Ok(mut target) = url::Url::parse(url) else {
        return page(
            state,
            StatusCode::BAD_REQUEST,
            text("auth_failed_title"),
            text("auth_bad_return"),
        );
    };
    {
        let mut q = target.query_pairs_mut();
        q.append_pair("connected_account_id", account_id);
        q.append_pair("status", status);
        if let Some(e) = error {
            q.append_pair("error", e);
        }
    }
    super::see_other(target.to_string(), None)
}

/// A result page in the connect page's look.
fn page(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    super::pages::message(state, status, title, message, status.is_success())
}
