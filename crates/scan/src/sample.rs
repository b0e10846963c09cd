//! Reading a QR symbol by finding its finder patterns and sampling its modules ourselves, for
//! the symbols rqrr does not read: small modules (three or four pixels at 150 dpi) under blur,
//! where rqrr misses the finder patterns or misjudges the grid size.
//!
//! 1. Finder patterns are found by their shape in box sums of the grey image: a dark 3 × 3
//!    core, a light ring, a dark ring (ISO/IEC 18004 §6.3.3). Blur softens that shape but does
//!    not move its centre. Module sizes from 0.45 to 1.08 mm are tried; peaks are refined to a
//!    fraction of a pixel. A photo's resolution is only a guess from its frame (the page may
//!    fill a part of it, or be a close-up), so its range is wider (0.33 to 1.45 mm), its scores
//!    are taken relative to the light around each shape (light falls off across a photo), and
//!    more candidates are kept.
//! 2. Three finder patterns at the corners of a right isosceles triangle give the symbol's
//!    position and orientation. In a photo, where data modules and alignment patterns take a
//!    finder pattern's shape at the smaller sizes, a triple is tried only if the quiet zone
//!    outside its three finder patterns is paper, and the quietest triples first. Each grid
//!    size (QR version) whose pitch agrees with the finder patterns' size is tried, nearest
//!    first. A scanner turns and shifts a sheet but does not bend it, so the three centres fix
//!    every module (an affine map). A phone held over a tilted page adds perspective, which
//!    three points cannot fix: from version 2 on, the alignment pattern nearest the
//!    bottom-right corner is looked for around where the affine map puts it, and the four
//!    centres give a projective map (a homography) instead. In a photo of a symbol of version
//!    7 or more, which has alignment patterns all over, each is looked for where the map
//!    fitted so far puts it, nearest the finder patterns first, by correlating the 5 × 5
//!    modules around it with the pattern, and the map is fitted again (least squares) to
//!    every pattern found. A motion-blurred photo needs this: there a box-sum search for the
//!    bottom-right pattern alone can settle two modules off.
//! 3. Each module is sampled at its centre (bilinear, or the median of nine points against
//!    speckle), optionally pushed away from the mean of its four neighbours (blur pulls a lone
//!    module towards them), thresholded against the local mean of the samples or Otsu's level,
//!    and the grid goes to rqrr's decoder. Its Reed–Solomon check turns a wrong grid into an
//!    error, not into wrong text, and callers still check every code's MAC or signature.

use std::time::Instant;

use image::GrayImage;

use crate::find::otsu_level;
use crate::rows::Pattern;

/// A symbol whose finder patterns were found: where, which way up, and its text if read.
#[derive(Clone, Debug)]
pub(crate) struct Sampled {
    /// Centre, image pixels.
    pub centre: (f32, f32),
    /// Direction of the symbol's top edge (top-left to top-right finder), image pixels.
    pub top_edge: (f32, f32),
    /// The text, when a grid size and sampling decoded.
    pub text: Option<String>,
}

/// Module sizes tried for finder patterns, mm: the seal's (0.5–0.65 mm) to reply codes'
/// (0.8–1.0 mm), in steps of about 15 %.
const FINDER_MODULES_MM: [f32; 7] = [0.45, 0.52, 0.6, 0.7, 0.8, 0.93, 1.08];
/// The same for a photo, whose resolution is a guess from the frame: smaller (the page far
/// off, filling part of the frame, or tilted away) and larger (a close-up).
const PHOTO_MODULES_MM: [f32; 11] = [0.33, 0.38, 0.45, 0.52, 0.6, 0.7, 0.8, 0.93, 1.08, 1.25, 1.45];
/// Finder-pattern candidates kept per region.
const MAX_CANDIDATES: usize = 14;
/// The same for a photo: with the smaller module sizes, data modules take a finder pattern's
/// shape more often, and a finder pattern in the dark corner of a photo can rank below them.
const MAX_PHOTO_CANDIDATES: usize = 40;
/// Candidate triples tried per region, best first.
const MAX_TRIPLES: usize = 4;
/// Grid sizes tried per triple, nearest to the finder patterns' pitch first.
const MAX_SIZES: usize = 5;
/// Alignment patterns looked for per triple the quick way ([`Effort::Quick`]), over all its
/// grid sizes: the seal (version 11) has six a size. Three shapes that only look like a large
/// symbol's finder patterns would have dozens looked for at every size; the steps after read
/// what this leaves. A count, not a time, so that a loaded machine reads the same way.
const QUICK_SEARCHES: usize = 48;
/// How far from where the map fitted so far puts it an alignment pattern is looked for the
/// quick way, modules (two the thorough way).
const QUICK_REACH: f32 = 1.0;
/// Smallest share of light points in a photo's triple's quiet zone (see
/// [`Region::quiet_share`]), in tenths.
const MIN_PHOTO_QUIET: f32 = 8.0;
/// Smallest finder-pattern score, as a share of the region's contrast.
const MIN_SCORE: f32 = 0.12;

/// Reads the QR symbols in the rectangle `(x, y, width, height)` of `image`, whose resolution
/// is `px_per_mm`, until `deadline`.
pub(crate) fn read_region(
    image: &GrayImage,
    (rx, ry, rw, rh): (u32, u32, u32, u32),
    px_per_mm: f32,
    photo: bool,
    deadline: Instant,
) -> Vec<Sampled> {
    let (iw, ih) = image.dimensions();
    let (rx, ry) = (rx.min(iw), ry.min(ih));
    let (rw, rh) = (rw.min(iw - rx), rh.min(ih - ry));
    if rw < 21 || rh < 21 {
        return Vec::new();
    }
    let crop = image::imageops::crop_imm(image, rx, ry, rw, rh).to_image();
    let region = Region::new(&crop);
    if region.contrast() < 30.0 {
        return Vec::new();
    }
    let sizes: &[f32] = if photo { &PHOTO_MODULES_MM } else { &FINDER_MODULES_MM };
    let candidates = region.finder_candidates(sizes.iter().map(|mm| mm * px_per_mm), photo, deadline);
    let mut tried = Tried::default();
    let mut ranked = triples(&candidates);
    if photo {
        let quiet: Vec<f32> = ranked.iter().map(|t| (region.quiet_share(t) * 10.0).round()).collect();
        let mut order: Vec<usize> = (0..ranked.len()).filter(|&i| quiet[i] >= MIN_PHOTO_QUIET).collect();
        order.sort_by(|&a, &b| quiet[b].total_cmp(&quiet[a]).then(ranked[b].score.total_cmp(&ranked[a].score)));
        ranked = order.into_iter().map(|i| ranked[i]).collect();
    }
    for triple in ranked.into_iter().take(MAX_TRIPLES) {
        if Instant::now() >= deadline {
            break;
        }
        let centre = ((triple.tr.0 + triple.bl.0) / 2.0 + rx as f32, (triple.tr.1 + triple.bl.1) / 2.0 + ry as f32);
        if tried.has(&triple, centre) {
            continue;
        }
        let text = region.decode(&triple, photo, Effort::Full, deadline);
        tried.push(&triple, centre, text);
    }
    tried.symbols
}

/// Reads the QR symbols whose finder patterns are `patterns` (image pixels, found by
/// `rows.rs` in a photo) until `deadline`. Each triple that could be one symbol's finder
/// patterns, the most often cut first, is cropped with room for the perspective of a tilted
/// page and its quiet zone, and read as [`read_region`] reads a photo's (triples without paper
/// around them are passed over, and at most [`MAX_TRIPLES`] are tried).
pub(crate) fn read_patterns(image: &GrayImage, patterns: &[Pattern], deadline: Instant) -> Vec<Sampled> {
    let candidates: Vec<Candidate> =
        patterns.iter().map(|p| Candidate { x: p.x, y: p.y, score: p.cuts as f32, module: p.module }).collect();
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let mut tried = Tried::default();
    let mut decoded = 0;
    for triple in triples(&candidates) {
        if decoded >= MAX_TRIPLES || Instant::now() >= deadline {
            break;
        }
        let centre = ((triple.tr.0 + triple.bl.0) / 2.0, (triple.tr.1 + triple.bl.1) / 2.0);
        if tried.has(&triple, centre) {
            continue;
        }
        // The fourth corner where an affine map puts it; perspective moves it by up to a fifth
        // of the side. The margin also holds the quiet zone.
        let br = (triple.tr.0 + triple.bl.0 - triple.tl.0, triple.tr.1 + triple.bl.1 - triple.tl.1);
        let corners = [triple.tl, triple.tr, triple.bl, br];
        let margin = 0.2 * triple.leg + 8.0 * triple.module;
        let (left, right) = corners.iter().fold((f32::MAX, f32::MIN), |(l, r), c| (l.min(c.0), r.max(c.0)));
        let (top, bottom) = corners.iter().fold((f32::MAX, f32::MIN), |(t, b), c| (t.min(c.1), b.max(c.1)));
        let (x0, x1) = ((left - margin).clamp(0.0, iw) as u32, (right + margin).clamp(0.0, iw) as u32);
        let (y0, y1) = ((top - margin).clamp(0.0, ih) as u32, (bottom + margin).clamp(0.0, ih) as u32);
        if x1.saturating_sub(x0) < 21 || y1.saturating_sub(y0) < 21 {
            continue;
        }
        let crop = image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
        let region = Region::new(&crop);
        if region.contrast() < 30.0 {
            continue;
        }
        let shift = |(x, y): (f32, f32)| (x - x0 as f32, y - y0 as f32);
        let local = Triple { tl: shift(triple.tl), tr: shift(triple.tr), bl: shift(triple.bl), ..triple };
        if (region.quiet_share(&local) * 10.0).round() < MIN_PHOTO_QUIET {
            continue;
        }
        decoded += 1;
        let text = region.decode(&local, true, Effort::Quick, deadline);
        tried.push(&triple, centre, text);
    }
    tried.symbols
}

/// The symbols one search has tried (centres in image pixels), and the finder patterns of
/// those read.
#[derive(Default)]
struct Tried {
    symbols: Vec<Sampled>,
    /// Candidates of symbols read: another triple using one of them is the same symbol (or a
    /// finder pattern and alignment patterns mistaken for a symbol), not a second one.
    read: Vec<usize>,
}

impl Tried {
    /// Whether `triple`, centred at `centre`, is a symbol already tried: it uses a finder
    /// pattern of one read, or shares two with one tried (its third candidate an alignment
    /// pattern or a near duplicate), which puts its centre within a quarter of a leg.
    fn has(&self, triple: &Triple, centre: (f32, f32)) -> bool {
        let near = triple.leg / 4.0;
        triple.members.iter().any(|m| self.read.contains(m))
            || self.symbols.iter().any(|s| (s.centre.0 - centre.0).hypot(s.centre.1 - centre.1) < near)
    }

    fn push(&mut self, triple: &Triple, centre: (f32, f32), text: Option<String>) {
        if text.is_some() {
            self.read.extend(triple.members);
        }
        let top_edge = (triple.tr.0 - triple.tl.0, triple.tr.1 - triple.tl.1);
        self.symbols.push(Sampled { centre, top_edge, text });
    }
}

/// A finder-pattern candidate: centre (crop pixels), score, module size (pixels).
#[derive(Clone, Copy, Debug)]
struct Candidate {
    x: f32,
    y: f32,
    score: f32,
    module: f32,
}

/// Three finder patterns taken for one symbol.
#[derive(Clone, Copy, Debug)]
struct Triple {
    tl: (f32, f32),
    tr: (f32, f32),
    bl: (f32, f32),
    /// Mean distance from the top-left centre to the other two, pixels.
    leg: f32,
    /// Mean module size of the three, pixels.
    module: f32,
    score: f32,
    /// The candidates' indices.
    members: [usize; 3],
}

/// How hard [`Region::decode`] tries a triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effort {
    /// In a photo, each grid size's best map with the modules sampled at their centres.
    Quick,
    /// In a photo the quick way first; then every map, sampling and threshold, size by size.
    Full,
}

/// The affine map of an `n` × `n` symbol from its three finder patterns: grid coordinates
/// (module centres at `i + 0.5`) to pixels.
struct Frame {
    n: usize,
    tl: (f32, f32),
    u: (f32, f32),
    v: (f32, f32),
}

impl Frame {
    fn new(t: &Triple, n: usize) -> Frame {
        let span = (n - 7) as f32;
        let u = ((t.tr.0 - t.tl.0) / span, (t.tr.1 - t.tl.1) / span);
        let v = ((t.bl.0 - t.tl.0) / span, (t.bl.1 - t.tl.1) / span);
        Frame { n, tl: t.tl, u, v }
    }

    fn at(&self, gx: f32, gy: f32) -> (f32, f32) {
        let (u, v) = (self.u, self.v);
        (self.tl.0 + (gx - 3.5) * u.0 + (gy - 3.5) * v.0, self.tl.1 + (gx - 3.5) * u.1 + (gy - 3.5) * v.1)
    }

    /// Grid coordinate of the bottom-right alignment pattern's centre, module (n − 7, n − 7).
    fn last(&self) -> f32 {
        self.n as f32 - 6.5
    }

    /// The finder patterns' centres and the bottom-right alignment pattern's, grid
    /// coordinates: top left, top right, bottom left, bottom right.
    fn corners(&self) -> [(f32, f32); 4] {
        let n = self.n as f32;
        [(3.5, 3.5), (n - 3.5, 3.5), (3.5, n - 3.5), (self.last(), self.last())]
    }
}

/// Triples of candidates that could be one symbol's finder patterns, best first.
fn triples(candidates: &[Candidate]) -> Vec<Triple> {
    let mut out = Vec::new();
    let n = candidates.len();
    for i in 0..n {
        for j in (i + 1)..n {
            for k in (j + 1)..n {
                let c = [candidates[i], candidates[j], candidates[k]];
                let modules = c.map(|c| c.module);
                let (lo, hi) = modules.iter().fold((f32::MAX, 0f32), |(lo, hi), &m| (lo.min(m), hi.max(m)));
                if hi > lo * 1.6 {
                    continue;
                }
                let d = |a: &Candidate, b: &Candidate| (a.x - b.x).hypot(a.y - b.y);
                let sides = [d(&c[1], &c[2]), d(&c[0], &c[2]), d(&c[0], &c[1])];
                // The corner is opposite the longest side.
                let corner = (0..3).max_by(|&a, &b| sides[a].total_cmp(&sides[b])).unwrap_or(0);
                let (a, b, cc) = (c[corner], c[(corner + 1) % 3], c[(corner + 2) % 3]);
                let (l1, l2) = (d(&a, &b), d(&a, &cc));
                if l1 < 1.0 || l2 < 1.0 || l1.max(l2) / l1.min(l2) > 1.2 {
                    continue;
                }
                let leg = (l1 + l2) / 2.0;
                let hyp = sides[corner];
                if (hyp / (leg * std::f32::consts::SQRT_2) - 1.0).abs() > 0.09 {
                    continue;
                }
                let (ux, uy, vx, vy) = (b.x - a.x, b.y - a.y, cc.x - a.x, cc.y - a.y);
                if ((ux * vx + uy * vy) / (l1 * l2)).abs() > 0.17 {
                    continue;
                }
                let module = (modules[0] + modules[1] + modules[2]) / 3.0;
                // Centre to centre is N − 7 modules: versions 1 to 40.
                let span = leg / module;
                if !(10.0..=190.0).contains(&span) {
                    continue;
                }
                // Image y points down: the top-right finder is clockwise from the top-left's x.
                let (tr, bl) = if ux * vy - uy * vx > 0.0 { (b, cc) } else { (cc, b) };
                out.push(Triple {
                    tl: (a.x, a.y),
                    tr: (tr.x, tr.y),
                    bl: (bl.x, bl.y),
                    leg,
                    module,
                    score: a.score + b.score + cc.score,
                    members: [i, j, k],
                });
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// A crop with its box sums.
struct Region<'a> {
    img: &'a GrayImage,
    w: usize,
    h: usize,
    /// Integral image, `(w + 1) × (h + 1)`.
    sum: Vec<u64>,
    /// Paper's and ink's grey levels (95th and 5th percentiles).
    paper: f32,
    ink: f32,
}

impl<'a> Region<'a> {
    fn new(img: &'a GrayImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let raw = img.as_raw();
        let stride = w + 1;
        let mut sum = vec![0u64; stride * (h + 1)];
        let mut histogram = [0u32; 256];
        for y in 0..h {
            let mut row = 0u64;
            for x in 0..w {
                let p = raw[y * w + x];
                histogram[usize::from(p)] += 1;
                row += u64::from(p);
                sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
            }
        }
        let total = (w * h) as u32;
        let level = |share: f32| -> f32 {
            let target = (total as f32 * share) as u32;
            let mut seen = 0;
            for (v, &n) in histogram.iter().enumerate() {
                seen += n;
                if seen > target {
                    return v as f32;
                }
            }
            255.0
        };
        let (paper, ink) = (level(0.95), level(0.05));
        Region { img, w, h, sum, paper, ink }
    }

    /// Paper minus ink.
    fn contrast(&self) -> f32 {
        self.paper - self.ink
    }

    /// Sum of the `(2r + 1)²` box centred on pixel `(x, y)`, which must lie `r` inside.
    fn box_sum(&self, x: usize, y: usize, r: usize) -> u64 {
        let s = self.w + 1;
        let (x0, y0, x1, y1) = (x - r, y - r, x + r + 1, y + r + 1);
        self.sum[y1 * s + x1] + self.sum[y0 * s + x0] - self.sum[y0 * s + x1] - self.sum[y1 * s + x0]
    }

    /// Finder-pattern candidates, strongest first, at least three modules apart.
    fn finder_candidates(
        &self,
        modules_px: impl Iterator<Item = f32>,
        photo: bool,
        deadline: Instant,
    ) -> Vec<Candidate> {
        let max_candidates = if photo { MAX_PHOTO_CANDIDATES } else { MAX_CANDIDATES };
        let (w, h) = (self.w, self.h);
        let mut best = vec![0f32; w * h];
        let mut best_module = vec![0f32; w * h];
        for m in modules_px {
            if Instant::now() >= deadline {
                break;
            }
            if m < 1.5 {
                continue;
            }
            let radius = |half: f32| ((half * m - 0.5).round().max(0.0)) as usize;
            let (r1, r2, r3) = (radius(1.5), radius(2.5), radius(3.5));
            if r2 <= r1 || r3 <= r2 || 2 * r3 + 1 >= w.min(h) {
                continue;
            }
            let (a1, a2, a3) = (
                ((2 * r1 + 1) * (2 * r1 + 1)) as f32,
                ((2 * r2 + 1) * (2 * r2 + 1)) as f32,
                ((2 * r3 + 1) * (2 * r3 + 1)) as f32,
            );
            for y in r3..h - r3 {
                for x in r3..w - r3 {
                    let (s1, s2, s3) =
                        (self.box_sum(x, y, r1) as f32, self.box_sum(x, y, r2) as f32, self.box_sum(x, y, r3) as f32);
                    let core = s1 / a1;
                    let light = (s2 - s1) / (a2 - a1);
                    let dark = (s3 - s2) / (a3 - a2);
                    let mut score = (light - core).min(light - dark);
                    if photo {
                        // Light falls off across a photo: the shape's contrast relative to
                        // its own light ring, scaled to the region's paper.
                        score *= self.paper / light.max(1.0);
                    }
                    let i = y * w + x;
                    if score > best[i] {
                        best[i] = score;
                        best_module[i] = m;
                    }
                }
            }
        }
        let floor = MIN_SCORE * self.contrast();
        let mut peaks: Vec<(f32, usize)> =
            best.iter().enumerate().filter(|&(_, &s)| s > floor).map(|(i, &s)| (s, i)).collect();
        peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<Candidate> = Vec::new();
        for (score, i) in peaks {
            if out.len() >= max_candidates {
                break;
            }
            let (x, y) = (i % w, i / w);
            let m = best_module[i];
            if out.iter().any(|c| (c.x - x as f32).hypot(c.y - y as f32) < 3.0 * m.max(c.module)) {
                continue;
            }
            // Sub-pixel peak from a parabola through the neighbours' scores.
            let at = |xx: usize, yy: usize| best[yy * w + xx];
            let offset = |l: f32, c: f32, r: f32| {
                let den = l - 2.0 * c + r;
                if den.abs() < 1e-6 { 0.0 } else { (0.5 * (l - r) / den).clamp(-0.5, 0.5) }
            };
            let dx = if x > 0 && x + 1 < w { offset(at(x - 1, y), score, at(x + 1, y)) } else { 0.0 };
            let dy = if y > 0 && y + 1 < h { offset(at(x, y - 1), score, at(x, y + 1)) } else { 0.0 };
            out.push(Candidate { x: x as f32 + 0.5 + dx, y: y as f32 + 0.5 + dy, score, module: m });
        }
        out
    }

    /// Grey level at `(x, y)` (continuous coordinates, pixel centres at `i + 0.5`), bilinear.
    fn grey(&self, x: f32, y: f32) -> f32 {
        let raw = self.img.as_raw();
        let fx = (x - 0.5).clamp(0.0, (self.w - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let p = |x: usize, y: usize| f32::from(raw[y * self.w + x]);
        let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
        let bottom = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// Tries the grid sizes the triple allows; the first text decoded. `photo`: the page may
    /// be in perspective (see `grown`); a scanner's glass holds it flat.
    ///
    /// In a photo each size is first tried the quick way: its best map (through the alignment
    /// patterns), modules sampled at their centres. The size the finder patterns' width gives
    /// is often one version off, and the thorough way spends dozens of decodes on a wrong size
    /// (a millisecond the quick way). [`Effort::Quick`] stops there.
    fn decode(&self, t: &Triple, photo: bool, effort: Effort, deadline: Instant) -> Option<String> {
        let mut sizes: Vec<(f32, usize)> = (1..=40usize)
            .map(|v| 17 + 4 * v)
            .map(|n| ((t.leg / (n - 7) as f32 / t.module).ln().abs(), n))
            .filter(|&(off, _)| off < 0.3)
            .collect();
        sizes.sort_by(|a, b| a.0.total_cmp(&b.0));
        let sizes: Vec<usize> = sizes.into_iter().take(MAX_SIZES).map(|(_, n)| n).collect();
        if photo {
            let mut searches = QUICK_SEARCHES;
            for &n in &sizes {
                let frame = Frame::new(t, n);
                let affine = |gx: f32, gy: f32| frame.at(gx, gy);
                let best = (n >= 45).then(|| self.grown(n, t, &affine, QUICK_REACH, &mut searches, deadline)).flatten();
                let text = match best.or_else(|| self.projective(t, &frame)) {
                    Some(h) => self.read_grid(n, &|gx, gy| h.map(gx, gy), &[Sampling::Centre], deadline),
                    None => self.read_grid(n, &affine, &[Sampling::Centre], deadline),
                };
                if text.is_some() {
                    return text;
                }
            }
        }
        if effort == Effort::Quick {
            return None;
        }
        let mut unlimited = usize::MAX;
        for (i, &n) in sizes.iter().enumerate() {
            let frame = Frame::new(t, n);
            let affine = |gx: f32, gy: f32| frame.at(gx, gy);
            let projective = self.projective(t, &frame);
            // Versions 7 and up have alignment patterns all over: each one found makes the map
            // better for finding the next (see `grown`).
            if photo
                && n >= 45
                && let Some(h) = self.grown(n, t, &affine, 2.0, &mut unlimited, deadline)
                && let Some(text) = self.read_grid(n, &|gx, gy| h.map(gx, gy), &Sampling::ALL, deadline)
            {
                return Some(text);
            }
            if let Some(h) = projective
                && let Some(text) = self.read_grid(n, &|gx, gy| h.map(gx, gy), &Sampling::ALL, deadline)
            {
                return Some(text);
            }
            if let Some(text) = self.read_grid(n, &affine, &Sampling::ALL, deadline) {
                return Some(text);
            }
            // No alignment pattern found (blurred away: a hand that moved), or the one found
            // gave nothing: the fourth corner where the affine map puts it, moved by up to two
            // modules each way, nearest first, for the likeliest grid size only.
            if n >= 25 && i == 0 {
                let mut offsets: Vec<(f32, f32)> =
                    (-2..=2).flat_map(|dy| (-2..=2).map(move |dx| (dx as f32, dy as f32))).collect();
                offsets.retain(|&(dx, dy)| (dx, dy) != (0.0, 0.0));
                offsets.sort_by(|a, b| a.0.hypot(a.1).total_cmp(&b.0.hypot(b.1)));
                let last = frame.last();
                for (dx, dy) in offsets {
                    let Some(h) =
                        Homography::from_points(frame.corners(), [t.tl, t.tr, t.bl, affine(last + dx, last + dy)])
                    else {
                        continue;
                    };
                    if let Some(text) = self.read_grid(n, &|gx, gy| h.map(gx, gy), &[Sampling::Centre], deadline) {
                        return Some(text);
                    }
                }
            }
        }
        None
    }

    /// Versions 2 and up: the bottom-right alignment pattern, looked for within a tenth of the
    /// span (and at least three modules) of where the affine map puts it, makes the fourth
    /// point of a projective map.
    fn projective(&self, t: &Triple, frame: &Frame) -> Option<Homography> {
        if frame.n < 25 {
            return None;
        }
        let span = (frame.n - 7) as f32;
        let reach = (0.1 * span * t.module).max(3.0 * t.module);
        let last = frame.last();
        let found = self.alignment_pattern(frame.at(last, last), t.module, reach)?;
        Homography::from_points(frame.corners(), [t.tl, t.tr, t.bl, found])
    }

    /// A projective map of the `n` × `n` symbol fitted to its finder patterns and every
    /// alignment pattern found, starting from the map `first`. The alignment patterns nearest
    /// the finder patterns, where `first` is surest, are looked for first, within `reach`
    /// modules of where the map fitted so far puts them; those that end more than a module
    /// from the final fit (data modules of the same shape) are dropped and the map fitted
    /// again. `None` when fewer than two alignment patterns were found, at `deadline`, or when
    /// `searches` (counted down by each pattern looked for) runs out.
    fn grown(
        &self,
        n: usize,
        t: &Triple,
        first: &dyn Fn(f32, f32) -> (f32, f32),
        reach: f32,
        searches: &mut usize,
        deadline: Instant,
    ) -> Option<Homography> {
        let module = t.leg / (n - 7) as f32;
        let mut from = vec![(3.5, 3.5), (n as f32 - 3.5, 3.5), (3.5, n as f32 - 3.5)];
        let mut to = vec![t.tl, t.tr, t.bl];
        let mut centres = alignment_centres(n);
        let nearest_finder =
            |&(x, y): &(f32, f32)| from[..3].iter().map(|f| (f.0 - x).hypot(f.1 - y)).fold(f32::MAX, f32::min);
        centres.sort_by(|a, b| nearest_finder(a).total_cmp(&nearest_finder(b)));
        let mut map: Option<Homography> = None;
        for c in centres {
            if Instant::now() >= deadline || *searches == 0 {
                return None;
            }
            *searches -= 1;
            let at = |x: f32, y: f32| match map {
                Some(h) => h.map(x, y),
                None => first(x, y),
            };
            // Where the map fitted so far puts the pattern, and one module along each grid
            // axis there.
            let predicted = at(c.0, c.1);
            let (right, left, down, up) =
                (at(c.0 + 0.5, c.1), at(c.0 - 0.5, c.1), at(c.0, c.1 + 0.5), at(c.0, c.1 - 0.5));
            let axes = ((right.0 - left.0, right.1 - left.1), (down.0 - up.0, down.1 - up.1));
            if let Some(found) = self.alignment_template(predicted, axes, reach) {
                from.push(c);
                to.push(found);
                if from.len() >= 4 {
                    map = Homography::fit(&from, &to).or(map);
                }
            }
        }
        if from.len() < 5 {
            return None;
        }
        let h = map?;
        let keep: Vec<usize> = (0..from.len())
            .filter(|&i| {
                let (x, y) = h.map(from[i].0, from[i].1);
                i < 3 || (x - to[i].0).hypot(y - to[i].1) <= module
            })
            .collect();
        if keep.len() < 5 {
            return None;
        }
        let from: Vec<_> = keep.iter().map(|&i| from[i]).collect();
        let to: Vec<_> = keep.iter().map(|&i| to[i]).collect();
        Homography::fit(&from, &to)
    }

    /// Samples the `n` × `n` modules whose centres `at` maps into the crop, in each of
    /// `samplings`, plain and sharpened, thresholded locally and by Otsu's level; the first
    /// text rqrr decodes from the grid.
    fn read_grid(
        &self,
        n: usize,
        at: &dyn Fn(f32, f32) -> (f32, f32),
        samplings: &[Sampling],
        deadline: Instant,
    ) -> Option<String> {
        for &sampling in samplings {
            if Instant::now() >= deadline {
                return None;
            }
            let samples: Vec<f32> = (0..n * n)
                .map(|i| {
                    let (gx, gy) = ((i % n) as f32 + 0.5, (i / n) as f32 + 0.5);
                    match sampling {
                        Sampling::Centre => {
                            let (x, y) = at(gx, gy);
                            self.grey(x, y)
                        }
                        Sampling::Median | Sampling::Mean => {
                            let mut nine = [0f32; 9];
                            for (k, slot) in nine.iter_mut().enumerate() {
                                let (ox, oy) = ((k % 3) as f32 - 1.0, (k / 3) as f32 - 1.0);
                                let (x, y) = at(gx + 0.3 * ox, gy + 0.3 * oy);
                                *slot = self.grey(x, y);
                            }
                            if matches!(sampling, Sampling::Mean) {
                                nine.iter().sum::<f32>() / 9.0
                            } else {
                                nine.sort_by(f32::total_cmp);
                                nine[4]
                            }
                        }
                    }
                })
                .collect();
            for sharpen in [0.0, 0.8] {
                let sharp;
                let values: &[f32] = if sharpen > 0.0 {
                    sharp = sharpened(&samples, n, sharpen);
                    &sharp
                } else {
                    &samples
                };
                for threshold in [Threshold::LocalMean, Threshold::Otsu] {
                    let dark = threshold.apply(values, n);
                    let grid = rqrr::Grid::new(Bits { size: n, dark });
                    if let Ok((_, text)) = grid.decode() {
                        return Some(text);
                    }
                }
            }
        }
        None
    }
}

impl Region<'_> {
    /// Share of the points in the triple's quiet zone, the four modules of paper around a
    /// symbol, that are light. Each finder pattern's two outer sides are sampled 5.5 modules
    /// from its centre (two modules past its edge, so a module size a third off still lands
    /// in the quiet zone). A symbol's true finder patterns have paper there; a triple made of
    /// data modules or alignment patterns that happen to take a finder's shape has the
    /// symbol's own modules, about half of them dark.
    fn quiet_share(&self, t: &Triple) -> f32 {
        let len = |(x, y): (f32, f32)| x.hypot(y).max(1e-3);
        let unit = |(x, y): (f32, f32)| (x / len((x, y)), y / len((x, y)));
        let u = unit((t.tr.0 - t.tl.0, t.tr.1 - t.tl.1));
        let v = unit((t.bl.0 - t.tl.0, t.bl.1 - t.tl.1));
        let m = t.module;
        // Each finder with the two directions pointing out of the symbol.
        let corners = [(t.tl, (-u.0, -u.1), (-v.0, -v.1)), (t.tr, u, (-v.0, -v.1)), (t.bl, (-u.0, -u.1), v)];
        let midpoint = (self.paper + self.ink) / 2.0;
        let (mut light, mut total) = (0u32, 0u32);
        for (centre, out_a, out_b) in corners {
            for (out, along) in [(out_a, out_b), (out_b, out_a)] {
                for k in -3..=3 {
                    let (x, y) = (
                        centre.0 + 5.5 * m * out.0 + k as f32 * m * along.0,
                        centre.1 + 5.5 * m * out.1 + k as f32 * m * along.1,
                    );
                    if x < 0.0 || y < 0.0 || x >= self.w as f32 || y >= self.h as f32 {
                        continue;
                    }
                    total += 1;
                    light += u32::from(self.grey(x, y) > midpoint);
                }
            }
        }
        if total == 0 { 0.0 } else { light as f32 / total as f32 }
    }

    /// The centre of an alignment pattern within `reach` modules of `predicted` (crop
    /// pixels), where one module along the grid's x and y axes is `axes` (pixels): the place,
    /// in steps of an eighth of a module (as many places whatever the module's size), where
    /// the grey levels of the 5 × 5 module centres around it best correlate with the pattern
    /// (dark ring, light ring, dark centre). Correlation, not a difference of grey levels, so
    /// that light falling off does not matter; sampled along the symbol's own axes, so that
    /// perspective and turn do not. `None` when the best correlation is weak (under 0.5) or
    /// nothing can be sampled.
    fn alignment_template(
        &self,
        predicted: (f32, f32),
        axes: ((f32, f32), (f32, f32)),
        reach: f32,
    ) -> Option<(f32, f32)> {
        let ((ux, uy), (vx, vy)) = axes;
        let module = ux.hypot(uy).max(vx.hypot(vy));
        if !(predicted.0.is_finite() && predicted.1.is_finite() && module.is_finite()) || module < 1.0 {
            return None;
        }
        let limit = 2.5 * (ux.abs() + vx.abs()).max(uy.abs() + vy.abs());
        let (px, py) = predicted;
        if px - limit - reach * module < 0.0
            || py - limit - reach * module < 0.0
            || px + limit + reach * module >= self.w as f32
            || py + limit + reach * module >= self.h as f32
        {
            return None;
        }
        // Pattern: 1 for dark (the outer ring and the centre), 0 for light.
        let pattern: [f32; 25] = std::array::from_fn(|k| {
            let (i, j) = ((k % 5) as i32 - 2, (k / 5) as i32 - 2);
            if i.abs().max(j.abs()) == 1 { 0.0 } else { 1.0 }
        });
        let pattern_mean = pattern.iter().sum::<f32>() / 25.0;
        let step = module / 8.0;
        let steps = (reach * 8.0).ceil() as i32;
        let mut best: Option<(f32, f32, f32)> = None;
        for sy in -steps..=steps {
            for sx in -steps..=steps {
                let (cx, cy) = (px + step * sx as f32, py + step * sy as f32);
                let distance = (cx - px).hypot(cy - py) / module;
                if distance > reach {
                    continue;
                }
                let grey: [f32; 25] = std::array::from_fn(|k| {
                    let (i, j) = ((k % 5) as f32 - 2.0, (k / 5) as f32 - 2.0);
                    self.grey(cx + i * ux + j * vx, cy + i * uy + j * vy)
                });
                let mean = grey.iter().sum::<f32>() / 25.0;
                let (mut cov, mut var) = (0.0, 0.0);
                for (g, t) in grey.iter().zip(&pattern) {
                    cov += (mean - g) * (t - pattern_mean);
                    var += (g - mean) * (g - mean);
                }
                let pattern_var = 25.0 * pattern_mean * (1.0 - pattern_mean);
                let correlation = if var > 0.0 { cov / (var * pattern_var).sqrt() } else { 0.0 };
                // Nearer the prediction wins a tie: data modules can mimic the shape.
                let score = correlation * (1.0 - 0.1 * distance / reach);
                if best.is_none_or(|(b, _, _)| score > b) {
                    best = Some((score, cx, cy));
                }
            }
        }
        let (score, x, y) = best?;
        (score > 0.5).then_some((x, y))
    }

    /// The centre of the alignment pattern nearest `predicted` (crop pixels), for modules of
    /// `module` pixels: a dark module in a light ring in a dark ring, looked for within
    /// `reach` pixels. `None` if nothing there has that shape.
    fn alignment_pattern(&self, predicted: (f32, f32), module: f32, reach: f32) -> Option<(f32, f32)> {
        let m = module;
        let radius = |half: f32| ((half * m - 0.5).round().max(0.0)) as usize;
        let (r0, r1, r2) = (radius(0.5), radius(1.5), radius(2.5));
        if r1 <= r0 || r2 <= r1 {
            return None;
        }
        let (px, py) = predicted;
        if !(px.is_finite() && py.is_finite()) {
            return None;
        }
        let (x0, x1) = ((px - reach).max(r2 as f32) as usize, (px + reach).min((self.w - r2 - 1) as f32));
        let (y0, y1) = ((py - reach).max(r2 as f32) as usize, (py + reach).min((self.h - r2 - 1) as f32));
        if x1 < x0 as f32 || y1 < y0 as f32 {
            return None;
        }
        let (x1, y1) = (x1 as usize, y1 as usize);
        let area = |r: usize| ((2 * r + 1) * (2 * r + 1)) as f32;
        let (a0, a1, a2) = (area(r0), area(r1), area(r2));
        let mut best: Option<(f32, usize, usize)> = None;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (s0, s1, s2) =
                    (self.box_sum(x, y, r0) as f32, self.box_sum(x, y, r1) as f32, self.box_sum(x, y, r2) as f32);
                let core = s0 / a0;
                let light = (s1 - s0) / (a1 - a0);
                let dark = (s2 - s1) / (a2 - a1);
                // Nearer the prediction wins a tie: data modules can mimic the shape.
                let distance = (x as f32 - px).hypot(y as f32 - py) / reach;
                let score = (light - core).min(light - dark) * (1.0 - 0.2 * distance);
                if best.is_none_or(|(b, _, _)| score > b) {
                    best = Some((score, x, y));
                }
            }
        }
        let (score, x, y) = best?;
        // As weak a shape as a finder pattern may show: motion blur runs the one-module core
        // into its ring. A wrong place costs a failed decode, never a wrong text.
        (score > MIN_SCORE * self.contrast()).then_some((x as f32 + 0.5, y as f32 + 0.5))
    }
}

/// Centres (grid coordinates, module centres at `i + 0.5`) of the alignment patterns of an
/// `n` × `n` symbol, but for the three that would overlap the finder patterns (ISO/IEC 18004
/// Annex E: rows and columns at 6, then evenly spaced from the far end in even steps).
fn alignment_centres(n: usize) -> Vec<(f32, f32)> {
    let version = (n.saturating_sub(17)) / 4;
    if !(2..=40).contains(&version) {
        return Vec::new();
    }
    let count = version / 7 + 2;
    let step = if version == 32 { 26 } else { (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2 };
    let mut at = vec![6usize];
    at.extend((0..count - 1).map(|i| n - 7 - i * step).rev());
    let last = *at.last().unwrap_or(&6);
    let mut out = Vec::new();
    for &y in &at {
        for &x in &at {
            let corners = [(6, 6), (6, last), (last, 6)];
            if !corners.contains(&(x, y)) {
                out.push((x as f32 + 0.5, y as f32 + 0.5));
            }
        }
    }
    out
}

/// A projective map of the plane (eight coefficients, the ninth 1): grid modules to pixels.
#[derive(Clone, Copy, Debug)]
struct Homography([f64; 8]);

impl Homography {
    /// The map taking each of `from` to the same place in `to`; `None` when three of the
    /// points are in line.
    fn from_points(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> Option<Self> {
        Self::fit(&from, &to)
    }

    /// The map taking each of `from` nearest to the same place in `to` (least squares over
    /// the linearised equations; exact for four points); `None` for fewer than four points or
    /// when they do not fix a map (three of four in line).
    fn fit(from: &[(f32, f32)], to: &[(f32, f32)]) -> Option<Self> {
        if from.len() < 4 || from.len() != to.len() {
            return None;
        }
        // x' = (a x + b y + c) / (g x + h y + 1), y' = (d x + e y + f) / (g x + h y + 1),
        // two linear equations per point. Pixels are taken relative to the first point and
        // both sides scaled to about 1, so the normal equations stay well conditioned.
        let (ox, oy) = (f64::from(to[0].0), f64::from(to[0].1));
        let grid_scale = from.iter().map(|p| f64::from(p.0.abs().max(p.1.abs()))).fold(1.0, f64::max);
        let pixel_scale =
            to.iter().map(|p| (f64::from(p.0) - ox).abs().max((f64::from(p.1) - oy).abs())).fold(1.0, f64::max);
        let mut normal = [[0f64; 9]; 8];
        for (&(x, y), &(u, v)) in from.iter().zip(to) {
            let (x, y) = (f64::from(x) / grid_scale, f64::from(y) / grid_scale);
            let (u, v) = ((f64::from(u) - ox) / pixel_scale, (f64::from(v) - oy) / pixel_scale);
            for row in [[x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u], [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v]] {
                for i in 0..8 {
                    for j in 0..9 {
                        normal[i][j] += row[i] * row[j];
                    }
                }
            }
        }
        let mut rows = normal;
        // Gaussian elimination with partial pivoting.
        for col in 0..8 {
            let pivot = (col..8).max_by(|&a, &b| rows[a][col].abs().total_cmp(&rows[b][col].abs()))?;
            if rows[pivot][col].abs() < 1e-9 {
                return None;
            }
            rows.swap(col, pivot);
            let pivot_row = rows[col];
            for (r, row) in rows.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (cell, p) in row.iter_mut().zip(pivot_row).skip(col) {
                        *cell -= f * p;
                    }
                }
            }
        }
        let [a, b, c, d, e, f, g, h] = std::array::from_fn(|i| rows[i][8] / rows[i][i]);
        // Undo the scaling: x = X / s, u' = (u − o) / p.
        let (s, p) = (grid_scale, pixel_scale);
        let (g, h) = (g / s, h / s);
        let coefficients = [
            (a * p) / s + ox * g,
            (b * p) / s + ox * h,
            c * p + ox,
            (d * p) / s + oy * g,
            (e * p) / s + oy * h,
            f * p + oy,
            g,
            h,
        ];
        coefficients.iter().all(|c| c.is_finite()).then_some(Homography(coefficients))
    }

    fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f, g, h] = self.0;
        let (x, y) = (f64::from(x), f64::from(y));
        let w = g * x + h * y + 1.0;
        if w.abs() < 1e-9 {
            return (f32::NAN, f32::NAN);
        }
        (((a * x + b * y + c) / w) as f32, ((d * x + e * y + f) / w) as f32)
    }
}

#[derive(Clone, Copy)]
enum Sampling {
    /// The module's centre: sharpest under blur.
    Centre,
    /// Median of nine points within the module: speckle.
    Median,
    /// Mean of the same nine points: grain (gaussian noise, JPEG).
    Mean,
}

impl Sampling {
    /// Every way, in the order tried.
    const ALL: [Sampling; 3] = [Sampling::Centre, Sampling::Median, Sampling::Mean];
}

#[derive(Clone, Copy)]
enum Threshold {
    /// Mean of the samples within four modules.
    LocalMean,
    /// Otsu's level over the symbol.
    Otsu,
}

impl Threshold {
    fn apply(self, values: &[f32], n: usize) -> Vec<bool> {
        match self {
            Threshold::LocalMean => {
                let r = 4usize;
                (0..n * n)
                    .map(|i| {
                        let (x, y) = (i % n, i / n);
                        let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(n));
                        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(n));
                        let mut sum = 0.0;
                        for yy in y0..y1 {
                            sum += values[yy * n + x0..yy * n + x1].iter().sum::<f32>();
                        }
                        let mean = sum / ((x1 - x0) * (y1 - y0)) as f32;
                        values[i] < mean
                    })
                    .collect()
            }
            Threshold::Otsu => {
                let mut histogram = [0u64; 256];
                for &v in values {
                    histogram[v.clamp(0.0, 255.0) as usize] += 1;
                }
                let level = f32::from(otsu_level(&histogram));
                values.iter().map(|&v| v <= level).collect()
            }
        }
    }
}

/// Each sample pushed away from the mean of its four neighbours by `amount`: blur pulls a
/// module towards its neighbours in proportion to their difference.
fn sharpened(samples: &[f32], n: usize, amount: f32) -> Vec<f32> {
    (0..n * n)
        .map(|i| {
            let (x, y) = (i % n, i / n);
            let mut sum = 0.0;
            let mut count = 0.0;
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx >= 0 && ny >= 0 && (nx as usize) < n && (ny as usize) < n {
                    sum += samples[ny as usize * n + nx as usize];
                    count += 1.0;
                }
            }
            let s = samples[i];
            s + amount * (s - sum / count)
        })
        .collect()
}

/// A sampled grid for rqrr's decoder.
struct Bits {
    size: usize,
    dark: Vec<bool>,
}

impl rqrr::BitGrid for Bits {
    fn size(&self) -> usize {
        self.size
    }

    fn bit(&self, y: usize, x: usize) -> bool {
        self.dark[y * self.size + x]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symbol drawn at `module` pixels per module with a quiet zone of four.
    fn draw(text: &str, module: f32) -> GrayImage {
        let code = hybridpost_seal::qr_matrix_at(text, hybridpost_seal::ErrorCorrection::Q).expect("fits");
        let n = code.width;
        let side = ((n + 8) as f32 * module).ceil() as u32;
        GrayImage::from_fn(side, side, |x, y| {
            let gx = (x as f32 + 0.5) / module - 4.0;
            let gy = (y as f32 + 0.5) / module - 4.0;
            let dark = gx >= 0.0 && gy >= 0.0 && code.is_dark(gx as usize, gy as usize);
            image::Luma([if dark { 20 } else { 235 }])
        })
    }

    #[test]
    fn a_blurred_symbol_with_small_modules_is_read() {
        let text = "HTTPS://HP.GO.TH/V#".to_string() + &"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".repeat(7);
        // 3.4 pixels per module (0.57 mm at 150 dpi), blurred.
        let img = image::imageops::blur(&draw(&text, 3.4), 1.2);
        let far = Instant::now() + std::time::Duration::from_secs(10);
        let found = read_region(&img, (0, 0, img.width(), img.height()), 150.0 / 25.4, false, far);
        assert!(found.iter().any(|s| s.text.as_deref() == Some(text.as_str())), "{found:?}");
    }

    #[test]
    fn a_tilted_symbol_is_sampled_through_its_alignment_pattern() {
        use crate::degrade::{Camera, photograph};
        let text = "HTTPS://HP.GO.TH/V#".to_string() + &"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".repeat(7);
        // 0.5 mm modules at 300 dpi, photographed at 8 pixels a mm (4 a module) by a phone
        // tilted 24° about a slanting axis: the far corner is a module or more from where the
        // three finder patterns alone put it.
        let page = draw(&text, 300.0 / 25.4 * 0.5);
        let half_mm = page.width() as f32 / (300.0 / 25.4) / 2.0;
        let camera = Camera {
            frame: (420, 420),
            px_per_mm: 8.0,
            aim: (half_mm, half_mm),
            aim_in_frame: (0.5, 0.5),
            roll: 12.0,
            tilt: 24.0,
            tilt_axis: 40.0,
            focal_px: 1400.0,
            background: 235,
        };
        let photo = image::imageops::blur(&photograph(&page, 300, &camera), 0.7);
        let far = Instant::now() + std::time::Duration::from_secs(10);
        let found = read_region(&photo, (0, 0, photo.width(), photo.height()), 8.0, true, far);
        assert!(found.iter().any(|s| s.text.as_deref() == Some(text.as_str())), "{found:?}");
    }

    #[test]
    fn a_homography_takes_four_points_where_they_are_sent() {
        let from = [(3.5, 3.5), (41.5, 3.5), (3.5, 41.5), (38.5, 38.5)];
        let to = [(10.0, 12.0), (200.0, 30.0), (5.0, 220.0), (190.0, 215.0)];
        let h = Homography::from_points(from, to).expect("no three in line");
        for (f, t) in from.iter().zip(&to) {
            let (x, y) = h.map(f.0, f.1);
            assert!((x - t.0).abs() < 1e-3 && (y - t.1).abs() < 1e-3, "{f:?} went to {x},{y}, not {t:?}");
        }
        assert!(Homography::from_points([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)], to).is_none());
    }

    #[test]
    fn alignment_patterns_sit_where_the_standard_puts_them() {
        // ISO/IEC 18004 Annex E, table E.1: row and column coordinates for versions 1, 2, 7,
        // 11, 32 (the one with steps of 26) and 40.
        for (version, at) in [
            (1, vec![]),
            (2, vec![6, 18]),
            (7, vec![6, 22, 38]),
            (11, vec![6, 30, 54]),
            (32, vec![6, 34, 60, 86, 112, 138]),
            (40, vec![6, 30, 58, 86, 114, 142, 170]),
        ] {
            let n = 17 + 4 * version;
            let mut expected: Vec<(f32, f32)> = Vec::new();
            for &y in &at {
                for &x in &at {
                    let last = *at.last().unwrap_or(&6);
                    if ![(6, 6), (6, last), (last, 6)].contains(&(x, y)) {
                        expected.push((x as f32 + 0.5, y as f32 + 0.5));
                    }
                }
            }
            assert_eq!(alignment_centres(n), expected, "version {version}");
        }
    }

    #[test]
    fn a_homography_fitted_to_many_points_keeps_them_and_averages_a_stray_one() {
        let truth = Homography::from_points(
            [(3.5, 3.5), (57.5, 3.5), (3.5, 57.5), (54.5, 54.5)],
            [(105.2, 270.4), (59.7, 95.1), (293.4, 224.4), (235.8, 61.9)],
        )
        .expect("no three in line");
        let from: Vec<(f32, f32)> = [
            (3.5, 3.5),
            (57.5, 3.5),
            (3.5, 57.5),
            (30.5, 6.5),
            (6.5, 30.5),
            (30.5, 30.5),
            (54.5, 30.5),
            (30.5, 54.5),
            (54.5, 54.5),
        ]
        .to_vec();
        let mut to: Vec<(f32, f32)> = from.iter().map(|&(x, y)| truth.map(x, y)).collect();
        let exact = Homography::fit(&from, &to).expect("fits");
        for &(x, y) in &from {
            let (a, b) = (exact.map(x, y), truth.map(x, y));
            assert!((a.0 - b.0).hypot(a.1 - b.1) < 0.01, "{a:?} against {b:?}");
        }
        // One point found two pixels off (about half a module): the fit moves less than that.
        to[5].0 += 2.0;
        let fitted = Homography::fit(&from, &to).expect("fits");
        let (a, b) = (fitted.map(30.5, 30.5), truth.map(30.5, 30.5));
        assert!((a.0 - b.0).hypot(a.1 - b.1) < 1.5, "{a:?} against {b:?}");
        assert!(Homography::fit(&from[..3], &to[..3]).is_none());
    }

    #[test]
    fn text_and_blank_crops_give_nothing() {
        let far = Instant::now() + std::time::Duration::from_secs(10);
        let blank = GrayImage::from_pixel(300, 300, image::Luma([240]));
        assert!(read_region(&blank, (0, 0, 300, 300), 150.0 / 25.4, false, far).is_empty());
        let stripes = GrayImage::from_fn(300, 300, |x, _| image::Luma([if (x / 4) % 2 == 0 { 20 } else { 230 }]));
        assert!(read_region(&stripes, (0, 0, 300, 300), 150.0 / 25.4, false, far).iter().all(|s| s.text.is_none()));
    }
}
