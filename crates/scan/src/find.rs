//! Finding and reading the QR codes on one scanned page.
//!
//! The search is a pipeline, cheapest first, that stops as soon as the caller has enough:
//!
//! 1. [`Step::KnownAreas`]: crops of the places where codes are printed ([`FindOptions::areas`])
//!    with a margin for skew and misplacement, scaled so that a module has about seven pixels:
//!    first for 1 mm modules (reply codes), then for 0.5 mm modules (the seal).
//! 2. [`Step::RowScan`], only for a photo (the page's resolution not known, because a phone
//!    does not know how far away the page was, and the image not of a page's proportions):
//!    the whole image's rows are scanned for finder patterns' 1:1:3:1:1 runs (see `rows.rs`),
//!    and each triple of them that could be a symbol is sampled through its alignment
//!    patterns, the quick way (see `sample.rs`). It reads most photos in a few milliseconds.
//! 3. [`Step::WholeImage`], only when the page's resolution is not known: the whole image,
//!    reduced to at most [`WHOLE_IMAGE_PIXELS`], as rqrr reads it. rqrr thresholds locally
//!    (light falling off towards the corners) and fits the perspective of a tilted page from
//!    the finder and alignment patterns (an image of a page's proportions is a scan whose
//!    file gave no resolution, searched in this order).
//!
//!    A photo is searched in the order 2, 5, 6, 3, 1, 4, 7: the known places seldom mean
//!    anything in a photo, whose page is neither upright nor filling the frame.
//! 4. [`Step::KnownAreasTurned`]: the same places on the page turned by 180°, 90° or 270°
//!    (the places are mapped; the page is never rotated).
//! 5. [`Step::WholePage`]: the whole page, reduced: a sparse sample of it is mapped in 2 mm
//!    cells, and every square-ish cluster of cells about half dark (what a QR symbol looks
//!    like at any blur; text is lighter, scribbles darker) is decoded at both scales. A page
//!    with no such cluster (blank, text only) stops here.
//! 6. [`Step::Sampled`]: on symbols rqrr located but did not read, and on those clusters,
//!    this crate finds the finder patterns itself and samples the modules for each grid size
//!    the finder patterns allow; rqrr decodes the sampled grid (see `sample.rs`). This reads
//!    0.5 mm seal modules (three or four pixels at 150 dpi) under blur, where rqrr alone misses
//!    the finder patterns or misjudges the grid size.
//! 7. [`Step::Enlarged`], [`Step::Binarised`] (Otsu's global and Sauvola's adaptive
//!    threshold), [`Step::Filtered`] (3 × 3 median against speckle) and [`Step::Inverted`]
//!    (light code on dark), on those clusters, as the budget allows.
//!
//! Decoding is rqrr's: it needs about six pixels per module, misses inverted codes, and slows
//! down on large images with many finder-like shapes (text), which is why the known places come
//! first and whole pages are searched reduced. Every page has a time budget; an attempt that is
//! not expected to finish within what is left of it is not started.
//!
//! This module must never panic on any image: sizes are clamped, tiny crops are skipped, and
//! the third-party decoder is run under `catch_unwind`, so a decoder bug costs one attempt, not
//! the batch.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use image::GrayImage;

use crate::{AreaMm, sample};

/// How to search a page.
#[derive(Clone, Debug)]
pub struct FindOptions {
    /// Time allowed for the page; when it runs out the search stops with what it has.
    pub budget: Duration,
    /// Where codes are printed on an upright A4 page (reply codes, the seal), searched first.
    pub areas: Vec<AreaMm>,
    /// The page's resolution if the file said; otherwise it is taken from the page width
    /// (an A4 page is 210 mm wide).
    pub dpi: Option<f32>,
}

/// One pipeline step, for the record of how a code was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// The known areas, upright.
    KnownAreas,
    /// A photo: finder patterns found by scanning the whole image's rows for their
    /// proportions, modules sampled by this crate through the alignment patterns.
    RowScan,
    /// The whole image as it is (a photo: resolution unknown, the page in perspective).
    WholeImage,
    /// The known areas of the page turned by 90°, 180° or 270°.
    KnownAreasTurned,
    /// The whole page at reduced resolution.
    WholePage,
    /// Finder patterns found and modules sampled by this crate, rqrr decoding the grid
    /// (small modules under blur).
    Sampled,
    /// The whole page enlarged (small modules).
    Enlarged,
    /// Binarised (adaptive threshold).
    Binarised,
    /// Median-filtered (speckle noise).
    Filtered,
    /// Inverted (light code on dark).
    Inverted,
}

impl Step {
    /// Every step, in pipeline order.
    pub const ALL: [Step; 10] = [
        Step::KnownAreas,
        Step::RowScan,
        Step::WholeImage,
        Step::KnownAreasTurned,
        Step::WholePage,
        Step::Sampled,
        Step::Enlarged,
        Step::Binarised,
        Step::Filtered,
        Step::Inverted,
    ];

    /// The step's name in records and JSON (`known_areas`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::KnownAreas => "known_areas",
            Step::RowScan => "row_scan",
            Step::WholeImage => "whole_image",
            Step::KnownAreasTurned => "known_areas_turned",
            Step::WholePage => "whole_page",
            Step::Sampled => "sampled",
            Step::Enlarged => "enlarged",
            Step::Binarised => "binarised",
            Step::Filtered => "filtered",
            Step::Inverted => "inverted",
        }
    }
}

/// A code read from the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its text.
    pub text: String,
    /// The step that read it.
    pub step: Step,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// Its time.
    pub duration: Duration,
    /// Codes it read.
    pub codes: usize,
}

/// Everything the search of one page found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Distinct codes read, in the order found.
    pub codes: Vec<Found>,
    /// The steps run, in order.
    pub steps: Vec<StepRecord>,
    /// QR symbols located on the page (finder patterns and grid found) whose data could not be
    /// read: a page with a code printed on it that is too damaged, not a page without one.
    pub unreadable: usize,
    /// Clockwise quarter turns (0–3) that make the page upright, when a code showed it.
    pub quarter_turns: Option<u8>,
    /// The budget ran out before the pipeline finished.
    pub timed_out: bool,
    /// Time spent on the page.
    pub elapsed: Duration,
}

/// Width of an A4 page in millimetres (ISO 216).
const A4_WIDTH_MM: f32 = 210.0;
/// Height of an A4 page in millimetres (ISO 216).
const A4_HEIGHT_MM: f32 = 297.0;
/// Margin added on every side of a known area: a page skewed by 5° about its centre moves a
/// corner area by up to 13 mm, and scanners misplace the sheet by a few millimetres more.
const AREA_MARGIN_MM: f32 = 15.0;
/// Pixels per module the decoder is given: rqrr needs about six.
const MODULE_PX: f32 = 7.0;
/// Module of reply codes (1.0 mm; 0.8 mm at the smallest) and of the seal (about 0.5 mm; the
/// renderer refuses seals under 0.45 mm).
pub(crate) const COARSE_MODULE_MM: f32 = 1.0;
/// See [`COARSE_MODULE_MM`].
const FINE_MODULE_MM: f32 = 0.5;
/// Enlargement over the fine scale in [`Step::Enlarged`].
const ENLARGE: f32 = 1.6;
/// Scales (times the fine scale) at which a symbol located but not read is tried again.
const RETRY_SCALES: [f32; 5] = [0.8, 1.2, 1.45, 1.7, 2.0];
/// Symbols located but not read that are tried again at other scales, at most.
const MAX_RETRIED_SYMBOLS: usize = 3;
/// A scale this close to 1 is not worth resampling for.
const NATIVE_BAND: (f32, f32) = (0.85, 1.25);
/// Smallest crop worth handing to the decoder: a version 1 symbol at one pixel per module.
const MIN_SIDE_PX: u32 = 21;
/// Largest image handed to the decoder in one piece (pixels), whatever the budget.
const MAX_DECODE_PIXELS: u64 = 24_000_000;
/// Distance (mm) within which two located symbols are taken to be the same symbol.
const SAME_SYMBOL_MM: f32 = 12.0;
/// Largest image [`Step::WholeImage`] hands to the decoder, pixels: a phone photo as a
/// messaging app sends it (about 1500 × 2000), or a larger one reduced; reply codes and the
/// seal keep three pixels a module or more in a photo of the whole page.
pub const WHOLE_IMAGE_PIXELS: u64 = 3_200_000;
/// How far from √2 (A4's long side over its short side) an image's proportions may be for it
/// to be taken for a page filling the image. A phone's frame is 4:3 (1.33) or 16:9 (1.78).
const A4_PROPORTION_TOLERANCE: f32 = 0.03;
/// Sizes of the shorter side of a page, mm, within which a resolution the file gives is
/// believed (A5 to a little over A3).
const PLAUSIBLE_SHORT_SIDE_MM: (f32, f32) = (100.0, 320.0);
/// Resolutions that say nothing: what cameras and screens write whatever the distance (no
/// scanner offers them; their lowest settings are 75 and 100 dpi).
const PLACEHOLDER_DPI: [f32; 2] = [72.0, 96.0];
/// Decoder cost assumed before the first measurement, nanoseconds per pixel.
const INITIAL_NS_PER_PX: f64 = 12.0;

/// Searches `image` for QR codes. `enough` is asked after each step with the codes found so
/// far; when it says yes the search stops (a page needs one readable reply code, not both).
///
/// `enough` is also asked after any attempt within a step that read a new code, so that a
/// reply page stops after its first code.
pub fn find_codes(image: &GrayImage, options: &FindOptions, enough: &dyn Fn(&[Found]) -> bool) -> Findings {
    let started = Instant::now();
    let mut search = Search::new(image, options, enough, started);
    search.run();
    search.finish()
}

/// What is done to a crop before it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// rqrr's own threshold.
    Plain,
    /// Sauvola's adaptive threshold.
    Binarise,
    /// One threshold for the whole crop (Otsu's), for blurred symbols whose modules run together.
    Otsu,
    /// 3 × 3 median, then rqrr's threshold.
    Median,
    /// Dark and light swapped.
    Invert,
}

/// A rectangle of the image in pixels, clamped to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Rect {
    /// Pixels shared with `other`.
    fn overlap(&self, other: &Rect) -> u64 {
        let x = (self.x + self.width).min(other.x + other.width).saturating_sub(self.x.max(other.x));
        let y = (self.y + self.height).min(other.y + other.height).saturating_sub(self.y.max(other.y));
        u64::from(x) * u64::from(y)
    }
}

/// One decoding attempt: a rectangle of the page, a scale, a treatment.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    rect: Rect,
    scale: f32,
    treatment: Treatment,
    /// Quarter turns that make the page upright if a code is read here (known areas).
    turns: Option<u8>,
}

/// A symbol rqrr located: where (image pixels) and which way up.
#[derive(Clone, Debug)]
pub(crate) struct Located {
    pub(crate) centre: (f32, f32),
    /// The corners of its module grid as the symbol has them: top left, top right, bottom
    /// right, bottom left.
    pub(crate) corners: [(f32, f32); 4],
    /// Bounding box of the symbol's corners: left, top, right, bottom.
    bbox: (f32, f32, f32, f32),
    turns: u8,
    pub(crate) text: Option<String>,
}

struct Search<'a> {
    image: &'a GrayImage,
    options: &'a FindOptions,
    enough: &'a dyn Fn(&[Found]) -> bool,
    started: Instant,
    deadline: Instant,
    px_per_mm: f32,
    /// The page's resolution is not known (see [`Step::WholeImage`]).
    scale_unknown: bool,
    /// The resolution is not known and the image is not shaped like a page filling it: a
    /// photo, searched whole first, its finder patterns looked for over a wider range of sizes
    /// and its symbols sampled through their alignment patterns (see `sample.rs`).
    photo: bool,
    /// Orientations to try for the known areas, most plausible first.
    turns: Vec<u8>,
    findings: Findings,
    failed: Vec<(f32, f32)>,
    read_at: Vec<(f32, f32)>,
    turns_from_area: Option<u8>,
    ns_per_px: f64,
    done: bool,
    step_codes: usize,
    /// Regions whose ink looks like a QR symbol (see [`code_like_regions`]), found once.
    blobs: Option<Vec<Rect>>,
    /// Symbols located but not read, image pixels, to try again at other scales.
    failed_regions: Vec<Rect>,
    /// Crops decoded so far (rectangle, scale, treatment): the same crop decodes the same way,
    /// and on a page turned by 180° two known areas of one orientation are the other's.
    tried: Vec<(Rect, u32, Treatment)>,
}

impl<'a> Search<'a> {
    fn new(
        image: &'a GrayImage,
        options: &'a FindOptions,
        enough: &'a dyn Fn(&[Found]) -> bool,
        started: Instant,
    ) -> Self {
        let (w, h) = image.dimensions();
        let px_per_mm = px_per_mm(image, options.dpi);
        let scale_unknown = plausible_dpi(image, options.dpi).is_none();
        // An image of A4's proportions is taken for a page filling it (a scan whose file gave
        // no resolution).
        let (long, short) = (w.max(h) as f32, w.min(h).max(1) as f32);
        let page_shaped = (long / short - std::f32::consts::SQRT_2).abs() < A4_PROPORTION_TOLERANCE;
        // A portrait image is upright or upside down; a landscape one lies on its side.
        let turns = if (h as f32) > (w as f32) * 1.15 {
            vec![0, 2]
        } else if (w as f32) > (h as f32) * 1.15 {
            vec![1, 3]
        } else {
            vec![0, 2, 1, 3]
        };
        Search {
            image,
            options,
            enough,
            started,
            deadline: started.checked_add(options.budget).unwrap_or(started + Duration::from_secs(3600)),
            px_per_mm,
            scale_unknown,
            photo: scale_unknown && !page_shaped,
            turns,
            findings: Findings::default(),
            failed: Vec::new(),
            read_at: Vec::new(),
            turns_from_area: None,
            ns_per_px: INITIAL_NS_PER_PX,
            done: false,
            step_codes: 0,
            blobs: None,
            failed_regions: Vec::new(),
            tried: Vec::new(),
        }
    }

    fn run(&mut self) {
        let (w, h) = self.image.dimensions();
        if w < MIN_SIDE_PX || h < MIN_SIDE_PX {
            return;
        }
        let coarse = self.scale_for(COARSE_MODULE_MM);
        let fine = self.scale_for(FINE_MODULE_MM);
        let upright: Vec<u8> = self.turns.iter().copied().filter(|&t| t == 0).collect();
        let turned: Vec<u8> = self.turns.iter().copied().filter(|&t| t != 0).collect();

        let areas = |s: &Self, turns: &[u8], scales: &[f32], treatment: Treatment, gated: bool| -> Vec<Attempt> {
            let mut out = Vec::new();
            for &scale in dedup_scales(scales).iter() {
                for &t in turns {
                    for area in &s.options.areas {
                        let Some(rect) = s.area_rect(area, t) else { continue };
                        let overlap = s.blobs.as_deref().unwrap_or_default().iter().map(|b| b.overlap(&rect)).max();
                        if gated && overlap.unwrap_or(0) == 0 {
                            continue;
                        }
                        out.push((overlap.unwrap_or(0), Attempt { rect, scale, treatment, turns: Some(t) }));
                    }
                }
            }
            // Where the ink looks most like a symbol first (the seal before a reply-code place
            // that only touches it).
            if gated {
                out.sort_by_key(|(overlap, _)| std::cmp::Reverse(*overlap));
            }
            out.into_iter().map(|(_, a)| a).collect()
        };
        let blobs = |s: &Self, scales: &[f32], treatment: Treatment| -> Vec<Attempt> {
            let mut out = Vec::new();
            for &scale in dedup_scales(scales).iter() {
                for &rect in s.blobs.as_deref().unwrap_or_default() {
                    out.push(Attempt { rect, scale, treatment, turns: None });
                }
            }
            out
        };

        // A photo: its rows scanned for finder patterns, then the regions whose ink looks like
        // a symbol, then the whole image as rqrr reads it (after the row scan, it read no photo
        // of the corpora that the regions did not, and took a fifth of the time). The known
        // places are where codes are printed on an upright page filling the image, which a
        // photo's page seldom is: they come after (tried first, they read 3 of 300 codes and
        // took a quarter of the time).
        let mut order = Step::ALL.to_vec();
        if self.photo {
            let first = [Step::RowScan, Step::WholePage, Step::Sampled, Step::WholeImage];
            let known = [Step::KnownAreas, Step::KnownAreasTurned];
            order.retain(|s| !first.contains(s) && !known.contains(s));
            order.splice(0..0, first.into_iter().chain(known));
        }
        // The steps are planned one at a time: later ones depend on what the page's ink looks
        // like, which is only measured when the cheap steps found nothing.
        for step in order {
            if self.done {
                break;
            }
            if !matches!(step, Step::KnownAreas | Step::KnownAreasTurned | Step::WholeImage | Step::RowScan) {
                self.make_ink_map();
            }
            let attempts = match step {
                // Coarse everywhere (cheap), then, if that was not enough, fine only where the
                // ink looks like a symbol (the ink map is made only then: a reply page read at
                // its first place does without it).
                Step::KnownAreas | Step::KnownAreasTurned => {
                    let turns = if step == Step::KnownAreas { &upright } else { &turned };
                    let step_started = Instant::now();
                    self.step_codes = 0;
                    let coarse_attempts = areas(self, turns, &[coarse], Treatment::Plain, false);
                    let mut any = !coarse_attempts.is_empty();
                    self.run_attempts(step, coarse_attempts);
                    if !self.done && dedup_scales(&[coarse, fine]).len() > 1 {
                        self.make_ink_map();
                        let fine_attempts = areas(self, turns, &[fine], Treatment::Plain, true);
                        any |= !fine_attempts.is_empty();
                        self.run_attempts(step, fine_attempts);
                    }
                    if any {
                        self.end_step(step, step_started);
                    }
                    continue;
                }
                Step::WholeImage if self.scale_unknown => {
                    let (w, h) = self.image.dimensions();
                    let scale = (WHOLE_IMAGE_PIXELS as f32 / (w as f32 * h as f32)).sqrt().min(1.0);
                    let rect = Rect { x: 0, y: 0, width: w, height: h };
                    vec![Attempt { rect, scale, treatment: Treatment::Plain, turns: None }]
                }
                Step::WholeImage => continue,
                Step::RowScan => {
                    if self.photo {
                        self.run_row_scan();
                    }
                    continue;
                }
                Step::WholePage => blobs(self, &[coarse, fine], Treatment::Plain),
                Step::Sampled => {
                    self.run_sampled();
                    continue;
                }
                Step::Enlarged => {
                    let mut a = Vec::new();
                    for &rect in &self.failed_regions {
                        for factor in RETRY_SCALES {
                            for treatment in [Treatment::Plain, Treatment::Otsu] {
                                a.push(Attempt { rect, scale: fine * factor, treatment, turns: None });
                            }
                        }
                    }
                    a.extend(blobs(self, &[fine * ENLARGE], Treatment::Plain));
                    a
                }
                Step::Binarised => {
                    let mut a = blobs(self, &[coarse, fine, fine * ENLARGE], Treatment::Otsu);
                    a.extend(blobs(self, &[coarse, fine, fine * ENLARGE], Treatment::Binarise));
                    a
                }
                Step::Filtered => blobs(self, &[coarse, fine], Treatment::Median),
                Step::Inverted => blobs(self, &[coarse, fine], Treatment::Invert),
            };
            self.run_step(step, attempts);
        }
    }

    fn run_step(&mut self, step: Step, attempts: Vec<Attempt>) {
        if self.done || attempts.is_empty() {
            return;
        }
        let step_started = Instant::now();
        self.step_codes = 0;
        self.run_attempts(step, attempts);
        self.end_step(step, step_started);
    }

    /// Maps where the page's ink looks like a symbol ([`code_like_regions`]), once.
    fn make_ink_map(&mut self) {
        if self.blobs.is_none() {
            self.blobs = Some(code_like_regions(self.image, self.px_per_mm));
        }
    }

    /// Makes `attempts` for `step` in order until the caller has enough or the budget is out.
    fn run_attempts(&mut self, step: Step, attempts: Vec<Attempt>) {
        for attempt in attempts {
            if self.done {
                break;
            }
            let crop = (attempt.rect, attempt.scale.to_bits(), attempt.treatment);
            if self.tried.contains(&crop) {
                continue;
            }
            self.tried.push(crop);
            if !self.fits_budget(&attempt) {
                self.findings.timed_out = true;
                self.done = true;
                break;
            }
            self.attempt(step, &attempt);
        }
    }

    /// Records the end of `step`, begun at `started`, and stops the search if the caller has
    /// enough.
    fn end_step(&mut self, step: Step, started: Instant) {
        self.findings.steps.push(StepRecord { step, duration: started.elapsed(), codes: self.step_codes });
        if !self.done && (self.enough)(&self.findings.codes) {
            self.done = true;
        }
    }

    /// Records `text` read by `step` at `centre` (image pixels) from a symbol saying that
    /// `turns` clockwise quarter turns make the page upright; whether the code is new.
    fn record_read(&mut self, step: Step, text: String, centre: (f32, f32), turns: u8) -> bool {
        self.read_at.push(centre);
        if self.findings.quarter_turns.is_none() {
            self.findings.quarter_turns = Some(turns);
        }
        if self.findings.codes.iter().any(|f| f.text == text) {
            return false;
        }
        self.findings.codes.push(Found { text, step });
        self.step_codes += 1;
        true
    }

    /// [`Step::RowScan`]: the photo's finder patterns from its rows, and the symbols they make
    /// read. Symbols not read are left to the steps after (which locate them again, and count
    /// them as unreadable if nothing reads them).
    fn run_row_scan(&mut self) {
        let step_started = Instant::now();
        self.step_codes = 0;
        let (image, deadline) = (self.image, self.deadline);
        let symbols = catch_unwind(AssertUnwindSafe(|| {
            let patterns = crate::rows::finder_patterns(image);
            sample::read_patterns(image, &patterns, deadline)
        }))
        .unwrap_or_default();
        let mut new_codes = false;
        for symbol in symbols {
            if let Some(text) = symbol.text {
                let (dx, dy) = symbol.top_edge;
                let turns = turns_from_axis(dx.round() as i32, dy.round() as i32);
                new_codes |= self.record_read(Step::RowScan, text, symbol.centre, turns);
            }
        }
        if new_codes && (self.enough)(&self.findings.codes) {
            self.done = true;
        }
        self.end_step(Step::RowScan, step_started);
    }

    /// [`Step::Sampled`] on the symbols rqrr located but did not read, then on every region
    /// whose ink looks like a symbol.
    fn run_sampled(&mut self) {
        let mut regions: Vec<Rect> = self.failed_regions.clone();
        for &blob in self.blobs.as_deref().unwrap_or_default() {
            let size = u64::from(blob.width) * u64::from(blob.height);
            if !regions.iter().any(|r| r.overlap(&blob) * 10 >= size * 7) {
                regions.push(blob);
            }
        }
        if regions.is_empty() {
            return;
        }
        let step_started = Instant::now();
        self.step_codes = 0;
        for rect in regions {
            if self.done {
                break;
            }
            // Box sums over seven module sizes, about 40 ns a pixel, and some decoding.
            let expected = Duration::from_nanos(u64::from(rect.width) * u64::from(rect.height) * 40);
            if Instant::now() + expected > self.deadline {
                self.findings.timed_out = true;
                self.done = true;
                break;
            }
            let (image, px_per_mm, photo, deadline) = (self.image, self.px_per_mm, self.photo, self.deadline);
            let symbols = catch_unwind(AssertUnwindSafe(|| {
                sample::read_region(image, (rect.x, rect.y, rect.width, rect.height), px_per_mm, photo, deadline)
            }))
            .unwrap_or_default();
            let mut new_codes = false;
            for symbol in symbols {
                match symbol.text {
                    Some(text) => {
                        let (dx, dy) = symbol.top_edge;
                        let turns = turns_from_axis(dx.round() as i32, dy.round() as i32);
                        new_codes |= self.record_read(Step::Sampled, text, symbol.centre, turns);
                    }
                    None => self.failed.push(symbol.centre),
                }
            }
            if new_codes && (self.enough)(&self.findings.codes) {
                self.done = true;
            }
        }
        self.end_step(Step::Sampled, step_started);
    }

    fn finish(mut self) -> Findings {
        self.findings.unreadable = self.count_unreadable();
        if self.findings.codes.is_empty() && self.findings.unreadable == 0 && self.symbol_where_codes_are_printed() {
            // Ink covering a place where the layout prints a code, and nothing read: a code too
            // damaged even to locate. The page must not pass for one without a code (which
            // would follow the page before it onto another letter).
            self.findings.unreadable = 1;
        }
        if self.findings.quarter_turns.is_none() {
            self.findings.quarter_turns = self.turns_from_area;
        }
        self.findings.elapsed = self.started.elapsed();
        self.findings
    }

    /// Whether ink covers a place where codes are printed (a code blurred past locating, or
    /// scribbled or stamped over), in any of the page's plausible orientations. Symbols whose
    /// finder patterns were found are counted already (rqrr's and [`Step::Sampled`]'s).
    fn symbol_where_codes_are_printed(&self) -> bool {
        let (w, h) = self.image.dimensions();
        if w < MIN_SIDE_PX || h < MIN_SIDE_PX {
            return false;
        }
        let margin = (AREA_MARGIN_MM * self.px_per_mm) as u32;
        let covered = |rect: Rect| {
            // The area itself, without the margin the search adds around it.
            let (x0, y0) = (rect.x + margin.min(rect.width / 3), rect.y + margin.min(rect.height / 3));
            let (x1, y1) =
                (rect.x + rect.width - margin.min(rect.width / 3), rect.y + rect.height - margin.min(rect.height / 3));
            // Ink against this page's own paper: grey or yellowed paper, noise and blur move
            // both levels.
            let mut histogram = [0u64; 256];
            for y in (y0..y1).step_by(2) {
                for x in (x0..x1).step_by(2) {
                    histogram[usize::from(self.image.get_pixel(x, y).0[0])] += 1;
                }
            }
            let seen: u64 = histogram.iter().sum();
            let mut below = 0;
            let paper = histogram
                .iter()
                .position(|&n| {
                    below += n;
                    below * 10 >= seen * 9
                })
                .unwrap_or(255);
            let ink = paper.saturating_sub(COVERED_CONTRAST);
            let dark: u64 = histogram[..ink].iter().sum();
            seen > 0 && dark * 100 >= seen * COVERED_PERCENT
        };
        self.turns.iter().any(|&t| self.options.areas.iter().filter_map(|area| self.area_rect(area, t)).any(covered))
    }

    /// See [`scale_for`].
    fn scale_for(&self, module_mm: f32) -> f32 {
        scale_for(self.px_per_mm, module_mm)
    }

    /// See [`area_rect`].
    fn area_rect(&self, area: &AreaMm, turns: u8) -> Option<Rect> {
        area_rect(self.image, self.px_per_mm, area, turns)
    }

    fn out_pixels(attempt: &Attempt) -> u64 {
        let w = (attempt.rect.width as f32 * attempt.scale).round().max(0.0) as u64;
        let h = (attempt.rect.height as f32 * attempt.scale).round().max(0.0) as u64;
        w * h
    }

    fn fits_budget(&self, attempt: &Attempt) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let extra = match attempt.treatment {
            Treatment::Plain => 1.0,
            Treatment::Invert => 1.1,
            Treatment::Binarise => 1.6,
            Treatment::Otsu => 1.1,
            Treatment::Median => 2.5,
        };
        let expected = Duration::from_nanos((Self::out_pixels(attempt) as f64 * self.ns_per_px * extra) as u64);
        now + expected <= self.deadline
    }

    fn attempt(&mut self, step: Step, attempt: &Attempt) {
        let pixels = Self::out_pixels(attempt);
        if pixels < u64::from(MIN_SIDE_PX * MIN_SIDE_PX) || pixels > MAX_DECODE_PIXELS {
            return;
        }
        let began = Instant::now();
        let crop = resample(self.image, attempt.rect, attempt.scale);
        let located = catch_unwind(AssertUnwindSafe(|| decode(crop, attempt.treatment))).unwrap_or_default();
        let spent = began.elapsed().as_nanos() as f64 / pixels.max(1) as f64;
        // Keep a running estimate of the decoder's cost, for the budget.
        self.ns_per_px = 0.7 * self.ns_per_px + 0.3 * spent.clamp(1.0, 1000.0);

        let mut new_codes = false;
        for symbol in located {
            // Back to image pixels.
            let centre = (
                attempt.rect.x as f32 + symbol.centre.0 / attempt.scale,
                attempt.rect.y as f32 + symbol.centre.1 / attempt.scale,
            );
            match symbol.text {
                Some(text) => {
                    if self.turns_from_area.is_none() {
                        self.turns_from_area = attempt.turns;
                    }
                    new_codes |= self.record_read(step, text, centre, symbol.turns);
                }
                None => {
                    self.failed.push(centre);
                    // The symbol's place, for other scales later: rqrr often misjudges a
                    // blurred symbol's size, and a different resampling corrects it.
                    let (l, t, r, b) = symbol.bbox;
                    let margin = 3.0 * self.px_per_mm;
                    let (iw, ih) = (self.image.width() as f32, self.image.height() as f32);
                    let x0 = (attempt.rect.x as f32 + l / attempt.scale - margin).clamp(0.0, iw);
                    let y0 = (attempt.rect.y as f32 + t / attempt.scale - margin).clamp(0.0, ih);
                    let x1 = (attempt.rect.x as f32 + r / attempt.scale + margin).clamp(0.0, iw);
                    let y1 = (attempt.rect.y as f32 + b / attempt.scale + margin).clamp(0.0, ih);
                    let rect = Rect { x: x0 as u32, y: y0 as u32, width: (x1 - x0) as u32, height: (y1 - y0) as u32 };
                    let known = self
                        .failed_regions
                        .iter()
                        .any(|f| f.overlap(&rect) * 2 > u64::from(rect.width) * u64::from(rect.height));
                    if !known
                        && self.failed_regions.len() < MAX_RETRIED_SYMBOLS
                        && rect.width >= MIN_SIDE_PX
                        && rect.height >= MIN_SIDE_PX
                    {
                        self.failed_regions.push(rect);
                    }
                }
            }
        }
        if new_codes && (self.enough)(&self.findings.codes) {
            self.done = true;
        }
    }

    /// Distinct symbols located but never read: failures far from any symbol read, counted once
    /// per place.
    fn count_unreadable(&self) -> usize {
        let near = self.px_per_mm * SAME_SYMBOL_MM;
        let close = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1) < near;
        let mut places: Vec<(f32, f32)> = Vec::new();
        for &f in &self.failed {
            if self.read_at.iter().any(|&r| close(r, f)) || places.iter().any(|&p| close(p, f)) {
                continue;
            }
            places.push(f);
        }
        places.len()
    }
}

/// How much darker than the paper (its 90th percentile) a pixel must be to count as ink when
/// checking whether something covers a place where a code is printed.
const COVERED_CONTRAST: usize = 50;
/// Share of ink, percent, over which a place where a code is printed counts as covered (a code
/// is about a third of its area with the quiet zone; text a tenth).
const COVERED_PERCENT: u64 = 25;

/// Side of a cell of the ink map, mm: two to four modules of the codes we print.
const CELL_MM: f32 = 2.0;
/// Share of dark pixels in a cell of a QR symbol: about half, whatever the blur; text has less,
/// solid black (scribbles, photos) more.
const DENSE_CELL: (f32, f32) = (0.25, 0.85);
/// Smallest side of a symbol-like region, mm.
const MIN_REGION_MM: f32 = 10.0;
/// Largest side of a symbol-like region, mm: larger is a picture, not a code.
const MAX_REGION_MM: f32 = 120.0;
/// Margin added around a symbol-like region, mm.
const REGION_MARGIN_MM: f32 = 4.0;

/// Regions of the page whose ink looks like a QR symbol: square-ish clusters of cells about
/// half dark, from a sparse sample of the page (a few milliseconds at 300 dpi). A page with no
/// such region (blank, text only) is not searched beyond the known areas.
fn code_like_regions(image: &GrayImage, px_per_mm: f32) -> Vec<Rect> {
    let (w, h) = image.dimensions();
    let cell = (CELL_MM * px_per_mm).round().max(2.0) as u32;
    let step = (cell / 6).max(1) as usize;
    let raw = image.as_raw();
    let (wu, hu) = (w as usize, h as usize);
    // Paper and ink levels from a sample.
    let mut histogram = [0u32; 256];
    for y in (0..hu).step_by(step * 2) {
        for x in (0..wu).step_by(step * 2) {
            histogram[raw[y * wu + x] as usize] += 1;
        }
    }
    let total: u32 = histogram.iter().sum();
    if total == 0 {
        return Vec::new();
    }
    let level = |share: f32| -> u8 {
        let target = (total as f32 * share) as u32;
        let mut seen = 0;
        for (v, &n) in histogram.iter().enumerate() {
            seen += n;
            if seen > target {
                return v as u8;
            }
        }
        255
    };
    let (ink, paper) = (level(0.01), level(0.90));
    if paper.saturating_sub(ink) < 40 {
        return Vec::new();
    }
    let threshold = ((u16::from(ink) + u16::from(paper)) / 2) as u8;
    let (cw, ch) = (w.div_ceil(cell) as usize, h.div_ceil(cell) as usize);
    let mut dark = vec![0u32; cw * ch];
    let mut seen = vec![0u32; cw * ch];
    let cell = cell as usize;
    for y in (0..hu).step_by(step) {
        let row = &raw[y * wu..(y + 1) * wu];
        let base = (y / cell) * cw;
        for x in (0..wu).step_by(step) {
            let i = base + x / cell;
            seen[i] += 1;
            dark[i] += u32::from(row[x] < threshold);
        }
    }
    let dense: Vec<bool> = dark
        .iter()
        .zip(&seen)
        .map(|(&d, &n)| {
            let f = d as f32 / n.max(1) as f32;
            n > 0 && (DENSE_CELL.0..=DENSE_CELL.1).contains(&f)
        })
        .collect();
    // Clusters of dense cells (8-connected).
    let mut label = vec![false; dense.len()];
    let mut regions = Vec::new();
    let (min_cells, max_cells) = ((MIN_REGION_MM / CELL_MM) as usize, (MAX_REGION_MM / CELL_MM) as usize);
    for start in 0..dense.len() {
        if !dense[start] || label[start] {
            continue;
        }
        let mut stack = vec![start];
        label[start] = true;
        let (mut x0, mut y0, mut x1, mut y1, mut count) = (usize::MAX, usize::MAX, 0, 0, 0usize);
        while let Some(i) = stack.pop() {
            let (cx, cy) = (i % cw, i / cw);
            (x0, y0, x1, y1) = (x0.min(cx), y0.min(cy), x1.max(cx), y1.max(cy));
            count += 1;
            for (dx, dy) in [(-1i64, -1i64), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (nx, ny) = (cx as i64 + dx, cy as i64 + dy);
                if nx < 0 || ny < 0 || nx >= cw as i64 || ny >= ch as i64 {
                    continue;
                }
                let j = ny as usize * cw + nx as usize;
                if dense[j] && !label[j] {
                    label[j] = true;
                    stack.push(j);
                }
            }
        }
        let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
        let fill = count as f32 / (bw * bh) as f32;
        if bw < min_cells || bh < min_cells || bw > max_cells || bh > max_cells || fill < 0.4 {
            continue;
        }
        if bw.max(bh) as f32 / bw.min(bh) as f32 > 2.0 {
            continue;
        }
        let margin = REGION_MARGIN_MM * px_per_mm;
        let fx0 = (x0 * cell) as f32 - margin;
        let fy0 = (y0 * cell) as f32 - margin;
        let fx1 = ((x1 + 1) * cell) as f32 + margin;
        let fy1 = ((y1 + 1) * cell) as f32 + margin;
        let (fx0, fy0) = (fx0.clamp(0.0, w as f32), fy0.clamp(0.0, h as f32));
        let (fx1, fy1) = (fx1.clamp(0.0, w as f32), fy1.clamp(0.0, h as f32));
        regions.push(Rect { x: fx0 as u32, y: fy0 as u32, width: (fx1 - fx0) as u32, height: (fy1 - fy0) as u32 });
    }
    regions
}

fn dedup_scales(scales: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::new();
    for &s in scales {
        if !out.iter().any(|&o| (o - s).abs() < 0.05 * o.max(s)) {
            out.push(s);
        }
    }
    out
}

/// Pixels per mm of a scanned A4 page: from `dpi` when the file gave a plausible one (see
/// [`plausible_dpi`]), otherwise from the page's shorter side (210 mm).
pub(crate) fn px_per_mm(image: &GrayImage, dpi: Option<f32>) -> f32 {
    let (w, h) = image.dimensions();
    match plausible_dpi(image, dpi) {
        Some(dpi) => dpi / 25.4,
        None => (w.min(h).max(1) as f32 / A4_WIDTH_MM).max(0.05),
    }
}

/// `dpi` if it is a scanner's: not a camera's placeholder ([`PLACEHOLDER_DPI`]), and making
/// `image` a page between A5 and A3 ([`PLAUSIBLE_SHORT_SIDE_MM`]).
fn plausible_dpi(image: &GrayImage, dpi: Option<f32>) -> Option<f32> {
    let dpi = dpi.filter(|d| (10.0..=4800.0).contains(d) && !PLACEHOLDER_DPI.contains(d))?;
    let short_mm = image.width().min(image.height()) as f32 / dpi * 25.4;
    (PLAUSIBLE_SHORT_SIDE_MM.0..=PLAUSIBLE_SHORT_SIDE_MM.1).contains(&short_mm).then_some(dpi)
}

/// The scale that gives a module of `module_mm` about [`MODULE_PX`] pixels on a page of
/// `px_per_mm`, or 1 when the page is close enough to that already.
pub(crate) fn scale_for(px_per_mm: f32, module_mm: f32) -> f32 {
    let scale = MODULE_PX / (module_mm * px_per_mm);
    if scale > NATIVE_BAND.0 && scale < NATIVE_BAND.1 { 1.0 } else { scale.clamp(0.05, 8.0) }
}

/// Where `area` of the upright page lies in `image` (of `px_per_mm`) when `turns` clockwise
/// quarter turns make the image upright, widened by [`AREA_MARGIN_MM`] for skew and
/// misplacement and clamped to the image.
pub(crate) fn area_rect(image: &GrayImage, px_per_mm: f32, area: &AreaMm, turns: u8) -> Option<Rect> {
    let (pw, ph) = (A4_WIDTH_MM, A4_HEIGHT_MM);
    let AreaMm { x, y, width: w, height: h } = *area;
    if ![x, y, w, h].iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
        return None;
    }
    // The image is the upright page turned counter-clockwise by `turns` quarter turns.
    let (ix, iy, iw, ih) = match turns % 4 {
        0 => (x, y, w, h),
        1 => (y, pw - x - w, h, w),
        2 => (pw - x - w, ph - y - h, w, h),
        _ => (ph - y - h, x, h, w),
    };
    let m = AREA_MARGIN_MM;
    let k = px_per_mm;
    let (img_w, img_h) = (image.width() as f32, image.height() as f32);
    let x0 = ((ix - m) * k).clamp(0.0, img_w);
    let y0 = ((iy - m) * k).clamp(0.0, img_h);
    let x1 = ((ix + iw + m) * k).clamp(0.0, img_w);
    let y1 = ((iy + ih + m) * k).clamp(0.0, img_h);
    let rect = Rect { x: x0 as u32, y: y0 as u32, width: (x1 - x0) as u32, height: (y1 - y0) as u32 };
    (rect.width >= MIN_SIDE_PX && rect.height >= MIN_SIDE_PX).then_some(rect)
}

/// Runs rqrr on `crop` after `treatment`; every symbol located, read or not.
pub(crate) fn decode(mut crop: GrayImage, treatment: Treatment) -> Vec<Located> {
    let (w, h) = crop.dimensions();
    if w < MIN_SIDE_PX || h < MIN_SIDE_PX {
        return Vec::new();
    }
    let crop = match treatment {
        Treatment::Plain => crop,
        Treatment::Invert => {
            image::imageops::invert(&mut crop);
            crop
        }
        Treatment::Median => median3(&crop),
        // A bilevel image goes through rqrr's own threshold unchanged.
        Treatment::Binarise => sauvola(&crop),
        Treatment::Otsu => otsu(crop),
    };
    let (w, h) = (w as usize, h as usize);
    let raw = crop.as_raw();
    let mut prepared = match threshold(w, h, raw) {
        Some(black) => rqrr::PreparedImage::prepare_from_dark_pixels(w, h, black),
        None => rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| raw[y * w + x]),
    };
    prepared
        .detect_grids()
        .into_iter()
        .map(|grid| {
            let [tl, tr, br, bl] = grid.bounds;
            let centre = ((tl.x + tr.x + br.x + bl.x) as f32 / 4.0, (tl.y + tr.y + br.y + bl.y) as f32 / 4.0);
            let xs = [tl.x, tr.x, br.x, bl.x];
            let ys = [tl.y, tr.y, br.y, bl.y];
            let bbox = (
                xs.iter().copied().min().unwrap_or(0) as f32,
                ys.iter().copied().min().unwrap_or(0) as f32,
                xs.iter().copied().max().unwrap_or(0) as f32,
                ys.iter().copied().max().unwrap_or(0) as f32,
            );
            let text = grid.decode().ok().map(|(_, text)| text);
            let corners = [tl, tr, br, bl].map(|p| (p.x as f32, p.y as f32));
            Located { centre, corners, bbox, turns: turns_from_axis(tr.x - tl.x, tr.y - tl.y), text }
        })
        .collect()
}

/// Which pixels of `raw` (`w` × `h` grey levels) are dark, decided as rqrr's own
/// `prepare_from_greyscale` decides, pixel for pixel, but without its three integer divisions a
/// pixel (most of the time rqrr spent on a crop): each divisor is fixed for the crop, so the
/// moving averages' quotients are taken by multiplying with its reciprocal ([`Divisor`]), and
/// the threshold's quotient is not taken at all (an equivalent comparison). `None` for a crop
/// over 600,000 pixels wide, which is left to rqrr.
fn threshold(w: usize, h: usize, raw: &[u8]) -> Option<Vec<bool>> {
    // rqrr's moving average over an eighth of the row, run both ways along it.
    let s = (w / 8).max(1) as u64;
    // The largest numbers compared are 256 · 200·s, and 95 times the sum of two averages,
    // which stay below 255·s (95 · 2 · 255 is less than 256 · 200).
    if 256 * 200 * s >= 1 << 32 || raw.len() != w * h {
        return None;
    }
    let keep = Divisor::new(s);
    let unit = 200 * s as u32;
    let mut black = vec![false; w * h];
    let mut row_average = vec![0u32; w];
    let (mut avg_v, mut avg_u) = (0u64, 0u64);
    for (y, (row, out)) in raw.chunks_exact(w).zip(black.chunks_exact_mut(w)).enumerate() {
        row_average.fill(0);
        for x in 0..w {
            let (v, u) = if y % 2 == 0 { (w - 1 - x, x) } else { (x, w - 1 - x) };
            // rqrr's ⌊avg·(s − 1) / s⌋ is avg − ⌈avg / s⌉: one multiplication fewer on the
            // chain from one pixel's average to the next.
            avg_v = avg_v - keep.quotient(avg_v + s - 1) + u64::from(row[v]);
            avg_u = avg_u - keep.quotient(avg_u + s - 1) + u64::from(row[u]);
            row_average[v] += avg_v as u32;
            row_average[u] += avg_u as u32;
        }
        // level < ⌊average·95 / (200·s)⌋ exactly when (level + 1)·200·s ≤ average·95: no
        // division, and 32-bit numbers (the bound above) that the compiler vectorises.
        for ((dark, &level), &average) in out.iter_mut().zip(row).zip(&row_average) {
            *dark = (u32::from(level) + 1) * unit <= average * 95;
        }
    }
    Some(black)
}

/// Division of numbers below 2³² by a fixed divisor below 2³², exact, by a multiplication
/// (Lemire, Kaser and Kurz, "Faster remainder by direct computation", 2019: with
/// `m = ⌈2⁶⁴ / d⌉`, `⌊n·m / 2⁶⁴⌋ = ⌊n / d⌋` for every 32-bit `n`).
#[derive(Clone, Copy, Debug)]
struct Divisor {
    d: u64,
    /// ⌈2⁶⁴ / d⌉, for d ≥ 2 (for d = 1 it would be 2⁶⁴ itself, and the quotient is n).
    m: u64,
}

impl Divisor {
    fn new(d: u64) -> Divisor {
        debug_assert!((1..1 << 32).contains(&d));
        Divisor { d, m: if d == 1 { 0 } else { u64::MAX / d + 1 } }
    }

    /// `n / d`, for `n` below 2³².
    fn quotient(self, n: u64) -> u64 {
        debug_assert!(n < 1 << 32, "{n} over {}", self.d);
        if self.d == 1 { n } else { ((u128::from(n) * u128::from(self.m)) >> 64) as u64 }
    }
}

/// Clockwise quarter turns that make a page upright, from the direction of a symbol's top
/// edge (left to right as printed) in the image: codes are printed upright.
fn turns_from_axis(dx: i32, dy: i32) -> u8 {
    if dx.abs() >= dy.abs() {
        if dx >= 0 { 0 } else { 2 }
    } else if dy > 0 {
        // The symbol's top edge runs down the image: the page lies turned a quarter clockwise.
        3
    } else {
        1
    }
}

/// `rect` of `image` scaled by `scale`: area average when reducing by two or more, bilinear
/// otherwise, a plain copy at scale 1. The reductions read the page where it lies: the crop is
/// not copied out first.
pub(crate) fn resample(image: &GrayImage, rect: Rect, scale: f32) -> GrayImage {
    let view = View::of(image, rect);
    if scale == 1.0 {
        return view.to_image();
    }
    if scale <= 0.5 {
        let k = (1.0 / scale).floor().max(1.0) as u32;
        let reduced = box_reduce_view(view, k);
        let scale = scale * k as f32;
        if (scale - 1.0).abs() < 0.02 {
            return reduced;
        }
        return bilinear(View::whole(&reduced), scale);
    }
    if (scale - 1.0).abs() < 0.02 {
        return view.to_image();
    }
    bilinear(view, scale)
}

/// A rectangle of a grey image, read in place.
#[derive(Clone, Copy)]
struct View<'a> {
    raw: &'a [u8],
    stride: usize,
    x: usize,
    y: usize,
    w: u32,
    h: u32,
}

impl<'a> View<'a> {
    /// `rect` of `image`, clamped to the image as `crop_imm` clamps it.
    fn of(image: &'a GrayImage, rect: Rect) -> View<'a> {
        let (iw, ih) = image.dimensions();
        let x = rect.x.min(iw);
        let y = rect.y.min(ih);
        View {
            raw: image.as_raw(),
            stride: iw as usize,
            x: x as usize,
            y: y as usize,
            w: rect.width.min(iw - x),
            h: rect.height.min(ih - y),
        }
    }

    /// The whole of `image`.
    fn whole(image: &'a GrayImage) -> View<'a> {
        View::of(image, Rect { x: 0, y: 0, width: image.width(), height: image.height() })
    }

    /// Row `y` of the view.
    fn row(&self, y: usize) -> &'a [u8] {
        let start = (self.y + y) * self.stride + self.x;
        &self.raw[start..start + self.w as usize]
    }

    fn to_image(self) -> GrayImage {
        let mut out = Vec::with_capacity(self.w as usize * self.h as usize);
        for y in 0..self.h as usize {
            out.extend_from_slice(self.row(y));
        }
        GrayImage::from_raw(self.w, self.h, out).expect("the buffer has w × h pixels")
    }
}

/// Averages `k` × `k` blocks.
pub(crate) fn box_reduce(src: &GrayImage, k: u32) -> GrayImage {
    box_reduce_view(View::whole(src), k)
}

fn box_reduce_view(src: View, k: u32) -> GrayImage {
    let (w, h) = (src.w, src.h);
    let (ow, oh) = ((w / k).max(1), (h / k).max(1));
    let mut sums = vec![0u32; ow as usize];
    let mut out = Vec::with_capacity((ow * oh) as usize);
    for oy in 0..oh {
        sums.fill(0);
        let mut rows = 0;
        for y in (oy * k)..((oy + 1) * k).min(h) {
            rows += 1;
            let row = src.row(y as usize);
            for (ox, sum) in sums.iter_mut().enumerate() {
                let start = ox * k as usize;
                let end = (start + k as usize).min(row.len());
                *sum += row[start.min(end)..end].iter().map(|&p| u32::from(p)).sum::<u32>();
            }
        }
        let n = (rows * k).max(1);
        out.extend(sums.iter().map(|&s| (s / n) as u8));
    }
    GrayImage::from_raw(ow, oh, out).expect("the buffer has ow × oh pixels")
}

/// Bilinear resampling by `scale`, in 8-bit fixed point.
fn bilinear(src: View, scale: f32) -> GrayImage {
    let (w, h) = (src.w, src.h);
    let ow = ((w as f32 * scale).round() as u32).max(1);
    let oh = ((h as f32 * scale).round() as u32).max(1);
    let taps = |out: u32, len: u32| -> Vec<(usize, usize, u32)> {
        (0..out)
            .map(|o| {
                let s = ((o as f32 + 0.5) / scale - 0.5).clamp(0.0, (len - 1) as f32);
                let i = s.floor() as u32;
                let f = ((s - i as f32) * 256.0) as u32;
                (i as usize, (i + 1).min(len - 1) as usize, f)
            })
            .collect()
    };
    let xs = taps(ow, w);
    let ys = taps(oh, h);
    let mut out = vec![0u8; (ow as usize) * (oh as usize)];
    // Down the columns first, the whole row at once (the compiler vectorises it), then along
    // the row: two reads an output pixel instead of four. The sum is the same four products
    // either way, taken exactly in integers, so the pixels are those of the usual order.
    let mut column = vec![0u32; w as usize];
    for (&(y0, y1, fy), out_row) in ys.iter().zip(out.chunks_exact_mut(ow as usize)) {
        for ((c, &a), &b) in column.iter_mut().zip(src.row(y0)).zip(src.row(y1)) {
            *c = u32::from(a) * (256 - fy) + u32::from(b) * fy;
        }
        for (o, &(x0, x1, fx)) in out_row.iter_mut().zip(&xs) {
            *o = ((column[x0] * (256 - fx) + column[x1] * fx) >> 16) as u8;
        }
    }
    GrayImage::from_raw(ow, oh, out).expect("the buffer has ow × oh pixels")
}

/// 3 × 3 median, edges replicated.
fn median3(src: &GrayImage) -> GrayImage {
    let (w, h) = src.dimensions();
    let (wi, hi) = (w as i64, h as i64);
    let raw = src.as_raw();
    let at = |x: i64, y: i64| raw[(y.clamp(0, hi - 1) * wi + x.clamp(0, wi - 1)) as usize];
    let mut out = Vec::with_capacity(raw.len());
    for y in 0..hi {
        for x in 0..wi {
            let mut v = [
                at(x - 1, y - 1),
                at(x, y - 1),
                at(x + 1, y - 1),
                at(x - 1, y),
                at(x, y),
                at(x + 1, y),
                at(x - 1, y + 1),
                at(x, y + 1),
                at(x + 1, y + 1),
            ];
            v.sort_unstable();
            out.push(v[4]);
        }
    }
    GrayImage::from_raw(w, h, out).expect("same size as the source")
}

/// Otsu's threshold (Otsu 1979) over the whole crop; black 0, white 255.
fn otsu(mut img: GrayImage) -> GrayImage {
    let mut histogram = [0u64; 256];
    for p in img.as_raw() {
        histogram[*p as usize] += 1;
    }
    let threshold = otsu_level(&histogram);
    for p in img.pixels_mut() {
        p.0[0] = if p.0[0] <= threshold { 0 } else { 255 };
    }
    img
}

/// Otsu's level (Otsu 1979) of a histogram of grey levels: values at or below it are dark.
pub(crate) fn otsu_level(histogram: &[u64; 256]) -> u8 {
    let total: u64 = histogram.iter().sum();
    let sum_all: f64 = histogram.iter().enumerate().map(|(v, &n)| v as f64 * n as f64).sum();
    let (mut weight_b, mut sum_b, mut best, mut threshold) = (0u64, 0.0f64, -1.0f64, 128u8);
    for (v, &n) in histogram.iter().enumerate() {
        weight_b += n;
        if weight_b == 0 {
            continue;
        }
        let weight_f = total - weight_b;
        if weight_f == 0 {
            break;
        }
        sum_b += v as f64 * n as f64;
        let mean_b = sum_b / weight_b as f64;
        let mean_f = (sum_all - sum_b) / weight_f as f64;
        let between = weight_b as f64 * weight_f as f64 * (mean_b - mean_f).powi(2);
        if between > best {
            best = between;
            threshold = v as u8;
        }
    }
    threshold
}

/// Sauvola's adaptive threshold (Sauvola & Pietikäinen 2000, k = 0.2, R = 128) over a window
/// of about five modules, from integral images; black 0, white 255.
fn sauvola(src: &GrayImage) -> GrayImage {
    let (w, h) = src.dimensions();
    let (w, h) = (w as usize, h as usize);
    let raw = src.as_raw();
    let stride = w + 1;
    let mut sum = vec![0u64; stride * (h + 1)];
    let mut sq = vec![0u64; stride * (h + 1)];
    for y in 0..h {
        let (mut row, mut row_sq) = (0u64, 0u64);
        for x in 0..w {
            let p = u64::from(raw[y * w + x]);
            row += p;
            row_sq += p * p;
            sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
            sq[(y + 1) * stride + x + 1] = sq[y * stride + x + 1] + row_sq;
        }
    }
    let r = (MODULE_PX * 2.5) as usize;
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let n = ((x1 - x0) * (y1 - y0)) as f64;
            let s =
                (sum[y1 * stride + x1] + sum[y0 * stride + x0] - sum[y0 * stride + x1] - sum[y1 * stride + x0]) as f64;
            let s2 = (sq[y1 * stride + x1] + sq[y0 * stride + x0] - sq[y0 * stride + x1] - sq[y1 * stride + x0]) as f64;
            let mean = s / n;
            let sd = (s2 / n - mean * mean).max(0.0).sqrt();
            let threshold = mean * (1.0 + 0.2 * (sd / 128.0 - 1.0));
            out.push(if f64::from(raw[y * w + x]) < threshold { 0 } else { 255 });
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).expect("same size as the source")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_directions_give_quarter_turns() {
        assert_eq!(turns_from_axis(10, 1), 0);
        assert_eq!(turns_from_axis(-10, 1), 2);
        assert_eq!(turns_from_axis(1, 10), 3);
        assert_eq!(turns_from_axis(1, -10), 1);
    }

    #[test]
    fn resampling_keeps_sizes_sane() {
        let img = GrayImage::from_fn(100, 60, |x, y| image::Luma([((x + y) % 256) as u8]));
        let rect = Rect { x: 10, y: 5, width: 80, height: 50 };
        assert_eq!(resample(&img, rect, 1.0).dimensions(), (80, 50));
        assert_eq!(resample(&img, rect, 0.5).dimensions(), (40, 25));
        assert_eq!(resample(&img, rect, 2.0).dimensions(), (160, 100));
        let (w, h) = resample(&img, rect, 0.3).dimensions();
        assert!((23..=24).contains(&w) && (14..=15).contains(&h));
    }

    #[test]
    fn areas_map_onto_turned_pages() {
        let img = GrayImage::new(2100, 2970);
        let options = FindOptions { budget: Duration::from_secs(1), areas: vec![], dpi: None };
        let never = |_: &[Found]| false;
        let s = Search::new(&img, &options, &never, Instant::now());
        let area = AreaMm { x: 164.0, y: 5.0, width: 41.0, height: 41.0 };
        let upright = s.area_rect(&area, 0).expect("on the page");
        assert_eq!((upright.x, upright.y), (1490, 0));
        // Upside down, the top-right area is at the bottom left.
        let turned = s.area_rect(&area, 2).expect("on the page");
        assert_eq!((turned.x, turned.y), (0, 2970 - 610));
    }

    #[test]
    fn bilinear_resampling_gives_the_four_neighbours_weighted_sum() {
        let mut rng = crate::degrade::Rng::new(12);
        let img = GrayImage::from_fn(97, 61, |_, _| image::Luma([(rng.next_u64() & 0xff) as u8]));
        for scale in [0.51f32, 0.844, 0.99, 1.3, 2.7] {
            let ours = bilinear(View::whole(&img), scale);
            let (w, h) = img.dimensions();
            // Each output pixel from its four neighbours, row pairs first (the order before
            // the columns were taken first).
            let tap = |o: u32, len: u32| {
                let s = ((o as f32 + 0.5) / scale - 0.5).clamp(0.0, (len - 1) as f32);
                let i = s.floor() as u32;
                (i, (i + 1).min(len - 1), ((s - i as f32) * 256.0) as u32)
            };
            let expected = GrayImage::from_fn(ours.width(), ours.height(), |x, y| {
                let ((x0, x1, fx), (y0, y1, fy)) = (tap(x, w), tap(y, h));
                let at = |x, y| u32::from(img.get_pixel(x, y).0[0]);
                let top = at(x0, y0) * (256 - fx) + at(x1, y0) * fx;
                let bottom = at(x0, y1) * (256 - fx) + at(x1, y1) * fx;
                image::Luma([((top * (256 - fy) + bottom * fy) >> 16) as u8])
            });
            assert_eq!(ours, expected, "at {scale}");
        }
    }

    #[test]
    fn a_crop_resampled_in_place_is_the_copied_crop_resampled() {
        let mut rng = crate::degrade::Rng::new(11);
        let img = GrayImage::from_fn(173, 131, |_, _| image::Luma([(rng.next_u64() & 0xff) as u8]));
        // Inside, touching the edges, running past them, at every kind of scale.
        let rects = [
            Rect { x: 13, y: 7, width: 101, height: 77 },
            Rect { x: 0, y: 0, width: 173, height: 131 },
            Rect { x: 150, y: 100, width: 60, height: 60 },
        ];
        for rect in rects {
            let copied = image::imageops::crop_imm(&img, rect.x, rect.y, rect.width, rect.height).to_image();
            for scale in [1.0f32, 0.99, 0.25, 0.3, 0.5, 0.7, 1.6, 3.0] {
                let ours = resample(&img, rect, scale);
                let expected = if scale == 1.0 || (scale - 1.0).abs() < 0.02 {
                    copied.clone()
                } else if scale <= 0.5 {
                    let k = (1.0 / scale).floor() as u32;
                    let reduced = box_reduce(&copied, k);
                    let rest = scale * k as f32;
                    if (rest - 1.0).abs() < 0.02 { reduced.clone() } else { bilinear(View::whole(&reduced), rest) }
                } else {
                    bilinear(View::whole(&copied), scale)
                };
                assert_eq!(ours, expected, "{rect:?} at {scale}");
            }
        }
    }

    #[test]
    fn the_threshold_is_rqrr_s_own_pixel_for_pixel() {
        let mut rng = crate::degrade::Rng::new(7);
        // Noise, a ramp with noise, stripes, a real symbol blurred on grey paper: at widths
        // that make the moving average 2 to 375 pixels long, odd and even rows both ways.
        let mut images: Vec<GrayImage> = Vec::new();
        for (w, h) in [(9, 9), (15, 12), (21, 21), (22, 40), (157, 33), (640, 480), (3001, 17)] {
            images.push(GrayImage::from_fn(w, h, |_, _| image::Luma([(rng.next_u64() & 0xff) as u8])));
            images.push(GrayImage::from_fn(w, h, |x, y| {
                let ramp = (x * 255 / w.max(1) + y) as u64 + (rng.next_u64() % 40);
                image::Luma([ramp.min(255) as u8])
            }));
            images.push(GrayImage::from_fn(w, h, |x, _| image::Luma([if (x / 3) % 2 == 0 { 20 } else { 235 }])));
        }
        let code = hybridpost_seal::qr_matrix("HYBRIDPOST THRESHOLD").expect("encodes");
        let module = 5;
        let side = (code.width + 8) * module;
        let symbol = GrayImage::from_fn(side as u32, side as u32, |x, y| {
            let (c, r) = ((x as usize / module).wrapping_sub(4), (y as usize / module).wrapping_sub(4));
            let dark = c < code.width && r < code.width && code.modules[r * code.width + c];
            image::Luma([if dark { 60 } else { 200 }])
        });
        images.push(crate::degrade::blur(&symbol, 1.5));
        for img in &images {
            let (w, h) = (img.width() as usize, img.height() as usize);
            let raw = img.as_raw();
            let black = threshold(w, h, raw).expect("narrow enough");
            let ours = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| black[y * w + x]);
            let theirs = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| raw[y * w + x]);
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(ours.get_pixel_at(x, y), theirs.get_pixel_at(x, y), "{w} × {h} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn a_divisor_divides_exactly_across_its_range() {
        let mut rng = crate::degrade::Rng::new(11);
        for d in (1..=300).chain([1023, 1024, 1025, 65_535, 75_000, 4_000_000, (1 << 32) - 1]) {
            let divisor = Divisor::new(d);
            let edges = [0, 1, d - 1, d, d + 1, (1 << 32) - 1, (1 << 32) - d];
            for n in edges.into_iter().chain((0..2000).map(|_| rng.next_u64() >> 32)) {
                if n < 1 << 32 {
                    assert_eq!(divisor.quotient(n), n / d, "{n} / {d}");
                }
            }
        }
    }
}
