//! The states of print batches and of scan back: what a batch of scanned files is for, where it and each of its
//! files are, and what became of each page. Stored as their wire names and shown in the
//! print-site API.

use crate::wire::wire_enum;

wire_enum! {
    /// Where a print batch is in its life.
    pub enum BatchStatus ("batch status") {
        /// Its letters are fixed; waiting to be rendered.
        Closed = "closed",
        /// A worker is rendering it.
        Rendering = "rendering",
        /// The PDF and manifest are ready to download and print.
        Ready = "ready",
        /// The site printed it.
        Printed = "printed",
        /// The site handed it to the postal network.
        Dispatched = "dispatched",
    }
}

wire_enum! {
    /// What kind of scan batch an operator uploaded.
    pub enum ScanMode ("scan mode") {
        /// Citizens' replies.
        Replies = "replies",
        /// Letters that came back undelivered.
        Returns = "returns",
    }
}

wire_enum! {
    /// Where a scan batch is.
    pub enum ScanStatus ("scan status") {
        /// Its files are being decoded.
        Decoding = "decoding",
        /// Every file is decoded; its pages are being grouped into replies and returns.
        Grouping = "grouping",
        /// Its pages are grouped.
        Done = "done",
    }
}

wire_enum! {
    /// Where one uploaded file of a scan batch is.
    pub enum ScanFileStatus ("scan file status") {
        /// Waiting for a decoding worker.
        Pending = "pending",
        /// A worker is decoding it.
        Decoding = "decoding",
        /// Its pages are decoded.
        Done = "done",
        /// It could not be read (refused at upload or while decoding).
        Failed = "failed",
    }
}

wire_enum! {
    /// What became of a scanned page.
    pub enum PageOutcome ("page outcome") {
        /// Decoded, not grouped yet.
        Decoded = "decoded",
        /// Part of a reply to a letter.
        Matched = "matched",
        /// A returned letter's page.
        Returned = "returned",
        /// Waiting for an operator: nothing trustworthy matched it.
        Review = "review",
        /// The same image as an earlier page.
        Duplicate = "duplicate",
        /// An operator assigned it to a letter.
        Assigned = "assigned",
        /// An operator discarded it.
        Discarded = "discarded",
    }
}

wire_enum! {
    /// How a reply was rebuilt.
    pub enum ReplySource ("reply source") {
        /// From pages matched by their codes.
        Scan = "scan",
        /// From pages an operator assigned.
        Review = "review",
    }
}
