//! Active content: JavaScript and launch actions (ISO 32000-1 §12.6.4.16, §12.6.4.5) and
//! embedded files (§7.11.4), wherever they sit in the file.

use std::collections::{BTreeMap, HashMap};

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::objects::{as_dict, resolve};

/// Nesting of direct dictionaries and arrays looked into within one object.
const MAX_DEPTH: usize = 32;

/// A kind of active content a print service refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Active {
    JavaScript,
    Launch,
    EmbeddedFile,
}

/// Every kind of active content found, with the page it belongs to when known.
pub(crate) fn find(doc: &Document, pages: &[(u32, ObjectId, &Dictionary)]) -> BTreeMap<(Option<u32>, Active), usize> {
    // Which page an object belongs to: the page itself, its annotations and their actions.
    let mut owner: HashMap<ObjectId, u32> = HashMap::new();
    for (number, id, dict) in pages {
        owner.entry(*id).or_insert(*number);
        let mut refs: Vec<&Object> = Vec::new();
        refs.extend(dict.get(b"AA").ok());
        if let Some(Object::Array(annots)) = dict.get(b"Annots").ok().and_then(|a| resolve(doc, a)) {
            for annot in annots {
                refs.push(annot);
                if let Some(a) = resolve(doc, annot).and_then(as_dict) {
                    refs.extend(a.get(b"A").ok());
                    refs.extend(a.get(b"AA").ok());
                    refs.extend(a.get(b"FS").ok());
                }
            }
        }
        for r in refs {
            if let Object::Reference(rid) = r {
                owner.entry(*rid).or_insert(*number);
            }
        }
    }
    let mut found = BTreeMap::new();
    for (id, object) in &doc.objects {
        let page = owner.get(id).copied();
        let mut kinds = Vec::new();
        scan(object, 0, &mut kinds);
        for kind in kinds {
            *found.entry((page, kind)).or_insert(0) += 1;
        }
    }
    found
}

fn scan(object: &Object, depth: usize, kinds: &mut Vec<Active>) {
    if depth > MAX_DEPTH {
        return;
    }
    match object {
        Object::Dictionary(d) => scan_dict(d, depth, kinds),
        Object::Stream(s) => scan_dict(&s.dict, depth, kinds),
        Object::Array(items) => items.iter().for_each(|o| scan(o, depth + 1, kinds)),
        _ => {}
    }
}

fn scan_dict(d: &Dictionary, depth: usize, kinds: &mut Vec<Active>) {
    let name = |key: &[u8]| match d.get(key) {
        Ok(Object::Name(n)) => Some(n.as_slice()),
        _ => None,
    };
    if name(b"S") == Some(b"JavaScript") || d.has(b"JS") {
        kinds.push(Active::JavaScript);
    }
    if name(b"S") == Some(b"Launch") {
        kinds.push(Active::Launch);
    }
    if name(b"Type") == Some(b"EmbeddedFile") || d.has(b"EF") || name(b"Subtype") == Some(b"FileAttachment") {
        kinds.push(Active::EmbeddedFile);
    }
    for (_, value) in d.iter() {
        scan(value, depth + 1, kinds);
    }
}
