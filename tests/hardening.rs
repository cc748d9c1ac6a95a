//! Attacks on the gateway itself, each reproduced and shown to fail: slow
//! and idle clients, made-up methods that would mint metric series, a
//! provider header that once panicked a request, routes probed without a
//! key, and readiness that said too much.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn addr(gw: &TestGateway) -> String {
    gw.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; how long that took.
async fn time_to_close(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_do_not_hold_up_shutdown() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"])).configure(|c| {
            c.server.header_read_timeout_ms = 300;
            c.server.shutdown_timeout_ms = 1_000;
        }),
    )
    .await;

    // Half a request header, then nothing (slowloris): cut at the timeout.
    let mut slow = TcpStream::connect(addr(&gw)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), time_to_close(&mut slow))
        .await
        .expect("the server closes a connection whose header never ends");
    assert!(waited < Duration::from_secs(3), "{waited:?}");

    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(addr(&gw)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), time_to_close(&mut idle))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(waited < Duration::from_secs(3), "{waited:?}");

    // A slow client open at shutdown does not keep the gateway up.
    let mut stuck = TcpStream::connect(addr(&gw)).await.unwrap();
    stuck
        .write_all(b"POST /v1/connections HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), gw.stop())
        .await
        .expect("shutdown completes with a slow client connected");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn made_up_methods_make_one_series() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"])),
    )
    .await;
    let long = "X".repeat(4000);
    for i in 0..300 {
        let name = if i == 0 {
            long.clone()
        } else {
            format!("BREW{i}")
        };
        let m = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        let _ = gw.client.request(m, gw.url("/healthz")).send().await;
    }
    let metrics = gw.metrics().await;
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("switchboard_http_requests_total{"))
        .collect();
    assert!(series.len() <= 6, "{series:#?}");
    assert!(!metrics.contains("BREW"));
    assert!(metrics.contains("method=\"other\""));
    gw.stop().await;
}

#[tokio::test]
async fn a_huge_reset_header_is_a_clean_rate_limit() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/notes"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Reset", "1e300")
                .set_body_json(json!({"error": {"message": "slow down", "code": "limited"}})),
        )
        .mount(&mock)
        .await;
    let specs = specs_dir(&[]);
    let notes = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/notes.yaml"),
    )
    .unwrap()
    .replace(
        "errors:\n",
        "retry:\n  reset_header: X-RateLimit-Reset\nerrors:\n",
    );
    std::fs::write(specs.join("notes.yaml"), notes).unwrap();
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs).base_url("notes", format!("{}/v1", mock.uri())),
    )
    .await;
    let conn = gw.connection(json!({"provider": "notes"})).await;
    let account = gw
        .account(&conn, "ann", Some(json!({"api_key": "demo-key"})))
        .await;
    for _ in 0..3 {
        let (status, body) = gw
            .post(
                "/v1/tools/execute",
                json!({"connected_account_id": account, "tool": "list_notes"}),
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"]["code"], "rate_limited");
    }
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("switchboard_http_requests_in_flight 1"),
        "only the metrics request itself is in flight"
    );
    gw.stop().await;
}

#[tokio::test]
async fn public_answers_say_no_more_than_they_must() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"])),
    )
    .await;
    std::fs::write(gw.config.specs_dir.join("broken.yaml"), "provider: [").unwrap();
    common::eventually("the problem is counted", || async {
        gw.get("/readyz").await.1["spec_problems"] == json!(1)
    })
    .await;
    let (_, ready) = gw.get("/readyz").await;
    assert!(!ready.to_string().contains("broken.yaml"), "{ready}");

    // Without a key, a wrong method on a real route and an unknown route
    // answer alike: unauthenticated.
    for (m, route) in [
        (reqwest::Method::PUT, "/v1/connections"),
        (reqwest::Method::GET, "/v1/no-such-thing"),
        (reqwest::Method::DELETE, "/v1/tools/execute"),
    ] {
        let response = gw.client.request(m, gw.url(route)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    gw.stop().await;
}

#[tokio::test]
async fn an_execute_key_runs_tools_and_nothing_else() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"])).configure(|c| {
            c.api_keys.push(switchboard::config::ApiKeyConfig::Named(
                switchboard::config::NamedApiKey {
                    name: "agent-runtime".into(),
                    key: "sb_exec_key_0123456789".into(),
                    role: switchboard::config::Role::Execute,
                },
            ));
        }),
    )
    .await;
    let conn = gw.connection(json!({"provider": "notes"})).await;
    let as_agent = |m: reqwest::Method, route: &str| {
        gw.client
            .request(m, gw.url(route))
            .bearer_auth("sb_exec_key_0123456789")
    };
    let allowed = as_agent(reqwest::Method::GET, "/v1/providers/notes")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    let tools = as_agent(reqwest::Method::GET, "/v1/tools?format=openai")
        .send()
        .await
        .unwrap();
    assert_eq!(tools.status(), StatusCode::OK);
    // A tool call is the key's business (its answer is about the account).
    let call = as_agent(reqwest::Method::POST, "/v1/tools/execute")
        .json(&json!({"identifier": "nobody", "provider": "notes", "tool": "list_notes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::NOT_FOUND);
    for (m, route) in [
        (reqwest::Method::POST, "/v1/connections".to_owned()),
        (reqwest::Method::DELETE, format!("/v1/connections/{conn}")),
        (reqwest::Method::GET, "/v1/connected-accounts".to_owned()),
        (reqwest::Method::POST, "/v1/mcp-links".to_owned()),
    ] {
        let response = as_agent(m, &route).json(&json!({})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{route}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("API key `agent-runtime` (role execute) may not"),
            "{body}"
        );
    }
    // The plain key of the test set-up stays an admin key.
    let (status, _) = gw.get("/v1/connected-accounts").await;
    assert_eq!(status, StatusCode::OK);
    gw.stop().await;
}

#[tokio::test]
async fn credentials_never_go_to_an_origin_they_were_not_issued_for() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    for mock in [&a, &b] {
        Mock::given(method("GET"))
            .and(path("/api/me"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "u1"})))
            .mount(mock)
            .await;
    }
    let specs = specs_dir(&[]);
    std::fs::write(
        specs.join("portal.yaml"),
        r#"provider: portal
display_name: Portal
base_url: http://127.0.0.1:{{ connection.config.port }}/api
connection_config:
  port: {description: The portal's port, required: true, pattern: "[0-9]{2,5}"}
auth:
  type: api_key
  inject: {headers: {X-Key: "{{ credentials.api_key }}"}}
tools:
  me:
    description: Who the key belongs to.
    parameters: {type: object, properties: {}, additionalProperties: false}
    request: {method: GET, path: /me}
"#,
    )
    .unwrap();
    let gw = TestGateway::start(&Backend::Sqlite, Setup::new(specs)).await;
    let port = |m: &MockServer| m.address().port().to_string();
    let conn = gw
        .connection(json!({"provider": "portal", "config": {"port": port(&a)}}))
        .await;
    let account = gw
        .account(&conn, "ann", Some(json!({"api_key": "secret-key"})))
        .await;
    let call = json!({"connected_account_id": account, "tool": "me"});
    let (status, _) = gw.post("/v1/tools/execute", call.clone()).await;
    assert_eq!(status, StatusCode::OK);

    // Someone with the admin key points the connection elsewhere.
    let (status, _) = gw
        .patch(
            &format!("/v1/connections/{conn}"),
            json!({"config": {"port": port(&b)}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = gw.post("/v1/tools/execute", call).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "reauthorization_required");
    assert!(
        b.received_requests().await.unwrap().is_empty(),
        "the key never reached the other origin"
    );
    gw.stop().await;
}

#[tokio::test]
async fn redirect_urls_must_be_on_an_allowed_origin() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["tests/fixtures/oauth/studio.yaml"])).configure(|c| {
            c.allowed_redirect_origins = vec!["https://app.example".into()];
        }),
    )
    .await;
    let conn = gw
        .connection(
            json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
        )
        .await;
    let account = gw.account(&conn, "ann", None).await;
    let path = format!("/v1/connected-accounts/{account}/auth-url");
    let (status, body) = gw
        .post(&path, json!({"redirect_url": "https://evil.example/x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["message"],
        "redirect_url must be on an allowed origin (https://app.example), not https://evil.example"
    );
    let (status, body) = gw
        .post(
            &path,
            json!({"redirect_url": "https://app.example/connected"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The provider's link carries PKCE (S256).
    let (url, _) = gw.continue_flow(body["url"].as_str().unwrap()).await;
    assert!(url.as_str().contains("code_challenge_method=S256"), "{url}");
    let (status, _) = gw
        .post(
            "/v1/connect-sessions",
            json!({"identifier": "ann", "redirect_url": "https://evil.example/"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    gw.stop().await;
}
