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
//!
//! Conventions of the field rules: an optional field that is `null` counts as absent, and so
//! does a required one (`null` gets `field required`); unknown fields are ignored (newer clients
//! may send more); when a key is repeated, the last one counts, as in `JSON.parse`. Lengths are
//! counted in characters (Unicode scalar values), sizes in UTF-8 bytes. `type` values follow
//! FastAPI's (`value_error.missing`, `type_error.str`, ...); messages say what to change.

use crate::json::{self, Number, Value};
use crate::text::{concat, dec, prefix_chars};
use crate::time::{format_rfc3339_millis, parse_rfc3339_utc_millis, Millis};
use crate::{iso4217, pii, uuid};

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

/// The 400 `detail` for every `site_id` problem: one answer for missing, malformed, unknown and
/// inactive, so that the collector does not tell strangers which site ids exist.
pub const SITE_ID_DETAIL: &str = "site_id not found or inactive";
/// The 400 `detail` for a body that is JSON but not an object.
pub const NOT_AN_OBJECT_DETAIL: &str = "request body must be a JSON object";
/// The 413 `detail`.
pub const TOO_LARGE_DETAIL: &str = "payload too large";

/// The collector's limits (flags with these defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events: DEFAULT_MAX_EVENTS,
        }
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
        let loc = self
            .loc
            .iter()
            .map(|part| match part {
                LocPart::Key(k) => Value::String(k.clone()),
                LocPart::Index(i) => {
                    Value::Number(Number::from_i64(i64::try_from(*i).unwrap_or(i64::MAX)))
                }
            })
            .collect();
        Value::Object(vec![
            ("loc".into(), Value::Array(loc)),
            ("msg".into(), Value::String(self.msg.clone())),
            ("type".into(), Value::String(self.kind.into())),
        ])
    }

    /// The issue for `error` at `prefix` followed by `field`, a path as `check_event` gives it
    /// (`conversion_value.currency`; empty for the event itself).
    fn at(prefix: &[LocPart], field: &str, error: FieldError) -> Issue {
        let mut loc = prefix.to_vec();
        loc.extend(
            field
                .split('.')
                .filter(|k| !k.is_empty())
                .map(|k| LocPart::Key(k.into())),
        );
        Issue {
            loc,
            msg: error.msg,
            kind: error.kind,
        }
    }
}

const INVALID_UUID: &str = "invalid UUID";
const INVALID_DATETIME: &str =
    "invalid datetime; use RFC 3339 in UTC with milliseconds, e.g. 2026-11-23T10:00:01.500Z";

/// A field-level problem, before it is placed at a `loc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// For people: says what is wrong and what to do ("currency 'EURO' is not an ISO 4217 code;
    /// use e.g. EUR").
    pub msg: String,
    /// FastAPI-style type, e.g. `value_error.missing`, `value_error.uuid`, `type_error.str`.
    pub kind: &'static str,
}

impl FieldError {
    fn new(msg: impl Into<String>, kind: &'static str) -> FieldError {
        FieldError {
            msg: msg.into(),
            kind,
        }
    }
    fn missing() -> FieldError {
        FieldError::new("field required", "value_error.missing")
    }
    fn not_a_string(v: &Value) -> FieldError {
        FieldError::new(
            concat(&["expected a string, not ", v.type_name()]),
            "type_error.str",
        )
    }
    fn not_an_object(v: &Value) -> FieldError {
        FieldError::new(
            concat(&["expected an object, not ", v.type_name()]),
            "type_error.dict",
        )
    }
    fn invalid_datetime() -> FieldError {
        FieldError::new(INVALID_DATETIME, "value_error.datetime")
    }
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
        let detail = match self {
            BatchError::BadRequest { detail } => Value::String(detail.clone()),
            BatchError::TooLarge => Value::String(TOO_LARGE_DETAIL.into()),
            BatchError::Invalid(issues) => {
                Value::Array(issues.iter().map(Issue::to_value).collect())
            }
        };
        Value::Object(vec![("detail".into(), detail)])
    }
}

/// One line for logs: the detail, or each issue as `loc: msg`.
impl core::fmt::Display for BatchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BatchError::BadRequest { detail } => f.write_str(detail),
            BatchError::TooLarge => f.write_str(TOO_LARGE_DETAIL),
            BatchError::Invalid(issues) => {
                for (i, issue) in issues.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    for (j, part) in issue.loc.iter().enumerate() {
                        if j > 0 {
                            f.write_str(".")?;
                        }
                        match part {
                            LocPart::Key(k) => f.write_str(k)?,
                            LocPart::Index(n) => f.write_str(&dec(*n as u64))?,
                        }
                    }
                    f.write_str(": ")?;
                    f.write_str(&issue.msg)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BatchError {}

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
    let root = parse_body(body, limits)?;
    let site_id = check_site_id(&root, site_is_active)?;
    let events = present(&root, "events");
    if matches!(events, Some(Value::Array(items)) if items.len() > limits.max_events) {
        return Err(BatchError::TooLarge);
    }

    let mut issues = Vec::new();
    let body_loc = [LocPart::Key("body".into())];
    let sent_at = match present(&root, "sent_at") {
        None => None,
        Some(v) => match check_datetime(v) {
            Ok(t) => Some(t),
            Err(e) => {
                issues.push(Issue::at(&body_loc, "sent_at", e));
                None
            }
        },
    };
    match events {
        None => issues.push(Issue::at(&body_loc, "events", FieldError::missing())),
        Some(Value::Array(items)) if items.is_empty() => issues.push(Issue::at(
            &body_loc,
            "events",
            FieldError::new(
                "events is empty; send at least 1 event",
                "value_error.list.min_items",
            ),
        )),
        Some(Value::Array(items)) => {
            for (i, event) in items.iter().enumerate() {
                let prefix = [
                    body_loc[0].clone(),
                    LocPart::Key("events".into()),
                    LocPart::Index(i),
                ];
                for (field, e) in check_event(event) {
                    issues.push(Issue::at(&prefix, &field, e));
                }
            }
        }
        Some(other) => issues.push(Issue::at(
            &body_loc,
            "events",
            FieldError::new(
                concat(&["expected an array of events, not ", other.type_name()]),
                "type_error.list",
            ),
        )),
    }
    if !issues.is_empty() {
        return Err(BatchError::Invalid(issues));
    }

    let Value::Object(mut members) = root else {
        return Err(not_an_object());
    };
    // Take the events out rather than clone them: a body can be 256 KiB. The last `events` key
    // is the one validated (`Value::get` semantics).
    let events = match members.iter().rposition(|(k, _)| k == "events") {
        Some(i) => match members.swap_remove(i).1 {
            Value::Array(items) => items,
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    Ok(ValidBatch {
        site_id,
        sent_at,
        events,
    })
}

/// Validates a `POST /ct` body: one event object with `site_id` at its top level. Issues are
/// located at `["body", <field>]` (no events index). The result has exactly one event (without
/// `site_id`).
///
/// A `sent_at` member is not part of `/ct`: it is left in the event as an unknown field, and
/// the result's `sent_at` is `None`.
pub fn validate_single(
    body: &str,
    limits: &Limits,
    site_is_active: &dyn Fn(&str) -> bool,
) -> Result<ValidBatch, BatchError> {
    let root = parse_body(body, limits)?;
    let site_id = check_site_id(&root, site_is_active)?;
    if limits.max_events < 1 {
        return Err(BatchError::TooLarge);
    }
    let body_loc = [LocPart::Key("body".into())];
    let issues: Vec<Issue> = check_event(&root)
        .into_iter()
        .map(|(field, e)| Issue::at(&body_loc, &field, e))
        .collect();
    if !issues.is_empty() {
        return Err(BatchError::Invalid(issues));
    }
    let Value::Object(mut members) = root else {
        return Err(not_an_object());
    };
    members.retain(|(k, _)| k != "site_id");
    Ok(ValidBatch {
        site_id,
        sent_at: None,
        events: vec![Value::Object(members)],
    })
}

/// All field problems of one event object (empty when valid). Used by `validate_batch` for each
/// element, and by the client on the event it is about to queue.
///
/// Each problem comes with the path of its field inside the event, dot-separated
/// (`scan_session_id`, `conversion_value.currency`); the path is empty when the event itself is
/// not an object. Problems are in field order: `event_id`, `scan_session_id`, `event_name`,
/// `timestamp`, `url`, `referrer`, `properties`, `conversion_value`, `user_identifiers`.
pub fn check_event(event: &Value) -> Vec<(String, FieldError)> {
    let mut out = Vec::new();
    if !matches!(event, Value::Object(_)) {
        out.push((String::new(), FieldError::not_an_object(event)));
        return out;
    }
    let mut push = |field: &str, e: FieldError| out.push((field.to_string(), e));

    if let Some(v) = present(event, "event_id") {
        if let Err(e) = check_uuid(v) {
            push("event_id", e);
        }
    }
    match present(event, "scan_session_id") {
        None => push("scan_session_id", FieldError::missing()),
        Some(v) => {
            if let Err(e) = check_uuid(v) {
                push("scan_session_id", e);
            }
        }
    }
    match present(event, "event_name") {
        None => push("event_name", FieldError::missing()),
        Some(Value::String(name)) => {
            if let Err(e) = check_event_name(name) {
                push("event_name", e);
            }
        }
        Some(other) => push("event_name", FieldError::not_a_string(other)),
    }
    match present(event, "timestamp") {
        None => push("timestamp", FieldError::missing()),
        Some(v) => {
            if let Err(e) = check_datetime(v) {
                push("timestamp", e);
            }
        }
    }
    for field in ["url", "referrer"] {
        match present(event, field) {
            None => {}
            Some(Value::String(s)) => {
                if let Err(e) = check_page_string(field, s) {
                    push(field, e);
                }
            }
            Some(other) => push(field, FieldError::not_a_string(other)),
        }
    }
    if let Some(v) = present(event, "properties") {
        for e in properties_errors(v) {
            push("properties", e);
        }
    }
    match present(event, "conversion_value") {
        None => {}
        Some(cv @ Value::Object(_)) => {
            match present(cv, "amount") {
                None => push("conversion_value.amount", FieldError::missing()),
                Some(Value::Number(n)) => {
                    if let Err(e) = check_amount(n) {
                        push("conversion_value.amount", e);
                    }
                }
                Some(other) => push(
                    "conversion_value.amount",
                    FieldError::new(
                        concat(&["expected a number like 19.98, not ", other.type_name()]),
                        "type_error.float",
                    ),
                ),
            }
            match present(cv, "currency") {
                None => push("conversion_value.currency", FieldError::missing()),
                Some(Value::String(code)) => {
                    if let Err(e) = check_currency(code) {
                        push("conversion_value.currency", e);
                    }
                }
                Some(other) => push("conversion_value.currency", FieldError::not_a_string(other)),
            }
        }
        Some(other) => push("conversion_value", FieldError::not_an_object(other)),
    }
    match present(event, "user_identifiers") {
        None => {}
        Some(ids @ Value::Object(_)) => {
            if let Some(Err(e)) = present(ids, "email_hash").map(check_email_hash) {
                push("user_identifiers.email_hash", e);
            }
        }
        Some(other) => push("user_identifiers", FieldError::not_an_object(other)),
    }
    out
}

/// Whether `check_event` finds no problem in `event` and its `timestamp` is the one the client
/// wrote for `tracked_at` (`timestamp_of`), without building any message: for the client's
/// stored queue, whose entries keep the instant beside the event and which only asks whether
/// to keep an entry. The equality is stronger than "parses as RFC 3339" and needs no date
/// parser (none ships in the wasm; the collector's `check_event` keeps the parser). The other
/// rules are `check_event`'s in its order, each through the predicate its `check_*` function
/// is made of; the tests check that the two agree on every case of this module and on
/// generated events.
pub fn is_valid_event(event: &Value, tracked_at: Millis) -> bool {
    fn uuid_or_absent(v: Option<&Value>, required: bool) -> bool {
        match v {
            None => !required,
            Some(v) => v.as_str().is_some_and(uuid::is_canonical),
        }
    }
    /// An optional string member that must pass `rule`.
    fn str_or_absent(v: Option<&Value>, rule: fn(&str) -> bool) -> bool {
        match v {
            None => true,
            Some(v) => v.as_str().is_some_and(rule),
        }
    }
    if !matches!(event, Value::Object(_)) {
        return false;
    }
    let page_string = |s: &str| s.len() <= MAX_URL_CHARS || s.chars().count() <= MAX_URL_CHARS;
    uuid_or_absent(present(event, "event_id"), false)
        && uuid_or_absent(present(event, "scan_session_id"), true)
        && present(event, "event_name")
            .and_then(Value::as_str)
            .is_some_and(|n| event_name_problem(n).is_ok())
        && present(event, "timestamp")
            .and_then(Value::as_str)
            .is_some_and(|t| timestamp_text(tracked_at).is_ok_and(|w| t == w))
        && str_or_absent(present(event, "url"), page_string)
        && str_or_absent(present(event, "referrer"), page_string)
        && match present(event, "properties") {
            None => true,
            Some(v @ Value::Object(_)) => {
                v.to_json().len() <= MAX_PROPERTIES_BYTES
                    && pii::find_email(v, "properties").is_none()
            }
            Some(_) => false,
        }
        && match present(event, "conversion_value") {
            None => true,
            Some(cv @ Value::Object(_)) => {
                matches!(present(cv, "amount"), Some(Value::Number(n)) if n.is_finite())
                    && present(cv, "currency")
                        .and_then(Value::as_str)
                        .is_some_and(iso4217::is_currency)
            }
            Some(_) => false,
        }
        && match present(event, "user_identifiers") {
            None => true,
            Some(ids @ Value::Object(_)) => {
                str_or_absent(present(ids, "email_hash"), pii::is_email_hash)
            }
            Some(_) => false,
        }
}

/// `site_id`: 1..=64 of `A-Z a-z 0-9 _ -`.
pub fn is_site_id(s: &str) -> bool {
    // By index, not `bytes().all()`: smaller in the wasm (as `uuid::is_canonical`).
    let mut i = 0;
    while i < s.len() {
        if !matches!(s.as_bytes()[i], b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-') {
            return false;
        }
        i += 1;
    }
    !s.is_empty() && s.len() <= MAX_SITE_ID_CHARS
}

/// `event_name`: 1..=128 characters after trimming.
pub fn check_event_name(name: &str) -> Result<(), FieldError> {
    event_name_problem(name).map_err(|msg| {
        let kind = match name.trim().is_empty() {
            true => "value_error.any_str.min_length",
            false => "value_error.any_str.max_length",
        };
        FieldError::new(msg, kind)
    })
}

/// `check_event_name`'s message alone. The client's checks (these `*_problem` functions) say
/// what is wrong without the error's type (`FieldError::kind`): the types are for the
/// collector's 422s, and every one the client carried would be downloaded by every visitor.
pub fn event_name_problem(name: &str) -> Result<(), String> {
    let chars = name.trim().chars().count();
    if chars == 0 {
        return Err("event_name is empty; give it 1 to 128 characters".into());
    }
    if chars > MAX_EVENT_NAME_CHARS {
        return Err(concat(&[
            "event_name has ",
            &dec(chars as u64),
            " characters; at most 128 are allowed (names are never truncated: shorten it)",
        ]));
    }
    Ok(())
}

/// `currency`: a current ISO 4217 alpha-3 code, upper case.
pub fn check_currency(code: &str) -> Result<(), FieldError> {
    currency_problem(code).map_err(|msg| FieldError::new(msg, "value_error.currency"))
}

/// `check_currency`'s message alone (see `event_name_problem`).
pub fn currency_problem(code: &str) -> Result<(), String> {
    if iso4217::is_currency(code) {
        return Ok(());
    }
    // Quote at most a few characters back: the message must stay short whatever was sent.
    let shown = prefix_chars(code, 16);
    let more = if shown.len() < code.len() { "..." } else { "" };
    let upper = code.to_ascii_uppercase();
    Err(if iso4217::is_currency(&upper) {
        concat(&["currency '", shown, more, "' must be upper case: ", &upper])
    } else {
        let prefix = prefix_chars(&upper, 3);
        let example = if iso4217::is_currency(prefix) {
            prefix
        } else {
            "EUR"
        };
        concat(&[
            "currency '",
            shown,
            more,
            "' is not an ISO 4217 code; use e.g. ",
            example,
        ])
    })
}

/// `properties`: an object, compact JSON at most 10,240 bytes, no raw email in any string
/// (keys included, any depth). When both the size and the email rule are broken, this gives
/// the size problem; `check_event` reports both.
pub fn check_properties(v: &Value) -> Result<(), FieldError> {
    match properties_errors(v).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn properties_errors(v: &Value) -> Vec<FieldError> {
    if !matches!(v, Value::Object(_)) {
        return vec![FieldError::not_an_object(v)];
    }
    let mut out = Vec::new();
    out.extend(properties_size_error(v.to_json().len()));
    out.extend(properties_email_error(v));
    out
}

/// `check_properties`' size rule for properties whose compact JSON is `size` bytes long: for
/// the client, which writes that JSON anyway (no second writing) and has already scrubbed
/// every string with the privacy guard (whose invariant settles the email rule: no second
/// walk). The same message as `check_properties`, alone (see `event_name_problem`).
pub fn properties_size_problem(size: usize) -> Result<(), String> {
    match size > MAX_PROPERTIES_BYTES {
        true => Err(concat(&[
            &dec(size as u64),
            " bytes as compact JSON; at most 10240 are allowed: send fewer or shorter values",
        ])),
        false => Ok(()),
    }
}

fn properties_size_error(size: usize) -> Option<FieldError> {
    let msg = properties_size_problem(size).err()?;
    Some(FieldError::new(msg, "value_error.properties.max_bytes"))
}

fn properties_email_error(v: &Value) -> Option<FieldError> {
    let path = pii::find_email(v, "properties")?;
    Some(FieldError::new(
        concat(&[
            &path,
            " contains a raw email address; send it with identify({email}) so it is \
             hashed into user_identifiers.email_hash, or remove it",
        ]),
        "value_error.pii",
    ))
}

/// The member `key` of `v` unless absent or `null`.
fn present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|v| !matches!(v, Value::Null))
}

fn check_uuid(v: &Value) -> Result<(), FieldError> {
    check_uuid_str(v.as_str().unwrap_or_default())
}

/// `event_id` and `scan_session_id`: a UUID in canonical hyphenated form.
pub fn check_uuid_str(s: &str) -> Result<(), FieldError> {
    uuid_problem(s).map_err(|msg| FieldError::new(msg, "value_error.uuid"))
}

/// `check_uuid_str`'s message alone (see `event_name_problem`).
pub fn uuid_problem(s: &str) -> Result<(), String> {
    match uuid::is_canonical(s) {
        true => Ok(()),
        false => Err(INVALID_UUID.into()),
    }
}

fn check_email_hash(v: &Value) -> Result<(), FieldError> {
    match v {
        Value::String(h) => check_email_hash_str(h),
        other => Err(FieldError::not_a_string(other)),
    }
}

/// `user_identifiers.email_hash`: exactly 64 lower-case hex characters.
pub fn check_email_hash_str(h: &str) -> Result<(), FieldError> {
    email_hash_problem(h).map_err(|msg| FieldError::new(msg, "value_error.email_hash"))
}

/// `check_email_hash_str`'s message alone (see `event_name_problem`).
pub fn email_hash_problem(h: &str) -> Result<(), String> {
    if pii::is_email_hash(h) {
        return Ok(());
    }
    Err(if pii::contains_email(h) {
        "email_hash holds a raw email address; send the SHA-256 hex of the normalised address \
         instead (identify({email}) computes it)"
    } else {
        "email_hash must be exactly 64 lower-case hex characters: the SHA-256 of the normalised \
         address"
    }
    .into())
}

fn check_datetime(v: &Value) -> Result<Millis, FieldError> {
    v.as_str()
        .ok_or_else(FieldError::invalid_datetime)
        .and_then(check_timestamp)
}

/// The last instant `timestamp` can name: 9999-12-31T23:59:59.999Z (RFC 3339 has four-digit
/// years; `format_rfc3339_millis` writes later ones in JavaScript's expanded form).
pub const MAX_TIMESTAMP: Millis = Millis(253_402_300_799_999);

/// The `timestamp` of an event tracked at `t`, or the error `check_timestamp` would give it:
/// `check_timestamp(&format_rfc3339_millis(t))` without parsing what was just written (the
/// client has no date parser in the wasm).
pub fn timestamp_of(t: Millis) -> Result<String, FieldError> {
    timestamp_text(t).map_err(|msg| FieldError::new(msg, "value_error.datetime"))
}

/// `timestamp_of` with the message alone (see `event_name_problem`).
pub fn timestamp_text(t: Millis) -> Result<String, String> {
    match t > MAX_TIMESTAMP {
        true => Err(INVALID_DATETIME.into()),
        false => Ok(format_rfc3339_millis(t)),
    }
}

/// `timestamp`: RFC 3339 in UTC with milliseconds. Returns the instant it names.
pub fn check_timestamp(s: &str) -> Result<Millis, FieldError> {
    parse_rfc3339_utc_millis(s).ok_or_else(FieldError::invalid_datetime)
}

/// `url` or `referrer` (`field`): at most `MAX_URL_CHARS` characters.
pub fn check_page_string(field: &str, s: &str) -> Result<(), FieldError> {
    // Characters never outnumber bytes: most URLs are settled without counting.
    if s.len() <= MAX_URL_CHARS {
        return Ok(());
    }
    let chars = s.chars().count();
    if chars > MAX_URL_CHARS {
        return Err(FieldError::new(
            concat(&[
                field,
                " has ",
                &dec(chars as u64),
                " characters; at most ",
                &dec(MAX_URL_CHARS as u64),
                " are allowed",
            ]),
            "value_error.any_str.max_length",
        ));
    }
    Ok(())
}

/// `conversion_value.amount`: a finite number.
pub fn check_amount(n: &Number) -> Result<(), FieldError> {
    match n.is_finite() {
        true => Ok(()),
        false => Err(FieldError::new(
            "amount is too large to be a finite number",
            "value_error.float.not_finite",
        )),
    }
}

fn not_an_object() -> BatchError {
    BatchError::BadRequest {
        detail: NOT_AN_OBJECT_DETAIL.into(),
    }
}

/// Steps 1 and 2: size, then JSON object.
fn parse_body(body: &str, limits: &Limits) -> Result<Value, BatchError> {
    if body.len() > limits.max_body_bytes {
        return Err(BatchError::TooLarge);
    }
    let root = json::parse(body).map_err(|e| BatchError::BadRequest {
        detail: concat(&["malformed JSON: ", &e.describe()]),
    })?;
    match root {
        Value::Object(_) => Ok(root),
        _ => Err(not_an_object()),
    }
}

/// Step 3: a well-formed, known, active `site_id`.
fn check_site_id(
    root: &Value,
    site_is_active: &dyn Fn(&str) -> bool,
) -> Result<String, BatchError> {
    match root.get("site_id").and_then(Value::as_str) {
        Some(id) if is_site_id(id) && site_is_active(id) => Ok(id.to_string()),
        _ => Err(BatchError::BadRequest {
            detail: SITE_ID_DETAIL.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SESSION: &str = "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43";
    const EVENT_ID: &str = "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
    const HASH: &str = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72";

    fn active(id: &str) -> bool {
        id == "site_demo"
    }

    fn minimal_event() -> serde_json::Value {
        json!({
            "scan_session_id": SESSION,
            "event_name": "page_view",
            "timestamp": "2026-11-23T10:00:01.500Z",
        })
    }

    fn event_with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut e = minimal_event();
        e[key] = value;
        e
    }

    fn event_without(key: &str) -> serde_json::Value {
        let mut e = minimal_event();
        e.as_object_mut().unwrap().remove(key);
        e
    }

    fn batch_of(events: Vec<serde_json::Value>) -> String {
        json!({ "site_id": "site_demo", "events": events }).to_string()
    }

    /// Every event any test validates also pins `is_valid_event` to `check_event`.
    fn validate(body: &str) -> Result<ValidBatch, BatchError> {
        if let Ok(root) = json::parse(body) {
            if let Some(Value::Array(events)) = root.get("events") {
                events.iter().for_each(assert_validity_agrees);
            }
        }
        validate_batch(body, &Limits::default(), &active)
    }

    fn assert_validity_agrees(event: &Value) {
        for t in instants_for(event) {
            assert_eq!(
                is_valid_event(event, t),
                client_validity(event, t),
                "{} at {t:?}",
                event.to_json()
            );
        }
    }

    /// What `is_valid_event(event, t)` must say: `check_event` passes and the timestamp is
    /// exactly the one the client writes for `t`.
    fn client_validity(event: &Value, t: Millis) -> bool {
        let written = event.get("timestamp").and_then(Value::as_str)
            == Some(format_rfc3339_millis(t).as_str());
        check_event(event).is_empty() && written
    }

    /// The instants to check an event at: the one its timestamp names (if any), the next one,
    /// and one past the last four-digit year.
    fn instants_for(event: &Value) -> [Millis; 3] {
        let named = event
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339_utc_millis)
            .unwrap_or(Millis(1_795_428_001_500));
        [named, Millis(named.0 + 1), Millis(MAX_TIMESTAMP.0 + 1)]
    }

    #[test]
    fn timestamp_of_writes_four_digit_years_only() {
        assert_eq!(
            timestamp_of(Millis(1_795_428_001_500)).as_deref(),
            Ok("2026-11-23T10:00:01.500Z")
        );
        assert_eq!(
            timestamp_of(MAX_TIMESTAMP).as_deref(),
            Ok("9999-12-31T23:59:59.999Z")
        );
        for t in [MAX_TIMESTAMP.0 + 1, u64::MAX] {
            assert_eq!(
                timestamp_of(Millis(t)).unwrap_err().kind,
                "value_error.datetime"
            );
        }
    }

    fn issues(body: &str) -> Vec<Issue> {
        match validate(body) {
            Err(BatchError::Invalid(issues)) => issues,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    /// The issues of a batch holding the one event, as (loc json, type).
    fn event_issues(event: serde_json::Value) -> Vec<(String, &'static str)> {
        issues(&batch_of(vec![event]))
            .into_iter()
            .map(|i| {
                (
                    Value::Array(
                        i.to_value()
                            .get("loc")
                            .unwrap()
                            .as_array()
                            .unwrap()
                            .to_vec(),
                    )
                    .to_json(),
                    i.kind,
                )
            })
            .collect()
    }

    fn one_issue(event: serde_json::Value, loc: &str, kind: &str) -> Issue {
        let all = issues(&batch_of(vec![event]));
        assert_eq!(all.len(), 1, "{all:?}");
        let issue = all.into_iter().next().unwrap();
        let got = Value::Array(
            issue
                .to_value()
                .get("loc")
                .unwrap()
                .as_array()
                .unwrap()
                .to_vec(),
        );
        assert_eq!(got.to_json(), loc);
        assert_eq!(issue.kind, kind);
        issue
    }

    fn assert_valid_event(event: serde_json::Value) {
        let body = batch_of(vec![event]);
        if let Err(e) = validate(&body) {
            panic!("{body} refused: {e}");
        }
    }

    fn bad_request(body: &str) -> String {
        match validate(body) {
            Err(BatchError::BadRequest { detail }) => detail,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    // --- whole requests ---

    #[test]
    fn contract_example_body_is_valid() {
        let body = r#"{
          "site_id": "site_demo",
          "sent_at": "2026-11-23T10:00:02.123Z",
          "events": [
            {
              "event_id": "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10",
              "scan_session_id": "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43",
              "event_name": "purchase",
              "timestamp": "2026-11-23T10:00:01.500Z",
              "url": "https://shop.example/thanks",
              "referrer": "https://shop.example/cart",
              "properties": { "sku": "A-1", "qty": 2 },
              "conversion_value": { "amount": 19.98, "currency": "EUR" },
              "user_identifiers": { "email_hash": "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72" }
            }
          ]
        }"#;
        let valid = validate(body).unwrap();
        assert_eq!(valid.site_id, "site_demo");
        assert_eq!(
            valid.sent_at,
            parse_rfc3339_utc_millis("2026-11-23T10:00:02.123Z")
        );
        assert!(valid.sent_at.is_some());
        assert_eq!(valid.events.len(), 1);
        assert_eq!(
            valid.events[0].get("event_name").and_then(Value::as_str),
            Some("purchase")
        );
    }

    #[test]
    fn minimal_event_without_optional_fields_is_valid() {
        let valid = validate(&batch_of(vec![minimal_event(), minimal_event()])).unwrap();
        assert_eq!(valid.sent_at, None);
        assert_eq!(valid.events.len(), 2);
    }

    #[test]
    fn optional_fields_may_be_null() {
        let mut e = minimal_event();
        for key in [
            "event_id",
            "url",
            "referrer",
            "properties",
            "conversion_value",
            "user_identifiers",
        ] {
            e[key] = serde_json::Value::Null;
        }
        assert_valid_event(e);
        assert_valid_event(event_with(
            "user_identifiers",
            json!({ "email_hash": null }),
        ));
        let body = json!({"site_id": "site_demo", "sent_at": null, "events": [minimal_event()]});
        assert_eq!(validate(&body.to_string()).unwrap().sent_at, None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut e = minimal_event();
        e["library"] = json!({"name": "scantrack"});
        e["conversion_value"] = json!({"amount": 1, "currency": "USD", "tax": "x"});
        let body = json!({"site_id": "site_demo", "v": 2, "events": [e]}).to_string();
        assert!(validate(&body).is_ok());
    }

    #[test]
    fn valid_events_are_returned_as_received() {
        // Written by hand: serde_json would sort the keys and print 1.5.
        let body = batch_of(vec![event_with("properties", json!("P"))])
            .replace(r#""P""#, r#"{"qty":2,"price":1.50}"#);
        let valid = validate(&body).unwrap();
        assert_eq!(
            valid.events[0].get("properties").unwrap().to_json(),
            r#"{"qty":2,"price":1.50}"#
        );
    }

    // --- order of checks ---

    #[test]
    fn body_over_the_limit_is_413_before_parsing() {
        let limits = Limits {
            max_body_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            validate_batch("{not json at all", &limits, &active),
            Err(BatchError::TooLarge)
        );
        let exactly = r#"{"a":1234}"#;
        assert_eq!(exactly.len(), 10);
        assert!(matches!(
            validate_batch(exactly, &limits, &active),
            Err(BatchError::BadRequest { .. })
        ));
    }

    #[test]
    fn malformed_json_is_400_naming_the_json_error() {
        let detail = bad_request(r#"{"site_id": "site_demo", "events": [}"#);
        assert!(
            detail.starts_with("malformed JSON: invalid JSON at byte "),
            "{detail}"
        );
        let detail = bad_request("");
        assert!(detail.starts_with("malformed JSON: "), "{detail}");
    }

    #[test]
    fn body_that_is_not_an_object_is_400() {
        for body in ["[]", "\"site_demo\"", "null", "42"] {
            assert_eq!(
                bad_request(body),
                "request body must be a JSON object",
                "{body}"
            );
        }
    }

    #[test]
    fn every_site_id_problem_is_the_same_400() {
        let events = json!([minimal_event()]);
        for site_id in [
            serde_json::Value::Null,
            json!(42),
            json!(""),
            json!("site demo"),
            json!("site.demo"),
            json!("a".repeat(65)),
            json!("site_unknown"),
        ] {
            let body = json!({"site_id": site_id, "events": events}).to_string();
            assert_eq!(
                bad_request(&body),
                "site_id not found or inactive",
                "{site_id}"
            );
        }
        let body = json!({"events": events}).to_string();
        assert_eq!(bad_request(&body), "site_id not found or inactive");
    }

    #[test]
    fn site_id_of_64_allowed_characters_is_well_formed() {
        assert!(is_site_id(&"a".repeat(64)));
        assert!(is_site_id("Site_demo-01"));
        let id = "A".repeat(64);
        let body = json!({"site_id": id, "events": [minimal_event()]}).to_string();
        assert!(validate_batch(&body, &Limits::default(), &|s| s == id).is_ok());
    }

    #[test]
    fn site_id_is_checked_before_event_count_and_field_rules() {
        let many = vec![json!("not an event"); DEFAULT_MAX_EVENTS + 1];
        let body = json!({"site_id": "nope!", "events": many}).to_string();
        assert_eq!(bad_request(&body), "site_id not found or inactive");
    }

    #[test]
    fn too_many_events_is_413_before_field_rules() {
        let limits = Limits {
            max_events: 2,
            ..Limits::default()
        };
        let body = batch_of(vec![json!(1), json!(2), json!(3)]);
        assert_eq!(
            validate_batch(&body, &limits, &active),
            Err(BatchError::TooLarge)
        );
        let body = batch_of(vec![minimal_event(), minimal_event()]);
        assert!(validate_batch(&body, &limits, &active).is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once_in_order() {
        let body = json!({
            "site_id": "site_demo",
            "sent_at": "yesterday",
            "events": [
                minimal_event(),
                event_with("scan_session_id", json!("nope")),
                json!({"event_name": "", "timestamp": "2026-11-23T10:00:01.500Z", "url": 5}),
            ]
        })
        .to_string();
        let got: Vec<(String, &str)> = issues(&body)
            .iter()
            .map(|i| {
                let v = i.to_value();
                (v.get("loc").unwrap().to_json(), i.kind)
            })
            .collect();
        assert_eq!(
            got,
            [
                (r#"["body","sent_at"]"#.to_string(), "value_error.datetime"),
                (
                    r#"["body","events",1,"scan_session_id"]"#.into(),
                    "value_error.uuid"
                ),
                (
                    r#"["body","events",2,"scan_session_id"]"#.into(),
                    "value_error.missing"
                ),
                (
                    r#"["body","events",2,"event_name"]"#.into(),
                    "value_error.any_str.min_length"
                ),
                (r#"["body","events",2,"url"]"#.into(), "type_error.str"),
            ]
        );
    }

    // --- top-level field rules ---

    #[test]
    fn invalid_sent_at_is_422_at_body_sent_at() {
        for sent_at in [
            json!("2026-11-23 10:00:02"),
            json!("2026-11-23T10:00:02.123+01:00"),
            json!(17),
        ] {
            let body =
                json!({"site_id": "site_demo", "sent_at": sent_at, "events": [minimal_event()]});
            let all = issues(&body.to_string());
            assert_eq!(all.len(), 1, "{sent_at}");
            assert_eq!(
                all[0].loc,
                [LocPart::Key("body".into()), LocPart::Key("sent_at".into())]
            );
            assert_eq!(all[0].kind, "value_error.datetime");
        }
    }

    #[test]
    fn missing_events_is_field_required() {
        for body in [
            json!({"site_id": "site_demo"}),
            json!({"site_id": "site_demo", "events": null}),
        ] {
            let all = issues(&body.to_string());
            assert_eq!(
                all,
                [Issue {
                    loc: vec![LocPart::Key("body".into()), LocPart::Key("events".into())],
                    msg: "field required".into(),
                    kind: "value_error.missing",
                }]
            );
        }
    }

    #[test]
    fn events_that_is_not_an_array_is_a_type_error() {
        let body = json!({"site_id": "site_demo", "events": minimal_event()}).to_string();
        let all = issues(&body);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].kind, "type_error.list");
        assert_eq!(all[0].msg, "expected an array of events, not an object");
    }

    #[test]
    fn empty_events_is_min_items() {
        let all = issues(&batch_of(vec![]));
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].kind, "value_error.list.min_items");
        assert_eq!(
            all[0].loc,
            [LocPart::Key("body".into()), LocPart::Key("events".into())]
        );
    }

    #[test]
    fn event_that_is_not_an_object_is_located_at_its_index() {
        let all = issues(&batch_of(vec![minimal_event(), json!("page_view")]));
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].loc,
            [
                LocPart::Key("body".into()),
                LocPart::Key("events".into()),
                LocPart::Index(1)
            ]
        );
        assert_eq!(all[0].kind, "type_error.dict");
        assert_eq!(all[0].msg, "expected an object, not a string");
    }

    // --- event field rules ---

    #[test]
    fn event_id_is_optional_but_must_be_a_canonical_uuid() {
        assert_valid_event(event_with("event_id", json!(EVENT_ID)));
        assert_valid_event(event_with("event_id", json!(EVENT_ID.to_ascii_uppercase())));
        for bad in [
            json!("0b6f1c1e5f0e4d559a433f1f6c1d2a10"),
            json!(""),
            json!(7),
        ] {
            let issue = one_issue(
                event_with("event_id", bad),
                r#"["body","events",0,"event_id"]"#,
                "value_error.uuid",
            );
            assert_eq!(issue.msg, "invalid UUID");
        }
    }

    #[test]
    fn missing_scan_session_id_is_field_required() {
        let issue = one_issue(
            event_without("scan_session_id"),
            r#"["body","events",0,"scan_session_id"]"#,
            "value_error.missing",
        );
        assert_eq!(issue.msg, "field required");
    }

    #[test]
    fn scan_session_id_must_be_a_canonical_uuid() {
        for bad in [
            json!("{7ad26d4f-3181-4ef8-b6ca-b8f59499dd43}"),
            json!("7ad26d4f31814ef8b6cab8f59499dd43"),
            json!("7ad26d4f-3181-4ef8-b6ca-b8f59499dd4z"),
            json!(12345),
            json!({}),
        ] {
            let issue = one_issue(
                event_with("scan_session_id", bad),
                r#"["body","events",0,"scan_session_id"]"#,
                "value_error.uuid",
            );
            assert_eq!(issue.msg, "invalid UUID");
        }
    }

    #[test]
    fn event_name_is_required_and_a_string() {
        one_issue(
            event_without("event_name"),
            r#"["body","events",0,"event_name"]"#,
            "value_error.missing",
        );
        let issue = one_issue(
            event_with("event_name", json!(3)),
            r#"["body","events",0,"event_name"]"#,
            "type_error.str",
        );
        assert_eq!(issue.msg, "expected a string, not a number");
    }

    #[test]
    fn event_name_is_1_to_128_characters_after_trimming() {
        assert_valid_event(event_with(
            "event_name",
            json!(format!("  {}  ", "x".repeat(128))),
        ));
        // Characters, not bytes: 128 two-byte characters are fine.
        assert_valid_event(event_with("event_name", json!("é".repeat(128))));
        one_issue(
            event_with("event_name", json!(" \t\n ")),
            r#"["body","events",0,"event_name"]"#,
            "value_error.any_str.min_length",
        );
        let issue = one_issue(
            event_with("event_name", json!("é".repeat(129))),
            r#"["body","events",0,"event_name"]"#,
            "value_error.any_str.max_length",
        );
        assert!(
            issue
                .msg
                .starts_with("event_name has 129 characters; at most 128"),
            "{}",
            issue.msg
        );
    }

    #[test]
    fn timestamp_is_required_rfc3339_utc_with_milliseconds() {
        one_issue(
            event_without("timestamp"),
            r#"["body","events",0,"timestamp"]"#,
            "value_error.missing",
        );
        for bad in [
            json!("2026-11-23T10:00:01Z"),
            json!("2026-11-23T10:00:01.500+02:00"),
            json!("2026-02-30T10:00:01.500Z"),
            json!("23/11/2026"),
            json!(1795428001500u64),
        ] {
            let issue = one_issue(
                event_with("timestamp", bad.clone()),
                r#"["body","events",0,"timestamp"]"#,
                "value_error.datetime",
            );
            assert!(issue.msg.contains("RFC 3339"), "{bad}");
        }
        assert_valid_event(event_with(
            "timestamp",
            json!("2026-11-23T10:00:01.500+00:00"),
        ));
    }

    #[test]
    fn url_and_referrer_are_strings_of_at_most_2048_characters() {
        for field in ["url", "referrer"] {
            let loc = format!(r#"["body","events",0,"{field}"]"#);
            let at_limit = format!("https://x.example/?q={}", "é".repeat(MAX_URL_CHARS - 21));
            assert_eq!(at_limit.chars().count(), MAX_URL_CHARS);
            assert_valid_event(event_with(field, json!(at_limit)));
            let issue = one_issue(
                event_with(field, json!(format!("{at_limit}x"))),
                &loc,
                "value_error.any_str.max_length",
            );
            assert_eq!(
                issue.msg,
                format!("{field} has 2049 characters; at most 2048 are allowed")
            );
            one_issue(
                event_with(field, json!(["https://x.example"])),
                &loc,
                "type_error.str",
            );
        }
    }

    #[test]
    fn properties_must_be_an_object() {
        let issue = one_issue(
            event_with("properties", json!(["a"])),
            r#"["body","events",0,"properties"]"#,
            "type_error.dict",
        );
        assert_eq!(issue.msg, "expected an object, not an array");
        assert_eq!(
            check_properties(&Value::Bool(true)).unwrap_err().kind,
            "type_error.dict"
        );
    }

    #[test]
    fn properties_are_at_most_10240_bytes_of_compact_json() {
        // {"k":"…"} is 8 bytes around the string.
        let fits = json!({ "k": "x".repeat(MAX_PROPERTIES_BYTES - 8) });
        assert_eq!(fits.to_string().len(), MAX_PROPERTIES_BYTES);
        assert_valid_event(event_with("properties", fits));
        let issue = one_issue(
            event_with(
                "properties",
                json!({ "k": "x".repeat(MAX_PROPERTIES_BYTES - 7) }),
            ),
            r#"["body","events",0,"properties"]"#,
            "value_error.properties.max_bytes",
        );
        assert!(
            issue
                .msg
                .starts_with("10241 bytes as compact JSON; at most 10240 are allowed"),
            "{}",
            issue.msg
        );
        // Measured compactly: the whitespace of the request does not count.
        let spaced = format!(
            r#"{{"site_id":"site_demo","events":[{{"scan_session_id":"{SESSION}","event_name":"e","timestamp":"2026-11-23T10:00:01.500Z","properties":{{   "k"  :  "{}"   }}}}]}}"#,
            "x".repeat(MAX_PROPERTIES_BYTES - 8)
        );
        assert!(validate(&spaced).is_ok());
    }

    #[test]
    fn properties_must_not_hold_a_raw_email_anywhere() {
        for (props, path) in [
            (json!({"contact": "ada@example.com"}), "properties.contact"),
            (
                json!({"list": ["ok", {"to": "mailto:a%40b.io"}]}),
                "properties.list[1].to",
            ),
            (
                json!({"ada@example.com": true}),
                "properties.[email redacted]",
            ),
        ] {
            let issue = one_issue(
                event_with("properties", props),
                r#"["body","events",0,"properties"]"#,
                "value_error.pii",
            );
            assert!(
                issue
                    .msg
                    .starts_with(&format!("{path} contains a raw email address")),
                "{}",
                issue.msg
            );
            assert!(
                !pii::contains_email(&issue.msg),
                "the message must not echo the address"
            );
        }
        assert_valid_event(event_with(
            "properties",
            json!({"handle": "@ada", "host": "user@localhost"}),
        ));
    }

    #[test]
    fn oversized_properties_with_an_email_report_both_problems() {
        let props = json!({ "to": "ada@example.com", "k": "x".repeat(MAX_PROPERTIES_BYTES) });
        let kinds: Vec<_> = event_issues(event_with("properties", props))
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(
            kinds,
            ["value_error.properties.max_bytes", "value_error.pii"]
        );
    }

    #[test]
    fn conversion_value_must_be_an_object() {
        one_issue(
            event_with("conversion_value", json!(19.98)),
            r#"["body","events",0,"conversion_value"]"#,
            "type_error.dict",
        );
    }

    #[test]
    fn conversion_amount_is_a_required_finite_number() {
        let loc = r#"["body","events",0,"conversion_value","amount"]"#;
        one_issue(
            event_with("conversion_value", json!({"currency": "EUR"})),
            loc,
            "value_error.missing",
        );
        one_issue(
            event_with(
                "conversion_value",
                json!({"amount": "19.98", "currency": "EUR"}),
            ),
            loc,
            "type_error.float",
        );
        let body = batch_of(vec![minimal_event()]).replace(
            r#""event_name""#,
            r#""conversion_value":{"amount":1e400,"currency":"EUR"},"event_name""#,
        );
        let all = issues(&body);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].kind, "value_error.float.not_finite");
        assert_valid_event(event_with(
            "conversion_value",
            json!({"amount": -5, "currency": "JPY"}),
        ));
    }

    #[test]
    fn conversion_currency_is_a_current_iso4217_code_in_upper_case() {
        let loc = r#"["body","events",0,"conversion_value","currency"]"#;
        let cv = |c: serde_json::Value| {
            event_with("conversion_value", json!({"amount": 1, "currency": c}))
        };
        let issue = one_issue(cv(json!("EURO")), loc, "value_error.currency");
        assert_eq!(
            issue.msg,
            "currency 'EURO' is not an ISO 4217 code; use e.g. EUR"
        );
        let issue = one_issue(cv(json!("eur")), loc, "value_error.currency");
        assert_eq!(issue.msg, "currency 'eur' must be upper case: EUR");
        one_issue(cv(json!("HRK")), loc, "value_error.currency");
        one_issue(cv(json!(978)), loc, "type_error.str");
        one_issue(
            event_with("conversion_value", json!({"amount": 1})),
            loc,
            "value_error.missing",
        );
        for code in ["EUR", "USD", "GBP", "JPY", "CHF"] {
            assert_valid_event(cv(json!(code)));
        }
    }

    #[test]
    fn currency_messages_stay_short_whatever_was_sent() {
        let e = check_currency(&"Z".repeat(1000)).unwrap_err();
        assert_eq!(
            e.msg,
            format!(
                "currency '{}...' is not an ISO 4217 code; use e.g. EUR",
                "Z".repeat(16)
            )
        );
        assert_eq!(
            check_currency("DOLLAR").unwrap_err().msg,
            "currency 'DOLLAR' is not an ISO 4217 code; use e.g. EUR"
        );
        assert_eq!(
            check_currency("USDT").unwrap_err().msg,
            "currency 'USDT' is not an ISO 4217 code; use e.g. USD"
        );
        assert_eq!(
            check_currency("€").unwrap_err().msg,
            "currency '€' is not an ISO 4217 code; use e.g. EUR"
        );
    }

    #[test]
    fn email_hash_is_optional_but_64_lower_case_hex() {
        let loc = r#"["body","events",0,"user_identifiers","email_hash"]"#;
        let ids = |h: serde_json::Value| event_with("user_identifiers", json!({ "email_hash": h }));
        assert_valid_event(ids(json!(HASH)));
        assert_valid_event(event_with("user_identifiers", json!({})));
        for bad in [
            json!(HASH.to_ascii_uppercase()),
            json!(&HASH[1..]),
            json!(format!("{HASH}0")),
            json!(""),
        ] {
            one_issue(ids(bad), loc, "value_error.email_hash");
        }
        let issue = one_issue(ids(json!("ada@example.com")), loc, "value_error.email_hash");
        assert!(issue
            .msg
            .starts_with("email_hash holds a raw email address"));
        one_issue(ids(json!(1)), loc, "type_error.str");
        one_issue(
            event_with("user_identifiers", json!("ada@example.com")),
            r#"["body","events",0,"user_identifiers"]"#,
            "type_error.dict",
        );
    }

    #[test]
    fn check_event_gives_dotted_field_paths() {
        let e = json::parse(
            &event_with("conversion_value", json!({"amount": 1, "currency": "EURO"})).to_string(),
        )
        .unwrap();
        let got = check_event(&e);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "conversion_value.currency");
        let got = check_event(&Value::Null);
        assert_eq!(got[0].0, "");
        assert_eq!(got[0].1.kind, "type_error.dict");
    }

    /// The limits are written into the client's messages as text (no number formatting for
    /// constants in the wasm): they must say what the constants are.
    #[test]
    fn messages_name_the_limits_as_they_are() {
        let limit = |n: usize| concat(&[" ", &dec(n as u64), " "]);
        let empty = event_name_problem(" ").unwrap_err();
        assert!(empty.ends_with(&concat(&[
            "1 to",
            &limit(MAX_EVENT_NAME_CHARS),
            "characters"
        ])));
        let long = event_name_problem(&"x".repeat(MAX_EVENT_NAME_CHARS + 1)).unwrap_err();
        assert!(long.contains(&concat(&["at most", &limit(MAX_EVENT_NAME_CHARS), "are"])));
        let big = properties_size_problem(MAX_PROPERTIES_BYTES + 1).unwrap_err();
        assert!(big.contains(&concat(&["at most", &limit(MAX_PROPERTIES_BYTES), "are"])));
    }

    #[test]
    fn check_event_name_counts_trimmed_characters() {
        assert!(check_event_name("purchase").is_ok());
        assert!(check_event_name(&format!(" {} ", "日".repeat(128))).is_ok());
        assert_eq!(
            check_event_name("").unwrap_err().kind,
            "value_error.any_str.min_length"
        );
        assert_eq!(
            check_event_name(&"x".repeat(129)).unwrap_err().kind,
            "value_error.any_str.max_length"
        );
    }

    // --- /ct ---

    #[test]
    fn single_event_body_is_validated_like_a_batch_element() {
        let mut body = minimal_event();
        body["site_id"] = json!("site_demo");
        body["event_id"] = json!(EVENT_ID);
        let valid = validate_single(&body.to_string(), &Limits::default(), &active).unwrap();
        assert_eq!(valid.site_id, "site_demo");
        assert_eq!(valid.sent_at, None);
        assert_eq!(valid.events.len(), 1);
        assert_eq!(valid.events[0].get("site_id"), None);
        assert_eq!(
            valid.events[0].get("event_id").and_then(Value::as_str),
            Some(EVENT_ID)
        );
    }

    #[test]
    fn single_event_issues_are_located_without_an_index() {
        let mut body = event_with("scan_session_id", json!("nope"));
        body["site_id"] = json!("site_demo");
        body["conversion_value"] = json!({"amount": 1, "currency": "EURO"});
        let err = validate_single(&body.to_string(), &Limits::default(), &active).unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(
            err.to_value().to_json(),
            concat!(
                r#"{"detail":[{"loc":["body","scan_session_id"],"msg":"invalid UUID","type":"value_error.uuid"},"#,
                r#"{"loc":["body","conversion_value","currency"],"msg":"currency 'EURO' is not an ISO 4217 code; use e.g. EUR","type":"value_error.currency"}]}"#
            )
        );
    }

    #[test]
    fn single_event_body_follows_the_same_order_of_checks() {
        let limits = Limits {
            max_body_bytes: 20,
            ..Limits::default()
        };
        let long = json!({"site_id": "x", "junk": "y".repeat(30)}).to_string();
        assert_eq!(
            validate_single(&long, &limits, &active),
            Err(BatchError::TooLarge)
        );
        let l = Limits::default();
        assert_eq!(
            validate_single("[1]", &l, &active).unwrap_err().status(),
            400
        );
        let no_site = minimal_event().to_string();
        assert_eq!(
            validate_single(&no_site, &l, &active),
            Err(BatchError::BadRequest {
                detail: SITE_ID_DETAIL.into()
            })
        );
        let bad_site_bad_event = json!({"site_id": "other"}).to_string();
        assert_eq!(
            validate_single(&bad_site_bad_event, &l, &active)
                .unwrap_err()
                .status(),
            400
        );
    }

    // --- response bodies ---

    #[test]
    fn error_bodies_are_the_contracts() {
        let invalid = BatchError::Invalid(vec![Issue {
            loc: vec![
                LocPart::Key("body".into()),
                LocPart::Key("events".into()),
                LocPart::Index(3),
                LocPart::Key("scan_session_id".into()),
            ],
            msg: "invalid UUID".into(),
            kind: "value_error.uuid",
        }]);
        assert_eq!(
            invalid.to_value().to_json(),
            r#"{"detail":[{"loc":["body","events",3,"scan_session_id"],"msg":"invalid UUID","type":"value_error.uuid"}]}"#
        );
        assert_eq!(
            BatchError::TooLarge.to_value().to_json(),
            r#"{"detail":"payload too large"}"#
        );
        let bad = BatchError::BadRequest {
            detail: SITE_ID_DETAIL.into(),
        };
        assert_eq!(
            bad.to_value().to_json(),
            r#"{"detail":"site_id not found or inactive"}"#
        );
        assert_eq!(
            (
                bad.status(),
                BatchError::TooLarge.status(),
                invalid.status()
            ),
            (400, 413, 422)
        );
        assert_eq!(
            invalid.to_string(),
            "body.events.3.scan_session_id: invalid UUID"
        );
    }

    #[test]
    fn every_422_names_the_offending_event_index_for_the_client() {
        // The client drops exactly the events named by loc[2]: every event issue must carry it.
        let body = batch_of(vec![
            minimal_event(),
            event_with("url", json!(1)),
            minimal_event(),
            event_without("timestamp"),
        ]);
        let indices: Vec<_> = issues(&body).iter().map(|i| i.loc[2].clone()).collect();
        assert_eq!(indices, [LocPart::Index(1), LocPart::Index(3)]);
    }

    /// `is_valid_event` against `check_event` on generated events: each member absent, `null`,
    /// valid, or broken in one of the ways the rules know.
    mod validity_agrees {
        use super::*;
        use proptest::prelude::*;

        fn member(key: &'static str, values: &[&'static str]) -> BoxedStrategy<String> {
            let values: Vec<&'static str> = values.to_vec();
            // The first value is the valid one: weighted so that whole events are often valid.
            let valid = format!(r#""{key}":{},"#, values[0]);
            prop_oneof![
                1 => Just(String::new()),
                1 => Just(format!(r#""{key}":null,"#)),
                6 => Just(valid),
                3 => proptest::sample::select(values).prop_map(move |v| format!(r#""{key}":{v},"#)),
            ]
            .boxed()
        }

        fn event() -> impl Strategy<Value = String> {
            let uuids = &[
                r#""7ad26d4f-3181-4ef8-b6ca-b8f59499dd43""#,
                r#""7AD26D4F-3181-4ef8-b6ca-b8f59499dd43""#,
                r#""7ad26d4f31814ef8b6cab8f59499dd43""#,
                r#""""#,
                "1",
                "[]",
            ][..];
            let parts = vec![
                member("event_id", uuids),
                member("scan_session_id", uuids),
                member(
                    "event_name",
                    &[r#""page_view""#, r#""  ""#, r#""x ""#, "7", "{}"],
                ),
                member(
                    "timestamp",
                    &[
                        r#""2026-11-23T10:00:01.500Z""#,
                        r#""2026-11-23T10:00:01Z""#,
                        // Valid RFC 3339, not as the client writes it.
                        r#""2026-11-23T10:00:01.5Z""#,
                        r#""2026-11-23t10:00:01.500z""#,
                        r#""2026-11-23T10:00:01.500+00:00""#,
                        r#""+010000-01-01T00:00:00.000Z""#,
                        r#""2026-02-30T10:00:01.500Z""#,
                        "0",
                    ],
                ),
                member("url", &[r#""https://a.example/""#, "false", r#""é""#]),
                member("referrer", &[r#""""#, "[1]", r#""https://b.example/?q=1""#]),
                member(
                    "properties",
                    &[
                        "{}",
                        r#"{"plan":"pro","n":[1,null,{"k":"v"}]}"#,
                        r#"{"who":"ada@example.com"}"#,
                        r#"{"ada%40example.com":1}"#,
                        r#"{"deep":[[{"x":"a@b.co"}]]}"#,
                        "[]",
                        r#""s""#,
                        "3",
                    ],
                ),
                member(
                    "conversion_value",
                    &[
                        r#"{"amount":19.98,"currency":"EUR"}"#,
                        r#"{"amount":1e999,"currency":"EUR"}"#,
                        r#"{"amount":"1","currency":"EUR"}"#,
                        r#"{"amount":1,"currency":"eur"}"#,
                        r#"{"amount":1,"currency":null}"#,
                        r#"{"amount":null,"currency":"USD"}"#,
                        r#"{"currency":"USD"}"#,
                        r#"{"amount":0}"#,
                        r#"{"amount":0,"currency":7}"#,
                        "{}",
                        "[]",
                        "1",
                    ],
                ),
                member(
                    "user_identifiers",
                    &[
                        r#"{"email_hash":"b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"}"#,
                        r#"{"email_hash":"B5FC85E55755F9E0D030A10AB4429B6B2944855F9A0D60077FE832BECBC41D72"}"#,
                        r#"{"email_hash":"ada@example.com"}"#,
                        r#"{"email_hash":null}"#,
                        r#"{"email_hash":1}"#,
                        "{}",
                        r#""x""#,
                    ],
                ),
            ];
            (parts, any::<bool>()).prop_map(|(parts, repeat_first)| {
                let mut body = parts.concat();
                if repeat_first {
                    // A repeated key: the last one counts, for both.
                    body.push_str(r#""event_name":"again","#);
                }
                format!("{{{}\"end\":0}}", body)
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            #[test]
            fn is_valid_event_agrees_with_check_event(text in event()) {
                let v = json::parse(&text).unwrap();
                for t in instants_for(&v) {
                    prop_assert_eq!(is_valid_event(&v, t), client_validity(&v, t), "{} at {:?}", text, t);
                }
            }

            #[test]
            fn is_valid_event_agrees_on_any_json(v in any_value(), t in any::<u64>()) {
                prop_assert_eq!(is_valid_event(&v, Millis(t)), client_validity(&v, Millis(t)));
            }

            #[test]
            fn timestamp_of_is_check_timestamp_of_the_formatted_instant(
                t in prop_oneof![0..=MAX_TIMESTAMP.0 + 1_000_000, any::<u64>()]
            ) {
                let formatted = format_rfc3339_millis(Millis(t));
                match timestamp_of(Millis(t)) {
                    Ok(w) => {
                        prop_assert_eq!(&w, &formatted);
                        prop_assert_eq!(check_timestamp(&w), Ok(Millis(t)));
                    }
                    Err(e) => prop_assert_eq!(Err(e), check_timestamp(&formatted)),
                }
            }
        }

        fn any_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                Just(Value::Bool(true)),
                any::<i64>().prop_map(|n| Value::Number(Number::from_i64(n))),
                "[a-z@. ]{0,6}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    proptest::collection::vec(("[a-z_]{1,16}", inner), 0..4)
                        .prop_map(Value::Object),
                ]
            })
        }
    }
}
