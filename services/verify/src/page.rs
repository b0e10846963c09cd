//! The pages for people: the verification page with its script and style, and the page a
//! confirmation link opens. Their sources live in `templates/verify/` and are built in.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hybridpost_web::problem::{ApiError, PageForPeople};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::VerifyState;
use crate::channel::{self, BackToPaper, Confirmation, Stop};

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
        .route("/v/confirm", get(confirmation_page).post(confirm_address))
        .route("/v/keep-paper", get(keep_paper_page).post(keep_paper))
        .route("/v/paper/{letter_id}/{token}", get(back_to_paper_page).post(back_to_paper))
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
    let roots = state.keyring.root_keys().await.map_err(ApiError::internal)?;
    let mut keys = Vec::with_capacity(roots.len());
    for root in roots {
        let spki = root.public_key.to_spki_der().map_err(ApiError::internal)?;
        keys.push(PageRootKey {
            kid: root.public_key.id().to_hex(),
            spki: STANDARD.encode(spki),
            not_before: root.validity.not_before.to_string(),
            not_after: root.validity.not_after.to_string(),
        });
    }
    let json = serde_json::to_string(&keys).map_err(ApiError::internal)?;
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

/// A message page: a heading, a verdict in Thai and English, and an optional form.
struct Message<'a> {
    status: StatusCode,
    state: &'a str,
    heading: (&'a str, &'a str),
    title: (&'a str, &'a str),
    text: (String, String),
    form: String,
}

/// The headings of the two kinds of page.
const BY_EMAIL: (&str, &str) = ("รับจดหมายทางอีเมล", "Letters by e-mail");
const ON_PAPER: (&str, &str) = ("รับจดหมายทางไปรษณีย์", "Letters on paper");

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn message_page(m: Message<'_>) -> Response {
    let (_, style) = asset_urls();
    let body = CONFIRM_HTML
        .replace("{{style}}", style)
        .replace("{{state}}", m.state)
        .replace("{{heading_th}}", m.heading.0)
        .replace("{{heading_en}}", m.heading.1)
        .replace("{{title_th}}", m.title.0)
        .replace("{{title_en}}", m.title.1)
        .replace("{{text_th}}", &escape(&m.text.0))
        .replace("{{text_en}}", &escape(&m.text.1))
        .replace("{{form}}", &m.form);
    html(m.status, body, "no-store")
}

/// A form of one button that posts back to `action` with an optional hidden token.
fn button_form(action: &str, token: Option<&str>, label: (&str, &str)) -> String {
    let hidden =
        token.map(|t| format!("<input type=\"hidden\" name=\"token\" value=\"{}\">", escape(t))).unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}<button type=\"submit\">{} <span lang=\"en\">{}</span></button></form>",
        escape(action),
        label.0,
        label.1
    )
}

/// A date as Thai readers write it (Buddhist era) and in English, Bangkok time.
fn dates(at: time::OffsetDateTime) -> (String, String) {
    let date = at.to_offset(time::macros::offset!(+7)).date();
    let en = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    (hybridpost_thai::format_thai_date(date), date.format(&en).unwrap_or_default())
}

fn link_refusal(outcome: &Confirmation) -> Message<'static> {
    let (status, state, title, text) = match outcome {
        Confirmation::AlreadyUsed => (
            StatusCode::GONE,
            "used",
            ("ลิงก์นี้ถูกใช้ไปแล้ว", "This link has already been used"),
            (
                "ลิงก์ยืนยันใช้ได้เพียงครั้งเดียว หากต้องการเปลี่ยนอีเมล กรุณาขอใหม่จากหน้าตรวจสอบจดหมาย",
                "A confirmation link works once. To change the address, ask again from the letter's verification page.",
            ),
        ),
        Confirmation::Expired => (
            StatusCode::GONE,
            "expired",
            ("ลิงก์นี้หมดอายุแล้ว", "This link has expired"),
            (
                "กรุณาขอลิงก์ยืนยันใหม่จากหน้าตรวจสอบจดหมาย",
                "Please ask for a new confirmation link from the letter's verification page.",
            ),
        ),
        Confirmation::Invalid | Confirmation::Pending { .. } => (
            StatusCode::BAD_REQUEST,
            "invalid",
            ("ลิงก์นี้ไม่ถูกต้อง", "This link is not valid"),
            (
                "ลิงก์อาจถูกตัดหรือแก้ไข กรุณาเปิดลิงก์จากอีเมลอีกครั้งโดยคัดลอกให้ครบถ้วน",
                "The link may have been cut short or changed. Open it again from the e-mail, copied in full.",
            ),
        ),
    };
    Message {
        status,
        state,
        heading: BY_EMAIL,
        title,
        text: (text.0.to_owned(), text.1.to_owned()),
        form: String::new(),
    }
}

/// `GET /v/confirm?token=…`: what confirming would do, and the button that does it. Opening the
/// link changes nothing: mail gateways open every link in an e-mail.
async fn confirmation_page(
    State(state): State<VerifyState>,
    query: Result<Query<ConfirmQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let token = query.ok().and_then(|Query(q)| q.token);
    let outcome = channel::peek(&state, token.as_deref()).await?;
    let Confirmation::Pending { effective_at } = outcome else { return Ok(message_page(link_refusal(&outcome))) };
    let (th, en) = dates(effective_at);
    Ok(message_page(Message {
        status: StatusCode::OK,
        state: "confirm",
        heading: BY_EMAIL,
        title: ("ยืนยันการรับจดหมายทางอีเมล", "Confirm letters by e-mail"),
        text: (
            format!(
                "เมื่อกดยืนยัน เราจะส่งจดหมายแจ้งการเปลี่ยนแปลงไปยังที่อยู่ทางไปรษณีย์ของผู้รับ \
                 และจดหมายจะเริ่มส่งทางอีเมลตั้งแต่วันที่ {th}"
            ),
            format!(
                "When you confirm, we post a letter about the change to the recipient's postal address, and \
                 letters come by e-mail from {en}."
            ),
        ),
        form: button_form("/v/confirm", channel::plausible_token(token.as_deref()), ("ยืนยัน", "Confirm")),
    }))
}

#[derive(Deserialize)]
struct TokenForm {
    token: Option<String>,
}

/// `POST /v/confirm`: the button of the confirmation page.
async fn confirm_address(
    State(state): State<VerifyState>,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let token = form.ok().and_then(|Form(f)| f.token);
    let outcome = channel::confirm(&state, token.as_deref()).await?;
    let Confirmation::Pending { effective_at } = outcome else { return Ok(message_page(link_refusal(&outcome))) };
    let (th, en) = dates(effective_at);
    Ok(message_page(Message {
        status: StatusCode::OK,
        state: "registered",
        heading: BY_EMAIL,
        title: ("ยืนยันอีเมลเรียบร้อยแล้ว", "Your e-mail address is confirmed"),
        text: (
            format!(
                "จดหมายฉบับต่อไปจากหน่วยงานรัฐที่ใช้บริการนี้จะส่งถึงท่านทางอีเมลตั้งแต่วันที่ {th} \
                 เราได้ส่งจดหมายแจ้งการเปลี่ยนแปลงไปยังที่อยู่ทางไปรษณีย์ของท่านแล้ว"
            ),
            format!(
                "Your next letters from agencies using this service will reach you by e-mail from {en}. A letter \
                 about the change is on its way to your postal address."
            ),
        ),
        form: String::new(),
    }))
}

/// The form of the keep-paper page, with a message next to the field when the code was wrong.
fn keep_paper_form(typed: &str, error: Option<(&str, &str)>) -> String {
    let error_html = error
        .map(|(th, en)| {
            format!("<p id=\"code-error\" class=\"field-error\" role=\"alert\">{th} <span lang=\"en\">{en}</span></p>")
        })
        .unwrap_or_default();
    let described = if error.is_some() { " aria-describedby=\"code-error\" aria-invalid=\"true\"" } else { "" };
    format!(
        "<form method=\"post\" action=\"/v/keep-paper\" class=\"card\">\
         <label for=\"code\">รหัสในจดหมายยืนยัน <span lang=\"en\">Code on the confirmation letter</span></label>\
         <input id=\"code\" name=\"code\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" \
         maxlength=\"40\" value=\"{typed}\" required{described}>{error_html}\
         <button type=\"submit\">รับจดหมายทางไปรษณีย์ต่อไป <span lang=\"en\">Keep letters on paper</span></button>\
         </form>",
        typed = escape(typed)
    )
}

fn keep_paper_message(status: StatusCode, state: &'static str, typed: &str, error: Option<(&str, &str)>) -> Response {
    message_page(Message {
        status,
        state,
        heading: ON_PAPER,
        title: ("ยกเลิกการรับจดหมายทางอีเมล", "Stop letters by e-mail"),
        text: (
            "กรอกรหัสที่พิมพ์ในจดหมายแจ้งการเปลี่ยนแปลงที่ส่งถึงท่านทางไปรษณีย์ จดหมายของท่านจะส่งทางไปรษณีย์ต่อไป".into(),
            "Type the code printed on the letter about the change that reached you by post; your letters will keep \
             coming on paper."
                .into(),
        ),
        form: keep_paper_form(typed, error),
    })
}

/// `GET /v/keep-paper`: the form for the code on a confirmation letter.
async fn keep_paper_page() -> Response {
    keep_paper_message(StatusCode::OK, "keep-paper", "", None)
}

#[derive(Deserialize)]
struct CodeForm {
    code: Option<String>,
}

/// `POST /v/keep-paper`: stops (or undoes) the change of the code.
async fn keep_paper(
    State(state): State<VerifyState>,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let code = form.ok().and_then(|Form(f)| f.code).unwrap_or_default();
    let (title, text) = match channel::stop(&state, &code).await? {
        Stop::Unknown => {
            return Ok(keep_paper_message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                &code,
                Some((
                    "ไม่พบรหัสนี้ กรุณาตรวจสอบรหัส 16 ตัวในจดหมายอีกครั้ง",
                    "This code is not known; check the 16 characters on the letter again.",
                )),
            ));
        }
        Stop::StoppedBeforeEffect => (
            ("ยกเลิกเรียบร้อยแล้ว", "The change is stopped"),
            ("จดหมายของท่านจะส่งทางไปรษณีย์ต่อไป ไม่มีการส่งทางอีเมล", "Your letters keep coming by post, not by e-mail."),
        ),
        Stop::Undone => (
            ("กลับไปรับจดหมายทางไปรษณีย์แล้ว", "Back to letters on paper"),
            (
                "อีเมลนี้จะไม่ได้รับจดหมายของท่านอีก จดหมายฉบับต่อไปจะส่งทางไปรษณีย์",
                "That address no longer gets your letters; the next ones come by post.",
            ),
        ),
        Stop::AlreadyDecided => (
            ("รหัสนี้ถูกใช้ไปแล้ว", "This code was used before"),
            (
                "การเปลี่ยนแปลงนี้ถูกยกเลิกหรือแทนที่ไปแล้ว ไม่ต้องดำเนินการใดอีก",
                "This change was already stopped or replaced; there is nothing more to do.",
            ),
        ),
    };
    Ok(message_page(Message {
        status: StatusCode::OK,
        state: "stopped",
        heading: ON_PAPER,
        title,
        text: (text.0.to_owned(), text.1.to_owned()),
        form: String::new(),
    }))
}

fn paper_link_refusal() -> Response {
    message_page(Message {
        status: StatusCode::NOT_FOUND,
        state: "invalid",
        heading: ON_PAPER,
        title: ("ลิงก์นี้ไม่ถูกต้อง", "This link is not valid"),
        text: (
            "กรุณาเปิดลิงก์จากอีเมลแจ้งจดหมายอีกครั้งโดยคัดลอกให้ครบถ้วน".into(),
            "Open the link from the letter's notice e-mail again, copied in full.".into(),
        ),
        form: String::new(),
    })
}

/// `GET /v/paper/{letter}/{token}`: the button that sends the recipient's letters on paper again.
async fn back_to_paper_page(
    State(state): State<VerifyState>,
    Path((letter_id, token)): Path<(String, String)>,
) -> Response {
    let known = letter_id.parse().is_ok_and(|id| channel::paper_token_matches(&state, id, &token));
    if !known {
        return paper_link_refusal();
    }
    message_page(Message {
        status: StatusCode::OK,
        state: "confirm",
        heading: ON_PAPER,
        title: ("กลับไปรับจดหมายทางไปรษณีย์", "Go back to letters on paper"),
        text: (
            "เมื่อกดปุ่มนี้ จดหมายฉบับต่อไปจากหน่วยงานรัฐที่ใช้บริการนี้จะส่งถึงท่านทางไปรษณีย์แทนอีเมล".into(),
            "When you press this button, your next letters from agencies using this service come by post instead of \
             by e-mail."
                .into(),
        ),
        form: button_form(&format!("/v/paper/{letter_id}/{token}"), None, ("รับจดหมายทางไปรษณีย์", "Letters on paper")),
    })
}

/// `POST /v/paper/{letter}/{token}`: the button of the back-to-paper page.
async fn back_to_paper(
    State(state): State<VerifyState>,
    Path((letter_id, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (title, text) = match channel::back_to_paper(&state, &letter_id, &token).await? {
        BackToPaper::Unknown => return Ok(paper_link_refusal()),
        BackToPaper::Done => (
            ("กลับไปรับจดหมายทางไปรษณีย์แล้ว", "Back to letters on paper"),
            ("จดหมายฉบับต่อไปจะส่งถึงท่านทางไปรษณีย์", "Your next letters come by post."),
        ),
        BackToPaper::AlreadyPaper => (
            ("ท่านรับจดหมายทางไปรษณีย์อยู่แล้ว", "Your letters already come on paper"),
            ("ไม่ต้องดำเนินการใดอีก", "There is nothing more to do."),
        ),
    };
    Ok(message_page(Message {
        status: StatusCode::OK,
        state: "paper",
        heading: ON_PAPER,
        title,
        text: (text.0.to_owned(), text.1.to_owned()),
        form: String::new(),
    }))
}
