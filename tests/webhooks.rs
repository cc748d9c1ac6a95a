//! Webhooks on account events: registration, Standard Webhooks signatures
//! (checked by an independent implementation), the outbox's retries and
//! delivery records, and a gateway killed mid-delivery losing nothing.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::GatewayProcess;
use common::{API_KEY, Backend, Setup, TestGateway, keyed_call, scratch_dir, specs_dir};
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACME: &str = "tests/fixtures/specs/acme.yaml";
const SECRET_KEY: &str = "sk_live_hook_1a2b3c";

async fn gateway(backend: &Backend) -> TestGateway {
    TestGateway::start(backend, Setup::new(specs_dir(&[ACME]))).await
}

/// A webhook receiver at `/hooks`: answers `first` to the first delivery
/// when given, and `status` to every other.
async fn receiver(first: Option<ResponseTemplate>, status: u16) -> MockServer {
    let receiver = MockServer::start().await;
    if let Some(first) = first {
        Mock::given(method("POST"))
            .and(path("/hooks"))
            .respond_with(first)
            .up_to_n_times(1)
            .mount(&receiver)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&receiver)
        .await;
    receiver
}

/// Registers an endpoint at `receiver`'s `/hooks`; returns (id, secret).
async fn register(
    gw: &TestGateway,
    receiver: &MockServer,
    events: Option<Value>,
) -> (String, String) {
    let mut body = json!({"url": format!("{}/hooks", receiver.uri())});
    if let Some(events) = events {
        body["events"] = events;
    }
    let (status, hook) = gw.post("/v1/webhooks", body).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    (
        hook["id"].as_str().unwrap().to_owned(),
        hook["secret"].as_str().unwrap().to_owned(),
    )
}

/// The deliveries `receiver` got, as the verifier reads them.
async fn received(receiver: &MockServer, secret: &str) -> Vec<Value> {
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/hooks")
        .map(|r| {
            let headers: serde_json::Map<String, Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
                .collect();
            json!({
                "secret": secret,
                "body": String::from_utf8_lossy(&r.body),
                "headers": headers,
            })
        })
        .collect()
}

/// Verifies every delivery with the `standardwebhooks` package; returns the
/// event types, or `None` (said so) when the package is missing.
fn verify_independently(deliveries: &[Value]) -> Option<Vec<String>> {
    let file = scratch_dir("webhooks").join("deliveries.json");
    std::fs::write(&file, serde_json::to_vec(deliveries).unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/verify.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs");
    if out.status.code() == Some(3) {
        eprintln!("skipped the independent signature check: pip install standardwebhooks");
        return None;
    }
    assert!(
        out.status.success(),
        "a signature did not verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

async fn wait_for_deliveries(receiver: &MockServer, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = received(receiver, "").await.len();
        if got >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{got} of {n} deliveries arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn account_events_are_signed_and_delivered(backend: Backend) {
    let receiver = receiver(None, 204).await;
    let gw = gateway(&backend).await;
    let (hook, secret) = register(&gw, &receiver, None).await;
    // Another endpoint wants only revocations: it hears nothing here.
    let (quiet, _) = register(&gw, &receiver, Some(json!(["account.revoked"]))).await;

    let conn = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    let account = gw
        .account(&conn, "ann", Some(json!({"api_key": SECRET_KEY})))
        .await;
    wait_for_deliveries(&receiver, 1).await;
    let deliveries = received(&receiver, &secret).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    let d = &deliveries[0];
    let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "account.connected");
    assert_eq!(body["data"]["connected_account_id"], account.as_str());
    assert_eq!(body["data"]["provider"], "acme");
    assert_eq!(body["data"]["identifier"], "ann");
    assert_eq!(body["data"]["status"], "active");
    assert_eq!(d["headers"]["content-type"], "application/json");
    let id = d["headers"]["webhook-id"].as_str().unwrap();
    assert!(id.starts_with("msg_"));
    let timestamp: i64 = d["headers"]["webhook-timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((timestamp - switchboard::clock::now_ms() / 1000).abs() < 60);
    assert!(
        d["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,")
    );
    if let Some(types) = verify_independently(&deliveries) {
        assert_eq!(types, ["account.connected"]);
    }
    // A wrong secret does not verify (the check bites).
    let mut forged = deliveries.clone();
    forged[0]["secret"] = json!(switchboard::webhooks::new_secret());
    let file = scratch_dir("webhooks").join("forged.json");
    std::fs::write(&file, serde_json::to_vec(&forged).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/verify.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(0),
        "a forged secret must not verify"
    );

    // The delivery is recorded.
    let (status, page) = gw.get(&format!("/v1/webhooks/{hook}/deliveries")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let recorded = &page["data"][0];
    assert_eq!(recorded["id"], id);
    assert_eq!(recorded["event_type"], "account.connected");
    assert_eq!(recorded["status"], "delivered");
    assert_eq!(recorded["attempts"], 1);
    assert_eq!(recorded["last_response_status"], 204);
    assert_eq!(recorded["payload"], body);
    let (_, page) = gw.get(&format!("/v1/webhooks/{quiet}/deliveries")).await;
    assert_eq!(page["data"], json!([]));

    // The secret was shown once; it is sealed at rest.
    let (_, listed) = gw.get("/v1/webhooks").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&secret));
    let (_, one) = gw.get(&format!("/v1/webhooks/{hook}")).await;
    assert!(one.get("secret").is_none());
    assert_eq!(
        one["events"],
        json!([
            "account.connected",
            "account.reauthorization_required",
            "account.revoked",
            "account.refresh_failed"
        ])
    );
    assert!(!gw.table_text("webhooks").await.contains(&secret));

    // Deleting an endpoint takes its deliveries with it.
    assert_eq!(
        gw.delete(&format!("/v1/webhooks/{hook}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        gw.get(&format!("/v1/webhooks/{hook}/deliveries")).await.0,
        StatusCode::NOT_FOUND
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            "switchboard_webhook_deliveries_total{event=\"account.connected\",outcome=\"delivered\"} 1"
        ),
        "{metrics}"
    );
    gw.stop().await;
}

async fn bad_registrations_are_refused(backend: Backend) {
    let gw = gateway(&backend).await;
    for (body, expected) in [
        (
            json!({"url": "http://hooks.example.com/in"}),
            "must use https",
        ),
        (json!({"url": "not a url"}), "not an absolute URL"),
        (
            json!({"url": "https://hooks.example.com/in", "events": ["account.conected"]}),
            "account.connected",
        ),
        (
            json!({"url": "https://hooks.example.com/in", "events": []}),
            "at least one event",
        ),
        (
            json!({"url": "https://hooks.example.com/in", "secret": "x"}),
            "secret",
        ),
    ] {
        let (status, answer) = gw.post("/v1/webhooks", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert_eq!(
        gw.get("/v1/webhooks/wh_missing").await.0,
        StatusCode::NOT_FOUND
    );
    gw.stop().await;
}

async fn a_failed_delivery_is_tried_again(backend: Backend) {
    let receiver = receiver(Some(ResponseTemplate::new(503)), 200).await;
    let gw = gateway(&backend).await;
    let (hook, secret) = register(&gw, &receiver, None).await;
    let conn = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    gw.account(&conn, "ann", Some(json!({"api_key": SECRET_KEY})))
        .await;
    wait_for_deliveries(&receiver, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, page) = gw.get(&format!("/v1/webhooks/{hook}/deliveries")).await;
    let first = &page["data"][0];
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["last_response_status"], 503);
    assert_eq!(first["last_error"], "the endpoint answered 503");
    assert!(first["next_attempt_at"].is_string());

    // The first retry comes 5 s later, with the same id.
    wait_for_deliveries(&receiver, 2).await;
    let deliveries = received(&receiver, &secret).await;
    assert_eq!(
        deliveries[0]["headers"]["webhook-id"],
        deliveries[1]["headers"]["webhook-id"]
    );
    if let Some(types) = verify_independently(&deliveries) {
        assert_eq!(types, ["account.connected", "account.connected"]);
    }
    let mut done = Value::Null;
    for _ in 0..100 {
        let (_, page) = gw.get(&format!("/v1/webhooks/{hook}/deliveries")).await;
        done = page["data"][0].clone();
        if done["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(done["status"], "delivered", "{done}");
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["last_response_status"], 200);
    gw.stop().await;
}

both_backends!(
    account_events_are_signed_and_delivered,
    bad_registrations_are_refused,
    a_failed_delivery_is_tried_again,
);

/// A gateway killed (SIGKILL) while a delivery is on its way: the event is
/// in the outbox, so the restarted gateway sends it, with the same id, once
/// the dead attempt's lease has run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_delivery_loses_nothing() {
    // The first delivery hangs until the gateway is gone.
    let receiver = receiver(
        Some(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))),
        200,
    )
    .await;
    let dir = scratch_dir("webhook-crash");
    let specs = specs_dir(&[ACME]);
    let config = dir.join("switchboard.yaml");
    std::fs::write(
        &config,
        format!(
            "database_url: sqlite://{db}\napi_keys: [{API_KEY}]\nencryption_key: {key}\n\
             specs_dir: {specs}\ndata_dir: {data}\nwebhook_timeout_ms: 2000\n",
            db = dir.join("switchboard.db").display(),
            key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
            specs = specs.display(),
            data = dir.display(),
        ),
    )
    .unwrap();
    let mut gateway = GatewayProcess::start(&config, "127.0.0.1:0");
    let client = reqwest::Client::new();
    let base = gateway.base.clone();
    let post = |path: &str, body: Value| {
        let url = format!("{base}{path}");
        let client = client.clone();
        async move { keyed_call(&client, Method::POST, &url, Some(body)).await.1 }
    };
    let hook = post(
        "/v1/webhooks",
        json!({"url": format!("{}/hooks", receiver.uri())}),
    )
    .await;
    let conn = post(
        "/v1/connections",
        json!({"provider": "acme", "config": {"site": "north"}}),
    )
    .await;
    let account = post(
        "/v1/connected-accounts",
        json!({"connection_id": conn["id"], "identifier": "ann"}),
    )
    .await;
    let (status, _) = keyed_call(
        &client,
        Method::POST,
        &format!(
            "{base}/v1/connected-accounts/{}/credentials",
            account["id"].as_str().unwrap()
        ),
        Some(json!({"api_key": SECRET_KEY})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The delivery is on its way (the receiver holds it): kill the gateway.
    wait_for_deliveries(&receiver, 1).await;
    gateway.kill();
    gateway.restart();

    // After the lease (2 × 2 s + 5 s), the new process sends it again.
    wait_for_deliveries(&receiver, 2).await;
    let deliveries = received(&receiver, hook["secret"].as_str().unwrap()).await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!(
        deliveries[0]["headers"]["webhook-id"], deliveries[1]["headers"]["webhook-id"],
        "the same message, so the receiver can drop the repeat"
    );
    if let Some(types) = verify_independently(&deliveries) {
        assert_eq!(types, ["account.connected", "account.connected"]);
    }
    let deliveries_url = format!(
        "{}/v1/webhooks/{}/deliveries",
        gateway.base,
        hook["id"].as_str().unwrap()
    );
    let mut recorded = Value::Null;
    for _ in 0..100 {
        let (_, page) = keyed_call(&client, Method::GET, &deliveries_url, None).await;
        recorded = page["data"][0].clone();
        if recorded["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded["status"], "delivered", "{recorded}");
    // The killed attempt never finished, so it was never counted.
    assert_eq!(recorded["attempts"], 1);
    gateway.kill();
}
