//! The post office's queue of answers to read by eye: replies whose tick boxes the scanner
//! could not read with certainty (two boxes marked, a correction, a faint mark, a stamp over
//! the boxes). A person at the site that scanned the reply looks at the page with the question
//! beside it and records which box is ticked, or that none is, or that they cannot tell either;
//! the answer is then the agency's as data (`read_by: post_office`), with a
//! `reply_answer_reviewed` event and its webhook.
//! Never guessed: until a person decides, the answer stays `needs_review`.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use hybridpost_core::{EventKind, LetterId, ReplyId, ScanPageId};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::scan::{self, ReplyRecord};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{IdPath, JsonBody, ListQuery, Page, RequestId, SiteCaller, paging};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::IntakeState;
use crate::answers::{AnswerBoxView, AnswerChoice, AnswerStatus, ReplyAnswer};
use crate::pages::reply_page_of;
use crate::review::Reviewer;

/// A reply whose answer a person must read.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnswerToReview {
    /// The reply.
    pub reply_id: ReplyId,
    /// The letter replied to.
    pub letter_id: LetterId,
    /// When the reply was received (UTC).
    pub received_at: String,
    /// Why the scanner was not certain (`several_marked`, `unclear_mark`, `ink_around_boxes`,
    /// `boxes_not_found`, `codes_not_found`, `page_unreadable`).
    pub reason: String,
    /// The same in words.
    pub detail: String,
    /// The question's choices, as printed beside the boxes.
    pub choices: Vec<AnswerChoice>,
    /// What the scanner measured in each box.
    pub boxes: Vec<AnswerBoxView>,
    /// The scanned page with the boxes, when it is known.
    pub page_id: Option<ScanPageId>,
    /// Its image (PNG), small; the console shows it large.
    pub thumbnail_url: Option<String>,
}

/// What a person read on the page: the choice ticked, or `null` when no box is ticked; or
/// that they cannot tell either (`"cannot_tell": true`), which leaves the answer to the
/// agency, who reads the scan.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDecision {
    /// The choice ticked (from 1, as listed in `choices`), or `null`: no box is ticked.
    #[schema(minimum = 1, maximum = 255)]
    #[serde(default, deserialize_with = "hybridpost_core::whole_number::option")]
    pub choice: Option<u8>,
    /// The person cannot tell which box is meant either (`choice` must then be `null`).
    #[serde(default)]
    pub cannot_tell: bool,
}

/// What a person read on the page, as [`decide_answer`] takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadByEye {
    /// This choice is ticked.
    Choice(u8),
    /// No box is ticked.
    NoBox,
    /// The person cannot tell either.
    CannotTell,
}

/// A reply with an answer in review, as [`AnswerToReview`] shows it; `None` for one whose
/// answer does not read back (written by this service, so a bug).
pub async fn answer_to_review(state: &IntakeState, reply: &ReplyRecord) -> Result<Option<AnswerToReview>, ApiError> {
    let Some(answer) = reply.answer.as_deref().and_then(|a| serde_json::from_str::<ReplyAnswer>(a).ok()) else {
        return Ok(None);
    };
    let page_id = page_with_boxes(state, reply, answer.page).await?;
    Ok(Some(AnswerToReview {
        reply_id: reply.reply_id,
        letter_id: reply.letter_id,
        received_at: reply.created_at.clone(),
        reason: answer.reason.clone().unwrap_or_default(),
        detail: answer.detail.clone().unwrap_or_default(),
        choices: answer.choices,
        boxes: answer.boxes,
        page_id,
        thumbnail_url: page_id.map(|p| format!("/v1/review/{p}/thumbnail")),
    }))
}

/// The scanned page of `reply` carrying reply page `page` (1 when not known).
async fn page_with_boxes(
    state: &IntakeState,
    reply: &ReplyRecord,
    page: Option<u8>,
) -> Result<Option<ScanPageId>, ApiError> {
    let wanted = page.unwrap_or(1);
    let mut conn = state.store.read().await?;
    let pages = scan::reply_pages(&mut conn, reply.reply_id).await?;
    Ok(pages.iter().find(|p| reply_page_of(p).is_some_and(|(page, _)| page == wanted)).map(|p| p.page.page_id))
}

/// The site's replies whose answer a person must read, oldest first.
#[utoipa::path(
    get, path = "/v1/review/answers", tag = "review",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of answers to read", body = Page<AnswerToReview>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn list_answers(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    uri: Uri,
) -> Result<Json<Page<AnswerToReview>>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<ReplyId>()?;
    let replies = {
        let mut conn = state.store.read().await?;
        scan::answers_to_review(&mut conn, caller.site_id, request.after, request.limit).await?
    };
    // The cursor follows the rows read, so that a row that does not read back is passed over.
    let Page { next_cursor, .. } = request.page(&replies, |r| r.reply_id, |_| ());
    let mut items = Vec::with_capacity(replies.len());
    for reply in &replies {
        if let Some(item) = answer_to_review(&state, reply).await? {
            items.push(item);
        }
    }
    Ok(Json(Page { items, next_cursor }))
}

/// Records the answer a person read on a reply in review.
#[utoipa::path(
    post, path = "/v1/review/answers/{reply_id}", tag = "review",
    params(("reply_id" = ReplyId, Path, description = "The reply")),
    request_body = AnswerDecision,
    responses(
        (status = 200, description = "The answer as the agency now sees it", body = ReplyAnswer),
        (status = 404, description = "No such reply at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its answer is not in review (read by the scanner, or decided already)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A choice the question does not have", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn decide_answer_api(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    IdPath(reply_id): IdPath<ReplyId>,
    RequestId(request_id): RequestId,
    body: JsonBody<AnswerDecision>,
) -> Result<Json<ReplyAnswer>, ApiError> {
    let who = Reviewer { site_id: caller.site_id, by: caller.key_id.clone(), audit: None };
    // Whose reply it is comes first: another site's reply is not found, whatever the body.
    site_reply(&state, caller.site_id, reply_id).await?;
    let read = match (body.value.choice, body.value.cannot_tell) {
        (Some(c), false) => ReadByEye::Choice(c),
        (None, false) => ReadByEye::NoBox,
        (None, true) => ReadByEye::CannotTell,
        (Some(_), true) => {
            let mut errors = hybridpost_core::ValidationErrors::default();
            errors.add("cannot_tell", "give a choice or cannot_tell, not both");
            return Err(ApiError::Validation(errors));
        }
    };
    decide_answer(&state, &who, reply_id, read, request_id.as_deref()).await.map(Json)
}

/// One of the site's replies, or 404.
async fn site_reply(
    state: &IntakeState,
    site_id: hybridpost_core::SiteId,
    reply_id: ReplyId,
) -> Result<ReplyRecord, ApiError> {
    let mut conn = state.store.read().await?;
    scan::site_reply(&mut conn, site_id, reply_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no reply {reply_id} at this site")))
}

/// Records what a person `read` on `reply_id`, a reply of `who`'s site whose answer is in
/// review, for the API and the console alike.
pub async fn decide_answer(
    state: &IntakeState,
    who: &Reviewer,
    reply_id: ReplyId,
    read: ReadByEye,
    request_id: Option<&str>,
) -> Result<ReplyAnswer, ApiError> {
    let choice = match read {
        ReadByEye::Choice(c) => Some(c),
        ReadByEye::NoBox | ReadByEye::CannotTell => None,
    };
    let reply = site_reply(state, who.site_id, reply_id).await?;
    let not_in_review = || ApiError::Conflict {
        kind: "answer-not-in-review",
        detail: format!("the answer of reply {reply_id} is not waiting for a person to read it"),
    };
    if reply.answer_status.as_deref() != Some("needs_review") {
        return Err(not_in_review());
    }
    let before: ReplyAnswer = reply
        .answer
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .ok_or_else(|| ApiError::internal(format!("the answer of reply {reply_id} does not read back")))?;
    if let Some(c) = choice
        && !before.choices.iter().any(|x| x.choice == c)
    {
        let mut errors = hybridpost_core::ValidationErrors::default();
        errors.add("choice", format!("the question has choices 1 to {}", before.choices.len()));
        return Err(ApiError::Validation(errors));
    }
    let scanner = before.detail.clone().unwrap_or_default();
    let after = match read {
        ReadByEye::CannotTell => ReplyAnswer {
            reason: Some("unclear_to_person".into()),
            detail: Some(format!(
                "a person at the post office could not tell which box is meant either; read the scan (the scanner \
                 had said: {scanner})"
            )),
            read_by: Some("post_office".into()),
            ..before
        },
        ReadByEye::Choice(_) | ReadByEye::NoBox => ReplyAnswer {
            status: if choice.is_some() { AnswerStatus::Answered } else { AnswerStatus::NoAnswer },
            choice,
            confidence: 1.0,
            reason: None,
            detail: Some(format!("read by a person at the post office; the scanner had said: {scanner}")),
            read_by: Some("post_office".into()),
            ..before
        },
    };
    // Left to the agency, it leaves the queue.
    let status = if read == ReadByEye::CannotTell { "not_read" } else { after.queue_status() };
    let json = serde_json::to_string(&after).map_err(ApiError::internal)?;
    let letter = {
        let mut conn = state.store.read().await?;
        hybridpost_store::letters::get_letter_any_agency(&mut conn, reply.letter_id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("reply {reply_id} names no letter")))?
    };
    let mut tx = state.store.begin().await?;
    if !scan::set_reviewed_answer(&mut tx, reply_id, &json, status).await? {
        return Err(not_in_review());
    }
    let event = events::append_event(
        &mut tx,
        NewEvent {
            agency_id: letter.agency_id,
            letter_id: letter.letter_id,
            kind: EventKind::ReplyAnswerReviewed,
            status: letter.status,
            detail: Some(json!({
                "reply_id": reply_id,
                "answer": {"status": after.status, "choice": after.choice, "confidence": after.confidence,
                           "reason": after.reason, "read_by": after.read_by},
            })),
            request_id: request_id.map(str::to_owned),
        },
    )
    .await?;
    queue_event_webhooks(&mut tx, &[event]).await.map_err(ApiError::internal)?;
    hybridpost_store::people::append_step_audit(&mut tx, who.audit.as_ref(), &reply_id.to_string()).await?;
    tx.commit().await?;
    tracing::info!(
        reply.id = %reply_id, site.id = %who.site_id, by = %who.by,
        "the answer of reply {reply_id} was read by a person: {read:?}"
    );
    Ok(after)
}
