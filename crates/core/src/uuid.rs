//! UUIDs in the one form the wire uses: canonical, hyphenated, lower case
//! (`7ad26d4f-3181-4ef8-b6ca-b8f59499dd43`). Hand-written rather than the `uuid` crate because
//! the snippet needs only these two operations and every byte ships to every visitor.

use crate::entropy::Entropy;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A new random (version 4, RFC 9562 variant) UUID from `entropy`.
pub fn new_v4(entropy: &mut dyn Entropy) -> String {
    let mut b = [0u8; 16];
    entropy.fill(&mut b);
    from_random_bytes(b)
}

/// The version 4 UUID made from 16 random bytes (version and variant bits set).
pub fn from_random_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 0xf) as usize] as char);
    }
    s
}

/// True if `s` is a UUID of any version in canonical hyphenated form (8-4-4-4-12 hex digits,
/// either case).
pub fn is_canonical(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `s` in lower case if it is a canonical UUID (any version), else `None`.
pub fn parse_canonical(s: &str) -> Option<String> {
    is_canonical(s).then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn v4_has_version_and_variant_bits() {
        let id = from_random_bytes([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = from_random_bytes([0; 16]);
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn new_ids_are_canonical_lower_case_and_distinct() {
        let mut e = SeededEntropy::new(7);
        let a = new_v4(&mut e);
        let b = new_v4(&mut e);
        assert!(is_canonical(&a) && is_canonical(&b));
        assert_ne!(a, b);
        assert_eq!(a, a.to_ascii_lowercase());
    }

    #[test]
    fn canonical_form_is_required() {
        assert!(is_canonical("7ad26d4f-3181-4ef8-b6ca-b8f59499dd43"));
        assert_eq!(
            parse_canonical("7AD26D4F-3181-1EF8-B6CA-B8F59499DD43").as_deref(),
            Some("7ad26d4f-3181-1ef8-b6ca-b8f59499dd43")
        );
        for bad in [
            "",
            "7ad26d4f31814ef8b6cab8f59499dd43",
            "{7ad26d4f-3181-4ef8-b6ca-b8f59499dd43}",
            "7ad26d4f-3181-4ef8-b6ca-b8f59499dd4",
            "7ad26d4f-3181-4ef8-b6ca-b8f59499dd43 ",
            "7ad26d4g-3181-4ef8-b6ca-b8f59499dd43",
            "7ad26d4f_3181-4ef8-b6ca-b8f59499dd43",
        ] {
            assert!(!is_canonical(bad), "{bad:?}");
        }
    }
}
