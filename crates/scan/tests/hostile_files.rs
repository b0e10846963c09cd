//! Scanned files built to be hard on the readers, through `input::open` on a thread with a
//! Tokio worker's 2 MiB stack: PDFs nesting up to a million levels deep (in the page's
//! content, in the file body, in an object stream), chains of stream lengths, files whose
//! structure would take gigabytes, the same zipped, and TIFFs whose directory chains run up
//! to a million long or loop. Each gives pages or an error naming its limit, never a crash.
//! `PROPTEST_CASES` sets the number of random cases (16 by default: the files are megabytes).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::io::Write;

use hybridpost_pdfguard::hostile::{self, Nest, Place};
use hybridpost_scan::input::{FileError, Limits, open};
use proptest::prelude::*;

const W: u32 = 120;
const H: u32 = 170;

fn pixels() -> Vec<u8> {
    (0..W * H).map(|i| if (i / W) % 10 < 5 { 30 } else { 220 }).collect()
}

/// Pages read, or the file's error, on a worker-sized stack.
fn read(name: &'static str, bytes: Vec<u8>) -> Result<Vec<(u32, u32)>, FileError> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let reader = open(name, bytes, &Limits::default())?;
            Ok(reader.map(|p| p.map(|p| p.image.dimensions()).unwrap_or((0, 0))).collect())
        })
        .unwrap()
        .join()
        .unwrap()
}

fn assert_scan(kind: Nest, depth: usize, place: Place) {
    let pdf = hostile::nested_scan(kind, depth, place, W, H, &pixels());
    let outcome = read("scan.pdf", pdf);
    let levels = if place == Place::Body { depth + 1 } else { depth };
    match (place, outcome) {
        // lopdf does not read content streams, nor does the scan reader: the image is read.
        (Place::Content, Ok(pages)) => assert_eq!(pages, [(W, H)], "{depth}"),
        (_, Ok(pages)) if levels <= 64 => assert_eq!(pages, [(W, H)], "{place:?} {depth}"),
        (_, Err(FileError::OverLimit(why))) if levels > 64 => {
            assert!(why.contains("64 levels"), "{why}");
        }
        (place, other) => panic!("{place:?} {depth}: {other:?}"),
    }
}

fn places() -> impl Strategy<Value = Place> {
    prop_oneof![Just(Place::Content), Just(Place::Body), Just(Place::ObjectStream)]
}

/// A little-endian TIFF of `count` 1 × 1 grey pages whose directory chain ends, or loops
/// back to the first page after the last when `looped`.
fn tiff_chain(count: usize, looped: bool) -> Vec<u8> {
    // Header, one pixel byte at 8, then directories of 8 entries from 9 on.
    let mut out = b"II*\0\x09\0\0\0\x80".to_vec();
    const ENTRY_COUNT: u16 = 8;
    let size = 2 + 12 * ENTRY_COUNT as usize + 4;
    for i in 0..count {
        let at = out.len();
        // Past the page limit a directory needs no entries: the chain is refused for its
        // length before any page is decoded.
        if i >= 1000 {
            let next = if i + 1 < count {
                (at + 6) as u32
            } else if looped {
                9
            } else {
                0
            };
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&next.to_le_bytes());
            continue;
        }
        out.extend_from_slice(&ENTRY_COUNT.to_le_bytes());
        let entries: [(u16, u16, u32); 8] = [
            (256, 3, 1), // ImageWidth
            (257, 3, 1), // ImageLength
            (258, 3, 8), // BitsPerSample
            (259, 3, 1), // Compression: none
            (262, 3, 1), // PhotometricInterpretation: BlackIsZero
            (273, 4, 8), // StripOffsets
            (278, 3, 1), // RowsPerStrip
            (279, 4, 1), // StripByteCounts
        ];
        for (tag, kind, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
        let next = if i + 1 < count {
            (at + size) as u32
        } else if looped {
            9
        } else {
            0
        };
        out.extend_from_slice(&next.to_le_bytes());
    }
    out
}

fn zipped(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    zip.write_all(bytes).unwrap();
    zip.finish().unwrap().into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_scanner_pdf_nesting_at_any_depth_reads_its_page_or_names_the_limit(
        depth in prop_oneof![1usize..=100, 100usize..=10_000, 10_000usize..=1_000_000],
        dicts in any::<bool>(),
        place in places(),
    ) {
        assert_scan(if dicts { Nest::Dictionaries } else { Nest::Arrays }, depth, place);
    }

    #[test]
    fn a_tiff_directory_chain_of_any_length_reads_or_is_refused(count in prop_oneof![1usize..=1000, 1000usize..=1_000_000], looped in any::<bool>()) {
        match read("chain.tif", tiff_chain(count, looped)) {
            Ok(pages) => prop_assert!(count <= 1000 && pages.len() == count, "{} pages of {count}", pages.len()),
            Err(FileError::OverLimit(why)) => prop_assert!(count > 1000 && why.contains("limit"), "{count}: {why}"),
            // A chain that loops back is a damaged file; the TIFF reader may notice the cycle
            // before it hands out a page (one directory pointing at itself), and says so.
            Err(FileError::Damaged(why)) => prop_assert!(looped && why.contains("cycle"), "{count}: {why}"),
            Err(other) => prop_assert!(false, "{count}: {other}"),
        }
    }
}

#[test]
fn scanner_pdfs_nesting_30_000_and_a_million_deep() {
    for depth in [30_000, 1_000_000] {
        for kind in [Nest::Arrays, Nest::Dictionaries] {
            for place in [Place::Content, Place::Body, Place::ObjectStream] {
                assert_scan(kind, depth, place);
            }
        }
    }
}

#[test]
fn structures_that_would_crash_or_take_gigabytes_are_refused_plain_and_zipped() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a chain of 30,000 lengths", hostile::length_chain(30_000), "/Length"),
        ("an object stream measured by itself", hostile::self_measuring_object_stream(), "/Length"),
        ("60,000 arrays of 120 zeros", hostile::many_small_arrays(60_000, 120), "at most"),
        ("many objects in object streams", hostile::many_objects_in_streams(600_000), "at most"),
        ("entries into one object", hostile::overlapping_entries(200_000, 20_000), "at most"),
        ("copies of a megabyte", hostile::repeated_copies(10_000, 1 << 20), "at most"),
    ];
    for (what, pdf, words) in cases {
        let zip = zipped("scan.pdf", &pdf);
        match read("scan.pdf", pdf) {
            Err(FileError::OverLimit(why)) => assert!(why.contains(words), "{what}: {why}"),
            other => panic!("{what}: {other:?}"),
        }
        // In a zip the entry is refused on its own: one failed entry, no pages.
        let pages = read("scans.zip", zip).unwrap_or_else(|e| panic!("{what} zipped: {e}"));
        assert_eq!(pages, [(0, 0)], "{what} zipped");
    }
}

#[test]
fn a_tiff_directory_pointing_at_itself_is_a_damaged_file() {
    match read("loop.tif", tiff_chain(1, true)) {
        Ok(pages) => assert_eq!(pages.len(), 1),
        Err(FileError::Damaged(why)) => assert!(why.contains("cycle"), "{why}"),
        Err(other) => panic!("{other}"),
    }
}
