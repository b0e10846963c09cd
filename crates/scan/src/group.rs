//! Which letter each scanned page belongs to.
//!
//! Every page first gets a [`Mark`] from the codes found on it ([`classify`]): a reply code
//! (which letter, which page of its reply sheet), a letter's seal (page 1 of a letter), nothing
//! of ours, or a reason to show it to a person. Then [`group`] walks the pages in scan order:
//!
//! - a page with a reply code starts that letter's reply, or continues it when the reply is
//!   the one being built and the page number is new; the page numbers catch missing and
//!   shuffled pages;
//! - a page without any code follows the page before it (the citizen's extra sheets, backs of
//!   pages); with no page before it, it goes to review;
//! - in a batch of returns, a page with a letter's seal marks that letter returned, and the
//!   pages after it (the rest of the letter, its reply sheet) go with it; in a batch of
//!   replies, a seal page is the citizen sending the letter back with the reply, and joins or
//!   starts that letter's reply;
//! - a page that could not be read, whose code is damaged, forged or not genuine, or that
//!   carries codes of two letters goes to review, and so do the uncoded pages after it until
//!   the next coded page: attaching them to the reply before would guess.
//!
//! A page is never matched to a letter on anything weaker than a reply code whose MAC checks
//! or a seal whose signature verifies.

use hybridpost_seal::{REPLY_CODE_PREFIX, Reference, ReplyCode, ReplyCodeError, ReplyKey};

/// What kind of scan batch the operator uploaded (replies or returns).
pub use hybridpost_core::ScanMode as Mode;

/// Why a page goes to review.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReviewReason {
    /// The page could not be decoded as an image.
    Unreadable(String),
    /// A code was located on the page but its data could not be read.
    DamagedCode,
    /// A reply code whose MAC does not match, or a seal that is not genuine.
    Rejected(String),
    /// Codes of two different letters on one page.
    Conflict,
    /// No code, and no matched page before it to follow.
    NoCode,
    /// The search ran out of time without finding a code.
    TimedOut,
    /// No code, after a page that went to review.
    FollowsReview,
}

impl ReviewReason {
    /// A short stable name for records (`no_code`).
    pub fn code(&self) -> &'static str {
        match self {
            ReviewReason::Unreadable(_) => "unreadable",
            ReviewReason::DamagedCode => "damaged_code",
            ReviewReason::Rejected(_) => "rejected_code",
            ReviewReason::Conflict => "conflicting_codes",
            ReviewReason::NoCode => "no_code",
            ReviewReason::TimedOut => "timed_out",
            ReviewReason::FollowsReview => "follows_review",
        }
    }
}

impl std::fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReviewReason::Unreadable(why) => write!(f, "the page could not be read: {why}"),
            ReviewReason::DamagedCode => f.write_str("a code is printed on the page but could not be read"),
            ReviewReason::Rejected(why) => write!(f, "the page's code was refused: {why}"),
            ReviewReason::Conflict => f.write_str("the page carries the codes of two different letters"),
            ReviewReason::NoCode => f.write_str("no code on the page and no matched page before it"),
            ReviewReason::TimedOut => f.write_str("no code found within the page's time budget"),
            ReviewReason::FollowsReview => f.write_str("no code on the page, and the page before it went to review"),
        }
    }
}

/// What the codes on one page say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A reply page: its letter, its page number and the number of reply pages.
    Reply {
        /// The letter.
        reference: Reference,
        /// Page number, from 1.
        page: u8,
        /// Reply pages of the letter.
        pages: u8,
    },
    /// A page with the letter's genuine seal: page 1 of the letter.
    Seal {
        /// The letter.
        reference: Reference,
    },
    /// No code of ours on the page.
    Blank,
    /// The page goes to review whatever comes before it.
    Review(ReviewReason),
}

/// What the search of a page found, as [`classify`] needs it.
#[derive(Clone, Copy, Debug)]
pub struct PageCodes<'a> {
    /// Texts of the codes read.
    pub texts: &'a [String],
    /// Codes located but not read.
    pub unreadable: usize,
    /// Whether the search ran out of time.
    pub timed_out: bool,
}

/// The mark of a page from the texts of its codes. `seal_reference` checks a text that may be a
/// seal: `None` when the text is not a seal at all, `Some(Ok(reference))` for a genuine seal,
/// `Some(Err(why))` for a seal that does not verify.
pub fn classify(
    codes: PageCodes<'_>,
    reply_key: &ReplyKey,
    seal_reference: &dyn Fn(&str) -> Option<Result<Reference, String>>,
) -> Mark {
    let mut marks: Vec<Mark> = Vec::new();
    let mut rejected: Option<String> = None;
    for text in codes.texts {
        if text.get(..REPLY_CODE_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(REPLY_CODE_PREFIX)) {
            match ReplyCode::parse(text, reply_key) {
                Ok(code) => marks.push(Mark::Reply {
                    reference: code.reference().clone(),
                    page: code.page(),
                    pages: code.pages(),
                }),
                Err(ReplyCodeError::WrongPrefix) => {}
                Err(e) => rejected = Some(e.to_string()),
            }
            continue;
        }
        match seal_reference(text) {
            Some(Ok(reference)) => marks.push(Mark::Seal { reference }),
            Some(Err(why)) => rejected = Some(format!("the seal is not genuine: {why}")),
            None => {}
        }
    }
    let reference_of = |m: &Mark| match m {
        Mark::Reply { reference, .. } | Mark::Seal { reference } => Some(reference.clone()),
        _ => None,
    };
    let mut references: Vec<Reference> = marks.iter().filter_map(reference_of).collect();
    references.dedup();
    if references.len() > 1 {
        return Mark::Review(ReviewReason::Conflict);
    }
    // Two reply codes of one page must agree on the page number too.
    let replies: Vec<&Mark> = marks.iter().filter(|m| matches!(m, Mark::Reply { .. })).collect();
    if replies.windows(2).any(|w| w[0] != w[1]) {
        return Mark::Review(ReviewReason::Conflict);
    }
    if let Some(reply) = replies.first() {
        return (*reply).clone();
    }
    if let Some(seal) = marks.into_iter().next() {
        return seal;
    }
    if let Some(why) = rejected {
        return Mark::Review(ReviewReason::Rejected(why));
    }
    if codes.unreadable > 0 {
        return Mark::Review(ReviewReason::DamagedCode);
    }
    if codes.timed_out {
        return Mark::Review(ReviewReason::TimedOut);
    }
    Mark::Blank
}

/// What a group of pages is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// A citizen's reply to the letter.
    Reply,
    /// The letter came back undelivered.
    Returned,
}

/// Pages that belong to one letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Reply or return.
    pub kind: GroupKind,
    /// The letter.
    pub reference: Reference,
    /// Indexes of the pages (into the slice given to [`group`]), in document order: reply
    /// pages by page number, each followed by the uncoded pages scanned after it.
    pub pages: Vec<usize>,
    /// Reply pages the letter's reply sheet has that are not in the group.
    pub missing_pages: Vec<u8>,
    /// The reply pages were scanned out of order (the group puts them in order).
    pub out_of_order: bool,
}

/// The outcome of grouping a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grouping {
    /// Replies and returns, in the order their first page was scanned.
    pub groups: Vec<Group>,
    /// Pages for review, with why.
    pub review: Vec<(usize, ReviewReason)>,
}

/// A group being built: runs of one coded page and the uncoded pages after it.
struct Open {
    kind: GroupKind,
    reference: Reference,
    /// (reply page number, or 0 for a seal page; page indexes).
    runs: Vec<(u8, Vec<usize>)>,
    pages: u8,
}

impl Open {
    fn finish(self) -> Group {
        let numbers: Vec<u8> = self.runs.iter().map(|(n, _)| *n).filter(|n| *n > 0).collect();
        let out_of_order = numbers.windows(2).any(|w| w[0] > w[1]);
        let mut runs = self.runs;
        // Seal pages (0) first, then reply pages in order; a stable sort keeps scan order
        // among equals.
        runs.sort_by_key(|(n, _)| *n);
        let missing_pages = if self.kind == GroupKind::Reply {
            (1..=self.pages).filter(|p| !numbers.contains(p)).collect()
        } else {
            Vec::new()
        };
        Group {
            kind: self.kind,
            reference: self.reference,
            pages: runs.into_iter().flat_map(|(_, pages)| pages).collect(),
            missing_pages,
            out_of_order,
        }
    }

    fn has_reply_page(&self, page: u8) -> bool {
        self.runs.iter().any(|(n, _)| *n == page)
    }
}

/// Groups pages, given in scan order with their marks, into replies, returns and review.
/// Duplicates (pages seen before) must be left out by the caller.
pub fn group(marks: &[Mark], mode: Mode) -> Grouping {
    let mut out = Grouping::default();
    let mut open: Option<Open> = None;
    // Uncoded pages after a page that went to review go to review too.
    let mut after_review = false;
    let close = |open: &mut Option<Open>, out: &mut Grouping| {
        if let Some(g) = open.take() {
            out.groups.push(g.finish());
        }
    };
    for (index, mark) in marks.iter().enumerate() {
        match mark {
            Mark::Blank => match open.as_mut() {
                Some(g) if !after_review => {
                    g.runs.last_mut().expect("an open group has a run").1.push(index);
                }
                _ => out
                    .review
                    .push((index, if after_review { ReviewReason::FollowsReview } else { ReviewReason::NoCode })),
            },
            Mark::Review(reason) => {
                close(&mut open, &mut out);
                after_review = true;
                out.review.push((index, reason.clone()));
            }
            Mark::Reply { reference, page, pages } => {
                after_review = false;
                // In a batch of returns, a reply page goes with its returned letter (or, when the
                // letter's first page is missing, still says which letter came back).
                let kind = match mode {
                    Mode::Returns => GroupKind::Returned,
                    Mode::Replies => GroupKind::Reply,
                };
                let continues = open
                    .as_ref()
                    .is_some_and(|g| g.reference == *reference && g.kind == kind && !g.has_reply_page(*page));
                if continues {
                    let g = open.as_mut().expect("checked above");
                    g.pages = g.pages.max(*pages);
                    g.runs.push((*page, vec![index]));
                } else {
                    close(&mut open, &mut out);
                    open = Some(Open {
                        kind,
                        reference: reference.clone(),
                        runs: vec![(*page, vec![index])],
                        pages: *pages,
                    });
                }
            }
            Mark::Seal { reference } => {
                after_review = false;
                let kind = match mode {
                    Mode::Returns => GroupKind::Returned,
                    Mode::Replies => GroupKind::Reply,
                };
                let continues = open.as_ref().is_some_and(|g| {
                    g.reference == *reference && g.kind == kind && !g.runs.iter().any(|(n, _)| *n == 0)
                });
                if continues {
                    open.as_mut().expect("checked above").runs.push((0, vec![index]));
                } else {
                    close(&mut open, &mut out);
                    open = Some(Open { kind, reference: reference.clone(), runs: vec![(0, vec![index])], pages: 0 });
                }
            }
        }
    }
    close(&mut open, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(n: u8) -> Reference {
        Reference::from_bytes(&[n; 12]).expect("12 bytes is a reference length")
    }

    fn reply(n: u8, page: u8, pages: u8) -> Mark {
        Mark::Reply { reference: reference(n), page, pages }
    }

    fn seal(n: u8) -> Mark {
        Mark::Seal { reference: reference(n) }
    }

    fn key() -> ReplyKey {
        ReplyKey::from_bytes(&[7; 32]).expect("32 bytes")
    }

    fn no_seals(_: &str) -> Option<Result<Reference, String>> {
        None
    }

    #[test]
    fn uncoded_pages_follow_the_reply_before_them() {
        let g = group(&[reply(1, 1, 1), Mark::Blank, Mark::Blank, reply(2, 1, 1), Mark::Blank], Mode::Replies);
        assert!(g.review.is_empty());
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].pages, [0, 1, 2]);
        assert_eq!(g.groups[1].pages, [3, 4]);
        assert_eq!(g.groups[1].reference, reference(2));
    }

    #[test]
    fn an_uncoded_first_page_goes_to_review() {
        let g = group(&[Mark::Blank, reply(1, 1, 1)], Mode::Replies);
        assert_eq!(g.review, [(0, ReviewReason::NoCode)]);
        assert_eq!(g.groups[0].pages, [1]);
    }

    #[test]
    fn pages_after_an_unreadable_page_are_not_given_to_the_reply_before_it() {
        let g = group(
            &[reply(1, 1, 1), Mark::Review(ReviewReason::DamagedCode), Mark::Blank, reply(2, 1, 1)],
            Mode::Replies,
        );
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].pages, [0]);
        assert_eq!(g.review, [(1, ReviewReason::DamagedCode), (2, ReviewReason::FollowsReview)]);
    }

    #[test]
    fn missing_and_shuffled_reply_pages_are_caught_and_put_in_order() {
        let g = group(&[reply(1, 3, 3), Mark::Blank, reply(1, 1, 3)], Mode::Replies);
        assert_eq!(g.groups.len(), 1);
        let reply = &g.groups[0];
        assert_eq!(reply.missing_pages, [2]);
        assert!(reply.out_of_order);
        assert_eq!(reply.pages, [2, 0, 1]);
    }

    #[test]
    fn the_same_reply_page_again_starts_a_second_reply() {
        let g = group(&[reply(1, 1, 1), reply(1, 1, 1)], Mode::Replies);
        assert_eq!(g.groups.len(), 2);
    }

    #[test]
    fn a_seal_in_a_returns_batch_returns_the_letter_with_the_pages_after_it() {
        let g = group(&[seal(1), Mark::Blank, reply(1, 1, 1), seal(2)], Mode::Returns);
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].kind, GroupKind::Returned);
        assert_eq!(g.groups[0].pages, [0, 1, 2]);
        assert!(g.groups[0].missing_pages.is_empty());
        assert_eq!(g.groups[1].reference, reference(2));
    }

    #[test]
    fn a_seal_in_a_replies_batch_joins_the_reply_of_its_letter() {
        let g = group(&[reply(1, 1, 1), seal(1), Mark::Blank], Mode::Replies);
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].kind, GroupKind::Reply);
        assert_eq!(g.groups[0].pages, [1, 2, 0]);
    }

    #[test]
    fn codes_of_two_letters_on_one_page_go_to_review() {
        let k = key();
        let a = ReplyCode::new(reference(1), 1, 1).expect("page 1 of 1").to_text(&k);
        let b = ReplyCode::new(reference(2), 1, 1).expect("page 1 of 1").to_text(&k);
        let texts = [a.clone(), b];
        let mark = classify(PageCodes { texts: &texts, unreadable: 0, timed_out: false }, &k, &no_seals);
        assert_eq!(mark, Mark::Review(ReviewReason::Conflict));
        let texts = [a.clone(), a];
        let mark = classify(PageCodes { texts: &texts, unreadable: 0, timed_out: false }, &k, &no_seals);
        assert_eq!(mark, reply(1, 1, 1));
    }

    #[test]
    fn a_reply_code_under_another_key_is_refused_not_matched() {
        let other = ReplyKey::from_bytes(&[9; 32]).expect("32 bytes");
        let text = ReplyCode::new(reference(1), 1, 1).expect("page 1 of 1").to_text(&other);
        let texts = [text];
        let mark = classify(PageCodes { texts: &texts, unreadable: 0, timed_out: false }, &key(), &no_seals);
        assert!(matches!(mark, Mark::Review(ReviewReason::Rejected(_))), "{mark:?}");
    }

    #[test]
    fn a_page_with_a_located_but_unread_code_is_not_blank() {
        let none: [String; 0] = [];
        let mark = classify(PageCodes { texts: &none, unreadable: 1, timed_out: false }, &key(), &no_seals);
        assert_eq!(mark, Mark::Review(ReviewReason::DamagedCode));
        let mark = classify(PageCodes { texts: &none, unreadable: 0, timed_out: true }, &key(), &no_seals);
        assert_eq!(mark, Mark::Review(ReviewReason::TimedOut));
        let mark = classify(PageCodes { texts: &none, unreadable: 0, timed_out: false }, &key(), &no_seals);
        assert_eq!(mark, Mark::Blank);
    }

    #[test]
    fn other_barcodes_on_a_page_do_not_count() {
        let texts = ["https://example.com/".to_owned(), "4006381333931".to_owned()];
        let mark = classify(PageCodes { texts: &texts, unreadable: 0, timed_out: false }, &key(), &no_seals);
        assert_eq!(mark, Mark::Blank);
    }

    #[test]
    fn a_seal_that_does_not_verify_is_refused() {
        let texts = ["HTTPS://HP.GO.TH/V#AAAA".to_owned()];
        let bad = |_: &str| Some(Err("bad signature".to_owned()));
        let mark = classify(PageCodes { texts: &texts, unreadable: 0, timed_out: false }, &key(), &bad);
        assert!(matches!(mark, Mark::Review(ReviewReason::Rejected(_))));
    }
}
