//! Fault injection and the request log, for tests and rehearsals (served on loopback only).
//!
//! A [`FaultPlan`] scripts what the collector does with the next `POST /collect/batch` or
//! `POST /ct` requests: each arriving POST takes the next [`FaultStep`] off the queue (a step
//! with `times: n` serves n requests). A step can delay the response, drop the connection
//! without answering, answer with any status, body, `Retry-After` and headers, or refuse one
//! event with a 422. A scripted answer replaces the collector's processing entirely: nothing is
//! stored and no rate-limit token is taken. Sticky settings (a lower 413 threshold, event ids
//! that always get a 422) stay until the plan is replaced or reset.
//!
//! The [`RequestLog`] keeps every API request (POST and OPTIONS to the API paths) with its
//! arrival time and the response sent, so an end-to-end test can assert on exactly what a
//! browser sent and what it got back. It is a ring of at most `capacity` records.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Default number of request-log records kept (`--request-log-capacity`).
pub const DEFAULT_REQUEST_LOG_CAPACITY: usize = 10_000;
/// Request bodies are kept in the log up to this many bytes.
pub const MAX_LOGGED_BODY_BYTES: usize = 256 * 1024;

/// `Retry-After` as scripted: delta-seconds (`2`) or any text (`"Wed, 21 Oct 2026 07:28:00 GMT"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RetryAfter {
    Seconds(u64),
    Text(String),
}

impl RetryAfter {
    pub fn header_value(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::Text(t) => t.clone(),
        }
    }
}

/// A 422 for one event of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectEvent {
    /// The event's index in `events` (ignored for `/ct`).
    #[serde(default)]
    pub index: usize,
    /// The field named in `loc` (default `event_name`).
    #[serde(default = "default_reject_field")]
    pub field: String,
    #[serde(default = "default_reject_msg")]
    pub msg: String,
    #[serde(rename = "type", default = "default_reject_type")]
    pub kind: String,
}

fn default_reject_field() -> String {
    "event_name".into()
}
fn default_reject_msg() -> String {
    "rejected by fault injection".into()
}
fn default_reject_type() -> String {
    "value_error.injected".into()
}

/// What to do with one request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    /// Answer with this status instead of processing the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body of the scripted answer: a JSON string is sent as is (not JSON-quoted), any other
    /// JSON value as JSON. Default: `{"detail": ...}` suited to the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// `Retry-After` header on the answer (scripted or normal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<RetryAfter>,
    /// Extra or replaced headers on the answer (e.g. `X-RateLimit-Remaining: 0`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Wait this long before answering (or before processing, when there is no `status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Close the connection without any response (after `delay_ms`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// Answer 422 naming one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_event: Option<RejectEvent>,
    /// How many requests this step serves (default 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

impl FaultStep {
    /// One line for the request log and the refused table.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = self.delay_ms {
            parts.push(format!("delay {d} ms"));
        }
        if self.drop {
            parts.push("drop connection".into());
        }
        if let Some(s) = self.status {
            parts.push(format!("status {s}"));
        }
        if let Some(r) = &self.reject_event {
            parts.push(format!("422 for event {} ({})", r.index, r.field));
        }
        if let Some(r) = &self.retry_after {
            parts.push(format!("Retry-After {}", r.header_value()));
        }
        if parts.is_empty() {
            parts.push("pass through".into());
        }
        format!("injected: {}", parts.join(", "))
    }
}

/// The whole fault configuration, as `POST /__admin/faults` takes it and `GET` returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Steps for the next POSTs, in order.
    #[serde(default)]
    pub responses: VecDeque<FaultStep>,
    /// Sticky 413 threshold in bytes, replacing `--max-body-bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Sticky events-per-request limit, replacing `--max-events`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<usize>,
    /// Events with these ids always get a 422 (`loc` names each one's index and `event_id`);
    /// nothing of such a request is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reject_event_ids: Vec<String>,
}

/// `POST /__admin/faults` body: a plan, or with `"append": true` steps added to the queue
/// (the sticky settings are then left as they are).
#[derive(Clone, Debug, Default)]
pub struct FaultsRequest {
    pub append: bool,
    pub plan: FaultPlan,
}

impl FaultsRequest {
    /// Parses the body; unknown fields are errors (a typo must not silently script nothing).
    /// Hand-split rather than `#[serde(flatten)]`, which ignores `deny_unknown_fields`.
    pub fn from_json(text: &str) -> Result<FaultsRequest, serde_json::Error> {
        let mut v: serde_json::Value = serde_json::from_str(text)?;
        let append = match v.as_object_mut().and_then(|o| o.remove("append")) {
            None => false,
            Some(a) => serde_json::from_value(a)?,
        };
        Ok(FaultsRequest {
            append,
            plan: serde_json::from_value(v)?,
        })
    }
}

impl FaultPlan {
    /// Applies a `POST /__admin/faults` body.
    pub fn apply(&mut self, req: FaultsRequest) {
        if req.append {
            self.responses.extend(req.plan.responses);
        } else {
            *self = req.plan;
        }
        self.responses.retain(|s| s.times > 0);
    }

    /// The step for the next POST, if any is scripted.
    pub fn next_step(&mut self) -> Option<FaultStep> {
        let front = self.responses.front_mut()?;
        if front.times > 1 {
            front.times -= 1;
            let mut step = front.clone();
            step.times = 1;
            Some(step)
        } else {
            self.responses.pop_front()
        }
    }
}

/// One API request and what it got.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// 1, 2, 3, ... since start or the last reset; `?since=` takes records after it.
    pub seq: u64,
    pub request_id: String,
    /// Arrival time, ms since the Unix epoch (collector clock).
    pub received_at: u64,
    pub method: String,
    pub path: String,
    pub client_ip: String,
    pub content_type: Option<String>,
    pub origin: Option<String>,
    pub body_bytes: usize,
    /// The request body (lossy UTF-8, cut at `MAX_LOGGED_BODY_BYTES`).
    pub body: String,
    /// `None` when the connection was dropped without a response.
    pub status: Option<u16>,
    pub response_headers: BTreeMap<String, String>,
    pub response_body: String,
    /// What fault step was applied, if any.
    pub fault: Option<String>,
    /// Time from arrival to response, ms (wall clock).
    pub duration_ms: u64,
}

/// The last `capacity` API requests.
#[derive(Debug)]
pub struct RequestLog {
    records: VecDeque<RequestRecord>,
    capacity: usize,
    next_seq: u64,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            records: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 1,
        }
    }

    /// Adds a record, numbering it.
    pub fn push(&mut self, mut record: RequestRecord) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// Records with `seq > since`, oldest first.
    pub fn since(&self, since: u64) -> Vec<RequestRecord> {
        self.records
            .iter()
            .filter(|r| r.seq > since)
            .cloned()
            .collect()
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.next_seq = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_served_in_order_and_times_repeats_one() {
        let mut plan = FaultPlan::default();
        let req = FaultsRequest::from_json(
            r#"{"responses": [{"status": 503, "times": 2}, {"drop": true}]}"#,
        )
        .unwrap();
        plan.apply(req);
        assert_eq!(plan.next_step().unwrap().status, Some(503));
        assert_eq!(plan.next_step().unwrap().status, Some(503));
        assert!(plan.next_step().unwrap().drop);
        assert_eq!(plan.next_step(), None);
    }

    #[test]
    fn append_keeps_the_queue_and_sticky_settings() {
        let mut plan = FaultPlan::default();
        plan.apply(
            FaultsRequest::from_json(r#"{"max_body_bytes": 100, "responses": [{"status": 500}]}"#)
                .unwrap(),
        );
        plan.apply(
            FaultsRequest::from_json(r#"{"append": true, "responses": [{"status": 502}]}"#)
                .unwrap(),
        );
        assert_eq!(plan.max_body_bytes, Some(100));
        assert_eq!(plan.responses.len(), 2);
        plan.apply(FaultsRequest::from_json("{}").unwrap());
        assert_eq!(
            plan,
            FaultPlan::default(),
            "a plain POST replaces everything"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<FaultStep>(r#"{"stauts": 503}"#).is_err());
        assert!(FaultsRequest::from_json(r#"{"response": []}"#).is_err());
        assert!(FaultsRequest::from_json(r#"{"append": true, "response": []}"#).is_err());
        assert!(FaultsRequest::from_json(r#"{"response": []}"#).is_err());
        assert!(FaultsRequest::from_json(r#"{"append": true, "response": []}"#).is_err());
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let s: FaultStep = serde_json::from_str(r#"{"retry_after": 3}"#).unwrap();
        assert_eq!(s.retry_after.unwrap().header_value(), "3");
        let s: FaultStep =
            serde_json::from_str(r#"{"retry_after": "Wed, 21 Oct 2026 07:28:00 GMT"}"#).unwrap();
        assert_eq!(
            s.retry_after.unwrap().header_value(),
            "Wed, 21 Oct 2026 07:28:00 GMT"
        );
    }

    #[test]
    fn the_log_is_a_ring_numbered_from_one() {
        let mut log = RequestLog::new(2);
        for _ in 0..3 {
            log.push(RequestRecord {
                seq: 0,
                request_id: String::new(),
                received_at: 0,
                method: "POST".into(),
                path: "/ct".into(),
                client_ip: String::new(),
                content_type: None,
                origin: None,
                body_bytes: 0,
                body: String::new(),
                status: Some(200),
                response_headers: BTreeMap::new(),
                response_body: String::new(),
                fault: None,
                duration_ms: 0,
            });
        }
        let seqs: Vec<u64> = log.since(0).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
        assert_eq!(log.since(2).len(), 1);
    }
}
