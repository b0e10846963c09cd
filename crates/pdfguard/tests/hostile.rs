//! Hostile files through the guard: each is refused with the limit it goes beyond, or
//! loaded, and never crashes the process. Nesting is tried at every depth up to a million,
//! in the file body, in object streams and in content streams. `PROPTEST_CASES` sets the
//! number of random cases (16 by default here: the files are megabytes).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::time::Duration;

use hybridpost_pdfguard::hostile::{self, Nest};
use hybridpost_pdfguard::{Admit, GuardError, Limits, load, survey};
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

/// Loads `pdf` through the guard on a thread with a tokio worker's stack (2 MiB): an error
/// or a document, never an abort.
fn guarded(pdf: Vec<u8>) -> Result<usize, GuardError> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || load(&pdf, &limits(), Admit::file(&pdf, Duration::from_secs(60))).map(|d| d.objects.len()))
        .unwrap()
        .join()
        .unwrap()
}

/// `levels` of nesting in all are loaded up to the limit and refused beyond it.
fn assert_nesting_outcome(levels: usize, outcome: Result<usize, GuardError>) {
    let max = limits().max_depth;
    match outcome {
        Ok(_) => assert!(levels <= max, "{levels} levels were loaded"),
        Err(GuardError::TooDeep { limit, .. }) => {
            assert_eq!(limit, max);
            assert!(levels > max, "{levels} levels were refused");
        }
        Err(other) => panic!("{levels} levels: {other}"),
    }
}

fn depths() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..=100, 100usize..=10_000, 10_000usize..=1_000_000]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16), ..ProptestConfig::default() })]

    #[test]
    fn nesting_in_the_file_body_is_refused_beyond_the_limit_or_loaded(depth in depths(), dicts in any::<bool>()) {
        let kind = if dicts { Nest::Dictionaries } else { Nest::Arrays };
        // The page dictionary holds the nesting: one level more.
        assert_nesting_outcome(depth + 1, guarded(hostile::nested_body(kind, depth)));
    }

    #[test]
    fn nesting_in_an_object_stream_is_refused_beyond_the_limit_or_loaded(depth in depths(), dicts in any::<bool>()) {
        let kind = if dicts { Nest::Dictionaries } else { Nest::Arrays };
        assert_nesting_outcome(depth, guarded(hostile::nested_object_stream(kind, depth)));
    }

    #[test]
    fn nesting_in_a_content_stream_is_not_lopdfs_to_read(depth in depths(), dicts in any::<bool>()) {
        let kind = if dicts { Nest::Dictionaries } else { Nest::Arrays };
        // lopdf does not parse content streams when it loads a file: the lexer that reads
        // them is tested in hybridpost-pdfcheck.
        prop_assert!(guarded(hostile::nested_content(kind, depth)).is_ok());
    }
}

#[test]
fn the_fixed_cases_30_000_and_a_million_deep_are_refused_with_the_limit_named() {
    for depth in [30_000, 1_000_000] {
        for kind in [Nest::Arrays, Nest::Dictionaries] {
            for pdf in [hostile::nested_body(kind, depth), hostile::nested_object_stream(kind, depth)] {
                let error = guarded(pdf).unwrap_err();
                assert!(matches!(error, GuardError::TooDeep { limit: 64, .. }), "{error}");
                assert!(error.to_string().contains("64 levels"), "{error}");
            }
            assert!(guarded(hostile::nested_content(kind, depth)).is_ok());
        }
    }
}

#[test]
fn a_chain_of_lengths_is_followed_to_the_limit_and_refused_beyond() {
    assert!(guarded(hostile::length_chain(limits().max_length_hops)).is_ok());
    for links in [limits().max_length_hops + 1, 30_000] {
        let error = guarded(hostile::length_chain(links)).unwrap_err();
        assert_eq!(error, GuardError::LengthChain { limit: limits().max_length_hops });
    }
}

#[test]
fn an_object_stream_measured_by_an_object_inside_itself_is_refused() {
    let error = guarded(hostile::self_measuring_object_stream()).unwrap_err();
    assert_eq!(error, GuardError::LengthChain { limit: limits().max_length_hops });
}

#[test]
fn files_that_would_take_gigabytes_are_refused_before_lopdf_reads_them() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("60,000 arrays of 120 zeros", hostile::many_small_arrays(60_000, 120)),
        ("a million objects in object streams", hostile::many_objects_in_streams(1_000_000)),
        ("200,000 entries into one object", hostile::overlapping_entries(200_000, 20_000)),
        ("2 billion zero-width entries", hostile::zero_width_xref(2_000_000_000)),
        ("10,000 copies of a megabyte", hostile::repeated_copies(10_000, 1 << 20)),
    ];
    for (what, pdf) in cases {
        let started = std::time::Instant::now();
        let error = survey(&pdf, &limits()).unwrap_err();
        assert!(error.is_over_limit(), "{what}: {error}");
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: the survey took {:?}", started.elapsed());
        eprintln!("{what} ({}): {error}", hostile::mib(pdf.len() as u64));
    }
}

#[test]
fn files_within_the_limits_load_and_their_estimate_covers_the_document() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("5,000 arrays of 20", hostile::many_small_arrays(5_000, 20)),
        ("20,000 objects in object streams", hostile::many_objects_in_streams(20_000)),
        ("a length chain of 2", hostile::length_chain(2)),
        ("nesting 60 deep", hostile::nested_body(Nest::Dictionaries, 60)),
        ("100 copies of 1 KiB", hostile::repeated_copies(100, 1024)),
    ];
    for (what, pdf) in cases {
        let found = survey(&pdf, &limits()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let doc =
            load(&pdf, &limits(), Admit::file(&pdf, Duration::from_secs(60))).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(found.objects > 0 && found.memory_bytes > pdf.len() as u64 / 4, "{what}: {found:?}");
        assert!(!doc.objects.is_empty(), "{what}");
    }
}

/// Without the guard lopdf aborts the process on some of these files: run in a child
/// process, it dies, where the guarded load above returns an error. (This shows the guard
/// is what stands between them and the service.)
#[test]
fn lopdf_alone_aborts_on_a_chain_of_lengths() {
    if std::env::var_os("HYBRIDPOST_PDFGUARD_CHILD").is_some() {
        let pdf = hostile::length_chain(30_000);
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let _ = lopdf::Document::load_mem(&pdf);
            })
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lopdf_alone_aborts_on_a_chain_of_lengths", "--nocapture"])
        .env("HYBRIDPOST_PDFGUARD_CHILD", "1")
        .output()
        .unwrap();
    assert!(!child.status.success(), "lopdf survived a chain of 30,000 lengths");
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(stderr.contains("overflow"), "{stderr}");
}
