//! Print-ready PDF pages of Thai text for hybridpost.
//!
//! This crate owns typesetting: shaping Thai and Latin text with rustybuzz, breaking it
//! into lines with `hybridpost-thai`, placing glyphs, drawing rules and boxes, and
//! writing the PDF with the fonts subset and embedded. Every line of text carries its
//! source text as `/ActualText`, so copying from the PDF or running `pdftotext` gives back
//! exactly the characters that were placed.
//!
//! It takes text and layout instructions and returns PDF bytes: no HTTP, SQL, async
//! runtime, and no file access except [`LetterTemplates::from_dir`], which reads an operator's
//! adjusted layouts. Output is deterministic: the same input gives the same bytes.
//!
//! # Two PDF writers
//!
//! A single document ([`Document::to_pdf`]: a proof, a digital copy) is written through
//! printpdf, which builds the whole document in memory and subsets the fonts to the glyphs
//! used. A print batch of thousands of letters is written by [`BatchWriter`], which streams each
//! letter's pages to the output as it comes, embeds the fonts once per batch and keeps only
//! offsets in memory; its object syntax is in `pdf_writer.rs`. Both draw the same page content
//! (`content.rs` mirrors printpdf's operators), so a letter looks the same in either.
//!
//! ```
//! use hybridpost_render::{Align, Area, Document, PageSize, Paragraph};
//!
//! let mut doc = Document::new(PageSize::A4);
//! let page = doc.add_page();
//! let heading = Paragraph::new().bold("บันทึกข้อความ").align(Align::Center);
//! doc.place_paragraph(page, &heading, Area::new(30.0, 20.0, 150.0, 15.0))?;
//! let pdf: Vec<u8> = doc.to_pdf()?;
//! assert!(pdf.starts_with(b"%PDF-"));
//! # Ok::<(), hybridpost_render::RenderError>(())
//! ```

#![forbid(unsafe_code)]

mod batch;
mod content;
mod content_templates;
mod document;
mod emblem;
mod error;
mod fonts;
mod layout;
mod letter;
mod pdf_writer;
mod qr;
mod reply_sheet;
mod shape;
mod templates;
mod units;

pub use batch::{
    BatchInfo, BatchLetter, BatchManifest, BatchWriter, DEFAULT_COMPRESSION, LetterPages, ManifestEntry,
    PreparedDocument, SkippedLetter,
};
pub use content_templates::{ContentError, ContentTemplates, expand_content, list_variables, template_variables};
pub use document::{Document, Flow, PageId, Paint, Resume, Stroke};
pub use emblem::{Emblem, EmblemError, MAX_EMBLEM_BYTES, MAX_EMBLEM_HEIGHT, MIN_EMBLEM_HEIGHT};
pub use error::RenderError;
pub use fonts::{Fonts, Weight};
pub use layout::{Align, BODY_SIZE, DEFAULT_LINE_HEIGHT, Paragraph};
pub use letter::{
    DL_FOLD, LaidOutLetter, LetterOptions, RenderedLetter, Sender, form_stamps, lay_out_letter, lay_out_letter_with,
    render_letter, render_letter_with, reply_answer_boxes,
};
pub use qr::{QUIET_ZONE_MODULES, QrModules};
pub use reply_sheet::{
    ANSWER_BOX_SIDE, AnswerBox, FORM_REFERENCE_AREA, REPLY_CODE_AREAS, REPLY_CODE_MAX_MODULE, REPLY_CODE_MIN_MODULE,
    REPLY_CODE_ORIGINS, REPLY_CODE_QUIET_ZONE, REPLY_CODE_SIZE, ReplySheet, blank_beside_boxes,
};
pub use templates::{
    EmblemSlot, FontSizes, Languages, LetterTemplate, LetterTemplates, LetterTexts, MIN_SEAL_SIZE, PageDimensions,
    ReplyTexts, SealSquare, TemplateError, Window,
};
pub use units::{Area, Color, Mm, PageSize, Point, Pt};
