//! Claiming, delivering and recording outbox rows.

use std::time::{Duration, Instant};

use anyhow::Context;
use hybridpost_core::LetterStatus;
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_notify::{OutgoingEmail, SendError, WebhookError, WebhookSecret};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, TransitionFailure};
use hybridpost_store::outbox::{self, Attempt, Fault, Notification, NotificationKind, purpose};
use hybridpost_store::{AnyConnection, agencies, now_text, parse_timestamp, timestamp_text};

use crate::NotifierState;
use crate::links::{link_token, token_hash};

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Delivered.
    pub sent: usize,
    /// Put back for a later attempt.
    pub retried: usize,
    /// Given up.
    pub failed: usize,
    /// Dropped (letter cancelled, endpoint deleted).
    pub cancelled: usize,
}

/// How a delivery went.
enum Outcome {
    Sent,
    /// Try again later, if time allows.
    Transient {
        error: String,
        fault: Fault,
    },
    /// Final.
    Permanent {
        error: String,
        fault: Fault,
    },
    /// Nothing to deliver any more.
    Cancelled(String),
}

/// The delay before attempt `attempt + 1`: `base · 2^(attempt-1)`, capped at `max`, then a
/// random point in its upper half ("equal jitter"), so that rows failing together spread out.
pub fn backoff_delay(attempt: i64, base: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 30) - 1).unwrap_or(0);
    let full = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let half = full / 2;
    half + full.mul_f64(rand::random::<f64>() / 2.0)
}

/// Claims up to `claim_batch` due rows, delivers them one after another, then records the
/// results together in one transaction. Tests call it to drain the outbox without sleeping.
///
/// One transaction for the step rather than one per row: on SQLite every commit waits for the
/// disk, and the single writer is shared with the whole service. Delivery stays at least once:
/// a row is recorded only after its delivery, so a crash before the commit leaves the step's
/// rows claimed until their lease ends, and they are delivered again then (with the same
/// Message-ID, which lets a mail system drop the copy).
pub async fn run_step(state: &NotifierState) -> anyhow::Result<StepReport> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let claimed = {
        let mut tx = state.store.begin().await?;
        let now = now_text();
        let until = crate::stored_time_after(state.config.lease);
        let rows = outbox::claim_due(&mut tx, &now, &until, &token, state.config.claim_batch).await?;
        store_links(state, &mut tx, &rows).await?;
        tx.commit().await?;
        rows
    };
    let mut report = StepReport { claimed: claimed.len(), ..Default::default() };
    let mut delivered = Vec::with_capacity(claimed.len());
    for n in claimed {
        let started_at = now_text();
        let clock = Instant::now();
        let outcome = deliver(state, &n).await;
        let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        delivered.push(Delivered { n, started_at, duration_ms, outcome });
    }
    match record_all(state, &token, &delivered).await {
        Ok(recorded) => {
            for (d, r) in delivered.iter().zip(recorded) {
                count(&d.n, r);
                match r {
                    Recorded::Sent => report.sent += 1,
                    Recorded::Retried => report.retried += 1,
                    Recorded::Failed => report.failed += 1,
                    Recorded::Cancelled => report.cancelled += 1,
                    Recorded::ClaimLost => {}
                }
            }
        }
        Err(e) => {
            let ids: Vec<&str> = delivered.iter().map(|d| d.n.notification_id.as_str()).collect();
            tracing::error!(
                notifications = ids.join(" "),
                "cannot record {} deliveries, they will be tried again when their claim ends: {e:#}",
                ids.len()
            );
        }
    }
    Ok(report)
}

/// Runs steps until nothing is due; returns the sum of their reports.
pub async fn drain(state: &NotifierState) -> anyhow::Result<StepReport> {
    let mut total = StepReport::default();
    loop {
        let r = run_step(state).await?;
        if r.claimed == 0 {
            return Ok(total);
        }
        total.claimed += r.claimed;
        total.sent += r.sent;
        total.retried += r.retried;
        total.failed += r.failed;
        total.cancelled += r.cancelled;
    }
}

async fn deliver(state: &NotifierState, n: &Notification) -> Outcome {
    let result = match n.kind {
        NotificationKind::Email => deliver_email(state, n).await,
        NotificationKind::Webhook => deliver_webhook(state, n).await,
    };
    result.unwrap_or_else(|e| {
        if e.downcast_ref::<hybridpost_store::StoreError>().is_some_and(|s| s.is_unavailable()) {
            Outcome::Transient { error: format!("{e:#}"), fault: Fault::Ours }
        } else {
            Outcome::Permanent { error: format!("{e:#}"), fault: Fault::Ours }
        }
    })
}

async fn deliver_email(state: &NotifierState, n: &Notification) -> anyhow::Result<Outcome> {
    let payload: serde_json::Value = serde_json::from_str(&n.payload).context("the stored payload is not JSON")?;
    let (template, context) = if n.purpose == purpose::DIGITAL_LETTER {
        match digital_letter_context(state, n).await? {
            NoticeContext::Ready(context) => (purpose::DIGITAL_LETTER.to_owned(), context),
            NoticeContext::NotWaiting(why) => return Ok(Outcome::Cancelled(why)),
        }
    } else {
        let template = payload["template"].as_str().context("the payload names no template")?.to_owned();
        let mut context = payload["context"].clone();
        if let Some(path) = payload["link_path"].as_str() {
            context["link"] =
                serde_json::Value::from(format!("{}{path}", state.config.public_url.trim_end_matches('/')));
        }
        (template, context)
    };
    let rendered = hybridpost_notify::render(&template, context).context("the e-mail template does not render")?;
    let email = OutgoingEmail::from_rendered(
        format!("{}@{}", n.notification_id, mail_domain(&state.config.mail_from)),
        state.config.mail_from.clone(),
        n.recipient.clone(),
        rendered,
    );
    Ok(match state.mailer.send(&email).await {
        Ok(_) => Outcome::Sent,
        Err(e) => email_failure(&e),
    })
}

/// What a digital letter's notice is sent with.
enum NoticeContext {
    /// The template's values, its link stored.
    Ready(serde_json::Value),
    /// The letter no longer waits for its notice (cancelled, withdrawn, gone to paper): why.
    NotWaiting(String),
}

/// Stores the link of each digital letter's notice among `claimed`, in the transaction that
/// claims them: the link must be there before the notice goes out. A retried notice keeps the
/// link (and expiry) its first attempt stored.
async fn store_links(state: &NotifierState, tx: &mut AnyConnection, claimed: &[Notification]) -> anyhow::Result<()> {
    for n in claimed {
        if let (NotificationKind::Email, purpose::DIGITAL_LETTER, Some(letter_id)) =
            (n.kind, n.purpose.as_str(), n.letter_id)
        {
            let link = outbox::DigitalLink {
                token_hash: token_hash(&link_token(&state.secret, &n.notification_id)),
                letter_id,
                expires_at: crate::stored_time_after(state.config.link_ttl),
                opened_at: None,
            };
            outbox::insert_link(tx, &link).await?;
        }
    }
    Ok(())
}

/// The values of a digital letter's notice; its link was stored when it was claimed.
async fn digital_letter_context(state: &NotifierState, n: &Notification) -> anyhow::Result<NoticeContext> {
    let letter_id = n.letter_id.context("a digital letter notice without its letter")?;
    let (letter, agency) = {
        let mut conn = state.store.read().await?;
        let letter = letters::get_letter_any_agency(&mut conn, letter_id).await?.context("the letter is gone")?;
        let agency = agencies::get_agency(&mut conn, letter.agency_id).await?.context("the agency is gone")?;
        (letter, agency)
    };
    if letter.status != LetterStatus::Accepted || letter.withdrawn.is_some() {
        return Ok(NoticeContext::NotWaiting(format!(
            "the letter is {} and no longer waits for its notice",
            letter.status.as_str()
        )));
    }
    let token = link_token(&state.secret, &n.notification_id);
    let link = {
        let mut conn = state.store.read().await?;
        outbox::find_link(&mut conn, &token_hash(&token)).await?.context("the link was not stored")?
    };
    let expires = parse_timestamp(&link.expires_at)?.to_offset(time::macros::offset!(+7)).date();
    let recipient_name = letter.recipient_name();
    Ok(NoticeContext::Ready(serde_json::json!({
        "recipient_name": recipient_name,
        "agency_name": agency.name,
        "agency_name_en": agency.name_en.clone().unwrap_or_else(|| agency.name.clone()),
        "letter_ref": letter.reference,
        "link": format!("{}/d/{token}", state.config.public_url.trim_end_matches('/')),
        "paper_link": crate::links::paper_link(&state.secret, &state.config.public_url, letter_id),
        "expires_on": hybridpost_thai::format_thai_date(expires),
        "expires_on_en": hybridpost_thai::format_english_date(expires),
    })))
}

fn mail_domain(from: &str) -> String {
    let addr = from.rsplit_once('<').map_or(from, |(_, a)| a).trim_end_matches('>').trim();
    addr.rsplit_once('@').map_or("hybridpost.invalid", |(_, d)| d).to_owned()
}

/// Whose fault an SMTP failure is: 5xx about the mailbox is the recipient's, refused
/// authentication or a message we could not build is ours, the rest of the transient ones the
/// network's (a 4xx about the mailbox, the recipient's).
fn email_failure(e: &SendError) -> Outcome {
    let error = e.to_string();
    match (e, e.smtp_code()) {
        (SendError::Permanent { .. }, Some(530 | 534 | 535 | 538)) => Outcome::Permanent { error, fault: Fault::Ours },
        (SendError::Permanent { .. }, Some(_)) => Outcome::Permanent { error, fault: Fault::Recipient },
        (SendError::Permanent { reason, .. }, None) if reason.contains("invalid To address") => {
            Outcome::Permanent { error, fault: Fault::Recipient }
        }
        (SendError::Permanent { .. }, None) => Outcome::Permanent { error, fault: Fault::Ours },
        (SendError::Transient { .. }, Some(450..=452)) => Outcome::Transient { error, fault: Fault::Recipient },
        (SendError::Transient { .. }, _) => Outcome::Transient { error, fault: Fault::Network },
    }
}

async fn deliver_webhook(state: &NotifierState, n: &Notification) -> anyhow::Result<Outcome> {
    let endpoint_id = n.recipient.parse().with_context(|| format!("webhook recipient {:?}", n.recipient))?;
    let endpoint = {
        let mut conn = state.store.read().await?;
        outbox::get_endpoint(&mut conn, endpoint_id).await?
    };
    let Some(endpoint) = endpoint else {
        return Ok(Outcome::Cancelled("the webhook endpoint was deleted".into()));
    };
    let raw = state
        .secret
        .unwrap_key(&endpoint.secret_wrapped, outbox::webhook_secret_context(endpoint.endpoint_id).as_bytes())
        .map_err(|e| anyhow::anyhow!("the endpoint's signing secret does not unwrap: {e}"))?;
    let secret = WebhookSecret::from_bytes(&raw);
    Ok(match state.webhooks.deliver(&endpoint.url, &secret, &n.notification_id, n.payload.as_bytes()).await {
        Ok(_) => Outcome::Sent,
        Err(e @ WebhookError::Permanent { status: None, .. }) => {
            Outcome::Permanent { error: e.to_string(), fault: Fault::Ours }
        }
        Err(e @ WebhookError::Permanent { .. }) => Outcome::Permanent { error: e.to_string(), fault: Fault::Recipient },
        // The endpoint points where webhooks may not go; nothing was sent, nothing received.
        Err(e @ WebhookError::Refused { .. }) => Outcome::Permanent { error: e.to_string(), fault: Fault::Recipient },
        Err(e @ WebhookError::Transient { status: Some(_), .. }) => {
            Outcome::Transient { error: e.to_string(), fault: Fault::Recipient }
        }
        Err(e @ WebhookError::Transient { status: None, .. }) => {
            Outcome::Transient { error: e.to_string(), fault: Fault::Network }
        }
    })
}

#[derive(Clone, Copy)]
enum Recorded {
    Sent,
    Retried,
    Failed,
    Cancelled,
    ClaimLost,
}

/// A claimed row after its delivery, waiting to be recorded.
struct Delivered {
    n: Notification,
    started_at: String,
    duration_ms: i64,
    outcome: Outcome,
}

/// Records the step's deliveries in one transaction; returns what became of each, in order.
async fn record_all(state: &NotifierState, token: &str, delivered: &[Delivered]) -> anyhow::Result<Vec<Recorded>> {
    if delivered.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_text();
    let mut tx = state.store.begin().await?;
    let mut recorded = Vec::with_capacity(delivered.len());
    for d in delivered {
        recorded.push(record(state, &mut tx, d, token, &now).await?);
    }
    tx.commit().await?;
    Ok(recorded)
}

/// Counts a recorded delivery in the metrics, and warns of one given up.
fn count(n: &Notification, recorded: Recorded) {
    match recorded {
        Recorded::Sent => {
            metrics::counter!("hybridpost_notifications_sent_total", "kind" => n.kind.as_str()).increment(1)
        }
        Recorded::Failed => {
            metrics::counter!("hybridpost_notifications_failed_total", "kind" => n.kind.as_str()).increment(1);
            tracing::warn!(notification.id = %n.notification_id, "notification {} given up", n.notification_id);
        }
        Recorded::Retried => {
            metrics::counter!("hybridpost_notification_retries_total", "kind" => n.kind.as_str()).increment(1);
        }
        Recorded::Cancelled | Recorded::ClaimLost => {}
    }
}

async fn record(
    state: &NotifierState,
    tx: &mut AnyConnection,
    d: &Delivered,
    token: &str,
    now: &str,
) -> anyhow::Result<Recorded> {
    let Delivered { n, started_at, duration_ms, outcome } = d;
    let (started_at, duration_ms) = (started_at.as_str(), *duration_ms);
    let attempt = |outcome: &str, error: Option<&str>| Attempt {
        attempt: n.attempts,
        started_at: started_at.to_owned(),
        outcome: outcome.to_owned(),
        error: error.map(str::to_owned),
        duration_ms,
    };
    Ok(match outcome {
        Outcome::Sent => {
            if !outbox::mark_sent(tx, &n.notification_id, token, now).await? {
                Recorded::ClaimLost
            } else {
                outbox::record_attempt(tx, &n.notification_id, &attempt("delivered", None)).await?;
                if n.purpose == purpose::DIGITAL_LETTER {
                    letter_notified(tx, n).await?;
                }
                Recorded::Sent
            }
        }
        Outcome::Cancelled(why) => {
            if outbox::mark_cancelled(tx, &n.notification_id, token, why).await? {
                Recorded::Cancelled
            } else {
                Recorded::ClaimLost
            }
        }
        Outcome::Transient { error, fault } => {
            let delay = backoff_delay(n.attempts, state.config.retry_base, state.config.retry_max);
            let next = time::OffsetDateTime::now_utc() + delay;
            let give_up = parse_timestamp(&n.created_at)? + state.config.give_up_after;
            if next <= give_up {
                if outbox::reschedule(tx, &n.notification_id, token, &timestamp_text(next), error).await? {
                    outbox::record_attempt(tx, &n.notification_id, &attempt("transient", Some(error))).await?;
                    Recorded::Retried
                } else {
                    Recorded::ClaimLost
                }
            } else {
                give_up_on(tx, n, token, now, &attempt("transient", Some(error)), *fault, true).await?
            }
        }
        Outcome::Permanent { error, fault } => {
            give_up_on(tx, n, token, now, &attempt("permanent", Some(error)), *fault, false).await?
        }
    })
}

/// Marks `n` failed, writes `notification_failed` on its letter, and sends a digital letter
/// whose notice cannot be delivered to paper.
async fn give_up_on(
    tx: &mut AnyConnection,
    n: &Notification,
    token: &str,
    now: &str,
    attempt: &Attempt,
    fault: Fault,
    retryable: bool,
) -> anyhow::Result<Recorded> {
    let error = attempt.error.clone().unwrap_or_default();
    if !outbox::mark_failed(tx, &n.notification_id, token, now, &error, fault, retryable).await? {
        return Ok(Recorded::ClaimLost);
    }
    outbox::record_attempt(tx, &n.notification_id, attempt).await?;
    let Some(letter_id) = n.letter_id else { return Ok(Recorded::Failed) };
    let Some(letter) = letters::get_letter_any_agency(tx, letter_id).await? else { return Ok(Recorded::Failed) };
    let event = events::append_event(
        tx,
        NewEvent {
            agency_id: letter.agency_id,
            letter_id,
            kind: hybridpost_core::EventKind::NotificationFailed,
            status: letter.status,
            detail: Some(serde_json::json!({
                "notification_id": n.notification_id,
                "channel": n.kind.as_str(),
                "purpose": n.purpose,
                "fault": fault.as_str(),
                "retryable": retryable,
                "attempts": n.attempts,
                "error": error,
            })),
            request_id: None,
        },
    )
    .await?;
    // A failed webhook is not pushed by webhook (see `event_webhooks`); a failed e-mail is.
    queue_event_webhooks(tx, &[event]).await?;
    if n.purpose == purpose::DIGITAL_LETTER && letter.status == LetterStatus::Accepted {
        let reason = if retryable { "email_undeliverable" } else { "email_rejected" };
        let detail =
            serde_json::json!({"reason": reason, "notification_id": n.notification_id, "fault": fault.as_str()});
        match letters::transition(tx, letter.agency_id, letter_id, LetterStatus::QueuedForPrint, Some(detail), None)
            .await
        {
            Ok(moved) => {
                queue_event_webhooks(tx, &moved.events).await?;
                tracing::info!(letter.id = %letter_id, "letter {letter_id} falls back to paper: {reason}");
            }
            Err(TransitionFailure::Store(e)) => return Err(e.into()),
            Err(e) => tracing::warn!(letter.id = %letter_id, "letter {letter_id} cannot fall back to paper: {e}"),
        }
    }
    Ok(Recorded::Failed)
}

/// The notice was handed to the mail server: the letter is `notified`.
async fn letter_notified(tx: &mut AnyConnection, n: &Notification) -> anyhow::Result<()> {
    let Some(letter_id) = n.letter_id else { return Ok(()) };
    let Some(letter) = letters::get_letter_any_agency(tx, letter_id).await? else { return Ok(()) };
    let detail = serde_json::json!({"notification_id": n.notification_id});
    match letters::transition(tx, letter.agency_id, letter_id, LetterStatus::Notified, Some(detail), None).await {
        Ok(moved) => {
            queue_event_webhooks(tx, &moved.events).await?;
            Ok(())
        }
        Err(TransitionFailure::Store(e)) => Err(e.into()),
        // Cancelled while the notice was on its way: the notice is out, the letter stays cancelled.
        Err(e) => {
            tracing::warn!(letter.id = %letter_id, "letter {letter_id} not marked notified: {e}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_in_the_upper_half() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        for (attempt, full) in [(1, 10), (2, 20), (3, 40), (6, 300), (40, 300)] {
            for _ in 0..50 {
                let d = backoff_delay(attempt, base, max);
                let full = Duration::from_secs(full);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn smtp_failures_are_blamed_on_the_right_side() {
        let perm = |code| SendError::Permanent { smtp_code: code, reason: "x".into() };
        let fault = |o: Outcome| match o {
            Outcome::Permanent { fault, .. } => ("permanent", fault),
            Outcome::Transient { fault, .. } => ("transient", fault),
            _ => unreachable!("only failures are classified"),
        };
        assert_eq!(fault(email_failure(&perm(Some(550)))), ("permanent", Fault::Recipient));
        assert_eq!(fault(email_failure(&perm(Some(535)))), ("permanent", Fault::Ours));
        assert_eq!(fault(email_failure(&perm(None))), ("permanent", Fault::Ours));
        let trans = |code| SendError::Transient { smtp_code: code, reason: "x".into() };
        assert_eq!(fault(email_failure(&trans(Some(451)))), ("transient", Fault::Recipient));
        assert_eq!(fault(email_failure(&trans(None))), ("transient", Fault::Network));
        assert_eq!(mail_domain("ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>"), "hybridpost.go.th");
        assert_eq!(mail_domain("noreply@x.example"), "x.example");
    }
}
