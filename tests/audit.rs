//! The audit trail: what is recorded (who, what, outcome — never a secret
//! or a parameter value), the filters, cursor pages, the JSON-lines export
//! and retention, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{API_KEY, Backend, Setup, TestGateway, eventually, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACME: &str = "tests/fixtures/specs/acme.yaml";
const SECRET_KEY: &str = "sk_live_audit_5e6f7a";
const PARAMETER: &str = "u-private-4711";

async fn gateway(backend: &Backend, mock: &MockServer) -> TestGateway {
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("{}/api/v2", mock.uri()))
        .configure(|c| {
            c.api_keys = vec![switchboard::config::ApiKeyConfig::Named(
                switchboard::config::NamedApiKey {
                    name: "backend".into(),
                    key: API_KEY.into(),
                    role: switchboard::config::Role::Admin,
                },
            )];
            c.upkeep_interval_ms = 200;
            c.audit_retention_days = 30;
        });
    TestGateway::start(backend, setup).await
}

/// Every page of `GET /v1/audit-logs?{query}` (pages of 2 unless the query
/// says), newest first.
async fn all_pages(gw: &TestGateway, query: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    let limit = if query.contains("limit=") {
        ""
    } else {
        "limit=2&"
    };
    loop {
        let (status, page) = gw
            .get(&format!("/v1/audit-logs?{limit}{query}&cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return events,
        }
    }
}

/// The events of `query` once there are `n` of them (they are written in
/// batches, a moment after they happen).
async fn settled(gw: &TestGateway, query: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = all_pages(gw, query).await;
        if events.len() >= n || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

async fn management_and_calls_are_audited(backend: Backend) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/users/{PARAMETER}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": {"id": PARAMETER, "name": "Ann Lee", "emails": []}
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": "error", "error": {"code": "NOT_FOUND", "message": "no such user"}
        })))
        .mount(&mock)
        .await;
    let gw = gateway(&backend, &mock).await;
    let started = switchboard::clock::now();
    let conn = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    let ann = gw
        .account(&conn, "ann", Some(json!({"api_key": SECRET_KEY})))
        .await;
    let bob = gw.account(&conn, "bob", None).await;
    let (status, _) = gw
        .patch(
            &format!("/v1/connected-accounts/{ann}"),
            json!({"metadata": {"team": "blue"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for user in [PARAMETER, "missing"] {
        gw.post(
            "/v1/tools/execute",
            json!({"connected_account_id": ann, "tool": "get_user", "parameters": {"id": user}}),
        )
        .await;
    }
    assert_eq!(
        gw.delete(&format!("/v1/connected-accounts/{bob}")).await.0,
        StatusCode::OK
    );

    // Written in batches: read until everything is in.
    let everything = settled(&gw, "", 8).await;
    let wanted = [
        "connection.created",
        "account.created",
        "account.credentials_set",
        "account.created",
        "account.updated",
        "tool.executed",
        "tool.executed",
        "account.deleted",
    ];
    let mut oldest_first = actions(&everything);
    oldest_first.reverse();
    assert_eq!(oldest_first, wanted, "{everything:#?}");
    for e in &everything {
        assert_eq!(e["actor"], "backend", "the acting key's name: {e}");
        assert!(e["request_id"].as_str().unwrap().starts_with("req_"));
        assert_eq!(e["provider"], "acme");
        assert_eq!(e["connection_id"], conn.as_str());
    }

    // The tool calls: outcome, upstream status, duration, the request id of
    // the call's own answer.
    let (_, calls) = gw
        .get(&format!(
            "/v1/audit-logs?action=tool.executed&connected_account_id={ann}"
        ))
        .await;
    let calls = calls["data"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["outcome"], "provider_error");
    assert_eq!(calls[0]["upstream_status"], 404);
    assert_eq!(calls[1]["outcome"], "success");
    assert_eq!(calls[1]["upstream_status"], 200);
    assert_eq!(calls[1]["tool"], "get_user");
    assert_eq!(calls[1]["identifier"], "ann");
    assert!(calls[1]["duration_ms"].as_i64().unwrap() >= 0);

    // Filters: identifier, provider, action, time range.
    let bobs = all_pages(&gw, "identifier=bob").await;
    assert_eq!(actions(&bobs), ["account.deleted", "account.created"]);
    assert_eq!(all_pages(&gw, "provider=acme").await.len(), 8);
    assert!(all_pages(&gw, "provider=slack").await.is_empty());
    assert_eq!(
        all_pages(&gw, &format!("since={started}")).await.len(),
        8,
        "since is inclusive"
    );
    assert!(
        all_pages(&gw, "until=2000-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    let (status, bad) = gw.get("/v1/audit-logs?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RFC 3339")
    );
    let (status, _) = gw.get("/v1/audit-logs?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The export: JSON lines, oldest first, every event, same filters.
    let response = gw
        .client
        .get(gw.url("/v1/audit-logs/export?provider=acme"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let exported: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(actions(&exported), wanted);

    // Nothing secret and no parameter value, in answers or in the table.
    let stored = gw.table_text("audit_events").await;
    assert!(
        stored.contains("account.deleted"),
        "the scan reads the table"
    );
    for secret in [SECRET_KEY, API_KEY, PARAMETER] {
        assert!(!text.contains(secret), "{secret} in the export");
        assert!(!stored.contains(secret), "{secret} in the table");
    }
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("switchboard_audit_events_total{outcome=\"written\"}"),
        "{metrics}"
    );
    gw.stop().await;
}

async fn old_events_are_purged(backend: Backend) {
    let mock = MockServer::start().await;
    let gw = gateway(&backend, &mock).await;
    gw.connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    // An event from 31 days ago (retention: 30 days).
    let old_ms = switchboard::clock::now_ms() - 31 * 24 * 3_600_000;
    gw.sql(&format!(
        "INSERT INTO audit_events (id, at, action, actor) \
         VALUES ('evt_00000000000000000000000000', '{}', 'connection.created', 'backend')",
        switchboard::clock::text_of_ms(old_ms).unwrap()
    ))
    .await;
    eventually("the upkeep purges the old event", || async {
        let events = all_pages(&gw, "").await;
        events.len() == 1 && events[0]["id"] != "evt_00000000000000000000000000"
    })
    .await;
    gw.stop().await;
}

async fn events_queued_at_shutdown_are_written(backend: Backend) {
    let mock = MockServer::start().await;
    let gw = gateway(&backend, &mock).await;
    let conn = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    for i in 0..2500 {
        gw.state.store.audit().record({
            let mut e = switchboard::audit::Event::new("test.event");
            e.connection_id = Some(conn.clone());
            e.reason = Some(format!("n{i}"));
            e
        });
    }
    // A restart stops the first process's writer after it wrote them all.
    let gw = gw.restart().await;
    let written = all_pages(&gw, "action=test.event&limit=200").await;
    assert_eq!(written.len(), 2500);
    gw.stop().await;
}

both_backends!(
    management_and_calls_are_audited,
    old_events_are_purged,
    events_queued_at_shutdown_are_written,
);
