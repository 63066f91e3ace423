//! The browser, as the shell reaches it: the functions of `js/host.js` (fetch and sendBeacon,
//! timers, localStorage, the page's URL and lifecycle, the queue of the page's calls, Unicode
//! lower-casing), and the wasm's two entry points for it, `scantrack_start` and
//! `scantrack_wake`.
//!
//! Why a hand-written host module instead of web-sys, js-sys and closures: every browser method
//! bound from Rust is a glue function in JavaScript and a shim in the wasm, and every closure
//! or future a chunk of machinery in both. Here the imports take and return only numbers and
//! strings, and the host enters the wasm through plain numeric exports (no `Closure`, no
//! `JsFuture`), pulling strings across while the wasm runs (`st_text`, `st_take`).

use core::mem::ManuallyDrop;
use std::cell::RefCell;
use std::rc::Rc;
#[cfg(feature = "rust-api")]
use std::rc::Weak;

use wasm_bindgen::prelude::*;

use scantrack_core::entropy::Entropy;
use scantrack_core::uuid;

use super::{Inner, Tracker};
use crate::options::Options;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// Gives the host the wasm's exports (`scantrack_wake`, memory), for trackers started from
    /// Rust; a tracker started from JavaScript has them from `js/core.js` already. Only the
    /// Rust API calls it, so the shipped wasm (started from JavaScript) has no `JsValue` at
    /// all, and none of wasm-bindgen's externref machinery.
    pub fn st_bind(exports: JsValue);
    /// Registers a tracker with the host (its `fetch`, `sendBeacon` and listeners); returns the
    /// host's id for it. `tracker` comes back in every `scantrack_wake`.
    pub fn st_open(tracker: u32, url: &str, timeout_ms: f64) -> u32;
    /// `Date.now()`.
    pub fn st_now() -> f64;
    /// Random bytes (`crypto.getRandomValues`) written to wasm memory at `ptr`.
    pub fn st_random(ptr: u32, len: u32);
    pub fn st_get(key: &str) -> Option<String>;
    /// Writes `value` under `key` (removes it when `None`); returns why that failed.
    pub fn st_set(key: &str, value: Option<&str>) -> Option<String>;
    /// 0: `location.href`, 1: `document.referrer`, 2: `document.title`, 3: "1" when Global
    /// Privacy Control is on.
    pub fn st_page(what: u32) -> String;
    /// `text.toLowerCase()`: the core's `pii::LowerCase` for addresses that are not all ASCII,
    /// so that the wasm carries no Unicode case tables (the browser has them).
    pub fn st_lower(text: &str) -> String;
    /// Starts a request: 0 on its way (a REPLY wake follows), 1 queued by sendBeacon, 2 failed
    /// at once (why: `st_text`).
    pub fn st_send(tid: u32, id: f64, body: &str, unload: bool) -> u32;
    /// Arms the tracker's one timer (a negative delay disarms it).
    pub fn st_timer(tid: u32, delay_ms: f64);
    /// A notice, as JSON, for a tracker started from JavaScript.
    pub fn st_report(tid: u32, json: &str);
    /// Resolves the promise of a JavaScript `flush()`.
    pub fn st_settle(tid: u32, ticket: u32);
    /// The next call the page queued: `<ms> <event id or flush ticket> <JSON arguments>`.
    pub fn st_take(tid: u32) -> Option<String>;
    /// The string the host handed over for this exchange (options, a reply, a URL, an error).
    pub fn st_text() -> Option<String>;
    /// Hands a string back to the host (an error message, the session id).
    pub fn st_put(text: &str);
    #[cfg(feature = "host-api")]
    fn st_api() -> JsValue;
}

/// The JavaScript API object of `js/host.js` (`start`, `event`, `call`, `flush`, `session`),
/// as `js/core.js` drives it: for browser tests written in Rust (feature `host-api`). JavaScript
/// imports it from `js/host.js` itself.
#[cfg(feature = "host-api")]
#[wasm_bindgen]
pub fn scantrack_host() -> JsValue {
    st_api()
}

// Wake kinds and DRIVE arguments, as js/host.js sends them.
const DRIVE: u32 = 0;
const HIDE: u32 = 1;
const REPLY: u32 = 2;
const NAV: u32 = 3;
const HASH: u32 = 4;
const SESSION: u32 = 5;
const AT_ONCE: f64 = 1.0;
const TIMER: f64 = 2.0;
/// Queued calls one zero-delay task takes at most (about 10 µs each): no task of the tracker
/// takes over 50 ms, however many calls a page makes in one go.
const CALLS_PER_TASK: usize = 1000;

/// The most event ids one `scantrack_ids` call makes.
const MAX_IDS: u32 = 256;

/// Event ids for the page's `track`/`page` calls, made in runs so that a call costs the page
/// a string slice, not the formatting of an id: `n` (at most 256) version 4 UUIDs back to back,
/// 36 characters each, handed over with `st_put`. Touches no tracker, so it is safe to call
/// while one is busy (the page's code, run from inside a tracker, tracking an event).
#[no_mangle]
pub extern "C" fn scantrack_ids(n: u32) {
    // One getRandomValues for the run: a call per id cost more than the rest of the run.
    let n = n.min(MAX_IDS) as usize;
    let mut random = [0u8; 16 * MAX_IDS as usize];
    super::HostEntropy.fill(&mut random[..16 * n]);
    let mut ids = String::with_capacity(36 * n);
    for bytes in random[..16 * n].chunks_exact(16) {
        uuid::push_v4(&mut ids, bytes);
    }
    st_put(&ids);
}

/// Starts a tracker from JavaScript: options JSON in `st_text`. Returns the host's id + 1, or
/// 0 with the message in `st_put`. The tracker lives as long as the page.
#[no_mangle]
pub extern "C" fn scantrack_start() -> u32 {
    let text = st_text().unwrap_or_default();
    match Options::from_js(&text) {
        Ok(o) => {
            let t = Tracker::open(o, Default::default(), true);
            let tid = t.inner.borrow().tid;
            // Leaked on purpose: its one strong count keeps it alive for `scantrack_wake`.
            let _ = Rc::into_raw(t.inner);
            tid + 1
        }
        Err(e) => {
            st_put(&e);
            0
        }
    }
}

/// The host's way in. Returns 1 when the tracker is busy (the page's code, run from inside it,
/// called back: the host repeats the wake from a fresh task), 2 when queued calls remain for
/// another task, 0 otherwise.
#[no_mangle]
pub extern "C" fn scantrack_wake(tracker: u32, kind: u32, a: f64, b: f64) -> u32 {
    let ptr = tracker as usize as *const RefCell<Inner>;
    // With the Rust API, a tracker may be gone (its owner dropped the last `Tracker`): the
    // strong count taken here keeps it alive while the wake runs.
    // SAFETY: `tracker` is the `Weak::into_raw` that `Tracker::open` gave the host; that weak
    // reference is never released, so the pointer stays valid (upgrade fails once the tracker
    // is gone).
    #[cfg(feature = "rust-api")]
    let t = {
        let weak = ManuallyDrop::new(unsafe { Weak::from_raw(ptr) });
        let Some(inner) = weak.upgrade() else {
            return 0;
        };
        Tracker { inner }
    };
    // Without it, every tracker was started from JavaScript and leaked by `scantrack_start`
    // (it lives as long as the page): the wake borrows it without a count, so the wasm has no
    // code to drop a tracker at all (its drop glue was about 0.5 KB).
    // SAFETY: `tracker` is the address `Rc::into_raw` returned in `scantrack_start` (the
    // `Weak` given to the host points at the same value), and that strong count is never
    // released; `ManuallyDrop` keeps this `Rc` from releasing one it never took.
    #[cfg(not(feature = "rust-api"))]
    let t = ManuallyDrop::new(Tracker {
        inner: unsafe { Rc::from_raw(ptr) },
    });
    if t.inner.try_borrow_mut().is_err() {
        return 1;
    }
    let text = st_text();
    let mut more = false;
    if kind == DRIVE && a != AT_ONCE {
        more = t.take_calls(CALLS_PER_TASK);
    } else {
        t.take_calls(usize::MAX);
    }
    match kind {
        HIDE => t.on_hide(),
        REPLY => t.on_reply(a, b, text.unwrap_or_default()),
        NAV => t.on_navigation((a == 1.0).then(|| text.unwrap_or_default())),
        HASH => t.on_url_change(),
        SESSION => st_put(t.inner.borrow().pipeline.session_id()),
        _ => {
            if a == TIMER {
                t.inner.borrow_mut().timer = None;
            }
            t.drive();
        }
    }
    u32::from(more) * 2
}
