//! Send one letter from a form, for an agency clerk without a system of their own: the fields
//! of `POST /v1/letters` (the letter's text typed as paragraphs, a content template with its
//! values, or the agency's own PDF with its page-by-page check), address help from the official
//! table (the page's script offers a postcode's subdistricts, districts and province), every
//! problem next to its field (in Thai on the Thai page, with the check's suggestions), a proof
//! as it will print, then send. The letter goes through the batch path as a batch of one, so it
//! is checked, routed and sealed as the API does, and a form sent twice sends one letter.

use std::collections::HashMap;

use axum::Form;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hybridpost_core::{AgencyScope, NewLetter};
use hybridpost_store::letter_batches::{self, BatchSource, RowState};

use crate::letters::{agency_of, may_send};
use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, me_context, see_other};

/// The form's fields, in order: (name, Thai label, English label).
const FIELDS: &[&str] = &[
    "reference",
    "recipient_name",
    "recipient_position",
    "citizen_id",
    "email",
    "house_number",
    "moo",
    "village",
    "soi",
    "road",
    "postcode",
    "subdistrict",
    "district",
    "province",
    "subject",
    "body",
    "signatory_name",
    "signatory_position",
    "contact",
    "reply_deadline",
    "send_after",
    "letter_date",
    "urgent_within",
    "secrecy",
];

/// Fields besides [`FIELDS`] the form carries: its controls, and what the content choice needs.
const CONTROLS: &[&str] = &[
    "csrf",
    "action",
    "mode",
    "layout",
    "language",
    "content",
    "template",
    "document_id",
    "document_name",
    "urgency",
    "digits",
];

/// How long sending waits for the letter to be stored before showing its batch instead.
const WAIT_FOR_LETTER: std::time::Duration = std::time::Duration::from_secs(5);

type Typed = HashMap<String, String>;

/// The form's known fields (a template's values are `data.<template>.<value>`), each cut to
/// its limit; anything else is dropped.
fn typed(form: impl IntoIterator<Item = (String, String)>) -> Typed {
    let mut out = HashMap::new();
    for (k, v) in form {
        let known = FIELDS.contains(&k.as_str()) || CONTROLS.contains(&k.as_str()) || data_key(&k).is_some();
        if !known {
            continue;
        }
        let limit = if k == "body" { 20_000 } else { 1_000 };
        out.insert(k, v.chars().take(limit).collect());
    }
    out
}

/// `(template, value)` of a form field `data.<template>.<value>` of a built-in template.
fn data_key(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix("data.")?;
    let (template, name) = rest.split_once('.')?;
    crate::merge::variables(template).iter().any(|v| v == name).then(|| (template.to_owned(), name.to_owned()))
}

/// What the letter's text is: typed paragraphs, a content template, or the agency's own PDF.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    Body,
    Template,
    Document,
}

fn content_of(t: &Typed) -> Content {
    match get(t, "content") {
        "template" => Content::Template,
        "document" => Content::Document,
        _ => Content::Body,
    }
}

fn get<'a>(t: &'a Typed, k: &str) -> &'a str {
    t.get(k).map_or("", |v| v.trim())
}

/// The letter the form describes.
fn letter_of(t: &Typed) -> Result<NewLetter, String> {
    let mut address = serde_json::Map::new();
    for part in ["house_number", "moo", "village", "soi", "road", "subdistrict", "district", "province", "postcode"] {
        let v = get(t, part);
        let required = matches!(part, "house_number" | "subdistrict" | "district" | "province" | "postcode");
        if !v.is_empty() || required {
            address.insert(part.to_owned(), v.into());
        }
    }
    let mut recipient = serde_json::json!({"name": get(t, "recipient_name"), "address": address});
    if !get(t, "citizen_id").is_empty() {
        recipient["citizen_id"] = get(t, "citizen_id").replace(['-', ' '], "").into();
    }
    if !get(t, "email").is_empty() {
        recipient["email"] = get(t, "email").into();
    }
    let mut letter = serde_json::json!({
        "reference": get(t, "reference"),
        "language": if get(t, "language") == "en" { "en" } else { "th" },
        "layout": if get(t, "layout") == "plain" { "plain" } else { "official" },
        "recipient": recipient,
        "subject": get(t, "subject"),
    });
    match content_of(t) {
        Content::Body => {
            // Paragraphs: separated by a blank line; the lines of one paragraph are joined.
            let body: Vec<String> = t
                .get("body")
                .map(String::as_str)
                .unwrap_or_default()
                .replace("\r\n", "\n")
                .split("\n\n")
                .map(|p| p.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
                .filter(|p| !p.is_empty())
                .collect();
            letter["body"] = body.into();
        }
        Content::Template => {
            let template = get(t, "template");
            let mut data = serde_json::Map::new();
            for name in crate::merge::variables(template) {
                let value = get(t, &format!("data.{template}.{name}"));
                if !value.is_empty() {
                    data.insert(name.clone(), crate::merge::template_value(template, &name, value));
                }
            }
            letter["template"] = template.into();
            letter["data"] = data.into();
        }
        Content::Document => letter["document_id"] = get(t, "document_id").into(),
    }
    if !get(t, "signatory_name").is_empty() || !get(t, "signatory_position").is_empty() {
        letter["signatory"] =
            serde_json::json!({"name": get(t, "signatory_name"), "position": get(t, "signatory_position")});
    }
    if !get(t, "contact").is_empty() {
        letter["contact"] = get(t, "contact").into();
    }
    if !get(t, "reply_deadline").is_empty() {
        letter["reply"] = serde_json::json!({"deadline": get(t, "reply_deadline")});
    }
    let send_after = get(t, "send_after");
    if !send_after.is_empty() {
        letter["send_after"] = bangkok_time(send_after).into();
    }
    // What makes the letter official: its position-holder recipient, date, urgency (a level,
    // or ด่วนภายใน when a time is given), secrecy and digits.
    if !get(t, "recipient_position").is_empty() {
        letter["recipient"]["position"] = get(t, "recipient_position").into();
    }
    if !get(t, "letter_date").is_empty() {
        letter["date"] = get(t, "letter_date").into();
    }
    let within = get(t, "urgent_within");
    if !within.is_empty() {
        letter["urgency"] = serde_json::json!({"within": bangkok_time(within)});
    } else if let level @ ("urgent" | "very_urgent" | "most_urgent") = get(t, "urgency") {
        letter["urgency"] = level.into();
    }
    if let secrecy @ ("confidential" | "secret") = get(t, "secrecy") {
        letter["secrecy"] = secrecy.into();
    }
    if let digits @ ("thai" | "arabic") = get(t, "digits") {
        letter["digits"] = digits.into();
    }
    serde_json::from_value(letter).map_err(|e| e.to_string())
}

/// A time from a `datetime-local` field (`2027-01-05T09:00`, the browser's local time) as
/// Bangkok time (`2027-01-05T09:00:00+07:00`); anything else as it is, for the check to judge.
pub(crate) fn bangkok_time(local: &str) -> String {
    if local.len() == 16 { format!("{local}:00+07:00") } else { local.to_owned() }
}

/// The form field a check's problem belongs to: one of [`FIELDS`], `template`, `template_data`
/// (the template's values), `pdf`, or "" for the letter as a whole.
fn field_of(path: &str) -> &'static str {
    let path = path.split('[').next().unwrap_or(path);
    if path == "template" {
        return "template";
    }
    if path == "data" || path.starts_with("data.") {
        return "template_data";
    }
    if path == "document_id" || path.starts_with("pdf") {
        return "pdf";
    }
    let name = match path {
        "recipient.name" => "recipient_name",
        "recipient.citizen_id" => "citizen_id",
        "recipient.email" => "email",
        "signatory.name" => "signatory_name",
        "signatory.position" => "signatory_position",
        "reply" | "reply.deadline" => "reply_deadline",
        "recipient.position" => "recipient_position",
        "date" => "letter_date",
        "urgency" | "urgency.within" => "urgent_within",
        other => other.strip_prefix("recipient.address.").unwrap_or(other),
    };
    FIELDS.iter().find(|f| **f == name).copied().unwrap_or("")
}

/// Problems by form field ("" for those of no one field), each with its suggestions.
fn problems(t: &Typed, letter: &Result<NewLetter, String>, lang: Lang) -> HashMap<&'static str, Vec<String>> {
    let mut out: HashMap<&'static str, Vec<String>> = HashMap::new();
    if content_of(t) == Content::Document && get(t, "document_id").is_empty() {
        let why = lang
            .pick("เลือกไฟล์ PDF แล้วกด \"ตรวจและแนบไฟล์\" ก่อน", "Choose the PDF and press \"Check and attach\" first.");
        out.entry("pdf").or_default().push(why.to_owned());
        return out;
    }
    match letter {
        Err(e) => out.entry("").or_default().push(e.clone()),
        Ok(letter) => {
            let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date();
            for e in hybridpost_gateway::check_row(letter, today).0 {
                let mut message = match lang {
                    Lang::Thai => crate::thai_messages::in_thai(&e.message).unwrap_or(e.message),
                    Lang::English => e.message,
                };
                if !e.suggestions.is_empty() {
                    message.push_str(&format!(
                        " ({} {})",
                        lang.pick("ค่าที่น่าจะถูกต้อง:", "did you mean:"),
                        e.suggestions.join(", ")
                    ));
                }
                out.entry(field_of(&e.field)).or_default().push(message);
            }
        }
    }
    out
}

/// The form's slots for problems: every field's, and those of the letter, the template, its
/// values and the PDF.
const PROBLEM_SLOTS: &[&str] = &["letter", "template", "template_data", "pdf"];

/// What the page shows of a PDF check.
struct Checked<'a> {
    report: &'a hybridpost_gateway::PdfCheckReport,
    file_name: &'a str,
}

fn render(
    me: &SignedIn,
    t: &Typed,
    status: StatusCode,
    found: Option<&HashMap<&'static str, Vec<String>>>,
    checked: Option<Checked<'_>>,
) -> Response {
    // Every field has an entry (the templates are strict about what is missing).
    let mut errors: serde_json::Map<String, serde_json::Value> =
        FIELDS.iter().chain(PROBLEM_SLOTS).map(|f| ((*f).to_owned(), serde_json::Value::Null)).collect();
    for (k, v) in found.into_iter().flatten() {
        errors.insert((if k.is_empty() { "letter" } else { k }).to_string(), serde_json::json!(v.join(" · ")));
    }
    let mut values: serde_json::Map<String, serde_json::Value> =
        FIELDS.iter().chain(CONTROLS).map(|f| ((*f).to_owned(), "".into())).collect();
    for (k, v) in t {
        if let Some(slot) = values.get_mut(k.as_str()) {
            *slot = v.clone().into();
        }
    }
    let content = match content_of(t) {
        Content::Body => "body",
        Content::Template => "template",
        Content::Document => "document",
    };
    let chosen = get(t, "template");
    let templates: Vec<serde_json::Value> = crate::merge::template_names()
        .into_iter()
        .map(|name| {
            let lists = crate::merge::list_variables(&name);
            let vars: Vec<serde_json::Value> = crate::merge::variables(&name)
                .into_iter()
                .map(|var| {
                    let key = format!("data.{name}.{var}");
                    serde_json::json!({
                        "key": key, "id": format!("f-data-{name}-{var}"), "name": var,
                        "value": get(t, &key), "list": lists.contains(&var),
                    })
                })
                .collect();
            serde_json::json!({"name": name, "selected": name == chosen, "vars": vars})
        })
        .collect();
    let lang = me.lang;
    let report = checked.map(|c| {
        let problems: Vec<serde_json::Value> = c
            .report
            .problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "page": p.page.map_or_else(|| lang.pick("ทั้งไฟล์", "whole file").to_owned(), |n| n.to_string()),
                    "refusal": p.severity == "refusal",
                    "message": if lang == Lang::Thai { &p.message_th } else { &p.message_en },
                })
            })
            .collect();
        serde_json::json!({
            "acceptable": c.report.acceptable, "pages": c.report.pages, "file_name": c.file_name,
            "problems": problems,
        })
    });
    let checked_ok = found.is_some_and(HashMap::is_empty);
    pages::render(
        status,
        "send_one.html",
        me.lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/send-one",
            "v": values, "errors": errors, "has_errors": found.is_some_and(|f| !f.is_empty()),
            "ready": checked_ok, "test": get(t, "mode") == "test", "content": content,
            "templates": templates, "report": report,
            "max_pdf_mb": hybridpost_gateway::MAX_PDF_BYTES / (1024 * 1024),
        }),
    )
}

fn sender(me: &SignedIn) -> Result<hybridpost_core::AgencyId, Response> {
    let agency = agency_of(me)?;
    if !may_send(me) {
        return Err(pages::refused(StatusCode::FORBIDDEN, me.lang));
    }
    Ok(agency)
}

#[derive(Default, serde::Deserialize)]
pub(crate) struct ModeQuery {
    #[serde(default)]
    mode: String,
}

/// The empty form (layout official, Thai, the text typed).
pub(crate) async fn form_page(me: SignedIn, Query(q): Query<ModeQuery>) -> Response {
    if let Err(r) = sender(&me) {
        return r;
    }
    let mut t = Typed::new();
    if q.mode == "test" {
        t.insert("mode".into(), "test".into());
    }
    render(&me, &t, StatusCode::OK, None, None)
}

/// Whether the form's PDF is one of `scope`'s agency's documents: `None` when the store cannot
/// be read.
async fn document_exists(state: &ConsoleState, scope: AgencyScope, id: &str) -> Option<bool> {
    let Ok(id) = id.parse::<hybridpost_core::DocumentId>() else { return Some(false) };
    let mut conn = state.store.read().await.ok()?;
    hybridpost_store::documents::get_document(&mut conn, scope, id).await.ok().map(|d| d.is_some())
}

/// Whether the agency may send classified letters; `None` when the database does not answer.
async fn classified_allowed(state: &ConsoleState, agency: hybridpost_core::AgencyId) -> Option<bool> {
    let mut conn = state.store.read().await.ok()?;
    hybridpost_store::agencies::allows_classified(&mut conn, agency).await.ok()
}

/// Checks the form (`action=check`) or sends the letter (`action=send`, only when it has no
/// problem).
pub(crate) async fn submit(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let t = typed(form);
    if !me.form_token_matches(get(&t, "csrf")) {
        return me.refuse_form();
    }
    let agency = match sender(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let scope = AgencyScope { agency_id: agency, test: get(&t, "mode") == "test" };
    let letter = letter_of(&t);
    let mut found = problems(&t, &letter, me.lang);
    if content_of(&t) == Content::Document && !found.contains_key("pdf") {
        match document_exists(&state, scope, get(&t, "document_id")).await {
            None => return pages::unavailable(me.lang),
            Some(true) => {}
            Some(false) => {
                let why =
                    me.lang.pick("ไม่พบไฟล์ PDF ที่แนบไว้ แนบไฟล์อีกครั้ง", "The attached PDF is not found; attach it again.");
                found.entry("pdf").or_default().push(why.to_owned());
            }
        }
    }
    // A classified letter is taken only from an agency the operator allowed: said here, next
    // to the field, rather than when the letter is sent.
    if let Ok(l) = &letter
        && l.secrecy.is_some()
    {
        match classified_allowed(&state, agency).await {
            None => return pages::unavailable(me.lang),
            Some(true) => {}
            Some(false) => {
                let why = me.lang.pick(
                    "หน่วยงานนี้ยังไม่ได้รับอนุญาตให้ส่งหนังสือลับ ติดต่อผู้ดูแลระบบ",
                    "This agency is not allowed to send classified letters; ask the service operator.",
                );
                found.entry("secrecy").or_default().push(why.to_owned());
            }
        }
    }
    let status = if found.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let (Ok(letter), true, "send") = (letter, found.is_empty(), get(&t, "action")) else {
        return render(&me, &t, status, Some(&found), None);
    };
    let reference = letter.reference.clone();
    let held = letter.send_after_time().filter(|at| *at > time::OffsetDateTime::now_utc());
    let batch_id = match hybridpost_gateway::submit(
        &state.store,
        scope,
        BatchSource::Console,
        Some(reference.clone()),
        Some(me.person.person_id),
        &[(1, letter)],
        held,
    )
    .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!("cannot store a letter sent from the form: {e}");
            return pages::unavailable(me.lang);
        }
    };
    if let Err(r) = crate::audit(
        &state,
        &me,
        "letter.send",
        &batch_id.to_string(),
        Some(serde_json::json!({"reference": reference, "test": scope.test})),
    )
    .await
    {
        return r;
    }
    let mode = if scope.test { "?mode=test" } else { "" };
    if held.is_some() {
        // Held until its time: its page says when, and can cancel it until then.
        return see_other(&format!("/console/send-many/{batch_id}{mode}"));
    }
    // The batch worker stores it within a moment: then the clerk lands on the letter's page.
    let started = std::time::Instant::now();
    while started.elapsed() < WAIT_FOR_LETTER {
        let rows = async {
            let mut conn = state.store.read().await?;
            letter_batches::row_outcomes(&mut conn, batch_id).await
        }
        .await;
        if let Ok(rows) = rows
            && let Some(row) = rows.first()
            && row.state != RowState::Pending
        {
            return match row.letter_id {
                Some(letter_id) => see_other(&format!("/console/letters/{letter_id}{mode}")),
                None => see_other(&format!("/console/send-many/{batch_id}{mode}")),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    see_other(&format!("/console/send-many/{batch_id}{mode}"))
}

/// The form sent with the agency's own PDF (the "Check and attach" button): the PDF is checked
/// page by page as `POST /v1/pdf-checks` does, and stored as `POST /v1/documents` does when
/// nothing stops it printing; the form comes back with what was typed, the check's report and,
/// when it passed, the PDF attached.
pub(crate) async fn attach_pdf(
    State(state): State<ConsoleState>,
    me: SignedIn,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let agency = match sender(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let upload = match crate::merge::read_form_with_file(&me, multipart, "pdf", hybridpost_gateway::MAX_PDF_BYTES).await
    {
        Ok(u) => u,
        Err(crate::merge::UploadError::Forbidden) => return me.refuse_form(),
        Err(e) => {
            let found = HashMap::from([("pdf", vec![e.text(me.lang)])]);
            return render(&me, &Typed::new(), StatusCode::UNPROCESSABLE_ENTITY, Some(&found), None);
        }
    };
    let mut t = typed(upload.fields);
    t.insert("content".into(), "document".into());
    t.remove("document_id");
    t.remove("document_name");
    let Some((file_name, bytes)) = upload.file else {
        let why = me.lang.pick("เลือกไฟล์ PDF", "Choose a PDF file.").to_owned();
        return render(&me, &t, StatusCode::UNPROCESSABLE_ENTITY, Some(&HashMap::from([("pdf", vec![why])])), None);
    };
    let bytes = axum::body::Bytes::from(bytes);
    let report = match hybridpost_gateway::check_pdf_bytes(bytes.clone()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("a PDF from the form could not be checked: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let scope = AgencyScope { agency_id: agency, test: get(&t, "mode") == "test" };
    if !report.acceptable {
        let why = me.lang.pick(
            "ไฟล์นี้พิมพ์ออกมาไม่ถูกต้อง ดูรายการปัญหาด้านล่าง แก้ไขแล้วแนบใหม่",
            "This file would not print right: see the problems below, fix them and attach it again.",
        );
        let found = HashMap::from([("pdf", vec![why.to_owned()])]);
        let checked = Checked { report: &report, file_name: &file_name };
        return render(&me, &t, StatusCode::UNPROCESSABLE_ENTITY, Some(&found), Some(checked));
    }
    let stored = hybridpost_gateway::store_document(&state.store, &state.print.blobs, scope, bytes, &report).await;
    let summary = match stored {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot store a PDF attached in the form: {e}");
            return pages::unavailable(me.lang);
        }
    };
    if let Err(r) = crate::audit(
        &state,
        &me,
        "document.upload",
        &summary.document_id.to_string(),
        Some(serde_json::json!({"file": file_name, "pages": summary.pages, "test": scope.test})),
    )
    .await
    {
        return r;
    }
    t.insert("document_id".into(), summary.document_id.to_string());
    t.insert("document_name".into(), file_name.clone());
    render(&me, &t, StatusCode::OK, None, Some(Checked { report: &report, file_name: &file_name }))
}

/// The letter as it will print, without its seal and PIN (made when it is sent).
pub(crate) async fn proof(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let t = typed(form);
    if !me.form_token_matches(get(&t, "csrf")) {
        return me.refuse_form();
    }
    let agency = match sender(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let letter = match letter_of(&t) {
        Ok(l) => l,
        Err(e) => {
            return render(&me, &t, StatusCode::UNPROCESSABLE_ENTITY, Some(&HashMap::from([("", vec![e])])), None);
        }
    };
    crate::merge::proof_of(&state, &me, agency, get(&t, "mode") == "test", letter, "proof.pdf").await
}

/// The places of a postcode, for the form's address help: `[[subdistrict, district, province]]`.
pub(crate) async fn postcode_places(me: SignedIn, Path(code): Path<String>) -> Response {
    if agency_of(&me).is_err() {
        return pages::not_found();
    }
    let places: Vec<[&str; 3]> =
        hybridpost_core::address::places_of_postcode(&code).into_iter().take(200).map(|(s, d, p)| [s, d, p]).collect();
    (
        [(axum::http::header::CACHE_CONTROL, "private, max-age=86400")],
        axum::Json(serde_json::json!({"postcode": code, "places": places})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_fields_make_the_letter_and_its_problems_land_next_to_their_fields() {
        let t: Typed = [
            ("reference", "มท 0808.2/ว 1"),
            ("recipient_name", "นายสมชาย ใจดี"),
            ("house_number", "99"),
            ("postcode", "10399"),
            ("subdistrict", "สามเสนใน"),
            ("district", "พญาไท"),
            ("province", "กรุงเทพมหานคร"),
            ("subject", "แจ้งผล"),
            ("body", "ย่อหน้าแรก\nต่อบรรทัด\r\n\r\nย่อหน้าที่สอง"),
            ("reply_deadline", "2020-01-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let letter = letter_of(&t);
        assert_eq!(letter.as_ref().unwrap().body.as_deref().unwrap(), ["ย่อหน้าแรก ต่อบรรทัด", "ย่อหน้าที่สอง"]);
        let found = problems(&t, &letter, Lang::Thai);
        assert!(
            found["postcode"][0].contains("รหัสไปรษณีย์ 10399") && found["postcode"][0].contains("10400"),
            "{found:?}"
        );
        assert!(found.contains_key("reply_deadline"), "{found:?}");
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
