//! Reply PDFs from stored pages, checked with real PDF tools: qpdf says the file is sound,
//! pdfimages that the scanner's JPEG and fax data went in unchanged, pdftoppm that each page
//! comes out upright at its size. Tools come from `ops/test.sh`; a missing one fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use hybridpost_scan::document::{PdfPage, pages_pdf, thumbnail_png};
use hybridpost_scan::input::{Limits, Page, StoredImage, open};
use image::{GrayImage, Luma};

fn python() -> PathBuf {
    let python = std::env::var_os("HYBRIDPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/.venv/bin/python"));
    let ok = Command::new(&python).args(["-c", "import PIL"]).status().is_ok_and(|s| s.success());
    assert!(ok, "Python with Pillow not found at {}: run ops/test.sh (it makes ops/.venv)", python.display());
    python
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out =
        Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| {
            panic!("{program} cannot run ({e}): run ops/test.sh, it installs qpdf and poppler-utils")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A page with a dark block in its top-left corner, so a wrong turn shows.
fn page_image(w: u32, h: u32, bilevel: bool) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        let ink =
            (x < w / 4 && y < h / 8) || ((y / 16) % 3 == 0 && (x / 10) % 4 != 0 && y > h / 4 && x > 40 && x < w - 40);
        let paper = if bilevel { 255 } else { 230 - ((x / 20) % 4) as u8 * 10 };
        Luma([if ink { 0 } else { paper }])
    })
}

fn first_page(name: &str, bytes: Vec<u8>) -> Page {
    open(name, bytes, &Limits::default()).expect("opens").next().expect("a page").expect("decodes")
}

/// Mean absolute difference per pixel once both images are shrunk eight times, so a
/// renderer's row placement (pdftoppm repeats a row every hundred or so when the page size in
/// points is rounded) does not count; a page turned the wrong way differs by tens.
fn differing(a: &GrayImage, b: &GrayImage) -> f64 {
    assert!(
        a.width().abs_diff(b.width()) <= 1 && a.height().abs_diff(b.height()) <= 1,
        "{:?} vs {:?}",
        a.dimensions(),
        b.dimensions()
    );
    let (w, h) = (a.width().min(b.width()) / 8, a.height().min(b.height()) / 8);
    let (a, b) = (image::imageops::thumbnail(a, w, h), image::imageops::thumbnail(b, w, h));
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / f64::from(w * h)
}

#[test]
fn reply_pdf_keeps_jpeg_and_fax_data_passes_qpdf_and_renders_each_page_upright() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let grey = page_image(620, 877, false); // A4 at 75 dpi
    let bw = page_image(827, 1169, true); // A4 at 100 dpi
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&grey).expect("jpeg");
    bw.save(d.join("bw.png")).expect("png");
    let status = Command::new(python())
        .args(["-c", "from PIL import Image; Image.open('bw.png').convert('1').save('bw.tif', compression='group4', dpi=(100, 100))"])
        .current_dir(d)
        .status()
        .expect("python");
    assert!(status.success());
    let jpeg_page = first_page("grey.jpg", jpeg.clone());
    let fax_page = first_page("bw.tif", std::fs::read(d.join("bw.tif")).expect("tif"));
    let flate_page = first_page("grey.png", std::fs::read(d.join("bw.png")).expect("png"));
    assert_eq!(fax_page.stored.kind(), "ccitt");
    assert_eq!(flate_page.stored.kind(), "flate");
    let pages = [
        PdfPage { image: &jpeg_page.stored, dpi: Some(75.0), quarter_turns: 0 },
        PdfPage { image: &fax_page.stored, dpi: fax_page.dpi, quarter_turns: 1 },
        PdfPage { image: &flate_page.stored, dpi: None, quarter_turns: 2 },
        PdfPage { image: &jpeg_page.stored, dpi: Some(75.0), quarter_turns: 3 },
    ];
    let pdf = pages_pdf(&pages).expect("pdf");
    assert_eq!(pages_pdf(&pages).expect("pdf"), pdf, "the same pages give the same bytes");
    std::fs::write(d.join("reply.pdf"), &pdf).expect("write");

    let check = run(d, "qpdf", &["--check", "reply.pdf"]);
    assert!(check.contains("No syntax or stream encoding errors"), "{check}");

    // pdfimages -list: page, num, type, width, height, color, comp, bpc, enc, ...
    let list = run(d, "pdfimages", &["-list", "reply.pdf"]);
    let rows: Vec<Vec<&str>> = list.lines().skip(2).map(|l| l.split_whitespace().collect()).collect();
    let encodings: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[8], r[5])).collect();
    assert_eq!(
        encodings,
        [("1", "jpeg", "gray"), ("2", "ccitt", "gray"), ("3", "image", "gray"), ("4", "jpeg", "gray")],
        "{list}"
    );
    // The JPEG went in byte for byte.
    run(d, "pdfimages", &["-j", "-f", "1", "-l", "1", "reply.pdf", "img"]);
    assert_eq!(std::fs::read(d.join("img-000.jpg")).expect("extracted jpeg"), jpeg);

    // Page sizes: the image at its resolution, 200 dpi when unknown; turned by /Rotate.
    let info = run(d, "pdfinfo", &["-f", "1", "-l", "4", "reply.pdf"]);
    let sizes: Vec<&str> = info.lines().filter(|l| l.contains(" size:")).collect();
    assert!(sizes[0].contains("595.2 x 841.92 pts"), "{}", sizes[0]);
    assert!(sizes[2].contains("297.72 x 420.84 pts"), "{}", sizes[2]);
    let rots: Vec<&str> = info.lines().filter(|l| l.contains(" rot:")).map(|l| l.trim_end()).collect();
    assert!(rots[1].ends_with("90") && rots[2].ends_with("180") && rots[3].ends_with("270"), "{rots:?}");

    // Rendered at each page's own resolution, each page is the source turned upright.
    let render = |page: u32, dpi: u32| -> GrayImage {
        let p = page.to_string();
        run(
            d,
            "pdftoppm",
            &["-r", &dpi.to_string(), "-gray", "-png", "-f", &p, "-l", &p, "reply.pdf", &format!("page{p}")],
        );
        image::open(d.join(format!("page{p}-{p}.png"))).expect("rendered page").to_luma8()
    };
    let upright_jpeg = &jpeg_page.image;
    let close = |rendered: &GrayImage, expected: &GrayImage, what: &str| {
        let d = differing(rendered, expected);
        assert!(d < 6.0, "{what}: mean difference {d:.1}");
    };
    close(&render(1, 75), upright_jpeg, "page 1 as scanned");
    let page2 = render(2, 100);
    close(&page2, &image::imageops::rotate90(&bw), "page 2 turned a quarter clockwise");
    close(&render(3, 200), &image::imageops::rotate180(&bw), "page 3 turned half");
    close(&render(4, 75), &image::imageops::rotate270(upright_jpeg), "page 4 turned three quarters");
    // A page turned the wrong way is far from it.
    let wrong = differing(&page2, &image::imageops::rotate270(&bw));
    assert!(wrong > 20.0, "the wrong turn differs by only {wrong:.1}");
}

#[test]
fn cmyk_jpegs_get_a_cmyk_colour_space_and_empty_input_is_an_error() {
    let stored = StoredImage::Jpeg { bytes: vec![0xFF, 0xD8, 0xFF, 0xD9], width: 10, height: 10, components: 4 };
    let pdf = pages_pdf(&[PdfPage { image: &stored, dpi: None, quarter_turns: 0 }]).expect("pdf");
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/DeviceCMYK"), "{text}");
    assert!(pages_pdf(&[]).is_err());
}

#[test]
fn thumbnails_are_small_upright_pngs() {
    let img = page_image(827, 1169, false);
    let png = thumbnail_png(&img, 200, 1);
    let thumb = image::load_from_memory(&png).expect("a PNG").to_luma8();
    assert_eq!(thumb.dimensions(), (200, 141), "longer side 200, turned a quarter");
    // The dark corner block, top-left in the scan, is top-right once turned clockwise.
    assert!(thumb.get_pixel(190, 5)[0] < 60 && thumb.get_pixel(5, 5)[0] > 150);
    let same = image::load_from_memory(&thumbnail_png(&img, 2000, 0)).expect("png").to_luma8();
    assert_eq!(same, img, "no larger than the page itself");
}
