//! Errors at the HTTP edge, rendered as RFC 9457 `application/problem+json`.
//!
//! `into_response` only builds the response. The [`crate::layers`] middleware adds the request
//! id to the body and logs the error once; it also turns any other error response (an unknown
//! route, a timeout) into problem+json, so clients see one error format.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{FieldError, ValidationErrors};
use serde::Serialize;

/// The problem+json media type.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:hybridpost:problem:validation`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong this time, in words a developer can act on.
    pub detail: String,
    /// The request's `x-request-id`, to quote when asking for help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For validation problems: every field that is wrong.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Everything a handler can fail with. Each variant's doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not the JSON the route expects (syntax, type, unknown field).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no API key, or one that is not valid.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the key is valid but not for this API (a site key on the agency API).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such resource, or one the caller may not see.
    #[error("{0}")]
    NotFound(String),
    /// 408: the request took longer than allowed, or its body stopped arriving.
    #[error("{0}")]
    RequestTimeout(String),
    /// 409: the request conflicts with the resource's state; `kind` is the problem type slug.
    #[error("{detail}")]
    Conflict {
        /// Problem type slug (`letter-not-cancellable`).
        kind: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// 413: the body is larger than the route accepts.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the JSON is well formed but fields are wrong; every one is listed.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// 429: a limit was reached; `limit` says which, so the client knows what to slow down.
    #[error("{}; retry after {retry_after_secs} s", .limit.reached())]
    TooManyRequests {
        /// The limit that was reached.
        limit: RateLimit,
        /// Seconds until a request will be accepted.
        retry_after_secs: u64,
    },
    /// 429 from a caller that does not say which limit was reached; prefer
    /// [`ApiError::TooManyRequests`], whose words fit the cause.
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request will be accepted.
        retry_after_secs: u64,
    },
    /// 503: a dependency (the database) is not available.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a fault of ours; the error and its sources are logged, not shown.
    #[error("internal error: {0}")]
    Internal(#[source] BoxError),
}

/// Any error, kept with its chain of sources for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ApiError {
    /// A 500 for `error` (an error, or a message saying what was wrong).
    pub fn internal(error: impl Into<BoxError>) -> Self {
        ApiError::Internal(error.into())
    }
}

/// `error` and each of its sources, joined with `: ` (as anyhow's `{:#}` prints them).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        // thiserror's `transparent` and `{0}` messages already carry their source's words.
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem details this error shows the client.
    pub fn problem(&self) -> Problem {
        let (slug, title): (&str, &str) = match self {
            ApiError::BadRequest(_) => ("malformed-request", "Malformed request"),
            ApiError::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => ("forbidden", "Forbidden"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::RequestTimeout(_) => ("request-timeout", "Request timeout"),
            ApiError::Conflict { kind, .. } => (kind, "Conflict"),
            ApiError::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            ApiError::Validation(_) => ("validation", "Invalid fields"),
            ApiError::TooManyRequests { .. } | ApiError::RateLimited { .. } => ("rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        };
        let detail = match self {
            ApiError::Internal(_) => "something went wrong on our side; it has been logged with the request id".into(),
            ApiError::Validation(e) => format!("{} field(s) are not valid", e.0.len()),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:hybridpost:problem:{slug}"),
            title: title.into(),
            status: self.status().as_u16(),
            detail,
            request_id: None,
            errors: match self {
                ApiError::Validation(e) => e.0.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<hybridpost_store::StoreError> for ApiError {
    fn from(e: hybridpost_store::StoreError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable("the database is not available; try again shortly".into())
        } else {
            ApiError::Internal(Box::new(e))
        }
    }
}

/// Which limit a 429 reached: its words tell the client what to slow down or fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// Requests per API key.
    ApiKey,
    /// Requests per client address (the public pages).
    ClientAddress,
    /// Failed authentications (missing, malformed or unknown API keys) per client address.
    FailedAuthentications,
    /// Wrong PINs per letter or per client address.
    PinAttempts,
}

impl RateLimit {
    /// What was reached, in words.
    pub fn reached(self) -> &'static str {
        match self {
            RateLimit::ApiKey => "too many requests with this API key",
            RateLimit::ClientAddress => "too many requests from this address",
            RateLimit::FailedAuthentications => {
                "too many failed authentications (missing, malformed or unknown API keys) from this address"
            }
            RateLimit::PinAttempts => "too many wrong PINs for this letter or from this address",
        }
    }
}

/// Put on an error response whose body is a page for people (an HTML refusal page): the layers
/// log it like any error but keep its body instead of replacing it with problem+json.
#[derive(Clone, Copy, Debug)]
pub struct PageForPeople;

/// Carried on an error response so the middleware can finish and log it.
#[derive(Clone, Debug)]
pub struct ProblemExtension {
    /// The problem as built by the handler.
    pub problem: Problem,
    /// The internal message (for 5xx, what was hidden from the client).
    pub internal: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let internal = match &self {
            ApiError::Internal(e) => Some(error_chain(e.as_ref())),
            _ => None,
        };
        let mut response = problem_response(&problem);
        if let ApiError::TooManyRequests { retry_after_secs, .. } | ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ProblemExtension { problem, internal });
        response
    }
}

/// A response carrying `problem` as its body.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).expect("a problem always serialises");
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_429_names_the_limit_that_was_reached_and_only_that_one() {
        let detail = |limit| ApiError::TooManyRequests { limit, retry_after_secs: 7 }.problem().detail;
        assert_eq!(detail(RateLimit::ApiKey), "too many requests with this API key; retry after 7 s");
        let failed = detail(RateLimit::FailedAuthentications);
        assert!(failed.starts_with("too many failed authentications"), "{failed}");
        for limit in [RateLimit::ClientAddress, RateLimit::FailedAuthentications, RateLimit::PinAttempts] {
            let text = detail(limit);
            assert!(!text.contains("this API key"), "{limit:?}: {text}");
            assert!(text.contains("this address"), "{limit:?}: {text}");
            assert!(text.ends_with("; retry after 7 s"), "{limit:?}: {text}");
        }
        assert!(detail(RateLimit::PinAttempts).contains("wrong PINs"));
        let unnamed = ApiError::RateLimited { retry_after_secs: 2 }.problem().detail;
        assert_eq!(unnamed, "too many requests; retry after 2 s");
    }

    #[test]
    fn a_429_carries_retry_after_and_a_408_is_a_problem() {
        let response = ApiError::TooManyRequests { limit: RateLimit::ApiKey, retry_after_secs: 3 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        let timeout = ApiError::RequestTimeout("no bytes for 5 s".into()).into_response();
        assert_eq!(timeout.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(timeout.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
