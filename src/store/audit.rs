//! The audit trail's rows (see `crate::audit`).

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::{Store, StoreError};
use crate::audit::Event;

const COLUMNS: &str = "id, at, action, actor, request_id, connected_account_id, connection_id, \
     identifier, provider, tool, outcome, upstream_status, duration_ms, reason";
const WIDTH: usize = 14;
/// Most rows in one INSERT (a power of two; 3,584 parameters).
const MAX_ROWS: usize = 256;

/// Filters of `GET /v1/audit-logs`; every one given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub connected_account_id: Option<String>,
    pub connection_id: Option<String>,
    pub identifier: Option<String>,
    pub provider: Option<String>,
    pub action: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
}

/// Which way a listing walks: newest first (pages) or oldest first (export).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// Writes a batch of events in one transaction, in statements of
/// power-of-two row counts (173 events: 128 + 32 + 8 + 4 + 1 rows). Each
/// statement text is then one of a few, prepared once on the writer's
/// connection and kept by sqlx's statement cache: preparing a new multi-row
/// text for every batch was half of what an event cost the gateway.
pub async fn insert_audit_events(
    pool: &AnyPool,
    backend: super::Backend,
    events: &[Event],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let mut rest = events;
    while !rest.is_empty() {
        let rows = (1 << rest.len().ilog2()).min(MAX_ROWS);
        let (chunk, after) = rest.split_at(rows);
        let mut q = sqlx::query(insert_sql(backend, rows));
        for e in chunk {
            q = q
                .bind(e.id.as_str())
                .bind(e.at.as_str())
                .bind(e.action.as_str())
                .bind(e.actor.as_str())
                .bind(e.request_id.as_deref())
                .bind(e.connected_account_id.as_deref())
                .bind(e.connection_id.as_deref())
                .bind(e.identifier.as_deref())
                .bind(e.provider.as_deref())
                .bind(e.tool.as_deref())
                .bind(e.outcome.as_deref())
                .bind(e.upstream_status)
                .bind(e.duration_ms)
                .bind(e.reason.as_deref());
        }
        q.execute(&mut *tx).await?;
        rest = after;
    }
    tx.commit().await
}

/// The INSERT of `rows` events (a power of two up to [`MAX_ROWS`]), built
/// once for each backend and row count: building the text for every
/// statement, and hashing it to find the prepared statement, cost 2–3 % of
/// a call (counted in instructions).
fn insert_sql(backend: super::Backend, rows: usize) -> &'static str {
    static TEXTS: std::sync::OnceLock<[Vec<String>; 2]> = std::sync::OnceLock::new();
    let [sqlite, postgres] = TEXTS.get_or_init(|| {
        let sizes = |backend| {
            (0..=MAX_ROWS.ilog2())
                .map(|n| build_insert_sql(backend, 1 << n))
                .collect()
        };
        [
            sizes(super::Backend::Sqlite),
            sizes(super::Backend::Postgres),
        ]
    });
    let texts = match backend {
        super::Backend::Sqlite => sqlite,
        super::Backend::Postgres => postgres,
    };
    &texts[rows.ilog2() as usize]
}

/// The INSERT of `rows` events. SQLite looks a `$N` parameter up by name,
/// one by one, when it prepares a statement; its plain `?` are numbered in
/// order.
fn build_insert_sql(backend: super::Backend, rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = format!("INSERT INTO audit_events ({COLUMNS}) VALUES ");
    for n in 1..=rows * WIDTH {
        let open = if n % WIDTH == 1 { "(" } else { "" };
        let _ = match backend {
            super::Backend::Sqlite => write!(sql, "{open}?"),
            super::Backend::Postgres => write!(sql, "{open}${n}"),
        };
        sql.push_str(match (n % WIDTH, n == rows * WIDTH) {
            (0, true) => ")",
            (0, false) => "), ",
            _ => ", ",
        });
    }
    sql
}

impl Store {
    /// Events matching `filter`, `limit` of them, after the event `cursor`
    /// in `order`.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        order: Order,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Vec<Event>, StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut args: Vec<String> = Vec::new();
        let mut condition = |column: &str, op: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(v);
                conditions.push(format!("{column} {op} ${}", args.len()));
            }
        };
        condition(
            "connected_account_id",
            "=",
            filter.connected_account_id.clone(),
        );
        condition("connection_id", "=", filter.connection_id.clone());
        condition("identifier", "=", filter.identifier.clone());
        condition("provider", "=", filter.provider.clone());
        condition("action", "=", filter.action.clone());
        // Ids begin with their time, so a time range is a range of ids
        // (the primary key's index; no index of its own to pay per event).
        condition("id", ">=", filter.since_ms.map(first_id_at));
        condition("id", "<", filter.until_ms.map(first_id_at));
        let after = match order {
            Order::NewestFirst => "<",
            Order::OldestFirst => ">",
        };
        condition("id", after, cursor.map(str::to_owned));
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let direction = match order {
            Order::NewestFirst => "DESC",
            Order::OldestFirst => "ASC",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events{filter_sql} ORDER BY id {direction} LIMIT {limit}"
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(event).collect()
    }

    /// Deletes events older than `before_ms`; returns how many.
    pub async fn purge_audit_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM audit_events WHERE id < $1")
            .bind(first_id_at(before_ms))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

/// When event `id` happened, as stored and shown (the inverse of
/// [`first_id_at`], to the millisecond).
pub fn audit_time(id: &str) -> Option<String> {
    let ulid = ulid::Ulid::from_string(&id.strip_prefix("evt_")?.to_ascii_uppercase()).ok()?;
    crate::clock::text_of_ms(i64::try_from(ulid.timestamp_ms()).ok()?)
}

/// The smallest event id made at `ms` (Unix milliseconds): ids are `evt_`
/// and a lower-case ULID, whose first characters are its time.
fn first_id_at(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    format!(
        "evt_{}",
        ulid::Ulid::from_parts(ms, 0).to_string().to_lowercase()
    )
}

fn event(row: &AnyRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        action: row.try_get("action")?,
        actor: row.try_get("actor")?,
        request_id: row.try_get("request_id")?,
        connected_account_id: row.try_get("connected_account_id")?,
        connection_id: row.try_get("connection_id")?,
        identifier: row.try_get("identifier")?,
        provider: row.try_get("provider")?,
        tool: row.try_get("tool")?,
        outcome: row.try_get("outcome")?,
        upstream_status: row.try_get("upstream_status")?,
        duration_ms: row.try_get("duration_ms")?,
        reason: row.try_get("reason")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_tells_its_time() {
        let ms = 1_764_147_600_123;
        let id = first_id_at(ms);
        assert_eq!(audit_time(&id), crate::clock::text_of_ms(ms));
        assert_eq!(
            audit_time(&crate::store::new_id("evt")).map(|t| t.len()),
            Some(24)
        );
        assert_eq!(audit_time("conn_01"), None);
    }

    #[test]
    fn insert_statements_have_a_placeholder_per_column_and_row() {
        let sqlite = build_insert_sql(crate::store::Backend::Sqlite, 2);
        let values = sqlite.split(" VALUES ").nth(1).unwrap();
        let row = format!("({})", vec!["?"; WIDTH].join(", "));
        assert_eq!(values, format!("{row}, {row}"));
        let postgres = insert_sql(crate::store::Backend::Postgres, 2);
        assert_eq!(
            postgres,
            build_insert_sql(crate::store::Backend::Postgres, 2)
        );
        assert!(postgres.contains("VALUES ($1, $2, "), "{postgres}");
        assert!(postgres.contains("$14), ($15, "), "{postgres}");
        assert!(postgres.ends_with("$28)"), "{postgres}");
    }
}
