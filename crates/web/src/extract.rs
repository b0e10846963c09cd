//! Extractors every service uses: a path's id, parsed once (anything that is not an id of its
//! kind is a 404, as a missing one is), and the request's id.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use hybridpost_core::{BatchId, DocumentId, EndpointId, LetterBatchId, LetterId, ReplyId, ScanId, ScanPageId};

use crate::layers::REQUEST_ID;
use crate::problem::ApiError;

/// An id type that can stand in a path, with the noun a 404 names.
pub trait PathId: std::str::FromStr + Send {
    /// What the id names, for "no letter …".
    const NOUN: &'static str;
}

macro_rules! path_ids {
    ($($id:ty => $noun:literal),+ $(,)?) => {
        $(impl PathId for $id {
            const NOUN: &'static str = $noun;
        })+
    };
}

path_ids! {
    LetterId => "letter",
    BatchId => "batch",
    ScanId => "scan batch",
    ScanPageId => "page",
    ReplyId => "reply",
    DocumentId => "document",
    EndpointId => "webhook endpoint",
    LetterBatchId => "letter batch",
}

/// The route's one path parameter as an id: `IdPath(letter_id): IdPath<LetterId>`. A value
/// that is not such an id answers 404 `no letter "…"`, like an id that names nothing.
#[derive(Clone, Copy, Debug)]
pub struct IdPath<T>(pub T);

impl<S: Send + Sync, T: PathId> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        raw.parse()
            .map(IdPath)
            .map_err(|_| ApiError::NotFound(format!("no {} {}", T::NOUN, hybridpost_core::quoted(&raw))))
    }
}

/// The request's id (`x-request-id`, set by the common layers), to record with what it causes.
#[derive(Clone, Debug, Default)]
pub struct RequestId(pub Option<String>);

impl RequestId {
    /// The id, when the request has one.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(parts.headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned)))
    }
}
