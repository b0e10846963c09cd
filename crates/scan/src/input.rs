//! Scanned files to page images, page by page, under limits.
//!
//! CONTRACT (stub; the implementation replaces the bodies, keeps the names):
//! - [`open`] checks the file's size and kind and returns a [`PageReader`] that decodes one
//!   page at a time, so memory is bounded by one page whatever the file's page count.
//! - A file that cannot be read at all (0 bytes, not an image, damaged, password-protected,
//!   too large) is a [`FileError`]; a page that cannot be decoded is a [`PageError`] for that
//!   page only, and the reader goes on with the next page.

use image::GrayImage;

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
    /// More pages, entries or bytes than the limits allow.
    #[error("{0}")]
    OverLimit(String),
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
    _private: (),
}

impl std::fmt::Debug for PageReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageReader").finish_non_exhaustive()
    }
}

impl PageReader {
    /// Pages in the file (all entries of a zip), known before decoding them.
    pub fn page_count(&self) -> u32 {
        0
    }
}

impl Iterator for PageReader {
    type Item = Result<Page, PageError>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}

/// Opens `bytes`, a file called `name`, for reading page by page.
pub fn open(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<PageReader, FileError> {
    let _ = (name, limits);
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    Err(FileError::NotAScan("not implemented".into()))
}
