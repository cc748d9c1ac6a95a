//! Prometheus metrics, served on `/metrics`.
//!
//! Architecture invariant: every label value is bounded and secret-free:
//! provider and tool names come from the loaded specs (never from a request
//! that named an unknown one), outcomes are contract error codes, statuses
//! are HTTP status codes. No account id, identifier or parameter is a label.
//!
//! `Metrics` also keeps a catalog of what it registered. A scrape cannot
//! list every metric (the text format leaves out a labelled family until it
//! has a series), so whatever must name only real metrics, such as the
//! Grafana dashboard in `deploy/grafana/` and its test, reads the catalog.

use std::cell::RefCell;
use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The prefix of every metric's name.
const PREFIX: &str = "switchboard";

/// Buckets for call latencies, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What kind of metric a family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One registered metric family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricInfo {
    /// The full name, `switchboard_` included.
    pub name: String,
    pub kind: MetricKind,
    /// The names of its labels, in registration order.
    pub labels: Vec<String>,
    pub help: String,
}

/// One series name a family exports, with the labels it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesName {
    pub name: String,
    pub labels: Vec<String>,
}

impl MetricInfo {
    /// The names under which the family appears in the exposition: its own
    /// name for a counter or gauge; `_bucket` (with `le`), `_sum` and
    /// `_count` for a histogram.
    pub fn series(&self) -> Vec<SeriesName> {
        let named = |suffix: &str, extra: Option<&str>| SeriesName {
            name: format!("{}{suffix}", self.name),
            labels: self
                .labels
                .iter()
                .cloned()
                .chain(extra.map(str::to_owned))
                .collect(),
        };
        match self.kind {
            MetricKind::Counter | MetricKind::Gauge => vec![named("", None)],
            MetricKind::Histogram => vec![
                named("_bucket", Some("le")),
                named("_sum", None),
                named("_count", None),
            ],
        }
    }
}

/// All the gateway's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Every family registered, in registration order.
    catalog: Arc<[MetricInfo]>,
    /// Tool executions by provider, tool and outcome (`success` or an error code).
    pub executions: IntCounterVec,
    /// Whole execution latency by provider and tool.
    pub execution_seconds: HistogramVec,
    /// Latency of single upstream requests by provider.
    pub upstream_seconds: HistogramVec,
    /// Upstream responses by provider and HTTP status.
    pub upstream_responses: IntCounterVec,
    /// Spec reloads by outcome (`success`, `partial`, `failure`).
    pub reloads: IntCounterVec,
    pub providers_loaded: IntGauge,
    pub tools_loaded: IntGauge,
    /// Problems in the spec files at the last (re)load.
    pub spec_problems: IntGauge,
    /// API requests being served now.
    pub in_flight: IntGauge,
    /// API requests by method, route template and status.
    pub http_requests: IntCounterVec,
    /// Retries by provider and reason (the HTTP status or the error code).
    pub retries: IntCounterVec,
    /// Client-side rate limit hits by provider, scope (`account`, `provider`,
    /// `api_key`) and outcome (`waited`, `rejected`).
    pub rate_limited: IntCounterVec,
    /// Circuit state by provider (of its last host): 0 closed, 1 open, 2 half-open.
    pub circuit_state: IntGaugeVec,
    /// Calls failed fast because a circuit was open, by provider.
    pub circuit_rejections: IntCounterVec,
    /// Attempts that ran out of time, by provider.
    pub upstream_timeouts: IntCounterVec,
    /// OAuth token refreshes by provider and outcome (`success`,
    /// `revoked`, `failed`).
    pub token_refreshes: IntCounterVec,
    /// Audit events by outcome (`written`, `dropped`).
    pub audit_events: IntCounterVec,
    /// Webhook delivery attempts by event type and outcome (`delivered`,
    /// `retrying`, `failed`).
    pub webhook_deliveries: IntCounterVec,
    /// Webhook deliveries waiting in the outbox (as last seen by this replica).
    pub webhook_outbox: IntGauge,
    /// Shared rate-limit store (Redis) errors by what this replica did
    /// instead (`local`: its own limits; `rejected`: the call failed).
    pub limit_store_errors: IntCounterVec,
    /// Account cache invalidations received from other replicas by source
    /// (`notify`: one account or connection; `reconnect`: everything).
    pub cache_invalidations: IntCounterVec,
    /// 1, labelled with the gateway's version and store backend.
    pub build_info: IntGaugeVec,
    /// When this process started, in Unix seconds.
    pub start_time: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some(PREFIX.into()), None).expect("a static prefix is valid");
        let catalog = RefCell::new(Vec::new());
        // The catalog entry is read from the collector's own description,
        // so it says what Prometheus will export, not what was meant.
        let register = |collector: Box<dyn Collector>, kind: MetricKind| {
            catalog
                .borrow_mut()
                .extend(collector.desc().into_iter().map(|desc| MetricInfo {
                    name: format!("{PREFIX}_{}", desc.fq_name),
                    kind,
                    labels: desc.variable_labels.clone(),
                    help: desc.help.clone(),
                }));
            registry.register(collector).expect("registered once");
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            register(Box::new(c.clone()), MetricKind::Counter);
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let h = HistogramVec::new(opts, labels).expect("valid metric");
            register(Box::new(h.clone()), MetricKind::Histogram);
            h
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            register(Box::new(g.clone()), MetricKind::Gauge);
            g
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            register(Box::new(g.clone()), MetricKind::Gauge);
            g
        };
        Metrics {
            executions: counter(
                "tool_executions_total",
                "Tool executions by provider, tool and outcome.",
                &["provider", "tool", "outcome"],
            ),
            execution_seconds: histogram(
                "tool_execution_duration_seconds",
                "Time to execute a tool, pages and retries included.",
                &["provider", "tool"],
            ),
            upstream_seconds: histogram(
                "upstream_request_duration_seconds",
                "Time of one request to a provider.",
                &["provider"],
            ),
            upstream_responses: counter(
                "upstream_responses_total",
                "Provider responses by HTTP status.",
                &["provider", "status"],
            ),
            reloads: counter(
                "spec_reloads_total",
                "Spec reloads by outcome.",
                &["outcome"],
            ),
            providers_loaded: gauge("providers_loaded", "Providers loaded."),
            tools_loaded: gauge("tools_loaded", "Tools loaded."),
            spec_problems: gauge("spec_problems", "Problems in spec files at the last load."),
            in_flight: gauge("http_requests_in_flight", "API requests being served."),
            http_requests: counter(
                "http_requests_total",
                "API requests by method, route and status.",
                &["method", "route", "status"],
            ),
            retries: counter(
                "upstream_retries_total",
                "Retries by provider and reason.",
                &["provider", "reason"],
            ),
            rate_limited: counter(
                "rate_limit_hits_total",
                "Client-side rate limit hits by provider, scope and outcome.",
                &["provider", "scope", "outcome"],
            ),
            circuit_state: gauge_vec(
                "circuit_state",
                "Circuit state by provider: 0 closed, 1 open, 2 half-open.",
                &["provider"],
            ),
            circuit_rejections: counter(
                "circuit_rejections_total",
                "Calls failed fast on an open circuit, by provider.",
                &["provider"],
            ),
            upstream_timeouts: counter(
                "upstream_timeouts_total",
                "Upstream attempts that ran out of time, by provider.",
                &["provider"],
            ),
            token_refreshes: counter(
                "token_refreshes_total",
                "OAuth token refreshes by provider and outcome.",
                &["provider", "outcome"],
            ),
            audit_events: counter(
                "audit_events_total",
                "Audit events by outcome (written or dropped).",
                &["outcome"],
            ),
            webhook_deliveries: counter(
                "webhook_deliveries_total",
                "Webhook delivery attempts by event type and outcome.",
                &["event", "outcome"],
            ),
            webhook_outbox: gauge(
                "webhook_outbox_pending",
                "Webhook deliveries waiting in the outbox.",
            ),
            limit_store_errors: counter(
                "rate_limit_store_errors_total",
                "Shared rate-limit store errors by what was done instead.",
                &["fallback"],
            ),
            cache_invalidations: counter(
                "account_cache_invalidations_total",
                "Account cache invalidations from other replicas, by source.",
                &["source"],
            ),
            build_info: gauge_vec(
                "build_info",
                "Always 1; labelled with the version and the store backend.",
                &["version", "store"],
            ),
            start_time: gauge(
                "start_time_seconds",
                "When this process started, in Unix seconds.",
            ),
            catalog: catalog.into_inner().into(),
            registry,
        }
    }

    /// Every metric family registered: what a dashboard or an alert rule
    /// may name.
    pub fn catalog(&self) -> &[MetricInfo] {
        &self.catalog
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Once every family has a series, the scrape and the catalog name the
    /// same families, of the same kinds, with the same labels.
    #[test]
    fn the_catalog_is_what_a_scrape_shows() {
        let m = Metrics::new();
        let one = |labels: usize| vec!["x"; labels];
        m.executions.with_label_values(&one(3)).inc();
        m.execution_seconds.with_label_values(&one(2)).observe(0.1);
        m.upstream_seconds.with_label_values(&one(1)).observe(0.1);
        m.upstream_responses.with_label_values(&one(2)).inc();
        m.reloads.with_label_values(&one(1)).inc();
        m.http_requests.with_label_values(&one(3)).inc();
        m.retries.with_label_values(&one(2)).inc();
        m.rate_limited.with_label_values(&one(3)).inc();
        m.circuit_state.with_label_values(&one(1)).set(0);
        m.circuit_rejections.with_label_values(&one(1)).inc();
        m.upstream_timeouts.with_label_values(&one(1)).inc();
        m.token_refreshes.with_label_values(&one(2)).inc();
        m.audit_events.with_label_values(&one(1)).inc();
        m.webhook_deliveries.with_label_values(&one(2)).inc();
        m.limit_store_errors.with_label_values(&one(1)).inc();
        m.cache_invalidations.with_label_values(&one(1)).inc();
        m.build_info.with_label_values(&one(2)).set(1);

        let scraped: BTreeSet<(String, String, Vec<String>)> = m
            .registry
            .gather()
            .iter()
            .map(|family| {
                let kind = format!("{:?}", family.get_field_type()).to_lowercase();
                let mut labels: Vec<String> = family
                    .get_metric()
                    .first()
                    .map(|s| s.get_label().iter().map(|l| l.name().to_owned()).collect())
                    .unwrap_or_default();
                labels.sort();
                (family.name().to_owned(), kind, labels)
            })
            .collect();
        let catalog: BTreeSet<(String, String, Vec<String>)> = m
            .catalog()
            .iter()
            .map(|info| {
                let mut labels = info.labels.clone();
                labels.sort();
                (info.name.clone(), info.kind.as_str().to_owned(), labels)
            })
            .collect();
        // A labelled family missing from the scrape needs a series above.
        assert_eq!(scraped, catalog);
        assert!(
            m.catalog()
                .iter()
                .all(|info| info.name.starts_with("switchboard_"))
        );
    }

    #[test]
    fn a_histogram_exports_buckets_sum_and_count() {
        let m = Metrics::new();
        let info = m
            .catalog()
            .iter()
            .find(|i| i.name == "switchboard_upstream_request_duration_seconds")
            .unwrap();
        let series: Vec<(String, Vec<String>)> = info
            .series()
            .into_iter()
            .map(|s| (s.name, s.labels))
            .collect();
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            series,
            [
                (
                    "switchboard_upstream_request_duration_seconds_bucket".to_owned(),
                    owned(&["provider", "le"])
                ),
                (
                    "switchboard_upstream_request_duration_seconds_sum".to_owned(),
                    owned(&["provider"])
                ),
                (
                    "switchboard_upstream_request_duration_seconds_count".to_owned(),
                    owned(&["provider"])
                ),
            ]
        );
    }
}
