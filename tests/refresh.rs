//! Refreshing OAuth 2.0 tokens: proactive before expiry, reactive after a
//! 401, single-flight within a process and across replicas, refresh-token
//! rotation, `invalid_grant` and transient failures, and the token
//! endpoint behind the provider's circuit breaker.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const STUDIO: &str = "tests/fixtures/oauth/studio.yaml";

/// A token endpoint for both grants. Refresh tokens rotate: each refresh
/// answers `at-N`/`rt-N` and only the latest refresh token is accepted.
#[derive(Clone, Default)]
struct Tokens {
    refreshes: Arc<AtomicU32>,
    current_refresh: Arc<Mutex<String>>,
    revoked: Arc<AtomicBool>,
    unavailable: Arc<AtomicBool>,
}

impl Respond for Tokens {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        // RFC 6749 2.3.1: the client authenticates with HTTP Basic.
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("c:s")
        );
        if request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some(basic.as_str())
        {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        }
        if request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            != Some("application/x-www-form-urlencoded")
        {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"}));
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let issue = |n: u32| {
            ResponseTemplate::new(200).set_body_json(json!({
                "authed": {"access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"), "expires_in": 3600}
            }))
        };
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                *self.current_refresh.lock().unwrap() = "rt-1".into();
                issue(1)
            }
            Some("refresh_token") => {
                if self.unavailable.load(Ordering::SeqCst) {
                    return ResponseTemplate::new(503).set_body_string("upstream maintenance");
                }
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                if self.revoked.load(Ordering::SeqCst)
                    || presented != *self.current_refresh.lock().unwrap()
                {
                    return ResponseTemplate::new(400)
                        .set_body_json(json!({"error": "invalid_grant", "error_description": "Token has been revoked"}));
                }
                let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 2;
                *self.current_refresh.lock().unwrap() = format!("rt-{n}");
                // A slow endpoint widens the window for racing refreshes.
                issue(n).set_delay(Duration::from_millis(150))
            }
            _ => {
                ResponseTemplate::new(400).set_body_json(json!({"error": "unsupported_grant_type"}))
            }
        }
    }
}

struct World {
    gw: TestGateway,
    mock: MockServer,
    tokens: Tokens,
    account: String,
}

/// A gateway with one connected (active) studio account whose API accepts
/// the access tokens listed in `good_tokens`.
async fn world(backend: &Backend, good_tokens: &[&str]) -> World {
    world_with(backend, good_tokens, |_| {}).await
}

async fn world_with(
    backend: &Backend,
    good_tokens: &[&str],
    configure: impl Fn(&mut switchboard::config::Config) + Send + Sync + 'static,
) -> World {
    let mock = MockServer::start().await;
    let tokens = Tokens::default();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(tokens.clone())
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"site": {"id": "s1"}})))
        .mount(&mock)
        .await;
    for token in good_tokens {
        Mock::given(method("GET"))
            .and(path("/sites/s1/"))
            .and(header("authorization", format!("Bearer {token}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "site"})))
            .mount(&mock)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/sites/s1/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_token"})))
        .mount(&mock)
        .await;
    let uri = mock.uri();
    let setup = Setup::new(specs_dir(&[STUDIO])).configure(move |c| {
        let o = c.provider_overrides.entry("studio".into()).or_default();
        o.origins
            .insert("https://studio.example".into(), uri.clone());
        o.origins
            .insert("https://api.studio.example".into(), uri.clone());
        configure(c);
    });
    let gw = TestGateway::start(backend, setup).await;
    let conn = gw
        .connection(
            json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
        )
        .await;
    let account = gw.account(&conn, "ann", None).await;
    let response = gw.authorize(&account, "c0de").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    World {
        gw,
        mock,
        tokens,
        account,
    }
}

async fn call(gw: &TestGateway, account: &str) -> (StatusCode, Value) {
    gw.post(
        "/v1/tools/execute",
        json!({"connected_account_id": account, "tool": "get_site"}),
    )
    .await
}

/// Makes the stored access token expired.
async fn expire(w: &World) {
    w.gw.sql(&format!(
        "UPDATE connected_accounts SET credentials_expires_at = 0 WHERE id = '{}'",
        w.account
    ))
    .await;
}

async fn hundred_concurrent_calls_on_an_expired_account_refresh_once(backend: Backend) {
    let w = world(&backend, &["at-2"]).await;
    expire(&w).await;
    let gw = Arc::new(w.gw);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let (gw, account) = (gw.clone(), w.account.clone());
            tokio::spawn(async move { call(&gw, &account).await })
        })
        .collect();
    for c in calls {
        let (status, body) = c.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        w.tokens.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh for 100 calls"
    );
    let (_, account) = gw
        .get(&format!("/v1/connected-accounts/{}", w.account))
        .await;
    assert_eq!(account["status"], "active");
    Arc::try_unwrap(gw).ok().unwrap().stop().await;
}

async fn a_401_refreshes_once_and_retries_once(backend: Backend) {
    let w = world(&backend, &["at-2"]).await;
    let (status, body) = call(&w.gw, &w.account).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["attempts"], 2);
    assert_eq!(w.tokens.refreshes.load(Ordering::SeqCst), 1);

    // The refreshed token is kept: the next call needs no refresh.
    assert_eq!(call(&w.gw, &w.account).await.0, StatusCode::OK);
    assert_eq!(w.tokens.refreshes.load(Ordering::SeqCst), 1);
    w.gw.stop().await;
}

async fn rotated_refresh_tokens_replace_the_old_ones(backend: Backend) {
    let w = world(&backend, &["at-2", "at-3"]).await;
    expire(&w).await;
    assert_eq!(call(&w.gw, &w.account).await.0, StatusCode::OK);
    // The second refresh must present rt-2; the endpoint refuses rt-1 now.
    expire(&w).await;
    let (status, body) = call(&w.gw, &w.account).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(w.tokens.refreshes.load(Ordering::SeqCst), 2);
    let stored = w.gw.table_text("connected_accounts").await;
    assert!(
        !stored.contains("rt-2") && !stored.contains("at-3"),
        "tokens stay sealed"
    );
    w.gw.stop().await;
}

async fn invalid_grant_revokes_and_asks_for_the_user(backend: Backend) {
    let w = world(&backend, &["at-2"]).await;
    w.tokens.revoked.store(true, Ordering::SeqCst);
    expire(&w).await;
    let (status, body) = call(&w.gw, &w.account).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "reauthorization_required");
    assert_eq!(body["error"]["details"]["status"], "revoked");
    let link = body["error"]["details"]["auth_url"]
        .as_str()
        .expect("a fresh link");
    let (url, _) = w.gw.continue_flow(link).await;
    assert!(
        url.as_str()
            .starts_with(&format!("{}/oauth/authorize?", w.mock.uri()))
    );
    let (_, account) =
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await;
    assert_eq!(account["status"], "revoked");
    assert!(
        account["status_reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    w.gw.stop().await;
}

async fn a_transient_refresh_failure_keeps_the_account_active(backend: Backend) {
    let w = world(&backend, &["at-2"]).await;
    w.tokens.unavailable.store(true, Ordering::SeqCst);
    expire(&w).await;
    let (status, body) = call(&w.gw, &w.account).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    let (_, account) =
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await;
    assert_eq!(account["status"], "active");

    // Once the endpoint is back, the next call refreshes and succeeds.
    w.tokens.unavailable.store(false, Ordering::SeqCst);
    assert_eq!(call(&w.gw, &w.account).await.0, StatusCode::OK);
    w.gw.stop().await;
}

async fn a_failing_token_endpoint_opens_the_circuit(backend: Backend) {
    let w = world_with(&backend, &["at-2"], |c| {
        c.upstream.circuit_breaker.failure_threshold = 3;
        c.upstream.circuit_breaker.cool_down_ms = 60_000;
    })
    .await;
    // The authorization's code exchange and its discovery lookup are
    // upstream requests of the provider, like its tool calls.
    let metrics = w.gw.metrics().await;
    common::assert_series(
        &metrics,
        &[
            r#"switchboard_upstream_responses_total{provider="studio",status="200"} 2"#,
            r#"switchboard_upstream_request_duration_seconds_count{provider="studio"} 2"#,
        ],
    );

    w.tokens.unavailable.store(true, Ordering::SeqCst);
    expire(&w).await;
    for _ in 0..3 {
        let (status, body) = call(&w.gw, &w.account).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("circuit open")
        );
    }
    let sent = common::requests_to(&w.mock, "/oauth/token").await;
    assert_eq!(sent, 4, "the code exchange and three refreshes");
    let metrics = w.gw.metrics().await;
    common::assert_series(
        &metrics,
        &[
            r#"switchboard_upstream_responses_total{provider="studio",status="503"} 3"#,
            r#"switchboard_circuit_state{provider="studio"} 1"#,
        ],
    );

    // The circuit is open: the next refresh fails fast, with the code and
    // the pause an open circuit gives tool calls, and sends nothing.
    let (status, body) = call(&w.gw, &w.account).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(circuit open)"),
        "{body}"
    );
    assert!(body["error"]["retry_after_s"].as_u64().is_some(), "{body}");
    assert_eq!(
        common::requests_to(&w.mock, "/oauth/token").await,
        sent,
        "nothing is sent"
    );
    common::assert_series(
        &w.gw.metrics().await,
        &[r#"switchboard_circuit_rejections_total{provider="studio"} 1"#],
    );
    let (_, account) =
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await;
    assert_eq!(account["status"], "active", "a transient failure");
    w.gw.stop().await;
}

async fn a_refused_refresh_token_is_a_healthy_host(backend: Backend) {
    // One failure would open the circuit; `invalid_grant` is not one.
    let w = world_with(&backend, &["at-1"], |c| {
        c.upstream.circuit_breaker.failure_threshold = 1;
    })
    .await;
    w.tokens.revoked.store(true, Ordering::SeqCst);
    expire(&w).await;
    let (status, body) = call(&w.gw, &w.account).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["details"]["status"], "revoked");
    let metrics = w.gw.metrics().await;
    common::assert_series(
        &metrics,
        &[
            r#"switchboard_upstream_responses_total{provider="studio",status="400"} 1"#,
            r#"switchboard_circuit_state{provider="studio"} 0"#,
        ],
    );
    // The user connects again: the token endpoint is reachable at once.
    w.tokens.revoked.store(false, Ordering::SeqCst);
    let response = w.gw.authorize(&w.account, "c0de").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(call(&w.gw, &w.account).await.0, StatusCode::OK);
    w.gw.stop().await;
}

async fn idle_accounts_are_refreshed_in_the_background(backend: Backend) {
    let idle = |c: &mut switchboard::config::Config| {
        c.idle_refresh_after_s = 1;
        c.upkeep_interval_ms = 200;
    };
    let tokens = [
        "at-2", "at-3", "at-4", "at-5", "at-6", "at-7", "at-8", "at-9",
    ];
    let w = world_with(&backend, &tokens, idle).await;
    common::eventually("the idle account is refreshed", || async {
        w.tokens.refreshes.load(Ordering::SeqCst) >= 1
    })
    .await;
    let (_, account) =
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await;
    assert_eq!(account["status"], "active");
    assert_eq!(
        call(&w.gw, &w.account).await.0,
        StatusCode::OK,
        "the refreshed token works"
    );
    w.gw.stop().await;

    // A refresh token the provider no longer accepts: the account is revoked.
    let w = world_with(&backend, &["at-2"], idle).await;
    w.tokens.revoked.store(true, Ordering::SeqCst);
    common::eventually("the account is revoked", || async {
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await
            .1["status"]
            == "revoked"
    })
    .await;
    w.gw.stop().await;
}

async fn imported_tokens_are_used_and_refreshed_as_usual(backend: Backend) {
    let w = world(&backend, &["at-1", "imported-at", "at-2"]).await;
    let (_, first) =
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await;
    let conn = first["connection_id"].as_str().unwrap();
    let bob = w.gw.account(conn, "bob", None).await;
    let path = format!("/v1/connected-accounts/{bob}/credentials");

    let (status, body) =
        w.gw.post(&path, json!({"access_token": "x", "refresh": "y"}))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `refresh`"),
        "{body}"
    );

    // A live token from another system: used as it is, values discovered.
    let (status, account) =
        w.gw.post(
            &path,
            json!({"access_token": "imported-at", "refresh_token": "rt-1",
                   "expires_at": "2999-01-01T00:00:00Z", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["status"], "active");
    assert_eq!(account["scopes"], json!(["read"]));
    assert_eq!(account["config"]["site_id"], "s1");
    assert_eq!(call(&w.gw, &bob).await.0, StatusCode::OK);
    assert_eq!(w.tokens.refreshes.load(Ordering::SeqCst), 0);
    let stored = w.gw.table_text("connected_accounts").await;
    assert!(!stored.contains("imported-at"), "tokens are sealed at rest");

    // An expired one is refreshed with its refresh token before the call.
    let (status, _) =
        w.gw.post(
            &path,
            json!({"access_token": "imported-at", "refresh_token": "rt-1", "expires_at": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call(&w.gw, &bob).await.0, StatusCode::OK);
    assert_eq!(w.tokens.refreshes.load(Ordering::SeqCst), 1);
    w.gw.stop().await;
}

async fn the_proxy_refreshes_on_a_401_and_sends_again(backend: Backend) {
    // at-1 (from the authorization) is refused; the refreshed at-2 works.
    let w = world(&backend, &["at-2"]).await;
    let response =
        w.gw.client
            .get(w.gw.url(&format!("/v1/proxy/{}/", w.account)))
            .bearer_auth(common::API_KEY)
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"name": "site"})
    );
    assert_eq!(w.tokens.refreshes.load(Ordering::SeqCst), 1);
    w.gw.stop().await;
}

/// The account events an app hears of: a refresh failing for a while (once
/// per run of failures), the user's grant revoked, and a token that expired
/// with nothing to refresh it; and the audit trail's record of each.
async fn account_events_reach_webhooks(backend: Backend) {
    let w = world(&backend, &["at-2", "imported-at"]).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let (status, hook) =
        w.gw.post(
            "/v1/webhooks",
            json!({"url": format!("{}/hooks", receiver.uri())}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let heard = || async {
        let mut events: Vec<(String, String, Value)> = receiver
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                (
                    body["type"].as_str().unwrap().to_owned(),
                    body["data"]["connected_account_id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    body,
                )
            })
            .collect();
        events.sort_by(|a, b| a.2["timestamp"].as_str().cmp(&b.2["timestamp"].as_str()));
        events
    };

    // Two calls fail to refresh: one `account.refresh_failed`.
    w.tokens.unavailable.store(true, Ordering::SeqCst);
    expire(&w).await;
    for _ in 0..2 {
        assert_eq!(
            call(&w.gw, &w.account).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    // Then the provider says the grant is gone: `account.revoked`.
    w.tokens.unavailable.store(false, Ordering::SeqCst);
    w.tokens.revoked.store(true, Ordering::SeqCst);
    assert_eq!(call(&w.gw, &w.account).await.0, StatusCode::CONFLICT);

    // Imported tokens with no refresh token expire for good:
    // `account.connected`, then `account.reauthorization_required`.
    let (_, first) =
        w.gw.get(&format!("/v1/connected-accounts/{}", w.account))
            .await;
    let bob =
        w.gw.account(first["connection_id"].as_str().unwrap(), "bob", None)
            .await;
    let (status, body) =
        w.gw.post(
            &format!("/v1/connected-accounts/{bob}/credentials"),
            json!({"access_token": "imported-at", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&w.gw, &bob).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let expected = [
        ("account.refresh_failed", &w.account),
        ("account.revoked", &w.account),
        ("account.connected", &bob),
        ("account.reauthorization_required", &bob),
    ];
    let mut events = Vec::new();
    for _ in 0..200 {
        events = heard().await;
        if events.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|(t, a, _)| (t.as_str(), a.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = expected.iter().map(|(t, a)| (*t, a.as_str())).collect();
    assert_eq!(got, want, "{events:#?}");
    let failed = &events[0].2["data"];
    assert_eq!(failed["status"], "active");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("could not refresh"),
        "{failed}"
    );
    assert!(
        events[1].2["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    assert_eq!(events[3].2["data"]["status"], "expired");

    // The audit trail holds the same story, refreshes included.
    let mut actions = Vec::new();
    for _ in 0..100 {
        let (_, page) =
            w.gw.get(&format!(
                "/v1/audit-logs?connected_account_id={}&limit=100",
                w.account
            ))
            .await;
        actions = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        if actions.contains(&"account.revoked".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for action in [
        "authorization.started",
        "authorization.completed",
        "token.refresh_failed",
        "account.revoked",
        "tool.executed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    let metrics = w.gw.metrics().await;
    for line in [
        "switchboard_token_refreshes_total{outcome=\"failed\",provider=\"studio\"} 2",
        "switchboard_token_refreshes_total{outcome=\"revoked\",provider=\"studio\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    w.gw.stop().await;
}

both_backends!(
    account_events_reach_webhooks,
    the_proxy_refreshes_on_a_401_and_sends_again,
    imported_tokens_are_used_and_refreshed_as_usual,
    idle_accounts_are_refreshed_in_the_background,
    hundred_concurrent_calls_on_an_expired_account_refresh_once,
    a_401_refreshes_once_and_retries_once,
    rotated_refresh_tokens_replace_the_old_ones,
    invalid_grant_revokes_and_asks_for_the_user,
    a_transient_refresh_failure_keeps_the_account_active,
    a_failing_token_endpoint_opens_the_circuit,
    a_refused_refresh_token_is_a_healthy_host,
);

/// Two replicas on one PostgreSQL database: calls on both, one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_refresh() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("skipped replicas_share_one_refresh: SWITCHBOARD_TEST_DATABASE_URL is not set");
        return;
    };
    let w = world(&backend, &["at-2"]).await;
    let replica = Arc::new(w.gw.replica().await);
    expire(&w).await;
    let first = Arc::new(w.gw);
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let gw = if i % 2 == 0 {
                first.clone()
            } else {
                replica.clone()
            };
            let account = w.account.clone();
            tokio::spawn(async move { call(&gw, &account).await })
        })
        .collect();
    for c in calls {
        let (status, body) = c.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        w.tokens.refreshes.load(Ordering::SeqCst),
        1,
        "one refresh across replicas"
    );
    Arc::try_unwrap(replica).ok().unwrap().stop_replica().await;
    Arc::try_unwrap(first).ok().unwrap().stop().await;
}
