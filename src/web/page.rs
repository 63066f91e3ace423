//! The page around the tracker: its URL and referrer, the Global Privacy Control signal, the
//! lifecycle events that drain the queue (`visibilitychange` to hidden, `pagehide`), and SPA
//! navigations (`history.pushState`/`replaceState` wrapped, `popstate` listened to), and
//! `hashchange`, which keeps the tracker's copy of the URL current.
//!
//! Listeners hold the tracker weakly and live as long as the page (`Closure::forget`): there
//! is one tracker per page and nothing to unregister.

use js_sys::{Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::Tracker;

pub fn href(window: &web_sys::Window) -> String {
    window.location().href().unwrap_or_default()
}

pub fn referrer(window: &web_sys::Window) -> String {
    window.document().map(|d| d.referrer()).unwrap_or_default()
}

pub fn without_hash(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// `navigator.globalPrivacyControl === true`.
pub fn global_privacy_control(window: &web_sys::Window) -> bool {
    Reflect::get(&window.navigator(), &"globalPrivacyControl".into())
        .map(|v| v == JsValue::TRUE)
        .unwrap_or(false)
}

pub fn install(tracker: &Tracker, window: &web_sys::Window) {
    let weak = tracker.weak();
    let on_hide = Closure::<dyn Fn()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            let hidden = web_sys::window()
                .and_then(|w| w.document())
                .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
            let t = Tracker { inner };
            if hidden {
                t.on_hide();
            } else {
                t.drive();
            }
        }
    });
    let f: &Function = on_hide.as_ref().unchecked_ref();
    if let Some(doc) = window.document() {
        let _ = doc.add_event_listener_with_callback("visibilitychange", f);
    }
    // pagehide fires on navigation and close even when visibilitychange does not (and for
    // pages entering the back/forward cache).
    let _ = window.add_event_listener_with_callback("pagehide", f);
    on_hide.forget();

    let history = window.history().ok().map(JsValue::from);
    if let Some(history) = history {
        for method in ["pushState", "replaceState"] {
            let Some(original) = Reflect::get(&history, &method.into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
            else {
                continue;
            };
            let weak = tracker.weak();
            let h = history.clone();
            let wrapper =
                Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
                    move |state: JsValue, title: JsValue, url: JsValue| {
                        let before = web_sys::window().map(|w| href(&w)).unwrap_or_default();
                        // The page's own call first, with its own errors: the tracker must not
                        // change what history.pushState does.
                        let result = original.call3(&h, &state, &title, &url);
                        if let Some(inner) = weak.upgrade() {
                            Tracker { inner }.on_navigation(Some(before));
                        }
                        result
                    },
                );
            let _ = Reflect::set(&history, &method.into(), wrapper.as_ref());
            wrapper.forget();
        }
    }
    let weak = tracker.weak();
    let on_pop = Closure::<dyn Fn()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            Tracker { inner }.on_navigation(None);
        }
    });
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    on_pop.forget();
    // `location.hash = ...` and links to `#...` change the URL events carry without a page
    // view (the tracker keeps the URL rather than reading it for every event).
    let weak = tracker.weak();
    let on_hash = Closure::<dyn Fn()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            Tracker { inner }.on_url_change();
        }
    });
    let _ = window.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    on_hash.forget();
}
