//! The notifier end to end, against real peers: an aiosmtpd SMTP server (plain and STARTTLS),
//! a webhook receiver that checks signatures with the `standardwebhooks` package, and letters
//! submitted through the agency API. Runs on the database `HYBRIDPOST_TEST_DATABASE_URL` names.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

#[path = "../../../crates/notify/tests/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_compose::Composer;
use hybridpost_core::{AgencyId, CitizenId, LetterId};
use hybridpost_gateway::{AppState, GatewayConfig};
use hybridpost_keyring::Keyring;
use hybridpost_notifier::{NotifierConfig, NotifierState, drain, link_token};
use hybridpost_notify::{Mailer, MailerConfig, NameLookup, SmtpConfig, SmtpSecurity, TransportConfig, WebhookClient};
use hybridpost_seal::ServiceSecret;
use hybridpost_store::agencies::{self, Agency, Principal};
use hybridpost_store::outbox::{self, NewNotification, NotificationKind, NotificationStatus};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, channels, events, letters, now_text};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::rate_limit::RateLimiter;
use serde_json::{Value, json};
use support::{PyServer, inspect_eml, self_signed_cert, wait_for_emls};
use tower::ServiceExt;

const CITIZEN_KEY: &[u8] = b"test citizen id key";
const CITIZEN: &str = "1101700230708";
const FROM: &str = "ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>";
const LETTER: &str = include_str!("../../../fixtures/letters/official.json");

struct Harness {
    gateway: Router,
    store: Store,
    key: String,
    agency_id: AgencyId,
    composer: Composer,
    secret: ServiceSecret,
    _db: TestStore,
    _blobs: tempfile::TempDir,
}

async fn harness() -> Harness {
    let db = test_store().await;
    let store = db.store.clone();
    let blobs = tempfile::tempdir().unwrap();
    let mut agency = Agency::new("สำนักงานเขตพญาไท");
    agency.name_en = Some("Phaya Thai District Office".into());
    agency.contact_email = Some("saraban@phayathai.example.go.th".into());
    agency.address_lines = vec!["ถนนพหลโยธิน เขตพญาไท กรุงเทพมหานคร 10400".into()];
    let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test: false });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let secret = ServiceSecret::new(&[9; 32]).unwrap();
    let composer = Composer::new(Keyring::new(store.clone(), secret.clone()), "http://127.0.0.1:8080");
    let state = AppState::new(
        store.clone(),
        ApiKeys::new(store.clone(), RateLimiter::new(0, 0)),
        GatewayConfig {
            citizen_id_key: Arc::from(CITIZEN_KEY),
            max_body_bytes: 64 * 1024,
            // The webhook receiver of these tests listens on 127.0.0.1.
            webhook_allow_private_targets: true,
        },
        composer.clone(),
        hybridpost_store::testing::test_blobs(blobs.path(), 64 << 20),
    );
    let gateway = hybridpost_gateway::router(state, Duration::from_secs(30));
    Harness { gateway, store, key: key.key, agency_id: agency.agency_id, composer, secret, _db: db, _blobs: blobs }
}

impl Harness {
    async fn verify_email(&self, email: &str) {
        let hash = CitizenId::parse(CITIZEN).unwrap().keyed_hash(CITIZEN_KEY);
        let mut tx = self.store.begin().await.unwrap();
        channels::upsert_verified_email(&mut tx, &hash, email, "import").await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req =
            Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = self.gateway.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn send_letter(&self) -> (LetterId, Value) {
        let (status, body) = self.call(Method::POST, "/v1/letters", Some(serde_json::from_str(LETTER).unwrap())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["letter_id"].as_str().unwrap().parse().unwrap(), body)
    }

    fn notifier(&self, mailer: Mailer, config: NotifierConfig) -> NotifierState {
        NotifierState {
            store: self.store.clone(),
            mailer,
            webhooks: WebhookClient::new(Duration::from_secs(5), true).unwrap(),
            secret: self.secret.clone(),
            composer: self.composer.clone(),
            blobs: hybridpost_store::testing::test_blobs(
                &std::env::temp_dir().join("hybridpost-notifier-test-blobs"),
                1 << 20,
            ),
            config: Arc::new(config),
        }
    }

    async fn status_of(&self, letter_id: LetterId) -> String {
        let mut conn = self.store.read().await.unwrap();
        letters::get_letter(&mut conn, hybridpost_core::AgencyScope::live(self.agency_id), letter_id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str()
            .to_owned()
    }

    async fn timeline(&self, letter_id: LetterId) -> Vec<(String, Option<Value>)> {
        let mut conn = self.store.read().await.unwrap();
        events::letter_timeline(&mut conn, letter_id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind.to_string(), e.detail))
            .collect()
    }

    async fn notifications(&self, letter_id: LetterId) -> Vec<outbox::Notification> {
        let mut conn = self.store.read().await.unwrap();
        outbox::letter_notifications(&mut conn, letter_id).await.unwrap()
    }
}

fn fast_config() -> NotifierConfig {
    NotifierConfig {
        public_url: "https://post.example.go.th".into(),
        mail_from: FROM.into(),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        give_up_after: Duration::from_secs(120),
        ..NotifierConfig::default()
    }
}

fn smtp(port: u16, security: SmtpSecurity, cert: Option<&Path>, connections: u32) -> Mailer {
    let mut cfg = SmtpConfig::new("127.0.0.1", port, security);
    cfg.tls_server_name = Some("localhost".into());
    cfg.command_timeout = Duration::from_secs(5);
    cfg.send_timeout = Duration::from_secs(10);
    cfg.max_connections = connections;
    cfg.hello_name = Some("notifier.hybridpost.test".into());
    if let Some(cert) = cert {
        cfg.extra_root_certs_pem.push(std::fs::read(cert).unwrap());
    }
    Mailer::new(MailerConfig { transport: TransportConfig::Smtp(cfg), dkim: None }).unwrap()
}

fn file_mailer(dir: &Path) -> Mailer {
    Mailer::new(MailerConfig { transport: TransportConfig::FileOutbox(dir.to_owned()), dkim: None }).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn notice_arrives_intact(security: SmtpSecurity) {
    let h = harness().await;
    h.verify_email("somchai@example.co.th").await;
    let dir = tempfile::tempdir().unwrap();
    let sink_dir = dir.path().join("in");
    let sink = sink_dir.to_str().unwrap().to_owned();
    let (server, cert) = match security {
        SmtpSecurity::StartTls => {
            let (cert, key) = self_signed_cert(dir.path());
            let args = ["--dir", &sink, "--starttls", cert.to_str().unwrap(), key.to_str().unwrap()];
            (PyServer::start("smtp_sink.py", &args), Some(cert))
        }
        _ => (PyServer::start("smtp_sink.py", &["--dir", &sink]), None),
    };
    let (letter_id, created) = h.send_letter().await;
    assert_eq!(created["channel"], "digital");
    assert_eq!(created["status"], "accepted");
    let state = h.notifier(smtp(server.port, security, cert.as_deref(), 2), fast_config());
    let report = drain(&state).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(h.status_of(letter_id).await, "notified");

    let files = wait_for_emls(&sink_dir, 1);
    let meta: Value = serde_json::from_slice(&std::fs::read(files[0].with_extension("json")).unwrap()).unwrap();
    assert_eq!(meta["tls"], json!(security == SmtpSecurity::StartTls));
    assert_eq!(meta["rcpt_tos"], json!(["somchai@example.co.th"]));
    let mail = &inspect_eml(&files)[0];
    let notification = &h.notifications(letter_id).await[0];
    assert_eq!(mail["message_id"], format!("<{}@hybridpost.go.th>", notification.notification_id));
    assert_eq!(mail["from"], FROM);
    assert_eq!(mail["to"], "somchai@example.co.th");
    assert_eq!(mail["auto_submitted"], "auto-generated");
    assert_eq!(mail["header_is_ascii"], true);
    assert_eq!(mail["defects"], json!([]));
    assert_eq!(
        mail["subject"],
        "คุณมีจดหมายอิเล็กทรอนิกส์ฉบับใหม่จาก สำนักงานเขตพญาไท / New digital letter from Phaya Thai District Office"
    );
    let link = format!("https://post.example.go.th/d/{}", link_token(&h.secret, &notification.notification_id));
    let letter: Value = serde_json::from_str(LETTER).unwrap();
    let parts = mail["parts"].as_array().unwrap();
    assert_eq!(
        parts.iter().map(|p| p["content_type"].as_str().unwrap()).collect::<Vec<_>>(),
        ["text/plain", "text/html"]
    );
    for part in parts {
        let text = part["text"].as_str().unwrap();
        for fact in ["นายสมชาย ใจดี", "สำนักงานเขตพญาไท", "Phaya Thai District Office", "มท 0808.2/ว 1234", &link]
        {
            assert!(text.contains(fact), "{} lacks {fact:?}", part["content_type"]);
        }
        for line in letter["body"].as_array().unwrap() {
            assert!(!text.contains(line.as_str().unwrap()), "the letter's body leaked into {}", part["content_type"]);
        }
        assert!(!text.contains("แจ้งผลการพิจารณาคำขอ"), "the letter's subject leaked");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_letter_notice_arrives_over_plain_smtp_with_its_link_and_not_the_letter() {
    notice_arrives_intact(SmtpSecurity::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_letter_notice_arrives_over_starttls_with_its_link_and_not_the_letter() {
    notice_arrives_intact(SmtpSecurity::StartTls).await;
}

async fn get(app: &Router, path: &str) -> (StatusCode, String, Vec<u8>) {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

/// The button of a digital letter's page: a form post, as a browser sends it.
async fn post(app: &Router, path: &str) -> (StatusCode, String, Vec<u8>) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let res = app.clone().oneshot(request).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ct, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_opens_the_letter_and_its_pdf_and_records_opened_once() {
    let h = harness().await;
    h.verify_email("somchai@example.co.th").await;
    let outbox_dir = tempfile::tempdir().unwrap();
    let (letter_id, _) = h.send_letter().await;
    let state = h.notifier(file_mailer(outbox_dir.path()), fast_config());
    assert_eq!(drain(&state).await.unwrap().sent, 1);
    let id = h.notifications(letter_id).await[0].notification_id.clone();
    let token = link_token(&h.secret, &id);
    let mail = &inspect_eml(&[outbox_dir.path().join(format!("{id}@hybridpost.go.th.eml"))])[0];
    let text = mail["parts"][0]["text"].as_str().unwrap();
    assert!(text.contains(&token), "the e-mail carries the link");
    let paper = hybridpost_notifier::links::paper_link(&h.secret, "https://post.example.go.th", letter_id);
    let paper_path = paper.split_once("/v/paper/").unwrap().1;
    assert!(text.contains(paper_path), "every notice carries the way back to paper: {text}");
    let (pages, _) = hybridpost_notifier::parts(state.clone());

    // Showing the page (as a mail gateway's link scanner does) does not open the letter.
    let res = pages.clone().oneshot(Request::get(format!("/d/{token}")).body(Body::empty()).unwrap()).await.unwrap();
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"), "{csp}");
    assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
    let (status, ct, body) = get(&pages, &format!("/d/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    let html = String::from_utf8(body).unwrap();
    for fact in ["สำนักงานเขตพญาไท", "แจ้งผลการพิจารณาคำขอ", "มท 0808.2/ว 1234", &format!("action=\"/d/{token}/pdf\"")]
    {
        assert!(html.contains(fact), "page lacks {fact:?}");
    }
    assert!(!html.contains("style=\""), "no inline style attribute (the CSP allows one hashed block)");
    assert!(!html.contains("ตามที่ท่านได้ยื่นคำขอ"), "the page shows the subject, the PDF the letter");
    assert_eq!(get(&pages, &format!("/d/{token}/pdf")).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h.status_of(letter_id).await, "notified", "only the reader's press opens the letter");
    let (status, ct, pdf) = post(&pages, &format!("/d/{token}/pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    post(&pages, &format!("/d/{token}/pdf")).await;
    assert_eq!(h.status_of(letter_id).await, "opened");
    let opened = h.timeline(letter_id).await.into_iter().filter(|(k, _)| k == "opened").count();
    assert_eq!(opened, 1, "opened is recorded once");

    let mut altered = token.clone().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let (status, ct, body) = get(&pages, &format!("/d/{}", String::from_utf8(altered).unwrap())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(ct.starts_with("text/html"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("ลิงก์นี้ไม่ถูกต้อง") && page.contains("This link is not valid"), "{page}");
    assert_eq!(get(&pages, "/d/short").await.0, StatusCode::NOT_FOUND);
    // Served with the other roles, the refusal stays a page: the error layer keeps pages for
    // people instead of answering problem+json.
    let short = pages.clone().oneshot(Request::get("/d/short").body(Body::empty()).unwrap()).await.unwrap();
    assert!(short.extensions().get::<hybridpost_web::problem::PageForPeople>().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_is_refused_and_an_unopened_letter_falls_back_to_paper() {
    let h = harness().await;
    h.verify_email("somchai@example.co.th").await;
    let outbox_dir = tempfile::tempdir().unwrap();
    let (letter_id, _) = h.send_letter().await;
    let config = NotifierConfig { link_ttl: Duration::ZERO, open_timeout: Duration::from_millis(300), ..fast_config() };
    let state = h.notifier(file_mailer(outbox_dir.path()), config);
    assert_eq!(drain(&state).await.unwrap().sent, 1);
    let token = link_token(&h.secret, &h.notifications(letter_id).await[0].notification_id);
    let (pages, _) = hybridpost_notifier::parts(state.clone());
    let (status, _, body) = post(&pages, &format!("/d/{token}/pdf")).await;
    assert_eq!(status, StatusCode::GONE);
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("ลิงก์หมดอายุแล้ว") && page.contains("This link has expired"), "{page}");

    assert_eq!(hybridpost_notifier::fall_back_unopened(&state).await.unwrap(), 0, "not yet");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hybridpost_notifier::fall_back_unopened(&state).await.unwrap(), 1);
    assert_eq!(h.status_of(letter_id).await, "queued_for_print");
    let timeline = h.timeline(letter_id).await;
    let kinds: Vec<&str> = timeline.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["accepted", "notified", "queued_for_print"]);
    assert_eq!(timeline[2].1.as_ref().unwrap()["reason"], "not_opened");
    assert_eq!(hybridpost_notifier::fall_back_unopened(&state).await.unwrap(), 0, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_bounce_falls_back_to_paper_and_the_agency_gets_a_digest() {
    let h = harness().await;
    h.verify_email("nobody@reject.invalid").await;
    let dir = tempfile::tempdir().unwrap();
    let sink_dir = dir.path().join("in");
    let server = PyServer::start("smtp_sink.py", &["--dir", sink_dir.to_str().unwrap()]);
    let (letter_id, _) = h.send_letter().await;
    let state = h.notifier(smtp(server.port, SmtpSecurity::Plain, None, 2), fast_config());
    let report = drain(&state).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    assert_eq!(h.status_of(letter_id).await, "queued_for_print");
    let timeline = h.timeline(letter_id).await;
    let kinds: Vec<&str> = timeline.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["accepted", "notification_failed", "queued_for_print"]);
    let failed = timeline[1].1.clone().unwrap();
    assert_eq!((failed["fault"].as_str(), failed["retryable"].as_bool()), (Some("recipient"), Some(false)));
    assert_eq!(failed["channel"], "email");
    assert_eq!(timeline[2].1.as_ref().unwrap()["reason"], "email_rejected");
    let n = &h.notifications(letter_id).await[0];
    assert_eq!(n.status, NotificationStatus::Failed);
    let mut conn = h.store.read().await.unwrap();
    let attempts = outbox::attempts(&mut conn, &n.notification_id).await.unwrap();
    drop(conn);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, "permanent");
    assert!(attempts[0].error.as_deref().unwrap().contains("550"));

    // The agency hears about it once in a digest, then not again within the day.
    assert_eq!(hybridpost_notifier::send_failure_digests(&state).await.unwrap(), 1);
    assert_eq!(hybridpost_notifier::send_failure_digests(&state).await.unwrap(), 0);
    assert_eq!(drain(&state).await.unwrap().sent, 1);
    let files = wait_for_emls(&sink_dir, 1);
    let digest = &inspect_eml(&files)[0];
    assert_eq!(digest["to"], "saraban@phayathai.example.go.th");
    let text = digest["parts"][0]["text"].as_str().unwrap();
    assert!(text.contains("มท 0808.2/ว 1234") && text.contains("n***@reject.invalid"), "{text}");
    assert!(!text.contains("nobody@"), "the citizen's address is masked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agency_notices_arrive_with_a_link_to_the_letter() {
    let h = harness().await;
    let outbox_dir = tempfile::tempdir().unwrap();
    let (letter_id, _) = h.send_letter().await;
    let mut tx = h.store.begin().await.unwrap();
    let received_at = now_text();
    let notice = hybridpost_notify::outbox::AgencyNotice::ReplyReceived {
        sender_name: "นายสมชาย ใจดี".into(),
        received_at: received_at.clone(),
        answer: Some(("ข้อ 2 ไม่ยินยอม (ความมั่นใจ 97%)".into(), "choice 2: I do not agree (confidence 97%)".into())),
        missing_pages: vec![2, 3],
    };
    let id = hybridpost_notify::outbox::queue_agency_notice(&mut tx, h.agency_id, letter_id, &notice)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let state = h.notifier(file_mailer(outbox_dir.path()), fast_config());
    assert_eq!(drain(&state).await.unwrap().sent, 1);
    let mail = &inspect_eml(&[outbox_dir.path().join(format!("{id}@hybridpost.go.th.eml"))])[0];
    assert_eq!(mail["to"], "saraban@phayathai.example.go.th");
    let text = mail["parts"][0]["text"].as_str().unwrap();
    // The letter's page in the agency console, and the time as each half's reader reads it.
    assert!(text.contains(&format!("https://post.example.go.th/console/letters/{letter_id}")), "{text}");
    assert!(text.contains("มท 0808.2/ว 1234"));
    assert!(text.contains(" เวลา ") && text.contains(" น.") && text.contains("(Bangkok time)"), "{text}");
    assert!(!text.contains(&received_at), "no machine time: {text}");
    // The answer read from the tick boxes, in both halves.
    assert!(text.contains("คำตอบที่อ่านได้จากช่องที่กา: ข้อ 2 ไม่ยินยอม"), "{text}");
    assert!(text.contains("The answer read from its tick boxes: choice 2: I do not agree"), "{text}");
    // The pages that had not arrived when the reply's wait ended.
    assert!(text.contains("หน้าของแบบตอบกลับที่ยังไม่ได้รับ: 2, 3"), "{text}");
    assert!(text.contains("Reply pages that have not arrived: 2, 3"), "{text}");
}

fn http_get_json(port: u16, path: &str) -> Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap()
}

/// Delivers until `done` holds or `limit` passes, with two workers at once.
async fn deliver_with_two_workers(state: &NotifierState, limit: Duration, done: impl AsyncFn() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "not delivered within {limit:?}");
        let (a, b) = tokio::join!(drain(state), drain(state));
        a.unwrap();
        b.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_mails_queued_while_the_smtp_server_is_down_all_arrive_once() {
    let h = harness().await;
    let port = free_port();
    let rows: Vec<NewNotification> = (0..200)
        .map(|i| NewNotification {
            kind: NotificationKind::Email,
            purpose: outbox::purpose::REPLY_RECEIVED,
            agency_id: Some(h.agency_id),
            letter_id: None,
            recipient: format!("saraban{i}@example.go.th"),
            payload: json!({"template": "reply_received", "link_path": "/v1/letters/x", "context": {
                "agency_name": "สำนักงานเขตพญาไท", "agency_name_en": "Phaya Thai", "sender_name": format!("ผู้ส่ง {i}"),
                "letter_ref": format!("REF-{i}"), "received_at": "2026-11-22"}})
            .to_string(),
        })
        .collect();
    let mut tx = h.store.begin().await.unwrap();
    outbox::insert_notifications(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();
    let mailer = smtp(port, SmtpSecurity::Plain, None, 4);
    // While the server is down, retries wait 4 to 8 s, so one drain tries each row once (on a
    // machine slow enough to take longer, the first rows come round again: still retried).
    let slow_retries = NotifierConfig {
        claim_batch: 16,
        retry_base: Duration::from_secs(8),
        retry_max: Duration::from_secs(8),
        ..fast_config()
    };
    let report = drain(&h.notifier(mailer.clone(), slow_retries)).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 0), "nothing listens yet: {report:?}");
    assert!(report.retried >= 200, "every mail was tried and kept for a retry: {report:?}");
    let mut conn = h.store.read().await.unwrap();
    assert_eq!(outbox::count_by_status(&mut conn).await.unwrap(), (200, 0, 0, 0), "all still queued");
    drop(conn);
    let state = h.notifier(mailer, NotifierConfig { claim_batch: 16, ..fast_config() });
    let dir = tempfile::tempdir().unwrap();
    let sink_dir = dir.path().join("in");
    let _server = PyServer::start("smtp_sink.py", &["--dir", sink_dir.to_str().unwrap(), "--port", &port.to_string()]);
    let store = h.store.clone();
    deliver_with_two_workers(&state, Duration::from_secs(90), async || {
        let mut conn = store.read().await.unwrap();
        outbox::count_by_status(&mut conn).await.unwrap().1 == 200
    })
    .await;

    let files = wait_for_emls(&sink_dir, 200);
    assert_eq!(files.len(), 200);
    let mut ids = HashSet::new();
    for f in &files {
        let raw = std::fs::read_to_string(f).unwrap();
        let id = raw.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{id} arrived twice");
    }
    assert_eq!(ids.len(), 200);
    let mut conn = h.store.read().await.unwrap();
    assert_eq!(outbox::count_by_status(&mut conn).await.unwrap(), (0, 200, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_to_a_receiver_failing_for_a_while_all_arrive_once_with_valid_signatures() {
    let h = harness().await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("secret");
    std::fs::write(&secret_file, "").unwrap();
    let receiver = PyServer::start("webhook_sink.py", &[secret_file.to_str().unwrap(), "--fail-first", "150"]);
    let (status, bad) = h.call(Method::POST, "/v1/webhooks", Some(json!({"url": "http://agency.example/hook"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    let (status, created) = h.call(Method::POST, "/v1/webhooks", Some(json!({"url": url}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    std::fs::write(&secret_file, secret).unwrap();
    let (_, list) = h.call(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0].get("secret").is_none(), "the secret is shown only once");
    let (_, other) = h
        .call(Method::POST, "/v1/webhooks", Some(json!({"url": "https://agency.example/other", "events": ["opened"]})))
        .await;
    let (status, _) =
        h.call(Method::DELETE, &format!("/v1/webhooks/{}", other["endpoint_id"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // 100 paper letters: 200 events (accepted, queued_for_print), 200 webhooks.
    let mut letter_ids = HashSet::new();
    for _ in 0..100 {
        letter_ids.insert(h.send_letter().await.0.to_string());
    }
    let state = h.notifier(file_mailer(tempfile::tempdir().unwrap().path()), fast_config());
    let store = h.store.clone();
    deliver_with_two_workers(&state, Duration::from_secs(90), async || {
        let mut conn = store.read().await.unwrap();
        outbox::count_by_status(&mut conn).await.unwrap().1 == 200
    })
    .await;

    let stats = http_get_json(receiver.port, "/stats");
    assert_eq!(stats["failed"], 150, "the receiver failed the first 150 deliveries");
    assert_eq!(stats["rejected"], 0, "every signature verifies with the standardwebhooks package");
    let accepted: Vec<&str> = stats["accepted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let unique: HashSet<&&str> = accepted.iter().collect();
    assert_eq!((accepted.len(), unique.len()), (200, 200), "each webhook accepted exactly once");
    let bodies = stats["bodies"].as_object().unwrap();
    let kinds: HashSet<&str> = bodies.values().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, HashSet::from(["letter.accepted", "letter.queued_for_print"]));
    assert!(bodies.values().all(|b| letter_ids.contains(b["data"]["letter_id"].as_str().unwrap())));
}

/// A TCP listener on 127.0.0.1 that answers every connection with `HTTP/1.1 401` and counts
/// the connections, standing in for a service inside the network.
fn internal_service() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 6\r\n\r\nsecret");
        }
    });
    (port, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_name_that_resolves_into_the_network_is_refused_at_connection_time() {
    let h = harness().await;
    let (port, connections) = internal_service();
    // Public-looking at registration; the resolver now says 127.0.0.1 (DNS rebinding).
    let url = format!("https://hooks.agency.example:{port}/hook");
    let (status, created) =
        h.call(Method::POST, "/v1/webhooks", Some(json!({"url": url, "events": ["accepted"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (letter_id, _) = h.send_letter().await;

    let rebinding = NameLookup::new(|_| Box::pin(async { Ok(vec!["127.0.0.1".parse().unwrap()]) }));
    let mut state = h.notifier(file_mailer(tempfile::tempdir().unwrap().path()), fast_config());
    state.webhooks = WebhookClient::with_lookup(Duration::from_secs(5), false, rebinding.clone()).unwrap();
    let report = drain(&state).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing connected to the internal service");
    let timeline = h.timeline(letter_id).await;
    let failed = timeline.iter().find(|(kind, _)| kind == "notification_failed").expect("a failure event").1.clone();
    let failed = failed.unwrap();
    let error = failed["error"].as_str().unwrap();
    assert_eq!(
        error,
        "webhook target refused: hooks.agency.example resolves to a loopback address, which webhooks may not reach"
    );
    assert!(!error.contains("401") && !error.contains("secret"), "{error}");
    assert_eq!((failed["fault"].as_str(), failed["retryable"].as_bool()), (Some("recipient"), Some(false)));

    // A receiver on the premises, with private targets allowed, is reached.
    let endpoint = created["endpoint_id"].as_str().unwrap();
    let (status, _) = h.call(Method::DELETE, &format!("/v1/webhooks/{endpoint}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let local = format!("http://receiver.lan:{port}/hook");
    let (status, body) =
        h.call(Method::POST, "/v1/webhooks", Some(json!({"url": local, "events": ["accepted"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (letter_id, _) = h.send_letter().await;
    state.webhooks = WebhookClient::with_lookup(Duration::from_secs(5), true, rebinding).unwrap();
    let report = drain(&state).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "connected once allowed");
    let timeline = h.timeline(letter_id).await;
    let failed = timeline.iter().find(|(kind, _)| kind == "notification_failed").expect("a failure event");
    assert!(failed.1.as_ref().unwrap()["error"].as_str().unwrap().contains("HTTP 401"), "{:?}", failed.1);
}
