//! Print batches for post-office staff: the site's batches, closing one now, a batch's letters,
//! its PDF and manifest, a reprint of chosen envelopes, marking it printed, and dispatching it
//! with a roll of labels or by scanning each envelope's barcode. Every step goes through
//! `hybridpost_printroom::steps`, as the API's do, and is written to the audit log.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hybridpost_core::{BatchId, BatchStatus, TrackingNumber, Workplace};
use hybridpost_printroom::steps::{self, FileError};
use hybridpost_store::print::{self, BatchLetter, BatchRecord, BatchStepError};
use serde::Deserialize;

use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, audit, see_other};

/// Letters listed on one page of a batch.
const LETTERS_PER_PAGE: usize = 200;
/// Batches listed on one page.
const BATCHES_PER_PAGE: i64 = 50;

/// The person's site, or the answer for someone who has none (agency staff).
pub(crate) fn site_of(me: &SignedIn) -> Result<hybridpost_core::SiteId, Response> {
    match me.person.workplace {
        Workplace::Site(site) => Ok(site),
        Workplace::Agency(_) => Err(pages::not_found()),
    }
}

/// A stored UTC time as Thai readers (Buddhist era, Bangkok time) or English readers write it.
pub(crate) fn when(at: &str, lang: Lang) -> String {
    let Ok(t) = hybridpost_store::parse_timestamp(at) else { return at.to_owned() };
    let t = t.to_offset(time::macros::offset!(+7));
    match lang {
        Lang::Thai => {
            format!("{} {:02}:{:02} น.", hybridpost_thai::format_thai_date_short(t.date()), t.hour(), t.minute())
        }
        Lang::English => {
            format!("{} {} {} {:02}:{:02}", t.day(), &t.month().to_string()[..3], t.year(), t.hour(), t.minute())
        }
    }
}

pub(crate) fn status_name(status: BatchStatus, lang: Lang) -> &'static str {
    match status {
        BatchStatus::Closed => lang.pick("รอจัดทำไฟล์", "waiting to render"),
        BatchStatus::Rendering => lang.pick("กำลังจัดทำไฟล์", "rendering"),
        BatchStatus::Ready => lang.pick("พร้อมพิมพ์", "ready to print"),
        BatchStatus::Printed => lang.pick("พิมพ์แล้ว รอส่ง", "printed, to dispatch"),
        BatchStatus::Dispatched => lang.pick("ส่งแล้ว", "dispatched"),
    }
}

fn summary(b: &BatchRecord, lang: Lang) -> serde_json::Value {
    serde_json::json!({
        "id": b.batch_id.to_string(),
        "status": b.status.as_str(),
        "status_name": status_name(b.status, lang),
        "letters": crate::today::number(b.letter_count),
        "pages": crate::today::number(b.page_count),
        "sheets": crate::today::number(b.sheet_count),
        "created": when(&b.created_at, lang),
        "rendered": b.rendered_at.as_deref().map(|t| when(t, lang)),
        "printed": b.printed_at.as_deref().map(|t| when(t, lang)),
        "dispatched": b.dispatched_at.as_deref().map(|t| when(t, lang)),
    })
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    before: Option<BatchId>,
}

pub(crate) async fn list_page(State(state): State<ConsoleState>, me: SignedIn, Query(q): Query<ListQuery>) -> Response {
    let site = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    render_list(&state, &me, site, q.before, StatusCode::OK, None).await
}

async fn render_list(
    state: &ConsoleState,
    me: &SignedIn,
    site: hybridpost_core::SiteId,
    before: Option<BatchId>,
    status: StatusCode,
    message: Option<(&str, &str)>,
) -> Response {
    let found = async {
        let mut conn = state.store.read().await?;
        print::list_batches(&mut conn, site, before, BATCHES_PER_PAGE + 1).await
    }
    .await;
    let mut batches = match found {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot list batches: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let more = batches.len() > BATCHES_PER_PAGE as usize;
    batches.truncate(BATCHES_PER_PAGE as usize);
    pages::render(
        status,
        "batches.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": "/console/batches",
            "batches": batches.iter().map(|b| summary(b, me.lang)).collect::<Vec<_>>(),
            "older": if more { batches.last().map(|b| b.batch_id.to_string()) } else { None },
            "message": message.map(|m| if me.lang == Lang::Thai { m.0 } else { m.1 }),
        }),
    )
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// Closes a batch now with the letters waiting for this site.
pub(crate) async fn close_now(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Form(form): Form<TokenForm>,
) -> Response {
    let site = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    match hybridpost_printroom::close_batch_for_site(&state.print, site, Some(&me.audit("batch.close", None))).await {
        Ok(Some(batch)) => see_other(&format!("/console/batches/{}", batch.batch_id)),
        Ok(None) => {
            render_list(
                &state,
                &me,
                site,
                None,
                StatusCode::CONFLICT,
                Some((
                    "ไม่มีหนังสือรอพิมพ์สำหรับที่ทำการนี้ จึงไม่ได้ปิดชุดพิมพ์",
                    "No letters are waiting for this site, so no batch was closed.",
                )),
            )
            .await
        }
        Err(e) => {
            tracing::error!("cannot close a batch from the console: {e:#}");
            pages::unavailable(me.lang)
        }
    }
}

/// Every letter of a batch, in envelope order (for the steps that need them all).
async fn all_letters(state: &ConsoleState, me: &SignedIn, batch_id: BatchId) -> Result<Vec<BatchLetter>, Response> {
    let found = async {
        let mut conn = state.store.read().await?;
        print::batch_letters(&mut conn, batch_id).await
    }
    .await;
    found.map_err(|e| {
        tracing::error!("cannot read a batch's letters: {e}");
        pages::unavailable(me.lang)
    })
}

/// The batch of this person's site, or the page that says there is none (another site's batch
/// is "not found", as it is over the API).
async fn site_batch(state: &ConsoleState, me: &SignedIn, batch_id: BatchId) -> Result<BatchRecord, Response> {
    let site = site_of(me)?;
    let found = async {
        let mut conn = state.store.read().await?;
        print::get_batch(&mut conn, Some(site), batch_id).await
    }
    .await;
    match found {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(pages::not_found()),
        Err(e) => {
            tracing::error!("cannot read a batch: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct DetailQuery {
    page: Option<usize>,
}

pub(crate) async fn detail_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<BatchId>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let batch = match site_batch(&state, &me, batch_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    render_detail(&state, &me, &batch, q.page.unwrap_or(1), StatusCode::OK, None).await
}

/// A batch's page: its facts, one page of its letters, and the steps its state allows.
async fn render_detail(
    state: &ConsoleState,
    me: &SignedIn,
    batch: &BatchRecord,
    page: usize,
    status: StatusCode,
    reprint_error: Option<String>,
) -> Response {
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let (count, low, high) = print::batch_extent(&mut conn, batch.batch_id).await?;
        let pages_total = usize::try_from(count).unwrap_or(0).div_ceil(LETTERS_PER_PAGE).max(1);
        let page = page.clamp(1, pages_total);
        let skip = i64::try_from((page - 1) * LETTERS_PER_PAGE).unwrap_or(i64::MAX);
        let shown = print::batch_letters_from(&mut conn, batch.batch_id, skip, LETTERS_PER_PAGE as i64).await?;
        Ok((page, pages_total, low, high, shown))
    }
    .await;
    let (page, pages_total, low, high, letters) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("cannot read a batch's letters: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let shown: Vec<serde_json::Value> = letters
        .iter()
        .map(|l| {
            serde_json::json!({
                "envelope": l.position, "postcode": l.postcode,
                "first_page": l.first_page, "pages": l.pages, "tracking": l.tracking_number,
            })
        })
        .collect();
    let postcodes = (low, high);
    let path = format!("/console/batches/{}", batch.batch_id);
    pages::render(
        status,
        "batch.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": path,
            "batch": summary(batch, me.lang),
            "postcodes": [postcodes.0, postcodes.1],
            "letters": shown,
            "page": page,
            "pages_total": pages_total,
            "ready": batch.status == BatchStatus::Ready,
            "printed": batch.status == BatchStatus::Printed,
            "rendered": !matches!(batch.status, BatchStatus::Closed | BatchStatus::Rendering),
            "max_reprint": hybridpost_printroom::MAX_REPRINT_LETTERS,
            "reprint_error": reprint_error,
        }),
    )
}

fn file_problem(e: FileError, lang: Lang) -> Response {
    match e {
        FileError::NotReady(_) => pages::message(
            StatusCode::CONFLICT,
            lang,
            ("ไฟล์ยังไม่พร้อม", "Not ready yet"),
            (
                "ระบบกำลังจัดทำไฟล์ของชุดพิมพ์นี้ กรุณารอสักครู่แล้วโหลดหน้าใหม่",
                "The batch is still being rendered. Wait a moment and reload the page.",
            ),
        ),
        FileError::Storage(why) => {
            tracing::error!("a batch file cannot be read: {why}");
            pages::unavailable(lang)
        }
    }
}

/// The batch's PDF, to save and print.
pub(crate) async fn pdf(State(state): State<ConsoleState>, me: SignedIn, Path(batch_id): Path<BatchId>) -> Response {
    let batch = match site_batch(&state, &me, batch_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match steps::open_pdf(&state.print, &batch).await {
        Ok((file, len)) => hybridpost_web::Download::pdf()
            .attachment(&format!("batch-{batch_id}.pdf"))
            .length(len)
            .etag(batch.pdf_sha256.as_deref())
            .stream(file)
            .unwrap_or_else(IntoResponse::into_response),
        Err(e) => file_problem(e, me.lang),
    }
}

/// The batch's manifest as CSV.
pub(crate) async fn manifest(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<BatchId>,
) -> Response {
    let batch = match site_batch(&state, &me, batch_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match steps::manifest(&state.print, &batch).await {
        Ok(entries) => hybridpost_web::Download::new("text/csv; charset=utf-8")
            .attachment(&format!("batch-{batch_id}.csv"))
            .body(steps::manifest_csv(&entries))
            .unwrap_or_else(IntoResponse::into_response),
        Err(e) => file_problem(e, me.lang),
    }
}

#[derive(Deserialize)]
pub(crate) struct ReprintForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    envelopes: String,
}

/// Envelope numbers written as `3, 7-9`: each number from 1 to `last`, in order, once.
pub(crate) fn parse_envelopes(text: &str, last: i64) -> Result<Vec<i64>, (String, String)> {
    let bad = |part: &str| {
        (
            format!("“{part}” ไม่ใช่หมายเลขซองหรือช่วงหมายเลขซอง (เช่น 3, 7-9)"),
            format!("“{part}” is not an envelope number or range (such as 3, 7-9)."),
        )
    };
    let mut out = Vec::new();
    for part in text.split([',', ' ', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => {
                (a.trim().parse::<i64>().map_err(|_| bad(part))?, b.trim().parse::<i64>().map_err(|_| bad(part))?)
            }
            None => {
                let n = part.parse::<i64>().map_err(|_| bad(part))?;
                (n, n)
            }
        };
        if from < 1 || to < from || to > last {
            return Err((
                format!("“{part}”: หมายเลขซองต้องอยู่ระหว่าง 1 ถึง {last}"),
                format!("“{part}”: envelope numbers run from 1 to {last}."),
            ));
        }
        if (to - from) as usize > hybridpost_printroom::MAX_REPRINT_LETTERS {
            return Err(too_many());
        }
        out.extend(from..=to);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(("กรุณาระบุหมายเลขซองที่จะพิมพ์ใหม่".into(), "Give the envelope numbers to reprint.".into()));
    }
    if out.len() > hybridpost_printroom::MAX_REPRINT_LETTERS {
        return Err(too_many());
    }
    Ok(out)
}

fn too_many() -> (String, String) {
    let max = hybridpost_printroom::MAX_REPRINT_LETTERS;
    (format!("พิมพ์ใหม่ได้ครั้งละไม่เกิน {max} ซอง"), format!("At most {max} envelopes can be reprinted at once."))
}

/// A PDF of the chosen envelopes' letters, laid out as in the batch.
pub(crate) async fn reprint(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<BatchId>,
    Form(form): Form<ReprintForm>,
) -> Response {
    let batch = match site_batch(&state, &me, batch_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let refuse = |why: (String, String)| {
        let text = if me.lang == Lang::Thai { why.0 } else { why.1 };
        render_detail(&state, &me, &batch, 1, StatusCode::UNPROCESSABLE_ENTITY, Some(text))
    };
    if matches!(batch.status, BatchStatus::Closed | BatchStatus::Rendering) {
        return file_problem(FileError::NotReady(batch_id), me.lang);
    }
    let last = match all_letters(&state, &me, batch_id).await {
        Ok(letters) => letters.iter().map(|l| l.position).max().unwrap_or(0),
        Err(r) => return r,
    };
    let envelopes = match parse_envelopes(&form.envelopes, last) {
        Ok(e) => e,
        Err(why) => return refuse(why).await,
    };
    let pdf = match hybridpost_printroom::reprint(&state.print, &batch, &envelopes).await {
        Ok(pdf) => pdf,
        Err(e) => {
            tracing::warn!(batch.id = %batch_id, "reprint refused: {e:#}");
            return refuse((format!("พิมพ์ใหม่ไม่ได้: {e}"), format!("Cannot reprint: {e}"))).await;
        }
    };
    let detail = serde_json::json!({"envelopes": envelopes});
    if let Err(r) = audit(&state, &me, "batch.reprint", &batch_id.to_string(), Some(detail)).await {
        return r;
    }
    let first = envelopes.first().copied().unwrap_or(0);
    hybridpost_web::Download::pdf()
        .attachment(&format!("batch-{batch_id}-reprint-{first}.pdf"))
        .cache_control("no-store")
        .body(pdf)
        .unwrap_or_else(IntoResponse::into_response)
}

/// Marks the batch printed.
pub(crate) async fn mark_printed(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<BatchId>,
    Form(form): Form<TokenForm>,
) -> Response {
    let site = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    match steps::mark_printed(&state.print, site, batch_id, None, Some(&me.audit("batch.printed", None))).await {
        Ok(_) => see_other(&format!("/console/batches/{batch_id}")),
        Err(e) => step_problem(e, me.lang),
    }
}

fn step_problem(e: BatchStepError, lang: Lang) -> Response {
    match e {
        BatchStepError::NotFound => pages::not_found(),
        BatchStepError::WrongStatus(status) => pages::message(
            StatusCode::CONFLICT,
            lang,
            ("ทำขั้นตอนนี้ไม่ได้", "This step cannot be done"),
            match status {
                BatchStatus::Closed | BatchStatus::Rendering => {
                    ("ชุดพิมพ์นี้ยังจัดทำไฟล์ไม่เสร็จ", "The batch is still being rendered.")
                }
                BatchStatus::Ready => ("ชุดพิมพ์นี้ยังไม่ได้บันทึกว่าพิมพ์แล้ว", "The batch has not been marked printed yet."),
                BatchStatus::Printed => ("ชุดพิมพ์นี้บันทึกว่าพิมพ์แล้ว", "The batch is already marked printed."),
                BatchStatus::Dispatched => ("ชุดพิมพ์นี้ส่งแล้ว", "The batch is already dispatched."),
            },
        ),
        BatchStepError::Tracking(why) => pages::message(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            ("เลขพัสดุไม่ถูกต้อง", "Tracking numbers refused"),
            (&why, &why),
        ),
        BatchStepError::Store(e) => {
            tracing::error!("a batch step failed: {e}");
            pages::unavailable(lang)
        }
    }
}

pub(crate) async fn dispatch_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<BatchId>,
) -> Response {
    let batch = match site_batch(&state, &me, batch_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let count = async {
        let mut conn = state.store.read().await?;
        print::batch_extent(&mut conn, batch_id).await
    }
    .await;
    match count {
        Ok((count, _, _)) => render_dispatch(&me, &batch, count, StatusCode::OK, &DispatchForm::default(), &[]),
        Err(e) => {
            tracing::error!("cannot count a batch's letters: {e}");
            pages::unavailable(me.lang)
        }
    }
}

#[derive(Default, Deserialize)]
pub(crate) struct DispatchForm {
    #[serde(default)]
    csrf: String,
    /// `roll` or `scan`.
    #[serde(default)]
    how: String,
    #[serde(default)]
    first: String,
    #[serde(default)]
    numbers: String,
}

fn render_dispatch(
    me: &SignedIn,
    batch: &BatchRecord,
    count: i64,
    status: StatusCode,
    form: &DispatchForm,
    errors: &[(String, String)],
) -> Response {
    let error_of = |field: &str| errors.iter().find(|(f, _)| f == field).map(|(_, e)| e.clone());
    let scan_errors: Vec<&String> = errors.iter().filter(|(f, _)| f == "numbers").map(|(_, e)| e).collect();
    pages::render(
        status,
        "dispatch.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": format!("/console/batches/{}/dispatch", batch.batch_id),
            "batch": summary(batch, me.lang),
            "count": count,
            "printed": batch.status == BatchStatus::Printed,
            "first": form.first,
            "numbers": form.numbers,
            "first_error": error_of("first"),
            "scan_errors": scan_errors,
        }),
    )
}

/// Checks scanned numbers, one line per envelope in envelope order: each a valid S10 number,
/// none twice, as many as there are envelopes. Every problem is listed, by line.
pub(crate) fn check_scanned(
    text: &str,
    letters: &[BatchLetter],
    lang: Lang,
) -> Result<Vec<(hybridpost_core::LetterId, String)>, Vec<String>> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut numbers = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        match TrackingNumber::parse(line) {
            Ok(number) => {
                let number = number.to_string();
                if let Some(first) = seen.insert(number.clone(), n) {
                    problems.push(match lang {
                        Lang::Thai => format!("ซองที่ {n}: {number} ซ้ำกับซองที่ {first}"),
                        Lang::English => format!("envelope {n}: {number} was already scanned for envelope {first}"),
                    });
                }
                numbers.push(number);
            }
            Err(e) => problems.push(match lang {
                Lang::Thai => format!("ซองที่ {n}: “{line}” ไม่ใช่เลขพัสดุที่ถูกต้อง ({e})"),
                Lang::English => format!("envelope {n}: “{line}” is not a valid tracking number ({e})"),
            }),
        }
    }
    if lines.len() != letters.len() {
        problems.push(match lang {
            Lang::Thai => format!("สแกนแล้ว {} ซอง จากทั้งหมด {} ซอง", lines.len(), letters.len()),
            Lang::English => format!("{} of {} envelopes scanned", lines.len(), letters.len()),
        });
    }
    if problems.is_empty() { Ok(letters.iter().map(|l| l.letter_id).zip(numbers).collect()) } else { Err(problems) }
}

/// Marks the batch dispatched with a roll's first number or the scanned numbers.
pub(crate) async fn dispatch(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<BatchId>,
    Form(form): Form<DispatchForm>,
) -> Response {
    let batch = match site_batch(&state, &me, batch_id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let letters = match all_letters(&state, &me, batch_id).await {
        Ok(letters) => letters,
        Err(r) => return r,
    };
    let count = letters.len() as i64;
    let tracking = if form.how == "scan" {
        check_scanned(&form.numbers, &letters, me.lang)
            .map_err(|p| p.into_iter().map(|e| ("numbers".to_owned(), e)).collect::<Vec<_>>())
    } else {
        steps::tracking_from_roll(&letters, &form.first)
            .map_err(|p| p.into_iter().map(|(_, e)| ("first".to_owned(), e)).collect::<Vec<_>>())
    };
    let tracking = match tracking {
        Ok(t) => t,
        Err(errors) => return render_dispatch(&me, &batch, count, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors),
    };
    let detail = serde_json::json!({
        "letters": tracking.len(), "how": if form.how == "scan" { "scanned" } else { "roll" },
        "first": tracking.first().map(|(_, n)| n.clone()), "last": tracking.last().map(|(_, n)| n.clone()),
    });
    let audit = me.audit("batch.dispatch", Some(detail));
    match steps::mark_dispatched(&state.print, batch.site_id, batch_id, &tracking, None, Some(&audit)).await {
        Ok(_) => see_other(&format!("/console/batches/{batch_id}")),
        Err(BatchStepError::Tracking(why)) => {
            let field = if form.how == "scan" { "numbers" } else { "first" };
            render_dispatch(&me, &batch, count, StatusCode::UNPROCESSABLE_ENTITY, &form, &[(field.to_owned(), why)])
        }
        Err(e) => step_problem(e, me.lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hybridpost_core::{AgencyId, LetterId};

    fn letters(n: i64) -> Vec<BatchLetter> {
        (1..=n)
            .map(|position| BatchLetter {
                letter_id: LetterId::new(),
                agency_id: AgencyId::new(),
                position,
                postcode: "10400".into(),
                first_page: Some(position * 2),
                pages: Some(1),
                sheets: Some(1),
                tracking_number: None,
            })
            .collect()
    }

    #[test]
    fn envelopes_are_numbers_and_ranges_within_the_batch() {
        assert_eq!(parse_envelopes("3, 7-9", 10).unwrap(), [3, 7, 8, 9]);
        assert_eq!(parse_envelopes("9 3 3", 10).unwrap(), [3, 9]);
        assert!(parse_envelopes("", 10).unwrap_err().1.contains("Give the envelope numbers"));
        assert!(parse_envelopes("0", 10).unwrap_err().1.contains("from 1 to 10"));
        assert!(parse_envelopes("8-11", 10).unwrap_err().1.contains("from 1 to 10"));
        assert!(parse_envelopes("x", 10).unwrap_err().1.contains("is not an envelope number"));
        assert!(parse_envelopes("1-60", 100).unwrap_err().1.contains("At most 50"));
    }

    #[test]
    fn scanned_numbers_are_checked_line_by_line() {
        let batch = letters(3);
        let ok = check_scanned("RB123456785TH\nrb123456799th\n\nRB123456808TH\n", &batch, Lang::English).unwrap();
        assert_eq!(
            ok.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["RB123456785TH", "RB123456799TH", "RB123456808TH"]
        );
        assert_eq!(ok[0].0, batch[0].letter_id, "in envelope order");
        let problems =
            check_scanned("RB123456785TH\nRB123456786TH\nRB123456785TH\nRB123456799TH", &batch, Lang::English)
                .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("envelope 2: “RB123456786TH” is not a valid tracking number"), "{problems:?}");
        assert!(problems[1].contains("envelope 3: RB123456785TH was already scanned for envelope 1"));
        assert_eq!(problems[2], "4 of 3 envelopes scanned");
        let thai = check_scanned("RB123456785TH", &batch, Lang::Thai).unwrap_err();
        assert_eq!(thai, ["สแกนแล้ว 1 ซอง จากทั้งหมด 3 ซอง"]);
    }
}
