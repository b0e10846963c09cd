//! The pages of one reply as a PDF, and small pictures of pages for the review queue.
//!
//! Each page's stored image goes into the PDF as the scanner made it (ISO 32000-1 §8.9.5):
//! JPEG as `/DCTDecode`, fax data as `/CCITTFaxDecode` with its parameters, grey pixels as
//! `/FlateDecode`; nothing is decoded or re-compressed. The pages are turned upright with
//! `/Rotate`, not by turning pixels. This module must not depend on anything but the stored
//! images: the same pages always give the same bytes.

use std::io::Cursor;

use image::GrayImage;
use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use lopdf::{Dictionary, Document, Object, Stream, StringFormat, dictionary};
use sha2::{Digest, Sha256};

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

/// The resolution assumed for a page whose file did not say.
pub const DEFAULT_DPI: f32 = 200.0;

/// The largest page side PDF viewers must accept, in points (ISO 32000-1 Annex C: 200 inches).
const MAX_PAGE_POINTS: f32 = 14_400.0;

/// A PDF with one page per image, each page the image's size at its resolution, upright.
/// Deterministic: the same pages give the same bytes.
pub fn pages_pdf(pages: &[PdfPage<'_>]) -> Result<Vec<u8>, DocumentError> {
    if pages.is_empty() {
        return Err(DocumentError("there are no pages".into()));
    }
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::with_capacity(pages.len());
    let mut id_hash = Sha256::new();
    for (i, page) in pages.iter().enumerate() {
        let number = i + 1;
        let (width, height) = page.image.dimensions();
        if width == 0 || height == 0 {
            return Err(DocumentError(format!("page {number} has no pixels ({width}x{height})")));
        }
        let dpi = page.dpi.filter(|d| d.is_finite() && *d >= 10.0).unwrap_or(DEFAULT_DPI);
        let (pw, ph) = (width as f32 * 72.0 / dpi, height as f32 * 72.0 / dpi);
        if pw > MAX_PAGE_POINTS || ph > MAX_PAGE_POINTS {
            return Err(DocumentError(format!(
                "page {number} would be {:.0}x{:.0} inches at {dpi} dpi, larger than PDF allows",
                pw / 72.0,
                ph / 72.0
            )));
        }
        id_hash.update(page.image.bytes());
        id_hash.update(format!("{pw:.3} {ph:.3} {}", page.quarter_turns % 4).as_bytes());
        let image_id = doc.add_object(image_stream(page.image));
        let content = format!("q {pw:.3} 0 0 {ph:.3} 0 0 cm /Im0 Do Q");
        let content_id = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
        let mut dict = dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(pw), Object::Real(ph)],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
            "Contents" => content_id,
        };
        if page.quarter_turns % 4 != 0 {
            dict.set("Rotate", i64::from(page.quarter_turns % 4) * 90);
        }
        kids.push(Object::Reference(doc.add_object(dict)));
    }
    let count = kids.len() as i64;
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    // A file identifier from the content (ISO 32000-1 §14.4), not from the clock.
    let id: [u8; 32] = id_hash.finalize().into();
    let id = Object::String(id[..16].to_vec(), StringFormat::Hexadecimal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| DocumentError(format!("writing the PDF failed: {e}")))?;
    Ok(out)
}

/// The image XObject of one stored page, its data unchanged.
fn image_stream(image: &StoredImage) -> Stream {
    let (width, height) = image.dimensions();
    let mut dict = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => i64::from(width),
        "Height" => i64::from(height),
    };
    match image {
        StoredImage::Jpeg { bytes, components, .. } => {
            let space = match components {
                1 => "DeviceGray",
                4 => "DeviceCMYK",
                _ => "DeviceRGB",
            };
            dict.set("ColorSpace", Object::Name(space.into()));
            dict.set("BitsPerComponent", 8);
            dict.set("Filter", Object::Name(b"DCTDecode".to_vec()));
            // Adobe's CMYK JPEGs store inverted inks (APP14 "Adobe"); PDF viewers take the
            // samples as they are unless told.
            if *components == 4 && has_adobe_marker(bytes) {
                dict.set("Decode", [1, 0, 1, 0, 1, 0, 1, 0].map(Object::Integer).to_vec());
            }
        }
        StoredImage::Ccitt { k, black_is_1, byte_align, .. } => {
            dict.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
            dict.set("BitsPerComponent", 1);
            dict.set("Filter", Object::Name(b"CCITTFaxDecode".to_vec()));
            dict.set(
                "DecodeParms",
                dictionary! {
                    "K" => i64::from(*k),
                    "Columns" => i64::from(width),
                    "Rows" => i64::from(height),
                    "BlackIs1" => *black_is_1,
                    "EncodedByteAlign" => *byte_align,
                },
            );
        }
        StoredImage::FlateGray { .. } => {
            dict.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
            dict.set("BitsPerComponent", 8);
            dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        }
    }
    // `Stream::new` would let lopdf compress it again; the data is already compressed.
    Stream::new(dict, image.bytes().to_vec()).with_compression(false)
}

/// Whether a JPEG has an Adobe APP14 segment before its first scan (JPEG markers, T.81 B.1).
fn has_adobe_marker(jpeg: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == 0xDA || marker == 0xD9 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xEE && jpeg.get(at + 4..at + 9) == Some(b"Adobe") {
            return true;
        }
        at += 2 + len;
    }
    false
}

/// A PNG of `image` no larger than `max_side` pixels on its longer side, turned upright by
/// `quarter_turns` clockwise quarter turns.
pub fn thumbnail_png(image: &GrayImage, max_side: u32, quarter_turns: u8) -> Vec<u8> {
    let (w, h) = image.dimensions();
    let max_side = max_side.max(1);
    let longer = w.max(h).max(1);
    let small = if longer > max_side {
        let scale = |side: u32| ((u64::from(side) * u64::from(max_side) / u64::from(longer)) as u32).max(1);
        // Whole k × k blocks averaged first, in integers (a page at 150 dpi to a 400-pixel
        // thumbnail: k = 4), then the exact size from what is left: k² times fewer pixels
        // for `thumbnail` to filter.
        match longer / max_side {
            k if k >= 2 => image::imageops::thumbnail(&crate::find::box_reduce(image, k), scale(w), scale(h)),
            _ => image::imageops::thumbnail(image, scale(w), scale(h)),
        }
    } else {
        image.clone()
    };
    let upright = match quarter_turns % 4 {
        1 => image::imageops::rotate90(&small),
        2 => image::imageops::rotate180(&small),
        3 => image::imageops::rotate270(&small),
        _ => small,
    };
    let mut out = Cursor::new(Vec::new());
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(upright.as_raw(), upright.width(), upright.height(), image::ExtendedColorType::L8)
        .expect("encoding a grey image of its own size into memory cannot fail");
    out.into_inner()
}
