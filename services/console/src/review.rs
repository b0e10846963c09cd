//! The review queue for post-office staff: each page whose codes could not be read, large and
//! upright; the operator types the reference printed on it (checked as it is typed), sees
//! whose letter it names before confirming, and assigns the page (with the pages after it) or
//! discards it with a reason, then goes on to the next — all from the keyboard. Decisions go
//! through `hybridpost_intake::decide`, as the API's do; nothing leaves the queue silently.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{PageOutcome, ScanPageId};
use hybridpost_intake::{ReviewDecision, Reviewer};
use hybridpost_store::scan::{self, ScanPageRecord};
use hybridpost_web::problem::ApiError;
use serde::Deserialize;

use crate::batches::{site_of, when};
use crate::pages::{self, Lang};
use crate::scans::site_page;
use crate::{ConsoleState, SignedIn, see_other};

/// The reasons a page is discarded, offered to choose from.
const DISCARD_REASONS: [(&str, &str, &str); 4] = [
    ("blank", "กระดาษเปล่า", "a blank sheet"),
    ("envelope", "ซองจดหมาย", "an envelope"),
    ("not_ours", "เอกสารอื่นที่ไม่ใช่ของระบบนี้", "something else, not for this service"),
    ("duplicate", "สแกนซ้ำ", "scanned twice"),
];

fn reviewer(me: &SignedIn, action: &str) -> Result<Reviewer, Response> {
    Ok(Reviewer {
        site_id: site_of(me)?,
        by: format!("person:{}", me.person.person_id),
        audit: Some(me.audit(action, None)),
    })
}

/// The site's queue: the oldest page waiting, or word that none is.
pub(crate) async fn next_page(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    let site = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    let found = async {
        let mut conn = state.store.read().await?;
        scan::review_pages(&mut conn, site, None, 1).await
    }
    .await;
    match found {
        Ok(pages) => match pages.first() {
            Some(p) => see_other(&format!("/console/review/{}", p.page.page_id)),
            None => pages::render(
                StatusCode::OK,
                "review_empty.html",
                me.lang,
                serde_json::json!({"me": crate::me_context(&me), "csrf": me.session.csrf_token, "path": "/console/review"}),
            ),
        },
        Err(e) => {
            tracing::error!("cannot read the review queue: {e}");
            pages::unavailable(me.lang)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct LookUp {
    reference: Option<String>,
}

pub(crate) async fn page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(page_id): Path<ScanPageId>,
    Query(q): Query<LookUp>,
) -> Response {
    let page = match site_page(&state, &me, page_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let typed = q.reference.unwrap_or_default();
    let (letter, error) = if typed.trim().is_empty() {
        (None, None)
    } else {
        match hybridpost_intake::letter_for_reference(&state.intake, &typed).await {
            Ok(Some(letter)) => (Some(letter), None),
            Ok(None) => (None, Some(no_letter(me.lang))),
            Err(ApiError::Validation(_)) => (None, Some(bad_reference(me.lang))),
            Err(e) => {
                tracing::error!("cannot look up a reference: {e}");
                return pages::unavailable(me.lang);
            }
        }
    };
    let letter_view = match &letter {
        Some(l) => {
            let agency = async {
                let mut conn = state.store.read().await?;
                hybridpost_store::agencies::get_agency(&mut conn, l.agency_id).await
            }
            .await;
            Some(serde_json::json!({
                "reference": l.reference,
                "agency": agency.ok().flatten().map(|a| a.name).unwrap_or_default(),
                "recipient": l.recipient_name(),
                "postcode": l.postcode,
            }))
        }
        None => None,
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    render_page(&state, &me, &page, status, &typed, letter_view, error).await
}

fn no_letter(lang: Lang) -> String {
    lang.pick(
        "ไม่มีหนังสือที่มีเลขอ้างอิงนี้ กรุณาตรวจตัวเลขบนหน้ากระดาษอีกครั้ง",
        "No letter has this reference; check the digits on the page.",
    )
    .to_owned()
}

fn bad_reference(lang: Lang) -> String {
    lang.pick(
        "เลขอ้างอิงไม่ถูกต้อง: ต้องเป็นตัวเลข 30 หลักตามที่พิมพ์บนใบตอบกลับ (หลักสุดท้ายเป็นเลขตรวจสอบ) หรือรหัสใต้ตราตรวจสอบ",
        "Not a reference: type the 30 digits printed on the reply sheet (the last is a check digit), or the code under the seal.",
    )
    .to_owned()
}

async fn render_page(
    state: &ConsoleState,
    me: &SignedIn,
    page: &ScanPageRecord,
    status: StatusCode,
    typed: &str,
    letter: Option<serde_json::Value>,
    error: Option<String>,
) -> Response {
    let page_id = page.page.page_id;
    let site = match site_of(me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    if page.outcome != PageOutcome::Review {
        return pages::message(
            StatusCode::CONFLICT,
            me.lang,
            ("หน้านี้ตรวจสอบแล้ว", "Already decided"),
            (
                "หน้านี้ไม่ได้รอการตรวจสอบแล้ว กลับไปที่คิวเพื่อดูหน้าถัดไป",
                "This page is no longer waiting in review. Go back to the queue for the next one.",
            ),
        );
    }
    // The pages after it in the same scan that wait too: a reply's following pages.
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let following = scan::review_after(&mut conn, &page.page, 10).await?;
        let waiting = scan::count_review(&mut conn, site).await?;
        Ok((following, waiting))
    }
    .await;
    let (following, waiting) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("cannot read the review queue: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let following: Vec<serde_json::Value> = following
        .iter()
        .map(|p| serde_json::json!({"id": p.page.page_id.to_string(), "file": p.page.file_index, "number": p.page.page_number}))
        .collect();
    pages::render(
        status,
        "review.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": format!("/console/review/{page_id}"),
            "page": {
                "id": page_id.to_string(), "file": page.page.file_index, "number": page.page.page_number,
                "why": page.review_detail.clone().unwrap_or_default(), "scanned": when(&page.created_at, me.lang),
                "scan": page.page.scan_id.to_string(), "has_image": page.page.image_blob.is_some(),
            },
            "waiting": waiting,
            "typed": typed,
            "letter": letter,
            "error": error,
            "following": following,
            "reasons": DISCARD_REASONS.iter().map(|(code, th, en)| serde_json::json!({
                "code": code, "name": if me.lang == Lang::Thai { th } else { en },
            })).collect::<Vec<_>>(),
        }),
    )
}

/// The assign form.
pub(crate) struct AssignForm {
    csrf: String,
    reference: String,
    /// Checked pages after it (repeated field).
    with: Vec<ScanPageId>,
}

pub(crate) async fn assign(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(page_id): Path<ScanPageId>,
    body: axum::extract::RawForm,
) -> Response {
    let form = match read_assign_form(&body.0) {
        Ok(f) => f,
        Err(()) => return pages::refused(StatusCode::BAD_REQUEST, me.lang),
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let who = match reviewer(&me, "page.assign") {
        Ok(w) => w,
        Err(r) => return r,
    };
    let decision = ReviewDecision::Assign { reference: form.reference.clone(), with_pages: form.with };
    decided(&state, &me, page_id, &who, decision, &form.reference).await
}

/// Reads an HTML form whose `with` field repeats (one per checked page).
fn read_assign_form(body: &[u8]) -> Result<AssignForm, ()> {
    let mut form = AssignForm { csrf: String::new(), reference: String::new(), with: Vec::new() };
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => form.csrf = v.into_owned(),
            "reference" => form.reference = v.into_owned(),
            "with" => form.with.push(v.parse().map_err(|_| ())?),
            _ => {}
        }
    }
    Ok(form)
}

#[derive(Deserialize)]
pub(crate) struct DiscardForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn discard(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(page_id): Path<ScanPageId>,
    Form(form): Form<DiscardForm>,
) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let who = match reviewer(&me, "page.discard") {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some((code, th, _)) = DISCARD_REASONS.iter().find(|(code, _, _)| *code == form.reason) else {
        let page = match site_page(&state, &me, page_id).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        let why = me.lang.pick("กรุณาเลือกเหตุผลที่ทิ้งหน้านี้", "Choose why the page is discarded.").to_owned();
        return render_page(&state, &me, &page, StatusCode::UNPROCESSABLE_ENTITY, "", None, Some(why)).await;
    };
    let decision = ReviewDecision::Discard { reason: format!("{code}: {th}") };
    decided(&state, &me, page_id, &who, decision, "").await
}

async fn decided(
    state: &ConsoleState,
    me: &SignedIn,
    page_id: ScanPageId,
    who: &Reviewer,
    decision: ReviewDecision,
    typed: &str,
) -> Response {
    match hybridpost_intake::decide(&state.intake, who, page_id, decision, None).await {
        Ok(_) => see_other("/console/review"),
        Err(e) => {
            let page = match site_page(state, me, page_id).await {
                Ok(p) => p,
                Err(r) => return r,
            };
            let why = match &e {
                ApiError::Validation(_) if typed.is_empty() => e.to_string(),
                ApiError::Validation(_) => {
                    if hybridpost_intake::letter_for_reference(&state.intake, typed).await.is_ok() {
                        no_letter(me.lang)
                    } else {
                        bad_reference(me.lang)
                    }
                }
                ApiError::Conflict { detail, .. } => match me.lang {
                    Lang::Thai => format!("ทำรายการนี้ไม่ได้: {detail}"),
                    Lang::English => format!("This cannot be done: {detail}"),
                },
                ApiError::NotFound(_) => return pages::not_found(),
                other => {
                    tracing::error!(page.id = %page_id, "a review decision failed: {other}");
                    return pages::unavailable(me.lang);
                }
            };
            render_page(state, me, &page, e.status(), typed, None, Some(why)).await
        }
    }
}
