//! Spec validation: every problem a spec author can make, with the exact
//! message and position they get back.

use std::path::Path;

use switchboard::registry::{Registry, load_source};

/// Loads `source` as `demo.yaml` and returns its problems as `line:column: message`.
fn validate_case(source: &str) -> Vec<String> {
    match load_source(Path::new("demo.yaml"), source, &Default::default()) {
        Ok(_) => Vec::new(),
        Err(diags) => diags
            .into_iter()
            .map(|d| {
                assert_eq!(d.file, Path::new("demo.yaml"));
                format!("{}:{}: {}", d.line, d.column, d.message)
            })
            .collect(),
    }
}

/// A valid spec to start from; cases replace parts of it.
const VALID: &str = r#"
provider: demo
display_name: Demo
base_url: https://api.demo.example/v1
connection_config:
  region: {description: Data region}
auth:
  type: api_key
  inject:
    headers:
      X-Api-Key: "{{ credentials.api_key }}"
tools:
  get_item:
    description: Get one item.
    parameters:
      type: object
      required: [id]
      properties:
        id: {type: string}
    request:
      method: GET
      path: /items/{{ id }}
      query:
        region: "{{ connection.config.region }}"
    response:
      output:
        name: $.name
"#;

fn with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "the base spec has no `{from}`");
    VALID.replacen(from, to, 1)
}

/// Each case edits the valid spec (`from` → `to`) and expects exactly one problem.
fn edit_cases(cases: &[(&str, &str, &str)]) {
    for (from, to, expected) in cases {
        assert_eq!(
            validate_case(&with(from, to)),
            [expected.to_string()],
            "{to}"
        );
    }
}

#[test]
fn the_base_spec_is_valid() {
    assert_eq!(validate_case(VALID), Vec::<String>::new());
}

#[test]
fn yaml_syntax_errors() {
    let got = validate_case("provider: demo\ntools: [a, b\nx: 1\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("3:"), "{got:?}");
    assert!(got[0].contains("YAML syntax error"), "{got:?}");
}

#[test]
fn structural_problems() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "      query:\n",
            "      quer:\n",
            "23:7: unknown field `quer` (did you mean `query`?)",
        ),
        ("      method: GET\n", "", "20:5: missing field `method`"),
        (
            "    description: Get one item.\n",
            "    description: 42\n",
            "14:18: expected a string, found a number (42)",
        ),
        (
            "      method: GET\n",
            "      method: GTE\n",
            "21:15: `GTE` is not one of `GET`, `POST`, `PUT`, `PATCH`, `DELETE` (did you mean `GET`?)",
        ),
        (
            "tools:\n",
            "timeout_ms: \"30\"\ntools:\n",
            "12:13: expected an integer, found a string (\"30\")",
        ),
        (
            "  get_item:\n",
            "  Get-Item:\n",
            "13:3: tool name `Get-Item` must match `^[a-z0-9_]+$` (lower-case letters, digits, _)",
        ),
        (
            "  type: api_key\n",
            "  type: oauth\n",
            "8:9: `oauth` is not one of `oauth2`, `oauth2_client_credentials`, `api_key`, `bearer`, `basic`, `none` (did you mean `oauth2`?)",
        ),
        (
            "      X-Api-Key: \"{{ credentials.api_key }}\"\n",
            "      X-Api-Key: [a]\n",
            "11:18: expected a string, found a list",
        ),
        (
            "display_name: Demo\n",
            "display_name: Demo\ndisplay_name: Other\n",
            "4:1: duplicate key `display_name` (first defined at line 3)",
        ),
    ];
    edit_cases(cases);
}

#[test]
fn many_problems_of_one_file_come_together() {
    let source = r#"
provider: demo2
display_name: Demo
base_url: http://api.demo.example
auth:
  type: oauth2
  token_url: https://auth.demo.example/token
  inject:
    headers:
      Authorization: "Bearer {{ credentials.acess_token }}"
tools:
  get_item:
    description: Get one item.
    parameters:
      type: object
      properties:
        id: {type: strng}
    request:
      method: GET
      path: /items/{{ idd }}
      query:
        a: "{{ credentials.api_key }}"
        b: "{{ connection.config.hots }}"
        c: "{{ account.config.site }}"
        d: "{{ x + }}"
    response:
      output:
        name: $.name[
  get_item:
    description: again
    parameters: {type: object}
    request: {method: GET, path: /x}
"#;
    assert_eq!(
        validate_case(source),
        [
            "2:11: provider `demo2` must equal the file name `demo`",
            "4:11: `http://api.demo.example` must use https (http is allowed only for loopback hosts)",
            "5:1: missing field `authorization_url`",
            "10:22: `credentials.acess_token` is not a credential of this auth type (credentials: access_token) (did you mean `access_token`?)",
            "17:20: invalid parameter schema: `strng` is not a JSON Schema type (did you mean `string`?)",
            "20:13: `idd` is not a parameter of tool `get_item` (parameters: id) (did you mean `id`?)",
            "22:12: `credentials.api_key`: credentials can only be used in auth.inject, not in tool `get_item`",
            "23:12: `connection.config.hots` is not declared in connection_config",
            "24:12: `account.config.site` is not declared in auth.account_config",
            "25:12: template error: unexpected end of input, expected expression",
            "28:15: invalid JSONPath `$.name[`: parser error (at character 7)",
            "29:3: duplicate tool `get_item` (first defined at line 12)",
        ]
    );
}

#[test]
fn semantic_problems() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "      path: /items/{{ id }}\n",
            "      path: items/x\n",
            "22:13: the path must start with `/`",
        ),
        (
            "base_url: https://api.demo.example/v1\n",
            "base_url: https://{{ region }}.demo.example\n",
            "4:11: `region` is not available in base_url: it may use connection.config and account.config",
        ),
        (
            "base_url: https://api.demo.example/v1\n",
            "base_url: ftp://{{ connection.config.region }}.demo.example\n",
            "4:11: `ftp://{{ connection.config.region }}.demo.example` must start with `https://`",
        ),
        (
            "        id: {type: string}\n",
            "        id: {type: string}\n        credentials: {type: string}\n",
            "20:9: `credentials` is reserved for the template context; choose another parameter name",
        ),
        (
            "      required: [id]\n",
            "      required: [id, idd]\n",
            "17:22: required parameter `idd` is not among the properties (did you mean `id`?)",
        ),
        (
            "      required: [id]\n",
            "      required: []\n",
            "22:13: path variable `id` is optional and has no default, so a call without it cannot build the URL: add it to `required`, give it a `default`, or write `{{ id | default('…') }}`",
        ),
        (
            "        id: {type: string}\n",
            "        id: {type: string, description: The id, as text}\n",
            "19:49: `as text` has no value (in a `{…}` mapping, quote text that holds a comma)",
        ),
        (
            "        id: {type: string}\n",
            "        id: {type: string, desciption: The id}\n",
            "19:28: `desciption` is not a JSON Schema keyword (did you mean `description`?)",
        ),
        (
            "        name: $.name\n",
            "        name: $.name\n      output_schema: {type: object, properties: {nam: {type: string}}}\n",
            "28:50: `nam` is not an output of this tool (outputs: name) (did you mean `name`?)",
        ),
        (
            "      method: GET\n",
            "      method: GET\n      headers: {X-Trace: \"a\\nb\"}\n",
            "22:26: a header value cannot hold a line break (for a YAML block scalar, use `|-` or `>-` to drop the final one)",
        ),
        (
            "auth:\n  type: api_key\n",
            "auth:\n  type: api_key\n  revoke_replaced: true\n",
            "9:20: `revoke_replaced` needs a `revoke_url` to revoke at",
        ),
        (
            "auth:\n  type: api_key\n",
            "auth:\n- type: api_key\n  inject: {headers: {X-Key: \"{{ credentials.api_key }}\"}}\n- type: api_key\n",
            "10:9: a second `api_key` auth method; each type may appear once, since a connection chooses by type",
        ),
        (
            "      path: /items/{{ id }}\n",
            "      path: /items/{{ steps.find.id }}\n",
            "22:13: `steps.find` is not an earlier step of tool `get_item`",
        ),
        (
            "        name: $.name\n",
            "        name: name\n",
            "27:15: invalid JSONPath `name`: parser error (at character 1)",
        ),
        (
            "      X-Api-Key: \"{{ credentials.api_key }}\"\n",
            "      X Api Key: \"{{ credentials.api_key }}\"\n",
            "11:7: `X Api Key` is not a valid HTTP header name",
        ),
        (
            "      X-Api-Key: \"{{ credentials.api_key }}\"\n",
            "      X-Api-Key: \"{{ id }}\"\n",
            "11:18: `id` is not available in auth.inject: it may use connection.config, account.config and credentials",
        ),
        (
            "tools:\n",
            "errors:\n  when: \"$.ok === false\"\ntools:\n",
            "13:9: invalid condition `$.ok === false`: in long-hand segment, expected closing ']' (an RFC 9535 filter expression such as `$.ok == false`)",
        ),
        (
            "    response:\n",
            "    pagination: {type: cursor, items: \"$.items[*]\", cursor: $.next, param: cursor}\n    response:\n",
            "25:39: items must name one list, such as `$.messages` (no wildcards or filters)",
        ),
        (
            "base_url: https://api.demo.example/v1\n",
            "base_url: https://{{ connection.config.region | safe }}.demo.example\n",
            "4:11: the `safe` filter is not allowed in URLs: it would let a value change the host",
        ),
        (
            "base_url: https://api.demo.example/v1\n",
            "base_url: https://{% autoescape false %}{{ connection.config.region }}{% endautoescape %}.demo.example\n",
            "4:11: `{% autoescape %}` is not allowed in URLs: values in a URL are always escaped",
        ),
        (
            "base_url: https://api.demo.example/v1\n",
            "base_url: https://{{ connection.config.region }}.demo.example\n",
            "4:11: `connection.config.region` is part of the host: declare a `pattern` for it in connection_config, so a connection cannot send credentials to a host of its choosing",
        ),
        (
            "      method: GET\n",
            "      method: POST\n      headers: {Content-Type: text/csv}\n      body: {encoding: raw, raw: x, content_type: text/plain}\n",
            "23:51: give `content_type` or a Content-Type header, not both",
        ),
        (
            "    response:\n",
            "    pagination: {type: page, items: $.items}\n    response:\n",
            "25:17: page pagination needs `param` or `body_field`",
        ),
        (
            "    response:\n",
            "    pagination: {type: cursor, items: $.items, cursor: $.next, body_field: /after}\n    response:\n",
            "25:76: body_field needs a JSON request body",
        ),
    ];
    edit_cases(cases);
}

#[test]
fn every_shipped_spec_and_example_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "provider-specs",
        "tests/fixtures/specs",
        "tests/fixtures/oauth",
    ] {
        let report = Registry::load_dir(&root.join(dir), &Default::default());
        let problems: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{dir}: {problems:#?}");
        assert!(
            report.registry.providers().count() > 0,
            "{dir} has no providers"
        );
    }
}

/// The connect page's fields: a logo that is not there or not an image, a
/// permission that names a scope nothing asks for, a help link that is not
/// https, a name lookup that is not a path.
#[test]
fn connect_page_fields_are_checked() {
    let dir = std::env::temp_dir().join(format!("sb-validate-logo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("page.svg"), "<html>not an image</html>").unwrap();
    let logo = |name: &str| {
        let file = dir.join("demo.yaml");
        let source = with("base_url:", &format!("logo: {name}\nbase_url:"));
        match load_source(&file, &source, &Default::default()) {
            Ok(_) => Vec::new(),
            Err(diags) => diags.into_iter().map(|d| d.message).collect::<Vec<_>>(),
        }
    };
    let missing = logo("nowhere.svg");
    assert!(
        missing.len() == 1 && missing[0].contains("nowhere.svg` cannot be read"),
        "{missing:?}"
    );
    assert_eq!(
        logo("page.svg"),
        [format!(
            "`{}` is not the image/svg+xml image its name says",
            dir.join("page.svg").display()
        )]
    );
    std::fs::remove_dir_all(&dir).unwrap();

    edit_cases(&[
        (
            "  type: api_key\n",
            "  type: api_key\n  permissions: [{text: See your items, scopes: [items.read]}]\n",
            "9:48: `api_key` accounts have no scopes",
        ),
        (
            "  type: api_key\n",
            "  type: api_key\n  credential_fields:\n    api_key: {help_url: \"http://demo.example/keys\"}\n",
            "10:25: `http://demo.example/keys` must be an absolute https URL",
        ),
        (
            "  type: api_key\n",
            "  type: api_key\n  account_name: {path: me, value: $.email}\n",
            "9:24: `me` must be a plain path under the base URL, starting with `/`",
        ),
    ]);
}
