//! Letters on A4 for a DL window envelope, in two layouts.
//!
//! The official layout is the Thai official external letter (หนังสือภายนอก). Its parts and
//! their order follow the form in the Regulation of the Prime Minister's Office on
//! Correspondence (ระเบียบสำนักนายกรัฐมนตรีว่าด้วยงานสารบรรณ พ.ศ. ๒๕๒๖ and its amendments,
//! แบบที่ ๑): the emblem at the top centre, ที่ at the top left, the agency's address at the
//! top right, the date, เรื่อง, เรียน, อ้างถึง, สิ่งที่ส่งมาด้วย, the text, the closing right
//! of the middle, the signatory's name in brackets and position, and the owning office's
//! contact at the bottom; pages are numbered from page 2 and every page that continues ends
//! with the continuation word (คำต่อ). The plain layout keeps the envelope window, the seal
//! and the order, without the emblem, with the sender at the top left and everything from
//! the left margin.
//!
//! Dimensions and fixed words come from a [`LetterTemplate`]; text is set at 16 pt in the
//! bundled Thai face, the size Thai government correspondence uses with TH Sarabun.

use hybridpost_core::official::ReferencedLetter;
use hybridpost_core::{Digits, Language, LetterLayout, NewLetter, ReferenceEntry, Urgency};
use hybridpost_thai::{
    break_opportunities, buddhist_year, digits_for_print, format_thai_date, thai_month_abbreviation, to_arabic_digits,
    to_thai_digits,
};
use time::Date;

use crate::content_templates::expand_content;
use crate::qr::{QUIET_ZONE_MODULES, QrModules, draw_qr};
use crate::reply_sheet::{AnswerBox, ReplySheet};
use crate::templates::{LetterTemplate, LetterTemplates, LetterTexts};
use crate::{Align, Area, Color, Document, Flow, Mm, PageId, PageSize, Paint, Paragraph, Pt, RenderError, Resume};
use crate::{Emblem, Stroke, Weight};

/// Width of an A4 page.
const PAGE_WIDTH: f32 = 210.0;
/// Top of the page number on continuation pages: centred on the page at the top, as the
/// regulation numbers the pages of a letter from page 2.
const PAGE_NUMBER_TOP: f32 = 10.0;
/// Top of the contact line (ส่วนราชการเจ้าของเรื่อง / โทร.) at the bottom of the last page.
const CONTACT_TOP: f32 = 272.0;
/// Gap above เรื่อง, above the body and above the closing.
const BLOCK_GAP: f32 = 3.0;
/// Size of the continuation word (คำต่อ) at the bottom right of a page that continues.
const CONTINUATION_SIZE: Pt = Pt(14.0);
/// Font sizes tried below the largest for blocks that shrink to fit (address, sender),
/// with their line heights.
const SHRINK: [(f32, f32); 6] = [(16.0, 1.3), (15.0, 1.25), (14.0, 1.2), (13.0, 1.2), (12.0, 1.2), (11.0, 1.2)];
/// Line height of the address block: tight, so six lines fit the window.
const ADDRESS_LINE_HEIGHT: f32 = 1.2;

/// The first fold of an A4 sheet folded in three for a DL envelope, mm from the top.
pub const DL_FOLD: f32 = 99.0;
/// Clearance kept above the fold by the seal, the host and the PIN: a crease through a
/// code or a PIN makes it hard to read.
const FOLD_CLEARANCE: f32 = 2.0;
/// Smallest seal module that phone cameras read reliably at arm's length, in mm.
const MIN_SEAL_MODULE: f32 = 0.45;
/// Line height of the host and PIN lines.
const SEAL_TEXT_LINE_HEIGHT: f32 = 1.25;
/// Room between the seal square and the host under it: the ascent of Thai text reaches
/// above its line.
const SEAL_TEXT_GAP: f32 = 2.0;
/// Thickness of the reserved square's outline when no seal is given: light, only a guide.
const SEAL_OUTLINE: Pt = Pt(0.3);
/// Grey of the reserved square's outline.
const SEAL_OUTLINE_GRAY: f32 = 0.75;
/// The red of the urgency and secrecy marks, which the regulations ask to be printed in red.
const MARK_RED: Color = Color { r: 0.85, g: 0.0, b: 0.0 };
/// Size of the urgency words: "no smaller than 32 pt" (ชั้นความเร็ว, ระเบียบงานสารบรรณ ข้อ 16).
const URGENCY_SIZE: f32 = 32.0;
/// Size of the date and time of ด่วนภายใน, under the words.
const URGENCY_WHEN_SIZE: f32 = 12.0;
/// Top of the urgency words' line on page 1, above the reference: the stacked marks of ด่วนที่สุด
/// at 32 pt reach 4 mm above it, which keeps them 5 mm from the edge.
const URGENCY_TOP: f32 = 9.5;
/// Room between the urgency and the reference: the reference's marks reach above its line.
const URGENCY_GAP: f32 = 1.0;
/// Size of the secrecy words at the top and bottom centre of every page: larger than the text.
const SECRECY_SIZE: f32 = 18.0;
/// Top of the secrecy words at the top of a page, above the page number and the emblem, clear
/// of the 5 mm printers cannot reach.
const SECRECY_TOP: f32 = 5.0;
/// Top of the secrecy words at the bottom of a page, below the contact line.
const SECRECY_BOTTOM_TOP: f32 = 284.0;

/// The agency that sends a letter, as printed at the top right of page 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The agency's name, e.g. สำนักงานเขตพญาไท.
    pub agency_name: String,
    /// The agency's postal address, one entry per printed line.
    pub agency_address_lines: Vec<String>,
}

/// Per-letter settings that are not part of the letter itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterOptions {
    /// The date printed on the letter (วันที่), shown in the Buddhist era.
    pub issue_date: Date,
    /// Where a reader checks the verification seal, printed under it.
    pub verification_host: String,
    /// The PIN that opens the digital copy, printed under the seal when given.
    pub pin: Option<String>,
    /// The verification seal's QR symbol, drawn in its square on page 1; without it the
    /// square is only outlined.
    pub seal: Option<QrModules>,
    /// The reply sheet printed after the letter; required when the letter asks for a reply.
    pub reply: Option<ReplySheet>,
    /// The seal's URL, made a link over the seal square so that the PDF's seal opens the
    /// verification page and can be found without reading the image.
    pub seal_url: Option<String>,
    /// The agency's emblem, printed 3 cm high in the emblem slot of the official layout; without
    /// it the slot stays blank. A layout without the slot (plain) does not print it.
    pub emblem: Option<Emblem>,
}

/// A rendered letter.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedLetter {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// Number of pages, reply pages included.
    pub pages: usize,
    /// Number of pages of the letter itself; the reply pages follow them.
    pub letter_pages: usize,
    /// The envelope window on page 1, mm from the page's top-left corner; the
    /// recipient's address lies inside it.
    pub address_window: Area,
    /// The square of the verification seal on page 1, quiet zone included.
    pub seal_area: Area,
    /// The layout used.
    pub layout: LetterLayout,
    /// The seal's module size in mm, when a seal was drawn.
    pub seal_module: Option<Mm>,
    /// The blank slot for the emblem (ตราครุฑ) at the top of page 1, in the official layout.
    pub emblem_area: Option<Area>,
    /// The answer boxes of the reply sheet, where it has any.
    pub answer_boxes: Vec<AnswerBox>,
}

/// Lays out `letter` from `sender` in the built-in layout it asks for (official unless
/// `plain`) and writes it as PDF. See [`render_letter_with`].
pub fn render_letter(
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<RenderedLetter, RenderError> {
    render_letter_with(LetterTemplates::builtin(), letter, sender, options)
}

/// Lays out `letter` from `sender` on A4 in the layout from `templates` it asks for, and
/// writes it as PDF.
///
/// Page 1 carries the recipient's address in the window of a DL window envelope and the
/// verification seal; long letters continue on further pages, numbered from page 2, each
/// ending with the continuation word (คำต่อ). A letter that asks for a reply is followed by
/// its reply sheet.
pub fn render_letter_with(
    templates: &LetterTemplates,
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<RenderedLetter, RenderError> {
    let laid = lay_out_letter_with(templates, letter, sender, options)?;
    Ok(RenderedLetter {
        pdf: laid.doc.to_pdf()?,
        pages: laid.pages,
        letter_pages: laid.letter_pages,
        address_window: laid.address_window,
        seal_area: laid.seal_area,
        layout: laid.layout,
        seal_module: laid.seal_module,
        emblem_area: laid.emblem_area,
        answer_boxes: laid.answer_boxes,
    })
}

/// Lays out `letter` as [`render_letter_with`] does, without writing the PDF.
pub fn lay_out_letter_with(
    templates: &LetterTemplates,
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<LaidOutLetter, RenderError> {
    let template = templates.for_layout(letter.layout);
    let expanded = match (&letter.body, &letter.template) {
        (None, Some(name)) => {
            let empty = serde_json::Value::Object(serde_json::Map::new());
            expand_content(&templates.content, name, letter.data.as_ref().unwrap_or(&empty))?
        }
        _ => letter.body.clone().unwrap_or_default(),
    };
    // A letter written in one kind of digits is converted whole before it is laid out.
    let thai_digits = letter.digits().map(|d| d == Digits::Thai);
    let in_digits = |text: &str| thai_digits.map_or_else(|| text.to_string(), |thai| digits_for_print(text, thai));
    let body: Vec<String> = expanded.iter().map(|p| in_digits(p.trim())).filter(|p: &String| !p.is_empty()).collect();
    if body.is_empty() {
        return Err(RenderError::NoBody);
    }
    let converted;
    let converted_sender;
    let (letter, sender) = match thai_digits {
        None => (letter, sender),
        Some(thai) => {
            converted = letter_in_digits(letter, thai);
            converted_sender = Sender {
                agency_name: digits_for_print(&sender.agency_name, thai),
                agency_address_lines: sender.agency_address_lines.iter().map(|l| digits_for_print(l, thai)).collect(),
            };
            (&converted, &converted_sender)
        }
    };
    // The agency's own form, when it is the reply sheet, is printed with its codes after the
    // letter by the caller.
    if letter.reply_request().is_some_and(|r| r.own_pages().is_some()) && options.reply.is_none() {
        return Err(RenderError::ReplySheetMissing);
    }
    let input = Input { template, letter, body: &body, sender, options };
    let first = compose(&input, None)?;
    // The signature block must not stand alone on a page: when it was pushed over, lay the
    // letter out again with the last two lines of the text moved over with it.
    let composed = match first.pushed_from {
        Some(limit) => match compose(&input, Some(limit)) {
            Ok(second) if second.pushed_from.is_none() => second,
            _ => first,
        },
        None => first,
    };
    let Composed { mut doc, seal_module, .. } = composed;
    let letter_pages = doc.page_count();
    let answer_boxes = match &options.reply {
        Some(sheet) => crate::reply_sheet::append(&mut doc, letter, &template.reply, sheet)?,
        None => Vec::new(),
    };
    if let (Some(area), Some(emblem)) = (emblem_area(template), &options.emblem) {
        doc.draw_emblem(first_page(&doc), area, emblem)?;
    }
    let seal_area = seal_square(template);
    if let Some(url) = &options.seal_url {
        doc.add_link(first_page(&doc), seal_area, url)?;
    }
    let w = &template.window;
    Ok(LaidOutLetter {
        pages: doc.page_count(),
        doc,
        letter_pages,
        address_window: Area::new(w.x, w.y, w.width, w.height),
        seal_area,
        layout: letter.layout,
        seal_module,
        emblem_area: emblem_area(template),
        answer_boxes,
    })
}

/// Where the answer boxes of `letter`'s reply sheet are printed, without laying out the
/// letter: the reply pages alone, as [`lay_out_letter_with`] lays them out after the letter
/// (the reply pages start on a fresh page and depend on nothing before them). The scanner
/// reads the ticks at these places.
pub fn reply_answer_boxes(
    templates: &LetterTemplates,
    letter: &NewLetter,
    sheet: &ReplySheet,
) -> Result<Vec<AnswerBox>, RenderError> {
    let template = templates.for_layout(letter.layout);
    let converted;
    let letter = match letter.digits().map(|d| d == Digits::Thai) {
        None => letter,
        Some(thai) => {
            converted = letter_in_digits(letter, thai);
            &converted
        }
    };
    let mut doc = Document::new(PageSize::A4);
    crate::reply_sheet::append(&mut doc, letter, &template.reply, sheet)
}

/// What is printed over each page of an agency's own form returned as a reply, one page per
/// code in `sheet` (see [`FORM_REFERENCE_AREA`](crate::FORM_REFERENCE_AREA)): a document
/// of A4 pages, blank but for the codes and the reference line.
pub fn form_stamps(
    templates: &LetterTemplates,
    letter: &NewLetter,
    sheet: &ReplySheet,
) -> Result<Document<'static>, RenderError> {
    let template = templates.for_layout(letter.layout);
    let mut doc = Document::new(PageSize::A4);
    crate::reply_sheet::append_form_stamps(&mut doc, letter, &template.reply, sheet)?;
    Ok(doc)
}

fn first_page(doc: &Document<'_>) -> PageId {
    doc.page_id(0).unwrap_or_else(|| unreachable!("a laid-out letter has a first page"))
}

/// Lays out `letter` in the built-in layouts without writing the PDF, for a print batch
/// (which writes many letters into one file): the document and the envelope window.
pub fn lay_out_letter(
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<(Document<'static>, Area), RenderError> {
    let laid = lay_out_letter_with(LetterTemplates::builtin(), letter, sender, options)?;
    Ok((laid.doc, laid.address_window))
}

/// A letter laid out, before it is written as PDF.
#[derive(Debug)]
pub struct LaidOutLetter {
    /// The document.
    pub doc: Document<'static>,
    /// Number of pages, reply pages included.
    pub pages: usize,
    /// Number of pages of the letter itself; the reply pages follow them.
    pub letter_pages: usize,
    /// The envelope window on page 1, mm from the page's top-left corner.
    pub address_window: Area,
    /// The square of the verification seal on page 1, quiet zone included.
    pub seal_area: Area,
    /// The layout used.
    pub layout: LetterLayout,
    /// The seal's module size in mm, when a seal was drawn.
    pub seal_module: Option<Mm>,
    /// The blank slot for the emblem at the top of page 1, in the official layout.
    pub emblem_area: Option<Area>,
    /// The answer boxes of the reply sheet, where it has any.
    pub answer_boxes: Vec<AnswerBox>,
}

/// `letter` with every text printed from it in Thai (`thai`) or Arabic digits.
fn letter_in_digits(letter: &NewLetter, thai: bool) -> NewLetter {
    let d = |text: &str| digits_for_print(text, thai);
    let o = |text: &Option<String>| text.as_deref().map(d);
    let mut l = letter.clone();
    l.reference = d(&l.reference);
    l.subject = d(&l.subject);
    l.salutation = o(&l.salutation);
    l.closing = o(&l.closing);
    l.contact = o(&l.contact);
    l.recipient.name = d(&l.recipient.name);
    l.recipient.position = o(&l.recipient.position);
    let a = &mut l.recipient.address;
    a.house_number = d(&a.house_number);
    a.moo = o(&a.moo);
    a.village = o(&a.village);
    a.soi = o(&a.soi);
    a.road = o(&a.road);
    a.postcode = d(&a.postcode);
    for entry in &mut l.references {
        match entry {
            ReferenceEntry::Text(text) => *text = d(text),
            ReferenceEntry::Letter(r) => {
                r.reference = d(&r.reference);
                r.from = o(&r.from);
            }
        }
    }
    for entry in &mut l.enclosures {
        match entry {
            hybridpost_core::Enclosure::Text(text) => *text = d(text),
            hybridpost_core::Enclosure::Document(doc) => doc.title = d(&doc.title),
        }
    }
    if let Some(s) = &mut l.signatory {
        s.name = d(&s.name);
        s.position = d(&s.position);
    }
    l
}

/// What a letter is made from.
struct Input<'a> {
    template: &'a LetterTemplate,
    letter: &'a NewLetter,
    body: &'a [String],
    sender: &'a Sender,
    options: &'a LetterOptions,
}

/// A letter laid out, before its reply sheet.
struct Composed {
    doc: Document<'static>,
    seal_module: Option<Mm>,
    /// When the signature block was pushed to a page of its own: the page and the top of
    /// the second-last body line, where that page's text must end instead.
    pushed_from: Option<(usize, f32)>,
}

/// The fixed words in the letter's language: Thai, English, or Thai with English.
struct Words<'a> {
    language: Language,
    /// Thai (`true`) or Arabic digits throughout; `None`: as typed, Thai in dates and numbers
    /// of a Thai letter.
    thai_digits: Option<bool>,
    th: &'a LetterTexts,
    en: &'a LetterTexts,
}

impl Words<'_> {
    /// A label on its own: Thai, English, or Thai over English.
    fn stacked(&self, pick: fn(&LetterTexts) -> &str) -> String {
        match self.language {
            Language::Thai => pick(self.th).to_string(),
            Language::English => pick(self.en).to_string(),
            Language::ThaiEnglish => format!("{}\n{}", pick(self.th), pick(self.en)),
        }
    }

    /// A label before a value on one line: Thai, English, or `Thai / English`.
    fn inline(&self, pick: fn(&LetterTexts) -> &str) -> String {
        match self.language {
            Language::Thai => pick(self.th).to_string(),
            Language::English => pick(self.en).to_string(),
            Language::ThaiEnglish => format!("{} / {}", pick(self.th), pick(self.en)),
        }
    }

    /// Numbers in the letter's digits: Thai in a Thai letter unless it asks for Arabic.
    fn digits(&self, text: &str) -> String {
        match (self.thai_digits, self.language) {
            (Some(true), _) | (None, Language::Thai | Language::ThaiEnglish) => to_thai_digits(text),
            (Some(false), _) => to_arabic_digits(text),
            (None, Language::English) => text.to_string(),
        }
    }

    /// A date in Thai: the Buddhist-era year, in the letter's digits.
    fn thai_date(&self, date: Date) -> String {
        self.digits(&format_thai_date(date))
    }

    /// A date: Buddhist era in Thai, Gregorian in English, or both on two lines.
    fn date(&self, date: Date) -> String {
        match self.language {
            Language::Thai => self.thai_date(date),
            Language::English => english_date(date),
            Language::ThaiEnglish => format!("{}\n{}", self.thai_date(date), english_date(date)),
        }
    }

    /// An earlier letter referred to: "หนังสือ{from} ที่ {reference} ลงวันที่ {date}", or in
    /// English "{from} No. {reference} dated {date}".
    fn referenced(&self, r: &ReferencedLetter) -> String {
        let date = parse_iso_date(&r.date);
        let number = r.reference.trim();
        let from = r.from.as_deref().map(str::trim).filter(|f| !f.is_empty());
        match self.language {
            Language::English => {
                let date = date.map_or_else(|| r.date.clone(), english_date);
                format!("{} No. {number} dated {date}", from.unwrap_or("Letter"))
            }
            _ => {
                let date = date.map_or_else(|| r.date.clone(), |d| self.thai_date(d));
                let number = number.strip_prefix("ที่").map_or(number, str::trim_start);
                format!("หนังสือ{} ที่ {number} ลงวันที่ {date}", from.unwrap_or(""))
            }
        }
    }

    /// The urgency words: the level, or ด่วนภายใน with the date and time on a second line.
    fn urgency(&self, urgency: &Urgency) -> (String, Option<String>) {
        let english = self.language == Language::English;
        match urgency {
            Urgency::Level(level) if english => (level.as_str().replace('_', " ").to_uppercase(), None),
            Urgency::Level(level) => (level.thai().to_string(), None),
            Urgency::Within(_) => {
                let at = urgency.within_time().map(|t| t.to_offset(time::macros::offset!(+7)));
                let when = at.map(|t| {
                    if english {
                        format!("{} at {:02}.{:02}", english_date(t.date()), t.hour(), t.minute())
                    } else {
                        // The month abbreviated, as the regulation's examples write it, so
                        // that the line fits beside the emblem.
                        let d = t.date();
                        self.digits(&format!(
                            "{} {} {} เวลา {:02}.{:02} น.",
                            d.day(),
                            thai_month_abbreviation(d.month()),
                            buddhist_year(d),
                            t.hour(),
                            t.minute()
                        ))
                    }
                });
                let words = if english { "URGENT BY" } else { "ด่วนภายใน" };
                (words.to_string(), when)
            }
        }
    }

    /// The paragraphs of a text with `{date}` (and `{name}`) filled in, one per language.
    fn filled(&self, pick: fn(&LetterTexts) -> &str, date: Option<Date>, name: &str) -> Vec<String> {
        let fill = |texts: &LetterTexts, english: bool| {
            let date = date.map(|d| if english { english_date(d) } else { self.thai_date(d) }).unwrap_or_default();
            pick(texts).replace("{date}", &date).replace("{name}", name)
        };
        match self.language {
            Language::Thai => vec![fill(self.th, false)],
            Language::English => vec![fill(self.en, true)],
            Language::ThaiEnglish => vec![fill(self.th, false), fill(self.en, true)],
        }
    }
}

/// `date` in Thai: the Buddhist-era year and Thai digits, as the regulation writes dates.
pub(crate) fn thai_date(date: Date) -> String {
    to_thai_digits(&format_thai_date(date))
}

fn parse_iso_date(text: &str) -> Option<Date> {
    Date::parse(text.trim(), time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// `date` in English: 31 January 2027.
pub(crate) fn english_date(date: Date) -> String {
    format!("{} {} {}", date.day(), date.month(), date.year())
}

impl LetterTemplate {
    /// Where the verification seal (a QR code) is drawn on page 1, without its quiet zone:
    /// where a scanner looks for it first.
    pub fn seal_square(&self) -> Area {
        seal_square(self)
    }
}

fn seal_square(t: &LetterTemplate) -> Area {
    let column = PAGE_WIDTH - t.page.right - t.page.right_column_x;
    Area::new(t.page.right_column_x + (column - t.seal.size) / 2.0, t.seal.y, t.seal.size, t.seal.size)
}

fn emblem_area(t: &LetterTemplate) -> Option<Area> {
    t.emblem.show.then(|| Area::new((PAGE_WIDTH - t.emblem.size) / 2.0, t.emblem.y, t.emblem.size, t.emblem.size))
}

/// Lays out the letter; `limit` ends the text on one page higher than usual.
fn compose(input: &Input<'_>, limit: Option<(usize, f32)>) -> Result<Composed, RenderError> {
    let Input { template: t, letter, body, sender, options } = *input;
    let thai_digits = letter.digits().map(|d| d == Digits::Thai);
    let words = Words { language: letter.language, thai_digits, th: &t.text.th, en: &t.text.en };
    let mut doc = Document::new(PageSize::A4);
    doc.set_title(&letter.subject);
    let first = doc.add_page();
    let body_size = Pt(t.fonts.body);
    let column = PAGE_WIDTH - t.page.left - t.page.right;
    let text = |s: &str| Paragraph::new().text(s).size(body_size);

    let window = Area::new(t.window.x, t.window.y, t.window.width, t.window.height);
    place_address(&mut doc, first, letter, t, window)?;

    let reference =
        text(&format!("{} ", words.inline(|w| &w.reference))).unbreakable(letter.reference.trim(), Weight::Regular);
    let right_x = t.page.right_column_x;
    let right_width = PAGE_WIDTH - t.page.right - right_x;
    let above_seal = Area::new(right_x, t.page.top, right_width, t.seal.y - 1.0 - t.page.top);
    let date = words.date(options.issue_date);
    let left_width = match letter.layout {
        LetterLayout::Official => emblem_area(t).map_or(t.window.x + t.window.width, |e| e.x.0 - 2.0) - t.page.left,
        LetterLayout::Plain => t.window.x + t.window.width - t.page.left,
    };
    // The urgency, in red, above everything else at the top left; the blocks under it move down.
    let top = match &letter.urgency {
        Some(urgency) => {
            let area = Area::new(t.page.left, URGENCY_TOP, left_width, 30.0);
            (place_urgency(&mut doc, first, &words, urgency, area)? + URGENCY_GAP).max(t.page.top)
        }
        None => t.page.top,
    };
    let top_left_bottom = match letter.layout {
        LetterLayout::Official => {
            let area = Area::new(t.page.left, top, left_width, t.window.y - t.window.clearance - top);
            let reference_bottom = bottom(doc.place_paragraph(first, &reference, area)?)?;
            // The agency's name and address, and under them the date with the full month
            // name and the Buddhist-era year, as the regulation writes it.
            let mut block = Paragraph::new().text(sender.agency_name.trim());
            for line in &sender.agency_address_lines {
                block = block.text("\n").text(line.trim());
            }
            let block = unbreakable_lines(block.text("\n"), &date);
            place_largest(&mut doc, first, &block, above_seal, &sizes_from(t.fonts.body, 1.4))?;
            reference_bottom
        }
        LetterLayout::Plain => {
            // The sender at the top left, above the window; the date and reference at the
            // top right.
            let mut block = Paragraph::new().bold(sender.agency_name.trim());
            for line in &sender.agency_address_lines {
                block = block.text("\n").text(line.trim());
            }
            let area = Area::new(t.page.left, top, left_width, t.window.y - t.window.clearance - top);
            let sender_bottom = place_largest(&mut doc, first, &block, area, &sizes_from(t.fonts.body, 1.3))?;
            let dated = unbreakable_lines(Paragraph::new().text(&format!("{} ", words.inline(|w| &w.date))), &date)
                .text("\n")
                .text(reference.as_str());
            place_largest(&mut doc, first, &dated, above_seal, &sizes_from(t.fonts.body, 1.3))?;
            sender_bottom
        }
    };
    let (right_bottom, seal_module) = place_seal(&mut doc, first, t, &words, options)?;
    // The text starts below the window, so nothing but the address shows through it.
    let start = top_left_bottom.max(t.window.y + t.window.height).max(right_bottom) + BLOCK_GAP;

    let mut pages = Pages {
        doc,
        template: t,
        words: &words,
        page: first,
        y: start,
        all: vec![first],
        firsts: vec![None],
        limit,
        body_lines: Vec::new(),
        pushed_from: None,
    };
    pages.labelled(&words.stacked(|w| &w.subject), &[letter.subject.trim().to_string()])?;
    // A letter to an office holder is addressed to the position (เรียน ผู้ว่าราชการจังหวัด…).
    let addressee = letter.recipient.position.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let salutation = match letter.salutation.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_string(),
        None => words.filled(|w| &w.salutation, None, addressee.unwrap_or(letter.recipient.name.trim())).join(" / "),
    };
    pages.place(&text(&salutation), t.page.left, column)?;
    let references: Vec<String> = letter
        .references
        .iter()
        .map(|r| match r {
            ReferenceEntry::Text(text) => text.clone(),
            ReferenceEntry::Letter(l) => words.referenced(l),
        })
        .collect();
    pages.labelled(&words.stacked(|w| &w.references), &references)?;
    let enclosures: Vec<String> = letter.enclosures.iter().map(|e| e.title().to_string()).collect();
    pages.labelled(&words.stacked(|w| &w.enclosures), &enclosures)?;

    pages.y += BLOCK_GAP;
    let mut paragraphs: Vec<String> = body.to_vec();
    if let Some(sheet) = &options.reply {
        paragraphs.extend(words.filled(|w| &w.reply_by, Some(sheet.deadline), ""));
    }
    for (i, paragraph) in paragraphs.iter().enumerate() {
        if i > 0 {
            pages.y += t.page.paragraph_gap;
        }
        pages.indented(&text(paragraph).align(Align::Justify))?;
    }
    let closing = match letter.closing.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => words.stacked(|w| &w.closing),
    };
    let align = match letter.layout {
        LetterLayout::Official => Align::Center,
        LetterLayout::Plain => Align::Left,
    };
    pages.signature(letter, &closing, align)?;

    let Pages { mut doc, page: last, all, firsts, pushed_from, .. } = pages;
    if let Some(contact) = letter.contact.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let line = Paragraph::new().text(contact).size(Pt(t.fonts.contact));
        doc.place_paragraph(last, &line, Area::new(t.page.left, CONTACT_TOP, column, 290.0 - CONTACT_TOP))?;
    }
    for (index, &page) in all.iter().enumerate() {
        if index > 0 {
            // Page numbers from page 2, between dashes, centred at the top.
            let number = Paragraph::new().text(&format!("- {} -", words.digits(&(index + 1).to_string())));
            let area = Area::new(
                t.page.right,
                PAGE_NUMBER_TOP,
                PAGE_WIDTH - 2.0 * t.page.right,
                t.page.continuation_top - PAGE_NUMBER_TOP,
            );
            doc.place_paragraph(page, &number.align(Align::Center), area)?;
        }
        // The continuation word (คำต่อ): the first word of the next page after a slash, at
        // the bottom right of every page that continues, as the regulation asks.
        if let Some(Some(word)) = firsts.get(index + 1) {
            let line = Paragraph::new().text(&format!("/{word}...")).size(CONTINUATION_SIZE).align(Align::Right);
            doc.place_paragraph(page, &line, Area::new(t.page.left, t.page.body_bottom + 1.0, column, 10.0))?;
        }
    }
    if let Some(secrecy) = letter.secrecy {
        // The secrecy words in red at the top and bottom centre of every page of the letter.
        let mark = Paragraph::new().bold(secrecy.thai()).size(Pt(SECRECY_SIZE)).line_height(1.0).align(Align::Center);
        let height = Mm::from(mark.line_pitch()).0;
        for &page in &all {
            doc.set_text_color(page, MARK_RED)?;
            for top in [SECRECY_TOP, SECRECY_BOTTOM_TOP] {
                doc.place_paragraph(
                    page,
                    &mark,
                    Area::new(t.page.right, top, PAGE_WIDTH - 2.0 * t.page.right, height),
                )?;
            }
            doc.set_text_color(page, Color::BLACK)?;
        }
    }
    Ok(Composed { doc, seal_module, pushed_from })
}

/// The urgency words in red, at least 32 pt, in `area`; returns their bottom.
fn place_urgency(
    doc: &mut Document<'_>,
    page: PageId,
    words: &Words<'_>,
    urgency: &Urgency,
    area: Area,
) -> Result<f32, RenderError> {
    let (level, when) = words.urgency(urgency);
    doc.set_text_color(page, MARK_RED)?;
    let big = Paragraph::new().bold(&level).size(Pt(URGENCY_SIZE)).line_height(1.2);
    let mut y = bottom(doc.place_paragraph(page, &big, area)?)?;
    if let Some(when) = when {
        let line = Paragraph::new().bold(&when).size(Pt(URGENCY_WHEN_SIZE)).line_height(1.2);
        y = bottom(doc.place_paragraph(
            page,
            &line,
            Area::new(area.x.0, y, area.width.0, area.y.0 + area.height.0 - y),
        )?)?;
    }
    doc.set_text_color(page, Color::BLACK)?;
    Ok(y)
}

/// Appends the lines of `text` to `paragraph`, none of them broken.
fn unbreakable_lines(mut paragraph: Paragraph, text: &str) -> Paragraph {
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            paragraph = paragraph.text("\n");
        }
        paragraph = paragraph.unbreakable(line, Weight::Regular);
    }
    paragraph
}

/// Sizes from `largest` down, with `line_height` at the largest and tighter below.
fn sizes_from(largest: f32, line_height: f32) -> Vec<(f32, f32)> {
    let mut sizes = vec![(largest, line_height)];
    sizes.extend(SHRINK.iter().copied().filter(|&(size, _)| size < largest));
    sizes
}

/// The recipient's name and address inside the envelope window, at the largest size that
/// fits with the clearance kept all round.
fn place_address(
    doc: &mut Document<'_>,
    page: PageId,
    letter: &NewLetter,
    t: &LetterTemplate,
    window: Area,
) -> Result<(), RenderError> {
    let c = t.window.clearance;
    let inner = Area::new(window.x.0 + c, window.y.0 + c, window.width.0 - 2.0 * c, window.height.0 - 2.0 * c);
    let mut block = Paragraph::new().unbreakable(letter.recipient.name.trim(), Weight::Bold);
    if let Some(position) = letter.recipient.position.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        block = block.text("\n").unbreakable(position, Weight::Regular);
    }
    for line in letter.recipient.address.lines() {
        block = block.text("\n").unbreakable(&line, Weight::Regular);
    }
    let sizes: Vec<(f32, f32)> = sizes_from(t.fonts.address, ADDRESS_LINE_HEIGHT)
        .into_iter()
        .filter(|&(size, _)| size >= 12.0)
        .map(|(size, _)| (size, ADDRESS_LINE_HEIGHT))
        .collect();
    place_largest(doc, page, &block, inner, &sizes).map_err(|e| match e {
        RenderError::BlockDoesNotFit => RenderError::AddressDoesNotFit,
        other => other,
    })?;
    Ok(())
}

/// Places `block` in `area` at the largest of `sizes` (with their line heights) at which it
/// fits whole; returns its bottom.
fn place_largest(
    doc: &mut Document<'_>,
    page: PageId,
    block: &Paragraph,
    area: Area,
    sizes: &[(f32, f32)],
) -> Result<f32, RenderError> {
    for &(size, line_height) in sizes {
        let candidate = block.clone().size(Pt(size)).line_height(line_height);
        // Laid out on a scratch page first: a block that does not fit is not drawn.
        let mut trial = Document::new(PageSize::A4);
        let scratch = trial.add_page();
        if let Flow::Done { .. } = trial.place_paragraph(scratch, &candidate, area)? {
            return bottom(doc.place_paragraph(page, &candidate, area)?);
        }
    }
    Err(RenderError::BlockDoesNotFit)
}

/// The seal square at its fixed place in the right-hand column, and the verification host
/// and PIN under it, all above the fold. Returns their bottom and the seal's module size.
fn place_seal(
    doc: &mut Document<'_>,
    page: PageId,
    t: &LetterTemplate,
    words: &Words<'_>,
    options: &LetterOptions,
) -> Result<(f32, Option<Mm>), RenderError> {
    let square = seal_square(t);
    let size = t.seal.size;
    let seal_module = match &options.seal {
        Some(seal) => {
            // ISO/IEC 18004 §6.3.8: a quiet zone of four modules on every side, inside the square.
            let modules = seal.size() + 2 * QUIET_ZONE_MODULES;
            let module = size / modules as f32;
            if module < MIN_SEAL_MODULE {
                return Err(RenderError::QrTooDense {
                    what: "verification seal",
                    size: seal.size(),
                    printed_mm: size,
                    min_module_mm: MIN_SEAL_MODULE,
                });
            }
            let origin = QUIET_ZONE_MODULES as f32 * module;
            draw_qr(doc, page, seal, square.x.0 + origin, square.y.0 + origin, Mm(module))?;
            Some(Mm(module))
        }
        None => {
            let outline = Stroke { width: SEAL_OUTLINE, color: Color::gray(SEAL_OUTLINE_GRAY) };
            doc.draw_rect(page, square, Paint::Stroke(outline))?;
            None
        }
    };

    let right_x = t.page.right_column_x;
    let right_width = PAGE_WIDTH - t.page.right - right_x;
    let below = square.y.0 + size + SEAL_TEXT_GAP;
    let room = Area::new(right_x, below, right_width, DL_FOLD - FOLD_CLEARANCE - below);
    let mut lines = Paragraph::new().text(options.verification_host.trim()).align(Align::Center);
    if let Some(pin) = options.pin.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        lines = lines.text(&format!("\n{} ", words.inline(|w| &w.pin))).unbreakable(pin, Weight::Regular);
    }
    let largest = t.fonts.seal_text;
    let sizes: Vec<(f32, f32)> =
        [largest, largest - 1.0, largest - 2.0].into_iter().map(|size| (size, SEAL_TEXT_LINE_HEIGHT)).collect();
    let y = place_largest(doc, page, &lines, room, &sizes)?;
    Ok((y, seal_module))
}

/// The bottom of a block that must fit its area.
fn bottom(flow: Flow) -> Result<f32, RenderError> {
    match flow {
        Flow::Done { bottom, .. } => Ok(bottom.0),
        Flow::Continues { .. } => Err(RenderError::BlockDoesNotFit),
    }
}

/// The first word of `text`: up to its first line-break opportunity.
fn first_word(text: &str) -> Option<String> {
    let text = text.trim_start();
    let end = break_opportunities(text, &[]).into_iter().map(|b| b.offset).find(|&o| o > 0).unwrap_or(text.len());
    let word = text[..end].trim();
    (!word.is_empty()).then(|| word.to_string())
}

/// The text flowing down the pages of a letter.
struct Pages<'t> {
    doc: Document<'static>,
    template: &'t LetterTemplate,
    words: &'t Words<'t>,
    page: PageId,
    /// Where the next block starts on `page`, mm from the top.
    y: f32,
    /// Every page so far, in order.
    all: Vec<PageId>,
    /// The first word placed on each page, for the continuation word of the page before.
    firsts: Vec<Option<String>>,
    /// A page (index) whose text ends higher than usual, and where.
    limit: Option<(usize, f32)>,
    /// Body lines placed so far: page index and top of the line.
    body_lines: Vec<(usize, f32)>,
    /// Set when the signature block had to start a new page; see [`Composed`].
    pushed_from: Option<(usize, f32)>,
}

impl Pages<'_> {
    fn new_page(&mut self) {
        self.page = self.doc.add_page();
        self.all.push(self.page);
        self.firsts.push(None);
        self.y = self.template.page.continuation_top;
    }

    fn left(&self) -> f32 {
        self.template.page.left
    }

    fn column(&self) -> f32 {
        PAGE_WIDTH - self.template.page.left - self.template.page.right
    }

    fn body(&self, text: &str) -> Paragraph {
        Paragraph::new().text(text).size(Pt(self.template.fonts.body))
    }

    /// Lowest point of the text on the current page.
    fn bottom(&self) -> f32 {
        match self.limit {
            Some((page, y)) if page == self.page.index() => y,
            _ => self.template.page.body_bottom,
        }
    }

    fn area(&self, x: f32, width: f32) -> Area {
        Area::new(x, self.y, width, (self.bottom() - self.y).max(0.0))
    }

    /// Remembers `text` (from byte `from`) as what the current page starts with, if nothing
    /// was placed on it yet.
    fn mark(&mut self, text: &str, from: usize) {
        if let Some(first @ None) = self.firsts.last_mut() {
            *first = text.get(from..).and_then(first_word);
        }
    }

    /// Remembers `lines` body lines from `top` on the current page.
    fn record(&mut self, top: f32, lines: usize, pitch: f32, body: bool) {
        if body {
            let page = self.page.index();
            self.body_lines.extend((0..lines).map(|i| (page, top + i as f32 * pitch)));
        }
    }

    /// Places `paragraph` from `resume` at `x`, continuing on new pages as needed.
    fn place_from(
        &mut self,
        paragraph: &Paragraph,
        x: f32,
        width: f32,
        mut resume: Resume,
        body: bool,
    ) -> Result<(), RenderError> {
        let pitch = Mm::from(paragraph.line_pitch()).0;
        loop {
            let fresh = self.y == self.template.page.continuation_top;
            self.mark(paragraph.as_str(), resume.offset());
            let top = self.y;
            match self.doc.place_paragraph_from(self.page, paragraph, self.area(x, width), resume)? {
                Flow::Done { bottom, lines } => {
                    self.record(top, lines, pitch, body);
                    self.y = bottom.0;
                    return Ok(());
                }
                Flow::Continues { lines: 0, .. } if fresh => return Err(RenderError::BlockDoesNotFit),
                Flow::Continues { resume: rest, lines, .. } => {
                    self.record(top, lines, pitch, body);
                    resume = rest;
                    self.new_page();
                }
            }
        }
    }

    fn place(&mut self, paragraph: &Paragraph, x: f32, width: f32) -> Result<(), RenderError> {
        self.place_from(paragraph, x, width, Resume::START, false)
    }

    /// A body paragraph: its first line indented, the rest at the full width.
    fn indented(&mut self, paragraph: &Paragraph) -> Result<(), RenderError> {
        let pitch = Mm::from(paragraph.line_pitch()).0;
        if self.y + pitch > self.bottom() {
            self.new_page();
        }
        self.mark(paragraph.as_str(), 0);
        let top = self.y;
        let indent = self.template.page.paragraph_indent;
        let first_line = Area::new(self.left() + indent, self.y, self.column() - indent, pitch);
        match self.doc.place_paragraph(self.page, paragraph, first_line)? {
            Flow::Done { bottom, lines } => {
                self.record(top, lines, pitch, true);
                self.y = bottom.0;
                Ok(())
            }
            Flow::Continues { resume, bottom, lines } => {
                self.record(top, lines, pitch, true);
                self.y = bottom.0;
                self.place_from(paragraph, self.left(), self.column(), resume, true)
            }
        }
    }

    /// A label (เรื่อง, อ้างถึง, …) with its values to the right, numbered when there are
    /// several. Nothing when `values` is empty. A two-line label (Thai over English) takes
    /// two lines.
    fn labelled(&mut self, label: &str, values: &[String]) -> Result<(), RenderError> {
        let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Ok(());
        }
        let label = self.body(label);
        let pitch = Mm::from(label.line_pitch()).0;
        let label_lines = label.as_str().lines().count() as f32;
        if self.y + pitch * label_lines > self.bottom() {
            self.new_page();
        }
        self.mark(label.as_str(), 0);
        // A label wider than the label column (สิ่งที่ส่งมาด้วย at a large size) widens it.
        let lines = label.as_str().lines().count();
        let mut label_width = self.template.page.label_width;
        while label_width < self.column() / 2.0 {
            let mut trial = Document::new(PageSize::A4);
            let scratch = trial.add_page();
            let area = Area::new(0.0, 0.0, label_width, 100.0);
            if matches!(trial.place_paragraph(scratch, &label, area)?, Flow::Done { lines: placed, .. } if placed == lines)
            {
                break;
            }
            label_width += 2.0;
        }
        let label_width = label_width + if label_width > self.template.page.label_width { 2.0 } else { 0.0 };
        let start_page = self.page;
        let label_bottom = bottom(self.doc.place_paragraph(
            self.page,
            &label,
            Area::new(self.left(), self.y, label_width, pitch * label_lines),
        )?)?;
        let numbered = values.len() > 1;
        for (i, value) in values.iter().enumerate() {
            let text = if numbered { format!("{}. {value}", self.number(i + 1)) } else { value.to_string() };
            let paragraph = self.body(&text);
            self.place(&paragraph, self.left() + label_width, self.column() - label_width)?;
        }
        if self.page == start_page {
            self.y = self.y.max(label_bottom);
        }
        Ok(())
    }

    /// A list number, in the letter's digits.
    fn number(&self, n: usize) -> String {
        self.words.digits(&n.to_string())
    }

    /// The closing, the space to sign, the signatory's name in brackets and position,
    /// kept together on one page.
    fn signature(&mut self, letter: &NewLetter, closing: &str, align: Align) -> Result<(), RenderError> {
        let line = |text: &str| self.body(text).align(align);
        let mut lines = vec![line(closing)];
        if let Some(signatory) = &letter.signatory {
            lines.push(line(&format!("({})", signatory.name.trim())));
            lines.push(line(signatory.position.trim()));
        }
        let pitch = Mm::from(lines[0].line_pitch()).0;
        let closing_lines = closing.lines().count().max(1);
        let space = self.template.page.signature_space;
        let needed = BLOCK_GAP + pitch * (lines.len() + closing_lines - 1) as f32 + space;
        if self.y + needed > self.bottom() {
            // Where the text would have to end for its last two lines to come along.
            if let [.., (page, top), _] = self.body_lines[..] {
                self.pushed_from = Some((page, top));
            }
            self.new_page();
        }
        self.y += BLOCK_GAP;
        let x = self.template.page.signature_x;
        let width = PAGE_WIDTH - self.template.page.right - x;
        for (i, paragraph) in lines.iter().enumerate() {
            if i == 1 {
                self.y += space;
            }
            self.place(paragraph, x, width)?;
        }
        Ok(())
    }
}
