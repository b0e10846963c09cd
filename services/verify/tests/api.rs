//! The public verification routes over HTTP, against the store named by
//! `HYBRIDPOST_TEST_DATABASE_URL` (SQLite when unset; `ops/test.sh` runs this file on both).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use hybridpost_seal::TrustList;
use hybridpost_store::{channels, events, letters, now_text};
use serde_json::{Value, json};
use support::{
    AGENCY_NAME, AGENCY_NAME_EN, CITIZEN_ID, CITIZEN_ID_HASH, Harness, Letter, PDF, RECIPIENT_NAME, RECIPIENT_ROAD,
    harness, harness_with,
};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

async fn call(h: &Harness, method: Method, path: &str, body: Option<(&str, String)>, client: Option<&str>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some((content_type, _)) = &body {
        req = req.header(header::CONTENT_TYPE, *content_type);
    }
    let mut req = req.body(body.map_or_else(Body::empty, |(_, b)| Body::from(b))).unwrap();
    if let Some(ip) = client {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 40000)));
    }
    let response = h.app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, headers, bytes }
}

async fn get(h: &Harness, path: &str) -> Reply {
    call(h, Method::GET, path, None, None).await
}

async fn open_copy(h: &Harness, letter: &Letter, pin: &str, client: &str) -> Reply {
    let path = format!("/v1/public/seals/{}/copy", letter.sealed.reference);
    call(h, Method::POST, &path, Some(("application/json", json!({"pin": pin}).to_string())), Some(client)).await
}

fn assert_problem(reply: &Reply, status: StatusCode) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let body = reply.json();
    assert_eq!(body["status"], json!(status.as_u16()));
    body
}

/// A wrong PIN for `letter`: the right one with its digits shifted.
fn wrong_pin(letter: &Letter) -> String {
    letter.sealed.pin.chars().map(|c| char::from(b'0' + (c as u8 - b'0' + 1) % 10)).collect()
}

#[tokio::test]
async fn a_genuine_letter_shows_its_agency_and_status_and_nothing_personal() {
    let h = harness().await;
    let letter = h.letter().await;
    for reference in
        [letter.sealed.reference.clone(), letter.human_reference(), letter.human_reference().to_lowercase()]
    {
        let reply = get(&h, &format!("/v1/public/seals/{reference}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["reference"], json!(letter.human_reference()));
        assert_eq!(body["agency"]["name"], json!(AGENCY_NAME));
        assert_eq!(body["agency"]["name_en"], json!(AGENCY_NAME_EN));
        assert_eq!(body["status"], json!("accepted"));
        assert_eq!(body["withdrawn"], Value::Null);
        assert_eq!(body["issue_date"], json!(hybridpost_keyring::today().to_string()));
        assert!(body["reply_deadline"].is_string());
        let text = reply.text();
        for private in [RECIPIENT_NAME, "สมชาย", RECIPIENT_ROAD, CITIZEN_ID, CITIZEN_ID_HASH, "10400", "แจ้งผล"]
        {
            assert!(!text.contains(private), "{private:?} leaked into {text}");
        }
        assert_eq!(reply.header("referrer-policy"), "no-referrer");
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert!(reply.header("content-security-policy").starts_with("default-src 'none'"));
        assert_eq!(reply.header("cache-control"), "no-store");
    }
}

#[tokio::test]
async fn an_unknown_or_malformed_reference_is_a_404_problem() {
    let h = harness().await;
    let _ = h.letter().await;
    let unknown = hybridpost_seal::Reference::generate().to_human();
    for path in [format!("/v1/public/seals/{unknown}"), "/v1/public/seals/not-a-reference!".to_owned()] {
        let reply = get(&h, &path).await;
        let body = assert_problem(&reply, StatusCode::NOT_FOUND);
        assert_eq!(body["type"], json!("urn:hybridpost:problem:not-found"));
    }
}

#[tokio::test]
async fn a_withdrawn_letter_says_why_and_will_not_open() {
    let h = harness().await;
    let letter = h.letter().await;
    let mut tx = h.store.begin().await.unwrap();
    assert!(letters::withdraw(&mut tx, letter.letter_id, "reported_lost", &now_text()).await.unwrap());
    tx.commit().await.unwrap();
    let reply = get(&h, &format!("/v1/public/seals/{}", letter.human_reference())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["withdrawn"], json!({"reason": "reported_lost"}));
    let refused = open_copy(&h, &letter, &letter.sealed.pin, "192.0.2.1").await;
    let body = assert_problem(&refused, StatusCode::CONFLICT);
    assert_eq!(body["type"], json!("urn:hybridpost:problem:letter-withdrawn"));
}

#[tokio::test]
async fn a_classified_letter_is_shown_genuine_but_its_copy_never_opens_even_with_its_pin() {
    let h = harness().await;
    let letter = h.classified_letter("secret").await;
    let status = get(&h, &format!("/v1/public/seals/{}", letter.human_reference())).await;
    assert_eq!(status.status, StatusCode::OK);
    let text = String::from_utf8(status.bytes.clone()).unwrap();
    assert!(!text.contains("ลับ") && !text.contains("secret"), "the public status does not say it: {text}");
    let refused = open_copy(&h, &letter, &letter.sealed.pin, "192.0.2.1").await;
    let body = assert_problem(&refused, StatusCode::CONFLICT);
    assert_eq!(body["type"], json!("urn:hybridpost:problem:classified-letter"));
}

#[tokio::test]
async fn the_trust_list_is_served_signed_and_briefly_cacheable() {
    let h = harness().await;
    let letter = h.letter().await;
    let reply = get(&h, "/.well-known/hybridpost/trust-list.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.header("cache-control"), "public, max-age=300");
    let roots = h.keyring.root_keys().await.unwrap();
    let list = TrustList::from_signed_json(&reply.text(), &roots).unwrap();
    let ctx = hybridpost_seal::VerifyContext {
        trust_list: &list,
        today: hybridpost_keyring::today(),
        withdrawn: &hybridpost_seal::no_withdrawals,
    };
    assert!(letter.sealed.seal.verify(&ctx).is_genuine());
}

#[tokio::test]
async fn the_page_carries_the_root_keys_and_strict_headers() {
    let h = harness().await;
    let root = h.keyring.root_keys().await.unwrap().remove(0);
    let spki = base64::engine::general_purpose::STANDARD.encode(root.public_key.to_spki_der().unwrap());
    for path in ["/V", "/v"] {
        let page = get(&h, path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(page.header("cache-control"), "no-cache");
        let csp = page.header("content-security-policy");
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert_eq!(page.header("referrer-policy"), "no-referrer");
        let html = page.text();
        assert!(html.contains(&spki), "the page lacks the root key");
        assert!(html.contains("ตรวจสอบจดหมาย") && html.contains("Verify a letter"));
        assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");
        for asset in ["/v/verify.js?h=", "/v/verify.css?h="] {
            let start = html.find(asset).unwrap();
            let url = &html[start..start + html[start..].find('"').unwrap()];
            let reply = get(&h, url).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}");
            assert_eq!(reply.header("cache-control"), "public, max-age=31536000, immutable");
        }
    }
}

#[tokio::test]
async fn the_right_pin_opens_the_digital_copy_as_json_or_form() {
    let h = harness().await;
    let letter = h.letter().await;
    let reply = open_copy(&h, &letter, &letter.sealed.pin, "192.0.2.1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/pdf");
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.bytes, PDF);

    let path = format!("/v1/public/seals/{}/copy", letter.human_reference());
    let form = format!("pin={}", letter.sealed.pin);
    let reply =
        call(&h, Method::POST, &path, Some(("application/x-www-form-urlencoded", form)), Some("192.0.2.1")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.bytes, PDF);

    let mut conn = h.store.read().await.unwrap();
    let timeline = events::letter_timeline(&mut conn, letter.letter_id).await.unwrap();
    assert_eq!(timeline.iter().filter(|e| e.kind == "opened_with_pin").count(), 2);
}

#[tokio::test]
async fn a_wrong_pin_is_refused() {
    let h = harness().await;
    let letter = h.letter().await;
    let reply = open_copy(&h, &letter, &wrong_pin(&letter), "192.0.2.1").await;
    let body = assert_problem(&reply, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap().contains("PIN"));
    assert!(!reply.text().contains(&letter.sealed.pin));
}

#[tokio::test]
async fn guessing_stops_after_five_failures_on_a_letter_until_the_hour_has_passed() {
    let h = harness().await;
    let letter = h.letter().await;
    for attempt in 1..=5 {
        // Each guess from another address: the per-letter limit holds whoever guesses.
        let client = format!("198.51.100.{attempt}");
        let reply = open_copy(&h, &letter, &wrong_pin(&letter), &client).await;
        assert_problem(&reply, StatusCode::FORBIDDEN);
    }
    // The 6th attempt is refused although its PIN is right.
    let refused = open_copy(&h, &letter, &letter.sealed.pin, "198.51.100.6").await;
    assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.header("retry-after").parse().unwrap();
    assert!((3590..=3600).contains(&retry_after), "Retry-After {retry_after}");

    // Another letter is not affected.
    let other = h.letter().await;
    assert_eq!(open_copy(&h, &other, &other.sealed.pin, "198.51.100.6").await.status, StatusCode::OK);

    h.clock.advance(Duration::from_secs(30 * 60));
    assert_problem(&open_copy(&h, &letter, &letter.sealed.pin, "198.51.100.6").await, StatusCode::TOO_MANY_REQUESTS);
    h.clock.advance(Duration::from_secs(30 * 60 + 1));
    let opened = open_copy(&h, &letter, &letter.sealed.pin, "198.51.100.6").await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text());
    assert_eq!(opened.bytes, PDF);
}

#[tokio::test]
async fn one_client_guessing_across_letters_is_stopped_after_twenty_failures() {
    let h = harness().await;
    let mut letters = Vec::new();
    for _ in 0..5 {
        letters.push(h.letter().await);
    }
    for letter in &letters[..4] {
        for _ in 0..5 {
            assert_problem(&open_copy(&h, letter, &wrong_pin(letter), "203.0.113.9").await, StatusCode::FORBIDDEN);
        }
    }
    let fresh = &letters[4];
    let refused = open_copy(&h, fresh, &fresh.sealed.pin, "203.0.113.9").await;
    assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").parse::<u64>().unwrap() >= 1);
    // Someone else opening the same letter is not held back.
    assert_eq!(open_copy(&h, fresh, &fresh.sealed.pin, "203.0.113.10").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_pin_window_is_configurable() {
    let h = harness_with(|c| {
        c.pin_failures_per_letter = 2;
        c.pin_window = Duration::from_secs(2);
    })
    .await;
    let letter = h.letter().await;
    for _ in 0..2 {
        assert_problem(&open_copy(&h, &letter, &wrong_pin(&letter), "192.0.2.7").await, StatusCode::FORBIDDEN);
    }
    let refused = open_copy(&h, &letter, &letter.sealed.pin, "192.0.2.7").await;
    assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").parse::<u64>().unwrap() <= 2);
    h.clock.advance(Duration::from_millis(2100));
    assert_eq!(open_copy(&h, &letter, &letter.sealed.pin, "192.0.2.7").await.status, StatusCode::OK);
}

/// The confirmation link in the only `.eml` file in the outbox.
fn link_in_outbox(h: &Harness) -> (String, String) {
    let mut files: Vec<_> = std::fs::read_dir(&h.outbox).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let raw = std::fs::read_to_string(files.last().unwrap()).unwrap();
    let text = text_part(&raw);
    let start = text.find("https://verify.example.go.th/v/confirm?token=").expect("a confirmation link");
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    (link, text)
}

/// The decoded `text/plain` part of a message as lettre writes it (base64 or quoted-printable).
fn text_part(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let start = raw.find("Content-Type: text/plain").expect("a text part");
    // The part's headers start after its boundary line, in any order.
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

async fn request_optin(h: &Harness, letter: &Letter, pin: &str, email: &str) -> Reply {
    let path = format!("/v1/public/seals/{}/opt-in", letter.human_reference());
    let body = json!({"pin": pin, "email": email}).to_string();
    call(h, Method::POST, &path, Some(("application/json", body)), Some("192.0.2.50")).await
}

async fn post_form(h: &Harness, path: &str, form: &str) -> Reply {
    call(h, Method::POST, path, Some(("application/x-www-form-urlencoded", form.to_owned())), Some("192.0.2.60")).await
}

async fn verified_email(h: &Harness) -> Option<String> {
    let mut conn = h.store.read().await.unwrap();
    channels::find_verified_email(&mut conn, CITIZEN_ID_HASH).await.unwrap()
}

async fn timeline_kinds(h: &Harness, letter: &Letter) -> Vec<String> {
    let mut conn = h.store.read().await.unwrap();
    events::letter_timeline(&mut conn, letter.letter_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect()
}

/// Asks for e-mail delivery from `letter`, opens the mailed link and presses its button; returns
/// the confirmation letter that went to print.
async fn confirm_optin(h: &Harness, letter: &Letter, email: &str) -> letters::LetterRecord {
    let reply = request_optin(h, letter, &letter.sealed.pin, email).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let (link, _) = link_in_outbox(h);
    let token = link.split_once("token=").unwrap().1.to_owned();
    let done = post_form(h, "/v/confirm", &format!("token={token}")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("data-confirmation=\"registered\""), "{}", done.text());
    let mut conn = h.store.read().await.unwrap();
    let timeline = events::letter_timeline(&mut conn, letter.letter_id).await.unwrap();
    let requested = timeline.iter().rev().find(|e| e.kind == "channel_change_requested").expect("on the timeline");
    let id = requested.detail.as_ref().unwrap()["confirmation_letter_id"].as_str().unwrap().parse().unwrap();
    letters::get_letter_any_agency(&mut conn, id).await.unwrap().unwrap()
}

/// The stop code printed in a confirmation letter, as its reader would type it.
fn stop_code(confirmation: &letters::LetterRecord) -> String {
    let text = confirmation.content["body"].to_string();
    let at = text.find("(stop code): ").expect("the code is printed") + "(stop code): ".len();
    let code: String = text[at..].chars().take(19).collect();
    assert_eq!(code.matches('-').count(), 3, "four groups of four: {code}");
    code
}

#[tokio::test]
async fn a_confirmed_opt_in_posts_a_sealed_confirmation_letter_and_takes_effect_only_after_the_cooling_off() {
    let h = harness().await;
    let letter = h.letter().await;
    let wrong = request_optin(&h, &letter, &wrong_pin(&letter), "malee@example.co.th").await;
    assert_problem(&wrong, StatusCode::FORBIDDEN);
    assert!(!h.outbox.exists() || std::fs::read_dir(&h.outbox).unwrap().count() == 0, "no mail for a wrong PIN");

    let reply = request_optin(&h, &letter, &letter.sealed.pin, "Malee@Example.co.th").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert!(!reply.text().contains("example.co.th"));
    let (link, text) = link_in_outbox(&h);
    assert!(text.contains("Malee@example.co.th") && text.contains("48") && text.contains("14"), "{text}");
    assert!(!text.contains(RECIPIENT_NAME), "the mail to an unverified address names nobody: {text}");
    let path = link.strip_prefix("https://verify.example.go.th").unwrap();

    // Altered: one character of the token changed.
    let mut altered = path.to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let page = get(&h, &altered).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text().contains("data-confirmation=\"invalid\""));

    // Opening the link (as a mail gateway's scanner would) changes nothing, however often.
    for _ in 0..2 {
        let page = get(&h, path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains("data-confirmation=\"confirm\""));
        assert!(page.text().contains("<form method=\"post\" action=\"/v/confirm\">"), "{}", page.text());
        assert!(!page.text().contains("example.co.th"), "the page does not echo the address");
    }
    assert!(timeline_kinds(&h, &letter).await.iter().all(|k| !k.starts_with("channel_change")));

    let token = link.split_once("token=").unwrap().1.to_owned();
    let done = post_form(&h, "/v/confirm", &format!("token={token}")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("data-confirmation=\"registered\""));
    assert!(!done.text().contains("example.co.th"));
    let again = post_form(&h, "/v/confirm", &format!("token={token}")).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text().contains("data-confirmation=\"used\""));
    assert_eq!(again.header("cache-control"), "no-store");

    // Confirmed, but not in effect: the letter about it goes to the postal address first.
    assert_eq!(verified_email(&h).await, None);
    assert!(timeline_kinds(&h, &letter).await.contains(&"channel_change_requested".to_owned()));
    let confirmation = {
        let mut conn = h.store.read().await.unwrap();
        let timeline = events::letter_timeline(&mut conn, letter.letter_id).await.unwrap();
        let requested = timeline.iter().find(|e| e.kind == "channel_change_requested").unwrap();
        let detail = requested.detail.as_ref().unwrap();
        assert!(!detail.to_string().contains("example.co.th"), "no address on the timeline: {detail}");
        let id = detail["confirmation_letter_id"].as_str().unwrap().parse().unwrap();
        letters::get_letter_any_agency(&mut conn, id).await.unwrap().unwrap()
    };
    assert_eq!(confirmation.agency_id.to_string(), hybridpost_store::agencies::SERVICE_AGENCY_ID);
    assert_eq!(confirmation.status, hybridpost_core::LetterStatus::QueuedForPrint);
    assert_eq!(confirmation.channel, hybridpost_core::Channel::Print);
    assert_eq!(confirmation.channel_reason, hybridpost_core::ChannelReason::ChannelChangeConfirmation);
    assert!(!confirmation.test);
    assert_eq!(confirmation.citizen_id_hash, None, "it can never be routed digitally");
    assert_eq!(confirmation.postcode, "10400");
    let content = confirmation.content.to_string();
    assert!(content.contains(RECIPIENT_NAME) && content.contains(RECIPIENT_ROAD), "{content}");
    assert!(content.contains("M***@example.co.th"), "the address is shown masked: {content}");
    assert!(!content.contains("Malee@") && !content.contains(CITIZEN_ID), "{content}");
    let code = stop_code(&confirmation);
    let list = h.keyring.verified_trust_list().await.unwrap().unwrap();
    let ctx = hybridpost_seal::VerifyContext {
        trust_list: &list,
        today: hybridpost_keyring::today(),
        withdrawn: &hybridpost_seal::no_withdrawals,
    };
    let seal = hybridpost_seal::Seal::from_bytes(confirmation.seal.clone().unwrap().seal);
    assert!(seal.verify(&ctx).is_genuine(), "the confirmation letter is sealed by hybridpost: {:?}", seal.verify(&ctx));

    // Before the cooling-off period ends, nothing changes.
    h.clock.advance(Duration::from_secs(13 * 24 * 3600));
    assert_eq!(hybridpost_verify::channel::apply_due_changes(&h.state).await.unwrap(), 0);
    assert_eq!(verified_email(&h).await, None);
    h.clock.advance(Duration::from_secs(24 * 3600 + 60));
    assert_eq!(hybridpost_verify::channel::apply_due_changes(&h.state).await.unwrap(), 1);
    assert_eq!(verified_email(&h).await.as_deref(), Some("Malee@example.co.th"));
    assert_eq!(hybridpost_verify::channel::apply_due_changes(&h.state).await.unwrap(), 0, "once");
    assert!(timeline_kinds(&h, &letter).await.contains(&"channel_change_effective".to_owned()));

    // The code on the paper letter undoes it, typed as a person would.
    let keep = get(&h, "/v/keep-paper").await;
    assert_eq!(keep.status, StatusCode::OK);
    assert!(keep.text().contains("name=\"code\""));
    let bad = post_form(&h, "/v/keep-paper", "code=AAAA-BBBB-CCCC-DDDD").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("role=\"alert\"") && bad.text().contains("aria-invalid=\"true\""), "{}", bad.text());
    assert!(bad.text().contains("value=\"AAAA-BBBB-CCCC-DDDD\""), "what was typed stays in the field");
    let hostile = post_form(&h, "/v/keep-paper", "code=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert!(hostile.text().contains("value=\"&quot;&gt;&lt;script&gt;"), "{}", hostile.text());
    let typed = code.to_lowercase().replace('-', " ");
    let undone = post_form(&h, "/v/keep-paper", &format!("code={}", typed.replace(' ', "+"))).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text());
    assert!(undone.text().contains("data-confirmation=\"stopped\""));
    assert_eq!(verified_email(&h).await, None);
    assert!(timeline_kinds(&h, &letter).await.contains(&"channel_change_stopped".to_owned()));
    let twice = post_form(&h, "/v/keep-paper", &format!("code={code}")).await;
    assert!(twice.text().contains("รหัสนี้ถูกใช้ไปแล้ว"), "{}", twice.text());
}

#[tokio::test]
async fn the_printed_code_stops_a_change_before_it_takes_effect_and_a_newer_request_replaces_an_older_one() {
    let h = harness().await;
    let letter = h.letter().await;
    let first = confirm_optin(&h, &letter, "first@example.com").await;
    let second = confirm_optin(&h, &letter, "second@example.com").await;
    assert_ne!(first.letter_id, second.letter_id, "each confirmation posts its own letter");
    // The first request was replaced: its code has nothing left to stop.
    let stale = post_form(&h, "/v/keep-paper", &format!("code={}", stop_code(&first))).await;
    assert!(stale.text().contains("รหัสนี้ถูกใช้ไปแล้ว"), "{}", stale.text());
    let stopped = post_form(&h, "/v/keep-paper", &format!("code={}", stop_code(&second))).await;
    assert!(stopped.text().contains("data-confirmation=\"stopped\""), "{}", stopped.text());
    h.clock.advance(Duration::from_secs(15 * 24 * 3600));
    assert_eq!(hybridpost_verify::channel::apply_due_changes(&h.state).await.unwrap(), 0);
    assert_eq!(verified_email(&h).await, None, "a stopped change never takes effect");
}

#[tokio::test]
async fn opt_in_requests_are_capped_per_letter_each_day() {
    let h = harness().await;
    let letter = h.letter().await;
    for i in 0..3 {
        let reply = request_optin(&h, &letter, &letter.sealed.pin, &format!("a{i}@example.com")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    }
    let capped = request_optin(&h, &letter, &letter.sealed.pin, "a4@example.com").await;
    let body = assert_problem(&capped, StatusCode::CONFLICT);
    assert_eq!(body["type"], json!("urn:hybridpost:problem:optin-limit"));
    assert_eq!(std::fs::read_dir(&h.outbox).unwrap().count(), 3, "no mail past the cap");
    // Another letter has its own requests; the next day this one may ask again.
    let other = h.letter().await;
    assert_eq!(request_optin(&h, &other, &other.sealed.pin, "b@example.com").await.status, StatusCode::ACCEPTED);
    h.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(request_optin(&h, &letter, &letter.sealed.pin, "a5@example.com").await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_test_letter_says_so_and_opens_no_copy_and_no_opt_in() {
    let h = harness().await;
    let letter = h.letter_in_mode(Some(CITIZEN_ID_HASH), true).await;
    let status = get(&h, &format!("/v1/public/seals/{}", letter.human_reference())).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["test"], json!(true));
    let copy = open_copy(&h, &letter, &letter.sealed.pin, "192.0.2.70").await;
    assert_eq!(assert_problem(&copy, StatusCode::CONFLICT)["type"], json!("urn:hybridpost:problem:test-letter"));
    let optin = request_optin(&h, &letter, &letter.sealed.pin, "malee@example.co.th").await;
    assert_eq!(assert_problem(&optin, StatusCode::CONFLICT)["type"], json!("urn:hybridpost:problem:test-letter"));
    assert!(!h.outbox.exists() || std::fs::read_dir(&h.outbox).unwrap().count() == 0);
    let live = h.letter().await;
    assert_eq!(get(&h, &format!("/v1/public/seals/{}", live.human_reference())).await.json()["test"], json!(false));
}

#[tokio::test]
async fn the_back_to_paper_link_of_a_digital_notice_removes_the_channel_with_one_deliberate_press() {
    let h = harness().await;
    let letter = h.letter().await;
    {
        let mut tx = h.store.begin().await.unwrap();
        channels::upsert_verified_email(&mut tx, CITIZEN_ID_HASH, "malee@example.co.th", "import").await.unwrap();
        tx.commit().await.unwrap();
    }
    let token = hybridpost_seal::ServiceSecret::new(&[7; 32])
        .unwrap()
        .token(hybridpost_seal::Purpose::PaperLink, format!("paper-link/v1:{}", letter.letter_id).as_bytes());
    let path = format!("/v/paper/{}/{token}", letter.letter_id);
    let page = get(&h, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains(&format!("action=\"{path}\"")), "{}", page.text());
    assert_eq!(verified_email(&h).await.as_deref(), Some("malee@example.co.th"), "a GET changes nothing");
    let forged = post_form(&h, &format!("/v/paper/{}/{}", letter.letter_id, "A".repeat(43)), "").await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert_eq!(verified_email(&h).await.as_deref(), Some("malee@example.co.th"));
    let done = post_form(&h, &path, "").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("data-confirmation=\"paper\""));
    assert_eq!(verified_email(&h).await, None);
    assert!(timeline_kinds(&h, &letter).await.contains(&"channel_returned_to_paper".to_owned()));
    let again = post_form(&h, &path, "").await;
    assert!(again.text().contains("ท่านรับจดหมายทางไปรษณีย์อยู่แล้ว"), "{}", again.text());
}

#[tokio::test]
async fn an_opt_in_link_expires_after_48_hours() {
    let h = harness().await;
    let letter = h.letter().await;
    let reply = request_optin(&h, &letter, &letter.sealed.pin, "somchai@example.com").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let (link, _) = link_in_outbox(&h);
    h.clock.advance(Duration::from_secs(48 * 3600 + 1));
    let page = get(&h, link.strip_prefix("https://verify.example.go.th").unwrap()).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("data-confirmation=\"expired\""));
    let mut conn = h.store.read().await.unwrap();
    assert_eq!(channels::find_verified_email(&mut conn, CITIZEN_ID_HASH).await.unwrap(), None);
}

#[tokio::test]
async fn a_letter_without_a_citizen_id_cannot_opt_in_and_bad_addresses_are_refused() {
    let h = harness().await;
    let anonymous = h.letter_with(None).await;
    let reply = request_optin(&h, &anonymous, &anonymous.sealed.pin, "somchai@example.com").await;
    let body = assert_problem(&reply, StatusCode::CONFLICT);
    assert_eq!(body["type"], json!("urn:hybridpost:problem:no-citizen-id"));
    assert!(body["detail"].as_str().unwrap().contains("citizen id"));

    let letter = h.letter().await;
    let reply = request_optin(&h, &letter, &letter.sealed.pin, "not an address").await;
    let body = assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], json!("email"));
    assert!(!h.outbox.exists() || std::fs::read_dir(&h.outbox).unwrap().count() == 0);
}

#[tokio::test]
async fn the_openapi_document_describes_the_public_routes() {
    let h = harness().await;
    let doc = get(&h, "/openapi.json").await.json();
    for path in [
        "/.well-known/hybridpost/trust-list.json",
        "/v1/public/seals/{reference}",
        "/v1/public/seals/{reference}/copy",
        "/v1/public/seals/{reference}/opt-in",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["SealStatus"].is_object());
}

#[tokio::test]
async fn a_client_over_its_request_rate_is_told_when_to_retry() {
    let h = harness_with(|c| {
        c.requests_per_second = 1;
        c.request_burst = 3;
    })
    .await;
    let path = "/.well-known/hybridpost/trust-list.json";
    for _ in 0..3 {
        assert_eq!(call(&h, Method::GET, path, None, Some("192.0.2.80")).await.status, StatusCode::OK);
    }
    let limited = call(&h, Method::GET, path, None, Some("192.0.2.80")).await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), "1");
    assert_eq!(call(&h, Method::GET, path, None, Some("192.0.2.81")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_proxy_clients_are_told_apart_by_the_configured_header() {
    let h = harness_with(|c| {
        c.requests_per_second = 1;
        c.request_burst = 2;
        c.client_ip_header = Some(header::HeaderName::from_static("x-forwarded-for"));
    })
    .await;
    let proxy = SocketAddr::from(([10, 0, 0, 1], 50000));
    let call_as = |forwarded: &'static str| {
        let mut req = Request::builder()
            .uri("/.well-known/hybridpost/trust-list.json")
            .header("x-forwarded-for", forwarded)
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(proxy));
        let app = h.app.clone();
        async move { app.oneshot(req).await.unwrap().status() }
    };
    // The last entry is the one the proxy saw; what the client claimed before it does not count.
    assert_eq!(call_as("203.0.113.1, 192.0.2.1").await, StatusCode::OK);
    assert_eq!(call_as("198.51.100.7, 192.0.2.1").await, StatusCode::OK);
    assert_eq!(call_as("192.0.2.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(call_as("192.0.2.2").await, StatusCode::OK);
}
