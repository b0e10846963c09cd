//! Paper for the demo: the pages of a batch PDF that will come back are "printed" by
//! rasterising them (qpdf picks them out of the batch, pdftoppm rasterises them in grey, and
//! they wait for the scanner as PNG: a 100,000-letter run rasterises 9,000 pages, 20 GB as
//! pdftoppm writes them and under 1 GB as PNG),
//! citizens "fill in" reply sheets with handwriting-like strokes, and the post office "scans"
//! them with the damage scanners do ([`hybridpost_scan::degrade`]) into PDFs as document
//! scanners write them (one JPEG per page).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use hybridpost_scan::degrade::{self, Rng};
use hybridpost_scan::document::{PdfPage, pages_pdf};
use hybridpost_scan::input::StoredImage;
use image::{GrayImage, Luma};

/// Checks that the command line tools the demo runs are installed.
pub fn check_tools() -> anyhow::Result<()> {
    for (tool, arg) in [("pdftoppm", "-v"), ("qpdf", "--version")] {
        Command::new(tool).arg(arg).output().with_context(|| {
            format!("the demo runs {tool}, which is not installed: apt-get install poppler-utils qpdf")
        })?;
    }
    Ok(())
}

/// Pages of a PDF to rasterise at one resolution: their numbers (from 1), the resolution, and
/// the folder for their files.
pub struct Pick<'a> {
    pub pages: &'a [u32],
    pub dpi: u32,
    pub dir: &'a Path,
}

/// Rasterises the pages of each pick out of `pdf`, in grey at the pick's resolution: one qpdf
/// run copies them all into a smaller PDF (reading the batch once), then `processes` pdftoppm
/// processes per pick share it, all at once, and as many threads turn their PGM files into
/// PNG. Returns, per pick, one PNG file per page, in the order of its pages, in its folder.
pub fn rasterise(pdf: &Path, picks: &[Pick<'_>], processes: usize) -> anyhow::Result<Vec<Vec<PathBuf>>> {
    let Some(first) = picks.iter().find(|p| !p.pages.is_empty()) else {
        return Ok(picks.iter().map(|_| Vec::new()).collect());
    };
    for pick in picks {
        std::fs::create_dir_all(pick.dir).with_context(|| format!("cannot make {}", pick.dir.display()))?;
    }
    let picked = first.dir.join("picked.pdf");
    let mut qpdf = Command::new("qpdf");
    qpdf.arg("--empty").arg("--pages");
    for pick in picks.iter().filter(|p| !p.pages.is_empty()) {
        let list: Vec<String> = pick.pages.iter().map(u32::to_string).collect();
        qpdf.arg(pdf).arg(list.join(","));
    }
    let out = qpdf.arg("--").arg(&picked).output().context("cannot run qpdf")?;
    anyhow::ensure!(out.status.success(), "qpdf failed: {}", String::from_utf8_lossy(&out.stderr));
    // Pick k's pages are pages offsets[k] + 1 ..= offsets[k] + len of the picked PDF.
    let offsets: Vec<usize> = picks
        .iter()
        .scan(0, |next, p| {
            let offset = *next;
            *next += p.pages.len();
            Some(offset)
        })
        .collect();
    let mut children = Vec::new();
    for (pick, &offset) in picks.iter().zip(&offsets).filter(|(p, _)| !p.pages.is_empty()) {
        let total = pick.pages.len();
        let processes = processes.clamp(1, total);
        for k in 0..processes {
            let (first, last) = (offset + k * total / processes + 1, offset + (k + 1) * total / processes);
            let child = Command::new("pdftoppm")
                .args(["-gray", "-r", &pick.dpi.to_string(), "-f", &first.to_string(), "-l", &last.to_string()])
                .arg(&picked)
                .arg(pick.dir.join("page"))
                .stderr(std::process::Stdio::piped())
                .spawn()
                .context("cannot run pdftoppm")?;
            children.push(child);
        }
    }
    for child in children {
        let out = child.wait_with_output().context("pdftoppm")?;
        anyhow::ensure!(out.status.success(), "pdftoppm failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::remove_file(&picked)?;
    let files = picks
        .iter()
        .zip(&offsets)
        .map(|(pick, &offset)| written_pages(pick.dir, offset, pick.pages.len()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let all: Vec<&PathBuf> = files.iter().flatten().collect();
    let per_thread = all.len().div_ceil(processes.max(1));
    let mut pngs = std::thread::scope(|scope| {
        let threads: Vec<_> = all
            .chunks(per_thread)
            .map(|chunk| scope.spawn(|| chunk.iter().map(|f| to_png(f)).collect::<anyhow::Result<Vec<_>>>()))
            .collect();
        let mut out = Vec::with_capacity(all.len());
        for t in threads {
            out.extend(t.join().map_err(|_| anyhow::anyhow!("a PNG thread panicked"))??);
        }
        anyhow::Ok(out)
    })?
    .into_iter();
    Ok(files.iter().map(|f| pngs.by_ref().take(f.len()).collect()).collect())
}

/// The `count` PGM files pdftoppm wrote into `dir` for pages `offset + 1 ..= offset + count` of
/// the PDF it read, in order. (It names them page-N.pgm, N zero-padded to the digits of the
/// PDF's last page.)
fn written_pages(dir: &Path, offset: usize, count: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = vec![None; count];
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(number) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("page-"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if let Some(slot) = number.checked_sub(offset + 1).and_then(|i| files.get_mut(i)) {
            *slot = Some(path);
        }
    }
    files
        .into_iter()
        .enumerate()
        .map(|(i, f)| f.with_context(|| format!("pdftoppm wrote no page {} of {count}", offset + i + 1)))
        .collect()
}

/// Turns the PGM file `pgm` into a PNG file beside it (fast compression, as the intake keeps
/// its page thumbnails), and removes the PGM.
fn to_png(pgm: &Path) -> anyhow::Result<PathBuf> {
    let bytes = std::fs::read(pgm).with_context(|| format!("cannot read {}", pgm.display()))?;
    let page = image::load_from_memory_with_format(&bytes, image::ImageFormat::Pnm)
        .with_context(|| format!("{} is not a PGM file", pgm.display()))?
        .to_luma8();
    let png = hybridpost_scan::document::thumbnail_png(&page, page.width().max(page.height()), 0);
    let path = pgm.with_extension("png");
    std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::remove_file(pgm)?;
    Ok(path)
}

/// Reads a page [`rasterise`] wrote, and removes the file.
pub fn read_page(path: &Path) -> anyhow::Result<GrayImage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    std::fs::remove_file(path)?;
    Ok(image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .with_context(|| format!("{} is not a PNG file", path.display()))?
        .to_luma8())
}

/// Ink of a ball-point pen on a grey scan.
const INK: u8 = 35;

/// A stroke from `(x0, y0)` to `(x1, y1)` in pixels, `width` pixels wide.
fn stroke(img: &mut GrayImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), width: f32) {
    let steps = ((x1 - x0).hypot(y1 - y0).ceil() as usize).max(1);
    let r = (width / 2.0).max(0.5);
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let (cx, cy) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        let (xa, xb) = ((cx - r).floor().max(0.0) as u32, (cx + r).ceil() as u32);
        let (ya, yb) = ((cy - r).floor().max(0.0) as u32, (cy + r).ceil() as u32);
        for y in ya..=yb.min(img.height().saturating_sub(1)) {
            for x in xa..=xb.min(img.width().saturating_sub(1)) {
                img.put_pixel(x, y, Luma([INK]));
            }
        }
    }
}

/// Handwriting-like words along the baseline at `y` mm from `x0` to `x1` mm: cursive loops
/// of one pen stroke per word, 2–3 mm high.
fn write_line(img: &mut GrayImage, dpi: u32, y: f32, x0: f32, x1: f32, rng: &mut Rng) {
    let k = dpi as f32 / 25.4;
    let mut x = x0 + rng.range(0.0, 4.0);
    while x < x1 - 8.0 {
        let word = rng.range(6.0, 20.0).min(x1 - x);
        let (height, period) = (rng.range(2.0, 3.0), rng.range(1.6, 2.4));
        let mut prev = (x * k, y * k);
        let mut t = 0.0;
        while t < word {
            t += 0.25;
            let phase = t / period * std::f32::consts::TAU;
            let next = ((x + t + 0.4 * phase.cos()) * k, (y - height * (0.5 - 0.5 * phase.cos())) * k);
            stroke(img, prev, next, 0.3 * k);
            prev = next;
        }
        x += word + rng.range(2.5, 5.0);
    }
}

/// Fills in a reply sheet as printed on A4 at `dpi`: ticks the first box, writes a few lines
/// in the answer area and signs — all clear of the two reply codes.
pub fn fill_in(page: &mut GrayImage, dpi: u32, rng: &mut Rng) {
    let k = dpi as f32 / 25.4;
    // The tick: in the first box (23.6 mm, 88 mm on the sheet as laid out).
    let (bx, by) = (24.5 * k, 90.0 * k);
    stroke(page, (bx, by), (bx + 1.2 * k, by + 1.8 * k), 0.5 * k);
    stroke(page, (bx + 1.2 * k, by + 1.8 * k), (bx + 4.0 * k, by - 2.5 * k), 0.5 * k);
    // Lines on the ruled answer area, 9 mm apart from 124 mm.
    for line in 0..(2 + rng.below(5)) {
        let y = 122.5 + 9.0 * line as f32;
        write_line(page, dpi, y, 22.0, rng.range(90.0, 185.0), rng);
    }
    // The signature on the line at 252 mm.
    write_line(page, dpi, 251.5, 80.0, 80.0 + rng.range(25.0, 45.0), rng);
}

/// A sheet of A4 at `dpi` with a handwritten letter and no code: a page a citizen adds to a
/// reply, or a stray sheet from another pile.
pub fn handwritten_sheet(dpi: u32, rng: &mut Rng) -> GrayImage {
    let k = dpi as f32 / 25.4;
    let mut page = GrayImage::from_pixel((210.0 * k) as u32, (297.0 * k) as u32, Luma([250]));
    // From 50 mm to 240 mm: clear of the places where reply codes are printed (top right and
    // bottom left), where ink without a code sends a page to review.
    for line in 0..(8 + rng.below(12)) {
        write_line(&mut page, dpi, 50.0 + 10.0 * line as f32, 20.0, rng.range(120.0, 190.0), rng);
    }
    page
}

/// A page as the scanner stored it.
#[derive(Debug)]
pub struct Scanned {
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// Its width, pixels.
    pub width: u32,
    /// Its height, pixels.
    pub height: u32,
    /// The damage done, in words.
    pub damage: Vec<&'static str>,
}

/// Damage a scanner does to `page`, drawn from `rng`: sometimes fed upside down or sideways,
/// skewed a little, grey or yellowed paper, faded toner, blur, sensor noise
/// and dust; then JPEG at quality 55 to 85.
pub fn scan(page: &GrayImage, rng: &mut Rng) -> Scanned {
    let mut done = Vec::new();
    let mut img = page.clone();
    if rng.unit() < 0.5 {
        img = degrade::skew(&img, rng.range(-2.0, 2.0));
        done.push("skew");
    }
    let turn = rng.unit();
    if turn < 0.1 {
        img = degrade::turn(&img, 2);
        done.push("upside_down");
    } else if turn < 0.15 {
        img = degrade::turn(&img, if rng.unit() < 0.5 { 1 } else { 3 });
        done.push("sideways");
    }
    if rng.unit() < 0.4 {
        degrade::contrast(&mut img, rng.range(215.0, 248.0) as u8, rng.range(15.0, 60.0) as u8);
        done.push("contrast");
    }
    if rng.unit() < 0.25 {
        img = degrade::blur(&img, rng.range(0.4, 0.8));
        done.push("blur");
    }
    if rng.unit() < 0.25 {
        degrade::noise(&mut img, rng.range(2.0, 6.0), rng);
        done.push("noise");
    }
    if rng.unit() < 0.15 {
        degrade::salt_and_pepper(&mut img, 0.0005, rng);
        done.push("dust");
    }
    let jpeg = degrade::jpeg(&img, rng.range(55.0, 85.0) as u8);
    Scanned { jpeg, width: img.width(), height: img.height(), damage: done }
}

/// A PDF as a document scanner writes it: one JPEG image per page at `dpi`.
pub fn scanner_pdf(pages: Vec<Scanned>, dpi: f32) -> anyhow::Result<Vec<u8>> {
    let images: Vec<StoredImage> = pages
        .into_iter()
        .map(|p| StoredImage::Jpeg { bytes: p.jpeg, width: p.width, height: p.height, components: 1 })
        .collect();
    let pages: Vec<PdfPage<'_>> =
        images.iter().map(|image| PdfPage { image, dpi: Some(dpi), quarter_turns: 0 }).collect();
    Ok(pages_pdf(&pages)?)
}
