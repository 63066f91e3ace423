//! When the next request may leave: exponential backoff with jitter, and pacing.
//!
//! Both are pure: backoff takes its randomness from an `Entropy`, pacing takes `now`. Neither
//! sleeps; the pipeline turns their answers into the instant its shell arms a timer for.

use core::time::Duration;
use std::collections::VecDeque;

use crate::config::PACING_WINDOW;
use crate::entropy::Entropy;
use crate::time::Millis;

/// Exponential backoff: 1 s, 2 s, 4 s, ... up to `cap`, each delay jittered to between half and
/// all of its nominal value so that many clients failing together do not retry in step.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            failures: 0,
        }
    }

    /// The un-jittered delay after `failures` consecutive failures (1 for the first).
    pub fn nominal(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(40);
        let ms = (self.base.as_millis() as u64).saturating_mul(1u64 << doublings);
        Duration::from_millis(ms).min(self.cap)
    }

    /// Counts one more failure and returns the jittered delay before the next attempt.
    pub fn next_delay(&mut self, entropy: &mut dyn Entropy) -> Duration {
        self.failures = self.failures.saturating_add(1);
        jitter(self.nominal(self.failures), entropy.next_u64())
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A success: the next failure starts again at `base`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A delay uniformly between half and all of `nominal` (whole milliseconds), from `random`.
pub fn jitter(nominal: Duration, random: u64) -> Duration {
    let ms = nominal.as_millis() as u64;
    let half = ms / 2;
    Duration::from_millis(ms - half + random % (half + 1))
}

/// Pacing: at most `max_per_window` requests in any `PACING_WINDOW` (60 s).
#[derive(Clone, Debug)]
pub struct Pacer {
    max_per_window: usize,
    /// Send instants, oldest first; only the last `max_per_window` matter.
    sends: VecDeque<Millis>,
}

impl Pacer {
    pub fn new(max_per_minute: u32) -> Self {
        Pacer {
            max_per_window: max_per_minute.max(1) as usize,
            sends: VecDeque::new(),
        }
    }

    /// Records a request that left at `at`.
    pub fn record(&mut self, at: Millis) {
        self.sends.push_back(at);
        while self.sends.len() > self.max_per_window {
            self.sends.pop_front();
        }
    }

    /// The earliest instant at which one more request keeps every window within the limit:
    /// the `max`-th most recent send plus the window (`Millis::ZERO` if fewer were sent).
    pub fn next_allowed(&self) -> Millis {
        if self.sends.len() < self.max_per_window {
            Millis::ZERO
        } else {
            self.sends[0].add(PACING_WINDOW)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn backoff_doubles_from_one_second_to_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let nominal: Vec<u64> = (1..=11).map(|n| b.nominal(n).as_secs()).collect();
        assert_eq!(nominal, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn jittered_delay_is_between_half_and_all_of_nominal() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let mut e = SeededEntropy::new(1);
        for n in 1..=20 {
            let d = b.next_delay(&mut e);
            let nominal = b.nominal(n);
            assert!(d >= nominal / 2 && d <= nominal, "{d:?} vs {nominal:?}");
        }
        assert_eq!(
            jitter(Duration::from_millis(1000), 0),
            Duration::from_millis(500)
        );
        assert_eq!(
            jitter(Duration::from_millis(1000), 500),
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
            seen.insert(b.next_delay(&mut SeededEntropy::new(seed)));
        }
        assert!(seen.len() > 40, "only {} distinct delays", seen.len());
    }

    #[test]
    fn success_resets_backoff() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let mut e = SeededEntropy::new(3);
        for _ in 0..5 {
            b.next_delay(&mut e);
        }
        b.reset();
        assert!(b.next_delay(&mut e) <= Duration::from_secs(1));
    }

    #[test]
    fn pacer_allows_max_per_sliding_minute() {
        let mut p = Pacer::new(3);
        assert_eq!(p.next_allowed(), Millis::ZERO);
        p.record(Millis(1_000));
        p.record(Millis(2_000));
        assert_eq!(p.next_allowed(), Millis::ZERO);
        p.record(Millis(3_000));
        assert_eq!(p.next_allowed(), Millis(61_000));
        p.record(Millis(61_000));
        assert_eq!(p.next_allowed(), Millis(62_000));
    }
}
