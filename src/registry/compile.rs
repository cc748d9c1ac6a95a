//! Compiling a checked spec into a [`Provider`], with every semantic problem
//! reported at its position.
//!
//! Each templated field is compiled here once, and the variables it uses are
//! checked against what that field may see (its *scope*): tool parameters in
//! requests, `connection.config.*` and `account.config.*` as declared by the
//! spec, and `credentials.*` only inside `auth.inject`. A misspelt name is
//! caught here, when the file loads, not when a user first calls the tool.

use std::path::Path;

use http::{HeaderName, HeaderValue};
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::jsonpath::{Condition, OutputPath};
use super::{
    AccountConfig, AccountName, Auth, BaseUrl, Body, ConfigUses, DEFAULT_MAX_PAGES, Discover,
    ErrorRule, ErrorRules, Logo, MAX_LOGO_BYTES, MaxItems, OutputField, PageTarget, Pagination,
    Part, Provider, ProviderOverride, Request, Step, Text, TokenResponsePaths, Tool, ValueTemplate,
};
use crate::spec::yaml::escape_pointer;
use crate::spec::{
    AuthMethods, AuthSpec, AuthType, BodyEncoding, BodySpec, CredentialField, Diagnostic,
    Diagnostics, ErrorsSpec, OutputSpec, PaginationSpec, PaginationType, ParsedSpec, RequestSpec,
    ResponseSpec, ToolSpec,
};
use crate::template::{Escape, TemplateId, TemplateSetBuilder};
use crate::url_policy;

/// Parameter names that would shadow the template context.
const RESERVED_PARAMETERS: &[&str] = &["connection", "account", "credentials"];

/// The keywords of JSON Schema draft 2020-12 (core, applicator, validation,
/// meta-data, format and content vocabularies).
const SCHEMA_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$defs",
    "$comment",
    "$vocabulary",
    "type",
    "enum",
    "const",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "required",
    "dependentRequired",
    "dependentSchemas",
    "items",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
];

const JSON_TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// What a templated field may refer to.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// Where the field is, for messages ("base_url", "tool `get_issue`").
    place: &'a str,
    /// Tool parameter names, where parameters are visible.
    params: Option<&'a [String]>,
    /// Credential names, inside `auth.inject` only.
    credentials: Option<&'a [String]>,
    /// Whether `account.config.*` is visible (not before authorization).
    account: bool,
    /// Names of the earlier steps of a multi-step tool (`steps.NAME`).
    steps: &'a [String],
}

struct Compiler<'a> {
    diags: Diagnostics<'a>,
    /// Operator origin rewrites (`provider_overrides.*.origins`).
    origins: std::collections::BTreeMap<String, String>,
    /// Config values used by the templates compiled since the last reset.
    uses: ConfigUses,
    templates: TemplateSetBuilder,
    connection_config: Vec<String>,
    /// The connection settings that declare a `pattern`.
    patterned: Vec<String>,
    account_config: Vec<String>,
    /// Every scope some tool asks for beyond the defaults.
    tool_scopes: Vec<String>,
    /// The parameter schema of the tool being compiled.
    current_parameters: Option<Value>,
}

pub(super) fn compile(
    file: &Path,
    parsed: ParsedSpec,
    overrides: Option<&ProviderOverride>,
) -> Result<Provider, Vec<Diagnostic>> {
    let ParsedSpec {
        spec,
        source_map,
        problems,
        header_ok,
    } = parsed;
    let mut diags = Diagnostics::new(file, &source_map);
    diags.list = problems;
    let mut c = Compiler {
        diags,
        origins: overrides.map(|o| o.origins.clone()).unwrap_or_default(),
        uses: ConfigUses::default(),
        templates: TemplateSetBuilder::default(),
        connection_config: spec.connection_config.keys().cloned().collect(),
        patterned: spec
            .connection_config
            .iter()
            .filter(|(_, f)| f.pattern.is_some())
            .map(|(k, _)| k.clone())
            .collect(),
        account_config: spec
            .auth
            .methods()
            .iter()
            .flat_map(|m| m.account_config.keys().cloned())
            .collect(),
        tool_scopes: spec
            .tools
            .values()
            .flat_map(|t| t.scopes.iter().cloned())
            .collect(),
        current_parameters: None,
    };
    let ov = overrides.cloned().unwrap_or_default();

    let mut connection_patterns = IndexMap::new();
    for (name, field) in &spec.connection_config {
        let Some(pattern) = &field.pattern else {
            continue;
        };
        match full_match(pattern) {
            Ok(v) => {
                connection_patterns.insert(name.clone(), v);
            }
            Err(e) => c.diags.at(
                &format!("/connection_config/{}/pattern", escape_pointer(name)),
                format!("invalid pattern: {e}"),
            ),
        }
    }

    let url_scope = Scope {
        place: "base_url",
        params: None,
        credentials: None,
        account: true,
        steps: &[],
    };
    // A header that did not deserialize holds placeholders: check tools only.
    let (base_url, headers, auths, errors) = if header_ok {
        let base = ov.base_url.as_deref().unwrap_or(&spec.base_url);
        (
            c.url("/base_url", base, url_scope),
            c.provider_headers(&spec.headers),
            c.auths(&spec.auth, &ov),
            spec.errors.as_ref().map(|e| c.errors("/errors", e)),
        )
    } else {
        (None, Vec::new(), None, None)
    };

    // Every tool's request also renders base_url and auth.inject.
    let provider_uses = std::mem::take(&mut c.uses);
    let mut tools = IndexMap::new();
    for (name, tool) in &spec.tools {
        c.uses = provider_uses.clone();
        if let Some(tool) = c.tool(name, tool) {
            tools.insert(name.clone(), tool);
        }
    }

    let logo = spec.logo.as_ref().and_then(|name| c.logo(file, name));

    if !c.diags.is_empty() || !header_ok {
        let mut list = c.diags.list;
        list.sort_by_key(|d| (d.line, d.column));
        list.dedup();
        return Err(list);
    }
    let whole_file = |message: String| {
        vec![Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message,
        }]
    };
    let templates = c.templates.build().map_err(whole_file)?;
    // Without diagnostics, base_url compiled (and a literal one was checked).
    let base_url = base_url
        .and_then(BaseUrl::from_text)
        .ok_or_else(|| whole_file("base_url is not a usable URL".to_owned()))?;
    Ok(Provider {
        key: spec.provider,
        display_name: spec.display_name,
        description: spec.description,
        categories: spec.categories,
        docs_url: spec.docs_url,
        logo,
        setup: spec.setup,
        base_url,
        headers,
        connection_config: spec.connection_config,
        connection_patterns,
        auths: auths.expect("no diagnostics means auth compiled"),
        rate_limit: spec.rate_limit,
        timeout_ms: spec.timeout_ms,
        retry: spec.retry,
        errors: errors.flatten(),
        tools,
        templates,
        file: file.to_path_buf(),
    })
}

impl Compiler<'_> {
    // === templates and variables ===

    /// Compiles a string field: literal when it has no template syntax.
    fn text(
        &mut self,
        pointer: &str,
        source: &str,
        escape: Escape,
        scope: Scope<'_>,
    ) -> Option<Text> {
        if !crate::template::is_template(source) {
            return Some(Text::Literal(source.to_owned()));
        }
        let added = self.templates.add_text(source, escape);
        self.checked(pointer, added, scope).map(Text::Template)
    }

    /// Compiles a JSON value whose strings may be templates.
    fn value(&mut self, pointer: &str, value: &Value, scope: Scope<'_>) -> Option<ValueTemplate> {
        match value {
            Value::String(s) if crate::template::is_template(s) => {
                let added = self.templates.add(s);
                self.checked(pointer, added, scope)
                    .map(ValueTemplate::Template)
            }
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                for (k, v) in map {
                    let child = format!("{pointer}/{}", escape_pointer(k));
                    entries.push((k.clone(), self.value(&child, v, scope)?));
                }
                Some(ValueTemplate::Object(entries))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    out.push(self.value(&format!("{pointer}/{i}"), v, scope)?);
                }
                Some(ValueTemplate::Array(out))
            }
            literal => Some(ValueTemplate::Literal(literal.clone())),
        }
    }

    fn checked(
        &mut self,
        pointer: &str,
        added: Result<crate::template::Added, String>,
        scope: Scope<'_>,
    ) -> Option<TemplateId> {
        let added = match added {
            Ok(added) => added,
            Err(message) => {
                self.diags.at(pointer, format!("template error: {message}"));
                return None;
            }
        };
        let before = self.diags.list.len();
        for variable in &added.variables {
            if let Some(message) = self.variable_problem(variable, scope) {
                self.diags.at(pointer, message);
            }
            self.uses.note(variable);
            let head = variable.split('.').next().unwrap_or_default();
            if scope.params.is_some_and(|p| p.iter().any(|n| n == head))
                && !self.uses.params.iter().any(|n| n == head)
            {
                self.uses.params.push(head.to_owned());
            }
        }
        (self.diags.list.len() == before).then_some(added.id)
    }

    /// Why `variable` (dotted, e.g. `connection.config.host`) may not be used
    /// in `scope`, if it may not.
    fn variable_problem(&self, variable: &str, scope: Scope<'_>) -> Option<String> {
        let mut parts = variable.split('.');
        let head = parts.next().unwrap_or_default();
        let second = parts.next();
        let third = parts.next();
        match head {
            "steps" => match second {
                Some(step) if scope.steps.iter().any(|s| s == step) => None,
                Some(step) => Some(format!(
                    "`steps.{step}` is not an earlier step of {}{}",
                    scope.place,
                    if scope.steps.is_empty() {
                        String::new()
                    } else {
                        format!(" (earlier steps: {})", scope.steps.join(", "))
                    }
                )),
                None => Some("use `steps.NAME.…` with the name of an earlier step".into()),
            },
            "connection" | "account" => {
                let (declared, section) = if head == "connection" {
                    (&self.connection_config, "connection_config")
                } else {
                    (&self.account_config, "auth.account_config")
                };
                if head == "account" && !scope.account {
                    return Some(format!(
                        "`{variable}` is not available in {}: account values are known only after authorization",
                        scope.place
                    ));
                }
                match (second, third) {
                    (Some("config"), Some(name)) if declared.iter().any(|d| d == name) => None,
                    (Some("config"), Some(name)) => Some(format!(
                        "`{head}.config.{name}` is not declared in {section}{}",
                        hint(name, declared)
                    )),
                    _ => Some(format!(
                        "`{variable}`: use `{head}.config.NAME` with a NAME declared in {section}"
                    )),
                }
            }
            "credentials" => match scope.credentials {
                None => Some(format!(
                    "`{variable}`: credentials can only be used in auth.inject, not in {}",
                    scope.place
                )),
                Some(names) => match second {
                    Some(name) if names.iter().any(|n| n == name) => None,
                    Some(name) => Some(format!(
                        "`credentials.{name}` is not a credential of this auth type (credentials: {}){}",
                        names.join(", "),
                        hint(name, names)
                    )),
                    None => Some("use `credentials.NAME`".into()),
                },
            },
            name => match scope.params {
                Some(params) if params.iter().any(|p| p == name) => None,
                Some(params) => Some(format!(
                    "`{name}` is not a parameter of {} (parameters: {}){}",
                    scope.place,
                    if params.is_empty() {
                        "none".into()
                    } else {
                        params.join(", ")
                    },
                    hint(name, params)
                )),
                None => Some(format!(
                    "`{name}` is not available in {}: it may use connection.config{}",
                    scope.place,
                    if scope.credentials.is_some() {
                        ", account.config and credentials"
                    } else if scope.account {
                        " and account.config"
                    } else {
                        ""
                    }
                )),
            },
        }
    }

    // === URLs ===

    /// An absolute URL field (base_url, auth endpoints).
    fn url(&mut self, pointer: &str, source: &str, scope: Scope<'_>) -> Option<Text> {
        let rewritten = self.rewrite_origin(source);
        let source = rewritten.as_str();
        if uses_safe_filter(source) {
            self.diags.at(
                pointer,
                "the `safe` filter is not allowed in URLs: it would let a value change the host",
            );
            return None;
        }
        if uses_autoescape_tag(source) {
            self.diags.at(
                pointer,
                "`{% autoescape %}` is not allowed in URLs: values in a URL are always escaped",
            );
            return None;
        }
        let text = self.text(pointer, source, Escape::UrlComponent, scope)?;
        let checked = match &text {
            Text::Literal(url) => url_policy::check_base(url).map(|_| ()),
            // A templated host is checked again once rendered; its scheme can be
            // checked now.
            Text::Template(_) => url_policy::check_scheme_prefix(source),
        };
        if let Err(message) = checked {
            self.diags.at(pointer, message);
            return None;
        }
        // A connection setting in the host decides where credentials go: it
        // must have a pattern, so a connection cannot name any host it likes.
        let authority = source
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or_default();
        for (i, _) in authority.match_indices("connection.config.") {
            let name: String = authority[i + "connection.config.".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if self.connection_config.contains(&name) && !self.patterned.contains(&name) {
                self.diags.at(
                    pointer,
                    format!(
                        "`connection.config.{name}` is part of the host: declare a `pattern` for it in connection_config, so a connection cannot send credentials to a host of its choosing"
                    ),
                );
                return None;
            }
        }
        Some(text)
    }

    /// `source` with an overridden origin replaced (`https://a.example/x` →
    /// `http://127.0.0.1:9000/x`).
    fn rewrite_origin(&self, source: &str) -> String {
        for (from, to) in &self.origins {
            let from = from.trim_end_matches('/');
            if let Some(rest) = source.strip_prefix(from)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return format!("{}{rest}", to.trim_end_matches('/'));
            }
        }
        source.to_owned()
    }

    // === headers and auth ===

    /// The provider-wide headers (text templates over config values).
    fn provider_headers(&mut self, headers: &IndexMap<String, String>) -> Vec<(HeaderName, Text)> {
        let scope = Scope {
            place: "headers",
            params: None,
            credentials: None,
            account: true,
            steps: &[],
        };
        let mut out = Vec::new();
        for (name, source) in headers {
            let pointer = format!("/headers/{}", escape_pointer(name));
            let Some(header) = self.header_name(&pointer, name) else {
                continue;
            };
            if !crate::template::is_template(source) && HeaderValue::from_str(source).is_err() {
                self.diags.at(&pointer, header_value_problem(source));
                continue;
            }
            if let Some(text) = self.text(&pointer, source, Escape::None, scope) {
                out.push((header, text));
            }
        }
        out
    }

    /// Every auth method; two of one type are refused.
    fn auths(&mut self, spec: &AuthMethods, ov: &ProviderOverride) -> Option<Vec<Auth>> {
        let before = self.diags.list.len();
        let mut out = Vec::new();
        for (i, method) in spec.methods().iter().enumerate() {
            let at = match spec {
                AuthMethods::One(_) => "/auth".to_owned(),
                AuthMethods::Many(_) => format!("/auth/{i}"),
            };
            if spec.methods()[..i].iter().any(|m| m.kind == method.kind) {
                self.diags.at(
                    &format!("{at}/type"),
                    format!(
                        "a second `{}` auth method; each type may appear once, since a connection chooses by type",
                        method.kind.as_str()
                    ),
                );
                continue;
            }
            if let Some(auth) = self.auth(&at, method, ov) {
                out.push(auth);
            }
        }
        (self.diags.list.len() == before && !out.is_empty()).then_some(out)
    }

    fn auth(&mut self, at: &str, spec: &AuthSpec, ov: &ProviderOverride) -> Option<Auth> {
        let before = self.diags.list.len();
        let scope = Scope {
            place: "auth",
            params: None,
            credentials: None,
            account: false,
            steps: &[],
        };
        let endpoint = |c: &mut Self, name: &str, spec: &Option<String>, ov: &Option<String>| {
            let source = ov.as_ref().or(spec.as_ref())?;
            c.url(&format!("{at}/{name}"), source, scope)
        };
        // An operator's base_url override moves every method's requests.
        let base_url = match (&spec.base_url, &ov.base_url) {
            (Some(source), None) => {
                let url_scope = Scope {
                    place: "base_url",
                    account: true,
                    ..scope
                };
                self.url(&format!("{at}/base_url"), source, url_scope)
                    .and_then(BaseUrl::from_text)
            }
            _ => None,
        };
        let authorization_url = endpoint(
            self,
            "authorization_url",
            &spec.authorization_url,
            &ov.authorization_url,
        );
        let token_url = endpoint(self, "token_url", &spec.token_url, &ov.token_url);
        let refresh_url = endpoint(self, "refresh_url", &spec.refresh_url, &ov.refresh_url);
        let revoke_url = endpoint(self, "revoke_url", &spec.revoke_url, &ov.revoke_url);
        if spec.revoke_replaced && spec.revoke_url.is_none() {
            self.diags.at(
                &format!("{at}/revoke_replaced"),
                "`revoke_replaced` needs a `revoke_url` to revoke at".to_owned(),
            );
        }

        let credential_fields = credential_fields(spec);
        let credential_names: Vec<String> = credential_fields.keys().cloned().collect();
        let inject_scope = Scope {
            place: "auth.inject",
            params: None,
            credentials: Some(&credential_names),
            account: true,
            steps: &[],
        };
        let (headers, query) = match &spec.inject {
            Some(inject) => (inject.headers.clone(), inject.query.clone()),
            None => (default_inject(spec.kind), IndexMap::new()),
        };
        let mut inject_headers = Vec::new();
        for (name, source) in &headers {
            let pointer = format!("{at}/inject/headers/{}", escape_pointer(name));
            let Some(header) = self.header_name(&pointer, name) else {
                continue;
            };
            let added = self.templates.add_text(source, Escape::None);
            if let Some(id) = self.checked(&pointer, added, inject_scope) {
                inject_headers.push((header, id));
            }
        }
        let mut inject_query = Vec::new();
        for (name, source) in &query {
            let pointer = format!("{at}/inject/query/{}", escape_pointer(name));
            let added = self.templates.add_text(source, Escape::None);
            if let Some(id) = self.checked(&pointer, added, inject_scope) {
                inject_query.push((name.clone(), id));
            }
        }

        let paths = &spec.token_response;
        let token_path = |c: &mut Self, name: &str, source: &Option<String>, default: &str| {
            let pointer = format!("{at}/token_response/{name}");
            c.path(&pointer, source.as_deref().unwrap_or(default))
        };
        let token_response = (
            token_path(self, "access_token", &paths.access_token, "$.access_token"),
            token_path(
                self,
                "refresh_token",
                &paths.refresh_token,
                "$.refresh_token",
            ),
            token_path(self, "expires_in", &paths.expires_in, "$.expires_in"),
            token_path(self, "scope", &paths.scope, "$.scope"),
            token_path(self, "token_type", &paths.token_type, "$.token_type"),
        );

        let mut account_config = IndexMap::new();
        for (name, field) in &spec.account_config {
            let pointer = format!("{at}/account_config/{}/discover", escape_pointer(name));
            let discover = match &field.discover {
                Some(d) => {
                    let url = d
                        .url
                        .as_ref()
                        .map(|url| self.url(&format!("{pointer}/url"), url, scope));
                    let value = self.path(&format!("{pointer}/value"), &d.value);
                    match (url, value) {
                        (Some(None), _) | (_, None) => None,
                        (url, Some(value)) => Some(Discover {
                            url: url.flatten(),
                            value,
                        }),
                    }
                }
                None => None,
            };
            account_config.insert(
                name.clone(),
                AccountConfig {
                    description: field.description.clone(),
                    discover,
                },
            );
        }

        self.permissions(at, spec);
        let account_name = spec.account_name.as_ref().and_then(|name| {
            let pointer = format!("{at}/account_name");
            if let Some(path) = &name.path
                && (!path.starts_with('/') || crate::template::is_template(path))
            {
                self.diags.at(
                    &format!("{pointer}/path"),
                    format!("`{path}` must be a plain path under the base URL, starting with `/`"),
                );
            }
            if name.path.is_some() && spec.kind == AuthType::None {
                self.diags.at(
                    &format!("{pointer}/path"),
                    "an account without credentials has no name to look up".to_owned(),
                );
            }
            let value = self.path(&format!("{pointer}/value"), &name.value)?;
            Some(AccountName {
                path: name.path.clone(),
                value,
            })
        });
        for (name, field) in &spec.credential_fields {
            if let Some(link) = &field.help_url
                && !url::Url::parse(link).is_ok_and(|u| u.scheme() == "https")
            {
                self.diags.at(
                    &format!("{at}/credential_fields/{}/help_url", escape_pointer(name)),
                    format!("`{link}` must be an absolute https URL"),
                );
            }
        }

        if self.diags.list.len() != before {
            return None;
        }
        let (
            Some(access_token),
            Some(refresh_token),
            Some(expires_in),
            Some(scope_path),
            Some(token_type),
        ) = token_response
        else {
            return None;
        };
        Some(Auth {
            kind: spec.kind,
            label: spec.label.clone(),
            base_url,
            authorization_url,
            token_url,
            refresh_url,
            revoke_url,
            revoke_replaced: spec.revoke_replaced,
            pkce: spec.pkce,
            client_auth: spec.client_auth,
            scope_separator: spec.scope_separator.clone().unwrap_or_else(|| " ".into()),
            default_scopes: spec.default_scopes.clone(),
            authorization_params: spec.authorization_params.clone(),
            token_params: spec.token_params.clone(),
            token_response: TokenResponsePaths {
                access_token,
                refresh_token,
                expires_in,
                scope: scope_path,
                token_type,
            },
            credential_fields,
            account_config,
            inject_headers,
            inject_query,
            permissions: spec.permissions.clone(),
            account_name,
        })
    }

    /// Checks the plain-words permission lines of an auth method: each says
    /// something, and each scope it names is one some account is asked for
    /// (a misspelt scope would silently hide the line).
    fn permissions(&mut self, at: &str, spec: &AuthSpec) {
        let oauth = matches!(
            spec.kind,
            AuthType::Oauth2 | AuthType::Oauth2ClientCredentials
        );
        for (i, line) in spec.permissions.iter().enumerate() {
            let pointer = format!("{at}/permissions/{i}");
            if line.text.trim().is_empty() {
                self.diags
                    .at(&format!("{pointer}/text"), "the text is empty".to_owned());
            }
            if !oauth && !line.scopes.is_empty() {
                self.diags.at(
                    &format!("{pointer}/scopes"),
                    format!("`{}` accounts have no scopes", spec.kind.as_str()),
                );
                continue;
            }
            for (j, scope) in line.scopes.iter().enumerate() {
                let asked = spec.default_scopes.contains(scope) || self.tool_scopes.contains(scope);
                if !asked {
                    self.diags.at(
                        &format!("{pointer}/scopes/{j}"),
                        format!(
                            "`{scope}` is neither in `default_scopes` nor in any tool's `scopes`"
                        ),
                    );
                }
            }
        }
    }

    /// Reads the logo file `name` beside the spec `file`.
    fn logo(&mut self, file: &Path, name: &str) -> Option<Logo> {
        let path = file.parent().unwrap_or(Path::new(".")).join(name);
        match crate::config::read_logo(&path, MAX_LOGO_BYTES) {
            Ok((bytes, content_type)) => Some(Logo {
                bytes: bytes.into(),
                content_type,
            }),
            Err(e) => {
                self.diags.at("/logo", format!("`{}` {e}", path.display()));
                None
            }
        }
    }

    fn header_name(&mut self, pointer: &str, name: &str) -> Option<HeaderName> {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(h) => Some(h),
            Err(_) => {
                self.diags
                    .at_key(pointer, format!("`{name}` is not a valid HTTP header name"));
                None
            }
        }
    }

    fn path(&mut self, pointer: &str, source: &str) -> Option<OutputPath> {
        OutputPath::parse(source)
            .map_err(|message| self.diags.at(pointer, message))
            .ok()
    }

    fn errors(&mut self, pointer: &str, spec: &ErrorsSpec) -> Option<ErrorRules> {
        let when = spec.when.as_ref().and_then(|w| {
            Condition::parse(w)
                .map_err(|message| self.diags.at(&format!("{pointer}/when"), message))
                .ok()
        });
        let message = spec
            .message
            .as_ref()
            .and_then(|m| self.path(&format!("{pointer}/message"), m));
        let code = spec
            .code
            .as_ref()
            .and_then(|m| self.path(&format!("{pointer}/code"), m));
        let details = spec
            .details
            .as_ref()
            .and_then(|m| self.path(&format!("{pointer}/details"), m));
        let retry_after = spec
            .retry_after
            .as_ref()
            .and_then(|m| self.path(&format!("{pointer}/retry_after"), m));
        let mut rules = Vec::new();
        for (i, rule) in spec.rules.iter().enumerate() {
            let at = format!("{pointer}/rules/{i}");
            let mut headers = Vec::new();
            for (name, value) in &rule.headers {
                let p = format!("{at}/headers/{}", escape_pointer(name));
                if let Some(h) = self.header_name(&p, name) {
                    headers.push((h, value.clone()));
                }
            }
            let when = rule.when.as_ref().and_then(|w| {
                Condition::parse(w)
                    .map_err(|message| self.diags.at(&format!("{at}/when"), message))
                    .ok()
            });
            if rule.status.is_none() && headers.is_empty() && rule.when.is_none() {
                self.diags.at(
                    &at,
                    "a rule needs at least one of `status`, `headers` and `when`",
                );
            }
            rules.push(ErrorRule {
                statuses: rule.status.as_ref().map(|s| s.to_vec()).unwrap_or_default(),
                headers,
                when,
                code: rule.code,
            });
        }
        Some(ErrorRules {
            when,
            message,
            code,
            codes: spec.codes.clone(),
            details,
            retry_after,
            rules,
        })
    }

    // === tools ===

    fn tool(&mut self, name: &str, spec: &ToolSpec) -> Option<Tool> {
        let at = format!("/tools/{}", escape_pointer(name));
        let before = self.diags.list.len();
        let place = format!("tool `{name}`");

        self.current_parameters = Some(spec.parameters.clone());
        let params = self.parameters(&at, &spec.parameters);
        let validator = self.schema(&format!("{at}/parameters"), &spec.parameters, "parameter");
        let scope = Scope {
            place: &place,
            params: Some(&params),
            credentials: None,
            account: true,
            steps: &[],
        };

        let mut steps = Vec::new();
        match (&spec.request, spec.steps.as_slice()) {
            (Some(request), []) => {
                if let Some(request) = self.request(&format!("{at}/request"), request, scope) {
                    steps.push(Step {
                        name: None,
                        when: None,
                        request,
                    });
                }
            }
            (None, list) if !list.is_empty() => {
                let mut names: Vec<String> = Vec::new();
                for (i, step) in list.iter().enumerate() {
                    let step_at = format!("{at}/steps/{i}");
                    if names.contains(&step.name) {
                        self.diags.at(
                            &format!("{step_at}/name"),
                            format!("a second step named `{}`", step.name),
                        );
                    }
                    let step_scope = Scope {
                        steps: &names,
                        ..scope
                    };
                    let when = step.when.as_ref().and_then(|w| {
                        let pointer = format!("{step_at}/when");
                        if crate::template::whole_expression(w).is_none() {
                            self.diags.at(
                                &pointer,
                                "`when` is one expression: `{{ topic is defined }}`",
                            );
                            return None;
                        }
                        let added = self.templates.add(w);
                        self.checked(&pointer, added, step_scope)
                    });
                    let request =
                        self.request(&format!("{step_at}/request"), &step.request, step_scope);
                    if let Some(request) = request {
                        steps.push(Step {
                            name: Some(step.name.clone()),
                            when,
                            request,
                        });
                    }
                    names.push(step.name.clone());
                }
                if spec.pagination.is_some() {
                    self.diags.at_key(
                        &format!("{at}/pagination"),
                        "a multi-step tool cannot paginate",
                    );
                }
            }
            _ => self.diags.at_key(
                &format!("{at}/request"),
                "a tool has either `request` or `steps`",
            ),
        }

        let pagination = match (&spec.pagination, &spec.request) {
            (Some(p), Some(request)) => {
                self.pagination(&format!("{at}/pagination"), p, request, scope)
            }
            _ => None,
        };

        let response = spec.response.clone().unwrap_or_default();
        let fields = response.output.clone().unwrap_or_default();
        let mut output = Vec::new();
        for (field, source) in &fields {
            let pointer = format!("{at}/response/output/{}", escape_pointer(field));
            if let Some(o) = self.output_field(&pointer, source) {
                output.push((field.clone(), o));
            }
        }
        if response.content && response.output.is_some() {
            self.diags.at_key(
                &format!("{at}/response/output"),
                "a content response has a fixed output (content or content_base64, mime_type, size); leave out `output`",
            );
        }
        let output_schema = match &response.output_schema {
            Some(schema) => {
                let pointer = format!("{at}/response/output_schema");
                self.schema(&pointer, schema, "output");
                self.output_schema_names(&pointer, schema, &response);
                schema.clone()
            }
            None if response.content => content_output_schema(),
            None => derived_output_schema(&fields),
        };

        if self.diags.list.len() != before || steps.is_empty() {
            return None;
        }
        let last = steps.last().map(|s| s.request.method)?;
        let all_idempotent = steps.iter().all(|s| s.request.method.is_idempotent());
        Some(Tool {
            name: name.to_owned(),
            description: spec.description.clone(),
            method: last,
            idempotent: spec.idempotent.unwrap_or(all_idempotent),
            timeout_ms: spec.timeout_ms,
            scopes: spec.scopes.clone(),
            parameters: spec.parameters.clone(),
            validator: validator?,
            output_schema,
            steps,
            pagination,
            output: response.output.is_some().then_some(output),
            content: response.content,
            uses: std::mem::take(&mut self.uses),
        })
    }

    /// Output names in `output_schema` must be outputs the tool gives.
    fn output_schema_names(&mut self, pointer: &str, schema: &Value, response: &ResponseSpec) {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        let given: Vec<String> = if response.content {
            ["content", "content_base64", "mime_type", "size"]
                .map(str::to_owned)
                .to_vec()
        } else if let Some(fields) = &response.output {
            fields.keys().cloned().collect()
        } else {
            return;
        };
        for name in properties.keys() {
            if !given.contains(name) {
                self.diags.at_key(
                    &format!("{pointer}/properties/{}", escape_pointer(name)),
                    format!(
                        "`{name}` is not an output of this tool (outputs: {}){}",
                        given.join(", "),
                        hint(name, &given)
                    ),
                );
            }
        }
    }

    fn output_field(&mut self, pointer: &str, spec: &OutputSpec) -> Option<OutputField> {
        match spec {
            OutputSpec::Path(source) => self.path(pointer, source).map(OutputField::Path),
            OutputSpec::Mapped(mapped) => {
                let path = self.path(&format!("{pointer}/path"), &mapped.path);
                match (&mapped.fields, &mapped.value) {
                    (Some(spec), None) => {
                        let mut fields = Vec::new();
                        for (name, field) in spec {
                            let p = format!("{pointer}/fields/{}", escape_pointer(name));
                            if let Some(f) = self.output_field(&p, field) {
                                fields.push((name.clone(), f));
                            }
                        }
                        (fields.len() == spec.len()).then_some(())?;
                        Some(OutputField::Items {
                            path: path?,
                            fields,
                        })
                    }
                    (None, Some(source)) => {
                        let p = format!("{pointer}/value");
                        if crate::template::whole_expression(source).is_none() {
                            self.diags.at(
                                &p,
                                "`value` is one expression over `value`: `{{ value | first }}`",
                            );
                            return None;
                        }
                        let names = ["value".to_owned()];
                        let scope = Scope {
                            place: "an output value (it sees `value`, what `path` selects)",
                            params: Some(&names),
                            credentials: None,
                            account: false,
                            steps: &[],
                        };
                        let added = self.templates.add(source);
                        let expr = self.checked(&p, added, scope)?;
                        Some(OutputField::Value { path: path?, expr })
                    }
                    _ => {
                        self.diags
                            .at(pointer, "give `fields` or `value` with `path`, not both");
                        None
                    }
                }
            }
        }
    }

    /// One request (`at` is its pointer: `/tools/x/request`).
    fn request(&mut self, at: &str, request: &RequestSpec, scope: Scope<'_>) -> Option<Request> {
        let before = self.diags.list.len();
        let uses_before = self.uses.params.len();
        let path = self.text(
            &format!("{at}/path"),
            &request.path,
            Escape::PathSegment,
            scope,
        );
        let path_params: Vec<String> = self.uses.params[uses_before..].to_vec();
        self.optional_path_params(&format!("{at}/path"), &request.path, &path_params);
        if let Some(Text::Literal(p)) = &path
            && !p.starts_with('/')
        {
            self.diags
                .at(&format!("{at}/path"), "the path must start with `/`");
        }
        let mut query = Vec::new();
        for (key, value) in &request.query {
            let pointer = format!("{at}/query/{}", escape_pointer(key));
            if let Some(v) = self.value(&pointer, value, scope) {
                query.push((key.clone(), v));
            }
        }
        let mut headers = Vec::new();
        for (key, value) in &request.headers {
            let pointer = format!("{at}/headers/{}", escape_pointer(key));
            let Some(header) = self.header_name(&pointer, key) else {
                continue;
            };
            if !crate::template::is_template(value) && HeaderValue::from_str(value).is_err() {
                self.diags.at(&pointer, header_value_problem(value));
                continue;
            }
            if let Some(v) = self.value(&pointer, &Value::String(value.clone()), scope) {
                headers.push((header, v));
            }
        }
        let body = request
            .body
            .as_ref()
            .and_then(|b| self.body(&format!("{at}/body"), b, scope));
        // `content_type` (any encoding but multipart) is the Content-Type header.
        if let Some(b) = &request.body
            && let Some(content_type) = &b.content_type
        {
            let pointer = format!("{at}/body/content_type");
            if b.encoding == BodyEncoding::Multipart {
                self.diags.at_key(
                    &pointer,
                    "a multipart body sets its own Content-Type (with the boundary); use `subtype`",
                );
            } else if headers.iter().any(|(h, _)| h == http::header::CONTENT_TYPE) {
                self.diags.at(
                    &pointer,
                    "give `content_type` or a Content-Type header, not both",
                );
            } else if !crate::template::is_template(content_type)
                && HeaderValue::from_str(content_type).is_err()
            {
                self.diags.at(&pointer, "not a valid Content-Type value");
            } else if let Some(v) =
                self.value(&pointer, &Value::String(content_type.clone()), scope)
            {
                headers.push((http::header::CONTENT_TYPE, v));
            }
        }
        if self.diags.list.len() != before {
            return None;
        }
        Some(Request {
            method: request.method,
            path: path?,
            query,
            headers,
            body,
        })
    }

    fn body(&mut self, pointer: &str, b: &BodySpec, scope: Scope<'_>) -> Option<Body> {
        let fields = [
            ("json", b.json.is_some()),
            ("template", b.template.is_some()),
            ("form", b.form.is_some()),
            ("raw", b.raw.is_some()),
            ("base64", b.base64.is_some()),
            ("parts", b.parts.is_some()),
            ("subtype", b.subtype.is_some()),
        ];
        let allowed: &[&str] = match b.encoding {
            BodyEncoding::Json => &["json", "template"],
            BodyEncoding::Form => &["form"],
            BodyEncoding::Raw => &["raw", "base64"],
            BodyEncoding::Multipart => &["parts", "subtype"],
        };
        for (field, present) in fields {
            if present && !allowed.contains(&field) {
                self.diags.at_key(
                    &format!("{pointer}/{field}"),
                    format!(
                        "`{field}` is not used with `encoding: {}`",
                        encoding_name(b.encoding)
                    ),
                );
            }
        }
        let opt_text = |c: &mut Self, name: &str, source: &Option<String>| match source {
            Some(text) => c
                .value(
                    &format!("{pointer}/{name}"),
                    &Value::String(text.clone()),
                    scope,
                )
                .map(Some),
            None => Some(None),
        };
        match b.encoding {
            BodyEncoding::Json => match (&b.json, &b.template) {
                (Some(json), None) => self
                    .value(&format!("{pointer}/json"), json, scope)
                    .map(Body::Json),
                (None, Some(source)) => {
                    let p = format!("{pointer}/template");
                    let added = self.templates.add_text(source, Escape::None);
                    self.checked(&p, added, scope).map(Body::JsonText)
                }
                _ => {
                    self.diags
                        .at(pointer, "a JSON body has `json` or `template`, not both");
                    None
                }
            },
            BodyEncoding::Form => {
                let mut fields = Vec::new();
                for (k, v) in b.form.as_ref()? {
                    let p = format!("{pointer}/form/{}", escape_pointer(k));
                    fields.push((k.clone(), self.value(&p, v, scope)?));
                }
                Some(Body::Form(fields))
            }
            BodyEncoding::Raw => {
                let template = opt_text(self, "raw", &b.raw)?;
                let base64 = opt_text(self, "base64", &b.base64)?;
                Some(Body::Raw {
                    template,
                    base64,
                    content_type: if b.base64.is_some() {
                        "application/octet-stream".into()
                    } else {
                        "text/plain; charset=utf-8".into()
                    },
                })
            }
            BodyEncoding::Multipart => {
                let subtype = b.subtype.unwrap_or_default();
                let mut parts = Vec::new();
                for (i, part) in b.parts.as_ref()?.iter().enumerate() {
                    let at = format!("{pointer}/parts/{i}");
                    if part.json.is_none() && part.text.is_none() && part.base64.is_none() {
                        self.diags
                            .at(&at, "a part needs `json`, `text` or `base64`");
                    }
                    if part.json.is_some() && (part.text.is_some() || part.base64.is_some()) {
                        self.diags.at_key(
                            &format!("{at}/json"),
                            "a `json` part has no `text` or `base64`",
                        );
                    }
                    let field = |c: &mut Self, name: &str, source: &Option<String>| match source {
                        Some(text) => c
                            .value(&format!("{at}/{name}"), &Value::String(text.clone()), scope)
                            .map(Some),
                        None => Some(None),
                    };
                    let json = match &part.json {
                        Some(v) => Some(self.value(&format!("{at}/json"), v, scope)?),
                        None => None,
                    };
                    parts.push(Part {
                        content_type: field(self, "content_type", &part.content_type)?,
                        json,
                        text: field(self, "text", &part.text)?,
                        base64: field(self, "base64", &part.base64)?,
                        name: field(self, "name", &part.name)?,
                        filename: field(self, "filename", &part.filename)?,
                    });
                }
                Some(Body::Multipart { subtype, parts })
            }
        }
    }

    /// A path variable the caller may leave out, with no default and no test
    /// of whether it is defined, fails every such call: refuse it now.
    fn optional_path_params(&mut self, pointer: &str, source: &str, used: &[String]) {
        let Some(schema) = &self.current_parameters else {
            return;
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        for name in used {
            let has_default = schema
                .pointer(&format!("/properties/{}/default", escape_pointer(name)))
                .is_some();
            let guarded = [
                format!("{name} is defined"),
                format!("{name} is undefined"),
                format!("{name} is not defined"),
                format!("{name} | default"),
                format!("{name}|default"),
            ]
            .iter()
            .any(|g| source.contains(g.as_str()));
            if !required.contains(&name.as_str()) && !has_default && !guarded {
                problems.push(format!(
                    "path variable `{name}` is optional and has no default, so a call without it cannot build the URL: add it to `required`, give it a `default`, or write `{{{{ {name} | default('…') }}}}`"
                ));
            }
        }
        for p in problems {
            self.diags.at(pointer, p);
        }
    }

    /// Compiles a JSON Schema (draft 2020-12), reporting where it is invalid.
    fn schema(
        &mut self,
        pointer: &str,
        schema: &Value,
        what: &str,
    ) -> Option<jsonschema::Validator> {
        let before = self.diags.list.len();
        self.schema_keywords(pointer, schema);
        if self.diags.list.len() != before {
            return None;
        }
        let e = match jsonschema::validator_for(schema) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let inner = e.instance_path().as_str();
        let message = match (inner.rsplit('/').next(), e.instance().as_str()) {
            (Some("type"), Some(found)) => format!(
                "invalid {what} schema: `{found}` is not a JSON Schema type{}",
                crate::spec::suggestion(found, JSON_TYPES.iter().copied())
            ),
            _ => format!("invalid {what} schema: {e}"),
        };
        self.diags.at(&format!("{pointer}{inner}"), message);
        None
    }

    /// Every keyword of a schema (and of the schemas inside it) is a JSON
    /// Schema keyword with a value: a typo or a key with no value (an
    /// unquoted comma in a YAML flow mapping splits a description) would
    /// otherwise be ignored by validators and LLMs alike.
    fn schema_keywords(&mut self, pointer: &str, schema: &Value) {
        let Some(map) = schema.as_object() else {
            return;
        };
        for (key, value) in map {
            let at = format!("{pointer}/{}", escape_pointer(key));
            if value.is_null() {
                self.diags.at_key(
                    &at,
                    format!(
                        "`{key}` has no value (in a `{{…}}` mapping, quote text that holds a comma)"
                    ),
                );
                continue;
            }
            if !SCHEMA_KEYWORDS.contains(&key.as_str()) {
                self.diags.at_key(
                    &at,
                    format!(
                        "`{key}` is not a JSON Schema keyword{}",
                        crate::spec::suggestion(key, SCHEMA_KEYWORDS.iter().copied())
                    ),
                );
                continue;
            }
            match key.as_str() {
                "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                    for (name, sub) in value.as_object().into_iter().flatten() {
                        self.schema_keywords(&format!("{at}/{}", escape_pointer(name)), sub);
                    }
                }
                "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                    for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                        self.schema_keywords(&format!("{at}/{i}"), sub);
                    }
                }
                "items"
                | "not"
                | "if"
                | "then"
                | "else"
                | "contains"
                | "additionalProperties"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems" => {
                    self.schema_keywords(&at, value);
                }
                _ => {}
            }
        }
    }

    /// Checks the parameter schema's shape and returns the parameter names.
    fn parameters(&mut self, at: &str, schema: &Value) -> Vec<String> {
        let pointer = format!("{at}/parameters");
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            self.diags.at(
                &pointer,
                "parameters must be a JSON Schema with `type: object`",
            );
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        for name in properties.keys() {
            if RESERVED_PARAMETERS.contains(&name.as_str()) {
                self.diags.at_key(
                    &format!("{pointer}/properties/{}", escape_pointer(name)),
                    format!("`{name}` is reserved for the template context; choose another parameter name"),
                );
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for (i, r) in required.iter().enumerate() {
                if let Some(r) = r.as_str()
                    && !properties.contains_key(r)
                {
                    self.diags.at(
                        &format!("{pointer}/required/{i}"),
                        format!(
                            "required parameter `{r}` is not among the properties{}",
                            hint(r, properties.keys())
                        ),
                    );
                }
            }
        }
        properties.keys().cloned().collect()
    }

    fn pagination(
        &mut self,
        at: &str,
        spec: &PaginationSpec,
        request: &RequestSpec,
        scope: Scope<'_>,
    ) -> Option<Pagination> {
        let before = self.diags.list.len();
        let items = self.path(&format!("{at}/items"), &spec.items);
        if items.as_ref().is_some_and(|p| !p.is_singular()) {
            self.diags.at(
                &format!("{at}/items"),
                "items must name one list, such as `$.messages` (no wildcards or filters)",
            );
        }
        let opt_path = |c: &mut Self, name: &str, source: &Option<String>| {
            source
                .as_ref()
                .and_then(|s| c.path(&format!("{at}/{name}"), s))
        };
        let cursor = opt_path(self, "cursor", &spec.cursor);
        let has_more = opt_path(self, "has_more", &spec.has_more);
        let next_url = opt_path(self, "next_url", &spec.next_url);
        let total = opt_path(self, "total", &spec.total);

        let target = match (&spec.param, &spec.body_field) {
            (Some(p), None) => Some(PageTarget::Query(p.clone())),
            (None, Some(f)) => {
                let json_body = request
                    .body
                    .as_ref()
                    .is_some_and(|b| b.encoding == BodyEncoding::Json);
                if !f.starts_with('/') {
                    self.diags.at(
                        &format!("{at}/body_field"),
                        "body_field is a JSON Pointer and starts with `/`",
                    );
                } else if !json_body {
                    self.diags.at(
                        &format!("{at}/body_field"),
                        "body_field needs a JSON request body",
                    );
                }
                Some(PageTarget::Body(f.clone()))
            }
            (Some(_), Some(_)) => {
                self.diags.at_key(
                    &format!("{at}/body_field"),
                    "give either `param` or `body_field`, not both",
                );
                None
            }
            (None, None) => None,
        };
        let needs = |what: &str| format!("{} pagination needs {what}", kind_name(spec.kind));
        match spec.kind {
            PaginationType::Cursor | PaginationType::Page | PaginationType::Offset
                if target.is_none() =>
            {
                self.diags.at(at, needs("`param` or `body_field`"));
            }
            PaginationType::NextUrl if next_url.is_none() && !spec.link_header => {
                self.diags
                    .at(at, needs("`next_url` or `link_header: true`"));
            }
            _ => {}
        }
        let max_items = match &spec.max_items {
            None => None,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(MaxItems::Fixed),
            Some(Value::String(source)) => {
                let pointer = format!("{at}/max_items");
                if crate::template::whole_expression(source).is_none() {
                    self.diags.at(
                        &pointer,
                        "max_items is a number or one expression such as `{{ max_results }}`",
                    );
                    None
                } else {
                    let added = self.templates.add(source);
                    self.checked(&pointer, added, scope).map(MaxItems::Template)
                }
            }
            Some(_) => None,
        };
        if self.diags.list.len() != before {
            return None;
        }
        Some(Pagination {
            kind: spec.kind,
            items: items?,
            max_pages: spec.max_pages.unwrap_or(DEFAULT_MAX_PAGES),
            max_items,
            cursor,
            has_more,
            next_url,
            link_header: spec.link_header,
            target,
            start: spec.start.unwrap_or(1),
            page_size: spec.page_size,
            total,
        })
    }
}

impl ConfigUses {
    /// Records `variable` if it names a connection or account config value.
    fn note(&mut self, variable: &str) {
        let mut parts = variable.splitn(4, '.');
        let (head, config, name) = (parts.next(), parts.next(), parts.next());
        let (Some(config_of), Some("config"), Some(name)) = (head, config, name) else {
            return;
        };
        let list = match config_of {
            "connection" => &mut self.connection,
            "account" => &mut self.account,
            _ => return,
        };
        if !list.iter().any(|n| n == name) {
            list.push(name.to_owned());
        }
    }
}

/// Whether a template has an `{% autoescape … %}` block.
fn uses_autoescape_tag(source: &str) -> bool {
    source.match_indices("{%").any(|(i, _)| {
        source[i + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start()
            .starts_with("autoescape")
    })
}

/// Whether a template applies the `safe` filter (`| safe`).
fn uses_safe_filter(source: &str) -> bool {
    source.match_indices('|').any(|(i, _)| {
        let rest = source[i + 1..].trim_start();
        rest.strip_prefix("safe")
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

/// The credential values of an auth type, unless the spec declares its own.
fn credential_fields(spec: &AuthSpec) -> IndexMap<String, CredentialField> {
    let field = |label: &str| CredentialField {
        label: Some(label.to_owned()),
        description: None,
        help_url: None,
        secret: true,
    };
    let mut fields = spec.credential_fields.clone();
    let defaults: &[(&str, &str)] = match spec.kind {
        AuthType::Oauth2 | AuthType::Oauth2ClientCredentials => &[("access_token", "Access token")],
        AuthType::Bearer if fields.is_empty() => &[("token", "Token")],
        AuthType::ApiKey if fields.is_empty() => &[("api_key", "API key")],
        AuthType::Basic if fields.is_empty() => {
            &[("username", "Username"), ("password", "Password")]
        }
        _ => &[],
    };
    for (name, label) in defaults {
        fields
            .entry((*name).to_owned())
            .or_insert_with(|| field(label));
    }
    if spec.kind == AuthType::Basic
        && let Some(username) = fields.get_mut("username")
    {
        username.secret = false;
    }
    fields
}

/// The `inject` used when a spec gives none.
fn default_inject(kind: AuthType) -> IndexMap<String, String> {
    let header = match kind {
        AuthType::Oauth2 | AuthType::Oauth2ClientCredentials => {
            "Bearer {{ credentials.access_token }}"
        }
        AuthType::Bearer => "Bearer {{ credentials.token }}",
        AuthType::Basic => {
            "Basic {{ (credentials.username ~ ':' ~ credentials.password) | base64 }}"
        }
        AuthType::ApiKey | AuthType::None => return IndexMap::new(),
    };
    IndexMap::from([("Authorization".to_owned(), header.to_owned())])
}

/// What a header value with a control character needs.
fn header_value_problem(value: &str) -> String {
    if value.contains(['\n', '\r']) {
        "a header value cannot hold a line break (for a YAML block scalar, use `|-` or `>-` to drop the final one)".into()
    } else {
        "not a valid HTTP header value".into()
    }
}

/// The fixed output of a content (download) response.
fn content_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "content": {"type": "string", "description": "The content as text (text, JSON and XML types)."},
            "content_base64": {"type": "string", "description": "The content as base64 (binary types)."},
            "mime_type": {"type": ["string", "null"], "description": "The content's media type."},
            "size": {"type": "integer", "description": "The content's length in bytes."}
        }
    })
}

/// `{type: object, properties: {field: {}}}` from the output fields.
fn derived_output_schema<V>(output: &IndexMap<String, V>) -> Value {
    if output.is_empty() {
        return json!({"type": "object"});
    }
    let properties: serde_json::Map<String, Value> =
        output.keys().map(|k| (k.clone(), json!({}))).collect();
    json!({"type": "object", "properties": properties})
}

fn hint<I>(found: &str, candidates: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let owned: Vec<String> = candidates
        .into_iter()
        .map(|c| c.as_ref().to_owned())
        .collect();
    crate::spec::suggestion(found, owned.iter().map(String::as_str))
}

/// A validator that accepts strings matching `pattern` in full.
fn full_match(pattern: &str) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(&json!({"type": "string", "pattern": format!("^(?:{pattern})$")}))
        .map_err(|e| e.to_string())
}

fn encoding_name(e: BodyEncoding) -> &'static str {
    match e {
        BodyEncoding::Json => "json",
        BodyEncoding::Form => "form",
        BodyEncoding::Raw => "raw",
        BodyEncoding::Multipart => "multipart",
    }
}

fn kind_name(k: PaginationType) -> &'static str {
    match k {
        PaginationType::Cursor => "cursor",
        PaginationType::NextUrl => "next_url",
        PaginationType::Page => "page",
        PaginationType::Offset => "offset",
    }
}
