//! Small readers over lopdf objects that follow references a bounded number of times
//! and treat anything unexpected as absent.

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

/// References followed in a row before giving up (a reference cycle, or a hostile chain).
const MAX_HOPS: usize = 16;

/// The object `object` refers to (itself when it is not a reference).
pub(crate) fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    let mut current = object;
    for _ in 0..MAX_HOPS {
        match current {
            Object::Reference(id) => current = doc.objects.get(id)?,
            other => return Some(other),
        }
    }
    None
}

/// `dict[key]`, following references.
pub(crate) fn get<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    resolve(doc, dict.get(key).ok()?)
}

/// `dict[key]` as a dictionary (a stream's dictionary counts).
pub(crate) fn get_dict<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
    as_dict(get(doc, dict, key)?)
}

/// The dictionary of a dictionary or stream object.
pub(crate) fn as_dict(object: &Object) -> Option<&Dictionary> {
    match object {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

/// `dict[key]` as a stream, with the id it was reached by when it was a reference.
pub(crate) fn get_stream<'a>(
    doc: &'a Document,
    dict: &'a Dictionary,
    key: &[u8],
) -> Option<(Option<ObjectId>, &'a Stream)> {
    let raw = dict.get(key).ok()?;
    let id = match raw {
        Object::Reference(id) => Some(*id),
        _ => None,
    };
    match resolve(doc, raw)? {
        Object::Stream(s) => Some((id, s)),
        _ => None,
    }
}

/// `dict[key]` as an array.
pub(crate) fn get_array<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a [Object]> {
    match get(doc, dict, key)? {
        Object::Array(a) => Some(a),
        _ => None,
    }
}

/// `dict[key]` as a name.
pub(crate) fn get_name<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    match get(doc, dict, key)? {
        Object::Name(n) => Some(n),
        _ => None,
    }
}

/// `dict[key]` as a finite number.
pub(crate) fn get_number(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<f64> {
    number(doc, get(doc, dict, key)?)
}

/// An integer or real object as a finite number.
pub(crate) fn number(doc: &Document, object: &Object) -> Option<f64> {
    let value = match resolve(doc, object)? {
        Object::Integer(i) => *i as f64,
        Object::Real(r) => f64::from(*r),
        _ => return None,
    };
    value.is_finite().then_some(value)
}

/// An array of numbers, all of them or `None`.
pub(crate) fn numbers(doc: &Document, array: &[Object]) -> Option<Vec<f64>> {
    array.iter().map(|o| number(doc, o)).collect()
}

/// A name as text for messages (lossy, without a subset prefix such as `ABCDEF+`).
pub(crate) fn display_name(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let bytes = text.as_bytes();
    let subset = bytes.len() > 7 && bytes.get(6) == Some(&b'+') && bytes.iter().take(6).all(u8::is_ascii_uppercase);
    let text = if subset { text.get(7..).unwrap_or_default().to_string() } else { text.into_owned() };
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}
