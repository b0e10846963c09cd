//! The Thai official external letter (หนังสือภายนอก), laid out on A4 for a DL window
//! envelope.
//!
//! The parts and their order follow the form of หนังสือภายนอก in the Regulation of the
//! Prime Minister's Office on Correspondence (ระเบียบสำนักนายกรัฐมนตรีว่าด้วยงานสารบรรณ
//! พ.ศ. ๒๕๒๖ and its amendments, แบบที่ ๑): ที่ at the top left, the agency's address at
//! the top right, the date, เรื่อง, เรียน, อ้างถึง, สิ่งที่ส่งมาด้วย, the text, the closing
//! right of the middle, the signatory's name in brackets and position, and the owning
//! office's contact at the bottom. Text is set at 16 pt in the bundled Thai face, the
//! size Thai government correspondence uses with TH Sarabun.

use hybridpost_core::NewLetter;
use hybridpost_core::letter::ReplySpec;
use hybridpost_thai::{break_opportunities, format_thai_date, to_thai_digits};
use time::Date;

use crate::qr::{QUIET_ZONE_MODULES, QrModules, draw_qr};
use crate::reply_sheet::ReplySheet;
use crate::{Align, Area, Color, Document, Flow, Mm, PageId, PageSize, Paint, Paragraph, Pt, RenderError, Resume};
use crate::{Stroke, Weight};

/// Left margin of the text: 3 cm, as the regulation's form of หนังสือภายนอก shows.
const LEFT: f32 = 30.0;
/// Right margin of the text: 2 cm, as the regulation's form shows.
const RIGHT: f32 = 20.0;
/// Width of the text column.
const COLUMN: f32 = 210.0 - LEFT - RIGHT;
/// Top of the first line of page 1.
const TOP: f32 = 15.0;
/// Top of the body on continuation pages, below the page number.
const CONTINUATION_TOP: f32 = 22.0;
/// Top of the page number on continuation pages: centred on the page at the top, as the
/// regulation numbers the pages of a letter from page 2.
const PAGE_NUMBER_TOP: f32 = 10.0;
/// Lowest point of the body and signature on any page; below it is the contact line.
const BODY_BOTTOM: f32 = 268.0;
/// Top of the contact line (ส่วนราชการเจ้าของเรื่อง / โทร.) at the bottom of the last page.
const CONTACT_TOP: f32 = 272.0;
/// Size of the contact line.
const CONTACT_SIZE: Pt = Pt(14.0);
/// First-line indent of body paragraphs: 2.5 cm, as in the regulation's form.
const PARAGRAPH_INDENT: f32 = 25.0;
/// Where the values of เรื่อง, เรียน, อ้างถึง and สิ่งที่ส่งมาด้วย start, after their labels.
const LABEL_WIDTH: f32 = 27.0;
/// Gap above เรื่อง, above the body and above the closing.
const BLOCK_GAP: f32 = 3.0;

/// Left side of the column on the right of page 1: the agency's address, the date and
/// the verification seal, clear of the envelope window and of the emblem.
const RIGHT_COLUMN_X: f32 = 122.0;
/// Width of the right-hand column.
const RIGHT_COLUMN_WIDTH: f32 = 210.0 - RIGHT - RIGHT_COLUMN_X;

/// The emblem (ตราครุฑ) slot: 3 cm high, centred at the top of page 1, as the regulation
/// prints the Garuda on an external letter. Kept blank for a pre-printed or later emblem.
const EMBLEM: Area = Area { x: Mm(90.0), y: Mm(10.0), width: Mm(30.0), height: Mm(30.0) };
/// Width of the reference (ที่) at the top left: up to the emblem.
const REFERENCE_WIDTH: f32 = 90.0 - 2.0 - LEFT;

/// The closing and signature block: centred in this span, which starts right of the
/// middle of the page as the regulation's form places ขอแสดงความนับถือ.
const SIGNATURE_X: f32 = 95.0;
/// Width of the closing and signature block.
const SIGNATURE_WIDTH: f32 = 210.0 - RIGHT - SIGNATURE_X;
/// Space left for the handwritten or electronic signature.
const SIGNATURE_SPACE: f32 = 18.0;
/// Size of the continuation word (คำต่อ) at the bottom right of a page that continues.
const CONTINUATION_SIZE: Pt = Pt(14.0);

/// The window of a DL (110 × 220 mm) window envelope as DIN 680 places it: 90 × 45 mm,
/// 20 mm from the left edge and 15 mm from the bottom of the envelope. With the A4 sheet
/// folded in three (99 mm panels) and its top panel at the back of the envelope, the
/// window shows this rectangle of the unfolded page, in mm from its top-left corner.
const WINDOW_X: f32 = 20.0;
/// Top of the envelope window on the page (see [`WINDOW_X`]).
const WINDOW_Y: f32 = 45.0;
/// Width of the envelope window (DIN 680).
const WINDOW_WIDTH: f32 = 90.0;
/// Height of the envelope window (DIN 680).
const WINDOW_HEIGHT: f32 = 45.0;
/// Distance kept between the address and the window's edges: the folded sheet moves a
/// few millimetres in the envelope, and the address must stay readable when it does.
const WINDOW_CLEARANCE: f32 = 4.0;
/// Font sizes tried for the address block, largest first, until it fits the window, each
/// with the address block's tight line height.
const ADDRESS_SIZES: [(f32, f32); 5] = [
    (16.0, ADDRESS_LINE_HEIGHT),
    (15.0, ADDRESS_LINE_HEIGHT),
    (14.0, ADDRESS_LINE_HEIGHT),
    (13.0, ADDRESS_LINE_HEIGHT),
    (12.0, ADDRESS_LINE_HEIGHT),
];
/// Line height of the address block: tighter than the body so six lines fit the window.
const ADDRESS_LINE_HEIGHT: f32 = 1.2;

/// The first fold of an A4 sheet folded in three for a DL envelope, mm from the top.
pub const DL_FOLD: f32 = 99.0;
/// Clearance kept above the fold by the seal, the host and the PIN: a crease through a
/// code or a PIN makes it hard to read.
const FOLD_CLEARANCE: f32 = 2.0;

/// Side of the square of the verification seal (a QR code) on page 1, quiet zone included.
pub const SEAL_SIZE: f32 = 35.0;
/// Top of the seal square: fixed, so that the seal, the host and the PIN under it always
/// end above the fold, whatever the length of the agency's address.
const SEAL_TOP: f32 = 49.0;
/// Smallest seal module that phone cameras read reliably at arm's length, in mm.
const MIN_SEAL_MODULE: f32 = 0.45;
/// Size of the verification host and PIN under the seal.
const SEAL_TEXT_SIZE: Pt = Pt(12.0);
/// Line height of the host and PIN lines.
const SEAL_TEXT_LINE_HEIGHT: f32 = 1.25;
/// Font sizes and line heights tried for the agency's name, address and the date, largest
/// first, until they fit above the seal.
const AGENCY_SIZES: [(f32, f32); 6] = [(16.0, 1.4), (15.0, 1.3), (14.0, 1.25), (13.0, 1.2), (12.0, 1.2), (11.0, 1.2)];
/// Room between the seal square and the host under it: the ascent of Thai text reaches
/// above its line.
const SEAL_TEXT_GAP: f32 = 2.0;
/// Thickness of the reserved square's outline when no seal is given: light, only a guide.
const SEAL_OUTLINE: Pt = Pt(0.3);
/// Grey of the reserved square's outline.
const SEAL_OUTLINE_GRAY: f32 = 0.75;

/// Default closing of an external letter to a member of the public.
const DEFAULT_CLOSING: &str = "ขอแสดงความนับถือ";

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
    /// The seal's module size in mm, when a seal was drawn.
    pub seal_module: Option<Mm>,
    /// The blank slot for the emblem (ตราครุฑ) at the top of page 1.
    pub emblem_area: Area,
}

/// Lays out `letter` from `sender` as a Thai official external letter on A4 and writes it
/// as PDF.
///
/// Page 1 carries the recipient's address in the window of a DL window envelope and the
/// verification seal; long letters continue on further pages, numbered from page 2, each
/// ending with the continuation word (คำต่อ). A letter that asks for a reply is followed by
/// its reply sheet.
pub fn render_letter(
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<RenderedLetter, RenderError> {
    let body: Vec<String> = letter
        .body
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if body.is_empty() {
        return Err(RenderError::NoBody);
    }
    if matches!(letter.reply, Some(ReplySpec::Request(_))) && options.reply.is_none() {
        return Err(RenderError::ReplySheetMissing);
    }
    let first = compose(letter, &body, sender, options, None)?;
    // The signature block must not stand alone on a page: when it was pushed over, lay the
    // letter out again with the last two lines of the text moved over with it.
    let composed = match first.pushed_from {
        Some(limit) => match compose(letter, &body, sender, options, Some(limit)) {
            Ok(second) if second.pushed_from.is_none() => second,
            _ => first,
        },
        None => first,
    };
    let Composed { mut doc, seal_module, .. } = composed;
    let letter_pages = doc.page_count();
    if let Some(sheet) = &options.reply {
        crate::reply_sheet::append(&mut doc, letter, sheet)?;
    }
    Ok(RenderedLetter {
        pdf: doc.to_pdf()?,
        pages: doc.page_count(),
        letter_pages,
        address_window: Area::new(WINDOW_X, WINDOW_Y, WINDOW_WIDTH, WINDOW_HEIGHT),
        seal_area: seal_square(),
        seal_module,
        emblem_area: EMBLEM,
    })
}

/// A letter laid out, before its reply sheet.
struct Composed {
    doc: Document<'static>,
    seal_module: Option<Mm>,
    /// When the signature block was pushed to a page of its own: the page and the top of
    /// the second-last body line, where that page's text must end instead.
    pushed_from: Option<(usize, f32)>,
}

fn seal_square() -> Area {
    Area::new(RIGHT_COLUMN_X + (RIGHT_COLUMN_WIDTH - SEAL_SIZE) / 2.0, SEAL_TOP, SEAL_SIZE, SEAL_SIZE)
}

/// Lays out the letter; `limit` ends the text on one page higher than usual.
fn compose(
    letter: &NewLetter,
    body: &[String],
    sender: &Sender,
    options: &LetterOptions,
    limit: Option<(usize, f32)>,
) -> Result<Composed, RenderError> {
    let mut doc = Document::new(PageSize::A4);
    doc.set_title(&letter.subject);
    let first = doc.add_page();

    let address_window = Area::new(WINDOW_X, WINDOW_Y, WINDOW_WIDTH, WINDOW_HEIGHT);
    place_address(&mut doc, first, letter, address_window)?;

    let reference = Paragraph::new().text("ที่ ").unbreakable(letter.reference.trim(), Weight::Regular);
    let reference_bottom = bottom(doc.place_paragraph(
        first,
        &reference,
        Area::new(LEFT, TOP, REFERENCE_WIDTH, WINDOW_Y - TOP - WINDOW_CLEARANCE),
    )?)?;
    let (right_bottom, seal_module) = place_right_column(&mut doc, first, sender, options)?;
    // The text starts below the window, so nothing but the address shows through it.
    let start = reference_bottom.max(WINDOW_Y + WINDOW_HEIGHT).max(right_bottom) + BLOCK_GAP;

    let mut pages = Pages {
        doc,
        page: first,
        y: start,
        all: vec![first],
        firsts: vec![None],
        limit,
        body_lines: Vec::new(),
        pushed_from: None,
    };
    pages.labelled("เรื่อง", &[letter.subject.trim().to_string()])?;
    let salutation = match letter.salutation.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_string(),
        None => format!("เรียน {}", letter.recipient.name.trim()),
    };
    pages.place(&Paragraph::new().text(&salutation), LEFT, COLUMN)?;
    pages.labelled("อ้างถึง", &letter.references)?;
    pages.labelled("สิ่งที่ส่งมาด้วย", &letter.enclosures)?;

    pages.y += BLOCK_GAP;
    for paragraph in body {
        pages.indented(&Paragraph::new().text(paragraph).align(Align::Justify))?;
    }
    if let Some(sheet) = &options.reply {
        let deadline = to_thai_digits(&format_thai_date(sheet.deadline));
        let line = format!("กรุณาตอบกลับภายในวันที่ {deadline} โดยใช้แบบตอบกลับที่แนบมากับหนังสือนี้");
        pages.indented(&Paragraph::new().text(&line).align(Align::Justify))?;
    }
    pages.signature(letter)?;

    let Pages { mut doc, page: last, all, firsts, pushed_from, .. } = pages;
    if let Some(contact) = letter.contact.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let line = Paragraph::new().text(contact).size(CONTACT_SIZE);
        doc.place_paragraph(last, &line, Area::new(LEFT, CONTACT_TOP, COLUMN, 290.0 - CONTACT_TOP))?;
    }
    for (index, &page) in all.iter().enumerate() {
        if index > 0 {
            // Page numbers from page 2, in Thai digits between dashes, centred at the top.
            let number = Paragraph::new().text(&format!("- {} -", to_thai_digits(&(index + 1).to_string())));
            let area = Area::new(RIGHT, PAGE_NUMBER_TOP, 210.0 - 2.0 * RIGHT, CONTINUATION_TOP - PAGE_NUMBER_TOP);
            doc.place_paragraph(page, &number.align(Align::Center), area)?;
        }
        // The continuation word (คำต่อ): the first word of the next page after a slash, at
        // the bottom right of every page that continues, as the regulation asks.
        if let Some(Some(word)) = firsts.get(index + 1) {
            let line = Paragraph::new().text(&format!("/{word}...")).size(CONTINUATION_SIZE).align(Align::Right);
            doc.place_paragraph(page, &line, Area::new(LEFT, BODY_BOTTOM + 1.0, COLUMN, 10.0))?;
        }
    }
    Ok(Composed { doc, seal_module, pushed_from })
}

/// The recipient's name and address inside the envelope window, at the largest size that
/// fits with the clearance kept all round.
fn place_address(doc: &mut Document<'_>, page: PageId, letter: &NewLetter, window: Area) -> Result<(), RenderError> {
    let inner = Area::new(
        window.x.0 + WINDOW_CLEARANCE,
        window.y.0 + WINDOW_CLEARANCE,
        window.width.0 - 2.0 * WINDOW_CLEARANCE,
        window.height.0 - 2.0 * WINDOW_CLEARANCE,
    );
    let mut block = Paragraph::new().unbreakable(letter.recipient.name.trim(), Weight::Bold);
    for line in letter.recipient.address.lines() {
        block = block.text("\n").unbreakable(&line, Weight::Regular);
    }
    place_largest(doc, page, &block, inner, &ADDRESS_SIZES).map_err(|e| match e {
        RenderError::BlockDoesNotFit => RenderError::AddressDoesNotFit,
        other => other,
    })?;
    Ok(())
}

/// Places `block` in `area` at the largest of `sizes` at which it fits whole; returns its
/// bottom.
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

/// The agency's name and address and the date at the top right of page 1, the seal square
/// at its fixed place under them, and the verification host and PIN under the seal, all
/// above the fold. Returns the bottom of the column and the seal's module size.
fn place_right_column(
    doc: &mut Document<'_>,
    page: PageId,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<(f32, Option<Mm>), RenderError> {
    let mut agency = Paragraph::new().text(sender.agency_name.trim());
    for line in &sender.agency_address_lines {
        agency = agency.text("\n").text(line.trim());
    }
    // The regulation writes the date with the full month name and the Buddhist-era year,
    // under the agency's address.
    let date = to_thai_digits(&format_thai_date(options.issue_date));
    let block = agency.text("\n").unbreakable(&date, Weight::Regular).align(Align::Left);
    let room = Area::new(RIGHT_COLUMN_X, TOP, RIGHT_COLUMN_WIDTH, SEAL_TOP - 1.0 - TOP);
    place_largest(doc, page, &block, room, &AGENCY_SIZES)?;

    let square = seal_square();
    let seal_module = match &options.seal {
        Some(seal) => {
            // ISO/IEC 18004 §6.3.8: a quiet zone of four modules on every side, inside the square.
            let modules = seal.size() + 2 * QUIET_ZONE_MODULES;
            let module = SEAL_SIZE / modules as f32;
            if module < MIN_SEAL_MODULE {
                return Err(RenderError::QrTooDense {
                    what: "verification seal",
                    size: seal.size(),
                    printed_mm: SEAL_SIZE,
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

    let small = |text: &str| {
        Paragraph::new().text(text).size(SEAL_TEXT_SIZE).line_height(SEAL_TEXT_LINE_HEIGHT).align(Align::Center)
    };
    let below = square.y.0 + SEAL_SIZE + SEAL_TEXT_GAP;
    let room = Area::new(RIGHT_COLUMN_X, below, RIGHT_COLUMN_WIDTH, DL_FOLD - FOLD_CLEARANCE - below);
    let mut lines = small(options.verification_host.trim());
    if let Some(pin) = options.pin.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        lines = lines.text("\nรหัสเปิดอ่านฉบับดิจิทัล: ").unbreakable(pin, Weight::Regular);
    }
    let y = bottom(doc.place_paragraph(page, &lines, room)?)?;
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
struct Pages {
    doc: Document<'static>,
    page: PageId,
    /// Where the next block starts on `page`, mm from the top.
    y: f32,
    /// Every page so far, in order.
    all: Vec<PageId>,
    /// The first word placed on each page, for the continuation word of the page before.
    firsts: Vec<Option<String>>,
    /// A page (index) whose text ends higher than [`BODY_BOTTOM`], and where.
    limit: Option<(usize, f32)>,
    /// Body lines placed so far: page index and top of the line.
    body_lines: Vec<(usize, f32)>,
    /// Set when the signature block had to start a new page; see [`Composed`].
    pushed_from: Option<(usize, f32)>,
}

impl Pages {
    fn new_page(&mut self) {
        self.page = self.doc.add_page();
        self.all.push(self.page);
        self.firsts.push(None);
        self.y = CONTINUATION_TOP;
    }

    /// Lowest point of the text on the current page.
    fn bottom(&self) -> f32 {
        match self.limit {
            Some((page, y)) if page == self.page.index() => y,
            _ => BODY_BOTTOM,
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
            let fresh = self.y == CONTINUATION_TOP;
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

    /// A body paragraph: its first line indented by 2.5 cm, the rest at the full width.
    fn indented(&mut self, paragraph: &Paragraph) -> Result<(), RenderError> {
        let pitch = Mm::from(paragraph.line_pitch()).0;
        if self.y + pitch > self.bottom() {
            self.new_page();
        }
        self.mark(paragraph.as_str(), 0);
        let top = self.y;
        let first_line = Area::new(LEFT + PARAGRAPH_INDENT, self.y, COLUMN - PARAGRAPH_INDENT, pitch);
        match self.doc.place_paragraph(self.page, paragraph, first_line)? {
            Flow::Done { bottom, lines } => {
                self.record(top, lines, pitch, true);
                self.y = bottom.0;
                Ok(())
            }
            Flow::Continues { resume, bottom, lines } => {
                self.record(top, lines, pitch, true);
                self.y = bottom.0;
                self.place_from(paragraph, LEFT, COLUMN, resume, true)
            }
        }
    }

    /// A label (เรื่อง, อ้างถึง, …) with its values to the right, numbered in Thai
    /// digits when there are several. Nothing when `values` is empty.
    fn labelled(&mut self, label: &str, values: &[String]) -> Result<(), RenderError> {
        let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Ok(());
        }
        let label = Paragraph::new().text(label);
        let pitch = Mm::from(label.line_pitch()).0;
        if self.y + pitch > self.bottom() {
            self.new_page();
        }
        self.mark(label.as_str(), 0);
        self.doc.place_paragraph(self.page, &label, Area::new(LEFT, self.y, LABEL_WIDTH, pitch))?;
        let numbered = values.len() > 1;
        for (i, value) in values.iter().enumerate() {
            let text =
                if numbered { format!("{}. {value}", to_thai_digits(&(i + 1).to_string())) } else { value.to_string() };
            self.place(&Paragraph::new().text(&text), LEFT + LABEL_WIDTH, COLUMN - LABEL_WIDTH)?;
        }
        Ok(())
    }

    /// The closing, the space to sign, the signatory's name in brackets and position,
    /// kept together on one page.
    fn signature(&mut self, letter: &NewLetter) -> Result<(), RenderError> {
        let closing = letter.closing.as_deref().map(str::trim).filter(|c| !c.is_empty()).unwrap_or(DEFAULT_CLOSING);
        let line = |text: &str| Paragraph::new().text(text).align(Align::Center);
        let mut lines = vec![line(closing)];
        if let Some(signatory) = &letter.signatory {
            lines.push(line(&format!("({})", signatory.name.trim())));
            lines.push(line(signatory.position.trim()));
        }
        let pitch = Mm::from(lines[0].line_pitch()).0;
        let needed = BLOCK_GAP + pitch * lines.len() as f32 + SIGNATURE_SPACE;
        if self.y + needed > self.bottom() {
            // Where the text would have to end for its last two lines to come along.
            if let [.., (page, top), _] = self.body_lines[..] {
                self.pushed_from = Some((page, top));
            }
            self.new_page();
        }
        self.y += BLOCK_GAP;
        for (i, paragraph) in lines.iter().enumerate() {
            if i == 1 {
                self.y += SIGNATURE_SPACE;
            }
            self.place(paragraph, SIGNATURE_X, SIGNATURE_WIDTH)?;
        }
        Ok(())
    }
}
