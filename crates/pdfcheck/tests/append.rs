//! The cover page and the agency's pages in one PDF, as the print room receives it:
//! checked with `qpdf --check`, poppler's `pdfinfo` and `pdftotext` (`apt-get install
//! qpdf poppler-utils`; a missing tool fails the test).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use hybridpost_pdfcheck::{AppendError, Rules, append_pages, check};
use support::{Font, PageSpec, arg, build, run, scratch, write};

fn cover() -> Vec<u8> {
    build(&[PageSpec::a4("BT /F1 14 Tf 1 0 0 1 72 700 Tm (COVER PAGE with address and seal) Tj ET")])
}

fn agency() -> Vec<u8> {
    let pages: Vec<PageSpec> = (1..=3)
        .map(|n| {
            PageSpec::a4(&format!("BT /F2 12 Tf 1 0 0 1 72 700 Tm (Agency page {n} of 3) Tj ET"))
                .with_font("F2", Font::Helvetica)
        })
        .collect();
    build(&pages)
}

fn pages_of(info: &str) -> u32 {
    info.lines().find_map(|l| l.strip_prefix("Pages:")).unwrap().trim().parse().unwrap()
}

#[test]
fn cover_and_three_agency_pages_make_four_valid_pages() {
    let dir = scratch();
    let agency_pdf = write(dir.path(), "agency.pdf", &agency());
    let combined = append_pages(&cover(), &std::fs::read(&agency_pdf).unwrap()).unwrap();
    let out = write(dir.path(), "combined.pdf", &combined);

    run("qpdf", &["--check", arg(&out)]);
    assert_eq!(pages_of(&run("pdfinfo", &[arg(&out)])), 4);
    let cover_text = run("pdftotext", &["-f", "1", "-l", "1", arg(&out), "-"]);
    assert!(cover_text.contains("COVER PAGE"), "{cover_text}");
    let appended = run("pdftotext", &["-f", "2", "-l", "4", arg(&out), "-"]);
    let original = run("pdftotext", &[arg(&agency_pdf), "-"]);
    assert_eq!(appended, original);
    assert!(original.contains("Agency page 3 of 3"), "{original}");
}

#[test]
fn appending_is_deterministic() {
    let first = append_pages(&cover(), &agency()).unwrap();
    let second = append_pages(&cover(), &agency()).unwrap();
    assert_eq!(first, second);
}

#[test]
fn agency_pages_in_object_streams_with_inherited_resources_keep_their_looks() {
    let dir = scratch();
    let plain = write(dir.path(), "plain.pdf", &agency());
    // qpdf moves objects into object streams and shares attributes up the page tree.
    let packed = dir.path().join("packed.pdf");
    run("qpdf", &["--object-streams=generate", "--compress-streams=y", arg(&plain), arg(&packed)]);
    let combined = append_pages(&cover(), &std::fs::read(&packed).unwrap()).unwrap();
    let out = write(dir.path(), "combined.pdf", &combined);
    run("qpdf", &["--check", arg(&out)]);
    assert_eq!(pages_of(&run("pdfinfo", &[arg(&out)])), 4);
    assert_eq!(run("pdftotext", &["-f", "2", "-l", "4", arg(&out), "-"]), run("pdftotext", &[arg(&plain), "-"]));
    // The result passes the same checks as its parts (bar the unembedded Helvetica).
    let report = check(&combined, &Rules::default());
    assert_eq!(report.pages, 4);
    assert!(report.problems.iter().all(|p| p.message_en.contains("Helvetica")), "{:#?}", report.problems);
}

#[test]
fn the_agency_documents_javascript_and_outline_are_left_behind() {
    let with_js = support::build_with(&[PageSpec::a4(&support::body_text("Hello"))], |doc, catalog| {
        let action = doc.add_object(lopdf::Dictionary::from_iter([
            ("S", lopdf::Object::Name(b"JavaScript".to_vec())),
            ("JS", lopdf::Object::string_literal("app.alert('hi')")),
        ]));
        catalog.set("OpenAction", lopdf::Object::Reference(action));
    });
    let combined = append_pages(&cover(), &with_js).unwrap();
    let report = check(&combined, &Rules::default());
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.pages, 2);
}

#[test]
fn garbage_agency_file_is_an_error() {
    let err = append_pages(&cover(), b"not a pdf").unwrap_err();
    assert!(matches!(err, AppendError::Agency(_)), "{err}");
}
