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
use hybridpost_thai::{format_thai_date, to_thai_digits};
use time::Date;

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
/// the verification seal, clear of the envelope window.
const RIGHT_COLUMN_X: f32 = 115.0;
/// Width of the right-hand column.
const RIGHT_COLUMN_WIDTH: f32 = 210.0 - RIGHT - RIGHT_COLUMN_X;

/// The closing and signature block: centred in this span, which starts right of the
/// middle of the page as the regulation's form places ขอแสดงความนับถือ.
const SIGNATURE_X: f32 = 95.0;
/// Width of the closing and signature block.
const SIGNATURE_WIDTH: f32 = 210.0 - RIGHT - SIGNATURE_X;
/// Space left for the handwritten or electronic signature.
const SIGNATURE_SPACE: f32 = 18.0;

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
/// Font sizes tried for the address block, largest first, until it fits the window.
const ADDRESS_SIZES: [f32; 5] = [16.0, 15.0, 14.0, 13.0, 12.0];
/// Line height of the address block: tighter than the body so six lines fit the window.
const ADDRESS_LINE_HEIGHT: f32 = 1.2;

/// Side of the square reserved for the verification seal (a QR code) on page 1.
const SEAL_SIZE: f32 = 35.0;
/// Blank margin around the seal: ISO/IEC 18004 asks for four modules, under 4 mm for a
/// 35 mm code of up to 41 modules.
const SEAL_QUIET_ZONE: f32 = 4.0;
/// Size of the verification host and PIN under the seal.
const SEAL_TEXT_SIZE: Pt = Pt(12.0);
/// Thickness of the reserved square's outline: light, only a guide for the seal to come.
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
}

/// A rendered letter.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedLetter {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// Number of pages.
    pub pages: usize,
    /// The envelope window on page 1, mm from the page's top-left corner; the
    /// recipient's address lies inside it.
    pub address_window: Area,
}

/// Lays out `letter` from `sender` as a Thai official external letter on A4 and writes it
/// as PDF.
///
/// Page 1 carries the recipient's address in the window of a DL window envelope and a
/// square reserved for the verification seal; long letters continue on further pages,
/// numbered from page 2.
pub fn render_letter(
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<RenderedLetter, RenderError> {
    let (doc, address_window) = lay_out_letter(letter, sender, options)?;
    Ok(RenderedLetter { pdf: doc.to_pdf()?, pages: doc.page_count(), address_window })
}

/// Lays out `letter` as [`render_letter`] does, without writing the PDF: for a print
/// batch, which writes many letters into one file. Returns the document and the
/// envelope window on page 1.
pub fn lay_out_letter(
    letter: &NewLetter,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<(Document<'static>, Area), RenderError> {
    let body = letter.body.as_deref().filter(|b| !b.is_empty()).ok_or(RenderError::NoBody)?;
    let mut doc = Document::new(PageSize::A4);
    doc.set_title(&letter.subject);
    let first = doc.add_page();

    let address_window = Area::new(WINDOW_X, WINDOW_Y, WINDOW_WIDTH, WINDOW_HEIGHT);
    place_address(&mut doc, first, letter, address_window)?;

    let reference = Paragraph::new().text("ที่ ").unbreakable(letter.reference.trim(), Weight::Regular);
    let reference_bottom = bottom(doc.place_paragraph(
        first,
        &reference,
        Area::new(LEFT, TOP, 80.0, WINDOW_Y - TOP - WINDOW_CLEARANCE),
    )?)?;
    let right_bottom = place_right_column(&mut doc, first, sender, options)?;
    // The text starts below the window, so nothing but the address shows through it.
    let start = reference_bottom.max(WINDOW_Y + WINDOW_HEIGHT).max(right_bottom) + BLOCK_GAP;

    let mut pages = Pages { doc, page: first, y: start, all: vec![first] };
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
        pages.indented(&Paragraph::new().text(paragraph.trim()).align(Align::Justify))?;
    }
    pages.signature(letter)?;

    let Pages { mut doc, page: last, all, .. } = pages;
    if let Some(contact) = letter.contact.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let line = Paragraph::new().text(contact).size(CONTACT_SIZE);
        doc.place_paragraph(last, &line, Area::new(LEFT, CONTACT_TOP, COLUMN, 290.0 - CONTACT_TOP))?;
    }
    for (index, &page) in all.iter().enumerate().skip(1) {
        // Page numbers from page 2, in Thai digits between dashes, centred at the top.
        let number = Paragraph::new().text(&format!("- {} -", to_thai_digits(&(index + 1).to_string())));
        let area = Area::new(RIGHT, PAGE_NUMBER_TOP, 210.0 - 2.0 * RIGHT, CONTINUATION_TOP - PAGE_NUMBER_TOP);
        doc.place_paragraph(page, &number.align(Align::Center), area)?;
    }
    Ok((doc, address_window))
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
    let block = block.line_height(ADDRESS_LINE_HEIGHT);
    for size in ADDRESS_SIZES {
        let candidate = block.clone().size(Pt(size));
        // Laid out on a scratch page first: a block that does not fit is not drawn.
        let mut trial = Document::new(PageSize::A4);
        let scratch = trial.add_page();
        if let Flow::Done { .. } = trial.place_paragraph(scratch, &candidate, inner)? {
            doc.place_paragraph(page, &candidate, inner)?;
            return Ok(());
        }
    }
    Err(RenderError::AddressDoesNotFit)
}

/// The agency's name and address, the date, the seal square and the text under it, top
/// to bottom on the right of page 1. Returns the bottom of the column.
fn place_right_column(
    doc: &mut Document<'_>,
    page: PageId,
    sender: &Sender,
    options: &LetterOptions,
) -> Result<f32, RenderError> {
    let column = Area::new(RIGHT_COLUMN_X, TOP, RIGHT_COLUMN_WIDTH, 120.0);
    let mut agency = Paragraph::new().text(sender.agency_name.trim());
    for line in &sender.agency_address_lines {
        agency = agency.text("\n").text(line.trim());
    }
    let mut y = bottom(doc.place_paragraph(page, &agency, column)?)?;
    // The regulation writes the date with the full month name and the Buddhist-era year.
    let date = Paragraph::new().text(&to_thai_digits(&format_thai_date(options.issue_date)));
    y = bottom(doc.place_paragraph(page, &date, column.below(Mm(y + 1.0)))?)?;

    let square_x = RIGHT_COLUMN_X + (RIGHT_COLUMN_WIDTH - SEAL_SIZE) / 2.0;
    let square_y = y + 2.0 + SEAL_QUIET_ZONE;
    let square = Area::new(square_x, square_y, SEAL_SIZE, SEAL_SIZE);
    let outline = Stroke { width: SEAL_OUTLINE, color: Color::gray(SEAL_OUTLINE_GRAY) };
    doc.draw_rect(page, square, Paint::Stroke(outline))?;
    y = square_y + SEAL_SIZE + SEAL_QUIET_ZONE;

    let small = |text: &str| Paragraph::new().text(text).size(SEAL_TEXT_SIZE).align(Align::Center);
    let host = small(options.verification_host.trim());
    y = bottom(doc.place_paragraph(page, &host, column.below(Mm(y)))?)?;
    if let Some(pin) = options.pin.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        let pin = small("รหัสเปิดอ่านฉบับดิจิทัล: ").unbreakable(pin, Weight::Regular);
        y = bottom(doc.place_paragraph(page, &pin, column.below(Mm(y)))?)?;
    }
    Ok(y)
}

/// The bottom of a block that must fit its area.
fn bottom(flow: Flow) -> Result<f32, RenderError> {
    match flow {
        Flow::Done { bottom, .. } => Ok(bottom.0),
        Flow::Continues { .. } => Err(RenderError::BlockDoesNotFit),
    }
}

/// The text flowing down the pages of a letter.
struct Pages {
    doc: Document<'static>,
    page: PageId,
    /// Where the next block starts on `page`, mm from the top.
    y: f32,
    /// Every page so far, in order.
    all: Vec<PageId>,
}

impl Pages {
    fn new_page(&mut self) {
        self.page = self.doc.add_page();
        self.all.push(self.page);
        self.y = CONTINUATION_TOP;
    }

    fn area(&self, x: f32, width: f32) -> Area {
        Area::new(x, self.y, width, (BODY_BOTTOM - self.y).max(0.0))
    }

    /// Places `paragraph` from `resume` at `x`, continuing on new pages as needed.
    fn place_from(&mut self, paragraph: &Paragraph, x: f32, width: f32, mut resume: Resume) -> Result<(), RenderError> {
        loop {
            let fresh = self.y == CONTINUATION_TOP;
            match self.doc.place_paragraph_from(self.page, paragraph, self.area(x, width), resume)? {
                Flow::Done { bottom, .. } => {
                    self.y = bottom.0;
                    return Ok(());
                }
                Flow::Continues { lines: 0, .. } if fresh => return Err(RenderError::BlockDoesNotFit),
                Flow::Continues { resume: rest, .. } => {
                    resume = rest;
                    self.new_page();
                }
            }
        }
    }

    fn place(&mut self, paragraph: &Paragraph, x: f32, width: f32) -> Result<(), RenderError> {
        self.place_from(paragraph, x, width, Resume::START)
    }

    /// A body paragraph: its first line indented by 2.5 cm, the rest at the full width.
    fn indented(&mut self, paragraph: &Paragraph) -> Result<(), RenderError> {
        let pitch = Mm::from(paragraph.line_pitch()).0;
        if self.y + pitch > BODY_BOTTOM {
            self.new_page();
        }
        let first_line = Area::new(LEFT + PARAGRAPH_INDENT, self.y, COLUMN - PARAGRAPH_INDENT, pitch);
        match self.doc.place_paragraph(self.page, paragraph, first_line)? {
            Flow::Done { bottom, .. } => {
                self.y = bottom.0;
                Ok(())
            }
            Flow::Continues { resume, bottom, .. } => {
                self.y = bottom.0;
                self.place_from(paragraph, LEFT, COLUMN, resume)
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
        if self.y + pitch > BODY_BOTTOM {
            self.new_page();
        }
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
        if self.y + needed > BODY_BOTTOM {
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
