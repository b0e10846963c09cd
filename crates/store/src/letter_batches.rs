//! Letters sent many at once (the API's letter batches, the console's mail merge): a batch, its
//! rows as submitted, the key each sent row leaves, and the console's drafts before sending.
//!
//! A row is sent in the transaction that stores its letter, which also inserts the row's key
//! into `letter_row_key`; the key's primary key refuses a second letter with the same key for
//! the same agency and mode. So a file uploaded twice, a batch resumed after a crash or taken
//! over by another node never sends a row twice, whatever the lease below says.

use hybridpost_core::{AgencyScope, LetterId, PersonId};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, conflict_or, flag, values_rows};

/// Where a batch came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSource {
    /// `POST /v1/letter-batches`.
    Api,
    /// The agency console's mail merge.
    Console,
}

impl BatchSource {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchSource::Api => "api",
            BatchSource::Console => "console",
        }
    }
}

/// A row's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Not sent yet.
    Pending,
    /// Sent: its letter is `letter_id`.
    Sent,
    /// Not sent again: the same letter (same content, agency and mode) was sent by an earlier
    /// row, of this batch or another; `letter_id` is that letter.
    SentBefore,
    /// Refused when it was sent (the check found a problem it did not find when the batch was
    /// submitted, such as an expired reply deadline); `error` says why.
    Refused,
    /// Not sent: its batch was cancelled before its time.
    Cancelled,
}

impl RowState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Pending => "pending",
            RowState::Sent => "sent",
            RowState::SentBefore => "sent_before",
            RowState::Refused => "refused",
            RowState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<RowState> {
        Ok(match s {
            "pending" => RowState::Pending,
            "sent" => RowState::Sent,
            "sent_before" => RowState::SentBefore,
            "refused" => RowState::Refused,
            "cancelled" => RowState::Cancelled,
            other => return Err(StoreError::Corrupt(format!("batch row state {other:?}"))),
        })
    }
}

/// A row to store with its batch.
#[derive(Clone, Debug)]
pub struct NewRow {
    /// The row as its sender numbers it.
    pub row_number: i64,
    /// SHA-256 (hex) of the letter's canonical JSON.
    pub row_key: String,
    /// The letter, JSON.
    pub content: String,
}

/// A batch to store.
#[derive(Clone, Debug)]
pub struct NewBatch {
    /// Its id.
    pub batch_id: uuid::Uuid,
    /// The agency and mode.
    pub scope: AgencyScope,
    /// API or console.
    pub source: BatchSource,
    /// The console's file name.
    pub file_name: Option<String>,
    /// Who sent it from the console.
    pub created_by: Option<PersonId>,
    /// Its rows.
    pub rows: Vec<NewRow>,
    /// Now.
    pub created_at: String,
    /// Not sent before this time (UTC, as stored), when it is held.
    pub not_before: Option<String>,
}

/// A batch with its counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSummary {
    /// Its id.
    pub batch_id: uuid::Uuid,
    /// The agency and mode.
    pub scope: AgencyScope,
    /// API or console (as stored).
    pub source: String,
    /// The console's file name.
    pub file_name: Option<String>,
    /// Who sent it from the console: their name.
    pub created_by_name: Option<String>,
    /// Rows in all.
    pub rows_total: i64,
    /// Rows not sent yet.
    pub pending: i64,
    /// Rows sent.
    pub sent: i64,
    /// Rows the same as one sent before.
    pub sent_before: i64,
    /// Rows refused.
    pub refused: i64,
    /// `sending`, `done` or `cancelled`.
    pub status: String,
    /// Not sent before this time, when it was held.
    pub not_before: Option<String>,
    /// When it was submitted.
    pub created_at: String,
    /// When its last row was done.
    pub finished_at: Option<String>,
}

/// A row's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowOutcome {
    /// The row as its sender numbers it.
    pub row_number: i64,
    /// Its state.
    pub state: RowState,
    /// Its letter (sent), or the earlier letter (sent before).
    pub letter_id: Option<LetterId>,
    /// Why it was refused.
    pub error: Option<String>,
    /// The letter's channel and status now, when there is a letter.
    pub letter: Option<(String, String)>,
}

/// Rows inserted per statement: 7 bound values each (see [`crate::BOUND_VALUES_PER_STATEMENT`]).
const ROWS_PER_INSERT: usize = crate::BOUND_VALUES_PER_STATEMENT / 7;

/// Stores a batch and its rows, all pending.
pub async fn insert_batch(conn: &mut AnyConnection, batch: &NewBatch) -> Result<()> {
    sqlx::query(
        "insert into letter_batch (batch_id, agency_id, test, source, file_name, created_by, rows_total, status, \
         created_at, not_before) values ($1, $2, $3, $4, $5, $6, $7, 'sending', $8, $9)",
    )
    .bind(batch.batch_id.to_string())
    .bind(batch.scope.agency_id.to_string())
    .bind(flag(batch.scope.test))
    .bind(batch.source.as_str())
    .bind(batch.file_name.clone())
    .bind(batch.created_by.map(|p| p.to_string()))
    .bind(batch.rows.len() as i64)
    .bind(batch.created_at.clone())
    .bind(batch.not_before.clone())
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "letter batch"))?;
    let id = batch.batch_id.to_string();
    for chunk in batch.rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "insert into letter_batch_row (batch_id, row_number, row_key, content, state) values {}",
            values_rows("($1, $2, $3, $4, 'pending')", chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query.bind(id.clone()).bind(row.row_number).bind(row.row_key.clone()).bind(row.content.clone());
        }
        query.execute(&mut *conn).await.map_err(|e| conflict_or(e, "letter batch row"))?;
    }
    Ok(())
}

/// Takes a batch that has rows to send, is due (no `not_before`, or one passed) and that no
/// node holds (its lease is empty or past), holding it until `lease_until`. The lease is taken
/// with a conditional update, so two nodes asking at once do not both get it, and a batch
/// cancelled in the meantime is not taken.
pub async fn claim_batch(conn: &mut AnyConnection, now: &str, lease_until: &str) -> Result<Option<uuid::Uuid>> {
    let candidates = sqlx::query(
        "select batch_id, lease_until from letter_batch where status = 'sending' \
         and (lease_until is null or lease_until < $1) and (not_before is null or not_before <= $1) \
         order by created_at limit 4",
    )
    .bind(now.to_owned())
    .fetch_all(&mut *conn)
    .await?;
    for r in candidates {
        let id: String = r.try_get(0)?;
        let old: Option<String> = r.try_get(1)?;
        let taken = sqlx::query(
            "update letter_batch set lease_until = $1 where batch_id = $2 and status = 'sending' \
             and ((lease_until is null and $3 is null) or lease_until = $3) \
             and (not_before is null or not_before <= $4)",
        )
        .bind(lease_until.to_owned())
        .bind(id.clone())
        .bind(old)
        .bind(now.to_owned())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(Some(parse_id(&id)?));
        }
    }
    Ok(None)
}

/// Cancels a held batch of the agency before its time: it and its rows are marked cancelled.
/// False when it is not held any more (its time came, a node took it) or is not the agency's.
pub async fn cancel_batch(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    batch_id: uuid::Uuid,
    now: &str,
) -> Result<bool> {
    let cancelled = sqlx::query(
        "update letter_batch set status = 'cancelled', finished_at = $1 where batch_id = $2 and agency_id = $3 \
         and test = $4 and status = 'sending' and lease_until is null and not_before > $1",
    )
    .bind(now.to_owned())
    .bind(batch_id.to_string())
    .bind(scope.agency_id.to_string())
    .bind(flag(scope.test))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if cancelled == 1 {
        sqlx::query("update letter_batch_row set state = 'cancelled' where batch_id = $1 and state = 'pending'")
            .bind(batch_id.to_string())
            .execute(conn)
            .await?;
    }
    Ok(cancelled == 1)
}

/// Holds a claimed batch longer.
pub async fn renew_lease(conn: &mut AnyConnection, batch_id: uuid::Uuid, lease_until: &str) -> Result<()> {
    sqlx::query("update letter_batch set lease_until = $1 where batch_id = $2")
        .bind(lease_until.to_owned())
        .bind(batch_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The batch's agency and mode.
pub async fn batch_scope(conn: &mut AnyConnection, batch_id: uuid::Uuid) -> Result<Option<AgencyScope>> {
    let row = sqlx::query("select agency_id, test from letter_batch where batch_id = $1")
        .bind(batch_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        let agency: String = r.try_get(0)?;
        let test: i64 = r.try_get(1)?;
        Ok(AgencyScope { agency_id: parse_id(&agency)?, test: test != 0 })
    })
    .transpose()
}

/// Up to `limit` pending rows of the batch, in order: (row number, row key, content).
pub async fn pending_rows(
    conn: &mut AnyConnection,
    batch_id: uuid::Uuid,
    limit: i64,
) -> Result<Vec<(i64, String, String)>> {
    let rows = sqlx::query(
        "select row_number, row_key, content from letter_batch_row where batch_id = $1 and state = 'pending' \
         order by row_number limit $2",
    )
    .bind(batch_id.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// Marks a row sent, in the transaction that stores its letter, and leaves its key. Fails
/// with a unique violation when a letter with the same key was sent before; then nothing of
/// the transaction may be kept.
pub async fn mark_row_sent(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    batch_id: uuid::Uuid,
    row_number: i64,
    row_key: &str,
    letter_id: LetterId,
) -> Result<()> {
    sqlx::query("insert into letter_row_key (agency_id, test, row_key, letter_id) values ($1, $2, $3, $4)")
        .bind(scope.agency_id.to_string())
        .bind(flag(scope.test))
        .bind(row_key.to_owned())
        .bind(letter_id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, "letter row key"))?;
    sqlx::query("update letter_batch_row set state = 'sent', letter_id = $1 where batch_id = $2 and row_number = $3")
        .bind(letter_id.to_string())
        .bind(batch_id.to_string())
        .bind(row_number)
        .execute(conn)
        .await?;
    Ok(())
}

/// The letter sent before with this key, if any.
pub async fn letter_of_key(conn: &mut AnyConnection, scope: AgencyScope, row_key: &str) -> Result<Option<LetterId>> {
    let row = sqlx::query("select letter_id from letter_row_key where agency_id = $1 and test = $2 and row_key = $3")
        .bind(scope.agency_id.to_string())
        .bind(flag(scope.test))
        .bind(row_key.to_owned())
        .fetch_optional(conn)
        .await?;
    row.map(|r| parse_id(&r.try_get::<String, _>(0)?)).transpose()
}

/// Marks a row not sent: the same as an earlier letter, or refused with `error`.
pub async fn mark_row_done(
    conn: &mut AnyConnection,
    batch_id: uuid::Uuid,
    row_number: i64,
    state: RowState,
    letter_id: Option<LetterId>,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "update letter_batch_row set state = $1, letter_id = $2, error = $3 \
         where batch_id = $4 and row_number = $5 and state = 'pending'",
    )
    .bind(state.as_str())
    .bind(letter_id.map(|l| l.to_string()))
    .bind(error.map(str::to_owned))
    .bind(batch_id.to_string())
    .bind(row_number)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the batch done when no row is pending; says whether it is.
pub async fn finish_if_done(conn: &mut AnyConnection, batch_id: uuid::Uuid, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "update letter_batch set status = 'done', finished_at = $1, lease_until = null \
         where batch_id = $2 and status = 'sending' and not exists \
         (select 1 from letter_batch_row where batch_id = $2 and state = 'pending')",
    )
    .bind(now.to_owned())
    .bind(batch_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

const SUMMARY: &str = "select b.batch_id, b.agency_id, b.test, b.source, b.file_name, p.name, b.rows_total, \
     b.status, b.created_at, b.finished_at, b.not_before, \
     (select count(*) from letter_batch_row r where r.batch_id = b.batch_id and r.state = 'pending'), \
     (select count(*) from letter_batch_row r where r.batch_id = b.batch_id and r.state = 'sent'), \
     (select count(*) from letter_batch_row r where r.batch_id = b.batch_id and r.state = 'sent_before'), \
     (select count(*) from letter_batch_row r where r.batch_id = b.batch_id and r.state = 'refused') \
     from letter_batch b left join person p on p.person_id = b.created_by";

fn summary_from_row(r: &sqlx::any::AnyRow) -> Result<BatchSummary> {
    let id: String = r.try_get(0)?;
    let agency: String = r.try_get(1)?;
    let test: i64 = r.try_get(2)?;
    Ok(BatchSummary {
        batch_id: parse_id(&id)?,
        scope: AgencyScope { agency_id: parse_id(&agency)?, test: test != 0 },
        source: r.try_get(3)?,
        file_name: r.try_get(4)?,
        created_by_name: r.try_get(5)?,
        rows_total: r.try_get(6)?,
        status: r.try_get(7)?,
        created_at: r.try_get(8)?,
        finished_at: r.try_get(9)?,
        not_before: r.try_get(10)?,
        pending: r.try_get(11)?,
        sent: r.try_get(12)?,
        sent_before: r.try_get(13)?,
        refused: r.try_get(14)?,
    })
}

/// A batch of the agency in this mode, with its counts.
pub async fn get_batch(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    batch_id: uuid::Uuid,
) -> Result<Option<BatchSummary>> {
    let sql = format!("{SUMMARY} where b.batch_id = $1 and b.agency_id = $2 and b.test = $3");
    let row = sqlx::query(&sql)
        .bind(batch_id.to_string())
        .bind(scope.agency_id.to_string())
        .bind(flag(scope.test))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(summary_from_row).transpose()
}

/// The agency's latest batches in this mode, newest first.
pub async fn list_batches(conn: &mut AnyConnection, scope: AgencyScope, limit: i64) -> Result<Vec<BatchSummary>> {
    let sql = format!("{SUMMARY} where b.agency_id = $1 and b.test = $2 order by b.created_at desc limit $3");
    let rows =
        sqlx::query(&sql).bind(scope.agency_id.to_string()).bind(flag(scope.test)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(summary_from_row).collect()
}

/// Letters of `scope`'s agency waiting for their send-after time: pending rows of batches held
/// until after `now`, and how many batches hold them.
pub async fn held_letters(conn: &mut AnyConnection, scope: AgencyScope, now: &str) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "select count(*), count(distinct b.batch_id) from letter_batch b \
         join letter_batch_row r on r.batch_id = b.batch_id \
         where b.agency_id = $1 and b.test = $2 and b.status = 'sending' and b.not_before > $3 and r.state = 'pending'",
    )
    .bind(scope.agency_id.to_string())
    .bind(flag(scope.test))
    .bind(now.to_owned())
    .fetch_one(conn)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Every row's outcome, in order, with its letter's channel and status now.
pub async fn row_outcomes(conn: &mut AnyConnection, batch_id: uuid::Uuid) -> Result<Vec<RowOutcome>> {
    let rows = sqlx::query(
        "select r.row_number, r.state, r.letter_id, r.error, l.channel, l.status from letter_batch_row r \
         left join letter l on l.letter_id = r.letter_id where r.batch_id = $1 order by r.row_number",
    )
    .bind(batch_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let state: String = r.try_get(1)?;
            let letter_id: Option<String> = r.try_get(2)?;
            let channel: Option<String> = r.try_get(4)?;
            let status: Option<String> = r.try_get(5)?;
            Ok(RowOutcome {
                row_number: r.try_get(0)?,
                state: RowState::parse(&state)?,
                letter_id: letter_id.as_deref().map(parse_id).transpose()?,
                error: r.try_get(3)?,
                letter: channel.zip(status),
            })
        })
        .collect()
}

/// A mail-merge draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// Its id.
    pub draft_id: uuid::Uuid,
    /// The agency and mode.
    pub scope: AgencyScope,
    /// Who made it.
    pub person_id: PersonId,
    /// The file's name.
    pub file_name: String,
    /// The table read from the file, JSON.
    pub sheet: String,
    /// The choices made, JSON.
    pub settings: String,
    /// The batch it was sent as.
    pub batch_id: Option<uuid::Uuid>,
    /// When it was made.
    pub created_at: String,
}

/// Stores a new draft.
pub async fn insert_draft(conn: &mut AnyConnection, draft: &Draft) -> Result<()> {
    sqlx::query(
        "insert into merge_draft (draft_id, agency_id, test, person_id, file_name, sheet, settings, created_at, \
         updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(draft.draft_id.to_string())
    .bind(draft.scope.agency_id.to_string())
    .bind(flag(draft.scope.test))
    .bind(draft.person_id.to_string())
    .bind(draft.file_name.clone())
    .bind(draft.sheet.clone())
    .bind(draft.settings.clone())
    .bind(draft.created_at.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// A draft of the agency (either mode: the draft says which).
pub async fn get_draft(
    conn: &mut AnyConnection,
    agency_id: hybridpost_core::AgencyId,
    draft_id: uuid::Uuid,
) -> Result<Option<Draft>> {
    let row = sqlx::query(
        "select draft_id, agency_id, test, person_id, file_name, sheet, settings, batch_id, created_at \
         from merge_draft where draft_id = $1 and agency_id = $2",
    )
    .bind(draft_id.to_string())
    .bind(agency_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let id: String = r.try_get(0)?;
        let agency: String = r.try_get(1)?;
        let test: i64 = r.try_get(2)?;
        let person: String = r.try_get(3)?;
        let batch: Option<String> = r.try_get(7)?;
        Ok(Draft {
            draft_id: parse_id(&id)?,
            scope: AgencyScope { agency_id: parse_id(&agency)?, test: test != 0 },
            person_id: parse_id(&person)?,
            file_name: r.try_get(4)?,
            sheet: r.try_get(5)?,
            settings: r.try_get(6)?,
            batch_id: batch.as_deref().map(parse_id).transpose()?,
            created_at: r.try_get(8)?,
        })
    })
    .transpose()
}

/// Replaces a draft's file, its choices, or both, while it is not sent.
pub async fn update_draft(
    conn: &mut AnyConnection,
    draft_id: uuid::Uuid,
    file: Option<(&str, &str)>,
    settings: &str,
    now: &str,
) -> Result<bool> {
    let changed = match file {
        Some((file_name, sheet)) => sqlx::query(
            "update merge_draft set file_name = $1, sheet = $2, settings = $3, updated_at = $4 \
             where draft_id = $5 and batch_id is null",
        )
        .bind(file_name.to_owned())
        .bind(sheet.to_owned())
        .bind(settings.to_owned())
        .bind(now.to_owned())
        .bind(draft_id.to_string()),
        None => sqlx::query(
            "update merge_draft set settings = $1, updated_at = $2 where draft_id = $3 and batch_id is null",
        )
        .bind(settings.to_owned())
        .bind(now.to_owned())
        .bind(draft_id.to_string()),
    }
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Records that the draft was sent as `batch_id`; false when it was sent already.
pub async fn set_draft_batch(conn: &mut AnyConnection, draft_id: uuid::Uuid, batch_id: uuid::Uuid) -> Result<bool> {
    let changed = sqlx::query("update merge_draft set batch_id = $1 where draft_id = $2 and batch_id is null")
        .bind(batch_id.to_string())
        .bind(draft_id.to_string())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(changed == 1)
}

/// Forgets drafts made before `cutoff` (their files hold personal data); returns how many.
pub async fn delete_drafts_before(conn: &mut AnyConnection, cutoff: &str) -> Result<u64> {
    Ok(sqlx::query("delete from merge_draft where created_at < $1")
        .bind(cutoff.to_owned())
        .execute(conn)
        .await?
        .rows_affected())
}
