//! Webhook endpoints and their outbox of deliveries (see `crate::webhooks`).

use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{ConnectedAccount, Store, StoreError, json_column, json_text, new_id};

/// The account events a webhook can be told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountNotice {
    /// The account became active (OAuth completed, tokens imported,
    /// credentials set).
    Connected,
    /// Its authorization expired and cannot be renewed without the user.
    ReauthorizationRequired,
    /// The provider refused its grant (revoked there, or reused).
    Revoked,
    /// A token refresh failed for a reason that may pass; it stays active.
    RefreshFailed,
}

impl AccountNotice {
    pub const ALL: [AccountNotice; 4] = [
        AccountNotice::Connected,
        AccountNotice::ReauthorizationRequired,
        AccountNotice::Revoked,
        AccountNotice::RefreshFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountNotice::Connected => "account.connected",
            AccountNotice::ReauthorizationRequired => "account.reauthorization_required",
            AccountNotice::Revoked => "account.revoked",
            AccountNotice::RefreshFailed => "account.refresh_failed",
        }
    }

    pub fn parse(name: &str) -> Option<AccountNotice> {
        AccountNotice::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

/// A registered endpoint. The secret is sealed and never returned.
#[derive(Clone)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// One event for one endpoint, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Also the `webhook-id` header: the same on every attempt, so a
    /// receiver can drop a repeat.
    pub id: String,
    pub webhook_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    /// Unix milliseconds.
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<String>,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

impl Delivery {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "webhook_id": self.webhook_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "next_attempt_at": (self.status == "pending")
                .then(|| crate::clock::text_of_ms(self.next_attempt_at))
                .flatten(),
            "last_attempt_at": self.last_attempt_at,
            "last_response_status": self.last_response_status,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
            "payload": serde_json::from_str::<Value>(&self.payload).unwrap_or(Value::Null),
        })
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered {
        status: u16,
    },
    /// Try again at `next_attempt_at` (Unix ms), or give up when `None`.
    Failed {
        status: Option<u16>,
        error: String,
        next_attempt_at: Option<i64>,
    },
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_type, payload, created_at, status, attempts, \
     next_attempt_at, last_attempt_at, last_response_status, last_error, delivered_at";

/// Queues `notice` about `account` for every endpoint that wants it, in
/// the transaction that makes the change.
pub(super) async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    account: &ConnectedAccount,
    notice: AccountNotice,
    reason: Option<&str>,
) -> Result<usize, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM webhooks WHERE event_match LIKE $1")
        .bind(format!("%,{},%", notice.as_str()))
        .fetch_all(&mut **tx)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let now = crate::clock::now();
    let payload = json!({
        "type": notice.as_str(),
        "timestamp": now,
        "data": {
            "connected_account_id": account.id,
            "connection_id": account.connection_id,
            "provider": account.provider,
            "identifier": account.identifier,
            "label": account.label,
            "status": account.status.as_str(),
            "reason": reason,
        },
    })
    .to_string();
    for webhook_id in &ids {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_type, payload, created_at, status, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6)",
        )
        .bind(new_id("msg"))
        .bind(webhook_id)
        .bind(notice.as_str())
        .bind(payload.clone())
        .bind(now.clone())
        .bind(crate::clock::now_ms())
        .execute(&mut **tx)
        .await?;
    }
    Ok(ids.len())
}

impl Store {
    pub async fn insert_webhook(&self, w: &Webhook) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (id, url, events, event_match, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&w.id)
        .bind(&w.url)
        .bind(json_text(&w.events))
        .bind(format!(",{},", w.events.join(",")))
        .bind(&w.secret)
        .bind(&w.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        let row =
            sqlx::query("SELECT id, url, events, secret, created_at FROM webhooks WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| webhook(&r)).transpose()
    }

    pub async fn list_webhooks(
        &self,
        page: super::PageRequest<'_>,
    ) -> Result<Vec<Webhook>, StoreError> {
        let q =
            super::Select::new("SELECT id, url, events, secret, created_at FROM webhooks".into());
        let rows = q.page(page).fetch(&self.pool).await?;
        rows.iter().map(webhook).collect()
    }

    /// Deletes an endpoint and its deliveries. Returns whether it existed.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// An endpoint's deliveries, newest first, after `cursor`.
    pub async fn list_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 {} ORDER BY id DESC LIMIT {limit}",
            if cursor.is_some() { "AND id < $2" } else { "" }
        );
        let mut q = sqlx::query(&sql).bind(webhook_id);
        if let Some(c) = cursor {
            q = q.bind(c);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(delivery).collect()
    }

    /// Claims up to `limit` deliveries that are due, each until
    /// `lease_until` (Unix ms): a claim succeeds for exactly one replica,
    /// and one whose replica died is claimed again once its lease ends.
    /// Returns each with its endpoint.
    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<(Delivery, Webhook)>, StoreError> {
        let candidates: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at LIMIT {limit}"
        ))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for id in candidates {
            let n = sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2 AND status = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(lease_until)
            .bind(&id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if n != 1 {
                continue;
            }
            let row = sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
            ))
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(d) = row.map(|r| delivery(&r)).transpose()? else {
                continue;
            };
            if let Some(w) = self.get_webhook(&d.webhook_id).await? {
                claimed.push((d, w));
            }
        }
        Ok(claimed)
    }

    /// Records an attempt of a claimed delivery and gives its lease back.
    pub async fn record_attempt(&self, id: &str, attempt: &Attempt) -> Result<(), StoreError> {
        let now = crate::clock::now();
        let (status, code, error, next, delivered) = match attempt {
            Attempt::Delivered { status } => (
                "delivered",
                Some(i64::from(*status)),
                None,
                None,
                Some(now.clone()),
            ),
            Attempt::Failed {
                status,
                error,
                next_attempt_at,
            } => (
                if next_attempt_at.is_some() {
                    "pending"
                } else {
                    "failed"
                },
                status.map(i64::from),
                Some(error.clone()),
                *next_attempt_at,
                None,
            ),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_attempt_at = $2, \
             last_response_status = $3, last_error = $4, next_attempt_at = COALESCE($5, next_attempt_at), \
             delivered_at = $6, lease_until = NULL WHERE id = $7",
        )
        .bind(status)
        .bind(now)
        .bind(code)
        .bind(error)
        .bind(next)
        .bind(delivered)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many deliveries wait in the outbox.
    pub async fn pending_deliveries(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Deletes finished deliveries made before `before` (RFC 3339).
    pub async fn purge_deliveries(&self, before: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

fn webhook(row: &AnyRow) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        events: json_column(row, "events")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery(row: &AnyRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_type: row.try_get("event_type")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        last_response_status: row.try_get("last_response_status")?,
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}
