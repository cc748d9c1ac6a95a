//! `oauth2_client_credentials` providers: a token bought with the
//! connection's client id and secret (RFC 6749 section 4.4), cached per
//! connection, fetched once however many calls need it, replaced on expiry
//! and when the provider refuses it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const MACHINE: &str = "tests/fixtures/oauth/machine.yaml";
const CLIENT_ID: &str = "app id";
const CLIENT_SECRET: &str = "s3cret/+=";

/// A token endpoint that checks the request as RFC 6749 says and answers
/// `tok-1`, `tok-2`, … in turn.
#[derive(Clone, Default)]
struct TokenEndpoint {
    issued: Arc<Mutex<u32>>,
    expires_in: u64,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        // Section 2.3.1: id and secret form-encoded, then HTTP Basic.
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("app+id:s3cret%2F%2B%3D")
        );
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(expected.as_str()) {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        }
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        let body = String::from_utf8_lossy(&request.body);
        if content_type != Some("application/x-www-form-urlencoded")
            || body != "grant_type=client_credentials&scope=status%3Aread+extra"
        {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_request", "error_description": body}));
        }
        let mut issued = self.issued.lock().unwrap();
        *issued += 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("tok-{issued}"),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }))
    }
}

async fn gateway(mock: &MockServer, skew_s: u64) -> (TestGateway, String) {
    let uri = mock.uri();
    let setup = Setup::new(specs_dir(&[MACHINE]))
        .base_url("machine", format!("{uri}/v1"))
        .configure(move |c| {
            c.token_refresh_skew_s = skew_s;
            if let Some(o) = c.provider_overrides.get_mut("machine") {
                o.token_url = Some(format!("{uri}/oauth/token"));
            }
        });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    let conn = gw
        .connection(json!({"provider": "machine", "scopes": ["extra"],
                           "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}))
        .await;
    let (status, account) = gw
        .post(
            "/v1/connected-accounts",
            json!({"connection_id": conn, "identifier": "svc"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        account["status"], "active",
        "no user authorization is needed"
    );
    (gw, account["id"].as_str().unwrap().to_owned())
}

async fn status(gw: &TestGateway, account: &str) -> (StatusCode, serde_json::Value) {
    gw.post(
        "/v1/tools/execute",
        json!({"connected_account_id": account, "tool": "get_status"}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_fetch_one_token() {
    let mock = MockServer::start().await;
    let endpoint = TokenEndpoint {
        expires_in: 3600,
        ..Default::default()
    };
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(endpoint)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/status"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "green"})))
        .mount(&mock)
        .await;
    let (gw, account) = gateway(&mock, 60).await;
    let gw = Arc::new(gw);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (gw, account) = (gw.clone(), account.clone());
            tokio::spawn(async move { status(&gw, &account).await })
        })
        .collect();
    for call in calls {
        let (code, body) = call.await.unwrap();
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_eq!(body["data"], json!({"status": "green"}));
    }
    assert_eq!(
        common::requests_to(&mock, "/oauth/token").await,
        1,
        "single-flight: one token for twenty calls"
    );
    Arc::try_unwrap(gw).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_replaced() {
    let mock = MockServer::start().await;
    let endpoint = TokenEndpoint {
        expires_in: 2,
        ..Default::default()
    };
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(endpoint)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "green"})))
        .mount(&mock)
        .await;
    // With a one-second skew a two-second token is used for one second.
    let (gw, account) = gateway(&mock, 1).await;
    assert_eq!(status(&gw, &account).await.0, StatusCode::OK);
    assert_eq!(status(&gw, &account).await.0, StatusCode::OK);
    assert_eq!(common::requests_to(&mock, "/oauth/token").await, 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(status(&gw, &account).await.0, StatusCode::OK);
    assert_eq!(common::requests_to(&mock, "/oauth/token").await, 2);
    let api_auth: Vec<String> = mock
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/status")
        .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(api_auth, ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_replaced_once_and_the_call_made_again() {
    let mock = MockServer::start().await;
    let endpoint = TokenEndpoint {
        expires_in: 3600,
        ..Default::default()
    };
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(endpoint)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/status"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "token revoked"})))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/status"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "green"})))
        .mount(&mock)
        .await;
    let (gw, account) = gateway(&mock, 60).await;
    let (code, body) = status(&gw, &account).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["attempts"], 2);
    assert_eq!(common::requests_to(&mock, "/oauth/token").await, 2);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_client_credentials_are_reported() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string(
            "grant_type=client_credentials&scope=status%3Aread+extra",
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        ))
        .mount(&mock)
        .await;
    let (gw, account) = gateway(&mock, 60).await;
    let (code, body) = status(&gw, &account).await;
    assert_eq!(code, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "provider_error");
    assert_eq!(
        body["error"]["message"],
        "the token endpoint refused the request (invalid_client: Client authentication failed)"
    );
    assert_eq!(body["error"]["details"]["provider_code"], "invalid_client");
    assert!(!body.to_string().contains(CLIENT_SECRET));

    // Token requests are the provider's upstream requests; a refusal is a
    // healthy host, so however often it comes, the circuit stays closed.
    for _ in 0..5 {
        assert_eq!(status(&gw, &account).await.0, StatusCode::BAD_GATEWAY);
    }
    assert_eq!(common::requests_to(&mock, "/oauth/token").await, 6);
    let metrics = gw.metrics().await;
    common::assert_series(
        &metrics,
        &[
            r#"switchboard_upstream_responses_total{provider="machine",status="401"} 6"#,
            r#"switchboard_circuit_state{provider="machine"} 0"#,
        ],
    );
    gw.stop().await;
}
