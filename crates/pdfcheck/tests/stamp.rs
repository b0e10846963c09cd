//! A page of stamps printed over each page of an agency's form, as the reply codes are:
//! checked with `qpdf --check`, `pdftotext` and the pixels `pdftoppm` draws (`apt-get install
//! qpdf poppler-utils`; a missing tool fails the test).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use hybridpost_pdfcheck::{ProblemCode, ReservedArea, Rules, check, stamp_pages};
use support::{A4, PageSpec, arg, body_text, build, run, scratch, write};

const PT_PER_MM: f64 = 72.0 / 25.4;

/// A black 12 mm square whose top-left corner is at (x, y) mm from the page's top-left.
fn square(x: f64, y: f64) -> String {
    let side = 12.0 * PT_PER_MM;
    format!("0 g {:.2} {:.2} {side:.2} {side:.2} re f", x * PT_PER_MM, A4.1 - y * PT_PER_MM - side)
}

/// The share of dark pixels in the mm square (x, y, side) of a page drawn at 50 dpi.
fn dark_share(png: &image::GrayImage, x: f64, y: f64, side: f64) -> f64 {
    let px = |mm: f64| (mm * 50.0 / 25.4).round() as u32;
    let (x0, y0, n) = (px(x), px(y), px(side));
    let mut dark = 0u32;
    for yy in y0..y0 + n {
        for xx in x0..x0 + n {
            dark += u32::from(png.get_pixel(xx, yy).0[0] < 100);
        }
    }
    f64::from(dark) / f64::from(n * n)
}

#[test]
fn each_form_page_gets_its_own_stamp_where_it_was_drawn_and_keeps_its_content() {
    let dir = scratch();
    // Three pages: plain; with its content stream leaving a scaled CTM and a colour set (the
    // stamp must not inherit them); and one whose landscape media box is turned upright.
    let form = build(&[
        PageSpec::a4(&body_text("Form page one")),
        PageSpec::a4(&format!("{} 0.5 0 0 0.5 0 0 cm 1 g", body_text("Form page two"))),
        PageSpec::sized((A4.1, A4.0), "").rotated(90),
    ]);
    let stamped = stamp_pages(&form, |pages| {
        assert_eq!(pages, 3);
        // Stamp page n: a square at the top right, and one further down for each page number,
        // so that a page given the wrong stamp shows it.
        let stamps: Vec<PageSpec> = (1..=pages)
            .map(|n| PageSpec::a4(&format!("{} {}", square(180.0, 10.0), square(20.0, 50.0 * n as f64))))
            .collect();
        Ok(build(&stamps))
    })
    .unwrap();
    let out = write(dir.path(), "stamped.pdf", &stamped);
    run("qpdf", &["--check", arg(&out)]);
    let text = run("pdftotext", &[arg(&out), "-"]);
    assert!(text.contains("Form page one") && text.contains("Form page two"), "{text}");

    let prefix = dir.path().join("page");
    run("pdftoppm", &["-r", "50", "-gray", "-png", arg(&out), prefix.to_str().unwrap()]);
    for n in 1..=3u32 {
        let png = image::open(dir.path().join(format!("page-{n}.png"))).unwrap().to_luma8();
        assert!(png.width() < png.height(), "page {n} is shown portrait");
        assert!(dark_share(&png, 181.0, 11.0, 10.0) > 0.9, "page {n}: the top-right square is in place");
        for m in 1..=3u32 {
            let share = dark_share(&png, 21.0, 50.0 * f64::from(m) + 1.0, 10.0);
            if m == n {
                assert!(share > 0.9, "page {n} has its own stamp: {share}");
            } else {
                assert!(share < 0.05, "page {n} has no square of stamp {m}: {share}");
            }
        }
    }
}

#[test]
fn stamps_of_the_wrong_page_count_are_refused() {
    let form = build(&[PageSpec::a4(""), PageSpec::a4("")]);
    let err = stamp_pages(&form, |_| Ok(build(&[PageSpec::a4("")]))).unwrap_err();
    assert_eq!(err.to_string(), "the stamps cannot be used: 1 stamp pages for 2 pages");
    let err = stamp_pages(b"not a pdf", |_| Ok(build(&[PageSpec::a4("")]))).unwrap_err();
    assert!(err.to_string().starts_with("the agency's PDF cannot be read"), "{err}");
}

#[test]
fn content_in_a_reserved_area_is_refused_naming_the_page_and_the_place() {
    let form = build(&[PageSpec::a4(&body_text("Clear page")), PageSpec::a4(&square(170.0, 20.0))]);
    let rules = Rules {
        reserved: vec![ReservedArea {
            x_mm: 164.0,
            y_mm: 5.0,
            width_mm: 41.0,
            height_mm: 41.0,
            name_th: "ที่พิมพ์รหัสตอบกลับมุมขวาบน".into(),
            name_en: "the top-right reply code place".into(),
        }],
        ..Rules::default()
    };
    let report = check(&form, &rules);
    let found: Vec<_> = report.problems.iter().map(|p| (p.page, p.code)).collect();
    assert_eq!(found, [(Some(2), ProblemCode::ContentInReservedArea)], "{:#?}", report.problems);
    assert!(
        report.problems[0].message_en.starts_with("page 2: content in the top-right reply code place (164–205 mm"),
        "{}",
        report.problems[0].message_en
    );
    assert!(report.problems[0].message_th.contains("ที่พิมพ์รหัสตอบกลับมุมขวาบน"), "{}", report.problems[0].message_th);
    assert!(check(&form, &Rules::default()).problems.is_empty(), "without the reserved area it prints");
}
