//! A property test over the public HTTP surface of a real gateway: random
//! methods, every documented path (with real and random ids), random
//! queries, headers and bodies, with and without a key. Nothing may answer
//! `500` (a panic caught in a handler answers that), every `/v1` error is the
//! unified envelope, and the gateway still serves afterwards.

mod common;

use std::sync::Arc;

use common::{API_KEY, Backend, Setup, TestGateway, specs_dir};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One request as the strategy draws it.
#[derive(Debug, Clone)]
struct Probe {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
    key: Option<String>,
    headers: Vec<(String, String)>,
}

/// The documented operations: method and path, `{param}` left in place.
fn documented_operations() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json"),
    )
    .unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    for path in ["/v1/unknown", "/", "/v2/tools"] {
        operations.push(("GET".to_owned(), path.to_owned()));
    }
    operations
}

/// A path segment: a real id of the gateway, or anything.
fn segment(real: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(real),
        1 => "[a-zA-Z0-9_.~-]{0,24}",
        1 => "[ -~]{0,24}".prop_map(|s| urlencoding(&s)),
        1 => Just("..".to_owned()),
        1 => Just("%2e%2e".to_owned()),
        1 => Just("%00".to_owned()),
    ]
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies: nothing, JSON shaped like the API's, any JSON, any bytes.
fn body(real: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "provider",
        "auth_type",
        "credentials",
        "config",
        "identifier",
        "label",
        "connected_account_id",
        "tool",
        "parameters",
        "redirect_url",
        "scopes",
        "connection_ids",
        "expires_in_s",
        "access_token",
    ]);
    let shaped = prop::collection::btree_map(
        field,
        prop_oneof![
            prop::sample::select(real).prop_map(Value::from),
            json_value()
        ],
        0..5,
    )
    .prop_map(|m| {
        Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            .to_string()
            .into_bytes()
    });
    prop_oneof![
        Just(Vec::new()),
        shaped,
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn probe(operations: Vec<(String, String)>, real: Vec<String>) -> impl Strategy<Value = Probe> {
    let paths: Vec<String> = operations.iter().map(|(_, p)| p.clone()).collect();
    // Mostly documented operations; else any method on any path.
    let operation = prop_oneof![
        4 => prop::sample::select(operations),
        1 => (
            prop_oneof![
                prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
                    .prop_map(str::to_owned),
                "[A-Z]{1,12}",
            ],
            prop::sample::select(paths),
        ),
    ];
    let request_line = (operation, prop::collection::vec(segment(real.clone()), 4)).prop_map(
        |((method, template), values)| {
            let mut out = String::new();
            let mut values = values.into_iter();
            for part in template.split('/').skip(1) {
                out.push('/');
                if part.starts_with('{') {
                    out.push_str(&values.next().unwrap_or_default());
                } else {
                    out.push_str(part);
                }
            }
            (method, if out.is_empty() { "/".to_owned() } else { out })
        },
    );
    let query = prop::collection::vec(
        (
            prop::sample::select(vec![
                "limit",
                "cursor",
                "identifier",
                "provider",
                "status",
                "format",
                "state",
                "code",
                "error",
                "x",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,20}",
        ),
        0..3,
    );
    let content_type = prop::option::of(prop::sample::select(vec![
        "application/json".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
        "text/plain".to_owned(),
        "application/json; charset=utf-8".to_owned(),
    ]));
    let key = prop_oneof![
        8 => Just(Some(API_KEY.to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,20}".prop_map(Some),
    ];
    let headers = prop::collection::vec(
        (
            prop::sample::select(vec![
                "accept",
                "cookie",
                "x-switchboard-identifier",
                "mcp-session-id",
                "range",
                "if-none-match",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,30}",
        ),
        0..3,
    );
    (request_line, query, content_type, body(real), key, headers).prop_map(
        |((method, path), query, content_type, body, key, headers)| Probe {
            method,
            path,
            query,
            content_type,
            body,
            key,
            headers,
        },
    )
}

async fn send(gw: &TestGateway, probe: &Probe) -> Result<(), TestCaseError> {
    let Ok(method) = Method::from_bytes(probe.method.as_bytes()) else {
        return Ok(());
    };
    let Ok(mut url) = url::Url::parse(&gw.url(&probe.path)) else {
        return Ok(());
    };
    url.query_pairs_mut().extend_pairs(&probe.query);
    let mut request = gw.client.request(method.clone(), url);
    if let Some(key) = &probe.key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(ct) = &probe.content_type {
        request = request.header("content-type", ct);
    }
    for (name, value) in &probe.headers {
        request = request.header(name, value);
    }
    if !probe.body.is_empty() {
        request = request.body(probe.body.clone());
    }
    let Ok(request) = request.build() else {
        return Ok(());
    };
    let response = gw
        .client
        .execute(request)
        .await
        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    prop_assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{:?} answered {}",
        probe,
        text
    );
    // The OAuth start page and callback answer browsers in HTML.
    let api = probe.path.starts_with("/v1/") && !probe.path.starts_with("/v1/oauth/");
    let proxied = probe.path.starts_with("/v1/proxy/") && status.is_success();
    if api && !status.is_success() && method != Method::HEAD && !proxied {
        prop_assert!(
            content_type.starts_with("application/json"),
            "{:?}: {} {}",
            probe,
            status,
            content_type
        );
        let envelope: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{probe:?}: {e}: {text}")))?;
        prop_assert!(
            envelope["error"]["code"].is_string() && envelope["error"]["message"].is_string(),
            "{:?}: {}",
            probe,
            text
        );
    }
    Ok(())
}

#[test]
fn random_requests_never_break_the_gateway() {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let (gw, real) = runtime.block_on(async {
        // The notes provider points at a closed port: calls reach the
        // engine and fail as a provider would.
        let setup = Setup::new(specs_dir(&[
            "examples/demo/notes.yaml",
            "tests/fixtures/specs/acme.yaml",
            "tests/fixtures/oauth/studio.yaml",
        ]))
        .base_url("notes", "http://127.0.0.1:9/api".into())
        .base_url("acme", "http://127.0.0.1:9".into());
        let gw = TestGateway::start(&Backend::Sqlite, setup).await;
        let notes = gw.connection(json!({"provider": "notes"})).await;
        let account = gw
            .account(&notes, "ann", Some(json!({"api_key": "k"})))
            .await;
        let studio = gw
            .connection(
                json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
            )
            .await;
        let pending = gw.account(&studio, "ann", None).await;
        let (_, link) = gw
            .post(
                "/v1/mcp-links",
                json!({"identifier": "ann", "expires_in_s": 600}),
            )
            .await;
        let (_, session) = gw
            .post("/v1/connect-sessions", json!({"identifier": "ann"}))
            .await;
        let last = |url: &Value| {
            url.as_str()
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        };
        let real = vec![
            notes,
            account,
            studio,
            pending,
            link["id"].as_str().unwrap_or_default().to_owned(),
            last(&link["url"]),
            last(&session["url"]),
            "notes".to_owned(),
            "notes.list_notes".to_owned(),
        ];
        (gw, real)
    });
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = probe(documented_operations(), real);
    let result = runner.run(&strategy, |probe| runtime.block_on(send(&gw, &probe)));
    runtime.block_on(async {
        let (status, _) = gw.get("/v1/providers").await;
        assert_eq!(status, StatusCode::OK, "the gateway still serves");
        let metrics = gw.metrics().await;
        let methods: std::collections::BTreeSet<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("switchboard_http_requests_total"))
            .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
            .collect();
        assert!(methods.len() <= 10, "method labels stay few: {methods:?}");
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    runtime.block_on(gw.stop());
}
