//! Sustained delivery through the outbox to a local aiosmtpd server: notifications queued in the
//! database, claimed, sent and recorded by the notifier's workers, in messages per second.
//!
//! Run: `cargo run --release -p hybridpost-notifier --example outbox_bench -- [MESSAGES] [CONNECTIONS]`
//! (defaults 3000 and 16). Uses the database `HYBRIDPOST_TEST_DATABASE_URL` names (a temporary
//! SQLite file when unset) and the test venv's python (`ops/test.sh` makes it, or set
//! `HYBRIDPOST_TEST_PYTHON`).
#![expect(clippy::unwrap_used, reason = "a benchmark stops on any error")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hybridpost_compose::Composer;
use hybridpost_keyring::Keyring;
use hybridpost_notifier::{NotifierConfig, NotifierState, run_step};
use hybridpost_notify::{Mailer, MailerConfig, SmtpConfig, SmtpSecurity, TransportConfig, WebhookClient};
use hybridpost_seal::ServiceSecret;
use hybridpost_store::BlobStore;
use hybridpost_store::outbox::{self, NewNotification, NotificationKind};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let connections: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("HYBRIDPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../ops/.venv/bin/python"));
    let sink_dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(&python)
        .arg(manifest.join("../../crates/notify/tests/py/smtp_sink.py"))
        .args(["--discard", "--dir"])
        .arg(sink_dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the aiosmtpd sink (is the test venv there?)");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("sink port");

    let db = hybridpost_store::testing::test_store().await;
    let store = db.store.clone();
    let rows: Vec<NewNotification> = (0..total)
        .map(|i| NewNotification {
            kind: NotificationKind::Email,
            purpose: outbox::purpose::REPLY_RECEIVED,
            agency_id: None,
            letter_id: None,
            recipient: format!("saraban{i}@example.go.th"),
            payload: serde_json::json!({"template": "reply_received", "link_path": "/v1/letters/x", "context": {
                "agency_name": "สำนักงานเขตพญาไท", "agency_name_en": "Phaya Thai District Office",
                "sender_name": "นายสมชาย ใจดี", "letter_ref": format!("มท 0808.2/{i}"), "received_at": "2026-11-22"}})
            .to_string(),
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    outbox::insert_notifications(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();

    let mut smtp = SmtpConfig::new("127.0.0.1", port, SmtpSecurity::Plain);
    smtp.max_connections = connections;
    let mailer = Mailer::new(MailerConfig { transport: TransportConfig::Smtp(smtp), dkim: None }).unwrap();
    let secret = ServiceSecret::new(&[7; 32]).unwrap();
    let state = NotifierState {
        store: store.clone(),
        mailer,
        webhooks: WebhookClient::new(Duration::from_secs(5), true).unwrap(),
        composer: Composer::new(Keyring::new(store.clone(), secret.clone()), "http://127.0.0.1:8080"),
        secret,
        blobs: BlobStore::local(std::env::temp_dir().join("hybridpost-outbox-bench-blobs"), 1 << 20).unwrap(),
        config: Arc::new(NotifierConfig {
            concurrency: connections as usize,
            mail_from: "hybridpost <noreply@hybridpost.go.th>".into(),
            ..NotifierConfig::default()
        }),
    };

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let state = state.clone();
        workers.spawn(async move {
            let mut sent = 0;
            loop {
                let r = run_step(&state).await.unwrap();
                if r.claimed == 0 {
                    return sent;
                }
                sent += r.sent;
            }
        });
    }
    let sent: usize = workers.join_all().await.into_iter().sum();
    let elapsed = started.elapsed();
    let mut conn = store.read().await.unwrap();
    let counts = outbox::count_by_status(&mut conn).await.unwrap();
    println!(
        "outbox: {sent} of {total} messages delivered in {:.2} s with {connections} workers and SMTP connections \
         ({:?}): {:.0} msgs/s; rows pending/sent/failed/cancelled {counts:?}",
        elapsed.as_secs_f64(),
        store.backend(),
        sent as f64 / elapsed.as_secs_f64()
    );
    let _ = server.kill();
    let _ = server.wait();
}
