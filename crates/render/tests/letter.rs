//! The official external letter as a print room and a reader see it: checked with
//! `qpdf`, poppler's `pdftotext` and `pdffonts` (`apt-get install poppler-utils qpdf`; a
//! missing tool fails the test).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hybridpost_core::{Language, LetterLayout, NewLetter};
use hybridpost_render::{
    DL_FOLD, LetterOptions, LetterTemplates, REPLY_CODE_AREAS, REPLY_CODE_MAX_MODULE, REPLY_CODE_MIN_MODULE,
    REPLY_CODE_SIZE, RenderError, RenderedLetter, Sender, render_letter, render_letter_with,
};
use hybridpost_seal::{ReplyCode, ReplyCodeError};
use time::macros::date;

#[path = "support/codes.rs"]
mod codes;
#[path = "support/raster.rs"]
mod raster;

const FIXTURE: &str = include_str!("../../../fixtures/letters/official.json");

/// Millimetres per PDF point.
const MM_PER_PT: f32 = 25.4 / 72.0;
/// The unprintable margin of office and print-room printers.
const EDGE: f32 = 5.0;

/// `text` in Thai digits, as an official letter prints it.
fn thai(text: &str) -> String {
    hybridpost_thai::digits_for_print(text, true)
}

fn fixture() -> NewLetter {
    serde_json::from_str(FIXTURE).unwrap()
}

fn sender() -> Sender {
    Sender {
        agency_name: "สำนักงานเขตพญาไท".to_string(),
        agency_address_lines: vec!["๑๒ ถนนพหลโยธิน".to_string(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".to_string()],
    }
}

/// The seal's QR text, made once per test run (the signing key is generated afresh).
fn seal_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(codes::seal_text)
}

fn options_with_reply_pages(pages: u8) -> LetterOptions {
    LetterOptions {
        emblem: None,
        issue_date: date!(2026 - 11 - 22),
        verification_host: "verify.hybridpost.example".to_string(),
        pin: Some("482913".to_string()),
        seal: Some(codes::seal_modules(seal_text())),
        reply: Some(codes::reply_sheet(pages, date!(2027 - 01 - 31))),
        seal_url: None,
    }
}

fn options() -> LetterOptions {
    options_with_reply_pages(1)
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
    let mut long = fixture();
    long.body = Some(vec![LONG_PARAGRAPH.to_string(); 30]);
    let two_sheets = render_letter(&fixture(), &sender(), &options_with_reply_pages(2)).unwrap();
    for (name, letter) in [("qpdf", render(&fixture())), ("qpdf-long", render(&long)), ("qpdf-reply2", two_sheets)] {
        let path = write(name, &letter.pdf);
        let out = run("qpdf", &["--check", path.to_str().unwrap()]);
        assert!(out.contains("No syntax or stream encoding errors found"), "{name}: {out}");
    }
    let letter = render(&fixture());
    assert_eq!((letter.letter_pages, letter.pages), (1, 2));
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
        // An official letter is printed in Thai digits throughout; the seal's host and PIN
        // under it keep theirs.
        let part = if part.starts_with("verify.") || part.contains("482913") { part } else { thai(&part) };
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
    lines.extend(fixture.recipient.address.lines().iter().map(|l| thai(l)));
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
        .filter(|w| w.page <= rendered.letter_pages)
        .filter(|w| !(w.text.starts_with("- ") && w.text.ends_with(" -")))
        .filter(|w| !(w.text.starts_with('/') && w.text.ends_with("...")))
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
    assert!(matches!(err, RenderError::NoBody), "{err}");
}

#[test]
fn a_letter_asking_for_a_reply_needs_its_reply_sheet() {
    let options = LetterOptions { reply: None, ..options() };
    let err = render_letter(&fixture(), &sender(), &options).unwrap_err();
    assert!(matches!(err, RenderError::ReplySheetMissing), "{err}");
    let mut no_reply = fixture();
    no_reply.reply = None;
    let rendered = render_letter(&no_reply, &sender(), &options).unwrap();
    assert_eq!((rendered.letter_pages, rendered.pages), (1, 1));
}

/// Rasterises page `page` (1-based) of `pdf` at `dpi` as grey PGM and returns its path.
fn rasterise(pdf: &Path, page: usize, dpi: u32, gray: bool) -> PathBuf {
    let stem = pdf.with_extension("").to_str().unwrap().to_string() + &format!("-p{page}-{dpi}");
    let (p, r) = (page.to_string(), dpi.to_string());
    let mut args = vec!["-r", &r, "-f", &p, "-l", &p, "-singlefile"];
    args.push(if gray { "-gray" } else { "-png" });
    args.extend([pdf.to_str().unwrap(), &stem]);
    run("pdftoppm", &args);
    PathBuf::from(stem + if gray { ".pgm" } else { ".png" })
}

/// Every symbol `zbarimg` (zbar-tools, a decoder independent of ours) reads on an image.
fn zbarimg(image: &Path) -> Vec<String> {
    let output = Command::new("zbarimg")
        .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(image)
        .output()
        .unwrap_or_else(|e| panic!("cannot run zbarimg (apt-get install zbar-tools): {e}"));
    let mut found: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect();
    found.sort();
    found
}

/// A greyscale PGM (P5) image: width, height and one byte per pixel.
fn read_pgm(path: &Path) -> (usize, usize, Vec<u8>) {
    raster::parse_pgm(&std::fs::read(path).unwrap())
}

/// The width in mm of the dark pixels inside `area` (mm) of a page rasterised at `dpi`.
fn dark_width_mm(pgm: &Path, area: hybridpost_render::Area, dpi: f32) -> f32 {
    let (width, _, pixels) = read_pgm(pgm);
    let px = |mm: f32| (mm / 25.4 * dpi).round() as usize;
    let (mut min_x, mut max_x) = (usize::MAX, 0);
    for y in px(area.y.0)..px(area.y.0 + area.height.0) {
        for x in px(area.x.0)..px(area.x.0 + area.width.0) {
            if pixels[y * width + x] < 128 {
                min_x = min_x.min(x);
                max_x = max_x.max(x);
            }
        }
    }
    assert!(min_x <= max_x, "nothing dark in {area:?}");
    (max_x + 1 - min_x) as f32 / dpi * 25.4
}

#[test]
fn zbarimg_reads_the_seal_on_page_1_at_200_dpi() {
    let rendered = render(&fixture());
    let module = rendered.seal_module.expect("a seal was drawn").0;
    let path = write("seal", &rendered.pdf);
    let png = rasterise(&path, 1, 200, false);
    assert_eq!(zbarimg(&png), [seal_text().to_string()], "page 1 holds exactly the seal");
    let symbol = codes::seal_modules(seal_text());
    println!(
        "seal: {} characters, QR version {} ({} modules), module {module:.3} mm in the {} mm square",
        seal_text().len(),
        symbol.version(),
        symbol.size(),
        rendered.seal_area.width.0
    );
    // ISO/IEC 18004 §6.3.8: four light modules around the symbol, inside the square.
    let printed = module * symbol.size() as f32;
    assert!((rendered.seal_area.width.0 - printed) / 2.0 >= 4.0 * module - 1e-3);
    let pgm = rasterise(&path, 1, 200, true);
    let measured = dark_width_mm(&pgm, rendered.seal_area, 200.0);
    assert!((measured - printed).abs() < 0.3, "seal printed {measured} mm wide, expected {printed}");
}

#[test]
fn zbarimg_reads_both_reply_codes_on_every_reply_page() {
    let rendered = render_letter(&fixture(), &sender(), &options_with_reply_pages(2)).unwrap();
    assert_eq!(rendered.pages, rendered.letter_pages + 2);
    let path = write("reply-codes", &rendered.pdf);
    let texts = codes::reply_texts(2);
    for (i, text) in texts.iter().enumerate() {
        let page = rendered.letter_pages + 1 + i;
        let found = zbarimg(&rasterise(&path, page, 200, false));
        assert_eq!(found, [text.clone(), text.clone()], "page {page} carries its reply code twice");
        let code = ReplyCode::parse(&found[0], &codes::reply_key()).unwrap();
        assert_eq!((code.page(), code.pages(), code.reference()), (i as u8 + 1, 2, &codes::reference()));
        let forged = hybridpost_seal::ReplyKey::from_bytes(&[9; 32]).unwrap();
        assert_eq!(ReplyCode::parse(&found[0], &forged), Err(ReplyCodeError::BadMac));
    }
}

#[test]
fn reply_code_modules_are_at_least_0_8_mm() {
    let rendered = render(&fixture());
    let sheet = codes::reply_sheet(1, date!(2027 - 01 - 31));
    let symbol = &sheet.pages[0];
    let module = (REPLY_CODE_SIZE.0 / symbol.size() as f32).min(REPLY_CODE_MAX_MODULE.0);
    let path = write("reply-module", &rendered.pdf);
    let pgm = rasterise(&path, rendered.letter_pages + 1, 200, true);
    for area in REPLY_CODE_AREAS {
        let printed = dark_width_mm(&pgm, area, 200.0);
        let measured = printed / symbol.size() as f32;
        println!(
            "reply code: QR version {} ({} modules) at level H, printed {printed:.2} mm wide: module {measured:.3} mm",
            symbol.version(),
            symbol.size()
        );
        assert!((measured - module).abs() < 0.02, "measured {measured}, drawn {module}");
        assert!(measured >= REPLY_CODE_MIN_MODULE.0, "module {measured} mm");
        // The quiet zone stays inside the area and the area inside the 5 mm margin.
        assert!(area.x.0 >= EDGE && area.y.0 >= EDGE && area.x.0 + area.width.0 <= 210.0 - EDGE);
        assert!(area.y.0 + area.height.0 <= 297.0 - EDGE);
    }
    assert_eq!(symbol.version(), 4);
}

#[test]
fn the_reply_sheet_says_what_to_do_and_by_when() {
    let fixture = fixture();
    let rendered = render(&fixture);
    let path = write("reply-text", &rendered.pdf);
    let letter = without_whitespace(&text_of(&path, Some((1, rendered.letter_pages))));
    assert!(letter.contains(&without_whitespace("กรุณาตอบกลับภายในวันที่ ๓๑ มกราคม ๒๕๗๐")), "{letter}");
    let sheet = text_of(&path, Some((rendered.letter_pages + 1, rendered.pages)));
    let flat = without_whitespace(&sheet);
    for part in [
        "แบบตอบกลับ แผ่นที่ ๑ จาก ๑",
        "กรุณาส่งคืนภายในวันที่ ๓๑ มกราคม ๒๕๗๐",
        &format!("ตอบหนังสือที่ {} เรื่อง {}", thai(&fixture.reference), fixture.subject),
        &format!("เลขอ้างอิงหนังสือ (สำหรับเจ้าหน้าที่) {}", codes::reference().to_digits()),
        "ห้ามเขียนหรือประทับตราทับรหัสสี่เหลี่ยมทั้งสองมุม",
        "รับทราบและยินยอมตามหนังสือ",
        "ข้อความตอบกลับ",
        "ลงชื่อ",
    ] {
        assert!(flat.contains(&without_whitespace(part)), "the reply sheet lacks {part:?}\n{sheet}");
    }
    assert!(!flat.contains("Reply"), "a Thai letter has a Thai reply sheet");
    // The digits on the sheet lead back to the letter.
    let digits = codes::reference().to_digits();
    assert_eq!(hybridpost_seal::Reference::parse_digits(&digits).unwrap(), codes::reference());

    let mut bilingual = fixture.clone();
    bilingual.language = Language::ThaiEnglish;
    let rendered = render(&bilingual);
    let sheet = text_of(&write("reply-th-en", &rendered.pdf), Some((rendered.letter_pages + 1, rendered.pages)));
    for part in ["Reply form sheet 1 of 1", "Please return by 31 January 2027", "Tick one box"] {
        assert!(without_whitespace(&sheet).contains(&without_whitespace(part)), "{part:?} missing\n{sheet}");
    }
}

#[test]
fn nothing_is_written_over_the_reply_codes_the_seal_or_the_emblem() {
    let mut bilingual = fixture();
    bilingual.language = Language::ThaiEnglish;
    for (name, letter) in [("overlap", fixture()), ("overlap-th-en", bilingual)] {
        let rendered = render(&letter);
        let (words, _) = words(&write(name, &rendered.pdf));
        let overlaps = |w: &Word, a: hybridpost_render::Area| {
            w.x_max > a.x.0 && w.x_min < a.x.0 + a.width.0 && w.y_max > a.y.0 && w.y_min < a.y.0 + a.height.0
        };
        for word in &words {
            if word.page > rendered.letter_pages {
                for area in REPLY_CODE_AREAS {
                    assert!(!overlaps(word, area), "{word:?} is written over a reply code");
                }
            } else if word.page == 1 {
                assert!(!overlaps(word, rendered.seal_area), "{word:?} is written over the seal");
                assert!(
                    !overlaps(word, rendered.emblem_area.expect("an official letter")),
                    "{word:?} is written in the emblem slot"
                );
            }
        }
    }
}

#[test]
fn the_seal_host_and_pin_stay_above_the_fold_with_a_long_agency_address() {
    let long_sender = Sender {
        agency_name: "สำนักงานปลัดกระทรวงการพัฒนาสังคมและความมั่นคงของมนุษย์".to_string(),
        agency_address_lines: vec![
            "ศูนย์ราชการเฉลิมพระเกียรติ ๘๐ พรรษา".to_string(),
            "อาคารรัฐประศาสนภักดี ชั้น ๔".to_string(),
            "๑๒๐ ถนนแจ้งวัฒนะ แขวงทุ่งสองห้อง".to_string(),
            "เขตหลักสี่ กรุงเทพฯ ๑๐๒๑๐".to_string(),
        ],
    };
    for (name, sender) in [("fold", sender()), ("fold-long", long_sender)] {
        let rendered = render_letter(&fixture(), &sender, &options()).unwrap();
        let (words, _) = words(&write(name, &rendered.pdf));
        for line in ["verify.hybridpost.example", "รหัสเปิดอ่านฉบับดิจิทัล: 482913"]
        {
            for word in words_of(&words, line) {
                assert!(word.y_max < DL_FOLD, "{word:?} crosses the fold at {DL_FOLD} mm");
            }
        }
        assert!(rendered.seal_area.y.0 + rendered.seal_area.height.0 < DL_FOLD);
        let date = words_of(&words, "๒๒ พฤศจิกายน ๒๕๖๙");
        assert!(date.iter().all(|w| w.y_max <= rendered.seal_area.y.0), "{date:?}");
    }
}

#[test]
fn continuing_pages_end_with_the_continuation_word_and_the_signature_is_never_alone() {
    // Lengths that push the closing and signature to the foot of a page or over it.
    for paragraphs in 8..=13 {
        let mut letter = fixture();
        letter.body = Some(vec![LONG_PARAGRAPH.to_string(); paragraphs]);
        let rendered = render(&letter);
        let (words, _) = words(&write(&format!("continuation-{paragraphs}"), &rendered.pdf));
        for page in 1..rendered.letter_pages {
            let on = |p: usize| words.iter().filter(move |w| w.page == p);
            let word = on(page).find(|w| w.text.starts_with('/') && w.text.ends_with("..."));
            let word = word.unwrap_or_else(|| panic!("{paragraphs}: page {page} has no continuation word"));
            let expected = word.text.trim_start_matches('/').trim_end_matches("...");
            // The first line of the next page, after its page number, starts with that word.
            let next = on(page + 1).find(|w| !(w.text.starts_with("- ") && w.text.ends_with(" -"))).unwrap();
            assert!(next.text.starts_with(expected), "{paragraphs}: {word:?} does not match {next:?}");
            assert!(word.x_max > 180.0 && word.y_min > 265.0, "{paragraphs}: {word:?} not at the bottom right");
        }
        let last = rendered.letter_pages;
        assert!(!words.iter().any(|w| w.page == last && w.text.starts_with('/') && w.text.ends_with("...")));
        let closing = words.iter().find(|w| w.text == "ขอแสดงความนับถือ").unwrap();
        let body_above = words
            .iter()
            .filter(|w| w.page == closing.page && w.y_min < closing.y_min && w.x_min < 60.0)
            .filter(|w| !(w.text.starts_with("- ") && w.text.ends_with(" -")))
            .count();
        assert!(body_above >= 2, "{paragraphs}: the closing on page {} has {body_above} lines above it", closing.page);
    }
}

const PLAIN: &str = include_str!("../../../fixtures/letters/plain-th-en.json");

#[test]
fn a_plain_letter_in_thai_and_english_carries_both_languages() {
    let letter: NewLetter = serde_json::from_str(PLAIN).unwrap();
    letter.check(date!(2026 - 11 - 22)).expect("the fixture passes its checks");
    let rendered = render_letter(&letter, &sender(), &LetterOptions { reply: None, ..options() }).unwrap();
    assert_eq!(rendered.layout, LetterLayout::Plain);
    assert!(rendered.emblem_area.is_none());
    let path = write("plain-th-en", &rendered.pdf);
    let out = run("qpdf", &["--check", path.to_str().unwrap()]);
    assert!(out.contains("No syntax or stream encoding errors found"), "{out}");
    let text = text_of(&path, None);
    let flat = without_whitespace(&text);
    for part in [
        "สำนักงานเขตพญาไท",
        "วันที่ / Date ๒๒ พฤศจิกายน ๒๕๖๙",
        "22 November 2026",
        "ที่ / Ref. กทม 5301/2569-0457",
        "เรื่อง",
        "Subject",
        "แจ้งนัดหมายตรวจสถานประกอบการ (Inspection",
        "เรียน Mr. John Smith / Dear Mr. John Smith",
        "ขอแสดงความนับถือ",
        "Yours sincerely",
        "รหัสเปิดอ่านฉบับดิจิทัล: / PIN: 482913",
    ] {
        assert!(flat.contains(&without_whitespace(part)), "{part:?} missing\n{text}");
    }
    for paragraph in letter.body.unwrap() {
        assert!(flat.contains(&without_whitespace(&paragraph)), "{paragraph:?} missing\n{text}");
    }
    let (words, pages) = words(&path);
    for word in &words {
        let (width, height) = pages[word.page - 1];
        assert!(word.x_min >= EDGE && word.y_min >= EDGE && word.x_max <= width - EDGE && word.y_max <= height - EDGE);
    }
    // The sender's block stays above the envelope window, and the window shows the address only.
    let window = rendered.address_window;
    for line in ["Mr. John Smith", "กรุงเทพมหานคร 10400"] {
        for word in words_of(&words, line) {
            assert!(word.y_min >= window.y.0 && word.y_max <= window.y.0 + window.height.0, "{word:?}");
        }
    }
    let sender_line = words_of(&words, "สำนักงานเขตพญาไท");
    assert!(sender_line.iter().all(|w| w.y_max <= window.y.0), "{sender_line:?}");
}

#[test]
fn an_english_letter_has_english_labels_and_a_gregorian_date() {
    let mut letter = fixture();
    letter.language = Language::English;
    letter.salutation = None;
    letter.closing = None;
    letter.body = Some(vec!["The district office has approved your application. ".repeat(40)]);
    let rendered = render(&letter);
    let path = write("english", &rendered.pdf);
    let text = text_of(&path, None);
    let flat = without_whitespace(&text);
    for part in [
        "Ref. มท 0808.2/ว 1234",
        "22 November 2026",
        "Subject",
        "Dear นายสมชาย ใจดี",
        "Reference",
        "Please reply by 31 January 2027 on the reply form enclosed with this letter.",
        "Yours sincerely",
        "PIN: 482913",
        "Reply form sheet 1 of 1",
        "Please return by 31 January 2027",
        "Letter number (for staff)",
    ] {
        assert!(flat.contains(&without_whitespace(part)), "{part:?} missing\n{text}");
    }
    assert!(!flat.contains("ขอแสดงความนับถือ") && !flat.contains("เรื่อง") && !flat.contains("แบบตอบกลับ"), "{text}");
    assert!(rendered.letter_pages >= 2);
    let (words, _) = words(&path);
    assert!(words.iter().any(|w| w.page == 2 && w.text == "- 2 -"), "page numbers in Arabic digits");
}

#[test]
fn layouts_loaded_from_a_folder_change_the_letter() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("templates-adjusted");
    std::fs::create_dir_all(&dir).unwrap();
    let builtin = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates/letters");
    let official = std::fs::read_to_string(format!("{builtin}/official.toml")).unwrap();
    std::fs::write(
        dir.join("official.toml"),
        official.replace("closing = \"ขอแสดงความนับถือ\"", "closing = \"ด้วยความนับถือ\""),
    )
    .unwrap();
    std::fs::copy(format!("{builtin}/plain.toml"), dir.join("plain.toml")).unwrap();
    let templates = LetterTemplates::from_dir(&dir).unwrap();
    let mut letter = fixture();
    letter.closing = None;
    let rendered = render_letter_with(&templates, &letter, &sender(), &options()).unwrap();
    let text = without_whitespace(&text_of(&write("adjusted", &rendered.pdf), None));
    assert!(text.contains("ด้วยความนับถือ") && !text.contains("ขอแสดงความนับถือ"), "{text}");
}

const TAX_NOTICE: &str = include_str!("../../../fixtures/letters/template-tax-notice.json");

#[test]
fn a_letter_from_a_content_template_prints_the_filled_in_text() {
    let letter: NewLetter = serde_json::from_str(TAX_NOTICE).unwrap();
    letter.check(date!(2026 - 11 - 22)).expect("the fixture passes its checks");
    let rendered = render_letter(&letter, &sender(), &options()).unwrap();
    let path = write("tax-notice", &rendered.pdf);
    let out = run("qpdf", &["--check", path.to_str().unwrap()]);
    assert!(out.contains("No syntax or stream encoding errors found"), "{out}");
    let text = without_whitespace(&text_of(&path, None));
    let expected = hybridpost_render::expand_content(
        &hybridpost_render::ContentTemplates::builtin(),
        "tax-notice",
        letter.data.as_ref().unwrap(),
    )
    .unwrap();
    for paragraph in &expected {
        assert!(text.contains(&without_whitespace(&thai(paragraph))), "{paragraph:?} missing\n{text}");
    }
    assert!(text.contains(&without_whitespace("ภายในวันที่ ๓๐ เมษายน ๒๕๗๐")), "{text}");

    let mut missing = letter.clone();
    missing.data.as_mut().unwrap().as_object_mut().unwrap().remove("tax_amount");
    let err = render_letter(&missing, &sender(), &options()).unwrap_err();
    assert!(matches!(err, RenderError::Content(_)) && err.to_string().contains("tax_amount"), "{err}");
}

/// A colour PPM (P6) image: width, height and three bytes per pixel.
fn read_ppm(path: &Path) -> (usize, usize, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8(bytes[start..at].to_vec()).unwrap());
    }
    assert_eq!(fields[0], "P6");
    let (width, height): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    (width, height, bytes[at + 1..].to_vec())
}

/// Pixels inside `word`'s box on a page rasterised in colour at `dpi`: (red, dark but not red).
fn red_and_black_in(ppm: &Path, word: &Word, dpi: f32) -> (usize, usize) {
    let (width, _, pixels) = read_ppm(ppm);
    let px = |mm: f32| (mm / 25.4 * dpi).round() as usize;
    let (mut red, mut black) = (0, 0);
    for y in px(word.y_min)..px(word.y_max) {
        for x in px(word.x_min)..px(word.x_max) {
            let p = &pixels[(y * width + x) * 3..][..3];
            if p[0] > 150 && p[1] < 90 && p[2] < 90 {
                red += 1;
            } else if p[0] < 100 && p[1] < 100 && p[2] < 100 {
                black += 1;
            }
        }
    }
    (red, black)
}

/// The first and last rows (mm from the top) with red ink, and with black ink, inside `word`'s
/// box.
fn ink_rows(ppm: &Path, word: &Word, dpi: f32) -> ((f32, f32), (f32, f32)) {
    let (width, _, pixels) = read_ppm(ppm);
    let px = |mm: f32| (mm / 25.4 * dpi).round() as usize;
    let mm = |px: usize| px as f32 / dpi * 25.4;
    let (mut red, mut black) = ((usize::MAX, 0), (usize::MAX, 0));
    for y in px(word.y_min)..px(word.y_max) {
        for x in px(word.x_min)..px(word.x_max) {
            let p = &pixels[(y * width + x) * 3..][..3];
            let rows = if p[0] > 150 && p[1] < 90 && p[2] < 90 {
                &mut red
            } else if p[0] < 100 && p[1] < 100 && p[2] < 100 {
                &mut black
            } else {
                continue;
            };
            *rows = (rows.0.min(y), rows.1.max(y));
        }
    }
    ((mm(red.0), mm(red.1)), (mm(black.0), mm(black.1)))
}

#[test]
fn urgency_is_red_and_twice_the_text_above_the_reference_and_secrecy_is_red_on_every_page() {
    use hybridpost_core::{Secrecy, Urgency, UrgencyLevel};
    let mut letter = fixture();
    letter.urgency = Some(Urgency::Level(UrgencyLevel::MostUrgent));
    letter.secrecy = Some(Secrecy::Secret);
    letter.body = Some(vec![LONG_PARAGRAPH.to_string(); 12]);
    let rendered = render(&letter);
    assert!(rendered.letter_pages >= 2, "a letter of several pages");
    let path = write("urgent-secret", &rendered.pdf);
    let (words, _) = words(&path);
    let urgent = words.iter().find(|w| w.page == 1 && w.text == "ด่วนที่สุด").expect("pdftotext gives ด่วนที่สุด");
    let reference = words_of(&words, &format!("ที่ {}", thai(&letter.reference)));
    assert!(urgent.y_min < reference[0].y_min && urgent.y_max < reference[0].y_max, "{urgent:?} {reference:?}");
    assert!(urgent.x_min < reference[0].x_min + 1.0, "at the left, where the reference starts");
    // Word boxes scale with the font size: 32 pt against the reference's 16 pt.
    let ratio = (urgent.y_max - urgent.y_min) / (reference[0].y_max - reference[0].y_min);
    assert!(ratio >= 1.95, "32 pt or more: {ratio} times the 16 pt reference");
    let page1 = rasterise(&path, 1, 100, false);
    let ppm = page1.with_extension("ppm");
    let stem = ppm.with_extension("");
    run(
        "pdftoppm",
        &["-r", "100", "-f", "1", "-l", "1", "-singlefile", path.to_str().unwrap(), stem.to_str().unwrap()],
    );
    let (red, black) = red_and_black_in(&ppm, urgent, 100.0);
    assert!(red > 200 && red > 5 * black, "the urgency is red: {red} red, {black} black pixels");
    // Its ink ends above the reference's, and keeps 5 mm from the top edge.
    let (red_rows, _) = ink_rows(&ppm, urgent, 100.0);
    let (_, black_rows) = ink_rows(&ppm, &reference[0], 100.0);
    assert!(red_rows.1 < black_rows.0, "red ink {red_rows:?} mm above the reference's {black_rows:?} mm");
    assert!(red_rows.0 >= 5.0, "the urgency's ink starts {} mm from the top", red_rows.0);
    let (red, black) = red_and_black_in(&ppm, &reference[0], 100.0);
    assert!(black > 20 && red * 10 < black, "the reference stays black: {red} red, {black} black pixels");
    // The secrecy words at the top and the bottom of every page of the letter, in red.
    for page in 1..=rendered.letter_pages {
        let marks: Vec<&Word> = words.iter().filter(|w| w.page == page && w.text == "ลับมาก").collect();
        assert_eq!(marks.len(), 2, "page {page}: {marks:?}");
        let middle = |w: &Word| (w.y_min + w.y_max) / 2.0;
        assert!(middle(marks[0]) < 10.0 && middle(marks[1]) > 283.0, "top and bottom: {marks:?}");
        assert!(((marks[0].x_min + marks[0].x_max) / 2.0 - 105.0).abs() < 1.0, "centred: {marks:?}");
    }
    let (red, _) = red_and_black_in(&ppm, words.iter().find(|w| w.text == "ลับมาก").unwrap(), 100.0);
    assert!(red > 50, "the secrecy is red: {red} red pixels");
}

#[test]
fn a_letter_in_arabic_digits_keeps_them_everywhere_and_one_in_thai_digits_converts_them() {
    let mut letter = fixture();
    letter.digits = Some(hybridpost_core::Digits::Arabic);
    letter.body = Some(vec!["ตามหนังสือที่ ๑๒/๒๕๖๙ กรุณาติดต่อ saraban2@example.go.th ภายใน 15 วัน".into()]);
    let text = text_of(&write("arabic", &render(&letter).pdf), Some((1, 1)));
    let flat = without_whitespace(&text);
    for part in ["มท 0808.2/ว 1234", "22 พฤศจิกายน 2569", "10400", "ตามหนังสือที่ 12/2569", "ภายใน 15 วัน"]
    {
        assert!(flat.contains(&without_whitespace(part)), "{part:?} in Arabic digits:\n{text}");
    }
    assert!(!text.chars().any(|c| ('๐'..='๙').contains(&c)), "no Thai digit:\n{text}");
    letter.digits = Some(hybridpost_core::Digits::Thai);
    let text = text_of(&write("thai", &render(&letter).pdf), Some((1, 1)));
    let flat = without_whitespace(&text);
    for part in ["มท ๐๘๐๘.๒/ว ๑๒๓๔", "๒๒ พฤศจิกายน ๒๕๖๙", "๑๐๔๐๐", "ภายใน ๑๕ วัน", "saraban2@example.go.th"]
    {
        assert!(flat.contains(&without_whitespace(part)), "{part:?} in Thai digits:\n{text}");
    }
}

#[test]
fn dated_references_enclosures_and_a_position_are_written_as_the_regulation_writes_them() {
    let mut letter: NewLetter = serde_json::from_value({
        let mut v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        v["references"] = serde_json::json!([
            {"reference": "มท 0300/1", "date": "2026-10-01", "from": "กรมการปกครอง"},
            {"reference": "ที่ ชม 0017/55", "date": "2026-10-15"}
        ]);
        v["enclosures"] = serde_json::json!([
            {"title": "แบบคำขอรับเงินอุดหนุน", "document_id": "0190c5a0-0000-7000-8000-000000000000"},
            "แผนที่สำนักงาน"
        ]);
        v["recipient"]["position"] = serde_json::json!("ผู้ว่าราชการจังหวัดเชียงใหม่");
        v.as_object_mut().unwrap().remove("salutation");
        v
    })
    .unwrap();
    letter.urgency = Some(hybridpost_core::Urgency::Within(hybridpost_core::official::UrgentWithin {
        within: "2027-01-05T14:30:00+07:00".into(),
    }));
    let text = text_of(&write("references", &render(&letter).pdf), Some((1, 1)));
    let flat = without_whitespace(&text);
    for part in [
        "๑. หนังสือกรมการปกครอง ที่ มท ๐๓๐๐/๑ ลงวันที่ ๑ ตุลาคม ๒๕๖๙",
        "๒. หนังสือ ที่ ชม ๐๐๑๗/๕๕ ลงวันที่ ๑๕ ตุลาคม ๒๕๖๙",
        "๑. แบบคำขอรับเงินอุดหนุน",
        "๒. แผนที่สำนักงาน",
        "เรียน ผู้ว่าราชการจังหวัดเชียงใหม่",
        "ด่วนภายใน",
        "๕ ม.ค. ๒๕๗๐ เวลา ๑๔.๓๐ น.",
    ] {
        assert!(flat.contains(&without_whitespace(part)), "{part:?} missing:\n{text}");
    }
    // The position stands under the name in the window, too.
    let (words, _) = words(&write("references", &render(&letter).pdf));
    let name = words_of(&words, &letter.recipient.name);
    let position = words_of(&words, "ผู้ว่าราชการจังหวัดเชียงใหม่");
    assert!(position.iter().any(|w| w.y_min > name[0].y_min + 3.0 && w.y_max < 90.0), "{name:?} {position:?}");
}
