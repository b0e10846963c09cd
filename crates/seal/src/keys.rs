//! ECDSA P-256 keys (FIPS 186-5), their key ids and validity periods.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::payload::Date;

/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 8;

/// A key id: the first 8 bytes of SHA-256 over the public key's SubjectPublicKeyInfo DER
/// (RFC 5280 §4.1.2.7), as the EU digital COVID certificate derives its `kid`.
///
/// Eight bytes are a hint, not an identity: two keys may share an id, so a verifier tries every
/// trusted key carrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// Derives the id of a SubjectPublicKeyInfo DER encoding.
    pub fn from_spki_der(spki_der: &[u8]) -> Self {
        let digest = Sha256::digest(spki_der);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }

    /// Wraps 8 bytes, `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; KEY_ID_LEN]>::try_from(bytes).ok().map(KeyId)
    }

    /// Lower-case hex, as used in the trust list JSON.
    pub fn to_hex(&self) -> String {
        crate::hex(&self.0)
    }

    /// Parses 16 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        KeyId::from_slice(&crate::unhex(text)?)
    }
}

impl core::fmt::Display for KeyId {
    /// Formats as lower-case hex.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The period during which a key may seal letters, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Validity {
    /// First day the key may be used.
    pub not_before: Date,
    /// Last day the key may be used.
    pub not_after: Date,
}

impl Validity {
    /// Whether `date` lies within the period.
    pub fn contains(&self, date: Date) -> bool {
        self.not_before <= date && date <= self.not_after
    }
}

/// Why a key could not be made, imported or exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PKCS#8 or SPKI encoding could not be read or written.
    #[error("key encoding: {0}")]
    Encoding(String),
    /// `not_after` lies before `not_before`, or an issuer code is empty or longer than 16 bytes.
    #[error("invalid key parameters: {0}")]
    InvalidParameters(String),
}

/// A P-256 public key with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: VerifyingKey,
}

impl PublicKey {
    /// Wraps a verifying key, deriving its id.
    pub fn new(key: VerifyingKey) -> Result<Self, KeyError> {
        let der = key.to_public_key_der().map_err(|e| KeyError::Encoding(e.to_string()))?;
        Ok(PublicKey { id: KeyId::from_spki_der(der.as_bytes()), key })
    }

    /// Reads a SubjectPublicKeyInfo DER encoding.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_public_key_der(der).map_err(|e| KeyError::Encoding(e.to_string()))?;
        PublicKey::new(key)
    }

    /// Reads a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_public_key_pem(pem).map_err(|e| KeyError::Encoding(e.to_string()))?;
        PublicKey::new(key)
    }

    /// The SubjectPublicKeyInfo DER encoding.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self.key.to_public_key_der().map_err(|e| KeyError::Encoding(e.to_string()))?.into_vec())
    }

    /// The SubjectPublicKeyInfo PEM encoding.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        self.key.to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Encoding(e.to_string()))
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Verifies an ES256 signature (64 bytes, r ‖ s as in RFC 9053 §2.1) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match Signature::from_slice(signature) {
            Ok(sig) => self.key.verify(message, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

/// A private P-256 key that seals letters (or, as a root key, signs trust lists).
///
/// PKCS#8 exports are wrapped in [`Zeroizing`] so that the secret is wiped from memory when the
/// caller drops it.
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
    public: PublicKey,
    issuer: String,
    validity: Validity,
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.public.id)
            .field("issuer", &self.issuer)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(issuer: &str, validity: Validity) -> Result<Self, KeyError> {
        SigningKey::wrap(p256::ecdsa::SigningKey::random(&mut OsRng), issuer, validity)
    }

    fn wrap(key: p256::ecdsa::SigningKey, issuer: &str, validity: Validity) -> Result<Self, KeyError> {
        if issuer.is_empty() || issuer.len() > crate::payload::MAX_ISSUER_LEN {
            return Err(KeyError::InvalidParameters("issuer code must be 1-16 bytes".into()));
        }
        if validity.not_after < validity.not_before {
            return Err(KeyError::InvalidParameters("not_after before not_before".into()));
        }
        let public = PublicKey::new(*key.verifying_key())?;
        Ok(SigningKey { key, public, issuer: issuer.to_owned(), validity })
    }

    /// Imports an unencrypted PKCS#8 DER private key (RFC 5208); PKCS#8 holds no validity or
    /// issuer, so they are given here.
    pub fn from_pkcs8_der(der: &[u8], issuer: &str, validity: Validity) -> Result<Self, KeyError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| KeyError::Encoding(e.to_string()))?;
        SigningKey::wrap(key, issuer, validity)
    }

    /// Imports an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, RFC 7468).
    pub fn from_pkcs8_pem(pem: &str, issuer: &str, validity: Validity) -> Result<Self, KeyError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Encoding(e.to_string()))?;
        SigningKey::wrap(key, issuer, validity)
    }

    /// Exports the private key as unencrypted PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self.key.to_pkcs8_der().map_err(|e| KeyError::Encoding(e.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Exports the private key as unencrypted PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let pem = self.key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Encoding(e.to_string()))?;
        Ok(Zeroizing::new(pem.as_str().to_owned()))
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.public.id
    }

    /// The issuer code this key seals for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The validity period.
    pub fn validity(&self) -> Validity {
        self.validity
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The trust-list entry for this key.
    pub fn trusted_key(&self) -> TrustedKey {
        TrustedKey { public_key: self.public.clone(), issuer: self.issuer.clone(), validity: self.validity }
    }

    /// Signs `message` with ES256: ECDSA P-256 over SHA-256 with deterministic nonces
    /// (RFC 6979), returning the 64-byte r ‖ s form required by RFC 9053 §2.1 and RFC 7518 §3.4.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.key.sign(message);
        signature.to_bytes().into()
    }
}

/// A public key that verifiers trust to seal letters for one issuer during one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The public key and its id.
    pub public_key: PublicKey,
    /// The issuer code the key may seal for.
    pub issuer: String,
    /// The period in which the key may seal.
    pub validity: Validity,
}
