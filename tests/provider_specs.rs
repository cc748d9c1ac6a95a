//! The shipped provider specs (provider-specs/) against their providers'
//! documentation: each tool's exact request, its mapped output for a
//! documented response (every page of it), and how provider errors map.

use std::cell::RefCell;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Map, Value, json};
use switchboard::engine::{self, CallContext, ProviderResponse, RenderedRequest, RequestBody};
use switchboard::error::{Error, ErrorCode};
use switchboard::registry::Registry;

const TOKEN: &str = "test-access-token";
const CLOUD_ID: &str = "1324a887-45db-1bf4-1e99-ef0ff456d421";
const JIRA: &str =
    "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3";

fn registry() -> Registry {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("provider-specs");
    let report = Registry::load_dir(&dir, &Default::default());
    assert!(report.diagnostics.is_empty(), "{:#?}", report.diagnostics);
    report.registry
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
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

/// Calls `id` (`provider.tool`) through `engine::execute`, answering the n-th
/// request with `responses[n]`; returns the result and the requests sent.
fn call(
    id: &str,
    params: &Value,
    responses: &[ProviderResponse],
) -> (Result<engine::Execution, Error>, Vec<RenderedRequest>) {
    let registry = registry();
    let (provider, tool) = registry.tool(id).unwrap_or_else(|| panic!("no tool {id}"));
    let credentials = obj(json!({"access_token": TOKEN}));
    let account = obj(json!({"cloud_id": CLOUD_ID}));
    let ctx = CallContext {
        credentials: Some(&credentials),
        account_config: Some(&account),
        ..Default::default()
    };
    let sent = RefCell::new(Vec::new());
    let result = block_on(engine::execute(provider, tool, params, &ctx, |req| {
        let n = sent.borrow().len();
        sent.borrow_mut().push(req);
        let response = responses.get(n).cloned();
        async move {
            response
                .ok_or_else(|| Error::new(ErrorCode::Internal, "the test has no more responses"))
        }
    }));
    (result, sent.into_inner())
}

fn render(id: &str, params: &Value) -> RenderedRequest {
    let registry = registry();
    let (provider, tool) = registry.tool(id).unwrap_or_else(|| panic!("no tool {id}"));
    let credentials = obj(json!({"access_token": TOKEN}));
    let account = obj(json!({"cloud_id": CLOUD_ID}));
    let ctx = CallContext {
        credentials: Some(&credentials),
        account_config: Some(&account),
        ..Default::default()
    };
    engine::render(provider, tool, params, &ctx).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn header<'a>(req: &'a RenderedRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).map(|v| v.to_str().unwrap())
}

fn query(req: &RenderedRequest, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn json_body(req: &RenderedRequest) -> &Value {
    match &req.body {
        Some(RequestBody::Json(v)) => v,
        other => panic!("expected a JSON body, got {other:?}"),
    }
}

// === 1. requests ===

/// Renders `id` and checks the request line, the credentials, the content
/// type and the exact body (`None`: no body at all).
fn render_case(
    id: &str,
    params: Value,
    method: Method,
    url: &str,
    content_type: Option<&str>,
    body: Option<Value>,
) {
    let req = render(id, &params);
    assert_eq!(req.method, method, "{id}");
    assert_eq!(req.url.as_str(), url, "{id}");
    let auth = req
        .headers
        .get("authorization")
        .unwrap_or_else(|| panic!("{id}: no Authorization"));
    assert_eq!(auth, &format!("Bearer {TOKEN}"), "{id}");
    assert!(auth.is_sensitive(), "{id}: Authorization must be sensitive");
    assert_eq!(header(&req, "accept"), Some("application/json"), "{id}");
    assert_eq!(header(&req, "content-type"), content_type, "{id}");
    match body {
        None => assert_eq!(req.body, None, "{id}"),
        Some(expected) => assert_eq!(json_body(&req), &expected, "{id}"),
    }
}

const JSON: Option<&str> = Some("application/json");

#[test]
fn slack_requests() {
    let slack_json = Some("application/json; charset=utf-8");
    render_case(
        "slack.send_message",
        json!({"channel": "C1234567890", "text": "Deploy finished :rocket:"}),
        Method::POST,
        "https://slack.com/api/chat.postMessage",
        slack_json,
        Some(json!({"channel": "C1234567890", "text": "Deploy finished :rocket:"})),
    );
    render_case(
        "slack.send_message",
        json!({"channel": "C1234567890", "text": "Done", "thread_ts": "1503435956.000247"}),
        Method::POST,
        "https://slack.com/api/chat.postMessage",
        slack_json,
        Some(json!({"channel": "C1234567890", "text": "Done", "thread_ts": "1503435956.000247"})),
    );
    render_case(
        "slack.list_channels",
        json!({}),
        Method::GET,
        "https://slack.com/api/conversations.list",
        None,
        None,
    );
    render_case(
        "slack.list_channels",
        json!({"types": "public_channel,private_channel", "exclude_archived": true, "limit": 200}),
        Method::GET,
        "https://slack.com/api/conversations.list?types=public_channel%2Cprivate_channel&exclude_archived=true&limit=200",
        None,
        None,
    );
    render_case(
        "slack.list_messages",
        json!({"channel": "C1234567890", "oldest": "1512085950.000216", "limit": 50}),
        Method::GET,
        "https://slack.com/api/conversations.history?channel=C1234567890&oldest=1512085950.000216&limit=50",
        None,
        None,
    );
}

#[test]
fn gmail_requests() {
    render_case(
        "gmail.list_messages",
        json!({"query": "from:alice@example.com is:unread newer_than:7d", "max_results": 50}),
        Method::GET,
        "https://gmail.googleapis.com/gmail/v1/users/me/messages?q=from%3Aalice%40example.com+is%3Aunread+newer_than%3A7d&maxResults=50",
        None,
        None,
    );
    render_case(
        "gmail.list_messages",
        json!({}),
        Method::GET,
        "https://gmail.googleapis.com/gmail/v1/users/me/messages",
        None,
        None,
    );
    render_case(
        "gmail.get_message",
        json!({"id": "18c2f0a1b2c3d4e5"}),
        Method::GET,
        "https://gmail.googleapis.com/gmail/v1/users/me/messages/18c2f0a1b2c3d4e5",
        None,
        None,
    );
}

/// The RFC 2822 message inside a Gmail `{"raw": …}` body.
fn gmail_message(req: &RenderedRequest) -> String {
    let body = json_body(req).as_object().expect("an object");
    assert_eq!(body.keys().collect::<Vec<_>>(), ["raw"]);
    let raw = body["raw"].as_str().expect("raw is a string");
    assert!(
        !raw.contains(['+', '/']),
        "raw must use the base64url alphabet: {raw}"
    );
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let bytes = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config)
        .decode(raw)
        .expect("raw is base64url");
    String::from_utf8(bytes).expect("the message is UTF-8")
}

#[test]
fn gmail_send_email_sends_a_base64url_rfc2822_message() {
    let req = render(
        "gmail.send_email",
        &json!({"to": "Bob <bob@example.com>", "subject": "Hello", "body": "Hi Bob!\nSee you at 5?"}),
    );
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url.as_str(),
        "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"
    );
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    assert!(req.headers["authorization"].is_sensitive());
    let message = gmail_message(&req);
    let (head, body) = message
        .split_once("\r\n\r\n")
        .expect("headers, blank line, body");
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert!(
        lines.contains(&"To: \"Bob\" <bob@example.com>"),
        "{message}"
    );
    assert!(lines.contains(&"Subject: Hello"), "{message}");
    assert!(
        lines.contains(&"Content-Type: text/plain; charset=\"utf-8\""),
        "{message}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("Cc:") || l.starts_with("Bcc:")),
        "{message}"
    );
    assert_eq!(body, "Hi Bob!\r\nSee you at 5?");

    let req = render(
        "gmail.send_email",
        &json!({"to": "bob@example.com", "subject": "Hello", "body": "Hi", "cc": "carol@example.com",
                "bcc": "dave@example.com, erin@example.com"}),
    );
    let message = gmail_message(&req);
    let lines: Vec<&str> = message.split("\r\n").collect();
    assert!(lines.contains(&"Cc: <carol@example.com>"), "{message}");
    assert!(
        lines.contains(&"Bcc: <dave@example.com>, <erin@example.com>"),
        "{message}"
    );
}

#[test]
fn jira_requests() {
    render_case(
        "jira.create_issue",
        json!({"project": "ENG", "summary": "Login page returns 500", "description": "Steps to reproduce…", "issue_type": "Bug"}),
        Method::POST,
        &format!("{JIRA}/issue"),
        JSON,
        Some(json!({"fields": {
            "project": {"key": "ENG"},
            "summary": "Login page returns 500",
            "issuetype": {"name": "Bug"},
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Steps to reproduce…"}]}
            ]}
        }})),
    );
    // Without a description the field is left out; the issue type defaults to Task.
    render_case(
        "jira.create_issue",
        json!({"project": "ENG", "summary": "Login page returns 500"}),
        Method::POST,
        &format!("{JIRA}/issue"),
        JSON,
        Some(json!({"fields": {
            "project": {"key": "ENG"},
            "summary": "Login page returns 500",
            "issuetype": {"name": "Task"}
        }})),
    );
    render_case(
        "jira.get_issue",
        json!({"issue": "PROJ-1"}),
        Method::GET,
        &format!(
            "{JIRA}/issue/PROJ-1?fields=summary%2Cstatus%2Cissuetype%2Cproject%2Cpriority%2Cassignee%2Creporter%2Clabels%2Ccreated%2Cupdated%2Cdescription"
        ),
        None,
        None,
    );
    render_case(
        "jira.search_issues",
        json!({"jql": "project = ENG AND statusCategory != Done ORDER BY updated DESC", "max_results": 50}),
        Method::GET,
        &format!(
            "{JIRA}/search/jql?jql=project+%3D+ENG+AND+statusCategory+%21%3D+Done+ORDER+BY+updated+DESC&maxResults=50&fields=summary%2Cstatus%2Cissuetype%2Cpriority%2Cassignee%2Cupdated"
        ),
        None,
        None,
    );
    render_case(
        "jira.add_comment",
        json!({"issue": "ENG-24", "body": "Fixed in build 123."}),
        Method::POST,
        &format!("{JIRA}/issue/ENG-24/comment"),
        JSON,
        Some(json!({"body": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Fixed in build 123."}]}
        ]}})),
    );
}

#[test]
fn jira_needs_the_discovered_cloud_id() {
    let registry = registry();
    let (provider, tool) = registry.tool("jira.get_issue").unwrap();
    let err = engine::render(
        provider,
        tool,
        &json!({"issue": "PROJ-1"}),
        &CallContext::default(),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::ReauthorizationRequired);
    assert_eq!(
        err.message,
        "the account has no `cloud_id` yet; authorize it again so it can be discovered"
    );
}

/// A Linear GraphQL body: the operation text must name `operation`.
fn linear_case(id: &str, params: Value, operation: &str, variables: Value) {
    let req = render(id, &params);
    assert_eq!(req.method, Method::POST, "{id}");
    assert_eq!(req.url.as_str(), "https://api.linear.app/graphql", "{id}");
    assert_eq!(
        req.headers["authorization"],
        format!("Bearer {TOKEN}"),
        "{id}"
    );
    assert!(req.headers["authorization"].is_sensitive(), "{id}");
    assert_eq!(header(&req, "content-type"), JSON, "{id}");
    let body = json_body(&req).as_object().expect("an object");
    assert_eq!(
        body.keys().collect::<Vec<_>>(),
        ["query", "variables"],
        "{id}"
    );
    let query = body["query"].as_str().expect("query is text");
    assert!(query.trim_start().starts_with(operation), "{id}: {query}");
    assert_eq!(body["variables"], variables, "{id}");
}

#[test]
fn linear_requests() {
    linear_case(
        "linear.create_issue",
        json!({"team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "Login page returns 500",
               "description": "Steps:\n\n1. Open /login"}),
        "mutation IssueCreate($input: IssueCreateInput!)",
        json!({"input": {"teamId": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "Login page returns 500",
                         "description": "Steps:\n\n1. Open /login"}}),
    );
    linear_case(
        "linear.create_issue",
        json!({"team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "Login page returns 500"}),
        "mutation IssueCreate($input: IssueCreateInput!)",
        json!({"input": {"teamId": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "Login page returns 500"}}),
    );
    linear_case(
        "linear.list_issues",
        json!({"first": 25}),
        "query Issues($first: Int, $after: String)",
        json!({"first": 25}),
    );
    linear_case(
        "linear.list_issues",
        json!({}),
        "query Issues($first: Int, $after: String)",
        json!({}),
    );
    linear_case(
        "linear.list_teams",
        json!({}),
        "query Teams($after: String)",
        json!({}),
    );
}

// === 2. responses and pages ===

/// Where a page's request must carry the cursor of the page before it.
#[derive(Clone, Copy)]
enum CursorAt {
    Query(&'static str),
    /// A JSON Pointer into the JSON body.
    Body(&'static str),
}

impl CursorAt {
    fn read(self, req: &RenderedRequest) -> Option<Value> {
        match self {
            CursorAt::Query(name) => query(req, name).map(Value::String),
            CursorAt::Body(pointer) => json_body(req).pointer(pointer).cloned(),
        }
    }
}

/// Calls `id` answering with `pages` in turn (all 2xx), and checks that every
/// page was fetched, that page n carries `cursors[n - 1]` where `at` says
/// (the first carries none) and otherwise repeats the first request, and
/// that the mapped output is `expected`.
fn map_case(
    id: &str,
    params: Value,
    pages: Vec<(u16, Value)>,
    at: Option<(CursorAt, &[&str])>,
    expected: Value,
) {
    let responses: Vec<_> = pages
        .iter()
        .map(|(s, b)| ProviderResponse::json(*s, b))
        .collect();
    let (result, sent) = call(id, &params, &responses);
    let execution = result.unwrap_or_else(|e| panic!("{id}: {e} {:?}", e.details));
    assert_eq!(sent.len(), pages.len(), "{id}: requests sent");
    assert_eq!(execution.pages as usize, pages.len(), "{id}");
    if let Some((at, cursors)) = at {
        assert_eq!(
            at.read(&sent[0]),
            None,
            "{id}: the first page has no cursor"
        );
        for (n, req) in sent.iter().enumerate().skip(1) {
            assert_eq!(
                at.read(req),
                Some(json!(cursors[n - 1])),
                "{id}: page {}",
                n + 1
            );
            let mut without = req.clone();
            match at {
                CursorAt::Query(name) => {
                    let pairs: Vec<_> = req
                        .url
                        .query_pairs()
                        .filter(|(k, _)| k != name)
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    without.url.query_pairs_mut().clear().extend_pairs(pairs);
                    if without.url.query() == Some("") {
                        without.url.set_query(None);
                    }
                }
                CursorAt::Body(pointer) => {
                    let (parent, key) = pointer.rsplit_once('/').unwrap();
                    if let Some(RequestBody::Json(body)) = without.body.as_mut() {
                        body.pointer_mut(parent)
                            .and_then(Value::as_object_mut)
                            .unwrap()
                            .remove(key);
                    }
                }
            }
            assert_eq!(
                without,
                sent[0],
                "{id}: page {} differs only by its cursor",
                n + 1
            );
        }
    }
    assert_eq!(execution.output, expected, "{id}");
}

#[test]
fn slack_outputs() {
    map_case(
        "slack.send_message",
        json!({"channel": "C1H9RESGL", "text": "Deploy finished :rocket:"}),
        vec![(
            200,
            json!({
                "ok": true,
                "channel": "C1H9RESGL",
                "ts": "1503435956.000247",
                "message": {"type": "message", "subtype": "bot_message", "text": "Deploy finished :rocket:",
                            "bot_id": "B19LU7CSY", "ts": "1503435956.000247"}
            }),
        )],
        None,
        json!({"message_id": "1503435956.000247", "channel": "C1H9RESGL"}),
    );

    let general = json!({"id": "C012AB3CD", "name": "general", "is_channel": true, "is_private": false,
                         "is_archived": false, "is_member": true, "created": 1449252889, "num_members": 4,
                         "topic": {"value": "Company-wide announcements"}, "purpose": {"value": "General"}});
    let random = json!({"id": "C061EG9T2", "name": "random", "is_channel": true, "is_private": false,
                        "is_archived": false, "is_member": false, "created": 1449252889, "num_members": 3,
                        "topic": {"value": ""}, "purpose": {"value": "Off-topic"}});
    map_case(
        "slack.list_channels",
        json!({"limit": 1}),
        vec![
            (
                200,
                json!({"ok": true, "channels": [general.clone()],
                         "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}}),
            ),
            (
                200,
                json!({"ok": true, "channels": [random.clone()], "response_metadata": {"next_cursor": ""}}),
            ),
        ],
        Some((CursorAt::Query("cursor"), &["dGVhbTpDMDYxRkE1UEI="])),
        json!({"channels": [general, random]}),
    );

    let hello = json!({"type": "message", "user": "U012AB3CDE", "text": "Hello", "ts": "1512085950.000216"});
    let older = json!({"type": "message", "user": "U061F7AUR", "text": "Earlier", "ts": "1512085861.000543"});
    map_case(
        "slack.list_messages",
        json!({"channel": "C1234567890", "limit": 1}),
        vec![
            (
                200,
                json!({"ok": true, "messages": [hello.clone()], "has_more": true, "pin_count": 0,
                         "response_metadata": {"next_cursor": "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"}}),
            ),
            (
                200,
                json!({"ok": true, "messages": [older.clone()], "has_more": false, "pin_count": 0}),
            ),
        ],
        Some((
            CursorAt::Query("cursor"),
            &["bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"],
        )),
        json!({"messages": [hello, older]}),
    );
}

#[test]
fn gmail_outputs() {
    map_case(
        "gmail.send_email",
        json!({"to": "bob@example.com", "subject": "Hello", "body": "Hi Bob!"}),
        vec![(
            200,
            json!({"id": "18c2f0a1b2c3d4e5", "threadId": "18c2f0a1b2c3d4e5", "labelIds": ["SENT"]}),
        )],
        None,
        json!({"message_id": "18c2f0a1b2c3d4e5", "thread_id": "18c2f0a1b2c3d4e5"}),
    );

    let m1 = json!({"id": "18c2f0a1b2c3d4e5", "threadId": "18c2f0a1b2c3d4e5"});
    let m2 = json!({"id": "18c2ef99aa00bb11", "threadId": "18c2ef11cc22dd33"});
    let m3 = json!({"id": "18c2e0000000aaaa", "threadId": "18c2e0000000aaaa"});
    map_case(
        "gmail.list_messages",
        json!({"query": "is:unread", "max_results": 2}),
        vec![
            (
                200,
                json!({"messages": [m1.clone(), m2.clone()], "nextPageToken": "09876543210123456789",
                         "resultSizeEstimate": 3}),
            ),
            (
                200,
                json!({"messages": [m3.clone()], "resultSizeEstimate": 3}),
            ),
        ],
        Some((CursorAt::Query("pageToken"), &["09876543210123456789"])),
        json!({"messages": [m1, m2, m3], "result_size_estimate": 3}),
    );

    // Gmail leaves `messages` out when nothing matched: the output is still a list.
    map_case(
        "gmail.list_messages",
        json!({"query": "from:nobody@example.com"}),
        vec![(200, json!({"resultSizeEstimate": 0}))],
        None,
        json!({"messages": [], "result_size_estimate": 0}),
    );

    let headers = json!([
        {"name": "From", "value": "Alice <alice@example.com>"},
        {"name": "Subject", "value": "Hello"}
    ]);
    let payload = json!({"mimeType": "text/plain", "headers": headers, "body": {"size": 7, "data": "SGkgQm9iIQ"}});
    map_case(
        "gmail.get_message",
        json!({"id": "18c2f0a1b2c3d4e5"}),
        vec![(
            200,
            json!({
                "id": "18c2f0a1b2c3d4e5", "threadId": "18c2f0a1b2c3d4e5", "labelIds": ["INBOX", "UNREAD"],
                "snippet": "Hi Bob! Just checking in about…", "historyId": "987654",
                "internalDate": "1700000000000", "sizeEstimate": 4321, "payload": payload
            }),
        )],
        None,
        json!({
            "id": "18c2f0a1b2c3d4e5", "thread_id": "18c2f0a1b2c3d4e5", "label_ids": ["INBOX", "UNREAD"],
            "snippet": "Hi Bob! Just checking in about…", "internal_date": "1700000000000",
            "headers": headers, "payload": payload
        }),
    );
}

#[test]
fn jira_outputs() {
    let issue_url = format!("{JIRA}/issue/10000");
    map_case(
        "jira.create_issue",
        json!({"project": "ENG", "summary": "Login page returns 500"}),
        vec![(
            201,
            json!({"id": "10000", "key": "ENG-24", "self": issue_url}),
        )],
        None,
        json!({"id": "10000", "key": "ENG-24", "url": issue_url}),
    );

    let description = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Steps to reproduce…"}]}
    ]});
    map_case(
        "jira.get_issue",
        json!({"issue": "ENG-24"}),
        vec![(
            200,
            json!({
                "id": "10000", "key": "ENG-24", "self": issue_url,
                "fields": {
                    "summary": "Login page returns 500",
                    "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                    "issuetype": {"name": "Task"},
                    "project": {"key": "ENG", "name": "Engineering"},
                    "priority": {"name": "High"},
                    "assignee": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Jane Doe"},
                    "reporter": null,
                    "labels": ["gateway"],
                    "created": "2025-01-09T08:00:00.000+0000",
                    "updated": "2025-01-10T10:00:00.000+0000",
                    "description": description
                }
            }),
        )],
        None,
        json!({
            "id": "10000", "key": "ENG-24", "url": issue_url, "summary": "Login page returns 500",
            "status": "To Do", "issue_type": "Task", "project": "ENG", "priority": "High",
            "assignee": "Jane Doe", "reporter": null, "labels": ["gateway"],
            "created": "2025-01-09T08:00:00.000+0000", "updated": "2025-01-10T10:00:00.000+0000",
            "description": description
        }),
    );

    let i1 = json!({"id": "10000", "key": "ENG-24", "self": issue_url,
                    "fields": {"summary": "Login page returns 500", "status": {"name": "To Do"}}});
    let i2 = json!({"id": "10001", "key": "ENG-25", "self": format!("{JIRA}/issue/10001"),
                    "fields": {"summary": "Logout is slow", "status": {"name": "In Progress"}}});
    map_case(
        "jira.search_issues",
        json!({"jql": "project = ENG ORDER BY updated DESC", "max_results": 1}),
        vec![
            (
                200,
                json!({"issues": [i1.clone()], "nextPageToken": "CAEaAggD", "isLast": false}),
            ),
            (200, json!({"issues": [i2.clone()], "isLast": true})),
        ],
        Some((CursorAt::Query("nextPageToken"), &["CAEaAggD"])),
        json!({"issues": [i1, i2]}),
    );

    let comment_url = format!("{JIRA}/issue/10000/comment/10100");
    map_case(
        "jira.add_comment",
        json!({"issue": "ENG-24", "body": "Fixed in build 123."}),
        vec![(
            201,
            json!({
                "self": comment_url, "id": "10100",
                "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Jane Doe"},
                "body": {"type": "doc", "version": 1, "content": []},
                "created": "2025-01-10T10:00:00.000+0000", "updated": "2025-01-10T10:00:00.000+0000",
                "jsdPublic": true
            }),
        )],
        None,
        json!({"id": "10100", "url": comment_url, "created": "2025-01-10T10:00:00.000+0000"}),
    );
}

#[test]
fn linear_outputs() {
    let url = "https://linear.app/acme/issue/ENG-123/login-page-returns-500";
    map_case(
        "linear.create_issue",
        json!({"team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "Login page returns 500"}),
        vec![(
            200,
            json!({"data": {"issueCreate": {"success": true, "issue": {
                "id": "b6f0c8a2-1111-4222-8333-944445555666", "identifier": "ENG-123", "url": url,
                "title": "Login page returns 500"
            }}}}),
        )],
        None,
        json!({"id": "b6f0c8a2-1111-4222-8333-944445555666", "key": "ENG-123", "url": url}),
    );

    let a = json!({"id": "b6f0c8a2-1111-4222-8333-944445555666", "identifier": "ENG-123",
                   "title": "Login page returns 500", "url": url, "priority": 2,
                   "updatedAt": "2025-01-10T10:00:00.000Z", "state": {"name": "Todo", "type": "unstarted"},
                   "assignee": null, "team": {"key": "ENG"}});
    let b = json!({"id": "c7a1d9b3-2222-4333-9444-a55556666777", "identifier": "ENG-122",
                   "title": "Logout is slow", "url": "https://linear.app/acme/issue/ENG-122/logout-is-slow",
                   "priority": 0, "updatedAt": "2025-01-09T10:00:00.000Z",
                   "state": {"name": "In Progress", "type": "started"}, "assignee": {"name": "Jane Doe"},
                   "team": {"key": "ENG"}});
    map_case(
        "linear.list_issues",
        json!({"first": 1}),
        vec![
            (
                200,
                json!({"data": {"issues": {"nodes": [a.clone()],
                         "pageInfo": {"hasNextPage": true, "endCursor": "0c1d5d3e-7f0a-4b8e-9c1d-2e3f4a5b6c7d"}}}}),
            ),
            (
                200,
                json!({"data": {"issues": {"nodes": [b.clone()],
                         "pageInfo": {"hasNextPage": false, "endCursor": "1d2e6e4f-8a1b-4c9f-8d2e-3f4a5b6c7d8e"}}}}),
            ),
        ],
        Some((
            CursorAt::Body("/variables/after"),
            &["0c1d5d3e-7f0a-4b8e-9c1d-2e3f4a5b6c7d"],
        )),
        json!({"issues": [a, b]}),
    );

    // hasNextPage false ends the listing even though an endCursor is given.
    let eng =
        json!({"id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "key": "ENG", "name": "Engineering"});
    map_case(
        "linear.list_teams",
        json!({}),
        vec![(
            200,
            json!({"data": {"teams": {"nodes": [eng.clone()],
                          "pageInfo": {"hasNextPage": false, "endCursor": "9cfb482a"}}}}),
        )],
        Some((CursorAt::Body("/variables/after"), &[])),
        json!({"teams": [eng]}),
    );
}

// === 3. provider errors ===

/// Calls `id` answering `status` and `body` (with `headers` added); returns
/// the unified error after checking it names the provider and the status.
fn error_case(
    id: &str,
    params: Value,
    status: u16,
    body: Value,
    headers: &[(&'static str, &'static str)],
) -> Error {
    let mut response = ProviderResponse::json(status, &body);
    let mut extra = HeaderMap::new();
    for (name, value) in headers {
        extra.insert(*name, HeaderValue::from_static(value));
    }
    response.headers.extend(extra);
    let (result, sent) = call(id, &params, &[response]);
    assert_eq!(sent.len(), 1, "{id}");
    let err = result.expect_err("the call fails");
    assert_eq!(err.provider.as_deref(), id.split('.').next(), "{id}");
    assert_eq!(err.upstream_status, Some(status), "{id}");
    err
}

fn detail<'e>(err: &'e Error, key: &str) -> Option<&'e str> {
    err.details.get(key).and_then(Value::as_str)
}

#[test]
fn slack_errors() {
    let send = json!({"channel": "C0000000000", "text": "hi"});
    let err = error_case(
        "slack.send_message",
        send.clone(),
        200,
        json!({"ok": false, "error": "channel_not_found"}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::ProviderError);
    assert_eq!(err.message, "channel_not_found");
    assert_eq!(detail(&err, "provider_code"), Some("channel_not_found"));

    for code in [
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "account_inactive",
    ] {
        let err = error_case(
            "slack.send_message",
            send.clone(),
            200,
            json!({"ok": false, "error": code}),
            &[],
        );
        assert_eq!(err.code, ErrorCode::ReauthorizationRequired, "{code}");
        assert_eq!(detail(&err, "provider_code"), Some(code));
    }

    let err = error_case(
        "slack.list_channels",
        json!({}),
        200,
        json!({"ok": false, "error": "missing_scope", "needed": "channels:read", "provided": "chat:write"}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::Forbidden);

    let err = error_case(
        "slack.list_messages",
        json!({"channel": "C1234567890"}),
        429,
        json!({"ok": false, "error": "ratelimited"}),
        &[("retry-after", "30")],
    );
    assert_eq!(err.code, ErrorCode::RateLimited);
    assert_eq!(err.retry_after_s, Some(30));
}

#[test]
fn gmail_errors() {
    let message = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.";
    let err = error_case(
        "gmail.list_messages",
        json!({}),
        401,
        json!({"error": {
            "code": 401,
            "message": message,
            "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                        "location": "Authorization", "locationType": "header"}],
            "status": "UNAUTHENTICATED"
        }}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::ReauthorizationRequired);
    assert_eq!(err.message, message);
    assert_eq!(detail(&err, "provider_code"), Some("UNAUTHENTICATED"));

    let err = error_case(
        "gmail.get_message",
        json!({"id": "18c2f0a1b2c3d4e5"}),
        404,
        json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::NotFound);
    assert_eq!(err.message, "Requested entity was not found.");
}

#[test]
fn jira_errors() {
    let search = json!({"jql": "project = NOPE"});
    let message = "The value 'NOPE' does not exist for the field 'project'.";
    let err = error_case(
        "jira.search_issues",
        search,
        400,
        json!({"errorMessages": [message], "errors": {}}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::ProviderError);
    assert_eq!(err.message, message);

    // Field errors only: the first field's message.
    let err = error_case(
        "jira.create_issue",
        json!({"project": "ENG", "summary": "x"}),
        400,
        json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::ProviderError);
    assert_eq!(err.message, "You must specify a summary of the issue.");

    let err = error_case(
        "jira.get_issue",
        json!({"issue": "ENG-999"}),
        404,
        json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::NotFound);
    assert_eq!(
        err.message,
        "Issue does not exist or you do not have permission to see it."
    );

    // The API gateway's own 401 is not an ErrorCollection.
    let err = error_case(
        "jira.get_issue",
        json!({"issue": "ENG-1"}),
        401,
        json!({"code": 401, "message": "Unauthorized"}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::ReauthorizationRequired);
}

#[test]
fn linear_errors() {
    let message = "Rate limit exceeded. Only 2500 requests are allowed per 1 hour.";
    let err = error_case(
        "linear.list_issues",
        json!({}),
        200,
        json!({"errors": [{"message": message, "extensions": {"code": "RATELIMITED", "type": "ratelimited"}}], "data": null}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::RateLimited);
    assert_eq!(err.message, message);
    assert_eq!(detail(&err, "provider_code"), Some("RATELIMITED"));

    let err = error_case(
        "linear.create_issue",
        json!({"team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "x"}),
        400,
        json!({"errors": [{
            "message": "Authentication required, not authenticated",
            "extensions": {"type": "authentication error", "code": "AUTHENTICATION_ERROR", "userError": true,
                           "userPresentableMessage": "You need to authenticate to access this operation."}
        }], "data": null}),
        &[],
    );
    assert_eq!(err.code, ErrorCode::ReauthorizationRequired);
    assert_eq!(err.message, "Authentication required, not authenticated");
}
