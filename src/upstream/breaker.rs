//! Circuit breaking per provider host.
//!
//! After `failure_threshold` consecutive failures (transport errors, timeouts
//! and 5xx answers) the circuit of that host opens: calls fail at once with
//! `upstream_unavailable` instead of piling up connections. After
//! `cool_down_ms` one call is let through as a probe (half-open); its success
//! closes the circuit, its failure opens it again. A probe that is cancelled
//! before it ends (its caller went away, or the call's deadline cut it) says
//! nothing of the host's health: it gives the half-open slot back, and the
//! next call probes.
//!
//! [`Breakers`] is the circuits' state; `Upstream::through_breaker` is the
//! layer that asks it before an attempt and tells it how the attempt went.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Answered, Attempted, Upstream};
use crate::error::{Error, ErrorCode};

/// Breaker settings (config `upstream.circuit_breaker`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open a circuit; 0 turns breaking off.
    pub failure_threshold: u32,
    pub cool_down_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 5,
            cool_down_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> i64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
    /// When the last failure was counted.
    failed_at: Instant,
}

/// The circuits of the hosts that failed lately. A host whose last attempt
/// was healthy has none: its circuit is closed with no failure counted.
#[derive(Debug)]
pub struct Breakers {
    config: BreakerConfig,
    circuits: Mutex<HashMap<String, Circuit>>,
    /// How many circuits there are, written under the lock. While it is 0,
    /// the common case, an attempt is admitted and its success recorded
    /// without taking the lock (and without allocating).
    troubled: AtomicUsize,
}

/// What the breaker allows for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead (the circuit is closed).
    Go,
    /// Go ahead as the single probe of the circuit half-open since
    /// `half_open_since` (the end of its last cool-down).
    Probe { half_open_since: Instant },
    /// Fail fast: the circuit is open for this long still.
    Refuse(Duration),
}

impl Breakers {
    pub fn new(config: BreakerConfig) -> Breakers {
        Breakers {
            config,
            circuits: Mutex::new(HashMap::new()),
            troubled: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Circuit>> {
        self.circuits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The circuits, locked, unless there are none. The count is read
    /// without ordering: the map itself is read only under the lock, and a
    /// count of 0 means the map was empty at that moment (every circuit
    /// closed, nothing to admit or reset).
    fn troubled(&self) -> Option<MutexGuard<'_, HashMap<String, Circuit>>> {
        match self.troubled.load(Ordering::Relaxed) {
            0 => None,
            _ => Some(self.lock()),
        }
    }

    fn enabled(&self) -> bool {
        self.config.failure_threshold > 0
    }

    /// Asks to send one attempt to `host`.
    pub fn admit(&self, host: &str) -> Admission {
        let Some(mut circuits) = self.troubled() else {
            return Admission::Go;
        };
        let Some(c) = circuits.get_mut(host) else {
            return Admission::Go;
        };
        match c.open_until {
            None => Admission::Go,
            Some(until) if Instant::now() < until => Admission::Refuse(until - Instant::now()),
            Some(_) if c.probing => {
                Admission::Refuse(Duration::from_millis(self.config.cool_down_ms.min(1_000)))
            }
            Some(until) => {
                c.probing = true;
                Admission::Probe {
                    half_open_since: until,
                }
            }
        }
    }

    /// Gives back the half-open slot of a probe that ended without an
    /// outcome, so the next call probes. Nothing changes when the circuit
    /// has moved on since (an outcome recorded, another cool-down begun).
    fn release(&self, host: &str, half_open_since: Instant) {
        let mut circuits = self.lock();
        if let Some(c) = circuits.get_mut(host)
            && c.probing
            && c.open_until == Some(half_open_since)
        {
            c.probing = false;
        }
    }

    /// Records how an admitted attempt went; returns the state afterwards.
    pub fn record(&self, host: &str, success: bool) -> CircuitState {
        if success {
            if let Some(mut circuits) = self.troubled()
                && circuits.remove(host).is_some()
            {
                self.troubled.store(circuits.len(), Ordering::Relaxed);
            }
            return CircuitState::Closed;
        }
        if !self.enabled() {
            return CircuitState::Closed;
        }
        let mut circuits = self.lock();
        if let Some(c) = circuits.get_mut(host) {
            return c.failed(&self.config);
        }
        let mut c = Circuit {
            failures: 0,
            open_until: None,
            probing: false,
            failed_at: Instant::now(),
        };
        let state = c.failed(&self.config);
        circuits.insert(host.to_owned(), c);
        self.troubled.store(circuits.len(), Ordering::Relaxed);
        state
    }

    /// Forgets the circuits of hosts that have not been called for a while
    /// (called now and then): a closed one whose last failure is older
    /// than a cool-down (its failures were not consecutive for long), and
    /// an open one that nobody asked to probe for ten cool-downs. While
    /// any circuit is left, every attempt takes the lock.
    pub fn shrink(&self) {
        self.shrink_at(Instant::now());
    }

    fn shrink_at(&self, now: Instant) {
        let Some(mut circuits) = self.troubled() else {
            return;
        };
        let cool_down = Duration::from_millis(self.config.cool_down_ms);
        circuits.retain(|_, c| match c.open_until {
            None => now.duration_since(c.failed_at) < cool_down,
            Some(until) => c.probing || now < until + cool_down * 10,
        });
        self.troubled.store(circuits.len(), Ordering::Relaxed);
    }

    /// The state of `host`'s circuit now.
    pub fn state(&self, host: &str) -> CircuitState {
        let circuits = self.lock();
        match circuits
            .get(host)
            .and_then(|c| c.open_until.map(|u| (u, c.probing)))
        {
            None => CircuitState::Closed,
            Some((until, _)) if Instant::now() < until => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }
}

impl Circuit {
    /// Counts a failure; the circuit opens at the threshold, or again when
    /// its probe failed.
    fn failed(&mut self, config: &BreakerConfig) -> CircuitState {
        self.failures += 1;
        self.failed_at = Instant::now();
        if self.probing || self.failures >= config.failure_threshold {
            self.open_until = Some(Instant::now() + Duration::from_millis(config.cool_down_ms));
            self.probing = false;
            return CircuitState::Open;
        }
        CircuitState::Closed
    }
}

/// A probe's hold on the half-open slot of its host's circuit. Dropped
/// before its outcome is recorded (the probe's future was dropped: the client
/// went away, or a deadline above the breaker cut the call), it gives the
/// slot back; otherwise the circuit would wait for that outcome, and refuse
/// every call, for good.
struct ProbeSlot<'a> {
    breakers: &'a Breakers,
    host: &'a str,
    half_open_since: Instant,
    recorded: bool,
}

impl Drop for ProbeSlot<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breakers.release(self.host, self.half_open_since);
        }
    }
}

// === impl Upstream: the breaker layer ===

impl Upstream {
    /// The breaker layer: runs `attempt` when `host`'s circuit lets it
    /// through, and records whether the host answered healthily; while the
    /// circuit is open, fails at once with `upstream_unavailable` and sends
    /// nothing (`attempt` is not even built). An attempt dropped before it
    /// ends records nothing; when it was the probe, its slot is given back.
    pub(super) async fn through_breaker<T, F, Fut>(
        &self,
        provider: &str,
        host: &str,
        attempt: F,
    ) -> Result<Attempted<T>, Error>
    where
        T: Answered,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Attempted<T>>,
    {
        let probe = match self.breakers.admit(host) {
            Admission::Go => None,
            Admission::Probe { half_open_since } => Some(ProbeSlot {
                breakers: &self.breakers,
                host,
                half_open_since,
                recorded: false,
            }),
            Admission::Refuse(left) => {
                self.metrics
                    .circuit_rejections
                    .with_label_values(&[provider])
                    .inc();
                return Err(Error::new(
                    ErrorCode::UpstreamUnavailable,
                    format!("{host} is failing; calls to it pause for a moment (circuit open)"),
                )
                .with_retry_after(left.as_secs().max(1)));
            }
        };
        let attempted = attempt().await;
        let healthy = attempted.healthy();
        let state = self.breakers.record(host, healthy);
        if let Some(mut probe) = probe {
            probe.recorded = true;
        }
        self.metrics
            .circuit_state
            .with_label_values(&[provider])
            .set(state.as_gauge());
        if state == CircuitState::Open && !healthy {
            tracing::warn!(provider, host, "circuit open");
        }
        Ok(attempted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ProviderResponse;

    fn breakers(failure_threshold: u32, cool_down_ms: u64) -> Breakers {
        Breakers::new(BreakerConfig {
            failure_threshold,
            cool_down_ms,
        })
    }

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cool_down() {
        let b = breakers(3, 50);
        for _ in 0..2 {
            assert_eq!(b.admit("h"), Admission::Go);
            assert_eq!(b.record("h", false), CircuitState::Closed);
        }
        assert_eq!(b.record("h", false), CircuitState::Open);
        assert!(matches!(b.admit("h"), Admission::Refuse(_)));
        assert_eq!(b.admit("other"), Admission::Go, "hosts are independent");

        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.state("h"), CircuitState::HalfOpen);
        assert!(matches!(b.admit("h"), Admission::Probe { .. }));
        assert!(
            matches!(b.admit("h"), Admission::Refuse(_)),
            "one probe at a time"
        );
        assert_eq!(
            b.record("h", false),
            CircuitState::Open,
            "a failed probe opens again"
        );

        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(b.admit("h"), Admission::Probe { .. }));
        assert_eq!(b.record("h", true), CircuitState::Closed);
        assert_eq!(b.admit("h"), Admission::Go);
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = breakers(2, 1_000);
        b.record("h", false);
        b.record("h", true);
        assert_eq!(b.record("h", false), CircuitState::Closed);
    }

    #[test]
    fn only_failing_hosts_have_a_circuit() {
        let b = breakers(2, 1_000);
        b.record("healthy", true);
        assert_eq!(b.troubled.load(Ordering::Relaxed), 0);
        b.record("a", false);
        b.record("b", false);
        assert_eq!(b.troubled.load(Ordering::Relaxed), 2);
        b.record("a", true);
        assert_eq!(b.troubled.load(Ordering::Relaxed), 1);
        assert_eq!(b.admit("a"), Admission::Go);
        assert_eq!(b.record("b", false), CircuitState::Open, "b still counts");
    }

    #[test]
    fn circuits_of_hosts_not_called_lately_are_forgotten() {
        let b = breakers(2, 1_000);
        let start = Instant::now();
        let later = |ms| start + Duration::from_millis(ms);
        b.record("once", false); // closed, one failure
        b.record("down", false);
        b.record("down", false); // open
        b.shrink_at(later(900));
        assert_eq!(b.troubled.load(Ordering::Relaxed), 2, "all recent");

        b.shrink_at(later(2_000));
        assert_eq!(
            b.troubled.load(Ordering::Relaxed),
            1,
            "an old failure of a closed circuit is forgotten; an open one waits for its probe"
        );
        assert_eq!(
            b.record("once", false),
            CircuitState::Closed,
            "counted anew"
        );

        // The open circuit nobody probed for ten cool-downs goes too.
        b.shrink_at(later(12_000));
        assert_eq!(b.troubled.load(Ordering::Relaxed), 0);
        assert_eq!(b.admit("down"), Admission::Go);
    }

    #[test]
    fn a_late_release_leaves_a_newer_probe_alone() {
        let b = breakers(1, 20);
        b.record("h", false);
        std::thread::sleep(Duration::from_millis(30));
        let Admission::Probe { half_open_since } = b.admit("h") else {
            panic!("the cool-down is over: a probe goes");
        };
        // An attempt sent before the circuit opened fails meanwhile: another
        // cool-down, then another probe.
        assert_eq!(b.record("h", false), CircuitState::Open);
        std::thread::sleep(Duration::from_millis(30));
        assert!(matches!(b.admit("h"), Admission::Probe { .. }));

        b.release("h", half_open_since);
        assert!(
            matches!(b.admit("h"), Admission::Refuse(_)),
            "the first probe's slot is not the second's"
        );
    }

    /// An upstream whose circuits open at the first failure and stay open
    /// for 20 ms.
    fn touchy_upstream() -> Upstream {
        let config = super::super::UpstreamConfig {
            circuit_breaker: BreakerConfig {
                failure_threshold: 1,
                cool_down_ms: 20,
            },
            ..Default::default()
        };
        Upstream::new(&config, crate::metrics::Metrics::new()).unwrap()
    }

    fn answered(status: u16) -> Attempted<ProviderResponse> {
        Attempted::Answered(ProviderResponse {
            status,
            headers: http::HeaderMap::new(),
            body: Vec::new(),
        })
    }

    #[tokio::test]
    async fn a_cancelled_probe_lets_the_next_call_probe() {
        let upstream = touchy_upstream();
        let down = upstream
            .through_breaker("p", "h", || async { answered(503) })
            .await;
        assert!(matches!(down, Ok(Attempted::Answered(_))));
        assert_eq!(upstream.breakers.state("h"), CircuitState::Open);
        tokio::time::sleep(Duration::from_millis(30)).await;

        // The probe hangs, and its caller goes away before it ends.
        let probe = upstream.through_breaker(
            "p",
            "h",
            std::future::pending::<Attempted<ProviderResponse>>,
        );
        let cancelled = tokio::time::timeout(Duration::from_millis(10), probe).await;
        assert!(cancelled.is_err());
        assert_eq!(upstream.breakers.state("h"), CircuitState::HalfOpen);

        let next = upstream
            .through_breaker("p", "h", || async { answered(200) })
            .await;
        assert!(
            matches!(next, Ok(Attempted::Answered(_))),
            "the next call goes through as the probe"
        );
        assert_eq!(upstream.breakers.state("h"), CircuitState::Closed);
    }

    #[test]
    fn a_zero_threshold_turns_breaking_off() {
        let b = breakers(0, 1_000);
        for _ in 0..10 {
            b.record("h", false);
        }
        assert_eq!(b.admit("h"), Admission::Go);
    }
}
