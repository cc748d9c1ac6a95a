//! The hosted connect page over HTTP, as a browser uses it: the single-use
//! link bound to the first browser that continues (link previews change
//! nothing), CSRF-checked forms, an API-key form, an OAuth button through the
//! authorization flow bound to that browser, escaped output.

mod common;

use std::collections::HashMap;

use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Page {
    gw: TestGateway,
    mock: MockServer,
    url: String,
    token: String,
    acme: String,
    studio: String,
}

async fn page() -> Page {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "authed": {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "scope": "read,write",
                       "user": {"email": "ann@studio.example"}}
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"site": {"id": "s1"}})))
        .mount(&mock)
        .await;
    let uri = mock.uri();
    let setup = Setup::new(specs_dir(&[
        "tests/fixtures/specs/acme.yaml",
        "tests/fixtures/oauth/studio.yaml",
    ]))
    .configure(move |c| {
        let o = c.provider_overrides.entry("studio".into()).or_default();
        o.origins
            .insert("https://studio.example".into(), uri.clone());
        o.origins
            .insert("https://api.studio.example".into(), uri.clone());
    });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    let acme = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    let studio = gw
        .connection(
            json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
        )
        .await;
    let (status, session) = gw
        .post(
            "/v1/connect-sessions",
            json!({"identifier": "ann", "redirect_url": "https://app.example/back"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert!(session["expires_at"].as_str().is_some());
    let url = session["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&gw.url("/connect/")), "{url}");
    let token = url.rsplit('/').next().unwrap().to_owned();
    Page {
        gw,
        mock,
        url,
        token,
        acme,
        studio,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the link as a new browser, after a chat app's link preview (HEAD
/// and GET) did: the Continue button, then the page and its session cookie.
async fn open(p: &Page) -> (String, String) {
    let preview = browser().head(&p.url).send().await.unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    assert!(preview.headers().get("set-cookie").is_none());
    let preview = browser().get(&p.url).send().await.unwrap();
    assert!(preview.headers().get("set-cookie").is_none());
    // Attribute values are HTML-escaped, slashes too.
    let html = preview.text().await.unwrap().replace("&#x2f;", "/");
    let action = format!("<form method=\"post\" action=\"/connect/{}\">", p.token);
    assert!(
        html.contains(&action) && html.contains("Continue"),
        "{html}"
    );

    let response = browser().post(&p.url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        format!("/connect/{}", p.token).as_str()
    );
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    let response = get_with(&pair, &p.url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    (response.text().await.unwrap(), pair)
}

/// The page answers `status` and says `text`.
async fn explains(response: reqwest::Response, status: StatusCode, text: &str) {
    assert_eq!(response.status(), status);
    let html = response.text().await.unwrap();
    assert!(html.contains(text), "{html}");
}

fn csrf_of(page: &str) -> String {
    let at =
        page.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

async fn get_with(cookie: &str, url: &str) -> reqwest::Response {
    browser()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn post_form(
    p: &Page,
    cookie: &str,
    kind: &str,
    connection: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser()
        .post(p.gw.url(&format!("/connect/{}/{kind}/{connection}", p.token)))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_account_is_connected_through_the_form() {
    let p = page().await;
    let (html, cookie) = open(&p).await;
    assert!(html.contains("Acme") && html.contains("Studio"), "{html}");
    assert!(
        html.contains("type=\"password\" name=\"api_key\""),
        "{html}"
    );
    let csrf = csrf_of(&html);

    // The link opens once: another browser is refused, this one keeps it.
    let other = browser().get(&p.url).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert!(
        other
            .text()
            .await
            .unwrap()
            .contains("opened in another browser already")
    );
    let other = browser().post(&p.url).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert!(other.headers().get("set-cookie").is_none());
    assert_eq!(get_with(&cookie, &p.url).await.status(), StatusCode::OK);

    // No CSRF token, or another session's: refused, nothing created.
    let response = post_form(&p, &cookie, "credentials", &p.acme, &[("api_key", "k")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post_form(
        &p,
        "sb_connect=forged",
        "credentials",
        &p.acme,
        &[("csrf", &csrf), ("api_key", "k")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (_, accounts) = p.gw.get("/v1/connected-accounts?identifier=ann").await;
    assert_eq!(accounts["data"], json!([]));

    // A missing value is explained beside its field, which is marked; the
    // right one connects the account.
    let response = post_form(
        &p,
        &cookie,
        "credentials",
        &p.acme,
        &[("csrf", &csrf), ("api_key", "  ")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    let field = format!("{}-first-api_key", p.acme);
    assert!(
        html.contains(&format!(
            "<p class=\"field-error\" id=\"{field}-error\">Enter the API key.</p>"
        )) && html.contains(&format!(
            "aria-describedby=\"{field}-error\" aria-invalid=\"true\""
        )) && html.contains(&format!("<a href=\"#{field}\">Enter the API key.</a>")),
        "{html}"
    );
    let response = post_form(
        &p,
        &cookie,
        "credentials",
        &p.acme,
        &[("csrf", &csrf), ("api_key", "sk_from_the_form")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&p.url) && back.contains("status=active"),
        "{back}"
    );

    let (_, accounts) =
        p.gw.get("/v1/connected-accounts?identifier=ann&provider=acme")
            .await;
    assert_eq!(accounts["data"][0]["status"], "active");
    assert_eq!(accounts["data"][0]["has_credentials"], true);
    let html = get_with(&cookie, &back).await.text().await.unwrap();
    assert!(
        html.contains("<strong>Connected.</strong>") && html.contains("Acme — connected"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https:&#x2f;&#x2f;app.example&#x2f;back\""),
        "the way back to the app (escaped like every value): {html}"
    );
    assert!(
        !p.gw
            .table_text("connected_accounts")
            .await
            .contains("sk_from_the_form")
    );

    // A second account, named by the user.
    assert!(html.contains("Add another account"), "{html}");
    let response = post_form(
        &p,
        &cookie,
        "credentials",
        &p.acme,
        &[("csrf", &csrf), ("label", "  "), ("api_key", "k")],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "a blank name is the default account"
    );
    let response = post_form(
        &p,
        &cookie,
        "credentials",
        &p.acme,
        &[("csrf", &csrf), ("label", "x\u{7}"), ("api_key", "k")],
    )
    .await;
    explains(response, StatusCode::BAD_REQUEST, "control characters").await;
    let response = post_form(
        &p,
        &cookie,
        "credentials",
        &p.acme,
        &[("csrf", &csrf), ("label", "work"), ("api_key", "sk_work")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, accounts) =
        p.gw.get("/v1/connected-accounts?identifier=ann&provider=acme")
            .await;
    let labels: Vec<&str> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["default", "work"]);
    let html = get_with(&cookie, &p.url).await.text().await.unwrap();
    assert!(
        html.contains("<strong>work</strong>: Connected.")
            && html.contains("Disconnect Acme (work)"),
        "{html}"
    );
    let response = post_form(
        &p,
        &cookie,
        "disconnect",
        &p.acme,
        &[("csrf", &csrf), ("label", "work")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, accounts) =
        p.gw.get("/v1/connected-accounts?identifier=ann&provider=acme")
            .await;
    assert_eq!(accounts["data"].as_array().unwrap().len(), 1);
    assert_eq!(accounts["data"][0]["label"], "default");

    // The user changes their mind: without the form's token nothing
    // happens; with it the account is gone.
    assert!(html.contains("Disconnect Acme"), "{html}");
    let response = post_form(&p, &cookie, "disconnect", &p.acme, &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post_form(&p, &cookie, "disconnect", &p.acme, &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.ends_with("?status=disconnected"), "{back}");
    let (_, accounts) =
        p.gw.get("/v1/connected-accounts?identifier=ann&provider=acme")
            .await;
    assert_eq!(accounts["data"], json!([]));
    let html = get_with(&cookie, &back).await.text().await.unwrap();
    assert!(
        html.contains("<strong>Disconnected.") && !html.contains("Acme — connected"),
        "{html}"
    );
    p.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_account_is_connected_through_the_button() {
    let p = page().await;
    let (html, cookie) = open(&p).await;
    let csrf = csrf_of(&html);
    let response = post_form(&p, &cookie, "oauth", &p.studio, &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/oauth/authorize");
    let q: HashMap<String, String> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q["redirect_uri"], p.gw.url("/v1/oauth/callback"));
    let flow_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        flow_cookie.starts_with("sb_oauth_")
            && flow_cookie.contains("Path=/v1/oauth; HttpOnly; SameSite=Lax"),
        "{flow_cookie}"
    );
    let flow_cookie = flow_cookie.split(';').next().unwrap().to_owned();

    // The provider's link forwarded to someone else: their consent cannot
    // land on this user's account, and the flow stays usable.
    let response = browser()
        .get(p.gw.url("/v1/oauth/callback"))
        .query(&[("code", "th31rs"), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    explains(
        response,
        StatusCode::BAD_REQUEST,
        "started in another browser",
    )
    .await;
    let response = browser()
        .get(p.gw.url("/v1/oauth/callback"))
        .header(
            "cookie",
            format!("{}=forged", flow_cookie.split('=').next().unwrap()),
        )
        .query(&[("code", "th31rs"), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // The provider sends the browser back; the gateway returns it to the page.
    let response = browser()
        .get(p.gw.url("/v1/oauth/callback"))
        .header("cookie", format!("other=1; {flow_cookie}"))
        .query(&[("code", "c0de"), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&p.url) && back.contains("status=active"),
        "{back}"
    );
    let html = get_with(&cookie, &back).await.text().await.unwrap();
    assert!(html.contains("Studio — connected"), "{html}");
    assert!(html.contains("Connected as ann@studio.example."), "{html}");
    let (_, accounts) =
        p.gw.get("/v1/connected-accounts?identifier=ann&provider=studio")
            .await;
    assert_eq!(accounts["data"][0]["status"], "active");
    assert_eq!(accounts["data"][0]["display_name"], "ann@studio.example");
    assert_eq!(accounts["data"][0]["config"], json!({"site_id": "s1"}));
    assert_eq!(
        p.mock
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/oauth/token")
            .count(),
        1
    );
    p.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_escaped_and_links_expire() {
    let p = page().await;
    let (_, cookie) = open(&p).await;
    let html = get_with(
        &cookie,
        &format!("{}?status=error&error=<script>alert(1)</script>", p.url),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(html.contains("Try again"), "what to do next: {html}");
    let html = get_with(
        &cookie,
        &format!("{}?status=denied&error=access_denied", p.url),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("You declined, so nothing was shared."),
        "{html}"
    );

    p.gw.sql("UPDATE connect_sessions SET expires_at = 0").await;
    let response = get_with(&cookie, &p.url).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(response.text().await.unwrap().contains("expired"));

    let response = browser()
        .get(p.gw.url("/connect/not-a-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (status, body) =
        p.gw.post(
            "/v1/connect-sessions",
            json!({"identifier": "ann", "connection_ids": ["conn_nope"]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    p.gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_who_asks_in_their_colours() {
    let dir = common::scratch_dir("brand");
    let logo = dir.join("logo.svg");
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"><rect width=\"1\" height=\"1\"/></svg>";
    std::fs::write(&logo, svg).unwrap();
    // Acme's key field, with help for the user.
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    let acme = std::fs::read_to_string("tests/fixtures/specs/acme.yaml").unwrap();
    std::fs::write(
        specs.join("acme.yaml"),
        acme.replace(
            "auth:\n  type: api_key\n",
            "auth:\n  type: api_key\n  credential_fields:\n    api_key: {label: Acme key, description: \"Settings, then API, in Acme.\"}\n",
        ),
    )
    .unwrap();
    let setup = Setup::new(specs).configure(move |c| {
        c.connect_page = serde_json::from_value(json!({
            "app_name": "Notes & Co",
            "logo": logo,
            "accent_color": "#0a7f5c",
            "support_url": "https://notes.example/help"
        }))
        .unwrap();
    });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    gw.connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    let (_, session) = gw
        .post("/v1/connect-sessions", json!({"identifier": "ann"}))
        .await;
    let url = session["url"].as_str().unwrap();

    let response = browser().get(url).send().await.unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    for part in [
        "Notes &amp; Co asks to connect your accounts",
        "<img class=\"logo\" src=\"/assets/logo\"",
        "href=\"https:&#x2f;&#x2f;notes.example&#x2f;help\"",
        "<link rel=\"stylesheet\" href=\"/assets/connect.css\">",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }
    assert!(
        !html.contains("style=") && !html.contains("<script"),
        "{html}"
    );

    // Past Continue: the key field with its help, tied to the input.
    let claimed = browser().post(url).send().await.unwrap();
    let cookie = claimed.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = get_with(&cookie, url).await.text().await.unwrap();
    for part in [
        ">Acme key</label>",
        "aria-describedby=\"",
        "-help\">Settings, then API, in Acme.</p>",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }

    let css = browser()
        .get(gw.url("/assets/connect.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let css = css.text().await.unwrap();
    assert!(css.starts_with(":root { --accent: #0a7f5c; }"), "{css}");
    assert!(css.contains("prefers-color-scheme: dark") && css.contains(":focus-visible"));

    let image = browser().get(gw.url("/assets/logo")).send().await.unwrap();
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(
        image.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(image.text().await.unwrap(), svg);
    gw.stop().await;
}

/// What connecting allows, in plain words; where a key is found; a key the
/// provider refuses shown beside its field (nothing saved); and who the
/// account is once connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_says_what_connecting_allows_and_who_is_connected() {
    let desk = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", "Key dk_right"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"agent": {"id": 7, "email": "ann@desk.example"}})),
        )
        .mount(&desk)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid key"})))
        .mount(&desk)
        .await;
    let uri = desk.uri();
    let setup = Setup::new(specs_dir(&[
        "tests/fixtures/connect/desk.yaml",
        "tests/fixtures/oauth/studio.yaml",
    ]))
    .configure(move |c| {
        let o = c.provider_overrides.entry("desk".into()).or_default();
        o.origins
            .insert("https://api.desk.example".into(), uri.clone());
    });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    let desk_id = gw.connection(json!({"provider": "desk"})).await;
    gw.connection(
        json!({"provider": "studio", "credentials": {"client_id": "c", "client_secret": "s"}}),
    )
    .await;
    let (_, session) = gw
        .post("/v1/connect-sessions", json!({"identifier": "ann"}))
        .await;
    let url = session["url"].as_str().unwrap().to_owned();
    let claimed = browser().post(&url).send().await.unwrap();
    let cookie = claimed.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = get_with(&cookie, &url).await.text().await.unwrap();
    for part in [
        "<img class=\"provider-logo\" src=\"&#x2f;assets&#x2f;providers&#x2f;desk&#x2f;logo\" alt=\"\"",
        "This app will be able to:",
        "<li>See and answer your support tickets</li>",
        "<li>See your site</li>",
        "<li>Change your site</li>",
        "href=\"https:&#x2f;&#x2f;desk.example&#x2f;settings&#x2f;keys\"",
        "Where to find it<span class=\"visually-hidden\"> (opens Desk&#x27;s site in a new tab)</span>",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }
    // Studio's connection asks for read and write only.
    assert!(!html.contains("Delete your site"), "{html}");

    let logo = browser()
        .get(gw.url("/assets/providers/desk/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(logo.text().await.unwrap().contains("<title>Desk</title>"));
    let none = browser()
        .get(gw.url("/assets/providers/nobody/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let (_, detail) = gw.get("/v1/providers/desk").await;
    assert_eq!(detail["logo_url"], "/assets/providers/desk/logo");
    assert_eq!(
        detail["auth_methods"][0]["permissions"],
        json!([{"text": "See and answer your support tickets", "scopes": []}])
    );

    // A key the provider refuses: said beside the field, nothing saved.
    let csrf = csrf_of(&html);
    let post = |key: &'static str| {
        let (gw_url, cookie, csrf) = (
            gw.url(&format!(
                "/connect/{}/credentials/{desk_id}",
                url.rsplit('/').next().unwrap()
            )),
            cookie.clone(),
            csrf.clone(),
        );
        async move {
            browser()
                .post(gw_url)
                .header("cookie", cookie)
                .form(&[("csrf", csrf.as_str()), ("form", "first"), ("api_key", key)])
                .send()
                .await
                .unwrap()
        }
    };
    let refused = post("dk_wrong").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    let field = format!("{desk_id}-first-api_key");
    assert!(
        html.contains(&format!(
            "<p class=\"field-error\" id=\"{field}-error\">Desk did not accept this. Check that it is complete and still valid.</p>"
        )) && html.contains(&format!("aria-describedby=\"{field}-error {field}-help\" aria-invalid=\"true\"")),
        "{html}"
    );
    assert!(
        !html.contains("dk_wrong"),
        "a secret is never echoed: {html}"
    );
    let (_, accounts) = gw.get("/v1/connected-accounts?identifier=ann").await;
    assert_eq!(accounts["data"], json!([]));

    // The right key: connected, and the page says as whom.
    let saved = post("dk_right").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let html = get_with(&cookie, &url).await.text().await.unwrap();
    assert!(html.contains("Connected as ann@desk.example."), "{html}");
    let (_, accounts) = gw.get("/v1/connected-accounts?identifier=ann").await;
    assert_eq!(accounts["data"][0]["display_name"], "ann@desk.example");
    gw.stop().await;
}
