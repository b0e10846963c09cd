//! The second step at sign-in: a six-digit code from an authenticator app (RFC 6238: HMAC-SHA-1,
//! 30-second steps, one step of clock drift either way — what every app does), for people who
//! turn it on from their account page.
//!
//! The app's secret is stored wrapped with the service secret (AES-256-GCM, bound to the
//! person), as the seals' private keys are: the service must compute the same codes, so it
//! cannot keep only a hash. A code works once: the step it belongs to is spent in the database,
//! so the same code is refused on every node. Wrong codes count as failed sign-ins for the
//! account and the client address, under the same throttle as wrong passwords.
//!
//! A person who lost their phone asks their supervisor for a set-password link: setting a
//! password with it turns the code off, and they can set up the app again.

use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hybridpost_core::PersonId;
use hybridpost_store::people::{self, Person};
use hybridpost_store::{now_text, timestamp_text};
use rand::RngCore;
use serde::Deserialize;

use crate::pages::{self, Lang};
use crate::password::{random_token, token_hash};
use crate::signin::{self, Refusal, Visitor};
use crate::{ConsoleState, see_other};

/// The cookie holding a half-done sign-in.
pub(crate) const CHALLENGE_COOKIE: &str = "hp_second";
/// How long a half-done sign-in waits for its code.
const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// The name the app shows above the codes.
const ISSUER: &str = "hybridpost";

pub(crate) const WRONG_CODE: Refusal = (
    "รหัสไม่ถูกต้องหรือใช้ไปแล้ว กรุณาพิมพ์รหัส 6 หลักที่แสดงในแอปขณะนี้",
    "The code is wrong or already used. Type the 6-digit code the app shows now.",
);
const START_AGAIN: Refusal = ("หมดเวลาพิมพ์รหัส กรุณาลงชื่อเข้าใช้ใหม่", "The time to type the code ran out. Sign in again.");

/// A new secret (160 bits, as RFC 4226 recommends), wrapped for storing.
pub(crate) fn new_secret(state: &ConsoleState, person_id: PersonId) -> String {
    let mut raw = [0u8; 20];
    rand::rng().fill_bytes(&mut raw);
    STANDARD.encode(state.intake.keyring.secret().wrap(&raw, wrap_context(person_id).as_bytes()))
}

fn wrap_context(person_id: PersonId) -> String {
    format!("console authenticator of {person_id}")
}

/// The authenticator of `person` from its stored, wrapped secret.
pub(crate) fn authenticator(state: &ConsoleState, person: &Person, stored: &str) -> anyhow::Result<totp_rs::Totp> {
    let wrapped = STANDARD.decode(stored).map_err(|e| anyhow::anyhow!("a stored authenticator secret: {e}"))?;
    let raw = state
        .intake
        .keyring
        .secret()
        .unwrap_key(&wrapped, wrap_context(person.person_id).as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot unwrap the authenticator secret of {}: {e}", person.person_id))?;
    totp_rs::Builder::new()
        .with_secret(raw.to_vec())
        .with_account_name(person.email.as_str())
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| anyhow::anyhow!("an authenticator: {e}"))
}

/// The time step a typed code belongs to, if it is right now (spaces ignored).
pub(crate) fn check(totp: &totp_rs::Totp, typed: &str) -> Option<i64> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    totp.check(&code, u64::try_from(now).ok()?).and_then(|step| i64::try_from(step).ok())
}

/// Checks `typed` against the person's authenticator and spends its step; false when it is
/// wrong, or right but already used.
pub(crate) async fn code_holds(state: &ConsoleState, person: &Person, typed: &str) -> anyhow::Result<bool> {
    let stored = {
        let mut conn = state.store.read().await?;
        people::totp_secret(&mut conn, person.person_id).await?
    };
    let Some(stored) = stored.filter(|s| s.enabled) else { return Ok(false) };
    let Some(step) = check(&authenticator(state, person, &stored.secret)?, typed) else { return Ok(false) };
    let mut tx = state.store.begin().await?;
    let spent = people::spend_totp_step(&mut tx, person.person_id, step).await?;
    tx.commit().await?;
    Ok(spent)
}

/// Starts the second step for a person whose password was right: a challenge stored, its
/// token for the cookie.
pub(crate) async fn begin(state: &ConsoleState, person: &Person) -> hybridpost_store::Result<String> {
    let token = random_token();
    let now = time::OffsetDateTime::now_utc();
    let mut tx = state.store.begin().await?;
    people::insert_signin_challenge(
        &mut tx,
        &token_hash(&token),
        person.person_id,
        &timestamp_text(now),
        &timestamp_text(now + CHALLENGE_TTL),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The page that asks for the code; with a new challenge, its cookie too.
pub(crate) fn code_form(
    state: &ConsoleState,
    lang: Lang,
    status: StatusCode,
    challenge: Option<&str>,
    error: Option<Refusal>,
) -> Response {
    let mut response = signin::with_form_token(state, |token| {
        pages::render(
            status,
            "sign_in_code.html",
            lang,
            serde_json::json!({"csrf": token, "error": error.map(|e| e.0), "error_en": error.map(|e| e.1)}),
        )
    });
    if let Some(challenge) = challenge {
        let secure = if state.config.secure() { "; Secure" } else { "" };
        let cookie = format!(
            "{CHALLENGE_COOKIE}={challenge}; Path=/console/sign-in; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            CHALLENGE_TTL.as_secs()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// The second step's form: the code from the app.
pub(crate) async fn sign_in_code(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = visitor.lang;
    if !visitor.form_matches(&form.csrf) {
        return pages::refused(StatusCode::FORBIDDEN, lang);
    }
    let result = async {
        let Some(challenge) = visitor.challenge.as_deref().map(token_hash) else { return Ok(Err(START_AGAIN)) };
        let person = {
            let mut conn = state.store.read().await?;
            people::signin_challenge_person(&mut conn, &challenge, &now_text()).await?
        };
        let Some(person) = person else { return Ok(Err(START_AGAIN)) };
        let attempt = signin::Attempt::new(&state, &visitor.client, &person.email);
        if attempt.throttled(&state).await? {
            let mut tx = state.store.begin().await?;
            people::end_signin_challenge(&mut tx, &challenge).await?;
            tx.commit().await?;
            attempt.refuse(&state, Some(&person), "signin.throttled", false).await?;
            return Ok(Err(signin::THROTTLED));
        }
        if form.code.len() > 20 || !code_holds(&state, &person, &form.code).await? {
            attempt.refuse(&state, Some(&person), "signin.code_failed", true).await?;
            return Ok(Err(WRONG_CODE));
        }
        let token = attempt.succeed(&state, &person, Some(&challenge)).await?;
        anyhow::Ok(Ok(token))
    }
    .await;
    match result {
        Ok(Ok(token)) => {
            let mut response = see_other("/console/today");
            signin::set_session_cookie(&state, &mut response, &token);
            response
                .headers_mut()
                .append(header::SET_COOKIE, HeaderValue::from_static("hp_second=; Path=/console/sign-in; Max-Age=0"));
            response
        }
        Ok(Err(refusal)) if refusal == WRONG_CODE => {
            code_form(&state, lang, StatusCode::UNPROCESSABLE_ENTITY, None, Some(refusal))
        }
        Ok(Err(refusal)) => {
            let status = if refusal == signin::THROTTLED {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            signin::sign_in_form(&state, lang, status, "", Some(refusal))
        }
        Err(e) => {
            tracing::error!("console sign-in code check failed: {e:#}");
            pages::unavailable(lang)
        }
    }
}

#[cfg(test)]
mod tests {
    /// RFC 6238, appendix B: the SHA-1 test vectors (8 digits, the 20-byte ASCII secret).
    #[test]
    fn codes_are_those_of_rfc_6238() {
        let totp = totp_rs::Builder::new()
            .with_secret(b"12345678901234567890".to_vec())
            .with_digits(8)
            .build()
            .expect("the RFC's parameters");
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "at {time}");
            assert_eq!(totp.check(code, time), Some(time / 30), "checks at {time}");
        }
        assert_eq!(totp.check("94287082", 59 + 60), None, "two steps late is refused");
    }
}
