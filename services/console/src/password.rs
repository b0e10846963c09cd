//! Passwords and tokens: argon2id for passwords (on a blocking thread: a hash takes tens of
//! milliseconds by design), random tokens for sessions and setup links, SHA-256 for storing
//! those tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The shortest password accepted, in characters.
pub(crate) const MIN_PASSWORD_CHARS: usize = 10;
/// The longest: argon2 takes any length, but a megabyte of password is an attack.
pub(crate) const MAX_PASSWORD_CHARS: usize = 200;

/// A random token of 32 bytes, URL-safe base64.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex: what the database keeps.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id (the argon2 crate's defaults: 19 MiB, 2 passes).
pub(crate) async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await?
}

/// A hash no password matches, checked when the account is unknown so that a wrong name takes
/// as long as a wrong password.
const NO_ACCOUNT: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3H7eOUw1Mry2fO9HeUz1cH7jDbd3sY7m3NfmfCSSB2E";

/// Whether `password` matches `hash` (or, with no hash, spends the same time and says no).
pub(crate) async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| NO_ACCOUNT.to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

/// Why a new password is refused, in Thai and English.
pub(crate) fn password_problem(password: &str, confirm: &str) -> Option<(&'static str, &'static str)> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Some(("รหัสผ่านต้องยาวอย่างน้อย 10 ตัวอักษร", "The password must be at least 10 characters long."))
    } else if chars > MAX_PASSWORD_CHARS {
        Some(("รหัสผ่านยาวเกิน 200 ตัวอักษร", "The password is longer than 200 characters."))
    } else if password != confirm {
        Some(("รหัสผ่านทั้งสองช่องไม่ตรงกัน", "The two passwords are not the same."))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_matches_its_hash_only() {
        let hash = hash_password("ไปรษณีย์บางรัก 2569".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password("ไปรษณีย์บางรัก 2569".into(), Some(hash.clone())).await);
        assert!(!verify_password("ไปรษณีย์บางรัก 2568".into(), Some(hash)).await);
        assert!(!verify_password("anything".into(), None).await);
        assert!(PasswordHash::new(NO_ACCOUNT).is_ok(), "the stand-in hash parses, so it costs a full check");
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
