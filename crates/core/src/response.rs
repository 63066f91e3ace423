//! What a collector's reply means (CONTRACT.md 3.1), decided in one named, tested function.
//!
//! `classify` maps every outcome of a request (a status with its headers and body, a network
//! error, a timeout, a beacon with no reply) to a `Verdict`, and extracts the earliest instant
//! the server allows the next request (`Retry-After` as seconds or an HTTP date, else
//! `X-RateLimit-Reset` when rate limited or when `X-RateLimit-Remaining` is 0).
//! An HTTP date is read by the platform (`Date.parse` in js/host.js) and arrives here as an
//! instant (`RetryAfter::At`): the calendar arithmetic of three date forms stays out of the
//! wasm, and the rules (Retry-After wins, never earlier than the server said) stay here.
//! A lesson from posthog-js: a range check on statuses once silently excluded 429; here every
//! status has an explicit arm.

use core::time::Duration;

use crate::json::{self, Value};
use crate::text::{concat, prefix_chars};
use crate::time::{saturating_times, Millis};

/// A reply as the shell read it. `Retry-After` comes understood (`None` when absent, hidden by
/// CORS, or neither delta-seconds nor an HTTP date); the rate-limit headers are raw strings
/// (`None` when absent or hidden); the body may be anything, including not JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub retry_after: Option<RetryAfter>,
    pub rate_limit_remaining: Option<String>,
    pub rate_limit_reset: Option<String>,
    pub body: String,
}

impl HttpResponse {
    pub fn status(status: u16) -> Self {
        HttpResponse {
            status,
            ..Default::default()
        }
    }
    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }
    pub fn with_retry_after(mut self, v: RetryAfter) -> Self {
        self.retry_after = Some(v);
        self
    }
    pub fn with_rate_limit(mut self, remaining: Option<&str>, reset: Option<&str>) -> Self {
        self.rate_limit_remaining = remaining.map(str::to_string);
        self.rate_limit_reset = reset.map(str::to_string);
        self
    }
}

/// A `Retry-After` header (RFC 9110 10.2.3): delta-seconds, or an HTTP date that the shell's
/// platform has read into an instant (the core has no date parser; see js/host.js).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this many seconds from the reply's arrival.
    Seconds(u64),
    /// Wait until this instant (the HTTP date's).
    At(Millis),
}

impl RetryAfter {
    /// The value as js/host.js hands it over: delta-seconds as the server wrote them (digits
    /// only; too many for a `u64` saturate, as a wait that long is still a wait), or `@` and the
    /// Unix milliseconds of the HTTP date the host read. `None` for anything else (the host
    /// sends "" for an absent or unreadable header), so that it falls back to
    /// `X-RateLimit-Reset` or the backoff.
    pub fn from_host(text: &str) -> Option<RetryAfter> {
        // The first byte looked at as a byte: `strip_prefix('@')` encodes the `char` first.
        match text.as_bytes().first() {
            Some(b'@') => json::digits_u64(&text[1..]).map(|ms| RetryAfter::At(Millis(ms))),
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Some(
                RetryAfter::Seconds(json::digits_u64(text).unwrap_or(u64::MAX)),
            ),
            _ => None,
        }
    }

    /// The instant it names for a reply received at `now` (saturating).
    pub fn until(self, now: Millis) -> Millis {
        match self {
            RetryAfter::Seconds(s) => now.add(Duration::from_secs(s)),
            RetryAfter::At(t) => t,
        }
    }
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Http(HttpResponse),
    /// The request failed before a status arrived (offline, DNS, CORS, reset connection).
    NetworkError(String),
    /// No reply within `requestTimeoutMs`.
    Timeout,
    /// Handed to `navigator.sendBeacon`: queued by the browser, reply never seen.
    Unconfirmed,
}

/// An event a 2xx reply refused (its `errors` list), or a 422 reply named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Index of the event in the request's `events`.
    pub index: Option<usize>,
    pub event_id: Option<String>,
    pub message: String,
}

/// What to do with the request's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done; the `refused` ones are dropped and reported.
    Delivered { refused: Vec<Refusal> },
    /// 429: pause all sending; keep every event.
    RateLimited,
    /// 5xx, 408, network error, timeout, unlisted statuses: back off; keep every event. Which
    /// of them it was changes nothing downstream, so no reason is carried.
    Retry,
    /// 413: split in halves; a single event is dropped.
    Split,
    /// 422: drop exactly the named events; `refused` empty means no index could be read and the
    /// whole request is dropped with `detail`.
    Invalid {
        refused: Vec<Refusal>,
        detail: String,
    },
    /// 400, 401, 403: drop the request's events and stop sending for this page.
    Fatal { status: u16, detail: String },
    /// A beacon: no reply to act on; the events stay queued until acknowledged.
    Unconfirmed,
}

/// A verdict and the earliest instant the server allows the next request, if it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub verdict: Verdict,
    pub server_wait_until: Option<Millis>,
}

/// Classifies `outcome`, received at `now`.
pub fn classify(outcome: &Outcome, now: Millis) -> Classified {
    let resp = match outcome {
        Outcome::Http(r) => r,
        // No reply to read: one return for these, its verdict picked inside.
        Outcome::NetworkError(_) | Outcome::Timeout | Outcome::Unconfirmed => {
            return Classified {
                verdict: match outcome {
                    Outcome::Unconfirmed => Verdict::Unconfirmed,
                    _ => Verdict::Retry,
                },
                server_wait_until: None,
            }
        }
    };
    let retry_after = resp.retry_after.map(|r| r.until(now));
    let reset = resp
        .rate_limit_reset
        .as_deref()
        .and_then(|v| parse_rate_limit_reset(v, now));
    let exhausted = resp
        .rate_limit_remaining
        .as_deref()
        .and_then(header_number)
        .is_some_and(|n| n.negative || n.zero);
    let status = resp.status;
    // The body, parsed once for the verdicts that look into it (`None`: not JSON).
    let body = json::parse(&resp.body).ok();
    let body = body.as_ref();
    let verdict = match status {
        200..=299 => Verdict::Delivered {
            refused: refusals(body, false),
        },
        429 => Verdict::RateLimited,
        413 => Verdict::Split,
        422 => Verdict::Invalid {
            refused: refusals(body, true),
            detail: excerpt(&resp.body),
        },
        400 | 401 | 403 => Verdict::Fatal {
            status,
            detail: detail_of(body, &resp.body),
        },
        408 | 500 | 502 | 503 | 504 => Verdict::Retry,
        // Not in the contract's table (404 from a misrouted proxy, 3xx, 1xx, other 5xx): keep
        // every event and back off, capped at the backoff cap. Dropping data on a status the
        // contract does not name would turn a misconfiguration into silent loss.
        _ => Verdict::Retry,
    };
    // Retry-After wins on any status (RFC 9110 gives it meaning on 429 and 503 alike); a
    // rate-limited reply without it falls back to the window reset; and any reply that says
    // the window is exhausted holds the next request until the reset.
    let server_wait_until = match (retry_after, status == 429 || exhausted) {
        (Some(t), _) => Some(t),
        (None, true) => reset,
        (None, false) => None,
    };
    Classified {
        verdict,
        server_wait_until,
    }
}

/// Values of `X-RateLimit-Reset` below this are taken as seconds from now, not as Unix time:
/// some servers send a delta, and 10^9 seconds since 1970 was 2001, so no real reset is below.
const RESET_DELTA_THRESHOLD: u64 = 1_000_000_000;

/// `X-RateLimit-Reset`: Unix time in seconds (the contract), or a delta in seconds.
pub fn parse_rate_limit_reset(value: &str, now: Millis) -> Option<Millis> {
    let n = header_number(value)?;
    if n.negative && !n.zero {
        return None;
    }
    if n.thousandths < RESET_DELTA_THRESHOLD * 1000 {
        Some(Millis(now.0.saturating_add(n.thousandths)))
    } else {
        Some(Millis(n.thousandths))
    }
}

/// A rate-limit header's number.
struct HeaderNumber {
    /// Written with a `-` (`-0` included).
    negative: bool,
    /// All its digits are 0.
    zero: bool,
    /// The magnitude in thousandths, truncated (seconds to milliseconds), saturating.
    thousandths: u64,
}

/// A header value as a decimal number, `[+-]digits[.digits]` (either side of the point may be
/// empty, not both) with whitespace around. Read as text, not through `f64`: the snippet
/// carries no float code. Exponents, `inf` and `NaN` are not numbers here (servers send
/// integers; the draft RateLimit fields allow nothing else).
fn header_number(value: &str) -> Option<HeaderNumber> {
    let v = value.trim();
    let (negative, v) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    // One loop over the bytes (no chained iterators: smaller in the wasm). `fraction`: digits
    // seen after the point, `None` before it; only the first 3 count (milliseconds).
    let mut fraction: Option<u32> = None;
    let (mut any_digit, mut zero, mut thousandths) = (false, true, 0u64);
    for b in v.bytes() {
        match b {
            b'.' if fraction.is_none() => fraction = Some(0),
            b'0'..=b'9' => {
                any_digit = true;
                zero &= b == b'0';
                if fraction.is_none_or(|n| n < 3) {
                    thousandths =
                        saturating_times(thousandths, 10).saturating_add(u64::from(b - b'0'));
                }
                if let Some(n) = &mut fraction {
                    *n += 1;
                }
            }
            _ => return None,
        }
    }
    if !any_digit {
        return None;
    }
    for _ in fraction.unwrap_or(0)..3 {
        thousandths = saturating_times(thousandths, 10);
    }
    Some(HeaderNumber {
        negative,
        zero,
        thousandths,
    })
}

/// The events a reply refused: a 2xx's `errors`
/// (`[{"index": 3, "event_id": "...", "message": "..."}]`) or, `unprocessable`, a 422's
/// `detail` (entries whose `loc` is `["body", "events", <index>, ...]`; one refusal per event,
/// all its problems in the message). One walker for both lists: one loop, one `push` and one
/// lookup of a number in the wasm instead of two of each.
fn refusals(body: Option<&Value>, unprocessable: bool) -> Vec<Refusal> {
    let key = if unprocessable { "detail" } else { "errors" };
    // Matched, not `and_then(closure).and_then(..).unwrap_or(&[])`: less wasm.
    let list: &[Value] = match body {
        Some(v) => match v.get(key) {
            Some(Value::Array(items)) => items,
            _ => &[],
        },
        None => &[],
    };
    let index_of = |v: Option<&Value>| {
        v.and_then(Value::as_number)
            .and_then(|n| n.as_u64())
            .map(|n| n as usize)
    };
    // A loop, not a filter/map/collect chain: one less iterator instantiation in the wasm.
    let mut out: Vec<Refusal> = Vec::new();
    for e in list {
        let text = |key: &str| e.get(key).and_then(Value::as_str);
        let (index, event_id, message);
        if unprocessable {
            let loc = e.get("loc").and_then(Value::as_array).unwrap_or(&[]);
            index = index_of(loc.get(2));
            if index.is_none() || loc.get(1).and_then(Value::as_str) != Some("events") {
                continue;
            }
            event_id = None;
            // `field.path: msg`, written into one string.
            let mut m = String::new();
            for (i, p) in loc[3..].iter().enumerate() {
                if i > 0 {
                    m.push('.');
                }
                match p {
                    Value::String(s) => m.push_str(s),
                    other => other.write_json(&mut m),
                }
            }
            if loc.len() > 3 {
                m.push_str(": ");
            }
            m.push_str(text("msg").unwrap_or("invalid"));
            if let Some(r) = out.iter_mut().find(|r| r.index == index) {
                r.message.push_str("; ");
                r.message.push_str(&m);
                continue;
            }
            message = m;
        } else {
            index = index_of(e.get("index"));
            event_id = text("event_id").map(str::to_string);
            if index.is_none() && event_id.is_none() {
                continue;
            }
            message = text("message")
                .unwrap_or("refused by the collector")
                .to_string();
        }
        out.push(Refusal {
            index,
            event_id,
            message,
        });
    }
    out
}

/// A `{"detail": "..."}` string, else an excerpt of the body.
fn detail_of(body: Option<&Value>, text: &str) -> String {
    match body.and_then(|v| v.get("detail")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_json(),
        None => excerpt(text),
    }
}

/// At most 200 characters of `body`, for reports.
fn excerpt(body: &str) -> String {
    const MAX_CHARS: usize = 200;
    let shown = prefix_chars(body, MAX_CHARS);
    match shown.len() < body.len() {
        true => concat(&[shown, "..."]),
        false => body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = Millis(1_795_428_000_000); // Mon, 23 Nov 2026 10:00:00 GMT

    fn http(status: u16) -> HttpResponse {
        HttpResponse::status(status)
    }

    fn verdict(r: HttpResponse) -> Verdict {
        classify(&Outcome::Http(r), NOW).verdict
    }

    #[test]
    fn every_status_of_the_contract_table_has_its_action() {
        assert_eq!(verdict(http(200)), Verdict::Delivered { refused: vec![] });
        assert_eq!(verdict(http(202)), Verdict::Delivered { refused: vec![] });
        assert_eq!(verdict(http(204)), Verdict::Delivered { refused: vec![] });
        assert_eq!(verdict(http(429)), Verdict::RateLimited);
        assert_eq!(verdict(http(413)), Verdict::Split);
        for s in [500, 502, 503, 504, 408] {
            assert!(matches!(verdict(http(s)), Verdict::Retry), "{s}");
        }
        for s in [400, 401, 403] {
            assert!(matches!(verdict(http(s)), Verdict::Fatal { status, .. } if status == s));
        }
        assert!(
            matches!(verdict(http(422)), Verdict::Invalid { refused, .. } if refused.is_empty())
        );
    }

    #[test]
    fn statuses_outside_the_table_are_retried_not_dropped() {
        for s in [0, 100, 301, 404, 405, 409, 410, 418, 501, 599] {
            assert!(matches!(verdict(http(s)), Verdict::Retry), "{s}");
        }
    }

    #[test]
    fn network_failures_and_timeouts_are_retried_and_beacons_unconfirmed() {
        let c = classify(
            &Outcome::NetworkError("TypeError: Failed to fetch".into()),
            NOW,
        );
        assert_eq!(c.verdict, Verdict::Retry);
        assert_eq!(c.server_wait_until, None);
        assert_eq!(classify(&Outcome::Timeout, NOW).verdict, Verdict::Retry);
        assert_eq!(
            classify(&Outcome::Unconfirmed, NOW).verdict,
            Verdict::Unconfirmed
        );
    }

    #[test]
    fn retry_after_is_read_from_the_hosts_seconds_or_date_instant() {
        let read = |text: &str| RetryAfter::from_host(text).map(|r| r.until(NOW));
        assert_eq!(read("120"), Some(Millis(NOW.0 + 120_000)));
        assert_eq!(read("0"), Some(NOW));
        assert_eq!(read("007"), Some(Millis(NOW.0 + 7_000)));
        assert_eq!(read("99999999999999999999999"), Some(Millis(u64::MAX)));
        // An HTTP date, as js/host.js hands it over: Mon, 23 Nov 2026 10:01:00 GMT.
        assert_eq!(read("@1795428060000"), Some(Millis(NOW.0 + 60_000)));
        assert_eq!(
            RetryAfter::from_host("@1795428060000"),
            Some(RetryAfter::At(Millis(1_795_428_060_000)))
        );
        // An instant already past: no wait beyond it (the caller's clamp to now).
        assert_eq!(read("@0"), Some(Millis(0)));
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            " 7",
            "7 ",
            "+7",
            "@",
            "@-5",
            "@1.5",
            "@@1",
            "1@2",
            "@99999999999999999999999",
        ] {
            assert_eq!(RetryAfter::from_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rate_limit_reset_is_unix_seconds_or_a_small_delta() {
        assert_eq!(
            parse_rate_limit_reset("1795428042", NOW),
            Some(Millis(1_795_428_042_000))
        );
        assert_eq!(
            parse_rate_limit_reset("42", NOW),
            Some(Millis(NOW.0 + 42_000))
        );
        assert_eq!(parse_rate_limit_reset("x", NOW), None);
        assert_eq!(parse_rate_limit_reset("-1", NOW), None);
    }

    #[test]
    fn rate_limit_headers_are_decimal_numbers_read_without_floats() {
        assert_eq!(
            parse_rate_limit_reset(" 1795428042.25 ", NOW),
            Some(Millis(1_795_428_042_250))
        );
        assert_eq!(
            parse_rate_limit_reset("1.5", NOW),
            Some(Millis(NOW.0 + 1_500))
        );
        assert_eq!(
            parse_rate_limit_reset("+2.0009", NOW),
            Some(Millis(NOW.0 + 2_000))
        );
        assert_eq!(parse_rate_limit_reset("-0", NOW), Some(NOW));
        assert_eq!(parse_rate_limit_reset(".5", NOW), Some(Millis(NOW.0 + 500)));
        assert_eq!(
            parse_rate_limit_reset("99999999999999999999999", NOW),
            Some(Millis(u64::MAX))
        );
        for bad in ["", ".", "-", "1e3", "inf", "NaN", "1.2.3", "0x10", "1 2"] {
            assert_eq!(parse_rate_limit_reset(bad, NOW), None, "{bad:?}");
        }
        let wait = |remaining: &str| {
            let r = http(200).with_rate_limit(Some(remaining), Some("1795428030"));
            classify(&Outcome::Http(r), NOW).server_wait_until
        };
        for exhausted in ["0", " 0 ", "0.0", "-0", "-3", "+0"] {
            assert_eq!(
                wait(exhausted),
                Some(Millis(1_795_428_030_000)),
                "{exhausted:?}"
            );
        }
        for left in ["1", "0.5", "x", ""] {
            assert_eq!(wait(left), None, "{left:?}");
        }
    }

    /// The chained-iterator `header_number` this crate had before the loop, as an oracle.
    fn header_number_oracle(value: &str) -> Option<(bool, bool, u64)> {
        let v = value.trim();
        let (negative, v) = match v.as_bytes().first() {
            Some(b'-') => (true, &v[1..]),
            Some(b'+') => (false, &v[1..]),
            _ => (false, v),
        };
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        let digits = || int.bytes().chain(frac.bytes());
        if digits().next().is_none() || !digits().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let millis_digits = int
            .bytes()
            .chain(frac.bytes().chain(core::iter::repeat(b'0')).take(3));
        let thousandths = millis_digits.fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
        Some((negative, digits().all(|b| b == b'0'), thousandths))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        #[test]
        fn header_number_reads_as_the_oracle(
            s in "[ \t]?[-+]?[0-9]{0,25}[.]?[0-9]{0,6}[.x]?[0-9]{0,2}[ ]?|.{0,12}"
        ) {
            let got = header_number(&s).map(|n| (n.negative, n.zero, n.thousandths));
            proptest::prop_assert_eq!(got, header_number_oracle(&s), "{:?}", s);
        }
    }

    #[test]
    fn header_numbers_at_the_edges() {
        for s in [
            "",
            ".",
            "-",
            "+.",
            "1.",
            ".5",
            "0.0005",
            "1.2345",
            "00",
            "-0.000",
            "1..2",
            "1.2.3",
            "99999999999999999999999",
            "18446744073709551.615",
            "18446744073709551.616",
            " 7 ",
        ] {
            let got = header_number(s).map(|n| (n.negative, n.zero, n.thousandths));
            assert_eq!(got, header_number_oracle(s), "{s:?}");
        }
    }

    #[test]
    fn a_429_waits_for_retry_after_then_for_the_reset() {
        let both = http(429)
            .with_retry_after(RetryAfter::Seconds(7))
            .with_rate_limit(Some("0"), Some("1795428042"));
        let c = classify(&Outcome::Http(both), NOW);
        assert_eq!(
            c.server_wait_until,
            Some(Millis(NOW.0 + 7_000)),
            "Retry-After wins"
        );
        let reset_only = http(429).with_rate_limit(None, Some("1795428042"));
        let c = classify(&Outcome::Http(reset_only), NOW);
        assert_eq!(c.server_wait_until, Some(Millis(1_795_428_042_000)));
        assert_eq!(
            classify(&Outcome::Http(http(429)), NOW).server_wait_until,
            None
        );
    }

    #[test]
    fn a_retry_after_date_waits_until_its_instant_on_any_status_and_beats_the_reset() {
        let at = Millis(NOW.0 + 90_000);
        for status in [429, 503, 200] {
            let r = http(status)
                .with_retry_after(RetryAfter::At(at))
                .with_rate_limit(Some("0"), Some("1795428042"));
            assert_eq!(
                classify(&Outcome::Http(r), NOW).server_wait_until,
                Some(at),
                "{status}"
            );
        }
    }

    #[test]
    fn remaining_zero_on_a_success_holds_the_next_request_until_reset() {
        let r = http(200).with_rate_limit(Some("0"), Some("1795428030"));
        assert_eq!(
            classify(&Outcome::Http(r), NOW).server_wait_until,
            Some(Millis(1_795_428_030_000))
        );
        let r = http(200).with_rate_limit(Some("3"), Some("1795428030"));
        assert_eq!(classify(&Outcome::Http(r), NOW).server_wait_until, None);
    }

    #[test]
    fn retry_after_on_a_503_is_honoured() {
        let r = http(503).with_retry_after(RetryAfter::Seconds(30));
        assert_eq!(
            classify(&Outcome::Http(r), NOW).server_wait_until,
            Some(Millis(NOW.0 + 30_000))
        );
    }

    #[test]
    fn ok_with_errors_lists_the_refused_events() {
        let body = r#"{"accepted":9,"duplicates":0,"errors":[{"index":3,"event_id":"e3","message":"quota"},{"index":"x"},{"message":"no index"}]}"#;
        assert_eq!(
            verdict(http(200).with_body(body)),
            Verdict::Delivered {
                refused: vec![Refusal {
                    index: Some(3),
                    event_id: Some("e3".into()),
                    message: "quota".into()
                }]
            }
        );
        assert_eq!(
            verdict(http(200).with_body("not json")),
            Verdict::Delivered { refused: vec![] }
        );
    }

    #[test]
    fn unprocessable_422_names_events_by_loc_index_with_all_their_problems() {
        let body = r#"{"detail":[
            {"loc":["body","events",3,"scan_session_id"],"msg":"invalid UUID","type":"value_error.uuid"},
            {"loc":["body","events",3,"event_name"],"msg":"field required","type":"value_error.missing"},
            {"loc":["body","events",0],"msg":"not an object","type":"type_error.dict"},
            {"loc":["body","sent_at"],"msg":"bad date","type":"value_error.datetime"}
        ]}"#;
        let Verdict::Invalid { refused, .. } = verdict(http(422).with_body(body)) else {
            panic!()
        };
        assert_eq!(refused.len(), 2);
        assert_eq!(refused[0].index, Some(3));
        assert_eq!(
            refused[0].message,
            "scan_session_id: invalid UUID; event_name: field required"
        );
        assert_eq!(refused[1].index, Some(0));
        assert_eq!(refused[1].message, "not an object");
    }

    #[test]
    fn a_422_field_path_is_its_loc_after_the_index_joined_with_dots() {
        let body = r#"{"detail":[
            {"loc":["body","events",1,"conversion_value","currency"],"msg":"bad code"},
            {"loc":["body","events",2,7,""],"msg":"odd"},
            {"loc":["body","events",4,""],"msg":"empty"},
            {"loc":["body","events",5,{"k":[1]}]}
        ]}"#;
        let Verdict::Invalid { refused, .. } = verdict(http(422).with_body(body)) else {
            panic!()
        };
        let messages: Vec<&str> = refused.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "conversion_value.currency: bad code",
                "7.: odd",
                ": empty",
                r#"{"k":[1]}: invalid"#
            ]
        );
    }

    #[test]
    fn excerpts_cut_at_200_characters_not_bytes() {
        let r = http(401).with_body(&"é".repeat(201));
        let Verdict::Fatal { detail, .. } = verdict(r) else {
            panic!()
        };
        assert_eq!(detail, format!("{}...", "é".repeat(200)));
        let r = http(401).with_body(&"é".repeat(200));
        let Verdict::Fatal { detail, .. } = verdict(r) else {
            panic!()
        };
        assert_eq!(detail, "é".repeat(200));
    }

    #[test]
    fn fatal_statuses_carry_the_detail_for_the_report() {
        let r = http(400).with_body(r#"{"detail":"site_id not found or inactive"}"#);
        assert_eq!(
            verdict(r),
            Verdict::Fatal {
                status: 400,
                detail: "site_id not found or inactive".into()
            }
        );
        let r = http(403).with_body(&"<html>".repeat(100));
        let Verdict::Fatal { detail, .. } = verdict(r) else {
            panic!()
        };
        assert!(detail.ends_with("...") && detail.chars().count() == 203);
    }
}
