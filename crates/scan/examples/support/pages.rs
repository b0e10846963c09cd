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

// The scanner damage lives in the library, for `hybridpost demo` too.
#[allow(unused_imports, reason = "each example and test uses a different part of the damage")]
pub use hybridpost_scan::degrade::{
    Rng, blur, contrast, invert_area, jpeg, noise, salt_and_pepper, scribble, skew, turn,
};

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

/// The test issuer's seal signing key (P-256, PKCS#8), made for these tests and used nowhere
/// else.
const SIGNING_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgK89ORF5TtXWk7+tt
+6PgU1+3Pk5+zCrgadv6uf7KTu6hRANCAAT9BBk7LVEqaMqt6iCvylYiHMyB7hTL
18e2NmHCSBWk0LD2BqquI6icF6gRQ2klA8IiJCcY4xDPQKCWNEOR1IzE
-----END PRIVATE KEY-----
";

/// The test issuer's seal signing key, valid 2026–2027. Fixed, so that a seal's text, and so
/// its modules, are the same in every run: whether a blurred symbol with three-pixel modules
/// reads depends on its modules, and a fresh key made such a test fail one run in thirty.
pub fn signing_key() -> SigningKey {
    SigningKey::from_pkcs8_pem(
        SIGNING_KEY_PEM,
        ISSUER,
        Validity { not_before: day(2026, 1, 1), not_after: day(2027, 12, 31) },
    )
    .expect("the test key parses")
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
    /// Where the reply sheet's answer boxes are printed.
    pub answer_boxes: Vec<hybridpost_render::AnswerBox>,
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
        emblem: None,
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
    Ok(Letter { reference: reference.clone(), pdf: rendered.pdf, pages, texts, answer_boxes: rendered.answer_boxes })
}

/// The sample agency form of `fixtures/forms/` (three pages), returned as the reply sheet.
pub const FORM_PDF: &[u8] = include_bytes!("../../../../fixtures/forms/household-survey.pdf");
/// Where the sample form's answer boxes are, as the agency declares them.
pub const FORM_ANSWERS: &str = include_str!("../../../../fixtures/forms/household-survey.answers.json");

/// The sample letter with reference `reference` and a seal signed by `key`, followed by the
/// sample agency form as its reply sheet: each form page stamped with its reply code and the
/// reference, as the service prints it.
pub fn render_with_form(reference: &Reference, key: &SigningKey) -> Result<Letter, Box<dyn std::error::Error>> {
    let mut letter = render(reference, key, 0, 0)?;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/letters/official.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture)?)?;
    let content: NewLetter = serde_json::from_value(json)?;
    let rkey = reply_key();
    let mut texts = Vec::new();
    let stamped = hybridpost_pdfcheck::stamp_pages(FORM_PDF, |n| {
        let pages = u8::try_from(n).map_err(|e| e.to_string())?;
        let codes = (1..=pages)
            .map(|page| {
                let code = ReplyCode::new(reference.clone(), page, pages).map_err(|e| e.to_string())?;
                texts.push(code.to_text(&rkey));
                Ok(modules(code.qr_matrix(&rkey).map_err(|e| e.0)?))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let sheet = ReplySheet {
            pages: codes,
            reference_digits: reference.to_digits(),
            deadline: time::Date::from_calendar_date(2027, time::Month::January, 31).map_err(|e| e.to_string())?,
        };
        let stamps = hybridpost_render::form_stamps(hybridpost_render::LetterTemplates::builtin(), &content, &sheet)
            .map_err(|e| e.to_string())?;
        stamps.to_pdf().map_err(|e| e.to_string())
    })?;
    letter.pdf = hybridpost_pdfcheck::append_pages(&letter.pdf, &stamped)?;
    let pages = u8::try_from(texts.len())?;
    letter.pages.extend((1..=pages).map(|page| PageKind::Reply { page, pages }));
    letter.texts.extend(texts.into_iter().map(Some));
    // The form's boxes, as its answers declare them.
    let declared: Vec<serde_json::Value> = serde_json::from_str(FORM_ANSWERS)?;
    letter.answer_boxes = declared
        .iter()
        .zip(1u8..)
        .map(|(b, choice)| {
            let number = |k: &str| b[k].as_f64().unwrap_or_default() as f32;
            hybridpost_render::AnswerBox {
                reply_page: 1,
                choice,
                area: hybridpost_render::Area::new(number("x"), number("y"), number("side"), number("side")),
            }
        })
        .collect();
    Ok(letter)
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

/// Decodes JPEG bytes to grey.
pub fn from_jpeg(bytes: &[u8]) -> GrayImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).expect("our own JPEG").to_luma8()
}
