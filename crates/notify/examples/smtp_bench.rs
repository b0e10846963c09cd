//! Sustained delivery to a local aiosmtpd server: messages per second at a given concurrency.
//!
//! Run: `cargo run --release --example smtp_bench -- [MESSAGES] [CONCURRENCY]`
//! (defaults 3000 and 16). Needs the test venv (`ops/test.sh` makes it in ops/.venv; or set `HYBRIDPOST_TEST_PYTHON`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hybridpost_notify::{Mailer, MailerConfig, OutgoingEmail, SmtpConfig, SmtpSecurity, TransportConfig, render};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let concurrency: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("HYBRIDPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../ops/.venv/bin/python"));
    assert!(
        python.exists(),
        "no python at {}: run ops/test.sh once (it makes ops/.venv) or set HYBRIDPOST_TEST_PYTHON",
        python.display()
    );
    let sink_dir = std::env::temp_dir().join("hybridpost-bench-sink");
    let mut server = Command::new(&python)
        .arg(manifest.join("tests/py/smtp_sink.py"))
        .args(["--discard", "--dir"])
        .arg(&sink_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd sink");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped")).read_line(&mut line).expect("READY line");
    let port: u16 = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("sink port");

    let mut cfg = SmtpConfig::new("127.0.0.1", port, SmtpSecurity::Plain);
    cfg.max_connections = concurrency;
    cfg.command_timeout = Duration::from_secs(10);
    let mailer = Mailer::new(MailerConfig { transport: TransportConfig::Smtp(cfg), dkim: None }).expect("mailer");
    let rendered = render(
        "digital_letter",
        serde_json::json!({
            "recipient_name": "สมชาย ใจดี",
            "agency_name": "กรมสรรพากร",
            "agency_name_en": "The Revenue Department",
            "letter_ref": "RD-2569-000123",
            "link": "https://hybridpost.go.th/l/9f8e7d6c",
            "paper_link": "https://hybridpost.go.th/v/paper/01a2/9f8e7d6c",
            "expires_on": "31 ธันวาคม 2569",
            "expires_on_en": "31 December 2026",
        }),
    )
    .expect("render");

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (mailer, rendered, next, failures) = (mailer.clone(), rendered.clone(), next.clone(), failures.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let email = OutgoingEmail::from_rendered(
                    format!("bench-{i}@hybridpost.go.th"),
                    "noreply@hybridpost.go.th",
                    "somchai@example.co.th",
                    rendered.clone(),
                );
                if mailer.send(&email).await.is_err() {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let elapsed = started.elapsed();
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "sent {} of {total} messages in {:.2} s with {concurrency} connections: {:.0} msgs/s",
        total - failed,
        elapsed.as_secs_f64(),
        (total - failed) as f64 / elapsed.as_secs_f64()
    );
    let _ = server.kill();
    let _ = server.wait();
}
