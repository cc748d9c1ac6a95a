//! How a log line is written, and what it says of the request it belongs to.
//!
//! Every event becomes one line, text or JSON, built in a buffer the thread
//! keeps and copied into the [`LogBuffer`]. A request's id, method, path and
//! API key name come from its [`RequestContext`], a task-local value set
//! when the request arrives: no span is made per request and nothing is
//! formatted until a line is written (and then only into that buffer).
//!
//! Text: `2026-11-26T13:53:32.123456Z  INFO request{request_id=req_… method=GET
//! path=/healthz api_key=ci}: request served status=200 elapsed_ms=0`.
//! JSON: `{"timestamp":…,"level":"INFO","fields":{"message":…,…},
//! "span":{"request_id":…,"method":…,"path":…,"api_key":…,"name":"request"}}`.

use std::cell::{OnceCell, RefCell};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

use super::LogBuffer;

tokio::task_local! {
    /// The request being served, for its log lines, envelopes and audit.
    pub static REQUEST: RequestContext;
}

/// What is known of the request being served.
pub struct RequestContext {
    /// `req_` and a lowercase ULID.
    pub id: String,
    /// The method as a label (`GET`, …, `other`).
    pub method: &'static str,
    /// The path as logged (link tokens hidden, length bounded).
    pub path: String,
    /// The name of the API key the request came with, once it is checked.
    pub api_key: OnceCell<Arc<str>>,
}

impl RequestContext {
    /// A request with a new id.
    pub fn new(method: &'static str, path: String) -> RequestContext {
        RequestContext {
            id: crate::store::new_id("req"),
            method,
            path,
            api_key: OnceCell::new(),
        }
    }
}

/// Notes the API key's name in the request being served (its later lines
/// carry it).
pub fn record_api_key(name: &Arc<str>) {
    let _ = REQUEST.try_with(|r| r.api_key.set(Arc::clone(name)));
}

/// Text or JSON lines into a [`LogBuffer`].
pub struct LineLayer {
    out: LogBuffer,
    json: bool,
    ansi: bool,
}

impl LineLayer {
    /// `ansi` colours the level (text only: for a terminal).
    pub fn new(out: LogBuffer, json: bool, ansi: bool) -> LineLayer {
        LineLayer { out, json, ansi }
    }
}

thread_local! {
    /// The line being built on this thread, kept between lines.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let write = |line: &mut String| {
            line.clear();
            if self.json {
                json_line(line, event);
            } else {
                text_line(line, event, self.ansi);
            }
            line.push('\n');
            self.out.append(line.as_bytes());
        };
        // A field whose formatting logs a line of its own gets a fresh buffer.
        let reused = LINE.try_with(|cell| cell.try_borrow_mut().map(|mut line| write(&mut line)));
        if !matches!(reused, Ok(Ok(()))) {
            write(&mut String::new());
        }
    }
}

/// `2026-11-26T13:53:32.123456Z`, the clock's time in UTC.
fn timestamp(out: &mut String) {
    crate::clock::write_utc(
        out,
        crate::clock::since_epoch(),
        crate::clock::Fraction::Micros,
    );
}

fn text_line(out: &mut String, event: &Event<'_>, ansi: bool) {
    timestamp(out);
    let level = event.metadata().level();
    let name = level.as_str();
    out.push(' ');
    if name.len() < 5 {
        out.push(' ');
    }
    if ansi {
        let colour = match *level {
            Level::TRACE => "35",
            Level::DEBUG => "34",
            Level::INFO => "32",
            Level::WARN => "33",
            Level::ERROR => "31",
        };
        let _ = write!(out, "\x1b[{colour}m{name}\x1b[0m ");
    } else {
        out.push_str(name);
        out.push(' ');
    }
    let _ = REQUEST.try_with(|r| {
        let _ = write!(
            out,
            "request{{request_id={} method={} path={}",
            r.id, r.method, r.path
        );
        if let Some(key) = r.api_key.get() {
            out.push_str(" api_key=");
            out.push_str(key);
        }
        out.push_str("}: ");
    });
    event.record(&mut TextFields(Fields::new(out)));
}

/// Where an event's fields are written, and whether one has been yet.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut String) -> Fields<'a> {
        Fields { out, first: true }
    }

    /// Starts the next field: `separator` before every one but the first.
    fn next(&mut self, separator: char) -> &mut String {
        if !self.first {
            self.out.push(separator);
        }
        self.first = false;
        self.out
    }
}

/// An event's fields as text: the message as it is, then `name=value`,
/// text values quoted.
struct TextFields<'a>(Fields<'a>);

impl TextFields<'_> {
    /// Starts a field; where to write its value.
    fn name(&mut self, field: &Field) -> &mut String {
        let out = self.0.next(' ');
        if field.name() != "message" {
            out.push_str(field_name(field));
            out.push('=');
        }
        out
    }
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if skipped(field) {
            return;
        }
        let out = self.name(field);
        if field.name() == "message" {
            out.push_str(value);
        } else {
            let _ = write!(out, "{value:?}");
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let out = self.name(field);
        let _ = write!(out, "{}", Chain(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if skipped(field) {
            return;
        }
        let out = self.name(field);
        let _ = write!(out, "{value:?}");
    }
}

fn json_line(out: &mut String, event: &Event<'_>) {
    out.push_str("{\"timestamp\":\"");
    timestamp(out);
    out.push_str("\",\"level\":\"");
    out.push_str(event.metadata().level().as_str());
    out.push_str("\",\"fields\":{");
    event.record(&mut JsonFields(Fields::new(out)));
    out.push('}');
    let _ = REQUEST.try_with(|r| {
        out.push_str(",\"span\":{\"request_id\":");
        json_str(out, &r.id);
        out.push_str(",\"method\":");
        json_str(out, r.method);
        out.push_str(",\"path\":");
        json_str(out, &r.path);
        if let Some(key) = r.api_key.get() {
            out.push_str(",\"api_key\":");
            json_str(out, key);
        }
        out.push_str(",\"name\":\"request\"}");
    });
    out.push('}');
}

/// An event's fields as the members of a JSON object.
struct JsonFields<'a>(Fields<'a>);

impl JsonFields<'_> {
    /// Starts a member; where to write its value.
    fn name(&mut self, field: &Field) -> &mut String {
        let out = self.0.next(',');
        json_str(out, field_name(field));
        out.push(':');
        out
    }

    fn number(&mut self, field: &Field, value: impl fmt::Display) {
        let out = self.name(field);
        let _ = write!(out, "{value}");
    }
}

impl Visit for JsonFields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.number(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field, value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if skipped(field) {
            return;
        }
        let out = self.name(field);
        json_str(out, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let out = self.name(field);
        out.push('"');
        let _ = write!(JsonEscaped(out), "{}", Chain(value));
        out.push('"');
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if skipped(field) {
            return;
        }
        let out = self.name(field);
        out.push('"');
        let _ = write!(JsonEscaped(out), "{value:?}");
        out.push('"');
    }
}

/// A field's name without a raw identifier's `r#`.
fn field_name(field: &Field) -> &'static str {
    let name = field.name();
    name.strip_prefix("r#").unwrap_or(name)
}

/// Where a line from the `log` crate was made (`log.file`, …): left out, as
/// for the gateway's own lines.
fn skipped(field: &Field) -> bool {
    field.name().starts_with("log.")
}

/// An error and its sources, `: ` between them.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

fn json_str(out: &mut String, value: &str) {
    out.push('"');
    let _ = JsonEscaped(out).write_str(value);
    out.push('"');
}

/// Writes what it is given as the inside of a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            self.0.push_str(&rest[..i]);
            let c = rest.as_bytes()[i];
            match c {
                b'"' => self.0.push_str("\\\""),
                b'\\' => self.0.push_str("\\\\"),
                b'\n' => self.0.push_str("\\n"),
                b'\r' => self.0.push_str("\\r"),
                b'\t' => self.0.push_str("\\t"),
                _ => {
                    let _ = write!(self.0, "\\u{c:04x}");
                }
            }
            rest = &rest[i + 1..];
        }
        self.0.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::super::tests::Sink;
    use super::*;

    /// The lines `emit` logs, in the given format.
    fn lines(json: bool, emit: impl FnOnce()) -> Vec<String> {
        let sink = Sink::default();
        let (buffer, guard) = LogBuffer::start(sink.clone());
        let subscriber = tracing_subscriber::registry().with(LineLayer::new(buffer, json, false));
        tracing::subscriber::with_default(subscriber, emit);
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn in_request(emit: impl FnOnce()) {
        let request = RequestContext::new("POST", "/v1/tools/execute".into());
        REQUEST.sync_scope(request, || {
            tracing::info!(status = 200u16, "before the key");
            record_api_key(&"backend".into());
            emit();
        });
    }

    #[test]
    fn text_lines_carry_the_request_and_their_fields() {
        let error = std::io::Error::other("refused");
        let lines = lines(false, || {
            tracing::warn!(providers = 4, outcome = "success", "specs reloaded");
            in_request(|| {
                tracing::error!(error = &error as &dyn std::error::Error, path = %"/a b", "upstream \"failed\"");
            });
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
        let (time, rest) = lines[0].split_once(' ').unwrap();
        assert!(
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{time}"
        );
        assert_eq!(time.len(), 27, "microseconds and Z: {time}");
        assert_eq!(rest, " WARN specs reloaded providers=4 outcome=\"success\"");
        let (_, rest) = lines[1].split_once(' ').unwrap();
        let id = rest
            .strip_prefix(" INFO request{request_id=")
            .and_then(|r| r.split_once(' '))
            .map(|(id, _)| id)
            .unwrap();
        assert!(id.starts_with("req_") && id.len() == 30, "{id}");
        assert_eq!(
            rest,
            format!(
                " INFO request{{request_id={id} method=POST path=/v1/tools/execute}}: before the key status=200"
            )
        );
        let (_, rest) = lines[2].split_once(' ').unwrap();
        assert_eq!(
            rest,
            format!(
                "ERROR request{{request_id={id} method=POST path=/v1/tools/execute api_key=backend}}: upstream \"failed\" error=refused path=/a b"
            )
        );
    }

    #[test]
    fn json_lines_are_json_objects_with_fields_and_span() {
        let lines = lines(true, || {
            tracing::info!(ok = true, ratio = 0.5, count = -3i64, "plain");
            in_request(|| {
                tracing::warn!(detail = ?"quote \" and\nline", text = "tab\there", "inside");
            });
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(parsed[0]["level"], "INFO");
        assert_eq!(
            parsed[0]["fields"],
            serde_json::json!({"message": "plain", "ok": true, "ratio": 0.5, "count": -3})
        );
        assert!(parsed[0].get("span").is_none());
        assert!(parsed[0]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(parsed[1]["fields"]["status"], 200);
        assert!(parsed[1]["span"].get("api_key").is_none());
        let span = &parsed[2]["span"];
        assert_eq!(span["api_key"], "backend");
        assert_eq!(span["method"], "POST");
        assert_eq!(span["path"], "/v1/tools/execute");
        assert_eq!(span["name"], "request");
        assert_eq!(span["request_id"], parsed[1]["span"]["request_id"]);
        assert_eq!(parsed[2]["level"], "WARN");
        assert_eq!(
            parsed[2]["fields"],
            serde_json::json!({"message": "inside", "detail": "\"quote \\\" and\\nline\"", "text": "tab\there"})
        );
    }
}
