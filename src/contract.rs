//! Contract tests as data: a spec author proves a spec without Rust.
//!
//! A test file (`provider-specs/tests/<provider>.yaml`) lists cases. Each
//! case calls one tool through the real engine with the parameters (and
//! connection, account and credential values) it gives, checks every request
//! the tool sends against the request the provider's documentation says it
//! expects, answers each with the documented response, and checks the output
//! or the error. Nothing is sent anywhere: the engine's transport is the case.
//!
//! Architecture invariant: the cases run [`engine::execute`] exactly as the
//! gateway does; only the transport differs.

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::engine::{self, CallContext, ProviderResponse, RenderedRequest, RequestBody};
use crate::error::{Error, ErrorCode};
use crate::registry::{Provider, Registry};
use crate::spec::yaml;

/// One test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    provider: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    tool: String,
    #[serde(default)]
    auth_type: Option<String>,
    #[serde(default)]
    connection_config: Map<String, Value>,
    #[serde(default)]
    account_config: Map<String, Value>,
    #[serde(default)]
    credentials: Option<Map<String, Value>>,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    exchanges: Option<Vec<Exchange>>,
    #[serde(default)]
    request: Option<ExpectedRequest>,
    #[serde(default)]
    response: Option<Answer>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    error: Option<ExpectedError>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    request: ExpectedRequest,
    response: Answer,
}

/// The request a provider's documentation expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRequest {
    method: String,
    url: String,
    #[serde(default)]
    query: Option<IndexMap<String, Value>>,
    /// Headers that must have these values; `null`: must not be sent.
    #[serde(default)]
    headers: IndexMap<String, Option<String>>,
    #[serde(default)]
    json: Option<Value>,
    #[serde(default)]
    form: Option<IndexMap<String, Value>>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    base64: Option<String>,
    #[serde(default)]
    multipart: Option<Vec<ExpectedPart>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedPart {
    #[serde(default)]
    headers: IndexMap<String, String>,
    #[serde(default)]
    json: Option<Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    base64: Option<String>,
}

/// The provider's documented answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default = "ok_status")]
    status: u16,
    #[serde(default)]
    headers: IndexMap<String, String>,
    #[serde(default)]
    json: Option<Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    base64: Option<String>,
}

/// The fields of the unified error a case expects; those given are checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    code: ErrorCode,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    upstream_status: Option<u16>,
    #[serde(default)]
    retry_after_s: Option<u64>,
    #[serde(default)]
    details: Option<Map<String, Value>>,
}

fn ok_status() -> u16 {
    200
}

/// What running one file gave.
#[derive(Debug)]
pub struct FileReport {
    pub file: PathBuf,
    pub cases: Vec<CaseReport>,
    /// A problem with the file itself (unreadable, malformed, unknown provider).
    pub problem: Option<String>,
    /// The provider the file tests, once read.
    pub provider: Option<String>,
}

#[derive(Debug)]
pub struct CaseReport {
    pub name: String,
    pub tool: String,
    /// Whether the case expects an error.
    pub expects_error: bool,
    /// How many requests the case expects.
    pub requests: usize,
    /// `file:line` of the case.
    pub at: String,
    /// Empty when the case passed.
    pub failures: Vec<String>,
}

impl FileReport {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.failures.is_empty()).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed() + usize::from(self.problem.is_some())
    }
}

/// The test files under `paths`: files as given; a directory's `*.yaml`
/// files, or those of its `tests/` folder when it has one (a specs directory).
pub fn test_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let tests = path.join("tests");
        let dir = if tests.is_dir() { tests } else { path.clone() };
        files.extend(crate::registry::spec_files(&dir)?);
    }
    Ok(files)
}

/// Runs one test file against `registry`.
pub fn run_file(file: &Path, registry: &Registry) -> FileReport {
    let mut report = FileReport {
        file: file.to_path_buf(),
        cases: Vec::new(),
        problem: None,
        provider: None,
    };
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            report.problem = Some(format!("{}: cannot read the file: {e}", file.display()));
            return report;
        }
    };
    let doc = match yaml::parse(&source) {
        Ok(doc) => doc,
        Err(e) => {
            report.problem = Some(format!(
                "{}:{}:{}: {}",
                file.display(),
                e.pos.line,
                e.pos.column,
                e.message
            ));
            return report;
        }
    };
    let tests: TestFile = match serde_path_to_error::deserialize(&doc.value) {
        Ok(t) => t,
        Err(e) => {
            let pointer = pointer_of(e.path());
            let pos = doc.source_map.value(&pointer);
            report.problem = Some(format!(
                "{}:{}:{}: {}",
                file.display(),
                pos.line,
                pos.column,
                e.inner()
            ));
            return report;
        }
    };
    report.provider = Some(tests.provider.clone());
    let Some(provider) = registry.provider(&tests.provider) else {
        report.problem = Some(format!(
            "{}: provider `{}` is not loaded (is its spec valid?)",
            file.display(),
            tests.provider
        ));
        return report;
    };
    let mut names = Vec::new();
    for (i, case) in tests.cases.iter().enumerate() {
        let pos = doc.source_map.value(&format!("/cases/{i}"));
        let mut failures = Vec::new();
        if names.contains(&&case.name) {
            failures.push(format!("a second case named `{}`", case.name));
        }
        names.push(&case.name);
        failures.extend(run_case(provider, case));
        report.cases.push(CaseReport {
            name: case.name.clone(),
            tool: case.tool.clone(),
            expects_error: case.error.is_some(),
            requests: exchanges_of(case).map(|e| e.len()).unwrap_or_default(),
            at: format!("{}:{}", file.display(), pos.line),
            failures,
        });
    }
    report
}

/// Prints a file's report as text: one line per case, the failures indented.
pub fn describe(report: &FileReport) -> String {
    let mut out = String::new();
    if let Some(problem) = &report.problem {
        let _ = writeln!(out, "FAIL {problem}");
    }
    for case in &report.cases {
        if case.failures.is_empty() {
            let _ = writeln!(out, "ok   {} ({})", case.name, case.at);
        } else {
            let _ = writeln!(out, "FAIL {} ({})", case.name, case.at);
            for f in &case.failures {
                for line in f.lines() {
                    if line.is_empty() {
                        out.push('\n');
                    } else {
                        let _ = writeln!(out, "       {line}");
                    }
                }
            }
        }
    }
    out
}

/// Runs one case; returns its failures.
fn run_case(provider: &Provider, case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let exchanges = match exchanges_of(case) {
        Ok(e) => e,
        Err(problem) => return vec![problem],
    };
    let Some(tool) = provider.tools.get(&case.tool) else {
        let names: Vec<&str> = provider.tools.keys().map(String::as_str).collect();
        return vec![format!(
            "`{}` is not a tool of `{}` (tools: {})",
            case.tool,
            provider.key,
            names.join(", ")
        )];
    };
    let auth = match &case.auth_type {
        None => provider.auth(),
        Some(t) => match provider.auth_for(t) {
            Some(a) => a,
            None => {
                return vec![format!(
                    "`{t}` is not an auth type of `{}` (auth types: {})",
                    provider.key,
                    provider.auth_types().join(", ")
                )];
            }
        },
    };
    let credentials = case.credentials.clone().unwrap_or_else(|| {
        auth.credential_fields
            .keys()
            .map(|k| (k.clone(), Value::String(default_credential(k))))
            .collect()
    });
    let connection_config = provider.with_config_defaults(&case.connection_config);
    let ctx = CallContext {
        connection_config: Some(&connection_config),
        account_config: Some(&case.account_config),
        credentials: Some(&credentials),
        auth: Some(auth),
        credentials_origin: None,
    };
    let params = Value::Object(case.parameters.clone());
    let mut sent: Vec<RenderedRequest> = Vec::new();
    let result = block_on(engine::execute(provider, tool, &params, &ctx, |request| {
        let n = sent.len();
        sent.push(request);
        let answer = exchanges.get(n).map(|e| answer(&e.response));
        async move {
            answer.unwrap_or_else(|| {
                Err(Error::new(
                    ErrorCode::Internal,
                    format!("the case gives no answer for request {}", n + 1),
                ))
            })
        }
    }));

    for (i, request) in sent.iter().enumerate() {
        match exchanges.get(i) {
            Some(e) => {
                for problem in check_request(&e.request, request) {
                    failures.push(format!("request {}: {problem}", i + 1));
                }
            }
            None => failures.push(format!(
                "request {} was not expected:\n{}",
                i + 1,
                indent(&request.to_string())
            )),
        }
    }
    if sent.len() < exchanges.len() {
        failures.push(format!(
            "{} request{} expected, the tool sent {}",
            exchanges.len(),
            if exchanges.len() == 1 {
                " was"
            } else {
                "s were"
            },
            sent.len()
        ));
    }
    match (&result, &case.error) {
        (Ok(execution), None) => {
            let diffs = case
                .output
                .as_ref()
                .map(|expected| json_diff("output", expected, &execution.output))
                .unwrap_or_default();
            if !diffs.is_empty() {
                failures.push(format!(
                    "{}\n(the whole output: {})",
                    diffs.join("\n"),
                    execution.output
                ));
            }
        }
        (Ok(execution), Some(expected)) => failures.push(format!(
            "expected error `{}`, but the call succeeded with {}",
            expected.code.as_str(),
            execution.output
        )),
        (Err(e), None) => failures.push(format!(
            "the call failed: {} ({}){}",
            e.message,
            e.code.as_str(),
            if e.details.is_empty() {
                String::new()
            } else {
                format!(
                    " {}",
                    Value::Object(e.details.clone().into_iter().collect())
                )
            }
        )),
        (Err(e), Some(expected)) => failures.extend(check_error(expected, e)),
    }
    failures
}

fn exchanges_of(case: &Case) -> Result<Vec<Exchange>, String> {
    match (&case.exchanges, &case.request, &case.response) {
        (Some(list), None, None) => Ok(list.clone()),
        (None, Some(request), Some(response)) => Ok(vec![Exchange {
            request: request.clone(),
            response: response.clone(),
        }]),
        (None, None, None) if case.error.is_some() => Ok(Vec::new()),
        _ => Err(
            "give `exchanges`, or one `request` and its `response` (or only `error` for a call that fails before sending)"
                .into(),
        ),
    }
}

/// The placeholder value of a credential: `api_key` → `test-api-key`.
fn default_credential(name: &str) -> String {
    match name {
        "username" => "test-user".into(),
        _ => format!("test-{}", name.replace('_', "-")),
    }
}

fn answer(answer: &Answer) -> Result<ProviderResponse, Error> {
    let mut headers = HeaderMap::new();
    let (body, content_type) = match (&answer.json, &answer.text, &answer.base64) {
        (Some(json), _, _) => (
            serde_json::to_vec(json).unwrap_or_default(),
            Some("application/json"),
        ),
        (None, Some(text), _) => (text.clone().into_bytes(), Some("text/plain")),
        (None, None, Some(b64)) => (
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    Error::new(
                        ErrorCode::Internal,
                        format!("the response's base64 is not valid: {e}"),
                    )
                })?,
            Some("application/octet-stream"),
        ),
        (None, None, None) => (Vec::new(), None),
    };
    if let Some(ct) = content_type {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for (name, value) in &answer.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(Error::new(
                ErrorCode::Internal,
                format!("response header `{name}` is not valid"),
            ));
        };
        headers.insert(name, value);
    }
    Ok(ProviderResponse {
        status: answer.status,
        headers,
        body,
    })
}

fn check_request(expected: &ExpectedRequest, actual: &RenderedRequest) -> Vec<String> {
    let mut problems = Vec::new();
    if !expected.method.eq_ignore_ascii_case(actual.method.as_str()) {
        problems.push(format!(
            "method: expected {}, got {}",
            expected.method, actual.method
        ));
    }
    let (expected_base, url_query) = match expected.url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (expected.url.as_str(), None),
    };
    let mut actual_base = actual.url.clone();
    actual_base.set_query(None);
    actual_base.set_fragment(None);
    if actual_base.as_str() != expected_base {
        problems.push(format!("url: expected {expected_base}, got {actual_base}"));
    }
    let mut want: Vec<(String, String)> = url_query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in expected.query.iter().flatten() {
        match value {
            Value::Array(items) => {
                want.extend(items.iter().map(|v| (name.clone(), text_of(v))));
            }
            v => want.push((name.clone(), text_of(v))),
        }
    }
    let mut got: Vec<(String, String)> = actual.url.query_pairs().into_owned().collect();
    want.sort();
    got.sort();
    if want != got {
        problems.push(format!(
            "query: expected {}, got {}",
            show_pairs(&want),
            show_pairs(&got)
        ));
    }
    for (name, value) in &expected.headers {
        let got = actual
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>();
        match (value, got.as_slice()) {
            (None, []) => {}
            (None, _) => problems.push(format!(
                "header {name}: expected none, got `{}`",
                got.join(", ")
            )),
            (Some(value), []) => {
                problems.push(format!("header {name}: expected `{value}`, not sent"))
            }
            (Some(value), [one]) if one == value => {}
            (Some(value), _) => problems.push(format!(
                "header {name}: expected `{value}`, got `{}`",
                got.join(", ")
            )),
        }
    }
    problems.extend(check_body(expected, actual));
    problems
}

fn check_body(expected: &ExpectedRequest, actual: &RenderedRequest) -> Vec<String> {
    let body = actual.body.as_ref();
    let given = [
        expected.json.is_some(),
        expected.form.is_some(),
        expected.text.is_some(),
        expected.base64.is_some(),
        expected.multipart.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return vec!["give one of json, form, text, base64 and multipart".into()];
    }
    if let Some(json) = &expected.json {
        return match body {
            Some(RequestBody::Json(v)) => json_diff("body", json, v),
            other => vec![format!("body: expected JSON, got {}", show_body(other))],
        };
    }
    if let Some(form) = &expected.form {
        let mut want: Vec<(String, String)> = Vec::new();
        for (k, v) in form {
            match v {
                Value::Array(items) => want.extend(items.iter().map(|i| (k.clone(), text_of(i)))),
                v => want.push((k.clone(), text_of(v))),
            }
        }
        return match body {
            Some(RequestBody::Form(pairs)) => {
                let (mut want, mut got) = (want, pairs.clone());
                want.sort();
                got.sort();
                if want == got {
                    Vec::new()
                } else {
                    vec![format!(
                        "form body: expected {}, got {}",
                        show_pairs(&want),
                        show_pairs(&got)
                    )]
                }
            }
            other => vec![format!("body: expected a form, got {}", show_body(other))],
        };
    }
    if let Some(text) = &expected.text {
        // A JSON body given as text is compared as JSON.
        if let (Some(RequestBody::Json(got)), Ok(want)) =
            (body, serde_json::from_str::<Value>(text))
        {
            return json_diff("body", &want, got);
        }
        let got = body.map(RequestBody::to_bytes).unwrap_or_default();
        return if got == text.as_bytes() {
            Vec::new()
        } else {
            vec![format!(
                "body: expected\n{}\ngot\n{}",
                indent(text),
                indent(&String::from_utf8_lossy(&got))
            )]
        };
    }
    if let Some(b64) = &expected.base64 {
        let want = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap_or_default();
        let got = body.map(RequestBody::to_bytes).unwrap_or_default();
        return if got == want {
            Vec::new()
        } else {
            vec![format!(
                "body: expected {} bytes ({b64}), got {} bytes ({})",
                want.len(),
                got.len(),
                base64::engine::general_purpose::STANDARD.encode(&got)
            )]
        };
    }
    if let Some(parts) = &expected.multipart {
        return check_multipart(parts, actual);
    }
    match body {
        None => Vec::new(),
        other => vec![format!("body: expected none, got {}", show_body(other))],
    }
}

fn check_multipart(expected: &[ExpectedPart], actual: &RenderedRequest) -> Vec<String> {
    let content_type = actual
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
    else {
        return vec![format!(
            "body: expected multipart, Content-Type is `{content_type}`"
        )];
    };
    let bytes = actual
        .body
        .as_ref()
        .map(RequestBody::to_bytes)
        .unwrap_or_default();
    let parts = match split_multipart(&bytes, boundary) {
        Ok(p) => p,
        Err(e) => return vec![format!("body: {e}")],
    };
    let mut problems = Vec::new();
    if parts.len() != expected.len() {
        problems.push(format!(
            "multipart: expected {} parts, got {}",
            expected.len(),
            parts.len()
        ));
    }
    for (i, (want, (headers, content))) in expected.iter().zip(&parts).enumerate() {
        let n = i + 1;
        for (name, value) in &want.headers {
            let got = headers
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str());
            if got != Some(value.as_str()) {
                problems.push(format!(
                    "part {n} header {name}: expected `{value}`, got `{}`",
                    got.unwrap_or("(none)")
                ));
            }
        }
        if let Some(json) = &want.json {
            match serde_json::from_slice::<Value>(content) {
                Ok(v) => problems.extend(json_diff(&format!("part {n}"), json, &v)),
                Err(_) => problems.push(format!("part {n}: expected JSON")),
            }
        }
        if let Some(text) = &want.text
            && content != text.as_bytes()
        {
            problems.push(format!(
                "part {n}: expected `{text}`, got `{}`",
                String::from_utf8_lossy(content)
            ));
        }
        if let Some(b64) = &want.base64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap_or_default();
            if *content != bytes {
                problems.push(format!(
                    "part {n}: expected bytes {b64}, got {}",
                    base64::engine::general_purpose::STANDARD.encode(content)
                ));
            }
        }
    }
    problems
}

type RawPart = (Vec<(String, String)>, Vec<u8>);

/// Splits a multipart body into each part's headers and content.
fn split_multipart(body: &[u8], boundary: &str) -> Result<Vec<RawPart>, String> {
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut rest = text
        .strip_prefix(delimiter.as_bytes())
        .ok_or("the multipart body does not start with its boundary")?;
    let separator = format!("\r\n--{boundary}");
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a multipart boundary is not followed by a line break")?;
        let end = find(rest, separator.as_bytes()).ok_or("a multipart part is not closed")?;
        let part = &rest[..end];
        rest = &rest[end + separator.len()..];
        let split = find(part, b"\r\n\r\n").ok_or("a multipart part has no header end")?;
        let headers = String::from_utf8_lossy(&part[..split])
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        parts.push((headers, part[split + 4..].to_vec()));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn check_error(expected: &ExpectedError, actual: &Error) -> Vec<String> {
    let mut problems = Vec::new();
    let summary = format!("`{}` ({})", actual.message, actual.code.as_str());
    if expected.code != actual.code {
        problems.push(format!(
            "error code: expected `{}`, got {summary}",
            expected.code.as_str()
        ));
    }
    if let Some(message) = &expected.message
        && *message != actual.message
    {
        problems.push(format!(
            "error message: expected `{message}`, got `{}`",
            actual.message
        ));
    }
    if expected.upstream_status.is_some() && expected.upstream_status != actual.upstream_status {
        problems.push(format!(
            "error upstream_status: expected {:?}, got {:?}",
            expected.upstream_status, actual.upstream_status
        ));
    }
    if expected.retry_after_s.is_some() && expected.retry_after_s != actual.retry_after_s {
        problems.push(format!(
            "error retry_after_s: expected {:?}, got {:?}",
            expected.retry_after_s, actual.retry_after_s
        ));
    }
    for (k, want) in expected.details.iter().flatten() {
        match actual.details.get(k) {
            Some(got) => problems.extend(json_diff(&format!("error details.{k}"), want, got)),
            None => problems.push(format!("error details.{k}: expected {want}, not given")),
        }
    }
    problems
}

/// The places where two JSON values differ, one line each.
fn json_diff(at: &str, expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_into(at, expected, actual, &mut out);
    out
}

fn diff_into(at: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => diff_into(&format!("{at}.{k}"), ev, av, out),
                    None => out.push(format!("{at}.{k}: expected {ev}, missing")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{at}.{k}: not expected, got {av}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_into(&format!("{at}[{i}]"), ev, av, out);
            }
        }
        (Value::Array(e), Value::Array(a)) => out.push(format!(
            "{at}: expected {} items, got {}: {actual}",
            e.len(),
            a.len()
        )),
        (e, a) if numbers_equal(e, a) => {}
        (e, a) if e != a => out.push(format!("{at}: expected {e}, got {a}")),
        _ => {}
    }
}

/// `1` and `1.0` are the same number.
fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => a.is_number() && b.is_number() && x == y,
        _ => false,
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn show_pairs(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "(none)".into();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn show_body(body: Option<&RequestBody>) -> String {
    match body {
        None => "no body".into(),
        Some(RequestBody::Json(v)) => format!("JSON {v}"),
        Some(RequestBody::Form(pairs)) => format!("form {}", show_pairs(pairs)),
        Some(RequestBody::Raw(s)) => format!("text `{s}`"),
        Some(RequestBody::Binary(b)) => format!("{} bytes", b.len()),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(pointer, "/{index}");
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let _ = write!(pointer, "/{}", yaml::escape_pointer(key));
            }
            Segment::Unknown => {}
        }
    }
    pointer
}

/// Runs a future whose transport answers at once (the cases never wait).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
