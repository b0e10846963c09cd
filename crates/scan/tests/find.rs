//! The code finder on real pages: a letter with a seal and a reply sheet rendered by
//! `hybridpost-render`, rasterised by poppler's `pdftoppm` at 150, 200 and 300 dpi and
//! degraded as scanners degrade pages. Needs `pdftoppm` (poppler-utils): without it these
//! tests fail, they do not skip.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hybridpost_scan::find::{FindOptions, Found, Step, find_codes};
use hybridpost_seal::{Reference, ReplyCode, Seal, TrustList, Verdict, VerifyContext, no_withdrawals};
use image::GrayImage;
use proptest::prelude::*;

#[path = "../examples/support/pages.rs"]
#[expect(dead_code, reason = "shared with the corpus generator, which uses all of it")]
mod pages;

use pages::{PageKind, Rng};

/// The three pages of the sample letter at one resolution: page 1 (seal), a continuation page,
/// the reply page.
struct Rasters {
    dpi: u32,
    seal: GrayImage,
    plain: GrayImage,
    reply: GrayImage,
}

struct Sample {
    reference: Reference,
    trust: TrustList,
    reply_text: String,
    rasters: Vec<Rasters>,
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let reference = Reference::from_bytes(&[7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).expect("12 bytes");
        let key = pages::signing_key();
        let letter = pages::render(&reference, &key, 1, 6).expect("the sample letter renders");
        assert_eq!(letter.pages, vec![PageKind::Seal, PageKind::Plain, PageKind::Reply { page: 1, pages: 1 }]);
        let work = std::env::temp_dir().join(format!("hybridpost-find-test-{}", std::process::id()));
        let rasters = [150, 200, 300]
            .into_iter()
            .map(|dpi| {
                let mut images = pages::rasterise(&letter.pdf, dpi, &work)
                    .unwrap_or_else(|e| panic!("these tests need pdftoppm: {e}"))
                    .into_iter();
                let mut next = || images.next().expect("three pages");
                Rasters { dpi, seal: next(), plain: next(), reply: next() }
            })
            .collect();
        let _ = std::fs::remove_dir_all(&work);
        let reply_text = ReplyCode::new(reference.clone(), 1, 1).expect("valid page").to_text(&pages::reply_key());
        let trust =
            TrustList { sequence: 1, issued: pages::verify_date(), next_update: None, keys: vec![key.trusted_key()] };
        Sample { reference, trust, reply_text, rasters }
    })
}

fn options(budget_ms: u64) -> FindOptions {
    FindOptions { budget: Duration::from_millis(budget_ms), areas: pages::known_areas(), dpi: None }
}

/// Enough: a reply code whose MAC checks, or a seal.
fn enough(codes: &[Found]) -> bool {
    let key = pages::reply_key();
    codes.iter().any(|c| ReplyCode::parse(&c.text, &key).is_ok() || Seal::from_qr_text(&c.text).is_ok())
}

/// What a page's codes say: reply codes (MAC checked) and seals, as references.
fn reply_of(codes: &[Found]) -> Vec<ReplyCode> {
    codes.iter().filter_map(|c| ReplyCode::parse(&c.text, &pages::reply_key()).ok()).collect()
}

fn seal_reference_of(codes: &[Found]) -> Vec<Reference> {
    let trust = &sample().trust;
    let ctx = VerifyContext { trust_list: trust, today: pages::verify_date(), withdrawn: &no_withdrawals };
    codes
        .iter()
        .filter_map(|c| Seal::from_qr_text(&c.text).ok())
        .filter_map(|s| match s.verify(&ctx) {
            Verdict::Genuine { payload, .. } => Some(payload.reference),
            _ => None,
        })
        .collect()
}

fn rasters(dpi: u32) -> &'static Rasters {
    sample().rasters.iter().find(|r| r.dpi == dpi).expect("rasterised at this resolution")
}

fn assert_reply(img: &GrayImage, turns: u8, what: &str) {
    assert_reply_at(img, None, turns, what);
}

/// `dpi` as a scanner writes it into its files; `None` makes the finder take it from the width.
fn assert_reply_at(img: &GrayImage, dpi: Option<f32>, turns: u8, what: &str) {
    let found = find_codes(img, &FindOptions { dpi, ..options(5000) }, &enough);
    let replies = reply_of(&found.codes);
    assert!(
        !replies.is_empty(),
        "{what}: no reply code read; steps {:?}, unreadable {}",
        found.steps,
        found.unreadable
    );
    assert!(replies.iter().all(|r| r.reference() == &sample().reference && r.page() == 1), "{what}: wrong code");
    assert!(found.codes.iter().any(|c| c.text == sample().reply_text), "{what}");
    assert_eq!(found.quarter_turns, Some(turns), "{what}: quarter turns");
    assert!(!found.timed_out, "{what}: timed out");
}

fn assert_seal(img: &GrayImage, turns: u8, what: &str) {
    let found = find_codes(img, &options(5000), &enough);
    let seals = seal_reference_of(&found.codes);
    assert!(!seals.is_empty(), "{what}: no genuine seal read; steps {:?}", found.steps);
    assert!(seals.iter().all(|r| r == &sample().reference), "{what}: a seal of another letter");
    assert!(reply_of(&found.codes).is_empty(), "{what}: a reply code on page 1");
    assert_eq!(found.quarter_turns, Some(turns), "{what}: quarter turns");
}

#[test]
fn upright_pages_give_their_codes_from_the_known_areas_at_every_resolution() {
    for dpi in [150, 200, 300] {
        let r = rasters(dpi);
        let found = find_codes(&r.reply, &options(5000), &enough);
        assert_eq!(found.codes.first().map(|c| c.step), Some(Step::KnownAreas), "reply page at {dpi} dpi");
        assert_reply(&r.reply, 0, &format!("reply page at {dpi} dpi"));
        assert_seal(&r.seal, 0, &format!("page 1 at {dpi} dpi"));
    }
}

#[test]
fn turned_pages_are_read_and_say_how_to_turn_them_upright() {
    // Turned clockwise by q, a page needs (4 - q) % 4 clockwise quarter turns.
    assert_reply(&pages::turn(&rasters(200).reply, 2), 2, "reply page upside down at 200 dpi");
    assert_reply(&pages::turn(&rasters(150).reply, 1), 3, "reply page turned right at 150 dpi");
    assert_reply(&pages::turn(&rasters(300).reply, 3), 1, "reply page turned left at 300 dpi");
    assert_seal(&pages::turn(&rasters(300).seal, 2), 2, "page 1 upside down at 300 dpi");
}

#[test]
fn skewed_compressed_and_inverted_pages_are_read() {
    assert_reply_at(&pages::skew(&rasters(300).reply, 5.0), Some(300.0), 0, "reply page skewed +5° at 300 dpi");
    assert_reply_at(&pages::skew(&rasters(200).reply, -5.0), Some(200.0), 0, "reply page skewed -5° at 200 dpi");
    // Without the resolution, the grown canvas misleads the known areas; the whole page finds it.
    assert_reply(&pages::skew(&rasters(150).reply, -4.0), 0, "reply page skewed -4° at 150 dpi");
    assert_seal(&pages::skew(&rasters(300).seal, -5.0), 0, "page 1 skewed -5° at 300 dpi");
    let jpeg = pages::from_jpeg(&pages::jpeg(&rasters(200).reply, 30));
    assert_reply(&jpeg, 0, "reply page as JPEG q30 at 200 dpi");
    let mut inverted = rasters(300).reply.clone();
    for area in &pages::known_areas()[..2] {
        pages::invert_area(&mut inverted, *area, 300);
    }
    let found = find_codes(&inverted, &options(10_000), &enough);
    assert!(found.codes.iter().any(|c| c.text == sample().reply_text), "inverted codes: {:?}", found.steps);
    assert_eq!(found.codes[0].step, Step::Inverted);
}

#[test]
fn pages_without_codes_give_nothing_and_nothing_unreadable() {
    let blank = GrayImage::from_pixel(1240, 1754, image::Luma([255]));
    for (img, what) in [(&blank, "blank page"), (&rasters(150).plain, "continuation page")] {
        let found = find_codes(img, &options(20_000), &enough);
        assert!(found.codes.is_empty(), "{what}: {:?}", found.codes);
        assert_eq!(found.unreadable, 0, "{what}");
        assert_eq!(found.quarter_turns, None, "{what}");
        // Past the known areas; with no code-like ink on the page, nothing more is worth trying.
        assert!(found.steps.len() >= 2, "{what}: the pipeline ran on: {:?}", found.steps);
    }
}

#[test]
fn a_scribbled_over_reply_code_is_never_read_as_another() {
    let mut img = rasters(200).reply.clone();
    let mut rng = Rng::new(7);
    for area in &pages::known_areas()[..2] {
        pages::scribble(&mut img, *area, 200, &mut rng);
    }
    let found = find_codes(&img, &options(20_000), &enough);
    assert!(
        found.codes.iter().all(|c| c.text == sample().reply_text),
        "a scribbled page gave another code: {:?}",
        found.codes
    );
    // Scribbled over finder patterns and data, the codes are not read: the page goes to review,
    // never passes for a page without a code (which would follow the page before it).
    assert!(reply_of(&found.codes).is_empty(), "a scribbled page still read: {:?}", found.codes);
    assert!(found.unreadable > 0, "a page with unreadable codes must say so: {found:?}");
}

#[test]
fn a_seal_too_blurred_to_read_is_reported_not_taken_for_a_blank_page() {
    // Page 1 of a letter at 150 dpi with its seal blurred until nothing reads it.
    let mut img = rasters(150).seal.clone();
    let seal = pages::known_areas()[2];
    let px = 150.0 / 25.4;
    let (x, y) = ((seal.x * px) as u32, (seal.y * px) as u32);
    let (w, h) = ((seal.width * px) as u32, (seal.height * px) as u32);
    let region = image::imageops::crop_imm(&img, x, y, w, h).to_image();
    let blurred = image::imageops::blur(&region, 3.0);
    image::imageops::replace(&mut img, &blurred, i64::from(x), i64::from(y));
    let found = find_codes(&img, &options(20_000), &enough);
    assert!(seal_reference_of(&found.codes).is_empty(), "still read: {:?}", found.codes);
    assert!(found.unreadable > 0, "the blurred seal must count as unreadable: {found:?}");
}

#[test]
fn a_tiny_budget_stops_the_search_promptly() {
    let img = &rasters(300).plain;
    let began = Instant::now();
    let found = find_codes(img, &options(1), &|_| false);
    assert!(found.timed_out, "{:?}", found.steps);
    assert!(began.elapsed() < Duration::from_millis(500), "took {:?}", began.elapsed());
    // A medium budget on a page without codes: stopped near it, not long after.
    let began = Instant::now();
    let found = find_codes(img, &options(150), &|_| false);
    assert!(began.elapsed() < Duration::from_millis(1500), "took {:?}: {:?}", began.elapsed(), found.steps);
}

#[test]
fn odd_images_do_not_panic() {
    for (w, h, v) in [(0, 0, 0), (1, 1, 0), (1, 5000, 0), (5000, 1, 255), (300, 400, 0), (21, 21, 0), (3000, 40, 128)] {
        let img = GrayImage::from_pixel(w, h, image::Luma([v]));
        let found = find_codes(&img, &options(300), &enough);
        assert!(found.codes.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_small_images_do_not_panic(
        w in 0u32..80, h in 0u32..80, seed in any::<u64>(), dpi in prop::option::of(0.0f32..1200.0)
    ) {
        let mut rng = Rng::new(seed);
        let img = GrayImage::from_fn(w, h, |_, _| image::Luma([(rng.next_u64() & 0xFF) as u8]));
        let options = FindOptions { dpi, ..options(100) };
        let found = find_codes(&img, &options, &enough);
        prop_assert!(found.quarter_turns.is_none_or(|t| t < 4));
    }
}

#[test]
fn blurred_seals_with_small_modules_are_read_by_sampling_their_modules() {
    // The seal's 0.57 mm modules are 3.4 pixels at 150 dpi: blurred, rqrr alone misses the
    // finder patterns or the grid size; the sampled step reads them.
    for (sigma, quarter) in [(1.1, 0u8), (1.1, 1), (1.4, 0)] {
        let what = format!("page 1 at 150 dpi blurred by {sigma} px, turned {quarter} quarter(s) clockwise");
        let img = pages::turn(&pages::blur(&rasters(150).seal, sigma), quarter);
        let found = find_codes(&img, &FindOptions { dpi: Some(150.0), ..options(5000) }, &enough);
        let seals = seal_reference_of(&found.codes);
        assert_eq!(seals, vec![sample().reference.clone()], "{what}: steps {:?}", found.steps);
        assert_eq!(found.codes[0].step, Step::Sampled, "{what}: read by {:?}", found.codes[0].step);
        assert_eq!(found.quarter_turns, Some((4 - quarter) % 4), "{what}");
    }
}

/// A phone photo of the upright `page` (rasterised at 300 dpi): tilted by `tilt` degrees,
/// turned by `roll` in the frame, `px_per_mm` where the phone points (`aim`, mm), light
/// falling off to the corners, a hand shaking by `shake` pixels, little light, JPEG.
fn phone_photo(
    page: &GrayImage,
    aim: (f32, f32),
    px_per_mm: f32,
    tilt: f32,
    roll: f32,
    shake: f32,
    seed: u64,
) -> GrayImage {
    use hybridpost_scan::degrade::{Camera, low_light, motion_blur, photograph, vignette};
    let mut rng = Rng::new(seed);
    let camera = Camera {
        frame: (1200, 1600),
        px_per_mm,
        aim,
        aim_in_frame: (0.45, 0.55),
        roll,
        tilt,
        tilt_axis: 35.0,
        focal_px: 1600.0,
        background: 90,
    };
    let mut img = photograph(page, 300, &camera);
    vignette(&mut img, 0.45, 0.2, 60.0);
    let mut img = motion_blur(&img, shake, 30.0);
    low_light(&mut img, 0.55, 6.0, &mut rng);
    pages::from_jpeg(&pages::jpeg(&img, 75))
}

#[test]
fn phone_photos_are_read_from_their_rows() {
    // The row scan finds the finder patterns and reads the symbol the quick way, before rqrr
    // sees the whole image; a seal and a reply page turned the other way up in the frame.
    let seal_page = &rasters(300).seal;
    let reply_page = &rasters(300).reply;
    let photos = [
        ("seal", phone_photo(seal_page, (156.0, 66.5), 8.0, 15.0, 8.0, 1.0, 3), 0),
        ("reply page upside down", phone_photo(reply_page, (184.5, 25.5), 9.0, 18.0, 185.0, 1.0, 4), 2),
        ("seal on its side", phone_photo(seal_page, (156.0, 66.5), 8.0, 20.0, 95.0, 1.0, 5), 3),
    ];
    for (what, photo, turns) in photos {
        let found = find_codes(&photo, &options(5000), &enough);
        let first = found.codes.first().unwrap_or_else(|| panic!("{what}: nothing read; steps {:?}", found.steps));
        assert_eq!(first.step, Step::RowScan, "{what}: steps {:?}", found.steps);
        let read = seal_reference_of(&found.codes).len() + reply_of(&found.codes).len();
        assert_eq!(read, 1, "{what}: {:?}", found.codes);
        assert_eq!(found.quarter_turns, Some(turns), "{what}");
        assert_eq!(found.steps.first().map(|s| s.step), Some(Step::RowScan), "{what}: the row scan comes first");
    }
}

#[test]
fn phone_photos_are_read_whatever_resolution_the_file_claims() {
    // Phones write 72 dpi whatever the distance: the finder takes that, like no resolution at
    // all, as unknown and reads the photo whole. A wrong resolution that looks like a
    // scanner's (200 dpi) is believed, and the whole-page steps still find the codes.
    let seal_page = &rasters(300).seal;
    let reply_page = &rasters(300).reply;
    // The seal's 0.5 mm modules at 7 pixels a mm: 3.5 pixels, on a page tilted 22°.
    let seal = phone_photo(seal_page, (156.0, 66.5), 7.0, 22.0, 8.0, 2.0, 1);
    // The reply page upside down, tilted 18°, its top-right code pointed at.
    let reply = phone_photo(reply_page, (184.5, 25.5), 9.0, 18.0, 185.0, 2.0, 2);
    for dpi in [None, Some(72.0), Some(200.0)] {
        let found = find_codes(&seal, &FindOptions { dpi, ..options(5000) }, &enough);
        let seals = seal_reference_of(&found.codes);
        assert_eq!(seals, vec![sample().reference.clone()], "photo of page 1, dpi {dpi:?}: steps {:?}", found.steps);
        assert!(reply_of(&found.codes).is_empty(), "a reply code on page 1");
        assert_eq!(found.quarter_turns, Some(0), "photo of page 1");
        assert_reply_at(&reply, dpi, 2, &format!("photo of the reply page upside down, dpi {dpi:?}"));
    }
}
