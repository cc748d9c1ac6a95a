//! Timestamps as the gateway stores and shows them.
//!
//! Stored times are RFC 3339 in UTC with exactly three fraction digits
//! (`2026-11-25T16:50:51.250Z`), so they also sort as text; expiries that
//! are compared in SQL are Unix milliseconds.

use std::sync::LazyLock;

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
}
