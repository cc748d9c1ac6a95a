//! The `switchboard` binary as a spec author and an operator use it:
//! `validate`, `render` and `tools`, with the config they share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary in the repository root with a clean `SWITCHBOARD_*` environment.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.current_dir(root()).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHBOARD_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn validate_checks_the_configured_specs_by_default() {
    let out = run(&["validate"], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("ok: 20 files, 20 providers, "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_prints_every_problem_and_exits_1() {
    let dir = temp_dir("validate");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "provider: broken\ndisplay_name: B\nbase_url: https://x.example\nauth: {type: none}\ntools:\n  t:\n    description: d\n    parameters: {type: object}\n    request: {method: GET, path: \"/{{ id }}\", heders: {}}\n",
    )
    .unwrap();
    let good = root().join("provider-specs/slack.yaml");
    let out = run(
        &["validate", file.to_str().unwrap(), good.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let f = file.display();
    assert_eq!(
        stdout(&out),
        format!("{f}:9:47: unknown field `heders` (did you mean `headers`?)\n")
    );
    assert_eq!(stderr(&out), "1 problem found\n");

    std::fs::write(&file, "provider: broken\ndisplay_name: B\nbase_url: https://x.example\nauth: {type: none}\ntools:\n  t:\n    description: d\n    parameters: {type: object}\n    request: {method: GET, path: \"/{{ id }}\"}\n").unwrap();
    let out = run(&["validate", dir.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!("{f}:9:34: `id` is not a parameter of tool `t` (parameters: none)\n")
    );
}

#[test]
fn render_prints_the_request_with_secrets_redacted() {
    let out = run(
        &[
            "render",
            "slack.send_message",
            "--params",
            r#"{"channel": "C1", "text": "hi"}"#,
            "--credentials",
            r#"{"access_token": "xoxb-very-secret"}"#,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "POST https://slack.com/api/chat.postMessage\n\
         content-type: application/json; charset=utf-8\n\
         accept: application/json\n\
         authorization: [redacted]\n\
         \n\
         {\n  \"channel\": \"C1\",\n  \"text\": \"hi\"\n}\n"
    );
}

#[test]
fn render_reports_bad_input_clearly() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["render", "slack.nope"],
            "error: unknown tool `slack.nope` (expected provider.tool)\n",
        ),
        (
            &["render", "slack.send_message", "--params", "{bad"],
            "error: --params is not valid JSON: key must be a string at line 1 column 2\n",
        ),
        (
            &[
                "render",
                "slack.send_message",
                "--params",
                r#"{"channel": 5}"#,
            ],
            "error: invalid_parameters: 2 parameters are invalid\n{\n  \"fields\": [\n    {\n      \"field\": \"/text\",\n      \"message\": \"is required\"\n    },\n    {\n      \"field\": \"/channel\",\n      \"message\": \"5 is not of type \\\"string\\\"\"\n    }\n  ]\n}\n",
        ),
    ];
    for (args, expected) in cases {
        let out = run(args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), *expected, "{args:?}");
    }
}

#[test]
fn tools_lists_the_catalog_in_each_format() {
    let out = run(&["tools", "--provider", "slack"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(page["next_cursor"], Value::Null);
    let first = &page["data"][0];
    assert_eq!(first["id"], "slack.send_message");
    assert_eq!(first["provider"], "slack");
    assert_eq!(first["name"], "send_message");
    assert_eq!(
        first["input_schema"]["required"],
        json!(["channel", "text"])
    );
    assert!(first["output_schema"]["properties"]["id"].is_object());

    let name_of = |format: &str, pointer: &str| {
        let out = run(&["tools", "--provider", "slack", "--format", format], &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let page: Value = serde_json::from_str(&stdout(&out)).unwrap();
        page["data"][0].pointer(pointer).cloned()
    };
    assert_eq!(
        name_of("openai", "/function/name"),
        Some(json!("slack__send_message"))
    );
    assert_eq!(name_of("openai", "/type"), Some(json!("function")));
    assert_eq!(
        name_of("anthropic", "/name"),
        Some(json!("slack__send_message"))
    );
    assert!(name_of("anthropic", "/input_schema/properties/channel").is_some());
    assert_eq!(name_of("mcp", "/name"), Some(json!("slack__send_message")));
    assert!(name_of("mcp", "/inputSchema/properties/text").is_some());

    let out = run(&["tools", "--format", "yaml"], &[]);
    assert_eq!(
        stderr(&out),
        "error: unknown format `yaml`: use jsonschema, openai, anthropic or mcp\n"
    );
    let out = run(&["tools", "--provider", "nope"], &[]);
    assert_eq!(stderr(&out), "error: unknown provider `nope`\n");
}

#[test]
fn every_command_reads_the_same_config() {
    let dir = temp_dir("config");
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/specs/acme.yaml"),
        specs.join("acme.yaml"),
    )
    .unwrap();
    let config = dir.join("switchboard.yaml");
    std::fs::write(
        &config,
        format!(
            "specs_dir: {}\nprovider_overrides:\n  acme:\n    base_url: http://127.0.0.1:9999/acme\n",
            specs.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let out = run(&["--config", config, "tools"], &[]);
    let page: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(page["data"][0]["provider"], "acme");

    let out = run(
        &["render", "acme.get_user", "--params", r#"{"id": "7"}"#],
        &[("SWITCHBOARD_CONFIG", config)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("GET http://127.0.0.1:9999/acme/users/7?key=%5Bredacted%5D\n"),
        "{}",
        stdout(&out)
    );

    let out = run(
        &["tools"],
        &[("SWITCHBOARD_SPECS_DIR", specs.to_str().unwrap())],
    );
    let page: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 8);

    let out = run(&["--config", "/nonexistent/switchboard.yaml", "tools"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: cannot read config file /nonexistent/switchboard.yaml")
    );
}

#[test]
fn a_broken_file_does_not_take_the_other_providers_down() {
    let dir = temp_dir("partial");
    std::fs::copy(
        root().join("provider-specs/slack.yaml"),
        dir.join("slack.yaml"),
    )
    .unwrap();
    std::fs::copy(
        root().join("provider-specs/slack.svg"),
        dir.join("slack.svg"),
    )
    .unwrap();
    std::fs::write(dir.join("broken.yaml"), "provider: broken\n").unwrap();
    let specs = dir.to_str().unwrap();
    let out = run(
        &[
            "render",
            "slack.send_message",
            "--params",
            r#"{"channel": "C1", "text": "hi"}"#,
        ],
        &[("SWITCHBOARD_SPECS_DIR", specs)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("POST https://slack.com/api/chat.postMessage\n"));
    let broken = dir.join("broken.yaml");
    assert_eq!(
        stderr(&out),
        format!(
            "warning: {b}:1:1: missing field `display_name`\nwarning: {b}:1:1: missing field `base_url`\nwarning: {b}:1:1: missing field `auth`\nwarning: {b}:1:1: missing field `tools`\n",
            b = broken.display()
        )
    );
}
