//! Structural checks of a spec file against the spec-format schema.
//!
//! The schema (`docs/provider-spec.schema.json`) is the single description of
//! which fields exist, which are required and what type each has; editors use
//! it while an author types, and this module uses it to report every
//! structural problem of a file at once. Messages are written here, for spec
//! authors: `unknown field `heders` (did you mean `headers`?)`.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::Diagnostics;
use super::yaml::escape_pointer;

/// The spec-format schema, shipped with the binary.
pub static SPEC_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../docs/provider-spec.schema.json"))
        .expect("the bundled spec schema is valid JSON")
});

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    jsonschema::validator_for(&SPEC_SCHEMA).expect("the bundled spec schema compiles")
});

/// Reports every structural problem of `document`.
pub fn check(document: &Value, diags: &mut Diagnostics<'_>) {
    for error in VALIDATOR.iter_errors(document) {
        report(&error, diags);
    }
}

fn report(error: &ValidationError<'_>, diags: &mut Diagnostics<'_>) {
    let at = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_properties(error.schema_path().as_str());
            for name in unexpected {
                let pointer = format!("{at}/{}", escape_pointer(name));
                let hint = suggestion(name, allowed.iter().map(String::as_str));
                diags.at_key(&pointer, format!("unknown field `{name}`{hint}"));
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            diags.at_key(at, format!("missing field `{name}`"));
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            diags.at(
                at,
                format!(
                    "expected {} {expected}, found {}",
                    article(&expected),
                    describe(error.instance())
                ),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let found = error.instance();
            let hint = found
                .as_str()
                .map(|s| suggestion(s, options.iter().copied()))
                .unwrap_or_default();
            diags.at(
                at,
                format!(
                    "{} is not one of {}{hint}",
                    show(found),
                    options
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            let name = inner.instance().as_str().unwrap_or_default().to_owned();
            let pattern = match inner.kind() {
                ValidationErrorKind::Pattern { pattern } => pattern.clone(),
                _ => String::new(),
            };
            let what = if at == "/tools" { "tool name" } else { "name" };
            diags.at_key(
                &format!("{at}/{}", escape_pointer(&name)),
                format!("{what} `{name}` must match `{pattern}` (lower-case letters, digits, _)"),
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            diags.at(
                at,
                format!("{} must match `{pattern}`", show(error.instance())),
            );
        }
        ValidationErrorKind::MinProperties { limit } => {
            diags.at(
                at,
                format!(
                    "needs at least {limit} entr{}",
                    if *limit == 1 { "y" } else { "ies" }
                ),
            );
        }
        ValidationErrorKind::Minimum { limit } => diags.at(at, format!("must be at least {limit}")),
        ValidationErrorKind::Maximum { limit } => diags.at(at, format!("must be at most {limit}")),
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            diags.at(at, format!("must be greater than {limit}"))
        }
        _ => diags.at(at, error.to_string()),
    }
}

/// The property names the schema allows where an `additionalProperties: false`
/// keyword failed, for "did you mean" hints.
fn allowed_properties(schema_path: &str) -> Vec<String> {
    let parent = schema_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(schema_path);
    SPEC_SCHEMA
        .pointer(&format!("{parent}/properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// ` (did you mean `x`?)` when one candidate is close to `found`.
pub fn suggestion<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(found, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4) && *distance < c.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string (\"{s}\")"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}
