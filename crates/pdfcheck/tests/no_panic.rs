//! Hostile and broken input never panics the checker or the page appender: random bytes,
//! valid PDFs with bytes flipped, cut or spliced, and pages with random content streams.
//! Needs no external tool. `PROPTEST_CASES` sets the number of cases (256 by default).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::sync::OnceLock;

use hybridpost_pdfcheck::{Rules, append_pages, check};
use proptest::prelude::*;
use support::{Font, Form, PageSpec, body_text, build};

/// A small valid document touching most of the checker: fonts, forms, images, text.
fn seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        let form = Form { name: "Fm1", bbox: [0.0, 0.0, 50.0, 50.0], matrix: Some([1.0, 0.0, 0.0, 1.0, 5.0, 5.0]), content: "0 0 20 20 re f BT /F1 9 Tf (form) Tj ET".into() };
        build(&[
            PageSpec::a4(&body_text("Seed page")).with_font("F2", Font::Helvetica),
            PageSpec::a4("q 100 0 0 100 200 400 cm /Im1 Do Q q 1 0 0 1 100 100 cm /Fm1 Do Q BI /W 2 /H 2 /CS /G /BPC 8 ID \x01\x02\x03\x04 EI")
                .with_image("Im1", 4, 4)
                .with_form(form),
        ])
    })
}

/// Operators and operands the interpreter knows, and some it does not.
const WORDS: &[&str] = &[
    "q",
    "Q",
    "cm",
    "m",
    "l",
    "c",
    "v",
    "y",
    "re",
    "h",
    "S",
    "f",
    "f*",
    "B",
    "b*",
    "n",
    "W",
    "W*",
    "BT",
    "ET",
    "Tf",
    "Td",
    "TD",
    "Tm",
    "T*",
    "Tj",
    "TJ",
    "'",
    "\"",
    "Tc",
    "Tw",
    "Tz",
    "TL",
    "Tr",
    "Ts",
    "Do",
    "sh",
    "g",
    "rg",
    "k",
    "cs",
    "scn",
    "w",
    "BI",
    "ID",
    "EI",
    "/F1",
    "/F2",
    "/Fm1",
    "/Im1",
    "/Nope",
    "0",
    "1",
    "-1",
    "1e308",
    "-99999999999",
    "3.5",
    ".5",
    "(text)",
    "<41>",
    "[(A) -120 (B)]",
    "<<",
    ">>",
    "[",
    "]",
    "(",
    ")",
    "%",
    "\n",
    "nan",
    "--1",
];

fn content() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..200).prop_map(|words| words.join(" "))
}

proptest! {
    #[test]
    fn random_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let report = check(&bytes, &Rules::default());
        prop_assert!(!report.is_acceptable() || report.pages > 0);
        let _ = append_pages(&bytes, &bytes);
    }

    #[test]
    fn mutated_pdfs_do_not_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..32),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = seed().to_vec();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = check(&bytes, &Rules { first_page_in_window: true, ..Rules::default() });
        let _ = append_pages(seed(), &bytes);
    }

    #[test]
    fn spliced_pdf_tokens_do_not_panic(
        at in any::<prop::sample::Index>(),
        words in prop::collection::vec(prop::sample::select(WORDS), 1..16),
    ) {
        let mut bytes = seed().to_vec();
        let i = at.index(bytes.len());
        let splice = format!(" {} ", words.join(" "));
        bytes.splice(i..i, splice.bytes());
        let _ = check(&bytes, &Rules::default());
    }

    #[test]
    fn random_content_streams_do_not_panic(page in content(), form in content()) {
        let form = Form { name: "Fm1", bbox: [0.0, 0.0, 100.0, 100.0], matrix: None, content: form };
        let pdf = build(&[PageSpec::a4(&page).with_font("F2", Font::Helvetica).with_form(form).with_image("Im1", 3, 3)]);
        let report = check(&pdf, &Rules { first_page_in_window: true, ..Rules::default() });
        prop_assert_eq!(report.pages, 1);
        let combined = append_pages(&pdf, &pdf).unwrap();
        prop_assert_eq!(check(&combined, &Rules::default()).pages, 2);
    }
}
