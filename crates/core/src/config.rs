//! The tracker's tunable policy, with the contract's defaults (CONTRACT.md 3.1-3.3, 4, 5).
//!
//! Every knob is a named value with its unit in its type; builder-style setters validate their
//! argument and return a `ConfigError` a site owner can act on.

use core::time::Duration;

use crate::pii::{EmailNormalization, PiiPolicy};
use crate::text::{concat, dec};
use crate::validate::is_site_id;

/// A batch is sent when it holds this many events (`maxBatchEvents`).
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 50;
/// ... or when its body would reach this many bytes (`maxBatchBytes`): under the browser's
/// 64 KiB keepalive budget, so any batch can also go out while the page unloads.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 60_000;
/// ... or when the oldest queued event has waited this long (`flushIntervalMs`).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(2_000);
/// Requests per minute a page sends at most (`maxRequestsPerMinute`), well under the
/// collector's 100 per IP so that several tabs stay under it together.
pub const DEFAULT_MAX_REQUESTS_PER_MINUTE: u32 = 30;
/// A request without an answer after this long counts as failed (`requestTimeoutMs`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(10_000);
/// First retry delay; it doubles per consecutive failure.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);
/// Largest queue kept (in memory and in storage), in bytes of event JSON (`maxQueueBytes`).
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 1024 * 1024;
/// An accepted event reaches storage within this delay (`persistDelayMs`).
pub const DEFAULT_PERSIST_DELAY: Duration = Duration::from_millis(1_000);
/// Inactivity after which the next event starts a new session (`sessionTimeoutMs`).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The browser's budget for all in-flight keepalive requests of a page together.
pub const MAX_KEEPALIVE_BYTES: usize = 64 * 1024;
/// The window over which `max_requests_per_minute` is counted.
pub const PACING_WINDOW: Duration = Duration::from_secs(60);
/// Requests per minute all tabs of one site send together at most: under the collector's 100
/// per IP (whose grace clients must not rely on), with room for what tabs learn of each other
/// only through storage.
pub const SITE_MAX_REQUESTS_PER_MINUTE: usize = 90;

/// Why a configuration value is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub option: &'static str,
    pub message: String,
}

impl ConfigError {
    /// The message, exactly as `Display` writes it (`Display` delegates here). Code that
    /// ships in the wasm calls this, not `to_string()`: `ToString` goes through a `Formatter`
    /// over a `dyn fmt::Write`, which keeps core::fmt's `write_fmt` in the wasm (about 1 KB).
    /// Tested to agree with `Display`.
    pub fn message(&self) -> String {
        concat(&[self.option, ": ", &self.message])
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

/// The tracker's configuration. Build with `Config::new(site_id)` and the `with_*` setters.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    site_id: String,
    pub max_batch_events: usize,
    pub max_batch_bytes: usize,
    pub flush_interval: Duration,
    pub max_requests_per_minute: u32,
    pub request_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub max_queue_bytes: usize,
    pub persist_delay: Duration,
    pub session_timeout: Duration,
    pub pii_policy: PiiPolicy,
    pub email_normalization: EmailNormalization,
}

/// The options given as whole numbers, in the units JavaScript gives them (a count, or
/// milliseconds), in the order of `RANGES`. One table of names and ranges serves the typed
/// setters and `Config::set_whole` (the JavaScript options' way in) alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whole {
    FlushInterval,
    MaxBatchEvents,
    MaxBatchBytes,
    MaxRequestsPerMinute,
    RequestTimeout,
    MaxQueueBytes,
    PersistDelay,
    SessionTimeout,
}

/// Each `Whole`'s option name and its range `lo..=hi`, by its index.
const RANGES: [(&str, u32, u32); 8] = [
    ("flushIntervalMs", 0, 3_600_000),
    ("maxBatchEvents", 1, 500),
    ("maxBatchBytes", 1024, MAX_KEEPALIVE_BYTES as u32),
    ("maxRequestsPerMinute", 1, 100),
    ("requestTimeoutMs", 100, 120_000),
    ("maxQueueBytes", 16 * 1024, 4 * 1024 * 1024),
    ("persistDelayMs", 0, 10_000),
    ("sessionTimeoutMs", 60_000, 86_400_000),
];

impl Whole {
    /// `ok` (the value is within the range), else "name: must be between lo and hi" ("at
    /// most hi" when `lo` is 0). Takes the comparison's result, not the value: counts compare
    /// as `u64` and durations as `Duration` (`millis`), with no `u128` arithmetic in the wasm.
    fn check(self, ok: bool) -> Result<(), ConfigError> {
        let (option, lo, hi) = RANGES[self as usize];
        if ok {
            return Ok(());
        }
        let hi = dec(hi.into());
        let message = if lo == 0 {
            concat(&["must be at most ", &hi])
        } else {
            concat(&["must be between ", &dec(lo.into()), " and ", &hi])
        };
        Err(ConfigError { option, message })
    }

    /// A count (or whole milliseconds) within the range.
    fn count(self, n: u64) -> Result<(), ConfigError> {
        let (_, lo, hi) = RANGES[self as usize];
        self.check(u64::from(lo) <= n && n <= u64::from(hi))
    }

    /// A duration within the range, exactly: 1 ns over a limit is refused (compared as
    /// `Duration`s, seconds then nanoseconds, not rounded to milliseconds).
    fn millis(self, d: Duration) -> Result<(), ConfigError> {
        let (_, lo, hi) = RANGES[self as usize];
        let (lo, hi) = (
            Duration::from_millis(lo.into()),
            Duration::from_millis(hi.into()),
        );
        self.check(lo <= d && d <= hi)
    }
}

impl Config {
    /// The defaults of the contract for `site_id` (1..64 of `A-Z a-z 0-9 _ -`).
    pub fn new(site_id: &str) -> Result<Config, ConfigError> {
        if !is_site_id(site_id) {
            return Err(ConfigError {
                option: "siteId",
                message: concat(&[
                    &crate::json::quote(site_id),
                    " is not a site id: use 1 to 64 of A-Z a-z 0-9 _ - (e.g. \"site_demo\")",
                ]),
            });
        }
        Ok(Config {
            site_id: site_id.to_string(),
            max_batch_events: DEFAULT_MAX_BATCH_EVENTS,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            max_requests_per_minute: DEFAULT_MAX_REQUESTS_PER_MINUTE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            persist_delay: DEFAULT_PERSIST_DELAY,
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            pii_policy: PiiPolicy::default(),
            email_normalization: EmailNormalization::default(),
        })
    }

    pub fn site_id(&self) -> &str {
        &self.site_id
    }

    /// Sets the option `w` to `n`, in its unit (a count, or whole milliseconds), after the
    /// same range check as its typed setter: how the JavaScript options reach the core, with
    /// one check and one message for all of them.
    pub fn set_whole(&mut self, w: Whole, n: u64) -> Result<(), ConfigError> {
        w.count(n)?;
        // In range, so no count is truncated by the casts.
        let (ms, size) = (Duration::from_millis(n), n as usize);
        match w {
            Whole::FlushInterval => self.flush_interval = ms,
            Whole::MaxBatchEvents => self.max_batch_events = size,
            Whole::MaxBatchBytes => self.max_batch_bytes = size,
            Whole::MaxRequestsPerMinute => self.max_requests_per_minute = n as u32,
            Whole::RequestTimeout => self.request_timeout = ms,
            Whole::MaxQueueBytes => self.max_queue_bytes = size,
            Whole::PersistDelay => self.persist_delay = ms,
            Whole::SessionTimeout => self.session_timeout = ms,
        }
        Ok(())
    }

    /// `maxBatchEvents`: 1..=500 (the collector refuses more than 500 per request).
    pub fn with_max_batch_events(mut self, n: usize) -> Result<Self, ConfigError> {
        self.set_max_batch_events(n)?;
        Ok(self)
    }

    /// `with_max_batch_events`, in place.
    pub fn set_max_batch_events(&mut self, n: usize) -> Result<(), ConfigError> {
        self.set_whole(Whole::MaxBatchEvents, n as u64)
    }

    /// `maxBatchBytes`: 1,024..=65,536 (a batch must fit the keepalive budget).
    pub fn with_max_batch_bytes(mut self, n: usize) -> Result<Self, ConfigError> {
        self.set_max_batch_bytes(n)?;
        Ok(self)
    }

    /// `with_max_batch_bytes`, in place.
    pub fn set_max_batch_bytes(&mut self, n: usize) -> Result<(), ConfigError> {
        self.set_whole(Whole::MaxBatchBytes, n as u64)
    }

    /// `flushIntervalMs`: up to one hour; 0 sends as soon as pacing allows.
    pub fn with_flush_interval(mut self, d: Duration) -> Result<Self, ConfigError> {
        self.set_flush_interval(d)?;
        Ok(self)
    }

    /// `with_flush_interval`, in place.
    pub fn set_flush_interval(&mut self, d: Duration) -> Result<(), ConfigError> {
        Whole::FlushInterval.millis(d)?;
        self.flush_interval = d;
        Ok(())
    }

    /// `maxRequestsPerMinute`: 1..=100 (the collector's limit per IP).
    pub fn with_max_requests_per_minute(mut self, n: u32) -> Result<Self, ConfigError> {
        self.set_max_requests_per_minute(n)?;
        Ok(self)
    }

    /// `with_max_requests_per_minute`, in place.
    pub fn set_max_requests_per_minute(&mut self, n: u32) -> Result<(), ConfigError> {
        self.set_whole(Whole::MaxRequestsPerMinute, n.into())
    }

    /// `requestTimeoutMs`: 100 ms..=2 min.
    pub fn with_request_timeout(mut self, d: Duration) -> Result<Self, ConfigError> {
        self.set_request_timeout(d)?;
        Ok(self)
    }

    /// `with_request_timeout`, in place.
    pub fn set_request_timeout(&mut self, d: Duration) -> Result<(), ConfigError> {
        Whole::RequestTimeout.millis(d)?;
        self.request_timeout = d;
        Ok(())
    }

    /// Backoff base and cap: 0 < base <= cap <= 1 hour.
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Result<Self, ConfigError> {
        if base.is_zero() || base > cap || cap > Duration::from_secs(3600) {
            return Err(ConfigError {
                option: "backoff",
                message: "must be 0 < base <= cap <= 3600000 ms".into(),
            });
        }
        self.backoff_base = base;
        self.backoff_cap = cap;
        Ok(self)
    }

    /// `maxQueueBytes`: 16 KiB..=4 MiB (localStorage holds about 5 MB per origin).
    pub fn with_max_queue_bytes(mut self, n: usize) -> Result<Self, ConfigError> {
        self.set_max_queue_bytes(n)?;
        Ok(self)
    }

    /// `with_max_queue_bytes`, in place.
    pub fn set_max_queue_bytes(&mut self, n: usize) -> Result<(), ConfigError> {
        self.set_whole(Whole::MaxQueueBytes, n as u64)
    }

    /// `persistDelayMs`: up to 10 s.
    pub fn with_persist_delay(mut self, d: Duration) -> Result<Self, ConfigError> {
        self.set_persist_delay(d)?;
        Ok(self)
    }

    /// `with_persist_delay`, in place.
    pub fn set_persist_delay(&mut self, d: Duration) -> Result<(), ConfigError> {
        Whole::PersistDelay.millis(d)?;
        self.persist_delay = d;
        Ok(())
    }

    /// `sessionTimeoutMs`: 1 min..=24 h.
    pub fn with_session_timeout(mut self, d: Duration) -> Result<Self, ConfigError> {
        self.set_session_timeout(d)?;
        Ok(self)
    }

    /// `with_session_timeout`, in place.
    pub fn set_session_timeout(&mut self, d: Duration) -> Result<(), ConfigError> {
        Whole::SessionTimeout.millis(d)?;
        self.session_timeout = d;
        Ok(())
    }

    pub fn with_pii_policy(mut self, p: PiiPolicy) -> Self {
        self.pii_policy = p;
        self
    }

    pub fn with_email_normalization(mut self, n: EmailNormalization) -> Self {
        self.email_normalization = n;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_contracts() {
        let c = Config::new("site_demo").unwrap();
        assert_eq!(c.max_batch_events, 50);
        assert_eq!(c.max_batch_bytes, 60_000);
        assert_eq!(c.flush_interval, Duration::from_millis(2000));
        assert_eq!(c.max_requests_per_minute, 30);
        assert_eq!(c.request_timeout, Duration::from_millis(10_000));
        assert_eq!(c.backoff_base, Duration::from_secs(1));
        assert_eq!(c.backoff_cap, Duration::from_secs(300));
        assert_eq!(c.max_queue_bytes, 1_048_576);
        assert_eq!(c.persist_delay, Duration::from_millis(1000));
        assert_eq!(c.session_timeout, Duration::from_secs(1800));
        assert_eq!(c.pii_policy, PiiPolicy::Redact);
    }

    #[test]
    fn bad_site_id_is_refused_with_an_example() {
        let e = Config::new("site demo").unwrap_err();
        assert_eq!(e.option, "siteId");
        assert!(e.message.contains("site_demo"), "{e}");
        assert!(Config::new("").is_err());
        assert!(Config::new(&"a".repeat(65)).is_err());
    }

    #[test]
    fn range_messages_say_the_range_in_the_options_units() {
        let c = Config::new("s").unwrap();
        let ms = Duration::from_millis;
        let refused = [
            (
                c.clone().with_max_batch_events(0),
                "maxBatchEvents: must be between 1 and 500",
            ),
            (
                c.clone().with_max_batch_bytes(1023),
                "maxBatchBytes: must be between 1024 and 65536",
            ),
            (
                c.clone().with_flush_interval(ms(3_600_001)),
                "flushIntervalMs: must be at most 3600000",
            ),
            (
                c.clone().with_max_requests_per_minute(101),
                "maxRequestsPerMinute: must be between 1 and 100",
            ),
            (
                c.clone().with_request_timeout(ms(99)),
                "requestTimeoutMs: must be between 100 and 120000",
            ),
            (
                c.clone().with_max_queue_bytes(4 * 1024 * 1024 + 1),
                "maxQueueBytes: must be between 16384 and 4194304",
            ),
            (
                c.clone().with_persist_delay(ms(10_001)),
                "persistDelayMs: must be at most 10000",
            ),
            (
                c.clone().with_session_timeout(ms(59_999)),
                "sessionTimeoutMs: must be between 60000 and 86400000",
            ),
        ];
        for (result, message) in refused {
            assert_eq!(result.unwrap_err().message(), message);
        }
        // Durations are checked exactly, not rounded to milliseconds.
        let over = Duration::from_secs(3600) + Duration::from_nanos(1);
        assert!(c.clone().with_flush_interval(over).is_err());
        assert!(c
            .clone()
            .with_flush_interval(Duration::from_secs(3600))
            .is_ok());
        let under = Duration::from_millis(100) - Duration::from_nanos(1);
        assert!(c.clone().with_request_timeout(under).is_err());
        assert!(c
            .clone()
            .with_request_timeout(Duration::from_millis(100))
            .is_ok());
        let mut c = c;
        c.set_max_batch_events(7).unwrap();
        assert_eq!(c.max_batch_events, 7);
    }

    #[test]
    fn setters_refuse_out_of_range_values() {
        let c = Config::new("s").unwrap();
        assert!(c.clone().with_max_batch_events(0).is_err());
        assert!(c.clone().with_max_batch_events(501).is_err());
        assert!(c.clone().with_max_batch_bytes(70_000).is_err());
        assert!(c.clone().with_max_requests_per_minute(0).is_err());
        assert!(c
            .clone()
            .with_backoff(Duration::ZERO, Duration::from_secs(1))
            .is_err());
        assert_eq!(c.with_max_batch_events(10).unwrap().max_batch_events, 10);
    }
}
