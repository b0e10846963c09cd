//! The bulk path at its limit: a 10,000-row spreadsheet through the console's mail merge
//! (upload, every row checked, sent as one batch) and 10,000 letters through
//! `POST /v1/letter-batches`, each then sent by the batch worker. Prints the time of each step,
//! rows per second, and the process's peak memory.
//!
//! Run: `cargo run --release -p hybridpost-console --example bulk_bench -- [ROWS]` (default
//! 10000), on the database `HYBRIDPOST_TEST_DATABASE_URL` names (a temporary SQLite file when
//! unset; `postgres://…` for PostgreSQL).
#![expect(clippy::unwrap_used, reason = "a benchmark stops on any error")]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_console::ConsoleConfig;
use hybridpost_core::{PersonId, PersonRole, Workplace};
use hybridpost_store::agencies::{self, Agency, Principal};
use hybridpost_store::people::{self, Person, Session};
use hybridpost_store::{Store, now_text, timestamp_text};
use tower::ServiceExt;

const ORIGIN: &str = "http://bench.test";
const COLUMNS: [&str; 14] = [
    "เลขที่หนังสือ",
    "ชื่อ-นามสกุล",
    "บ้านเลขที่",
    "ถนน",
    "แขวง",
    "เขต",
    "จังหวัด",
    "รหัสไปรษณีย์",
    "office",
    "tax_year",
    "parcel",
    "assessed_value",
    "tax_amount",
    "due_date",
];

fn row(n: usize) -> [String; 14] {
    [
        format!("กท 5301/ภ {n:05}"),
        format!("นายสมชาย ใจดี {n}"),
        format!("{}/{}", n / 100 + 1, n % 100 + 1),
        "พหลโยธิน".into(),
        "สามเสนใน".into(),
        "พญาไท".into(),
        "กรุงเทพมหานคร".into(),
        "10400".into(),
        "สำนักงานเขตพญาไท".into(),
        "2570".into(),
        format!("ที่ดินโฉนดเลขที่ {}", 10_000 + n),
        format!("{}", 1_000_000 + n * 10),
        format!("{}.50", 500 + n % 1000),
        "2027-04-30".into(),
    ]
}

fn xlsx(rows: usize) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    for n in 0..rows {
        for (c, value) in row(n).iter().enumerate() {
            sheet.write_string(n as u32 + 1, c as u16, value).unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

fn api_letter(n: usize) -> serde_json::Value {
    let r = row(n);
    serde_json::json!({
        "reference": r[0], "recipient": {"name": r[1], "address": {"house_number": r[2], "road": r[3],
            "subdistrict": r[4], "district": r[5], "province": r[6], "postcode": r[7]}},
        "subject": "แจ้งการประเมินภาษีที่ดินและสิ่งปลูกสร้าง", "template": "tax-notice",
        "data": {"office": r[8], "tax_year": 2570, "parcel": r[10], "assessed_value": 1_000_000 + n * 10,
            "tax_amount": 500.5, "due_date": r[13]},
        "signatory": {"name": "นางสาวสมศรี รักงาน", "position": "ผู้อำนวยการเขตพญาไท"},
    })
}

/// The process's peak resident memory, in MiB (Linux).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    cookie: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(path).header(header::ORIGIN, ORIGIN);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    if !content_type.is_empty() {
        req = req.header(header::CONTENT_TYPE, content_type);
    }
    let res = app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = res.status();
    let location = res.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, location, body)
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

async fn signed_in_sender(store: &Store, agency: &Agency) -> String {
    let now = time::OffsetDateTime::now_utc();
    let person = Person {
        person_id: PersonId::new(),
        email: "bench@agency.example".into(),
        name: "ผู้ทดสอบ".into(),
        workplace: Workplace::Agency(agency.agency_id),
        role: PersonRole::Sender,
        password_hash: None,
        disabled_at: None,
        totp_enabled_at: None,
        oidc_subject: None,
        created_at: now_text(),
        updated_at: now_text(),
    };
    let token = "bench-session-token";
    let session = Session {
        token_hash: {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(token.as_bytes()))
        },
        person_id: person.person_id,
        csrf_token: "t".into(),
        created_at: timestamp_text(now),
        last_seen_at: timestamp_text(now),
        expires_at: timestamp_text(now + Duration::from_secs(12 * 3600)),
    };
    let mut tx = store.begin().await.unwrap();
    people::insert_person(&mut tx, &person, &"0".repeat(64), &now_text()).await.unwrap();
    people::insert_session(&mut tx, &session, None).await.unwrap();
    tx.commit().await.unwrap();
    format!("hp_session={token}")
}

/// Runs the worker until the batch is sent; its time.
async fn send_all(api: &hybridpost_gateway::AppState) -> Duration {
    let started = Instant::now();
    while hybridpost_gateway::send_one_batch(api).await.unwrap() {}
    started.elapsed()
}

fn line(step: &str, took: Duration, rows: usize) {
    println!(
        "{step:<52} {:>9.2} s {:>10.0} rows/s {:>9.0} MiB peak",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        peak_mib()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let db = hybridpost_store::testing::test_store().await;
    let store = db.store.clone();
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let key = hybridpost_web::auth::generate_api_key(Principal::Agency { agency_id: agency.agency_id, test: false });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let cookie = signed_in_sender(&store, &agency).await;
    let blobs = tempfile::tempdir().unwrap();
    let config = ConsoleConfig { public_url: ORIGIN.into(), ..ConsoleConfig::default() };
    let console = hybridpost_console::router(support::console_state(&store, config, blobs.path()));
    let secret = hybridpost_seal::ServiceSecret::new(&[7u8; 32]).unwrap();
    let api = hybridpost_gateway::AppState::new(
        store.clone(),
        hybridpost_web::auth::ApiKeys::new(store.clone(), hybridpost_web::rate_limit::RateLimiter::new(0, 0)),
        hybridpost_gateway::GatewayConfig {
            citizen_id_key: Arc::from(&b"bench citizen id key"[..]),
            max_body_bytes: 1 << 20,
            webhook_allow_private_targets: false,
        },
        hybridpost_compose::Composer::new(hybridpost_keyring::Keyring::new(store.clone(), secret), ORIGIN),
        hybridpost_store::BlobStore::local(blobs.path(), 1 << 20).unwrap(),
    );
    let api_router = hybridpost_gateway::router(api.clone(), Duration::from_secs(120));
    let database = if db.pg_schema.is_some() { "PostgreSQL" } else { "SQLite" };
    let file = xlsx(rows);
    println!("bulk path, {database}, {rows} rows ({:.1} MiB XLSX)", file.len() as f64 / (1024.0 * 1024.0));

    // The console: upload, every row checked on the draft's page, sent.
    let boundary = "bench-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nt\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"template\"\r\n\r\ntax-notice\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"bench.xlsx\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let started = Instant::now();
    let (status, draft, text) = call(
        &console,
        Method::POST,
        "/console/send-many",
        &cookie,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    line("console: upload and read the XLSX", started.elapsed(), rows);
    let choices = form(&[
        ("csrf", "t"),
        ("template", "tax-notice"),
        ("layout", "official"),
        ("language", "th"),
        ("subject", "แจ้งการประเมินภาษีที่ดินและสิ่งปลูกสร้าง"),
        ("signatory_name", "นางสาวสมศรี รักงาน"),
        ("signatory_position", "ผู้อำนวยการเขตพญาไท"),
        ("contact", ""),
        ("reply_deadline", ""),
        ("col.reference", COLUMNS[0]),
        ("col.name", COLUMNS[1]),
        ("col.house_number", COLUMNS[2]),
        ("col.road", COLUMNS[3]),
        ("col.subdistrict", COLUMNS[4]),
        ("col.district", COLUMNS[5]),
        ("col.province", COLUMNS[6]),
        ("col.postcode", COLUMNS[7]),
        ("col.data.office", "office"),
        ("col.data.tax_year", "tax_year"),
        ("col.data.parcel", "parcel"),
        ("col.data.assessed_value", "assessed_value"),
        ("col.data.tax_amount", "tax_amount"),
        ("col.data.due_date", "due_date"),
    ]);
    let form_type = "application/x-www-form-urlencoded";
    let (status, _, text) = call(&console, Method::POST, &draft, &cookie, form_type, choices).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    let started = Instant::now();
    let (status, _, page) = call(&console, Method::GET, &draft, &cookie, "", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"ready\""), "every row is right");
    line("console: check every row (the draft's page)", started.elapsed(), rows);
    let started = Instant::now();
    let (status, _, text) =
        call(&console, Method::POST, &format!("{draft}/send"), &cookie, form_type, form(&[("csrf", "t")])).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    let submitted = started.elapsed();
    line("console: send (check again, store the batch)", submitted, rows);
    let sending = send_all(&api).await;
    line("worker: accept every row (seal, route, store)", sending, rows);
    line("console: send to every row accepted", submitted + sending, rows);

    // The API: the same letters as JSON (with other references: nothing here is sent twice).
    let letters: Vec<serde_json::Value> = (rows..2 * rows).map(api_letter).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "letters": letters })).unwrap();
    let size = body.len();
    let started = Instant::now();
    let req = Request::post("/v1/letter-batches")
        .header(header::AUTHORIZATION, format!("Bearer {}", key.key))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let res = api_router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let text = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&text));
    let checked = started.elapsed();
    line(&format!("API: POST /v1/letter-batches ({:.1} MiB) → 202", size as f64 / 1048576.0), checked, rows);
    let sending = send_all(&api).await;
    line("worker: accept every row", sending, rows);
    line("API: request to every row accepted", checked + sending, rows);
    let mut conn = store.read().await.unwrap();
    let count = hybridpost_store::letters::count_letters(&mut conn).await.unwrap();
    assert_eq!(count as usize, 2 * rows, "every row became one letter");
    println!("letters stored: {count}; peak memory of the process: {:.0} MiB", peak_mib());
}
