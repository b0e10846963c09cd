//! A person's own page: who they are signed in as, and their authenticator app (the one-time
//! code asked at sign-in) — set up, confirmed with a first code, or turned off with a current
//! one.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hybridpost_store::now_text;
use hybridpost_store::people::{self, TotpSecret};
use serde::Deserialize;

use crate::batches::when;
use crate::pages::{self, Lang};
use crate::second_step::{self, WRONG_CODE};
use crate::signin::{Attempt, Refusal, THROTTLED};
use crate::{ConsoleState, SignedIn, me_context, see_other};

/// The person's authenticator as stored, if any.
async fn stored(state: &ConsoleState, me: &SignedIn) -> hybridpost_store::Result<Option<TotpSecret>> {
    let mut conn = state.store.read().await?;
    people::totp_secret(&mut conn, me.person.person_id).await
}

async fn render(state: &ConsoleState, me: &SignedIn, status: StatusCode, error: Option<Refusal>) -> Response {
    let secret = match stored(state, me).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot read an authenticator: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let (authenticator, key) = match &secret {
        None => ("off", None),
        Some(s) if s.enabled => ("on", None),
        Some(s) => match second_step::authenticator(state, &me.person, &s.secret) {
            // The key in groups of four, as the apps' "enter a key" screens show it.
            Ok(totp) => {
                let base32 = totp.secret().to_base32();
                let groups: Vec<String> =
                    base32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                ("pending", Some(groups.join(" ")))
            }
            Err(e) => {
                tracing::error!("{e:#}");
                return pages::unavailable(me.lang);
            }
        },
    };
    let role = if me.lang == Lang::Thai { me.person.role.thai() } else { me.person.role.as_str() };
    pages::render(
        status,
        "account.html",
        me.lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/account",
            "person": {"name": me.person.name, "email": me.person.email, "role": role,
                       "since": me.person.totp_enabled_at.as_deref().map(|at| when(at, me.lang)),
                       "linked": me.person.oidc_subject.is_some()},
            "authenticator": authenticator, "key": key,
            "error": error.map(|e| me.lang.pick(e.0, e.1)),
        }),
    )
}

pub(crate) async fn account_page(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    render(&state, &me, StatusCode::OK, None).await
}

/// The authenticator being set up, as a QR code the app scans (an `otpauth://` URL).
pub(crate) async fn authenticator_qr(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    let secret = match stored(&state, &me).await {
        Ok(Some(s)) if !s.enabled => s,
        Ok(_) => return pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read an authenticator: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let svg = second_step::authenticator(&state, &me.person, &secret.secret).and_then(|totp| {
        let url = totp.to_url().map_err(|e| anyhow::anyhow!("an otpauth URL: {e}"))?;
        let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| anyhow::anyhow!("a QR code: {e}"))?;
        Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build())
    });
    match svg {
        Ok(svg) => ([(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"))], svg).into_response(),
        Err(e) => {
            tracing::error!("{e:#}");
            pages::unavailable(me.lang)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `begin` (a new secret to set up), `confirm` (the first code from the app turns it on) or
/// `off` (a current code turns it off; setting up is cancelled without one).
pub(crate) async fn authenticator(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(step): Path<String>,
    Form(form): Form<CodeForm>,
) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let done = match step.as_str() {
        "begin" => begin(&state, &me).await,
        "confirm" => confirm(&state, &me, &form.code).await,
        "off" => off(&state, &me, &form.code).await,
        _ => return pages::not_found(),
    };
    match done {
        Ok(None) => see_other("/console/account"),
        Ok(Some(refusal)) => {
            let status =
                if refusal == THROTTLED { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNPROCESSABLE_ENTITY };
            render(&state, &me, status, Some(refusal)).await
        }
        Err(e) => {
            tracing::error!(person.id = %me.person.person_id, "cannot change an authenticator: {e:#}");
            pages::unavailable(me.lang)
        }
    }
}

async fn begin(state: &ConsoleState, me: &SignedIn) -> anyhow::Result<Option<Refusal>> {
    let wrapped = second_step::new_secret(state, me.person.person_id);
    let mut tx = state.store.begin().await?;
    // Refused while one is on: it must be turned off, with a code, first.
    people::begin_totp(&mut tx, me.person.person_id, &wrapped, &now_text()).await?;
    tx.commit().await?;
    Ok(None)
}

/// A wrong code here counts against the account as a failed sign-in does: a stolen session
/// cannot guess its way to turning the code off.
async fn guarded(state: &ConsoleState, me: &SignedIn) -> anyhow::Result<Result<Attempt, Refusal>> {
    let attempt = Attempt::new(state, &me.client, &me.person.email);
    if attempt.throttled(state).await? {
        attempt.refuse(state, Some(&me.person), "authenticator.throttled", false).await?;
        return Ok(Err(THROTTLED));
    }
    Ok(Ok(attempt))
}

async fn confirm(state: &ConsoleState, me: &SignedIn, code: &str) -> anyhow::Result<Option<Refusal>> {
    let attempt = match guarded(state, me).await? {
        Ok(a) => a,
        Err(refusal) => return Ok(Some(refusal)),
    };
    let Some(secret) = stored(state, me).await?.filter(|s| !s.enabled) else { return Ok(None) };
    let totp = second_step::authenticator(state, &me.person, &secret.secret)?;
    let Some(step) = second_step::check(&totp, code) else {
        attempt.refuse(state, Some(&me.person), "authenticator.code_failed", true).await?;
        return Ok(Some(WRONG_CODE));
    };
    let mut tx = state.store.begin().await?;
    if people::enable_totp(&mut tx, me.person.person_id, step, &now_text()).await? {
        people::append_audit(&mut tx, &me.audit("authenticator.on", None), &now_text()).await?;
    }
    tx.commit().await?;
    Ok(None)
}

async fn off(state: &ConsoleState, me: &SignedIn, code: &str) -> anyhow::Result<Option<Refusal>> {
    let Some(secret) = stored(state, me).await? else { return Ok(None) };
    if secret.enabled {
        let attempt = match guarded(state, me).await? {
            Ok(a) => a,
            Err(refusal) => return Ok(Some(refusal)),
        };
        if code.len() > 20 || !second_step::code_holds(state, &me.person, code).await? {
            attempt.refuse(state, Some(&me.person), "authenticator.code_failed", true).await?;
            return Ok(Some(WRONG_CODE));
        }
    }
    let mut tx = state.store.begin().await?;
    people::disable_totp(&mut tx, me.person.person_id, &now_text()).await?;
    if secret.enabled {
        people::append_audit(&mut tx, &me.audit("authenticator.off", None), &now_text()).await?;
    }
    tx.commit().await?;
    Ok(None)
}
