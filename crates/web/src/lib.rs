//! HTTP glue shared by every hybridpost service: RFC 9457 problem+json errors, API-key
//! authentication and rate limits, client addresses, strict JSON bodies, the common middleware
//! stack (request ids, tracing, timeouts, metrics), `/healthz` and `/readyz`, and `/metrics`
//! for a listener of its own.
//!
//! Services build their routers on this; nothing here knows about letters beyond the store's
//! API-key lookup.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod download;
pub mod drain;
pub mod extract;
pub mod health;
pub mod json;
pub mod layers;
pub mod openapi;
pub mod paging;
pub mod problem;
pub mod rate_limit;

pub use auth::{AgencyCaller, ApiKeys, SiteCaller};
pub use download::Download;
pub use extract::{IdPath, RequestId};
pub use json::JsonBody;
pub use paging::{ListQuery, Page, PageRequest};
pub use problem::{ApiError, Problem, RateLimit};
pub use rate_limit::RateLimiter;

/// Serves `router` on `listener`, telling handlers each client's address (the per-client
/// limits need it), until `shutdown` completes; then finishes open requests.
pub async fn serve(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
