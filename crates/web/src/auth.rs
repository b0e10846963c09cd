//! API keys: how they are made, stored (SHA-256 only) and checked, and the extractors that give
//! a handler its authenticated caller.
//!
//! A key is `hpk_` (or `hpk_test_` for test keys) and 32 base32 characters: 160 random bits.
//! With that much entropy a single SHA-256 is the right hash (a slow password hash buys
//! nothing against guessing 2¹⁶⁰ keys and costs every request).
//!
//! Guessing is still throttled, to keep it from costing us: failed authentications (a missing,
//! malformed or unknown key) are limited per client address, answered 429 once a client has
//! failed too often; and an unknown key is remembered for a while, so that repeating it asks
//! nothing of the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, header};
use hybridpost_core::{AgencyId, SiteId};
use hybridpost_store::Store;
use hybridpost_store::agencies::{self, ApiKeyRecord, Principal};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::client::client_address;
use crate::problem::{ApiError, RateLimit};
use crate::rate_limit::RateLimiter;

/// What a handler needs to check keys: the store, the per-key rate limits, the limit on failed
/// authentications per client address, and short-lived caches of keys already checked.
#[derive(Clone, Debug)]
pub struct ApiKeys {
    store: Store,
    limiter: RateLimiter,
    failures: RateLimiter,
    client_ip_header: Option<HeaderName>,
    cache: Arc<Mutex<HashMap<String, (ApiKeyRecord, Instant)>>>,
    unknown: Arc<Mutex<HashMap<String, Instant>>>,
}

/// How long a checked key is trusted without asking the database again: a revoked key stops
/// working within this time. An unknown key is remembered as unknown for as long.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Most keys kept in each cache.
const KEY_CACHE_ENTRIES: usize = 10_000;
/// Failed authentications a client address may make in a row before it is refused with 429…
pub const FAILED_AUTH_BURST: u32 = 20;
/// …and how many a second are forgiven after that: one every 3 s, 20 a minute. A system with
/// a wrong key fails at once and keeps failing; nobody needs more tries than this.
pub const FAILED_AUTH_PER_SECOND: f64 = 1.0 / 3.0;

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
    /// Keys stored in `store`, limited by `limiter`; failed authentications limited to
    /// [`FAILED_AUTH_BURST`] in a row per connection address.
    pub fn new(store: Store, limiter: RateLimiter) -> Self {
        Self {
            store,
            limiter,
            failures: RateLimiter::with_rate(FAILED_AUTH_PER_SECOND, FAILED_AUTH_BURST),
            client_ip_header: None,
            cache: Arc::default(),
            unknown: Arc::default(),
        }
    }

    /// Limits failed authentications per client address with `failures` instead.
    pub fn with_failure_limit(mut self, failures: RateLimiter) -> Self {
        self.failures = failures;
        self
    }

    /// Behind a trusted reverse proxy: takes the client address from `header` (see
    /// [`client_address`]) rather than from the connection.
    pub fn with_client_ip_header(mut self, header: Option<HeaderName>) -> Self {
        self.client_ip_header = header;
        self
    }

    fn cached(&self, key_hash: &str, now: Instant) -> Option<ApiKeyRecord> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(key_hash).filter(|(_, at)| now.duration_since(*at) < KEY_CACHE_TTL).map(|(record, _)| record.clone())
    }

    async fn lookup(&self, key_hash: String, now: Instant) -> Result<ApiKeyRecord, ApiError> {
        let unknown = || ApiError::Unauthorized("this API key is not valid (unknown or revoked)");
        {
            let seen = self.unknown.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if seen.get(&key_hash).is_some_and(|at| now.duration_since(*at) < KEY_CACHE_TTL) {
                return Err(unknown());
            }
        }
        let mut conn = self.store.read().await?;
        let Some(record) = agencies::find_api_key(&mut conn, &key_hash).await? else {
            remember(&self.unknown, key_hash, now, now);
            return Err(unknown());
        };
        remember(&self.cache, key_hash, (record.clone(), now), now);
        Ok(record)
    }

    /// Checks the `Authorization: Bearer` header and the key's rate limit. A client address that
    /// failed too often is refused before its key is looked up, unless the key is one checked
    /// recently (a good key sharing an address with a bad one keeps working).
    pub async fn authenticate(&self, parts: &Parts) -> Result<ApiKeyRecord, ApiError> {
        let now = Instant::now();
        let key_hash = bearer_key(parts).map(hash_api_key);
        if let Ok(hash) = &key_hash
            && let Some(record) = self.cached(hash, now)
        {
            return self.admit(record);
        }
        let client = client_address(&parts.extensions, &parts.headers, self.client_ip_header.as_ref());
        self.failures.peek(&client).map_err(|retry_after_secs| {
            metrics::counter!("hybridpost_auth_refused_total").increment(1);
            ApiError::TooManyRequests { limit: RateLimit::FailedAuthentications, retry_after_secs }
        })?;
        let looked_up = match key_hash {
            Ok(hash) => self.lookup(hash, now).await,
            Err(e) => Err(e),
        };
        match looked_up {
            Ok(record) => self.admit(record),
            Err(e) => {
                if matches!(e, ApiError::Unauthorized(_)) {
                    metrics::counter!("hybridpost_auth_failures_total").increment(1);
                    // Charged after the fact: peeking first lets the failure that empties the
                    // bucket still get its 401, and the next one the 429.
                    let _ = self.failures.check(&client);
                }
                Err(e)
            }
        }
    }

    fn admit(&self, record: ApiKeyRecord) -> Result<ApiKeyRecord, ApiError> {
        self.limiter
            .check(&record.key_id)
            .map_err(|retry_after_secs| ApiError::TooManyRequests { limit: RateLimit::ApiKey, retry_after_secs })?;
        Ok(record)
    }
}

/// The key of an `Authorization: Bearer hpk_…` header.
fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("send your API key as Authorization: Bearer <key>"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|k| k.starts_with("hpk_") && k.len() <= 100)
        .ok_or(ApiError::Unauthorized("the Authorization header must be Bearer followed by an hpk_ API key"))
}

/// Puts `value` in a cache of at most [`KEY_CACHE_ENTRIES`], dropping expired entries (or, when
/// all are fresh, everything) when it is full: a flood of made-up keys cannot grow it.
fn remember<V>(cache: &Mutex<HashMap<String, V>>, key_hash: String, value: V, now: Instant)
where
    V: CacheEntry,
{
    let mut cache = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() >= KEY_CACHE_ENTRIES {
        cache.retain(|_, v| now.duration_since(v.at()) < KEY_CACHE_TTL);
        if cache.len() >= KEY_CACHE_ENTRIES {
            cache.clear();
        }
    }
    cache.insert(key_hash, value);
}

/// A cache entry with the time it was made.
trait CacheEntry {
    fn at(&self) -> Instant;
}

impl CacheEntry for Instant {
    fn at(&self) -> Instant {
        *self
    }
}

impl CacheEntry for (ApiKeyRecord, Instant) {
    fn at(&self) -> Instant {
        self.1
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
