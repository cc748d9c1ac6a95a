//! `/v1/connections`: an app's registration with one provider.
//!
//! A connection's config is checked against the provider's declared
//! `connection_config` when it is written, so a misspelt setting is refused
//! at once (with a suggestion) instead of failing a user's first call.
//! Credentials are sealed before they are stored and never returned.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::envelope::{ApiResult, Json, Path, Query, invalid, not_found};
use super::lists::{page, page_request};
use super::{SharedState, new_id, now};
use crate::registry::Provider;
use crate::spec::{AuthType, suggestion};
use crate::store::{Connection, ConnectionPatch};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    provider: String,
    #[serde(default)]
    auth_type: Option<String>,
    #[serde(default)]
    credentials: Option<Map<String, Value>>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    config: Option<Map<String, Value>>,
    #[serde(default)]
    managed: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    #[serde(default)]
    credentials: Option<Map<String, Value>>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    config: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConnections {
    provider: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn create(
    State(state): State<SharedState>,
    Json(body): Json<CreateConnection>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let registry = state.specs.current();
    let provider = registry.provider(&body.provider).ok_or_else(|| {
        unknown_provider(&body.provider, registry.providers().map(|p| p.key.as_str()))
    })?;
    let kind = match &body.auth_type {
        None => provider.auth().kind,
        Some(requested) => match provider.auth_for(requested) {
            Some(auth) => auth.kind,
            None => {
                let offered = provider.auth_types();
                return Err(invalid(format!(
                    "provider `{}` offers auth_type {}, not `{requested}`{}",
                    provider.key,
                    offered
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    suggestion(requested, offered.iter().copied())
                )));
            }
        },
    };
    let managed = body.managed.unwrap_or(false);
    if managed && !kind.is_oauth() {
        return Err(invalid("`managed` applies only to OAuth 2.0 providers"));
    }
    if managed && !state.config.managed_oauth_apps.contains_key(&provider.key) {
        return Err(invalid(format!(
            "no managed OAuth app is configured for `{}`; give credentials {{client_id, client_secret}} instead",
            provider.key
        )));
    }
    let credentials = body.credentials.unwrap_or_default();
    check_credentials(kind, managed, &credentials)?;
    let config = check_config(provider, body.config.unwrap_or_default())?;
    let now = now();
    let id = new_id("conn");
    let connection = Connection {
        secret: seal(&state, &id, &credentials),
        id,
        provider: provider.key.clone(),
        auth_type: kind.as_str().to_owned(),
        scopes: check_scopes(body.scopes.unwrap_or_default())?,
        config,
        managed,
        created_at: now.clone(),
        updated_at: now,
    };
    state.store.insert_connection(&connection).await?;
    Ok((StatusCode::CREATED, axum::Json(to_json(&connection))))
}

pub async fn list(
    State(state): State<SharedState>,
    Query(q): Query<ListConnections>,
) -> ApiResult<axum::Json<Value>> {
    let (request, limit) = page_request(q.limit, q.cursor.as_deref())?;
    let rows = state
        .store
        .list_connections(q.provider.as_deref(), request)
        .await?;
    Ok(axum::Json(page(rows, limit, |c| &c.id, to_json)))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let connection = state
        .store
        .get_connection(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(axum::Json(to_json(&connection)))
}

pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Json(body): Json<UpdateConnection>,
) -> ApiResult<axum::Json<Value>> {
    let current = state
        .store
        .get_connection(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let registry = state.specs.current();
    let mut patch = ConnectionPatch::default();
    if let Some(config) = body.config {
        let provider = registry
            .provider(&current.provider)
            .ok_or_else(|| not_found(format!("provider `{}` is not loaded", current.provider)))?;
        patch.config = Some(check_config(provider, config)?);
    }
    if let Some(scopes) = body.scopes {
        patch.scopes = Some(check_scopes(scopes)?);
    }
    if let Some(credentials) = body.credentials {
        let kind = AuthType::from_name(&current.auth_type)
            .ok_or_else(|| invalid("the connection's auth type is unknown"))?;
        check_credentials(kind, current.managed, &credentials)?;
        patch.secret = Some(seal(&state, &current.id, &credentials));
    }
    let updated = state
        .store
        .update_connection(&id, &patch, &now())
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(axum::Json(to_json(&updated)))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let connection = state
        .store
        .get_connection(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    // Its accounts' grants are revoked at the provider first (best effort),
    // as deleting one account does, so no live grant is left behind.
    let revoked = revoke_accounts(&state, &connection).await?;
    let accounts = state
        .store
        .delete_connection(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(axum::Json(json!({
        "id": id,
        "deleted": true,
        "connected_accounts_deleted": accounts,
        "revoked_at_provider": revoked,
    })))
}

/// Revokes the tokens of every account of `connection` that has any; how
/// many the provider accepted.
async fn revoke_accounts(state: &SharedState, connection: &Connection) -> ApiResult<u64> {
    let registry = state.specs.current();
    let Some(provider) = registry.provider(&connection.provider) else {
        return Ok(0);
    };
    let env = state.auth.env(provider);
    let filter = crate::store::AccountFilter {
        connection_id: Some(connection.id.clone()),
        ..Default::default()
    };
    let mut revoked = 0;
    let mut after: Option<String> = None;
    loop {
        let page = crate::store::PageRequest {
            limit: 200,
            after: after.as_deref(),
        };
        let accounts = state.store.list_accounts(&filter, page).await?;
        for account in accounts.iter().filter(|a| a.credentials.is_some()) {
            if crate::auth::flow::revoke(&env, provider, connection, account).await {
                revoked += 1;
            }
        }
        match accounts.last() {
            Some(last) if accounts.len() == 200 => after = Some(last.id.clone()),
            _ => return Ok(revoked),
        }
    }
}

/// A connection as the API shows it: never its credentials.
pub fn to_json(c: &Connection) -> Value {
    json!({
        "id": c.id,
        "provider": c.provider,
        "auth_type": c.auth_type,
        "scopes": c.scopes,
        "config": c.config,
        "managed": c.managed,
        "has_credentials": c.secret.is_some(),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

fn missing(id: &str) -> super::envelope::ApiError {
    not_found(format!("no connection `{id}`"))
}

/// `not_found` for a provider key, with a suggestion when one is close.
pub fn unknown_provider<'a>(
    key: &str,
    known: impl Iterator<Item = &'a str>,
) -> super::envelope::ApiError {
    not_found(format!(
        "provider `{key}` is not loaded{}",
        suggestion(key, known)
    ))
}

fn seal(state: &SharedState, id: &str, credentials: &Map<String, Value>) -> Option<String> {
    (!credentials.is_empty()).then(|| {
        state.vault.seal(
            crate::vault::Place::connection_secret(id),
            Value::Object(credentials.clone()).to_string().as_bytes(),
        )
    })
}

/// OAuth connections need the app's client id and secret unless managed.
fn check_credentials(
    kind: AuthType,
    managed: bool,
    credentials: &Map<String, Value>,
) -> ApiResult<()> {
    if !kind.is_oauth() && !credentials.is_empty() {
        return Err(invalid(format!(
            "`{}` providers take credentials per connected account (POST /v1/connected-accounts/{{id}}/credentials), not per connection",
            kind.as_str()
        )));
    }
    if let Some(extra) = credentials
        .keys()
        .find(|k| *k != "client_id" && *k != "client_secret")
    {
        return Err(invalid(format!(
            "`{extra}` is not a connection credential (client_id, client_secret){}",
            suggestion(extra, ["client_id", "client_secret"])
        )));
    }
    if !credentials
        .values()
        .all(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    {
        return Err(invalid("credential values must be non-empty strings"));
    }
    if kind.is_oauth() && !managed {
        for field in ["client_id", "client_secret"] {
            if !credentials.contains_key(field) {
                return Err(invalid(format!(
                    "an OAuth 2.0 connection needs credentials.{field} (or `managed: true`)"
                )));
            }
        }
    }
    Ok(())
}

fn check_scopes(scopes: Vec<String>) -> ApiResult<Vec<String>> {
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return Err(invalid(
            "each scope must be a non-empty string without spaces",
        ));
    }
    Ok(scopes)
}

/// Checks a connection's config against the provider's declared settings and
/// fills in defaults.
fn check_config(
    provider: &Provider,
    mut config: Map<String, Value>,
) -> ApiResult<Map<String, Value>> {
    let declared = &provider.connection_config;
    for (name, value) in &config {
        let Some(_) = declared.get(name) else {
            let settings: Vec<&str> = declared.keys().map(String::as_str).collect();
            return Err(invalid(format!(
                "`{name}` is not a config setting of provider `{}` (settings: {}){}",
                provider.key,
                if settings.is_empty() {
                    "none".to_owned()
                } else {
                    settings.join(", ")
                },
                suggestion(name, settings.iter().copied())
            )));
        };
        let Some(text) = value.as_str() else {
            return Err(invalid(format!("config `{name}` must be a string")));
        };
        if let Some(pattern) = provider.connection_patterns.get(name)
            && !pattern.is_valid(value)
        {
            let shape = declared[name].pattern.as_deref().unwrap_or_default();
            return Err(invalid(format!(
                "config `{name}` value `{text}` does not match `{shape}`"
            )));
        }
    }
    for (name, field) in declared {
        if config.contains_key(name) {
            continue;
        }
        match &field.default {
            Some(default) => {
                config.insert(name.clone(), json!(default));
            }
            None if field.required => {
                return Err(invalid(format!(
                    "provider `{}` needs config `{name}`{}",
                    provider.key,
                    field
                        .description
                        .as_ref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                )));
            }
            None => {}
        }
    }
    Ok(config)
}
