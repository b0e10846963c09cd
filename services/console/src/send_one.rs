//! Send one letter from a form, for an agency clerk without a system of their own: the fields
//! of `POST /v1/letters` (the letter's text typed as paragraphs), address help from the official
//! table (the page's script offers a postcode's subdistricts, districts and province), every
//! problem next to its field (in Thai on the Thai page, with the check's suggestions), a proof
//! as it will print, then send. The letter goes through the batch path as a batch of one, so it
//! is checked, routed and sealed as the API does, and a form sent twice sends one letter.

use std::collections::HashMap;

use axum::Form;
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
];

/// How long sending waits for the letter to be stored before showing its batch instead.
const WAIT_FOR_LETTER: std::time::Duration = std::time::Duration::from_secs(5);

type Typed = HashMap<String, String>;

fn typed(form: Vec<(String, String)>) -> Typed {
    let mut out = HashMap::new();
    for (k, v) in form {
        let limit = if k == "body" { 20_000 } else { 1_000 };
        out.insert(k, v.chars().take(limit).collect());
    }
    out
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
    let mut letter = serde_json::json!({
        "reference": get(t, "reference"),
        "language": if get(t, "language") == "en" { "en" } else { "th" },
        "layout": if get(t, "layout") == "plain" { "plain" } else { "official" },
        "recipient": recipient,
        "subject": get(t, "subject"),
        "body": body,
    });
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
    // The browser's local date and time (`2027-01-05T09:00`) is Bangkok time.
    let send_after = get(t, "send_after");
    if !send_after.is_empty() {
        let bangkok = if send_after.len() == 16 { format!("{send_after}:00+07:00") } else { send_after.to_owned() };
        letter["send_after"] = bangkok.into();
    }
    serde_json::from_value(letter).map_err(|e| e.to_string())
}

/// The form field a check's problem belongs to.
fn field_of(path: &str) -> &'static str {
    let path = path.split('[').next().unwrap_or(path);
    let name = match path {
        "recipient.name" => "recipient_name",
        "recipient.citizen_id" => "citizen_id",
        "recipient.email" => "email",
        "signatory.name" => "signatory_name",
        "signatory.position" => "signatory_position",
        "reply" | "reply.deadline" => "reply_deadline",
        other => other.strip_prefix("recipient.address.").unwrap_or(other),
    };
    FIELDS.iter().find(|f| **f == name).copied().unwrap_or("")
}

/// Problems by form field ("" for those of no one field), each with its suggestions.
fn problems(letter: &Result<NewLetter, String>, lang: Lang) -> HashMap<&'static str, Vec<String>> {
    let mut out: HashMap<&'static str, Vec<String>> = HashMap::new();
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

fn render(
    me: &SignedIn,
    t: &Typed,
    status: StatusCode,
    found: Option<&HashMap<&'static str, Vec<String>>>,
) -> Response {
    // Every field has an entry (the templates are strict about what is missing).
    let mut errors: serde_json::Map<String, serde_json::Value> =
        FIELDS.iter().chain(&["letter"]).map(|f| ((*f).to_owned(), serde_json::Value::Null)).collect();
    for (k, v) in found.into_iter().flatten() {
        errors.insert((if k.is_empty() { "letter" } else { k }).to_string(), serde_json::json!(v.join(" · ")));
    }
    let mut values: serde_json::Map<String, serde_json::Value> =
        FIELDS.iter().chain(&["layout", "language"]).map(|f| ((*f).to_owned(), "".into())).collect();
    for (k, v) in t {
        if let Some(slot) = values.get_mut(k.as_str()) {
            *slot = v.clone().into();
        }
    }
    let checked_ok = found.is_some_and(HashMap::is_empty);
    pages::render(
        status,
        "send_one.html",
        me.lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/send-one",
            "v": values, "errors": errors, "has_errors": found.is_some_and(|f| !f.is_empty()),
            "ready": checked_ok, "test": get(t, "mode") == "test",
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

/// The empty form (layout official, Thai).
pub(crate) async fn form_page(me: SignedIn, Query(q): Query<ModeQuery>) -> Response {
    if let Err(r) = sender(&me) {
        return r;
    }
    let mut t = Typed::new();
    if q.mode == "test" {
        t.insert("mode".into(), "test".into());
    }
    render(&me, &t, StatusCode::OK, None)
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
    let letter = letter_of(&t);
    let found = problems(&letter, me.lang);
    let status = if found.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let (Ok(letter), true, "send") = (letter, found.is_empty(), get(&t, "action")) else {
        return render(&me, &t, status, Some(&found));
    };
    let scope = AgencyScope { agency_id: agency, test: get(&t, "mode") == "test" };
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
        Err(e) => return render(&me, &t, StatusCode::UNPROCESSABLE_ENTITY, Some(&HashMap::from([("", vec![e])]))),
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
        let found = problems(&letter, Lang::Thai);
        assert!(
            found["postcode"][0].contains("รหัสไปรษณีย์ 10399") && found["postcode"][0].contains("10400"),
            "{found:?}"
        );
        assert!(found.contains_key("reply_deadline"), "{found:?}");
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
