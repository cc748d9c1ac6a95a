//! The engine end to end over a fixture provider that uses every feature:
//! rendering, credential injection and redaction, response mapping, provider
//! errors and the four kinds of pagination.

use std::cell::RefCell;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::HeaderMap;
use serde_json::{Map, Value, json};
use switchboard::engine::{self, CallContext, ProviderResponse, RenderedRequest, RequestBody};
use switchboard::error::{Error, ErrorCode};
use switchboard::registry::{Provider, Registry, Tool};

fn registry() -> Registry {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs");
    let report = Registry::load_dir(&dir, &Default::default());
    assert!(report.diagnostics.is_empty(), "{:#?}", report.diagnostics);
    report.registry
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

struct Call {
    connection: Map<String, Value>,
    account: Map<String, Value>,
    credentials: Map<String, Value>,
}

impl Default for Call {
    fn default() -> Call {
        Call {
            connection: obj(json!({"site": "north"})),
            account: obj(json!({"account_id": "acc-7"})),
            credentials: obj(json!({"api_key": "sk_live_SECRET"})),
        }
    }
}

impl Call {
    fn ctx(&self) -> CallContext<'_> {
        CallContext {
            connection_config: Some(&self.connection),
            account_config: Some(&self.account),
            credentials: Some(&self.credentials),
            auth: None,
            credentials_origin: None,
        }
    }
}

fn tool<'r>(registry: &'r Registry, name: &str) -> (&'r Provider, &'r Tool) {
    let (p, t) = registry.tool(&format!("acme.{name}")).expect("tool exists");
    (p.as_ref(), t)
}

/// Renders `acme.<name>` with `params` and the default call context.
fn render_case(name: &str, params: Value) -> Result<RenderedRequest, Error> {
    let registry = registry();
    let (p, t) = tool(&registry, name);
    let call = Call::default();
    engine::render(p, t, &params, &call.ctx())
}

/// Runs a future that never waits (the test transports answer at once).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the test transport never waits"),
    }
}

/// Executes `acme.<name>`, answering the n-th request with `responses[n]`;
/// returns the result and the requests that were sent.
fn execute_case(
    name: &str,
    params: Value,
    responses: Vec<ProviderResponse>,
) -> (Result<engine::Execution, Error>, Vec<RenderedRequest>) {
    let registry = registry();
    let (p, t) = tool(&registry, name);
    let call = Call::default();
    let sent = RefCell::new(Vec::new());
    let result = block_on(engine::execute(p, t, &params, &call.ctx(), |req| {
        let n = sent.borrow().len();
        sent.borrow_mut().push(req);
        let response = responses.get(n).cloned();
        async move { response.ok_or_else(|| Error::new(ErrorCode::Internal, "no more responses")) }
    }));
    (result, sent.into_inner())
}

fn header<'a>(req: &'a RenderedRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).map(|v| v.to_str().unwrap())
}

// === rendering ===

#[test]
fn url_comes_from_base_url_with_connection_config_and_encoded_path() {
    let req = render_case("get_user", json!({"id": "u 1/2"})).unwrap();
    assert_eq!(req.method, http::Method::GET);
    assert_eq!(
        req.url.as_str(),
        "https://north.acme.example/api/v2/users/u%201%2F2?key=sk_live_SECRET"
    );
}

#[test]
fn parameters_can_never_change_host_or_path() {
    let attacks = [
        ("../admin", "/api/v2/users/..%2Fadmin"),
        ("x@evil.example/", "/api/v2/users/x%40evil.example%2F"),
        (
            "https://evil.example/",
            "/api/v2/users/https%3A%2F%2Fevil.example%2F",
        ),
        ("?admin=1#frag", "/api/v2/users/%3Fadmin%3D1%23frag"),
    ];
    for (id, path) in attacks {
        let req = render_case("get_user", json!({ "id": id })).unwrap();
        assert_eq!(req.url.host_str(), Some("north.acme.example"), "{id}");
        assert_eq!(req.url.path(), path, "{id}");
        assert_eq!(req.url.fragment(), None, "{id}");
    }
    // URL parsers read `..` (even encoded) as "parent": such values are refused.
    for id in ["..", "."] {
        let err = render_case("get_user", json!({ "id": id })).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameters, "{id}");
        assert_eq!(
            err.message,
            format!("parameters: `{id}` cannot be used as a path segment")
        );
    }
}

#[test]
fn optional_parameters_that_are_absent_are_left_out() {
    let req = render_case("get_user", json!({"id": "7"})).unwrap();
    assert_eq!(req.url.query(), Some("key=sk_live_SECRET"));
    let req = render_case(
        "get_user",
        json!({"id": "7", "fields": ["a", "b"], "verbose": false}),
    )
    .unwrap();
    assert_eq!(
        req.url.query(),
        Some("fields=a&fields=b&verbose=false&key=sk_live_SECRET")
    );
}

#[test]
fn json_bodies_keep_native_types_and_omit_absent_fields() {
    let req = render_case("create_note", json!({"title": "Ship it", "priority": 78})).unwrap();
    assert_eq!(
        req.body,
        Some(RequestBody::Json(json!({"note": {
            "title": "Ship it", "summary": "Note: Ship it", "priority": 78,
            "source": "switchboard", "pinned": false
        }})))
    );
    assert_eq!(
        header(&req, "content-type"),
        Some("application/vnd.acme.note+json")
    );
    assert_eq!(header(&req, "accept"), Some("application/json"));
    assert_eq!(header(&req, "x-trace"), None);

    let req = render_case(
        "create_note",
        json!({"title": "78", "priority": 1, "tags": ["x"], "due": "2026-12-01", "trace_id": "t-1"}),
    )
    .unwrap();
    let Some(RequestBody::Json(body)) = &req.body else {
        panic!("json body")
    };
    assert_eq!(
        body["note"]["title"],
        json!("78"),
        "a string parameter never becomes a number"
    );
    assert_eq!(body["note"]["tags"], json!(["x"]));
    assert_eq!(body["note"]["due"], json!("2026-12-01"));
    assert_eq!(header(&req, "x-trace"), Some("t-1"));
}

#[test]
fn form_and_raw_bodies() {
    let req = render_case("post_form", json!({"name": "a b&c", "labels": ["x", "y"]})).unwrap();
    assert_eq!(
        header(&req, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = req.body.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "name=a+b%26c&label=x&label=y&kind=simple"
    );

    let req = render_case("upload_text", json!({"text": "hello"})).unwrap();
    assert_eq!(req.method, http::Method::PUT);
    assert_eq!(req.url.path(), "/api/v2/files/notes.txt");
    assert_eq!(header(&req, "content-type"), Some("text/plain"));
    assert_eq!(req.body, Some(RequestBody::Raw("HELLO".into())));
}

#[test]
fn header_values_cannot_carry_line_breaks() {
    let err = render_case(
        "create_note",
        json!({"title": "t", "priority": 1, "trace_id": "a\r\nX-Injected: 1"}),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameters);
    assert_eq!(
        err.message,
        "parameters: header `x-trace` would contain a line break or another control character"
    );
}

#[test]
fn invalid_parameters_list_every_failing_field() {
    let err = render_case("create_note", json!({"priority": "high", "extra": 1})).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameters);
    let fields: Vec<String> = err.details["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["field"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            "/title is required",
            "/priority \"high\" is not of type \"integer\""
        ]
    );

    let err = render_case("get_user", json!([1])).unwrap_err();
    assert_eq!(err.message, "parameters: parameters must be a JSON object");
}

#[test]
fn credentials_are_injected_and_redacted_when_shown() {
    let req = render_case("get_user", json!({"id": "7"})).unwrap();
    assert_eq!(header(&req, "x-acme-account"), Some("acc-7"));
    assert!(req.headers["x-acme-account"].is_sensitive());
    let shown = req.to_string();
    assert!(!shown.contains("sk_live_SECRET"), "{shown}");
    assert!(!format!("{req:?}").contains("sk_live_SECRET"));
    assert_eq!(
        shown,
        "GET https://north.acme.example/api/v2/users/7?key=%5Bredacted%5D\naccept: application/json\nx-acme-account: [redacted]\n"
    );
}

#[test]
fn a_missing_credential_asks_for_reauthorization() {
    let registry = registry();
    let (p, t) = tool(&registry, "get_user");
    let call = Call {
        credentials: Map::new(),
        ..Call::default()
    };
    let err = engine::render(p, t, &json!({"id": "7"}), &call.ctx()).unwrap_err();
    assert_eq!(err.code, ErrorCode::ReauthorizationRequired);
    assert!(!err.message.contains("api_key"));
}

#[test]
fn a_connection_without_a_needed_config_value_is_named() {
    let registry = registry();
    let (p, t) = tool(&registry, "get_user");
    let call = Call {
        connection: Map::new(),
        ..Call::default()
    };
    let err = engine::render(p, t, &json!({"id": "7"}), &call.ctx()).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert_eq!(
        err.message,
        "the connection has no config value `site`, which this provider needs"
    );
}

#[test]
fn a_templated_host_is_checked_once_rendered() {
    let registry = registry();
    let (p, t) = tool(&registry, "get_user");
    for site in ["evil.example/x?", "a b", "x:1@evil"] {
        let call = Call {
            connection: obj(json!({ "site": site })),
            ..Call::default()
        };
        let result = engine::render(p, t, &json!({"id": "7"}), &call.ctx());
        if let Ok(req) = &result {
            assert!(
                req.url.host_str().unwrap().ends_with(".acme.example"),
                "{site} gave {}",
                req.url
            );
        }
    }
}

// === responses ===

#[test]
fn output_fields_map_single_values_and_lists() {
    let body = json!({"user": {"id": "7", "name": "Ann", "emails": [{"address": "a@x"}, {"address": "b@x"}]}});
    let (result, sent) = execute_case(
        "get_user",
        json!({"id": "7"}),
        vec![ProviderResponse::json(200, &body)],
    );
    assert_eq!(sent.len(), 1);
    let exec = result.unwrap();
    assert_eq!(
        exec.output,
        json!({"id": "7", "name": "Ann", "emails": ["a@x", "b@x"]})
    );
    assert_eq!(exec.upstream_status, 200);

    let (result, _) = execute_case(
        "get_user",
        json!({"id": "7"}),
        vec![ProviderResponse::json(200, &json!({}))],
    );
    assert_eq!(
        result.unwrap().output,
        json!({"id": null, "name": null, "emails": []})
    );
}

#[test]
fn tools_without_output_fields_return_the_whole_body() {
    let body = json!({"data": {"records": [], "total": 0}});
    let (result, _) = execute_case(
        "list_offsets",
        json!({}),
        vec![ProviderResponse::json(200, &body)],
    );
    assert_eq!(result.unwrap().output, body);
}

fn raw(status: u16, content_type: &str, body: &str) -> ProviderResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", content_type.parse().unwrap());
    ProviderResponse {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// Runs `get_user` against one response and returns the error's essentials.
fn error_case(response: ProviderResponse) -> (ErrorCode, String, Option<u16>, Value) {
    let (result, _) = execute_case("get_user", json!({"id": "7"}), vec![response]);
    let err = result.unwrap_err();
    assert_eq!(err.provider.as_deref(), Some("acme"));
    (
        err.code,
        err.message,
        err.upstream_status,
        Value::Object(*err.details),
    )
}

#[test]
fn provider_errors_in_every_shape() {
    let err_body = |code: &str| json!({"status": "error", "error": {"code": code, "message": "Token expired"}});
    assert_eq!(
        error_case(ProviderResponse::json(200, &err_body("AUTH_EXPIRED"))),
        (
            ErrorCode::ReauthorizationRequired,
            "Token expired".into(),
            Some(200),
            json!({"provider_message": "Token expired", "provider_code": "AUTH_EXPIRED"})
        )
    );
    assert_eq!(
        error_case(ProviderResponse::json(200, &err_body("OTHER"))).0,
        ErrorCode::ProviderError
    );
    assert_eq!(
        error_case(ProviderResponse::json(
            403,
            &json!({"error": {"message": "No access"}})
        )),
        (
            ErrorCode::Forbidden,
            "No access".into(),
            Some(403),
            json!({"provider_message": "No access"})
        )
    );
    assert_eq!(
        error_case(ProviderResponse::json(404, &json!({}))),
        (
            ErrorCode::ProviderError,
            "the provider answered HTTP 404".into(),
            Some(404),
            json!({})
        )
    );
    assert_eq!(
        error_case(ProviderResponse::json(401, &json!({}))).0,
        ErrorCode::ReauthorizationRequired
    );
    assert_eq!(
        error_case(raw(
            502,
            "text/html",
            "<html><body>Bad gateway</body></html>"
        )),
        (
            ErrorCode::ProviderError,
            "the provider answered HTTP 502".into(),
            Some(502),
            json!({"body_excerpt": "<html><body>Bad gateway</body></html>"})
        )
    );
    assert_eq!(
        error_case(raw(200, "application/json", "{\"user\": {\"id\": ")),
        (
            ErrorCode::ProviderError,
            "the provider answered with a body that is not valid JSON".into(),
            Some(200),
            json!({"body_excerpt": "{\"user\": {\"id\": "})
        )
    );
    let mut limited = ProviderResponse::json(429, &json!({}));
    limited.headers.insert("retry-after", "30".parse().unwrap());
    let (result, _) = execute_case("get_user", json!({"id": "7"}), vec![limited]);
    let err = result.unwrap_err();
    assert_eq!(
        (err.code, err.retry_after_s),
        (ErrorCode::RateLimited, Some(30))
    );
}

#[test]
fn an_empty_success_body_is_an_empty_object() {
    let (result, _) = execute_case(
        "upload_text",
        json!({"text": "x"}),
        vec![raw(204, "text/plain", "")],
    );
    assert_eq!(result.unwrap().output, json!({}));
}

// === pagination ===

fn query(req: &RenderedRequest, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn page_pagination_stops_at_a_short_page() {
    let pages = vec![
        ProviderResponse::json(200, &json!({"items": [{"id": 1}, {"id": 2}]})),
        ProviderResponse::json(200, &json!({"items": [{"id": 3}, {"id": 4}]})),
        ProviderResponse::json(200, &json!({"items": [{"id": 5}]})),
    ];
    let (result, sent) = execute_case("list_pages", json!({}), pages);
    let exec = result.unwrap();
    assert_eq!(exec.output, json!({"ids": [1, 2, 3, 4, 5]}));
    assert_eq!(exec.pages, 3);
    let page_params: Vec<_> = sent.iter().map(|r| query(r, "page")).collect();
    assert_eq!(page_params, [None, Some("2".into()), Some("3".into())]);
    assert!(
        sent.iter()
            .all(|r| query(r, "per_page").as_deref() == Some("2"))
    );
    assert!(
        sent.iter()
            .all(|r| query(r, "key").as_deref() == Some("sk_live_SECRET"))
    );
}

#[test]
fn offset_pagination_stops_at_the_total() {
    let page = |ids: &[u64]| {
        let records: Vec<Value> = ids.iter().map(|i| json!({"id": i})).collect();
        ProviderResponse::json(200, &json!({"data": {"records": records, "total": 5}}))
    };
    let (result, sent) = execute_case(
        "list_offsets",
        json!({}),
        vec![page(&[1, 2]), page(&[3, 4]), page(&[5])],
    );
    let exec = result.unwrap();
    let offsets: Vec<_> = sent.iter().map(|r| query(r, "offset")).collect();
    assert_eq!(offsets, [None, Some("2".into()), Some("4".into())]);
    assert_eq!(exec.output["data"]["records"].as_array().unwrap().len(), 5);
    assert_eq!(exec.output["data"]["total"], json!(5));
}

#[test]
fn next_url_pagination_follows_links_on_the_same_host_up_to_max_items() {
    let pages = vec![
        ProviderResponse::json(
            200,
            &json!({"events": [1, 2], "next": "/api/v2/events?after=2"}),
        ),
        ProviderResponse::json(
            200,
            &json!({"events": [3, 4], "next": "/api/v2/events?after=4"}),
        ),
    ];
    let (result, sent) = execute_case("list_links", json!({}), pages);
    let exec = result.unwrap();
    assert_eq!(exec.output["events"], json!([1, 2, 3]));
    assert_eq!(
        sent[1].url.as_str(),
        "https://north.acme.example/api/v2/events?after=2&key=sk_live_SECRET"
    );

    let pages = vec![ProviderResponse::json(
        200,
        &json!({"events": [1], "next": "https://evil.example/steal"}),
    )];
    let (result, sent) = execute_case("list_links", json!({}), pages);
    assert_eq!(sent.len(), 1);
    assert_eq!(result.unwrap_err().code, ErrorCode::ProviderError);
}

#[test]
fn link_header_pagination() {
    let mut first = ProviderResponse::json(200, &json!(["a", "b"]));
    first.headers.insert(
        "link",
        "<https://north.acme.example/api/v2/logs?page=2>; rel=\"next\""
            .parse()
            .unwrap(),
    );
    let second = ProviderResponse::json(200, &json!(["c"]));
    let (result, sent) = execute_case("list_link_header", json!({}), vec![first, second]);
    assert_eq!(result.unwrap().output, json!(["a", "b", "c"]));
    assert_eq!(query(&sent[1], "page").as_deref(), Some("2"));
}

#[test]
fn a_first_page_without_the_list_gives_an_empty_list() {
    let pages = vec![ProviderResponse::json(200, &json!({"result_size": 0}))];
    let (result, _) = execute_case("list_pages", json!({}), pages);
    assert_eq!(result.unwrap().output, json!({"ids": []}));
    let pages = vec![ProviderResponse::json(200, &json!({"data": {"total": 0}}))];
    let (result, _) = execute_case("list_offsets", json!({}), pages);
    assert_eq!(
        result.unwrap().output,
        json!({"data": {"total": 0, "records": []}})
    );
}

#[test]
fn an_error_on_a_later_page_fails_the_call() {
    let pages = vec![
        ProviderResponse::json(200, &json!({"items": [{"id": 1}, {"id": 2}]})),
        ProviderResponse::json(500, &json!({"error": {"message": "boom"}})),
    ];
    let (result, _) = execute_case("list_pages", json!({}), pages);
    let err = result.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::ProviderError, "boom")
    );
}
