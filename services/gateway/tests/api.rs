//! The agency API over HTTP, against the store named by `HYBRIDPOST_TEST_DATABASE_URL`
//! (SQLite when unset; `ops/test.sh` runs this file on both databases).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_compose::Composer;
use hybridpost_core::{AgencyId, CitizenId, SiteId};
use hybridpost_gateway::{AppState, GatewayConfig};
use hybridpost_keyring::Keyring;
use hybridpost_seal::ServiceSecret;
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, channels, events, letters, now_text};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "../../../crates/pdfcheck/tests/support/mod.rs"]
mod pdfs;
#[path = "../../../crates/render/tests/support/raster.rs"]
mod raster;

const CITIZEN_KEY: &[u8] = b"test citizen id key";

struct Harness {
    app: Router,
    state: AppState,
    store: Store,
    a: String,
    b: String,
    site: String,
    _db: TestStore,
    _blobs: tempfile::TempDir,
}

async fn add_agency(store: &Store, name: &str, test: bool) -> (AgencyId, String) {
    let agency = Agency::new(name);
    let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    (agency.agency_id, key.key)
}

async fn harness_with(limiter: RateLimiter, max_body_bytes: usize) -> Harness {
    let db = test_store().await;
    let blobs = tempfile::tempdir().unwrap();
    let store = db.store.clone();
    let (_, a) = add_agency(&store, "กรมการปกครอง", false).await;
    let (_, b) = add_agency(&store, "กรมสรรพากร", false).await;
    let site = Site {
        site_id: SiteId::new(),
        name: "ปณ. สามเสนใน".into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let site_key = generate_api_key(Principal::Site { site_id: site.site_id });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    agencies::insert_api_key(&mut tx, &site_key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let state = AppState::new(
        store.clone(),
        ApiKeys::new(store.clone(), limiter),
        GatewayConfig { citizen_id_key: Arc::from(CITIZEN_KEY), max_body_bytes, webhook_allow_private_targets: false },
        Composer::new(Keyring::new(store.clone(), ServiceSecret::new(&[9; 32]).unwrap()), "http://127.0.0.1:8080"),
        hybridpost_store::testing::test_blobs(blobs.path(), 64 << 20),
    );
    let app = hybridpost_gateway::router(state.clone(), Duration::from_secs(10));
    Harness { app, state, store, a, b, site: site_key.key, _db: db, _blobs: blobs }
}

async fn harness() -> Harness {
    harness_with(RateLimiter::new(0, 0), 64 * 1024).await
}

fn example() -> Value {
    json!({"reference": "มท 0808.2/ว 1234", "language": "th",
      "recipient": {"name": "นายสมชาย ใจดี", "citizen_id": "1101700230708",
        "address": {"house_number": "99", "moo": "4", "soi": "สุขใจ", "road": "พหลโยธิน",
          "subdistrict": "สามเสนใน", "district": "พญาไท", "province": "กรุงเทพมหานคร", "postcode": "10400"}},
      "subject": "แจ้งผลการพิจารณาคำขอ",
      "body": ["ตามที่ท่านได้ยื่นคำขอ ..."],
      "reply": {"deadline": "2099-01-31"}})
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Harness {
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Body>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let has_body = body.is_some();
        if has_body && !extra.iter().any(|(h, _)| h.eq_ignore_ascii_case("content-type")) {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (h, v) in extra {
            req = req.header(*h, *v);
        }
        let response = self.app.clone().oneshot(req.body(body.unwrap_or_else(Body::empty)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    async fn post(&self, key: &str, letter: &Value) -> Reply {
        self.call(Method::POST, "/v1/letters", Some(key), Some(Body::from(letter.to_string())), &[]).await
    }

    async fn get(&self, key: Option<&str>, path: &str) -> Reply {
        self.call(Method::GET, path, key, None, &[]).await
    }

    /// A feed page with `expected` events. An event shows in the feed once every older
    /// transaction in the database has finished; on PostgreSQL, tests running beside this one
    /// can hold that back for a moment, so poll as a client would.
    async fn feed(&self, key: &str, path: &str, expected: usize) -> Reply {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let page = self.get(Some(key), path).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            if page.body["items"].as_array().unwrap().len() >= expected || std::time::Instant::now() > deadline {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn counts(&self) -> (i64, i64) {
        let mut conn = self.store.read().await.unwrap();
        (letters::count_letters(&mut conn).await.unwrap(), events::count_events(&mut conn).await.unwrap())
    }
}

fn assert_problem(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(reply.body["status"], status.as_u16());
    assert!(reply.body["type"].as_str().unwrap().starts_with("urn:hybridpost:problem:"), "{}", reply.body);
    assert!(!reply.body["title"].as_str().unwrap().is_empty());
    assert!(!reply.body["detail"].as_str().unwrap().is_empty());
    let request_id = reply.body["request_id"].as_str().expect("problem carries the request id");
    assert_eq!(reply.headers["x-request-id"], request_id);
}

#[tokio::test]
async fn a_letter_without_an_e_channel_is_queued_for_print() {
    let h = harness().await;
    let r = h.post(&h.a, &example()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "queued_for_print");
    assert_eq!(r.body["channel"], "print");
    assert_eq!(r.body["channel_reason"], "no_verified_e_channel");
    assert_eq!(r.body["test"], false);
    assert_eq!(r.body["reply_deadline"], "2099-01-31");
    let id = r.body["letter_id"].as_str().unwrap();
    assert_eq!(r.headers[header::LOCATION], format!("/v1/letters/{id}"));

    let detail = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(detail.body["letter"]["recipient"]["address"]["postcode"], "10400");
    let kinds: Vec<&str> =
        detail.body["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["accepted", "queued_for_print"]);

    let mut no_id = example();
    no_id["recipient"].as_object_mut().unwrap().remove("citizen_id");
    let r = h.post(&h.a, &no_id).await;
    assert_eq!(r.body["channel_reason"], "no_citizen_id");
}

#[tokio::test]
async fn a_citizen_with_a_verified_e_channel_gets_the_letter_digitally() {
    let h = harness().await;
    let hash = CitizenId::parse("1101700230708").unwrap().keyed_hash(CITIZEN_KEY);
    let mut tx = h.store.begin().await.unwrap();
    channels::upsert_verified_email(&mut tx, &hash, "somchai@example.co.th", "import").await.unwrap();
    tx.commit().await.unwrap();
    let r = h.post(&h.a, &example()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        (r.body["channel"].as_str(), r.body["channel_reason"].as_str()),
        (Some("digital"), Some("verified_e_channel"))
    );
    assert_eq!(r.body["status"], "accepted");
    let id = r.body["letter_id"].as_str().unwrap().parse().unwrap();
    let mut conn = h.store.read().await.unwrap();
    let queued = hybridpost_store::outbox::letter_notifications(&mut conn, id).await.unwrap();
    assert_eq!(queued.len(), 1, "the live letter's notice is queued");
    drop(conn);

    // A test letter to the same citizen notifies nobody.
    let test_key = key_of_a(&h, true).await;
    let t = h.post(&test_key, &example()).await;
    assert_eq!(t.status, StatusCode::CREATED);
    let id = t.body["letter_id"].as_str().unwrap().parse().unwrap();
    let mut conn = h.store.read().await.unwrap();
    assert!(hybridpost_store::outbox::letter_notifications(&mut conn, id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_and_a_changed_body_conflicts() {
    let h = harness().await;
    let post = |letter: String, key: &'static str| {
        let h = &h;
        async move {
            h.call(Method::POST, "/v1/letters", Some(&h.a), Some(Body::from(letter)), &[("idempotency-key", key)]).await
        }
    };
    let first = post(example().to_string(), "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    // Same content, other formatting: the same request.
    let pretty = serde_json::to_string_pretty(&example()).unwrap();
    let again = post(pretty, "k-1").await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(h.counts().await.0, 1);

    let mut changed = example();
    changed["subject"] = json!("เรื่องอื่น");
    let conflict = post(changed.to_string(), "k-1").await;
    assert_problem(&conflict, StatusCode::CONFLICT);
    assert_eq!(conflict.body["type"], "urn:hybridpost:problem:idempotency-key-reused");
    assert_eq!(h.counts().await.0, 1);

    // The key belongs to agency A only.
    let other = h
        .call(
            Method::POST,
            "/v1/letters",
            Some(&h.b),
            Some(Body::from(example().to_string())),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.body["letter_id"], first.body["letter_id"]);
}

#[tokio::test]
async fn concurrent_repeats_of_one_idempotency_key_create_one_letter() {
    let h = Arc::new(harness().await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            h.call(
                Method::POST,
                "/v1/letters",
                Some(&h.a),
                Some(Body::from(example().to_string())),
                &[("idempotency-key", "same")],
            )
            .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.insert(r.body["letter_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(h.counts().await, (1, 2));
}

#[tokio::test]
async fn agency_b_cannot_read_list_cancel_or_see_events_of_agency_a() {
    let h = harness().await;
    let id = h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().to_owned();

    let read = h.get(Some(&h.b), &format!("/v1/letters/{id}")).await;
    assert_problem(&read, StatusCode::NOT_FOUND);
    let list = h.get(Some(&h.b), "/v1/letters").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"], json!([]));
    let cancel = h.call(Method::POST, &format!("/v1/letters/{id}/cancel"), Some(&h.b), None, &[]).await;
    assert_problem(&cancel, StatusCode::NOT_FOUND);
    let feed = h.get(Some(&h.b), "/v1/events").await;
    assert_eq!(feed.body["items"], json!([]));

    // A sees its own, and B's failed cancel changed nothing.
    let read = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert_eq!(read.body["status"], "queued_for_print");
    assert_eq!(h.get(Some(&h.a), "/v1/letters").await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(h.feed(&h.a, "/v1/events", 2).await.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn every_route_refuses_missing_bad_and_site_keys() {
    let h = harness().await;
    let id = h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().to_owned();
    let routes = [
        (Method::POST, "/v1/letters".to_owned()),
        (Method::GET, "/v1/letters".to_owned()),
        (Method::GET, format!("/v1/letters/{id}")),
        (Method::POST, format!("/v1/letters/{id}/cancel")),
        (Method::GET, "/v1/events".to_owned()),
    ];
    for (method, path) in routes {
        let body = || (method == Method::POST).then(|| Body::from(example().to_string()));
        let none = h.call(method.clone(), &path, None, body(), &[]).await;
        assert_problem(&none, StatusCode::UNAUTHORIZED);
        assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
        let bad = h.call(method.clone(), &path, Some("hpk_notarealkey"), body(), &[]).await;
        assert_problem(&bad, StatusCode::UNAUTHORIZED);
        let site = h.call(method.clone(), &path, Some(&h.site), body(), &[]).await;
        assert_problem(&site, StatusCode::FORBIDDEN);
    }
    assert_eq!(h.counts().await, (1, 2));
}

#[tokio::test]
async fn bad_input_gets_a_clear_problem_and_writes_nothing() {
    let h = harness().await;
    let before = h.counts().await;

    let malformed = h.call(Method::POST, "/v1/letters", Some(&h.a), Some(Body::from("{\"reference\": ")), &[]).await;
    assert_problem(&malformed, StatusCode::BAD_REQUEST);

    let wrong_type = h
        .call(
            Method::POST,
            "/v1/letters",
            Some(&h.a),
            Some(Body::from(example().to_string())),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_problem(&wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(wrong_type.body["detail"].as_str().unwrap().contains("application/json"));

    let mut unknown = example();
    unknown["recipient"]["nickname"] = json!("ชาย");
    let unknown = h.post(&h.a, &unknown).await;
    assert_problem(&unknown, StatusCode::BAD_REQUEST);
    assert!(unknown.body["detail"].as_str().unwrap().contains("nickname"), "{}", unknown.body);

    let mut pair = example();
    pair["recipient"]["address"]["postcode"] = json!("50200");
    let pair = h.post(&h.a, &pair).await;
    assert_problem(&pair, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pair.body["errors"][0]["field"], "recipient.address.postcode");
    assert_eq!(pair.body["errors"][0]["suggestions"], json!(["10400"]));

    let mut province = example();
    province["recipient"]["address"]["province"] = json!("เชียงไหม่");
    let province = h.post(&h.a, &province).await;
    assert_problem(&province, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(province.body["errors"][0]["field"], "recipient.address.province");
    assert_eq!(province.body["errors"][0]["suggestions"][0], "เชียงใหม่");

    let mut check_digit = example();
    check_digit["recipient"]["citizen_id"] = json!("1101700230709");
    let check_digit = h.post(&h.a, &check_digit).await;
    assert_problem(&check_digit, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(check_digit.body["errors"][0]["field"], "recipient.citizen_id");
    assert!(check_digit.body["errors"][0]["message"].as_str().unwrap().contains("check digit"));

    let mut long = example();
    long["subject"] = json!("ก".repeat(301));
    let long = h.post(&h.a, &long).await;
    assert_problem(&long, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long.body["errors"][0]["field"], "subject");
    assert!(long.body["errors"][0]["message"].as_str().unwrap().contains("limit is 300"));

    let mut huge = example();
    huge["body"] = json!(vec!["ข้อความ".repeat(100); 100]);
    let huge = h.post(&h.a, &huge).await;
    assert_problem(&huge, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(huge.body["detail"].as_str().unwrap().contains("65536 bytes"), "{}", huge.body);

    assert_eq!(h.counts().await, before);
}

#[tokio::test]
async fn every_bad_field_is_listed_in_one_answer() {
    let h = harness().await;
    let mut letter = example();
    letter["reference"] = json!("");
    letter["recipient"]["citizen_id"] = json!("123");
    letter["recipient"]["address"]["postcode"] = json!("50200");
    letter["reply"] = json!({"deadline": "31/01/2027"});
    let r = h.post(&h.a, &letter).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["reference", "recipient.address.postcode", "recipient.citizen_id", "reply.deadline"]);
    assert_eq!(h.counts().await, (0, 0));
}

#[tokio::test]
async fn a_letter_can_be_cancelled_only_before_batching() {
    let h = harness().await;
    let id = h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().to_owned();
    let cancel = h.call(Method::POST, &format!("/v1/letters/{id}/cancel"), Some(&h.a), None, &[]).await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "cancelled");
    assert_eq!(cancel.body["withdrawn"], "cancelled", "a cancelled letter's seal is withdrawn");
    let read = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert_eq!(read.body["withdrawn"], cancel.body["withdrawn"], "the answer says what a read shows");
    let again = h.call(Method::POST, &format!("/v1/letters/{id}/cancel"), Some(&h.a), None, &[]).await;
    assert_problem(&again, StatusCode::CONFLICT);
    assert!(again.body["detail"].as_str().unwrap().contains("already final"), "{}", again.body);

    // A batched letter: too late.
    let id = h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().to_owned();
    let agency_id = {
        let mut conn = h.store.read().await.unwrap();
        let all =
            letters::list_letters(&mut conn, hybridpost_core::AgencyScope::live(h_agency(&h).await), None, None, 10)
                .await
                .unwrap();
        all[0].agency_id
    };
    let mut tx = h.store.begin().await.unwrap();
    let moved = letters::transition(
        &mut tx,
        agency_id,
        id.parse().unwrap(),
        hybridpost_core::LetterStatus::Batched,
        None,
        None,
    )
    .await
    .unwrap();
    hybridpost_notify::outbox::queue_event_webhooks(&mut tx, &moved.events).await.unwrap();
    tx.commit().await.unwrap();
    let late = h.call(Method::POST, &format!("/v1/letters/{id}/cancel"), Some(&h.a), None, &[]).await;
    assert_problem(&late, StatusCode::CONFLICT);
    assert_eq!(late.body["type"], "urn:hybridpost:problem:letter-not-cancellable");
    assert!(late.body["detail"].as_str().unwrap().contains("before they are put in a print batch"));
    let unknown = h.call(Method::POST, "/v1/letters/not-an-id/cancel", Some(&h.a), None, &[]).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND);
}

async fn h_agency(h: &Harness) -> AgencyId {
    let mut conn = h.store.read().await.unwrap();
    let key = agencies::find_api_key(&mut conn, &hybridpost_web::auth::hash_api_key(&h.a)).await.unwrap().unwrap();
    match key.principal {
        Principal::Agency { agency_id, .. } => agency_id,
        Principal::Site { .. } => unreachable!("agency key"),
    }
}

#[tokio::test]
async fn letters_list_by_status_with_cursor_paging() {
    let h = harness().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().to_owned());
    }
    h.call(Method::POST, &format!("/v1/letters/{}/cancel", ids[0]), Some(&h.a), None, &[]).await;
    ids.reverse();
    let mut seen = Vec::new();
    let mut path = "/v1/letters?limit=2".to_owned();
    loop {
        let page = h.get(Some(&h.a), &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|l| l["letter_id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/letters?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let cancelled = h.get(Some(&h.a), "/v1/letters?status=cancelled").await;
    assert_eq!(cancelled.body["items"].as_array().unwrap().len(), 1);
    assert_problem(&h.get(Some(&h.a), "/v1/letters?status=lost").await, StatusCode::BAD_REQUEST);
    assert_problem(&h.get(Some(&h.a), "/v1/letters?limit=0").await, StatusCode::BAD_REQUEST);
    assert_problem(&h.get(Some(&h.a), "/v1/letters?colour=red").await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_event_feed_pages_by_cursor_with_unique_ids() {
    let h = harness().await;
    for _ in 0..3 {
        h.post(&h.a, &example()).await;
    }
    let first = h.feed(&h.a, "/v1/events?limit=4", 4).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 4);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(first.body["items"][3]["cursor"], cursor.as_str());
    let rest = h.feed(&h.a, &format!("/v1/events?cursor={cursor}"), 2).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 2);
    let last = rest.body["next_cursor"].as_str().unwrap().to_owned();
    assert_ne!(last, cursor);
    let none = h.get(Some(&h.a), &format!("/v1/events?cursor={last}")).await;
    assert_eq!(none.body["items"], json!([]));
    assert_eq!(none.body["next_cursor"], last.as_str());
    let mut ids: Vec<Value> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.body["items"].as_array().unwrap())
        .map(|e| e["event_id"].clone())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_problem(&h.get(Some(&h.a), "/v1/events?cursor=abc").await, StatusCode::BAD_REQUEST);
    assert_problem(&h.get(Some(&h.a), "/v1/events?cursor=1--2").await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_they_exist() {
    let h = harness().await;
    let doc = h.get(None, "/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc.body["openapi"]);
    let paths = doc.body["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /v1/webhooks/{endpoint_id}",
            "GET /v1/events",
            "GET /v1/letter-batches/{batch_id}",
            "GET /v1/letters",
            "GET /v1/letters/{letter_id}",
            "GET /v1/letters/{letter_id}/pdf",
            "GET /v1/webhooks",
            "POST /v1/documents",
            "POST /v1/letter-batches",
            "POST /v1/letter-batches/{batch_id}/cancel",
            "POST /v1/letters",
            "POST /v1/letters/{letter_id}/cancel",
            "POST /v1/letters/{letter_id}/retry",
            "POST /v1/letters/{letter_id}/withdraw",
            "POST /v1/pdf-checks",
            "POST /v1/webhooks",
        ]
    );
    // Each documented operation is served: without a key it is refused, not missing.
    for op in operations {
        let (method, path) = op.split_once(' ').unwrap();
        let path = path.replace("{letter_id}", "0193a1b2-0000-7000-8000-000000000000");
        let r = h.call(method.parse().unwrap(), &path, None, None, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{op}");
    }
    assert!(doc.body["components"]["schemas"]["NewLetter"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["agency_key"].is_object());
    // PDFs are binary strings, not arrays of numbers.
    let schema = |s: &serde_json::Value| -> serde_json::Value {
        match s["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
            Some(name) => doc.body["components"]["schemas"][name].clone(),
            None => s.clone(),
        }
    };
    let pdf = schema(
        &doc.body["paths"]["/v1/letters/{letter_id}/pdf"]["get"]["responses"]["200"]["content"]["application/pdf"]["schema"],
    );
    assert_eq!(pdf["type"], "string", "{pdf}");
    assert_eq!(pdf["contentMediaType"], "application/pdf", "{pdf}");
    let upload =
        schema(&doc.body["paths"]["/v1/documents"]["post"]["requestBody"]["content"]["application/pdf"]["schema"]);
    assert_eq!(upload["format"], "binary", "{upload}");
    // A created letter links to the operations on it, by its id.
    let links = &doc.body["paths"]["/v1/letters"]["post"]["responses"]["201"]["links"];
    for (name, operation) in
        [("GetLetter", "get_letter"), ("LetterPdf", "letter_pdf"), ("CancelLetter", "cancel_letter")]
    {
        assert_eq!(links[name]["operationId"], operation, "{links}");
        assert_eq!(links[name]["parameters"]["letter_id"], "$response.body#/letter_id", "{links}");
    }
    // Every list is a page with the same parameters.
    for path in ["/v1/letters", "/v1/events", "/v1/webhooks"] {
        let params = doc.body["paths"][path]["get"]["parameters"].as_array().unwrap();
        let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
        assert!(names.contains(&"cursor") && names.contains(&"limit"), "{path}: {names:?}");
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!((&limit["schema"]["minimum"], &limit["schema"]["maximum"]), (&1.into(), &500.into()), "{path}");
    }
}

#[tokio::test]
async fn health_readiness_and_unknown_paths_and_no_public_metrics() {
    let h = harness().await;
    assert_eq!(h.get(None, "/healthz").await.status, StatusCode::OK);
    assert_eq!(h.get(None, "/readyz").await.body["status"], "ready");
    h.post(&h.a, &example()).await;
    // Metrics have a listener of their own (`metrics_listen`); the public one does not show them.
    let metrics = h.get(None, "/metrics").await;
    assert_problem(&metrics, StatusCode::NOT_FOUND);
    assert_problem(&h.get(None, "/v1/nothing").await, StatusCode::NOT_FOUND);
    let wrong_method = h.call(Method::DELETE, "/v1/letters", Some(&h.a), None, &[]).await;
    assert_problem(&wrong_method, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_key_over_its_rate_limit_is_told_when_to_retry() {
    let h = harness_with(RateLimiter::new(1, 2), 64 * 1024).await;
    assert_eq!(h.get(Some(&h.a), "/v1/letters").await.status, StatusCode::OK);
    assert_eq!(h.get(Some(&h.a), "/v1/letters").await.status, StatusCode::OK);
    let limited = h.get(Some(&h.a), "/v1/letters").await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers[header::RETRY_AFTER], "1");
    assert_eq!(limited.body["detail"], "too many requests with this API key; retry after 1 s");
    // Another agency's key has its own budget.
    assert_eq!(h.get(Some(&h.b), "/v1/letters").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_test_key_marks_its_letters_as_test() {
    let h = harness().await;
    let (_, test_key) = add_agency(&h.store, "ทดสอบ", true).await;
    let r = h.post(&test_key, &example()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["test"], true);
}

#[tokio::test]
async fn the_router_serves_on_a_real_socket_and_shuts_down_cleanly() {
    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hybridpost_gateway::run(h.app.clone(), listener, async {
        let _ = stopped.await;
    }));
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("x-request-id"), "{answer}");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_letter_is_sealed_and_its_proof_pdf_renders_for_its_agency_only_also_with_a_test_key() {
    let h = harness().await;
    let (_, test_key) = add_agency(&h.store, "สำนักงานทดสอบระบบ", true).await;
    for key in [h.a.as_str(), test_key.as_str()] {
        let created = h.post(key, &example()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["test"], key == test_key);
        let reference = created.body["seal_reference"].as_str().unwrap();
        assert_eq!(reference.len(), 24, "12 random bytes in base32, grouped by four: {reference}");
        let id = created.body["letter_id"].as_str().unwrap();

        let request = Request::builder()
            .uri(format!("/v1/letters/{id}/pdf"))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let response = h.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/pdf");
        let pdf = response.into_body().collect().await.unwrap().to_bytes();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proof.pdf");
        std::fs::write(&path, &pdf).unwrap();
        let out =
            std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils)");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("นายสมชาย ใจดี"), "{text}");
        assert!(text.contains("127.0.0.1:8080"), "the verification host is printed: {text}");
    }
    let created = h.post(&h.a, &example()).await;
    let other = h.get(Some(&h.b), &format!("/v1/letters/{}/pdf", created.body["letter_id"].as_str().unwrap())).await;
    assert_problem(&other, StatusCode::NOT_FOUND);
}

async fn post_pdf(h: &Harness, path: &str, pdf: Vec<u8>) -> Reply {
    h.call(Method::POST, path, Some(&h.a), Some(Body::from(pdf)), &[("content-type", "application/pdf")]).await
}

#[tokio::test]
async fn a_pdf_with_three_problems_gets_one_answer_listing_all_three_and_an_encrypted_one_says_so() {
    use pdfs::{Font, LETTER, PageSpec, body_text, build};
    let h = harness().await;
    let bad = build(&[
        PageSpec::a4(&body_text("Fine page")),
        PageSpec::sized(LETTER, &body_text("Letter-size page")),
        PageSpec::a4("BT /F2 10 Tf 1 0 0 1 8 600 Tm (Too close to the left) Tj ET").with_font("F2", Font::Helvetica),
    ]);
    let checked = post_pdf(&h, "/v1/pdf-checks", bad.clone()).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    assert_eq!(checked.body["acceptable"], false);
    let found: Vec<(u64, &str)> = checked.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["page"].as_u64().unwrap(), p["code"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [(2, "page_size"), (3, "font_not_embedded"), (3, "content_in_margin")]);

    let refused = post_pdf(&h, "/v1/documents", bad).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        refused.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["pdf.page[2].page_size", "pdf.page[3].font_not_embedded", "pdf.page[3].content_in_margin"]);

    let dir = pdfs::scratch();
    let plain = pdfs::write(dir.path(), "plain.pdf", &build(&[PageSpec::a4(&body_text("Secret"))]));
    let locked = dir.path().join("locked.pdf");
    pdfs::run("qpdf", &["--encrypt", "user", "owner", "256", "--", pdfs::arg(&plain), pdfs::arg(&locked)]);
    let checked = post_pdf(&h, "/v1/pdf-checks", std::fs::read(&locked).unwrap()).await;
    let codes: Vec<&str> =
        checked.body["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["encrypted"], "{}", checked.body);

    let good = post_pdf(&h, "/v1/documents", std::fs::read(&plain).unwrap()).await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.body);
    assert_eq!(good.body["pages"], 1);
    let wrong_type = h
        .call(
            Method::POST,
            "/v1/pdf-checks",
            Some(&h.a),
            Some(Body::from("{}")),
            &[("content-type", "application/json")],
        )
        .await;
    assert_problem(&wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let anonymous = h
        .call(Method::POST, "/v1/pdf-checks", None, Some(Body::from("%PDF")), &[("content-type", "application/pdf")])
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_agency_pdf_is_sent_behind_a_cover_page_with_the_address_seal_and_reply_sheet() {
    use pdfs::{PageSpec, body_text, build};
    let h = harness().await;
    let agency_pdf =
        build(&[PageSpec::a4(&body_text("Notice of the district office")), PageSpec::a4(&body_text("Page two"))]);
    let stored = post_pdf(&h, "/v1/documents", agency_pdf).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    let document_id = stored.body["document_id"].as_str().unwrap();

    let mut letter = example();
    letter.as_object_mut().unwrap().remove("body");
    letter["document_id"] = json!(document_id);
    let created = h.post(&h.a, &letter).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["letter_id"].as_str().unwrap();

    let request = Request::builder()
        .uri(format!("/v1/letters/{id}/pdf"))
        .header(header::AUTHORIZATION, format!("Bearer {}", h.a))
        .body(Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let pdf = response.into_body().collect().await.unwrap().to_bytes();
    let dir = pdfs::scratch();
    let path = pdfs::write(dir.path(), "proof.pdf", &pdf);
    pdfs::run("qpdf", &["--check", pdfs::arg(&path)]);
    let info = pdfs::run("pdfinfo", &[pdfs::arg(&path)]);
    assert!(info.contains("Pages:           4"), "cover, reply sheet, then the agency's two pages: {info}");
    let cover = pdfs::run("pdftotext", &["-f", "1", "-l", "1", pdfs::arg(&path), "-"]);
    assert!(cover.contains("นายสมชาย ใจดี") && cover.contains("หน้าถัดไป"), "{cover}");
    let last = pdfs::run("pdftotext", &["-f", "3", "-l", "4", pdfs::arg(&path), "-"]);
    assert!(last.contains("Notice of the district office") && last.contains("Page two"), "{last}");

    // Another agency's document, or none, is refused with the field named.
    letter["document_id"] = json!("01936f0e-0000-7000-8000-000000000000");
    let refused = h.post(&h.a, &letter).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "document_id");
    letter["document_id"] = json!(document_id);
    assert_problem(&h.post(&h.b, &letter).await, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_letter_that_is_out_can_be_withdrawn_once_and_only_by_its_agency() {
    use hybridpost_core::LetterStatus;
    let h = harness().await;
    let id = h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/letters/{id}/withdraw");
    let body = || Some(Body::from(json!({"reason": "reported_lost"}).to_string()));
    // Not yet out: it would still be printed and posted, so withdrawing is refused at every
    // step before dispatch (cancel is the way while it is queued).
    let agency_id = h_agency(&h).await;
    for step in [None, Some(LetterStatus::Batched), Some(LetterStatus::Printed), Some(LetterStatus::Dispatched)] {
        if let Some(to) = step {
            let mut tx = h.store.begin().await.unwrap();
            let moved = letters::transition(&mut tx, agency_id, id.parse().unwrap(), to, None, None).await.unwrap();
            hybridpost_notify::outbox::queue_event_webhooks(&mut tx, &moved.events).await.unwrap();
            tx.commit().await.unwrap();
        }
        if step == Some(LetterStatus::Dispatched) {
            break;
        }
        let early = h.call(Method::POST, &path, Some(&h.a), body(), &[]).await;
        assert_problem(&early, StatusCode::CONFLICT);
        assert_eq!(early.body["type"], "urn:hybridpost:problem:letter-not-out", "{}", early.body);
        assert_eq!(h.get(Some(&h.a), &format!("/v1/letters/{id}")).await.body.get("withdrawn"), None);
    }
    let other = h.call(Method::POST, &path, Some(&h.b), body(), &[]).await;
    assert_problem(&other, StatusCode::NOT_FOUND);
    let done = h.call(Method::POST, &path, Some(&h.a), body(), &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["withdrawn"], "reported_lost");
    assert_eq!(done.body["status"], "dispatched", "the delivery status does not change");
    assert_eq!(h.get(Some(&h.a), &format!("/v1/letters/{id}")).await.body["withdrawn"], "reported_lost");
    assert_problem(&h.call(Method::POST, &path, Some(&h.a), body(), &[]).await, StatusCode::CONFLICT);
    let bad = h.call(Method::POST, &path, Some(&h.a), Some(Body::from(r#"{"reason": "bored"}"#)), &[]).await;
    assert_problem(&bad, StatusCode::BAD_REQUEST);
    let detail = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    let kinds: Vec<&str> =
        detail.body["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.last(), Some(&"withdrawn"));
}

/// A second key of agency A: live or test.
async fn key_of_a(h: &Harness, test: bool) -> String {
    let key = generate_api_key(Principal::Agency { agency_id: h_agency(h).await, test });
    let mut tx = h.store.begin().await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    key.key
}

#[tokio::test]
async fn test_keys_and_live_keys_of_one_agency_never_see_or_touch_each_others_letters_on_any_route() {
    let h = harness().await;
    let live = h.a.clone();
    let test = key_of_a(&h, true).await;
    let live_letter = h.post(&live, &example()).await.body["letter_id"].as_str().unwrap().to_owned();
    let test_letter = h.post(&test, &example()).await.body["letter_id"].as_str().unwrap().to_owned();
    for (key, own, foreign) in [(&live, &live_letter, &test_letter), (&test, &test_letter, &live_letter)] {
        // Every route that names a letter answers 404 for the other mode's letter.
        for (method, path) in [
            (Method::GET, format!("/v1/letters/{foreign}")),
            (Method::GET, format!("/v1/letters/{foreign}/pdf")),
            (Method::POST, format!("/v1/letters/{foreign}/cancel")),
        ] {
            let r = h.call(method.clone(), &path, Some(key), None, &[]).await;
            assert_problem(&r, StatusCode::NOT_FOUND);
        }
        let withdraw = Some(Body::from(json!({"reason": "superseded"}).to_string()));
        let r = h.call(Method::POST, &format!("/v1/letters/{foreign}/withdraw"), Some(key), withdraw, &[]).await;
        assert_problem(&r, StatusCode::NOT_FOUND);
        assert_eq!(h.get(Some(key), &format!("/v1/letters/{own}")).await.status, StatusCode::OK);
        // Lists and the event feed hold only this mode's letters.
        let list = h.get(Some(key), "/v1/letters").await;
        let ids: Vec<&str> =
            list.body["items"].as_array().unwrap().iter().map(|l| l["letter_id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![own.as_str()], "{}", list.body);
        let feed = h.feed(key, "/v1/events", 2).await;
        let letters_in_feed: std::collections::BTreeSet<&str> =
            feed.body["items"].as_array().unwrap().iter().map(|e| e["letter_id"].as_str().unwrap()).collect();
        assert_eq!(letters_in_feed.into_iter().collect::<Vec<_>>(), vec![own.as_str()], "{}", feed.body);
    }
    // The other mode's letters are untouched by all of that.
    for (key, id) in [(&live, &live_letter), (&test, &test_letter)] {
        let r = h.get(Some(key), &format!("/v1/letters/{id}")).await;
        assert_eq!(r.body["status"], "queued_for_print", "{}", r.body);
        assert_eq!(r.body.get("withdrawn"), None);
    }

    // Webhook endpoints belong to one mode.
    let hook = |url: &str| Some(Body::from(json!({"url": url}).to_string()));
    let r = h.call(Method::POST, "/v1/webhooks", Some(&test), hook("https://hooks.example.go.th/test"), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let test_endpoint = r.body["endpoint_id"].as_str().unwrap().to_owned();
    let listed = h.get(Some(&live), "/v1/webhooks").await;
    assert!(!listed.body.to_string().contains(&test_endpoint), "{}", listed.body);
    let r = h.call(Method::DELETE, &format!("/v1/webhooks/{test_endpoint}"), Some(&live), None, &[]).await;
    assert_problem(&r, StatusCode::NOT_FOUND);
    assert!(h.get(Some(&test), "/v1/webhooks").await.body.to_string().contains(&test_endpoint));

    // An agency PDF uploaded with a test key serves test letters only.
    let pdf = pdfs::build(&[pdfs::PageSpec::a4(&pdfs::body_text("Test document"))]);
    let uploaded = h
        .call(Method::POST, "/v1/documents", Some(&test), Some(Body::from(pdf)), &[("content-type", "application/pdf")])
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let mut with_document = example();
    with_document.as_object_mut().unwrap().remove("body");
    with_document["document_id"] = uploaded.body["document_id"].clone();
    let refused = h.post(&live, &with_document).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h.post(&test, &with_document).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_idempotency_key_used_in_test_mode_does_not_answer_a_live_request() {
    let h = harness().await;
    let test = key_of_a(&h, true).await;
    let key = [("idempotency-key", "order-2026-12-04-001")];
    let body = || Some(Body::from(example().to_string()));
    let first = h.call(Method::POST, "/v1/letters", Some(&test), body(), &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.body["test"], true);
    let live = h.call(Method::POST, "/v1/letters", Some(&h.a), body(), &key).await;
    assert_eq!(live.status, StatusCode::CREATED, "{}", live.body);
    assert!(live.headers.get("idempotent-replayed").is_none(), "a live letter was made, not a test one replayed");
    assert_eq!(live.body["test"], false);
    assert_ne!(live.body["letter_id"], first.body["letter_id"]);
    // Each mode still replays its own.
    let again = h.call(Method::POST, "/v1/letters", Some(&h.a), body(), &key).await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["letter_id"], live.body["letter_id"]);
    let again = h.call(Method::POST, "/v1/letters", Some(&test), body(), &key).await;
    assert_eq!(again.body["letter_id"], first.body["letter_id"]);
}

#[tokio::test]
async fn a_test_letter_is_sealed_with_a_key_no_trust_list_carries() {
    let h = harness().await;
    let test = key_of_a(&h, true).await;
    let live_id = h.post(&h.a, &example()).await.body["letter_id"].as_str().unwrap().parse().unwrap();
    let test_id = h.post(&test, &example()).await.body["letter_id"].as_str().unwrap().parse().unwrap();
    let keyring = Keyring::new(h.store.clone(), ServiceSecret::new(&[9; 32]).unwrap());
    let list = keyring.verified_trust_list().await.unwrap().unwrap();
    let today = hybridpost_keyring::today();
    let ctx = hybridpost_seal::VerifyContext { trust_list: &list, today, withdrawn: &hybridpost_seal::no_withdrawals };
    let mut conn = h.store.read().await.unwrap();
    let seal_of = |l: letters::LetterRecord| hybridpost_seal::Seal::from_bytes(l.seal.unwrap().seal);
    let live = seal_of(letters::get_letter_any_agency(&mut conn, live_id).await.unwrap().unwrap());
    let test = seal_of(letters::get_letter_any_agency(&mut conn, test_id).await.unwrap().unwrap());
    assert!(live.verify(&ctx).is_genuine(), "{:?}", live.verify(&ctx));
    let verdict = test.verify(&ctx);
    assert!(!verdict.is_genuine(), "a test letter must never verify as genuine: {verdict:?}");
    assert!(format!("{verdict:?}").to_lowercase().contains("unknown"), "{verdict:?}");
}

#[tokio::test]
async fn a_proof_shows_where_the_pin_will_be_but_never_the_pin() {
    let h = harness().await;
    let created = h.post(&h.a, &example()).await;
    let id: hybridpost_core::LetterId = created.body["letter_id"].as_str().unwrap().parse().unwrap();
    let pin = {
        let mut conn = h.store.read().await.unwrap();
        let letter = letters::get_letter_any_agency(&mut conn, id).await.unwrap().unwrap();
        let seal = letter.seal.unwrap();
        Keyring::new(h.store.clone(), ServiceSecret::new(&[9; 32]).unwrap())
            .unwrap_pin(&seal.reference, &seal.pin_wrapped)
            .unwrap()
    };
    assert!(!created.body.to_string().contains(&pin));
    let detail = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert!(!detail.body.to_string().contains(&pin));
    let request = Request::builder()
        .uri(format!("/v1/letters/{id}/pdf"))
        .header(header::AUTHORIZATION, format!("Bearer {}", h.a))
        .body(Body::empty())
        .unwrap();
    let pdf = h.app.clone().oneshot(request).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("proof.pdf"), &pdf).unwrap();
    let out = std::process::Command::new("pdftotext").arg(dir.path().join("proof.pdf")).arg("-").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("XXXX XXXX"), "the proof shows where the PIN goes: {text}");
    assert!(!text.replace(' ', "").contains(&pin), "the PIN {pin} is in the proof: {text}");
}

#[tokio::test]
async fn the_citizen_id_is_kept_only_as_its_keyed_hash_and_shown_masked() {
    let h = harness().await;
    let created = h.post(&h.a, &example()).await;
    let id = created.body["letter_id"].as_str().unwrap();
    let detail = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert_eq!(detail.body["letter"]["recipient"]["citizen_id"], "xxxxxxxxx0708", "{}", detail.body);
    let mut conn = h.store.read().await.unwrap();
    let letter = letters::get_letter_any_agency(&mut conn, id.parse().unwrap()).await.unwrap().unwrap();
    assert!(!letter.content.to_string().contains("1101700230708"), "{}", letter.content);
    let hash = CitizenId::parse("1101700230708").unwrap().keyed_hash(CITIZEN_KEY);
    assert_eq!(letter.citizen_id_hash.as_deref(), Some(hash.as_str()), "routing still finds the citizen");
}

#[tokio::test]
async fn webhook_urls_into_the_network_are_refused_with_a_problem_naming_the_url() {
    let h = harness().await;
    let put = |url: &str| {
        let body = json!({ "url": url }).to_string();
        let h = &h;
        async move { h.call(Method::POST, "/v1/webhooks", Some(&h.a), Some(Body::from(body)), &[]).await }
    };
    for bad in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://192.168.0.1/hook",
        "https://0.0.0.0/hook",
        "https://2130706433/hook",
        "https://0x7f000001/hook",
        "https://127.1/hook",
        "https://0177.0.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://localhost./hook",
        "https://app.localhost/hook",
        "https://agency.example:99999/hook",
        "https://agency.example/ho\u{0}ok",
        "http://agency.example/hook",
    ] {
        let reply = put(bad).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.body["errors"][0]["field"], "url", "{bad}: {}", reply.body);
        assert!(!reply.body["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    let hex = put("https://0x7f000001/hook").await;
    assert!(
        hex.body["errors"][0]["message"].as_str().unwrap().contains("127.0.0.1 is a loopback address"),
        "{}",
        hex.body
    );
    let listed = h.get(Some(&h.a), "/v1/webhooks").await;
    assert_eq!(listed.body["items"], json!([]), "nothing refused was stored");

    let ok = put("HTTPS://Hooks.Agency.Example/hook").await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["url"], "https://hooks.agency.example/hook", "stored as parsed");
}

#[tokio::test]
async fn unprintable_text_is_refused_with_the_field_and_the_character_position() {
    let h = harness().await;
    let mut letter = example();
    letter["recipient"]["name"] = json!("นายสม\u{202e}ชาย");
    letter["body"] = json!(["บรรทัดหนึ่ง\nบรรทัดสอง", "ตัวอักษร\u{fffe}"]);
    letter["subject"] = json!("แจ้งผล 😀");
    let reply = h.post(&h.a, &letter).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
    let errors: Vec<String> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}: {}", e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            "recipient.name: character 6 is U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional formatting character, \
             which cannot be printed",
            "body[1]: character 9 is U+FFFE, a noncharacter, which cannot be printed",
            "subject: character 8 is U+1F600 (😀), which the letter fonts cannot print",
        ]
    );

    // A lone surrogate cannot be a Rust string: the JSON is refused as malformed, not a 500.
    let raw = example().to_string().replace("นายสมชาย ใจดี", "\\ud800");
    let reply = h.call(Method::POST, "/v1/letters", Some(&h.a), Some(Body::from(raw)), &[]).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST);

    let mut fine = example();
    fine["body"] = json!(["บรรทัดหนึ่ง\nบรรทัดสอง"]);
    assert_eq!(h.post(&h.a, &fine).await.status, StatusCode::CREATED, "a line break inside a paragraph is kept");
}

/// One request over a real connection: the status line and the body.
async fn over_socket(addr: std::net::SocketAddr, method: &str, path: &str, key: &str, pdf: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\nauthorization: Bearer {key}\r\n\
         content-type: application/pdf\r\ncontent-length: {}\r\n\r\n",
        pdf.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(pdf).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

#[tokio::test]
async fn hostile_pdfs_are_refused_with_their_limit_named_and_the_server_keeps_answering() {
    use hybridpost_pdfguard::hostile::{self, Nest};
    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hybridpost_gateway::run(h.app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let healthy = || async {
        let (status, _) = over_socket(addr, "GET", "/healthz", "", b"").await;
        assert_eq!(status, 200, "the server answers /healthz");
    };
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        ("30,000 nested arrays in the file body", hostile::nested_body(Nest::Arrays, 30_000), "64 levels"),
        ("30,000 nested dictionaries in the file body", hostile::nested_body(Nest::Dictionaries, 30_000), "64 levels"),
        (
            "a million nested arrays in an object stream",
            hostile::nested_object_stream(Nest::Arrays, 1_000_000),
            "64 levels",
        ),
        ("a chain of 30,000 stream lengths", hostile::length_chain(30_000), "at most 4"),
        ("an object stream measured by itself", hostile::self_measuring_object_stream(), "at most 4"),
        ("60,000 arrays of 120 zeros", hostile::many_small_arrays(60_000, 120), "at most"),
        ("a million compressed objects", hostile::many_objects_in_streams(600_000), "at most"),
    ];
    for (what, pdf, limit) in &refused {
        for path in ["/v1/pdf-checks", "/v1/documents"] {
            let (status, body) = over_socket(addr, "POST", path, &h.a, pdf).await;
            assert_eq!(status, 422, "{what} to {path}: {body}");
            let problem: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(problem["errors"][0]["field"], "pdf.too_complex", "{what}: {problem}");
            let message = problem["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(limit), "{what}: the answer names the limit: {message}");
            healthy().await;
        }
    }
    // The upload that aborted every role: a content stream nesting 30,000 arrays, then the
    // `]`s and `TJ`; and the same with dictionaries. They are read, checked and stored.
    for kind in [Nest::Arrays, Nest::Dictionaries] {
        let pdf = hostile::nested_content(kind, 30_000);
        let (status, body) = over_socket(addr, "POST", "/v1/pdf-checks", &h.a, &pdf).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["pages"], 1, "{body}");
        let (status, body) = over_socket(addr, "POST", "/v1/documents", &h.a, &pdf).await;
        assert!(status == 201 || status == 422, "{status}: {body}");
        healthy().await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}

fn batch_of(n: usize) -> Value {
    let letters: Vec<Value> = (0..n)
        .map(|i| {
            let mut l = example();
            l["reference"] = json!(format!("มท 0808.2/ว {}", 5000 + i));
            l["recipient"]["name"] = json!(format!("นายสมชาย ใจดี {i}"));
            l
        })
        .collect();
    json!({ "letters": letters })
}

impl Harness {
    async fn post_batch(&self, key: &str, batch: &Value) -> Reply {
        self.call(Method::POST, "/v1/letter-batches", Some(key), Some(Body::from(batch.to_string())), &[]).await
    }

    /// Runs the batch worker until no batch has rows to send.
    async fn send_batches(&self) {
        while hybridpost_gateway::send_one_batch(&self.state).await.unwrap() {}
    }
}

#[tokio::test]
async fn a_batch_with_bad_rows_is_refused_with_every_problem_of_every_row_and_sends_nothing() {
    let h = harness_with(RateLimiter::new(0, 0), 1 << 20).await;
    let before = h.counts().await;
    let mut batch = batch_of(5);
    batch["letters"][1]["recipient"]["address"]["postcode"] = json!("10399");
    batch["letters"][3]["recipient"]["name"] = json!("");
    batch["letters"][3]["reply"]["deadline"] = json!("2020-01-01");
    let reply = h.post_batch(&h.a, &batch).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        reply.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"letters[1].recipient.address.postcode"), "{fields:?}");
    assert!(fields.contains(&"letters[3].recipient.name"), "{fields:?}");
    assert!(fields.contains(&"letters[3].reply.deadline"), "{fields:?}");
    assert!(!fields.iter().any(|f| f.starts_with("letters[0]") || f.starts_with("letters[2]")), "{fields:?}");
    assert_eq!(h.counts().await, before, "nothing was stored");

    let empty = h.post_batch(&h.a, &json!({"letters": []})).await;
    assert_problem(&empty, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = h.post_batch(&h.a, &json!({"letters": [example()], "extra": 1})).await;
    assert_problem(&unknown, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_batch_is_sent_in_the_background_and_sending_it_again_sends_nothing_new() {
    let h = harness_with(RateLimiter::new(0, 0), 1 << 20).await;
    let (letters_before, _) = h.counts().await;
    let mut batch = batch_of(30);
    // Row 29 is row 0 again: the same letter, sent once.
    batch["letters"][29] = batch["letters"][0].clone();
    let reply = h.post_batch(&h.a, &batch).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "sending");
    assert_eq!(reply.body["rows_total"], 30);
    assert_eq!(reply.body["pending"], 30);
    let location = reply.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/letter-batches/{}", reply.body["batch_id"].as_str().unwrap()));

    h.send_batches().await;
    let done = h.get(Some(&h.a), &location).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["status"], "done");
    assert_eq!((done.body["sent"].as_i64(), done.body["sent_before"].as_i64()), (Some(29), Some(1)), "{}", done.body);
    let rows = done.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 30);
    assert_eq!(rows[0]["row"], 0);
    assert_eq!(rows[0]["state"], "sent");
    assert_eq!(rows[0]["channel"], "print");
    assert_eq!(rows[29]["state"], "sent_before");
    assert_eq!(rows[29]["letter_id"], rows[0]["letter_id"], "the repeated row names the letter sent");
    let (letters_after, _) = h.counts().await;
    assert_eq!(letters_after - letters_before, 29);
    let letter = h.get(Some(&h.a), &format!("/v1/letters/{}", rows[5]["letter_id"].as_str().unwrap())).await;
    assert_eq!(letter.status, StatusCode::OK);
    assert_eq!(letter.body["reference"], "มท 0808.2/ว 5005");
    assert!(letter.body["seal_reference"].is_string(), "sealed as POST /v1/letters seals");

    // The same batch again: stored, nothing sent twice.
    let again = h.post_batch(&h.a, &batch).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    h.send_batches().await;
    let again_location = again.headers[header::LOCATION].to_str().unwrap().to_owned();
    let again_done = h.get(Some(&h.a), &again_location).await;
    assert_eq!(again_done.body["sent"], 0, "{}", again_done.body);
    assert_eq!(again_done.body["sent_before"], 30);
    assert_eq!(again_done.body["rows"][5]["letter_id"], rows[5]["letter_id"]);
    assert_eq!(h.counts().await.0, letters_after);

    // Another agency, and the same agency's test key, do not see it.
    assert_eq!(h.get(Some(&h.b), &location).await.status, StatusCode::NOT_FOUND);
    let test_key = key_of_a(&h, true).await;
    assert_eq!(h.get(Some(&test_key), &location).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.get(Some(&h.a), "/v1/letter-batches/not-an-id").await.status, StatusCode::NOT_FOUND);
    // The same letters with the test key are letters of another world: sent there, once.
    let test_batch = h.post_batch(&test_key, &batch).await;
    assert_eq!(test_batch.status, StatusCode::ACCEPTED);
    h.send_batches().await;
    let test_done = h.get(Some(&test_key), test_batch.headers[header::LOCATION].to_str().unwrap()).await;
    assert_eq!((test_done.body["sent"].as_i64(), test_done.body["test"].as_bool()), (Some(29), Some(true)));
}

#[tokio::test]
async fn a_template_letter_missing_a_value_is_refused_when_submitted_not_when_printed() {
    let h = harness().await;
    let mut letter = example();
    letter.as_object_mut().unwrap().remove("body");
    letter["template"] = json!("tax-notice");
    letter["data"] = json!({"office": "สำนักงานเขตพญาไท", "tax_year": 2570});
    let reply = h.post(&h.a, &letter).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["field"], "data", "{}", reply.body);
    assert!(errors[0]["message"].as_str().unwrap().contains("parcel"), "{}", reply.body);
    letter["template"] = json!("no-such-template");
    let reply = h.post(&h.a, &letter).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["errors"][0]["field"], "template", "{}", reply.body);
}

#[tokio::test]
async fn letters_held_until_a_time_wait_can_be_cancelled_and_are_sent_at_their_time() {
    let h = harness_with(RateLimiter::new(0, 0), 1 << 20).await;
    let (letters_before, _) = h.counts().await;
    let rfc3339 = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let tomorrow = rfc3339(time::OffsetDateTime::now_utc() + Duration::from_secs(24 * 3600));

    // A batch held until tomorrow: the worker leaves it; it can be cancelled, once.
    let mut held = batch_of(2);
    held["send_after"] = json!(tomorrow);
    let reply = h.post_batch(&h.a, &held).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert!(reply.body["send_after"].is_string(), "{}", reply.body);
    let location = reply.headers[header::LOCATION].to_str().unwrap().to_owned();
    h.send_batches().await;
    assert_eq!(h.counts().await.0, letters_before, "nothing is sent before its time");
    assert_eq!(h.get(Some(&h.a), &location).await.body["pending"], 2);
    let other = h.call(Method::POST, &format!("{location}/cancel"), Some(&h.b), None, &[]).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another agency cannot cancel it");
    let cancelled = h.call(Method::POST, &format!("{location}/cancel"), Some(&h.a), None, &[]).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let rows = h.get(Some(&h.a), &location).await;
    assert!(rows.body["rows"].as_array().unwrap().iter().all(|r| r["state"] == "cancelled"), "{}", rows.body);
    let again = h.call(Method::POST, &format!("{location}/cancel"), Some(&h.a), None, &[]).await;
    assert_problem(&again, StatusCode::CONFLICT);

    // One letter held until tomorrow: 202 and its batch of one.
    let mut letter = example();
    letter["send_after"] = json!(tomorrow);
    let reply = h.post(&h.a, &letter).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["rows_total"], 1);
    assert!(reply.headers[header::LOCATION].to_str().unwrap().starts_with("/v1/letter-batches/"));

    // Held a moment: sent once its time has passed, as any letter.
    let mut soon = batch_of(3);
    soon["send_after"] = json!(rfc3339(time::OffsetDateTime::now_utc() + Duration::from_millis(1500)));
    let reply = h.post_batch(&h.a, &soon).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let location = reply.headers[header::LOCATION].to_str().unwrap().to_owned();
    h.send_batches().await;
    assert_eq!(h.get(Some(&h.a), &location).await.body["sent"], 0);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    h.send_batches().await;
    let done = h.get(Some(&h.a), &location).await;
    assert_eq!((done.body["status"].as_str(), done.body["sent"].as_i64()), (Some("done"), Some(3)), "{}", done.body);
    assert_eq!(h.get(Some(&h.a), &location).await.status, StatusCode::OK);
    let cancel_late = h.call(Method::POST, &format!("{location}/cancel"), Some(&h.a), None, &[]).await;
    assert_problem(&cancel_late, StatusCode::CONFLICT);

    // A time that cannot be read, one more than a year ahead, a reply due before the letter goes.
    for (send_after, field) in
        [("next week", "send_after"), ("2099-01-01", "send_after"), (tomorrow.as_str(), "reply.deadline")]
    {
        let mut letter = example();
        letter["send_after"] = json!(send_after);
        if field == "reply.deadline" {
            letter["reply"]["deadline"] = json!(time::OffsetDateTime::now_utc().date().next_day().unwrap().to_string());
        }
        let reply = h.post(&h.a, &letter).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{}", reply.body);
    }
}

#[tokio::test]
async fn a_batch_whose_node_stopped_is_taken_over_by_another_and_sends_no_row_twice() {
    let h = harness_with(RateLimiter::new(0, 0), 1 << 20).await;
    let (letters_before, _) = h.counts().await;
    // Rows 0–3 were sent before the node stopped (their letters and keys are stored)...
    let mut first = batch_of(10);
    first["letters"].as_array_mut().unwrap().truncate(4);
    let sent = h.post_batch(&h.a, &first).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    h.send_batches().await;
    // ...and the whole batch was held by a node that stopped: its lease ran out a moment ago.
    let all = h.post_batch(&h.a, &batch_of(10)).await;
    let location = all.headers[header::LOCATION].to_str().unwrap().to_owned();
    let past = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - Duration::from_secs(1));
    let mut tx = h.store.begin().await.unwrap();
    let claimed = hybridpost_store::letter_batches::claim_batch(&mut tx, &now_text(), &past).await.unwrap();
    tx.commit().await.unwrap();
    assert!(claimed.is_some(), "the stopped node had taken it");
    // Another node (its own writer, the same database) takes it over and finishes it.
    let other_node = AppState::new(
        h.store.clone(),
        ApiKeys::new(h.store.clone(), RateLimiter::new(0, 0)),
        GatewayConfig {
            citizen_id_key: Arc::from(CITIZEN_KEY),
            max_body_bytes: 1 << 20,
            webhook_allow_private_targets: false,
        },
        h.state.composer.clone(),
        h.state.blobs.clone(),
    );
    while hybridpost_gateway::send_one_batch(&other_node).await.unwrap() {}
    let done = h.get(Some(&h.a), &location).await;
    assert_eq!(done.body["status"], "done", "{}", done.body);
    assert_eq!((done.body["sent"].as_i64(), done.body["sent_before"].as_i64()), (Some(6), Some(4)), "{}", done.body);
    assert_eq!(h.counts().await.0 - letters_before, 10, "ten letters, none twice");
}

/// GET of a letter's PDF: its bytes.
async fn letter_pdf_bytes(h: &Harness, key: &str, id: &str) -> Vec<u8> {
    let request = Request::builder()
        .uri(format!("/v1/letters/{id}/pdf"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().collect().await.unwrap().to_bytes().to_vec()
}

#[tokio::test]
async fn an_urgent_letter_lists_its_enclosed_pdfs_and_prints_them_after_it_in_order() {
    use pdfs::{PageSpec, body_text, build};
    let h = harness().await;
    let first = post_pdf(&h, "/v1/documents", build(&[PageSpec::a4(&body_text("Enclosure one"))])).await;
    let second = post_pdf(
        &h,
        "/v1/documents",
        build(&[PageSpec::a4(&body_text("Enclosure two, page 1")), PageSpec::a4(&body_text("Enclosure two, page 2"))]),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    let mut letter = example();
    letter["urgency"] = json!("ด่วนที่สุด");
    letter["references"] = json!([{"reference": "มท 0300/1", "date": "2026-10-01", "from": "กรมการปกครอง"}]);
    letter["enclosures"] = json!([
        {"title": "แบบคำขอรับเงินอุดหนุน", "document_id": first.body["document_id"]},
        {"title": "แผนที่สำนักงานเขต", "document_id": second.body["document_id"]},
        "สำเนาบัตรประจำตัวประชาชน"
    ]);
    letter["sender"] = json!({"ministry_id": "0300", "department_id": "0310"});
    // The agency has set its emblem (the project's stand-in).
    let emblem = hybridpost_render::Emblem::from_file(include_bytes!("../../../fixtures/emblem/standin.png")).unwrap();
    let mut tx = h.store.begin().await.unwrap();
    assert!(hybridpost_compose::set_emblem(&mut tx, &h.state.blobs, h_agency(&h).await, &emblem).await.unwrap());
    tx.commit().await.unwrap();
    let created = h.post(&h.a, &letter).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["urgency"], "most_urgent");
    let id = created.body["letter_id"].as_str().unwrap();

    let pdf = letter_pdf_bytes(&h, &h.a, id).await;
    let dir = pdfs::scratch();
    let path = pdfs::write(dir.path(), "enclosed.pdf", &pdf);
    pdfs::run("qpdf", &["--check", pdfs::arg(&path)]);
    // The emblem, 30 mm high, centred at the top of page 1 on a 300 dpi raster.
    let (x0, y0, x1, y1) = raster::ink_box(&raster::raster(&path, 1), (89.0, 0.0, 121.0, 45.0)).unwrap();
    let (height, centre) = (raster::mm(y1 - y0 + 1), raster::mm(x0 + x1 + 1) / 2.0);
    assert!((height - 30.0).abs() <= 0.5 && (centre - 105.0).abs() <= 0.5, "{height:.2} mm high at {centre:.2} mm");
    // `HYBRIDPOST_DOCS_PICTURES=docs` draws the documentation's pictures of this letter.
    if let Ok(docs) = std::env::var("HYBRIDPOST_DOCS_PICTURES") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(docs);
        let picture = |first: &str, last: &str, dpi: &str, name: &str| {
            let out = docs.join(name);
            pdfs::run(
                "pdftoppm",
                &["-png", "-r", dpi, "-f", first, "-l", last, "-singlefile", pdfs::arg(&path), out.to_str().unwrap()],
            );
        };
        picture("1", "1", "100", "letter-emblem-urgent");
        for page in ["3", "4", "5"] {
            picture(page, page, "40", &format!("letter-enclosure-page{page}"));
        }
    }
    let info = pdfs::run("pdfinfo", &[pdfs::arg(&path)]);
    assert!(info.contains("Pages:           5"), "the letter, its reply sheet, then 1 + 2 enclosed pages: {info}");
    let page1 = pdfs::run("pdftotext", &["-f", "1", "-l", "1", pdfs::arg(&path), "-"]);
    for words in ["ด่วนที่สุด", "แบบคำขอรับเงินอุดหนุน", "แผนที่สำนักงานเขต", "สำเนาบัตรประจำตัวประชาชน"]
    {
        assert!(page1.contains(words), "{words:?} exactly on page 1:\n{page1}");
    }
    let enclosed = pdfs::run("pdftotext", &["-f", "3", "-l", "5", pdfs::arg(&path), "-"]);
    let at = |s: &str| enclosed.find(s).unwrap_or_else(|| panic!("{s:?} missing:\n{enclosed}"));
    assert!(at("Enclosure one") < at("Enclosure two, page 1") && at("Enclosure two, page 1") < at("page 2"));

    // The urgency and the parties are in the letter and its `accepted` event.
    let detail = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert_eq!(detail.body["letter"]["sender"]["department_id"], "0310");
    let accepted = detail.body["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "accepted").unwrap();
    assert_eq!(accepted["detail"]["urgency"], "most_urgent", "{accepted}");

    // Another agency's PDF as an enclosure is refused, naming the entry.
    letter["enclosures"][1]["document_id"] = json!("01936f0e-0000-7000-8000-000000000000");
    let refused = h.post(&h.a, &letter).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "enclosures[1].document_id");
}

#[tokio::test]
async fn a_top_secret_letter_is_refused_and_writes_nothing_and_classified_ones_need_the_agencys_permission() {
    let h = harness().await;
    let before = h.counts().await;
    let mut letter = example();
    letter["secrecy"] = json!("ลับที่สุด");
    let refused = h.post(&h.a, &letter).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "secrecy");
    let why = refused.body["errors"][0]["message"].as_str().unwrap();
    assert!(why.contains("ลับที่สุด") && why.contains("off electronic systems"), "{why}");
    letter["secrecy"] = json!("secret");
    let refused = h.post(&h.a, &letter).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("allow-classified"), "{}", refused.body);
    assert_eq!(h.counts().await, before, "nothing written");

    let agency = h_agency(&h).await;
    let mut tx = h.store.begin().await.unwrap();
    assert!(agencies::set_allow_classified(&mut tx, agency, true).await.unwrap());
    tx.commit().await.unwrap();
    let created = h.post(&h.a, &letter).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["secrecy"], "secret");
    letter["secrecy"] = json!("top_secret");
    assert_problem(&h.post(&h.a, &letter).await, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn urgent_letters_are_taken_into_the_next_print_batch_first() {
    let h = harness().await;
    let mut ids = Vec::new();
    for urgency in [None, Some("urgent"), Some("most_urgent"), Some("very_urgent")] {
        let mut letter = example();
        if let Some(u) = urgency {
            letter["urgency"] = json!(u);
        }
        let created = h.post(&h.a, &letter).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        ids.push(created.body["letter_id"].as_str().unwrap().to_owned());
    }
    let mut conn = h.store.read().await.unwrap();
    let queued = hybridpost_store::print::queued_letters(&mut conn, &["10".into()], 10).await.unwrap();
    let order: Vec<String> = queued.iter().map(|q| q.letter_id.to_string()).collect();
    assert_eq!(order, [ids[2].clone(), ids[3].clone(), ids[1].clone(), ids[0].clone()]);
}

/// The example letter to ศรีภูมิ, เมืองเชียงใหม่ with postcode 50300: a postcode of the district
/// (ช้างม่อย's, ช้างเผือก's), not known for ศรีภูมิ (50200).
fn to_a_postcode_of_the_district() -> Value {
    let mut letter = example();
    letter["recipient"]["address"] = json!({"house_number": "7", "subdistrict": "ศรีภูมิ",
        "district": "เมืองเชียงใหม่", "province": "เชียงใหม่", "postcode": "50300"});
    letter
}

#[tokio::test]
async fn a_postcode_that_serves_the_district_is_accepted_with_a_warning_on_every_path_that_sends() {
    let h = harness_with(RateLimiter::new(0, 0), 1 << 20).await;
    let letter = to_a_postcode_of_the_district();
    let r = h.post(&h.a, &letter).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let warnings = r.body["warnings"].as_array().expect("the answer lists its warnings");
    assert_eq!(warnings.len(), 1, "{}", r.body);
    assert_eq!(warnings[0]["field"], "recipient.address.postcode");
    assert_eq!(warnings[0]["suggestions"], json!(["50200"]));
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("serves เมืองเชียงใหม่, เชียงใหม่ but is not known for ศรีภูมิ"), "{message}");
    let id = r.body["letter_id"].as_str().unwrap();
    let detail = h.get(Some(&h.a), &format!("/v1/letters/{id}")).await;
    assert_eq!(detail.body["letter"]["recipient"]["address"]["postcode"], "50300", "sent as written");
    let plain = h.post(&h.a, &example()).await;
    assert!(plain.body.get("warnings").is_none(), "no warnings, no field: {}", plain.body);

    // In a batch, under the row's index; a letter held until later, under its own fields.
    let mut batch = batch_of(3);
    batch["letters"][2] = letter.clone();
    let r = h.post_batch(&h.a, &batch).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["warnings"][0]["field"], "letters[2].recipient.address.postcode", "{}", r.body);
    assert_eq!(r.body["warnings"].as_array().unwrap().len(), 1, "{}", r.body);
    let mut held = letter;
    let tomorrow = time::OffsetDateTime::now_utc() + Duration::from_secs(24 * 3600);
    held["send_after"] = json!(tomorrow.format(&time::format_description::well_known::Rfc3339).unwrap());
    let r = h.post(&h.a, &held).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["warnings"][0]["field"], "recipient.address.postcode", "{}", r.body);
}

#[tokio::test]
async fn a_thai_name_in_an_address_error_comes_back_as_thai_in_the_problem() {
    let h = harness().await;
    let mut letter = example();
    letter["recipient"]["address"]["subdistrict"] = json!("จักรวรรดิ");
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/letters")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.a))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(letter.to_string()))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = std::str::from_utf8(&bytes).unwrap();
    assert!(body.contains("“จักรวรรดิ” is not a subdistrict of พญาไท, กรุงเทพมหานคร"), "{body}");
    assert!(!body.contains("\\u") && !body.contains("\\\\u{"), "no escapes: {body}");
}
