//! The raw proxy: the provider's own API with credentials injected, the
//! host fixed by the spec, and the answer passed back as it is (streaming:
//! `proxy_streaming.rs`; refresh on a 401: `refresh.rs`).

mod common;

use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A GET with the request line exactly as given; the status and body.
async fn raw_get(gw: &TestGateway, target: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gw.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        common::API_KEY
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn notes_account(gw: &TestGateway) -> String {
    let conn = gw.connection(json!({"provider": "notes"})).await;
    gw.account(&conn, "ann", Some(json!({"api_key": "demo-key"})))
        .await
}

#[tokio::test]
async fn requests_pass_through_with_credentials_and_answers_come_back_as_they_are() {
    let mock = MockServer::start().await;
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"]))
            .base_url("notes", format!("{}/v1", mock.uri())),
    )
    .await;
    let account = notes_account(&gw).await;
    Mock::given(method("GET"))
        .and(path("/v1/notes/search"))
        .and(query_param("q", "a b"))
        .and(header("x-api-key", "demo-key"))
        .and(header("x-custom", "kept"))
        .respond_with(
            ResponseTemplate::new(418)
                .insert_header("x-provider", "yes")
                .set_body_json(json!({"teapot": true})),
        )
        .expect(1)
        .mount(&mock)
        .await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/proxy/{account}/notes/search?q=a%20b")))
        .bearer_auth(common::API_KEY)
        .header("x-custom", "kept")
        .header("cookie", "session=secret")
        .send()
        .await
        .unwrap();
    // The provider's own answer, not an envelope.
    assert_eq!(response.status().as_u16(), 418);
    assert_eq!(response.headers()["x-provider"], "yes");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"teapot": true})
    );
    let sent = &mock.received_requests().await.unwrap()[0];
    assert!(
        !sent.headers.contains_key("cookie"),
        "cookies are not forwarded"
    );
    assert_ne!(
        sent.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {}", common::API_KEY).as_str()),
        "the gateway's key never reaches the provider"
    );

    // A small body is forwarded (and could be sent again).
    Mock::given(method("POST"))
        .and(path("/v1/notes"))
        .and(header("x-api-key", "demo-key"))
        .and(body_json(json!({"title": "via proxy"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 3})))
        .expect(1)
        .mount(&mock)
        .await;
    let response = gw
        .client
        .post(gw.url(&format!("/v1/proxy/{account}/notes")))
        .bearer_auth(common::API_KEY)
        .json(&json!({"title": "via proxy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // The host cannot change and the base path cannot be left, whatever the
    // raw request line says (sent as written: clients would normalize it).
    for escape in [
        "/%2e%2e/admin",
        "/a/%2E%2E/%2e%2e/x",
        "//evil.example/x",
        "/..%2f..%2fadmin",
    ] {
        let (status, body) = raw_get(&gw, &format!("/v1/proxy/{account}{escape}")).await;
        assert_eq!(status, 400, "{escape}: {body}");
        assert!(body.contains("\"invalid_request\""), "{escape}: {body}");
    }

    // Gateway failures use the envelope; the proxy needs the API key.
    let (status, body) = gw.get("/v1/proxy/ca_missing/notes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let response = gw
        .client
        .get(gw.url(&format!("/v1/proxy/{account}/notes")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    gw.stop().await;
}
