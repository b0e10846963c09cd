//! Turning text into positioned glyphs with rustybuzz (HarfBuzz's shaping rules).
//!
//! Thai needs real OpenType shaping: tone marks move down when there is no upper vowel
//! (ป่า) and left above tall consonants (ป่), ญ and ฐ lose their tail above a lower
//! vowel, and sara am (ำ) splits into nikhahit and sara aa around the tone mark (น้ำ).
//! The paragraph is cut into runs of one weight and one script, each shaped with its
//! neighbours as context.

use core::ops::Range;
use std::str::FromStr;

use rustybuzz::{Direction, Language, UnicodeBuffer, script};

use crate::fonts::{Fonts, Weight};

/// One glyph of shaped text, in em units of the font size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ShapedGlyph {
    /// Which face the glyph comes from.
    pub(crate) weight: Weight,
    /// Glyph id in that face.
    pub(crate) glyph: u16,
    /// Byte offset, in the paragraph text, of the first character of the glyph's cluster.
    pub(crate) cluster: usize,
    /// How far the pen moves after the glyph.
    pub(crate) advance: f32,
    /// Horizontal shift of this glyph, not moving the pen.
    pub(crate) x_offset: f32,
    /// Vertical shift of this glyph (upwards), not moving the pen.
    pub(crate) y_offset: f32,
}

/// Shapes `text`, whose byte ranges in `weights` are set in the given weights (parts of
/// the text outside every range are regular). Glyphs come out in text order.
pub(crate) fn shape(fonts: &Fonts<'_>, text: &str, weights: &[(Range<usize>, Weight)]) -> Vec<ShapedGlyph> {
    let thai = Language::from_str("th").expect("\"th\" is a valid language tag");
    let mut glyphs = Vec::with_capacity(text.len());
    for (range, weight) in weight_runs(text.len(), weights) {
        let face = fonts.face(weight);
        let scale = face.units_per_em;
        for (run, is_thai) in script_runs(&text[range.clone()]) {
            let run = range.start + run.start..range.start + run.end;
            let mut buffer = UnicodeBuffer::new();
            buffer.push_str(&text[run.clone()]);
            buffer.set_pre_context(&text[..run.start]);
            buffer.set_post_context(&text[run.end..]);
            buffer.set_direction(Direction::LeftToRight);
            if is_thai {
                buffer.set_script(script::THAI);
                buffer.set_language(thai.clone());
            } else {
                buffer.guess_segment_properties();
            }
            let shaped = rustybuzz::shape(&face.face, &[], buffer);
            glyphs.extend(shaped.glyph_infos().iter().zip(shaped.glyph_positions()).map(|(info, pos)| ShapedGlyph {
                weight,
                glyph: u16::try_from(info.glyph_id).expect("rustybuzz glyph ids fit in u16"),
                cluster: run.start + info.cluster as usize,
                advance: pos.x_advance as f32 / scale,
                x_offset: pos.x_offset as f32 / scale,
                y_offset: pos.y_offset as f32 / scale,
            }));
        }
    }
    glyphs
}

/// Splits `0..len` into consecutive ranges of one weight, regular where `weights` says
/// nothing. Later entries in `weights` win where ranges overlap.
fn weight_runs(len: usize, weights: &[(Range<usize>, Weight)]) -> Vec<(Range<usize>, Weight)> {
    let mut cuts: Vec<usize> =
        weights.iter().flat_map(|(r, _)| [r.start.min(len), r.end.min(len)]).chain([0, len]).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut runs: Vec<(Range<usize>, Weight)> = Vec::new();
    for pair in cuts.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let weight =
            weights.iter().rev().find(|(r, _)| r.start <= start && end <= r.end).map_or(Weight::Regular, |(_, w)| *w);
        match runs.last_mut() {
            Some((last, w)) if *w == weight => last.end = end,
            _ => runs.push((start..end, weight)),
        }
    }
    runs
}

/// Whether `c` is in the Thai block.
fn is_thai(c: char) -> bool {
    ('\u{0E00}'..='\u{0E7F}').contains(&c)
}

/// Splits `text` into runs of Thai and of other scripts. Spaces, digits and punctuation
/// join the run they are in, so "กรุงเทพฯ 10500" stays one Thai run.
fn script_runs(text: &str) -> Vec<(Range<usize>, bool)> {
    let mut runs: Vec<(Range<usize>, bool)> = Vec::new();
    let mut current: Option<bool> = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let strong = if is_thai(c) {
            Some(true)
        } else if c.is_alphabetic() {
            Some(false)
        } else {
            None
        };
        match (current, strong) {
            (None, Some(s)) => current = Some(s),
            (Some(cur), Some(s)) if cur != s => {
                runs.push((start..i, cur));
                start = i;
                current = Some(s);
            }
            _ => {}
        }
    }
    if start < text.len() {
        runs.push((start..text.len(), current.unwrap_or(false)));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustybuzz::ttf_parser::GlyphId;

    fn glyph_names(text: &str) -> Vec<String> {
        let fonts = Fonts::laksaman();
        shape(fonts, text, &[])
            .iter()
            .map(|g| {
                fonts.face(g.weight).face.glyph_name(GlyphId(g.glyph)).expect("Laksaman names its glyphs").to_string()
            })
            .collect()
    }

    #[test]
    fn tone_mark_without_upper_vowel_is_lowered() {
        assert_eq!(glyph_names("ป่า"), ["uni0E1B", "uni0E48.low", "uni0E32"]);
    }

    #[test]
    fn tone_mark_over_upper_vowel_stays_high() {
        assert_eq!(glyph_names("ที่"), ["uni0E17", "uni0E35", "uni0E48"]);
    }

    #[test]
    fn sara_am_splits_around_the_tone_mark() {
        assert_eq!(glyph_names("น้ำ"), ["uni0E19", "uni0E4D", "uni0E49", "uni0E32"]);
    }

    #[test]
    fn yo_ying_loses_its_tail_above_a_lower_vowel() {
        assert_eq!(glyph_names("ญู")[0], "uni0E0D.descless");
    }

    #[test]
    fn well_formed_thai_gets_no_dotted_circles() {
        let names = glyph_names("ปู่ ป่า ฝั่ง น้ำ ทั้ง ผู้ใหญ่บ้าน ไปรษณีย์ กรุงเทพฯ ฤๅษี ฎีกา ปั้น");
        assert!(!names.iter().any(|n| n == "uni25CC" || n == ".notdef"), "{names:?}");
    }

    #[test]
    fn marks_do_not_advance_the_pen() {
        let glyphs = shape(Fonts::laksaman(), "ปู่", &[]);
        assert_eq!(glyphs.len(), 3);
        assert!(glyphs[0].advance > 0.5);
        assert!(glyphs[1..].iter().all(|g| g.advance == 0.0));
        assert!(glyphs.iter().all(|g| g.cluster == 0));
    }

    #[test]
    fn clusters_are_byte_offsets_into_the_whole_text() {
        let text = "Dear คุณ";
        let glyphs = shape(Fonts::laksaman(), text, &[(5..text.len(), Weight::Bold)]);
        assert_eq!(glyphs.first().map(|g| (g.cluster, g.weight)), Some((0, Weight::Regular)));
        let thai = glyphs.iter().find(|g| g.cluster == 5).expect("a glyph starts at คุณ");
        assert_eq!(thai.weight, Weight::Bold);
        assert!(glyphs.windows(2).all(|w| w[0].cluster <= w[1].cluster));
    }

    #[test]
    fn weight_runs_cover_the_text_and_merge_neighbours() {
        let runs = weight_runs(10, &[(2..4, Weight::Bold), (4..6, Weight::Bold), (8..20, Weight::Regular)]);
        assert_eq!(runs, [(0..2, Weight::Regular), (2..6, Weight::Bold), (6..10, Weight::Regular)]);
        assert_eq!(weight_runs(0, &[]), []);
    }

    #[test]
    fn script_runs_keep_digits_and_spaces_with_their_neighbours() {
        let text = "กรุงเทพฯ 10500 Bangkok";
        let runs = script_runs(text);
        let thai_end = text.find("Bangkok").expect("Latin part");
        assert_eq!(runs, [(0..thai_end, true), (thai_end..text.len(), false)]);
        assert_eq!(script_runs("12 34"), [(0..5, false)]);
    }
}
