//! Makes a corpus of scanned pages for the code finder's evaluation and benchmark:
//! `cargo run --release -p hybridpost-scan --example scan_corpus -- OUT_DIR [--pages N] [--seed S] [--threads T]`.
//!
//! Real letters (page 1 with a seal signed by a key generated for the run, sometimes a
//! continuation page without codes) and real reply sheets (reply codes under the fixed test
//! key; one letter in five has the sample agency form of `fixtures/forms/` stamped with its
//! codes instead, and page 1 of every reply is filled in: a box ticked, crossed or filled, two
//! ticked, or none) are rendered, rasterised with `pdftoppm -gray` at 150, 200 and 300 dpi, and degraded
//! with seeded randomness the way scanners degrade pages: quarter turns, skew up to ±5°, blur,
//! gaussian and salt-and-pepper noise, grey or yellowed paper, JPEG down to quality 30, and
//! combinations. Writes the pages (PNG, or JPEG when JPEG is the degradation),
//! `expected.jsonl` (one line per page: file, kind, reference, page, pages, dpi, degradations,
//! quarter turns) and `corpus.json` (the seal's public key and the reply key, for checking).
//! Everything but the seal signatures is the same for the same seed.
//!
//! With `--photos` the pages are phone photos instead of scans: each page rasterised at
//! 300 dpi and photographed twice by a hand-held phone (`hybridpost_scan::degrade::Camera`):
//! tilted 10–25° (perspective), turned in the frame, at 6–11.5 px per mm where the camera
//! points (the seal's 0.5 mm modules 3–6 px), aimed at the page's code or its middle, on a
//! desk; then light falling off to the corners and from one side, slight motion blur, little
//! light with sensor noise, and JPEG at quality 60–90. These pages have `"photo": true` and
//! `"dpi": 0` (a phone does not know the page's resolution).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hybridpost_seal::Reference;
use image::GrayImage;
use serde::Serialize;

#[path = "support/pages.rs"]
#[expect(dead_code, reason = "shared with the tests, which use the scribbling and inversion")]
mod pages;

use pages::{PageKind, Rng};

/// Resolutions of the corpus: office scanners' usual settings.
const DPIS: [u32; 3] = [150, 200, 300];
/// Degraded copies made of each rasterised page.
const VARIANTS: usize = 3;

/// One page of the corpus, as written to `expected.jsonl`.
#[derive(Debug, Serialize)]
struct Expected {
    file: String,
    /// `reply`, `seal` or `none`.
    kind: &'static str,
    /// The letter's reference in hex, for `reply` and `seal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    /// The code's text, for decoders that cannot check a MAC or a signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<u8>,
    dpi: u32,
    degradations: Vec<String>,
    /// Clockwise quarter turns that make the page upright.
    quarter_turns: u8,
    /// A page of the agency's own form returned as the reply sheet.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    form: bool,
    /// How reply page 1 was filled in: `tick`, `cross`, `fill`, `two` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    filled: Option<&'static str>,
    /// A phone photo of the page, not a scan.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    photo: bool,
}

#[derive(Debug, Serialize)]
struct CorpusInfo {
    seed: u64,
    pages: usize,
    seal_issuer: &'static str,
    seal_public_key_pem: String,
    seal_verify_date: String,
    reply_key_hex: String,
}

struct Args {
    out: PathBuf,
    pages: usize,
    seed: u64,
    threads: usize,
    photos: bool,
}

/// Resolution pages are rasterised at before they are photographed.
const PHOTO_DPI: u32 = 300;
/// The middle of an A4 page, mm: where a phone points to take the whole page.
const PAGE_MIDDLE: (f32, f32) = (105.0, 148.5);
/// Photos taken of each page.
const PHOTO_VARIANTS: usize = 2;

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let (mut pages, mut seed, mut threads, mut photos) = (1100, 1, 2, false);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--pages" => pages = value("--pages")?.parse().map_err(|e| format!("--pages: {e}"))?,
            "--seed" => seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--threads" => threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--photos" => photos = true,
            _ if out.is_none() && !a.starts_with("--") => out = Some(PathBuf::from(a)),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let out = out.ok_or("usage: scan_corpus OUT_DIR [--pages N] [--seed S] [--threads T] [--photos]")?;
    Ok(Args { out, pages, seed, threads: threads.max(1), photos })
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scan_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What one letter of the corpus looks like, drawn from the seed before any work starts.
#[derive(Clone, Debug)]
struct LetterPlan {
    index: usize,
    reference: Reference,
    reply_pages: u8,
    extra_paragraphs: usize,
    /// The reply sheet is the sample agency form of three pages instead of ours.
    form: bool,
    seed: u64,
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot make {}: {e}", args.out.display()))?;
    let key = pages::signing_key();
    let mut rng = Rng::new(args.seed);
    // Plan letters until the pages reach the number asked for.
    let mut plans = Vec::new();
    let mut planned = 0;
    while planned < args.pages {
        let mut bytes = [0u8; 12];
        for b in &mut bytes {
            *b = (rng.next_u64() & 0xFF) as u8;
        }
        // One letter in five asks for the agency's own form back.
        let form = rng.unit() < 0.2;
        let reply_pages = if form { 3 } else { [1u8, 1, 2, 3][rng.below(4)] };
        let extra_paragraphs = if !form && rng.unit() < 0.3 { 10 } else { 0 };
        let letter_pages = 1 + usize::from(extra_paragraphs > 0);
        let copies = if args.photos { PHOTO_VARIANTS } else { DPIS.len() * VARIANTS };
        planned += (letter_pages + usize::from(reply_pages)) * copies;
        plans.push(LetterPlan {
            index: plans.len(),
            reference: Reference::from_bytes(&bytes).expect("12 bytes"),
            reply_pages,
            extra_paragraphs,
            form,
            seed: rng.next_u64(),
        });
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<Expected>)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(plan) = plans.get(i) else { break };
                    if failure.lock().expect("not poisoned").is_some() {
                        break;
                    }
                    match make_letter(plan, &key, &args.out, args.photos) {
                        Ok(lines) => results.lock().expect("not poisoned").push((plan.index, lines)),
                        Err(e) => *failure.lock().expect("not poisoned") = Some(e),
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let mut results = results.into_inner().expect("not poisoned");
    results.sort_by_key(|(i, _)| *i);
    let lines: Vec<Expected> = results.into_iter().flat_map(|(_, l)| l).collect();

    let mut file = std::fs::File::create(args.out.join("expected.jsonl")).map_err(|e| e.to_string())?;
    for line in &lines {
        writeln!(file, "{}", serde_json::to_string(line).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let (y, m, d) = pages::verify_date().ymd();
    let info = CorpusInfo {
        seed: args.seed,
        pages: lines.len(),
        seal_issuer: pages::ISSUER,
        seal_public_key_pem: key.public_key().to_spki_pem().map_err(|e| e.to_string())?,
        seal_verify_date: format!("{y:04}-{m:02}-{d:02}"),
        reply_key_hex: pages::REPLY_SECRET.iter().map(|b| format!("{b:02x}")).collect(),
    };
    std::fs::write(args.out.join("corpus.json"), serde_json::to_string_pretty(&info).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let count = |kind: &str| lines.iter().filter(|l| l.kind == kind).count();
    println!(
        "wrote {} pages ({} reply, {} seal, {} without codes; {} letters) to {} in {:.1} s",
        lines.len(),
        count("reply"),
        count("seal"),
        count("none"),
        plans.len(),
        args.out.display(),
        started.elapsed().as_secs_f32()
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn make_letter(
    plan: &LetterPlan,
    key: &hybridpost_seal::SigningKey,
    out: &Path,
    photos: bool,
) -> Result<Vec<Expected>, String> {
    let letter = if plan.form {
        pages::render_with_form(&plan.reference, key)
    } else {
        pages::render(&plan.reference, key, plan.reply_pages, plan.extra_paragraphs)
    }
    .map_err(|e| format!("cannot render letter {}: {e}", plan.index))?;
    let work = std::env::temp_dir().join(format!("hybridpost-corpus-{}-{}", std::process::id(), plan.index));
    let mut rng = Rng::new(plan.seed);
    let mut lines = Vec::new();
    let dpis: &[u32] = if photos { &[PHOTO_DPI] } else { &DPIS };
    for &dpi in dpis {
        let mut rasters = pages::rasterise(&letter.pdf, dpi, &work)?;
        // Page 1 of the reply comes back filled in: a box ticked, crossed or filled, two
        // ticked, or none.
        let mut filled = None;
        for (raster, kind) in rasters.iter_mut().zip(&letter.pages) {
            if matches!(kind, PageKind::Reply { page: 1, .. }) {
                filled = Some(fill_in(raster, dpi, &letter.answer_boxes, &mut rng));
            }
        }
        for (p, (raster, kind)) in rasters.iter().zip(&letter.pages).enumerate() {
            for v in 0..if photos { PHOTO_VARIANTS } else { VARIANTS } {
                let (image, jpeg_quality, degradations, turned) = if photos {
                    photo(raster, dpi, kind, &mut rng)
                } else {
                    // Variant 0 cycles through the single degradations so that each is well
                    // represented; the others draw freely.
                    let pick = if v == 0 { (plan.index + p) % RECIPES } else { rng.below(RECIPES) };
                    degrade(raster, dpi, pick, &mut rng)
                };
                let stem = if photos {
                    format!("l{:04}-p{}-photo-v{v}", plan.index, p + 1)
                } else {
                    format!("l{:04}-p{}-{dpi}-v{v}", plan.index, p + 1)
                };
                let file = match jpeg_quality {
                    Some(q) => {
                        let name = format!("{stem}.jpg");
                        std::fs::write(out.join(&name), pages::jpeg(&image, q)).map_err(|e| e.to_string())?;
                        name
                    }
                    None => {
                        let name = format!("{stem}.png");
                        write_png(&image, &out.join(&name))?;
                        name
                    }
                };
                let (kind, page, pages) = match kind {
                    PageKind::Seal => ("seal", None, None),
                    PageKind::Reply { page, pages } => ("reply", Some(*page), Some(*pages)),
                    PageKind::Plain => ("none", None, None),
                };
                lines.push(Expected {
                    file,
                    kind,
                    reference: (kind != "none").then(|| hex(plan.reference.as_bytes())),
                    text: letter.texts[p].clone(),
                    page,
                    pages,
                    dpi: if photos { 0 } else { dpi },
                    degradations,
                    quarter_turns: (4 - turned) % 4,
                    photo: photos,
                    form: plan.form && kind == "reply",
                    filled: if page == Some(1) && kind == "reply" { filled } else { None },
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(lines)
}

/// Marks a reply page the way citizens do: one of `boxes` ticked, crossed or filled, two
/// ticked, or nothing, in pen; which it was.
fn fill_in(raster: &mut GrayImage, dpi: u32, boxes: &[hybridpost_render::AnswerBox], rng: &mut Rng) -> &'static str {
    use hybridpost_scan::pen::{self, Pen};
    let area = |b: &hybridpost_render::AnswerBox| hybridpost_scan::AreaMm {
        x: b.area.x.0,
        y: b.area.y.0,
        width: b.area.width.0,
        height: b.area.height.0,
    };
    let ink = Pen { width: rng.range(0.4, 0.8), ink: rng.range(20.0, 70.0) as u8 };
    let Some(first) = boxes.get(rng.below(boxes.len().max(1))) else { return "none" };
    match rng.below(5) {
        0 => {
            pen::tick(raster, dpi, ink, area(first), rng);
            "tick"
        }
        1 => {
            pen::cross(raster, dpi, ink, area(first), rng);
            "cross"
        }
        2 => {
            pen::fill(raster, dpi, ink, area(first), rng);
            "fill"
        }
        3 => {
            for b in boxes.iter().take(2) {
                pen::tick(raster, dpi, ink, area(b), rng);
            }
            "two"
        }
        _ => "none",
    }
}

fn write_png(image: &GrayImage, path: &Path) -> Result<(), String> {
    use image::ImageEncoder;
    let file = std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    image::codecs::png::PngEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    )
    .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::L8)
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A phone photo of the upright `raster` (at `dpi`) of a page of `kind`: the photo, its JPEG
/// quality, what was done, and the clockwise quarter turns nearest the photo's turn of the page.
fn photo(raster: &GrayImage, dpi: u32, kind: &PageKind, rng: &mut Rng) -> (GrayImage, Option<u8>, Vec<String>, u8) {
    use hybridpost_scan::degrade::{Camera, low_light, motion_blur, photograph, vignette};
    let centre = |a: &hybridpost_scan::AreaMm| (a.x + a.width / 2.0, a.y + a.height / 2.0);
    let areas = pages::known_areas();
    // The code the person points the phone at (the seal, or one of the reply codes).
    let code = match kind {
        PageKind::Seal => Some(centre(&pages::SEAL_AREA)),
        PageKind::Reply { .. } => Some(centre(&areas[rng.below(2)])),
        PageKind::Plain => None,
    };
    let frames = [(1200, 1600), (1536, 2048), (1836, 2448)];
    let mut frame = frames[rng.below(frames.len())];
    // Mostly held upright, sometimes on its side or the page upside down.
    let base = [0.0, 0.0, 0.0, 0.0, 90.0, 180.0, 270.0][rng.below(7)];
    if base == 90.0 || base == 270.0 {
        frame = (frame.1, frame.0);
    }
    let roll = base + rng.range(-15.0, 15.0);
    let px_per_mm = rng.range(6.0, 11.5);
    let whole = rng.unit() < 0.4;
    let mut camera = Camera {
        frame,
        px_per_mm,
        aim: if whole { PAGE_MIDDLE } else { code.unwrap_or((rng.range(40.0, 170.0), rng.range(40.0, 250.0))) },
        aim_in_frame: if whole { (0.5, 0.5) } else { (rng.range(0.3, 0.7), rng.range(0.3, 0.7)) },
        roll,
        tilt: rng.range(10.0, 25.0),
        tilt_axis: rng.range(0.0, 360.0),
        focal_px: frame.0.max(frame.1) as f32 * rng.range(0.85, 1.1),
        background: rng.range(40.0, 150.0) as u8,
    };
    // Aimed at the middle of the page but the code left the frame: the person steps closer
    // to it, as people do.
    if let Some(code) = code {
        let inside = camera.project(code).is_some_and(|(u, v)| {
            let m = 30.0 * px_per_mm;
            u > m && v > m && u < frame.0 as f32 - m && v < frame.1 as f32 - m
        });
        if !inside {
            camera.aim = code;
            camera.aim_in_frame = (rng.range(0.3, 0.7), rng.range(0.3, 0.7));
        }
    }
    let mut done =
        vec!["perspective".to_string(), if camera.aim == PAGE_MIDDLE { "whole_page" } else { "close_up" }.to_string()];
    let mut img = photograph(raster, dpi, &camera);
    vignette(&mut img, rng.range(0.25, 0.6), rng.range(0.0, 0.3), rng.range(0.0, 360.0));
    done.push("vignette".to_string());
    if rng.unit() < 0.6 {
        img = motion_blur(&img, rng.range(1.0, 4.0), rng.range(0.0, 180.0));
        done.push("motion_blur".to_string());
    }
    if rng.unit() < 0.5 {
        low_light(&mut img, rng.range(0.35, 0.7), rng.range(3.0, 10.0), rng);
        done.push("low_light".to_string());
    } else {
        pages::noise(&mut img, rng.range(1.5, 4.0), rng);
    }
    done.push("jpeg".to_string());
    let quarter = ((360.0 - roll).rem_euclid(360.0) / 90.0).round() as u8 % 4;
    // `turned` is the clockwise turn done to the page: the one that undoes `quarter`.
    (img, Some(rng.range(60.0, 90.0) as u8), done, (4 - quarter) % 4)
}

/// Number of recipes in [`degrade`].
const RECIPES: usize = 12;

/// A degraded copy of `raster` by recipe `pick`: the image, the JPEG quality to save it at
/// (if JPEG is part of it), the names of what was done, and the clockwise quarter turns
/// applied.
fn degrade(raster: &GrayImage, dpi: u32, pick: usize, rng: &mut Rng) -> (GrayImage, Option<u8>, Vec<String>, u8) {
    let mut done = Vec::new();
    let mut img = raster.clone();
    let mut turned = 0u8;
    let mut jpeg = None;
    let scale = dpi as f32 / 300.0;
    let mut quarter = |img: &mut GrayImage, done: &mut Vec<String>, q: u8| {
        *img = pages::turn(img, q);
        done.push(format!("turn{}", u32::from(q) * 90));
        turned = q;
    };
    let skew = |img: &mut GrayImage, done: &mut Vec<String>, rng: &mut Rng| {
        let mut a = rng.range(0.5, 5.0);
        if rng.unit() < 0.5 {
            a = -a;
        }
        *img = pages::skew(img, a);
        done.push("skew".to_string());
    };
    let blur = |img: &mut GrayImage, done: &mut Vec<String>, rng: &mut Rng| {
        *img = pages::blur(img, rng.range(0.8, 1.6) * scale.max(0.5));
        done.push("blur".to_string());
    };
    let noise = |img: &mut GrayImage, done: &mut Vec<String>, rng: &mut Rng| {
        pages::noise(img, rng.range(8.0, 25.0), rng);
        done.push("noise".to_string());
    };
    let speckle = |img: &mut GrayImage, done: &mut Vec<String>, rng: &mut Rng| {
        pages::salt_and_pepper(img, rng.range(0.003, 0.02), rng);
        done.push("salt_pepper".to_string());
    };
    let paper = |img: &mut GrayImage, done: &mut Vec<String>, rng: &mut Rng| {
        pages::contrast(img, rng.range(190.0, 225.0) as u8, rng.range(50.0, 100.0) as u8);
        done.push("paper".to_string());
    };
    let mut jpeg_q = |done: &mut Vec<String>, rng: &mut Rng| {
        jpeg = Some(rng.range(30.0, 70.0) as u8);
        done.push("jpeg".to_string());
    };
    match pick {
        0 => done.push("clean".to_string()),
        1 => quarter(&mut img, &mut done, 1),
        2 => quarter(&mut img, &mut done, 2),
        3 => quarter(&mut img, &mut done, 3),
        4 => skew(&mut img, &mut done, rng),
        5 => blur(&mut img, &mut done, rng),
        6 => noise(&mut img, &mut done, rng),
        7 => speckle(&mut img, &mut done, rng),
        8 => paper(&mut img, &mut done, rng),
        9 => jpeg_q(&mut done, rng),
        _ => {
            // A combination: two to four of the above, in scanner order (sheet placement,
            // optics, paper, sensor, compression).
            if rng.unit() < 0.5 {
                let q = 1 + rng.below(3) as u8;
                quarter(&mut img, &mut done, q);
            }
            if rng.unit() < 0.6 {
                skew(&mut img, &mut done, rng);
            }
            if rng.unit() < 0.5 {
                blur(&mut img, &mut done, rng);
            }
            if rng.unit() < 0.5 {
                paper(&mut img, &mut done, rng);
            }
            match rng.below(3) {
                0 => noise(&mut img, &mut done, rng),
                1 => speckle(&mut img, &mut done, rng),
                _ => {}
            }
            if rng.unit() < 0.6 || done.len() < 2 {
                jpeg_q(&mut done, rng);
            }
        }
    }
    (img, jpeg, done, turned)
}
