//! `POST /v1/tools/execute`: one tool call on behalf of one account.
//!
//! Phases, in order: resolve the account (by id, or identifier + provider),
//! resolve the tool against the registry in force (held for the whole call),
//! check the account can be used, get its credentials from the auth
//! resolver (`auth::Resolver`, which opens, refreshes or fetches them), run
//! the engine with the upstream client under the call's deadline, and
//! answer with the success envelope or the error envelope. Metrics and the
//! account's last-use time are recorded on the way out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, ApiResult, Json, invalid, not_found, request_id};
use super::{AppState, SharedState, now as now_text};
use crate::catalog::LLM_SEPARATOR;
use crate::engine::{self, CallContext};
use crate::error::{Error, ErrorCode};
use crate::registry::{Auth, Provider, Tool};
use crate::spec::{AuthType, suggestion};
use crate::store::{AccountFilter, AccountStatus, ConnectedAccount, Connection, PageRequest};
use crate::upstream::CallPlan;

/// Most candidates listed in an ambiguity `conflict`.
const MAX_CANDIDATES: u32 = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    #[serde(default)]
    pub connected_account_id: Option<String>,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    pub tool: String,
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// A call's output and the `meta` of its success envelope, serialized as
/// the envelope itself (`{"data": …, "meta": …}`).
#[derive(Serialize)]
pub struct Called {
    #[serde(rename = "data")]
    pub output: Value,
    pub meta: Meta,
}

/// What the success envelope says of the call besides its output.
#[derive(Serialize)]
pub struct Meta {
    pub request_id: String,
    pub provider: String,
    pub tool: String,
    pub connected_account_id: String,
    pub upstream_status: u16,
    pub attempts: u32,
    pub duration_ms: u64,
    /// Pages fetched, when more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
}

pub async fn execute(
    State(state): State<SharedState>,
    Json(body): Json<ExecuteRequest>,
) -> ApiResult<axum::Json<Called>> {
    Ok(axum::Json(call(&state, body).await?))
}

/// One tool call, as the HTTP API and the MCP server both make it.
pub async fn call(state: &SharedState, body: ExecuteRequest) -> ApiResult<Called> {
    let state = state.clone();
    let started = Instant::now();
    let registry = state.specs.current();
    let found = resolve_account(&state, &body).await?;
    let (account, connection) = (&found.0, &found.1);
    let provider = registry
        .provider(&account.provider)
        .ok_or_else(|| not_found(format!("provider `{}` is not loaded", account.provider)))?;
    let tool = resolve_tool(provider, &body.tool)?;
    let params = body.parameters.unwrap_or_else(|| Value::Object(Map::new()));

    let target = Target {
        subject: Subject {
            provider,
            auth: crate::auth::method(provider, connection)?,
            account,
            connection,
        },
        tool,
    };
    let result = run(&state, target, &params).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.code.as_str(),
    };
    let labels = [provider.key.as_str(), tool.name.as_str()];
    state
        .metrics
        .executions
        .with_label_values(&[labels[0], labels[1], outcome])
        .inc();
    state
        .metrics
        .execution_seconds
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());

    let mut event = crate::audit::Event::new("tool.executed")
        .account(account)
        .outcome(outcome);
    event.tool = Some(tool.name.clone());
    event.upstream_status = match &result {
        Ok((execution, _)) => Some(i64::from(execution.upstream_status)),
        Err(e) => e.upstream_status.map(i64::from),
    };
    event.duration_ms = Some(started.elapsed().as_millis() as i64);
    state.store.audit().record(event);

    let (execution, attempts) = result.map_err(|e| ApiError(e.with_provider(&provider.key)))?;
    record_use(&state, account);
    Ok(Called {
        output: execution.output,
        meta: Meta {
            request_id: request_id(),
            provider: provider.key.clone(),
            tool: tool.name.clone(),
            connected_account_id: account.id.clone(),
            upstream_status: execution.upstream_status,
            attempts,
            duration_ms: started.elapsed().as_millis() as u64,
            pages: (execution.pages > 1).then_some(execution.pages),
        },
    })
}

/// How stale an account's last-use time may get before a call writes it
/// again: idle-account upkeep works in hours, and a write per call would
/// make every call a database write.
const LAST_USE_RESOLUTION: Duration = Duration::from_secs(60);

/// Records that the account was used, at most once per [`LAST_USE_RESOLUTION`].
pub(super) fn record_use(state: &SharedState, account: &ConnectedAccount) {
    let now = time::OffsetDateTime::now_utc();
    let recent = account
        .last_used_at
        .as_deref()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .is_some_and(|t| now - t < LAST_USE_RESOLUTION);
    if recent {
        return;
    }
    let store = state.store.clone();
    let account_id = account.id.clone();
    tokio::spawn(async move {
        if let Err(e) = store.touch_account(&account_id, &now_text()).await {
            tracing::warn!(error = %e, "could not record the account's last use");
        }
    });
}

/// The account a call acts for, once resolved (tool calls and the proxy).
#[derive(Clone, Copy)]
pub(super) struct Subject<'a> {
    pub provider: &'a Provider,
    /// The auth method the account's connection uses.
    pub auth: &'a Auth,
    pub account: &'a ConnectedAccount,
    pub connection: &'a Connection,
}

/// What a tool call acts on, once resolved.
#[derive(Clone, Copy)]
struct Target<'a> {
    subject: Subject<'a>,
    tool: &'a Tool,
}

impl Subject<'_> {
    /// The credentials a call on the account injects; `refused` are those
    /// the provider just refused (see [`crate::auth::Resolver::credentials`]).
    pub async fn credentials(
        &self,
        state: &AppState,
        refused: Option<&Map<String, Value>>,
    ) -> Result<crate::auth::Opened, Error> {
        state
            .auth
            .credentials(
                self.provider,
                self.auth,
                self.account,
                self.connection,
                refused,
            )
            .await
    }
}

impl<'a> std::ops::Deref for Target<'a> {
    type Target = Subject<'a>;

    fn deref(&self) -> &Subject<'a> {
        &self.subject
    }
}

/// Runs the call once the account and tool are known. An account that needs
/// its user again gets a link to hand them in the error.
async fn run(
    state: &SharedState,
    target: Target<'_>,
    params: &Value,
) -> Result<(engine::Execution, u32), Error> {
    match run_active(state, target, params).await {
        Err(e) => Err(with_user_link(state, target.subject, e, &target.tool.scopes).await),
        ok => ok,
    }
}

/// A `reauthorization_required` error with a link to hand the user: a fresh
/// authorization URL for OAuth accounts (asking for `scopes` too), a connect
/// page for credential accounts. Other errors are returned as they are.
pub(super) async fn with_user_link(
    state: &SharedState,
    subject: Subject<'_>,
    e: Error,
    scopes: &[String],
) -> Error {
    if e.code != ErrorCode::ReauthorizationRequired {
        return e;
    }
    let e = e.with_detail("connected_account_id", subject.account.id.as_str());
    let link = match subject.auth.kind {
        AuthType::Oauth2 => {
            super::oauth::link_for(
                state,
                subject.provider,
                subject.connection,
                subject.account,
                scopes,
            )
            .await
        }
        AuthType::ApiKey | AuthType::Bearer | AuthType::Basic => {
            super::connect::link_for_provider(
                state,
                &subject.account.identifier,
                &subject.provider.key,
            )
            .await
        }
        AuthType::Oauth2ClientCredentials | AuthType::None => None,
    };
    match link {
        Some(url) => e.with_detail("auth_url", url),
        None => e,
    }
}

/// What the upstream client may do for one call on `subject`'s account:
/// its deadline (the tool's, else the provider's, else the gateway's),
/// retries and rate limits.
pub(super) fn plan<'a>(
    state: &'a SharedState,
    subject: Subject<'a>,
    idempotent: bool,
    timeout_ms: Option<u64>,
) -> CallPlan<'a> {
    let provider = subject.provider;
    let budget = Duration::from_millis(
        timeout_ms
            .or(provider.timeout_ms)
            .unwrap_or(state.config.upstream.timeout_ms),
    );
    CallPlan {
        provider: &provider.key,
        account: &subject.account.id,
        idempotent,
        deadline: Instant::now() + budget,
        budget,
        retry: state.upstream.retry_policy(provider.retry.as_ref()),
        rate_limit: state
            .upstream
            .rate_limit(&provider.key, provider.rate_limit.as_ref()),
    }
}

/// The origin an account's own credentials are pinned to (client-credentials
/// tokens belong to the connection, not the account).
pub(super) fn credentials_origin<'a>(subject: Subject<'a>) -> Option<&'a str> {
    match subject.auth.kind {
        AuthType::Oauth2ClientCredentials | AuthType::None => None,
        _ => subject.account.credentials_origin.as_deref(),
    }
}

/// Refuses an account that is not active, saying why.
pub(super) fn ensure_active(account: &ConnectedAccount) -> Result<(), Error> {
    if account.status == AccountStatus::Active {
        return Ok(());
    }
    let reason = account
        .status_reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Err(Error::new(
        ErrorCode::ReauthorizationRequired,
        format!(
            "the account is {}{reason}; the user must connect it again",
            account.status.as_str()
        ),
    )
    .with_detail("status", account.status.as_str())
    .with_detail("connected_account_id", account.id.as_str()))
}

async fn run_active(
    state: &SharedState,
    target: Target<'_>,
    params: &Value,
) -> Result<(engine::Execution, u32), Error> {
    let Target { subject, tool } = target;
    let account = subject.account;
    ensure_active(account)?;

    let missing: Vec<&str> = tool
        .scopes
        .iter()
        .filter(|s| target.auth.kind == AuthType::Oauth2 && !account.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorCode::ReauthorizationRequired,
            format!(
                "the account was not granted the scope{} this tool needs: {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ),
        )
        .with_detail("missing_scopes", missing));
    }

    let plan = plan(state, subject, tool.idempotent, tool.timeout_ms);
    let attempts = AtomicU32::new(0);
    let credentials = subject.credentials(state, None).await?;
    let mut result = call_once(state, target, params, &credentials, &plan, &attempts).await;
    // A token the provider refuses (expired early, revoked) is replaced once
    // (refreshed, or fetched again), and the call made once more.
    let renewable = matches!(
        target.auth.kind,
        AuthType::Oauth2 | AuthType::Oauth2ClientCredentials
    );
    if renewable
        && result
            .as_ref()
            .is_err_and(|e| e.upstream_status == Some(401))
    {
        let fresh = subject.credentials(state, Some(&credentials)).await?;
        result = call_once(state, target, params, &fresh, &plan, &attempts).await;
    }
    result.map(|e| (e, attempts.load(Ordering::Relaxed)))
}

/// One run of the engine with `credentials`, within the plan's deadline.
async fn call_once(
    state: &SharedState,
    target: Target<'_>,
    params: &Value,
    credentials: &Map<String, Value>,
    plan: &CallPlan<'_>,
    attempts: &AtomicU32,
) -> Result<engine::Execution, Error> {
    let ctx = CallContext {
        connection_config: Some(&target.connection.config),
        account_config: Some(&target.account.config),
        credentials: Some(credentials),
        auth: Some(target.auth),
        credentials_origin: credentials_origin(target.subject),
    };
    let send = |req| async move {
        let answer = state.upstream.call(plan, req).await?;
        attempts.fetch_add(answer.attempts, Ordering::Relaxed);
        Ok(answer.response)
    };
    // The upstream layer keeps within the deadline; this is the backstop.
    let remaining = plan.deadline.saturating_duration_since(Instant::now());
    let call = engine::execute(target.provider, target.tool, params, &ctx, send);
    match tokio::time::timeout(remaining + DEADLINE_GRACE, call).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorCode::UpstreamTimeout,
            format!(
                "the provider did not answer within {} ms",
                plan.budget.as_millis()
            ),
        )),
    }
}

/// Time past a call's deadline before the backstop timeout cuts it.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// Finds the account (and its connection) by id, or by identifier +
/// provider (+ label); more than one match is a `conflict` that lists the
/// candidates.
async fn resolve_account(
    state: &SharedState,
    body: &ExecuteRequest,
) -> ApiResult<crate::store::cache::Entry> {
    let account = match &body.connected_account_id {
        Some(id) if body.identifier.is_none() => {
            return state
                .store
                .account_for_call(id)
                .await?
                .ok_or_else(|| not_found(format!("no connected account `{id}`")));
        }
        _ => find_account(state, body).await?,
    };
    let connection = state
        .store
        .get_connection(&account.connection_id)
        .await?
        .ok_or_else(|| not_found("the account's connection no longer exists"))?;
    Ok(std::sync::Arc::new((account, connection)))
}

/// The account named by identifier + provider (+ label).
async fn find_account(state: &SharedState, body: &ExecuteRequest) -> ApiResult<ConnectedAccount> {
    match (&body.connected_account_id, &body.identifier, &body.provider) {
        (Some(id), None, _) => state
            .store
            .get_account(id)
            .await?
            .ok_or_else(|| not_found(format!("no connected account `{id}`"))),
        (Some(_), Some(_), _) => Err(invalid(
            "give either connected_account_id or identifier, not both",
        )),
        (None, Some(identifier), Some(provider)) => {
            let filter = AccountFilter {
                identifier: Some(identifier.clone()),
                provider: Some(provider.clone()),
                label: body.label.clone(),
                ..AccountFilter::default()
            };
            let page = PageRequest {
                limit: MAX_CANDIDATES,
                after: None,
            };
            let mut found = state.store.list_accounts(&filter, page).await?;
            // Accounts that were never connected (or were revoked) do not make
            // the choice ambiguous when exactly one account is active.
            let active: Vec<usize> = (0..found.len())
                .filter(|i| found[*i].status == AccountStatus::Active)
                .collect();
            if let [only] = active.as_slice() {
                return Ok(found.swap_remove(*only));
            }
            match found.len() {
                0 => {
                    let mut e = Error::new(
                        ErrorCode::NotFound,
                        format!(
                            "`{identifier}` has no `{provider}` account{}",
                            body.label
                                .as_ref()
                                .map(|l| format!(" labelled `{l}`"))
                                .unwrap_or_default()
                        ),
                    );
                    // Authorization on demand: a link the app can hand its user.
                    if let Some(link) =
                        super::connect::link_for_provider(state, identifier, provider).await
                    {
                        e = e.with_detail("connect_url", link);
                    }
                    Err(ApiError(e))
                }
                1 => Ok(found.remove(0)),
                n => {
                    let candidates: Vec<Value> = found
                        .iter()
                        .map(|a| json!({"id": a.id, "label": a.label, "status": a.status, "connection_id": a.connection_id}))
                        .collect();
                    Err(ApiError(
                        Error::new(
                            ErrorCode::Conflict,
                            format!(
                                "`{identifier}` has {n} `{provider}` accounts; pass connected_account_id or label"
                            ),
                        )
                        .with_detail("candidates", candidates),
                    ))
                }
            }
        }
        (None, Some(_), None) => Err(invalid("`identifier` needs `provider` too")),
        (None, None, _) => Err(invalid(
            "give connected_account_id, or identifier and provider",
        )),
    }
}

/// `send_message`, `slack.send_message` or `slack__send_message`; the
/// provider part, when given, must be the account's.
fn resolve_tool<'p>(provider: &'p Provider, name: &str) -> ApiResult<&'p Tool> {
    let (prefix, tool) = match name
        .split_once('.')
        .or_else(|| name.split_once(LLM_SEPARATOR))
    {
        Some((p, t)) => (Some(p), t),
        None => (None, name),
    };
    if let Some(p) = prefix
        && p != provider.key
    {
        return Err(invalid(format!(
            "tool `{name}` belongs to `{p}`, but the account is a `{}` account",
            provider.key
        )));
    }
    provider.tools.get(tool).ok_or_else(|| {
        not_found(format!(
            "provider `{}` has no tool `{tool}`{}",
            provider.key,
            suggestion(tool, provider.tools.keys().map(String::as_str))
        ))
    })
}
