//! Lengths and page sizes.

/// Points per millimetre: a PostScript point is 1/72 inch, an inch 25.4 mm.
const PT_PER_MM: f32 = 72.0 / 25.4;

/// A length in millimetres. Page positions are measured from the top-left corner of
/// the page, `x` to the right and `y` downwards.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Mm(pub f32);

/// A length in PostScript points (1/72 inch), the unit of font sizes and line widths.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Pt(pub f32);

impl From<Mm> for Pt {
    fn from(mm: Mm) -> Self {
        Pt(mm.0 * PT_PER_MM)
    }
}

impl From<Pt> for Mm {
    fn from(pt: Pt) -> Self {
        Mm(pt.0 / PT_PER_MM)
    }
}

/// The size of a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSize {
    /// Page width.
    pub width: Mm,
    /// Page height.
    pub height: Mm,
}

impl PageSize {
    /// ISO 216 A4 portrait, the paper of Thai official letters: 210 × 297 mm.
    pub const A4: PageSize = PageSize { width: Mm(210.0), height: Mm(297.0) };
    /// ISO 216 A5 portrait: 148 × 210 mm.
    pub const A5: PageSize = PageSize { width: Mm(148.0), height: Mm(210.0) };
}

/// A point on the page, measured from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Distance from the left edge of the page.
    pub x: Mm,
    /// Distance from the top edge of the page.
    pub y: Mm,
}

impl Point {
    /// The point `x` mm from the left edge and `y` mm from the top edge.
    pub fn new(x: f32, y: f32) -> Self {
        Point { x: Mm(x), y: Mm(y) }
    }
}

/// A rectangle on the page: its top-left corner, width and height.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Area {
    /// Distance of the left side from the left edge of the page.
    pub x: Mm,
    /// Distance of the top side from the top edge of the page.
    pub y: Mm,
    /// Width, to the right of `x`.
    pub width: Mm,
    /// Height, downwards from `y`.
    pub height: Mm,
}

impl Area {
    /// The rectangle with its top-left corner `x`, `y` mm from the page's top-left
    /// corner, `width` mm wide and `height` mm high.
    pub fn new(x: f32, y: f32, width: f32, height: f32) -> Self {
        Area { x: Mm(x), y: Mm(y), width: Mm(width), height: Mm(height) }
    }

    /// The part of this area below `y` (mm from the top of the page), keeping its left
    /// side, width and bottom: where the next paragraph goes after one that ended at `y`.
    pub fn below(&self, y: Mm) -> Area {
        let top = y.0.clamp(self.y.0, self.y.0 + self.height.0);
        Area { y: Mm(top), height: Mm(self.y.0 + self.height.0 - top), ..*self }
    }
}

/// A colour in the RGB colour space, each component from 0.0 to 1.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color {
    /// Red.
    pub r: f32,
    /// Green.
    pub g: f32,
    /// Blue.
    pub b: f32,
}

impl Color {
    /// Black.
    pub const BLACK: Color = Color { r: 0.0, g: 0.0, b: 0.0 };

    /// A neutral grey: 0.0 is black, 1.0 white.
    pub fn gray(level: f32) -> Self {
        Color { r: level, g: level, b: level }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inch_is_72_points() {
        let pt = Pt::from(Mm(25.4));
        assert!((pt.0 - 72.0).abs() < 1e-4);
        assert!((Mm::from(Pt(72.0)).0 - 25.4).abs() < 1e-4);
    }

    #[test]
    fn the_area_below_a_paragraph_keeps_the_same_bottom() {
        let area = Area::new(20.0, 30.0, 170.0, 100.0);
        let rest = area.below(Mm(50.0));
        assert_eq!(rest, Area::new(20.0, 50.0, 170.0, 80.0));
        assert_eq!(area.below(Mm(500.0)).height, Mm(0.0));
    }
}
