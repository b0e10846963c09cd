//! `/v1/letters/{letter_id}/replies` and `/v1/replies/{reply_id}/pdf`: an agency reads the
//! replies to its own letters.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{LetterId, ReplyId, ScanId};
use hybridpost_store::scan::{self, ReplyRecord};
use hybridpost_store::{BlobKey, letters};
use hybridpost_web::AgencyCaller;
use hybridpost_web::problem::{ApiError, Problem};
use serde::{Deserialize, Serialize};

use crate::IntakeState;

/// A citizen's reply to a letter.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyView {
    /// The reply.
    pub reply_id: ReplyId,
    /// The letter replied to.
    pub letter_id: LetterId,
    /// The scan batch it came in.
    pub scan_id: ScanId,
    /// When it was received (UTC).
    pub received_at: String,
    /// Pages of its PDF.
    pub pages: i64,
    /// Pages of the reply sheet that did not arrive.
    pub missing_pages: Vec<i64>,
    /// The reply sheet's pages arrived out of order (the PDF has them in order).
    pub out_of_order: bool,
    /// `scan` (matched by its codes) or `review` (assigned by a post-office operator).
    pub source: String,
    /// Where to download the PDF.
    pub pdf_url: String,
    /// SHA-256 of the PDF.
    pub pdf_sha256: String,
}

impl From<ReplyRecord> for ReplyView {
    fn from(r: ReplyRecord) -> Self {
        ReplyView {
            pdf_url: format!("/v1/replies/{}/pdf", r.reply_id),
            reply_id: r.reply_id,
            letter_id: r.letter_id,
            scan_id: r.scan_id,
            received_at: r.created_at,
            pages: r.page_count,
            missing_pages: r.missing_pages,
            out_of_order: r.out_of_order,
            source: r.source,
            pdf_sha256: r.pdf_sha256,
        }
    }
}

/// The replies to one of the agency's letters, oldest first.
#[utoipa::path(
    get, path = "/v1/letters/{letter_id}/replies", tag = "replies",
    params(("letter_id" = LetterId, Path, description = "The letter")),
    responses(
        (status = 200, description = "The replies", body = Vec<ReplyView>),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an agency key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter of this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn letter_replies(
    State(state): State<IntakeState>,
    caller: AgencyCaller,
    Path(letter_id): Path<String>,
) -> Result<Json<Vec<ReplyView>>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no letter {letter_id}"));
    let id: LetterId = letter_id.parse().map_err(|_| not_found())?;
    let mut conn = state.store.read().await?;
    letters::get_letter(&mut conn, caller.scope(), id).await?.ok_or_else(not_found)?;
    let replies = scan::letter_replies(&mut conn, caller.scope(), id).await?;
    Ok(Json(replies.into_iter().map(ReplyView::from).collect()))
}

/// A reply as a PDF: the scanned pages, upright, reply-sheet pages in order.
#[utoipa::path(
    get, path = "/v1/replies/{reply_id}/pdf", tag = "replies",
    params(("reply_id" = ReplyId, Path, description = "The reply")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf"),
        (status = 404, description = "No such reply to this agency's letters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn reply_pdf(
    State(state): State<IntakeState>,
    caller: AgencyCaller,
    Path(reply_id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no reply {reply_id}"));
    let id: ReplyId = reply_id.parse().map_err(|_| not_found())?;
    let reply = {
        let mut conn = state.store.read().await?;
        scan::get_reply(&mut conn, caller.scope(), id).await?.ok_or_else(not_found)?
    };
    let key = BlobKey::parse(&reply.pdf_blob).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (file, len) = state
        .blobs
        .open(&key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal(format!("the PDF of reply {id} is missing from storage")))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024));
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let disposition = format!("attachment; filename=\"reply-{id}.pdf\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{}\"", reply.pdf_sha256)).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok((headers, body).into_response())
}
