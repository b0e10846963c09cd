//! Scanner damage for generated test scans: quarter turns, skew, blur, noise, dust, grey or
//! yellowed paper and faded toner, JPEG compression, codes printed in negative or scribbled
//! over — all with seeded randomness, so the same seed gives the same pages. The code finder's
//! corpus and tests and `hybridpost demo` make their scans with it; nothing here touches an
//! uploaded scan.

use image::GrayImage;

use crate::AreaMm;

/// A small seeded random source (SplitMix64), so a corpus is the same for the same seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A source from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u = self.unit().max(1e-7);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

/// Turns `img` clockwise by `quarters` quarter turns; the page then needs `(4 - quarters) % 4`
/// clockwise quarter turns to be upright.
pub fn turn(img: &GrayImage, quarters: u8) -> GrayImage {
    match quarters % 4 {
        1 => image::imageops::rotate90(img),
        2 => image::imageops::rotate180(img),
        3 => image::imageops::rotate270(img),
        _ => img.clone(),
    }
}

/// Rotates `img` by `degrees` (counter-clockwise positive) about its centre, bilinear, on a
/// canvas grown to hold the whole sheet, white outside: a sheet fed askew into a scanner whose
/// capture area is larger than the sheet.
pub fn skew(img: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let out_w = (w as f32 * cos.abs() + h as f32 * sin.abs()).ceil() as u32;
    let out_h = (w as f32 * sin.abs() + h as f32 * cos.abs()).ceil() as u32;
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (ox, oy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    let raw = img.as_raw();
    let at = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            255.0
        } else {
            f32::from(raw[(y as usize) * w as usize + x as usize])
        }
    };
    GrayImage::from_fn(out_w, out_h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - ox, y as f32 + 0.5 - oy);
        let sx = cos * dx - sin * dy + cx - 0.5;
        let sy = sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        image::Luma([(top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8])
    })
}

/// Gaussian-like blur of `sigma` pixels (an out-of-focus or dusty scanner).
pub fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    image::imageops::fast_blur(img, sigma)
}

/// Adds gaussian noise of standard deviation `sigma` grey levels.
pub fn noise(img: &mut GrayImage, sigma: f32, rng: &mut Rng) {
    for p in img.pixels_mut() {
        p.0[0] = (f32::from(p.0[0]) + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8;
    }
}

/// Sets a share `fraction` of the pixels to black or white (dust, sensor defects).
pub fn salt_and_pepper(img: &mut GrayImage, fraction: f32, rng: &mut Rng) {
    let n = (img.width() as f32 * img.height() as f32 * fraction) as usize;
    let (w, h) = (img.width() as usize, img.height() as usize);
    for _ in 0..n {
        let (x, y) = (rng.below(w) as u32, rng.below(h) as u32);
        let v = if rng.unit() < 0.5 { 0 } else { 255 };
        img.put_pixel(x, y, image::Luma([v]));
    }
}

/// Maps white to `paper` and black to `ink`: grey or yellowed paper, faded toner.
pub fn contrast(img: &mut GrayImage, paper: u8, ink: u8) {
    let (p, k) = (f32::from(paper), f32::from(ink));
    for px in img.pixels_mut() {
        let v = f32::from(px.0[0]) / 255.0;
        px.0[0] = (k + (p - k) * v).round() as u8;
    }
}

/// Encodes `img` as JPEG at `quality`.
pub fn jpeg(img: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("encoding to memory cannot fail");
    out
}

/// Paints the mm rectangle `area` of an upright page of `dpi` in negative (light code on dark).
pub fn invert_area(img: &mut GrayImage, area: AreaMm, dpi: u32) {
    let k = dpi as f32 / 25.4;
    let (x0, y0) = ((area.x * k) as u32, (area.y * k) as u32);
    let (x1, y1) = (((area.x + area.width) * k) as u32, ((area.y + area.height) * k) as u32);
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            let p = img.get_pixel_mut(x, y);
            p.0[0] = 255 - p.0[0];
        }
    }
}

/// Scribbles thick dark strokes over the mm rectangle `area` of an upright page of `dpi`,
/// across its finder patterns and data, so that it can no longer be read.
pub fn scribble(img: &mut GrayImage, area: AreaMm, dpi: u32, rng: &mut Rng) {
    let k = dpi as f32 / 25.4;
    let stroke = (1.2 * k) as i64;
    for _ in 0..60 {
        let (ax, ay) = (rng.range(area.x, area.x + area.width), rng.range(area.y, area.y + area.height));
        let (bx, by) = (rng.range(area.x, area.x + area.width), rng.range(area.y, area.y + area.height));
        let steps = ((bx - ax).hypot(by - ay) * k) as usize + 1;
        for i in 0..=steps {
            let t = i as f32 / steps as f32;
            let (x, y) = (((ax + (bx - ax) * t) * k) as i64, ((ay + (by - ay) * t) * k) as i64);
            for dy in -stroke..=stroke {
                for dx in -stroke..=stroke {
                    let (px, py) = (x + dx, y + dy);
                    if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                        img.put_pixel(px as u32, py as u32, image::Luma([20]));
                    }
                }
            }
        }
    }
}
