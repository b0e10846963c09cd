//! The answer reader on filled-in reply sheets: real reply pages rendered by
//! `hybridpost-render` and rasterised by `pdftoppm`, marked with every kind of mark, scanned
//! with the code corpus's damage, read as the intake reads them. The full evaluation
//! (2000 sheets) is `cargo run --release -p hybridpost-scan --example answer_eval`; this test
//! runs a slice of the same corpus on every build. Needs `pdftoppm` (poppler-utils).

use hybridpost_scan::answers::{Answer, BoxState, Uncertain};

#[path = "../examples/support/pages.rs"]
#[expect(dead_code, reason = "shared with the corpus generator, which uses all of it")]
mod pages;

#[path = "../examples/support/filled.rs"]
mod filled;

use filled::{Kind, Verdict};

#[test]
fn no_certain_answer_differs_from_what_was_marked_and_clear_marks_are_read() {
    let work = tempfile::tempdir().expect("temp dir");
    let blanks = filled::blanks(2, work.path()).expect("render and rasterise the reply sheets");
    assert!(blanks.iter().all(|b| b.boxes.len() == 3), "the reply sheet has three answer boxes");
    // Four rounds of the corpus's mix of twelve: every kind of mark, on both sheets.
    let sheets = 48;
    let (mut right, mut review, mut wrong) = (0, 0, Vec::new());
    let mut clear_marks = (0, 0);
    for i in 0..sheets {
        let blank = &blanks[i % blanks.len()];
        let sheet = filled::fill_and_scan(blank, i, 2112);
        let reading = filled::read(blank, &sheet);
        match filled::verdict(&sheet, &reading) {
            Verdict::Right => right += 1,
            Verdict::Review => review += 1,
            Verdict::Wrong => {
                wrong.push(format!("sheet {i} ({}, {}): {:?}", sheet.kind.name(), sheet.damage.join(", "), reading))
            }
        }
        if matches!(sheet.kind, Kind::Tick | Kind::Cross | Kind::Filled | Kind::None) {
            clear_marks.0 += 1;
            clear_marks.1 += usize::from(filled::verdict(&sheet, &reading) == Verdict::Right);
        }
        if matches!(sheet.kind, Kind::Two | Kind::Corrected) {
            assert!(reading.outcome.is_err(), "sheet {i}: two marks never read as one answer");
        }
        if let Ok(Answer::Chosen(choice)) = reading.outcome {
            let marked: Vec<u8> =
                reading.boxes.iter().filter(|b| b.state == BoxState::Marked).map(|b| b.choice).collect();
            assert_eq!(marked, [choice], "sheet {i}: a certain answer is the one marked box");
            assert!(reading.confidence >= 0.5, "sheet {i}: certain readings are at least 0.5 sure");
        }
    }
    println!("{sheets} sheets: {right} read right, {review} to review, {} wrong", wrong.len());
    assert!(wrong.is_empty(), "certain answers that differ from the marks: {wrong:#?}");
    assert_eq!(right + review, sheets);
    // Ticks, crosses, filled boxes and blank sheets are read, not sent to review.
    assert!(clear_marks.1 * 10 >= clear_marks.0 * 9, "clear marks read right: {clear_marks:?}");
}

#[test]
fn a_sheet_scanned_without_its_codes_is_never_read() {
    let work = tempfile::tempdir().expect("temp dir");
    let blanks = filled::blanks(1, work.path()).expect("render and rasterise the reply sheet");
    let blank = &blanks[0];
    // Sheet 0 is a tick; wipe both reply codes (a photocopy cropped at the edges).
    let mut sheet = filled::fill_and_scan(blank, 0, 7);
    let k = sheet.dpi as f32 / 25.4;
    let (w, h) = sheet.scan.dimensions();
    for (x, y, side) in [(160.0, 0.0, 50.0), (0.0, 245.0, 50.0)] {
        for py in (y * k) as u32..(((y + side) * k) as u32).min(h) {
            for px in (x * k) as u32..(((x + side) * k) as u32).min(w) {
                sheet.scan.put_pixel(px, py, image::Luma([250]));
            }
        }
    }
    let reading = filled::read(blank, &sheet);
    assert_eq!(reading.outcome, Err(Uncertain::CodesNotFound));
}
