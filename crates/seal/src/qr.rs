//! QR symbol generation (ISO/IEC 18004) for renderers: seals at error correction level Q,
//! reply codes at level H.
//!
//! Level Q restores up to about 25 % of damaged codewords (ISO/IEC 18004 §7.5.1), which suits
//! letters that are folded, stamped on or photographed at an angle. Level H restores about 30 %:
//! reply sheets come back handwritten on, stamped and scanned, and their codes are short.

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, Version};

/// The error correction level used for seals.
pub const SEAL_EC_LEVEL: EcLevel = EcLevel::Q;

/// Largest QR version the seal aims for at level Q: 57 × 57 modules, which keeps modules at or
/// above 0.6 mm in a 35 mm square.
pub const TARGET_MAX_VERSION: u8 = 10;

/// A QR symbol as a square grid of modules, row by row, without the quiet zone.
///
/// The renderer must add a light quiet zone of 4 modules on every side (ISO/IEC 18004 §6.3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// QR version, 1–40.
    pub version: u8,
    /// Modules per side: 17 + 4 × version.
    pub width: usize,
    /// `width × width` modules in row-major order; `true` is dark.
    pub modules: Vec<bool>,
}

impl QrMatrix {
    /// Whether the module at column `x`, row `y` is dark; `false` outside the symbol.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && self.modules.get(y * self.width + x).copied().unwrap_or(false)
    }
}

/// Why no QR symbol could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("QR encoding: {0}")]
pub struct QrError(pub String);

/// Error correction level of a QR symbol (ISO/IEC 18004 §5.3.8): the share of damaged
/// codewords it restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCorrection {
    /// About 7 %.
    L,
    /// About 15 %.
    M,
    /// About 25 %: seals.
    Q,
    /// About 30 %: reply codes.
    H,
}

impl ErrorCorrection {
    fn level(self) -> EcLevel {
        match self {
            ErrorCorrection::L => EcLevel::L,
            ErrorCorrection::M => EcLevel::M,
            ErrorCorrection::Q => EcLevel::Q,
            ErrorCorrection::H => EcLevel::H,
        }
    }
}

/// Builds the smallest QR symbol at level Q holding `text`. The encoder splits the text into
/// optimal mode segments (ISO/IEC 18004 Annex J), so an all-alphanumeric text costs 5.5 bits
/// per character.
pub fn qr_matrix(text: &str) -> Result<QrMatrix, QrError> {
    qr_matrix_at(text, ErrorCorrection::Q)
}

/// Builds the smallest QR symbol at error correction level `ec` holding `text`.
pub fn qr_matrix_at(text: &str, ec: ErrorCorrection) -> Result<QrMatrix, QrError> {
    let bits = qrcode::bits::encode_auto(text.as_bytes(), ec.level()).map_err(|e| QrError(e.to_string()))?;
    symbol(bits, ec)
}

/// Lays out the symbol for `bits`: codewords with error correction, function patterns, and the
/// mask with the lowest penalty (ISO/IEC 18004 §7.8.3). The mask is chosen here rather than by
/// the `qrcode` crate, whose scoring allocates for every rule of every mask and took half the
/// time of typesetting a letter; and the eight masked candidates are made here too
/// ([`masked_candidates`]), not by `qrcode`'s clone and `apply_mask` of the whole canvas per mask.
fn symbol(bits: qrcode::bits::Bits, ec: ErrorCorrection) -> Result<QrMatrix, QrError> {
    use qrcode::canvas::Canvas;
    let version = bits.version();
    let number = match version {
        Version::Normal(v) => u8::try_from(v).map_err(|_| QrError("version out of range".into()))?,
        Version::Micro(_) => return Err(QrError("unexpected Micro QR".into())),
    };
    let data = bits.into_bytes();
    let (encoded, ec_data) =
        qrcode::ec::construct_codewords(&data, version, ec.level()).map_err(|e| QrError(e.to_string()))?;
    let mut canvas = Canvas::new(version, ec.level());
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&encoded, &ec_data);
    let width = usize::try_from(version.width()).map_err(|_| QrError("width out of range".into()))?;
    let mut best: Option<(u32, Vec<bool>)> = None;
    for modules in masked_candidates(&canvas, version, ec, width) {
        let score = penalty(&modules, width);
        if best.as_ref().is_none_or(|(b, _)| score < *b) {
            best = Some((score, modules));
        }
    }
    let (_, modules) = best.ok_or_else(|| QrError("no mask".into()))?;
    Ok(QrMatrix { version: number, width, modules })
}

/// The eight masks in the order of their pattern numbers (ISO/IEC 18004 Table 10).
const MASKS: [qrcode::canvas::MaskPattern; 8] = {
    use qrcode::canvas::MaskPattern as M;
    [
        M::Checkerboard,
        M::HorizontalLines,
        M::VerticalLines,
        M::DiagonalLines,
        M::LargeCheckerboard,
        M::Fields,
        M::Diamonds,
        M::Meadow,
    ]
};

/// `canvas` (data drawn, not masked) under each of the eight masks, row by row, `true` dark:
/// what `qrcode` gives by cloning the canvas, `apply_mask` and `into_colors`, module for module.
///
/// A data module is its colour inverted where the mask says. Every other module is what
/// `apply_mask` makes of the function patterns alone, the format information for the mask
/// drawn in: that depends only on the version, the level and the mask, so it is worked out once
/// per version and level through `qrcode` itself and kept ([`function_modules`]).
fn masked_candidates(
    canvas: &qrcode::canvas::Canvas,
    version: Version,
    ec: ErrorCorrection,
    width: usize,
) -> Vec<Vec<bool>> {
    use qrcode::canvas::Module;
    let n = width * width;
    // Colour and whether it is data, row by row.
    let mut base = Vec::with_capacity(n);
    for y in 0..width {
        for x in 0..width {
            // Widths are at most 177: the coordinates fit an i16.
            let module = canvas.get(x as i16, y as i16);
            base.push((module.is_dark(), matches!(module, Module::Unmasked(_))));
        }
    }
    let function = function_modules(version, ec);
    // One pass per mask, each with its condition inlined: the conditions of ISO/IEC 18004
    // Table 10, in the order of the pattern numbers, as `qrcode`'s mask functions have them.
    fn masked(
        base: &[(bool, bool)],
        fixed: &[bool],
        width: usize,
        inverts: impl Fn(usize, usize) -> bool,
    ) -> Vec<bool> {
        let mut out = Vec::with_capacity(base.len());
        for (y, (row, fixed)) in base.chunks_exact(width).zip(fixed.chunks_exact(width)).enumerate() {
            out.extend(
                row.iter()
                    .zip(fixed)
                    .enumerate()
                    .map(|(x, (&(dark, data), &fixed))| if data { dark ^ inverts(x, y) } else { fixed }),
            );
        }
        out
    }
    let f = |k: usize| function[k].as_slice();
    vec![
        masked(&base, f(0), width, |x, y| (x + y) % 2 == 0),
        masked(&base, f(1), width, |_, y| y % 2 == 0),
        masked(&base, f(2), width, |x, _| x % 3 == 0),
        masked(&base, f(3), width, |x, y| (x + y) % 3 == 0),
        masked(&base, f(4), width, |x, y| (y / 2 + x / 3) % 2 == 0),
        masked(&base, f(5), width, |x, y| (x * y) % 2 + (x * y) % 3 == 0),
        masked(&base, f(6), width, |x, y| ((x * y) % 2 + (x * y) % 3) % 2 == 0),
        masked(&base, f(7), width, |x, y| ((x + y) % 2 + (x * y) % 3) % 2 == 0),
    ]
}

/// The function patterns of a symbol of `version` at level `ec` under each mask, as `qrcode`'s
/// `apply_mask` draws them with the mask's format information (data modules there are
/// meaningless), made once per version and level and kept for the process: 8 × width² bytes
/// each, 26 KB for a version-10 seal, 13 MB if every version were used at every level.
fn function_modules(version: Version, ec: ErrorCorrection) -> std::sync::Arc<Vec<Vec<bool>>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};
    // By width: `Version` is not `Hash`, and the width tells the (normal) version.
    type Kept = HashMap<(i16, ErrorCorrection), Arc<Vec<Vec<bool>>>>;
    static KEPT: OnceLock<Mutex<Kept>> = OnceLock::new();
    let kept = KEPT.get_or_init(Default::default);
    if let Some(found) = kept.lock().unwrap_or_else(PoisonError::into_inner).get(&(version.width(), ec)) {
        return Arc::clone(found);
    }
    let mut functional = qrcode::canvas::Canvas::new(version, ec.level());
    functional.draw_all_functional_patterns();
    let made = Arc::new(masked_by_qrcode(&functional));
    kept.lock().unwrap_or_else(PoisonError::into_inner).insert((version.width(), ec), Arc::clone(&made));
    made
}

/// `canvas` under each of the eight masks as `qrcode` masks it: cloned, `apply_mask` (which
/// also draws the mask's format information) and read row by row, `true` dark.
fn masked_by_qrcode(canvas: &qrcode::canvas::Canvas) -> Vec<Vec<bool>> {
    MASKS
        .iter()
        .map(|&mask| {
            let mut masked = canvas.clone();
            masked.apply_mask(mask);
            masked.into_colors().into_iter().map(|c| c == Color::Dark).collect()
        })
        .collect()
}

/// The mask penalty of a symbol (ISO/IEC 18004 §7.8.3.1): runs of five or more modules of one
/// colour, 2 × 2 blocks of one colour, finder-like 1:1:3:1:1 patterns beside four light
/// modules, and the balance of dark and light.
///
/// Eight masks are scored for every symbol, a symbol or three a letter. Up to 128 modules a
/// side (version 27; seals are version 13 at most), each row and column is a 128-bit word and
/// the rules are a few shifts and counts of bits ([`packed_penalty`]); larger symbols are
/// scored module by module ([`module_penalty`]).
fn penalty(m: &[bool], w: usize) -> u32 {
    if w <= 128 { packed_penalty(m, w) } else { module_penalty(m, w) }
}

/// [`penalty`] module by module, as the standard reads: symbols over 128 modules a side.
fn module_penalty(m: &[bool], w: usize) -> u32 {
    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
    let at = |x: usize, y: usize| m[y * w + x];
    let mut score = 0u32;
    // N1 and N3, along rows and along columns (a transposed copy, so both are slices).
    let transposed: Vec<bool> = (0..w * w).map(|i| m[(i % w) * w + i / w]).collect();
    for lines in [m, transposed.as_slice()] {
        for line in lines.chunks_exact(w) {
            let mut run = 1u32;
            for j in 1..w {
                if line[j] == line[j - 1] {
                    run += 1;
                } else {
                    if run >= 5 {
                        score += run - 2;
                    }
                    run = 1;
                }
            }
            if run >= 5 {
                score += run - 2;
            }
            // dark light dark dark dark light dark, with four light modules before or after.
            for j in 0..w.saturating_sub(6) {
                if line[j..j + 7] != FINDER {
                    continue;
                }
                let light_before = j >= 4 && !line[j - 4..j].contains(&true);
                let light_after = j + 11 <= w && !line[j + 7..j + 11].contains(&true);
                if light_before || light_after {
                    score += 40;
                }
            }
        }
    }
    // N2: 2 × 2 blocks of one colour.
    for y in 0..w - 1 {
        for x in 0..w - 1 {
            let c = at(x, y);
            if at(x + 1, y) == c && at(x, y + 1) == c && at(x + 1, y + 1) == c {
                score += 3;
            }
        }
    }
    // N4: 10 points for each 5 % the dark share strays from half.
    let dark = m.iter().filter(|&&d| d).count();
    let percent = dark * 100 / m.len();
    score += u32::try_from(percent.abs_diff(50) / 5 * 10).unwrap_or(u32::MAX);
    score
}

/// [`penalty`] for symbols up to 128 modules a side: bit `j` of a line is its module `j`.
fn packed_penalty(m: &[bool], w: usize) -> u32 {
    let width_mask: u128 = if w == 128 { u128::MAX } else { (1u128 << w) - 1 };
    let mut rows = vec![0u128; w];
    let mut columns = vec![0u128; w];
    // From the last module back, each shifted in at bit 0: no variable shifts of 128 bits.
    for (row, modules) in rows.iter_mut().zip(m.chunks_exact(w)).rev() {
        for (column, &dark) in columns.iter_mut().zip(modules).rev() {
            *row = *row << 1 | u128::from(dark);
            *column = *column << 1 | u128::from(dark);
        }
    }
    let mut score = 0u32;
    for &line in rows.iter().chain(&columns) {
        score += packed_line_penalty(line, w, width_mask);
    }
    // N2: 2 × 2 blocks of one colour, at their top left module.
    let pairs_mask = width_mask >> 1;
    for (&upper, &lower) in rows.iter().zip(&rows[1..]) {
        let same = !(upper ^ lower) & !(upper ^ (upper >> 1)) & !(lower ^ (lower >> 1)) & pairs_mask;
        score += 3 * same.count_ones();
    }
    // N4: 10 points for each 5 % the dark share strays from half.
    let dark: usize = rows.iter().map(|r| r.count_ones() as usize).sum();
    let percent = dark * 100 / (w * w);
    score + u32::try_from(percent.abs_diff(50) / 5 * 10).unwrap_or(u32::MAX)
}

/// N1 and N3 of [`packed_penalty`] along one row or column `line` of `w` modules.
fn packed_line_penalty(line: u128, w: usize, width_mask: u128) -> u32 {
    let mut score = 0u32;
    // N1: a run ends where a module differs from the next one, and at the end of the line.
    let mut ends = (line ^ (line >> 1)) & (width_mask >> 1) | 1u128 << (w - 1);
    let mut start = 0u32;
    while ends != 0 {
        let end = ends.trailing_zeros();
        let run = end + 1 - start;
        if run >= 5 {
            score += run - 2;
        }
        start = end + 1;
        ends &= ends - 1;
    }
    // N3: dark light dark dark dark light dark at module j (bit j of `finder`)…
    let light = !line & width_mask;
    let mut finder = width_mask;
    for (k, dark) in [true, false, true, true, true, false, true].into_iter().enumerate() {
        finder &= if dark { line >> k } else { light >> k };
    }
    // …with four light modules before it (from j − 4) or after it (from j + 7).
    let four_light = light & (light >> 1) & (light >> 2) & (light >> 3);
    let beside = (four_light << 4) | (four_light >> 7);
    score + 40 * (finder & beside).count_ones()
}

/// Builds the smallest QR symbol at level `ec` holding `text` as a single alphanumeric-mode
/// segment (ISO/IEC 18004 §7.4.4). For texts of upper-case letters and digits this is never
/// larger than the encoder's own segmentation, which may split off runs of digits into
/// numeric segments whose headers cost more than they save; reply codes rely on the size.
pub fn alphanumeric_qr_matrix(text: &str, ec: ErrorCorrection) -> Result<QrMatrix, QrError> {
    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    if !text.bytes().all(|b| ALPHANUMERIC.contains(&b)) {
        return Err(QrError("the text has characters outside the QR alphanumeric set".into()));
    }
    for version in 1..=40 {
        let mut bits = Bits::new(Version::Normal(version));
        let fits = bits.push_alphanumeric_data(text.as_bytes()).is_ok() && bits.push_terminator(ec.level()).is_ok();
        if !fits {
            continue;
        }
        return symbol(bits, ec);
    }
    Err(QrError("the text does not fit a QR symbol".into()))
}

/// The side of one module in millimetres when the symbol (without quiet zone) is printed
/// `printed_mm` wide: `printed_mm / (17 + 4 × version)`.
pub fn module_size_mm(version: u8, printed_mm: f64) -> f64 {
    printed_mm / f64::from(17 + 4 * u32::from(version))
}

#[cfg(test)]
mod penalty_tests {
    use super::{module_penalty, penalty};

    #[test]
    fn the_penalty_rules_score_what_iso_18004_says() {
        let w = 21;
        // A checkerboard: no runs, no blocks, no finder-like patterns, half dark.
        let checker: Vec<bool> = (0..w * w).map(|i| (i % w + i / w) % 2 == 0).collect();
        assert_eq!(penalty(&checker, w), 0);
        // All dark: runs of 21 in 21 rows and 21 columns (3 + 16 each), 20 × 20 blocks of 3,
        // and 50 % off balance (10 × 10).
        let dark = vec![true; w * w];
        assert_eq!(penalty(&dark, w), 42 * 19 + 400 * 3 + 100);
    }

    #[test]
    fn the_penalty_scores_random_and_real_symbols_as_the_standard_reads() {
        // Random grids of every width from version 1 to 40, some sparse enough for
        // finder-like patterns beside light modules, and the masked candidates of real symbols.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for version in 1..=40usize {
            let w = 17 + 4 * version;
            for dark_in_16 in [2u64, 5, 8, 12] {
                let m: Vec<bool> = (0..w * w).map(|_| next() % 16 < dark_in_16).collect();
                assert_eq!(penalty(&m, w), module_penalty(&m, w), "version {version}, {dark_in_16}/16 dark");
            }
        }
        let finder_row =
            [false, false, false, false, true, false, true, true, true, false, true, false, false, false, false];
        let w = finder_row.len();
        let m: Vec<bool> = (0..w * w).map(|i| finder_row[i % w] && (i / w).is_multiple_of(3)).collect();
        assert!(penalty(&m, w) >= 40, "finder-like rows score");
        assert_eq!(penalty(&m, w), module_penalty(&m, w));
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;
    use qrcode::canvas::Canvas;

    #[test]
    fn masked_candidates_are_qrcode_s_module_for_module_for_every_version_level_and_mask() {
        let levels = [ErrorCorrection::L, ErrorCorrection::M, ErrorCorrection::Q, ErrorCorrection::H];
        for number in 1..=40i16 {
            for (round, &ec) in levels.iter().enumerate() {
                let version = Version::Normal(number);
                let mut bits = Bits::new(version);
                // Short enough for version 1 at level H (10 characters); the rest is padding.
                let text = format!("HP{number:02}-{round}");
                bits.push_alphanumeric_data(text.as_bytes()).expect("a short text fits every version");
                bits.push_terminator(ec.level()).expect("fits");
                let (encoded, ec_data) =
                    qrcode::ec::construct_codewords(&bits.into_bytes(), version, ec.level()).expect("codewords");
                let mut canvas = Canvas::new(version, ec.level());
                canvas.draw_all_functional_patterns();
                canvas.draw_data(&encoded, &ec_data);
                let width = 17 + 4 * number as usize;
                // Twice: the second time the function patterns come from what was kept.
                for _ in 0..2 {
                    assert_eq!(
                        masked_candidates(&canvas, version, ec, width),
                        masked_by_qrcode(&canvas),
                        "version {number}, level {ec:?}"
                    );
                }
            }
        }
    }
}
