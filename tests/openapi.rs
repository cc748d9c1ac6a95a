//! The OpenAPI document: served at /openapi.json, valid JSON with this
//! gateway as its server, and describing every route the router has (read
//! from the router's source, so a new route without a description fails).

mod common;

use std::collections::BTreeSet;

use common::{Backend, Setup, TestGateway, specs_dir};
use reqwest::StatusCode;
use serde_json::Value;

/// `(METHOD, path)` of every route in `src/api/mod.rs`, path parameters
/// written `{}`.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/api/mod.rs");
    let v1_start = source
        .find("let v1 = Router::new()")
        .expect("the /v1 router");
    let v1_end = v1_start + source[v1_start..].find(';').expect("its end");
    let mut routes = BTreeSet::new();
    let calls = source
        .match_indices(".route(")
        .chain(source.match_indices(".route_service("));
    for (at, name) in calls {
        let call = &source[at..];
        let after = call[name.len()..].trim_start();
        let Some(quoted) = after.strip_prefix('"') else {
            continue;
        };
        let mut path = quoted[..quoted.find('"').unwrap()].to_owned();
        let path_end = call.len() - after.len() + 1 + path.len();
        if (v1_start..v1_end).contains(&at) {
            path = format!("/v1{path}");
        }
        // The call's text up to the next route (its handlers).
        let rest = &call[path_end..];
        let body = &rest[..rest[1..].find(".route").map_or(rest.len(), |i| i + 1)];
        let methods: Vec<&str> = if call.starts_with(".route_service") {
            vec!["POST"]
        } else {
            [
                ("get(", "GET"),
                ("post(", "POST"),
                ("patch(", "PATCH"),
                ("delete(", "DELETE"),
                ("any(", "GET"),
            ]
            .iter()
            .filter(|(f, _)| {
                body.match_indices(f)
                    .any(|(i, _)| !body[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
            })
            .map(|(_, m)| *m)
            .collect()
        };
        for m in methods {
            routes.insert((m.to_owned(), normalize(&path)));
        }
    }
    routes
}

/// `/v1/proxy/{id}/{*path}` → `/v1/proxy/{}/{}`.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            c => out.push(c),
        }
    }
    out.trim_end_matches('/').to_owned()
}

fn document_routes(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "head", "options"]
                .contains(&method.as_str())
            {
                routes.insert((method.to_uppercase(), normalize(path)));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_is_described_and_the_document_is_served() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["examples/demo/notes.yaml"])),
    )
    .await;
    let response = gw.client.get(gw.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["servers"][0]["url"], gw.base);

    let documented = document_routes(&served);
    let routes = router_routes();
    assert!(routes.len() > 20, "{routes:?}");
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from docs/openapi.json: {missing:?}"
    );
    let stale: Vec<_> = documented
        .iter()
        .filter(|(_, path)| !routes.iter().any(|(_, p)| p == path))
        .collect();
    assert!(
        stale.is_empty(),
        "documented paths the router lacks: {stale:?}"
    );
    gw.stop().await;
}
