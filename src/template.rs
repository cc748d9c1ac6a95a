//! Templates: minijinja with strict undefined, compiled once per provider.
//!
//! A provider's templates live in one [`TemplateSet`]: a minijinja
//! environment that owns every compiled template and expression of that
//! provider, addressed by a [`TemplateId`]. Rendering is an index lookup and a
//! run of compiled instructions; nothing is parsed at request time.
//!
//! Two kinds of entries exist, chosen by the string's shape:
//! - a string that is exactly one `{{ expression }}` is an *expression*: it
//!   yields a native value (a number stays a number, a list stays a list, an
//!   absent optional parameter yields "undefined" and the field is left out);
//! - any other string with `{{`, `{%` or `{#` is a *text* template and renders
//!   to a string.
//!
//! Path templates percent-encode every interpolated value (see
//! [`Escape::PathSegment`]), so a parameter can never add a path segment or
//! change the host.
//!
//! Architecture invariant: no template can read the process environment or
//! the file system; only what the caller puts into the context is visible.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use base64::Engine as _;
use minijinja::value::{Kwargs, Value as JinjaValue, ValueKind};
use minijinja::{AutoEscape, Environment, Error as JinjaError, ErrorKind, UndefinedBehavior};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a path segment: RFC 3986 unreserved.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters left as they are in a templated URL: unreserved, and `:` for a
/// host's port.
const URL_COMPONENT: &AsciiSet = &PATH_SEGMENT.remove(b':');

/// Names that templates may call as functions (ours and minijinja's
/// built-in globals); not variables.
const FUNCTIONS: &[&str] = &["rfc2822_message", "fail", "range", "dict", "namespace"];

/// Index of a compiled entry in its [`TemplateSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateId(u32);

/// How interpolated values are written into a text template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are (headers, query values, bodies: their encoders escape later).
    None,
    /// Percent-encoded as one path segment: `/`, `?`, `#`, `%` cannot escape
    /// the segment they are written into, and a value of only dots (`..`) is
    /// refused.
    PathSegment,
    /// For templated base URLs and auth endpoints: everything that could end
    /// a host or path component (`/`, `?`, `#`, `@`, …) is percent-encoded, so
    /// a configured value cannot move the request to another host or path.
    UrlComponent,
}

/// Whether a string is a template at all (literal strings are used as they are).
pub fn is_template(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// The inner expression of a string that is exactly one `{{ … }}`.
///
/// An inner `}}` (a nested mapping, `{'a': {'b': x}}`) still makes one
/// expression when the whole inner text parses as one; `{{ a }} {{ b }}`
/// does not, and stays a text template.
pub fn whole_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if inner.contains("{%") || inner.contains("{#") {
        return None;
    }
    if (inner.contains("{{") || inner.contains("}}"))
        && Environment::new().compile_expression(inner).is_err()
    {
        return None;
    }
    Some(inner.trim())
}

enum Entry<'env> {
    Text(minijinja::Template<'env, 'env>),
    Expr(minijinja::Expression<'env, 'env>),
}

type Entries<'env> = Vec<Entry<'env>>;

self_cell::self_cell!(
    struct Compiled {
        owner: Environment<'static>,
        #[covariant]
        dependent: Entries,
    }
);

/// The compiled templates of one provider. Immutable once built.
pub struct TemplateSet {
    compiled: Compiled,
}

impl std::fmt::Debug for TemplateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateSet")
            .field("entries", &self.compiled.borrow_dependent().len())
            .finish()
    }
}

/// What a template refers to, for the validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub id: TemplateId,
    /// Dotted variable references such as `channel` or `connection.config.host`.
    pub variables: BTreeSet<String>,
}

/// Collects template sources, checking each as it is added, then builds a
/// [`TemplateSet`].
pub struct TemplateSetBuilder {
    env: Environment<'static>,
    pending: Vec<Pending>,
}

enum Pending {
    Text(String),
    Expr(String),
}

impl Default for TemplateSetBuilder {
    fn default() -> Self {
        TemplateSetBuilder {
            env: environment(),
            pending: Vec::new(),
        }
    }
}

impl TemplateSetBuilder {
    /// Adds a value template: an expression if `source` is exactly one
    /// `{{ … }}`, a text template otherwise.
    pub fn add(&mut self, source: &str) -> Result<Added, String> {
        match whole_expression(source) {
            Some(expr) => self.add_expression(expr),
            None => self.add_text(source, Escape::None),
        }
    }

    /// Adds a text template (always renders to a string).
    pub fn add_text(&mut self, source: &str, escape: Escape) -> Result<Added, String> {
        let id = self.next_id();
        let name = match escape {
            Escape::None => format!("{}", id.0),
            Escape::PathSegment => format!("{}.path", id.0),
            Escape::UrlComponent => format!("{}.url", id.0),
        };
        self.env
            .add_template_owned(name.clone(), source.to_owned())
            .map_err(describe_error)?;
        let template = self.env.get_template(&name).map_err(describe_error)?;
        let variables = variables(template.undeclared_variables(true));
        self.pending.push(Pending::Text(name));
        Ok(Added { id, variables })
    }

    fn add_expression(&mut self, expr: &str) -> Result<Added, String> {
        let id = self.next_id();
        let compiled = self
            .env
            .compile_expression_owned(expr.to_owned())
            .map_err(describe_error)?;
        let variables = variables(compiled.undeclared_variables(true));
        self.pending.push(Pending::Expr(expr.to_owned()));
        Ok(Added { id, variables })
    }

    fn next_id(&self) -> TemplateId {
        TemplateId(u32::try_from(self.pending.len()).unwrap_or(u32::MAX))
    }

    /// Builds the set. Every entry was already checked when it was added.
    pub fn build(self) -> Result<TemplateSet, String> {
        let pending = self.pending;
        let compiled = Compiled::try_new(self.env, |env| {
            pending
                .into_iter()
                .map(|p| match p {
                    Pending::Text(name) => env.get_template(&name).map(Entry::Text),
                    Pending::Expr(source) => env.compile_expression_owned(source).map(Entry::Expr),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(describe_error)
        })?;
        Ok(TemplateSet { compiled })
    }
}

impl TemplateSet {
    /// Renders entry `id` to a string (expressions are formatted as text).
    pub fn render(&self, id: TemplateId, ctx: &JinjaValue) -> Result<String, RenderFailure> {
        match self.entry(id) {
            Entry::Text(t) => t.render(ctx.clone()).map_err(RenderFailure::from),
            Entry::Expr(e) => {
                let value = e.eval(ctx.clone()).map_err(RenderFailure::from)?;
                if value.is_undefined() {
                    return Err(RenderFailure::Undefined(String::new()));
                }
                Ok(text_of(&value))
            }
        }
    }

    /// Evaluates entry `id` to a value: expressions keep their type, text
    /// templates give a string. `None` means "undefined": leave the field out.
    pub fn eval(
        &self,
        id: TemplateId,
        ctx: &JinjaValue,
    ) -> Result<Option<JinjaValue>, RenderFailure> {
        match self.entry(id) {
            Entry::Text(t) => t
                .render(ctx.clone())
                .map(|s| Some(JinjaValue::from(s)))
                .map_err(RenderFailure::from),
            Entry::Expr(e) => {
                let value = e.eval(ctx.clone()).map_err(RenderFailure::from)?;
                Ok((!value.is_undefined()).then_some(value))
            }
        }
    }

    fn entry(&self, id: TemplateId) -> &Entry<'_> {
        &self.compiled.borrow_dependent()[id.0 as usize]
    }
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderFailure {
    /// A variable was used that the context does not have (an optional
    /// parameter that was not given, where the template needs it).
    Undefined(String),
    /// A filter or function rejected its input (bad address, wrong type, …).
    Invalid(String),
}

impl From<JinjaError> for RenderFailure {
    fn from(e: JinjaError) -> RenderFailure {
        match e.kind() {
            ErrorKind::UndefinedError => RenderFailure::Undefined(describe_error(e)),
            _ => RenderFailure::Invalid(describe_error(e)),
        }
    }
}

/// A value as text: strings as they are, `none` as empty, others as JSON.
pub fn text_of(value: &JinjaValue) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        ValueKind::None | ValueKind::Undefined => String::new(),
        ValueKind::Number | ValueKind::Bool => value.to_string(),
        _ => serde_json::to_string(value).unwrap_or_default(),
    }
}

/// One line describing a minijinja error, without template names (which are
/// internal indexes here).
fn describe_error(e: JinjaError) -> String {
    let mut message = e
        .detail()
        .map(str::to_owned)
        .unwrap_or_else(|| e.kind().to_string());
    if let Some(line) = e.line().filter(|l| *l > 1) {
        let _ = write!(message, " (template line {line})");
    }
    message
}

fn variables(names: std::collections::HashSet<String>) -> BTreeSet<String> {
    names
        .into_iter()
        .filter(|n| !FUNCTIONS.contains(&n.split('.').next().unwrap_or_default()))
        .collect()
}

/// The environment every provider's templates run in.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".path") {
            AutoEscape::Custom("path".into())
        } else if name.ends_with(".url") {
            AutoEscape::Custom("url".into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        let text = text_of(value);
        // Paths and URLs are escaped by what the template is, never by the
        // auto-escape state: `| safe` or `{% autoescape false %}` in a URL
        // template cannot write a raw value (a host, a `/`, `..`).
        let name = state.name();
        let escaped = if name.ends_with(".path") {
            encode_path_segment(&text)?
        } else if name.ends_with(".url") {
            encode_url_component(&text)?
        } else {
            text
        };
        out.write_str(&escaped)?;
        Ok(())
    });
    env.add_filter("base64", |v: String| {
        base64::engine::general_purpose::STANDARD.encode(v)
    });
    env.add_filter("base64url", |v: String| {
        base64::engine::general_purpose::URL_SAFE.encode(v)
    });
    env.add_filter("base64_decode", base64_decode);
    env.add_filter("addresses", addresses_filter);
    env.add_filter("rfc3339", rfc3339);
    env.add_filter("json", |v: JinjaValue| {
        serde_json::to_string(&v)
            .map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    // `["a@x", "b@x"] | objects("email")` → `[{"email": "a@x"}, {"email": "b@x"}]`:
    // a list of values as the list of objects an API wants.
    env.add_filter(
        "objects",
        |list: JinjaValue, key: String| -> Result<JinjaValue, JinjaError> {
            let items = list
                .try_iter()
                .map_err(|_| invalid("`objects` takes a list"))?;
            Ok(JinjaValue::from(
                items
                    .map(|item| {
                        JinjaValue::from(std::collections::BTreeMap::from([(key.clone(), item)]))
                    })
                    .collect::<Vec<_>>(),
            ))
        },
    );
    env.add_function("rfc2822_message", rfc2822_message);
    // `fail("…")` stops the call with that message (a value that cannot be
    // sent, such as a status no transition leads to).
    env.add_function(
        "fail",
        |message: String| -> Result<JinjaValue, JinjaError> { Err(invalid(&message)) },
    );
    env
}

/// `"SGk=" | base64_decode`: base64 or base64url text (padding optional)
/// decoded to text; bytes that are not UTF-8 are replaced.
fn base64_decode(value: String) -> Result<String, JinjaError> {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(compact.as_bytes())
        .map_err(|e| invalid(&format!("not base64: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `1503435956 | rfc3339` (or `"1503435956.000247"`): Unix seconds as an
/// RFC 3339 time in UTC; a fraction of a second is dropped.
fn rfc3339(value: JinjaValue) -> Result<String, JinjaError> {
    let seconds = match value.as_str() {
        Some(s) => s.trim().parse::<f64>().ok(),
        None => f64::try_from(value.clone()).ok(),
    }
    .filter(|s| s.is_finite())
    .ok_or_else(|| invalid(&format!("`{value}` is not a number of seconds")))?;
    let time = time::OffsetDateTime::from_unix_timestamp(seconds.floor() as i64)
        .map_err(|_| invalid(&format!("`{value}` is out of range")))?;
    time.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| invalid(&e.to_string()))
}

/// Percent-encodes a value written into a templated base URL or auth
/// endpoint. A value of only dots is refused: written into the path it
/// would be a `..` segment.
pub fn encode_url_component(text: &str) -> Result<String, JinjaError> {
    if !text.is_empty() && text.chars().all(|c| c == '.') {
        return Err(invalid(&format!("`{text}` cannot be used in a URL")));
    }
    Ok(utf8_percent_encode(text, URL_COMPONENT).to_string())
}

/// Percent-encodes one path segment. A value of only dots is refused: URL
/// parsers read `..` (even as `%2E%2E`) as "parent directory".
pub fn encode_path_segment(text: &str) -> Result<String, JinjaError> {
    if !text.is_empty() && text.chars().all(|c| c == '.') {
        return Err(invalid(&format!(
            "`{text}` cannot be used as a path segment"
        )));
    }
    Ok(utf8_percent_encode(text, PATH_SEGMENT).to_string())
}

/// `rfc2822_message(to=…, subject=…, body=…, cc=…, bcc=…, from=…, reply_to=…,
/// html=false)`: an RFC 2822 (RFC 5322) message as text, with non-ASCII
/// headers and bodies encoded as the RFCs require. Address arguments take a
/// string (`"Ann <ann@example.com>, bob@example.com"`) or a list of strings.
fn rfc2822_message(kwargs: Kwargs) -> Result<String, JinjaError> {
    let arg = |name: &str| -> Result<Option<JinjaValue>, JinjaError> {
        let v: Option<JinjaValue> = kwargs.get(name)?;
        Ok(v.filter(|v| !v.is_undefined() && !v.is_none()))
    };
    let to = arg("to")?.ok_or_else(|| invalid("rfc2822_message needs `to`"))?;
    let subject = arg("subject")?.map(|v| text_of(&v)).unwrap_or_default();
    let body = arg("body")?.map(|v| text_of(&v)).unwrap_or_default();
    let html = arg("html")?.is_some_and(|v| v.is_true());
    let mut message = mail_builder::MessageBuilder::new().to(addresses(&to)?);
    for (name, set) in [("cc", 0), ("bcc", 1), ("from", 2), ("reply_to", 3)] {
        if let Some(v) = arg(name)? {
            let list = addresses(&v)?;
            message = match set {
                0 => message.cc(list),
                1 => message.bcc(list),
                2 => message.from(list),
                _ => message.reply_to(list),
            };
        }
    }
    no_line_breaks("subject", &subject)?;
    message = message.subject(subject);
    // Threading: the Message-ID(s) a reply answers.
    for (name, is_reply) in [("in_reply_to", true), ("references", false)] {
        if let Some(v) = arg(name)? {
            let ids = message_ids(&v)?;
            message = if is_reply {
                message.in_reply_to(ids)
            } else {
                message.references(ids)
            };
        }
    }
    message = if html {
        message.html_body(body)
    } else {
        message.text_body(body)
    };
    kwargs.assert_all_used()?;
    let text = message
        .write_to_string()
        .map_err(|e| invalid(&format!("cannot build the message: {e}")))?;
    Ok(without_generated_headers(&text))
}

/// The message without the `Message-ID` and `Date` the builder adds: the
/// mail provider stamps both when it sends, and the builder's Message-ID
/// would name the gateway's host name. The message is then the same text
/// for the same arguments.
fn without_generated_headers(message: &str) -> String {
    let (head, body) = message.split_once("\r\n\r\n").unwrap_or((message, ""));
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|line| !line.starts_with("Message-ID: ") && !line.starts_with("Date: "))
        .collect();
    format!("{}\r\n\r\n{body}", kept.join("\r\n"))
}

/// Message-IDs for In-Reply-To and References: `<a@b>` text (several
/// separated by spaces) or a list of them, with or without the brackets.
fn message_ids(
    value: &JinjaValue,
) -> Result<mail_builder::headers::message_id::MessageId<'static>, JinjaError> {
    let items: Vec<String> = match value.as_str() {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => value
            .try_iter()
            .map_err(|_| invalid("a message id must be a string or a list of strings"))?
            .map(|v| text_of(&v))
            .collect(),
    };
    let mut ids = Vec::new();
    for item in &items {
        no_line_breaks("message id", item)?;
        let id = item.trim().trim_start_matches('<').trim_end_matches('>');
        if id.is_empty() || id.contains(['<', '>', ' ']) {
            return Err(invalid(&format!("`{item}` is not a valid message id")));
        }
        ids.push(id.to_owned());
    }
    if ids.is_empty() {
        return Err(invalid("a message id list is empty"));
    }
    Ok(mail_builder::headers::message_id::MessageId::new_list(
        ids.into_iter().map(std::borrow::Cow::Owned),
    ))
}

fn addresses(
    value: &JinjaValue,
) -> Result<mail_builder::headers::address::Address<'static>, JinjaError> {
    let mut list: Vec<_> = parse_addresses(value)?
        .into_iter()
        .map(|(name, email)| mail_builder::headers::address::Address::new_address(name, email))
        .collect();
    match list.len() {
        1 => Ok(list.remove(0)),
        _ => Ok(mail_builder::headers::address::Address::new_list(list)),
    }
}

/// `"Ann Lee <ann@example.com>, bob@example.com" | addresses`: the
/// addresses as `[{"name": "Ann Lee", "address": "ann@example.com"},
/// {"address": "bob@example.com"}]`, for APIs that take recipients as
/// objects (Microsoft Graph).
fn addresses_filter(value: JinjaValue) -> Result<JinjaValue, JinjaError> {
    Ok(JinjaValue::from(
        parse_addresses(&value)?
            .into_iter()
            .map(|(name, address)| {
                let mut entry = std::collections::BTreeMap::from([("address", address)]);
                if let Some(name) = name {
                    entry.insert("name", name);
                }
                JinjaValue::from(entry)
            })
            .collect::<Vec<_>>(),
    ))
}

/// Addresses from a string (`"Lee, Ann" <ann@example.com>, bob@example.com`:
/// commas inside quotes or angle brackets do not separate) or a list of
/// strings, each checked; at least one.
fn parse_addresses(value: &JinjaValue) -> Result<Vec<(Option<String>, String)>, JinjaError> {
    let items: Vec<String> = if let Some(s) = value.as_str() {
        split_addresses(s)
    } else {
        value
            .try_iter()
            .map_err(|_| invalid("an address must be a string or a list of strings"))?
            .map(|v| text_of(&v))
            .collect()
    };
    let mut list = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        no_line_breaks("address", item)?;
        let (name, email) = match item.rsplit_once('<') {
            Some((name, rest)) => {
                let email = rest
                    .strip_suffix('>')
                    .ok_or_else(|| invalid(&format!("`{item}` is not a valid address")))?;
                let name = name.trim().trim_matches('"').trim();
                (
                    (!name.is_empty()).then(|| name.to_owned()),
                    email.trim().to_owned(),
                )
            }
            None => (None, item.to_owned()),
        };
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !email.contains([' ', '<', '>', ','])
        });
        if !valid {
            return Err(invalid(&format!("`{item}` is not a valid address")));
        }
        list.push((name, email));
    }
    if list.is_empty() {
        return Err(invalid("an address list is empty"));
    }
    Ok(list)
}

/// Splits at the commas that are outside quotes and angle brackets.
fn split_addresses(text: &str) -> Vec<String> {
    let (mut items, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut angle) = (false, false);
    for c in text.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
}

fn no_line_breaks(what: &str, text: &str) -> Result<(), JinjaError> {
    if text.contains(['\r', '\n']) {
        return Err(invalid(&format!("the {what} must not contain line breaks")));
    }
    Ok(())
}

fn invalid(message: &str) -> JinjaError {
    JinjaError::new(ErrorKind::InvalidOperation, message.to_owned())
}

#[cfg(test)]
mod tests;
