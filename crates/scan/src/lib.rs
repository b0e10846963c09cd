//! Scan back: scanned files become page images, page images give up their QR codes, and pages
//! are grouped into the replies and returned letters they belong to.
//!
//! - [`input`]: a scanned file (multi-page PDF as document scanners write them, multi-page
//!   TIFF, PNG, JPEG, or a zip of those) read page by page under limits on bytes, pages and
//!   pixels, so a decompression bomb or a damaged file is an error for that file only.
//! - [`answers`]: the answer ticked on a reply page, read from its boxes, or why it cannot
//!   be read with certainty.
//! - [`find`]: the decoding pipeline on one page: where the codes are printed first, at reduced
//!   resolution, then the whole page, other orientations, binarisation and filtering, under a
//!   time budget, recording every step.
//! - [`group`]: which letter each page belongs to, from the codes found on it and the pages
//!   before it.
//! - [`document`]: the pages of one reply as a PDF, and thumbnails for the review queue.
//! - [`degrade`]: scanner damage for generated test scans (the corpus, the demo).
//! - [`pen`]: what citizens write on reply sheets, for generated test scans.
//!
//! This crate knows nothing of HTTP, SQL or async runtimes: bytes in, structs out. It must
//! never panic on untrusted input.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod answers;
pub mod degrade;
pub mod document;
pub mod find;
pub mod group;
pub mod input;
pub mod pen;
mod rows;
mod sample;

/// A rectangle on an A4 page in millimetres from the page's top-left corner, where a code is
/// printed (reply codes, the seal) with its quiet zone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AreaMm {
    /// Left side.
    pub x: f32,
    /// Top side.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}
