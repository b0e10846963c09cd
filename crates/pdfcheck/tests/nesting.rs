//! Nesting up to a million levels deep — arrays and dictionaries, in a page's content
//! stream (read by our lexer), in the file body and in object streams (read by lopdf once
//! the guard has surveyed them) — through the checker and the page appender: a report or
//! an error, never a crash. Each runs on a thread with a Tokio worker's 2 MiB stack, where
//! the upload that found this used to abort the process. `PROPTEST_CASES` sets the number
//! of random cases (16 by default: the files are megabytes).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_pdfcheck::{ProblemCode, Report, Rules, append_pages, check};
use hybridpost_pdfguard::hostile::{self, Nest};
use proptest::prelude::*;

/// Where the nesting is.
#[derive(Debug, Clone, Copy)]
enum Place {
    Content,
    Body,
    ObjectStream,
}

fn file(place: Place, kind: Nest, depth: usize) -> Vec<u8> {
    match place {
        Place::Content => hostile::nested_content(kind, depth),
        Place::Body => hostile::nested_body(kind, depth),
        Place::ObjectStream => hostile::nested_object_stream(kind, depth),
    }
}

/// Levels of nesting the reader sees in all.
fn levels(place: Place, depth: usize) -> usize {
    match place {
        // The page dictionary around the nesting.
        Place::Body => depth + 1,
        Place::Content | Place::ObjectStream => depth,
    }
}

fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().unwrap()
}

fn check_and_append(pdf: Vec<u8>) -> (Report, Result<usize, String>) {
    on_worker_stack(move || {
        let report = check(&pdf, &Rules::default());
        let cover = hostile::nested_content(Nest::Arrays, 1);
        let appended = append_pages(&cover, &pdf).map(|b| b.len()).map_err(|e| e.to_string());
        (report, appended)
    })
}

fn assert_outcome(place: Place, kind: Nest, depth: usize) {
    let (report, appended) = check_and_append(file(place, kind, depth));
    let too_complex = report.with_code(ProblemCode::TooComplex).next();
    match place {
        Place::Content => {
            // Content nesting is read however deep; a very deep one runs out of the page's
            // work budget and is refused as too complex to check.
            assert!(too_complex.is_none(), "{place:?} {depth}: {report:?}");
            assert!(appended.is_ok(), "{place:?} {depth}: {appended:?}");
        }
        Place::Body | Place::ObjectStream if levels(place, depth) > 64 => {
            let problem = too_complex.unwrap_or_else(|| panic!("{place:?} {depth}: {report:?}"));
            assert!(problem.message_en.contains("64 levels"), "{}", problem.message_en);
            assert_eq!(report.problems.len(), 1, "nothing else is checked: {report:?}");
            let error = appended.unwrap_err();
            assert!(error.contains("64 levels"), "{error}");
        }
        Place::Body | Place::ObjectStream => {
            assert!(too_complex.is_none(), "{place:?} {depth}: {report:?}");
            assert_eq!(report.pages, 1, "{place:?} {depth}: {report:?}");
            assert!(appended.is_ok(), "{place:?} {depth}: {appended:?}");
        }
    }
}

fn places() -> impl Strategy<Value = Place> {
    prop_oneof![Just(Place::Content), Just(Place::Body), Just(Place::ObjectStream)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16),
        ..ProptestConfig::default()
    })]

    #[test]
    fn nesting_at_any_depth_gets_a_report_or_an_error_never_a_crash(
        depth in prop_oneof![1usize..=100, 100usize..=10_000, 10_000usize..=1_000_000],
        dicts in any::<bool>(),
        place in places(),
    ) {
        let kind = if dicts { Nest::Dictionaries } else { Nest::Arrays };
        assert_outcome(place, kind, depth);
    }
}

#[test]
fn nesting_30_000_and_a_million_deep_everywhere() {
    for depth in [30_000, 1_000_000] {
        for kind in [Nest::Arrays, Nest::Dictionaries] {
            for place in [Place::Content, Place::Body, Place::ObjectStream] {
                assert_outcome(place, kind, depth);
            }
        }
    }
}

#[test]
fn the_upload_that_aborted_the_service_is_checked() {
    // 30,000 `[`, then the `]`s and `TJ`: the page is read; its text lies in the margin.
    let (report, _) = check_and_append(hostile::nested_content(Nest::Arrays, 30_000));
    assert_eq!(report.pages, 1);
    assert!(report.with_code(ProblemCode::Damaged).next().is_none(), "{report:?}");
}
