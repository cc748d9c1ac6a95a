//! `/v1/connected-accounts`: one end user's link to one provider.
//!
//! (connection, identifier, label) is unique, so one user can hold several
//! accounts of one provider ("work" and "personal"). Credentials set here are
//! sealed at once; responses only say whether an account has them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, ApiResult, Json, Path, Query, invalid, not_found};
use super::lists::{page, page_request};
use super::{AppState, SharedState, new_id, now};
use crate::auth::identity::{self, Identity};
use crate::error::{Error, ErrorCode};
use crate::spec::{AuthType, suggestion};
use crate::store::{
    AccountFilter, AccountPatch, AccountStatus, ConnectedAccount, Connection, IdentifierType,
    PageRequest,
};

const MAX_IDENTIFIER: usize = 256;
pub(super) const MAX_LABEL: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    connection_id: String,
    identifier: String,
    #[serde(default)]
    identifier_type: Option<IdentifierType>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    /// Account values the spec declares (`auth.account_config`), merged into
    /// the discovered ones: an app picks another Jira site, say.
    #[serde(default)]
    config: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAccounts {
    identifier: Option<String>,
    provider: Option<String>,
    status: Option<AccountStatus>,
    connection_id: Option<String>,
    label: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn create(
    State(state): State<SharedState>,
    Json(body): Json<CreateAccount>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let connection = state
        .store
        .get_connection(&body.connection_id)
        .await?
        .ok_or_else(|| not_found(format!("no connection `{}`", body.connection_id)))?;
    check_text("identifier", &body.identifier, MAX_IDENTIFIER)?;
    let label = body.label.unwrap_or_else(|| "default".into());
    check_text("label", &label, MAX_LABEL)?;
    // Accounts of providers whose calls need no user authorization are
    // usable at once.
    let account = new_account(
        &connection,
        body.identifier,
        label,
        body.identifier_type.unwrap_or_default(),
        body.metadata.unwrap_or_default(),
    );
    if let Err(e) = state.store.insert_account(&account).await {
        return Err(duplicate_or(&state, &account, e).await);
    }
    Ok((StatusCode::CREATED, axum::Json(to_json(&account))))
}

/// A `conflict` naming the account that holds the same (connection,
/// identifier, label), or the original error.
async fn duplicate_or(
    state: &SharedState,
    account: &ConnectedAccount,
    e: crate::store::StoreError,
) -> ApiError {
    if !matches!(e, crate::store::StoreError::Duplicate(_)) {
        return e.into();
    }
    let filter = AccountFilter {
        identifier: Some(account.identifier.clone()),
        connection_id: Some(account.connection_id.clone()),
        label: Some(account.label.clone()),
        ..AccountFilter::default()
    };
    let existing = state
        .store
        .list_accounts(
            &filter,
            PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await
        .ok()
        .and_then(|mut rows| rows.pop());
    let mut err = Error::new(
        ErrorCode::Conflict,
        format!(
            "`{}` already has an account labelled `{}` on this connection; choose another label",
            account.identifier, account.label
        ),
    );
    if let Some(existing) = existing {
        err = err.with_detail("existing_id", existing.id);
    }
    ApiError(err)
}

pub async fn list(
    State(state): State<SharedState>,
    Query(q): Query<ListAccounts>,
) -> ApiResult<axum::Json<Value>> {
    let (request, limit) = page_request(q.limit, q.cursor.as_deref())?;
    let filter = AccountFilter {
        identifier: q.identifier,
        provider: q.provider,
        status: q.status,
        connection_id: q.connection_id,
        label: q.label,
    };
    let rows = state.store.list_accounts(&filter, request).await?;
    Ok(axum::Json(page(rows, limit, |a| &a.id, to_json)))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let account = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(axum::Json(to_json(&account)))
}

pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Json(body): Json<UpdateAccount>,
) -> ApiResult<axum::Json<Value>> {
    if let Some(label) = &body.label {
        check_text("label", label, MAX_LABEL)?;
    }
    let before = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let config = match body.config {
        None => None,
        Some(values) => Some(merged_config(&state, &before, values)?),
    };
    let patch = AccountPatch {
        label: body.label,
        metadata: body.metadata,
        config,
    };
    match state.store.update_account(&id, &patch, &now()).await {
        Ok(Some(a)) => Ok(axum::Json(to_json(&a))),
        Ok(None) => Err(missing(&id)),
        Err(e) => {
            let mut wanted = before;
            if let Some(label) = patch.label {
                wanted.label = label;
            }
            Err(duplicate_or(&state, &wanted, e).await)
        }
    }
}

/// The account's config with `values` set; each must be declared in the
/// provider's `account_config` (of any auth method). `null` removes a value.
fn merged_config(
    state: &SharedState,
    account: &ConnectedAccount,
    values: Map<String, Value>,
) -> ApiResult<Map<String, Value>> {
    let registry = state.specs.current();
    let provider = registry
        .provider(&account.provider)
        .ok_or_else(|| not_found(format!("provider `{}` is not loaded", account.provider)))?;
    let declared: Vec<&str> = provider
        .auths
        .iter()
        .flat_map(|a| a.account_config.keys().map(String::as_str))
        .collect();
    let mut config = account.config.clone();
    for (name, value) in values {
        if !declared.contains(&name.as_str()) {
            return Err(invalid(format!(
                "`{name}` is not an account value of provider `{}` (values: {}){}",
                provider.key,
                if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                },
                suggestion(&name, declared.iter().copied())
            )));
        }
        if value.is_null() {
            config.remove(&name);
        } else {
            config.insert(name, value);
        }
    }
    Ok(config)
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let (account, connection) = state
        .store
        .get_account_with_connection(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let revoked = remove(&state, &account, &connection)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(axum::Json(
        json!({"id": id, "deleted": true, "revoked_at_provider": revoked}),
    ))
}

/// Deletes `account`, its grant revoked at the provider first (best effort)
/// so a deleted account leaves no live grant behind; every stored secret
/// goes with the row. Whether the provider confirmed the revocation, or
/// `None` when the account was gone already.
pub(super) async fn remove(
    state: &AppState,
    account: &ConnectedAccount,
    connection: &Connection,
) -> Result<Option<bool>, crate::store::StoreError> {
    let registry = state.specs.current();
    let revoked = match registry.provider(&account.provider) {
        Some(provider) if account.credentials.is_some() => {
            let env = state.auth.env(provider);
            crate::auth::flow::revoke(&env, provider, connection, account).await
        }
        _ => false,
    };
    Ok(state
        .store
        .delete_account(&account.id)
        .await?
        .then_some(revoked))
}

/// `POST /v1/connected-accounts/{id}/credentials` for api_key, bearer and
/// basic providers: the body is the credentials object, keyed as the spec's
/// `credential_fields`.
pub async fn set_credentials(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<axum::Json<Value>> {
    let account = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let registry = state.specs.current();
    let provider = registry
        .provider(&account.provider)
        .ok_or_else(|| not_found(format!("provider `{}` is not loaded", account.provider)))?;
    let connection = state
        .store
        .get_connection(&account.connection_id)
        .await?
        .ok_or_else(|| missing(&id))?;
    let auth = crate::auth::method(provider, &connection)?;
    if auth.kind == AuthType::Oauth2 {
        // Tokens brought from another system: the account is authorized as
        // if by the flow, and refreshes as usual.
        let tokens: crate::auth::flow::ImportedTokens =
            serde_json::from_value(Value::Object(body)).map_err(|e| {
                invalid(format!(
                    "an OAuth 2.0 account takes imported tokens {{access_token, refresh_token?, expires_at?, scopes?}}: {e}"
                ))
            })?;
        let env = state.auth.env(provider);
        let account =
            crate::auth::flow::import(&env, provider, &connection, &account, tokens).await?;
        return Ok(axum::Json(to_json(&account)));
    }
    check_credentials(provider, auth, &body)?;
    let identity = look_up(&state, provider, auth, &connection, &account.config, &body).await;
    let account = store_credentials(
        &state,
        provider,
        auth,
        &connection,
        account,
        body,
        &identity,
    )
    .await?;
    Ok(axum::Json(to_json(&account)))
}

/// Asks the provider who typed credentials belong to (the spec's
/// `account_name`); `Refused` when it does not accept them.
pub(super) async fn look_up(
    state: &AppState,
    provider: &crate::registry::Provider,
    auth: &crate::registry::Auth,
    connection: &Connection,
    account_config: &Map<String, Value>,
    credentials: &Map<String, Value>,
) -> Identity {
    let subject = identity::Subject {
        provider,
        auth,
        connection,
        account_config,
        credentials,
    };
    identity::look_up(&state.upstream, &subject, &Value::Null).await
}

/// Seals and stores checked api_key / bearer / basic credentials of
/// `account`, which becomes active, with the name `identity` gives it.
pub(super) async fn store_credentials(
    state: &AppState,
    provider: &crate::registry::Provider,
    auth: &crate::registry::Auth,
    connection: &Connection,
    account: ConnectedAccount,
    credentials: Map<String, Value>,
    identity: &Identity,
) -> ApiResult<ConnectedAccount> {
    let origin = crate::engine::api_origin(provider, auth, &connection.config, &account.config);
    let sealed = state.vault.seal(
        crate::vault::Place::account_credentials(&account.id),
        Value::Object(credentials).to_string().as_bytes(),
    );
    let mut account = state
        .store
        .set_credentials(
            &account.id,
            &sealed,
            origin.as_deref(),
            AccountStatus::Active,
            &now(),
        )
        .await?
        .ok_or_else(|| missing(&account.id))?;
    identity::save(&state.store, &mut account, identity).await;
    Ok(account)
}

/// Checks credentials for an account of `provider`: the provider takes
/// credentials directly, every value is a declared, non-empty string, and
/// none is missing.
pub(super) fn check_credentials(
    provider: &crate::registry::Provider,
    auth: &crate::registry::Auth,
    body: &Map<String, Value>,
) -> ApiResult<()> {
    let kind = auth.kind;
    if kind == AuthType::None {
        return Err(invalid(format!(
            "provider `{}` needs no credentials; its accounts are active as soon as they are created",
            provider.key
        )));
    }
    let refusal = match kind {
        AuthType::Oauth2 => Some("its accounts are connected through authorization"),
        AuthType::Oauth2ClientCredentials => {
            Some("its accounts use the connection's client credentials and hold none of their own")
        }
        _ => None,
    };
    if let Some(why) = refusal {
        return Err(invalid(format!(
            "provider `{}` uses `{}`; {why}",
            provider.key,
            kind.as_str()
        )));
    }
    let fields = &auth.credential_fields;
    for (name, value) in body {
        if !fields.contains_key(name) {
            let names: Vec<&str> = fields.keys().map(String::as_str).collect();
            return Err(invalid(format!(
                "`{name}` is not a credential of provider `{}` (credentials: {}){}",
                provider.key,
                names.join(", "),
                suggestion(name, names.iter().copied())
            )));
        }
        if value.as_str().is_none_or(str::is_empty) {
            return Err(invalid(format!(
                "credential `{name}` must be a non-empty string"
            )));
        }
    }
    if let Some(name) = fields.keys().find(|f| !body.contains_key(*f)) {
        return Err(invalid(format!(
            "credential `{name}` is required by provider `{}`",
            provider.key
        )));
    }
    Ok(())
}

/// A new account of `connection`: `pending`, or `active` at once for
/// providers whose calls need no user authorization.
pub(super) fn new_account(
    connection: &crate::store::Connection,
    identifier: String,
    label: String,
    identifier_type: IdentifierType,
    metadata: Map<String, Value>,
) -> ConnectedAccount {
    let needs_auth = !matches!(
        AuthType::from_name(&connection.auth_type),
        Some(AuthType::None | AuthType::Oauth2ClientCredentials)
    );
    let status = if needs_auth {
        AccountStatus::Pending
    } else {
        AccountStatus::Active
    };
    let now = now();
    ConnectedAccount {
        id: new_id("ca"),
        connection_id: connection.id.clone(),
        provider: connection.provider.clone(),
        identifier,
        identifier_type,
        label,
        display_name: None,
        status,
        status_reason: None,
        status_changed_at: now.clone(),
        scopes: Vec::new(),
        metadata,
        config: Map::new(),
        credentials: None,
        credentials_expires_at: None,
        credentials_issued_at: None,
        credentials_origin: None,
        last_used_at: None,
        created_at: now.clone(),
        updated_at: now,
    }
}

/// An account as the API shows it: never its credentials.
pub fn to_json(a: &ConnectedAccount) -> Value {
    json!({
        "id": a.id,
        "connection_id": a.connection_id,
        "provider": a.provider,
        "identifier": a.identifier,
        "identifier_type": a.identifier_type,
        "label": a.label,
        "display_name": a.display_name,
        "status": a.status,
        "status_reason": a.status_reason,
        "status_changed_at": a.status_changed_at,
        "scopes": a.scopes,
        "metadata": a.metadata,
        "config": a.config,
        "has_credentials": a.credentials.is_some(),
        "last_used_at": a.last_used_at,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    })
}

fn missing(id: &str) -> ApiError {
    not_found(format!("no connected account `{id}`"))
}

pub(super) fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(invalid(format!("`{field}` must not be empty")));
    }
    if value.chars().count() > max {
        return Err(invalid(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(())
}
