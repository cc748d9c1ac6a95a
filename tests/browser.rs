//! End to end in a real headless browser (Chromium through chromedriver's
//! WebDriver API): a user opens a connect-session link, connects an API-key
//! account through the form and an OAuth account through an authorization
//! server's login and consent pages, and both are `active` through the API.
//! `.ci/run` installs Debian's chromium and chromium-driver; without them
//! the test says that it skipped.

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
         <form method=post action=/consent><input type=hidden name=q value=\"{}\"><button id=allow>Allow</button></form>",
        f["q"]
    ))
}

async fn consent(State(s): State<AuthServer>, Form(f): Form<HashMap<String, String>>) -> Redirect {
    let q: HashMap<String, String> = url::form_urlencoded::parse(f["q"].as_bytes())
        .into_owned()
        .collect();
    *s.challenge.lock().unwrap() = q.get("code_challenge").cloned();
    let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
    back.query_pairs_mut()
        .append_pair("code", "browser-code")
        .append_pair("state", &q["state"]);
    Redirect::to(back.as_str())
}

async fn token(
    State(s): State<AuthServer>,
    Form(f): Form<HashMap<String, String>>,
) -> impl IntoResponse {
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
            json!({"authed": {"access_token": "at-b", "refresh_token": "rt-b", "expires_in": 3600}}),
        ),
    )
}

async fn start_auth_server() -> String {
    let app = axum::Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/login", post(login))
        .route("/consent", post(consent))
        .route("/oauth/token", post(token))
        .route(
            "/me",
            get(|| async { axum::Json(json!({"site": {"id": "s9"}})) }),
        )
        .with_state(AuthServer::default());
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
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_connects_two_accounts_in_a_real_browser() {
    let Some(driver) = Driver::start().await else {
        eprintln!(
            "skipped: /usr/bin/chromium and /usr/bin/chromedriver are not installed (.ci/run installs them)"
        );
        return;
    };
    let auth = start_auth_server().await;
    let setup = Setup::new(specs_dir(&[
        "tests/fixtures/specs/acme.yaml",
        "tests/fixtures/oauth/studio.yaml",
    ]))
    .configure(move |c| {
        let o = c.provider_overrides.entry("studio".into()).or_default();
        o.origins
            .insert("https://studio.example".into(), auth.clone());
        o.origins
            .insert("https://api.studio.example".into(), auth.clone());
    });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    gw.connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    gw.connection(
        json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
    )
    .await;
    let (_, session) = gw
        .post("/v1/connect-sessions", json!({"identifier": "bea"}))
        .await;
    let link = session["url"].as_str().unwrap();

    // Continue claims the link for this browser; then the API-key form.
    driver.go(link).await;
    driver.click("form[action^='/connect/'] button").await;
    common::eventually("the page after Continue", || async {
        driver.source().await.contains("name=\"api_key\"")
    })
    .await;
    driver
        .type_into("input[name=api_key]", "sk_typed_by_bea")
        .await;
    driver.click("form[action*='/credentials/'] button").await;
    common::eventually("the page says Acme is connected", || async {
        driver.source().await.contains("Acme — connected")
    })
    .await;

    // The OAuth button, the provider's login and consent pages, and back.
    driver.click("form[action*='/oauth/'] button").await;
    common::eventually("the login page", || async {
        driver.source().await.contains("Sign in")
    })
    .await;
    driver.type_into("input[name=username]", "bea").await;
    driver
        .type_into("input[name=password]", "correct horse")
        .await;
    driver.click("#login").await;
    common::eventually("the consent page", || async {
        driver.source().await.contains("Allow")
    })
    .await;
    driver.click("#allow").await;
    common::eventually("back on the connect page, connected", || async {
        let page = driver.source().await;
        page.contains("Studio — connected") && page.contains("Connected.")
    })
    .await;

    let (_, accounts) = gw.get("/v1/connected-accounts?identifier=bea").await;
    let states: HashMap<String, String> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["provider"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(states.get("acme").map(String::as_str), Some("active"));
    assert_eq!(states.get("studio").map(String::as_str), Some("active"));

    // At phone width the page fits, and its stylesheet (the only style the
    // CSP allows) is applied: buttons wear the accent colour.
    driver
        .call(
            "POST",
            &format!("/session/{}/window/rect", driver.session),
            json!({"width": 390, "height": 800}),
        )
        .await;
    driver.go(link).await;
    let layout = driver
        .call(
            "POST",
            &format!("/session/{}/execute/sync", driver.session),
            json!({"script": "const b = document.querySelector(\"form[action*='/oauth/'] button\"); return {\
                scroll: document.documentElement.scrollWidth, width: window.innerWidth, \
                accent: getComputedStyle(b).backgroundColor, buttonWidth: b.getBoundingClientRect().width};",
                   "args": []}),
        )
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
    driver
        .call(
            "DELETE",
            &format!("/session/{}", driver.session),
            Value::Null,
        )
        .await;
    gw.stop().await;
}
