//! The collector's validation rules (contract 2.1), written once and shared: the collector
//! answers with them, and the client checks an event with the same functions before queueing
//! it, so that an event scantrack accepts is never refused by a conforming collector.
//!
//! Order of checks for a request body (so the status is deterministic):
//! 1. body larger than `Limits::max_body_bytes` -> 413;
//! 2. not JSON, or not an object -> 400 (`detail` names the JSON error);
//! 3. `site_id` missing, not a string, malformed, unknown or inactive -> 400
//!    `site_id not found or inactive`;
//! 4. more than `Limits::max_events` events -> 413;
//! 5. every field rule -> 422 with one `Issue` per problem, all problems reported at once.

use crate::json::Value;
use crate::time::Millis;

/// Default body limit of the collector: 256 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Default number of events per request: 500.
pub const DEFAULT_MAX_EVENTS: usize = 500;
/// `event_name`: 1..=128 characters after trimming.
pub const MAX_EVENT_NAME_CHARS: usize = 128;
/// `url` and `referrer`: at most 2048 characters.
pub const MAX_URL_CHARS: usize = 2048;
/// `properties`: compact JSON at most 10,240 bytes of UTF-8.
pub const MAX_PROPERTIES_BYTES: usize = 10_240;
/// `site_id`: 1..=64 of `A-Z a-z 0-9 _ -`.
pub const MAX_SITE_ID_CHARS: usize = 64;

/// The collector's limits (flags with these defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: DEFAULT_MAX_BODY_BYTES, max_events: DEFAULT_MAX_EVENTS }
    }
}

/// One element of a 422 `loc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocPart {
    Key(String),
    Index(usize),
}

/// One 422 problem, FastAPI style: `{"loc": ["body", "events", 3, "scan_session_id"],
/// "msg": "invalid UUID", "type": "value_error.uuid"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub loc: Vec<LocPart>,
    pub msg: String,
    pub kind: &'static str,
}

impl Issue {
    /// `{"loc": [...], "msg": "...", "type": "..."}`.
    pub fn to_value(&self) -> Value {
        todo!("helper")
    }
}

/// A field-level problem, before it is placed at a `loc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// For people: says what is wrong and what to do ("currency 'EURO' is not an ISO 4217 code;
    /// use e.g. EUR").
    pub msg: String,
    /// FastAPI-style type, e.g. `value_error.missing`, `value_error.uuid`, `type_error.str`.
    pub kind: &'static str,
}

/// Why a request body is refused; each variant maps to one status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// 400 with `{"detail": "<detail>"}`.
    BadRequest { detail: String },
    /// 413 with `{"detail": "payload too large"}`.
    TooLarge,
    /// 422 with `{"detail": [issue, ...]}`.
    Invalid(Vec<Issue>),
}

impl BatchError {
    pub fn status(&self) -> u16 {
        match self {
            BatchError::BadRequest { .. } => 400,
            BatchError::TooLarge => 413,
            BatchError::Invalid(_) => 422,
        }
    }
    /// The response body for this error.
    pub fn to_value(&self) -> Value {
        todo!("helper")
    }
}

/// A request that passed every rule. `events` are the event objects as received (the collector
/// stores them); `sent_at` is parsed when present.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidBatch {
    pub site_id: String,
    pub sent_at: Option<Millis>,
    pub events: Vec<Value>,
}

/// Validates a `POST /collect/batch` body. `site_is_active` answers for a well-formed site id
/// whether it is known and active.
pub fn validate_batch(
    body: &str,
    limits: &Limits,
    site_is_active: &dyn Fn(&str) -> bool,
) -> Result<ValidBatch, BatchError> {
    todo!("helper: {body} {limits:?} {}", site_is_active(""))
}

/// Validates a `POST /ct` body: one event object with `site_id` at its top level. Issues are
/// located at `["body", <field>]` (no events index). The result has exactly one event (without
/// `site_id`).
pub fn validate_single(
    body: &str,
    limits: &Limits,
    site_is_active: &dyn Fn(&str) -> bool,
) -> Result<ValidBatch, BatchError> {
    todo!("helper: {body} {limits:?} {}", site_is_active(""))
}

/// All field problems of one event object (empty when valid). Used by `validate_batch` for each
/// element, and by the client on the event it is about to queue.
pub fn check_event(event: &Value) -> Vec<(String, FieldError)> {
    todo!("helper: {event:?}")
}

/// `site_id`: 1..=64 of `A-Z a-z 0-9 _ -`.
pub fn is_site_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SITE_ID_CHARS
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `event_name`: 1..=128 characters after trimming.
pub fn check_event_name(name: &str) -> Result<(), FieldError> {
    todo!("helper: {name}")
}

/// `currency`: a current ISO 4217 alpha-3 code, upper case.
pub fn check_currency(code: &str) -> Result<(), FieldError> {
    todo!("helper: {code}")
}

/// `properties`: an object, compact JSON at most 10,240 bytes, no raw email in any string
/// (keys included, any depth).
pub fn check_properties(v: &Value) -> Result<(), FieldError> {
    todo!("helper: {v:?}")
}
