//! A letter's steps that an agency takes, shared by the API and the agency console: no rule is
//! written twice. Each runs in the caller's transaction, reads the letter through the caller's
//! scope (another agency's letter, or the other mode's, is not found), records the event and
//! queues its webhooks.

use hybridpost_core::{AgencyScope, EventKind, LetterId, LetterStatus};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::events::{self, NewEvent, Recorded};
use hybridpost_store::letters::{self, LetterRecord, TransitionFailure};
use hybridpost_store::{AnyConnection, StoreError, now_text};

/// Why a step was refused.
#[derive(Debug, thiserror::Error)]
pub enum StepRefused {
    /// No such letter in the caller's scope.
    #[error("no letter {0}")]
    NotFound(LetterId),
    /// The letter's status does not allow it; the text says why.
    #[error("{0}")]
    NotAllowed(String),
    /// The letter changed while the step ran: read it again and retry.
    #[error("the letter changed while it was being changed; read it and try again")]
    Changed,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an agency withdraws a letter that is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawReason {
    /// A newer letter replaces it.
    Superseded,
    /// The recipient reports it lost.
    ReportedLost,
}

impl WithdrawReason {
    /// As stored and sent in events.
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawReason::Superseded => "superseded",
            WithdrawReason::ReportedLost => "reported_lost",
        }
    }
}

/// Cancels a letter not yet in a print batch or sent digitally; its seal stops verifying as
/// genuine. Returns the letter as it now is.
pub async fn cancel(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    letter_id: LetterId,
    request_id: Option<&str>,
) -> Result<LetterRecord, StepRefused> {
    // Only a letter of the caller's agency and mode: a test key cannot cancel a live letter.
    letters::get_letter(conn, scope, letter_id).await?.ok_or(StepRefused::NotFound(letter_id))?;
    // A held letter's alarms end here, and its event says what held it (undone if refused).
    let held = crate::held::release_for_cancel(conn, letter_id).await?;
    let result = letters::transition(conn, scope.agency_id, letter_id, LetterStatus::Cancelled, held, request_id).await;
    let Recorded { value: mut record, events } = result.map_err(|e| match e {
        TransitionFailure::NotFound => StepRefused::NotFound(letter_id),
        TransitionFailure::NotAllowed(why) => StepRefused::NotAllowed(why.to_string()),
        TransitionFailure::Store(e) if e.is_unique_violation() => StepRefused::Changed,
        TransitionFailure::Store(e) => StepRefused::Store(e),
    })?;
    queue_event_webhooks(conn, &events).await?;
    // Its seal stops verifying as genuine: a cancelled letter is withdrawn.
    let now = now_text();
    if letters::withdraw(conn, letter_id, "cancelled", &now).await? {
        record.withdrawn = Some(("cancelled".to_owned(), now));
    }
    tracing::info!(letter.id = %letter_id, "letter {letter_id} cancelled");
    Ok(record)
}

/// Withdraws a letter that is already out: its seal stops verifying as genuine, on the
/// verification page and offline with this installation's data. Its delivery status does not
/// change.
pub async fn withdraw(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    letter_id: LetterId,
    reason: WithdrawReason,
    request_id: Option<String>,
) -> Result<LetterRecord, StepRefused> {
    let mut record = letters::get_letter(conn, scope, letter_id).await?.ok_or(StepRefused::NotFound(letter_id))?;
    if !record.status.is_out() {
        return Err(StepRefused::NotAllowed(format!(
            "letter {letter_id} is {} and has not reached the recipient: it would still be printed and posted; \
             cancel it instead (POST /v1/letters/{letter_id}/cancel) while it is not yet in a print batch",
            record.status.as_str()
        )));
    }
    let now = now_text();
    if !letters::withdraw(conn, letter_id, reason.as_str(), &now).await? {
        return Err(StepRefused::NotAllowed(format!("letter {letter_id} is already withdrawn")));
    }
    let event = events::append_event(
        conn,
        NewEvent {
            agency_id: scope.agency_id,
            letter_id,
            kind: EventKind::Withdrawn,
            status: record.status,
            detail: Some(serde_json::json!({"reason": reason.as_str()})),
            request_id,
        },
    )
    .await?;
    queue_event_webhooks(conn, &[event]).await?;
    record.withdrawn = Some((reason.as_str().to_owned(), now));
    tracing::info!(letter.id = %letter_id, "letter {letter_id} withdrawn: {}", reason.as_str());
    Ok(record)
}
