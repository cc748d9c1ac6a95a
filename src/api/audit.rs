//! `/v1/audit-logs`: the audit trail, newest first, and its export as JSON
//! lines, oldest first.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::SharedState;
use super::envelope::{ApiResult, Query, invalid};
use super::lists::{page, page_request};
use crate::store::{AuditFilter, Order};

/// Events fetched per statement while exporting.
const EXPORT_BATCH: u32 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    connected_account_id: Option<String>,
    connection_id: Option<String>,
    identifier: Option<String>,
    provider: Option<String>,
    action: Option<String>,
    /// RFC 3339, inclusive.
    since: Option<String>,
    /// RFC 3339, exclusive.
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        Ok(AuditFilter {
            connected_account_id: self.connected_account_id.clone(),
            connection_id: self.connection_id.clone(),
            identifier: self.identifier.clone(),
            provider: self.provider.clone(),
            action: self.action.clone(),
            since_ms: time_ms("since", self.since.as_deref())?,
            until_ms: time_ms("until", self.until.as_deref())?,
        })
    }
}

fn time_ms(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            invalid(format!(
                "{name} must be an RFC 3339 time such as 2026-11-26T09:00:00Z"
            ))
        })?;
    Ok(Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// `GET /v1/audit-logs`: one page, newest first.
pub async fn list(
    State(state): State<SharedState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<Value>> {
    let filter = q.filter()?;
    let (request, limit) = page_request(q.limit, q.cursor.as_deref())?;
    let events = state
        .store
        .audit_events(&filter, Order::NewestFirst, request.limit, request.after)
        .await?;
    Ok(axum::Json(page(events, limit, |e| &e.id, |e| json!(e))))
}

/// `GET /v1/audit-logs/export`: every matching event as JSON lines, oldest
/// first, read from the store in batches while the answer streams.
pub async fn export(
    State(state): State<SharedState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    if q.limit.is_some() || q.cursor.is_some() {
        return Err(invalid(
            "the export takes the filters only: it has no limit or cursor",
        ));
    }
    let filter = q.filter()?;
    // Each step reads one batch after the last id sent; `None` ends it.
    let lines = futures_util::stream::try_unfold(Some(String::new()), move |after| {
        let state = state.clone();
        let filter = filter.clone();
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let cursor = (!after.is_empty()).then_some(after.as_str());
            let events = state
                .store
                .audit_events(&filter, Order::OldestFirst, EXPORT_BATCH, cursor)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if events.is_empty() {
                return Ok(None);
            }
            let next = (events.len() == EXPORT_BATCH as usize)
                .then(|| events.last().map(|e| e.id.clone()))
                .flatten();
            let mut chunk = Vec::with_capacity(events.len() * 256);
            for e in &events {
                serde_json::to_writer(&mut chunk, e).map_err(std::io::Error::other)?;
                chunk.push(b'\n');
            }
            Ok::<_, std::io::Error>(Some((bytes::Bytes::from(chunk), next)))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.jsonl\"",
            ),
        ],
        Body::from_stream(lines),
    )
        .into_response())
}
