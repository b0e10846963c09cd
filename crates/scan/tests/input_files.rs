//! Scan files made by real tools (Pillow, img2pdf, qpdf, Python's zipfile, our own lopdf
//! writer for scanner-like PDFs) read through `input::open`: page counts, sizes, resolutions,
//! pixels, stored forms, and every bad file with its own error.
//!
//! The tools come from `ops/test.sh` (Debian's qpdf, the venv's Pillow and img2pdf); a missing
//! tool fails the test with a message saying so, nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use hybridpost_scan::input::{FileError, Limits, Page, PageError, StoredImage, content_hash, open};
use image::{GrayImage, Luma};
use lopdf::{Dictionary, Document, Object, Stream, dictionary};

fn python() -> PathBuf {
    let python = std::env::var_os("HYBRIDPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/.venv/bin/python"));
    let ok = Command::new(&python).args(["-c", "import PIL, img2pdf"]).status().is_ok_and(|s| s.success());
    assert!(
        ok,
        "Python with Pillow and img2pdf not found at {}: run ops/test.sh (it makes ops/.venv)",
        python.display()
    );
    python
}

fn need(tool: &str) {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: run ops/test.sh (it installs qpdf and poppler-utils)");
}

/// Runs a Python script in `dir`.
fn py(dir: &Path, script: &str) {
    let out = Command::new(python()).arg("-c").arg(script).current_dir(dir).output().expect("python runs");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A page-like grey picture: bands of grey, dark blocks like lines of text, a frame.
fn grey_page(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        let text = (y / 12) % 3 == 0 && (x / 9) % 4 != 0 && x > 60 && x < w - 60 && y > 100;
        let v = if x < 4 || y < 4 || x >= w - 4 || y >= h - 4 || text { 20 } else { 200 + ((x + y) % 50) as u8 };
        Luma([v])
    })
}

/// The same picture in black and white, with a marker in the top-left corner so a turn shows.
fn bw_page(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        let text = (y / 10) % 3 == 0 && (x / 7) % 5 != 0 && x > 50 && x < w - 50 && y > 80;
        let corner = x < 120 && y < 60;
        Luma([if text || corner || x < 3 || y < 3 { 0 } else { 255 }])
    })
}

fn read(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<(u32, Vec<Result<Page, PageError>>), FileError> {
    let reader = open(name, bytes, limits)?;
    let count = reader.page_count();
    Ok((count, reader.collect()))
}

fn pages(name: &str, bytes: Vec<u8>) -> Vec<Page> {
    let (count, items) = read(name, bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let pages: Vec<Page> = items.into_iter().map(|p| p.unwrap_or_else(|e| panic!("{name}: {e}"))).collect();
    assert_eq!(pages.len() as u32, count, "{name}: page_count and pages read agree");
    pages
}

fn png_bytes(img: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

fn jpeg_bytes(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(img).expect("jpeg");
    out
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn a_jpeg_pdf_from_img2pdf_keeps_the_jpeg_unchanged_and_hashes_like_the_jpeg_itself() {
    let dir = tmp();
    let img = grey_page(1240, 1754); // A4 at 150 dpi
    let jpeg = jpeg_bytes(&img);
    std::fs::write(dir.path().join("page.jpg"), &jpeg).expect("write");
    py(
        dir.path(),
        "import img2pdf; open('page.pdf','wb').write(img2pdf.convert('page.jpg', layout_fun=img2pdf.get_fixed_dpi_layout_fun((150,150))))",
    );
    let pdf = std::fs::read(dir.path().join("page.pdf")).expect("pdf");

    let from_pdf = pages("page.pdf", pdf);
    assert_eq!(from_pdf.len(), 1);
    let page = &from_pdf[0];
    assert_eq!(page.image.dimensions(), (1240, 1754));
    assert_eq!(page.dpi, Some(150.0));
    assert_eq!(page.number, 1);
    assert_eq!(page.entry, None);
    match &page.stored {
        StoredImage::Jpeg { bytes, width, height, components } => {
            assert_eq!(bytes, &jpeg, "the scanner's JPEG is kept byte for byte");
            assert_eq!((*width, *height, *components), (1240, 1754, 1));
        }
        other => panic!("expected a JPEG, got {}", other.kind()),
    }
    // The JPEG on its own decodes to the same pixels, so the same hash.
    let alone = pages("page.jpg", jpeg);
    assert_eq!(alone[0].content_hash, page.content_hash);
    // And the pixels are the picture, within JPEG's error.
    let diff: u64 = page.image.as_raw().iter().zip(img.as_raw()).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
    assert!(diff / (1240 * 1754) < 4, "mean error {}", diff / (1240 * 1754));
}

#[test]
fn a_ccitt_g4_pdf_and_g4_g3_lzw_deflate_packbits_tiffs_decode_to_the_exact_pattern() {
    let dir = tmp();
    let bw = bw_page(1240, 1754);
    let grey = grey_page(1240, 1754);
    std::fs::write(dir.path().join("bw.png"), png_bytes(&bw)).expect("write");
    std::fs::write(dir.path().join("grey.png"), png_bytes(&grey)).expect("write");
    py(
        dir.path(),
        r#"
from PIL import Image
import img2pdf
bw = Image.open('bw.png').convert('1')
grey = Image.open('grey.png')
# One strip: img2pdf then embeds the Group 4 data as it is.
bw.save('one.tif', compression='group4', dpi=(150, 150), strip_size=10**9)
open('g4.pdf', 'wb').write(img2pdf.convert('one.tif'))
bw.save('g4.tif', compression='group4', save_all=True, append_images=[bw, bw], dpi=(150, 150))
bw.save('g3.tif', compression='group3', dpi=(150, 150))
grey.save('mixed.tif', compression='tiff_lzw', save_all=True, dpi=(300, 300),
          append_images=[grey.convert('RGB'), bw])
grey.save('deflate.tif', compression='tiff_deflate', dpi=(150, 150))
bw.save('packbits.tif', compression='packbits', dpi=(150, 150))
"#,
    );
    let file = |name: &str| std::fs::read(dir.path().join(name)).expect(name);
    let bw_hash = content_hash(&bw);

    let g4_pdf = pages("g4.pdf", file("g4.pdf"));
    assert_eq!(g4_pdf.len(), 1);
    assert_eq!(g4_pdf[0].image, bw, "the G4 page in the PDF decodes to the pattern");
    assert_eq!(g4_pdf[0].dpi, Some(150.0));
    assert_eq!(g4_pdf[0].content_hash, bw_hash, "the same page as PDF and as PNG hashes equal");
    assert_eq!(pages("bw.png", file("bw.png"))[0].content_hash, bw_hash);
    let pdf_doc = Document::load_mem(&file("g4.pdf")).expect("img2pdf's PDF");
    let original =
        pdf_doc.objects.values().find_map(|o| o.as_stream().ok().filter(|s| s.dict.has(b"Width"))).expect("image");
    match &g4_pdf[0].stored {
        StoredImage::Ccitt { bytes, k, .. } => {
            assert_eq!(bytes, &original.content, "the fax data is kept unchanged");
            assert!(*k < 0);
        }
        other => panic!("expected CCITT, got {}", other.kind()),
    }

    let g4 = pages("g4.tif", file("g4.tif"));
    assert_eq!(g4.len(), 3);
    for p in &g4 {
        assert_eq!(p.image, bw, "TIFF G4 page {}", p.number);
        assert_eq!(p.dpi, Some(150.0));
        assert_eq!(p.stored.kind(), "ccitt");
    }
    assert_eq!(g4.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2, 3]);

    let g3 = pages("g3.tif", file("g3.tif"));
    assert_eq!(g3[0].image, bw, "TIFF Group 3");

    let mixed = pages("mixed.tif", file("mixed.tif"));
    assert_eq!(mixed.len(), 3);
    assert_eq!(mixed[0].image, grey, "LZW grey");
    assert_eq!(mixed[0].dpi, Some(300.0));
    let rgb_diff = mixed[1].image.as_raw().iter().zip(grey.as_raw()).map(|(a, b)| a.abs_diff(*b)).max();
    assert!(rgb_diff <= Some(1), "LZW RGB of grey to grey");
    assert_eq!(mixed[2].image, bw, "LZW one bit");
    assert_eq!(mixed[2].stored.kind(), "ccitt", "black and white pages are kept as Group 4");

    assert_eq!(pages("deflate.tif", file("deflate.tif"))[0].image, grey, "Deflate");
    assert_eq!(pages("packbits.tif", file("packbits.tif"))[0].image, bw, "PackBits");
}

#[test]
fn group_3_two_dimensional_fax_from_libtiff_decodes_from_tiff_and_from_a_pdf() {
    // libtiff's own encoder (tiffcp, libtiff-tools), with and without fill bits before each
    // end-of-line; the same data as a PDF's /CCITTFaxDecode with /K > 0. Needs tiffcp: without
    // it this test fails, it does not skip.
    let dir = tmp();
    let bw = bw_page(1240, 1754);
    std::fs::write(dir.path().join("bw.png"), png_bytes(&bw)).expect("write");
    py(dir.path(), "from PIL import Image\nImage.open('bw.png').convert('1').save('plain.tif', dpi=(150, 150))\n");
    for (scheme, name) in [("g3:2d", "g3-2d.tif"), ("g3:2d:fill", "g3-2d-fill.tif")] {
        let out = Command::new("tiffcp")
            .args(["-c", scheme, "-r", "100000", "plain.tif", name])
            .current_dir(dir.path())
            .output()
            .expect("tiffcp runs (apt-get install libtiff-tools; ops/test.sh installs it)");
        assert!(out.status.success(), "tiffcp -c {scheme}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let file = |name: &str| std::fs::read(dir.path().join(name)).expect(name);
    for name in ["g3-2d.tif", "g3-2d-fill.tif"] {
        let got = pages(name, file(name));
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0].image, bw, "{name} decodes to the pattern");
        assert_eq!(got[0].dpi, Some(150.0), "{name}");
    }
    // The strip as a PDF image, as a scanner writing Group 3 would embed it.
    py(
        dir.path(),
        r#"
from PIL import Image
import json
for name in ['g3-2d.tif', 'g3-2d-fill.tif']:
    im = Image.open(name)
    tags = im.tag_v2
    (offset,), (count,) = tags[273], tags[279]
    data = open(name, 'rb').read()[offset:offset + count]
    open(name + '.fax', 'wb').write(data)
    json.dump({'compression': tags[259], 't4': tags.get(292, 0), 'photometric': tags[262]}, open(name + '.json', 'w'))
"#,
    );
    for name in ["g3-2d.tif", "g3-2d-fill.tif"] {
        let tags: serde_json::Value = serde_json::from_slice(&file(&format!("{name}.json"))).expect("the tags as JSON");
        assert_eq!(tags["compression"], 3, "{name} is Group 3");
        let t4 = tags["t4"].as_i64().expect("T4Options");
        assert_eq!(t4 & 1, 1, "{name} is two-dimensional");
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 1240, "Height" => 1754,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 1, "Filter" => "CCITTFaxDecode",
                "DecodeParms" => dictionary! {
                    "K" => 4, "Columns" => 1240, "Rows" => 1754, "EndOfLine" => true,
                    "EncodedByteAlign" => t4 & 4 != 0,
                    // A TIFF that says black is zero codes its white pixels as "black" runs.
                    "BlackIs1" => tags["photometric"] == 1,
                },
            },
            file(&format!("{name}.fax")),
        );
        let (_, items) = read("g3.pdf", scanner_pdf(vec![(image, false)]), &Limits::default()).expect("the PDF opens");
        let page = items.into_iter().next().expect("a first page").expect("the fax page reads");
        assert_eq!(page.image, bw, "{name} in a PDF decodes to the pattern");
        match &page.stored {
            StoredImage::Ccitt { k, .. } => assert!(*k > 0, "kept as Group 3 mixed, k = {k}"),
            other => panic!("expected CCITT, got {}", other.kind()),
        }
    }
}

/// A PDF as scanners write them, by hand: each page one image, some inside a form with a CTM.
fn scanner_pdf(pages: Vec<(Stream, bool)>) -> Vec<u8> {
    let mut doc = Document::with_version("1.4");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for (image, in_form) in pages {
        let image_id = doc.add_object(image);
        let (xobject, content) = if in_form {
            let form = Stream::new(
                dictionary! {
                    "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 1.into(), 1.into()],
                    "Resources" => dictionary! { "XObject" => dictionary! { "Im7" => image_id } },
                },
                b"q 1 0 0 1 0 0 cm /Im7 Do Q".to_vec(),
            );
            (doc.add_object(form), "q 595.2 0 0 841.92 0 0 cm /Fm0 Do Q")
        } else {
            (image_id, "q 595.2 0 0 841.92 0 0 cm /Fm0 Do Q")
        };
        let content_id = doc.add_object(Stream::new(Dictionary::new(), content.as_bytes().to_vec()));
        kids.push(Object::Reference(doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(595.2), Object::Real(841.92)],
            "Resources" => dictionary! { "XObject" => dictionary! { "Fm0" => xobject } },
            "Contents" => content_id,
        })));
    }
    // A page made on a computer: text, no image.
    let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let text = doc.add_object(Stream::new(Dictionary::new(), b"BT /F1 12 Tf 72 720 Td (typed letter) Tj ET".to_vec()));
    kids.push(Object::Reference(doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        "Contents" => text,
    })));
    let count = kids.len() as i64;
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).expect("zlib");
    z.finish().expect("zlib")
}

fn image_dict(w: u32, h: u32, space: &str, bpc: i64, filter: &str) -> Dictionary {
    dictionary! {
        "Type" => "XObject", "Subtype" => "Image", "Width" => i64::from(w), "Height" => i64::from(h),
        "ColorSpace" => Object::Name(space.as_bytes().to_vec()), "BitsPerComponent" => bpc,
        "Filter" => Object::Name(filter.as_bytes().to_vec()),
    }
}

#[test]
fn flate_pdf_pages_grey_one_bit_with_png_predictor_rgb_and_indexed_decode_and_jbig2_and_typed_pages_are_refused() {
    let (w, h) = (1240, 1754);
    let grey = grey_page(w, h);
    let bw = bw_page(w, h);
    let grey_z = zlib(grey.as_raw());

    // 1-bit rows, 1 = white, each row behind a PNG "Up" filter byte (predictor 12).
    let row_bytes = (w as usize).div_ceil(8);
    let mut packed = vec![0u8; row_bytes * h as usize];
    for (i, v) in bw.as_raw().iter().enumerate() {
        let (y, x) = (i / w as usize, i % w as usize);
        if *v == 255 {
            packed[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
        }
    }
    let mut predicted = Vec::new();
    let mut prev = vec![0u8; row_bytes];
    for row in packed.chunks(row_bytes) {
        predicted.push(2);
        predicted.extend(row.iter().zip(&prev).map(|(a, b)| a.wrapping_sub(*b)));
        prev = row.to_vec();
    }
    let mut one_bit = image_dict(w, h, "DeviceGray", 1, "FlateDecode");
    one_bit.set(
        "DecodeParms",
        dictionary! { "Predictor" => 12, "Colors" => 1, "BitsPerComponent" => 1, "Columns" => i64::from(w) },
    );
    let rgb: Vec<u8> = grey.as_raw().iter().flat_map(|&v| [v, v, v]).collect();
    let jbig2 = image_dict(w, h, "DeviceGray", 1, "JBIG2Decode");
    // A palette of greys as RGB: index i is (i, i, i).
    let mut indexed = image_dict(w, h, "DeviceGray", 8, "FlateDecode");
    let lookup: Vec<u8> = (0..=255u8).flat_map(|i| [i, i, i]).collect();
    indexed.set(
        "ColorSpace",
        vec![
            Object::Name(b"Indexed".to_vec()),
            Object::Name(b"DeviceRGB".to_vec()),
            255.into(),
            Object::String(lookup, lopdf::StringFormat::Hexadecimal),
        ],
    );

    let pdf = scanner_pdf(vec![
        (Stream::new(image_dict(w, h, "DeviceGray", 8, "FlateDecode"), grey_z.clone()), true),
        (Stream::new(one_bit, zlib(&predicted)), false),
        (Stream::new(image_dict(w, h, "DeviceRGB", 8, "FlateDecode"), zlib(&rgb)), true),
        (Stream::new(jbig2, vec![0, 0, 0, 1, 2, 3]), false),
        (Stream::new(indexed, grey_z.clone()), false),
    ]);
    let (count, items) = read("scanner.pdf", pdf, &Limits::default()).expect("opens");
    assert_eq!(count, 6);
    let page = |i: usize| items[i].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page(0).image, grey, "grey Flate inside a form");
    assert_eq!(page(0).dpi, Some(150.0));
    assert_eq!(
        page(0).stored,
        StoredImage::FlateGray { bytes: grey_z, width: w, height: h },
        "the scanner's zlib stream is kept"
    );
    assert_eq!(page(1).image, bw, "1-bit Flate with the PNG predictor");
    assert_eq!(page(1).stored.kind(), "ccitt");
    let diff = page(2).image.as_raw().iter().zip(grey.as_raw()).map(|(a, b)| a.abs_diff(*b)).max();
    assert!(diff <= Some(1), "RGB Flate to grey");
    let err = items[3].as_ref().expect_err("JBIG2 is refused");
    assert_eq!(err.number, 4);
    assert!(err.reason.contains("JBIG2"), "{err}");
    assert_eq!(page(4).image, grey, "an indexed palette of greys");
    let err = items[5].as_ref().expect_err("a typed page is refused");
    assert!(err.reason.contains("no scanned image"), "{err}");
}

#[test]
fn png_and_jpeg_files_give_their_resolution_and_pixels() {
    let dir = tmp();
    let grey = grey_page(850, 1100);
    std::fs::write(dir.path().join("g.png"), png_bytes(&grey)).expect("write");
    py(
        dir.path(),
        "from PIL import Image\nim = Image.open('g.png')\nim.save('dpi.png', dpi=(200, 200))\nim.convert('RGB').save('dpi.jpg', dpi=(300, 300), quality=90)\nim.convert('RGBA').save('rgba.png')",
    );
    let file = |name: &str| std::fs::read(dir.path().join(name)).expect(name);
    let png = pages("dpi.png", file("dpi.png"));
    assert_eq!(png[0].image, grey);
    assert_eq!(png[0].dpi, Some(200.0));
    assert_eq!(png[0].stored.kind(), "flate");
    let jpg = pages("dpi.jpg", file("dpi.jpg"));
    assert_eq!(jpg[0].dpi, Some(300.0));
    assert_eq!(jpg[0].image.dimensions(), (850, 1100));
    assert!(matches!(jpg[0].stored, StoredImage::Jpeg { components: 3, .. }));
    let rgba = pages("rgba.png", file("rgba.png"));
    assert_eq!(rgba[0].image, grey, "opaque RGBA of grey is the grey");
    assert_eq!(rgba[0].dpi, None);
}

/// Peak resident memory of this process so far, kB (`VmHWM`, proc(5)).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn bad_files_among_good_ones_each_get_their_own_clear_error_and_memory_stays_sane() {
    need("qpdf");
    let dir = tmp();
    let grey = grey_page(620, 877);
    std::fs::write(dir.path().join("g.jpg"), jpeg_bytes(&grey)).expect("write");
    py(
        dir.path(),
        r#"
import img2pdf, struct, zlib
open('good.pdf', 'wb').write(img2pdf.convert('g.jpg', 'g.jpg'))
# A 40000x40000 one-bit PNG, written row by row: a few hundred kB on disk.
w = h = 40000
z = zlib.compressobj(9)
row = b'\0' * (1 + w // 8)
body = b''.join(z.compress(row) for _ in range(h)) + z.flush()
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 1, 0, 0, 0, 0)) + chunk(b'IDAT', body) + chunk(b'IEND', b'')
open('huge.png', 'wb').write(png)
open('letter.txt', 'w').write('Dear sir, this is a reply typed as text.\n' * 20)
"#,
    );
    let good = std::fs::read(dir.path().join("good.pdf")).expect("good.pdf");
    let qpdf = |args: &[&str]| {
        let out = Command::new("qpdf").args(args).current_dir(dir.path()).output().expect("qpdf runs");
        assert!(out.status.success(), "qpdf: {}", String::from_utf8_lossy(&out.stderr));
    };
    qpdf(&["--encrypt", "user", "owner", "256", "--", "good.pdf", "locked.pdf"]);
    // Restrictions only, no password to open: a viewer opens it, so do we.
    qpdf(&["--encrypt", "", "owner", "256", "--", "good.pdf", "restricted.pdf"]);
    let file = |name: &str| std::fs::read(dir.path().join(name)).expect(name);

    let limits = Limits::default();
    let mut good_pages = 0;
    let expect_file_error = |name: &str, bytes: Vec<u8>, text: &str| {
        let err = read(name, bytes, &limits).expect_err(name).to_string();
        assert!(err.contains(text), "{name}: {err:?} should say {text:?}");
    };
    for (name, bytes) in
        [("good.pdf", good.clone()), ("restricted.pdf", file("restricted.pdf")), ("g.jpg", file("g.jpg"))]
    {
        good_pages += pages(name, bytes).len();
    }
    assert_eq!(good_pages, 5, "2 + 2 PDF pages and the JPEG");
    expect_file_error("cut.pdf", good[..good.len() * 2 / 3].to_vec(), "the file is damaged");
    expect_file_error("empty.pdf", Vec::new(), "the file is empty (0 bytes)");
    expect_file_error(
        "letter.pdf",
        file("letter.txt"),
        "not a scan: the file is not a PDF, TIFF, PNG, JPEG or zip (it looks like text)",
    );
    expect_file_error("locked.pdf", file("locked.pdf"), "the PDF is password-protected");
    assert_eq!(read("locked.pdf", file("locked.pdf"), &limits).expect_err("locked"), FileError::Encrypted);

    let before = peak_rss_kb();
    let (count, items) = read("huge.png", file("huge.png"), &limits).expect("the PNG opens; its page is refused");
    assert_eq!(count, 1);
    let err = items[0].as_ref().expect_err("40000x40000 is refused");
    assert_eq!(err.number, 1);
    assert!(err.reason.contains("40000x40000 pixels, the limit is 12000 pixels per side"), "{err}");
    let grown_mb = peak_rss_kb().saturating_sub(before) / 1024;
    assert!(grown_mb < 1024, "peak memory grew by {grown_mb} MB reading a refused page");
}

#[test]
fn too_many_pages_is_refused_for_the_whole_file() {
    let dir = tmp();
    std::fs::write(dir.path().join("bw.png"), png_bytes(&bw_page(200, 280))).expect("write");
    py(
        dir.path(),
        "from PIL import Image\nbw = Image.open('bw.png').convert('1')\nbw.save('five.tif', compression='group4', save_all=True, append_images=[bw] * 4)",
    );
    let limits = Limits { max_pages: 3, ..Limits::default() };
    let err = read("five.tif", std::fs::read(dir.path().join("five.tif")).expect("tif"), &limits).expect_err("5 > 3");
    assert_eq!(err, FileError::OverLimit("the file has 5 pages, the limit is 3; split it into smaller files".into()));
}

#[test]
fn a_zip_reads_its_good_entries_in_order_and_gives_each_bad_one_its_error() {
    let dir = tmp();
    std::fs::write(dir.path().join("bw.png"), png_bytes(&bw_page(300, 420))).expect("write");
    std::fs::write(dir.path().join("g.jpg"), jpeg_bytes(&grey_page(300, 420))).expect("write");
    py(
        dir.path(),
        r#"
import zipfile, img2pdf
from PIL import Image
bw = Image.open('bw.png').convert('1')
bw.save('two.tif', compression='group4', save_all=True, append_images=[bw])
open('one.pdf', 'wb').write(img2pdf.convert('g.jpg'))
with zipfile.ZipFile('inner.zip', 'w') as z:
    z.write('g.jpg')
with zipfile.ZipFile('batch.zip', 'w', zipfile.ZIP_DEFLATED) as z:
    z.write('one.pdf', 'office 12/one.pdf')
    z.writestr('office 12/', '')
    z.write('two.tif', '../../two.tif')
    z.writestr('notes.txt', 'not a scan')
    z.write('inner.zip', 'inner.zip')
    z.writestr('__MACOSX/._one.pdf', 'resource fork')
    z.write('g.jpg', 'last.jpg')
"#,
    );
    let (count, items) =
        read("batch.zip", std::fs::read(dir.path().join("batch.zip")).expect("zip"), &Limits::default())
            .expect("opens");
    assert_eq!(count, 6, "1 + 2 pages, 2 bad entries, 1 page");
    let summary: Vec<(u32, Option<String>, bool)> = items
        .iter()
        .map(|i| match i {
            Ok(p) => (p.number, p.entry.clone(), true),
            Err(e) => (e.number, e.entry.clone(), false),
        })
        .collect();
    let entry = |s: &str| Some(s.to_owned());
    assert_eq!(
        summary,
        [
            (1, entry("office 12/one.pdf"), true),
            (2, entry("../../two.tif"), true),
            (3, entry("../../two.tif"), true),
            (4, entry("notes.txt"), false),
            (5, entry("inner.zip"), false),
            (6, entry("last.jpg"), true),
        ]
    );
    assert!(items[3].as_ref().expect_err("text").reason.contains("not a scan"));
    assert!(items[4].as_ref().expect_err("nested").reason.contains("zip inside a zip"));
}

#[test]
fn zip_bombs_are_refused_before_they_expand() {
    let dir = tmp();
    py(
        dir.path(),
        r#"
import zipfile, struct
with zipfile.ZipFile('big.zip', 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('a.tif', b'II*\0' + b'\0' * (300 << 20))
# One entry that claims 100 bytes and inflates to 64 MiB.
with zipfile.ZipFile('liar.zip', 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('b.tif', b'II*\0' + b'\0' * (64 << 20))
data = bytearray(open('liar.zip', 'rb').read())
struct.pack_into('<I', data, 22, 100)
cd = data.rfind(b'PK\x01\x02')
struct.pack_into('<I', data, cd + 24, 100)
open('liar.zip', 'wb').write(bytes(data))
"#,
    );
    let limits = Limits { max_zip_bytes: 100 << 20, max_file_bytes: 20 << 20, ..Limits::default() };
    let before = peak_rss_kb();
    let big =
        read("big.zip", std::fs::read(dir.path().join("big.zip")).expect("zip"), &limits).expect_err("claims 300 MiB");
    assert!(matches!(&big, FileError::OverLimit(m) if m.contains("the limit is 100 MiB")), "{big}");
    // The zip reader stops at the size the entry claims: the entry is refused, not inflated.
    let (count, items) =
        read("liar.zip", std::fs::read(dir.path().join("liar.zip")).expect("zip"), &limits).expect("opens");
    assert_eq!(count, 1);
    let err = items[0].as_ref().expect_err("the lying entry gives no page");
    assert!(err.reason.contains("larger than its declared uncompressed size"), "{err}");
    let grown_mb = peak_rss_kb().saturating_sub(before) / 1024;
    assert!(grown_mb < 200, "peak memory grew by {grown_mb} MB");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Small real files of every kind, to mutate.
    fn seeds() -> Vec<Vec<u8>> {
        static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        SEEDS
            .get_or_init(|| {
                let bw = bw_page(64, 48);
                let grey = grey_page(64, 48);
                let g4 = hybridpost_scan::input::open("x.png", png_bytes(&bw), &Limits::default())
                    .expect("png")
                    .next()
                    .expect("page")
                    .expect("page")
                    .stored;
                let mut ccitt = image_dict(64, 48, "DeviceGray", 1, "CCITTFaxDecode");
                ccitt.set("DecodeParms", dictionary! { "K" => -1, "Columns" => 64, "Rows" => 48 });
                let pdf = scanner_pdf(vec![
                    (Stream::new(image_dict(64, 48, "DeviceGray", 8, "DCTDecode"), jpeg_bytes(&grey)), false),
                    (Stream::new(ccitt, g4.bytes().to_vec()), true),
                    (Stream::new(image_dict(64, 48, "DeviceGray", 8, "FlateDecode"), zlib(grey.as_raw())), false),
                ]);
                let mut tiff = std::io::Cursor::new(Vec::new());
                grey.write_to(&mut tiff, image::ImageFormat::Tiff).expect("tiff");
                vec![pdf, png_bytes(&grey), jpeg_bytes(&grey), tiff.into_inner()]
            })
            .clone()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn no_file_makes_the_reader_panic(
            seed in 0usize..5,
            edits in proptest::collection::vec((any::<u32>(), any::<u8>()), 0..12),
            cut in any::<u32>(),
            noise in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let limits = Limits { max_side: 2000, max_pixels: 2_000_000, max_alloc_bytes: 64 << 20, ..Limits::default() };
            let mut bytes = match seeds().get(seed) {
                Some(s) => s.clone(),
                None => [b"%PDF-1.4\n".as_slice(), b"II*\0", b"MM\0*", b"PK\x03\x04"][noise.len() % 4].iter().copied().chain(noise.iter().copied()).collect(),
            };
            for (at, value) in edits {
                if !bytes.is_empty() {
                    let i = at as usize % bytes.len();
                    bytes[i] = value;
                }
            }
            if cut % 3 == 0 && !bytes.is_empty() {
                bytes.truncate(cut as usize % bytes.len());
            }
            if let Ok(reader) = open("fuzz", bytes, &limits) {
                let count = reader.page_count();
                prop_assert_eq!(reader.count() as u32, count);
            }
        }
    }
}
