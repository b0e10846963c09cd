//! The letter status machine.
//!
//! Paper: accepted → queued_for_print → batched → printed → dispatched → delivered | returned.
//! Digital: accepted → notified → opened; a digital letter that bounces or is not opened in time
//! falls back to paper (notified → queued_for_print). A letter can be cancelled only before it
//! is batched. A reply can arrive at any point after dispatch (or after the digital notice),
//! and more than one may arrive. Every change is an event on the letter's timeline.

use crate::wire::wire_enum;

wire_enum! {
    /// Where a letter is in its life.
    pub enum LetterStatus ("letter status") {
        /// Accepted from the agency, channel chosen, nothing sent yet.
        Accepted = "accepted",
        /// Waiting for the next print batch of its site.
        QueuedForPrint = "queued_for_print",
        /// In a print batch that has not been printed yet.
        Batched = "batched",
        /// Printed by the post office.
        Printed = "printed",
        /// Handed to the postal network, with a tracking number.
        Dispatched = "dispatched",
        /// Delivered to the recipient's address.
        Delivered = "delivered",
        /// Came back undeliverable.
        Returned = "returned",
        /// The citizen was sent the digital notice.
        Notified = "notified",
        /// The citizen opened the digital letter.
        Opened = "opened",
        /// Cancelled by the agency before it was batched.
        Cancelled = "cancelled",
        /// The citizen replied (on paper or online).
        ReplyReceived = "reply_received",
    }
}

impl LetterStatus {
    /// The statuses this one may move to.
    pub fn next(self) -> &'static [LetterStatus] {
        use LetterStatus::*;
        match self {
            Accepted => &[QueuedForPrint, Notified, Cancelled],
            // Batched → queued_for_print: the letter was taken out of a batch (it failed to
            // render, or the batch was discarded before printing) and waits for the next one.
            QueuedForPrint => &[Batched, Cancelled],
            Batched => &[Printed, QueuedForPrint],
            Printed => &[Dispatched],
            Dispatched => &[Delivered, Returned, ReplyReceived],
            Delivered => &[ReplyReceived],
            Notified => &[Opened, QueuedForPrint, ReplyReceived],
            Opened => &[ReplyReceived],
            ReplyReceived => &[ReplyReceived],
            Returned | Cancelled => &[],
        }
    }

    /// Moves to `to`, or says why the letter cannot.
    pub fn transition(self, to: LetterStatus) -> Result<LetterStatus, TransitionError> {
        if self.next().contains(&to) { Ok(to) } else { Err(TransitionError { from: self, to }) }
    }

    /// True while the agency may still cancel the letter.
    pub fn can_cancel(self) -> bool {
        self.next().contains(&LetterStatus::Cancelled)
    }

    /// True once the letter has left hybridpost's hands: handed to the post or sent as a digital
    /// notice. Only such a letter can be withdrawn; before that it is cancelled (or, in a print
    /// batch, it will still be printed and posted).
    pub fn is_out(self) -> bool {
        use LetterStatus::*;
        matches!(self, Dispatched | Delivered | Returned | Notified | Opened | ReplyReceived)
    }

    /// True when nothing more can happen to the letter.
    pub fn is_final(self) -> bool {
        self.next().is_empty()
    }
}

/// A move the status machine does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a letter that is {from} cannot become {to}{}", hint(*.from, *.to))]
pub struct TransitionError {
    /// Where the letter is.
    pub from: LetterStatus,
    /// Where it was asked to go.
    pub to: LetterStatus,
}

fn hint(from: LetterStatus, to: LetterStatus) -> &'static str {
    match (from, to) {
        (_, LetterStatus::Cancelled) if from.is_final() => " (it is already final)",
        (_, LetterStatus::Cancelled) => {
            " (letters can be cancelled only before they are put in a print batch or sent digitally)"
        }
        _ if from.is_final() => " (it is final)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::LetterStatus::*;
    use super::*;

    /// The allowed moves, written out independently of `next()`.
    const ALLOWED: &[(LetterStatus, LetterStatus)] = &[
        (Accepted, QueuedForPrint),
        (Accepted, Notified),
        (Accepted, Cancelled),
        (QueuedForPrint, Batched),
        (QueuedForPrint, Cancelled),
        (Batched, Printed),
        (Batched, QueuedForPrint),
        (Printed, Dispatched),
        (Dispatched, Delivered),
        (Dispatched, Returned),
        (Dispatched, ReplyReceived),
        (Delivered, ReplyReceived),
        (Notified, Opened),
        (Notified, QueuedForPrint),
        (Notified, ReplyReceived),
        (Opened, ReplyReceived),
        (ReplyReceived, ReplyReceived),
    ];

    #[test]
    fn every_pair_of_statuses_is_allowed_exactly_when_listed() {
        let mut checked = 0;
        for &from in LetterStatus::ALL {
            for &to in LetterStatus::ALL {
                let allowed = ALLOWED.contains(&(from, to));
                let result = from.transition(to);
                assert_eq!(result.is_ok(), allowed, "{from} → {to}");
                if let Err(e) = result {
                    assert_eq!((e.from, e.to), (from, to));
                    assert!(e.to_string().contains(from.as_str()));
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 121);
    }

    #[test]
    fn cancelling_after_batching_says_why() {
        let err = Batched.transition(Cancelled).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a letter that is batched cannot become cancelled (letters can be cancelled only before they are put in a print batch or sent digitally)"
        );
        assert!(Accepted.can_cancel() && QueuedForPrint.can_cancel());
        assert!(!Batched.can_cancel() && !Notified.can_cancel() && !Cancelled.can_cancel());
    }

    #[test]
    fn only_returned_and_cancelled_are_final() {
        let finals: Vec<_> = LetterStatus::ALL.iter().copied().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [Returned, Cancelled]);
    }

    #[test]
    fn every_status_is_reachable_from_accepted() {
        let mut seen = vec![Accepted];
        let mut i = 0;
        while i < seen.len() {
            for &n in seen[i].next() {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
            i += 1;
        }
        assert_eq!(seen.len(), LetterStatus::ALL.len());
    }

    #[test]
    fn statuses_round_trip_through_their_names_and_json() {
        for &s in LetterStatus::ALL {
            assert_eq!(s.as_str().parse::<LetterStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert!("lost".parse::<LetterStatus>().is_err());
    }
}
