//! The OAuth 2.0 authorization code flow against a local authorization
//! server that checks what RFC 6749 and RFC 7636 require: client
//! authentication, the exact redirect_uri, the code, the grant type and the
//! PKCE verifier.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const STUDIO: &str = "tests/fixtures/oauth/studio.yaml";
const CLIENT_ID: &str = "studio-client";
const CLIENT_SECRET: &str = "studio-secret";
const CODE: &str = "auth-code-1";

/// What the authorization server knows about the one authorization in flight.
#[derive(Clone, Default)]
struct Grant {
    challenge: Arc<Mutex<Option<String>>>,
    redirect_uri: Arc<Mutex<Option<String>>>,
    /// Each new grant gets its own refresh token (rt-1, rt-2, …) unless
    /// the provider is told to hand the same one back.
    issued: Arc<std::sync::atomic::AtomicUsize>,
    same_refresh_token: Arc<std::sync::atomic::AtomicBool>,
}

impl Respond for Grant {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let refuse = |error: &str, why: &str| {
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": error, "error_description": why}))
        };
        let expected_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        if request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some(expected_auth.as_str())
        {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return refuse("unsupported_grant_type", "grant_type");
        }
        if form.get("code").map(String::as_str) != Some(CODE) {
            return refuse("invalid_grant", "unknown code");
        }
        if form.get("redirect_uri") != self.redirect_uri.lock().unwrap().as_ref() {
            return refuse(
                "invalid_grant",
                "redirect_uri differs from the authorization request",
            );
        }
        // RFC 7636 4.6: BASE64URL(SHA256(verifier)) == challenge; no
        // challenge in the authorization request means no verifier here.
        let challenge = self.challenge.lock().unwrap().clone();
        match (form.get("code_verifier"), challenge) {
            (Some(verifier), Some(challenge)) => {
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()));
                if computed != challenge {
                    return refuse("invalid_grant", "PKCE verification failed");
                }
            }
            (None, None) => {}
            (None, Some(_)) => return refuse("invalid_request", "code_verifier missing"),
            (Some(_), None) => {
                return refuse("invalid_request", "code_verifier without a challenge");
            }
        }
        use std::sync::atomic::Ordering;
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let refresh = match self.same_refresh_token.load(Ordering::SeqCst) {
            true => "rt-1".to_owned(),
            false => format!("rt-{n}"),
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "authed": {"access_token": "at-1", "refresh_token": refresh, "expires_in": 3600, "scope": "read,write"}
        }))
    }
}

struct Flow {
    gw: TestGateway,
    mock: MockServer,
    grant: Grant,
    account: String,
    /// The user's browser's cookies (`name=value`), one per flow it started.
    cookies: std::sync::Mutex<Vec<String>>,
}

async fn flow() -> Flow {
    flow_of(STUDIO).await
}

/// The flow for a spec file (`studio.yaml`, or a variant written elsewhere).
async fn flow_of(spec: &str) -> Flow {
    let mock = MockServer::start().await;
    let grant = Grant::default();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(grant.clone())
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(header("authorization", "Bearer at-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": "ann", "site": {"id": "site-9"}})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/sites/site-9/"))
        .and(header("authorization", "Bearer at-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Ann's site"})))
        .mount(&mock)
        .await;
    let uri = mock.uri();
    let key = std::path::Path::new(spec)
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let setup = Setup::new(specs_dir(&[spec])).configure(move |c| {
        let o = c.provider_overrides.entry(key.clone()).or_default();
        o.origins
            .insert("https://studio.example".into(), uri.clone());
        o.origins
            .insert("https://api.studio.example".into(), uri.clone());
    });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    let conn = gw
        .connection(json!({"provider": std::path::Path::new(spec).file_stem().unwrap().to_str().unwrap(),
                           "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}))
        .await;
    let account = gw.account(&conn, "ann", None).await;
    Flow {
        gw,
        mock,
        grant,
        account,
        cookies: Default::default(),
    }
}

/// Asks for an authorization URL and plays the authorization server's part
/// of it: checks the URL and remembers the challenge. Returns the state.
async fn authorize(f: &Flow, redirect_url: Option<&str>) -> String {
    let body = match redirect_url {
        Some(r) => json!({ "redirect_url": r }),
        None => json!({}),
    };
    let (status, link) =
        f.gw.post(
            &format!("/v1/connected-accounts/{}/auth-url", f.account),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert!(link["state_expires_at"].as_str().is_some());
    let url = open_link(f, link["url"].as_str().unwrap()).await;
    assert_eq!(
        format!("{}{}", url.origin().ascii_serialization(), url.path()),
        format!("{}/oauth/authorize", f.mock.uri())
    );
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], f.gw.url("/v1/oauth/callback"));
    assert_eq!(q["scope"], "read,write", "the spec's separator");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].len() >= 40, "a long random state");
    *f.grant.challenge.lock().unwrap() = Some(q["code_challenge"].clone());
    *f.grant.redirect_uri.lock().unwrap() = Some(q["redirect_uri"].clone());
    q["state"].clone()
}

/// The user opens a start link in their browser and continues: the
/// provider's authorization URL, with the flow's cookie kept.
async fn open_link(f: &Flow, link: &str) -> url::Url {
    let (url, cookie) = f.gw.continue_flow(link).await;
    f.cookies.lock().unwrap().push(cookie);
    url
}

/// The user's browser coming back to the gateway.
async fn callback(f: &Flow, query: &[(&str, &str)]) -> reqwest::Response {
    let cookies = f.cookies.lock().unwrap().join("; ");
    callback_from(f, &cookies, query).await
}

/// A browser with `cookies` arriving at the callback.
async fn callback_from(f: &Flow, cookies: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(f.gw.url("/v1/oauth/callback")).query(query);
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    request.send().await.unwrap()
}

fn location(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://app.example/done?"),
        "{location}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_with_pkce_connects_the_account() {
    let f = flow().await;
    let state = authorize(&f, Some("https://app.example/done")).await;
    let response = callback(&f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert_eq!(back["connected_account_id"], f.account);
    assert_eq!(back["status"], "active");

    let (_, account) =
        f.gw.get(&format!("/v1/connected-accounts/{}", f.account))
            .await;
    assert_eq!(account["status"], "active");
    assert_eq!(account["scopes"], json!(["read", "write"]));
    assert_eq!(
        account["config"],
        json!({"site_id": "site-9"}),
        "discovered after authorization"
    );
    assert!(!account.to_string().contains("at-1"));
    let stored = f.gw.table_text("connected_accounts").await;
    assert!(
        !stored.contains("at-1") && !stored.contains("rt-1"),
        "tokens are sealed at rest"
    );

    let (status, body) =
        f.gw.post(
            "/v1/tools/execute",
            json!({"connected_account_id": f.account, "tool": "get_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Ann's site");

    // The same callback again: the state is single-use.
    let response = callback(&f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("used already"));
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_belongs_to_the_browser_that_continued_it() {
    let f = flow().await;
    let (_, link) =
        f.gw.post(
            &format!("/v1/connected-accounts/{}/auth-url", f.account),
            json!({}),
        )
        .await;
    let link = link["url"].as_str().unwrap().to_owned();
    let state = link.rsplit('/').next().unwrap().to_owned();
    let browser = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };

    // The state alone, without the start link: refused, and still usable.
    let response = callback(&f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("not started from its link")
    );

    // A link preview fetches the page: nothing is claimed.
    let preview = browser().get(&link).send().await.unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    assert!(preview.headers().get("set-cookie").is_none());
    assert!(preview.text().await.unwrap().contains("Continue to Studio"));

    // Ann continues; the link is now hers.
    let url = open_link(&f, &link).await;
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    *f.grant.challenge.lock().unwrap() = Some(q["code_challenge"].clone());
    *f.grant.redirect_uri.lock().unwrap() = Some(q["redirect_uri"].clone());
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let other = browser().request(method, &link).send().await.unwrap();
        assert_eq!(other.status(), StatusCode::BAD_REQUEST);
        assert!(other.headers().get("set-cookie").is_none());
        assert!(other.text().await.unwrap().contains("another browser"));
    }

    // She forwards the provider's page to Bob, who consents: his browser
    // has no cookie, so nothing is stored, and the flow stays hers.
    for cookies in [
        "",
        "other=1",
        &format!("sb_oauth_{}=forged", &sha256_hex(&state)[..16]),
    ] {
        let response =
            callback_from(&f, cookies, &[("code", "bobs-code"), ("state", &state)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{cookies}");
        assert!(response.text().await.unwrap().contains("another browser"));
    }
    let response = callback(&f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens_asked = f
        .mock
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .count();
    assert_eq!(tokens_asked, 1, "only Ann's code was exchanged");
    f.gw.stop().await;
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_states_and_refusals_leave_the_account_unchanged() {
    let f = flow().await;
    for query in [
        vec![("code", CODE), ("state", "forged")],
        vec![("code", CODE)],
    ] {
        let response = callback(&f, &query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("This authorization link is not valid."),
            "{page}"
        );
    }

    // Expired.
    let state = authorize(&f, Some("https://app.example/done")).await;
    f.gw.sql("UPDATE oauth_states SET expires_at = 0").await;
    let response = callback(&f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("expired"));

    // The user said no.
    let state = authorize(&f, Some("https://app.example/done")).await;
    let response = callback(
        &f,
        &[
            ("error", "access_denied"),
            ("error_description", "User said no"),
            ("state", &state),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert_eq!(
        (back["status"].as_str(), back["error"].as_str()),
        ("denied", "access_denied")
    );

    // A wrong code: the token endpoint's invalid_grant comes back to the app.
    let state = authorize(&f, Some("https://app.example/done")).await;
    let response = callback(&f, &[("code", "stolen"), ("state", &state)]).await;
    let back = location(&response);
    assert_eq!(
        (back["status"].as_str(), back["error"].as_str()),
        ("error", "invalid_grant")
    );

    let (_, account) =
        f.gw.get(&format!("/v1/connected-accounts/{}", f.account))
            .await;
    assert_eq!(account["status"], "pending");
    assert_eq!(account["has_credentials"], false);

    // Without a redirect_url the callback shows a page.
    let state = authorize(&f, None).await;
    let response = callback(&f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Account connected"));
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_an_unconnected_account_carries_a_fresh_link() {
    let f = flow().await;
    let (status, body) =
        f.gw.post(
            "/v1/tools/execute",
            json!({"connected_account_id": f.account, "tool": "get_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "reauthorization_required");
    let link = body["error"]["details"]["auth_url"]
        .as_str()
        .expect("a link to hand to the user");
    // The link works: the user authorizes, and the call succeeds.
    let url = open_link(&f, link).await;
    assert!(
        url.as_str()
            .starts_with(&format!("{}/oauth/authorize?", f.mock.uri())),
        "{url}"
    );
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    *f.grant.challenge.lock().unwrap() = Some(q["code_challenge"].clone());
    *f.grant.redirect_uri.lock().unwrap() = Some(q["redirect_uri"].clone());
    let response = callback(&f, &[("code", CODE), ("state", &q["state"])]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) =
        f.gw.post(
            "/v1/tools/execute",
            json!({"connected_account_id": f.account, "tool": "get_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_revokes_its_token_at_the_provider() {
    let f = flow().await;
    // RFC 7009: the token and its type hint, with client authentication.
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            )
            .as_str(),
        ))
        .and(wiremock::matchers::body_string(
            "token=rt-1&token_type_hint=refresh_token",
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&f.mock)
        .await;
    authorize_again(&f).await;
    let (status, body) =
        f.gw.delete(&format!("/v1/connected-accounts/{}", f.account))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_at_provider"], true);
    let (status, _) =
        f.gw.get(&format!("/v1/connected-accounts/{}", f.account))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    f.mock.verify().await;
    f.gw.stop().await;
}

/// Authorizes the flow's account (once more), as its user would.
async fn authorize_again(f: &Flow) {
    let state = authorize(f, None).await;
    let response = callback(f, &[("code", CODE), ("state", &state)]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn revocations(f: &Flow) -> Vec<String> {
    f.mock
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/oauth/revoke")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

/// The provider's revocation endpoint accepts whatever it is sent (the
/// test reads what it got with `revocations`).
async fn accept_revocations(f: &Flow) {
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.mock)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_grant_is_revoked_where_the_spec_says_it_is_safe() {
    let dir = common::scratch_dir("replaced");
    let source = std::fs::read_to_string(STUDIO).unwrap();
    std::fs::copy(STUDIO.replace(".yaml", ".svg"), dir.join("studio.svg")).unwrap();
    let spec = dir.join("studio.yaml");
    std::fs::write(
        &spec,
        source.replace(
            "  revoke_url: https://studio.example/oauth/revoke\n",
            "  revoke_url: https://studio.example/oauth/revoke\n  revoke_replaced: true\n",
        ),
    )
    .unwrap();
    let f = flow_of(spec.to_str().unwrap()).await;
    accept_revocations(&f).await;
    authorize_again(&f).await;
    assert_eq!(
        revocations(&f).await,
        Vec::<String>::new(),
        "nothing replaced yet"
    );
    authorize_again(&f).await;
    assert_eq!(
        revocations(&f).await,
        ["token=rt-1&token_type_hint=refresh_token"],
        "the first grant, replaced by the second"
    );
    // The provider hands the same refresh token back: it stays.
    f.grant
        .same_refresh_token
        .store(true, std::sync::atomic::Ordering::SeqCst);
    authorize_again(&f).await;
    authorize_again(&f).await;
    assert_eq!(revocations(&f).await.len(), 2, "rt-2 replaced by rt-1 once");
    let (status, body) =
        f.gw.post(
            "/v1/tools/execute",
            json!({"connected_account_id": f.account, "tool": "get_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_grant_stays_by_default() {
    let f = flow().await;
    accept_revocations(&f).await;
    authorize_again(&f).await;
    authorize_again(&f).await;
    assert_eq!(revocations(&f).await, Vec::<String>::new());
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_connection_revokes_its_accounts_tokens() {
    let f = flow().await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(wiremock::matchers::body_string(
            "token=rt-1&token_type_hint=refresh_token",
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&f.mock)
        .await;
    authorize_again(&f).await;
    let (_, account) =
        f.gw.get(&format!("/v1/connected-accounts/{}", f.account))
            .await;
    let conn = account["connection_id"].as_str().unwrap();
    let (status, body) = f.gw.delete(&format!("/v1/connections/{conn}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["connected_accounts_deleted"], 1);
    assert_eq!(body["revoked_at_provider"], 1);
    f.mock.verify().await;
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_needing_an_ungranted_scope_asks_for_it() {
    let f = flow().await;
    authorize_again(&f).await;
    let (status, body) =
        f.gw.post(
            "/v1/tools/execute",
            json!({"connected_account_id": f.account, "tool": "delete_site"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "reauthorization_required");
    assert_eq!(
        body["error"]["message"],
        "the account was not granted the scope this tool needs: admin"
    );
    assert_eq!(body["error"]["details"]["missing_scopes"], json!(["admin"]));
    let link = open_link(&f, body["error"]["details"]["auth_url"].as_str().unwrap()).await;
    let scope = link
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        scope, "read,write,admin",
        "the new link asks for the missing scope"
    );
    assert_eq!(
        f.mock
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method == wiremock::http::Method::DELETE)
            .count(),
        0
    );
    f.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_without_pkce() {
    // The same provider with `pkce: false`, as many providers are.
    let dir = common::scratch_dir("plain");
    let source = std::fs::read_to_string(STUDIO).unwrap();
    std::fs::copy(STUDIO.replace(".yaml", ".svg"), dir.join("plain.svg")).unwrap();
    let plain = source
        .replace("provider: studio", "provider: plain")
        .replace("logo: studio.svg", "logo: plain.svg")
        .replace("pkce: true", "pkce: false");
    let spec = dir.join("plain.yaml");
    std::fs::write(&spec, plain).unwrap();
    let f = flow_of(spec.to_str().unwrap()).await;
    let (status, link) =
        f.gw.post(
            &format!("/v1/connected-accounts/{}/auth-url", f.account),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = open_link(&f, link["url"].as_str().unwrap()).await;
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(!q.contains_key("code_challenge") && !q.contains_key("code_challenge_method"));
    *f.grant.redirect_uri.lock().unwrap() = Some(q["redirect_uri"].clone());
    let response = callback(&f, &[("code", CODE), ("state", &q["state"])]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    let (_, account) =
        f.gw.get(&format!("/v1/connected-accounts/{}", f.account))
            .await;
    assert_eq!(account["status"], "active");
    f.gw.stop().await;
}
