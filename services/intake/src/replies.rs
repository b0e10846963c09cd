//! `/v1/letters/{letter_id}/replies` and `/v1/replies/{reply_id}/pdf`: an agency reads the
//! replies to its own letters.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use hybridpost_core::{LetterId, ReplyId, ReplySource, ScanId};
use hybridpost_store::scan::{self, ReplyRecord};
use hybridpost_store::{BlobKey, letters};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, Download, IdPath, ListQuery, Page, paging};
use serde::{Deserialize, Serialize};

use crate::IntakeState;
use crate::answers::ReplyAnswer;

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
    pub source: ReplySource,
    /// Where to download the PDF.
    pub pdf_url: String,
    /// SHA-256 of the PDF.
    pub pdf_sha256: String,
    /// The answer read from the reply sheet's tick boxes; absent when the letter asks no
    /// question or the reply was assigned by hand.
    pub answer: Option<ReplyAnswer>,
    /// Until when (UTC) the reply waits for its missing pages, which may come in a later upload
    /// at the same site; the `reply_received` event and e-mail come when it is complete or this
    /// time has passed. Absent once the agency was told.
    pub waiting_until: Option<String>,
}

impl From<&ReplyRecord> for ReplyView {
    fn from(r: &ReplyRecord) -> Self {
        ReplyView {
            pdf_url: format!("/v1/replies/{}/pdf", r.reply_id),
            reply_id: r.reply_id,
            letter_id: r.letter_id,
            scan_id: r.scan_id,
            received_at: r.created_at.clone(),
            pages: r.page_count,
            missing_pages: r.missing_pages.clone(),
            out_of_order: r.out_of_order,
            source: r.source,
            pdf_sha256: r.pdf_sha256.clone(),
            // Written by this service; a row it cannot read back shows no answer.
            answer: r.answer.as_deref().and_then(|a| serde_json::from_str(a).ok()),
            waiting_until: r.waiting_until.clone(),
        }
    }
}

/// The replies to one of the agency's letters, oldest first.
#[utoipa::path(
    get, path = "/v1/letters/{letter_id}/replies", tag = "replies",
    params(("letter_id" = LetterId, Path, description = "The letter"), ListQuery),
    responses(
        (status = 200, description = "A page of replies", body = Page<ReplyView>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an agency key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter of this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn letter_replies(
    State(state): State<IntakeState>,
    caller: AgencyCaller,
    IdPath(letter_id): IdPath<LetterId>,
    uri: Uri,
) -> Result<Json<Page<ReplyView>>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<ReplyId>()?;
    let mut conn = state.store.read().await?;
    letters::get_letter(&mut conn, caller.scope(), letter_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no letter {letter_id}")))?;
    // A letter has a few replies: they are read whole and paged here, in id (arrival) order.
    let mut replies = scan::letter_replies(&mut conn, caller.scope(), letter_id).await?;
    replies.sort_by_key(|r| r.reply_id);
    let rows: Vec<&ReplyRecord> = replies
        .iter()
        .filter(|r| request.after.is_none_or(|after| r.reply_id > after))
        .take(usize::try_from(request.limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(request.page(&rows, |r| r.reply_id, |r| ReplyView::from(*r))))
}

/// A reply as a PDF: the scanned pages, upright, reply-sheet pages in order.
#[utoipa::path(
    get, path = "/v1/replies/{reply_id}/pdf", tag = "replies",
    params(("reply_id" = ReplyId, Path, description = "The reply")),
    responses(
        (status = 200, description = "The PDF", body = hybridpost_web::openapi::PdfFile, content_type = "application/pdf"),
        (status = 404, description = "No such reply to this agency's letters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn reply_pdf(
    State(state): State<IntakeState>,
    caller: AgencyCaller,
    IdPath(id): IdPath<ReplyId>,
) -> Result<Response, ApiError> {
    let reply = {
        let mut conn = state.store.read().await?;
        scan::get_reply(&mut conn, caller.scope(), id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no reply {id}")))?
    };
    let key = BlobKey::parse(&reply.pdf_blob).map_err(ApiError::internal)?;
    let (file, len) = state
        .blobs
        .open(&key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("the PDF of reply {id} is missing from storage")))?;
    Download::pdf().attachment(&format!("reply-{id}.pdf")).length(len).etag(Some(&reply.pdf_sha256)).stream(file)
}
