//! Fonts: the metrics the content interpreter needs to size text (ISO 32000-1 §9.2.4,
//! §9.6, §9.7.4.3) and whether a font program is embedded (§9.9).

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object};

use crate::objects::{display_name, get, get_array, get_dict, get_name, get_number, numbers, resolve};

/// Advance width used when a font has no width table, in thousandths of an em: wide
/// enough for most Latin faces, so a margin check errs on the side of reporting.
const ESTIMATED_WIDTH: f64 = 600.0;
/// Entries of a `/W` array read at most (a CID font has at most 65,536 glyphs).
const MAX_CID_WIDTHS: usize = 65_536;

/// What the interpreter needs to know of a font to bound the text it shows.
#[derive(Debug, Clone)]
pub(crate) struct FontMetrics {
    /// The font's name as the document calls it (`BaseFont`).
    pub(crate) name: String,
    /// Two-byte codes (a Type0 font); one byte otherwise.
    pub(crate) two_byte: bool,
    widths: Widths,
    /// Glyph-space units per text-space unit × 1000 (1 except for Type3 fonts).
    scale: f64,
    /// Top and bottom of the glyphs in thousandths of an em, relative to the baseline.
    pub(crate) ascent: f64,
    pub(crate) descent: f64,
    /// The widths are an estimate: the font has no width table.
    pub(crate) estimated: bool,
}

#[derive(Debug, Clone)]
enum Widths {
    Simple { first: i64, widths: Vec<f64>, missing: f64 },
    Cid { default: f64, widths: HashMap<u32, f64> },
    Estimate,
}

impl FontMetrics {
    /// Metrics of the font dictionary `font`.
    pub(crate) fn read(doc: &Document, font: &Dictionary) -> Self {
        let subtype = get_name(doc, font, b"Subtype").unwrap_or_default();
        let name = get_name(doc, font, b"BaseFont").map(display_name).unwrap_or_else(|| "(unnamed)".to_string());
        let two_byte = subtype == b"Type0";
        let descendant = if two_byte {
            get_array(doc, font, b"DescendantFonts")
                .and_then(|a| a.first())
                .and_then(|o| resolve(doc, o))
                .and_then(crate::objects::as_dict)
        } else {
            None
        };
        let descriptor_owner = descendant.unwrap_or(font);
        let descriptor = get_dict(doc, descriptor_owner, b"FontDescriptor");

        let widths = match descendant {
            Some(cid_font) => cid_widths(doc, cid_font),
            None => simple_widths(doc, font, descriptor),
        };
        let scale = if subtype == b"Type3" {
            get_array(doc, font, b"FontMatrix")
                .and_then(|m| numbers(doc, m))
                .and_then(|m| m.first().copied())
                .map(|a| (a * 1000.0).abs())
                .filter(|s| s.is_finite() && *s > 0.0)
                .unwrap_or(1.0)
        } else {
            1.0
        };
        let (ascent, descent) = vertical_extent(doc, font, descriptor, subtype == b"Type3");
        let estimated = matches!(widths, Widths::Estimate);
        Self { name, two_byte, widths, scale, ascent, descent, estimated }
    }

    /// Metrics for text shown with no usable font selected.
    pub(crate) fn unknown() -> Self {
        Self {
            name: "(no font)".to_string(),
            two_byte: false,
            widths: Widths::Estimate,
            scale: 1.0,
            ascent: 800.0,
            descent: -200.0,
            estimated: true,
        }
    }

    /// Advance width of the glyph for `code`, in thousandths of an em of text space.
    pub(crate) fn width(&self, code: u32) -> f64 {
        let glyph = match &self.widths {
            Widths::Simple { first, widths, missing } => {
                let index = i64::from(code) - first;
                usize::try_from(index).ok().and_then(|i| widths.get(i)).copied().unwrap_or(*missing)
            }
            Widths::Cid { default, widths } => widths.get(&code).copied().unwrap_or(*default),
            Widths::Estimate => ESTIMATED_WIDTH,
        };
        glyph * self.scale
    }
}

fn simple_widths(doc: &Document, font: &Dictionary, descriptor: Option<&Dictionary>) -> Widths {
    let missing = descriptor.and_then(|d| get_number(doc, d, b"MissingWidth")).unwrap_or(0.0);
    match (get_number(doc, font, b"FirstChar"), get_array(doc, font, b"Widths")) {
        (Some(first), Some(widths)) if !widths.is_empty() => Widths::Simple {
            first: first as i64,
            widths: widths.iter().map(|w| crate::objects::number(doc, w).unwrap_or(missing)).collect(),
            missing,
        },
        _ => Widths::Estimate,
    }
}

fn cid_widths(doc: &Document, cid_font: &Dictionary) -> Widths {
    let default = get_number(doc, cid_font, b"DW").unwrap_or(1000.0);
    let mut widths = HashMap::new();
    let Some(w) = get_array(doc, cid_font, b"W") else {
        return Widths::Cid { default, widths };
    };
    // `c [w1 w2 …]` gives consecutive CIDs from c; `c_first c_last w` gives a range.
    let mut i = 0;
    while i < w.len() && widths.len() < MAX_CID_WIDTHS {
        let Some(start) = w.get(i).and_then(|o| crate::objects::number(doc, o)) else { break };
        let start = start.max(0.0) as u32;
        match w.get(i + 1).and_then(|o| resolve(doc, o)) {
            Some(Object::Array(list)) => {
                for (k, width) in list.iter().enumerate().take(MAX_CID_WIDTHS) {
                    if let Some(width) = crate::objects::number(doc, width) {
                        widths.insert(start.saturating_add(k as u32), width);
                    }
                }
                i += 2;
            }
            Some(_) => {
                let end = w.get(i + 1).and_then(|o| crate::objects::number(doc, o));
                let width = w.get(i + 2).and_then(|o| crate::objects::number(doc, o));
                let (Some(end), Some(width)) = (end, width) else { break };
                let end = (end.max(0.0) as u32).min(start.saturating_add(MAX_CID_WIDTHS as u32));
                for cid in start..=end {
                    if widths.len() >= MAX_CID_WIDTHS {
                        break;
                    }
                    widths.insert(cid, width);
                }
                i += 3;
            }
            None => break,
        }
    }
    Widths::Cid { default, widths }
}

/// Ascent and descent in thousandths of an em, from the descriptor or the font's box.
fn vertical_extent(doc: &Document, font: &Dictionary, descriptor: Option<&Dictionary>, type3: bool) -> (f64, f64) {
    let from_descriptor = descriptor.and_then(|d| {
        let ascent = get_number(doc, d, b"Ascent")?;
        let descent = get_number(doc, d, b"Descent")?;
        (ascent > descent).then_some((ascent, descent))
    });
    let bbox_owner = if type3 { Some(font) } else { descriptor };
    let from_bbox = || {
        let bbox = numbers(doc, get_array(doc, bbox_owner?, b"FontBBox")?)?;
        let (&low, &high) = (bbox.get(1)?, bbox.get(3)?);
        let scale = if type3 {
            get_array(doc, font, b"FontMatrix")
                .and_then(|m| numbers(doc, m))
                .and_then(|m| m.get(3).copied())
                .map(|d| (d * 1000.0).abs())
                .unwrap_or(1.0)
        } else {
            1.0
        };
        (high > low).then_some((high.max(low) * scale, low.min(high) * scale))
    };
    let (ascent, descent) = from_descriptor.or_else(from_bbox).unwrap_or((800.0, -200.0));
    // A hostile descriptor can claim anything; glyphs taller than five ems are not text.
    (ascent.clamp(-5000.0, 5000.0), descent.clamp(-5000.0, 5000.0))
}

/// Whether the font dictionary `font` carries its font program, and the font's name.
/// Type3 fonts are drawn by content streams and count as embedded.
pub(crate) fn embedding(doc: &Document, font: &Dictionary) -> (bool, String) {
    let name = get_name(doc, font, b"BaseFont").map(display_name).unwrap_or_else(|| "(unnamed)".to_string());
    let subtype = get_name(doc, font, b"Subtype").unwrap_or_default();
    if subtype == b"Type3" {
        return (true, name);
    }
    let owner = if subtype == b"Type0" {
        get_array(doc, font, b"DescendantFonts")
            .and_then(|a| a.first())
            .and_then(|o| resolve(doc, o))
            .and_then(crate::objects::as_dict)
    } else {
        Some(font)
    };
    let embedded = owner.and_then(|o| get_dict(doc, o, b"FontDescriptor")).is_some_and(|descriptor| {
        [b"FontFile".as_slice(), b"FontFile2", b"FontFile3"]
            .iter()
            .any(|key| matches!(get(doc, descriptor, key), Some(Object::Stream(_))))
    });
    (embedded, name)
}
