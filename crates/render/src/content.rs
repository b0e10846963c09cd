//! Page content streams written directly, for print batches.
//!
//! [`crate::Document::to_pdf`] goes through printpdf, which builds an operation list,
//! converts it to lopdf operations and encodes those: fine for one letter, too slow for
//! thousands. This module writes the same operators with the same operands, in the same
//! order, straight into a byte buffer, so a letter page in a batch looks exactly like
//! the page of its single-letter PDF (the batch tests compare the two rasterised).
//!
//! Glyph ids are the face's own: the batch embeds whole faces, so no ids are remapped.

use std::io::Write as _;

use crate::document::{Element, pdf_text_string};
use crate::fonts::{Fonts, Weight};
use crate::{Color, Paint, Stroke};

/// Resource name of a face on every page, as [`crate::Document::to_pdf`] names it.
pub(crate) fn font_resource(weight: Weight) -> &'static str {
    match weight {
        Weight::Regular => "FR",
        Weight::Bold => "FB",
    }
}

/// Glyphs drawn in each face: a bit per glyph id, so the font dictionaries written at
/// the end of a batch list widths and Unicode values for exactly the glyphs used.
#[derive(Debug, Clone)]
pub(crate) struct GlyphSet {
    bits: Vec<u64>,
}

impl GlyphSet {
    pub(crate) fn new() -> Self {
        GlyphSet { bits: vec![0; 1024] }
    }

    pub(crate) fn insert(&mut self, glyph: u16) {
        self.bits[usize::from(glyph / 64)] |= 1 << (glyph % 64);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits.iter().enumerate().flat_map(|(word, bits)| {
            (0..64u16).filter(move |bit| bits & (1 << bit) != 0).map(move |bit| word as u16 * 64 + bit)
        })
    }

    /// Adds every glyph of `other`.
    pub(crate) fn union(&mut self, other: &GlyphSet) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= b;
        }
    }
}

/// Appends the content stream of one page to `out`, marking the glyphs it draws in
/// `used` (index 0 regular, 1 bold).
///
/// The operators mirror what printpdf writes for [`crate::Document::to_pdf`]: one
/// `/Span` marked-content sequence with `/ActualText` per line, `Tf` when the face
/// changes, `Tm` and one `TJ` per run of glyphs on one baseline, with kerning numbers
/// computed from the `/W` widths exactly as there.
pub(crate) fn encode_page(fonts: &Fonts<'_>, elements: &[Element], used: &mut [GlyphSet; 2], out: &mut Vec<u8>) {
    let start = out.len();
    for element in elements {
        match element {
            Element::Text { actual, size, glyphs } => {
                op_separator(out, start);
                out.extend_from_slice(b"/Span <</ActualText");
                hex_string(out, &pdf_text_string(actual));
                out.extend_from_slice(b">> BDC\nBT");
                let mut current = None;
                for run in glyphs.chunk_by(|a, b| a.0 == b.0 && a.3 == b.3) {
                    let (weight, _, x, y) = run[0];
                    let face = fonts.face(weight);
                    if current != Some(weight) {
                        out.push(b'/');
                        out.extend_from_slice(font_resource(weight).as_bytes());
                        out.push(b' ');
                        real(out, *size);
                        out.extend_from_slice(b" Tf");
                        current = Some(weight);
                    }
                    out.extend_from_slice(b"\n1 0 0 1 ");
                    real(out, x);
                    out.push(b' ');
                    real(out, y);
                    out.extend_from_slice(b" Tm\n[");
                    let set = &mut used[weight_index(weight)];
                    for (i, &(_, glyph, x, _)) in run.iter().enumerate() {
                        set.insert(glyph);
                        out.push(b'<');
                        hex_byte(out, (glyph >> 8) as u8);
                        hex_byte(out, glyph as u8);
                        out.push(b'>');
                        // The same TJ adjustment as `Document::element_ops` computes.
                        let offset = run.get(i + 1).map_or(0.0, |next| {
                            let moved = (next.2 - x) * 1000.0 / size;
                            ((face.pdf_width(glyph) - moved) * 10.0).round() / 10.0
                        });
                        if offset != 0.0 {
                            out.push(b' ');
                            real(out, offset);
                        }
                    }
                    out.extend_from_slice(b"] TJ");
                }
                out.extend_from_slice(b"\nET\nEMC");
            }
            Element::Line { from, to, stroke } => {
                op_separator(out, start);
                out.push(b'q');
                push_stroke(out, stroke);
                out.push(b'\n');
                pair(out, *from);
                out.extend_from_slice(b" m\n");
                pair(out, *to);
                out.extend_from_slice(b" l\nS\nQ");
            }
            Element::Rect { x, y, width, height, paint } => {
                op_separator(out, start);
                out.push(b'q');
                let operator: &[u8] = match paint {
                    Paint::Stroke(stroke) => {
                        push_stroke(out, stroke);
                        b"S"
                    }
                    Paint::Fill(color) => {
                        push_color(out, *color, b"rg");
                        b"f"
                    }
                    Paint::FillAndStroke(color, stroke) => {
                        push_color(out, *color, b"rg");
                        push_stroke(out, stroke);
                        b"B"
                    }
                };
                out.push(b'\n');
                pair(out, (*x, *y));
                out.push(b' ');
                pair(out, (*width, *height));
                out.extend_from_slice(b" re\n");
                out.extend_from_slice(operator);
                out.extend_from_slice(b"\nQ");
            }
            Element::TextColor(color) => {
                op_separator(out, start);
                for (i, c) in [color.r, color.g, color.b].into_iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    real(out, c);
                }
                out.extend_from_slice(b" rg");
            }
            Element::Modules { x, y, module, runs } => {
                op_separator(out, start);
                out.push(b'q');
                push_color(out, Color::BLACK, b"rg");
                out.push(b'\n');
                real(out, *module);
                out.extend_from_slice(b" 0 0 ");
                real(out, *module);
                out.push(b' ');
                pair(out, (*x, *y));
                out.extend_from_slice(b" cm");
                for &(row, first, len) in runs {
                    out.push(b'\n');
                    integer(out, i64::from(first));
                    out.push(b' ');
                    integer(out, i64::from(row));
                    out.push(b' ');
                    integer(out, i64::from(len));
                    out.extend_from_slice(b" 1 re");
                }
                out.extend_from_slice(b"\nf\nQ");
            }
            Element::Image { x, y, width, height, emblem } => {
                // As printpdf writes `UseXobject` inside the placing matrix: an identity `cm`.
                op_separator(out, start);
                out.extend_from_slice(b"q\n");
                pair(out, (*width, 0.0));
                out.extend_from_slice(b" 0 ");
                pair(out, (*height, *x));
                out.push(b' ');
                real(out, *y);
                out.extend_from_slice(b" cm\nq\n1 0 0 1 0 0 cm\n/");
                out.extend_from_slice(emblem.resource_name().as_bytes());
                out.extend_from_slice(b" Do\nQ\nQ");
            }
        }
    }
}

/// Index of a face in per-face arrays.
pub(crate) fn weight_index(weight: Weight) -> usize {
    match weight {
        Weight::Regular => 0,
        Weight::Bold => 1,
    }
}

/// Operators are separated by a newline, with none after the last (as lopdf encodes).
fn op_separator(out: &mut Vec<u8>, start: usize) {
    if out.len() > start {
        out.push(b'\n');
    }
}

fn push_stroke(out: &mut Vec<u8>, stroke: &Stroke) {
    push_color(out, stroke.color, b"RG");
    out.push(b'\n');
    real(out, stroke.width.0);
    out.extend_from_slice(b" w");
}

fn push_color(out: &mut Vec<u8>, color: Color, operator: &[u8]) {
    out.push(b'\n');
    for c in [color.r, color.g, color.b] {
        real(out, c);
        out.push(b' ');
    }
    out.extend_from_slice(operator);
}

fn pair(out: &mut Vec<u8>, (a, b): (f32, f32)) {
    real(out, a);
    out.push(b' ');
    real(out, b);
}

/// A real number as the shortest decimal that reads back as the same `f32`. Whole numbers
/// below 10⁷ are written as integers; other numbers between 10⁻⁵ and 10⁷ (every coordinate,
/// size and colour of a page) by ryu, several times faster than `Display` and in the same
/// notation, though where two shortest decimals are equally near (0.000244140625 has
/// 0.00024414062 and 0.00024414063) ryu takes the even one and `Display` the other; the rest
/// through `Display`, which never writes an exponent (PDF has none).
pub(crate) fn real(out: &mut Vec<u8>, value: f32) {
    let whole = value == value.trunc();
    if whole && value.abs() < 1e7 {
        let mut buffer = itoa_buffer();
        out.extend_from_slice(format_int(&mut buffer, value as i64));
    } else if !whole && (1e-5..1e7).contains(&value.abs()) {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else {
        write!(out, "{value}").expect("writing to a Vec cannot fail");
    }
}

fn itoa_buffer() -> [u8; 24] {
    [0; 24]
}

/// `value` in decimal, in the tail of `buffer`.
fn format_int(buffer: &mut [u8; 24], value: i64) -> &[u8] {
    let negative = value < 0;
    let mut n = value.unsigned_abs();
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buffer[at] = b'-';
    }
    &buffer[at..]
}

/// An integer in decimal.
pub(crate) fn integer(out: &mut Vec<u8>, value: i64) {
    let mut buffer = itoa_buffer();
    out.extend_from_slice(format_int(&mut buffer, value));
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_byte(out: &mut Vec<u8>, byte: u8) {
    out.push(HEX[usize::from(byte >> 4)]);
    out.push(HEX[usize::from(byte & 15)]);
}

/// `bytes` as a PDF hexadecimal string, `<…>`.
pub(crate) fn hex_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'<');
    for &b in bytes {
        hex_byte(out, b);
    }
    out.push(b'>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_symbol_is_one_scaling_and_whole_module_rectangles_filled_once() {
        let element =
            Element::Modules { x: 398.35, y: 609.531, module: 1.438, runs: vec![(20, 0, 7), (20, 9, 4), (0, 3, 1)] };
        let mut used = [GlyphSet::new(), GlyphSet::new()];
        let mut out = Vec::new();
        encode_page(Fonts::laksaman(), &[element], &mut used, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ASCII"),
            "q\n0 0 0 rg\n1.438 0 0 1.438 398.35 609.531 cm\n0 20 7 1 re\n9 20 4 1 re\n3 0 1 1 re\nf\nQ"
        );
    }

    #[test]
    fn reals_are_the_shortest_decimals_that_read_back_the_same() {
        let written = |v: f32| {
            let mut out = Vec::new();
            real(&mut out, v);
            String::from_utf8(out).expect("ASCII")
        };
        for v in [0.0f32, 16.0, -3.0, 85.039, -12.3, 0.75, 841.8898, 1e-7, 123456.5] {
            assert_eq!(written(v), format!("{v}"));
        }
        assert_eq!(written(-0.0), "0");
        // Every magnitude from below 10⁻⁵ to above 10⁹, both signs, many mantissas.
        let mut bits = 0x3f80_0000u32;
        for _ in 0..200_000 {
            bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // Exponents 2⁻²⁰ to 2³², a random sign and mantissa.
            let exponent = 107 + (bits >> 9) % 53;
            let v = f32::from_bits(bits & 0x807f_ffff | exponent << 23);
            let (ours, display) = (written(v), format!("{v}"));
            assert_eq!(ours.parse::<f32>(), Ok(v), "{v:e} written as {ours}");
            assert_eq!(ours.len(), display.len(), "{v:e}: {ours} beside {display}");
            assert!(!ours.contains(['e', 'E']), "{ours}");
        }
    }

    #[test]
    fn glyph_sets_list_their_glyphs_in_order() {
        let mut set = GlyphSet::new();
        for g in [300, 5, 64, 5, 65535] {
            set.insert(g);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), [5, 64, 300, 65535]);
    }
}
