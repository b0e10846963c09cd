//! Letters as agencies submit them, recipients, and the choice of delivery channel.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::address::ThaiAddress;
use crate::citizen_id::CitizenId;
use crate::official::{Digits, Enclosure, ReferenceEntry, Secrecy, SenderParty, Urgency};
use crate::validation::{FieldWarning, Lines, ValidationErrors, unprintable};

/// Limits on what one letter may hold.
pub mod limits {
    /// Characters in the agency's reference (เลขที่หนังสือ).
    pub const REFERENCE: usize = 100;
    /// Characters in the subject (เรื่อง).
    pub const SUBJECT: usize = 300;
    /// Characters in a person's or organisation's name.
    pub const NAME: usize = 200;
    /// Characters in one paragraph.
    pub const PARAGRAPH: usize = 5_000;
    /// Paragraphs in one letter.
    pub const PARAGRAPHS: usize = 200;
    /// Entries in the references (อ้างถึง) and enclosures (สิ่งที่ส่งมาด้วย) lists.
    pub const LIST_ENTRIES: usize = 20;
    /// Characters in a short line (salutation, closing, position, contact, list entry).
    pub const LINE: usize = 300;
    /// Bytes of template data, as JSON.
    pub const TEMPLATE_DATA_BYTES: usize = 64 * 1024;
}

/// The language a letter is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Language {
    /// Thai only.
    #[default]
    #[serde(rename = "th")]
    Thai,
    /// Thai with English beside it.
    #[serde(rename = "th-en")]
    ThaiEnglish,
    /// English only (letters to foreign residents).
    #[serde(rename = "en")]
    English,
}

/// How a printed letter is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LetterLayout {
    /// The Thai official external letter (หนังสือภายนอก): emblem, reference, the agency's
    /// address, date, subject, salutation, body, closing and signature as the correspondence
    /// regulation sets them.
    #[default]
    Official,
    /// A simpler letter: the sender, date, recipient, subject, body and signature, without
    /// the emblem and the official reference line.
    Plain,
}

impl LetterLayout {
    /// Whether this is the default, official layout (left out when a letter is written out).
    pub fn is_official(&self) -> bool {
        *self == LetterLayout::Official
    }
}

/// The recipient of a letter, as the agency knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecipient {
    /// Full name with title, as printed (นายสมชาย ใจดี).
    pub name: String,
    /// Postal address.
    pub address: ThaiAddress,
    /// Thai citizen id (13 digits); the key to the citizen's registered e-channels. Only its
    /// keyed hash is kept: the letter shows it back masked (`xxxxxxxxx0708`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen_id: Option<String>,
    /// E-mail address the agency holds. It is used for digital delivery only once the citizen
    /// has verified it through hybridpost; an unverified address does not route a letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The recipient's position (ตำแหน่ง) when the letter is written to an office holder:
    /// printed under the name, and the salutation is addressed to it (เรียน ผู้ว่าราชการจังหวัด…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The receiving ministry's code, for a letter to an agency (e-Saraban `ReceiverParty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ministry_id: Option<String>,
    /// The receiving department's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
}

/// Who signs the letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signatory {
    /// Name as printed under the signature, in brackets.
    pub name: String,
    /// Position (ตำแหน่ง).
    pub position: String,
}

/// That a reply is expected, and by when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// Last day for the reply, `YYYY-MM-DD` (Gregorian; printed in the Buddhist era).
    pub deadline: String,
    /// Pages of hybridpost's own reply sheet, 1 (the default) to [`MAX_REPLY_PAGES`]: page 1
    /// asks the question and has lines to write on, the others only lines.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::whole_number::option")]
    pub pages: Option<u8>,
    /// The agency's own PDF form (uploaded with `POST /v1/documents`) printed as the reply
    /// sheet instead of ours: each of its pages gets the reply code at the two code places and
    /// the reference in digits, which must be blank on every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_document_id: Option<String>,
    /// Answer boxes printed on the agency's form, read from the scan as one question: every
    /// box on the same page, choice 1 the first listed. Only with `form_document_id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<FormAnswerBox>,
}

/// Most pages of hybridpost's own reply sheet.
pub const MAX_REPLY_PAGES: u8 = 10;
/// Most answer boxes an agency may declare on its form.
pub const MAX_FORM_ANSWER_BOXES: usize = 10;

/// An answer (tick) box the agency printed on its own form: a square outline the citizen
/// ticks, in mm from the page's top-left corner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormAnswerBox {
    /// The form's page it is on, from 1.
    #[serde(deserialize_with = "crate::whole_number::deserialize")]
    pub page: u32,
    /// Left side of the box's outline, mm from the page's left edge.
    pub x: f32,
    /// Top of the box's outline, mm from the page's top edge.
    pub y: f32,
    /// Side of the box, mm: 3 to 15.
    pub side: f32,
    /// What ticking it means, as the agency wants it reported (Thai).
    pub label_th: String,
    /// What ticking it means, in English.
    pub label_en: String,
}

impl Eq for FormAnswerBox {}

impl ReplyRequest {
    /// The pages of hybridpost's own reply sheet (1 when not given); `None` for an agency form.
    pub fn own_pages(&self) -> Option<u8> {
        self.form_document_id.is_none().then(|| self.pages.unwrap_or(1))
    }
}

/// `"reply": false`, or `"reply": {"deadline": "2027-01-31"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ReplySpec {
    /// `false`: no reply expected (`true` is refused: a reply needs a deadline).
    Flag(bool),
    /// A reply is expected by the deadline.
    Request(ReplyRequest),
}

/// A letter as an agency submits it (`POST /v1/letters`, and `hybridpost render LETTER.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLetter {
    /// The agency's own reference, e.g. the e-Saraban document number (ที่ มท 0808.2/ว 1234).
    pub reference: String,
    /// Language of the letter; `th` when not given.
    #[serde(default)]
    pub language: Language,
    /// Layout of the printed letter: `official` (หนังสือภายนอก) when not given, or `plain`.
    #[serde(default, skip_serializing_if = "LetterLayout::is_official")]
    pub layout: LetterLayout,
    /// Who receives it.
    pub recipient: NewRecipient,
    /// Subject (เรื่อง).
    pub subject: String,
    /// Salutation (เรียน …); when not given, เรียน and the recipient's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salutation: Option<String>,
    /// The letter's date (ลงวันที่), `YYYY-MM-DD`: printed on it instead of the day it is
    /// accepted. Not after the day it is sent, nor more than a year before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// How fast it must be handled (ชั้นความเร็ว).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
    /// How secret it is (ชั้นความลับ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrecy: Option<Secrecy>,
    /// The digits it is written in: `thai` (the default, except in English letters) or `arabic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<Digits>,
    /// The sending side's codes, as correspondence systems give them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<SenderParty>,
    /// Earlier correspondence referred to (อ้างถึง): lines of text, or letters by number and date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ReferenceEntry>,
    /// Enclosures (สิ่งที่ส่งมาด้วย): lines of text, or titled PDFs printed after the letter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enclosures: Vec<Enclosure>,
    /// The letter's text, one entry per paragraph. Either `body` or `template` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Vec<String>>,
    /// A named content template, filled in with `data`, instead of `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The agency's own PDF (uploaded with `POST /v1/documents`), sent behind a cover page
    /// carrying the address, seal and PIN, instead of `body` or `template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// Values for the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// Closing (ขอแสดงความนับถือ when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing: Option<String>,
    /// Who signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatory: Option<Signatory>,
    /// Contact line: the office, telephone and e-mail a citizen can reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Whether a reply is expected, and by when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplySpec>,
    /// Hold the letter until then: an RFC 3339 time (`2027-01-05T09:00:00+07:00`) or a date
    /// (`2027-01-05`, from midnight in Bangkok), at most a year ahead. It is checked again,
    /// routed and sealed when it is released; until then it can be cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_after: Option<String>,
}

/// A letter that passed every check, with its parsed parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedLetter {
    /// The letter, with the recipient's address in official spelling.
    pub letter: NewLetter,
    /// The recipient's citizen id, when given.
    pub citizen_id: Option<CitizenId>,
    /// The reply deadline, when a reply is expected.
    pub reply_deadline: Option<Date>,
    /// The letter's own date, when it gives one.
    pub date: Option<Date>,
    /// What was accepted but is worth a look (a postcode only known to serve the district…),
    /// named by field as errors are.
    pub warnings: Vec<FieldWarning>,
}

impl NewLetter {
    /// Checks every field and returns all problems at once. `today` is the date the letter is
    /// submitted, in Thai time; a reply deadline must come after it.
    pub fn check(&self, today: Date) -> Result<CheckedLetter, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut letter = self.clone();

        errors.text("reference", &self.reference, limits::REFERENCE);
        errors.text("subject", &self.subject, limits::SUBJECT);
        errors.text("recipient.name", &self.recipient.name, limits::NAME);
        for (field, value) in [("salutation", &self.salutation), ("closing", &self.closing), ("contact", &self.contact)]
        {
            if let Some(v) = value {
                errors.text(field, v, limits::LINE);
            }
        }
        for (field, len) in [("references", self.references.len()), ("enclosures", self.enclosures.len())] {
            if len > limits::LIST_ENTRIES {
                errors.add(field, format!("has {len} entries, the limit is {}", limits::LIST_ENTRIES));
            }
        }
        self.check_official(today, &mut errors);
        if let Some(s) = &self.signatory {
            errors.text("signatory.name", &s.name, limits::NAME);
            errors.text("signatory.position", &s.position, limits::LINE);
        }

        let given = [self.body.is_some(), self.template.is_some(), self.document_id.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            errors.add("body", "give one of body, template or document_id");
        }
        if let Some(id) = &self.document_id
            && uuid::Uuid::parse_str(id).is_err()
        {
            errors.add("document_id", "is not a document id from POST /v1/documents");
        }
        match (&self.body, &self.template) {
            (Some(_), Some(_)) => {}
            (None, None) if self.document_id.is_some() => {}
            (None, None) => errors.add("body", "give the letter's paragraphs in body, a template, or a document_id"),
            (Some(body), None) => {
                if body.is_empty() {
                    errors.add("body", "must have at least one paragraph");
                }
                if body.len() > limits::PARAGRAPHS {
                    errors.add("body", format!("has {} paragraphs, the limit is {}", body.len(), limits::PARAGRAPHS));
                }
                for (i, p) in body.iter().enumerate() {
                    errors.paragraph(&format!("body[{i}]"), p, limits::PARAGRAPH);
                }
            }
            (None, Some(name)) => {
                let ok = !name.is_empty()
                    && name.len() <= 64
                    && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
                if !ok {
                    errors.add("template", "a template name is 1 to 64 of a-z, 0-9, - and _");
                }
            }
        }
        if let Some(data) = &self.data {
            if self.template.is_none() {
                errors.add("data", "data fills a template; give template too");
            }
            if !data.is_object() {
                errors.add("data", "must be a JSON object");
            } else if data.to_string().len() > limits::TEMPLATE_DATA_BYTES {
                errors.add("data", format!("is larger than {} bytes", limits::TEMPLATE_DATA_BYTES));
            } else {
                // Template values end up in the printed paragraphs.
                let mut strings = Vec::new();
                json_strings("data", data, &mut strings);
                for (field, value) in strings {
                    if let Some(why) = unprintable(value, Lines::Several) {
                        errors.add(field, why);
                    }
                }
            }
        }

        let mut warnings = Vec::new();
        match self.recipient.address.check("recipient.address") {
            Ok(checked) => {
                letter.recipient.address = checked.address;
                warnings = checked.warnings;
            }
            Err(e) => errors.0.extend(e.0),
        }
        let citizen_id = match &self.recipient.citizen_id {
            None => None,
            Some(text) => match CitizenId::parse(text) {
                Ok(id) => {
                    // Only the masked form is kept: routing uses the keyed hash, taken before storing.
                    letter.recipient.citizen_id = Some(id.masked());
                    Some(id)
                }
                Err(e) => {
                    errors.add("recipient.citizen_id", e.to_string());
                    None
                }
            },
        };
        if let Some(email) = &self.recipient.email
            && let Err(why) = check_email(email)
        {
            errors.add("recipient.email", why);
        }

        let reply_deadline = match &self.reply {
            None | Some(ReplySpec::Flag(false)) => {
                letter.reply = None;
                None
            }
            Some(ReplySpec::Flag(true)) => {
                errors.add("reply", "a reply needs a deadline: {\"deadline\": \"YYYY-MM-DD\"}");
                None
            }
            Some(ReplySpec::Request(r)) => {
                check_reply_sheet(r, &mut errors);
                match parse_date(&r.deadline) {
                    Some(d) if d > today => Some(d),
                    Some(_) => {
                        errors.add("reply.deadline", format!("must be after today ({today})"));
                        None
                    }
                    None => {
                        errors.add("reply.deadline", "is not a date in the form YYYY-MM-DD");
                        None
                    }
                }
            }
        };

        if let Some(raw) = &self.send_after {
            match parse_send_after(raw) {
                None => {
                    errors.add("send_after", "is not a time like 2027-01-05T09:00:00+07:00 or a date like 2027-01-05")
                }
                Some(at) => {
                    let day = at.to_offset(time::macros::offset!(+7)).date();
                    if day > today + time::Duration::days(366) {
                        errors.add("send_after", format!("is more than a year after today ({today})"));
                    }
                    if let Some(deadline) = reply_deadline
                        && deadline <= day
                    {
                        errors.add("reply.deadline", format!("must be after the day the letter is sent ({day})"));
                    }
                }
            }
        }

        let date = self.date.as_deref().and_then(parse_date);
        if let Some(d) = date {
            let sent = self.send_after_time().map_or(today, |at| at.to_offset(time::macros::offset!(+7)).date());
            if d > sent.max(today) {
                errors.add("date", format!("is after the day the letter is sent ({})", sent.max(today)));
            }
            if d < today - time::Duration::days(366) {
                errors.add("date", format!("is more than a year before today ({today})"));
            }
        }

        errors.into_result(CheckedLetter { letter, citizen_id, reply_deadline, date, warnings })
    }

    /// The checks of what makes the letter official: its date, urgency, secrecy, references,
    /// enclosures and the parties' codes.
    fn check_official(&self, today: Date, errors: &mut ValidationErrors) {
        if let Some(raw) = &self.date
            && parse_date(raw).is_none()
        {
            errors.add("date", "is not a date in the form YYYY-MM-DD");
        }
        if let Some(urgency @ Urgency::Within(w)) = &self.urgency {
            match urgency.within_time() {
                None => {
                    errors.add("urgency.within", format!("{} is not a time like 2027-01-05T14:00:00+07:00", w.within))
                }
                Some(at) => {
                    let day = at.to_offset(time::macros::offset!(+7)).date();
                    if day < today {
                        errors.add("urgency.within", format!("is before today ({today})"));
                    } else if day > today + time::Duration::days(366) {
                        errors.add("urgency.within", format!("is more than a year after today ({today})"));
                    }
                }
            }
        }
        if self.secrecy == Some(Secrecy::TopSecret) {
            errors.add(
                "secrecy",
                "a top secret (ลับที่สุด) letter cannot be sent through hybridpost: the Regulation on Official Secrets \
                 B.E. 2544 keeps it off electronic systems; it goes by hand, in a sealed double envelope",
            );
        }
        for (i, entry) in self.references.iter().enumerate() {
            let field = format!("references[{i}]");
            match entry {
                ReferenceEntry::Text(text) => errors.text(&field, text, limits::LINE),
                ReferenceEntry::Letter(l) => {
                    errors.text(&format!("{field}.reference"), &l.reference, limits::REFERENCE);
                    if parse_date(&l.date).is_none() {
                        errors.add(format!("{field}.date"), "is not a date in the form YYYY-MM-DD");
                    } else if parse_date(&l.date).is_some_and(|d| d > today) {
                        errors.add(format!("{field}.date"), format!("is after today ({today})"));
                    }
                    if let Some(from) = &l.from {
                        errors.max_len(&format!("{field}.from"), from, limits::NAME);
                    }
                    if let Some(subject) = &l.subject {
                        errors.max_len(&format!("{field}.subject"), subject, limits::SUBJECT);
                    }
                }
            }
        }
        let mut documents = 0;
        for (i, entry) in self.enclosures.iter().enumerate() {
            let field = format!("enclosures[{i}]");
            match entry {
                Enclosure::Text(text) => errors.text(&field, text, limits::LINE),
                Enclosure::Document(d) => {
                    errors.text(&format!("{field}.title"), &d.title, limits::LINE);
                    if let Some(id) = &d.document_id {
                        documents += 1;
                        if uuid::Uuid::parse_str(id).is_err() {
                            errors.add(format!("{field}.document_id"), "is not a document id from POST /v1/documents");
                        }
                    }
                }
            }
        }
        if documents > crate::official::ENCLOSED_DOCUMENTS {
            errors.add(
                "enclosures",
                format!("has {documents} PDFs, the limit is {}", crate::official::ENCLOSED_DOCUMENTS),
            );
        }
        // Optional parts: blank is as good as absent.
        if let Some(position) = &self.recipient.position {
            errors.max_len("recipient.position", position, limits::LINE);
        }
        let codes = [
            ("recipient.ministry_id", &self.recipient.ministry_id),
            ("recipient.department_id", &self.recipient.department_id),
        ];
        let sender = self.sender.clone().unwrap_or_default();
        let sender_codes =
            [("sender.ministry_id", &sender.ministry_id), ("sender.department_id", &sender.department_id)];
        for (field, code) in codes.into_iter().chain(sender_codes) {
            if let Some(code) = code {
                errors.max_len(field, code, crate::official::PARTY_CODE);
            }
        }
        if let Some(office) = &sender.office {
            errors.max_len("sender.office", office, limits::LINE);
        }
    }

    /// The digits the letter is written in: as it asks; else Arabic in English, Thai in an
    /// official letter in Thai; `None` for a plain Thai letter that does not say, which is
    /// printed as typed (its dates in Thai digits).
    pub fn digits(&self) -> Option<Digits> {
        match (self.digits, self.language, self.layout) {
            (Some(d), _, _) => Some(d),
            (None, Language::English, _) => Some(Digits::Arabic),
            (None, _, LetterLayout::Official) => Some(Digits::Thai),
            (None, _, LetterLayout::Plain) => None,
        }
    }

    /// Print priority from the urgency (0 without): see [`Urgency::priority`].
    pub fn priority(&self) -> i64 {
        self.urgency.as_ref().map_or(0, Urgency::priority)
    }

    /// The reply the letter asks for, when it asks for one.
    pub fn reply_request(&self) -> Option<&ReplyRequest> {
        match &self.reply {
            Some(ReplySpec::Request(r)) => Some(r),
            _ => None,
        }
    }

    /// The agency's own form printed as the reply sheet, when the letter has one.
    pub fn reply_form_id(&self) -> Option<&str> {
        self.reply_request().and_then(|r| r.form_document_id.as_deref())
    }

    /// The ids of the agency PDFs the letter is made of: its main document, then its
    /// enclosures' in the order listed, then the form it asks to be returned.
    pub fn document_ids(&self) -> Vec<&str> {
        self.document_id
            .as_deref()
            .into_iter()
            .chain(self.enclosures.iter().filter_map(Enclosure::document_id))
            .chain(self.reply_form_id())
            .collect()
    }

    /// When the letter is held until, if it says (and says it readably).
    pub fn send_after_time(&self) -> Option<time::OffsetDateTime> {
        self.send_after.as_deref().and_then(parse_send_after)
    }
}

/// The reply sheet's shape: our own of 1 to [`MAX_REPLY_PAGES`] pages, or the agency's form
/// with the answer boxes it declares (whose place on its pages the gateway checks against
/// the form itself).
fn check_reply_sheet(r: &ReplyRequest, errors: &mut ValidationErrors) {
    if let Some(pages) = r.pages
        && !(1..=MAX_REPLY_PAGES).contains(&pages)
    {
        errors.add("reply.pages", format!("must be 1 to {MAX_REPLY_PAGES}"));
    }
    match &r.form_document_id {
        Some(_) if r.pages.is_some() => {
            errors.add("reply.pages", "give pages for our reply sheet or form_document_id for your own, not both");
        }
        Some(id) if uuid::Uuid::parse_str(id).is_err() => {
            errors.add("reply.form_document_id", "is not a document id from POST /v1/documents");
        }
        Some(_) => {}
        None if !r.answers.is_empty() => {
            errors.add("reply.answers", "answer boxes are declared on your own form: give form_document_id");
        }
        None => {}
    }
    if r.answers.len() > MAX_FORM_ANSWER_BOXES {
        errors.add("reply.answers", format!("has {} boxes, the limit is {MAX_FORM_ANSWER_BOXES}", r.answers.len()));
    }
    if r.answers.len() == 1 {
        errors.add("reply.answers", "one box is not a choice: declare at least two, or none");
    }
    if let Some(first) = r.answers.first()
        && r.answers.iter().any(|b| b.page != first.page)
    {
        errors.add("reply.answers", "every answer box must be on the same page of the form");
    }
    for (i, b) in r.answers.iter().enumerate() {
        let field = |name: &str| format!("reply.answers[{i}].{name}");
        if !(3.0..=15.0).contains(&b.side) {
            errors.add(field("side"), "must be 3 to 15 mm");
        }
        // Inside the printable area of an A4 page (5 mm from each edge).
        if !(b.x.is_finite() && b.x >= 5.0 && b.x + b.side <= 205.0) {
            errors.add(field("x"), "must put the box 5 mm or more inside the page's left and right edges");
        }
        if !(b.y.is_finite() && b.y >= 5.0 && b.y + b.side <= 292.0) {
            errors.add(field("y"), "must put the box 5 mm or more inside the page's top and bottom edges");
        }
        if b.page == 0 {
            errors.add(field("page"), "counts from 1");
        }
        errors.text(&field("label_th"), &b.label_th, limits::LINE);
        errors.text(&field("label_en"), &b.label_en, limits::LINE);
    }
    for (i, a) in r.answers.iter().enumerate() {
        if r.answers[..i].iter().any(|b| {
            a.x < b.x + b.side + 2.0 && b.x < a.x + a.side + 2.0 && a.y < b.y + b.side + 2.0 && b.y < a.y + a.side + 2.0
        }) {
            errors.add(format!("reply.answers[{i}]"), "is less than 2 mm from another answer box");
        }
    }
}

/// An RFC 3339 time, or a date meaning its midnight in Bangkok.
fn parse_send_after(raw: &str) -> Option<time::OffsetDateTime> {
    let raw = raw.trim();
    if let Ok(t) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    parse_date(raw).map(|d| d.midnight().assume_offset(time::macros::offset!(+7)))
}

impl NewLetter {
    /// Every text of the letter that is printed or sent, with its JSON path and whether it may
    /// break lines: what the renderer's fonts must be able to draw.
    pub fn text_fields(&self) -> Vec<(String, &str, Lines)> {
        fn one<'a>(field: &str, value: &'a str) -> (String, &'a str, Lines) {
            (field.to_owned(), value, Lines::One)
        }
        let mut fields = vec![one("reference", &self.reference), one("subject", &self.subject)];
        fields.push(one("recipient.name", &self.recipient.name));
        for (name, value) in self.recipient.address.fields() {
            fields.push((format!("recipient.address.{name}"), value, Lines::One));
        }
        if let Some(email) = &self.recipient.email {
            fields.push(one("recipient.email", email));
        }
        for (field, value) in [("salutation", &self.salutation), ("closing", &self.closing), ("contact", &self.contact)]
        {
            if let Some(v) = value {
                fields.push(one(field, v));
            }
        }
        if let Some(position) = &self.recipient.position {
            fields.push(one("recipient.position", position));
        }
        for (i, entry) in self.references.iter().enumerate() {
            match entry {
                ReferenceEntry::Text(text) => fields.push((format!("references[{i}]"), text, Lines::One)),
                ReferenceEntry::Letter(l) => {
                    fields.push((format!("references[{i}].reference"), &l.reference, Lines::One));
                    if let Some(from) = &l.from {
                        fields.push((format!("references[{i}].from"), from, Lines::One));
                    }
                }
            }
        }
        for (i, entry) in self.enclosures.iter().enumerate() {
            let field = match entry {
                Enclosure::Text(_) => format!("enclosures[{i}]"),
                Enclosure::Document(_) => format!("enclosures[{i}].title"),
            };
            fields.push((field, entry.title(), Lines::One));
        }
        for (i, p) in self.body.iter().flatten().enumerate() {
            fields.push((format!("body[{i}]"), p, Lines::Several));
        }
        if let Some(s) = &self.signatory {
            fields.push(one("signatory.name", &s.name));
            fields.push(one("signatory.position", &s.position));
        }
        if let Some(data) = &self.data {
            let mut strings = Vec::new();
            json_strings("data", data, &mut strings);
            fields.extend(strings.into_iter().map(|(f, v)| (f, v, Lines::Several)));
        }
        fields
    }
}

/// The strings inside `value` with their JSON paths (`data.items[2].name`).
fn json_strings<'a>(path: &str, value: &'a serde_json::Value, out: &mut Vec<(String, &'a str)>) {
    match value {
        serde_json::Value::String(s) => out.push((path.to_owned(), s)),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                json_strings(&format!("{path}[{i}]"), item, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                json_strings(&format!("{path}.{key}"), item, out);
            }
        }
        _ => {}
    }
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// A plain syntax check of an e-mail address (RFC 5321 limits, one `@`, a dotted domain). The
/// real check is the confirmation mail the citizen answers.
pub fn check_email(email: &str) -> Result<(), String> {
    if email.len() > 254 {
        return Err(format!("is {} characters long, the limit is 254", email.len()));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("is not an e-mail address (no @)".into());
    };
    let ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok { Ok(()) } else { Err("is not an e-mail address".into()) }
}

/// How a letter reaches its recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// E-mail notice with a secure link.
    Digital,
    /// Printed and posted.
    Print,
}

/// Why the channel was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelReason {
    /// The citizen registered and verified an e-mail address with hybridpost.
    VerifiedEChannel,
    /// No citizen id was given, so no registered e-channel can be looked up.
    NoCitizenId,
    /// The citizen has no verified e-channel.
    NoVerifiedEChannel,
    /// hybridpost's own letter confirming a change of the citizen's delivery channel: it goes
    /// on paper to the postal address, whatever the channel, so that whoever lives there learns
    /// of the change before it takes effect.
    ChannelChangeConfirmation,
}

impl Channel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Digital => "digital",
            Channel::Print => "print",
        }
    }

    /// Chooses the channel: digital only for a citizen with a verified e-channel.
    pub fn choose(citizen_id: Option<&CitizenId>, has_verified_e_channel: bool) -> (Channel, ChannelReason) {
        match (citizen_id, has_verified_e_channel) {
            (None, _) => (Channel::Print, ChannelReason::NoCitizenId),
            (Some(_), true) => (Channel::Digital, ChannelReason::VerifiedEChannel),
            (Some(_), false) => (Channel::Print, ChannelReason::NoVerifiedEChannel),
        }
    }
}

impl ChannelReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelReason::VerifiedEChannel => "verified_e_channel",
            ChannelReason::NoCitizenId => "no_citizen_id",
            ChannelReason::NoVerifiedEChannel => "no_verified_e_channel",
            ChannelReason::ChannelChangeConfirmation => "channel_change_confirmation",
        }
    }
}

impl std::str::FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "digital" => Ok(Channel::Digital),
            "print" => Ok(Channel::Print),
            other => Err(format!("{} is not a channel", crate::quoted(other))),
        }
    }
}

impl std::str::FromStr for ChannelReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ChannelReason::VerifiedEChannel,
            ChannelReason::NoCitizenId,
            ChannelReason::NoVerifiedEChannel,
            ChannelReason::ChannelChangeConfirmation,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("{} is not a channel reason", crate::quoted(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const EXAMPLE: &str = r#"{"reference": "มท 0808.2/ว 1234", "language": "th",
      "recipient": {"name": "นายสมชาย ใจดี", "citizen_id": "1101700230708",
        "address": {"house_number": "99", "moo": "4", "soi": "สุขใจ", "road": "พหลโยธิน",
          "subdistrict": "สามเสนใน", "district": "พญาไท", "province": "กรุงเทพมหานคร", "postcode": "10400"}},
      "subject": "แจ้งผลการพิจารณาคำขอ",
      "body": ["ตามที่ท่านได้ยื่นคำขอ ..."],
      "reply": {"deadline": "2027-01-31"}}"#;

    fn example() -> NewLetter {
        serde_json::from_str(EXAMPLE).unwrap()
    }

    #[test]
    fn the_documented_example_passes() {
        let checked = example().check(date!(2026 - 11 - 22)).unwrap();
        assert_eq!(checked.reply_deadline, Some(date!(2027 - 01 - 31)));
        assert_eq!(checked.citizen_id.unwrap().digits(), "1101700230708");
    }

    #[test]
    fn reply_false_and_no_reply_mean_none_and_true_is_refused() {
        let mut l = example();
        l.reply = Some(ReplySpec::Flag(false));
        assert_eq!(l.check(date!(2026 - 11 - 22)).unwrap().reply_deadline, None);
        l.reply = None;
        assert_eq!(l.check(date!(2026 - 11 - 22)).unwrap().reply_deadline, None);
        l.reply = Some(ReplySpec::Flag(true));
        let err = l.check(date!(2026 - 11 - 22)).unwrap_err();
        assert_eq!(err.0[0].field, "reply");
    }

    #[test]
    fn the_layout_is_official_unless_plain_is_asked_for() {
        assert_eq!(example().layout, LetterLayout::Official);
        let plain = EXAMPLE.replacen("\"language\": \"th\"", "\"language\": \"th\", \"layout\": \"plain\"", 1);
        assert_eq!(serde_json::from_str::<NewLetter>(&plain).unwrap().layout, LetterLayout::Plain);
        let wrong = EXAMPLE.replacen("\"language\": \"th\"", "\"language\": \"th\", \"layout\": \"fancy\"", 1);
        let err = serde_json::from_str::<NewLetter>(&wrong).unwrap_err();
        assert!(err.to_string().contains("unknown variant `fancy`"), "{err}");
    }

    #[test]
    fn a_top_secret_letter_is_refused_saying_why() {
        let mut l = example();
        l.secrecy = Some(Secrecy::TopSecret);
        let err = l.check(date!(2026 - 11 - 22)).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err:?}");
        assert_eq!(err.0[0].field, "secrecy");
        assert!(err.0[0].message.contains("off electronic systems"), "{}", err.0[0].message);
        l.secrecy = Some(Secrecy::Secret);
        assert!(l.check(date!(2026 - 11 - 22)).is_ok(), "the agency's permission is checked where the agency is known");
    }

    #[test]
    fn official_fields_are_checked_with_their_paths() {
        let text = EXAMPLE.replacen(
            "\"subject\"",
            r#""date": "2026-11-23", "urgency": {"within": "2026-11-01T10:00:00+07:00"},
               "references": ["ข้อความ", {"reference": "มท 0808.2/ว 100", "date": "20 พ.ย. 69"}],
               "enclosures": [{"title": "แบบคำขอ", "document_id": "abc"}],
               "subject""#,
            1,
        );
        let l: NewLetter = serde_json::from_str(&text).unwrap();
        let err = l.check(date!(2026 - 11 - 22)).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["urgency.within", "references[1].date", "enclosures[0].document_id", "date"], "{err:?}");
    }

    #[test]
    fn a_dated_letter_with_urgency_and_enclosures_passes() {
        let text = EXAMPLE.replacen(
            "\"subject\"",
            r#""date": "2026-11-20", "urgency": "ด่วนที่สุด", "secrecy": "ลับ", "digits": "arabic",
               "references": [{"reference": "มท 0808.2/ว 100", "date": "2026-10-01", "from": "กรมการปกครอง"}],
               "enclosures": ["แผนที่", {"title": "แบบคำขอ", "document_id": "0190c5a0-0000-7000-8000-000000000000"}],
               "sender": {"ministry_id": "0300", "department_id": "0310"},
               "subject""#,
            1,
        );
        let l: NewLetter = serde_json::from_str(&text).unwrap();
        let checked = l.check(date!(2026 - 11 - 22)).unwrap();
        assert_eq!(checked.date, Some(date!(2026 - 11 - 20)));
        assert_eq!(l.priority(), 3);
        assert_eq!(l.digits(), Some(Digits::Arabic));
        assert_eq!(l.document_ids(), ["0190c5a0-0000-7000-8000-000000000000"]);
        assert_eq!(serde_json::to_value(&l).unwrap()["urgency"], "most_urgent");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = EXAMPLE.replacen("\"subject\"", "\"subjet\": \"x\", \"subject\"", 1);
        let err = serde_json::from_str::<NewLetter>(&text).unwrap_err();
        assert!(err.to_string().contains("unknown field `subjet`"), "{err}");
    }

    #[test]
    fn all_problems_are_reported_together() {
        let mut l = example();
        l.subject = "ก".repeat(limits::SUBJECT + 1);
        l.recipient.citizen_id = Some("1101700230709".into());
        l.recipient.address.postcode = "50200".into();
        l.recipient.email = Some("not-an-address".into());
        l.reply = Some(ReplySpec::Request(ReplyRequest {
            deadline: "2026-11-01".into(),
            pages: None,
            form_document_id: None,
            answers: Vec::new(),
        }));
        let err = l.check(date!(2026 - 11 - 22)).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["subject", "recipient.address.postcode", "recipient.citizen_id", "recipient.email", "reply.deadline"]
        );
        assert!(err.0[0].message.contains("301 characters long, the limit is 300"), "{:?}", err.0[0]);
    }

    #[test]
    fn body_or_template_is_required_but_not_both() {
        let mut l = example();
        l.body = None;
        assert_eq!(l.check(date!(2026 - 11 - 22)).unwrap_err().0[0].field, "body");
        l.template = Some("tax-notice".into());
        l.data = Some(serde_json::json!({"amount": 100}));
        assert!(l.check(date!(2026 - 11 - 22)).is_ok());
        l.body = Some(vec!["x".into()]);
        assert_eq!(l.check(date!(2026 - 11 - 22)).unwrap_err().0[0].field, "body");
    }

    #[test]
    fn an_agency_pdf_replaces_the_body() {
        let mut l = example();
        l.body = None;
        l.document_id = Some("01936f0e-0000-7000-8000-000000000000".into());
        assert!(l.check(date!(2026 - 11 - 22)).is_ok());
        l.document_id = Some("not-a-document".into());
        assert_eq!(l.check(date!(2026 - 11 - 22)).unwrap_err().0[0].field, "document_id");
        l.document_id = Some("01936f0e-0000-7000-8000-000000000000".into());
        l.body = Some(vec!["x".into()]);
        assert_eq!(l.check(date!(2026 - 11 - 22)).unwrap_err().0[0].field, "body");
    }

    #[test]
    fn unprintable_text_is_refused_in_every_field_with_its_path_and_position() {
        let mut l = example();
        l.recipient.name = "นาย\u{202e}สมชาย".into();
        l.subject = "เรื่อง\u{0}".into();
        l.body = Some(vec!["ย่อหน้าแรก\nบรรทัดสอง".into(), "x\u{200b}".into()]);
        l.recipient.address.road = Some("พหล\u{fffe}โยธิน".into());
        l.references = vec!["ที่ 1\tก".into()];
        l.signatory = Some(Signatory { name: "ก\nข".into(), position: "ผู้อำนวยการ".into() });
        let err = l.check(date!(2026 - 11 - 22)).unwrap_err();
        let found: Vec<(&str, &str)> = err.0.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        let expect = [
            ("subject", "character 7 is U+0000 NULL"),
            ("recipient.name", "character 4 is U+202E RIGHT-TO-LEFT OVERRIDE"),
            ("references[0]", "character 6 is U+0009 CHARACTER TABULATION"),
            ("signatory.name", "character 2 is U+000A LINE FEED"),
            ("body[1]", "character 2 is U+200B ZERO WIDTH SPACE"),
            ("recipient.address.road", "character 4 is U+FFFE, a noncharacter"),
        ];
        assert_eq!(found.len(), expect.len(), "{found:?}");
        for ((field, message), (want_field, want)) in found.iter().zip(expect) {
            assert_eq!(*field, want_field);
            assert!(message.starts_with(want), "{field}: {message}");
        }
    }

    #[test]
    fn template_values_are_checked_too() {
        let mut l = example();
        l.body = None;
        l.template = Some("tax-notice".into());
        l.data = Some(serde_json::json!({"items": [{"name": "ok"}, {"name": "bad\u{2066}"}], "n": 3}));
        let err = l.check(date!(2026 - 11 - 22)).unwrap_err();
        assert_eq!(err.0[0].field, "data.items[1].name");
        assert!(err.0[0].message.contains("U+2066 LEFT-TO-RIGHT ISOLATE"), "{:?}", err.0[0]);
        let fields: Vec<String> = l.text_fields().into_iter().map(|(f, _, _)| f).collect();
        assert!(fields.contains(&"data.items[1].name".to_owned()), "{fields:?}");
    }

    #[test]
    fn channel_is_digital_only_with_a_verified_e_channel() {
        let id = CitizenId::parse("1101700230708").unwrap();
        assert_eq!(Channel::choose(Some(&id), true), (Channel::Digital, ChannelReason::VerifiedEChannel));
        assert_eq!(Channel::choose(Some(&id), false), (Channel::Print, ChannelReason::NoVerifiedEChannel));
        assert_eq!(Channel::choose(None, true), (Channel::Print, ChannelReason::NoCitizenId));
    }

    #[test]
    fn email_syntax_is_checked() {
        assert!(check_email("somchai@example.co.th").is_ok());
        for bad in ["", "a", "a@b", "@b.th", "a b@c.th", "a@.th", "a@th."] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
