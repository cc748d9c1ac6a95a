//! Prometheus metrics, served on `/metrics`.
//!
//! Architecture invariant: every label value is bounded and secret-free:
//! provider and tool names come from the loaded specs (never from a request
//! that named an unknown one), outcomes are contract error codes, statuses
//! are HTTP status codes. No account id, identifier or parameter is a label.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Buckets for call latencies, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// All the gateway's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
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
        let registry = Registry::new_custom(Some("switchboard".into()), None)
            .expect("a static prefix is valid");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let h = HistogramVec::new(opts, labels).expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("registered once");
            h
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
            g
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
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
            registry,
        }
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
