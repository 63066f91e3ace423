//! The JavaScript API (wasm-bindgen): one class, `Tracker`, whose `call` takes the whole
//! `scantrack(...)` call as one JSON text (one boundary crossing, no walking of JS objects
//! from Rust) and never throws. The script-tag loader and the npm entry wrap it.
//!
//! Notices reach JavaScript as JSON text through the `onReport` function given to the
//! constructor: `{"type":"delivered","event_ids":[...]}`, `{"type":"dropped",...}`,
//! `{"type":"error","kind":"...","message":"..."}`, `{"type":"debug","message":"..."}`.

use std::rc::Rc;

use js_sys::Function;
use scantrack_core::json::Value;
use scantrack_core::pipeline::Report;
use wasm_bindgen::prelude::*;

use super::{Notice, Tracker};
use crate::command;
use crate::options::Options;

#[wasm_bindgen(js_name = Tracker)]
pub struct JsTracker {
    tracker: Tracker,
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn notice_json(n: &Notice) -> String {
    let kv = |k: &str, v: Value| (k.to_string(), v);
    let members = match n {
        Notice::Report(Report::Delivered { event_ids }) => vec![
            kv("type", s("delivered")),
            kv(
                "event_ids",
                Value::Array(event_ids.iter().map(|i| s(i)).collect()),
            ),
        ],
        Notice::Report(Report::Dropped {
            event_id,
            event_name,
            reason,
            message,
        }) => vec![
            kv("type", s("dropped")),
            kv("event_id", s(event_id)),
            kv("event_name", s(event_name)),
            kv("reason", s(reason.as_str())),
            kv("message", s(message)),
        ],
        Notice::Report(Report::Error { kind, message }) => {
            vec![
                kv("type", s("error")),
                kv("kind", s(kind.as_str())),
                kv("message", s(message)),
            ]
        }
        Notice::Error { kind, message } => {
            vec![
                kv("type", s("error")),
                kv("kind", s(kind)),
                kv("message", s(message)),
            ]
        }
        Notice::Debug(m) => vec![kv("type", s("debug")), kv("message", s(m))],
    };
    Value::Object(members).to_json()
}

fn run(tracker: &Tracker, args_json: &str) -> JsValue {
    match command::parse(args_json) {
        Ok(c) => tracker.run(c).unwrap_or(JsValue::UNDEFINED),
        Err(message) => {
            tracker.report_invalid_call(message);
            JsValue::UNDEFINED
        }
    }
}

#[wasm_bindgen(js_class = Tracker)]
impl JsTracker {
    /// Starts tracking. Throws an `Error` whose message says what to fix when the options are
    /// unusable; nothing else ever throws.
    #[wasm_bindgen(constructor)]
    pub fn new(options_json: &str, on_report: Function) -> Result<JsTracker, JsError> {
        let options = Options::from_json(options_json)
            .map_err(|e| JsError::new(&format!("scantrack: {e}")))?;
        let listener = Rc::new(move |n: &Notice| {
            let _ = on_report.call1(&JsValue::NULL, &JsValue::from_str(&notice_json(n)));
        });
        let tracker = Tracker::start_with(options, Some(listener))
            .map_err(|e| JsError::new(&format!("scantrack: {e}")))?;
        Ok(JsTracker { tracker })
    }

    /// Runs `[command, ...args]` (JSON). Returns the event id for `track`/`page`, a promise
    /// for `flush`, `undefined` otherwise. Bad input is reported, never thrown.
    pub fn call(&self, args_json: &str) -> JsValue {
        if self.tracker.busy() {
            // A call from inside one of ours (the page's storage or fetch wrapper called
            // back): run it as soon as the current one is over, never re-entrantly.
            let tracker = self.tracker.clone();
            let args = args_json.to_string();
            gloo_timers::callback::Timeout::new(0, move || {
                run(&tracker, &args);
            })
            .forget();
            return JsValue::UNDEFINED;
        }
        run(&self.tracker, args_json)
    }

    /// The current `scan_session_id`.
    #[wasm_bindgen(js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.tracker.session_id()
    }
}
