//! The agency's emblem (ตราครุฑ), printed 3 cm high at the top centre of page 1 of an official
//! letter (ระเบียบงานสารบรรณ ข้อ 71).
//!
//! An emblem is a PNG or JPEG, checked when it is set: at most [`MAX_EMBLEM_BYTES`], a pixel
//! count bounded before decoding, at least [`MIN_EMBLEM_HEIGHT`] pixels high (300 dpi at
//! 3 cm), no wider than it is high (it prints 3 cm high in the 3 cm square between the
//! reference and the agency's address), grey or RGB (CMYK is refused: its colours would
//! shift). Any transparency is flattened onto white, so what prints is what the agency saw on
//! white paper, and nothing hidden under a transparent pixel can show in print. An emblem
//! higher than [`MAX_EMBLEM_HEIGHT`] (600 dpi at 3 cm, more than a printer resolves) is scaled
//! down to it, which bounds what a batch keeps in memory to about 1.5 MB per emblem. It is
//! stored as that PNG ([`Emblem::to_png`]) and embedded once per PDF, however many letters
//! show it.

use std::io::Cursor;
use std::sync::Arc;

use image::{ExtendedColorType, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// Largest emblem file.
pub const MAX_EMBLEM_BYTES: usize = 2 * 1024 * 1024;
/// Fewest pixels of height: 300 dpi at 30 mm.
pub const MIN_EMBLEM_HEIGHT: u32 = 355;
/// Most pixels kept in height: 600 dpi at 30 mm; a higher emblem is scaled down to it.
pub const MAX_EMBLEM_HEIGHT: u32 = 709;
/// Most pixels on a side, checked before decoding.
const MAX_EMBLEM_SIDE: u32 = 4000;
/// Most bytes the decoder may allocate (4000 × 4000 RGBA is 64 MB).
const MAX_EMBLEM_ALLOC: u64 = 96 * 1024 * 1024;

/// An emblem ready to print: RGB samples, shared by every letter that shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Emblem(Arc<Pixels>);

#[derive(PartialEq, Eq)]
struct Pixels {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    /// Hex of the SHA-256 of the size and samples: the same emblem has the same name in a PDF.
    key: String,
}

impl std::fmt::Debug for Emblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emblem").field("width", &self.0.width).field("height", &self.0.height).finish_non_exhaustive()
    }
}

/// Why a file cannot be an emblem; the text is for the person setting it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmblemError {
    /// Over [`MAX_EMBLEM_BYTES`].
    #[error("the emblem is {0} bytes, the limit is {MAX_EMBLEM_BYTES}")]
    TooLarge(usize),
    /// Not a PNG or JPEG.
    #[error("the emblem must be a PNG or JPEG image")]
    NotAnImage,
    /// Too few pixels for 300 dpi at 3 cm.
    #[error("the emblem is {0} pixels high; printed 3 cm high at 300 dpi it needs at least {MIN_EMBLEM_HEIGHT}")]
    TooSmall(u32),
    /// Too many pixels to decode.
    #[error("the emblem is {0} × {1} pixels; at most {MAX_EMBLEM_SIDE} on a side")]
    TooManyPixels(u32, u32),
    /// Wider than it is high.
    #[error("the emblem is {0} × {1} pixels, wider than it is high; it prints 3 cm high in a 3 cm square")]
    TooWide(u32, u32),
    /// CMYK or another colour space.
    #[error("the emblem is in {0}; save it as grey or RGB")]
    ColourSpace(String),
    /// The decoder failed.
    #[error("the emblem cannot be read: {0}")]
    Unreadable(String),
}

impl Emblem {
    /// Checks a PNG or JPEG file and makes it an emblem.
    pub fn from_file(bytes: &[u8]) -> Result<Emblem, EmblemError> {
        if bytes.len() > MAX_EMBLEM_BYTES {
            return Err(EmblemError::TooLarge(bytes.len()));
        }
        let format = match image::guess_format(bytes) {
            Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
            _ => return Err(EmblemError::NotAnImage),
        };
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_EMBLEM_ALLOC);
        reader.limits(limits);
        let unreadable = |e: image::ImageError| match e {
            image::ImageError::Limits(_) => {
                EmblemError::Unreadable("it needs more memory to decode than an emblem may use".into())
            }
            other => EmblemError::Unreadable(other.to_string()),
        };
        let decoder = reader.into_decoder().map_err(unreadable)?;
        let (width, height) = decoder.dimensions();
        if width > MAX_EMBLEM_SIDE || height > MAX_EMBLEM_SIDE {
            return Err(EmblemError::TooManyPixels(width, height));
        }
        if height < MIN_EMBLEM_HEIGHT {
            return Err(EmblemError::TooSmall(height));
        }
        if width > height {
            return Err(EmblemError::TooWide(width, height));
        }
        // The JPEG decoder turns CMYK into RGB without saying so: the frame header says.
        if format == ImageFormat::Jpeg && jpeg_components(bytes) == Some(4) {
            return Err(EmblemError::ColourSpace("CMYK".into()));
        }
        match decoder.original_color_type() {
            ExtendedColorType::Cmyk8 | ExtendedColorType::Cmyk16 => {
                return Err(EmblemError::ColourSpace("CMYK".into()));
            }
            ExtendedColorType::Unknown(_) => return Err(EmblemError::ColourSpace("an unknown colour space".into())),
            _ => {}
        }
        let mut decoded = image::DynamicImage::from_decoder(decoder).map_err(unreadable)?.to_rgba8();
        if height > MAX_EMBLEM_HEIGHT {
            let scaled_width = (u64::from(width) * u64::from(MAX_EMBLEM_HEIGHT) / u64::from(height)).max(1) as u32;
            decoded = image::imageops::resize(
                &decoded,
                scaled_width,
                MAX_EMBLEM_HEIGHT,
                image::imageops::FilterType::Lanczos3,
            );
        }
        let (width, height) = decoded.dimensions();
        let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
        for px in decoded.pixels() {
            let alpha = u32::from(px[3]);
            for c in &px.0[..3] {
                // Over white: c·α + 255·(1 − α).
                rgb.push(((u32::from(*c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8);
            }
        }
        let mut sha = Sha256::new();
        sha.update(width.to_be_bytes());
        sha.update(height.to_be_bytes());
        sha.update(&rgb);
        let key = sha.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(Emblem(Arc::new(Pixels { width, height, rgb, key })))
    }

    /// The emblem as a PNG as it prints: flattened, scaled, RGB; [`Emblem::from_file`] takes it
    /// back unchanged.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::RgbImage::from_raw(self.0.width, self.0.height, self.0.rgb.clone())
            .unwrap_or_else(|| unreachable!("the samples fill the image"))
            .write_to(&mut out, ImageFormat::Png)
            .unwrap_or_else(|_| unreachable!("a PNG encodes to memory"));
        out.into_inner()
    }

    /// Hex of 8 bytes of the SHA-256 of its size and samples: the same emblem, the same key.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.0.width, self.0.height)
    }

    /// The RGB samples, row by row from the top.
    pub(crate) fn rgb(&self) -> &[u8] {
        &self.0.rgb
    }

    /// Its name among a PDF's resources (`/Em` and 16 hex digits of its hash).
    pub(crate) fn resource_name(&self) -> String {
        format!("Em{}", self.0.key)
    }
}

/// The number of colour components in a JPEG's frame header (1 grey, 3 YCbCr or RGB, 4 CMYK or
/// YCCK), `None` when no frame header is found.
fn jpeg_components(bytes: &[u8]) -> Option<u8> {
    let mut at = 2; // after SOI
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): length, precision, height, width,
        // components.
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            return bytes.get(at + 9).copied();
        }
        if marker == 0xDA {
            return None; // scan data before any frame header
        }
        at += 2 + length;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, pixel: image::Rgba<u8>) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(width, height, pixel);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_large_enough_png_is_taken_and_its_transparency_is_flattened_onto_white() {
        let emblem = Emblem::from_file(&png(300, 400, image::Rgba([200, 0, 0, 0]))).unwrap();
        assert_eq!(emblem.size(), (300, 400));
        assert!(emblem.rgb().iter().all(|&c| c == 255), "a transparent pixel prints white, whatever its colour");
        let half = Emblem::from_file(&png(300, 400, image::Rgba([0, 0, 0, 128]))).unwrap();
        assert_eq!(&half.rgb()[..3], &[127, 127, 127]);
    }

    #[test]
    fn too_small_too_big_and_not_an_image_are_refused_saying_why() {
        assert_eq!(Emblem::from_file(&png(300, 200, image::Rgba([0, 0, 0, 255]))), Err(EmblemError::TooSmall(200)));
        assert_eq!(Emblem::from_file(b"GIF89a...."), Err(EmblemError::NotAnImage));
        assert_eq!(Emblem::from_file(&vec![0; MAX_EMBLEM_BYTES + 1]), Err(EmblemError::TooLarge(MAX_EMBLEM_BYTES + 1)));
        let mut truncated = png(300, 400, image::Rgba([0, 0, 0, 255]));
        truncated.truncate(60);
        assert!(matches!(Emblem::from_file(&truncated), Err(EmblemError::Unreadable(_))), "a broken file");
        // A PNG header claiming 60000 × 60000 pixels is refused before anything is decoded.
        let mut huge = png(300, 400, image::Rgba([0, 0, 0, 255]));
        huge[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        assert!(
            matches!(Emblem::from_file(&huge), Err(EmblemError::TooManyPixels(..) | EmblemError::Unreadable(_))),
            "{:?}",
            Emblem::from_file(&huge)
        );
        assert_eq!(Emblem::from_file(&png(500, 400, image::Rgba([0, 0, 0, 255]))), Err(EmblemError::TooWide(500, 400)));
    }

    #[test]
    fn a_cmyk_jpeg_is_refused_and_an_rgb_one_taken() {
        let mut rgb = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut rgb)
            .encode(&vec![200; 300 * 400 * 3], 300, 400, ExtendedColorType::Rgb8)
            .unwrap();
        assert_eq!(Emblem::from_file(&rgb).unwrap().size(), (300, 400));
        let cmyk = include_bytes!("../../../fixtures/emblem/cmyk.jpg");
        assert_eq!(Emblem::from_file(cmyk), Err(EmblemError::ColourSpace("CMYK".into())));
    }

    #[test]
    fn a_high_emblem_is_scaled_to_600_dpi_and_its_png_reads_back_the_same() {
        let emblem = Emblem::from_file(&png(1500, 3000, image::Rgba([10, 20, 30, 255]))).unwrap();
        assert_eq!(emblem.size(), (354, MAX_EMBLEM_HEIGHT));
        let again = Emblem::from_file(&emblem.to_png()).unwrap();
        assert_eq!(again, emblem);
        assert_eq!(again.key(), emblem.key());
    }
}
