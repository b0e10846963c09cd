//! `/d/{token}`: a digital letter's page and its PDF, reached from the notice e-mail.
//!
//! The token is `base64url(HMAC-SHA256(link-token key, "digital-link/v1:" ‖ notification id))`:
//! 256 bits no one can compute without the service secret, the same on every resend of a notice,
//! and never stored; the database keeps its SHA-256. Pages carry `Referrer-Policy: no-referrer`
//! and `Cache-Control: no-store` so the token does not leak to other sites or shared caches, a
//! strict Content-Security-Policy (no script at all, one hashed style block) and may not be
//! framed.
//!
//! Opening is a deliberate act: `GET /d/{token}` only shows the page, and the letter counts as
//! opened when its reader presses the button (`POST /d/{token}/pdf`). Mail gateways' link
//! scanners fetch every link in an e-mail with GET, and must not mark letters read.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use hmac::{Hmac, Mac};
use hybridpost_core::LetterStatus;
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_seal::{Purpose, ServiceSecret};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::outbox::{self, DigitalLink};
use hybridpost_store::{agencies, now_text, parse_timestamp};
use hybridpost_web::Download;
use sha2::{Digest, Sha256};

use crate::NotifierState;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The link token of a digital letter's notice.
pub fn link_token(secret: &ServiceSecret, notification_id: &str) -> String {
    let key = secret.derive(Purpose::LinkToken);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("HMAC takes a key of any length");
    mac.update(b"digital-link/v1:");
    mac.update(notification_id.as_bytes());
    B64URL.encode(mac.finalize().into_bytes())
}

/// The "back to paper" link of a digital letter's notice: a page on the verification service
/// where the recipient, with one deliberate click, has their letters sent on paper again.
/// The token is an HMAC of the letter id under the service secret (see
/// `hybridpost_verify`'s `/v/paper` route, which checks it).
pub fn paper_link(secret: &ServiceSecret, public_url: &str, letter_id: hybridpost_core::LetterId) -> String {
    let token = secret.token(Purpose::PaperLink, format!("paper-link/v1:{letter_id}").as_bytes());
    format!("{}/v/paper/{letter_id}/{token}", public_url.trim_end_matches('/'))
}

/// What the database stores of a token: SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn router() -> Router<NotifierState> {
    Router::new().route("/d/{token}", get(letter_page)).route("/d/{token}/pdf", post(letter_pdf))
}

/// The pages' only styling: one `<style>` block, allowed by its hash in the CSP.
const STYLE: &str = "body { font-family: Sarabun, Tahoma, Arial, sans-serif; line-height: 1.6; max-width: 640px; \
                     margin: 0 auto; padding: 16px; color: #1b1b1b; } \
                     button { padding: 12px 20px; background: #1a4e8a; color: #fff; border: 0; border-radius: 4px; \
                     font: inherit; cursor: pointer; } \
                     button:focus { outline: 3px solid #f0b400; outline-offset: 2px; } \
                     .note { font-size: 14px; color: #4a4a4a; }";

/// `Content-Security-Policy` of the pages: nothing loads, nothing runs, forms post only here,
/// no framing.
fn content_security_policy() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'"
        )
    })
}

/// Why a link does not open a letter.
enum Refusal {
    /// Not a link we made, or altered.
    Unknown,
    /// Past its expiry.
    Expired,
    /// The agency withdrew the letter.
    Withdrawn,
    /// Our fault.
    Unavailable,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, th_title, th, en_title, en) = match self {
            Refusal::Unknown => (
                StatusCode::NOT_FOUND,
                "ไม่พบจดหมาย",
                "ลิงก์นี้ไม่ถูกต้อง กรุณาเปิดลิงก์จากอีเมลแจ้งเตือนอีกครั้งโดยไม่แก้ไข",
                "Letter not found",
                "This link is not valid. Please open the link from the notice e-mail again, unchanged.",
            ),
            Refusal::Expired => (
                StatusCode::GONE,
                "ลิงก์หมดอายุแล้ว",
                "ลิงก์นี้หมดอายุแล้ว หากยังไม่ได้อ่านจดหมาย ระบบจะส่งฉบับกระดาษทางไปรษณีย์ หรือติดต่อหน่วยงานผู้ส่ง",
                "This link has expired",
                "This link has expired. If the letter was not read, it is sent on paper by post; or contact the sending agency.",
            ),
            Refusal::Withdrawn => (
                StatusCode::GONE,
                "จดหมายถูกยกเลิก",
                "หน่วยงานผู้ส่งได้ยกเลิกจดหมายฉบับนี้แล้ว",
                "Letter withdrawn",
                "The sending agency has withdrawn this letter.",
            ),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ระบบขัดข้องชั่วคราว",
                "ขออภัย กรุณาลองใหม่อีกครั้งในภายหลัง",
                "Temporarily unavailable",
                "Sorry, please try again later.",
            ),
        };
        let body = format!(
            "<h1>{th_title}</h1>\n<p>{th}</p>\n<hr>\n<h2 lang=\"en\">{en_title}</h2>\n<p lang=\"en\">{en}</p>\n"
        );
        page(status, &format!("{th_title} / {en_title}"), &body)
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"th\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    );
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        private_headers(),
        html,
    )
        .into_response();
    if !status.is_success() {
        // A refusal page is for the person who opened the link: the layers keep it as it is
        // instead of answering problem+json.
        response.extensions_mut().insert(hybridpost_web::problem::PageForPeople);
    }
    response
}

/// What a page or file behind a secure link wears besides its type: not indexed, not framed,
/// no referrer carrying the token elsewhere, nothing run but our own.
fn private_headers() -> [(header::HeaderName, HeaderValue); 5] {
    [
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(content_security_policy())),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Finds the letter behind a token, without recording anything.
async fn find(state: &NotifierState, token: &str) -> Result<(LetterRecord, DigitalLink), Refusal> {
    // 32 bytes in unpadded base64url are 43 characters; anything else was never issued.
    if token.len() != 43 || B64URL.decode(token).is_err() {
        return Err(Refusal::Unknown);
    }
    let hash = token_hash(token);
    let unavailable = |e: hybridpost_store::StoreError| {
        tracing::error!("a digital letter link cannot be read: {e}");
        Refusal::Unavailable
    };
    let mut conn = state.store.read().await.map_err(unavailable)?;
    let link = outbox::find_link(&mut conn, &hash).await.map_err(unavailable)?.ok_or(Refusal::Unknown)?;
    let expires = parse_timestamp(&link.expires_at).map_err(unavailable)?;
    if expires <= time::OffsetDateTime::now_utc() {
        return Err(Refusal::Expired);
    }
    let letter = letters::get_letter_any_agency(&mut conn, link.letter_id)
        .await
        .map_err(unavailable)?
        .ok_or(Refusal::Unknown)?;
    drop(conn);
    if letter.withdrawn.is_some() || letter.status == LetterStatus::Cancelled {
        return Err(Refusal::Withdrawn);
    }
    Ok((letter, link))
}

/// Finds the letter behind a token and records the first opening: its reader asked for it.
async fn open(state: &NotifierState, token: &str) -> Result<(LetterRecord, DigitalLink), Refusal> {
    let (letter, link) = find(state, token).await?;
    if link.opened_at.is_none() {
        record_opened(state, &letter, &token_hash(token)).await.map_err(|e| {
            tracing::error!("a digital letter's opening cannot be recorded: {e}");
            Refusal::Unavailable
        })?;
    }
    Ok((letter, link))
}

/// The first opening: `opened` on the letter's timeline, once, however often and however fast
/// the link is opened (the conditional update lets one request win).
async fn record_opened(
    state: &NotifierState,
    letter: &LetterRecord,
    hash: &str,
) -> Result<(), hybridpost_store::StoreError> {
    let mut tx = state.store.begin().await?;
    if !outbox::mark_link_opened(&mut tx, hash, &now_text()).await? {
        return Ok(());
    }
    let detail = Some(serde_json::json!({"via": "link"}));
    let current = letters::get_letter_any_agency(&mut tx, letter.letter_id).await?.map(|l| l.status);
    if current == Some(LetterStatus::Notified) {
        match letters::transition(&mut tx, letter.agency_id, letter.letter_id, LetterStatus::Opened, detail, None).await
        {
            Ok(moved) => {
                queue_event_webhooks(&mut tx, &moved.events).await?;
            }
            Err(letters::TransitionFailure::Store(e)) => return Err(e),
            Err(e) => return Err(hybridpost_store::StoreError::Conflict(e.to_string())),
        }
    } else if let Some(status) = current {
        // Already gone to paper (or replied to): the opening is still worth knowing.
        let event = events::append_event(
            &mut tx,
            NewEvent {
                agency_id: letter.agency_id,
                letter_id: letter.letter_id,
                kind: hybridpost_core::EventKind::Opened,
                status,
                detail,
                request_id: None,
            },
        )
        .await?;
        queue_event_webhooks(&mut tx, &[event]).await?;
    }
    tx.commit().await?;
    tracing::info!(letter.id = %letter.letter_id, "digital letter {} opened", letter.letter_id);
    Ok(())
}

async fn letter_page(State(state): State<NotifierState>, Path(token): Path<String>) -> Response {
    let (letter, link) = match find(&state, &token).await {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let agency = {
        let Ok(mut conn) = state.store.read().await else { return Refusal::Unavailable.into_response() };
        match agencies::get_agency(&mut conn, letter.agency_id).await {
            Ok(Some(a)) => a,
            _ => return Refusal::Unavailable.into_response(),
        }
    };
    let subject = letter.subject();
    let agency_en = agency.name_en.clone().unwrap_or_else(|| agency.name.clone());
    let expires = parse_timestamp(&link.expires_at)
        .map(|t| hybridpost_thai::format_thai_date(t.to_offset(time::macros::offset!(+7)).date()))
        .unwrap_or_default();
    let body = format!(
        "<p>จดหมายจาก / Letter from</p>\n<h1>{agency}</h1>\n<p lang=\"en\">{agency_en}</p>\n\
         <p>เรื่อง / Subject: <strong>{subject}</strong></p>\n<p>เลขที่ / Reference: {reference}</p>\n\
         <form method=\"post\" action=\"/d/{token}/pdf\"><button type=\"submit\">\
         เปิดจดหมาย (PDF) / Open the letter (PDF)</button></form>\n\
         <p class=\"note\">ลิงก์นี้ใช้ได้ถึงวันที่ {expires} กรุณาอย่าส่งต่อ<br>\n\
         <span lang=\"en\">This link works until {expires}. Please do not forward it.</span></p>\n\
         <p class=\"note\"><a href=\"{paper}\">รับจดหมายทางไปรษณีย์แทน</a> / \
         <a href=\"{paper}\" lang=\"en\">Receive letters on paper instead</a></p>\n",
        agency = escape(&agency.name),
        agency_en = escape(&agency_en),
        subject = escape(subject),
        reference = escape(&letter.reference),
        expires = escape(&expires),
        paper = escape(&paper_link(&state.secret, &state.config.public_url, letter.letter_id)),
    );
    page(StatusCode::OK, &format!("{} — {}", agency.name, subject), &body)
}

async fn letter_pdf(State(state): State<NotifierState>, Path(token): Path<String>) -> Response {
    let (letter, _) = match open(&state, &token).await {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let letter_id = letter.letter_id;
    let pdf = match state.composer.letter_pdf(&state.store, &state.blobs, letter).await {
        Ok(pdf) => pdf,
        Err(e) => {
            tracing::error!(letter.id = %letter_id, "digital letter {letter_id} cannot be laid out: {e}");
            return Refusal::Unavailable.into_response();
        }
    };
    // A copy carries personal data: no cache keeps it.
    match Download::pdf().inline(&format!("letter-{letter_id}.pdf")).cache_control("no-store").body(pdf) {
        Ok(mut response) => {
            response.headers_mut().extend(private_headers());
            response
        }
        Err(e) => e.into_response(),
    }
}
