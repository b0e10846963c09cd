//! Print batches as a print room sees them: checked with `qpdf`, poppler's `pdfinfo`,
//! `pdftotext`, `pdffonts` and `pdftoppm` (`apt-get install poppler-utils qpdf`; a
//! missing tool fails the test).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::path::{Path, PathBuf};
use std::process::Command;

use hybridpost_core::NewLetter;
use hybridpost_render::{
    Area, BatchInfo, BatchLetter, BatchManifest, BatchWriter, Document, PageSize, Paragraph, RenderError,
    lay_out_letter, render_letter,
};

#[path = "support/batch_letters.rs"]
mod batch_letters;
#[path = "support/raster.rs"]
mod raster;
#[path = "support/sample_letter.rs"]
#[expect(dead_code, reason = "only the composition of the sample letter is used here")]
mod sample_letter;

/// Extra long paragraphs of each letter of the test batch: one-page letters, a letter of
/// two pages and one of three.
const PARAGRAPHS: [usize; 5] = [0, 4, 0, 10, 0];

fn info() -> BatchInfo {
    BatchInfo {
        batch_id: "B-2026-11-22-0001".to_string(),
        site: "ศูนย์ไปรษณีย์หลักสี่ 10210".to_string(),
        created_at: "22 พ.ย. 2569 08:00 (2026-11-22T08:00+07:00)".to_string(),
    }
}

fn letters() -> Vec<NewLetter> {
    let mut letters: Vec<NewLetter> =
        PARAGRAPHS.iter().enumerate().map(|(i, &p)| batch_letters::letter(i * 13, p)).collect();
    letters.sort_by_key(batch_letters::postcode);
    letters
}

fn batch_letter(i: usize, letter: &NewLetter) -> BatchLetter {
    BatchLetter { letter_id: format!("L-{i:04}"), postcode: batch_letters::postcode(letter), urgency: None }
}

/// A PDF made elsewhere: the sample letter written by printpdf, with its own fonts.
fn foreign_pdf() -> Vec<u8> {
    let mut doc = Document::new(PageSize::A4);
    sample_letter::compose(&mut doc, time::macros::date!(2026 - 11 - 22)).unwrap();
    doc.to_pdf().unwrap()
}

/// The test batch: the letters, then an agency's own PDF, a broken PDF and one more
/// letter.
fn build_batch() -> (Vec<u8>, BatchManifest) {
    let mut batch = BatchWriter::new(Vec::new(), info()).unwrap();
    let letters = letters();
    for (i, letter) in letters.iter().enumerate() {
        let (doc, _) = lay_out_letter(letter, &batch_letters::sender(), &batch_letters::options()).unwrap();
        batch.append_document(batch_letter(i, letter), &doc).unwrap();
    }
    let foreign = BatchLetter { letter_id: "L-FOREIGN".to_string(), postcode: "90110".to_string(), urgency: None };
    batch.append_pdf(foreign, &foreign_pdf()).unwrap();
    let broken = BatchLetter { letter_id: "L-BROKEN".to_string(), postcode: "90110".to_string(), urgency: None };
    let mut pdf = foreign_pdf();
    pdf.truncate(pdf.len() / 3);
    let err = batch.append_pdf(broken, &pdf).unwrap_err();
    assert!(matches!(err, RenderError::ForeignPdf(_)), "{err}");
    let last = batch_letters::letter(999, 0);
    let (doc, _) = lay_out_letter(&last, &batch_letters::sender(), &batch_letters::options()).unwrap();
    batch
        .append_document(
            BatchLetter { letter_id: "L-LAST".to_string(), postcode: "90110".to_string(), urgency: None },
            &doc,
        )
        .unwrap();
    let (pdf, manifest) = batch.finish().unwrap();
    (pdf, manifest)
}

fn write(name: &str, pdf: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("batch-{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    path
}

fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install poppler-utils qpdf): {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed with {}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn run_text(tool: &str, args: &[&str]) -> String {
    String::from_utf8(run(tool, args)).unwrap()
}

fn page_text(path: &Path, page: usize) -> String {
    let page = page.to_string();
    run_text("pdftotext", &["-enc", "UTF-8", "-f", &page, "-l", &page, path.to_str().unwrap(), "-"])
}

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn qpdf_finds_no_problem_in_a_batch() {
    let (pdf, _) = build_batch();
    let out = run_text("qpdf", &["--check", write("qpdf", &pdf).to_str().unwrap()]);
    assert!(out.contains("No syntax or stream encoding errors found"), "{out}");
}

#[test]
fn the_page_count_is_cover_letters_and_blank_backs() {
    let (pdf, manifest) = build_batch();
    let info = run_text("pdfinfo", &[write("pages", &pdf).to_str().unwrap()]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no page count in {info}"));
    let letter_pages: usize = manifest.letters.iter().map(|e| e.pages).sum();
    let blanks = manifest.letters.iter().filter(|e| e.pages % 2 == 1).count();
    assert_eq!(pages, 2 + letter_pages + blanks);
    assert_eq!(manifest.pages, pages);
    assert_eq!(manifest.sheets * 2, pages);
    // The test batch has letters of one, two and three pages.
    let mut sizes: Vec<usize> = manifest.letters.iter().map(|e| e.pages).collect();
    sizes.sort_unstable();
    sizes.dedup();
    assert_eq!(sizes, [1, 2, 3], "{manifest:?}");
}

#[test]
fn each_letter_starts_on_its_manifest_page_and_odd_letters_end_with_a_blank_back() {
    let (pdf, manifest) = build_batch();
    let path = write("manifest", &pdf);
    let mut letters = letters().into_iter();
    for entry in &manifest.letters {
        let first = without_whitespace(&page_text(&path, entry.first_page));
        let expected = match entry.letter_id.as_str() {
            "L-FOREIGN" => sample_letter::RECIPIENT.to_string(),
            "L-LAST" => batch_letters::letter(999, 0).recipient.name,
            _ => letters.next().unwrap().recipient.name,
        };
        assert!(
            first.contains(&without_whitespace(&expected)),
            "page {} lacks {expected:?}: {first}",
            entry.first_page
        );
        assert_eq!(entry.first_page % 2, 1, "every letter starts on the front of a sheet: {entry:?}");
        assert_eq!(entry.sheets, entry.pages.div_ceil(2));
        if entry.pages % 2 == 1 {
            let back = page_text(&path, entry.first_page + entry.pages);
            assert!(back.trim().is_empty(), "the back after {} is not blank: {back}", entry.letter_id);
        }
    }
    let orders: Vec<usize> = manifest.letters.iter().map(|e| e.envelope_order).collect();
    assert_eq!(orders, (1..=manifest.letters.len()).collect::<Vec<_>>());
}

#[test]
fn a_broken_agency_pdf_is_skipped_and_reported_and_the_batch_goes_on() {
    let (pdf, manifest) = build_batch();
    assert_eq!(manifest.skipped.len(), 1, "{manifest:?}");
    assert_eq!(manifest.skipped[0].letter_id, "L-BROKEN");
    assert!(manifest.skipped[0].reason.contains("PDF"), "{:?}", manifest.skipped[0]);
    let ids: Vec<&str> = manifest.letters.iter().map(|e| e.letter_id.as_str()).collect();
    assert!(!ids.contains(&"L-BROKEN"));
    assert_eq!(ids.last(), Some(&"L-LAST"));
    // The letter after the broken one starts right after the agency's PDF and its back.
    let foreign = &manifest.letters[ids.len() - 2];
    let last = &manifest.letters[ids.len() - 1];
    assert_eq!(last.first_page, foreign.first_page + foreign.sheets * 2);
    let out = run_text("qpdf", &["--check", write("skipped", &pdf).to_str().unwrap()]);
    assert!(out.contains("No syntax or stream encoding errors found"), "{out}");
}

#[test]
fn a_failed_pdf_inside_a_letter_leaves_nothing_behind() {
    let mut batch = BatchWriter::new(Vec::new(), info()).unwrap();
    let letter = batch_letters::letter(1, 0);
    let (doc, _) = lay_out_letter(&letter, &batch_letters::sender(), &batch_letters::options()).unwrap();
    {
        let mut pages = batch.begin_letter(batch_letter(0, &letter));
        assert_eq!(pages.append_document(&doc).unwrap(), 1);
        assert!(pages.append_pdf_pages(b"%PDF-1.7 not really").is_err());
        assert_eq!(pages.page_count(), 1, "the failed PDF added no page");
        // Dropped without commit: the letter is not in the batch.
    }
    let entry = batch.append_document(batch_letter(1, &letter), &doc).unwrap();
    assert_eq!(entry.first_page, 3);
    let (pdf, manifest) = batch.finish().unwrap();
    assert_eq!(manifest.letters.len(), 1);
    assert_eq!(manifest.pages, 4);
    let out = run_text("qpdf", &["--check", write("dropped", &pdf).to_str().unwrap()]);
    assert!(out.contains("No syntax or stream encoding errors found"), "{out}");
}

#[test]
fn the_same_letters_give_the_same_bytes() {
    let (a, _) = build_batch();
    let (b, _) = build_batch();
    assert!(a == b, "two runs differ");
    let trailer = String::from_utf8_lossy(&a[a.len() - 300..]).into_owned();
    assert!(trailer.contains("/ID[<"), "{trailer}");
}

/// Forty letters laid out and typeset on `threads` threads and written in their order, as
/// the batch benchmark renders: `None` appends each document on the writer's thread instead.
fn typeset_on(threads: Option<usize>) -> Vec<u8> {
    let letters: Vec<NewLetter> = (0..40).map(|i| batch_letters::letter(i * 7, PARAGRAPHS[i % 5])).collect();
    let lay_out = |letter: &NewLetter| lay_out_letter(letter, &batch_letters::sender(), &batch_letters::options());
    let mut batch = BatchWriter::new(Vec::new(), info()).unwrap();
    let Some(threads) = threads else {
        for (i, letter) in letters.iter().enumerate() {
            batch.append_document(batch_letter(i, letter), &lay_out(letter).unwrap().0).unwrap();
        }
        return batch.finish().unwrap().0;
    };
    let level = batch.compression();
    let all = hybridpost_ordered::map_in_order(
        letters.iter().enumerate(),
        hybridpost_ordered::Bounds { threads, in_flight: 2 * threads + 2 },
        |(i, letter)| (batch_letter(i, letter), BatchWriter::<Vec<u8>>::prepare(&lay_out(letter).unwrap().0, level)),
        |(letter, prepared)| {
            let mut pages = batch.begin_letter(letter);
            pages.append_prepared(&prepared).unwrap();
            pages.commit().unwrap();
            std::ops::ControlFlow::Continue(())
        },
    );
    assert!(all, "every letter written");
    batch.finish().unwrap().0
}

#[test]
fn letters_typeset_on_one_or_two_threads_give_the_same_bytes() {
    let direct = typeset_on(None);
    let one = typeset_on(Some(1));
    let two = typeset_on(Some(2));
    let two_again = typeset_on(Some(2));
    assert!(direct.len() > 40_000, "a batch of forty letters: {} bytes", direct.len());
    assert!(one == direct, "typeset ahead on one thread differs from appended directly");
    assert!(two == one, "two threads differ from one");
    assert!(two_again == two, "two runs on two threads differ");
}

#[test]
fn pdffonts_shows_the_faces_embedded_once() {
    let (pdf, _) = build_batch();
    let report = run_text("pdffonts", &[write("fonts", &pdf).to_str().unwrap()]);
    let fonts: Vec<Vec<&str>> = report.lines().skip(2).map(|l| l.split_whitespace().collect()).collect();
    // name, type (2 words), encoding, emb, sub, uni, object id (2 words)
    let ours: Vec<&Vec<&str>> = fonts.iter().filter(|f| f[0] == "Laksaman" || f[0] == "Laksaman-Bold").collect();
    assert_eq!(ours.len(), 2, "each face once, whole:\n{report}");
    for font in ours {
        assert_eq!(&font[1..4], ["CID", "TrueType", "Identity-H"], "{report}");
        assert_eq!(&font[4..7], ["yes", "no", "yes"], "emb, sub and uni:\n{report}");
    }
    // The agency's PDF keeps its own (subset) fonts.
    assert!(fonts.iter().any(|f| f[0].ends_with("+Laksaman") && f[4] == "yes"), "{report}");
}

#[test]
fn pdftotext_gives_back_the_thai_source_text() {
    let (pdf, _) = build_batch();
    let path = write("text", &pdf);
    let text = run_text("pdftotext", &["-enc", "UTF-8", path.to_str().unwrap(), "-"]);
    let flat = without_whitespace(&text);
    let letter = batch_letters::letter(0, 0);
    // Official letters are printed in Thai digits throughout.
    let thai = |text: &str| hybridpost_thai::digits_for_print(text, true);
    for part in letter.body.clone().unwrap().iter().chain([&letter.subject, &letter.reference]) {
        assert!(flat.contains(&without_whitespace(&thai(part))), "pdftotext lost {part:?}");
    }
    assert!(flat.contains(&without_whitespace(&thai(batch_letters::LONG_PARAGRAPH))));
    assert!(text.lines().any(|l| l.trim() == "ผู้อำนวยการเขตพญาไท"), "{text}");
}

#[test]
fn the_cover_sheet_lists_the_batch_in_thai_and_english() {
    let (pdf, manifest) = build_batch();
    let path = write("cover", &pdf);
    let cover = page_text(&path, 1);
    let flat = without_whitespace(&cover);
    for part in [
        "ใบปะหน้างานพิมพ์",
        "Print job cover sheet",
        "B-2026-11-22-0001",
        "ศูนย์ไปรษณีย์หลักสี่ 10210",
        "22 พ.ย. 2569 08:00",
        "จำนวนจดหมาย",
        "Letters",
        &format!("Sheets (duplex){}", manifest.sheets),
        &format!("Pages{}", manifest.pages),
        &format!("{} – {}", manifest.postcode_range().unwrap().0, manifest.postcode_range().unwrap().1),
    ] {
        assert!(flat.contains(&without_whitespace(part)), "the cover lacks {part:?}:\n{cover}");
    }
    assert!(page_text(&path, 2).trim().is_empty(), "the cover has a blank back");
}

#[test]
fn the_manifest_is_csv_and_json() {
    let (_, manifest) = build_batch();
    let csv = manifest.to_csv();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("letter_id,first_page,pages,sheets,postcode,envelope_order,urgency"));
    let first = &manifest.letters[0];
    assert_eq!(lines.next(), Some(format!("L-0000,3,{},{},{},1,", first.pages, first.sheets, first.postcode).as_str()));
    assert_eq!(csv.lines().count(), 1 + manifest.letters.len());
    let json: serde_json::Value = serde_json::from_str(&manifest.to_json()).unwrap();
    assert_eq!(json["batch_id"], "B-2026-11-22-0001");
    assert_eq!(json["letters"][0]["first_page"], 3);
    assert_eq!(json["letters"].as_array().unwrap().len(), manifest.letters.len());
    assert_eq!(json["skipped"][0]["letter_id"], "L-BROKEN");
}

/// Rasterises page `page` of `pdf` as 8-bit grey at 100 dpi; returns width, height and
/// pixels.
fn raster(name: &str, pdf: &[u8], page: usize) -> (usize, usize, Vec<u8>) {
    let path = write(name, pdf);
    let page = page.to_string();
    let pgm = run("pdftoppm", &["-r", "100", "-gray", "-f", &page, "-l", &page, path.to_str().unwrap()]);
    raster::parse_pgm(&pgm)
}

#[test]
fn letter_pages_in_a_batch_look_exactly_like_the_single_letter_pdf() {
    let (pdf, manifest) = build_batch();
    let letters = letters();
    // The first letter of one page, and every page of the three-page letter.
    let three = manifest.letters.iter().position(|e| e.pages == 3).unwrap();
    for index in [0, three] {
        let entry = &manifest.letters[index];
        let single = render_letter(&letters[index], &batch_letters::sender(), &batch_letters::options()).unwrap();
        assert_eq!(single.pages, entry.pages);
        for page in 0..entry.pages {
            let (w1, h1, batch_pixels) = raster(&format!("raster-batch-{index}"), &pdf, entry.first_page + page);
            let (w2, h2, single_pixels) = raster(&format!("raster-single-{index}"), &single.pdf, page + 1);
            assert_eq!((w1, h1), (w2, h2));
            let differing = batch_pixels.iter().zip(&single_pixels).filter(|(a, b)| a.abs_diff(**b) > 8).count();
            assert_eq!(differing, 0, "page {} of {} differs in {differing} pixels", page + 1, entry.letter_id);
            assert!(batch_pixels.iter().any(|&p| p < 128), "the page is not blank");
        }
    }
}

/// The link annotations of every page of `pdf`: (page number, URI, rectangle).
fn links(pdf: &[u8]) -> Vec<(u32, String, Vec<f32>)> {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let mut found = Vec::new();
    for (number, id) in doc.get_pages() {
        let page = doc.get_dictionary(id).unwrap();
        let Ok(annots) = page.get(b"Annots") else { continue };
        let annots = doc.dereference(annots).unwrap().1.as_array().unwrap();
        for annot in annots {
            let annot = doc.dereference(annot).unwrap().1.as_dict().unwrap();
            assert_eq!(annot.get(b"Subtype").unwrap().as_name().unwrap(), b"Link");
            let action = doc.dereference(annot.get(b"A").unwrap()).unwrap().1.as_dict().unwrap();
            let uri = String::from_utf8(action.get(b"URI").unwrap().as_str().unwrap().to_vec()).unwrap();
            let rect = annot.get(b"Rect").unwrap().as_array().unwrap().iter().map(|o| o.as_float().unwrap()).collect();
            found.push((number, uri, rect));
        }
    }
    found
}

#[test]
fn links_reach_the_single_pdf_and_the_batch() {
    let uri = "https://verify.hybridpost.example/v#HC1:ABC";
    let mut doc = Document::new(PageSize::A4);
    let page = doc.add_page();
    doc.place_paragraph(page, &Paragraph::new().text("ตรวจสอบ"), Area::new(30.0, 30.0, 100.0, 20.0)).unwrap();
    doc.add_link(page, Area::new(132.5, 60.0, 35.0, 35.0), uri).unwrap();
    assert!(doc.add_link(page, Area::new(200.0, 60.0, 35.0, 35.0), uri).is_err(), "off the page");

    let single = links(&doc.to_pdf().unwrap());
    let mut batch = BatchWriter::new(Vec::new(), info()).unwrap();
    batch
        .append_document(
            BatchLetter { letter_id: "L-1".to_string(), postcode: "10400".to_string(), urgency: None },
            &doc,
        )
        .unwrap();
    let (pdf, _) = batch.finish().unwrap();
    let in_batch = links(&pdf);
    assert_eq!(single.len(), 1);
    assert_eq!(in_batch.len(), 1);
    let (_, single_uri, single_rect) = &single[0];
    let (number, batch_uri, batch_rect) = &in_batch[0];
    assert_eq!((single_uri.as_str(), batch_uri.as_str(), *number), (uri, uri, 3));
    assert_eq!(single_rect, batch_rect);
    // 35 mm square, 60 mm from the top of the page.
    assert!((single_rect[2] - single_rect[0] - 99.21).abs() < 0.01, "{single_rect:?}");
    assert!((single_rect[3] - (841.89 - 60.0 * 72.0 / 25.4)).abs() < 0.01, "{single_rect:?}");
}

#[test]
fn documents_in_other_fonts_are_refused() {
    let regular = include_bytes!("../../../templates/fonts/Laksaman.ttf");
    let bold = include_bytes!("../../../templates/fonts/Laksaman-Bold.ttf");
    let fonts = hybridpost_render::Fonts::from_bytes(regular, bold).unwrap();
    let mut doc = Document::with_fonts(&fonts, PageSize::A4);
    doc.add_page();
    let mut batch = BatchWriter::new(Vec::new(), info()).unwrap();
    let err = batch
        .append_document(
            BatchLetter { letter_id: "L-1".to_string(), postcode: "10400".to_string(), urgency: None },
            &doc,
        )
        .unwrap_err();
    assert!(matches!(err, RenderError::OtherFonts), "{err}");
    assert_eq!(batch.manifest().skipped.len(), 1);
}

/// Text that shaping rearranges: sara am after tone marks, stacked marks, ฤๅ, ฯ, ๆ, ญ and ฐ
/// over lower vowels, digits, Latin.
const HARD_THAI: [&str; 3] = [
    "น้ำท่วมหนักในตำบลบางน้ำเปรี้ยว กำนันทำหนังสือถึงอำเภอเมื่อค่ำวันที่ 5 ฯพณฯ รัฐมนตรีเดินทางมาดูแล",
    "ฤๅษีกตัญญูต่อครูบาอาจารย์ ปั้นรูปปั้นที่กรุงเทพฯ ทุกๆ ปี บ้านเลขที่ 12/3 ผู้ใหญ่ฐุ้ยให้ข้าวน้ำ",
    "Office hours 8.30-16.30, ญาติพี่น้องต่างๆ ร่วมทำบุญที่วัดเก่าแก่ ๒๕๖๙ ที่ค่ำ ๆ น้ำใส",
];

/// The text of `pdf` as `tool` extracts it: `pdftotext`, `mutool` (MuPDF) or `pdfjs` (pdf.js,
/// through `tests/js/pdfjs_text.mjs` and Node; `ops/test.sh` installs `pdfjs-dist` in
/// `ops/.node`).
fn extracted(tool: &str, pdf: &Path) -> String {
    let pdf = pdf.to_str().unwrap();
    match tool {
        "pdftotext" => run_text("pdftotext", &["-enc", "UTF-8", pdf, "-"]),
        "mutool" => run_text("mutool", &["draw", "-q", "-F", "txt", "-o", "-", pdf]),
        _ => {
            let node = std::env::var("HYBRIDPOST_TEST_NODE").unwrap_or_else(|_| "node".into());
            let modules = std::env::var("HYBRIDPOST_TEST_PDFJS")
                .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../ops/.node/node_modules").to_string());
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/pdfjs_text.mjs");
            let out = Command::new(&node)
                .args([script, &modules, pdf])
                .output()
                .unwrap_or_else(|e| panic!("cannot run {node} (pdf.js; ops/test.sh installs it): {e}"));
            assert!(out.status.success(), "pdf.js failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        }
    }
}

#[test]
fn pdftotext_mupdf_and_pdfjs_all_read_back_the_thai_source_in_a_letter_and_in_a_batch() {
    let mut letter = batch_letters::letter(0, 0);
    letter.subject = "แจ้งเรื่องน้ำประปาและค่ำคืนฯ".into();
    letter.body = Some(HARD_THAI.iter().map(|p| p.to_string()).collect());
    let (doc, _) = lay_out_letter(&letter, &batch_letters::sender(), &batch_letters::options()).unwrap();
    let single = write("hard-thai-letter", &doc.to_pdf().unwrap());
    let mut batch = BatchWriter::new(Vec::new(), info()).unwrap();
    for i in 0..3 {
        batch.append_document(batch_letter(i, &letter), &doc).unwrap();
    }
    let (pdf, _) = batch.finish().unwrap();
    let batched = write("hard-thai-batch", &pdf);
    // An official letter prints its digits in Thai.
    let source: Vec<String> = HARD_THAI
        .iter()
        .chain([&"แจ้งเรื่องน้ำประปาและค่ำคืนฯ"])
        .map(|p| without_whitespace(&hybridpost_thai::digits_for_print(p, true)))
        .collect();
    for tool in ["pdftotext", "mutool", "pdfjs"] {
        for pdf in [&single, &batched] {
            let text = without_whitespace(&extracted(tool, pdf));
            for part in &source {
                assert!(text.contains(part.as_str()), "{tool} on {}: {part:?} not in\n{text}", pdf.display());
            }
            let letters = text.matches(source[0].as_str()).count();
            assert_eq!(letters, if pdf == &batched { 3 } else { 1 }, "{tool}: every letter of the batch");
        }
    }
}
