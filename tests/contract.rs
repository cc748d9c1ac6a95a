//! Contract tests as data: every shipped provider's test file passes, covers
//! each of its tools, a paginated list and two error answers; and the runner
//! itself checks what it says it checks, with failures a spec author can read.

use std::path::{Path, PathBuf};

use expect_test::expect;
use switchboard::contract::{self, FileReport};
use switchboard::registry::Registry;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Loads `specs` and runs every test file of its `tests/` folder.
fn run_specs(specs: &Path) -> (Registry, Vec<FileReport>) {
    let loaded = Registry::load_dir(specs, &Default::default());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let files = contract::test_files(&[specs.to_path_buf()]).expect("the tests folder is readable");
    assert!(!files.is_empty(), "no test files under {}", specs.display());
    let reports = files
        .iter()
        .map(|f| contract::run_file(f, &loaded.registry))
        .collect();
    (loaded.registry, reports)
}

fn assert_all_pass(reports: &[FileReport]) {
    let failing: String = reports
        .iter()
        .filter(|r| r.failed() > 0)
        .map(contract::describe)
        .collect();
    assert!(failing.is_empty(), "failing contract cases:\n{failing}");
}

#[test]
fn every_shipped_provider_passes_its_contract_tests() {
    let (registry, reports) = run_specs(&root().join("provider-specs"));
    assert_all_pass(&reports);

    for provider in registry.providers() {
        let report = reports
            .iter()
            .find(|r| r.provider.as_deref() == Some(provider.key.as_str()))
            .unwrap_or_else(|| panic!("provider `{}` has no test file", provider.key));
        for tool in provider.tools.keys() {
            assert!(
                report.cases.iter().any(|c| &c.tool == tool),
                "{}.{tool} has no contract case",
                provider.key
            );
        }
        let errors = report.cases.iter().filter(|c| c.expects_error).count();
        assert!(
            errors >= 2,
            "{} has {errors} error cases; at least two (auth, rate limit) are expected",
            provider.key
        );
        let paginated = report.cases.iter().any(|c| {
            c.requests >= 2
                && provider
                    .tools
                    .get(&c.tool)
                    .is_some_and(|t| t.pagination.is_some())
        });
        let has_pagination = provider.tools.values().any(|t| t.pagination.is_some());
        assert!(
            paginated || !has_pagination,
            "{} has no case that follows a second page",
            provider.key
        );
    }
}

#[test]
fn the_feature_fixture_passes() {
    let (_, reports) = run_specs(&root().join("tests/fixtures/contract"));
    assert_all_pass(&reports);
    assert_eq!(reports[0].passed(), 13);
}

#[test]
fn failures_say_what_differs() {
    let specs = root().join("tests/fixtures/contract");
    let registry = Registry::load_dir(&specs, &Default::default()).registry;
    let dir = std::env::temp_dir().join(format!("switchboard-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shop.yaml");
    std::fs::write(
        &file,
        r#"provider: shop
cases:
  - name: wrong request and output
    tool: list_products
    request:
      method: POST
      url: https://api.shop.example/v1/items?limit=3
      headers: {Shop-Version: "2020-01-01", X-Missing: yes}
      json: {a: 1}
    response:
      json: {products: [{id: p1, title: Mug}]}
    output: {items: [{id: p2, name: Mug}]}
  - name: an error expected, the call succeeds
    tool: download
    parameters: {id: f1}
    request: {method: GET, url: https://api.shop.example/v1/files/f1}
    response: {text: hi}
    error: {code: not_found}
  - name: a second request nobody expected
    tool: create_order
    parameters: {products: [p1], card: c}
    request: {method: POST, url: https://api.shop.example/v1/orders, json: {lines: [{product_id: p1}]}}
    response: {json: {id: o1, total: 3}}
  - name: no such tool
    tool: list_prodcts
    error: {code: not_found}
"#,
    )
    .unwrap();
    let report = contract::run_file(&file, &registry);
    let text = contract::describe(&report).replace(&dir.display().to_string(), "DIR");
    std::fs::remove_dir_all(&dir).ok();
    expect![[r#"
        FAIL wrong request and output (DIR/shop.yaml:3)
               request 1: method: expected POST, got GET
               request 1: url: expected https://api.shop.example/v1/items, got https://api.shop.example/v1/products
               request 1: query: expected limit=3, got limit=2
               request 1: header Shop-Version: expected `2020-01-01`, got `2026-01-01`
               request 1: header X-Missing: expected `yes`, not sent
               request 1: body: expected JSON, got no body
               output.items[0].id: expected "p2", got "p1"
               output.items[0].price: not expected, got null
               output.items[0].status: not expected, got "active"
               (the whole output: {"items":[{"id":"p1","name":"Mug","price":null,"status":"active"}]})
        FAIL an error expected, the call succeeds (DIR/shop.yaml:13)
               expected error `not_found`, but the call succeeded with {"content":"hi","mime_type":"text/plain","size":2}
        FAIL a second request nobody expected (DIR/shop.yaml:19)
               request 2 was not expected:
                 POST https://api.shop.example/v1/orders/o1/payments
                 shop-version: 2026-01-01
                 content-type: application/json
                 accept: application/json
                 authorization: [redacted]
       
                 {
                   "card": "c",
                   "amount": 3
                 }
               the call failed: the case gives no answer for request 2 (internal)
        FAIL no such tool (DIR/shop.yaml:24)
               `list_prodcts` is not a tool of `shop` (tools: list_products, create_order, upload_image, put_file, download)
    "#]]
    .assert_eq(&text);
    assert_eq!((report.passed(), report.failed()), (0, 4));
}

#[test]
fn the_generated_guides_are_current() {
    let registry = Registry::load_dir(&root().join("provider-specs"), &Default::default()).registry;
    for (name, text) in [
        ("providers.md", switchboard::guide::providers(&registry)),
        ("tools.md", switchboard::guide::tools(&registry)),
    ] {
        let committed = std::fs::read_to_string(root().join("docs").join(name)).unwrap_or_default();
        assert!(
            committed == text,
            "docs/{name} is stale: run `{}` and commit it",
            switchboard::guide::COMMAND
        );
    }
}

#[test]
fn every_shipped_tool_is_described_for_a_language_model() {
    let registry = Registry::load_dir(&root().join("provider-specs"), &Default::default()).registry;
    for provider in registry.providers() {
        assert!(
            provider.setup.is_some(),
            "{} has no setup notes for operators",
            provider.key
        );
        for tool in provider.tools.values() {
            let id = format!("{}.{}", provider.key, tool.name);
            assert!(tool.description.len() >= 20, "{id}: a one-word description");
            assert_eq!(
                tool.parameters.get("additionalProperties"),
                Some(&serde_json::Value::Bool(false)),
                "{id}: unknown parameters must be refused"
            );
            let properties = tool
                .parameters
                .get("properties")
                .and_then(|p| p.as_object());
            for (name, schema) in properties.into_iter().flatten() {
                assert!(
                    schema
                        .get("description")
                        .and_then(|d| d.as_str())
                        .is_some_and(|d| !d.is_empty()),
                    "{id}: parameter `{name}` has no description"
                );
            }
            assert_eq!(tool.output_schema["type"], "object", "{id}: output_schema");
        }
    }
}

/// What the connect page shows a person deciding whether to connect: the
/// provider's logo, and in plain words what each way of connecting lets the
/// app do — every scope an account may be asked for is explained.
#[test]
fn every_shipped_provider_tells_its_users_what_they_grant() {
    let registry = Registry::load_dir(&root().join("provider-specs"), &Default::default()).registry;
    let mut problems = Vec::new();
    for provider in registry.providers() {
        if provider.logo.is_none() {
            problems.push(format!("{}: no logo", provider.key));
        }
        let tool_scopes: Vec<&String> = provider.tools.values().flat_map(|t| &t.scopes).collect();
        for auth in &provider.auths {
            let method = format!("{} ({})", provider.key, auth.kind.as_str());
            if auth.permissions.is_empty() {
                problems.push(format!("{method}: no permissions"));
            }
            let oauth = matches!(
                auth.kind,
                switchboard::spec::AuthType::Oauth2
                    | switchboard::spec::AuthType::Oauth2ClientCredentials
            );
            if !oauth {
                continue;
            }
            for scope in auth
                .default_scopes
                .iter()
                .chain(tool_scopes.iter().copied())
            {
                if !auth.permissions.iter().any(|p| p.scopes.contains(scope)) {
                    problems.push(format!("{method}: scope `{scope}` is not explained"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
