//! When and how long to wait before trying a provider again.
//!
//! Waits are exponential backoff with full jitter (a random time between
//! zero and `base · 2^retry`, capped), unless the provider says how long:
//! `Retry-After` (seconds or an HTTP date) or the spec's rate-limit reset
//! header (seconds to wait, or a Unix time) win.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName};
use rand::Rng;
use serde::Deserialize;

use crate::spec::RetrySpec;

/// Gateway-wide retry defaults (config `upstream.retry`); a spec's `retry`
/// overrides `max_attempts` and `on_status` for its provider.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per request, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// Statuses retried (for idempotent tools only).
    pub on_status: Vec<u16>,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 3,
            on_status: vec![429, 502, 503, 504],
            base_delay_ms: 100,
            max_delay_ms: 5_000,
        }
    }
}

/// The retry rules in force for one provider.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub on_status: Vec<u16>,
    retry_after_header: HeaderName,
    reset_header: Option<HeaderName>,
    base_delay: Duration,
    max_delay: Duration,
}

impl RetryPolicy {
    pub fn new(config: &RetryConfig, spec: Option<&RetrySpec>) -> RetryPolicy {
        let header = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        };
        RetryPolicy {
            max_attempts: spec
                .and_then(|s| s.max_attempts)
                .unwrap_or(config.max_attempts)
                .max(1),
            on_status: spec
                .and_then(|s| s.on_status.clone())
                .unwrap_or_else(|| config.on_status.clone()),
            retry_after_header: spec
                .and_then(|s| header(&s.retry_after_header))
                .unwrap_or(http::header::RETRY_AFTER),
            reset_header: spec.and_then(|s| header(&s.reset_header)),
            base_delay: Duration::from_millis(config.base_delay_ms),
            max_delay: Duration::from_millis(config.max_delay_ms),
        }
    }

    /// The longest pause before a retry, whoever asks for it.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    pub fn retries_status(&self, status: u16) -> bool {
        self.on_status.contains(&status)
    }

    /// The retry layer's decision after attempt number `attempts` failed in
    /// a way that may be retried: the pause before the next attempt, or
    /// `None` when the last answer stands (the attempts are used up, the
    /// provider `asked` for a longer pause than the gateway ever waits, or
    /// the pause would not end within `time_left` of the deadline). The
    /// pause is what the provider asked, else the backoff.
    pub fn again(
        &self,
        attempts: u32,
        asked: Option<Duration>,
        time_left: Duration,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts || asked.is_some_and(|w| w > self.max_delay) {
            return None;
        }
        let pause = asked.unwrap_or_else(|| self.backoff(attempts));
        (pause < time_left).then_some(pause)
    }

    /// Full-jitter backoff before retry number `retry` (1 for the first).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let cap = exp.min(self.max_delay);
        let millis = cap.as_millis() as u64;
        Duration::from_millis(if millis == 0 {
            0
        } else {
            rand::rng().random_range(0..=millis)
        })
    }

    /// How long the provider asked us to wait, if it did.
    pub fn server_delay(&self, headers: &HeaderMap) -> Option<Duration> {
        let text = |name: &HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        if let Some(wait) = text(&self.retry_after_header).and_then(crate::clock::retry_after) {
            return Some(wait);
        }
        let v = text(self.reset_header.as_ref()?)?;
        let n = v
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)?;
        // Values this large are Unix times (seconds); smaller ones are waits.
        if n > 1_000_000_000.0 {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            return Some(bounded_seconds(n - now));
        }
        Some(bounded_seconds(n))
    }
}

/// The longest wait a provider's answer can ask for; longer asks are read
/// as this (they fail the call at once with `retry_after_s` anyway).
pub const MAX_PROVIDER_DELAY: Duration = Duration::from_secs(crate::error::MAX_RETRY_AFTER_S);

/// Seconds from a provider (any finite or infinite number) as a duration
/// within `0..=MAX_PROVIDER_DELAY`; never panics.
pub fn bounded_seconds(seconds: f64) -> Duration {
    let max = MAX_PROVIDER_DELAY.as_secs_f64();
    let clamped = if seconds.is_nan() {
        0.0
    } else {
        seconds.clamp(0.0, max)
    };
    Duration::try_from_secs_f64(clamped).unwrap_or(MAX_PROVIDER_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(spec: Option<RetrySpec>) -> RetryPolicy {
        RetryPolicy::new(&RetryConfig::default(), spec.as_ref())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn another_attempt_follows_while_attempts_and_time_are_left() {
        let config = RetryConfig {
            max_attempts: 3,
            base_delay_ms: 0,
            max_delay_ms: 5_000,
            ..RetryConfig::default()
        };
        let p = RetryPolicy::new(&config, None);
        let s = Duration::from_secs;
        // (attempts made, pause asked by the provider, time left) → pause
        let cases = [
            (1, None, s(10), Some(s(0))),
            (2, None, s(10), Some(s(0))),
            (3, None, s(10), None),
            (1, Some(s(2)), s(10), Some(s(2))),
            (1, Some(s(5)), s(10), Some(s(5))),
            (1, Some(s(6)), s(60), None),
            (1, Some(s(2)), s(2), None),
            (1, Some(s(2)), s(1), None),
            (1, None, Duration::ZERO, None),
        ];
        for (attempts, asked, time_left, expected) in cases {
            assert_eq!(
                p.again(attempts, asked, time_left),
                expected,
                "{attempts} attempts, asked {asked:?}, {time_left:?} left"
            );
        }
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let p = policy(None);
        for retry in 1..20 {
            let cap = Duration::from_millis((100u64 << (retry - 1).min(30)).min(5_000));
            assert!(p.backoff(retry) <= cap, "retry {retry}");
        }
    }

    #[test]
    fn server_delays() {
        let spec = RetrySpec {
            max_attempts: Some(4),
            on_status: Some(vec![503]),
            retry_after_header: None,
            reset_header: Some("X-RateLimit-Reset".into()),
        };
        let p = policy(Some(spec));
        assert_eq!(p.max_attempts, 4);
        assert!(p.retries_status(503) && !p.retries_status(429));
        assert_eq!(
            p.server_delay(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let d = p
            .server_delay(&headers(&[("retry-after", &later)]))
            .unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            p.server_delay(&headers(&[("x-ratelimit-reset", "2.5")])),
            Some(Duration::from_millis(2_500))
        );
        let epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 10;
        let d = p
            .server_delay(&headers(&[("x-ratelimit-reset", &epoch.to_string())]))
            .unwrap();
        assert!(
            d > Duration::from_secs(8) && d <= Duration::from_secs(10),
            "{d:?}"
        );
        assert_eq!(p.server_delay(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(p.server_delay(&HeaderMap::new()), None);
    }
}
