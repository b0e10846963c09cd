//! The file outbox back end.

mod support;

use hybridpost_notify::{Delivery, Mailer, MailerConfig, OutgoingEmail, TransportConfig, render};
use serde_json::json;
use support::inspect_eml;

fn optin(id: &str) -> OutgoingEmail {
    let rendered = render(
        "optin_confirm",
        json!({
            "email": "malee@example.co.th",
            "link": "https://hybridpost.go.th/optin/abc123",
            "expires_in_hours": 48,
            "cooling_off_days": 14,
        }),
    )
    .expect("renders");
    OutgoingEmail::from_rendered(id, "noreply@hybridpost.go.th", "มาลี ศรีสุข <malee@example.co.th>", rendered)
}

#[tokio::test]
async fn the_file_outbox_writes_parseable_eml_files_named_by_message_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = dir.path().join("outbox");
    let mailer = Mailer::new(MailerConfig { transport: TransportConfig::FileOutbox(outbox.clone()), dkim: None })
        .expect("config");

    let first = mailer.send(&optin("optin-7@hybridpost.go.th")).await.expect("written");
    let second = mailer.send(&optin("optin-8@hybridpost.go.th")).await.expect("written");
    let paths: Vec<_> = [first, second]
        .into_iter()
        .map(|d| match d {
            Delivery::File { path, .. } => path,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(paths[0], outbox.join("optin-7@hybridpost.go.th.eml"));
    assert_eq!(paths[1], outbox.join("optin-8@hybridpost.go.th.eml"));

    // A retry of the same message replaces the file instead of adding one; no temporary files stay.
    mailer.send(&optin("optin-7@hybridpost.go.th")).await.expect("rewritten");
    let names: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let parsed = inspect_eml(&paths);
    for (msg, id) in parsed.iter().zip(["optin-7", "optin-8"]) {
        assert_eq!(msg["message_id"], json!(format!("<{id}@hybridpost.go.th>")));
        assert_eq!(msg["subject"], json!("ยืนยันอีเมลของท่านสำหรับรับจดหมายอิเล็กทรอนิกส์ / Confirm your e-mail address"));
        assert_eq!(msg["to"], json!("มาลี ศรีสุข <malee@example.co.th>"));
        assert_eq!(msg["defects"], json!([]));
        let parts = msg["parts"].as_array().expect("parts");
        assert_eq!(parts.len(), 2);
        for part in parts {
            let content = part["text"].as_str().expect("text");
            assert!(content.contains("https://hybridpost.go.th/optin/abc123"));
            assert!(content.contains("48 ชั่วโมง"));
        }
    }
}
