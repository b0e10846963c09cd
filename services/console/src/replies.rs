//! An agency's replies inbox: replies not yet handled, newest first, each with its letter and
//! its PDF; a person marks one handled (with a note), and the handled ones say who and when.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{AgencyScope, ReplyId};
use hybridpost_store::{now_text, scan};
use serde::Deserialize;

use crate::batches::when;
use crate::letters::{agency_of, may_send};
use crate::pages;
use crate::{ConsoleState, SignedIn, me_context, see_other};

/// Replies on one screen.
const PER_PAGE: i64 = 50;
/// The longest note.
const MAX_NOTE_CHARS: usize = 500;

#[derive(Default, Deserialize)]
pub(crate) struct InboxQuery {
    #[serde(default)]
    handled: String,
    before: Option<String>,
}

pub(crate) async fn inbox_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Query(q): Query<InboxQuery>,
) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let handled = q.handled == "1";
    let before = match q.before.as_deref().map(str::parse::<ReplyId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return pages::not_found(),
    };
    let scope = AgencyScope { agency_id: agency, test: false };
    let found = async {
        let mut conn = state.store.read().await?;
        scan::agency_inbox(&mut conn, scope, handled, before, PER_PAGE + 1).await
    }
    .await;
    let mut replies = match found {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot read the replies inbox: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let more = replies.len() > PER_PAGE as usize;
    replies.truncate(PER_PAGE as usize);
    let older = more.then(|| replies.last().map(|r| r.reply.reply_id.to_string())).flatten();
    let rows: Vec<serde_json::Value> = replies
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.reply.reply_id.to_string(), "letter": r.reply.letter_id.to_string(), "reference": r.reference,
                "recipient": r.recipient_name, "at": when(&r.reply.created_at, me.lang), "pages": r.reply.page_count,
                "handled_at": r.handled_at.as_deref().map(|at| when(at, me.lang)), "handled_by": r.handled_by,
                "note": r.handled_note,
                "answer": answer_words(r.reply.answer.as_deref(), me.lang),
            })
        })
        .collect();
    pages::render(
        StatusCode::OK,
        "replies.html",
        me.lang,
        serde_json::json!({
            "me": me_context(&me), "csrf": me.session.csrf_token, "path": "/console/replies",
            "handled": handled, "replies": rows, "older": older, "may_handle": may_send(&me),
        }),
    )
}

/// The answer read from a reply's tick boxes, in the reader's language; `None` when the letter
/// asked no question (or the stored answer does not read back).
fn answer_words(stored: Option<&str>, lang: crate::Lang) -> Option<String> {
    let answer: hybridpost_intake::ReplyAnswer = serde_json::from_str(stored?).ok()?;
    let (th, en) = answer.words();
    Some(if lang == crate::Lang::Thai { th } else { en })
}

#[derive(Deserialize)]
pub(crate) struct HandledForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// Marks a reply handled by the signed-in person, with the audit line.
pub(crate) async fn mark_handled(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(reply_id): Path<ReplyId>,
    Form(form): Form<HandledForm>,
) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    if !may_send(&me) {
        return pages::not_found();
    }
    let note: String = form.note.trim().chars().take(MAX_NOTE_CHARS).collect();
    let scope = AgencyScope { agency_id: agency, test: false };
    let done: hybridpost_store::Result<bool> = async {
        let mut tx = state.store.begin().await?;
        let marked = scan::mark_reply_handled(
            &mut tx,
            scope,
            reply_id,
            me.person.person_id,
            Some(note.as_str()).filter(|n| !n.is_empty()),
            &now_text(),
        )
        .await?;
        if marked {
            let entry = me.audit("reply.handled", (!note.is_empty()).then(|| serde_json::json!({"note": note})));
            hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &reply_id.to_string()).await?;
        }
        tx.commit().await?;
        Ok(marked)
    }
    .await;
    match done {
        // Marked now, or by a colleague a moment ago: either way it is no longer waiting.
        Ok(_) => see_other("/console/replies"),
        Err(e) => {
            tracing::error!("cannot mark a reply handled: {e}");
            pages::unavailable(me.lang)
        }
    }
}
