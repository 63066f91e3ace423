//! The visit: `scan_session_id` (UUID v4), its last activity, and the identity attached to it
//! (CONTRACT.md 5).
//!
//! Invariants: the id is always a canonical lower-case UUID; after `timeout` without activity
//! the next event gets a new id (the identity is kept: it names the person, not the visit;
//! only `reset` forgets it); an id passed in the page URL as `scan_session_id` (a QR redirect
//! can pass one) is adopted when it is a valid UUID of any version.

use core::time::Duration;

use crate::entropy::Entropy;
use crate::text::split_once_ascii;
use crate::time::Millis;
use crate::uuid;

/// The query parameter a QR redirect uses to hand over a session.
pub const URL_PARAM: &str = "scan_session_id";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub last_activity: Millis,
    /// `user_identifiers.email_hash` attached to every event until `reset`.
    pub email_hash: Option<String>,
}

impl Session {
    /// A new visit starting at `now`.
    pub fn new(now: Millis, entropy: &mut dyn Entropy) -> Self {
        Session {
            id: uuid::new_v4(entropy),
            last_activity: now,
            email_hash: None,
        }
    }

    /// True if the visit is over at `now`.
    pub fn expired(&self, now: Millis, timeout: Duration) -> bool {
        now.since(self.last_activity) > timeout
    }

    /// Activity at `now`: starts a new id first if the visit expired. Returns true if it did.
    pub fn touch(&mut self, now: Millis, timeout: Duration, entropy: &mut dyn Entropy) -> bool {
        let rotated = self.expired(now, timeout);
        if rotated {
            self.id = uuid::new_v4(entropy);
        }
        self.last_activity = self.last_activity.max(now);
        rotated
    }

    /// A new visit and no identity (`reset()`).
    pub fn reset(&mut self, now: Millis, entropy: &mut dyn Entropy) {
        *self = Session::new(now, entropy);
    }
}

/// The `scan_session_id` query parameter of `url`, lower-cased, if it is a canonical UUID.
/// The last valid occurrence wins (a redirect that appends its own parameter is the one that
/// knows the visit).
pub fn session_id_from_url(url: &str) -> Option<String> {
    let before_fragment = split_once_ascii(url, b'#').map_or(url, |(before, _)| before);
    let mut query = split_once_ascii(before_fragment, b'?')?.1;
    // A forward loop keeping the last hit, not `next_back`: the same result without a reverse
    // splitter (some 800 bytes) in the wasm. Cut with `split_once_ascii`, not `split`: no
    // splitter iterator and no `char` searcher either.
    let mut found = None;
    loop {
        let (pair, rest) = match split_once_ascii(query, b'&') {
            Some((pair, rest)) => (pair, Some(rest)),
            None => (query, None),
        };
        if let Some((URL_PARAM, v)) = split_once_ascii(pair, b'=') {
            found = uuid::parse_canonical(v).or(found);
        }
        match rest {
            Some(rest) => query = rest,
            None => return found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    const MIN30: Duration = Duration::from_secs(1800);

    #[test]
    fn session_rotates_after_inactivity_and_keeps_identity() {
        let mut e = SeededEntropy::new(1);
        let mut s = Session::new(Millis(0), &mut e);
        s.email_hash = Some("h".into());
        let first = s.id.clone();
        assert!(
            !s.touch(Millis(1_800_000), MIN30, &mut e),
            "exactly the timeout is still the visit"
        );
        assert_eq!(s.id, first);
        assert!(s.touch(Millis(3_600_001), MIN30, &mut e));
        assert_ne!(s.id, first);
        assert_eq!(s.email_hash.as_deref(), Some("h"));
        assert!(uuid::is_canonical(&s.id));
    }

    #[test]
    fn activity_keeps_the_session_alive() {
        let mut e = SeededEntropy::new(1);
        let mut s = Session::new(Millis(0), &mut e);
        let id = s.id.clone();
        for minute in 1..=120 {
            assert!(!s.touch(Millis(minute * 60_000), MIN30, &mut e));
        }
        assert_eq!(s.id, id);
    }

    #[test]
    fn reset_forgets_identity_and_starts_a_new_visit() {
        let mut e = SeededEntropy::new(1);
        let mut s = Session::new(Millis(0), &mut e);
        s.email_hash = Some("h".into());
        let id = s.id.clone();
        s.reset(Millis(5), &mut e);
        assert_ne!(s.id, id);
        assert_eq!(s.email_hash, None);
    }

    #[test]
    fn url_session_id_is_adopted_in_lower_case() {
        let id = "7AD26D4F-3181-1EF8-B6CA-B8F59499DD43";
        assert_eq!(
            session_id_from_url(&format!(
                "https://x.example/l?utm=qr&scan_session_id={id}#top"
            ))
            .as_deref(),
            Some("7ad26d4f-3181-1ef8-b6ca-b8f59499dd43")
        );
    }

    #[test]
    fn the_last_valid_url_session_id_wins() {
        let a = "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43";
        let b = "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
        let url = format!("https://x.example/?scan_session_id={a}&scan_session_id={b}&x=1");
        assert_eq!(session_id_from_url(&url).as_deref(), Some(b));
        let url = format!("https://x.example/?scan_session_id={a}&scan_session_id=bad&y");
        assert_eq!(session_id_from_url(&url).as_deref(), Some(a));
    }

    /// The reading by `split_once`, as the query's grammar says it: up to the first `#`,
    /// after the first `?`, pairs split at `&`, each at its first `=`.
    fn reference(url: &str) -> Option<String> {
        let before_fragment = url.split_once('#').map_or(url, |(before, _)| before);
        let query = before_fragment.split_once('?')?.1;
        query
            .split('&')
            .filter_map(|pair| match pair.split_once('=') {
                Some((URL_PARAM, v)) => uuid::parse_canonical(v),
                _ => None,
            })
            .next_back()
    }

    #[test]
    fn url_session_id_is_read_as_the_query_grammar_says() {
        let id = "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43";
        let parts = [
            "",
            "?",
            "#",
            "&",
            "=",
            "?&",
            "scan_session_id",
            "scan_session_id=",
            id,
            "x=1",
            "é",
            "scan_session_id==",
            "&scan_session_id=",
        ];
        let mut n = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in parts {
                        let url = format!("https://x.example/{a}{b}{c}{d}");
                        assert_eq!(session_id_from_url(&url), reference(&url), "{url}");
                        n += usize::from(reference(&url).is_some());
                    }
                }
            }
        }
        assert!(n > 50, "the cases include adopted ids ({n})");
    }

    #[test]
    fn invalid_or_missing_url_session_id_is_ignored() {
        for url in [
            "https://x.example/",
            "https://x.example/?scan_session_id=",
            "https://x.example/?scan_session_id=not-a-uuid",
            "https://x.example/?xscan_session_id=7ad26d4f-3181-4ef8-b6ca-b8f59499dd43",
            "https://x.example/#?scan_session_id=7ad26d4f-3181-4ef8-b6ca-b8f59499dd43",
            "https://x.example/?scan_session_id=7ad26d4f31814ef8b6cab8f59499dd43",
        ] {
            assert_eq!(session_id_from_url(url), None, "{url}");
        }
    }
}
