//! What can go wrong while rendering.

use crate::fonts::Weight;

/// An error from building or writing a document.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A font file could not be parsed.
    #[error("the {weight:?} font is not a TrueType or OpenType font that can be read")]
    UnreadableFont {
        /// Which of the two faces it was.
        weight: Weight,
    },
    /// The text has a character the font cannot draw; printing it would leave a blank box.
    #[error(
        "the {weight:?} font has no glyph for “{character}” ({}); remove or replace the character",
        .character.escape_unicode()
    )]
    MissingGlyph {
        /// The character.
        character: char,
        /// The face that lacks it.
        weight: Weight,
    },
    /// A paragraph whose font size or line height is not a positive number.
    #[error("font size {size} pt with line height {line_height} cannot be laid out; both must be positive")]
    InvalidSize {
        /// The font size in points.
        size: f32,
        /// The line height factor.
        line_height: f32,
    },
    /// A page id that does not belong to this document.
    #[error("page {page} does not exist; the document has {count} pages")]
    NoSuchPage {
        /// Zero-based page index asked for.
        page: usize,
        /// Number of pages in the document.
        count: usize,
    },
    /// Something would be drawn (partly) off the page.
    #[error(
        "{what} at x {x} mm, y {y} mm, {width} × {height} mm does not fit on the \
         {page_width} × {page_height} mm page"
    )]
    OutsidePage {
        /// What was being placed.
        what: &'static str,
        /// Left edge, mm from the left of the page.
        x: f32,
        /// Top edge, mm from the top of the page.
        y: f32,
        /// Width in mm.
        width: f32,
        /// Height in mm.
        height: f32,
        /// Page width in mm.
        page_width: f32,
        /// Page height in mm.
        page_height: f32,
    },
    /// A [`crate::Resume`] that does not point into the paragraph it was used with.
    #[error("resume offset {offset} is not a character boundary of this {len}-byte paragraph")]
    InvalidResume {
        /// The byte offset in the resume point.
        offset: usize,
        /// Length of the paragraph text in bytes.
        len: usize,
    },
    /// The font could not be subset for embedding.
    #[error("subsetting the {weight:?} font failed: {reason}")]
    Subset {
        /// Which face.
        weight: Weight,
        /// What the subsetter reported.
        reason: String,
    },
    /// A letter without body paragraphs: a template letter must be filled in before it is
    /// rendered.
    #[error("the letter has no body paragraphs to print")]
    NoBody,
    /// The recipient's name and address do not fit the envelope window even at the
    /// smallest size allowed.
    #[error("the recipient's name and address do not fit the envelope window; shorten the address lines")]
    AddressDoesNotFit,
    /// A block of a letter with a fixed place (the reference, the agency's address, a
    /// line too tall for a page) does not fit the room it has.
    #[error("a part of the letter does not fit its place on the page; shorten it")]
    BlockDoesNotFit,
    /// A QR symbol whose module list does not make a QR square.
    #[error(
        "a QR symbol of {size} modules per side cannot have {modules} modules; QR symbols are 21 to 177 modules square"
    )]
    InvalidQr {
        /// Modules per side given.
        size: usize,
        /// Number of modules given.
        modules: usize,
    },
    /// A QR symbol with too many modules for its printed size: its modules would print
    /// smaller than a scanner reads reliably.
    #[error(
        "the {what} has {size} modules per side; printed {printed_mm} mm wide its modules would be under {min_module_mm} mm"
    )]
    QrTooDense {
        /// Which code it is.
        what: &'static str,
        /// Modules per side.
        size: usize,
        /// Printed width of the symbol in mm.
        printed_mm: f32,
        /// Smallest module allowed, in mm.
        min_module_mm: f32,
    },
    /// The letter asks for a reply but no reply sheet (with its page codes) was given.
    #[error("the letter asks for a reply by a deadline, but no reply sheet with reply codes was given to print")]
    ReplySheetMissing,
    /// A reply sheet without pages, or with more than the reply code can number.
    #[error("a reply sheet has 1 to 255 pages, not {pages}")]
    ReplyPages {
        /// Pages given.
        pages: usize,
    },
    /// The letter's text could not be made from its content template.
    #[error(transparent)]
    Content(#[from] crate::ContentError),
    /// The PDF writer reported an error.
    #[error("writing the PDF failed: {0}")]
    Pdf(String),
    /// A PDF brought by an agency that cannot be added to a print batch.
    #[error("the letter's PDF cannot be used: {0}")]
    ForeignPdf(String),
    /// A document set in other fonts than its print batch: its pages refer to the
    /// batch's embedded fonts, so it must be composed with the same [`crate::Fonts`].
    #[error("the document is set in other fonts than the print batch")]
    OtherFonts,
    /// A letter committed to a print batch without pages.
    #[error("the letter has no pages")]
    EmptyLetter,
    /// Writing the batch file failed.
    #[error("writing the print batch failed: {0}")]
    Io(#[from] std::io::Error),
    /// An earlier write of this print batch failed, so the file is incomplete.
    #[error("the print batch file is incomplete after an earlier write error")]
    BatchFailed,
}
