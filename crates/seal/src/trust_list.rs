//! The trust list: the public keys allowed to seal letters, signed by a root key and published
//! as JSON at `/.well-known/hybridpost/trust-list.json` (RFC 8615 well-known URI).
//!
//! # Published format
//!
//! The file is a JWS in flattened JSON serialization (RFC 7515 §7.2.2) with ES256
//! (RFC 7518 §3.4), so any JOSE library can check it:
//!
//! ```json
//! {
//!   "protected": "<base64url of {\"alg\":\"ES256\",\"kid\":\"<root key id, 16 hex digits>\"}>",
//!   "payload":   "<base64url of the body below, exact bytes as signed>",
//!   "signature": "<base64url of the 64-byte r ‖ s>"
//! }
//! ```
//!
//! The body:
//!
//! ```json
//! {
//!   "format": "hybridpost-trust-list",
//!   "version": 1,
//!   "sequence": 42,
//!   "issued": "2026-03-01",
//!   "next_update": "2026-04-01",
//!   "keys": [
//!     {
//!       "kid": "0123456789abcdef",
//!       "issuer": "MDES01",
//!       "not_before": "2026-01-01",
//!       "not_after": "2027-12-31",
//!       "spki": "<base64 (standard alphabet) of the SubjectPublicKeyInfo DER>"
//!     }
//!   ]
//! }
//! ```
//!
//! Signing the body's exact bytes avoids JSON canonicalisation. `kid` is recomputed from `spki`
//! and must match. `sequence` only grows, so a client can refuse an older list (rollback).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, PublicKey, SigningKey, TrustedKey, Validity};
use crate::payload::Date;

/// The `format` value of the body.
pub const TRUST_LIST_FORMAT: &str = "hybridpost-trust-list";
/// The body `version` written and read by this crate.
pub const TRUST_LIST_VERSION: u32 = 1;
/// Largest accepted trust-list file in bytes.
pub const MAX_TRUST_LIST_BYTES: usize = 1 << 20;

/// The set of keys trusted to seal letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustList {
    /// Monotonic number of this edition.
    pub sequence: u64,
    /// Date of this edition.
    pub issued: Date,
    /// Date by which a newer edition will be published, if announced.
    pub next_update: Option<Date>,
    /// The trusted keys.
    pub keys: Vec<TrustedKey>,
}

/// Why a trust list could not be signed or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustListError {
    /// The JSON or one of its fields is malformed.
    #[error("malformed trust list: {0}")]
    Malformed(String),
    /// The list is signed with an algorithm other than ES256.
    #[error("trust list algorithm is not ES256")]
    UnsupportedAlgorithm,
    /// No given root key has the list's kid.
    #[error("trust list signed by an unknown root key")]
    UnknownRoot,
    /// The signature does not verify.
    #[error("trust list signature does not verify")]
    BadSignature,
    /// The root key was not valid on the list's issue date.
    #[error("root key not valid on the trust list's issue date")]
    RootNotValid,
}

/// A root public key that may sign trust lists, with its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKey {
    /// The public key.
    pub public_key: PublicKey,
    /// When it may sign trust lists.
    pub validity: Validity,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    protected: String,
    payload: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwsHeader {
    alg: String,
    kid: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    format: String,
    version: u32,
    sequence: u64,
    issued: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_update: Option<String>,
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    kid: String,
    issuer: String,
    not_before: String,
    not_after: String,
    spki: String,
}

fn bad(detail: impl Into<String>) -> TrustListError {
    TrustListError::Malformed(detail.into())
}

fn parse_date(text: &str, what: &str) -> Result<Date, TrustListError> {
    Date::parse_iso(text).ok_or_else(|| bad(format!("{what} is not a YYYY-MM-DD date")))
}

impl TrustList {
    /// The trusted keys carrying `id` (several keys may share an 8-byte id).
    pub fn keys_with_id(&self, id: KeyId) -> impl Iterator<Item = &TrustedKey> {
        self.keys.iter().filter(move |k| k.public_key.id() == id)
    }

    /// Signs the list with `root` and returns the JSON file to publish.
    pub fn to_signed_json(&self, root: &SigningKey) -> Result<String, TrustListError> {
        if !root.validity().contains(self.issued) {
            return Err(TrustListError::RootNotValid);
        }
        let mut keys = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            let spki = k.public_key.to_spki_der().map_err(|e| bad(e.to_string()))?;
            keys.push(KeyEntry {
                kid: k.public_key.id().to_hex(),
                issuer: k.issuer.clone(),
                not_before: k.validity.not_before.to_string(),
                not_after: k.validity.not_after.to_string(),
                spki: STANDARD.encode(spki),
            });
        }
        let body = Body {
            format: TRUST_LIST_FORMAT.to_owned(),
            version: TRUST_LIST_VERSION,
            sequence: self.sequence,
            issued: self.issued.to_string(),
            next_update: self.next_update.map(|d| d.to_string()),
            keys,
        };
        let header = JwsHeader { alg: "ES256".to_owned(), kid: root.id().to_hex() };
        let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|e| bad(e.to_string()))?);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec_pretty(&body).map_err(|e| bad(e.to_string()))?);
        // JWS signing input, RFC 7515 §5.1 step 8.
        let signing_input = format!("{protected}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(root.sign(signing_input.as_bytes()));
        serde_json::to_string_pretty(&Envelope { protected, payload, signature }).map_err(|e| bad(e.to_string()))
    }

    /// Reads a published trust list, accepting it only if one of `roots` signed it while valid.
    pub fn from_signed_json(json: &str, roots: &[RootKey]) -> Result<TrustList, TrustListError> {
        if json.len() > MAX_TRUST_LIST_BYTES {
            return Err(bad("file too large"));
        }
        let envelope: Envelope = serde_json::from_str(json).map_err(|e| bad(format!("envelope: {e}")))?;
        let header_bytes = URL_SAFE_NO_PAD.decode(&envelope.protected).map_err(|e| bad(format!("protected: {e}")))?;
        let header: JwsHeader = serde_json::from_slice(&header_bytes).map_err(|e| bad(format!("header: {e}")))?;
        if header.alg != "ES256" {
            return Err(TrustListError::UnsupportedAlgorithm);
        }
        let root_id = KeyId::from_hex(&header.kid).ok_or_else(|| bad("header kid is not 16 hex digits"))?;
        let signature = URL_SAFE_NO_PAD.decode(&envelope.signature).map_err(|e| bad(format!("signature: {e}")))?;
        let signing_input = format!("{}.{}", envelope.protected, envelope.payload);
        let candidates: Vec<&RootKey> = roots.iter().filter(|r| r.public_key.id() == root_id).collect();
        if candidates.is_empty() {
            return Err(TrustListError::UnknownRoot);
        }
        let signers: Vec<&RootKey> =
            candidates.into_iter().filter(|r| r.public_key.verify(signing_input.as_bytes(), &signature)).collect();
        if signers.is_empty() {
            return Err(TrustListError::BadSignature);
        }
        let body_bytes = URL_SAFE_NO_PAD.decode(&envelope.payload).map_err(|e| bad(format!("payload: {e}")))?;
        let body: Body = serde_json::from_slice(&body_bytes).map_err(|e| bad(format!("body: {e}")))?;
        if body.format != TRUST_LIST_FORMAT || body.version != TRUST_LIST_VERSION {
            return Err(bad("unsupported format or version"));
        }
        let issued = parse_date(&body.issued, "issued")?;
        if !signers.iter().any(|r| r.validity.contains(issued)) {
            return Err(TrustListError::RootNotValid);
        }
        let next_update = body.next_update.as_deref().map(|d| parse_date(d, "next_update")).transpose()?;
        let mut keys = Vec::with_capacity(body.keys.len());
        for entry in body.keys {
            let der = STANDARD.decode(&entry.spki).map_err(|e| bad(format!("spki: {e}")))?;
            let public_key = PublicKey::from_spki_der(&der).map_err(|e| bad(e.to_string()))?;
            if KeyId::from_hex(&entry.kid) != Some(public_key.id()) {
                return Err(bad(format!("kid {} does not match its key", entry.kid)));
            }
            if entry.issuer.is_empty() || entry.issuer.len() > crate::payload::MAX_ISSUER_LEN {
                return Err(bad("issuer code must be 1-16 bytes"));
            }
            let validity = Validity {
                not_before: parse_date(&entry.not_before, "not_before")?,
                not_after: parse_date(&entry.not_after, "not_after")?,
            };
            keys.push(TrustedKey { public_key, issuer: entry.issuer, validity });
        }
        Ok(TrustList { sequence: body.sequence, issued, next_update, keys })
    }
}
