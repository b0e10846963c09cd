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
use crate::{ConsoleState, second_step, see_other};

const FORM_COOKIE: &str = "hp_form";

/// A refusal to show on the sign-in pages, in Thai and English.
pub(crate) type Refusal = (&'static str, &'static str);

/// The request's parts that the sign-in forms need, as an extractor.
pub(crate) struct Visitor {
    pub(crate) lang: Lang,
    pub(crate) client: String,
    form_cookie: Option<String>,
    /// The half-done sign-in waiting for its one-time code, if any.
    pub(crate) challenge: Option<String>,
}

impl axum::extract::FromRequestParts<ConsoleState> for Visitor {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            lang: pages::lang_of(parts),
            client: client_address(&parts.extensions, &parts.headers, state.config.client_ip_header.as_ref()),
            form_cookie: session::cookie(parts, FORM_COOKIE).map(str::to_owned),
            challenge: session::cookie(parts, second_step::CHALLENGE_COOKIE).map(str::to_owned),
        })
    }
}

impl Visitor {
    /// Whether the form's token is the one set in the cookie with the form.
    pub(crate) fn form_matches(&self, token: &str) -> bool {
        self.form_cookie.as_deref().is_some_and(|c| !c.is_empty() && c == token)
    }
}

/// A page with a fresh form token, in the page and in its cookie.
pub(crate) fn with_form_token(state: &ConsoleState, page: impl FnOnce(&str) -> Response) -> Response {
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

/// Sets the session cookie carrying `token` on `response`.
pub(crate) fn set_session_cookie(state: &ConsoleState, response: &mut Response, token: &str) {
    if let Ok(v) = HeaderValue::from_str(&session::session_cookie(state.config.secure(), Some(token))) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub(crate) fn sign_in_form(
    state: &ConsoleState,
    lang: Lang,
    status: StatusCode,
    email: &str,
    error: Option<Refusal>,
) -> Response {
    with_form_token(state, |token| {
        pages::render(
            status,
            "sign_in.html",
            lang,
            serde_json::json!({
                "csrf": token, "email": email,
                "error": error.map(|e| e.0), "error_en": error.map(|e| e.1),
                "provider": crate::oidc::button(state),
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

const WRONG: Refusal = ("อีเมลหรือรหัสผ่านไม่ถูกต้อง", "The e-mail address or the password is wrong.");
pub(crate) const THROTTLED: Refusal = (
    "ลงชื่อเข้าใช้ผิดหลายครั้งเกินไป กรุณารอ 15 นาทีแล้วลองใหม่ หรือติดต่อหัวหน้างาน",
    "Too many failed sign-ins. Wait 15 minutes and try again, or ask your supervisor.",
);

/// What a right password leads to.
enum Outcome {
    /// Signed in: the session's token.
    Session(String),
    /// The one-time code comes next: the challenge's token.
    Code(String),
    /// Refused, with the reason to show.
    Refused(Refusal),
}

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
        Ok(Outcome::Session(token)) => {
            let mut response = see_other("/console/today");
            set_session_cookie(&state, &mut response, &token);
            response
        }
        Ok(Outcome::Code(challenge)) => second_step::code_form(&state, lang, StatusCode::OK, Some(&challenge), None),
        Ok(Outcome::Refused(refusal)) => {
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

/// One sign-in attempt's throttle keys (the account and the client address) and its audit.
pub(crate) struct Attempt {
    email: String,
    client: String,
    account_key: String,
    address_key: String,
    since: String,
}

impl Attempt {
    pub(crate) fn new(state: &ConsoleState, client: &str, email: &str) -> Attempt {
        let since = timestamp_text(time::OffsetDateTime::now_utc() - state.config.throttle_window);
        Attempt {
            email: email.to_owned(),
            client: client.to_owned(),
            account_key: format!("email:{email}"),
            address_key: format!("addr:{client}"),
            since,
        }
    }

    /// Whether the account or the address has failed too often in the window.
    pub(crate) async fn throttled(&self, state: &ConsoleState) -> hybridpost_store::Result<bool> {
        let mut conn = state.store.read().await?;
        let by_account = people::signin_failures_since(&mut conn, &self.account_key, &self.since).await?;
        let by_address = people::signin_failures_since(&mut conn, &self.address_key, &self.since).await?;
        Ok(by_account >= state.config.max_failures_per_account || by_address >= state.config.max_failures_per_address)
    }

    fn audit(&self, person: Option<&Person>, action: &str) -> NewAudit {
        NewAudit {
            person_id: person.map(|p| p.person_id),
            workplace: person.map(|p| p.workplace),
            action: action.to_owned(),
            target: Some(self.email.clone()),
            detail: None,
            client: Some(self.client.clone()),
            request_id: None,
        }
    }

    /// Records a refusal in the audit log, and as a failure for the throttle when `failed`.
    pub(crate) async fn refuse(
        &self,
        state: &ConsoleState,
        person: Option<&Person>,
        action: &str,
        failed: bool,
    ) -> hybridpost_store::Result<()> {
        let mut tx = state.store.begin().await?;
        if failed {
            people::record_signin_failure(&mut tx, &[self.account_key.clone(), self.address_key.clone()], &now_text())
                .await?;
        }
        people::append_audit(&mut tx, &self.audit(person, action), &now_text()).await?;
        tx.commit().await
    }

    /// Starts the person's session (ending the half-done sign-in `challenge`, if any) and
    /// returns its token.
    pub(crate) async fn succeed(
        &self,
        state: &ConsoleState,
        person: &Person,
        challenge: Option<&str>,
    ) -> hybridpost_store::Result<String> {
        let token = random_token();
        let mut tx = state.store.begin().await?;
        if let Some(challenge) = challenge {
            people::end_signin_challenge(&mut tx, challenge).await?;
        }
        people::clear_signin_failures(&mut tx, &self.account_key, &self.since).await?;
        start_session(&mut tx, state, person, &token, &self.client).await?;
        people::append_audit(&mut tx, &self.audit(Some(person), "signin"), &now_text()).await?;
        tx.commit().await?;
        tracing::info!(person.id = %person.person_id, "{} signed in to the console", person.email);
        Ok(token)
    }
}

/// Checks the throttle and the password; on success starts a session, or the second step for
/// a person who turned it on.
async fn try_sign_in(
    state: &ConsoleState,
    visitor: &Visitor,
    email: &str,
    password: String,
) -> anyhow::Result<Outcome> {
    let attempt = Attempt::new(state, &visitor.client, email);
    let person = {
        let mut conn = state.store.read().await?;
        people::find_by_email(&mut conn, email).await?
    };
    if attempt.throttled(state).await? {
        attempt.refuse(state, person.as_ref(), "signin.throttled", false).await?;
        return Ok(Outcome::Refused(THROTTLED));
    }
    let usable = person.as_ref().filter(|p| p.disabled_at.is_none());
    let matches = verify_password(password, usable.and_then(|p| p.password_hash.clone())).await;
    let Some(person) = usable.filter(|_| matches) else {
        attempt.refuse(state, person.as_ref(), "signin.failed", true).await?;
        return Ok(Outcome::Refused(WRONG));
    };
    if person.totp_enabled_at.is_some() {
        return Ok(Outcome::Code(second_step::begin(state, person).await?));
    }
    Ok(Outcome::Session(attempt.succeed(state, person, None).await?))
}

pub(crate) async fn start_session(
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
        // A new password ends every older session of the person, and turns their one-time
        // codes off: a set-password link is how someone who lost their phone gets back in.
        people::end_sessions_of(&mut tx, person.person_id, &now_text()).await?;
        let codes_off = people::disable_totp(&mut tx, person.person_id, &now_text()).await?;
        start_session(&mut tx, &state, &person, &token, &visitor.client).await?;
        people::append_audit(
            &mut tx,
            &NewAudit {
                person_id: Some(person.person_id),
                workplace: Some(person.workplace),
                action: "password.set".into(),
                target: Some(person.email.clone()),
                detail: codes_off.then(|| serde_json::json!({"authenticator": "turned off"})),
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
            set_session_cookie(&state, &mut response, &token);
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
