//! The stored records and their mapping from rows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StoreError, enum_column, json_column};

/// An app's registration with one provider (its OAuth client, its settings).
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub id: String,
    pub provider: String,
    pub auth_type: String,
    pub scopes: Vec<String>,
    pub config: Map<String, Value>,
    pub managed: bool,
    /// Sealed connection credentials (OAuth client id and secret, …).
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One end user's authorised link to one provider through a connection.
#[derive(Clone, PartialEq)]
pub struct ConnectedAccount {
    pub id: String,
    pub connection_id: String,
    pub provider: String,
    pub identifier: String,
    pub identifier_type: IdentifierType,
    pub label: String,
    /// Who the account is at the provider (a name or email), when known.
    pub display_name: Option<String>,
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    pub status_changed_at: String,
    pub scopes: Vec<String>,
    pub metadata: Map<String, Value>,
    /// Values discovered after authorization (`account.config`).
    pub config: Map<String, Value>,
    /// Sealed credentials.
    pub credentials: Option<String>,
    /// When the access token expires, in Unix milliseconds.
    pub credentials_expires_at: Option<i64>,
    /// When the credentials were stored (Unix ms).
    pub credentials_issued_at: Option<i64>,
    /// The API origin they were issued for (`https://gitlab.com`).
    pub credentials_origin: Option<String>,
    pub last_used_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

// Secrets stay sealed, and sealed values still stay out of debug output.
impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("has_secret", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ConnectedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedAccount")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("status", &self.status)
            .field("has_credentials", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Pending,
    Active,
    Expired,
    Revoked,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Expired => "expired",
            AccountStatus::Revoked => "revoked",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<AccountStatus, ()> {
        match s {
            "pending" => Ok(AccountStatus::Pending),
            "active" => Ok(AccountStatus::Active),
            "expired" => Ok(AccountStatus::Expired),
            "revoked" => Ok(AccountStatus::Revoked),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierType {
    #[default]
    UserId,
    OrgId,
}

impl IdentifierType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierType::UserId => "user_id",
            IdentifierType::OrgId => "org_id",
        }
    }
}

impl FromStr for IdentifierType {
    type Err = ();

    fn from_str(s: &str) -> Result<IdentifierType, ()> {
        match s {
            "user_id" => Ok(IdentifierType::UserId),
            "org_id" => Ok(IdentifierType::OrgId),
            _ => Err(()),
        }
    }
}

/// A connection from a row whose connection columns carry `prefix`.
pub(super) fn connection(row: &AnyRow, prefix: &str) -> Result<Connection, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(Connection {
        id: row.try_get(col("id").as_str())?,
        provider: row.try_get(col("provider").as_str())?,
        auth_type: row.try_get(col("auth_type").as_str())?,
        scopes: json_column(row, &col("scopes"))?,
        config: json_column(row, &col("config"))?,
        managed: row.try_get::<i64, _>(col("managed").as_str())? != 0,
        secret: row.try_get(col("secret").as_str())?,
        created_at: row.try_get(col("created_at").as_str())?,
        updated_at: row.try_get(col("updated_at").as_str())?,
    })
}

pub(super) fn account(row: &AnyRow) -> Result<ConnectedAccount, StoreError> {
    Ok(ConnectedAccount {
        id: row.try_get("id")?,
        connection_id: row.try_get("connection_id")?,
        provider: row.try_get("provider")?,
        identifier: row.try_get("identifier")?,
        identifier_type: enum_column(row, "identifier_type")?,
        label: row.try_get("label")?,
        display_name: row.try_get("display_name")?,
        status: enum_column(row, "status")?,
        status_reason: row.try_get("status_reason")?,
        status_changed_at: row.try_get("status_changed_at")?,
        scopes: json_column(row, "scopes")?,
        metadata: json_column(row, "metadata")?,
        config: json_column(row, "config")?,
        credentials: row.try_get("credentials")?,
        credentials_expires_at: row.try_get("credentials_expires_at")?,
        credentials_issued_at: row.try_get("credentials_issued_at")?,
        credentials_origin: row.try_get("credentials_origin")?,
        last_used_at: row.try_get("last_used_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[cfg(test)]
impl ConnectedAccount {
    /// An active account `id` of connection `conn_1`, for unit tests.
    pub(crate) fn sample(id: &str) -> ConnectedAccount {
        ConnectedAccount {
            id: id.into(),
            connection_id: "conn_1".into(),
            provider: "acme".into(),
            identifier: "u".into(),
            identifier_type: IdentifierType::UserId,
            label: "default".into(),
            display_name: None,
            status: AccountStatus::Active,
            status_reason: None,
            status_changed_at: String::new(),
            scopes: Vec::new(),
            metadata: Default::default(),
            config: Default::default(),
            credentials: None,
            credentials_expires_at: None,
            credentials_issued_at: None,
            credentials_origin: None,
            last_used_at: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }
}

#[cfg(test)]
impl Connection {
    /// An api_key connection `conn_1`, for unit tests.
    pub(crate) fn sample() -> Connection {
        Connection {
            id: "conn_1".into(),
            provider: "acme".into(),
            auth_type: "api_key".into(),
            scopes: Vec::new(),
            config: Default::default(),
            managed: false,
            secret: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }
}
