//! Timestamps as the gateway stores and shows them.
//!
//! Stored times are RFC 3339 in UTC with exactly three fraction digits
//! (`2026-11-25T16:50:51.250Z`), so they also sort as text; expiries that
//! are compared in SQL are Unix milliseconds.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;

static FORMAT: LazyLock<Vec<BorrowedFormatItem<'static>>> = LazyLock::new(|| {
    time::format_description::parse(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z",
    )
    .expect("a valid format description")
});

/// Now, as stored and returned.
pub fn now() -> String {
    text(OffsetDateTime::now_utc())
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A time as stored and returned.
pub fn text(t: OffsetDateTime) -> String {
    t.format(&*FORMAT).unwrap_or_default()
}

/// Unix milliseconds as stored and returned text.
pub fn text_of_ms(ms: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .map(text)
}

/// A `Retry-After` value (RFC 9110 section 10.2.3: seconds, or an HTTP
/// date) as the wait it asks for, at most a day; `None` for anything else.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let max = Duration::from_secs(crate::error::MAX_RETRY_AFTER_S);
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(max));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when.duration_since(SystemTime::now()).unwrap_or_default();
    Some(wait.min(max))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixed_width_text() {
        assert_eq!(
            super::text_of_ms(1_700_000_000_000).as_deref(),
            Some("2023-11-14T22:13:20.000Z")
        );
        assert_eq!(super::now().len(), 24);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_within_a_day() {
        use std::time::{Duration, SystemTime};
        let day = Duration::from_secs(86_400);
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let far = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10 * 86_400));
        let wait = super::retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(super::retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(super::retry_after("18446744073709551615"), Some(day));
        assert_eq!(super::retry_after(&far), Some(day));
        assert_eq!(
            super::retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(super::retry_after("soon"), None);
    }
}
