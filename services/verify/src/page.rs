//! The pages for people: the verification page with its script and style, and the page a
//! confirmation link opens. Their sources live in `templates/verify/` and are built in.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hybridpost_web::problem::{ApiError, PageForPeople};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::VerifyState;
use crate::optin::{Confirmation, confirm};

const INDEX_HTML: &str = include_str!("../../../templates/verify/index.html");
const CONFIRM_HTML: &str = include_str!("../../../templates/verify/confirm.html");
const SCRIPT: &str = include_str!("../../../templates/verify/verify.js");
const STYLE: &str = include_str!("../../../templates/verify/verify.css");

/// Script and style never change under one URL: the URL carries a digest of the content.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";
/// The page carries the root keys, so it is checked again on every visit.
const PAGE_CACHE: &str = "no-cache";

/// The page routes.
pub(crate) fn router() -> Router<VerifyState> {
    Router::new()
        .route("/V", get(verification_page))
        .route("/v", get(verification_page))
        .route("/v/verify.js", get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/v/verify.css", get(|| async { asset(STYLE, "text/css; charset=utf-8") }))
        .route("/v/confirm", get(confirmation_page))
}

/// `?h=` plus the first 8 bytes of SHA-256 of `content`, hex.
fn version_of(content: &str) -> String {
    hex::encode(&Sha256::digest(content.as_bytes())[..8])
}

/// The versioned URLs of the script and the style.
fn asset_urls() -> &'static (String, String) {
    static URLS: OnceLock<(String, String)> = OnceLock::new();
    URLS.get_or_init(|| {
        (format!("/v/verify.js?h={}", version_of(SCRIPT)), format!("/v/verify.css?h={}", version_of(STYLE)))
    })
}

fn asset(content: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE)),
        ],
        content,
    )
        .into_response()
}

fn html(status: StatusCode, body: String, cache: &'static str) -> Response {
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response();
    if !status.is_success() {
        response.extensions_mut().insert(PageForPeople);
    }
    response
}

/// A root key as the page's script reads it.
#[derive(Serialize)]
struct PageRootKey {
    kid: String,
    spki: String,
    not_before: String,
    not_after: String,
}

/// `GET /V`: the verification page, carrying the root keys that the trust list must be signed
/// with.
async fn verification_page(State(state): State<VerifyState>) -> Result<Response, ApiError> {
    let roots = state.keyring.root_keys().await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut keys = Vec::with_capacity(roots.len());
    for root in roots {
        let spki = root.public_key.to_spki_der().map_err(|e| ApiError::Internal(e.to_string()))?;
        keys.push(PageRootKey {
            kid: root.public_key.id().to_hex(),
            spki: STANDARD.encode(spki),
            not_before: root.validity.not_before.to_string(),
            not_after: root.validity.not_after.to_string(),
        });
    }
    let json = serde_json::to_string(&keys).map_err(|e| ApiError::Internal(e.to_string()))?;
    // Inside <script type="application/json">, `<` must not open a tag.
    let json = json.replace('<', "\\u003c");
    let (script, style) = asset_urls();
    let body = INDEX_HTML.replace("{{root_keys}}", &json).replace("{{script}}", script).replace("{{style}}", style);
    Ok(html(StatusCode::OK, body, PAGE_CACHE))
}

#[derive(Deserialize)]
struct ConfirmQuery {
    token: Option<String>,
}

/// `GET /v/confirm?token=…`: uses the link's token and says what happened, in Thai and English.
async fn confirmation_page(
    State(state): State<VerifyState>,
    query: Result<Query<ConfirmQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let token = query.ok().and_then(|Query(q)| q.token);
    let outcome = confirm(&state, token.as_deref()).await?;
    let (status, state_name, title_th, title_en, text_th, text_en) = match outcome {
        Confirmation::Registered => (
            StatusCode::OK,
            "registered",
            "ยืนยันอีเมลเรียบร้อยแล้ว",
            "Your e-mail address is confirmed",
            "จดหมายฉบับต่อไปจากหน่วยงานรัฐที่ใช้บริการนี้จะส่งถึงท่านทางอีเมล",
            "Your next letters from agencies using this service will reach you by e-mail.",
        ),
        Confirmation::AlreadyUsed => (
            StatusCode::GONE,
            "used",
            "ลิงก์นี้ถูกใช้ไปแล้ว",
            "This link has already been used",
            "ลิงก์ยืนยันใช้ได้เพียงครั้งเดียว หากต้องการเปลี่ยนอีเมล กรุณาขอใหม่จากหน้าตรวจสอบจดหมาย",
            "A confirmation link works once. To change the address, ask again from the letter's verification page.",
        ),
        Confirmation::Expired => (
            StatusCode::GONE,
            "expired",
            "ลิงก์นี้หมดอายุแล้ว",
            "This link has expired",
            "กรุณาขอลิงก์ยืนยันใหม่จากหน้าตรวจสอบจดหมาย",
            "Please ask for a new confirmation link from the letter's verification page.",
        ),
        Confirmation::Invalid => (
            StatusCode::BAD_REQUEST,
            "invalid",
            "ลิงก์นี้ไม่ถูกต้อง",
            "This link is not valid",
            "ลิงก์อาจถูกตัดหรือแก้ไข กรุณาเปิดลิงก์จากอีเมลอีกครั้งโดยคัดลอกให้ครบถ้วน",
            "The link may have been cut short or changed. Open it again from the e-mail, copied in full.",
        ),
    };
    let (_, style) = asset_urls();
    let body = CONFIRM_HTML
        .replace("{{style}}", style)
        .replace("{{state}}", state_name)
        .replace("{{title_th}}", title_th)
        .replace("{{title_en}}", title_en)
        .replace("{{text_th}}", text_th)
        .replace("{{text_en}}", text_en);
    Ok(html(status, body, "no-store"))
}
