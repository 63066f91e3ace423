//! Browser tests of the web shell's glue (`wasm-pack test --headless --chrome`): the timer,
//! the transport against a stubbed `fetch`, localStorage round trip and fallback, and hostile
//! input to the JavaScript entry point. The delivery rules themselves are tested on the host
//! (crates/core/tests); these only prove that the browser side drives them.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Promise, Reflect};
use scantrack::core::event::EventInput;
use scantrack::core::pipeline::Report;
use scantrack::{Notice, Options, Tracker};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Clone, Debug)]
struct Call {
    url: String,
    body: String,
    keepalive: bool,
    content_type: String,
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Replaces `window.fetch` with a stub answering from `replies` (status, Retry-After, body),
/// the last reply repeating; returns the calls it saw and a guard restoring the real fetch.
type Calls = Rc<RefCell<Vec<(f64, Call)>>>;

fn stub_fetch(replies: Vec<(u16, Option<&'static str>, &'static str)>) -> (Calls, impl Drop) {
    stub_fetch_with(replies, Rc::new(|| {}))
}

/// `stub_fetch`, running `during` inside each fetch call (as a page's fetch wrapper would).
fn stub_fetch_with(
    replies: Vec<(u16, Option<&'static str>, &'static str)>,
    during: Rc<dyn Fn()>,
) -> (Calls, impl Drop) {
    let window = web_sys::window().unwrap();
    let original = get(&window, "fetch");
    let calls: Calls = Rc::default();
    let seen = calls.clone();
    let stub = Closure::<dyn FnMut(JsValue, JsValue) -> Promise>::new(
        move |url: JsValue, init: JsValue| {
            let headers = get(&init, "headers");
            let call = Call {
                url: url.as_string().unwrap_or_default(),
                body: get(&init, "body").as_string().unwrap_or_default(),
                keepalive: get(&init, "keepalive").is_truthy(),
                content_type: get(&headers, "Content-Type")
                    .as_string()
                    .unwrap_or_default(),
            };
            let n = seen.borrow().len();
            seen.borrow_mut().push((js_sys::Date::now(), call));
            during();
            let (status, retry_after, body) = replies[n.min(replies.len() - 1)];
            let init = web_sys::ResponseInit::new();
            init.set_status(status);
            let h = js_sys::Object::new();
            if let Some(ra) = retry_after {
                Reflect::set(&h, &"Retry-After".into(), &ra.into()).unwrap();
            }
            init.set_headers(&h);
            let resp = web_sys::Response::new_with_opt_str_and_init(Some(body), &init).unwrap();
            Promise::resolve(&JsValue::from(resp))
        },
    );
    Reflect::set(&window, &"fetch".into(), stub.as_ref()).unwrap();
    /// Restores the real fetch; keeps the stub's closure alive until then.
    struct Restore(
        JsValue,
        #[allow(dead_code)] Closure<dyn FnMut(JsValue, JsValue) -> Promise>,
    );
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = Reflect::set(&web_sys::window().unwrap(), &"fetch".into(), &self.0);
        }
    }
    (calls, Restore(original, stub))
}

/// Options for `site` against a closed port, without the automatic page view.
fn options(site: &str) -> Options {
    let mut o = Options::new(site, "http://127.0.0.1:9/").unwrap();
    o.auto_pageview = false;
    o
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn collect_notices(t: &Tracker) -> Rc<RefCell<Vec<Notice>>> {
    let notices: Rc<RefCell<Vec<Notice>>> = Rc::default();
    let n = notices.clone();
    t.on_notice(move |x| n.borrow_mut().push(x.clone()));
    notices
}

fn clear_storage(site: &str) {
    let s = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let _ = s.remove_item(&format!("scantrack:{site}:queue"));
    let _ = s.remove_item(&format!("scantrack:{site}:session"));
}

#[wasm_bindgen_test]
async fn the_timer_fires_a_batch_after_the_flush_interval_with_a_text_plain_keepalive_post() {
    clear_storage("t_timer");
    let (calls, _restore) = stub_fetch(vec![(200, None, r#"{"accepted":1,"duplicates":0}"#)]);
    let t = Tracker::start({
        let mut o = options("t_timer");
        o.config = o.config.with_flush_interval(ms(100)).unwrap();
        o
    })
    .unwrap();
    let notices = collect_notices(&t);
    let id = t.track(EventInput::new("signup")).unwrap();
    assert!(calls.borrow().is_empty(), "track itself sends nothing");
    TimeoutFuture::new(400).await;
    let calls = calls.borrow();
    assert_eq!(calls.len(), 1);
    let c = &calls[0].1;
    assert_eq!(c.url, "http://127.0.0.1:9/collect/batch");
    assert!(c.keepalive);
    assert_eq!(c.content_type, "text/plain;charset=UTF-8");
    assert!(c.body.contains(&id) && c.body.contains(r#""event_name":"signup""#));
    assert!(
        c.body.contains(r#""url":"http"#),
        "the page URL is attached: {}",
        c.body
    );
    assert!(notices
        .borrow()
        .iter()
        .any(|n| matches!(n, Notice::Report(Report::Delivered { event_ids }) if event_ids == std::slice::from_ref(&id))));
}

#[wasm_bindgen_test]
async fn a_retry_after_pauses_sending_and_the_timer_resumes_it() {
    clear_storage("t_429");
    let (calls, _restore) = stub_fetch(vec![
        (429, Some("1"), r#"{"detail":"rate limit exceeded"}"#),
        (200, None, "{}"),
    ]);
    let t = Tracker::start(options("t_429")).unwrap();
    t.track(EventInput::new("a")).unwrap();
    t.flush().await; // settles while waiting for the Retry-After deadline
    assert_eq!(calls.borrow().len(), 1);
    TimeoutFuture::new(600).await;
    assert_eq!(calls.borrow().len(), 1, "nothing before Retry-After");
    TimeoutFuture::new(900).await;
    let calls = calls.borrow();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1].0 - calls[0].0 >= 1000.0,
        "{} ms apart",
        calls[1].0 - calls[0].0
    );
}

/// An HTTP-date Retry-After is read by js/host.js (the wasm has no date parser) and reaches the
/// core as an instant: nothing is sent before it, and the timer sends at it.
#[wasm_bindgen_test]
async fn a_retry_after_http_date_is_read_by_the_host_and_holds_sending_until_then() {
    clear_storage("t_429_date");
    // Two to three seconds ahead, on a whole second (HTTP dates have no fraction).
    let at_ms = ((js_sys::Date::now() / 1000.0).ceil() + 2.0) * 1000.0;
    let date: String = js_sys::Date::new(&at_ms.into()).to_utc_string().into();
    assert!(date.ends_with(" GMT"), "an IMF-fixdate: {date}");
    let date: &'static str = Box::leak(date.into_boxed_str());
    let (calls, _restore) = stub_fetch(vec![
        (429, Some(date), r#"{"detail":"rate limit exceeded"}"#),
        (200, None, "{}"),
    ]);
    let t = Tracker::start(options("t_429_date")).unwrap();
    t.track(EventInput::new("a")).unwrap();
    t.flush().await; // settles while waiting for the Retry-After instant
    assert_eq!(calls.borrow().len(), 1);
    let wait_ms = at_ms - js_sys::Date::now();
    assert!(wait_ms > 1000.0, "{wait_ms} ms left");
    TimeoutFuture::new((wait_ms - 500.0) as u32).await;
    assert_eq!(calls.borrow().len(), 1, "nothing before the date");
    TimeoutFuture::new(1500).await;
    let calls = calls.borrow();
    assert_eq!(calls.len(), 2, "sent once the date has passed");
    assert!(
        calls[1].0 >= at_ms,
        "sent {} ms before the date",
        at_ms - calls[1].0
    );
}

#[wasm_bindgen_test]
async fn events_round_trip_through_local_storage_to_the_next_tracker() {
    clear_storage("t_store");
    let (calls, _restore) = stub_fetch(vec![(503, None, "down")]);
    let first = Tracker::start({
        let mut o = options("t_store");
        o.config = o.config.with_persist_delay(ms(0)).unwrap();
        o
    })
    .unwrap();
    let id = first.track(EventInput::new("kept")).unwrap();
    TimeoutFuture::new(50).await;
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let stored = storage
        .get_item("scantrack:t_store:queue")
        .unwrap()
        .unwrap();
    assert!(stored.contains(&id), "{stored}");
    drop(calls);
    drop(_restore);
    // A new page (here: a second tracker) picks the event up and delivers it.
    let (calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let second = Tracker::start(options("t_store")).unwrap();
    second.flush().await;
    assert!(calls.borrow().iter().any(|(_, c)| c.body.contains(&id)));
}

#[wasm_bindgen_test]
async fn throwing_storage_falls_back_to_memory_with_a_report_and_events_still_flow() {
    let window = web_sys::window().unwrap();
    let proto = get(&get(&window, "Storage"), "prototype");
    let original = get(&proto, "setItem");
    let thrower = Closure::<dyn Fn() -> Result<(), JsValue>>::new(|| {
        Err(js_sys::Error::new("QuotaExceededError: the quota has been exceeded").into())
    });
    Reflect::set(&proto, &"setItem".into(), thrower.as_ref()).unwrap();
    let (calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let started = Tracker::start_with(options("t_quota"), None);
    Reflect::set(&proto, &"setItem".into(), &original).unwrap();
    let t = started.unwrap();
    let notices = collect_notices(&t);
    // The storage notice was emitted at start; a second one must not be, and events flow.
    t.track(EventInput::new("still_tracked")).unwrap();
    t.flush().await;
    assert!(calls
        .borrow()
        .iter()
        .any(|(_, c)| c.body.contains("still_tracked")));
    assert!(notices.borrow().iter().all(|n| !matches!(
        n,
        Notice::Error {
            kind: "storage",
            ..
        }
    )));
}

#[wasm_bindgen_test]
async fn a_storage_failure_at_start_is_reported_to_the_first_listener() {
    let window = web_sys::window().unwrap();
    let proto = get(&get(&window, "Storage"), "prototype");
    let original = get(&proto, "setItem");
    let thrower =
        Closure::<dyn Fn() -> Result<(), JsValue>>::new(|| Err(JsValue::from_str("SecurityError")));
    Reflect::set(&proto, &"setItem".into(), thrower.as_ref()).unwrap();
    let seen: Rc<RefCell<Vec<Notice>>> = Rc::default();
    let s2 = seen.clone();
    let t = Tracker::start_with(
        options("t_sec"),
        Some(Rc::new(move |n: &Notice| s2.borrow_mut().push(n.clone()))),
    );
    Reflect::set(&proto, &"setItem".into(), &original).unwrap();
    assert!(t.is_ok());
    assert!(seen.borrow().iter().any(
        |n| matches!(n, Notice::Error { kind: "storage", message } if message.contains("memory"))
    ));
}

/// A tracker started through the JavaScript API of the host module (js/host.js), as
/// js/core.js drives it: `start`, then `event` (track/page, recorded for the tracker's next
/// task), `call` (any other command, run at once), `flush` (a promise).
struct JsTracker {
    api: JsValue,
    tid: JsValue,
}

impl JsTracker {
    fn method(&self, name: &str) -> Function {
        get(&self.api, name).unchecked_into()
    }

    /// Any command, run at once.
    fn call(&self, args_json: &str) -> JsValue {
        self.method("call")
            .call2(&self.api, &self.tid, &args_json.into())
            .unwrap()
    }

    /// A track/page call: returns its event id.
    fn event(&self, args_json: &str) -> JsValue {
        let f = self.method("event");
        let args = js_sys::Array::of3(&self.tid, &args_json.into(), &JsValue::TRUE);
        f.apply(&self.api, &args).unwrap()
    }

    fn flush(&self) -> Promise {
        self.method("flush")
            .call2(&self.api, &self.tid, &r#"["flush"]"#.into())
            .unwrap()
            .unchecked_into()
    }
}

fn js_start(options: &str, on_report: &Function) -> Result<JsTracker, String> {
    let api = scantrack::scantrack_host();
    let start: Function = get(&api, "start").unchecked_into();
    let args = js_sys::Array::of3(&wasm_bindgen::exports(), &options.into(), on_report);
    match start.apply(&api, &args) {
        Ok(tid) => Ok(JsTracker { api, tid }),
        Err(e) => Err(get(&e, "message").as_string().unwrap_or_default()),
    }
}

fn js_tracker(site: &str) -> (JsTracker, Rc<RefCell<Vec<String>>>) {
    let reports: Rc<RefCell<Vec<String>>> = Rc::default();
    let r = reports.clone();
    let cb = Closure::<dyn Fn(String)>::new(move |json: String| r.borrow_mut().push(json));
    let f: Function = cb.as_ref().clone().unchecked_into();
    cb.forget();
    // js/core.js's positional form: siteId, endpoint, autoPageview.
    let opts = format!(r#"["{site}","http://127.0.0.1:9",false]"#);
    (js_start(&opts, &f).unwrap(), reports)
}

fn new_tracker_error(options: &str) -> String {
    match js_start(options, &Function::new_no_args("")) {
        Ok(_) => "no error".into(),
        Err(message) => message,
    }
}

#[wasm_bindgen_test]
async fn hostile_calls_are_reported_and_never_throw() {
    let (_calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let (t, reports) = js_tracker("t_hostile");
    let huge = format!(r#"["track","big",{{"s":"{}"}}]"#, "x".repeat(1 << 20));
    let inputs = [
        "",
        "null",
        "undefined",
        "[]",
        "[null]",
        "[42]",
        "{}",
        r#"["track"]"#,
        r#"["track",null]"#,
        r#"["track",{"a":1}]"#,
        r#"["track","x",[1,2]]"#,
        r#"["track","x",null,{"amount":"NaN","currency":"EUR"}]"#,
        r#"["identify",{"email":"not an email"}]"#,
        r#"["consent","maybe"]"#,
        r#"["nope"]"#,
        &huge,
        "[\"track\",\"\\ud800\"]",
    ];
    for input in inputs {
        let before = reports.borrow().len();
        let r = t.call(input);
        assert!(r.is_undefined() || input.contains("ud800"), "{input:.60}");
        let after = reports.borrow();
        if !input.contains("ud800") {
            assert!(after.len() > before, "no report for {input:.60}");
            assert!(
                after.last().unwrap().contains(r#""type":"error""#),
                "{}",
                after.last().unwrap()
            );
        }
    }
    // And the tracker still works.
    let id = t.event(r#"["track","fine",{"ok":true}]"#);
    assert!(id.as_string().is_some_and(|s| s.len() == 36));
    wasm_bindgen_futures::JsFuture::from(t.flush())
        .await
        .unwrap();
    assert!(reports
        .borrow()
        .iter()
        .any(|r| r.contains(r#""type":"delivered""#)));
}

#[wasm_bindgen_test]
fn unusable_options_throw_one_actionable_error_from_the_constructor() {
    // The options as js/core.js hands them over (positional; names and types are checked
    // there, tests/js/options.test.mjs): what the core owns is refused here.
    let msg = new_tracker_error(r#"["bad id","http://x"]"#);
    assert!(msg.starts_with("scantrack: siteId"), "{msg}");
    let e = new_tracker_error(r#"["ok","ftp://x"]"#);
    assert!(e.contains("not an http(s) URL"), "{e}");
    let e = new_tracker_error(r#"["ok","http://x",null,null,null,null,null,null,null,0]"#);
    assert!(e.contains("maxBatchEvents: must be between"), "{e}");
}

#[wasm_bindgen_test]
async fn a_fetch_wrapper_that_calls_back_into_the_tracker_does_not_break_it() {
    // Error trackers and APM agents wrap fetch; one that tracks from inside its wrapper calls
    // the tracker while the tracker is sending.
    let slot: Rc<RefCell<Option<JsTracker>>> = Rc::default();
    let inside = slot.clone();
    let during: Rc<dyn Fn()> = Rc::new(move || {
        if let Some(t) = inside.borrow().as_ref() {
            t.call(r#"["track","from_fetch_wrapper"]"#);
        }
    });
    let (calls, restore) = stub_fetch_with(vec![(200, None, "{}")], during);
    let (t, reports) = js_tracker("t_reenter");
    *slot.borrow_mut() = Some(t);
    let flush = |s: &Rc<RefCell<Option<JsTracker>>>| {
        let p = s.borrow().as_ref().unwrap().event(r#"["track","first"]"#);
        assert!(p.as_string().is_some());
        s.borrow().as_ref().unwrap().flush()
    };
    wasm_bindgen_futures::JsFuture::from(flush(&slot))
        .await
        .unwrap();
    TimeoutFuture::new(50).await;
    let again = slot.borrow().as_ref().unwrap().flush();
    wasm_bindgen_futures::JsFuture::from(again).await.unwrap();
    let bodies: Vec<String> = calls.borrow().iter().map(|(_, c)| c.body.clone()).collect();
    assert!(bodies.iter().any(|b| b.contains("\"first\"")), "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("from_fetch_wrapper")),
        "{bodies:?}"
    );
    assert!(
        reports
            .borrow()
            .iter()
            .all(|r| !r.contains("\"type\":\"error\"")),
        "{:?}",
        reports.borrow()
    );
    slot.borrow_mut().take();
    drop(restore);
}

#[wasm_bindgen_test]
async fn track_never_sends_or_writes_inside_the_call_even_when_a_batch_is_full() {
    clear_storage("t_cheap");
    let (calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let t = Tracker::start({
        let mut o = options("t_cheap");
        o.config = o.config.with_max_batch_events(5).unwrap();
        o.config = o.config.with_persist_delay(ms(0)).unwrap();
        o
    })
    .unwrap();
    for i in 0..5 {
        t.track(EventInput::new(&format!("e{i}"))).unwrap();
    }
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    assert!(
        calls.borrow().is_empty(),
        "a full batch leaves from a timer task, not from track"
    );
    assert!(storage
        .get_item("scantrack:t_cheap:queue")
        .unwrap()
        .is_none());
    TimeoutFuture::new(50).await;
    assert_eq!(calls.borrow().len(), 1);
    assert!(storage
        .get_item("scantrack:t_cheap:queue")
        .unwrap()
        .is_some());
}

#[wasm_bindgen_test]
async fn a_recorded_track_keeps_its_call_time_id_and_order_and_is_taken_before_any_other_command() {
    clear_storage("t_deferred");
    let (calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let (t, reports) = js_tracker("t_deferred");
    let before = js_sys::Date::now();
    let id = t.event(r#"["track","first",{"n":1}]"#).as_string().unwrap();
    // Recorded, not yet taken: identify runs at once, but only after the recorded call, so
    // the first event has no identity and the second has it.
    t.call(r#"["identify",{"email":"ada@example.com"}]"#);
    let second = t.event(r#"["track","second"]"#).as_string().unwrap();
    TimeoutFuture::new(30).await;
    wasm_bindgen_futures::JsFuture::from(t.flush())
        .await
        .unwrap();
    let bodies: Vec<String> = calls.borrow().iter().map(|(_, c)| c.body.clone()).collect();
    let all = bodies.concat();
    let first_at = all
        .find(&id)
        .expect("the id returned by the call is the event's");
    let second_at = all.find(&second).expect("the second event");
    assert!(first_at < second_at, "{all}");
    let first_event = &all[first_at..second_at];
    assert!(!first_event.contains("email_hash"), "{first_event}");
    assert!(all[second_at..].contains("email_hash"), "{all}");
    // The timestamp is the call's: no later than one second after `before` (whole seconds
    // of the RFC 3339 text are compared through the browser's own formatting).
    let stamp = js_sys::Date::new(&JsValue::from_f64(before))
        .to_iso_string()
        .as_string()
        .unwrap();
    assert!(
        first_event.contains(&stamp[..16]),
        "{stamp} in {first_event}"
    );
    assert!(reports.borrow().iter().all(|r| !r.contains("\"error\"")));
}

/// The shipped path for a non-ASCII address: the page's identify goes through the JavaScript
/// API into the wasm, which lower-cases it with js/host.js's `st_lower` (the browser's
/// `toLowerCase`); the hash sent is the one the host computes with `str::to_lowercase`.
#[wasm_bindgen_test]
async fn a_non_ascii_address_hashes_through_the_host_import_as_on_the_host() {
    use scantrack::core::pii::{hash_email, EmailNormalization::Standard};
    clear_storage("t_lower");
    let (calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let (t, reports) = js_tracker("t_lower");
    let addresses = [
        "ÅSA@EXAMPLE.SE",
        "ΟΔΥΣΣΕΥΣ@EXAMPLE.GR",
        "İLKER@EXAMPLE.COM.TR",
    ];
    let mut ids = Vec::new();
    for email in addresses {
        t.call(&format!(r#"["identify",{{"email":"{email}"}}]"#));
        ids.push(t.event(r#"["track","identified"]"#).as_string().unwrap());
    }
    wasm_bindgen_futures::JsFuture::from(t.flush())
        .await
        .unwrap();
    let all: String = calls.borrow().iter().map(|(_, c)| c.body.clone()).collect();
    for (email, id) in addresses.iter().zip(&ids) {
        let event = &all[all.find(id.as_str()).expect("the event was sent")..];
        let host = hash_email(email, Standard, str::to_lowercase).unwrap();
        let sent = format!(r#""user_identifiers":{{"email_hash":"{host}"}}"#);
        // The event ends with its `user_identifiers` object (it has no properties).
        let end = event.find("}}").map_or(event.len(), |i| i + 2);
        assert!(event[..end].contains(&sent), "{email}: {}", &event[..end]);
    }
    // Pinned on the host: SHA-256 of "åsa@example.se".
    assert!(all.contains("2671792c94b04686181614fa00ffaa27cb0f587d9fac9efbda1df3614f46576f"));
    assert!(reports.borrow().iter().all(|r| !r.contains("\"error\"")));
}

#[wasm_bindgen_test]
async fn pagehide_takes_recorded_calls_and_sends_them_with_keepalive_at_once() {
    clear_storage("t_hide");
    let (calls, _restore) = stub_fetch(vec![(200, None, "{}")]);
    let (t, _reports) = js_tracker("t_hide");
    let id = t.event(r#"["track","leaving"]"#).as_string().unwrap();
    let window = web_sys::window().unwrap();
    let event = web_sys::Event::new("pagehide").unwrap();
    window.dispatch_event(&event).unwrap();
    // Synchronously: the recorded call was taken, stored and sent.
    let storage = window.local_storage().unwrap().unwrap();
    let stored = storage.get_item("scantrack:t_hide:queue").unwrap();
    assert!(stored.is_some_and(|s| s.contains(&id)));
    let calls = calls.borrow();
    assert!(calls
        .iter()
        .any(|(_, c)| c.keepalive && c.body.contains(&id)));
}
