//! Rate limits shared by every replica of a fleet, kept in Redis.
//!
//! Each limit is one Redis key holding its theoretical arrival time (GCRA,
//! the algorithm governor runs in-process, with the same rate and burst).
//! One Lua script reads Redis' own clock (`TIME`), checks every limit a
//! request counts against and updates them all or none, atomically: the
//! replicas' clocks do not matter and two replicas never both take the last
//! slot. A key expires once its limit is full again, so idle accounts leave
//! nothing behind.
//!
//! Redis is never waited on for long. Every call has a short timeout, and
//! after a failure calls stop trying at once (the store is marked down)
//! while one background task opens a fresh connection every
//! [`RECONNECT_EVERY`]. Until it succeeds `redis_failure` decides: `open`
//! lets each replica fall back to its own in-process limits, `closed`
//! refuses the calls that a limit applies to.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use governor::Quota;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;

use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;

/// How long a connection attempt to Redis may take (at start, and by the
/// background reconnection; never by a call).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How often a replica whose Redis is down tries a fresh connection.
pub const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// At most one warning per this long while Redis is down.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What a replica does while Redis does not answer (config key
/// `redis_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailure {
    /// Each replica falls back to its own in-process limits.
    #[default]
    Open,
    /// Calls under a limit fail with `upstream_unavailable`.
    Closed,
}

impl RedisFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            RedisFailure::Open => "open",
            RedisFailure::Closed => "closed",
        }
    }

    /// `open` or `closed`.
    pub fn parse(text: &str) -> Option<RedisFailure> {
        match text.trim() {
            "open" => Some(RedisFailure::Open),
            "closed" => Some(RedisFailure::Closed),
            _ => None,
        }
    }
}

/// Where the shared limits live and how they fail.
#[derive(Clone)]
pub struct SharedLimitsConfig {
    /// `redis://[user:password@]host:port[/db]` (plain TCP; TLS is not built in).
    pub url: String,
    pub failure: RedisFailure,
    /// Put before every key, so several fleets can share one Redis.
    pub key_prefix: String,
    /// The longest a call waits for Redis.
    pub timeout: Duration,
}

// The URL may hold a password.
impl std::fmt::Debug for SharedLimitsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimitsConfig")
            .field("url", &crate::store::redact_url(&self.url))
            .field("failure", &self.failure)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A quota as the script takes it, in microseconds: the interval between
/// two requests at the steady rate, and how far ahead of that a burst may
/// run (the interval times the burst less one, as governor counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    interval_us: u64,
    tolerance_us: u64,
}

impl Gcra {
    pub fn new(quota: &Quota) -> Gcra {
        let interval_us = u64::try_from(quota.replenish_interval().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        Gcra {
            interval_us,
            tolerance_us: interval_us.saturating_mul(u64::from(quota.burst_size().get() - 1)),
        }
    }
}

/// One limit a request counts against: its key in Redis and its quota.
#[derive(Debug, Clone)]
pub struct SharedLimit {
    pub key: String,
    pub gcra: Gcra,
}

/// What the shared limits said of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every limit had room, and the request now counts against each.
    Go,
    /// The request may go after this long, when the limit at this index
    /// (the one that frees last) has room; nothing was counted.
    Wait(Duration, usize),
    /// Redis did not answer and `redis_failure` is `open`: this replica's
    /// own limits decide.
    Local,
}

/// The connection to the shared limits; clones share it.
#[derive(Clone)]
pub struct SharedLimits(Arc<Inner>);

struct Inner {
    client: redis::Client,
    config: SharedLimitsConfig,
    metrics: Metrics,
    /// The connection in use; none until one was first opened.
    connection: ArcSwapOption<ConnectionManager>,
    /// Whether calls try Redis; false from a failure until a reconnection.
    up: AtomicBool,
    /// Whether the background reconnection runs.
    reconnecting: AtomicBool,
    /// When the last warning was logged, in milliseconds since `born`
    /// (`u64::MAX`: never).
    warned_at: AtomicU64,
    born: Instant,
}

/// A Redis URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("redis_url {url}: {source}")]
pub struct SharedLimitsError {
    url: String,
    #[source]
    source: redis::RedisError,
}

/// Why a call did not get its answer from Redis.
#[derive(Debug, thiserror::Error)]
enum Unanswered {
    #[error("it failed a moment ago and is being reconnected")]
    Down,
    #[error("it did not answer within {0} ms")]
    Timeout(u128),
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
}

/// Takes one request from every limit in `KEYS` at once, or from none.
/// `ARGV` holds two numbers per key: its interval and its tolerance, in
/// microseconds. A key holds the limit's theoretical arrival time in
/// microseconds of Redis' clock; a request may go when that time, less the
/// tolerance, is not in the future. Returns `{0, 0}` when the request may
/// go, else `{microseconds to wait, 1-based index of the limit that frees
/// last}`.
const GCRA_SCRIPT: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local next_tats = {}
local wait, which = 0, 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local free_at = tat - tolerance
  if free_at - now > wait then
    wait, which = free_at - now, i
  end
  next_tats[i] = tat + interval
end
if wait > 0 then return {wait, which} end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.ceil((next_tats[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%.0f', next_tats[i]), 'PX', string.format('%d', ttl_ms))
end
return {0, 0}
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA_SCRIPT));

impl SharedLimits {
    /// Connects to Redis. A Redis that does not answer is no error: the
    /// limits start as down (warned) and connect in the background; only a
    /// URL that is not one fails.
    pub async fn connect(
        config: SharedLimitsConfig,
        metrics: Metrics,
    ) -> Result<SharedLimits, SharedLimitsError> {
        let client =
            redis::Client::open(config.url.as_str()).map_err(|source| SharedLimitsError {
                url: crate::store::redact_url(&config.url),
                source,
            })?;
        let limits = SharedLimits(Arc::new(Inner {
            client,
            config,
            metrics,
            connection: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
            warned_at: AtomicU64::new(u64::MAX),
            born: Instant::now(),
        }));
        match limits.0.open().await {
            Ok(connection) => {
                limits.0.connection.store(Some(Arc::new(connection)));
                limits.0.up.store(true, Ordering::Release);
            }
            Err(e) => {
                limits.note_warning();
                tracing::warn!(
                    redis = %limits.redacted_url(),
                    error = %e,
                    redis_failure = limits.0.config.failure.as_str(),
                    "the rate-limit store (Redis) does not answer at start; {}",
                    limits.meanwhile()
                );
                limits.mark_down();
            }
        }
        Ok(limits)
    }

    /// The Redis key of a limit: the prefix, then `scope:provider`, then
    /// `:key` for a per-key limit. Never a secret: scopes, provider names,
    /// account ids and API key names only.
    pub fn key(&self, scope: &str, provider: &str, key: Option<&str>) -> String {
        let prefix = &self.0.config.key_prefix;
        match key {
            Some(k) => format!("{prefix}{scope}:{provider}:{k}"),
            None => format!("{prefix}{scope}:{provider}"),
        }
    }

    /// Counts one request against every limit in `limits` at once, or
    /// against none when one of them has no room. When Redis does not
    /// answer, `redis_failure` decides: [`Verdict::Local`], or an
    /// `upstream_unavailable` error. Either way the failure is counted and
    /// (now and then) logged.
    pub async fn acquire(&self, limits: &[SharedLimit]) -> Result<Verdict, Error> {
        match self.run(limits).await {
            Ok(verdict) => Ok(verdict),
            Err(e) => self.unanswered(&e),
        }
    }

    /// Whether Redis answers a PING now (for `/readyz`). A replica that
    /// knows Redis is down says so without asking.
    pub async fn ping(&self) -> bool {
        let Ok(mut connection) = self.usable_connection() else {
            return false;
        };
        let ping = redis::cmd("PING");
        let answer = ping.query_async::<()>(&mut connection);
        match tokio::time::timeout(self.0.config.timeout, answer).await {
            Ok(Ok(())) => true,
            _ => {
                self.mark_down();
                false
            }
        }
    }

    pub fn failure(&self) -> RedisFailure {
        self.0.config.failure
    }

    /// The Redis URL with any password masked, for logs.
    pub fn redacted_url(&self) -> String {
        crate::store::redact_url(&self.0.config.url)
    }

    async fn run(&self, limits: &[SharedLimit]) -> Result<Verdict, Unanswered> {
        let mut connection = self.usable_connection()?;
        let mut invocation = SCRIPT.prepare_invoke();
        for limit in limits {
            invocation
                .key(&limit.key)
                .arg(limit.gcra.interval_us)
                .arg(limit.gcra.tolerance_us);
        }
        let timeout = self.0.config.timeout;
        let answer = tokio::time::timeout(
            timeout,
            invocation.invoke_async::<(u64, usize)>(&mut connection),
        )
        .await;
        let (wait_us, which) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                self.mark_down();
                return Err(e.into());
            }
            Err(_) => {
                self.mark_down();
                return Err(Unanswered::Timeout(timeout.as_millis()));
            }
        };
        Ok(if wait_us == 0 {
            Verdict::Go
        } else {
            Verdict::Wait(Duration::from_micros(wait_us), which.saturating_sub(1))
        })
    }

    /// The connection, unless Redis is known to be down.
    fn usable_connection(&self) -> Result<ConnectionManager, Unanswered> {
        if !self.0.up.load(Ordering::Acquire) {
            return Err(Unanswered::Down);
        }
        self.0
            .connection
            .load_full()
            .map(|c| (*c).clone())
            .ok_or(Unanswered::Down)
    }

    /// Counts and (now and then) logs a call Redis did not answer, and
    /// applies `redis_failure`.
    fn unanswered(&self, e: &Unanswered) -> Result<Verdict, Error> {
        let failure = self.0.config.failure;
        let fallback = match failure {
            RedisFailure::Open => "local",
            RedisFailure::Closed => "rejected",
        };
        self.0
            .metrics
            .limit_store_errors
            .with_label_values(&[fallback])
            .inc();
        if self.note_warning() {
            tracing::warn!(
                redis = %self.redacted_url(),
                error = %e,
                redis_failure = failure.as_str(),
                "the rate-limit store (Redis) does not answer; {}",
                self.meanwhile()
            );
        }
        match failure {
            RedisFailure::Open => Ok(Verdict::Local),
            RedisFailure::Closed => Err(Error::new(
                ErrorCode::UpstreamUnavailable,
                "the gateway's shared rate-limit store does not answer; \
                 calls under a rate limit fail until it does",
            )
            .with_retry_after(1)),
        }
    }

    /// What happens while Redis is down, for log lines.
    fn meanwhile(&self) -> &'static str {
        match self.0.config.failure {
            RedisFailure::Open => "this replica uses its own limits until it answers",
            RedisFailure::Closed => "calls under a rate limit fail until it answers",
        }
    }

    /// Whether a warning is due (none in the last [`WARN_EVERY`]); if so,
    /// the next one is not due before another [`WARN_EVERY`].
    fn note_warning(&self) -> bool {
        let now = u64::try_from(self.0.born.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.0.warned_at.load(Ordering::Relaxed);
        let every = WARN_EVERY.as_millis() as u64;
        if last != u64::MAX && now.saturating_sub(last) < every {
            return false;
        }
        self.0
            .warned_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Stops calls from trying Redis and starts the background
    /// reconnection, unless it runs already.
    fn mark_down(&self) {
        self.0.up.store(false, Ordering::Release);
        if !self.0.reconnecting.swap(true, Ordering::AcqRel) {
            tokio::spawn(reconnect(Arc::downgrade(&self.0)));
        }
    }
}

/// Opens a fresh connection every [`RECONNECT_EVERY`] until one answers,
/// then lets calls use Redis again. It holds the limits weakly, so it ends
/// with the gateway.
async fn reconnect(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(RECONNECT_EVERY).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Ok(connection) = inner.open().await {
            inner.connection.store(Some(Arc::new(connection)));
            inner.reconnecting.store(false, Ordering::Release);
            inner.up.store(true, Ordering::Release);
            tracing::info!(
                redis = %crate::store::redact_url(&inner.config.url),
                "the rate-limit store (Redis) answers again; limits are shared again"
            );
            return;
        }
    }
}

impl Inner {
    /// A new connection that has answered a PING, within a bounded time. A
    /// connection that breaks later reconnects by itself (one quick retry);
    /// anything longer is the background reconnection's job.
    async fn open(&self) -> Result<ConnectionManager, Unanswered> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(100);
        let attempt = async {
            let mut connection =
                ConnectionManager::new_with_config(self.client.clone(), config).await?;
            redis::cmd("PING")
                .query_async::<()>(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(connection)
        };
        let bound = CONNECT_TIMEOUT * 3;
        match tokio::time::timeout(bound, attempt).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(Unanswered::Timeout(bound.as_millis())),
        }
    }
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("config", &self.0.config)
            .field("up", &self.0.up.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_become_microseconds_as_governor_counts_them() {
        let cases = [
            // (requests per second, burst) → (interval, tolerance)
            ((10.0, Some(5)), (100_000, 400_000)),
            ((5.0, Some(1)), (200_000, 0)),
            ((5.0, None), (200_000, 0)),
            ((0.5, Some(3)), (2_000_000, 4_000_000)),
            ((1e9, Some(2)), (1, 1)),
        ];
        for ((rate, burst), (interval_us, tolerance_us)) in cases {
            let quota = crate::upstream::limit::quota(rate, burst).unwrap();
            assert_eq!(
                Gcra::new(&quota),
                Gcra {
                    interval_us,
                    tolerance_us
                },
                "{rate}/s burst {burst:?}"
            );
        }
    }

    #[test]
    fn failure_modes_are_open_or_closed() {
        assert_eq!(RedisFailure::parse("open"), Some(RedisFailure::Open));
        assert_eq!(RedisFailure::parse(" closed "), Some(RedisFailure::Closed));
        assert_eq!(RedisFailure::parse("closd"), None);
        assert_eq!(RedisFailure::default(), RedisFailure::Open);
    }
}
