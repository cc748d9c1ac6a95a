//! Rate limits shared through Redis: the GCRA script on its own, replicas
//! that together keep one limit (as limiters and as real gateways), and a
//! Redis that is missing, slow or goes away.
//!
//! Tests that need Redis read `SWITCHBOARD_TEST_REDIS_URL` and say so when
//! they skip; each uses a key prefix of its own, so parallel tests and runs
//! never share a limit. The tests of a Redis that does not answer need none.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, FLAKY, Setup, TestGateway, flaky_and_metered as gateway, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::config::{Config, RateQuotaConfig};
use switchboard::metrics::Metrics;
use switchboard::spec::{RateLimitSpec, RateQuota};
use switchboard::upstream::limit::ProviderLimits;
use switchboard::upstream::limit::shared::{RedisFailure, SharedLimits, SharedLimitsConfig};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A port nothing listens on.
const CLOSED_PORT_URL: &str = "redis://127.0.0.1:1";

/// Redis from `SWITCHBOARD_TEST_REDIS_URL`, or `None` once the test said it
/// skipped.
fn test_redis(test: &str) -> Option<String> {
    let url = std::env::var("SWITCHBOARD_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped {test}: SWITCHBOARD_TEST_REDIS_URL is not set");
    }
    url
}

/// A key prefix no other test or run uses.
fn unique_prefix() -> String {
    format!(
        "switchboard-test:{}:rl:",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

fn settings(url: &str, prefix: &str) -> SharedLimitsConfig {
    SharedLimitsConfig {
        url: url.to_owned(),
        failure: RedisFailure::Open,
        key_prefix: prefix.to_owned(),
        timeout: Duration::from_millis(200),
    }
}

/// One replica's provider limits, kept in the Redis at `url`.
async fn replica_limits(url: &str, prefix: &str) -> ProviderLimits {
    let shared = SharedLimits::connect(settings(url, prefix), Metrics::new())
        .await
        .expect("a valid Redis URL");
    ProviderLimits::new(Some(shared))
}

fn per_account(requests_per_second: f64, burst: u32) -> RateLimitSpec {
    RateLimitSpec {
        requests_per_second,
        burst: Some(burst),
        per_provider: None,
    }
}

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers")
}

/// The keys under `prefix`, sorted.
async fn keys(url: &str, prefix: &str) -> Vec<String> {
    let mut connection = redis_connection(url).await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_allows_a_burst_then_the_steady_rate() {
    let Some(url) = test_redis("the_script_allows_a_burst_then_the_steady_rate") else {
        return;
    };
    let prefix = unique_prefix();
    let limits = replica_limits(&url, &prefix).await;
    let limit = limits.get("acme", &per_account(10.0, 5));

    for n in 1..=5 {
        assert_eq!(limit.check("ca_1").await.unwrap(), None, "burst call {n}");
    }
    // One key per limit, named by scope, provider and account.
    assert_eq!(
        keys(&url, &prefix).await,
        [format!("{prefix}account:acme:ca_1")]
    );
    let (wait, scope) = limit
        .check("ca_1")
        .await
        .unwrap()
        .expect("the burst is used up");
    assert_eq!(scope, "account");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(100),
        "one call every 100 ms frees up: {wait:?}"
    );
    assert_eq!(
        limit.check("ca_2").await.unwrap(),
        None,
        "accounts are independent"
    );

    // The steady rate: one call per interval, no more.
    tokio::time::sleep(wait).await;
    assert_eq!(limit.check("ca_1").await.unwrap(), None);
    assert!(limit.check("ca_1").await.unwrap().is_some());

    // A key expires once its limit is full again: here within half a
    // second (ca_2's, one call deep, is gone already).
    let mut connection = redis_connection(&url).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}account:acme:ca_1"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((1..=501).contains(&ttl), "expires in {ttl} ms");
    tokio::time::sleep(Duration::from_millis(ttl as u64 + 100)).await;
    assert_eq!(keys(&url, &prefix).await, Vec::<String>::new());
    assert_eq!(
        limit.check("ca_1").await.unwrap(),
        None,
        "an expired key is a full limit"
    );
}

/// Two replicas, each calling as fast as it may for `window`, through
/// limiters of their own on one Redis; returns the calls each was allowed
/// and the time it took.
async fn race_two_replicas(
    url: &str,
    spec: RateLimitSpec,
    accounts: [&'static str; 2],
    window: Duration,
) -> ([usize; 2], Duration) {
    let prefix = unique_prefix();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for account in accounts {
        let limits = replica_limits(url, &prefix).await;
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            let limit = limits.get("acme", &spec);
            let mut allowed = 0;
            while started.elapsed() < window {
                if limit.check(account).await.unwrap().is_none() {
                    allowed += 1;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            allowed
        }));
    }
    let mut allowed = [0; 2];
    for (n, task) in tasks.into_iter().enumerate() {
        allowed[n] = task.await.unwrap();
    }
    (allowed, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_together_allow_only_the_shared_rate() {
    let Some(url) = test_redis("two_replicas_together_allow_only_the_shared_rate") else {
        return;
    };
    // 10 per second with a burst of 5, for 1.5 s: 5 + 15 calls in all,
    // where two limiters of their own would allow twice that.
    let cases = [
        (
            "one account on both replicas",
            per_account(10.0, 5),
            ["ca_1", "ca_1"],
        ),
        (
            "the provider's limit, two accounts",
            RateLimitSpec {
                requests_per_second: 1000.0,
                burst: Some(1000),
                per_provider: Some(RateQuota {
                    requests_per_second: 10.0,
                    burst: Some(5),
                }),
            },
            ["ca_1", "ca_2"],
        ),
    ];
    for (name, spec, accounts) in cases {
        let (allowed, took) =
            race_two_replicas(&url, spec, accounts, Duration::from_millis(1500)).await;
        let total = allowed[0] + allowed[1];
        let most = 5 + (10.0 * took.as_secs_f64()).ceil() as usize;
        eprintln!("{name}: {allowed:?} = {total} calls in {took:?} (at most {most})");
        assert!(total <= most, "{name}: {total} calls, at most {most}");
        assert!(total >= 16, "{name}: only {total} calls");
        assert!(
            allowed.iter().all(|n| *n > 0),
            "{name}: both replicas got calls: {allowed:?}"
        );
    }
}

/// A specs directory with `pooled`: 5 calls per second (burst 2) for the
/// whole provider, and a generous limit per account.
fn pooled_specs() -> std::path::PathBuf {
    let dir = common::scratch_dir("specs");
    std::fs::write(
        dir.join("pooled.yaml"),
        r#"provider: pooled
display_name: Pooled
base_url: https://api.pooled.example/v1
auth:
  type: bearer
rate_limit:
  requests_per_second: 100
  burst: 100
  per_provider:
    requests_per_second: 5
    burst: 2
tools:
  get_item:
    description: Read an item.
    parameters:
      type: object
      required: [id]
      properties:
        id: {type: string}
    request:
      method: GET
      path: /items/{{ id }}
"#,
    )
    .unwrap();
    dir
}

async fn execute(gw: &TestGateway, account: &str, id: usize) -> (StatusCode, Value) {
    gw.post(
        "/v1/tools/execute",
        json!({"connected_account_id": account, "tool": "get_item", "parameters": {"id": id.to_string()}}),
    )
    .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Sets the shared limits on a test gateway's config.
fn share(
    url: &str,
    prefix: &str,
    failure: RedisFailure,
) -> impl Fn(&mut Config) + Send + Sync + use<> {
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    move |c: &mut Config| {
        c.redis_url = Some(url.clone());
        c.redis_key_prefix = prefix.clone();
        c.redis_failure = failure;
        c.upstream.rate_limit_wait_ms = 0;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_keep_one_provider_limit() {
    let Some(url) = test_redis("two_gateways_keep_one_provider_limit") else {
        return;
    };
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&mock)
        .await;
    let prefix = unique_prefix();
    let setup = Setup::new(pooled_specs())
        .base_url("pooled", format!("{}/v1", mock.uri()))
        .configure(share(&url, &prefix, RedisFailure::Open));
    let first = TestGateway::start(&Backend::Sqlite, setup).await;
    let second = first.replica().await;
    let conn = first.connection(json!({"provider": "pooled"})).await;
    let mut accounts = Vec::new();
    for user in ["user-1", "user-2"] {
        accounts.push(
            first
                .account(&conn, user, Some(json!({"token": "t0k"})))
                .await,
        );
    }

    // Two callers per gateway, each on its own account, as fast as they
    // are answered, for two seconds.
    let gateways = [Arc::new(first), Arc::new(second)];
    let ok = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let limited = Arc::new(AtomicUsize::new(0));
    let window = Duration::from_secs(2);
    let started = Instant::now();
    let mut callers = Vec::new();
    for (g, gw) in gateways.iter().enumerate() {
        for account in &accounts {
            let (gw, account, ok, limited) =
                (gw.clone(), account.clone(), ok[g].clone(), limited.clone());
            callers.push(tokio::spawn(async move {
                let mut n = 0;
                while started.elapsed() < window {
                    n += 1;
                    let (status, body) = execute(&gw, &account, n).await;
                    if status == StatusCode::OK {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
                        assert_eq!(code(&body), "rate_limited", "{body}");
                        assert_eq!(body["error"]["retry_after_s"], 1, "{body}");
                        assert_eq!(body["error"]["details"]["limit"], "provider", "{body}");
                        limited.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let took = started.elapsed();
    let ok = [ok[0].load(Ordering::Relaxed), ok[1].load(Ordering::Relaxed)];
    let total = ok[0] + ok[1];
    let received = mock.received_requests().await.unwrap().len();
    let most = 2 + (5.0 * took.as_secs_f64()).ceil() as usize;
    eprintln!(
        "two gateways: {ok:?} = {total} calls sent upstream, {} limited, in {took:?} (at most {most})",
        limited.load(Ordering::Relaxed)
    );
    assert_eq!(received, total, "every allowed call reached the provider");
    assert!(
        total <= most,
        "{total} upstream requests, at most {most} allowed"
    );
    assert!(total >= 9, "only {total} upstream requests");
    assert!(ok.iter().all(|n| *n > 0), "both gateways sent some: {ok:?}");
    assert!(limited.load(Ordering::Relaxed) > 0);

    let metrics = gateways[0].metrics().await;
    assert!(
        metrics.contains(
            "switchboard_rate_limit_hits_total{outcome=\"rejected\",provider=\"pooled\",scope=\"provider\"}"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("switchboard_rate_limit_store_errors_total{"));

    // The keys: scope, provider and account id, and nothing secret (the
    // accounts' own limits, far from full, have expired already or soon).
    let keys = keys(&url, &prefix).await;
    assert!(
        keys.contains(&format!("{prefix}provider:pooled")),
        "{keys:?}"
    );
    let named: Vec<String> = accounts
        .iter()
        .map(|a| format!("{prefix}account:pooled:{a}"))
        .chain([format!("{prefix}provider:pooled")])
        .collect();
    assert!(keys.iter().all(|k| named.contains(k)), "{keys:?}");

    let (_, ready) = gateways[1].get("/readyz").await;
    assert_eq!(ready["rate_limit_store"], "ok", "{ready}");
    let [first, second] = gateways;
    Arc::try_unwrap(second).ok().unwrap().stop_replica().await;
    Arc::try_unwrap(first).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_keep_one_ingress_limit_per_api_key() {
    let Some(url) = test_redis("two_gateways_keep_one_ingress_limit_per_api_key") else {
        return;
    };
    let prefix = unique_prefix();
    let shared = share(&url, &prefix, RedisFailure::Open);
    let setup = Setup::new(specs_dir(&[FLAKY])).configure(move |c| {
        shared(c);
        // One request every two seconds, three at once.
        c.ingress_rate_limit = Some(RateQuotaConfig {
            requests_per_second: 0.5,
            burst: Some(3),
        });
    });
    let first = TestGateway::start(&Backend::Sqlite, setup).await;
    let second = first.replica().await;
    let mut statuses = Vec::new();
    for gw in [&first, &second, &first, &second, &first, &second] {
        let (status, body) = gw.get("/v1/providers").await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&body), "rate_limited", "{body}");
            assert_eq!(body["error"]["retry_after_s"], 2, "{body}");
        }
        statuses.push(status.as_u16());
    }
    // Each gateway alone would have allowed all six (three each).
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    assert_eq!(
        keys(&url, &prefix).await,
        [format!("{prefix}api_key:gateway:key-1")],
        "keyed by the API key's name, never the key"
    );
    second.stop_replica().await;
    first.stop().await;
}

async fn get_item(gw: &TestGateway, account: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_item", "parameters": {"id": "1"}}),
        )
        .await;
    (status, body, started.elapsed())
}

async fn item_mock() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&mock)
        .await;
    mock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_two_gateways_wait_their_turn_under_one_limit() {
    let Some(url) = test_redis("calls_on_two_gateways_wait_their_turn_under_one_limit") else {
        return;
    };
    let mock = item_mock().await;
    let shared = share(&url, &unique_prefix(), RedisFailure::Open);
    let (first, _, metered) = gateway(&mock.uri(), move |c| {
        shared(c);
        c.upstream.rate_limit_wait_ms = 10_000;
        c.upstream.timeout_ms = 20_000;
    })
    .await;
    let second = first.replica().await;
    let gateways = [Arc::new(first), Arc::new(second)];

    // Ten calls on one account (5 per second, burst 1), five on each
    // gateway at once: they queue, and none fails.
    let started = Instant::now();
    let mut calls = Vec::new();
    for gw in &gateways {
        for _ in 0..5 {
            let (gw, account) = (gw.clone(), metered.clone());
            calls.push(tokio::spawn(async move { get_item(&gw, &account).await }));
        }
    }
    for call in calls {
        let (status, body, _) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let took = started.elapsed();
    eprintln!("ten calls at 5 per second over two gateways took {took:?}");
    assert!(
        took >= Duration::from_millis(1_700),
        "the tenth call goes 1.8 s after the first, not {took:?}"
    );
    assert_eq!(mock.received_requests().await.unwrap().len(), 10);
    let waited = "switchboard_rate_limit_hits_total{outcome=\"waited\",provider=\"metered\",scope=\"account\"}";
    for gw in &gateways {
        assert!(gw.metrics().await.contains(waited));
    }
    let [first, second] = gateways;
    Arc::try_unwrap(second).ok().unwrap().stop_replica().await;
    Arc::try_unwrap(first).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_an_open_gateway_keeps_its_own_limits() {
    let mock = item_mock().await;
    let started = Instant::now();
    let (gw, _, metered) = gateway(
        &mock.uri(),
        share(CLOSED_PORT_URL, &unique_prefix(), RedisFailure::Open),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "started in {:?}",
        started.elapsed()
    );
    let (status, ready) = gw.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["rate_limit_store"], "unreachable");

    // This replica's own limit: 5 per second, burst 1.
    let (status, body, took) = get_item(&gw, &metered).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    let (status, body, took) = get_item(&gw, &metered).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "rate_limited");
    assert_eq!(body["error"]["details"]["limit"], "account");
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    assert!(
        gw.metrics()
            .await
            .contains("switchboard_rate_limit_store_errors_total{fallback=\"local\"} 2")
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_closed_gateway_refuses_limited_calls() {
    let mock = item_mock().await;
    let (gw, flaky, metered) = gateway(
        &mock.uri(),
        share(CLOSED_PORT_URL, &unique_prefix(), RedisFailure::Closed),
    )
    .await;
    let (status, ready) = gw.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["status"], "not_ready");
    assert_eq!(ready["store"], "ok");
    assert_eq!(ready["rate_limit_store"], "unreachable");

    let (status, body, took) = get_item(&gw, &metered).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(&body), "upstream_unavailable");
    assert_eq!(
        body["error"]["message"],
        "the gateway's shared rate-limit store does not answer; calls under a rate limit fail until it does"
    );
    assert_eq!(body["error"]["provider"], "metered");
    assert_eq!(body["error"]["retry_after_s"], 1);
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        0,
        "nothing was sent"
    );

    let (status, body, _) = get_item(&gw, &flaky).await;
    assert_eq!(status, StatusCode::OK, "a provider without a limit: {body}");
    assert!(
        gw.metrics()
            .await
            .contains("switchboard_rate_limit_store_errors_total{fallback=\"rejected\"} 1")
    );
    gw.stop().await;

    // With an ingress limit, every keyed request is under a limit.
    let setup = Setup::new(specs_dir(&[FLAKY])).configure(|c| {
        share(CLOSED_PORT_URL, &unique_prefix(), RedisFailure::Closed)(c);
        c.ingress_rate_limit = Some(RateQuotaConfig {
            requests_per_second: 100.0,
            burst: Some(100),
        });
    });
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    let (status, body) = gw.get("/v1/providers").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(&body), "upstream_unavailable");
    assert!(body["error"]["request_id"].is_string());
    assert_eq!(gw.get("/healthz").await.0, StatusCode::OK);
    gw.stop().await;
}

/// How many limit checks fell back to the gateway's own limits.
async fn local_fallbacks(gw: &TestGateway) -> u64 {
    gw.metrics()
        .await
        .lines()
        .find_map(|l| {
            l.strip_prefix("switchboard_rate_limit_store_errors_total{fallback=\"local\"} ")
        })
        .map_or(0, |n| n.parse().unwrap())
}

/// A Redis server of the test's own on a free port, stopped when dropped.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// `None` when `redis-server` cannot be run.
    async fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut redis = PrivateRedis { port, child: None };
        redis.restart().await.then_some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, on the same port); whether it answers.
    async fn restart(&mut self) -> bool {
        let port = self.port.to_string();
        let Ok(child) = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--enable-debug-command", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<()>(&mut c).await.is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_stalls_or_goes_away_never_holds_a_call() {
    let test = "a_redis_that_stalls_or_goes_away_never_holds_a_call";
    if test_redis(test).is_none() {
        return;
    }
    let Some(mut redis) = PrivateRedis::start().await else {
        eprintln!("skipped {test}: redis-server cannot be run");
        return;
    };
    let mock = item_mock().await;
    let prefix = unique_prefix();
    let (gw, _, metered) = gateway(
        &mock.uri(),
        share(&redis.url(), &prefix, RedisFailure::Open),
    )
    .await;
    let ready_is = |want: &'static str| {
        let gw = &gw;
        async move { gw.get("/readyz").await.1["rate_limit_store"] == want }
    };
    assert!(ready_is("ok").await);
    let (status, body, _) = get_item(&gw, &metered).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        keys(&redis.url(), &prefix).await,
        [format!("{prefix}account:metered:{metered}")]
    );

    // A Redis that stalls for a second: the call goes on under the local
    // limit after the 200 ms timeout.
    let stall = {
        let url = redis.url();
        tokio::spawn(async move {
            let mut c = redis_connection(&url).await;
            let _: redis::RedisResult<()> = redis::cmd("DEBUG")
                .arg("SLEEP")
                .arg(1)
                .query_async(&mut c)
                .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body, took) = get_item(&gw, &metered).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took < Duration::from_millis(800), "answered in {took:?}");
    assert_eq!(local_fallbacks(&gw).await, 1);
    stall.await.unwrap();
    common::eventually("Redis is in use again after the stall", || ready_is("ok")).await;

    // A Redis that is gone: calls go on at once, on local limits.
    redis.stop();
    tokio::time::sleep(Duration::from_millis(250)).await;
    for _ in 0..3 {
        let (status, body, took) = get_item(&gw, &metered).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(took < Duration::from_millis(800), "answered in {took:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(local_fallbacks(&gw).await, 4);
    assert!(ready_is("unreachable").await);
    assert_eq!(
        gw.get("/readyz").await.0,
        StatusCode::OK,
        "open stays ready"
    );

    // Back: the replica reconnects by itself and shares its limits again.
    assert!(redis.restart().await, "redis-server restarts");
    common::eventually("Redis is in use again", || ready_is("ok")).await;
    let (status, body, _) = get_item(&gw, &metered).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        keys(&redis.url(), &prefix).await,
        [format!("{prefix}account:metered:{metered}")],
        "the fresh Redis holds the limit"
    );
    assert_eq!(local_fallbacks(&gw).await, 4);
    gw.stop().await;
}
