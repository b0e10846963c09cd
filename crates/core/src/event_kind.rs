//! The kinds of event on a letter's timeline, in one list.
//!
//! A status change is an event named after the new status (`batched`); the other events are
//! named here. Code that records an event names an [`EventKind`], and the webhook filter
//! accepts exactly [`EventKind::ALL`], so a kind the service emits can always be subscribed to.

use crate::LetterStatus;
use crate::wire::wire_enum;

wire_enum! {
    /// What happened to a letter: an event on its timeline, in its agency's feed and in
    /// webhooks. A status change is named after the new status.
    pub enum EventKind ("event kind") {
        /// Accepted from the agency (status `accepted`).
        Accepted = "accepted",
        /// Waiting for its site's next print batch.
        QueuedForPrint = "queued_for_print",
        /// In a print batch.
        Batched = "batched",
        /// Printed.
        Printed = "printed",
        /// Handed to the postal network.
        Dispatched = "dispatched",
        /// Delivered.
        Delivered = "delivered",
        /// Came back undeliverable.
        Returned = "returned",
        /// The digital notice was sent.
        Notified = "notified",
        /// The digital letter was opened.
        Opened = "opened",
        /// Cancelled before it was batched.
        Cancelled = "cancelled",
        /// A reply arrived.
        ReplyReceived = "reply_received",
        /// A person at the post office read the answer on a reply whose tick boxes the scanner
        /// could not read with certainty.
        ReplyAnswerReviewed = "reply_answer_reviewed",
        /// The letter could not be laid out in its print batch; it is held until the agency retries.
        RenderFailed = "render_failed",
        /// No print site serves the letter's postcode; it waits until one does.
        Unroutable = "unroutable",
        /// The letter has waited for print longer than `print_alarm_after_hours`.
        PrintOverdue = "print_overdue",
        /// The agency asked to print a held letter again.
        PrintRetried = "print_retried",
        /// The agency withdrew a letter that is out: its seal stops verifying as genuine.
        Withdrawn = "withdrawn",
        /// A citizen opened the letter's digital copy with its PIN.
        OpenedWithPin = "opened_with_pin",
        /// An e-mail or webhook about the letter was given up.
        NotificationFailed = "notification_failed",
        /// The recipient confirmed an e-mail address with the letter's PIN: a confirmation
        /// letter goes to their postal address and the change waits out its cooling-off period.
        ChannelChangeRequested = "channel_change_requested",
        /// The cooling-off period passed: the recipient's letters now go to the address.
        ChannelChangeEffective = "channel_change_effective",
        /// The change was stopped (or undone) with the code printed on the confirmation letter.
        ChannelChangeStopped = "channel_change_stopped",
        /// The recipient went back to paper from a digital notice.
        ChannelReturnedToPaper = "channel_returned_to_paper",
    }
}

impl From<LetterStatus> for EventKind {
    fn from(status: LetterStatus) -> Self {
        match status {
            LetterStatus::Accepted => EventKind::Accepted,
            LetterStatus::QueuedForPrint => EventKind::QueuedForPrint,
            LetterStatus::Batched => EventKind::Batched,
            LetterStatus::Printed => EventKind::Printed,
            LetterStatus::Dispatched => EventKind::Dispatched,
            LetterStatus::Delivered => EventKind::Delivered,
            LetterStatus::Returned => EventKind::Returned,
            LetterStatus::Notified => EventKind::Notified,
            LetterStatus::Opened => EventKind::Opened,
            LetterStatus::Cancelled => EventKind::Cancelled,
            LetterStatus::ReplyReceived => EventKind::ReplyReceived,
        }
    }
}

impl From<HoldReason> for EventKind {
    fn from(reason: HoldReason) -> Self {
        match reason {
            HoldReason::RenderFailed => EventKind::RenderFailed,
            HoldReason::Unroutable => EventKind::Unroutable,
            HoldReason::PrintOverdue => EventKind::PrintOverdue,
        }
    }
}

/// Why a letter waiting for print cannot move on by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// Its last render failed; it stays out of batches until the agency retries.
    RenderFailed,
    /// No print site serves its postcode.
    Unroutable,
    /// It has waited for print longer than the alarm age.
    PrintOverdue,
}

impl HoldReason {
    /// Every reason, for gauges and listings.
    pub const ALL: [HoldReason; 3] = [HoldReason::RenderFailed, HoldReason::Unroutable, HoldReason::PrintOverdue];

    /// The stored name, which is also the kind of the event that raised it.
    pub fn as_str(self) -> &'static str {
        EventKind::from(self).as_str()
    }

    /// Reads a stored name back.
    pub fn parse(s: &str) -> Option<HoldReason> {
        HoldReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for HoldReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_a_kind_of_the_same_name_and_names_round_trip() {
        for &status in LetterStatus::ALL {
            assert_eq!(EventKind::from(status).as_str(), status.as_str());
        }
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
            assert_eq!(serde_json::to_string(kind).unwrap(), format!("\"{kind}\""));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
        assert!("letter.batched".parse::<EventKind>().is_err() && "".parse::<EventKind>().is_err());
    }

    #[test]
    fn hold_reasons_are_event_kinds_and_round_trip() {
        for r in HoldReason::ALL {
            assert!(r.as_str().parse::<EventKind>().is_ok());
            assert_eq!(HoldReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert_eq!(HoldReason::parse("late"), None);
    }
}
