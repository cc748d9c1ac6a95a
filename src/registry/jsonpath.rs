//! Compiled RFC 9535 JSONPaths, with the selection rule outputs follow.
//!
//! An output path either names at most one node by its syntax (a *singular*
//! query: only `.name`, `['name']` and `[index]` selectors) and yields that
//! value or `null`, or it may select many (wildcards, `..`, slices, filters,
//! unions) and always yields a list, possibly empty. The rule depends only on
//! how the path is written, never on the data, so a spec author and an app
//! always know which shape to expect.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A compiled JSONPath and the shape it yields.
#[derive(Debug, Clone)]
pub struct OutputPath {
    path: JsonPath,
    singular: bool,
    source: String,
}

impl OutputPath {
    pub fn parse(source: &str) -> Result<OutputPath, String> {
        let path = JsonPath::parse(source).map_err(|e| {
            format!(
                "invalid JSONPath `{source}`: {} (at character {})",
                e.message(),
                e.position() + 1
            )
        })?;
        Ok(OutputPath {
            path,
            singular: is_singular(source),
            source: source.to_owned(),
        })
    }

    /// The value this path yields for an output field (see module docs).
    pub fn select(&self, value: &Value) -> Value {
        let nodes = self.path.query(value);
        if self.singular {
            nodes.first().map(|v| (*v).clone()).unwrap_or(Value::Null)
        } else {
            Value::Array(nodes.all().into_iter().cloned().collect())
        }
    }

    /// The first node selected, if any.
    pub fn first<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.path.query(value).first()
    }

    /// The JSON Pointer of the first node selected, if any.
    pub fn locate(&self, value: &Value) -> Option<String> {
        self.path
            .query_located(value)
            .first()
            .map(|n| n.location().to_json_pointer())
    }

    pub fn is_singular(&self) -> bool {
        self.singular
    }

    /// For a singular path made of member names only (`$.a.b`, `$['a']`),
    /// the JSON Pointer it names, whether or not the node exists.
    pub fn member_pointer(&self) -> Option<String> {
        if !self.singular {
            return None;
        }
        let mut rest = self.source.strip_prefix('$')?;
        let mut pointer = String::new();
        while !rest.is_empty() {
            let name;
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                name = r[..end].to_owned();
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix("['").or_else(|| rest.strip_prefix("[\"")) {
                let quote = if rest.starts_with("['") { "']" } else { "\"]" };
                let end = r.find(quote)?;
                name = r[..end].to_owned();
                if name.contains('\\') {
                    return None;
                }
                rest = &r[end + 2..];
            } else {
                return None;
            }
            pointer.push('/');
            pointer.push_str(&crate::spec::yaml::escape_pointer(&name));
        }
        Some(pointer)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Whether an RFC 9535 query is singular, read off its text: no wildcard,
/// descendant, slice, filter or union outside string literals.
fn is_singular(source: &str) -> bool {
    let mut previous = '\0';
    for (c, in_string) in chars_with_strings(source) {
        if in_string {
            continue;
        }
        if matches!(c, '*' | '?' | ':' | ',') || (c == '.' && previous == '.') {
            return false;
        }
        previous = c;
    }
    true
}

/// Each character of a JSONPath with whether it stands inside a quoted
/// string literal (quotes included).
fn chars_with_strings(source: &str) -> impl Iterator<Item = (char, bool)> + '_ {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    source.chars().map(move |c| {
        let in_string = match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                true
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                true
            }
            None => false,
        };
        (c, in_string)
    })
}

/// A test over a response body: an RFC 9535 filter expression in which `$`
/// stands for the body, e.g. `$.ok == false` or `length($.errors) > 0`.
#[derive(Debug, Clone)]
pub struct Condition {
    filter: JsonPath,
    source: String,
}

impl Condition {
    pub fn parse(source: &str) -> Result<Condition, String> {
        // `$[?expr]` over `[body]` selects the body when expr holds for it, with
        // the body as `@`: rewrite the author's `$` (outside strings) to `@`.
        let rewritten: String = chars_with_strings(source)
            .map(|(c, in_string)| if c == '$' && !in_string { '@' } else { c })
            .collect();
        let filter = JsonPath::parse(&format!("$[?{rewritten}]")).map_err(|e| {
            format!(
                "invalid condition `{source}`: {} (an RFC 9535 filter expression such as `$.ok == false`)",
                e.message()
            )
        })?;
        Ok(Condition {
            filter,
            source: source.to_owned(),
        })
    }

    pub fn holds(&self, body: &Value) -> bool {
        let wrapped = Value::Array(vec![body.clone()]);
        !self.filter.query(&wrapped).is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn singular_paths_yield_a_value_others_a_list() {
        let body = json!({"a": {"b": [10, 20]}, "items": [{"id": 1}, {"id": 2}], "k.x": 5});
        let cases = [
            ("$", body.clone()),
            ("$.a.b[1]", json!(20)),
            ("$.a.b[5]", json!(null)),
            ("$.missing", json!(null)),
            ("$['k.x']", json!(5)),
            ("$.items[*].id", json!([1, 2])),
            ("$..id", json!([1, 2])),
            ("$.items[?@.id > 1].id", json!([2])),
            ("$.a.b[0:1]", json!([10])),
            ("$.a.b[0,1]", json!([10, 20])),
            ("$.nothing[*]", json!([])),
        ];
        for (path, expected) in cases {
            let p = OutputPath::parse(path).unwrap();
            assert_eq!(p.select(&body), expected, "{path}");
        }
    }

    #[test]
    fn member_pointers() {
        let cases = [
            ("$", Some("")),
            ("$.messages", Some("/messages")),
            ("$.data.issues.nodes", Some("/data/issues/nodes")),
            ("$['a/b'].c", Some("/a~1b/c")),
            ("$.items[0]", None),
            ("$.items[*]", None),
        ];
        for (path, expected) in cases {
            let p = OutputPath::parse(path).unwrap();
            assert_eq!(p.member_pointer().as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn invalid_paths_are_described() {
        let err = OutputPath::parse("$.a[").unwrap_err();
        assert!(err.starts_with("invalid JSONPath `$.a[`:"), "{err}");
        assert!(OutputPath::parse("a.b").is_err());
    }

    #[test]
    fn locate_gives_a_json_pointer() {
        let p = OutputPath::parse("$.data.issues.nodes").unwrap();
        let body = json!({"data": {"issues": {"nodes": []}}});
        assert_eq!(p.locate(&body).as_deref(), Some("/data/issues/nodes"));
    }

    #[test]
    fn conditions_test_the_body() {
        let cases = [
            ("$.ok == false", json!({"ok": false, "error": "x"}), true),
            ("$.ok == false", json!({"ok": true}), false),
            ("$.ok == false", json!({}), false),
            ("$.errors", json!({"errors": [{"message": "m"}]}), true),
            ("$.errors", json!({"data": {}}), false),
            ("length($.errors) > 0", json!({"errors": []}), false),
            ("$.status == 'fail$'", json!({"status": "fail$"}), true),
            ("$.ok == false", json!([1, 2]), false),
        ];
        for (source, body, expected) in cases {
            let c = Condition::parse(source).unwrap();
            assert_eq!(c.holds(&body), expected, "{source} on {body}");
        }
    }

    #[test]
    fn invalid_conditions_are_described() {
        let err = Condition::parse("$.ok === false").unwrap_err();
        assert!(
            err.starts_with("invalid condition `$.ok === false`"),
            "{err}"
        );
    }
}
