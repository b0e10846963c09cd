//! Where a page paints: a content-stream interpreter that tracks the graphics state
//! (ISO 32000-1 §8.4), paths (§8.5), text (§9.3, §9.4), images and form XObjects (§8.8,
//! §8.9, §8.10) and shadings (§8.7.4.2), and records the bounding box of everything that
//! puts ink on paper. It draws nothing: each painting operator adds a rectangle.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::fonts::FontMetrics;
use crate::geometry::{MM_PER_PT, Matrix, Rect};
use crate::lexer::{BudgetExhausted, Operand, Operation, tokenize};
use crate::objects::{as_dict, get, get_array, get_dict, get_name, get_number, numbers, resolve};

/// Form XObjects nested inside each other at most (deeper ones are not drawn).
const MAX_FORM_DEPTH: usize = 12;
/// Saved graphics states (`q`) kept at most; deeper saves are ignored.
const MAX_SAVED_STATES: usize = 256;
/// Largest decoded content stream, in bytes.
pub(crate) const MAX_STREAM_BYTES: usize = 64 << 20;
/// Decoded bytes of content that cost one unit of the work budget: decoding is work too,
/// and a page of many highly compressed streams must not take minutes to inflate.
const BYTES_PER_UNIT: usize = 32;
/// An image covering at least this share of the page's width and height is a full-page
/// image (a scanned sheet, usually).
const FULL_PAGE_SHARE: f64 = 0.9;
/// Images smaller than this on paper (mm, either side) are not rated for resolution:
/// rules, bullets and tiny logos print acceptably at any resolution.
const MIN_RATED_IMAGE_MM: f64 = 5.0;

/// What a page paints.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Bounding box of everything painted, clipped to the page, in default user space.
    pub(crate) bounds: Option<Rect>,
    /// Bounding box of what was painted inside each watched area (clipped to it), in the
    /// order the areas were given.
    pub(crate) in_watch: Vec<Option<Rect>>,
    /// Effective resolution (dpi, the lower of both directions) of each visible image.
    pub(crate) image_dpi: Vec<f64>,
    /// Fonts whose text was sized with estimated widths.
    pub(crate) estimated_fonts: BTreeSet<String>,
    /// The work budget ran out before the page was fully read.
    pub(crate) exhausted: bool,
    /// Images covering (nearly) the whole page, such as scans: not counted as content,
    /// since their pixels, not their box, say whether ink reaches the margin.
    pub(crate) full_page_images: usize,
    /// Content streams that could not be decoded.
    pub(crate) unreadable: Vec<String>,
}

impl Scan {
    fn mark(&mut self, rect: Rect, clip: &Rect, watch: &[Rect]) {
        let visible = rect.intersect(clip);
        if !visible.is_valid() {
            return;
        }
        self.bounds.get_or_insert(Rect::EMPTY).union(&visible);
        if self.in_watch.len() < watch.len() {
            self.in_watch.resize(watch.len(), None);
        }
        for (watch, seen) in watch.iter().zip(&mut self.in_watch) {
            let inside = visible.intersect(watch);
            if inside.is_valid() && visible.overlaps(watch) {
                seen.get_or_insert(Rect::EMPTY).union(&inside);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ColorSpace {
    Gray,
    Rgb,
    Cmyk,
    Other,
}

#[derive(Debug, Clone)]
struct GraphicsState {
    ctm: Matrix,
    clip: Rect,
    fill_space: ColorSpace,
    stroke_space: ColorSpace,
    fill_white: bool,
    stroke_white: bool,
    line_width: f64,
    font: Option<Rc<FontMetrics>>,
    font_size: f64,
    char_spacing: f64,
    word_spacing: f64,
    horizontal_scale: f64,
    leading: f64,
    rise: f64,
    render_mode: i64,
}

impl GraphicsState {
    fn new(ctm: Matrix, clip: Rect) -> Self {
        Self {
            ctm,
            clip,
            fill_space: ColorSpace::Gray,
            stroke_space: ColorSpace::Gray,
            fill_white: false,
            stroke_white: false,
            line_width: 1.0,
            font: None,
            font_size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            horizontal_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            render_mode: 0,
        }
    }
}

/// Reads one page's content streams within a budget of tokens.
pub(crate) struct Interpreter<'a> {
    doc: &'a Document,
    budget: &'a mut u64,
    watch: Rc<Vec<Rect>>,
    /// The page's visible box.
    page: Rect,
    scan: Scan,
    fonts: HashMap<ObjectId, Rc<FontMetrics>>,
    forms: HashMap<ObjectId, Rc<Vec<Operation>>>,
}

/// Text-object state: the text matrix and the text line matrix.
struct TextObject {
    tm: Matrix,
    tlm: Matrix,
}

impl<'a> Interpreter<'a> {
    /// An interpreter for pages of `doc`, marking what falls inside each of `watch` (user space).
    pub(crate) fn new(doc: &'a Document, budget: &'a mut u64, watch: Vec<Rect>) -> Self {
        Self {
            doc,
            budget,
            watch: Rc::new(watch),
            page: Rect::EMPTY,
            scan: Scan::default(),
            fonts: HashMap::new(),
            forms: HashMap::new(),
        }
    }

    /// Interprets the page's content streams; `clip` is the page's visible box.
    pub(crate) fn run_page(&mut self, contents: &[&Stream], resources: Option<&'a Dictionary>, clip: Rect) {
        self.page = clip;
        let mut data = Vec::new();
        for (i, stream) in contents.iter().enumerate() {
            match self.decode(stream) {
                Ok(bytes) => {
                    data.extend_from_slice(&bytes);
                    // Streams of one page are one stream split anywhere but inside a token.
                    data.push(b'\n');
                }
                Err(why) => self.scan.unreadable.push(format!("content stream {}: {why}", i + 1)),
            }
        }
        match tokenize(&data, self.budget) {
            Ok(ops) => {
                let mut gs = GraphicsState::new(Matrix::IDENTITY, clip);
                if self.execute(&ops, resources, &mut gs, 0).is_err() {
                    self.scan.exhausted = true;
                }
            }
            Err(BudgetExhausted) => self.scan.exhausted = true,
        }
    }

    /// Marks an area painted by something outside the content stream (an annotation).
    pub(crate) fn mark_area(&mut self, rect: Rect, clip: Rect) {
        let watch = Rc::clone(&self.watch);
        self.scan.mark(rect, &clip, &watch);
    }

    /// What the page paints.
    pub(crate) fn finish(self) -> Scan {
        self.scan
    }

    fn spend(&mut self) -> Result<(), BudgetExhausted> {
        if *self.budget == 0 {
            return Err(BudgetExhausted);
        }
        *self.budget -= 1;
        Ok(())
    }

    fn mark(&mut self, rect: Rect, gs: &GraphicsState) {
        let watch = Rc::clone(&self.watch);
        self.scan.mark(rect, &gs.clip, &watch);
    }

    fn execute(
        &mut self,
        ops: &[Operation],
        resources: Option<&'a Dictionary>,
        gs: &mut GraphicsState,
        depth: usize,
    ) -> Result<(), BudgetExhausted> {
        let mut saved: Vec<GraphicsState> = Vec::new();
        let mut path = Rect::EMPTY;
        let mut clip_pending = false;
        let mut text = TextObject { tm: Matrix::IDENTITY, tlm: Matrix::IDENTITY };
        for op in ops {
            self.spend()?;
            let args = &op.operands;
            let num = |i: usize| -> f64 {
                // Operators take their operands from the top of the stack.
                let n = args.len();
                args.get((n + i).wrapping_sub(arity(&op.operator))).and_then(Operand::number).unwrap_or(0.0)
            };
            match op.operator.as_slice() {
                b"q" if saved.len() < MAX_SAVED_STATES => saved.push(gs.clone()),
                b"Q" => {
                    if let Some(state) = saved.pop() {
                        *gs = state;
                    }
                }
                b"cm" => {
                    let m = Matrix { a: num(0), b: num(1), c: num(2), d: num(3), e: num(4), f: num(5) };
                    gs.ctm = m.then(&gs.ctm);
                }
                b"w" => gs.line_width = num(0).abs(),
                b"g" => gs.fill_white = is_white(ColorSpace::Gray, &[num(0)]),
                b"G" => gs.stroke_white = is_white(ColorSpace::Gray, &[num(0)]),
                b"rg" => gs.fill_white = is_white(ColorSpace::Rgb, &[num(0), num(1), num(2)]),
                b"RG" => gs.stroke_white = is_white(ColorSpace::Rgb, &[num(0), num(1), num(2)]),
                b"k" => gs.fill_white = is_white(ColorSpace::Cmyk, &[num(0), num(1), num(2), num(3)]),
                b"K" => gs.stroke_white = is_white(ColorSpace::Cmyk, &[num(0), num(1), num(2), num(3)]),
                b"cs" => {
                    gs.fill_space = color_space(args.last());
                    gs.fill_white = false;
                }
                b"CS" => {
                    gs.stroke_space = color_space(args.last());
                    gs.stroke_white = false;
                }
                b"sc" | b"scn" => gs.fill_white = is_white(gs.fill_space, &all_numbers(args)),
                b"SC" | b"SCN" => gs.stroke_white = is_white(gs.stroke_space, &all_numbers(args)),
                b"m" | b"l" => {
                    let (x, y) = gs.ctm.apply(num(0), num(1));
                    path.include(x, y);
                }
                b"c" => {
                    for i in [0, 2, 4] {
                        let (x, y) = gs.ctm.apply(num(i), num(i + 1));
                        path.include(x, y);
                    }
                }
                b"v" | b"y" => {
                    for i in [0, 2] {
                        let (x, y) = gs.ctm.apply(num(i), num(i + 1));
                        path.include(x, y);
                    }
                }
                b"re" => {
                    let r = Rect::from_corners(num(0), num(1), num(0) + num(2), num(1) + num(3));
                    path.union(&gs.ctm.transform_rect(&r));
                }
                b"h" => {}
                b"W" | b"W*" => clip_pending = true,
                b"S" | b"s" | b"f" | b"F" | b"f*" | b"B" | b"B*" | b"b" | b"b*" | b"n" => {
                    let operator = op.operator.as_slice();
                    let fills = !matches!(operator, b"S" | b"s" | b"n");
                    let strokes = matches!(operator, b"S" | b"s" | b"B" | b"B*" | b"b" | b"b*");
                    let fill_ink = fills && !gs.fill_white;
                    let stroke_ink = strokes && !gs.stroke_white;
                    if path.is_valid() {
                        if stroke_ink {
                            let half = (gs.line_width * gs.ctm.scale() / 2.0).max(0.0);
                            self.mark(path.grow(half), gs);
                        } else if fill_ink {
                            self.mark(path, gs);
                        }
                        if clip_pending {
                            gs.clip = gs.clip.intersect(&path);
                        }
                    }
                    path = Rect::EMPTY;
                    clip_pending = false;
                }
                b"BT" => text = TextObject { tm: Matrix::IDENTITY, tlm: Matrix::IDENTITY },
                b"ET" => {}
                b"Tc" => gs.char_spacing = num(0),
                b"Tw" => gs.word_spacing = num(0),
                b"Tz" => gs.horizontal_scale = num(0) / 100.0,
                b"TL" => gs.leading = num(0),
                b"Ts" => gs.rise = num(0),
                b"Tr" => gs.render_mode = num(0) as i64,
                b"Tf" => {
                    gs.font_size = num(1);
                    gs.font = match args.len().checked_sub(2).and_then(|i| args.get(i)) {
                        Some(Operand::Name(name)) => self.font(resources, name),
                        _ => None,
                    };
                }
                b"Td" => next_line(&mut text, num(0), num(1)),
                b"TD" => {
                    gs.leading = -num(1);
                    next_line(&mut text, num(0), num(1));
                }
                b"T*" => next_line(&mut text, 0.0, -gs.leading),
                b"Tm" => {
                    let m = Matrix { a: num(0), b: num(1), c: num(2), d: num(3), e: num(4), f: num(5) };
                    text = TextObject { tm: m, tlm: m };
                }
                b"Tj" | b"TJ" | b"'" | b"\"" => {
                    if op.operator == b"\"" {
                        gs.word_spacing = num(0);
                        gs.char_spacing = num(1);
                    }
                    if matches!(op.operator.as_slice(), b"'" | b"\"") {
                        next_line(&mut text, 0.0, -gs.leading);
                    }
                    if let Some(shown) = args.last() {
                        self.show_text(shown, gs, &mut text);
                    }
                }
                b"Do" => {
                    if let Some(Operand::Name(name)) = args.last() {
                        self.draw_xobject(name, resources, gs, depth)?;
                    }
                }
                b"BI" => {
                    if let Some(Operand::Dict(entries)) = args.first() {
                        let lookup = |short: &[u8], long: &[u8]| {
                            entries.iter().find(|(k, _)| k == short || k == long).map(|(_, v)| v)
                        };
                        let width = lookup(b"W", b"Width").and_then(Operand::number).unwrap_or(0.0);
                        let height = lookup(b"H", b"Height").and_then(Operand::number).unwrap_or(0.0);
                        let mask = matches!(lookup(b"IM", b"ImageMask"), Some(Operand::Bool(true)));
                        self.draw_image(width, height, mask, gs);
                    }
                }
                b"sh" => {
                    // A shading fills the clipping region (§8.7.4.2).
                    let clip = gs.clip;
                    self.mark(clip, gs);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn font(&mut self, resources: Option<&'a Dictionary>, name: &[u8]) -> Option<Rc<FontMetrics>> {
        let fonts = get_dict(self.doc, resources?, b"Font")?;
        let raw = fonts.get(name).ok()?;
        if let Object::Reference(id) = raw
            && let Some(cached) = self.fonts.get(id)
        {
            return Some(cached.clone());
        }
        let metrics = Rc::new(FontMetrics::read(self.doc, as_dict(resolve(self.doc, raw)?)?));
        if let Object::Reference(id) = raw {
            self.fonts.insert(*id, metrics.clone());
        }
        Some(metrics)
    }

    fn show_text(&mut self, shown: &Operand, gs: &GraphicsState, text: &mut TextObject) {
        let font = gs.font.clone().unwrap_or_else(|| Rc::new(FontMetrics::unknown()));
        let size = gs.font_size;
        let scale = gs.horizontal_scale;
        let mut x = 0.0_f64;
        let mut low = f64::INFINITY;
        let mut high = f64::NEG_INFINITY;
        let mut glyphs = 0usize;
        let mut show = |bytes: &[u8], x: &mut f64| {
            let step = if font.two_byte { 2 } else { 1 };
            for code in bytes.chunks(step) {
                let value = code.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b));
                let advance = font.width(value) / 1000.0 * size;
                low = low.min(*x).min(*x + advance * scale);
                high = high.max(*x).max(*x + advance * scale);
                let word = if step == 1 && value == 32 { gs.word_spacing } else { 0.0 };
                *x += (advance + gs.char_spacing + word) * scale;
                glyphs += 1;
            }
        };
        match shown {
            Operand::String(bytes) => show(bytes, &mut x),
            Operand::Array(items) => {
                for item in items {
                    match item {
                        Operand::String(bytes) => show(bytes, &mut x),
                        Operand::Number(n) => x -= n / 1000.0 * size * scale,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        let fills = matches!(gs.render_mode, 0 | 2 | 4 | 6);
        let strokes = matches!(gs.render_mode, 1 | 2 | 5 | 6);
        let inked = (fills && !gs.fill_white) || (strokes && !gs.stroke_white);
        if glyphs > 0 && inked {
            let bottom = font.descent / 1000.0 * size + gs.rise;
            let top = font.ascent / 1000.0 * size + gs.rise;
            let extent = Rect::from_corners(low, bottom, high, top);
            let rect = text.tm.then(&gs.ctm).transform_rect(&extent);
            if font.estimated {
                self.scan.estimated_fonts.insert(font.name.clone());
            }
            self.mark(rect, gs);
        }
        text.tm = Matrix::translate(x, 0.0).then(&text.tm);
    }

    fn draw_xobject(
        &mut self,
        name: &[u8],
        resources: Option<&'a Dictionary>,
        gs: &GraphicsState,
        depth: usize,
    ) -> Result<(), BudgetExhausted> {
        let doc = self.doc;
        let Some(xobjects) = resources.and_then(|r| get_dict(doc, r, b"XObject")) else { return Ok(()) };
        let Some((id, stream)) = crate::objects::get_stream(doc, xobjects, name) else { return Ok(()) };
        let dict = &stream.dict;
        match get_name(doc, dict, b"Subtype") {
            Some(b"Image") => {
                let width = get_number(doc, dict, b"Width").unwrap_or(0.0);
                let height = get_number(doc, dict, b"Height").unwrap_or(0.0);
                let mask = matches!(get(doc, dict, b"ImageMask"), Some(Object::Boolean(true)));
                self.draw_image(width, height, mask, gs);
            }
            Some(b"Form") if depth < MAX_FORM_DEPTH => {
                let ops = match id.and_then(|id| self.forms.get(&id)) {
                    Some(ops) => ops.clone(),
                    None => {
                        let ops = match self.decode(stream) {
                            Ok(bytes) => Rc::new(tokenize(&bytes, self.budget)?),
                            Err(why) => {
                                self.scan
                                    .unreadable
                                    .push(format!("form {}: {why}", crate::objects::display_name(name)));
                                Rc::new(Vec::new())
                            }
                        };
                        if let Some(id) = id {
                            self.forms.insert(id, ops.clone());
                        }
                        ops
                    }
                };
                let matrix = get_array(doc, dict, b"Matrix")
                    .and_then(|m| numbers(doc, m))
                    .and_then(|m| Matrix::from_slice(&m))
                    .unwrap_or(Matrix::IDENTITY);
                let mut inner = gs.clone();
                inner.ctm = matrix.then(&gs.ctm);
                if let Some(bbox) = get_array(doc, dict, b"BBox").and_then(|b| numbers(doc, b))
                    && let [x0, y0, x1, y1] = bbox[..]
                {
                    inner.clip = inner.clip.intersect(&inner.ctm.transform_rect(&Rect::from_corners(x0, y0, x1, y1)));
                }
                let form_resources = get_dict(doc, dict, b"Resources").or(resources);
                self.execute(&ops, form_resources, &mut inner, depth + 1)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// An image fills the unit square under the CTM (§8.9.4).
    fn draw_image(&mut self, width_px: f64, height_px: f64, mask: bool, gs: &GraphicsState) {
        if mask && gs.fill_white {
            return;
        }
        let rect = gs.ctm.transform_rect(&Rect::from_corners(0.0, 0.0, 1.0, 1.0));
        let visible = rect.intersect(&gs.clip);
        if !visible.is_valid() {
            return;
        }
        let page = self.page;
        if visible.width() >= FULL_PAGE_SHARE * page.width() && visible.height() >= FULL_PAGE_SHARE * page.height() {
            self.scan.full_page_images += 1;
        } else {
            self.mark(rect, gs);
        }
        // Lengths on paper of the image's two sides.
        let across = gs.ctm.a.hypot(gs.ctm.b);
        let down = gs.ctm.c.hypot(gs.ctm.d);
        if across * MM_PER_PT >= MIN_RATED_IMAGE_MM && down * MM_PER_PT >= MIN_RATED_IMAGE_MM {
            let dpi = (width_px / (across / 72.0)).min(height_px / (down / 72.0));
            if dpi.is_finite() && dpi > 0.0 {
                self.scan.image_dpi.push(dpi);
            }
        }
    }
}

impl Interpreter<'_> {
    /// Decodes a content stream within [`MAX_STREAM_BYTES`] and what is left of the
    /// budget, and charges the budget for the bytes.
    fn decode(&mut self, stream: &Stream) -> Result<Vec<u8>, String> {
        let affordable = usize::try_from(*self.budget).unwrap_or(usize::MAX).saturating_mul(BYTES_PER_UNIT);
        let limit = MAX_STREAM_BYTES.min(affordable);
        // Decoded with the guard's checks of the decode parameters, which would otherwise
        // make lopdf allocate a predictor row of any size the stream asks for.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hybridpost_pdfguard::decode_stream(stream, limit)
        }));
        let bytes = match decoded {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(hybridpost_pdfguard::GuardError::StreamTooLarge { .. })) if limit < MAX_STREAM_BYTES => {
                self.scan.exhausted = true;
                return Ok(Vec::new());
            }
            Ok(Err(hybridpost_pdfguard::GuardError::Unreadable(why))) => return Err(why),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("the stream's data cannot be decoded".to_string()),
        };
        let cost = u64::try_from(bytes.len() / BYTES_PER_UNIT).unwrap_or(u64::MAX);
        *self.budget = self.budget.saturating_sub(cost);
        Ok(bytes)
    }
}

fn next_line(text: &mut TextObject, tx: f64, ty: f64) {
    text.tlm = Matrix::translate(tx, ty).then(&text.tlm);
    text.tm = text.tlm;
}

/// How many operands an operator takes from the top of the stack.
fn arity(operator: &[u8]) -> usize {
    match operator {
        b"cm" | b"Tm" => 6,
        b"c" => 6,
        b"k" | b"K" | b"re" | b"v" | b"y" => 4,
        b"rg" | b"RG" | b"\"" => 3,
        b"m" | b"l" | b"Td" | b"TD" | b"Tf" => 2,
        _ => 1,
    }
}

fn all_numbers(args: &[Operand]) -> Vec<f64> {
    args.iter().filter_map(Operand::number).collect()
}

fn color_space(operand: Option<&Operand>) -> ColorSpace {
    match operand {
        Some(Operand::Name(n)) => match n.as_slice() {
            b"DeviceGray" | b"G" | b"CalGray" => ColorSpace::Gray,
            b"DeviceRGB" | b"RGB" | b"CalRGB" => ColorSpace::Rgb,
            b"DeviceCMYK" | b"CMYK" => ColorSpace::Cmyk,
            _ => ColorSpace::Other,
        },
        _ => ColorSpace::Other,
    }
}

/// Whether a colour puts no ink on white paper.
fn is_white(space: ColorSpace, components: &[f64]) -> bool {
    const NEAR: f64 = 0.001;
    match (space, components) {
        (ColorSpace::Gray, [g]) => *g >= 1.0 - NEAR,
        (ColorSpace::Rgb, [r, g, b]) => [r, g, b].iter().all(|c| **c >= 1.0 - NEAR),
        (ColorSpace::Cmyk, [c, m, y, k]) => [c, m, y, k].iter().all(|v| **v <= NEAR),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(content: &str) -> Scan {
        let doc = Document::with_version("1.7");
        let stream = Stream::new(Dictionary::new(), content.as_bytes().to_vec());
        let mut budget = 100_000;
        let page = Rect::from_corners(0.0, 0.0, 595.0, 842.0);
        let mut interpreter = Interpreter::new(&doc, &mut budget, Vec::new());
        interpreter.run_page(&[&stream], None, page);
        interpreter.finish()
    }

    #[test]
    fn a_filled_rectangle_is_bounded_under_the_ctm() {
        let bounds = scan("q 2 0 0 2 10 20 cm 0 0 5 5 re f Q").bounds.expect("painted");
        assert_eq!(bounds, Rect { x0: 10.0, y0: 20.0, x1: 20.0, y1: 30.0 });
    }

    #[test]
    fn white_fill_and_unpainted_paths_leave_no_mark() {
        assert!(scan("1 g 0 0 595 842 re f 0 0 0 0 k 5 5 10 10 re f 0 0 m 9 9 l n").bounds.is_none());
    }

    #[test]
    fn invisible_text_leaves_no_mark() {
        assert!(scan("BT 3 Tr 1 0 0 1 2 2 Tm (scanned page text) Tj ET").bounds.is_none());
    }

    #[test]
    fn text_without_a_font_is_estimated() {
        let scan = scan("BT 1 0 0 1 100 400 Tm (AB) Tj ET");
        assert!(scan.bounds.is_some());
        assert!(scan.estimated_fonts.contains("(no font)"));
    }

    #[test]
    fn clipping_hides_what_lies_outside() {
        let bounds = scan("100 100 50 50 re W n 0 0 595 842 re f").bounds.expect("painted");
        assert_eq!(bounds, Rect { x0: 100.0, y0: 100.0, x1: 150.0, y1: 150.0 });
    }

    #[test]
    fn content_off_the_page_is_not_painted() {
        assert!(scan("-100 -100 50 50 re f").bounds.is_none());
    }
}
