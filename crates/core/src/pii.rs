//! The privacy guard: email normalisation and hashing, and the raw-email scrubber applied to
//! every string the client sends (contract section 4).
//!
//! Invariants: no function here returns a string that still contains a raw email address
//! (as `contains_email` defines it) unless it was given an explicit `Reject` policy, in which
//! case it returns an error instead; hashing is SHA-256 of the normalised address, lower-case hex.
//! This module lower-cases ASCII itself and leaves any other text to the platform's `LowerCase`,
//! which the caller passes in: the core holds no Unicode case tables.
//!
//! # What counts as an address
//!
//! Every `@` and every `%40` (its URL-encoded form) is a candidate separator. From it:
//!
//! - the **local part** extends left over local-part characters: ASCII letters and digits,
//!   `! # $ % ' * + - . ^ _ \` | ~`, and any non-ASCII character except whitespace, controls and
//!   the quotes, brackets and punctuation that delimit in text (`“ ” « » （ ） ， 。 …` and the
//!   like). It stops at `@`, at the end of a `%40`, and at everything that delimits in URLs and
//!   text: whitespace, `= & ? / : ; , " < > ( ) [ ] { } \`. So `?email=ada@example.com&x=1`
//!   yields `ada@example.com`, and `mailto:ada@example.com` yields `ada@example.com`. Leading
//!   quotes (`'`, `` ` ``) are not part of it (`'ada@example.com'` is quoted text); the local
//!   part must not be empty;
//! - the **domain** extends right over ASCII letters and digits, `-`, `.`, and the non-ASCII
//!   characters of local parts (any script, combining marks, symbols: no Unicode tables are
//!   needed to tell a letter from a symbol, and an `example.com→` swallowed into the redaction
//!   errs on the safe side), without trailing dots and hyphens (`ada@example.com.` ends a
//!   sentence), and must hold at least one dot with a non-empty label on both sides (`a@b`,
//!   `user@localhost` are not addresses).
//!
//! The rule errs on the side of redacting: it ignores TLD lists and lengths, so `v1.2@3.4` or an
//! address with a typo counts as an address. Overlapping addresses (`a@b.com@c.com`) are
//! replaced as one span.
//!
//! Why replacement never produces a new address: every separator stops the scan of its
//! neighbours' local parts and domains, domain characters are all local-part characters, and a
//! replacement is either `[email redacted]` (its brackets stop both scans) or hex digits with no
//! dot and no separator. So a separator left in the output sees, if anything, a shorter local
//! part or a domain made of hex digits only: it cannot have become an address. The property
//! test at the bottom of this file checks this on generated input.
//!
//! Scanning is linear: a local part never extends past the previous separator and a domain never
//! past the next one, so no character is visited more than twice.

use crate::json::Value;
use crate::names::Names;
use crate::sha256;
use crate::text::split_once_ascii;

/// Unicode lower-casing: the default case mapping, full mappings (`İ` to `i̇`) and the
/// final-sigma rule included, which `str::to_lowercase` and JavaScript's `toLowerCase` both
/// implement; an address hashed with it hashes as the same address lower-cased in JavaScript or
/// on a server.
///
/// Injected, like randomness, rather than built in: the tables behind it are about 1.7 KB of
/// brotli wasm that every visitor would download although the browser has them already. The
/// web shell passes the browser's `String.prototype.toLowerCase` (`st_lower` in js/host.js),
/// the host and the tests `str::to_lowercase`. It is only called for text that is not all
/// ASCII (see `lower_case`).
pub type LowerCase = fn(&str) -> String;

/// `s` lower-cased: ASCII here, anything else by `lower`. Addresses are nearly always ASCII,
/// and for them the shell's `lower` (a call into JavaScript and a string each way) is skipped.
fn lower_case(s: &str, lower: LowerCase) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        lower(s)
    }
}

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
    /// `properties.<key>` for a key, `url`). A key is named in its redacted form
    /// (`properties.[email redacted]`) so that the error itself carries no address.
    RawEmail { path: String },
}

impl PiiError {
    /// The message, exactly as `Display` writes it (`Display` delegates here). Code that
    /// ships in the wasm calls this, not `to_string()`: `ToString` goes through a `Formatter`
    /// over a `dyn fmt::Write`, which keeps core::fmt's `write_fmt` in the wasm (about 1 KB).
    /// Tested to agree with `Display`.
    pub fn message(&self) -> String {
        use crate::text::concat;
        match self {
            PiiError::NotAnEmail { reason } => concat(&[
                "identify({email}) needs an email address like ada@example.com: ",
                reason,
            ]),
            PiiError::NotAHash => "identify({email_hash}) needs the SHA-256 of the normalised \
                                   address as 64 hex characters; pass a raw address as \
                                   identify({email}) instead and it is hashed"
                .into(),
            PiiError::RawEmail { path } => concat(&[
                path,
                " contains a raw email address; send it with identify({email}) so it is \
                 hashed, or remove it (piiPolicy is \"reject\")",
            ]),
        }
    }
}

impl core::fmt::Display for PiiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for PiiError {}

/// Trim, lower-case (text that is not all ASCII by `lower`), and with `Google` remove dots in
/// the local part of gmail.com and googlemail.com addresses. Errors when the result is not an
/// address (`contains_email` shape: non-empty local part without spaces or `@`, one `@`, a
/// domain with at least one dot).
///
/// The domain must be dot-separated non-empty labels (`example.com`, not `example.com.` or
/// `.com`): identify() is given one address by the site, so a typo is reported rather than
/// hashed into an identity that never matches.
pub fn normalize_email(
    raw: &str,
    mode: EmailNormalization,
    lower: LowerCase,
) -> Result<String, PiiError> {
    let s = lower_case(raw.trim(), lower);
    let not = |reason| Err(PiiError::NotAnEmail { reason });
    if s.is_empty() {
        return not("it is empty");
    }
    // By bytes rather than `split_once('@')` and `contains('@')`: no char searcher in the wasm.
    let Some((local, domain)) = split_once_ascii(&s, b'@') else {
        return not("it has no '@'");
    };
    if split_once_ascii(domain, b'@').is_some() {
        return not("it has more than one '@'");
    }
    if s.chars().any(char::is_whitespace) {
        return not("it contains spaces");
    }
    // At least two labels, none empty: a dot, and no dot first, last or next to another.
    // By bytes rather than `split('.')`: no splitter in the wasm.
    let (mut dots, mut after_dot) = (0, true);
    for &c in domain.as_bytes() {
        if c == b'.' {
            if after_dot {
                dots = 0;
                break;
            }
            dots += 1;
        }
        after_dot = c == b'.';
    }
    if dots == 0 || after_dot {
        return not("the part after the '@' is not a domain with a dot, like example.com");
    }
    let google =
        mode == EmailNormalization::Google && (domain == "gmail.com" || domain == "googlemail.com");
    // The local part is copied in runs, without its dots for Google.
    let mut out = String::with_capacity(s.len());
    let mut rest = local;
    if google {
        while let Some((run, after)) = split_once_ascii(rest, b'.') {
            out.push_str(run);
            rest = after;
        }
    }
    out.push_str(rest);
    if out.is_empty() {
        return not("there is nothing before the '@'");
    }
    out.push('@');
    out.push_str(domain);
    Ok(out)
}

/// SHA-256 of `s`'s UTF-8 bytes, as 64 lower-case hex characters.
pub fn sha256_hex(s: &str) -> String {
    sha256::hex_digest(s.as_bytes())
}

/// `normalize_email` then `sha256_hex`.
pub fn hash_email(
    raw: &str,
    mode: EmailNormalization,
    lower: LowerCase,
) -> Result<String, PiiError> {
    Ok(sha256_hex(&normalize_email(raw, mode, lower)?))
}

/// Accepts an already hashed address: 64 hex characters (either case, surrounding whitespace
/// trimmed); returns it in lower case.
pub fn parse_email_hash(s: &str) -> Result<String, PiiError> {
    // Lower-cased first, then the wire rule: one hex check in the wasm.
    let s = s.trim().to_ascii_lowercase();
    match is_email_hash(&s) {
        true => Ok(s),
        false => Err(PiiError::NotAHash),
    }
}

/// True if `s` is exactly 64 lower-case hex characters (the wire rule).
pub fn is_email_hash(s: &str) -> bool {
    // By index, not `bytes().all()`: smaller in the wasm (as `uuid::is_canonical`).
    let mut i = 0;
    while s.len() == 64 && i < 64 {
        if !matches!(s.as_bytes()[i], b'0'..=b'9' | b'a'..=b'f') {
            return false;
        }
        i += 1;
    }
    s.len() == 64
}

/// True if `s` contains a raw email address anywhere: a local part (no whitespace, no `@`), an
/// `@` or its URL-encoded form `%40` (any case), and a domain with at least one dot. Errs on the
/// side of finding one. The exact rule is in the module documentation.
pub fn contains_email(s: &str) -> bool {
    next_address(s, &mut 0).is_some()
}

/// `s` with every address replaced according to `policy` (`Redact`: `[email redacted]`;
/// `Hash`: SHA-256 hex of the normalised address, `%40` decoded to `@` first). With `Reject`
/// and an address present: `PiiError::RawEmail { path }` using the given `path`.
/// Returns `None` when `s` holds no address (no allocation in the common case).
pub fn scrub_str(
    s: &str,
    policy: PiiPolicy,
    mode: EmailNormalization,
    lower: LowerCase,
    path: &str,
) -> Result<Option<String>, PiiError> {
    if policy == PiiPolicy::Reject {
        return match contains_email(s) {
            true => Err(PiiError::RawEmail {
                path: path.to_string(),
            }),
            false => Ok(None),
        };
    }
    Ok(replace_addresses(s, Replacement::of(policy, mode, lower)).map(|(out, _)| out))
}

/// Scrubs every string in `v` in place: values and object keys at any depth. Two keys that
/// scrub to the same text keep both values: the later key gets a suffix ` (2)`, ` (3)`, ...
/// (never colliding with an existing key). `path` names `v` in errors (`properties`); nested
/// paths use `.key` and `[index]`. Returns how many addresses were replaced.
///
/// Keys without an address keep their name even when a scrubbed key ends up equal to it: the
/// scrubbed key is the one that gets the suffix. With `Reject`, `v` is left untouched and the
/// error names the first address found in document order.
pub fn scrub_value(
    v: &mut Value,
    policy: PiiPolicy,
    mode: EmailNormalization,
    lower: LowerCase,
    path: &str,
) -> Result<usize, PiiError> {
    if policy == PiiPolicy::Reject {
        return match find_email(v, path) {
            Some(path) => Err(PiiError::RawEmail { path }),
            None => Ok(0),
        };
    }
    Ok(scrub_in_place(v, Replacement::of(policy, mode, lower)))
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

/// The path of the first string in `v` (document order, a key before its value) that contains
/// a raw address, `None` if there is none. `path` names `v` itself (`properties`); nested paths
/// use `.key` and `[index]`; an offending key is named in its redacted form so that the path
/// carries no address.
pub fn find_email(v: &Value, path: &str) -> Option<String> {
    let mut buf = path.to_string();
    find_email_at(v, &mut buf).then_some(buf)
}

/// Extends `path` to the first address in `v` and returns true, or restores it and returns
/// false. One buffer for the whole walk: the common, clean case allocates nothing more.
fn find_email_at(v: &Value, path: &mut String) -> bool {
    let len = path.len();
    match v {
        Value::String(s) => return contains_email(s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push('[');
                crate::time::push_decimal(path, i as u64);
                path.push(']');
                if find_email_at(item, path) {
                    return true;
                }
                path.truncate(len);
            }
        }
        Value::Object(members) => {
            for (k, item) in members {
                path.push('.');
                if let Some((redacted, _)) = replace_addresses(k, Replacement::Redact) {
                    path.push_str(&redacted);
                    return true;
                }
                path.push_str(k);
                if find_email_at(item, path) {
                    return true;
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
    false
}

/// What an address found by `scrub_str`/`scrub_value` becomes (their policy other than `Reject`).
#[derive(Clone, Copy)]
enum Replacement {
    /// `[email redacted]`.
    Redact,
    /// The SHA-256 hex of the address normalised with these rules.
    Hash(EmailNormalization, LowerCase),
}

impl Replacement {
    fn of(policy: PiiPolicy, mode: EmailNormalization, lower: LowerCase) -> Replacement {
        match policy {
            PiiPolicy::Hash => Replacement::Hash(mode, lower),
            _ => Replacement::Redact,
        }
    }
}

fn scrub_in_place(v: &mut Value, with: Replacement) -> usize {
    match v {
        Value::String(s) => match replace_addresses(s, with) {
            Some((out, n)) => {
                *s = out;
                n
            }
            None => 0,
        },
        Value::Array(items) => {
            let mut count = 0;
            for item in items {
                count += scrub_in_place(item, with);
            }
            count
        }
        Value::Object(members) => {
            let mut count = 0;
            let mut keys_with_addresses = false;
            for (k, item) in members.iter_mut() {
                count += scrub_in_place(item, with);
                keys_with_addresses |= contains_email(k);
            }
            if keys_with_addresses {
                count += scrub_keys(members, with);
            }
            count
        }
        _ => 0,
    }
}

/// Scrubs the keys of `members` (some of which hold an address) and returns how many
/// addresses were replaced. Each renamed key gets a name no other key has: keys that are not
/// renamed keep theirs, earlier renamed keys keep what they got, and a later one that would
/// collide becomes `name (2)`, `name (3)`, ...
///
/// Hashing rather than scans: a page can pass an object with thousands of address keys, all
/// redacted to the same text, and the tracker must stay well under 50 ms; remembering the next
/// free suffix of each name keeps this linear in the number of keys.
fn scrub_keys(members: &mut [(String, Value)], with: Replacement) -> usize {
    // Every name in use -> the next suffix to try when a renamed key wants it as its base.
    let mut taken = Names::with_capacity(members.len());
    for (k, _) in members.iter() {
        if !contains_email(k) {
            taken.insert(k.clone(), 2);
        }
    }
    let mut count = 0;
    for (name, _) in members.iter_mut() {
        let Some((out, n)) = replace_addresses(name, with) else {
            continue;
        };
        count += n;
        *name = out;
        if let Some(mut n) = taken.get(name) {
            // The first free `name (n)`; the base then remembers the suffix after it.
            let base = core::mem::take(name);
            loop {
                *name = suffixed(&base, n);
                n += 1;
                if taken.get(name).is_none() {
                    break;
                }
            }
            taken.insert(base, n);
        }
        taken.insert(name.clone(), 2);
    }
    count
}

/// `base (n)`, written without the formatting machinery.
fn suffixed(base: &str, n: usize) -> String {
    let mut out = String::with_capacity(base.len() + 8);
    out.push_str(base);
    out.push_str(" (");
    crate::time::push_decimal(&mut out, n as u64);
    out.push(')');
    out
}

/// `s` with its addresses replaced, and how many addresses there were; `None` when there are
/// none.
fn replace_addresses(s: &str, with: Replacement) -> Option<(String, usize)> {
    let mut at = 0;
    let mut span = next_address(s, &mut at)?;
    let mut out = String::with_capacity(s.len());
    let (mut copied, mut count) = (0, 1);
    loop {
        let next = next_address(s, &mut at);
        if let Some((start, end)) = next {
            count += 1;
            // Starts and ends both grow with the separator position (see `next_address`), so
            // spans only ever overlap their predecessor.
            if start <= span.1 {
                span.1 = span.1.max(end);
                continue;
            }
        }
        // `span` is complete: replace it, then go on with the next one if there is one.
        let (start, end) = span;
        out.push_str(&s[copied..start]);
        match with {
            Replacement::Hash(mode, lower) => {
                out.push_str(&sha256_hex(&normalize_found(&s[start..end], mode, lower)))
            }
            Replacement::Redact => out.push_str(REDACTED),
        }
        copied = end;
        match next {
            Some(next) => span = next,
            None => break,
        }
    }
    out.push_str(&s[copied..]);
    Some((out, count))
}

/// The normalised form of a found address for hashing: `%40` decoded, then `normalize_email`;
/// text that is not a single well-formed address (overlapping addresses merged into one span)
/// is just lower-cased, which still hashes it.
fn normalize_found(found: &str, mode: EmailNormalization, lower: LowerCase) -> String {
    let decoded = decode_at_signs(found);
    normalize_email(&decoded, mode, lower).unwrap_or_else(|_| lower_case(&decoded, lower))
}

/// `s` with every `%40` replaced by `@` (what `s.replace("%40", "@")` gives, without the
/// substring searcher in the wasm).
fn decode_at_signs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // By index, not `windows().position()`: less wasm.
    let mut i = 0;
    while i < rest.len() {
        if rest.as_bytes()[i..].starts_with(b"%40") {
            out.push_str(&rest[..i]);
            out.push('@');
            rest = &rest[i + 3..];
            i = 0;
        } else {
            i += 1;
        }
    }
    out.push_str(rest);
    out
}

/// The byte range `(start, end)` of the next address in `s` whose separator is at or after
/// `*i`, moving `*i` past that separator; `None` when there is none. Addresses come one per
/// separator that has a non-empty local part and a valid domain, in separator order: starts
/// and ends are non-decreasing, and ranges may overlap (`a@b.com@c.com`).
fn next_address(s: &str, i: &mut usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    // Byte-wise is safe: the separators are ASCII and UTF-8 continuation bytes never are.
    while *i < b.len() {
        // Most strings hold no `@` and no `%` at all: skip to the next one, byte by byte.
        if !matches!(b[*i], b'@' | b'%') {
            *i += 1;
            continue;
        }
        let sep_start = *i;
        let sep_len = separator_len(&b[sep_start..]);
        if sep_len == 0 {
            *i += 1;
            continue;
        }
        *i += sep_len;
        let start = local_start(s, sep_start);
        if start == sep_start {
            continue;
        }
        if let Some(end) = domain_end(s, *i) {
            return Some((start, end));
        }
    }
    None
}

/// 1 for `@`, 3 for `%40`, 0 otherwise, for the separator at the start of `b`.
fn separator_len(b: &[u8]) -> usize {
    match b {
        [b'@', ..] => 1,
        [b'%', b'4', b'0', ..] => 3,
        _ => 0,
    }
}

/// Where the local part ending at `sep` starts (`sep` itself when it is empty).
fn local_start(s: &str, sep: usize) -> usize {
    let mut p = sep;
    while !s.as_bytes()[..p].ends_with(b"%40") {
        match s[..p].chars().next_back() {
            Some(c) if is_local_char(c) => p -= c.len_utf8(),
            _ => break,
        }
    }
    // Quotes that open quoted text are not part of the address (`'ada@example.com'`).
    while p < sep && matches!(s.as_bytes()[p], b'\'' | b'`') {
        p += 1;
    }
    p
}

/// Where the domain starting at `from` ends, if it is one: the run of domain characters
/// without trailing dots and hyphens, holding a dot with a non-empty label on both sides.
fn domain_end(s: &str, from: usize) -> Option<usize> {
    let rest = &s[from..];
    // A loop over the characters, not `str::find` with a closure: no pattern searcher.
    let mut end = 0;
    for c in rest.chars() {
        if !is_domain_char(c) {
            break;
        }
        end += c.len_utf8();
    }
    // Trailing dots and hyphens dropped by bytes (both ASCII; a `char` pattern would decode).
    let domain = rest.as_bytes();
    while end > 0 && matches!(domain[end - 1], b'.' | b'-') {
        end -= 1;
    }
    domain[..end]
        .windows(3)
        .any(|w| w[1] == b'.' && w[0] != b'.' && w[2] != b'.')
        .then_some(from + end)
}

fn is_local_char(c: char) -> bool {
    if c.is_ascii() {
        // A `matches!`, not `str::contains(char)` (the substring searcher, some 1.7 KB of
        // wasm) nor a search of a byte list (a loop where this is a few compares).
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '!' | '#' | '$' | '%' | '\'' | '*' | '+' | '-' | '.' | '^' | '_' | '`' | '|' | '~'
            )
    } else {
        is_word_char(c)
    }
}

/// Domain characters are all local-part characters (see the module documentation for why
/// that matters).
fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || (!c.is_ascii() && is_word_char(c))
}

/// A non-ASCII character that does not end a word: anything but whitespace, controls and the
/// text delimiters below. Letters and symbols alike (telling them apart takes Unicode tables
/// that every visitor would download), which errs on the side of redacting.
fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || is_text_delimiter(c))
}

/// Non-ASCII quotes, brackets and punctuation that end a word in running text.
fn is_text_delimiter(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' // zero-width space
            | '\u{FEFF}'
            | '“' | '”' | '„' | '‟' | '‘' | '’' | '‚' | '‛' | '«' | '»' | '‹' | '›'
            | '「' | '」' | '『' | '』' | '〈' | '〉' | '《' | '》' | '【' | '】'
            | '（' | '）' | '［' | '］' | '｛' | '｝' | '＜' | '＞'
            | '，' | '。' | '、' | '：' | '；' | '？' | '！' | '＝' | '＆' | '／'
            | '…'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use EmailNormalization::{Google, Standard};
    use PiiPolicy::{Hash, Redact, Reject};

    fn redact(s: &str) -> String {
        scrub_str(s, Redact, Standard, str::to_lowercase, "x")
            .unwrap()
            .unwrap_or_else(|| s.to_string())
    }

    fn obj(members: &[(&str, Value)]) -> Value {
        Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn num(x: i64) -> Value {
        Value::Number(crate::json::Number::from_i64(x))
    }

    fn string(s: &str) -> Value {
        Value::String(s.to_string())
    }

    fn keys(v: &Value) -> Vec<&str> {
        match v {
            Value::Object(members) => members.iter().map(|(k, _)| k.as_str()).collect(),
            _ => panic!("not an object"),
        }
    }

    // --- normalisation and hashing ---

    #[test]
    fn contract_test_vector_trims_and_lower_cases() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ", Standard, str::to_lowercase).unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            hash_email("  Ada@Example.COM ", Standard, str::to_lowercase).unwrap(),
            "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"
        );
    }

    #[test]
    fn metas_published_example_hashes_as_published() {
        assert_eq!(
            hash_email("john_smith@gmail.com", Standard, str::to_lowercase).unwrap(),
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
        );
    }

    #[test]
    fn google_mode_removes_dots_in_gmail_local_parts_only() {
        assert_eq!(
            hash_email("John.Smith@gmail.com", Google, str::to_lowercase).unwrap(),
            hash_email("johnsmith@gmail.com", Standard, str::to_lowercase).unwrap()
        );
        assert_eq!(
            normalize_email("j.o.h.n@GoogleMail.com", Google, str::to_lowercase).unwrap(),
            "john@googlemail.com"
        );
        assert_eq!(
            normalize_email("john.smith@example.com", Google, str::to_lowercase).unwrap(),
            "john.smith@example.com"
        );
        assert_eq!(
            normalize_email("John.Smith@gmail.com", Standard, str::to_lowercase).unwrap(),
            "john.smith@gmail.com"
        );
    }

    #[test]
    fn decode_at_signs_is_replace_of_percent_40() {
        for s in [
            "", "%40", "a%40b", "%4", "%%40", "%4040", "%40%40", "a%4", "é%40é", "%4%40", "ada@x",
        ] {
            assert_eq!(decode_at_signs(s), s.replace("%40", "@"), "{s:?}");
        }
    }

    #[test]
    fn sha256_hex_is_lower_case_hex_of_utf8() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_email_hash(&sha256_hex("é")));
    }

    #[test]
    fn normalize_email_refuses_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@example.",
            "ada@.com",
            "ada@example..com",
            "ada@@example.com",
            "ada@b@example.com",
            "ada lovelace@example.com",
            "...@gmail.com",
        ] {
            let mode = if bad.starts_with("...") {
                Google
            } else {
                Standard
            };
            match normalize_email(bad, mode, str::to_lowercase) {
                Err(PiiError::NotAnEmail { .. }) => {}
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn email_hash_parsing_accepts_either_case_and_trims() {
        let upper = "B5FC85E55755F9E0D030A10AB4429B6B2944855F9A0D60077FE832BECBC41D72";
        assert_eq!(
            parse_email_hash(&format!(" {upper}\n")).unwrap(),
            upper.to_ascii_lowercase()
        );
        assert!(is_email_hash(&parse_email_hash(upper).unwrap()));
        assert!(!is_email_hash(upper));
        for bad in [
            "",
            "abc",
            &upper[1..],
            &format!("{upper}0"),
            &upper.replace('B', "G"),
        ] {
            assert_eq!(parse_email_hash(bad), Err(PiiError::NotAHash), "{bad:?}");
        }
    }

    // --- detection ---

    #[test]
    fn finds_addresses_in_plain_text_urls_and_encodings() {
        for s in [
            "ada@example.com",
            "write to Ada.Lovelace+news@example.co.uk today",
            "mailto:ada@example.com",
            "https://shop.example/thanks?email=ada@example.com&x=1",
            "https://shop.example/thanks?email=ada%40example.com",
            "https://shop.example/?e=ADA%40EXAMPLE.COM",
            "ada%2Bx%40example.com",
            "<ada@example.com>",
            "(ada@example.com)",
            "\"ada@example.com\"",
            "'ada@example.com'",
            "ada@example.com.",
            "x,ada@example.com;y",
            "a@b.c",
            "o'brien@example.ie",
            "!#$*^`|~@example.com",
            "josé@exämple.com",
            "jose\u{301}@example.com",
            "пользователь@пример.рф",
            "用户@例子.中国",
            "https://user:secret@example.com/path",
            "ada@-example.com",
            "ada@.example.com",
        ] {
            assert!(contains_email(s), "{s:?}");
        }
    }

    #[test]
    fn ignores_what_is_not_an_address() {
        for s in [
            "",
            "no address here",
            "a@b",
            "@example.com",
            "user@localhost",
            "ada@example",
            "ada@example.",
            "ada@example..com",
            "ada@ example.com",
            "ada @example.com",
            "%40example.com",
            "?x=%40example.com",
            "https://medium.com/@ada.lovelace",
            "https://example.com/@ada/post.html",
            "(@example.com)",
            "'@example.com",
            "100%4 0example.com",
            "ada@@example.com",
            "ada＠example.com",
            "ada@example.-",
        ] {
            assert!(!contains_email(s), "{s:?}");
        }
    }

    #[test]
    fn redaction_stops_at_url_and_text_delimiters() {
        assert_eq!(
            redact("https://shop.example/thanks?email=ada@example.com&x=1"),
            "https://shop.example/thanks?email=[email redacted]&x=1"
        );
        assert_eq!(redact("mailto:ada@example.com"), "mailto:[email redacted]");
        assert_eq!(
            redact("?e=ada%40example.com#top"),
            "?e=[email redacted]#top"
        );
        assert_eq!(redact("?e=ADA%40Example.COM"), "?e=[email redacted]");
        assert_eq!(redact("Mail ada@example.com."), "Mail [email redacted].");
        assert_eq!(
            redact("<ada@example.com>, (b@c.org)"),
            "<[email redacted]>, ([email redacted])"
        );
        assert_eq!(redact("'ada@example.com'"), "'[email redacted]'");
        assert_eq!(redact("“ada@example.com”"), "“[email redacted]”");
        assert_eq!(redact("[ada@example.com]"), "[[email redacted]]");
        assert_eq!(redact("x=ada@example.com-"), "x=[email redacted]-");
        assert_eq!(
            redact("https://user:secret@example.com/p"),
            "https://user:[email redacted]/p"
        );
    }

    /// Non-ASCII addresses lower-case by the injected `LowerCase` (std's here, the browser's
    /// `toLowerCase` in the wasm: the same Unicode default case mapping), full mappings and
    /// the final-sigma rule included; the hash is of exactly that text.
    #[test]
    fn non_ascii_addresses_hash_as_std_lower_cases_them() {
        for (raw, lower) in [
            ("  ÅSA@EXAMPLE.SE ", "åsa@example.se"),
            // Final sigma: `ς` at the end of a word, `σ` inside it; a `.` is case-ignorable, so
            // the first `Σ` here is followed by a cased letter and stays `σ`.
            ("ΟΔΥΣΣΕΥΣ@Example.GR", "οδυσσευς@example.gr"),
            ("ΣΑΣ.ΣΑΣ@EXAMPLE.GR", "σασ.σας@example.gr"),
            // Dotted capital I: `i` and a combining dot above, not Turkish `i` alone.
            ("İLKER@EXAMPLE.COM.TR", "i\u{307}lker@example.com.tr"),
            ("ADA@ÉXAMPLE.ORG", "ada@éxample.org"),
        ] {
            assert_eq!(
                raw.trim().to_lowercase(),
                lower,
                "{raw:?}: the vector is std's"
            );
            assert_eq!(
                normalize_email(raw, Standard, str::to_lowercase).as_deref(),
                Ok(lower),
                "{raw:?}"
            );
            assert_eq!(
                hash_email(raw, Standard, str::to_lowercase),
                Ok(sha256_hex(lower)),
                "{raw:?}"
            );
            let hashed = scrub_str(raw.trim(), Hash, Standard, str::to_lowercase, "x").unwrap();
            assert_eq!(hashed, Some(sha256_hex(lower)), "{raw:?}");
        }
        assert_eq!(
            sha256_hex("åsa@example.se"),
            "2671792c94b04686181614fa00ffaa27cb0f587d9fac9efbda1df3614f46576f"
        );
    }

    fn never_called(s: &str) -> String {
        panic!("the platform's lower-casing was called for {s:?}")
    }

    fn fake_lower(_: &str) -> String {
        "fake@example.com".into()
    }

    /// ASCII text is lower-cased in Rust: the shell's lowering, a call into JavaScript, is
    /// only made for text that is not all ASCII, and then its result is what is hashed.
    #[test]
    fn only_non_ascii_text_reaches_the_injected_lowering() {
        let ada = "ada@example.com";
        assert_eq!(
            hash_email(" Ada@Example.COM ", Standard, never_called),
            Ok(sha256_hex(ada))
        );
        // A merged span that is not one address is lower-cased whole, ASCII too.
        let merged = scrub_str("A@B.COM@C.COM", Hash, Standard, never_called, "x").unwrap();
        assert_eq!(merged, Some(sha256_hex("a@b.com@c.com")));
        let mut v = obj(&[("Ada@Example.COM", string("ADA%40EXAMPLE.COM"))]);
        scrub_value(&mut v, Hash, Standard, never_called, "properties").unwrap();
        assert_eq!(v, obj(&[(&sha256_hex(ada), string(&sha256_hex(ada)))]));
        assert_eq!(
            hash_email("ÅSA@EXAMPLE.SE", Standard, fake_lower),
            Ok(sha256_hex("fake@example.com"))
        );
        let merged = scrub_str("Å@B.COM@C.COM", Hash, Standard, fake_lower, "x").unwrap();
        assert_eq!(merged, Some(sha256_hex("fake@example.com")));
    }

    #[test]
    fn non_ascii_symbols_after_a_domain_err_on_the_side_of_redacting() {
        assert_eq!(redact("ada@example.com→next step"), "[email redacted] step");
        assert_eq!(
            redact("ada@example.com\u{a0}next"),
            "[email redacted]\u{a0}next"
        );
        assert_eq!(redact("ada@example.com…"), "[email redacted]…");
        assert_eq!(
            normalize_email("ΟΔΥΣΣΕΥΣ@Example.GR", Standard, str::to_lowercase).unwrap(),
            "οδυσσευς@example.gr"
        );
    }

    #[test]
    fn redacts_every_address_in_one_string() {
        assert_eq!(
            redact("from a@example.com to b@example.org, cc c%40example.net"),
            "from [email redacted] to [email redacted], cc [email redacted]"
        );
        let (out, n) = replace_addresses("a@x.io b@y.io", Replacement::Redact).unwrap();
        assert_eq!((out.as_str(), n), ("[email redacted] [email redacted]", 2));
    }

    #[test]
    fn overlapping_addresses_are_replaced_as_one_span() {
        assert_eq!(redact("a@b.com@c.com"), "[email redacted]");
        assert_eq!(redact("a@b.com%40c.com!"), "[email redacted]!");
        let (_, n) = replace_addresses("a@b.com@c.com", Replacement::Redact).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn non_addresses_next_to_addresses_are_kept() {
        assert_eq!(redact("@ada a@b.com"), "@ada [email redacted]");
        assert_eq!(redact("x%40ab@example.com"), "x%40[email redacted]");
        assert_eq!(
            redact("user@localhost ada@example.com"),
            "user@localhost [email redacted]"
        );
    }

    #[test]
    fn scrub_str_returns_none_without_an_address() {
        for policy in [Redact, Hash, Reject] {
            assert_eq!(
                scrub_str(
                    "plain text @ 10%",
                    policy,
                    Standard,
                    str::to_lowercase,
                    "url"
                ),
                Ok(None)
            );
        }
    }

    #[test]
    fn hash_policy_hashes_the_normalised_decoded_address() {
        let expected = hash_email("ada@example.com", Standard, str::to_lowercase).unwrap();
        for s in ["Ada@Example.COM", "ada%40example.com", "ADA%40EXAMPLE.COM"] {
            let out = scrub_str(
                &format!("?e={s}&x=1"),
                Hash,
                Standard,
                str::to_lowercase,
                "url",
            )
            .unwrap()
            .unwrap();
            assert_eq!(out, format!("?e={expected}&x=1"), "{s:?}");
        }
        let out = scrub_str(
            "John.Smith@gmail.com",
            Hash,
            Google,
            str::to_lowercase,
            "url",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            hash_email("johnsmith@gmail.com", Standard, str::to_lowercase).unwrap()
        );
    }

    #[test]
    fn reject_policy_names_the_path() {
        assert_eq!(
            scrub_str(
                "?e=ada@example.com",
                Reject,
                Standard,
                str::to_lowercase,
                "url"
            ),
            Err(PiiError::RawEmail { path: "url".into() })
        );
    }

    // --- values ---

    #[test]
    fn scrub_value_reaches_nested_strings_and_keys() {
        let mut v = obj(&[
            ("plan", string("pro")),
            ("contact", string("ada@example.com")),
            (
                "nested",
                Value::Array(vec![
                    string("b@example.org"),
                    obj(&[("c@example.net", Value::Bool(true))]),
                    Value::Null,
                ]),
            ),
        ]);
        let n = scrub_value(&mut v, Redact, Standard, str::to_lowercase, "properties").unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            v,
            obj(&[
                ("plan", string("pro")),
                ("contact", string(REDACTED)),
                (
                    "nested",
                    Value::Array(vec![
                        string(REDACTED),
                        obj(&[(REDACTED, Value::Bool(true))]),
                        Value::Null,
                    ]),
                ),
            ])
        );
        assert!(!value_contains_email(&v));
    }

    #[test]
    fn keys_that_scrub_to_the_same_text_keep_both_values() {
        let mut v = obj(&[
            ("a@example.com", num(1)),
            ("b@example.com", num(2)),
            ("c@example.com", num(3)),
        ]);
        scrub_value(&mut v, Redact, Standard, str::to_lowercase, "properties").unwrap();
        assert_eq!(
            keys(&v),
            [
                "[email redacted]",
                "[email redacted] (2)",
                "[email redacted] (3)"
            ]
        );
    }

    #[test]
    fn key_suffixes_never_collide_with_existing_keys() {
        let mut v = obj(&[
            ("[email redacted]", Value::Null),
            ("a@example.com", Value::Null),
            ("b@example.com", Value::Null),
            ("[email redacted] (2)", Value::Null),
        ]);
        scrub_value(&mut v, Redact, Standard, str::to_lowercase, "properties").unwrap();
        assert_eq!(
            keys(&v),
            [
                "[email redacted]",
                "[email redacted] (3)",
                "[email redacted] (4)",
                "[email redacted] (2)"
            ]
        );
    }

    #[test]
    fn thousands_of_colliding_keys_are_renamed_quickly() {
        let members = (0..5000)
            .map(|i| (format!("u{i}@example.com"), Value::Null))
            .chain([("[email redacted] (3)".to_string(), Value::Null)])
            .collect();
        let mut v = Value::Object(members);
        let started = std::time::Instant::now();
        assert_eq!(
            scrub_value(&mut v, Redact, Standard, str::to_lowercase, "properties"),
            Ok(5000)
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let k = keys(&v);
        assert_eq!(
            &k[..3],
            [
                "[email redacted]",
                "[email redacted] (2)",
                "[email redacted] (4)"
            ]
        );
        assert_eq!(k[4999], "[email redacted] (5001)");
        let mut sorted = k.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 5001);
    }

    #[test]
    fn scanning_is_linear_in_the_length_of_the_string() {
        for s in [
            "a@".repeat(50_000),
            "@".repeat(100_000),
            format!("{}@b.co", "a".repeat(100_000)),
        ] {
            let started = std::time::Instant::now();
            let out = scrub_str(&s, Redact, Standard, str::to_lowercase, "x").unwrap();
            assert!(!contains_email(out.as_deref().unwrap_or(&s)));
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
        }
    }

    #[test]
    fn hashed_keys_of_one_address_are_suffixed_too() {
        let mut v = obj(&[
            ("Ada@example.com", Value::Null),
            ("ada@EXAMPLE.com", Value::Null),
        ]);
        scrub_value(&mut v, Hash, Standard, str::to_lowercase, "properties").unwrap();
        let h = hash_email("ada@example.com", Standard, str::to_lowercase).unwrap();
        assert_eq!(keys(&v), [h.clone(), format!("{h} (2)")]);
    }

    #[test]
    fn reject_policy_reports_the_first_path_and_leaves_the_value_alone() {
        let v = obj(&[
            ("plan", string("pro")),
            (
                "list",
                Value::Array(vec![string("ok"), obj(&[("contact", string("a@b.io"))])]),
            ),
        ]);
        let mut w = v.clone();
        assert_eq!(
            scrub_value(&mut w, Reject, Standard, str::to_lowercase, "properties"),
            Err(PiiError::RawEmail {
                path: "properties.list[1].contact".into()
            })
        );
        assert_eq!(w, v);
        let mut k = obj(&[("mail ada@example.com", Value::Null)]);
        assert_eq!(
            scrub_value(&mut k, Reject, Standard, str::to_lowercase, "properties"),
            Err(PiiError::RawEmail {
                path: "properties.mail [email redacted]".into()
            })
        );
        let mut clean = obj(&[("plan", string("pro"))]);
        assert_eq!(
            scrub_value(
                &mut clean,
                Reject,
                Standard,
                str::to_lowercase,
                "properties"
            ),
            Ok(0)
        );
    }

    #[test]
    fn error_messages_tell_the_site_owner_what_to_do() {
        assert_eq!(
            PiiError::RawEmail {
                path: "properties.contact".into()
            }
            .to_string(),
            "properties.contact contains a raw email address; send it with identify({email}) so \
             it is hashed, or remove it (piiPolicy is \"reject\")"
        );
        let e = normalize_email("ada", Standard, str::to_lowercase)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "identify({email}) needs an email address like ada@example.com: it has no '@'"
        );
        assert!(PiiError::NotAHash.to_string().contains("64 hex characters"));
    }

    // --- the invariant, on generated input ---

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Pieces that make addresses, near-addresses and the delimiters around them likely.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("@".to_string()),
                Just("%40".to_string()),
                Just("%4".to_string()),
                Just("0".to_string()),
                Just(".".to_string()),
                Just("-".to_string()),
                Just("'".to_string()),
                Just(" ".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just("=".to_string()),
                Just("é".to_string()),
                Just("\u{301}".to_string()),
                Just("…".to_string()),
                Just(REDACTED.to_string()),
                "[a-zA-Z0-9]{1,4}",
                "[a-z0-9.+_%-]{1,8}@[a-z0-9-]{1,6}\\.[a-z]{2,3}",
                any::<char>().prop_map(String::from),
            ]
        }

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                proptest::collection::vec(piece(), 0..12).prop_map(|p| p.concat()),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![Just(Value::Null), text().prop_map(Value::String)];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::vec((text(), inner), 0..4).prop_map(Value::Object),
                ]
            })
        }

        /// The `split`/`replace` version of `normalize_email` this crate had before the byte
        /// loops, as an oracle.
        fn normalize_email_oracle(raw: &str, mode: EmailNormalization) -> Result<String, PiiError> {
            let s = raw.trim().to_lowercase();
            let not = |reason| Err(PiiError::NotAnEmail { reason });
            if s.is_empty() {
                return not("it is empty");
            }
            let Some((local, domain)) = s.split_once('@') else {
                return not("it has no '@'");
            };
            if domain.contains('@') {
                return not("it has more than one '@'");
            }
            if s.chars().any(char::is_whitespace) {
                return not("it contains spaces");
            }
            if domain.split('.').count() < 2 || domain.split('.').any(str::is_empty) {
                return not("the part after the '@' is not a domain with a dot, like example.com");
            }
            let local = if mode == EmailNormalization::Google
                && (domain == "gmail.com" || domain == "googlemail.com")
            {
                local.replace('.', "")
            } else {
                local.to_string()
            };
            if local.is_empty() {
                return not("there is nothing before the '@'");
            }
            Ok(format!("{local}@{domain}"))
        }

        fn address_like() -> impl Strategy<Value = String> {
            prop_oneof![
                text(),
                "[ ]?[a-zA-Z.]{0,4}@[a-z.]{0,8}(gmail\\.com|googlemail\\.com)?[.@ ]?",
                "[.]?[a-z]{0,3}[.]{0,2}[a-z]{0,3}@[.]?[a-z]{0,3}[.]{0,2}[a-z]{0,3}[.]?",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn normalize_email_reads_as_the_oracle(s in address_like()) {
                for mode in [Standard, Google] {
                    prop_assert_eq!(normalize_email(&s, mode, str::to_lowercase), normalize_email_oracle(&s, mode), "{:?}", s);
                }
            }

            #[test]
            fn scrubbed_strings_hold_no_address(s in text()) {
                for policy in [Redact, Hash] {
                    for mode in [Standard, Google] {
                        let out = scrub_str(&s, policy, mode, str::to_lowercase, "x").unwrap();
                        prop_assert_eq!(out.is_some(), contains_email(&s));
                        let out = out.unwrap_or_else(|| s.clone());
                        prop_assert!(!contains_email(&out), "{:?} -> {:?}", s, out);
                    }
                }
            }

            #[test]
            fn scrubbed_values_hold_no_address(v in value()) {
                for policy in [Redact, Hash] {
                    let mut w = v.clone();
                    let n = scrub_value(&mut w, policy, Standard, str::to_lowercase, "properties").unwrap();
                    prop_assert!(!value_contains_email(&w), "{:?} -> {:?}", v, w);
                    prop_assert_eq!(n > 0, value_contains_email(&v));
                    if let (Value::Object(a), Value::Object(b)) = (&v, &w) {
                        prop_assert_eq!(a.len(), b.len());
                    }
                }
                let mut w = v.clone();
                let rejected = scrub_value(&mut w, Reject, Standard, str::to_lowercase, "properties");
                prop_assert_eq!(rejected.is_err(), value_contains_email(&v));
            }

            #[test]
            fn renamed_keys_are_unique_among_renamed_and_untouched_keys(
                ks in proptest::collection::vec(text(), 0..8)
            ) {
                let mut v = Value::Object(ks.iter().map(|k| (k.clone(), Value::Null)).collect());
                scrub_value(&mut v, Redact, Standard, str::to_lowercase, "properties").unwrap();
                let Value::Object(members) = &v else { unreachable!() };
                for (i, (k, _)) in members.iter().enumerate() {
                    if contains_email(&ks[i]) {
                        let clashes = members.iter().filter(|(o, _)| o == k).count();
                        prop_assert_eq!(clashes, 1, "{:?} -> {:?}", ks, members);
                    } else {
                        prop_assert_eq!(k, &ks[i]);
                    }
                }
            }
        }
    }
}
