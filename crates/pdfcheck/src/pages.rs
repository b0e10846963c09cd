//! The page tree (ISO 32000-1 §7.7.3): pages in order with their inherited attributes,
//! read without trusting the tree to be a tree, and each page's visible box and rotation.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::geometry::{MM_PER_PT, Rect};
use crate::objects::{as_dict, get, get_dict, numbers, resolve};

/// Pages read at most; a larger count is reported as is, the rest is not looked at.
pub(crate) const MAX_PAGES_READ: usize = 10_000;
/// Levels of the page tree followed at most.
const MAX_TREE_DEPTH: usize = 64;

/// One page and the attributes it inherits from the tree above it.
#[derive(Debug, Clone)]
pub(crate) struct Page<'a> {
    pub(crate) id: ObjectId,
    pub(crate) dict: &'a Dictionary,
    pub(crate) resources: Option<&'a Dictionary>,
    media_box: Option<&'a Object>,
    crop_box: Option<&'a Object>,
    rotate: Option<&'a Object>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Inherited<'a> {
    resources: Option<&'a Object>,
    media_box: Option<&'a Object>,
    crop_box: Option<&'a Object>,
    rotate: Option<&'a Object>,
}

impl<'a> Inherited<'a> {
    fn under(self, node: &'a Dictionary) -> Self {
        Self {
            resources: node.get(b"Resources").ok().or(self.resources),
            media_box: node.get(b"MediaBox").ok().or(self.media_box),
            crop_box: node.get(b"CropBox").ok().or(self.crop_box),
            rotate: node.get(b"Rotate").ok().or(self.rotate),
        }
    }
}

/// The pages of `doc` in order, or why there are none to read.
pub(crate) fn pages(doc: &Document) -> Result<(Vec<Page<'_>>, usize), String> {
    let catalog = doc
        .trailer
        .get(b"Root")
        .ok()
        .and_then(|root| resolve(doc, root))
        .and_then(as_dict)
        .ok_or("the document catalog is missing")?;
    let root = catalog.get(b"Pages").map_err(|_| "the page tree is missing")?;
    let mut out = Vec::new();
    let mut count = 0usize;
    let mut visited: HashSet<ObjectId> = HashSet::new();
    // Depth-first, children in order: a stack of (node, inherited, depth), pushed reversed.
    let mut stack: Vec<(&Object, Inherited<'_>, usize)> = vec![(root, Inherited::default(), 0)];
    while let Some((node, inherited, depth)) = stack.pop() {
        let id = match node {
            Object::Reference(id) => {
                if !visited.insert(*id) {
                    continue; // a node seen before: a cycle or a shared kid
                }
                Some(*id)
            }
            _ => None,
        };
        let Some(dict) = resolve(doc, node).and_then(as_dict) else { continue };
        let inherited = inherited.under(dict);
        let kids = match get(doc, dict, b"Kids") {
            Some(Object::Array(kids)) => Some(kids),
            _ => None,
        };
        let is_page = match get(doc, dict, b"Type") {
            Some(Object::Name(t)) => t.as_slice() == b"Page",
            _ => kids.is_none(),
        };
        if is_page {
            count += 1;
            if out.len() < MAX_PAGES_READ {
                out.push(Page {
                    id: id.unwrap_or((0, 0)),
                    dict,
                    resources: inherited.resources.and_then(|r| resolve(doc, r)).and_then(as_dict),
                    media_box: inherited.media_box,
                    crop_box: inherited.crop_box,
                    rotate: inherited.rotate,
                });
            }
            if count >= MAX_PAGES_READ * 10 {
                break;
            }
        } else if let Some(kids) = kids
            && depth < MAX_TREE_DEPTH
        {
            for kid in kids.iter().rev() {
                stack.push((kid, inherited, depth + 1));
            }
        }
    }
    Ok((out, count))
}

/// What a page shows: its visible box in default user space and its rotation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageGeometry {
    /// The crop box clipped to the media box, in points.
    pub(crate) visible: Rect,
    /// Clockwise rotation when shown: 0, 90, 180 or 270.
    pub(crate) rotate: u16,
}

impl PageGeometry {
    /// The page's geometry, or `None` when it has no usable media box.
    pub(crate) fn of(doc: &Document, page: &Page<'_>) -> Option<Self> {
        let media = page_box(doc, page.media_box)?;
        let visible = match page_box(doc, page.crop_box) {
            Some(crop) => {
                let clipped = crop.intersect(&media);
                if clipped.is_valid() && clipped.width() > 0.0 && clipped.height() > 0.0 { clipped } else { media }
            }
            None => media,
        };
        let degrees = page.rotate.and_then(|r| crate::objects::number(doc, r)).unwrap_or(0.0) as i64;
        let rotate = match degrees.rem_euclid(360) {
            90 => 90,
            180 => 180,
            270 => 270,
            _ => 0,
        };
        Some(Self { visible, rotate })
    }

    /// Width and height as shown (after rotation), in millimetres.
    pub(crate) fn size_mm(&self) -> (f64, f64) {
        let (w, h) = (self.visible.width() * MM_PER_PT, self.visible.height() * MM_PER_PT);
        if self.rotate % 180 == 90 { (h, w) } else { (w, h) }
    }

    /// A rectangle of user space as shown: millimetres from the top-left corner, y down.
    pub(crate) fn shown(&self, r: &Rect) -> Rect {
        let v = &self.visible;
        let map = |x: f64, y: f64| -> (f64, f64) {
            let (sx, sy) = match self.rotate {
                90 => (y - v.y0, x - v.x0),
                180 => (v.x1 - x, y - v.y0),
                270 => (v.y1 - y, v.x1 - x),
                _ => (x - v.x0, v.y1 - y),
            };
            (sx * MM_PER_PT, sy * MM_PER_PT)
        };
        let (ax, ay) = map(r.x0, r.y0);
        let (bx, by) = map(r.x1, r.y1);
        Rect::from_corners(ax, ay, bx, by)
    }

    /// A rectangle in millimetres from the shown top-left corner, in user space.
    pub(crate) fn user_space(&self, r: &Rect) -> Rect {
        let v = &self.visible;
        let map = |sx: f64, sy: f64| -> (f64, f64) {
            let (sx, sy) = (sx / MM_PER_PT, sy / MM_PER_PT);
            match self.rotate {
                90 => (v.x0 + sy, v.y0 + sx),
                180 => (v.x1 - sx, v.y0 + sy),
                270 => (v.x1 - sy, v.y1 - sx),
                _ => (v.x0 + sx, v.y1 - sy),
            }
        };
        let (ax, ay) = map(r.x0, r.y0);
        let (bx, by) = map(r.x1, r.y1);
        Rect::from_corners(ax, ay, bx, by)
    }
}

fn page_box(doc: &Document, object: Option<&Object>) -> Option<Rect> {
    let Object::Array(values) = resolve(doc, object?)? else { return None };
    let [x0, y0, x1, y1] = numbers(doc, values)?[..] else { return None };
    let r = Rect::from_corners(x0, y0, x1, y1);
    (r.is_valid() && r.width() > 0.0 && r.height() > 0.0).then_some(r)
}

/// The page's content streams in order (`/Contents` is one stream or an array of them).
pub(crate) fn contents<'a>(doc: &'a Document, page: &Page<'a>) -> Vec<&'a lopdf::Stream> {
    match get(doc, page.dict, b"Contents") {
        Some(Object::Stream(s)) => vec![s],
        Some(Object::Array(items)) => items
            .iter()
            .filter_map(|o| match resolve(doc, o) {
                Some(Object::Stream(s)) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The page's annotations that print: the Print flag set, not hidden, with a normal
/// appearance (ISO 32000-1 §12.5.3), each as its rectangle in user space.
pub(crate) fn printed_annotations(doc: &Document, page: &Page<'_>) -> Vec<Rect> {
    let Some(Object::Array(annots)) = get(doc, page.dict, b"Annots") else { return Vec::new() };
    annots
        .iter()
        .filter_map(|a| resolve(doc, a).and_then(as_dict))
        .filter(|a| {
            let flags = crate::objects::get_number(doc, a, b"F").unwrap_or(0.0) as i64;
            flags & 4 != 0 && flags & 2 == 0 && get_dict(doc, a, b"AP").is_some_and(|ap| ap.has(b"N"))
        })
        .filter_map(|a| {
            let Some(Object::Array(r)) = get(doc, a, b"Rect") else { return None };
            let [x0, y0, x1, y1] = numbers(doc, r)?[..] else { return None };
            Some(Rect::from_corners(x0, y0, x1, y1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a4(rotate: u16) -> PageGeometry {
        PageGeometry { visible: Rect::from_corners(0.0, 0.0, 595.276, 841.89), rotate }
    }

    #[test]
    fn shown_and_user_space_round_trip_at_every_rotation() {
        for rotate in [0, 90, 180, 270] {
            let g = a4(rotate);
            let window = Rect::from_corners(20.0, 45.0, 110.0, 90.0);
            let back = g.shown(&g.user_space(&window));
            assert!((back.x0 - 20.0).abs() < 1e-6 && (back.y1 - 90.0).abs() < 1e-6, "rotate {rotate}: {back:?}");
        }
    }

    #[test]
    fn rotated_page_swaps_width_and_height() {
        let (w, h) = a4(90).size_mm();
        assert!((w - 297.0).abs() < 0.1 && (h - 210.0).abs() < 0.1);
    }

    #[test]
    fn the_bottom_left_of_an_unrotated_page_is_its_shown_bottom_left() {
        let shown = a4(0).shown(&Rect::from_corners(0.0, 0.0, 10.0, 10.0));
        assert!(shown.x0.abs() < 1e-9 && (shown.y1 - 297.0).abs() < 0.01);
    }
}
