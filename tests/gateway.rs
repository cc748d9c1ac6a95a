//! The gateway end to end: a real server on an ephemeral port, a real store
//! (SQLite and PostgreSQL), and a mock provider that checks what it receives.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{API_KEY, Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::store::Change;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACME: &str = "tests/fixtures/specs/acme.yaml";
const SECRET_KEY: &str = "sk_live_9f8e7d6c5b4a";
const CLIENT_SECRET: &str = "cs_very_private_4242";

/// A gateway whose `acme` provider points at a fresh mock.
async fn acme_gateway(backend: &Backend) -> (TestGateway, MockServer) {
    let mock = MockServer::start().await;
    let setup = Setup::new(specs_dir(&[ACME, "provider-specs/slack.yaml"]))
        .base_url("acme", format!("{}/api/v2", mock.uri()));
    (TestGateway::start(backend, setup).await, mock)
}

/// An active acme account; returns (connection id, account id).
async fn acme_account(gw: &TestGateway, identifier: &str) -> (String, String) {
    let conn = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    let account = gw
        .account(&conn, identifier, Some(json!({"api_key": SECRET_KEY})))
        .await;
    (conn, account)
}

/// Announces a JSON body of `length` bytes with `Expect: 100-continue` and
/// reads the gateway's answer (status, JSON body) without sending the body.
async fn oversized_request(gw: &TestGateway, length: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gw.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/tools/execute HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {API_KEY}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\nexpect: 100-continue\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut chunk))
            .await
            .expect("the gateway answers at once")
            .unwrap();
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if n == 0 || (text.contains("\r\n\r\n") && text.trim_end().ends_with('}')) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    // The body may be chunked: take the JSON object inside.
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or("<no code>"),
        body["error"]["message"].as_str().unwrap_or("<no message>"),
    )
}

async fn full_path_from_connection_to_execution(backend: Backend) {
    let (gw, mock) = acme_gateway(&backend).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/u%2042"))
        .and(query_param("key", SECRET_KEY))
        .and(query_param("verbose", "true"))
        .and(header("accept", "application/json"))
        .and(header("x-acme-account", "none"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": {"id": "u 42", "name": "Ann Lee", "emails": [{"address": "ann@example.com"}]}
        })))
        .expect(2)
        .mount(&mock)
        .await;

    let (status, conn) = gw
        .post(
            "/v1/connections",
            json!({"provider": "acme", "config": {"site": "north"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{conn}");
    assert!(conn["id"].as_str().unwrap().starts_with("conn_"));
    assert_eq!(conn["auth_type"], "api_key");
    assert_eq!(conn["config"], json!({"site": "north"}));

    let (status, account) = gw
        .post(
            "/v1/connected-accounts",
            json!({"connection_id": conn["id"], "identifier": "user-1", "metadata": {"team": "ops"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let id = account["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ca_"));
    assert_eq!(account["status"], "pending");
    assert_eq!(account["label"], "default");
    assert_eq!(account["identifier_type"], "user_id");
    assert_eq!(account["provider"], "acme");

    let (status, account) = gw
        .post(
            &format!("/v1/connected-accounts/{id}/credentials"),
            json!({"api_key": SECRET_KEY}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["status"], "active");
    assert_eq!(account["has_credentials"], true);
    assert!(!account.to_string().contains(SECRET_KEY));

    let (status, result) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": id, "tool": "get_user", "parameters": {"id": "u 42", "verbose": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(
        result["data"],
        json!({"id": "u 42", "name": "Ann Lee", "emails": ["ann@example.com"]})
    );
    let meta = &result["meta"];
    assert_eq!(meta["provider"], "acme");
    assert_eq!(meta["tool"], "get_user");
    assert_eq!(meta["connected_account_id"], id.as_str());
    assert_eq!(meta["upstream_status"], 200);
    assert_eq!(meta["attempts"], 1);
    assert!(meta["request_id"].as_str().unwrap().starts_with("req_"));
    assert!(meta["duration_ms"].is_u64());

    // By identifier + provider, and with the provider-qualified tool name.
    let (status, result) = gw
        .post(
            "/v1/tools/execute",
            json!({"identifier": "user-1", "provider": "acme", "tool": "acme.get_user",
                   "parameters": {"id": "u 42", "verbose": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    mock.verify().await;
    gw.stop().await;
}

async fn management_api_lists_filters_and_updates(backend: Backend) {
    let (gw, _mock) = acme_gateway(&backend).await;
    let acme = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    let slack = gw
        .connection(json!({"provider": "slack", "credentials": {"client_id": "123.456", "client_secret": CLIENT_SECRET}, "scopes": ["users:read"]}))
        .await;
    let mut ids = Vec::new();
    for user in ["u1", "u2", "u3"] {
        ids.push(gw.account(&acme, user, None).await);
    }
    let work = gw.account(&slack, "u1", None).await;

    let (_, page) = gw.get("/v1/connections?provider=slack").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], slack.as_str());
    assert_eq!(page["data"][0]["has_credentials"], true);
    assert_eq!(page["data"][0]["scopes"], json!(["users:read"]));
    assert!(!page.to_string().contains(CLIENT_SECRET));

    // Pages of two, in creation order.
    let (_, first) = gw.get("/v1/connected-accounts?provider=acme&limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = gw
        .get(&format!(
            "/v1/connected-accounts?provider=acme&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let listed: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());

    let (_, by_user) = gw.get("/v1/connected-accounts?identifier=u1").await;
    assert_eq!(by_user["data"].as_array().unwrap().len(), 2);
    let (_, pending) = gw
        .get("/v1/connected-accounts?identifier=u1&provider=slack&status=pending")
        .await;
    assert_eq!(pending["data"][0]["id"], work.as_str());

    // One user, two accounts of one provider, told apart by label.
    let (status, relabeled) = gw
        .patch(
            &format!("/v1/connected-accounts/{work}"),
            json!({"label": "work", "metadata": {"x": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{relabeled}");
    assert_eq!(relabeled["label"], "work");
    assert_eq!(relabeled["metadata"], json!({"x": 1}));
    let personal = gw.account(&slack, "u1", None).await;
    let (_, got) = gw.get(&format!("/v1/connected-accounts/{personal}")).await;
    assert_eq!(got["label"], "default");

    let (status, updated) = gw
        .patch(
            &format!("/v1/connections/{acme}"),
            json!({"scopes": ["read"], "config": {"site": "south"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["config"], json!({"site": "south"}));

    // Updates of different fields at the same time never undo each other.
    let target = format!("/v1/connections/{acme}");
    let scopes = gw.patch(&target, json!({"scopes": ["write"]}));
    let config = gw.patch(&target, json!({"config": {"site": "east"}}));
    let (a, b) = tokio::join!(scopes, config);
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK));
    let (_, both) = gw.get(&format!("/v1/connections/{acme}")).await;
    assert_eq!(
        (&both["scopes"], &both["config"]),
        (&json!(["write"]), &json!({"site": "east"}))
    );

    let (status, deleted) = gw.delete(&format!("/v1/connections/{acme}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["connected_accounts_deleted"], 3);
    let (status, _) = gw.get(&format!("/v1/connected-accounts/{}", ids[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = gw
        .delete(&format!("/v1/connected-accounts/{personal}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw
        .delete(&format!("/v1/connected-accounts/{personal}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
}

async fn every_error_code_in_one_envelope(backend: Backend) {
    let (gw, mock) = acme_gateway(&backend).await;
    let (conn, account) = acme_account(&gw, "user-1").await;
    let execute = |parameters: Value| json!({"connected_account_id": account, "tool": "get_user", "parameters": parameters});

    // invalid_request: malformed JSON, wrong content type, unknown and missing fields.
    let raw = |body: &'static str, content_type: &'static str| {
        gw.client
            .post(gw.url("/v1/connections"))
            .bearer_auth(API_KEY)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = raw("{\"provider\": ", "application/json").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body).0, "invalid_request");
    assert!(
        error_of(&body).1.starts_with("the body is not valid JSON"),
        "{body}"
    );
    assert!(
        body["error"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    let response = raw("{}", "text/plain").await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "the body must be JSON, sent with Content-Type: application/json"
        )
    );
    // A list is no object, though serde would read one into a struct.
    let response = raw("[\"acme\", null, null, [\"a\"]]", "application/json")
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        error_of(&body),
        ("invalid_request", "the body must be a JSON object")
    );
    // A path parameter that is not UTF-8 is an envelope too.
    let (status, body) = gw.get("/v1/connections/%FF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).1.starts_with("invalid path"), "{body}");
    // auth-url's optional body is JSON when it is there.
    let response = gw
        .client
        .post(gw.url(&format!("/v1/connected-accounts/{account}/auth-url")))
        .bearer_auth(API_KEY)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, body) = gw
        .post("/v1/connections", json!({"provider": "acme", "confg": {}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&body).1.contains("unknown field `confg`"),
        "{body}"
    );
    let (_, body) = gw
        .post("/v1/connections", json!({"provider": "acme"}))
        .await;
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "provider `acme` needs config `site` (The customer's site name)"
        )
    );
    let (_, body) = gw
        .post(
            "/v1/connections",
            json!({"provider": "acme", "config": {"siet": "x"}}),
        )
        .await;
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "`siet` is not a config setting of provider `acme` (settings: site) (did you mean `site`?)"
        )
    );
    let (_, body) = gw
        .post(
            "/v1/connections",
            json!({"provider": "acme", "config": {"site": "No Spaces!"}}),
        )
        .await;
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "config `site` value `No Spaces!` does not match `[a-z0-9-]+`"
        )
    );
    let (_, body) = gw
        .post("/v1/connections", json!({"provider": "slack"}))
        .await;
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "an OAuth 2.0 connection needs credentials.client_id (or `managed: true`)"
        )
    );
    // A body over the limit is refused from its declared length, before it
    // is sent (the client waits for `100 Continue`, which never comes).
    let (status, body) = oversized_request(&gw, 2 * 1024 * 1024).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_of(&body),
        ("invalid_request", "the body is too large")
    );
    let (_, body) = gw
        .post("/v1/tools/execute", json!({"tool": "get_user"}))
        .await;
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "give connected_account_id, or identifier and provider"
        )
    );
    let (_, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "slack.send_message"}),
        )
        .await;
    assert_eq!(
        error_of(&body),
        (
            "invalid_request",
            "tool `slack.send_message` belongs to `slack`, but the account is a `acme` account"
        )
    );
    let (_, body) = gw.get("/v1/connected-accounts?limit=0").await;
    assert_eq!(
        error_of(&body),
        ("invalid_request", "limit must be between 1 and 200")
    );
    let (_, body) = gw.get("/v1/connected-accounts?status=happy").await;
    assert_eq!(error_of(&body).0, "invalid_request");

    // unauthenticated
    let response = gw
        .client
        .get(gw.url("/v1/connections"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body).0, "unauthenticated");
    let response = gw
        .client
        .get(gw.url("/v1/connections"))
        .bearer_auth("sb_wrong")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        error_of(&body),
        ("unauthenticated", "the API key is not valid")
    );

    // not_found
    let (status, body) = gw.get("/v1/connected-accounts/ca_nope").await;
    assert_eq!(
        (status, error_of(&body)),
        (
            StatusCode::NOT_FOUND,
            ("not_found", "no connected account `ca_nope`")
        )
    );
    let (_, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_usr"}),
        )
        .await;
    assert_eq!(
        error_of(&body),
        (
            "not_found",
            "provider `acme` has no tool `get_usr` (did you mean `get_user`?)"
        )
    );
    let (_, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"identifier": "nobody", "provider": "acme", "tool": "get_user"}),
        )
        .await;
    assert_eq!(
        error_of(&body),
        ("not_found", "`nobody` has no `acme` account")
    );
    let (_, body) = gw.get("/v1/nowhere").await;
    assert_eq!(error_of(&body), ("not_found", "no such route"));
    let (status, body) = gw
        .call(reqwest::Method::PUT, "/v1/tools/execute", None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        error_of(&body),
        ("invalid_request", "PUT is not allowed on /v1/tools/execute")
    );
    let (_, body) = gw.get("/v1/tools?provider=slak").await;
    assert_eq!(
        error_of(&body),
        (
            "not_found",
            "provider `slak` is not loaded (did you mean `slack`?)"
        )
    );

    // conflict: the same (connection, identifier, label), and an ambiguous identifier.
    let (status, body) = gw
        .post(
            "/v1/connected-accounts",
            json!({"connection_id": conn, "identifier": "user-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_of(&body).0, "conflict");
    assert_eq!(body["error"]["details"]["existing_id"], account.as_str());
    let (_, second) = gw
        .post(
            "/v1/connected-accounts",
            json!({"connection_id": conn, "identifier": "user-1", "label": "second"}),
        )
        .await;
    // One active and one pending account: the active one is meant.
    Mock::given(method("GET"))
        .and(path("/api/v2/users/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": "1"}})))
        .mount(&mock)
        .await;
    let by_identifier = json!({"identifier": "user-1", "provider": "acme", "tool": "get_user", "parameters": {"id": "1"}});
    let (status, body) = gw.post("/v1/tools/execute", by_identifier.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["connected_account_id"], account.as_str());

    // reauthorization_required: an account without credentials yet.
    let (status, body) = gw
        .post("/v1/tools/execute", json!({"connected_account_id": second["id"], "tool": "get_user", "parameters": {"id": "1"}}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_of(&body).0, "reauthorization_required");
    assert_eq!(body["error"]["details"]["status"], "pending");

    // Two active accounts: the identifier is ambiguous.
    let second_id = second["id"].as_str().unwrap();
    gw.post(
        &format!("/v1/connected-accounts/{second_id}/credentials"),
        json!({"api_key": SECRET_KEY}),
    )
    .await;
    let (status, body) = gw.post("/v1/tools/execute", by_identifier).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        error_of(&body),
        (
            "conflict",
            "`user-1` has 2 `acme` accounts; pass connected_account_id or label"
        )
    );
    let candidates: Vec<&str> = body["error"]["details"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(candidates, ["default", "second"]);

    // invalid_parameters: every failing field listed.
    let (status, body) = gw
        .post("/v1/tools/execute", execute(json!({"verbose": "yes"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&body).0, "invalid_parameters");
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/id", "/verbose"]);

    // Provider answers: rate_limited, provider_error, forbidden, reauthorization_required.
    let answer = |id: &str, response: ResponseTemplate| {
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/users/{id}")))
            .respond_with(response)
    };
    answer(
        "limited",
        ResponseTemplate::new(429)
            .insert_header("retry-after", "17")
            .set_body_json(json!({})),
    )
    .mount(&mock)
    .await;
    answer(
        "broken",
        ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "database is down"}})),
    )
    .mount(&mock)
    .await;
    answer(
        "private",
        ResponseTemplate::new(403).set_body_json(json!({"error": {"message": "not yours"}})),
    )
    .mount(&mock)
    .await;
    answer(
        "expired",
        ResponseTemplate::new(200).set_body_json(
            json!({"status": "error", "error": {"code": "AUTH_EXPIRED", "message": "key expired"}}),
        ),
    )
    .mount(&mock)
    .await;
    answer(
        "html",
        ResponseTemplate::new(502).set_body_raw("<html>bad gateway</html>", "text/html"),
    )
    .mount(&mock)
    .await;

    let response = gw
        .client
        .post(gw.url("/v1/tools/execute"))
        .bearer_auth(API_KEY)
        .json(&execute(json!({"id": "limited"})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "17");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body).0, "rate_limited");
    assert_eq!(body["error"]["retry_after_s"], 17);
    assert_eq!(body["error"]["upstream_status"], 429);
    assert_eq!(body["error"]["provider"], "acme");

    let cases = [
        (
            "broken",
            StatusCode::BAD_GATEWAY,
            "provider_error",
            "database is down",
        ),
        ("private", StatusCode::FORBIDDEN, "forbidden", "not yours"),
        (
            "expired",
            StatusCode::CONFLICT,
            "reauthorization_required",
            "key expired",
        ),
        (
            "html",
            StatusCode::BAD_GATEWAY,
            "provider_error",
            "the provider answered HTTP 502",
        ),
    ];
    for (id, http, code, message) in cases {
        let (status, body) = gw
            .post("/v1/tools/execute", execute(json!({ "id": id })))
            .await;
        assert_eq!((status, error_of(&body)), (http, (code, message)), "{id}");
    }

    gw.stop().await;
}

async fn timeouts_and_unreachable_providers(backend: Backend) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&mock)
        .await;
    // A port that refuses connections: bind, note it, close it.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("{}/api/v2", mock.uri()))
        .configure(|c| c.upstream.timeout_ms = 300);
    let gw = TestGateway::start(&backend, setup).await;
    let (_, account) = acme_account(&gw, "user-1").await;
    let started = std::time::Instant::now();
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(
        error_of(&body),
        (
            "upstream_timeout",
            "the provider did not answer within 300 ms"
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the deadline cut the call short"
    );
    gw.stop().await;

    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("http://127.0.0.1:{closed}/api/v2"));
    let gw = TestGateway::start(&backend, setup).await;
    let (_, account) = acme_account(&gw, "user-1").await;
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        error_of(&body),
        ("upstream_unavailable", "could not connect to 127.0.0.1")
    );
    gw.stop().await;
}

async fn secrets_are_encrypted_at_rest_and_never_returned(backend: Backend) {
    let (gw, _mock) = acme_gateway(&backend).await;
    let slack = gw
        .connection(json!({"provider": "slack", "credentials": {"client_id": "123.456", "client_secret": CLIENT_SECRET}}))
        .await;
    let (_, account) = acme_account(&gw, "user-1").await;
    let stored = format!(
        "{}{}",
        gw.table_text("connections").await,
        gw.table_text("connected_accounts").await
    );
    assert!(
        !stored.contains(SECRET_KEY),
        "the API key is stored in plain text"
    );
    assert!(
        !stored.contains(CLIENT_SECRET),
        "the client secret is stored in plain text"
    );
    assert!(
        stored.contains("v2."),
        "sealed values carry their format and key id"
    );

    for path in [
        format!("/v1/connections/{slack}"),
        "/v1/connections".to_owned(),
        format!("/v1/connected-accounts/{account}"),
        "/v1/connected-accounts".to_owned(),
    ] {
        let (_, body) = gw.get(&path).await;
        let text = body.to_string();
        assert!(
            !text.contains(SECRET_KEY) && !text.contains(CLIENT_SECRET),
            "{path}: {text}"
        );
        assert!(!text.contains("v2."), "{path} shows a sealed value");
    }

    // A tampered sealed value is an internal error that leaks nothing.
    gw.sql(&format!(
        "UPDATE connected_accounts SET credentials = 'v2.00000000.AAAA' WHERE id = '{account}'"
    ))
    .await;
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        error_of(&body),
        ("internal", "the account's credentials cannot be read")
    );
    gw.stop().await;
}

async fn data_survives_a_restart(backend: Backend) {
    let (gw, mock) = acme_gateway(&backend).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/7"))
        .and(query_param("key", SECRET_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": "7"}})))
        .mount(&mock)
        .await;
    let (conn, account) = acme_account(&gw, "user-1").await;
    let gw = gw.restart().await;
    let (status, got) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let (_, got) = gw.get(&format!("/v1/connected-accounts/{account}")).await;
    assert_eq!(got["status"], "active");
    let (status, result) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "7"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["data"]["id"], "7");
    gw.stop().await;
}

async fn requests_carry_bodies_exactly_as_the_provider_documents(backend: Backend) {
    let (gw, mock) = acme_gateway(&backend).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/notes"))
        .and(header("content-type", "application/vnd.acme.note+json"))
        .and(header("x-trace", "t-1"))
        .and(body_json(
            json!({"note": {"title": "Ship it", "summary": "Note: Ship it", "priority": 2,
                                       "tags": ["a"], "source": "switchboard", "pinned": false}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "n_1"})))
        .expect(1)
        .mount(&mock)
        .await;
    let (_, account) = acme_account(&gw, "user-1").await;
    let (status, result) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "create_note",
                   "parameters": {"title": "Ship it", "priority": 2, "tags": ["a"], "trace_id": "t-1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["data"], json!({"note_id": "n_1"}));
    assert_eq!(result["meta"]["upstream_status"], 201);
    mock.verify().await;
    gw.stop().await;
}

both_backends!(
    full_path_from_connection_to_execution,
    management_api_lists_filters_and_updates,
    every_error_code_in_one_envelope,
    timeouts_and_unreachable_providers,
    secrets_are_encrypted_at_rest_and_never_returned,
    data_survives_a_restart,
    requests_carry_bodies_exactly_as_the_provider_documents,
    encryption_keys_can_be_rotated,
    a_change_is_in_force_before_its_request_answers,
);

/// A gateway whose account cache lives `ttl_ms`, with an acme account whose
/// calls answer with the API key they carried (its first one, or
/// `sk_replaced`); returns the gateway, the mock, the account and the call.
async fn key_changing_world(
    backend: &Backend,
    ttl_ms: u64,
) -> (TestGateway, MockServer, String, Value) {
    let mock = MockServer::start().await;
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("{}/api/v2", mock.uri()))
        .configure(move |c| c.account_cache_ttl_ms = ttl_ms);
    let gw = TestGateway::start(backend, setup).await;
    let (_, account) = acme_account(&gw, "cache-1").await;
    for key in [SECRET_KEY, "sk_replaced"] {
        Mock::given(method("GET"))
            .and(path("/api/v2/users/1"))
            .and(query_param("key", key))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": key}})))
            .mount(&mock)
            .await;
    }
    let call =
        json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "1"}});
    (gw, mock, account, call)
}

/// What the store of `gw` tells its change hooks from now on (the
/// credentials resolver is one: it drops the secrets it holds for them).
fn changes_heard(gw: &TestGateway) -> Arc<Mutex<Vec<String>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    gw.state.store.on_change(move |change| {
        let said = match change {
            Change::Account(id) => format!("account {id}"),
            Change::Connection(id) => format!("connection {id}"),
            Change::Unknown => "unknown".to_owned(),
        };
        sink.lock().unwrap().push(said);
    });
    heard
}

/// Whether the hooks of [`changes_heard`] were told of a change to
/// `account` since they were last asked.
fn told_of_account(heard: &Mutex<Vec<String>>, account: &str) -> bool {
    let mut heard = heard.lock().unwrap();
    let told = heard.contains(&format!("account {account}"));
    heard.clear();
    told
}

/// Calls on a known account read it from memory, yet every change is in
/// force on this replica as soon as the request that made it has answered
/// (new credentials, a deleted account), and on another replica within
/// `account_cache_ttl_ms`.
async fn a_change_is_in_force_before_its_request_answers(backend: Backend) {
    let (gw, _mock, account, call) = key_changing_world(&backend, 400).await;
    let key_used = |body: Value| body["data"]["id"].as_str().unwrap_or_default().to_owned();
    for _ in 0..3 {
        let (status, body) = gw.post("/v1/tools/execute", call.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(key_used(body), SECRET_KEY);
    }

    // New credentials: the very next call uses them.
    let (status, _) = gw
        .post(
            &format!("/v1/connected-accounts/{account}/credentials"),
            json!({"api_key": "sk_replaced"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = gw.post("/v1/tools/execute", call.clone()).await;
    assert_eq!(key_used(body), "sk_replaced");

    // Another replica holds the account in memory; this one deletes it.
    let replica = gw.replica().await;
    let (status, _) = replica.post("/v1/tools/execute", call.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let heard = changes_heard(&gw);
    let (status, _) = gw
        .delete(&format!("/v1/connected-accounts/{account}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // What keeps the account's opened credentials was told before the
    // deletion answered.
    assert!(told_of_account(&heard, &account), "the deletion");
    let (status, body) = gw.post("/v1/tools/execute", call.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone here at once: {body}");
    // The replica sees it within the time to live.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, body) = replica.post("/v1/tools/execute", call.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone on the replica: {body}");
    replica.stop_replica().await;
    gw.stop().await;
}

/// On PostgreSQL, replicas announce their changes (LISTEN/NOTIFY): with a
/// minute-long cache, another replica still uses new credentials and
/// refuses a revoked or deleted account within moments, not a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_hear_of_changes_at_once_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("skipped: SWITCHBOARD_TEST_DATABASE_URL is not set");
        return;
    };
    let (gw, _mock, account, call) = key_changing_world(&backend, 60_000).await;
    let replica = gw.replica().await;
    let hooks_heard = changes_heard(&replica);
    let key_used = |body: &Value| body["data"]["id"].as_str().unwrap_or_default().to_owned();
    // The replica caches the account.
    let (status, body) = replica.post("/v1/tools/execute", call.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(key_used(&body), SECRET_KEY);

    // Within how long the replica acts on a change made here.
    async fn heard(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if check().await {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the replica did not hear of {what} within 5 s (its cache lives 60 s)");
    }
    gw.post(
        &format!("/v1/connected-accounts/{account}/credentials"),
        json!({"api_key": "sk_replaced"}),
    )
    .await;
    let new_key = heard("new credentials", async || {
        key_used(&replica.post("/v1/tools/execute", call.clone()).await.1) == "sk_replaced"
    })
    .await;
    assert!(
        told_of_account(&hooks_heard, &account),
        "the replica's change hooks heard of the new credentials"
    );
    gw.delete(&format!("/v1/connected-accounts/{account}"))
        .await;
    let deleted = heard("the deletion", async || {
        replica.post("/v1/tools/execute", call.clone()).await.0 == StatusCode::NOT_FOUND
    })
    .await;
    eprintln!("heard on the replica after: new key {new_key:?}, deletion {deleted:?}");
    assert!(
        told_of_account(&hooks_heard, &account),
        "the replica's change hooks heard of the deletion too"
    );
    let metrics = replica.metrics().await;
    assert!(
        metrics.contains("switchboard_account_cache_invalidations_total{source=\"notify\"}"),
        "{metrics}"
    );
    replica.stop_replica().await;
    gw.stop().await;
}

/// Rotation: values sealed with the old key stay readable once a new key is
/// current (with the old one listed as previous); new values use the new key.
async fn encryption_keys_can_be_rotated(backend: Backend) {
    use switchboard::vault::Vault;
    let (old_key, new_key) = (Vault::generate_key(), Vault::generate_key());
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("key", SECRET_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": "7"}})))
        .mount(&mock)
        .await;
    let rotated = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = rotated.clone();
    let (old, new) = (old_key.clone(), new_key.clone());
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("{}/api/v2", mock.uri()))
        .configure(move |c| {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                c.encryption_key = Some(new.clone());
                c.previous_encryption_keys = vec![old.clone()];
            } else {
                c.encryption_key = Some(old.clone());
            }
        });
    let gw = TestGateway::start(&backend, setup).await;
    let old_id = Vault::new(&old_key, &[])
        .unwrap()
        .current_key_id()
        .to_owned();
    let new_id = Vault::new(&new_key, &[])
        .unwrap()
        .current_key_id()
        .to_owned();
    let (conn, before) = acme_account(&gw, "user-1").await;
    assert!(
        gw.table_text("connected_accounts")
            .await
            .contains(&format!("v2.{old_id}."))
    );

    rotated.store(true, std::sync::atomic::Ordering::SeqCst);
    let gw = gw.restart().await;
    let execute = |id: &str| json!({"connected_account_id": id, "tool": "get_user", "parameters": {"id": "7"}});
    let (status, body) = gw.post("/v1/tools/execute", execute(&before)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an old value is still readable: {body}"
    );
    let after = gw
        .account(&conn, "user-2", Some(json!({"api_key": SECRET_KEY})))
        .await;
    let stored = gw.table_text("connected_accounts").await;
    assert!(
        stored.contains(&format!("v2.{new_id}.")),
        "new values use the new key"
    );
    let (status, _) = gw.post("/v1/tools/execute", execute(&after)).await;
    assert_eq!(status, StatusCode::OK);

    // `switchboard reseal` (while serving) rewrites the old values.
    let report = switchboard::server::reseal(&gw.config).await.unwrap();
    assert_eq!(report.resealed, 1, "{report:?}");
    assert!(report.unreadable.is_empty());
    let (status, _) = gw.post("/v1/tools/execute", execute(&before)).await;
    assert_eq!(status, StatusCode::OK);
    // Every value now reads as current: none is left under the old key.
    let again = switchboard::server::reseal(&gw.config).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 2));

    // A sealed value copied into another account's row does not open there:
    // the other account never calls with the first one's key.
    gw.sql(&format!(
        "UPDATE connected_accounts SET credentials = (SELECT credentials FROM connected_accounts WHERE id = '{before}') WHERE id = '{after}'"
    ))
    .await;
    let (status, body) = gw.post("/v1/tools/execute", execute(&after)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"]["code"], "internal");
    gw.stop().await;
}
