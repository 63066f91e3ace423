//! SHA-256 (FIPS 180-4), written for size: the email hash is the only digest the snippet needs,
//! and the `sha2` crate's fully unrolled compression function alone was some 4 KB of wasm. Here
//! every loop stays rolled and the padding is made up as the message is read (no buffer), so
//! the whole digest is well under 1 KB.
//!
//! Invariant: output equals `sha2::Sha256::digest` for every input (differential property test
//! below, plus the FIPS and contract vectors).

/// Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64
/// primes.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Initial hash value: the first 32 bits of the fractional parts of the square roots of the
/// first 8 primes.
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The SHA-256 digest of `data`.
pub fn digest(data: &[u8]) -> [u8; 32] {
    // The padded message is read byte by byte, the padding made up on the fly rather than
    // copied into a buffer: a 1 bit, zeros to 56 mod 64 bytes, then the length in bits,
    // big-endian.
    // The first multiple of 64 bytes that holds the data, the 0x80 and the 8 length bytes.
    let padded_len = (data.len() + 72) / 64 * 64;
    let bits = (data.len() as u64) << 3;
    let byte = |at: usize| match data.get(at) {
        Some(&b) => b,
        None if at == data.len() => 0x80,
        None if at >= padded_len - 8 => (bits >> (8 * (padded_len - 1 - at))) as u8,
        None => 0,
    };

    let mut state = H0;
    let mut w = [0u32; 64];
    for block_at in (0..padded_len).step_by(64) {
        for i in 0..64 {
            w[i] = if i < 16 {
                let mut word = 0;
                for k in 0..4 {
                    word = word << 8 | u32::from(byte(block_at + 4 * i + k));
                }
                word
            } else {
                let (a, b) = (w[i - 15], w[i - 2]);
                let s0 = a.rotate_right(7) ^ a.rotate_right(18) ^ (a >> 3);
                let s1 = b.rotate_right(17) ^ b.rotate_right(19) ^ (b >> 10);
                w[i - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[i - 7])
                    .wrapping_add(s1)
            };
        }
        // h[0..8] are the working variables a..h.
        let mut h = state;
        for i in 0..64 {
            let (a, e) = (h[0], h[4]);
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & h[5]) ^ (!e & h[6]);
            let t1 = h[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & h[1]) ^ (a & h[2]) ^ (h[1] & h[2]);
            // a..h shift down one place: the new a is t1 + t2, the new e is d + t1.
            let mut j = 7;
            while j > 0 {
                h[j] = h[j - 1];
                j -= 1;
            }
            h[0] = t1.wrapping_add(s0.wrapping_add(maj));
            h[4] = h[4].wrapping_add(t1);
        }
        for (s, v) in state.iter_mut().zip(h) {
            *s = s.wrapping_add(v);
        }
    }

    // Byte by byte, big-endian: indices the compiler sees in range (no slice bounds checks).
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (state[i / 4] >> (24 - 8 * (i % 4))) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest;

    fn hex(d: [u8; 32]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fips_180_vectors() {
        assert_eq!(
            hex(digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(digest(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            hex(digest(&[b'a'; 1_000_000])),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn every_padding_boundary_matches_sha2() {
        // Lengths around one and two blocks, where the length field does or does not fit.
        let data: Vec<u8> = (0..=200u8).collect();
        for n in 0..data.len() {
            let expected: [u8; 32] = sha2::Sha256::digest(&data[..n]).into();
            assert_eq!(digest(&data[..n]), expected, "length {n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_sha2_on_random_input(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
            prop_assert_eq!(digest(&data), expected);
        }
    }
}
