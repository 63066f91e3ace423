//! scantrack: the browser tracking snippet. The delivery logic is `scantrack_core` (no I/O);
//! this crate is the web shell around it (wasm32 only).

pub use scantrack_core as core;
