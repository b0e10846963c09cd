//! API keys: how they are made, stored (SHA-256 only) and checked, and the extractors that give
//! a handler its authenticated caller.
//!
//! A key is `hpk_` (or `hpk_test_` for test keys) and 32 base32 characters: 160 random bits.
//! With that much entropy a single SHA-256 is the right hash (a slow password hash buys
//! nothing against guessing 2¹⁶⁰ keys and costs every request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use hybridpost_core::{AgencyId, SiteId};
use hybridpost_store::Store;
use hybridpost_store::agencies::{self, ApiKeyRecord, Principal};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;
use crate::rate_limit::RateLimiter;

/// What a handler needs to check keys: the store, the per-key rate limits, and a short-lived
/// cache of keys already checked.
#[derive(Clone, Debug)]
pub struct ApiKeys {
    store: Store,
    limiter: RateLimiter,
    cache: Arc<Mutex<HashMap<String, (ApiKeyRecord, Instant)>>>,
}

/// How long a checked key is trusted without asking the database again: a revoked key stops
/// working within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Most keys kept in the cache.
const KEY_CACHE_ENTRIES: usize = 10_000;

/// A freshly made key: the text to hand over once, and what is stored.
#[derive(Debug)]
pub struct NewApiKey {
    /// The key itself; shown once, never stored.
    pub key: String,
    /// The stored record.
    pub record: ApiKeyRecord,
}

/// Makes a new key for `principal`.
pub fn generate_api_key(principal: Principal) -> NewApiKey {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let test = matches!(principal, Principal::Agency { test: true, .. });
    let body = data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
    let key = format!("{}{body}", if test { "hpk_test_" } else { "hpk_" });
    let record = ApiKeyRecord {
        key_id: uuid::Uuid::now_v7().to_string(),
        key_hash: hash_api_key(&key),
        key_prefix: key.chars().take(key.len() - body.len() + 6).collect(),
        principal,
    };
    NewApiKey { key, record }
}

/// SHA-256 of a key, hex: what is stored and looked up.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl ApiKeys {
    /// Keys stored in `store`, limited by `limiter`.
    pub fn new(store: Store, limiter: RateLimiter) -> Self {
        Self { store, limiter, cache: Arc::default() }
    }

    async fn lookup(&self, key_hash: String) -> Result<ApiKeyRecord, ApiError> {
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((record, at)) = cache.get(&key_hash)
                && now.duration_since(*at) < KEY_CACHE_TTL
            {
                return Ok(record.clone());
            }
        }
        let mut conn = self.store.read().await?;
        let record = agencies::find_api_key(&mut conn, &key_hash)
            .await?
            .ok_or(ApiError::Unauthorized("this API key is not valid (unknown or revoked)"))?;
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= KEY_CACHE_ENTRIES {
            cache.retain(|_, (_, at)| now.duration_since(*at) < KEY_CACHE_TTL);
            if cache.len() >= KEY_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key_hash, (record.clone(), now));
        Ok(record)
    }

    /// Checks the `Authorization: Bearer` header and the key's rate limit.
    pub async fn authenticate(&self, parts: &Parts) -> Result<ApiKeyRecord, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("send your API key as Authorization: Bearer <key>"))?;
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|k| k.starts_with("hpk_") && k.len() <= 100)
            .ok_or(ApiError::Unauthorized("the Authorization header must be Bearer followed by an hpk_ API key"))?;
        let record = self.lookup(hash_api_key(key)).await?;
        self.limiter.check(&record.key_id).map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
        Ok(record)
    }
}

/// An agency system, authenticated by its API key.
#[derive(Clone, Debug)]
pub struct AgencyCaller {
    /// The agency.
    pub agency_id: AgencyId,
    /// A test key: letters are rendered but never printed or sent.
    pub test: bool,
    /// The key used.
    pub key_id: String,
}

impl AgencyCaller {
    /// The letters this caller may see and act on: its agency's, in its key's mode.
    pub fn scope(&self) -> hybridpost_core::AgencyScope {
        hybridpost_core::AgencyScope { agency_id: self.agency_id, test: self.test }
    }
}

impl<S> FromRequestParts<S> for AgencyCaller
where
    ApiKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let record = ApiKeys::from_ref(state).authenticate(parts).await?;
        match record.principal {
            Principal::Agency { agency_id, test } => {
                tracing::Span::current().record("agency.id", tracing::field::display(agency_id));
                Ok(AgencyCaller { agency_id, test, key_id: record.key_id })
            }
            Principal::Site { .. } => {
                Err(ApiError::Forbidden("this is a post-office site key; this API needs an agency key"))
            }
        }
    }
}

/// A post-office site's operator, authenticated by the site's API key.
#[derive(Clone, Debug)]
pub struct SiteCaller {
    /// The site.
    pub site_id: SiteId,
    /// The key used.
    pub key_id: String,
}

impl<S> FromRequestParts<S> for SiteCaller
where
    ApiKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let record = ApiKeys::from_ref(state).authenticate(parts).await?;
        match record.principal {
            Principal::Site { site_id } => {
                tracing::Span::current().record("site.id", tracing::field::display(site_id));
                Ok(SiteCaller { site_id, key_id: record.key_id })
            }
            Principal::Agency { .. } => {
                Err(ApiError::Forbidden("this is an agency key; this API needs a post-office site key"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_stored_only_as_hashes() {
        let agency_id = AgencyId::new();
        let a = generate_api_key(Principal::Agency { agency_id, test: false });
        let b = generate_api_key(Principal::Agency { agency_id, test: true });
        assert!(a.key.starts_with("hpk_") && !a.key.starts_with("hpk_test_"));
        assert!(b.key.starts_with("hpk_test_"));
        assert_eq!(a.key.len(), 4 + 32);
        assert_ne!(a.key, generate_api_key(Principal::Agency { agency_id, test: false }).key);
        assert_eq!(a.record.key_hash, hash_api_key(&a.key));
        assert!(!a.record.key_hash.contains(&a.key[4..]));
        assert_eq!(a.record.key_prefix.len(), 10);
        assert!(a.key.starts_with(&a.record.key_prefix));
    }
}
