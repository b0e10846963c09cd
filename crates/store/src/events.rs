//! Events on letters' timelines, and each agency's event feed.
//!
//! The feed is ordered by (`tx_order`, `seq`) and paged by a cursor holding both. On SQLite,
//! with its single writer, `tx_order` is 0 and `seq` order is commit order. On PostgreSQL,
//! `tx_order` is the writing transaction's id and the feed shows only events of transactions
//! older than every transaction still running, so a reader's cursor never passes an event that
//! has yet to commit. Writers take no shared lock for this, so letters from one agency are
//! inserted in parallel.
//!
//! The store records events; it does not announce them. Every function that records events
//! returns them (as [`Recorded`] when it has a result of its own), and the caller queues their
//! webhooks in the same transaction with `hybridpost_notify::queue_event_webhooks`.

use std::collections::HashMap;

use hybridpost_core::{AgencyId, AgencyScope, EventId, EventKind, LetterId, LetterStatus};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, now_text, values_rows};

/// An event to record.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The agency that owns the letter.
    pub agency_id: AgencyId,
    /// The letter.
    pub letter_id: LetterId,
    /// What happened (the new status for status changes).
    pub kind: EventKind,
    /// The letter's status after the event.
    pub status: LetterStatus,
    /// Details, JSON (never personal data).
    pub detail: Option<serde_json::Value>,
    /// The request that caused it.
    pub request_id: Option<String>,
}

/// A recorded event. One just written must have its webhooks queued by the writer.
#[must_use = "queue a recorded event's webhooks in the same transaction"]
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// Unique id.
    pub event_id: EventId,
    /// The owning agency.
    pub agency_id: AgencyId,
    /// Whether its letter is a test letter (copied from the letter when the event is written):
    /// test events reach only test keys' feeds and test endpoints.
    pub test: bool,
    /// Position in the feed.
    pub cursor: FeedCursor,
    /// The letter.
    pub letter_id: LetterId,
    /// What happened.
    pub kind: EventKind,
    /// The letter's status after it.
    pub status: LetterStatus,
    /// Details.
    pub detail: Option<serde_json::Value>,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// When.
    pub created_at: String,
}

/// A store write's result with the events it recorded. Their webhooks are the caller's to
/// queue, in the same transaction (`hybridpost_notify::queue_event_webhooks`).
#[must_use = "queue the recorded events' webhooks in the same transaction"]
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded<T> {
    /// What the write returns.
    pub value: T,
    /// The events it recorded, in order.
    pub events: Events,
}

impl<T> Recorded<T> {
    /// `value` with the events `events`.
    pub fn new(value: T, events: impl Into<Events>) -> Self {
        Recorded { value, events: events.into() }
    }
}

/// Events just recorded, in order: their webhooks are the writer's to queue, in the same
/// transaction (`hybridpost_notify::queue_event_webhooks`).
#[must_use = "queue the recorded events' webhooks in the same transaction"]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Events(pub Vec<EventRecord>);

impl std::ops::Deref for Events {
    type Target = [EventRecord];
    fn deref(&self) -> &[EventRecord] {
        &self.0
    }
}

impl From<Vec<EventRecord>> for Events {
    fn from(events: Vec<EventRecord>) -> Self {
        Events(events)
    }
}

/// A position in an agency's event feed: events after it come after it in the feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedCursor {
    /// The writing transaction's order (0 on SQLite).
    pub tx_order: i64,
    /// The event's sequence number.
    pub seq: i64,
}

// A cursor is written as a UUID (the two numbers as its two halves), so that it has the shape
// of every other cursor of the API (`format: uuid`). Any UUID is a position in the feed: the
// halves are capped at the largest position. The older `tx-seq` form is still read.
impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let half = |n: i64| u64::try_from(n).unwrap_or(0);
        uuid::Uuid::from_u64_pair(half(self.tx_order), half(self.seq)).hyphenated().fmt(f)
    }
}

impl std::str::FromStr for FeedCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Ok(id) = uuid::Uuid::parse_str(s) {
            let (tx, seq) = id.as_u64_pair();
            let capped = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            return Ok(FeedCursor { tx_order: capped(tx), seq: capped(seq) });
        }
        let (tx, seq) = s.split_once('-').ok_or(())?;
        let cursor = FeedCursor { tx_order: tx.parse().map_err(|_| ())?, seq: seq.parse().map_err(|_| ())? };
        if cursor.tx_order < 0 || cursor.seq < 0 { Err(()) } else { Ok(cursor) }
    }
}

fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// Records an event. The caller queues its webhooks.
pub async fn append_event(conn: &mut AnyConnection, event: NewEvent) -> Result<EventRecord> {
    let Events(mut records) = append_events(conn, vec![event]).await?;
    records.pop().ok_or_else(|| StoreError::Corrupt("insert returned no event".into()))
}

/// Rows of one insert of events: 8 bound values each, 800 a statement (see
/// [`crate::BOUND_VALUES_PER_STATEMENT`]).
const EVENTS_PER_STATEMENT: usize = crate::BOUND_VALUES_PER_STATEMENT / 8;

/// Records several events, in the order given (a hundred to a statement). The
/// caller queues their webhooks.
pub async fn append_events(conn: &mut AnyConnection, events: Vec<NewEvent>) -> Result<Events> {
    if events.is_empty() {
        return Ok(Events::default());
    }
    let tx_order = if is_postgres(conn) { "pg_current_xact_id()::text::bigint" } else { "0" };
    let created_at = now_text();
    let mut records: Vec<EventRecord> = events
        .into_iter()
        .map(|event| EventRecord {
            event_id: EventId::new(),
            agency_id: event.agency_id,
            test: false,
            cursor: FeedCursor::default(),
            letter_id: event.letter_id,
            kind: event.kind,
            status: event.status,
            detail: event.detail,
            request_id: event.request_id,
            created_at: created_at.clone(),
        })
        .collect();
    // A batch of 5000 letters' events goes in statements of EVENTS_PER_STATEMENT rows.
    let index: HashMap<String, usize> = records.iter().enumerate().map(|(i, r)| (r.event_id.to_string(), i)).collect();
    for start in (0..records.len()).step_by(EVENTS_PER_STATEMENT) {
        let chunk = &records[start..(start + EVENTS_PER_STATEMENT).min(records.len())];
        let sql = format!(
            "insert into letter_event \
             (event_id, agency_id, tx_order, letter_id, kind, status, detail, request_id, created_at, test) \
             values {} returning event_id, tx_order, seq, test",
            values_rows(
                &format!(
                    "($1, $2, {tx_order}, $3, $4, $5, $6, $7, $8, \
                     (select l.test from letter l where l.letter_id = $3))"
                ),
                chunk.len()
            )
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query
                .bind(r.event_id.to_string())
                .bind(r.agency_id.to_string())
                .bind(r.letter_id.to_string())
                .bind(r.kind.as_str())
                .bind(r.status.as_str())
                .bind(r.detail.as_ref().map(|d| d.to_string()))
                .bind(r.request_id.clone())
                .bind(r.created_at.clone());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let event_id: String = row.try_get(0)?;
            let cursor = FeedCursor { tx_order: row.try_get(1)?, seq: row.try_get(2)? };
            let i = index
                .get(&event_id)
                .ok_or_else(|| StoreError::Corrupt(format!("insert returned an unknown event {event_id}")))?;
            records[*i].cursor = cursor;
            records[*i].test = row.try_get::<i64, _>(3)? != 0;
        }
    }
    Ok(Events(records))
}

const COLUMNS: &str =
    "event_id, agency_id, tx_order, seq, letter_id, kind, status, detail, request_id, created_at, test";

/// The agency's events of the caller's mode after `after`, in feed order, as far as every
/// writer has committed.
pub async fn list_events(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    after: FeedCursor,
    limit: i64,
) -> Result<Vec<EventRecord>> {
    let horizon =
        if is_postgres(conn) { " and tx_order < pg_snapshot_xmin(pg_current_snapshot())::text::bigint" } else { "" };
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from letter_event where agency_id = $1 and test = $5 \
         and (tx_order > $2 or (tx_order = $2 and seq > $3)){horizon} order by tx_order, seq limit $4"
    ))
    .bind(scope.agency_id.to_string())
    .bind(after.tx_order)
    .bind(after.seq)
    .bind(limit)
    .bind(crate::flag(scope.test))
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
        test: r.try_get::<i64, _>("test")? != 0,
        cursor: FeedCursor { tx_order: r.try_get("tx_order")?, seq: r.try_get("seq")? },
        letter_id: parse_id(&r.try_get::<String, _>("letter_id")?)?,
        kind: r.try_get::<String, _>("kind")?.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        status: status.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("event detail: {e}")))?,
        request_id: r.try_get("request_id")?,
        created_at: r.try_get("created_at")?,
    })
}
