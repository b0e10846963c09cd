//! The pages of one reply as a PDF, and small pictures of pages for the review queue.
//!
//! CONTRACT (stub; the implementation replaces the bodies, keeps the names).

use image::GrayImage;

use crate::input::StoredImage;

/// A page to put in a reply PDF: its stored image, its resolution and how far to turn it.
#[derive(Clone, Debug)]
pub struct PdfPage<'a> {
    /// The image as stored.
    pub image: &'a StoredImage,
    /// Resolution, dots per inch; 200 when unknown.
    pub dpi: Option<f32>,
    /// Clockwise quarter turns that make the page upright (0–3), from the decoder.
    pub quarter_turns: u8,
}

/// Why a PDF could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot make the reply PDF: {0}")]
pub struct DocumentError(pub String);

/// A PDF with one page per image, each page the image's size at its resolution, upright.
/// Deterministic: the same pages give the same bytes.
pub fn pages_pdf(pages: &[PdfPage<'_>]) -> Result<Vec<u8>, DocumentError> {
    let _ = pages;
    Err(DocumentError("not implemented".into()))
}

/// A PNG of `image` no larger than `max_side` pixels on its longer side, turned upright by
/// `quarter_turns` clockwise quarter turns.
pub fn thumbnail_png(image: &GrayImage, max_side: u32, quarter_turns: u8) -> Vec<u8> {
    let _ = (image, max_side, quarter_turns);
    Vec::new()
}
