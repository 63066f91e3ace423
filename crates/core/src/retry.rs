//! When the next request may leave: exponential backoff with jitter, and pacing.
//!
//! Both are pure: backoff takes its randomness from an `Entropy`, pacing takes `now`. Neither
//! sleeps; the pipeline turns their answers into the instant its shell arms a timer for.

use core::time::Duration;

use crate::config::{PACING_WINDOW, SITE_MAX_REQUESTS_PER_MINUTE};
use crate::entropy::Entropy;
use crate::time::{millis, Millis};

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
        // Doubled by a shift, saturating by a compare: `saturating_mul` is a 128-bit
        // multiplication in the wasm.
        let ms = match millis(self.base) {
            ms if ms > u64::MAX >> doublings => u64::MAX,
            ms => ms << doublings,
        };
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
    let ms = millis(nominal);
    let half = ms / 2;
    Duration::from_millis(ms - half + random % (half + 1))
}

/// Insertion sort: these lists hold at most a few hundred instants, mostly in order already,
/// and the standard library's sorts cost kilobytes of wasm.
fn sort_small(v: &mut [Millis]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Pacing: at most `max_per_window` requests of this page in any `PACING_WINDOW` (60 s), and
/// at most `SITE_MAX_REQUESTS_PER_MINUTE` of all the site's tabs together (the other tabs'
/// sends are learnt through storage, `others_sent`).
#[derive(Clone, Debug)]
pub struct Pacer {
    max_per_window: usize,
    /// This page's send instants, oldest first (the last `SITE_MAX_REQUESTS_PER_MINUTE`).
    sends: Vec<Millis>,
    /// Other tabs' send instants within the last window, oldest first.
    others: Vec<Millis>,
}

impl Pacer {
    pub fn new(max_per_minute: u32) -> Self {
        Pacer {
            max_per_window: max_per_minute.max(1) as usize,
            sends: Vec::new(),
            others: Vec::new(),
        }
    }

    /// Records a request that left at `at`.
    pub fn record(&mut self, at: Millis) {
        self.sends.push(at);
        let keep = SITE_MAX_REQUESTS_PER_MINUTE.max(self.max_per_window);
        while self.sends.len() > keep {
            self.sends.remove(0);
        }
    }

    /// What storage says the site's tabs sent (this page's own sends among them are
    /// recognised and not counted twice); keeps those within the window before `now`.
    pub fn others_sent(&mut self, site_sends: &[Millis], now: Millis) {
        // Loops, not filter/collect chains: fewer iterator instantiations in the wasm.
        self.others.clear();
        for &t in site_sends {
            if t.add(PACING_WINDOW) > now && !self.sends.contains(&t) {
                self.others.push(t);
            }
        }
        sort_small(&mut self.others);
    }

    /// The site's sends within the window before `now`, this page's and the others', oldest
    /// first: what this page stores for the other tabs.
    pub fn site_sends(&self, now: Millis) -> Vec<Millis> {
        // One index loop over both lists, not a loop over an array of them: less wasm.
        let (own, n) = (self.sends.len(), self.sends.len() + self.others.len());
        let mut all = Vec::with_capacity(n);
        for k in 0..n {
            let t = if k < own {
                self.sends[k]
            } else {
                self.others[k - own]
            };
            if t.add(PACING_WINDOW) > now {
                all.push(t);
            }
        }
        sort_small(&mut all);
        all
    }

    /// The earliest instant at which one more request keeps every window within both limits:
    /// the `max`-th most recent send plus the window (`Millis::ZERO` if fewer were sent).
    pub fn next_allowed(&self) -> Millis {
        let own = match self.sends.len().checked_sub(self.max_per_window) {
            Some(i) => self.sends[i].add(PACING_WINDOW),
            None => Millis::ZERO,
        };
        // The SITE_MAX-th most recent of the two sorted lists: walk both from their ends.
        let (mut i, mut j) = (self.sends.len(), self.others.len());
        let mut nth = Millis::ZERO;
        for _ in 0..SITE_MAX_REQUESTS_PER_MINUTE {
            let take_own = match (i, j) {
                (0, 0) => return own,
                (0, _) => false,
                (_, 0) => true,
                _ => self.sends[i - 1] >= self.others[j - 1],
            };
            if take_own {
                i -= 1;
                nth = self.sends[i];
            } else {
                j -= 1;
                nth = self.others[j];
            }
        }
        own.max(nth.add(PACING_WINDOW))
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

#[cfg(test)]
mod site_tests {
    use super::*;

    #[test]
    fn the_tabs_of_a_site_together_stay_under_the_site_limit() {
        let mut p = Pacer::new(30);
        let others: Vec<Millis> = (0..80).map(|i| Millis(1_000 + i)).collect();
        p.others_sent(&others, Millis(2_000));
        for t in 0..10 {
            assert!(p.next_allowed() <= Millis(2_000 + t));
            p.record(Millis(2_000 + t));
        }
        // 80 + 10 = 90 in the window: the next waits until the oldest leaves it.
        assert_eq!(p.next_allowed(), Millis(61_000));
    }

    #[test]
    fn own_sends_read_back_from_storage_are_not_counted_twice() {
        let mut p = Pacer::new(30);
        for t in 0..30 {
            p.record(Millis(t));
        }
        let stored = p.site_sends(Millis(100));
        p.others_sent(&stored, Millis(100));
        assert_eq!(p.site_sends(Millis(100)).len(), 30);
        assert_eq!(
            p.next_allowed(),
            Millis(60_000),
            "the page's own limit, not doubled"
        );
    }

    #[test]
    fn small_sort_sorts() {
        let mut v: Vec<Millis> = [5, 1, 4, 1, 9, 0].into_iter().map(Millis).collect();
        sort_small(&mut v);
        assert_eq!(v, [0, 1, 1, 4, 5, 9].map(Millis));
    }

    #[test]
    fn sends_older_than_the_window_are_forgotten() {
        let mut p = Pacer::new(30);
        let others: Vec<Millis> = (0..90).map(Millis).collect();
        p.others_sent(&others, Millis(60_050));
        assert_eq!(p.site_sends(Millis(60_050)).len(), 39);
        assert_eq!(p.next_allowed(), Millis::ZERO);
    }
}
