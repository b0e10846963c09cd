//! Reading the answer ticked on a reply page: which of its answer boxes carries a mark.
//!
//! The page's two reply codes are printed at fixed places, so once they are located their
//! corners (eight points when both are read, four when one is) fix where every other point of
//! the printed page lies in the scan, whatever its skew, turn, shift or scale: an affine fit
//! from page millimetres to image pixels. The answer boxes are then found where the fit puts
//! them, within a small search that lines up their printed outlines (all boxes together, so one
//! box filled in black does not pull the others), and the inside of each box is measured:
//! the share of it that is darker than the paper by at least half the print's contrast (ink),
//! and by at least an eighth (any mark, faint pencil included), and how much darker than the
//! blank paper beside the boxes it is on average (a mark too faint for any one pixel).
//!
//! A reading is **certain** only when every box is clearly marked or clearly clean: exactly one
//! marked box is the answer, no marked box is no answer. Anything else (two boxes marked, a
//! box crossed out and another ticked, a mark too faint to call, a stamp across the boxes,
//! outlines not where they should be, codes not found) is **uncertain** and goes to a person:
//! a wrong answer reported as certain is the one mistake an agency acting on thousands of
//! replies without opening them cannot catch, so the thresholds leave a wide band between
//! "marked" and "clean" where nothing is decided.
//!
//! Like the rest of this crate it never panics on any image: sizes are clamped, points
//! outside the image read as paper, and the decoder runs under `catch_unwind`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use image::GrayImage;

use crate::AreaMm;
use crate::find::{COARSE_MODULE_MM, Treatment, area_rect, decode, px_per_mm, resample, scale_for};

/// Where a reply code symbol is printed on an upright A4 page: its top-left corner and side,
/// mm, quiet zone excluded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodePlace {
    /// Left side.
    pub x: f32,
    /// Top side.
    pub y: f32,
    /// Side of the symbol's module grid.
    pub side: f32,
}

/// An answer box on an upright A4 page: the centre line of its printed outline, mm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnswerBoxMm {
    /// The choice it stands for, from 1.
    pub choice: u8,
    /// Left side.
    pub x: f32,
    /// Top side.
    pub y: f32,
    /// Side.
    pub side: f32,
}

/// How one box reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoxState {
    /// Ink over a good share of its inside.
    Marked,
    /// Nothing on its inside.
    Clean,
    /// Something, but not enough to call it a mark (a faint stroke, a smudge, a stamp's edge).
    Unclear,
}

impl BoxState {
    /// The state's name in records and JSON (`marked`).
    pub fn as_str(self) -> &'static str {
        match self {
            BoxState::Marked => "marked",
            BoxState::Clean => "clean",
            BoxState::Unclear => "unclear",
        }
    }
}

/// The measures of one box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxReading {
    /// The choice.
    pub choice: u8,
    /// Share (0–1) of the inside darker than the paper by half the print's contrast.
    pub ink: f32,
    /// Share (0–1) of the inside darker than the paper by a fifth of the print's contrast.
    pub any_mark: f32,
    /// What that makes it.
    pub state: BoxState,
}

/// Why a reading is not certain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Uncertain {
    /// Neither reply code was located well enough to place the boxes.
    CodesNotFound,
    /// The boxes' printed outlines are not where the codes put them (a stamp over them, a
    /// fold, a page of another layout).
    BoxesNotFound,
    /// Two or more boxes marked (two answers, or one crossed out and another ticked).
    SeveralMarked,
    /// A box with a mark too faint or too small to call.
    Unclear,
    /// Ink where the layout leaves the paper blank beside the boxes: a stamp or a scribble
    /// over them.
    InkAroundBoxes,
}

impl Uncertain {
    /// A short stable name for records (`several_marked`).
    pub fn code(self) -> &'static str {
        match self {
            Uncertain::CodesNotFound => "codes_not_found",
            Uncertain::BoxesNotFound => "boxes_not_found",
            Uncertain::SeveralMarked => "several_marked",
            Uncertain::Unclear => "unclear_mark",
            Uncertain::InkAroundBoxes => "ink_around_boxes",
        }
    }
}

impl std::fmt::Display for Uncertain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Uncertain::CodesNotFound => "the reply codes could not be located to find the answer boxes",
            Uncertain::BoxesNotFound => "the answer boxes are not where the reply codes put them",
            Uncertain::SeveralMarked => "more than one answer box is marked",
            Uncertain::Unclear => "an answer box has a mark too faint or too small to read with certainty",
            Uncertain::InkAroundBoxes => {
                "there is ink beside the answer boxes where the sheet is blank (a stamp or scribble)"
            }
        })
    }
}

/// What the boxes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Exactly one box marked: its choice.
    Chosen(u8),
    /// No box marked.
    NoMark,
}

/// The reading of a page's answer boxes.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerReading {
    /// The answer, when the reading is certain; why not otherwise.
    pub outcome: Result<Answer, Uncertain>,
    /// How far the measures lie from the undecided band, 0–1: 1 when every box is far from
    /// it, 0.5 at its edge; below 0.5 for an uncertain reading.
    pub confidence: f32,
    /// Each box's measures, in the order given (empty when the boxes were not found).
    pub boxes: Vec<BoxReading>,
}

impl AnswerReading {
    fn uncertain(why: Uncertain) -> Self {
        AnswerReading { outcome: Err(why), confidence: 0.0, boxes: Vec::new() }
    }
}

/// Share of a box's inside that makes it marked, at least.
const MARKED_INK: f32 = 0.07;
/// Share of a box's inside with any mark that a clean box may have, at most (noise, dust).
const CLEAN_ANY: f32 = 0.012;
/// A mark at all is at least this many standard deviations of the blank paper's (averaged)
/// noise below its mean.
const NOISE_SIGMAS: f32 = 4.5;
/// Share of a blank area beside the boxes that may have any mark (noise, dust), at most.
const CLEAR_ANY: f32 = 0.004;
/// How much darker (grey levels, on average) than the blank paper beside the boxes a clean
/// box's inside may be.
const CLEAN_SHADE: f32 = 2.5;
/// Share of ink a clean box may have, at most.
const CLEAN_INK: f32 = 0.004;
/// Darkness below the paper, as a share of the print's contrast, that counts as ink.
const INK_LEVEL: f32 = 0.5;
/// Darkness below the paper, as a share of the print's contrast, that counts as a mark at all.
const MARK_LEVEL: f32 = 0.12;
/// A mark at all is at least this many grey levels below the paper, whatever the contrast
/// (scanner noise).
const MIN_MARK_DARKNESS: f32 = 12.0;
/// The inside of a box starts this far (mm) inside the outline's centre line, plus
/// [`INSET_PX`] pixels: half the 0.8 pt stroke and what is left of the fit's error, then the
/// blur of the scan and the 3 × 3 average, which are counted in pixels.
const INSET_MM: f32 = 0.55;
/// See [`INSET_MM`].
const INSET_PX: f32 = 2.5;
/// How far (mm) the boxes are searched for around where the codes put them.
const SEARCH_MM: f32 = 2.0;
/// The outlines must be at least this dark, as a share of the print's contrast, on average.
const OUTLINE_LEVEL: f32 = 0.3;
/// Corner error (mm, root mean square) above which the codes' corners are not trusted.
const MAX_FIT_ERROR_MM: f32 = 0.8;

/// Reads the answer boxes `boxes` of a reply page scanned as `image` (`dpi` if the file said;
/// otherwise from the page's width), which `quarter_turns` clockwise quarter turns make
/// upright. The page's reply codes are printed at `places`; `is_ours` says whether a decoded
/// text is this page's reply code (only those anchor the fit). `sheet.clear` are areas the
/// layout leaves blank beside the boxes: ink there makes the reading uncertain.
pub fn read_answer(
    image: &GrayImage,
    dpi: Option<f32>,
    quarter_turns: u8,
    places: &[CodePlace],
    is_ours: &dyn Fn(&str) -> bool,
    sheet: &Question<'_>,
) -> AnswerReading {
    catch_unwind(AssertUnwindSafe(|| {
        let boxes = sheet.boxes;
        let (w, h) = image.dimensions();
        if w < 64 || h < 64 || boxes.is_empty() {
            return AnswerReading::uncertain(Uncertain::CodesNotFound);
        }
        let px_per_mm = px_per_mm(image, dpi);
        let Some(fit) = locate(image, px_per_mm, quarter_turns % 4, places, is_ours) else {
            return AnswerReading::uncertain(Uncertain::CodesNotFound);
        };
        measure(image, &fit, px_per_mm, boxes, sheet.clear)
    }))
    .unwrap_or_else(|_| AnswerReading::uncertain(Uncertain::CodesNotFound))
}

/// The boxes of one question on a page, and what around them is blank.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The answer boxes.
    pub boxes: &'a [AnswerBoxMm],
    /// Areas (mm) the layout leaves blank beside the boxes.
    pub clear: &'a [AreaMm],
}

/// A point on the page (mm) and where it lies in the image (pixels).
type Pair = ((f32, f32), (f32, f32));

/// Page millimetres to image pixels: `x = a·u + b·v + c`, `y = d·u + e·v + f`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Affine([f64; 6]);

impl Affine {
    fn map(&self, u: f32, v: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        let (u, v) = (f64::from(u), f64::from(v));
        ((a * u + b * v + c) as f32, (d * u + e * v + f) as f32)
    }

    /// Least-squares fit to `pairs` of (page mm, image px); `None` when they do not fix it.
    fn fit(pairs: &[Pair]) -> Option<Affine> {
        if pairs.len() < 3 {
            return None;
        }
        // Normal equations of [u v 1] · (a b c) = x, shared by both rows.
        let mut m = [[0f64; 3]; 3];
        let (mut bx, mut by) = ([0f64; 3], [0f64; 3]);
        for &((u, v), (x, y)) in pairs {
            let row = [f64::from(u), f64::from(v), 1.0];
            for i in 0..3 {
                for j in 0..3 {
                    m[i][j] += row[i] * row[j];
                }
                bx[i] += row[i] * f64::from(x);
                by[i] += row[i] * f64::from(y);
            }
        }
        let [a, b, c] = solve3(m, bx)?;
        let [d, e, f] = solve3(m, by)?;
        Some(Affine([a, b, c, d, e, f]))
    }

    /// Pixels per mm along the page's x and y axes.
    fn scales(&self) -> (f32, f32) {
        let [a, b, _, d, e, _] = self.0;
        (a.hypot(d) as f32, b.hypot(e) as f32)
    }
}

/// Solves `m · x = b` by Cramer's rule; `None` when `m` is (nearly) singular.
fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    let scale = m.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max).powi(3);
    if !d.is_finite() || d.abs() <= scale * 1e-12 {
        return None;
    }
    let mut out = [0f64; 3];
    for (k, slot) in out.iter_mut().enumerate() {
        let mut mk = m;
        for i in 0..3 {
            mk[i][k] = b[i];
        }
        *slot = det(&mk) / d;
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// Locates this page's reply codes at their places and fits page mm to image pixels on their
/// corners.
fn locate(
    image: &GrayImage,
    px_per_mm: f32,
    turns: u8,
    places: &[CodePlace],
    is_ours: &dyn Fn(&str) -> bool,
) -> Option<Affine> {
    let mut pairs: Vec<Pair> = Vec::new();
    // The crops are scaled for the reply codes' modules.
    let scale = scale_for(px_per_mm, COARSE_MODULE_MM);
    for place in places {
        let area = AreaMm { x: place.x, y: place.y, width: place.side, height: place.side };
        let Some(rect) = area_rect(image, px_per_mm, &area, turns) else { continue };
        let crop = resample(image, rect, scale);
        for treatment in [Treatment::Plain, Treatment::Otsu, Treatment::Binarise] {
            let found = decode(crop.clone(), treatment);
            let Some(symbol) = found.iter().find(|s| s.text.as_deref().is_some_and(is_ours)) else { continue };
            let page = [
                (place.x, place.y),
                (place.x + place.side, place.y),
                (place.x + place.side, place.y + place.side),
                (place.x, place.y + place.side),
            ];
            for (corner, at) in symbol.corners.iter().zip(page) {
                let px = (rect.x as f32 + corner.0 / scale, rect.y as f32 + corner.1 / scale);
                pairs.push((at, px));
            }
            break;
        }
    }
    let fit = Affine::fit(&pairs)?;
    // The corners must agree with one another, and the scale with the page's resolution.
    let err: f32 = pairs
        .iter()
        .map(|&((u, v), (x, y))| {
            let (fx, fy) = fit.map(u, v);
            (fx - x).powi(2) + (fy - y).powi(2)
        })
        .sum::<f32>()
        / pairs.len() as f32;
    let (sx, sy) = fit.scales();
    let plausible = |s: f32| s > px_per_mm * 0.7 && s < px_per_mm * 1.4;
    (err.sqrt() <= MAX_FIT_ERROR_MM * px_per_mm && plausible(sx) && plausible(sy)).then_some(fit)
}

/// The image's grey level at `(x, y)`, averaged over 3 × 3 pixels against noise; paper
/// (255) outside the image.
fn level(image: &GrayImage, x: f32, y: f32) -> f32 {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let (cx, cy) = (x.round() as i64, y.round() as i64);
    let mut sum = 0u32;
    for dy in -1..=1 {
        for dx in -1..=1 {
            let (px, py) = (cx + dx, cy + dy);
            sum += if px >= 0 && py >= 0 && px < w && py < h {
                u32::from(image.get_pixel(px as u32, py as u32).0[0])
            } else {
                255
            };
        }
    }
    sum as f32 / 9.0
}

/// Sums of grey levels over the 3 × 3 pixels around each pixel of a rectangle of the image
/// (paper, 255, outside it): [`level`] times nine, read many times over.
struct NineSums {
    x0: i64,
    y0: i64,
    width: i64,
    height: i64,
    sums: Vec<u16>,
}

impl NineSums {
    /// The sums for every pixel within `reach` of `points`. The rectangle stops a pixel beyond
    /// the image: further out every sum is paper's, which [`NineSums::at`] gives.
    fn around(image: &GrayImage, points: impl Iterator<Item = (i64, i64)>, reach: i64) -> NineSums {
        let (w, h) = (i64::from(image.width()), i64::from(image.height()));
        let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        for (x, y) in points {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let (x0, y0) = (x0.saturating_sub(reach).max(-1), y0.saturating_sub(reach).max(-1));
        let (x1, y1) = (x1.saturating_add(reach).min(w), y1.saturating_add(reach).min(h));
        if x0 > x1 || y0 > y1 {
            return NineSums { x0: 0, y0: 0, width: 0, height: 0, sums: Vec::new() };
        }
        let (width, height) = (x1 - x0 + 1, y1 - y0 + 1);
        let pixel = |x: i64, y: i64| -> u16 {
            if x >= 0 && y >= 0 && x < w && y < h { u16::from(image.get_pixel(x as u32, y as u32).0[0]) } else { 255 }
        };
        // Rows of three across, for the rows from one above to one below the rectangle.
        let across: Vec<u16> = (y0 - 1..=y1 + 1)
            .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
            .map(|(x, y)| pixel(x - 1, y) + pixel(x, y) + pixel(x + 1, y))
            .collect();
        let row = width as usize;
        let sums = (0..height as usize)
            .flat_map(|r| (0..row).map(move |c| (r, c)))
            .map(|(r, c)| across[r * row + c] + across[(r + 1) * row + c] + across[(r + 2) * row + c])
            .collect();
        NineSums { x0, y0, width, height, sums }
    }

    /// The sum around `(x, y)`.
    fn at(&self, x: i64, y: i64) -> u16 {
        let (c, r) = (x - self.x0, y - self.y0);
        if c < 0 || r < 0 || c >= self.width || r >= self.height {
            return 9 * 255;
        }
        self.sums[(r * self.width + c) as usize]
    }
}

/// Paper and print levels around the boxes: the 90th and 3rd percentiles of a region reaching
/// from the boxes into the choices' text beside them.
fn paper_and_ink(image: &GrayImage, fit: &Affine, boxes: &[AnswerBoxMm], px_per_mm: f32) -> (f32, f32) {
    let x0 = boxes.iter().map(|b| b.x).fold(f32::MAX, f32::min) - 3.0;
    let y0 = boxes.iter().map(|b| b.y).fold(f32::MAX, f32::min) - 3.0;
    let x1 = boxes.iter().map(|b| b.x + b.side).fold(f32::MIN, f32::max) + 60.0;
    let y1 = boxes.iter().map(|b| b.y + b.side).fold(f32::MIN, f32::max) + 3.0;
    let step = (1.0 / px_per_mm).max(0.25);
    let mut histogram = [0u32; 256];
    let mut v = y0;
    while v <= y1 {
        let mut u = x0;
        while u <= x1 {
            let (x, y) = fit.map(u, v);
            let (xi, yi) = (x.round() as i64, y.round() as i64);
            if xi >= 0 && yi >= 0 && xi < i64::from(image.width()) && yi < i64::from(image.height()) {
                histogram[usize::from(image.get_pixel(xi as u32, yi as u32).0[0])] += 1;
            }
            u += step;
        }
        v += step;
    }
    let total: u32 = histogram.iter().sum();
    let percentile = |p: f32| {
        let want = (total as f32 * p) as u32;
        let mut seen = 0;
        histogram
            .iter()
            .position(|&n| {
                seen += n;
                seen > want
            })
            .unwrap_or(255) as f32
    };
    (percentile(0.9), percentile(0.03))
}

/// Finds the boxes near where `fit` puts them and measures their insides.
fn measure(image: &GrayImage, fit: &Affine, px_per_mm: f32, boxes: &[AnswerBoxMm], clear: &[AreaMm]) -> AnswerReading {
    let (paper, print) = paper_and_ink(image, fit, boxes, px_per_mm);
    let contrast = paper - print;
    if contrast < 40.0 {
        return AnswerReading::uncertain(Uncertain::BoxesNotFound);
    }
    // Points along each box's outline, in page mm.
    let step = (0.5 / px_per_mm).clamp(0.05, 0.25);
    let outline: Vec<Vec<(f32, f32)>> = boxes
        .iter()
        .map(|b| {
            let n = (b.side / step).ceil() as usize;
            let mut points = Vec::with_capacity(4 * n);
            for i in 0..n {
                let t = b.side * i as f32 / n as f32;
                points.extend([
                    (b.x + t, b.y),
                    (b.x + b.side, b.y + t),
                    (b.x + b.side - t, b.y + b.side),
                    (b.x, b.y + b.side - t),
                ]);
            }
            points.into_iter().map(|(u, v)| fit.map(u, v)).collect()
        })
        .collect();
    // One shift for all boxes, to the pixel, where the outlines are darkest. Shifts are whole
    // pixels, so each outline point is taken to its pixel once and the 3 × 3 averages are
    // summed once over the area searched.
    let reach = (SEARCH_MM * px_per_mm).ceil() as i64;
    let fine = (0.3 * px_per_mm).ceil().max(1.0) as i64;
    let outline: Vec<Vec<(i64, i64)>> = outline
        .iter()
        .map(|points| points.iter().map(|&(x, y)| (x.round() as i64, y.round() as i64)).collect())
        .collect();
    let sums = NineSums::around(image, outline.iter().flatten().copied(), reach + fine);
    let darkness = |points: &[(i64, i64)], dx: i64, dy: i64| {
        let sum: u64 = points.iter().map(|&(x, y)| u64::from(sums.at(x + dx, y + dy))).sum();
        paper - sum as f32 / (9 * points.len().max(1)) as f32
    };
    let mut best = (f32::MIN, 0, 0);
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let score: f32 = outline.iter().map(|points| darkness(points, dx, dy)).sum();
            if score > best.0 {
                best = (score, dx, dy);
            }
        }
    }
    let (_, dx, dy) = best;
    // Then each box on its own by a pixel or two: what is left of the fit's error over the
    // distance from the codes.
    let mut shifts = Vec::with_capacity(boxes.len());
    for points in &outline {
        let mut own = (f32::MIN, dx, dy);
        for ey in -fine..=fine {
            for ex in -fine..=fine {
                let (sx, sy) = (dx + ex, dy + ey);
                let d = darkness(points, sx, sy);
                if d > own.0 {
                    own = (d, sx, sy);
                }
            }
        }
        if own.0 < OUTLINE_LEVEL * contrast {
            return AnswerReading::uncertain(Uncertain::BoxesNotFound);
        }
        shifts.push((own.1 as f32, own.2 as f32));
    }
    let sample = (0.7 / px_per_mm).clamp(0.05, 0.2);
    // Levels over a square of the page, on a grid of `sample` mm.
    let levels = |x0: f32, y0: f32, x1: f32, y1: f32, (dx, dy): (f32, f32)| {
        let mut out = Vec::new();
        let mut v = y0;
        while v <= y1 {
            let mut u = x0;
            while u <= x1 {
                let (x, y) = fit.map(u, v);
                out.push(level(image, x + dx, y + dy));
                u += sample;
            }
            v += sample;
        }
        out
    };
    // The blank paper beside the boxes: the level a clean box's inside has, with this scan's
    // paper and noise; and ink there means something lies over the boxes.
    let blank: Vec<Vec<f32>> =
        clear.iter().map(|a| levels(a.x, a.y, a.x + a.width, a.y + a.height, (dx as f32, dy as f32))).collect();
    let all: Vec<f32> = blank.iter().flatten().copied().collect();
    let blank_mean = (all.len() >= 16).then(|| all.iter().sum::<f32>() / all.len() as f32);
    let (paper, noise) = match blank_mean {
        Some(mean) => {
            let var = all.iter().map(|l| (l - mean).powi(2)).sum::<f32>() / all.len() as f32;
            // A stamp's edge in the blank raises the spread; the test below catches it anyway.
            (mean, var.sqrt().min(8.0))
        }
        None => (paper, 0.0),
    };
    let ink_below = paper - INK_LEVEL * contrast;
    let mark_below = paper - (MARK_LEVEL * contrast).max(MIN_MARK_DARKNESS).max(NOISE_SIGMAS * noise);
    for seen in &blank {
        let any = seen.iter().filter(|&&l| l < mark_below).count();
        if any as f32 > seen.len() as f32 * CLEAR_ANY {
            return AnswerReading::uncertain(Uncertain::InkAroundBoxes);
        }
    }
    let mut readings = Vec::with_capacity(boxes.len());
    let mut margin = f32::MAX;
    let inset = INSET_MM + INSET_PX / px_per_mm;
    for (b, &shift) in boxes.iter().zip(&shifts) {
        let inside = levels(b.x + inset, b.y + inset, b.x + b.side - inset, b.y + b.side - inset, shift);
        let seen = inside.len().max(1) as f32;
        let ink = inside.iter().filter(|&&l| l < ink_below).count() as f32 / seen;
        let any_mark = inside.iter().filter(|&&l| l < mark_below).count() as f32 / seen;
        // A faint mark too light for any pixel to count still darkens the box on average.
        let shade = blank_mean.map_or(0.0, |m| m - inside.iter().sum::<f32>() / seen);
        let state = if ink >= MARKED_INK {
            margin = margin.min(((ink - MARKED_INK) / MARKED_INK).min(1.0));
            BoxState::Marked
        } else if any_mark <= CLEAN_ANY && ink <= CLEAN_INK && shade <= CLEAN_SHADE {
            margin = margin.min((CLEAN_ANY - any_mark) / CLEAN_ANY).min((CLEAN_SHADE - shade) / CLEAN_SHADE);
            BoxState::Clean
        } else {
            BoxState::Unclear
        };
        readings.push(BoxReading { choice: b.choice, ink, any_mark, state });
    }
    let marked: Vec<u8> = readings.iter().filter(|r| r.state == BoxState::Marked).map(|r| r.choice).collect();
    let outcome = if readings.iter().any(|r| r.state == BoxState::Unclear) {
        Err(Uncertain::Unclear)
    } else {
        match marked.as_slice() {
            [] => Ok(Answer::NoMark),
            [one] => Ok(Answer::Chosen(*one)),
            _ => Err(Uncertain::SeveralMarked),
        }
    };
    let confidence = match outcome {
        Ok(_) => 0.5 + 0.5 * margin.clamp(0.0, 1.0),
        Err(_) => 0.0,
    };
    AnswerReading { outcome, confidence, boxes: readings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_affine_fit_recovers_a_turned_and_scaled_page() {
        let truth = Affine([7.0, -0.5, 30.0, 0.4, 7.1, 12.0]);
        let pairs: Vec<_> = [(168.0, 9.0), (201.0, 9.0), (201.0, 42.0), (9.0, 255.0), (42.0, 288.0)]
            .into_iter()
            .map(|(u, v)| ((u, v), truth.map(u, v)))
            .collect();
        let fit = Affine::fit(&pairs).expect("five points fix it");
        for (u, v) in [(0.0, 0.0), (21.5, 120.0), (210.0, 297.0)] {
            let (a, b) = (fit.map(u, v), truth.map(u, v));
            assert!((a.0 - b.0).abs() < 0.01 && (a.1 - b.1).abs() < 0.01, "{a:?} vs {b:?}");
        }
        assert!(Affine::fit(&pairs[..2]).is_none(), "two points do not fix an affine map");
        let collinear: Vec<_> = (0..4).map(|i| ((i as f32, i as f32), (i as f32, 0.0))).collect();
        assert!(Affine::fit(&collinear).is_none(), "points on a line do not fix it");
    }

    #[test]
    fn a_page_without_codes_is_uncertain_and_odd_images_do_not_panic() {
        let boxes = [AnswerBoxMm { choice: 1, x: 21.5, y: 120.0, side: 4.5 }];
        let places = [CodePlace { x: 168.0, y: 9.0, side: 33.0 }];
        for (w, h) in [(1, 1), (10, 4000), (1654, 2339)] {
            let image = GrayImage::from_pixel(w, h, image::Luma([250]));
            let question = Question { boxes: &boxes, clear: &[] };
            let reading = read_answer(&image, None, 0, &places, &|_| true, &question);
            assert_eq!(reading.outcome, Err(Uncertain::CodesNotFound));
        }
        let image = GrayImage::from_pixel(500, 700, image::Luma([250]));
        let none = Question { boxes: &[], clear: &[] };
        assert_eq!(
            read_answer(&image, Some(f32::NAN), 3, &places, &|_| true, &none).outcome,
            Err(Uncertain::CodesNotFound)
        );
    }
}
