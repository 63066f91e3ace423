//! A small JSON value, parser and compact writer.
//!
//! Why not serde_json: every byte of the snippet is downloaded by every visitor of every site,
//! and the core needs only a value tree (to walk properties for the privacy guard and measure
//! their size), a parser (server replies, the persisted queue) and a compact writer whose output
//! is byte-for-byte what `JSON.stringify` gives, so that sizes measured here are the sizes sent.
//!
//! Invariants: objects keep their key order and duplicate keys as written (`get` returns the
//! last one, as `JSON.parse` does); numbers keep their source text, so `2` stays `2` and a
//! 17-digit id is not rounded; nesting deeper than `MAX_DEPTH` is refused, never a stack overflow.

/// Deepest nesting of arrays and objects accepted by `parse`.
pub const MAX_DEPTH: usize = 64;

/// A JSON number, kept as its (valid, JSON-grammar) source text.
#[derive(Clone, Debug, PartialEq)]
pub struct Number(String);

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    /// Members in source order; duplicates kept.
    Object(Vec<(String, Value)>),
}

/// Why a text is not JSON, with the byte offset where parsing stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub message: &'static str,
}

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

/// Parses one JSON text (RFC 8259; surrounding whitespace allowed, nothing else after it).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    todo!("helper: {text}")
}

/// Appends `s` as a JSON string literal, escaped exactly as `JSON.stringify` does: `"` and `\`
/// backslash-escaped, `\b \f \n \r \t` by name, other controls below U+0020 as `\u00XX`
/// (lower-case hex), everything else (including `/` and non-ASCII) as is.
pub fn write_str(out: &mut String, s: &str) {
    todo!("helper: {out} {s}")
}

impl Number {
    /// A number from an `f64`; `None` for NaN and infinities (JSON has no such values).
    /// Formats like JavaScript's `Number.prototype.toString` for the values tests use
    /// (integers print without a fraction: `2.0` gives `2`).
    pub fn from_f64(x: f64) -> Option<Number> {
        todo!("helper: {x}")
    }
    /// An integer number.
    pub fn from_i64(x: i64) -> Number {
        Number(x.to_string())
    }
    /// The source text, e.g. `19.98`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn as_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
    /// The value as a `u64` when the text is a non-negative integer that fits (no fraction or
    /// exponent), e.g. a `loc` index.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl Value {
    /// Compact JSON text, byte-for-byte what `JSON.stringify(JSON.parse(text))` gives for
    /// values without duplicate keys.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
    /// Appends the compact JSON text of `self` to `out`.
    pub fn write_json(&self, out: &mut String) {
        todo!("helper: {out}")
    }
    /// The member `key` of an object (the last one if repeated), `None` otherwise.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    /// A short name of the value's JSON type for error messages: "null", "a boolean", ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}
