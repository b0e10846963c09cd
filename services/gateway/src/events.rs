//! `/v1/events`: the agency's event feed, paged by cursor. It is the source of truth for what
//! happened to letters; webhooks only push the same events.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use hybridpost_core::{EventId, EventKind, LetterId, LetterStatus};
use hybridpost_store::events::{self, EventRecord, FeedCursor};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, ListQuery, Page, paging};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// One event on a letter's timeline.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Unique id (use it to drop duplicates).
    pub event_id: EventId,
    /// The letter.
    pub letter_id: LetterId,
    /// What happened (the new status for status changes).
    pub kind: EventKind,
    /// The letter's status after the event.
    pub status: LetterStatus,
    /// Details of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
    /// When it happened (UTC).
    pub created_at: String,
    /// This event's position in the feed; `GET /v1/events?cursor=` it for the ones after.
    pub cursor: String,
}

impl From<&EventRecord> for Event {
    fn from(e: &EventRecord) -> Self {
        Event {
            event_id: e.event_id,
            letter_id: e.letter_id,
            kind: e.kind,
            status: e.status,
            detail: e.detail.clone(),
            created_at: e.created_at.clone(),
            cursor: e.cursor.to_string(),
        }
    }
}

/// A page of the event feed: `next_cursor` is always given (the feed has no last page).
pub type EventFeed = Page<Event>;

/// The agency's events, in the order they were committed, after a cursor.
///
/// Page with `cursor = next_cursor` until `items` is empty, then poll again later with the same
/// cursor. An event is listed once every transaction older than it has finished, so a reader
/// never skips one.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<Event>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    caller: AgencyCaller,
    uri: Uri,
) -> Result<Json<EventFeed>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<FeedCursor>()?;
    let after = request.after.unwrap_or_default();
    let mut conn = state.store.read().await?;
    let page = events::list_events(&mut conn, caller.scope(), after, request.limit).await?;
    // The feed has no last page: the cursor after this one, or the same cursor, to poll with.
    let next_cursor = Some(page.last().map_or(after, |e| e.cursor).to_string());
    Ok(Json(Page { items: page.iter().map(Event::from).collect(), next_cursor }))
}
