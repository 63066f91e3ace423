//! The event model: what `track` accepts (`EventInput`), and the exact wire JSON of one element
//! of `/collect/batch`'s `events` (CONTRACT.md 2.1), built once when the event is accepted.
//!
//! Invariant: `build` either returns an event that passes the shared validation
//! (`validate::check_event`, the collector's own rules) with every string scrubbed of raw email
//! addresses by the privacy policy, or a `TrackError` that says what to fix. It never truncates
//! a name; it does shorten `url`/`referrer` past 2048 characters (they are collected from the
//! page, not chosen by the caller, and a long tracking URL must not cost the event).

use crate::json::{self, Number, Value};
use crate::pii::{self, EmailNormalization, LowerCase, PiiError, PiiPolicy};
use crate::text::concat;
use crate::time::Millis;
use crate::validate::{self, MAX_URL_CHARS};

/// How deep `properties` may nest (the object itself is level 1). The collector, like the
/// core's parser, reads at most `json::MAX_DEPTH` (64) levels in a whole body, and an event sits
/// 3 levels deep in a batch and 4 in the stored queue: deeper properties would get the whole
/// batch refused (400, and sending stops for the page) and the stored queue discarded as
/// unreadable at the next load. 32 leaves room for both wrappers.
pub const MAX_PROPERTIES_DEPTH: usize = 32;

/// Whether `v` nests more than `limit` levels (a scalar is level 0); looks no deeper than
/// `limit + 1`, so a value built by hand thousands of levels deep cannot exhaust the stack here.
fn deeper_than(v: &Value, limit: usize) -> bool {
    match v {
        Value::Array(items) => limit == 0 || items.iter().any(|c| deeper_than(c, limit - 1)),
        Value::Object(members) => {
            limit == 0 || members.iter().any(|(_, c)| deeper_than(c, limit - 1))
        }
        _ => false,
    }
}

/// `conversion_value`: an amount and an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    pub amount: Amount,
    pub currency: String,
}

/// A conversion amount. From JavaScript it is the JSON number text that `JSON.stringify`
/// wrote (`19.98`), kept as text end to end and sent as it came: the snippet then carries no
/// float parsing or formatting code (some 30 KB of wasm, STYLE.md rule 6). Rust callers give an
/// `f64` (`EventInput::with_conversion`), converted once, as JavaScript would write it.
#[derive(Clone, Debug, PartialEq)]
pub enum Amount {
    /// A JSON number; `build` refuses one that is not finite (`1e400`).
    Number(Number),
    /// A Rust caller's `f64` with no JSON form, as Rust writes it: `NaN`, `inf` or `-inf`.
    NotFinite(&'static str),
}

impl Amount {
    /// The amount `x`, written as JavaScript's `String(x)` does.
    pub fn from_f64(x: f64) -> Amount {
        match Number::from_f64(x) {
            Some(n) => Amount::Number(n),
            None if x.is_nan() => Amount::NotFinite("NaN"),
            None if x > 0.0 => Amount::NotFinite("inf"),
            None => Amount::NotFinite("-inf"),
        }
    }
}

/// One event as the page describes it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EventInput {
    pub name: String,
    /// A JSON object, or `None`.
    pub properties: Option<Value>,
    pub conversion: Option<Conversion>,
    pub url: Option<String>,
    pub referrer: Option<String>,
    /// The event's id when the caller made it already (a shell that returns the id at the
    /// call and builds the event later); a lower-case canonical UUID, unique per event (the
    /// collector stores an id once). `None`: the pipeline draws a v4 id.
    pub event_id: Option<String>,
}

impl EventInput {
    pub fn new(name: &str) -> Self {
        EventInput {
            name: name.to_string(),
            ..Default::default()
        }
    }
    pub fn with_properties(mut self, properties: Value) -> Self {
        self.properties = Some(properties);
        self
    }
    /// A conversion from a Rust `f64` amount (see `Amount`).
    pub fn with_conversion(self, amount: f64, currency: &str) -> Self {
        self.with_conversion_amount(Amount::from_f64(amount), currency)
    }
    /// A conversion with the amount as JSON number text or an `Amount` already made.
    pub fn with_conversion_amount(mut self, amount: Amount, currency: &str) -> Self {
        self.conversion = Some(Conversion {
            amount,
            currency: currency.to_string(),
        });
        self
    }
    pub fn with_url(mut self, url: &str) -> Self {
        self.url = Some(url.to_string());
        self
    }
    pub fn with_referrer(mut self, referrer: &str) -> Self {
        self.referrer = Some(referrer.to_string());
        self
    }
    pub fn with_event_id(mut self, event_id: &str) -> Self {
        self.event_id = Some(event_id.to_string());
        self
    }
}

/// Why an event or a call was refused. Messages say what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackError {
    /// A field breaks a rule of the contract.
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The privacy guard refused it (policy `reject`, or a bad identity).
    Pii(PiiError),
    /// Consent is `denied` (or Global Privacy Control): nothing is tracked.
    ConsentDenied,
}

impl TrackError {
    /// The message, exactly as `Display` writes it (`Display` delegates here). Code that
    /// ships in the wasm calls this, not `to_string()`: `ToString` goes through a `Formatter`
    /// over a `dyn fmt::Write`, which keeps core::fmt's `write_fmt` in the wasm (about 1 KB).
    /// Tested to agree with `Display`.
    pub fn message(&self) -> String {
        match self {
            TrackError::Invalid { field, message } => concat(&[field, ": ", message]),
            TrackError::Pii(e) => e.message(),
            TrackError::ConsentDenied => {
                "consent is denied (or Global Privacy Control is on): event not tracked".into()
            }
        }
    }
}

impl core::fmt::Display for TrackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<PiiError> for TrackError {
    fn from(e: PiiError) -> Self {
        TrackError::Pii(e)
    }
}

fn not_finite(amount: &str) -> TrackError {
    invalid(
        "conversion_value.amount",
        concat(&["must be a finite number, not ", amount]),
    )
}

pub(crate) fn invalid(field: &'static str, message: String) -> TrackError {
    TrackError::Invalid { field, message }
}

/// What the pipeline knows that the page does not say.
pub struct Context<'a> {
    pub event_id: &'a str,
    pub session_id: &'a str,
    pub timestamp: Millis,
    pub email_hash: Option<&'a str>,
    pub pii_policy: PiiPolicy,
    pub email_normalization: EmailNormalization,
    /// The platform's lower-casing, for hashing addresses (`pii::LowerCase`).
    pub lower_case: LowerCase,
}

/// An accepted event: its name (trimmed, scrubbed) and wire JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    pub name: String,
    pub json: String,
}

fn truncate_chars(s: &mut String, max: usize) {
    let keep = crate::text::prefix_chars(s, max).len();
    s.truncate(keep);
}

/// Scrubs an optional page string (url, referrer) in place and bounds its length, which
/// settles the collector's length rule for it.
fn page_string(s: &mut Option<String>, field: &str, ctx: &Context<'_>) -> Result<(), TrackError> {
    if let Some(s) = s {
        if let Some(clean) = pii::scrub_str(
            s,
            ctx.pii_policy,
            ctx.email_normalization,
            ctx.lower_case,
            field,
        )? {
            *s = clean;
        }
        truncate_chars(s, MAX_URL_CHARS);
    }
    Ok(())
}

/// Appends `,"key":` (or `{"key":` for the first member) to the event's JSON text.
fn member(out: &mut String, key: &str) {
    out.push(if out.is_empty() { '{' } else { ',' });
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

/// Appends the member `key` with the string value `v`.
fn string_member(out: &mut String, key: &str, v: &str) {
    member(out, key);
    json::write_str(out, v);
}

/// Builds the wire event for `input` in `ctx`, or says why it cannot be sent.
///
/// The event's JSON is written once, member by member, and each member is checked with the
/// function `validate::check_event` applies to it, in its message-only form (`*_problem`: the
/// collector's own rules and messages without the error types, as a last line:
/// anything that slipped past the checks before them is refused here with the collector's
/// message instead of being sent and refused there), or is made to pass it (`url` and
/// `referrer` are shortened to the limit; the properties' strings are scrubbed, which settles
/// their email rule, so only their size is checked; the amount's finiteness is checked with
/// the caller's own message). So the built event passes `check_event` without being parsed,
/// walked or serialised a second time; the test `built_events_pass_the_shared_validation`
/// pins that down.
pub fn build(mut input: EventInput, ctx: &Context<'_>) -> Result<Built, TrackError> {
    // `write` borrows the input, which is dropped here whichever check refuses it: its early
    // returns then have next to nothing to clean up (smaller in the wasm).
    write(&mut input, ctx)
}

/// `build` of a borrowed input (which the pipeline drops in one place of its own).
pub(crate) fn write(input: &mut EventInput, ctx: &Context<'_>) -> Result<Built, TrackError> {
    let trimmed = input.name.trim();
    let name = match pii::scrub_str(
        trimmed,
        ctx.pii_policy,
        ctx.email_normalization,
        ctx.lower_case,
        "event_name",
    )? {
        Some(clean) => clean,
        None => trimmed.to_string(),
    };
    // The rest is written into one `Built`, dropped in this one place when a check refuses
    // the event (not once per early return of `write_into`, with what each had built so far).
    let mut built = Built {
        name,
        json: String::with_capacity(256),
    };
    write_into(input, ctx, &mut built)?;
    Ok(built)
}

/// The checks and the JSON of `write` after the name, into `built` (whose name is set).
fn write_into(
    input: &mut EventInput,
    ctx: &Context<'_>,
    built: &mut Built,
) -> Result<(), TrackError> {
    let (policy, mode, lower) = (ctx.pii_policy, ctx.email_normalization, ctx.lower_case);
    let check = |field: &'static str, r: Result<(), String>| r.map_err(|m| invalid(field, m));
    let name = &built.name;
    check("event_name", validate::event_name_problem(name))?;

    page_string(&mut input.url, "url", ctx)?;
    page_string(&mut input.referrer, "referrer", ctx)?;
    // In `check_event`'s field order, so that the first problem is the one it would give.
    check("event_id", validate::uuid_problem(ctx.event_id))?;
    check("scan_session_id", validate::uuid_problem(ctx.session_id))?;
    // What `check_timestamp` says of the written instant, without parsing it back.
    let timestamp = validate::timestamp_text(ctx.timestamp).map_err(|m| invalid("timestamp", m))?;

    let out = &mut built.json;
    string_member(out, "event_id", ctx.event_id);
    string_member(out, "scan_session_id", ctx.session_id);
    string_member(out, "event_name", name);
    string_member(out, "timestamp", &timestamp);
    // Not a loop over an array of the two: that is an array iterator in the wasm.
    if let Some(v) = &input.url {
        string_member(out, "url", v);
    }
    if let Some(v) = &input.referrer {
        string_member(out, "referrer", v);
    }
    match &mut input.properties {
        None | Some(Value::Null) => {}
        Some(props @ Value::Object(_)) => {
            if deeper_than(props, MAX_PROPERTIES_DEPTH) {
                return Err(invalid(
                    "properties",
                    // `MAX_PROPERTIES_DEPTH` and `json::MAX_DEPTH` as text (a test checks them).
                    "nest more than 32 levels deep; flatten them (a whole request may nest at \
                     most 64)"
                        .into(),
                ));
            }
            pii::scrub_value(props, policy, mode, lower, "properties")?;
            member(out, "properties");
            let before = out.len();
            props.write_json(out);
            let size = out.len() - before;
            check("properties", validate::properties_size_problem(size))?;
        }
        Some(other) => {
            return Err(invalid(
                "properties",
                concat(&[
                    "must be an object like {\"plan\": \"pro\"}, not ",
                    other.type_name(),
                ]),
            ))
        }
    }
    if let Some(c) = &input.conversion {
        let currency = c.currency.trim().to_ascii_uppercase();
        check(
            "conversion_value.currency",
            validate::currency_problem(&currency),
        )?;
        // The collector's rule for the amount (`validate::check_amount`): a finite number.
        // One refusal for both kinds of amount: one call of `not_finite` in the wasm.
        let (amount, finite) = match &c.amount {
            Amount::Number(n) => (n.as_str(), n.is_finite()),
            Amount::NotFinite(what) => (*what, false),
        };
        if !finite {
            return Err(not_finite(amount));
        }
        member(out, "conversion_value");
        out.push_str("{\"amount\":");
        out.push_str(amount);
        string_member(out, "currency", &currency);
        out.push('}');
    }
    if let Some(h) = ctx.email_hash {
        check(
            "user_identifiers.email_hash",
            validate::email_hash_problem(h),
        )?;
        member(out, "user_identifiers");
        out.push_str("{\"email_hash\":");
        json::write_str(out, h);
        out.push('}');
    }
    out.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_are_the_same_through_message_and_display() {
        let cases = [
            (
                TrackError::Invalid {
                    field: "url",
                    message: "too long".into(),
                },
                "url: too long",
            ),
            (
                TrackError::ConsentDenied,
                "consent is denied (or Global Privacy Control is on): event not tracked",
            ),
            (
                TrackError::Pii(PiiError::NotAHash),
                "identify({email_hash}) needs the SHA-256 of the normalised address as 64 hex \
                 characters; pass a raw address as identify({email}) instead and it is hashed",
            ),
            (
                TrackError::Pii(PiiError::NotAnEmail { reason: "no '@'" }),
                "identify({email}) needs an email address like ada@example.com: no '@'",
            ),
            (
                TrackError::Pii(PiiError::RawEmail {
                    path: "properties.x".into(),
                }),
                "properties.x contains a raw email address; send it with identify({email}) so \
                 it is hashed, or remove it (piiPolicy is \"reject\")",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.message(), text);
            assert_eq!(format!("{e}"), text);
            assert_eq!(e.to_string(), text);
            if let TrackError::Pii(p) = &e {
                assert_eq!(p.message(), text);
                assert_eq!(format!("{p}"), text);
            }
        }
        let e = crate::config::ConfigError {
            option: "endpoint",
            message: "must be a URL".into(),
        };
        assert_eq!(e.message(), "endpoint: must be a URL");
        assert_eq!(format!("{e}"), "endpoint: must be a URL");
    }
    use crate::json;

    const ID: &str = "0b6f1c1e-5f0e-4d55-9a43-3f1f6c1d2a10";
    const SESSION: &str = "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43";
    const HASH: &str = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72";

    fn ctx(policy: PiiPolicy, email_hash: Option<&str>) -> Context<'_> {
        Context {
            event_id: ID,
            session_id: SESSION,
            timestamp: Millis(1_795_428_001_500),
            email_hash,
            pii_policy: policy,
            email_normalization: EmailNormalization::Standard,
            lower_case: str::to_lowercase,
        }
    }

    /// The event as a value tree, member by member: how `build` wrote it before it wrote text.
    fn reference(
        input: &EventInput,
        name: &str,
        props: Option<Value>,
        hash: Option<&str>,
    ) -> String {
        let s = |v: &str| Value::String(v.to_string());
        let mut m = vec![
            ("event_id".to_string(), s(ID)),
            ("scan_session_id".to_string(), s(SESSION)),
            ("event_name".to_string(), s(name)),
            ("timestamp".to_string(), s("2026-11-23T10:00:01.500Z")),
        ];
        if let Some(u) = &input.url {
            m.push(("url".into(), s(u)));
        }
        if let Some(r) = &input.referrer {
            m.push(("referrer".into(), s(r)));
        }
        if let Some(p) = props {
            m.push(("properties".into(), p));
        }
        if let Some(c) = &input.conversion {
            let Amount::Number(n) = &c.amount else {
                panic!()
            };
            m.push((
                "conversion_value".into(),
                Value::Object(vec![
                    ("amount".into(), Value::Number(n.clone())),
                    (
                        "currency".into(),
                        s(&c.currency.trim().to_ascii_uppercase()),
                    ),
                ]),
            ));
        }
        if let Some(h) = hash {
            m.push((
                "user_identifiers".into(),
                Value::Object(vec![("email_hash".into(), s(h))]),
            ));
        }
        Value::Object(m).to_json()
    }

    #[test]
    fn built_events_pass_the_shared_validation() {
        let props = json::parse(
            r#"{"plan":"pro","qty":2,"price":19.98,"tags":["new","a\"b\n"],"nested":{"x":null,"y":true}}"#,
        )
        .unwrap();
        let inputs = [
            EventInput::new("  purchase "),
            EventInput::new("purchase")
                .with_properties(props.clone())
                .with_url("https://shop.example/thanks?q=1")
                .with_referrer("https://shop.example/cart")
                .with_conversion_amount(
                    Amount::Number(json::parse("19.98").unwrap().as_number().unwrap().clone()),
                    " eur",
                ),
            EventInput::new("x").with_properties(Value::Object(vec![])),
        ];
        for input in inputs {
            for hash in [None, Some(HASH)] {
                let built = build(input.clone(), &ctx(PiiPolicy::Redact, hash)).unwrap();
                let event = json::parse(&built.json).unwrap();
                assert_eq!(validate::check_event(&event), vec![], "{}", built.json);
                let want = reference(&input, input.name.trim(), input.properties.clone(), hash);
                assert_eq!(built.json, want);
            }
        }
    }

    #[test]
    fn scrubbed_properties_are_written_as_scrubbed() {
        let props =
            json::parse(r#"{"ada@example.com":"mail bob@example.org","b":["c%40d.io"]}"#).unwrap();
        let input = EventInput::new("signup@example.com").with_properties(props);
        let built = build(input.clone(), &ctx(PiiPolicy::Redact, None)).unwrap();
        let event = json::parse(&built.json).unwrap();
        assert_eq!(validate::check_event(&event), vec![]);
        assert_eq!(built.name, REDACTED_NAME);
        assert_eq!(
            event.get("properties").unwrap().to_json(),
            r#"{"[email redacted]":"mail [email redacted]","b":["[email redacted]"]}"#
        );
        let e = build(input, &ctx(PiiPolicy::Reject, None)).unwrap_err();
        assert!(matches!(e, TrackError::Pii(_)), "{e}");
    }

    const REDACTED_NAME: &str = "[email redacted]";

    /// Properties `levels` deep: `{"a":{"a":...{"a":1}}}`.
    pub(crate) fn nested(levels: usize) -> Value {
        let mut v = Value::Number(json::parse("1").unwrap().as_number().unwrap().clone());
        for _ in 0..levels {
            v = Value::Object(vec![("a".into(), v)]);
        }
        v
    }

    #[test]
    fn properties_nested_deeper_than_the_limit_are_refused() {
        let c = ctx(PiiPolicy::Redact, None);
        let err = build(EventInput::new("deep").with_properties(nested(33)), &c).unwrap_err();
        assert_eq!(
            err.to_string(),
            "properties: nest more than 32 levels deep; flatten them (a whole request may nest at most 64)"
        );
        // The message writes both limits as text: they must be the constants.
        assert_eq!((MAX_PROPERTIES_DEPTH, json::MAX_DEPTH), (32, 64));
        // Arrays count as levels too, and a value far deeper than the parser allows (only a
        // Rust caller can build one) is refused without recursing through it.
        let mut arrays = Value::Array(vec![]);
        for _ in 0..1_000 {
            arrays = Value::Array(vec![arrays]);
        }
        let deep = Value::Object(vec![("list".into(), arrays)]);
        assert!(build(EventInput::new("deep").with_properties(deep), &c).is_err());
        assert!(build(EventInput::new("deep").with_properties(nested(32)), &c).is_ok());
    }

    #[test]
    fn properties_over_the_limit_are_refused_with_their_size() {
        let big = Value::Object(vec![(
            "pad".into(),
            Value::String("x".repeat(validate::MAX_PROPERTIES_BYTES)),
        )]);
        let e = build(
            EventInput::new("big").with_properties(big),
            &ctx(PiiPolicy::Redact, None),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "properties: 10250 bytes as compact JSON; at most 10240 are allowed: send fewer or \
             shorter values"
        );
    }
}
