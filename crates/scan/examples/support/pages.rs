//! Real letters and reply sheets as scanned pages, for the code finder's tests, corpus and
//! evaluation: rendered by `hybridpost-render` with a real seal (signed by a key generated for
//! the run) and real reply codes (under a fixed test key), rasterised by poppler's `pdftoppm`,
//! and degraded the way scanners degrade pages, with seeded randomness.

use std::path::Path;
use std::process::Command;

use hybridpost_core::NewLetter;
use hybridpost_render::{LetterOptions, QrModules, REPLY_CODE_AREAS, ReplySheet, Sender, render_letter};
use hybridpost_scan::AreaMm;
use hybridpost_seal::{
    ContentDigest, Date as SealDate, DocumentType, FORMAT_VERSION, QrMatrix, Reference, ReplyCode, ReplyKey, Seal,
    SealPayload, SigningKey, Validity, qr_matrix,
};
use image::GrayImage;

/// Host printed under the seal and put in its URL.
pub const HOST: &str = "HP.GO.TH";
/// Issuer code of the test seals.
pub const ISSUER: &str = "BKK-PT";
/// The fixed reply-code secret of the test pages and the corpus: a test key, never a real one.
pub const REPLY_SECRET: &[u8; 32] = b"hybridpost scan corpus reply key";
/// The seal square on page 1 of the official layout, mm from the top-left of A4: the 35 mm
/// square of `templates/letters/official.toml` centred in the right-hand column
/// (x = 122 mm to 190 mm) at y = 49 mm.
pub const SEAL_AREA: AreaMm = AreaMm { x: 138.5, y: 49.0, width: 35.0, height: 35.0 };

/// The areas the scanner searches first: both reply code places, then the seal.
pub fn known_areas() -> Vec<AreaMm> {
    let mut areas: Vec<AreaMm> =
        REPLY_CODE_AREAS.iter().map(|a| AreaMm { x: a.x.0, y: a.y.0, width: a.width.0, height: a.height.0 }).collect();
    areas.push(SEAL_AREA);
    areas
}

/// The test reply-code key.
pub fn reply_key() -> ReplyKey {
    ReplyKey::from_bytes(REPLY_SECRET).expect("32 bytes")
}

fn day(y: i32, m: u32, d: u32) -> SealDate {
    SealDate::from_ymd(y, m, d).expect("valid date")
}

/// A fresh seal signing key for the test issuer, valid 2026–2027.
pub fn signing_key() -> SigningKey {
    SigningKey::generate(ISSUER, Validity { not_before: day(2026, 1, 1), not_after: day(2027, 12, 31) })
        .expect("key generation")
}

/// The first date on which the test seals verify.
pub fn verify_date() -> SealDate {
    day(2026, 12, 1)
}

fn modules(matrix: QrMatrix) -> QrModules {
    QrModules::new(matrix.width, matrix.modules).expect("a QR symbol is square")
}

/// What is printed on one page of a rendered letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Page 1 with its seal.
    Seal,
    /// A reply page: page `page` of `pages`.
    Reply {
        /// 1-based.
        page: u8,
        /// Number of reply pages.
        pages: u8,
    },
    /// A continuation page of the letter: no code.
    Plain,
}

/// A rendered letter: its PDF and what each page carries.
#[derive(Debug)]
pub struct Letter {
    /// The reference in the seal and the reply codes.
    pub reference: Reference,
    /// The PDF.
    pub pdf: Vec<u8>,
    /// One entry per page.
    pub pages: Vec<PageKind>,
    /// The text of each page's code: the seal's on page 1, the reply code's on reply pages.
    pub texts: Vec<Option<String>>,
}

/// Renders the sample official letter with reference `reference`, a seal signed by `key`,
/// `reply_pages` reply pages (0 for none) and `extra_paragraphs` more paragraphs of body so the
/// letter runs onto a second page.
pub fn render(
    reference: &Reference,
    key: &SigningKey,
    reply_pages: u8,
    extra_paragraphs: usize,
) -> Result<Letter, Box<dyn std::error::Error>> {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/letters/official.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture)?)?;
    if let Some(body) = json.get_mut("body").and_then(|b| b.as_array_mut()) {
        let first = body.first().cloned().unwrap_or_default();
        for _ in 0..extra_paragraphs {
            body.push(first.clone());
        }
    }
    if let Some(o) = json.as_object_mut().filter(|_| reply_pages == 0) {
        o.remove("reply");
    }
    let letter: NewLetter = serde_json::from_value(json)?;
    let payload = SealPayload {
        version: FORMAT_VERSION,
        issuer: ISSUER.into(),
        reference: reference.clone(),
        issue_date: day(2026, 11, 22),
        document_type: DocumentType::Decision,
        reply_by: (reply_pages > 0).then(|| day(2027, 1, 31)),
        digest: ContentDigest::of(reference.as_bytes()),
        expires: day(2036, 11, 22),
    };
    let seal = Seal::sign(&payload, key)?.to_qr_text(HOST);
    let rkey = reply_key();
    let reply = (reply_pages > 0).then(|| {
        let pages = (1..=reply_pages)
            .map(|page| {
                let code = ReplyCode::new(reference.clone(), page, reply_pages).expect("valid page");
                modules(code.qr_matrix(&rkey).expect("a reply code fits a QR code"))
            })
            .collect();
        ReplySheet {
            pages,
            reference_digits: reference.to_digits(),
            deadline: time::Date::from_calendar_date(2027, time::Month::January, 31).expect("valid date"),
        }
    });
    let sender = Sender {
        agency_name: "สำนักงานเขตพญาไท".to_string(),
        agency_address_lines: vec!["๑๒ ถนนพหลโยธิน".to_string(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".to_string()],
    };
    let options = LetterOptions {
        issue_date: time::Date::from_calendar_date(2026, time::Month::November, 22).expect("valid date"),
        verification_host: HOST.to_lowercase(),
        pin: Some("482913".to_string()),
        seal: Some(modules(qr_matrix(&seal)?)),
        reply,
        seal_url: None,
    };
    let rendered = render_letter(&letter, &sender, &options)?;
    let mut pages = vec![PageKind::Seal];
    pages.extend((1..rendered.letter_pages).map(|_| PageKind::Plain));
    pages.extend((1..=reply_pages).map(|page| PageKind::Reply { page, pages: reply_pages }));
    assert_eq!(pages.len(), rendered.pages, "the page list matches the rendered pages");
    let texts = pages
        .iter()
        .map(|kind| match kind {
            PageKind::Seal => Some(seal.clone()),
            PageKind::Reply { page, pages } => {
                Some(ReplyCode::new(reference.clone(), *page, *pages).expect("valid page").to_text(&rkey))
            }
            PageKind::Plain => None,
        })
        .collect();
    Ok(Letter { reference: reference.clone(), pdf: rendered.pdf, pages, texts })
}

/// Rasterises every page of `pdf` in grey at `dpi` with `pdftoppm -gray`, in a folder under
/// `work`.
pub fn rasterise(pdf: &[u8], dpi: u32, work: &Path) -> Result<Vec<GrayImage>, String> {
    std::fs::create_dir_all(work).map_err(|e| format!("cannot make {}: {e}", work.display()))?;
    let input = work.join("letter.pdf");
    std::fs::write(&input, pdf).map_err(|e| format!("cannot write {}: {e}", input.display()))?;
    let prefix = work.join("page");
    let output = Command::new("pdftoppm")
        .arg("-gray")
        .arg("-r")
        .arg(dpi.to_string())
        .arg(&input)
        .arg(&prefix)
        .output()
        .map_err(|e| format!("cannot run pdftoppm ({e}): install poppler-utils (apt-get install poppler-utils)"))?;
    if !output.status.success() {
        return Err(format!("pdftoppm failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let mut files: Vec<_> = std::fs::read_dir(work)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pgm"))
        .collect();
    files.sort();
    let pages = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).map_err(|e| e.to_string())?;
            std::fs::remove_file(f).map_err(|e| e.to_string())?;
            read_pgm(&bytes).ok_or_else(|| format!("{} is not a P5 PGM file", f.display()))
        })
        .collect::<Result<Vec<_>, String>>()?;
    std::fs::remove_file(&input).map_err(|e| e.to_string())?;
    Ok(pages)
}

/// Reads a binary PGM (P5, 8-bit) as pdftoppm writes it.
fn read_pgm(bytes: &[u8]) -> Option<GrayImage> {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) == Some(&b'#') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..i]).ok()?.to_string());
    }
    if fields[0] != "P5" || fields[3] != "255" {
        return None;
    }
    let (w, h): (u32, u32) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
    let data = bytes.get(i + 1..i + 1 + (w * h) as usize)?;
    GrayImage::from_raw(w, h, data.to_vec())
}

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

/// Decodes JPEG bytes to grey.
pub fn from_jpeg(bytes: &[u8]) -> GrayImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).expect("our own JPEG").to_luma8()
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
