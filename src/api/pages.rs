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
    ("back", "Return to the app"),
    ("help", "Help"),
    (
        "footer",
        "Your credentials are kept encrypted and are used only for the requests this app makes for you.",
    ),
];

static TEXTS: LazyLock<std::collections::BTreeMap<&str, &str>> =
    LazyLock::new(|| TEXT.iter().copied().collect());

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
        Ok(bytes) => (
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
            .into_response(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the connect page logo cannot be read");
            StatusCode::NOT_FOUND.into_response()
        }
    }
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
