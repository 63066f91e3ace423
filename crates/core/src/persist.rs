//! The persisted form of the queue and the session (CONTRACT.md 3.3, 5): what the shell writes
//! to localStorage under `scantrack:<site_id>:queue` and `scantrack:<site_id>:session`.
//!
//! Versioned JSON:
//! `{"v":1,"site_id":"...","pause":<ms>,"events":[{"id":"...","t":<ms>,"e":{<wire event>}}]}`
//! (`pause`: no request before this instant, so a reload during a rate limit or an outage
//! does not send early; absent when there is none)
//! and `{"v":1,"site_id":"...","id":"<uuid>","last":<ms>,"email_hash":"..."}`.
//! Invariant: decoding never panics; a value of another version, another site, or not ours at
//! all is refused with a `PersistError` (the pipeline reports it and starts empty), and within a
//! readable queue each broken entry is skipped and counted, so one bad entry never costs the rest.

use crate::json::{self, Value};
use crate::queue::QueuedEvent;
use crate::session::Session;
use crate::text::{concat, dec};
use crate::time::{push_decimal, Millis};
use crate::uuid;
use crate::validate;

/// The current format version.
pub const FORMAT_VERSION: u64 = 1;

/// `scantrack:<site_id>:<what>`: one builder for the three keys.
fn key(site_id: &str, what: &str) -> String {
    concat(&["scantrack:", site_id, ":", what])
}

pub fn queue_key(site_id: &str) -> String {
    key(site_id, "queue")
}

pub fn session_key(site_id: &str) -> String {
    key(site_id, "session")
}

/// Where the tabs of a site tell each other when they sent (pacing across tabs):
/// `{"v":1,"site_id":"...","sends":[<ms>, ...]}`, the last minute only.
pub fn sends_key(site_id: &str) -> String {
    key(site_id, "sends")
}

/// Encodes the site's recent send instants.
pub fn encode_sends(site_id: &str, sends: &[Millis]) -> String {
    let mut out = String::new();
    header(&mut out, site_id);
    out.push_str(",\"sends\":[");
    for (i, t) in sends.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_decimal(&mut out, t.0);
    }
    out.push_str("]}");
    out
}

/// Decodes the site's recent send instants; unreadable entries are skipped (this is advice
/// for pacing, not data: a broken value only costs the advice).
pub fn decode_sends(text: &str, site_id: &str) -> Result<Vec<Millis>, PersistError> {
    let v = parse(text, site_id)?;
    let Some(Value::Array(items)) = v.get("sends") else {
        return Err(PersistError::Corrupt("no sends array"));
    };
    let mut out = Vec::with_capacity(items.len());
    for t in items {
        if let Some(t) = millis_of(Some(t)) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Why a stored value was discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersistError {
    /// Not shaped like our format: what is missing or wrong.
    Corrupt(&'static str),
    /// Not JSON.
    NotJson(json::JsonError),
    /// Written by a format version this code does not read.
    Version(u64),
    /// Written for another site id.
    ForeignSite(String),
}

impl PersistError {
    /// What `Display` writes, built without `core::fmt`: "stored value <why>; discarded".
    pub fn describe(&self) -> String {
        let detail;
        let why: [&str; 3] = match self {
            PersistError::Corrupt(why) => ["is corrupt (", why, ")"],
            PersistError::NotJson(e) => {
                detail = e.describe();
                ["is corrupt (", &detail, ")"]
            }
            PersistError::Version(v) => {
                detail = concat(&[&dec(*v), ", this build reads ", &dec(FORMAT_VERSION)]);
                ["has format version ", &detail, ""]
            }
            PersistError::ForeignSite(s) => {
                detail = crate::json::quote(s);
                ["belongs to site ", &detail, ""]
            }
        };
        concat(&["stored value ", why[0], why[1], why[2], "; discarded"])
    }
}

impl core::fmt::Display for PersistError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A decoded queue: the readable events, and how many entries were unreadable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedQueue {
    /// Boxed as the queue holds them (not yet in it: `seq` 0, not in flight), so that
    /// restoring and merging need no second event type.
    #[allow(clippy::vec_box)]
    pub events: Vec<Box<QueuedEvent>>,
    pub skipped: usize,
    /// No request before this instant (a stored `Retry-After` or backoff deadline).
    pub paused_until: Millis,
}

fn header(out: &mut String, site_id: &str) {
    out.push_str("{\"v\":");
    push_decimal(out, FORMAT_VERSION);
    out.push_str(",\"site_id\":");
    json::write_str(out, site_id);
}

/// Encodes the events (their id, time and wire JSON) in order, and the pause deadline.
pub fn encode_queue(site_id: &str, paused_until: Millis, events: &[&QueuedEvent]) -> String {
    let mut out = String::new();
    header(&mut out, site_id);
    if paused_until > Millis::ZERO {
        out.push_str(",\"pause\":");
        push_decimal(&mut out, paused_until.0);
    }
    out.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        json::write_str(&mut out, &e.id);
        out.push_str(",\"t\":");
        push_decimal(&mut out, e.enqueued_at.0);
        out.push_str(",\"e\":");
        out.push_str(&e.json);
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// Parses a stored value and checks its version and site.
fn parse(text: &str, site_id: &str) -> Result<Value, PersistError> {
    let v = json::parse(text).map_err(PersistError::NotJson)?;
    check_header(&v, site_id)?;
    Ok(v)
}

/// Checks version and site of a stored object.
fn check_header(v: &Value, site_id: &str) -> Result<(), PersistError> {
    if !matches!(v, Value::Object(_)) {
        return Err(PersistError::Corrupt("not a JSON object"));
    }
    match v
        .get("v")
        .and_then(Value::as_number)
        .and_then(|n| n.as_u64())
    {
        Some(FORMAT_VERSION) => {}
        Some(other) => return Err(PersistError::Version(other)),
        None => return Err(PersistError::Corrupt("no format version")),
    }
    match v.get("site_id").and_then(Value::as_str) {
        Some(s) if s == site_id => Ok(()),
        Some(s) => Err(PersistError::ForeignSite(s.to_string())),
        None => Err(PersistError::Corrupt("no site_id")),
    }
}

fn millis_of(v: Option<&Value>) -> Option<Millis> {
    v.and_then(Value::as_number)
        .and_then(|n| n.as_u64())
        .map(Millis)
}

/// Decodes a stored queue for `site_id`. Each entry must have a canonical `id` equal to its
/// event's `event_id`, and an event that passes the wire validation with the `timestamp` the
/// client wrote for the entry's `t` (`validate::is_valid_event`); others are skipped.
pub fn decode_queue(text: &str, site_id: &str) -> Result<DecodedQueue, PersistError> {
    let v = parse(text, site_id)?;
    let Some(Value::Array(entries)) = v.get("events") else {
        return Err(PersistError::Corrupt("no events array"));
    };
    let paused_until = millis_of(v.get("pause")).unwrap_or(Millis::ZERO);
    let mut out = DecodedQueue {
        events: Vec::new(),
        skipped: 0,
        paused_until,
    };
    for entry in entries {
        match decode_entry(entry, &out.events) {
            Some(e) => out.events.push(e),
            None => out.skipped += 1,
        }
    }
    Ok(out)
}

/// The entry as a queued event, unless it is broken or repeats the id of one in `before`.
fn decode_entry(entry: &Value, before: &[Box<QueuedEvent>]) -> Option<Box<QueuedEvent>> {
    let Some(Value::String(id)) = entry.get("id") else {
        return None;
    };
    if !uuid::is_canonical(id) || before.iter().any(|o| o.id == *id) {
        return None;
    }
    let t = millis_of(entry.get("t"))?;
    let event = entry.get("e")?;
    if !matches!(event.get("event_id"), Some(Value::String(e)) if e == id)
        || !validate::is_valid_event(event, t)
    {
        return None;
    }
    let Some(Value::String(name)) = event.get("event_name") else {
        return None;
    };
    Some(QueuedEvent::new(
        id.clone(),
        name.clone(),
        event.to_json(),
        t,
    ))
}

/// Encodes the session.
pub fn encode_session(site_id: &str, s: &Session) -> String {
    let mut out = String::new();
    header(&mut out, site_id);
    out.push_str(",\"id\":");
    json::write_str(&mut out, &s.id);
    out.push_str(",\"last\":");
    push_decimal(&mut out, s.last_activity.0);
    if let Some(h) = &s.email_hash {
        out.push_str(",\"email_hash\":");
        json::write_str(&mut out, h);
    }
    out.push('}');
    out
}

/// Decodes a stored session for `site_id`.
pub fn decode_session(text: &str, site_id: &str) -> Result<Session, PersistError> {
    let v = parse(text, site_id)?;
    let Some(id) = (match v.get("id") {
        Some(Value::String(id)) => uuid::parse_canonical(id),
        _ => None,
    }) else {
        return Err(PersistError::Corrupt("no valid session id"));
    };
    let Some(last_activity) = millis_of(v.get("last")) else {
        return Err(PersistError::Corrupt("no last activity"));
    };
    let email_hash = match v.get("email_hash") {
        None | Some(Value::Null) => None,
        Some(Value::String(h)) if crate::pii::is_email_hash(h) => Some(h.clone()),
        Some(_) => return Err(PersistError::Corrupt("invalid email_hash")),
    };
    Ok(Session {
        id,
        last_activity,
        email_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
    /// The instant of `event`'s timestamp, 2026-11-23T10:00:01.500Z.
    const T: Millis = Millis(1_795_428_001_500);

    fn event(id: &str, name: &str) -> String {
        format!(
            r#"{{"event_id":"{id}","scan_session_id":"7ad26d4f-3181-4ef8-b6ca-b8f59499dd43","event_name":"{name}","timestamp":"2026-11-23T10:00:01.500Z"}}"#
        )
    }

    #[test]
    fn queue_round_trips_with_its_pause() {
        let e = event(ID, "purchase");
        let queued = QueuedEvent::new(ID.into(), "purchase".into(), e.clone(), T);
        let text = encode_queue("site_demo", Millis(99), &[&queued]);
        assert!(text.starts_with(r#"{"v":1,"site_id":"site_demo","pause":99,"events":["#));
        let d = decode_queue(&text, "site_demo").unwrap();
        assert_eq!(d.paused_until, Millis(99));
        assert_eq!(d.skipped, 0);
        assert_eq!(d.events, vec![queued]);
    }

    #[test]
    fn foreign_versions_and_sites_are_refused() {
        let other = r#"{"v":2,"site_id":"site_demo","events":[]}"#;
        assert_eq!(
            decode_queue(other, "site_demo"),
            Err(PersistError::Version(2))
        );
        let other = r#"{"v":1,"site_id":"b","events":[]}"#;
        assert_eq!(
            decode_queue(other, "a"),
            Err(PersistError::ForeignSite("b".into()))
        );
        let not_json = decode_queue("", "a").unwrap_err();
        assert!(matches!(not_json, PersistError::NotJson(_)));
        // The parser's reason is in the text only with the core's `json-detail` feature (the
        // shipped wasm goes without).
        let expected = if cfg!(feature = "json-detail") {
            "stored value is corrupt (invalid JSON at byte 0: unexpected end of input); discarded"
        } else {
            "stored value is corrupt (invalid JSON at byte 0); discarded"
        };
        assert_eq!(not_json.describe(), expected);
        assert_eq!(
            decode_queue("[1]", "a"),
            Err(PersistError::Corrupt("not a JSON object"))
        );
    }

    #[test]
    fn every_refusal_says_why_and_that_the_value_was_discarded() {
        for (e, text) in [
            (
                PersistError::Corrupt("no events array"),
                "stored value is corrupt (no events array); discarded",
            ),
            (
                PersistError::Version(2),
                "stored value has format version 2, this build reads 1; discarded",
            ),
            (
                PersistError::ForeignSite("b".into()),
                "stored value belongs to site \"b\"; discarded",
            ),
        ] {
            assert_eq!(e.describe(), text);
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn broken_duplicate_or_mismatched_entries_are_skipped_one_by_one() {
        let good = event(ID, "a");
        let other = "1b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
        let text = format!(
            r#"{{"v":1,"site_id":"s","events":[{{"id":"{ID}","t":{t},"e":{good}}},{{"id":"{ID}","t":{t},"e":{good}}},{{"id":"{other}","t":{t},"e":{good}}},{{"id":"{other}","t":{t},"e":{}}},{{"id":"x"}},7]}}"#,
            event(other, ""),
            t = T.0
        );
        let d = decode_queue(&text, "s").unwrap();
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.skipped, 5);
    }

    #[test]
    fn an_entry_whose_timestamp_is_not_the_one_written_for_its_instant_is_skipped() {
        let entry = |t: u64, timestamp: &str| {
            let e = event(ID, "a").replace("2026-11-23T10:00:01.500Z", timestamp);
            let text =
                format!(r#"{{"v":1,"site_id":"s","events":[{{"id":"{ID}","t":{t},"e":{e}}}]}}"#);
            let d = decode_queue(&text, "s").unwrap();
            (d.events.len(), d.skipped)
        };
        assert_eq!(entry(T.0, "2026-11-23T10:00:01.500Z"), (1, 0));
        for (t, timestamp) in [
            (T.0 + 1, "2026-11-23T10:00:01.500Z"),
            (T.0 - 1000, "2026-11-23T10:00:01.500Z"),
            // Valid RFC 3339 that the collector would take, but not what the client writes.
            (T.0, "2026-11-23T10:00:01.5Z"),
            (T.0, "2026-11-23t10:00:01.500z"),
            (T.0, "2026-11-23T10:00:01.500+00:00"),
            (T.0, "2026-11-23T10:00:01.500123Z"),
            (T.0, "not a date"),
            // Past the four-digit years: the collector refuses it, so it is not kept either.
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(entry(t, timestamp), (0, 1), "{t} {timestamp}");
        }
    }

    #[test]
    fn session_round_trips_and_rejects_a_bad_hash() {
        let s = Session {
            id: "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43".into(),
            last_activity: Millis(42),
            email_hash: Some(
                "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72".into(),
            ),
        };
        let text = encode_session("s", &s);
        assert_eq!(decode_session(&text, "s"), Ok(s));
        let bad = r#"{"v":1,"site_id":"s","id":"7ad26d4f-3181-4ef8-b6ca-b8f59499dd43","last":1,"email_hash":"ada@example.com"}"#;
        assert!(matches!(
            decode_session(bad, "s"),
            Err(PersistError::Corrupt(_))
        ));
    }

    #[test]
    fn send_instants_round_trip_and_bad_entries_are_skipped() {
        let text = encode_sends("s", &[Millis(1), Millis(2)]);
        assert_eq!(text, r#"{"v":1,"site_id":"s","sends":[1,2]}"#);
        assert_eq!(decode_sends(&text, "s"), Ok(vec![Millis(1), Millis(2)]));
        let mixed = r#"{"v":1,"site_id":"s","sends":[3,"x",-1,4.5,5]}"#;
        assert_eq!(decode_sends(mixed, "s"), Ok(vec![Millis(3), Millis(5)]));
        assert!(decode_sends("nope", "s").is_err());
    }

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(queue_key("site_demo"), "scantrack:site_demo:queue");
        assert_eq!(session_key("site_demo"), "scantrack:site_demo:session");
    }
}
