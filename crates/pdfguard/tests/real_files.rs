//! Well-formed files in the shapes real writers produce (qpdf rewrites one document with
//! object streams, cross-reference streams, linearization, incremental updates and
//! encryption) pass the guard, load, and are surveyed exactly: the survey counts the
//! objects lopdf builds. Needs `qpdf` (ops/test.sh installs it).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hybridpost_pdfguard::hostile::Writer;
use hybridpost_pdfguard::{Admit, Limits, load, survey};
use lopdf::{Document, Object};

/// `lopdf::Object` values in a loaded document, counted without recursion.
fn count_objects(doc: &Document) -> u64 {
    let mut stack: Vec<&Object> = doc.objects.values().collect();
    let mut n = 0;
    while let Some(o) = stack.pop() {
        n += 1;
        match o {
            Object::Array(items) => stack.extend(items),
            Object::Dictionary(d) => stack.extend(d.iter().map(|(_, v)| v)),
            Object::Stream(s) => stack.extend(s.dict.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    n
}

/// A document with the usual parts: pages with content, a font, an image, an outline, an
/// info dictionary with strings, a few arrays and numbers.
fn document(pages: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let catalog = w.add("<< /Type /Catalog /Pages 2 0 R /Outlines 3 0 R >>");
    w.add(format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        (0..pages).map(|i| format!("{} 0 R", 6 + i * 2)).collect::<Vec<_>>().join(" ")
    ));
    w.add("<< /Type /Outlines /Count 0 >>");
    w.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Widths [278 278 355 556 556 889] /FirstChar 32 /LastChar 37 >>");
    w.stream(
        "/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8",
        &[0x80; 64],
    );
    for i in 0..pages {
        let content = format!(
            "BT /F1 12 Tf 72 {} Td (Page {} \\(of {pages}\\)) Tj ET q 100 0 0 100 200 400 cm /Im1 Do Q",
            700 - i,
            i + 1
        );
        w.add(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << /Font << /F1 4 0 R >> /XObject << /Im1 5 0 R >> >> /Contents {} 0 R >>",
            7 + i * 2
        ));
        w.stream("", content.as_bytes());
    }
    w.add("<< /Title (A letter \\(test\\)) /Producer <FEFF0041> /Keywords [1 2.5 -3 /N true null] >>");
    w.finish(catalog)
}

fn qpdf(input: &Path, output: &Path, args: &[&str]) {
    let status = Command::new("qpdf").args(args).arg(input).arg(output).status().expect("qpdf (apt-get install qpdf)");
    // qpdf exits 3 on warnings, which still writes the file.
    assert!(status.success() || status.code() == Some(3), "qpdf {args:?}: {status}");
}

#[test]
fn files_as_qpdf_writes_them_pass_and_are_surveyed_exactly() {
    let dir = tempfile_dir();
    let plain = dir.join("plain.pdf");
    std::fs::write(&plain, document(12)).unwrap();
    let variants: &[(&str, &[&str])] = &[
        ("as is", &[]),
        ("object streams", &["--object-streams=generate"]),
        ("object streams, uncompressed", &["--object-streams=generate", "--compress-streams=n"]),
        ("linearized", &["--linearize"]),
        ("linearized with object streams", &["--linearize", "--object-streams=generate"]),
        ("qdf", &["--qdf"]),
        ("RC4 40-bit, empty user password", &["--allow-weak-crypto", "--encrypt", "", "owner", "40", "--"]),
        ("AES-128, empty user password", &["--encrypt", "", "owner", "128", "--use-aes=y", "--"]),
        (
            "AES-256, empty user password, object streams",
            &["--encrypt", "", "owner", "256", "--", "--object-streams=generate"],
        ),
        ("AES-256 with a user password", &["--encrypt", "user", "owner", "256", "--"]),
    ];
    for (what, args) in variants {
        let path = dir.join(format!("{}.pdf", what.replace([' ', ','], "_")));
        qpdf(&plain, &path, args);
        let bytes = std::fs::read(&path).unwrap();
        let found = survey(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let doc = load(&bytes, &Limits::default(), Admit::file(&bytes, Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        if !what.contains("user password") {
            assert_eq!(found.objects, count_objects(&doc), "{what}: {found:?}");
            assert_eq!(doc.get_pages().len(), 12, "{what}");
        }
        assert!(found.memory_bytes >= bytes.len() as u64 / 2, "{what}: {found:?}");
    }
    // An incremental update: the same file with a page's content appended after it.
    let mut updated = std::fs::read(&plain).unwrap();
    let mut doc = Document::load_mem(&updated).unwrap();
    let page = doc.get_pages()[&1];
    doc.get_dictionary_mut(page).unwrap().set("Rotate", 90);
    let mut tail = Vec::new();
    let mut incremental = lopdf::IncrementalDocument::create_from(updated.clone(), doc);
    incremental.new_document.set_object(page, incremental.get_prev_documents().get_object(page).unwrap().clone());
    incremental.save_to(&mut tail).unwrap();
    updated = tail;
    let found = survey(&updated, &Limits::default()).unwrap();
    let doc = load(&updated, &Limits::default(), Admit::file(&updated, Duration::from_secs(60))).unwrap();
    assert_eq!(found.objects, count_objects(&doc));
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pdfguard-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
