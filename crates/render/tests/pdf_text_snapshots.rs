//! The text people read off the PDFs, snapshotted with insta: `pdftotext -layout` (poppler-utils;
//! a missing tool fails the test) of the official letter with its seal, PIN and reply sheet, and
//! of a print batch (cover sheet, letters, blank backs), with each document's page count and
//! size from `pdfinfo`. Ids, times, the PIN and the seal's reference are replaced by
//! placeholders; the rest of the text is the layout a reader sees, line by line.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::path::PathBuf;
use std::process::Command;

use hybridpost_core::NewLetter;
use hybridpost_render::{BatchInfo, BatchLetter, BatchWriter, LetterOptions, Sender, lay_out_letter, render_letter};
use regex::Regex;
use time::macros::date;

#[path = "support/batch_letters.rs"]
mod batch_letters;
#[path = "support/codes.rs"]
#[expect(dead_code, reason = "only the seal and the reply sheet are used here")]
mod codes;

const FIXTURE: &str = include_str!("../../../fixtures/letters/official.json");

/// The PIN printed under the seal: eight digits, as the keyring makes them.
const PIN: &str = "48291357";

/// Ids and a time as the print room passes them: letter and batch ids are UUIDs, the batch's
/// time is its stored UTC time.
const BATCH_ID: &str = "019a7c3e-5b2d-7f10-9c4e-2a6b8d0f1e37";
const BATCH_CREATED_AT: &str = "2026-11-22T01:00:00.000Z";
const LETTER_IDS: [&str; 3] = [
    "019a7c3e-5b2d-7f10-9c4e-2a6b8d0f1e40",
    "019a7c3e-5b2d-7f10-9c4e-2a6b8d0f1e41",
    "019a7c3e-5b2d-7f10-9c4e-2a6b8d0f1e42",
];

/// Writes `pdf` to a file of its own and returns its path.
fn write(name: &str, pdf: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("snapshot-{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    path
}

fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install poppler-utils): {e}"));
    assert!(output.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Replaces ids, times, the PINs and the seal's reference by placeholders.
fn redact(text: &str) -> String {
    let batch_pin = batch_letters::options().pin.unwrap();
    let mut rules = vec![
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".to_owned(), "[uuid]".to_owned()),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})".to_owned(), "[timestamp]".to_owned()),
        (format!(r"\b({}|{}|{})\b", regex::escape(PIN), regex::escape(&spaced(PIN)), batch_pin), "[PIN]".to_owned()),
        // The reference in digits, as the reply sheet prints it for a reader to type.
        (regex::escape(&codes::reference().to_digits()), "[reference digits]".to_owned()),
        (regex::escape(&codes::reference().to_human()), "[reference]".to_owned()),
    ];
    // An id the layout broke over two lines (the cover sheet's narrow column): its two parts,
    // with whatever lies between them kept.
    for id in std::iter::once(BATCH_ID).chain(LETTER_IDS) {
        for at in 1..id.len() {
            let pattern = format!(r"{}(\n[^\n]*?){}\b", regex::escape(&id[..at]), regex::escape(&id[at..]));
            rules.push((pattern, "[uuid, first part]${1}[uuid, rest]".to_owned()));
        }
    }
    rules.iter().fold(text.to_owned(), |text, (pattern, placeholder)| {
        Regex::new(pattern).unwrap().replace_all(&text, placeholder.as_str()).into_owned()
    })
}

/// `s` in groups of four, as the letter prints a PIN.
fn spaced(s: &str) -> String {
    s.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
}

/// Page count and size, then the text of each page under a numbered rule (a blank page says
/// so), lines without trailing spaces.
fn as_read(name: &str, pdf: &[u8]) -> String {
    let path = write(name, pdf);
    let path = path.to_str().unwrap();
    let info = run("pdfinfo", &[path]);
    let mut out: String = info
        .lines()
        .filter(|l| l.starts_with("Pages:") || l.starts_with("Page size:"))
        .map(|l| format!("{}\n", l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    let text = run("pdftotext", &["-layout", "-enc", "UTF-8", path, "-"]);
    // pdftotext ends every page with a form feed.
    let pages = text.strip_suffix('\u{c}').unwrap_or(&text).split('\u{c}');
    for (i, page) in pages.enumerate() {
        out.push_str(&format!("\n===== page {} =====\n", i + 1));
        if page.trim().is_empty() {
            out.push_str("(blank)\n");
        }
        for line in page.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    redact(&out)
}

#[test]
fn the_official_letter_with_its_seal_pin_and_reply_sheet_reads_as_snapshotted() {
    let letter: NewLetter = serde_json::from_str(FIXTURE).unwrap();
    letter.check(date!(2026 - 11 - 22)).expect("the fixture passes its checks");
    let sender = Sender {
        agency_name: "สำนักงานเขตพญาไท".to_string(),
        agency_address_lines: vec!["๑๒ ถนนพหลโยธิน".to_string(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".to_string()],
    };
    let options = LetterOptions {
        emblem: None,
        issue_date: date!(2026 - 11 - 22),
        verification_host: codes::HOST.to_string(),
        pin: Some(PIN.to_string()),
        seal: Some(codes::seal_modules(&codes::seal_text())),
        reply: Some(codes::reply_sheet(1, date!(2027 - 01 - 31))),
        seal_url: None,
    };
    let rendered = render_letter(&letter, &sender, &options).unwrap();
    insta::assert_snapshot!("official_letter", as_read("letter", &rendered.pdf));
}

#[test]
fn a_print_batch_reads_as_snapshotted() {
    let info = BatchInfo {
        batch_id: BATCH_ID.to_string(),
        site: "ศูนย์ไปรษณีย์หลักสี่ 10210".to_string(),
        created_at: BATCH_CREATED_AT.to_string(),
    };
    let mut batch = BatchWriter::new(Vec::new(), info).unwrap();
    // A one-page letter, one of two pages, and another one-page letter, in postcode order.
    let letters: Vec<NewLetter> =
        [(0, 0), (11, 4), (22, 0)].iter().map(|&(n, p)| batch_letters::letter(n, p)).collect();
    for (letter, id) in letters.iter().zip(LETTER_IDS) {
        let (doc, _) = lay_out_letter(letter, &batch_letters::sender(), &batch_letters::options()).unwrap();
        batch
            .append_document(
                BatchLetter { letter_id: id.to_string(), postcode: batch_letters::postcode(letter), urgency: None },
                &doc,
            )
            .unwrap();
    }
    let (pdf, _) = batch.finish().unwrap();
    insta::assert_snapshot!("print_batch", as_read("batch", &pdf));
}

#[test]
fn the_redaction_replaces_ids_times_the_pin_and_the_reference() {
    let reference = codes::reference();
    let text = format!(
        "{BATCH_ID} {BATCH_CREATED_AT} PIN {} {PIN} {} {} หน้า 1/2 12345678\nชุดงาน {}\nBatch   {}",
        spaced(PIN),
        reference.to_digits(),
        reference.to_human(),
        &LETTER_IDS[1][..25],
        &LETTER_IDS[1][25..],
    );
    assert_eq!(
        redact(&text),
        "[uuid] [timestamp] PIN [PIN] [PIN] [reference digits] [reference] หน้า 1/2 12345678\n\
         ชุดงาน [uuid, first part]\nBatch   [uuid, rest]"
    );
}
