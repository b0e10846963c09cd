//! The seal itself: a COSE_Sign1 message (RFC 9052 §4.2) with ES256 (RFC 9053 §2.1), its QR
//! text forms, and verification.
//!
//! Wire form, untagged, as CBOR:
//!
//! ```text
//! COSE_Sign1 = [
//!   protected:   bstr .cbor { 1 (alg): -7 (ES256), 4 (kid): bstr 8 bytes },
//!   unprotected: {},
//!   payload:     bstr .cbor SealPayload,
//!   signature:   bstr 64 bytes (r ‖ s)
//! ]
//! ```
//!
//! The kid is in the protected header so that it is covered by the signature. The external AAD
//! is empty (RFC 9052 §4.3), so any conforming COSE library can check a seal. A reader also
//! accepts the tagged form (CBOR tag 18).

use coset::{CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};

use crate::encoding::{base32_decode, base32_encode, base45_decode, base45_encode};
use crate::keys::{KeyId, SigningKey, TrustedKey};
use crate::payload::{Date, PayloadError, Reference, SealPayload};
use crate::trust_list::TrustList;

/// Largest accepted seal in bytes. A realistic seal is about 150 bytes; the bound keeps hostile
/// input cheap to reject.
pub const MAX_SEAL_BYTES: usize = 1024;

/// Largest accepted QR text in characters: the base32 form of [`MAX_SEAL_BYTES`] plus a host
/// of up to 253 characters (RFC 1035 §2.3.4) and the fixed parts.
pub const MAX_QR_TEXT_LEN: usize = 1639 + 253 + 16;

/// Path and fragment marker of the URL form: `HTTPS://HOST/V#<base32>`.
const URL_PATH: &[u8] = b"/V#";
/// Scheme of the URL form.
const URL_SCHEME: &[u8] = b"HTTPS://";
/// Plain HTTP, for an installation on one machine without TLS (`http://127.0.0.1:8080`).
const URL_SCHEME_PLAIN: &[u8] = b"HTTP://";
/// Prefix of the Base45 form, in the manner of the EU certificate's `HC1:`.
const BASE45_PREFIX: &[u8] = b"HP1:";

/// How the seal bytes are written into the QR text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// `HTTPS://HOST/V#<unpadded base32>`: a URL that a phone camera can open. Recommended.
    Base32Url,
    /// `HP1:<Base45>`: about 6 % shorter, but not a URL, because Base45's space and `%` are not
    /// allowed in a URL fragment (RFC 3986 §3.5); only a dedicated app can read it.
    Base45,
}

/// Why a seal could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The payload breaks a field constraint. Its words are in the message, so it is not also
    /// reported as the source.
    #[error("invalid payload: {0}")]
    Payload(PayloadError),
    /// The payload's issuer differs from the key's issuer.
    #[error("payload issuer differs from key issuer")]
    IssuerMismatch,
    /// The issue date lies outside the key's validity.
    #[error("issue date outside the key's validity")]
    KeyNotValid,
    /// The encoded seal exceeds [`MAX_SEAL_BYTES`].
    #[error("seal too large")]
    TooLarge,
    /// COSE encoding failed.
    #[error("COSE encoding: {0}")]
    Encoding(String),
}

/// Why a letter reference was withdrawn after issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WithdrawalReason {
    /// The agency cancelled the letter.
    Cancelled,
    /// A newer letter replaces this one.
    Superseded,
    /// The letter was reported lost or stolen.
    ReportedLost,
}

/// The outcome of checking a seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The seal was made by a trusted key of its issuer, within the key's validity, has not
    /// expired and has not been withdrawn.
    Genuine {
        /// The verified payload.
        payload: SealPayload,
        /// The id of the key that verified it.
        key_id: KeyId,
        /// The issuer code of that key.
        issuer: String,
    },
    /// A trusted key has the seal's kid but the signature does not verify: the seal was altered.
    BadSignature,
    /// No trusted key has the seal's kid.
    UnknownKey {
        /// The kid found in the seal.
        key_id: KeyId,
    },
    /// The signing key is trusted for a different issuer than the payload names.
    IssuerMismatch {
        /// The issuer the key is trusted for.
        key_issuer: String,
        /// The issuer the payload claims.
        claimed: String,
    },
    /// The issue date lies outside the signing key's validity period.
    KeyNotValidAtIssue {
        /// The key's id.
        key_id: KeyId,
        /// The seal's issue date.
        issue_date: Date,
    },
    /// The seal's expiry date has passed.
    Expired {
        /// The last day on which the seal was valid.
        expires: Date,
    },
    /// The letter was withdrawn.
    Withdrawn(WithdrawalReason),
    /// The text or bytes claim to be a seal but cannot be read.
    Malformed(String),
    /// The QR text is not a hybridpost seal at all.
    NotASeal,
}

impl Verdict {
    /// Whether the verdict is [`Verdict::Genuine`].
    pub fn is_genuine(&self) -> bool {
        matches!(self, Verdict::Genuine { .. })
    }
}

/// A withdrawal check that withdraws nothing.
pub fn no_withdrawals(_: &Reference) -> Option<WithdrawalReason> {
    None
}

/// What a verifier needs besides the seal.
#[derive(Clone, Copy)]
pub struct VerifyContext<'a> {
    /// The trusted keys.
    pub trust_list: &'a TrustList,
    /// Today's date (Asia/Bangkok), for the expiry check.
    pub today: Date,
    /// Tells whether a reference was withdrawn, e.g. `&|r| set.get(r).copied()`.
    pub withdrawn: &'a dyn Fn(&Reference) -> Option<WithdrawalReason>,
}

impl std::fmt::Debug for VerifyContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyContext")
            .field("trust_list", self.trust_list)
            .field("today", &self.today)
            .finish_non_exhaustive()
    }
}

/// An encoded seal: the bytes of a COSE_Sign1 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    bytes: Vec<u8>,
}

impl Seal {
    /// Seals a payload with `key`, refusing when the payload's issuer or issue date does not
    /// fit the key, so that a seal that would fail verification is never printed.
    pub fn sign(payload: &SealPayload, key: &SigningKey) -> Result<Seal, SealError> {
        let body = payload.to_cbor().map_err(SealError::Payload)?;
        if payload.issuer != key.issuer() {
            return Err(SealError::IssuerMismatch);
        }
        if !key.validity().contains(payload.issue_date) {
            return Err(SealError::KeyNotValid);
        }
        let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).key_id(key.id().0.to_vec()).build();
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(body)
            .create_signature(&[], |tbs| key.sign(tbs).to_vec())
            .build();
        let bytes = sign1.to_vec().map_err(|e| SealError::Encoding(e.to_string()))?;
        if bytes.len() > MAX_SEAL_BYTES {
            return Err(SealError::TooLarge);
        }
        Ok(Seal { bytes })
    }

    /// Wraps bytes read from elsewhere; nothing is checked until [`Seal::verify`].
    pub fn from_bytes(bytes: Vec<u8>) -> Seal {
        Seal { bytes }
    }

    /// The COSE_Sign1 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The recommended QR text `HTTPS://HOST/V#<base32>`, with scheme and host in upper case so
    /// that all but the `#` fall in the QR alphanumeric set (ISO/IEC 18004 §7.4.4). Hosts are
    /// case-insensitive (RFC 3986 §3.2.2), so the upper-case URL still opens.
    pub fn to_qr_text(&self, host: &str) -> String {
        self.to_qr_text_with(host, TextEncoding::Base32Url)
    }

    /// The QR text for the verification page at `base_url` (`https://verify.example.go.th` or,
    /// on one machine, `http://127.0.0.1:8080`): scheme and host in upper case, path `/V`, the
    /// seal in the fragment. A base URL without a scheme is taken as HTTPS; any path in it is
    /// dropped (the page is always at `/V`).
    pub fn to_qr_url(&self, base_url: &str) -> String {
        let (scheme, rest) = match base_url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("HTTP", rest),
            Some((_, rest)) => ("HTTPS", rest),
            None => ("HTTPS", base_url),
        };
        let host = rest.split('/').next().unwrap_or(rest);
        format!("{scheme}://{}/V#{}", host.to_ascii_uppercase(), base32_encode(&self.bytes))
    }

    /// The QR text in the chosen encoding; `host` is ignored for [`TextEncoding::Base45`].
    pub fn to_qr_text_with(&self, host: &str, encoding: TextEncoding) -> String {
        match encoding {
            TextEncoding::Base32Url => {
                format!("HTTPS://{}/V#{}", host.to_ascii_uppercase(), base32_encode(&self.bytes))
            }
            TextEncoding::Base45 => format!("HP1:{}", base45_encode(&self.bytes)),
        }
    }

    /// Reads a QR text in either form. Scheme, host, path and base32 are read case-insensitively.
    ///
    /// Returns [`Verdict::NotASeal`] for text that is not in either form and
    /// [`Verdict::Malformed`] for text in our form that cannot be decoded.
    pub fn from_qr_text(text: &str) -> Result<Seal, Verdict> {
        let bytes = text.as_bytes();
        let url_rest =
            strip_prefix_ignore_case(bytes, URL_SCHEME).or_else(|| strip_prefix_ignore_case(bytes, URL_SCHEME_PLAIN));
        let decoded = if let Some(rest) = url_rest {
            let slash = rest.iter().position(|&b| b == b'/').ok_or(Verdict::NotASeal)?;
            let (host, tail) = rest.split_at(slash);
            let valid_host = !host.is_empty()
                && host.len() <= 253
                && host.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            let fragment = strip_prefix_ignore_case(tail, URL_PATH).filter(|_| valid_host).ok_or(Verdict::NotASeal)?;
            check_length(text)?;
            let fragment = core::str::from_utf8(fragment).map_err(|_| malformed("fragment is not ASCII"))?;
            base32_decode(fragment).map_err(|e| malformed(&format!("base32: {e}")))?
        } else if let Some(rest) = strip_prefix_ignore_case(bytes, BASE45_PREFIX) {
            check_length(text)?;
            let rest = core::str::from_utf8(rest).map_err(|_| malformed("payload is not ASCII"))?;
            base45_decode(rest).map_err(|e| malformed(&format!("base45: {e}")))?
        } else {
            return Err(Verdict::NotASeal);
        };
        if decoded.is_empty() {
            return Err(malformed("empty seal"));
        }
        if decoded.len() > MAX_SEAL_BYTES {
            return Err(malformed("seal longer than 1024 bytes"));
        }
        Ok(Seal { bytes: decoded })
    }

    /// Verifies the seal. Never panics, whatever the bytes.
    ///
    /// Order of checks: structure, kid known, signature, payload, issuer, key validity at the
    /// issue date, expiry, withdrawal. The payload is parsed only after the signature verifies.
    pub fn verify(&self, ctx: &VerifyContext<'_>) -> Verdict {
        let bytes = &self.bytes;
        if bytes.is_empty() || bytes.len() > MAX_SEAL_BYTES {
            return malformed("seal length out of range");
        }
        // Tag 18 is one byte, 0xd2 (RFC 9052 §2, RFC 8949 §3.4).
        let parsed = if bytes.first() == Some(&0xd2) {
            CoseSign1::from_tagged_slice(bytes)
        } else {
            CoseSign1::from_slice(bytes)
        };
        let sign1 = match parsed {
            Ok(s) => s,
            Err(e) => return malformed(&format!("not a COSE_Sign1: {e}")),
        };
        let header = &sign1.protected.header;
        if header.alg != Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) {
            return malformed("protected header alg is not ES256 (-7)");
        }
        let Some(key_id) = KeyId::from_slice(&header.key_id) else {
            return malformed("protected header kid is not 8 bytes");
        };
        let Some(payload_bytes) = sign1.payload.as_deref() else {
            return malformed("detached payload");
        };
        if sign1.signature.len() != 64 {
            return malformed("ES256 signature is not 64 bytes");
        }
        let candidates: Vec<&TrustedKey> = ctx.trust_list.keys_with_id(key_id).collect();
        if candidates.is_empty() {
            return Verdict::UnknownKey { key_id };
        }
        let tbs = sign1.tbs_data(&[]);
        let verified: Vec<&TrustedKey> =
            candidates.into_iter().filter(|k| k.public_key.verify(&tbs, &sign1.signature)).collect();
        if verified.is_empty() {
            return Verdict::BadSignature;
        }
        let payload = match SealPayload::from_cbor(payload_bytes) {
            Ok(p) => p,
            Err(e) => return malformed(&format!("payload: {e}")),
        };
        let same_issuer: Vec<&TrustedKey> = verified.iter().copied().filter(|k| k.issuer == payload.issuer).collect();
        let Some(first) = same_issuer.first() else {
            let key_issuer = verified.first().map(|k| k.issuer.clone()).unwrap_or_default();
            return Verdict::IssuerMismatch { key_issuer, claimed: payload.issuer };
        };
        let Some(key) = same_issuer.iter().find(|k| k.validity.contains(payload.issue_date)) else {
            return Verdict::KeyNotValidAtIssue { key_id: first.public_key.id(), issue_date: payload.issue_date };
        };
        if ctx.today > payload.expires {
            return Verdict::Expired { expires: payload.expires };
        }
        if let Some(reason) = (ctx.withdrawn)(&payload.reference) {
            return Verdict::Withdrawn(reason);
        }
        Verdict::Genuine { key_id: key.public_key.id(), issuer: key.issuer.clone(), payload }
    }
}

/// Reads and verifies a scanned QR text in one step. Never panics.
pub fn verify_qr_text(text: &str, ctx: &VerifyContext<'_>) -> Verdict {
    match Seal::from_qr_text(text) {
        Ok(seal) => seal.verify(ctx),
        Err(verdict) => verdict,
    }
}

fn malformed(detail: &str) -> Verdict {
    Verdict::Malformed(detail.to_owned())
}

fn check_length(text: &str) -> Result<(), Verdict> {
    if text.len() > MAX_QR_TEXT_LEN { Err(malformed("QR text too long")) } else { Ok(()) }
}

fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| text.get(prefix.len()..)).flatten()
}
