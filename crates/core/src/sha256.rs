//! SHA-256 (FIPS 180-4), written for size: the email hash is the only digest the snippet needs,
//! and the `sha2` crate's fully unrolled compression function alone was some 4 KB of wasm. Here
//! every loop stays rolled, the padding is made up as the message is read (no buffer), the
//! working variables are locals and the hex is written from the state words, so the whole
//! digest is well under 1 KB.
//!
//! Invariant: output equals `sha2::Sha256::digest`, in lower-case hex, for every input
//! (differential property test below, plus the FIPS and contract vectors).

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

/// The SHA-256 digest of `data` as 64 lower-case hex characters, written straight from the
/// state words (no byte array in between).
pub fn hex_digest(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let state = digest_words(data);
    let mut out = String::with_capacity(64);
    for i in 0..64 {
        let nibble = state[i / 8] >> (28 - 4 * (i % 8)) & 0xf;
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

/// The digest as the eight state words (big-endian order of the output).
fn digest_words(data: &[u8]) -> [u32; 8] {
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
    // The message schedule as a ring of its last 16 words, each made in the round that uses it.
    let mut w = [0u32; 16];
    // A `while`, not `step_by`: no stepping iterator in the wasm.
    let mut block_at = 0;
    while block_at < padded_len {
        // The working variables as locals, not an array shifted in memory each round: the
        // shift is then only a renaming.
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for i in 0..64 {
            let wi = if i < 16 {
                let mut word = 0;
                for k in 0..4 {
                    word = word << 8 | u32::from(byte(block_at + 4 * i + k));
                }
                word
            } else {
                let (x, y) = (w[(i + 1) % 16], w[(i + 14) % 16]);
                let s0 = x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
                let s1 = y.rotate_right(17) ^ y.rotate_right(19) ^ (y >> 10);
                w[i % 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[(i + 9) % 16])
                    .wrapping_add(s1)
            };
            w[i % 16] = wi;
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            (h, g, f, e, d, c, b) = (g, f, e, d.wrapping_add(t1), c, b, a);
            a = t1.wrapping_add(s0.wrapping_add(maj));
        }
        let v = [a, b, c, d, e, f, g, h];
        for i in 0..8 {
            state[i] = state[i].wrapping_add(v[i]);
        }
        block_at += 64;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest;

    /// sha2's digest of `data` in lower-case hex.
    fn sha2_hex(data: &[u8]) -> String {
        sha2::Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn fips_180_vectors() {
        assert_eq!(
            hex_digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex_digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            hex_digest(&[b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn every_padding_boundary_matches_sha2() {
        // Lengths around one and two blocks, where the length field does or does not fit.
        let data: Vec<u8> = (0..=200u8).collect();
        for n in 0..data.len() {
            assert_eq!(hex_digest(&data[..n]), sha2_hex(&data[..n]), "length {n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_sha2_on_random_input(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(hex_digest(&data), sha2_hex(&data));
        }
    }
}
