//! The web shell: drives the core `Pipeline` with the browser's clock, randomness, timers,
//! network and storage (STYLE.md: the core decides, the shell acts), all reached through the
//! small host module `js/host.js` (see `host`).
//!
//! After every input (a call, a reply, a timer, a lifecycle event) the shell runs `drive`:
//! send what `poll_transmit` returns, write what `poll_storage` returns, hand reports to the
//! listeners, settle `flush()` waiters, and keep exactly one timer armed at `poll_timeout`.
//! Listeners run after the pipeline is released, so a listener that calls back into the
//! tracker is safe.
//!
//! The page's `track`/`page` calls from JavaScript are recorded by the host (their JSON text,
//! the time of the call and an event id drawn at the call) and taken into the pipeline here, in
//! order, at the start of whatever runs next: the zero-delay task the host arms for them, or
//! any other input. Their timestamp, URL and referrer are those of the call.
//!
//! What only Rust callers use (CONTRACT.md 6.3: `Tracker::start`, listeners, the `flush()`
//! future) is behind the default feature `rust-api`. The shipped wasm is started from
//! JavaScript only and is built without it: every visitor would download that code for
//! nothing, and without it no tracker is ever dropped (see `scantrack_wake`).

mod host;

#[cfg(feature = "host-api")]
pub use host::scantrack_host;

#[cfg(feature = "rust-api")]
use core::cell::Cell;
#[cfg(feature = "rust-api")]
use core::future::Future;
#[cfg(feature = "rust-api")]
use core::pin::Pin;
#[cfg(feature = "rust-api")]
use core::task::{Context, Poll, Waker};
use std::cell::RefCell;
use std::rc::Rc;

use scantrack_core::config::MAX_KEEPALIVE_BYTES;
use scantrack_core::entropy::Entropy;
use scantrack_core::event::{EventInput, TrackError};
use scantrack_core::json::{self, Value};
use scantrack_core::pipeline::{Consent, FlushTicket, Report, Startup, StorageOp, Transmit};
use scantrack_core::queue::TransmitId;
use scantrack_core::response::{HttpResponse, Outcome, RetryAfter};
use scantrack_core::text::{push_dec, split_once_ascii};
use scantrack_core::{persist, Millis, Pipeline};

use crate::command::{self, Command};
use crate::options::Options;

/// Something the page may want to know: a delivery outcome, an error, or a debug line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Report(Report),
    /// `kind`: `invalid_call`, `storage`, `stopped`.
    Error {
        kind: &'static str,
        message: String,
    },
    Debug(String),
}

#[cfg(feature = "rust-api")]
type Listener = Rc<dyn Fn(&Notice)>;

/// The Rust callers' listener, if any; nothing without the feature `rust-api` (JavaScript
/// callers get their notices from the host).
#[cfg(feature = "rust-api")]
type RustListener = Option<Listener>;
#[cfg(not(feature = "rust-api"))]
#[derive(Clone, Default)]
struct RustListener;

fn now() -> Millis {
    Millis(host::st_now() as u64)
}

/// Random bytes from the host (one `crypto.getRandomValues` per pool refill there).
struct HostEntropy;

impl Entropy for HostEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        host::st_random(buf.as_mut_ptr() as usize as u32, buf.len() as u32);
    }
}

/// Who waits for a `flush()`.
enum Waiter {
    /// A JavaScript promise, resolved by the host (its ticket).
    Js(u32),
    /// A Rust future (`Tracker::flush`).
    #[cfg(feature = "rust-api")]
    Rust(Rc<FlushState>),
}

#[cfg(feature = "rust-api")]
#[derive(Default)]
struct FlushState {
    done: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

/// The future `Tracker::flush` returns.
#[cfg(feature = "rust-api")]
pub struct Flush(Rc<FlushState>);

#[cfg(feature = "rust-api")]
impl Future for Flush {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.done.get() {
            Poll::Ready(())
        } else {
            self.0.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }
}

fn storage_notice(why: &str) -> Notice {
    let mut message = String::from("localStorage is not usable (");
    message.push_str(why);
    message.push_str("); events are kept in memory only on this page and may be lost if it closes");
    Notice::Error {
        kind: "storage",
        message,
    }
}

/// A call the tracker refused.
fn invalid_call(message: String) -> Notice {
    Notice::Error {
        kind: "invalid_call",
        message,
    }
}

struct Inner {
    pipeline: Pipeline,
    /// The host's id of this tracker.
    tid: u32,
    /// Where storage goes once localStorage failed: the last operation on each key (a handful
    /// of keys per site, so a list, not a map; the pipeline's own operation type, so no
    /// key-value pair type of its own in the wasm). `None`: localStorage.
    memory: Option<Vec<StorageOp>>,
    /// The instant the host's timer is armed for.
    timer: Option<Millis>,
    /// The Rust callers' listener (`on_notice` chains a new one after it): one optional
    /// pointer, not a `Vec`, because JavaScript callers never set one and every visitor would
    /// download a list's growth and drop code for nothing.
    listener: RustListener,
    /// Started from JavaScript: notices also go to the host as JSON.
    js: bool,
    notices: Vec<Notice>,
    flush_waiters: Vec<(FlushTicket, Waiter)>,
    debug: bool,
    auto_pageview: bool,
    /// Global Privacy Control is on and honoured: consent stays denied.
    gpc: bool,
    /// The page URL of the last `page_view`, to tell a navigation from a state update.
    last_page: String,
    /// `scantrack:<site>:sends`, read before every send (pacing across tabs).
    sends_key: String,
    /// `location.href` when the tracker started or last navigated: the referrer of the next
    /// SPA page view.
    referrer: String,
    /// `location.href` as of the last navigation the page told us about (start, pushState,
    /// replaceState, popstate, hashchange): the `url` of events. Read once per navigation,
    /// not once per event.
    href: String,
}

/// The value under `key`: in localStorage, or in `memory` once localStorage failed.
fn stored(memory: &Option<Vec<StorageOp>>, key: &str) -> Option<String> {
    match memory {
        None => host::st_get(key),
        Some(m) => m.iter().find(|op| op.key == key)?.value.clone(),
    }
}

impl Inner {
    /// Performs the storage writes due at `now`, or all of them (`None`: the page is being
    /// hidden).
    fn write_storage(&mut self, now: Option<Millis>) {
        let memory = &self.memory;
        let get = |k: &str| stored(memory, k);
        let ops = match now {
            Some(t) => self.pipeline.poll_storage(t, &get),
            None => self.pipeline.flush_storage(&get),
        };
        self.apply_storage(ops);
    }

    /// Performs the pipeline's storage operations; a storage failure switches to memory
    /// (keeping the value there) and becomes a notice.
    fn apply_storage(&mut self, ops: Vec<StorageOp>) {
        // By reference: copied into memory (rare) rather than moved out of the list, which
        // would bring a by-value iterator and its drop into the wasm.
        for op in &ops {
            if self.memory.is_none() {
                if let Some(why) = host::st_set(&op.key, op.value.as_deref()) {
                    self.memory = Some(Vec::new());
                    self.notices.push(storage_notice(&why));
                }
            }
            // The last operation on each key, one entry per key replaced in place (a search by
            // index, not `retain`: less wasm): a removal is kept as one with no value, which
            // reads as no value.
            if let Some(m) = &mut self.memory {
                let mut i = 0;
                while i < m.len() && m[i].key != op.key {
                    i += 1;
                }
                if i == m.len() {
                    m.push(StorageOp {
                        key: op.key.clone(),
                        value: None,
                    });
                }
                m[i].value = op.value.clone();
            }
        }
    }
}

/// The tracker: cheap to clone (all clones share one pipeline).
#[derive(Clone)]
pub struct Tracker {
    inner: Rc<RefCell<Inner>>,
}

impl Tracker {
    /// Starts tracking on this page with `options`: restores what storage holds, installs the
    /// lifecycle listeners, and tracks the first `page_view` unless `auto_pageview` is off.
    #[cfg(feature = "rust-api")]
    pub fn start(options: Options) -> Result<Tracker, String> {
        Tracker::start_with(options, None)
    }

    /// `start`, with a listener that sees every notice from the first one on.
    #[cfg(feature = "rust-api")]
    pub fn start_with(options: Options, listener: Option<Listener>) -> Result<Tracker, String> {
        host::st_bind(wasm_bindgen::exports());
        Ok(Tracker::open(options, listener, false))
    }

    /// Never fails: the options are checked, and storage that does not work is a notice.
    fn open(options: Options, listener: RustListener, js: bool) -> Tracker {
        const PROBE: &str = "scantrack:probe";
        let mut notices = Vec::new();
        // Matches, not `or_else(closure)` and an assignment over `None`: less wasm.
        let why = match host::st_set(PROBE, Some("1")) {
            None => host::st_set(PROBE, None),
            why => why,
        };
        let memory = match why {
            Some(why) => {
                notices.push(storage_notice(&why));
                Some(Vec::new())
            }
            None => None,
        };
        let Options {
            config,
            mut endpoint,
            auto_pageview,
            consent,
            debug,
            honor_global_privacy_control,
        } = options;
        endpoint.push_str("/collect/batch");
        // Whole milliseconds through f64 (exact for any whole-millisecond timeout), not
        // `as_millis`, whose u128 arithmetic cost some 90 bytes of brotli in the wasm.
        let timeout = (config.request_timeout.as_secs_f64() * 1000.0)
            .round_ties_even()
            .min(i32::MAX as f64);
        let href = host::st_page(0);
        let gpc = honor_global_privacy_control && host::st_page(3) == "1";
        if gpc {
            notices.push(Notice::Debug(
                "Global Privacy Control is on: nothing is tracked (honorGlobalPrivacyControl)"
                    .into(),
            ));
        }
        let site = config.site_id();
        let (queue, session) = if memory.is_none() {
            (
                host::st_get(&persist::queue_key(site)),
                host::st_get(&persist::session_key(site)),
            )
        } else {
            (None, None)
        };
        let sends_key = persist::sends_key(site);
        let pipeline = Pipeline::new(
            config,
            Box::new(HostEntropy),
            host::st_lower,
            Startup {
                stored_queue: queue.as_deref(),
                stored_session: session.as_deref(),
                page_url: Some(&href),
                consent: Some(if gpc { Consent::Denied } else { consent }),
            },
            now(),
        );
        let inner = Rc::new(RefCell::new(Inner {
            pipeline,
            tid: 0,
            memory,
            timer: None,
            listener,
            js,
            notices,
            flush_waiters: Vec::new(),
            debug,
            auto_pageview,
            gpc,
            last_page: String::new(),
            sends_key,
            referrer: host::st_page(1),
            href,
        }));
        // Registered with the host once built (nothing before needs its id): its handle is a
        // weak reference that is never released (see `scantrack_wake`). `Rc::new_cyclic`, to
        // register from inside the construction, cost some 200 bytes of brotli more.
        let handle = std::rc::Weak::into_raw(Rc::downgrade(&inner)) as usize as u32;
        inner.borrow_mut().tid = host::st_open(handle, &endpoint, timeout);
        let tracker = Tracker { inner };
        if auto_pageview {
            let _ = tracker.track_at(tracker.page_view(None), now());
        }
        tracker.drive();
        tracker
    }

    /// Adds a listener for every notice (delivered, dropped, error, debug).
    #[cfg(feature = "rust-api")]
    pub fn on_notice(&self, listener: impl Fn(&Notice) + 'static) {
        let mut s = self.inner.borrow_mut();
        let before = s.listener.take();
        s.listener = Some(Rc::new(move |n: &Notice| {
            if let Some(l) = &before {
                l(n);
            }
            listener(n);
        }));
    }

    /// Reports a refused call (not generic over the call's result: one copy in the wasm).
    fn refused(&self, e: &TrackError) {
        {
            let mut s = self.inner.borrow_mut();
            match e {
                TrackError::ConsentDenied if !s.debug => {}
                TrackError::ConsentDenied => s.notices.push(Notice::Debug(e.message())),
                _ => s.notices.push(invalid_call(e.message())),
            }
        }
        self.drive();
    }

    /// Tracks one event; `url` and `referrer` default to the page's. Returns its `event_id`.
    /// Nothing is written or sent in the call: storage follows within `persistDelayMs`,
    /// sending when a batch is due (from a timer task, so a burst of calls stays cheap).
    #[cfg(feature = "rust-api")]
    pub fn track(&self, input: EventInput) -> Result<String, TrackError> {
        self.take_calls(usize::MAX);
        self.track_at(input, now())
    }

    fn track_at(&self, mut input: EventInput, at: Millis) -> Result<String, TrackError> {
        let result = {
            let mut s = self.inner.borrow_mut();
            if input.url.is_none() {
                input.url = Some(s.href.clone());
            }
            if input.referrer.is_none() && !s.referrer.is_empty() {
                input.referrer = Some(s.referrer.clone());
            }
            s.pipeline.track(input, at)
        };
        match result {
            Ok(id) => {
                // No send and no storage write inside the call: the timer (at once, if a
                // batch is now full) does them in a task of its own.
                self.rearm();
                Ok(id)
            }
            Err(e) => {
                self.refused(&e);
                Err(e)
            }
        }
    }

    /// A `page_view` with the page's title in `properties.title` (unless given). Properties
    /// that are not an object are refused, as by `track`.
    #[cfg(feature = "rust-api")]
    pub fn page(&self, properties: Option<Value>) -> Result<String, TrackError> {
        self.take_calls(usize::MAX);
        self.track_at(self.page_view(properties), now())
    }

    /// The `page_view` of the page as it is now (its URL noted as the last page viewed).
    fn page_view(&self, properties: Option<Value>) -> EventInput {
        // Properties that are not an object go to the core as given, which refuses them.
        let mut properties = match properties {
            None | Some(Value::Null) => Value::Object(Vec::new()),
            Some(p) => p,
        };
        // `get` rather than a search of its own: one copy in the wasm.
        if properties.get("title").is_none() {
            if let Value::Object(members) = &mut properties {
                members.push(("title".into(), Value::String(host::st_page(2))));
            }
        }
        let href = host::st_page(0);
        {
            let mut s = self.inner.borrow_mut();
            s.last_page = without_hash(&href).to_string();
            s.href = href;
        }
        // Field by field, not `EventInput::new(..).with_properties(..)`: `new` builds a whole
        // default input whose properties are then dropped.
        EventInput {
            name: "page_view".into(),
            properties: Some(properties),
            conversion: None,
            url: None,
            referrer: None,
            event_id: None,
        }
    }

    /// `identify({email})`: the address is normalised and hashed here; it is never stored or
    /// sent. The hash goes with every later event until `reset`.
    #[cfg(feature = "rust-api")]
    pub fn identify_email(&self, email: &str) -> Result<(), TrackError> {
        self.take_calls(usize::MAX);
        self.identify(Ok(email), now())
    }

    /// `identify({email_hash})`: an already hashed address (64 hex characters).
    #[cfg(feature = "rust-api")]
    pub fn identify_hash(&self, hash: &str) -> Result<(), TrackError> {
        self.take_calls(usize::MAX);
        self.identify(Err(hash), now())
    }

    /// `Ok(email)` or `Err(hash)`.
    fn identify(&self, id: Result<&str, &str>, at: Millis) -> Result<(), TrackError> {
        let r = {
            let p = &mut self.inner.borrow_mut().pipeline;
            match id {
                Ok(email) => p.identify_email(email, at),
                Err(hash) => p.identify_hash(hash, at),
            }
        };
        match &r {
            Ok(()) => self.drive(),
            Err(e) => self.refused(e),
        }
        r
    }

    /// Sends what is queued now (within backoff and pacing). The future completes once every
    /// event queued before the call is acknowledged, dropped, or waiting for a backoff or
    /// rate-limit deadline.
    #[cfg(feature = "rust-api")]
    pub fn flush(&self) -> Flush {
        self.take_calls(usize::MAX);
        let state = Rc::new(FlushState::default());
        self.flush_for(Waiter::Rust(state.clone()), now());
        Flush(state)
    }

    fn flush_for(&self, waiter: Waiter, at: Millis) {
        {
            let mut s = self.inner.borrow_mut();
            let ticket = s.pipeline.flush(at);
            s.flush_waiters.push((ticket, waiter));
        }
        self.drive();
    }

    /// `consent(state)`. With Global Privacy Control honoured, consent stays denied.
    #[cfg(feature = "rust-api")]
    pub fn set_consent(&self, consent: Consent) {
        self.take_calls(usize::MAX);
        self.consent_at(consent, now());
    }

    fn consent_at(&self, consent: Consent, at: Millis) {
        {
            let mut s = self.inner.borrow_mut();
            if s.gpc && consent != Consent::Denied {
                s.notices.push(invalid_call("consent stays denied: Global Privacy Control is on (set honorGlobalPrivacyControl: false to decide otherwise)".into()));
            } else {
                s.pipeline.set_consent(consent, at);
            }
        }
        self.drive();
    }

    /// `reset()`: a new session and no identity.
    #[cfg(feature = "rust-api")]
    pub fn reset(&self) {
        self.take_calls(usize::MAX);
        self.inner.borrow_mut().pipeline.reset(now());
        self.drive();
    }

    /// `debug(on)`: debug notices on or off.
    pub fn set_debug(&self, on: bool) {
        self.inner.borrow_mut().debug = on;
    }

    #[cfg(feature = "rust-api")]
    pub fn session_id(&self) -> String {
        self.inner.borrow().pipeline.session_id().to_string()
    }

    // ---- the page's calls from JavaScript --------------------------------------------------

    /// Runs up to `limit` of the calls the host queued, in order; true if more remain.
    fn take_calls(&self, limit: usize) -> bool {
        let tid = self.inner.borrow().tid;
        for _ in 0..limit {
            match host::st_take(tid) {
                Some(call) => self.run_call(&call),
                None => return false,
            }
        }
        true
    }

    /// One queued call: `<ms> <event id or flush ticket> <JSON arguments>`.
    fn run_call(&self, call: &str) {
        let mut rest = call;
        let at = Millis(json::digits_u64(cut(&mut rest, b' ')).unwrap_or(0));
        let extra = cut(&mut rest, b' ');
        let command = match command::parse(rest) {
            Ok(c) => c,
            Err(message) => {
                self.inner.borrow_mut().notices.push(invalid_call(message));
                return self.drive();
            }
        };
        // A refusal is already reported (`refused`): the results are not needed here.
        let mut input = match command {
            Command::Track(input) => input,
            Command::Page(props) => self.page_view(props),
            Command::Identify(id) => {
                let _ = self.identify(id.as_deref().map_err(String::as_str), at);
                return;
            }
            Command::Flush => {
                let ticket = json::digits_u64(extra).unwrap_or(0) as u32;
                return self.flush_for(Waiter::Js(ticket), at);
            }
            Command::Consent(c) => return self.consent_at(c, at),
            Command::Reset => {
                self.inner.borrow_mut().pipeline.reset(at);
                return self.drive();
            }
            Command::Debug(on) => return self.set_debug(on),
        };
        // A track/page call carries the event id the page was given at the call (an `if`, not
        // `bool::then(closure)`: smaller in the wasm).
        if !extra.is_empty() {
            input.event_id = Some(extra.to_string());
        }
        let _ = self.track_at(input, at);
    }

    // ---- the loop ------------------------------------------------------------------------

    /// Does everything the pipeline has due, then re-arms the timer.
    fn drive(&self) {
        // A request that fails at once (no fetch, a refused beacon) is handled at once too,
        // and may leave more due: go round until nothing is.
        let mut again = true;
        while again {
            again = false;
            // `listener` is an empty `RustListener` without the Rust API.
            #[cfg_attr(not(feature = "rust-api"), allow(unused_variables))]
            let (transmit, notices, listener, settled, js) = {
                let mut s = self.inner.borrow_mut();
                let s = &mut *s;
                let t = now();
                s.pipeline.handle_timeout(t);
                let site_sends = stored(&s.memory, &s.sends_key);
                s.pipeline.observe_site_sends(site_sends.as_deref());
                // One request at most: the pipeline has one paced request in flight at a time,
                // so a second call would return `None` (and should that ever change, the timer
                // it arms at once brings the next one).
                let transmit = s.pipeline.poll_transmit(t);
                if let (Some(tx), true) = (&transmit, s.debug) {
                    let mut m = String::from("sending ");
                    push_dec(&mut m, tx.event_ids.len() as u64);
                    m.push_str(" event(s), ");
                    push_dec(&mut m, tx.body.len() as u64);
                    m.push_str(" bytes");
                    s.notices.push(Notice::Debug(m));
                }
                s.write_storage(Some(t));
                while let Some(r) = s.pipeline.poll_report() {
                    s.notices.push(Notice::Report(r));
                }
                let mut settled = Vec::new();
                let mut i = 0;
                while i < s.flush_waiters.len() {
                    if s.pipeline.flush_settled(s.flush_waiters[i].0, t) {
                        settled.push(s.flush_waiters.swap_remove(i).1);
                    } else {
                        i += 1;
                    }
                }
                (
                    transmit,
                    std::mem::take(&mut s.notices),
                    s.listener.clone(),
                    settled,
                    // Without the Rust API every tracker was started from JavaScript.
                    (cfg!(not(feature = "rust-api")) || s.js).then_some(s.tid),
                )
            };
            if let Some(t) = &transmit {
                again = self.send(t);
            }
            for n in &notices {
                if let Some(tid) = js {
                    host::st_report(tid, &notice_json(n));
                }
                #[cfg(feature = "rust-api")]
                if let Some(l) = &listener {
                    l(n);
                }
            }
            for w in &settled {
                match w {
                    Waiter::Js(ticket) => host::st_settle(js.unwrap_or(0), *ticket),
                    #[cfg(feature = "rust-api")]
                    Waiter::Rust(state) => {
                        state.done.set(true);
                        if let Some(waker) = state.waker.take() {
                            waker.wake();
                        }
                    }
                }
            }
        }
        self.rearm();
    }

    fn rearm(&self) {
        let mut s = self.inner.borrow_mut();
        let next = s.pipeline.poll_timeout();
        if next == s.timer {
            return;
        }
        s.timer = next;
        let delay = match next {
            Some(at) => at.0.saturating_sub(now().0).min(i32::MAX as u64) as f64,
            None => -1.0,
        };
        host::st_timer(s.tid, delay);
    }

    /// Hands a transmit to the host; true if its outcome was known at once (and handled).
    fn send(&self, t: &Transmit) -> bool {
        // No borrow is held while the page's code runs: `fetch` may be a wrapper (error
        // trackers, APM agents) that calls back into the tracker.
        let tid = self.inner.borrow().tid;
        let outcome = match host::st_send(tid, t.id.0 as f64, &t.body, t.unload) {
            0 => return false,
            1 => Outcome::Unconfirmed,
            _ => Outcome::NetworkError(host::st_text().unwrap_or_default()),
        };
        self.inner
            .borrow_mut()
            .pipeline
            .handle_response(t.id, outcome, now());
        true
    }

    /// The host's reply to a request: `status` 0 a network error (`text` says which), 1 the
    /// timeout, else the HTTP status with `text` = Retry-After (as js/host.js hands it over:
    /// see `RetryAfter::from_host`), X-RateLimit-Remaining, X-RateLimit-Reset and the body,
    /// separated by newlines.
    fn on_reply(&self, id: f64, status: f64, text: String) {
        let outcome = match status as u16 {
            0 => Outcome::NetworkError(text),
            1 => Outcome::Timeout,
            status => {
                // Built whole, not from a default with its fields replaced (each replaced
                // field would be dropped first).
                let mut rest = text.as_str();
                let retry_after = RetryAfter::from_host(cut(&mut rest, b'\n'));
                let mut header = || {
                    let h = cut(&mut rest, b'\n');
                    (!h.is_empty()).then(|| h.to_string())
                };
                let rate_limit_remaining = header();
                let rate_limit_reset = header();
                Outcome::Http(HttpResponse {
                    status,
                    retry_after,
                    rate_limit_remaining,
                    rate_limit_reset,
                    body: rest.to_string(),
                })
            }
        };
        self.inner
            .borrow_mut()
            .pipeline
            .handle_response(TransmitId(id as u64), outcome, now());
        self.drive();
    }

    /// The page is being hidden or unloaded: storage written now, queued events sent in
    /// keepalive-sized chunks.
    fn on_hide(&self) {
        let chunks = {
            let mut s = self.inner.borrow_mut();
            let s = &mut *s;
            s.write_storage(None);
            let budget = MAX_KEEPALIVE_BYTES.saturating_sub(s.pipeline.in_flight_bytes());
            s.pipeline.drain_for_unload(budget, now())
        };
        for t in &chunks {
            self.send(t);
        }
        self.drive();
    }

    /// The page's URL changed in a way that is not a page view of its own (`hashchange`).
    fn on_url_change(&self) {
        self.inner.borrow_mut().href = host::st_page(0);
    }

    /// An SPA navigation (pushState, replaceState, popstate): a `page_view` if the URL
    /// (without its hash) changed.
    /// `previous`: the URL before a `pushState`/`replaceState`; `None` for `popstate`, where
    /// the page left is the one of the last `page_view`.
    fn on_navigation(&self, previous: Option<String>) {
        let href = host::st_page(0);
        let changed = {
            let mut s = self.inner.borrow_mut();
            s.href.clone_from(&href);
            let changed = s.auto_pageview && without_hash(&href) != s.last_page;
            if changed {
                s.referrer = previous.unwrap_or_else(|| s.last_page.clone());
            }
            changed
        };
        if changed {
            let _ = self.track_at(self.page_view(None), now());
        }
    }
}

fn without_hash(url: &str) -> &str {
    split_once_ascii(url, b'#').map_or(url, |(before, _)| before)
}

/// The text of `rest` before the first `sep` (all of it if there is none); `rest` keeps what
/// follows. For the host's few-field messages: no `SplitN` iterator in the wasm.
fn cut<'a>(rest: &mut &'a str, sep: u8) -> &'a str {
    let (field, tail) = split_once_ascii(rest, sep).unwrap_or((rest, ""));
    *rest = tail;
    field
}

/// A notice as the JSON object the JavaScript callbacks get:
/// `{"type":"delivered","event_ids":[...]}`, `{"type":"dropped",...}`,
/// `{"type":"error","kind":"...","message":"..."}`, `{"type":"debug","message":"..."}`.
/// Single characters are appended as `&str`s: `String::push(char)` here compiled to a copy
/// of its own (it encodes the `char` as UTF-8 first).
#[allow(clippy::single_char_add_str)]
fn notice_json(n: &Notice) -> String {
    fn member(o: &mut String, key: &str, value: &str) {
        o.push_str(",\"");
        o.push_str(key);
        o.push_str("\":");
        json::write_str(o, value);
    }
    let mut o = String::from("{\"type\":");
    let error = |o: &mut String, kind: &str, message: &str| {
        o.push_str("\"error\"");
        member(o, "kind", kind);
        member(o, "message", message);
    };
    match n {
        Notice::Report(Report::Delivered { event_ids }) => {
            o.push_str("\"delivered\",\"event_ids\":[");
            // A separator that turns into a comma after the first id: no enumerate.
            let mut sep = "";
            for id in event_ids {
                o.push_str(sep);
                json::write_str(&mut o, id);
                sep = ",";
            }
            o.push_str("]");
        }
        Notice::Report(Report::Dropped {
            event_id,
            event_name,
            reason,
            message,
        }) => {
            o.push_str("\"dropped\"");
            member(&mut o, "event_id", event_id);
            member(&mut o, "event_name", event_name);
            member(&mut o, "reason", reason.as_str());
            member(&mut o, "message", message);
        }
        Notice::Report(Report::Error { kind, message }) => error(&mut o, kind.as_str(), message),
        Notice::Error { kind, message } => error(&mut o, kind, message),
        Notice::Debug(m) => {
            o.push_str("\"debug\"");
            member(&mut o, "message", m);
        }
    }
    o.push_str("}");
    o
}
