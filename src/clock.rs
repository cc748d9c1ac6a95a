//! Timestamps as the gateway stores and shows them.
//!
//! Stored times are RFC 3339 in UTC with exactly three fraction digits
//! (`2026-11-25T16:50:51.250Z`), so they also sort as text; expiries that
//! are compared in SQL are Unix milliseconds.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

/// Now, as stored and returned.
pub fn now() -> String {
    stored(since_epoch())
}

/// Now, as time since the Unix epoch.
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A time as stored and returned.
pub fn text(t: OffsetDateTime) -> String {
    let seconds = u64::try_from(t.unix_timestamp()).unwrap_or(0);
    stored(Duration::new(seconds, t.nanosecond()))
}

/// Unix milliseconds as stored and returned text.
pub fn text_of_ms(ms: i64) -> Option<String> {
    Some(stored(Duration::from_millis(u64::try_from(ms).ok()?)))
}

/// A time since the Unix epoch as stored text.
fn stored(since_epoch: Duration) -> String {
    let mut out = String::with_capacity(24);
    write_utc(&mut out, since_epoch, Fraction::Millis);
    out
}

/// How many fraction digits [`write_utc`] writes.
#[derive(Clone, Copy)]
pub enum Fraction {
    /// Three: stored times.
    Millis,
    /// Six: log lines.
    Micros,
}

thread_local! {
    /// The last second written on this thread, formatted: a log line or an
    /// audit row written in the same second reuses it.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Appends the time `since_epoch` after the Unix epoch as RFC 3339 in UTC
/// (`2026-11-25T16:50:51.250Z`, or `.250123Z` with [`Fraction::Micros`]).
pub fn write_utc(out: &mut String, since_epoch: Duration, fraction: Fraction) {
    let seconds = since_epoch.as_secs();
    let whole = |out: &mut String| {
        if let Ok(t) = OffsetDateTime::from_unix_timestamp(seconds as i64) {
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
        }
    };
    let cached = SECOND.try_with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.0 != seconds {
            cell.1.clear();
            whole(&mut cell.1);
            cell.0 = seconds;
        }
        out.push_str(&cell.1);
    });
    if cached.is_err() {
        whole(out);
    }
    let _ = match fraction {
        Fraction::Millis => write!(out, ".{:03}Z", since_epoch.subsec_millis()),
        Fraction::Micros => write!(out, ".{:06}Z", since_epoch.subsec_micros()),
    };
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
        assert_eq!(super::text_of_ms(-1), None);
    }

    #[test]
    fn written_times_agree_with_the_time_crate() {
        use std::time::Duration;
        use time::format_description::well_known::Rfc3339;
        // Across a leap day, a year's end and within one second (cached).
        for ms in [
            951_782_399_999,
            951_782_400_000,
            1_798_761_599_999,
            1_798_761_600_000,
            1_798_761_600_001,
        ] {
            let expected =
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .unwrap()
                    .format(&Rfc3339)
                    .unwrap();
            let written = super::text_of_ms(ms).unwrap();
            let parsed = time::OffsetDateTime::parse(&written, &Rfc3339).unwrap();
            assert_eq!(
                parsed.unix_timestamp_nanos(),
                i128::from(ms) * 1_000_000,
                "{written} {expected}"
            );
            assert_eq!(written.len(), 24, "{written}");
        }
        let mut micros = String::new();
        super::write_utc(
            &mut micros,
            Duration::new(1_700_000_000, 123_456_789),
            super::Fraction::Micros,
        );
        assert_eq!(micros, "2023-11-14T22:13:20.123456Z");
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_987_654_321).unwrap();
        assert_eq!(super::text(t), "2023-11-14T22:13:20.987Z");
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
