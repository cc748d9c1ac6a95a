//! The audit trail: who did what to which connection or account, and every
//! tool call's outcome, as append-only events in the store.
//!
//! Events are recorded where the change happens (the store's writes, the
//! execute path, the OAuth flow) and written by one task per process in
//! batches: recording is a channel send, so it never waits on the database
//! and the execute path pays nothing measurable for it. Everything queued
//! when the gateway stops is written before the store closes; a crash loses
//! at most the last batch being gathered (milliseconds of events).
//!
//! An event names the acting API key (by its name), never a secret and
//! never a parameter value.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use sqlx::AnyPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::logging::REQUEST;
use crate::metrics::Metrics;

/// The current request's id (empty outside a request).
pub fn request_id() -> String {
    REQUEST.try_with(|r| r.id.clone()).unwrap_or_default()
}

/// Who acts now: the API key's name in a keyed request, `user` in a
/// request authenticated by a link or an OAuth `state` (the end user in a
/// browser), `gateway` in the gateway's own background work.
pub fn actor() -> String {
    REQUEST
        .try_with(|r| r.api_key.get().map_or("user", |k| &**k).to_owned())
        .unwrap_or_else(|_| "gateway".to_owned())
}

/// Most events written in one statement.
const MAX_BATCH: usize = 256;
/// How long the writer gathers events after the first of a batch: at a
/// high rate of calls, a few large statements cost the database far less
/// than many small ones.
const LINGER: Duration = Duration::from_millis(100);
/// Events that may wait for the writer before new ones are dropped.
const QUEUE: usize = 16_384;

/// One thing that happened, as recorded (see the `action` names in
/// `docs/api.md`). Empty fields are not known or do not apply.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Event {
    /// `evt_` and a ULID: the id begins with the event's time.
    pub id: String,
    /// RFC 3339, as every stored time; the writer reads it off the id.
    pub at: String,
    pub action: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub connected_account_id: Option<String>,
    pub connection_id: Option<String>,
    pub identifier: Option<String>,
    pub provider: Option<String>,
    pub tool: Option<String>,
    /// `success` or an error code (tool calls, refreshes).
    pub outcome: Option<String>,
    pub upstream_status: Option<i64>,
    pub duration_ms: Option<i64>,
    /// Why, in words (a status reason, a provider's refusal); never a secret.
    pub reason: Option<String>,
}

impl Event {
    /// A new event of `action`, stamped now with the acting key and the
    /// request it happens in.
    pub fn new(action: &str) -> Event {
        let request_id = request_id();
        Event {
            id: crate::store::new_id("evt"),
            action: action.to_owned(),
            actor: actor(),
            request_id: (!request_id.is_empty()).then_some(request_id),
            ..Event::default()
        }
    }

    /// The account (and its connection, provider and identifier).
    pub fn account(mut self, a: &crate::store::ConnectedAccount) -> Event {
        self.connected_account_id = Some(a.id.clone());
        self.connection_id = Some(a.connection_id.clone());
        self.identifier = Some(a.identifier.clone());
        self.provider = Some(a.provider.clone());
        self
    }

    /// The connection (and its provider).
    pub fn connection(mut self, c: &crate::store::Connection) -> Event {
        self.connection_id = Some(c.id.clone());
        self.provider = Some(c.provider.clone());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Event {
        self.reason = Some(reason.into());
        self
    }

    pub fn outcome(mut self, outcome: &str) -> Event {
        self.outcome = Some(outcome.to_owned());
        self
    }
}

/// Where events go: a queue to this process's writer, or nowhere (a store
/// opened by a command that audits nothing).
#[derive(Clone, Default)]
pub struct AuditLog {
    inner: Option<Arc<Writer>>,
}

struct Writer {
    queue: mpsc::Sender<Event>,
    metrics: Metrics,
    dropped: AtomicU64,
    stop: CancellationToken,
    done: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("on", &self.inner.is_some())
            .finish()
    }
}

impl AuditLog {
    /// Starts the writer of this process on `pool`.
    pub fn start(pool: AnyPool, backend: crate::store::Backend, metrics: Metrics) -> AuditLog {
        let (queue, events) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let task = tokio::spawn(write_events(
            Sink { pool, backend },
            events,
            stop.clone(),
            metrics.clone(),
        ));
        AuditLog {
            inner: Some(Arc::new(Writer {
                queue,
                metrics,
                dropped: AtomicU64::new(0),
                stop,
                done: tokio::sync::Mutex::new(Some(task)),
            })),
        }
    }

    /// Queues `event` for writing; never waits. A full queue (the database
    /// far behind) drops the event, counts it and says so in the log.
    pub fn record(&self, event: Event) {
        let Some(w) = &self.inner else { return };
        if w.queue.try_send(event).is_err() {
            w.metrics.audit_events.with_label_values(&["dropped"]).inc();
            let n = w.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(1000) {
                tracing::warn!(
                    dropped = n + 1,
                    "audit events are being dropped: the store cannot keep up"
                );
            }
        }
    }

    /// Writes everything queued and stops the writer (at shutdown, before
    /// the store closes).
    pub async fn flush_and_stop(&self) {
        let Some(w) = &self.inner else { return };
        w.stop.cancel();
        if let Some(task) = w.done.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// Where the writer writes.
struct Sink {
    pool: AnyPool,
    backend: crate::store::Backend,
}

/// The writer: waits for one event, lets more gather for [`LINGER`], then
/// writes everything queued in statements of up to [`MAX_BATCH`], and so
/// on. An event is in the store about `LINGER` after it happened. While it
/// lingers the writer waits on one timer, not on the queue: at a high rate
/// of calls a send then wakes nothing (a wake and a timer per event were a
/// few per cent of a call's cost).
async fn write_events(
    sink: Sink,
    mut events: mpsc::Receiver<Event>,
    stop: CancellationToken,
    metrics: Metrics,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            biased;
            e = events.recv() => e,
            () = stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        tokio::select! {
            () = tokio::time::sleep(LINGER) => {}
            () = stop.cancelled() => {}
        }
        drain(&sink, &mut events, &mut batch, &metrics).await;
    }
    // Stopping: whatever is still queued (or being sent) goes in too.
    events.close();
    while let Some(e) = events.recv().await {
        batch.push(e);
        if batch.len() == MAX_BATCH {
            write_batch(&sink, &mut batch, &metrics).await;
        }
    }
    write_batch(&sink, &mut batch, &metrics).await;
}

/// Writes `batch` and everything queued now, [`MAX_BATCH`] at a time.
async fn drain(
    sink: &Sink,
    events: &mut mpsc::Receiver<Event>,
    batch: &mut Vec<Event>,
    metrics: &Metrics,
) {
    while let Ok(e) = events.try_recv() {
        batch.push(e);
        if batch.len() == MAX_BATCH {
            write_batch(sink, batch, metrics).await;
        }
    }
    write_batch(sink, batch, metrics).await;
}

/// Writes and empties `batch`, trying a few times before giving it up.
async fn write_batch(sink: &Sink, batch: &mut Vec<Event>, metrics: &Metrics) {
    if batch.is_empty() {
        return;
    }
    // The time text is read off the id here, not on the call's path.
    for e in batch.iter_mut().filter(|e| e.at.is_empty()) {
        e.at = crate::store::audit_time(&e.id).unwrap_or_default();
    }
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=4 {
        match crate::store::insert_audit_events(&sink.pool, sink.backend, batch).await {
            Ok(()) => {
                metrics
                    .audit_events
                    .with_label_values(&["written"])
                    .inc_by(batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %e, attempt, "could not write audit events; trying again");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit events lost: the store refused them");
            }
        }
    }
    metrics
        .audit_events
        .with_label_values(&["dropped"])
        .inc_by(batch.len() as u64);
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_actor_is_the_key_the_user_or_the_gateway() {
        assert_eq!(actor(), "gateway");
        let request = || crate::logging::RequestContext::new("POST", "/v1/tools/execute".into());
        let in_request = REQUEST.scope(request(), async { actor() }).await;
        assert_eq!(in_request, "user");
        let keyed = REQUEST
            .scope(request(), async {
                crate::logging::record_api_key(&"backend".into());
                (Event::new("tool.executed"), crate::audit::request_id())
            })
            .await;
        let (keyed, id) = keyed;
        assert_eq!(keyed.actor, "backend");
        assert!(id.starts_with("req_") && id.len() == 30, "{id}");
        assert_eq!(keyed.request_id.as_deref(), Some(id.as_str()));
        assert!(keyed.id.starts_with("evt_"));
    }
}
