//! Paragraphs: styled text broken into lines that fit a width.

use core::ops::Range;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use hybridpost_thai::{BreakKind, BreakOpportunity, break_opportunities};

use crate::fonts::{Fonts, Weight};
use crate::shape::{ShapedGlyph, shape};
use crate::{Pt, RenderError};

/// Font size of body text: Thai government correspondence is customarily set in a
/// TH Sarabun design at 16 pt.
pub const BODY_SIZE: Pt = Pt(16.0);

/// Default distance between baselines, as a multiple of the font size. Thai needs more
/// than Latin: stacked tone marks reach 1.27 em above the baseline and lowered vowels
/// under ฎ/ฏ 0.69 em below it.
pub const DEFAULT_LINE_HEIGHT: f32 = 1.4;

/// How much one inter-word space may grow when a line is justified, in em; the rest of
/// the slack is spread between grapheme clusters, as in Thai distributed justification.
const MAX_SPACE_STRETCH: f32 = 0.5;

/// Tolerance, in points, for deciding whether text fits a width.
const FIT_TOLERANCE: f32 = 0.01;

/// Horizontal placement of the lines of a paragraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Lines start at the left edge of the area.
    #[default]
    Left,
    /// Lines are centred in the area.
    Center,
    /// Lines end at the right edge of the area.
    Right,
    /// Lines fill the width, except the last line of the paragraph and lines ended by a
    /// newline, which are left-aligned. Slack goes to spaces first (up to half an em
    /// each), then evenly between grapheme clusters.
    Justify,
}

/// A paragraph of text: Thai, Latin, digits, mixed freely, in regular and bold runs.
///
/// A newline in the text ends a line (an address block is one paragraph). Tabs are set
/// as spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Paragraph {
    text: String,
    weights: Vec<(Range<usize>, Weight)>,
    unbreakable: Vec<Range<usize>>,
    size: Pt,
    line_height: f32,
    align: Align,
}

impl Default for Paragraph {
    fn default() -> Self {
        Paragraph {
            text: String::new(),
            weights: Vec::new(),
            unbreakable: Vec::new(),
            size: BODY_SIZE,
            line_height: DEFAULT_LINE_HEIGHT,
            align: Align::Left,
        }
    }
}

impl Paragraph {
    /// An empty, left-aligned paragraph at 16 pt with line height 1.4.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends regular text.
    pub fn text(self, text: &str) -> Self {
        self.push(text, Weight::Regular, false)
    }

    /// Appends bold text.
    pub fn bold(self, text: &str) -> Self {
        self.push(text, Weight::Bold, false)
    }

    /// Appends text that must not be broken across lines, such as a name or a postcode.
    /// Only text wider than the whole area is still cut, between grapheme clusters.
    pub fn unbreakable(self, text: &str, weight: Weight) -> Self {
        self.push(text, weight, true)
    }

    /// Appends `text` in `weight`; with `unbreakable`, no line break falls inside it.
    pub fn push(mut self, text: &str, weight: Weight, unbreakable: bool) -> Self {
        let start = self.text.len();
        self.text.extend(text.chars().map(|c| if c == '\t' { ' ' } else { c }));
        let range = start..self.text.len();
        if weight != Weight::Regular {
            self.weights.push((range.clone(), weight));
        }
        if unbreakable {
            self.unbreakable.push(range);
        }
        self
    }

    /// Marks a byte range of the text so far as unbreakable, like [`Paragraph::unbreakable`].
    pub fn keep_together(mut self, range: Range<usize>) -> Self {
        self.unbreakable.push(range);
        self
    }

    /// Sets the font size.
    pub fn size(mut self, size: Pt) -> Self {
        self.size = size;
        self
    }

    /// Sets the distance between baselines as a multiple of the font size.
    pub fn line_height(mut self, factor: f32) -> Self {
        self.line_height = factor;
        self
    }

    /// Sets the horizontal alignment.
    pub fn align(mut self, align: Align) -> Self {
        self.align = align;
        self
    }

    /// The text of the paragraph.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The font size.
    pub fn font_size(&self) -> Pt {
        self.size
    }

    /// Distance between baselines, in points.
    pub fn line_pitch(&self) -> Pt {
        Pt(self.size.0 * self.line_height)
    }

    /// Fails unless the font size and line height are positive, finite numbers.
    pub(crate) fn check_size(&self) -> Result<(), RenderError> {
        let valid = |v: f32| v.is_finite() && v > 0.0;
        if valid(self.size.0) && valid(self.line_height) {
            Ok(())
        } else {
            Err(RenderError::InvalidSize { size: self.size.0, line_height: self.line_height })
        }
    }
}

/// A glyph placed on a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlacedGlyph {
    /// Which face the glyph comes from.
    pub(crate) weight: Weight,
    /// Glyph id in that face.
    pub(crate) glyph: u16,
    /// Distance from the left edge of the area to the glyph origin, in points.
    pub(crate) x: f32,
    /// Distance from the baseline up to the glyph origin, in points.
    pub(crate) rise: f32,
}

/// One laid-out line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// The text of the line, without the spaces and newline that end it.
    pub(crate) text: Range<usize>,
    /// Its visible glyphs.
    pub(crate) glyphs: Vec<PlacedGlyph>,
    /// Distance from the left edge of the area to the pen after the last glyph, in points.
    pub(crate) end_x: f32,
}

/// Lines of a paragraph and where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LaidOut {
    /// The lines, top to bottom.
    pub(crate) lines: Vec<Line>,
    /// Byte offset of the first character that did not fit, if any.
    pub(crate) rest: Option<usize>,
}

/// Breaks `paragraph`, from byte offset `from`, into at most `max_lines` lines of at most
/// `width` points.
pub(crate) fn lay_out(
    fonts: &Fonts<'_>,
    paragraph: &Paragraph,
    from: usize,
    width: f32,
    max_lines: usize,
) -> Result<LaidOut, RenderError> {
    let text = paragraph.text.as_str();
    let size = paragraph.size.0;
    let analysed = analyse(fonts, paragraph)?;
    let (glyphs, breaks) = (&analysed.glyphs[..], &analysed.breaks[..]);
    let measure = Measure::new(glyphs, size);

    let mut lines = Vec::new();
    let mut start = from;
    let mut next_break = breaks.partition_point(|b| b.offset <= start);
    while start < text.len() && lines.len() < max_lines {
        let mut fit: Option<BreakOpportunity> = None;
        for b in &breaks[next_break..] {
            if measure.width(start, trim_end(text, start, b.offset)) > width + FIT_TOLERANCE {
                break;
            }
            fit = Some(*b);
            if b.kind == BreakKind::Mandatory {
                break;
            }
        }
        let (end, kind) = match fit {
            Some(b) => (b.offset, b.kind),
            None => {
                let limit = breaks.get(next_break).map_or(text.len(), |b| b.offset);
                (measure.emergency_break(start, limit, width), BreakKind::Allowed)
            }
        };
        let visible_end = trim_end(text, start, end);
        let justify = paragraph.align == Align::Justify && kind == BreakKind::Allowed;
        let (placed, end_x) = place(text, glyphs, &measure, start..visible_end, width, paragraph.align, justify, size);
        lines.push(Line { text: start..visible_end, glyphs: placed, end_x });
        start = end;
        next_break = breaks.partition_point(|b| b.offset <= start);
    }
    Ok(LaidOut { lines, rest: (start < text.len()).then_some(start) })
}

/// A paragraph's text shaped and its break opportunities found: what does not depend on
/// the size or the width it is set in.
#[derive(Debug)]
struct Analysed {
    glyphs: Vec<ShapedGlyph>,
    breaks: Vec<BreakOpportunity>,
}

/// What identifies an analysis: the fonts, the text and where its weights and
/// unbreakable stretches are.
type AnalysisKey = (u64, String, Vec<(Range<usize>, Weight)>, Vec<Range<usize>>);

/// Paragraphs analysed per thread before the cache starts over.
const ANALYSIS_CACHE_SIZE: usize = 2048;

thread_local! {
    /// Shaping and dictionary line breaking are most of the cost of laying out a letter,
    /// and much of it repeats: a paragraph placed line by line or tried at several sizes
    /// (an address block), and the agency's address, labels and template text in every
    /// letter of a batch. Per thread, so threads laying out letters never wait on each
    /// other; bounded, so memory does not grow with the number of letters.
    static ANALYSES: RefCell<HashMap<AnalysisKey, Rc<Analysed>>> = RefCell::new(HashMap::new());
}

/// The analysis of `paragraph` in `fonts`, from the cache when it was seen before.
fn analyse(fonts: &Fonts<'_>, paragraph: &Paragraph) -> Result<Rc<Analysed>, RenderError> {
    let key: AnalysisKey =
        (fonts.id(), paragraph.text.clone(), paragraph.weights.clone(), paragraph.unbreakable.clone());
    if let Some(found) = ANALYSES.with_borrow(|cache| cache.get(&key).cloned()) {
        return Ok(found);
    }
    let text = paragraph.text.as_str();
    let glyphs = shape(fonts, text, &paragraph.weights);
    check_glyphs(text, &glyphs)?;
    let breaks = break_opportunities(text, &paragraph.unbreakable);
    let analysed = Rc::new(Analysed { glyphs, breaks });
    ANALYSES.with_borrow_mut(|cache| {
        if cache.len() >= ANALYSIS_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(key, Rc::clone(&analysed));
    });
    Ok(analysed)
}

/// Fails on a character the font has no glyph for, rather than printing a blank box
/// in an official letter. Whitespace and control characters are never drawn.
fn check_glyphs(text: &str, glyphs: &[ShapedGlyph]) -> Result<(), RenderError> {
    for g in glyphs.iter().filter(|g| g.glyph == 0) {
        let c = text[g.cluster..].chars().next().expect("clusters start on characters");
        if !(c.is_whitespace() || c.is_control()) {
            return Err(RenderError::MissingGlyph { character: c, weight: g.weight });
        }
    }
    Ok(())
}

/// The end of `text[start..end]` without trailing whitespace.
fn trim_end(text: &str, start: usize, end: usize) -> usize {
    start + text[start..end].trim_end().len()
}

/// Widths of stretches of shaped text, in points.
struct Measure<'g> {
    glyphs: &'g [ShapedGlyph],
    /// `prefix[i]` is the advance of glyphs `0..i`.
    prefix: Vec<f32>,
}

impl<'g> Measure<'g> {
    fn new(glyphs: &'g [ShapedGlyph], size: f32) -> Self {
        let mut prefix = Vec::with_capacity(glyphs.len() + 1);
        let mut sum = 0.0;
        prefix.push(sum);
        for g in glyphs {
            sum += g.advance * size;
            prefix.push(sum);
        }
        Measure { glyphs, prefix }
    }

    /// Index of the first glyph whose cluster starts at or after byte `offset`.
    fn glyph_at(&self, offset: usize) -> usize {
        self.glyphs.partition_point(|g| g.cluster < offset)
    }

    /// Advance width of the text in bytes `start..end`.
    fn width(&self, start: usize, end: usize) -> f32 {
        self.prefix[self.glyph_at(end)] - self.prefix[self.glyph_at(start)]
    }

    /// Where to cut a stretch `start..limit` that has no break opportunity fitting
    /// `width`: after the last whole grapheme cluster that fits, or after the first
    /// cluster if not even that fits.
    fn emergency_break(&self, start: usize, limit: usize, width: f32) -> usize {
        let first = self.glyph_at(start);
        let mut cut = None;
        for i in first + 1..self.glyph_at(limit) {
            if self.glyphs[i].cluster == self.glyphs[i - 1].cluster {
                continue;
            }
            if cut.is_some() && self.prefix[i] - self.prefix[first] > width + FIT_TOLERANCE {
                break;
            }
            cut = Some(self.glyphs[i].cluster);
        }
        cut.unwrap_or(limit)
    }
}

/// Places the glyphs of `range` on a line of `width` points; returns them and where the
/// pen ends.
#[expect(clippy::too_many_arguments, reason = "internal helper called from one place")]
fn place(
    text: &str,
    glyphs: &[ShapedGlyph],
    measure: &Measure<'_>,
    range: Range<usize>,
    width: f32,
    align: Align,
    justify: bool,
    size: f32,
) -> (Vec<PlacedGlyph>, f32) {
    let (first, last) = (measure.glyph_at(range.start), measure.glyph_at(range.end));
    let line = &glyphs[first..last];
    let natural = measure.width(range.start, range.end);
    let is_space = |g: &ShapedGlyph| text[g.cluster..].starts_with(char::is_whitespace);
    // Leading spaces (an indent) keep their width; only the spaces and cluster gaps
    // after them are stretched.
    let content_start = line.iter().position(|g| !is_space(g)).unwrap_or(line.len());

    let slack = (width - natural).max(0.0);
    let (mut pen, space_extra, gap_extra) = match align {
        Align::Left => (0.0, 0.0, 0.0),
        Align::Center => (slack / 2.0, 0.0, 0.0),
        Align::Right => (slack, 0.0, 0.0),
        Align::Justify if !justify || slack <= 0.0 => (0.0, 0.0, 0.0),
        Align::Justify => {
            let spaces = line[content_start..].iter().filter(|g| is_space(g)).count();
            let gaps = (content_start + 1..line.len()).filter(|&i| is_gap(line, i, &is_space)).count();
            let per_space = if spaces > 0 { (slack / spaces as f32).min(MAX_SPACE_STRETCH * size) } else { 0.0 };
            let rest = slack - per_space * spaces as f32;
            let per_gap = if gaps > 0 { rest / gaps as f32 } else { 0.0 };
            (0.0, per_space, per_gap)
        }
    };

    let mut placed = Vec::with_capacity(line.len());
    for (i, g) in line.iter().enumerate() {
        if i > content_start && is_gap(line, i, &is_space) {
            pen += gap_extra;
        }
        if is_space(g) {
            pen += g.advance * size;
            if i > content_start {
                pen += space_extra;
            }
            continue;
        }
        placed.push(PlacedGlyph {
            weight: g.weight,
            glyph: g.glyph,
            x: pen + g.x_offset * size,
            rise: g.y_offset * size,
        });
        pen += g.advance * size;
    }
    (placed, pen)
}

/// Whether glyph `i` starts a new grapheme cluster with no space on either side: a place
/// where justification may add room.
fn is_gap(line: &[ShapedGlyph], i: usize, is_space: &impl Fn(&ShapedGlyph) -> bool) -> bool {
    line[i].cluster != line[i - 1].cluster && !is_space(&line[i]) && !is_space(&line[i - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(paragraph: &Paragraph, width: f32) -> Vec<String> {
        let laid = lay_out(Fonts::laksaman(), paragraph, 0, width, usize::MAX).expect("lays out");
        assert_eq!(laid.rest, None);
        laid.lines.iter().map(|l| paragraph.as_str()[l.text.clone()].to_string()).collect()
    }

    const SAMPLE: &str = "ปู่ ป่า ฝั่ง น้ำ ทั้ง ผู้ใหญ่บ้าน ไปรษณีย์ กรุงเทพฯ ส่งจดหมายถึงประชาชนทุกคนในหมู่บ้านทุกวันจันทร์";

    #[test]
    fn lines_fit_the_width_and_keep_every_character() {
        let p = Paragraph::new().text(SAMPLE);
        let lines = lines_of(&p, 150.0);
        assert!(lines.len() > 2, "{lines:?}");
        let rejoined: String = lines.concat();
        let without_spaces: String = SAMPLE.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(rejoined.chars().filter(|c| !c.is_whitespace()).collect::<String>(), without_spaces);
        let laid = lay_out(Fonts::laksaman(), &p, 0, 150.0, usize::MAX).expect("lays out");
        for line in &laid.lines {
            let right = line.glyphs.iter().map(|g| g.x).fold(0.0, f32::max);
            assert!(right <= 150.0, "glyph starts at {right}");
        }
    }

    #[test]
    fn no_line_starts_with_a_combining_mark_or_paiyannoi() {
        let p = Paragraph::new().text(SAMPLE);
        for width in [60.0, 90.0, 120.0, 200.0] {
            for line in lines_of(&p, width) {
                let c = line.chars().next().expect("lines are not empty");
                assert!(
                    !('\u{0E31}'..='\u{0E4E}').contains(&c) || c == 'เ' || c == 'แ' || c == 'โ' || c == 'ใ' || c == 'ไ',
                    "{line:?}"
                );
                assert_ne!(c, 'ฯ', "{line:?}");
            }
        }
    }

    #[test]
    fn unbreakable_text_stays_on_one_line() {
        let name = "นายสมชาย ใจดี";
        let kept = Paragraph::new().text("เรียน ").unbreakable(name, Weight::Bold).text(" ผู้ใหญ่บ้าน");
        let free = Paragraph::new().text("เรียน ").bold(name).text(" ผู้ใหญ่บ้าน");
        let name_width: f32 =
            shape(Fonts::laksaman(), name, &[(0..name.len(), Weight::Bold)]).iter().map(|g| g.advance * 16.0).sum();
        let mut split_without = false;
        for width in (0..20).map(|i| name_width + 2.0 * i as f32) {
            let lines = lines_of(&kept, width);
            assert!(lines.iter().any(|l| l.contains(name)), "width {width}: {lines:?}");
            split_without |= !lines_of(&free, width).iter().any(|l| l.contains(name));
        }
        assert!(split_without, "the name would have been broken without the rule");
    }

    #[test]
    fn a_newline_ends_the_line() {
        let p = Paragraph::new().text("นายสมชาย ใจดี\n99 หมู่ 4 ถนนพหลโยธิน\nกรุงเทพฯ 10400");
        assert_eq!(lines_of(&p, 400.0), ["นายสมชาย ใจดี", "99 หมู่ 4 ถนนพหลโยธิน", "กรุงเทพฯ 10400"]);
    }

    #[test]
    fn a_word_wider_than_the_line_is_cut_between_clusters() {
        let p = Paragraph::new().text("ไปรษณีย์ไปรษณีย์ไปรษณีย์");
        let lines = lines_of(&p, 40.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), p.as_str());
    }

    #[test]
    fn justified_lines_reach_the_right_edge_except_the_last() {
        let p = Paragraph::new().text(SAMPLE).align(Align::Justify);
        let width = 150.0;
        let laid = lay_out(Fonts::laksaman(), &p, 0, width, usize::MAX).expect("lays out");
        let (last, full) = laid.lines.split_last().expect("several lines");
        for line in full {
            assert!((line.end_x - width).abs() < 0.05, "line ends at {}", line.end_x);
        }
        assert!(last.end_x < width);
        let natural =
            lay_out(Fonts::laksaman(), &p.clone().align(Align::Left), 0, width, usize::MAX).expect("lays out");
        assert_eq!(natural.lines.last().map(|l| &l.glyphs), Some(&last.glyphs));
    }

    #[test]
    fn a_paragraph_that_does_not_fit_reports_where_to_continue() {
        let p = Paragraph::new().text(SAMPLE);
        let first = lay_out(Fonts::laksaman(), &p, 0, 100.0, 2).expect("lays out");
        assert_eq!(first.lines.len(), 2);
        let rest = first.rest.expect("more text");
        let second = lay_out(Fonts::laksaman(), &p, rest, 100.0, usize::MAX).expect("lays out");
        assert_eq!(second.rest, None);
        assert!(first.lines[1].text.end <= rest);
        let all: Vec<_> = lines_of(&p, 100.0);
        assert_eq!(all.len(), first.lines.len() + second.lines.len());
    }

    #[test]
    fn a_character_missing_from_the_font_is_an_error() {
        let p = Paragraph::new().text("สวัสดี 😀");
        let err = lay_out(Fonts::laksaman(), &p, 0, 300.0, usize::MAX).expect_err("no emoji in Laksaman");
        assert!(matches!(err, RenderError::MissingGlyph { character: '😀', .. }));
    }

    #[test]
    fn centred_text_has_equal_margins() {
        let p = Paragraph::new().text("บันทึกข้อความ").align(Align::Center);
        let laid = lay_out(Fonts::laksaman(), &p, 0, 300.0, 1).expect("lays out");
        let glyphs = shape(Fonts::laksaman(), p.as_str(), &[]);
        let natural: f32 = glyphs.iter().map(|g| g.advance * 16.0).sum();
        let left = laid.lines[0].glyphs[0].x;
        assert!((left - (300.0 - natural) / 2.0).abs() < 0.01);
    }
}
