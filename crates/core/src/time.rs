//! Wall-clock instants as milliseconds since the Unix epoch, and the date formats of the
//! contract: RFC 3339 (event `timestamp`, `sent_at`) and HTTP dates (`Retry-After`).
//!
//! The core never reads a clock: the shell passes `Millis` in. Durations are
//! `core::time::Duration` so that units are always in the type.

use core::time::Duration;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    pub const ZERO: Millis = Millis(0);

    /// `self + d`, saturating at `u64::MAX`.
    pub fn add(self, d: Duration) -> Millis {
        Millis(self.0.saturating_add(d.as_millis().min(u64::MAX as u128) as u64))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Formats `t` as RFC 3339 UTC with exactly three fractional digits, the way JavaScript's
/// `Date.prototype.toISOString` does for years 0000..=9999: `2026-11-23T10:00:01.500Z`.
pub fn format_rfc3339_millis(t: Millis) -> String {
    todo!("helper: time formatting {t:?}")
}

/// Parses an RFC 3339 date-time in UTC (`Z` or `z`, or an offset of `+00:00`/`-00:00`) with a
/// fractional-seconds part of 1 to 9 digits (the contract requires milliseconds; more digits are
/// truncated to milliseconds). Returns `None` for anything else, including impossible dates
/// (2026-02-30), hours > 23, minutes > 59 and seconds > 60 (a leap second 60 is clamped to 59.999).
pub fn parse_rfc3339_utc_millis(s: &str) -> Option<Millis> {
    todo!("helper: {s}")
}

/// Parses an HTTP date (RFC 9110 section 5.6.7): the preferred IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) and the two obsolete forms a server may still send,
/// RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(s: &str) -> Option<Millis> {
    todo!("helper: {s}")
}
