//! The tracker's options as a page gives them (the npm `init` object, the script tag's
//! `data-*` attributes, or the Rust API), parsed and checked once, with messages that say what
//! to change. Pure code: tested on the host.

use core::time::Duration;

use scantrack_core::config::ConfigError;
use scantrack_core::json::{self, Number, Value};
use scantrack_core::pii::{EmailNormalization, PiiPolicy};
use scantrack_core::pipeline::Consent;
use scantrack_core::Config;

use crate::cat;

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

impl Options {
    /// Options with the contract's defaults.
    pub fn new(site_id: &str, endpoint: &str) -> Result<Options, String> {
        let config = Config::new(site_id).map_err(|e| e.to_string())?;
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
    /// Unknown keys are refused (a typo would otherwise be silently ignored).
    pub fn from_json(text: &str) -> Result<Options, String> {
        let v = json::parse(text).map_err(|e| cat(&["options: ", &crate::json_error(&e)]))?;
        let Value::Object(members) = &v else {
            return Err(cat(&["options must be an object, not ", v.type_name()]));
        };
        let site_id = match v.get("siteId") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => return Err(cat(&["siteId must be a string, not ", other.type_name()])),
            None => return Err("siteId is required (e.g. siteId: \"site_demo\")".into()),
        };
        let endpoint = match v.get("endpoint") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(cat(&["endpoint must be a string, not ", other.type_name()]))
            }
            None => {
                return Err("endpoint is required (the collector's base URL, e.g. \"https://collect.example.com\")".into())
            }
        };
        let mut o = Options::new(site_id, endpoint)?;
        let c = o.config.clone();
        let mut config = Ok::<Config, ConfigError>(c);
        for (key, value) in members {
            let k = key.as_str();
            match k {
                "siteId" | "endpoint" => {}
                "autoPageview" => o.auto_pageview = boolean(k, value)?,
                "debug" => o.debug = boolean(k, value)?,
                "honorGlobalPrivacyControl" => o.honor_global_privacy_control = boolean(k, value)?,
                "consent" => {
                    o.consent = Consent::parse(&string(k, value)?).ok_or_else(|| {
                        "consent must be \"pending\", \"granted\" or \"denied\"".to_string()
                    })?
                }
                "piiPolicy" => {
                    let p = match string(k, value)?.as_str() {
                        "redact" => PiiPolicy::Redact,
                        "hash" => PiiPolicy::Hash,
                        "reject" => PiiPolicy::Reject,
                        _ => {
                            return Err(
                                "piiPolicy must be \"redact\", \"hash\" or \"reject\"".into()
                            )
                        }
                    };
                    config = config.map(|c| c.with_pii_policy(p));
                }
                "emailNormalization" => {
                    let n = match string(k, value)?.as_str() {
                        "standard" => EmailNormalization::Standard,
                        "google" => EmailNormalization::Google,
                        _ => {
                            return Err(
                                "emailNormalization must be \"standard\" or \"google\"".into()
                            )
                        }
                    };
                    config = config.map(|c| c.with_email_normalization(n));
                }
                "flushIntervalMs" => {
                    let d = millis(k, value)?;
                    config = config.and_then(|c| c.with_flush_interval(d));
                }
                "maxBatchEvents" => {
                    let n = count(k, value)?;
                    config = config.and_then(|c| c.with_max_batch_events(n));
                }
                "maxBatchBytes" => {
                    let n = count(k, value)?;
                    config = config.and_then(|c| c.with_max_batch_bytes(n));
                }
                "maxRequestsPerMinute" => {
                    let n = count(k, value)?.min(u32::MAX as usize) as u32;
                    config = config.and_then(|c| c.with_max_requests_per_minute(n));
                }
                "requestTimeoutMs" => {
                    let d = millis(k, value)?;
                    config = config.and_then(|c| c.with_request_timeout(d));
                }
                "maxQueueBytes" => {
                    let n = count(k, value)?;
                    config = config.and_then(|c| c.with_max_queue_bytes(n));
                }
                "persistDelayMs" => {
                    let d = millis(k, value)?;
                    config = config.and_then(|c| c.with_persist_delay(d));
                }
                "sessionTimeoutMs" => {
                    let d = millis(k, value)?;
                    config = config.and_then(|c| c.with_session_timeout(d));
                }
                _ => {
                    return Err(cat(&[
                        "unknown option ",
                        &json::quote(key),
                        "; see the README for the list",
                    ]))
                }
            }
        }
        o.config = config.map_err(|e| e.to_string())?;
        Ok(o)
    }
}

fn parse_endpoint(endpoint: &str) -> Result<String, String> {
    let e = endpoint.trim().trim_end_matches('/');
    let rest = e
        .strip_prefix("https://")
        .or_else(|| e.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(e.to_string()),
        _ => Err(cat(&[
            "endpoint ",
            &json::quote(endpoint),
            " is not an http(s) URL; use the collector's base URL, e.g. \"https://collect.example.com\"",
        ])),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(cat(&[
            key,
            " must be true or false, not ",
            other.type_name(),
        ])),
    }
}

fn string(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(cat(&[key, " must be a string, not ", other.type_name()])),
    }
}

fn count(key: &str, v: &Value) -> Result<usize, String> {
    // Whole and not negative, however written (`10`, `10.0`, `1e1`), decided on the text
    // (no float code in the snippet); beyond `usize` it saturates, as the check it replaced did.
    let whole = v
        .as_number()
        .filter(|n| n.is_finite())
        .and_then(Number::whole_u64);
    if let Some(n) = whole {
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    } else {
        Err(cat(&[key, " must be a whole number, not ", &v.to_json()]))
    }
}

fn millis(key: &str, v: &Value) -> Result<Duration, String> {
    count(key, v).map(|n| Duration::from_millis(n as u64))
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
        ] {
            let e = Options::from_json(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
