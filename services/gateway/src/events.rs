//! `/v1/events`: the agency's event feed, paged by cursor. It is the source of truth for what
//! happened to letters; webhooks only push the same events.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use hybridpost_core::{EventId, LetterId, LetterStatus};
use hybridpost_store::events::{self, EventRecord, FeedCursor};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, paging};
use serde::{Deserialize, Serialize};

use crate::AppState;

const MAX_PAGE: i64 = 500;

/// One event on a letter's timeline.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Unique id (use it to drop duplicates).
    pub event_id: EventId,
    /// The letter.
    pub letter_id: LetterId,
    /// What happened (a status name for status changes).
    pub kind: String,
    /// The letter's status after the event.
    pub status: LetterStatus,
    /// Details of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
    /// When it happened (UTC).
    pub created_at: String,
    /// This event's position in the feed; `GET /v1/events?after=` it for the ones after.
    pub cursor: String,
}

impl From<&EventRecord> for Event {
    fn from(e: &EventRecord) -> Self {
        Event {
            event_id: e.event_id,
            letter_id: e.letter_id,
            kind: e.kind.clone(),
            status: e.status,
            detail: e.detail.clone(),
            created_at: e.created_at.clone(),
            cursor: e.cursor.to_string(),
        }
    }
}

/// A page of the event feed.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventFeed {
    /// Events, oldest first.
    pub items: Vec<Event>,
    /// Pass as `after` to get the events after this page; the same cursor when there were none.
    pub next_cursor: String,
}

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Cursor: events after this one (from the start when not given).
    after: Option<String>,
    /// Events per page, 1 to 500 (100 when not given).
    limit: Option<i64>,
}

/// The agency's events, in the order they were committed, after a cursor.
///
/// Page with `after = next_cursor` until `items` is empty, then poll again later with the same
/// cursor. An event is listed once every transaction older than it has finished, so a reader
/// never skips one.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(FeedQuery),
    responses(
        (status = 200, description = "A page of events", body = EventFeed),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    caller: AgencyCaller,
    uri: Uri,
) -> Result<Json<EventFeed>, ApiError> {
    let q: FeedQuery = paging::query(&uri)?;
    let limit = paging::limit(q.limit, 100, MAX_PAGE)?;
    let after: FeedCursor = paging::cursor(q.after.as_deref().filter(|c| !c.is_empty()))?.unwrap_or_default();
    let mut conn = state.store.read().await?;
    let page = events::list_events(&mut conn, caller.scope(), after, limit).await?;
    let next_cursor = page.last().map_or(after, |e| e.cursor).to_string();
    Ok(Json(EventFeed { items: page.iter().map(Event::from).collect(), next_cursor }))
}
