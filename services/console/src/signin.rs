//! Signing in and out, and setting a password with a one-time setup link.
//!
//! Before there is a session, forms carry a token that must equal a `SameSite=Strict` cookie
//! set with the form (double submit), on top of the origin check every form passes.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hybridpost_store::people::{self, NewAudit, Person, Session};
use hybridpost_store::{now_text, timestamp_text};
use hybridpost_web::client::client_address;
use serde::Deserialize;

use crate::pages::{self, Lang};
use crate::password::{hash_password, password_problem, random_token, token_hash, verify_password};
use crate::session::{self, SignedIn};
use crate::{ConsoleState, see_other};

const FORM_COOKIE: &str = "hp_form";

/// The request's parts that the sign-in forms need, as an extractor.
pub(crate) struct Visitor {
    lang: Lang,
    client: String,
    form_cookie: Option<String>,
}

impl axum::extract::FromRequestParts<ConsoleState> for Visitor {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            lang: pages::lang_of(parts),
            client: client_address(&parts.extensions, &parts.headers, state.config.client_ip_header.as_ref()),
            form_cookie: session::cookie(parts, FORM_COOKIE).map(str::to_owned),
        })
    }
}

impl Visitor {
    /// Whether the form's token is the one set in the cookie with the form.
    fn form_matches(&self, token: &str) -> bool {
        self.form_cookie.as_deref().is_some_and(|c| !c.is_empty() && c == token)
    }
}

/// A page with a fresh form token, in the page and in its cookie.
fn with_form_token(state: &ConsoleState, page: impl FnOnce(&str) -> Response) -> Response {
    let token = random_token();
    let mut response = page(&token);
    let secure = if state.config.secure() { "; Secure" } else { "" };
    if let Ok(v) =
        HeaderValue::from_str(&format!("{FORM_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict{secure}"))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn sign_in_form(
    state: &ConsoleState,
    lang: Lang,
    status: StatusCode,
    email: &str,
    error: Option<(&str, &str)>,
) -> Response {
    with_form_token(state, |token| {
        pages::render(
            status,
            "sign_in.html",
            lang,
            serde_json::json!({
                "csrf": token, "email": email,
                "error": error.map(|e| e.0), "error_en": error.map(|e| e.1),
            }),
        )
    })
}

pub(crate) async fn sign_in_page(State(state): State<ConsoleState>, visitor: Visitor) -> Response {
    sign_in_form(&state, visitor.lang, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

const WRONG: (&str, &str) = ("อีเมลหรือรหัสผ่านไม่ถูกต้อง", "The e-mail address or the password is wrong.");
const THROTTLED: (&str, &str) = (
    "ลงชื่อเข้าใช้ผิดหลายครั้งเกินไป กรุณารอ 15 นาทีแล้วลองใหม่ หรือติดต่อหัวหน้างาน",
    "Too many failed sign-ins. Wait 15 minutes and try again, or ask your supervisor.",
);

pub(crate) async fn sign_in(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = visitor.lang;
    if !visitor.form_matches(&form.csrf) {
        return pages::refused(StatusCode::FORBIDDEN, lang);
    }
    let email = form.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 || form.password.is_empty() || form.password.len() > 1000 {
        return sign_in_form(&state, lang, StatusCode::UNPROCESSABLE_ENTITY, &email, Some(WRONG));
    }
    match try_sign_in(&state, &visitor, &email, form.password).await {
        Ok(Ok(token)) => {
            let mut response = see_other("/console/today");
            if let Ok(v) = HeaderValue::from_str(&session::session_cookie(state.config.secure(), Some(&token))) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Ok(Err(refusal)) => {
            let status =
                if refusal == THROTTLED { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNPROCESSABLE_ENTITY };
            sign_in_form(&state, lang, status, &email, Some(refusal))
        }
        Err(e) => {
            tracing::error!("console sign-in failed: {e:#}");
            pages::unavailable(lang)
        }
    }
}

/// Checks the throttle and the password; on success starts a session and returns its token.
async fn try_sign_in(
    state: &ConsoleState,
    visitor: &Visitor,
    email: &str,
    password: String,
) -> anyhow::Result<Result<String, (&'static str, &'static str)>> {
    let now = time::OffsetDateTime::now_utc();
    let since = timestamp_text(now - state.config.throttle_window);
    let (account_key, address_key) = (format!("email:{email}"), format!("addr:{}", visitor.client));
    let (person, throttled) = {
        let mut conn = state.store.read().await?;
        let by_account = people::signin_failures_since(&mut conn, &account_key, &since).await?;
        let by_address = people::signin_failures_since(&mut conn, &address_key, &since).await?;
        let person = people::find_by_email(&mut conn, email).await?;
        (
            person,
            by_account >= state.config.max_failures_per_account || by_address >= state.config.max_failures_per_address,
        )
    };
    let audit = |person: Option<&Person>, action: &str| NewAudit {
        person_id: person.map(|p| p.person_id),
        workplace: person.map(|p| p.workplace),
        action: action.to_owned(),
        target: Some(email.to_owned()),
        detail: None,
        client: Some(visitor.client.clone()),
        request_id: None,
    };
    if throttled {
        let mut tx = state.store.begin().await?;
        people::append_audit(&mut tx, &audit(person.as_ref(), "signin.throttled"), &timestamp_text(now)).await?;
        tx.commit().await?;
        return Ok(Err(THROTTLED));
    }
    let usable = person.as_ref().filter(|p| p.disabled_at.is_none());
    let matches = verify_password(password, usable.and_then(|p| p.password_hash.clone())).await;
    let Some(person) = usable.filter(|_| matches) else {
        let mut tx = state.store.begin().await?;
        people::record_signin_failure(&mut tx, &[account_key, address_key], &now_text()).await?;
        people::append_audit(&mut tx, &audit(person.as_ref(), "signin.failed"), &now_text()).await?;
        tx.commit().await?;
        return Ok(Err(WRONG));
    };
    let token = random_token();
    let mut tx = state.store.begin().await?;
    people::clear_signin_failures(&mut tx, &account_key, &since).await?;
    start_session(&mut tx, state, person, &token, &visitor.client).await?;
    people::append_audit(&mut tx, &audit(Some(person), "signin"), &now_text()).await?;
    tx.commit().await?;
    tracing::info!(person.id = %person.person_id, "{} signed in to the console", person.email);
    Ok(Ok(token))
}

async fn start_session(
    conn: &mut hybridpost_store::AnyConnection,
    state: &ConsoleState,
    person: &Person,
    token: &str,
    client: &str,
) -> hybridpost_store::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    let session = Session {
        token_hash: token_hash(token),
        person_id: person.person_id,
        csrf_token: random_token(),
        created_at: timestamp_text(now),
        last_seen_at: timestamp_text(now),
        expires_at: timestamp_text(now + state.config.absolute_timeout),
    };
    people::insert_session(conn, &session, Some(client)).await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_out(State(state): State<ConsoleState>, me: SignedIn, Form(form): Form<TokenForm>) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let ended = async {
        let mut tx = state.store.begin().await?;
        people::end_session(&mut tx, &me.session.token_hash, &now_text()).await?;
        people::append_audit(&mut tx, &me.audit("signout", None), &now_text()).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = ended {
        tracing::error!("cannot end a console session: {e}");
        return pages::unavailable(me.lang);
    }
    let mut response = see_other("/console/sign-in");
    if let Ok(v) = HeaderValue::from_str(&session::session_cookie(state.config.secure(), None)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn setup_form(
    state: &ConsoleState,
    lang: Lang,
    status: StatusCode,
    person: &Person,
    error: Option<(&str, &str)>,
) -> Response {
    with_form_token(state, |token| {
        pages::render(
            status,
            "setup.html",
            lang,
            serde_json::json!({
                "csrf": token, "name": person.name, "email": person.email,
                "error": error.map(|e| e.0), "error_en": error.map(|e| e.1),
            }),
        )
    })
}

fn link_not_valid(lang: Lang) -> Response {
    pages::message(
        StatusCode::NOT_FOUND,
        lang,
        ("ลิงก์นี้ใช้ไม่ได้", "This link does not work"),
        (
            "ลิงก์ตั้งรหัสผ่านใช้ได้ครั้งเดียวและมีอายุ 3 วัน กรุณาขอลิงก์ใหม่จากหัวหน้างาน",
            "A set-password link works once and for 3 days. Ask your supervisor for a new one.",
        ),
    )
}

pub(crate) async fn setup_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path(code): Path<String>,
) -> Response {
    let found = async {
        let mut conn = state.store.read().await?;
        people::setup_code_person(&mut conn, &token_hash(&code), &now_text()).await
    }
    .await;
    match found {
        Ok(Some(person)) => setup_form(&state, visitor.lang, StatusCode::OK, &person, None),
        Ok(None) => link_not_valid(visitor.lang),
        Err(e) => {
            tracing::error!("cannot read a setup link: {e}");
            pages::unavailable(visitor.lang)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn set_password(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path(code): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let lang = visitor.lang;
    if !visitor.form_matches(&form.csrf) {
        return pages::refused(StatusCode::FORBIDDEN, lang);
    }
    let result = async {
        let code_hash = token_hash(&code);
        let person = {
            let mut conn = state.store.read().await?;
            people::setup_code_person(&mut conn, &code_hash, &now_text()).await?
        };
        let Some(person) = person else { return Ok(Err(None)) };
        if let Some(problem) = password_problem(&form.password, &form.confirm) {
            return Ok(Err(Some((person, problem))));
        }
        let hash = hash_password(form.password.clone()).await?;
        let token = random_token();
        let mut tx = state.store.begin().await?;
        // Spent in the same transaction that sets the password: a link works once.
        let Some(person) = people::take_setup_code(&mut tx, &code_hash, &now_text()).await? else {
            return Ok(Err(None));
        };
        people::set_password(&mut tx, person.person_id, &hash, &now_text()).await?;
        // A new password ends every older session of the person.
        people::end_sessions_of(&mut tx, person.person_id, &now_text()).await?;
        start_session(&mut tx, &state, &person, &token, &visitor.client).await?;
        people::append_audit(
            &mut tx,
            &NewAudit {
                person_id: Some(person.person_id),
                workplace: Some(person.workplace),
                action: "password.set".into(),
                target: Some(person.email.clone()),
                detail: None,
                client: Some(visitor.client.clone()),
                request_id: None,
            },
            &now_text(),
        )
        .await?;
        tx.commit().await?;
        anyhow::Ok(Ok(token))
    }
    .await;
    match result {
        Ok(Ok(token)) => {
            let mut response = see_other("/console/today");
            if let Ok(v) = HeaderValue::from_str(&session::session_cookie(state.config.secure(), Some(&token))) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Ok(Err(Some((person, problem)))) => {
            setup_form(&state, lang, StatusCode::UNPROCESSABLE_ENTITY, &person, Some(problem))
        }
        Ok(Err(None)) => link_not_valid(lang),
        Err(e) => {
            tracing::error!("cannot set a console password: {e:#}");
            pages::unavailable(lang)
        }
    }
}
