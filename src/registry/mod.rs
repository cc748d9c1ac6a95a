//! The registry: every loaded provider, compiled and immutable.
//!
//! Loading a directory reads each `*.yaml` file, checks it, and compiles its
//! templates, JSONPaths and parameter schemas into a [`Provider`]. A file with
//! any problem contributes its [`Diagnostic`]s and no provider; the others
//! load regardless, so one typo never takes the rest down.
//!
//! Architecture invariant: a `Registry` is never mutated after it is built.
//! Hot reload builds a new one and swaps it in whole; requests keep the
//! `Arc<Provider>` they started with.

mod compile;
mod jsonpath;
mod reload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::HeaderName;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

pub use jsonpath::{Condition, OutputPath};
pub use reload::{ReloadOutcome, SpecStatus, SpecWatcher, Specs};

use crate::error::ErrorCode;
use crate::spec::{
    self, AuthType, ClientAuth, ConfigField, Diagnostic, HttpMethod, MultipartSubtype,
    PaginationType, RateLimitSpec, RetrySpec,
};
use crate::template::{TemplateId, TemplateSet};

/// Operator-level replacements of a provider's endpoints (config
/// `provider_overrides`): sandboxes, self-hosted editions, test mocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverride {
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub authorization_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub refresh_url: Option<String>,
    #[serde(default)]
    pub revoke_url: Option<String>,
    /// Every literal URL of the provider on an origin listed here (base,
    /// auth endpoints, discovery) goes to the given origin instead.
    #[serde(default)]
    pub origins: BTreeMap<String, String>,
}

/// Overrides by provider key.
pub type Overrides = BTreeMap<String, ProviderOverride>;

/// All loaded providers.
#[derive(Debug, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<Provider>>,
}

/// What loading a set of files produced.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub registry: Registry,
    /// Every problem of every file, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The files that were read.
    pub files: Vec<PathBuf>,
}

impl Registry {
    /// Loads every `*.yaml` / `*.yml` file directly inside `dir`.
    pub fn load_dir(dir: &Path, overrides: &Overrides) -> LoadReport {
        match spec_files(dir) {
            Ok(files) => Registry::load_files(&files, overrides),
            Err(e) => LoadReport {
                diagnostics: vec![Diagnostic {
                    file: dir.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read the specs directory: {e}"),
                }],
                ..LoadReport::default()
            },
        }
    }

    /// Loads the given files, on every core (a reload of all the shipped
    /// specs takes half the time on two); each problem is reported, good
    /// files still load.
    pub fn load_files(files: &[PathBuf], overrides: &Overrides) -> LoadReport {
        use rayon::prelude::*;
        let loaded: Vec<_> = files
            .par_iter()
            .map(|file| load_file(file, overrides))
            .collect();
        let mut report = LoadReport::default();
        for (file, loaded) in files.iter().zip(loaded) {
            report.files.push(file.clone());
            match loaded {
                Ok(provider) => {
                    report
                        .registry
                        .providers
                        .insert(provider.key.clone(), Arc::new(provider));
                }
                Err(diags) => report.diagnostics.extend(diags),
            }
        }
        report
    }

    /// Builds a registry from already compiled providers.
    pub fn from_providers(providers: impl IntoIterator<Item = Arc<Provider>>) -> Registry {
        Registry {
            providers: providers.into_iter().map(|p| (p.key.clone(), p)).collect(),
        }
    }

    pub fn provider(&self, key: &str) -> Option<&Arc<Provider>> {
        self.providers.get(key)
    }

    /// Providers in key order.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.providers.values()
    }

    /// A tool by id `provider.tool`.
    pub fn tool(&self, id: &str) -> Option<(&Arc<Provider>, &Tool)> {
        let (provider, tool) = id.split_once('.')?;
        let provider = self.providers.get(provider)?;
        let tool = provider.tools.get(tool)?;
        Some((provider, tool))
    }

    pub fn tool_count(&self) -> usize {
        self.providers.values().map(|p| p.tools.len()).sum()
    }
}

/// Reads and compiles one spec file.
pub fn load_file(file: &Path, overrides: &Overrides) -> Result<Provider, Vec<Diagnostic>> {
    let source = std::fs::read_to_string(file).map_err(|e| {
        vec![Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
        }]
    })?;
    load_source(file, &source, overrides)
}

/// Checks and compiles one spec's text; `file` names it in diagnostics and
/// gives the provider key its expected value.
pub fn load_source(
    file: &Path,
    source: &str,
    overrides: &Overrides,
) -> Result<Provider, Vec<Diagnostic>> {
    let parsed = spec::parse(file, source)?;
    let ov = overrides.get(&parsed.spec.provider);
    compile::compile(file, parsed, ov)
}

/// The spec files directly inside `dir`, sorted by name.
pub fn spec_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A compiled provider.
#[derive(Debug)]
pub struct Provider {
    pub key: String,
    pub display_name: String,
    pub description: Option<String>,
    pub categories: Vec<String>,
    pub docs_url: Option<String>,
    /// The logo file the spec names, read when the spec loaded.
    pub logo: Option<Logo>,
    /// How an operator registers the provider's app (Markdown).
    pub setup: Option<String>,
    pub base_url: BaseUrl,
    /// Headers on every request, before the tool's own.
    pub headers: Vec<(HeaderName, Text)>,
    pub connection_config: IndexMap<String, ConfigField>,
    /// Full-match validators of the `pattern`s in `connection_config`.
    pub connection_patterns: IndexMap<String, jsonschema::Validator>,
    /// The auth methods, the default first; never empty.
    pub auths: Vec<Auth>,
    pub rate_limit: Option<RateLimitSpec>,
    pub timeout_ms: Option<u64>,
    pub retry: Option<RetrySpec>,
    pub errors: Option<ErrorRules>,
    pub tools: IndexMap<String, Tool>,
    pub templates: TemplateSet,
    /// The file it was loaded from.
    pub file: PathBuf,
}

impl Provider {
    /// The default auth method (the first the spec lists).
    pub fn auth(&self) -> &Auth {
        &self.auths[0]
    }

    /// The auth method of type `name` (`oauth2`, `bearer`, …), if the spec has it.
    pub fn auth_for(&self, name: &str) -> Option<&Auth> {
        self.auths.iter().find(|a| a.kind.as_str() == name)
    }

    /// `config` with the declared defaults of settings it does not give.
    pub fn with_config_defaults(
        &self,
        config: &serde_json::Map<String, Value>,
    ) -> serde_json::Map<String, Value> {
        let mut out = config.clone();
        for (name, field) in &self.connection_config {
            if let Some(default) = &field.default
                && !out.contains_key(name)
            {
                out.insert(name.clone(), Value::String(default.clone()));
            }
        }
        out
    }

    /// The names of the auth methods, in the spec's order.
    pub fn auth_types(&self) -> Vec<&'static str> {
        self.auths.iter().map(|a| a.kind.as_str()).collect()
    }
}

/// A base URL: checked and parsed once when the spec loads, or a template
/// rendered (and checked) for each request.
#[derive(Debug, Clone, PartialEq)]
pub enum BaseUrl {
    Literal(url::Url),
    Template(TemplateId),
}

impl BaseUrl {
    /// A base URL from a compiled URL field (a literal one was checked by
    /// `url_policy::check_base` when it compiled).
    pub fn from_text(text: Text) -> Option<BaseUrl> {
        match text {
            Text::Literal(s) => crate::url_policy::check_base(&s).ok().map(BaseUrl::Literal),
            Text::Template(id) => Some(BaseUrl::Template(id)),
        }
    }
}

/// A string field: literal, or a template to render.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Literal(String),
    Template(TemplateId),
}

/// A JSON value whose strings may be templates (bodies, query values).
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    Literal(Value),
    Template(TemplateId),
    Object(Vec<(String, ValueTemplate)>),
    Array(Vec<ValueTemplate>),
}

#[derive(Debug)]
pub struct Auth {
    pub kind: AuthType,
    pub label: Option<String>,
    /// This method's own base URL, replacing the provider's.
    pub base_url: Option<BaseUrl>,
    pub authorization_url: Option<Text>,
    pub token_url: Option<Text>,
    pub refresh_url: Option<Text>,
    pub revoke_url: Option<Text>,
    /// Revoke a grant replaced by a re-authorization.
    pub revoke_replaced: bool,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    pub scope_separator: String,
    pub default_scopes: Vec<String>,
    pub authorization_params: IndexMap<String, String>,
    pub token_params: IndexMap<String, String>,
    pub token_response: TokenResponsePaths,
    /// The credential values an account holds, in order (e.g. `api_key`).
    pub credential_fields: IndexMap<String, spec::CredentialField>,
    pub account_config: IndexMap<String, AccountConfig>,
    pub inject_headers: Vec<(HeaderName, TemplateId)>,
    pub inject_query: Vec<(String, TemplateId)>,
    /// What an account lets the app do, in plain words.
    pub permissions: Vec<spec::PermissionSpec>,
    /// Where a connected account's display name is found.
    pub account_name: Option<AccountName>,
}

impl Auth {
    /// The plain-words lines that apply when an account is asked for
    /// `scopes`: those tied to one of them, and those tied to none.
    pub fn permissions_for<'a>(&'a self, scopes: &'a [String]) -> impl Iterator<Item = &'a str> {
        self.permissions
            .iter()
            .filter(|p| p.scopes.is_empty() || p.scopes.iter().any(|s| scopes.contains(s)))
            .map(|p| p.text.as_str())
    }
}

/// Where a connected account's display name (or email) is found.
#[derive(Debug)]
pub struct AccountName {
    /// GET this path under the base URL with the account's credentials;
    /// `None`: read the token response.
    pub path: Option<String>,
    pub value: OutputPath,
}

/// A provider's logo, served by the gateway as an image.
#[derive(Debug, Clone)]
pub struct Logo {
    pub bytes: bytes::Bytes,
    pub content_type: &'static str,
}

/// The largest logo file a spec may name.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

/// Compiled JSONPaths into a token response (standard names by default).
#[derive(Debug)]
pub struct TokenResponsePaths {
    pub access_token: OutputPath,
    pub refresh_token: OutputPath,
    pub expires_in: OutputPath,
    pub scope: OutputPath,
    pub token_type: OutputPath,
}

#[derive(Debug)]
pub struct AccountConfig {
    pub description: Option<String>,
    pub discover: Option<Discover>,
}

/// Where an account value is found after authorization.
#[derive(Debug)]
pub struct Discover {
    /// GET this with the fresh credentials; `None`: read the token response.
    pub url: Option<Text>,
    pub value: OutputPath,
}

/// How a provider's failures are recognised and named.
#[derive(Debug)]
pub struct ErrorRules {
    pub when: Option<Condition>,
    pub message: Option<OutputPath>,
    pub code: Option<OutputPath>,
    pub codes: IndexMap<String, ErrorCode>,
    pub details: Option<OutputPath>,
    pub retry_after: Option<OutputPath>,
    pub rules: Vec<ErrorRule>,
}

/// An error rule: each condition given must hold for `code` to apply.
#[derive(Debug)]
pub struct ErrorRule {
    /// Empty: any status.
    pub statuses: Vec<u16>,
    pub headers: Vec<(HeaderName, String)>,
    pub when: Option<Condition>,
    pub code: ErrorCode,
}

/// A compiled tool.
#[derive(Debug)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// The method of the tool's last request (what the call does, for
    /// catalogs).
    pub method: HttpMethod,
    pub idempotent: bool,
    pub timeout_ms: Option<u64>,
    pub scopes: Vec<String>,
    /// The parameter schema as written (for catalogs).
    pub parameters: Value,
    pub validator: jsonschema::Validator,
    /// The output schema (as written, or derived from the output fields).
    pub output_schema: Value,
    /// The requests, in order: one for most tools, several for a
    /// multi-step tool.
    pub steps: Vec<Step>,
    pub pagination: Option<Pagination>,
    /// Output fields; `None` means the whole body is the output.
    pub output: Option<Vec<(String, OutputField)>>,
    /// The body is content (a download), not JSON.
    pub content: bool,
    /// The config values this tool's request may read (its own templates,
    /// base_url and auth.inject), to explain a failed render precisely.
    pub uses: ConfigUses,
}

/// Names of `connection.config.*` and `account.config.*` values in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUses {
    pub connection: Vec<String>,
    pub account: Vec<String>,
    /// Tool parameters the request's templates use, to name one a call
    /// left out.
    pub params: Vec<String>,
}

/// One request of a tool.
#[derive(Debug)]
pub struct Step {
    /// The step's name (`steps.NAME` in later templates); `None` for the one
    /// request of a single-request tool.
    pub name: Option<String>,
    /// An expression; the step runs only when it is true.
    pub when: Option<TemplateId>,
    pub request: Request,
}

/// How an output field is read from a response.
#[derive(Debug)]
pub enum OutputField {
    Path(OutputPath),
    /// A list (or one object) mapped item by item.
    Items {
        path: OutputPath,
        fields: Vec<(String, OutputField)>,
    },
    /// What `path` selects, through an expression over `value`.
    Value {
        path: OutputPath,
        expr: TemplateId,
    },
}

#[derive(Debug)]
pub struct Request {
    pub method: HttpMethod,
    pub path: Text,
    pub query: Vec<(String, ValueTemplate)>,
    pub headers: Vec<(HeaderName, ValueTemplate)>,
    pub body: Option<Body>,
}

#[derive(Debug)]
pub enum Body {
    Json(ValueTemplate),
    /// A text template whose output is parsed as JSON.
    JsonText(TemplateId),
    Form(Vec<(String, ValueTemplate)>),
    Raw {
        template: Option<ValueTemplate>,
        /// Bytes given as base64 text; used when it renders.
        base64: Option<ValueTemplate>,
        content_type: String,
    },
    Multipart {
        subtype: MultipartSubtype,
        parts: Vec<Part>,
    },
}

/// One part of a multipart body.
#[derive(Debug)]
pub struct Part {
    pub content_type: Option<ValueTemplate>,
    pub json: Option<ValueTemplate>,
    pub text: Option<ValueTemplate>,
    pub base64: Option<ValueTemplate>,
    pub name: Option<ValueTemplate>,
    pub filename: Option<ValueTemplate>,
}

/// Where a page position (cursor, page number, offset) is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageTarget {
    Query(String),
    /// JSON Pointer into the JSON body.
    Body(String),
}

#[derive(Debug)]
pub struct Pagination {
    pub kind: PaginationType,
    pub items: OutputPath,
    pub max_pages: u32,
    pub max_items: Option<MaxItems>,
    pub cursor: Option<OutputPath>,
    pub has_more: Option<OutputPath>,
    pub next_url: Option<OutputPath>,
    pub link_header: bool,
    pub target: Option<PageTarget>,
    pub start: u64,
    pub page_size: Option<u64>,
    pub total: Option<OutputPath>,
}

/// A cap on items across pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxItems {
    Fixed(u32),
    /// An expression over the parameters; undefined means no cap.
    Template(TemplateId),
}

/// Pages followed when a spec does not say.
pub const DEFAULT_MAX_PAGES: u32 = 10;
