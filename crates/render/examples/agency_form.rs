//! Writes the sample agency form of `fixtures/forms/`: a three-page household survey an agency
//! sends as its own reply sheet (`"reply": {"form_document_id": …}`), with three answer boxes
//! on page 1 whose places `household-survey.answers.json` declares. `--over-code-place` draws
//! the form's title block over the top-right reply code place instead, as a form the service
//! must refuse.
//!
//! ```text
//! cargo run -p hybridpost-render --example agency_form -- fixtures/forms/household-survey.pdf
//! ```

use hybridpost_render::{Area, Document, PageSize, Paint, Paragraph, Point, Pt, Stroke, Weight};

/// The answer boxes on page 1: left side, top and side, mm; and their labels.
const BOXES: [(f32, f32, &str, &str); 3] = [
    (25.0, 120.0, "มีผู้สูงอายุในครัวเรือน", "There is an elderly person in the household"),
    (25.0, 132.0, "ไม่มีผู้สูงอายุในครัวเรือน", "There is no elderly person in the household"),
    (25.0, 144.0, "ไม่ประสงค์ให้ข้อมูล", "I prefer not to answer"),
];
const BOX_SIDE: f32 = 5.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: agency_form OUT.pdf [--over-code-place]")?;
    let over = args.next().as_deref() == Some("--over-code-place");
    let mut doc = Document::new(PageSize::A4);
    doc.set_title("แบบสำรวจข้อมูลครัวเรือน");
    let text = |t: &str, size: f32, weight: Weight| Paragraph::new().push(t, weight, false).size(Pt(size));
    let thin = Paint::Stroke(Stroke::new(Pt(0.6)));
    for n in 1..=3u8 {
        let page = doc.add_page();
        // The title block: left of the top-right code place, or across it.
        let title_width = if over { 180.0 } else { 135.0 };
        doc.draw_rect(page, Area::new(20.0, 12.0, title_width, 22.0), thin)?;
        doc.place_paragraph(
            page,
            &text("แบบสำรวจข้อมูลครัวเรือน พ.ศ. ๒๕๖๙", 18.0, Weight::Bold),
            Area::new(24.0, 14.0, title_width - 8.0, 10.0),
        )?;
        doc.place_paragraph(
            page,
            &text(
                &format!("สำนักงานสถิติจังหวัด  แบบ สค.๑  หน้า {}/๓", ["๑", "๒", "๓"][usize::from(n - 1)]),
                13.0,
                Weight::Regular,
            ),
            Area::new(24.0, 24.0, title_width - 8.0, 8.0),
        )?;
        let mut y = 52.0;
        let section = match n {
            1 => "ส่วนที่ ๑ ผู้ให้ข้อมูล",
            2 => "ส่วนที่ ๒ สมาชิกในครัวเรือน",
            _ => "ส่วนที่ ๓ รายได้และที่อยู่อาศัย",
        };
        doc.place_paragraph(page, &text(section, 16.0, Weight::Bold), Area::new(20.0, y, 170.0, 10.0))?;
        y += 12.0;
        let fields: &[&str] = match n {
            1 => &["ชื่อ-นามสกุล", "บ้านเลขที่", "หมู่ที่ / ตำบล", "โทรศัพท์"],
            2 => &["จำนวนสมาชิก", "อายุของสมาชิกคนที่ ๑", "อายุของสมาชิกคนที่ ๒", "อายุของสมาชิกคนที่ ๓"],
            _ => &["รายได้ต่อเดือน (บาท)", "ลักษณะที่อยู่อาศัย", "หมายเหตุ", "ลงชื่อผู้ให้ข้อมูล"],
        };
        for field in fields {
            doc.place_paragraph(page, &text(field, 14.0, Weight::Regular), Area::new(20.0, y, 55.0, 8.0))?;
            doc.draw_line(page, Point::new(75.0, y + 6.5), Point::new(190.0, y + 6.5), Stroke::new(Pt(0.4)))?;
            y += 11.0;
        }
        if n == 1 {
            doc.place_paragraph(
                page,
                &text("ข้อ ๕ กาเครื่องหมายในช่องเดียว", 14.0, Weight::Bold),
                Area::new(20.0, 110.0, 170.0, 8.0),
            )?;
            for (x, top, th, _) in BOXES {
                doc.draw_rect(page, Area::new(x, top, BOX_SIDE, BOX_SIDE), Paint::Stroke(Stroke::new(Pt(0.8))))?;
                doc.place_paragraph(page, &text(th, 14.0, Weight::Regular), Area::new(x + 9.0, top - 1.0, 140.0, 8.0))?;
            }
        }
        // Ruled lines for notes, clear of the bottom-left code place and the reference line.
        let mut line = y.max(160.0) + 10.0;
        while line < 240.0 {
            doc.draw_line(page, Point::new(20.0, line), Point::new(190.0, line), Stroke::new(Pt(0.3)))?;
            line += 9.0;
        }
    }
    std::fs::write(&out, doc.to_pdf()?)?;
    let answers: Vec<serde_json::Value> = BOXES
        .iter()
        .map(|(x, y, th, en)| {
            serde_json::json!({"page": 1, "x": x, "y": y, "side": BOX_SIDE, "label_th": th, "label_en": en})
        })
        .collect();
    let json_path = std::path::Path::new(&out).with_extension("answers.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&answers)? + "\n")?;
    println!("wrote {out} and {}", json_path.display());
    Ok(())
}
