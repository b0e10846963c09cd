//! Print batches end to end on the store named by `HYBRIDPOST_TEST_DATABASE_URL`: closing per
//! site, rendering to a real PDF (checked with `qpdf`, `pdfinfo` and `pdftotext` from
//! poppler-utils; a missing tool fails the test), the operator API, and the letters' timelines.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_compose::Inputs;
use hybridpost_core::{AgencyId, Channel, ChannelReason, HoldReason, LetterId, LetterStatus, NewLetter, SiteId};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_printroom::{PdfBatchRenderer, PrintItem, PrintroomConfig, PrintroomState};
use hybridpost_render::{LetterOptions, Sender, lay_out_letter};
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{BlobKey, Store, documents, held, now_text, outbox, print};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use serde_json::{Value, json};
use tower::ServiceExt;

mod support;

use support::compose;

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
        blobs: hybridpost_store::testing::test_blobs(blobs_dir.path(), 256 << 20),
        renderer: Arc::new(PdfBatchRenderer::new(Arc::new(compose))),
        config: Arc::new(PrintroomConfig {
            max_batch_letters: 100,
            render_lease: Duration::from_secs(60),
            batch_interval: Duration::from_secs(3600),
            alarm_after: Some(Duration::from_secs(48 * 3600)),
        }),
    };
    let app = hybridpost_printroom::router(state.clone(), Duration::from_secs(30));
    World { state, app, store, agency: agency.agency_id, bangkok, phaya_thai, blobs_dir, _db: db }
}

/// Queues a letter for print as the gateway does.
async fn queue(w: &World, name: &str, postcode: &str, reference: &str, test: bool) -> LetterId {
    queue_content(w, name, postcode, reference, test, |_| {}).await
}

/// Queues a letter for print as the gateway does, its content changed by `edit`.
async fn queue_content(
    w: &World,
    name: &str,
    postcode: &str,
    reference: &str,
    test: bool,
    edit: impl FnOnce(&mut Value),
) -> LetterId {
    let mut content: Value = serde_json::from_str(FIXTURE).unwrap();
    content["recipient"]["name"] = json!(name);
    content["recipient"]["address"]["postcode"] = json!(postcode);
    content["reference"] = json!(reference);
    // No reply sheet: these letters carry no seal, so no reply codes.
    content.as_object_mut().unwrap().remove("reply");
    edit(&mut content);
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
    let queued = events::append_event(
        &mut tx,
        NewEvent {
            agency_id: w.agency,
            letter_id: record.letter_id,
            kind: hybridpost_core::EventKind::QueuedForPrint,
            status: LetterStatus::QueuedForPrint,
            detail: None,
            request_id: None,
        },
    )
    .await
    .unwrap();
    queue_event_webhooks(&mut tx, &[queued]).await.unwrap();
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
        .map(|e| (e.kind.as_str().to_owned(), e.detail.unwrap_or(Value::Null)))
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
    add_webhook(&w).await;
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
    assert_eq!(lines[0], "envelope,letter_id,first_page,pages,sheets,postcode,urgency");
    assert_eq!(lines[1], format!("1,{a},3,1,1,10110,"));
    assert_eq!(lines[2], format!("2,{b},5,1,1,10200,"));
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
        hybridpost_printroom::close_batch_for_site(&w.state, *site, None).await.unwrap().is_none(),
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
    assert_every_event_went_out_by_webhook(&w).await;
}

#[tokio::test]
async fn an_urgent_letter_goes_first_and_its_urgency_is_on_the_manifest() {
    let w = world().await;
    let plain = queue(&w, "นายหนึ่ง ทดสอบ", "10110", "ที่ 1", false).await;
    let urgent = queue_content(&w, "นางสาวสอง ทดสอบ", "10200", "ที่ 2", false, |c| {
        c["urgency"] = json!("ด่วนที่สุด");
    })
    .await;
    hybridpost_printroom::close_batches(&w.state).await.unwrap();
    let batch = hybridpost_printroom::render_next_batch(&w.state).await.unwrap().unwrap();
    let (status, csv) =
        call(&w, Method::GET, &format!("/v1/print/batches/{batch}/manifest?format=csv"), &w.bangkok.1, None).await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[1].starts_with(&format!("1,{urgent},")) && lines[1].ends_with(",10200,most_urgent"), "{csv}");
    assert!(lines[2].starts_with(&format!("2,{plain},")) && lines[2].ends_with(",10110,"), "{csv}");
}

#[tokio::test]
async fn a_tracking_number_another_letter_has_is_refused_by_name_and_the_batch_stays_printed() {
    let w = world().await;
    let key = &w.bangkok.1;
    let mut batches = Vec::new();
    for i in 0..2 {
        queue(&w, &format!("นายทดสอบ ที่{i}"), &format!("1011{i}"), "ที่ 1", false).await;
        hybridpost_printroom::close_batches(&w.state).await.unwrap();
        let batch = hybridpost_printroom::render_next_batch(&w.state).await.unwrap().unwrap();
        let (status, _) = call(&w, Method::POST, &format!("/v1/print/batches/{batch}/printed"), key, None).await;
        assert_eq!(status, StatusCode::OK);
        batches.push(batch);
    }
    let first = json!({"first_tracking_number": "RB123456785TH"});
    let (status, body) =
        call(&w, Method::POST, &format!("/v1/print/batches/{}/dispatched", batches[0]), key, Some(first.clone())).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, body) =
        call(&w, Method::POST, &format!("/v1/print/batches/{}/dispatched", batches[1]), key, Some(first)).await;
    let text = String::from_utf8_lossy(&body);
    assert!(status.is_client_error(), "{status}: {text}");
    assert!(text.contains("RB123456785TH is already used"), "{text}");
    let (_, body) = call(&w, Method::GET, &format!("/v1/print/batches/{}", batches[1]), key, None).await;
    assert_eq!(json_of(&body)["status"], "printed", "nothing of the refused step is kept");
}

#[tokio::test]
async fn a_dead_renderers_claim_expires_and_the_batch_renders_to_the_same_bytes_every_time() {
    let w = world().await;
    for i in 0..3 {
        queue(&w, &format!("นายทดสอบ ที่{i}"), &format!("1012{i}"), "ที่ 1", false).await;
    }
    let batch = hybridpost_printroom::close_batch_for_site(&w.state, w.bangkok.0, None).await.unwrap().unwrap();

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
        items.push(PrintItem { position: m.position, letter, inputs: Inputs::of(agency.clone()) });
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

/// Registers a webhook endpoint for the agency, taking every event kind.
async fn add_webhook(w: &World) -> String {
    let endpoint = outbox::WebhookEndpoint {
        endpoint_id: hybridpost_core::EndpointId::new(),
        agency_id: w.agency,
        test: false,
        url: "https://saraban.example.go.th/hooks".into(),
        events: Vec::new(),
        secret_wrapped: vec![0; 60],
        created_at: now_text(),
    };
    let mut tx = w.store.begin().await.unwrap();
    outbox::insert_endpoint(&mut tx, &endpoint).await.unwrap();
    tx.commit().await.unwrap();
    endpoint.endpoint_id.to_string()
}

/// Every event of the agency's live letters was queued exactly once as a webhook to the endpoint
/// [`add_webhook`] registered (it takes every kind): no writer recorded events and forgot them.
async fn assert_every_event_went_out_by_webhook(w: &World) {
    let scope = hybridpost_core::AgencyScope::live(w.agency);
    // An event shows in the feed once every older transaction in the database has finished: on
    // PostgreSQL, tests running beside this one can hold the newest back for a moment, while
    // its webhook (written in the same transaction) is already there. Read as a client would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let (events, pushed) = loop {
        let mut conn = w.store.read().await.unwrap();
        let events = events::list_events(&mut conn, scope, events::FeedCursor::default(), 100_000).await.unwrap();
        assert!(!events.is_empty());
        let mut pushed: HashMap<String, usize> = HashMap::new();
        let mut letters: Vec<LetterId> = events.iter().map(|e| e.letter_id).collect();
        letters.sort();
        letters.dedup();
        for letter in letters {
            for n in outbox::letter_notifications(&mut conn, letter).await.unwrap() {
                if n.kind == outbox::NotificationKind::Webhook {
                    let id = json_of(n.payload.as_bytes())["data"]["event_id"].as_str().unwrap().to_owned();
                    *pushed.entry(id).or_default() += 1;
                }
            }
        }
        if pushed.len() == events.len() || std::time::Instant::now() > deadline {
            break (events, pushed);
        }
        drop(conn);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for e in &events {
        let n = pushed.get(&e.event_id.to_string()).copied().unwrap_or(0);
        assert_eq!(n, 1, "the {} event of letter {} went out by webhook {n} times", e.kind, e.letter_id);
    }
    assert_eq!(pushed.len(), events.len(), "a webhook for an event not in the feed");
}

/// The kinds of event the letter's webhooks carry, in order.
async fn webhook_kinds(w: &World, letter: LetterId) -> Vec<String> {
    let mut conn = w.store.read().await.unwrap();
    outbox::letter_notifications(&mut conn, letter)
        .await
        .unwrap()
        .iter()
        .filter(|n| n.kind == outbox::NotificationKind::Webhook)
        .map(|n| json_of(n.payload.as_bytes())["data"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn stuck(w: &World) -> Vec<(LetterId, HoldReason)> {
    let mut conn = w.store.read().await.unwrap();
    held::list_stuck(&mut conn).await.unwrap().iter().map(|s| (s.letter_id, s.reason)).collect()
}

/// The value of one series in Prometheus' text format.
fn gauge(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)).map(|v| v.trim().parse().unwrap())
}

fn kinds(events: &[(String, Value)], kind: &str) -> usize {
    events.iter().filter(|(k, _)| k == kind).count()
}

async fn render_all(w: &World) {
    while hybridpost_printroom::render_next_batch(&w.state).await.unwrap().is_some() {}
}

#[tokio::test]
async fn a_letter_whose_pdf_fails_to_render_is_reported_listed_and_prints_in_the_next_batch_after_a_retry() {
    let w = world().await;
    add_webhook(&w).await;
    // The agency's PDF was uploaded and checked, but its blob is not in storage (lost, to be
    // restored from a backup).
    let document_id = hybridpost_core::DocumentId::new();
    let blob_key = BlobKey::parse(&format!("documents/{}/{document_id}.pdf", w.agency)).unwrap();
    let mut tx = w.store.begin().await.unwrap();
    documents::insert_document(
        &mut tx,
        &documents::DocumentRecord {
            document_id,
            agency_id: w.agency,
            test: false,
            blob_key: blob_key.as_str().to_owned(),
            sha256: "0".repeat(64),
            pages: 1,
            bytes: 1,
            created_at: now_text(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let letter = queue_content(&w, "นายหนึ่ง ทดสอบ", "10110", "ที่ 1", false, |c| {
        c["document_id"] = json!(document_id);
    })
    .await;

    hybridpost_printroom::close_batches(&w.state).await.unwrap();
    render_all(&w).await;
    let events = timeline(&w, letter).await;
    assert_eq!(events.last().unwrap().0, "render_failed");
    assert_eq!(events.last().unwrap().1["reason"], "the agency's PDF cannot be used: it is missing from storage");
    assert_eq!(webhook_kinds(&w, letter).await.last().unwrap(), "render_failed", "the agency is told by webhook");
    assert_eq!(stuck(&w).await, [(letter, HoldReason::RenderFailed)]);
    let check = hybridpost_printroom::check_held_letters(&w.state).await.unwrap();
    assert!(check.held.contains(&(HoldReason::RenderFailed, 1)), "{:?}", check.held);
    assert!(check.unroutable.is_empty() && check.overdue.is_empty(), "a held letter is reported once: {check:?}");
    assert!(hybridpost_printroom::close_batches(&w.state).await.unwrap().is_empty(), "held letters stay out");

    // The operator restores the PDF; the agency retries, and the letter prints in the next batch.
    let pdf = {
        let mut content: Value = serde_json::from_str(FIXTURE).unwrap();
        content.as_object_mut().unwrap().remove("reply");
        let letter: NewLetter = serde_json::from_value(content).unwrap();
        let sender = Sender { agency_name: "x".into(), agency_address_lines: Vec::new() };
        let options = LetterOptions {
            emblem: None,
            issue_date: time::macros::date!(2026 - 11 - 22),
            verification_host: "HP.GO.TH".into(),
            pin: None,
            seal: None,
            reply: None,
            seal_url: None,
        };
        lay_out_letter(&letter, &sender, &options).unwrap().0.to_pdf().unwrap()
    };
    w.state.blobs.put(&blob_key, pdf).await.unwrap();
    let mut tx = w.store.begin().await.unwrap();
    let retried = held::retry_render(&mut tx, w.agency, letter, Some("req-1"), &now_text()).await.unwrap();
    queue_event_webhooks(&mut tx, &[retried]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(stuck(&w).await.is_empty());
    let mut tx = w.store.begin().await.unwrap();
    let again = held::retry_render(&mut tx, w.agency, letter, None, &now_text()).await;
    assert!(matches!(again, Err(held::RetryError::NotHeld { .. })), "only a held letter is retried: {again:?}");
    drop(tx);

    let made = hybridpost_printroom::close_batches(&w.state).await.unwrap();
    assert_eq!(made.len(), 1);
    render_all(&w).await;
    let mut conn = w.store.read().await.unwrap();
    let members = print::batch_letters(&mut conn, made[0].batch_id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].letter_id, letter);
    assert!(members[0].pages.unwrap() >= 2, "the cover page, then the agency's pages: {:?}", members[0].pages);
    drop(conn);
    let events = timeline(&w, letter).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["queued_for_print", "batched", "render_failed", "print_retried", "batched"]);
    assert_eq!(events[3].1["previous_reason"], "the agency's PDF cannot be used: it is missing from storage");
    assert_every_event_went_out_by_webhook(&w).await;
}

#[tokio::test]
async fn a_letter_no_site_serves_is_reported_once_counted_and_moves_on_when_a_site_for_it_is_created() {
    let w = world().await;
    add_webhook(&w).await;
    let nowhere = queue(&w, "นายหก ทดสอบ", "50200", "ที่ 6", false).await;
    let served = queue(&w, "นายหนึ่ง ทดสอบ", "10110", "ที่ 1", false).await;
    queue(&w, "นายเจ็ด ทดสอบ", "50300", "ที่ 7", true).await;

    // The gauge, read from a recorder of this test's own.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let check = hybridpost_printroom::check_held_letters(&w.state).await.unwrap();
    assert_eq!(check.unroutable, [nowhere], "test letters never print, so they are never unroutable");
    assert_eq!(gauge(&metrics.render(), r#"hybridpost_letters_held{reason="unroutable"}"#), Some(1.0));
    let again = hybridpost_printroom::check_held_letters(&w.state).await.unwrap();
    assert!(again.unroutable.is_empty(), "reported once");
    assert_eq!(kinds(&timeline(&w, nowhere).await, "unroutable"), 1);
    assert_eq!(timeline(&w, nowhere).await.last().unwrap().1["postcode"], "50200");
    assert_eq!(webhook_kinds(&w, nowhere).await.iter().filter(|k| *k == "unroutable").count(), 1);
    assert!(kinds(&timeline(&w, served).await, "unroutable") == 0);
    assert_eq!(stuck(&w).await, [(nowhere, HoldReason::Unroutable)]);

    // A site for Chiang Mai: the letter is routable again and goes into its first batch.
    let (chiang_mai, _) = add_site(&w.store, "ปณ. เชียงใหม่", &["50"]).await;
    assert!(stuck(&w).await.is_empty(), "creating the site clears the alarm");
    let check = hybridpost_printroom::check_held_letters(&w.state).await.unwrap();
    assert!(check.held.iter().all(|(_, n)| *n == 0), "{:?}", check.held);
    assert_eq!(gauge(&metrics.render(), r#"hybridpost_letters_held{reason="unroutable"}"#), Some(0.0));
    let made = hybridpost_printroom::close_batches(&w.state).await.unwrap();
    let batch = made.iter().find(|b| b.site_id == chiang_mai).expect("a batch for the new site");
    let mut conn = w.store.read().await.unwrap();
    let members: Vec<LetterId> =
        print::batch_letters(&mut conn, batch.batch_id).await.unwrap().iter().map(|m| m.letter_id).collect();
    assert_eq!(members, [nowhere]);
    drop(conn);
    assert_every_event_went_out_by_webhook(&w).await;
}

#[tokio::test]
async fn a_letter_waiting_past_the_alarm_age_raises_print_overdue_once() {
    let w = world().await;
    add_webhook(&w).await;
    let old = queue(&w, "นายหนึ่ง ทดสอบ", "10110", "ที่ 1", false).await;
    let fresh = queue(&w, "นายสอง ทดสอบ", "10120", "ที่ 2", false).await;
    // Queued three days ago (more than the 48 hours of the world's config).
    let three_days_ago =
        hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - Duration::from_secs(72 * 3600));
    let mut tx = w.store.begin().await.unwrap();
    sqlx::query("update letter set updated_at = $1 where letter_id = $2")
        .bind(&three_days_ago)
        .bind(old.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let check = hybridpost_printroom::check_held_letters(&w.state).await.unwrap();
    assert_eq!(check.overdue, [old]);
    assert!(check.held.contains(&(HoldReason::PrintOverdue, 1)), "{:?}", check.held);
    for _ in 0..2 {
        assert!(hybridpost_printroom::check_held_letters(&w.state).await.unwrap().overdue.is_empty(), "once");
    }
    let events = timeline(&w, old).await;
    assert_eq!(kinds(&events, "print_overdue"), 1);
    assert_eq!(events.last().unwrap().1["since"], three_days_ago);
    assert_eq!(webhook_kinds(&w, old).await.iter().filter(|k| *k == "print_overdue").count(), 1);
    assert_eq!(kinds(&timeline(&w, fresh).await, "print_overdue"), 0);
    assert_eq!(stuck(&w).await, [(old, HoldReason::PrintOverdue)]);

    // Once it is batched, it is no longer late.
    hybridpost_printroom::close_batches(&w.state).await.unwrap();
    assert!(stuck(&w).await.is_empty());
    assert_every_event_went_out_by_webhook(&w).await;
}
