//! What citizens put on reply sheets, for generated test scans: ticks, crosses, filled boxes,
//! faint pencil, corrected choices and office stamps, drawn on an upright page image in page
//! millimetres with seeded randomness (hands are never steady, so no two marks are the same).
//! The answer reader's corpus and tests make their filled sheets with it; nothing here touches
//! an uploaded scan.

use image::GrayImage;

use crate::AreaMm;
use crate::degrade::Rng;

/// A pen on a page of `dpi`: its width in mm and the grey level it leaves (0 black).
#[derive(Clone, Copy, Debug)]
pub struct Pen {
    /// Stroke width, mm.
    pub width: f32,
    /// Grey level of the ink.
    pub ink: u8,
}

/// Draws a stroke from `a` to `b` (page mm) with `pen` on an upright page of `dpi`; ink only
/// darkens (a light pen over print leaves the print).
pub fn stroke(img: &mut GrayImage, dpi: u32, pen: Pen, a: (f32, f32), b: (f32, f32)) {
    let k = dpi as f32 / 25.4;
    let r = (pen.width * k / 2.0).max(0.5);
    let (ax, ay, bx, by) = (a.0 * k, a.1 * k, b.0 * k, b.1 * k);
    let (x0, x1) = ((ax.min(bx) - r).floor().max(0.0) as u32, (ax.max(bx) + r).ceil() as u32);
    let (y0, y1) = ((ay.min(by) - r).floor().max(0.0) as u32, (ay.max(by) + r).ceil() as u32);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0);
            let d = (px - ax - t * dx).hypot(py - ay - t * dy);
            // Anti-aliased edge: a pen's line is soft at the pixel level.
            let cover = (r + 0.5 - d).clamp(0.0, 1.0);
            if cover > 0.0 {
                let p = img.get_pixel_mut(x, y);
                let v = f32::from(p.0[0]) * (1.0 - cover) + f32::from(pen.ink) * cover;
                p.0[0] = p.0[0].min(v.round() as u8);
            }
        }
    }
}

/// A hand-drawn tick in `area` (mm): a short stroke down to the right, then a long one up,
/// overshooting the box as ticks do.
pub fn tick(img: &mut GrayImage, dpi: u32, pen: Pen, area: AreaMm, rng: &mut Rng) {
    let (x, y, s) = (area.x, area.y, area.width);
    let start = (x + s * rng.range(0.1, 0.35), y + s * rng.range(0.35, 0.6));
    let bottom = (x + s * rng.range(0.35, 0.55), y + s * rng.range(0.75, 0.95));
    let end = (x + s * rng.range(0.85, 1.5), y - s * rng.range(-0.1, 0.6));
    stroke(img, dpi, pen, start, bottom);
    stroke(img, dpi, pen, bottom, end);
}

/// A cross over `area`, corner to corner, a little past the box or a little short of it.
pub fn cross(img: &mut GrayImage, dpi: u32, pen: Pen, area: AreaMm, rng: &mut Rng) {
    let (x, y, s) = (area.x, area.y, area.width);
    let j = |rng: &mut Rng| s * rng.range(-0.15, 0.2);
    let (a, b) = ((x + j(rng), y + j(rng)), (x + s - j(rng), y + s - j(rng)));
    let (c, d) = ((x + s - j(rng), y + j(rng)), (x + j(rng), y + s - j(rng)));
    stroke(img, dpi, pen, a, b);
    stroke(img, dpi, pen, c, d);
}

/// `area` filled in by hand: back-and-forth strokes covering most of it.
pub fn fill(img: &mut GrayImage, dpi: u32, pen: Pen, area: AreaMm, rng: &mut Rng) {
    let (x, y, s) = (area.x, area.y, area.width);
    let rows = (s / (pen.width * 0.8).max(0.2)).ceil() as usize + 1;
    for i in 0..rows {
        let v = y + s * (i as f32 / (rows - 1).max(1) as f32) + rng.range(-0.2, 0.2);
        let (l, r) = (x + rng.range(-0.3, 0.4), x + s + rng.range(-0.4, 0.3));
        stroke(img, dpi, pen, (l, v), (r, v + rng.range(-0.3, 0.3)));
    }
}

/// A round office stamp of `radius` mm centred at `centre`: a ring and lines of "text" inside
/// it, in the stamp pad's ink.
pub fn stamp(img: &mut GrayImage, dpi: u32, ink: u8, centre: (f32, f32), radius: f32, rng: &mut Rng) {
    let pen = Pen { width: rng.range(0.5, 0.9), ink };
    let segments = 72;
    for i in 0..segments {
        let (a0, a1) = (
            i as f32 / segments as f32 * std::f32::consts::TAU,
            (i + 1) as f32 / segments as f32 * std::f32::consts::TAU,
        );
        let p = |a: f32| (centre.0 + radius * a.cos(), centre.1 + radius * a.sin());
        stroke(img, dpi, pen, p(a0), p(a1));
    }
    let text = Pen { width: 0.35, ink };
    for line in [-0.4f32, 0.0, 0.4] {
        let v = centre.1 + line * radius;
        let half = (radius * radius - (line * radius).powi(2)).sqrt() * 0.75;
        let mut u = centre.0 - half;
        while u < centre.0 + half {
            let w = rng.range(0.8, 2.0);
            stroke(img, dpi, text, (u, v - 1.2), (u + w, v + 1.2));
            u += w + rng.range(0.3, 0.8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strokes_darken_inside_the_page_only() {
        let mut img = GrayImage::from_pixel(100, 100, image::Luma([255]));
        let pen = Pen { width: 1.0, ink: 30 };
        stroke(&mut img, 254, pen, (1.0, 1.0), (9.0, 1.0));
        assert!(img.get_pixel(50, 10).0[0] < 60, "the stroke's middle is inked");
        assert_eq!(img.get_pixel(50, 50).0[0], 255, "away from it the paper stays white");
        // Off the page and backwards: nothing to draw, nothing panics.
        stroke(&mut img, 254, pen, (50.0, 50.0), (-20.0, -3.0));
        stamp(&mut img, 254, 120, (-5.0, 400.0), 12.0, &mut Rng::new(3));
    }
}
