//! Letters waiting for print that cannot move on by themselves, and the alarm raised for each.
//!
//! Three reasons ([`HoldReason`]): the letter's render failed (it is held out of batches until
//! the agency retries), no print site serves its postcode, or it has waited for print longer than
//! the alarm age. An alarm is a row of `letter_alarm`; opening the row writes the event of the
//! same kind (and so its webhooks) in the same transaction, and a row that stands is never
//! opened again, so each alarm is raised once. It is cleared when the letter moves on: batched,
//! retried, routed to a new site, or cancelled.

use hybridpost_core::{AgencyId, EventKind, HoldReason, LetterId, LetterStatus};
use sqlx::{AnyConnection, Row};

use crate::agencies::{self, parse_id};
use crate::events::{EventRecord, NewEvent, Recorded, append_event, append_events};
use crate::{Result, StoreError, placeholders};

/// Most bound values in one `in (…)` list, well under SQLite's limit.
const IN_CHUNK: usize = 500;

/// An alarm to raise.
#[derive(Clone, Debug)]
pub struct NewAlarm {
    /// The letter.
    pub letter_id: LetterId,
    /// Its agency.
    pub agency_id: AgencyId,
    /// Why it is stuck.
    pub reason: HoldReason,
    /// Since when.
    pub since: String,
    /// Details for the event (never personal data).
    pub detail: serde_json::Value,
    /// The request that caused it.
    pub request_id: Option<String>,
}

/// A standing alarm, for the administrator's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckLetter {
    /// The letter.
    pub letter_id: LetterId,
    /// Its agency.
    pub agency_id: AgencyId,
    /// The agency's name.
    pub agency_name: String,
    /// The letter's status.
    pub status: LetterStatus,
    /// Why it is stuck.
    pub reason: HoldReason,
    /// Why, in words, when there is more to say (the render error).
    pub detail: Option<String>,
    /// Since when.
    pub since: String,
}

/// Opens an alarm row for each of `alarms` that has none standing, and records the event of
/// its kind for those. Returns the letters whose alarm was raised now, and the events.
pub async fn raise(conn: &mut AnyConnection, alarms: Vec<NewAlarm>, now: &str) -> Result<Recorded<Vec<LetterId>>> {
    let mut events = Vec::new();
    for a in alarms {
        let detail_text = a.detail.get("reason").and_then(|r| r.as_str()).map(str::to_owned);
        // A cleared alarm is opened again; a standing one is left as it is.
        let reopened = sqlx::query(
            "update letter_alarm set cleared_at = null, since = $1, detail = $2, created_at = $3 \
             where letter_id = $4 and reason = $5 and cleared_at is not null",
        )
        .bind(&a.since)
        .bind(detail_text.clone())
        .bind(now)
        .bind(a.letter_id.to_string())
        .bind(a.reason.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        let opened = reopened == 1
            || sqlx::query(
                "insert into letter_alarm (letter_id, agency_id, reason, detail, since, created_at) \
                 values ($1, $2, $3, $4, $5, $6) on conflict (letter_id, reason) do nothing",
            )
            .bind(a.letter_id.to_string())
            .bind(a.agency_id.to_string())
            .bind(a.reason.as_str())
            .bind(detail_text)
            .bind(&a.since)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1;
        if opened {
            events.push(NewEvent {
                agency_id: a.agency_id,
                letter_id: a.letter_id,
                kind: a.reason.into(),
                status: LetterStatus::QueuedForPrint,
                detail: Some(a.detail),
                request_id: a.request_id,
            });
        }
    }
    let raised = events.iter().map(|e| e.letter_id).collect();
    Ok(Recorded::new(raised, append_events(conn, events).await?))
}

/// Clears the standing alarms of `letters` (all reasons, or only `reason`). Returns the alarms
/// cleared, as they stood.
pub async fn clear(
    conn: &mut AnyConnection,
    letters: &[LetterId],
    reason: Option<HoldReason>,
    now: &str,
) -> Result<Vec<(LetterId, HoldReason, Option<String>, String)>> {
    let mut cleared = Vec::new();
    for chunk in letters.chunks(IN_CHUNK) {
        let list = placeholders(2, chunk.len());
        let only = if reason.is_some() { format!(" and reason = ${}", chunk.len() + 2) } else { String::new() };
        let sql = format!(
            "update letter_alarm set cleared_at = $1 where cleared_at is null and letter_id in ({list}){only} \
             returning letter_id, reason, detail, since"
        );
        let mut q = sqlx::query(&sql).bind(now);
        for l in chunk {
            q = q.bind(l.to_string());
        }
        if let Some(r) = reason {
            q = q.bind(r.as_str());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let reason_text: String = row.try_get(1)?;
            let reason = HoldReason::parse(&reason_text)
                .ok_or_else(|| StoreError::Corrupt(format!("alarm reason {reason_text:?}")))?;
            cleared.push((parse_id(&row.try_get::<String, _>(0)?)?, reason, row.try_get(2)?, row.try_get(3)?));
        }
    }
    Ok(cleared)
}

/// Raises `unroutable` for each live letter waiting for print whose postcode no site serves and
/// that has no such alarm standing. Returns the letters newly reported, and their events.
pub async fn find_unroutable(conn: &mut AnyConnection, now: &str) -> Result<Recorded<Vec<LetterId>>> {
    let sites = agencies::list_sites(&mut *conn).await?;
    // Thailand has about a thousand postcodes: the distinct ones waiting are few.
    let postcodes: Vec<String> = sqlx::query(
        "select distinct postcode from letter where status = 'queued_for_print' and test = 0 and print_hold is null",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<std::result::Result<_, _>>()?;
    let unserved: Vec<String> =
        postcodes.into_iter().filter(|p| agencies::site_for_postcode(&sites, p).is_none()).collect();
    let mut alarms = Vec::new();
    for chunk in unserved.chunks(IN_CHUNK) {
        let list = placeholders(1, chunk.len());
        let sql = format!(
            "select letter_id, agency_id, postcode, updated_at from letter l where status = 'queued_for_print' \
             and test = 0 and print_hold is null and postcode in ({list}) and not exists (select 1 from letter_alarm a \
             where a.letter_id = l.letter_id and a.reason = 'unroutable' and a.cleared_at is null) order by letter_id"
        );
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = q.bind(p.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let postcode: String = row.try_get(2)?;
            alarms.push(NewAlarm {
                letter_id: parse_id(&row.try_get::<String, _>(0)?)?,
                agency_id: parse_id(&row.try_get::<String, _>(1)?)?,
                reason: HoldReason::Unroutable,
                since: row.try_get(3)?,
                detail: serde_json::json!({
                    "postcode": postcode,
                    "reason": format!("no print site serves postcode {postcode}"),
                }),
                request_id: None,
            });
        }
    }
    raise(conn, alarms, now).await
}

/// Clears `unroutable` for letters that a site now serves (or that are no longer waiting), so
/// they leave the list and go into their site's next batch. Returns the letters cleared.
pub async fn reroute(conn: &mut AnyConnection, now: &str) -> Result<Vec<LetterId>> {
    let sites = agencies::list_sites(&mut *conn).await?;
    let rows = sqlx::query(
        "select a.letter_id, l.postcode, l.status from letter_alarm a join letter l on l.letter_id = a.letter_id \
         where a.reason = 'unroutable' and a.cleared_at is null",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut moving = Vec::new();
    for r in &rows {
        let postcode: String = r.try_get(1)?;
        let status: String = r.try_get(2)?;
        if status != LetterStatus::QueuedForPrint.as_str() || agencies::site_for_postcode(&sites, &postcode).is_some() {
            moving.push(parse_id(&r.try_get::<String, _>(0)?)?);
        }
    }
    clear(conn, &moving, Some(HoldReason::Unroutable), now).await?;
    Ok(moving)
}

/// Raises `print_overdue` for each live letter that has waited for print, unchanged, since
/// before `cutoff` with no alarm standing in that time (a letter already reported as held or
/// unroutable is not reported again; after its alarm clears, its wait counts afresh). At most
/// `limit` letters a call. Returns the letters newly reported, and their events.
pub async fn find_overdue(
    conn: &mut AnyConnection,
    cutoff: &str,
    alarm_after_hours: u64,
    limit: i64,
    now: &str,
) -> Result<Recorded<Vec<LetterId>>> {
    let rows = sqlx::query(
        "select letter_id, agency_id, updated_at from letter l where status = 'queued_for_print' and test = 0 \
         and updated_at < $1 and not exists (select 1 from letter_alarm a where a.letter_id = l.letter_id \
         and (a.cleared_at is null or a.cleared_at >= $1)) order by updated_at, letter_id limit $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut alarms = Vec::with_capacity(rows.len());
    for r in &rows {
        let since: String = r.try_get(2)?;
        alarms.push(NewAlarm {
            letter_id: parse_id(&r.try_get::<String, _>(0)?)?,
            agency_id: parse_id(&r.try_get::<String, _>(1)?)?,
            reason: HoldReason::PrintOverdue,
            detail: serde_json::json!({
                "since": since,
                "alarm_after_hours": alarm_after_hours,
                "reason": format!("waiting for print since {since}, longer than {alarm_after_hours} hours"),
            }),
            since,
            request_id: None,
        });
    }
    raise(conn, alarms, now).await
}

/// Every standing alarm of a letter still waiting for print, oldest first.
pub async fn list_stuck(conn: &mut AnyConnection) -> Result<Vec<StuckLetter>> {
    let rows = sqlx::query(
        "select a.letter_id, a.agency_id, g.name, l.status, a.reason, a.detail, a.since from letter_alarm a \
         join letter l on l.letter_id = a.letter_id join agency g on g.agency_id = a.agency_id \
         where a.cleared_at is null and l.status = 'queued_for_print' order by a.since, a.letter_id, a.reason",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get(3)?;
            let reason: String = r.try_get(4)?;
            Ok(StuckLetter {
                letter_id: parse_id(&r.try_get::<String, _>(0)?)?,
                agency_id: parse_id(&r.try_get::<String, _>(1)?)?,
                agency_name: r.try_get(2)?,
                status: status.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                reason: HoldReason::parse(&reason)
                    .ok_or_else(|| StoreError::Corrupt(format!("alarm reason {reason:?}")))?,
                detail: r.try_get(5)?,
                since: r.try_get(6)?,
            })
        })
        .collect()
}

/// Letters waiting for print with a standing alarm, per reason (every reason, zeros included).
pub async fn count_stuck(conn: &mut AnyConnection) -> Result<Vec<(HoldReason, i64)>> {
    let rows = sqlx::query(
        "select a.reason, count(*) from letter_alarm a join letter l on l.letter_id = a.letter_id \
         where a.cleared_at is null and l.status = 'queued_for_print' group by a.reason",
    )
    .fetch_all(conn)
    .await?;
    let mut counts: Vec<(HoldReason, i64)> = HoldReason::ALL.into_iter().map(|r| (r, 0)).collect();
    for r in &rows {
        let reason: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        if let Some(slot) = counts.iter_mut().find(|(h, _)| h.as_str() == reason) {
            slot.1 = n;
        }
    }
    Ok(counts)
}

/// Why a held letter cannot be retried.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// No such letter of this agency.
    #[error("no such letter")]
    NotFound,
    /// The letter is not held after a failed render.
    #[error("letter {letter_id} is {status} and not held after a failed render; only a held letter can be retried")]
    NotHeld {
        /// The letter.
        letter_id: LetterId,
        /// Where it is.
        status: LetterStatus,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Releases one of the agency's letters held after a failed render: it goes back into its
/// site's queue for the next batch, with a `print_retried` event naming the failure it had
/// (returned).
pub async fn retry_render(
    conn: &mut AnyConnection,
    agency_id: AgencyId,
    letter_id: LetterId,
    request_id: Option<&str>,
    now: &str,
) -> Result<EventRecord, RetryError> {
    let row = sqlx::query("select status, print_hold from letter where letter_id = $1 and agency_id = $2")
        .bind(letter_id.to_string())
        .bind(agency_id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::from)?
        .ok_or(RetryError::NotFound)?;
    let status: LetterStatus = row
        .try_get::<String, _>(0)
        .map_err(StoreError::from)?
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("{e}")))?;
    let hold: Option<String> = row.try_get(1).map_err(StoreError::from)?;
    let Some(hold) = hold.filter(|_| status == LetterStatus::QueuedForPrint) else {
        return Err(RetryError::NotHeld { letter_id, status });
    };
    let released = sqlx::query(
        "update letter set print_hold = null, updated_at = $1 where letter_id = $2 and status = 'queued_for_print' \
         and print_hold is not null",
    )
    .bind(now)
    .bind(letter_id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::from)?
    .rows_affected();
    if released != 1 {
        return Err(StoreError::Conflict(format!("letter {letter_id} changed while it was being retried")).into());
    }
    clear(conn, &[letter_id], Some(HoldReason::RenderFailed), now).await?;
    let event = append_event(
        conn,
        NewEvent {
            agency_id,
            letter_id,
            kind: EventKind::PrintRetried,
            status: LetterStatus::QueuedForPrint,
            detail: Some(serde_json::json!({"previous_reason": hold})),
            request_id: request_id.map(str::to_owned),
        },
    )
    .await?;
    Ok(event)
}
