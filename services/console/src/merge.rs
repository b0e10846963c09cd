//! Send many letters from a spreadsheet (mail merge): upload a CSV or Excel file, choose a
//! content template and the fields every letter shares, map the file's columns to the letter's
//! fields, and see every problem of every row at once before anything is sent. The file is
//! kept as a draft: fix it and upload it again (the choices stay), look at any row's letter as
//! a PDF, then send it as one batch, whose progress and result file have their own page.
//!
//! Sending goes through the agency API's batch path (`hybridpost_gateway::submit`), so a row
//! is sent exactly as `POST /v1/letters` would send it, and never twice: uploading the same
//! file again sends nothing new.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_compose::LetterPdfError;
use hybridpost_core::{AgencyId, AgencyScope, NewLetter};
use hybridpost_store::letter_batches::{self, BatchSource, Draft};
use hybridpost_store::now_text;
use serde::{Deserialize, Serialize};

use crate::batches::when;
use crate::letters::{agency_of, may_send};
use crate::pages::{self, Lang};
use crate::sheet::{self, Sheet};
use crate::{ConsoleState, SignedIn, me_context, see_other};

/// Problems listed on the page; all of them are in the problems file.
const PROBLEMS_SHOWN: usize = 500;
/// Batches listed on the send-many page.
const BATCHES_SHOWN: i64 = 20;

/// A letter field a column can fill.
struct Target {
    key: &'static str,
    th: &'static str,
    en: &'static str,
    required: bool,
    /// Column names it is matched with, compared without case, spaces, `_`, `-` and `.`.
    names: &'static [&'static str],
}

const TARGETS: &[Target] = &[
    Target {
        key: "reference",
        th: "เลขที่หนังสือ",
        en: "Reference",
        required: true,
        names: &["reference", "ref", "ที่", "เลขที่หนังสือ", "เลขหนังสือ"],
    },
    Target {
        key: "name",
        th: "ชื่อผู้รับ",
        en: "Recipient's name",
        required: true,
        names: &["name", "recipient", "recipient name", "ชื่อ", "ชื่อผู้รับ", "ชื่อ-นามสกุล", "ชื่อนามสกุล"],
    },
    Target {
        key: "citizen_id",
        th: "เลขประจำตัวประชาชน",
        en: "Citizen id",
        required: false,
        names: &["citizen id", "national id", "เลขประจำตัวประชาชน", "เลขบัตรประชาชน"],
    },
    Target {
        key: "email", th: "อีเมล", en: "E-mail", required: false, names: &["email", "e-mail", "อีเมล"]
    },
    Target {
        key: "house_number",
        th: "บ้านเลขที่",
        en: "House number",
        required: true,
        names: &["house number", "house no", "บ้านเลขที่", "เลขที่"],
    },
    Target {
        key: "moo", th: "หมู่ที่", en: "Moo", required: false, names: &["moo", "หมู่", "หมู่ที่"]
    },
    Target {
        key: "village",
        th: "หมู่บ้าน/อาคาร",
        en: "Village or building",
        required: false,
        names: &["village", "building", "หมู่บ้าน", "อาคาร"],
    },
    Target { key: "soi", th: "ซอย", en: "Soi", required: false, names: &["soi", "ซอย"] },
    Target { key: "road", th: "ถนน", en: "Road", required: false, names: &["road", "street", "ถนน"] },
    Target {
        key: "subdistrict",
        th: "ตำบล/แขวง",
        en: "Subdistrict",
        required: true,
        names: &["subdistrict", "tambon", "khwaeng", "ตำบล", "แขวง", "ตำบล/แขวง"],
    },
    Target {
        key: "district",
        th: "อำเภอ/เขต",
        en: "District",
        required: true,
        names: &["district", "amphoe", "khet", "อำเภอ", "เขต", "อำเภอ/เขต"],
    },
    Target {
        key: "province", th: "จังหวัด", en: "Province", required: true, names: &["province", "จังหวัด"]
    },
    Target {
        key: "postcode",
        th: "รหัสไปรษณีย์",
        en: "Postcode",
        required: true,
        names: &["postcode", "postal code", "zip", "รหัสไปรษณีย์"],
    },
    Target {
        key: "subject",
        th: "เรื่อง (ถ้าแต่ละฉบับต่างกัน)",
        en: "Subject (if each letter has its own)",
        required: false,
        names: &["subject", "เรื่อง"],
    },
];

/// Address parts, in the order of the address.
const ADDRESS_PARTS: [&str; 9] =
    ["house_number", "moo", "village", "soi", "road", "subdistrict", "district", "province", "postcode"];

/// What the clerk chose for a draft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MergeSettings {
    pub template: String,
    pub layout: String,
    pub language: String,
    pub subject: String,
    pub signatory_name: String,
    pub signatory_position: String,
    pub contact: String,
    pub reply_deadline: String,
    /// Hold the letters until then: the browser's local date and time, Bangkok time.
    #[serde(default)]
    pub send_after: String,
    /// Letter field (`name`, `data.tax_year`) → column name.
    pub columns: BTreeMap<String, String>,
}

fn normalise(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.')).flat_map(char::to_lowercase).collect()
}

/// The columns matched to fields by their names: a target's known names, and a template value's
/// own name.
fn guess_columns(columns: &[String], variables: &[String]) -> BTreeMap<String, String> {
    let by_name: HashMap<String, &String> = columns.iter().map(|c| (normalise(c), c)).collect();
    let mut out = BTreeMap::new();
    for t in TARGETS {
        let found = std::iter::once(t.key).chain(t.names.iter().copied()).find_map(|n| by_name.get(&normalise(n)));
        if let Some(column) = found {
            out.insert(t.key.to_owned(), (*column).clone());
        }
    }
    for v in variables {
        if let Some(column) = by_name.get(&normalise(v)) {
            out.insert(format!("data.{v}"), (*column).clone());
        }
    }
    out
}

/// The template's values, or none for an unknown template.
pub(crate) fn variables(template: &str) -> Vec<String> {
    hybridpost_render::template_variables(&hybridpost_render::LetterTemplates::builtin().content, template)
        .unwrap_or_default()
}

pub(crate) fn template_names() -> Vec<String> {
    hybridpost_render::LetterTemplates::builtin().content.names().into_iter().map(str::to_owned).collect()
}

/// A cell as a template value: a number when it reads as one and writes back the same (not a
/// code with a leading zero, nor a time such as `10.00` whose zeros would be lost), text
/// otherwise.
fn data_value(cell: &str) -> serde_json::Value {
    let plain_number = !(cell.len() > 1 && cell.starts_with('0') && !cell.starts_with("0."));
    if plain_number {
        if let Ok(i) = cell.parse::<i64>() {
            return i.into();
        }
        if let Ok(f) = cell.parse::<f64>()
            && f.is_finite()
            && f.to_string() == cell
            && let Some(n) = serde_json::Number::from_f64(f)
        {
            return n.into();
        }
    }
    cell.into()
}

/// The values built-in template `template` loops over, read from the templates once (a mail
/// merge asks for every cell of every row).
pub(crate) fn list_variables(template: &str) -> &'static [String] {
    static LISTS: std::sync::OnceLock<HashMap<String, Vec<String>>> = std::sync::OnceLock::new();
    let content = &hybridpost_render::LetterTemplates::builtin().content;
    LISTS
        .get_or_init(|| {
            template_names().into_iter().map(|n| (n.clone(), hybridpost_render::list_variables(content, &n))).collect()
        })
        .get(template)
        .map_or(&[], Vec::as_slice)
}

/// A value the template loops over: one item per line, or items separated by `;`.
fn list_value(cell: &str) -> serde_json::Value {
    let separator = if cell.contains('\n') { '\n' } else { ';' };
    cell.split(separator).map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect::<Vec<_>>().into()
}

/// What `cell` gives template `template`'s value `name`: a list for one it loops over, a number
/// or text otherwise.
pub(crate) fn template_value(template: &str, name: &str, cell: &str) -> serde_json::Value {
    if list_variables(template).iter().any(|l| l == name) { list_value(cell) } else { data_value(cell) }
}

/// The letter of one row.
fn row_letter(settings: &MergeSettings, sheet: &Sheet, cells: &[String]) -> Result<NewLetter, String> {
    let index: HashMap<&str, usize> = sheet.columns.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let cell = |key: &str| -> Option<&str> {
        let column = settings.columns.get(key)?;
        let i = *index.get(column.as_str())?;
        cells.get(i).map(String::as_str).filter(|c| !c.is_empty())
    };
    let text = |key: &str| cell(key).unwrap_or_default().to_owned();
    let mut address = serde_json::Map::new();
    for part in ADDRESS_PARTS {
        let required = TARGETS.iter().any(|t| t.key == part && t.required);
        match cell(part) {
            Some(v) => {
                address.insert(part.to_owned(), v.into());
            }
            None if required => {
                address.insert(part.to_owned(), "".into());
            }
            None => {}
        }
    }
    let mut recipient = serde_json::json!({"name": text("name"), "address": address});
    if let Some(id) = cell("citizen_id") {
        recipient["citizen_id"] = id.replace(['-', ' '], "").into();
    }
    if let Some(email) = cell("email") {
        recipient["email"] = email.into();
    }
    let mut data = serde_json::Map::new();
    for (key, _) in settings.columns.iter().filter(|(k, _)| k.starts_with("data.")) {
        if let Some(v) = cell(key) {
            let name = &key["data.".len()..];
            data.insert(name.to_owned(), template_value(&settings.template, name, v));
        }
    }
    let mut letter = serde_json::json!({
        "reference": text("reference"),
        "language": if settings.language == "en" { "en" } else { "th" },
        "layout": if settings.layout == "plain" { "plain" } else { "official" },
        "recipient": recipient,
        "subject": cell("subject").map_or_else(|| settings.subject.clone(), str::to_owned),
        "template": settings.template,
        "data": data,
    });
    if !settings.signatory_name.is_empty() || !settings.signatory_position.is_empty() {
        letter["signatory"] =
            serde_json::json!({"name": settings.signatory_name, "position": settings.signatory_position});
    }
    if !settings.contact.is_empty() {
        letter["contact"] = settings.contact.clone().into();
    }
    if !settings.send_after.is_empty() {
        letter["send_after"] = crate::send_one::bangkok_time(&settings.send_after).into();
    }
    if !settings.reply_deadline.is_empty() {
        letter["reply"] = serde_json::json!({"deadline": settings.reply_deadline});
    }
    serde_json::from_value(letter).map_err(|e| e.to_string())
}

/// One problem: of a row (with its column), or of the choices (row `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Problem {
    pub row: Option<i64>,
    pub column: String,
    pub message: String,
    pub suggestions: Vec<String>,
}

/// The target key a letter field's problem belongs to.
fn target_of(field: &str) -> Option<&'static str> {
    let key = field
        .strip_prefix("recipient.address.")
        .or_else(|| field.strip_prefix("recipient."))
        .or_else(|| if field == "reference" || field == "subject" { Some(field) } else { None })?;
    TARGETS.iter().find(|t| t.key == key).map(|t| t.key)
}

/// Everything the draft's file and choices would send, and every problem.
pub(crate) struct Checked {
    pub letters: Vec<(i64, NewLetter)>,
    pub problems: Vec<Problem>,
}

/// Checks every row as the API would. A problem that every row has (a shared field, a template
/// value no column gives) is shown once, as a problem of the choices.
pub(crate) fn check_draft(settings: &MergeSettings, sheet: &Sheet, lang: Lang, today: time::Date) -> Checked {
    let mut problems = Vec::new();
    let label = |t: &Target| lang.pick(t.th, t.en);
    if !template_names().contains(&settings.template) {
        problems.push(Problem {
            row: None,
            column: lang.pick("แบบข้อความ", "Content template").to_owned(),
            message: lang.pick("เลือกแบบข้อความ", "Choose a content template.").to_owned(),
            suggestions: template_names(),
        });
    }
    for t in TARGETS.iter().filter(|t| t.required) {
        let mapped = settings.columns.get(t.key).is_some_and(|c| sheet.columns.contains(c));
        if !mapped {
            problems.push(Problem {
                row: None,
                column: label(t).to_owned(),
                message: lang.pick("เลือกคอลัมน์ในไฟล์ที่เป็นช่องนี้", "Choose the file's column for this field.").to_owned(),
                suggestions: Vec::new(),
            });
        }
    }
    if !problems.is_empty() {
        return Checked { letters: Vec::new(), problems };
    }
    let mut letters = Vec::with_capacity(sheet.rows.len());
    let mut by_row: Vec<(i64, Vec<Problem>)> = Vec::new();
    for row in &sheet.rows {
        let mut row_problems = Vec::new();
        match row_letter(settings, sheet, &row.cells) {
            Ok(letter) => {
                for e in hybridpost_gateway::check_row(&letter, today).0 {
                    let column = match target_of(&e.field) {
                        Some(key) if key != "subject" || settings.columns.contains_key("subject") => {
                            settings.columns.get(key).cloned().unwrap_or_default()
                        }
                        _ => field_label(&e.field, lang),
                    };
                    let message = match lang {
                        Lang::Thai => crate::thai_messages::in_thai(&e.message).unwrap_or(e.message),
                        Lang::English => e.message,
                    };
                    row_problems.push(Problem { row: Some(row.number), column, message, suggestions: e.suggestions });
                }
                letters.push((row.number, letter));
            }
            Err(e) => row_problems.push(Problem {
                row: Some(row.number),
                column: String::new(),
                message: e,
                suggestions: Vec::new(),
            }),
        }
        by_row.push((row.number, row_problems));
    }
    // Problems every row shares, shown once.
    let rows = by_row.len();
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for (_, ps) in &by_row {
        for p in ps {
            *counts.entry((p.column.clone(), p.message.clone())).or_default() += 1;
        }
    }
    let shared: Vec<(String, String)> = if rows > 1 {
        let mut s: Vec<_> = counts.into_iter().filter(|(_, n)| *n == rows).map(|(k, _)| k).collect();
        s.sort();
        s
    } else {
        Vec::new()
    };
    for (column, message) in &shared {
        problems.push(Problem { row: None, column: column.clone(), message: message.clone(), suggestions: Vec::new() });
    }
    for (_, ps) in by_row {
        problems.extend(ps.into_iter().filter(|p| !shared.contains(&(p.column.clone(), p.message.clone()))));
    }
    Checked { letters, problems }
}

/// A shared field's name for the clerk.
fn field_label(field: &str, lang: Lang) -> String {
    let (th, en) = match field.split('.').next().unwrap_or(field) {
        "subject" => ("เรื่อง", "Subject"),
        "signatory" => ("ผู้ลงนาม", "Signatory"),
        "contact" => ("ติดต่อ", "Contact"),
        "reply" => ("วันที่ต้องตอบกลับ", "Reply by"),
        "template" => ("แบบข้อความ", "Content template"),
        "data" => ("ข้อมูลของแบบข้อความ", "Template values"),
        "language" => ("ภาษา", "Language"),
        "layout" => ("รูปแบบหนังสือ", "Layout"),
        _ => return field.to_owned(),
    };
    lang.pick(th, en).to_owned()
}

fn bangkok_today() -> time::Date {
    time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date()
}

fn scope_query(test: bool) -> &'static str {
    if test { "?mode=test" } else { "" }
}

#[derive(Default, Deserialize)]
pub(crate) struct ModeQuery {
    #[serde(default)]
    mode: String,
}

/// The send-many page: the upload form, and the agency's latest batches in the mode asked.
pub(crate) async fn send_many_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Query(q): Query<ModeQuery>,
) -> Response {
    render_send_many(&state, &me, q.mode == "test", StatusCode::OK, None).await
}

async fn render_send_many(
    state: &ConsoleState,
    me: &SignedIn,
    test: bool,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let agency = match agency_of(me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let scope = AgencyScope { agency_id: agency, test };
    let batches = async {
        let mut conn = state.store.read().await?;
        letter_batches::list_batches(&mut conn, scope, BATCHES_SHOWN).await
    }
    .await;
    let batches = match batches {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot list letter batches: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let rows: Vec<serde_json::Value> = batches
        .iter()
        .map(|b| {
            serde_json::json!({
                "id": b.batch_id.to_string(), "at": when(&b.created_at, me.lang),
                "file": b.file_name.clone().unwrap_or_else(|| "API".to_owned()), "by": b.created_by_name,
                "rows": b.rows_total, "sent": b.sent, "sent_before": b.sent_before, "refused": b.refused,
                "pending": b.pending, "done": b.status == "done",
            })
        })
        .collect();
    pages::render(
        status,
        "send_many.html",
        me.lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/send-many",
            "test": test, "mode": scope_query(test), "batches": rows, "may_send": may_send(me), "error": error,
            "templates": template_names(), "max_rows": sheet::MAX_ROWS,
            "max_mb": sheet::MAX_FILE_BYTES / (1024 * 1024),
        }),
    )
}

/// A file read from an upload form, with the form's other fields.
pub(crate) struct Upload {
    pub(crate) fields: HashMap<String, String>,
    pub(crate) file: Option<(String, Vec<u8>)>,
}

/// Reads the form: `csrf` must come first (checked before the file is read), the file is read
/// up to the limit.
async fn read_upload(me: &SignedIn, multipart: Result<Multipart, MultipartRejection>) -> Result<Upload, UploadError> {
    read_form_with_file(me, multipart, "file", sheet::MAX_FILE_BYTES).await
}

/// Reads a form with one file (field `file_field`, at most `max_bytes`): `csrf` must come
/// first (checked before anything else is read); texts are cut at 1,000 characters (`body`,
/// a letter's text, at 20,000).
pub(crate) async fn read_form_with_file(
    me: &SignedIn,
    multipart: Result<Multipart, MultipartRejection>,
    file_field: &str,
    max_bytes: usize,
) -> Result<Upload, UploadError> {
    let mut multipart = multipart.map_err(|_| UploadError::Unreadable)?;
    let mut upload = Upload { fields: HashMap::new(), file: None };
    let mut first = true;
    while let Some(mut field) = multipart.next_field().await.map_err(|_| UploadError::Unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if first {
            first = false;
            let token =
                if name == "csrf" { field.text().await.map_err(|_| UploadError::Unreadable)? } else { String::new() };
            if !me.form_token_matches(&token) {
                return Err(UploadError::Forbidden);
            }
            continue;
        }
        if name == file_field {
            let file_name = field.file_name().unwrap_or("file").chars().take(200).collect::<String>();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| UploadError::Unreadable)? {
                if bytes.len() + chunk.len() > max_bytes {
                    return Err(UploadError::TooLarge(max_bytes));
                }
                bytes.extend_from_slice(&chunk);
            }
            if !bytes.is_empty() {
                upload.file = Some((file_name, bytes));
            }
        } else {
            let text = field.text().await.map_err(|_| UploadError::Unreadable)?;
            let limit = if name == "body" { 20_000 } else { 1_000 };
            upload.fields.insert(name, text.chars().take(limit).collect());
        }
    }
    if first {
        return Err(UploadError::Forbidden);
    }
    Ok(upload)
}

pub(crate) enum UploadError {
    Forbidden,
    Unreadable,
    /// Larger than this many bytes.
    TooLarge(usize),
}

impl UploadError {
    pub(crate) fn text(&self, lang: Lang) -> String {
        match self {
            UploadError::Forbidden => String::new(),
            UploadError::Unreadable => {
                lang.pick("อ่านแบบฟอร์มที่ส่งมาไม่ได้ ลองอีกครั้ง", "The form could not be read; try again.").to_owned()
            }
            UploadError::TooLarge(max) => match lang {
                Lang::Thai => format!("ไฟล์ใหญ่เกิน {} MB", max / (1024 * 1024)),
                Lang::English => format!("The file is larger than {} MB.", max / (1024 * 1024)),
            },
        }
    }
}

async fn parse_file(file_name: String, bytes: Vec<u8>) -> Result<Sheet, sheet::SheetError> {
    tokio::task::spawn_blocking(move || sheet::read_sheet(&file_name, &bytes)).await.unwrap_or_else(|_| {
        Err(sheet::SheetError {
            th: "อ่านไฟล์นี้ไม่ได้".into(), en: "This file cannot be read.".into()
        })
    })
}

/// A new draft from an uploaded file: its columns matched to fields by name.
pub(crate) async fn upload(
    State(state): State<ConsoleState>,
    me: SignedIn,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !may_send(&me) {
        return pages::refused(StatusCode::FORBIDDEN, me.lang);
    }
    let upload = match read_upload(&me, multipart).await {
        Ok(u) => u,
        Err(UploadError::Forbidden) => return me.refuse_form(),
        Err(e) => return render_send_many(&state, &me, false, StatusCode::BAD_REQUEST, Some(e.text(me.lang))).await,
    };
    let test = upload.fields.get("mode").is_some_and(|m| m == "test");
    let Some((file_name, bytes)) = upload.file else {
        let why = me.lang.pick("เลือกไฟล์ CSV หรือ Excel", "Choose a CSV or Excel file.").to_owned();
        return render_send_many(&state, &me, test, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await;
    };
    let sheet = match parse_file(file_name.clone(), bytes).await {
        Ok(s) => s,
        Err(e) => {
            let why = e.pick(me.lang);
            return render_send_many(&state, &me, test, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await;
        }
    };
    let template = upload.fields.get("template").cloned().unwrap_or_default();
    let settings = MergeSettings {
        columns: guess_columns(&sheet.columns, &variables(&template)),
        template,
        layout: "official".into(),
        language: "th".into(),
        ..MergeSettings::default()
    };
    let draft = Draft {
        draft_id: uuid::Uuid::new_v4(),
        scope: AgencyScope { agency_id: agency, test },
        person_id: me.person.person_id,
        file_name: file_name.clone(),
        sheet: serde_json::to_string(&sheet).unwrap_or_default(),
        settings: serde_json::to_string(&settings).unwrap_or_default(),
        batch_id: None,
        created_at: now_text(),
    };
    let stored: hybridpost_store::Result<()> = async {
        let mut tx = state.store.begin().await?;
        letter_batches::insert_draft(&mut tx, &draft).await?;
        let entry = me.audit(
            "merge.upload",
            Some(serde_json::json!({"file": file_name, "rows": sheet.rows.len(), "test": test})),
        );
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &draft.draft_id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match stored {
        Ok(()) => see_other(&format!("/console/send-many/drafts/{}", draft.draft_id)),
        Err(e) => {
            tracing::error!("cannot store a mail-merge draft: {e}");
            pages::unavailable(me.lang)
        }
    }
}

/// The person's agency's draft, or the page to show.
async fn draft_of(state: &ConsoleState, me: &SignedIn, draft_id: uuid::Uuid) -> Result<(AgencyId, Draft), Response> {
    let agency = agency_of(me)?;
    if !may_send(me) {
        return Err(pages::refused(StatusCode::FORBIDDEN, me.lang));
    }
    let found = async {
        let mut conn = state.store.read().await?;
        letter_batches::get_draft(&mut conn, agency, draft_id).await
    }
    .await;
    match found {
        Ok(Some(d)) => Ok((agency, d)),
        Ok(None) => Err(pages::not_found()),
        Err(e) => {
            tracing::error!("cannot read a mail-merge draft: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

fn parts(draft: &Draft) -> (Sheet, MergeSettings) {
    (serde_json::from_str(&draft.sheet).unwrap_or_default(), serde_json::from_str(&draft.settings).unwrap_or_default())
}

async fn checked(sheet: Sheet, settings: MergeSettings, lang: Lang) -> (Sheet, MergeSettings, Checked) {
    let today = bangkok_today();
    tokio::task::spawn_blocking(move || {
        let checked = check_draft(&settings, &sheet, lang, today);
        (sheet, settings, checked)
    })
    .await
    .unwrap_or_else(|_| unreachable!("checking a draft does not panic"))
}

/// A draft: its choices, its columns' mapping, and every problem, or a button to send.
pub(crate) async fn draft_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(draft_id): Path<uuid::Uuid>,
) -> Response {
    let (_, draft) = match draft_of(&state, &me, draft_id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    if let Some(batch) = draft.batch_id {
        return see_other(&format!("/console/send-many/{batch}{}", scope_query(draft.scope.test)));
    }
    render_draft(&me, &draft, StatusCode::OK, None).await
}

async fn render_draft(me: &SignedIn, draft: &Draft, status: StatusCode, error: Option<String>) -> Response {
    let (sheet, settings) = parts(draft);
    let started = std::time::Instant::now();
    let (sheet, settings, checked) = checked(sheet, settings, me.lang).await;
    tracing::debug!(
        rows = sheet.rows.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "mail-merge draft checked"
    );
    let vars = variables(&settings.template);
    let mut fields: Vec<serde_json::Value> = TARGETS
        .iter()
        .map(|t| {
            serde_json::json!({"key": t.key, "label": me.lang.pick(t.th, t.en), "required": t.required,
                "column": settings.columns.get(t.key)})
        })
        .collect();
    fields.extend(vars.iter().map(|v| {
        let key = format!("data.{v}");
        serde_json::json!({"key": key, "label": v, "required": false, "column": settings.columns.get(&key)})
    }));
    let problems: Vec<&Problem> = checked.problems.iter().take(PROBLEMS_SHOWN).collect();
    let shared: Vec<&Problem> = problems.iter().copied().filter(|p| p.row.is_none()).collect();
    let row_problems: Vec<&Problem> = problems.iter().copied().filter(|p| p.row.is_some()).collect();
    let bad_rows = {
        let mut rows: Vec<i64> = checked.problems.iter().filter_map(|p| p.row).collect();
        rows.dedup();
        rows.len()
    };
    let first_rows: Vec<i64> = sheet.rows.iter().take(20).map(|r| r.number).collect();
    pages::render(
        status,
        "merge.html",
        me.lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/send-many",
            "id": draft.draft_id.to_string(), "file": draft.file_name, "test": draft.scope.test,
            "rows": sheet.rows.len(), "columns": sheet.columns, "fields": fields, "settings": settings,
            "templates": template_names(), "problems_total": checked.problems.len(), "shared": shared,
            "row_problems": row_problems, "bad_rows": bad_rows, "ready": checked.problems.is_empty(),
            "shown": PROBLEMS_SHOWN, "first_rows": first_rows,
            "first_row": sheet.rows.first().map(|r| r.number), "last_row": sheet.rows.last().map(|r| r.number),
            "error": error,
        }),
    )
}

/// The choices: template, shared fields and the columns' mapping.
pub(crate) async fn save_choices(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(draft_id): Path<uuid::Uuid>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let form: HashMap<String, String> = form.into_iter().collect();
    if !me.form_token_matches(form.get("csrf").map_or("", String::as_str)) {
        return me.refuse_form();
    }
    let (_, draft) = match draft_of(&state, &me, draft_id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (sheet, old) = parts(&draft);
    let get = |k: &str| form.get(k).map(|v| v.trim().chars().take(1000).collect::<String>()).unwrap_or_default();
    let template = get("template");
    let mut columns = BTreeMap::new();
    for (key, value) in &form {
        if let Some(target) = key.strip_prefix("col.")
            && !value.is_empty()
            && sheet.columns.contains(value)
        {
            columns.insert(target.to_owned(), value.clone());
        }
    }
    // A template changed here: its values are matched by name again.
    if template != old.template {
        for (k, v) in guess_columns(&sheet.columns, &variables(&template)) {
            if k.starts_with("data.") {
                columns.entry(k).or_insert(v);
            }
        }
    }
    let settings = MergeSettings {
        template,
        layout: get("layout"),
        language: get("language"),
        subject: get("subject"),
        signatory_name: get("signatory_name"),
        signatory_position: get("signatory_position"),
        contact: get("contact"),
        reply_deadline: get("reply_deadline"),
        send_after: get("send_after"),
        columns,
    };
    let saved: hybridpost_store::Result<bool> = async {
        let mut tx = state.store.begin().await?;
        let saved = letter_batches::update_draft(
            &mut tx,
            draft_id,
            None,
            &serde_json::to_string(&settings).unwrap_or_default(),
            &now_text(),
        )
        .await?;
        tx.commit().await?;
        Ok(saved)
    }
    .await;
    match saved {
        Ok(_) => see_other(&format!("/console/send-many/drafts/{draft_id}#problems")),
        Err(e) => {
            tracing::error!("cannot save a mail-merge draft: {e}");
            pages::unavailable(me.lang)
        }
    }
}

/// The file again, fixed: its rows replace the draft's, the choices stay.
pub(crate) async fn replace_file(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(draft_id): Path<uuid::Uuid>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let upload = match read_upload(&me, multipart).await {
        Ok(u) => u,
        Err(UploadError::Forbidden) => return me.refuse_form(),
        Err(e) => {
            return match draft_of(&state, &me, draft_id).await {
                Ok((_, draft)) => render_draft(&me, &draft, StatusCode::BAD_REQUEST, Some(e.text(me.lang))).await,
                Err(r) => r,
            };
        }
    };
    let (_, draft) = match draft_of(&state, &me, draft_id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some((file_name, bytes)) = upload.file else {
        let why = me.lang.pick("เลือกไฟล์ที่แก้ไขแล้ว", "Choose the corrected file.").to_owned();
        return render_draft(&me, &draft, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await;
    };
    let sheet = match parse_file(file_name.clone(), bytes).await {
        Ok(s) => s,
        Err(e) => {
            let why = e.pick(me.lang);
            return render_draft(&me, &draft, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await;
        }
    };
    let (_, mut settings) = parts(&draft);
    // Columns the new file no longer has are matched again by name.
    let guessed = guess_columns(&sheet.columns, &variables(&settings.template));
    settings.columns.retain(|_, c| sheet.columns.contains(c));
    for (k, v) in guessed {
        settings.columns.entry(k).or_insert(v);
    }
    let saved: hybridpost_store::Result<bool> = async {
        let mut tx = state.store.begin().await?;
        let saved = letter_batches::update_draft(
            &mut tx,
            draft_id,
            Some((&file_name, &serde_json::to_string(&sheet).unwrap_or_default())),
            &serde_json::to_string(&settings).unwrap_or_default(),
            &now_text(),
        )
        .await?;
        let entry = me.audit(
            "merge.upload",
            Some(serde_json::json!({"file": file_name, "rows": sheet.rows.len(), "again": true})),
        );
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &draft_id.to_string()).await?;
        tx.commit().await?;
        Ok(saved)
    }
    .await;
    match saved {
        Ok(_) => see_other(&format!("/console/send-many/drafts/{draft_id}#problems")),
        Err(e) => {
            tracing::error!("cannot replace a mail-merge file: {e}");
            pages::unavailable(me.lang)
        }
    }
}

/// One row's letter as a PDF, without its seal (it has none until it is sent).
pub(crate) async fn preview(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path((draft_id, row)): Path<(uuid::Uuid, i64)>,
) -> Response {
    let (agency, draft) = match draft_of(&state, &me, draft_id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (sheet, settings) = parts(&draft);
    let Some(cells) = sheet.rows.iter().find(|r| r.number == row).map(|r| r.cells.clone()) else {
        return pages::not_found();
    };
    let cannot = |detail: String| {
        let th = format!("จัดหน้าหนังสือของแถวนี้ไม่ได้: {detail}");
        let en = format!("This row's letter cannot be laid out: {detail}");
        pages::message(StatusCode::UNPROCESSABLE_ENTITY, me.lang, ("แสดงตัวอย่างไม่ได้", "No preview to show"), (&th, &en))
    };
    let letter = match row_letter(&settings, &sheet, &cells) {
        Ok(l) => l,
        Err(e) => return cannot(e),
    };
    proof_of(&state, &me, agency, draft.scope.test, letter, &format!("preview-row-{row}.pdf")).await
}

/// `letter` of `agency` as it will print, without a seal or PIN (it has none until it is
/// sent), in a frame-able PDF; or a page saying why it cannot be laid out.
pub(crate) async fn proof_of(
    state: &ConsoleState,
    me: &SignedIn,
    agency: AgencyId,
    test: bool,
    letter: NewLetter,
    name: &str,
) -> Response {
    let cannot = |detail: String| {
        let th = format!("จัดหน้าหนังสือฉบับนี้ไม่ได้: {detail}");
        let en = format!("This letter cannot be laid out: {detail}");
        pages::message(StatusCode::UNPROCESSABLE_ENTITY, me.lang, ("แสดงตัวอย่างไม่ได้", "No preview to show"), (&th, &en))
    };
    let letter = letter.check(bangkok_today()).map(|c| c.letter).unwrap_or(letter);
    let now = now_text();
    let record = hybridpost_store::letters::LetterRecord {
        letter_id: hybridpost_core::LetterId::new(),
        agency_id: agency,
        reference: letter.reference.clone(),
        status: hybridpost_core::LetterStatus::Accepted,
        channel: hybridpost_core::Channel::Print,
        channel_reason: hybridpost_core::ChannelReason::NoCitizenId,
        test,
        postcode: letter.recipient.address.postcode.clone(),
        citizen_id_hash: None,
        reply_deadline: None,
        content: serde_json::to_value(&letter).unwrap_or_default(),
        created_at: now.clone(),
        updated_at: now,
        seal: None,
        withdrawn: None,
    };
    // The agency's own PDF, when the letter names one, follows its cover page.
    match state.composer.letter_pdf(&state.store, &state.print.blobs, record).await {
        Ok(pdf) => crate::letters::framed_pdf(pdf, name),
        Err(LetterPdfError::Compose(e)) => cannot(e.to_string()),
        Err(LetterPdfError::Store(e)) => {
            tracing::error!("cannot read what a proof is laid out with: {e}");
            pages::unavailable(me.lang)
        }
        Err(LetterPdfError::Panicked(_)) => pages::unavailable(me.lang),
    }
}

#[derive(Deserialize)]
pub(crate) struct RowQuery {
    #[serde(default)]
    row: String,
}

/// The preview form's answer: the row's PDF.
pub(crate) async fn preview_row(Path(draft_id): Path<uuid::Uuid>, Query(q): Query<RowQuery>) -> Response {
    match q.row.trim().parse::<i64>() {
        Ok(row) => see_other(&format!("/console/send-many/drafts/{draft_id}/rows/{row}/preview.pdf")),
        Err(_) => see_other(&format!("/console/send-many/drafts/{draft_id}")),
    }
}

/// Every problem as a CSV file (row, column, problem, suggestions).
pub(crate) async fn problems_csv(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(draft_id): Path<uuid::Uuid>,
) -> Response {
    let (_, draft) = match draft_of(&state, &me, draft_id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (sheet, settings) = parts(&draft);
    let (_, _, checked) = checked(sheet, settings, me.lang).await;
    let mut csv = String::new();
    crate::returns::push_csv_row(&mut csv, &["row".into(), "column".into(), "problem".into(), "suggestions".into()]);
    for p in &checked.problems {
        let row = p.row.map_or_else(|| me.lang.pick("ทุกแถว", "every row").to_owned(), |r| r.to_string());
        crate::returns::push_csv_row(&mut csv, &[row, p.column.clone(), p.message.clone(), p.suggestions.join(" | ")]);
    }
    crate::returns::csv_file("problems.csv", &csv)
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Sends the draft as one batch, if it has no problem.
pub(crate) async fn send(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(draft_id): Path<uuid::Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let (_, draft) = match draft_of(&state, &me, draft_id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    if let Some(batch) = draft.batch_id {
        return see_other(&format!("/console/send-many/{batch}{}", scope_query(draft.scope.test)));
    }
    let (sheet, settings) = parts(&draft);
    let (_, _, checked) = checked(sheet, settings, me.lang).await;
    if !checked.problems.is_empty() {
        let why = me.lang.pick("ยังส่งไม่ได้: แก้ไขปัญหาด้านล่างก่อน", "Not sent: fix the problems below first.").to_owned();
        return render_draft(&me, &draft, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await;
    }
    let rows = checked.letters.len();
    // Every row has the draft's send-after time: the batch waits for it.
    let held = checked
        .letters
        .first()
        .and_then(|(_, letter)| letter.send_after_time())
        .filter(|at| *at > time::OffsetDateTime::now_utc());
    let batch_id = match hybridpost_gateway::submit(
        &state.store,
        draft.scope,
        BatchSource::Console,
        Some(draft.file_name.clone()),
        Some(me.person.person_id),
        &checked.letters,
        held,
    )
    .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!("cannot store a mail-merge batch: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let recorded: hybridpost_store::Result<()> = async {
        let mut tx = state.store.begin().await?;
        letter_batches::set_draft_batch(&mut tx, draft_id, batch_id).await?;
        let entry = me.audit(
            "merge.send",
            Some(serde_json::json!({"batch": batch_id.to_string(), "file": draft.file_name, "rows": rows,
                "test": draft.scope.test})),
        );
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &batch_id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = recorded {
        // The batch is stored and will be sent; only the draft's link to it is missing.
        tracing::error!(batch.id = %batch_id, "cannot record a mail-merge draft as sent: {e}");
    }
    see_other(&format!("/console/send-many/{batch_id}{}", scope_query(draft.scope.test)))
}

/// A batch's progress (the page reloads itself while rows are being sent) and its rows not sent.
pub(crate) async fn batch_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<uuid::Uuid>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let scope = AgencyScope { agency_id: agency, test: q.mode == "test" };
    let found: hybridpost_store::Result<Option<_>> = async {
        let mut conn = state.store.read().await?;
        let Some(batch) = letter_batches::get_batch(&mut conn, scope, batch_id).await? else {
            return Ok(None);
        };
        let rows = letter_batches::row_outcomes(&mut conn, batch_id).await?;
        Ok(Some((batch, rows)))
    }
    .await;
    let (batch, rows) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read a letter batch: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let done = batch.rows_total - batch.pending;
    let refused: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r.state == letter_batches::RowState::Refused)
        .take(PROBLEMS_SHOWN)
        .map(|r| serde_json::json!({"row": r.row_number, "error": r.error}))
        .collect();
    let first_letters: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r.state == letter_batches::RowState::Sent)
        .take(10)
        .map(|r| serde_json::json!({"row": r.row_number, "id": r.letter_id.map(|l| l.to_string())}))
        .collect();
    pages::render(
        StatusCode::OK,
        "merge_batch.html",
        me.lang,
        serde_json::json!({
            "me": me_context(&me), "csrf": me.session.csrf_token, "path": "/console/send-many",
            "id": batch_id.to_string(), "file": batch.file_name.unwrap_or_else(|| "API".into()),
            "by": batch.created_by_name, "at": when(&batch.created_at, me.lang), "test": scope.test,
            "mode": scope_query(scope.test), "total": batch.rows_total, "done_rows": done, "sent": batch.sent,
            "sent_before": batch.sent_before, "refused_count": batch.refused, "pending": batch.pending,
            "finished": batch.status != "sending", "refused": refused, "letters": first_letters,
            "held_until": batch.not_before.as_deref()
                .filter(|at| batch.status == "sending" && *at > now_text().as_str())
                .map(|at| when(at, me.lang)),
            "cancelled": batch.status == "cancelled", "may_send": may_send(&me),
            "percent": if batch.rows_total > 0 { done * 100 / batch.rows_total } else { 100 },
        }),
    )
}

/// Cancels a batch held until a time, before its time.
pub(crate) async fn cancel_batch(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<uuid::Uuid>,
    Query(q): Query<ModeQuery>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !may_send(&me) {
        return pages::refused(StatusCode::FORBIDDEN, me.lang);
    }
    let scope = AgencyScope { agency_id: agency, test: q.mode == "test" };
    let done: hybridpost_store::Result<Option<bool>> = async {
        let mut tx = state.store.begin().await?;
        if letter_batches::get_batch(&mut tx, scope, batch_id).await?.is_none() {
            return Ok(None);
        }
        let cancelled = letter_batches::cancel_batch(&mut tx, scope, batch_id, &now_text()).await?;
        if cancelled {
            let entry = me.audit("batch.cancel", None);
            hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &batch_id.to_string()).await?;
        }
        tx.commit().await?;
        Ok(Some(cancelled))
    }
    .await;
    match done {
        // Cancelled now, or its time came first: its page says which.
        Ok(Some(_)) => see_other(&format!("/console/send-many/{batch_id}{}", scope_query(scope.test))),
        Ok(None) => pages::not_found(),
        Err(e) => {
            tracing::error!("cannot cancel a letter batch: {e}");
            pages::unavailable(me.lang)
        }
    }
}

/// The batch's result file: every row with its letter, channel and status, or why not.
pub(crate) async fn result_csv(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(batch_id): Path<uuid::Uuid>,
    Query(q): Query<ModeQuery>,
) -> Response {
    let agency = match agency_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let scope = AgencyScope { agency_id: agency, test: q.mode == "test" };
    let found: hybridpost_store::Result<Option<_>> = async {
        let mut conn = state.store.read().await?;
        if letter_batches::get_batch(&mut conn, scope, batch_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(letter_batches::row_outcomes(&mut conn, batch_id).await?))
    }
    .await;
    let rows = match found {
        Ok(Some(rows)) => rows,
        Ok(None) => return pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read a letter batch: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let mut csv = String::new();
    crate::returns::push_csv_row(
        &mut csv,
        &["row".into(), "letter_id".into(), "channel".into(), "status".into(), "error".into()],
    );
    for r in rows {
        let (channel, status) = r.letter.unwrap_or_default();
        let status = match r.state {
            letter_batches::RowState::Sent => status,
            other => other.as_str().to_owned(),
        };
        crate::returns::push_csv_row(
            &mut csv,
            &[
                r.row_number.to_string(),
                r.letter_id.map(|l| l.to_string()).unwrap_or_default(),
                channel,
                status,
                r.error.unwrap_or_default(),
            ],
        );
    }
    crate::returns::csv_file(&format!("batch-{batch_id}.csv"), &csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(columns: &[&str], rows: &[&[&str]]) -> Sheet {
        Sheet {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| sheet::SheetRow {
                    number: i as i64 + 2,
                    cells: r.iter().map(|c| (*c).to_owned()).collect(),
                })
                .collect(),
        }
    }

    const COLUMNS: &[&str] = &[
        "เลขที่หนังสือ",
        "ชื่อ-นามสกุล",
        "บ้านเลขที่",
        "หมู่",
        "ถนน",
        "แขวง",
        "เขต",
        "จังหวัด",
        "รหัสไปรษณีย์",
        "office",
        "tax_year",
        "parcel",
        "assessed_value",
        "tax_amount",
        "due_date",
    ];

    fn good_row(reference: &str) -> Vec<&str> {
        vec![
            reference,
            "นายสมชาย ใจดี",
            "99",
            "4",
            "พหลโยธิน",
            "สามเสนใน",
            "พญาไท",
            "กรุงเทพมหานคร",
            "10400",
            "สำนักงานเขตพญาไท",
            "2570",
            "ที่ดินโฉนดเลขที่ 12345",
            "2450000",
            "1225.5",
            "2027-04-30",
        ]
    }

    fn settings(sheet: &Sheet) -> MergeSettings {
        MergeSettings {
            template: "tax-notice".into(),
            subject: "แจ้งการประเมินภาษีที่ดินและสิ่งปลูกสร้าง".into(),
            columns: guess_columns(&sheet.columns, &variables("tax-notice")),
            ..MergeSettings::default()
        }
    }

    #[test]
    fn thai_column_names_are_matched_to_the_letter_and_template_fields() {
        let s = sheet(COLUMNS, &[&good_row("กท 1/1")]);
        let columns = guess_columns(&s.columns, &variables("tax-notice"));
        assert_eq!(columns.get("name").map(String::as_str), Some("ชื่อ-นามสกุล"));
        assert_eq!(columns.get("subdistrict").map(String::as_str), Some("แขวง"));
        assert_eq!(columns.get("postcode").map(String::as_str), Some("รหัสไปรษณีย์"));
        assert_eq!(columns.get("data.tax_amount").map(String::as_str), Some("tax_amount"));
        assert!(!columns.contains_key("data.late_rate"), "no such column");
    }

    #[test]
    fn every_problem_of_every_row_is_found_and_a_shared_one_is_shown_once() {
        let today = time::macros::date!(2026 - 12 - 04);
        let mut bad_postcode = good_row("กท 1/2");
        bad_postcode[8] = "10399";
        let mut no_name = good_row("กท 1/3");
        no_name[1] = "";
        let s = sheet(COLUMNS, &[&good_row("กท 1/1"), &bad_postcode, &no_name]);
        let checked = check_draft(&settings(&s), &s, Lang::English, today);
        let rows: Vec<Option<i64>> = checked.problems.iter().map(|p| p.row).collect();
        assert!(rows.contains(&Some(3)) && rows.contains(&Some(4)), "{:#?}", checked.problems);
        assert!(!rows.contains(&Some(2)), "row 2 is right: {:#?}", checked.problems);
        let postcode = checked.problems.iter().find(|p| p.row == Some(3)).unwrap();
        assert_eq!(postcode.column, "รหัสไปรษณีย์", "the file's own column name");
        assert_eq!(checked.letters.len(), 3);

        // A shared field wrong for every row: once, not three times.
        let mut wrong = settings(&s);
        wrong.reply_deadline = "2020-01-01".into();
        let checked = check_draft(&wrong, &s, Lang::English, today);
        let shared: Vec<&Problem> = checked.problems.iter().filter(|p| p.row.is_none()).collect();
        assert_eq!(shared.len(), 1, "{:#?}", checked.problems);
        assert_eq!(shared[0].column, "Reply by");

        // A required column not mapped stops the check there.
        let mut unmapped = settings(&s);
        unmapped.columns.remove("postcode");
        let checked = check_draft(&unmapped, &s, Lang::Thai, today);
        assert_eq!(checked.problems.len(), 1);
        assert_eq!(checked.problems[0].column, "รหัสไปรษณีย์");
    }

    #[test]
    fn a_template_value_no_column_gives_is_a_problem_before_sending() {
        let today = time::macros::date!(2026 - 12 - 04);
        let s = sheet(COLUMNS, &[&good_row("กท 1/1"), &good_row("กท 1/2")]);
        let mut settings = settings(&s);
        settings.columns.remove("data.due_date");
        let checked = check_draft(&settings, &s, Lang::English, today);
        assert_eq!(checked.problems.len(), 1, "{:#?}", checked.problems);
        assert!(checked.problems[0].message.contains("due_date"), "{:#?}", checked.problems);
    }

    #[test]
    fn cells_become_numbers_only_when_they_are_numbers() {
        assert_eq!(data_value("1225.5"), serde_json::json!(1225.5));
        assert_eq!(data_value("2570"), serde_json::json!(2570));
        assert_eq!(data_value("0153"), serde_json::json!("0153"), "a code keeps its zero");
        assert_eq!(data_value("2027-04-30"), serde_json::json!("2027-04-30"));
        assert_eq!(data_value("10.00"), serde_json::json!("10.00"), "a time keeps its zeros");
        assert_eq!(template_value("appointment", "documents", "ก\nข"), serde_json::json!(["ก", "ข"]));
        assert_eq!(template_value("appointment", "documents", "ก; ข;"), serde_json::json!(["ก", "ข"]));
        assert_eq!(template_value("appointment", "place", "ก; ข"), serde_json::json!("ก; ข"), "not a list");
    }
}
