//! Scanned files to page images, page by page, under limits.
//!
//! - [`open`] checks the file's size and kind (by its first bytes, never its name) and
//!   returns a [`PageReader`] that decodes one page at a time, so memory is bounded by one
//!   page whatever the file's page count.
//! - A file that cannot be read at all (0 bytes, not an image, damaged, password-protected,
//!   too large, too many pages) is a [`FileError`]; a page that cannot be decoded (too many
//!   pixels, an unsupported compression, damaged data, a PDF page with no scanned image) is a
//!   [`PageError`] for that page only, and the reader goes on with the next page. A zip entry
//!   that cannot be read at all is one [`PageError`] in the zip's sequence.
//! - Sizes are checked from the headers before any pixel buffer is allocated, and zlib data
//!   is inflated only up to the size its image needs, so a decompression bomb stops early.
//!
//! Formats: PDF as document scanners write them (one image XObject per page: `/DCTDecode`,
//! `/CCITTFaxDecode`, `/FlateDecode` or unfiltered), multi-page TIFF (uncompressed, LZW,
//! Deflate, PackBits, JPEG, CCITT Group 3 and 4), PNG, JPEG, and a zip of those.

use image::GrayImage;
use sha2::{Digest, Sha256};

mod archive;
mod ccitt;
mod pdf;
mod raster;
mod tiff_pages;

/// Limits on what one uploaded file may make us decode.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest file, bytes.
    pub max_file_bytes: u64,
    /// Most pages in one file (a zip counts the pages of all its entries).
    pub max_pages: u32,
    /// Largest page side, pixels.
    pub max_side: u32,
    /// Most pixels on one page.
    pub max_pixels: u64,
    /// Most bytes one decoder may allocate for one page.
    pub max_alloc_bytes: u64,
    /// Most entries in a zip.
    pub max_zip_entries: u32,
    /// Most uncompressed bytes in a zip, all entries together.
    pub max_zip_bytes: u64,
    /// What a PDF's structure may make the reader do (nesting, objects, memory…); a PDF
    /// beyond it is refused with the limit named.
    pub pdf: hybridpost_pdfguard::Limits,
    /// How long opening a PDF waits for the process's PDF memory budget before the file
    /// is refused as [`FileError::Busy`].
    pub pdf_wait: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 200 * 1024 * 1024,
            max_pages: 1_000,
            // A4 at 600 dpi is 4961 × 7016; leave room for A3 and oversized scans.
            max_side: 12_000,
            max_pixels: 80_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            max_zip_entries: 1_000,
            max_zip_bytes: 1024 * 1024 * 1024,
            pdf: hybridpost_pdfguard::Limits::default(),
            pdf_wait: std::time::Duration::from_secs(600),
        }
    }
}

/// The compressed form of a page kept for the reply PDF: an image XObject's stream as PDF
/// filters define it, taken over unchanged from the scan where possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredImage {
    /// A JPEG (`/DCTDecode`), grey or colour.
    Jpeg {
        /// The JPEG file.
        bytes: Vec<u8>,
        /// Width, pixels.
        width: u32,
        /// Height, pixels.
        height: u32,
        /// Colour components (1 grey, 3 RGB, 4 CMYK).
        components: u8,
    },
    /// CCITT Group 3 or 4 fax (`/CCITTFaxDecode`), one bit per pixel.
    Ccitt {
        /// The encoded data.
        bytes: Vec<u8>,
        /// Width, pixels.
        width: u32,
        /// Height, pixels.
        height: u32,
        /// `/K` of the decode parameters (< 0 Group 4, 0 Group 3 1-D, > 0 Group 3 2-D).
        k: i32,
        /// `/BlackIs1`.
        black_is_1: bool,
        /// `/EncodedByteAlign`.
        byte_align: bool,
    },
    /// 8-bit grey pixels compressed with zlib (`/FlateDecode`).
    FlateGray {
        /// The zlib stream.
        bytes: Vec<u8>,
        /// Width, pixels.
        width: u32,
        /// Height, pixels.
        height: u32,
    },
}

impl StoredImage {
    /// The bytes of the stored form.
    pub fn bytes(&self) -> &[u8] {
        match self {
            StoredImage::Jpeg { bytes, .. }
            | StoredImage::Ccitt { bytes, .. }
            | StoredImage::FlateGray { bytes, .. } => bytes,
        }
    }
}

impl StoredImage {
    /// The page's grey pixels again, under `limits` (a stored page is decoded with the same
    /// care as an uploaded one): for reading what is on a page after its search, such as the
    /// answer ticked on a reply page.
    pub fn to_gray(&self, limits: &Limits) -> Result<GrayImage, String> {
        let (width, height) = self.dimensions();
        check_pixels(width, height, 1, limits)?;
        let image = match self {
            StoredImage::Jpeg { bytes, .. } => raster::decode_jpeg(bytes, limits)?.0,
            StoredImage::Ccitt { bytes, k, black_is_1, byte_align, .. } => ccitt::decode(
                bytes,
                &ccitt::Params { k: *k, width, height, byte_align: *byte_align, black_is_1: *black_is_1 },
            )?,
            StoredImage::FlateGray { bytes, .. } => {
                let raw = inflate_exact(bytes, width as usize * height as usize, "stored page")?;
                GrayImage::from_raw(width, height, raw).ok_or("the stored page has the wrong size")?
            }
        };
        if image.dimensions() != (width, height) {
            return Err(format!(
                "the stored page decodes to {}×{} pixels, not {width}×{height}",
                image.width(),
                image.height()
            ));
        }
        Ok(image)
    }

    /// Width and height, pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            StoredImage::Jpeg { width, height, .. }
            | StoredImage::Ccitt { width, height, .. }
            | StoredImage::FlateGray { width, height, .. } => (*width, *height),
        }
    }

    /// A short name of the stored kind: `"jpeg"`, `"ccitt"` or `"flate"`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoredImage::Jpeg { .. } => "jpeg",
            StoredImage::Ccitt { .. } => "ccitt",
            StoredImage::FlateGray { .. } => "flate",
        }
    }
}

/// One scanned page, decoded.
#[derive(Clone, Debug)]
pub struct Page {
    /// The page's position: 1 for the first page of the file (of the zip, across entries).
    pub number: u32,
    /// The entry of a zip the page came from, `None` for a plain file.
    pub entry: Option<String>,
    /// The page in 8-bit grey, as scanned (not rotated).
    pub image: GrayImage,
    /// Resolution, dots per inch, when the file says (PDF page size, TIFF/PNG/JPEG metadata).
    pub dpi: Option<f32>,
    /// The page as it will be kept.
    pub stored: StoredImage,
    /// SHA-256 of the page's pixels as decoded, so the same page uploaded twice, in any file,
    /// is recognised.
    pub content_hash: [u8; 32],
}

/// Why a whole file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The file has no bytes.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// Larger than the limit.
    #[error("the file is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not a PDF, TIFF, PNG, JPEG or zip.
    #[error("not a scan: {0}")]
    NotAScan(String),
    /// A PDF that needs a password.
    #[error("the PDF is password-protected; save it without a password and upload it again")]
    Encrypted,
    /// The file's structure is damaged.
    #[error("the file is damaged: {0}")]
    Damaged(String),
    /// More pages, entries or bytes than the limits allow, or a PDF whose structure goes
    /// beyond what is read (nested too deep, too many objects, too much memory…).
    #[error("{0}")]
    OverLimit(String),
    /// The process had no memory for the file within [`Limits::pdf_wait`]; upload it again
    /// later.
    #[error("{0}")]
    Busy(String),
}

/// Why one page could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("page {number}: {reason}")]
pub struct PageError {
    /// The page's position in the file, from 1.
    pub number: u32,
    /// The zip entry, if any.
    pub entry: Option<String>,
    /// Why, in words an operator can act on (`"40000x40000 pixels, the limit is 12000 per side"`).
    pub reason: String,
}

/// Decodes a file's pages one at a time.
pub struct PageReader {
    limits: Limits,
    inner: Inner,
}

enum Inner {
    /// A plain file.
    File { source: Source, next: u32 },
    /// A zip of files.
    Zip(archive::ZipPages),
}

impl std::fmt::Debug for PageReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageReader").field("pages", &self.page_count()).finish_non_exhaustive()
    }
}

impl PageReader {
    /// Pages in the file (all entries of a zip), known before decoding them. A zip entry that
    /// cannot be read at all counts as one page, the [`PageError`] that says why.
    pub fn page_count(&self) -> u32 {
        match &self.inner {
            Inner::File { source, .. } => source.page_count(),
            Inner::Zip(zip) => zip.page_count(),
        }
    }
}

impl Iterator for PageReader {
    type Item = Result<Page, PageError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::File { source, next } => {
                if *next >= source.page_count() {
                    return None;
                }
                let index = *next;
                *next += 1;
                Some(finish(source.decode(index, &self.limits), index + 1, None))
            }
            Inner::Zip(zip) => zip.next(&self.limits),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match &self.inner {
            Inner::File { source, next } => source.page_count().saturating_sub(*next),
            Inner::Zip(zip) => zip.left(),
        } as usize;
        (left, Some(left))
    }
}

/// Opens `bytes`, a file called `name`, for reading page by page.
pub fn open(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<PageReader, FileError> {
    let _ = name; // The kind comes from the bytes; the name is only a label.
    check_file_size(bytes.len(), limits)?;
    let inner = match Kind::sniff(&bytes)? {
        Kind::Zip => Inner::Zip(archive::ZipPages::open(bytes, limits)?),
        kind => Inner::File { source: Source::open(kind, bytes, limits)?, next: 0 },
    };
    Ok(PageReader { limits: limits.clone(), inner })
}

fn check_file_size(len: usize, limits: &Limits) -> Result<(), FileError> {
    if len == 0 {
        return Err(FileError::Empty);
    }
    if len as u64 > limits.max_file_bytes {
        return Err(FileError::TooLarge { size: len as u64, limit: limits.max_file_bytes });
    }
    Ok(())
}

/// The kinds of file we read, told by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pdf,
    Tiff,
    Png,
    Jpeg,
    Zip,
}

impl Kind {
    fn sniff(bytes: &[u8]) -> Result<Kind, FileError> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Ok(Kind::Png);
        }
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Ok(Kind::Jpeg);
        }
        if [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"].iter().any(|m| bytes.starts_with(*m)) {
            return Ok(Kind::Tiff);
        }
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            return Ok(Kind::Zip);
        }
        // PDF readers accept junk before the header within the first kilobyte.
        if bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
            return Ok(Kind::Pdf);
        }
        let head = &bytes[..bytes.len().min(512)];
        let looks_like = if std::str::from_utf8(head).is_ok_and(|t| !t.contains('\0')) {
            "it looks like text"
        } else {
            "its first bytes match no scan format"
        };
        Err(FileError::NotAScan(format!(
            "the file is not a PDF, TIFF, PNG, JPEG or zip ({looks_like}); upload the scanner's own file"
        )))
    }
}

/// A file of one kind, ready to decode page by page.
enum Source {
    /// A PNG or JPEG: one page, decoded when asked.
    Single {
        kind: Kind,
        bytes: Vec<u8>,
    },
    Pdf(pdf::PdfPages),
    Tiff(tiff_pages::TiffPages),
}

impl Source {
    fn open(kind: Kind, bytes: Vec<u8>, limits: &Limits) -> Result<Source, FileError> {
        let source = match kind {
            Kind::Png | Kind::Jpeg => Source::Single { kind, bytes },
            Kind::Pdf => Source::Pdf(pdf::PdfPages::open(&bytes, limits)?),
            Kind::Tiff => Source::Tiff(tiff_pages::TiffPages::open(bytes, limits)?),
            Kind::Zip => {
                return Err(FileError::NotAScan("a zip inside a zip is not read; put the scans in one zip".into()));
            }
        };
        let pages = source.page_count();
        if pages > limits.max_pages {
            return Err(over_page_limit(u64::from(pages), limits));
        }
        if pages == 0 {
            return Err(FileError::Damaged("the file has no pages".into()));
        }
        Ok(source)
    }

    fn page_count(&self) -> u32 {
        match self {
            Source::Single { .. } => 1,
            Source::Pdf(pdf) => pdf.page_count(),
            Source::Tiff(tiff) => tiff.page_count(),
        }
    }

    fn decode(&mut self, index: u32, limits: &Limits) -> Result<Decoded, String> {
        match self {
            Source::Single { kind: Kind::Png, bytes } => raster::decode_png(bytes, limits),
            Source::Single { bytes, .. } => raster::decode_jpeg_file(bytes, limits),
            Source::Pdf(pdf) => pdf.decode(index, limits),
            Source::Tiff(tiff) => tiff.decode(index, limits),
        }
    }
}

fn over_page_limit(pages: u64, limits: &Limits) -> FileError {
    FileError::OverLimit(format!(
        "the file has {pages} pages, the limit is {}; split it into smaller files",
        limits.max_pages
    ))
}

/// A page as a decoder gives it, before numbering and hashing.
struct Decoded {
    image: GrayImage,
    dpi: Option<f32>,
    stored: StoredImage,
}

fn finish(decoded: Result<Decoded, String>, number: u32, entry: Option<&str>) -> Result<Page, PageError> {
    match decoded {
        Ok(Decoded { image, dpi, stored }) => {
            let content_hash = content_hash(&image);
            Ok(Page { number, entry: entry.map(str::to_owned), image, dpi, stored, content_hash })
        }
        Err(reason) => Err(PageError { number, entry: entry.map(str::to_owned), reason }),
    }
}

/// SHA-256 over width and height (big-endian `u32`s) and the grey pixels, row by row.
pub fn content_hash(image: &GrayImage) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(image.width().to_be_bytes());
    hasher.update(image.height().to_be_bytes());
    hasher.update(image.as_raw());
    hasher.finalize().into()
}

/// Checks a page's size before anything is allocated for it; `bytes_per_pixel` is what the
/// decoder needs per pixel at its largest step.
fn check_pixels(width: u32, height: u32, bytes_per_pixel: u64, limits: &Limits) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("the image is {width}x{height} pixels: it has no pixels"));
    }
    if width > limits.max_side || height > limits.max_side {
        return Err(format!(
            "{width}x{height} pixels, the limit is {} pixels per side; scan at a lower resolution",
            limits.max_side
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(format!(
            "{width}x{height} pixels ({:.1} million), the limit is {:.1} million pixels per page; scan at a lower resolution",
            pixels as f64 / 1e6,
            limits.max_pixels as f64 / 1e6
        ));
    }
    let bytes = pixels.saturating_mul(bytes_per_pixel.max(1));
    if bytes > limits.max_alloc_bytes {
        return Err(format!(
            "{width}x{height} pixels would need {} MiB to decode, the limit is {} MiB; scan at a lower resolution or in grey",
            bytes >> 20,
            limits.max_alloc_bytes >> 20
        ));
    }
    Ok(())
}

/// Rounds a measured resolution to whole dots per inch, keeping only plausible ones.
fn plausible_dpi(dpi: f64) -> Option<f32> {
    (dpi.is_finite() && (10.0..=10_000.0).contains(&dpi)).then(|| dpi.round() as f32)
}

/// Grey from RGB with the Rec. 709 weights `image` uses, in fixed point.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 54 + u32::from(g) * 183 + u32::from(b) * 19 + 128) >> 8) as u8
}

/// Grey from interleaved samples: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (`alpha`) or CMYK.
fn to_gray(samples: &[u8], channels: usize, alpha: bool) -> Vec<u8> {
    match (channels, alpha) {
        (1, _) => samples.to_vec(),
        (2, _) => samples.chunks_exact(2).map(|p| over_white(p[0], p[1])).collect(),
        (3, _) => samples.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect(),
        (4, true) => samples.chunks_exact(4).map(|p| over_white(luma(p[0], p[1], p[2]), p[3])).collect(),
        (4, false) => samples.chunks_exact(4).map(|p| cmyk_gray(p[0], p[1], p[2], p[3])).collect(),
        _ => samples.chunks_exact(channels.max(1)).map(|p| p[0]).collect(),
    }
}

/// A transparent pixel over white paper.
fn over_white(v: u8, a: u8) -> u8 {
    ((u32::from(v) * u32::from(a) + 255 * (255 - u32::from(a)) + 127) / 255) as u8
}

/// Grey from CMYK ink amounts (0 none, 255 full).
fn cmyk_gray(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let rgb = |ink: u8| ((255 - u32::from(ink)) * (255 - u32::from(k)) / 255) as u8;
    luma(rgb(c), rgb(m), rgb(y))
}

/// The grey pixels zlib-compressed, fast, as [`StoredImage::FlateGray`].
fn flate_gray(image: &GrayImage) -> StoredImage {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(image.as_raw()).expect("writing to a Vec cannot fail");
    StoredImage::FlateGray {
        bytes: z.finish().expect("writing to a Vec cannot fail"),
        width: image.width(),
        height: image.height(),
    }
}

/// A black-and-white page kept as CCITT Group 4, far smaller than grey.
fn g4_stored(image: &GrayImage) -> StoredImage {
    StoredImage::Ccitt {
        bytes: ccitt::encode_g4(image),
        width: image.width(),
        height: image.height(),
        k: -1,
        black_is_1: false,
        byte_align: false,
    }
}

/// Inflates zlib data into exactly `expected` bytes, never more: extra output is ignored, so
/// a stream that would expand without end stops there.
fn inflate_exact(data: &[u8], expected: usize, what: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::with_capacity(expected);
    let mut z = flate2::read::ZlibDecoder::new(data).take(expected as u64);
    match z.read_to_end(&mut out) {
        Ok(_) if out.len() == expected => Ok(out),
        Ok(_) => Err(format!("the {what} data is cut short: {} of {expected} bytes", out.len())),
        // Some writers end their zlib streams badly; the pixels before that are good.
        Err(_) if out.len() == expected => Ok(out),
        Err(e) => Err(format!("the {what} data is damaged: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_pages_decode_back_to_their_pixels() {
        let grey = GrayImage::from_fn(64, 40, |x, y| image::Luma([((x * 4 + y) % 256) as u8]));
        assert_eq!(flate_gray(&grey).to_gray(&Limits::default()).expect("flate"), grey);
        let bilevel = GrayImage::from_fn(64, 40, |x, y| image::Luma([if (x / 8 + y / 5) % 2 == 0 { 0 } else { 255 }]));
        assert_eq!(g4_stored(&bilevel).to_gray(&Limits::default()).expect("g4"), bilevel);
        let cut = StoredImage::FlateGray { bytes: vec![0x78, 0x9c, 1, 2], width: 64, height: 40 };
        assert!(cut.to_gray(&Limits::default()).is_err(), "damaged data is an error, not a panic");
    }
}
