//! The console's pages: minijinja templates from `templates/console/`, built into the binary,
//! rendered with strict undefined variables, in Thai or English; its style, script and Thai
//! webfont served from the binary.

use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../../templates/console/layout.html")),
    ("signed_in.html", include_str!("../../../templates/console/signed_in.html")),
    ("sign_in.html", include_str!("../../../templates/console/sign_in.html")),
    ("setup.html", include_str!("../../../templates/console/setup.html")),
    ("sign_in_code.html", include_str!("../../../templates/console/sign_in_code.html")),
    ("oidc_done.html", include_str!("../../../templates/console/oidc_done.html")),
    ("account.html", include_str!("../../../templates/console/account.html")),
    ("letters.html", include_str!("../../../templates/console/letters.html")),
    ("letter.html", include_str!("../../../templates/console/letter.html")),
    ("replies.html", include_str!("../../../templates/console/replies.html")),
    ("settings.html", include_str!("../../../templates/console/settings.html")),
    ("usage.html", include_str!("../../../templates/console/usage.html")),
    ("today.html", include_str!("../../../templates/console/today.html")),
    ("batches.html", include_str!("../../../templates/console/batches.html")),
    ("batch.html", include_str!("../../../templates/console/batch.html")),
    ("dispatch.html", include_str!("../../../templates/console/dispatch.html")),
    ("people.html", include_str!("../../../templates/console/people.html")),
    ("audit.html", include_str!("../../../templates/console/audit.html")),
    ("returns.html", include_str!("../../../templates/console/returns.html")),
    ("scans.html", include_str!("../../../templates/console/scans.html")),
    ("scan.html", include_str!("../../../templates/console/scan.html")),
    ("review.html", include_str!("../../../templates/console/review.html")),
    ("review_empty.html", include_str!("../../../templates/console/review_empty.html")),
    ("review_answer.html", include_str!("../../../templates/console/review_answer.html")),
    ("review_answers_empty.html", include_str!("../../../templates/console/review_answers_empty.html")),
    ("message.html", include_str!("../../../templates/console/message.html")),
    ("send_many.html", include_str!("../../../templates/console/send_many.html")),
    ("merge.html", include_str!("../../../templates/console/merge.html")),
    ("merge_batch.html", include_str!("../../../templates/console/merge_batch.html")),
    ("webhooks.html", include_str!("../../../templates/console/webhooks.html")),
    ("send_one.html", include_str!("../../../templates/console/send_one.html")),
];

const STYLE: &str = include_str!("../../../templates/console/console.css");
const SCRIPT: &str = include_str!("../../../templates/console/console.js");
const FONT: &[u8] = include_bytes!("../../../templates/fonts/Laksaman.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../../../templates/fonts/Laksaman-Bold.ttf");

/// The language a person reads the console in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    /// Thai, the default.
    #[serde(rename = "th")]
    Thai,
    /// English.
    #[serde(rename = "en")]
    English,
}

impl Lang {
    /// The `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Thai => "th",
            Lang::English => "en",
        }
    }

    /// Thai or English text, whichever this language is.
    pub fn pick(self, thai: &'static str, english: &'static str) -> &'static str {
        match self {
            Lang::Thai => thai,
            Lang::English => english,
        }
    }
}

const LANG_COOKIE: &str = "hp_lang";

/// The language chosen in the request's cookie (Thai when none is).
pub(crate) fn lang_of(parts: &Parts) -> Lang {
    match crate::session::cookie(parts, LANG_COOKIE) {
        Some("en") => Lang::English,
        _ => Lang::Thai,
    }
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            // The sources are built in and checked by the tests: a broken one is a build defect.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!("console template {name} does not parse: {e}");
            }
        }
        env
    })
}

/// Renders `template` with `context` (plus `lang`) as an HTML page with `status`.
pub(crate) fn render(status: StatusCode, template: &str, lang: Lang, context: serde_json::Value) -> Response {
    let mut context = context;
    if let Some(map) = context.as_object_mut() {
        map.insert("lang".into(), serde_json::json!(lang.code()));
        map.insert("en".into(), serde_json::json!(lang == Lang::English));
        map.insert("style".into(), serde_json::json!(asset_url("console.css")));
        map.insert("script".into(), serde_json::json!(asset_url("console.js")));
        // Back to the same page in the other language (console paths need no escaping).
        let back = map.get("path").and_then(|p| p.as_str()).unwrap_or("/console/today").to_owned();
        let other = lang.pick("en", "th");
        map.insert("lang_switch".into(), serde_json::json!(format!("/console/lang/{other}?back={back}")));
        map.entry("path").or_insert(serde_json::Value::Null);
    }
    match environment()
        .get_template(template)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&context))))
    {
        Ok(body) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body)
            .into_response(),
        Err(e) => {
            tracing::error!("console page {template} cannot be rendered: {e:#}");
            #[cfg(test)]
            eprintln!("console page {template} cannot be rendered: {e:#}");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page cannot be shown / แสดงหน้านี้ไม่ได้").into_response()
        }
    }
}

/// A page with a heading and a message, in both languages.
pub(crate) fn message(status: StatusCode, lang: Lang, title: (&str, &str), text: (&str, &str)) -> Response {
    render(
        status,
        "message.html",
        lang,
        serde_json::json!({
            "title": title.0, "title_en": title.1, "text": text.0, "text_en": text.1,
        }),
    )
}

/// A form refused by the CSRF checks.
pub(crate) fn refused(status: StatusCode, lang: Lang) -> Response {
    message(
        status,
        lang,
        ("ทำรายการนี้ไม่ได้", "This cannot be done"),
        (
            "แบบฟอร์มนี้หมดอายุหรือไม่ได้มาจากหน้าของระบบ กรุณากลับไปที่หน้าเดิม โหลดใหม่ แล้วลองอีกครั้ง",
            "The form has expired or did not come from this console's own page. Go back, reload the page and try again.",
        ),
    )
}

/// A page that is not there, or not this person's.
pub(crate) fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        Lang::Thai,
        ("ไม่พบหน้านี้", "Page not found"),
        ("ไม่มีหน้านี้ หรือท่านไม่มีสิทธิ์เปิดหน้านี้", "There is no such page, or it is not yours to open."),
    )
}

/// The store cannot be reached.
pub(crate) fn unavailable(lang: Lang) -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        ("ระบบขัดข้องชั่วคราว", "Temporarily unavailable"),
        ("กรุณาลองใหม่อีกสักครู่", "Please try again in a moment."),
    )
}

/// `/console/static/{file}?h=…`: the URL changes with the content, so it is cached for good.
fn asset_url(file: &str) -> String {
    use sha2::Digest;
    let content: &[u8] = match file {
        "console.css" => STYLE.as_bytes(),
        "console.js" => SCRIPT.as_bytes(),
        _ => b"",
    };
    format!("/console/static/{file}?h={}", hex::encode(&sha2::Sha256::digest(content)[..8]))
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &'static str) = match file.as_str() {
        "console.css" => (STYLE.as_bytes(), "text/css; charset=utf-8"),
        "console.js" => (SCRIPT.as_bytes(), "text/javascript; charset=utf-8"),
        "laksaman.ttf" => (FONT, "font/ttf"),
        "laksaman-bold.ttf" => (FONT_BOLD, "font/ttf"),
        _ => return not_found(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct Back {
    back: Option<String>,
}

/// `/console/lang/{th|en}?back=/console/…`: remembers the language and goes back.
pub(crate) async fn choose_lang(Path(lang): Path<String>, Query(back): Query<Back>) -> Response {
    let lang = if lang == "en" { "en" } else { "th" };
    // Only a console path: never an open redirect.
    let back = back
        .back
        .filter(|b| b.starts_with("/console/") && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/console/today".to_owned());
    let mut response = crate::see_other(&back);
    if let Ok(cookie) =
        HeaderValue::from_str(&format!("{LANG_COOKIE}={lang}; Path=/console; SameSite=Strict; Max-Age=31536000"))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page with the context its handler gives it, in both languages: strict undefined
    /// variables make a misspelt or missing name fail here.
    #[test]
    fn every_page_renders_in_both_languages() {
        let me = serde_json::json!({"name": "สมหญิง ใจดี", "role": "operator", "supervisor": false, "agency": false, "admin": false, "sends": false});
        let batch = serde_json::json!({
            "id": "b", "status": "ready", "status_name": "พร้อมพิมพ์", "letters": "2", "pages": "4", "sheets": "3",
            "created": "4 ธ.ค. 69 10:00 น.", "rendered": "4 ธ.ค. 69 10:01 น.", "printed": null, "dispatched": null,
        });
        let letter =
            serde_json::json!({"envelope": 1, "postcode": "10400", "first_page": 2, "pages": 2, "tracking": null});
        // The send form's values and errors, apart: one json! of the whole page passes the macro's
        // recursion limit.
        let send_one_values = serde_json::json!({"reference": "มท 1", "recipient_name": "", "citizen_id": "", "email": "", "house_number": "",
                          "moo": "", "village": "", "soi": "", "road": "", "postcode": "", "subdistrict": "",
                          "district": "", "province": "", "subject": "", "body": "ก\n\nข", "signatory_name": "",
                          "signatory_position": "", "contact": "", "reply_deadline": "", "send_after": "", "layout": "plain", "language": "th",
                          "csrf": "", "action": "", "mode": "", "content": "document", "template": "appointment",
                          "document_id": "d", "document_name": "a.pdf", "recipient_position": "",
                          "letter_date": "", "urgent_within": "", "urgency": "most_urgent", "secrecy": "secret",
                          "digits": "arabic"});
        let send_one_errors = serde_json::json!({"reference": null, "recipient_name": null, "citizen_id": null, "email": null,
                               "house_number": null, "moo": null, "village": null, "soi": null, "road": null,
                               "postcode": "ผิด", "subdistrict": null, "district": null, "province": null,
                               "subject": null, "body": "ว่าง", "signatory_name": null, "signatory_position": null,
                               "contact": null, "reply_deadline": null, "send_after": null, "letter": "ผิด",
                               "recipient_position": null, "letter_date": null, "urgent_within": null,
                               "secrecy": "ไม่อนุญาต",
                               "template": null, "template_data": "ขาด", "pdf": "ผิด"});
        let pages = [
            (
                "sign_in.html",
                serde_json::json!({"csrf": "t", "email": "", "error": null, "error_en": null, "provider": null}),
            ),
            (
                "sign_in.html",
                serde_json::json!({"csrf": "t", "email": "a@b", "error": "ผิด", "error_en": "wrong", "provider": "ThaID"}),
            ),
            (
                "setup.html",
                serde_json::json!({"csrf": "t", "name": "ก", "email": "a@b", "error": null, "error_en": null}),
            ),
            ("message.html", serde_json::json!({"title": "ก", "title_en": "A", "text": "ข", "text_en": "B"})),
            (
                "today.html",
                serde_json::json!({
                    "me": me, "csrf": "t", "site": "ปณ. บางรัก", "date": "4 ธันวาคม 2569", "waiting": "1,000",
                    "batches": [{"status": "ready", "name": "พร้อมพิมพ์", "count": "2"}], "review": "3", "returned": "4",
                    "path": "/console/today",
                }),
            ),
            (
                "batches.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/batches", "batches": [batch],
                    "older": "x", "message": "ไม่มี"}),
            ),
            (
                "batch.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/batches/b", "batch": batch,
                    "postcodes": ["10110", "10400"], "letters": [letter], "page": 1, "pages_total": 2, "ready": true,
                    "printed": false, "rendered": true, "max_reprint": 50, "reprint_error": "ผิด"}),
            ),
            (
                "dispatch.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/batches/b/dispatch", "batch": batch,
                    "count": 2, "printed": true, "first": "", "numbers": "", "first_error": null,
                    "scan_errors": ["ซองที่ 1"]}),
            ),
            (
                "people.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/people",
                    "people": [{"id": "p", "name": "ก", "email": "a@b", "role": "operator", "state": "active",
                                "disabled": false, "me": false}],
                    "form": {"email": "", "name": "", "role": "operator"}, "error": "ผิด",
                    "created": {"name": "ก", "email": "a@b", "link": "http://x/console/setup/y", "expires": "7 ธ.ค. 69"}}),
            ),
            (
                "audit.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/audit", "older": 5,
                    "lines": [{"at": "4 ธ.ค. 69", "who": "ก", "action": "ลงชื่อเข้าใช้", "code": "signin",
                               "target": null, "client": "127.0.0.1"}]}),
            ),
            (
                "returns.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/returns", "days": 30,
                    "periods": [7, 30, 90], "more": true,
                    "rows": [{"at": "4 ธ.ค. 69", "reference": "มท 1", "agency": "ก", "id": "l", "recipient": "ข",
                              "postcode": "10400", "reason": "ย้าย"}]}),
            ),
            (
                "scans.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/scans", "older": "x", "error": "ผิด",
                    "reasons": [{"code": "moved", "name": "ย้าย"}], "max_files": 100, "max_file_mb": 200,
                    "scans": [{"id": "s", "mode": "หนังสือตอบกลับ", "reason": null, "status": "done", "files": 1,
                               "created": "4 ธ.ค. 69", "done": true}]}),
            ),
            (
                "scan.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/scans/s",
                    "scan": {"id": "s", "mode": "หนังสือตีกลับ", "reason": "ย้าย", "status": "done", "files": 1,
                             "created": "4 ธ.ค. 69", "done": false},
                    "files": [{"name": "a.pdf", "status": "done", "pages": 2, "error": null, "size_kb": 10}],
                    "counts": [{"code": "review", "name": "รอตรวจสอบ", "count": 1}], "filter": "review",
                    "pages": [{"id": "p", "file": 1, "number": 1, "outcome": "review", "outcome_name": "รอตรวจสอบ",
                               "how": "ไม่พบรหัส", "thumbnail": true, "review": true}],
                    "screen": 2, "screens": 3}),
            ),
            (
                "review.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/review/p", "waiting": 2, "typed": "1",
                    "page": {"id": "p", "file": 1, "number": 1, "why": "no code", "scanned": "4 ธ.ค. 69", "scan": "s",
                             "has_image": true},
                    "letter": {"reference": "มท 1", "agency": "ก", "recipient": "ข", "postcode": "10400"},
                    "error": "ผิด", "following": [{"id": "q", "file": 1, "number": 2}],
                    "reasons": [{"code": "blank", "name": "กระดาษเปล่า"}]}),
            ),
            ("review_empty.html", serde_json::json!({"me": me, "csrf": "t", "path": "/console/review"})),
            (
                "review_answer.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/review/answers/r", "reply": "r",
                    "page": "p", "received": "4 ธ.ค. 69", "why": "มีเครื่องหมายมากกว่าหนึ่งช่อง", "waiting": 2,
                    "error": "ผิด", "choices": [{"value": 1, "label": "ยินยอม"}, {"value": 2, "label": "ไม่ยินยอม"}]}),
            ),
            (
                "review_answers_empty.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/review/answers"}),
            ),
            ("sign_in_code.html", serde_json::json!({"csrf": "t", "error": "ผิด", "error_en": "wrong"})),
            ("oidc_done.html", serde_json::json!({})),
            (
                "usage.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/usage", "priced": true,
                    "statuses": ["นำจ่ายแล้ว"], "prices": {"letter": "3.50", "sheet": null, "email": "0.25"},
                    "rows": [{"month": "ธ.ค. 2569", "code": "2026-12", "letters": "1,000", "print": "900", "digital": "100",
                              "statuses": ["5"], "pages": "2,000", "sheets": "1,000", "emails": "100", "cost": "3,525.00"}]}),
            ),
            (
                "settings.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/settings", "agency": "ก", "contact": "a@b",
                    "contact_error": "ผิด", "created": {"key": "hpk_x", "test": true},
                    "prices": {"letter": "3.50", "sheet": "", "email": "0.25"}, "prices_error": "ผิด",
                    "keys": [{"id": "k", "prefix": "hpk_ab", "test": false, "created": "4 ธ.ค. 69", "revoked": null}]}),
            ),
            (
                "replies.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/replies", "handled": false,
                    "older": "r", "may_handle": true,
                    "replies": [{"id": "r", "letter": "l", "reference": "มท 1", "recipient": "ก", "at": "4 ธ.ค. 69",
                                 "pages": 2, "handled_at": null, "handled_by": null, "note": null,
                                 "answer": "ข้อ 2 ไม่ยินยอม (ความมั่นใจ 97%)"}]}),
            ),
            (
                "letters.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/letters", "test": true,
                    "q": {"q": "ก", "status": "", "channel": "print", "from": "", "to": ""}, "problems": ["ผิด"],
                    "statuses": [{"code": "accepted", "name": "รับเรื่องแล้ว"}], "older": "/console/letters?before=x",
                    "first": "/console/letters", "mode": "?mode=test", "held": {"letters": 3, "batches": 1},
                    "letters": [{"id": "l", "reference": "มท 1", "recipient": "ก", "subject": "ข", "status": "ส",
                                 "status_code": "accepted", "channel": "กระดาษ", "created": "4 ธ.ค. 69"}]}),
            ),
            (
                "letter.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/letters", "mode": "", "test": false,
                    "error": "ผิด", "cancel": true, "withdraw": true,
                    "letter": {"id": "l", "reference": "มท 1", "subject": "ข", "recipient": "ก", "postcode": "10400",
                               "status": "ส", "channel": "กระดาษ", "created": "4 ธ.ค. 69", "tracking": "EA1TH",
                               "returned": "ย้าย", "withdrawn": null, "seal": "ABC"},
                    "timeline": [{"at": "4 ธ.ค. 69", "what": "รับเรื่อง", "code": "accepted"}],
                    "replies": [{"id": "r", "at": "4 ธ.ค. 69", "pages": 2, "missing": false}]}),
            ),
            (
                "send_many.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/send-many", "test": true, "mode": "?mode=test",
                    "may_send": true, "error": "ผิด", "templates": ["tax-notice"], "max_rows": 10000, "max_mb": 10,
                    "batches": [{"id": "b", "at": "4 ธ.ค. 69", "file": "a.xlsx", "by": "ก", "rows": 200, "sent": 190,
                                 "sent_before": 5, "refused": 5, "pending": 0, "done": true}]}),
            ),
            (
                "merge.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/send-many", "id": "d", "file": "a.xlsx",
                    "test": false, "rows": 200, "columns": ["ชื่อ"], "templates": ["tax-notice"],
                    "fields": [{"key": "name", "label": "ชื่อผู้รับ", "required": true, "column": "ชื่อ"}],
                    "settings": {"template": "tax-notice", "layout": "official", "language": "th", "subject": "ข",
                                 "signatory_name": "", "signatory_position": "", "contact": "", "reply_deadline": "",
                                 "send_after": ""},
                    "problems_total": 2, "bad_rows": 1, "ready": false, "shown": 500, "first_rows": [2, 3],
                    "first_row": 2, "last_row": 201, "error": "ผิด",
                    "shared": [{"row": null, "column": "เรื่อง", "message": "ว่าง", "suggestions": []}],
                    "row_problems": [{"row": 17, "column": "รหัสไปรษณีย์", "message": "ผิด", "suggestions": ["10400"]}]}),
            ),
            (
                "merge_batch.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/send-many", "id": "b", "file": "a.xlsx",
                    "by": "ก", "at": "4 ธ.ค. 69", "test": true, "mode": "?mode=test", "total": 200, "done_rows": 100,
                    "sent": 90, "sent_before": 5, "refused_count": 5, "pending": 100, "finished": false, "percent": 50,
                    "held_until": "5 ม.ค. 70 09:00 น.", "cancelled": false, "may_send": true,
                    "refused": [{"row": 3, "error": "ผิด"}], "letters": [{"row": 2, "id": "l"}]}),
            ),
            (
                "webhooks.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/settings", "test": false, "mode": "",
                    "max": 10, "created": {"url": "https://a.example/h", "secret": "whsec_x"}, "error": "ผิด",
                    "url": "https://", "queued_test": true, "kinds": [{"code": "accepted", "name": "รับเรื่อง"}],
                    "endpoints": [{"id": "e", "url": "https://a.example/h", "created": "4 ธ.ค. 69", "events": "ทุกเหตุการณ์",
                        "deliveries": [{"id": "n", "at": "4 ธ.ค. 69", "what": "test", "status": "ส่งถึงแล้ว",
                            "code": "sent", "attempts": 1, "ms": 12, "error": null}]}]}),
            ),
            (
                "send_one.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/send-one", "test": true, "ready": false,
                    "has_errors": true,
                    "v": send_one_values,
                    "content": "document", "max_pdf_mb": 20,
                    "templates": [{"name": "appointment", "selected": true, "vars": [{"key": "data.appointment.place",
                        "id": "f-data-appointment-place", "name": "place", "value": "", "list": false},
                        {"key": "data.appointment.documents", "id": "f-data-appointment-documents", "name": "documents",
                        "value": "ก", "list": true}]}],
                    "report": {"acceptable": false, "pages": 2, "file_name": "a.pdf",
                        "problems": [{"page": "1", "refusal": true, "message": "ผิด"}]},
                    "errors": send_one_errors}),
            ),
            (
                "account.html",
                serde_json::json!({"me": me, "csrf": "t", "path": "/console/account",
                    "person": {"name": "ก", "email": "a@b", "role": "operator", "since": "4 ธ.ค. 69", "linked": true},
                    "authenticator": "pending", "key": "ABCD EFGH", "error": "ผิด"}),
            ),
        ];
        for (name, context) in pages {
            for lang in [Lang::Thai, Lang::English] {
                let response = render(StatusCode::OK, name, lang, context.clone());
                assert_eq!(response.status(), StatusCode::OK, "{name} in {lang:?}");
            }
        }
        assert_eq!(environment().templates().count(), TEMPLATES.len(), "every template parses");
    }
}
