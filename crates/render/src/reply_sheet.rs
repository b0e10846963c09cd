//! The reply sheet printed after a letter that asks for a reply.
//!
//! Every reply page carries its own reply code twice, as QR symbols at error correction level
//! H at two fixed places ([`REPLY_CODE_AREAS`]: top right and bottom left), so the scanner
//! finds them without searching the page, one survives a stamp or a fold across the other,
//! and missing or shuffled pages are caught. The renderer does not know the reply-code secret:
//! the caller encodes the codes and hands over their modules.

use hybridpost_core::{Language, NewLetter};
use hybridpost_thai::to_thai_digits;
use time::Date;

use crate::letter::{english_date, thai_date};
use crate::templates::{Languages, ReplyTexts};

use crate::qr::{QrModules, draw_qr};
use crate::{Area, Color, Document, Flow, Mm, PageId, Paint, Paragraph, Point, Pt, RenderError, Stroke};
use crate::{Resume, Weight};

/// Printed width of a reply code symbol at most, quiet zone excluded: 33 modules of 1 mm
/// for QR version 4, the version every reply code fits.
pub const REPLY_CODE_SIZE: Mm = Mm(33.0);
/// Largest module of a reply code.
pub const REPLY_CODE_MAX_MODULE: Mm = Mm(1.0);
/// Smallest module of a reply code: office scanners at 200 dpi give it 6 pixels.
pub const REPLY_CODE_MIN_MODULE: Mm = Mm(0.8);
/// Blank margin kept around each reply code symbol: four modules of 1 mm (ISO/IEC 18004
/// §6.3.8), more than four modules when the modules are smaller.
pub const REPLY_CODE_QUIET_ZONE: Mm = Mm(4.0);
/// Top-left corners of the two reply code symbols on every reply page, mm from the page's
/// top-left corner: top right and bottom left, each with its quiet zone inside the 5 mm
/// margin printers cannot print.
pub const REPLY_CODE_ORIGINS: [Point; 2] = [Point { x: Mm(168.0), y: Mm(9.0) }, Point { x: Mm(9.0), y: Mm(255.0) }];
/// Where a scanner looks for the two reply codes: each symbol with its quiet zone.
pub const REPLY_CODE_AREAS: [Area; 2] = [
    Area { x: Mm(164.0), y: Mm(5.0), width: Mm(41.0), height: Mm(41.0) },
    Area { x: Mm(5.0), y: Mm(251.0), width: Mm(41.0), height: Mm(41.0) },
];

/// Where the reference in digits and the sheet number are printed on each page of an
/// agency's own form returned as a reply: right of the bottom-left code, above the bottom
/// margin. Like the code areas, the form must leave it blank.
pub const FORM_REFERENCE_AREA: Area = Area { x: Mm(50.0), y: Mm(284.0), width: Mm(150.0), height: Mm(8.0) };
/// Size of the reference line on an agency's form.
const FORM_REFERENCE_SIZE: Pt = Pt(10.0);

/// Left side of the text on a reply page.
const LEFT: f32 = 20.0;
/// Width of the text below the header.
const WIDTH: f32 = 170.0;
/// Width of the header, clear of the top-right code.
const HEADER_WIDTH: f32 = 140.0;
/// Top of the header.
const HEADER_TOP: f32 = 10.0;
/// Top of the text under the header, below the top-right code.
const CONTENT_TOP: f32 = 49.0;
/// Top of the name, signature and date lines.
const SIGNATURE_TOP: f32 = 247.0;
/// Left side of the name, signature and date lines, clear of the bottom-left code.
const SIGNATURE_X: f32 = 60.0;
/// Distance between the ruled answer lines.
const RULE_PITCH: f32 = 9.0;
/// Side of a tick box.
const BOX: f32 = 4.5;
/// Side of an answer (tick) box, as printed: the outline's centre line, a 0.8 pt stroke.
pub const ANSWER_BOX_SIDE: Mm = Mm(BOX);

/// Where an answer box lies on a reply page, for reading the tick back from a scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerBox {
    /// The reply page it is on, from 1.
    pub reply_page: u8,
    /// The choice it stands for, from 1, in the order of the sheet's choices.
    pub choice: u8,
    /// The box's outline (centre of the stroke), mm from the page's top-left corner.
    pub area: Area,
}
/// Size of the header title.
const TITLE_SIZE: Pt = Pt(18.0);
/// Size of the text.
const TEXT_SIZE: Pt = Pt(14.0);
/// Size of English under Thai in a bilingual sheet.
const SECOND_SIZE: Pt = Pt(11.0);
/// Line height on the reply sheet.
const LINE_HEIGHT: f32 = 1.3;

/// Where a block of text goes: its left side, width and the lowest point it may reach.
#[derive(Debug, Clone, Copy)]
struct Column {
    x: f32,
    width: f32,
    limit: f32,
}

/// The header, left of the top-right code.
const HEADER: Column = Column { x: LEFT, width: HEADER_WIDTH, limit: CONTENT_TOP };
/// The text under the header, above the signature lines.
const CONTENT: Column = Column { x: LEFT, width: WIDTH, limit: SIGNATURE_TOP };
/// The text of a choice, right of its tick box.
const CHOICE: Column = Column { x: LEFT + 9.0, width: WIDTH - 9.0, limit: SIGNATURE_TOP };

/// The margin left of a page's answer boxes, which the reply sheet leaves blank: ink there
/// is something laid over the boxes (a stamp, a scribble), and their reading is not certain.
pub fn blank_beside_boxes(boxes: &[AnswerBox]) -> Option<Area> {
    let top = boxes.iter().map(|b| b.area.y.0).reduce(f32::min)?;
    let bottom = boxes.iter().map(|b| b.area.y.0 + b.area.height.0).reduce(f32::max)?;
    let left = boxes.iter().map(|b| b.area.x.0).reduce(f32::min)?;
    // From the page's 10 mm line to 2.5 mm short of the boxes (clear of the text above and
    // below them, which starts 1.5 mm left of the boxes), a little above and below them.
    Some(Area::new(10.0, top - 3.0, (left - 2.5 - 10.0).max(0.0), bottom - top + 6.0))
}

/// What the caller supplies to print a letter's reply sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplySheet {
    /// The reply code of each page, in page order: one page per entry (1 to 255).
    pub pages: Vec<QrModules>,
    /// The letter's reference in digits, printed for manual entry when the codes are
    /// unreadable.
    pub reference_digits: String,
    /// The last day for the reply.
    pub deadline: Date,
}

/// A reply page being filled from the top.
struct Sheet<'d, 'f> {
    doc: &'d mut Document<'f>,
    page: PageId,
    language: Language,
    y: f32,
}

impl Sheet<'_, '_> {
    /// Places `paragraph` in `column` from the current height; it must fit above the column's limit.
    fn put(&mut self, paragraph: &Paragraph, column: Column) -> Result<(), RenderError> {
        let Column { x, width, limit } = column;
        let area = Area::new(x, self.y, width, (limit - self.y).max(0.0));
        match self.doc.place_paragraph_from(self.page, paragraph, area, Resume::START)? {
            Flow::Done { bottom, .. } => {
                self.y = bottom.0;
                Ok(())
            }
            Flow::Continues { .. } => Err(RenderError::BlockDoesNotFit),
        }
    }

    /// A text in the sheet's language(s): Thai, English, or Thai with English under it.
    fn say(&mut self, thai: &str, english: &str, size: Pt, weight: Weight, column: Column) -> Result<(), RenderError> {
        let para =
            |text: &str, size: Pt| Paragraph::new().push(text, weight, false).size(size).line_height(LINE_HEIGHT);
        match self.language {
            Language::Thai => self.put(&para(thai, size), column),
            Language::English => self.put(&para(english, size), column),
            Language::ThaiEnglish => {
                self.put(&para(thai, size), column)?;
                self.put(&para(english, SECOND_SIZE), column)
            }
        }
    }
}

/// Appends the reply pages of `letter` to `doc`, one per code in `sheet`, with the fixed
/// words of `texts`; where the answer boxes were drawn.
pub(crate) fn append(
    doc: &mut Document<'_>,
    letter: &NewLetter,
    texts: &Languages<ReplyTexts>,
    sheet: &ReplySheet,
) -> Result<Vec<AnswerBox>, RenderError> {
    let count = sheet.pages.len();
    if count == 0 || count > 255 {
        return Err(RenderError::ReplyPages { pages: count });
    }
    let (th, en) = (&texts.th, &texts.en);
    let mut boxes = Vec::new();
    for (index, code) in sheet.pages.iter().enumerate() {
        let page = doc.add_page();
        draw_codes(doc, page, code)?;
        let mut s = Sheet { doc: &mut *doc, page, language: letter.language, y: HEADER_TOP };
        let (n, total) = ((index + 1).to_string(), count.to_string());
        let sheet_of = |t: &ReplyTexts, n: &str, total: &str| {
            format!("{}  {}", t.title, t.sheet.replace("{page}", n).replace("{pages}", total))
        };
        s.say(
            &sheet_of(th, &to_thai_digits(&n), &to_thai_digits(&total)),
            &sheet_of(en, &n, &total),
            TITLE_SIZE,
            Weight::Bold,
            HEADER,
        )?;
        s.y += 1.0;
        s.say(
            &th.deadline.replace("{date}", &thai_date(sheet.deadline)),
            &en.deadline.replace("{date}", &english_date(sheet.deadline)),
            TEXT_SIZE,
            Weight::Bold,
            HEADER,
        )?;

        s.y = s.y.max(CONTENT_TOP);
        let letter_line = |t: &ReplyTexts| {
            t.letter.replace("{reference}", letter.reference.trim()).replace("{subject}", letter.subject.trim())
        };
        s.say(&letter_line(th), &letter_line(en), TEXT_SIZE, Weight::Regular, CONTENT)?;
        let digits = sheet.reference_digits.trim();
        let label = match letter.language {
            Language::Thai => th.digits.clone(),
            Language::English => en.digits.clone(),
            Language::ThaiEnglish => format!("{} / {}", th.digits, en.digits),
        };
        let digits_line = Paragraph::new()
            .text(&format!("{label}  "))
            .unbreakable(digits, Weight::Bold)
            .size(TEXT_SIZE)
            .line_height(LINE_HEIGHT);
        s.put(&digits_line, CONTENT)?;
        s.y += 1.0;
        s.say(&th.instructions, &en.instructions, TEXT_SIZE, Weight::Regular, CONTENT)?;

        if index == 0 {
            s.y += 2.0;
            s.say(&th.choose, &en.choose, TEXT_SIZE, Weight::Bold, CONTENT)?;
            for (choice, (thai, english)) in (1u8..).zip(th.choices.iter().zip(&en.choices)) {
                s.y += 1.0;
                let top = s.y;
                s.say(thai, english, TEXT_SIZE, Weight::Regular, CHOICE)?;
                let tick = Area::new(LEFT + 1.5, top + 1.2, BOX, BOX);
                s.doc.draw_rect(page, tick, Paint::Stroke(Stroke::new(Pt(0.8))))?;
                boxes.push(AnswerBox { reply_page: 1, choice, area: tick });
            }
        }

        s.y += 3.0;
        s.say(&th.answer, &en.answer, TEXT_SIZE, Weight::Bold, CONTENT)?;
        let rule = Stroke { width: Pt(0.5), color: Color::gray(0.55) };
        let mut line_y = s.y + RULE_PITCH;
        while line_y <= SIGNATURE_TOP - 4.0 {
            s.doc.draw_line(page, Point::new(LEFT, line_y), Point::new(LEFT + WIDTH, line_y), rule)?;
            line_y += RULE_PITCH;
        }

        s.y = SIGNATURE_TOP;
        let width = LEFT + WIDTH - SIGNATURE_X;
        let (thai_lines, english_lines) = (signature_lines(th), signature_lines(en));
        for (i, thai) in thai_lines.iter().enumerate() {
            let text = match letter.language {
                Language::Thai => thai.clone(),
                Language::English => english_lines[i].clone(),
                Language::ThaiEnglish if i == 0 => {
                    thai.replacen(&th.signature, &format!("{} / {}", th.signature, en.signature), 1)
                }
                Language::ThaiEnglish => thai.clone(),
            };
            let paragraph = Paragraph::new().text(&text).size(TEXT_SIZE).line_height(1.6);
            s.put(&paragraph, Column { x: SIGNATURE_X, width, limit: 290.0 })?;
        }
    }
    Ok(boxes)
}

/// Appends one page per code in `sheet` carrying only what is printed over the agency's own
/// form: the page's reply code at both places and, in [`FORM_REFERENCE_AREA`], the reference
/// in digits and the sheet number.
pub(crate) fn append_form_stamps(
    doc: &mut Document<'_>,
    letter: &NewLetter,
    texts: &Languages<ReplyTexts>,
    sheet: &ReplySheet,
) -> Result<(), RenderError> {
    let count = sheet.pages.len();
    if count == 0 || count > 255 {
        return Err(RenderError::ReplyPages { pages: count });
    }
    let english = letter.language == Language::English;
    let t = if english { &texts.en } else { &texts.th };
    for (index, code) in sheet.pages.iter().enumerate() {
        let page = doc.add_page();
        draw_codes(doc, page, code)?;
        let (mut n, mut total) = ((index + 1).to_string(), count.to_string());
        if !english {
            (n, total) = (to_thai_digits(&n), to_thai_digits(&total));
        }
        let number = t.sheet.replace("{page}", &n).replace("{pages}", &total);
        let line = Paragraph::new()
            .text(&format!("{}  ", t.digits))
            .unbreakable(sheet.reference_digits.trim(), Weight::Bold)
            .text(&format!("   {number}"))
            .size(FORM_REFERENCE_SIZE)
            .line_height(1.2);
        match doc.place_paragraph_from(page, &line, FORM_REFERENCE_AREA, Resume::START)? {
            Flow::Done { .. } => {}
            Flow::Continues { .. } => return Err(RenderError::BlockDoesNotFit),
        }
    }
    Ok(())
}

/// The name, signature and date lines, with dots to write on.
fn signature_lines(t: &ReplyTexts) -> [String; 3] {
    let dots = |n: usize| ".".repeat(n);
    [
        format!("{} {}", t.signature, dots(60)),
        format!("{} {}", t.name, dots(56)),
        format!("{} {}  {} {}", t.date, dots(24), t.phone, dots(24)),
    ]
}

/// Draws the page's reply code at both of its places.
fn draw_codes(doc: &mut Document<'_>, page: PageId, code: &QrModules) -> Result<(), RenderError> {
    let module = (REPLY_CODE_SIZE.0 / code.size() as f32).min(REPLY_CODE_MAX_MODULE.0);
    if module < REPLY_CODE_MIN_MODULE.0 {
        return Err(RenderError::QrTooDense {
            what: "reply code",
            size: code.size(),
            printed_mm: REPLY_CODE_SIZE.0,
            min_module_mm: REPLY_CODE_MIN_MODULE.0,
        });
    }
    for origin in REPLY_CODE_ORIGINS {
        draw_qr(doc, page, code, origin.x.0, origin.y.0, Mm(module))?;
    }
    Ok(())
}
