//! `hybridpost render` as an agency runs it on a letter file: a PDF for a good letter, and
//! one `hybridpost:` line per problem for a bad one.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hybridpost");
const FIXTURE: &str = include_str!("../../../fixtures/letters/official.json");

fn render(dir: &std::path::Path, letter: &str) -> std::process::Output {
    std::fs::write(dir.join("letter.json"), letter).unwrap();
    Command::new(BIN)
        .current_dir(dir)
        .args(["render", "letter.json", "-o", "out.pdf", "--date", "2026-11-22", "--agency-name", "สำนักงานเขตพญาไท"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn render_writes_a_pdf_of_the_letter() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(dir.path(), FIXTURE);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pdf = std::fs::read(dir.path().join("out.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // No database or configuration is created next to the letter.
    let mut entries: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    assert_eq!(entries, ["letter.json", "out.pdf"]);
}

#[test]
fn render_refuses_a_letter_with_a_wrong_check_digit() {
    let dir = tempfile::tempdir().unwrap();
    let bad = FIXTURE.replace("1101700230708", "1101700230709");
    assert_ne!(bad, FIXTURE);
    let out = render(dir.path(), &bad);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("hybridpost: recipient.citizen_id: ") && l.contains("check digit")),
        "{stderr}"
    );
    assert!(lines.iter().all(|l| l.starts_with("hybridpost: ")), "{stderr}");
    assert!(!dir.path().join("out.pdf").exists());
}
