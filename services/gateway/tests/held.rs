//! Held letters over the agency API, against the store named by `HYBRIDPOST_TEST_DATABASE_URL`:
//! a letter whose render failed is retried (and only such a letter, and never with new
//! content), or cancelled with what held it on its timeline.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_notify::outbox::queue_event_webhooks;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_compose::Composer;
use hybridpost_core::{AgencyId, LetterId, SiteId};
use hybridpost_gateway::{AppState, GatewayConfig};
use hybridpost_keyring::Keyring;
use hybridpost_seal::ServiceSecret;
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::print::{self, RenderFailure, RenderResult};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, events, held, now_text};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    app: Router,
    store: Store,
    agency: AgencyId,
    key: String,
    other_key: String,
    site: SiteId,
    _db: TestStore,
    _blobs: tempfile::TempDir,
}

async fn add_agency(store: &Store, name: &str) -> (AgencyId, String) {
    let agency = Agency::new(name);
    let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test: false });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    (agency.agency_id, key.key)
}

async fn harness() -> Harness {
    let db = test_store().await;
    let blobs = tempfile::tempdir().unwrap();
    let store = db.store.clone();
    let (agency, key) = add_agency(&store, "กรมการปกครอง").await;
    let (_, other_key) = add_agency(&store, "กรมสรรพากร").await;
    let site = Site {
        site_id: SiteId::new(),
        name: "ปณ. สามเสนใน".into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let mut tx = store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();
    let state = AppState::new(
        store.clone(),
        ApiKeys::new(store.clone(), RateLimiter::new(0, 0)),
        GatewayConfig {
            citizen_id_key: Arc::from(&b"test citizen id key"[..]),
            max_body_bytes: 64 * 1024,
            webhook_allow_private_targets: false,
        },
        Composer::new(Keyring::new(store.clone(), ServiceSecret::new(&[9; 32]).unwrap()), "http://127.0.0.1:8080"),
        hybridpost_store::testing::test_blobs(blobs.path(), 64 << 20),
    );
    let app = hybridpost_gateway::router(state, Duration::from_secs(10));
    Harness { app, store, agency, key, other_key, site: site.site_id, _db: db, _blobs: blobs }
}

impl Harness {
    async fn call(&self, key: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req =
            Request::builder().method(Method::POST).uri(path).header(header::AUTHORIZATION, format!("Bearer {key}"));
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() })
    }

    /// Sends a paper letter and has its render fail in a batch, as the print room records it.
    async fn held_letter(&self) -> LetterId {
        let letter = json!({"reference": "มท 0808.2/ว 1234", "language": "th",
          "recipient": {"name": "นายสมชาย ใจดี",
            "address": {"house_number": "99", "moo": "4", "soi": "สุขใจ", "road": "พหลโยธิน",
              "subdistrict": "สามเสนใน", "district": "พญาไท", "province": "กรุงเทพมหานคร", "postcode": "10400"}},
          "subject": "แจ้งผลการพิจารณาคำขอ", "body": ["ตามที่ท่านได้ยื่นคำขอ ..."]});
        let (status, created) = self.call(&self.key, "/v1/letters", Some(letter)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "queued_for_print");
        let letter_id: LetterId = created["letter_id"].as_str().unwrap().parse().unwrap();
        let mut tx = self.store.begin().await.unwrap();
        let queued = print::queued_letters(&mut tx, &["10".into()], 10).await.unwrap();
        let closed = print::create_batch(&mut tx, self.site, &queued, &now_text()).await.unwrap();
        queue_event_webhooks(&mut tx, &closed.events).await.unwrap();
        let batch = closed.value.unwrap();
        let later = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() + Duration::from_secs(60));
        print::claim_for_render(&mut tx, &now_text(), &later).await.unwrap().unwrap();
        let result = RenderResult {
            placements: Vec::new(),
            failures: vec![RenderFailure { letter_id, agency_id: self.agency, reason: "font missing".into() }],
            page_count: 2,
            sheet_count: 1,
            pdf_blob: "batches/x.pdf".into(),
            manifest_blob: "batches/x.manifest.json".into(),
            pdf_sha256: "0".repeat(64),
        };
        let finished = print::finish_render(&mut tx, batch.batch_id, &result, &now_text()).await.unwrap();
        assert!(finished.value);
        queue_event_webhooks(&mut tx, &finished.events).await.unwrap();
        tx.commit().await.unwrap();
        letter_id
    }

    async fn kinds(&self, letter: LetterId) -> Vec<(String, Value)> {
        let mut conn = self.store.read().await.unwrap();
        let timeline = events::letter_timeline(&mut conn, letter).await.unwrap();
        timeline.into_iter().map(|e| (e.kind.to_string(), e.detail.unwrap_or(Value::Null))).collect()
    }

    async fn stuck(&self) -> usize {
        let mut conn = self.store.read().await.unwrap();
        held::list_stuck(&mut conn).await.unwrap().len()
    }
}

#[tokio::test]
async fn a_held_letter_is_retried_once_by_its_own_agency_and_never_with_new_content() {
    let h = harness().await;
    let letter = h.held_letter().await;
    assert_eq!(h.stuck().await, 1);
    let path = format!("/v1/letters/{letter}/retry");

    let (status, problem) =
        h.call(&h.key, &path, Some(json!({"document_id": "0193a1b2-0000-7000-8000-000000000000"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("cancel it and send a new letter"), "{problem}");
    let (status, _) = h.call(&h.other_key, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another agency's letter does not exist for it");
    assert_eq!(h.stuck().await, 1, "refused retries change nothing");

    let (status, summary) = h.call(&h.key, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["status"], "queued_for_print");
    let (kind, detail) = h.kinds(letter).await.pop().unwrap();
    assert_eq!(kind, "print_retried");
    assert_eq!(detail["previous_reason"], "font missing");
    assert_eq!(h.stuck().await, 0);
    let mut conn = h.store.read().await.unwrap();
    let queued = print::queued_letters(&mut conn, &["10".into()], 10).await.unwrap();
    assert_eq!(queued.iter().map(|q| q.letter_id).collect::<Vec<_>>(), [letter], "back in the site's queue");
    drop(conn);

    let (status, problem) = h.call(&h.key, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("letter-not-held"), "{problem}");
}

#[tokio::test]
async fn a_held_letter_can_be_cancelled_and_its_cancelled_event_says_what_held_it() {
    let h = harness().await;
    let letter = h.held_letter().await;
    let (status, summary) = h.call(&h.key, &format!("/v1/letters/{letter}/cancel"), None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["status"], "cancelled");
    let (kind, detail) = h.kinds(letter).await.pop().unwrap();
    assert_eq!(kind, "cancelled");
    assert_eq!(detail["held"][0]["reason"], "render_failed", "{detail}");
    assert_eq!(detail["held"][0]["detail"], "font missing", "{detail}");
    assert_eq!(h.stuck().await, 0, "a cancelled letter is no longer stuck");
    let (status, _) = h.call(&h.key, &format!("/v1/letters/{letter}/retry"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "a cancelled letter is not retried");
}
