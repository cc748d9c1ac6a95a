//! Client-side rate limits (GCRA, from governor): per connected account and
//! per provider, from a spec's `rate_limit`, and per gateway API key on the
//! way in.
//!
//! A call that finds a limit exhausted waits for its turn when that comes
//! soon enough (within `rate_limit_wait_ms` and the call's deadline), and
//! otherwise fails at once with `rate_limited` and `retry_after_s`.
//!
//! Without `redis_url` limits are kept per process: with several replicas,
//! each allows the full rate. With it they are kept in Redis (`shared`), one
//! limit for the whole fleet, and the in-process limiters only stand in
//! while Redis does not answer (`redis_failure: open`).

pub mod shared;

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use std::time::Instant;

use super::{CallPlan, Upstream};
use crate::error::{Error, ErrorCode};
use crate::spec::RateLimitSpec;
use shared::{Gcra, SharedLimit, SharedLimits, Verdict};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// A quota built from requests per second and a burst.
pub fn quota(requests_per_second: f64, burst: Option<u32>) -> Option<Quota> {
    if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
        return None;
    }
    // A rate so low that its period would not fit a Duration is one a day.
    let period = Duration::try_from_secs_f64(1.0 / requests_per_second)
        .unwrap_or(Duration::from_secs(24 * 60 * 60))
        .min(Duration::from_secs(24 * 60 * 60));
    let burst = NonZeroU32::new(burst.unwrap_or(1).max(1))?;
    Quota::with_period(period).map(|q| q.allow_burst(burst))
}

/// Limiters keyed by `K`, one quota for all keys.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: Keyed<K>,
    gcra: Gcra,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    pub fn new(quota: Quota) -> KeyedLimit<K> {
        KeyedLimit {
            limiter: RateLimiter::keyed(quota),
            gcra: Gcra::new(&quota),
        }
    }

    /// The same quota, as the shared limits take it.
    pub fn gcra(&self) -> Gcra {
        self.gcra
    }

    /// `None` when `key` may go now; else how long until it may.
    pub fn check(&self, key: &K) -> Option<Duration> {
        self.limiter
            .check_key(key)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose state is back to full, to bound memory.
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The limits of every provider, created on first use from each spec's
/// `rate_limit` (and rebuilt when a reload changes it).
#[derive(Default)]
pub struct ProviderLimits {
    by_provider: Mutex<HashMap<String, Arc<ProviderLimit>>>,
    shared: Option<SharedLimits>,
}

/// One provider's limits: per account, and for the provider as a whole.
pub struct ProviderLimit {
    provider: String,
    spec: RateLimitSpec,
    per_account: Option<KeyedLimit<String>>,
    whole: Option<KeyedLimit<()>>,
    shared: Option<SharedLimits>,
}

impl ProviderLimits {
    /// Limits kept in Redis when `shared` is given, else in this process.
    pub fn new(shared: Option<SharedLimits>) -> ProviderLimits {
        ProviderLimits {
            by_provider: Mutex::default(),
            shared,
        }
    }

    /// The Redis behind the limits, when they are shared.
    pub fn shared(&self) -> Option<&SharedLimits> {
        self.shared.as_ref()
    }

    /// The limits for `provider` as its spec says now.
    pub fn get(&self, provider: &str, spec: &RateLimitSpec) -> Arc<ProviderLimit> {
        let mut map = self.by_provider.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = map.get(provider)
            && existing.spec == *spec
        {
            return existing.clone();
        }
        let limit = Arc::new(ProviderLimit {
            provider: provider.to_owned(),
            spec: spec.clone(),
            per_account: quota(spec.requests_per_second, spec.burst).map(KeyedLimit::new),
            whole: spec
                .per_provider
                .as_ref()
                .and_then(|p| quota(p.requests_per_second, p.burst))
                .map(KeyedLimit::new),
            shared: self.shared.clone(),
        });
        map.insert(provider.to_owned(), limit.clone());
        limit
    }

    /// Drops idle per-account state everywhere.
    pub fn shrink(&self) {
        let map = self.by_provider.lock().unwrap_or_else(|e| e.into_inner());
        for limit in map.values() {
            if let Some(l) = &limit.per_account {
                l.shrink();
            }
        }
    }
}

impl std::fmt::Debug for ProviderLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderLimit")
            .field("spec", &self.spec)
            .finish()
    }
}

impl ProviderLimit {
    /// How long `account` must wait before its next request (the longer of
    /// its own and the provider's limit, with the limit's scope), or `None`
    /// to go now. An error only when the shared limits do not answer and
    /// `redis_failure` is `closed`.
    pub async fn check(&self, account: &str) -> Result<Option<(Duration, &'static str)>, Error> {
        if let Some(shared) = &self.shared {
            let mut limits = Vec::with_capacity(2);
            let mut scopes = Vec::with_capacity(2);
            if let Some(l) = &self.per_account {
                limits.push(SharedLimit {
                    key: shared.key("account", &self.provider, Some(account)),
                    gcra: l.gcra(),
                });
                scopes.push("account");
            }
            if let Some(l) = &self.whole {
                limits.push(SharedLimit {
                    key: shared.key("provider", &self.provider, None),
                    gcra: l.gcra(),
                });
                scopes.push("provider");
            }
            if limits.is_empty() {
                return Ok(None);
            }
            match shared.acquire(&limits).await? {
                Verdict::Go => return Ok(None),
                Verdict::Wait(wait, which) => {
                    return Ok(Some((
                        wait,
                        scopes.get(which).copied().unwrap_or("account"),
                    )));
                }
                Verdict::Local => {}
            }
        }
        Ok(self.check_local(account))
    }

    /// [`ProviderLimit::check`] against this process's own limiters.
    fn check_local(&self, account: &str) -> Option<(Duration, &'static str)> {
        let own = self
            .per_account
            .as_ref()
            .and_then(|l| l.check(&account.to_owned()))
            .map(|w| (w, "account"));
        let whole = self
            .whole
            .as_ref()
            .and_then(|l| l.check(&()))
            .map(|w| (w, "provider"));
        match (own, whole) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

// === impl Upstream: the rate-limit layer ===

impl Upstream {
    /// The rate-limit layer, outermost: waits for the account's and
    /// provider's limits, or fails with `rate_limited` when the wait would
    /// be too long (past `rate_limit_wait_ms` or the call's deadline).
    pub(super) async fn wait_for_rate_limit(&self, plan: &CallPlan<'_>) -> Result<(), Error> {
        let Some(limit) = &plan.rate_limit else {
            return Ok(());
        };
        loop {
            let Some((wait, scope)) = limit.check(plan.account).await? else {
                return Ok(());
            };
            let allowed = Duration::from_millis(self.config.rate_limit_wait_ms);
            let time_left = plan.deadline.saturating_duration_since(Instant::now());
            if wait > allowed || wait >= time_left {
                self.metrics
                    .rate_limited
                    .with_label_values(&[plan.provider, scope, "rejected"])
                    .inc();
                return Err(Error::new(
                    ErrorCode::RateLimited,
                    format!(
                        "this {scope}'s request rate to {} is at its limit",
                        plan.provider
                    ),
                )
                .with_retry_after(wait.as_secs_f64().ceil().max(1.0) as u64)
                .with_detail("limit", scope));
            }
            self.metrics
                .rate_limited
                .with_label_values(&[plan.provider, scope, "waited"])
                .inc();
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limit = KeyedLimit::new(quota(10.0, Some(3)).unwrap());
        let key = "ca_1".to_owned();
        for _ in 0..3 {
            assert_eq!(limit.check(&key), None);
        }
        let wait = limit.check(&key).expect("the burst is used up");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert_eq!(
            limit.check(&"ca_2".to_owned()),
            None,
            "keys are independent"
        );
    }

    #[test]
    fn invalid_rates_make_no_quota() {
        assert!(quota(0.0, None).is_none());
        assert!(quota(f64::NAN, None).is_none());
        assert!(quota(0.5, Some(0)).is_some(), "a zero burst means one");
    }
}
