//! Delivery to a real SMTP server (aiosmtpd), checked with Python's `email` package.

mod support;

use std::path::Path;
use std::time::Duration;

use hybridpost_notify::{
    Delivery, Mailer, MailerConfig, OutgoingEmail, SendError, SmtpAuth, SmtpConfig, SmtpSecurity, TransportConfig,
    render,
};
use serde_json::json;
use support::{PyServer, inspect_eml, self_signed_cert, wait_for_emls};

const THAI_SUBJECT: &str = "คุณมีจดหมายอิเล็กทรอนิกส์ฉบับใหม่จาก กรมสรรพากร / New digital letter from The Revenue Department";

fn letter_email(id: &str, to: &str) -> OutgoingEmail {
    let rendered = render(
        "digital_letter",
        json!({
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
    .expect("template renders");
    assert_eq!(rendered.subject, THAI_SUBJECT);
    OutgoingEmail::from_rendered(id, "ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>", to, rendered)
}

fn smtp_mailer(port: u16, security: SmtpSecurity, cert: Option<&Path>, auth: Option<SmtpAuth>) -> Mailer {
    let mut cfg = SmtpConfig::new("127.0.0.1", port, security);
    cfg.tls_server_name = Some("localhost".into());
    cfg.command_timeout = Duration::from_secs(10);
    cfg.send_timeout = Duration::from_secs(20);
    cfg.max_connections = 2;
    cfg.hello_name = Some("mailer.hybridpost.test".into());
    cfg.auth = auth;
    if let Some(cert) = cert {
        cfg.extra_root_certs_pem.push(std::fs::read(cert).expect("read cert"));
    }
    Mailer::new(MailerConfig { transport: TransportConfig::Smtp(cfg), dkim: None }).expect("valid mailer config")
}

fn check_received(dir: &Path, expect_tls: bool) {
    let files = wait_for_emls(dir, 1);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files[0].with_extension("json")).expect("meta")).expect("json");
    assert_eq!(meta["tls"], json!(expect_tls), "session TLS state: {meta}");
    assert_eq!(meta["rcpt_tos"], json!(["somchai@example.co.th"]));
    assert_eq!(meta["mail_from"], json!("noreply@hybridpost.go.th"));

    let parsed = &inspect_eml(&files)[0];
    assert_eq!(parsed["subject"], json!(THAI_SUBJECT), "{parsed}");
    let raw_subject = parsed["raw_subject_line"].as_str().expect("Subject header present");
    assert!(
        raw_subject.contains("=?utf-8?") || raw_subject.contains("=?UTF-8?"),
        "subject is RFC 2047 encoded: {raw_subject}"
    );
    assert_eq!(parsed["header_is_ascii"], json!(true));
    assert_eq!(parsed["message_id"], json!("<letter-42.1@hybridpost.go.th>"));
    assert_eq!(parsed["date_valid"], json!(true));
    assert_eq!(parsed["from"], json!("ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>"));
    assert_eq!(parsed["to"], json!("somchai@example.co.th"));
    assert_eq!(parsed["mime_version"], json!("1.0"));
    assert_eq!(parsed["auto_submitted"], json!("auto-generated"));
    assert_eq!(parsed["content_type"], json!("multipart/alternative"));
    assert_eq!(parsed["defects"], json!([]));

    let parts = parsed["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["content_type"], json!("text/plain"));
    assert_eq!(parts[1]["content_type"], json!("text/html"));
    for part in parts {
        assert_eq!(part["charset"], json!("utf-8"));
        let content = part["text"].as_str().expect("text");
        for fact in
            ["สมชาย ใจดี", "กรมสรรพากร", "RD-2569-000123", "https://hybridpost.go.th/l/9f8e7d6c", "31 ธันวาคม 2569"]
        {
            assert!(content.contains(fact), "{} lacks {fact:?}", part["content_type"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thai_notice_sent_over_plain_smtp_arrives_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink_dir = dir.path().join("in");
    let server = PyServer::start("smtp_sink.py", &["--dir", sink_dir.to_str().expect("utf-8")]);
    let mailer = smtp_mailer(server.port, SmtpSecurity::Plain, None, None);
    let delivery =
        mailer.send(&letter_email("letter-42.1@hybridpost.go.th", "somchai@example.co.th")).await.expect("delivered");
    match delivery {
        Delivery::Smtp { message_id, code, .. } => {
            assert_eq!(message_id, "letter-42.1@hybridpost.go.th");
            assert_eq!(code, 250);
        }
        other => panic!("unexpected {other:?}"),
    }
    check_received(&sink_dir, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thai_notice_sent_with_starttls_and_login_arrives_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed_cert(dir.path());
    let sink_dir = dir.path().join("in");
    let server = PyServer::start(
        "smtp_sink.py",
        &[
            "--dir",
            sink_dir.to_str().expect("utf-8"),
            "--starttls",
            cert.to_str().expect("utf-8"),
            key.to_str().expect("utf-8"),
            "--auth",
            "hybridpost:s3cret",
        ],
    );
    let auth = SmtpAuth { username: "hybridpost".into(), password: "s3cret".into() };
    let mailer = smtp_mailer(server.port, SmtpSecurity::StartTls, Some(&cert), Some(auth));
    mailer
        .send(&letter_email("<letter-42.1@hybridpost.go.th>", "somchai@example.co.th"))
        .await
        .expect("delivered over STARTTLS");
    check_received(&sink_dir, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thai_notice_sent_over_implicit_tls_arrives_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed_cert(dir.path());
    let sink_dir = dir.path().join("in");
    let server = PyServer::start(
        "smtp_sink.py",
        &[
            "--dir",
            sink_dir.to_str().expect("utf-8"),
            "--implicit-tls",
            cert.to_str().expect("utf-8"),
            key.to_str().expect("utf-8"),
        ],
    );
    let mailer = smtp_mailer(server.port, SmtpSecurity::ImplicitTls, Some(&cert), None);
    mailer
        .send(&letter_email("letter-42.1@hybridpost.go.th", "somchai@example.co.th"))
        .await
        .expect("delivered over implicit TLS");
    let files = wait_for_emls(&sink_dir, 1);
    assert_eq!(inspect_eml(&files)[0]["subject"], json!(THAI_SUBJECT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_certificate_is_a_transient_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed_cert(dir.path());
    let sink_dir = dir.path().join("in");
    let server = PyServer::start(
        "smtp_sink.py",
        &[
            "--dir",
            sink_dir.to_str().expect("utf-8"),
            "--starttls",
            cert.to_str().expect("utf-8"),
            key.to_str().expect("utf-8"),
        ],
    );
    let mailer = smtp_mailer(server.port, SmtpSecurity::StartTls, None, None);
    let err = mailer
        .send(&letter_email("letter-1@hybridpost.go.th", "somchai@example.co.th"))
        .await
        .expect_err("certificate is not trusted");
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_reply_is_permanent_and_a_4xx_reply_is_transient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink_dir = dir.path().join("in");
    let server = PyServer::start("smtp_sink.py", &["--dir", sink_dir.to_str().expect("utf-8")]);
    let mailer = smtp_mailer(server.port, SmtpSecurity::Plain, None, None);

    let err = mailer.send(&letter_email("a-1@hybridpost.go.th", "nobody@reject.invalid")).await.expect_err("550");
    assert!(matches!(err, SendError::Permanent { smtp_code: Some(550), .. }), "{err:?}");
    assert!(!err.is_retryable());

    let err = mailer.send(&letter_email("a-2@hybridpost.go.th", "someone@busy.invalid")).await.expect_err("451");
    assert!(matches!(err, SendError::Transient { smtp_code: Some(451), .. }), "{err:?}");
    assert!(err.is_retryable());

    // The pool keeps working after failures.
    mailer
        .send(&letter_email("letter-42.1@hybridpost.go.th", "somchai@example.co.th"))
        .await
        .expect("delivered after failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mailer = smtp_mailer(port, SmtpSecurity::Plain, None, None);
    let err =
        mailer.send(&letter_email("r-1@hybridpost.go.th", "somchai@example.co.th")).await.expect_err("nothing listens");
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_as_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut cfg = SmtpConfig::new("127.0.0.1", port, SmtpSecurity::Plain);
    cfg.command_timeout = Duration::from_millis(300);
    cfg.send_timeout = Duration::from_secs(2);
    let mailer = Mailer::new(MailerConfig { transport: TransportConfig::Smtp(cfg), dkim: None }).expect("config");
    let started = std::time::Instant::now();
    let err =
        mailer.send(&letter_email("t-1@hybridpost.go.th", "somchai@example.co.th")).await.expect_err("no greeting");
    assert!(err.is_retryable(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_address_or_message_id_is_permanent_without_contacting_the_server() {
    let mailer = smtp_mailer(1, SmtpSecurity::Plain, None, None);
    let err = mailer.send(&letter_email("x-1@hybridpost.go.th", "not an address")).await.expect_err("bad address");
    assert!(!err.is_retryable(), "{err}");
    let err = mailer.send(&letter_email("../../etc/passwd", "somchai@example.co.th")).await.expect_err("bad id");
    assert!(!err.is_retryable(), "{err}");
}
