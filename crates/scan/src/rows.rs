//! Finder patterns of a whole photo, found by scanning its rows for their 1:1:3:1:1 runs of
//! dark and light (ISO/IEC 18004 §6.3.3), as the standard's reference decoding algorithm
//! does, instead of rqrr's threshold and flood fills over every pixel.
//!
//! 1. Each 16 × 16 block's mean and range; a pixel is dark below the mean of the 3 × 3 blocks
//!    around its own (light falls off across a photo), and nothing is dark where those blocks'
//!    range is too small to hold ink (paper, grain).
//! 2. Every third row is cut into runs. Five runs dark, light, dark, light, dark in the
//!    proportions 1:1:3:1:1 (each within half a module) are a finder pattern's horizontal cut
//!    if the column through their middle shows the same proportions (its vertical cut), and
//!    the row through the middle of that (the horizontal cut again, re-centred), each within
//!    three quarters of a module.
//! 3. Cuts of one finder pattern (one every third row across its 3 × 3 core) are merged; a
//!    pattern cut once is left out (data modules and text take the shape by chance, but seldom
//!    on two rows).
//!
//! Tilt, turn and perspective keep the proportions along any line through the centre, so the
//! cuts survive the page held at an angle; blur moves the edges but not the centres. What the
//! patterns are (three of one symbol, or chance) is settled by `sample.rs`, which fits the
//! grid and lets the decoder's Reed–Solomon check have the last word.

use image::GrayImage;

/// Side of the blocks whose means set the threshold, pixels.
const BLOCK: usize = 16;
/// Smallest grey-level range in a 3 × 3 neighbourhood of blocks for anything there to count as
/// dark (zxing's is 24; a photo in little light has less contrast).
const MIN_RANGE: u8 = 20;
/// Rows scanned: every this many. Every other row found the finder patterns of 9 more photos
/// in 332 but, all steps counted, read the corpus 5 to 14 % slower.
const ROW_STEP: usize = 3;
/// Smallest and largest module of a finder pattern, pixels: below one and a half pixels the
/// symbol cannot be sampled; over 40 it is larger than any photo of a page holds.
const MODULE_PX: (f32, f32) = (1.5, 40.0);
/// How far a run of the row scanned may be from its share of the pattern, in modules.
const ROW_SLACK: f32 = 0.5;
// The row scan's quick test (the centre run longer than each of the others) holds only to
// half a module.
const _: () = assert!(ROW_SLACK <= 0.5);
/// The same for the cuts that check it (the column and the row through its centre): a
/// turned pattern's cut can cross a ring's corner, and the threshold thins a one-module
/// light ring in a blurred photo.
const CROSS_SLACK: f32 = 0.75;
/// Finder patterns kept, most often cut first.
const MAX_PATTERNS: usize = 40;
/// Distinct shapes kept while the rows are scanned. A photo of a page has a few dozen; an
/// image tiled with finder-like shapes stops adding them here, since each cut is compared
/// with every shape kept.
const MAX_SHAPES: usize = 500;

/// A finder pattern: centre (image pixels), module (pixels), and how many rows cut it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pattern {
    pub x: f32,
    pub y: f32,
    pub module: f32,
    pub cuts: u32,
}

/// The photo with its dark-or-light decision.
struct Bilevel<'a> {
    raw: &'a [u8],
    w: usize,
    h: usize,
    /// Threshold of each block (0 where nothing can be dark), `blocks_x` per row.
    threshold: Vec<u8>,
    blocks_x: usize,
}

impl<'a> Bilevel<'a> {
    fn new(image: &'a GrayImage) -> Self {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let raw = image.as_raw().as_slice();
        let (bx, by) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
        let mut sum = vec![0u32; bx * by];
        let mut lo = vec![u8::MAX; bx * by];
        let mut hi = vec![0u8; bx * by];
        // Down each column of a band of BLOCK rows first (element by element along the row,
        // which the compiler vectorises), then across each block's columns.
        let (mut column_sum, mut column_lo, mut column_hi) = (vec![0u16; w], vec![u8::MAX; w], vec![0u8; w]);
        for (j, band) in raw.chunks(w * BLOCK).enumerate() {
            column_sum.fill(0);
            column_lo.fill(u8::MAX);
            column_hi.fill(0);
            for row in band.chunks_exact(w) {
                for (((s, l), h), &p) in column_sum.iter_mut().zip(&mut column_lo).zip(&mut column_hi).zip(row) {
                    *s += u16::from(p);
                    *l = (*l).min(p);
                    *h = (*h).max(p);
                }
            }
            for (i, ((s, l), h)) in
                column_sum.chunks(BLOCK).zip(column_lo.chunks(BLOCK)).zip(column_hi.chunks(BLOCK)).enumerate()
            {
                let k = j * bx + i;
                sum[k] = s.iter().map(|&v| u32::from(v)).sum();
                lo[k] = l.iter().copied().min().unwrap_or(u8::MAX);
                hi[k] = h.iter().copied().max().unwrap_or(0);
            }
        }
        let mut threshold = vec![0u8; bx * by];
        for j in 0..by {
            for i in 0..bx {
                let (mut total, mut pixels, mut low, mut high) = (0u64, 0u64, u8::MAX, 0u8);
                for jj in j.saturating_sub(1)..(j + 2).min(by) {
                    for ii in i.saturating_sub(1)..(i + 2).min(bx) {
                        let k = jj * bx + ii;
                        total += u64::from(sum[k]);
                        let bw = (w - ii * BLOCK).min(BLOCK);
                        let bh = (h - jj * BLOCK).min(BLOCK);
                        pixels += (bw * bh) as u64;
                        low = low.min(lo[k]);
                        high = high.max(hi[k]);
                    }
                }
                if high - low >= MIN_RANGE {
                    threshold[j * bx + i] = (total / pixels) as u8;
                }
            }
        }
        Bilevel { raw, w, h, threshold, blocks_x: bx }
    }

    fn dark(&self, x: usize, y: usize) -> bool {
        self.raw[y * self.w + x] < self.threshold[(y / BLOCK) * self.blocks_x + x / BLOCK]
    }

    /// Runs of one colour along row `y`: (start, length, dark). `mask` is room for the row's
    /// dark-or-light bytes.
    fn row_runs(&self, y: usize, mask: &mut Vec<u8>, runs: &mut Vec<(usize, usize, bool)>) {
        runs.clear();
        let row = &self.raw[y * self.w..(y + 1) * self.w];
        let thresholds = &self.threshold[(y / BLOCK) * self.blocks_x..(y / BLOCK + 1) * self.blocks_x];
        // One byte a pixel, 1 for dark, and eight more repeating the last so that the scan
        // below can read a word past the end.
        mask.resize(self.w + 8, 0);
        for ((out, chunk), &t) in mask.chunks_mut(BLOCK).zip(row.chunks(BLOCK)).zip(thresholds) {
            for (m, &p) in out.iter_mut().zip(chunk) {
                *m = u8::from(p < t);
            }
        }
        let last = mask[self.w - 1];
        mask[self.w..].fill(last);
        // Where a byte differs from the next, eight bytes at a time: long runs (paper) cost
        // one comparison per eight pixels.
        let word = |i: usize| u64::from_le_bytes(mask[i..i + 8].try_into().unwrap_or([0; 8]));
        let mut start = 0;
        let mut i = 0;
        while i + 1 < self.w {
            let changes = word(i) ^ word(i + 1);
            if changes == 0 {
                i += 8;
                continue;
            }
            let at = i + (changes.trailing_zeros() / 8) as usize;
            if at + 1 >= self.w {
                break;
            }
            runs.push((start, at + 1 - start, mask[at] == 1));
            start = at + 1;
            i = at + 1;
        }
        runs.push((start, self.w - start, mask[start] == 1));
    }

    /// The five runs through `(x, y)` (which must be dark) along the step `(dx, dy)`, centre
    /// run first counted both ways, each run at most `limit` long: (runs, centre's offset
    /// along the line from `(x, y)`), or `None` where the line leaves the image or a run is
    /// longer.
    fn cut(&self, x: usize, y: usize, (dx, dy): (isize, isize), limit: usize) -> Option<([usize; 5], f32)> {
        let at = |k: isize| -> Option<bool> {
            let (px, py) = (x as isize + k * dx, y as isize + k * dy);
            if px < 0 || py < 0 || px as usize >= self.w || py as usize >= self.h {
                None
            } else {
                Some(self.dark(px as usize, py as usize))
            }
        };
        // From step `k` on, `direction` at a time: the centre (dark), light, dark, counted
        // into `slots`.
        let walk = |counts: &mut [usize; 5], mut k: isize, direction: isize, slots: [usize; 3]| -> Option<()> {
            for (slot, want) in slots.into_iter().zip([true, false, true]) {
                while at(k)? == want {
                    counts[slot] += 1;
                    if counts[slot] > limit {
                        return None;
                    }
                    k += direction;
                }
            }
            Some(())
        };
        let mut counts = [0usize; 5];
        walk(&mut counts, 0, -1, [2, 1, 0])?;
        let back_of_centre = -(counts[2] as isize) + 1;
        walk(&mut counts, 1, 1, [2, 3, 4])?;
        // counts[2] covers back_of_centre ..= back_of_centre + counts[2] − 1.
        let centre = back_of_centre as f32 + (counts[2] as f32 - 1.0) / 2.0;
        Some((counts, centre))
    }
}

/// Whether five runs are in a finder pattern's proportions, each within `slack` modules of
/// its share: the module they give, if so.
fn proportions(runs: [usize; 5], slack: f32) -> Option<f32> {
    let total: usize = runs.iter().sum();
    let module = total as f32 / 7.0;
    if !(MODULE_PX.0..=MODULE_PX.1).contains(&module) {
        return None;
    }
    let slack = slack * module;
    let ones = [runs[0], runs[1], runs[3], runs[4]].iter().all(|&r| (r as f32 - module).abs() < slack);
    (ones && (runs[2] as f32 - 3.0 * module).abs() < 3.0 * slack).then_some(module)
}

/// The finder patterns of `image`, most often cut first, at most [`MAX_PATTERNS`].
pub(crate) fn finder_patterns(image: &GrayImage) -> Vec<Pattern> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < 21 || h < 21 {
        return Vec::new();
    }
    let bilevel = Bilevel::new(image);
    let (mut mask, mut runs) = (Vec::new(), Vec::new());
    // (x, y, module, cuts) sums, merged as they come.
    let mut found: Vec<(f32, f32, f32, u32)> = Vec::new();
    for y in (0..h).step_by(ROW_STEP) {
        bilevel.row_runs(y, &mut mask, &mut runs);
        for window in runs.windows(5) {
            if !window[0].2 {
                continue;
            }
            let lengths = [window[0].1, window[1].1, window[2].1, window[3].1, window[4].1];
            // Within half a module, the centre run (over 1.5 modules) is longer than each of
            // the others (under 1.5): most windows end here.
            if lengths[2] <= lengths[0].max(lengths[1]).max(lengths[3]).max(lengths[4]) {
                continue;
            }
            let Some(module) = proportions(lengths, ROW_SLACK) else { continue };
            let limit = (module * 4.5).ceil() as usize;
            // The middle of the centre run, then the column through it, then the row
            // through the middle of that.
            let cx = window[2].0 + window[2].1 / 2;
            let Some((vertical, dy)) = bilevel.cut(cx, y, (0, 1), limit) else { continue };
            let Some(vertical_module) = proportions(vertical, CROSS_SLACK) else { continue };
            if (vertical_module / module - 1.0).abs() > 0.5 {
                continue;
            }
            let cy = (y as f32 + dy).round().clamp(0.0, (h - 1) as f32) as usize;
            if !bilevel.dark(cx, cy) {
                continue;
            }
            let Some((horizontal, dx)) = bilevel.cut(cx, cy, (1, 0), limit) else { continue };
            let Some(horizontal_module) = proportions(horizontal, CROSS_SLACK) else { continue };
            let (px, py) = (cx as f32 + dx + 0.5, y as f32 + dy + 0.5);
            let m = (vertical_module + horizontal_module) / 2.0;
            match found.iter_mut().find(|(sx, sy, sm, n)| {
                let n = *n as f32;
                let (fx, fy, fm) = (sx / n, sy / n, sm / n);
                (fx - px).hypot(fy - py) < 2.0 * fm.max(m) && (fm / m).max(m / fm) < 1.5
            }) {
                Some(sums) => {
                    sums.0 += px;
                    sums.1 += py;
                    sums.2 += m;
                    sums.3 += 1;
                }
                None => {
                    if found.len() < MAX_SHAPES {
                        found.push((px, py, m, 1));
                    }
                }
            }
        }
    }
    let mut patterns: Vec<Pattern> = found
        .into_iter()
        .filter(|&(_, _, _, n)| n >= 2)
        .map(|(x, y, m, n)| {
            let k = n as f32;
            Pattern { x: x / k, y: y / k, module: m / k, cuts: n }
        })
        .collect();
    patterns.sort_by_key(|p| std::cmp::Reverse(p.cuts));
    patterns.truncate(MAX_PATTERNS);
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finder pattern of `module` pixels centred at `(cx, cy)` drawn on `img`.
    fn draw_finder(img: &mut GrayImage, cx: i32, cy: i32, module: i32) {
        for y in -7 * module / 2..=7 * module / 2 {
            for x in -7 * module / 2..=7 * module / 2 {
                let ring = (x.abs().max(y.abs()) * 2 + module) / (2 * module);
                if ring > 3 {
                    continue;
                }
                let dark = ring != 2;
                let (px, py) = (cx + x, cy + y);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    img.put_pixel(px as u32, py as u32, image::Luma([if dark { 20 } else { 230 }]));
                }
            }
        }
    }

    #[test]
    fn finder_patterns_are_found_at_their_centres_and_text_is_not() {
        let mut img = GrayImage::from_pixel(400, 300, image::Luma([230]));
        draw_finder(&mut img, 100, 100, 4);
        draw_finder(&mut img, 300, 200, 6);
        // Strokes of text: dark bars of every width on a line, none in 1:1:3:1:1 both ways.
        for (i, x) in (20..380).step_by(9).enumerate() {
            for y in 250..262 {
                for dx in 0..(1 + i % 4) {
                    img.put_pixel(x + dx as u32, y, image::Luma([30]));
                }
            }
        }
        let found = finder_patterns(&img);
        assert_eq!(found.len(), 2, "{found:?}");
        let near = |x: f32, y: f32, m: f32| {
            found.iter().any(|p| (p.x - x).abs() < 1.5 && (p.y - y).abs() < 1.5 && (p.module - m).abs() < 0.6)
        };
        assert!(near(100.5, 100.5, 4.0) && near(300.5, 200.5, 6.0), "{found:?}");
        assert!(found.iter().all(|p| p.cuts >= 4), "{found:?}");
    }

    #[test]
    fn a_row_s_runs_are_its_pixels_colours() {
        // Every length of run from 1 to 40, at every alignment to the eight-byte words.
        let mut state = 7u32;
        let mut img = GrayImage::new(333, 3);
        for y in 0..3 {
            let mut x = 0;
            let mut dark = y == 1;
            while x < 333 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let len = 1 + (state >> 16) % 40;
                for _ in 0..len.min(333 - x) {
                    img.put_pixel(x, y, image::Luma([if dark { 10 } else { 240 }]));
                    x += 1;
                }
                dark = !dark;
            }
        }
        let bilevel = Bilevel::new(&img);
        let (mut mask, mut runs) = (Vec::new(), Vec::new());
        for y in 0..3 {
            bilevel.row_runs(y, &mut mask, &mut runs);
            let mut expected: Vec<(usize, usize, bool)> = Vec::new();
            for x in 0..333 {
                let dark = bilevel.dark(x, y);
                match expected.last_mut() {
                    Some(run) if run.2 == dark => run.1 += 1,
                    _ => expected.push((x, 1, dark)),
                }
            }
            assert!(expected.len() > 8, "{expected:?}");
            assert_eq!(runs, expected, "row {y}");
        }
    }

    #[test]
    fn an_image_tiled_with_finder_patterns_keeps_a_bounded_list() {
        // About 13,000 finder patterns of 2-pixel modules: every one is found and cut, but the
        // list of shapes stops growing, and the answer is the most often cut.
        let mut img = GrayImage::from_pixel(2048, 1536, image::Luma([230]));
        for cy in (9..1536).step_by(16) {
            for cx in (9..2048).step_by(16) {
                draw_finder(&mut img, cx, cy, 2);
            }
        }
        let started = std::time::Instant::now();
        let found = finder_patterns(&img);
        let took = started.elapsed();
        assert_eq!(found.len(), MAX_PATTERNS, "{took:?}");
        assert!(found.iter().all(|p| p.cuts >= 2 && (p.module - 2.0).abs() < 0.6), "{found:?}");
    }

    #[test]
    fn blank_and_tiny_images_have_none() {
        assert!(finder_patterns(&GrayImage::from_pixel(500, 500, image::Luma([200]))).is_empty());
        assert!(finder_patterns(&GrayImage::new(10, 3)).is_empty());
        assert!(finder_patterns(&GrayImage::new(0, 0)).is_empty());
    }
}
