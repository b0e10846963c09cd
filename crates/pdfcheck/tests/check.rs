//! Agencies' PDFs as the checker sees them, each written by hand with lopdf. Needs `qpdf`
//! on the PATH to make encrypted copies (`apt-get install qpdf`; a missing tool fails
//! the test).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use hybridpost_pdfcheck::{ProblemCode, Report, Rules, Severity, check};
use lopdf::{Dictionary, Object, Stream};
use support::{A4, Font, Form, LETTER, PageSpec, arg, body_text, build, build_with, run, scratch, write};

fn codes(report: &Report) -> Vec<(Option<u32>, ProblemCode)> {
    report.problems.iter().map(|p| (p.page, p.code)).collect()
}

fn default_check(pdf: &[u8]) -> Report {
    check(pdf, &Rules::default())
}

#[test]
fn a4_pdf_with_an_embedded_font_has_no_problems() {
    let pdf = build(&[PageSpec::a4(&body_text("Notice of the district office")), PageSpec::a4(&body_text("Page two"))]);
    let report = default_check(&pdf);
    assert_eq!(report.pages, 2);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert!(report.is_acceptable());
}

#[test]
fn one_report_lists_a_letter_page_margin_content_and_unembedded_helvetica() {
    let pdf = build(&[
        PageSpec::a4(&body_text("Fine page")),
        PageSpec::sized(LETTER, &body_text("Letter-size page")),
        PageSpec::a4("BT /F2 10 Tf 1 0 0 1 8 600 Tm (Too close to the left) Tj ET").with_font("F2", Font::Helvetica),
    ]);
    let report = default_check(&pdf);
    assert_eq!(report.pages, 3);
    assert_eq!(
        codes(&report),
        [
            (Some(2), ProblemCode::PageSize),
            (Some(3), ProblemCode::FontNotEmbedded),
            (Some(3), ProblemCode::ContentInMargin),
        ],
        "{:#?}",
        report.problems
    );
    assert!(report.problems.iter().all(|p| p.severity == Severity::Refusal));
    let [size, font, margin] = &report.problems[..] else { unreachable!() };
    assert_eq!(
        size.message_en,
        "page 2: the page is 215.9 × 279.4 mm (Letter portrait); it must be A4 portrait (210 × 297 mm)"
    );
    assert!(size.message_th.contains("215.9 × 279.4 มม."), "{}", size.message_th);
    assert!(font.message_en.starts_with("page 3: font Helvetica not embedded"), "{}", font.message_en);
    assert!(font.message_th.contains("Helvetica"), "{}", font.message_th);
    assert!(
        margin.message_en.starts_with("page 3: content 2.8 mm from the left edge; the printable area starts at 5 mm"),
        "{}",
        margin.message_en
    );
    // Helvetica has no width table here, and the message says its widths were estimated.
    assert!(margin.message_en.contains("font Helvetica estimated"), "{}", margin.message_en);
    assert!(!report.is_acceptable());
}

#[test]
fn encrypted_pdf_is_refused_as_encrypted() {
    let dir = scratch();
    let plain = write(dir.path(), "plain.pdf", &build(&[PageSpec::a4(&body_text("Secret"))]));
    let locked = dir.path().join("locked.pdf");
    run("qpdf", &["--encrypt", "user", "owner", "256", "--", arg(&plain), arg(&locked)]);
    let report = default_check(&std::fs::read(&locked).unwrap());
    assert_eq!(codes(&report), [(None, ProblemCode::Encrypted)], "{:#?}", report.problems);
    assert!(report.problems[0].message_en.contains("encrypted"), "{}", report.problems[0].message_en);
    assert!(report.problems[0].message_th.contains("เข้ารหัส"), "{}", report.problems[0].message_th);
    assert!(!report.is_acceptable());
}

#[test]
fn encrypted_pdf_that_opens_without_a_password_is_refused_and_still_checked() {
    let dir = scratch();
    let plain =
        write(dir.path(), "plain.pdf", &build(&[PageSpec::sized(LETTER, &body_text("Restricted but readable"))]));
    let restricted = dir.path().join("restricted.pdf");
    run("qpdf", &["--encrypt", "", "owner", "256", "--print=none", "--", arg(&plain), arg(&restricted)]);
    let report = default_check(&std::fs::read(&restricted).unwrap());
    assert_eq!(
        codes(&report),
        [(None, ProblemCode::Encrypted), (Some(1), ProblemCode::PageSize)],
        "{:#?}",
        report.problems
    );
}

#[test]
fn truncated_garbage_and_empty_files_are_damaged() {
    let good = build(&[PageSpec::a4(&body_text("Cut short"))]);
    for (what, bytes) in [
        ("truncated", good[..good.len() / 3].to_vec()),
        ("garbage", b"this is a Word document, honestly \x00\x01\x02".to_vec()),
        ("empty", Vec::new()),
    ] {
        let report = default_check(&bytes);
        assert_eq!(codes(&report), [(None, ProblemCode::Damaged)], "{what}: {:#?}", report.problems);
        assert_eq!(report.pages, 0, "{what}");
    }
    assert_eq!(default_check(b"").problems[0].message_en, "the file is empty (0 bytes), not a PDF");
}

#[test]
fn twenty_five_pages_are_too_many() {
    let pages: Vec<PageSpec> = (1..=25).map(|n| PageSpec::a4(&body_text(&format!("Page {n}")))).collect();
    let report = default_check(&build(&pages));
    assert_eq!(report.pages, 25);
    assert_eq!(codes(&report), [(None, ProblemCode::TooManyPages)], "{:#?}", report.problems);
    assert_eq!(report.problems[0].message_en, "the document has 25 pages; at most 20 are accepted");
}

#[test]
fn text_placed_with_tm_near_the_right_edge_is_in_the_margin() {
    // Five glyphs of 500/1000 em at 12 pt from x = 560 end at 590, 5.28 pt from the edge.
    let pdf = build(&[PageSpec::a4("BT /F1 12 Tf 1 0 0 1 560 400 Tm (Hello) Tj ET")]);
    let report = default_check(&pdf);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::ContentInMargin)], "{:#?}", report.problems);
    assert!(
        report.problems[0].message_en.starts_with("page 1: content 1.9 mm from the right edge"),
        "{}",
        report.problems[0].message_en
    );
    assert!(report.problems[0].message_th.contains("ขอบขวา 1.9 มม."), "{}", report.problems[0].message_th);
}

#[test]
fn text_moved_by_td_and_tj_spacing_is_followed() {
    // Td moves to y = 835, so the glyphs' tops (ascent 850/1000 of 12 pt) are above the
    // page's top margin.
    let pdf = build(&[PageSpec::a4("BT /F1 12 Tf 100 400 Td 0 435 Td [(A) -200 (B)] TJ ET")]);
    let report = default_check(&pdf);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::ContentInMargin)], "{:#?}", report.problems);
    assert!(report.problems[0].message_en.contains("from the top edge"), "{}", report.problems[0].message_en);
}

#[test]
fn content_inside_a_form_xobject_with_a_cm_transform_is_found() {
    let form = Form {
        name: "Fm1",
        bbox: [0.0, 0.0, 50.0, 50.0],
        matrix: Some([1.0, 0.0, 0.0, 1.0, 5.0, 0.0]),
        content: "0 0 20 20 re f".into(),
    };
    // The page's cm moves the form to x = 0 + 2, its matrix by another 5: 7 pt = 2.5 mm.
    let pdf = build(&[PageSpec::a4("q 1 0 0 1 2 300 cm /Fm1 Do Q").with_form(form)]);
    let report = default_check(&pdf);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::ContentInMargin)], "{:#?}", report.problems);
    assert!(
        report.problems[0].message_en.starts_with("page 1: content 2.5 mm from the left edge"),
        "{}",
        report.problems[0].message_en
    );
}

#[test]
fn a_form_clipped_by_its_bbox_paints_only_inside_it() {
    // The form fills a huge rectangle, but its BBox clips it to the middle of the page.
    let form = Form {
        name: "Fm1",
        bbox: [100.0, 100.0, 300.0, 300.0],
        matrix: None,
        content: "-1000 -1000 5000 5000 re f".into(),
    };
    let pdf = build(&[PageSpec::a4("/Fm1 Do").with_form(form)]);
    assert!(default_check(&pdf).problems.is_empty());
}

#[test]
fn a_white_full_page_background_is_not_content() {
    let content = format!("1 g 0 0 {} {} re f 1 1 1 rg -10 -10 700 900 re f 0 g {}", A4.0, A4.1, body_text("On white"));
    let report = default_check(&build(&[PageSpec::a4(&content)]));
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

#[test]
fn a_grey_full_page_background_is_content() {
    let content = format!("0.9 g 0 0 {} {} re f", A4.0, A4.1);
    let report = default_check(&build(&[PageSpec::a4(&content)]));
    assert_eq!(codes(&report), [(Some(1), ProblemCode::ContentInMargin)]);
    assert!(report.problems[0].message_en.contains(
        "0.0 mm from the left edge, 0.0 mm from the right edge, 0.0 mm from the top edge, 0.0 mm from the bottom edge"
    ));
}

#[test]
fn the_window_is_checked_on_page_one_only_when_asked() {
    // 40 mm from the left, 60 mm from the top: inside the DL window.
    let y = A4.1 - 60.0 * 72.0 / 25.4;
    let x = 40.0 * 72.0 / 25.4;
    let pdf = build(&[PageSpec::a4(&format!("BT /F1 12 Tf 1 0 0 1 {x} {y} Tm (Reference 1234/2569) Tj ET"))]);
    assert!(default_check(&pdf).problems.is_empty());
    let rules = Rules { first_page_in_window: true, ..Rules::default() };
    let report = check(&pdf, &rules);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::ContentInWindow)], "{:#?}", report.problems);
    assert!(report.problems[0].message_en.contains("at 40.0–"), "{}", report.problems[0].message_en);
}

#[test]
fn a_landscape_media_box_turned_upright_by_rotate_is_a4_portrait() {
    let pdf = build(&[PageSpec::sized((A4.1, A4.0), "").rotated(90), PageSpec::sized((A4.1, A4.0), "")]);
    let report = default_check(&pdf);
    assert_eq!(codes(&report), [(Some(2), ProblemCode::PageSize)], "{:#?}", report.problems);
    assert!(report.problems[0].message_en.contains("(A4 landscape)"), "{}", report.problems[0].message_en);
}

#[test]
fn javascript_and_embedded_files_are_active_content() {
    let pdf = build_with(&[PageSpec::a4(&body_text("Click me"))], |doc, catalog| {
        let action = doc.add_object(Dictionary::from_iter([
            ("S", Object::Name(b"JavaScript".to_vec())),
            ("JS", Object::string_literal("app.alert('hi')")),
        ]));
        catalog.set("OpenAction", Object::Reference(action));
        let file = doc.add_object(Stream::new(
            Dictionary::from_iter([("Type", Object::Name(b"EmbeddedFile".to_vec()))]),
            b"MZ".to_vec(),
        ));
        let spec = doc.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Filespec".to_vec())),
            ("F", Object::string_literal("setup.exe")),
            ("EF", Object::Dictionary(Dictionary::from_iter([("F", Object::Reference(file))]))),
        ]));
        let names = Dictionary::from_iter([(
            "EmbeddedFiles",
            Object::Dictionary(Dictionary::from_iter([(
                "Names",
                Object::Array(vec![Object::string_literal("setup.exe"), Object::Reference(spec)]),
            )])),
        )]);
        catalog.set("Names", Object::Dictionary(names));
    });
    let report = default_check(&pdf);
    assert_eq!(
        codes(&report),
        [(None, ProblemCode::ActiveContent), (None, ProblemCode::ActiveContent)],
        "{:#?}",
        report.problems
    );
    assert!(report.problems[0].message_en.contains("JavaScript"), "{}", report.problems[0].message_en);
    assert!(report.problems[1].message_en.contains("embedded file"), "{}", report.problems[1].message_en);
}

#[test]
fn a_low_resolution_image_is_a_warning_only() {
    // 100 × 100 pixels on 100 × 100 pt (35 mm): 72 dpi.
    let content = "q 100 0 0 100 200 400 cm /Im1 Do Q";
    let pdf = build(&[PageSpec::a4(content).with_image("Im1", 100, 100)]);
    let report = default_check(&pdf);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::LowResolutionImage)], "{:#?}", report.problems);
    assert_eq!(report.problems[0].severity, Severity::Warning);
    assert!(report.problems[0].message_en.contains("at 72 dpi"), "{}", report.problems[0].message_en);
    assert!(report.is_acceptable());
    let sharp = build(&[PageSpec::a4(content).with_image("Im1", 400, 400)]);
    assert!(default_check(&sharp).problems.is_empty());
}

#[test]
fn an_unembedded_font_used_on_many_pages_is_one_problem() {
    let pages: Vec<PageSpec> =
        (0..4).map(|_| PageSpec::a4("BT /F2 10 Tf 100 400 Td (x) Tj ET").with_font("F2", Font::Helvetica)).collect();
    let report = default_check(&build(&pages));
    assert_eq!(codes(&report), [(Some(1), ProblemCode::FontNotEmbedded)], "{:#?}", report.problems);
    assert!(report.problems[0].message_en.contains("(also used on page 2–4)"), "{}", report.problems[0].message_en);
}

#[test]
fn a_page_over_the_work_budget_is_too_complex() {
    let content = "100 100 m 200 200 l S\n".repeat(2_000);
    let rules = Rules { max_operations_per_page: 1_000, ..Rules::default() };
    let report = check(&build(&[PageSpec::a4(&content)]), &rules);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::PageTooComplex)], "{:#?}", report.problems);
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    let pdf = build(&[PageSpec::a4(&body_text("Big"))]);
    let rules = Rules { max_bytes: 1_000, ..Rules::default() };
    let report = check(&pdf, &rules);
    assert_eq!(codes(&report), [(None, ProblemCode::TooLarge)]);
}

#[test]
fn the_report_serializes_with_stable_codes() {
    let report = default_check(&build(&[PageSpec::sized(LETTER, "")]));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["pages"], 1);
    assert_eq!(json["problems"][0]["code"], "page_size");
    assert_eq!(json["problems"][0]["severity"], "refusal");
    assert_eq!(json["problems"][0]["page"], 1);
    assert!(json["problems"][0]["message_th"].is_string());
}

#[test]
fn a_full_page_scan_is_a_warning_not_margin_content() {
    // A sheet scanned at 150 dpi, placed over the whole page.
    let content = format!("q {} 0 0 {} 0 0 cm /Im1 Do Q", A4.0, A4.1);
    let pdf = build(&[PageSpec::a4(&content).with_image("Im1", 1250, 1760)]);
    let report = default_check(&pdf);
    assert_eq!(codes(&report), [(Some(1), ProblemCode::FullPageImage)], "{:#?}", report.problems);
    assert_eq!(report.problems[0].severity, Severity::Warning);
    assert!(report.is_acceptable());
}
