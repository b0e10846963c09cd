//! Who is asking, how often they may, and the headers every public response wears.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use hybridpost_seal::{Purpose, ServiceSecret};
use hybridpost_web::client::client_address;
use hybridpost_web::problem::ApiError;

use crate::VerifyState;
use sha2::Sha256;

/// The page may load scripts, styles, images and data only from this origin, may not be
/// framed, and posts forms only here (CSP Level 3).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Keyed hash of a client address, hex: what PIN attempts are counted by, so that no IP
/// address is stored.
pub(crate) fn client_hash(secret: &ServiceSecret, address: &str) -> String {
    keyed_hash(secret, b"client-address", address.as_bytes())
}

/// HMAC-SHA256 under the service's link-token key, with a label separating uses, hex.
pub(crate) fn keyed_hash(secret: &ServiceSecret, label: &[u8], value: &[u8]) -> String {
    let key = secret.derive(Purpose::LinkToken);
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(label);
    mac.update(b"\0");
    mac.update(value);
    hex::encode(mac.finalize().into_bytes())
}

/// The client address of a request, as an extractor.
#[derive(Clone, Debug)]
pub(crate) struct ClientAddress(pub String);

impl axum::extract::FromRequestParts<VerifyState> for ClientAddress {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &VerifyState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(&parts.extensions, &parts.headers, state.config.client_ip_header.as_ref())))
    }
}

/// Refuses a client over its request rate with 429 and `Retry-After`.
pub(crate) async fn limit_per_client(State(state): State<VerifyState>, req: Request, next: Next) -> Response {
    let address = client_address(req.extensions(), req.headers(), state.config.client_ip_header.as_ref());
    match state.limiter.check(&address) {
        Ok(()) => next.run(req).await,
        Err(retry_after_secs) => {
            metrics::counter!("hybridpost_verify_rate_limited_total").increment(1);
            ApiError::TooManyRequests { limit: hybridpost_web::RateLimit::ClientAddress, retry_after_secs }
                .into_response()
        }
    }
}

/// Adds the security headers to every response, and `Cache-Control: no-store` where the
/// handler set none.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    // A PDF opened from the no-script form is shown by the browser's own viewer, which a
    // `default-src 'none'` policy would block.
    let is_pdf = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/pdf"));
    if !is_pdf {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
