//! A small notes API to try the gateway against, standing in for a real
//! provider: `cargo run --example mock_provider` serves it on
//! 127.0.0.1:9090 (or `$PORT`). Requests need the header `X-Api-Key: demo-key`.
//! Its spec is `examples/demo/notes.yaml`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

const API_KEY: &str = "demo-key";

type Notes = Arc<Mutex<BTreeMap<u64, Value>>>;

#[tokio::main]
async fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "9090".into());
    let notes: Notes = Arc::default();
    let app = Router::new()
        .route("/v1/notes", get(list).post(create))
        .route("/v1/notes/{id}", get(fetch))
        .with_state(notes);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    println!(
        "mock notes provider on http://{}",
        listener.local_addr().unwrap()
    );
    axum::serve(listener, app).await.unwrap();
}

type Reply = (StatusCode, Json<Value>);

fn authorized(headers: &HeaderMap) -> Result<(), Reply> {
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        Some(API_KEY) => Ok(()),
        _ => Err((
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": {"code": "unauthorized", "message": "missing or wrong X-Api-Key"}}),
            ),
        )),
    }
}

async fn create(State(notes): State<Notes>, headers: HeaderMap, Json(body): Json<Value>) -> Reply {
    if let Err(reply) = authorized(&headers) {
        return reply;
    }
    let Some(title) = body.get("title").and_then(Value::as_str) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "invalid", "message": "title is required"}})),
        );
    };
    let mut notes = notes.lock().unwrap();
    let id = notes.len() as u64 + 1;
    let note =
        json!({"id": id, "title": title, "body": body.get("body").cloned().unwrap_or(Value::Null)});
    notes.insert(id, note.clone());
    (StatusCode::CREATED, Json(note))
}

async fn list(State(notes): State<Notes>, headers: HeaderMap) -> Reply {
    if let Err(reply) = authorized(&headers) {
        return reply;
    }
    let notes: Vec<Value> = notes.lock().unwrap().values().cloned().collect();
    (StatusCode::OK, Json(json!({"notes": notes})))
}

async fn fetch(State(notes): State<Notes>, headers: HeaderMap, Path(id): Path<u64>) -> Reply {
    if let Err(reply) = authorized(&headers) {
        return reply;
    }
    match notes.lock().unwrap().get(&id) {
        Some(note) => (StatusCode::OK, Json(note.clone())),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "not_found", "message": format!("no note {id}")}})),
        ),
    }
}
