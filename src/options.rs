//! The tracker's options: the Rust API's `Options` (its fields and `Options::new`), and the
//! form a JavaScript page's options reach the wasm in (`Options::from_js`). Pure code: tested
//! on the host.
//!
//! The names, types and choices of the JavaScript options are checked in JavaScript
//! (`encodeOptions` in js/core.js, shared by the npm `init` and the script tag's `data-*`
//! attributes), where an option's value is a JavaScript value and a message can name what was
//! given. The wasm gets the values by position, already typed, and checks what the core owns:
//! the site id's form, the endpoint URL, and every range (the core's `Config::set_whole`, with
//! the setters' messages). Option names and type messages in the wasm would be a second copy of the
//! JavaScript table that every visitor downloads.

use scantrack_core::config::Whole;
use scantrack_core::json::{self, Value};
use scantrack_core::pii::{EmailNormalization, PiiPolicy};
use scantrack_core::pipeline::Consent;
use scantrack_core::Config;

use scantrack_core::text::concat;

/// Everything the shell needs to start.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub config: Config,
    /// Base URL of the collector, without a trailing slash (`http://127.0.0.1:8787`).
    pub endpoint: String,
    /// Track `page_view` on load and on SPA navigations (default true).
    pub auto_pageview: bool,
    /// Initial consent (default granted).
    pub consent: Consent,
    /// Console logging (default false).
    pub debug: bool,
    /// Treat `navigator.globalPrivacyControl === true` as consent denied (default true).
    pub honor_global_privacy_control: bool,
}

/// What an optional option's value is, and where it goes.
enum Kind {
    Flag(fn(&mut Options, bool)),
    /// A whole number, not negative, set with `Config::set_whole`, which checks its range.
    Whole(Whole),
    /// The index of one of the option's choices (JavaScript has their names).
    Choice(fn(&mut Options, usize)),
}

/// Every option but `siteId` and `endpoint`, in the order of `OPTIONS` in js/core.js (its
/// names: autoPageview, debug, honorGlobalPrivacyControl, consent, piiPolicy,
/// emailNormalization, flushIntervalMs, maxBatchEvents, maxBatchBytes, maxRequestsPerMinute,
/// requestTimeoutMs, maxQueueBytes, persistDelayMs, sessionTimeoutMs).
const OPTIONS: &[Kind] = &[
    Kind::Flag(|o, b| o.auto_pageview = b),
    Kind::Flag(|o, b| o.debug = b),
    Kind::Flag(|o, b| o.honor_global_privacy_control = b),
    Kind::Choice(|o, i| {
        o.consent = [Consent::Pending, Consent::Granted, Consent::Denied][i.min(2)]
    }),
    Kind::Choice(|o, i| {
        o.config.pii_policy = [PiiPolicy::Redact, PiiPolicy::Hash, PiiPolicy::Reject][i.min(2)]
    }),
    Kind::Choice(|o, i| {
        o.config.email_normalization =
            [EmailNormalization::Standard, EmailNormalization::Google][i.min(1)]
    }),
    Kind::Whole(Whole::FlushInterval),
    Kind::Whole(Whole::MaxBatchEvents),
    Kind::Whole(Whole::MaxBatchBytes),
    Kind::Whole(Whole::MaxRequestsPerMinute),
    Kind::Whole(Whole::RequestTimeout),
    Kind::Whole(Whole::MaxQueueBytes),
    Kind::Whole(Whole::PersistDelay),
    Kind::Whole(Whole::SessionTimeout),
];

impl Options {
    /// Options with the contract's defaults.
    pub fn new(site_id: &str, endpoint: &str) -> Result<Options, String> {
        let config = match Config::new(site_id) {
            Ok(c) => c,
            Err(e) => return Err(e.message()),
        };
        Ok(Options {
            config,
            endpoint: parse_endpoint(endpoint)?,
            auto_pageview: true,
            consent: Consent::Granted,
            debug: false,
            honor_global_privacy_control: true,
        })
    }

    /// Reads the form js/core.js writes (`encodeOptions`): a JSON array of `siteId`,
    /// `endpoint`, then the optional options in the order of `OPTIONS`, `null` where not
    /// given; flags as booleans, choices as indexes, whole numbers as numbers. The first
    /// problem, in that order, is the one reported.
    pub fn from_js(text: &str) -> Result<Options, String> {
        const UNREADABLE: &str =
            "options: unreadable (the wasm is started by js/core.js, which writes them)";
        // Matches, not `map_err` closures, and a loop by index, not zipped iterators: less
        // wasm on the start-up path.
        let v = match json::parse(text) {
            Ok(v) => v,
            Err(_) => return Err(UNREADABLE.to_string()),
        };
        let values = v.as_array().unwrap_or_default();
        let text_at = |i: usize| values.get(i).and_then(Value::as_str).unwrap_or_default();
        let mut o = Options::new(text_at(0), text_at(1))?;
        let mut i = 0;
        while let (Some(kind), Some(value)) = (OPTIONS.get(i), values.get(i + 2)) {
            i += 1;
            // JavaScript checked the types; what it could not have written reads as its
            // default (a flag), the last choice, or a number too big (refused by the range).
            match (kind, value) {
                (_, Value::Null) => {}
                (Kind::Flag(set), v) => set(&mut o, matches!(v, Value::Bool(true))),
                (Kind::Choice(set), v) => set(&mut o, whole(v).unwrap_or(u64::MAX) as usize),
                (Kind::Whole(w), v) => {
                    if let Err(e) = o.config.set_whole(*w, whole(v).unwrap_or(u64::MAX)) {
                        return Err(e.message());
                    }
                }
            }
        }
        Ok(o)
    }
}

/// A whole number, not negative, however written (`10`, `10.0`, `1e1`); decided on the
/// number's text: no float code in the snippet. One too big for `u64` (`1e400` too, which
/// has no finite `f64`) saturates at `u64::MAX`, which every range refuses.
fn whole(v: &Value) -> Option<u64> {
    v.as_number().and_then(|n| n.whole_u64())
}

fn parse_endpoint(endpoint: &str) -> Result<String, String> {
    // Not `trim_end_matches('/')`, which brings a reverse UTF-8 decoder into the wasm.
    let mut e = endpoint.trim();
    while e.ends_with('/') {
        e = &e[..e.len() - 1];
    }
    let rest = e
        .strip_prefix("https://")
        .or_else(|| e.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !has_whitespace(host) => Ok(e.to_string()),
        _ => Err(concat(&[
            "endpoint ",
            &json::quote(endpoint),
            " is not an http(s) URL; use the collector's base URL, e.g. \"https://collect.example.com\"",
        ])),
    }
}

/// Whether `s` holds a (Unicode) whitespace character: whether some suffix of it, from a
/// character on, is shortened by `trim`. Not `contains(char::is_whitespace)`, which inlined a
/// UTF-8 decoder here; `trim` is in the wasm anyway. Quadratic, on an endpoint URL.
fn has_whitespace(s: &str) -> bool {
    let mut i = 0;
    while i < s.len() {
        // `get` is `None` inside a character.
        if let Some(t) = s.get(i..) {
            if t.trim().len() < t.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    /// The positional form for `siteId` "s", endpoint "http://x" and `rest`.
    fn js(rest: &str) -> Result<Options, String> {
        Options::from_js(&format!(r#"["s","http://x"{rest}]"#))
    }

    #[test]
    fn minimal_options_get_the_contracts_defaults() {
        let o = Options::from_js(r#"["site_demo","http://127.0.0.1:8787/"]"#).unwrap();
        assert_eq!(o.endpoint, "http://127.0.0.1:8787");
        assert!(o.auto_pageview && o.honor_global_privacy_control && !o.debug);
        assert_eq!(o.consent, Consent::Granted);
        assert_eq!(o.config, Config::new("site_demo").unwrap());
        let nulls = js(&",null".repeat(OPTIONS.len())).unwrap();
        assert_eq!(nulls, js("").unwrap(), "null is not given");
        let slashes = Options::from_js(r#"["s"," https://x.example/a// "]"#).unwrap();
        assert_eq!(
            slashes.endpoint, "https://x.example/a",
            "every slash at the end is cut"
        );
    }

    #[test]
    fn every_option_is_read_in_the_order_of_the_javascript_table() {
        let o = js(",false,true,false,0,1,1,500,10,30000,12,5000,65536,200,600000").unwrap();
        let c = &o.config;
        assert!(!o.auto_pageview && o.debug && !o.honor_global_privacy_control);
        assert_eq!(o.consent, Consent::Pending);
        assert_eq!(c.pii_policy, PiiPolicy::Hash);
        assert_eq!(c.email_normalization, EmailNormalization::Google);
        assert_eq!(c.flush_interval, Duration::from_millis(500));
        assert_eq!((c.max_batch_events, c.max_batch_bytes), (10, 30000));
        assert_eq!(c.max_requests_per_minute, 12);
        assert_eq!(c.request_timeout, Duration::from_millis(5000));
        assert_eq!(c.max_queue_bytes, 65536);
        assert_eq!(c.persist_delay, Duration::from_millis(200));
        assert_eq!(c.session_timeout, Duration::from_secs(600));
        let o = js(",null,null,null,2,2,0,null,1e1").unwrap();
        assert_eq!(o.consent, Consent::Denied);
        assert_eq!(o.config.pii_policy, PiiPolicy::Reject);
        assert_eq!(o.config.email_normalization, EmailNormalization::Standard);
        assert_eq!(o.config.max_batch_events, 10, "1e1 is a whole number");
    }

    #[test]
    fn has_whitespace_agrees_with_contains_is_whitespace() {
        for s in [
            "",
            "x",
            "a b",
            " a",
            "a\t",
            "é\u{3000}x",
            "\u{a0}",
            "a\u{2028}",
            "ü",
            "a\u{200b}b",
            "\u{85}é",
            "host.example:8787/p",
        ] {
            assert_eq!(has_whitespace(s), s.contains(char::is_whitespace), "{s:?}");
        }
    }

    #[test]
    fn what_the_core_owns_is_checked_here_with_the_cores_messages() {
        let n = |i: usize, v: &str| format!("{}{v}", ",null".repeat(i));
        for (rest, needle) in [
            (
                n(9, ",4294967296"),
                "maxRequestsPerMinute: must be between 1 and 100",
            ),
            (
                n(11, ",18446744073709551616"),
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                n(11, ",1e300"),
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                n(11, ",1e400"),
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                n(11, ",4194305"),
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                n(13, ",59999"),
                "sessionTimeoutMs: must be between 60000 and 86400000",
            ),
            (
                n(10, ",99"),
                "requestTimeoutMs: must be between 100 and 120000",
            ),
            (n(12, ",10001"), "persistDelayMs: must be at most 10000"),
            (
                n(8, ",1023"),
                "maxBatchBytes: must be between 1024 and 65536",
            ),
            (n(6, ",3600001"), "flushIntervalMs: must be at most 3600000"),
            (n(7, ",0"), "maxBatchEvents"),
            (n(7, ",2.5"), "maxBatchEvents"),
        ] {
            let e = js(&rest).unwrap_err();
            assert!(e.contains(needle), "{rest}: {e}");
        }
        for (text, needle) in [
            (r#"["bad id","http://x"]"#, "site id"),
            (r#"["s","ftp://x"]"#, "not an http(s) URL"),
            (r#"["s"]"#, "not an http(s) URL"),
            ("{", "unreadable"),
            ("{}", "site id"),
        ] {
            let e = Options::from_js(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
