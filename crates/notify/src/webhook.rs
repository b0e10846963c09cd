//! Webhooks signed per the Standard Webhooks specification (<https://www.standardwebhooks.com>).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// How old (or how far in the future) a timestamp may be before [`verify_webhook`] rejects it.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const SECRET_PREFIX: &str = "whsec_";

/// A webhook signing secret, given as `whsec_<base64>` (the prefix is optional on input).
#[derive(Clone)]
pub struct WebhookSecret {
    key: hmac::Key,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` or bare base64. The decoded key must be 24 to 64 bytes.
    pub fn parse(secret: &str) -> Result<Self, WebhookVerifyError> {
        let b64 = secret.trim().strip_prefix(SECRET_PREFIX).unwrap_or(secret.trim());
        let raw = STANDARD.decode(b64).map_err(|e| WebhookVerifyError::InvalidSecret(format!("not base64: {e}")))?;
        if !(24..=64).contains(&raw.len()) {
            return Err(WebhookVerifyError::InvalidSecret(format!("key is {} bytes, expected 24 to 64", raw.len())));
        }
        Ok(Self::from_bytes(&raw))
    }

    /// Uses raw key bytes.
    pub fn from_bytes(raw: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, raw) }
    }

    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        ctx.sign()
    }

    fn verify_tag(&self, id: &str, timestamp: i64, body: &[u8], signature: &[u8]) -> bool {
        let mut msg = Vec::with_capacity(id.len() + body.len() + 24);
        msg.extend_from_slice(id.as_bytes());
        msg.push(b'.');
        msg.extend_from_slice(timestamp.to_string().as_bytes());
        msg.push(b'.');
        msg.extend_from_slice(body);
        hmac::verify(&self.key, &msg, signature).is_ok()
    }
}

/// The three headers of a signed webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `webhook-id`: unique per event, identical across retries.
    pub id: String,
    /// `webhook-timestamp`: unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`: `v1,<base64>` (space-separated when several).
    pub signature: String,
}

impl WebhookHeaders {
    /// As `(name, value)` pairs, ready to be sent.
    pub fn to_pairs(&self) -> [(&'static str, String); 3] {
        [
            ("webhook-id", self.id.clone()),
            ("webhook-timestamp", self.timestamp.to_string()),
            ("webhook-signature", self.signature.clone()),
        ]
    }
}

/// Signs `body` for event `id` at `timestamp` (unix seconds).
pub fn sign_webhook(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> WebhookHeaders {
    let tag = secret.tag(id, timestamp, body);
    WebhookHeaders { id: id.to_owned(), timestamp, signature: format!("v1,{}", STANDARD.encode(tag.as_ref())) }
}

/// Why a received webhook was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookVerifyError {
    /// The secret is malformed.
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(String),
    /// A header is missing or empty.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer.
    #[error("invalid webhook-timestamp {0:?}")]
    InvalidTimestamp(String),
    /// The timestamp is too old or too far in the future.
    #[error("webhook-timestamp is {age_seconds} s away from now (tolerance {tolerance_seconds} s)")]
    TimestampOutOfTolerance {
        /// now - timestamp; negative when in the future.
        age_seconds: i64,
        /// The allowed distance.
        tolerance_seconds: u64,
    },
    /// None of the `v1` signatures matches.
    #[error("no matching v1 signature")]
    NoMatchingSignature,
}

/// Verifies a received webhook. `headers` maps header names (case-insensitive) to values.
///
/// `now` is the current time in unix seconds (pass `None` to use the system clock).
pub fn verify_webhook<'a>(
    secret: &WebhookSecret,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: &[u8],
    tolerance: Duration,
    now: Option<i64>,
) -> Result<(), WebhookVerifyError> {
    let (mut id, mut ts, mut sig) = (None, None, None);
    for (name, value) in headers {
        match name.to_ascii_lowercase().as_str() {
            "webhook-id" => id = Some(value),
            "webhook-timestamp" => ts = Some(value),
            "webhook-signature" => sig = Some(value),
            _ => {}
        }
    }
    let non_empty =
        |v: Option<&'a str>, name| v.filter(|s| !s.is_empty()).ok_or(WebhookVerifyError::MissingHeader(name));
    let id = non_empty(id, "webhook-id")?;
    let ts_raw = non_empty(ts, "webhook-timestamp")?;
    let sig = non_empty(sig, "webhook-signature")?;
    let timestamp: i64 = ts_raw.trim().parse().map_err(|_| WebhookVerifyError::InvalidTimestamp(ts_raw.to_owned()))?;
    let now = now.unwrap_or_else(unix_now);
    let age = now.saturating_sub(timestamp);
    let tolerance_seconds = tolerance.as_secs();
    if age.unsigned_abs() > tolerance_seconds {
        return Err(WebhookVerifyError::TimestampOutOfTolerance { age_seconds: age, tolerance_seconds });
    }
    let matched = sig
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|candidate| secret.verify_tag(id, timestamp, body, &candidate));
    if matched { Ok(()) } else { Err(WebhookVerifyError::NoMatchingSignature) }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// A webhook reached the receiver and was accepted (2xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivered {
    /// The HTTP status.
    pub status: u16,
}

/// Why a webhook was not delivered, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// 4xx other than 408 and 429, or a malformed request: retrying will not help.
    #[error("webhook rejected permanently{}: {reason}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Permanent {
        /// HTTP status, when the receiver answered.
        status: Option<u16>,
        /// Human-readable cause.
        reason: String,
    },
    /// 5xx, 408, 429, timeout or network failure: retry later.
    #[error("webhook failed transiently{}: {reason}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Transient {
        /// HTTP status, when the receiver answered.
        status: Option<u16>,
        /// Human-readable cause.
        reason: String,
    },
}

impl WebhookError {
    /// `true` for [`WebhookError::Transient`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// Classifies an HTTP status: 2xx delivered, 4xx (but 408/429) permanent, everything else transient.
pub(crate) fn classify_status(status: u16) -> Result<WebhookDelivered, WebhookError> {
    match status {
        200..=299 => Ok(WebhookDelivered { status }),
        408 | 429 => {
            Err(WebhookError::Transient { status: Some(status), reason: "receiver asked to retry later".to_owned() })
        }
        400..=499 => {
            Err(WebhookError::Permanent { status: Some(status), reason: "receiver rejected the request".to_owned() })
        }
        _ => Err(WebhookError::Transient {
            status: Some(status),
            reason: "receiver failed or answered unexpectedly".to_owned(),
        }),
    }
}

/// Posts signed webhooks over HTTP(S). Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
}

impl WebhookClient {
    /// A client with a total per-request `timeout`. TLS uses rustls with the public web PKI roots;
    /// redirects are not followed.
    pub fn new(timeout: Duration) -> Result<Self, WebhookError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| WebhookError::Permanent { status: None, reason: format!("TLS set-up failed: {e}") })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hybridpost-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Permanent { status: None, reason: format!("HTTP client set-up failed: {e}") })?;
        Ok(Self { http })
    }

    /// Signs `body` (JSON) with `secret` for event `id` at the current time and POSTs it to `url`.
    pub async fn deliver(
        &self,
        url: &str,
        secret: &WebhookSecret,
        id: &str,
        body: &[u8],
    ) -> Result<WebhookDelivered, WebhookError> {
        let headers = sign_webhook(secret, id, unix_now(), body);
        let mut request = self.http.post(url).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in headers.to_pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => classify_status(response.status().as_u16()),
            Err(e) if e.is_builder() => {
                Err(WebhookError::Permanent { status: None, reason: format!("invalid request: {e}") })
            }
            Err(e) => Err(WebhookError::Transient { status: None, reason: format!("{e}") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_outbox_expects() {
        assert!(classify_status(200).is_ok());
        assert!(classify_status(204).is_ok());
        for s in [400, 401, 403, 404, 410, 422] {
            assert!(!classify_status(s).expect_err("4xx fails").is_retryable(), "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504, 301] {
            assert!(classify_status(s).expect_err("fails").is_retryable(), "{s}");
        }
    }

    #[test]
    fn a_signature_round_trips_and_a_tampered_body_is_rejected() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret");
        let h = sign_webhook(&secret, "msg_1", 1_700_000_000, br#"{"a":1}"#);
        let pairs = h.to_pairs();
        let hdrs = pairs.iter().map(|(k, v)| (*k, v.as_str()));
        assert_eq!(
            verify_webhook(&secret, hdrs.clone(), br#"{"a":1}"#, DEFAULT_TOLERANCE, Some(1_700_000_010)),
            Ok(())
        );
        assert_eq!(
            verify_webhook(&secret, hdrs.clone(), br#"{"a":2}"#, DEFAULT_TOLERANCE, Some(1_700_000_010)),
            Err(WebhookVerifyError::NoMatchingSignature)
        );
        assert!(matches!(
            verify_webhook(&secret, hdrs, br#"{"a":1}"#, DEFAULT_TOLERANCE, Some(1_700_001_000)),
            Err(WebhookVerifyError::TimestampOutOfTolerance { .. })
        ));
    }
}
