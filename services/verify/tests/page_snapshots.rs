//! The public pages citizens read, snapshotted with insta: the verification page, the status a
//! seal answers with (what the page's script shows), the e-mail opt-in confirmation pages, the
//! keep-paper form and the back-to-paper pages. Keys, ids, tokens, codes, references and dates
//! are replaced by placeholders before snapshotting, so a snapshot changes only when the words
//! or the markup do. Runs on the store named by `HYBRIDPOST_TEST_DATABASE_URL` (SQLite when
//! unset).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use hybridpost_store::{channels, events, letters};
use regex::Regex;
use serde_json::{Value, json};
use support::{CITIZEN_ID_HASH, Harness, Letter, harness};
use tower::ServiceExt;

/// A page or body as read: its status line, then its text.
async fn call(h: &Harness, method: Method, path: &str, body: Option<(&str, String)>) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some((content_type, _)) = &body {
        req = req.header(header::CONTENT_TYPE, *content_type);
    }
    let mut req = req.body(body.map_or_else(Body::empty, |(_, b)| Body::from(b))).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 80], 40000))));
    let response = h.app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get(h: &Harness, path: &str) -> (StatusCode, String) {
    call(h, Method::GET, path, None).await
}

async fn post_form(h: &Harness, path: &str, form: &str) -> (StatusCode, String) {
    call(h, Method::POST, path, Some(("application/x-www-form-urlencoded", form.to_owned()))).await
}

/// Replaces what differs from run to run by placeholders: the root keys carried in the page,
/// the assets' content hashes, ids, link tokens, stop codes, the letter's reference (printed in
/// groups of four) and dates, machine and human, Thai and English.
fn redact(text: &str) -> String {
    const THAI_MONTHS: &str = "มกราคม|กุมภาพันธ์|มีนาคม|เมษายน|พฤษภาคม|มิถุนายน|กรกฎาคม|สิงหาคม|กันยายน|ตุลาคม|พฤศจิกายน|ธันวาคม";
    const MONTHS: &str = "January|February|March|April|May|June|July|August|September|October|November|December";
    let rules = [
        (r#""kid":"[0-9a-f]+""#.to_owned(), r#""kid":"[kid]""#),
        (r#""spki":"[A-Za-z0-9+/=]+""#.to_owned(), r#""spki":"[spki]""#),
        (r"\?h=[0-9a-f]{16}".to_owned(), "?h=[hash]"),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})".to_owned(), "[timestamp]"),
        (r"\d{4}-\d{2}-\d{2}".to_owned(), "[date]"),
        (format!(r"\d{{1,2}} ({THAI_MONTHS}) \d{{4}}"), "[Thai date]"),
        (format!(r"\d{{1,2}} ({MONTHS}) \d{{4}}"), "[date in English]"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".to_owned(), "[uuid]"),
        // A reference is 20 base32 characters in groups of four; a stop code 16.
        (r"\b[A-Z2-7]{4}(-[A-Z2-7]{4}){4}\b".to_owned(), "[reference]"),
        (r"\b[A-Z2-7]{4}( [A-Z2-7]{4}){4}\b".to_owned(), "[reference]"),
        (r"\b[A-Z2-7]{4}(-[A-Z2-7]{4}){3}\b".to_owned(), "[stop code]"),
        (r"[A-Za-z0-9_-]{32,}".to_owned(), "[token]"),
    ];
    rules.iter().fold(text.to_owned(), |text, (pattern, placeholder)| {
        Regex::new(pattern).unwrap().replace_all(&text, *placeholder).into_owned()
    })
}

/// What a page reads as: its status, then its redacted HTML.
fn page(name: &str, (status, html): (StatusCode, String)) {
    insta::assert_snapshot!(name, format!("{status}\n\n{}", redact(&html)));
}

/// The confirmation link's token in the only `.eml` file in the outbox.
fn token_in_outbox(h: &Harness) -> String {
    let file = std::fs::read_dir(&h.outbox).unwrap().next().unwrap().unwrap().path();
    let text = text_part(&std::fs::read_to_string(file).unwrap());
    let start = text.find("/v/confirm?token=").expect("a confirmation link") + "/v/confirm?token=".len();
    text[start..].chars().take_while(|c| !c.is_whitespace()).collect()
}

/// The decoded `text/plain` part of a message as lettre writes it (base64 or quoted-printable);
/// the same reading as tests/api.rs.
fn text_part(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let start = raw.find("Content-Type: text/plain").expect("a text part");
    let part = &raw[raw[..start].rfind("\n--").map_or(0, |i| i + 1)..];
    let (headers, rest) = part.split_once("\n\n").unwrap();
    let body = &rest[..rest.find("\n--").unwrap_or(rest.len())];
    if headers.contains("Content-Transfer-Encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(joined).unwrap()).unwrap()
    } else if headers.contains("quoted-printable") {
        let joined = body.replace("=\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        body.to_owned()
    }
}

/// The stop code printed on the confirmation letter the confirmed opt-in of `letter` posted.
async fn stop_code(h: &Harness, letter: &Letter) -> String {
    let mut conn = h.store.read().await.unwrap();
    let timeline = events::letter_timeline(&mut conn, letter.letter_id).await.unwrap();
    let requested = timeline.iter().rev().find(|e| e.kind == "channel_change_requested").unwrap();
    let id = requested.detail.as_ref().unwrap()["confirmation_letter_id"].as_str().unwrap().parse().unwrap();
    let confirmation = letters::get_letter_any_agency(&mut conn, id).await.unwrap().unwrap();
    let text = confirmation.content["body"].to_string();
    let at = text.find("(stop code): ").expect("the code is printed") + "(stop code): ".len();
    text[at..].chars().take(19).collect()
}

#[tokio::test]
async fn the_verification_page_and_a_seals_status_read_as_snapshotted() {
    let h = harness().await;
    page("verification_page", get(&h, "/v").await);

    let letter = h.letter().await;
    let (status, body) = get(&h, &format!("/v1/public/seals/{}", letter.human_reference())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("seal_status", answer, {
        ".reference" => "[reference]",
        ".issue_date" => "[date]",
        ".reply_deadline" => "[date]",
        // Made from the agency's fresh id.
        ".agency.issuer_code" => "[issuer code]",
    });
}

#[tokio::test]
async fn the_opt_in_confirmation_and_keep_paper_pages_read_as_snapshotted() {
    let h = harness().await;
    let letter = h.letter().await;
    let path = format!("/v1/public/seals/{}/opt-in", letter.human_reference());
    let body = json!({"pin": letter.sealed.pin, "email": "malee@example.co.th"}).to_string();
    let (status, answer) = call(&h, Method::POST, &path, Some(("application/json", body))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let token = token_in_outbox(&h);

    page("confirm_pending", get(&h, &format!("/v/confirm?token={token}")).await);
    page("confirm_invalid", get(&h, &format!("/v/confirm?token={}", "A".repeat(43))).await);
    page("confirm_registered", post_form(&h, "/v/confirm", &format!("token={token}")).await);
    page("confirm_used", post_form(&h, "/v/confirm", &format!("token={token}")).await);

    page("keep_paper_form", get(&h, "/v/keep-paper").await);
    page("keep_paper_unknown_code", post_form(&h, "/v/keep-paper", "code=AAAA-BBBB-CCCC-0000").await);
    let code = stop_code(&h, &letter).await;
    page("keep_paper_stopped", post_form(&h, "/v/keep-paper", &format!("code={code}")).await);
    page("keep_paper_used", post_form(&h, "/v/keep-paper", &format!("code={code}")).await);
}

#[tokio::test]
async fn the_back_to_paper_pages_read_as_snapshotted() {
    let h = harness().await;
    let letter = h.letter().await;
    let mut tx = h.store.begin().await.unwrap();
    channels::upsert_verified_email(&mut tx, CITIZEN_ID_HASH, "malee@example.co.th", "import").await.unwrap();
    tx.commit().await.unwrap();
    let token = hybridpost_seal::ServiceSecret::new(&[7; 32])
        .unwrap()
        .token(hybridpost_seal::Purpose::PaperLink, format!("paper-link/v1:{}", letter.letter_id).as_bytes());
    let path = format!("/v/paper/{}/{token}", letter.letter_id);

    page("back_to_paper_pending", get(&h, &path).await);
    page("back_to_paper_done", post_form(&h, &path, "").await);
    page("back_to_paper_already", post_form(&h, &path, "").await);
    page("back_to_paper_invalid", get(&h, &format!("/v/paper/{}/{}", letter.letter_id, "A".repeat(43))).await);
}

#[test]
fn the_redaction_replaces_keys_ids_codes_and_dates_and_keeps_words() {
    let text = r#"[{"kid":"9f2c","spki":"MFkw+/E=","not_before":"2026-12-04"}] /v/verify.js?h=0123456789abcdef
        ABCD-EFGH-2345-67AB ABCD-EFGH-2345-67AB-QRST ABCD EFGH 2345 67AB QRST เริ่ม 4 มกราคม 2570 / from 4 January 2027 ที่ 1234/2569"#;
    assert_eq!(
        redact(text),
        r#"[{"kid":"[kid]","spki":"[spki]","not_before":"[date]"}] /v/verify.js?h=[hash]
        [stop code] [reference] [reference] เริ่ม [Thai date] / from [date in English] ที่ 1234/2569"#
    );
}
