//! Finding and reading the QR codes on one scanned page.
//!
//! CONTRACT (stub; the implementation replaces the bodies, keeps the names).

use std::time::Duration;

use image::GrayImage;

use crate::AreaMm;

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
    /// The known areas of the page turned by 90°, 180° or 270°.
    KnownAreasTurned,
    /// The whole page at reduced resolution.
    WholePage,
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
    /// The step's name in records and JSON (`known_areas`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::KnownAreas => "known_areas",
            Step::KnownAreasTurned => "known_areas_turned",
            Step::WholePage => "whole_page",
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

/// Searches `image` for QR codes. `enough` is asked after each step with the codes found so
/// far; when it says yes the search stops (a page needs one readable reply code, not both).
pub fn find_codes(image: &GrayImage, options: &FindOptions, enough: &dyn Fn(&[Found]) -> bool) -> Findings {
    let _ = (image, options, enough);
    Findings::default()
}
