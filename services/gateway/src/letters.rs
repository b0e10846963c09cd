//! `/v1/letters`: submit, read, list and cancel letters.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hybridpost_compose::LetterPdfError;
use hybridpost_core::FieldWarning;
use hybridpost_core::letter::CheckedLetter;
use hybridpost_core::{AgencyScope, Channel, ChannelReason, CitizenId, LetterId, LetterStatus, NewLetter};
use hybridpost_keyring::{SealRequest, to_seal_date};
use hybridpost_seal::{ContentDigest, DocumentType};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord, LetterSeal};
use hybridpost_store::{channels, idempotency, now_text};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, Download, IdPath, JsonBody, Page, RequestId, paging};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::events::Event;
use crate::steps::{self, StepRefused};
use crate::writer::{PreparedLetter, Written};

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A letter's state, as returned on creation and in lists.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LetterSummary {
    /// The letter's id.
    pub letter_id: LetterId,
    /// The agency's reference.
    pub reference: String,
    /// Where the letter is in its life.
    pub status: LetterStatus,
    /// How it is delivered.
    pub channel: Channel,
    /// Why that channel was chosen.
    pub channel_reason: ChannelReason,
    /// Sent with a test key: rendered, never printed or sent.
    pub test: bool,
    /// The random reference printed on the letter and carried in its verification seal
    /// (groups of four base32 characters); replies and verification find the letter by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal_reference: Option<String>,
    /// Why the letter's seal no longer verifies as genuine (`cancelled`, `superseded`,
    /// `reported_lost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Reply deadline, if a reply is expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_deadline: Option<String>,
    /// Its urgency (ชั้นความเร็ว), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<hybridpost_core::Urgency>,
    /// Its secrecy (ชั้นความลับ), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrecy: Option<hybridpost_core::Secrecy>,
    /// When it was accepted (UTC).
    pub created_at: String,
    /// When it last changed (UTC).
    pub updated_at: String,
    /// What was accepted but is worth a look, by field (on the answer to `POST /v1/letters`
    /// only): a postcode known to serve the district but not the subdistrict, a place written
    /// under its former name or district, a subdistrict since split. Names are in Thai script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldWarning>,
}

/// A letter with its content and timeline.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LetterDetail {
    /// Its state.
    #[serde(flatten)]
    pub summary: LetterSummary,
    /// The letter as submitted (address in official spelling).
    pub letter: NewLetter,
    /// Every event, oldest first.
    pub timeline: Vec<Event>,
}

/// A page of letters, newest first.
pub type LetterList = Page<LetterSummary>;

/// Query of `GET /v1/letters`: the common `cursor` and `limit`, and a filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LetterQuery {
    /// Only letters with this status.
    status: Option<LetterStatus>,
    /// `next_cursor` from the previous page; from the start when not given.
    #[param(format = Uuid)]
    cursor: Option<String>,
    /// Letters per page, 1 to 500 (100 when not given).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

impl From<&LetterRecord> for LetterSummary {
    fn from(l: &LetterRecord) -> Self {
        LetterSummary {
            letter_id: l.letter_id,
            reference: l.reference.clone(),
            status: l.status,
            channel: l.channel,
            channel_reason: l.channel_reason,
            test: l.test,
            seal_reference: l.seal.as_ref().map(|s| human_reference(&s.reference)),
            withdrawn: l.withdrawn.as_ref().map(|w| w.0.clone()),
            reply_deadline: l.reply_deadline.clone(),
            urgency: l.content.get("urgency").and_then(|u| serde_json::from_value(u.clone()).ok()),
            secrecy: l.content.get("secrecy").and_then(|u| serde_json::from_value(u.clone()).ok()),
            created_at: l.created_at.clone(),
            updated_at: l.updated_at.clone(),
            warnings: Vec::new(),
        }
    }
}

/// Why an agency withdraws a letter that is already out.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    /// A newer letter replaces it.
    Superseded,
    /// It was reported lost or stolen.
    ReportedLost,
}

/// Body of `POST /v1/letters/{id}/withdraw`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// `superseded` or `reported_lost` (a letter that is not out yet is cancelled instead).
    pub reason: WithdrawReason,
}

/// The printed form of a stored (plain base32) seal reference.
fn human_reference(plain: &str) -> String {
    hybridpost_seal::base32_decode(plain)
        .ok()
        .and_then(|b| hybridpost_seal::Reference::from_bytes(&b))
        .map_or_else(|| plain.to_owned(), |r| r.to_human())
}

/// Submit a letter.
///
/// The recipient gets it digitally when their citizen id has a verified e-channel, on paper
/// otherwise; the answer says which and why. Send an `Idempotency-Key` to retry safely: a
/// repeat returns the first answer, and the same key with a different body is refused.
#[utoipa::path(
    post, path = "/v1/letters", tag = "letters",
    request_body = NewLetter,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]*[!-~])?$", description = "Makes retries safe: 1 to 255 printable ASCII characters, unique per request")),
    responses(
        (status = 201, description = "Accepted; `warnings` lists what was accepted but is worth a look", body = LetterSummary),
        (status = 202, description = "Held until its send_after, as a batch of one: follow or cancel it at Location", body = crate::bulk::LetterBatch),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn create_letter(
    State(state): State<AppState>,
    caller: AgencyCaller,
    headers: HeaderMap,
    RequestId(request_id): RequestId,
    body: JsonBody<NewLetter>,
) -> Result<Response, ApiError> {
    // (key, hash of the body) when the client sent an Idempotency-Key.
    let idempotency = match idempotency_key(&headers)? {
        Some(key) => Some((key, canonical_hash(&body.raw)?)),
        None => None,
    };
    if let Some((key, request_hash)) = &idempotency {
        let mut conn = state.store.read().await?;
        if let Some(stored) = idempotency::get(&mut conn, caller.scope(), key).await? {
            return replay(stored, request_hash);
        }
    }

    let today = bangkok_today();
    // A letter held until later is checked now and stored as a batch of one, sent at its time.
    if let Some(at) = body.value.send_after_time().filter(|at| *at > time::OffsetDateTime::now_utc()) {
        let checked = check_letter(&body.value, today)?;
        check_permitted(&state, caller.scope(), &body.value).await?;
        return crate::bulk::hold_letter(&state, caller.scope(), body.value.clone(), at, checked.warnings).await;
    }
    let Accepted { record, events, digital_notice, warnings } =
        accept_letter(&state, caller.scope(), &body.value, today, request_id).await?;
    let summary = LetterSummary { warnings, ..LetterSummary::from(&record) };
    let response_body = serde_json::to_string(&summary).map_err(ApiError::internal)?;
    let idempotency_record = idempotency.as_ref().map(|(key, request_hash)| {
        let stored = idempotency::IdempotencyRecord {
            request_hash: request_hash.clone(),
            status_code: StatusCode::CREATED.as_u16(),
            response_body: response_body.clone(),
        };
        (key.clone(), stored)
    });
    let (letter_id, channel) = (record.letter_id, record.channel);
    let prepared = PreparedLetter { record, events, idempotency: idempotency_record, digital_notice, row: None };
    match state.writer.write(prepared).await? {
        Written::Stored | Written::RowSentBefore => {}
        Written::IdempotencyKeyTaken => {
            // The same key was used by a request stored while this one ran: this letter was
            // not stored; answer as the first one did.
            let (key, request_hash) = idempotency.as_ref().expect("only letters with a key can find it taken");
            let mut conn = state.store.read().await?;
            let stored = idempotency::get(&mut conn, caller.scope(), key)
                .await?
                .ok_or_else(|| ApiError::internal("idempotency record vanished"))?;
            return replay(stored, request_hash);
        }
    }

    metrics::counter!("hybridpost_letters_accepted_total", "channel" => channel.as_str()).increment(1);
    tracing::info!(
        letter.id = %letter_id,
        letter.channel = channel.as_str(),
        letter.test = caller.test,
        "letter {letter_id} accepted for {} delivery",
        channel.as_str()
    );
    let location = format!("/v1/letters/{letter_id}");
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, HeaderValue::from_str(&location).map_err(ApiError::internal)?),
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
        ],
        response_body,
    )
        .into_response())
}

/// Today in Bangkok: the issue date of letters accepted now.
pub(crate) fn bangkok_today() -> time::Date {
    time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date()
}

/// A submitted letter checked, routed and sealed. Nothing is stored yet.
pub(crate) struct Accepted {
    /// The letter's record.
    pub record: LetterRecord,
    /// Its first events.
    pub events: Vec<NewEvent>,
    /// For a live digital letter, the verified address its notice goes to (queued with the
    /// letter; test letters send nothing).
    pub digital_notice: Option<String>,
    /// What the check accepted but the sender should look at.
    pub warnings: Vec<FieldWarning>,
}

/// Checks, routes and seals a submitted letter; see [`Accepted`].
pub(crate) async fn accept_letter(
    state: &AppState,
    scope: AgencyScope,
    submitted: &NewLetter,
    today: time::Date,
    request_id: Option<String>,
) -> Result<Accepted, ApiError> {
    let CheckedLetter { letter, citizen_id, reply_deadline, warnings, .. } = check_letter(submitted, today)?;
    check_permitted(state, scope, &letter).await?;
    let route = route_letter(state, citizen_id.as_ref()).await?;
    let (content, seal) = seal_letter(state, scope, &letter, today, reply_deadline).await?;
    let now = now_text();
    let record = LetterRecord {
        letter_id: LetterId::new(),
        agency_id: scope.agency_id,
        reference: letter.reference.clone(),
        status: if route.channel == Channel::Print { LetterStatus::QueuedForPrint } else { LetterStatus::Accepted },
        channel: route.channel,
        channel_reason: route.reason,
        test: scope.test,
        postcode: letter.recipient.address.postcode.clone(),
        citizen_id_hash: route.citizen_id_hash,
        reply_deadline: reply_deadline.map(|d| d.to_string()),
        content,
        created_at: now.clone(),
        updated_at: now,
        seal: Some(seal),
        withdrawn: None,
    };
    let events = accepted_events(&record, request_id);
    let digital_notice = route.verified_email.filter(|_| record.channel == Channel::Digital && !scope.test);
    Ok(Accepted { record, events, digital_notice, warnings })
}

/// Every problem of a submitted letter at once: its fields, and a character the fonts cannot
/// draw (which would otherwise fail at print time, after the letter was accepted).
pub(crate) fn check_letter(letter: &NewLetter, today: time::Date) -> Result<CheckedLetter, ApiError> {
    let checked = letter.check(today);
    let mut errors = checked.as_ref().err().cloned().unwrap_or_default();
    hybridpost_compose::check_glyphs(letter, &mut errors);
    hybridpost_compose::check_content(letter, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    checked.map_err(ApiError::Validation)
}

/// What depends on the agency: a classified letter (ลับ, ลับมาก) is taken only from an agency
/// allowed to send them.
pub(crate) async fn check_permitted(state: &AppState, scope: AgencyScope, letter: &NewLetter) -> Result<(), ApiError> {
    let Some(secrecy) = letter.secrecy else { return Ok(()) };
    let mut conn = state.store.read().await?;
    if hybridpost_store::agencies::allows_classified(&mut conn, scope.agency_id).await? {
        return Ok(());
    }
    let mut errors = hybridpost_core::ValidationErrors::default();
    errors.add(
        "secrecy",
        format!(
            "this agency is not allowed to send classified letters ({}); the service operator allows it with \
             `hybridpost admin allow-classified`",
            secrecy.thai()
        ),
    );
    Err(ApiError::Validation(errors))
}

/// How a letter goes: digitally when its recipient's citizen id has a verified e-channel.
struct Route {
    channel: Channel,
    reason: ChannelReason,
    citizen_id_hash: Option<String>,
    verified_email: Option<String>,
}

async fn route_letter(state: &AppState, citizen_id: Option<&CitizenId>) -> Result<Route, ApiError> {
    let citizen_id_hash = citizen_id.map(|id| id.keyed_hash(&state.config.citizen_id_key));
    let verified_email = match &citizen_id_hash {
        Some(hash) => {
            let mut conn = state.store.read().await?;
            channels::find_verified_email(&mut conn, hash).await?
        }
        None => None,
    };
    let (channel, reason) = Channel::choose(citizen_id, verified_email.is_some());
    Ok(Route { channel, reason, citizen_id_hash, verified_email })
}

/// The letter as stored (JSON) and its seal, which covers a digest of that JSON and, for a
/// letter that is the agency's PDF, of the PDF.
async fn seal_letter(
    state: &AppState,
    scope: AgencyScope,
    letter: &NewLetter,
    today: time::Date,
    reply_deadline: Option<time::Date>,
) -> Result<(serde_json::Value, LetterSeal), ApiError> {
    let content = serde_json::to_value(letter).map_err(ApiError::internal)?;
    let mut canonical = serde_json::to_vec(&content).map_err(ApiError::internal)?;
    // The agency's PDFs: its own letter, its enclosures' and the form returned as the reply,
    // each of this agency.
    let named = letter
        .document_id
        .iter()
        .map(|id| ("document_id".to_owned(), id.as_str()))
        .chain(letter.enclosures.iter().enumerate().filter_map(|(i, e)| match e {
            hybridpost_core::Enclosure::Document(d) => {
                d.document_id.as_deref().map(|id| (format!("enclosures[{i}].document_id"), id))
            }
            hybridpost_core::Enclosure::Text(_) => None,
        }))
        .chain(letter.reply_form_id().map(|id| ("reply.form_document_id".to_owned(), id)));
    let mut errors = hybridpost_core::ValidationErrors::default();
    for (field, id) in named {
        // `check` accepted it as an id.
        let Ok(document_id) = id.parse() else {
            errors.add(field, "is not a document id from POST /v1/documents");
            continue;
        };
        let mut conn = state.store.read().await?;
        match hybridpost_store::documents::get_document(&mut conn, scope, document_id).await? {
            Some(document) => canonical.extend_from_slice(document.sha256.as_bytes()),
            None => errors.add(field, format!("no document {id} of this agency; upload it with POST /v1/documents")),
        }
    }
    if errors.is_empty()
        && let Some(request) = letter.reply_request()
        && let Some(id) = &request.form_document_id
    {
        check_reply_form(state, scope, id, &request.answers, &mut errors).await?;
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let issue_date = to_seal_date(today);
    let seal_request = SealRequest {
        issue_date,
        document_type: DocumentType::Generic,
        reply_by: reply_deadline.map(to_seal_date),
        digest: ContentDigest::of(&canonical),
    };
    let sealed = state.composer.keyring().seal_for_agency(scope, &seal_request).await.map_err(|e| {
        tracing::error!(agency.id = %scope.agency_id, "cannot seal a letter: {e}");
        ApiError::internal("the letter could not be sealed")
    })?;
    Ok((content, sealed.to_stored(issue_date)))
}

/// How long the check of a reply form waits for the process's PDF memory budget.
const FORM_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks the agency's form named as the reply sheet: every page leaves the reply code places
/// and the reference line blank (naming the page and the place when not), and the answer
/// boxes it declares are on one of its pages, clear of those places.
async fn check_reply_form(
    state: &AppState,
    scope: AgencyScope,
    id: &str,
    answers: &[hybridpost_core::FormAnswerBox],
    errors: &mut hybridpost_core::ValidationErrors,
) -> Result<(), ApiError> {
    const FIELD: &str = "reply.form_document_id";
    let document_id = id.parse().map_err(|_| ApiError::internal("a checked document id does not parse"))?;
    let bytes = {
        let mut conn = state.store.read().await?;
        hybridpost_store::documents::load_bytes(&mut conn, &state.blobs, scope, document_id).await?
    };
    let Some(bytes) = bytes else {
        errors.add(FIELD, format!("the file of document {id} is gone; upload it again with POST /v1/documents"));
        return Ok(());
    };
    let rules = hybridpost_compose::reply_form_rules();
    let reserved = rules.reserved.clone();
    let report =
        tokio::task::spawn_blocking(move || hybridpost_pdfcheck::check_waiting(&bytes, &rules, FORM_CHECK_WAIT))
            .await
            .map_err(|e| ApiError::internal(format!("the form check panicked: {e}")))?
            .map_err(|busy| ApiError::Unavailable(busy.to_string()))?;
    for problem in report.problems.iter().filter(|p| p.severity == hybridpost_pdfcheck::Severity::Refusal) {
        errors.add(FIELD, format!("{} / {}", problem.message_en, problem.message_th));
    }
    if report.pages > u32::from(u8::MAX) {
        errors.add(FIELD, format!("the form has {} pages; a form returned as a reply has at most 255", report.pages));
    }
    for (i, b) in answers.iter().enumerate() {
        if b.page > report.pages {
            errors.add(format!("reply.answers[{i}].page"), format!("the form has {} pages", report.pages));
        }
        let (x0, y0, x1, y1) = (f64::from(b.x), f64::from(b.y), f64::from(b.x + b.side), f64::from(b.y + b.side));
        for area in &reserved {
            if x0 < area.x_mm + area.width_mm && area.x_mm < x1 && y0 < area.y_mm + area.height_mm && area.y_mm < y1 {
                errors.add(format!("reply.answers[{i}]"), format!("lies in {}, which must stay blank", area.name_en));
            }
        }
    }
    Ok(())
}

/// The events of a letter just accepted: `accepted`, and `queued_for_print` for paper.
fn accepted_events(record: &LetterRecord, request_id: Option<String>) -> Vec<NewEvent> {
    let event = |status: LetterStatus, detail| NewEvent {
        agency_id: record.agency_id,
        letter_id: record.letter_id,
        kind: status.into(),
        status,
        detail: Some(detail),
        request_id: request_id.clone(),
    };
    let mut accepted = serde_json::json!({"channel": record.channel, "channel_reason": record.channel_reason});
    // Urgency and secrecy are part of the record of what was accepted.
    for field in ["urgency", "secrecy"] {
        if let Some(value) = record.content.get(field) {
            accepted[field] = value.clone();
        }
    }
    let mut events = vec![event(LetterStatus::Accepted, accepted)];
    if record.channel == Channel::Print {
        let detail = serde_json::json!({"postcode": record.postcode, "test": record.test});
        events.push(event(LetterStatus::QueuedForPrint, detail));
    }
    events
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map_err(|_| ApiError::BadRequest("Idempotency-Key must be printable ASCII".into()))?;
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::BadRequest(format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")));
    }
    Ok(Some(key.to_owned()))
}

/// SHA-256 of the body re-serialised with sorted keys and no spaces, so formatting does not
/// make two equal requests differ.
fn canonical_hash(raw: &[u8]) -> Result<String, ApiError> {
    let value: serde_json::Value = hybridpost_web::json::parse(raw)?;
    let canonical = serde_json::to_vec(&value).map_err(ApiError::internal)?;
    Ok(hex::encode(Sha256::digest(&canonical)))
}

fn replay(stored: idempotency::IdempotencyRecord, request_hash: &str) -> Result<Response, ApiError> {
    if stored.request_hash != request_hash {
        return Err(ApiError::Conflict {
            kind: "idempotency-key-reused",
            detail: "this Idempotency-Key was used before with a different body; use a new key for a new letter".into(),
        });
    }
    let status = StatusCode::from_u16(stored.status_code).unwrap_or(StatusCode::OK);
    Ok((
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::HeaderName::from_static("idempotent-replayed"), HeaderValue::from_static("true")),
        ],
        stored.response_body,
    )
        .into_response())
}

/// Read a letter with its content and timeline.
#[utoipa::path(
    get, path = "/v1/letters/{letter_id}", tag = "letters",
    params(("letter_id" = LetterId, Path, description = "The letter's id")),
    responses(
        (status = 200, description = "The letter", body = LetterDetail),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter for this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn get_letter(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(letter_id): IdPath<LetterId>,
) -> Result<Json<LetterDetail>, ApiError> {
    let mut conn = state.store.read().await?;
    let record = letters::get_letter(&mut conn, caller.scope(), letter_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no letter {letter_id}")))?;
    let timeline = events::letter_timeline(&mut conn, letter_id).await?;
    let letter = record.letter()?;
    Ok(Json(LetterDetail {
        summary: LetterSummary::from(&record),
        letter,
        timeline: timeline.iter().map(Event::from).collect(),
    }))
}

/// The letter as it will print: a PDF proof with its seal. The PIN is not in the proof (its
/// place shows `XXXX XXXX`): only the printed letter carries it. Test letters render like
/// live ones, sealed with the agency's test key.
#[utoipa::path(
    get, path = "/v1/letters/{letter_id}/pdf", tag = "letters",
    params(("letter_id" = LetterId, Path, description = "The letter's id")),
    responses(
        (status = 200, description = "The PDF", body = hybridpost_web::openapi::PdfFile, content_type = "application/pdf"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter for this agency", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The letter cannot be laid out; the detail says why", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn letter_pdf(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(letter_id): IdPath<LetterId>,
) -> Result<Response, ApiError> {
    let record = {
        let mut conn = state.store.read().await?;
        letters::get_letter(&mut conn, caller.scope(), letter_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no letter {letter_id}")))?
    };
    let pdf = state.composer.letter_pdf(&state.store, &state.blobs, record).await.map_err(|e| match e {
        LetterPdfError::Compose(e) => {
            let mut errors = hybridpost_core::ValidationErrors::default();
            errors.add("letter", e.to_string());
            ApiError::Validation(errors)
        }
        other => ApiError::internal(other),
    })?;
    Download::pdf().inline(&format!("letter-{letter_id}.pdf")).body(pdf)
}

/// Withdraw a letter that is already out (superseded by a newer one, or reported lost): its
/// seal stops verifying as genuine, on the verification page and for `hybridpost verify` with
/// this installation's data. The letter's delivery status does not change.
#[utoipa::path(
    post, path = "/v1/letters/{letter_id}/withdraw", tag = "letters",
    params(("letter_id" = LetterId, Path, description = "The letter's id")),
    request_body = WithdrawRequest,
    responses(
        (status = 200, description = "Withdrawn", body = LetterSummary),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter for this agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already withdrawn, or not yet out (cancel it instead)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn withdraw_letter(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(letter_id): IdPath<LetterId>,
    RequestId(request_id): RequestId,
    body: JsonBody<WithdrawRequest>,
) -> Result<Json<LetterSummary>, ApiError> {
    let reason = match body.value.reason {
        WithdrawReason::Superseded => steps::WithdrawReason::Superseded,
        WithdrawReason::ReportedLost => steps::WithdrawReason::ReportedLost,
    };
    let mut tx = state.store.begin().await?;
    let record =
        steps::withdraw(&mut tx, caller.scope(), letter_id, reason, request_id).await.map_err(|e| match e {
            StepRefused::NotAllowed(detail) if detail.ends_with("already withdrawn") => {
                ApiError::Conflict { kind: "letter-already-withdrawn", detail }
            }
            StepRefused::NotAllowed(detail) => ApiError::Conflict { kind: "letter-not-out", detail },
            other => refused(other),
        })?;
    tx.commit().await?;
    Ok(Json(LetterSummary::from(&record)))
}

/// A refused step as the API answers it.
fn refused(e: StepRefused) -> ApiError {
    match e {
        StepRefused::NotFound(letter_id) => ApiError::NotFound(format!("no letter {letter_id}")),
        StepRefused::NotAllowed(detail) => ApiError::Conflict { kind: "letter-not-cancellable", detail },
        StepRefused::Changed => ApiError::Conflict {
            kind: "letter-changed",
            detail: "the letter changed while it was being cancelled; read it and try again".into(),
        },
        StepRefused::Store(e) => e.into(),
    }
}

/// List the agency's letters, newest first.
#[utoipa::path(
    get, path = "/v1/letters", tag = "letters",
    params(LetterQuery),
    responses(
        (status = 200, description = "A page of letters", body = Page<LetterSummary>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn list_letters(
    State(state): State<AppState>,
    caller: AgencyCaller,
    uri: Uri,
) -> Result<Json<LetterList>, ApiError> {
    let query: LetterQuery = paging::query(&uri)?;
    let request = paging::PageRequest::<LetterId>::read(query.cursor.as_deref(), query.limit)?;
    let mut conn = state.store.read().await?;
    let page = letters::list_letters(&mut conn, caller.scope(), query.status, request.after, request.limit).await?;
    Ok(Json(request.page(&page, |l| l.letter_id, |l| LetterSummary::from(l))))
}

/// Cancel a letter that has not yet been put in a print batch or sent digitally.
#[utoipa::path(
    post, path = "/v1/letters/{letter_id}/cancel", tag = "letters",
    params(("letter_id" = LetterId, Path, description = "The letter's id")),
    responses(
        (status = 200, description = "Cancelled", body = LetterSummary),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such letter for this agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too late to cancel; the detail says why", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn cancel_letter(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(letter_id): IdPath<LetterId>,
    RequestId(request_id): RequestId,
) -> Result<Json<LetterSummary>, ApiError> {
    let mut tx = state.store.begin().await?;
    let record = steps::cancel(&mut tx, caller.scope(), letter_id, request_id.as_deref()).await.map_err(refused)?;
    tx.commit().await?;
    Ok(Json(LetterSummary::from(&record)))
}
