//! Signing keys (their private halves wrapped by the caller) and the signed trust lists.

use hybridpost_core::AgencyId;
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, conflict_or};

/// What a key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Seals letters for one issuer.
    Seal,
    /// Signs the trust list.
    Root,
    /// Seals test letters for one issuer. No trust list carries these keys, so a test letter
    /// never verifies as genuine.
    TestSeal,
}

impl KeyPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Seal => "seal",
            KeyPurpose::Root => "root",
            KeyPurpose::TestSeal => "test_seal",
        }
    }

    fn parse(s: &str) -> Result<KeyPurpose> {
        match s {
            "seal" => Ok(KeyPurpose::Seal),
            "root" => Ok(KeyPurpose::Root),
            "test_seal" => Ok(KeyPurpose::TestSeal),
            other => Err(StoreError::Corrupt(format!("signing key purpose {other:?}"))),
        }
    }
}

/// A signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id, hex.
    pub key_id: String,
    /// What it signs.
    pub purpose: KeyPurpose,
    /// The issuer code it seals for (`ROOT` for the root key).
    pub issuer: String,
    /// The agency it seals for.
    pub agency_id: Option<AgencyId>,
    /// SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    /// PKCS#8 DER wrapped under the service secret.
    pub private_key_wrapped: Vec<u8>,
    /// First day it may sign, `YYYY-MM-DD`.
    pub not_before: String,
    /// Last day it may sign, `YYYY-MM-DD`.
    pub not_after: String,
    /// When a newer key took over.
    pub retired_at: Option<String>,
    /// When it was made.
    pub created_at: String,
}

// The wrapped private key stays out of logs even though it is encrypted.
impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("key_id", &self.key_id)
            .field("purpose", &self.purpose)
            .field("issuer", &self.issuer)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "key_id, purpose, issuer, agency_id, public_key, private_key, not_before, not_after, \
                       retired_at, created_at";

/// Stores a new key and retires the keys of the same purpose and issuer it replaces. Run it in
/// the caller's transaction, together with publishing the new trust list.
pub async fn insert_key(conn: &mut AnyConnection, key: &StoredKey) -> Result<()> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    sqlx::query("update signing_key set retired_at = $1 where purpose = $2 and issuer = $3 and retired_at is null")
        .bind(&key.created_at)
        .bind(key.purpose.as_str())
        .bind(&key.issuer)
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("insert into signing_key ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(&key.key_id)
        .bind(key.purpose.as_str())
        .bind(&key.issuer)
        .bind(key.agency_id.map(|a| a.to_string()))
        .bind(b64.encode(&key.public_key))
        .bind(b64.encode(&key.private_key_wrapped))
        .bind(&key.not_before)
        .bind(&key.not_after)
        .bind(&key.retired_at)
        .bind(&key.created_at)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, "signing key"))?;
    Ok(())
}

/// Every key of `purpose`, retired ones included (they still verify), oldest first.
pub async fn list_keys(conn: &mut AnyConnection, purpose: KeyPurpose) -> Result<Vec<StoredKey>> {
    let rows =
        sqlx::query(&format!("select {COLUMNS} from signing_key where purpose = $1 order by created_at, key_id"))
            .bind(purpose.as_str())
            .fetch_all(conn)
            .await?;
    rows.iter().map(from_row).collect()
}

/// The key that signs now for `issuer`: the newest one not retired.
pub async fn current_key(conn: &mut AnyConnection, purpose: KeyPurpose, issuer: &str) -> Result<Option<StoredKey>> {
    let row = sqlx::query(&format!(
        "select {COLUMNS} from signing_key where purpose = $1 and issuer = $2 and retired_at is null \
         order by created_at desc, key_id limit 1"
    ))
    .bind(purpose.as_str())
    .bind(issuer)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredKey> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key_id: String = r.try_get("key_id")?;
    let decode = |col: &str| -> Result<Vec<u8>> {
        let text: String = r.try_get(col)?;
        b64.decode(text).map_err(|e| StoreError::Corrupt(format!("signing key {key_id} {col}: {e}")))
    };
    let agency_id: Option<String> = r.try_get("agency_id")?;
    Ok(StoredKey {
        purpose: KeyPurpose::parse(&r.try_get::<String, _>("purpose")?)?,
        issuer: r.try_get("issuer")?,
        agency_id: agency_id.as_deref().map(parse_id).transpose()?,
        public_key: decode("public_key")?,
        private_key_wrapped: decode("private_key")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
        retired_at: r.try_get("retired_at")?,
        created_at: r.try_get("created_at")?,
        key_id,
    })
}

/// A published trust list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustListRecord {
    /// Its sequence number; each new list has a higher one.
    pub sequence: i64,
    /// The signed JSON.
    pub body: String,
    /// When it was made.
    pub created_at: String,
}

/// The sequence number the next trust list gets.
pub async fn next_trust_list_sequence(conn: &mut AnyConnection) -> Result<i64> {
    let max: Option<i64> = sqlx::query("select max(sequence) from trust_list").fetch_one(conn).await?.try_get(0)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Publishes a trust list.
pub async fn insert_trust_list(conn: &mut AnyConnection, list: &TrustListRecord) -> Result<()> {
    sqlx::query("insert into trust_list (sequence, body, created_at) values ($1, $2, $3)")
        .bind(list.sequence)
        .bind(&list.body)
        .bind(&list.created_at)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, "trust list"))?;
    Ok(())
}

/// The newest trust list.
pub async fn latest_trust_list(conn: &mut AnyConnection) -> Result<Option<TrustListRecord>> {
    let row = sqlx::query("select sequence, body, created_at from trust_list order by sequence desc limit 1")
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok(TrustListRecord { sequence: r.try_get(0)?, body: r.try_get(1)?, created_at: r.try_get(2)? }))
        .transpose()
}
