//! End to end in a real headless browser (Chromium through chromedriver's
//! WebDriver API): a user opens a connect-session link, connects an API-key
//! account through the form (a refused key first) and OAuth accounts
//! through an authorization server's login and consent pages, adds a second
//! labelled account, and sees each outcome — declined, provider failure,
//! link expired or opened elsewhere — at desktop and phone widths, in light
//! and dark. axe-core audits every page state in the page itself (WCAG 2.1
//! A and AA). `.ci/run` installs Debian's chromium and chromium-driver and
//! axe-core (`npm --prefix tests/browser ci`); without the browser the tests
//! say that they skipped.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine as _;
use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A small OAuth 2.0 authorization server with real login and consent pages.
#[derive(Clone, Default)]
struct AuthServer {
    challenge: Arc<Mutex<Option<String>>>,
    /// The token endpoint answers 500 (a provider failure).
    broken: Arc<std::sync::atomic::AtomicBool>,
}

async fn authorize(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let original = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&q)
        .finish();
    Html(format!(
        "<!doctype html><title>Sign in</title><form method=post action=/login>\
         <input name=username><input name=password type=password>\
         <input type=hidden name=q value=\"{original}\"><button id=login>Sign in</button></form>"
    ))
}

async fn login(Form(f): Form<HashMap<String, String>>) -> impl IntoResponse {
    if f.get("password").map(String::as_str) != Some("correct horse") {
        return Html("<p id=denied>Wrong password</p>".to_owned());
    }
    Html(format!(
        "<!doctype html><title>Allow access</title><p>Studio wants to read your site.</p>\
         <form method=post action=/consent><input type=hidden name=q value=\"{q}\"><button id=allow name=answer value=allow>Allow</button>\
         <button id=deny name=answer value=deny>Deny</button></form>",
        q = f["q"]
    ))
}

async fn consent(State(s): State<AuthServer>, Form(f): Form<HashMap<String, String>>) -> Redirect {
    let q: HashMap<String, String> = url::form_urlencoded::parse(f["q"].as_bytes())
        .into_owned()
        .collect();
    *s.challenge.lock().unwrap() = q.get("code_challenge").cloned();
    let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
    if f.get("answer").map(String::as_str) == Some("deny") {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &q["state"]);
    } else {
        back.query_pairs_mut()
            .append_pair("code", "browser-code")
            .append_pair("state", &q["state"]);
    }
    Redirect::to(back.as_str())
}

async fn token(
    State(s): State<AuthServer>,
    Form(f): Form<HashMap<String, String>>,
) -> impl IntoResponse {
    if s.broken.load(std::sync::atomic::Ordering::SeqCst) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "server_error"})),
        );
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if f.get("code").map(String::as_str) != Some("browser-code")
        || Some(computed) != *s.challenge.lock().unwrap()
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(
            json!({"authed": {"access_token": "at-b", "refresh_token": "rt-b", "expires_in": 3600,
                          "user": {"email": "bea@studio.example"}}}),
        ),
    )
}

/// Desk's "who am I" endpoint: it knows one key.
async fn desk_me(headers: axum::http::HeaderMap) -> impl IntoResponse {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Key dk_bea") => (
            StatusCode::OK,
            axum::Json(json!({"agent": {"email": "bea@desk.example"}})),
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid key"})),
        ),
    }
}

async fn start_auth_server(server: AuthServer) -> String {
    let app = axum::Router::new()
        .route("/v1/me", get(desk_me))
        .route("/oauth/authorize", get(authorize))
        .route("/login", post(login))
        .route("/consent", post(consent))
        .route("/oauth/token", post(token))
        .route(
            "/me",
            get(|| async { axum::Json(json!({"site": {"id": "s9"}})) }),
        )
        .with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Option<Driver> {
        let (driver, chromium) = ("/usr/bin/chromedriver", "/usr/bin/chromium");
        if !std::path::Path::new(driver).exists() || !std::path::Path::new(chromium).exists() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut driver = Driver {
            child,
            base,
            session: String::new(),
            http,
        };
        common::eventually("chromedriver is ready", || {
            let (http, url) = (driver.http.clone(), format!("{}/status", driver.base));
            async move { http.get(url).send().await.is_ok() }
        })
        .await;
        let profile = common::scratch_dir("chromium");
        let caps = json!({"capabilities": {"alwaysMatch": {"timeouts": {"script": 30000}, "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let created = driver.call("POST", "/session", caps).await;
        driver.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        Some(driver)
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let reply: Value = request.send().await.unwrap().json().await.unwrap();
        reply["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(
            "POST",
            &format!("/session/{}/url", self.session),
            json!({ "url": url }),
        )
        .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                &format!("/session/{}/element", self.session),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element `{css}`: {found}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            "POST",
            &format!("/session/{}/element/{id}/value", self.session),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            "POST",
            &format!("/session/{}/element/{id}/click", self.session),
            json!({}),
        )
        .await;
    }

    /// Ends the browser session.
    async fn quit(&self) {
        let path = format!("/session/{}", self.session);
        self.call("DELETE", &path, Value::Null).await;
    }

    /// Runs `script` in the page; its return value.
    async fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            &format!("/session/{}/execute/sync", self.session),
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Waits until the page's source contains `text`.
    async fn shows(&self, text: &str) {
        common::eventually(&format!("the page shows `{text}`"), || async {
            self.source().await.contains(text)
        })
        .await;
    }

    async fn width(&self, width: u32) {
        self.call(
            "POST",
            &format!("/session/{}/window/rect", self.session),
            json!({"width": width, "height": 900}),
        )
        .await;
    }

    /// Light or dark, as `prefers-color-scheme` tells the page.
    async fn scheme(&self, scheme: &str) {
        self.call(
            "POST",
            &format!("/session/{}/goog/cdp/execute", self.session),
            json!({"cmd": "Emulation.setEmulatedMedia",
                   "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}}),
        )
        .await;
    }

    /// Forgets this browser's cookies: from now on it is another browser.
    async fn forget_cookies(&self) {
        self.call(
            "DELETE",
            &format!("/session/{}/cookie", self.session),
            Value::Null,
        )
        .await;
    }

    /// Runs axe-core in the page against WCAG 2.1 A and AA, and fails with
    /// every violation (rule, impact, the elements) if there is one.
    async fn audit(&self, axe: &str, what: &str) {
        self.script(axe).await;
        let found = self
            .call(
                "POST",
                &format!("/session/{}/execute/async", self.session),
                json!({"script": "const done = arguments[arguments.length - 1];\
                    axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
                      .then(r => done({passes: r.passes.length, violations: r.violations.map(v => ({\
                          id: v.id, impact: v.impact, help: v.help,\
                          nodes: v.nodes.map(n => n.html + ' — ' + n.failureSummary)}))}))\
                      .catch(e => done({error: String(e)}));",
                       "args": []}),
            )
            .await;
        assert!(
            found.get("error").is_none(),
            "axe failed on {what}: {found}"
        );
        assert!(
            found["passes"].as_u64().unwrap_or(0) > 0,
            "axe checked nothing on {what}: {found}"
        );
        assert_eq!(
            found["violations"],
            json!([]),
            "accessibility violations on {what}"
        );
    }

    async fn source(&self) -> String {
        self.call(
            "GET",
            &format!("/session/{}/source", self.session),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }
}

/// The browser and the accessibility engine, or `None` (with a note) when
/// the browser is not installed. With the browser but without axe-core the
/// test fails: an audit that silently did not run would prove nothing.
async fn browser_and_axe() -> Option<(Driver, String)> {
    let Some(driver) = Driver::start().await else {
        eprintln!(
            "skipped: /usr/bin/chromium and /usr/bin/chromedriver are not installed (.ci/run installs them)"
        );
        return None;
    };
    let axe = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; install it with `npm --prefix tests/browser ci`",
            axe.display()
        )
    });
    Some((driver, axe))
}

/// A gateway with Desk (API key) and Studio (OAuth) behind `auth`, and the
/// app's branding.
async fn gateway(auth: &str) -> TestGateway {
    let dir = common::scratch_dir("brand");
    let logo = dir.join("notes.svg");
    std::fs::write(
        &logo,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 8 8\"><circle cx=\"4\" cy=\"4\" r=\"4\" fill=\"#0a7f5c\"/></svg>",
    )
    .unwrap();
    let auth = auth.to_owned();
    let setup = Setup::new(specs_dir(&[
        "tests/fixtures/connect/desk.yaml",
        "tests/fixtures/oauth/studio.yaml",
    ]))
    .configure(move |c| {
        let o = c.provider_overrides.entry("studio".into()).or_default();
        o.origins
            .insert("https://studio.example".into(), auth.clone());
        o.origins
            .insert("https://api.studio.example".into(), auth.clone());
        let o = c.provider_overrides.entry("desk".into()).or_default();
        o.origins
            .insert("https://api.desk.example".into(), auth.clone());
        c.connect_page = serde_json::from_value(json!({
            "app_name": "Notes",
            "logo": logo,
            "support_url": "https://notes.example/help"
        }))
        .unwrap();
    });
    TestGateway::start(&Backend::Sqlite, setup).await
}

/// Signs in at the authorization server and answers its consent page.
async fn sign_in_and_answer(driver: &Driver, answer: &str) {
    driver.shows("Sign in").await;
    driver.type_into("input[name=username]", "bea").await;
    driver
        .type_into("input[name=password]", "correct horse")
        .await;
    driver.click("#login").await;
    driver.shows("Allow").await;
    driver.click(answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_connects_accounts_in_a_real_browser() {
    let Some((driver, axe)) = browser_and_axe().await else {
        return;
    };
    let auth = start_auth_server(AuthServer::default()).await;
    let gw = gateway(&auth).await;
    gw.connection(json!({"provider": "desk"})).await;
    gw.connection(
        json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
    )
    .await;
    let (_, session) = gw
        .post("/v1/connect-sessions", json!({"identifier": "bea"}))
        .await;
    let link = session["url"].as_str().unwrap();
    driver.width(1000).await;

    // Continue claims the link for this browser.
    driver.go(link).await;
    driver.shows("Notes asks to connect your accounts").await;
    driver.audit(&axe, "the Continue page").await;
    driver.click("form[action^='/connect/'] button").await;
    driver.shows("name=\"api_key\"").await;

    // Who asks, each provider's logo, and what connecting allows.
    let page = driver.source().await;
    for part in [
        "<img class=\"logo\" src=\"/assets/logo\"",
        "Notes will be able to:",
        "<li>See and answer your support tickets</li>",
        "<li>See your site</li>",
        "<li>Change your site</li>",
        "Where to find it",
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    let images = driver
        .script(
            "return [...document.images].map(i => ({src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0}));",
        )
        .await;
    assert_eq!(
        images,
        json!([
            {"src": "/assets/logo", "loaded": true},
            {"src": "/assets/providers/desk/logo", "loaded": true},
            {"src": "/assets/providers/studio/logo", "loaded": true},
        ]),
        "the logos load under the page's CSP"
    );
    driver.audit(&axe, "the connect page").await;

    // A key Desk refuses: said beside the field, and the page stays usable.
    driver.type_into("input[name=api_key]", "dk_wrong").await;
    driver.click("form[action*='/credentials/'] button").await;
    driver.shows("Desk did not accept this.").await;
    let invalid = driver
        .script("const i = document.querySelector('input[name=api_key]'); return {invalid: i.getAttribute('aria-invalid'), value: i.value};")
        .await;
    assert_eq!(invalid, json!({"invalid": "true", "value": ""}));
    driver.audit(&axe, "a refused key").await;
    driver.type_into("input[name=api_key]", "dk_bea").await;
    driver.click("form[action*='/credentials/'] button").await;
    driver.shows("Connected as bea@desk.example.").await;

    // The OAuth button, the provider's login and consent pages, and back.
    driver.click("form[action*='/oauth/'] button").await;
    sign_in_and_answer(&driver, "#allow").await;
    driver.shows("Connected as bea@studio.example.").await;
    assert!(driver.source().await.contains("Studio — connected"));
    driver.audit(&axe, "the page with connected accounts").await;

    // A second Studio account, named by the user.
    driver
        .click("li.card:has(form[action*='/oauth/']) details summary")
        .await;
    driver
        .type_into("details form[action*='/oauth/'] input[name=label]", "work")
        .await;
    driver.click("details form[action*='/oauth/'] button").await;
    sign_in_and_answer(&driver, "#allow").await;
    driver
        .shows("<strong>work</strong>: Connected as bea@studio.example.")
        .await;

    let (_, accounts) = gw.get("/v1/connected-accounts?identifier=bea").await;
    let mut seen: Vec<(String, String, String, String)> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (
                text("provider"),
                text("label"),
                text("status"),
                text("display_name"),
            )
        })
        .collect();
    seen.sort();
    let expected = [
        ("desk", "default", "active", "bea@desk.example"),
        ("studio", "default", "active", "bea@studio.example"),
        ("studio", "work", "active", "bea@studio.example"),
    ]
    .map(|(p, l, s, n)| (p.into(), l.into(), s.into(), n.into()));
    assert_eq!(seen, expected);

    // Dark, then phone width: still no violation, the page fits, and its
    // stylesheet (the only style the CSP allows) is applied.
    driver.scheme("dark").await;
    assert_eq!(
        driver
            .script("return getComputedStyle(document.body).backgroundColor;")
            .await,
        "rgb(21, 24, 30)",
        "the dark colours apply"
    );
    driver.audit(&axe, "the connect page, dark").await;
    driver.scheme("light").await;
    driver.width(390).await;
    driver.go(link).await;
    driver.shows("Connected as bea@desk.example.").await;
    let layout = driver
        .script("const b = document.querySelector(\"form[action*='/oauth/'] button\"); return {\
                scroll: document.documentElement.scrollWidth, width: window.innerWidth, \
                accent: getComputedStyle(b).backgroundColor, buttonWidth: b.getBoundingClientRect().width};")
        .await;
    assert!(
        layout["scroll"].as_f64() <= layout["width"].as_f64(),
        "no sideways scrolling: {layout}"
    );
    assert_eq!(
        layout["accent"], "rgb(26, 95, 208)",
        "the default accent: {layout}"
    );
    assert!(
        layout["buttonWidth"].as_f64().unwrap() > 250.0,
        "buttons span the phone's width: {layout}"
    );
    driver.audit(&axe, "the connect page at phone width").await;
    driver.scheme("dark").await;
    driver
        .audit(&axe, "the connect page at phone width, dark")
        .await;
    driver.quit().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_is_shown_in_a_real_browser() {
    let Some((driver, axe)) = browser_and_axe().await else {
        return;
    };
    let server = AuthServer::default();
    let auth = start_auth_server(server.clone()).await;
    let gw = gateway(&auth).await;
    let studio = gw
        .connection(
            json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
        )
        .await;
    let (_, session) = gw
        .post("/v1/connect-sessions", json!({"identifier": "cy"}))
        .await;
    let link = session["url"].as_str().unwrap();
    driver.width(1000).await;
    driver.go(link).await;
    driver.click("form[action^='/connect/'] button").await;
    driver.shows("Connect Studio").await;

    // The user declines at the provider.
    driver.click("form[action*='/oauth/'] button").await;
    sign_in_and_answer(&driver, "#deny").await;
    driver.shows("You declined, so nothing was shared.").await;
    driver.audit(&axe, "a declined authorization").await;

    // The provider fails to hand out the token.
    server
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    driver.click("form[action*='/oauth/'] button").await;
    sign_in_and_answer(&driver, "#allow").await;
    driver
        .shows("The provider did not complete the connection.")
        .await;
    assert!(driver.source().await.contains("Needs reconnecting:"));
    driver.audit(&axe, "a provider failure").await;
    server
        .broken
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // The link opened in another browser.
    driver.forget_cookies().await;
    driver.go(link).await;
    driver
        .shows("This link was opened in another browser already.")
        .await;
    driver.audit(&axe, "a link opened elsewhere").await;

    // An expired link, and one that never was.
    let (_, later) = gw
        .post("/v1/connect-sessions", json!({"identifier": "cy"}))
        .await;
    gw.sql("UPDATE connect_sessions SET expires_at = 0").await;
    driver.go(later["url"].as_str().unwrap()).await;
    driver.shows("This link has expired.").await;
    driver.audit(&axe, "an expired link").await;
    driver.go(&gw.url("/connect/not-a-link")).await;
    driver.shows("This link is not valid.").await;

    // An authorization link the app hands out itself, without a page of its
    // own to return to: the start page and the result page in the same look.
    let account = gw.account(&studio, "cy-api", None).await;
    let (_, started) = gw
        .post(
            &format!("/v1/connected-accounts/{account}/auth-url"),
            json!({}),
        )
        .await;
    driver.go(started["url"].as_str().unwrap()).await;
    driver.shows("Continue to Studio").await;
    driver.audit(&axe, "the authorization start page").await;
    driver.click("form button").await;
    sign_in_and_answer(&driver, "#allow").await;
    driver.shows("Your account is connected.").await;
    assert!(
        driver
            .source()
            .await
            .contains("<link rel=\"stylesheet\" href=\"/assets/connect.css\">")
    );
    driver.audit(&axe, "the authorization result page").await;
    driver.scheme("dark").await;
    driver
        .audit(&axe, "the authorization result page, dark")
        .await;
    driver.quit().await;
    gw.stop().await;
}
