//! The generated guides: `docs/providers.md` (each provider's auth, scopes,
//! tools and set-up) and `docs/tools.md` (the unified tool vocabulary, each
//! tool with its parameters, outputs and the providers that answer to it).
//!
//! Both are written from the loaded specs by `switchboard docs`, so they say
//! what the gateway really serves; a test fails when the committed files are
//! stale.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::registry::{Auth, Provider, Registry, Tool};
use crate::spec::AuthType;

/// The command that writes the guides, named in their headers.
pub const COMMAND: &str = "cargo run -- docs";

/// `docs/providers.md`.
pub fn providers(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Providers\n\n<!-- Generated from provider-specs/ by `{COMMAND}`; edit the specs, not this file. -->\n"
    );
    out.push_str(
        "Every provider is one spec in `provider-specs/`. An app registers a connection per provider \
         (its OAuth client, or nothing for token methods), then connects its users' accounts. For every \
         OAuth method, register the gateway's redirect URI with the provider: \
         `<public_url>/v1/oauth/callback` (for a local gateway, `http://127.0.0.1:8080/v1/oauth/callback`). \
         Where a provider offers several auth methods, the connection picks one with `auth_type`; the first \
         listed is the default.\n\n",
    );
    out.push_str("| Provider | Categories | Auth methods | Tools |\n|---|---|---|---|\n");
    for p in registry.providers() {
        let _ = writeln!(
            out,
            "| [{}](#{}) | {} | {} | {} |",
            p.display_name,
            p.key,
            p.categories.join(", "),
            p.auth_types()
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
            p.tools.len()
        );
    }
    for p in registry.providers() {
        provider_section(&mut out, p);
    }
    out
}

fn provider_section(out: &mut String, p: &Provider) {
    let _ = writeln!(
        out,
        "\n<a id=\"{}\"></a>\n## {} (`{}`)\n",
        p.key, p.display_name, p.key
    );
    if let Some(d) = &p.description {
        let _ = writeln!(out, "{d}\n");
    }
    if let Some(url) = &p.docs_url {
        let _ = writeln!(out, "API documentation: <{url}>\n");
    }
    out.push_str("**Auth**\n\n");
    for (i, auth) in p.auths.iter().enumerate() {
        auth_line(out, auth, i == 0);
    }
    out.push('\n');
    if !p.connection_config.is_empty() {
        out.push_str("**Connection settings** (`config` of the connection)\n\n");
        for (name, field) in &p.connection_config {
            let mut facts = Vec::new();
            if field.required {
                facts.push("required".to_owned());
            }
            if let Some(d) = &field.default {
                facts.push(format!("default `{d}`"));
            }
            let _ = writeln!(
                out,
                "- `{name}`{}: {}",
                if facts.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", facts.join(", "))
                },
                field.description.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }
    out.push_str(
        "**Tools**\n\n| Tool | What it does | Scopes beyond the defaults |\n|---|---|---|\n",
    );
    for tool in p.tools.values() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            tool.name,
            cell(first_sentence(&tool.description)),
            if tool.scopes.is_empty() {
                "—".to_owned()
            } else {
                tool.scopes
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        );
    }
    if let Some(setup) = &p.setup {
        let _ = writeln!(out, "\n**Setting it up**\n\n{}", setup.trim_end());
    }
}

fn auth_line(out: &mut String, auth: &Auth, default: bool) {
    let mut line = format!("- `{}`", auth.kind.as_str());
    if let Some(label) = &auth.label {
        let _ = write!(line, " ({label})");
    }
    if default {
        line.push_str(", the default");
    }
    line.push_str(": ");
    match auth.kind {
        AuthType::Oauth2 | AuthType::Oauth2ClientCredentials => {
            let scopes = if auth.default_scopes.is_empty() {
                "none".to_owned()
            } else {
                auth.default_scopes
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = write!(
                line,
                "{}; scopes asked of every account: {scopes}",
                if auth.kind == AuthType::Oauth2 {
                    if auth.pkce {
                        "OAuth 2.0 authorization code with PKCE"
                    } else {
                        "OAuth 2.0 authorization code"
                    }
                } else {
                    "OAuth 2.0 client credentials"
                }
            );
            if auth.revoke_url.is_some() {
                line.push_str("; tokens are revoked when an account is deleted");
            }
        }
        AuthType::None => line.push_str("no credentials"),
        _ => {
            let fields: Vec<String> = auth
                .credential_fields
                .iter()
                .map(|(k, f)| match &f.label {
                    Some(label) => format!("`{k}` ({label})"),
                    None => format!("`{k}`"),
                })
                .collect();
            let _ = write!(line, "the account's credentials: {}", fields.join(", "));
        }
    }
    if auth.base_url.is_some() {
        line.push_str("; calls go to this method's own base URL");
    }
    let _ = writeln!(out, "{line}");
}

/// `docs/tools.md`: per category, each tool name with the providers that
/// implement it, its parameters and its outputs.
pub fn tools(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Tools\n\n<!-- Generated from provider-specs/ by `{COMMAND}`; edit the specs, not this file. -->\n"
    );
    out.push_str(
        "The same job has the same tool name, the same parameter names and the same output names on \
         every provider of a category: that is what one API means to an app or an agent. Call a tool as \
         `{\"connected_account_id\": \"ca_…\", \"tool\": \"send_message\", \"parameters\": {…}}`; the \
         account says which provider answers. Creates return `id` (and `url` where the provider gives \
         one); lists return `items`, each with `id` and the fields below where the provider's answer has \
         them, and take `max_results`, a cap across pages. A provider may add parameters it truly needs \
         (Teams' `team_id`) and tools of its own; the tables say which provider takes what.\n\n\
         Times are RFC 3339 (`2024-01-20T10:00:00Z`). Ids are the provider's own; the tools that list \
         things (`list_channels`, `list_projects`, `list_teams`, …) are how an agent finds them.\n",
    );
    let mut categories: BTreeMap<&str, Vec<&Provider>> = BTreeMap::new();
    for p in registry.providers() {
        for c in &p.categories {
            categories.entry(c.as_str()).or_default().push(p);
        }
    }
    for (category, providers) in &categories {
        let _ = writeln!(
            out,
            "\n## {category}\n\nProviders: {}.\n",
            providers
                .iter()
                .map(|p| format!("[{}](providers.md#{})", p.display_name, p.key))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut by_name: BTreeMap<&str, Vec<(&Provider, &Tool)>> = BTreeMap::new();
        for p in providers {
            for t in p.tools.values() {
                by_name.entry(t.name.as_str()).or_default().push((p, t));
            }
        }
        let mut names: Vec<_> = by_name.into_iter().collect();
        names.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        for (name, impls) in names {
            tool_section(&mut out, name, &impls, providers.len());
        }
    }
    out
}

fn tool_section(out: &mut String, name: &str, impls: &[(&Provider, &Tool)], of: usize) {
    let keys: Vec<&str> = impls.iter().map(|(p, _)| p.key.as_str()).collect();
    let _ = writeln!(
        out,
        "### `{name}`\n\n{}\n\n{}\n",
        first_sentence(&impls[0].1.description),
        if impls.len() == of {
            format!("Every provider: {}.", keys.join(", "))
        } else {
            format!("Providers: {}.", keys.join(", "))
        }
    );
    // Parameters: each name once, with who takes it.
    let mut params: Vec<(String, String, Vec<&str>, Vec<&str>)> = Vec::new();
    for (p, t) in impls {
        let required: Vec<&str> = t
            .parameters
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = t.parameters.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (param, schema) in props {
            let entry = match params.iter_mut().find(|e| &e.0 == param) {
                Some(e) => e,
                None => {
                    params.push((param.clone(), type_of(schema), Vec::new(), Vec::new()));
                    params.last_mut().expect("just pushed")
                }
            };
            entry.2.push(p.key.as_str());
            if required.contains(&param.as_str()) {
                entry.3.push(p.key.as_str());
            }
        }
    }
    if params.is_empty() {
        out.push_str("No parameters.\n\n");
    } else {
        out.push_str("| Parameter | Type | Required | Taken by |\n|---|---|---|---|\n");
        for (param, kind, takers, requirers) in &params {
            let _ = writeln!(
                out,
                "| `{param}` | {kind} | {} | {} |",
                who(requirers, takers.len().max(1), "no"),
                who(takers, impls.len(), "")
            );
        }
        out.push('\n');
    }
    let mut outputs: Vec<(String, Vec<&str>)> = Vec::new();
    for (p, t) in impls {
        for field in output_names(t) {
            match outputs.iter_mut().find(|o| o.0 == field) {
                Some(o) => o.1.push(p.key.as_str()),
                None => outputs.push((field, vec![p.key.as_str()])),
            }
        }
    }
    if !outputs.is_empty() {
        out.push_str("Output: ");
        let list: Vec<String> = outputs
            .iter()
            .map(|(field, by)| {
                if by.len() == impls.len() {
                    format!("`{field}`")
                } else {
                    format!("`{field}` ({})", by.join(", "))
                }
            })
            .collect();
        let _ = writeln!(out, "{}.\n", list.join(", "));
    }
}

/// The output names of a tool, `items.x` for the fields of listed items.
fn output_names(tool: &Tool) -> Vec<String> {
    let Some(props) = tool
        .output_schema
        .get("properties")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for (name, schema) in props {
        match schema
            .pointer("/items/properties")
            .and_then(Value::as_object)
        {
            Some(fields) if name == "items" => {
                names.extend(fields.keys().map(|f| format!("items[].{f}")));
            }
            _ => names.push(name.clone()),
        }
    }
    names
}

/// "all", a list of providers, or `none` when the list is empty.
fn who(list: &[&str], all: usize, none: &str) -> String {
    match list.len() {
        0 => none.to_owned(),
        n if n == all => "all".to_owned(),
        _ => list.join(", "),
    }
}

fn type_of(schema: &Value) -> String {
    match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ if schema.get("enum").is_some() => "enum".to_owned(),
        _ => "any".to_owned(),
    }
}

fn first_sentence(text: &str) -> &str {
    let text = text.trim();
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
