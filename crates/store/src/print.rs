//! Print batches: choosing a site's queued letters, the batch's life from closed to
//! dispatched, and the events each step writes on every letter's timeline.
//!
//! Crash safety: a batch's letters are fixed when it is closed. Rendering is claimed with a
//! lease; a worker that dies leaves the claim to expire and another renders the same letters
//! again, to the same bytes. Results (pages, failures) are written in one transaction when the
//! whole PDF is stored, so a half-rendered batch never becomes visible.

use hybridpost_core::{AgencyId, BatchId, HoldReason, LetterId, LetterStatus, SiteId};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::events::{Events, NewEvent, Recorded, append_events};
use crate::held::{self, NewAlarm};
use crate::{Result, StoreError, conflict_or, placeholders, values_rows};

pub use hybridpost_core::BatchStatus;

fn parse_status(s: &str) -> Result<BatchStatus> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))
}

/// A print batch as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    /// Its id.
    pub batch_id: BatchId,
    /// The site that prints it.
    pub site_id: SiteId,
    /// Where it is.
    pub status: BatchStatus,
    /// Letters in it (after rendering: those that rendered).
    pub letter_count: i64,
    /// Pages of the batch PDF, cover sheet and blank backs included.
    pub page_count: i64,
    /// Sheets of paper (duplex).
    pub sheet_count: i64,
    /// Blob key of the PDF.
    pub pdf_blob: Option<String>,
    /// Blob key of the JSON manifest.
    pub manifest_blob: Option<String>,
    /// SHA-256 of the PDF, hex.
    pub pdf_sha256: Option<String>,
    /// When it was closed.
    pub created_at: String,
    /// When it was rendered.
    pub rendered_at: Option<String>,
    /// When it was printed.
    pub printed_at: Option<String>,
    /// When it was dispatched.
    pub dispatched_at: Option<String>,
}

/// A letter in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchLetter {
    /// The letter.
    pub letter_id: LetterId,
    /// Its agency.
    pub agency_id: AgencyId,
    /// Envelope order, from 1.
    pub position: i64,
    /// The recipient's postcode.
    pub postcode: String,
    /// First page in the batch PDF (after rendering).
    pub first_page: Option<i64>,
    /// Pages (after rendering).
    pub pages: Option<i64>,
    /// Sheets (after rendering).
    pub sheets: Option<i64>,
    /// S10 tracking number (after dispatch).
    pub tracking_number: Option<String>,
}

/// A letter waiting for print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedLetter {
    /// The letter.
    pub letter_id: LetterId,
    /// Its agency.
    pub agency_id: AgencyId,
    /// The recipient's postcode.
    pub postcode: String,
}

const BATCH_COLUMNS: &str = "batch_id, site_id, status, letter_count, page_count, sheet_count, pdf_blob, \
                             manifest_blob, pdf_sha256, created_at, rendered_at, printed_at, dispatched_at";

/// Live (not test) letters queued for print whose postcode starts with one of `prefixes` and
/// that are not held back: the most urgent first, then in postcode order.
pub async fn queued_letters(conn: &mut AnyConnection, prefixes: &[String], limit: i64) -> Result<Vec<QueuedLetter>> {
    if prefixes.is_empty() {
        return Ok(Vec::new());
    }
    let likes: Vec<String> = (0..prefixes.len()).map(|i| format!("postcode like ${}", i + 1)).collect();
    let sql = format!(
        "select letter_id, agency_id, postcode from letter where status = 'queued_for_print' and test = 0 \
         and print_hold is null and ({}) order by priority desc, postcode, letter_id limit ${}",
        likes.join(" or "),
        prefixes.len() + 1
    );
    let mut q = sqlx::query(&sql);
    for p in prefixes {
        q = q.bind(format!("{p}%"));
    }
    let rows = q.bind(limit).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(QueuedLetter {
                letter_id: parse_id(&r.try_get::<String, _>(0)?)?,
                agency_id: parse_id(&r.try_get::<String, _>(1)?)?,
                postcode: r.try_get(2)?,
            })
        })
        .collect()
}

/// Closes a batch of `letters` (in envelope order) for `site`: each letter still queued moves
/// to `batched` with an event; a letter that changed meanwhile (cancelled) is left out.
/// Returns the batch, or `None` when no letter was left, and the `batched` events.
pub async fn create_batch(
    conn: &mut AnyConnection,
    site_id: SiteId,
    letters: &[QueuedLetter],
    now: &str,
) -> Result<Recorded<Option<BatchRecord>>> {
    let batch_id = BatchId::new();
    let mut taken = Vec::new();
    for chunk in letters.chunks(LETTERS_PER_STATEMENT) {
        let ids: Vec<LetterId> = chunk.iter().map(|l| l.letter_id).collect();
        let moved = move_status(
            conn,
            &ids,
            LetterStatus::QueuedForPrint,
            LetterStatus::Batched,
            " and print_hold is null",
            now,
        )
        .await?;
        taken.extend(chunk.iter().filter(|l| moved.contains(&l.letter_id)));
    }
    if taken.is_empty() {
        return Ok(Recorded::new(None, Vec::new()));
    }
    // A letter that moves on is no longer late or unroutable.
    let taken_ids: Vec<LetterId> = taken.iter().map(|l| l.letter_id).collect();
    held::clear(conn, &taken_ids, None, now).await?;
    sqlx::query(
        "insert into print_batch (batch_id, site_id, status, letter_count, created_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(batch_id.to_string())
    .bind(site_id.to_string())
    .bind(BatchStatus::Closed.as_str())
    .bind(taken.len() as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (n, chunk) in taken.chunks(200).enumerate() {
        let sql = format!(
            "insert into print_batch_letter (batch_id, letter_id, position) values {}",
            values_rows("($1, $2, $3)", chunk.len())
        );
        let mut q = sqlx::query(&sql);
        let offset = n * 200;
        for (i, l) in chunk.iter().enumerate() {
            q = q.bind(batch_id.to_string()).bind(l.letter_id.to_string()).bind((offset + i + 1) as i64);
        }
        q.execute(&mut *conn).await.map_err(|e| conflict_or(e, "letter already in a batch"))?;
    }
    let events = taken
        .iter()
        .map(|l| NewEvent {
            agency_id: l.agency_id,
            letter_id: l.letter_id,
            kind: LetterStatus::Batched.into(),
            status: LetterStatus::Batched,
            detail: Some(serde_json::json!({"batch_id": batch_id, "site_id": site_id})),
            request_id: None,
        })
        .collect();
    let events = append_events(conn, events).await?;
    Ok(Recorded::new(get_batch(conn, Some(site_id), batch_id).await?, events))
}

/// Reads a batch; with `site`, only that site's.
pub async fn get_batch(
    conn: &mut AnyConnection,
    site: Option<SiteId>,
    batch_id: BatchId,
) -> Result<Option<BatchRecord>> {
    let row = match site {
        Some(site) => {
            sqlx::query(&format!("select {BATCH_COLUMNS} from print_batch where batch_id = $1 and site_id = $2"))
                .bind(batch_id.to_string())
                .bind(site.to_string())
                .fetch_optional(conn)
                .await?
        }
        None => {
            sqlx::query(&format!("select {BATCH_COLUMNS} from print_batch where batch_id = $1"))
                .bind(batch_id.to_string())
                .fetch_optional(conn)
                .await?
        }
    };
    row.as_ref().map(batch_from_row).transpose()
}

/// A site's batches, newest first, older than `before` when given.
pub async fn list_batches(
    conn: &mut AnyConnection,
    site: SiteId,
    before: Option<BatchId>,
    limit: i64,
) -> Result<Vec<BatchRecord>> {
    let rows = match before {
        Some(b) => sqlx::query(&format!(
            "select {BATCH_COLUMNS} from print_batch where site_id = $1 and batch_id < $2 order by batch_id desc limit $3"
        ))
        .bind(site.to_string())
        .bind(b.to_string())
        .bind(limit)
        .fetch_all(conn)
        .await?,
        None => sqlx::query(&format!(
            "select {BATCH_COLUMNS} from print_batch where site_id = $1 order by batch_id desc limit $2"
        ))
        .bind(site.to_string())
        .bind(limit)
        .fetch_all(conn)
        .await?,
    };
    rows.iter().map(batch_from_row).collect()
}

/// The letters of a batch in envelope order.
pub async fn batch_letters(conn: &mut AnyConnection, batch_id: BatchId) -> Result<Vec<BatchLetter>> {
    batch_letters_from(conn, batch_id, 0, i64::MAX).await
}

/// At most `limit` letters of a batch in envelope order, after the first `skip` (a page of
/// them, for a screen).
pub async fn batch_letters_from(
    conn: &mut AnyConnection,
    batch_id: BatchId,
    skip: i64,
    limit: i64,
) -> Result<Vec<BatchLetter>> {
    let rows = sqlx::query(
        "select b.letter_id, l.agency_id, b.position, l.postcode, b.first_page, b.pages, b.sheets, b.tracking_number \
         from print_batch_letter b join letter l on l.letter_id = b.letter_id where b.batch_id = $1 order by b.position \
         limit $2 offset $3",
    )
    .bind(batch_id.to_string())
    .bind(limit)
    .bind(skip)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BatchLetter {
                letter_id: parse_id(&r.try_get::<String, _>(0)?)?,
                agency_id: parse_id(&r.try_get::<String, _>(1)?)?,
                position: r.try_get(2)?,
                postcode: r.try_get(3)?,
                first_page: r.try_get(4)?,
                pages: r.try_get(5)?,
                sheets: r.try_get(6)?,
                tracking_number: r.try_get(7)?,
            })
        })
        .collect()
}

/// How many letters a batch holds now, and its lowest and highest postcode.
pub async fn batch_extent(conn: &mut AnyConnection, batch_id: BatchId) -> Result<(i64, String, String)> {
    let row = sqlx::query(
        "select count(*), min(l.postcode), max(l.postcode) from print_batch_letter b \
         join letter l on l.letter_id = b.letter_id where b.batch_id = $1",
    )
    .bind(batch_id.to_string())
    .fetch_one(conn)
    .await?;
    Ok((
        row.try_get(0)?,
        row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
        row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
    ))
}

/// Claims the oldest batch waiting to be rendered (or whose renderer's claim ran out) until
/// `until`. Safe with many workers: the claim is a conditional update.
pub async fn claim_for_render(conn: &mut AnyConnection, now: &str, until: &str) -> Result<Option<BatchRecord>> {
    for _ in 0..5 {
        let candidate: Option<String> = sqlx::query(
            "select batch_id from print_batch where status = 'closed' or (status = 'rendering' and claimed_until < $1) \
             order by created_at, batch_id limit 1",
        )
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let Some(batch_id) = candidate else { return Ok(None) };
        let claimed = sqlx::query(
            "update print_batch set status = 'rendering', claimed_until = $1 where batch_id = $2 \
             and (status = 'closed' or (status = 'rendering' and claimed_until < $3))",
        )
        .bind(until)
        .bind(&batch_id)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if claimed == 1 {
            return get_batch(conn, None, parse_id(&batch_id)?).await;
        }
    }
    Ok(None)
}

/// Where a letter landed in the rendered batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The letter.
    pub letter_id: LetterId,
    /// Its first page in the PDF, from 1.
    pub first_page: i64,
    /// Its pages.
    pub pages: i64,
    /// Its sheets.
    pub sheets: i64,
}

/// A letter that could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderFailure {
    /// The letter.
    pub letter_id: LetterId,
    /// Its agency.
    pub agency_id: AgencyId,
    /// Why, for the agency.
    pub reason: String,
}

/// What rendering a batch produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderResult {
    /// Letters placed, in envelope order.
    pub placements: Vec<Placement>,
    /// Letters left out.
    pub failures: Vec<RenderFailure>,
    /// Pages of the PDF.
    pub page_count: i64,
    /// Sheets.
    pub sheet_count: i64,
    /// Blob key of the PDF.
    pub pdf_blob: String,
    /// Blob key of the manifest.
    pub manifest_blob: String,
    /// SHA-256 of the PDF, hex.
    pub pdf_sha256: String,
}

/// Records a rendered batch: it becomes ready, its letters get their pages, and each failed
/// letter leaves the batch, goes back to the queue held with the reason, and gets a
/// `render_failed` alarm and event (see [`crate::held`]). Returns false when the claim was
/// lost (another worker finished it), and the events.
pub async fn finish_render(
    conn: &mut AnyConnection,
    batch_id: BatchId,
    result: &RenderResult,
    now: &str,
) -> Result<Recorded<bool>> {
    let updated = sqlx::query(
        "update print_batch set status = 'ready', letter_count = $1, page_count = $2, sheet_count = $3, pdf_blob = $4, \
         manifest_blob = $5, pdf_sha256 = $6, rendered_at = $7, claimed_until = null \
         where batch_id = $8 and status = 'rendering'",
    )
    .bind(result.placements.len() as i64)
    .bind(result.page_count)
    .bind(result.sheet_count)
    .bind(&result.pdf_blob)
    .bind(&result.manifest_blob)
    .bind(&result.pdf_sha256)
    .bind(now)
    .bind(batch_id.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated != 1 {
        return Ok(Recorded::new(false, Vec::new()));
    }
    for chunk in result.placements.chunks(LETTERS_PER_STATEMENT) {
        // One `case` per column, each listing the chunk's letters: $2 + 4i is letter i.
        let case = |column: usize| -> String {
            let whens: String =
                (0..chunk.len()).map(|i| format!(" when ${} then ${}", 2 + 4 * i, 3 + 4 * i + column)).collect();
            format!("case letter_id{whens} end")
        };
        let ids: Vec<String> = (0..chunk.len()).map(|i| format!("${}", 2 + 4 * i)).collect();
        let sql = format!(
            "update print_batch_letter set first_page = {}, pages = {}, sheets = {} \
             where batch_id = $1 and letter_id in ({})",
            case(0),
            case(1),
            case(2),
            ids.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(batch_id.to_string());
        for p in chunk {
            query = query.bind(p.letter_id.to_string()).bind(p.first_page).bind(p.pages).bind(p.sheets);
        }
        query.execute(&mut *conn).await?;
    }
    let mut alarms = Vec::new();
    for f in &result.failures {
        sqlx::query("delete from print_batch_letter where batch_id = $1 and letter_id = $2")
            .bind(batch_id.to_string())
            .bind(f.letter_id.to_string())
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "update letter set status = 'queued_for_print', print_hold = $1, updated_at = $2 where letter_id = $3 \
             and status = 'batched'",
        )
        .bind(&f.reason)
        .bind(now)
        .bind(f.letter_id.to_string())
        .execute(&mut *conn)
        .await?;
        // The alarm writes the `render_failed` event.
        alarms.push(NewAlarm {
            letter_id: f.letter_id,
            agency_id: f.agency_id,
            reason: HoldReason::RenderFailed,
            since: now.to_owned(),
            detail: serde_json::json!({"batch_id": batch_id, "reason": f.reason, "held": true}),
            request_id: None,
        });
    }
    let raised = held::raise(conn, alarms, now).await?;
    Ok(Recorded::new(true, raised.events))
}

/// Why a batch step was refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchStepError {
    /// No such batch for this site.
    #[error("no such batch")]
    NotFound,
    /// The batch is not at the step before.
    #[error("the batch is {0:?}")]
    WrongStatus(BatchStatus),
    /// A tracking number problem, for the operator.
    #[error("{0}")]
    Tracking(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Marks a ready batch printed; its letters move to `printed` with an event each.
pub async fn mark_printed(
    conn: &mut AnyConnection,
    site: SiteId,
    batch_id: BatchId,
    now: &str,
    request_id: Option<&str>,
) -> Result<Recorded<BatchRecord>, BatchStepError> {
    step(conn, site, batch_id, BatchStatus::Ready, BatchStatus::Printed, now).await?;
    let letters = batch_letters(conn, batch_id).await?;
    let events = move_letters(
        conn,
        &letters,
        LetterStatus::Batched,
        LetterStatus::Printed,
        now,
        request_id,
        |_| serde_json::json!({"batch_id": batch_id, "site_id": site}),
    )
    .await?;
    let batch = get_batch(conn, Some(site), batch_id).await?.ok_or(BatchStepError::NotFound)?;
    Ok(Recorded::new(batch, events))
}

/// Marks a printed batch dispatched with one S10 tracking number per letter (already checked
/// by the caller); its letters move to `dispatched` with the tracking number in the event.
pub async fn mark_dispatched(
    conn: &mut AnyConnection,
    site: SiteId,
    batch_id: BatchId,
    tracking: &[(LetterId, String)],
    now: &str,
    request_id: Option<&str>,
) -> Result<Recorded<BatchRecord>, BatchStepError> {
    let letters = batch_letters(conn, batch_id).await?;
    let by_letter: std::collections::HashMap<LetterId, &String> = tracking.iter().map(|(l, t)| (*l, t)).collect();
    if by_letter.len() != tracking.len() {
        return Err(BatchStepError::Tracking("a letter is listed twice".into()));
    }
    for l in &letters {
        if !by_letter.contains_key(&l.letter_id) {
            return Err(BatchStepError::Tracking(format!("letter {} has no tracking number", l.letter_id)));
        }
    }
    if letters.len() != tracking.len() {
        return Err(BatchStepError::Tracking("a tracking number is given for a letter not in this batch".into()));
    }
    step(conn, site, batch_id, BatchStatus::Printed, BatchStatus::Dispatched, now).await?;
    set_tracking_numbers(conn, batch_id, tracking).await?;
    let events = move_letters(
        conn,
        &letters,
        LetterStatus::Printed,
        LetterStatus::Dispatched,
        now,
        request_id,
        |l| serde_json::json!({"batch_id": batch_id, "tracking_number": by_letter.get(&l.letter_id)}),
    )
    .await?;
    let batch = get_batch(conn, Some(site), batch_id).await?.ok_or(BatchStepError::NotFound)?;
    Ok(Recorded::new(batch, events))
}

async fn step(
    conn: &mut AnyConnection,
    site: SiteId,
    batch_id: BatchId,
    from: BatchStatus,
    to: BatchStatus,
    now: &str,
) -> Result<(), BatchStepError> {
    let column = match to {
        BatchStatus::Printed => "printed_at",
        BatchStatus::Dispatched => "dispatched_at",
        _ => return Err(BatchStepError::WrongStatus(to)),
    };
    let changed = sqlx::query(&format!(
        "update print_batch set status = $1, {column} = $2 where batch_id = $3 and site_id = $4 and status = $5"
    ))
    .bind(to.as_str())
    .bind(now)
    .bind(batch_id.to_string())
    .bind(site.to_string())
    .bind(from.as_str())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::from)?
    .rows_affected();
    if changed != 1 {
        let batch = get_batch(conn, Some(site), batch_id).await?.ok_or(BatchStepError::NotFound)?;
        return Err(BatchStepError::WrongStatus(batch.status));
    }
    Ok(())
}

/// Letters moved, placed or numbered to a statement: up to 4 bound values each (see
/// [`crate::BOUND_VALUES_PER_STATEMENT`]), a 5,000-letter batch in twenty statements rather
/// than five thousand.
const LETTERS_PER_STATEMENT: usize = crate::BOUND_VALUES_PER_STATEMENT / 4;

/// The statement of [`move_status`] for `count` letters: `$1` the new status, `$2` the time, `$3`
/// the old status, then the ids.
///
/// `status || ''`, not `status`: without statistics SQLite would find the rows through the
/// index on status and read every letter at the old status (80,000 in a national day's queue)
/// for each statement, rather than look up the ids listed; the expression keeps it off that
/// index.
fn move_status_sql(also: &str, count: usize) -> String {
    format!(
        "update letter set status = $1, updated_at = $2 where status || '' = $3{also} and letter_id in ({}) \
         returning letter_id",
        placeholders(4, count)
    )
}

/// Moves the letters `ids` (at most [`LETTERS_PER_STATEMENT`]) that are at `from` and meet
/// `also` (SQL after `where …`, or empty) to `to` in one statement; returns those moved.
async fn move_status(
    conn: &mut AnyConnection,
    ids: &[LetterId],
    from: LetterStatus,
    to: LetterStatus,
    also: &str,
    now: &str,
) -> Result<std::collections::HashSet<LetterId>> {
    let sql = move_status_sql(also, ids.len());
    let mut query = sqlx::query(&sql).bind(to.as_str()).bind(now).bind(from.as_str());
    for id in ids {
        query = query.bind(id.to_string());
    }
    query.fetch_all(&mut *conn).await?.iter().map(|row| parse_id(&row.try_get::<String, _>(0)?)).collect()
}

/// Moves `letters` still at `from` to `to`, [`LETTERS_PER_STATEMENT`] to a statement, and
/// records an event for each letter moved, in the order of `letters`.
async fn move_letters(
    conn: &mut AnyConnection,
    letters: &[BatchLetter],
    from: LetterStatus,
    to: LetterStatus,
    now: &str,
    request_id: Option<&str>,
    detail: impl Fn(&BatchLetter) -> serde_json::Value,
) -> Result<Events> {
    let mut events = Vec::with_capacity(letters.len());
    for chunk in letters.chunks(LETTERS_PER_STATEMENT) {
        let ids: Vec<LetterId> = chunk.iter().map(|l| l.letter_id).collect();
        let moved = move_status(conn, &ids, from, to, "", now).await?;
        for l in chunk.iter().filter(|l| moved.contains(&l.letter_id)) {
            events.push(NewEvent {
                agency_id: l.agency_id,
                letter_id: l.letter_id,
                kind: to.into(),
                status: to,
                detail: Some(detail(l)),
                request_id: request_id.map(str::to_owned),
            });
        }
    }
    append_events(conn, events).await
}

/// Gives the letters of `batch_id` their tracking numbers, [`LETTERS_PER_STATEMENT`] to a
/// statement; a number another letter already has is named in the error.
async fn set_tracking_numbers(
    conn: &mut AnyConnection,
    batch_id: BatchId,
    tracking: &[(LetterId, String)],
) -> Result<(), BatchStepError> {
    for chunk in tracking.chunks(LETTERS_PER_STATEMENT) {
        let sql = format!(
            "select tracking_number from print_batch_letter where tracking_number in ({}) limit 1",
            placeholders(1, chunk.len())
        );
        let mut taken = sqlx::query(&sql);
        for (_, number) in chunk {
            taken = taken.bind(number);
        }
        if let Some(row) = taken.fetch_optional(&mut *conn).await.map_err(StoreError::from)? {
            let number: String = row.try_get(0).map_err(StoreError::from)?;
            return Err(BatchStepError::Tracking(format!("tracking number {number} is already used")));
        }
        let cases: String = (0..chunk.len()).map(|i| format!(" when ${} then ${}", 2 + 2 * i, 3 + 2 * i)).collect();
        let sql = format!(
            "update print_batch_letter set tracking_number = case letter_id{cases} end \
             where batch_id = $1 and letter_id in ({})",
            placeholders(2 + 2 * chunk.len(), chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(batch_id.to_string());
        for (letter_id, number) in chunk {
            query = query.bind(letter_id.to_string()).bind(number);
        }
        for (letter_id, _) in chunk {
            query = query.bind(letter_id.to_string());
        }
        query.execute(&mut *conn).await.map_err(|e| match conflict_or(e, "tracking number") {
            StoreError::Conflict(_) => BatchStepError::Tracking("a tracking number is already used".into()),
            other => other.into(),
        })?;
    }
    Ok(())
}

fn batch_from_row(r: &sqlx::any::AnyRow) -> Result<BatchRecord> {
    Ok(BatchRecord {
        batch_id: parse_id(&r.try_get::<String, _>("batch_id")?)?,
        site_id: parse_id(&r.try_get::<String, _>("site_id")?)?,
        status: parse_status(&r.try_get::<String, _>("status")?)?,
        letter_count: r.try_get("letter_count")?,
        page_count: r.try_get("page_count")?,
        sheet_count: r.try_get("sheet_count")?,
        pdf_blob: r.try_get("pdf_blob")?,
        manifest_blob: r.try_get("manifest_blob")?,
        pdf_sha256: r.try_get("pdf_sha256")?,
        created_at: r.try_get("created_at")?,
        rendered_at: r.try_get("rendered_at")?,
        printed_at: r.try_get("printed_at")?,
        dispatched_at: r.try_get("dispatched_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite makes for moving letters: it must look the letters up by id. Through the
    /// index on status it read every letter at the old status, once per statement, and a batch
    /// closing with 80,000 letters queued held the writer for seconds.
    #[tokio::test]
    async fn moving_letters_looks_them_up_by_id_on_sqlite() {
        let db = crate::testing::sqlite_test_store().await;
        let mut conn = db.store.read().await.unwrap();
        for also in ["", " and print_hold is null"] {
            let sql = format!("explain query plan {}", move_status_sql(also, 3));
            let mut plan = sqlx::query(&sql);
            for value in ["batched", "now", "queued_for_print", "a", "b", "c"] {
                plan = plan.bind(value);
            }
            let steps: Vec<String> =
                plan.fetch_all(&mut *conn).await.unwrap().iter().map(|r| r.try_get::<String, _>(3).unwrap()).collect();
            assert!(steps.iter().any(|s| s.contains("(letter_id=?)")), "the letters are looked up by id: {steps:?}");
            assert!(!steps.iter().any(|s| s.contains("status")), "no index on status is used: {steps:?}");
        }
    }
}
