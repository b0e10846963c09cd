//! `/v1/review`: the pages of a site's batches that nobody could match. An operator assigns a
//! page (with the pages that go with it) to a letter by the reference printed on it, or
//! discards it with a reason. A page leaves the queue only by one of the two.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{LetterId, ReplyId, ReturnReason, ScanPageId, ValidationErrors};
use hybridpost_scan::group::Mode;
use hybridpost_seal::Reference;
use hybridpost_store::scan::{self, ReplyRecord, ScanPageRecord};
use hybridpost_store::{BlobKey, now_text};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{JsonBody, ListQuery, Page, SiteCaller, paging};
use serde::{Deserialize, Serialize};

use crate::IntakeState;
use crate::matching::{build_reply_pdf, letter_by_reference, record_reply, record_return};

/// Largest page of the queue.
/// Most pages assigned together.
const MAX_ASSIGNED: usize = 50;
/// Longest discard reason.
const MAX_REASON: usize = 500;

/// A page waiting in review.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewItem {
    /// The page.
    pub page_id: ScanPageId,
    /// Its batch.
    pub scan_id: hybridpost_core::ScanId,
    /// Its file in the batch.
    pub file_index: i64,
    /// Its place in the file.
    pub page_number: i64,
    /// Why it is here (`no_code`, `damaged_code`, `unreadable`, `rejected_code`,
    /// `conflicting_codes`, `timed_out`, `follows_review`, `unknown_letter`, `letter_status`).
    pub reason: String,
    /// Why, in words.
    pub detail: String,
    /// A small picture of the page, upright (PNG); absent when the page could not be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// When it was scanned.
    pub created_at: String,
}

/// A page of the review queue, oldest first.
pub type ReviewList = Page<ReviewItem>;

/// An operator's decision on a page in review.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReviewDecision {
    /// The page belongs to the letter whose reference is printed on it (30 digits in groups of
    /// five, as on the reply sheet). In a batch of replies the page, with `with_pages` in that
    /// order after it, becomes a reply; in a batch of returns it marks the letter returned.
    Assign {
        /// The reference in digits (spaces and dashes allowed; Thai digits too).
        reference: String,
        /// Other pages in review that go with it (a reply's following pages).
        #[serde(default)]
        with_pages: Vec<ScanPageId>,
    },
    /// The page is not a reply or a returned letter (a blank sheet, an envelope, a page of
    /// something else).
    Discard {
        /// Why, for the record.
        reason: String,
    },
}

/// What a decision did.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewResult {
    /// The pages decided.
    pub page_ids: Vec<ScanPageId>,
    /// `assigned` or `discarded`.
    pub outcome: String,
    /// The letter, when assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter_id: Option<LetterId>,
    /// The reply made, when assigned in a batch of replies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<ReplyId>,
}

/// The site's pages waiting for a person, oldest first.
#[utoipa::path(
    get, path = "/v1/review", tag = "review",
    params(ListQuery),
    responses(
        (status = 200, description = "Pages in review", body = Page<ReviewItem>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a site key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn list_review(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    uri: Uri,
) -> Result<Json<ReviewList>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<ScanPageId>()?;
    let mut conn = state.store.read().await?;
    let pages = scan::review_pages(&mut conn, caller.site_id, request.after, request.limit).await?;
    Ok(Json(request.page(
        &pages,
        |p| p.page.page_id,
        |p| ReviewItem {
            page_id: p.page.page_id,
            scan_id: p.page.scan_id,
            file_index: p.page.file_index,
            page_number: p.page.page_number,
            reason: p.review_reason.clone().unwrap_or_default(),
            detail: p.review_detail.clone().unwrap_or_default(),
            thumbnail_url: p.page.thumbnail_blob.as_ref().map(|_| format!("/v1/review/{}/thumbnail", p.page.page_id)),
            created_at: p.created_at.clone(),
        },
    )))
}

async fn site_page(state: &IntakeState, caller: &SiteCaller, page_id: &str) -> Result<ScanPageRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("no scanned page {page_id} at this site"));
    let id: ScanPageId = page_id.parse().map_err(|_| not_found())?;
    let mut conn = state.store.read().await?;
    scan::get_page(&mut conn, caller.site_id, id).await?.ok_or_else(not_found)
}

/// A page's thumbnail (PNG, upright), for the review screen.
#[utoipa::path(
    get, path = "/v1/review/{page_id}/thumbnail", tag = "review",
    params(("page_id" = ScanPageId, Path, description = "The page")),
    responses(
        (status = 200, description = "The thumbnail", body = hybridpost_web::openapi::PngFile, content_type = "image/png"),
        (status = 404, description = "No such page at this site, or no thumbnail", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn review_thumbnail(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    Path(page_id): Path<String>,
) -> Result<Response, ApiError> {
    let page = site_page(&state, &caller, &page_id).await?;
    let key = page
        .page
        .thumbnail_blob
        .ok_or_else(|| ApiError::NotFound(format!("page {page_id} has no thumbnail: it could not be decoded")))?;
    let png = state
        .blobs
        .get(&BlobKey::parse(&key).map_err(ApiError::internal)?)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("the thumbnail of page {page_id} is missing from storage")))?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok((headers, png).into_response())
}

/// Decide on a page in review: assign it to a letter by its printed reference, or discard it.
#[utoipa::path(
    post, path = "/v1/review/{page_id}", tag = "review",
    params(("page_id" = ScanPageId, Path, description = "The page")),
    request_body = ReviewDecision,
    responses(
        (status = 200, description = "Decided", body = ReviewResult),
        (status = 404, description = "No such page at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A page is no longer in review", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reference, no such letter, or the letter cannot take it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn decide_review(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    headers: HeaderMap,
    Path(page_id): Path<String>,
    body: JsonBody<ReviewDecision>,
) -> Result<Json<ReviewResult>, ApiError> {
    let decision = body.value;
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let first = site_page(&state, &caller, &page_id).await?;
    let not_in_review = |p: &ScanPageRecord| ApiError::Conflict {
        kind: "page-not-in-review",
        detail: format!("page {} is not in review (it is {})", p.page.page_id, p.outcome),
    };
    if first.outcome != "review" {
        return Err(not_in_review(&first));
    }
    let now = now_text();
    match decision {
        ReviewDecision::Discard { reason } => {
            let reason = reason.trim();
            let mut errors = ValidationErrors::default();
            errors.text("reason", reason, MAX_REASON);
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let mut tx = state.store.begin().await?;
            if !scan::resolve_review(
                &mut tx,
                first.page.page_id,
                "discarded",
                None,
                None,
                Some(reason),
                &caller.key_id,
                &now,
            )
            .await?
            {
                return Err(not_in_review(&first));
            }
            tx.commit().await?;
            tracing::info!(page.id = %first.page.page_id, "scanned page {} discarded in review", first.page.page_id);
            Ok(Json(ReviewResult {
                page_ids: vec![first.page.page_id],
                outcome: "discarded".into(),
                letter_id: None,
                reply_id: None,
            }))
        }
        ReviewDecision::Assign { reference, with_pages } => {
            let reference = Reference::parse_digits(&reference).map_err(|e| {
                let mut errors = ValidationErrors::default();
                errors.add("reference", e.to_string());
                ApiError::Validation(errors)
            })?;
            if with_pages.len() >= MAX_ASSIGNED {
                return Err(ApiError::BadRequest(format!("at most {MAX_ASSIGNED} pages can be assigned together")));
            }
            let mut pages = vec![first];
            for id in with_pages {
                let page = site_page(&state, &caller, &id.to_string()).await?;
                if page.outcome != "review" {
                    return Err(not_in_review(&page));
                }
                if pages.iter().any(|p| p.page.page_id == page.page.page_id) {
                    return Err(ApiError::BadRequest(format!("page {id} is named twice")));
                }
                pages.push(page);
            }
            let letter = {
                let mut conn = state.store.read().await?;
                let letter = letter_by_reference(&mut conn, &reference).await.map_err(internal)?;
                letter.ok_or_else(|| {
                    let mut errors = ValidationErrors::default();
                    errors.add("reference", "no letter has this reference; check the digits on the page");
                    ApiError::Validation(errors)
                })?
            };
            let batch = {
                let mut conn = state.store.read().await?;
                scan::get_scan(&mut conn, Some(caller.site_id), pages[0].page.scan_id)
                    .await?
                    .ok_or_else(|| ApiError::internal("a page without its batch"))?
            };
            let mode = Mode::parse(&batch.mode).ok_or_else(|| ApiError::internal("a batch without a mode"))?;
            let mut tx = state.store.begin().await?;
            let mut reply_id = None;
            match mode {
                Mode::Replies => {
                    if pages.iter().any(|p| p.page.image_blob.is_none()) {
                        return Err(ApiError::Conflict {
                            kind: "page-not-decoded",
                            detail: "a page that could not be decoded cannot be part of a reply; scan it again".into(),
                        });
                    }
                    let records: Vec<&ScanPageRecord> = pages.iter().collect();
                    let pdf = build_reply_pdf(&state, &records).await.map_err(internal)?;
                    let reply = ReplyRecord {
                        reply_id: pdf.reply_id,
                        letter_id: letter.letter_id,
                        agency_id: letter.agency_id,
                        scan_id: batch.scan_id,
                        site_id: batch.site_id,
                        page_count: i64::try_from(pages.len()).unwrap_or(i64::MAX),
                        missing_pages: Vec::new(),
                        out_of_order: false,
                        source: "review".into(),
                        pdf_blob: pdf.key,
                        pdf_sha256: pdf.sha256,
                        pdf_bytes: pdf.bytes,
                        created_at: now.clone(),
                    };
                    record_reply(&mut tx, &letter, &reply, request_id.as_deref()).await.map_err(internal)?;
                    reply_id = Some(reply.reply_id);
                }
                Mode::Returns => {
                    let reason: ReturnReason = batch
                        .return_reason
                        .as_deref()
                        .and_then(|r| r.parse().ok())
                        .ok_or_else(|| ApiError::internal("a batch of returns without a reason"))?;
                    let ids: Vec<ScanPageId> = pages.iter().map(|p| p.page.page_id).collect();
                    if let Err(why) = record_return(&mut tx, &letter, reason, &batch, &ids).await.map_err(internal)? {
                        let mut errors = ValidationErrors::default();
                        errors.add("reference", why);
                        return Err(ApiError::Validation(errors));
                    }
                }
            }
            for p in &pages {
                if !scan::resolve_review(
                    &mut tx,
                    p.page.page_id,
                    "assigned",
                    Some(letter.letter_id),
                    reply_id,
                    None,
                    &caller.key_id,
                    &now,
                )
                .await?
                {
                    return Err(not_in_review(p));
                }
            }
            tx.commit().await?;
            tracing::info!(letter.id = %letter.letter_id, pages = pages.len(), "scanned pages assigned in review");
            Ok(Json(ReviewResult {
                page_ids: pages.iter().map(|p| p.page.page_id).collect(),
                outcome: "assigned".into(),
                letter_id: Some(letter.letter_id),
                reply_id,
            }))
        }
    }
}

fn internal(e: anyhow::Error) -> ApiError {
    ApiError::internal(e)
}
