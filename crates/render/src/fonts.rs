//! Font faces used for shaping and embedding.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rustybuzz::Face;
use rustybuzz::ttf_parser::{GlyphId, name_id};

use crate::RenderError;

/// TLWG Laksaman regular (a TH Sarabun design; GPL-2+ with the font exception, see
/// `templates/fonts/COPYRIGHT-fonts-tlwg-laksaman.txt`).
const LAKSAMAN_REGULAR: &[u8] = include_bytes!("../../../templates/fonts/Laksaman.ttf");
/// TLWG Laksaman bold.
const LAKSAMAN_BOLD: &[u8] = include_bytes!("../../../templates/fonts/Laksaman-Bold.ttf");

/// The bundled fonts, parsed once per process.
static LAKSAMAN: LazyLock<Fonts<'static>> = LazyLock::new(|| {
    Fonts::from_bytes(LAKSAMAN_REGULAR, LAKSAMAN_BOLD).expect("the bundled Laksaman fonts are valid TrueType files")
});

/// The weight of a run of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Weight {
    /// The regular face.
    #[default]
    Regular,
    /// The bold face.
    Bold,
}

/// A regular and a bold font face, shared by every document that uses them.
pub struct Fonts<'a> {
    /// Tells these fonts apart from any other in caches, for the life of the process.
    id: u64,
    regular: FontFace<'a>,
    bold: FontFace<'a>,
}

/// The id of the next [`Fonts`] made.
static NEXT_FONTS_ID: AtomicU64 = AtomicU64::new(0);

impl Fonts<'static> {
    /// The bundled TLWG Laksaman regular and bold faces.
    pub fn laksaman() -> &'static Fonts<'static> {
        &LAKSAMAN
    }
}

impl<'a> Fonts<'a> {
    /// Fonts from TrueType/OpenType files in memory. They must contain Thai glyphs and
    /// OpenType Thai layout tables for Thai text to come out right.
    pub fn from_bytes(regular: &'a [u8], bold: &'a [u8]) -> Result<Self, RenderError> {
        Ok(Fonts {
            id: NEXT_FONTS_ID.fetch_add(1, Ordering::Relaxed),
            regular: FontFace::parse(regular, Weight::Regular)?,
            bold: FontFace::parse(bold, Weight::Bold)?,
        })
    }

    /// The first character of `text` that the regular or the bold face has no glyph for, with
    /// its position counted in characters from 1. Whitespace and control characters are never
    /// drawn and need none (as when a paragraph is laid out). A character this finds would make
    /// laying out the text fail with [`RenderError::MissingGlyph`], so intake refuses it.
    pub fn missing_glyph(&self, text: &str) -> Option<(usize, char)> {
        text.chars()
            .enumerate()
            .filter(|(_, c)| !(c.is_whitespace() || c.is_control()))
            .find(|(_, c)| [&self.regular, &self.bold].iter().any(|f| f.face.glyph_index(*c).is_none()))
            .map(|(i, c)| (i + 1, c))
    }

    /// A number no other `Fonts` of this process has.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The face of the given weight.
    pub(crate) fn face(&self, weight: Weight) -> &FontFace<'a> {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

impl fmt::Debug for Fonts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fonts")
            .field("regular", &self.regular.postscript_name)
            .field("bold", &self.bold.postscript_name)
            .finish()
    }
}

/// One parsed font file with what shaping and embedding need from it.
pub(crate) struct FontFace<'a> {
    /// The font file, embedded (subset) into the PDF.
    pub(crate) data: &'a [u8],
    /// The face rustybuzz shapes with.
    pub(crate) face: Face<'a>,
    /// PostScript name, used as the PDF `/BaseFont` after the subset tag.
    pub(crate) postscript_name: String,
    /// Font design units per em.
    pub(crate) units_per_em: f32,
    /// OS/2 weight class, which the subset drops but the PDF font descriptor uses.
    pub(crate) weight_class: u16,
    /// Glyph → the character it stands for, from the font's Unicode `cmap`.
    unicode: HashMap<u16, char>,
    /// Advance of each glyph as a PDF `/W` array gives it: thousandths of an em,
    /// truncated as printpdf writes them.
    pdf_widths: Vec<f32>,
}

impl<'a> FontFace<'a> {
    /// Parses `data` as the face of `weight`.
    fn parse(data: &'a [u8], weight: Weight) -> Result<Self, RenderError> {
        let face = Face::from_slice(data, 0).ok_or(RenderError::UnreadableFont { weight })?;
        let postscript_name = face
            .names()
            .into_iter()
            .filter(|name| name.name_id == name_id::POST_SCRIPT_NAME)
            .find_map(|name| name.to_string())
            .map(|name| name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("Font-{weight:?}"));
        let mut unicode = HashMap::new();
        if let Some(cmap) = face.tables().cmap {
            for subtable in cmap.subtables.into_iter().filter(|s| s.is_unicode()) {
                subtable.codepoints(|code| {
                    if let (Some(c), Some(glyph)) = (char::from_u32(code), subtable.glyph_index(code)) {
                        unicode.entry(glyph.0).and_modify(|known: &mut char| *known = (*known).min(c)).or_insert(c);
                    }
                });
            }
        }
        let units_per_em = face.units_per_em() as f32;
        let pdf_widths = (0..face.number_of_glyphs())
            .map(|g| (f32::from(face.glyph_hor_advance(GlyphId(g)).unwrap_or(0)) * 1000.0 / units_per_em).trunc())
            .collect();
        Ok(FontFace {
            data,
            pdf_widths,
            units_per_em: face.units_per_em() as f32,
            weight_class: face.tables().os2.map_or(400, |os2| os2.weight().to_number()),
            face,
            postscript_name,
            unicode,
        })
    }

    /// The advance of `glyph` as the PDF `/W` array gives it: how far a viewer moves the
    /// pen after it, in thousandths of an em.
    pub(crate) fn pdf_width(&self, glyph: u16) -> f32 {
        self.pdf_widths.get(usize::from(glyph)).copied().unwrap_or(0.0)
    }

    /// Depth of the font below the baseline (hhea descender), in em.
    pub(crate) fn descent(&self) -> f32 {
        -f32::from(self.face.descender()) / self.units_per_em
    }

    /// The character a glyph stands for when text is extracted glyph by glyph: from the
    /// `cmap`, except that an AGLFN-style glyph name (`uni0E48.low` → U+0E48) wins over a
    /// Private Use Area code, which old Thai fonts assign to positional variants.
    pub(crate) fn unicode_of(&self, glyph: u16) -> Option<char> {
        let from_cmap = self.unicode.get(&glyph).copied();
        if from_cmap.is_some_and(|c| !('\u{E000}'..='\u{F8FF}').contains(&c)) {
            return from_cmap;
        }
        self.unicode_from_name(glyph).or(from_cmap)
    }

    /// The character named by a `uniXXXX` glyph name, ignoring any `.suffix`.
    fn unicode_from_name(&self, glyph: u16) -> Option<char> {
        let name = self.face.glyph_name(GlyphId(glyph))?;
        let hex = name.strip_prefix("uni")?.get(..4)?;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_fonts_parse_and_have_thai_glyphs() {
        let fonts = Fonts::laksaman();
        for weight in [Weight::Regular, Weight::Bold] {
            let face = fonts.face(weight);
            assert!(face.face.glyph_index('ก').is_some());
            assert!(face.face.glyph_index('ฯ').is_some());
            assert!(face.face.glyph_index('A').is_some());
            assert!(face.postscript_name.starts_with("Laksaman"), "{}", face.postscript_name);
        }
        assert_ne!(fonts.face(Weight::Regular).postscript_name, fonts.face(Weight::Bold).postscript_name);
    }

    #[test]
    fn positional_variants_of_thai_marks_map_back_to_their_character() {
        let face = Fonts::laksaman().face(Weight::Regular);
        let low_mai_ek = (0..face.face.number_of_glyphs())
            .find(|g| face.face.glyph_name(GlyphId(*g)) == Some("uni0E48.low"))
            .expect("Laksaman has a lowered mai ek");
        assert_eq!(face.unicode_of(low_mai_ek), Some('\u{0E48}'));
    }

    #[test]
    fn characters_without_a_glyph_are_found_with_their_position() {
        let fonts = Fonts::laksaman();
        assert_eq!(fonts.missing_glyph("นายสมชาย ใจดี Mr. Smith 12/3"), None);
        assert_eq!(fonts.missing_glyph("ก😀"), Some((2, '😀')));
        assert_eq!(fonts.missing_glyph("ab\u{4e2d}"), Some((3, '\u{4e2d}')));
        assert_eq!(fonts.missing_glyph("a\u{3000}b\n"), None, "spaces need no glyph");
    }

    #[test]
    fn garbage_is_not_a_font() {
        let err = Fonts::from_bytes(b"not a font", b"still not").expect_err("garbage must be rejected");
        assert!(matches!(err, RenderError::UnreadableFont { weight: Weight::Regular }));
    }
}
