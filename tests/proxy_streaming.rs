//! The raw proxy streams bodies both ways in bounded memory: 100 MiB down
//! and 100 MiB up through the gateway, made and counted as they go. The only
//! test of its process, so the process's peak memory is the proxy's.

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use common::{Backend, Setup, TestGateway, specs_dir};
use http_body_util::BodyExt;
use hyper::body::Frame;
use reqwest::StatusCode;
use serde_json::json;

const CHUNK: usize = 64 * 1024;

/// `len` zero bytes, made as they are read.
struct Zeros {
    left: usize,
}

impl hyper::body::Body for Zeros {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0u8; n])))))
    }
}

/// A provider that streams `/v1/blob` out and counts what is put there.
async fn blob_provider(received: Arc<AtomicU64>) -> String {
    async fn download(headers: HeaderMap) -> axum::response::Response {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("demo-key") {
            return (axum::http::StatusCode::UNAUTHORIZED, "no key").into_response();
        }
        let len: usize = 100 * 1024 * 1024;
        axum::response::Response::builder()
            .header("content-type", "application/octet-stream")
            .header("content-length", len.to_string())
            .header("x-blob", "zeros")
            .body(Body::new(Zeros { left: len }))
            .unwrap()
    }
    async fn upload(State(received): State<Arc<AtomicU64>>, body: Body) -> String {
        use futures_util::StreamExt;
        let mut stream = body.into_data_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            total += chunk.unwrap().len() as u64;
        }
        received.store(total, Ordering::SeqCst);
        format!("{{\"received\": {total}}}")
    }
    let app = Router::new()
        .route("/v1/blob", get(download).put(upload))
        .with_state(received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

/// Peak resident memory of this process, in bytes (Linux).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

async fn notes_account(gw: &TestGateway) -> String {
    let conn = gw.connection(json!({"provider": "notes"})).await;
    gw.account(&conn, "ann", Some(json!({"api_key": "demo-key"})))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways_in_bounded_memory() {
    let received = Arc::new(AtomicU64::new(0));
    let base = blob_provider(received.clone()).await;
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"])).base_url("notes", base),
    )
    .await;
    let account = notes_account(&gw).await;
    let before = peak_rss();

    // 100 MiB down, read as it comes.
    let mut response = gw
        .client
        .get(gw.url(&format!("/v1/proxy/{account}/blob")))
        .bearer_auth(common::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-blob"], "zeros");
    let mut total = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        total += chunk.len() as u64;
    }
    assert_eq!(total, 100 * 1024 * 1024);

    // 100 MiB up, sent as it is made.
    let len = 100 * 1024 * 1024;
    let stream = Zeros { left: len }.into_data_stream();
    let response = gw
        .client
        .put(gw.url(&format!("/v1/proxy/{account}/blob")))
        .bearer_auth(common::API_KEY)
        .header("content-length", len.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(received.load(Ordering::SeqCst), len as u64);

    // Neither body was held whole: the peak grew by far less than one.
    let growth = peak_rss().saturating_sub(before);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak memory grew by {} MiB",
        growth / 1024 / 1024
    );
    gw.stop().await;
}
