//! A gateway and an intake service over one fresh test store: real letters sent through the
//! agency API (sealed, with reply sheets), rendered by the composer, rasterised with `pdftoppm`
//! (poppler-utils; a missing tool fails the test), and uploaded as scans.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_compose::Composer;
use hybridpost_core::{AgencyId, LetterId, LetterStatus, SiteId};
use hybridpost_gateway::{AppState, GatewayConfig};
use hybridpost_intake::{IntakeConfig, IntakeState};
use hybridpost_keyring::Keyring;
use hybridpost_seal::{Reference, ServiceSecret, base32_decode};
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, now_text};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use image::GrayImage;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const FIXTURE: &str = include_str!("../../../../fixtures/letters/official.json");

pub struct World {
    pub gateway: Router,
    pub intake: Router,
    pub state: IntakeState,
    pub store: Store,
    pub composer: Composer,
    /// Agency A and its key.
    pub a: (AgencyId, String),
    /// Agency B and its key.
    pub b: (AgencyId, String),
    /// Site 1 and its key.
    pub site: (SiteId, String),
    /// Site 2 and its key.
    pub other_site: (SiteId, String),
    pub dir: tempfile::TempDir,
    _db: TestStore,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, String::from_utf8_lossy(&self.bytes)))
    }
}

async fn add_agency(store: &Store, name: &str) -> (AgencyId, String) {
    let mut agency = Agency::new(name);
    agency.contact_email = Some("saraban@example.go.th".into());
    let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test: false });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    (agency.agency_id, key.key)
}

async fn add_site(store: &Store, name: &str, prefix: &str) -> (SiteId, String) {
    let site = Site {
        site_id: SiteId::new(),
        name: name.into(),
        postcode_prefixes: vec![prefix.into()],
        created_at: now_text(),
    };
    let key = generate_api_key(Principal::Site { site_id: site.site_id });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    (site.site_id, key.key)
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn world_with(adjust: impl FnOnce(&mut IntakeConfig)) -> World {
    world_timed(Duration::from_secs(60), adjust).await
}

/// A world whose intake router has `request_timeout`.
pub async fn world_timed(request_timeout: Duration, adjust: impl FnOnce(&mut IntakeConfig)) -> World {
    let db = test_store().await;
    let store = db.store.clone();
    let dir = tempfile::tempdir().unwrap();
    let blobs = hybridpost_store::testing::test_blobs(&dir.path().join("blobs"), 512 << 20);
    let keyring = Keyring::new(store.clone(), ServiceSecret::new(&[7; 32]).unwrap());
    keyring.ensure_trust_list(hybridpost_keyring::today()).await.unwrap();
    let composer = Composer::new(keyring.clone(), "https://hp.example.go.th");
    let a = add_agency(&store, "สำนักงานเขตพญาไท").await;
    let b = add_agency(&store, "กรมสรรพากร").await;
    let site = add_site(&store, "ศูนย์ไปรษณีย์สามเสนใน", "10").await;
    let other_site = add_site(&store, "ปณ. เชียงใหม่", "50").await;
    let keys = ApiKeys::new(store.clone(), RateLimiter::new(0, 0));
    let gateway = hybridpost_gateway::router(
        AppState::new(
            store.clone(),
            keys.clone(),
            GatewayConfig {
                citizen_id_key: Arc::from(&b"citizen key"[..]),
                max_body_bytes: 1 << 20,
                webhook_allow_private_targets: false,
            },
            composer.clone(),
            blobs.clone(),
        ),
        Duration::from_secs(30),
    );
    // A debug build searches a page many times slower than a release build: the budget is
    // raised to match, so that a page without a code is searched to the end as in production.
    let mut config = IntakeConfig {
        workers: 1,
        lease: Duration::from_secs(60),
        page_budget: Duration::from_secs(60),
        ..IntakeConfig::default()
    };
    adjust(&mut config);
    let state = IntakeState {
        store: store.clone(),
        keys,
        blobs,
        keyring,
        reply_key: composer.reply_key(),
        config: Arc::new(config),
    };
    let intake = hybridpost_intake::router(state.clone(), request_timeout);
    World { gateway, intake, state, store, composer, a, b, site, other_site, dir, _db: db }
}

pub async fn call(app: &Router, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    send(app, req.body(body).unwrap()).await
}

/// A request with a body of `content_type`, as `POST /v1/documents` takes a PDF.
pub async fn call_raw(app: &Router, path: &str, key: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    send(app, req).await
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, content_type, bytes }
}

/// A part of a multipart form: a text field or a file.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, Vec<u8>),
}

/// Uploads a multipart form to `POST /v1/scans`.
pub async fn upload(w: &World, key: &str, parts: Vec<Part<'_>>) -> Answer {
    const BOUNDARY: &str = "hybridpost-test-boundary-7f3a";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                body.extend_from_slice(value.as_bytes());
            }
            Part::File(name, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/scans")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .unwrap();
    send(&w.intake, req).await
}

/// Runs the workers until nothing is left to decode or group.
pub async fn drain(w: &World) {
    loop {
        let decoded = hybridpost_intake::decode_next_file(&w.state).await.unwrap();
        let grouped = hybridpost_intake::group_next_scan(&w.state).await.unwrap();
        if !decoded && !grouped {
            return;
        }
    }
}

/// A letter of agency A (or B) sent through the agency API, with a reply sheet.
pub async fn send_letter(w: &World, agency_key: &str, name: &str) -> LetterRecord {
    let mut content: Value = serde_json::from_str(FIXTURE).unwrap();
    content["recipient"]["name"] = json!(name);
    content["salutation"] = json!(format!("เรียน {name}"));
    content.as_object_mut().unwrap().remove("recipient_citizen_id");
    content["recipient"].as_object_mut().unwrap().remove("citizen_id");
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(agency_key), Some(content)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    let id: LetterId = answer.json()["letter_id"].as_str().unwrap().parse().unwrap();
    letter(w, id).await
}

pub async fn letter(w: &World, id: LetterId) -> LetterRecord {
    let mut conn = w.store.read().await.unwrap();
    letters::get_letter_any_agency(&mut conn, id).await.unwrap().unwrap()
}

/// Moves a queued letter on to `dispatched`, as the print room does.
pub async fn dispatch(w: &World, l: &LetterRecord) {
    for to in [LetterStatus::Batched, LetterStatus::Printed, LetterStatus::Dispatched] {
        let mut tx = w.store.begin().await.unwrap();
        let moved = letters::transition(&mut tx, l.agency_id, l.letter_id, to, None, None).await.unwrap();
        hybridpost_notify::outbox::queue_event_webhooks(&mut tx, &moved.events).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// The reference printed in digits on the letter's reply sheet.
pub fn reference_digits(l: &LetterRecord) -> String {
    let seal = l.seal.as_ref().unwrap();
    Reference::from_bytes(&base32_decode(&seal.reference).unwrap()).unwrap().to_digits()
}

/// The letter's PDF exactly as printed.
pub async fn letter_pdf(w: &World, l: &LetterRecord) -> Vec<u8> {
    let mut conn = w.store.read().await.unwrap();
    let agency = agencies::get_agency(&mut conn, l.agency_id).await.unwrap().unwrap();
    w.composer.pdf(l, &hybridpost_compose::Inputs::of(agency)).unwrap()
}

/// The letter's PDF exactly as printed, with the agency's PDFs it names (its own letter,
/// enclosures, the form returned as the reply).
pub async fn letter_pdf_with_documents(w: &World, l: &LetterRecord) -> Vec<u8> {
    let mut conn = w.store.read().await.unwrap();
    let inputs = hybridpost_compose::load_inputs(&mut conn, &w.state.blobs, l).await.unwrap();
    w.composer.pdf(l, &inputs).unwrap()
}

/// The pages of a PDF rasterised in grey at `dpi`, as a document scanner would see them.
pub fn rasterise(pdf: &[u8], dpi: u32) -> Vec<GrayImage> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, pdf).unwrap();
    let out = Command::new("pdftoppm")
        .args(["-gray", "-png", "-r", &dpi.to_string()])
        .arg(&input)
        .arg(dir.path().join("page"))
        .output()
        .expect("pdftoppm must be installed (poppler-utils; ops/test.sh installs it)");
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    files.iter().map(|p| image::open(p).unwrap().to_luma8()).collect()
}

/// PNG bytes of a page.
pub fn png(page: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    page.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// JPEG bytes of a page at `quality`.
pub fn jpeg(page: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(page).unwrap();
    out
}

/// A page with handwriting-like strokes and no code: a citizen's extra sheet. `seed` makes each
/// one different (the same page twice would be a duplicate).
pub fn handwritten_page(seed: u32, width: u32, height: u32) -> GrayImage {
    let mut page = GrayImage::from_pixel(width, height, image::Luma([250]));
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for line in 0..20 {
        let y = height / 8 + line * height / 30;
        let mut x = width / 10;
        while x < width * 8 / 10 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = 5 + state % 40;
            for dx in 0..len {
                for dy in 0..3 {
                    if x + dx < width && y + dy < height {
                        page.put_pixel(x + dx, y + dy + (state % 5), image::Luma([40]));
                    }
                }
            }
            x += len + 8 + state % 20;
        }
    }
    page
}

/// A scanner-like PDF: one JPEG image per page.
pub fn scanned_pdf(pages: &[GrayImage], dpi: f32) -> Vec<u8> {
    use hybridpost_scan::document::{PdfPage, pages_pdf};
    use hybridpost_scan::input::StoredImage;
    let images: Vec<StoredImage> = pages
        .iter()
        .map(|p| StoredImage::Jpeg { bytes: jpeg(p, 80), width: p.width(), height: p.height(), components: 1 })
        .collect();
    let pages: Vec<PdfPage<'_>> =
        images.iter().map(|i| PdfPage { image: i, dpi: Some(dpi), quarter_turns: 0 }).collect();
    pages_pdf(&pages).unwrap()
}

/// Runs a command line tool, failing the test when it is missing or fails.
pub fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} must be installed (ops/test.sh installs it): {e}"));
    assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kinds and details of a letter's events, in order.
pub async fn timeline(w: &World, id: LetterId) -> Vec<(String, Value)> {
    let mut conn = w.store.read().await.unwrap();
    hybridpost_store::events::letter_timeline(&mut conn, id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind.as_str().to_owned(), e.detail.unwrap_or(Value::Null)))
        .collect()
}

/// Outbox e-mails of a purpose about a letter.
pub async fn notices(w: &World, purpose: &str, letter: LetterId) -> usize {
    let mut conn = w.store.read().await.unwrap();
    let rows = hybridpost_store::outbox::letter_notifications(&mut conn, letter).await.unwrap();
    rows.iter().filter(|n| n.purpose == purpose).count()
}

/// Where the answer boxes of `l`'s reply sheet are printed, laid out as the printroom lays
/// them out (the codes' content does not move them).
pub fn answer_boxes(l: &LetterRecord) -> Vec<hybridpost_render::AnswerBox> {
    let content = l.letter().unwrap();
    let matrix = hybridpost_seal::qr_matrix("HPR1 LAYOUT ONLY").unwrap();
    let modules = hybridpost_render::QrModules::new(matrix.width, matrix.modules).unwrap();
    let deadline = time::Date::parse(
        l.reply_deadline.as_deref().unwrap(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    // As many pages as the sheet has: "sheet 1 of n" is in its header.
    let pages = content.reply_request().and_then(|r| r.own_pages()).unwrap_or(1);
    let sheet = hybridpost_render::ReplySheet {
        pages: vec![modules; usize::from(pages)],
        reference_digits: reference_digits(l),
        deadline,
    };
    hybridpost_render::reply_answer_boxes(hybridpost_render::LetterTemplates::builtin(), &content, &sheet).unwrap()
}
