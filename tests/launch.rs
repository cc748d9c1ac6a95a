//! The launch catalogue through a real gateway: every shipped provider is
//! served, and the product's own example calls run as written, each account
//! connected through the real OAuth flow against mock providers that check
//! the documented requests.

mod common;

use common::{Backend, Setup, TestGateway};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{
    body_json, body_partial_json, body_string_contains, header, method, path,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every origin the shipped specs name for these providers, moved to `mock`.
fn launch_setup(mock: &MockServer) -> Setup {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let uri = mock.uri();
    Setup::new(root.join("provider-specs")).configure(move |c| {
        let moves: &[(&str, &[&str])] = &[
            ("slack", &["https://slack.com"]),
            (
                "gmail",
                &[
                    "https://accounts.google.com",
                    "https://oauth2.googleapis.com",
                    "https://gmail.googleapis.com",
                ],
            ),
            (
                "google_calendar",
                &[
                    "https://accounts.google.com",
                    "https://oauth2.googleapis.com",
                    "https://www.googleapis.com",
                ],
            ),
            (
                "jira",
                &["https://auth.atlassian.com", "https://api.atlassian.com"],
            ),
            ("github", &["https://github.com", "https://api.github.com"]),
        ];
        for (provider, origins) in moves {
            let o = c
                .provider_overrides
                .entry((*provider).to_owned())
                .or_default();
            for origin in *origins {
                o.origins.insert((*origin).to_owned(), uri.clone());
            }
        }
    })
}

/// Creates a connection and an account for `user_123`, and authorizes it
/// through the gateway's OAuth flow; returns the account id.
async fn connect(gw: &TestGateway, connection: Value) -> String {
    let conn = gw.connection(connection).await;
    let account = gw.account(&conn, "user_123", None).await;
    let response = gw.authorize(&account, "code-1").await;
    let status = response.status();
    assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
    let (_, account_json) = gw.get(&format!("/v1/connected-accounts/{account}")).await;
    assert_eq!(account_json["status"], "active", "{account_json}");
    account
}

async fn execute(gw: &TestGateway, account: &str, tool: &str, parameters: Value) -> Value {
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": tool, "parameters": parameters}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tool}: {body}");
    body["data"].clone()
}

fn token_answer(token: &str, scope: &str, extra: Value) -> ResponseTemplate {
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 3599,
        "refresh_token": format!("refresh-{token}"),
        "scope": scope,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn every_launch_provider_is_served() {
    let mock = MockServer::start().await;
    let gw = TestGateway::start(&Backend::Sqlite, launch_setup(&mock)).await;
    let (status, body) = gw.get("/v1/providers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "asana",
            "bitbucket",
            "discord",
            "figma",
            "github",
            "gitlab",
            "gmail",
            "google_calendar",
            "google_drive",
            "jira",
            "linear",
            "microsoft_calendar",
            "microsoft_teams",
            "monday",
            "notion",
            "onedrive",
            "outlook",
            "slack",
            "trello",
            "vercel"
        ]
    );
    for p in body["data"].as_array().unwrap() {
        assert!(
            p["tools"].as_array().unwrap().len() >= 4,
            "{} has fewer than 4 tools",
            p["provider"]
        );
    }
    let (_, github) = gw.get("/v1/providers/github").await;
    let methods: Vec<&str> = github["auth_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["auth_type"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["oauth2", "bearer"]);
    gw.stop().await;
}

#[tokio::test]
async fn the_product_examples_run_as_written() {
    let mock = MockServer::start().await;
    let gw = TestGateway::start(&Backend::Sqlite, launch_setup(&mock)).await;

    // --- Slack: the team id comes from the token answer. ---
    Mock::given(method("POST"))
        .and(path("/api/oauth.v2.access"))
        .and(body_string_contains("code=code-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "token_type": "bot", "scope": "chat:write,channels:read,channels:manage",
            "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3",
            "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
            "enterprise": null, "authed_user": {"id": "U1234"}
        })))
        .mount(&mock)
        .await;
    let slack = connect(
        &gw,
        json!({"provider": "slack", "credentials": {"client_id": "slack-client", "client_secret": "s"}}),
    )
    .await;
    let (_, account) = gw.get(&format!("/v1/connected-accounts/{slack}")).await;
    assert_eq!(account["config"]["team_id"], "T9TK3CUKW", "{account}");

    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header(
            "authorization",
            "Bearer xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        ))
        .and(body_json(
            json!({"channel": "#support-team", "text": "New support ticket created for John Doe"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": "C123ABC456", "ts": "1503435956.000247",
            "message": {"text": "New support ticket created for John Doe", "type": "message", "ts": "1503435956.000247"}
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let sent = execute(
        &gw,
        &slack,
        "send_message",
        json!({"channel": "#support-team", "text": "New support ticket created for John Doe"}),
    )
    .await;
    assert_eq!(sent["id"], "1503435956.000247");
    assert_eq!(sent["channel"], "C123ABC456");

    Mock::given(method("POST"))
        .and(path("/api/conversations.create"))
        .and(body_partial_json(json!({"name": "newproj-team"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": {"id": "C0EAQDV4Z", "name": "newproj-team", "is_channel": true, "is_private": false,
                        "topic": {"value": "", "creator": "", "last_set": 0}}
        })))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/conversations.setTopic"))
        .and(body_json(
            json!({"channel": "C0EAQDV4Z", "topic": "New Project coordination"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": {"id": "C0EAQDV4Z", "name": "newproj-team",
                        "topic": {"value": "New Project coordination", "creator": "U0KRQLJ9H", "last_set": 1503435956}}
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let channel = execute(
        &gw,
        &slack,
        "create_channel",
        json!({"name": "newproj-team", "topic": "New Project coordination"}),
    )
    .await;
    assert_eq!(channel["id"], "C0EAQDV4Z");
    assert_eq!(channel["name"], "newproj-team");

    // --- Gmail and Google Calendar: Google's token endpoint. ---
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("client_id=gmail-client"))
        .respond_with(token_answer(
            "ya29.gmail",
            "https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/gmail.readonly",
            json!({}),
        ))
        .mount(&mock)
        .await;
    let gmail = connect(
        &gw,
        json!({"provider": "gmail", "auth_type": "oauth2",
               "credentials": {"client_id": "gmail-client", "client_secret": "s"},
               "scopes": ["https://www.googleapis.com/auth/gmail.send"]}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/gmail/v1/users/me/messages/send"))
        .and(header("authorization", "Bearer ya29.gmail"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "18c5f3a2b4e6d7f8", "threadId": "18c5f3a2b4e6d7f8", "labelIds": ["SENT"]
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let email = execute(
        &gw,
        &gmail,
        "send_email",
        json!({"to": "recipient@example.com", "subject": "Hello from Agent Actions",
               "body": "This email was sent via Agent Actions"}),
    )
    .await;
    assert_eq!(email["id"], "18c5f3a2b4e6d7f8");
    let sent = mock
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/gmail/v1/users/me/messages/send")
        .unwrap();
    let raw: Value = serde_json::from_slice(&sent.body).unwrap();
    let message = switchboard_base64url(raw["raw"].as_str().unwrap());
    assert!(
        message.contains("To: <recipient@example.com>\r\n"),
        "{message}"
    );
    assert!(
        message.contains("Subject: Hello from Agent Actions\r\n"),
        "{message}"
    );
    assert!(
        message.ends_with("\r\n\r\nThis email was sent via Agent Actions"),
        "{message}"
    );

    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("client_id=calendar-client"))
        .respond_with(token_answer(
            "ya29.calendar",
            "https://www.googleapis.com/auth/calendar.events",
            json!({}),
        ))
        .mount(&mock)
        .await;
    let calendar = connect(
        &gw,
        json!({"provider": "google_calendar", "credentials": {"client_id": "calendar-client", "client_secret": "s"}}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/primary/events"))
        .and(header("authorization", "Bearer ya29.calendar"))
        .and(body_partial_json(json!({
            "summary": "Follow up with lead",
            "start": {"dateTime": "2024-01-20T10:00:00Z"},
            "end": {"dateTime": "2024-01-20T10:30:00Z"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#event", "id": "7cbh8rpc10lrc0ckih9tafss99", "status": "confirmed",
            "htmlLink": "https://www.google.com/calendar/event?eid=N2NiaDhycGMxMGxyYzBja2loOXRhZnNzOTkg",
            "summary": "Follow up with lead",
            "start": {"dateTime": "2024-01-20T10:00:00Z", "timeZone": "UTC"},
            "end": {"dateTime": "2024-01-20T10:30:00Z", "timeZone": "UTC"}
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let event = execute(
        &gw,
        &calendar,
        "create_event",
        json!({"title": "Follow up with lead", "start_time": "2024-01-20T10:00:00Z",
               "end_time": "2024-01-20T10:30:00Z"}),
    )
    .await;
    assert_eq!(event["id"], "7cbh8rpc10lrc0ckih9tafss99");
    assert!(
        event["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.google.com/calendar/event")
    );

    // --- Jira: cloud id and account id discovered after authorization. ---
    const CLOUD: &str = "1324a887-45db-1bf4-1e99-ef0ff456d421";
    const OTHER: &str = "2b9f4a31-77c0-4c3e-9a0e-5d2f6b8e1a07";
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer(
            "jira-token",
            "read:jira-work write:jira-work read:jira-user read:me offline_access manage:jira-configuration",
            json!({}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .and(header("authorization", "Bearer jira-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "id": OTHER, "name": "other-domain", "url": "https://other-domain.atlassian.net",
            "scopes": ["write:jira-work", "read:jira-work"], "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"
        }, {
            "id": CLOUD, "name": "your-domain", "url": "https://your-domain.atlassian.net",
            "scopes": ["write:jira-work", "read:jira-work"], "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"
        }])))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(header("authorization", "Bearer jira-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "account_id": "5b10ac8d82e05b22cc7d4ef5", "email": "mia@example.com", "name": "Mia Krystof",
            "account_type": "atlassian", "account_status": "active"
        })))
        .mount(&mock)
        .await;
    let jira = connect(
        &gw,
        json!({"provider": "jira", "credentials": {"client_id": "jira-client", "client_secret": "s"},
               "scopes": ["manage:jira-configuration"]}),
    )
    .await;
    let (_, account) = gw.get(&format!("/v1/connected-accounts/{jira}")).await;
    // Every site is kept; the first is in use until the app picks another.
    assert_eq!(account["config"]["cloud_id"], OTHER, "{account}");
    assert_eq!(account["config"]["sites"][1]["name"], "your-domain");
    assert_eq!(account["config"]["account_id"], "5b10ac8d82e05b22cc7d4ef5");
    let (status, body) = gw
        .patch(
            &format!("/v1/connected-accounts/{jira}"),
            json!({"config": {"clod_id": CLOUD}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["message"],
        "`clod_id` is not an account value of provider `jira` (values: sites, cloud_id, account_id) (did you mean `cloud_id`?)"
    );
    let (status, account) = gw
        .patch(
            &format!("/v1/connected-accounts/{jira}"),
            json!({"config": {"cloud_id": CLOUD}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["config"]["cloud_id"], CLOUD);
    assert_eq!(account["config"]["account_id"], "5b10ac8d82e05b22cc7d4ef5");

    let jira_api = format!("/ex/jira/{CLOUD}/rest/api/3");
    Mock::given(method("POST"))
        .and(path(format!("{jira_api}/issue")))
        .and(header("authorization", "Bearer jira-token"))
        .and(body_partial_json(json!({"fields": {
            "project": {"key": "SUPPORT"},
            "summary": "Customer inquiry from John Doe",
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Customer needs help with billing"}]}
            ]}
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "10000", "key": "SUPPORT-24",
            "self": format!("https://api.atlassian.com{jira_api}/issue/10000")
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let issue = execute(
        &gw,
        &jira,
        "create_issue",
        json!({"project": "SUPPORT", "summary": "Customer inquiry from John Doe",
               "description": "Customer needs help with billing"}),
    )
    .await;
    assert_eq!(issue["key"], "SUPPORT-24");

    Mock::given(method("POST"))
        .and(path(format!("{jira_api}/project")))
        .and(body_partial_json(json!({
            "key": "NEWPROJ", "name": "New Project", "description": "Exciting new project",
            "leadAccountId": "5b10ac8d82e05b22cc7d4ef5"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 10010, "key": "NEWPROJ",
            "self": format!("https://api.atlassian.com{jira_api}/project/10010")
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let project = execute(
        &gw,
        &jira,
        "create_project",
        json!({"key": "NEWPROJ", "name": "New Project", "description": "Exciting new project"}),
    )
    .await;
    assert_eq!(project["key"], "NEWPROJ");

    gw.stop().await;
}

#[tokio::test]
async fn a_connection_chooses_among_a_providers_auth_methods() {
    let mock = MockServer::start().await;
    let gw = TestGateway::start(&Backend::Sqlite, launch_setup(&mock)).await;

    let (status, body) = gw
        .post(
            "/v1/connections",
            json!({"provider": "github", "auth_type": "api_key"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["message"],
        "provider `github` offers auth_type `oauth2` or `bearer`, not `api_key`"
    );

    let conn = gw
        .connection(json!({"provider": "github", "auth_type": "bearer"}))
        .await;
    let (_, connection) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(connection["auth_type"], "bearer");
    // The OAuth method's credentials are not what a token account holds.
    let (status, body) = gw
        .post(
            "/v1/connected-accounts",
            json!({"connection_id": conn, "identifier": "user_123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let account = body["id"].as_str().unwrap().to_owned();
    let (status, body) = gw
        .post(
            &format!("/v1/connected-accounts/{account}/credentials"),
            json!({"access_token": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = gw
        .post(
            &format!("/v1/connected-accounts/{account}/credentials"),
            json!({"token": "github_pat_11ABCDEFG0123456789"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .and(header(
            "authorization",
            "Bearer github_pat_11ABCDEFG0123456789",
        ))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": "Hello-World",
            "full_name": "octocat/Hello-World", "private": false,
            "html_url": "https://github.com/octocat/Hello-World",
            "description": "This your first repo!", "default_branch": "master",
            "updated_at": "2011-01-26T19:14:43Z"
        }])))
        .expect(1)
        .mount(&mock)
        .await;
    let repos = execute(&gw, &account, "list_repositories", json!({})).await;
    assert_eq!(
        repos["items"][0]["full_name"], "octocat/Hello-World",
        "{repos}"
    );
    gw.stop().await;
}

/// Decodes Gmail's base64url `raw` message.
fn switchboard_base64url(text: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    String::from_utf8(engine.decode(text).unwrap()).unwrap()
}
