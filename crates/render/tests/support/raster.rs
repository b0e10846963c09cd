//! Pages as pictures, measured: a PDF page rasterised by pdftoppm at 300 dpi and the box of ink
//! in a part of it, in millimetres. Shared by the renderer's and the API's emblem tests.
#![allow(dead_code, reason = "each test file uses what it needs")]

use std::path::Path;
use std::process::Command;

/// The resolution pages are rasterised at.
pub const DPI: f64 = 300.0;

/// Runs `tool` with `args` and returns its standard output; fails if it fails.
pub fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install poppler-utils qpdf): {e}"));
    assert!(
        output.status.success(),
        "{tool} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Page `page` (from 1) of `pdf` in grey at 300 dpi, as pdftoppm draws it: width, height, samples.
pub fn raster(pdf: &Path, page: usize) -> (usize, usize, Vec<u8>) {
    let out = format!("{}-p{page}", pdf.with_extension("").display());
    let page = page.to_string();
    run("pdftoppm", &["-gray", "-r", "300", "-f", &page, "-l", &page, "-singlefile", pdf.to_str().unwrap(), &out]);
    parse_pgm(&std::fs::read(format!("{out}.pgm")).unwrap())
}

/// A binary greyscale PGM (P5: "P5 <width> <height> 255", one whitespace byte, then one byte per
/// pixel): width, height and samples.
pub fn parse_pgm(pgm: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(std::str::from_utf8(&pgm[start..at]).unwrap().to_owned());
    }
    assert_eq!(fields[0], "P5");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let samples = pgm[at + 1..].to_vec();
    assert_eq!(samples.len(), w * h);
    (w, h, samples)
}

/// The smallest box (x0, y0, x1, y1 in pixels, inclusive) of pixels darker than mid-grey inside
/// the box `within` given in mm; `None` when it is blank.
pub fn ink_box(
    (w, _, samples): &(usize, usize, Vec<u8>),
    within: (f64, f64, f64, f64),
) -> Option<(usize, usize, usize, usize)> {
    let px = |mm: f64| (mm / 25.4 * DPI).round() as usize;
    let (x0, y0, x1, y1) = (px(within.0), px(within.1), px(within.2), px(within.3));
    let mut found: Option<(usize, usize, usize, usize)> = None;
    for y in y0..y1 {
        for x in x0..x1 {
            if samples[y * w + x] < 200 {
                found = Some(match found {
                    None => (x, y, x, y),
                    Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
                });
            }
        }
    }
    found
}

pub fn mm(pixels: usize) -> f64 {
    pixels as f64 / DPI * 25.4
}
