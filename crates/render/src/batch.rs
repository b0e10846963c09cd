//! Print batches: one print-ready PDF of many letters for a print room, written as the
//! letters come, with a job cover sheet and a manifest.
//!
//! A batch is printed duplex: the cover sheet and every letter start on a new sheet, so
//! a letter with an odd number of pages is followed by a blank back. The caller appends
//! letters in envelope order (postcode order); the manifest records, for each letter,
//! where it starts in the PDF and how many pages and sheets it takes.
//!
//! # Memory
//!
//! Pages go to the output as letters are appended. What stays in memory per page is a
//! few numbers: the file offset of each object (for the cross-reference table) and the
//! object number of each page (for the page tree), plus one manifest line per letter.
//! The file `/ID` is a SHA-256 of the file computed as it is written.
//!
//! # Fonts
//!
//! The two faces are embedded once per batch, whole, at the end of the file; each
//! letter's pages refer to them. Subsetting to the glyphs of the whole batch would need
//! the glyph set before the first page is written, or glyph ids in pages already written
//! would have to be remapped; keeping the faces' own glyph ids avoids both, and the
//! whole Laksaman faces add about 120 kB (compressed) once to a batch of thousands of
//! pages, where a subset per letter would add some 25 kB to every letter (a one-page
//! letter alone is about 31 kB, a letter in a batch about 3.5 kB). The `/W` widths and
//! the `/ToUnicode` map list only the glyphs the batch uses.
//!
//! # A failed letter
//!
//! Each letter is first written to a buffer and reaches the output only when it is
//! committed: a letter that fails (an agency PDF that cannot be read) leaves nothing in
//! the batch, and the batch goes on with the next letter.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;

use lopdf::{Dictionary, Object, ObjectId};
use serde::Serialize;

use crate::content::{GlyphSet, encode_page, font_resource, hex_string, integer, real, weight_index};
use crate::document::{Element, Link, PRODUCER, pdf_text_string};
use crate::emblem::Emblem;
use crate::fonts::{Fonts, Weight};
use crate::pdf_writer::{
    Deflater, FontObjects, Renumbered, Sink, begin_object, copied_object, end_object, font_objects, reference,
    stream_object,
};
use crate::{Align, Area, Document, Flow, Mm, PageSize, Paragraph, Point, Pt, RenderError, Stroke};

/// Compression level of page content streams: zlib level 1, the fastest. Measured on
/// one-page official letters: about 3.5 kB a letter at level 1, 2.6 kB at level 6
/// (a quarter smaller, slower to write), 8.9 kB uncompressed. A batch goes to a print
/// room's printer over a local network, where speed counts more than the last quarter;
/// callers that keep batches long can [`BatchWriter::set_compression`] higher.
pub const DEFAULT_COMPRESSION: u32 = 1;

/// Object number of the document catalog.
const CATALOG: u32 = 1;
/// Object number of the page tree root.
const PAGES: u32 = 2;
/// Object number of the resource dictionary shared by every page typeset here.
const RESOURCES: u32 = 3;
/// Object number of the document information dictionary.
const INFO: u32 = 4;
/// Object number of the cover sheet page.
const COVER: u32 = 5;
/// Object number of the cover sheet's blank back.
const COVER_BACK: u32 = 6;
/// First object number of the font objects (five per face).
const FONTS: u32 = 7;
/// First object number of the letters.
const FIRST_LETTER_OBJECT: u32 = FONTS + 10;
/// Pages before the first letter: the cover sheet and its blank back.
const COVER_PAGES: usize = 2;

/// What the print room needs to know about a batch, printed on its cover sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchInfo {
    /// The batch's id.
    pub batch_id: String,
    /// The print site the batch is for.
    pub site: String,
    /// When the batch was made, as the caller wants it printed (the writer reads no
    /// clock, so the same batch gives the same bytes).
    pub created_at: String,
}

/// A letter as the batch knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLetter {
    /// The letter's id.
    pub letter_id: String,
    /// The recipient's postcode.
    pub postcode: String,
    /// Its urgency (`most_urgent`, `within …`), for the print room to handle it first.
    pub urgency: Option<String>,
}

/// One letter in a batch's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestEntry {
    /// The letter's id.
    pub letter_id: String,
    /// Number of the letter's first page in the batch PDF, from 1.
    pub first_page: usize,
    /// Pages of the letter, without a blank back.
    pub pages: usize,
    /// Sheets of paper the letter takes, printed duplex.
    pub sheets: usize,
    /// The recipient's postcode.
    pub postcode: String,
    /// Position of the letter in the batch and in the post, from 1.
    pub envelope_order: usize,
    /// Its urgency, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
}

/// A letter that is not in the batch, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLetter {
    /// The letter's id.
    pub letter_id: String,
    /// What went wrong, for the operator and the letter's timeline.
    pub reason: String,
}

/// The list of what a batch PDF holds, for the print room and for dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchManifest {
    /// The batch as printed on the cover sheet.
    #[serde(flatten)]
    pub info: BatchInfo,
    /// Pages in the PDF: cover sheet, letters and blank backs.
    pub pages: usize,
    /// Sheets of paper, printed duplex.
    pub sheets: usize,
    /// The letters in the batch, in envelope order.
    pub letters: Vec<ManifestEntry>,
    /// Letters that could not be added.
    pub skipped: Vec<SkippedLetter>,
}

impl BatchManifest {
    /// The letters as CSV (RFC 4180): a header line, then one line per letter.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("letter_id,first_page,pages,sheets,postcode,envelope_order,urgency\r\n");
        for e in &self.letters {
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\r\n",
                csv_field(&e.letter_id),
                e.first_page,
                e.pages,
                e.sheets,
                csv_field(&e.postcode),
                e.envelope_order,
                csv_field(e.urgency.as_deref().unwrap_or(""))
            ));
        }
        out
    }

    /// The whole manifest as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest of strings and numbers serialises")
    }

    /// The lowest and highest postcode in the batch.
    pub fn postcode_range(&self) -> Option<(&str, &str)> {
        let min = self.letters.iter().map(|e| e.postcode.as_str()).min()?;
        let max = self.letters.iter().map(|e| e.postcode.as_str()).max()?;
        Some((min, max))
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180 §2).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// A page ready to be written: its content stream, encoded and compressed.
#[derive(Debug, Clone)]
struct PreparedPage {
    /// Page size in points.
    media_box: [f32; 2],
    /// The content stream, deflated when `compressed`.
    content: Vec<u8>,
    compressed: bool,
    links: Vec<Link>,
}

/// The pages of a [`Document`], typeset into content streams: the expensive part of
/// adding a letter to a batch, which can run on any thread (see
/// [`BatchWriter::prepare`]).
#[derive(Debug, Clone)]
pub struct PreparedDocument {
    /// Id of the fonts the pages were typeset with.
    fonts: u64,
    pages: Vec<PreparedPage>,
    used: [GlyphSet; 2],
    /// The images its pages draw, each once.
    images: Vec<Emblem>,
}

impl PreparedDocument {
    /// Number of pages.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }
}

thread_local! {
    /// One compressor per thread and level: a zlib state is a few hundred kB to set up.
    static DEFLATERS: RefCell<BTreeMap<u32, Deflater>> = const { RefCell::new(BTreeMap::new()) };
}

/// The content stream of one page under construction; reused between pages.
fn prepare(doc: &Document<'_>, level: u32) -> PreparedDocument {
    let fonts = doc.fonts();
    let size = doc.page_size();
    let media_box = [printpdf_pt(size.width), printpdf_pt(size.height)];
    let mut used = [GlyphSet::new(), GlyphSet::new()];
    let mut raw = Vec::with_capacity(16 * 1024);
    let mut pages = Vec::with_capacity(doc.page_count());
    for (elements, links) in doc.page_elements().iter().zip(doc.page_links()) {
        raw.clear();
        encode_page(fonts, elements, &mut used, &mut raw);
        let (content, compressed) = if level == 0 {
            (raw.clone(), false)
        } else {
            let packed = DEFLATERS
                .with_borrow_mut(|d| d.entry(level).or_insert_with(|| Deflater::new(level)).deflate(&raw).to_vec());
            (packed, true)
        };
        pages.push(PreparedPage { media_box, content, compressed, links: links.clone() });
    }
    let mut images: Vec<Emblem> = Vec::new();
    for element in doc.page_elements().iter().flatten() {
        if let Element::Image { emblem, .. } = element
            && !images.contains(emblem)
        {
            images.push(emblem.clone());
        }
    }
    PreparedDocument { fonts: fonts.id(), pages, used, images }
}

/// A length in points as printpdf converts millimetres, so page boxes match
/// [`Document::to_pdf`] to the last digit.
fn printpdf_pt(mm: Mm) -> f32 {
    mm.0 * 2.834_646
}

/// Writes a print batch to `W` as letters are appended: a cover sheet, each letter on new
/// sheets with blank backs for duplex, the two faces embedded once, and a manifest.
///
/// ```
/// use hybridpost_render::{Area, BatchInfo, BatchLetter, BatchWriter, Document, PageSize, Paragraph};
///
/// let info = BatchInfo { batch_id: "B-1".into(), site: "10500".into(), created_at: "2026-11-22 08:00".into() };
/// let mut batch = BatchWriter::new(Vec::new(), info)?;
/// let mut doc = Document::new(PageSize::A4);
/// let page = doc.add_page();
/// doc.place_paragraph(page, &Paragraph::new().text("เรียน ผู้รับ"), Area::new(30.0, 30.0, 150.0, 20.0))?;
/// let letter = BatchLetter { letter_id: "L-1".into(), postcode: "10400".into(), urgency: None };
/// let entry = batch.append_document(letter, &doc)?;
/// assert_eq!((entry.first_page, entry.sheets), (3, 1));
/// let (pdf, manifest) = batch.finish()?;
/// assert!(pdf.starts_with(b"%PDF-1.7"));
/// assert_eq!(manifest.pages, 4);
/// # Ok::<(), hybridpost_render::RenderError>(())
/// ```
#[derive(Debug)]
pub struct BatchWriter<'f, W: Write> {
    sink: Sink<W>,
    fonts: &'f Fonts<'f>,
    level: u32,
    /// File offset of each object, by object number; 0 while not written.
    offsets: Vec<u64>,
    /// Object number of each page after the cover sheet, in order.
    kids: Vec<u32>,
    /// Glyphs used by the committed pages.
    used: [GlyphSet; 2],
    /// Images drawn by the committed pages, by resource name: each is written once, at the end.
    images: BTreeMap<String, Emblem>,
    manifest: BatchManifest,
    /// Pages so far, including the cover sheet and blank backs.
    page_total: usize,
    /// The letter being built: its objects, not yet written.
    pending: Pending,
    /// Set when writing to the output failed: the file is incomplete.
    failed: bool,
}

/// The objects of the letter being built.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Object number and offset in `bytes` of each object.
    objects: Vec<(u32, usize)>,
    pages: Vec<u32>,
    /// Size of the last page, for a blank back.
    last_media_box: Option<[f32; 2]>,
    used: Option<[GlyphSet; 2]>,
    images: Vec<Emblem>,
}

impl<W: Write> BatchWriter<'static, W> {
    /// A batch for `info` written to `out`, set in the bundled Laksaman fonts. Pass a
    /// buffered writer: the batch writes in pieces of a few kilobytes.
    pub fn new(out: W, info: BatchInfo) -> Result<Self, RenderError> {
        BatchWriter::with_fonts(out, info, Fonts::laksaman())
    }
}

impl<'f, W: Write> BatchWriter<'f, W> {
    /// A batch whose letters are set in `fonts`.
    pub fn with_fonts(out: W, info: BatchInfo, fonts: &'f Fonts<'f>) -> Result<Self, RenderError> {
        let mut batch = BatchWriter {
            sink: Sink::new(out),
            fonts,
            level: DEFAULT_COMPRESSION,
            offsets: vec![0; FIRST_LETTER_OBJECT as usize],
            kids: Vec::new(),
            used: [GlyphSet::new(), GlyphSet::new()],
            images: BTreeMap::new(),
            manifest: BatchManifest { info, pages: 0, sheets: 0, letters: Vec::new(), skipped: Vec::new() },
            page_total: COVER_PAGES,
            pending: Pending::default(),
            failed: false,
        };
        // ISO 32000-1 §7.5.2: a comment of four bytes above 127 marks the file as binary.
        batch.write(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        Ok(batch)
    }

    /// Sets the zlib level of content streams (0 to 9, see [`DEFAULT_COMPRESSION`]).
    pub fn set_compression(&mut self, level: u32) {
        self.level = level.min(9);
    }

    /// The compression level of content streams.
    pub fn compression(&self) -> u32 {
        self.level
    }

    /// Typesets the pages of `doc` at compression `level` without touching a batch:
    /// call it on worker threads and hand the result to [`LetterPages::append_prepared`].
    pub fn prepare(doc: &Document<'_>, level: u32) -> PreparedDocument {
        prepare(doc, level.min(9))
    }

    /// Starts a letter; its pages reach the output when [`LetterPages::commit`] is
    /// called, and are dropped if it is not.
    pub fn begin_letter(&mut self, letter: BatchLetter) -> LetterPages<'_, 'f, W> {
        self.discard();
        let first_object = self.next_object();
        LetterPages { batch: self, letter, first_object, committed: false }
    }

    /// Adds a letter typeset as `doc`. On failure the letter is recorded as skipped and
    /// the batch is unchanged.
    pub fn append_document(&mut self, letter: BatchLetter, doc: &Document<'_>) -> Result<ManifestEntry, RenderError> {
        let id = letter.letter_id.clone();
        let result = {
            let mut pages = self.begin_letter(letter);
            pages.append_document(doc).and_then(|_| pages.commit())
        };
        self.record(id, result)
    }

    /// Adds a letter that is an agency's own PDF, its pages copied unchanged. A PDF that
    /// cannot be read is recorded as skipped and leaves the batch unchanged.
    pub fn append_pdf(&mut self, letter: BatchLetter, pdf: &[u8]) -> Result<ManifestEntry, RenderError> {
        let id = letter.letter_id.clone();
        let result = {
            let mut pages = self.begin_letter(letter);
            pages.append_pdf_pages(pdf).and_then(|_| pages.commit())
        };
        self.record(id, result)
    }

    /// Records a letter that is not in the batch, e.g. one whose layout failed before it
    /// reached the writer.
    pub fn skip(&mut self, letter_id: &str, reason: &str) {
        self.manifest.skipped.push(SkippedLetter { letter_id: letter_id.to_string(), reason: reason.to_string() });
    }

    /// The manifest so far.
    pub fn manifest(&self) -> &BatchManifest {
        &self.manifest
    }

    fn record(
        &mut self,
        letter_id: String,
        result: Result<ManifestEntry, RenderError>,
    ) -> Result<ManifestEntry, RenderError> {
        if let Err(e) = &result
            && !self.failed
        {
            self.manifest.skipped.push(SkippedLetter { letter_id, reason: e.to_string() });
        }
        result
    }

    /// Writes the cover sheet, the fonts, the page tree and the cross-reference table,
    /// and returns the output with the manifest.
    pub fn finish(mut self) -> Result<(W, BatchManifest), RenderError> {
        self.check()?;
        self.discard();
        self.manifest.pages = self.page_total;
        self.manifest.sheets = self.page_total / 2;

        // The cover sheet is page 1 although it is written last: page order is the
        // order of the page tree's /Kids, not of the objects in the file.
        let cover = cover_sheet(self.fonts, &self.manifest)?;
        let prepared = prepare(&cover, self.level);
        self.used[0].union(&prepared.used[0]);
        self.used[1].union(&prepared.used[1]);
        let page = &prepared.pages[0];
        let contents = self.next_object();
        let mut out = Vec::new();
        self.pending.objects.push((COVER, 0));
        page_object(&mut out, COVER, page.media_box, Some(contents), &[]);
        self.pending.objects.push((contents, out.len()));
        content_object(&mut out, contents, page);
        self.pending.objects.push((COVER_BACK, out.len()));
        page_object(&mut out, COVER_BACK, page.media_box, None, &[]);

        // Each image once, whatever the number of letters that draw it (an agency's emblem on
        // every letter of the agency), in name order so the same batch is the same file.
        let mut deflater = Deflater::new(9);
        let mut image_objects = Vec::with_capacity(self.images.len());
        for (name, image) in &self.images {
            let id = self.next_object();
            self.pending.objects.push((id, out.len()));
            let (width, height) = image.size();
            let mut dict = b"/Type/XObject/Subtype/Image/Width ".to_vec();
            integer(&mut dict, i64::from(width));
            dict.extend_from_slice(b"/Height ");
            integer(&mut dict, i64::from(height));
            dict.extend_from_slice(b"/ColorSpace/DeviceRGB/BitsPerComponent 8");
            stream_object(&mut out, id, &dict, image.rgb(), Some(&mut deflater));
            image_objects.push((name, id));
        }

        self.pending.objects.push((RESOURCES, out.len()));
        begin_object(&mut out, RESOURCES);
        out.extend_from_slice(b"<</Font<<");
        for weight in [Weight::Regular, Weight::Bold] {
            out.push(b'/');
            out.extend_from_slice(font_resource(weight).as_bytes());
            out.push(b' ');
            reference(&mut out, font_ids(weight).font);
        }
        out.extend_from_slice(b">>");
        if !image_objects.is_empty() {
            out.extend_from_slice(b"/XObject<<");
            for (name, id) in image_objects {
                out.push(b'/');
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
                reference(&mut out, id);
            }
            out.extend_from_slice(b">>");
        }
        out.extend_from_slice(b">>");
        end_object(&mut out);

        for weight in [Weight::Regular, Weight::Bold] {
            let face = self.fonts.face(weight);
            let used = &self.used[weight_index(weight)];
            let objects = font_objects(&mut out, face, font_ids(weight), used, &mut deflater);
            self.pending.objects.extend(objects);
        }

        self.pending.objects.push((PAGES, out.len()));
        begin_object(&mut out, PAGES);
        out.extend_from_slice(b"<</Type/Pages/Count ");
        integer(&mut out, self.page_total as i64);
        out.extend_from_slice(b"/Kids[");
        for (i, kid) in [COVER, COVER_BACK].iter().chain(&self.kids).enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            reference(&mut out, *kid);
        }
        out.extend_from_slice(b"]>>");
        end_object(&mut out);

        self.pending.objects.push((INFO, out.len()));
        begin_object(&mut out, INFO);
        out.extend_from_slice(b"<</Title");
        let title = format!("Print batch {} ({})", self.manifest.info.batch_id, self.manifest.info.site);
        hex_string(&mut out, &pdf_text_string(&title));
        out.extend_from_slice(b"/Producer");
        hex_string(&mut out, &pdf_text_string(PRODUCER));
        out.extend_from_slice(b"/Creator");
        hex_string(&mut out, &pdf_text_string(PRODUCER));
        out.extend_from_slice(b">>");
        end_object(&mut out);

        self.pending.objects.push((CATALOG, out.len()));
        begin_object(&mut out, CATALOG);
        out.extend_from_slice(b"<</Type/Catalog/Pages ");
        reference(&mut out, PAGES);
        out.extend_from_slice(b">>");
        end_object(&mut out);

        self.pending.bytes = out;
        self.flush_pending()?;

        // Cross-reference table (ISO 32000-1 §7.5.4): 20 bytes per object.
        let xref_offset = self.sink.offset();
        let size = self.offsets.len();
        let mut xref = Vec::with_capacity(32 + size * 20);
        xref.extend_from_slice(b"xref\n0 ");
        integer(&mut xref, size as i64);
        xref.extend_from_slice(b"\n0000000000 65535 f\r\n");
        for (id, &offset) in self.offsets.iter().enumerate().skip(1) {
            if offset == 0 {
                return Err(RenderError::Pdf(format!("batch object {id} was never written")));
            }
            xref.extend_from_slice(format!("{offset:010} 00000 n\r\n").as_bytes());
        }
        self.write(&xref)?;

        // ISO 32000-1 §14.4: the file identifier; here the first 16 bytes of the SHA-256
        // of everything above, so the same batch always gets the same /ID.
        let digest = self.sink.digest();
        let mut trailer = b"trailer\n<</Size ".to_vec();
        integer(&mut trailer, size as i64);
        trailer.extend_from_slice(b"/Root ");
        reference(&mut trailer, CATALOG);
        trailer.extend_from_slice(b"/Info ");
        reference(&mut trailer, INFO);
        trailer.extend_from_slice(b"/ID[");
        hex_string(&mut trailer, &digest[..16]);
        hex_string(&mut trailer, &digest[..16]);
        trailer.extend_from_slice(b"]>>\nstartxref\n");
        integer(&mut trailer, xref_offset as i64);
        trailer.extend_from_slice(b"\n%%EOF\n");
        self.write(&trailer)?;
        let out = self.sink.into_inner()?;
        Ok((out, self.manifest))
    }

    fn check(&self) -> Result<(), RenderError> {
        if self.failed { Err(RenderError::BatchFailed) } else { Ok(()) }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), RenderError> {
        self.sink.write(bytes).map_err(|e| {
            self.failed = true;
            RenderError::Io(e)
        })
    }

    /// The next free object number.
    fn next_object(&self) -> u32 {
        u32::try_from(self.offsets.len() + self.pending_new_objects()).expect("fewer than 4 billion objects")
    }

    fn pending_new_objects(&self) -> usize {
        self.pending.objects.iter().filter(|(id, _)| *id as usize >= self.offsets.len()).count()
    }

    /// Forgets the objects of a letter that was not committed.
    fn discard(&mut self) {
        self.pending.bytes.clear();
        self.pending.objects.clear();
        self.pending.pages.clear();
        self.pending.last_media_box = None;
        self.pending.used = None;
        self.pending.images.clear();
    }

    /// Writes the pending objects and records their offsets.
    fn flush_pending(&mut self) -> Result<(), RenderError> {
        let base = self.sink.offset();
        let bytes = std::mem::take(&mut self.pending.bytes);
        let written = self.write(&bytes);
        self.pending.bytes = bytes;
        written?;
        for &(id, offset) in &self.pending.objects {
            let id = id as usize;
            if id >= self.offsets.len() {
                self.offsets.resize(id + 1, 0);
            }
            self.offsets[id] = base + offset as u64;
        }
        self.pending.bytes.clear();
        self.pending.objects.clear();
        Ok(())
    }
}

/// Object numbers of the objects embedding `weight`.
fn font_ids(weight: Weight) -> FontObjects {
    let base = FONTS + 5 * weight_index(weight) as u32;
    FontObjects { font: base, descendant: base + 1, descriptor: base + 2, program: base + 3, to_unicode: base + 4 }
}

/// A page object: Parent the batch's page tree, resources the shared fonts.
fn page_object(out: &mut Vec<u8>, id: u32, media_box: [f32; 2], contents: Option<u32>, links: &[Link]) {
    begin_object(out, id);
    out.extend_from_slice(b"<</Type/Page");
    for key in [&b"/MediaBox"[..], b"/TrimBox", b"/CropBox"] {
        out.extend_from_slice(key);
        out.extend_from_slice(b"[0 0 ");
        real(out, media_box[0]);
        out.push(b' ');
        real(out, media_box[1]);
        out.push(b']');
    }
    out.extend_from_slice(b"/Parent ");
    reference(out, PAGES);
    out.extend_from_slice(b"/Resources ");
    reference(out, RESOURCES);
    if let Some(contents) = contents {
        out.extend_from_slice(b"/Contents ");
        reference(out, contents);
    }
    if !links.is_empty() {
        out.extend_from_slice(b"/Annots[");
        for link in links {
            // The same annotation as `Document::to_pdf` writes: no border, no colour.
            out.extend_from_slice(b"<</Type/Annot/Subtype/Link/Rect[");
            for (i, v) in link.rect.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                real(out, *v);
            }
            out.extend_from_slice(b"]/A<</S/URI/URI");
            hex_string(out, link.uri.as_bytes());
            out.extend_from_slice(b">>/Border[0 0 0]/C[]/H/I>>");
        }
        out.push(b']');
    }
    out.extend_from_slice(b">>");
    end_object(out);
}

fn content_object(out: &mut Vec<u8>, id: u32, page: &PreparedPage) {
    if page.compressed {
        begin_object(out, id);
        out.extend_from_slice(b"<</Length ");
        integer(out, page.content.len() as i64);
        out.extend_from_slice(b"/Filter/FlateDecode>>\nstream\n");
        out.extend_from_slice(&page.content);
        out.extend_from_slice(b"\nendstream");
        end_object(out);
    } else {
        stream_object(out, id, b"", &page.content, None);
    }
}

/// The pages of one letter being added to a batch; see [`BatchWriter::begin_letter`].
#[derive(Debug)]
pub struct LetterPages<'b, 'f, W: Write> {
    batch: &'b mut BatchWriter<'f, W>,
    letter: BatchLetter,
    first_object: u32,
    committed: bool,
}

impl<W: Write> LetterPages<'_, '_, W> {
    /// Adds the pages of `doc`, which must be set in the batch's fonts. Returns the
    /// number of pages added.
    pub fn append_document(&mut self, doc: &Document<'_>) -> Result<usize, RenderError> {
        let level = self.batch.level;
        let prepared = prepare(doc, level);
        self.append_prepared(&prepared)
    }

    /// Adds pages typeset by [`BatchWriter::prepare`].
    pub fn append_prepared(&mut self, prepared: &PreparedDocument) -> Result<usize, RenderError> {
        self.batch.check()?;
        if prepared.fonts != self.batch.fonts.id() {
            return Err(RenderError::OtherFonts);
        }
        let pending = &mut self.batch.pending;
        let mut next = self.first_object + pending.objects.len() as u32;
        for page in &prepared.pages {
            let (page_id, contents) = (next, next + 1);
            next += 2;
            pending.objects.push((page_id, pending.bytes.len()));
            page_object(&mut pending.bytes, page_id, page.media_box, Some(contents), &page.links);
            pending.objects.push((contents, pending.bytes.len()));
            content_object(&mut pending.bytes, contents, page);
            pending.pages.push(page_id);
            pending.last_media_box = Some(page.media_box);
        }
        let used = pending.used.get_or_insert_with(|| [GlyphSet::new(), GlyphSet::new()]);
        used[0].union(&prepared.used[0]);
        used[1].union(&prepared.used[1]);
        pending.images.extend(prepared.images.iter().cloned());
        Ok(prepared.pages.len())
    }

    /// Adds every page of the PDF file `pdf` unchanged: each page with everything it
    /// refers to (contents, fonts, images), under new object numbers. A file that
    /// cannot be read, is encrypted or has no pages is an error, and adds nothing.
    pub fn append_pdf_pages(&mut self, pdf: &[u8]) -> Result<usize, RenderError> {
        self.batch.check()?;
        // Through the guard, as every PDF from outside: within its limits, its pages copied
        // into the batch (one copy of its objects, its bytes written once more).
        let admit = hybridpost_pdfguard::Admit {
            working_bytes: 2 * pdf.len() as u64,
            copies: 1,
            wait: std::time::Duration::from_secs(600),
        };
        let loaded = hybridpost_pdfguard::load(pdf, &hybridpost_pdfguard::Limits::default(), admit).map_err(|e| {
            RenderError::ForeignPdf(match e {
                hybridpost_pdfguard::GuardError::Unreadable(detail) => detail,
                other => other.to_string(),
            })
        })?;
        let doc = &loaded.document;
        if doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
            return Err(RenderError::ForeignPdf("the PDF is encrypted".to_string()));
        }
        let page_ids: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if page_ids.is_empty() {
            return Err(RenderError::ForeignPdf("the PDF has no pages".to_string()));
        }

        // New numbers: the pages first, in order, then what they refer to, breadth
        // first. Page-tree nodes are not copied: a copied page's /Parent is the batch's
        // page tree, and other references to the old tree become null.
        let pending = &mut self.batch.pending;
        let mut next = self.first_object + pending.objects.len() as u32;
        let mut map: HashMap<ObjectId, Renumbered> = HashMap::new();
        let mut order: Vec<(ObjectId, Object)> = Vec::new();
        let mut queue: VecDeque<ObjectId> = VecDeque::new();
        let mut media_boxes = Vec::new();
        for &id in &page_ids {
            let page = page_with_inherited(doc, id)?;
            media_boxes.push(media_box_of(doc, &page));
            map.insert(id, Renumbered::Object(next));
            next += 1;
            let mut page = page;
            page.set("Parent", Object::Reference(PARENT_PLACEHOLDER));
            collect_references(&Object::Dictionary(page.clone()), &mut queue);
            order.push((id, Object::Dictionary(page)));
        }
        map.insert(PARENT_PLACEHOLDER, Renumbered::Fixed(PAGES));
        while let Some(id) = queue.pop_front() {
            if map.contains_key(&id) {
                continue;
            }
            let Ok(object) = doc.get_object(id) else {
                map.insert(id, Renumbered::Null);
                continue;
            };
            let is_tree_node = object
                .as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok())
                .is_some_and(|t| t == b"Pages" || t == b"Page");
            if is_tree_node {
                // A page of this PDF is copied as a page; anything else in its tree is not.
                map.insert(id, Renumbered::Null);
                continue;
            }
            map.insert(id, Renumbered::Object(next));
            next += 1;
            collect_references(object, &mut queue);
            order.push((id, object.clone()));
        }

        let start_objects = pending.objects.len();
        for (old, object) in &order {
            let Some(Renumbered::Object(new)) = map.get(old) else { continue };
            pending.objects.push((*new, pending.bytes.len()));
            begin_object(&mut pending.bytes, *new);
            copied_object(&mut pending.bytes, object, &map);
            end_object(&mut pending.bytes);
        }
        debug_assert_eq!(pending.objects.len() - start_objects, order.len());
        for (i, &id) in page_ids.iter().enumerate() {
            if let Some(Renumbered::Object(new)) = map.get(&id) {
                pending.pages.push(*new);
            }
            pending.last_media_box = Some(media_boxes[i]);
        }
        Ok(page_ids.len())
    }

    /// Number of pages added so far.
    pub fn page_count(&self) -> usize {
        self.batch.pending.pages.len()
    }

    /// Writes the letter to the batch, followed by a blank back when it has an odd
    /// number of pages, and returns its manifest entry.
    pub fn commit(mut self) -> Result<ManifestEntry, RenderError> {
        self.batch.check()?;
        let batch = &mut *self.batch;
        let pages = batch.pending.pages.len();
        if pages == 0 {
            return Err(RenderError::EmptyLetter);
        }
        if pages % 2 == 1 {
            let blank = self.first_object + batch.pending.objects.len() as u32;
            let media_box = batch.pending.last_media_box.unwrap_or([595.2756, 841.8898]);
            batch.pending.objects.push((blank, batch.pending.bytes.len()));
            page_object(&mut batch.pending.bytes, blank, media_box, None, &[]);
            batch.pending.pages.push(blank);
        }
        let sheets = batch.pending.pages.len() / 2;
        let first_page = batch.page_total + 1;
        let kids = std::mem::take(&mut batch.pending.pages);
        let used = batch.pending.used.take();
        let images = std::mem::take(&mut batch.pending.images);
        batch.flush_pending()?;
        for image in images {
            batch.images.entry(image.resource_name()).or_insert(image);
        }
        batch.page_total += kids.len();
        batch.kids.extend_from_slice(&kids);
        if let Some(used) = used {
            batch.used[0].union(&used[0]);
            batch.used[1].union(&used[1]);
        }
        let entry = ManifestEntry {
            letter_id: self.letter.letter_id.clone(),
            first_page,
            pages,
            sheets,
            postcode: self.letter.postcode.clone(),
            envelope_order: batch.manifest.letters.len() + 1,
            urgency: self.letter.urgency.clone(),
        };
        batch.manifest.letters.push(entry.clone());
        self.committed = true;
        Ok(entry)
    }
}

impl<W: Write> Drop for LetterPages<'_, '_, W> {
    fn drop(&mut self) {
        if !self.committed {
            self.batch.discard();
        }
    }
}

/// Stands for the batch's page tree in a copied page's `/Parent` (no PDF has an object
/// with this number: object numbers stop below 2^23 in practice, ISO 32000-1 §C.2).
const PARENT_PLACEHOLDER: ObjectId = (u32::MAX, u16::MAX);

/// Keys a page inherits from its ancestors in the page tree (ISO 32000-1 §7.7.3.4).
const INHERITED: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

/// The page dictionary `id` with its inherited attributes filled in.
fn page_with_inherited(doc: &lopdf::Document, id: ObjectId) -> Result<Dictionary, RenderError> {
    let mut page = doc
        .get_dictionary(id)
        .map_err(|e| RenderError::ForeignPdf(format!("page object {} {}: {e}", id.0, id.1)))?
        .clone();
    let mut parent = page.get(b"Parent").and_then(Object::as_reference).ok();
    let mut depth = 0;
    while let Some(parent_id) = parent {
        depth += 1;
        if depth > 64 {
            return Err(RenderError::ForeignPdf("the page tree is too deep or loops".to_string()));
        }
        let Ok(node) = doc.get_dictionary(parent_id) else { break };
        for key in INHERITED {
            if !page.has(key)
                && let Ok(value) = node.get(key)
            {
                page.set(key.to_vec(), value.clone());
            }
        }
        parent = node.get(b"Parent").and_then(Object::as_reference).ok();
    }
    if !page.has(b"MediaBox") {
        return Err(RenderError::ForeignPdf(format!("page object {} {} has no /MediaBox", id.0, id.1)));
    }
    Ok(page)
}

/// Width and height of a page's media box, for a blank back of the same size.
fn media_box_of(doc: &lopdf::Document, page: &Dictionary) -> [f32; 2] {
    let number = |o: &Object| -> f32 {
        let o = doc.dereference(o).map(|(_, o)| o).unwrap_or(o);
        match o {
            Object::Integer(i) => *i as f32,
            Object::Real(r) => *r,
            _ => 0.0,
        }
    };
    let values: Vec<f32> = page
        .get(b"MediaBox")
        .ok()
        .map(|o| doc.dereference(o).map(|(_, o)| o).unwrap_or(o))
        .and_then(|o| o.as_array().ok())
        .map(|a| a.iter().map(number).collect())
        .unwrap_or_default();
    match values[..] {
        [x0, y0, x1, y1] => [(x1 - x0).abs(), (y1 - y0).abs()],
        _ => [595.2756, 841.8898],
    }
}

/// Pushes every object number `object` refers to.
fn collect_references(object: &Object, queue: &mut VecDeque<ObjectId>) {
    match object {
        Object::Reference(id) => queue.push_back(*id),
        Object::Array(items) => items.iter().for_each(|o| collect_references(o, queue)),
        Object::Dictionary(dict) => dict.iter().for_each(|(_, o)| collect_references(o, queue)),
        Object::Stream(stream) => stream.dict.iter().for_each(|(_, o)| collect_references(o, queue)),
        _ => {}
    }
}

/// The job cover sheet: what the batch is, for whom, and how much paper it takes, in
/// Thai with English.
fn cover_sheet<'f>(fonts: &'f Fonts<'f>, manifest: &BatchManifest) -> Result<Document<'f>, RenderError> {
    let mut doc = Document::with_fonts(fonts, PageSize::A4);
    let page = doc.add_page();
    let (left, width) = (25.0, 160.0);
    let heading =
        Paragraph::new().bold("ใบปะหน้างานพิมพ์").text("\nPrint job cover sheet").size(Pt(22.0)).align(Align::Center);
    let mut y = match doc.place_paragraph(page, &heading, Area::new(left, 25.0, width, 30.0))? {
        Flow::Done { bottom, .. } => bottom.0,
        Flow::Continues { .. } => return Err(RenderError::BlockDoesNotFit),
    };
    y += 4.0;
    doc.draw_line(page, Point::new(left, y), Point::new(left + width, y), Stroke::new(Pt(1.0)))?;
    y += 6.0;

    let info = &manifest.info;
    let letters = manifest.letters.len();
    let postcodes = match manifest.postcode_range() {
        Some((first, last)) if first == last => first.to_string(),
        Some((first, last)) => format!("{first} – {last}"),
        None => "–".to_string(),
    };
    let rows = [
        ("ชุดงาน", "Batch", info.batch_id.clone()),
        ("ศูนย์พิมพ์", "Print site", info.site.clone()),
        ("สร้างเมื่อ", "Created", info.created_at.clone()),
        ("จำนวนจดหมาย", "Letters", letters.to_string()),
        ("จำนวนหน้า", "Pages", manifest.pages.to_string()),
        ("จำนวนแผ่น (พิมพ์สองหน้า)", "Sheets (duplex)", manifest.sheets.to_string()),
        ("รหัสไปรษณีย์", "Postcodes", postcodes),
        ("จดหมายที่ไม่ได้พิมพ์", "Letters not printed", manifest.skipped.len().to_string()),
    ];
    let label_width = 80.0;
    for (thai, english, value) in rows {
        let label = Paragraph::new().bold(thai).text(&format!("\n{english}"));
        let value = Paragraph::new().unbreakable(&value, Weight::Regular).size(Pt(18.0));
        let label_flow = doc.place_paragraph(page, &label, Area::new(left, y, label_width, 20.0))?;
        let value_flow =
            doc.place_paragraph(page, &value, Area::new(left + label_width, y, width - label_width, 20.0))?;
        let bottom = [label_flow, value_flow]
            .iter()
            .map(|f| match f {
                Flow::Done { bottom, .. } | Flow::Continues { bottom, .. } => bottom.0,
            })
            .fold(y, f32::max);
        y = bottom + 3.0;
        let rule = Stroke { width: Pt(0.3), color: crate::Color::gray(0.6) };
        doc.draw_line(page, Point::new(left, y), Point::new(left + width, y), rule)?;
        y += 3.0;
    }
    y += 6.0;
    let note = Paragraph::new()
        .text("พิมพ์สองหน้า จดหมายทุกฉบับเริ่มที่แผ่นใหม่ เรียงตามลำดับซองในบัญชีรายการ (manifest)")
        .text("\nPrint duplex. Every letter starts on a new sheet, in the envelope order of the manifest.")
        .size(Pt(14.0));
    doc.place_paragraph(page, &note, Area::new(left, y, width, 40.0))?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("L-1"), "L-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
