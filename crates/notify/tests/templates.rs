//! Rendering of the e-mail templates.

use hybridpost_notify::{TEMPLATE_NAMES, TemplateError, Templates, render};
use serde_json::{Value, json};

fn context(name: &str) -> Value {
    match name {
        "digital_letter" => json!({
            "recipient_name": "สมชาย ใจดี",
            "agency_name": "กรมสรรพากร",
            "agency_name_en": "The Revenue Department",
            "letter_ref": "RD-2569-000123",
            "link": "https://hybridpost.go.th/l/9f8e7d6c",
            "paper_link": "https://hybridpost.go.th/v/paper/01a2/9f8e7d6c",
            "expires_on": "31 ธันวาคม 2569",
            "expires_on_en": "31 December 2026",
        }),
        "reply_received" => json!({
            "agency_name": "กรมการปกครอง",
            "agency_name_en": "Department of Provincial Administration",
            "sender_name": "สมหญิง รักไทย",
            "letter_ref": "DOPA-2569-77",
            "received_at": "5 มกราคม 2570 เวลา 10:30 น.",
            "received_at_en": "5 January 2027 at 10:30 (Bangkok time)",
            "link": "https://hybridpost.go.th/a/replies/77",
        }),
        "letter_returned" => json!({
            "agency_name": "กรมการปกครอง",
            "agency_name_en": "Department of Provincial Administration",
            "recipient_name": "นายทดสอบ <ระบบ>",
            "letter_ref": "DOPA-2569-78",
            "returned_at": "6 มกราคม 2570 เวลา 09:00 น.",
            "returned_at_en": "6 January 2027 at 09:00 (Bangkok time)",
            "reason": "ไม่มีผู้รับตามจ่าหน้า",
            "reason_en": "Addressee unknown",
            "link": "https://hybridpost.go.th/a/returns/78",
        }),
        "optin_confirm" => json!({
            "email": "malee@example.co.th",
            "link": "https://hybridpost.go.th/optin/abc123",
            "expires_in_hours": 48,
            "cooling_off_days": 14,
        }),
        "failure_digest" => json!({
            "agency_name": "กรมสรรพากร",
            "agency_name_en": "The Revenue Department",
            "period": "1–7 มกราคม 2570",
            "link": "https://hybridpost.go.th/a/failures",
            "failures": [
                {"letter_ref": "RD-1", "channel": "email", "recipient": "a@example.co.th",
                 "failed_at": "2 ม.ค. 2570", "error": "550 mailbox unavailable"},
                {"letter_ref": "RD-2", "channel": "webhook", "recipient": "https://agency.example/hook",
                 "failed_at": "3 ม.ค. 2570", "error": "HTTP 410 <gone>"},
            ],
        }),
        other => panic!("no context for {other}"),
    }
}

#[test]
fn every_template_renders_subject_text_and_html_in_thai_first() {
    for name in TEMPLATE_NAMES {
        let r = render(name, context(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{name} subject");
        assert!(r.html.starts_with("<!DOCTYPE html>"), "{name} html");
        assert!(r.html.contains(r#"<html lang="th">"#), "{name} html lang");
        let thai_first =
            |s: &str| s.chars().find(|c| c.is_alphabetic()).is_some_and(|c| ('\u{0E00}'..='\u{0E7F}').contains(&c));
        assert!(thai_first(&r.subject), "{name} subject starts in Thai: {}", r.subject);
        assert!(thai_first(&r.text), "{name} text starts in Thai");
        assert!(r.text.contains("----------------------------------------"), "{name} has an English half");
    }
}

#[test]
fn the_digital_letter_notice_has_the_exact_thai_wording_and_only_a_link() {
    let r = render("digital_letter", context("digital_letter")).expect("renders");
    assert_eq!(r.subject, "คุณมีจดหมายอิเล็กทรอนิกส์ฉบับใหม่จาก กรมสรรพากร / New digital letter from The Revenue Department");
    assert!(r.text.starts_with("เรียน สมชาย ใจดี\n"));
    assert!(r.text.contains("กรมสรรพากร ได้ส่งจดหมายถึงท่าน เลขที่อ้างอิง RD-2569-000123"));
    assert!(r.text.contains("\nhttps://hybridpost.go.th/l/9f8e7d6c\n"));
    assert!(r.text.contains("เนื้อหาของจดหมายจะไม่ถูกส่งมาทางอีเมล"));
    assert!(r.html.contains("<strong>RD-2569-000123</strong>"));
    assert!(r.html.contains(">เปิดอ่านจดหมาย</a>"));
}

#[test]
fn the_other_templates_carry_their_key_thai_sentences() {
    let r = render("reply_received", context("reply_received")).expect("renders");
    assert_eq!(r.subject, "ได้รับหนังสือตอบกลับสำหรับจดหมายเลขที่ DOPA-2569-77 / Reply received for letter DOPA-2569-77");
    assert!(r.text.contains("ระบบได้รับหนังสือตอบกลับจาก สมหญิง รักไทย สำหรับจดหมายเลขที่ DOPA-2569-77"));

    let r = render("letter_returned", context("letter_returned")).expect("renders");
    assert_eq!(r.subject, "จดหมายเลขที่ DOPA-2569-78 ถูกตีกลับ / Letter DOPA-2569-78 returned undeliverable");
    assert!(r.text.contains("สาเหตุ: ไม่มีผู้รับตามจ่าหน้า"));
    assert!(r.text.contains("Reason: Addressee unknown"));

    let r = render("optin_confirm", context("optin_confirm")).expect("renders");
    assert!(r.text.contains("กรุณายืนยันโดยเปิดลิงก์ด้านล่างภายใน 48 ชั่วโมง"));

    let r = render("failure_digest", context("failure_digest")).expect("renders");
    assert_eq!(r.subject, "สรุปการแจ้งเตือนที่ส่งไม่สำเร็จ 2 รายการ / 2 failed notifications");
    assert!(r.text.contains(
        "- จดหมาย RD-1 | email | a@example.co.th | 2 ม.ค. 2570\n  สาเหตุ / Reason: 550 mailbox unavailable\n"
    ));
    assert!(r.text.contains("- จดหมาย RD-2 | webhook |"));
}

#[test]
fn html_is_escaped_but_plain_text_is_not() {
    let r = render("letter_returned", context("letter_returned")).expect("renders");
    assert!(r.html.contains("นายทดสอบ &lt;ระบบ&gt;"), "{}", r.html);
    assert!(!r.html.contains("<ระบบ>"));
    assert!(r.text.contains("นายทดสอบ <ระบบ>"));
    let r = render("failure_digest", context("failure_digest")).expect("renders");
    assert!(r.html.contains("HTTP 410 &lt;gone&gt;"));
}

#[test]
fn a_missing_variable_is_an_error_naming_the_file() {
    let mut ctx = context("digital_letter");
    ctx.as_object_mut().expect("object").remove("letter_ref");
    let err = render("digital_letter", ctx).expect_err("letter_ref is required");
    match &err {
        TemplateError::Render { file, detail } => {
            assert!(file.starts_with("digital_letter/"), "{file}");
            assert!(detail.contains("undefined"), "{detail}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_unknown_template_is_an_error() {
    let err = render("no_such_template", json!({})).expect_err("unknown");
    assert!(matches!(err, TemplateError::UnknownTemplate { .. }));
    assert!(err.to_string().contains("digital_letter"));
}

#[test]
fn the_template_folder_loads_and_renders_like_the_builtin_copy() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/email");
    let from_dir = Templates::from_dir(&dir).expect("folder loads");
    for name in TEMPLATE_NAMES {
        let ctx = context(name);
        assert_eq!(from_dir.render(name, &ctx).expect("renders"), render(name, ctx.clone()).expect("renders"));
    }
}
