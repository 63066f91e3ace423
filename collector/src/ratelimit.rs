//! The per-client-IP rate limit of contract 2.1: a token bucket of `per_minute` tokens refilled
//! evenly over 60 s, plus a `grace` of extra tokens for short bursts (defaults 100 and 10).
//! `/collect/batch` and `/ct` draw from the same bucket; preflights and the inspector do not.
//!
//! The limiter never reads a clock: `now` is an argument, so tests jump time (governor's
//! model). Arithmetic is exact integers: one token is [`WINDOW`] in milliseconds worth of
//! "token-milliseconds" (`UNIT`), and a bucket gains `per_minute` units per millisecond, so a
//! rate of 100/min refills one token every 600 ms with no rounding drift.
//!
//! What the headers say (documented in collector/README.md):
//! - `X-RateLimit-Limit`: `per_minute` (the grace is not advertised: clients must not rely on it);
//! - `X-RateLimit-Remaining`: whole tokens left *not counting the grace*,
//!   `max(0, floor(tokens) - grace)`, so a client that stops at 0 never touches the grace;
//! - `X-RateLimit-Reset`: Unix seconds (rounded up) when the bucket is full again;
//! - `Retry-After` (on 429 only): whole seconds (rounded up, at least 1) until one token is back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use scantrack_core::Millis;

/// The refill window of the contract.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Default requests per minute per client IP (`--rate-per-minute`).
pub const DEFAULT_RATE_PER_MINUTE: u64 = 100;
/// Default burst allowance on top of the per-minute rate.
pub const DEFAULT_GRACE: u64 = 10;
/// Largest accepted rate: keeps `(rate + grace) * UNIT` far from `u64::MAX`.
pub const MAX_RATE_PER_MINUTE: u64 = 1_000_000_000;
/// Buckets kept before idle (full) ones are forgotten.
const PRUNE_ABOVE_BUCKETS: usize = 10_000;

/// One token, in token-milliseconds.
const UNIT: u64 = WINDOW.as_millis() as u64;

/// The limit: `per_minute` tokens per [`WINDOW`] plus `grace` burst tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatePolicy {
    pub per_minute: u64,
    pub grace: u64,
}

impl Default for RatePolicy {
    fn default() -> Self {
        RatePolicy {
            per_minute: DEFAULT_RATE_PER_MINUTE,
            grace: DEFAULT_GRACE,
        }
    }
}

impl RatePolicy {
    pub fn per_minute(mut self, per_minute: u64) -> Self {
        self.per_minute = per_minute.clamp(1, MAX_RATE_PER_MINUTE);
        self
    }
    pub fn grace(mut self, grace: u64) -> Self {
        self.grace = grace.min(MAX_RATE_PER_MINUTE);
        self
    }
    fn capacity_units(&self) -> u64 {
        (self.per_minute + self.grace) * UNIT
    }
}

/// What the limiter decided for one request, with everything the headers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `X-RateLimit-Limit`.
    pub limit: u64,
    /// `X-RateLimit-Remaining` (grace not counted).
    pub remaining: u64,
    /// `X-RateLimit-Reset`: Unix seconds when the bucket is full again.
    pub reset_unix_secs: u64,
    /// `Retry-After` in whole seconds; `Some` only when refused.
    pub retry_after_secs: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    units: u64,
    updated: Millis,
}

/// Token buckets keyed by client IP.
#[derive(Debug)]
pub struct RateLimiter {
    policy: RatePolicy,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    pub fn new(policy: RatePolicy) -> Self {
        RateLimiter {
            policy,
            buckets: HashMap::new(),
        }
    }

    pub fn policy(&self) -> RatePolicy {
        self.policy
    }

    /// Takes one token for `ip` if there is one.
    pub fn check(&mut self, ip: IpAddr, now: Millis) -> Decision {
        self.decide(ip, now, true)
    }

    /// The state of `ip`'s bucket without taking a token (for preflights and 405s).
    pub fn peek(&mut self, ip: IpAddr, now: Millis) -> Decision {
        self.decide(ip, now, false)
    }

    /// Forgets every bucket (admin reset).
    pub fn clear(&mut self) {
        self.buckets.clear();
    }

    fn decide(&mut self, ip: IpAddr, now: Millis, take: bool) -> Decision {
        let policy = self.policy;
        let capacity = policy.capacity_units();
        if self.buckets.len() > PRUNE_ABOVE_BUCKETS && !self.buckets.contains_key(&ip) {
            self.buckets
                .retain(|_, b| refilled(b, now, &policy) < capacity);
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            units: capacity,
            updated: now,
        });
        bucket.units = refilled(bucket, now, &policy);
        bucket.updated = bucket.updated.max(now);

        let allowed = bucket.units >= UNIT;
        if allowed && take {
            bucket.units -= UNIT;
        }
        let units = bucket.units;
        let retry_after_secs = (!allowed).then(|| {
            let wait_ms = (UNIT - units).div_ceil(policy.per_minute);
            wait_ms.div_ceil(1000).max(1)
        });
        let to_full_ms = (capacity - units).div_ceil(policy.per_minute);
        Decision {
            allowed,
            limit: policy.per_minute,
            remaining: (units / UNIT).saturating_sub(policy.grace),
            reset_unix_secs: (now.0 + to_full_ms).div_ceil(1000),
            retry_after_secs,
        }
    }
}

/// The bucket's units at `now`: refilled at `per_minute` units per millisecond, capped.
/// A clock that went backwards refills nothing.
fn refilled(b: &Bucket, now: Millis, policy: &RatePolicy) -> u64 {
    let elapsed_ms = now.0.saturating_sub(b.updated.0);
    b.units
        .saturating_add(elapsed_ms.saturating_mul(policy.per_minute))
        .min(policy.capacity_units())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const T0: Millis = Millis(1_700_000_000_000);

    fn limiter() -> RateLimiter {
        RateLimiter::new(RatePolicy::default())
    }

    #[test]
    fn a_fresh_client_gets_rate_plus_grace_requests_then_a_refusal() {
        let mut l = limiter();
        for i in 0..110 {
            assert!(l.check(IP, T0).allowed, "request {i}");
        }
        let refused = l.check(IP, T0);
        assert!(!refused.allowed);
        assert_eq!(
            refused.retry_after_secs,
            Some(1),
            "one token comes back after 600 ms"
        );
        assert_eq!(refused.remaining, 0);
    }

    #[test]
    fn remaining_does_not_count_the_grace() {
        let mut l = limiter();
        assert_eq!(l.check(IP, T0).remaining, 99);
        for _ in 0..98 {
            l.check(IP, T0);
        }
        assert_eq!(l.check(IP, T0).remaining, 0, "100th request");
        let in_grace = l.check(IP, T0);
        assert!(in_grace.allowed);
        assert_eq!(in_grace.remaining, 0);
    }

    #[test]
    fn one_token_returns_every_600_ms_at_100_per_minute() {
        let mut l = limiter();
        for _ in 0..110 {
            l.check(IP, T0);
        }
        assert!(!l.check(IP, T0.add(Duration::from_millis(599))).allowed);
        assert!(l.check(IP, T0.add(Duration::from_millis(600))).allowed);
        assert!(!l.check(IP, T0.add(Duration::from_millis(600))).allowed);
    }

    #[test]
    fn reset_is_when_the_bucket_is_full_again() {
        let mut l = limiter();
        let d = l.check(IP, T0);
        // One token used: full again 600 ms later.
        assert_eq!(d.reset_unix_secs, (T0.0 + 600).div_ceil(1000));
        for _ in 0..109 {
            l.check(IP, T0);
        }
        let d = l.check(IP, T0);
        assert_eq!(d.reset_unix_secs, (T0.0 + 66_000).div_ceil(1000));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let mut l = RateLimiter::new(RatePolicy::default().per_minute(1).grace(0));
        assert!(l.check(IP, T0).allowed);
        let d = l.check(IP, T0.add(Duration::from_millis(100)));
        assert_eq!(d.retry_after_secs, Some(60), "59.9 s rounds up to 60");
    }

    #[test]
    fn clients_have_separate_buckets() {
        let mut l = RateLimiter::new(RatePolicy::default().per_minute(1).grace(0));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.check(IP, T0).allowed);
        assert!(!l.check(IP, T0).allowed);
        assert!(l.check(other, T0).allowed);
    }

    #[test]
    fn peek_takes_no_token() {
        let mut l = RateLimiter::new(RatePolicy::default().per_minute(1).grace(0));
        for _ in 0..5 {
            assert!(l.peek(IP, T0).allowed);
        }
        assert!(l.check(IP, T0).allowed);
        assert!(!l.peek(IP, T0).allowed);
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let mut l = RateLimiter::new(RatePolicy::default().per_minute(1).grace(0));
        assert!(l.check(IP, T0).allowed);
        assert!(!l.check(IP, Millis(T0.0 - 120_000)).allowed);
        assert!(!l.check(IP, T0.add(Duration::from_secs(59))).allowed);
        assert!(l.check(IP, T0.add(Duration::from_secs(60))).allowed);
    }
}
