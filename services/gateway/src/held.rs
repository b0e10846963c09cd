//! Held letters: `POST /v1/letters/{letter_id}/retry` puts a letter whose render failed back
//! into its print site's queue, and a cancelled letter's event says what held it.
//!
//! A retry prints the letter as it was accepted; it does not take a replacement PDF. The seal
//! on a letter signs a digest of its content and of the agency's PDF, and that seal is already
//! out: in the proof the agency downloaded (`GET /v1/letters/{id}/pdf`) and, for a digital
//! letter that fell back to paper, in the citizen's digital copy. Re-sealing the same letter
//! over other content would leave two genuine seals for one reference and two different
//! documents, and Thai correspondence practice does not amend an issued letter either: a
//! corrected letter is a new letter. So a PDF that is wrong is cancelled (the `cancelled` event
//! records what held it) and sent again as a new letter; retry is for a failure on our side or
//! in storage (a PDF that passed the upload check but could not be laid out, a blob restored
//! from backup), fixed by the operator, after which the same sealed letter prints.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use hybridpost_core::LetterId;
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::held::{self, RetryError};
use hybridpost_store::{AnyConnection, Result as StoreResult, letters, now_text};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, IdPath, RequestId};

use crate::AppState;
use crate::letters::LetterSummary;

/// Print a held letter again.
///
/// For a letter whose render failed (a `render_failed` event; it stays `queued_for_print`,
/// held out of batches): after the cause is fixed, it goes into its site's next batch, with a
/// `print_retried` event. It prints as accepted and sealed: the request takes no body, and a
/// letter whose PDF must change is cancelled and sent again as a new letter.
#[utoipa::path(
    post, path = "/v1/letters/{letter_id}/retry", tag = "letters",
    params(("letter_id" = LetterId, Path, description = "The letter's id")),
    responses(
        (status = 200, description = "Back in the print queue", body = LetterSummary),
        (status = 400, description = "A body was sent (a sealed letter's content cannot be replaced)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter for this agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The letter is not held after a failed render", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn retry_letter(
    State(state): State<AppState>,
    caller: AgencyCaller,
    headers: HeaderMap,
    IdPath(letter_id): IdPath<LetterId>,
    RequestId(request_id): RequestId,
) -> Result<Json<LetterSummary>, ApiError> {
    // A body is refused rather than ignored: an agency sending a new `document_id` must not
    // think its letter was changed.
    let has_body = headers.contains_key(header::CONTENT_TYPE)
        || headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|n| n.as_bytes() != b"0");
    if has_body {
        return Err(ApiError::BadRequest(
            "retry takes no body: a letter prints as it was sealed, so its content and PDF cannot be replaced; \
             cancel it and send a new letter with the new document_id"
                .into(),
        ));
    }
    let request_id = request_id.as_deref();
    let mut tx = state.store.begin().await?;
    // Only a letter of the caller's agency and mode.
    letters::get_letter(&mut tx, caller.scope(), letter_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no letter {letter_id}")))?;
    let event = held::retry_render(&mut tx, caller.agency_id, letter_id, request_id, &now_text()).await.map_err(
        |e| match e {
            RetryError::NotFound => ApiError::NotFound(format!("no letter {letter_id}")),
            RetryError::NotHeld { .. } => ApiError::Conflict { kind: "letter-not-held", detail: e.to_string() },
            RetryError::Store(e) if e.is_unique_violation() => ApiError::Conflict {
                kind: "letter-changed",
                detail: "the letter changed while it was being retried; read it and try again".into(),
            },
            RetryError::Store(e) => e.into(),
        },
    )?;
    queue_event_webhooks(&mut tx, &[event]).await?;
    let record = letters::get_letter(&mut tx, caller.scope(), letter_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no letter {letter_id}")))?;
    tx.commit().await?;
    tracing::info!(letter.id = %letter_id, "held letter {letter_id} retried");
    Ok(Json(LetterSummary::from(&record)))
}

/// Clears a letter's standing alarms before it is cancelled, and gives the detail of its
/// `cancelled` event: what held it, so the timeline says why the letter never went out.
pub(crate) async fn release_for_cancel(
    conn: &mut AnyConnection,
    letter_id: LetterId,
) -> StoreResult<Option<serde_json::Value>> {
    let cleared = held::clear(conn, &[letter_id], None, &now_text()).await?;
    if cleared.is_empty() {
        return Ok(None);
    }
    let held: Vec<serde_json::Value> = cleared
        .iter()
        .map(|(_, reason, detail, since)| serde_json::json!({"reason": reason, "detail": detail, "since": since}))
        .collect();
    Ok(Some(serde_json::json!({"held": held})))
}
