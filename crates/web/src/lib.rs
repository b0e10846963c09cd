//! HTTP glue shared by every hybridpost service: RFC 9457 problem+json errors, API-key
//! authentication and rate limits, strict JSON bodies, the common middleware stack (request
//! ids, tracing, timeouts, metrics), and `/healthz`, `/readyz` and `/metrics`.
//!
//! Services build their routers on this; nothing here knows about letters beyond the store's
//! API-key lookup.
#![forbid(unsafe_code)]

pub mod auth;
pub mod health;
pub mod json;
pub mod layers;
pub mod paging;
pub mod problem;
pub mod rate_limit;

pub use auth::{AgencyCaller, ApiKeys, SiteCaller};
pub use json::JsonBody;
pub use problem::{ApiError, Problem};
pub use rate_limit::RateLimiter;
