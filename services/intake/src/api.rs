//! `/v1/scans`: a site uploads scanned files and follows what became of every page.

use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{
    LetterId, PageOutcome, ReplyId, ReturnReason, ScanFileStatus, ScanId, ScanMode, ScanPageId, ScanStatus, SiteId,
    ValidationErrors,
};
use hybridpost_store::people::NewAudit;
use hybridpost_store::scan::{self, NewScanFile, ScanRecord};
use hybridpost_store::{BlobKey, BlobStore, now_text};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{IdPath, ListQuery, Page, RequestId, SiteCaller, paging};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::IntakeState;

/// The answer to an upload: the batch is stored and will be decoded.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanAccepted {
    /// The batch.
    pub scan_id: ScanId,
    /// `decoding` at first; poll `GET /v1/scans/{scan_id}` until `done`.
    pub status: ScanStatus,
    /// Files received.
    pub files: usize,
    /// Files refused at upload (too large); their errors are in the batch.
    pub refused_files: usize,
}

/// A file of a batch.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileView {
    /// Upload order, from 1.
    pub index: i64,
    /// Its name as uploaded.
    pub name: String,
    /// Its size.
    pub size_bytes: i64,
    /// Where the file is.
    pub status: ScanFileStatus,
    /// Why it could not be read (for `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Pages found in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<i64>,
    /// Pages of the file that could not be decoded, with why (each is in review, without an
    /// image; scan it again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_errors: Vec<String>,
}

/// What became of a page.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageView {
    /// The page.
    pub page_id: ScanPageId,
    /// Its file.
    pub file_index: i64,
    /// Its place in the file, from 1.
    pub page_number: i64,
    /// The zip entry it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// `decoded` (waiting for grouping), `matched` (part of a reply), `returned` (a returned
    /// letter's page), `review`, `duplicate` (uploaded before; not counted again), `assigned`
    /// or `discarded` (by an operator in review).
    pub outcome: PageOutcome,
    /// The letter it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter_id: Option<LetterId>,
    /// The reply it is part of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<ReplyId>,
    /// The first upload of the same page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<ScanPageId>,
    /// Why it is in review (`no_code`, `damaged_code`, `unreadable`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_reason: Option<String>,
    /// Why, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_detail: Option<String>,
    /// What the codes said: `{"kind": "reply", "page": 1, "pages": 1}`, `{"kind": "seal"}`,
    /// `{"kind": "blank"}` or `{"kind": "review", "reason": …}` (letter references left out).
    pub code: serde_json::Value,
    /// How the page was searched: the steps run with their times, which step read each code.
    pub decode: serde_json::Value,
    /// Time spent on the page, ms.
    pub decode_ms: i64,
}

/// A batch with its files and pages.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanView {
    /// The batch.
    pub scan_id: ScanId,
    /// Replies or returns.
    pub mode: ScanMode,
    /// For returns, why the letters came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_reason: Option<String>,
    /// Where the batch is.
    pub status: ScanStatus,
    /// When it was uploaded.
    pub created_at: String,
    /// When its pages were grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Pages by outcome (and `failed_files`, files that could not be read).
    pub counts: std::collections::BTreeMap<String, i64>,
    /// Its files.
    pub files: Vec<FileView>,
    /// Its pages in scan order.
    pub pages: Vec<PageView>,
}

/// A page of batches, newest first (without their pages).
pub type ScanList = Page<ScanSummary>;

/// A batch without its pages.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanSummary {
    /// The batch.
    pub scan_id: ScanId,
    /// Replies or returns.
    pub mode: ScanMode,
    /// Where the batch is.
    pub status: ScanStatus,
    /// Files uploaded.
    pub files: i64,
    /// When it was uploaded.
    pub created_at: String,
}

impl From<&ScanRecord> for ScanSummary {
    fn from(s: &ScanRecord) -> Self {
        ScanSummary {
            scan_id: s.scan_id,
            mode: s.mode,
            status: s.status,
            files: s.file_count,
            created_at: s.created_at.clone(),
        }
    }
}

/// The upload form, as documented (the handler reads it as a stream).
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the multipart form in the OpenAPI document")]
pub(crate) struct ScanUpload {
    /// `replies` or `returns`.
    mode: ScanMode,
    /// Why the letters came back: given with `returns` (and only then).
    #[schema(nullable = false)]
    reason: Option<ReturnReason>,
    /// One or more files: PDF, TIFF, PNG, JPEG, or a zip of those.
    #[schema(format = Binary, value_type = Vec<String>, min_items = 1)]
    file: Vec<Vec<u8>>,
}

/// Upload scanned pages: a multipart form with `mode` (`replies` or `returns`), for returns a
/// `reason`, and one or more `file` fields. Answers 202 at once with the batch id; workers
/// decode the pages. A file that cannot be read (damaged, empty, not a scan, password-protected,
/// over a limit) gets its own error in the batch and takes nothing else with it.
#[utoipa::path(
    post, path = "/v1/scans", tag = "scans",
    request_body(content = ScanUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored; decoding starts", body = ScanAccepted),
        (status = 400, description = "Not a multipart form, or no file", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a site key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The upload is larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad mode or reason, or too many files", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn create_scan(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    RequestId(request_id): RequestId,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let multipart = multipart.map_err(|r| {
        ApiError::UnsupportedMediaType(format!(
            "upload scans as multipart/form-data with `mode` and `file` fields ({})",
            r.body_text()
        ))
    })?;
    let accepted = upload_scan(&state, caller.site_id, request_id, multipart, None).await?;
    let location = format!("/v1/scans/{}", accepted.scan_id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, HeaderValue::from_str(&location).map_err(ApiError::internal)?)],
        Json(accepted),
    )
        .into_response())
}

/// A person's upload from a console: the form's first field must be `csrf` with their
/// session's form token, and the upload's line in the audit log commits with the batch.
#[derive(Debug)]
pub struct ConsoleUpload<'a> {
    /// The session's form token.
    pub form_token: &'a str,
    /// The audit-log line (its target is set to the batch id).
    pub audit: NewAudit,
}

/// Stores an upload of scanned files for `site_id` as a new scan batch, for the API and the
/// console alike (the form is `POST /v1/scans`'s). A file that cannot be read is refused on
/// its own; anything else wrong refuses the whole upload, and nothing of it stays stored.
pub async fn upload_scan(
    state: &IntakeState,
    site_id: SiteId,
    request_id: Option<String>,
    mut multipart: Multipart,
    console: Option<ConsoleUpload<'_>>,
) -> Result<ScanAccepted, ApiError> {
    let scan_id = ScanId::new();
    let mut mode = None;
    let mut reason = None;
    let mut files: Vec<NewScanFile> = Vec::new();
    // From here on every way out but a stored batch deletes what was stored: an error returned
    // below, and also a timeout or a dropped connection, which drop this future.
    let mut uploaded = UploadedBlobs::new(scan_id, state.blobs.clone());
    let max_file = state.config.limits.max_file_bytes;
    let read_error = |e: MultipartError| multipart_error(e, state.config.max_upload_bytes);
    let mut first_field = true;
    let result: Result<(), ApiError> = async {
        while let Some(mut field) = multipart.next_field().await.map_err(read_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            // A console's form proves where it came from before anything is stored.
            if let Some(c) = console.as_ref().filter(|_| first_field) {
                let token = if name == "csrf" { field.text().await.map_err(read_error)? } else { String::new() };
                if token.is_empty() || token != c.form_token {
                    return Err(ApiError::Forbidden("the form has expired; reload the page and upload again"));
                }
                first_field = false;
                continue;
            }
            first_field = false;
            match name.as_str() {
                "mode" => mode = Some(field.text().await.map_err(read_error)?.trim().to_owned()),
                // An empty reason is none: a web form's list sends one when nothing is chosen.
                "reason" => {
                    reason = Some(field.text().await.map_err(read_error)?.trim().to_owned()).filter(|r| !r.is_empty());
                }
                "file" => {
                    if files.len() >= state.config.max_files {
                        let mut errors = ValidationErrors::default();
                        errors.add(
                            "file",
                            format!(
                                "at most {} files in one upload; upload the rest in another",
                                state.config.max_files
                            ),
                        );
                        return Err(ApiError::Validation(errors));
                    }
                    let name = field.file_name().unwrap_or("scan").chars().take(200).collect::<String>();
                    let mut hasher = Sha256::new();
                    let mut bytes = Vec::new();
                    let mut size: u64 = 0;
                    while let Some(chunk) = field.chunk().await.map_err(read_error)? {
                        size += chunk.len() as u64;
                        hasher.update(&chunk);
                        // Past the limit the rest is read and dropped: the file is refused, the
                        // others are kept.
                        if size <= max_file {
                            bytes.extend_from_slice(&chunk);
                        }
                    }
                    let sha256 = hex::encode(hasher.finalize());
                    let size_bytes = i64::try_from(size).unwrap_or(i64::MAX);
                    if size > max_file {
                        files.push(NewScanFile {
                            name,
                            size_bytes,
                            sha256,
                            blob_key: None,
                            refused: Some(format!("the file is {size} bytes, the limit is {max_file}")),
                        });
                        continue;
                    }
                    let key = format!("scans/{scan_id}/upload-{}", files.len() + 1);
                    let blob = BlobKey::parse(&key).map_err(ApiError::internal)?;
                    uploaded.put(blob, bytes).await?;
                    files.push(NewScanFile { name, size_bytes, sha256, blob_key: Some(key), refused: None });
                }
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown form field {other:?}; the fields are mode, reason and file"
                    )));
                }
            }
        }
        Ok(())
    }
    .await;
    let (mode, reason) = result.and_then(|()| check_form(mode.as_deref(), reason.as_deref(), files.len()))?;
    let file_count = files.len();
    let refused = files.iter().filter(|f| f.refused.is_some()).count();
    // The batch is written by a task of its own, which this request only waits for: were the
    // request stopped while the commit is under way, the files would otherwise be deleted
    // under a batch that was stored after all. The task keeps them exactly when it stores it.
    let store = state.store.clone();
    let audit = console.map(|c| c.audit);
    let committed = tokio::spawn(async move {
        let mut tx = store.begin().await?;
        hybridpost_store::people::append_step_audit(&mut tx, audit.as_ref(), &scan_id.to_string()).await?;
        scan::create_scan(
            &mut tx,
            scan_id,
            site_id,
            mode,
            reason.map(ReturnReason::as_str),
            &files,
            request_id.as_deref(),
            &now_text(),
        )
        .await?;
        tx.commit().await?;
        uploaded.keep();
        Ok::<(), hybridpost_store::StoreError>(())
    })
    .await;
    committed.map_err(|e| ApiError::internal(format!("storing scan batch {scan_id} stopped: {e}")))??;
    metrics::counter!("hybridpost_scan_uploads_total").increment(1);
    tracing::info!(scan.id = %scan_id, files = file_count, "scan batch {scan_id} uploaded: {file_count} files");
    Ok(ScanAccepted { scan_id, status: ScanStatus::Decoding, files: file_count, refused_files: refused })
}

/// The files an upload has stored, under `scans/{scan_id}/`: unless [`UploadedBlobs::keep`] is
/// called once the batch is stored, dropping this deletes them, however the upload ended.
/// While it lives, the folder is marked as in use so that the leftover sweep leaves it alone.
struct UploadedBlobs {
    scan_id: ScanId,
    blobs: BlobStore,
    /// A file being written, by a task that goes on if the upload is dropped meanwhile: the
    /// deletion waits for it.
    writing: Option<tokio::task::JoinHandle<Result<(), hybridpost_store::BlobError>>>,
    stored: bool,
    kept: bool,
}

impl UploadedBlobs {
    fn new(scan_id: ScanId, blobs: BlobStore) -> UploadedBlobs {
        uploads_in_progress().insert(scan_id);
        UploadedBlobs { scan_id, blobs, writing: None, stored: false, kept: false }
    }

    async fn put(&mut self, key: BlobKey, bytes: Vec<u8>) -> Result<(), ApiError> {
        let blobs = self.blobs.clone();
        self.stored = true;
        let writing = self.writing.insert(tokio::spawn(async move { blobs.put(&key, bytes).await }));
        let written = writing.await;
        self.writing = None;
        written
            .map_err(|e| ApiError::internal(format!("storing an uploaded file stopped: {e}")))?
            .map_err(ApiError::internal)
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for UploadedBlobs {
    fn drop(&mut self) {
        let scan_id = self.scan_id;
        if self.kept || !self.stored {
            uploads_in_progress().remove(&scan_id);
            return;
        }
        let (blobs, writing) = (self.blobs.clone(), self.writing.take());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime: the process is stopping; the leftover sweep at the next start
            // deletes the files.
            return;
        };
        runtime.spawn(async move {
            if let Some(writing) = writing {
                let _ = writing.await;
            }
            let folder = BlobKey::parse(&format!("scans/{scan_id}")).expect("a scan id is a valid blob folder name");
            match blobs.delete_all(&folder).await {
                Ok(()) => tracing::debug!(scan.id = %scan_id, "files of the unfinished upload {scan_id} deleted"),
                Err(e) => tracing::warn!(scan.id = %scan_id, "files of the unfinished upload {scan_id} remain: {e}"),
            }
            uploads_in_progress().remove(&scan_id);
        });
    }
}

/// The batches being uploaded by this process, whose folders the leftover sweep must not touch.
pub(crate) fn uploads_in_progress() -> std::sync::MutexGuard<'static, std::collections::HashSet<ScanId>> {
    static UPLOADS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<ScanId>>> =
        std::sync::OnceLock::new();
    UPLOADS.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn multipart_error(e: MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(format!("the multipart form cannot be read: {}", e.body_text()))
    }
}

fn check_form(
    mode: Option<&str>,
    reason: Option<&str>,
    files: usize,
) -> Result<(ScanMode, Option<ReturnReason>), ApiError> {
    let mut errors = ValidationErrors::default();
    let mode = match mode.map(|m| (m, m.parse::<ScanMode>().ok())) {
        None => {
            errors.add("mode", "give mode: replies or returns".to_owned());
            None
        }
        Some((m, None)) => {
            errors.add("mode", format!("{m:?} is not a mode; use replies or returns"));
            None
        }
        Some((_, Some(mode))) => Some(mode),
    };
    let reason = match (mode, reason) {
        (Some(ScanMode::Returns), None) => {
            let names: Vec<&str> = ReturnReason::ALL.iter().map(|r| r.as_str()).collect();
            errors.add("reason", format!("a batch of returns needs a reason: {}", names.join(", ")));
            None
        }
        (Some(ScanMode::Returns), Some(r)) => match r.parse::<ReturnReason>() {
            Ok(r) => Some(r),
            Err(e) => {
                errors.add("reason", e);
                None
            }
        },
        (Some(ScanMode::Replies), Some(_)) => {
            errors.add("reason", "a reason is given only with mode returns".to_owned());
            None
        }
        _ => None,
    };
    if files == 0 {
        errors.add("file", "upload at least one file".to_owned());
    }
    match (mode, errors.is_empty()) {
        (Some(mode), true) => Ok((mode, reason)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The site's batches, newest first.
#[utoipa::path(
    get, path = "/v1/scans", tag = "scans",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of batches", body = Page<ScanSummary>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn list_scans(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    uri: Uri,
) -> Result<Json<ScanList>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<ScanId>()?;
    let mut conn = state.store.read().await?;
    let page = scan::list_scans(&mut conn, caller.site_id, request.after, request.limit).await?;
    Ok(Json(request.page(&page, |s| s.scan_id, |s| ScanSummary::from(s))))
}

/// A batch: its files, and every page with its outcome and how it was decoded.
#[utoipa::path(
    get, path = "/v1/scans/{scan_id}", tag = "scans",
    params(("scan_id" = ScanId, Path, description = "The batch")),
    responses(
        (status = 200, description = "The batch", body = ScanView),
        (status = 404, description = "No such batch at this site", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn get_scan(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    IdPath(id): IdPath<ScanId>,
) -> Result<Json<ScanView>, ApiError> {
    let mut conn = state.store.read().await?;
    let batch = scan::get_scan(&mut conn, Some(caller.site_id), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no scan batch {id} at this site")))?;
    let files = scan::scan_files(&mut conn, id).await?;
    let pages = scan::scan_pages(&mut conn, id).await?;
    let mut counts = std::collections::BTreeMap::new();
    for p in &pages {
        *counts.entry(p.outcome.as_str().to_owned()).or_insert(0) += 1;
    }
    let failed_files = files.iter().filter(|f| f.status == ScanFileStatus::Failed).count();
    if failed_files > 0 {
        counts.insert("failed_files".to_owned(), i64::try_from(failed_files).unwrap_or(i64::MAX));
    }
    Ok(Json(ScanView {
        scan_id: batch.scan_id,
        mode: batch.mode,
        return_reason: batch.return_reason,
        status: batch.status,
        created_at: batch.created_at,
        finished_at: batch.finished_at,
        counts,
        files: files
            .into_iter()
            .map(|f| FileView {
                page_errors: pages
                    .iter()
                    .filter(|p| p.page.file_index == f.file_index && p.page.image_blob.is_none())
                    .filter_map(|p| p.review_detail.clone())
                    .collect(),
                index: f.file_index,
                name: f.name,
                size_bytes: f.size_bytes,
                status: f.status,
                error: f.error,
                pages: f.page_count,
            })
            .collect(),
        pages: pages.into_iter().map(page_view).collect(),
    }))
}

pub(crate) fn page_view(p: hybridpost_store::scan::ScanPageRecord) -> PageView {
    let mut code: serde_json::Value = serde_json::from_str(&p.page.mark).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = code.as_object_mut() {
        obj.remove("reference");
    }
    PageView {
        page_id: p.page.page_id,
        file_index: p.page.file_index,
        page_number: p.page.page_number,
        entry: p.page.entry,
        outcome: p.outcome,
        letter_id: p.letter_id,
        reply_id: p.reply_id,
        duplicate_of: p.duplicate_of,
        review_reason: p.review_reason,
        review_detail: p.review_detail,
        code,
        decode: p
            .page
            .decode_log
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null),
        decode_ms: p.page.decode_ms,
    }
}
