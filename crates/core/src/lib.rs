//! scantrack-core: everything scantrack decides, and nothing it does.
//!
//! This crate holds the whole delivery logic of the snippet (event model and wire format,
//! validation, privacy guard, sessions, the bounded queue, batching, response classification,
//! backoff and pacing, the persisted form) as plain Rust with no I/O: it never reads a clock,
//! never draws random numbers, never touches a browser or a socket. Time (`Millis`), entropy
//! (`Entropy`), Unicode lower-casing (`pii::LowerCase`: the browser has the tables, so the wasm
//! need not) and server replies come in as arguments; decisions come out as values. The web
//! shell (the `scantrack` crate, wasm32 only) drives it; the collector shares its validation so
//! that client and server can never disagree about what is valid.
//!
//! Invariant enforced by the build: this crate has no browser dependency (see Cargo.toml); it is
//! compiled and tested on the host.

pub mod config;
pub mod entropy;
pub mod event;
pub mod iso4217;
pub mod json;
pub mod names;
pub mod persist;
pub mod pii;
pub mod pipeline;
pub mod queue;
pub mod response;
pub mod retry;
pub mod session;
pub mod sha256;
pub mod text;
pub mod time;
pub mod uuid;
pub mod validate;

pub use config::Config;
pub use entropy::Entropy;
pub use pipeline::Pipeline;
pub use time::Millis;
