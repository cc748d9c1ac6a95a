//! The Grafana dashboard, `deploy/grafana/switchboard.json`, names only what
//! the gateway exports. Every query of every panel (rows' panels included)
//! and every template variable is read with a small PromQL tokenizer, and
//! each metric and label it names is checked against `Metrics::catalog()`,
//! which lists every registered family even before it has a series. A real
//! gateway's scrape then shows the unlabelled metrics the dashboard uses.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{Backend, Setup, TestGateway, specs_dir};
use serde_json::{Value, json};
use switchboard::metrics::{MetricInfo, Metrics};

const DASHBOARD: &str = "deploy/grafana/switchboard.json";

/// The datasource every query names: the dashboard's own variable, so the
/// operator picks the Prometheus that scrapes their fleet.
const DATASOURCE_VARIABLE: &str = "${datasource}";

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["instance", "job"];

/// Variables Grafana defines itself.
const GRAFANA_VARIABLES: &[&str] = &[
    "__rate_interval",
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
];

/// Metrics the gateway sets as it starts, whatever their labels.
const SET_AT_START: &[&str] = &["switchboard_build_info", "switchboard_spec_reloads_total"];

// === The checks ===

#[test]
fn the_dashboard_names_only_registered_metrics_and_labels() {
    let problems = check_dashboard(&shipped_dashboard());
    assert!(
        problems.is_empty(),
        "{DASHBOARD}:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_registered_metric_is_on_the_dashboard() {
    let used = used_families(&shipped_dashboard());
    let metrics = Metrics::new();
    let missing: Vec<&str> = metrics
        .catalog()
        .iter()
        .map(|info| info.name.as_str())
        .filter(|name| !used.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "registered but shown on no panel of {DASHBOARD} (add a panel for each): {missing:?}"
    );
}

/// A dashboard of three panels, one inside a collapsed row, that passes.
fn small_dashboard() -> Value {
    let ds = json!({"type": "prometheus", "uid": DATASOURCE_VARIABLE});
    let calls = r#"sum by (outcome) (rate(switchboard_tool_executions_total{instance=~"$instance"}[$__rate_interval]))"#;
    json!({
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "query": "prometheus"},
            {"type": "query", "name": "instance", "datasource": ds,
             "query": {"query": "label_values(switchboard_build_info, instance)"}},
        ]},
        "panels": [
            {"id": 1, "type": "timeseries", "title": "Calls",
             "targets": [{"refId": "A", "datasource": ds, "expr": calls}]},
            {"id": 2, "type": "row", "title": "More", "collapsed": true, "panels": [
                {"id": 3, "type": "timeseries", "title": "Loaded", "targets": [
                    {"refId": "A", "datasource": ds, "expr": "switchboard_providers_loaded"},
                    {"refId": "B", "datasource": ds, "expr": "switchboard_tools_loaded"},
                ]},
            ]},
        ],
    })
}

/// What a mistake on the dashboard looks like in the test's output.
#[test]
fn a_mistake_names_its_panel_and_query() {
    let text = small_dashboard().to_string();
    assert_eq!(check_dashboard(&small_dashboard()), Vec::<String>::new());
    let cases: &[(&str, &str, &str)] = &[
        (
            "switchboard_tool_executions_total",
            "switchboard_tool_executon_total",
            "panel 1 \"Calls\", query A: `switchboard_tool_executon_total` is not a metric the \
             gateway registers (did you mean `switchboard_tool_executions_total`?)",
        ),
        (
            "sum by (outcome)",
            "sum by (reason)",
            "panel 1 \"Calls\", query A: `switchboard_tool_executions_total` has no label \
             `reason` (its labels: provider, tool, outcome, instance, job)",
        ),
        (
            "switchboard_tools_loaded",
            "switchboard_tool_loaded",
            "panel 3 \"Loaded\", query B: `switchboard_tool_loaded` is not a metric the gateway \
             registers (did you mean `switchboard_tools_loaded`?)",
        ),
        (
            "build_info, instance)",
            "build_info, replica)",
            "variable \"instance\": `switchboard_build_info` has no label `replica` (its labels: \
             version, store, instance, job)",
        ),
        (
            "[$__rate_interval]",
            "[$__rate_intervl]",
            "panel 1 \"Calls\", query A: `$__rate_intervl` is not a variable of the dashboard",
        ),
        (
            "(rate(",
            "(rat(",
            "panel 1 \"Calls\", query A: cannot read `sum by (outcome) \
             (rat(switchboard_tool_executions_total{instance=~\"$instance\"}[$__rate_interval]))`: \
             `rat` is not a PromQL function",
        ),
        (
            "\"id\":3",
            "\"id\":1",
            "panel id 1 is used by 2 panels: \"Calls\", \"Loaded\"",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(text.contains(from), "{from}");
        let broken: Value = serde_json::from_str(&text.replace(from, to)).unwrap();
        assert_eq!(
            check_dashboard(&broken),
            [expected.to_string()],
            "after `{from}` → `{to}`"
        );
    }
}

#[test]
fn every_query_uses_the_datasource_variable() {
    let mut dashboard = small_dashboard();
    dashboard["panels"][0]["targets"][0]["datasource"] =
        json!({"type": "prometheus", "uid": "abc"});
    dashboard["panels"][1]["panels"][0]["datasource"] = json!({"type": "prometheus", "uid": "abc"});
    dashboard["templating"]["list"][1]["datasource"] = Value::Null;
    dashboard["templating"]["list"][0]["query"] = json!("loki");
    assert_eq!(
        check_dashboard(&dashboard),
        [
            "the dashboard has no Prometheus variable `datasource`",
            "variable \"instance\": its datasource is null, not \
             {\"type\":\"prometheus\",\"uid\":\"${datasource}\"}",
            "panel 1 \"Calls\", query A: its datasource is {\"type\":\"prometheus\",\"uid\":\"abc\"}, \
             not the dashboard's variable {\"type\":\"prometheus\",\"uid\":\"${datasource}\"}",
            "panel 3 \"Loaded\": its datasource is {\"type\":\"prometheus\",\"uid\":\"abc\"}, \
             not the dashboard's variable {\"type\":\"prometheus\",\"uid\":\"${datasource}\"}",
        ]
    );
}

/// The example deployment scrapes and balances every gateway it runs,
/// under the job the dashboard's replica panels select, and mounts the
/// dashboard where Grafana is told to look.
#[test]
fn the_example_deployment_matches_the_dashboard() {
    let read = |path: &str| std::fs::read_to_string(root().join(path)).unwrap();
    let yaml = |path: &str| {
        switchboard::spec::yaml::parse(&read(path))
            .unwrap_or_else(|e| panic!("{path}: {}", e.message))
            .value
    };
    let compose = yaml("deploy/compose.yaml");
    let prometheus = yaml("deploy/prometheus.yml");
    let provisioning = yaml("deploy/grafana/provisioning/dashboards/switchboard.yaml");
    let nginx = read("deploy/nginx.conf");

    let gateways: Vec<String> = compose["services"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|name| name.starts_with("gateway"))
        .map(|name| format!("{name}:8080"))
        .collect();
    assert_eq!(gateways.len(), 2);
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["job_name"], "switchboard");
    assert_eq!(job["static_configs"][0]["targets"], json!(gateways));
    for gateway in &gateways {
        assert!(
            nginx.contains(&format!("server {gateway} ")),
            "{gateway} is not in deploy/nginx.conf"
        );
    }

    let dashboard = shipped_dashboard();
    for query in queries(&dashboard) {
        let up = uses(query.expr).unwrap().iter().any(|(m, _)| m == "up");
        assert!(
            !up || query.expr.contains(r#"job="switchboard""#),
            "{}: select the scrape job: {}",
            query.place,
            query.expr
        );
    }

    let folder = provisioning["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    let mount = format!("./grafana/switchboard.json:{folder}/switchboard.json:ro");
    assert!(
        compose["services"]["grafana"]["volumes"]
            .as_array()
            .unwrap()
            .contains(&json!(mount)),
        "grafana does not mount {mount}"
    );
}

/// The gauges a scrape shows from the start are there on a real gateway,
/// and every family it exports is in the catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_gateway_exports_what_the_dashboard_shows_from_the_start() {
    let gw = TestGateway::start(
        &Backend::Sqlite,
        Setup::new(specs_dir(&["tests/fixtures/specs/acme.yaml"])),
    )
    .await;
    let scrape = gw.metrics().await;
    gw.stop().await;

    let series: BTreeSet<&str> = scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap())
        .collect();
    let metrics = Metrics::new();
    let families: BTreeMap<&str, &MetricInfo> = metrics
        .catalog()
        .iter()
        .map(|info| (info.name.as_str(), info))
        .collect();
    let used = used_families(&shipped_dashboard());
    let expected: Vec<&str> = used
        .iter()
        .map(String::as_str)
        .filter(|name| families[name].labels.is_empty() || SET_AT_START.contains(name))
        .collect();
    assert!(expected.contains(&"switchboard_providers_loaded"));
    for name in &expected {
        assert!(
            series.contains(name),
            "the dashboard shows `{name}`, which a fresh gateway does not export:\n{scrape}"
        );
    }

    // Every family the scrape has is registered, with the kind it says.
    for line in scrape.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut words = line["# TYPE ".len()..].split(' ');
        let (name, kind) = (words.next().unwrap(), words.next().unwrap());
        let info = families
            .get(name)
            .unwrap_or_else(|| panic!("`{name}` is scraped but not in the catalog"));
        assert_eq!(info.kind.as_str(), kind, "{name}");
    }

    // The values the replica row reads.
    let build_info = format!(
        "switchboard_build_info{{store=\"sqlite\",version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(scrape.lines().any(|l| l == build_info), "{scrape}");
    assert!(
        scrape
            .lines()
            .any(|l| l == "switchboard_providers_loaded 1"),
        "{scrape}"
    );
    let started: u64 = scrape
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_start_time_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now - 120 < started && started <= now, "{started} vs {now}");
}

// === The dashboard ===

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_dashboard() -> Value {
    let text = std::fs::read_to_string(root().join(DASHBOARD)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"))
}

/// Every panel, the panels of rows (collapsed rows hold theirs) included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in panels.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// A query of a panel, with where it is.
struct Query<'a> {
    place: String,
    target: &'a Value,
    expr: &'a str,
}

fn queries(dashboard: &Value) -> Vec<Query<'_>> {
    let mut out = Vec::new();
    for panel in all_panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(Query {
                place: format!(
                    "panel {} {}, query {}",
                    panel["id"],
                    panel["title"],
                    target["refId"].as_str().unwrap_or("?")
                ),
                target,
                expr: target["expr"].as_str().unwrap_or_default(),
            });
        }
    }
    out
}

/// The template variables' queries, as written (a string, or an object
/// with `query`).
fn variable_queries(dashboard: &Value) -> Vec<(String, &str)> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let query = v["query"]
                .as_str()
                .or_else(|| v["query"]["query"].as_str())
                .unwrap_or_default();
            (format!("variable {}", v["name"]), query)
        })
        .collect()
}

/// Every problem of the dashboard, each with its place.
fn check_dashboard(dashboard: &Value) -> Vec<String> {
    let known = known_series();
    let datasource = json!({"type": "prometheus", "uid": DATASOURCE_VARIABLE});
    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .chain(GRAFANA_VARIABLES.iter().copied())
        .collect();
    let mut problems = Vec::new();

    let source = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "datasource");
    match source {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        _ => problems.push("the dashboard has no Prometheus variable `datasource`".to_owned()),
    }
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] == "query" && v["datasource"] != datasource {
            problems.push(format!(
                "variable {}: its datasource is {}, not {datasource}",
                v["name"], v["datasource"]
            ));
        }
    }
    for (place, query) in variable_queries(dashboard) {
        let found = variable_query_uses(query)
            .map(|uses| check_uses(&uses, &known))
            .unwrap_or_else(|e| vec![format!("cannot read `{query}`: {e}")]);
        let unknown = unknown_variables(query, &variables);
        problems.extend(
            found
                .into_iter()
                .chain(unknown)
                .map(|p| format!("{place}: {p}")),
        );
    }

    for query in queries(dashboard) {
        if query.target["datasource"] != datasource {
            problems.push(format!(
                "{}: its datasource is {}, not the dashboard's variable {datasource}",
                query.place, query.target["datasource"]
            ));
        }
        if query.expr.trim().is_empty() {
            problems.push(format!("{}: no expr", query.place));
            continue;
        }
        let found = uses(query.expr)
            .map(|uses| check_uses(&uses, &known))
            .unwrap_or_else(|e| vec![format!("cannot read `{}`: {e}", query.expr)]);
        let unknown = unknown_variables(query.expr, &variables);
        problems.extend(
            found
                .into_iter()
                .chain(unknown)
                .map(|p| format!("{}: {p}", query.place)),
        );
    }

    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for panel in all_panels(dashboard) {
        if !panel["datasource"].is_null() && panel["datasource"] != datasource {
            problems.push(format!(
                "panel {} {}: its datasource is {}, not the dashboard's variable {datasource}",
                panel["id"], panel["title"], panel["datasource"]
            ));
        }
        ids.entry(panel["id"].to_string())
            .or_default()
            .push(panel["title"].to_string());
    }
    for (id, titles) in ids {
        if id == "null" {
            problems.push(format!("panels without an id: {}", titles.join(", ")));
        } else if titles.len() > 1 {
            problems.push(format!(
                "panel id {id} is used by {} panels: {}",
                titles.len(),
                titles.join(", ")
            ));
        }
    }
    problems
}

/// The families (by their catalog name) the dashboard's queries and
/// variables use.
fn used_families(dashboard: &Value) -> BTreeSet<String> {
    let metrics = Metrics::new();
    let family_of: BTreeMap<String, String> = metrics
        .catalog()
        .iter()
        .flat_map(|info| {
            info.series()
                .into_iter()
                .map(|s| (s.name, info.name.clone()))
        })
        .collect();
    let exprs = queries(dashboard).into_iter().map(|q| q.expr);
    let mut used = BTreeSet::new();
    for expr in exprs {
        for (metric, _) in uses(expr).unwrap_or_default() {
            used.extend(family_of.get(&metric).cloned());
        }
    }
    for (_, query) in variable_queries(dashboard) {
        for (metric, _) in variable_query_uses(query).unwrap_or_default() {
            used.extend(family_of.get(&metric).cloned());
        }
    }
    used
}

/// Every series name a query may use, with the labels it may ask of it:
/// the family's own (`le` on `_bucket`), and those Prometheus adds.
fn known_series() -> BTreeMap<String, Vec<String>> {
    let target_labels = || TARGET_LABELS.iter().map(|l| (*l).to_owned());
    let mut known: BTreeMap<String, Vec<String>> = Metrics::new()
        .catalog()
        .iter()
        .flat_map(MetricInfo::series)
        .map(|s| {
            (
                s.name,
                s.labels.into_iter().chain(target_labels()).collect(),
            )
        })
        .collect();
    // Prometheus' own per-target series: was the scrape a success.
    known.insert("up".to_owned(), target_labels().collect());
    known
}

/// What is wrong with a query's uses.
fn check_uses(
    found: &[(String, Vec<String>)],
    known: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (metric, labels) in found {
        let Some(allowed) = known.get(metric) else {
            let hint = closest(metric, known.keys())
                .map(|m| format!(" (did you mean `{m}`?)"))
                .unwrap_or_default();
            problems.push(format!(
                "`{metric}` is not a metric the gateway registers{hint}"
            ));
            continue;
        };
        for label in labels.iter().filter(|l| !allowed.contains(l)) {
            problems.push(format!(
                "`{metric}` has no label `{label}` (its labels: {})",
                allowed.join(", ")
            ));
        }
    }
    problems
}

/// The known name nearest to a misspelt one, if one is near.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    known
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, k)| k)
}

/// `$name`, `${name}`, `${name:format}` and `[[name]]` in a query that
/// the dashboard does not define.
fn unknown_variables(text: &str, defined: &BTreeSet<&str>) -> Vec<String> {
    let word = |s: &str| -> usize {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['$', '[']) {
        let after = &rest[at + 1..];
        let name = match (&rest[at..at + 1], after.strip_prefix(['{', '['])) {
            ("$", Some(inner)) => &inner[..word(inner)],
            ("$", None) => &after[..word(after)],
            ("[", Some(inner)) if after.starts_with('[') => &inner[..word(inner)],
            _ => "",
        };
        if !name.is_empty() {
            names.push(name);
        }
        rest = after;
    }
    names
        .into_iter()
        .filter(|n| !defined.contains(n))
        .map(|n| format!("`${n}` is not a variable of the dashboard"))
        .collect()
}

// === Reading PromQL ===

/// One lexical piece of a PromQL query.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A name: a metric, a function, a keyword or a label.
    Name(String),
    /// A string literal's content, escapes as written.
    Str(String),
    /// A number or a duration (`0.95`, `1e3`, `5m`).
    Number(String),
    /// The inside of a range or subquery, `[5m]` or `[$__rate_interval]`.
    Range(String),
    /// A dashboard variable outside a string or a range: `$n`, `${n}`.
    Variable(String),
    /// An operator or a bracket.
    Op(&'static str),
}

const OPERATORS: &[&str] = &[
    "==", "!=", "=~", "!~", "<=", ">=", "(", ")", "{", "}", ",", "=", "+", "-", "*", "/", "%", "^",
    "<", ">", "@",
];

/// Splits a query into tokens; comments are dropped.
fn tokenize(query: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = query.chars().collect();
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                // A raw (backquoted) string has no escapes.
                i += if chars[i] == '\\' && c != '`' { 2 } else { 1 };
            }
            if i >= chars.len() {
                return Err(format!("the string at {start} is not closed"));
            }
            tokens.push(Token::Str(text(start + 1, i)));
            i += 1;
        } else if c == '[' {
            let mut depth = 0;
            while i < chars.len() {
                match chars[i] {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            if depth != 0 {
                return Err(format!("the range at {start} is not closed"));
            }
            tokens.push(Token::Range(text(start + 1, i - 1)));
        } else if c == '$' {
            i += 1;
            let braced = chars.get(i) == Some(&'{');
            if braced {
                i += 1;
            }
            let name_start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name = text(name_start, i);
            if braced {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            }
            if name.is_empty() {
                return Err(format!("a `$` at {start} names no variable"));
            }
            tokens.push(Token::Variable(name));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                // An exponent's sign: 1e-3.
                let exponent = matches!(chars[i], 'e' | 'E')
                    && !text(start, i).starts_with("0x")
                    && matches!(chars.get(i + 1), Some('+' | '-'));
                i += if exponent { 2 } else { 1 };
            }
            tokens.push(Token::Number(text(start, i)));
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            tokens.push(Token::Name(text(start, i)));
        } else {
            let rest = text(i, (i + 2).min(chars.len()));
            let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
                return Err(format!("unexpected `{c}` at {start}"));
            };
            tokens.push(Token::Op(op));
            i += op.len();
        }
    }
    Ok(tokens)
}

/// Aggregation operators: `sum by (x) (…)` or `sum (…) by (x)`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "end",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "start",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Keywords that take a label list: grouping of an aggregation, and
/// vector matching of a binary operation.
const GROUPING: &[&str] = &["by", "without"];
const MATCHING: &[&str] = &["on", "ignoring", "group_left", "group_right"];

/// Keywords and literals that are neither metrics nor functions.
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "atan2", "bool", "offset", "inf", "nan",
];

/// Each series selector of a query, in order: its metric, and the labels
/// the query asks of it (its matchers, the `by`/`without` of every
/// aggregation around it, and the `on`/`ignoring`/`group_*` labels of the
/// query, which must be on every side).
fn uses(query: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let tokens = tokenize(query)?;
    let name_at = |i: usize| match tokens.get(i) {
        Some(Token::Name(n)) => Some(n.as_str()),
        _ => None,
    };
    let op_at = |i: usize, op: &'static str| tokens.get(i) == Some(&Token::Op(op));
    // (token index of the selector, metric, labels)
    let mut selectors: Vec<(usize, String, Vec<String>)> = Vec::new();
    // (labels, token range of the aggregation's body)
    let mut groupings: Vec<(Vec<String>, std::ops::Range<usize>)> = Vec::new();
    let mut matching: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some(name) = name_at(i) else {
            if op_at(i, "{") {
                let (metric, labels, next) = matchers(&tokens, i)?;
                let metric =
                    metric.ok_or(format!("a selector without a metric name at token {i}"))?;
                selectors.push((i, metric, labels));
                i = next;
            } else {
                i += 1;
            }
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if GROUPING.contains(&name) {
            // Recorded with its aggregation; only skipped here.
            i = label_list(&tokens, i + 1)?.1;
        } else if MATCHING.contains(&name) {
            if op_at(i + 1, "(") {
                let (labels, next) = label_list(&tokens, i + 1)?;
                matching.extend(labels);
                i = next;
            } else {
                i += 1;
            }
        } else if KEYWORDS.contains(&lower.as_str()) {
            i += 1;
        } else if AGGREGATIONS.contains(&name) {
            groupings.push(aggregation(&tokens, i)?);
            i += 1;
        } else if op_at(i + 1, "(") {
            if !FUNCTIONS.contains(&name) {
                return Err(format!("`{name}` is not a PromQL function"));
            }
            i += 1;
        } else if op_at(i + 1, "{") {
            let (named, labels, next) = matchers(&tokens, i + 1)?;
            if let Some(other) = named.filter(|n| n != name) {
                return Err(format!("`{name}` is also named `{other}`"));
            }
            selectors.push((i, name.to_owned(), labels));
            i = next;
        } else {
            selectors.push((i, name.to_owned(), Vec::new()));
            i += 1;
        }
    }
    Ok(selectors
        .into_iter()
        .map(|(at, metric, mut labels)| {
            for (grouped, body) in &groupings {
                if body.contains(&at) {
                    labels.extend(grouped.iter().cloned());
                }
            }
            labels.extend(matching.iter().cloned());
            let mut seen = BTreeSet::new();
            labels.retain(|l| seen.insert(l.clone()));
            (metric, labels)
        })
        .collect())
}

/// The grouping labels and body of the aggregation whose operator is at
/// `at`: `op by (labels) (body)` or `op (body) by (labels)`.
fn aggregation(
    tokens: &[Token],
    at: usize,
) -> Result<(Vec<String>, std::ops::Range<usize>), String> {
    let is_grouping =
        |i: usize| matches!(tokens.get(i), Some(Token::Name(n)) if GROUPING.contains(&n.as_str()));
    let (labels, body_start) = if is_grouping(at + 1) {
        label_list(tokens, at + 2)?
    } else {
        (Vec::new(), at + 1)
    };
    if tokens.get(body_start) != Some(&Token::Op("(")) {
        return Err(format!("an aggregation without its `(` at token {at}"));
    }
    let body_end = closing(tokens, body_start)?;
    if is_grouping(at + 1) || !is_grouping(body_end + 1) {
        return Ok((labels, body_start..body_end));
    }
    let (labels, _) = label_list(tokens, body_end + 2)?;
    Ok((labels, body_start..body_end))
}

/// The index of the `)` that closes the `(` at `open`.
fn closing(tokens: &[Token], open: usize) -> Result<usize, String> {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Op("(") => depth += 1,
            Token::Op(")") => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return Ok(i);
        }
    }
    Err(format!("the `(` at token {open} is not closed"))
}

/// `(a, b, "c")` at `open`: the labels and the index after the list.
fn label_list(tokens: &[Token], open: usize) -> Result<(Vec<String>, usize), String> {
    if tokens.get(open) != Some(&Token::Op("(")) {
        return Err(format!("a label list must start with `(` at token {open}"));
    }
    let mut labels = Vec::new();
    let mut i = open + 1;
    loop {
        match tokens.get(i) {
            Some(Token::Op(")")) => return Ok((labels, i + 1)),
            Some(Token::Name(l) | Token::Str(l)) => labels.push(l.clone()),
            other => return Err(format!("{other:?} in a label list")),
        }
        match tokens.get(i + 1) {
            Some(Token::Op(",")) => i += 2,
            Some(Token::Op(")")) => i += 1,
            other => return Err(format!("{other:?} after a label in a label list")),
        }
    }
}

/// The matchers `{a="x", b=~"y"}` at `open`: the metric a `__name__`
/// matcher (or a bare quoted name) gives, the labels matched, and the index
/// after the `}`.
fn matchers(tokens: &[Token], open: usize) -> Result<(Option<String>, Vec<String>, usize), String> {
    let mut metric = None;
    let mut labels = Vec::new();
    let mut i = open + 1;
    loop {
        let label = match tokens.get(i) {
            Some(Token::Op("}")) => return Ok((metric, labels, i + 1)),
            Some(Token::Name(l)) => l.clone(),
            Some(Token::Str(l)) if !is_matcher_op(tokens.get(i + 1)) => {
                // Prometheus 3's quoted metric name: {"name", a="x"}.
                metric = Some(l.clone());
                i += 1;
                if tokens.get(i) == Some(&Token::Op(",")) {
                    i += 1;
                }
                continue;
            }
            Some(Token::Str(l)) => l.clone(),
            other => return Err(format!("{other:?} where a label was expected")),
        };
        let op = tokens.get(i + 1);
        if !is_matcher_op(op) {
            return Err(format!("{op:?} after the label `{label}`"));
        }
        let Some(Token::Str(value)) = tokens.get(i + 2) else {
            return Err(format!("the label `{label}` is matched to no string"));
        };
        if label == "__name__" {
            if op != Some(&Token::Op("=")) {
                return Err("match `__name__` exactly, or write the metric's name".to_owned());
            }
            metric = Some(value.clone());
        } else {
            labels.push(label);
        }
        i += 3;
        if tokens.get(i) == Some(&Token::Op(",")) {
            i += 1;
        }
    }
}

fn is_matcher_op(token: Option<&Token>) -> bool {
    matches!(token, Some(Token::Op("=" | "!=" | "=~" | "!~")))
}

/// A variable's query: `label_values(selector, label)` asks `label` of
/// the selector's metric, and `query_result(query)` is a query. Other
/// forms (`label_values(label)`, `metrics(…)`) name no metric to check
/// and are refused.
fn variable_query_uses(query: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let query = query.trim();
    if let Some(inner) = query
        .strip_prefix("query_result(")
        .and_then(|q| q.strip_suffix(')'))
    {
        return uses(inner);
    }
    let Some(inner) = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
    else {
        return Err("a variable query is label_values(…) or query_result(…)".to_owned());
    };
    let Some((selector, label)) = split_last_argument(inner) else {
        return Err("name the metric: label_values(metric, label)".to_owned());
    };
    let mut found = uses(selector)?;
    for (_, labels) in &mut found {
        labels.push(label.trim().to_owned());
    }
    Ok(found)
}

/// `a{x=",",y="z"}, label` → (`a{…}`, `label`): the last comma outside
/// strings and brackets.
fn split_last_argument(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let mut quote = None;
    let mut split = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '(' | '{' | '[') => depth += 1,
            (None, ')' | '}' | ']') => depth -= 1,
            (None, ',') if depth == 0 => split = Some(i),
            _ => {}
        }
        escaped = false;
    }
    split.map(|i| (&text[..i], &text[i + 1..]))
}

// === The tokenizer's own tests ===

#[test]
fn tokens_of_a_query() {
    use Token::*;
    let op = |o: &'static str| Op(o);
    let cases: Vec<(&str, Vec<Token>)> = vec![
        (
            r#"sum by (le) (rate(a_bucket{x=~"$p", y!="a\"}"}[$__rate_interval]))"#,
            vec![
                Name("sum".into()),
                Name("by".into()),
                op("("),
                Name("le".into()),
                op(")"),
                op("("),
                Name("rate".into()),
                op("("),
                Name("a_bucket".into()),
                op("{"),
                Name("x".into()),
                op("=~"),
                Str("$p".into()),
                op(","),
                Name("y".into()),
                op("!="),
                Str(r#"a\"}"#.into()),
                op("}"),
                Range("$__rate_interval".into()),
                op(")"),
                op(")"),
            ],
        ),
        (
            "histogram_quantile(0.95, x) > bool 1e-3 # slow",
            vec![
                Name("histogram_quantile".into()),
                op("("),
                Number("0.95".into()),
                op(","),
                Name("x".into()),
                op(")"),
                op(">"),
                Name("bool".into()),
                Number("1e-3".into()),
            ],
        ),
        (
            "rule:a:rate5m offset 1h30m @ end() / ${n:raw} - .5 == 0x1F",
            vec![
                Name("rule:a:rate5m".into()),
                Name("offset".into()),
                Number("1h30m".into()),
                op("@"),
                Name("end".into()),
                op("("),
                op(")"),
                op("/"),
                Variable("n".into()),
                op("-"),
                Number(".5".into()),
                op("=="),
                Number("0x1F".into()),
            ],
        ),
        (
            "max_over_time(x[5m:1m]) or `raw\\`",
            vec![
                Name("max_over_time".into()),
                op("("),
                Name("x".into()),
                Range("5m:1m".into()),
                op(")"),
                Name("or".into()),
                Str("raw\\".into()),
            ],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(tokenize(query).unwrap(), expected, "{query}");
    }
}

#[test]
fn tokenizer_refuses_what_it_cannot_read() {
    for (query, expected) in [
        (r#"x{a="b}"#, "the string at 4 is not closed"),
        ("rate(x[5m)", "the range at 6 is not closed"),
        ("x ; y", "unexpected `;` at 2"),
        ("x * $", "a `$` at 4 names no variable"),
    ] {
        assert_eq!(tokenize(query).unwrap_err(), expected, "{query}");
    }
}

/// Metrics, each with the labels a query asks of it, as a test spells them.
type Expected = &'static [(&'static str, &'static [&'static str])];

/// Which metrics a query names, and the labels it asks of each.
#[test]
fn metrics_and_labels_of_a_query() {
    let cases: &[(&str, Expected)] = &[
        ("up", &[("up", &[])]),
        (
            r#"sum by (provider, outcome) (rate(t_total{provider=~"$provider", instance=~"$instance"}[$__rate_interval]))"#,
            &[("t_total", &["provider", "instance", "outcome"])],
        ),
        // The grouping comes after the body.
        (
            "sum(rate(a[5m])) without (tool) / count(b)",
            &[("a", &["tool"]), ("b", &[])],
        ),
        // Each aggregation groups only what is inside it.
        (
            "histogram_quantile(0.95, sum by (le, provider) (rate(d_bucket[5m]))) > on (provider) group_left max by (provider) (e)",
            &[("d_bucket", &["le", "provider"]), ("e", &["provider"])],
        ),
        (
            "topk(5, histogram_quantile(0.95, sum by (le, tool) (rate(d_bucket[1m]))))",
            &[("d_bucket", &["le", "tool"])],
        ),
        // Function names, keywords, labels in lists and strings are not metrics.
        (
            r#"label_replace(time() - s{job="sb"}, "dst", "$1", "src", "(.*)") and bool vector(1) offset 5m"#,
            &[("s", &["job"])],
        ),
        (
            r#"{__name__="n", a!~"x,y"} + {"quoted.name", b="c"}"#,
            &[("n", &["a"]), ("quoted.name", &["b"])],
        ),
        ("count(x == Inf) or NaN", &[("x", &[])]),
    ];
    for (query, expected) in cases {
        let found = uses(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(m, ls)| {
                (
                    (*m).to_owned(),
                    ls.iter().map(|l| (*l).to_owned()).collect(),
                )
            })
            .collect();
        assert_eq!(found, expected, "{query}");
    }
}

#[test]
fn queries_that_are_not_promql_are_refused() {
    for (query, expected) in [
        ("rat(x[5m])", "`rat` is not a PromQL function"),
        (r#"{a="b"}"#, "a selector without a metric name at token 0"),
        (
            r#"{__name__=~"x.*"}"#,
            "match `__name__` exactly, or write the metric's name",
        ),
        (r#"x{a}"#, "Some(Op(\"}\")) after the label `a`"),
        ("sum by (a", "None after a label in a label list"),
        ("sum(x", "the `(` at token 1 is not closed"),
    ] {
        assert_eq!(uses(query).unwrap_err(), expected, "{query}");
    }
}

#[test]
fn variable_queries_ask_their_label_of_their_metric() {
    let owned = |m: &str, ls: &[&str]| {
        vec![(
            m.to_owned(),
            ls.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>(),
        )]
    };
    assert_eq!(
        variable_query_uses(r#"label_values(m{a=",", b="}"}, provider)"#).unwrap(),
        owned("m", &["a", "b", "provider"])
    );
    assert_eq!(
        variable_query_uses("query_result(sum by (x) (m))").unwrap(),
        owned("m", &["x"])
    );
    assert!(variable_query_uses("label_values(job)").is_err());
    assert!(variable_query_uses("metrics(switchboard_.*)").is_err());
}

#[test]
fn variables_outside_the_dashboard_are_found() {
    let defined: BTreeSet<&str> = ["provider", "__rate_interval"].into();
    assert_eq!(
        unknown_variables(
            r#"rate(x{p=~"$provider", i=~"${instance:regex}"}[$__rate_interval]) * [[scale]]"#,
            &defined
        ),
        [
            "`$instance` is not a variable of the dashboard",
            "`$scale` is not a variable of the dashboard"
        ]
    );
}
