//! The e-mails people read, snapshotted with insta: subject, plain text and HTML of every
//! built-in template, rendered with a context shaped like the one the product sends (the source
//! of each is named above it). Ids, tokens and machine times are replaced by placeholders, so a
//! snapshot changes only when the words or the layout do.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_core::ReturnReason;
use hybridpost_notify::{RenderedEmail, SendError, TEMPLATE_NAMES, WebhookError, render};
use regex::Regex;
use serde_json::{Value, json};

/// The public address links start with, as in the notifier's and verify's configuration.
const PUBLIC_URL: &str = "https://verify.example.go.th";
const LETTER_ID: &str = "019a7c3e-5b2d-7f10-9c4e-2a6b8d0f1e37";
/// A link token as `ServiceSecret::token` makes them: 32 bytes, unpadded base64url.
const TOKEN: &str = "q3Jz0bX9mT4vK8pLw2RnYc6HdS1uFgEa7iOeNxBtZkQ";

/// A stored time, as the notices' times are kept.
fn stored(at: &str) -> time::OffsetDateTime {
    hybridpost_store::parse_timestamp(at).unwrap()
}

/// The context each template is rendered with.
fn context(name: &str) -> Value {
    match name {
        // services/notifier/src/deliver.rs, `digital_letter_context`.
        "digital_letter" => json!({
            "recipient_name": "นายสมชาย ใจดี",
            "agency_name": "สำนักงานเขตพญาไท",
            "agency_name_en": "Phaya Thai District Office",
            "letter_ref": "มท 0808.2/ว 1234",
            "link": format!("{PUBLIC_URL}/d/{TOKEN}"),
            "paper_link": format!("{PUBLIC_URL}/v/paper/{LETTER_ID}/{TOKEN}"),
            "expires_on": "22 ธันวาคม 2569",
            "expires_on_en": "22 December 2026",
        }),
        // crates/notify/src/outbox.rs, `agency_notice` (ReplyReceived, from intake's
        // matching: `received_at` is the reply's stored time, written for each half's reader); `link` from the payload's
        // `link_path`, joined to the public URL by the notifier.
        "reply_received" => json!({
            "agency_name": "สำนักงานเขตพญาไท",
            "agency_name_en": "Phaya Thai District Office",
            "sender_name": "นายสมชาย ใจดี",
            "letter_ref": "มท 0808.2/ว 1234",
            "received_at": hybridpost_thai::format_thai_datetime(stored("2026-12-04T03:15:30.123Z")),
            "received_at_en": hybridpost_thai::format_english_datetime(stored("2026-12-04T03:15:30.123Z")),
            "link": format!("{PUBLIC_URL}/console/letters/{LETTER_ID}"),
        }),
        // Same place (LetterReturned, from intake's matching: `returned_at` is the stored time
        // the return was recorded).
        "letter_returned" => json!({
            "agency_name": "สำนักงานเขตพญาไท",
            "agency_name_en": "Phaya Thai District Office",
            "recipient_name": "นายสมชาย <ใจดี> & บุตร",
            "letter_ref": "มท 0808.2/ว 1234",
            "returned_at": hybridpost_thai::format_thai_datetime(stored("2026-12-05T02:00:00.000Z")),
            "returned_at_en": hybridpost_thai::format_english_datetime(stored("2026-12-05T02:00:00.000Z")),
            "reason": ReturnReason::AddresseeUnknown.thai(),
            "reason_en": ReturnReason::AddresseeUnknown.english(),
            "link": format!("{PUBLIC_URL}/console/letters/{LETTER_ID}"),
        }),
        // services/verify/src/optin.rs, `request_optin` (default lifetime 48 hours, cooling-off
        // 14 days).
        "optin_confirm" => json!({
            "email": "malee@example.co.th",
            "link": format!("{PUBLIC_URL}/v/confirm?token={TOKEN}"),
            "expires_in_hours": 48,
            "cooling_off_days": 14,
        }),
        // services/notifier/src/checks.rs, `send_failure_digests`: masked recipients, stored
        // times, a period of two short UTC times, `link_path` /v1/events; the errors are the
        // delivery errors' own words, as the outbox stores them.
        "failure_digest" => json!({
            "agency_name": "สำนักงานเขตพญาไท",
            "agency_name_en": "Phaya Thai District Office",
            "period": "2026-12-03 01:00 UTC – 2026-12-04 01:00 UTC",
            "link": format!("{PUBLIC_URL}/v1/events"),
            "failures": [
                {"letter_ref": "มท 0808.2/ว 1234", "channel": "email", "recipient": "m***@example.co.th",
                 "failed_at": "2026-12-03T01:12:00.000Z",
                 "error": SendError::Permanent { smtp_code: Some(550), reason: "5.1.1 mailbox unavailable".into() }
                    .to_string()},
                {"letter_ref": "-", "channel": "webhook", "recipient": "webhook 019a7c3e5b2d7f109c4e2a6b8d0f1e38",
                 "failed_at": "2026-12-03T07:40:09.500Z",
                 "error": WebhookError::Permanent { status: Some(410), reason: "<html>Gone</html>".into() }.to_string()},
            ],
        }),
        other => panic!("no context for {other}"),
    }
}

/// Replaces what differs from run to run, or from letter to letter, by placeholders.
fn redact(text: &str) -> String {
    let rules = [
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", "[timestamp]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[time UTC]"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[uuid]"),
    ];
    let text = rules.iter().fold(text.to_owned(), |text, (pattern, placeholder)| {
        Regex::new(pattern).unwrap().replace_all(&text, *placeholder).into_owned()
    });
    // Link tokens, endpoint ids and hashes: long runs of base64url or hex (not a rule of dashes).
    Regex::new(r"[A-Za-z0-9_-]{32,}")
        .unwrap()
        .replace_all(&text, |m: &regex::Captures<'_>| {
            if m[0].chars().any(|c| c.is_ascii_alphanumeric()) { "[token]".to_owned() } else { m[0].to_owned() }
        })
        .into_owned()
}

/// The e-mail as one text: subject, plain text, HTML.
fn as_read(email: &RenderedEmail) -> String {
    redact(&format!(
        "Subject: {}\n\n===== text/plain =====\n{}\n===== text/html =====\n{}",
        email.subject, email.text, email.html
    ))
}

#[test]
fn every_email_template_reads_as_snapshotted() {
    for name in TEMPLATE_NAMES {
        let email = render(name, context(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_snapshot!(name, as_read(&email));
    }
}

#[test]
fn the_redaction_replaces_ids_tokens_and_times_and_keeps_words() {
    let redacted = redact(&format!(
        "{PUBLIC_URL}/v/paper/{LETTER_ID}/{TOKEN} เมื่อ 2026-12-04T03:15:30.123Z (2026-12-03 01:00 UTC) ที่ 1234/2569\n{}",
        "-".repeat(40)
    ));
    assert_eq!(
        redacted,
        format!(
            "https://verify.example.go.th/v/paper/[uuid]/[token] เมื่อ [timestamp] ([time UTC]) ที่ 1234/2569\n{}",
            "-".repeat(40)
        )
    );
}
