//! scantrack: a browser tracking snippet. The delivery logic is `scantrack_core` (re-exported
//! as `scantrack::core`), a state machine with no I/O; this crate is the web shell around it:
//! timers, `fetch`/`sendBeacon`, localStorage, page lifecycle, and the JavaScript API.
//!
//! The shell exists only on `wasm32` (its browser dependencies are gated on that target, so
//! the core cannot reach them); `options` and `command` are pure and tested on the host.
//!
//! From Rust (Leptos, Yew, Dioxus), on wasm32:
//!
//! ```ignore
//! use scantrack::{Options, Tracker, core::event::EventInput};
//! let tracker = Tracker::start(Options::new("site_demo", "https://collect.example.com")?)?;
//! tracker.track(EventInput::new("signup").with_conversion(19.98, "EUR"))?;
//! tracker.identify_email("ada@example.com")?;
//! tracker.flush().await;
//! ```

pub use scantrack_core as core;

pub mod command;
pub mod options;

pub use options::Options;

/// The global allocator of the shipped wasm (feature `small-alloc`): see scantrack-alloc.
#[cfg(all(target_arch = "wasm32", feature = "small-alloc"))]
#[global_allocator]
static ALLOC: scantrack_alloc::SizeClassAlloc<scantrack_alloc::WasmMemory> =
    scantrack_alloc::SizeClassAlloc::new(scantrack_alloc::WasmMemory);

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(all(target_arch = "wasm32", feature = "host-api"))]
pub use web::scantrack_host;
#[cfg(all(target_arch = "wasm32", feature = "rust-api"))]
pub use web::{Flush, Notice, Tracker};
