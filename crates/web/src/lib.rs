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
pub mod health;
pub mod json;
pub mod layers;
pub mod paging;
pub mod problem;
pub mod rate_limit;

pub use auth::{AgencyCaller, ApiKeys, SiteCaller};
pub use json::JsonBody;
pub use problem::{ApiError, Problem, RateLimit};
pub use rate_limit::RateLimiter;
