//! Rate limits: a token bucket per key (an API key id, a client address), refilled
//! continuously.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Token buckets keyed by a string (an API key id, a client address). Cloning shares the
/// buckets.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_second` sustained requests per key, bursts of up to `burst`. Zero disables.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::with_rate(f64::from(per_second), burst)
    }

    /// `per_second` sustained (a fraction for slower rates: 0.2 is one every 5 s), bursts of up
    /// to `burst`. Zero disables.
    pub fn with_rate(per_second: f64, burst: u32) -> Self {
        let per_second = per_second.max(0.0);
        Self { per_second, burst: f64::from(burst).max(per_second).max(1.0), buckets: Arc::default() }
    }

    /// Takes a token for `key`, or says how many whole seconds until one is free.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.with_bucket(key, true)
    }

    /// Whether `key` has a token left, without taking it: for limits on failures, checked
    /// before the work that may fail and charged only when it does.
    pub fn peek(&self, key: &str) -> Result<(), u64> {
        self.with_bucket(key, false)
    }

    fn with_bucket(&self, key: &str, take: bool) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle keys rather than grow without bound.
            buckets.retain(|_, b| now.duration_since(b.at).as_secs() < 60);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            if take {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_burst_is_refused_and_others_are_not() {
        let limiter = RateLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        assert_eq!(limiter.check("a"), Err(1));
        assert!(limiter.check("b").is_ok());
    }

    #[test]
    fn peeking_takes_nothing_and_a_fractional_rate_refills_slowly() {
        let limiter = RateLimiter::with_rate(0.2, 2);
        for _ in 0..10 {
            assert!(limiter.peek("a").is_ok());
        }
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert_eq!(limiter.peek("a"), Err(5));
        assert_eq!(limiter.check("a"), Err(5));
    }

    #[test]
    fn zero_disables_the_limit() {
        let limiter = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            assert!(limiter.check("a").is_ok());
        }
    }
}
