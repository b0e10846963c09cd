//! Webhooks signed per the Standard Webhooks specification (<https://www.standardwebhooks.com>),
//! delivered only to targets the egress rules allow ([`hybridpost_core::egress`]).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hybridpost_core::egress::{AddressClass, WebhookTarget};
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
    /// The target may not be reached: its URL breaks the rules, or its host resolves only to
    /// addresses webhooks may not go to (loopback, private, link-local…). Nothing was sent and
    /// nothing was received; retrying will not help.
    #[error("webhook target refused: {reason}")]
    Refused {
        /// Why, without anything from the target (no connection was made).
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

/// Looks a host name up: the system resolver, or in tests a fixed answer. The webhook client
/// checks every address it returns before connecting.
#[derive(Clone)]
pub struct NameLookup(Arc<dyn Fn(&str) -> LookupFuture + Send + Sync>);

/// The answer of a [`NameLookup`].
pub type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

impl NameLookup {
    /// The operating system's resolver (`getaddrinfo`, through Tokio).
    pub fn system() -> Self {
        NameLookup::new(|host| {
            let host = host.to_owned();
            Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
        })
    }

    /// A lookup answered by `f`.
    pub fn new(f: impl Fn(&str) -> LookupFuture + Send + Sync + 'static) -> Self {
        NameLookup(Arc::new(f))
    }
}

impl std::fmt::Debug for NameLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NameLookup")
    }
}

/// A name resolved only to addresses the client may not connect to.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TargetRefused(String);

/// Resolves names and keeps only the addresses a webhook may go to, so that the check holds
/// for the address actually connected to, at every connection (a name that resolved to a
/// public address when it was registered may resolve to 127.0.0.1 later: DNS rebinding).
struct GuardedResolver {
    lookup: NameLookup,
    /// Public addresses are allowed (not for plain `http://`, which goes only to private ones).
    public: bool,
    /// Private addresses (loopback, RFC 1918, RFC 4193) are allowed.
    private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let answer = (self.lookup.0)(&host);
        let (public, private) = (self.public, self.private);
        Box::pin(async move {
            let mut refused = None;
            let allowed: Vec<SocketAddr> = answer
                .await?
                .into_iter()
                .filter(|ip| {
                    let class = AddressClass::of(*ip);
                    let ok = match class {
                        AddressClass::Public => public,
                        AddressClass::Private(_) => private,
                        AddressClass::Forbidden(_) => false,
                    };
                    if !ok {
                        refused.get_or_insert(class);
                    }
                    ok
                })
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            match refused {
                Some(class) if allowed.is_empty() => {
                    let why = match class {
                        AddressClass::Public => "a public address, and plain http:// goes only to private ones".into(),
                        other => format!("{}, which webhooks may not reach", other.describe()),
                    };
                    Err(Box::new(TargetRefused(format!("{host} resolves to {why}"))) as Box<_>)
                }
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// Posts signed webhooks over HTTP(S). Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    /// For `https://` targets.
    https: reqwest::Client,
    /// For `http://` targets: only when private targets are allowed, and only to private
    /// addresses.
    http: Option<reqwest::Client>,
    allow_private_targets: bool,
}

impl WebhookClient {
    /// A client with a total per-request `timeout`, resolving names with the system resolver.
    /// TLS uses rustls with the public web PKI roots; redirects are not followed and no proxy
    /// is taken from the environment. Targets must be public (see
    /// [`hybridpost_core::egress`]) unless `allow_private_targets`, for receivers on the
    /// operator's own network.
    pub fn new(timeout: Duration, allow_private_targets: bool) -> Result<Self, WebhookError> {
        Self::with_lookup(timeout, allow_private_targets, NameLookup::system())
    }

    /// Like [`WebhookClient::new`], resolving names with `lookup`.
    pub fn with_lookup(
        timeout: Duration,
        allow_private_targets: bool,
        lookup: NameLookup,
    ) -> Result<Self, WebhookError> {
        let setup = |what: &str, e: &dyn std::fmt::Display| WebhookError::Permanent {
            status: None,
            reason: format!("{what} set-up failed: {e}"),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup("TLS", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = |public: bool, private: bool| {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .timeout(timeout)
                .connect_timeout(timeout)
                // A redirect would lead to a host that was never checked.
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve and connect on our behalf, past the resolver's check.
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver { lookup: lookup.clone(), public, private }))
                .user_agent(concat!("hybridpost-webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| setup("HTTP client", &e))
        };
        Ok(Self {
            https: client(true, allow_private_targets)?,
            http: if allow_private_targets { Some(client(false, true)?) } else { None },
            allow_private_targets,
        })
    }

    /// Signs `body` (JSON) with `secret` for event `id` at the current time and POSTs it to `url`.
    ///
    /// The URL is checked again before connecting (it may have been stored under other
    /// rules), and every address its host resolves to; a target that may not be reached is
    /// [`WebhookError::Refused`] without any connection being made.
    pub async fn deliver(
        &self,
        url: &str,
        secret: &WebhookSecret,
        id: &str,
        body: &[u8],
    ) -> Result<WebhookDelivered, WebhookError> {
        let target = WebhookTarget::parse(url, self.allow_private_targets)
            .map_err(|why| WebhookError::Refused { reason: format!("the url {why}") })?;
        let client = match (target.as_str().starts_with("http:"), &self.http) {
            (false, _) => &self.https,
            (true, Some(http)) => http,
            (true, None) => {
                return Err(WebhookError::Refused { reason: "plain http:// is not allowed".into() });
            }
        };
        let headers = sign_webhook(secret, id, unix_now(), body);
        let mut request = client.post(target.as_str()).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in headers.to_pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => classify_status(response.status().as_u16()),
            Err(e) if e.is_builder() => {
                Err(WebhookError::Permanent { status: None, reason: format!("invalid request: {e}") })
            }
            Err(e) => match refusal(&e) {
                Some(reason) => Err(WebhookError::Refused { reason }),
                None => Err(WebhookError::Transient { status: None, reason: format!("{e}") }),
            },
        }
    }
}

/// The resolver's refusal inside a client error, if that is what it is.
fn refusal(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<TargetRefused>() {
            return Some(refused.0.clone());
        }
        source = err.source();
    }
    None
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

    fn resolver(answer: &'static [&'static str], public: bool, private: bool) -> GuardedResolver {
        let lookup = NameLookup::new(move |_| {
            Box::pin(async move { Ok(answer.iter().map(|a| a.parse().expect("an address")).collect()) })
        });
        GuardedResolver { lookup, public, private }
    }

    async fn resolve(r: &GuardedResolver, name: &str) -> Result<Vec<IpAddr>, String> {
        use reqwest::dns::Resolve as _;
        let name = name.parse().expect("a host name");
        r.resolve(name).await.map(|addrs| addrs.map(|a| a.ip()).collect()).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn resolved_addresses_inside_the_network_are_refused_and_public_ones_kept() {
        let public_only = resolver(&["127.0.0.1"], true, false);
        let err = resolve(&public_only, "hooks.agency.example").await.expect_err("loopback refused");
        assert_eq!(err, "hooks.agency.example resolves to a loopback address, which webhooks may not reach");
        let metadata = resolver(&["169.254.169.254"], true, true);
        assert!(resolve(&metadata, "a.example").await.expect_err("never").contains("link-local"));
        let mixed = resolver(&["10.0.0.1", "93.184.215.14", "::ffff:127.0.0.1"], true, false);
        assert_eq!(resolve(&mixed, "a.example").await, Ok(vec!["93.184.215.14".parse().expect("ip")]));
        let on_premises = resolver(&["10.0.0.1"], true, true);
        assert_eq!(resolve(&on_premises, "a.example").await, Ok(vec!["10.0.0.1".parse().expect("ip")]));
        let plain_http = resolver(&["93.184.215.14"], false, true);
        assert!(resolve(&plain_http, "receiver.lan").await.expect_err("public over http").contains("http://"));
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
