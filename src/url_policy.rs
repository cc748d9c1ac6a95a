//! Which upstream URLs the gateway will call.
//!
//! Every request's scheme and host come from a provider's `base_url` (or an
//! auth endpoint), never from a tool parameter. Those URLs must be absolute
//! `https`; plain `http` is allowed only for loopback hosts, where tests and
//! local mock providers live.

use url::{Host, Url};

/// Checks an absolute base URL: https, or http on a loopback host; a host;
/// no credentials or fragment (a query is kept on every request).
pub fn check_base(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not an absolute URL: {e}"))?;
    let Some(host) = url.host() else {
        return Err(format!("`{text}` has no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(format!(
                "`{text}` must use https (http is allowed only for loopback hosts)"
            ));
        }
        other => return Err(format!("`{text}` must use https, not `{other}`")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{text}` must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(format!("`{text}` must not have a fragment"));
    }
    Ok(url)
}

/// For a templated URL, the part that is known before rendering: its scheme.
pub fn check_scheme_prefix(source: &str) -> Result<(), String> {
    if source.starts_with("https://") || source.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("`{source}` must start with `https://`"))
    }
}

/// Loopback by what the name is, not by how a resolver might answer: the
/// IP literals, and `localhost` itself (which resolvers answer from the
/// hosts file). `*.localhost` is not trusted: a resolver may send it
/// anywhere.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let cases = [
            ("https://slack.com/api", Ok(())),
            ("http://127.0.0.1:9000/api", Ok(())),
            ("http://localhost:9000", Ok(())),
            (
                "http://api.localhost:9000",
                Err(
                    "`http://api.localhost:9000` must use https (http is allowed only for loopback hosts)",
                ),
            ),
            ("http://[::1]:9000", Ok(())),
            (
                "http://example.com",
                Err(
                    "`http://example.com` must use https (http is allowed only for loopback hosts)",
                ),
            ),
            (
                "ftp://example.com",
                Err("`ftp://example.com` must use https, not `ftp`"),
            ),
            (
                "https://user:pw@example.com",
                Err("`https://user:pw@example.com` must not carry credentials"),
            ),
            (
                "/relative",
                Err("`/relative` is not an absolute URL: relative URL without a base"),
            ),
        ];
        for (url, expected) in cases {
            let got = check_base(url).map(|_| ());
            assert_eq!(got, expected.map_err(str::to_owned), "{url}");
        }
    }
}
