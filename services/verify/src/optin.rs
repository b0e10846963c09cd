//! E-mail opt-in from the verification page: with the letter's PIN, a citizen leaves an e-mail
//! address; a single-use link mailed there confirms it (see [`crate::channel`] for what
//! happens then: a paper confirmation letter and a cooling-off period before any letter goes
//! digital).
//!
//! The link carries a 256-bit random token; only its keyed hash is stored, with an expiry.
//! Each request sends an e-mail to an address nobody has verified yet, so requests are capped
//! per letter, and the e-mail carries no personal data of the recipient.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hybridpost_core::ValidationErrors;
use hybridpost_notify::{OutgoingEmail, render};
use hybridpost_store::timestamp_text;
use hybridpost_store::verify::{self, OptinToken};
use hybridpost_web::problem::{ApiError, Problem};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::VerifyState;
use crate::channel::token_hash;
use crate::client::ClientAddress;
use crate::pin::{JsonOrForm, check_pin};
use crate::seals::{find_letter, refuse_test, refuse_withdrawn};

/// The body of the opt-in route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptinForm {
    /// The PIN printed under the letter's seal.
    #[schema(pattern = "^[0-9]{4}[- ]?[0-9]{4}$")]
    pub pin: String,
    /// The address to receive letters at.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

// Neither the PIN nor the address reaches a log.
impl std::fmt::Debug for OptinForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptinForm").finish_non_exhaustive()
    }
}

/// The answer to an opt-in request.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OptinSent {
    /// Always `confirmation_sent`: open the link in the e-mail to finish.
    pub status: &'static str,
    /// When the link stops working (UTC).
    pub expires_at: String,
}

/// Checks an e-mail address in the plain form people type (`name@example.co.th`): one `@`,
/// a dotted domain, no spaces or characters that would need quoting (RFC 5321 §4.5.3.1 lengths).
fn checked_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim();
    let fail = |message: &str| {
        let mut errors = ValidationErrors::default();
        errors.add("email", message);
        ApiError::Validation(errors)
    };
    let Some((local, domain)) = email.split_once('@') else {
        return Err(fail("an e-mail address looks like name@example.co.th"));
    };
    let allowed_local = |c: char| c.is_ascii_alphanumeric() || "._+-'!#$%&*=?^`{|}~/".contains(c);
    let allowed_domain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if email.len() > 254 || local.is_empty() || local.len() > 64 || !local.chars().all(allowed_local) {
        return Err(fail("the part before @ may use letters, digits and . _ + - only"));
    }
    if !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain.chars().all(allowed_domain)
    {
        return Err(fail("the part after @ must be a domain such as example.co.th"));
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// The domain of the sender address, for Message-IDs.
fn mail_domain(from: &str) -> &str {
    from.rsplit_once('@').map_or("hybridpost.invalid", |(_, d)| d.trim_end_matches('>').trim())
}

/// Ask for letters by e-mail.
///
/// With the letter's PIN, sends a confirmation link to `email`. Confirming it posts a letter
/// about the change to the recipient's postal address, and the address becomes their e-channel
/// only after a cooling-off period, unless the code on that letter stops it. A letter sent
/// without the recipient's citizen id cannot be linked to an address (409 `no-citizen-id`), a
/// test letter never (409 `test-letter`); a letter gives a few requests a day (409
/// `optin-limit`). PIN attempts count against the same limits as the copy route.
#[utoipa::path(
    post, path = "/v1/public/seals/{reference}/opt-in", tag = "verification",
    params(("reference" = String, Path, description = "The letter reference: `K7QF-M2XA-…` or plain base32")),
    request_body(content = OptinForm, content_type = "application/json"),
    responses(
        (status = 202, description = "A confirmation link was sent", body = OptinSent),
        (status = 403, description = "The PIN does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No letter has this reference", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Withdrawn, a test letter, sent without a citizen id, or the day's requests of this letter used up", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an e-mail address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed PINs for this letter or from this client", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The e-mail could not be sent now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn request_optin(
    State(state): State<VerifyState>,
    Path(reference): Path<String>,
    ClientAddress(client): ClientAddress,
    JsonOrForm(form): JsonOrForm<OptinForm>,
) -> Result<(StatusCode, Json<OptinSent>), ApiError> {
    let email = checked_email(&form.email)?;
    let (letter, seal) = find_letter(&state, &reference).await?;
    refuse_test(&letter)?;
    refuse_withdrawn(&letter)?;
    if !check_pin(&state, &letter, &seal.reference, &seal.pin_hash, &form.pin, &client).await? {
        return Err(ApiError::Forbidden("the PIN does not match this letter; check the 8 digits under its seal"));
    }
    let Some(citizen_id_hash) = letter.citizen_id_hash.clone() else {
        return Err(ApiError::Conflict {
            kind: "no-citizen-id",
            detail: "this letter was sent without the recipient's citizen id, so it cannot be linked to an e-mail \
                     address; ask the agency that sent it"
                .into(),
        });
    };

    let now = state.now();
    let day_ago = timestamp_text(now - time::Duration::DAY);
    let limit = state.config.optin_requests_per_letter;
    {
        let mut conn = state.store.read().await?;
        let sent = verify::count_optin_tokens(&mut conn, &letter.letter_id.to_string(), &day_ago).await?;
        if sent >= i64::from(limit) {
            return Err(ApiError::Conflict {
                kind: "optin-limit",
                detail: format!(
                    "this letter has already been used to ask for e-mail delivery {limit} times in 24 hours; open \
                     the link you were sent, or try again tomorrow"
                ),
            });
        }
    }

    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let lifetime = time::Duration::try_from(state.config.optin_link_lifetime)
        .map_err(|e| ApiError::internal(format!("opt-in link lifetime out of range: {e}")))?;
    let expires_at = timestamp_text(now + lifetime);
    let record = OptinToken {
        token_hash: token_hash(&state, &token),
        letter_id: letter.letter_id.to_string(),
        citizen_id_hash,
        email: email.clone(),
        expires_at: expires_at.clone(),
        used_at: None,
        created_at: timestamp_text(now),
    };
    let mut tx = state.store.begin().await?;
    verify::insert_optin_token(&mut tx, &record).await?;
    tx.commit().await?;

    let link = format!("{}/v/confirm?token={token}", state.config.public_url);
    // Nothing of the recipient: the address is not verified yet.
    let rendered = render(
        "optin_confirm",
        serde_json::json!({
            "email": email,
            "link": link,
            "expires_in_hours": lifetime.whole_hours(),
            "cooling_off_days": state.config.channel_change_cooling_off.as_secs().div_ceil(86_400),
        }),
    )
    .map_err(|e| ApiError::internal(format!("optin_confirm template: {e}")))?;
    let message_id = format!("optin-{}@{}", uuid::Uuid::now_v7().simple(), mail_domain(&state.config.mail_from));
    let outgoing = OutgoingEmail::from_rendered(message_id, state.config.mail_from.clone(), email, rendered);
    let letter_id = letter.letter_id;
    state.mailer.send(&outgoing).await.map_err(|e| {
        tracing::warn!(letter.id = %letter_id, "confirmation e-mail for letter {letter_id} not sent: {e}");
        ApiError::Unavailable("the confirmation e-mail could not be sent now; try again later".into())
    })?;
    metrics::counter!("hybridpost_verify_optin_requested_total").increment(1);
    tracing::info!(letter.id = %letter_id, "e-mail opt-in requested from letter {letter_id}; confirmation sent");
    Ok((StatusCode::ACCEPTED, Json(OptinSent { status: "confirmation_sent", expires_at })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_pass_and_odd_ones_are_refused() {
        assert_eq!(checked_email(" Malee.S@Example.CO.TH ").ok().as_deref(), Some("Malee.S@example.co.th"));
        for bad in [
            "",
            "malee",
            "malee@",
            "@example.com",
            "malee@localhost",
            "a b@example.com",
            "m@ex..com",
            "m@example.com\r\nBcc: x@y.z",
            "<m@example.com>",
            "m@exa_mple.com",
        ] {
            assert!(checked_email(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_message_id_domain_comes_from_the_sender() {
        assert_eq!(mail_domain("ไปรษณีย์ไฮบริด <noreply@post.example.go.th>"), "post.example.go.th");
        assert_eq!(mail_domain("noreply@example.org"), "example.org");
        assert_eq!(mail_domain("nobody"), "hybridpost.invalid");
    }
}
