//! Many letters at once: `POST /v1/letter-batches` and the console's mail merge.
//!
//! Every row is checked when the batch is submitted, and the batch is refused with every
//! problem of every row (`letters[16].recipient.address.postcode`) if any row has one: nothing
//! is sent until all rows are right. A batch that passes is stored with its rows and answered
//! at once (202); the batch worker then sends its rows through the same path as
//! `POST /v1/letters` (check, route, seal, group commit) and records each row's letter.
//!
//! A row is keyed by a SHA-256 of its letter as submitted. The transaction that stores a row's
//! letter also stores its key, once per agency and mode, so the same row is never sent twice:
//! not when the same file is uploaded again, not when a node stops halfway and another takes
//! the batch over. A repeated row is marked `sent_before` with the letter sent the first time.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{AgencyScope, FieldWarning, LetterBatchId, LetterId, NewLetter, PersonId, ValidationErrors};
use hybridpost_store::letter_batches::{self, BatchSource, BatchSummary, NewBatch, NewRow, RowState};
use hybridpost_store::{Store, now_text, timestamp_text};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, IdPath, JsonBody};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::letters::{Accepted, accept_letter, bangkok_today, check_letter};
use crate::writer::{PreparedLetter, RowMark, Written};

/// Most letters in one batch.
pub const MAX_BATCH_ROWS: usize = 10_000;
/// Largest request body of `POST /v1/letter-batches`: 10,000 letters of about 2 KiB each,
/// with room.
pub const MAX_BATCH_BODY_BYTES: usize = 48 * 1024 * 1024;
/// Letter batches read and checked at once by one process (each body up to
/// [`MAX_BATCH_BODY_BYTES`]); more wait, unread.
pub const BATCH_UPLOADS_AT_ONCE: usize = 2;
/// Rows sent at once by the worker: enough to fill the writer's group commits.
const ROWS_IN_FLIGHT: usize = 48;
/// Rows read from the database at a time.
const ROWS_PER_READ: i64 = 512;
/// How long a node holds a batch it works on without renewing: after that, another node
/// takes it over (the rows' keys keep it from sending a row twice).
const LEASE: Duration = Duration::from_secs(60);

/// Body of `POST /v1/letter-batches`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLetterBatch {
    /// The letters, 1 to 10,000, each as `POST /v1/letters` takes it. Problems are reported
    /// under `letters[i].…`, `i` counting from 0.
    #[schema(min_items = 1, max_items = 10000)]
    pub letters: Vec<NewLetter>,
    /// Hold every letter until then (as a letter's own `send_after`): an RFC 3339 time or a
    /// date, at most a year ahead. Until then the batch can be cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_after: Option<String>,
}

/// A batch row's state.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchRowState {
    /// Not sent yet.
    Pending,
    /// Sent as `letter_id`.
    Sent,
    /// The same letter was sent before (by an earlier row of this batch or of another): not sent
    /// again; `letter_id` is the letter sent then.
    SentBefore,
    /// Refused when it was sent; `error` says why.
    Refused,
    /// Not sent: the batch was cancelled before its time.
    Cancelled,
}

impl From<RowState> for BatchRowState {
    fn from(s: RowState) -> Self {
        match s {
            RowState::Pending => BatchRowState::Pending,
            RowState::Sent => BatchRowState::Sent,
            RowState::SentBefore => BatchRowState::SentBefore,
            RowState::Refused => BatchRowState::Refused,
            RowState::Cancelled => BatchRowState::Cancelled,
        }
    }
}

/// One row's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchRow {
    /// The row: its index in `letters` (from 0), or its spreadsheet row for the console's mail
    /// merge (the header is row 1).
    pub row: i64,
    /// Its state.
    pub state: BatchRowState,
    /// Its letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter_id: Option<LetterId>,
    /// How the letter goes (`print`, `digital`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The letter's status now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A batch and its progress.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LetterBatch {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub batch_id: uuid::Uuid,
    /// Sent with a test key.
    pub test: bool,
    /// `api` or `console`.
    pub source: String,
    /// `sending` until every row is sent or refused, then `done`; `cancelled` when it was
    /// cancelled before its time.
    pub status: String,
    /// Held until then (UTC), when it was sent with `send_after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_after: Option<String>,
    /// Rows in all.
    pub rows_total: i64,
    /// Rows not sent yet.
    pub pending: i64,
    /// Rows sent.
    pub sent: i64,
    /// Rows the same as a letter sent before, not sent again.
    pub sent_before: i64,
    /// Rows refused when sent.
    pub refused: i64,
    /// When it was submitted (UTC).
    pub created_at: String,
    /// When its last row was done (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Every row, in order (on `GET` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<BatchRow>>,
    /// What was accepted but is worth a look, by field (`letters[3].recipient.address.postcode`;
    /// `recipient.address.postcode` for a letter of `POST /v1/letters` held until later), on the
    /// answer to the request that stored the batch only. Names are in Thai script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldWarning>,
}

impl From<&BatchSummary> for LetterBatch {
    fn from(b: &BatchSummary) -> Self {
        LetterBatch {
            batch_id: b.batch_id,
            test: b.scope.test,
            source: b.source.clone(),
            status: b.status.clone(),
            send_after: b.not_before.clone(),
            rows_total: b.rows_total,
            pending: b.pending,
            sent: b.sent,
            sent_before: b.sent_before,
            refused: b.refused,
            created_at: b.created_at.clone(),
            finished_at: b.finished_at.clone(),
            rows: None,
            warnings: Vec::new(),
        }
    }
}

/// The key of a row: SHA-256 (hex) of its letter as JSON.
pub fn row_key(letter: &NewLetter) -> Result<(String, String), ApiError> {
    let content = serde_json::to_string(letter).map_err(ApiError::internal)?;
    Ok((hex::encode(Sha256::digest(content.as_bytes())), content))
}

/// Checks one row as `POST /v1/letters` would; its problems, field by field.
pub fn check_row(letter: &NewLetter, today: time::Date) -> ValidationErrors {
    check_row_with_warnings(letter, today).0
}

/// Checks one row as `POST /v1/letters` would: its problems and, when it has none, what was
/// accepted but is worth a look, field by field.
pub fn check_row_with_warnings(letter: &NewLetter, today: time::Date) -> (ValidationErrors, Vec<FieldWarning>) {
    match check_letter(letter, today) {
        Ok(checked) => (ValidationErrors::default(), checked.warnings),
        Err(ApiError::Validation(errors)) => (errors, Vec::new()),
        Err(other) => {
            let mut errors = ValidationErrors::default();
            errors.add("letter", other.to_string());
            (errors, Vec::new())
        }
    }
}

/// Stores a checked batch, all its rows pending, for the worker to send.
pub async fn submit(
    store: &Store,
    scope: AgencyScope,
    source: BatchSource,
    file_name: Option<String>,
    created_by: Option<PersonId>,
    rows: &[(i64, NewLetter)],
    not_before: Option<time::OffsetDateTime>,
) -> Result<uuid::Uuid, ApiError> {
    let mut new_rows = Vec::with_capacity(rows.len());
    for (row_number, letter) in rows {
        let (row_key, content) = row_key(letter)?;
        new_rows.push(NewRow { row_number: *row_number, row_key, content });
    }
    let batch = NewBatch {
        batch_id: uuid::Uuid::new_v4(),
        scope,
        source,
        file_name,
        created_by,
        rows: new_rows,
        created_at: now_text(),
        // A time already passed holds nothing.
        not_before: not_before.filter(|t| *t > time::OffsetDateTime::now_utc()).map(timestamp_text),
    };
    let mut tx = store.begin().await?;
    letter_batches::insert_batch(&mut tx, &batch).await?;
    tx.commit().await?;
    metrics::counter!("hybridpost_letter_batches_total", "source" => source.as_str()).increment(1);
    Ok(batch.batch_id)
}

/// Send many letters at once.
///
/// Every letter is checked first; if any has a problem, the batch is refused (422) with every
/// problem of every letter, under `letters[i].…`, and nothing is sent. Otherwise the batch is
/// stored and answered at once (202); its letters are sent in the background: follow them
/// with `GET /v1/letter-batches/{batch_id}`. A letter already sent from a batch (the same
/// content, for this agency and mode) is not sent again: submitting the same batch twice
/// sends nothing new.
#[utoipa::path(
    post, path = "/v1/letter-batches", tag = "letters",
    request_body = NewLetterBatch,
    responses(
        (status = 202, description = "Stored; its letters are being sent", body = LetterBatch),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Problems of the letters, all listed; nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn create_batch(
    State(state): State<AppState>,
    caller: AgencyCaller,
    body: JsonBody<NewLetterBatch>,
) -> Result<Response, ApiError> {
    let letters = body.value.letters.clone();
    if letters.is_empty() || letters.len() > MAX_BATCH_ROWS {
        let mut errors = ValidationErrors::default();
        errors.add("letters", format!("must hold 1 to {MAX_BATCH_ROWS} letters, not {}", letters.len()));
        return Err(ApiError::Validation(errors));
    }
    let today = bangkok_today();
    let (letters, errors, warnings) = tokio::task::spawn_blocking(move || {
        let mut all = ValidationErrors::default();
        let mut warnings = Vec::new();
        for (i, letter) in letters.iter().enumerate() {
            let (errors, row_warnings) = check_row_with_warnings(letter, today);
            for mut e in errors.0 {
                e.field = format!("letters[{i}].{}", e.field);
                all.0.push(e);
            }
            for mut w in row_warnings {
                w.field = format!("letters[{i}].{}", w.field);
                warnings.push(w);
            }
        }
        (letters, all, warnings)
    })
    .await
    .map_err(ApiError::internal)?;
    let mut errors = errors;
    let send_after = match body.value.send_after.as_deref() {
        None => None,
        Some(raw) => {
            // The batch's time is checked as a letter's own.
            let probe = NewLetter { send_after: Some(raw.to_owned()), ..letters[0].clone() };
            for e in check_row(&probe, today).0.into_iter().filter(|e| e.field == "send_after") {
                errors.0.push(e);
            }
            probe.send_after_time()
        }
    };
    if !errors.0.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let rows: Vec<(i64, NewLetter)> = letters.into_iter().enumerate().map(|(i, l)| (i as i64, l)).collect();
    let batch_id = submit(&state.store, caller.scope(), BatchSource::Api, None, None, &rows, send_after).await?;
    tracing::info!(batch.id = %batch_id, batch.rows = rows.len(), "letter batch {batch_id} of {} letters stored", rows.len());
    accepted(&state, caller.scope(), batch_id, warnings).await
}

/// A batch's progress and every row's outcome.
#[utoipa::path(
    get, path = "/v1/letter-batches/{batch_id}", tag = "letters",
    params(("batch_id" = String, Path, format = Uuid, description = "The batch's id")),
    responses(
        (status = 200, description = "The batch", body = LetterBatch),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch for this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn get_batch(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(batch_id): IdPath<LetterBatchId>,
) -> Result<Json<LetterBatch>, ApiError> {
    let batch_id = batch_id.as_uuid();
    let mut conn = state.store.read().await?;
    let summary = letter_batches::get_batch(&mut conn, caller.scope(), batch_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no letter batch {batch_id}")))?;
    let rows = letter_batches::row_outcomes(&mut conn, batch_id).await?;
    let mut batch = LetterBatch::from(&summary);
    batch.rows = Some(
        rows.into_iter()
            .map(|r| BatchRow {
                row: r.row_number,
                state: r.state.into(),
                letter_id: r.letter_id,
                channel: r.letter.as_ref().map(|(c, _)| c.clone()),
                status: r.letter.map(|(_, s)| s),
                error: r.error,
            })
            .collect(),
    );
    Ok(Json(batch))
}

/// Cancel a batch held until a time (`send_after`), before its time: none of its letters is
/// sent.
#[utoipa::path(
    post, path = "/v1/letter-batches/{batch_id}/cancel", tag = "letters",
    params(("batch_id" = String, Path, format = Uuid, description = "The batch's id")),
    responses(
        (status = 200, description = "Cancelled", body = LetterBatch),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch for this agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not held: its letters are being sent or were sent", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn cancel_batch(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(batch_id): IdPath<LetterBatchId>,
) -> Result<Json<LetterBatch>, ApiError> {
    let batch_id = batch_id.as_uuid();
    let mut tx = state.store.begin().await?;
    let cancelled = letter_batches::cancel_batch(&mut tx, caller.scope(), batch_id, &now_text()).await?;
    let summary = letter_batches::get_batch(&mut tx, caller.scope(), batch_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no letter batch {batch_id}")))?;
    if !cancelled {
        return Err(ApiError::Conflict {
            kind: "batch-not-held",
            detail: format!(
                "letter batch {batch_id} is not held any more ({}): it cannot be cancelled",
                summary.status
            ),
        });
    }
    tx.commit().await?;
    tracing::info!(batch.id = %batch_id, "letter batch {batch_id} cancelled before its time");
    Ok(Json(LetterBatch::from(&summary)))
}

/// A letter of `POST /v1/letters` held until its `send_after`: stored as a batch of one (202),
/// released, checked, routed and sealed by the batch worker at its time.
pub(crate) async fn hold_letter(
    state: &AppState,
    scope: AgencyScope,
    letter: NewLetter,
    at: time::OffsetDateTime,
    warnings: Vec<FieldWarning>,
) -> Result<Response, ApiError> {
    let batch_id = submit(&state.store, scope, BatchSource::Api, None, None, &[(0, letter)], Some(at)).await?;
    accepted(state, scope, batch_id, warnings).await
}

/// The 202 answer for a batch just stored: the batch with its letters' warnings, and where to
/// follow it.
async fn accepted(
    state: &AppState,
    scope: AgencyScope,
    batch_id: uuid::Uuid,
    warnings: Vec<FieldWarning>,
) -> Result<Response, ApiError> {
    let mut conn = state.store.read().await?;
    let summary = letter_batches::get_batch(&mut conn, scope, batch_id)
        .await?
        .ok_or_else(|| ApiError::internal("a batch just stored is missing"))?;
    let body =
        serde_json::to_string(&LetterBatch { warnings, ..LetterBatch::from(&summary) }).map_err(ApiError::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        [
            (
                header::LOCATION,
                HeaderValue::from_str(&format!("/v1/letter-batches/{batch_id}")).map_err(ApiError::internal)?,
            ),
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
        ],
        body,
    )
        .into_response())
}

/// The batch worker: sends the rows of stored batches, one batch at a time per node, until the
/// process ends. Runs wherever the agency API runs.
pub async fn run_worker(state: AppState) {
    while !hybridpost_web::drain::is_draining() {
        let pause = match send_one_batch(&state).await {
            Ok(true) => continue,
            Ok(false) => Duration::from_millis(500),
            Err(e) => {
                tracing::warn!("letter batch worker: {e:#}");
                Duration::from_secs(5)
            }
        };
        if !hybridpost_web::drain::pause(pause).await {
            break;
        }
    }
}

fn lease_until() -> String {
    timestamp_text(time::OffsetDateTime::now_utc() + LEASE)
}

/// Takes one batch that has rows to send and sends them; false when there was none.
pub async fn send_one_batch(state: &AppState) -> anyhow::Result<bool> {
    let claimed = {
        let mut tx = state.store.begin().await?;
        let claimed = letter_batches::claim_batch(&mut tx, &now_text(), &lease_until()).await?;
        tx.commit().await?;
        claimed
    };
    let Some(batch_id) = claimed else { return Ok(false) };
    let scope = {
        let mut conn = state.store.read().await?;
        letter_batches::batch_scope(&mut conn, batch_id).await?.ok_or_else(|| anyhow::anyhow!("batch vanished"))?
    };
    let started = std::time::Instant::now();
    let mut sent = 0usize;
    loop {
        if hybridpost_web::drain::is_draining() {
            // Shutting down: the lease ends now, so another node goes on with the rows left.
            let mut tx = state.store.begin().await?;
            letter_batches::renew_lease(&mut tx, batch_id, &now_text()).await?;
            tx.commit().await?;
            tracing::info!(batch.id = %batch_id, rows = sent, "letter batch {batch_id} left to another node");
            return Ok(false);
        }
        let rows = {
            let mut conn = state.store.read().await?;
            letter_batches::pending_rows(&mut conn, batch_id, ROWS_PER_READ).await?
        };
        if rows.is_empty() {
            break;
        }
        let today = bangkok_today();
        let mut in_flight = tokio::task::JoinSet::new();
        let mut fault = None;
        // A row repeating an earlier row of this round waits for the next round, so that the
        // earlier row is the one sent and the later one names its letter.
        let mut keys = std::collections::HashSet::new();
        for (row_number, row_key, content) in rows {
            if !keys.insert(row_key.clone()) {
                continue;
            }
            if in_flight.len() >= ROWS_IN_FLIGHT
                && let Some(joined) = in_flight.join_next().await
            {
                fault = fault.or(joined_fault(joined));
            }
            let state = state.clone();
            in_flight
                .spawn(async move { send_row(&state, scope, batch_id, row_number, row_key, content, today).await });
            sent += 1;
        }
        while let Some(joined) = in_flight.join_next().await {
            fault = fault.or(joined_fault(joined));
        }
        if let Some(e) = fault {
            // A fault (the database gone): the rows not done stay pending for the next round.
            return Err(e.context(format!("letter batch {batch_id}")));
        }
        let mut tx = state.store.begin().await?;
        letter_batches::renew_lease(&mut tx, batch_id, &lease_until()).await?;
        tx.commit().await?;
    }
    let mut tx = state.store.begin().await?;
    letter_batches::finish_if_done(&mut tx, batch_id, &now_text()).await?;
    tx.commit().await?;
    tracing::info!(batch.id = %batch_id, rows = sent, elapsed_ms = started.elapsed().as_millis() as u64, "letter batch {batch_id} sent");
    Ok(true)
}

fn joined_fault(joined: Result<anyhow::Result<()>, tokio::task::JoinError>) -> Option<anyhow::Error> {
    match joined {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(e) => Some(anyhow::anyhow!("a row's task failed: {e}")),
    }
}

/// Sends one row: its letter stored and the row marked in one transaction; a row refused by
/// the check, or sent before, is marked so. `Err` only for faults, which leave it pending.
async fn send_row(
    state: &AppState,
    scope: AgencyScope,
    batch_id: uuid::Uuid,
    row_number: i64,
    row_key: String,
    content: String,
    today: time::Date,
) -> anyhow::Result<()> {
    let done = |row_state: RowState, letter_id: Option<LetterId>, error: Option<String>| async move {
        let mut tx = state.store.begin().await?;
        letter_batches::mark_row_done(&mut tx, batch_id, row_number, row_state, letter_id, error.as_deref()).await?;
        tx.commit().await?;
        anyhow::Ok(())
    };
    {
        let mut conn = state.store.read().await?;
        if let Some(earlier) = letter_batches::letter_of_key(&mut conn, scope, &row_key).await? {
            drop(conn);
            return done(RowState::SentBefore, Some(earlier), None).await;
        }
    }
    let letter: NewLetter = match serde_json::from_str(&content) {
        Ok(l) => l,
        Err(e) => return done(RowState::Refused, None, Some(format!("the stored row cannot be read: {e}"))).await,
    };
    let Accepted { record, events, digital_notice, .. } = match accept_letter(state, scope, &letter, today, None).await
    {
        Ok(accepted) => accepted,
        Err(ApiError::Validation(errors)) => {
            let text = errors.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
            return done(RowState::Refused, None, Some(text)).await;
        }
        Err(e) => return Err(anyhow::anyhow!("row {row_number}: {e}")),
    };
    let row = Some(RowMark { batch_id, row_number, row_key: row_key.clone() });
    let channel = record.channel;
    match state.writer.write(PreparedLetter { record, events, idempotency: None, digital_notice, row }).await? {
        Written::Stored => {
            metrics::counter!("hybridpost_letters_accepted_total", "channel" => channel.as_str()).increment(1);
            Ok(())
        }
        Written::RowSentBefore | Written::IdempotencyKeyTaken => {
            let mut conn = state.store.read().await?;
            let earlier = letter_batches::letter_of_key(&mut conn, scope, &row_key).await?;
            drop(conn);
            done(RowState::SentBefore, earlier, None).await
        }
    }
}
