//! The tracker's options as a page gives them (the npm `init` object, the script tag's
//! `data-*` attributes, or the Rust API), parsed and checked once, with messages that say what
//! to change. Pure code: tested on the host.
//!
//! The optional options are one static table (name, what the value must be, setter) read by one
//! loop with one message builder: a `match` arm per option, each with its own reading, checks
//! and message, cost every visitor a few KB of wasm for code that runs once per page.

use core::time::Duration;

use scantrack_core::config::ConfigError;
use scantrack_core::json::{self, Number, Value};
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

/// What an option's value must be, and where it goes.
enum Kind {
    Flag(fn(&mut Options, bool)),
    /// A whole number, not negative, however written (`10`, `10.0`, `1e1`), set with the
    /// core's setter, which checks its range.
    Whole(fn(Config, u64) -> Result<Config, ConfigError>),
    /// One of these strings; the setter gets its index.
    OneOf(&'static [&'static str], fn(&mut Options, usize)),
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A count beyond `usize` saturates: the core's range check refuses it with its message.
fn size(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Every option but `siteId` and `endpoint`.
const OPTIONS: &[(&str, Kind)] = &[
    ("autoPageview", Kind::Flag(|o, b| o.auto_pageview = b)),
    ("debug", Kind::Flag(|o, b| o.debug = b)),
    (
        "honorGlobalPrivacyControl",
        Kind::Flag(|o, b| o.honor_global_privacy_control = b),
    ),
    (
        "consent",
        Kind::OneOf(&["pending", "granted", "denied"], |o, i| {
            o.consent = [Consent::Pending, Consent::Granted, Consent::Denied][i]
        }),
    ),
    (
        "piiPolicy",
        Kind::OneOf(&["redact", "hash", "reject"], |o, i| {
            o.config.pii_policy = [PiiPolicy::Redact, PiiPolicy::Hash, PiiPolicy::Reject][i]
        }),
    ),
    (
        "emailNormalization",
        Kind::OneOf(&["standard", "google"], |o, i| {
            o.config.email_normalization =
                [EmailNormalization::Standard, EmailNormalization::Google][i]
        }),
    ),
    (
        "flushIntervalMs",
        Kind::Whole(|c, n| c.with_flush_interval(ms(n))),
    ),
    (
        "maxBatchEvents",
        Kind::Whole(|c, n| c.with_max_batch_events(size(n))),
    ),
    (
        "maxBatchBytes",
        Kind::Whole(|c, n| c.with_max_batch_bytes(size(n))),
    ),
    (
        "maxRequestsPerMinute",
        Kind::Whole(|c, n| c.with_max_requests_per_minute(u32::try_from(n).unwrap_or(u32::MAX))),
    ),
    (
        "requestTimeoutMs",
        Kind::Whole(|c, n| c.with_request_timeout(ms(n))),
    ),
    (
        "maxQueueBytes",
        Kind::Whole(|c, n| c.with_max_queue_bytes(size(n))),
    ),
    (
        "persistDelayMs",
        Kind::Whole(|c, n| c.with_persist_delay(ms(n))),
    ),
    (
        "sessionTimeoutMs",
        Kind::Whole(|c, n| c.with_session_timeout(ms(n))),
    ),
];

impl Options {
    /// Options with the contract's defaults.
    pub fn new(site_id: &str, endpoint: &str) -> Result<Options, String> {
        let config = Config::new(site_id).map_err(|e| e.message())?;
        Ok(Options {
            config,
            endpoint: parse_endpoint(endpoint)?,
            auto_pageview: true,
            consent: Consent::Granted,
            debug: false,
            honor_global_privacy_control: true,
        })
    }

    /// Parses the JSON form: `{"siteId": "...", "endpoint": "...", "flushIntervalMs": 2000, ...}`.
    /// Unknown keys are refused (a typo would otherwise be silently ignored). The first problem
    /// found, in the order the options are written, is the one reported.
    pub fn from_json(text: &str) -> Result<Options, String> {
        let v = json::parse(text).map_err(|e| concat(&["options: ", &e.describe()]))?;
        let Value::Object(members) = &v else {
            return Err(concat(&["options must be an object, not ", v.type_name()]));
        };
        let required = |key: &str, example: &str| match v.get(key) {
            Some(Value::String(s)) => Ok(s.as_str()),
            Some(other) => Err(must_be(key, "a string", other)),
            None => Err(concat(&[key, " is required (", example, ")"])),
        };
        let mut o = Options::new(
            required("siteId", "e.g. siteId: \"site_demo\"")?,
            required(
                "endpoint",
                "the collector's base URL, e.g. \"https://collect.example.com\"",
            )?,
        )?;
        for (key, value) in members {
            if key == "siteId" || key == "endpoint" {
                continue;
            }
            let Some((_, kind)) = OPTIONS.iter().find(|(name, _)| name == key) else {
                return Err(concat(&[
                    "unknown option ",
                    &json::quote(key),
                    "; see the README for the list",
                ]));
            };
            // Decided on the number's text: no float code in the snippet.
            let whole = value
                .as_number()
                .filter(|n| n.is_finite())
                .and_then(Number::whole_u64);
            let what = match (kind, value, whole) {
                (Kind::Flag(set), Value::Bool(b), _) => {
                    set(&mut o, *b);
                    continue;
                }
                (Kind::Whole(set), _, Some(n)) => {
                    o.config = set(o.config.clone(), n).map_err(|e| e.message())?;
                    continue;
                }
                (Kind::OneOf(names, set), Value::String(s), _) if names.contains(&s.as_str()) => {
                    set(&mut o, names.iter().position(|c| c == s).unwrap_or(0));
                    continue;
                }
                (Kind::Flag(_), _, _) => "true or false".into(),
                (Kind::Whole(_), _, _) => "a whole number".into(),
                (Kind::OneOf(names, _), _, _) => {
                    let mut what = String::new();
                    for (i, name) in names.iter().enumerate() {
                        if i > 0 {
                            what.push_str(if i + 1 == names.len() { " or " } else { ", " });
                        }
                        what.push('"');
                        what.push_str(name);
                        what.push('"');
                    }
                    what
                }
            };
            return Err(must_be(key, &what, value));
        }
        Ok(o)
    }
}

/// `<key> must be <what>, not <the value given>` (an array or object by its type only).
fn must_be(key: &str, what: &str, v: &Value) -> String {
    let given = match v {
        Value::Array(_) | Value::Object(_) => v.type_name().into(),
        _ => v.to_json(),
    };
    concat(&[key, " must be ", what, ", not ", &given])
}

fn parse_endpoint(endpoint: &str) -> Result<String, String> {
    let e = endpoint.trim().trim_end_matches('/');
    let rest = e
        .strip_prefix("https://")
        .or_else(|| e.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(e.to_string()),
        _ => Err(concat(&[
            "endpoint ",
            &json::quote(endpoint),
            " is not an http(s) URL; use the collector's base URL, e.g. \"https://collect.example.com\"",
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_options_get_the_contracts_defaults() {
        let o = Options::from_json(r#"{"siteId":"site_demo","endpoint":"http://127.0.0.1:8787/"}"#)
            .unwrap();
        assert_eq!(o.endpoint, "http://127.0.0.1:8787");
        assert!(o.auto_pageview && o.honor_global_privacy_control && !o.debug);
        assert_eq!(o.consent, Consent::Granted);
        assert_eq!(o.config, Config::new("site_demo").unwrap());
    }

    #[test]
    fn every_option_is_read() {
        let o = Options::from_json(
            r#"{"siteId":"s","endpoint":"https://c.example","autoPageview":false,"consent":"pending",
            "debug":true,"flushIntervalMs":500,"maxBatchEvents":10,"maxBatchBytes":30000,
            "maxRequestsPerMinute":12,"requestTimeoutMs":5000,"maxQueueBytes":65536,
            "persistDelayMs":200,"sessionTimeoutMs":600000,"piiPolicy":"hash",
            "emailNormalization":"google","honorGlobalPrivacyControl":false}"#,
        )
        .unwrap();
        let c = &o.config;
        assert!(!o.auto_pageview && o.debug && !o.honor_global_privacy_control);
        assert_eq!(o.consent, Consent::Pending);
        assert_eq!(c.flush_interval, Duration::from_millis(500));
        assert_eq!((c.max_batch_events, c.max_batch_bytes), (10, 30000));
        assert_eq!(c.max_requests_per_minute, 12);
        assert_eq!(c.request_timeout, Duration::from_millis(5000));
        assert_eq!(c.max_queue_bytes, 65536);
        assert_eq!(c.persist_delay, Duration::from_millis(200));
        assert_eq!(c.session_timeout, Duration::from_secs(600));
        assert_eq!(c.pii_policy, PiiPolicy::Hash);
        assert_eq!(c.email_normalization, EmailNormalization::Google);
    }

    #[test]
    fn whole_numbers_may_be_written_any_way_and_choices_are_read_by_name() {
        let o = Options::from_json(
            r#"{"siteId":"s","endpoint":"http://x","maxBatchEvents":1e1,"flushIntervalMs":250.0,
            "consent":"denied","piiPolicy":"reject","emailNormalization":"standard",
            "consent":"granted","autoPageview":true,"debug":false}"#,
        )
        .unwrap();
        assert_eq!(o.config.max_batch_events, 10);
        assert_eq!(o.config.flush_interval, Duration::from_millis(250));
        assert_eq!(
            o.consent,
            Consent::Granted,
            "the last of duplicate keys wins"
        );
        assert_eq!(o.config.pii_policy, PiiPolicy::Reject);
        assert_eq!(o.config.email_normalization, EmailNormalization::Standard);
        assert!(o.auto_pageview && !o.debug);
    }

    #[test]
    fn bad_options_say_what_to_change() {
        for (text, needle) in [
            (r#"{"endpoint":"http://x"}"#, "siteId is required"),
            (r#"{"siteId":"s"}"#, "endpoint is required"),
            (
                r#"{"siteId":"s","endpoint":"ftp://x"}"#,
                "not an http(s) URL",
            ),
            (r#"{"siteId":"bad id","endpoint":"http://x"}"#, "site id"),
            (
                r#"{"siteId":"s","endpoint":"http://x","flushIntevalMs":1}"#,
                "unknown option",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxBatchEvents":0}"#,
                "maxBatchEvents",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxBatchEvents":2.5}"#,
                "whole number",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","consent":"yes"}"#,
                "pending",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","debug":"true"}"#,
                "true or false",
            ),
            ("[]", "must be an object"),
            ("{", "options"),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxBatchEvents":1e400}"#,
                "maxBatchEvents must be a whole number, not 1e400",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","flushIntervalMs":-1}"#,
                "flushIntervalMs must be a whole number, not -1",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","persistDelayMs":"5"}"#,
                "persistDelayMs must be a whole number, not \"5\"",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","consent":"yes"}"#,
                "consent must be \"pending\", \"granted\" or \"denied\", not \"yes\"",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","piiPolicy":true}"#,
                "piiPolicy must be \"redact\", \"hash\" or \"reject\", not true",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","emailNormalization":"gmail"}"#,
                "emailNormalization must be \"standard\" or \"google\", not \"gmail\"",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","autoPageview":[true]}"#,
                "autoPageview must be true or false, not an array",
            ),
            (
                r#"{"siteId":5,"endpoint":"http://x"}"#,
                "siteId must be a string, not 5",
            ),
            (
                r#"{"siteId":"s","endpoint":{}}"#,
                "endpoint must be a string, not an object",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxRequestsPerMinute":4294967296}"#,
                "maxRequestsPerMinute: must be between 1 and 100",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxQueueBytes":18446744073709551616}"#,
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxQueueBytes":4194305}"#,
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","sessionTimeoutMs":59999}"#,
                "sessionTimeoutMs: must be between 60000 and 86400000",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","requestTimeoutMs":99}"#,
                "requestTimeoutMs: must be between 100 and 120000",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","persistDelayMs":10001}"#,
                "persistDelayMs: must be at most 10000",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","maxBatchBytes":1023}"#,
                "maxBatchBytes: must be between 1024 and 65536",
            ),
            (
                r#"{"siteId":"s","endpoint":"http://x","flushIntervalMs":3600001}"#,
                "flushIntervalMs: must be at most 3600000",
            ),
        ] {
            let e = Options::from_json(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
