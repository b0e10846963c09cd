//! Checks the sample letter with the PDF tools a print room and a reader would use:
//! poppler's `pdftotext` and `pdffonts`, and `qpdf`. The tools must be installed
//! (`apt-get install poppler-utils qpdf`); a missing tool fails the test.

use std::path::PathBuf;
use std::process::Command;

use hybridpost_render::{Document, PageSize};
use time::Date;
use time::macros::date;

#[path = "support/sample_letter.rs"]
mod sample_letter;

const LETTER_DATE: Date = date!(2026 - 11 - 22);

/// Renders the sample letter into a PDF file of its own and returns its path.
fn sample_pdf(name: &str) -> PathBuf {
    let mut doc = Document::new(PageSize::A4);
    doc.set_title("หนังสือแจ้งการจัดส่งเอกสารทางไปรษณีย์");
    sample_letter::compose(&mut doc, LETTER_DATE).expect("the sample letter lays out");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.pdf"));
    std::fs::write(&path, doc.to_pdf().expect("the sample letter renders")).expect("the temp dir is writable");
    path
}

/// Runs `tool` and returns its standard output; fails if it is missing or fails.
fn run(tool: &str, args: &[&str], path: &PathBuf) -> String {
    let output = Command::new(tool)
        .args(args)
        .arg(path)
        .args(if tool == "pdftotext" { &["-"][..] } else { &[][..] })
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install poppler-utils qpdf): {e}"));
    assert!(
        output.status.success(),
        "{tool} failed with {}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the tools print UTF-8")
}

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn pdftotext_gives_back_the_thai_source_text_exactly() {
    let extracted = run("pdftotext", &["-enc", "UTF-8"], &sample_pdf("pdftotext"));
    // Lines break between Thai words without a space, so whitespace is compared only
    // up to line breaks: every character must come back, in order.
    let flat = without_whitespace(&extracted);
    for source in sample_letter::source_texts(LETTER_DATE) {
        assert!(
            flat.contains(&without_whitespace(&source)),
            "pdftotext lost or changed {source:?}\n--- extracted ---\n{extracted}"
        );
    }
    // Single lines keep their spaces too.
    let lines: Vec<String> = extracted.lines().map(collapse_whitespace).collect();
    for line in [
        "หนังสือแจ้งการจัดส่งเอกสารทางไปรษณีย์",
        "22 พฤศจิกายน 2569",
        "เรื่อง แจ้งกำหนดการจัดส่งเอกสาร (๒๒ พ.ย. ๖๙)",
        "เรียน นายสมชาย ใจดี ผู้ใหญ่บ้าน",
        "เขตบางรัก กรุงเทพฯ 10500",
        "กรุงเทพมหานคร 10400",
    ] {
        assert!(lines.iter().any(|l| l == line), "no line {line:?} in\n{extracted}");
    }
    assert!(collapse_whitespace(&extracted).contains("ตามที่ ปู่ ป่า ฝั่ง น้ำ ทั้ง ผู้ใหญ่บ้าน"), "{extracted}");
}

#[test]
fn qpdf_finds_no_structural_errors() {
    let report = run("qpdf", &["--check"], &sample_pdf("qpdf"));
    assert!(report.contains("No syntax or stream encoding errors found"), "{report}");
}

#[test]
fn pdffonts_shows_both_faces_embedded_as_subsets() {
    let report = run("pdffonts", &[], &sample_pdf("pdffonts"));
    let fonts: Vec<&str> = report.lines().skip(2).collect();
    assert_eq!(fonts.len(), 2, "{report}");
    for font in fonts {
        let columns: Vec<&str> = font.split_whitespace().collect();
        // name, type (2 words), encoding, emb, sub, uni, object id (2 words)
        assert_eq!(columns.len(), 9, "{font}");
        let (tag, _) = columns[0].split_once('+').expect("a subset tag");
        assert!(tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()), "{font}");
        assert_eq!(&columns[1..4], ["CID", "TrueType", "Identity-H"]);
        assert_eq!(&columns[4..7], ["yes", "yes", "yes"], "emb, sub and uni in {font}");
    }
    assert!(report.contains("+Laksaman "), "{report}");
    assert!(report.contains("+Laksaman-Bold "), "{report}");
}

#[test]
fn every_word_lies_inside_the_page() {
    let boxes = run("pdftotext", &["-bbox"], &sample_pdf("bbox"));
    let number = |attribute: &str, line: &str| -> f32 {
        let start = line.find(&format!("{attribute}=\"")).expect("attribute present") + attribute.len() + 2;
        let end = start + line[start..].find('"').expect("closing quote");
        line[start..end].parse().expect("a number")
    };
    let page = boxes.lines().find(|l| l.contains("<page ")).expect("a page element");
    let (width, height) = (number("width", page), number("height", page));
    let words: Vec<&str> = boxes.lines().filter(|l| l.contains("<word ")).collect();
    // Each line is one "word": its /ActualText is extracted as a whole.
    assert!(words.len() > 20, "{boxes}");
    for word in words {
        let (x0, y0, x1, y1) = (number("xMin", word), number("yMin", word), number("xMax", word), number("yMax", word));
        assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= width && y1 <= height, "word outside the page: {word}");
    }
}

#[test]
fn rendering_twice_gives_identical_files() {
    let a = std::fs::read(sample_pdf("twice-a")).expect("readable");
    let b = std::fs::read(sample_pdf("twice-b")).expect("readable");
    assert_eq!(a, b);
}
