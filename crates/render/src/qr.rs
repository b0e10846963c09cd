//! QR symbols drawn as filled rectangles.
//!
//! The renderer does not make QR codes: the caller (which holds the seal key or the reply-code
//! secret) encodes them and hands over the modules. Each row's runs of dark modules are drawn
//! as one rectangle, in module units under one scaling `cm`, so a symbol costs a few hundred
//! path operations written as whole numbers, and prints sharp at any resolution.

use crate::{Document, Mm, PageId, RenderError};

/// Smallest QR symbol: version 1, 21 × 21 modules (ISO/IEC 18004 §5.3.1).
const MIN_MODULES: usize = 21;
/// Largest QR symbol: version 40, 177 × 177 modules.
const MAX_MODULES: usize = 177;

/// Width of the light margin a QR symbol needs on every side, in modules (ISO/IEC 18004 §6.3.8).
pub const QUIET_ZONE_MODULES: usize = 4;

/// A QR symbol as a square grid of modules, without its quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrModules {
    size: usize,
    dark: Vec<bool>,
}

impl QrModules {
    /// A symbol of `size` × `size` modules, row by row from the top-left, `true` for dark.
    /// Fails unless `dark` has `size²` entries and `size` is a QR size (21 to 177, 17 + 4·version).
    pub fn new(size: usize, dark: Vec<bool>) -> Result<Self, RenderError> {
        let valid = (MIN_MODULES..=MAX_MODULES).contains(&size) && (size - 17).is_multiple_of(4);
        if !valid || dark.len() != size * size {
            return Err(RenderError::InvalidQr { size, modules: dark.len() });
        }
        Ok(QrModules { size, dark })
    }

    /// Modules per side.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The QR version (1–40) of a symbol this size.
    pub fn version(&self) -> usize {
        (self.size - 17) / 4
    }

    /// Whether the module in column `x`, row `y` is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }

    /// The runs of dark modules of row `y`: start column and length.
    fn runs(&self, y: usize) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < self.size {
            if self.is_dark(x, y) {
                let start = x;
                while x < self.size && self.is_dark(x, y) {
                    x += 1;
                }
                runs.push((start, x - start));
            } else {
                x += 1;
            }
        }
        runs
    }
}

/// Draws `symbol` with its top-left module at (`x`, `y`) mm and modules `module` mm wide.
/// The caller keeps the quiet zone around it clear.
pub(crate) fn draw_qr(
    doc: &mut Document<'_>,
    page: PageId,
    symbol: &QrModules,
    x: f32,
    y: f32,
    module: Mm,
) -> Result<(), RenderError> {
    // At most 177 modules a side (`QrModules::new`): rows and columns fit a u16.
    let runs = (0..symbol.size)
        .flat_map(|row| symbol.runs(row).into_iter().map(move |(start, len)| (row as u16, start as u16, len as u16)));
    doc.draw_modules(page, (x, y), module, symbol.size as u16, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_square_qr_sizes_are_accepted() {
        assert!(QrModules::new(21, vec![false; 441]).is_ok());
        assert!(QrModules::new(22, vec![false; 484]).is_err());
        assert!(QrModules::new(21, vec![false; 440]).is_err());
        assert!(QrModules::new(17, vec![false; 289]).is_err());
        assert_eq!(QrModules::new(33, vec![false; 33 * 33]).map(|q| q.version()).ok(), Some(4));
    }

    #[test]
    fn a_row_becomes_one_run_per_stretch_of_dark_modules() {
        let mut dark = vec![false; 441];
        for x in [0, 1, 2, 5, 20] {
            dark[x] = true;
        }
        let symbol = QrModules::new(21, dark).expect("valid");
        assert_eq!(symbol.runs(0), [(0, 3), (5, 1), (20, 1)]);
        assert!(symbol.runs(1).is_empty());
    }
}
