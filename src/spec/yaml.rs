//! YAML to JSON with source positions.
//!
//! Spec files are YAML, but everything after this module works on
//! `serde_json::Value` (the spec-format schema, serde, JSONPath, templates).
//! This module converts one YAML document into a `Value` and records, for every
//! node, where it stands in the file, keyed by its JSON Pointer. Validation then
//! reports any problem as `file:line:column` by looking up the pointer of the
//! offending node.
//!
//! Scalars are resolved with the YAML 1.2 core schema: only *plain* scalars can
//! become numbers, booleans or null; a quoted `"78"` always stays a string.
//!
//! Architecture invariant: this module knows nothing of providers or tools.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// A position in a source file: 1-based line and column, as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// Where each node of a parsed document stands, keyed by JSON Pointer.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SourceMap {
    /// Position of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, column: 1 },
            }
        }
    }

    /// Position of the mapping key whose value is at `pointer` (falls back to the value).
    pub fn key(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }
}

/// A problem found while reading YAML, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// A parsed document: the value, where its nodes stand, and non-fatal problems
/// (duplicate keys) that were found on the way.
#[derive(Debug)]
pub struct Document {
    pub value: Value,
    pub source_map: SourceMap,
    pub problems: Vec<YamlError>,
}

/// Most values a document may expand to, aliases counted each time they are
/// used: a few hundred bytes of nested aliases would otherwise expand to
/// gigabytes (an "alias bomb"). The largest shipped spec has about 8,000.
pub const MAX_NODES: usize = 250_000;

/// Deepest nesting of lists and mappings a document may have.
pub const MAX_DEPTH: usize = 64;

/// Parses one YAML document. Syntax errors are fatal (the parser cannot go on);
/// duplicate keys and unsupported constructs are collected in `problems`. A
/// document that expands past [`MAX_NODES`] values or nests deeper than
/// [`MAX_DEPTH`] is refused where it does, in bounded memory.
pub fn parse(source: &str) -> Result<Document, YamlError> {
    let mut builder = Builder::default();
    let mut documents = 0;
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(|e| YamlError {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: format!("YAML syntax error: {}", e.info()),
        })?;
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        pos: Pos::from_span(&span),
                        message: "a spec file holds exactly one YAML document".into(),
                    });
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            other => builder.event(other, span),
        }
        if let Some(e) = builder.fatal.take() {
            return Err(e);
        }
    }
    let value = builder.root.take().unwrap_or(Value::Null);
    Ok(Document {
        value,
        source_map: builder.map,
        problems: builder.problems,
    })
}

/// A container being filled while events stream in.
enum Frame {
    Seq {
        pointer: String,
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        pointer: String,
        entries: Map<String, Value>,
        pending_key: Option<String>,
        key_positions: HashMap<String, Pos>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    map: SourceMap,
    problems: Vec<YamlError>,
    /// Each anchored value, and how many values it holds.
    anchors: HashMap<usize, (Value, usize)>,
    /// Values the document has expanded to so far.
    nodes: usize,
    /// A limit passed: the reading stops here.
    fatal: Option<YamlError>,
}

impl Builder {
    /// Counts `n` more values; past the limit, the reading stops at `pos`.
    fn count(&mut self, n: usize, pos: Pos) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fatal = Some(YamlError {
                pos,
                message: format!(
                    "the document expands to more than {MAX_NODES} values (aliases of aliases?)"
                ),
            });
            return false;
        }
        true
    }

    fn event(&mut self, event: Event<'_>, span: Span) {
        let pos = Pos::from_span(&span);
        let added = match &event {
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => 1,
            Event::Alias(id) => self.anchors.get(id).map_or(1, |(_, n)| *n),
            _ => 0,
        };
        if !self.count(added, pos) {
            return;
        }
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_DEPTH
        {
            self.fatal = Some(YamlError {
                pos,
                message: format!("lists and mappings nest deeper than {MAX_DEPTH} levels"),
            });
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag_is_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                if let Some(tag) = tag.as_ref().filter(|_| !tag_is_str) {
                    self.problems.push(YamlError {
                        pos,
                        message: format!("YAML tag `!{}` is not supported here", tag.suffix),
                    });
                }
                if self.expecting_key() {
                    self.key(text.into_owned(), pos);
                    return;
                }
                let value = if tag_is_str {
                    Value::String(text.into_owned())
                } else {
                    resolve_scalar(&text, style)
                };
                self.remember_anchor(anchor, &value);
                self.value(value, pos);
            }
            Event::Alias(id) => {
                if self.expecting_key() {
                    self.problems.push(YamlError {
                        pos,
                        message: "an alias cannot be used as a mapping key".into(),
                    });
                    self.key(String::new(), pos);
                    return;
                }
                let value = self
                    .anchors
                    .get(&id)
                    .map(|(v, _)| v.clone())
                    .unwrap_or(Value::Null);
                self.value(value, pos);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if self.expecting_key() {
                    self.problems.push(YamlError {
                        pos,
                        message: "a mapping key must be a plain value, not a list or mapping"
                            .into(),
                    });
                    self.key(String::new(), pos);
                }
                let pointer = self.child_pointer();
                self.map.values.insert(pointer.clone(), pos);
                self.stack.push(if is_map {
                    Frame::Map {
                        pointer,
                        entries: Map::new(),
                        pending_key: None,
                        key_positions: HashMap::new(),
                        anchor,
                    }
                } else {
                    Frame::Seq {
                        pointer,
                        items: Vec::new(),
                        anchor,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Map {
                        entries, anchor, ..
                    }) => (Value::Object(entries), anchor),
                    None => return,
                };
                self.remember_anchor(anchor, &value);
                self.attach(value);
            }
            _ => {}
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn key(&mut self, key: String, pos: Pos) {
        let Some(Frame::Map {
            pointer,
            pending_key,
            key_positions,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        let child = format!("{pointer}/{}", escape_pointer(&key));
        if let Some(first) = key_positions.get(&key) {
            let what = if pointer == "/tools" {
                format!("duplicate tool `{key}`")
            } else {
                format!("duplicate key `{key}`")
            };
            self.problems.push(YamlError {
                pos,
                message: format!("{what} (first defined at line {})", first.line),
            });
        } else {
            key_positions.insert(key.clone(), pos);
            self.map.keys.insert(child, pos);
        }
        *pending_key = Some(key);
    }

    /// The pointer of the node about to be attached to the current container.
    fn child_pointer(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { pointer, items, .. }) => format!("{pointer}/{}", items.len()),
            Some(Frame::Map {
                pointer,
                pending_key,
                ..
            }) => format!(
                "{pointer}/{}",
                escape_pointer(pending_key.as_deref().unwrap_or_default())
            ),
        }
    }

    fn value(&mut self, value: Value, pos: Pos) {
        let pointer = self.child_pointer();
        self.map.values.entry(pointer).or_insert(pos);
        self.attach(value);
    }

    fn attach(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => {
                let key = pending_key.take().unwrap_or_default();
                // A duplicate key keeps its first value; the duplicate is reported.
                entries.entry(key).or_insert(value);
            }
        }
    }

    fn remember_anchor(&mut self, anchor: usize, value: &Value) {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), size(value)));
        }
    }
}

/// How many values `value` holds, itself included.
fn size(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(size).sum::<usize>(),
        _ => 1,
    }
}

/// Escapes one JSON Pointer reference token (RFC 6901).
pub fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Resolves a scalar with the YAML 1.2 core schema. Only plain scalars are typed.
fn resolve_scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    if let Some(n) = parse_float(text) {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

fn parse_int(text: &str) -> Option<Number> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8)
    } else {
        (text, 10)
    };
    let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if radix != 10 && unsigned.len() != digits.len() {
        return None;
    }
    i64::from_str_radix(digits, radix)
        .ok()
        .map(Number::from)
        .or_else(|| u64::from_str_radix(digits, radix).ok().map(Number::from))
}

fn parse_float(text: &str) -> Option<Number> {
    // YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    // `.inf` and `.nan` have no JSON form, so they stay strings.
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let starts_ok = body.starts_with(|c: char| c.is_ascii_digit())
        || (body.starts_with('.') && body[1..].starts_with(|c: char| c.is_ascii_digit()));
    if !starts_ok
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
    {
        return None;
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_ok(src: &str) -> Document {
        parse(src).expect("valid YAML")
    }

    #[test]
    fn plain_scalars_are_typed_quoted_ones_are_strings() {
        let doc = parse_ok(
            "a: 78\nb: \"78\"\nc: true\nd: ~\ne: 1.5\nf: '1.5'\ng: 0x1F\nh: -3\ni: .inf\nj: !!str 12\nk: text\n",
        );
        assert_eq!(
            doc.value,
            json!({"a": 78, "b": "78", "c": true, "d": null, "e": 1.5, "f": "1.5",
                   "g": 31, "h": -3, "i": ".inf", "j": "12", "k": "text"})
        );
    }

    #[test]
    fn positions_of_values_and_keys() {
        let doc = parse_ok("tools:\n  send:\n    request:\n      path: /x\n    list: [1, 2]\n");
        let map = &doc.source_map;
        assert_eq!(
            map.value("/tools/send/request/path"),
            Pos {
                line: 4,
                column: 13
            }
        );
        assert_eq!(
            map.key("/tools/send/request/path"),
            Pos { line: 4, column: 7 }
        );
        assert_eq!(
            map.value("/tools/send/list/1"),
            Pos {
                line: 5,
                column: 15
            }
        );
        // Unknown pointers fall back to the nearest ancestor.
        assert_eq!(
            map.value("/tools/send/request/nope"),
            Pos { line: 4, column: 7 }
        );
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let doc = parse_ok("a: 1\nb: 2\na: 3\ntools:\n  x: {}\n  x: {}\n");
        let messages: Vec<_> = doc
            .problems
            .iter()
            .map(|p| format!("{}:{}: {}", p.pos.line, p.pos.column, p.message))
            .collect();
        assert_eq!(
            messages,
            [
                "3:1: duplicate key `a` (first defined at line 1)",
                "6:3: duplicate tool `x` (first defined at line 5)"
            ]
        );
        assert_eq!(doc.value["a"], json!(1));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(
            err.message.starts_with("YAML syntax error:"),
            "{}",
            err.message
        );
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused_in_bounded_memory() {
        // Each level holds nine of the one before: 9^9 values from 300 bytes.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
            bomb.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let e = parse(&bomb).unwrap_err();
        assert!(e.message.contains("expands to more than"), "{}", e.message);
        assert_eq!(e.pos.line, 6);

        let deep = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nest deeper than 64"), "{}", e.message);
    }

    #[test]
    fn anchors_and_aliases_are_expanded() {
        let doc = parse_ok("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(doc.value, json!({"base": {"x": 1}, "copy": {"x": 1}}));
    }

    #[test]
    fn keys_with_slashes_are_escaped_in_pointers() {
        let doc = parse_ok("headers:\n  a/b: 1\n");
        assert_eq!(
            doc.source_map.value("/headers/a~1b"),
            Pos { line: 2, column: 8 }
        );
    }

    #[test]
    fn more_than_one_document_is_an_error() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.message, "a spec file holds exactly one YAML document");
    }
}
