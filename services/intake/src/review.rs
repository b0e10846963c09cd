//! `/v1/review`: the pages of a site's batches that nobody could match. An operator assigns a
//! page (with the pages that go with it) to a letter by the reference printed on it, or
//! discards it with a reason. A page leaves the queue only by one of the two.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use hybridpost_core::{
    LetterId, PageOutcome, ReplyId, ReplySource, ReturnReason, ScanMode, ScanPageId, SiteId, ValidationErrors,
};
use hybridpost_seal::Reference;
use hybridpost_store::letters::LetterRecord;
use hybridpost_store::people::NewAudit;
use hybridpost_store::scan::{self, ReplyRecord, ScanPageRecord};
use hybridpost_store::{BlobKey, now_text};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{Download, IdPath, JsonBody, ListQuery, Page, RequestId, SiteCaller, paging};
use serde::{Deserialize, Serialize};

use crate::IntakeState;
use crate::matching::{
    ReturnRecorded, build_reply_pdf, letter_by_reference, load_page_images, record_reply, record_return,
};

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
        /// The reference printed on the page: in digits as on the reply sheet (groups of five;
        /// spaces and dashes allowed, Thai digits too), or in letters and digits as under the
        /// letter's seal (`RXIK-LETO-V54T-K357-NPLA`).
        #[schema(
            min_length = 1,
            max_length = 80,
            pattern = "^[0-9\\u0E50-\\u0E59A-Za-z -]*[0-9\\u0E50-\\u0E59A-Za-z][0-9\\u0E50-\\u0E59A-Za-z -]*$"
        )]
        reference: String,
        /// Other pages in review that go with it (a reply's following pages).
        #[serde(default)]
        with_pages: Vec<ScanPageId>,
    },
    /// The page is not a reply or a returned letter (a blank sheet, an envelope, a page of
    /// something else).
    Discard {
        /// Why, for the record.
        #[schema(schema_with = discard_reason_schema)]
        reason: String,
    },
}

fn discard_reason_schema() -> utoipa::openapi::Object {
    hybridpost_core::schema::line_schema(MAX_REASON)
}

/// What a decision did.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewResult {
    /// The pages decided.
    pub page_ids: Vec<ScanPageId>,
    /// `assigned` or `discarded`.
    pub outcome: PageOutcome,
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

async fn site_page(state: &IntakeState, site_id: SiteId, page_id: ScanPageId) -> Result<ScanPageRecord, ApiError> {
    let mut conn = state.store.read().await?;
    scan::get_page(&mut conn, site_id, page_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no scanned page {page_id} at this site")))
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
    IdPath(page_id): IdPath<ScanPageId>,
) -> Result<Response, ApiError> {
    let page = site_page(&state, caller.site_id, page_id).await?;
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
    Download::new("image/png").cache_control("private, max-age=3600").body(png)
}

/// Decide on a page in review: assign it to a letter by its printed reference, or discard it.
#[utoipa::path(
    post, path = "/v1/review/{page_id}", tag = "review",
    params(("page_id" = ScanPageId, Path, description = "The page")),
    request_body = ReviewDecision,
    responses(
        (status = 200, description = "Decided", body = ReviewResult),
        (status = 404, description = "No such page at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A page is no longer in review, or the letter's state does not allow it (a letter not yet out cannot be returned)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad reference, or no letter has it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn decide_review(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    IdPath(page_id): IdPath<ScanPageId>,
    RequestId(request_id): RequestId,
    body: JsonBody<ReviewDecision>,
) -> Result<Json<ReviewResult>, ApiError> {
    let who = Reviewer { site_id: caller.site_id, by: caller.key_id.clone(), audit: None };
    decide(&state, &who, page_id, body.value, request_id.as_deref()).await.map(Json)
}

/// Who decides on pages in review: a site's API key, or a person in the console (whose audit
/// line commits with the decision).
#[derive(Clone, Debug)]
pub struct Reviewer {
    /// The site whose queue it is.
    pub site_id: SiteId,
    /// Recorded on the page as who decided: an API key's id, or `person:{id}`.
    pub by: String,
    /// A person's audit-log line (its target is set to the page id).
    pub audit: Option<NewAudit>,
}

/// Decides on a page of `who`'s site in review, for the API and the console alike.
pub async fn decide(
    state: &IntakeState,
    who: &Reviewer,
    page_id: ScanPageId,
    decision: ReviewDecision,
    request_id: Option<&str>,
) -> Result<ReviewResult, ApiError> {
    let first = site_page(state, who.site_id, page_id).await?;
    if first.outcome != PageOutcome::Review {
        return Err(not_in_review(&first));
    }
    match decision {
        ReviewDecision::Discard { reason } => discard_page(state, who, first, &reason).await,
        ReviewDecision::Assign { reference, with_pages } => {
            assign_pages(state, who, first, &reference, with_pages, request_id).await
        }
    }
}

/// The letter a reference typed from a page names, whatever its agency: for showing whose it
/// is before the page is assigned. A reference that is not well formed is a 422 for `reference`.
pub async fn letter_for_reference(state: &IntakeState, text: &str) -> Result<Option<LetterRecord>, ApiError> {
    let reference = parse_reference(text)?;
    let mut conn = state.store.read().await?;
    letter_by_reference(&mut conn, &reference).await.map_err(internal)
}

/// The reply sheet prints the reference in digits, the letter under its seal in groups of
/// letters and digits: the operator types whichever the page shows.
fn parse_reference(text: &str) -> Result<Reference, ApiError> {
    match Reference::parse_digits(text) {
        Ok(reference) => Ok(reference),
        Err(e) => Reference::parse_human(text).ok_or_else(|| {
            let mut errors = ValidationErrors::default();
            errors.add("reference", format!("{e}; nor is it a reference in letters and digits (XXXX-XXXX-…)"));
            ApiError::Validation(errors)
        }),
    }
}

fn not_in_review(p: &ScanPageRecord) -> ApiError {
    ApiError::Conflict {
        kind: "page-not-in-review",
        detail: format!("page {} is not in review (it is {})", p.page.page_id, p.outcome),
    }
}

/// The page is not a reply or a returned letter: it leaves the queue with the reason.
async fn discard_page(
    state: &IntakeState,
    who: &Reviewer,
    page: ScanPageRecord,
    reason: &str,
) -> Result<ReviewResult, ApiError> {
    let reason = reason.trim();
    let mut errors = ValidationErrors::default();
    errors.text("reason", reason, MAX_REASON);
    if errors.is_empty() {
        hybridpost_core::schema::check_letter_chars(&mut errors, "reason", reason);
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page_id = page.page.page_id;
    let mut tx = state.store.begin().await?;
    let decided =
        scan::resolve_review(&mut tx, page_id, PageOutcome::Discarded, None, None, Some(reason), &who.by, &now_text())
            .await?;
    if !decided {
        return Err(not_in_review(&page));
    }
    hybridpost_store::people::append_step_audit(&mut tx, who.audit.as_ref(), &page_id.to_string()).await?;
    tx.commit().await?;
    tracing::info!(page.id = %page_id, "scanned page {page_id} discarded in review");
    Ok(ReviewResult { page_ids: vec![page_id], outcome: PageOutcome::Discarded, letter_id: None, reply_id: None })
}

/// The pages in review that `first` leads, read and checked: each in review, none twice.
async fn pages_to_assign(
    state: &IntakeState,
    site_id: SiteId,
    first: ScanPageRecord,
    with_pages: Vec<ScanPageId>,
) -> Result<Vec<ScanPageRecord>, ApiError> {
    if with_pages.len() >= MAX_ASSIGNED {
        return Err(ApiError::BadRequest(format!("at most {MAX_ASSIGNED} pages can be assigned together")));
    }
    let mut pages = vec![first];
    for id in with_pages {
        let page = site_page(state, site_id, id).await?;
        if page.outcome != PageOutcome::Review {
            return Err(not_in_review(&page));
        }
        if pages.iter().any(|p| p.page.page_id == page.page.page_id) {
            return Err(ApiError::BadRequest(format!("page {id} is named twice")));
        }
        pages.push(page);
    }
    Ok(pages)
}

/// The pages belong to the letter whose reference is printed on them: a reply in a batch of
/// replies, the letter returned in a batch of returns.
async fn assign_pages(
    state: &IntakeState,
    who: &Reviewer,
    first: ScanPageRecord,
    reference: &str,
    with_pages: Vec<ScanPageId>,
    request_id: Option<&str>,
) -> Result<ReviewResult, ApiError> {
    let reference = parse_reference(reference)?;
    let pages = pages_to_assign(state, who.site_id, first, with_pages).await?;
    let (letter, batch) = {
        let mut conn = state.store.read().await?;
        let letter = letter_by_reference(&mut conn, &reference).await.map_err(internal)?.ok_or_else(|| {
            let mut errors = ValidationErrors::default();
            errors.add("reference", "no letter has this reference; check the digits on the page");
            ApiError::Validation(errors)
        })?;
        let batch = scan::get_scan(&mut conn, Some(who.site_id), pages[0].page.scan_id)
            .await?
            .ok_or_else(|| ApiError::internal("a page without its batch"))?;
        (letter, batch)
    };
    let now = now_text();
    let mut tx = state.store.begin().await?;
    let mut reply_id = None;
    match batch.mode {
        ScanMode::Replies => {
            if pages.iter().any(|p| p.page.image_blob.is_none()) {
                return Err(ApiError::Conflict {
                    kind: "page-not-decoded",
                    detail: "a page that could not be decoded cannot be part of a reply; scan it again".into(),
                });
            }
            let records: Vec<&ScanPageRecord> = pages.iter().collect();
            let images = load_page_images(state, &records).await.map_err(internal)?;
            let pdf = build_reply_pdf(state, ReplyId::new(), images).await.map_err(internal)?;
            let reply = ReplyRecord {
                reply_id: pdf.reply_id,
                letter_id: letter.letter_id,
                agency_id: letter.agency_id,
                scan_id: batch.scan_id,
                site_id: batch.site_id,
                page_count: i64::try_from(pages.len()).unwrap_or(i64::MAX),
                missing_pages: Vec::new(),
                out_of_order: false,
                source: ReplySource::Review,
                pdf_blob: pdf.key,
                pdf_sha256: pdf.sha256,
                pdf_bytes: pdf.bytes,
                created_at: now.clone(),
                // Pages assigned by hand had unreadable codes, which the answer boxes are
                // found by: the agency reads the answer in the PDF.
                answer: None,
                waiting_until: None,
                answer_status: None,
            };
            record_reply(&mut tx, &letter, &reply, None, request_id).await.map_err(internal)?;
            reply_id = Some(reply.reply_id);
        }
        ScanMode::Returns => {
            let reason: ReturnReason = batch
                .return_reason
                .as_deref()
                .and_then(|r| r.parse().ok())
                .ok_or_else(|| ApiError::internal("a batch of returns without a reason"))?;
            let ids: Vec<ScanPageId> = pages.iter().map(|p| p.page.page_id).collect();
            if let ReturnRecorded::Refused(why) =
                record_return(&mut tx, &letter, reason, &batch, &ids).await.map_err(internal)?
            {
                // The reference is right; the letter's state does not allow it.
                return Err(ApiError::Conflict { kind: "letter-not-returnable", detail: why });
            }
        }
    }
    for p in &pages {
        let decided = scan::resolve_review(
            &mut tx,
            p.page.page_id,
            PageOutcome::Assigned,
            Some(letter.letter_id),
            reply_id,
            None,
            &who.by,
            &now,
        )
        .await?;
        if !decided {
            return Err(not_in_review(p));
        }
    }
    let first = pages[0].page.page_id.to_string();
    hybridpost_store::people::append_step_audit(&mut tx, who.audit.as_ref(), &first).await?;
    tx.commit().await?;
    tracing::info!(letter.id = %letter.letter_id, pages = pages.len(), "scanned pages assigned in review");
    Ok(ReviewResult {
        page_ids: pages.iter().map(|p| p.page.page_id).collect(),
        outcome: PageOutcome::Assigned,
        letter_id: Some(letter.letter_id),
        reply_id,
    })
}

fn internal(e: anyhow::Error) -> ApiError {
    ApiError::internal(e)
}

/// A page of this site as a PNG no larger than `max_side` pixels on its longer side, upright:
/// the stored image put back into a one-page PDF as the reply PDFs are (nothing re-encoded),
/// read again the way uploads are, and scaled. For the console's review queue, where a
/// thumbnail is too small to read a printed reference from. `None` for a page with no image.
pub async fn page_preview(
    state: &IntakeState,
    page: &ScanPageRecord,
    max_side: u32,
) -> anyhow::Result<Option<Vec<u8>>> {
    let (Some(blob), Some(meta)) = (&page.page.image_blob, &page.page.image_meta) else { return Ok(None) };
    let Some(bytes) = state.blobs.get(&BlobKey::parse(blob)?).await? else { return Ok(None) };
    let meta: serde_json::Value = serde_json::from_str(meta)?;
    let (image, dpi) = crate::pages::stored_image(bytes, &meta).map_err(anyhow::Error::msg)?;
    let turns = u8::try_from(page.page.quarter_turns.rem_euclid(4)).unwrap_or(0);
    let limits = state.config.limits.clone();
    let png = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let pdf = hybridpost_scan::document::pages_pdf(&[hybridpost_scan::document::PdfPage {
            image: &image,
            dpi,
            quarter_turns: 0,
        }])
        .map_err(|e| anyhow::anyhow!("{}", e.0))?;
        let mut reader = hybridpost_scan::input::open("page.pdf", pdf, &limits).map_err(|e| anyhow::anyhow!("{e}"))?;
        let decoded = anyhow::Context::context(reader.next(), "the page's PDF has no page")?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(hybridpost_scan::document::thumbnail_png(&decoded.image, max_side, turns))
    })
    .await??;
    Ok(Some(png))
}
