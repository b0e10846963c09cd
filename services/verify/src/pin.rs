//! PIN checks, limited per letter and per client address through the database so that the
//! limit holds whichever node answers.
//!
//! An attempt is recorded before its PIN is checked and counted after (see
//! [`hybridpost_store::verify`]). Once a letter or a client has used up its failures within the
//! window, every further attempt is refused, even with the right PIN, until the oldest counted
//! failure leaves the window: a guesser learns nothing from attempts over the limit.

use axum::extract::FromRequest;
use axum::http::header;
use hybridpost_store::letters::LetterRecord;
use hybridpost_store::verify::{self, AttemptScope, PinAttempt};
use hybridpost_store::{parse_timestamp, timestamp_text};
use hybridpost_web::problem::ApiError;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::VerifyState;
use crate::client::client_hash;

/// Checks `pin` for `letter`, counting the attempt. `Ok(true)` when it matches, `Ok(false)`
/// when it does not, 429 when the letter or the client is over its limit.
pub(crate) async fn check_pin(
    state: &VerifyState,
    letter: &LetterRecord,
    seal_reference: &str,
    stored_hash: &str,
    pin: &str,
    client_address: &str,
) -> Result<bool, ApiError> {
    let config = &state.config;
    let now = state.now();
    let window = time::Duration::try_from(config.pin_window)
        .map_err(|e| ApiError::internal(format!("PIN window out of range: {e}")))?;
    let attempt = PinAttempt {
        pin_attempt_id: uuid::Uuid::now_v7().to_string(),
        letter_id: letter.letter_id.to_string(),
        client_hash: client_hash(state.keyring.secret(), client_address),
        created_at: timestamp_text(now),
    };
    let mut tx = state.store.begin().await?;
    verify::insert_pin_attempt(&mut tx, &attempt).await?;
    tx.commit().await?;

    let since = timestamp_text(now - window);
    let limits = [
        (AttemptScope::Letter(&attempt.letter_id), config.pin_failures_per_letter),
        (AttemptScope::Client(&attempt.client_hash), config.pin_failures_per_client),
    ];
    let mut retry_at: Option<time::OffsetDateTime> = None;
    {
        let mut conn = state.store.read().await?;
        for (scope, max) in limits {
            let max = i64::from(max.max(1));
            let others = verify::recent_pin_attempts(&mut conn, scope, &since, &attempt.pin_attempt_id, max).await?;
            // Over the limit: the next attempt fits once the max-th newest of the others ages out.
            if let Some(blocking) = others.get(usize::try_from(max - 1).unwrap_or(usize::MAX)) {
                let free_at = parse_timestamp(blocking)? + window;
                retry_at = Some(retry_at.map_or(free_at, |r| r.max(free_at)));
            }
        }
    }
    if let Some(free_at) = retry_at {
        let mut tx = state.store.begin().await?;
        verify::delete_pin_attempt(&mut tx, &attempt.pin_attempt_id).await?;
        tx.commit().await?;
        metrics::counter!("hybridpost_verify_pin_refused_total").increment(1);
        tracing::info!(letter.id = %letter.letter_id, "PIN attempt on letter {} refused: too many failures", letter.letter_id);
        let secs = (free_at - now).whole_seconds().max(1);
        return Err(ApiError::TooManyRequests {
            limit: hybridpost_web::RateLimit::PinAttempts,
            retry_after_secs: u64::try_from(secs).unwrap_or(1),
        });
    }

    let matched = state.keyring.pin_matches(seal_reference, pin.trim(), stored_hash);
    let mut tx = state.store.begin().await?;
    verify::finish_pin_attempt(&mut tx, &attempt.pin_attempt_id, matched).await?;
    tx.commit().await?;
    let outcome = if matched { "matched" } else { "failed" };
    metrics::counter!("hybridpost_verify_pin_attempts_total", "outcome" => outcome).increment(1);
    if !matched {
        tracing::info!(letter.id = %letter.letter_id, "wrong PIN for letter {}", letter.letter_id);
    }
    Ok(matched)
}

/// A body sent as JSON or as an HTML form (`application/x-www-form-urlencoded`), so that the
/// page's forms work with and without script.
#[derive(Debug)]
pub(crate) struct JsonOrForm<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let axum::extract::Form(value) = axum::extract::Form::<T>::from_request(req, state)
                .await
                .map_err(|e| ApiError::BadRequest(format!("the form cannot be read: {}", e.body_text())))?;
            Ok(JsonOrForm(value))
        } else {
            let body = hybridpost_web::JsonBody::<T>::from_request(req, state).await?;
            Ok(JsonOrForm(body.value))
        }
    }
}

/// The body of the copy route.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinForm {
    /// The PIN printed under the letter's seal.
    #[schema(pattern = "^[0-9]{4}[- ]?[0-9]{4}$")]
    pub pin: String,
}

// A PIN never reaches a log.
impl std::fmt::Debug for PinForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinForm").finish_non_exhaustive()
    }
}
