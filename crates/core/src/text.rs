//! Messages and numbers as text without `core::fmt`: `format!`, `write!` and `to_string` on
//! integers bring the formatting machinery (argument tables, padding, integer formatting) into
//! the shipped wasm, and every call site pays for its own argument table. Messages here are
//! joined from their parts instead; the output is the same text. Public: the web shell builds
//! its messages with the same helpers.

/// The parts, joined.
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Appends `n` in decimal, as `n.to_string()` writes it.
pub fn push_dec(out: &mut String, n: u64) {
    crate::time::push_decimal(out, n);
}

/// `n` in decimal, as `n.to_string()` writes it.
pub fn dec(n: u64) -> String {
    let mut out = String::new();
    crate::time::push_decimal(&mut out, n);
    out
}

/// `s.split_once(sep)` for an ASCII `sep`, by bytes: no `char` searcher (some 400 bytes of
/// wasm per crate that instantiates one). An ASCII byte is always a character boundary.
pub fn split_once_ascii(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The first `n` characters of `s` (all of it when shorter), found by bytes: a character
/// starts at every byte that is not a UTF-8 continuation byte (`0b10xx_xxxx`).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    let mut seen = 0;
    for i in 0..s.len() {
        if (s.as_bytes()[i] as i8) >= -0x40 {
            if seen == n {
                return &s[..i];
            }
            seen += 1;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_joins_the_parts_in_order() {
        assert_eq!(concat(&[]), "");
        assert_eq!(concat(&["a", "", "bc", "é"]), "abcé");
    }

    #[test]
    fn split_once_ascii_is_split_once() {
        for s in ["", "a", "#", "a#b", "é#ü#x", "##", "no separator é"] {
            assert_eq!(split_once_ascii(s, b'#'), s.split_once('#'), "{s:?}");
        }
    }

    #[test]
    fn prefix_chars_is_chars_take() {
        for s in [
            "",
            "a",
            "abc",
            "日本語テキスト",
            "a\u{301}b",
            "€uro",
            "😀😀😀😀",
        ] {
            for n in 0..10 {
                let want: String = s.chars().take(n).collect();
                assert_eq!(prefix_chars(s, n), want, "{s:?} {n}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn prefix_chars_is_chars_take_on_any_text(s in ".{0,40}", n in 0usize..48) {
            let want: String = s.chars().take(n).collect();
            proptest::prop_assert_eq!(prefix_chars(&s, n), want);
        }
    }

    #[test]
    fn dec_writes_like_to_string() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(dec(n), n.to_string());
        }
    }
}
