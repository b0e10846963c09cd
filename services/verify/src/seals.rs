//! `/v1/public/seals/…` and the trust list: what the verification page asks the server.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::LetterStatus;
use hybridpost_seal::{Reference, base32_encode};
use hybridpost_store::agencies;
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord, LetterSeal};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{Download, RequestId};
use serde::Serialize;

use crate::VerifyState;
use crate::client::ClientAddress;
use crate::pin::{JsonOrForm, PinForm, check_pin};

/// How long clients and caches may keep the trust list: a new key shows within this time.
const TRUST_LIST_MAX_AGE: &str = "public, max-age=300";

/// The agency that issued a letter.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicAgency {
    /// Its name in Thai, as printed on its letters.
    pub name: String,
    /// Its name in English, when it has one.
    pub name_en: Option<String>,
    /// The issuer code in its seals.
    pub issuer_code: String,
}

/// Where a letter is, in words for the public: coarser than the agency's statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    /// The agency sent it; it waits to be printed or sent.
    Accepted,
    /// Being printed at a post office.
    InPrint,
    /// Handed to the post.
    Posted,
    /// Delivered to the address.
    Delivered,
    /// Came back undelivered.
    Returned,
    /// Sent by e-mail notice.
    SentDigitally,
    /// Opened by the recipient online.
    ReadDigitally,
    /// Cancelled by the agency.
    Cancelled,
    /// The recipient's reply has arrived.
    ReplyReceived,
}

impl From<LetterStatus> for PublicStatus {
    fn from(status: LetterStatus) -> Self {
        match status {
            LetterStatus::Accepted | LetterStatus::QueuedForPrint => PublicStatus::Accepted,
            LetterStatus::Batched | LetterStatus::Printed => PublicStatus::InPrint,
            LetterStatus::Dispatched => PublicStatus::Posted,
            LetterStatus::Delivered => PublicStatus::Delivered,
            LetterStatus::Returned => PublicStatus::Returned,
            LetterStatus::Notified => PublicStatus::SentDigitally,
            LetterStatus::Opened => PublicStatus::ReadDigitally,
            LetterStatus::Cancelled => PublicStatus::Cancelled,
            LetterStatus::ReplyReceived => PublicStatus::ReplyReceived,
        }
    }
}

/// Why a letter no longer verifies as genuine.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Withdrawal {
    /// `cancelled`, `superseded` or `reported_lost`.
    pub reason: String,
}

/// A letter's public status: only what is printed on the letter anyway, and where it is.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SealStatus {
    /// The reference printed on the letter, in groups of four (`K7QF-M2XA-…`).
    pub reference: String,
    /// The issuing agency.
    pub agency: PublicAgency,
    /// The date printed on the letter, `YYYY-MM-DD`.
    pub issue_date: String,
    /// Where the letter is.
    pub status: PublicStatus,
    /// Set when the letter was withdrawn: its seal no longer counts as genuine.
    pub withdrawn: Option<Withdrawal>,
    /// The date by which the agency expects a reply, `YYYY-MM-DD`.
    pub reply_deadline: Option<String>,
    /// A test letter: an agency tried the system with a test key. It is sealed with a key no
    /// trust list carries, so it never verifies as genuine, and is never printed or sent.
    pub test: bool,
}

/// Reads a reference as printed (`K7QF-M2XA-…`, any case, `0`/`1`/`8` read as `O`/`I`/`B`) or
/// as carried in URLs (plain base32), and gives the stored form.
pub(crate) fn plain_reference(text: &str) -> Result<String, ApiError> {
    Reference::parse_human(text)
        .map(|r| base32_encode(r.as_bytes()))
        .ok_or_else(|| ApiError::NotFound(format!("{text:?} is not a letter reference; it looks like K7QF-M2XA-…")))
}

/// The letter and its seal for a reference in either form; 404 when there is none.
pub(crate) async fn find_letter(state: &VerifyState, text: &str) -> Result<(LetterRecord, LetterSeal), ApiError> {
    let plain = plain_reference(text)?;
    let mut conn = state.store.read().await?;
    let letter = letters::find_by_seal_reference(&mut conn, &plain).await?;
    let not_found = || ApiError::NotFound("no letter has this reference; check it against the printed letter".into());
    let letter = letter.ok_or_else(not_found)?;
    let seal = letter.seal.clone().ok_or_else(not_found)?;
    Ok((letter, seal))
}

/// 409 for a test letter: it opens no copy and registers no channel (test keys make such
/// letters, and their PINs are no proof of holding a citizen's mail).
pub(crate) fn refuse_test(letter: &LetterRecord) -> Result<(), ApiError> {
    if letter.test {
        return Err(ApiError::Conflict {
            kind: "test-letter",
            detail: "this is a test letter an agency made to try the system; it is not a real letter".into(),
        });
    }
    Ok(())
}

/// 409 for a classified letter (ลับ, ลับมาก): its content is never given out on the public
/// page, PIN or not; the paper letter is the only copy a citizen gets.
pub(crate) fn refuse_classified(letter: &LetterRecord) -> Result<(), ApiError> {
    if letter.content.get("secrecy").is_some_and(|s| !s.is_null()) {
        return Err(ApiError::Conflict {
            kind: "classified-letter",
            detail: "this letter is classified: its content is not shown on the web; the printed letter is the copy"
                .into(),
        });
    }
    Ok(())
}

/// 409 for a withdrawn letter: its copy and opt-in are closed (a letter reported lost must not
/// open for whoever holds it).
pub(crate) fn refuse_withdrawn(letter: &LetterRecord) -> Result<(), ApiError> {
    match &letter.withdrawn {
        Some((reason, _)) => Err(ApiError::Conflict {
            kind: "letter-withdrawn",
            detail: format!("this letter was withdrawn ({reason}); ask the agency that sent it"),
        }),
        None => Ok(()),
    }
}

/// The signed trust list.
///
/// A JWS (RFC 7515, flattened JSON, ES256) over the list of keys allowed to seal letters; check
/// it with the root public keys.
#[utoipa::path(
    get, path = "/.well-known/hybridpost/trust-list.json", tag = "verification",
    responses(
        (status = 200, description = "The newest trust list", content_type = "application/json", body = serde_json::Value),
        (status = 404, description = "No trust list published yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_trust_list(State(state): State<VerifyState>) -> Result<Response, ApiError> {
    let record = state.keyring.trust_list().await.map_err(ApiError::internal)?;
    let record = record.ok_or_else(|| ApiError::NotFound("no trust list has been published yet".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static(TRUST_LIST_MAX_AGE)),
        ],
        record.body,
    )
        .into_response())
}

/// A letter's public status.
///
/// Found by the reference printed on the letter, in either form. Shows the issuing agency,
/// issue date, where the letter is, any withdrawal and reply deadline: nothing about the
/// recipient.
#[utoipa::path(
    get, path = "/v1/public/seals/{reference}", tag = "verification",
    params(("reference" = String, Path, description = "The letter reference: `K7QF-M2XA-…` or plain base32")),
    responses(
        (status = 200, description = "The letter's status", body = SealStatus),
        (status = 404, description = "No letter has this reference", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_seal_status(
    State(state): State<VerifyState>,
    Path(reference): Path<String>,
) -> Result<Json<SealStatus>, ApiError> {
    let (letter, seal) = find_letter(&state, &reference).await?;
    let agency = {
        let mut conn = state.store.read().await?;
        agencies::get_agency(&mut conn, letter.agency_id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("letter {} has no agency", letter.letter_id)))?
    };
    let human = Reference::parse_human(&seal.reference).map_or_else(|| seal.reference.clone(), |r| r.to_human());
    Ok(Json(SealStatus {
        reference: human,
        agency: PublicAgency { name: agency.name, name_en: agency.name_en, issuer_code: agency.issuer_code },
        issue_date: seal.issue_date,
        status: letter.status.into(),
        withdrawn: letter.withdrawn.map(|(reason, _)| Withdrawal { reason }),
        reply_deadline: letter.reply_deadline,
        test: letter.test,
    }))
}

/// The letter's digital copy, for the PIN printed on it.
///
/// Send the PIN as JSON `{"pin": "…"}` or as a form field. Failed PINs are limited per letter
/// and per client; over the limit every attempt is refused with 429 and `Retry-After`, even
/// with the right PIN.
#[utoipa::path(
    post, path = "/v1/public/seals/{reference}/copy", tag = "verification",
    params(("reference" = String, Path, description = "The letter reference: `K7QF-M2XA-…` or plain base32")),
    request_body(content = PinForm, content_type = "application/json"),
    responses(
        (status = 200, description = "The letter as PDF", content_type = "application/pdf", body = hybridpost_web::openapi::PdfFile),
        (status = 403, description = "The PIN does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No letter has this reference", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The letter was withdrawn, is a test letter, or is classified", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed PINs for this letter or from this client", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Digital copies cannot be made now", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn open_copy(
    State(state): State<VerifyState>,
    Path(reference): Path<String>,
    ClientAddress(client): ClientAddress,
    RequestId(request_id): RequestId,
    JsonOrForm(form): JsonOrForm<PinForm>,
) -> Result<Response, ApiError> {
    let (letter, seal) = find_letter(&state, &reference).await?;
    refuse_test(&letter)?;
    refuse_withdrawn(&letter)?;
    refuse_classified(&letter)?;
    if !check_pin(&state, &letter, &seal.reference, &seal.pin_hash, &form.pin, &client).await? {
        return Err(ApiError::Forbidden("the PIN does not match this letter; check the 8 digits under its seal"));
    }
    let letter_id = letter.letter_id;
    let pdf = (state.renderer)(letter.clone()).await.map_err(|reason| {
        tracing::warn!(letter.id = %letter_id, "no digital copy of letter {letter_id}: {reason}");
        ApiError::Unavailable(format!("the digital copy cannot be made now: {reason}"))
    })?;
    let mut tx = state.store.begin().await?;
    let event = events::append_event(
        &mut tx,
        NewEvent {
            agency_id: letter.agency_id,
            letter_id,
            kind: hybridpost_core::EventKind::OpenedWithPin,
            status: letter.status,
            detail: None,
            request_id,
        },
    )
    .await?;
    hybridpost_notify::outbox::queue_event_webhooks(&mut tx, &[event]).await?;
    tx.commit().await?;
    tracing::info!(letter.id = %letter_id, size_bytes = pdf.len(), "digital copy of letter {letter_id} opened with its PIN");
    // The copy carries personal data: no cache keeps it.
    Download::pdf().inline(&format!("letter-{}.pdf", seal.reference)).cache_control("no-store").body(pdf)
}
