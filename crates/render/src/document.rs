//! Documents: pages of placed text and graphics, written out as PDF.

use std::collections::{BTreeMap, BTreeSet};

use printpdf::{
    Actions, BorderArray, Codepoint, Color as PdfColor, ColorArray, DictItem, FontId, Line as PdfLine, LinePoint,
    LinkAnnotation, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfParseErrorSeverity,
    PdfSaveOptions, Point as PdfPoint, Pt as PdfPt, Rect as PdfRect, Rgb, TextItem, TextMatrix,
};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;

use crate::emblem::Emblem;
use crate::fonts::{Fonts, Weight};
use crate::layout::{Paragraph, lay_out};
use crate::{Area, Color, Mm, PageSize, Point, Pt, RenderError};

/// PDF `/Producer` of every document.
pub(crate) const PRODUCER: &str = concat!("hybridpost-render ", env!("CARGO_PKG_VERSION"));

/// Room, in mm, by which a drawing may exceed the page edge before it counts as
/// outside: absorbs float rounding of caller arithmetic.
const EDGE_TOLERANCE: f32 = 0.001;

/// A page of a [`Document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageId(usize);

impl PageId {
    /// Zero-based position of the page in its document.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Where in a paragraph to continue after it ran out of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume(usize);

impl Resume {
    /// The beginning of a paragraph.
    pub const START: Resume = Resume(0);

    /// Byte offset into the paragraph text of the first character not yet placed.
    pub fn offset(self) -> usize {
        self.0
    }
}

/// How placing a paragraph ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flow {
    /// The rest of the paragraph is placed.
    Done {
        /// Bottom of the last line, mm from the top of the page: where the next block
        /// can start.
        bottom: Mm,
        /// Number of lines placed.
        lines: usize,
    },
    /// The area filled up before the paragraph ended; place the rest, e.g. on the next
    /// page, with [`Document::place_paragraph_from`]. When `lines` is 0 the area was too
    /// low for even one line.
    Continues {
        /// Where the rest starts.
        resume: Resume,
        /// Bottom of the last line placed, mm from the top of the page.
        bottom: Mm,
        /// Number of lines placed.
        lines: usize,
    },
}

/// How a line or outline is stroked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stroke {
    /// Line width.
    pub width: Pt,
    /// Line colour.
    pub color: Color,
}

impl Stroke {
    /// A black line `width` points wide.
    pub fn new(width: Pt) -> Self {
        Stroke { width, color: Color::BLACK }
    }
}

/// How a rectangle is painted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Paint {
    /// Outline only.
    Stroke(Stroke),
    /// Filled, no outline.
    Fill(Color),
    /// Filled and outlined.
    FillAndStroke(Color, Stroke),
}

/// Something drawn on a page, in PDF user space (points, origin bottom-left).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Element {
    /// One line of text.
    Text {
        /// The source text of the line, for `/ActualText`.
        actual: String,
        /// Font size in points.
        size: f32,
        /// Glyphs with their absolute origins.
        glyphs: Vec<(Weight, u16, f32, f32)>,
    },
    /// A straight line.
    Line { from: (f32, f32), to: (f32, f32), stroke: Stroke },
    /// A rectangle given by its lower-left corner, width and height.
    Rect { x: f32, y: f32, width: f32, height: f32, paint: Paint },
    /// The colour of the text that follows on the page.
    TextColor(Color),
    /// An image given by its lower-left corner, width and height.
    Image { x: f32, y: f32, width: f32, height: f32, emblem: Emblem },
    /// A QR symbol in black: a `cm` that makes one unit a module, with the origin at the
    /// symbol's lower-left corner (`x`, `y`), then its rows' runs of dark modules as
    /// rectangles in whole modules, filled together. Whole numbers are written as integers,
    /// so a symbol's hundreds of rectangles cost no decimal formatting, and rows meet exactly.
    Modules {
        /// Lower-left corner, points.
        x: f32,
        y: f32,
        /// Module side, points.
        module: f32,
        /// Runs of dark modules: row counted from the bottom, first column, length.
        runs: Vec<(u16, u16, u16)>,
    },
}

/// A URI link annotation (ISO 32000-1 §12.5.6.5, §12.6.4.7) on a page, in PDF user space.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Link {
    /// Lower-left x, lower-left y, upper-right x, upper-right y, in points.
    pub(crate) rect: [f32; 4],
    /// The URI the link opens.
    pub(crate) uri: String,
}

/// A document being composed: pages of text, lines and rectangles, written out as PDF
/// by [`Document::to_pdf`].
///
/// The same content always gives the same bytes: fonts are subset with a tag derived
/// from the glyphs used, the dates are fixed at 1970-01-01 and the document `/ID` is a
/// hash of the file.
#[derive(Debug)]
pub struct Document<'f> {
    fonts: &'f Fonts<'f>,
    size: PageSize,
    title: String,
    pages: Vec<Vec<Element>>,
    /// Link annotations of each page, in the order added.
    links: Vec<Vec<Link>>,
}

impl Document<'static> {
    /// An empty document with pages of `size`, set in the bundled Laksaman fonts.
    pub fn new(size: PageSize) -> Self {
        Document::with_fonts(Fonts::laksaman(), size)
    }
}

impl<'f> Document<'f> {
    /// An empty document with pages of `size`, set in `fonts`.
    pub fn with_fonts(fonts: &'f Fonts<'f>, size: PageSize) -> Self {
        Document { fonts, size, title: String::new(), pages: Vec::new(), links: Vec::new() }
    }

    /// Sets the PDF document title.
    pub fn set_title(&mut self, title: &str) {
        self.title = title.to_string();
    }

    /// Adds an empty page at the end.
    pub fn add_page(&mut self) -> PageId {
        self.pages.push(Vec::new());
        self.links.push(Vec::new());
        PageId(self.pages.len() - 1)
    }

    /// The page at zero-based `index`, if there is one.
    pub fn page_id(&self, index: usize) -> Option<PageId> {
        (index < self.pages.len()).then_some(PageId(index))
    }

    /// Number of pages.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The page size.
    pub fn page_size(&self) -> PageSize {
        self.size
    }

    /// Places `paragraph` in `area` of `page`, line by line from the top, as far as the
    /// area's height allows.
    ///
    /// Each line takes one line pitch (font size × line height) of the area; its baseline
    /// sits the font's descent above the bottom of that slot. Tone marks stacked over
    /// upper vowels can reach a little above the top of the first slot.
    pub fn place_paragraph(&mut self, page: PageId, paragraph: &Paragraph, area: Area) -> Result<Flow, RenderError> {
        self.place_paragraph_from(page, paragraph, area, Resume::START)
    }

    /// Places `paragraph`, from `resume` on, in `area` of `page`: the continuation of a
    /// paragraph that earlier returned [`Flow::Continues`].
    pub fn place_paragraph_from(
        &mut self,
        page: PageId,
        paragraph: &Paragraph,
        area: Area,
        resume: Resume,
    ) -> Result<Flow, RenderError> {
        self.check_page(page)?;
        self.check_inside("paragraph area", area)?;
        paragraph.check_size()?;
        let text = paragraph.as_str();
        if resume.0 > text.len() || !text.is_char_boundary(resume.0) {
            return Err(RenderError::InvalidResume { offset: resume.0, len: text.len() });
        }
        let pitch = paragraph.line_pitch().0;
        let height = Pt::from(area.height).0;
        let max_lines = ((height + 0.01) / pitch).floor() as usize;
        let laid = lay_out(self.fonts, paragraph, resume.0, Pt::from(area.width).0, max_lines)?;

        let size = paragraph.font_size().0;
        let descent = self.fonts.face(Weight::Regular).descent() * size;
        let page_height = Pt::from(self.size.height).0;
        let left = Pt::from(area.x).0;
        let top = Pt::from(area.y).0;
        let elements = &mut self.pages[page.0];
        for (i, line) in laid.lines.iter().enumerate() {
            if line.glyphs.is_empty() {
                continue;
            }
            let baseline = page_height - (top + (i + 1) as f32 * pitch - descent);
            elements.push(Element::Text {
                actual: text[line.text.clone()].to_string(),
                size,
                glyphs: line
                    .glyphs
                    .iter()
                    .map(|g| (g.weight, g.glyph, round(left + g.x), round(baseline + g.rise)))
                    .collect(),
            });
        }
        let bottom = Mm(area.y.0 + Mm::from(Pt(laid.lines.len() as f32 * pitch)).0);
        let lines = laid.lines.len();
        Ok(match laid.rest {
            None => Flow::Done { bottom, lines },
            Some(offset) => Flow::Continues { resume: Resume(offset), bottom, lines },
        })
    }

    /// Sets the colour of the text placed on `page` after this (black until set): for the
    /// marks the regulation asks to be printed in red.
    pub fn set_text_color(&mut self, page: PageId, color: Color) -> Result<(), RenderError> {
        self.check_page(page)?;
        self.pages[page.0].push(Element::TextColor(color));
        Ok(())
    }

    /// Draws `emblem` as large as fits in `area`, its proportions kept, centred; returns where
    /// it lies.
    pub fn draw_emblem(&mut self, page: PageId, area: Area, emblem: &Emblem) -> Result<Area, RenderError> {
        self.check_page(page)?;
        self.check_inside("emblem", area)?;
        let (w, h) = emblem.size();
        let scale = (area.width.0 / w as f32).min(area.height.0 / h as f32);
        let (width, height) = (w as f32 * scale, h as f32 * scale);
        let placed = Area::new(
            area.x.0 + (area.width.0 - width) / 2.0,
            area.y.0 + (area.height.0 - height) / 2.0,
            width,
            height,
        );
        let page_height = Pt::from(self.size.height).0;
        self.pages[page.0].push(Element::Image {
            x: round(Pt::from(placed.x).0),
            y: round(page_height - Pt::from(Mm(placed.y.0 + height)).0),
            width: round(Pt::from(placed.width).0),
            height: round(Pt::from(placed.height).0),
            emblem: emblem.clone(),
        });
        Ok(placed)
    }

    /// Draws a straight line from `from` to `to`.
    pub fn draw_line(&mut self, page: PageId, from: Point, to: Point, stroke: Stroke) -> Result<(), RenderError> {
        self.check_page(page)?;
        let (x0, x1) = (from.x.0.min(to.x.0), from.x.0.max(to.x.0));
        let (y0, y1) = (from.y.0.min(to.y.0), from.y.0.max(to.y.0));
        self.check_inside("line", Area::new(x0, y0, x1 - x0, y1 - y0))?;
        let from = self.to_pdf_space(from);
        let to = self.to_pdf_space(to);
        self.pages[page.0].push(Element::Line { from, to, stroke });
        Ok(())
    }

    /// Draws the rectangle `area`.
    pub fn draw_rect(&mut self, page: PageId, area: Area, paint: Paint) -> Result<(), RenderError> {
        self.check_page(page)?;
        self.check_inside("rectangle", area)?;
        let (x, top) = self.to_pdf_space(Point { x: area.x, y: area.y });
        let height = round(Pt::from(area.height).0);
        self.pages[page.0].push(Element::Rect {
            x,
            y: round(top - height),
            width: round(Pt::from(area.width).0),
            height,
            paint,
        });
        Ok(())
    }

    /// Draws a QR symbol of `size` × `size` modules `module` mm wide in black, with its
    /// top-left corner at (`x`, `y`) mm; `runs` are its rows' runs of dark modules (row from
    /// the top, first column, length).
    pub(crate) fn draw_modules(
        &mut self,
        page: PageId,
        (x, y): (f32, f32),
        module: Mm,
        size: u16,
        runs: impl Iterator<Item = (u16, u16, u16)>,
    ) -> Result<(), RenderError> {
        self.check_page(page)?;
        let side = module.0 * f32::from(size);
        self.check_inside("QR symbol", Area::new(x, y, side, side))?;
        let (left, _) = self.to_pdf_space(Point { x: Mm(x), y: Mm(y) });
        let (_, bottom) = self.to_pdf_space(Point { x: Mm(x), y: Mm(y + side) });
        let runs = runs.map(|(row, start, len)| (size - 1 - row, start, len)).collect();
        self.pages[page.0].push(Element::Modules { x: left, y: bottom, module: round(Pt::from(module).0), runs });
        Ok(())
    }

    /// Makes `area` of `page` a link to `uri`: a URI link annotation without a visible
    /// border, so that clicking the verification seal in a digital copy opens the
    /// verification page, and a program can find the seal's URL in the PDF.
    pub fn add_link(&mut self, page: PageId, area: Area, uri: &str) -> Result<(), RenderError> {
        self.check_page(page)?;
        self.check_inside("link area", area)?;
        let (x0, top) = self.to_pdf_space(Point { x: area.x, y: area.y });
        let (x1, bottom) = self.to_pdf_space(Point { x: Mm(area.x.0 + area.width.0), y: Mm(area.y.0 + area.height.0) });
        self.links[page.0].push(Link { rect: [x0, bottom, x1, top], uri: uri.to_string() });
        Ok(())
    }

    /// The fonts the document is set in.
    pub(crate) fn fonts(&self) -> &'f Fonts<'f> {
        self.fonts
    }

    /// What is drawn on each page, page by page.
    pub(crate) fn page_elements(&self) -> &[Vec<Element>] {
        &self.pages
    }

    /// The link annotations of each page, page by page.
    pub(crate) fn page_links(&self) -> &[Vec<Link>] {
        &self.links
    }

    /// Writes the document as PDF: the fonts subset and embedded, each line of text
    /// marked with its source text (`/ActualText`) so that copying and text extraction
    /// give back exactly what was placed.
    pub fn to_pdf(&self) -> Result<Vec<u8>, RenderError> {
        let mut pdf = PdfDocument::new(&self.title);
        pdf.metadata.info.producer = PRODUCER.to_string();
        pdf.metadata.info.creator = PRODUCER.to_string();

        let mut fonts = BTreeMap::new();
        for (weight, glyphs) in self.used_glyphs() {
            let font = self.subset(weight, &glyphs)?;
            pdf.resources.fonts.map.insert(font.id.clone(), printpdf::PdfFont::new(font.parsed.clone()));
            fonts.insert(weight, font);
        }
        // Each emblem once, named by its hash (printpdf would name it at random).
        for element in self.pages.iter().flatten() {
            if let Element::Image { emblem, .. } = element {
                let (width, height) = emblem.size();
                let image = printpdf::RawImage {
                    pixels: printpdf::RawImageData::U8(emblem.rgb().to_vec()),
                    width: width as usize,
                    height: height as usize,
                    data_format: printpdf::RawImageFormat::RGB8,
                    tag: Vec::new(),
                };
                pdf.resources
                    .xobjects
                    .map
                    .insert(printpdf::XObjectId(emblem.resource_name()), printpdf::XObject::Image(image));
            }
        }
        for (elements, links) in self.pages.iter().zip(&self.links) {
            let mut ops = Vec::new();
            for element in elements {
                self.element_ops(element, &fonts, &mut ops);
            }
            for link in links {
                ops.push(Op::LinkAnnotation { link: link_annotation(link) });
            }
            pdf.pages.push(PdfPage::new(printpdf::Mm(self.size.width.0), printpdf::Mm(self.size.height.0), ops));
        }

        let options = PdfSaveOptions { optimize: true, subset_fonts: false, secure: true, image_optimization: None };
        let mut warnings = Vec::new();
        let mut doc = pdf.to_lopdf_document(&options, &mut warnings);
        let errors: Vec<String> =
            warnings.into_iter().filter(|w| w.severity == PdfParseErrorSeverity::Error).map(|w| w.msg).collect();
        if !errors.is_empty() {
            return Err(RenderError::Pdf(errors.join("; ")));
        }
        // `/ActualText` needs PDF 1.5 (ISO 32000-1 §14.9.4); declare 1.7, the ISO version.
        doc.version = "1.7".to_string();
        let placeholder = lopdf::Object::String(vec![0; ID_LEN], lopdf::StringFormat::Hexadecimal);
        doc.trailer.set("ID", lopdf::Object::Array(vec![placeholder.clone(), placeholder]));
        doc.compress();
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).map_err(|e| RenderError::Pdf(e.to_string()))?;
        set_document_id(&mut bytes)?;
        Ok(bytes)
    }

    /// Glyph ids drawn in each face, over all pages.
    fn used_glyphs(&self) -> BTreeMap<Weight, BTreeSet<u16>> {
        let mut used: BTreeMap<Weight, BTreeSet<u16>> = BTreeMap::new();
        for element in self.pages.iter().flatten() {
            if let Element::Text { glyphs, .. } = element {
                for (weight, glyph, _, _) in glyphs {
                    used.entry(*weight).or_default().insert(*glyph);
                }
            }
        }
        used
    }

    /// Subsets the face of `weight` to `glyphs` and prepares it for printpdf.
    fn subset(&self, weight: Weight, glyphs: &BTreeSet<u16>) -> Result<SubsetFont, RenderError> {
        let face = self.fonts.face(weight);
        let sorted: Vec<u16> = glyphs.iter().copied().collect();
        let remapper = GlyphRemapper::new_from_glyphs_sorted(&sorted);
        let bytes = subsetter::subset(face.data, 0, &remapper)
            .map_err(|e| RenderError::Subset { weight, reason: format!("{e:?}") })?;
        let mut parse_warnings = Vec::new();
        let mut parsed = ParsedFont::from_bytes(&bytes, 0, &mut parse_warnings).ok_or_else(|| RenderError::Subset {
            weight,
            reason: "the subset font could not be parsed back".to_string(),
        })?;
        // ISO 32000-1 §9.6.4: a subset font's name carries a six-letter tag; deriving it
        // from the glyph set keeps the output reproducible.
        parsed.font_name = Some(format!("{}+{}", subset_tag(&face.postscript_name, &sorted), face.postscript_name));
        parsed.pdf_font_metrics.us_weight_class = face.weight_class;
        let new_ids =
            sorted.iter().map(|&old| (old, remapper.get(old).expect("every used glyph is in the remapper"))).collect();
        let unicode = sorted.iter().filter_map(|&old| face.unicode_of(old).map(|c| (old, c.to_string()))).collect();
        Ok(SubsetFont {
            id: FontId(match weight {
                Weight::Regular => "FR".to_string(),
                Weight::Bold => "FB".to_string(),
            }),
            parsed,
            new_ids,
            unicode,
        })
    }

    /// Appends the printpdf operations that draw `element`.
    fn element_ops(&self, element: &Element, fonts: &BTreeMap<Weight, SubsetFont>, ops: &mut Vec<Op>) {
        match element {
            Element::Text { actual, size, glyphs } => {
                ops.push(Op::BeginMarkedContentWithProperties {
                    tag: "Span".to_string(),
                    properties: DictItem::Dict {
                        map: BTreeMap::from([(
                            "ActualText".to_string(),
                            DictItem::String { data: pdf_text_string(actual), literal: false },
                        )]),
                    },
                });
                ops.push(Op::StartTextSection);
                let mut current = None;
                for run in glyphs.chunk_by(|a, b| a.0 == b.0 && a.3 == b.3) {
                    let (weight, _, x, y) = run[0];
                    let font = &fonts[&weight];
                    if current != Some(weight) {
                        ops.push(Op::SetFont { font: PdfFontHandle::External(font.id.clone()), size: PdfPt(*size) });
                        current = Some(weight);
                    }
                    ops.push(Op::SetTextMatrix { matrix: TextMatrix::Translate(PdfPt(x), PdfPt(y)) });
                    let codepoints = run
                        .iter()
                        .enumerate()
                        .map(|(i, &(_, glyph, x, _))| {
                            // TJ adjustment (thousandths of an em, positive moves left)
                            // from where the viewer's pen lands after this glyph to where
                            // the next glyph was placed.
                            let offset = run.get(i + 1).map_or(0.0, |next| {
                                let moved = (next.2 - x) * 1000.0 / size;
                                ((font.pdf_width(glyph) - moved) * 10.0).round() / 10.0
                            });
                            Codepoint { gid: font.new_ids[&glyph], offset, cid: font.unicode.get(&glyph).cloned() }
                        })
                        .collect();
                    ops.push(Op::ShowText { items: vec![TextItem::GlyphIds(codepoints)] });
                }
                ops.push(Op::EndTextSection);
                ops.push(Op::EndMarkedContent);
            }
            Element::Line { from, to, stroke } => {
                ops.push(Op::SaveGraphicsState);
                push_stroke(stroke, ops);
                ops.push(Op::DrawLine {
                    line: PdfLine {
                        points: [from, to]
                            .into_iter()
                            .map(|&(x, y)| LinePoint { p: PdfPoint { x: PdfPt(x), y: PdfPt(y) }, bezier: false })
                            .collect(),
                        is_closed: false,
                    },
                });
                ops.push(Op::RestoreGraphicsState);
            }
            Element::Rect { x, y, width, height, paint } => {
                ops.push(Op::SaveGraphicsState);
                let mode = match paint {
                    Paint::Stroke(stroke) => {
                        push_stroke(stroke, ops);
                        PaintMode::Stroke
                    }
                    Paint::Fill(color) => {
                        ops.push(Op::SetFillColor { col: pdf_color(*color) });
                        PaintMode::Fill
                    }
                    Paint::FillAndStroke(color, stroke) => {
                        ops.push(Op::SetFillColor { col: pdf_color(*color) });
                        push_stroke(stroke, ops);
                        PaintMode::FillStroke
                    }
                };
                ops.push(Op::DrawRectangle {
                    rectangle: PdfRect {
                        x: PdfPt(*x),
                        y: PdfPt(*y),
                        width: PdfPt(*width),
                        height: PdfPt(*height),
                        mode: Some(mode),
                        winding_order: None,
                    },
                });
                ops.push(Op::RestoreGraphicsState);
            }
            Element::TextColor(color) => ops.push(Op::SetFillColor { col: pdf_color(*color) }),
            Element::Modules { x, y, module, runs } => {
                ops.push(Op::SaveGraphicsState);
                ops.push(Op::SetFillColor { col: pdf_color(Color::BLACK) });
                ops.push(Op::SetTransformationMatrix {
                    matrix: printpdf::CurTransMat::Raw([*module, 0.0, 0.0, *module, *x, *y]),
                });
                // One path of a square ring per run, filled once, as `re` … `re f` fills it
                // in the batch's content streams (printpdf fills each rectangle it draws on
                // its own, and anti-aliased fills of rows drawn apart meet with a faint seam).
                let corner = |x: u16, y: u16| LinePoint {
                    p: PdfPoint { x: PdfPt(f32::from(x)), y: PdfPt(f32::from(y)) },
                    bezier: false,
                };
                let rings = runs
                    .iter()
                    .map(|&(row, start, len)| printpdf::PolygonRing {
                        points: vec![
                            corner(start, row),
                            corner(start + len, row),
                            corner(start + len, row + 1),
                            corner(start, row + 1),
                        ],
                    })
                    .collect();
                ops.push(Op::DrawPolygon {
                    polygon: printpdf::Polygon {
                        rings,
                        mode: PaintMode::Fill,
                        winding_order: printpdf::WindingOrder::NonZero,
                    },
                });
                ops.push(Op::RestoreGraphicsState);
            }
            Element::Image { x, y, width, height, emblem } => {
                ops.push(Op::SaveGraphicsState);
                ops.push(Op::SetTransformationMatrix {
                    matrix: printpdf::CurTransMat::Raw([*width, 0.0, 0.0, *height, *x, *y]),
                });
                ops.push(Op::UseXobject {
                    id: printpdf::XObjectId(emblem.resource_name()),
                    transform: printpdf::XObjectTransform { no_auto_scale: true, ..Default::default() },
                });
                ops.push(Op::RestoreGraphicsState);
            }
        }
    }

    fn check_page(&self, page: PageId) -> Result<(), RenderError> {
        if page.0 < self.pages.len() {
            Ok(())
        } else {
            Err(RenderError::NoSuchPage { page: page.0, count: self.pages.len() })
        }
    }

    fn check_inside(&self, what: &'static str, area: Area) -> Result<(), RenderError> {
        let fits = area.x.0 >= -EDGE_TOLERANCE
            && area.y.0 >= -EDGE_TOLERANCE
            && area.width.0 >= 0.0
            && area.height.0 >= 0.0
            && area.x.0 + area.width.0 <= self.size.width.0 + EDGE_TOLERANCE
            && area.y.0 + area.height.0 <= self.size.height.0 + EDGE_TOLERANCE;
        if fits {
            Ok(())
        } else {
            Err(RenderError::OutsidePage {
                what,
                x: area.x.0,
                y: area.y.0,
                width: area.width.0,
                height: area.height.0,
                page_width: self.size.width.0,
                page_height: self.size.height.0,
            })
        }
    }

    /// `point` in PDF user space: points from the bottom-left corner.
    fn to_pdf_space(&self, point: Point) -> (f32, f32) {
        (round(Pt::from(point.x).0), round(Pt::from(Mm(self.size.height.0 - point.y.0)).0))
    }
}

/// A face subset for one document.
#[derive(Debug)]
struct SubsetFont {
    /// Resource name of the font in the PDF.
    id: FontId,
    /// The subset font program.
    parsed: ParsedFont,
    /// Original glyph id → glyph id in the subset.
    new_ids: BTreeMap<u16, u16>,
    /// Original glyph id → the text it stands for, for the `/ToUnicode` map.
    unicode: BTreeMap<u16, String>,
}

impl SubsetFont {
    /// The advance of an original glyph as the PDF `/W` array gives it (thousandths of an
    /// em, truncated as printpdf writes it): how far a viewer moves the pen after it.
    fn pdf_width(&self, glyph: u16) -> f32 {
        let units_per_em = f32::from(self.parsed.pdf_font_metrics.units_per_em);
        let advance = self.parsed.get_glyph_width(self.new_ids[&glyph]).map_or(0.0, f32::from);
        (advance * 1000.0 / units_per_em).trunc()
    }
}

/// Bytes in each half of the document `/ID`.
const ID_LEN: usize = 16;

/// Replaces the all-zero placeholder `/ID` in the trailer with the first 16 bytes of
/// the SHA-256 of the file, so the same content always gets the same identifier.
fn set_document_id(bytes: &mut [u8]) -> Result<(), RenderError> {
    let placeholder = format!("<{}>", "00".repeat(ID_LEN));
    let trailer = bytes
        .windows(b"trailer".len())
        .rposition(|w| w == b"trailer")
        .ok_or_else(|| RenderError::Pdf("the written PDF has no trailer".to_string()))?;
    let digest = Sha256::digest(&*bytes);
    let id: String = digest[..ID_LEN].iter().map(|b| format!("{b:02X}")).collect();
    let id = format!("<{id}>");
    let mut replaced = 0;
    let mut at = trailer;
    while let Some(found) = bytes[at..].windows(placeholder.len()).position(|w| w == placeholder.as_bytes()) {
        let start = at + found;
        bytes[start..start + id.len()].copy_from_slice(id.as_bytes());
        at = start + id.len();
        replaced += 1;
    }
    if replaced == 2 {
        Ok(())
    } else {
        Err(RenderError::Pdf(format!("expected the two halves of the /ID in the trailer, found {replaced}")))
    }
}

/// A six-letter subset tag derived from the font and the glyphs in the subset.
fn subset_tag(postscript_name: &str, glyphs: &[u16]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(postscript_name.as_bytes());
    for glyph in glyphs {
        hasher.update(glyph.to_be_bytes());
    }
    hasher.finalize()[..6].iter().map(|b| char::from(b'A' + b % 26)).collect()
}

/// `text` as a PDF text string: UTF-16BE with a byte-order mark (ISO 32000-1 §7.9.2.2).
pub(crate) fn pdf_text_string(text: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(2 + text.len() * 2);
    data.extend_from_slice(&[0xFE, 0xFF]);
    for unit in text.encode_utf16() {
        data.extend_from_slice(&unit.to_be_bytes());
    }
    data
}

/// `link` as printpdf's annotation: no border (ISO 32000-1 §12.5.2, `/Border [0 0 0]`)
/// and no highlight colour, so the link changes nothing on the printed page.
fn link_annotation(link: &Link) -> LinkAnnotation {
    let [x0, y0, x1, y1] = link.rect;
    let rect = PdfRect {
        x: PdfPt(x0),
        y: PdfPt(y0),
        width: PdfPt(x1 - x0),
        height: PdfPt(y1 - y0),
        mode: None,
        winding_order: None,
    };
    LinkAnnotation::new(
        rect,
        Actions::Uri(link.uri.clone()),
        Some(BorderArray::Solid([0.0, 0.0, 0.0])),
        Some(ColorArray::Transparent),
        None,
    )
}

fn push_stroke(stroke: &Stroke, ops: &mut Vec<Op>) {
    ops.push(Op::SetOutlineColor { col: pdf_color(stroke.color) });
    ops.push(Op::SetOutlineThickness { pt: PdfPt(stroke.width.0) });
}

fn pdf_color(color: Color) -> PdfColor {
    PdfColor::Rgb(Rgb { r: color.r, g: color.g, b: color.b, icc_profile: None })
}

/// Rounds a coordinate to 1/1000 pt, keeping content streams short and stable.
pub(crate) fn round(value: f32) -> f32 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_text_strings_are_utf16_big_endian_with_a_bom() {
        assert_eq!(pdf_text_string("ก A"), [0xFE, 0xFF, 0x0E, 0x01, 0x00, 0x20, 0x00, 0x41]);
        assert_eq!(pdf_text_string("😀"), [0xFE, 0xFF, 0xD8, 0x3D, 0xDE, 0x00]);
    }

    #[test]
    fn subset_tags_are_six_capital_letters_and_depend_on_the_glyphs() {
        let a = subset_tag("Laksaman", &[1, 2, 3]);
        assert_eq!(a.len(), 6);
        assert!(a.chars().all(|c| c.is_ascii_uppercase()));
        assert_eq!(a, subset_tag("Laksaman", &[1, 2, 3]));
        assert_ne!(a, subset_tag("Laksaman", &[1, 2, 4]));
    }

    #[test]
    fn drawing_off_the_page_is_rejected() {
        let mut doc = Document::new(PageSize::A4);
        let page = doc.add_page();
        let err = doc
            .draw_rect(page, Area::new(200.0, 10.0, 20.0, 10.0), Paint::Fill(Color::BLACK))
            .expect_err("sticks out on the right");
        assert!(matches!(err, RenderError::OutsidePage { what: "rectangle", .. }));
        let err = doc
            .place_paragraph(page, &Paragraph::new().text("ก"), Area::new(10.0, 290.0, 50.0, 20.0))
            .expect_err("sticks out at the bottom");
        assert!(matches!(err, RenderError::OutsidePage { what: "paragraph area", .. }));
    }

    #[test]
    fn pages_of_another_document_are_rejected() {
        let mut doc = Document::new(PageSize::A4);
        let mut other = Document::new(PageSize::A4);
        other.add_page();
        let foreign = other.add_page();
        doc.add_page();
        let err = doc
            .draw_line(foreign, Point::new(10.0, 10.0), Point::new(20.0, 10.0), Stroke::new(Pt(1.0)))
            .expect_err("page 1 does not exist");
        assert!(matches!(err, RenderError::NoSuchPage { page: 1, count: 1 }));
    }

    #[test]
    fn a_zero_font_size_is_rejected() {
        let mut doc = Document::new(PageSize::A4);
        let page = doc.add_page();
        let p = Paragraph::new().text("ก").size(Pt(0.0));
        let err = doc.place_paragraph(page, &p, Area::new(10.0, 10.0, 100.0, 50.0)).expect_err("size 0");
        assert!(matches!(err, RenderError::InvalidSize { .. }));
    }

    #[test]
    fn a_resume_point_inside_a_character_is_rejected() {
        let mut doc = Document::new(PageSize::A4);
        let page = doc.add_page();
        let p = Paragraph::new().text("กขค");
        let err = doc
            .place_paragraph_from(page, &p, Area::new(10.0, 10.0, 100.0, 50.0), Resume(1))
            .expect_err("byte 1 is inside ก");
        assert!(matches!(err, RenderError::InvalidResume { offset: 1, len: 9 }));
    }

    #[test]
    fn the_same_document_gives_the_same_bytes() {
        let render = || {
            let mut doc = Document::new(PageSize::A4);
            doc.set_title("ทดสอบ");
            let page = doc.add_page();
            let p = Paragraph::new().text("ปู่ ป่า ").bold("ฝั่ง น้ำ");
            doc.place_paragraph(page, &p, Area::new(20.0, 20.0, 170.0, 50.0)).expect("fits");
            doc.to_pdf().expect("writes")
        };
        let first = render();
        assert!(first.starts_with(b"%PDF-"));
        assert_eq!(first, render());
    }

    #[test]
    fn different_content_gets_a_different_document_id() {
        let render = |text: &str| {
            let mut doc = Document::new(PageSize::A4);
            let page = doc.add_page();
            doc.place_paragraph(page, &Paragraph::new().text(text), Area::new(20.0, 20.0, 170.0, 50.0)).expect("fits");
            let bytes = doc.to_pdf().expect("writes");
            let trailer = bytes.windows(7).rposition(|w| w == b"trailer").expect("trailer");
            String::from_utf8_lossy(&bytes[trailer..]).into_owned()
        };
        let (a, b) = (render("ก"), render("ข"));
        assert!(a.contains("/ID"), "{a}");
        assert!(!a.contains(&"00".repeat(ID_LEN)));
        assert_ne!(a, b);
    }

    #[test]
    fn a_paragraph_too_long_for_its_area_continues_where_it_stopped() {
        let mut doc = Document::new(PageSize::A4);
        let first = doc.add_page();
        let text = "ข้อความทดสอบการตัดบรรทัดภาษาไทย ".repeat(20);
        let p = Paragraph::new().text(&text);
        let flow = doc.place_paragraph(first, &p, Area::new(20.0, 250.0, 170.0, 25.0)).expect("places");
        let Flow::Continues { resume, lines, .. } = flow else { panic!("expected more text, got {flow:?}") };
        assert_eq!(lines, 3);
        let second = doc.add_page();
        let flow = doc.place_paragraph_from(second, &p, Area::new(20.0, 20.0, 170.0, 250.0), resume).expect("places");
        assert!(matches!(flow, Flow::Done { .. }), "{flow:?}");
    }
}
