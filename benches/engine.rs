//! Hot-path cost of the engine: rendering a typical tool call and mapping a
//! typical response, measured on the fixture provider (which uses every
//! feature) and on the shipped Slack spec. Also the one-off cost of loading
//! and compiling the shipped specs, for comparison.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use switchboard::engine::{self, CallContext, ProviderResponse};
use switchboard::registry::Registry;

/// The gateway's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(dir: &str) -> Registry {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let report = Registry::load_dir(&dir, &Default::default());
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    report.registry
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn bench_render_and_map(c: &mut Criterion) {
    let fixtures = load("tests/fixtures/specs");
    let shipped = load("provider-specs");
    let connection = obj(json!({"site": "north"}));
    let credentials = obj(json!({"api_key": "k", "access_token": "xoxb-1"}));
    let ctx = CallContext {
        connection_config: Some(&connection),
        credentials: Some(&credentials),
        ..CallContext::default()
    };

    let cases = [
        (
            &fixtures,
            "acme.create_note",
            json!({"title": "Ship it", "priority": 2, "tags": ["a", "b"]}),
            json!({"id": "n_1", "created": true}),
        ),
        (
            &fixtures,
            "acme.get_user",
            json!({"id": "u_42", "fields": ["name", "emails"]}),
            json!({"user": {"id": "u_42", "name": "Ann", "emails": [{"address": "a@example.com"}]}}),
        ),
        (
            &shipped,
            "slack.send_message",
            json!({"channel": "C0123", "text": "Deploy finished"}),
            json!({"ok": true, "channel": "C0123", "ts": "1712345678.000100",
                   "message": {"text": "Deploy finished", "type": "message", "ts": "1712345678.000100"}}),
        ),
    ];
    for (registry, id, params, answer) in cases {
        let Some((provider, tool)) = registry.tool(id) else {
            continue;
        };
        let response = ProviderResponse::json(200, &answer);
        c.bench_function(&format!("render+map {id}"), |b| {
            b.iter(|| {
                let req = engine::render(provider, tool, black_box(&params), &ctx).unwrap();
                let body = engine::check(provider, black_box(&response)).unwrap();
                black_box((req, engine::map_output(provider, tool, &body)))
            })
        });
        c.bench_function(&format!("render {id}"), |b| {
            b.iter(|| engine::render(provider, tool, black_box(&params), &ctx).unwrap())
        });
    }
}

fn bench_load(c: &mut Criterion) {
    c.bench_function("load provider-specs", |b| b.iter(|| load("provider-specs")));
}

criterion_group!(benches, bench_render_and_map, bench_load);
criterion_main!(benches);
