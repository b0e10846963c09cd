//! The service's seal keys, kept in the store.
//!
//! - Each agency seals with its own P-256 key, named by its issuer code. Keys are valid for
//!   [`SEAL_KEY_VALIDITY_DAYS`]; a rotation (`hybridpost admin rotate-signing-key`) makes a new
//!   key and retires the old one, which seals nothing more but stays in the trust list so that
//!   letters it sealed still verify.
//! - One root key signs the trust list; every change of keys publishes a new list with a higher
//!   sequence number, in the same transaction as the change.
//! - Private keys are stored wrapped (AES-256-GCM) under a key derived from the service secret;
//!   the database alone does not give them away.
//! - Test letters (sent with a test key) are sealed by a separate test key of the issuer that
//!   no trust list carries: they never verify as genuine, offline or on the verification page.
//! - Each letter gets a random reference (printed on it and sealed) and a PIN (printed under
//!   the seal) that opens its digital copy. The PIN is stored as a keyed hash for checking and
//!   wrapped for printing.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use hybridpost_core::{AgencyId, AgencyScope};
use hybridpost_seal::{
    ContentDigest, Date, DocumentType, FORMAT_VERSION, KeyId, Purpose, Reference, RootKey, Seal, SealPayload,
    ServiceSecret, SigningKey, TrustList, TrustedKey, Validity,
};
use hybridpost_store::signing_keys::{self, KeyPurpose, StoredKey, TrustListRecord};
use hybridpost_store::{AnyConnection, Store, StoreError, now_text};
use sha2::Sha256;

/// Days a seal key stays valid: it seals for about a year (until rotated) and its seals verify
/// until the end of its validity.
pub const SEAL_KEY_VALIDITY_DAYS: u32 = 3 * 366;
/// Days the root key stays valid.
pub const ROOT_KEY_VALIDITY_DAYS: u32 = 10 * 366;
/// Days a seal verifies after the letter's issue date (capped at the key's validity).
pub const SEAL_LIFETIME_DAYS: u32 = 2 * 366;
/// Issuer name of the root key.
pub const ROOT_ISSUER: &str = "ROOT";
/// Digits in a PIN.
pub const PIN_DIGITS: usize = 8;
/// How long a key read from the store is used before it is read again (a rotation on another
/// node takes effect within this time).
const CACHE_FOR: Duration = Duration::from_secs(60);

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key does not unwrap or parse.
    #[error("signing key {key_id}: {reason}")]
    BadKey {
        /// The key.
        key_id: String,
        /// Why.
        reason: String,
    },
    /// Sealing failed.
    #[error("sealing failed: {0}")]
    Seal(String),
}

/// A letter's seal as made at acceptance.
#[derive(Debug, Clone)]
pub struct SealedLetter {
    /// The random reference, unpadded base32.
    pub reference: String,
    /// The seal.
    pub seal: Seal,
    /// The PIN, to be printed under the seal.
    pub pin: String,
    /// Keyed hash of the PIN.
    pub pin_hash: String,
    /// The PIN wrapped under the service secret.
    pub pin_wrapped: Vec<u8>,
}

impl SealedLetter {
    /// The seal as a letter stores it, issued on `issue_date` (the PIN itself is not kept: only
    /// its hash, and wrapped for printing).
    pub fn to_stored(&self, issue_date: Date) -> hybridpost_store::letters::LetterSeal {
        hybridpost_store::letters::LetterSeal {
            reference: self.reference.clone(),
            seal: self.seal.as_bytes().to_vec(),
            issue_date: issue_date.to_string(),
            pin_hash: self.pin_hash.clone(),
            pin_wrapped: self.pin_wrapped.clone(),
        }
    }
}

/// What goes into a seal besides the issuer.
#[derive(Debug, Clone)]
pub struct SealRequest {
    /// The date printed on the letter.
    pub issue_date: Date,
    /// The kind of letter (generic for sensitive ones).
    pub document_type: DocumentType,
    /// The reply deadline, if any.
    pub reply_by: Option<Date>,
    /// Digest of the letter's content.
    pub digest: ContentDigest,
}

/// A signing key and when it was read from the store.
type CachedKey = (Arc<SigningKey>, Instant);

/// Seal keys and the trust list, over the store.
#[derive(Clone)]
pub struct Keyring {
    store: Store,
    secret: ServiceSecret,
    cache: Arc<Mutex<HashMap<(KeyPurpose, String), CachedKey>>>,
    issuers: Arc<Mutex<HashMap<AgencyId, String>>>,
    /// Held while an issuer's missing or expired seal key is replaced, so that concurrent
    /// letters of a new agency make one key, not one each.
    replacing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

/// Today's date in Thailand (UTC+7), as seals count days.
pub fn today() -> Date {
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date();
    to_seal_date(today)
}

/// Converts a calendar date.
pub fn to_seal_date(date: time::Date) -> Date {
    Date::from_ymd(date.year(), u32::from(u8::from(date.month())), u32::from(date.day()))
        .unwrap_or_else(|| unreachable!("every date time can represent after 1970 is a seal date"))
}

impl Keyring {
    /// The keyring of `store`, unwrapping keys with `secret`.
    pub fn new(store: Store, secret: ServiceSecret) -> Keyring {
        Keyring {
            store,
            secret,
            cache: Arc::new(Mutex::new(HashMap::new())),
            issuers: Arc::new(Mutex::new(HashMap::new())),
            replacing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The service secret.
    pub fn secret(&self) -> &ServiceSecret {
        &self.secret
    }

    /// Seals a letter of the agency, under its issuer code: a live letter with the issuer's
    /// seal key, a test letter with its test key (in no trust list).
    pub async fn seal_for_agency(
        &self,
        scope: AgencyScope,
        request: &SealRequest,
    ) -> Result<SealedLetter, KeyringError> {
        let issuer = self.issuer_of(scope.agency_id).await?;
        let purpose = if scope.test { KeyPurpose::TestSeal } else { KeyPurpose::Seal };
        self.seal_with(purpose, &issuer, scope.agency_id, request).await
    }

    /// The issuer code of an agency (codes never change, so they are cached for good).
    pub async fn issuer_of(&self, agency_id: AgencyId) -> Result<String, KeyringError> {
        if let Some(code) = self.issuers.lock().unwrap_or_else(|e| e.into_inner()).get(&agency_id) {
            return Ok(code.clone());
        }
        let mut conn = self.store.read().await?;
        let agency = hybridpost_store::agencies::get_agency(&mut conn, agency_id)
            .await?
            .ok_or_else(|| KeyringError::Seal(format!("no agency {agency_id}")))?;
        self.issuers.lock().unwrap_or_else(|e| e.into_inner()).insert(agency_id, agency.issuer_code.clone());
        Ok(agency.issuer_code)
    }

    /// Seals a live letter of `issuer` (creating the issuer's first key when it has none).
    pub async fn seal_letter(
        &self,
        issuer: &str,
        agency_id: AgencyId,
        request: &SealRequest,
    ) -> Result<SealedLetter, KeyringError> {
        self.seal_with(KeyPurpose::Seal, issuer, agency_id, request).await
    }

    async fn seal_with(
        &self,
        purpose: KeyPurpose,
        issuer: &str,
        agency_id: AgencyId,
        request: &SealRequest,
    ) -> Result<SealedLetter, KeyringError> {
        let key = self.seal_key(purpose, issuer, agency_id, request.issue_date).await?;
        let reference = Reference::generate();
        let expires = request
            .issue_date
            .checked_add_days(SEAL_LIFETIME_DAYS)
            .map_or(key.validity().not_after, |d| d.min(key.validity().not_after));
        let expires = request.reply_by.map_or(expires, |r| expires.max(r.min(key.validity().not_after)));
        let payload = SealPayload {
            version: FORMAT_VERSION,
            issuer: issuer.to_owned(),
            reference: reference.clone(),
            issue_date: request.issue_date,
            document_type: request.document_type,
            reply_by: request.reply_by,
            digest: request.digest,
            expires,
        };
        let seal = Seal::sign(&payload, &key).map_err(|e| KeyringError::Seal(e.to_string()))?;
        let reference = hybridpost_seal::base32_encode(reference.as_bytes());
        let pin = new_pin();
        Ok(SealedLetter {
            pin_hash: self.pin_hash(&reference, &pin),
            pin_wrapped: self.secret.wrap(pin.as_bytes(), reference.as_bytes()),
            reference,
            seal,
            pin,
        })
    }

    /// Keyed hash of `pin` for the letter with seal reference `reference`, hex.
    pub fn pin_hash(&self, reference: &str, pin: &str) -> String {
        let key = self.secret.derive(Purpose::PinHash);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(reference.as_bytes());
        mac.update(b"\0");
        mac.update(pin.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks `pin` against a stored hash in constant time.
    pub fn pin_matches(&self, reference: &str, pin: &str, stored_hash: &str) -> bool {
        let computed = self.pin_hash(reference, pin);
        computed.len() == stored_hash.len()
            && computed.bytes().zip(stored_hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// The PIN of a letter, unwrapped for printing.
    pub fn unwrap_pin(&self, reference: &str, wrapped: &[u8]) -> Result<String, KeyringError> {
        let bytes = self
            .secret
            .unwrap_key(wrapped, reference.as_bytes())
            .map_err(|e| KeyringError::BadKey { key_id: format!("pin of {reference}"), reason: e.to_string() })?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| KeyringError::BadKey { key_id: format!("pin of {reference}"), reason: "not text".into() })
    }

    /// The key of `purpose` that seals for `issuer` now: cached, read from the store, or made.
    async fn seal_key(
        &self,
        purpose: KeyPurpose,
        issuer: &str,
        agency_id: AgencyId,
        today: Date,
    ) -> Result<Arc<SigningKey>, KeyringError> {
        let cache_key = (purpose, issuer.to_owned());
        if let Some((key, at)) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&cache_key)
            && at.elapsed() < CACHE_FOR
            && key.validity().contains(today)
        {
            return Ok(key.clone());
        }
        let key = match self.usable_key(purpose, issuer, today).await? {
            Some(key) => key,
            None => self.replace_key(purpose, issuer, agency_id, today).await?,
        };
        let key = Arc::new(key);
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(cache_key, (key.clone(), Instant::now()));
        Ok(key)
    }

    /// The issuer's current key of `purpose` if it is valid on `today`.
    async fn usable_key(
        &self,
        purpose: KeyPurpose,
        issuer: &str,
        today: Date,
    ) -> Result<Option<SigningKey>, KeyringError> {
        let stored = {
            let mut conn = self.store.read().await?;
            signing_keys::current_key(&mut conn, purpose, issuer).await?
        };
        match stored {
            Some(stored) if self.validity_of(&stored)?.contains(today) => Ok(Some(self.unwrap(&stored)?)),
            _ => Ok(None),
        }
    }

    /// Makes `issuer`'s seal key when it has no valid one, once: under [`Keyring::replacing`]
    /// in this process, and taking the key another node made at the same moment when that
    /// node's transaction won.
    async fn replace_key(
        &self,
        purpose: KeyPurpose,
        issuer: &str,
        agency_id: AgencyId,
        today: Date,
    ) -> Result<SigningKey, KeyringError> {
        let _replacing = self.replacing.lock().await;
        // Another request of this process may have made it while this one waited.
        if let Some(key) = self.usable_key(purpose, issuer, today).await? {
            return Ok(key);
        }
        let made = match purpose {
            KeyPurpose::TestSeal => self.make_test_key(issuer, agency_id, today).await,
            _ => self.rotate(issuer, Some(agency_id), today).await,
        };
        match self.usable_key(purpose, issuer, today).await? {
            Some(key) => Ok(key),
            None => Err(made
                .err()
                .unwrap_or_else(|| KeyringError::Seal(format!("no seal key for {issuer} after making one")))),
        }
    }

    /// Makes a new seal key for `issuer`, retires its current one, and publishes a new trust
    /// list, in one transaction. Returns the new key's id.
    pub async fn rotate(&self, issuer: &str, agency_id: Option<AgencyId>, today: Date) -> Result<KeyId, KeyringError> {
        let key = self.make_key(KeyPurpose::Seal, issuer, agency_id, today, SEAL_KEY_VALIDITY_DAYS)?;
        let id = self.store_key_and_publish(key, today).await?;
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(&(KeyPurpose::Seal, issuer.to_owned()));
        tracing::info!(key.id = %id, issuer, "new seal key for {issuer}");
        Ok(id)
    }

    /// Makes a new test seal key for `issuer`, retiring its current one. Nothing is published:
    /// test keys are in no trust list.
    async fn make_test_key(&self, issuer: &str, agency_id: AgencyId, today: Date) -> Result<KeyId, KeyringError> {
        let key = self.make_key(KeyPurpose::TestSeal, issuer, Some(agency_id), today, SEAL_KEY_VALIDITY_DAYS)?;
        let id = KeyId::from_hex(&key.key_id)
            .ok_or_else(|| KeyringError::BadKey { key_id: key.key_id.clone(), reason: "not 16 hex digits".into() })?;
        let mut tx = self.store.begin().await?;
        signing_keys::insert_key(&mut tx, &key).await?;
        tx.commit().await?;
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(&(KeyPurpose::TestSeal, issuer.to_owned()));
        tracing::info!(key.id = %id, issuer, "new test seal key for {issuer}");
        Ok(id)
    }

    /// Makes a new root key (the old one is retired and no longer signs trust lists) and
    /// publishes a trust list signed by it.
    pub async fn rotate_root(&self, today: Date) -> Result<KeyId, KeyringError> {
        let key = self.make_key(KeyPurpose::Root, ROOT_ISSUER, None, today, ROOT_KEY_VALIDITY_DAYS)?;
        self.store_key_and_publish(key, today).await
    }

    /// Publishes a trust list if none exists yet (making the root key if needed).
    pub async fn ensure_trust_list(&self, today: Date) -> Result<TrustListRecord, KeyringError> {
        if let Some(list) = self.trust_list().await? {
            return Ok(list);
        }
        let mut tx = self.store.begin().await?;
        self.publish(&mut tx, today).await?;
        tx.commit().await?;
        self.trust_list().await?.ok_or_else(|| KeyringError::Seal("no trust list after publishing one".into()))
    }

    /// The newest published trust list.
    pub async fn trust_list(&self) -> Result<Option<TrustListRecord>, KeyringError> {
        let mut conn = self.store.read().await?;
        Ok(signing_keys::latest_trust_list(&mut conn).await?)
    }

    /// The root keys that may have signed a trust list (public halves), for verifiers.
    pub async fn root_keys(&self) -> Result<Vec<RootKey>, KeyringError> {
        let mut conn = self.store.read().await?;
        let stored = signing_keys::list_keys(&mut conn, KeyPurpose::Root).await?;
        stored.iter().map(|k| Ok(RootKey { public_key: self.public_of(k)?, validity: self.validity_of(k)? })).collect()
    }

    /// The newest trust list, parsed and checked against the root keys.
    pub async fn verified_trust_list(&self) -> Result<Option<TrustList>, KeyringError> {
        let Some(record) = self.trust_list().await? else { return Ok(None) };
        let roots = self.root_keys().await?;
        TrustList::from_signed_json(&record.body, &roots)
            .map(Some)
            .map_err(|e| KeyringError::Seal(format!("the stored trust list does not verify: {e}")))
    }

    fn make_key(
        &self,
        purpose: KeyPurpose,
        issuer: &str,
        agency_id: Option<AgencyId>,
        today: Date,
        days: u32,
    ) -> Result<StoredKey, KeyringError> {
        let bad = |reason: String| KeyringError::BadKey { key_id: format!("new key for {issuer}"), reason };
        let not_after = today.checked_add_days(days).ok_or_else(|| bad("validity out of range".into()))?;
        let key =
            SigningKey::generate(issuer, Validity { not_before: today, not_after }).map_err(|e| bad(e.to_string()))?;
        let key_id = key.id().to_hex();
        let private = key.to_pkcs8_der().map_err(|e| bad(e.to_string()))?;
        Ok(StoredKey {
            purpose,
            issuer: issuer.to_owned(),
            agency_id,
            public_key: key.public_key().to_spki_der().map_err(|e| bad(e.to_string()))?,
            private_key_wrapped: self.secret.wrap(&private, key_id.as_bytes()),
            not_before: today.to_string(),
            not_after: not_after.to_string(),
            retired_at: None,
            created_at: now_text(),
            key_id,
        })
    }

    async fn store_key_and_publish(&self, key: StoredKey, today: Date) -> Result<KeyId, KeyringError> {
        let id = KeyId::from_hex(&key.key_id)
            .ok_or_else(|| KeyringError::BadKey { key_id: key.key_id.clone(), reason: "not 16 hex digits".into() })?;
        let mut tx = self.store.begin().await?;
        signing_keys::insert_key(&mut tx, &key).await?;
        self.publish(&mut tx, today).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Signs and stores a trust list of every seal key, with the current root key (made if
    /// there is none).
    async fn publish(&self, conn: &mut AnyConnection, today: Date) -> Result<(), KeyringError> {
        let root = match signing_keys::current_key(conn, KeyPurpose::Root, ROOT_ISSUER).await? {
            Some(stored) => stored,
            None => {
                let root = self.make_key(KeyPurpose::Root, ROOT_ISSUER, None, today, ROOT_KEY_VALIDITY_DAYS)?;
                signing_keys::insert_key(conn, &root).await?;
                root
            }
        };
        let root = self.unwrap(&root)?;
        let mut keys = Vec::new();
        for stored in signing_keys::list_keys(conn, KeyPurpose::Seal).await? {
            keys.push(TrustedKey {
                public_key: self.public_of(&stored)?,
                issuer: stored.issuer.clone(),
                validity: self.validity_of(&stored)?,
            });
        }
        let sequence = signing_keys::next_trust_list_sequence(conn).await?;
        let list =
            TrustList { sequence: u64::try_from(sequence).unwrap_or_default(), issued: today, next_update: None, keys };
        let body = list.to_signed_json(&root).map_err(|e| KeyringError::Seal(e.to_string()))?;
        signing_keys::insert_trust_list(conn, &TrustListRecord { sequence, body, created_at: now_text() }).await?;
        Ok(())
    }

    fn validity_of(&self, stored: &StoredKey) -> Result<Validity, KeyringError> {
        let date = |text: &str| {
            Date::parse_iso(text).ok_or_else(|| KeyringError::BadKey {
                key_id: stored.key_id.clone(),
                reason: format!("validity date {text:?}"),
            })
        };
        Ok(Validity { not_before: date(&stored.not_before)?, not_after: date(&stored.not_after)? })
    }

    fn public_of(&self, stored: &StoredKey) -> Result<hybridpost_seal::PublicKey, KeyringError> {
        hybridpost_seal::PublicKey::from_spki_der(&stored.public_key)
            .map_err(|e| KeyringError::BadKey { key_id: stored.key_id.clone(), reason: e.to_string() })
    }

    fn unwrap(&self, stored: &StoredKey) -> Result<SigningKey, KeyringError> {
        let bad = |reason: String| KeyringError::BadKey { key_id: stored.key_id.clone(), reason };
        let der = self
            .secret
            .unwrap_key(&stored.private_key_wrapped, stored.key_id.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        SigningKey::from_pkcs8_der(&der, &stored.issuer, self.validity_of(stored)?).map_err(|e| bad(e.to_string()))
    }
}

/// A fresh random PIN of [`PIN_DIGITS`] digits.
pub fn new_pin() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..PIN_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}
