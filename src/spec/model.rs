//! The provider spec as written in YAML: plain data, no behaviour.
//!
//! These types mirror `docs/provider-spec.schema.json` field for field; the
//! schema gives spec authors every structural problem at once with its
//! position, and these types then carry the checked data to compilation.
//! Unknown fields are rejected here too, so the two cannot drift silently.
//!
//! Architecture invariant: templates, JSONPaths and schemas are kept as source
//! text here; they are compiled once by the registry, never at request time.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ErrorCode;

/// One provider file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub provider: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub docs_url: Option<String>,
    /// The provider's logo: an SVG or PNG file beside the spec, by name;
    /// shown on the connect page.
    #[serde(default)]
    pub logo: Option<String>,
    /// How an operator registers the provider's app (Markdown), for the
    /// generated provider guide.
    #[serde(default)]
    pub setup: Option<String>,
    pub base_url: String,
    /// Headers every request of every tool carries (API version, Accept);
    /// a tool's header of the same name wins.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Non-secret settings an app gives when it creates a connection
    /// (`connection.config.NAME` in templates).
    #[serde(default)]
    pub connection_config: IndexMap<String, ConfigField>,
    pub auth: AuthMethods,
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    #[serde(default)]
    pub errors: Option<ErrorsSpec>,
    pub tools: IndexMap<String, ToolSpec>,
}

/// A declared configuration value (of a connection or of an account).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigField {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    /// A regular expression the value must match in full.
    #[serde(default)]
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    Oauth2,
    Oauth2ClientCredentials,
    ApiKey,
    Bearer,
    Basic,
    None,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Oauth2 => "oauth2",
            AuthType::Oauth2ClientCredentials => "oauth2_client_credentials",
            AuthType::ApiKey => "api_key",
            AuthType::Bearer => "bearer",
            AuthType::Basic => "basic",
            AuthType::None => "none",
        }
    }

    /// The auth type named `name` (`oauth2`, `api_key`, …).
    pub fn from_name(name: &str) -> Option<AuthType> {
        [
            AuthType::Oauth2,
            AuthType::Oauth2ClientCredentials,
            AuthType::ApiKey,
            AuthType::Bearer,
            AuthType::Basic,
            AuthType::None,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }

    /// Whether credentials come from an OAuth 2.0 token endpoint.
    pub fn is_oauth(self) -> bool {
        matches!(self, AuthType::Oauth2 | AuthType::Oauth2ClientCredentials)
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 section 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret (the RFC's default).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// One auth method, or several a connection chooses from (the first is the
/// default).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AuthMethods {
    One(Box<AuthSpec>),
    Many(Vec<AuthSpec>),
}

impl AuthMethods {
    pub fn methods(&self) -> &[AuthSpec] {
        match self {
            AuthMethods::One(a) => std::slice::from_ref(a),
            AuthMethods::Many(list) => list,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// What people call this method ("Personal access token").
    #[serde(default)]
    pub label: Option<String>,
    /// This method's own base URL, when its accounts reach another host.
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
    /// After a re-authorization, revoke the grant it replaced (only where
    /// revoking one token leaves the user's newer grant alone).
    #[serde(default)]
    pub revoke_replaced: bool,
    /// PKCE (S256) in the authorization code flow; on unless a provider
    /// refuses it.
    #[serde(default = "yes")]
    pub pkce: bool,
    #[serde(default)]
    pub client_auth: ClientAuth,
    #[serde(default)]
    pub scope_separator: Option<String>,
    #[serde(default)]
    pub default_scopes: Vec<String>,
    #[serde(default)]
    pub authorization_params: IndexMap<String, String>,
    #[serde(default)]
    pub token_params: IndexMap<String, String>,
    #[serde(default)]
    pub token_response: TokenResponseSpec,
    /// Credential values an account holds, for api_key / bearer / basic
    /// providers (`credentials.NAME` in `inject`). Defaults by auth type.
    #[serde(default)]
    pub credential_fields: IndexMap<String, CredentialField>,
    /// Values discovered for one account after authorization
    /// (`account.config.NAME` in templates).
    #[serde(default)]
    pub account_config: IndexMap<String, AccountConfigField>,
    #[serde(default)]
    pub inject: Option<InjectSpec>,
    /// What an account of this method lets the app do, in plain words for
    /// the person who connects it; a line tied to scopes is shown when the
    /// connection asks for one of them.
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    /// Where the account's display name or email is found once connected.
    #[serde(default)]
    pub account_name: Option<AccountNameSpec>,
}

/// One line of what an account lets the app do ("Send email as you").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub text: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// How to learn who a connected account is: one GET of `path` under the
/// base URL with the account's credentials, or (without `path`) the token
/// endpoint's answer; `value` is a JSONPath into it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountNameSpec {
    #[serde(default)]
    pub path: Option<String>,
    pub value: String,
}

/// JSONPaths into a non-standard token response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenResponseSpec {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialField {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub secret: bool,
    /// Where the user finds or creates this value (a settings page).
    #[serde(default)]
    pub help_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfigField {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub discover: Option<DiscoverSpec>,
}

/// How to find an account's config value after authorization: one GET with the
/// fresh credentials and a JSONPath into its answer, or (without `url`) a
/// JSONPath into the token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSpec {
    #[serde(default)]
    pub url: Option<String>,
    pub value: String,
}

/// Where credentials go on each request. Both maps are templates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectSpec {
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub query: IndexMap<String, String>,
}

/// Client-side limits: per connected account, and optionally for the
/// provider as a whole (all accounts together).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub requests_per_second: f64,
    #[serde(default)]
    pub burst: Option<u32>,
    #[serde(default)]
    pub per_provider: Option<RateQuota>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateQuota {
    pub requests_per_second: f64,
    #[serde(default)]
    pub burst: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub on_status: Option<Vec<u16>>,
    #[serde(default)]
    pub retry_after_header: Option<String>,
    /// A header carrying when the provider's rate-limit window resets.
    #[serde(default)]
    pub reset_header: Option<String>,
}

/// How a provider reports failure inside a response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsSpec {
    /// An RFC 9535 filter expression over the body (`$` is the body); when it
    /// holds, the response is a failure even with a 2xx status.
    #[serde(default)]
    pub when: Option<String>,
    /// JSONPath of the provider's human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// JSONPath of the provider's machine-readable code (defaults to `message`).
    #[serde(default)]
    pub code: Option<String>,
    /// Provider code (or HTTP status) to unified code.
    #[serde(default)]
    pub codes: IndexMap<String, ErrorCode>,
    /// JSONPath of structured error details passed on to the caller.
    #[serde(default)]
    pub details: Option<String>,
    /// JSONPath of a retry delay in seconds inside an error body.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Rules over status, headers and body, checked in order before `codes`.
    #[serde(default)]
    pub rules: Vec<ErrorRuleSpec>,
}

/// One error rule: every condition given must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRuleSpec {
    #[serde(default)]
    pub status: Option<OneOrMany<u16>>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub when: Option<String>,
    pub code: ErrorCode,
}

/// A value, or a list of them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(list) => list.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HttpMethod {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
}

impl HttpMethod {
    pub fn as_http(self) -> http::Method {
        match self {
            HttpMethod::GET => http::Method::GET,
            HttpMethod::POST => http::Method::POST,
            HttpMethod::PUT => http::Method::PUT,
            HttpMethod::PATCH => http::Method::PATCH,
            HttpMethod::DELETE => http::Method::DELETE,
        }
    }

    /// Methods whose repetition has no extra effect (RFC 9110 section 9.2.2).
    pub fn is_idempotent(self) -> bool {
        matches!(self, HttpMethod::GET | HttpMethod::PUT | HttpMethod::DELETE)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    pub description: String,
    #[serde(default)]
    pub idempotent: Option<bool>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// OAuth scopes this tool needs beyond the provider's defaults.
    #[serde(default)]
    pub scopes: Vec<String>,
    pub parameters: Value,
    /// The one request of a single-request tool.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// The requests of a multi-step tool, in order.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    #[serde(default)]
    pub pagination: Option<PaginationSpec>,
    #[serde(default)]
    pub response: Option<ResponseSpec>,
}

/// One request of a multi-step tool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    /// An expression; the step runs only when it is true.
    #[serde(default)]
    pub when: Option<String>,
    pub request: RequestSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub method: HttpMethod,
    pub path: String,
    #[serde(default)]
    pub query: IndexMap<String, Value>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub body: Option<BodySpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyEncoding {
    #[default]
    Json,
    Form,
    Raw,
    Multipart,
}

/// The kind of a multipart body (`multipart/<subtype>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultipartSubtype {
    #[default]
    Related,
    FormData,
    Mixed,
}

impl MultipartSubtype {
    pub fn as_str(self) -> &'static str {
        match self {
            MultipartSubtype::Related => "related",
            MultipartSubtype::FormData => "form-data",
            MultipartSubtype::Mixed => "mixed",
        }
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub json: Option<Value>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub base64: Option<String>,
    /// The form field name (form-data).
    #[serde(default)]
    pub name: Option<String>,
    /// The file name (form-data).
    #[serde(default)]
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodySpec {
    #[serde(default)]
    pub encoding: BodyEncoding,
    #[serde(default)]
    pub json: Option<Value>,
    /// A text template whose output is JSON (for bodies built with loops);
    /// the output is parsed and sent as JSON.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub form: Option<IndexMap<String, Value>>,
    #[serde(default)]
    pub raw: Option<String>,
    /// Raw bytes given as base64 text (used instead of `raw` when defined).
    #[serde(default)]
    pub base64: Option<String>,
    #[serde(default)]
    pub subtype: Option<MultipartSubtype>,
    #[serde(default)]
    pub parts: Option<Vec<PartSpec>>,
    #[serde(default)]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaginationType {
    Cursor,
    NextUrl,
    Page,
    Offset,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaginationSpec {
    #[serde(rename = "type")]
    pub kind: PaginationType,
    /// JSONPath of the page's items; pages are concatenated there.
    pub items: String,
    #[serde(default)]
    pub max_pages: Option<u32>,
    /// A number, or an expression such as `"{{ max_results }}"`.
    #[serde(default)]
    pub max_items: Option<Value>,
    /// cursor: JSONPath of the next cursor.
    #[serde(default)]
    pub cursor: Option<String>,
    /// cursor: JSONPath of a boolean that says whether more pages exist.
    #[serde(default)]
    pub has_more: Option<String>,
    /// next_url: JSONPath of the next page's URL.
    #[serde(default)]
    pub next_url: Option<String>,
    /// next_url: take the next page from the `Link: <…>; rel="next"` header.
    #[serde(default)]
    pub link_header: bool,
    /// cursor / page / offset: the query parameter that carries the position.
    #[serde(default)]
    pub param: Option<String>,
    /// cursor / page / offset: JSON Pointer into a JSON body that carries it.
    #[serde(default)]
    pub body_field: Option<String>,
    /// page: the number of the first page (default 1).
    #[serde(default)]
    pub start: Option<u64>,
    /// page / offset: the page size; a shorter page is the last.
    #[serde(default)]
    pub page_size: Option<u64>,
    /// offset: JSONPath of the total number of items.
    #[serde(default)]
    pub total: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// Output fields; `{}` gives an empty object (an answer with no body).
    #[serde(default)]
    pub output: Option<IndexMap<String, OutputSpec>>,
    #[serde(default)]
    pub output_schema: Option<Value>,
    /// The body is content (a download), not JSON.
    #[serde(default)]
    pub content: bool,
}

/// An output field: a JSONPath, or what a JSONPath selects mapped item by
/// item (`fields`) or through an expression (`value`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OutputSpec {
    Path(String),
    Mapped(MappedOutput),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedOutput {
    pub path: String,
    #[serde(default)]
    pub fields: Option<IndexMap<String, OutputSpec>>,
    /// An expression over `value` (what `path` selects).
    #[serde(default)]
    pub value: Option<String>,
}

fn yes() -> bool {
    true
}
