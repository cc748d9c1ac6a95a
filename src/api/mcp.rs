//! The Model Context Protocol server: the gateway's tools for one end user,
//! over Streamable HTTP (`POST /mcp`), and the per-user links that open it
//! (`/v1/mcp-links`).
//!
//! Who the user is comes with every request, never from the MCP session: an
//! API key plus `X-Switchboard-Identifier` on `/mcp`, or a link's token on
//! `/mcp/{token}` (for MCP clients that cannot set headers). The middleware
//! here resolves it into an [`McpScope`] in the request's extensions, which
//! rmcp hands to the handler with the request's parts.
//!
//! `tools/list` offers the tools of every provider the app has a connection
//! for (narrowed by the link), named `provider__tool`; `tools/call` runs
//! exactly what `POST /v1/tools/execute` runs. A provider the user has not
//! connected, or must reconnect, answers with a link to hand the user.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, ApiResult, Json, Path, invalid, not_found};
use super::execute::{self, ExecuteRequest};
use super::{SharedState, new_id, now};
use crate::catalog::{self, Format, LLM_SEPARATOR};
use crate::error::{Error, ErrorCode};
use crate::registry::{Provider, Tool};
use crate::store::{AccountFilter, McpLink, McpLinkKey, PageRequest};
use crate::vault::fingerprint;

/// The header that names the end user on `/mcp`.
pub const IDENTIFIER_HEADER: &str = "x-switchboard-identifier";

/// Tools per `tools/list` page.
const PAGE_SIZE: usize = 100;

/// Connections and accounts read to build a user's tool list.
const LIST_LIMIT: u32 = 200;

/// The longest lifetime a link may be given (ten years), in seconds.
const MAX_LINK_LIFETIME_S: u64 = 10 * 365 * 24 * 3600;

/// The argument that picks one of several accounts of a provider.
const ACCOUNT_ARGUMENT: &str = "account";

/// Whom an MCP request acts for, and what it may use.
#[derive(Debug, Clone)]
pub struct McpScope {
    pub identifier: String,
    /// Provider keys; `None`: every provider the app has a connection for.
    pub providers: Option<Vec<String>>,
    /// Tool ids (`provider.tool`); `None`: every tool of those providers.
    pub tools: Option<Vec<String>>,
}

impl McpScope {
    fn allows_provider(&self, key: &str) -> bool {
        self.providers
            .as_ref()
            .is_none_or(|p| p.iter().any(|k| k == key))
    }

    fn allows_tool(&self, provider: &str, tool: &str) -> bool {
        self.allows_provider(provider)
            && self.tools.as_ref().is_none_or(|t| {
                t.iter()
                    .any(|id| id.split_once('.') == Some((provider, tool)))
            })
    }
}

// === links ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    identifier: String,
    #[serde(default)]
    providers: Option<Vec<String>>,
    #[serde(default)]
    tools: Option<Vec<String>>,
    #[serde(default)]
    expires_in_s: Option<u64>,
}

/// `POST /v1/mcp-links`: an MCP server URL for one end user.
pub async fn create_link(
    State(state): State<SharedState>,
    Json(body): Json<CreateLink>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    if body.identifier.trim().is_empty() {
        return Err(invalid("`identifier` must not be empty"));
    }
    let registry = state.specs.current();
    for key in body.providers.iter().flatten() {
        if registry.provider(key).is_none() {
            return Err(not_found(format!("provider `{key}` is not loaded")));
        }
    }
    let mut tools = None;
    if let Some(list) = &body.tools {
        let mut ids = Vec::new();
        for name in list {
            let id = name.replacen(LLM_SEPARATOR, ".", 1);
            if registry.tool(&id).is_none() {
                return Err(not_found(format!(
                    "no tool `{name}` (give tools as provider.tool)"
                )));
            }
            ids.push(id);
        }
        tools = Some(ids);
    }
    let expires_at = match body.expires_in_s {
        Some(0) => return Err(invalid("expires_in_s must be at least 1")),
        Some(s) if s > MAX_LINK_LIFETIME_S => {
            return Err(invalid(format!(
                "expires_in_s must be at most {MAX_LINK_LIFETIME_S} (ten years); leave it out for a link that does not expire"
            )));
        }
        Some(s) => Some(
            i64::try_from(s)
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .and_then(|ms| crate::clock::now_ms().checked_add(ms))
                .ok_or_else(|| invalid("expires_in_s is too large"))?,
        ),
        None => None,
    };
    let token = crate::vault::random_token();
    let link = McpLink {
        id: new_id("mcpl"),
        token_hash: fingerprint(&token),
        identifier: body.identifier,
        providers: body.providers,
        tools,
        created_at: now(),
        expires_at,
    };
    state.store.insert_mcp_link(&link).await?;
    let url = format!("{}/mcp/{token}", super::connect::public_base(&state));
    let mut answer = link_json(&link);
    answer["url"] = json!(url);
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// `GET /v1/mcp-links/{id}` (the URL is shown only when it is created).
pub async fn get_link(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let link = state
        .store
        .get_mcp_link(McpLinkKey::Id(&id))
        .await?
        .ok_or_else(|| not_found(format!("no MCP link `{id}`")))?;
    Ok(axum::Json(link_json(&link)))
}

/// `DELETE /v1/mcp-links/{id}`: the link stops working at once.
pub async fn delete_link(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    if !state.store.delete_mcp_link(&id).await? {
        return Err(not_found(format!("no MCP link `{id}`")));
    }
    Ok(axum::Json(json!({"id": id, "deleted": true})))
}

fn link_json(link: &McpLink) -> Value {
    json!({
        "id": link.id,
        "identifier": link.identifier,
        "providers": link.providers,
        "tools": link.tools,
        "created_at": link.created_at,
        "expires_at": link.expires_at.map(crate::clock::text_of_ms),
    })
}

// === who is calling ===

/// `/mcp`: the API key (checked by the layer before this one) and the end
/// user named by `X-Switchboard-Identifier`.
pub async fn scope_from_header(mut req: Request, next: Next) -> Response {
    let identifier = req
        .headers()
        .get(IDENTIFIER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let Some(identifier) = identifier else {
        return ApiError(Error::new(
            ErrorCode::InvalidRequest,
            "name the end user with the X-Switchboard-Identifier header (or use an MCP link)",
        ))
        .into_response();
    };
    req.extensions_mut().insert(McpScope {
        identifier,
        providers: None,
        tools: None,
    });
    next.run(req).await
}

/// `/mcp/{token}`: the link's token authenticates and names the user.
pub async fn scope_from_link(
    State(state): State<SharedState>,
    Path(token): Path<String>,
    mut req: Request,
    next: Next,
) -> Response {
    let refused = || {
        ApiError(Error::new(
            ErrorCode::Unauthenticated,
            "this MCP link is not valid (revoked or expired)",
        ))
        .into_response()
    };
    let link = match state
        .store
        .get_mcp_link(McpLinkKey::TokenHash(&fingerprint(&token)))
        .await
    {
        Ok(Some(link)) => link,
        Ok(None) => return refused(),
        Err(e) => return ApiError(Error::from(e)).into_response(),
    };
    if link
        .expires_at
        .is_some_and(|at| at <= crate::clock::now_ms())
    {
        return refused();
    }
    req.extensions_mut().insert(McpScope {
        identifier: link.identifier,
        providers: link.providers,
        tools: link.tools,
    });
    next.run(req).await
}

// === the server ===

/// The MCP handler; one per session, all sharing the gateway's state.
#[derive(Clone)]
pub struct McpServer {
    state: SharedState,
}

/// The Streamable HTTP service that `/mcp` and `/mcp/{token}` route to.
pub fn service(
    state: SharedState,
    shutdown: tokio_util::sync::CancellationToken,
) -> StreamableHttpService<McpServer, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts(&state))
        .with_max_request_body_bytes(state.config.max_body_bytes)
        .with_cancellation_token(shutdown);
    StreamableHttpService::new(
        move || {
            Ok(McpServer {
                state: state.clone(),
            })
        },
        LocalSessionManager::default().into(),
        config,
    )
}

/// The `Host` values MCP requests may carry (DNS rebinding protection):
/// loopback, and the host of `public_url` and of `listen`.
fn allowed_hosts(state: &SharedState) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(url) = state
        .config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        && let Some(host) = url.host_str()
    {
        hosts.push(host.to_owned());
        if let Some(port) = url.port() {
            hosts.push(format!("{host}:{port}"));
        }
    }
    if let Some((host, _)) = state.config.listen.rsplit_once(':') {
        hosts.push(host.trim_matches(['[', ']']).to_owned());
    }
    hosts
}

impl rmcp::ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "switchboard",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Tools act in the user's connected accounts (Gmail, Slack, Jira, …). When a tool \
                 answers that the user has not connected the provider, or must reconnect it, give \
                 the user the link it returns, then call the tool again.",
            )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let scope = scope_of(&context)?;
        let tools = offered_tools(&self.state, &scope)
            .await
            .map_err(|e| McpError::internal_error(e.message, None))?;
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= tools.len())
                .ok_or_else(|| McpError::invalid_params("unknown cursor", None))?,
        };
        let end = (start + PAGE_SIZE).min(tools.len());
        let mut page = json!({"tools": tools[start..end]});
        if end < tools.len() {
            page["nextCursor"] = json!(end.to_string());
        }
        serde_json::from_value(page).map_err(|e| McpError::internal_error(e.to_string(), None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let scope = scope_of(&context)?;
        let result = call(&self.state, &scope, request).await;
        serde_json::from_value::<CallToolResult>(result)
            .map(CallToolResponse::from)
            .map_err(|e| McpError::internal_error(e.to_string(), None))
    }
}

fn scope_of(context: &RequestContext<RoleServer>) -> Result<McpScope, McpError> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpScope>())
        .cloned()
        .ok_or_else(|| McpError::invalid_request("no end user for this request", None))
}

/// The MCP definitions of the tools `scope` may use.
async fn offered_tools(state: &SharedState, scope: &McpScope) -> Result<Vec<Value>, Error> {
    let registry = state.specs.current();
    let page = PageRequest {
        limit: LIST_LIMIT,
        after: None,
    };
    let connections = state.store.list_connections(None, page).await?;
    let filter = AccountFilter {
        identifier: Some(scope.identifier.clone()),
        ..AccountFilter::default()
    };
    let page = PageRequest {
        limit: LIST_LIMIT,
        after: None,
    };
    let accounts = state.store.list_accounts(&filter, page).await?;
    let mut keys: Vec<&str> = connections.iter().map(|c| c.provider.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut tools = Vec::new();
    for provider in keys
        .into_iter()
        .filter(|k| scope.allows_provider(k))
        .filter_map(|k| registry.provider(k))
    {
        let labels: Vec<&str> = accounts
            .iter()
            .filter(|a| a.provider == provider.key)
            .map(|a| a.label.as_str())
            .collect();
        for tool in provider.tools.values() {
            if scope.allows_tool(&provider.key, &tool.name) {
                tools.push(definition(provider, tool, &labels));
            }
        }
    }
    Ok(tools)
}

/// One tool as MCP describes it: the catalog's entry, hints derived from
/// the spec, and an `account` argument when the user has several accounts
/// of the provider.
fn definition(provider: &Provider, tool: &Tool, labels: &[&str]) -> Value {
    let mut entry = catalog::entry(provider, tool, Format::Mcp);
    let method = tool.method.as_http();
    entry["annotations"] = json!({
        "title": entry["title"],
        "readOnlyHint": method == http::Method::GET,
        "destructiveHint": method == http::Method::DELETE,
        "idempotentHint": tool.idempotent,
        "openWorldHint": true,
    });
    let takes_account = tool
        .parameters
        .pointer(&format!("/properties/{ACCOUNT_ARGUMENT}"))
        .is_some();
    if labels.len() > 1
        && !takes_account
        && let Some(properties) = entry
            .pointer_mut("/inputSchema/properties")
            .and_then(Value::as_object_mut)
    {
        properties.insert(
            ACCOUNT_ARGUMENT.into(),
            json!({
                "type": "string",
                "enum": labels,
                "description": format!(
                    "Which of the user's {} accounts to use, by its label (the user has several).",
                    provider.display_name
                ),
            }),
        );
    }
    entry
}

/// Runs a `tools/call`; the MCP result as JSON (errors are results the
/// model reads, with `isError`).
async fn call(state: &SharedState, scope: &McpScope, request: CallToolRequestParams) -> Value {
    let name = request.name.to_string();
    let Some((provider, tool)) = name.split_once(LLM_SEPARATOR) else {
        return error_result(format!(
            "`{name}` is not a tool of this server (tools are named provider__tool)"
        ));
    };
    if !scope.allows_tool(provider, tool) {
        return error_result(format!("`{name}` is not a tool of this server"));
    }
    let mut arguments: Map<String, Value> = request.arguments.unwrap_or_default();
    let takes_account = state
        .specs
        .current()
        .tool(&format!("{provider}.{tool}"))
        .is_some_and(|(_, t)| {
            t.parameters
                .pointer(&format!("/properties/{ACCOUNT_ARGUMENT}"))
                .is_some()
        });
    let label = if takes_account {
        None
    } else {
        arguments
            .remove(ACCOUNT_ARGUMENT)
            .and_then(|v| v.as_str().map(str::to_owned))
    };
    let body = ExecuteRequest {
        identifier: Some(scope.identifier.clone()),
        provider: Some(provider.to_owned()),
        label,
        tool: tool.to_owned(),
        parameters: Some(Value::Object(arguments)),
        ..ExecuteRequest::default()
    };
    match execute::call(state, body).await {
        Ok(called) => {
            let structured = match called.output {
                Value::Object(_) => called.output,
                other => json!({"result": other}),
            };
            json!({
                "content": [{"type": "text", "text": structured.to_string()}],
                "structuredContent": structured,
                "isError": false,
            })
        }
        Err(ApiError(e)) => error_result(explain(provider, &e)),
    }
}

/// What the model should read and do about a failed call. A missing or
/// broken connection comes with the link the user must open.
fn explain(provider: &str, e: &Error) -> String {
    let link = |key: &str| {
        e.details
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(url) = link("connect_url") {
        return format!(
            "The user has not connected their {provider} account yet. Ask them to open this link to connect it, then call the tool again: {url}"
        );
    }
    if e.code == ErrorCode::ReauthorizationRequired
        && let Some(url) = link("auth_url")
    {
        return format!(
            "The user's {provider} account needs to be connected again ({}). Ask them to open this link, then call the tool again: {url}",
            e.message
        );
    }
    let mut text = format!("{}: {}", e.code.as_str(), e.message);
    if let Some(s) = e.retry_after_s {
        text.push_str(&format!(" (retry after {s} s)"));
    }
    if !e.details.is_empty() {
        let details: Map<String, Value> = e
            .details
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        text.push_str(&format!("\ndetails: {}", Value::Object(details)));
    }
    text
}

fn error_result(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}
