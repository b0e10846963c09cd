//! CCITT fax data: Group 3 one- and two-dimensional (ITU-T T.4) and Group 4 (ITU-T T.6), as
//! PDF's `/CCITTFaxDecode` (ISO 32000-1 §7.4.6) and TIFF's compressions 3 and 4 store them.
//!
//! The code tables come from the `fax` crate; the line decoding is ours, so that Group 3
//! two-dimensional lines, byte-aligned lines and a known page height are handled in one place,
//! and so that a damaged stream ends the page instead of running on.

use fax::maps::{Mode, black, mode, white};
use fax::{BitReader, Color, VecWriter, encoder::Encoder};
use image::GrayImage;

/// How a CCITT stream is laid out, from `/DecodeParms` or the TIFF tags.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// `/K`: < 0 Group 4, 0 Group 3 one-dimensional, > 0 Group 3 mixed.
    pub k: i32,
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Each row starts on a byte boundary.
    pub byte_align: bool,
    /// Runs coded black come out as 1 bits, that is white in `/DeviceGray`.
    pub black_is_1: bool,
}

/// Bits of a byte slice, most significant first; reading past the end gives zeros and is
/// noticed through [`SliceBits::exhausted`].
struct SliceBits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl SliceBits<'_> {
    fn exhausted(&self) -> bool {
        self.pos >= self.data.len() * 8
    }

    fn bit(&self, at: usize) -> Option<bool> {
        self.data.get(at / 8).map(|b| b & (0x80 >> (at % 8)) != 0)
    }

    /// Zero bits from the current position, counted up to `max`.
    fn zeros_ahead(&self, max: usize) -> usize {
        (0..max).take_while(|i| self.bit(self.pos + i) == Some(false)).count()
    }

    /// Consumes fill bits and an end-of-line code (eleven or more zeros, then a one) if they
    /// come next.
    fn take_eol(&mut self) -> bool {
        let zeros = self.zeros_ahead(4096);
        if zeros >= 11 && self.bit(self.pos + zeros) == Some(true) {
            self.pos += zeros + 1;
            true
        } else {
            false
        }
    }

    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }
}

impl BitReader for SliceBits<'_> {
    type Error = ();

    fn peek(&self, bits: u8) -> Option<u16> {
        if bits > 16 || self.exhausted() {
            return None;
        }
        let byte = self.pos / 8;
        let mut v: u32 = 0;
        for i in 0..3 {
            v = (v << 8) | u32::from(self.data.get(byte + i).copied().unwrap_or(0));
        }
        let shift = 24 - (self.pos % 8) - usize::from(bits);
        Some(((v >> shift) & ((1u32 << bits) - 1)) as u16)
    }

    fn consume(&mut self, bits: u8) -> Result<(), ()> {
        self.pos += usize::from(bits);
        Ok(())
    }

    fn bits_to_byte_boundary(&self) -> u8 {
        ((8 - self.pos % 8) % 8) as u8
    }
}

/// One run: make-up codes then a terminating code (T.4 §4.1.1).
fn run(bits: &mut SliceBits<'_>, color: Color) -> Option<u32> {
    let mut sum: u32 = 0;
    loop {
        let n = match color {
            Color::White => white::decode(bits)?,
            Color::Black => black::decode(bits)?,
        };
        sum = sum.checked_add(u32::from(n))?;
        if n < 64 {
            return Some(sum);
        }
    }
}

enum Row {
    Done,
    EndOfData,
}

/// A one-dimensional row (T.4 §4.1): alternating white and black runs.
fn row_1d(bits: &mut SliceBits<'_>, width: u32, out: &mut Vec<u32>) -> Option<Row> {
    out.clear();
    let mut a0 = 0u32;
    let mut color = Color::White;
    while a0 < width {
        let n = run(bits, color)?;
        a0 = a0.saturating_add(n).min(width);
        out.push(a0);
        color = !color;
    }
    // The final change at the row's end is not a change.
    if out.last() == Some(&width) {
        out.pop();
    }
    Some(Row::Done)
}

/// A two-dimensional row (T.4 §4.2, T.6 §2.2) coded against the reference row's changes.
fn row_2d(bits: &mut SliceBits<'_>, width: u32, reference: &[u32], out: &mut Vec<u32>) -> Option<Row> {
    out.clear();
    let w = i64::from(width);
    let at = |i: usize| reference.get(i).map_or(w, |&p| i64::from(p));
    let mut a0: i64 = -1;
    let mut color = Color::White;
    let mut i = 0usize;
    while a0 < w {
        // b1: the first change on the reference row right of a0 to the colour opposite a0's
        // (changes at even indices turn black, at odd indices white).
        while i > 0 && at(i - 1) > a0 {
            i -= 1;
        }
        let want_even = color == Color::White;
        while i < reference.len() && (at(i) <= a0 || i.is_multiple_of(2) != want_even) {
            i += 1;
        }
        let b1 = at(i);
        let b2 = at(i + 1);
        match mode::decode(bits)? {
            Mode::Pass => {
                a0 = b2;
                i += 2;
            }
            Mode::Horizontal => {
                let start = a0.max(0);
                let r1 = i64::from(run(bits, color)?);
                let r2 = i64::from(run(bits, !color)?);
                let a1 = (start + r1).min(w);
                let a2 = (a1 + r2).min(w);
                if a1 < w {
                    out.push(a1 as u32);
                }
                if a2 < w {
                    out.push(a2 as u32);
                }
                a0 = a2;
            }
            Mode::Vertical(d) => {
                let a1 = b1 + i64::from(d);
                if a1 < 0 || a1 > w || a1 < a0 {
                    return None;
                }
                if a1 < w {
                    out.push(a1 as u32);
                }
                color = !color;
                a0 = a1;
            }
            Mode::EOF => return Some(Row::EndOfData),
            Mode::Extension => return None,
        }
    }
    Some(Row::Done)
}

/// Decodes `data` into a grey image, 0 black and 255 white, as a PDF viewer would show it.
/// Rows that the data does not reach stay white; a stream with no readable row is an error.
/// The caller has checked the size against the limits.
pub(crate) fn decode(data: &[u8], p: &Params) -> Result<GrayImage, String> {
    let (w, h) = (p.width, p.height);
    if w == 0 || h == 0 {
        return Err(format!("the fax image is {w}x{h} pixels"));
    }
    let black_value: u8 = if p.black_is_1 { 255 } else { 0 };
    let white_value = 255 - black_value;
    let width = w as usize;
    let mut pixels = vec![white_value; width * h as usize];
    let mut reference: Vec<u32> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut bits = SliceBits { data, pos: 0 };
    let mut rows = 0u32;
    let mut damaged = false;
    while rows < h && !bits.exhausted() {
        let two_d = if p.k < 0 {
            if p.byte_align {
                bits.align();
            }
            true
        } else {
            if bits.take_eol() {
                // Return to control (T.4 §4.1.4): a second end-of-line ends the page.
                if bits.take_eol() {
                    break;
                }
            } else if p.byte_align {
                bits.align();
            }
            if p.k > 0 {
                let tag = bits.bit(bits.pos);
                bits.pos += 1;
                tag == Some(false)
            } else {
                false
            }
        };
        let row =
            if two_d { row_2d(&mut bits, w, &reference, &mut current) } else { row_1d(&mut bits, w, &mut current) };
        match row {
            Some(Row::Done) => {}
            Some(Row::EndOfData) => break,
            None => {
                damaged = true;
                break;
            }
        }
        let start = rows as usize * width;
        let line = &mut pixels[start..start + width];
        let mut from = 0usize;
        let mut is_black = false;
        for &t in &current {
            let t = (t as usize).clamp(from, width);
            if is_black {
                line[from..t].fill(black_value);
            }
            from = t;
            is_black = !is_black;
        }
        if is_black {
            line[from..].fill(black_value);
        }
        std::mem::swap(&mut reference, &mut current);
        rows += 1;
    }
    if rows == 0 {
        return Err(if damaged {
            "the fax (CCITT) data is damaged: not one row could be read".to_owned()
        } else {
            "the fax (CCITT) data is empty".to_owned()
        });
    }
    GrayImage::from_raw(w, h, pixels).ok_or_else(|| "the fax image does not fit in memory".to_owned())
}

/// Encodes a grey page as CCITT Group 4 (`/K -1`, black is 0): pixels darker than mid-grey are
/// black.
pub(crate) fn encode_g4(image: &GrayImage) -> Vec<u8> {
    let width = image.width();
    let mut encoder = Encoder::new(VecWriter::with_capacity(image.as_raw().len() / 8));
    for row in image.as_raw().chunks_exact(width.max(1) as usize) {
        let pels = row.iter().map(|&v| if v < 128 { Color::Black } else { Color::White });
        match encoder.encode_line(pels, width) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }
    match encoder.finish() {
        Ok(writer) => writer.finish(),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let black = (x / 7 + y / 5) % 3 == 0 || (x > 40 && x < 44) || y == 0 || x == w - 1;
            image::Luma([if black { 0 } else { 255 }])
        })
    }

    #[test]
    fn group_4_round_trips_through_our_encoder_and_decoder() {
        let img = pattern(203, 77);
        let data = encode_g4(&img);
        let back = decode(&data, &Params { k: -1, width: 203, height: 77, byte_align: false, black_is_1: false })
            .expect("decodes");
        assert_eq!(back, img);
    }

    #[test]
    fn black_is_1_inverts_the_page() {
        let img = pattern(64, 9);
        let data = encode_g4(&img);
        let back = decode(&data, &Params { k: -1, width: 64, height: 9, byte_align: false, black_is_1: true })
            .expect("decodes");
        assert!(back.as_raw().iter().zip(img.as_raw()).all(|(a, b)| *a == 255 - *b));
    }

    #[test]
    fn garbage_is_an_error_or_a_page_never_a_panic() {
        for seed in 0u32..200 {
            let data: Vec<u8> =
                (0..64u32).map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 97) >> 13) as u8).collect();
            for k in [-1, 0, 1] {
                let _ =
                    decode(&data, &Params { k, width: 100, height: 50, byte_align: seed % 2 == 0, black_is_1: false });
            }
        }
    }
}
