//! Property tests of the pipeline's invariants (CONTRACT.md 3), for arbitrary sequences of
//! `track` calls, flushes, hides, reloads, time jumps and server outcomes (2xx, 200 with errors,
//! 413, 422, 429 with and without headers, 5xx, network failure, no reply, 400):
//!
//! 1. every accepted event ends exactly once, as delivered or as a reported drop — never
//!    silently lost, never reported twice — and the collector holds every event reported
//!    delivered;
//! 2. no request leaves before a `Retry-After`/`X-RateLimit-Reset` time or before the minimum
//!    (jittered) backoff delay after a failure;
//! 3. within a page, at most `max_requests_per_minute` paced requests in any 60 s and at most
//!    one paced request in flight;
//! 4. every request body passes the collector's own validation.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use proptest::prelude::*;
use scantrack_core::json::Value;
use scantrack_core::pipeline::{Report, Transmit};
use scantrack_core::response::{HttpResponse, Outcome, RetryAfter};
use scantrack_core::retry::Backoff;
use scantrack_core::validate::{validate_batch, Limits};
use scantrack_core::{Config, Millis};

#[derive(Clone, Debug)]
enum Reply {
    Ok,
    OkRefusingFirst,
    TooLarge,
    InvalidFirst,
    RateLimited,
    RateLimitedSecs(u64),
    RateLimitedDate(u64),
    RateLimitedReset(u64),
    ServerError(u16),
    Network,
    Hang,
    BadRequest,
}

#[derive(Clone, Debug)]
enum Action {
    Track { count: usize, big: bool },
    Advance(u64),
    Flush,
    Hide,
    Reload,
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        6 => Just(Reply::Ok),
        1 => Just(Reply::OkRefusingFirst),
        1 => Just(Reply::TooLarge),
        1 => Just(Reply::InvalidFirst),
        1 => Just(Reply::RateLimited),
        1 => (0u64..90).prop_map(Reply::RateLimitedSecs),
        1 => (1u64..90).prop_map(Reply::RateLimitedDate),
        1 => (1u64..90).prop_map(Reply::RateLimitedReset),
        2 => prop_oneof![Just(500u16), Just(502), Just(503), Just(504), Just(408)].prop_map(Reply::ServerError),
        1 => Just(Reply::Network),
        1 => Just(Reply::Hang),
        1 => Just(Reply::BadRequest),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        5 => (1usize..40, proptest::bool::weighted(0.1)).prop_map(|(count, big)| Action::Track { count, big }),
        4 => prop_oneof![0u64..3_000, 0u64..120_000, 0u64..900_000].prop_map(Action::Advance),
        1 => Just(Action::Flush),
        1 => Just(Action::Hide),
        1 => Just(Action::Reload),
    ]
}

/// What the simulated collector did with one request, for the oracles.
#[derive(Clone, Debug)]
struct Served {
    /// Earliest next request the reply allows (server time), if it gave one.
    server_wait: Option<Millis>,
    /// The reply counts as a failure for backoff (429, 5xx, 408, network, no reply).
    failure: bool,
    success: bool,
}

struct Collector {
    script: Vec<Reply>,
    next: usize,
    stored: BTreeSet<String>,
    served: Vec<Served>,
}

impl Collector {
    fn serve(&mut self, t: &Transmit, now: Millis) -> Option<Outcome> {
        if let Err(e) = validate_batch(&t.body, &Limits::default(), &|_| true) {
            panic!(
                "request refused by the collector's validation: {e:?}\n{}",
                t.body
            );
        }
        let reply = self.script[self.next % self.script.len()].clone();
        self.next += 1;
        let ids = ids_of(t);
        let secs_from_now = |s: u64| Millis(now.0 + 50 + s * 1000);
        let (outcome, served) = match reply {
            Reply::Ok | Reply::OkRefusingFirst => {
                let refuse_first = matches!(reply, Reply::OkRefusingFirst);
                for (i, id) in ids.iter().enumerate() {
                    if !(refuse_first && i == 0) {
                        self.stored.insert(id.clone());
                    }
                }
                let body = if refuse_first {
                    format!(r#"{{"accepted":{},"errors":[{{"index":0,"event_id":"{}","message":"nope"}}]}}"#, ids.len() - 1, ids[0])
                } else {
                    format!(r#"{{"accepted":{},"duplicates":0}}"#, ids.len())
                };
                (Some(HttpResponse::status(200).with_body(&body)), Served { server_wait: None, failure: false, success: true })
            }
            Reply::TooLarge => (Some(HttpResponse::status(413)), Served { server_wait: None, failure: false, success: false }),
            Reply::InvalidFirst => (
                Some(HttpResponse::status(422).with_body(r#"{"detail":[{"loc":["body","events",0,"event_name"],"msg":"bad","type":"value_error"}]}"#)),
                Served { server_wait: None, failure: false, success: false },
            ),
            Reply::RateLimited => (Some(HttpResponse::status(429)), Served { server_wait: None, failure: true, success: false }),
            Reply::RateLimitedSecs(s) => (
                Some(HttpResponse::status(429).with_retry_after(RetryAfter::Seconds(s))),
                Served { server_wait: Some(secs_from_now(s)), failure: true, success: false },
            ),
            Reply::RateLimitedDate(s) => {
                // HTTP dates have whole seconds: the wait ends at the start of that second (the
                // shell's platform reads the date; the core gets its instant).
                let at = Millis((now.0 + 50) / 1000 * 1000 + s * 1000);
                (Some(HttpResponse::status(429).with_retry_after(RetryAfter::At(at))), Served { server_wait: Some(at), failure: true, success: false })
            }
            Reply::RateLimitedReset(s) => {
                let reset = (now.0 + 50) / 1000 + s;
                (
                    Some(HttpResponse::status(429).with_rate_limit(Some("0"), Some(&reset.to_string()))),
                    Served { server_wait: Some(Millis(reset * 1000)), failure: true, success: false },
                )
            }
            Reply::ServerError(code) => (Some(HttpResponse::status(code).with_body("oops")), Served { server_wait: None, failure: true, success: false }),
            Reply::Network => (None, Served { server_wait: None, failure: true, success: false }),
            Reply::Hang => {
                self.served.push(Served { server_wait: None, failure: true, success: false });
                return None;
            }
            Reply::BadRequest => (
                Some(HttpResponse::status(400).with_body(r#"{"detail":"site_id not found or inactive"}"#)),
                Served { server_wait: None, failure: false, success: false },
            ),
        };
        self.served.push(served);
        Some(match outcome {
            Some(r) => Outcome::Http(r),
            None => Outcome::NetworkError("connection refused".into()),
        })
    }
}

fn config() -> Config {
    Config::new("site_prop").unwrap()
}

fn run(actions: Vec<Action>, script: Vec<Reply>, seed: u64) -> Result<(), TestCaseError> {
    let cfg = config();
    let rpm = cfg.max_requests_per_minute as usize;
    let mut sim = Sim::with_seed(cfg.clone(), seed);
    let mut collector = Collector {
        script,
        next: 0,
        stored: BTreeSet::new(),
        served: Vec::new(),
    };
    let mut accepted: Vec<String> = Vec::new();
    // Index into sim.sent where each page starts (pacing and backoff state are per page), and
    // when it started: the old page's unanswered requests end there, they never time out.
    let mut page_starts = vec![0usize];
    let mut page_loaded_at = vec![sim.now];
    let big = Value::Object(vec![("blob".into(), Value::String("z".repeat(9_000)))]);

    {
        let mut server = |t: &Transmit, now: Millis| collector.serve(t, now);
        for a in &actions {
            match a {
                Action::Track { count, big: is_big } => {
                    for i in 0..*count {
                        let mut input = EventInput::new(&format!("e{}", accepted.len() + i));
                        if *is_big {
                            input = input.with_properties(big.clone());
                        }
                        accepted.push(sim.track_input(input));
                    }
                }
                Action::Advance(ms_) => sim.run_for(ms(*ms_), &mut server),
                Action::Flush => {
                    sim.p.flush(sim.now);
                }
                Action::Hide => {
                    let budget = (64 * 1024usize).saturating_sub(sim.p.in_flight_bytes());
                    sim.hide(budget, &mut server);
                }
                Action::Reload => {
                    sim.reload();
                    page_starts.push(sim.sent.len());
                    page_loaded_at.push(sim.now);
                }
            }
            sim.run_for(ms(0), &mut server);
        }
    }
    // Heal: the collector recovers; a new page (a stop lasts one page) sends the rest.
    collector.script = vec![Reply::Ok];
    collector.next = 0;
    {
        let mut server = |t: &Transmit, now: Millis| collector.serve(t, now);
        sim.run_for(secs(20), &mut server);
        sim.reload();
        page_starts.push(sim.sent.len());
        page_loaded_at.push(sim.now);
        for _ in 0..40 {
            if sim.p.queued() == 0 {
                break;
            }
            sim.run_for(secs(600), &mut server);
        }
    }
    prop_assert_eq!(sim.p.queued(), 0, "queue drained after healing");

    // 1. Exactly once.
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &sim.reports {
        match r {
            Report::Delivered { event_ids } => {
                for id in event_ids {
                    *outcomes.entry(id.as_str()).or_default() += 1;
                    prop_assert!(
                        collector.stored.contains(id),
                        "reported delivered but not stored: {}",
                        id
                    );
                }
            }
            Report::Dropped { event_id, .. } => {
                *outcomes.entry(event_id.as_str()).or_default() += 1
            }
            Report::Error { .. } => {}
        }
    }
    for id in &accepted {
        prop_assert_eq!(
            outcomes.get(id.as_str()).copied(),
            Some(1),
            "event {} outcomes",
            id
        );
    }
    prop_assert_eq!(outcomes.len(), accepted.len(), "reports for unknown events");

    // 2. Deadlines: replay replies and requests in time order.
    let backoff = Backoff::new(config().backoff_base, config().backoff_cap);
    let mut failures = 0u32;
    let mut not_before = Millis::ZERO;
    // (time, kind): kind 0 = reply/timeout (index), 1 = send (index).
    let mut timeline: Vec<(Millis, u8, usize)> = Vec::new();
    for (i, s) in sim.sent.iter().enumerate() {
        timeline.push((s.at, 1, i));
        let ended = s.replied_at.or_else(|| {
            // No reply: a timeout at the deadline, unless the page went away first (a reload
            // before the deadline: the request's page, and its timer, are gone).
            let next_page = page_starts.iter().position(|p| *p > i);
            match next_page.map(|n| page_loaded_at[n]) {
                Some(reload_at) if reload_at < s.transmit.deadline => None,
                _ => Some(s.transmit.deadline),
            }
        });
        if let Some(at) = ended {
            timeline.push((at, 0, i));
        }
    }
    timeline.sort();
    for (at, kind, i) in timeline {
        if kind == 1 && page_starts.contains(&i) {
            failures = 0; // the first request of a page: backoff counting is per page (the
                          // pause deadline itself is stored and carries over)
        }
        if kind == 1 {
            prop_assert!(
                at >= not_before,
                "request {} sent at {:?} before the allowed {:?}",
                i,
                at,
                not_before
            );
            continue;
        }
        let served = &collector.served[i];
        if served.success {
            failures = 0;
        }
        if served.failure {
            failures += 1;
            let min_delay = backoff.nominal(failures) / 2;
            let by_backoff = at.add(min_delay);
            let allowed = match served.server_wait {
                Some(t) if t > at => t,
                _ => by_backoff,
            };
            not_before = not_before.max(allowed);
        } else if let Some(t) = served.server_wait {
            not_before = not_before.max(t);
        }
    }

    // 3. Pacing and one in flight, per page.
    let mut bounds = page_starts.clone();
    bounds.push(sim.sent.len());
    for w in bounds.windows(2) {
        let paced: Vec<&Sent> = sim.sent[w[0]..w[1]]
            .iter()
            .filter(|s| !s.transmit.unload)
            .collect();
        for (i, s) in paced.iter().enumerate() {
            let in_window = paced[..=i]
                .iter()
                .filter(|p| p.at.0 + 60_000 > s.at.0)
                .count();
            prop_assert!(
                in_window <= rpm,
                "{} paced requests in the minute before {:?}",
                in_window,
                s.at
            );
            if i > 0 {
                let prev = paced[i - 1];
                let prev_end = prev
                    .replied_at
                    .unwrap_or(prev.transmit.deadline)
                    .min(prev.transmit.deadline);
                prop_assert!(
                    s.at >= prev_end,
                    "two paced requests in flight at {:?}",
                    s.at
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn delivery_invariants_hold_for_any_page_and_any_collector(
        actions in proptest::collection::vec(action(), 1..40),
        script in proptest::collection::vec(reply(), 1..12),
        seed in any::<u64>(),
    ) {
        run(actions, script, seed)?;
    }
}

/// Found by the property test, a bug of its oracle: requests left unanswered by a page that
/// reloads before their deadline never time out (the page and its timer are gone), so they
/// add no backoff; the oracle took the next page's first request for the reload.
#[test]
fn unanswered_requests_of_a_page_that_reloads_add_no_backoff() {
    run(
        vec![
            Action::Track {
                count: 27,
                big: false,
            },
            Action::Advance(116_420),
            Action::Track {
                count: 15,
                big: false,
            },
            Action::Hide,
            Action::Advance(50),
            Action::Reload,
        ],
        vec![
            Reply::Hang,
            Reply::RateLimitedSecs(28),
            Reply::TooLarge,
            Reply::TooLarge,
            Reply::Hang,
            Reply::Ok,
        ],
        1058044399413406476,
    )
    .unwrap();
}
