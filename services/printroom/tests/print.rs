//! Print batches end to end on the store named by `HYBRIDPOST_TEST_DATABASE_URL`: closing per
//! site, rendering to a real PDF (checked with `qpdf`, `pdfinfo` and `pdftotext` from
//! poppler-utils; a missing tool fails the test), the operator API, and the letters' timelines.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_core::{AgencyId, Channel, ChannelReason, LetterId, LetterStatus, NewLetter, SiteId};
use hybridpost_printroom::{Composed, PdfBatchRenderer, PrintItem, PrintroomConfig, PrintroomState};
use hybridpost_render::{LetterOptions, Sender, lay_out_letter};
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{BlobKey, BlobStore, Store, now_text, print};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use serde_json::{Value, json};
use tower::ServiceExt;

const FIXTURE: &str = include_str!("../../../fixtures/letters/official.json");

struct World {
    state: PrintroomState,
    app: Router,
    store: Store,
    agency: AgencyId,
    /// Site for postcodes 10…, and its key.
    bangkok: (SiteId, String),
    /// Site for 104… (longer prefix wins), and its key.
    phaya_thai: (SiteId, String),
    blobs_dir: tempfile::TempDir,
    _db: TestStore,
}

fn compose(item: &PrintItem) -> Result<Composed, String> {
    let letter: NewLetter = serde_json::from_value(item.letter.content.clone()).map_err(|e| e.to_string())?;
    let sender = Sender {
        agency_name: item.agency.name.clone(),
        agency_address_lines: vec!["ถนนพญาไท แขวงพญาไท".into(), "เขตพญาไท กรุงเทพมหานคร 10400".into()],
    };
    let options = LetterOptions {
        issue_date: time::macros::date!(2026 - 11 - 22),
        verification_host: "HP.GO.TH".into(),
        pin: Some("12345678".into()),
        seal: None,
        reply: None,
        seal_url: None,
    };
    let (doc, _) = lay_out_letter(&letter, &sender, &options).map_err(|e| e.to_string())?;
    // Letters whose reference says so bring their own PDF, here a damaged one.
    if letter.reference.starts_with("BYO") {
        return Ok(Composed::CoverAndPdf(doc, b"%PDF-1.7\n1 0 obj << /Type /Catalog".to_vec()));
    }
    Ok(Composed::Document(doc))
}

async fn add_site(store: &Store, name: &str, prefixes: &[&str]) -> (SiteId, String) {
    let site = Site {
        site_id: SiteId::new(),
        name: name.into(),
        postcode_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
        created_at: now_text(),
    };
    let key = generate_api_key(Principal::Site { site_id: site.site_id });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    (site.site_id, key.key)
}

async fn world() -> World {
    let db = test_store().await;
    let store = db.store.clone();
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    tx.commit().await.unwrap();
    let bangkok = add_site(&store, "ศูนย์ไปรษณีย์กรุงเทพ", &["10", "11"]).await;
    let phaya_thai = add_site(&store, "ปณ. พญาไท", &["104"]).await;
    let blobs_dir = tempfile::tempdir().unwrap();
    let state = PrintroomState {
        store: store.clone(),
        keys: ApiKeys::new(store.clone(), RateLimiter::new(0, 0)),
        blobs: BlobStore::local(blobs_dir.path(), 256 << 20).unwrap(),
        renderer: Arc::new(PdfBatchRenderer::new(Arc::new(compose))),
        config: Arc::new(PrintroomConfig {
            max_batch_letters: 100,
            render_lease: Duration::from_secs(60),
            batch_interval: Duration::from_secs(3600),
        }),
    };
    let app = hybridpost_printroom::router(state.clone(), Duration::from_secs(30));
    World { state, app, store, agency: agency.agency_id, bangkok, phaya_thai, blobs_dir, _db: db }
}

/// Queues a letter for print as the gateway does.
async fn queue(w: &World, name: &str, postcode: &str, reference: &str, test: bool) -> LetterId {
    let mut content: Value = serde_json::from_str(FIXTURE).unwrap();
    content["recipient"]["name"] = json!(name);
    content["recipient"]["address"]["postcode"] = json!(postcode);
    content["reference"] = json!(reference);
    // No reply sheet: these letters carry no seal, so no reply codes.
    content.as_object_mut().unwrap().remove("reply");
    let record = LetterRecord {
        letter_id: LetterId::new(),
        agency_id: w.agency,
        reference: reference.into(),
        status: LetterStatus::QueuedForPrint,
        channel: Channel::Print,
        channel_reason: ChannelReason::NoCitizenId,
        test,
        postcode: postcode.into(),
        citizen_id_hash: None,
        reply_deadline: None,
        content,
        created_at: now_text(),
        updated_at: now_text(),
        seal: None,
        withdrawn: None,
    };
    let mut tx = w.store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &record).await.unwrap();
    events::append_event(
        &mut tx,
        NewEvent {
            agency_id: w.agency,
            letter_id: record.letter_id,
            kind: "queued_for_print",
            status: LetterStatus::QueuedForPrint,
            detail: None,
            request_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    record.letter_id
}

async fn call(w: &World, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {key}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = w.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = response.status();
    (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

async fn timeline(w: &World, letter: LetterId) -> Vec<(String, Value)> {
    let mut conn = w.store.read().await.unwrap();
    events::letter_timeline(&mut conn, letter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.detail.unwrap_or(Value::Null)))
        .collect()
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| panic!("{name} must be installed: {e}"));
    assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_batch_closes_per_site_renders_leaves_out_a_broken_letter_and_is_printed_and_dispatched() {
    let w = world().await;
    let a = queue(&w, "นายหนึ่ง ทดสอบ", "10110", "ที่ 1", false).await;
    let b = queue(&w, "นางสาวสอง ทดสอบ", "10200", "ที่ 2", false).await;
    let broken = queue(&w, "นายสาม ทดสอบ", "10300", "BYO 3", false).await;
    let phaya_thai_letter = queue(&w, "นายสี่ ทดสอบ", "10400", "ที่ 4", false).await;
    let test_letter = queue(&w, "นายห้า ทดสอบ", "10500", "ที่ 5", true).await;
    let nowhere = queue(&w, "นายหก ทดสอบ", "50200", "ที่ 6", false).await;

    let made = hybridpost_printroom::close_batches(&w.state).await.unwrap();
    assert_eq!(made.len(), 2, "one batch per site with letters");
    let bangkok_batch = made.iter().find(|b| b.site_id == w.bangkok.0).unwrap();
    let mut conn = w.store.read().await.unwrap();
    let members: Vec<LetterId> =
        print::batch_letters(&mut conn, bangkok_batch.batch_id).await.unwrap().iter().map(|m| m.letter_id).collect();
    assert_eq!(members, vec![a, b, broken], "postcode order; 10400 goes to the site with the longer prefix");
    let other: Vec<LetterId> =
        print::batch_letters(&mut conn, made.iter().find(|b| b.site_id == w.phaya_thai.0).unwrap().batch_id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.letter_id)
            .collect();
    assert_eq!(other, vec![phaya_thai_letter]);
    for (id, status) in [(test_letter, LetterStatus::QueuedForPrint), (nowhere, LetterStatus::QueuedForPrint)] {
        let l = letters::get_letter_any_agency(&mut conn, id).await.unwrap().unwrap();
        assert_eq!(l.status, status, "test letters and letters no site serves stay out of batches");
    }
    drop(conn);

    // Render both batches.
    let mut rendered = Vec::new();
    while let Some(id) = hybridpost_printroom::render_next_batch(&w.state).await.unwrap() {
        rendered.push(id);
    }
    assert_eq!(rendered.len(), 2);

    let (site, key) = (&w.bangkok.0, &w.bangkok.1);
    let (status, body) =
        call(&w, Method::GET, &format!("/v1/print/batches/{}", bangkok_batch.batch_id), key, None).await;
    assert_eq!(status, StatusCode::OK);
    let detail = json_of(&body);
    assert_eq!(detail["status"], "ready");
    assert_eq!(detail["letters"], 2, "the broken letter left the batch");
    // Cover sheet + blank back, then two one-page letters each with a blank back.
    assert_eq!(detail["pages"], 6);
    assert_eq!(detail["sheets"], 3);

    let (status, pdf) =
        call(&w, Method::GET, &format!("/v1/print/batches/{}/pdf", bangkok_batch.batch_id), key, None).await;
    assert_eq!(status, StatusCode::OK);
    let path = w.blobs_dir.path().join("download.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let path = path.to_str().unwrap();
    tool("qpdf", &["--check", path]);
    assert!(tool("pdfinfo", &[path]).contains("Pages:           6"));

    let (status, csv) =
        call(&w, Method::GET, &format!("/v1/print/batches/{}/manifest?format=csv", bangkok_batch.batch_id), key, None)
            .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "envelope,letter_id,first_page,pages,sheets,postcode");
    assert_eq!(lines[1], format!("1,{a},3,1,1,10110"));
    assert_eq!(lines[2], format!("2,{b},5,1,1,10200"));
    for (line, name) in [(3, "นายหนึ่ง ทดสอบ"), (5, "นางสาวสอง ทดสอบ")]
    {
        let page = line.to_string();
        let text = tool("pdftotext", &["-f", &page, "-l", &page, path, "-"]);
        assert!(text.contains(name), "page {line} is {name}'s letter: {text}");
    }

    // The broken letter: back in the queue, held, with an event saying why.
    let events = timeline(&w, broken).await;
    let (kind, detail) = events.last().unwrap();
    assert_eq!(kind, "render_failed");
    assert!(detail["reason"].as_str().unwrap().len() > 5, "{detail}");
    assert_eq!(detail["held"], true);
    assert!(
        hybridpost_printroom::close_batch_for_site(&w.state, *site).await.unwrap().is_none(),
        "held letters stay out"
    );

    // Another site sees nothing of this batch.
    let (status, _) =
        call(&w, Method::GET, &format!("/v1/print/batches/{}", bangkok_batch.batch_id), &w.phaya_thai.1, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Dispatch before printing is refused; then printed; then bad numbers are all listed.
    let batch_path = format!("/v1/print/batches/{}", bangkok_batch.batch_id);
    let (status, _) = call(
        &w,
        Method::POST,
        &format!("{batch_path}/dispatched"),
        key,
        Some(json!({"first_tracking_number": "RB123456785TH"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&w, Method::POST, &format!("{batch_path}/printed"), key, None).await;
    assert_eq!(status, StatusCode::OK);
    let bad = json!({"tracking_numbers": {a.to_string(): "RB123456784TH", b.to_string(): "XX1TH"}});
    let (status, body) = call(&w, Method::POST, &format!("{batch_path}/dispatched"), key, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json_of(&body);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "every bad number at once: {problem}");
    let (status, body) = call(
        &w,
        Method::POST,
        &format!("{batch_path}/dispatched"),
        key,
        Some(json!({"first_tracking_number": "RB123456785TH"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["status"], "dispatched");

    let kinds: Vec<String> = timeline(&w, a).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["queued_for_print", "batched", "printed", "dispatched"]);
    let (_, detail) = timeline(&w, b).await.pop().unwrap();
    assert_eq!(detail["tracking_number"], "RB123456799TH", "the second label of the roll: serial + 1, new check digit");
}

#[tokio::test]
async fn a_dead_renderers_claim_expires_and_the_batch_renders_to_the_same_bytes_every_time() {
    let w = world().await;
    for i in 0..3 {
        queue(&w, &format!("นายทดสอบ ที่{i}"), &format!("1012{i}"), "ที่ 1", false).await;
    }
    let batch = hybridpost_printroom::close_batch_for_site(&w.state, w.bangkok.0).await.unwrap().unwrap();

    // A worker claims the batch and dies; its claim has run out.
    let past = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - Duration::from_secs(5));
    let mut tx = w.store.begin().await.unwrap();
    let claimed = print::claim_for_render(&mut tx, &now_text(), &past).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.batch_id, batch.batch_id);
    assert_eq!(hybridpost_printroom::render_next_batch(&w.state).await.unwrap(), Some(batch.batch_id));

    let stored = {
        let mut conn = w.store.read().await.unwrap();
        print::get_batch(&mut conn, None, batch.batch_id).await.unwrap().unwrap()
    };
    let pdf = w.state.blobs.get(&BlobKey::parse(stored.pdf_blob.as_deref().unwrap()).unwrap()).await.unwrap().unwrap();

    // Rendering the same letters again gives the same bytes.
    let mut conn = w.store.read().await.unwrap();
    let agency = agencies::get_agency(&mut conn, w.agency).await.unwrap().unwrap();
    let mut items = Vec::new();
    for m in print::batch_letters(&mut conn, batch.batch_id).await.unwrap() {
        let letter = letters::get_letter_any_agency(&mut conn, m.letter_id).await.unwrap().unwrap();
        items.push(PrintItem { position: m.position, letter, agency: agency.clone(), document: None });
    }
    let job = hybridpost_printroom::BatchJob {
        batch_id: batch.batch_id.to_string(),
        site_name: "ศูนย์ไปรษณีย์กรุงเทพ".into(),
        created_at: batch.created_at.clone(),
        letter_count: items.len(),
        postcodes: ("10120".into(), "10122".into()),
    };
    let mut again = Vec::new();
    w.state.renderer.render(&job, &mut items.clone().into_iter(), &mut again).unwrap();
    assert_eq!(again, pdf, "a re-rendered batch is byte for byte the batch first rendered");
}

#[tokio::test]
async fn only_site_keys_reach_the_print_api_and_closing_with_nothing_waiting_says_so() {
    let w = world().await;
    let (status, body) = call(&w, Method::POST, "/v1/print/batches", &w.bangkok.1, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&body).contains("no letters are waiting"));
    let agency_key = generate_api_key(Principal::Agency { agency_id: w.agency, test: false });
    let mut tx = w.store.begin().await.unwrap();
    agencies::insert_api_key(&mut tx, &agency_key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let (status, _) = call(&w, Method::GET, "/v1/print/batches", &agency_key.key, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&w, Method::GET, "/v1/print/batches", "hpk_nonsense", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
