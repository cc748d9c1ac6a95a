//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::SharedState;
use crate::upstream::limit::shared::RedisFailure;

pub async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({"status": "ok"}))
}

/// Ready when the store answers and the specs directory was read. Spec
/// problems are counted, not shown (the answer is public; the problems are
/// in the log and `switchboard validate`), and do not make the gateway
/// unready: the last good versions of those files stay in force.
///
/// `rate_limit_store` says where rate limits are kept: `none` (in this
/// process), `ok` (Redis answers) or `unreachable`. An unreachable Redis
/// makes the gateway unready only with `redis_failure: closed`, where calls
/// under a limit would fail; with `open` the replica serves on its own
/// limits.
pub async fn readyz(State(state): State<SharedState>) -> (StatusCode, axum::Json<Value>) {
    let shared = state.upstream.shared_limits();
    let (store_ok, limits_ok) = match shared {
        Some(s) => tokio::join!(async { state.store.ping().await.is_ok() }, s.ping()),
        None => (state.store.ping().await.is_ok(), true),
    };
    let limit_store = match (shared, limits_ok) {
        (None, _) => "none",
        (Some(_), true) => "ok",
        (Some(_), false) => "unreachable",
    };
    let limits_required = shared.is_some_and(|s| s.failure() == RedisFailure::Closed);
    let registry = state.specs.current();
    let status = state.specs.status();
    let specs_ok = status.generation > 0 && status.readable;
    let ready = store_ok && specs_ok && (limits_ok || !limits_required);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "store": if store_ok { "ok" } else { "unreachable" },
            "specs": if specs_ok { "loaded" } else { "unreadable" },
            "providers": registry.providers().count(),
            "tools": registry.tool_count(),
            "spec_problems": status.problems.len(),
            "rate_limit_store": limit_store,
        })),
    )
}

pub async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
