//! The MCP server through the official MCP Python SDK's client
//! (`tests/mcp/client.py`, Streamable HTTP): one end user per request, by
//! API key and header or by a per-user link; tools listed with hints and
//! pages; calls that run like `/v1/tools/execute`; and a connect link for a
//! provider the user has not connected.

mod common;

use std::process::Command;

use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = common::API_KEY;

/// Whether the MCP Python SDK is installed (`.ci/run` installs it).
fn mcp_client_available() -> bool {
    Command::new("python3")
        .args(["-c", "import mcp, httpx2"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the MCP client against `url`; its JSON report.
fn mcp_client(url: &str, headers: Value, calls: Value) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(url)
        .arg(headers.to_string())
        .arg(calls.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// A spec with many small tools, so the tool list has more than one page.
fn bulk_spec() -> String {
    let mut text = String::from(
        "provider: bulk\ndisplay_name: Bulk\nbase_url: https://api.bulk.example\nauth: {type: bearer}\ntools:\n",
    );
    for i in 0..120 {
        text.push_str(&format!(
            "  tool_{i:03}:\n    description: Read thing number {i}.\n    parameters: {{type: object, properties: {{}}, additionalProperties: false}}\n    request: {{method: GET, path: /things/{i}}}\n"
        ));
    }
    text
}

fn names(report: &Value) -> Vec<String> {
    report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_lists_and_calls_the_users_tools() {
    if !mcp_client_available() {
        eprintln!("skipped: the MCP Python SDK is not installed (pip install mcp)");
        return;
    }
    let notes = MockServer::start().await;
    let specs = specs_dir(&[
        "examples/demo/notes.yaml",
        "tests/fixtures/oauth/studio.yaml",
    ]);
    std::fs::write(specs.join("bulk.yaml"), bulk_spec()).unwrap();
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs).base_url("notes", format!("{}/v1", notes.uri())),
    )
    .await;
    let conn = gw.connection(json!({"provider": "notes"})).await;
    gw.account(&conn, "ann", Some(json!({"api_key": "demo-key"})))
        .await;
    gw.connection(
        json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
    )
    .await;
    gw.connection(json!({"provider": "bulk"})).await;

    Mock::given(method("POST"))
        .and(path("/v1/notes"))
        .and(header("x-api-key", "demo-key"))
        .and(body_json(json!({"title": "From an agent"})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": 7, "title": "From an agent"})),
        )
        .expect(1)
        .mount(&notes)
        .await;

    let report = mcp_client(
        &gw.url("/mcp"),
        json!({"Authorization": format!("Bearer {KEY}"), "X-Switchboard-Identifier": "ann"}),
        json!([
            {"name": "notes__create_note", "arguments": {"title": "From an agent"}},
            {"name": "studio__get_site", "arguments": {}},
            {"name": "notes__create_note", "arguments": {}},
        ]),
    );
    assert_eq!(report["server"]["serverInfo"]["name"], "switchboard");

    // Every tool of every connected provider, across pages (120 + 3 + 2).
    let listed = names(&report);
    assert_eq!(listed.len(), 125, "{listed:?}");
    assert!(listed.contains(&"bulk__tool_119".to_owned()));
    let get_note = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "notes__get_note")
        .unwrap();
    assert_eq!(get_note["annotations"]["readOnlyHint"], true);
    assert_eq!(get_note["annotations"]["idempotentHint"], true);
    assert_eq!(get_note["inputSchema"]["required"], json!(["id"]));
    assert_eq!(get_note["outputSchema"]["type"], "object");

    // A call runs like /v1/tools/execute and answers structured content.
    let created = &report["calls"][0];
    assert_eq!(created["isError"], false, "{created}");
    assert_eq!(
        created["structuredContent"],
        json!({"note_id": 7, "title": "From an agent"})
    );
    let text: Value =
        serde_json::from_str(created["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text["note_id"], 7);

    // A provider the user has not connected: a link to hand them.
    let unconnected = &report["calls"][1];
    assert_eq!(unconnected["isError"], true);
    let message = unconnected["content"][0]["text"].as_str().unwrap();
    assert!(
        message.starts_with("The user has not connected their studio account yet."),
        "{message}"
    );
    let link = message.rsplit(' ').next().unwrap();
    assert!(link.starts_with(&gw.url("/connect/")), "{message}");
    let page = gw.client.get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // Bad arguments are a result the model can read and fix.
    let invalid = &report["calls"][2];
    assert_eq!(invalid["isError"], true);
    assert!(
        invalid["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("invalid_parameters: parameter `title` is required"),
        "{invalid}"
    );

    // Who the user is must be said, with a key.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}});
    let post = |headers: Vec<(&'static str, String)>| {
        let mut r = gw
            .client
            .post(gw.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let no_key = post(vec![("x-switchboard-identifier", "ann".into())])
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    let no_user = post(vec![("authorization", format!("Bearer {KEY}"))])
        .await
        .unwrap();
    assert_eq!(no_user.status(), StatusCode::BAD_REQUEST);
    let body: Value = no_user.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_user_link_opens_only_what_it_allows_until_revoked() {
    if !mcp_client_available() {
        eprintln!("skipped: the MCP Python SDK is not installed (pip install mcp)");
        return;
    }
    let notes = MockServer::start().await;
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"]))
            .base_url("notes", format!("{}/v1", notes.uri())),
    )
    .await;
    let conn = gw.connection(json!({"provider": "notes"})).await;
    gw.account(&conn, "bo", Some(json!({"api_key": "demo-key"})))
        .await;
    // A second account of the same provider: the tools take `account`.
    let (status, work) = gw
        .post(
            "/v1/connected-accounts",
            json!({"connection_id": conn, "identifier": "bo", "label": "work"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{work}");
    let work = work["id"].as_str().unwrap();
    gw.post(
        &format!("/v1/connected-accounts/{work}/credentials"),
        json!({"api_key": "work-key"}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/notes"))
        .and(header("x-api-key", "work-key"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1, "title": "w"})))
        .expect(1)
        .mount(&notes)
        .await;

    let (status, refused) = gw
        .post(
            "/v1/mcp-links",
            json!({"identifier": "bo", "tools": ["notes.delete_everything"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    let (status, link) = gw
        .post(
            "/v1/mcp-links",
            json!({"identifier": "bo", "providers": ["notes"], "tools": ["notes__create_note"],
                   "expires_in_s": 600}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&gw.url("/mcp/")), "{link}");
    assert_eq!(link["tools"], json!(["notes.create_note"]));
    let token = url.rsplit('/').next().unwrap();
    assert!(
        !gw.table_text("mcp_links").await.contains(token),
        "only the token's hash is stored"
    );

    // The link is the whole credential: no key, no header.
    let report = mcp_client(
        url,
        json!({}),
        json!([
            {"name": "notes__create_note", "arguments": {"title": "w", "account": "work"}},
            {"name": "notes__list_notes", "arguments": {}},
        ]),
    );
    assert_eq!(names(&report), ["notes__create_note"]);
    let account = &report["tools"][0]["inputSchema"]["properties"]["account"];
    assert_eq!(account["enum"], json!(["default", "work"]), "{report}");
    assert_eq!(report["calls"][0]["isError"], false, "{report}");
    assert_eq!(report["calls"][1]["isError"], true, "{report}");

    // Revoked: refused at once.
    let id = link["id"].as_str().unwrap();
    let (status, _) = gw.delete(&format!("/v1/mcp-links/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let after = gw
        .client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = gw.get(&format!("/v1/mcp-links/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
}
