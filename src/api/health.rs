//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::SharedState;

pub async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({"status": "ok"}))
}

/// Ready when the store answers and the specs directory was read. Spec
/// problems are counted, not shown (the answer is public; the problems are
/// in the log and `switchboard validate`), and do not make the gateway
/// unready: the last good versions of those files stay in force.
pub async fn readyz(State(state): State<SharedState>) -> (StatusCode, axum::Json<Value>) {
    let store_ok = state.store.ping().await.is_ok();
    let registry = state.specs.current();
    let status = state.specs.status();
    let specs_ok = status.generation > 0 && status.readable;
    let ready = store_ok && specs_ok;
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
