//! A stored letter laid out as hybridpost prints it and delivers it digitally: the same
//! document either way (the digital copy is the print PDF), with the agency's letterhead, the
//! verification seal and its URL, the PIN, and the reply sheet when a reply is expected.
//!
//! Layout is deterministic: the same stored letter gives the same document, so a print batch
//! can be rendered again after a crash and the proof an agency downloads is what is printed.
#![forbid(unsafe_code)]

use hybridpost_core::LetterId;
use hybridpost_core::NewLetter;
use hybridpost_keyring::Keyring;
use hybridpost_render::{Document, Emblem, LetterOptions, QrModules, ReplySheet, Sender, lay_out_letter};
use hybridpost_seal::{Purpose, QrMatrix, Reference, ReplyCode, ReplyKey, Seal};
use hybridpost_store::agencies::{self, Agency};
use hybridpost_store::letters::LetterRecord;
use hybridpost_store::{AnyConnection, BlobKey, BlobStore, Store, StoreError, documents};

/// A letter laid out for print.
#[derive(Debug)]
pub enum Composed {
    /// Typeset by hybridpost.
    Document(Document<'static>),
    /// Typeset pages followed by the agency's PDFs, in order: the agency's own letter behind
    /// a cover page carrying the address, seal and PIN, then the enclosures' PDFs; or a
    /// typeset letter followed by its enclosures' PDFs.
    WithPdfs(Document<'static>, Vec<Vec<u8>>),
}

/// Why a letter cannot be laid out; the text is for the agency.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The stored letter does not read back (a bug or a hand-edited row).
    #[error("the stored letter cannot be read: {0}")]
    Stored(String),
    /// Layout failed.
    #[error("the letter cannot be laid out: {0}")]
    Layout(String),
    /// The agency's PDF cannot be appended.
    #[error("the agency's PDF cannot be used: {0}")]
    AgencyPdf(String),
}

/// What a stored letter is laid out with besides itself, as [`load_inputs`] reads it.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Its agency, whose letterhead it carries.
    pub agency: Agency,
    /// The agency's emblem, printed at the top of page 1 of an official letter.
    pub emblem: Option<Emblem>,
    /// The agency's PDFs the letter names ([`NewLetter::document_ids`]): its own letter
    /// (`document_id`), then its enclosures'; `None` for one that is gone.
    pub documents: Vec<Option<Vec<u8>>>,
}

impl Inputs {
    /// A letter of `agency` with no emblem and no PDFs.
    pub fn of(agency: Agency) -> Inputs {
        Inputs { agency, emblem: None, documents: Vec::new() }
    }
}

/// Lays out stored letters.
#[derive(Clone, Debug)]
pub struct Composer {
    keyring: Keyring,
    public_url: String,
}

impl Composer {
    /// A composer whose seals point at the verification page under `public_url`
    /// (`https://verify.example.go.th`, or `http://127.0.0.1:8080` on one machine).
    pub fn new(keyring: Keyring, public_url: impl Into<String>) -> Self {
        Composer { keyring, public_url: public_url.into() }
    }

    /// The seal keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The public base URL.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The host printed under the seal: the public URL without its scheme.
    pub fn verification_host(&self) -> String {
        let rest = self.public_url.split_once("://").map_or(self.public_url.as_str(), |(_, r)| r);
        rest.trim_end_matches('/').to_owned()
    }

    /// Lays out `letter` with its `inputs`: its agency's letterhead and emblem, and the
    /// agency's PDFs it names: its own letter (`document_id`), which then follows a cover page
    /// (and the reply sheet), and its enclosures' PDFs, printed after the letter in the order
    /// listed.
    pub fn compose(&self, letter: &LetterRecord, inputs: &Inputs, pin: PinOnPage) -> Result<Composed, ComposeError> {
        let (agency, documents) = (&inputs.agency, &inputs.documents);
        let mut content = letter.letter().map_err(|e| ComposeError::Stored(e.to_string()))?;
        let ids = content.document_ids();
        if ids.len() != documents.len() {
            return Err(ComposeError::AgencyPdf(format!(
                "the letter names {} PDFs, {} were loaded",
                ids.len(),
                documents.len()
            )));
        }
        let mut pdfs = Vec::with_capacity(documents.len());
        for (id, document) in ids.iter().zip(documents) {
            match document {
                Some(pdf) => pdfs.push(pdf.clone()),
                None => return Err(ComposeError::AgencyPdf(format!("document {id} is missing"))),
            }
        }
        if content.document_id.is_some() {
            // The cover page: the letterhead, address, subject, seal and PIN, and a line saying
            // that the agency's own letter follows.
            content.body = Some(vec![COVER_TEXT.to_owned()]);
            content.document_id = None;
            content.signatory = None;
        }
        let seal = letter.seal.as_ref();
        let pin = match (seal, pin) {
            (Some(s), PinOnPage::Printed) => Some(
                self.keyring
                    .unwrap_pin(&s.reference, &s.pin_wrapped)
                    .map_err(|e| ComposeError::Stored(e.to_string()))?,
            ),
            (Some(_), PinOnPage::Withheld) => Some(WITHHELD_PIN.to_owned()),
            (None, _) => None,
        };
        let issue_date = seal
            .and_then(|s| {
                time::Date::parse(&s.issue_date, time::macros::format_description!("[year]-[month]-[day]")).ok()
            })
            .or_else(|| {
                time::OffsetDateTime::parse(&letter.created_at, &time::format_description::well_known::Rfc3339)
                    .ok()
                    .map(|t| t.to_offset(time::macros::offset!(+7)).date())
            })
            .ok_or_else(|| ComposeError::Stored("the letter has no issue date".into()))?;
        // The letter's own date (ลงวันที่) is printed when it gives one.
        let issue_date = match content.date.as_deref() {
            Some(date) => time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|e| ComposeError::Stored(format!("letter date {date}: {e}")))?,
            None => issue_date,
        };
        let sender = Sender { agency_name: agency.name.clone(), agency_address_lines: agency.address_lines.clone() };
        let mut form_codes = None;
        let (seal_modules, seal_url, reply) = match seal {
            Some(s) => {
                let url = Seal::from_bytes(s.seal.clone()).to_qr_url(&self.public_url);
                let matrix = hybridpost_seal::qr_matrix(&url).map_err(|e| ComposeError::Layout(e.0))?;
                let reference = hybridpost_seal::base32_decode(&s.reference)
                    .ok()
                    .and_then(|b| Reference::from_bytes(&b))
                    .ok_or_else(|| ComposeError::Stored(format!("seal reference {:?}", s.reference)))?;
                let reply = match (content.reply_request(), &letter.reply_deadline) {
                    (Some(r), Some(deadline)) => match r.own_pages() {
                        Some(pages) => Some(self.reply_sheet(&reference, deadline, pages)?),
                        None => {
                            form_codes = Some((reference, deadline.clone()));
                            None
                        }
                    },
                    _ => None,
                };
                (Some(modules(&matrix)?), Some(url), reply)
            }
            None => (None, None, None),
        };
        // The agency's form returned as the reply is the last PDF: its pages get the codes.
        if let Some((reference, deadline)) = form_codes {
            let form = pdfs.pop().ok_or_else(|| ComposeError::AgencyPdf("the reply form was not loaded".into()))?;
            let stamped = hybridpost_pdfcheck::stamp_pages(&form, |pages| {
                let pages = u8::try_from(pages).map_err(|_| format!("the form has {pages} pages, at most 255"))?;
                let sheet = self.reply_sheet(&reference, &deadline, pages).map_err(|e| e.to_string())?;
                let templates = hybridpost_render::LetterTemplates::builtin();
                let stamps = hybridpost_render::form_stamps(templates, &content, &sheet).map_err(|e| e.to_string())?;
                stamps.to_pdf().map_err(|e| e.to_string())
            })
            .map_err(|e| ComposeError::AgencyPdf(format!("the reply form: {e}")))?;
            pdfs.push(stamped);
        }
        let options = LetterOptions {
            issue_date,
            verification_host: self.verification_host(),
            pin,
            seal: seal_modules,
            reply,
            seal_url,
            emblem: inputs.emblem.clone(),
        };
        let (doc, _) = lay_out_letter(&content, &sender, &options).map_err(|e| ComposeError::Layout(e.to_string()))?;
        Ok(if pdfs.is_empty() { Composed::Document(doc) } else { Composed::WithPdfs(doc, pdfs) })
    }

    /// The reply sheet of a letter: `pages` pages, each with its reply code, and the
    /// reference in digits.
    fn reply_sheet(&self, reference: &Reference, deadline: &str, pages: u8) -> Result<ReplySheet, ComposeError> {
        let key = self.reply_key();
        let codes = (1..=pages)
            .map(|page| {
                let code =
                    ReplyCode::new(reference.clone(), page, pages).map_err(|e| ComposeError::Layout(e.to_string()))?;
                modules(&code.qr_matrix(&key).map_err(|e| ComposeError::Layout(e.0))?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let deadline = time::Date::parse(deadline, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|e| ComposeError::Stored(format!("reply deadline {deadline:?}: {e}")))?;
        Ok(ReplySheet { pages: codes, reference_digits: reference.to_digits(), deadline })
    }

    /// The key of reply-code MACs, derived from the service secret.
    pub fn reply_key(&self) -> ReplyKey {
        let key = self.keyring.secret().derive(Purpose::ReplyCode);
        ReplyKey::from_bytes(key.as_ref()).unwrap_or_else(|| unreachable!("a 32-byte key is long enough"))
    }

    /// The letter as one PDF: its proof for the agency and its digital copy for the citizen,
    /// neither of which shows the PIN (only the printed letter does).
    pub fn pdf(&self, letter: &LetterRecord, inputs: &Inputs) -> Result<Vec<u8>, ComposeError> {
        match self.compose(letter, inputs, PinOnPage::Withheld)? {
            Composed::Document(doc) => doc.to_pdf().map_err(|e| ComposeError::Layout(e.to_string())),
            Composed::WithPdfs(first, pdfs) => {
                let mut whole = first.to_pdf().map_err(|e| ComposeError::Layout(e.to_string()))?;
                for pdf in &pdfs {
                    whole = hybridpost_pdfcheck::append_pages(&whole, pdf)
                        .map_err(|e| ComposeError::AgencyPdf(e.to_string()))?;
                }
                Ok(whole)
            }
        }
    }
}

/// Why a letter's PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LetterPdfError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The letter cannot be laid out; the text is for the agency.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The layout thread panicked (a bug).
    #[error("the layout of letter {0} failed unexpectedly")]
    Panicked(LetterId),
}

/// What a stored letter is laid out with besides itself: its agency, the agency's emblem and
/// the agency's PDFs it names. Single copies go through [`Composer::letter_pdf`]; print batches
/// read each agency once ([`load_letterhead`]) and each letter's PDFs.
pub async fn load_inputs(
    conn: &mut AnyConnection,
    blobs: &BlobStore,
    letter: &LetterRecord,
) -> Result<Inputs, StoreError> {
    let (agency, emblem) = load_letterhead(conn, blobs, letter.agency_id).await?.ok_or_else(|| {
        StoreError::Corrupt(format!("letter {} has no agency {}", letter.letter_id, letter.agency_id))
    })?;
    let documents = documents::load_all(conn, blobs, letter.scope(), &letter.document_ids()?).await?;
    Ok(Inputs { agency, emblem, documents })
}

/// An agency and its emblem, `None` when there is no such agency. An emblem that was set but
/// cannot be read back (its blob gone or damaged) is an error, not a letter quietly printed
/// without it.
pub async fn load_letterhead(
    conn: &mut AnyConnection,
    blobs: &BlobStore,
    agency_id: hybridpost_core::AgencyId,
) -> Result<Option<(Agency, Option<Emblem>)>, StoreError> {
    let Some(agency) = agencies::get_agency(conn, agency_id).await? else { return Ok(None) };
    let Some(key) = agencies::emblem_key(conn, agency_id).await? else { return Ok(Some((agency, None))) };
    let corrupt = |why: String| StoreError::Corrupt(format!("the emblem of agency {agency_id}: {why}"));
    let key = BlobKey::parse(&key).map_err(|e| corrupt(e.to_string()))?;
    let bytes = blobs
        .get(&key)
        .await
        .map_err(|e| corrupt(e.to_string()))?
        .ok_or_else(|| corrupt(format!("blob {key} is gone")))?;
    let emblem = Emblem::from_file(&bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some((agency, Some(emblem))))
}

/// Checks an emblem file ([`Emblem::from_file`]), stores it as it prints and sets it as the
/// agency's; the key is named by the emblem's content, so setting the same emblem twice writes
/// one blob. Returns the emblem, or `None` when there is no such agency.
pub async fn set_emblem(
    conn: &mut AnyConnection,
    blobs: &BlobStore,
    agency_id: hybridpost_core::AgencyId,
    emblem: &Emblem,
) -> Result<bool, StoreError> {
    let key = BlobKey::parse(&format!("emblems/{}.png", emblem.key()))
        .unwrap_or_else(|_| unreachable!("hex digits make a blob key"));
    if agencies::get_agency(conn, agency_id).await?.is_none() {
        return Ok(false);
    }
    blobs.put(&key, emblem.to_png()).await.map_err(|e| StoreError::Corrupt(format!("storing the emblem: {e}")))?;
    agencies::set_emblem_key(conn, agency_id, Some(key.as_str())).await
}

impl Composer {
    /// The letter as one PDF without its PIN ([`Composer::pdf`]), loading what it is laid out
    /// with and laying it out on a blocking thread: the agency's proof and the citizen's
    /// digital copy.
    pub async fn letter_pdf(
        &self,
        store: &Store,
        blobs: &BlobStore,
        letter: LetterRecord,
    ) -> Result<Vec<u8>, LetterPdfError> {
        let inputs = {
            let mut conn = store.read().await?;
            load_inputs(&mut conn, blobs, &letter).await?
        };
        let composer = self.clone();
        let letter_id = letter.letter_id;
        tokio::task::spawn_blocking(move || composer.pdf(&letter, &inputs))
            .await
            .map_err(|_| LetterPdfError::Panicked(letter_id))?
            .map_err(LetterPdfError::from)
    }
}

/// Whether the PIN is printed under the seal.
///
/// The PIN proves that its holder has the paper letter: it opens the letter's copy on the
/// verification page and asks for a change of delivery channel. So it appears only on what is
/// printed and posted, never in a proof for the agency, a digital copy or anything a key holder
/// or an e-mail reader can download; those show [`WITHHELD_PIN`] in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOnPage {
    /// The real PIN: print batches only.
    Printed,
    /// [`WITHHELD_PIN`] where the PIN would be.
    Withheld,
}

/// What stands in the PIN's place on proofs and digital copies.
pub const WITHHELD_PIN: &str = "XXXX XXXX";

/// Adds to `errors` each text field of `letter` holding a character the letter fonts cannot
/// draw, which would fail at render time ([`hybridpost_render::RenderError::MissingGlyph`])
/// after the letter was accepted. Fields that already have an error are left alone.
pub fn check_glyphs(letter: &NewLetter, errors: &mut hybridpost_core::ValidationErrors) {
    let fonts = hybridpost_render::Fonts::laksaman();
    for (field, text, _) in letter.text_fields() {
        if errors.0.iter().any(|e| e.field == field) {
            continue;
        }
        if let Some((position, c)) = fonts.missing_glyph(text) {
            let what = hybridpost_core::validation::describe_char(c);
            errors.add(field, format!("character {position} is {what}, which the letter fonts cannot print"));
        }
    }
}

/// Adds to `errors` what stops a letter that names a content template from being laid out:
/// an unknown template, a value the template uses that `data` lacks or cannot be used as the
/// template uses it, and a character of the filled-in text the fonts cannot draw. Without this
/// check those would fail at print time, after the letter was accepted.
pub fn check_content(letter: &NewLetter, errors: &mut hybridpost_core::ValidationErrors) {
    let (None, Some(name)) = (&letter.body, &letter.template) else { return };
    if errors.0.iter().any(|e| e.field == "template" || e.field == "data" || e.field.starts_with("data.")) {
        return;
    }
    let empty = serde_json::Value::Object(serde_json::Map::new());
    let templates = &hybridpost_render::LetterTemplates::builtin().content;
    match hybridpost_render::expand_content(templates, name, letter.data.as_ref().unwrap_or(&empty)) {
        Ok(paragraphs) => {
            let fonts = hybridpost_render::Fonts::laksaman();
            if let Some((position, c)) = paragraphs.iter().find_map(|p| fonts.missing_glyph(p)) {
                let what = hybridpost_core::validation::describe_char(c);
                errors.add("data", format!("the filled-in text has {what} (character {position} of its paragraph), which the letter fonts cannot print"));
            }
        }
        Err(e @ hybridpost_render::ContentError::UnknownTemplate { .. }) => errors.add("template", e.to_string()),
        Err(e) => errors.add("data", e.to_string()),
    }
}

/// The text of the cover page of a letter that is the agency's own PDF.
pub const COVER_TEXT: &str = "หนังสือของหน่วยงานฉบับจริงอยู่ในหน้าถัดไป \
                              (The agency's letter follows on the next pages.)";

/// What an agency's form returned as a reply must meet beyond the print rules: every page
/// leaves blank the two reply code places and the line where the reference is printed.
pub fn reply_form_rules() -> hybridpost_pdfcheck::Rules {
    let area = |a: hybridpost_render::Area, th: &str, en: &str| hybridpost_pdfcheck::ReservedArea {
        x_mm: f64::from(a.x.0),
        y_mm: f64::from(a.y.0),
        width_mm: f64::from(a.width.0),
        height_mm: f64::from(a.height.0),
        name_th: th.into(),
        name_en: en.into(),
    };
    let [top, bottom] = hybridpost_render::REPLY_CODE_AREAS;
    hybridpost_pdfcheck::Rules {
        reserved: vec![
            area(top, "ที่พิมพ์รหัสตอบกลับมุมขวาบน", "the top-right reply code place"),
            area(bottom, "ที่พิมพ์รหัสตอบกลับมุมซ้ายล่าง", "the bottom-left reply code place"),
            area(hybridpost_render::FORM_REFERENCE_AREA, "บรรทัดเลขอ้างอิงด้านล่าง", "the reference line at the bottom"),
        ],
        ..hybridpost_pdfcheck::Rules::default()
    }
}

fn modules(matrix: &QrMatrix) -> Result<QrModules, ComposeError> {
    QrModules::new(matrix.width, matrix.modules.clone()).map_err(|e| ComposeError::Layout(e.to_string()))
}
