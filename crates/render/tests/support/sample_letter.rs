//! A one-page sample letter used by the example, the benchmark and the PDF tool tests.

use hybridpost_render::{
    Align, Area, Color, Document, Flow, Mm, Paint, Paragraph, Point, Pt, RenderError, Stroke, Weight,
};
use hybridpost_thai::{format_thai_date, format_thai_date_short, to_thai_digits};
use time::Date;

/// Left page margin of Thai official letters (3 cm), in mm.
const LEFT: f32 = 30.0;
/// Right page margin (2 cm), in mm.
const RIGHT: f32 = 20.0;
/// Width of the text column, in mm.
const COLUMN: f32 = 210.0 - LEFT - RIGHT;

/// The heading.
pub const HEADING: &str = "หนังสือแจ้งการจัดส่งเอกสารทางไปรษณีย์";
/// The body paragraph; its bold part is [`BODY_BOLD`], between [`BODY_START`] and [`BODY_END`].
pub const BODY_START: &str = "ตามที่ ปู่ ป่า ฝั่ง น้ำ ทั้ง ผู้ใหญ่บ้าน ได้ขอรับหนังสือราชการผ่านบริการ Hybrid Mail \
     ของไปรษณีย์ไทย (Thailand Post) ไว้แล้วนั้น สำนักงานขอแจ้งว่าเอกสารเลขที่ TH-2569-000123 จะพิมพ์ที่ศูนย์ไปรษณีย์ \
     กรุงเทพฯ และนำจ่าย";
/// The bold part of the body.
pub const BODY_BOLD: &str = "ภายใน 3 วันทำการ";
/// The end of the body.
pub const BODY_END: &str = " นับจากวันที่ได้รับคำขอ ค่าบริการ 15.50 บาทต่อฉบับ (VAT 7% included) \
     หากมีข้อสงสัยโปรดติดต่อ Call Center 1545 หรือ www.thailandpost.co.th ในวันและเวลาราชการ ต่าง ๆ";
/// The closing paragraph.
pub const CLOSING: &str = "จึงเรียนมาเพื่อโปรดทราบ และขอขอบคุณที่ใช้บริการไปรษณีย์ไทย";
/// The recipient's name, kept on one line.
pub const RECIPIENT: &str = "นายสมชาย ใจดี";
/// The recipient's address lines after the name; the postcode is kept with the province.
pub const ADDRESS: [&str; 3] = ["บ้านเลขที่ 99/1 หมู่ที่ 4 ถนนพหลโยธิน", "แขวงสามเสนใน เขตพญาไท", "กรุงเทพมหานคร 10400"];
/// The sender's address block.
pub const SENDER: [&str; 3] = ["สำนักงานไปรษณีย์กลาง", "71 ถนนเจริญกรุง แขวงบางรัก", "เขตบางรัก กรุงเทพฯ 10500"];

/// Every piece of text on the page, in the order placed, for extraction checks.
pub fn source_texts(date: Date) -> Vec<String> {
    let mut texts = vec![HEADING.to_string(), "ที่ นร 0105/1234".to_string()];
    texts.extend(SENDER.iter().map(|s| s.to_string()));
    texts.push(format_thai_date(date));
    texts.push(format!("เรื่อง แจ้งกำหนดการจัดส่งเอกสาร ({})", to_thai_digits(&format_thai_date_short(date))));
    texts.push(format!("เรียน {RECIPIENT} ผู้ใหญ่บ้าน"));
    texts.push(format!("{BODY_START}{BODY_BOLD}{BODY_END}"));
    texts.push(CLOSING.to_string());
    texts.push("ขอแสดงความนับถือ".to_string());
    texts.push("(นางสาวสมหญิง รักษ์ไทย)".to_string());
    texts.push(RECIPIENT.to_string());
    texts.extend(ADDRESS.iter().map(|s| s.to_string()));
    texts
}

/// Lays out the sample letter dated `date` on a new page of `doc`.
pub fn compose(doc: &mut Document<'_>, date: Date) -> Result<(), RenderError> {
    let page = doc.add_page();
    let column = Area::new(LEFT, 20.0, COLUMN, 250.0);
    let rule = Stroke::new(Pt(0.75));

    let heading = Paragraph::new().bold(HEADING).size(Pt(20.0)).align(Align::Center);
    let mut y = done_bottom(doc.place_paragraph(page, &heading, column)?);
    y = Mm(y.0 + 2.0);
    doc.draw_line(page, Point { x: Mm(LEFT), y }, Point { x: Mm(LEFT + COLUMN), y }, rule)?;
    y = Mm(y.0 + 3.0);

    let reference = Paragraph::new().text("ที่ นร 0105/1234");
    doc.place_paragraph(page, &reference, Area { y, height: Mm(10.0), width: Mm(70.0), ..column })?;
    let sender = Paragraph::new().bold(SENDER[0]).text("\n").text(SENDER[1]).text("\n").text(SENDER[2]);
    let sender_area = Area { x: Mm(LEFT + 85.0), y, width: Mm(COLUMN - 85.0), height: Mm(30.0) };
    y = done_bottom(doc.place_paragraph(page, &sender, sender_area)?);

    let date_line = Paragraph::new().text(&format_thai_date(date));
    let date_area = Area { x: Mm(LEFT + 85.0), y: Mm(y.0 + 3.0), width: Mm(65.0), height: Mm(10.0) };
    y = done_bottom(doc.place_paragraph(page, &date_line, date_area)?);

    let subject = Paragraph::new()
        .bold("เรื่อง")
        .text(&format!(" แจ้งกำหนดการจัดส่งเอกสาร ({})", to_thai_digits(&format_thai_date_short(date))));
    y = done_bottom(doc.place_paragraph(page, &subject, column.below(Mm(y.0 + 2.0)))?);
    let salutation = Paragraph::new().bold("เรียน ").unbreakable(RECIPIENT, Weight::Regular).text(" ผู้ใหญ่บ้าน");
    y = done_bottom(doc.place_paragraph(page, &salutation, column.below(y))?);

    let body =
        Paragraph::new().text(&format!("        {BODY_START}")).bold(BODY_BOLD).text(BODY_END).align(Align::Justify);
    y = done_bottom(doc.place_paragraph(page, &body, column.below(Mm(y.0 + 2.0)))?);
    let closing = Paragraph::new().text(&format!("        {CLOSING}")).align(Align::Justify);
    y = done_bottom(doc.place_paragraph(page, &closing, column.below(y))?);

    let signature = Area { x: Mm(LEFT + 70.0), width: Mm(COLUMN - 70.0), ..column.below(Mm(y.0 + 4.0)) };
    let y_sign = done_bottom(doc.place_paragraph(
        page,
        &Paragraph::new().text("ขอแสดงความนับถือ").align(Align::Center),
        signature,
    )?);
    let name = Paragraph::new().text("(นางสาวสมหญิง รักษ์ไทย)").align(Align::Center);
    let y_name = done_bottom(doc.place_paragraph(page, &name, signature.below(Mm(y_sign.0 + 14.0)))?);
    let position = Paragraph::new().text("ผู้อำนวยการสำนักงานไปรษณีย์กลาง").align(Align::Center);
    y = done_bottom(doc.place_paragraph(page, &position, signature.below(y_name))?);

    let window = Area { x: Mm(LEFT), y: Mm(y.0 + 8.0), width: Mm(95.0), height: Mm(38.0) };
    doc.draw_rect(page, window, Paint::FillAndStroke(Color::gray(0.96), Stroke::new(Pt(0.5))))?;
    let address = Paragraph::new()
        .unbreakable(RECIPIENT, Weight::Bold)
        .text(&format!("\n{}\n{}\n", ADDRESS[0], ADDRESS[1]))
        .unbreakable(ADDRESS[2], Weight::Regular);
    let inner = Area { x: Mm(window.x.0 + 4.0), y: Mm(window.y.0 + 2.0), width: Mm(87.0), height: Mm(34.0) };
    done_bottom(doc.place_paragraph(page, &address, inner)?);

    let footer_y = Mm(282.0);
    doc.draw_line(
        page,
        Point { x: Mm(LEFT), y: footer_y },
        Point { x: Mm(LEFT + COLUMN), y: footer_y },
        Stroke::new(Pt(0.4)),
    )?;
    let footer = Paragraph::new().text("สอบถามเพิ่มเติม โทร. 1545 · hybridpost").size(Pt(12.0)).align(Align::Right);
    doc.place_paragraph(page, &footer, Area { y: Mm(footer_y.0 + 0.5), height: Mm(8.0), ..column })?;
    Ok(())
}

/// The bottom of a paragraph that must fit its area.
#[track_caller]
fn done_bottom(flow: Flow) -> Mm {
    match flow {
        Flow::Done { bottom, .. } => bottom,
        Flow::Continues { .. } => panic!("the sample letter is laid out to fit one page: {flow:?}"),
    }
}
