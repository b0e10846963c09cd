//! The session cookie and the signed-in person: a random token in a cookie, its SHA-256 in the
//! database, idle and absolute expiry checked on every request.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hybridpost_store::people::{self, Person, Session};
use hybridpost_store::timestamp_text;
use hybridpost_web::client::client_address;

use crate::ConsoleState;
use crate::pages::{self, Lang};

/// The session cookie's name: with the `__Host-` prefix over https, so that it is bound to
/// this host and path `/` and cannot be set by a sibling domain.
pub(crate) fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-hp_session" } else { "hp_session" }
}

/// The `Set-Cookie` value that carries `token` (or, with `None`, removes the cookie).
pub(crate) fn session_cookie(secure: bool, token: Option<&str>) -> String {
    let name = cookie_name(secure);
    let flags = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!("{name}={t}; Path=/; HttpOnly; SameSite=Strict{flags}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{flags}"),
    }
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A signed-in person, with their session, as an extractor: a page without a live session
/// sends the browser to the sign-in page.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// Who.
    pub person: Person,
    /// Their session.
    pub session: Session,
    /// The language they read the console in.
    pub lang: Lang,
    /// Where the request came from.
    pub client: String,
}

impl SignedIn {
    /// Whether a form's token is the session's (CSRF): a form from another page, or from an
    /// earlier session, is refused with [`SignedIn::refuse_form`].
    pub(crate) fn form_token_matches(&self, token: &str) -> bool {
        let matches = subtle_eq::constant_time_eq(token.as_bytes(), self.session.csrf_token.as_bytes());
        if !matches {
            tracing::warn!(person.id = %self.person.person_id, "console form refused: wrong form token");
        }
        matches
    }

    /// An audit-log line for `action` done by this person (its target is set by the step).
    pub(crate) fn audit(&self, action: &str, detail: Option<serde_json::Value>) -> hybridpost_store::people::NewAudit {
        hybridpost_store::people::NewAudit {
            person_id: Some(self.person.person_id),
            workplace: Some(self.person.workplace),
            action: action.to_owned(),
            target: None,
            detail,
            client: Some(self.client.clone()),
            request_id: None,
        }
    }

    /// The answer to a form whose token did not match.
    pub(crate) fn refuse_form(&self) -> Response {
        pages::refused(axum::http::StatusCode::FORBIDDEN, self.lang)
    }
}

pub(crate) mod subtle_eq {
    /// Equality that takes as long for every pair of the same length.
    pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The person's session is over (or never was): back to the sign-in page.
pub(crate) struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        crate::see_other("/console/sign-in")
    }
}

impl FromRequestParts<ConsoleState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        let lang = pages::lang_of(parts);
        let Some(token) = cookie(parts, cookie_name(state.config.secure())) else {
            return Err(SignInFirst.into_response());
        };
        let hash = crate::password::token_hash(token);
        let now = time::OffsetDateTime::now_utc();
        let now_text = timestamp_text(now);
        let idle_since = timestamp_text(now - state.config.idle_timeout);
        let found = async {
            let mut conn = state.store.read().await?;
            people::live_session(&mut conn, &hash, &now_text, &idle_since).await
        }
        .await
        .map_err(|e| {
            tracing::error!("cannot read a console session: {e}");
            pages::unavailable(lang)
        })?;
        let Some((session, person)) = found else {
            return Err(SignInFirst.into_response());
        };
        // A write a minute at most per session, so reading pages does not write on every click.
        let touch_after = timestamp_text(now - std::time::Duration::from_secs(60));
        if session.last_seen_at < touch_after {
            let touched = async {
                let mut tx = state.store.begin().await?;
                people::touch_session(&mut tx, &hash, &now_text).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = touched {
                tracing::warn!("cannot record a console session's use: {e}");
            }
        }
        let client = client_address(&parts.extensions, &parts.headers, state.config.client_ip_header.as_ref());
        Ok(SignedIn { person, session, lang, client })
    }
}
