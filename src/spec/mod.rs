//! Provider specs: the YAML model, reading it with positions, and the
//! structural checks a spec author gets back as `file:line:column: message`.
//!
//! Reading a file goes: YAML → JSON value with a [`yaml::SourceMap`] → the
//! spec-format schema (`docs/provider-spec.schema.json`, every structural
//! problem at once) → the typed [`ProviderSpec`]. Semantic checks (templates,
//! JSONPaths, parameter schemas, variable names) happen when the registry
//! compiles the spec, and report through the same [`Diagnostics`].

pub mod model;
mod structure;
pub use structure::suggestion;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::*;
pub use yaml::{Pos, SourceMap};

/// One problem in one spec file, at a position a spec author can jump to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Collects the problems of one file, positioned through its source map.
#[derive(Debug)]
pub struct Diagnostics<'a> {
    file: &'a Path,
    source_map: &'a SourceMap,
    pub list: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, source_map: &'a SourceMap) -> Diagnostics<'a> {
        Diagnostics {
            file,
            source_map,
            list: Vec::new(),
        }
    }

    /// A problem with the value at `pointer`.
    pub fn at(&mut self, pointer: &str, message: impl Into<String>) {
        let pos = self.source_map.value(pointer);
        self.push(pos, message.into());
    }

    /// A problem with the key whose value is at `pointer` (unknown fields, names).
    pub fn at_key(&mut self, pointer: &str, message: impl Into<String>) {
        let pos = self.source_map.key(pointer);
        self.push(pos, message.into());
    }

    pub fn push(&mut self, pos: Pos, message: String) {
        self.list.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A spec as far as it could be read, with the problems found so far.
///
/// Structural problems do not stop the reading: tools that are well-formed
/// on their own are still handed on, so compilation can report their
/// template and JSONPath problems in the same run.
#[derive(Debug)]
pub struct ParsedSpec {
    pub spec: ProviderSpec,
    pub source_map: SourceMap,
    /// Problems found so far (YAML, structure, file name).
    pub problems: Vec<Diagnostic>,
    /// Whether everything but the tools was well-formed; when not, `spec`
    /// holds placeholders outside `tools`, which must not be checked further.
    pub header_ok: bool,
}

/// Reads one spec file's text: YAML, structure, and the file-name rule.
/// Only a YAML syntax error stops the reading; every other problem is
/// collected in [`ParsedSpec::problems`].
pub fn parse(file: &Path, source: &str) -> Result<ParsedSpec, Vec<Diagnostic>> {
    let doc = yaml::parse(source).map_err(|e| {
        vec![Diagnostic {
            file: file.to_path_buf(),
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
        }]
    })?;
    let mut diags = Diagnostics::new(file, &doc.source_map);
    for problem in &doc.problems {
        diags.push(problem.pos, problem.message.clone());
    }
    structure::check(&doc.value, &mut diags);
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if let Some(key) = doc.value.get("provider").and_then(|v| v.as_str())
        && stem != key
    {
        diags.at(
            "/provider",
            format!("provider `{key}` must equal the file name `{stem}`"),
        );
    }
    let structure_ok = diags.is_empty();

    let (spec, header_ok) = match serde_path_to_error::deserialize::<_, ProviderSpec>(&doc.value) {
        Ok(spec) => (spec, true),
        Err(e) => {
            // The schema and the model agree, so this is reached only with
            // structural problems already reported; report it otherwise.
            if structure_ok {
                diags.at(&path_to_pointer(e.path()), e.inner().to_string());
            }
            salvage(&doc.value, stem)
        }
    };
    let mut problems = diags.list;
    problems.sort_by_key(|d| (d.line, d.column));
    Ok(ParsedSpec {
        spec,
        source_map: doc.source_map,
        problems,
        header_ok,
    })
}

/// The well-formed parts of a spec that failed to deserialize as a whole:
/// every tool that deserializes on its own, and the header if it does.
fn salvage(value: &serde_json::Value, stem: &str) -> (ProviderSpec, bool) {
    let tools: indexmap::IndexMap<String, ToolSpec> = value
        .get("tools")
        .and_then(|t| t.as_object())
        .map(|tools| {
            tools
                .iter()
                .filter_map(|(k, v)| {
                    let tool = serde_json::from_value::<ToolSpec>(v.clone()).ok()?;
                    Some((k.clone(), tool))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut header = value.clone();
    if let Some(obj) = header.as_object_mut() {
        obj.insert("tools".into(), serde_json::json!({}));
    }
    if let Ok(mut spec) = serde_json::from_value::<ProviderSpec>(header) {
        spec.tools = tools;
        return (spec, true);
    }
    let names = |pointer: &str| -> indexmap::IndexMap<String, serde_json::Value> {
        value
            .pointer(pointer)
            .and_then(|v| v.as_object())
            .map(|m| {
                m.keys()
                    .map(|k| (k.clone(), serde_json::json!({})))
                    .collect()
            })
            .unwrap_or_default()
    };
    let placeholder = serde_json::json!({
        "provider": stem,
        "display_name": stem,
        "base_url": "https://placeholder.invalid",
        "connection_config": names("/connection_config"),
        "auth": {"type": "none", "account_config": names("/auth/account_config")},
        "tools": {},
    });
    let mut spec: ProviderSpec =
        serde_json::from_value(placeholder).expect("the placeholder spec is well-formed");
    spec.tools = tools;
    (spec, false)
}
fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&yaml::escape_pointer(key))
            }
            Segment::Unknown => {}
        }
    }
    pointer
}
