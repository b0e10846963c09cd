//! The agency's letters: a list searched by reference or recipient's name, status, channel and
//! date, a page of newest first at a time; and a letter's page with its timeline, its proof,
//! its replies, its tracking number and return reason, and cancel or withdraw where the status
//! machine allows. Live and test letters are never shown together: `?mode=test` shows the
//! test ones. Site people, and another agency's people, get "not found" here.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hybridpost_core::{
    AgencyId, AgencyScope, Channel, EventKind, LetterId, LetterStatus, PersonRole, ReplyId, ReturnReason, Workplace,
};
use hybridpost_gateway::steps::{self, StepRefused, WithdrawReason};
use hybridpost_store::letters::{self, LetterRecord, LetterSearch};
use hybridpost_store::{BlobKey, events, now_text, scan};
use serde::Deserialize;

use crate::batches::when;
use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, me_context, see_other};

/// Letters on one screen of the list.
const PER_PAGE: i64 = 50;

/// The agency of an agency person; everyone else is told the page does not exist.
pub(crate) fn agency_of(me: &SignedIn) -> Result<AgencyId, Response> {
    match me.person.workplace {
        Workplace::Agency(a) => Ok(a),
        Workplace::Site(_) => Err(pages::not_found()),
    }
}

/// Whether the person may change letters (send, cancel, withdraw): agency admins and senders,
/// not viewers.
pub(crate) fn may_send(me: &SignedIn) -> bool {
    matches!(me.person.role, PersonRole::Admin | PersonRole::Sender)
}

/// A status as the agency's clerks read it.
pub(crate) fn status_name(status: LetterStatus, lang: Lang) -> &'static str {
    use LetterStatus::*;
    let (th, en) = match status {
        Accepted => ("รับเรื่องแล้ว", "accepted"),
        QueuedForPrint => ("รอพิมพ์", "waiting for print"),
        Batched => ("อยู่ในชุดพิมพ์", "in a print batch"),
        Printed => ("พิมพ์แล้ว", "printed"),
        Dispatched => ("ส่งออกแล้ว", "dispatched"),
        Delivered => ("นำจ่ายแล้ว", "delivered"),
        Returned => ("ตีกลับ", "returned"),
        Notified => ("แจ้งทางอีเมลแล้ว", "e-mailed"),
        Opened => ("เปิดอ่านแล้ว", "opened"),
        Cancelled => ("ยกเลิกแล้ว", "cancelled"),
        ReplyReceived => ("ได้รับหนังสือตอบกลับ", "reply received"),
    };
    lang.pick(th, en)
}

fn channel_name(channel: Channel, lang: Lang) -> &'static str {
    match channel {
        Channel::Digital => lang.pick("ดิจิทัล (อีเมล)", "digital (e-mail)"),
        Channel::Print => lang.pick("กระดาษ (ไปรษณีย์)", "paper (post)"),
    }
}

pub(crate) fn event_name(kind: EventKind, lang: Lang) -> &'static str {
    use EventKind::*;
    let (th, en) = match kind {
        Accepted => ("รับเรื่อง", "accepted"),
        QueuedForPrint => ("เข้าคิวพิมพ์", "queued for print"),
        Batched => ("จัดเข้าชุดพิมพ์", "put in a print batch"),
        Printed => ("พิมพ์แล้ว", "printed"),
        Dispatched => ("ส่งออกทางไปรษณีย์", "handed to the post"),
        Delivered => ("นำจ่ายถึงผู้รับ", "delivered"),
        Returned => ("ถูกตีกลับ", "returned"),
        Notified => ("ส่งอีเมลแจ้งผู้รับ", "e-mail notice sent"),
        Opened => ("ผู้รับเปิดอ่าน", "opened by the recipient"),
        Cancelled => ("ยกเลิก", "cancelled"),
        ReplyReceived => ("ได้รับหนังสือตอบกลับ", "reply received"),
        RenderFailed => ("จัดหน้าไม่สำเร็จ", "could not be laid out"),
        Unroutable => ("ไม่มีที่ทำการรับพิมพ์", "no print site for its postcode"),
        PrintOverdue => ("รอพิมพ์นานเกินกำหนด", "waiting too long for print"),
        PrintRetried => ("พิมพ์ใหม่", "print retried"),
        Withdrawn => ("เพิกถอน", "withdrawn"),
        OpenedWithPin => ("เปิดดูด้วย PIN", "opened with its PIN"),
        NotificationFailed => ("ส่งอีเมลไม่สำเร็จ", "e-mail notice failed"),
        ChannelChangeRequested => ("ผู้รับขอเปลี่ยนช่องทาง", "recipient asked to change channel"),
        ChannelChangeEffective => ("เปลี่ยนช่องทางแล้ว", "channel changed"),
        ChannelChangeStopped => ("ยกเลิกการเปลี่ยนช่องทาง", "channel change stopped"),
        ChannelReturnedToPaper => ("กลับไปส่งทางกระดาษ", "back to paper"),
        ReplyAnswerReviewed => ("เจ้าหน้าที่อ่านคำตอบที่กาแล้ว", "answer read by post-office staff"),
    };
    lang.pick(th, en)
}

#[derive(Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    /// `YYYY-MM-DD`, Bangkok time.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    mode: String,
    before: Option<String>,
}

/// Midnight in Bangkok of `date` (`YYYY-MM-DD`) as stored times are written (UTC), or `None`.
fn bangkok_midnight(date: &str, days_after: i64) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date.trim(), &format).ok()?;
    let at = day.midnight().assume_offset(time::macros::offset!(+7)) + time::Duration::days(days_after);
    Some(hybridpost_store::timestamp_text(at.to_offset(time::UtcOffset::UTC)))
}

/// The query string of the list with `before` (for the next screen) and everything else kept.
fn list_link(q: &ListQuery, before: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [("q", &q.q), ("status", &q.status), ("channel", &q.channel), ("from", &q.from), ("to", &q.to)] {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    if q.mode == "test" {
        s.append_pair("mode", "test");
    }
    if let Some(b) = before {
        s.append_pair("before", b);
    }
    format!("/console/letters?{}", s.finish())
}

fn scope_of(agency: AgencyId, mode: &str) -> AgencyScope {
    AgencyScope { agency_id: agency, test: mode == "test" }
}

fn mode_suffix(test: bool) -> &'static str {
    if test { "?mode=test" } else { "" }
}

pub(crate) async fn list_page(State(state): State<ConsoleState>, me: SignedIn, Query(q): Query<ListQuery>) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let lang = me.lang;
    let scope = scope_of(agency, &q.mode);
    let mut problems: Vec<&str> = Vec::new();
    let status = match q.status.as_str() {
        "" => None,
        s => s.parse::<LetterStatus>().map_or_else(
            |_| {
                problems.push(lang.pick("สถานะไม่ถูกต้อง", "Unknown status."));
                None
            },
            Some,
        ),
    };
    let channel = match q.channel.as_str() {
        "" => None,
        "digital" => Some(Channel::Digital),
        "print" => Some(Channel::Print),
        _ => {
            problems.push(lang.pick("ช่องทางไม่ถูกต้อง", "Unknown channel."));
            None
        }
    };
    let mut date = |text: &str, days_after: i64| match text.trim() {
        "" => None,
        t => bangkok_midnight(t, days_after).or_else(|| {
            problems.push(lang.pick("วันที่ต้องอยู่ในรูปแบบ ปปปป-ดด-วว", "Dates are written YYYY-MM-DD."));
            None
        }),
    };
    let search = LetterSearch {
        text: Some(q.q.chars().take(100).collect::<String>()).filter(|t| !t.trim().is_empty()),
        status,
        channel,
        created_from: date(&q.from, 0),
        created_before: date(&q.to, 1),
    };
    let before = match q.before.as_deref().map(str::parse::<LetterId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return pages::not_found(),
    };
    let found = async {
        let mut conn = state.store.read().await?;
        let rows = letters::search_letters(&mut conn, scope, &search, before, PER_PAGE + 1).await?;
        let held = hybridpost_store::letter_batches::held_letters(&mut conn, scope, &now_text()).await?;
        Ok::<_, hybridpost_store::StoreError>((rows, held))
    }
    .await;
    let (mut rows, (held_letters, held_batches)) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("cannot search letters: {e}");
            return pages::unavailable(lang);
        }
    };
    let more = rows.len() > usize::try_from(PER_PAGE).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(PER_PAGE).unwrap_or(usize::MAX));
    let older = more.then(|| rows.last().map(|l| list_link(&q, Some(&l.letter_id.to_string())))).flatten();
    let letters: Vec<serde_json::Value> = rows
        .iter()
        .map(|l| {
            serde_json::json!({
                "id": l.letter_id.to_string(), "reference": l.reference, "recipient": l.recipient_name(),
                "subject": l.subject(), "status": status_name(l.status, lang), "status_code": l.status.as_str(),
                "channel": channel_name(l.channel, lang), "created": when(&l.created_at, lang),
            })
        })
        .collect();
    let statuses: Vec<serde_json::Value> = LetterStatus::ALL
        .iter()
        .map(|s| serde_json::json!({"code": s.as_str(), "name": status_name(*s, lang)}))
        .collect();
    pages::render(
        if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY },
        "letters.html",
        lang,
        serde_json::json!({
            "me": me_context(&me), "csrf": me.session.csrf_token, "path": "/console/letters",
            "q": {"q": q.q, "status": q.status, "channel": q.channel, "from": q.from, "to": q.to},
            "test": scope.test, "problems": problems, "statuses": statuses, "letters": letters, "older": older,
            "mode": mode_suffix(scope.test), "first": q.before.is_some().then(|| list_link(&q, None)),
            "held": {"letters": held_letters, "batches": held_batches},
        }),
    )
}

#[derive(Default, Deserialize)]
pub(crate) struct ModeQuery {
    #[serde(default)]
    mode: String,
}

/// The letter of `letter_id` in the person's agency and the asked mode, or the page to show.
async fn letter_of(
    state: &ConsoleState,
    me: &SignedIn,
    letter_id: LetterId,
    mode: &str,
) -> Result<(AgencyScope, LetterRecord), Response> {
    let scope = scope_of(agency_of(me)?, mode);
    let found = async {
        let mut conn = state.store.read().await?;
        letters::get_letter(&mut conn, scope, letter_id).await
    }
    .await;
    match found {
        Ok(Some(letter)) => Ok((scope, letter)),
        Ok(None) => Err(pages::not_found()),
        Err(e) => {
            tracing::error!("cannot read a letter: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

async fn render_letter(
    state: &ConsoleState,
    me: &SignedIn,
    scope: AgencyScope,
    letter: &LetterRecord,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let lang = me.lang;
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let timeline = events::letter_timeline(&mut conn, letter.letter_id).await?;
        let replies = scan::letter_replies(&mut conn, scope, letter.letter_id).await?;
        Ok((timeline, replies))
    }
    .await;
    let (timeline, replies) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("cannot read a letter's timeline: {e}");
            return pages::unavailable(lang);
        }
    };
    let detail_text = |d: &Option<serde_json::Value>, key: &str| {
        d.as_ref().and_then(|d| d.get(key)).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let tracking = timeline.iter().rev().find_map(|e| detail_text(&e.detail, "tracking_number"));
    let returned = timeline.iter().rev().find(|e| e.kind == EventKind::Returned).map(|e| {
        let code = detail_text(&e.detail, "reason").unwrap_or_default();
        match code.parse::<ReturnReason>() {
            Ok(r) if lang == Lang::Thai => r.thai().to_owned(),
            Ok(r) => r.english().to_owned(),
            Err(_) => code,
        }
    });
    let events: Vec<serde_json::Value> = timeline
        .iter()
        .map(|e| serde_json::json!({"at": when(&e.created_at, lang), "what": event_name(e.kind, lang), "code": e.kind.as_str()}))
        .collect();
    let replies: Vec<serde_json::Value> = replies
        .iter()
        .map(|r| {
            serde_json::json!({"id": r.reply_id.to_string(), "at": when(&r.created_at, lang), "pages": r.page_count,
                               "missing": !r.missing_pages.is_empty()})
        })
        .collect();
    let withdrawn = letter.withdrawn.as_ref().map(|(reason, _)| match reason.as_str() {
        "cancelled" => lang.pick("ยกเลิก", "cancelled"),
        "superseded" => lang.pick("มีฉบับใหม่แทน", "superseded by a newer letter"),
        "reported_lost" => lang.pick("ผู้รับแจ้งว่าสูญหาย", "reported lost"),
        _ => lang.pick("เพิกถอน", "withdrawn"),
    });
    let can_change = may_send(me);
    pages::render(
        status,
        "letter.html",
        lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/letters",
            "mode": mode_suffix(scope.test), "test": scope.test, "error": error,
            "letter": {
                "id": letter.letter_id.to_string(), "reference": letter.reference, "subject": letter.subject(),
                "recipient": letter.recipient_name(), "postcode": letter.postcode,
                "status": status_name(letter.status, lang), "channel": channel_name(letter.channel, lang),
                "created": when(&letter.created_at, lang), "tracking": tracking, "returned": returned,
                "withdrawn": withdrawn, "seal": letter.seal.as_ref().map(|s| s.reference.clone()),
            },
            "timeline": events, "replies": replies,
            "cancel": can_change && letter.status.next().contains(&LetterStatus::Cancelled),
            "withdraw": can_change && letter.status.is_out() && letter.withdrawn.is_none(),
        }),
    )
}

pub(crate) async fn letter_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(letter_id): Path<LetterId>,
    Query(q): Query<ModeQuery>,
) -> Response {
    match letter_of(&state, &me, letter_id, &q.mode).await {
        Ok((scope, letter)) => render_letter(&state, &me, scope, &letter, StatusCode::OK, None).await,
        Err(r) => r,
    }
}

/// The letter as it will print (the PIN's place shows `XXXX XXXX`), shown inside its page.
pub(crate) async fn proof(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(letter_id): Path<LetterId>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let (_, letter) = match letter_of(&state, &me, letter_id, &q.mode).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state.composer.letter_pdf(&state.store, &state.print.blobs, letter).await {
        Ok(pdf) => framed_pdf(pdf, &format!("letter-{letter_id}.pdf")),
        Err(e) => {
            tracing::error!(letter.id = %letter_id, "cannot make a letter's proof: {e}");
            pages::message(
                StatusCode::UNPROCESSABLE_ENTITY,
                me.lang,
                ("แสดงตัวอย่างไม่ได้", "No proof to show"),
                ("จัดหน้าหนังสือฉบับนี้ไม่ได้ ดูสาเหตุในประวัติของหนังสือ", "This letter cannot be laid out; its timeline says why."),
            )
        }
    }
}

/// A PDF that this console's own pages may show in a frame.
pub(crate) fn framed_pdf(pdf: Vec<u8>, name: &str) -> Response {
    let mut response = hybridpost_web::Download::pdf().inline(name).body(pdf).unwrap_or_else(|e| {
        tracing::error!("cannot send a PDF: {e:?}");
        pages::unavailable(Lang::Thai)
    });
    // The console's layer keeps headers already set: this one may be framed by its own pages.
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'self'"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    response
}

/// A reply's PDF (the scanned pages, upright).
pub(crate) async fn reply_pdf(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(reply_id): Path<ReplyId>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let scope = scope_of(agency, &q.mode);
    let read = async {
        let reply = {
            let mut conn = state.store.read().await?;
            scan::get_reply(&mut conn, scope, reply_id).await?
        };
        let Some(reply) = reply else { return anyhow::Ok(None) };
        let key = BlobKey::parse(&reply.pdf_blob)?;
        let bytes =
            state.print.blobs.get(&key).await?.ok_or_else(|| anyhow::anyhow!("reply {reply_id}'s PDF is missing"))?;
        anyhow::Ok(Some(bytes))
    }
    .await;
    match read {
        Ok(Some(pdf)) => framed_pdf(pdf, &format!("reply-{reply_id}.pdf")),
        Ok(None) => pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read a reply's PDF: {e:#}");
            pages::unavailable(me.lang)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    reason: String,
}

/// `cancel` or `withdraw` (with a reason): the API's own steps, with the person's audit line.
pub(crate) async fn step(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path((letter_id, step)): Path<(LetterId, String)>,
    Form(form): Form<StepForm>,
) -> Response {
    let (scope, letter) = match letter_of(&state, &me, letter_id, &form.mode).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    if !may_send(&me) {
        return pages::not_found();
    }
    let reason = match (step.as_str(), form.reason.as_str()) {
        ("cancel", _) => None,
        ("withdraw", "superseded") => Some(WithdrawReason::Superseded),
        ("withdraw", "reported_lost") => Some(WithdrawReason::ReportedLost),
        ("withdraw", _) => {
            let error = me.lang.pick("กรุณาเลือกเหตุผลที่เพิกถอน", "Choose why the letter is withdrawn.");
            return render_letter(&state, &me, scope, &letter, StatusCode::UNPROCESSABLE_ENTITY, Some(error.into()))
                .await;
        }
        _ => return pages::not_found(),
    };
    let done = async {
        let mut tx = state.store.begin().await?;
        let result = match reason {
            None => steps::cancel(&mut tx, scope, letter_id, None).await,
            Some(reason) => steps::withdraw(&mut tx, scope, letter_id, reason, None).await,
        };
        let record = match result {
            Ok(record) => record,
            Err(refused) => return anyhow::Ok(Err(refused)),
        };
        let detail = reason.map(|r| serde_json::json!({"reason": r.as_str()}));
        let action = if reason.is_some() { "letter.withdraw" } else { "letter.cancel" };
        hybridpost_store::people::append_step_audit(&mut tx, Some(&me.audit(action, detail)), &record.reference)
            .await?;
        tx.commit().await?;
        anyhow::Ok(Ok(record))
    }
    .await;
    match done {
        Ok(Ok(_)) => see_other(&format!("/console/letters/{letter_id}{}", mode_suffix(scope.test))),
        Ok(Err(StepRefused::NotFound(_))) => pages::not_found(),
        Ok(Err(refused)) => {
            let error = match refused {
                StepRefused::Changed => me
                    .lang
                    .pick("หนังสือเปลี่ยนสถานะระหว่างดำเนินการ กรุณาลองใหม่", "The letter changed meanwhile; try again.")
                    .to_owned(),
                _ => me
                    .lang
                    .pick("ทำรายการนี้กับหนังสือในสถานะนี้ไม่ได้แล้ว", "This can no longer be done to the letter in its status.")
                    .to_owned(),
            };
            render_letter(&state, &me, scope, &letter, StatusCode::CONFLICT, Some(error)).await
        }
        Err(e) => {
            tracing::error!(letter.id = %letter_id, "cannot {step} a letter from the console: {e:#}");
            pages::unavailable(me.lang)
        }
    }
}
