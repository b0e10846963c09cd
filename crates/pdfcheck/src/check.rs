//! [`check`]: every rule over every page, collecting problems instead of stopping.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use hybridpost_pdfguard::{Admit, GuardError};
use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::active::{self, Active};
use crate::content::Interpreter;
use crate::fonts;
use crate::geometry::Rect;
use crate::objects::{as_dict, get, get_dict, get_name, resolve};
use crate::pages::{self, PageGeometry};
use crate::{DL_WINDOW_MM, Problem, ProblemCode, Report, Rules, Severity};

/// A4 portrait in millimetres (ISO 216).
const A4_MM: (f64, f64) = (210.0, 297.0);
/// Paper sizes named in messages, portrait, in millimetres.
const KNOWN_SIZES: [(&str, f64, f64); 8] = [
    ("A4", 210.0, 297.0),
    ("A3", 297.0, 420.0),
    ("A5", 148.0, 210.0),
    ("B5", 176.0, 250.0),
    ("B4", 250.0, 353.0),
    ("Letter", 215.9, 279.4),
    ("Legal", 215.9, 355.6),
    ("F4 (Folio)", 215.9, 330.2),
];
/// Resources (form XObjects, patterns, appearance streams) nested at most when looking for fonts.
const MAX_RESOURCE_DEPTH: usize = 12;
/// Whole-document work, in multiples of the per-page budget.
const DOCUMENT_BUDGET_PAGES: u64 = 10;
/// Memory a check uses beside the loaded document and the file, reserved with them from
/// the process's PDF budget: a page's decoded content streams (as much as its work
/// budget lets it decode) and the operations read from them, at their worst (measured in
/// a release build: a page of 32 or 64 MiB of path operators peaks at 35 MiB for the
/// whole process; this leaves room for forms and fonts).
pub const CHECK_WORKING_BYTES: u64 = 64 << 20;

/// The process had no memory for the check within the time the caller waits: try later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the service is checking too many PDFs at once and waited {} s for memory; try again shortly", waited.as_secs())]
pub struct Busy {
    /// How long it waited.
    pub waited: Duration,
}

/// Checks an agency's PDF against `rules` and reports every problem found.
///
/// Never panics and never stops at the first problem: a damaged page, an encrypted file
/// that still opens, or a page over budget is reported and the rest is still checked.
/// When the process's PDF memory is in use by other checks it waits for it.
pub fn check(pdf: &[u8], rules: &Rules) -> Report {
    loop {
        if let Ok(report) = check_waiting(pdf, rules, Duration::from_secs(60)) {
            return report;
        }
    }
}

/// [`check`], waiting at most `wait` for the process's PDF memory.
pub fn check_waiting(pdf: &[u8], rules: &Rules, wait: Duration) -> Result<Report, Busy> {
    let mut out = Problems::default();
    if pdf.len() > rules.max_bytes {
        out.refuse(
            None,
            ProblemCode::TooLarge,
            format!("ไฟล์มีขนาด {} ซึ่งเกินขนาดสูงสุดที่รับได้ {}", size_th(pdf.len()), size_th(rules.max_bytes)),
            format!("the file is {}; at most {} is accepted", size_en(pdf.len()), size_en(rules.max_bytes)),
        );
        return Ok(out.report(0));
    }
    if pdf.is_empty() {
        out.refuse(
            None,
            ProblemCode::Damaged,
            "ไฟล์ว่างเปล่า (0 ไบต์) ไม่ใช่ไฟล์ PDF".to_string(),
            "the file is empty (0 bytes), not a PDF".to_string(),
        );
        return Ok(out.report(0));
    }
    let admit = Admit { working_bytes: pdf.len() as u64 + CHECK_WORKING_BYTES, copies: 0, wait };
    let loaded = match hybridpost_pdfguard::load(pdf, &crate::reader_limits(), admit) {
        Ok(loaded) => loaded,
        Err(GuardError::Busy { waited }) => return Err(Busy { waited }),
        Err(e) if e.is_over_limit() => {
            out.refuse(
                None,
                ProblemCode::TooComplex,
                format!(
                    "ไฟล์ PDF นี้มีโครงสร้างเกินขีดจำกัดที่ระบบอ่านได้: {} กรุณาบันทึกไฟล์ใหม่จากโปรแกรมที่สร้างไฟล์แล้วส่งอีกครั้ง",
                    e.message_th()
                ),
                format!(
                    "the PDF's structure is beyond what the service reads: {e}; save it again from the program that made it and send it again"
                ),
            );
            return Ok(out.report(0));
        }
        Err(e) => {
            let detail = match e {
                GuardError::Unreadable(detail) => detail,
                other => other.to_string(),
            };
            if mentions_encryption(pdf) {
                refuse_encrypted(&mut out);
            } else {
                refuse_damaged(&mut out, None, &detail);
            }
            return Ok(out.report(0));
        }
    };
    let doc = &loaded.document;
    let encrypted = doc.was_encrypted() || doc.trailer.has(b"Encrypt");
    if encrypted {
        refuse_encrypted(&mut out);
        if doc.trailer.has(b"Encrypt") {
            // Not decrypted (it needs a password): nothing else can be read.
            return Ok(out.report(0));
        }
    }
    let (pages, count) = match pages::pages(doc) {
        Ok(found) => found,
        Err(why) => {
            refuse_damaged(&mut out, None, &why);
            return Ok(out.report(0));
        }
    };
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    if pages.is_empty() {
        refuse_damaged(&mut out, None, "it has no pages");
        return Ok(out.report(0));
    }
    if count > rules.max_pages {
        out.refuse(
            None,
            ProblemCode::TooManyPages,
            format!("เอกสารมี {count} หน้า ซึ่งเกินจำนวนสูงสุดที่รับได้ {} หน้า", rules.max_pages),
            format!("the document has {count} pages; at most {} are accepted", rules.max_pages),
        );
    }

    check_active_content(doc, &pages, &mut out);
    check_fonts(doc, &pages, &mut out);

    let mut document_budget = rules.max_operations_per_page.saturating_mul(DOCUMENT_BUDGET_PAGES);
    for (index, page) in pages.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let Some(geometry) = PageGeometry::of(doc, page) else {
            refuse_damaged(&mut out, Some(number), "it has no valid page size (MediaBox)");
            continue;
        };
        check_size(&geometry, number, rules, &mut out);
        if document_budget == 0 {
            out.refuse(
                Some(number),
                ProblemCode::PageTooComplex,
                format!("หน้า {number} ขึ้นไป: เอกสารซับซ้อนเกินกว่าจะตรวจได้ภายในเวลาที่กำหนด จึงไม่ได้ตรวจหน้าที่เหลือ"),
                format!("page {number} onwards: the document is too complex to check in the time allowed; the remaining pages were not checked"),
            );
            break;
        }
        check_content(doc, page, &geometry, number, rules, &mut document_budget, &mut out);
    }
    Ok(out.report(count))
}

/// Problems as they are found, sorted when reported.
#[derive(Debug, Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, page: Option<u32>, code: ProblemCode, severity: Severity, th: String, en: String) {
        self.0.push(Problem { page, code, severity, message_th: th, message_en: en });
    }

    fn refuse(&mut self, page: Option<u32>, code: ProblemCode, th: String, en: String) {
        self.push(page, code, Severity::Refusal, th, en);
    }

    fn report(mut self, pages: u32) -> Report {
        // Stable: document-wide problems first, then page by page in the order found.
        self.0.sort_by_key(|p| p.page.unwrap_or(0));
        Report { pages, problems: self.0 }
    }
}

fn refuse_encrypted(out: &mut Problems) {
    out.refuse(
        None,
        ProblemCode::Encrypted,
        "ไฟล์ PDF นี้เข้ารหัสไว้ (ตั้งรหัสผ่านหรือจำกัดสิทธิ์) ระบบพิมพ์ไม่รับไฟล์ที่เข้ารหัส กรุณาส่งไฟล์ที่ไม่มีรหัสผ่านและไม่เข้ารหัส".to_string(),
        "the PDF is encrypted (password-protected or with restricted permissions); a print service does not accept encrypted files: send it without a password or encryption".to_string(),
    );
}

fn refuse_damaged(out: &mut Problems, page: Option<u32>, detail: &str) {
    let (th, en) = match page {
        Some(n) => (
            format!("หน้า {n}: อ่านหน้านี้ไม่ได้ ไฟล์อาจเสียหาย ({detail})"),
            format!("page {n}: the page cannot be read ({detail})"),
        ),
        None => (format!("ไฟล์เสียหายหรือไม่ใช่ไฟล์ PDF ({detail})"), format!("the file is damaged or not a PDF ({detail})")),
    };
    out.refuse(page, ProblemCode::Damaged, th, en);
}

/// Whether an unreadable file declares encryption: its trailer names `/Encrypt`.
fn mentions_encryption(pdf: &[u8]) -> bool {
    pdf.windows(8).any(|w| w == b"/Encrypt")
}

fn check_size(geometry: &PageGeometry, page: u32, rules: &Rules, out: &mut Problems) {
    let (w, h) = geometry.size_mm();
    let near = |a: f64, b: f64| (a - b).abs() <= rules.size_tolerance_mm;
    if near(w, A4_MM.0) && near(h, A4_MM.1) {
        return;
    }
    let named = KNOWN_SIZES.iter().find_map(|(name, pw, ph)| {
        if near(w, *pw) && near(h, *ph) {
            Some((format!("{name} แนวตั้ง"), format!("{name} portrait")))
        } else if near(w, *ph) && near(h, *pw) {
            Some((format!("{name} แนวนอน"), format!("{name} landscape")))
        } else {
            None
        }
    });
    let (name_th, name_en) = match named {
        Some((th, en)) => (format!(" ({th})"), format!(" ({en})")),
        None => (String::new(), String::new()),
    };
    out.refuse(
        Some(page),
        ProblemCode::PageSize,
        format!("หน้า {page}: กระดาษขนาด {w:.1} × {h:.1} มม.{name_th} ต้องเป็น A4 แนวตั้ง (210 × 297 มม.)"),
        format!("page {page}: the page is {w:.1} × {h:.1} mm{name_en}; it must be A4 portrait (210 × 297 mm)"),
    );
}

fn check_content(
    doc: &Document,
    page: &pages::Page<'_>,
    geometry: &PageGeometry,
    number: u32,
    rules: &Rules,
    document_budget: &mut u64,
    out: &mut Problems,
) {
    let (wx, wy, ww, wh) = DL_WINDOW_MM;
    let watch_window = rules.first_page_in_window && number == 1;
    // The window first (when watched), then the reserved areas.
    let mut watch: Vec<Rect> = Vec::with_capacity(rules.reserved.len() + 1);
    if watch_window {
        watch.push(geometry.user_space(&Rect::from_corners(wx, wy, wx + ww, wy + wh)));
    }
    for area in &rules.reserved {
        let (x, y) = (area.x_mm, area.y_mm);
        watch.push(geometry.user_space(&Rect::from_corners(x, y, x + area.width_mm, y + area.height_mm)));
    }
    let mut budget = rules.max_operations_per_page.min(*document_budget);
    let start = budget;
    let mut interpreter = Interpreter::new(doc, &mut budget, watch);
    interpreter.run_page(&pages::contents(doc, page), page.resources, geometry.visible);
    for annotation in pages::printed_annotations(doc, page) {
        interpreter.mark_area(annotation, geometry.visible);
    }
    let scan = interpreter.finish();
    *document_budget -= start - budget;

    for why in &scan.unreadable {
        refuse_damaged(out, Some(number), why);
    }
    if scan.exhausted {
        out.refuse(
            Some(number),
            ProblemCode::PageTooComplex,
            format!("หน้า {number}: หน้านี้มีคำสั่งวาดมากเกิน {} คำสั่ง ตรวจไม่ได้ภายในเวลาที่กำหนด", rules.max_operations_per_page),
            format!(
                "page {number}: the page has more than {} drawing instructions and cannot be checked in the time allowed",
                rules.max_operations_per_page
            ),
        );
    }
    let estimate = estimate_note(&scan.estimated_fonts);
    if let Some(bounds) = scan.bounds {
        let shown = geometry.shown(&bounds);
        let (w, h) = geometry.size_mm();
        let edges = [
            ("ซ้าย", "left", shown.x0),
            ("ขวา", "right", w - shown.x1),
            ("บน", "top", shown.y0),
            ("ล่าง", "bottom", h - shown.y1),
        ];
        // Within a hundredth of a millimetre is on the line, not over it.
        let over: Vec<_> = edges.iter().filter(|(_, _, d)| *d < rules.margin_mm - 0.01).collect();
        if !over.is_empty() {
            let th =
                over.iter().map(|(th, _, d)| format!("ขอบ{th} {:.1} มม.", d.max(0.0))).collect::<Vec<_>>().join(", ");
            let en = over
                .iter()
                .map(|(_, en, d)| format!("{:.1} mm from the {en} edge", d.max(0.0)))
                .collect::<Vec<_>>()
                .join(", ");
            let margin = rules.margin_mm;
            out.refuse(
                Some(number),
                ProblemCode::ContentInMargin,
                format!("หน้า {number}: มีเนื้อหาห่างจาก{th} แต่พื้นที่ที่พิมพ์ได้เริ่มที่ {margin} มม. จากขอบกระดาษ{}", estimate.0),
                format!("page {number}: content {en}; the printable area starts at {margin} mm{}", estimate.1),
            );
        }
    }
    let (window_seen, reserved_seen) = scan.in_watch.split_at(usize::from(watch_window).min(scan.in_watch.len()));
    for (area, inside) in rules.reserved.iter().zip(reserved_seen) {
        let Some(inside) = inside else { continue };
        let shown = geometry.shown(inside);
        let (x, y) = (area.x_mm, area.y_mm);
        let (x1, y1) = (x + area.width_mm, y + area.height_mm);
        out.refuse(
            Some(number),
            ProblemCode::ContentInReservedArea,
            format!(
                "หน้า {number}: มีเนื้อหาใน{} ({x}–{x1} มม. จากซ้าย, {y}–{y1} มม. จากบน) ตั้งแต่ {:.1}–{:.1} มม. จากซ้าย และ {:.1}–{:.1} มม. จากบน บริเวณนี้ต้องเว้นว่างไว้{}",
                area.name_th, shown.x0, shown.x1, shown.y0, shown.y1, estimate.0
            ),
            format!(
                "page {number}: content in {} ({x}–{x1} mm from the left, {y}–{y1} mm from the top), at {:.1}–{:.1} mm from the left and {:.1}–{:.1} mm from the top; it must stay blank{}",
                area.name_en, shown.x0, shown.x1, shown.y0, shown.y1, estimate.1
            ),
        );
    }
    if let Some(Some(inside)) = window_seen.first() {
        let shown = geometry.shown(inside);
        out.refuse(
            Some(number),
            ProblemCode::ContentInWindow,
            format!(
                "หน้า {number}: มีเนื้อหาในบริเวณช่องหน้าต่างซอง DL ({wx}–{} มม. จากซ้าย, {wy}–{} มม. จากบน) ตั้งแต่ {:.1}–{:.1} มม. จากซ้าย และ {:.1}–{:.1} มม. จากบน บริเวณนี้ต้องเว้นว่างไว้สำหรับที่อยู่ผู้รับ{}",
                wx + ww, wy + wh, shown.x0, shown.x1, shown.y0, shown.y1, estimate.0
            ),
            format!(
                "page {number}: content inside the DL envelope window ({wx}–{} mm from the left, {wy}–{} mm from the top), at {:.1}–{:.1} mm from the left and {:.1}–{:.1} mm from the top; the window must stay blank for the address{}",
                wx + ww, wy + wh, shown.x0, shown.x1, shown.y0, shown.y1, estimate.1
            ),
        );
    }
    if scan.full_page_images > 0 {
        let margin = rules.margin_mm;
        let window_th =
            if watch_window { " และบริเวณช่องหน้าต่างซอง" } else { "" };
        let window_en = if watch_window { " or the envelope window" } else { "" };
        out.push(
            Some(number),
            ProblemCode::FullPageImage,
            Severity::Warning,
            format!("หน้า {number}: ทั้งหน้าเป็นภาพ (เช่น ภาพสแกน) ระบบตรวจเนื้อหาในภาพไม่ได้ว่าล้ำเข้าไปในขอบกระดาษ{window_th}หรือไม่ ส่วนที่อยู่ห่างจากขอบไม่ถึง {margin} มม. จะพิมพ์ไม่ออก"),
            format!("page {number}: the page is one image (a scan?); its pixels are not checked for content in the margin{window_en}, and the outer {margin} mm will not print"),
        );
    }
    if let Some(min_dpi) = rules.min_image_dpi {
        let low: Vec<f64> = scan.image_dpi.iter().copied().filter(|d| *d < min_dpi).collect();
        if let Some(worst) = low.iter().copied().reduce(f64::min).map(f64::floor) {
            let n = low.len();
            out.push(
                Some(number),
                ProblemCode::LowResolutionImage,
                Severity::Warning,
                format!("หน้า {number}: มีภาพ {n} ภาพที่ความละเอียดต่ำกว่า {min_dpi:.0} dpi (ต่ำสุด {worst:.0} dpi) ภาพอาจพิมพ์ออกมาไม่คมชัด"),
                format!(
                    "page {number}: {n} image(s) print below {min_dpi:.0} dpi (the lowest at {worst:.0} dpi) and may look blurred"
                ),
            );
        }
    }
}

fn estimate_note(fonts: &std::collections::BTreeSet<String>) -> (String, String) {
    if fonts.is_empty() {
        return (String::new(), String::new());
    }
    let names = fonts.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
    (
        format!(" (ความกว้างตัวอักษรของฟอนต์ {names} เป็นค่าประมาณ เพราะไฟล์ไม่มีตารางความกว้างของฟอนต์)"),
        format!(" (text widths of font {names} estimated: the file has no width table for it)"),
    )
}

fn check_active_content(doc: &Document, pages: &[pages::Page<'_>], out: &mut Problems) {
    let numbered: Vec<(u32, ObjectId, &Dictionary)> =
        pages.iter().enumerate().map(|(i, p)| (u32::try_from(i + 1).unwrap_or(u32::MAX), p.id, p.dict)).collect();
    let found = active::find(doc, &numbered);
    let on_a_page: HashSet<Active> = found.keys().filter(|(page, _)| page.is_some()).map(|(_, kind)| *kind).collect();
    for (page, kind) in found.keys() {
        if page.is_none() && on_a_page.contains(kind) {
            continue; // already reported on its page
        }
        let (th, en) = match kind {
            Active::JavaScript => ("JavaScript", "JavaScript"),
            Active::Launch => {
                ("คำสั่งเปิดโปรแกรมหรือไฟล์ภายนอก (Launch action)", "a launch action (opens a program or file)")
            }
            Active::EmbeddedFile => ("ไฟล์แนบฝังในเอกสาร", "an embedded file"),
        };
        let (at_th, at_en) = match page {
            Some(n) => (format!("หน้า {n}: "), format!("page {n}: ")),
            None => (String::new(), String::new()),
        };
        out.refuse(
            *page,
            ProblemCode::ActiveContent,
            format!("{at_th}ไฟล์มี{th} ซึ่งระบบพิมพ์ไม่เรียกใช้และไม่รับ กรุณานำออกก่อนส่ง"),
            format!("{at_en}the PDF contains {en}; a print service does not run or open it: remove it"),
        );
    }
}

/// Where a font was met: a font object, or a font written directly into one page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum FontKey {
    Object(ObjectId),
    Direct(u32, Vec<u8>),
}

fn check_fonts(doc: &Document, pages: &[pages::Page<'_>], out: &mut Problems) {
    // Each unembedded font once, on the first page that uses it, naming the others.
    let mut unembedded: BTreeMap<FontKey, (String, Vec<u32>)> = BTreeMap::new();
    let mut order: Vec<FontKey> = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut fonts: Vec<(FontKey, &Dictionary)> = Vec::new();
        let mut visited = HashSet::new();
        if let Some(resources) = page.resources {
            collect_fonts(doc, resources, number, 0, &mut visited, &mut fonts);
        }
        collect_annotation_fonts(doc, page.dict, number, &mut visited, &mut fonts);
        let mut seen_here = HashSet::new();
        for (key, font) in fonts {
            if !seen_here.insert(key.clone()) {
                continue;
            }
            let (embedded, name) = fonts::embedding(doc, font);
            if embedded {
                continue;
            }
            let entry = unembedded.entry(key.clone()).or_insert_with(|| {
                order.push(key.clone());
                (name, Vec::new())
            });
            entry.1.push(number);
        }
    }
    for key in order {
        let Some((name, pages)) = unembedded.get(&key) else { continue };
        let Some((&first, rest)) = pages.split_first() else { continue };
        let (also_th, also_en) = if rest.is_empty() {
            (String::new(), String::new())
        } else {
            let list = page_list(rest);
            (format!(" (ใช้ในหน้า {list} ด้วย)"), format!(" (also used on page {list})"))
        };
        out.refuse(
            Some(first),
            ProblemCode::FontNotEmbedded,
            format!("หน้า {first}: ไม่ได้ฝังฟอนต์ {name} ไว้ในไฟล์{also_th} โรงพิมพ์ต้องการให้ฝังฟอนต์ทุกตัว"),
            format!("page {first}: font {name} not embedded{also_en}; print rooms require every font embedded"),
        );
    }
}

/// `2, 3, 5–9` for the pages 2 3 5 6 7 8 9.
fn page_list(pages: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = pages.get(i) {
        let mut end = start;
        while pages.get(i + 1) == Some(&end.saturating_add(1)) {
            end += 1;
            i += 1;
        }
        parts.push(if end > start { format!("{start}–{end}") } else { start.to_string() });
        i += 1;
    }
    parts.join(", ")
}

fn collect_fonts<'a>(
    doc: &'a Document,
    resources: &'a Dictionary,
    page: u32,
    depth: usize,
    visited: &mut HashSet<ObjectId>,
    fonts: &mut Vec<(FontKey, &'a Dictionary)>,
) {
    if depth > MAX_RESOURCE_DEPTH {
        return;
    }
    if let Some(font_dict) = get_dict(doc, resources, b"Font") {
        for (name, raw) in font_dict.iter() {
            let key = match raw {
                Object::Reference(id) => FontKey::Object(*id),
                _ => FontKey::Direct(page, name.clone()),
            };
            if let Some(font) = resolve(doc, raw).and_then(as_dict) {
                fonts.push((key, font));
            }
        }
    }
    // Form XObjects and patterns carry resources of their own.
    for category in [b"XObject".as_slice(), b"Pattern"] {
        let Some(entries) = get_dict(doc, resources, category) else { continue };
        for (_, raw) in entries.iter() {
            if let Object::Reference(id) = raw
                && !visited.insert(*id)
            {
                continue;
            }
            let Some(inner) = resolve(doc, raw).and_then(as_dict) else { continue };
            if category == b"XObject" && get_name(doc, inner, b"Subtype") != Some(b"Form") {
                continue;
            }
            if let Some(inner_resources) = get_dict(doc, inner, b"Resources") {
                collect_fonts(doc, inner_resources, page, depth + 1, visited, fonts);
            }
        }
    }
}

fn collect_annotation_fonts<'a>(
    doc: &'a Document,
    page_dict: &'a Dictionary,
    page: u32,
    visited: &mut HashSet<ObjectId>,
    fonts: &mut Vec<(FontKey, &'a Dictionary)>,
) {
    let Some(Object::Array(annots)) = get(doc, page_dict, b"Annots") else { return };
    for annot in annots.iter().filter_map(|a| resolve(doc, a).and_then(as_dict)) {
        let Some(appearances) = get_dict(doc, annot, b"AP") else { continue };
        // Normal, rollover and down appearances; each a stream or a dictionary of states.
        for key in [b"N".as_slice(), b"R", b"D"] {
            let streams: Vec<&Dictionary> = match get(doc, appearances, key) {
                Some(Object::Stream(s)) => vec![&s.dict],
                Some(Object::Dictionary(states)) => {
                    states.iter().filter_map(|(_, s)| resolve(doc, s).and_then(as_dict)).collect()
                }
                _ => Vec::new(),
            };
            for stream in streams {
                if let Some(resources) = get_dict(doc, stream, b"Resources") {
                    collect_fonts(doc, resources, page, 1, visited, fonts);
                }
            }
        }
    }
}

fn size_en(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

fn size_th(bytes: usize) -> String {
    format!("{:.1} เมกะไบต์", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lists_join_runs() {
        assert_eq!(page_list(&[2, 3, 5, 6, 7, 9]), "2–3, 5–7, 9");
    }

    #[test]
    fn oversized_input_is_refused_before_reading() {
        let rules = Rules { max_bytes: 10, ..Rules::default() };
        let report = check(&[b'x'; 11], &rules);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].code, ProblemCode::TooLarge);
    }

    #[test]
    fn a_structure_beyond_the_readers_limits_is_refused_naming_the_limit() {
        use hybridpost_pdfguard::hostile::{self, Nest};
        for pdf in [hostile::nested_body(Nest::Arrays, 30_000), hostile::length_chain(30_000)] {
            let report = check(&pdf, &Rules::default());
            assert_eq!(report.problems.len(), 1, "{report:?}");
            let problem = &report.problems[0];
            assert_eq!(problem.code, ProblemCode::TooComplex);
            assert!(problem.message_en.contains("at most"), "{}", problem.message_en);
            assert!(problem.message_th.contains("ไม่เกิน"), "{}", problem.message_th);
        }
    }

    #[test]
    fn a_document_is_unreadable_as_before() {
        let report = check(b"%PDF-1.7\nnot a pdf", &Rules::default());
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].code, ProblemCode::Damaged);
    }

    #[test]
    fn empty_input_is_damaged() {
        let report = check(b"", &Rules::default());
        assert_eq!(report.problems[0].code, ProblemCode::Damaged);
        assert!(!report.is_acceptable());
    }
}
