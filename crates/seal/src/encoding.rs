//! Text encodings of the seal bytes that stay inside the QR alphanumeric alphabet
//! (ISO/IEC 18004 §7.4.4: `0-9 A-Z space $ % * + - . / :`).
//!
//! Two encodings are offered so that their QR cost can be compared:
//! - unpadded upper-case base32 (RFC 4648 §6, alphabet `A-Z 2-7`), 8 characters per 5 bytes;
//! - Base45 (RFC 9285), 3 characters per 2 bytes.
//!
//! In QR alphanumeric mode every character costs 5.5 bits, so base32 costs 8.8 bits per byte and
//! Base45 8.25 bits per byte: base32 is about 6.7 % larger. Base45 uses space, `%`, `$`, `+`, `/`
//! and `:`, which are not safe in a URL fragment (RFC 3986 §3.5), so only base32 can travel in a
//! clickable URL.
//!
//! Measured for a realistic seal (141-byte COSE_Sign1: 6-character issuer, 12-byte reference,
//! dates, type, 16-byte digest, 8-byte kid, 64-byte signature) at error correction level Q:
//!
//! | QR text | characters | QR version | module at 35 mm |
//! |---|---|---|---|
//! | `HP1:` + Base45 | 216 | 10 (57 × 57) | 0.614 mm |
//! | `HTTPS://HP.GO.TH/V#` + base32 | 245 | 11 (61 × 61) | 0.574 mm |
//! | `HTTPS://VERIFY.HYBRIDPOST.GO.TH/V#` + base32 | 260 | 12 (65 × 65) | 0.538 mm |
//!
//! Recommendation: the base32 URL with the shortest host available. It costs one or two QR
//! versions over Base45 but any phone camera opens it without an app, the fragment never reaches
//! a server (RFC 3986 §3.5), and modules stay above 0.5 mm. Base45 is the choice only where
//! version 10 is a hard limit and a dedicated app reads the code.

/// The RFC 4648 §6 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The RFC 9285 §4 Base45 alphabet (the QR alphanumeric set in ISO/IEC 18004 order).
const BASE45_ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A character outside the alphabet, with its position.
    #[error("invalid character at position {0}")]
    InvalidCharacter(usize),
    /// A length that no encoder produces (RFC 4648 §6 lengths 1, 3, 6 mod 8; RFC 9285 length 1 mod 3).
    #[error("invalid length")]
    InvalidLength,
    /// Bits left over after the last byte are not zero (RFC 4648 §3.5 canonical encoding), or a
    /// Base45 group encodes a value too large for its byte count (RFC 9285 §4.2).
    #[error("non-canonical encoding")]
    NonCanonical,
}

/// Encodes bytes as unpadded upper-case base32 (RFC 4648 §6 without the `=` padding of §3.2).
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 0x1f) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize]));
    }
    out
}

/// Decodes unpadded base32; lower case is accepted because some scanners fold case.
///
/// Rejects lengths that cannot come from the encoder and non-zero trailing bits, so every
/// byte string has exactly one accepted text (RFC 4648 §3.5).
pub fn base32_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(DecodeError::InvalidLength);
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for (i, c) in text.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(DecodeError::InvalidCharacter(i)),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err(DecodeError::NonCanonical);
    }
    Ok(out)
}

/// Encodes bytes as Base45 (RFC 9285 §4): each 2 bytes become 3 characters, a last odd byte 2.
pub fn base45_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(2) * 3);
    for chunk in data.chunks(2) {
        let (mut n, digits) = match chunk {
            [a, b] => (u32::from(*a) * 256 + u32::from(*b), 3),
            [a] => (u32::from(*a), 2),
            _ => (0, 0),
        };
        for _ in 0..digits {
            out.push(char::from(BASE45_ALPHABET[(n % 45) as usize]));
            n /= 45;
        }
    }
    out
}

/// Decodes Base45 (RFC 9285 §4.2); lower-case letters are rejected because the alphabet has none.
pub fn base45_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = text.as_bytes();
    if bytes.len() % 3 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    let mut values = Vec::with_capacity(bytes.len());
    for (i, &c) in bytes.iter().enumerate() {
        match BASE45_ALPHABET.iter().position(|&a| a == c) {
            Some(v) => values.push(v as u32),
            None => return Err(DecodeError::InvalidCharacter(i)),
        }
    }
    let mut out = Vec::with_capacity(bytes.len() * 2 / 3);
    for group in values.chunks(3) {
        match group {
            [c, d, e] => {
                let n = c + d * 45 + e * 45 * 45;
                if n > 0xffff {
                    return Err(DecodeError::NonCanonical);
                }
                out.push((n >> 8) as u8);
                out.push((n & 0xff) as u8);
            }
            [c, d] => {
                let n = c + d * 45;
                if n > 0xff {
                    return Err(DecodeError::NonCanonical);
                }
                out.push(n as u8);
            }
            _ => return Err(DecodeError::InvalidLength),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_test_vectors_without_padding() {
        // RFC 4648 §10 vectors with the `=` padding removed.
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).expect("valid vector"), plain.as_bytes());
            assert_eq!(base32_decode(&encoded.to_lowercase()).expect("lower case"), plain.as_bytes());
        }
    }

    #[test]
    fn base32_rejects_impossible_lengths_and_dirty_tail_bits() {
        assert_eq!(base32_decode("M"), Err(DecodeError::InvalidLength));
        assert_eq!(base32_decode("MZ1"), Err(DecodeError::InvalidLength));
        assert_eq!(base32_decode("MZ"), Err(DecodeError::NonCanonical));
        assert_eq!(base32_decode("M#"), Err(DecodeError::InvalidCharacter(1)));
    }

    #[test]
    fn base45_matches_rfc9285_examples() {
        // RFC 9285 §4.3 and §4.4.
        assert_eq!(base45_encode(b"AB"), "BB8");
        assert_eq!(base45_encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(base45_encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(base45_decode("QED8WEX0").expect("valid"), b"ietf!");
    }

    #[test]
    fn base45_rejects_overflowing_groups_and_bad_lengths() {
        assert_eq!(base45_decode("GGW"), Err(DecodeError::NonCanonical));
        assert_eq!(base45_decode("A"), Err(DecodeError::InvalidLength));
        assert_eq!(base45_decode("ab"), Err(DecodeError::InvalidCharacter(0)));
    }

    #[test]
    fn both_encodings_round_trip_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let slice = &data[..len];
            assert_eq!(base32_decode(&base32_encode(slice)).expect("b32"), slice);
            assert_eq!(base45_decode(&base45_encode(slice)).expect("b45"), slice);
        }
    }
}
