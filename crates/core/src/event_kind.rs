//! The kinds of event on a letter's timeline, in one list.
//!
//! A status change is an event named after the new status (`batched`); the other events are
//! named here. Code that records an event uses these constants, and the webhook filter accepts
//! exactly [`all`], so a kind the service emits can always be subscribed to.

use crate::LetterStatus;

/// The letter could not be laid out in its print batch; it is held until the agency retries.
pub const RENDER_FAILED: &str = "render_failed";
/// No print site serves the letter's postcode; it waits until one does.
pub const UNROUTABLE: &str = "unroutable";
/// The letter has waited for print longer than `print_alarm_after_hours`.
pub const PRINT_OVERDUE: &str = "print_overdue";
/// The agency asked to print a held letter again.
pub const PRINT_RETRIED: &str = "print_retried";
/// The agency withdrew a letter that is out: its seal stops verifying as genuine.
pub const WITHDRAWN: &str = "withdrawn";
/// A citizen opened the letter's digital copy with its PIN.
pub const OPENED_WITH_PIN: &str = "opened_with_pin";
/// An e-mail or webhook about the letter was given up.
pub const NOTIFICATION_FAILED: &str = "notification_failed";

/// The recipient confirmed an e-mail address with the letter's PIN: a confirmation letter goes
/// to their postal address and the change waits out its cooling-off period.
pub const CHANNEL_CHANGE_REQUESTED: &str = "channel_change_requested";
/// The cooling-off period passed: the recipient's letters now go to the address.
pub const CHANNEL_CHANGE_EFFECTIVE: &str = "channel_change_effective";
/// The change was stopped (or undone) with the code printed on the confirmation letter.
pub const CHANNEL_CHANGE_STOPPED: &str = "channel_change_stopped";
/// The recipient went back to paper from a digital notice.
pub const CHANNEL_RETURNED_TO_PAPER: &str = "channel_returned_to_paper";

/// Event kinds that are not status names.
pub const OTHER: [&str; 11] = [
    RENDER_FAILED,
    UNROUTABLE,
    PRINT_OVERDUE,
    PRINT_RETRIED,
    WITHDRAWN,
    OPENED_WITH_PIN,
    NOTIFICATION_FAILED,
    CHANNEL_CHANGE_REQUESTED,
    CHANNEL_CHANGE_EFFECTIVE,
    CHANNEL_CHANGE_STOPPED,
    CHANNEL_RETURNED_TO_PAPER,
];

/// Every event kind: each status name, then the others.
pub fn all() -> impl Iterator<Item = &'static str> {
    LetterStatus::ALL.into_iter().map(LetterStatus::as_str).chain(OTHER)
}

/// True when `kind` names an event the service records.
pub fn is_known(kind: &str) -> bool {
    all().any(|k| k == kind)
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
        match self {
            HoldReason::RenderFailed => RENDER_FAILED,
            HoldReason::Unroutable => UNROUTABLE,
            HoldReason::PrintOverdue => PRINT_OVERDUE,
        }
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
    fn every_kind_is_listed_once_and_statuses_are_kinds() {
        let kinds: Vec<&str> = all().collect();
        let mut unique = kinds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len(), "{kinds:?}");
        assert_eq!(kinds.len(), LetterStatus::ALL.len() + OTHER.len());
        assert!(is_known("batched") && is_known("unroutable") && is_known("opened_with_pin"));
        assert!(!is_known("letter.batched") && !is_known(""));
    }

    #[test]
    fn hold_reasons_are_event_kinds_and_round_trip() {
        for r in HoldReason::ALL {
            assert!(is_known(r.as_str()));
            assert_eq!(HoldReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert_eq!(HoldReason::parse("late"), None);
    }
}
