//! The official external letter as a print room and a reader see it: checked with
//! `qpdf`, poppler's `pdftotext` and `pdffonts` (`apt-get install poppler-utils qpdf`; a
//! missing tool fails the test).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::path::PathBuf;
use std::process::Command;

use hybridpost_core::NewLetter;
use hybridpost_render::{LetterOptions, RenderedLetter, Sender, render_letter};
use time::macros::date;

const FIXTURE: &str = include_str!("../../../fixtures/letters/official.json");

/// Millimetres per PDF point.
const MM_PER_PT: f32 = 25.4 / 72.0;
/// The unprintable margin of office and print-room printers.
const EDGE: f32 = 5.0;

fn fixture() -> NewLetter {
    serde_json::from_str(FIXTURE).unwrap()
}

fn sender() -> Sender {
    Sender {
        agency_name: "สำนักงานเขตพญาไท".to_string(),
        agency_address_lines: vec!["๑๒ ถนนพหลโยธิน".to_string(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".to_string()],
    }
}

fn options() -> LetterOptions {
    LetterOptions {
        issue_date: date!(2026 - 11 - 22),
        verification_host: "verify.hybridpost.example".to_string(),
        pin: Some("482913".to_string()),
    }
}

fn render(letter: &NewLetter) -> RenderedLetter {
    letter.check(date!(2026 - 11 - 22)).expect("the letter passes its checks");
    render_letter(letter, &sender(), &options()).unwrap()
}

/// Writes `pdf` to a file of its own and returns its path.
fn write(name: &str, pdf: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("letter-{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    path
}

/// Runs `tool` with `args` and returns its standard output; fails if it fails.
fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install poppler-utils qpdf): {e}"));
    assert!(
        output.status.success(),
        "{tool} failed with {}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn text_of(path: &std::path::Path, pages: Option<(usize, usize)>) -> String {
    let mut args = vec!["-enc".to_string(), "UTF-8".to_string()];
    if let Some((first, last)) = pages {
        args.extend(["-f".to_string(), first.to_string(), "-l".to_string(), last.to_string()]);
    }
    args.push(path.to_str().unwrap().to_string());
    args.push("-".to_string());
    run("pdftotext", &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A word as `pdftotext -bbox` gives it, with its box in mm from the page's top-left.
#[derive(Debug)]
struct Word {
    page: usize,
    text: String,
    x_min: f32,
    y_min: f32,
    x_max: f32,
    y_max: f32,
}

/// The value of `name="…"` in an XHTML start tag.
fn attribute(tag: &str, name: &str) -> f32 {
    let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap()
}

/// Every word of the PDF with its page (1-based) and bounding box, and the page sizes in mm.
fn words(path: &std::path::Path) -> (Vec<Word>, Vec<(f32, f32)>) {
    let html = run("pdftotext", &["-bbox", "-enc", "UTF-8", path.to_str().unwrap(), "-"]);
    let mut words = Vec::new();
    let mut pages = Vec::new();
    for line in html.lines().map(str::trim) {
        if line.starts_with("<page ") {
            pages.push((attribute(line, "width") * MM_PER_PT, attribute(line, "height") * MM_PER_PT));
        } else if let Some(rest) = line.strip_prefix("<word ") {
            let close = rest.find('>').unwrap();
            let text = rest[close + 1..].trim_end_matches("</word>").to_string();
            words.push(Word {
                page: pages.len(),
                text,
                x_min: attribute(rest, "xMin") * MM_PER_PT,
                y_min: attribute(rest, "yMin") * MM_PER_PT,
                x_max: attribute(rest, "xMax") * MM_PER_PT,
                y_max: attribute(rest, "yMax") * MM_PER_PT,
            });
        }
    }
    (words, pages)
}

/// The run of consecutive words on page 1 that spells `line` (spaces ignored).
fn words_of<'w>(words: &'w [Word], line: &str) -> &'w [Word] {
    let target = without_whitespace(line);
    for start in 0..words.len() {
        let mut spelled = String::new();
        for end in start..words.len() {
            spelled.push_str(&without_whitespace(&words[end].text));
            if spelled == target && words[start].page == 1 {
                return &words[start..=end];
            }
            if !target.starts_with(&spelled) {
                break;
            }
        }
    }
    panic!("no run of words spells {line:?} in {:?}", words.iter().map(|w| &w.text).collect::<Vec<_>>())
}

#[test]
fn qpdf_finds_no_problem() {
    let letter = render(&fixture());
    assert_eq!(letter.pages, 1);
    let path = write("qpdf", &letter.pdf);
    let out = run("qpdf", &["--check", path.to_str().unwrap()]);
    assert!(out.contains("No syntax or stream encoding errors found"), "{out}");
}

#[test]
fn pdftotext_finds_every_part_of_the_letter() {
    let fixture = fixture();
    let letter = render(&fixture);
    let text = text_of(&write("text", &letter.pdf), None);
    let flat = without_whitespace(&text);
    let mut expected = vec![
        fixture.reference.clone(),
        fixture.subject.clone(),
        fixture.recipient.name.clone(),
        "๒๒ พฤศจิกายน ๒๕๖๙".to_string(),
        "(นางสาวสมศรี รักงาน)".to_string(),
        "ผู้อำนวยการเขตพญาไท".to_string(),
        "ขอแสดงความนับถือ".to_string(),
        "ฝ่ายทะเบียน โทร. 0 2279 0000".to_string(),
        "verify.hybridpost.example".to_string(),
        "รหัสเปิดอ่านฉบับดิจิทัล: 482913".to_string(),
        "อ้างถึง คำขอของท่าน ลงวันที่ 1 ตุลาคม 2569".to_string(),
    ];
    expected.extend(fixture.recipient.address.lines());
    expected.extend(fixture.body.clone().unwrap());
    for part in expected {
        assert!(flat.contains(&without_whitespace(&part)), "pdftotext lost {part:?}\n--- extracted ---\n{text}");
    }
}

#[test]
fn the_address_block_lies_inside_the_envelope_window() {
    let fixture = fixture();
    let letter = render(&fixture);
    let window = letter.address_window;
    let (words, _) = words(&write("bbox", &letter.pdf));
    let mut lines = vec![fixture.recipient.name.clone()];
    lines.extend(fixture.recipient.address.lines());
    for line in &lines {
        for word in words_of(&words, line) {
            assert!(
                word.x_min >= window.x.0
                    && word.x_max <= window.x.0 + window.width.0
                    && word.y_min >= window.y.0
                    && word.y_max <= window.y.0 + window.height.0,
                "{word:?} of {line:?} is outside the window {window:?}"
            );
        }
    }
    // Nothing else shows through the window.
    let address: String = lines.iter().map(|l| without_whitespace(l)).collect();
    for word in words.iter().filter(|w| w.page == 1) {
        let overlaps = word.x_max > window.x.0
            && word.x_min < window.x.0 + window.width.0
            && word.y_max > window.y.0
            && word.y_min < window.y.0 + window.height.0;
        assert!(!overlaps || address.contains(&without_whitespace(&word.text)), "{word:?} shows in the window");
    }
}

#[test]
fn no_word_is_within_5_mm_of_a_page_edge() {
    let mut long = fixture();
    long.body = Some(vec![LONG_PARAGRAPH.to_string(); 30]);
    for (name, letter) in [("edges", fixture()), ("edges-long", long)] {
        let (words, pages) = words(&write(name, &render(&letter).pdf));
        assert!(!words.is_empty());
        for word in &words {
            let (width, height) = pages[word.page - 1];
            assert!(
                word.x_min >= EDGE && word.y_min >= EDGE && word.x_max <= width - EDGE && word.y_max <= height - EDGE,
                "{word:?} is within {EDGE} mm of the edge of the {width} × {height} mm page"
            );
        }
    }
}

#[test]
fn fonts_are_embedded_and_subset() {
    let path = write("fonts", &render(&fixture()).pdf);
    let out = run("pdffonts", &[path.to_str().unwrap()]);
    let fonts: Vec<&str> = out.lines().skip(2).collect();
    assert!(!fonts.is_empty(), "{out}");
    for font in fonts {
        let columns: Vec<&str> = font.split_whitespace().collect();
        // name type… encoding emb sub uni object-id generation
        let n = columns.len();
        assert_eq!((columns[n - 5], columns[n - 4]), ("yes", "yes"), "not embedded and subset: {font}");
        assert!(columns[0].contains('+'), "a subset font's name carries a tag: {font}");
    }
}

const LONG_PARAGRAPH: &str = "สำนักงานเขตได้พิจารณาคำขอของท่านตามหลักเกณฑ์และเงื่อนไขที่กำหนดไว้ในระเบียบที่เกี่ยวข้อง \
     โดยได้ตรวจสอบเอกสารหลักฐานประกอบคำขอครบถ้วนแล้ว เห็นว่าเป็นไปตามหลักเกณฑ์ จึงแจ้งให้ท่านทราบและดำเนินการต่อไป";

#[test]
fn a_long_letter_continues_on_numbered_pages() {
    let mut letter = fixture();
    letter.body = Some(vec![LONG_PARAGRAPH.to_string(); 30]);
    let rendered = render(&letter);
    assert!(rendered.pages >= 2, "{} pages", rendered.pages);
    let path = write("long", &rendered.pdf);
    let (words, pages) = words(&path);
    let number = words.iter().find(|w| w.page == 2 && w.text == "- ๒ -").expect("page 2 carries its number");
    // Centred at the top of the page, above the text.
    let (width, _) = pages[1];
    assert!(((number.x_min + number.x_max) / 2.0 - width / 2.0).abs() < 1.0, "{number:?}");
    assert!(words.iter().filter(|w| w.page == 2).all(|w| w.y_min >= number.y_min), "{number:?}");
    assert!(!words.iter().any(|w| w.page == 1 && w.text.contains("- ๑ -")), "page 1 is not numbered");
    let all: String = words
        .iter()
        .filter(|w| !(w.text.starts_with("- ") && w.text.ends_with(" -")))
        .map(|w| without_whitespace(&w.text))
        .collect();
    assert_eq!(all.matches(&without_whitespace(LONG_PARAGRAPH)).count(), 30, "every paragraph, whole");
}

#[test]
fn the_same_letter_gives_the_same_bytes() {
    assert_eq!(render(&fixture()).pdf, render(&fixture()).pdf);
}

#[test]
fn a_letter_without_body_is_refused() {
    let mut letter = fixture();
    letter.body = None;
    let err = render_letter(&letter, &sender(), &options()).unwrap_err();
    assert!(matches!(err, hybridpost_render::RenderError::NoBody), "{err}");
}
