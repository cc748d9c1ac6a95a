//! Tool catalogs: the loaded tools in the formats apps and LLMs consume.
//!
//! `jsonschema` is the gateway's own format (`{id, provider, name, …}`);
//! `openai`, `anthropic` and `mcp` are the tool-definition shapes of those
//! APIs. LLM formats allow no dots in names, so `slack.send_message` is
//! called `slack__send_message` there.

use std::str::FromStr;

use serde_json::{Value, json};

use crate::registry::{Provider, Registry, Tool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    JsonSchema,
    OpenAi,
    Anthropic,
    Mcp,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "jsonschema" => Ok(Format::JsonSchema),
            "openai" => Ok(Format::OpenAi),
            "anthropic" => Ok(Format::Anthropic),
            "mcp" => Ok(Format::Mcp),
            other => Err(format!(
                "unknown format `{other}`: use jsonschema, openai, anthropic or mcp"
            )),
        }
    }
}

/// The separator of provider and tool in LLM tool names.
pub const LLM_SEPARATOR: &str = "__";

/// `provider__tool` for LLM formats.
pub fn llm_name(provider: &str, tool: &str) -> String {
    format!("{provider}{LLM_SEPARATOR}{tool}")
}

/// Every tool (of one provider, if given) in `format`, in provider then
/// spec order.
pub fn catalog(registry: &Registry, provider: Option<&str>, format: Format) -> Vec<Value> {
    registry
        .providers()
        .filter(|p| provider.is_none_or(|key| p.key == key))
        .flat_map(|p| p.tools.values().map(move |t| entry(p, t, format)))
        .collect()
}

/// One tool in `format`.
pub fn entry(provider: &Provider, tool: &Tool, format: Format) -> Value {
    let description = &tool.description;
    match format {
        Format::JsonSchema => json!({
            "id": format!("{}.{}", provider.key, tool.name),
            "provider": provider.key,
            "name": tool.name,
            "description": description,
            "input_schema": tool.parameters,
            "output_schema": tool.output_schema,
        }),
        Format::OpenAi => json!({
            "type": "function",
            "function": {
                "name": llm_name(&provider.key, &tool.name),
                "description": description,
                "parameters": tool.parameters,
            }
        }),
        Format::Anthropic => json!({
            "name": llm_name(&provider.key, &tool.name),
            "description": description,
            "input_schema": tool.parameters,
        }),
        Format::Mcp => json!({
            "name": llm_name(&provider.key, &tool.name),
            "title": format!("{}: {}", provider.display_name, tool.name.replace('_', " ")),
            "description": description,
            "inputSchema": tool.parameters,
            "outputSchema": tool.output_schema,
        }),
    }
}
