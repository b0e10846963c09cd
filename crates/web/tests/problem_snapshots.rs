//! The problem+json bodies clients read, snapshotted with insta: every [`ApiError`] variant as
//! its `into_response` renders it (status, the headers it sets, the body), and a few as served
//! through the common layers, which add the request id (redacted: it is a fresh UUID each time).
//! A changed word in a body shows up as a snapshot diff in review.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hybridpost_core::{ThaiAddress, ValidationErrors};
use hybridpost_web::layers::{REQUEST_ID, with_common_layers};
use hybridpost_web::{ApiError, RateLimit};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The headers a problem response sets that a client acts on.
const HEADERS: [header::HeaderName; 4] =
    [header::CONTENT_TYPE, header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW];

/// Status, the headers of [`HEADERS`] that are present, and the JSON body of `response`.
async fn seen(response: Response) -> Value {
    let status = response.status().as_u16();
    let mut headers = serde_json::Map::new();
    for name in HEADERS {
        if let Some(value) = response.headers().get(&name) {
            headers.insert(name.to_string(), json!(value.to_str().unwrap()));
        }
    }
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    json!({"status": status, "headers": headers, "body": body})
}

/// A validation error as the address check makes it: a district that is not in the province,
/// and a postcode not used there, each with the nearest valid values.
fn validation() -> ApiError {
    let address: ThaiAddress = serde_json::from_value(json!({
        "house_number": "99",
        "road": "พหลโยธิน",
        "subdistrict": "สามเสนใน",
        "district": "พญาไทย",
        "province": "กรุงเทพมหานคร",
        "postcode": "50200",
    }))
    .unwrap();
    let errors = address.check("recipient.address").unwrap_err();
    ApiError::Validation(ValidationErrors(errors.0))
}

/// Every variant, with words like the ones the services use, named for its snapshot.
fn every_variant() -> Vec<(&'static str, ApiError)> {
    let bad_json = hybridpost_web::json::parse::<hybridpost_core::NewLetter>(br#"{"reference": 12}"#).unwrap_err();
    vec![
        ("bad_request", bad_json),
        ("unauthorized", ApiError::Unauthorized("this API key is not valid (unknown or revoked)")),
        ("forbidden", ApiError::Forbidden("this is a post-office site key; this API needs an agency key")),
        ("not_found", ApiError::NotFound("no letter 01JD2X7Q9V8M3N4P5R6S7T8V9W of this agency".into())),
        ("request_timeout", ApiError::RequestTimeout("the request took longer than 30 s and was stopped".into())),
        (
            "conflict",
            ApiError::Conflict {
                kind: "letter-not-cancellable",
                detail: "the letter is printed; only a letter not yet printed can be withdrawn".into(),
            },
        ),
        ("payload_too_large", ApiError::PayloadTooLarge { limit: 1_048_576 }),
        (
            "unsupported_media_type",
            ApiError::UnsupportedMediaType("send the body as application/json, not text/plain".into()),
        ),
        ("validation", validation()),
        ("too_many_requests_api_key", ApiError::TooManyRequests { limit: RateLimit::ApiKey, retry_after_secs: 7 }),
        (
            "too_many_requests_client_address",
            ApiError::TooManyRequests { limit: RateLimit::ClientAddress, retry_after_secs: 1 },
        ),
        (
            "too_many_requests_failed_authentications",
            ApiError::TooManyRequests { limit: RateLimit::FailedAuthentications, retry_after_secs: 60 },
        ),
        (
            "too_many_requests_pin_attempts",
            ApiError::TooManyRequests { limit: RateLimit::PinAttempts, retry_after_secs: 3600 },
        ),
        ("rate_limited", ApiError::RateLimited { retry_after_secs: 2 }),
        ("unavailable", ApiError::Unavailable("the database is not available; try again shortly".into())),
        ("internal", ApiError::Internal("pool timed out while waiting for an open connection".into())),
    ]
}

#[tokio::test]
async fn every_api_error_variant_renders_the_problem_body_people_read() {
    for (name, error) in every_variant() {
        let seen = seen(error.into_response()).await;
        insta::assert_json_snapshot!(name, seen);
    }
}

#[test]
fn every_variant_of_api_error_has_a_snapshot() {
    // A new variant must be added to `every_variant`, and so get a snapshot: this match stops
    // compiling until it is named here.
    let covered = |e: &ApiError| match e {
        ApiError::BadRequest(_)
        | ApiError::Unauthorized(_)
        | ApiError::Forbidden(_)
        | ApiError::NotFound(_)
        | ApiError::RequestTimeout(_)
        | ApiError::Conflict { .. }
        | ApiError::PayloadTooLarge { .. }
        | ApiError::UnsupportedMediaType(_)
        | ApiError::Validation(_)
        | ApiError::TooManyRequests { .. }
        | ApiError::RateLimited { .. }
        | ApiError::Unavailable(_)
        | ApiError::Internal(_) => std::mem::discriminant(e),
    };
    let kinds: std::collections::HashSet<_> = every_variant().iter().map(|(_, e)| covered(e)).collect();
    assert_eq!(kinds.len(), 13, "every variant appears in every_variant()");
}

/// An app with one route failing with `error`, wearing the common layers.
fn served(error: fn() -> ApiError) -> Router {
    let app = Router::new().route("/v1/letters/{letter_id}", get(move || std::future::ready(error())));
    with_common_layers(app, Duration::from_secs(30))
}

async fn request(app: Router, method: &str, path: &str) -> Value {
    let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let header_id = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
    let seen = seen(response).await;
    assert_eq!(seen["body"]["request_id"], json!(header_id), "the body quotes the request's id");
    seen
}

#[tokio::test]
async fn problems_as_served_carry_the_request_id_and_unrouted_requests_are_problems_too() {
    let conflict = || ApiError::Conflict {
        kind: "letter-already-withdrawn",
        detail: "the letter was withdrawn on request; nothing more can be done with it".into(),
    };
    let cases = [
        ("served_conflict", served(conflict), "GET", "/v1/letters/x"),
        ("served_internal", served(|| ApiError::Internal("disk full".into())), "GET", "/v1/letters/x"),
        ("served_unknown_path", served(conflict), "GET", "/v1/nothing-here"),
        ("served_wrong_method", served(conflict), "DELETE", "/v1/letters/x"),
    ];
    for (name, app, method, path) in cases {
        let seen = request(app, method, path).await;
        insta::assert_json_snapshot!(name, seen, {".body.request_id" => "[request-id]"});
    }
}
