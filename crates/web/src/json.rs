//! Strict JSON request bodies: `application/json` only, a size limit, unknown fields refused,
//! and errors that name the field (`recipient.address.postcode: invalid type…`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// Largest JSON body accepted by default.
pub const DEFAULT_JSON_LIMIT: usize = 1024 * 1024;

/// A JSON body of type `T`, with the raw bytes kept (for idempotency hashes).
#[derive(Debug)]
pub struct JsonBody<T> {
    /// The parsed value.
    pub value: T,
    /// The body as received.
    pub raw: Bytes,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" {
            return Err(ApiError::UnsupportedMediaType(if content_type.is_empty() {
                "send the body as application/json (no Content-Type was given)".into()
            } else {
                format!("send the body as application/json, not {content_type}")
            }));
        }
        let limit = req.extensions().get::<BodyLimit>().map_or(DEFAULT_JSON_LIMIT, |l| l.0);
        let raw = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::BadRequest(format!("could not read the body: {rejection}"))
            }
        })?;
        let value = parse(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

/// Parses JSON, naming the path of the first problem.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::BadRequest(format!("the body is not valid JSON for this request: {inner}"))
        } else {
            ApiError::BadRequest(format!("{path}: {inner}"))
        }
    })
}

/// The body limit in force for a route, set by the layer that enforces it, so the error can
/// say what it is.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);
