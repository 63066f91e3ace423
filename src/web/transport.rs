//! Sending a batch: `fetch` with a `text/plain` body (a cross-origin POST that needs no CORS
//! preflight, and the same body works with `sendBeacon`), `keepalive` so that it survives the
//! page, an abort after `requestTimeoutMs`, and the reply read into the core's `Outcome`.
//!
//! `fetch` and `sendBeacon` are captured when the tracker starts: a page that replaces
//! `window.fetch` later (a common sight: wrappers, mocks, broken polyfills) does not change
//! what the tracker uses.

use core::time::Duration;

use gloo_timers::callback::Timeout;
use js_sys::{Function, Object, Promise, Reflect};
use scantrack_core::response::{HttpResponse, Outcome};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::storage::describe;

/// Cheap to clone (handles to JS objects): the shell clones it out of its state before calling
/// into the page's `fetch`, so that a page's `fetch` wrapper may call the tracker again.
#[derive(Clone)]
pub struct Transport {
    window: web_sys::Window,
    fetch: Option<Function>,
    beacon: Option<(JsValue, Function)>,
    url: String,
    timeout: Duration,
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

impl Transport {
    pub fn new(window: &web_sys::Window, endpoint: &str, timeout: Duration) -> Transport {
        let fetch = Reflect::get(window, &"fetch".into())
            .ok()
            .and_then(|f| f.dyn_into().ok());
        let navigator: JsValue = window.navigator().into();
        let beacon = Reflect::get(&navigator, &"sendBeacon".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .map(|f| (navigator, f));
        Transport {
            window: window.clone(),
            fetch,
            beacon,
            url: format!("{endpoint}/collect/batch"),
            timeout,
        }
    }

    /// True when there is no usable `fetch`: unload sends then go by `sendBeacon`.
    pub fn beacon_only(&self) -> bool {
        self.fetch.is_none()
    }

    /// `navigator.sendBeacon`: true if the browser queued it.
    pub fn beacon(&self, body: &str) -> bool {
        match &self.beacon {
            Some((nav, f)) => f
                .call2(nav, &JsValue::from_str(&self.url), &JsValue::from_str(body))
                .map(|r| r.is_truthy())
                .unwrap_or(false),
            None => false,
        }
    }

    /// Starts the request now (synchronously, so that it leaves even if the page is being
    /// unloaded) and returns the future of its outcome.
    pub fn post(&self, body: &str) -> impl core::future::Future<Output = Outcome> {
        let controller = web_sys::AbortController::new().ok();
        let init = Object::new();
        set(&init, "method", &"POST".into());
        set(&init, "body", &body.into());
        set(&init, "keepalive", &true.into());
        set(&init, "mode", &"cors".into());
        set(&init, "credentials", &"omit".into());
        let headers = Object::new();
        set(&headers, "Content-Type", &"text/plain;charset=UTF-8".into());
        set(&init, "headers", &headers);
        if let Some(c) = &controller {
            set(&init, "signal", &c.signal());
        }
        let started: Result<Promise, String> = match &self.fetch {
            Some(f) => f
                .call2(&self.window, &JsValue::from_str(&self.url), &init)
                .map_err(|e| describe(&e))
                .and_then(|p| {
                    p.dyn_into::<Promise>()
                        .map_err(|_| "fetch returned no promise".into())
                }),
            None => Err("fetch is not available".into()),
        };
        let timeout_ms = self.timeout.as_millis().min(i32::MAX as u128) as u32;
        async move {
            let promise = match started {
                Ok(p) => p,
                Err(e) => return Outcome::NetworkError(e),
            };
            let abort = controller.map(|c| Timeout::new(timeout_ms, move || c.abort()));
            let result = JsFuture::from(promise).await;
            let outcome = match result {
                Ok(resp) => read(resp.unchecked_into()).await,
                Err(e) => {
                    let d = describe(&e);
                    if d.starts_with("AbortError") {
                        Outcome::Timeout
                    } else {
                        Outcome::NetworkError(d)
                    }
                }
            };
            drop(abort);
            outcome
        }
    }
}

async fn read(resp: web_sys::Response) -> Outcome {
    let headers = resp.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let mut r = HttpResponse::status(resp.status());
    r.retry_after = header("Retry-After");
    r.rate_limit_remaining = header("X-RateLimit-Remaining");
    r.rate_limit_reset = header("X-RateLimit-Reset");
    if let Ok(p) = resp.text() {
        if let Ok(text) = JsFuture::from(p).await {
            r.body = text.as_string().unwrap_or_default();
        }
    }
    Outcome::Http(r)
}
