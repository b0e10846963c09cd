//! Agencies' own PDFs for hybridpost: checking that a document will print as sent, and
//! appending its pages after the cover page that carries the address, seal and PIN.
//!
//! An agency may send the PDF its correspondence system (e-Saraban) exported instead of
//! body text. The service then prints a cover page of its own — the recipient's address
//! for the window of a DL envelope, the verification seal, the PIN — followed by the
//! agency's pages exactly as they came. [`check`] says before anything is printed whether
//! those pages will print well, listing every problem at once, page by page, in Thai and
//! English, so that the agency can fix its file in one round. [`append_pages`] builds the
//! document the print room receives.
//!
//! This crate takes bytes and returns bytes and reports: no HTTP, SQL, async runtime or
//! file access.
//!
//! # The rules, and why each exists
//!
//! Each is a common reason print rooms and mail houses refuse a file (compare the
//! preflight profiles of PDF/X, ISO 15930, and the pre-press checks of mail houses):
//!
//! - **Readable** (`damaged`): a file that does not parse as a PDF, has no page tree, or
//!   has a page whose content cannot be decoded prints blank or not at all. An empty file
//!   and a file over [`Rules::max_bytes`] (`too_large`, checked before parsing) are refused
//!   too.
//! - **Within the reader's limits** (`too_complex`): before the file is read its structure
//!   is surveyed ([`hybridpost_pdfguard`]): nesting deeper than 64 levels, stream lengths
//!   referring through more than 4 objects, more than 500,000 cross-reference entries or
//!   1,000,000 objects, more than 160 MiB of memory to hold it or 1 GiB of bytes to
//!   process are refused, naming the limit; nothing else is checked then. Real documents
//!   stay far below (see [`reader_limits`]).
//! - **Not encrypted** (`encrypted`): a password-protected file cannot be opened by the
//!   print room's software; a file with an `/Encrypt` dictionary but no open password can
//!   still forbid printing, or print degraded, depending on the software. Either way the
//!   service cannot vouch for what comes out, so any `/Encrypt` in the trailer is refused.
//!   When the file opens without a password the other checks still run.
//! - **Page count** (`too_many_pages`): a DL envelope holds a few folded sheets; postage
//!   and folding machines are set for it. Default at most 20 pages ([`Rules::max_pages`]).
//! - **A4 portrait** (`page_size`): the printers hold A4 paper, and the address, seal and
//!   folding are laid out for it. A page of any other size would be scaled or cropped.
//!   The shown size counts: the crop box (within the media box), turned by `/Rotate`.
//!   Tolerance ±2 mm ([`Rules::size_tolerance_mm`]).
//! - **Printable area** (`content_in_margin`): office and production printers do not print
//!   the outer few millimetres of a sheet; what lies there is cut off. Default 5 mm from
//!   each edge ([`Rules::margin_mm`]). White fills (a page background) put no ink on paper
//!   and do not count; neither does invisible text (the OCR layer of a scan).
//! - **Address window** (`content_in_window`): the address shows through the window of a
//!   DL envelope (DIN 680: 90 × 45 mm, 20 mm from the left and 45 mm from the top of the
//!   unfolded A4 sheet, see [`DL_WINDOW_MM`]). Our own cover page carries the address, and
//!   it is what the window shows, so by default the agency's pages are not checked for
//!   this. Set [`Rules::first_page_in_window`] where the agency's first page goes into the
//!   envelope first instead (the address printed onto it): that area must then be blank.
//! - **Reserved areas** (`content_in_reserved_area`): where the service prints onto the
//!   agency's own pages ([`Rules::reserved`]), as it prints the reply codes and the reference
//!   on every page of a form returned as a reply, every page must be blank, or the two would
//!   print over each other and the codes would not scan.
//! - **Fonts embedded** (`font_not_embedded`): a font the file does not carry is replaced
//!   by whatever the printer has; Thai text then prints as boxes or with misplaced vowels.
//!   This includes the 14 standard PDF fonts (Helvetica, Times…): print rooms require every
//!   font embedded. Fonts are looked for in each page's resources, in form XObjects and
//!   patterns within them, and in annotations' appearance streams. Type3 fonts are drawn by
//!   the file itself and need no embedding.
//! - **No active content** (`active_content`): JavaScript, launch actions and embedded files
//!   do nothing on paper and a print service does not run or open them; a file that
//!   carries them is refused.
//! - **Image resolution** (`low_resolution_image`, a warning): an image printed below
//!   150 dpi ([`Rules::min_image_dpi`]) looks blurred or jagged. It still prints, so this
//!   only warns. Images smaller than 5 mm on paper are not rated.
//! - **Scanned pages** (`full_page_image`, a warning): an image covering 90% or more of the
//!   page, a scanned sheet usually, is not counted as content in the margin or the window:
//!   its white edges are paper, and whether ink reaches the margin is in its pixels, which
//!   are not read. The warning says that the outer margin of that page will not print.
//! - **Bounded work** (`page_too_complex`): a page whose content takes more than
//!   [`Rules::max_operations_per_page`] tokens to read is refused rather than checked for
//!   minutes; so is what remains of a document once ten times that is spent.
//!
//! # What the content check reads, and what it does not
//!
//! Each page's content is interpreted for where it puts ink: the graphics state (`q`/`Q`,
//! `cm`, line width, fill and stroke colour), paths and their painting (`n` paints
//! nothing), clipping paths (as their bounding boxes), text (font widths from `/Widths`,
//! `/W` and `/FirstChar`, size, spacing, scaling and rise; height from the descriptor's
//! ascent and descent or the font box), images (the unit square under the CTM), inline
//! images, form XObjects (their matrix and box, nested up to 12 deep), shadings (`sh`
//! fills the clip) and printing annotations (their rectangles). Its limits:
//!
//! - bounds are boxes: a curve counts its control points, a rotated shape its bounding box,
//!   a glyph its advance width times the font's full height; so it may report content a
//!   little nearer an edge than it is, never farther;
//! - text in a font without widths (an unembedded standard font, usually) is sized at
//!   0.6 em per glyph and the message says the widths were estimated; codes of Type0 fonts
//!   are read as two bytes (Identity-H and the usual CJK encodings) and written
//!   horizontally;
//! - colours other than DeviceGray, DeviceRGB and DeviceCMYK count as ink even when white;
//!   white images count as ink; text clipping modes do not narrow the clip;
//! - Type3 glyph procedures and the cells of tiling patterns are not interpreted (the area
//!   they fill counts), nor are annotation appearances (their whole rectangle counts).

#![forbid(unsafe_code)]

mod active;
mod append;
mod check;
mod content;
mod fonts;
mod geometry;
mod lexer;
mod objects;
mod pages;
mod stamp;

use serde::Serialize;

pub use append::{AppendError, append_pages};
pub use check::{Busy, check, check_waiting};
pub use stamp::{StampError, stamp_pages};

/// What a PDF may make the reader do before it is refused as `too_complex`: the guard's
/// defaults (generous for official letters with attachments: hundreds of pages, thousands
/// of objects, tens of megabytes), with content streams decoded up to 64 MiB each.
pub fn reader_limits() -> hybridpost_pdfguard::Limits {
    hybridpost_pdfguard::Limits { max_decoded_stream_bytes: content::MAX_STREAM_BYTES, ..Default::default() }
}

/// The window of a DL (110 × 220 mm) window envelope as DIN 680 places it, on the
/// unfolded A4 sheet in millimetres from its top-left corner: x, y, width, height.
pub const DL_WINDOW_MM: (f64, f64, f64, f64) = (20.0, 45.0, 90.0, 45.0);

/// What the agency's document must meet. [`Rules::default`] holds the print rooms' values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rules {
    /// Largest file accepted, in bytes; larger ones are refused before they are read.
    pub max_bytes: usize,
    /// Most pages accepted.
    pub max_pages: u32,
    /// How far a page's width and height may be from A4 (210 × 297 mm), in mm.
    pub size_tolerance_mm: f64,
    /// The unprintable margin along each edge, in mm.
    pub margin_mm: f64,
    /// Check page 1 for content in the envelope window ([`DL_WINDOW_MM`]); only where the
    /// agency's first page, not our cover page, goes behind the window.
    pub first_page_in_window: bool,
    /// Warn about images printed below this resolution (dpi); `None` turns it off.
    pub min_image_dpi: Option<f64>,
    /// Tokens of content read per page at most before the page is refused as too complex.
    pub max_operations_per_page: u64,
    /// Areas every page must leave blank (`content_in_reserved_area`): where the service
    /// prints on the agency's pages, such as the reply codes on a form returned as a reply.
    pub reserved: Vec<ReservedArea>,
}

/// An area of every page the service prints into, in mm from the page's top-left corner,
/// with its name for the messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReservedArea {
    /// Left side, mm.
    pub x_mm: f64,
    /// Top, mm.
    pub y_mm: f64,
    /// Width, mm.
    pub width_mm: f64,
    /// Height, mm.
    pub height_mm: f64,
    /// What is printed there, in Thai ("ที่พิมพ์รหัสตอบกลับมุมขวาบน").
    pub name_th: String,
    /// What is printed there, in English ("the top-right reply code place").
    pub name_en: String,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pages: 20,
            size_tolerance_mm: 2.0,
            margin_mm: 5.0,
            first_page_in_window: false,
            min_image_dpi: Some(150.0),
            max_operations_per_page: 1_000_000,
            reserved: Vec::new(),
        }
    }
}

/// Whether a problem stops the document from being printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The document is not printed until this is fixed.
    Refusal,
    /// The document prints, but the agency should know.
    Warning,
}

/// What kind of problem it is; the serialized names are stable API values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// The file is larger than [`Rules::max_bytes`].
    TooLarge,
    /// Not a PDF, or a PDF that cannot be read (wholly or one page).
    Damaged,
    /// Password-protected or carrying an `/Encrypt` dictionary.
    Encrypted,
    /// More pages than [`Rules::max_pages`].
    TooManyPages,
    /// A page that is not A4 portrait.
    PageSize,
    /// Ink within [`Rules::margin_mm`] of an edge.
    ContentInMargin,
    /// Ink inside the envelope window on page 1 (with [`Rules::first_page_in_window`]).
    ContentInWindow,
    /// Ink inside an area the service prints into ([`Rules::reserved`]).
    ContentInReservedArea,
    /// A font whose program is not in the file.
    FontNotEmbedded,
    /// JavaScript, a launch action or an embedded file.
    ActiveContent,
    /// An image printed below [`Rules::min_image_dpi`].
    LowResolutionImage,
    /// A page too costly to check within [`Rules::max_operations_per_page`].
    PageTooComplex,
    /// An image covering the whole page (a scan), whose margins cannot be checked (a warning).
    FullPageImage,
    /// The file's structure goes beyond what the reader reads ([`reader_limits`]); the
    /// message names the limit. Nothing else is checked.
    TooComplex,
}

impl ProblemCode {
    /// The code as the API spells it, e.g. `"content_in_margin"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Damaged => "damaged",
            Self::Encrypted => "encrypted",
            Self::TooManyPages => "too_many_pages",
            Self::PageSize => "page_size",
            Self::ContentInMargin => "content_in_margin",
            Self::ContentInWindow => "content_in_window",
            Self::ContentInReservedArea => "content_in_reserved_area",
            Self::FontNotEmbedded => "font_not_embedded",
            Self::ActiveContent => "active_content",
            Self::LowResolutionImage => "low_resolution_image",
            Self::PageTooComplex => "page_too_complex",
            Self::FullPageImage => "full_page_image",
            Self::TooComplex => "too_complex",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with the document, said so that the agency can fix it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The page it is on, from 1; `None` for the document as a whole.
    pub page: Option<u32>,
    /// What kind of problem.
    pub code: ProblemCode,
    /// Whether it stops printing.
    pub severity: Severity,
    /// The problem in Thai.
    pub message_th: String,
    /// The problem in English.
    pub message_en: String,
}

/// Everything [`check`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Pages in the document (0 when it could not be read).
    pub pages: u32,
    /// Every problem, document-wide ones first, then by page.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether the document may be printed: no problem is a refusal.
    pub fn is_acceptable(&self) -> bool {
        self.problems.iter().all(|p| p.severity != Severity::Refusal)
    }

    /// The problems of one kind.
    pub fn with_code(&self, code: ProblemCode) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(move |p| p.code == code)
    }
}
