//! Rendering a tool call into the provider's exact HTTP request.
//!
//! Order: parameters are validated against the tool's schema (every failing
//! field reported), then method, URL (scheme and host from `base_url` only),
//! query, headers, body, and last the credentials from `auth.inject`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use jsonschema::error::ValidationErrorKind;
use minijinja::value::{Serde, Value as JinjaValue};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, ErrorCode, FieldError};
use crate::registry::{
    Auth, BaseUrl, Body, MaxItems, Part, Provider, Step, Text, Tool, ValueTemplate,
};
use crate::template::{RenderFailure, TemplateId, TemplateSet};
use crate::url_policy;

/// What a call knows besides its parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallContext<'a> {
    /// The connection's non-secret settings (`connection.config`).
    pub connection_config: Option<&'a Map<String, Value>>,
    /// Values discovered for the account (`account.config`).
    pub account_config: Option<&'a Map<String, Value>>,
    /// The account's credentials; `None` renders without `auth.inject`.
    pub credentials: Option<&'a Map<String, Value>>,
    /// The auth method the connection uses; `None`: the provider's default.
    pub auth: Option<&'a Auth>,
    /// The origin the credentials were issued for; they are injected into no
    /// request to another one.
    pub credentials_origin: Option<&'a str>,
}

impl CallContext<'_> {
    /// The auth method in force.
    pub fn auth<'p>(&self, provider: &'p Provider) -> &'p Auth
    where
        Self: 'p,
    {
        self.auth.unwrap_or_else(|| provider.auth())
    }
}

/// An HTTP request ready to send. Its `Debug` and `Display` never show
/// credentials.
#[derive(Clone, PartialEq)]
pub struct RenderedRequest {
    pub method: Method,
    pub url: Url,
    /// Headers; injected credentials are marked sensitive.
    pub headers: HeaderMap,
    pub body: Option<RequestBody>,
    /// Query parameters that carry credentials (redacted when shown).
    pub secret_query: Vec<String>,
}

/// A request body, kept structured so pagination can update a JSON field.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(String),
    /// Bytes as they are: binary uploads and multipart bodies.
    Binary(Vec<u8>),
}

impl RequestBody {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            RequestBody::Json(v) => serde_json::to_vec(v).unwrap_or_default(),
            RequestBody::Form(pairs) => url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes(),
            RequestBody::Raw(s) => s.clone().into_bytes(),
            RequestBody::Binary(b) => b.clone(),
        }
    }
}

/// Renders `tool` of `provider` with `params`: its first request (the only
/// one, unless the tool has steps).
pub fn render(
    provider: &Provider,
    tool: &Tool,
    params: &Value,
    ctx: &CallContext<'_>,
) -> Result<RenderedRequest, Error> {
    validate_parameters(tool, params)?;
    render_step(provider, tool, &tool.steps[0], params, ctx, &Map::new())
}

/// Whether `step` runs, given the answers of the steps before it.
pub fn step_runs(
    provider: &Provider,
    tool: &Tool,
    step: &Step,
    params: &Value,
    ctx: &CallContext<'_>,
    steps: &Map<String, Value>,
) -> Result<bool, Error> {
    let Some(id) = step.when else {
        return Ok(true);
    };
    let value = eval_expression(provider, tool, id, params, ctx, steps)?;
    Ok(value.is_some_and(|v| v.is_true()))
}

/// Evaluates one expression of `tool` over the call's context.
fn eval_expression(
    provider: &Provider,
    tool: &Tool,
    id: TemplateId,
    params: &Value,
    ctx: &CallContext<'_>,
    steps: &Map<String, Value>,
) -> Result<Option<JinjaValue>, Error> {
    let jinja = context(params, ctx, None, steps);
    provider
        .templates
        .eval(id, &jinja)
        .map_err(|f| render_error(provider, tool, ctx, params, f))
}

/// The cap on items across pages, where the tool's pagination sets one.
pub fn max_items(
    provider: &Provider,
    tool: &Tool,
    max: Option<MaxItems>,
    params: &Value,
    ctx: &CallContext<'_>,
) -> Result<Option<u32>, Error> {
    let id = match max {
        None => return Ok(None),
        Some(MaxItems::Fixed(n)) => return Ok(Some(n)),
        Some(MaxItems::Template(id)) => id,
    };
    let value = eval_expression(provider, tool, id, params, ctx, &Map::new())?;
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let n = i64::try_from(value.clone())
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Error::invalid_parameters(vec![field(
                "",
                format!("the most items to return must be a positive whole number, not {value}"),
            )])
        })?;
    Ok(Some(n))
}

/// Renders one request of `tool`; `steps` holds the answers of the steps
/// before it, by name.
pub fn render_step(
    provider: &Provider,
    tool: &Tool,
    step: &Step,
    params: &Value,
    ctx: &CallContext<'_>,
    steps: &Map<String, Value>,
) -> Result<RenderedRequest, Error> {
    let templates = &provider.templates;
    let base_ctx = context(params, ctx, None, steps);
    let fail = |f: RenderFailure| render_error(provider, tool, ctx, params, f);
    let auth = ctx.auth(provider);
    let request_spec = &step.request;

    let base = base_url(provider, auth, &base_ctx).map_err(|e| match e {
        BaseFailure::Render(f) => fail(f),
        BaseFailure::Policy(e) => e,
    })?;
    let path = render_text(templates, &request_spec.path, &base_ctx).map_err(fail)?;
    let mut url = join(&base, &path).map_err(|m| Error::invalid_parameters(vec![field("", m)]))?;

    {
        let mut pairs = url.query_pairs_mut();
        for (name, template) in &request_spec.query {
            let value = eval_tree(templates, template, &base_ctx).map_err(fail)?;
            for item in query_values(name, value)? {
                pairs.append_pair(name, &item);
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }

    let mut headers = HeaderMap::new();
    for (name, text) in &provider.headers {
        let text = render_text(templates, text, &base_ctx).map_err(fail)?;
        headers.insert(name.clone(), header_value(name, &text)?);
    }
    for (name, template) in &request_spec.headers {
        let Some(value) = eval_tree(templates, template, &base_ctx).map_err(fail)? else {
            continue;
        };
        let text = json_text(&value);
        headers.insert(name.clone(), header_value(name, &text)?);
    }

    let body = match &request_spec.body {
        None => None,
        Some(body) => Some(render_body(templates, body, &base_ctx, &mut headers).map_err(fail)?),
    };
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    }

    let mut request = RenderedRequest {
        method: request_spec.method.as_http(),
        url,
        headers,
        body,
        secret_query: Vec::new(),
    };
    if let Some(credentials) = ctx.credentials {
        inject(provider, auth, &mut request, params, ctx, credentials)?;
    }
    Ok(request)
}

/// The request the raw proxy sends for `method` on `path_and_query` (raw,
/// as the caller wrote it after the proxy prefix): the path joined under
/// the base URL by the same rules as tools (host from `base_url` only, no
/// dot segments), the caller's query kept, the provider's headers where the
/// caller gave none, and the credentials of `auth.inject` last. The body is
/// the caller's, streamed by the proxy.
pub fn render_proxy(
    provider: &Provider,
    method: Method,
    path_and_query: &str,
    mut headers: HeaderMap,
    ctx: &CallContext<'_>,
) -> Result<RenderedRequest, Error> {
    let templates = &provider.templates;
    let empty = Value::Object(Map::new());
    let jinja = context(&empty, ctx, None, &Map::new());
    let unusable = |f: RenderFailure| {
        let message = match f {
            RenderFailure::Undefined(_) => {
                "the account or connection lacks a value this provider's base URL needs"
            }
            RenderFailure::Invalid(_) => "the provider's base URL cannot be built",
        };
        Error::new(ErrorCode::ReauthorizationRequired, message).with_provider(&provider.key)
    };
    let auth = ctx.auth(provider);
    let base = base_url(provider, auth, &jinja).map_err(|e| match e {
        BaseFailure::Render(f) => unusable(f),
        BaseFailure::Policy(e) => e,
    })?;
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    // Each segment, decoded, is a plain name: no dot segments and no encoded
    // separators, so the path stays under the base path at the provider too.
    let escapes = path.contains("//")
        || path.split('/').any(|segment| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            decoded.contains(['/', '\\'])
                || (!decoded.is_empty() && decoded.chars().all(|c| c == '.'))
        });
    if escapes {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "the proxied path must stay under the provider's base path: no `.` or `..` segments, `//`, or encoded `/` and `\\`",
        ));
    }
    let mut url = join(&base, path).map_err(|m| Error::new(ErrorCode::InvalidRequest, m))?;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let joined = match url.query() {
            Some(b) => format!("{b}&{q}"),
            None => q.to_owned(),
        };
        url.set_query(Some(&joined));
    }
    for (name, text) in &provider.headers {
        if headers.contains_key(name) {
            continue;
        }
        let text = render_text(templates, text, &jinja).map_err(unusable)?;
        headers.insert(name.clone(), header_value(name, &text)?);
    }
    let mut request = RenderedRequest {
        method,
        url,
        headers,
        body: None,
        secret_query: Vec::new(),
    };
    if let Some(credentials) = ctx.credentials {
        inject(provider, auth, &mut request, &empty, ctx, credentials)?;
    }
    Ok(request)
}

/// The origin (`https://gitlab.com`) of the API an account of `auth`
/// reaches with these config values, if its base URL can be built yet.
pub fn api_origin(
    provider: &Provider,
    auth: &Auth,
    connection_config: &Map<String, Value>,
    account_config: &Map<String, Value>,
) -> Option<String> {
    let ctx = CallContext {
        connection_config: Some(connection_config),
        account_config: Some(account_config),
        ..CallContext::default()
    };
    let jinja = context(&Value::Object(Map::new()), &ctx, None, &Map::new());
    let url = base_url(provider, auth, &jinja).ok()?;
    Some(url.origin().ascii_serialization())
}

/// Renders an auth endpoint (`token_url`, …) with the connection's config.
pub fn render_auth_url(
    provider: &Provider,
    url: &Text,
    connection_config: &Map<String, Value>,
) -> Result<String, Error> {
    let ctx = CallContext {
        connection_config: Some(connection_config),
        ..CallContext::default()
    };
    let jinja = context(&Value::Object(Map::new()), &ctx, None, &Map::new());
    let text = render_text(&provider.templates, url, &jinja).map_err(|_| {
        Error::new(
            ErrorCode::InvalidRequest,
            "the connection lacks a config value this provider's auth endpoints need",
        )
        .with_provider(&provider.key)
    })?;
    url_policy::check_base(&text).map_err(|m| {
        Error::new(
            ErrorCode::Internal,
            format!("{}: auth endpoint {m}", provider.key),
        )
    })?;
    Ok(text)
}

/// Checks `params` against the tool's schema, reporting every failing field.
pub fn validate_parameters(tool: &Tool, params: &Value) -> Result<(), Error> {
    if !params.is_object() {
        return Err(Error::invalid_parameters(vec![field(
            "",
            "parameters must be a JSON object",
        )]));
    }
    let mut fields = Vec::new();
    for e in tool.validator.iter_errors(params) {
        let at = e.instance_path().as_str().to_owned();
        match e.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                fields.push(field(&format!("{at}/{name}"), "is required"));
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    fields.push(field(
                        &format!("{at}/{name}"),
                        "is not a parameter of this tool",
                    ));
                }
            }
            _ => fields.push(field(&at, e.to_string())),
        }
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_parameters(fields))
    }
}

fn field(at: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: at.to_owned(),
        message: message.into(),
    }
}

/// The template context: parameters by name, `connection`, `account`, and
/// (for `auth.inject` only) `credentials`.
fn context(
    params: &Value,
    ctx: &CallContext<'_>,
    credentials: Option<&Map<String, Value>>,
    steps: &Map<String, Value>,
) -> JinjaValue {
    let mut entries: BTreeMap<String, JinjaValue> = BTreeMap::new();
    if let Some(map) = params.as_object() {
        for (k, v) in map {
            entries.insert(k.clone(), JinjaValue::from(Serde(v)));
        }
    }
    entries.insert("connection".into(), config(ctx.connection_config));
    entries.insert("account".into(), config(ctx.account_config));
    if let Some(c) = credentials {
        entries.insert("credentials".into(), JinjaValue::from(Serde(c)));
    }
    if !steps.is_empty() {
        entries.insert("steps".into(), JinjaValue::from(Serde(steps)));
    }
    JinjaValue::from(entries)
}

/// `{config: {...}}`, empty when the caller has none.
fn config(m: Option<&Map<String, Value>>) -> JinjaValue {
    fn wrap(config: &Map<String, Value>) -> JinjaValue {
        let config = JinjaValue::from(Serde(config));
        JinjaValue::from(BTreeMap::from([("config".to_owned(), config)]))
    }
    // Most accounts and connections have none: made once, shared.
    static EMPTY: std::sync::LazyLock<JinjaValue> = std::sync::LazyLock::new(|| wrap(&Map::new()));
    match m {
        Some(config) if !config.is_empty() => wrap(config),
        _ => EMPTY.clone(),
    }
}

/// Why a base URL could not be had.
enum BaseFailure {
    Render(RenderFailure),
    /// Rendered, but not a URL the gateway may call (the error to answer).
    Policy(Error),
}

/// The base URL of `auth`'s requests (its own, else the provider's): parsed
/// when the spec loaded, or rendered with `jinja` and checked now.
fn base_url<'p>(
    provider: &'p Provider,
    auth: &'p Auth,
    jinja: &JinjaValue,
) -> Result<Cow<'p, Url>, BaseFailure> {
    match auth.base_url.as_ref().unwrap_or(&provider.base_url) {
        BaseUrl::Literal(url) => Ok(Cow::Borrowed(url)),
        BaseUrl::Template(id) => {
            let text = provider
                .templates
                .render(*id, jinja)
                .map_err(BaseFailure::Render)?;
            url_policy::check_base(&text).map(Cow::Owned).map_err(|m| {
                BaseFailure::Policy(
                    Error::new(
                        ErrorCode::Internal,
                        format!("{}: base_url {m}", provider.key),
                    )
                    .with_provider(&provider.key),
                )
            })
        }
    }
}

fn render_text(
    templates: &TemplateSet,
    text: &Text,
    ctx: &JinjaValue,
) -> Result<String, RenderFailure> {
    match text {
        Text::Literal(s) => Ok(s.clone()),
        Text::Template(id) => templates.render(*id, ctx),
    }
}

/// Evaluates a value tree; `None` means "leave this field out".
fn eval_tree(
    templates: &TemplateSet,
    tree: &ValueTemplate,
    ctx: &JinjaValue,
) -> Result<Option<Value>, RenderFailure> {
    Ok(match tree {
        ValueTemplate::Literal(v) => Some(v.clone()),
        ValueTemplate::Template(id) => templates
            .eval(*id, ctx)?
            .map(|v| serde_json::to_value(&v).unwrap_or(Value::Null)),
        ValueTemplate::Object(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries {
                if let Some(v) = eval_tree(templates, v, ctx)? {
                    map.insert(k.clone(), v);
                }
            }
            Some(Value::Object(map))
        }
        ValueTemplate::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                if let Some(v) = eval_tree(templates, v, ctx)? {
                    out.push(v);
                }
            }
            Some(Value::Array(out))
        }
    })
}

fn render_body(
    templates: &TemplateSet,
    body: &Body,
    ctx: &JinjaValue,
    headers: &mut HeaderMap,
) -> Result<RequestBody, RenderFailure> {
    let (body, content_type) = match body {
        Body::Json(tree) => (
            RequestBody::Json(eval_tree(templates, tree, ctx)?.unwrap_or(Value::Null)),
            "application/json",
        ),
        Body::JsonText(id) => {
            let text = templates.render(*id, ctx)?;
            let value = serde_json::from_str(&text).map_err(|e| {
                RenderFailure::Invalid(format!(
                    "the body template did not produce JSON ({e}); check the spec's template"
                ))
            })?;
            (RequestBody::Json(value), "application/json")
        }
        Body::Form(fields) => {
            let mut pairs = Vec::new();
            for (name, tree) in fields {
                match eval_tree(templates, tree, ctx)? {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(items)) => {
                        pairs.extend(items.iter().map(|i| (name.clone(), json_text(i))));
                    }
                    Some(v) => pairs.push((name.clone(), json_text(&v))),
                }
            }
            (
                RequestBody::Form(pairs),
                "application/x-www-form-urlencoded",
            )
        }
        Body::Raw {
            template,
            base64,
            content_type,
        } => {
            if let Some(bytes) = eval_bytes(templates, base64.as_ref(), ctx)? {
                (RequestBody::Binary(bytes), "application/octet-stream")
            } else {
                let text = match template {
                    Some(t) => eval_tree(templates, t, ctx)?
                        .map(|v| json_text(&v))
                        .unwrap_or_default(),
                    None => String::new(),
                };
                (RequestBody::Raw(text), content_type.as_str())
            }
        }
        Body::Multipart { subtype, parts } => {
            let boundary = format!("switchboard-{}", crate::vault::random_token());
            let bytes = render_multipart(templates, parts, ctx, &boundary)?;
            let content_type = format!("multipart/{}; boundary={boundary}", subtype.as_str());
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                headers.insert(CONTENT_TYPE, v);
            }
            return Ok(RequestBody::Binary(bytes));
        }
    };
    if !headers.contains_key(CONTENT_TYPE)
        && let Ok(v) = HeaderValue::from_str(content_type)
    {
        headers.insert(CONTENT_TYPE, v);
    }
    Ok(body)
}

/// Bytes from a template of base64 text; `None` when it is undefined.
fn eval_bytes(
    templates: &TemplateSet,
    tree: Option<&ValueTemplate>,
    ctx: &JinjaValue,
) -> Result<Option<Vec<u8>>, RenderFailure> {
    let Some(tree) = tree else {
        return Ok(None);
    };
    let Some(value) = eval_tree(templates, tree, ctx)?.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let text = json_text(&value);
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    base64::Engine::decode(&engine, compact.as_bytes())
        .map(Some)
        .map_err(|e| RenderFailure::Invalid(format!("the content is not valid base64: {e}")))
}

/// A multipart body (RFC 2046): each part's headers, then its content.
/// Parts whose content is undefined are left out.
fn render_multipart(
    templates: &TemplateSet,
    parts: &[Part],
    ctx: &JinjaValue,
    boundary: &str,
) -> Result<Vec<u8>, RenderFailure> {
    let text = |tree: &Option<ValueTemplate>| -> Result<Option<String>, RenderFailure> {
        match tree {
            Some(t) => Ok(eval_tree(templates, t, ctx)?
                .filter(|v| !v.is_null())
                .map(|v| json_text(&v))),
            None => Ok(None),
        }
    };
    let mut out = Vec::new();
    for part in parts {
        let (content, default_type) = if let Some(json) = &part.json {
            let value = eval_tree(templates, json, ctx)?.unwrap_or(Value::Null);
            (
                serde_json::to_vec(&value).unwrap_or_default(),
                "application/json; charset=UTF-8",
            )
        } else if let Some(bytes) = eval_bytes(templates, part.base64.as_ref(), ctx)? {
            (bytes, "application/octet-stream")
        } else if let Some(t) = text(&part.text)? {
            (t.into_bytes(), "text/plain; charset=UTF-8")
        } else {
            continue;
        };
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if let Some(name) = text(&part.name)? {
            let mut disposition = format!("form-data; name=\"{}\"", quoted(&name)?);
            if let Some(file) = text(&part.filename)? {
                disposition.push_str(&format!("; filename=\"{}\"", quoted(&file)?));
            }
            out.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        }
        let content_type = text(&part.content_type)?.unwrap_or_else(|| default_type.to_owned());
        quoted(&content_type)?;
        out.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        out.extend_from_slice(&content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

/// A value for a part header: no line breaks or quotes.
fn quoted(value: &str) -> Result<&str, RenderFailure> {
    if value.contains(['\r', '\n', '"']) {
        return Err(RenderFailure::Invalid(format!(
            "`{value}` cannot be used in a multipart header"
        )));
    }
    Ok(value)
}

/// Adds the credentials of `auth.inject`, marked sensitive.
fn inject(
    provider: &Provider,
    auth: &Auth,
    request: &mut RenderedRequest,
    params: &Value,
    ctx: &CallContext<'_>,
    credentials: &Map<String, Value>,
) -> Result<(), Error> {
    if let Some(origin) = ctx.credentials_origin
        && !is_origin(&request.url, origin)
    {
        let to = request.url.origin().ascii_serialization();
        return Err(Error::new(
            ErrorCode::ReauthorizationRequired,
            format!(
                "the account's credentials were issued for {origin}, and this request goes to {to}; connect the account again for the new address"
            ),
        )
        .with_provider(&provider.key));
    }
    let auth_ctx = context(params, ctx, Some(credentials), &Map::new());
    let templates = &provider.templates;
    let fail = |f: RenderFailure| {
        // A missing credential is the account's state, never the caller's input.
        let message = match f {
            RenderFailure::Undefined(_) => {
                "the account is missing a credential this provider needs"
            }
            RenderFailure::Invalid(_) => "the account's credentials cannot be applied",
        };
        Error::new(ErrorCode::ReauthorizationRequired, message).with_provider(&provider.key)
    };
    for (name, id) in &auth.inject_headers {
        let text = templates.render(*id, &auth_ctx).map_err(fail)?;
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            Error::new(
                ErrorCode::ReauthorizationRequired,
                "the account's credentials contain characters not allowed in a header",
            )
            .with_provider(&provider.key)
        })?;
        value.set_sensitive(true);
        request.headers.insert(name.clone(), value);
    }
    if !auth.inject_query.is_empty() {
        let mut pairs = request.url.query_pairs_mut();
        for (name, id) in &auth.inject_query {
            let text = templates.render(*id, &auth_ctx).map_err(fail)?;
            pairs.append_pair(name, &text);
            request.secret_query.push(name.clone());
        }
    }
    Ok(())
}

/// Whether `url` is on `origin` (`scheme://host[:port]`, as
/// `Origin::ascii_serialization` writes it), compared without building the
/// URL's origin text.
fn is_origin(url: &Url, origin: &str) -> bool {
    let rest = origin
        .strip_prefix(url.scheme())
        .and_then(|r| r.strip_prefix("://"))
        .and_then(|r| r.strip_prefix(url.host_str().unwrap_or_default()));
    match (rest, url.port()) {
        (Some(""), None) => true,
        (Some(port), Some(p)) => port
            .strip_prefix(':')
            .is_some_and(|t| t.parse::<u16>() == Ok(p) && !t.starts_with('0')),
        _ => false,
    }
}

/// Joins a rendered path onto the base URL, keeping the base's scheme, host,
/// port and path prefix whatever the path holds.
fn join(base: &Url, path: &str) -> Result<Url, String> {
    if !path.starts_with('/') {
        return Err(format!("the request path `{path}` must start with `/`"));
    }
    let (path_part, query_part) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if path_part
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("the request path must not contain `.` or `..` segments".into());
    }
    let prefix = base.path().trim_end_matches('/');
    let mut url = base.clone();
    url.set_path(&format!("{prefix}{path_part}"));
    if let Some(q) = query_part {
        let existing = base.query().map(|b| format!("{b}&")).unwrap_or_default();
        url.set_query(Some(&format!("{existing}{q}")));
    }
    // The URL parser must not have reinterpreted anything (dot segments,
    // backslashes): the path sent is exactly the path rendered.
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.path() == format!("{prefix}{path_part}");
    if !same_origin {
        return Err("the request path would leave the provider's base URL".into());
    }
    Ok(url)
}

/// The query strings a value gives: one, several (a list), or none.
fn query_values(name: &str, value: Option<Value>) -> Result<Vec<String>, Error> {
    Ok(match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(json_text).collect(),
        Some(Value::Object(_)) => {
            return Err(Error::invalid_parameters(vec![field(
                "",
                format!("query parameter `{name}` cannot hold an object"),
            )]));
        }
        Some(v) => vec![json_text(&v)],
    })
}

fn header_value(name: &HeaderName, text: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(text).map_err(|_| {
        Error::invalid_parameters(vec![field(
            "",
            format!("header `{name}` would contain a line break or another control character"),
        )])
    })
}

/// A JSON value as request text: strings unquoted, the rest as JSON.
fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Explains a failed render: a config value the connection or account lacks
/// is not the caller's fault; anything else is a parameter problem.
fn render_error(
    provider: &Provider,
    tool: &Tool,
    ctx: &CallContext<'_>,
    params: &Value,
    failure: RenderFailure,
) -> Error {
    let ctx_params = params.as_object();
    let missing = |names: &[String], have: Option<&Map<String, Value>>| {
        names
            .iter()
            .find(|n| have.is_none_or(|m| m.get(n.as_str()).is_none_or(Value::is_null)))
            .cloned()
    };
    let error = match failure {
        RenderFailure::Undefined(detail) => {
            if let Some(name) = missing(&tool.uses.account, ctx.account_config) {
                Error::new(
                    ErrorCode::ReauthorizationRequired,
                    format!(
                        "the account has no `{name}` yet; authorize it again so it can be discovered"
                    ),
                )
            } else if let Some(name) = missing(&tool.uses.connection, ctx.connection_config) {
                Error::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "the connection has no config value `{name}`, which this provider needs"
                    ),
                )
            } else if let Some(name) =
                tool.uses.params.iter().find(|n| {
                    ctx_params.is_none_or(|p| p.get(n.as_str()).is_none_or(Value::is_null))
                })
            {
                Error::invalid_parameters(vec![field(
                    &format!("/{name}"),
                    "is needed by this request: give it",
                )])
            } else {
                Error::invalid_parameters(vec![field(
                    "",
                    format!("a parameter this request needs is missing: {detail}"),
                )])
            }
        }
        RenderFailure::Invalid(detail) => Error::invalid_parameters(vec![field("", detail)]),
    };
    error.with_provider(&provider.key)
}

/// Shown in place of a secret.
pub const REDACTED: &str = "[redacted]";

impl RenderedRequest {
    /// The URL with credential query values redacted.
    pub fn redacted_url(&self) -> String {
        if self.secret_query.is_empty() {
            return self.url.to_string();
        }
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = self
            .url
            .query_pairs()
            .map(|(k, v)| {
                let v = if self.secret_query.iter().any(|s| *s == k) {
                    REDACTED.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url.to_string()
    }
}

impl fmt::Display for RenderedRequest {
    /// HTTP-like text: request line, headers (secrets redacted), blank line, body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.redacted_url())?;
        for (name, value) in &self.headers {
            let shown = if value.is_sensitive() {
                REDACTED
            } else {
                value.to_str().unwrap_or("<binary>")
            };
            writeln!(f, "{name}: {shown}")?;
        }
        if let Some(body) = &self.body {
            writeln!(f)?;
            match body {
                RequestBody::Json(v) => {
                    writeln!(f, "{}", serde_json::to_string_pretty(v).unwrap_or_default())?
                }
                other => writeln!(f, "{}", String::from_utf8_lossy(&other.to_bytes()))?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RenderedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedRequest")
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Sets `pointer` in a JSON body (pagination), creating objects on the way.
pub(crate) fn set_json_pointer(body: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    set_at(body, &tokens, value);
}

/// Sets `value` at `tokens` under `current`: an existing list element is
/// walked into; anything else on the way becomes an object.
fn set_at(current: &mut Value, tokens: &[String], value: Value) {
    let Some((token, rest)) = tokens.split_first() else {
        *current = value;
        return;
    };
    if let Value::Array(items) = current
        && let Some(index) = token.parse::<usize>().ok().filter(|n| *n < items.len())
    {
        return set_at(&mut items[index], rest, value);
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    if let Value::Object(map) = current {
        set_at(map.entry(token.clone()).or_insert(Value::Null), rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_as_their_text_does() {
        let urls = [
            "https://api.example.com/v1/x?y=1",
            "https://api.example.com:8443/v1",
            "http://127.0.0.1:19090/v1/notes/1",
            "http://[::1]:8080/a",
            "https://xn--bcher-kva.example/",
        ];
        let origins = [
            "https://api.example.com",
            "https://api.example.com:8443",
            "https://api.example.com:443",
            "http://api.example.com",
            "https://api.example.co",
            "http://127.0.0.1:19090",
            "http://127.0.0.1:019090",
            "http://127.0.0.1:1909",
            "http://[::1]:8080",
            "https://xn--bcher-kva.example",
        ];
        for url in urls {
            let parsed = Url::parse(url).unwrap();
            let text = parsed.origin().ascii_serialization();
            for origin in origins {
                assert_eq!(
                    is_origin(&parsed, origin),
                    text == origin,
                    "{url} on {origin}"
                );
            }
        }
    }
}
