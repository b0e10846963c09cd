//! Verification seals for hybridpost letters.
//!
//! Every letter that hybridpost prints or delivers carries a QR code holding a seal: a small
//! signed statement "agency X issued a letter with reference R and content digest D on date T".
//! A citizen's phone, or anyone offline holding the published trust list, can check that the
//! letter is genuine. The design follows the common ground of the EU digital COVID certificate,
//! France's 2D-Doc and ICAO visible digital seals (ICAO Doc 9303 Part 13):
//!
//! - [`SealPayload`]: compact CBOR (RFC 8949) with integer keys; no national id, no name.
//! - [`Seal`]: COSE_Sign1 (RFC 9052) with ES256 (RFC 9053), kid = first 8 bytes of SHA-256 of the
//!   key's SubjectPublicKeyInfo.
//! - QR text: `HTTPS://HOST/V#<unpadded base32>` (RFC 4648) or `HP1:<Base45>` (RFC 9285), and
//!   [`qr_matrix`] at error correction level Q (ISO/IEC 18004).
//! - [`SigningKey`], [`TrustList`]: keys with validity periods, and the signed trust list
//!   published as JSON.
//! - [`Verdict`]: the outcome of verification, including withdrawal of letters.
//! - [`ReplyCode`]: the short MAC-protected code on every reply page (QR at level H), and the
//!   reference in digits for manual entry ([`Reference::to_digits`]).
//!
//! This crate owns the seal format and its cryptography only. It must stay pure: bytes and
//! structs in and out, no network, no database, no clock (callers pass today's date), no async
//! runtime, and it must never panic on untrusted input.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod encoding;
pub mod keys;
pub mod payload;
pub mod qr;
pub mod reply_code;
pub mod seal;
pub mod secrets;
pub mod trust_list;

pub use encoding::{DecodeError, base32_decode, base32_encode, base45_decode, base45_encode};
pub use keys::{KeyError, KeyId, PublicKey, SigningKey, TrustedKey, Validity};
pub use payload::{ContentDigest, Date, DocumentType, FORMAT_VERSION, PayloadError, Reference, SealPayload};
pub use qr::{ErrorCorrection, QrError, QrMatrix, alphanumeric_qr_matrix, module_size_mm, qr_matrix, qr_matrix_at};
pub use reply_code::{
    MAC_LEN, REPLY_CODE_EC, REPLY_CODE_PREFIX, ReferenceDigitsError, ReplyCode, ReplyCodeError, ReplyKey,
};
pub use seal::{
    MAX_QR_TEXT_LEN, MAX_SEAL_BYTES, Seal, SealError, TextEncoding, Verdict, VerifyContext, WithdrawalReason,
    no_withdrawals, verify_qr_text,
};
pub use secrets::{Purpose, SecretError, ServiceSecret};
pub use trust_list::{RootKey, TrustList, TrustListError};

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Bytes of a hex string (either case), `None` if it is not hex.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}
