//! Agencies' own PDFs: `POST /v1/pdf-checks` says whether a PDF would print right, listing every
//! problem page by page; `POST /v1/documents` stores one that does, for a letter to send behind
//! a cover page (`"document_id"` instead of `"body"`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{AgencyScope, DocumentId, ValidationErrors};
use hybridpost_pdfcheck::{Problem as PdfProblem, ProblemCode, Report, Rules, Severity};
use hybridpost_store::documents::{self, DocumentRecord};
use hybridpost_store::{BlobKey, BlobStore, Store, now_text};
use hybridpost_web::AgencyCaller;
use hybridpost_web::problem::{ApiError, Problem};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;

/// Largest PDF accepted, in bytes.
pub const MAX_PDF_BYTES: usize = 20 * 1024 * 1024;
/// PDF uploads (checks and documents) read at once by a process; more wait their turn
/// before their bodies are read, so bodies in memory stay within this many times
/// [`MAX_PDF_BYTES`].
pub const MAX_PDF_UPLOADS_AT_ONCE: usize = 4;
/// How long a check waits for the process's PDF memory budget before answering 503.
const PDF_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One problem found in a PDF.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PdfCheckProblem {
    /// The page, from 1; absent for the whole file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Stable code: `encrypted`, `damaged`, `too_large`, `too_complex`, `too_many_pages`,
    /// `page_size`, `content_in_margin`, `content_in_window`, `font_not_embedded`,
    /// `active_content`, `low_resolution_image`, `page_too_complex`, `full_page_image`.
    pub code: String,
    /// `refusal` (the PDF cannot be sent) or `warning`.
    pub severity: String,
    /// What is wrong, in Thai.
    pub message_th: String,
    /// What is wrong, in English.
    pub message_en: String,
}

/// The answer of a PDF check.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PdfCheckReport {
    /// True when nothing stops the PDF from printing right (warnings may remain).
    pub acceptable: bool,
    /// Pages found.
    pub pages: u32,
    /// Every problem, whole-file ones first, then page by page.
    pub problems: Vec<PdfCheckProblem>,
}

impl From<&PdfProblem> for PdfCheckProblem {
    fn from(p: &PdfProblem) -> Self {
        PdfCheckProblem {
            page: p.page,
            code: p.code.as_str().to_owned(),
            severity: match p.severity {
                Severity::Refusal => "refusal".into(),
                Severity::Warning => "warning".into(),
            },
            message_th: p.message_th.clone(),
            message_en: p.message_en.clone(),
        }
    }
}

impl From<&Report> for PdfCheckReport {
    fn from(r: &Report) -> Self {
        PdfCheckReport {
            acceptable: r.is_acceptable(),
            pages: r.pages,
            problems: r.problems.iter().map(PdfCheckProblem::from).collect(),
        }
    }
}

/// A stored agency PDF.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentSummary {
    /// Give it as `document_id` in a letter.
    pub document_id: DocumentId,
    /// Pages.
    pub pages: i64,
    /// Size in bytes.
    pub bytes: i64,
    /// SHA-256 of the PDF, hex.
    pub sha256: String,
    /// Warnings from the check (nothing that stops printing).
    pub warnings: Vec<PdfCheckProblem>,
}

fn require_pdf(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/pdf") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "send the PDF itself as the body with Content-Type: application/pdf (got {content_type:?})"
        )))
    }
}

async fn run_check(body: Bytes) -> Result<Report, ApiError> {
    tokio::task::spawn_blocking(move || {
        let rules = Rules { max_bytes: MAX_PDF_BYTES, ..Rules::default() };
        hybridpost_pdfcheck::check_waiting(&body, &rules, PDF_CHECK_WAIT)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the PDF check panicked: {e}")))?
    .map_err(|busy| ApiError::Unavailable(busy.to_string()))
}

/// Checks a PDF for print, waiting for the process's PDF memory budget: the check of
/// `POST /v1/pdf-checks`, for the console's upload of an agency's own letter.
pub async fn check_pdf_bytes(body: Bytes) -> Result<PdfCheckReport, ApiError> {
    run_check(body).await.map(|report| PdfCheckReport::from(&report))
}

/// Stores a PDF of `scope`'s agency whose check found nothing that stops it printing, as
/// `POST /v1/documents` does: the blob first, then its record, so a record always has its file.
pub async fn store_document(
    store: &Store,
    blobs: &BlobStore,
    scope: AgencyScope,
    body: Bytes,
    report: &PdfCheckReport,
) -> Result<DocumentSummary, ApiError> {
    if !report.acceptable {
        return Err(ApiError::internal("a PDF that failed its check was about to be stored"));
    }
    let document_id = DocumentId::new();
    let key =
        BlobKey::parse(&format!("documents/{}/{document_id}.pdf", scope.agency_id)).map_err(ApiError::internal)?;
    let sha256 = hex::encode(Sha256::digest(&body));
    let bytes = body.len() as i64;
    blobs.put(&key, body.to_vec()).await.map_err(ApiError::internal)?;
    let record = DocumentRecord {
        document_id,
        agency_id: scope.agency_id,
        test: scope.test,
        blob_key: key.as_str().to_owned(),
        sha256: sha256.clone(),
        pages: i64::from(report.pages),
        bytes,
        created_at: now_text(),
    };
    let mut tx = store.begin().await?;
    documents::insert_document(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(DocumentSummary { document_id, pages: record.pages, bytes, sha256, warnings: report.problems.clone() })
}

/// The refusals of `report` as the fields of a 422 answer.
fn refusals(report: &Report) -> ApiError {
    let mut errors = ValidationErrors::default();
    for p in report.problems.iter().filter(|p| p.severity == Severity::Refusal) {
        let field = match p.page {
            Some(page) => format!("pdf.page[{page}].{}", p.code.as_str()),
            None => format!("pdf.{}", p.code.as_str()),
        };
        errors.add(field, format!("{} / {}", p.message_th, p.message_en));
    }
    ApiError::Validation(errors)
}

/// Check a PDF for print without sending anything: every problem, page by page, in one answer.
#[utoipa::path(
    post, path = "/v1/pdf-checks", tag = "documents",
    request_body(content = hybridpost_web::openapi::PdfFile, content_type = "application/pdf", description = "The PDF, up to 20 MB"),
    responses(
        (status = 200, description = "The check's findings (see `acceptable`)", body = PdfCheckReport),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 20 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/pdf", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The PDF's structure is beyond what the service reads (`pdf.too_complex`: nested too deep, too many objects, too much memory to hold…); the message names the limit, and nothing else is checked", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many PDFs are being read at once; try again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn check_pdf(
    _caller: AgencyCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PdfCheckReport>, ApiError> {
    require_pdf(&headers)?;
    let report = run_check(body).await?;
    // A file the reader refuses to read is not checked: like an oversized one, it is refused.
    if report.with_code(ProblemCode::TooComplex).next().is_some() {
        return Err(refusals(&report));
    }
    Ok(Json(PdfCheckReport::from(&report)))
}

/// Upload a PDF to send as a letter. It is checked as `/v1/pdf-checks` does and refused with
/// every problem listed (422) when it would not print right.
#[utoipa::path(
    post, path = "/v1/documents", tag = "documents",
    request_body(content = hybridpost_web::openapi::PdfFile, content_type = "application/pdf", description = "The PDF, up to 20 MB"),
    responses(
        (status = 201, description = "Stored", body = DocumentSummary),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 20 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/pdf", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "It would not print right, or its structure is beyond what the service reads (`pdf.too_complex`); every problem listed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many PDFs are being read at once; try again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn upload_document(
    State(state): State<AppState>,
    caller: AgencyCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_pdf(&headers)?;
    let report = run_check(body.clone()).await?;
    if !report.is_acceptable() {
        return Err(refusals(&report));
    }
    let scope = AgencyScope { agency_id: caller.agency_id, test: caller.test };
    let summary = store_document(&state.store, &state.blobs, scope, body, &PdfCheckReport::from(&report)).await?;
    let document_id = summary.document_id;
    let location = format!("/v1/documents/{document_id}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, HeaderValue::from_str(&location).map_err(ApiError::internal)?)],
        Json(summary),
    )
        .into_response())
}
