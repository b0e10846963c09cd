//! Scan back for post-office staff: upload scanned replies or returned letters (many files at
//! once, each with its progress, through `hybridpost_intake::upload_scan` as the API does), the
//! site's scan batches, and each batch's pages with thumbnails, what became of them and how
//! they were read.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hybridpost_core::{PageOutcome, ReturnReason, ScanId, ScanMode, ScanPageId};
use hybridpost_intake::ConsoleUpload;
use hybridpost_store::BlobKey;
use hybridpost_store::scan::{self, ScanPageRecord, ScanRecord};
use hybridpost_web::problem::ApiError;
use serde::Deserialize;

use crate::batches::{site_of, when};
use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, see_other};

/// Scan batches on one page.
const SCANS_PER_PAGE: i64 = 50;

fn mode_name(mode: ScanMode, lang: Lang) -> &'static str {
    match mode {
        ScanMode::Replies => lang.pick("หนังสือตอบกลับ", "replies"),
        ScanMode::Returns => lang.pick("หนังสือตีกลับ", "returned letters"),
    }
}

pub(crate) fn outcome_name(outcome: PageOutcome, lang: Lang) -> &'static str {
    match outcome {
        PageOutcome::Decoded => lang.pick("อ่านแล้ว รอจับคู่", "read, being matched"),
        PageOutcome::Matched => lang.pick("จับคู่กับหนังสือแล้ว", "matched to its letter"),
        PageOutcome::Returned => lang.pick("บันทึกตีกลับแล้ว", "recorded as returned"),
        PageOutcome::Review => lang.pick("รอตรวจสอบ", "waiting in review"),
        PageOutcome::Duplicate => lang.pick("ซ้ำกับหน้าที่สแกนแล้ว", "a page scanned before"),
        PageOutcome::Assigned => lang.pick("กำหนดในการตรวจสอบแล้ว", "assigned in review"),
        PageOutcome::Discarded => lang.pick("ทิ้งแล้ว", "discarded"),
    }
}

fn reasons(lang: Lang) -> Vec<serde_json::Value> {
    ReturnReason::ALL
        .iter()
        .map(|r| serde_json::json!({"code": r.as_str(), "name": lang.pick(r.thai(), r.english())}))
        .collect()
}

fn scan_view(s: &ScanRecord, lang: Lang) -> serde_json::Value {
    let reason = s.return_reason.as_deref().and_then(|r| r.parse::<ReturnReason>().ok());
    serde_json::json!({
        "id": s.scan_id.to_string(),
        "mode": mode_name(s.mode, lang),
        "reason": reason.map(|r| lang.pick(r.thai(), r.english())),
        "status": s.status.as_str(),
        "files": s.file_count,
        "created": when(&s.created_at, lang),
        "done": s.finished_at.is_some(),
    })
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    before: Option<ScanId>,
}

pub(crate) async fn scans_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    render_scans(&state, &me, q.before, StatusCode::OK, None).await
}

async fn render_scans(
    state: &ConsoleState,
    me: &SignedIn,
    before: Option<ScanId>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let site = match site_of(me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    let found = async {
        let mut conn = state.store.read().await?;
        scan::list_scans(&mut conn, site, before, SCANS_PER_PAGE + 1).await
    }
    .await;
    let mut scans = match found {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot list scans: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let more = scans.len() > SCANS_PER_PAGE as usize;
    scans.truncate(SCANS_PER_PAGE as usize);
    pages::render(
        status,
        "scans.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": "/console/scans",
            "scans": scans.iter().map(|s| scan_view(s, me.lang)).collect::<Vec<_>>(),
            "older": if more { scans.last().map(|s| s.scan_id.to_string()) } else { None },
            "reasons": reasons(me.lang),
            "error": error,
            "max_files": state.intake.config.max_files,
            "max_file_mb": state.intake.config.limits.max_file_bytes / (1024 * 1024),
        }),
    )
}

/// An upload: the page's script sends it with `Accept: application/json` and shows each file's
/// progress; without the script the browser posts the form and lands on the new batch.
pub(crate) async fn upload(
    State(state): State<ConsoleState>,
    me: SignedIn,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let site = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    let result = match multipart {
        Ok(multipart) => {
            let console = ConsoleUpload { form_token: &me.session.csrf_token, audit: me.audit("scan.upload", None) };
            hybridpost_intake::upload_scan(&state.intake, site, None, multipart, Some(console)).await
        }
        Err(r) => Err(ApiError::UnsupportedMediaType(r.body_text())),
    };
    match (result, wants_json) {
        (Ok(accepted), true) => {
            let location = format!("/console/scans/{}", accepted.scan_id);
            (StatusCode::CREATED, axum::Json(serde_json::json!({"scan": accepted, "location": location})))
                .into_response()
        }
        (Ok(accepted), false) => see_other(&format!("/console/scans/{}", accepted.scan_id)),
        // The script shows the problem next to the files.
        (Err(e), true) => e.into_response(),
        (Err(e), false) => {
            let status = e.status();
            let why = upload_problem(&e, me.lang);
            render_scans(&state, &me, None, status, Some(why)).await
        }
    }
}

/// What went wrong with an upload, for the person who sent it.
fn upload_problem(e: &ApiError, lang: Lang) -> String {
    let detail = e.to_string();
    match lang {
        Lang::Thai => format!("อัปโหลดไม่สำเร็จ: {detail}"),
        Lang::English => format!("The upload was refused: {detail}"),
    }
}

/// Pages shown on one screen of a scan batch.
const PAGES_PER_SCREEN: usize = 100;

#[derive(Deserialize)]
pub(crate) struct PagesQuery {
    outcome: Option<String>,
    page: Option<usize>,
}

/// The batch of this person's site, with its files and pages.
async fn site_scan(
    state: &ConsoleState,
    me: &SignedIn,
    scan_id: ScanId,
) -> Result<(ScanRecord, Vec<scan::ScanFileRecord>, Vec<(String, i64)>), Response> {
    let site = site_of(me)?;
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let Some(s) = scan::get_scan(&mut conn, Some(site), scan_id).await? else { return Ok(None) };
        let files = scan::scan_files(&mut conn, scan_id).await?;
        let counts = scan::page_outcomes(&mut conn, Some(scan_id)).await?;
        Ok(Some((s, files, counts)))
    }
    .await;
    match found {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(pages::not_found()),
        Err(e) => {
            tracing::error!("cannot read a scan batch: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

/// How a page was read, in a few words: the code found, or why none was.
fn how_read(p: &ScanPageRecord, lang: Lang) -> String {
    let mark: serde_json::Value = serde_json::from_str(&p.page.mark).unwrap_or_default();
    match mark.get("kind").and_then(|k| k.as_str()) {
        Some("reply") => match lang {
            Lang::Thai => format!(
                "รหัสใบตอบกลับ หน้า {} จาก {}",
                mark["page"].as_i64().unwrap_or(0),
                mark["pages"].as_i64().unwrap_or(0)
            ),
            Lang::English => format!(
                "reply-sheet code, page {} of {}",
                mark["page"].as_i64().unwrap_or(0),
                mark["pages"].as_i64().unwrap_or(0)
            ),
        },
        Some("seal") => lang.pick("ตราตรวจสอบบนหนังสือ", "the letter's seal").to_owned(),
        Some("blank") => lang.pick("หน้าว่าง", "a blank page").to_owned(),
        _ => p.review_detail.clone().unwrap_or_else(|| lang.pick("ไม่พบรหัส", "no code found").to_owned()),
    }
}

pub(crate) async fn scan_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(scan_id): Path<ScanId>,
    Query(q): Query<PagesQuery>,
) -> Response {
    let (s, files, by_outcome) = match site_scan(&state, &me, scan_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let filter = q.outcome.as_deref().and_then(|o| o.parse::<PageOutcome>().ok());
    let count_of = |o: PageOutcome| by_outcome.iter().find(|(name, _)| name == o.as_str()).map_or(0, |(_, n)| *n);
    let counts: Vec<serde_json::Value> = PageOutcome::ALL
        .iter()
        .filter(|o| count_of(**o) > 0)
        .map(|o| serde_json::json!({"code": o.as_str(), "name": outcome_name(*o, me.lang), "count": count_of(*o)}))
        .collect();
    let total = match filter {
        Some(f) => count_of(f),
        None => by_outcome.iter().map(|(_, n)| n).sum(),
    };
    let screens = usize::try_from(total).unwrap_or(0).div_ceil(PAGES_PER_SCREEN).max(1);
    let screen = q.page.unwrap_or(1).clamp(1, screens);
    let found = async {
        let mut conn = state.store.read().await?;
        let skip = i64::try_from((screen - 1) * PAGES_PER_SCREEN).unwrap_or(i64::MAX);
        scan::scan_pages_from(&mut conn, scan_id, filter, skip, PAGES_PER_SCREEN as i64).await
    }
    .await;
    let listed = match found {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("cannot read a scan's pages: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let shown: Vec<serde_json::Value> = listed
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.page.page_id.to_string(),
                "file": p.page.file_index,
                "number": p.page.page_number,
                "outcome": p.outcome.as_str(),
                "outcome_name": outcome_name(p.outcome, me.lang),
                "how": how_read(p, me.lang),
                "thumbnail": p.page.thumbnail_blob.is_some(),
                "review": p.outcome == PageOutcome::Review,
            })
        })
        .collect();
    let file_views: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name, "status": f.status.as_str(), "pages": f.page_count,
                "error": f.error, "size_kb": (f.size_bytes + 1023) / 1024,
            })
        })
        .collect();
    pages::render(
        StatusCode::OK,
        "scan.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(&me),
            "csrf": me.session.csrf_token,
            "path": format!("/console/scans/{scan_id}"),
            "scan": scan_view(&s, me.lang),
            "files": file_views,
            "counts": counts,
            "filter": filter.map(|f| f.as_str()),
            "pages": shown,
            "screen": screen,
            "screens": screens,
        }),
    )
}

/// A page's thumbnail, for this site's people only.
pub(crate) async fn thumbnail(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(page_id): Path<ScanPageId>,
) -> Response {
    page_image(&state, &me, page_id, |p| p.page.thumbnail_blob.clone()).await
}

/// The longer side of a page shown large in the review queue, pixels.
const PREVIEW_SIDE: u32 = 1600;

/// A page of this site, large and upright, for the review queue.
pub(crate) async fn image(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(page_id): Path<ScanPageId>,
) -> Response {
    let page = match site_page(&state, &me, page_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match hybridpost_intake::page_preview(&state.intake, &page, PREVIEW_SIDE).await {
        Ok(Some(png)) => hybridpost_web::Download::new("image/png")
            .cache_control("private, max-age=3600")
            .body(png)
            .unwrap_or_else(IntoResponse::into_response),
        Ok(None) => pages::not_found(),
        Err(e) => {
            tracing::error!(page.id = %page_id, "cannot show a scanned page: {e:#}");
            pages::unavailable(me.lang)
        }
    }
}

/// A scanned page of this person's site.
pub(crate) async fn site_page(
    state: &ConsoleState,
    me: &SignedIn,
    page_id: ScanPageId,
) -> Result<ScanPageRecord, Response> {
    let site = site_of(me)?;
    let found = async {
        let mut conn = state.store.read().await?;
        scan::get_page(&mut conn, site, page_id).await
    }
    .await;
    match found {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(pages::not_found()),
        Err(e) => {
            tracing::error!("cannot read a scanned page: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

async fn page_image(
    state: &ConsoleState,
    me: &SignedIn,
    page_id: ScanPageId,
    key_of: impl Fn(&ScanPageRecord) -> Option<String>,
) -> Response {
    let key = match site_page(state, me, page_id).await {
        Ok(p) => key_of(&p),
        Err(r) => return r,
    };
    let Some(key) = key.and_then(|k| BlobKey::parse(&k).ok()) else { return pages::not_found() };
    match state.intake.blobs.get(&key).await {
        Ok(Some(bytes)) => {
            let kind = if bytes.starts_with(b"\x89PNG") { "image/png" } else { "image/jpeg" };
            hybridpost_web::Download::new(kind)
                .cache_control("private, max-age=3600")
                .body(bytes)
                .unwrap_or_else(IntoResponse::into_response)
        }
        Ok(None) => pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read a scanned page's image: {e}");
            pages::unavailable(me.lang)
        }
    }
}
