//! What a print-room operator reads of a batch, snapshotted with insta: the batch as the API
//! shows it once rendered and once dispatched, and its manifest as JSON and as CSV. Letters are
//! named by their place in the test (`[letter 1]`…) instead of their fresh ids; batch ids,
//! times and the PDF's hash (the cover sheet carries the batch id) are redacted.
//! Runs on the store named by `HYBRIDPOST_TEST_DATABASE_URL` (SQLite when unset).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_core::{Channel, ChannelReason, LetterId, LetterStatus, SiteId};
use hybridpost_printroom::{PdfBatchRenderer, PrintroomConfig, PrintroomState};
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::testing::test_store;
use hybridpost_store::{Store, now_text};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use insta::dynamic_redaction;
use serde_json::{Value, json};
use tower::ServiceExt;

mod support;

use support::compose;

const FIXTURE: &str = include_str!("../../../fixtures/letters/official.json");

/// A paragraph repeated to make a letter run onto a second page.
const LONG_PARAGRAPH: &str = "สำนักงานเขตได้พิจารณาคำขอของท่านตามหลักเกณฑ์และเงื่อนไขที่กำหนดไว้ในระเบียบที่เกี่ยวข้อง \
     โดยได้ตรวจสอบเอกสารหลักฐานประกอบคำขอครบถ้วนแล้ว เห็นว่าเป็นไปตามหลักเกณฑ์ จึงแจ้งให้ท่านทราบและดำเนินการต่อไป";

/// Queues a letter for print as the gateway does; `paragraphs` long paragraphs are added to its
/// body.
async fn queue(store: &Store, agency: &Agency, name: &str, postcode: &str, paragraphs: usize) -> LetterId {
    let mut content: Value = serde_json::from_str(FIXTURE).unwrap();
    content["recipient"]["name"] = json!(name);
    content["recipient"]["address"]["postcode"] = json!(postcode);
    content.as_object_mut().unwrap().remove("reply");
    content["body"].as_array_mut().unwrap().extend(std::iter::repeat_n(json!(LONG_PARAGRAPH), paragraphs));
    let record = LetterRecord {
        letter_id: LetterId::new(),
        agency_id: agency.agency_id,
        reference: content["reference"].as_str().unwrap().into(),
        status: LetterStatus::QueuedForPrint,
        channel: Channel::Print,
        channel_reason: ChannelReason::NoCitizenId,
        test: false,
        postcode: postcode.into(),
        citizen_id_hash: None,
        reply_deadline: None,
        content,
        created_at: now_text(),
        updated_at: now_text(),
        seal: None,
        withdrawn: None,
    };
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &record).await.unwrap();
    tx.commit().await.unwrap();
    record.letter_id
}

async fn call(app: &Router, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {key}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_rendered_batch_its_manifest_and_its_dispatch_read_as_snapshotted() {
    let db = test_store().await;
    let store = db.store.clone();
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let site = Site {
        site_id: SiteId::new(),
        name: "ศูนย์ไปรษณีย์กรุงเทพ".into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let key = generate_api_key(Principal::Site { site_id: site.site_id });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
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

    // Queued out of postcode order: the batch puts them in postcode order. The second runs to
    // two pages.
    let letters = [
        queue(&store, &agency, "นางสาวสอง ทดสอบ", "10200", 8).await,
        queue(&store, &agency, "นายหนึ่ง ทดสอบ", "10110", 0).await,
        queue(&store, &agency, "นายสาม ทดสอบ", "10400", 0).await,
    ];
    let names: HashMap<String, String> =
        letters.iter().enumerate().map(|(i, id)| (id.to_string(), format!("[letter {}]", i + 1))).collect();
    let letter_name = move |value: insta::internals::Content, _path: insta::internals::ContentPath<'_>| {
        let id = value.as_str().unwrap_or_default().to_owned();
        names.get(&id).cloned().unwrap_or_else(|| format!("[unknown letter {id}]"))
    };

    let batch = hybridpost_printroom::close_batch_for_site(&state, site.site_id, None).await.unwrap().unwrap();
    assert_eq!(hybridpost_printroom::render_next_batch(&state).await.unwrap(), Some(batch.batch_id));
    let path = format!("/v1/print/batches/{}", batch.batch_id);

    let (status, body) = call(&app, Method::GET, &path, &key.key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let detail: Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("batch_ready", detail, {
        ".batch_id" => "[batch_id]",
        ".created_at" => "[timestamp]",
        ".rendered_at" => "[timestamp]",
        ".pdf_sha256" => "[sha256]",
        ".letters_in_batch[].letter_id" => dynamic_redaction(letter_name.clone()),
    });

    let (status, body) = call(&app, Method::GET, &format!("{path}/manifest"), &key.key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let manifest: Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("manifest_json", manifest, {
        "[].letter_id" => dynamic_redaction(letter_name.clone()),
    });

    let (status, csv) = call(&app, Method::GET, &format!("{path}/manifest?format=csv"), &key.key, None).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let mut csv = csv.replace("\r\n", "\n");
    for (i, id) in letters.iter().enumerate() {
        csv = csv.replace(&id.to_string(), &format!("[letter {}]", i + 1));
    }
    assert!(!csv.contains(&batch.batch_id.to_string()));
    insta::assert_snapshot!("manifest_csv", csv);

    let (status, body) = call(&app, Method::POST, &format!("{path}/printed"), &key.key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let roll = json!({"first_tracking_number": "RB123456785TH"});
    let (status, body) = call(&app, Method::POST, &format!("{path}/dispatched"), &key.key, Some(roll)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = call(&app, Method::GET, &path, &key.key, None).await;
    let dispatched: Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("batch_dispatched", dispatched, {
        ".batch_id" => "[batch_id]",
        ".created_at" => "[timestamp]",
        ".rendered_at" => "[timestamp]",
        ".printed_at" => "[timestamp]",
        ".dispatched_at" => "[timestamp]",
        ".pdf_sha256" => "[sha256]",
        ".letters_in_batch[].letter_id" => dynamic_redaction(letter_name.clone()),
    });
    drop(db);
}
