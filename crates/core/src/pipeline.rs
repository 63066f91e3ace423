//! The delivery pipeline: a state machine with no I/O that turns `track` calls and server
//! replies into requests to send, timers to arm, storage writes and reports (CONTRACT.md 3).
//!
//! Modelled on quinn-proto's `Connection`: the shell calls the `poll_*` methods after every
//! input, performs what they return, and keeps one timer armed at `poll_timeout()`.
//!
//! ```text
//! shell                                   Pipeline
//! track(event)  ───────────────────────►  queue (bounded), storage marked dirty
//! timer fires   ── handle_timeout(now) ►  in-flight requests past their deadline fail
//!               ◄─ poll_transmit(now) ──  a batch, when one is due and allowed
//! fetch ends    ── handle_response() ──►  delivered / dropped / retry later
//!               ◄─ poll_storage(now) ───  localStorage writes due (write-behind)
//!               ◄─ poll_report() ───────  delivered / dropped / error, for callbacks
//!               ◄─ poll_timeout() ──────  when to call back
//! page hidden   ── drain_for_unload() ─►  keepalive-sized chunks, plus flush_storage()
//! ```
//!
//! Invariants (checked by the property tests in `tests/properties.rs`):
//! - every accepted event ends exactly once, as `Report::Delivered` or `Report::Dropped`, or is
//!   still queued (and so stored);
//! - no request leaves before a `Retry-After`, `X-RateLimit-Reset` or backoff deadline;
//! - at most `max_requests_per_minute` paced requests in any 60 s, at most one in flight.
//!   Requests made while the page is hidden or unloading are exempt from pacing (the page may
//!   be gone in a moment) but not from a pause or a stop.

use crate::config::Config;
use crate::entropy::Entropy;
use crate::event::{self, Context, EventInput, TrackError};
use crate::json;
use crate::names::Names;
use crate::persist::{self, PersistError};
use crate::pii::{self, LowerCase};
use crate::queue::{Queue, QueuedEvent, TransmitId};
use crate::response::{classify, Outcome, Refusal, Verdict};
use crate::retry::{Backoff, Pacer};
use crate::session::{session_id_from_url, Session};
use crate::text::{concat, dec};
use crate::time::{format_rfc3339_millis, Millis};
use crate::uuid;

/// Consent state (CONTRACT.md 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// Events wait in memory only: not stored, not sent.
    Pending,
    Granted,
    /// Nothing is tracked; queued events are dropped and storage cleared.
    Denied,
}

impl Consent {
    /// `"pending" | "granted" | "denied"`.
    pub fn parse(s: &str) -> Option<Consent> {
        match s {
            "pending" => Some(Consent::Pending),
            "granted" => Some(Consent::Granted),
            "denied" => Some(Consent::Denied),
            _ => None,
        }
    }
}

/// A request for the shell to send: `POST {endpoint}/collect/batch` with `body` as
/// `text/plain;charset=UTF-8` (no CORS preflight, and the same body works with `sendBeacon`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub id: TransmitId,
    pub body: String,
    pub event_ids: Vec<String>,
    /// Made while the page is hidden or unloading: send with `keepalive` or `sendBeacon`.
    pub unload: bool,
    /// When the request counts as timed out if no reply came.
    pub deadline: Millis,
}

/// Why an accepted event was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The queue was full; it was the oldest.
    Evicted,
    /// A 422 named it.
    Invalid,
    /// A 413 refused it even alone.
    TooLarge,
    /// A 2xx listed it in `errors`.
    Refused,
    /// A 400/401/403 refused its request.
    Rejected,
    /// Consent was denied.
    ConsentDenied,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Evicted => "evicted",
            DropReason::Invalid => "invalid",
            DropReason::TooLarge => "too_large",
            DropReason::Refused => "refused",
            DropReason::Rejected => "rejected",
            DropReason::ConsentDenied => "consent_denied",
        }
    }
}

/// What an `error` report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A stored value was unreadable and discarded.
    Storage,
    /// The collector refused a request with 400/401/403; sending stopped for this page.
    Stopped,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Storage => "storage",
            ErrorKind::Stopped => "stopped",
        }
    }
}

/// An outcome for the page's callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    Delivered {
        event_ids: Vec<String>,
    },
    Dropped {
        event_id: String,
        event_name: String,
        reason: DropReason,
        message: String,
    },
    Error {
        kind: ErrorKind,
        message: String,
    },
}

/// A localStorage operation: write `value` under `key`, or remove `key` when `value` is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOp {
    pub key: String,
    pub value: Option<String>,
}

/// What the shell found when the page loaded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Startup<'a> {
    pub stored_queue: Option<&'a str>,
    pub stored_session: Option<&'a str>,
    /// `location.href`, for `scan_session_id` adoption.
    pub page_url: Option<&'a str>,
    /// Initial consent; `None` is granted.
    pub consent: Option<Consent>,
}

/// A `flush()` call: settled once every event queued before it is acknowledged, dropped, or
/// waiting for a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushTicket(u64);

#[derive(Clone, Debug)]
struct InFlight {
    id: TransmitId,
    events: Vec<String>,
    body_len: usize,
    deadline: Millis,
    unload: bool,
}

/// Late replies are matched against this many timed-out requests.
const EXPIRED_KEPT: usize = 16;
/// Ids of events this page acknowledged or dropped, kept so that merging with what another tab
/// stored never brings them back (only the ones resolved since the last write matter).
const RESOLVED_KEPT: usize = 4096;

pub struct Pipeline {
    config: Config,
    entropy: Box<dyn Entropy>,
    lower_case: LowerCase,
    /// The latest `now` seen: time never goes backwards inside the pipeline.
    now: Millis,
    queue: Queue,
    session: Session,
    consent: Consent,
    in_flight: Vec<InFlight>,
    /// Oldest first, at most `EXPIRED_KEPT`.
    expired: Vec<InFlight>,
    next_transmit: u64,
    backoff: Backoff,
    pacer: Pacer,
    /// No request before this (Retry-After, X-RateLimit-Reset, backoff).
    paused_until: Millis,
    /// Events per batch, halved by each 413 (the collector's limit, learned).
    cap_events: usize,
    /// Set by 400/401/403: why sending stopped for this page.
    stopped: Option<String>,
    /// Events with `seq` up to this are to be sent without waiting for the flush interval
    /// (also when they come back from a failed request: the caller asked for them now).
    flush_upto: u64,
    /// Reports not yet polled, oldest first, from `reports_head` on (polled slots are `None`
    /// until the list is drained and cleared): a queue in a `Vec`, because every `VecDeque`
    /// instantiation is wasm every visitor downloads; `expired` and `resolved` are `Vec`s for
    /// the same reason.
    reports: Vec<Option<Report>>,
    reports_head: usize,
    queue_dirty_since: Option<Millis>,
    session_dirty_since: Option<Millis>,
    clear_storage: bool,
    /// A ring of the last `RESOLVED_KEPT` ids (order does not matter: it is only searched);
    /// `resolved_next` is where the next one goes once it is full.
    resolved: Vec<String>,
    resolved_next: usize,
    /// This page sent since it last stored the site's send instants.
    sends_dirty: bool,
}

impl Pipeline {
    /// A pipeline for `config`, restoring what the page found in storage. `entropy` and
    /// `lower_case` are the platform's (random bytes; Unicode lower-casing for hashing
    /// addresses, `str::to_lowercase` on the host).
    pub fn new(
        config: Config,
        mut entropy: Box<dyn Entropy>,
        lower_case: LowerCase,
        startup: Startup<'_>,
        now: Millis,
    ) -> Pipeline {
        // Both stored values are read while `config` is still here to name the site (no copy
        // of the site id); their reports come first, session then queue.
        let site = config.site_id();
        let mut reports = Vec::new();
        // Names the key itself: "scantrack:site_demo:queue: stored value is corrupt (...)".
        let storage_error = |key: String, e: PersistError| {
            Some(Report::Error {
                kind: ErrorKind::Storage,
                message: concat(&[&key, ": ", &e.describe()]),
            })
        };
        let stored = match startup.stored_session {
            Some(t) => match persist::decode_session(t, site) {
                Ok(s) => Some(s),
                Err(e) => {
                    reports.push(storage_error(persist::session_key(site), e));
                    None
                }
            },
            None => None,
        };
        // A bad stored queue is overwritten with a good one (so is one with skipped events).
        let mut queue_dirty = false;
        let restored = match startup.stored_queue {
            Some(t) => match persist::decode_queue(t, site) {
                Ok(decoded) => {
                    if decoded.skipped > 0 {
                        reports.push(Some(Report::Error {
                            kind: ErrorKind::Storage,
                            message: concat(&[
                                &dec(decoded.skipped as u64),
                                " unreadable stored event(s) under ",
                                &persist::queue_key(site),
                                " were discarded",
                            ]),
                        }));
                        queue_dirty = true;
                    }
                    Some(decoded)
                }
                Err(e) => {
                    reports.push(storage_error(persist::queue_key(site), e));
                    queue_dirty = true;
                    None
                }
            },
            None => None,
        };
        // A visit that is over keeps its identity (it names the person, not the visit).
        let mut session = match stored {
            Some(s) if !s.expired(now, config.session_timeout) => s,
            s => Session {
                id: uuid::new_v4(&mut *entropy),
                last_activity: now,
                email_hash: s.and_then(|s| s.email_hash),
            },
        };
        if let Some(id) = startup.page_url.and_then(session_id_from_url) {
            session.id = id;
            session.last_activity = now;
        }
        let mut p = Pipeline {
            queue: Queue::new(config.max_queue_bytes),
            backoff: Backoff::new(config.backoff_base, config.backoff_cap),
            pacer: Pacer::new(config.max_requests_per_minute),
            cap_events: config.max_batch_events,
            config,
            entropy,
            lower_case,
            now,
            session,
            consent: Consent::Granted,
            in_flight: Vec::new(),
            expired: Vec::new(),
            next_transmit: 1,
            paused_until: Millis::ZERO,
            stopped: None,
            flush_upto: 0,
            reports,
            reports_head: 0,
            queue_dirty_since: if queue_dirty { Some(now) } else { None },
            session_dirty_since: Some(now),
            clear_storage: false,
            resolved: Vec::new(),
            resolved_next: 0,
            sends_dirty: false,
        };
        if let Some(decoded) = restored {
            for e in decoded.events {
                p.enqueue(e);
            }
            p.paused_until = decoded.paused_until;
        }
        if let Some(c) = startup.consent {
            p.set_consent(c, now);
        }
        p
    }

    fn clock(&mut self, now: Millis) -> Millis {
        self.now = self.now.max(now);
        self.now
    }

    fn mark_queue_dirty(&mut self) {
        self.queue_dirty_since.get_or_insert(self.now);
    }

    fn mark_session_dirty(&mut self) {
        self.session_dirty_since.get_or_insert(self.now);
    }

    /// Remembers that the event `id` left the queue for good (see `RESOLVED_KEPT`).
    fn resolve(&mut self, id: &str) {
        if self.resolved.len() < RESOLVED_KEPT {
            self.resolved.push(id.to_string());
        } else {
            self.resolved[self.resolved_next] = id.to_string();
            self.resolved_next = (self.resolved_next + 1) % RESOLVED_KEPT;
        }
    }

    fn enqueue(&mut self, e: Box<QueuedEvent>) {
        let max = self.config.max_queue_bytes;
        for e in &self.queue.push_boxed(e) {
            self.resolve(&e.id);
            let message = concat(&[
                "the queue is full (",
                &dec(max as u64),
                " bytes, maxQueueBytes); the oldest event was evicted",
            ]);
            self.report_dropped(e, DropReason::Evicted, message);
        }
        self.mark_queue_dirty();
    }

    // ---- inputs from the page ------------------------------------------------------------

    /// Accepts one event: validates it, scrubs raw emails, stamps it with the session and the
    /// identity, and queues it. Returns its `event_id`. No I/O happens here: storage follows
    /// within `persist_delay` (`poll_storage`) and sending when a batch is due (`poll_transmit`).
    pub fn track(&mut self, mut input: EventInput, now: Millis) -> Result<String, TrackError> {
        // `accept` borrows the input, which is dropped here whichever check refuses it (as in
        // `event::build`): one drop of it in the wasm, not one per early return.
        self.accept(&mut input, now)
    }

    fn accept(&mut self, input: &mut EventInput, now: Millis) -> Result<String, TrackError> {
        let now = self.clock(now);
        if self.consent == Consent::Denied {
            return Err(TrackError::ConsentDenied);
        }
        let given_id = input.event_id.take();
        if let Some(id) = &given_id {
            if !crate::uuid::is_canonical(id) || id.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(event::invalid(
                    "event_id",
                    crate::text::concat(&[
                        "must be a lower-case UUID like 0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10, not ",
                        crate::text::prefix_chars(id, 40),
                    ]),
                ));
            }
        }
        self.session
            .touch(now, self.config.session_timeout, &mut *self.entropy);
        self.mark_session_dirty();
        let event_id = match given_id {
            Some(id) => id,
            None => uuid::new_v4(&mut *self.entropy),
        };
        let built = event::write(
            input,
            &Context {
                event_id: &event_id,
                session_id: &self.session.id,
                timestamp: now,
                email_hash: self.session.email_hash.as_deref(),
                pii_policy: self.config.pii_policy,
                email_normalization: self.config.email_normalization,
                lower_case: self.lower_case,
            },
        )?;
        self.enqueue(QueuedEvent::new(
            event_id.clone(),
            built.name,
            built.json,
            now,
        ));
        Ok(event_id)
    }

    /// `identify({email})`: normalises and hashes the address; the raw address is not kept.
    pub fn identify_email(&mut self, email: &str, now: Millis) -> Result<(), TrackError> {
        let hash = pii::hash_email(email, self.config.email_normalization, self.lower_case)?;
        self.set_identity(hash, now)
    }

    /// `identify({email_hash})`: an already hashed address (64 hex characters).
    pub fn identify_hash(&mut self, hash: &str, now: Millis) -> Result<(), TrackError> {
        let hash = pii::parse_email_hash(hash)?;
        self.set_identity(hash, now)
    }

    fn set_identity(&mut self, hash: String, now: Millis) -> Result<(), TrackError> {
        let now = self.clock(now);
        if self.consent == Consent::Denied {
            return Err(TrackError::ConsentDenied);
        }
        self.session
            .touch(now, self.config.session_timeout, &mut *self.entropy);
        self.session.email_hash = Some(hash);
        self.mark_session_dirty();
        Ok(())
    }

    /// `reset()`: a new session and no identity. Queued events, backoff and pacing are kept.
    pub fn reset(&mut self, now: Millis) {
        let now = self.clock(now);
        self.session.reset(now, &mut *self.entropy);
        self.mark_session_dirty();
    }

    /// `consent(state)`. Denied drops every queued event (each reported) and clears storage;
    /// pending keeps new events in memory only; granted stores and sends them.
    pub fn set_consent(&mut self, consent: Consent, now: Millis) {
        let now = self.clock(now);
        let before = self.consent;
        self.consent = consent;
        match consent {
            Consent::Denied => {
                for e in &self.queue.clear() {
                    let message = "consent was denied; the event was discarded".into();
                    self.report_dropped(e, DropReason::ConsentDenied, message);
                }
                self.in_flight.clear();
                self.expired.clear();
                self.session.reset(now, &mut *self.entropy);
                self.queue_dirty_since = None;
                self.session_dirty_since = None;
                self.clear_storage = true;
            }
            Consent::Granted if before != Consent::Granted => {
                self.clear_storage = false;
                self.mark_queue_dirty();
                self.mark_session_dirty();
            }
            _ => {}
        }
    }

    pub fn consent(&self) -> Consent {
        self.consent
    }

    /// `flush()`: what is queued now is sent without waiting for the flush interval, within the
    /// backoff and pacing rules. The ticket tells when the flush is settled.
    pub fn flush(&mut self, now: Millis) -> FlushTicket {
        self.clock(now);
        self.flush_upto = self.queue.next_seq() - 1;
        FlushTicket(self.flush_upto)
    }

    /// True once every event queued before the `flush` is acknowledged, dropped, or idle while
    /// sending waits for a deadline (backoff, rate limit, pacing) or cannot happen (stopped,
    /// consent not granted).
    pub fn flush_settled(&self, ticket: FlushTicket, now: Millis) -> bool {
        let now = self.now.max(now);
        let mut covered = self.queue.iter().filter(|e| e.seq <= ticket.0);
        let blocked = self.consent != Consent::Granted
            || self.stopped.is_some()
            || self.paused_until > now
            || self.pacer.next_allowed() > now;
        covered.all(|e| e.in_flight.is_none() && blocked)
    }

    /// What the site's tabs stored about their recent sends (the value under
    /// `persist::sends_key`). Call before `poll_transmit`: all tabs of a site together stay
    /// under `SITE_MAX_REQUESTS_PER_MINUTE`.
    pub fn observe_site_sends(&mut self, stored: Option<&str>) {
        let sends = stored
            .and_then(|t| persist::decode_sends(t, self.config.site_id()).ok())
            .unwrap_or_default();
        self.pacer.others_sent(&sends, self.now);
    }

    // ---- sending -------------------------------------------------------------------------

    fn sending_allowed(&self, now: Millis) -> bool {
        self.consent == Consent::Granted && self.stopped.is_none() && self.paused_until <= now
    }

    /// True if a paced request may leave at `now`.
    fn paced_send_allowed(&self, now: Millis) -> bool {
        self.sending_allowed(now) && !self.paced_in_flight() && self.pacer.next_allowed() <= now
    }

    /// True if a paced request (one not made for unload) is in flight. A loop, not `any()`
    /// with a closure: less wasm.
    fn paced_in_flight(&self) -> bool {
        for f in &self.in_flight {
            if !f.unload {
                return true;
            }
        }
        false
    }

    /// True if the idle events make a batch that should leave now.
    fn batch_due(&self, now: Millis) -> bool {
        // One loop over the queue, the first idle event checked inside it (no `filter`
        // iterator: less wasm). The count and the bytes only grow: checked after each event.
        // `bytes` counts a comma before every event, so it starts one below the envelope.
        let (mut count, mut bytes) = (0, self.envelope_len() - 1);
        for e in self.queue.iter() {
            if e.in_flight.is_some() {
                continue;
            }
            if count == 0
                && (e.seq <= self.flush_upto
                    || e.enqueued_at.add(self.config.flush_interval) <= now)
            {
                return true;
            }
            count += 1;
            bytes += 1 + e.json.len();
            if count >= self.cap_events || bytes >= self.config.max_batch_bytes {
                return true;
            }
        }
        false
    }

    fn envelope_len(&self) -> usize {
        // {"site_id":"…","sent_at":"2026-11-23T10:00:02.123Z","events":[]}; site ids need no
        // escaping (A-Z a-z 0-9 _ -) and the timestamp is always 24 characters.
        r#"{"site_id":"","sent_at":"","events":[]}"#.len() + self.config.site_id().len() + 24
    }

    /// The next batch to send, if one is due and allowed at `now`. Call after every input and
    /// whenever the timer armed at `poll_timeout` fires, until it returns `None`.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<Transmit> {
        let now = self.clock(now);
        self.expire_in_flight(now);
        if !self.paced_send_allowed(now) || !self.batch_due(now) {
            return None;
        }
        let t = self.make_transmit(now, self.config.max_batch_bytes, false)?;
        self.pacer.record(now);
        self.sends_dirty = true;
        Some(t)
    }

    /// Packs idle events, oldest first, into one request of at most `cap_events` events and
    /// `byte_limit` bytes. A paced request always carries at least one event (a 413 decides
    /// whether it is too large); an unload request only carries what fits its budget.
    fn make_transmit(&mut self, now: Millis, byte_limit: usize, unload: bool) -> Option<Transmit> {
        // One walk that picks, marks and writes: the envelope does not depend on what is
        // picked, so its head is written first (a second walk matching ids is more wasm).
        let id = TransmitId(self.next_transmit);
        let mut body_len = self.envelope_len();
        let mut body = String::with_capacity(body_len);
        body.push_str("{\"site_id\":");
        json::write_str(&mut body, self.config.site_id());
        body.push_str(",\"sent_at\":\"");
        body.push_str(&format_rfc3339_millis(now));
        body.push_str("\",\"events\":[");
        let mut picked: Vec<String> = Vec::new();
        for e in self.queue.iter_mut() {
            if e.in_flight.is_some() {
                continue;
            }
            let extra = e.json.len() + usize::from(!picked.is_empty());
            let fits = body_len + extra <= byte_limit;
            if picked.len() >= self.cap_events || (!fits && (unload || !picked.is_empty())) {
                break;
            }
            body_len += extra;
            if !picked.is_empty() {
                body.push(',');
            }
            body.push_str(&e.json);
            e.in_flight = Some(id);
            picked.push(e.id.clone());
        }
        if picked.is_empty() {
            return None;
        }
        self.next_transmit += 1;
        body.push_str("]}");
        debug_assert_eq!(body.len(), body_len);
        let deadline = now.add(self.config.request_timeout);
        self.in_flight.push(InFlight {
            id,
            events: picked.clone(),
            body_len: body.len(),
            deadline,
            unload,
        });
        Some(Transmit {
            id,
            body,
            event_ids: picked,
            unload,
            deadline,
        })
    }

    /// The page is being hidden or unloaded: every idle event that fits `budget_bytes` (the
    /// keepalive budget left: 64 KiB minus what is already in flight with keepalive), in
    /// chunks of at most one batch each. Exempt from pacing, not from a pause or a stop: then
    /// nothing is returned and the events stay stored for the next page load.
    pub fn drain_for_unload(&mut self, budget_bytes: usize, now: Millis) -> Vec<Transmit> {
        let now = self.clock(now);
        self.expire_in_flight(now);
        let mut out = Vec::new();
        if !self.sending_allowed(now) {
            return out;
        }
        let mut left = budget_bytes;
        while let Some(t) = self.make_transmit(now, left.min(self.config.max_batch_bytes), true) {
            left -= t.body.len();
            self.pacer.record(now);
            self.sends_dirty = true;
            out.push(t);
        }
        out
    }

    // ---- replies and time ----------------------------------------------------------------

    /// Call when the timer armed at `poll_timeout` fires (then `poll_transmit`): requests past
    /// their deadline count as timed out.
    pub fn handle_timeout(&mut self, now: Millis) {
        let now = self.clock(now);
        self.expire_in_flight(now);
    }

    fn expire_in_flight(&mut self, now: Millis) {
        // By index, not `position()` with a closure: less wasm.
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].deadline > now {
                i += 1;
                continue;
            }
            let f = self.in_flight.remove(i);
            self.apply(&f, &Outcome::Timeout, now);
            if self.expired.len() == EXPIRED_KEPT {
                self.expired.remove(0);
            }
            self.expired.push(f);
        }
    }

    /// The reply (or failure) of request `id`. A reply to a request that already timed out is
    /// still honoured when it says the events arrived.
    pub fn handle_response(&mut self, id: TransmitId, outcome: Outcome, now: Millis) {
        let now = self.clock(now);
        self.expire_in_flight(now);
        if let Some(i) = self.in_flight.iter().position(|f| f.id == id) {
            let f = self.in_flight.remove(i);
            self.apply(&f, &outcome, now);
        } else if let Some(i) = self.expired.iter().position(|f| f.id == id) {
            let f = self.expired.remove(i);
            let classified = classify(&outcome, now);
            if let Verdict::Delivered { refused } = &classified.verdict {
                self.delivered(&f, refused);
            }
        }
    }

    fn drop_event(&mut self, id: &str, reason: DropReason, message: String) {
        if let Some(e) = self.queue.remove(id) {
            self.resolve(id);
            self.report_dropped(&e, reason, message);
            self.mark_queue_dirty();
        }
    }

    /// The one place a `Dropped` report is built (eviction, consent, the collector's verdicts).
    /// Takes the event by reference, its id and name copied: the lists the queue hands out are
    /// walked by reference, so no by-value iterator over them is in the wasm.
    fn report_dropped(&mut self, e: &QueuedEvent, reason: DropReason, message: String) {
        self.reports.push(Some(Report::Dropped {
            event_id: e.id.clone(),
            event_name: e.name.clone(),
            reason,
            message,
        }));
    }

    /// Drops each of `ids` with the same `reason` and `message` (one loop for the verdicts
    /// that drop a whole request).
    fn drop_all(&mut self, ids: &[String], reason: DropReason, message: &str) {
        for id in ids {
            self.drop_event(id, reason, message.to_string());
        }
    }

    fn delivered(&mut self, f: &InFlight, refused: &[Refusal]) {
        let mut done = Vec::new();
        for (i, id) in f.events.iter().enumerate() {
            let refusal = refused.iter().find(|r| match &r.event_id {
                Some(rid) => rid == id,
                None => r.index == Some(i),
            });
            match refusal {
                Some(r) => self.drop_event(
                    id,
                    DropReason::Refused,
                    concat(&["the collector refused this event: ", &r.message]),
                ),
                None => {
                    if self.queue.remove(id).is_some() {
                        self.resolve(id);
                        done.push(id.clone());
                    }
                }
            }
        }
        if !done.is_empty() {
            self.mark_queue_dirty();
            self.reports
                .push(Some(Report::Delivered { event_ids: done }));
        }
    }

    /// No request before `t`; stored with the queue so that a reload waits too.
    fn pause_until(&mut self, t: Millis) {
        if t > self.paused_until {
            self.paused_until = t;
            self.mark_queue_dirty();
        }
    }

    fn apply(&mut self, f: &InFlight, outcome: &Outcome, now: Millis) {
        // The request is over: its events are no longer in flight, whatever the verdict does
        // with them next (one release here, not one per verdict that keeps them).
        self.queue.release(&f.events);
        let classified = classify(outcome, now);
        let server_wait = classified.server_wait_until.filter(|t| *t > now);
        if let Some(t) = server_wait {
            self.pause_until(t);
        }
        match classified.verdict {
            Verdict::Delivered { refused } => {
                self.backoff.reset();
                self.delivered(f, &refused);
            }
            // The server said when: exactly then (the failure still counts, so a later 429
            // without a time waits longer). It did not: our own backoff.
            Verdict::RateLimited if server_wait.is_some() => {
                self.backoff.next_delay(&mut *self.entropy);
            }
            Verdict::RateLimited | Verdict::Retry => {
                let delay = self.backoff.next_delay(&mut *self.entropy);
                self.pause_until(now.add(delay));
            }
            Verdict::Split if f.events.len() <= 1 => self.drop_all(
                &f.events,
                DropReason::TooLarge,
                "the collector refused this event as too large (413) even alone",
            ),
            Verdict::Split => {
                // Halve the batch: the next request carries the first half of these events
                // (they are the oldest idle ones), the one after it the second half. The
                // halved limit stays: this collector's limit is now known. Halving the count
                // also halves the bytes, so a body-size limit is found the same way.
                self.cap_events = self.cap_events.min(f.events.len().div_ceil(2));
            }
            Verdict::Invalid { refused, detail } => {
                // The refusals that name an event of this request are dropped in one walk (no
                // list of them: one `Vec` instantiation less in the wasm); if none did, the
                // whole request goes.
                let mut named = false;
                for r in &refused {
                    if let Some(id) = r.index.and_then(|i| f.events.get(i)) {
                        named = true;
                        self.drop_event(id, DropReason::Invalid, r.message.clone());
                    }
                }
                if !named {
                    let message = concat(&[
                        "the collector refused the batch (422) without naming an event: ",
                        &detail,
                    ]);
                    self.drop_all(&f.events, DropReason::Invalid, &message);
                }
            }
            Verdict::Fatal { status, detail } => {
                let message = concat(&["HTTP ", &dec(u64::from(status)), ": ", &detail]);
                self.drop_all(&f.events, DropReason::Rejected, &message);
                if self.stopped.is_none() {
                    self.reports.push(Some(Report::Error {
                        kind: ErrorKind::Stopped,
                        message: concat(&[
                            "the collector refused a request (",
                            &message,
                            "); sending is stopped for this page, queued events stay stored",
                        ]),
                    }));
                }
                self.stopped = Some(detail);
            }
            Verdict::Unconfirmed => {}
        }
    }

    /// The earliest instant at which the pipeline has something to do without new input
    /// (a batch becomes due or allowed, a request times out, a storage write is due). Arm one
    /// timer for it; when it fires call `handle_timeout`, `poll_transmit`, `poll_storage`.
    pub fn poll_timeout(&self) -> Option<Millis> {
        // The earliest of the candidates, `NEVER` standing for none: plain `min`s, no
        // `Option` or iterator adapter per candidate. A candidate at `u64::MAX` (a pause
        // "until the end of time" from an absurd Retry-After) counts as none: no timer for it.
        const NEVER: Millis = Millis(u64::MAX);
        let mut next = NEVER;
        for f in &self.in_flight {
            next = next.min(f.deadline);
        }
        if self.clear_storage || (self.sends_dirty && self.consent == Consent::Granted) {
            next = next.min(self.now);
        }
        if self.consent == Consent::Granted {
            // Each dirty mark on its own (the deadline is monotone in it): no tuple match.
            if let Some(since) = self.queue_dirty_since {
                next = next.min(since.add(self.config.persist_delay));
            }
            if let Some(since) = self.session_dirty_since {
                next = next.min(since.add(self.config.persist_delay));
            }
            // The next paced request: after the oldest idle event's batch is due.
            if self.stopped.is_none() && !self.paced_in_flight() {
                for first in self.queue.iter() {
                    if first.in_flight.is_some() {
                        continue;
                    }
                    let ready = if self.batch_due(first.enqueued_at) {
                        first.enqueued_at
                    } else {
                        first.enqueued_at.add(self.config.flush_interval)
                    };
                    next = next.min(ready.max(self.paused_until).max(self.pacer.next_allowed()));
                    break;
                }
            }
        }
        (next != NEVER).then_some(next)
    }

    /// The next outcome to report to the page's callbacks.
    pub fn poll_report(&mut self) -> Option<Report> {
        let r = self.reports.get_mut(self.reports_head)?.take();
        self.reports_head += 1;
        if self.reports_head == self.reports.len() {
            self.reports.clear();
            self.reports_head = 0;
        }
        r
    }

    // ---- storage -------------------------------------------------------------------------

    /// Storage writes due at `now` (write-behind: a change is written `persist_delay` after it
    /// happened, so that `track` itself never touches storage). `stored` reads the current
    /// value of a key: other tabs of the site share it, and the queue written is this page's
    /// events merged with the ones another tab stored (never one tab's write erasing another
    /// tab's events), with the later of the two pause deadlines.
    pub fn poll_storage(
        &mut self,
        now: Millis,
        stored: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<StorageOp> {
        let now = self.clock(now);
        self.storage_ops(Some(now), stored)
    }

    /// Every pending storage write, now: the page is being hidden or unloaded.
    pub fn flush_storage(&mut self, stored: &dyn Fn(&str) -> Option<String>) -> Vec<StorageOp> {
        self.storage_ops(None, stored)
    }

    fn storage_ops(
        &mut self,
        now: Option<Millis>,
        stored: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<StorageOp> {
        let mut ops = Vec::new();
        if self.clear_storage {
            self.clear_storage = false;
            ops.push(StorageOp {
                key: persist::queue_key(self.config.site_id()),
                value: None,
            });
            ops.push(StorageOp {
                key: persist::session_key(self.config.site_id()),
                value: None,
            });
            ops.push(StorageOp {
                key: persist::sends_key(self.config.site_id()),
                value: None,
            });
        }
        if self.consent != Consent::Granted {
            return ops;
        }
        let delay = self.config.persist_delay;
        let due =
            |since: Option<Millis>| since.is_some_and(|s| now.is_none_or(|n| s.add(delay) <= n));
        if due(self.queue_dirty_since) {
            self.queue_dirty_since = None;
            let key = persist::queue_key(self.config.site_id());
            let value = self.merged_queue(stored(&key).as_deref());
            ops.push(StorageOp {
                key,
                value: Some(value),
            });
        }
        if std::mem::take(&mut self.sends_dirty) {
            // At once, not write-behind: the other tabs pace by it.
            let sends = self.pacer.site_sends(self.now);
            ops.push(StorageOp {
                key: persist::sends_key(self.config.site_id()),
                value: Some(persist::encode_sends(self.config.site_id(), &sends)),
            });
        }
        if due(self.session_dirty_since) {
            self.session_dirty_since = None;
            ops.push(StorageOp {
                key: persist::session_key(self.config.site_id()),
                value: Some(persist::encode_session(
                    self.config.site_id(),
                    &self.session,
                )),
            });
        }
        ops
    }

    /// This page's queue merged with `stored` (what another tab may have written since):
    /// stored events this page neither holds nor resolved are kept, oldest first.
    fn merged_queue(&mut self, stored: Option<&str>) -> String {
        let foreign = match stored.map(|t| persist::decode_queue(t, self.config.site_id())) {
            Some(Ok(d)) => {
                // Another tab was told to wait: so is this one (all tabs of a site share
                // the collector's limit).
                if d.paused_until > self.paused_until && d.paused_until > self.now {
                    self.paused_until = d.paused_until;
                }
                d.events
            }
            _ => Vec::new(),
        };
        // Loops, not chain/map/collect or `retain`: fewer instantiations in the wasm.
        // References to one event type: the list is pointers, sorted and encoded without a
        // tuple type. This page's ids are only collected when there is something to compare.
        let mut events: Vec<&QueuedEvent> = Vec::with_capacity(self.queue.len() + foreign.len());
        let mut own = Names::with_capacity(if foreign.is_empty() {
            0
        } else {
            self.queue.len()
        });
        for e in self.queue.iter() {
            if !foreign.is_empty() {
                own.insert(e.id.clone(), 0);
            }
            events.push(e);
        }
        for e in &foreign {
            if own.get(&e.id).is_none() && !self.resolved.contains(&e.id) {
                events.push(e);
            }
        }
        sort_by_time(&mut events);
        let pause = if self.paused_until > self.now {
            self.paused_until
        } else {
            Millis::ZERO
        };
        persist::encode_queue(self.config.site_id(), pause, &events)
    }

    // ---- state, for the shell and for tests ----------------------------------------------

    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn session_id(&self) -> &str {
        &self.session.id
    }
    pub fn email_hash(&self) -> Option<&str> {
        self.session.email_hash.as_deref()
    }
    /// Events accepted and not yet acknowledged or dropped.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }
    /// Why sending stopped, after a 400/401/403.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }
    /// No request before this instant.
    pub fn paused_until(&self) -> Millis {
        self.paused_until
    }
    /// Bytes of requests in flight that were made with keepalive (unload requests, and paced
    /// ones: the shell sends those with keepalive too when they fit), for the unload budget.
    pub fn in_flight_bytes(&self) -> usize {
        self.in_flight.iter().map(|f| f.body_len).sum()
    }
}

/// Sorts `events` by their time (`enqueued_at`), stably: events of the same millisecond keep
/// their order. A bottom-up merge sort, hand-written because the standard library's sorts cost
/// some 8 KB of wasm for this one use; already sorted input (the usual case: this tab's queue,
/// then another tab's, each in acceptance order) is settled in one pass. Plain index loops and
/// `push`, no `windows` or `extend_from_slice`: each of those is more wasm for this one use.
fn sort_by_time(events: &mut Vec<&QueuedEvent>) {
    let n = events.len();
    if (1..n).all(|k| events[k - 1].enqueued_at <= events[k].enqueued_at) {
        return;
    }
    let mut merged = Vec::with_capacity(n);
    let mut width = 1;
    while width < n {
        merged.clear();
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j) = (lo, mid);
            while i < mid || j < hi {
                // The earlier run's event first unless the later run's is strictly older
                // (`<`, not `<=`: on a tie the earlier run's goes first, for stability).
                if i < mid && (j == hi || events[j].enqueued_at >= events[i].enqueued_at) {
                    merged.push(events[i]);
                    i += 1;
                } else {
                    merged.push(events[j]);
                    j += 1;
                }
            }
            lo = hi;
        }
        core::mem::swap(events, &mut merged);
        width *= 2;
    }
}

#[cfg(test)]
mod sort_tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn sort_by_time_is_the_standard_stable_sort() {
        let mut rng = SeededEntropy::new(11);
        for n in [0, 1, 2, 3, 7, 64, 100, 1000] {
            for spread in [1, 5, 1_000_000] {
                let queued: Vec<Box<QueuedEvent>> = (0..n)
                    .map(|i| {
                        let t = Millis(rng.next_u64() % spread);
                        QueuedEvent::new(format!("e{i}"), "e".into(), "{}".into(), t)
                    })
                    .collect();
                let mut events: Vec<&QueuedEvent> = queued.iter().map(|e| &**e).collect();
                let mut want = events.clone();
                want.sort_by_key(|e| e.enqueued_at);
                sort_by_time(&mut events);
                assert_eq!(events, want, "n {n}, spread {spread}");
            }
        }
    }
}
