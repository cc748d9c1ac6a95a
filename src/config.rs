//! Configuration: `config/switchboard.yaml`, then `SWITCHBOARD_*` variables.
//!
//! Every command reads the same configuration as `serve`, so a specs
//! directory set for the server applies to `render` and `tools` too. A
//! missing default config file is fine (the defaults serve a first run); a
//! config file named explicitly must exist.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use std::collections::BTreeMap;

use crate::auth::token::ClientCredentials;
use crate::registry::Overrides;
use crate::upstream::UpstreamConfig;
use crate::upstream::limit::shared::{RedisFailure, SharedLimitsConfig};

/// Where the config file is looked for when none is named.
pub const DEFAULT_CONFIG_PATH: &str = "config/switchboard.yaml";

#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the gateway listens on.
    pub listen: String,
    /// Base URL under which the gateway is reachable (OAuth redirect URIs).
    pub public_url: Option<String>,
    pub specs_dir: PathBuf,
    pub database_url: String,
    pub api_keys: Vec<ApiKeyConfig>,
    /// Base64 of 32 bytes.
    pub encryption_key: Option<String>,
    /// Keys that sealed older values, still accepted for reading.
    pub previous_encryption_keys: Vec<String>,
    pub data_dir: PathBuf,
    pub provider_overrides: Overrides,
    /// Largest request body the API accepts, in bytes.
    pub max_body_bytes: usize,
    pub upstream: UpstreamConfig,
    /// Operator-level OAuth apps for `managed: true` connections, by provider.
    pub managed_oauth_apps: BTreeMap<String, ClientCredentials>,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// Requests per second (and burst) each API key may send; none by default.
    pub ingress_rate_limit: Option<RateQuotaConfig>,
    /// Redis that keeps the rate limits for every replica at once; without
    /// it each process keeps its own.
    pub redis_url: Option<String>,
    /// What a replica does while Redis does not answer.
    pub redis_failure: RedisFailure,
    /// Put before every rate-limit key in Redis.
    pub redis_key_prefix: String,
    /// The longest a rate-limit check waits for Redis, in milliseconds.
    pub redis_timeout_ms: u64,
    /// How long before its expiry an access token is replaced, in seconds.
    pub token_refresh_skew_s: u64,
    /// How long a replica keeps an account it read for a call in memory, in
    /// milliseconds: the longest a change made on another replica goes
    /// unseen. 0 reads the store on every call.
    pub account_cache_ttl_ms: u64,
    /// OAuth accounts unused (and unrefreshed) this long get their tokens
    /// refreshed in the background, so providers do not expire their
    /// refresh tokens; 0 turns this off.
    pub idle_refresh_after_s: u64,
    /// How often the background upkeep runs, in milliseconds.
    pub upkeep_interval_ms: u64,
    /// Limits of the gateway's own HTTP server.
    pub server: ServerConfig,
    /// Origins (`https://app.example`) a `redirect_url` may point to after
    /// an authorization; empty allows any.
    pub allowed_redirect_origins: Vec<String>,
    /// How the connect page presents the app that asks.
    pub connect_page: ConnectPageConfig,
    /// How long audit events (and finished webhook deliveries) are kept, in
    /// days; 0 keeps them forever.
    pub audit_retention_days: u64,
    /// How long a webhook receiver may take to answer, in milliseconds.
    pub webhook_timeout_ms: u64,
}

/// The app's branding on the pages end users see (config key
/// `connect_page`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectPageConfig {
    /// The app's name, as its users know it.
    pub app_name: Option<String>,
    /// A logo file (SVG, PNG, JPEG or WebP) the gateway serves itself.
    pub logo: Option<PathBuf>,
    /// The accent colour of buttons and links.
    pub accent_color: Option<AccentColor>,
    /// Where users get help.
    pub support_url: Option<WebUrl>,
}

impl ConnectPageConfig {
    /// A logo that is not an image file the gateway can read stops the
    /// start, rather than a broken image on every user's page.
    pub fn check(&self) -> Result<(), String> {
        let Some(path) = &self.logo else {
            return Ok(());
        };
        read_logo(path, MAX_APP_LOGO_BYTES)
            .map(|_| ())
            .map_err(|e| format!("connect_page.logo {}: {e}", path.display()))
    }
}

/// The largest app logo the gateway serves.
const MAX_APP_LOGO_BYTES: usize = 1024 * 1024;

/// The media type of a logo file, by its extension.
pub fn logo_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// Reads a logo file (the app's, or one a provider spec names): its bytes
/// and media type, when its name and its content agree that it is an SVG,
/// PNG, JPEG or WebP image of at most `max_bytes`.
pub fn read_logo(path: &Path, max_bytes: usize) -> Result<(Vec<u8>, &'static str), String> {
    let Some(kind) = logo_type(path) else {
        return Err("use an SVG, PNG, JPEG or WebP file".to_owned());
    };
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() > max_bytes {
        return Err(format!(
            "is {} bytes; a logo may have at most {max_bytes}",
            bytes.len()
        ));
    }
    let looks_right = match kind {
        "image/svg+xml" => std::str::from_utf8(&bytes)
            .is_ok_and(|text| text.contains("<svg") && text.contains("</svg>")),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        _ => bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
    };
    if !looks_right {
        return Err(format!("is not the {kind} image its name says"));
    }
    Ok((bytes, kind))
}

/// A CSS colour as `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccentColor(pub String);

impl<'de> Deserialize<'de> for AccentColor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AccentColor, D::Error> {
        let text = String::deserialize(d)?;
        let hex = text.strip_prefix('#').unwrap_or_default();
        if matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(AccentColor(text))
        } else {
            Err(serde::de::Error::custom(format!(
                "`{text}` is not a colour like #1a73e8"
            )))
        }
    }
}

/// An absolute http(s) URL.
#[derive(Debug, Clone, PartialEq)]
pub struct WebUrl(pub String);

impl<'de> Deserialize<'de> for WebUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<WebUrl, D::Error> {
        let text = String::deserialize(d)?;
        match url::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(WebUrl(text)),
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is not an absolute http(s) URL"
            ))),
        }
    }
}

/// How the gateway's HTTP server protects itself from slow or idle clients
/// (config key `server`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A client must send a request's whole header within this time, and an
    /// idle keep-alive connection is closed after it.
    pub header_read_timeout_ms: u64,
    /// A request body that sends nothing for this long is cut off.
    pub body_read_timeout_ms: u64,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// After a shutdown signal, requests in flight get this long to finish;
    /// then the remaining connections are closed.
    pub shutdown_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_connections: 4096,
            shutdown_timeout_ms: 15_000,
        }
    }
}

/// One gateway API key: a plain key (an admin key), or `{name, key, role}`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ApiKeyConfig {
    Key(String),
    Named(NamedApiKey),
}

#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedApiKey {
    pub name: String,
    pub key: String,
    #[serde(default)]
    pub role: Role,
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    #[default]
    Admin,
    /// What an agent runtime needs: execute tools, the proxy, the tool and
    /// provider catalog, the MCP server.
    Execute,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Execute => "execute",
        }
    }
}

impl ApiKeyConfig {
    /// The key's name (plain keys are `key-1`, `key-2`, … by position),
    /// secret and role.
    pub fn parts(&self, index: usize) -> (String, &str, Role) {
        match self {
            ApiKeyConfig::Key(key) => (format!("key-{}", index + 1), key, Role::Admin),
            ApiKeyConfig::Named(k) => (k.name.clone(), &k.key, k.role),
        }
    }
}

// A key never reaches a log through `{:?}`.
impl std::fmt::Debug for ApiKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiKeyConfig::Key(_) => f.write_str("ApiKey([redacted])"),
            ApiKeyConfig::Named(k) => f
                .debug_struct("ApiKey")
                .field("name", &k.name)
                .field("role", &k.role)
                .finish_non_exhaustive(),
        }
    }
}

impl From<&str> for ApiKeyConfig {
    fn from(key: &str) -> ApiKeyConfig {
        ApiKeyConfig::Key(key.to_owned())
    }
}

impl From<String> for ApiKeyConfig {
    fn from(key: String) -> ApiKeyConfig {
        ApiKeyConfig::Key(key)
    }
}

/// A request rate and burst.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateQuotaConfig {
    pub requests_per_second: f64,
    #[serde(default)]
    pub burst: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

// Keys and secrets never reach a log through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("specs_dir", &self.specs_dir)
            .field(
                "database_url",
                &crate::store::redact_url(&self.database_url),
            )
            .field("api_keys", &format_args!("[{} keys]", self.api_keys.len()))
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(crate::store::redact_url),
            )
            .field("redis_failure", &self.redis_failure)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            specs_dir: PathBuf::from("provider-specs"),
            database_url: "sqlite://data/switchboard.db".into(),
            api_keys: Vec::new(),
            encryption_key: None,
            previous_encryption_keys: Vec::new(),
            data_dir: PathBuf::from("data"),
            provider_overrides: Overrides::new(),
            max_body_bytes: 1024 * 1024,
            upstream: UpstreamConfig::default(),
            managed_oauth_apps: BTreeMap::new(),
            log_format: LogFormat::Text,
            ingress_rate_limit: None,
            redis_url: None,
            redis_failure: RedisFailure::Open,
            redis_key_prefix: "switchboard:rl:".into(),
            redis_timeout_ms: 200,
            token_refresh_skew_s: 60,
            account_cache_ttl_ms: 1000,
            idle_refresh_after_s: 24 * 60 * 60,
            upkeep_interval_ms: 15 * 60 * 1000,
            server: ServerConfig::default(),
            allowed_redirect_origins: Vec::new(),
            connect_page: ConnectPageConfig::default(),
            audit_retention_days: 90,
            webhook_timeout_ms: 10_000,
        }
    }
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{name}: {message}")]
    Env { name: &'static str, message: String },
}

impl Config {
    /// Loads the config: `explicit` path, else `SWITCHBOARD_CONFIG`, else the
    /// default path if it exists; then applies environment overrides.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with(explicit, |k| std::env::var(k).ok())
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with(
        explicit: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let named = explicit
            .map(Path::to_path_buf)
            .or_else(|| env("SWITCHBOARD_CONFIG").map(PathBuf::from));
        let mut config = match named {
            Some(path) => Config::from_file(&path)?,
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
                Config::from_file(Path::new(DEFAULT_CONFIG_PATH))?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    /// The shared rate limits' settings, when `redis_url` is set.
    pub fn shared_limits(&self) -> Option<SharedLimitsConfig> {
        let url = self.redis_url.as_ref().filter(|u| !u.trim().is_empty())?;
        Some(SharedLimitsConfig {
            url: url.clone(),
            failure: self.redis_failure,
            key_prefix: self.redis_key_prefix.clone(),
            timeout: std::time::Duration::from_millis(self.redis_timeout_ms.max(1)),
        })
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(path, &text)
    }

    /// Parses config text; problems are reported with their position.
    pub fn from_yaml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let invalid = |line, column, message| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let doc = crate::spec::yaml::parse(text)
            .map_err(|e| invalid(e.pos.line, e.pos.column, e.message))?;
        if let Some(p) = doc.problems.first() {
            return Err(invalid(p.pos.line, p.pos.column, p.message.clone()));
        }
        let value = if doc.value.is_null() {
            serde_json::json!({})
        } else {
            doc.value
        };
        serde_path_to_error::deserialize(&value).map_err(|e: serde_path_to_error::Error<_>| {
            let pointer: String = e.path().iter().map(|s| format!("/{s}")).collect();
            let pos = doc.source_map.value(&pointer);
            invalid(pos.line, pos.column, e.inner().to_string())
        })
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = var("SWITCHBOARD_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("SWITCHBOARD_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("SWITCHBOARD_SPECS_DIR") {
            self.specs_dir = PathBuf::from(v);
        }
        if let Some(v) = var("SWITCHBOARD_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("SWITCHBOARD_API_KEYS") {
            self.api_keys = v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(ApiKeyConfig::from)
                .collect();
        }
        if let Some(v) = var("SWITCHBOARD_ENCRYPTION_KEY") {
            self.encryption_key = Some(v);
        }
        if let Some(v) = var("SWITCHBOARD_PREVIOUS_ENCRYPTION_KEYS") {
            self.previous_encryption_keys = v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = var("SWITCHBOARD_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("SWITCHBOARD_LOG_FORMAT") {
            self.log_format = if v == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            };
        }
        if let Some(v) = var("SWITCHBOARD_REDIS_URL") {
            self.redis_url = Some(v);
        }
        if let Some(v) = var("SWITCHBOARD_REDIS_FAILURE") {
            self.redis_failure = RedisFailure::parse(&v).ok_or_else(|| ConfigError::Env {
                name: "SWITCHBOARD_REDIS_FAILURE",
                message: format!("`{v}` is neither `open` nor `closed`"),
            })?;
        }
        if let Some(v) = var("SWITCHBOARD_REDIS_KEY_PREFIX") {
            self.redis_key_prefix = v;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_serve_a_first_run() {
        let c = Config::default();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://data/switchboard.db");
        assert_eq!(c.specs_dir, PathBuf::from("provider-specs"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.yaml");
        std::fs::write(
            &path,
            "listen: 0.0.0.0:9000\nspecs_dir: specs\nprovider_overrides:\n  slack:\n    base_url: http://127.0.0.1:1/api\n",
        )
        .unwrap();
        let c = Config::load_with(
            Some(&path),
            env(&[
                ("SWITCHBOARD_SPECS_DIR", "/other"),
                ("SWITCHBOARD_API_KEYS", "a, b,"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.specs_dir, PathBuf::from("/other"));
        assert!(c.api_keys == [ApiKeyConfig::from("a"), "b".into()]);
        assert_eq!(
            c.provider_overrides["slack"].base_url.as_deref(),
            Some("http://127.0.0.1:1/api")
        );
    }

    #[test]
    fn unknown_keys_are_reported_with_a_position() {
        let err = Config::from_yaml(Path::new("c.yaml"), "listen: x\nspecs_dri: y\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("c.yaml:2:"), "{text}");
        assert!(text.contains("unknown field `specs_dri`"), "{text}");
    }

    #[test]
    fn connect_page_settings_are_checked_where_they_are_written() {
        for (text, expected) in [
            (
                "connect_page:\n  accent_color: blue\n",
                ["c.yaml:2:17", "`blue` is not a colour like #1a73e8"],
            ),
            (
                "connect_page:\n  support_url: help.example\n",
                [
                    "c.yaml:2:16",
                    "`help.example` is not an absolute http(s) URL",
                ],
            ),
            (
                "connect_page:\n  app_nme: Acme\n",
                ["c.yaml:2:", "unknown field `app_nme`"],
            ),
        ] {
            let err = Config::from_yaml(Path::new("c.yaml"), text)
                .unwrap_err()
                .to_string();
            for part in expected {
                assert!(err.contains(part), "{err}");
            }
        }
        let ok = Config::from_yaml(
            Path::new("c.yaml"),
            "connect_page: {app_name: Acme, accent_color: \"#0a7\", support_url: https://acme.example/help}\n",
        )
        .unwrap();
        assert_eq!(ok.connect_page.app_name.as_deref(), Some("Acme"));
        let logo = |p: &str| ConnectPageConfig {
            logo: Some(PathBuf::from(p)),
            ..ConnectPageConfig::default()
        };
        assert!(
            logo("/etc/hostname.html")
                .check()
                .unwrap_err()
                .contains("SVG, PNG")
        );
        assert!(
            logo("/nonexistent/logo.svg")
                .check()
                .unwrap_err()
                .contains("/nonexistent/logo.svg")
        );
    }

    #[test]
    fn shared_rate_limits_are_configured_by_file_or_environment() {
        let c = Config::default();
        assert!(c.shared_limits().is_none(), "limits are local by default");
        assert_eq!(c.redis_failure, RedisFailure::Open);

        let c = Config::from_yaml(
            Path::new("c.yaml"),
            "redis_url: redis://:hunter2@redis.internal:6379/2\nredis_failure: closed\nredis_timeout_ms: 150\n",
        )
        .unwrap();
        let shared = c.shared_limits().unwrap();
        assert_eq!(shared.failure, RedisFailure::Closed);
        assert_eq!(shared.key_prefix, "switchboard:rl:");
        assert_eq!(shared.timeout, std::time::Duration::from_millis(150));
        for text in [format!("{c:?}"), format!("{shared:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("redis.internal"), "{text}");
        }

        let err = Config::from_yaml(Path::new("c.yaml"), "redis_failure: shut\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.yaml:1:"), "{err}");
        assert!(err.contains("unknown variant `shut`"), "{err}");

        let c = Config::load_with(
            Some(Path::new("/dev/null")),
            env(&[
                ("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6379"),
                ("SWITCHBOARD_REDIS_FAILURE", "closed"),
                ("SWITCHBOARD_REDIS_KEY_PREFIX", "staging:rl:"),
            ]),
        )
        .unwrap();
        let shared = c.shared_limits().unwrap();
        assert_eq!(shared.url, "redis://127.0.0.1:6379");
        assert_eq!(shared.failure, RedisFailure::Closed);
        assert_eq!(shared.key_prefix, "staging:rl:");

        let err = Config::load_with(
            Some(Path::new("/dev/null")),
            env(&[("SWITCHBOARD_REDIS_FAILURE", "closd")]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "SWITCHBOARD_REDIS_FAILURE: `closd` is neither `open` nor `closed`"
        );
    }

    #[test]
    fn a_named_missing_file_is_an_error() {
        let err = Config::load_with(Some(Path::new("/nonexistent/x.yaml")), env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read config file /nonexistent/x.yaml")
        );
    }
}
