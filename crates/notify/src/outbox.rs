//! What goes into the outbox: the rows of webhooks and e-mails, built here and stored through
//! `hybridpost_store::outbox` in the caller's transaction, so a notification is queued if and
//! only if the happening it announces commits.
//!
//! Callers ask explicitly: a write that records events gets them back from the store and hands
//! them to [`queue_event_webhooks`]; a reply or a return that the agency is told about by e-mail
//! calls [`queue_agency_notice`]; a digital letter's notice is [`digital_notice`].

use hybridpost_core::{AgencyId, EventKind, LetterId};
use hybridpost_store::agencies::{self, Agency};
use hybridpost_store::events::EventRecord;
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::outbox::{self, NewNotification, NotificationKind, WebhookEndpoint, purpose};
use hybridpost_store::{AnyConnection, StoreError};

/// The body of the webhook that carries `event` (Standard Webhooks' `type` / `timestamp` /
/// `data` envelope).
pub fn event_webhook_body(event: &EventRecord) -> String {
    serde_json::json!({
        "type": format!("letter.{}", event.kind),
        "timestamp": event.created_at,
        "data": {
            "event_id": event.event_id.to_string(),
            "letter_id": event.letter_id.to_string(),
            "kind": event.kind,
            "status": event.status.as_str(),
            "detail": event.detail,
            "created_at": event.created_at,
        },
    })
    .to_string()
}

/// True for events that must not be pushed by webhook: a webhook that failed is reported on the
/// timeline and in the feed, not by another webhook to the same failing endpoints.
fn is_webhook_failure(event: &EventRecord) -> bool {
    event.kind == EventKind::NotificationFailed
        && event.detail.as_ref().and_then(|d| d.get("channel")).and_then(|c| c.as_str()) == Some("webhook")
}

/// The webhook rows for `events`: one per event and endpoint of the event's agency and mode
/// (test letters' events go to test endpoints only, live letters' to live ones) whose filter
/// takes the event's kind (an empty filter takes every kind).
pub fn event_webhooks(events: &[EventRecord], endpoints: &[WebhookEndpoint]) -> Vec<NewNotification> {
    let mut rows = Vec::new();
    for endpoint in endpoints {
        for event in events.iter().filter(|e| e.agency_id == endpoint.agency_id && e.test == endpoint.test) {
            if is_webhook_failure(event) || !(endpoint.events.is_empty() || endpoint.events.contains(&event.kind)) {
                continue;
            }
            rows.push(NewNotification {
                kind: NotificationKind::Webhook,
                purpose: purpose::EVENT,
                agency_id: Some(event.agency_id),
                letter_id: Some(event.letter_id),
                recipient: endpoint.endpoint_id.to_string(),
                payload: event_webhook_body(event),
            });
        }
    }
    rows
}

/// Queues the webhooks of `events` (see [`event_webhooks`]) in the caller's transaction, the one
/// that recorded them. Returns how many were queued.
pub async fn queue_event_webhooks(conn: &mut AnyConnection, events: &[EventRecord]) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let agencies: Vec<AgencyId> = events.iter().map(|e| e.agency_id).collect();
    let endpoints = outbox::endpoints_of(conn, &agencies).await?;
    let rows = event_webhooks(events, &endpoints);
    outbox::insert_notifications(conn, &rows).await?;
    Ok(rows.len())
}

/// A test webhook to `endpoint`, which an agency's admin sends from the console to see that
/// their receiver takes what hybridpost signs. It carries no letter: `type` is `test`.
pub fn test_webhook(endpoint: &WebhookEndpoint, now: &str) -> NewNotification {
    NewNotification {
        kind: NotificationKind::Webhook,
        purpose: purpose::TEST,
        agency_id: Some(endpoint.agency_id),
        letter_id: None,
        recipient: endpoint.endpoint_id.to_string(),
        payload: serde_json::json!({
            "type": "test",
            "timestamp": now,
            "data": {
                "endpoint_id": endpoint.endpoint_id.to_string(),
                "message": "A test webhook from hybridpost: this endpoint receives signed webhooks.",
            },
        })
        .to_string(),
    }
}

/// The row of a digital letter's e-mail notice to the citizen's verified address. The notifier
/// renders it when it sends: a notice and a secure link, never the letter's content.
pub fn digital_notice(letter: &LetterRecord, email: &str) -> NewNotification {
    NewNotification {
        kind: NotificationKind::Email,
        purpose: purpose::DIGITAL_LETTER,
        agency_id: Some(letter.agency_id),
        letter_id: Some(letter.letter_id),
        recipient: email.to_owned(),
        payload: serde_json::json!({"template": purpose::DIGITAL_LETTER}).to_string(),
    }
}

/// Queues a digital letter's notice (see [`digital_notice`]) in the caller's transaction, the
/// one storing the letter. Returns the notification's id.
pub async fn queue_digital_notice(
    conn: &mut AnyConnection,
    letter: &LetterRecord,
    email: &str,
) -> Result<String, StoreError> {
    let ids = outbox::insert_notifications(conn, &[digital_notice(letter, email)]).await?;
    ids.into_iter().next().ok_or_else(|| StoreError::Corrupt("no notification id".into()))
}

/// A notice for an agency about one of its letters.
#[derive(Clone, Debug)]
pub enum AgencyNotice {
    /// A citizen's reply arrived.
    ReplyReceived {
        /// Who sent it, as written on the reply (shown to the agency only).
        sender_name: String,
        /// When it arrived (UTC, RFC 3339).
        received_at: String,
        /// The answer read from its tick boxes, in Thai and English, when the letter asked
        /// a question.
        answer: Option<(String, String)>,
        /// Reply-sheet pages that had not arrived when the agency was told.
        missing_pages: Vec<i64>,
    },
    /// The letter came back undelivered.
    LetterReturned {
        /// Why, in Thai.
        reason: String,
        /// Why, in English.
        reason_en: String,
        /// When it came back (UTC, RFC 3339).
        returned_at: String,
    },
}

/// The e-mail row telling `agency` about its `letter`, or `None` when the agency has no contact
/// address. The payload names the template and carries its context.
pub fn agency_notice(agency: &Agency, letter: &LetterRecord, notice: &AgencyNotice) -> Option<NewNotification> {
    let contact = agency.contact_email.clone().filter(|c| !c.trim().is_empty())?;
    let agency_name_en = agency.name_en.clone().unwrap_or_else(|| agency.name.clone());
    // When, as each half's reader reads it: Bangkok time, the Buddhist era and `น.` in Thai.
    let moment = |at: &str| match hybridpost_store::parse_timestamp(at) {
        Ok(t) => (hybridpost_thai::format_thai_datetime(t), hybridpost_thai::format_english_datetime(t)),
        Err(_) => (at.to_owned(), at.to_owned()),
    };
    let (purpose, context) = match notice {
        AgencyNotice::ReplyReceived { sender_name, received_at, answer, missing_pages } => {
            let (th, en) = moment(received_at);
            let (answer_th, answer_en) = answer.clone().unzip();
            let missing = missing_pages.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            (
                purpose::REPLY_RECEIVED,
                serde_json::json!({
                    "agency_name": agency.name, "agency_name_en": agency_name_en, "sender_name": sender_name,
                    "letter_ref": letter.reference, "received_at": th, "received_at_en": en,
                    "answer": answer_th, "answer_en": answer_en, "missing_pages": missing,
                }),
            )
        }
        AgencyNotice::LetterReturned { reason, reason_en, returned_at } => {
            let (th, en) = moment(returned_at);
            (
                purpose::LETTER_RETURNED,
                serde_json::json!({
                    "agency_name": agency.name, "agency_name_en": agency_name_en,
                    "recipient_name": letter.recipient_name(), "letter_ref": letter.reference,
                    "returned_at": th, "returned_at_en": en, "reason": reason, "reason_en": reason_en,
                }),
            )
        }
    };
    // The letter's page in the agency console: a clerk opens it in a browser (the API's URL
    // would answer 401 there).
    let mode = if letter.test { "?mode=test" } else { "" };
    let link_path = format!("/console/letters/{}{mode}", letter.letter_id);
    Some(NewNotification {
        kind: NotificationKind::Email,
        purpose,
        agency_id: Some(agency.agency_id),
        letter_id: Some(letter.letter_id),
        recipient: contact,
        payload: serde_json::json!({"template": purpose, "context": context, "link_path": link_path}).to_string(),
    })
}

/// Queues the e-mail about `letter_id` to its agency's contact address (see [`agency_notice`])
/// in the caller's transaction. Returns `None` when the agency has no contact address. The
/// webhook for the same happening goes out with the event the caller records (`reply_received`,
/// `returned`) and queues with [`queue_event_webhooks`].
pub async fn queue_agency_notice(
    conn: &mut AnyConnection,
    agency_id: AgencyId,
    letter_id: LetterId,
    notice: &AgencyNotice,
) -> Result<Option<String>, StoreError> {
    let agency = agencies::get_agency(conn, agency_id)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("no agency {agency_id}")))?;
    let letter = letters::get_letter_any_agency(conn, letter_id)
        .await?
        .filter(|l| l.agency_id == agency_id)
        .ok_or_else(|| StoreError::Invalid(format!("no letter {letter_id} of agency {agency_id}")))?;
    let Some(row) = agency_notice(&agency, &letter, notice) else {
        return Ok(None);
    };
    Ok(outbox::insert_notifications(conn, &[row]).await?.into_iter().next())
}
