//! Multi-page TIFF (TIFF 6.0): one page per image file directory. CCITT pages (compressions
//! 2, 3 and 4) go through our fax decoder, strip by strip; the others through the `tiff`
//! crate.

use std::collections::HashSet;
use std::io::Cursor;

use image::GrayImage;
use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

use super::{
    Decoded, FileError, Limits, StoredImage, ccitt, check_pixels, cmyk_gray, flate_gray, g4_stored, luma,
    plausible_dpi, to_gray,
};

/// A TIFF file and how many pages its directory chain holds.
pub(super) struct TiffPages {
    decoder: Decoder<Cursor<Vec<u8>>>,
    count: u32,
}

impl TiffPages {
    pub(super) fn open(bytes: Vec<u8>, limits: &Limits) -> Result<TiffPages, FileError> {
        let count = count_directories(&bytes, limits.max_pages)?;
        let mut tiff_limits = tiff::decoder::Limits::default();
        let budget = usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX);
        tiff_limits.decoding_buffer_size = budget;
        tiff_limits.intermediate_buffer_size = budget;
        let decoder = Decoder::new(Cursor::new(bytes))
            .map_err(|e| FileError::Damaged(format!("the TIFF cannot be read ({e})")))?
            .with_limits(tiff_limits);
        Ok(TiffPages { decoder, count })
    }

    pub(super) fn page_count(&self) -> u32 {
        self.count
    }

    pub(super) fn decode(&mut self, index: u32, limits: &Limits) -> Result<Decoded, String> {
        let d = &mut self.decoder;
        d.seek_to_image(index as usize).map_err(|e| format!("the TIFF page cannot be read: {e}"))?;
        let (width, height) = d.dimensions().map_err(|e| format!("the TIFF page has no size: {e}"))?;
        let tag = |d: &mut Decoder<Cursor<Vec<u8>>>, t: Tag| d.find_tag_unsigned::<u32>(t).ok().flatten();
        let compression = tag(d, Tag::Compression).unwrap_or(1);
        let photometric = tag(d, Tag::PhotometricInterpretation).unwrap_or(0);
        let dpi = resolution(d);
        let (image, stored) = match compression {
            2..=4 => self.fax_page(width, height, compression, photometric, limits)?,
            _ => self.other_page(width, height, limits)?,
        };
        Ok(Decoded { image, dpi, stored })
    }

    fn fax_page(
        &mut self,
        width: u32,
        height: u32,
        compression: u32,
        photometric: u32,
        limits: &Limits,
    ) -> Result<(GrayImage, StoredImage), String> {
        check_pixels(width, height, 1, limits)?;
        let d = &mut self.decoder;
        if d.find_tag(Tag::TileWidth).ok().flatten().is_some() {
            return Err("the TIFF page is a tiled fax image, which we do not read".into());
        }
        let offsets = d.find_tag_unsigned_vec::<u64>(Tag::StripOffsets).ok().flatten().unwrap_or_default();
        let counts = d.find_tag_unsigned_vec::<u64>(Tag::StripByteCounts).ok().flatten().unwrap_or_default();
        let rows_per_strip =
            d.find_tag_unsigned::<u32>(Tag::RowsPerStrip).ok().flatten().unwrap_or(height).clamp(1, height);
        let reversed = d.find_tag_unsigned::<u16>(Tag::FillOrder).ok().flatten() == Some(2);
        // T4Options (tag 292): bit 0 two-dimensional coding, bit 2 fill bits before EOLs.
        let t4 = d.find_tag_unsigned::<u32>(Tag::Unknown(292)).ok().flatten().unwrap_or(0);
        let strips = height.div_ceil(rows_per_strip) as usize;
        if offsets.len() < strips || counts.len() < strips {
            return Err(format!("the TIFF page lists {} of its {strips} strips", offsets.len().min(counts.len())));
        }
        let bytes = d.inner().get_ref();
        // TIFF codes fax white as 0 (WhiteIsZero, 0) unless the page says black is zero (1).
        let black_is_1 = photometric == 1;
        let (k, byte_align) = match compression {
            2 => (0, true),
            3 => (i32::from(t4 & 1 != 0), false),
            _ => (-1, false),
        };
        let w = width as usize;
        let mut pixels = Vec::with_capacity(w * height as usize);
        let mut kept: Option<Vec<u8>> = None;
        for s in 0..strips {
            let start = usize::try_from(offsets[s]).unwrap_or(usize::MAX);
            let len = usize::try_from(counts[s]).unwrap_or(usize::MAX);
            let data = bytes
                .get(start..start.saturating_add(len).min(bytes.len()))
                .ok_or_else(|| format!("the TIFF page's strip {} lies outside the file", s + 1))?;
            let data: std::borrow::Cow<'_, [u8]> =
                if reversed { data.iter().map(|b| b.reverse_bits()).collect::<Vec<u8>>().into() } else { data.into() };
            let rows = rows_per_strip.min(height - s as u32 * rows_per_strip);
            let strip = ccitt::decode(&data, &ccitt::Params { k, width, height: rows, byte_align, black_is_1 })
                .map_err(|e| format!("strip {}: {e}", s + 1))?;
            pixels.extend_from_slice(strip.as_raw());
            if strips == 1 && compression == 4 {
                kept = Some(data.into_owned());
            }
        }
        let image = GrayImage::from_raw(width, height, pixels).ok_or("the TIFF page's strips do not fill it")?;
        let stored = match kept {
            // One Group 4 strip is already the stream PDF wants.
            Some(bytes) => StoredImage::Ccitt { bytes, width, height, k: -1, black_is_1, byte_align: false },
            None => g4_stored(&image),
        };
        Ok((image, stored))
    }

    fn other_page(&mut self, width: u32, height: u32, limits: &Limits) -> Result<(GrayImage, StoredImage), String> {
        let d = &mut self.decoder;
        let color = d.colortype().map_err(|e| format!("the TIFF page's colours are not supported: {e}"))?;
        let (channels, depth) = match color {
            ColorType::Gray(b) => (1, b),
            ColorType::GrayA(b) => (2, b),
            ColorType::RGB(b) | ColorType::YCbCr(b) => (3, b),
            ColorType::RGBA(b) | ColorType::CMYK(b) => (4, b),
            ColorType::Palette(b) => (1, b),
            other => return Err(format!("the TIFF page's colour type {other:?} is not supported")),
        };
        check_pixels(width, height, channels as u64 * u64::from(depth.div_ceil(8)) + 1, limits)?;
        let palette = if matches!(color, ColorType::Palette(_)) {
            Some(
                d.find_tag_unsigned_vec::<u16>(Tag::ColorMap)
                    .ok()
                    .flatten()
                    .ok_or("the TIFF palette page has no colour map")?,
            )
        } else {
            None
        };
        let samples = match d.read_image().map_err(|e| format!("the TIFF page cannot be decoded: {e}"))? {
            DecodingResult::U8(v) => v,
            DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
            _ => return Err("the TIFF page's samples are not 8 or 16-bit integers".into()),
        };
        let (w, h) = (width as usize, height as usize);
        let gray: Vec<u8> = match (color, depth) {
            (ColorType::Palette(b), _) => {
                let map = palette.unwrap_or_default();
                let n = 1usize << b.min(16);
                let idx = unpack(&samples, w, h, b.into(), false);
                idx.iter()
                    .map(|&i| {
                        let at = |c: usize| map.get(c * n + usize::from(i)).map_or(0, |v| (v >> 8) as u8);
                        luma(at(0), at(1), at(2))
                    })
                    .collect()
            }
            (_, 1 | 2 | 4) => unpack(&samples, w * channels, h, depth.into(), true),
            (ColorType::YCbCr(_), _) => samples.chunks_exact(3).map(|p| p[0]).collect(),
            (ColorType::CMYK(_), _) => samples.chunks_exact(4).map(|p| cmyk_gray(p[0], p[1], p[2], p[3])).collect(),
            (ColorType::Gray(_), _) => samples,
            _ => to_gray(&samples, channels, true),
        };
        if gray.len() < w * h {
            return Err("the TIFF page's pixels are cut short".into());
        }
        let bilevel = depth == 1 && channels == 1 && !matches!(color, ColorType::Palette(_));
        let mut gray = gray;
        gray.truncate(w * h);
        let image = GrayImage::from_raw(width, height, gray).ok_or("the TIFF page's pixels do not fill it")?;
        let stored = if bilevel { g4_stored(&image) } else { flate_gray(&image) };
        Ok((image, stored))
    }
}

/// Samples of 1, 2 or 4 bits, rows padded to whole bytes, to one byte each (scaled to 0–255
/// when `scale`).
fn unpack(data: &[u8], per_row: usize, rows: usize, bits: usize, scale: bool) -> Vec<u8> {
    if bits >= 8 {
        return data.to_vec();
    }
    let row_bytes = (per_row * bits).div_ceil(8);
    let max = (1u32 << bits) - 1;
    let per_byte = 8 / bits;
    let mut out = Vec::with_capacity(per_row * rows);
    for row in data.chunks_exact(row_bytes.max(1)).take(rows) {
        for i in 0..per_row {
            let v = (u32::from(row[i / per_byte]) >> (8 - bits * (i % per_byte + 1))) & max;
            out.push(if scale { (v * 255 / max) as u8 } else { v as u8 });
        }
    }
    out
}

/// XResolution with ResolutionUnit (2 inch, the default; 3 centimetre).
fn resolution(d: &mut Decoder<Cursor<Vec<u8>>>) -> Option<f32> {
    let x = d.find_tag(Tag::XResolution).ok().flatten()?.into_u64_vec().ok()?;
    let value = match x.as_slice() {
        [n, den] if *den != 0 => *n as f64 / *den as f64,
        _ => return None,
    };
    match d.find_tag_unsigned::<u16>(Tag::ResolutionUnit).ok().flatten().unwrap_or(2) {
        2 => plausible_dpi(value),
        3 => plausible_dpi(value * 2.54),
        _ => None,
    }
}

/// Image file directories in the chain (TIFF 6.0 §2, BigTIFF), counted without decoding.
fn count_directories(b: &[u8], max_pages: u32) -> Result<u32, FileError> {
    let damaged = |what: &str| FileError::Damaged(format!("the TIFF {what}"));
    let little = b.first() == Some(&b'I');
    let read = |at: usize, n: usize| -> Option<u64> {
        let s = b.get(at..at.checked_add(n)?)?;
        Some(if little {
            s.iter().rev().fold(0, |a, &x| (a << 8) | u64::from(x))
        } else {
            s.iter().fold(0, |a, &x| (a << 8) | u64::from(x))
        })
    };
    let big = read(2, 2) == Some(43);
    let mut offset = if big { read(8, 8) } else { read(4, 4) }.ok_or_else(|| damaged("is cut short in its header"))?;
    let mut seen = HashSet::new();
    let mut count = 0u32;
    while offset != 0 && count <= max_pages.max(100_000) {
        let at = usize::try_from(offset).map_err(|_| damaged("points outside itself"))?;
        if !seen.insert(at) {
            break;
        }
        let entries = if big { read(at, 8) } else { read(at, 2) };
        let Some(entries) = entries else {
            if count == 0 {
                return Err(damaged("has no readable first page"));
            }
            break;
        };
        count += 1;
        let next_at = if big {
            (entries as usize).checked_mul(20).and_then(|n| n.checked_add(at + 8))
        } else {
            (entries as usize).checked_mul(12).and_then(|n| n.checked_add(at + 2))
        };
        offset = match next_at.and_then(|n| if big { read(n, 8) } else { read(n, 4) }) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(count)
}
