//! The privacy guard: email normalisation and hashing, and the raw-email scrubber applied to
//! every string the client sends (contract section 4).
//!
//! Invariants: no function here returns a string that still contains a raw email address
//! (as `contains_email` defines it) unless it was given an explicit `Reject` policy, in which
//! case it returns an error instead; hashing is SHA-256 of the normalised address, lower-case hex.

use crate::json::Value;

/// What replaces an address under the `Redact` policy.
pub const REDACTED: &str = "[email redacted]";

/// How an address is normalised before hashing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmailNormalization {
    /// Trim and lower-case (the contract's rule, and Meta's).
    #[default]
    Standard,
    /// Also remove dots from the local part of gmail.com and googlemail.com addresses.
    Google,
}

/// What to do with a raw email address found in a string the client would send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PiiPolicy {
    /// Replace each address with `[email redacted]` (the default).
    #[default]
    Redact,
    /// Replace each address with the SHA-256 hex of its normalised form.
    Hash,
    /// Refuse the event with a reported error.
    Reject,
}

/// Why an email or a value was refused by the privacy guard; messages are for site owners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PiiError {
    /// `identify({email})` got something that is not an address.
    NotAnEmail { reason: &'static str },
    /// `identify({email_hash})` got something that is not 64 hex characters.
    NotAHash,
    /// Policy `Reject` and a raw address was found at `path` (e.g. `properties.contact`,
    /// `properties.<key>` for a key, `url`).
    RawEmail { path: String },
}

impl core::fmt::Display for PiiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let _ = f; todo!("helper: {self:?}")
    }
}

/// Trim, lower-case, and with `Google` remove dots in the local part of gmail.com and
/// googlemail.com addresses. Errors when the result is not an address (`contains_email` shape:
/// non-empty local part without spaces or `@`, one `@`, a domain with at least one dot).
pub fn normalize_email(raw: &str, mode: EmailNormalization) -> Result<String, PiiError> {
    todo!("helper: {raw} {mode:?}")
}

/// SHA-256 of `s`'s UTF-8 bytes, as 64 lower-case hex characters.
pub fn sha256_hex(s: &str) -> String {
    todo!("helper: {s}")
}

/// `normalize_email` then `sha256_hex`.
pub fn hash_email(raw: &str, mode: EmailNormalization) -> Result<String, PiiError> {
    Ok(sha256_hex(&normalize_email(raw, mode)?))
}

/// Accepts an already hashed address: 64 hex characters (either case, surrounding whitespace
/// trimmed); returns it in lower case.
pub fn parse_email_hash(s: &str) -> Result<String, PiiError> {
    todo!("helper: {s}")
}

/// True if `s` is exactly 64 lower-case hex characters (the wire rule).
pub fn is_email_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True if `s` contains a raw email address anywhere: a local part (no whitespace, no `@`), an
/// `@` or its URL-encoded form `%40` (any case), and a domain with at least one dot. Errs on the
/// side of finding one.
pub fn contains_email(s: &str) -> bool {
    todo!("helper: {s}")
}

/// `s` with every address replaced according to `policy` (`Redact`: `[email redacted]`;
/// `Hash`: SHA-256 hex of the normalised address, `%40` decoded to `@` first). With `Reject`
/// and an address present: `PiiError::RawEmail { path }` using the given `path`.
/// Returns `None` when `s` holds no address (no allocation in the common case).
pub fn scrub_str(
    s: &str,
    policy: PiiPolicy,
    mode: EmailNormalization,
    path: &str,
) -> Result<Option<String>, PiiError> {
    todo!("helper: {s} {policy:?} {mode:?} {path}")
}

/// Scrubs every string in `v` in place: values and object keys at any depth. Two keys that
/// scrub to the same text keep both values: the later key gets a suffix ` (2)`, ` (3)`, ...
/// (never colliding with an existing key). `path` names `v` in errors (`properties`); nested
/// paths use `.key` and `[index]`. Returns how many addresses were replaced.
pub fn scrub_value(
    v: &mut Value,
    policy: PiiPolicy,
    mode: EmailNormalization,
    path: &str,
) -> Result<usize, PiiError> {
    todo!("helper: {v:?} {policy:?} {mode:?} {path}")
}

/// True if any string in `v` (keys included, any depth) contains a raw address.
pub fn value_contains_email(v: &Value) -> bool {
    match v {
        Value::String(s) => contains_email(s),
        Value::Array(items) => items.iter().any(value_contains_email),
        Value::Object(members) => members
            .iter()
            .any(|(k, v)| contains_email(k) || value_contains_email(v)),
        _ => false,
    }
}
