//! localStorage, with a memory fallback. Storage that is missing (sandboxed iframe: reading
//! `window.localStorage` throws), disabled, or full (`QuotaExceededError`) must never cost an
//! event or throw into the page: the tracker keeps going in memory and reports it once.

use scantrack_core::pipeline::StorageOp;
use wasm_bindgen::JsValue;

pub enum Store {
    Local(web_sys::Storage),
    /// Key-value pairs: two keys per site (queue and session), so a list, not a map (a
    /// `BTreeMap` instantiation is kilobytes of wasm).
    Memory(Vec<(String, String)>),
}

/// A short description of a thrown JS value: `QuotaExceededError: ...`.
pub fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    js_sys::Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .map(|name| {
            let msg = js_sys::Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_default();
            format!("{name}: {msg}")
        })
        .unwrap_or_else(|| "unknown error".into())
}

fn memory_notice(why: &str) -> String {
    format!("localStorage is not usable ({why}); events are kept in memory only on this page and may be lost if it closes")
}

impl Store {
    /// Opens localStorage, checking that a write works; otherwise memory and the reason.
    pub fn open(window: &web_sys::Window) -> (Store, Option<String>) {
        const PROBE: &str = "scantrack:probe";
        match window.local_storage() {
            Ok(Some(s)) => match s.set_item(PROBE, "1").and_then(|_| s.remove_item(PROBE)) {
                Ok(()) => (Store::Local(s), None),
                Err(e) => (
                    Store::Memory(Vec::new()),
                    Some(memory_notice(&describe(&e))),
                ),
            },
            Ok(None) => (
                Store::Memory(Vec::new()),
                Some(memory_notice("not available")),
            ),
            Err(e) => (
                Store::Memory(Vec::new()),
                Some(memory_notice(&describe(&e))),
            ),
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        match self {
            Store::Local(s) => s.get_item(key).ok().flatten(),
            Store::Memory(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
        }
    }

    /// Applies one operation; on a storage failure switches to memory (keeping the value
    /// there) and returns the notice to report.
    pub fn apply(&mut self, op: StorageOp) -> Option<String> {
        let result = match (&*self, &op.value) {
            (Store::Local(s), Some(v)) => s.set_item(&op.key, v),
            (Store::Local(s), None) => s.remove_item(&op.key),
            (Store::Memory(_), _) => Ok(()),
        };
        let notice = result.err().map(|e| memory_notice(&describe(&e)));
        if notice.is_some() {
            *self = Store::Memory(Vec::new());
        }
        if let Store::Memory(m) = self {
            m.retain(|(k, _)| *k != op.key);
            if let Some(v) = op.value {
                m.push((op.key, v));
            }
        }
        notice
    }
}
