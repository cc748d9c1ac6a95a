//! Property tests: random spec text, random parameters and random provider
//! answers (their headers too) give errors, never panics, and no provider
//! can make the gateway wait longer than a day.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use switchboard::engine::{self, CallContext, ProviderResponse};
use switchboard::error::MAX_RETRY_AFTER_S;
use switchboard::registry::{Registry, load_source};
use switchboard::spec::RetrySpec;
use switchboard::upstream::retry::{MAX_PROVIDER_DELAY, RetryConfig, RetryPolicy};

fn fixture_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs/acme.yaml");
        std::fs::read_to_string(path).unwrap()
    })
}

fn contract_registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/contract");
        Registry::load_dir(&dir, &Default::default()).registry
    })
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs");
        Registry::load_dir(&dir, &Default::default()).registry
    })
}

/// What a provider may put in `Retry-After` or a reset header: numbers of
/// every size and sign, HTTP dates of any year, and noise.
fn delay_header() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        (0u64..253_402_300_799).prop_map(|s| httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)
        )),
        Just("1e300".to_owned()),
        Just("inf".to_owned()),
        Just("NaN".to_owned()),
        "[ -~]{0,40}",
    ]
}

/// Arbitrary JSON, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just(".."),
            Just("../admin"),
            Just("a\r\nb"),
            Just("{{ x }}"),
            Just("%2e%2e")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Parameters that mostly use the tools' real names, with random values.
fn params() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "id", "fields", "verbose", "title", "priority", "tags", "due", "trace_id", "name",
        "labels", "text", "other",
    ]);
    prop::collection::btree_map(names, json_value(), 0..6).prop_map(|m| {
        Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics_the_loader(text in "(?s).{0,400}") {
        let _ = load_source(Path::new("demo.yaml"), &text, &Default::default());
    }

    #[test]
    fn yaml_shaped_text_never_panics_the_loader(
        lines in prop::collection::vec("( {0,6})([a-z_]{1,10}|-)(: ?)([a-z{}$.\\[\\]*\"' ]{0,16})", 0..30)
    ) {
        let _ = load_source(Path::new("demo.yaml"), &lines.join("\n"), &Default::default());
    }

    #[test]
    fn a_mutilated_spec_never_panics_the_loader(cut in any::<prop::sample::Index>(), len in 0usize..40, insert in ".{0,12}") {
        let source = fixture_source();
        let at = cut.index(source.len());
        let at = (0..=at).rev().find(|i| source.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + len).min(source.len());
        let end = (end..=source.len()).find(|i| source.is_char_boundary(*i)).unwrap_or(source.len());
        let mutated = format!("{}{}{}", &source[..at], insert, &source[end..]);
        let _ = load_source(Path::new("acme.yaml"), &mutated, &Default::default());
    }

    #[test]
    fn random_parameters_never_panic_rendering(tool in prop::sample::select(vec![
        "get_user", "create_note", "post_form", "upload_text", "list_pages",
    ]), params in params()) {
        let (provider, tool) = registry().tool(&format!("acme.{tool}")).unwrap();
        let connection = json!({"site": "north"}).as_object().cloned().unwrap();
        let credentials = json!({"api_key": "k"}).as_object().cloned().unwrap();
        let ctx = CallContext {
            connection_config: Some(&connection),
            credentials: Some(&credentials),
            ..CallContext::default()
        };
        if let Ok(req) = engine::render(provider, tool, &params, &ctx) {
            prop_assert_eq!(req.url.host_str(), Some("north.acme.example"));
            prop_assert!(req.url.path().starts_with("/api/v2/"));
        }
    }

    #[test]
    fn random_answers_never_panic_the_mapping(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..64), json in json_value()) {
        let fixtures = registry();
        let contract = contract_registry();
        // Plain paths, and per-item fields and value expressions.
        for (registry, id) in [(fixtures, "acme.get_user"), (contract, "shop.list_products")] {
            let (provider, tool) = registry.tool(id).unwrap();
            for response in [
                ProviderResponse { status, headers: Default::default(), body: body.clone() },
                ProviderResponse::json(status, &json),
            ] {
                match engine::check(provider, &response) {
                    Ok(parsed) => { let _ = engine::map_output(provider, tool, &parsed); }
                    Err(e) => prop_assert_eq!(e.provider.as_deref(), Some(provider.key.as_str())),
                }
            }
        }
    }

    #[test]
    fn random_provider_headers_give_bounded_waits(
        retry_after in delay_header(),
        reset in delay_header(),
        status in prop::sample::select(vec![200u16, 400, 429, 500, 503]),
        body_delay in any::<f64>(),
    ) {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [("retry-after", &retry_after), ("x-ratelimit-reset", &reset)] {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        }
        let spec = RetrySpec {
            max_attempts: None,
            on_status: None,
            retry_after_header: None,
            reset_header: Some("X-RateLimit-Reset".into()),
        };
        let policy = RetryPolicy::new(&RetryConfig::default(), Some(&spec));
        if let Some(wait) = policy.server_delay(&headers) {
            prop_assert!(wait <= MAX_PROVIDER_DELAY, "{wait:?}");
        }
        // The error a caller gets passes the ask on, bounded, from headers
        // or (Discord-style) from the body.
        let (provider, _) = contract_registry().tool("shop.list_products").unwrap();
        let body = json!({"error": {"retry_after": body_delay}}).to_string().into_bytes();
        let response = ProviderResponse { status, headers, body };
        if let Err(e) = engine::check(provider, &response) {
            prop_assert!(e.retry_after_s.is_none_or(|s| s <= MAX_RETRY_AFTER_S), "{e:?}");
        }
    }
}
