//! Affine matrices and rectangles in PDF user space (ISO 32000-1 §8.3).

/// Millimetres per PDF point (1/72 inch).
pub(crate) const MM_PER_PT: f64 = 25.4 / 72.0;

/// A PDF transformation matrix `[a b c d e f]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Matrix {
    pub(crate) a: f64,
    pub(crate) b: f64,
    pub(crate) c: f64,
    pub(crate) d: f64,
    pub(crate) e: f64,
    pub(crate) f: f64,
}

impl Matrix {
    pub(crate) const IDENTITY: Self = Self { a: 1.0, b: 0.0, c: 0.0, d: 1.0, e: 0.0, f: 0.0 };

    /// A matrix from six numbers, or `None` unless there are exactly six.
    pub(crate) fn from_slice(values: &[f64]) -> Option<Self> {
        match *values {
            [a, b, c, d, e, f] => Some(Self { a, b, c, d, e, f }),
            _ => None,
        }
    }

    pub(crate) fn translate(x: f64, y: f64) -> Self {
        Self { e: x, f: y, ..Self::IDENTITY }
    }

    /// `self` applied first, then `then` (the order of `cm`: new CTM = M × CTM).
    pub(crate) fn then(&self, then: &Self) -> Self {
        Self {
            a: self.a * then.a + self.b * then.c,
            b: self.a * then.b + self.b * then.d,
            c: self.c * then.a + self.d * then.c,
            d: self.c * then.b + self.d * then.d,
            e: self.e * then.a + self.f * then.c + then.e,
            f: self.e * then.b + self.f * then.d + then.f,
        }
    }

    pub(crate) fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f)
    }

    /// The bounding box of `rect` after this transformation.
    pub(crate) fn transform_rect(&self, rect: &Rect) -> Rect {
        let mut out = Rect::EMPTY;
        for (x, y) in [(rect.x0, rect.y0), (rect.x1, rect.y0), (rect.x0, rect.y1), (rect.x1, rect.y1)] {
            let (tx, ty) = self.apply(x, y);
            out.include(tx, ty);
        }
        out
    }

    /// How much the matrix scales lengths, on average over both axes.
    pub(crate) fn scale(&self) -> f64 {
        (self.a * self.d - self.b * self.c).abs().sqrt()
    }
}

/// An axis-aligned rectangle; empty when `x0 > x1` or `y0 > y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub(crate) x0: f64,
    pub(crate) y0: f64,
    pub(crate) x1: f64,
    pub(crate) y1: f64,
}

impl Rect {
    pub(crate) const EMPTY: Self =
        Self { x0: f64::INFINITY, y0: f64::INFINITY, x1: f64::NEG_INFINITY, y1: f64::NEG_INFINITY };

    /// The rectangle spanned by two corners in any order.
    pub(crate) fn from_corners(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Self { x0: x0.min(x1), y0: y0.min(y1), x1: x0.max(x1), y1: y0.max(y1) }
    }

    /// Whether the rectangle holds at least one point and only finite coordinates.
    pub(crate) fn is_valid(&self) -> bool {
        self.x0 <= self.x1 && self.y0 <= self.y1 && [self.x0, self.y0, self.x1, self.y1].iter().all(|v| v.is_finite())
    }

    pub(crate) fn include(&mut self, x: f64, y: f64) {
        if x.is_finite() && y.is_finite() {
            self.x0 = self.x0.min(x);
            self.y0 = self.y0.min(y);
            self.x1 = self.x1.max(x);
            self.y1 = self.y1.max(y);
        }
    }

    pub(crate) fn union(&mut self, other: &Rect) {
        if other.is_valid() {
            self.include(other.x0, other.y0);
            self.include(other.x1, other.y1);
        }
    }

    pub(crate) fn intersect(&self, other: &Rect) -> Rect {
        Rect {
            x0: self.x0.max(other.x0),
            y0: self.y0.max(other.y0),
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
        }
    }

    /// Grows the rectangle by `by` on every side.
    pub(crate) fn grow(&self, by: f64) -> Rect {
        Rect { x0: self.x0 - by, y0: self.y0 - by, x1: self.x1 + by, y1: self.y1 + by }
    }

    pub(crate) fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub(crate) fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// Whether the two overlap in an area (touching edges do not count).
    pub(crate) fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cm_then_ctm_moves_before_scaling() {
        let scale = Matrix::from_slice(&[2.0, 0.0, 0.0, 2.0, 0.0, 0.0]).expect("six numbers");
        let moved = Matrix::translate(10.0, 0.0).then(&scale);
        assert_eq!(moved.apply(1.0, 1.0), (22.0, 2.0));
    }

    #[test]
    fn rotated_rect_is_bounded() {
        let rotate = Matrix::from_slice(&[0.0, 1.0, -1.0, 0.0, 0.0, 0.0]).expect("six numbers");
        let r = rotate.transform_rect(&Rect::from_corners(0.0, 0.0, 10.0, 5.0));
        assert_eq!(r, Rect { x0: -5.0, y0: 0.0, x1: 0.0, y1: 10.0 });
    }
}
