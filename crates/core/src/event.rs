//! The event model: what `track` accepts (`EventInput`), and the exact wire JSON of one element
//! of `/collect/batch`'s `events` (CONTRACT.md 2.1), built once when the event is accepted.
//!
//! Invariant: `build` either returns an event that passes the shared validation
//! (`validate::check_event`, the collector's own rules) with every string scrubbed of raw email
//! addresses by the privacy policy, or a `TrackError` that says what to fix. It never truncates
//! a name; it does shorten `url`/`referrer` past 2048 characters (they are collected from the
//! page, not chosen by the caller, and a long tracking URL must not cost the event).

use crate::json::{Number, Value};
use crate::pii::{self, EmailNormalization, PiiError, PiiPolicy};
use crate::time::{format_rfc3339_millis, Millis};
use crate::validate::{self, MAX_PROPERTIES_BYTES, MAX_URL_CHARS};

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
}

/// Why an event or a call was refused. Messages say what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackError {
    /// A field breaks a rule of the contract.
    Invalid { field: String, message: String },
    /// The privacy guard refused it (policy `reject`, or a bad identity).
    Pii(PiiError),
    /// Consent is `denied` (or Global Privacy Control): nothing is tracked.
    ConsentDenied,
}

impl core::fmt::Display for TrackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TrackError::Invalid { field, message } => write!(f, "{field}: {message}"),
            TrackError::Pii(e) => write!(f, "{e}"),
            TrackError::ConsentDenied => f.write_str(
                "consent is denied (or Global Privacy Control is on): event not tracked",
            ),
        }
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
        format!("must be a finite number, not {amount}"),
    )
}

fn invalid(field: &str, message: String) -> TrackError {
    TrackError::Invalid {
        field: field.to_string(),
        message,
    }
}

/// What the pipeline knows that the page does not say.
pub struct Context<'a> {
    pub event_id: &'a str,
    pub session_id: &'a str,
    pub timestamp: Millis,
    pub email_hash: Option<&'a str>,
    pub pii_policy: PiiPolicy,
    pub email_normalization: EmailNormalization,
}

/// An accepted event: its name (trimmed, scrubbed) and wire JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    pub name: String,
    pub json: String,
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}

/// Scrubs an optional page string (url, referrer) and bounds its length.
fn page_string(
    s: Option<String>,
    field: &str,
    ctx: &Context<'_>,
) -> Result<Option<String>, TrackError> {
    let Some(mut s) = s else { return Ok(None) };
    if let Some(clean) = pii::scrub_str(&s, ctx.pii_policy, ctx.email_normalization, field)? {
        s = clean;
    }
    truncate_chars(&mut s, MAX_URL_CHARS);
    Ok(Some(s))
}

/// Builds the wire event for `input` in `ctx`, or says why it cannot be sent.
pub fn build(input: EventInput, ctx: &Context<'_>) -> Result<Built, TrackError> {
    let (policy, mode) = (ctx.pii_policy, ctx.email_normalization);
    let trimmed = input.name.trim();
    let name = match pii::scrub_str(trimmed, policy, mode, "event_name")? {
        Some(clean) => clean,
        None => trimmed.to_string(),
    };
    validate::check_event_name(&name).map_err(|e| invalid("event_name", e.msg))?;

    let mut members: Vec<(String, Value)> = Vec::with_capacity(9);
    let mut put = |k: &str, v: Value| members.push((k.to_string(), v));
    put("event_id", Value::String(ctx.event_id.to_string()));
    put("scan_session_id", Value::String(ctx.session_id.to_string()));
    put("event_name", Value::String(name.clone()));
    put(
        "timestamp",
        Value::String(format_rfc3339_millis(ctx.timestamp)),
    );
    if let Some(url) = page_string(input.url, "url", ctx)? {
        put("url", Value::String(url));
    }
    if let Some(referrer) = page_string(input.referrer, "referrer", ctx)? {
        put("referrer", Value::String(referrer));
    }
    match input.properties {
        None | Some(Value::Null) => {}
        Some(mut props @ Value::Object(_)) => {
            pii::scrub_value(&mut props, policy, mode, "properties")?;
            let size = props.to_json().len();
            if size > MAX_PROPERTIES_BYTES {
                return Err(invalid(
                    "properties",
                    format!(
                        "{size} bytes as compact JSON; the limit is {MAX_PROPERTIES_BYTES}: send fewer or shorter values"
                    ),
                ));
            }
            put("properties", props);
        }
        Some(other) => {
            return Err(invalid(
                "properties",
                format!(
                    "must be an object like {{\"plan\": \"pro\"}}, not {}",
                    other.type_name()
                ),
            ))
        }
    }
    if let Some(c) = input.conversion {
        let currency = c.currency.trim().to_ascii_uppercase();
        validate::check_currency(&currency)
            .map_err(|e| invalid("conversion_value.currency", e.msg))?;
        let amount = match c.amount {
            Amount::Number(n) if n.is_finite() => n,
            Amount::Number(n) => return Err(not_finite(n.as_str())),
            Amount::NotFinite(what) => return Err(not_finite(what)),
        };
        put(
            "conversion_value",
            Value::Object(vec![
                ("amount".into(), Value::Number(amount)),
                ("currency".into(), Value::String(currency)),
            ]),
        );
    }
    if let Some(h) = ctx.email_hash {
        put(
            "user_identifiers",
            Value::Object(vec![("email_hash".into(), Value::String(h.to_string()))]),
        );
    }
    let event = Value::Object(members);
    // The collector's own rules, as a last line: anything that slipped past the checks above is
    // refused here with the collector's message instead of being sent and refused there.
    if let Some((field, e)) = validate::check_event(&event).into_iter().next() {
        return Err(invalid(&field, e.msg));
    }
    Ok(Built {
        name,
        json: event.to_json(),
    })
}
