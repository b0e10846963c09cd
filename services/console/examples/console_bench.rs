//! Server time of the post-office console's pages at national volume: 100,000 letters waiting
//! for the site and 1,000 pages in its review queue (and a 5,000-letter batch), each page asked
//! for many times through the console's router, as one signed-in operator would; prints
//! p50, p95 and the slowest time per page.
//!
//! Run: `cargo run --release -p hybridpost-console --example console_bench -- [LETTERS] [REVIEW] [ROUNDS]`
//! (defaults 100000, 1000 and 200), on the database `HYBRIDPOST_TEST_DATABASE_URL` names (a
//! temporary SQLite file when unset; `postgres://…` for PostgreSQL).
#![expect(clippy::unwrap_used, reason = "a benchmark stops on any error")]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_console::ConsoleConfig;
use hybridpost_core::{
    AgencyId, Channel, ChannelReason, LetterId, LetterStatus, PageOutcome, PersonId, PersonRole, ScanId, ScanMode,
    ScanPageId, SiteId, Workplace,
};
use hybridpost_store::agencies::{self, Agency, Site};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::people::{self, Person, Session};
use hybridpost_store::print;
use hybridpost_store::scan::{self, NewScanFile, NewScanPage, PageDecision};
use hybridpost_store::{Store, now_text, timestamp_text};
use tower::ServiceExt;

fn letter(agency_id: AgencyId, n: usize) -> LetterRecord {
    LetterRecord {
        letter_id: LetterId::new(),
        agency_id,
        reference: format!("มท 0808.2/ว {n}"),
        status: LetterStatus::QueuedForPrint,
        channel: Channel::Print,
        channel_reason: ChannelReason::NoCitizenId,
        test: false,
        postcode: format!("10{:03}", n % 1000),
        citizen_id_hash: None,
        reply_deadline: None,
        content: serde_json::json!({"subject": "แจ้งผล", "recipient": {"name": format!("ผู้รับ ที่ {n}")}}),
        created_at: now_text(),
        updated_at: now_text(),
        seal: None,
        withdrawn: None,
    }
}

/// What the pages are asked about: the session cookie, the batch and the scan with a page.
struct Filled {
    cookie: String,
    /// An agency admin's session cookie, and one of the agency's letters.
    agency_cookie: String,
    letter: String,
    batch: String,
    scan: ScanId,
    page: ScanPageId,
}

async fn fill(store: &Store, letters_n: usize, review_n: usize) -> Filled {
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let site = Site {
        site_id: SiteId::new(),
        name: "ปณ. สามเสนใน".into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();

    let started = Instant::now();
    let all: Vec<LetterRecord> = (0..letters_n).map(|n| letter(agency.agency_id, n)).collect();
    for chunk in all.chunks(1000) {
        let mut tx = store.begin().await.unwrap();
        letters::insert_letters(&mut tx, chunk).await.unwrap();
        tx.commit().await.unwrap();
    }
    // A batch of 5,000 of them, the most a site prints at once by default.
    let mut tx = store.begin().await.unwrap();
    let queued = print::queued_letters(&mut tx, &site.postcode_prefixes, 5000).await.unwrap();
    let closed = print::create_batch(&mut tx, site.site_id, &queued, &now_text()).await.unwrap();
    let batch = closed.value.unwrap();
    tx.commit().await.unwrap();

    // A scan whose pages all wait in review.
    let scan_id = ScanId::new();
    let file = NewScanFile {
        name: "scan.pdf".into(),
        size_bytes: 1,
        sha256: "0".repeat(64),
        blob_key: Some("scans/x".into()),
        refused: None,
    };
    let mut tx = store.begin().await.unwrap();
    scan::create_scan(&mut tx, scan_id, site.site_id, ScanMode::Replies, None, &[file], None, &now_text())
        .await
        .unwrap();
    let until = timestamp_text(time::OffsetDateTime::now_utc() + Duration::from_secs(3600));
    scan::claim_file(&mut tx, &now_text(), &until, "bench").await.unwrap().unwrap();
    let mut first_page = None;
    for n in 0..review_n {
        let page_id = ScanPageId::new();
        first_page.get_or_insert(page_id);
        let page = NewScanPage {
            page_id,
            scan_id,
            file_index: 1,
            page_number: i64::try_from(n + 1).unwrap(),
            entry: None,
            content_hash: Some(format!("{n:064x}")),
            image_blob: None,
            image_meta: None,
            thumbnail_blob: None,
            quarter_turns: 0,
            mark: r#"{"kind":"review","reason":"no_code"}"#.into(),
            decode_log: None,
            decode_ms: 10,
        };
        scan::insert_page(&mut tx, &page, "bench", &now_text()).await.unwrap();
        let decision = PageDecision {
            outcome: PageOutcome::Review,
            letter_id: None,
            reply_id: None,
            review_reason: Some("no_code"),
            review_detail: Some("no code was found on the page"),
        };
        scan::set_page_outcome(&mut tx, page_id, &decision).await.unwrap();
    }
    tx.commit().await.unwrap();

    // A signed-in supervisor.
    let person = Person {
        person_id: PersonId::new(),
        email: "bench@post.example".into(),
        name: "ผู้ทดสอบ".into(),
        workplace: Workplace::Site(site.site_id),
        role: PersonRole::Supervisor,
        password_hash: None,
        disabled_at: None,
        totp_enabled_at: None,
        oidc_subject: None,
        created_at: now_text(),
        updated_at: now_text(),
    };
    let token = "bench-session-token";
    let now = time::OffsetDateTime::now_utc();
    let session = Session {
        token_hash: hex_sha256(token),
        person_id: person.person_id,
        csrf_token: "t".into(),
        created_at: timestamp_text(now),
        last_seen_at: timestamp_text(now),
        expires_at: timestamp_text(now + Duration::from_secs(12 * 3600)),
    };
    // And the agency's admin.
    let clerk = Person {
        person_id: PersonId::new(),
        email: "bench@agency.example".into(),
        workplace: Workplace::Agency(agency.agency_id),
        role: PersonRole::Admin,
        ..person.clone()
    };
    let clerk_token = "bench-agency-session-token";
    let clerk_session = Session { token_hash: hex_sha256(clerk_token), person_id: clerk.person_id, ..session.clone() };
    let mut tx = store.begin().await.unwrap();
    people::insert_person(&mut tx, &person, &"0".repeat(64), &now_text()).await.unwrap();
    people::insert_session(&mut tx, &session, None).await.unwrap();
    people::insert_person(&mut tx, &clerk, &"1".repeat(64), &now_text()).await.unwrap();
    people::insert_session(&mut tx, &clerk_session, None).await.unwrap();
    tx.commit().await.unwrap();
    // A live database's statistics are kept by autovacuum; a freshly filled one is analysed
    // (and, on PostgreSQL, vacuumed, so that index-only scans can skip the table) first.
    let mut conn = store.read().await.unwrap();
    let maintain = if conn.backend_name() == "PostgreSQL" { "vacuum analyze" } else { "analyze" };
    sqlx::query(maintain).execute(&mut *conn).await.unwrap();
    drop(conn);
    eprintln!("filled in {:.1} s", started.elapsed().as_secs_f64());
    Filled {
        cookie: format!("hp_session={token}"),
        agency_cookie: format!("hp_session={clerk_token}"),
        letter: all[all.len() / 2].letter_id.to_string(),
        batch: batch.batch_id.to_string(),
        scan: scan_id,
        page: first_page.unwrap(),
    }
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn shorten(path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let path = path.split('/').map(|part| if part.len() > 20 { "{id}" } else { part }).collect::<Vec<_>>().join("/");
    if query.is_empty() {
        return path;
    }
    let query: Vec<String> = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}", query.join("&"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let letters_n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let review_n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let db = hybridpost_store::testing::test_store().await;
    let f = fill(&db.store, letters_n, review_n).await;
    let blobs = tempfile::tempdir().unwrap();
    let config = ConsoleConfig { public_url: "http://bench.test".into(), ..ConsoleConfig::default() };
    let app = hybridpost_console::router(support::console_state(&db.store, config, blobs.path()));

    let database = if db.pg_schema.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "console pages, {database}, {letters_n} letters waiting, {review_n} pages in review, {rounds} requests each"
    );
    println!("{:<48} {:>8} {:>8} {:>8}", "page", "p50 ms", "p95 ms", "max ms");
    let site = |p: String| (p, f.cookie.clone());
    let agency = |p: String| (p, f.agency_cookie.clone());
    let paths = [
        site("/console/today".to_owned()),
        site("/console/batches".to_owned()),
        site(format!("/console/batches/{}", f.batch)),
        site(format!("/console/batches/{}/dispatch", f.batch)),
        site("/console/scans".to_owned()),
        site(format!("/console/scans/{}", f.scan)),
        site("/console/review".to_owned()),
        site(format!("/console/review/{}", f.page)),
        site("/console/returns".to_owned()),
        site("/console/people".to_owned()),
        site("/console/audit".to_owned()),
        // The agency's pages over the same 100,000 letters.
        agency("/console/letters".to_owned()),
        // "ผู้รับ ที่ 7": the start of a recipient's name.
        agency(
            "/console/letters?q=%E0%B8%9C%E0%B8%B9%E0%B9%89%E0%B8%A3%E0%B8%B1%E0%B8%9A+%E0%B8%97%E0%B8%B5%E0%B9%88+7"
                .to_owned(),
        ),
        agency("/console/letters?q=%E0%B8%A1%E0%B8%97+0808.2%2F%E0%B8%A7+5000".to_owned()),
        agency("/console/letters?status=returned&channel=print".to_owned()),
        agency("/console/letters?from=2020-01-01&to=2999-12-31".to_owned()),
        agency(format!("/console/letters/{}", f.letter)),
        agency("/console/replies".to_owned()),
        agency("/console/usage".to_owned()),
        agency("/console/settings".to_owned()),
    ];
    let mut worst_p95 = 0.0f64;
    for (path, cookie) in &paths {
        let mut times = Vec::with_capacity(rounds);
        for i in 0..rounds + 5 {
            let req = Request::get(path).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
            let started = Instant::now();
            let res = app.clone().oneshot(req).await.unwrap();
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let took = started.elapsed().as_secs_f64() * 1000.0;
            // The queue's own address sends the browser to its oldest page; every other is a page.
            let expected = if path == "/console/review" { StatusCode::SEE_OTHER } else { StatusCode::OK };
            assert_eq!(status, expected, "{path}: {}", String::from_utf8_lossy(&body));
            if i >= 5 {
                times.push(took);
            }
        }
        times.sort_by(f64::total_cmp);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index"
        )]
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        worst_p95 = worst_p95.max(at(0.95));
        println!("{:<48} {:>8.2} {:>8.2} {:>8.2}", shorten(path), at(0.5), at(0.95), times[times.len() - 1]);
    }
    println!("slowest p95: {worst_p95:.2} ms (budget 50 ms)");
}
