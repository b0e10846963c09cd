//! [`append_pages`]: the cover page(s) and then the agency's pages, in one PDF.

use std::collections::{HashMap, VecDeque};

use std::time::Duration;

use hybridpost_pdfguard::{Admit, GuardError};
use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::objects::{as_dict, resolve};
use crate::pages::{self, Page};

/// Why two documents could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The cover page PDF does not load.
    #[error("the cover PDF cannot be read: {0}")]
    Cover(String),
    /// The agency's PDF does not load.
    #[error("the agency's PDF cannot be read: {0}")]
    Agency(String),
    /// A document is encrypted; run [`crate::check`] first, which refuses it.
    #[error("the {0} PDF is encrypted")]
    Encrypted(&'static str),
    /// A document has no pages.
    #[error("the {0} PDF has no pages")]
    NoPages(&'static str),
    /// Writing the combined document failed.
    #[error("the combined PDF cannot be written: {0}")]
    Write(String),
    /// The process had no memory for it within the wait (see [`hybridpost_pdfguard::budget`]).
    #[error("{0}")]
    Busy(String),
}

/// How long [`append_pages`] waits for the process's PDF memory.
const APPEND_WAIT: Duration = Duration::from_secs(600);

/// One PDF with the cover's pages first and then the agency's pages, unchanged.
///
/// Each page is copied with everything it refers to (content, resources, fonts, images,
/// annotations) under new object numbers, and inherited attributes (resources, media and
/// crop box, rotation) are written onto the page itself, so it looks exactly as it did.
/// Nothing else of the agency's document comes along: no outlines, form fields, named
/// destinations, document JavaScript or open actions; page and annotation actions
/// (`/AA`, JavaScript and launch `/A`) are dropped too. The same inputs give the same bytes.
pub fn append_pages(cover: &[u8], agency: &[u8]) -> Result<Vec<u8>, AppendError> {
    // Both through the guard, reserved together: each document's pages are copied once
    // into the result, which is then written out (a copy of its objects, twice its bytes).
    let admit = |pdf: &[u8]| Admit { working_bytes: 2 * pdf.len() as u64, copies: 1, wait: APPEND_WAIT };
    let loaded =
        hybridpost_pdfguard::load_together(&[(cover, admit(cover)), (agency, admit(agency))], &crate::reader_limits())
            .map_err(|(which, e)| match e {
                busy @ GuardError::Busy { .. } => AppendError::Busy(busy.to_string()),
                GuardError::Unreadable(detail) if which == 0 => AppendError::Cover(detail),
                GuardError::Unreadable(detail) => AppendError::Agency(detail),
                other if which == 0 => AppendError::Cover(other.to_string()),
                other => AppendError::Agency(other.to_string()),
            })?;
    let (Some(cover_doc), Some(agency_doc)) = (loaded.documents.first(), loaded.documents.get(1)) else {
        return Err(AppendError::Agency("it was not loaded".into()));
    };
    for (doc, which) in [(cover_doc, "cover"), (agency_doc, "agency's")] {
        if doc.was_encrypted() || doc.trailer.has(b"Encrypt") {
            return Err(AppendError::Encrypted(which));
        }
    }
    let version = if agency_doc.version > cover_doc.version { &agency_doc.version } else { &cover_doc.version };
    let mut out = Document::with_version(version.clone());
    let pages_id = out.new_object_id();
    let catalog_id = out.new_object_id();

    let mut kids = Vec::new();
    for (doc, which, strip_actions) in [(cover_doc, "cover", false), (agency_doc, "agency's", true)] {
        let (pages, _) = pages::pages(doc).map_err(|why| match which {
            "cover" => AppendError::Cover(why),
            _ => AppendError::Agency(why),
        })?;
        if pages.is_empty() {
            return Err(AppendError::NoPages(which));
        }
        kids.extend(copy_pages(doc, &pages, &mut out, pages_id, strip_actions));
    }
    finish(out, pages_id, catalog_id, &kids).map_err(AppendError::Write)
}

/// Writes `out` with a page tree `pages_id` of `kids` (whose `/Parent` it already is) under
/// the catalog `catalog_id`.
pub(crate) fn finish(
    mut out: Document,
    pages_id: ObjectId,
    catalog_id: ObjectId,
    kids: &[ObjectId],
) -> Result<Vec<u8>, String> {
    out.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(kids.iter().copied().map(Object::Reference).collect())),
            ("Count", Object::Integer(kids.len() as i64)),
        ])),
    );
    out.objects.insert(
        catalog_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Catalog".to_vec())),
            ("Pages", Object::Reference(pages_id)),
        ])),
    );
    out.trailer.set("Root", Object::Reference(catalog_id));
    let mut bytes = Vec::new();
    out.save_to(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Keys of a page dictionary that belong to the old document, not to the page's looks.
const DROPPED_PAGE_KEYS: [&[u8]; 3] = [b"Parent", b"B", b"AA"];

/// Copies `pages` and all they refer to into `out`; returns the new page ids in order.
pub(crate) fn copy_pages(
    doc: &Document,
    pages: &[Page<'_>],
    out: &mut Document,
    parent: ObjectId,
    strip_actions: bool,
) -> Vec<ObjectId> {
    // New numbers: the pages first, in order, then what they refer to, breadth first.
    let mut map: HashMap<ObjectId, ObjectId> = HashMap::new();
    let mut queue: VecDeque<ObjectId> = VecDeque::new();
    let mut page_ids = Vec::new();
    let mut new_pages = Vec::new();
    for page in pages {
        let mut dict = page.dict.clone();
        for key in DROPPED_PAGE_KEYS {
            dict.remove(key);
        }
        // Inherited attributes onto the page itself, before it leaves its tree.
        for (key, value) in inherited(doc, page) {
            if !dict.has(key) {
                dict.set(key, value);
            }
        }
        let id = out.new_object_id();
        if page.id != (0, 0) && !map.contains_key(&page.id) {
            map.insert(page.id, id);
        }
        page_ids.push(id);
        new_pages.push(dict);
    }
    for dict in &new_pages {
        enqueue_refs(doc, &Object::Dictionary(dict.clone()), &mut map, &mut queue, out);
    }
    let mut copied: Vec<(ObjectId, Object)> = Vec::new();
    while let Some(old) = queue.pop_front() {
        let Some(object) = doc.objects.get(&old) else { continue };
        let mut object = object.clone();
        if strip_actions {
            strip(&mut object);
        }
        enqueue_refs(doc, &object, &mut map, &mut queue, out);
        if let Some(new) = map.get(&old) {
            copied.push((*new, object));
        }
    }
    for (new, object) in copied {
        out.objects.insert(new, renumber(&object, &map));
    }
    for (id, mut dict) in page_ids.iter().zip(new_pages) {
        dict.set("Parent", Object::Reference(parent));
        out.objects.insert(*id, renumber(&Object::Dictionary(dict), &map));
    }
    page_ids
}

/// The page's inherited attributes (ISO 32000-1 Table 30) as the page sees them.
fn inherited(doc: &Document, page: &Page<'_>) -> Vec<(&'static [u8], Object)> {
    let mut found = Vec::new();
    let mut node = Some(page.dict);
    let mut hops = 0;
    let keys: [&'static [u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];
    while let Some(dict) = node {
        for key in keys {
            if !found.iter().any(|(k, _)| *k == key)
                && let Ok(value) = dict.get(key)
            {
                found.push((key, value.clone()));
            }
        }
        hops += 1;
        if hops > 64 {
            break;
        }
        node = dict.get(b"Parent").ok().and_then(|p| resolve(doc, p)).and_then(as_dict);
    }
    found
}

/// Gives every object `object` refers to a new number and queues it for copying. The
/// old page tree and catalog are never followed (an annotation's `/P` is a page, mapped
/// already; anything pointing at a `/Pages` node or the catalog gets `null`).
fn enqueue_refs(
    doc: &Document,
    object: &Object,
    map: &mut HashMap<ObjectId, ObjectId>,
    queue: &mut VecDeque<ObjectId>,
    out: &mut Document,
) {
    let mut stack = vec![object];
    while let Some(o) = stack.pop() {
        match o {
            Object::Reference(id) => {
                if map.contains_key(id) {
                    continue;
                }
                let Some(target) = doc.objects.get(id) else { continue };
                let kind = as_dict(target).and_then(|d| d.get(b"Type").ok()).and_then(|t| t.as_name().ok());
                if matches!(kind, Some(b"Pages" | b"Catalog" | b"Page")) {
                    continue;
                }
                map.insert(*id, out.new_object_id());
                queue.push_back(*id);
            }
            Object::Array(items) => stack.extend(items.iter().rev()),
            Object::Dictionary(d) => stack.extend(d.iter().map(|(_, v)| v).collect::<Vec<_>>().into_iter().rev()),
            Object::Stream(s) => stack.extend(s.dict.iter().map(|(_, v)| v).collect::<Vec<_>>().into_iter().rev()),
            _ => {}
        }
    }
}

/// Drops actions from an annotation: what it runs on open, close or click.
fn strip(object: &mut Object) {
    let Object::Dictionary(dict) = object else { return };
    if dict.get(b"Type").and_then(|t| t.as_name()).is_ok_and(|t| t == b"Annot")
        || dict.has(b"Subtype") && dict.has(b"Rect")
    {
        dict.remove(b"AA");
        let runs = match dict.get(b"A") {
            Ok(Object::Dictionary(action)) => {
                matches!(action.get(b"S").and_then(|s| s.as_name()), Ok(b"JavaScript" | b"Launch")) || action.has(b"JS")
            }
            Ok(Object::Reference(_)) => true,
            _ => false,
        };
        if runs {
            dict.remove(b"A");
        }
    }
}

/// A copy of `object` with references renumbered; references to objects not copied
/// become `null` (ISO 32000-1 §7.3.10: a reference to a missing object is null).
fn renumber(object: &Object, map: &HashMap<ObjectId, ObjectId>) -> Object {
    match object {
        Object::Reference(id) => map.get(id).map_or(Object::Null, |new| Object::Reference(*new)),
        Object::Array(items) => Object::Array(items.iter().map(|o| renumber(o, map)).collect()),
        Object::Dictionary(d) => Object::Dictionary(renumber_dict(d, map)),
        Object::Stream(s) => {
            let mut stream = s.clone();
            stream.dict = renumber_dict(&s.dict, map);
            Object::Stream(stream)
        }
        other => other.clone(),
    }
}

fn renumber_dict(dict: &Dictionary, map: &HashMap<ObjectId, ObjectId>) -> Dictionary {
    let mut out = Dictionary::new();
    for (key, value) in dict.iter() {
        out.set(key.clone(), renumber(value, map));
    }
    out
}
