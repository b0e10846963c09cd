//! The service's secret and the keys derived from it.
//!
//! An installation holds one secret (at least 32 bytes). Every purpose gets its own key,
//! derived with HKDF-SHA256 (RFC 5869) under a distinct label, so that a key for one purpose
//! reveals nothing about another: the key that wraps private signing keys at rest, the key
//! under which PINs are hashed, the key of reply-code MACs.
//!
//! Private signing keys are stored wrapped with AES-256-GCM under the wrapping key, with the
//! key id as associated data, so a wrapped key moved to another row does not unwrap.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Shortest accepted service secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Length of an AES-GCM nonce.
const NONCE_LEN: usize = 12;

/// What a derived key is for; each label gives an independent key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Wraps private signing keys stored in the database.
    KeyWrapping,
    /// Keys the hash of each letter's PIN.
    PinHash,
    /// Keys the MAC of reply codes.
    ReplyCode,
    /// Keys the hash of single-use link tokens.
    LinkToken,
    /// Keys the tokens of the "back to paper" links in digital notices, and the hashes of the
    /// stop codes printed on channel-change confirmation letters.
    PaperLink,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::KeyWrapping => b"hybridpost/key-wrapping/v1",
            Purpose::PinHash => b"hybridpost/pin-hash/v1",
            Purpose::ReplyCode => b"hybridpost/reply-code/v1",
            Purpose::LinkToken => b"hybridpost/link-token/v1",
            Purpose::PaperLink => b"hybridpost/paper-link/v1",
        }
    }
}

/// Why a secret or a wrapped key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The service secret is shorter than [`MIN_SECRET_LEN`].
    #[error("the service secret must be at least {MIN_SECRET_LEN} bytes")]
    TooShort,
    /// A wrapped key does not unwrap: altered, moved to another key id, or wrapped under another
    /// secret.
    #[error("a stored private key does not unwrap: it was altered or wrapped under another secret")]
    Unwrap,
}

/// The installation's secret.
#[derive(Clone)]
pub struct ServiceSecret(Zeroizing<Vec<u8>>);

impl core::fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServiceSecret([redacted])")
    }
}

impl ServiceSecret {
    /// Wraps the secret's bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort);
        }
        Ok(ServiceSecret(Zeroizing::new(bytes.to_vec())))
    }

    /// The 32-byte key for `purpose`.
    pub fn derive(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"hybridpost"), &self.0);
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32.
        if hk.expand(purpose.label(), key.as_mut()).is_err() {
            unreachable!("HKDF-SHA256 can always expand to 32 bytes");
        }
        key
    }

    /// HMAC-SHA256 of `message` under the key derived for `purpose`, unpadded base64url: a token
    /// that only the holder of the service secret can make, checked by making it again.
    pub fn token(&self, purpose: Purpose, message: &[u8]) -> String {
        use base64::Engine;
        use hmac::Mac;
        let key = self.derive(purpose);
        let mut mac =
            <hmac::Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("HMAC takes a key of any length");
        mac.update(message);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Encrypts `plaintext` (a private key) with AES-256-GCM under the wrapping key, bound to
    /// `context` (e.g. the key id): nonce ‖ ciphertext ‖ tag.
    pub fn wrap(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let key = self.derive(Purpose::KeyWrapping);
        let cipher = Aes256Gcm::new(key.as_ref().into());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short message cannot fail"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Reverses [`ServiceSecret::wrap`].
    pub fn unwrap_key(&self, wrapped: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        if wrapped.len() < NONCE_LEN {
            return Err(SecretError::Unwrap);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let key = self.derive(Purpose::KeyWrapping);
        let cipher = Aes256Gcm::new(key.as_ref().into());
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: context })
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Unwrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> ServiceSecret {
        ServiceSecret::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(ServiceSecret::new(&[1; 31]).unwrap_err(), SecretError::TooShort);
    }

    #[test]
    fn each_purpose_gets_its_own_key() {
        let s = secret(7);
        let keys =
            [Purpose::KeyWrapping, Purpose::PinHash, Purpose::ReplyCode, Purpose::LinkToken].map(|p| *s.derive(p));
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(*s.derive(Purpose::PinHash), *secret(7).derive(Purpose::PinHash), "derivation is stable");
        assert_ne!(*s.derive(Purpose::PinHash), *secret(8).derive(Purpose::PinHash));
    }

    #[test]
    fn wrapped_keys_unwrap_only_with_the_same_secret_and_context() {
        let s = secret(1);
        let wrapped = s.wrap(b"private key bytes", b"kid-1");
        assert_eq!(s.unwrap_key(&wrapped, b"kid-1").unwrap().as_slice(), b"private key bytes");
        assert_eq!(s.unwrap_key(&wrapped, b"kid-2").unwrap_err(), SecretError::Unwrap);
        assert_eq!(secret(2).unwrap_key(&wrapped, b"kid-1").unwrap_err(), SecretError::Unwrap);
        let mut altered = wrapped.clone();
        altered[20] ^= 1;
        assert_eq!(s.unwrap_key(&altered, b"kid-1").unwrap_err(), SecretError::Unwrap);
        assert_eq!(s.unwrap_key(&wrapped[..5], b"kid-1").unwrap_err(), SecretError::Unwrap);
        assert_ne!(s.wrap(b"x", b"k"), s.wrap(b"x", b"k"), "fresh nonce each time");
    }
}
