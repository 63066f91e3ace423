//! The web shell: drives the core `Pipeline` with the browser's clock, randomness, timers,
//! network and storage (STYLE.md: the core decides, the shell acts).
//!
//! After every input (a call, a reply, a timer, a lifecycle event) the shell runs `drive`:
//! send what `poll_transmit` returns, write what `poll_storage` returns, hand reports to the
//! listeners, resolve settled `flush()` promises, and keep exactly one timer armed at
//! `poll_timeout`. Listeners run after the pipeline is released, so a listener that calls
//! back into the tracker is safe.

mod bindings;

pub use bindings::JsTracker;
mod page;
mod storage;
mod transport;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use scantrack_core::config::MAX_KEEPALIVE_BYTES;
use scantrack_core::entropy::Entropy;
use scantrack_core::event::{EventInput, TrackError};
use scantrack_core::json::Value;
use scantrack_core::pipeline::{Consent, FlushTicket, Report, Startup, StorageOp, Transmit};
use scantrack_core::{persist, Millis, Pipeline};

use crate::command::Command;
use crate::options::Options;
use storage::Store;
use transport::Transport;

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

type Listener = Rc<dyn Fn(&Notice)>;

fn now() -> Millis {
    Millis(js_sys::Date::now() as u64)
}

/// `crypto.getRandomValues`, or `Math.random` where there is no Web Crypto (randomness here
/// makes ids unique and jitter spread; it protects no secret).
///
/// Bytes are drawn `ENTROPY_POOL_BYTES` at a time and handed out in slices: one call into the
/// browser costs about as much as drawing a whole kilobyte, and every event needs 16 bytes
/// for its id (a burst of `track` calls would otherwise pay one JS round trip per event).
struct BrowserEntropy {
    crypto: Option<web_sys::Crypto>,
    pool: [u8; ENTROPY_POOL_BYTES],
    /// Bytes of `pool` already handed out; the pool is refilled when they all are.
    used: usize,
}

/// 1 KiB, 64 event ids: drawing it costs about 1.5 times one 16-byte draw (measured in
/// Chromium), and it lives in the tracker's memory for the life of the page.
const ENTROPY_POOL_BYTES: usize = 16 * 64;

impl BrowserEntropy {
    fn new(crypto: Option<web_sys::Crypto>) -> Self {
        BrowserEntropy {
            crypto,
            pool: [0; ENTROPY_POOL_BYTES],
            used: ENTROPY_POOL_BYTES,
        }
    }

    fn refill(&mut self) {
        let ok = self
            .crypto
            .as_ref()
            .is_some_and(|c| c.get_random_values_with_u8_array(&mut self.pool).is_ok());
        if !ok {
            for b in self.pool.iter_mut() {
                *b = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        self.used = 0;
    }
}

impl Entropy for BrowserEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            if self.used == ENTROPY_POOL_BYTES {
                self.refill();
            }
            let n = (buf.len() - done).min(ENTROPY_POOL_BYTES - self.used);
            buf[done..done + n].copy_from_slice(&self.pool[self.used..self.used + n]);
            self.used += n;
            done += n;
        }
    }
}

struct Inner {
    pipeline: Pipeline,
    store: Store,
    transport: Transport,
    timer: Option<(Millis, Timeout)>,
    listeners: Vec<Listener>,
    notices: Vec<Notice>,
    flush_waiters: Vec<(FlushTicket, Box<dyn FnOnce()>)>,
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
    /// not once per event: the read and its copy into wasm memory cost more than the rest of
    /// a `track` call's work on the Rust side of the boundary.
    href: String,
}

impl Inner {
    /// Performs the pipeline's storage operations; a storage failure becomes a notice (the
    /// store has then switched to memory).
    fn apply_storage(&mut self, ops: Vec<StorageOp>) {
        for op in ops {
            if let Some(problem) = self.store.apply(op) {
                self.notices.push(Notice::Error {
                    kind: "storage",
                    message: problem,
                });
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
    pub fn start(options: Options) -> Result<Tracker, String> {
        Tracker::start_with(options, None)
    }

    /// `start`, with a listener that sees every notice from the first one on.
    pub fn start_with(options: Options, listener: Option<Listener>) -> Result<Tracker, String> {
        let window = web_sys::window().ok_or("scantrack needs a browser window")?;
        let (store, storage_problem) = Store::open(&window);
        let site = options.config.site_id().to_string();
        let queue = store.get(&persist::queue_key(&site));
        let session = store.get(&persist::session_key(&site));
        let href = page::href(&window);
        let gpc = options.honor_global_privacy_control && page::global_privacy_control(&window);
        let consent = if gpc {
            Consent::Denied
        } else {
            options.consent
        };
        let entropy = BrowserEntropy::new(window.crypto().ok());
        let pipeline = Pipeline::new(
            options.config.clone(),
            Box::new(entropy),
            Startup {
                stored_queue: queue.as_deref(),
                stored_session: session.as_deref(),
                page_url: Some(&href),
                consent: Some(consent),
            },
            now(),
        );
        let mut notices = Vec::new();
        if let Some(p) = storage_problem {
            notices.push(Notice::Error {
                kind: "storage",
                message: p,
            });
        }
        if gpc {
            notices.push(Notice::Debug(
                "Global Privacy Control is on: nothing is tracked (honorGlobalPrivacyControl)"
                    .into(),
            ));
        }
        let tracker = Tracker {
            inner: Rc::new(RefCell::new(Inner {
                transport: Transport::new(
                    &window,
                    &options.endpoint,
                    options.config.request_timeout,
                ),
                pipeline,
                store,
                timer: None,
                listeners: listener.into_iter().collect(),
                notices,
                flush_waiters: Vec::new(),
                debug: options.debug,
                auto_pageview: options.auto_pageview,
                gpc,
                last_page: String::new(),
                referrer: page::referrer(&window),
                sends_key: persist::sends_key(&site),
                href: href.clone(),
            })),
        };
        page::install(&tracker, &window);
        if options.auto_pageview {
            let _ = tracker.page(None);
        }
        tracker.drive();
        Ok(tracker)
    }

    fn weak(&self) -> Weak<RefCell<Inner>> {
        Rc::downgrade(&self.inner)
    }

    /// Adds a listener for every notice (delivered, dropped, error, debug).
    pub fn on_notice(&self, listener: impl Fn(&Notice) + 'static) {
        self.inner.borrow_mut().listeners.push(Rc::new(listener));
    }

    /// Reports a refused call and returns the error.
    fn refused<T>(&self, e: TrackError) -> Result<T, TrackError> {
        {
            let mut s = self.inner.borrow_mut();
            let notice = match &e {
                TrackError::ConsentDenied => s.debug.then(|| Notice::Debug(e.to_string())),
                _ => Some(Notice::Error {
                    kind: "invalid_call",
                    message: e.to_string(),
                }),
            };
            s.notices.extend(notice);
        }
        self.drive();
        Err(e)
    }

    /// Tracks one event; `url` and `referrer` default to the page's. Returns its `event_id`.
    /// Nothing is written or sent in the call: storage follows within `persistDelayMs`,
    /// sending when a batch is due (from a timer task, so a burst of calls stays cheap).
    pub fn track(&self, mut input: EventInput) -> Result<String, TrackError> {
        let result = {
            let mut s = self.inner.borrow_mut();
            if input.url.is_none() {
                input.url = Some(s.href.clone());
            }
            if input.referrer.is_none() && !s.referrer.is_empty() {
                input.referrer = Some(s.referrer.clone());
            }
            s.pipeline.track(input, now())
        };
        match result {
            Ok(id) => {
                // No send and no storage write inside the call: the timer (at once, if a
                // batch is now full) does them in a task of its own.
                self.rearm();
                Ok(id)
            }
            Err(e) => self.refused(e),
        }
    }

    /// A `page_view` with the page's title in `properties.title` (unless given).
    pub fn page(&self, properties: Option<Value>) -> Result<String, TrackError> {
        let window = web_sys::window();
        let title = window
            .as_ref()
            .and_then(|w| w.document())
            .map(|d| d.title())
            .unwrap_or_default();
        let mut members = match properties {
            Some(Value::Object(m)) => m,
            _ => Vec::new(),
        };
        if !members.iter().any(|(k, _)| k == "title") {
            members.push(("title".into(), Value::String(title)));
        }
        let href = window.as_ref().map(page::href).unwrap_or_default();
        {
            let mut s = self.inner.borrow_mut();
            s.last_page = page::without_hash(&href).to_string();
            s.href = href;
        }
        self.track(EventInput::new("page_view").with_properties(Value::Object(members)))
    }

    /// `identify({email})`: the address is normalised and hashed here; it is never stored or
    /// sent. The hash goes with every later event until `reset`.
    pub fn identify_email(&self, email: &str) -> Result<(), TrackError> {
        let r = self
            .inner
            .borrow_mut()
            .pipeline
            .identify_email(email, now());
        r.or_else(|e| self.refused(e)).map(|_| self.drive())
    }

    /// `identify({email_hash})`: an already hashed address (64 hex characters).
    pub fn identify_hash(&self, hash: &str) -> Result<(), TrackError> {
        let r = self.inner.borrow_mut().pipeline.identify_hash(hash, now());
        r.or_else(|e| self.refused(e)).map(|_| self.drive())
    }

    /// Sends what is queued now (within backoff and pacing). The promise resolves, never
    /// rejects, once every event queued before the call is acknowledged, dropped, or waiting
    /// for a backoff or rate-limit deadline.
    pub fn flush_promise(&self) -> js_sys::Promise {
        let weak = self.weak();
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            if let Some(inner) = weak.upgrade() {
                let mut s = inner.borrow_mut();
                let ticket = s.pipeline.flush(now());
                s.flush_waiters.push((
                    ticket,
                    Box::new(move || {
                        let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
                    }),
                ));
            } else {
                let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
            }
        });
        self.drive();
        promise
    }

    /// `flush()` for Rust callers.
    pub async fn flush(&self) {
        let _ = wasm_bindgen_futures::JsFuture::from(self.flush_promise()).await;
    }

    /// `consent(state)`. With Global Privacy Control honoured, consent stays denied.
    pub fn set_consent(&self, consent: Consent) {
        {
            let mut s = self.inner.borrow_mut();
            if s.gpc && consent != Consent::Denied {
                s.notices.push(Notice::Error {
                    kind: "invalid_call",
                    message: "consent stays denied: Global Privacy Control is on (set honorGlobalPrivacyControl: false to decide otherwise)".into(),
                });
            } else {
                s.pipeline.set_consent(consent, now());
            }
        }
        self.drive();
    }

    /// `reset()`: a new session and no identity.
    pub fn reset(&self) {
        self.inner.borrow_mut().pipeline.reset(now());
        self.drive();
    }

    /// `debug(on)`: debug notices on or off.
    pub fn set_debug(&self, on: bool) {
        self.inner.borrow_mut().debug = on;
    }

    pub fn session_id(&self) -> String {
        self.inner.borrow().pipeline.session_id().to_string()
    }

    /// Runs one parsed command; returns the event id for `track`/`page`, the promise for
    /// `flush`.
    pub fn run(&self, command: Command) -> Option<wasm_bindgen::JsValue> {
        match command {
            Command::Track(input) => self.track(input).ok().map(Into::into),
            Command::Page(props) => self.page(props).ok().map(Into::into),
            Command::IdentifyEmail(e) => self
                .identify_email(&e)
                .ok()
                .map(|_| wasm_bindgen::JsValue::UNDEFINED),
            Command::IdentifyHash(h) => self
                .identify_hash(&h)
                .ok()
                .map(|_| wasm_bindgen::JsValue::UNDEFINED),
            Command::Flush => Some(self.flush_promise().into()),
            Command::Consent(c) => {
                self.set_consent(c);
                None
            }
            Command::Reset => {
                self.reset();
                None
            }
            Command::Debug(on) => {
                self.set_debug(on);
                None
            }
        }
    }

    /// Reports a call that could not be parsed.
    pub fn report_invalid_call(&self, message: String) {
        self.inner.borrow_mut().notices.push(Notice::Error {
            kind: "invalid_call",
            message,
        });
        self.drive();
    }

    // ---- the loop ------------------------------------------------------------------------

    /// Does everything the pipeline has due, then re-arms the timer.
    fn drive(&self) {
        let (transmits, notices, listeners, settled) = {
            let mut s = self.inner.borrow_mut();
            let s = &mut *s;
            let t = now();
            s.pipeline.handle_timeout(t);
            let site_sends = s.store.get(&s.sends_key);
            s.pipeline.observe_site_sends(site_sends.as_deref());
            let mut transmits = Vec::new();
            while let Some(tx) = s.pipeline.poll_transmit(t) {
                transmits.push(tx);
            }
            let store = &s.store;
            let ops = s.pipeline.poll_storage(t, &|k| store.get(k));
            s.apply_storage(ops);
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
            let debug = s.debug;
            for tx in &transmits {
                if debug {
                    s.notices.push(Notice::Debug(format!(
                        "sending {} event(s), {} bytes",
                        tx.event_ids.len(),
                        tx.body.len()
                    )));
                }
            }
            (
                transmits,
                std::mem::take(&mut s.notices),
                s.listeners.clone(),
                settled,
            )
        };
        for t in transmits {
            self.send(t);
        }
        for n in &notices {
            for l in &listeners {
                l(n);
            }
        }
        for resolve in settled {
            resolve();
        }
        self.rearm();
    }

    fn rearm(&self) {
        let mut s = self.inner.borrow_mut();
        let next = s.pipeline.poll_timeout();
        if next.is_some() && s.timer.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        s.timer = next.map(|at| {
            let delay = at.0.saturating_sub(now().0).min(i32::MAX as u64) as u32;
            let weak = self.weak();
            let timeout = Timeout::new(delay, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.borrow_mut().timer = None;
                    Tracker { inner }.drive();
                }
            });
            (at, timeout)
        });
    }

    fn send(&self, t: Transmit) {
        // No borrow is held while the page's code runs: `fetch` may be a wrapper (error
        // trackers, APM agents) that calls back into the tracker.
        let transport = self.inner.borrow().transport.clone();
        let id = t.id;
        if t.unload && transport.beacon_only() {
            let outcome = if transport.beacon(&t.body) {
                scantrack_core::response::Outcome::Unconfirmed
            } else {
                scantrack_core::response::Outcome::NetworkError("sendBeacon refused".into())
            };
            self.inner
                .borrow_mut()
                .pipeline
                .handle_response(id, outcome, now());
            return;
        }
        let reply = transport.post(&t.body);
        let weak = self.weak();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = reply.await;
            if let Some(inner) = weak.upgrade() {
                inner
                    .borrow_mut()
                    .pipeline
                    .handle_response(id, outcome, now());
                Tracker { inner }.drive();
            }
        });
    }

    /// True while the tracker is in the middle of a call (the page's code, run from inside it,
    /// called back).
    pub fn busy(&self) -> bool {
        self.inner.try_borrow_mut().is_err()
    }

    /// The page is being hidden or unloaded: storage written now, queued events sent in
    /// keepalive-sized chunks.
    fn on_hide(&self) {
        let chunks = {
            let mut s = self.inner.borrow_mut();
            let s = &mut *s;
            let store = &s.store;
            let ops = s.pipeline.flush_storage(&|k| store.get(k));
            s.apply_storage(ops);
            let budget = MAX_KEEPALIVE_BYTES.saturating_sub(s.pipeline.in_flight_bytes());
            s.pipeline.drain_for_unload(budget, now())
        };
        for t in chunks {
            self.send(t);
        }
        self.drive();
    }

    /// The page's URL changed in a way that is not a page view of its own (`hashchange`).
    fn on_url_change(&self) {
        if let Some(window) = web_sys::window() {
            self.inner.borrow_mut().href = page::href(&window);
        }
    }

    /// An SPA navigation (pushState, replaceState, popstate): a `page_view` if the URL
    /// (without its hash) changed.
    /// `previous`: the URL before a `pushState`/`replaceState`; `None` for `popstate`, where
    /// the page left is the one of the last `page_view`.
    fn on_navigation(&self, previous: Option<String>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let href = page::href(&window);
        let changed = {
            let mut s = self.inner.borrow_mut();
            s.href.clone_from(&href);
            let changed = s.auto_pageview && page::without_hash(&href) != s.last_page;
            if changed {
                s.referrer = previous.unwrap_or_else(|| s.last_page.clone());
            }
            changed
        };
        if changed {
            let _ = self.page(None);
        }
    }
}
