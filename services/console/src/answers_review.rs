//! The post office's queue of answers to read by eye: a reply whose tick boxes the scanner
//! could not read with certainty, shown large with its question beside it; the operator picks
//! the box that is ticked, or "no box ticked", from the keyboard, and goes on to the next.
//! Decisions go through `hybridpost_intake::decide_answer`, as the API's do.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::ReplyId;
use hybridpost_intake::{ReadByEye, Reviewer};
use hybridpost_store::scan;
use hybridpost_web::problem::ApiError;
use serde::Deserialize;

use crate::batches::{site_of, when};
use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, see_other};

/// Why the scanner was not certain, for the operator.
fn reason_words(reason: &str, lang: Lang) -> &'static str {
    let (th, en) = match reason {
        "several_marked" => {
            ("มีเครื่องหมายมากกว่าหนึ่งช่อง หรือมีการแก้ไขคำตอบ", "more than one box is marked, or an answer was corrected")
        }
        "unclear_mark" => ("เครื่องหมายจางหรือเล็กเกินกว่าจะอ่านได้แน่นอน", "a mark is too faint or too small to be sure of"),
        "ink_around_boxes" => ("มีหมึกหรือตราประทับทับบริเวณช่องคำตอบ", "ink or a stamp lies over the answer boxes"),
        "boxes_not_found" => ("หาตำแหน่งช่องคำตอบในภาพไม่พบ", "the answer boxes could not be found in the scan"),
        "codes_not_found" => ("อ่านรหัสตอบกลับบนหน้านี้ไม่ได้", "the reply codes on this page could not be read"),
        _ => ("ระบบอ่านคำตอบไม่ได้อย่างแน่นอน", "the answer could not be read with certainty"),
    };
    lang.pick(th, en)
}

/// The site's queue: the oldest answer waiting, or word that none is.
pub(crate) async fn next_answer(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    let site = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    let found = async {
        let mut conn = state.store.read().await?;
        scan::answers_to_review(&mut conn, site, None, 1).await
    }
    .await;
    match found {
        Ok(replies) => match replies.first() {
            Some(r) => see_other(&format!("/console/review/answers/{}", r.reply_id)),
            None => pages::render(
                StatusCode::OK,
                "review_answers_empty.html",
                me.lang,
                serde_json::json!({"me": crate::me_context(&me), "csrf": me.session.csrf_token, "path": "/console/review/answers"}),
            ),
        },
        Err(e) => {
            tracing::error!("cannot read the answers to review: {e}");
            pages::unavailable(me.lang)
        }
    }
}

/// One answer to read: the page with the boxes, the question and the choices.
pub(crate) async fn answer(State(state): State<ConsoleState>, me: SignedIn, Path(reply_id): Path<ReplyId>) -> Response {
    render(&state, &me, reply_id, StatusCode::OK, None).await
}

async fn render(
    state: &ConsoleState,
    me: &SignedIn,
    reply_id: ReplyId,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let site = match site_of(me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let reply = scan::site_reply(&mut conn, site, reply_id).await?;
        let waiting = scan::count_answers_to_review(&mut conn, site).await?;
        Ok((reply, waiting))
    }
    .await;
    let (reply, waiting) = match found {
        Ok((Some(reply), waiting)) => (reply, waiting),
        Ok((None, _)) => return pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read a reply to review: {e}");
            return pages::unavailable(me.lang);
        }
    };
    if reply.answer_status.as_deref() != Some("needs_review") {
        return already_decided(me.lang);
    }
    let item = match hybridpost_intake::answer_to_review(&state.intake, &reply).await {
        Ok(Some(item)) => item,
        Ok(None) => return pages::unavailable(me.lang),
        Err(e) => {
            tracing::error!(reply.id = %reply_id, "cannot show an answer to review: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let en = me.lang == Lang::English;
    let choices: Vec<serde_json::Value> = item
        .choices
        .iter()
        .map(|c| serde_json::json!({"value": c.choice, "label": if en { &c.label_en } else { &c.label_th }}))
        .collect();
    pages::render(
        status,
        "review_answer.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": format!("/console/review/answers/{reply_id}"),
            "reply": reply_id.to_string(),
            "page": item.page_id.map(|p| p.to_string()),
            "received": when(&item.received_at, me.lang),
            "why": reason_words(&item.reason, me.lang),
            "choices": choices,
            "waiting": waiting,
            "error": error,
        }),
    )
}

fn already_decided(lang: Lang) -> Response {
    pages::message(
        StatusCode::CONFLICT,
        lang,
        ("คำตอบนี้ตรวจแล้ว", "Already read"),
        (
            "คำตอบของหนังสือตอบกลับนี้ไม่ได้รอการตรวจแล้ว กลับไปที่คิวเพื่อดูรายการถัดไป",
            "This reply's answer is no longer waiting to be read. Go back to the queue for the next one.",
        ),
    )
}

#[derive(Deserialize)]
pub(crate) struct AnswerForm {
    #[serde(default)]
    csrf: String,
    /// A choice's number, or `none`.
    #[serde(default)]
    choice: String,
}

/// Records what the operator read: a choice, or no box ticked.
pub(crate) async fn decide(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(reply_id): Path<ReplyId>,
    Form(form): Form<AnswerForm>,
) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let site_id = match site_of(&me) {
        Ok(site) => site,
        Err(r) => return r,
    };
    let read = match form.choice.as_str() {
        "none" => ReadByEye::NoBox,
        "cannot_tell" => ReadByEye::CannotTell,
        "" => {
            let why = me.lang.pick(
                "กรุณาเลือกช่องที่กา หรือ \"ไม่ได้กาช่องใด\" หรือ \"บอกไม่ได้\"",
                "Choose the box that is ticked, \"no box is ticked\" or \"cannot tell\".",
            );
            return render(&state, &me, reply_id, StatusCode::UNPROCESSABLE_ENTITY, Some(why.to_owned())).await;
        }
        n => match n.parse::<u8>() {
            Ok(n) => ReadByEye::Choice(n),
            Err(_) => return pages::refused(StatusCode::BAD_REQUEST, me.lang),
        },
    };
    let who = Reviewer {
        site_id,
        by: format!("person:{}", me.person.person_id),
        audit: Some(me.audit("reply.answer_read", None)),
    };
    match hybridpost_intake::decide_answer(&state.intake, &who, reply_id, read, None).await {
        Ok(_) => see_other("/console/review/answers"),
        Err(ApiError::Conflict { .. }) => already_decided(me.lang),
        Err(ApiError::NotFound(_)) => pages::not_found(),
        Err(ApiError::Validation(e)) => {
            render(&state, &me, reply_id, StatusCode::UNPROCESSABLE_ENTITY, Some(e.to_string())).await
        }
        Err(other) => {
            tracing::error!(reply.id = %reply_id, "an answer decision failed: {other}");
            pages::unavailable(me.lang)
        }
    }
}
