//! Scanner damage for generated test scans: quarter turns, skew, blur, noise, dust, grey or
//! yellowed paper and faded toner, JPEG compression, codes printed in negative or scribbled
//! over — and a phone's photos of a page: perspective, light falling off, motion blur, little
//! light ([`photograph`], [`vignette`], [`motion_blur`], [`low_light`]). All with seeded
//! randomness, so the same seed gives the same pages. The code finder's corpus and tests and
//! `hybridpost demo` make their scans with it; nothing here touches an uploaded scan.

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

    /// Nearly standard normal, for a draw per pixel: the sum of four 16-bit uniforms from one
    /// draw, centred and scaled to variance 1 (Irwin–Hall), so cut off at ±3.46. No libm call,
    /// where [`Rng::normal`] takes a logarithm, a square root and a cosine.
    pub fn roughly_normal(&mut self) -> f32 {
        let r = self.next_u64();
        let sum = (r & 0xffff) + (r >> 16 & 0xffff) + (r >> 32 & 0xffff) + (r >> 48);
        // Each uniform has mean 32767.5 and variance 65536² / 12.
        (sum as f32 - 131_070.0) * (3f32.sqrt() / 65_536.0)
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
    let (wu, wi, hi) = (w as usize, i64::from(w), i64::from(h));
    let at = |x: i64, y: i64| -> u32 {
        if x < 0 || y < 0 || x >= wi || y >= hi { 255 } else { u32::from(raw[(y as usize) * wu + x as usize]) }
    };
    // The source point moves by (cos, sin) from one output pixel to the next: it is stepped in
    // 16.16 fixed point along each row (from the row's start, so errors do not pile up from
    // row to row: under 0.05 pixel at the end of a row of 3,000), and the neighbours are
    // weighed in 256ths.
    let fixed = |v: f32| (f64::from(v) * 65536.0).round() as i64;
    let (step_x, step_y) = (fixed(cos), fixed(sin));
    let mut out = vec![255u8; out_w as usize * out_h as usize];
    // The first pixel of every row.
    let dx = 0.5 - ox;
    for (y, row) in out.chunks_exact_mut(out_w as usize).enumerate() {
        let dy = y as f32 + 0.5 - oy;
        let mut sx = fixed(cos * dx - sin * dy + cx - 0.5);
        let mut sy = fixed(sin * dx + cos * dy + cy - 0.5);
        for px in row.iter_mut() {
            let (x0, y0) = (sx >> 16, sy >> 16);
            let (fx, fy) = (((sx >> 8) & 0xff) as u32, ((sy >> 8) & 0xff) as u32);
            let (top_l, top_r, bottom_l, bottom_r) = if x0 >= 0 && y0 >= 0 && x0 + 1 < wi && y0 + 1 < hi {
                // Inside the sheet: the four neighbours without bounds checks per pixel.
                let i = y0 as usize * wu + x0 as usize;
                let (a, b) = (&raw[i..i + 2], &raw[i + wu..i + wu + 2]);
                (u32::from(a[0]), u32::from(a[1]), u32::from(b[0]), u32::from(b[1]))
            } else {
                (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1))
            };
            let top = top_l * (256 - fx) + top_r * fx;
            let bottom = bottom_l * (256 - fx) + bottom_r * fx;
            // At most 255 · 256 · 256: the sum rounded half up is the grey level.
            *px = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
            sx += step_x;
            sy += step_y;
        }
    }
    GrayImage::from_raw(out_w, out_h, out).expect("the buffer is out_w × out_h")
}

/// Gaussian-like blur of `sigma` pixels (an out-of-focus or dusty scanner): `image`'s
/// `fast_blur`, pixel for pixel, in whole numbers. `fast_blur` runs three box blurs, each a
/// pass along the rows and one down the columns, with the edge pixels repeated; it keeps
/// each box's sum as a float (whole numbers, so exact) and rounds `sum · (1 / side)` per
/// pixel. Here the sums are integers and that rounding is a table made with the same float
/// operations, so the result is the same: 13.4 ms against `fast_blur`'s 50 ms for an A4 page
/// at 150 dpi and a sigma of 0.7.
pub fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let radii = fast_blur_radii(sigma);
    if width == 0 || height == 0 || radii.iter().any(|&r| r > MAX_BLUR_RADIUS) {
        return image::imageops::fast_blur(img, sigma);
    }
    let mut out = img.as_raw().clone();
    let mut across = vec![0u8; out.len()];
    for radius in radii {
        let mean = box_means(radius);
        box_rows(&out, &mut across, width, radius, &mean);
        box_columns(&across, &mut out, width, radius, &mean);
    }
    GrayImage::from_raw(img.width(), img.height(), out).expect("the buffer is the image's size")
}

/// Largest box radius [`blur`] does itself (a sigma of about 70 pixels); beyond it, the
/// table of means would be large and `fast_blur` is used as it is.
const MAX_BLUR_RADIUS: usize = 128;

/// The radii of `fast_blur`'s three boxes for `sigma` (Kovesi's almost-Gaussian filter), worked
/// out as `image` 0.25 does.
fn fast_blur_radii(sigma: f32) -> [usize; 3] {
    let passes = 3.0f32;
    let w_ideal = f32::sqrt((12.0 * sigma.powi(2) / passes) + 1.0);
    let mut w_l = w_ideal.floor();
    if w_l % 2.0 == 0.0 {
        w_l -= 1.0;
    }
    let w_u = w_l + 2.0;
    let m = f32::round(0.25 * passes * (w_l + 3.0) - 3.0 * sigma.powi(2) * (w_l + 1.0).recip()) as usize;
    let odd = |x: usize| if x.is_multiple_of(2) { x + 1 } else { x };
    std::array::from_fn(|i| odd((if i < m { w_l as usize } else { w_u as usize }).saturating_sub(1) / 2))
}

/// The grey level of every box sum of a box of `radius`: `sum · (1 / side)` rounded half
/// away from zero, in `f32` as `fast_blur` computes it.
fn box_means(radius: usize) -> Vec<u8> {
    let side = radius * 2 + 1;
    let weight = 1f32 / side as f32;
    (0..=255 * side).map(|sum| (sum as f32 * weight).round().clamp(0.0, 255.0) as u8).collect()
}

/// One box pass along each row of `src` (rows of `width`) into `dst`; pixels past the ends
/// are the end pixels.
fn box_rows(src: &[u8], dst: &mut [u8], width: usize, radius: usize, mean: &[u8]) {
    let last = width - 1;
    for (row, out) in src.chunks_exact(width).zip(dst.chunks_exact_mut(width)) {
        let mut sum: usize = (0..=2 * radius).map(|i| usize::from(row[i.saturating_sub(radius).min(last)])).sum();
        for (x, px) in out.iter_mut().enumerate() {
            *px = mean[sum];
            sum += usize::from(row[(x + radius + 1).min(last)]);
            sum -= usize::from(row[x.saturating_sub(radius)]);
        }
    }
}

/// One box pass down each column of `src` (rows of `width`) into `dst`, a running sum per
/// column; rows past the ends are the end rows.
fn box_columns(src: &[u8], dst: &mut [u8], width: usize, radius: usize, mean: &[u8]) {
    let height = src.len() / width;
    let row = |y: usize| &src[y.min(height - 1) * width..][..width];
    let mut sums = vec![0u32; width];
    for i in 0..=2 * radius {
        for (s, &p) in sums.iter_mut().zip(row(i.saturating_sub(radius))) {
            *s += u32::from(p);
        }
    }
    for (y, out) in dst.chunks_exact_mut(width).enumerate() {
        let (next, previous) = (row(y + radius + 1), row(y.saturating_sub(radius)));
        for (((px, s), &n), &p) in out.iter_mut().zip(sums.iter_mut()).zip(next).zip(previous) {
            *px = mean[*s as usize];
            *s = *s + u32::from(n) - u32::from(p);
        }
    }
}

/// Adds gaussian-like noise of standard deviation `sigma` grey levels
/// ([`Rng::roughly_normal`]: sensor noise, a draw for every pixel).
pub fn noise(img: &mut GrayImage, sigma: f32, rng: &mut Rng) {
    for p in img.pixels_mut() {
        // Half up, then clamped: as `round` would give, without the libm call.
        p.0[0] = (f32::from(p.0[0]) + sigma * rng.roughly_normal() + 0.5).clamp(0.0, 255.0) as u8;
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
        px.0[0] = (k + (p - k) * v + 0.5) as u8;
    }
}

/// Encodes `img` as grey baseline JPEG at `quality` (IJG quality scaling, as scanners do).
pub fn jpeg(img: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    // Test pages are A4 at 600 dpi at most, far under JPEG's 65,535 pixels a side.
    let side = |v: u32| u16::try_from(v).expect("a test page under 65,536 pixels a side");
    let (w, h) = (side(img.width()), side(img.height()));
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Luma)
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

/// How a hand-held phone photographs a page, for [`photograph`]: a pinhole camera over the
/// page's plane, tilted, turned and placed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    /// Width and height of the photo, pixels.
    pub frame: (u32, u32),
    /// Pixels per millimetre of page where the camera points (the photo's scale there; a
    /// tilted page is larger on the near side and smaller on the far side).
    pub px_per_mm: f32,
    /// The point of the page the camera points at, mm from the page's top-left corner.
    pub aim: (f32, f32),
    /// Where in the photo that point lands, as shares of its width and height.
    pub aim_in_frame: (f32, f32),
    /// Turn of the page in the photo, degrees clockwise.
    pub roll: f32,
    /// Tilt of the page's plane away from square-on, degrees (10–25 for a hand-held phone).
    pub tilt: f32,
    /// Direction in the page about which it is tilted, degrees.
    pub tilt_axis: f32,
    /// Focal length, pixels: about the photo's longer side for a phone's main camera.
    pub focal_px: f32,
    /// Grey level of what lies around the page (a desk, a counter).
    pub background: u8,
}

/// A 3 × 3 matrix, rows first.
type Mat3 = [[f32; 3]; 3];

fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

fn transposed(a: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = a[j][i];
        }
    }
    out
}

fn apply(a: &Mat3, v: [f32; 3]) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i][0] * v[0] + a[i][1] * v[1] + a[i][2] * v[2])
}

impl Camera {
    /// The page's orientation in camera space: tilt about the axis, then the roll.
    fn rotation(&self) -> Mat3 {
        let (sa, ca) = self.tilt_axis.to_radians().sin_cos();
        let (st, ct) = self.tilt.to_radians().sin_cos();
        // Rodrigues' formula about the unit axis (ca, sa, 0) in the page's plane.
        let (x, y) = (ca, sa);
        let tilt = [
            [ct + x * x * (1.0 - ct), x * y * (1.0 - ct), y * st],
            [x * y * (1.0 - ct), ct + y * y * (1.0 - ct), -x * st],
            [-y * st, x * st, ct],
        ];
        let (sr, cr) = self.roll.to_radians().sin_cos();
        let roll = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
        mat_mul(&roll, &tilt)
    }

    /// Distance of the aimed point from the camera, mm, for the scale asked for there.
    fn distance(&self) -> f32 {
        self.focal_px / self.px_per_mm.max(0.01)
    }

    /// Where the page point `(x, y)` (mm) lands in the photo, pixels; `None` behind the camera.
    pub fn project(&self, (x, y): (f32, f32)) -> Option<(f32, f32)> {
        let q = apply(&self.rotation(), [x - self.aim.0, y - self.aim.1, 0.0]);
        let z = q[2] + self.distance();
        if z <= 1.0 {
            return None;
        }
        let (u0, v0) = (self.aim_in_frame.0 * self.frame.0 as f32, self.aim_in_frame.1 * self.frame.1 as f32);
        Some((u0 + self.focal_px * q[0] / z, v0 + self.focal_px * q[1] / z))
    }
}

/// Photographs the upright page `page`, rasterised at `page_dpi`, with `camera`: a perspective
/// view of the page on a plain background, the page's detail averaged over the pixels a photo
/// pixel covers (optics and the sensor do that). Light, blur and noise are separate
/// ([`vignette`], [`motion_blur`], [`low_light`]).
pub fn photograph(page: &GrayImage, page_dpi: u32, camera: &Camera) -> GrayImage {
    let k = page_dpi as f32 / 25.4;
    // Page pixels per photo pixel at the aimed point: average over about that many first, so
    // that sampling does not alias fine modules into moiré.
    let ratio = k / camera.px_per_mm.max(0.01);
    let smoothed;
    let source = if ratio > 1.2 {
        smoothed = image::imageops::fast_blur(page, 0.45 * ratio);
        &smoothed
    } else {
        page
    };
    let (w, h) = source.dimensions();
    let raw = source.as_raw();
    let rotation_t = transposed(&camera.rotation());
    let distance = camera.distance();
    // The camera sits at (0, 0, -distance) relative to the aimed point, in camera space; the
    // page is z = 0 in page space.
    let origin = apply(&rotation_t, [0.0, 0.0, -distance]);
    let (u0, v0) = (camera.aim_in_frame.0 * camera.frame.0 as f32, camera.aim_in_frame.1 * camera.frame.1 as f32);
    GrayImage::from_fn(camera.frame.0, camera.frame.1, |u, v| {
        let ray =
            apply(&rotation_t, [(u as f32 + 0.5 - u0) / camera.focal_px, (v as f32 + 0.5 - v0) / camera.focal_px, 1.0]);
        if ray[2].abs() < 1e-6 {
            return image::Luma([camera.background]);
        }
        let t = -origin[2] / ray[2];
        if t <= 0.0 {
            return image::Luma([camera.background]);
        }
        let (px, py) = (origin[0] + t * ray[0] + camera.aim.0, origin[1] + t * ray[1] + camera.aim.1);
        let (sx, sy) = (px * k - 0.5, py * k - 0.5);
        if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
            return image::Luma([camera.background]);
        }
        let (x0, y0) = (sx as usize, sy as usize);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let at = |x: usize, y: usize| f32::from(raw[y * w as usize + x]);
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        image::Luma([(top * (1.0 - fy) + bottom * fy + 0.5).clamp(0.0, 255.0) as u8])
    })
}

/// Light falling off towards the corners (a phone's lens), to `1 - strength` of the centre's
/// at the corners, and from one side to the other by `slope` (a lamp to one side).
pub fn vignette(img: &mut GrayImage, strength: f32, slope: f32, slope_angle: f32) {
    let (w, h) = img.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let corner = cx.hypot(cy).max(1.0);
    let (sa, ca) = slope_angle.to_radians().sin_cos();
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (dx, dy) = ((x as f32 - cx) / corner, (y as f32 - cy) / corner);
        let r2 = dx * dx + dy * dy;
        let light = (1.0 - strength * r2) * (1.0 + slope * (dx * ca + dy * sa));
        p.0[0] = (f32::from(p.0[0]) * light + 0.5).clamp(0.0, 255.0) as u8;
    }
}

/// A straight motion blur of `length` pixels at `angle` degrees (a hand moving while the
/// shutter is open).
pub fn motion_blur(img: &GrayImage, length: f32, angle: f32) -> GrayImage {
    let steps = length.ceil().max(1.0) as i32;
    let (s, c) = angle.to_radians().sin_cos();
    let offsets: Vec<(i64, i64)> = (0..=steps)
        .map(|i| {
            let t = (i as f32 / steps as f32 - 0.5) * length;
            ((t * c).round() as i64, (t * s).round() as i64)
        })
        .collect();
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let sum: u32 = offsets
            .iter()
            .map(|&(dx, dy)| {
                let (sx, sy) = ((i64::from(x) + dx).clamp(0, w - 1), (i64::from(y) + dy).clamp(0, h - 1));
                u32::from(raw[(sy * w + sx) as usize])
            })
            .sum();
        image::Luma([(sum as f32 / offsets.len() as f32 + 0.5) as u8])
    })
}

/// Little light: every level scaled by `gain` (0.3–0.7), then the sensor's noise of `sigma`
/// grey levels, stronger in the dark as a phone's is after it brightens the picture.
pub fn low_light(img: &mut GrayImage, gain: f32, sigma: f32, rng: &mut Rng) {
    for p in img.pixels_mut() {
        let v = f32::from(p.0[0]) * gain;
        let n = sigma * (1.2 - v / 255.0) * rng.normal();
        p.0[0] = (v + n + 0.5).clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_is_image_s_fast_blur_pixel_for_pixel() {
        let mut rng = Rng::new(7);
        // Text-like pages and noise, wide and narrow (narrower than a box), at the sigmas
        // the scanner damage draws and beyond (radii 1 to 7), and a sigma of 0.
        let sizes = [(1, 1), (2, 9), (9, 2), (3, 3), (37, 23), (200, 150)];
        let sigmas = [0.0, 0.3, 0.4, 0.55, 0.7, 0.8, 1.0, 1.5, 2.2, 3.7, 6.0];
        for (w, h) in sizes {
            let mut img =
                GrayImage::from_fn(w, h, |x, y| image::Luma([if (x / 3 + y / 5) % 4 == 0 { 20 } else { 245 }]));
            noise(&mut img, 40.0, &mut rng);
            salt_and_pepper(&mut img, 0.05, &mut rng);
            for sigma in sigmas {
                let ours = blur(&img, sigma);
                let theirs = image::imageops::fast_blur(&img, sigma);
                assert_eq!(ours.dimensions(), theirs.dimensions());
                let differ = ours.pixels().zip(theirs.pixels()).filter(|(a, b)| a != b).count();
                assert_eq!(differ, 0, "{w} × {h}, sigma {sigma}: {differ} pixels differ");
            }
        }
        assert_eq!(fast_blur_radii(0.7), [1, 1, 1]);
        assert_eq!(fast_blur_radii(6.0), [5, 5, 7]);
    }
}
