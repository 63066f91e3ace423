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
pub fn from_random_bytes(b: [u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    push_v4(&mut s, &b);
    s
}

/// Appends the version 4 UUID made from the first 16 bytes of `random` (version and variant
/// bits set) to `out`: a shell that makes ids in runs writes them all into one string.
pub fn push_v4(out: &mut String, random: &[u8]) {
    // Written as bytes at fixed places, then appended once: a `String::push` per character is
    // a capacity check and a UTF-8 encoding each, and ids made in runs spent most of their
    // time there.
    const AT: [u8; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut id = [b'-'; 36];
    for (i, &at) in AT.iter().enumerate() {
        let byte = random.get(i).copied().unwrap_or(0);
        let byte = match i {
            6 => (byte & 0x0f) | 0x40,
            8 => (byte & 0x3f) | 0x80,
            _ => byte,
        };
        id[at as usize] = HEX[(byte >> 4) as usize];
        id[at as usize + 1] = HEX[(byte & 0xf) as usize];
    }
    // SAFETY: `id` holds only ASCII (hex digits from `HEX` and '-'), so `out` stays UTF-8.
    // (`str::from_utf8` here would add its validator, some 400 bytes, to the wasm.)
    unsafe { out.as_mut_vec() }.extend_from_slice(&id);
}

/// True if `s` is a UUID of any version in canonical hyphenated form (8-4-4-4-12 hex digits,
/// either case).
pub fn is_canonical(s: &str) -> bool {
    let b = s.as_bytes();
    // By index, not an enumerated iterator: smaller in the wasm.
    let mut i = 0;
    while b.len() == 36 && i < 36 {
        let ok = match i {
            8 | 13 | 18 | 23 => b[i] == b'-',
            _ => b[i].is_ascii_hexdigit(),
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    b.len() == 36
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
    fn ids_in_a_run_are_the_ids_of_their_bytes() {
        let random: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(37)).collect();
        let mut run = String::new();
        for chunk in random.chunks(16) {
            push_v4(&mut run, chunk);
        }
        assert_eq!(run.len(), 3 * 36);
        for (i, chunk) in random.chunks(16).enumerate() {
            let id = from_random_bytes(chunk.try_into().unwrap());
            assert_eq!(&run[36 * i..36 * (i + 1)], id);
            assert!(is_canonical(&id) && id.as_bytes()[14] == b'4');
        }
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
