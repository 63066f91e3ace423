//! A simulated page and collector for host tests: a fake clock that jumps to the pipeline's
//! `poll_timeout`, a scripted server that answers each request, and a storage map.
//!
//! The harness also checks the pipeline's timer contract on every step: when the clock reaches
//! `poll_timeout()`, handling it must change something (no busy loop).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use scantrack_core::entropy::SeededEntropy;
use scantrack_core::pipeline::{Report, Startup, StorageOp, Transmit};
use scantrack_core::queue::TransmitId;
use scantrack_core::response::{HttpResponse, Outcome};
use scantrack_core::{Config, Millis, Pipeline};

pub use scantrack_core::event::EventInput;

/// A request as the simulated network saw it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: Millis,
    pub transmit: Transmit,
    /// When its reply arrived (None: never, it timed out or the page went away).
    pub replied_at: Option<Millis>,
    pub outcome: Option<Outcome>,
}

/// Decides the outcome of one request: `None` means no reply ever (the request hangs).
pub type Server<'a> = dyn FnMut(&Transmit, Millis) -> Option<Outcome> + 'a;

pub struct Sim {
    pub config: Config,
    pub p: Pipeline,
    pub now: Millis,
    pub seed: u64,
    pub sent: Vec<Sent>,
    pub reports: Vec<Report>,
    pub storage: BTreeMap<String, String>,
    /// Reply arrival, request, outcome.
    pending: Vec<(Millis, TransmitId, usize, Outcome)>,
    pub latency: Duration,
    pub page_url: Option<String>,
}

pub const T0: Millis = Millis(1_795_428_000_000); // 2026-11-23T10:00:00Z

impl Sim {
    pub fn new(config: Config) -> Sim {
        Sim::with_seed(config, 42)
    }

    pub fn with_seed(config: Config, seed: u64) -> Sim {
        let p = Pipeline::new(
            config.clone(),
            Box::new(SeededEntropy::new(seed)),
            str::to_lowercase,
            Startup::default(),
            T0,
        );
        Sim {
            config,
            p,
            now: T0,
            seed,
            sent: Vec::new(),
            reports: Vec::new(),
            storage: BTreeMap::new(),
            pending: Vec::new(),
            latency: Duration::from_millis(50),
            page_url: None,
        }
    }

    pub fn track(&mut self, name: &str) -> String {
        self.p
            .track(EventInput::new(name), self.now)
            .expect("track accepted")
    }

    pub fn track_input(&mut self, input: EventInput) -> String {
        self.p.track(input, self.now).expect("track accepted")
    }

    fn apply_storage(&mut self, ops: Vec<StorageOp>) {
        for op in ops {
            match op.value {
                Some(v) => self.storage.insert(op.key, v),
                None => self.storage.remove(&op.key),
            };
        }
    }

    fn collect(&mut self) {
        let storage = self.storage.clone();
        let ops = self.p.poll_storage(self.now, &|k| storage.get(k).cloned());
        self.apply_storage(ops);
        while let Some(r) = self.p.poll_report() {
            self.reports.push(r);
        }
    }

    /// Sends everything the pipeline wants to send now.
    fn pump(&mut self, server: &mut Server<'_>) {
        let sends_key = format!("scantrack:{}:sends", self.config.site_id());
        let site_sends = self.storage.get(&sends_key).cloned();
        self.p.observe_site_sends(site_sends.as_deref());
        while let Some(t) = self.p.poll_transmit(self.now) {
            self.send(t, server);
        }
        self.collect();
    }

    fn send(&mut self, t: Transmit, server: &mut Server<'_>) {
        let outcome = server(&t, self.now);
        let index = self.sent.len();
        if let Some(o) = outcome {
            self.pending
                .push((self.now.add(self.latency), t.id, index, o));
        }
        self.sent.push(Sent {
            at: self.now,
            transmit: t,
            replied_at: None,
            outcome: None,
        });
    }

    /// Runs the page until `until`, jumping from one deadline to the next.
    pub fn run_until(&mut self, until: Millis, server: &mut Server<'_>) {
        let mut spins = 0;
        loop {
            self.pump(server);
            let next_reply = self.pending.iter().map(|p| p.0).min();
            let next = [self.p.poll_timeout(), next_reply]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|n| *n <= until) else {
                self.now = self.now.max(until);
                self.deliver_replies();
                self.p.handle_timeout(self.now);
                self.pump(server);
                return;
            };
            if next <= self.now {
                spins += 1;
                assert!(
                    spins < 5,
                    "poll_timeout() = {next:?} is due at {:?} but handling it changes nothing",
                    self.now
                );
            } else {
                spins = 0;
            }
            self.now = self.now.max(next);
            self.deliver_replies();
            self.p.handle_timeout(self.now);
        }
    }

    pub fn run_for(&mut self, d: Duration, server: &mut Server<'_>) {
        let until = self.now.add(d);
        self.run_until(until, server);
    }

    fn deliver_replies(&mut self) {
        let now = self.now;
        let mut due: Vec<_> = Vec::new();
        self.pending.retain(|p| {
            if p.0 <= now {
                due.push(p.clone());
                false
            } else {
                true
            }
        });
        due.sort_by_key(|p| (p.0, p.2));
        for (at, id, index, outcome) in due {
            self.sent[index].replied_at = Some(at);
            self.sent[index].outcome = Some(outcome.clone());
            self.p.handle_response(id, outcome, now);
        }
        self.collect();
    }

    /// `visibilitychange` to hidden: storage written now, queued events drained in keepalive
    /// chunks that the server answers like any other request.
    pub fn hide(&mut self, budget: usize, server: &mut Server<'_>) -> usize {
        let storage = self.storage.clone();
        let ops = self.p.flush_storage(&|k| storage.get(k).cloned());
        self.apply_storage(ops);
        let chunks = self.p.drain_for_unload(budget, self.now);
        let n = chunks.len();
        for t in chunks {
            self.send(t, server);
        }
        self.collect();
        n
    }

    /// A reload: `pagehide` writes storage synchronously, the page (and every reply it was
    /// waiting for) is gone, and a new page starts from what storage holds.
    pub fn reload(&mut self) {
        let storage = self.storage.clone();
        let ops = self.p.flush_storage(&|k| storage.get(k).cloned());
        self.apply_storage(ops);
        self.crash();
    }

    /// The page dies without `pagehide` (a crash): only what was already written survives.
    pub fn crash(&mut self) {
        self.collect();
        self.pending.clear();
        self.seed += 1;
        let site = self.config.site_id().to_string();
        let q = self
            .storage
            .get(&format!("scantrack:{site}:queue"))
            .cloned();
        let s = self
            .storage
            .get(&format!("scantrack:{site}:session"))
            .cloned();
        self.p = Pipeline::new(
            self.config.clone(),
            Box::new(SeededEntropy::new(self.seed)),
            str::to_lowercase,
            Startup {
                stored_queue: q.as_deref(),
                stored_session: s.as_deref(),
                page_url: self.page_url.as_deref(),
                consent: None,
            },
            self.now,
        );
        self.collect();
    }

    pub fn delivered_ids(&self) -> Vec<String> {
        self.reports
            .iter()
            .filter_map(|r| match r {
                Report::Delivered { event_ids } => Some(event_ids.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub fn dropped(&self) -> Vec<(String, String, String)> {
        self.reports
            .iter()
            .filter_map(|r| match r {
                Report::Dropped {
                    event_id,
                    reason,
                    message,
                    ..
                } => Some((
                    event_id.clone(),
                    reason.as_str().to_string(),
                    message.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<String> {
        self.reports
            .iter()
            .filter_map(|r| match r {
                Report::Error { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// Paced (not unload) requests.
    pub fn paced(&self) -> Vec<&Sent> {
        self.sent.iter().filter(|s| !s.transmit.unload).collect()
    }
}

/// The events (as JSON values) of a request body.
pub fn events_of(t: &Transmit) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&t.body).expect("body is JSON");
    v["events"].as_array().expect("events array").clone()
}

pub fn ids_of(t: &Transmit) -> Vec<String> {
    events_of(t)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect()
}

pub fn ok() -> Option<Outcome> {
    Some(Outcome::Http(
        HttpResponse::status(200).with_body(r#"{"accepted":1,"duplicates":0}"#),
    ))
}

pub fn status(code: u16) -> Option<Outcome> {
    Some(Outcome::Http(
        HttpResponse::status(code).with_body(r#"{"detail":"x"}"#),
    ))
}

/// A collector that accepts everything, remembering what it stored.
pub struct Store {
    pub ids: BTreeSet<String>,
    pub duplicates: usize,
}

impl Store {
    pub fn new() -> Self {
        Store {
            ids: BTreeSet::new(),
            duplicates: 0,
        }
    }
    pub fn accept(&mut self, t: &Transmit) -> Option<Outcome> {
        for id in ids_of(t) {
            if !self.ids.insert(id) {
                self.duplicates += 1;
            }
        }
        ok()
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}
