//! The HTML pages end users see: the connect page, the authorization start
//! page and the result pages. Server-rendered from the templates in
//! `src/api/pages/` (minijinja, HTML auto-escaping), with one stylesheet and
//! the app's logo served by the gateway itself, so the pages need no external
//! asset, no script and no inline style (their CSP allows neither).
//!
//! Every text the pages show is in [`TEXT`], one place to translate.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context};

use super::{AppState, SharedState};

/// The pages' texts. `{app}` and `{provider}` are filled in where they occur.
const TEXT: &[(&str, &str)] = &[
    ("connect_title", "Connect your accounts"),
    ("asks_named", "{app} asks to connect your accounts"),
    (
        "continue_lead",
        "Nothing is shared until you choose. This link works in one browser: the one where you continue.",
    ),
    ("continue", "Continue"),
    ("start_title", "Connect your {provider} account"),
    (
        "start_lead",
        "You will be sent to {provider} to allow access. This link works in one browser: the one where you continue.",
    ),
    ("continue_to", "Continue to {provider}"),
    ("connected", "connected"),
    ("connected_banner", "Connected."),
    ("not_connected_banner", "Not connected"),
    (
        "denied_banner",
        "You declined, so nothing was shared. You can connect again whenever you like.",
    ),
    (
        "failed_banner",
        "The provider did not complete the connection. Try again; if it keeps failing, contact the app's support.",
    ),
    ("status_connected", "Connected."),
    ("status_reconnect", "Needs reconnecting:"),
    ("status_none", "Not connected yet."),
    ("connect", "Connect"),
    ("reconnect", "Reconnect"),
    ("save", "Save"),
    ("disconnect", "Disconnect"),
    ("add_another", "Add another account"),
    ("account_label", "A name for this account"),
    (
        "disconnected_banner",
        "Disconnected. The app can no longer act for you there.",
    ),
    ("connected_as", "Connected as {name}."),
    ("will_be_able", "{app} will be able to:"),
    ("this_app", "This app"),
    ("key_link", "Where to find it"),
    ("opens_new", "(opens {provider}'s site in a new tab)"),
    ("errors_title", "Check the highlighted field and try again."),
    ("field_missing", "Enter the {field}."),
    (
        "key_refused",
        "{provider} did not accept this. Check that it is complete and still valid.",
    ),
    (
        "link_invalid",
        "This link is not valid. Ask the app for a new one.",
    ),
    (
        "link_expired",
        "This link has expired. Ask the app for a new one.",
    ),
    (
        "link_used",
        "This link was opened in another browser already. Ask the app for a new one.",
    ),
    (
        "form_expired",
        "This form has expired. Reload the page and try again.",
    ),
    (
        "connection_gone",
        "This connection is not offered here any more.",
    ),
    ("provider_gone", "This provider is not available right now."),
    (
        "save_failed",
        "Your account could not be saved. Try again in a moment.",
    ),
    (
        "remove_failed",
        "The account could not be removed. Try again.",
    ),
    ("auth_failed_title", "Authorization failed"),
    ("auth_done_title", "Account connected"),
    (
        "auth_done",
        "Your account is connected. You can close this page.",
    ),
    (
        "auth_not_granted",
        "The authorization was not granted. You can close this page.",
    ),
    (
        "auth_no_code",
        "The provider sent no authorization code. Try again.",
    ),
    ("auth_bad_return", "The return address is not valid."),
    ("state_unknown", "This authorization link is not valid."),
    (
        "state_used",
        "This authorization link was used already. Ask for a new one.",
    ),
    (
        "state_expired",
        "This authorization link has expired. Ask for a new one.",
    ),
    (
        "state_not_started",
        "This authorization was not started from its link. Open the link you were given and continue from there.",
    ),
    (
        "state_other_browser",
        "This authorization was started in another browser. Open the link you were given in this browser and connect from there.",
    ),
    ("back", "Return to the app"),
    ("help", "Help"),
    (
        "footer",
        "Your credentials are kept encrypted and are used only for the requests this app makes for you.",
    ),
];

static TEXTS: LazyLock<std::collections::BTreeMap<&str, &str>> =
    LazyLock::new(|| TEXT.iter().copied().collect());

/// The text `key` of [`TEXT`] (the key itself if there is none, which a
/// test rules out).
pub(super) fn text(key: &str) -> &str {
    TEXTS.get(key).copied().unwrap_or(key)
}

/// The default accent colour of buttons and links.
const ACCENT: &str = "#1a5fd0";

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("layout.html", include_str!("pages/layout.html")),
        ("message.html", include_str!("pages/message.html")),
        ("continue.html", include_str!("pages/continue.html")),
        ("start.html", include_str!("pages/start.html")),
        ("connect.html", include_str!("pages/connect.html")),
    ] {
        env.add_template(name, source)
            .expect("the page templates compile");
    }
    env
});

/// Renders page `name` with `ctx`, the app's branding and the texts.
pub(super) fn render(state: &AppState, status: StatusCode, name: &str, ctx: Value) -> Response {
    let page = &state.config.connect_page;
    let brand = context! {
        app_name => page.app_name.as_deref(),
        logo => page.logo.is_some(),
        support_url => page.support_url.as_ref().map(|u| u.0.as_str()),
    };
    let html = TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(context! { brand, t => &*TEXTS, ..ctx }));
    match html {
        Ok(html) => (status, secured(), Html(html)).into_response(),
        Err(e) => {
            tracing::error!(page = name, error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, secured(), "page error").into_response()
        }
    }
}

/// A page that says one thing: `title` and `text`; `good` for a success.
pub(super) fn message(
    state: &AppState,
    status: StatusCode,
    title: &str,
    text: &str,
    good: bool,
) -> Response {
    let tone = if good { "good" } else { "bad" };
    render(
        state,
        status,
        "message.html",
        context! { title, text, tone },
    )
}

/// The headers of every page: nothing cached, nothing but the gateway's own
/// stylesheet and images, no framing, no referrer.
fn secured() -> [(header::HeaderName, &'static str); 5] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action *; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ]
}

/// `GET /assets/connect.css`: the pages' stylesheet, with the configured
/// accent colour.
pub async fn stylesheet(State(state): State<SharedState>) -> Response {
    let accent = state
        .config
        .connect_page
        .accent_color
        .as_ref()
        .map_or(ACCENT, |c| c.0.as_str());
    let css = format!(
        ":root {{ --accent: {accent}; }}\n{}",
        include_str!("pages/connect.css")
    );
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        css,
    )
        .into_response()
}

/// `GET /assets/logo`: the app's logo file, served as an image (an SVG is
/// never inlined, and its own CSP keeps any script in it from running).
pub async fn logo(State(state): State<SharedState>) -> Response {
    let Some(path) = &state.config.connect_page.logo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(kind) = crate::config::logo_type(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => image(kind, bytes.into()),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the connect page logo cannot be read");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

/// `GET /assets/providers/{provider}/logo`: the logo a provider's spec
/// names, read when the spec loaded.
pub async fn provider_logo(
    State(state): State<SharedState>,
    axum::extract::Path(provider): axum::extract::Path<String>,
) -> Response {
    match state
        .specs
        .current()
        .provider(&provider)
        .and_then(|p| p.logo.clone())
    {
        Some(logo) => image(logo.content_type, logo.bytes),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// An image answer: its type, cacheable a while, and a CSP of its own.
fn image(kind: &'static str, bytes: bytes::Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for name in [
            "layout.html",
            "message.html",
            "continue.html",
            "start.html",
            "connect.html",
        ] {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    /// Every `t.NAME` of the templates and every `text("NAME")` of the
    /// page handlers is in the table, so nothing shows a bare key.
    #[test]
    fn every_text_used_is_in_the_table() {
        let templates = [
            include_str!("pages/layout.html"),
            include_str!("pages/message.html"),
            include_str!("pages/continue.html"),
            include_str!("pages/start.html"),
            include_str!("pages/connect.html"),
        ];
        let handlers = [include_str!("connect.rs"), include_str!("oauth.rs")];
        let uses = |sources: &[&str], marker: &str, end: &[char]| -> Vec<String> {
            let mut keys = Vec::new();
            for source in sources {
                for (at, _) in source.match_indices(marker) {
                    // `t.` on its own, not the end of `account.`.
                    let before = source[..at].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' || before == '.' {
                        continue;
                    }
                    let rest = &source[at + marker.len()..];
                    keys.push(rest.chars().take_while(|c| !end.contains(c)).collect());
                }
            }
            keys
        };
        let mut keys = uses(&templates, "t.", &[' ', '|', ')', '}', ',', '\n']);
        keys.extend(uses(&handlers, "text(\"", &['"']));
        // `message(state, StatusCode::…, "key")` of the connect page.
        for call in include_str!("connect.rs").split("message(").skip(1) {
            let args = call.split(')').next().unwrap_or_default();
            if let Some(key) = args
                .split('"')
                .nth(1)
                .filter(|_| args.contains("StatusCode::"))
            {
                keys.push(key.to_owned());
            }
        }
        use crate::auth::flow::StateProblem::*;
        for problem in [Unknown, Used, Expired, OtherBrowser, NotStarted] {
            keys.push(problem.text_key().to_owned());
        }
        let mut used = 0;
        for key in keys.iter().filter(|k| !k.is_empty()) {
            used += 1;
            assert!(TEXTS.contains_key(key.as_str()), "no text `{key}`");
        }
        assert!(used > 30, "only {used} texts found in use");
    }

    #[test]
    fn logos_are_images_only() {
        for (name, kind) in [
            ("a.svg", Some("image/svg+xml")),
            ("a.PNG", Some("image/png")),
            ("a.html", None),
            ("logo", None),
        ] {
            assert_eq!(
                crate::config::logo_type(std::path::Path::new(name)),
                kind,
                "{name}"
            );
        }
    }
}
