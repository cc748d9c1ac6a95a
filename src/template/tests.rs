use minijinja::Value as JinjaValue;
use serde_json::json;

use super::*;

fn ctx(v: serde_json::Value) -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(&v))
}

/// Adds `source`, builds, and evaluates it against `context`.
fn eval_case(
    source: &str,
    escape: Escape,
    context: serde_json::Value,
) -> Result<Option<serde_json::Value>, RenderFailure> {
    let mut b = TemplateSetBuilder::default();
    let added = match escape {
        Escape::None => b.add(source),
        other => b.add_text(source, other),
    }
    .expect("compiles");
    let set = b.build().expect("builds");
    set.eval(added.id, &ctx(context))
        .map(|v| v.map(|v| serde_json::to_value(&v).unwrap()))
}

#[test]
fn whole_expressions_keep_their_type() {
    let cases = [
        ("{{ n }}", json!({"n": 78}), Some(json!(78))),
        (
            "{{ {'a': {'b': n}} }}",
            json!({"n": 1}),
            Some(json!({"a": {"b": 1}})),
        ),
        ("{{ n }}}}", json!({"n": 1}), Some(json!("1}}"))),
        (
            "{{ s | base64_decode }}",
            json!({"s": "aGk_"}),
            Some(json!("hi?")),
        ),
        (
            "{{ s | base64_decode }}",
            json!({"s": "aGk/"}),
            Some(json!("hi?")),
        ),
        (
            "{{ t | rfc3339 }}",
            json!({"t": "1503435956.000247"}),
            Some(json!("2017-08-22T21:05:56Z")),
        ),
        (
            "{{ t | rfc3339 }}",
            json!({"t": 0}),
            Some(json!("1970-01-01T00:00:00Z")),
        ),
        (
            "{{ people | objects('email') }}",
            json!({"people": ["a@example.com", "b@example.com"]}),
            Some(json!([{"email": "a@example.com"}, {"email": "b@example.com"}])),
        ),
        ("{{ s }}", json!({"s": "78"}), Some(json!("78"))),
        (
            "{{ list }}",
            json!({"list": [1, "a"]}),
            Some(json!([1, "a"])),
        ),
        ("{{- flag -}}", json!({"flag": true}), Some(json!(true))),
        ("{{ missing }}", json!({}), None),
        ("{{ missing | default('x') }}", json!({}), Some(json!("x"))),
        ("{{ n }} items", json!({"n": 3}), Some(json!("3 items"))),
        (
            "{{ obj | json }}",
            json!({"obj": {"a": [1]}}),
            Some(json!("{\"a\":[1]}")),
        ),
        ("{{ s | base64 }}", json!({"s": "hi?"}), Some(json!("aGk/"))),
        (
            "{{ s | base64url }}",
            json!({"s": "hi?"}),
            Some(json!("aGk_")),
        ),
        (
            "{{ s | urlencode }}",
            json!({"s": "a b&c"}),
            Some(json!("a%20b%26c")),
        ),
        (
            "{{ n }}-{{ none_value }}",
            json!({"n": 1, "none_value": null}),
            Some(json!("1-")),
        ),
    ];
    for (source, context, expected) in cases {
        assert_eq!(
            eval_case(source, Escape::None, context).unwrap(),
            expected,
            "{source}"
        );
    }
}

#[test]
fn undefined_variables_fail_in_text_templates() {
    let err = eval_case("Hello {{ name }}", Escape::None, json!({})).unwrap_err();
    assert!(matches!(err, RenderFailure::Undefined(_)), "{err:?}");
}

#[test]
fn path_templates_encode_every_value_as_one_segment() {
    let cases = [
        ("/users/{{ id }}", "42", "/users/42"),
        ("/users/{{ id }}", "../admin", "/users/..%2Fadmin"),
        (
            "/users/{{ id }}/x",
            "x@evil.example/",
            "/users/x%40evil.example%2F/x",
        ),
        ("/q/{{ id }}", "a?b#c%d e", "/q/a%3Fb%23c%25d%20e"),
        ("/files/{{ id }}", "report.pdf", "/files/report.pdf"),
        ("/u/{{ id }}", "Zoë", "/u/Zo%C3%AB"),
    ];
    for (source, id, expected) in cases {
        let got = eval_case(source, Escape::PathSegment, json!({"id": id})).unwrap();
        assert_eq!(got, Some(json!(expected)), "{source} with {id}");
    }
}

#[test]
fn dot_segments_are_refused_in_paths() {
    for id in [".", "..", "..."] {
        let err =
            eval_case("/users/{{ id }}", Escape::PathSegment, json!({ "id": id })).unwrap_err();
        assert!(matches!(err, RenderFailure::Invalid(_)), "{id}: {err:?}");
    }
}

#[test]
fn url_templates_keep_values_inside_their_component() {
    let cases = [
        (
            "gitlab.example.com:8443",
            "https://gitlab.example.com:8443/api",
        ),
        ("evil.example/x?", "https://evil.example%2Fx%3F/api"),
        ("a@b", "https://a%40b/api"),
    ];
    for (host, expected) in cases {
        let got = eval_case(
            "https://{{ h }}/api",
            Escape::UrlComponent,
            json!({ "h": host }),
        )
        .unwrap();
        assert_eq!(got, Some(json!(expected)), "{host}");
    }
}

#[test]
fn variables_are_reported_dotted() {
    let mut b = TemplateSetBuilder::default();
    let added = b
        .add("{{ rfc2822_message(to=to, subject=subject) }}{{ connection.config.host }}{% if x %}{{ x }}{% endif %}")
        .unwrap();
    let vars: Vec<_> = added.variables.into_iter().collect();
    assert_eq!(vars, ["connection.config.host", "subject", "to", "x"]);
}

#[test]
fn syntax_errors_are_described() {
    let mut b = TemplateSetBuilder::default();
    let err = b.add("{{ a + }}").unwrap_err();
    assert!(err.contains("unexpected"), "{err}");
    let err = b.add("{% if a %}x").unwrap_err();
    assert!(err.contains("unexpected end of input"), "{err}");
}

#[test]
fn rfc2822_message_builds_a_message() {
    let got = eval_case(
        "{{ rfc2822_message(to=to, subject=subject, body=body, cc=cc) }}",
        Escape::None,
        json!({"to": "Ann Lee <ann@example.com>, bob@example.com", "subject": "Hello",
               "body": "Line one\nLine two", "cc": ["carol@example.com"]}),
    )
    .unwrap()
    .unwrap();
    let text = got.as_str().unwrap();
    assert!(
        text.contains("To: \"Ann Lee\" <ann@example.com>, <bob@example.com>\r\n"),
        "{text}"
    );
    assert!(text.contains("Cc: <carol@example.com>\r\n"), "{text}");
    assert!(text.contains("Subject: Hello\r\n"), "{text}");
    assert!(text.contains("Line one\r\nLine two"), "{text}");
    assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
}

#[test]
fn rfc2822_message_encodes_non_ascii_and_refuses_header_injection() {
    let got = eval_case(
        "{{ rfc2822_message(to=to, subject=subject, body=body) }}",
        Escape::None,
        json!({"to": "ann@example.com", "subject": "Grüße", "body": "ok"}),
    )
    .unwrap()
    .unwrap();
    assert!(got.as_str().unwrap().contains("Subject: =?utf-8?"), "{got}");

    for (field, value) in [
        ("subject", "Hi\r\nBcc: victim@example.com"),
        ("to", "ann@example.com\r\nBcc: victim@example.com"),
        ("to", "not-an-address"),
    ] {
        let mut params = json!({"to": "ann@example.com", "subject": "s", "body": "b"});
        params[field] = json!(value);
        let err = eval_case(
            "{{ rfc2822_message(to=to, subject=subject, body=body) }}",
            Escape::None,
            params,
        )
        .unwrap_err();
        assert!(matches!(err, RenderFailure::Invalid(_)), "{field}: {err:?}");
    }
}

#[test]
fn absent_optional_arguments_are_left_out_of_the_message() {
    let got = eval_case(
        "{{ rfc2822_message(to=to, subject=subject, body=body, cc=cc|default(none)) }}",
        Escape::None,
        json!({"to": "ann@example.com", "subject": "s", "body": "b"}),
    )
    .unwrap()
    .unwrap();
    assert!(!got.as_str().unwrap().contains("Cc:"), "{got}");
}

#[test]
fn raw_output_cannot_leave_a_url_component() {
    let evil = json!({"x": "evil.example/steal?"});
    for source in [
        "https://{{ x }}.acme.example",
        "https://{% autoescape false %}{{ x }}{% endautoescape %}.acme.example",
        "https://{{ x | safe }}.acme.example",
    ] {
        assert_eq!(
            eval_case(source, Escape::UrlComponent, evil.clone()),
            Ok(Some(json!("https://evil.example%2Fsteal%3F.acme.example"))),
            "{source}"
        );
    }
    // `..` would climb out of the base path.
    assert!(matches!(
        eval_case(
            "https://api.example/ex/{{ x }}/rest",
            Escape::UrlComponent,
            json!({"x": ".."})
        ),
        Err(RenderFailure::Invalid(_))
    ));
}
