//! scantrack-collector: a local collector for scantrack (CONTRACT.md section 2) with an event
//! inspector and fault injection, for development, tests and rehearsals.
//!
//! The library is the whole server, so integration tests start it in-process with a
//! [`clock::ManualClock`]; `main.rs` only parses flags and prints the bound address.
//!
//! What a request body means is never decided here: `scantrack_core::validate` (the code the
//! snippet runs before queueing an event) says whether it is valid, and with which status.

pub mod clock;
pub mod config;
pub mod faults;
pub mod ratelimit;
pub mod server;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use server::{start, Collector, StartError};
pub use store::{DbPath, Store};
