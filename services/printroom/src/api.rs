//! `/v1/print/batches`: a site's operators fetch, print and dispatch batches.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{BatchId, LetterId, ValidationErrors};
use hybridpost_store::print::{self, BatchRecord, BatchStatus, BatchStepError};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{Download, IdPath, JsonBody, ListQuery, Page, RequestId, SiteCaller, paging};
use serde::{Deserialize, Serialize};

pub use crate::batching::ManifestEntry;
use crate::steps::{self, FileError};
use crate::{PrintroomState, close_batch_for_site};

/// A batch's state.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchSummary {
    /// Its id.
    pub batch_id: BatchId,
    /// `closed` (letters fixed, waiting to render), `rendering`, `ready` (download and print),
    /// `printed`, `dispatched`.
    pub status: BatchStatus,
    /// Letters in it.
    pub letters: i64,
    /// Pages of the PDF (cover sheet and blank backs included), once rendered.
    pub pages: i64,
    /// Sheets of paper (duplex), once rendered.
    pub sheets: i64,
    /// SHA-256 of the PDF, once rendered: the same batch always renders to the same bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf_sha256: Option<String>,
    /// When it was closed.
    pub created_at: String,
    /// When it was rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_at: Option<String>,
    /// When it was printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_at: Option<String>,
    /// When it was dispatched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatched_at: Option<String>,
}

impl From<&BatchRecord> for BatchSummary {
    fn from(b: &BatchRecord) -> Self {
        BatchSummary {
            batch_id: b.batch_id,
            status: b.status,
            letters: b.letter_count,
            pages: b.page_count,
            sheets: b.sheet_count,
            pdf_sha256: b.pdf_sha256.clone(),
            created_at: b.created_at.clone(),
            rendered_at: b.rendered_at.clone(),
            printed_at: b.printed_at.clone(),
            dispatched_at: b.dispatched_at.clone(),
        }
    }
}

/// A page of batches, newest first.
pub type BatchList = Page<BatchSummary>;

/// A batch with its letters.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchDetail {
    /// Its state.
    #[serde(flatten)]
    pub summary: BatchSummary,
    /// Its letters in envelope order, with their pages once rendered and tracking numbers once
    /// dispatched.
    pub letters_in_batch: Vec<BatchLetterView>,
}

/// A letter in a batch.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchLetterView {
    /// The letter.
    pub letter_id: LetterId,
    /// Position at closing (postcode order).
    pub position: i64,
    /// The recipient's postcode.
    pub postcode: String,
    /// First page in the PDF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_page: Option<i64>,
    /// Pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<i64>,
    /// UPU S10 tracking number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
}

/// Tracking numbers for a dispatched batch: either one per letter, or the first number of a
/// roll of labels applied in envelope order (each next label is the next serial number).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct DispatchRequest {
    /// Letter id → UPU S10 tracking number (`RB123456785TH`), for every letter of the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<std::collections::BTreeMap<LetterId, TrackingNumberText>>)]
    pub tracking_numbers: Option<std::collections::BTreeMap<LetterId, String>>,
    /// The tracking number on the first envelope; the others follow in envelope order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<TrackingNumberText>)]
    pub first_tracking_number: Option<String>,
}

/// A UPU S10 tracking number: two letters, eight digits and a check digit, two letters
/// (`RB123456785TH`).
#[derive(Debug)]
pub struct TrackingNumberText;

impl utoipa::PartialSchema for TrackingNumberText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("upu-s10".into())))
            .pattern(Some("^[A-Z]{2}[0-9]{9}[A-Z]{2}$"))
            .into()
    }
}

impl utoipa::ToSchema for TrackingNumberText {}

async fn site_batch(state: &PrintroomState, caller: &SiteCaller, batch_id: BatchId) -> Result<BatchRecord, ApiError> {
    let mut conn = state.store.read().await?;
    print::get_batch(&mut conn, Some(caller.site_id), batch_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no batch {batch_id} at this site")))
}

/// List the site's batches, newest first.
#[utoipa::path(
    get, path = "/v1/print/batches", tag = "print",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of batches", body = Page<BatchSummary>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a site key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn list_batches(
    State(state): State<PrintroomState>,
    caller: SiteCaller,
    uri: Uri,
) -> Result<Json<BatchList>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<BatchId>()?;
    let mut conn = state.store.read().await?;
    let page = print::list_batches(&mut conn, caller.site_id, request.after, request.limit).await?;
    Ok(Json(request.page(&page, |b| b.batch_id, |b| BatchSummary::from(b))))
}

/// Close a batch now with the letters waiting for this site (instead of waiting for the next
/// cut-off). It is rendered within seconds; poll it until `ready`.
#[utoipa::path(
    post, path = "/v1/print/batches", tag = "print",
    responses(
        (status = 201, description = "Batch closed", body = BatchSummary),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No letters are waiting for this site", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn close_batch(State(state): State<PrintroomState>, caller: SiteCaller) -> Result<Response, ApiError> {
    let batch = close_batch_for_site(&state, caller.site_id, None).await.map_err(ApiError::internal)?;
    let Some(batch) = batch else {
        return Err(ApiError::Conflict {
            kind: "nothing-to-print",
            detail: "no letters are waiting for print at this site".into(),
        });
    };
    let location = format!("/v1/print/batches/{}", batch.batch_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, HeaderValue::from_str(&location).map_err(ApiError::internal)?)],
        Json(BatchSummary::from(&batch)),
    )
        .into_response())
}

/// A batch with its letters.
#[utoipa::path(
    get, path = "/v1/print/batches/{batch_id}", tag = "print",
    params(("batch_id" = BatchId, Path, description = "The batch")),
    responses(
        (status = 200, description = "The batch", body = BatchDetail),
        (status = 404, description = "No such batch at this site", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn get_batch(
    State(state): State<PrintroomState>,
    caller: SiteCaller,
    IdPath(batch_id): IdPath<BatchId>,
) -> Result<Json<BatchDetail>, ApiError> {
    let batch = site_batch(&state, &caller, batch_id).await?;
    let mut conn = state.store.read().await?;
    let letters = print::batch_letters(&mut conn, batch.batch_id).await?;
    Ok(Json(BatchDetail {
        summary: BatchSummary::from(&batch),
        letters_in_batch: letters
            .into_iter()
            .map(|l| BatchLetterView {
                letter_id: l.letter_id,
                position: l.position,
                postcode: l.postcode,
                first_page: l.first_page,
                pages: l.pages,
                tracking_number: l.tracking_number,
            })
            .collect(),
    }))
}

fn file_error(e: FileError) -> ApiError {
    match e {
        FileError::NotReady(_) => ApiError::Conflict { kind: "batch-not-ready", detail: e.to_string() },
        FileError::Storage(why) => ApiError::internal(why),
    }
}

/// Download the batch's print-ready PDF (streamed).
#[utoipa::path(
    get, path = "/v1/print/batches/{batch_id}/pdf", tag = "print",
    params(("batch_id" = BatchId, Path, description = "The batch")),
    responses(
        (status = 200, description = "The PDF", body = hybridpost_web::openapi::PdfFile, content_type = "application/pdf"),
        (status = 404, description = "No such batch at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not rendered yet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn batch_pdf(
    State(state): State<PrintroomState>,
    caller: SiteCaller,
    IdPath(batch_id): IdPath<BatchId>,
) -> Result<Response, ApiError> {
    let batch = site_batch(&state, &caller, batch_id).await?;
    let (file, len) = steps::open_pdf(&state, &batch).await.map_err(file_error)?;
    Download::pdf()
        .attachment(&format!("batch-{}.pdf", batch.batch_id))
        .length(len)
        .etag(batch.pdf_sha256.as_deref())
        .stream(file)
}

/// Query of the manifest.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ManifestQuery {
    /// `json` (default) or `csv`.
    #[param(inline)]
    format: Option<ManifestFormat>,
}

/// How the manifest is written.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManifestFormat {
    /// JSON: an array of entries.
    Json,
    /// CSV with a header line, for a spreadsheet.
    Csv,
}

/// The batch's manifest: for each letter in envelope order, its first page, pages, sheets and
/// postcode, as JSON or CSV.
#[utoipa::path(
    get, path = "/v1/print/batches/{batch_id}/manifest", tag = "print",
    params(("batch_id" = BatchId, Path, description = "The batch"), ManifestQuery),
    responses(
        (status = 200, description = "The manifest", content(
            (Vec<ManifestEntry> = "application/json"),
            (String = "text/csv", example = "envelope,letter_id,first_page,pages,sheets,postcode,urgency"),
        )),
        (status = 404, description = "No such batch at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not rendered yet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn batch_manifest(
    State(state): State<PrintroomState>,
    caller: SiteCaller,
    IdPath(batch_id): IdPath<BatchId>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(q) = Query::<ManifestQuery>::try_from_uri(&uri)
        .map_err(|rejection| ApiError::BadRequest(format!("bad query: {}", rejection.body_text())))?;
    let batch = site_batch(&state, &caller, batch_id).await?;
    match q.format.unwrap_or(ManifestFormat::Json) {
        ManifestFormat::Json => {
            let bytes = steps::manifest_json(&state, &batch).await.map_err(file_error)?;
            Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
        }
        ManifestFormat::Csv => {
            let entries = steps::manifest(&state, &batch).await.map_err(file_error)?;
            let disposition = format!("attachment; filename=\"batch-{}.csv\"", batch.batch_id);
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                steps::manifest_csv(&entries),
            )
                .into_response())
        }
    }
}

fn step_error(e: BatchStepError, batch_id: BatchId, wanted: &str) -> ApiError {
    match e {
        BatchStepError::NotFound => ApiError::NotFound(format!("no batch {batch_id} at this site")),
        BatchStepError::WrongStatus(status) => ApiError::Conflict {
            kind: "batch-wrong-status",
            detail: format!("batch {batch_id} is {}; it must be {wanted} for this step", status.as_str()),
        },
        BatchStepError::Tracking(why) => {
            let mut errors = ValidationErrors::default();
            errors.add("tracking_numbers", why);
            ApiError::Validation(errors)
        }
        BatchStepError::Store(e) => e.into(),
    }
}

/// Mark a ready batch printed; each letter gets a `printed` event.
#[utoipa::path(
    post, path = "/v1/print/batches/{batch_id}/printed", tag = "print",
    params(("batch_id" = BatchId, Path, description = "The batch")),
    responses(
        (status = 200, description = "Marked printed", body = BatchSummary),
        (status = 404, description = "No such batch at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch is not ready", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn mark_printed(
    State(state): State<PrintroomState>,
    caller: SiteCaller,
    IdPath(batch_id): IdPath<BatchId>,
    RequestId(request_id): RequestId,
) -> Result<Json<BatchSummary>, ApiError> {
    let batch = steps::mark_printed(&state, caller.site_id, batch_id, request_id.as_deref(), None)
        .await
        .map_err(|e| step_error(e, batch_id, "ready"))?;
    Ok(Json(BatchSummary::from(&batch)))
}

/// Mark a printed batch dispatched, with one UPU S10 tracking number per letter; each letter
/// gets a `dispatched` event carrying its number. Every bad number is listed in one answer.
#[utoipa::path(
    post, path = "/v1/print/batches/{batch_id}/dispatched", tag = "print",
    params(("batch_id" = BatchId, Path, description = "The batch")),
    request_body = DispatchRequest,
    responses(
        (status = 200, description = "Marked dispatched", body = BatchSummary),
        (status = 404, description = "No such batch at this site", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch is not printed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad or missing tracking numbers, all listed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn mark_dispatched(
    State(state): State<PrintroomState>,
    caller: SiteCaller,
    IdPath(batch_id): IdPath<BatchId>,
    RequestId(request_id): RequestId,
    body: JsonBody<DispatchRequest>,
) -> Result<Json<BatchSummary>, ApiError> {
    let batch = site_batch(&state, &caller, batch_id).await?;
    let letters = {
        let mut conn = state.store.read().await?;
        print::batch_letters(&mut conn, batch.batch_id).await?
    };
    let tracking = match (&body.value.tracking_numbers, &body.value.first_tracking_number) {
        (Some(map), None) => steps::tracking_per_letter(map.iter().map(|(l, n)| (*l, n.as_str()))),
        (None, Some(first)) => steps::tracking_from_roll(&letters, first),
        _ => Err(vec![(
            "tracking_numbers".to_owned(),
            "give either tracking_numbers or first_tracking_number".to_owned(),
        )]),
    };
    let tracking = tracking.map_err(|problems| {
        let mut errors = ValidationErrors::default();
        for (field, why) in problems {
            errors.add(field, why);
        }
        ApiError::Validation(errors)
    })?;
    let batch = steps::mark_dispatched(&state, caller.site_id, batch_id, &tracking, request_id.as_deref(), None)
        .await
        .map_err(|e| step_error(e, batch_id, "printed"))?;
    Ok(Json(BatchSummary::from(&batch)))
}
