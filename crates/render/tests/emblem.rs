//! The agency's emblem on official letters: 3 cm high, centred at the top of page 1 (ระเบียบ
//! สำนักนายกรัฐมนตรีว่าด้วยงานสารบรรณ ข้อ 71), measured on a 300 dpi raster, and embedded once
//! in a print batch however many letters show it.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hybridpost_core::letter::LetterLayout;
use hybridpost_render::{BatchInfo, BatchLetter, BatchWriter, Emblem, lay_out_letter, render_letter};

#[path = "support/batch_letters.rs"]
mod batch_letters;
#[path = "support/raster.rs"]
mod raster;

use raster::{ink_box, mm, raster, run};

/// The stand-in emblem the project draws itself (`examples/standin_emblem.rs`).
const STANDIN: &[u8] = include_bytes!("../../../fixtures/emblem/standin.png");

fn emblem() -> Emblem {
    Emblem::from_file(STANDIN).unwrap()
}

fn write(name: &str, pdf: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("emblem-{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    path
}

#[test]
fn the_emblem_prints_30_mm_high_centred_at_the_top_of_page_one_of_an_official_letter() {
    let letter = batch_letters::letter(0, 0);
    assert_eq!(letter.layout, LetterLayout::Official);
    let mut options = batch_letters::options();
    let bare = render_letter(&letter, &batch_letters::sender(), &options).unwrap();
    options.emblem = Some(emblem());
    let rendered = render_letter(&letter, &batch_letters::sender(), &options).unwrap();
    let slot = rendered.emblem_area.unwrap();
    let (slot_x, slot_y, slot_w, slot_h) =
        (f64::from(slot.x.0), f64::from(slot.y.0), f64::from(slot.width.0), f64::from(slot.height.0));
    let path = write("official", &rendered.pdf);
    run("qpdf", &["--check", path.to_str().unwrap()]);

    // The slot and 1 mm around it (the reference ends 2 mm to its left), from the top of the
    // sheet to 5 mm below it.
    let around = (slot_x - 1.0, 0.0, slot_x + slot_w + 1.0, slot_y + slot_h + 5.0);
    let (x0, y0, x1, y1) = ink_box(&raster(&path, 1), around).expect("the emblem is printed");
    let (height, width) = (mm(y1 - y0 + 1), mm(x1 - x0 + 1));
    let centre = mm(x0 + x1 + 1) / 2.0;
    println!(
        "emblem on the 300 dpi raster: {width:.2} × {height:.2} mm, top at {:.2} mm, centred at {centre:.2} mm",
        mm(y0)
    );
    assert!((height - 30.0).abs() <= 0.5, "the emblem is {height:.2} mm high, 30 ± 0.5 wanted");
    assert!((centre - 105.0).abs() <= 0.5, "the emblem is centred at {centre:.2} mm of the 210 mm page");
    assert!((mm(y0) - slot_y).abs() <= 0.5, "its top at {:.2} mm, the slot's at {slot_y} mm", mm(y0));
    // The stand-in's wings span 600 of its 640 × 720 pixels: 25 mm wide when 30 mm high.
    let expected_width = 30.0 * 600.0 / 720.0;
    assert!((width - expected_width).abs() <= 0.5, "its proportions are kept: {width:.2} mm wide");

    // Without an emblem the slot stays blank, and nothing else on the page moved.
    let bare_path = write("bare", &bare.pdf);
    assert_eq!(ink_box(&raster(&bare_path, 1), around), None);
    let text = |p: &Path| run("pdftotext", &["-layout", p.to_str().unwrap(), "-"]);
    assert_eq!(text(&path), text(&bare_path));

    // A plain letter has no slot and prints no emblem.
    let mut plain = letter.clone();
    plain.layout = LetterLayout::Plain;
    let plain = render_letter(&plain, &batch_letters::sender(), &options).unwrap();
    let plain_path = write("plain", &plain.pdf);
    let listed = run("pdfimages", &["-list", plain_path.to_str().unwrap()]);
    assert_eq!(listed.lines().count(), 2, "only the header: {listed}");
}

#[test]
fn a_batch_of_many_letters_embeds_the_emblem_once() {
    const LETTERS: usize = 40;
    let write_batch = || {
        let info =
            BatchInfo { batch_id: "B-EMBLEM".into(), site: "10400".into(), created_at: "2026-12-05 09:00".into() };
        let mut batch = BatchWriter::new(Vec::new(), info).unwrap();
        let mut options = batch_letters::options();
        options.emblem = Some(emblem());
        for n in 0..LETTERS {
            let letter = batch_letters::letter(n, n % 3);
            let (doc, _) = lay_out_letter(&letter, &batch_letters::sender(), &options).unwrap();
            let id = format!("L-{n}");
            batch
                .append_document(
                    BatchLetter { letter_id: id, postcode: batch_letters::postcode(&letter), urgency: None },
                    &doc,
                )
                .unwrap();
        }
        batch.finish().unwrap()
    };
    let (pdf, manifest) = write_batch();
    let path = write("batch", &pdf);
    run("qpdf", &["--check", path.to_str().unwrap()]);

    // pdfimages lists each image where it is drawn: on every letter's first page, all one object.
    let listed = run("pdfimages", &["-list", path.to_str().unwrap()]);
    let rows: Vec<Vec<&str>> = listed.lines().skip(2).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), LETTERS, "drawn once per letter:\n{listed}");
    let objects: BTreeSet<&str> = rows.iter().map(|r| r[10]).collect();
    assert_eq!(objects.len(), 1, "embedded once:\n{listed}");
    let first_pages: BTreeSet<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    let expected: BTreeSet<String> = manifest.letters.iter().map(|l| l.first_page.to_string()).collect();
    assert_eq!(first_pages, expected, "on the first page of each letter");
    assert_eq!((rows[0][3], rows[0][4], rows[0][5]), ("630", "709", "rgb"));

    // The letter's page in the batch is its single PDF's page, pixel for pixel.
    let in_batch = raster(&path, manifest.letters[1].first_page);
    let mut options = batch_letters::options();
    options.emblem = Some(emblem());
    let single = render_letter(&batch_letters::letter(1, 1), &batch_letters::sender(), &options).unwrap();
    let single = raster(&write("single", &single.pdf), 1);
    assert!(in_batch == single, "page 1 of letter 1 differs between the batch and its own PDF");
    let (x0, y0, x1, y1) = ink_box(&in_batch, (89.0, 0.0, 121.0, 45.0)).unwrap();
    assert!((mm(y1 - y0 + 1) - 30.0).abs() <= 0.5 && (mm(x0 + x1 + 1) / 2.0 - 105.0).abs() <= 0.5);

    // The same letters make the same file.
    assert_eq!(write_batch().0, pdf);
}
