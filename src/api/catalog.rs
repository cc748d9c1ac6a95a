//! `/v1/providers` and `/v1/tools`: what the loaded specs offer.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::SharedState;
use super::connections::unknown_provider;
use super::envelope::{ApiResult, Path, Query, invalid};
use crate::catalog::{self, Format};
use crate::registry::Provider;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsQuery {
    provider: Option<String>,
    format: Option<String>,
}

pub async fn providers(State(state): State<SharedState>) -> axum::Json<Value> {
    let registry = state.specs.current();
    let data: Vec<Value> = registry.providers().map(|p| summary(p)).collect();
    axum::Json(json!({"data": data, "next_cursor": null}))
}

pub async fn provider(
    State(state): State<SharedState>,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let registry = state.specs.current();
    let p = registry
        .provider(&key)
        .ok_or_else(|| unknown_provider(&key, registry.providers().map(|p| p.key.as_str())))?;
    let mut body = summary(p);
    body["description"] = json!(p.description);
    body["docs_url"] = json!(p.docs_url);
    body["connection_config"] = json!(
        p.connection_config
            .iter()
            .map(|(k, f)| (
                k.clone(),
                json!({"description": f.description, "required": f.required, "default": f.default})
            ))
            .collect::<serde_json::Map<_, _>>()
    );
    let fields = |a: &crate::registry::Auth| -> serde_json::Map<String, Value> {
        a.credential_fields
            .iter()
            .map(|(k, f)| {
                let field = json!({"label": f.label, "description": f.description,
                                   "secret": f.secret, "help_url": f.help_url});
                (k.clone(), field)
            })
            .collect()
    };
    body["logo_url"] = json!(
        p.logo
            .as_ref()
            .map(|_| format!("/assets/providers/{}/logo", p.key))
    );
    body["credential_fields"] = json!(fields(p.auth()));
    body["default_scopes"] = json!(p.auth().default_scopes);
    body["auth_methods"] = json!(
        p.auths
            .iter()
            .map(|a| json!({
                "auth_type": a.kind.as_str(),
                "label": a.label,
                "default_scopes": a.default_scopes,
                "credential_fields": fields(a),
                "permissions": a.permissions.iter().map(|l| json!({"text": l.text, "scopes": l.scopes})).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    );
    body["setup"] = json!(p.setup);
    Ok(axum::Json(body))
}

pub async fn tools(
    State(state): State<SharedState>,
    Query(q): Query<ToolsQuery>,
) -> ApiResult<axum::Json<Value>> {
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("jsonschema")
        .parse()
        .map_err(invalid)?;
    let registry = state.specs.current();
    if let Some(key) = &q.provider
        && registry.provider(key).is_none()
    {
        return Err(unknown_provider(
            key,
            registry.providers().map(|p| p.key.as_str()),
        ));
    }
    let data = catalog::catalog(&registry, q.provider.as_deref(), format);
    Ok(axum::Json(json!({"data": data, "next_cursor": null})))
}

fn summary(p: &Provider) -> Value {
    json!({
        "provider": p.key,
        "display_name": p.display_name,
        "categories": p.categories,
        "auth_type": p.auth().kind.as_str(),
        "auth_types": p.auth_types(),
        "tools": p.tools.keys().collect::<Vec<_>>(),
    })
}
