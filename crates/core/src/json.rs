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
//!
//! Because numbers keep their text, the writer's output equals `JSON.stringify`'s when the
//! numbers were written the way JavaScript writes them, which is the case for any text that came
//! out of `JSON.stringify` and for every `Number::from_f64`; `2.50` or `1E3` from elsewhere are
//! written back as they came. A `\u` escape of a lone UTF-16 surrogate (which
//! `JSON.stringify` writes for a string cut inside an emoji) is read as U+FFFD, as the browser's
//! UTF-8 encoder would send it.

/// The text of a parse error, or `()` without the feature `json-detail` (see `Why`). The
/// collector's 400 detail names the problem (it enables the feature); in the snippet a parse
/// error only describes a corrupt stored value or an unreadable call, where the byte offset
/// says enough and the ~17 texts would be downloaded by every visitor.
#[cfg(feature = "json-detail")]
macro_rules! why {
    ($text:literal) => {
        $text
    };
}
#[cfg(not(feature = "json-detail"))]
macro_rules! why {
    ($text:literal) => {
        ()
    };
}

/// What is wrong where a parse stopped: a text with the feature `json-detail`, else nothing at
/// all, not even an empty text, so that every error the parser builds is just its offset
/// (smaller in the wasm). Private, so the public API is the same with and without the feature.
#[cfg(feature = "json-detail")]
type Why = &'static str;
#[cfg(not(feature = "json-detail"))]
type Why = ();

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
    /// What is wrong there (see `Why`); read through `describe`.
    message: Why,
}

impl JsonError {
    /// `invalid JSON at byte 7: expected ',' or ']'` (`invalid JSON at byte 7` without the
    /// feature `json-detail`): what `Display` writes, built without `core::fmt`.
    pub fn describe(&self) -> String {
        let offset = crate::text::dec(self.offset as u64);
        #[cfg(feature = "json-detail")]
        return crate::text::concat(&["invalid JSON at byte ", &offset, ": ", self.message]);
        #[cfg(not(feature = "json-detail"))]
        crate::text::concat(&["invalid JSON at byte ", &offset])
    }
}

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Parses one JSON text (RFC 8259; surrounding whitespace allowed, nothing else after it).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { src: text, pos: 0 };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(p.err(why!("unexpected text after the JSON value")));
    }
    Ok(value)
}

/// A recursive-descent parser over the bytes of a `&str`. Recursion is bounded by `MAX_DEPTH`
/// (checked before descending), so the stack use is bounded whatever the input. Every slice it
/// takes starts and ends next to an ASCII byte, so it is always on a UTF-8 boundary.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn err(&self, message: Why) -> JsonError {
        JsonError {
            offset: self.pos,
            message,
        }
    }

    fn err_at(offset: usize, message: Why) -> JsonError {
        JsonError { offset, message }
    }

    /// JSON whitespace is exactly these four bytes (not form feed, not U+00A0, ...).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// One value starting at `pos` (whitespace already skipped); `depth` is the number of arrays
    /// and objects around it.
    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.err(why!("unexpected end of input"))),
            Some(b'{') => self.container(depth + 1, true),
            Some(b'[') => self.container(depth + 1, false),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') if self.literal("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.literal("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.literal("null") => Ok(Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => Err(self.err(why!("expected a JSON value"))),
        }
    }

    /// Whether `word` comes next; if so, it is consumed.
    fn literal(&mut self, word: &str) -> bool {
        let found = self.src.as_bytes()[self.pos..].starts_with(word.as_bytes());
        if found {
            self.pos += word.len();
        }
        found
    }

    /// An array or (`object`) an object starting at its opening bracket: one loop for both, as
    /// they differ only in the key before each value and in the closing byte.
    fn container(&mut self, depth: usize, object: bool) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err(why!("nesting too deep")));
        }
        let (close, expected) = match object {
            true => (b'}', why!("expected ',' or '}'")),
            false => (b']', why!("expected ',' or ']'")),
        };
        self.pos += 1; // '[' or '{'
        let mut items = Vec::new();
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() != Some(close) {
            loop {
                let key = match object {
                    true => {
                        self.expect(b'"', b'"', why!("expected a string key"))?;
                        let key = self.string()?;
                        self.skip_ws();
                        self.expect(b':', b':', why!("expected ':'"))?;
                        self.pos += 1;
                        self.skip_ws();
                        Some(key)
                    }
                    false => None,
                };
                let value = self.value(depth)?;
                match key {
                    Some(key) => members.push((key, value)),
                    None => items.push(value),
                }
                self.skip_ws();
                self.expect(b',', close, expected)?;
                if self.peek() == Some(close) {
                    break;
                }
                self.pos += 1; // ','
                self.skip_ws();
                if self.peek() == Some(close) {
                    return Err(self.err(why!("trailing comma")));
                }
            }
        }
        self.pos += 1; // ']' or '}'
        Ok(match object {
            true => Value::Object(members),
            false => Value::Array(items),
        })
    }

    /// Checks (without consuming it) that the next byte is `a` or `b` (the same byte when there
    /// is one choice): else the end of input, or `message`.
    fn expect(&self, a: u8, b: u8, message: Why) -> Result<(), JsonError> {
        match self.peek() {
            Some(c) if c == a || c == b => Ok(()),
            None => Err(self.err(why!("unexpected end of input"))),
            Some(_) => Err(self.err(message)),
        }
    }

    /// A string literal starting at its opening quote. Runs of plain characters are copied as
    /// slices; only escapes are decoded one by one.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        let mut run = self.pos;
        let bytes = self.src.as_bytes();
        loop {
            // To the next byte that is not plain text, in a tight loop.
            while let Some(&b) = bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let Some(&b) = bytes.get(self.pos) else {
                return Err(self.err(why!("unterminated string")));
            };
            match b {
                b'"' => {
                    out.push_str(&self.src[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.src[run..self.pos]);
                    self.escape(&mut out)?;
                    run = self.pos;
                }
                _ => return Err(self.err(why!("control character in string"))),
            }
        }
    }

    /// One escape sequence starting at its backslash. A `\u` escape of a UTF-16 surrogate pair
    /// is decoded; a lone surrogate (no UTF-8 form) becomes U+FFFD, exactly what the browser's
    /// own UTF-8 encoding of the request body would make of it. Refusing it instead would cost
    /// the whole event for one emoji cut in half by `str.slice`, a common sight in properties.
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let start = self.pos;
        self.pos += 1; // '\\'
        let Some(b) = self.peek() else {
            return Err(self.err(why!("unterminated string")));
        };
        self.pos += 1;
        // Every escape as a code point, pushed in one place (one UTF-8 encoder in the wasm).
        let code = match b {
            b'"' | b'\\' | b'/' => u32::from(b),
            b'b' => 0x8,
            b'f' => 0xc,
            b'n' => 0xa,
            b'r' => 0xd,
            b't' => 0x9,
            b'u' => match self.hex4()? {
                unit @ 0xD800..=0xDBFF => {
                    // A high surrogate pairs with an immediately following `\u` low one;
                    // alone, it becomes U+FFFD and what follows is read on its own.
                    let save = self.pos;
                    let mut low = 0;
                    if self.src.as_bytes()[save..].starts_with(b"\\u") {
                        self.pos += 2;
                        low = self.hex4()?;
                    }
                    match low {
                        0xDC00..=0xDFFF => 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00),
                        _ => {
                            self.pos = save;
                            0xFFFD
                        }
                    }
                }
                unit => unit,
            },
            _ => return Err(Self::err_at(start, why!("invalid escape"))),
        };
        // A lone low surrogate has no `char`: U+FFFD too.
        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
        Ok(())
    }

    /// Four hex digits (either case) of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.err(why!("invalid \\u escape"))),
            };
            unit = unit * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Number, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.err(why!("leading zero in number")));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err(why!("expected a digit"))),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.digits() {
                return Err(self.err(why!("expected a digit after '.'")));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.digits() {
                return Err(self.err(why!("expected a digit in the exponent")));
            }
        }
        Ok(Number(self.src[start..self.pos].to_owned()))
    }

    /// Skips ASCII digits; true if there was at least one.
    fn digits(&mut self) -> bool {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }
}

/// Appends `s` as a JSON string literal, escaped exactly as `JSON.stringify` does: `"` and `\`
/// backslash-escaped, `\b \f \n \r \t` by name, other controls below U+0020 as `\u00XX`
/// (lower-case hex), everything else (including `/` and non-ASCII) as is.
pub fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of plain text are copied whole: a string that needs no escape is one copy.
    let mut run = 0;
    for i in 0..s.len() {
        let b = s.as_bytes()[i];
        let named = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` and `i + 1` are character boundaries.
        out.push_str(&s[run..i]);
        if named.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(named);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// `s` as a JSON string literal, for quoting a value in a message: `"site demo"`. Replaces
/// `{:?}`, whose escaping needs Unicode printability tables in the wasm.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

impl Number {
    /// A number from an `f64`; `None` for NaN and infinities (JSON has no such values).
    /// Formats like JavaScript's `Number.prototype.toString` for the values tests use
    /// (integers print without a fraction: `2.0` gives `2`).
    ///
    /// How: Rust's `{:e}` gives the shortest digits that round-trip (as JavaScript's algorithm
    /// does, ECMA-262 Number::toString) and their exponent; the layout rules of that algorithm
    /// then place the decimal point: plain notation for 1e-7 < |x| < 1e21, exponent form
    /// (`1e+21`, `1.5e-7`) outside. `-0` gives `0`, as in JavaScript.
    pub fn from_f64(x: f64) -> Option<Number> {
        if !x.is_finite() {
            return None;
        }
        if x == 0.0 {
            return Some(Number("0".to_owned()));
        }
        let sci = format!("{:e}", x.abs()); // e.g. "1.5e-7", "2e0"
        let (mantissa, exponent) = sci.split_once('e')?;
        let exponent: i32 = exponent.parse().ok()?;
        let digits: Vec<u8> = mantissa.bytes().filter(|b| b.is_ascii_digit()).collect();
        let digits = core::str::from_utf8(&digits).ok()?;
        // JavaScript's names: x = 0.digits * 10^n, k digits.
        let k = digits.len() as i32;
        let n = exponent + 1;
        let mut out = String::with_capacity(k as usize + 8);
        if x < 0.0 {
            out.push('-');
        }
        if k <= n && n <= 21 {
            out.push_str(digits);
            out.extend(core::iter::repeat_n('0', (n - k) as usize));
        } else if 0 < n && n <= 21 {
            out.push_str(&digits[..n as usize]);
            out.push('.');
            out.push_str(&digits[n as usize..]);
        } else if -6 < n && n <= 0 {
            out.push_str("0.");
            out.extend(core::iter::repeat_n('0', -n as usize));
            out.push_str(digits);
        } else {
            out.push_str(&digits[..1]);
            if k > 1 {
                out.push('.');
                out.push_str(&digits[1..]);
            }
            out.push('e');
            out.push(if n > 0 { '+' } else { '-' });
            crate::time::push_decimal(&mut out, u64::from((n - 1).unsigned_abs()));
        }
        Some(Number(out))
    }
    /// An integer number.
    pub fn from_i64(x: i64) -> Number {
        let mut out = String::new();
        if x < 0 {
            out.push('-');
        }
        crate::time::push_decimal(&mut out, x.unsigned_abs());
        Number(out)
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
        // JSON grammar: no `+`, so this is exactly `str::parse::<u64>` (without its generic
        // integer parser in the wasm).
        digits_u64(&self.0)
    }

    /// True when the number has a finite `f64` value, i.e. `as_f64().is_finite()`, decided on
    /// the text without any float code (the snippet carries none: see `Decimal`). A JSON
    /// number is finite unless it rounds past `f64::MAX`, at or above the midpoint
    /// `2^1024 - 2^970` (a tie rounds to even, which is infinity); `1e400` is not finite,
    /// `1e-400` is (it rounds to zero).
    pub fn is_finite(&self) -> bool {
        let d = Decimal::of(&self.0);
        match d.point.cmp(&309) {
            _ if d.digits.is_empty() => true,
            core::cmp::Ordering::Less => true,
            core::cmp::Ordering::Greater => false,
            // Same magnitude: compare digit strings (`digits` has no trailing zero).
            core::cmp::Ordering::Equal => d.digits.as_bytes() < &overflow_digits(),
        }
    }

    /// The value when it is a whole number that is not negative (`-0` counts as 0), however it
    /// is written (`3`, `3.0`, `0.3e1`), saturating at `u64::MAX`; `None` for fractions and
    /// negative numbers. Decided on the text, exactly (no rounding through `f64`).
    pub fn whole_u64(&self) -> Option<u64> {
        let d = Decimal::of(&self.0);
        if d.digits.is_empty() {
            return Some(0);
        }
        if d.negative || d.point < d.digits.len() as i64 {
            return None;
        }
        let mut n: u64 = 0;
        for i in 0..d.point {
            let digit = d.digits.as_bytes().get(i as usize).map_or(0, |b| b - b'0');
            n = match push_digit(n, digit) {
                Some(n) => n,
                None => return Some(u64::MAX),
            };
        }
        Some(n)
    }
}

/// The 309 decimal digits (ASCII) of `2^1024 - 2^970`, where `is_finite` draws the line:
/// computed as `(2^27 - 1) * (2^27 + 1) * 1024^97` rather than carried as 309 bytes of data
/// that do not compress. Only a number of `f64::MAX`'s magnitude ever needs it.
fn overflow_digits() -> [u8; 309] {
    let mut n = [b'0'; 309];
    n[308] = b'1';
    for step in 0..99 {
        let factor: u32 = match step {
            0 => (1 << 27) - 1,
            1 => (1 << 27) + 1,
            _ => 1024,
        };
        // Multiplied in place from the last digit; the carry stays below 2^31.
        let mut carry = 0;
        let mut i = n.len();
        while i > 0 {
            i -= 1;
            carry += u32::from(n[i] - b'0') * factor;
            n[i] = b'0' + (carry % 10) as u8;
            carry /= 10;
        }
    }
    n
}

/// `s` as a `u64` when it is one or more ASCII digits and fits; `None` otherwise (empty, any
/// other character, overflow).
pub fn digits_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for i in 0..s.len() {
        let digit = s.as_bytes()[i].wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = push_digit(n, digit)?;
    }
    Some(n)
}

/// `n * 10 + digit`, or `None` when that overflows a `u64`. Exact without `checked_mul`,
/// which widens to 128 bits (`__multi3` in the wasm): `n * 10` fits if and only if
/// `n <= u64::MAX / 10`.
fn push_digit(n: u64, digit: u8) -> Option<u64> {
    if n > u64::MAX / 10 {
        return None;
    }
    (n * 10).checked_add(u64::from(digit))
}

/// A JSON number's text as `0.digits × 10^point`, for the checks that used to go through
/// `f64`: float parsing and formatting are some 30 KB of wasm, and conversion amounts, option
/// numbers and headers need none of it.
struct Decimal {
    negative: bool,
    /// The significant digits: no leading or trailing zero; empty for zero.
    digits: String,
    point: i64,
}

impl Decimal {
    /// `text` must be in JSON's number grammar (what `Number` holds).
    ///
    /// One pass over the bytes (no splitting, concatenating or trimming of strings: smaller in
    /// the wasm): the mantissa's digits before the point count towards `point`, its leading
    /// zeros are skipped, its trailing zeros dropped; then the exponent.
    fn of(text: &str) -> Decimal {
        let b = text.as_bytes();
        let negative = matches!(b.first(), Some(b'-'));
        let mut i = usize::from(negative);
        let mut digits = String::new();
        let (mut int_len, mut leading, mut in_fraction) = (0i64, 0i64, false);
        while let Some(&c) = b.get(i) {
            match c {
                b'.' => in_fraction = true,
                b'0'..=b'9' => {
                    int_len += i64::from(!in_fraction);
                    if digits.is_empty() && c == b'0' {
                        leading += 1;
                    } else {
                        digits.push(char::from(c));
                    }
                }
                _ => break, // `e` or `E`
            }
            i += 1;
        }
        while let Some(b'0') = digits.as_bytes().last() {
            digits.truncate(digits.len() - 1);
        }
        // From the `e` on: a sign, then digits (the loop skips what is not a digit). Exponents
        // beyond any f64 saturate: 10^(10^15) is as infinite as 10^(10^100).
        let exp_negative = matches!(b.get(i + 1), Some(b'-'));
        let mut e: i64 = 0;
        while let Some(&c) = b.get(i) {
            if c.is_ascii_digit() {
                e = (e * 10 + i64::from(c - b'0')).min(1_000_000_000_000_000);
            }
            i += 1;
        }
        let point = int_len - leading + if exp_negative { -e } else { e };
        Decimal {
            negative,
            digits,
            point,
        }
    }
}

impl Value {
    /// Compact JSON text, byte-for-byte what `JSON.stringify(JSON.parse(text))` gives for
    /// values without duplicate keys (numbers are written as their source text; see the
    /// module comment).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
    /// Appends the compact JSON text of `self` to `out`.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => out.push_str(&n.0),
            Value::String(s) => write_str(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, key);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }
    /// The member `key` of an object (the last one if repeated), `None` otherwise.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => {
                let mut i = members.len();
                while i > 0 {
                    i -= 1;
                    if members[i].0 == key {
                        return Some(&members[i].1);
                    }
                }
                None
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(text: &str) -> Value {
        Value::Number(Number(text.to_owned()))
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn err(text: &str) -> JsonError {
        parse(text).expect_err(text)
    }

    #[test]
    fn parses_every_kind_of_value_with_whitespace_around() {
        let v =
            parse(" \t\r\n{\"a\" : [1, -2.5e+3, true, false, null, \"x\"], \"b\": {}} \n").unwrap();
        let expected = Value::Object(vec![
            (
                "a".to_owned(),
                Value::Array(vec![
                    num("1"),
                    num("-2.5e+3"),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Null,
                    s("x"),
                ]),
            ),
            ("b".to_owned(), Value::Object(vec![])),
        ]);
        assert_eq!(v, expected);
        assert_eq!(parse("[]").unwrap(), Value::Array(vec![]));
        assert_eq!(parse("  0 ").unwrap(), num("0"));
        assert_eq!(parse("\"\"").unwrap(), s(""));
    }

    #[test]
    fn numbers_keep_their_source_text() {
        for text in [
            "2",
            "-0",
            "19.98",
            "12345678901234567890",
            "1E400",
            "0.10",
            "2.50e-3",
        ] {
            let v = parse(text).unwrap();
            assert_eq!(v.as_number().unwrap().as_str(), text);
            assert_eq!(v.to_json(), text);
        }
        assert_eq!(parse("3").unwrap().as_number().unwrap().as_u64(), Some(3));
        assert_eq!(parse("3.0").unwrap().as_number().unwrap().as_u64(), None);
        assert_eq!(parse("-3").unwrap().as_number().unwrap().as_u64(), None);
        assert_eq!(parse("19.98").unwrap().as_number().unwrap().as_f64(), 19.98);
    }

    #[test]
    fn digits_u64_is_str_parse_without_a_sign() {
        for s in [
            "",
            "0",
            "7",
            "007",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "1.0",
            "-1",
            "1e3",
            " 1",
            "x",
        ] {
            assert_eq!(digits_u64(s), s.parse::<u64>().ok(), "{s:?}");
        }
        assert_eq!(digits_u64("+1"), None);
    }

    #[test]
    fn objects_keep_order_and_duplicates_and_get_returns_the_last() {
        let v = parse(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(v.to_json(), r#"{"b":1,"a":2,"b":3}"#);
        assert_eq!(v.get("b"), Some(&num("3")));
        assert_eq!(v.get("a"), Some(&num("2")));
        assert_eq!(v.get("c"), None);
        assert_eq!(num("1").get("b"), None);
    }

    #[test]
    fn string_escapes_are_decoded() {
        let v = parse(r#""a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\u20AC""#).unwrap();
        assert_eq!(v, s("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti\u{41}\u{e9}\u{20ac}"));
        assert_eq!(
            parse("\"h\u{e9}\u{1F600}\"").unwrap(),
            s("h\u{e9}\u{1F600}")
        );
    }

    #[test]
    fn surrogate_pairs_become_one_character() {
        assert_eq!(parse(r#""\ud83d\ude00""#).unwrap(), s("\u{1F600}"));
        assert_eq!(parse(r#""\uD834\uDD1E!""#).unwrap(), s("\u{1D11E}!"));
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        for (text, want) in [
            (r#""\ud83d""#, "\u{FFFD}"),
            (r#""\ud83dx""#, "\u{FFFD}x"),
            (r#""\ud83d\u0041""#, "\u{FFFD}A"),
            (r#""\ud83d\ud83d""#, "\u{FFFD}\u{FFFD}"),
            (r#""\ude00""#, "\u{FFFD}"),
            (r#""x\ude00\ud83d""#, "x\u{FFFD}\u{FFFD}"),
            (r#""\ud83d\ud83d\ude00""#, "\u{FFFD}\u{1F600}"),
        ] {
            assert_eq!(parse(text).unwrap(), s(want), "{text}");
        }
    }

    #[test]
    fn trailing_commas_are_refused() {
        assert_eq!(err("[1,]").message, why!("trailing comma"));
        assert_eq!(err("[1 , ]").message, why!("trailing comma"));
        assert_eq!(err(r#"{"a":1,}"#).message, why!("trailing comma"));
        assert!(parse("[,]").is_err());
        assert!(parse("[1,,2]").is_err());
        assert!(parse("{,}").is_err());
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for text in [
            "01",
            "-01",
            "00",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "1e+",
            "1.e3",
            "0x10",
            "1_000",
            "NaN",
            "Infinity",
            "-Infinity",
            "- 1",
            "1.5.2",
        ] {
            assert!(parse(text).is_err(), "{text} was accepted");
        }
        assert_eq!(err("012").message, why!("leading zero in number"));
        assert_eq!(err("012").offset, 1);
    }

    #[test]
    fn control_characters_in_strings_are_refused() {
        for c in (0u8..0x20).map(char::from) {
            let text = format!("\"a{c}b\"");
            assert_eq!(
                err(&text).message,
                why!("control character in string"),
                "{c:?}"
            );
            assert_eq!(err(&text).offset, 2);
        }
        // DEL and C1 controls are not JSON control characters.
        assert_eq!(parse("\"\u{7f}\u{85}\"").unwrap(), s("\u{7f}\u{85}"));
    }

    #[test]
    fn other_malformed_texts_are_refused_with_an_offset() {
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("   ", 3),
            ("1 2", 2),
            ("{} x", 3),
            ("[1", 2),
            ("[1 2]", 3),
            (r#"{"a" 1}"#, 5),
            (r#"{a:1}"#, 1),
            (r#"{"a":}"#, 5),
            ("'a'", 0),
            ("\"abc", 4),
            (r#""\x""#, 1),
            (r#""\u12""#, 5),
            (r#""\u12g4""#, 5),
            ("tru", 0),
            ("nulls", 4),
            ("True", 0),
            ("[1]/* c */", 3),
            ("\u{a0}1", 0),
            ("\u{c}1", 0),
            ("\u{feff}1", 0),
        ];
        for &(text, offset) in cases {
            let e = err(text);
            assert_eq!(e.offset, offset, "{text:?}: {e}");
        }
        let described = err("[1 2]").to_string();
        if cfg!(feature = "json-detail") {
            assert_eq!(described, "invalid JSON at byte 3: expected ',' or ']'");
        } else {
            assert_eq!(described, "invalid JSON at byte 3");
        }
    }

    #[test]
    fn nesting_up_to_max_depth_is_accepted() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse(&text).unwrap().to_json(), text);
        let text = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert_eq!(parse(&text).unwrap().to_json(), text);
    }

    #[test]
    fn nesting_deeper_than_max_depth_is_an_error_not_a_stack_overflow() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = err(&text);
        assert_eq!((e.offset, e.message), (MAX_DEPTH, why!("nesting too deep")));
        assert_eq!(
            err(&"[".repeat(1_000_000)).message,
            why!("nesting too deep")
        );
        assert_eq!(
            err(&r#"{"a":"#.repeat(1_000_000)).message,
            why!("nesting too deep")
        );
        assert_eq!(
            err(&"[{\"a\":".repeat(500_000)).message,
            why!("nesting too deep")
        );
    }

    #[test]
    fn write_str_escapes_like_json_stringify() {
        let mut out = String::new();
        write_str(
            &mut out,
            "a\"b\\c/d\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é€\u{2028}\u{1F600}",
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}é€\u{2028}\u{1F600}\""
        );
        // JSON.stringify("\x0b\x1a\x1b") === '"\\u000b\\u001a\\u001b"'
        let mut out = String::from("prefix:");
        write_str(&mut out, "\u{b}\u{1a}\u{1b}");
        assert_eq!(out, "prefix:\"\\u000b\\u001a\\u001b\"");
    }

    #[test]
    fn write_json_is_compact() {
        let v = Value::Object(vec![
            (
                "k y".to_owned(),
                Value::Array(vec![Value::Null, Value::Bool(true), s("\n")]),
            ),
            ("n".to_owned(), Value::Number(Number::from_i64(-7))),
            ("o".to_owned(), Value::Object(vec![])),
        ]);
        assert_eq!(v.to_json(), r#"{"k y":[null,true,"\n"],"n":-7,"o":{}}"#);
        let mut out = String::from("x");
        Value::Array(vec![]).write_json(&mut out);
        assert_eq!(out, "x[]");
    }

    #[test]
    fn from_f64_formats_like_javascript() {
        // Each expected value is what `String(x)` gives in JavaScript.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (2.0, "2"),
            (-2.0, "-2"),
            (100.0, "100"),
            (19.98, "19.98"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.456, "123.456"),
            (-1.5, "-1.5"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e21, "1e+21"),
            (1.2345e25, "1.2345e+25"),
            (9007199254740992.0, "9007199254740992"),
            (1e-6, "0.000001"),
            (0.000001234, "0.000001234"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (-1.5e-7, "-1.5e-7"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for &(x, expected) in cases {
            assert_eq!(Number::from_f64(x).unwrap().as_str(), expected, "{x:e}");
        }
        assert_eq!(Number::from_f64(f64::NAN), None);
        assert_eq!(Number::from_f64(f64::INFINITY), None);
        assert_eq!(Number::from_f64(f64::NEG_INFINITY), None);
    }

    #[test]
    fn is_finite_is_decided_on_the_text_like_f64_would() {
        let max = "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791";
        let tie = format!("{}2", &max[..max.len() - 1]);
        let finite = [
            "0", "-0", "0e999999999999999999999", "19.98", "1e308", "-1.7976931348623157e308",
            "1e-400", max, "0.1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548458177115317644757302700698555713669596228429148198608349364752927190741684443655107043427115596995080930428801779041744977917e309",
        ];
        let infinite = [
            "1e309",
            "-1e400",
            "1.7976931348623159e308",
            "1e99999999999999999999999999",
            &tie,
            "0.00000000000000000000000000000000000000000000000000000000001e368",
        ];
        for text in finite.iter().chain(infinite.iter()) {
            let n = parse(text).unwrap();
            let n = n.as_number().unwrap();
            assert_eq!(n.is_finite(), n.as_f64().is_finite(), "{text}");
            assert_eq!(n.is_finite(), finite.contains(text), "{text}");
        }
    }

    #[test]
    fn overflow_digits_are_two_to_the_1024_minus_two_to_the_970() {
        let want = "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";
        assert_eq!(overflow_digits(), want.as_bytes());
    }

    #[test]
    fn whole_u64_reads_whole_numbers_however_written() {
        let whole = |text: &str| parse(text).unwrap().as_number().unwrap().whole_u64();
        for (text, want) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("-0.0e5", Some(0)),
            ("10", Some(10)),
            ("10.0", Some(10)),
            ("1e1", Some(10)),
            ("0.25e2", Some(25)),
            ("2500e-2", Some(25)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", Some(u64::MAX)),
            ("1e400", Some(u64::MAX)),
            ("2.5", None),
            ("25e-2", None),
            ("-1", None),
            ("-1e-9", None),
            ("1.0000000000000000001", None),
        ] {
            assert_eq!(whole(text), want, "{text}");
        }
    }

    /// Arbitrary JSON values as serde_json builds them, strings biased towards the characters
    /// that need escaping.
    fn arb_serde_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value as J;
        let string = prop_oneof![
            any::<String>(),
            "[\\x00-\\x7f\u{e9}\u{2028}\u{1F600}]{0,12}"
        ];
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<i64>().prop_map(J::from),
            any::<u64>().prop_map(J::from),
            any::<f64>()
                .prop_filter_map("finite", |x| serde_json::Number::from_f64(x).map(J::Number)),
            string.clone().prop_map(J::String),
        ];
        leaf.prop_recursive(8, 128, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(J::Array),
                prop::collection::vec((string.clone(), inner), 0..8)
                    .prop_map(|members| J::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Strings over the JSON alphabet, so that random texts get past the first byte.
    fn json_ish() -> impl Strategy<Value = String> {
        "[\\[\\]{}:,\" \\n0-9.eE+\\-tfnrulsa\\\\/ubdcDF]{0,120}"
    }

    /// The string-splitting `Decimal::of` this crate had before the one-pass loop, as an
    /// oracle: (negative, digits, point).
    fn decimal_oracle(text: &str) -> (bool, String, i64) {
        let (negative, t) = match text.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, text),
        };
        let (mantissa, exp) = t.split_once(['e', 'E']).unwrap_or((t, "0"));
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let (exp_negative, exp_digits) = match exp.as_bytes().first() {
            Some(b'-') => (true, &exp[1..]),
            Some(b'+') => (false, &exp[1..]),
            _ => (false, exp),
        };
        let mut e: i64 = 0;
        for b in exp_digits.bytes() {
            e = (e * 10 + i64::from(b - b'0')).min(1_000_000_000_000_000);
        }
        let all: String = [int, frac].concat();
        let leading = all.bytes().take_while(|&b| b == b'0').count();
        let digits = all[leading..].trim_end_matches('0').to_owned();
        let point = int.len() as i64 - leading as i64 + if exp_negative { -e } else { e };
        (negative, digits, point)
    }

    #[test]
    fn decimal_of_reads_as_the_oracle_at_the_edges() {
        for text in [
            "0",
            "-0",
            "0.0",
            "-0.000",
            "0e5",
            "0.000e-7",
            "10",
            "100.00",
            "0.0100",
            "1e0",
            "1E+2",
            "1e-2",
            "-12.5e+3",
            "1e99999999999999999999",
            "1e-99999999999999999999",
            "5.00000E-0",
        ] {
            let d = Decimal::of(text);
            assert_eq!(
                (d.negative, d.digits, d.point),
                decimal_oracle(text),
                "{text}"
            );
        }
    }

    #[test]
    fn whole_u64_is_exact_above_two_to_the_53() {
        // Found by whole_u64_agrees_with_f64_on_small_numbers: f64 would round this.
        let n = parse("600000000.007E9").unwrap();
        assert_eq!(
            n.as_number().unwrap().whole_u64(),
            Some(600_000_000_007_000_000)
        );
    }

    proptest! {
        #[test]
        fn to_json_of_parse_equals_serde_json_compact_output(v in arb_serde_value()) {
            let compact = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(parse(&compact).unwrap().to_json(), compact.clone());
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            prop_assert_eq!(parse(&pretty).unwrap().to_json(), compact);
        }

        #[test]
        fn write_str_matches_serde_json_and_round_trips(text in any::<String>()) {
            let mut out = String::new();
            write_str(&mut out, &text);
            prop_assert_eq!(&out, &serde_json::to_string(&text).unwrap());
            prop_assert_eq!(parse(&out).unwrap(), Value::String(text));
        }

        #[test]
        fn from_f64_round_trips_and_is_valid_json(x in any::<f64>()) {
            match Number::from_f64(x) {
                None => prop_assert!(!x.is_finite()),
                Some(n) => {
                    prop_assert_eq!(n.as_f64(), x + 0.0); // -0 is written as 0
                    prop_assert_eq!(parse(n.as_str()).unwrap(), Value::Number(n.clone()));
                }
            }
        }

        #[test]
        fn decimal_of_reads_as_the_oracle(
            text in "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,22})?"
        ) {
            let d = Decimal::of(&text);
            prop_assert_eq!((d.negative, d.digits, d.point), decimal_oracle(&text), "{}", text);
        }

        #[test]
        fn is_finite_agrees_with_parsing_to_f64(
            text in "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,30})?([eE][+-]?(30[0-9]|3[0-3][0-9]|[0-9]{1,2}))?"
        ) {
            let n = parse(&text).unwrap();
            let n = n.as_number().unwrap();
            prop_assert_eq!(n.is_finite(), n.as_f64().is_finite(), "{}", text);
        }

        #[test]
        fn whole_u64_agrees_with_f64_on_small_numbers(
            text in "-?(0|[1-9][0-9]{0,8})(\\.[0-9]{1,4})?([eE][+-]?[0-9])?"
        ) {
            let n = parse(&text).unwrap();
            let n = n.as_number().unwrap();
            let x = n.as_f64();
            // Above 2^53 an f64 is always whole and no longer exact: no oracle there (see
            // whole_u64_is_exact_above_two_to_the_53).
            prop_assume!(x.abs() < 9_007_199_254_740_992.0);
            let want = (x >= 0.0 && x.fract() == 0.0).then_some(x as u64);
            prop_assert_eq!(n.whole_u64(), want, "{}", text);
        }

        #[test]
        fn parse_never_panics_on_arbitrary_strings(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn parse_accepts_exactly_what_serde_json_accepts(text in json_ish()) {
            check_against_serde_json(&text)?;
        }

        #[test]
        fn parse_agrees_with_serde_json_on_near_valid_texts(
            v in arb_serde_value(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, json_char()), 1..4),
        ) {
            let mut chars: Vec<char> = serde_json::to_string(&v).unwrap().chars().collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            check_against_serde_json(&chars.into_iter().collect::<String>())?;
        }
    }

    /// One character of JSON's syntax, or one that is close to it.
    fn json_char() -> impl Strategy<Value = char> {
        prop::sample::select(
            &[
                '[', ']', '{', '}', ':', ',', '"', '\\', ' ', '\n', '\t', '\u{c}', '\u{0}',
                '\u{1f}', '0', '1', '9', '.', 'e', 'E', '+', '-', 't', 'n', 'u', 'a', '/', 'b',
                'D', '\u{e9}',
            ][..],
        )
    }

    /// Our parser accepts `text` exactly when serde_json does, with the same value.
    fn check_against_serde_json(text: &str) -> Result<(), TestCaseError> {
        let ours = parse(text);
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(theirs) => {
                let ours = ours.map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
                let written = ours.to_json();
                // Compact output never needs more bytes than any way of writing the same value.
                prop_assert!(written.len() <= text.len(), "{:?} -> {:?}", text, written);
                // Same value: compare through serde_json's reading of our output.
                let back: serde_json::Value = serde_json::from_str(&written).unwrap();
                prop_assert_eq!(back, theirs);
            }
            // serde_json refuses numbers out of f64 range; JSON's grammar does not.
            Err(e) if e.to_string().contains("number out of range") => {}
            Err(e) => prop_assert!(ours.is_err(), "{:?} accepted, serde_json: {}", text, e),
        }
        Ok(())
    }
}
