//! [`stamp_pages`]: the agency's pages with a page of ours printed over each, as the reply
//! codes are printed onto a form the citizen returns.

use std::time::Duration;

use hybridpost_pdfguard::{Admit, GuardError};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::append::{copy_pages, finish};
use crate::geometry::{MM_PER_PT, Rect};
use crate::objects::{as_dict, resolve};
use crate::pages::{self, PageGeometry};

/// Why the stamps could not be put on the agency's pages.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// The agency's PDF does not load.
    #[error("the agency's PDF cannot be read: {0}")]
    Agency(String),
    /// The PDF of stamps does not load, or does not have one page per agency page.
    #[error("the stamps cannot be used: {0}")]
    Stamps(String),
    /// The agency's PDF is encrypted; run [`crate::check`] first, which refuses it.
    #[error("the agency's PDF is encrypted")]
    Encrypted,
    /// A page without a usable media box.
    #[error("page {0} of the agency's PDF has no page size")]
    NoPageSize(usize),
    /// Writing the stamped document failed.
    #[error("the stamped PDF cannot be written: {0}")]
    Write(String),
    /// The process had no memory for it within the wait (see [`hybridpost_pdfguard::budget`]).
    #[error("{0}")]
    Busy(String),
}

/// How long [`stamp_pages`] waits for the process's PDF memory.
const STAMP_WAIT: Duration = Duration::from_secs(600);

/// The agency's PDF `agency` with page *i* of the PDF `stamps(n)` makes printed over its page
/// *i*, where `n` is the agency's page count; what `stamps` gives must have `n` pages.
///
/// A stamp page is laid out as a page of the size the agency's page shows, from its top-left
/// corner: it lands where it was drawn whatever the agency's crop box or rotation. The
/// agency's content is wrapped in `q … Q`, so that nothing it leaves set moves the stamp, and
/// the stamp is a form XObject with its own resources. The agency's pages are copied as
/// [`crate::append_pages`] copies them (no outlines, form fields or actions come along). The
/// same inputs give the same bytes.
pub fn stamp_pages(
    agency: &[u8],
    stamps: impl FnOnce(usize) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, StampError> {
    let admit = Admit { working_bytes: 2 * agency.len() as u64, copies: 1, wait: STAMP_WAIT };
    let loaded =
        hybridpost_pdfguard::load_together(&[(agency, admit)], &crate::reader_limits()).map_err(|(_, e)| match e {
            busy @ GuardError::Busy { .. } => StampError::Busy(busy.to_string()),
            GuardError::Unreadable(detail) => StampError::Agency(detail),
            other => StampError::Agency(other.to_string()),
        })?;
    let doc = loaded.documents.first().ok_or_else(|| StampError::Agency("it was not loaded".into()))?;
    if doc.was_encrypted() || doc.trailer.has(b"Encrypt") {
        return Err(StampError::Encrypted);
    }
    let (agency_pages, _) = pages::pages(doc).map_err(StampError::Agency)?;
    if agency_pages.is_empty() {
        return Err(StampError::Agency("it has no pages".into()));
    }
    let geometries = agency_pages
        .iter()
        .enumerate()
        .map(|(i, p)| PageGeometry::of(doc, p).ok_or(StampError::NoPageSize(i + 1)))
        .collect::<Result<Vec<_>, _>>()?;

    let stamp_pdf = stamps(agency_pages.len()).map_err(StampError::Stamps)?;
    let stamp_doc = Document::load_mem(&stamp_pdf).map_err(|e| StampError::Stamps(e.to_string()))?;
    let (stamp_pages, _) = pages::pages(&stamp_doc).map_err(StampError::Stamps)?;
    if stamp_pages.len() != agency_pages.len() {
        return Err(StampError::Stamps(format!("{} stamp pages for {} pages", stamp_pages.len(), agency_pages.len())));
    }

    let mut out = Document::with_version(doc.version.clone());
    let pages_id = out.new_object_id();
    let catalog_id = out.new_object_id();
    let kids = copy_pages(doc, &agency_pages, &mut out, pages_id, true);
    let stamp_ids = copy_pages(&stamp_doc, &stamp_pages, &mut out, pages_id, false);

    for (index, ((page_id, stamp_id), geometry)) in kids.iter().zip(&stamp_ids).zip(&geometries).enumerate() {
        let stamp = out.objects.remove(stamp_id).and_then(|o| o.as_dict().ok().cloned());
        let stamp = stamp.ok_or_else(|| StampError::Stamps(format!("stamp page {} is not a page", index + 1)))?;
        let form = stamp_form(&mut out, &stamp)
            .ok_or_else(|| StampError::Stamps(format!("stamp page {} has no size", index + 1)))?;
        let height = form.1;
        let form_id = out.add_object(form.0);
        let page = out
            .objects
            .get(page_id)
            .and_then(|o| o.as_dict().ok())
            .cloned()
            .ok_or_else(|| StampError::Write(format!("page {} was not copied", index + 1)))?;
        let page = stamped_page(&mut out, page, form_id, placement(geometry, height));
        out.objects.insert(*page_id, Object::Dictionary(page));
    }

    finish(out, pages_id, catalog_id, &kids).map_err(StampError::Write)
}

/// The stamp page (copied into `out`) as a form XObject, with its height in points; its
/// content streams leave `out`.
fn stamp_form(out: &mut Document, stamp: &Dictionary) -> Option<(Stream, f64)> {
    let media = match stamp.get(b"MediaBox").ok()? {
        Object::Array(values) => values.clone(),
        _ => return None,
    };
    let numbers: Vec<f64> = media.iter().filter_map(|v| v.as_float().ok().map(f64::from)).collect();
    let [_, y0, _, y1] = numbers[..] else { return None };
    let refs: Vec<ObjectId> = match stamp.get(b"Contents").ok()? {
        Object::Reference(id) => vec![*id],
        Object::Array(items) => items.iter().filter_map(|o| o.as_reference().ok()).collect(),
        _ => Vec::new(),
    };
    let mut content = Vec::new();
    for id in refs {
        if let Some(Object::Stream(s)) = out.objects.remove(&id) {
            content.extend(s.decompressed_content().unwrap_or_else(|_| s.content.clone()));
            content.push(b'\n');
        }
    }
    let resources = stamp.get(b"Resources").cloned().unwrap_or_else(|_| Object::Dictionary(Dictionary::new()));
    let dict = Dictionary::from_iter([
        ("Type", Object::Name(b"XObject".to_vec())),
        ("Subtype", Object::Name(b"Form".to_vec())),
        ("BBox", Object::Array(media)),
        ("Resources", resources),
    ]);
    let mut stream = Stream::new(dict, content);
    // Already compressed streams stay as they are; an error leaves it uncompressed.
    let _ = stream.compress();
    Some((stream, (y1 - y0).abs()))
}

/// The matrix that puts a stamp page of `height` points, drawn from its top-left corner, onto
/// the page of `geometry` as shown (its crop box and rotation).
fn placement(geometry: &PageGeometry, height: f64) -> [f64; 6] {
    // A point of the stamp in points (y up) is at (x, height - y) points from the shown
    // top-left corner; where that is in the page's user space, for three points.
    let at = |x: f64, y: f64| {
        let (sx, sy) = (x * MM_PER_PT, (height - y) * MM_PER_PT);
        let r = geometry.user_space(&Rect::from_corners(sx, sy, sx, sy));
        (r.x0, r.y0)
    };
    let (ox, oy) = at(0.0, 0.0);
    let (ax, ay) = at(1.0, 0.0);
    let (bx, by) = at(0.0, 1.0);
    [ax - ox, ay - oy, bx - ox, by - oy, ox, oy]
}

/// `page` with its own content wrapped in `q … Q` and `form` drawn after it with `matrix`.
fn stamped_page(out: &mut Document, mut page: Dictionary, form: ObjectId, matrix: [f64; 6]) -> Dictionary {
    // The resources become the page's own, so that the name added does not reach other pages
    // sharing them.
    let mut resources =
        page.get(b"Resources").ok().and_then(|r| resolve(out, r)).and_then(as_dict).cloned().unwrap_or_default();
    let mut xobjects =
        resources.get(b"XObject").ok().and_then(|x| resolve(out, x)).and_then(as_dict).cloned().unwrap_or_default();
    let mut name = b"HPStamp".to_vec();
    while xobjects.has(&name) {
        name.push(b'x');
    }
    xobjects.set(name.clone(), Object::Reference(form));
    resources.set("XObject", Object::Dictionary(xobjects));
    page.set("Resources", Object::Dictionary(resources));

    let mut contents: Vec<Object> = match page.get(b"Contents") {
        Ok(Object::Array(items)) => items.clone(),
        Ok(one @ Object::Reference(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let open = out.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let [a, b, c, d, e, f] = matrix.map(|v| format!("{:.4}", if v.abs() < 1e-9 { 0.0 } else { v }));
    let draw = format!("Q\nq {a} {b} {c} {d} {e} {f} cm /{} Do Q\n", String::from_utf8_lossy(&name));
    let close = out.add_object(Stream::new(Dictionary::new(), draw.into_bytes()));
    contents.insert(0, Object::Reference(open));
    contents.push(Object::Reference(close));
    page.set("Contents", Object::Array(contents));
    page
}
