//! Single-image files: PNG and JPEG, and the JPEG decoding that PDF and TIFF pages share.

use std::io::Cursor;

use image::GrayImage;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::{Decoded, Limits, StoredImage, check_pixels, flate_gray, plausible_dpi, to_gray};

/// A PNG page: any colour type and depth, to grey; transparent parts over white.
pub(super) fn decode_png(bytes: &[u8], limits: &Limits) -> Result<Decoded, String> {
    // The size from IHDR (PNG §11.2.2), checked before the decoder allocates anything.
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return Err("the PNG is damaged: it has no header (IHDR)".into());
    }
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (width, height) = (be(16), be(20));
    check_pixels(width, height, 8, limits)?;

    let budget = usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX);
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: budget });
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| format!("the PNG cannot be read: {e}"))?;
    let dpi = reader.info().pixel_dims.and_then(|d| {
        (d.unit == png::Unit::Meter && d.xppu > 0).then(|| f64::from(d.xppu) * 0.0254).and_then(plausible_dpi)
    });
    let (color, _) = reader.output_color_type();
    let size = reader.output_buffer_size().ok_or("the PNG's size overflows memory")?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| format!("the PNG's pixels are damaged: {e}"))?;
    buf.truncate(frame.buffer_size());
    let (channels, alpha) = match color {
        png::ColorType::Grayscale => (1, false),
        png::ColorType::GrayscaleAlpha => (2, true),
        png::ColorType::Rgb => (3, false),
        png::ColorType::Rgba => (4, true),
        png::ColorType::Indexed => return Err("the PNG's palette could not be expanded".into()),
    };
    let gray = if channels == 1 { buf } else { to_gray(&buf, channels, alpha) };
    let image = GrayImage::from_raw(frame.width, frame.height, gray).ok_or("the PNG's pixels do not fill the image")?;
    let stored = flate_gray(&image);
    Ok(Decoded { image, dpi, stored })
}

/// What a JPEG held besides its pixels.
pub(super) struct JpegFacts {
    pub components: u8,
    pub dpi: Option<f32>,
}

/// Decodes a JPEG to grey: straight from the luma channel for grey and YCbCr files, through
/// RGB for RGB, CMYK and YCCK ones.
pub(super) fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<(GrayImage, JpegFacts), String> {
    let options = DecoderOptions::default()
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        .set_strict_mode(false);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(|e| format!("the JPEG cannot be read: {e}"))?;
    let info = decoder.info().ok_or("the JPEG has no frame header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let input = decoder.input_colorspace().ok_or("the JPEG has no colour space")?;
    let direct = matches!(input, ColorSpace::Luma | ColorSpace::YCbCr);
    check_pixels(width, height, if direct { 1 } else { 4 }, limits)?;
    let out = if direct { ColorSpace::Luma } else { ColorSpace::RGB };
    decoder.set_options(options.jpeg_set_out_colorspace(out));
    let pixels = decoder.decode().map_err(|e| format!("the JPEG's pixels are damaged: {e}"))?;
    let gray = if direct { pixels } else { to_gray(&pixels, 3, false) };
    let image = GrayImage::from_raw(width, height, gray).ok_or("the JPEG's pixels do not fill the image")?;
    let dpi = jfif_dpi(bytes).or_else(|| decoder.exif().and_then(|exif| exif_dpi(exif)));
    Ok((image, JpegFacts { components: info.components, dpi }))
}

/// A JPEG file as a page, its bytes kept unchanged for the reply PDF.
pub(super) fn decode_jpeg_file(bytes: &[u8], limits: &Limits) -> Result<Decoded, String> {
    let (image, facts) = decode_jpeg(bytes, limits)?;
    let stored = StoredImage::Jpeg {
        bytes: bytes.to_vec(),
        width: image.width(),
        height: image.height(),
        components: facts.components,
    };
    Ok(Decoded { image, dpi: facts.dpi, stored })
}

/// The density of a JFIF APP0 segment (JFIF 1.02): units 1 dots per inch, 2 per centimetre.
fn jfif_dpi(jpeg: &[u8]) -> Option<f32> {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xE0 && jpeg.get(at + 4..at + 9) == Some(b"JFIF\0") {
            let seg = jpeg.get(at + 4..at + 2 + len)?;
            let x = f64::from(u16::from_be_bytes([*seg.get(8)?, *seg.get(9)?]));
            return match seg.get(7)? {
                1 => plausible_dpi(x),
                2 => plausible_dpi(x * 2.54),
                _ => None,
            };
        }
        at += 2 + len;
    }
    None
}

/// XResolution and ResolutionUnit from EXIF's first IFD (a TIFF structure, CIPA DC-008).
fn exif_dpi(exif: &[u8]) -> Option<f32> {
    let t = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let little = match t.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = t.get(at..at + 2)?;
        Some(if little { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = t.get(at..at + 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if little { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    };
    let ifd = u32_at(4)? as usize;
    let count = usize::from(u16_at(ifd)?);
    let (mut x, mut unit) = (None, 2u16);
    for i in 0..count.min(512) {
        let e = ifd + 2 + i * 12;
        match u16_at(e)? {
            282 => {
                let at = u32_at(e + 8)? as usize;
                let (n, d) = (u32_at(at)?, u32_at(at + 4)?);
                x = (d != 0).then(|| f64::from(n) / f64::from(d));
            }
            296 => unit = u16_at(e + 8)?,
            _ => {}
        }
    }
    match unit {
        2 => plausible_dpi(x?),
        3 => plausible_dpi(x? * 2.54),
        _ => None,
    }
}
