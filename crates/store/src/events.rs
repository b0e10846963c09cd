//! Events on letters' timelines, and each agency's event feed.
//!
//! Each agency's events are numbered 1, 2, 3… by a counter on the agency row. Taking the next
//! number locks that row until the transaction ends, so events commit in number order and a
//! reader paging with `after = N` never skips an event that commits late.

use hybridpost_core::{AgencyId, EventId, LetterId, LetterStatus};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, now_text};

/// An event to record.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// The agency that owns the letter.
    pub agency_id: AgencyId,
    /// The letter.
    pub letter_id: LetterId,
    /// What happened (a status name for status changes).
    pub kind: &'a str,
    /// The letter's status after the event.
    pub status: LetterStatus,
    /// Details, JSON (never personal data).
    pub detail: Option<serde_json::Value>,
    /// The request that caused it.
    pub request_id: Option<&'a str>,
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// Unique id.
    pub event_id: EventId,
    /// The owning agency.
    pub agency_id: AgencyId,
    /// Position in the agency's feed.
    pub seq: i64,
    /// The letter.
    pub letter_id: LetterId,
    /// What happened.
    pub kind: String,
    /// The letter's status after it.
    pub status: LetterStatus,
    /// Details.
    pub detail: Option<serde_json::Value>,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// When.
    pub created_at: String,
}

/// Records an event, numbering it in its agency's feed.
pub async fn append_event(conn: &mut AnyConnection, event: NewEvent<'_>) -> Result<EventRecord> {
    let seq: i64 = sqlx::query("update agency set event_seq = event_seq + 1 where agency_id = $1 returning event_seq")
        .bind(event.agency_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("event for unknown agency {}", event.agency_id)))?
        .try_get(0)?;
    let record = EventRecord {
        event_id: EventId::new(),
        agency_id: event.agency_id,
        seq,
        letter_id: event.letter_id,
        kind: event.kind.to_owned(),
        status: event.status,
        detail: event.detail,
        request_id: event.request_id.map(str::to_owned),
        created_at: now_text(),
    };
    sqlx::query(
        "insert into letter_event (event_id, agency_id, seq, letter_id, kind, status, detail, request_id, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(record.event_id.to_string())
    .bind(record.agency_id.to_string())
    .bind(record.seq)
    .bind(record.letter_id.to_string())
    .bind(&record.kind)
    .bind(record.status.as_str())
    .bind(record.detail.as_ref().map(|d| d.to_string()))
    .bind(&record.request_id)
    .bind(&record.created_at)
    .execute(conn)
    .await?;
    Ok(record)
}

const COLUMNS: &str = "event_id, agency_id, seq, letter_id, kind, status, detail, request_id, created_at";

/// The agency's events after sequence number `after`, oldest first.
pub async fn list_events(
    conn: &mut AnyConnection,
    agency_id: AgencyId,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRecord>> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from letter_event where agency_id = $1 and seq > $2 order by seq limit $3"
    ))
    .bind(agency_id.to_string())
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// A letter's timeline, oldest first.
pub async fn letter_timeline(conn: &mut AnyConnection, letter_id: LetterId) -> Result<Vec<EventRecord>> {
    let rows = sqlx::query(&format!("select {COLUMNS} from letter_event where letter_id = $1 order by seq"))
        .bind(letter_id.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Number of events stored (all agencies).
pub async fn count_events(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query("select count(*) from letter_event").fetch_one(conn).await?.try_get(0)?)
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<EventRecord> {
    let detail: Option<String> = r.try_get("detail")?;
    let status: String = r.try_get("status")?;
    Ok(EventRecord {
        event_id: parse_id(&r.try_get::<String, _>("event_id")?)?,
        agency_id: parse_id(&r.try_get::<String, _>("agency_id")?)?,
        seq: r.try_get("seq")?,
        letter_id: parse_id(&r.try_get::<String, _>("letter_id")?)?,
        kind: r.try_get("kind")?,
        status: status.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("event detail: {e}")))?,
        request_id: r.try_get("request_id")?,
        created_at: r.try_get("created_at")?,
    })
}
