//! Wall-clock instants as milliseconds since the Unix epoch, and the date format of the
//! contract's bodies: RFC 3339 (event `timestamp`, `sent_at`), written by the client and read
//! by the collector. HTTP dates (`Retry-After`) are read by the shell's platform
//! (js/host.js), so that no date parser ships in the wasm.
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
    // Not `ops::Add`: this addition saturates instead of overflowing, and says so by its call.
    // Not inlined: a few bytes of wasm at each of the pipeline's deadlines.
    #[allow(clippy::should_implement_trait)]
    #[inline(never)]
    pub fn add(self, d: Duration) -> Millis {
        Millis(self.0.saturating_add(millis(d)))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// `d` in whole milliseconds, saturating at `u64::MAX`: `d.as_millis()` without its `u128`
/// arithmetic (a 128-bit multiplication in the wasm). Not inlined: one copy for the deadlines
/// and the backoff.
#[inline(never)]
pub fn millis(d: Duration) -> u64 {
    saturating_times(d.as_secs(), 1000).saturating_add(u64::from(d.subsec_millis()))
}

/// `n * k`, saturating at `u64::MAX`: `n.saturating_mul(k)` without its 128-bit
/// multiplication (`__multi3` in the wasm). Exact: `n * k` fits when `n <= u64::MAX / k`.
/// For a constant `k > 0`: the division is then folded away.
#[inline]
pub(crate) fn saturating_times(n: u64, k: u64) -> u64 {
    if n > u64::MAX / k {
        u64::MAX
    } else {
        n * k
    }
}

/// Formats `t` as RFC 3339 UTC with exactly three fractional digits, the way JavaScript's
/// `Date.prototype.toISOString` does for years 0000..=9999: `2026-11-23T10:00:01.500Z`.
///
/// Later years (JavaScript allows up to +275760) are written in the expanded form
/// `toISOString` uses, `+010000-01-01T00:00:00.000Z`.
pub fn format_rfc3339_millis(t: Millis) -> String {
    let days = t.0 / MILLIS_PER_DAY;
    let (year, month, day) = civil_from_days(days as i64);
    let of_day = t.0 % MILLIS_PER_DAY;
    let mut out = String::with_capacity(24);
    if year <= 9999 {
        push_padded(&mut out, year as u64, 4);
    } else {
        out.push('+');
        push_padded(&mut out, year as u64, 6);
    }
    out.push('-');
    push_padded(&mut out, u64::from(month), 2);
    out.push('-');
    push_padded(&mut out, u64::from(day), 2);
    out.push('T');
    push_padded(&mut out, of_day / 3_600_000, 2);
    out.push(':');
    push_padded(&mut out, of_day / 60_000 % 60, 2);
    out.push(':');
    push_padded(&mut out, of_day / 1000 % 60, 2);
    out.push('.');
    push_padded(&mut out, of_day % 1000, 3);
    out.push('Z');
    out
}

const MILLIS_PER_DAY: u64 = 86_400_000;

/// Appends `value` in decimal (a tiny itoa: the formatting machinery stays out of the wasm).
pub(crate) fn push_decimal(out: &mut String, value: u64) {
    push_padded(out, value, 1);
}

/// Appends `value` in decimal, left-padded with zeros to `width` digits (hand-written rather
/// than `format!("{:0w$}")` to keep the formatting machinery out of the wasm).
fn push_padded(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    // SAFETY: only ASCII digits are appended, so `out` stays UTF-8. (Pushed as `char`s, each
    // digit went through UTF-8 encoding; `str::from_utf8` would add its validator to the wasm.)
    unsafe { out.as_mut_vec() }.extend_from_slice(&digits[start..]);
}

/// (year, month 1..=12, day 1..=31) of the day `days` after 1970-01-01, proleptic Gregorian.
/// Howard Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>):
/// it shifts the year to start on March 1st so that the leap day is the last day of a year,
/// then counts 400-year eras of 146,097 days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, 0..=365
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the given date (the inverse of `civil_from_days`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A calendar date and time of day in UTC, as read from a text, not yet validated.
struct DateTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

impl DateTime {
    /// The instant, or `None` for an impossible date or time or one before 1970. A leap second
    /// (`:60`) cannot be represented in Unix time; it becomes the last millisecond before the
    /// next minute, which keeps the order of events.
    fn to_millis(&self) -> Option<Millis> {
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
            || self.year < 1970
        {
            return None;
        }
        let (second, milli) = if self.second == 60 {
            (59, 999)
        } else {
            (self.second, self.milli)
        };
        let days = days_from_civil(self.year, self.month, self.day) as u64;
        let seconds = u64::from(self.hour * 3600 + self.minute * 60 + second);
        Some(Millis(
            days * MILLIS_PER_DAY + seconds * 1000 + u64::from(milli),
        ))
    }
}

/// Reads the start of `b` against `template`, byte by byte: the digits `0` to `5` in the
/// template stand for a digit of the year, month, day, hour, minute and second, and any other
/// byte for itself, ASCII case-insensitively (`T` or `t`).
fn read_template(b: &[u8], template: &[u8]) -> Option<DateTime> {
    let mut f = [0u32; 6];
    for (i, &t) in template.iter().enumerate() {
        let c = *b.get(i)?;
        match t {
            b'0'..=b'5' if c.is_ascii_digit() => {
                let k = usize::from(t - b'0');
                f[k] = f[k] * 10 + u32::from(c - b'0');
            }
            _ if c.eq_ignore_ascii_case(&t) => {}
            _ => return None,
        }
    }
    let [year, month, day, hour, minute, second] = f;
    Some(DateTime {
        year: i64::from(year),
        month,
        day,
        hour,
        minute,
        second,
        milli: 0,
    })
}

/// Parses an RFC 3339 date-time in UTC (`Z` or `z`, or an offset of `+00:00`/`-00:00`) with a
/// fractional-seconds part of 1 to 9 digits (the contract requires milliseconds; more digits are
/// truncated to milliseconds). Returns `None` for anything else, including impossible dates
/// (2026-02-30), hours > 23, minutes > 59 and seconds > 60 (a leap second 60 is clamped to 59.999).
///
/// The date/time separator may be `T` or `t`, as RFC 3339 allows; years are four digits, from
/// 1970 (`Millis` cannot hold earlier instants).
pub fn parse_rfc3339_utc_millis(s: &str) -> Option<Millis> {
    // YYYY-MM-DDTHH:MM:SS.f{1,9}(Z|+00:00), checked position by position.
    let b = s.as_bytes();
    let mut t = read_template(b, b"0000-11-22T33:44:55.")?;
    // The fraction's first three digits, right-padded: ".5" is 500 ms, ".123456" is 123 ms.
    // One loop over the bytes (no iterator chain: smaller in the wasm).
    let (mut end, mut milli) = (20, 0);
    while let Some(&d) = b.get(end).filter(|d| d.is_ascii_digit()) {
        if end < 23 {
            milli = milli * 10 + u32::from(d - b'0');
        }
        end += 1;
    }
    if !(21..=29).contains(&end) {
        return None;
    }
    for _ in end..23 {
        milli *= 10;
    }
    match &b[end..] {
        b"Z" | b"z" | b"+00:00" | b"-00:00" => {}
        _ => return None,
    }
    t.milli = milli;
    t.to_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn saturating_times_is_saturating_mul() {
        for k in [1, 10, 1000] {
            let edge = u64::MAX / k;
            for n in [0, 1, edge - 1, edge, edge.saturating_add(1), u64::MAX] {
                assert_eq!(saturating_times(n, k), n.saturating_mul(k), "{n} * {k}");
            }
        }
    }

    #[test]
    fn millis_is_as_millis_saturating() {
        let max = u64::MAX;
        for d in [
            Duration::ZERO,
            Duration::from_nanos(999_999),
            Duration::from_millis(1),
            Duration::new(1, 999_999_999),
            Duration::from_millis(max),
            Duration::new(max / 1000, 615_999_999),
            Duration::new(max / 1000, 616_000_000),
            Duration::new(max / 1000 + 1, 0),
            Duration::MAX,
        ] {
            assert_eq!(
                millis(d),
                d.as_millis().min(u128::from(max)) as u64,
                "{d:?}"
            );
        }
    }

    /// 9999-12-31T23:59:59.999Z, the last instant `toISOString` writes with a four-digit year.
    const LAST_FOUR_DIGIT_YEAR_MILLI: u64 = 253_402_300_799_999;

    fn parse(s: &str) -> Option<u64> {
        parse_rfc3339_utc_millis(s).map(|t| t.0)
    }

    /// An independent, slow reference: walk the calendar year by year and month by month.
    fn naive_civil(t: u64) -> (i64, u32, u32, u64) {
        let mut days = t / MILLIS_PER_DAY;
        let mut year = 1970;
        loop {
            let in_year = if is_leap_year(year) { 366 } else { 365 };
            if days < in_year {
                break;
            }
            days -= in_year;
            year += 1;
        }
        let mut month = 1;
        while days >= u64::from(days_in_month(year, month)) {
            days -= u64::from(days_in_month(year, month));
            month += 1;
        }
        (year, month, days as u32 + 1, t % MILLIS_PER_DAY)
    }

    #[test]
    fn formats_known_instants() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (78_796_799_999, "1972-06-30T23:59:59.999Z"),
            (784_111_777_000, "1994-11-06T08:49:37.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_800_000, "2000-03-01T00:00:00.000Z"),
            (1_709_210_096_789, "2024-02-29T12:34:56.789Z"),
            (1_795_428_001_500, "2026-11-23T10:00:01.500Z"),
            (1_795_428_002_123, "2026-11-23T10:00:02.123Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (LAST_FOUR_DIGIT_YEAR_MILLI, "9999-12-31T23:59:59.999Z"),
            // Beyond: the expanded year of toISOString, e.g. new Date(253402300800000).
            (
                LAST_FOUR_DIGIT_YEAR_MILLI + 1,
                "+010000-01-01T00:00:00.000Z",
            ),
            (8_640_000_000_000_000, "+275760-09-13T00:00:00.000Z"),
        ];
        for &(t, expected) in cases {
            assert_eq!(format_rfc3339_millis(Millis(t)), expected, "{t}");
        }
        // Never panics, whatever the input.
        assert!(format_rfc3339_millis(Millis(u64::MAX)).starts_with('+'));
    }

    #[test]
    fn parses_known_timestamps() {
        assert_eq!(parse("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse("2026-11-23T10:00:01.500Z"), Some(1_795_428_001_500));
        assert_eq!(parse("2026-11-23t10:00:01.500z"), Some(1_795_428_001_500));
        assert_eq!(
            parse("2026-11-23T10:00:01.500+00:00"),
            Some(1_795_428_001_500)
        );
        assert_eq!(
            parse("2026-11-23T10:00:01.500-00:00"),
            Some(1_795_428_001_500)
        );
        assert_eq!(parse("2000-02-29T00:00:00.000Z"), Some(951_782_400_000));
        assert_eq!(parse("2024-02-29T12:34:56.789Z"), Some(1_709_210_096_789));
        assert_eq!(
            parse("9999-12-31T23:59:59.999Z"),
            Some(LAST_FOUR_DIGIT_YEAR_MILLI)
        );
    }

    #[test]
    fn fractions_of_one_to_nine_digits_are_truncated_to_millis() {
        assert_eq!(parse("1970-01-01T00:00:01.5Z"), Some(1_500));
        assert_eq!(parse("1970-01-01T00:00:01.05Z"), Some(1_050));
        assert_eq!(parse("1970-01-01T00:00:01.123456Z"), Some(1_123));
        assert_eq!(parse("1970-01-01T00:00:01.999999999Z"), Some(1_999));
        assert_eq!(parse("1970-01-01T00:00:01Z"), None);
        assert_eq!(parse("1970-01-01T00:00:01.Z"), None);
        assert_eq!(parse("1970-01-01T00:00:01.1234567890Z"), None);
    }

    #[test]
    fn a_leap_second_is_clamped_to_the_last_millisecond_of_its_minute() {
        assert_eq!(parse("1972-06-30T23:59:60.000Z"), Some(78_796_799_999));
        assert_eq!(parse("1972-06-30T23:59:60.500Z"), Some(78_796_799_999));
    }

    #[test]
    fn impossible_dates_and_times_are_refused() {
        for s in [
            "2026-02-29T00:00:00.000Z", // not a leap year
            "2100-02-29T00:00:00.000Z", // divisible by 100, not by 400
            "2026-02-30T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-00-01T00:00:00.000Z",
            "2026-01-00T00:00:00.000Z",
            "2026-01-32T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T23:60:00.000Z",
            "2026-01-01T23:59:61.000Z",
            "1969-12-31T23:59:59.999Z", // before what Millis can hold
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert_eq!(parse("2000-02-29T00:00:00.000Z"), Some(951_782_400_000));
        assert_eq!(parse("2024-02-29T00:00:00.000Z"), Some(1_709_164_800_000));
    }

    #[test]
    fn other_forms_are_refused() {
        for s in [
            "",
            "2026-11-23",
            "2026-11-23T10:00:01.500",       // no zone
            "2026-11-23T10:00:01.500+01:00", // not UTC
            "2026-11-23T10:00:01.500+0000",  // not RFC 3339
            "2026-11-23 10:00:01.500Z",      // space separator (an RFC 3339 note, not its grammar)
            "2026-11-23T10:00:01.500Z ",
            " 2026-11-23T10:00:01.500Z",
            "+2026-11-23T10:00:01.500Z",
            "26-11-23T10:00:01.500Z",
            "2026-1-23T10:00:01.500Z",
            "2026-11-23T10:0:01.500Z",
            "2026-11-23T10:00:01,500Z",
            "2026/11/23T10:00:01.500Z",
            "2026-11-23T10:00:01.5O0Z",
            "2026-11-23T10:00:01.500ZZ",
            "२०२६-11-23T10:00:01.500Z",
            "2026-11-23T10:00:01.500\u{5a}\u{301}",
            "Mon, 23 Nov 2026 10:00:01 GMT",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn millis_arithmetic_saturates() {
        assert_eq!(Millis(5).add(Duration::from_millis(7)), Millis(12));
        assert_eq!(
            Millis(u64::MAX - 1).add(Duration::from_secs(10)),
            Millis(u64::MAX)
        );
        assert_eq!(Millis(10).add(Duration::MAX), Millis(u64::MAX));
        assert_eq!(Millis(10).since(Millis(4)), Duration::from_millis(6));
        assert_eq!(Millis(4).since(Millis(10)), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn formatting_matches_a_naive_calendar_walk(t in 0..=LAST_FOUR_DIGIT_YEAR_MILLI) {
            let (y, m, d, of_day) = naive_civil(t);
            let expected = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                of_day / 3_600_000,
                of_day / 60_000 % 60,
                of_day / 1000 % 60,
                of_day % 1000
            );
            prop_assert_eq!(format_rfc3339_millis(Millis(t)), expected);
        }

        #[test]
        fn rfc3339_round_trips(t in 0..=LAST_FOUR_DIGIT_YEAR_MILLI) {
            prop_assert_eq!(parse(&format_rfc3339_millis(Millis(t))), Some(t));
        }

        #[test]
        fn parser_never_panics(s in any::<String>()) {
            let _ = parse_rfc3339_utc_millis(&s);
        }

        #[test]
        fn parser_never_panics_on_near_dates(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}\\.?[0-9]{0,11}[Zz+\\-:0é]{0,7}",
        ) {
            let _ = parse_rfc3339_utc_millis(&s);
        }
    }
}
