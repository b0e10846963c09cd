//! Periodic checks: digital letters not opened in time go to paper; agencies hear about failed
//! notifications in a digest, at most once per `digest_interval`.

use hybridpost_core::LetterStatus;
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::letters::{self, TransitionFailure};
use hybridpost_store::outbox::{self, NewNotification, NotificationKind, purpose};
use hybridpost_store::{agencies, now_text, timestamp_text};

use crate::NotifierState;

/// Letters handled per check run.
const CHECK_BATCH: i64 = 500;
/// Failures listed in one digest.
const DIGEST_MAX: i64 = 200;

/// Moves every digital letter notified more than `open_timeout` ago and still unopened to
/// `queued_for_print`, with the reason on its timeline. Returns how many moved.
pub async fn fall_back_unopened(state: &NotifierState) -> anyhow::Result<usize> {
    let cutoff = timestamp_text(time::OffsetDateTime::now_utc() - state.config.open_timeout);
    let due = {
        let mut conn = state.store.read().await?;
        outbox::unopened_before(&mut conn, &cutoff, CHECK_BATCH).await?
    };
    let hours = state.config.open_timeout.as_secs() / 3600;
    let mut moved = 0;
    for (letter_id, agency_id) in due {
        let mut tx = state.store.begin().await?;
        let detail = serde_json::json!({"reason": "not_opened", "open_timeout_hours": hours});
        match letters::transition(&mut tx, agency_id, letter_id, LetterStatus::QueuedForPrint, Some(detail), None).await
        {
            Ok(fell) => {
                queue_event_webhooks(&mut tx, &fell.events).await?;
                tx.commit().await?;
                moved += 1;
                tracing::info!(letter.id = %letter_id, "digital letter {letter_id} not opened in time; sent to paper");
            }
            // Opened (or replied to) meanwhile: nothing to do.
            Err(TransitionFailure::NotAllowed(_) | TransitionFailure::NotFound) => {}
            Err(TransitionFailure::Store(e)) if e.is_unique_violation() => {}
            Err(TransitionFailure::Store(e)) => return Err(e.into()),
        }
    }
    Ok(moved)
}

/// Queues a `failure_digest` e-mail to every agency that has failed notifications not yet
/// reported and has not had a digest within `digest_interval`. Returns how many were queued.
pub async fn send_failure_digests(state: &NotifierState) -> anyhow::Result<usize> {
    let not_since = timestamp_text(time::OffsetDateTime::now_utc() - state.config.digest_interval);
    let due = {
        let mut conn = state.store.read().await?;
        outbox::agencies_due_for_digest(&mut conn, &not_since).await?
    };
    let mut queued = 0;
    for agency_id in due {
        let mut tx = state.store.begin().await?;
        let Some(agency) = agencies::get_agency(&mut tx, agency_id).await? else { continue };
        let failures = outbox::undigested_failures(&mut tx, agency_id, DIGEST_MAX).await?;
        if failures.is_empty() {
            continue;
        }
        let now = now_text();
        let ids: Vec<String> = failures.iter().map(|f| f.notification_id.clone()).collect();
        if let Some(contact) = agency.contact_email.clone().filter(|c| !c.trim().is_empty()) {
            let mut rows = Vec::with_capacity(failures.len());
            for f in &failures {
                let letter_ref = match f.letter_id {
                    Some(id) => letters::get_letter_any_agency(&mut tx, id).await?.map(|l| l.reference),
                    None => None,
                };
                rows.push(serde_json::json!({
                    "letter_ref": letter_ref.unwrap_or_else(|| "-".into()),
                    "channel": f.kind.as_str(),
                    "recipient": masked_recipient(f),
                    "failed_at": f.failed_at.clone().unwrap_or_default(),
                    "error": f.last_error.clone().unwrap_or_default(),
                }));
            }
            let first = failures.first().and_then(|f| f.failed_at.clone()).unwrap_or_default();
            let payload = serde_json::json!({
                "template": purpose::FAILURE_DIGEST,
                "context": {
                    "agency_name": agency.name,
                    "agency_name_en": agency.name_en.clone().unwrap_or_else(|| agency.name.clone()),
                    "period": format!("{} – {}", short_time(&first), short_time(&now)),
                    "failures": rows,
                },
                "link_path": "/v1/events",
            });
            outbox::insert_notifications(
                &mut tx,
                &[NewNotification {
                    kind: NotificationKind::Email,
                    purpose: purpose::FAILURE_DIGEST,
                    agency_id: Some(agency_id),
                    letter_id: None,
                    recipient: contact,
                    payload: payload.to_string(),
                }],
            )
            .await?;
            queued += 1;
        }
        // Without a contact address the failures are still in the event feed; they are marked
        // so that they are not looked at again.
        outbox::mark_digested(&mut tx, agency_id, &ids, &now).await?;
        tx.commit().await?;
    }
    Ok(queued)
}

/// The recipient as an agency may see it in a digest: an e-mail address with its mailbox
/// masked (`s***@example.co.th`), or the webhook endpoint's id.
fn masked_recipient(n: &outbox::Notification) -> String {
    match n.kind {
        NotificationKind::Email => match n.recipient.split_once('@') {
            Some((local, domain)) => {
                format!("{}***@{domain}", local.chars().next().map(String::from).unwrap_or_default())
            }
            None => "***".into(),
        },
        NotificationKind::Webhook => format!("webhook {}", n.recipient),
    }
}

fn short_time(stored: &str) -> String {
    stored.get(..16).unwrap_or(stored).replace('T', " ") + " UTC"
}
