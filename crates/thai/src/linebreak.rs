//! Line-break opportunities for Thai and mixed Thai/Latin text.
//!
//! Thai is written without spaces between words, so where a line may end is found with
//! ICU4X's dictionary line segmenter (Unicode UAX #14 plus a Thai word list). On top of
//! that, the rules of Thai typesetting and of the letter layout are applied:
//!
//! - no line starts with ฯ (paiyannoi, U+0E2F) or ๆ (mai yamok, U+0E46): they belong to
//!   the word before them, even when a space separates ๆ from it;
//! - no line starts with closing punctuation;
//! - no line break falls inside a span the caller marks as unbreakable (a name, a postcode).

use core::ops::Range;

use icu_segmenter::LineSegmenter;
use icu_segmenter::options::LineBreakOptions;

/// Whether a line may or must end at a [`BreakOpportunity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// A line may end here; the layout decides whether it does.
    Allowed,
    /// A line must end here: a hard line break (LF, CR, CR LF, VT, FF, NEL, U+2028,
    /// U+2029) ends just before it, or it is the end of the text.
    Mandatory,
}

/// A place where a line may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakOpportunity {
    /// Byte offset into the text where the next line would start; always on a `char`
    /// boundary and greater than zero.
    pub offset: usize,
    /// Whether the line may or must end here.
    pub kind: BreakKind,
}

/// Finds where lines of `text` may end.
///
/// Offsets are byte offsets, ascending, each the start of the text that would go on
/// the next line; trailing spaces stay on the line before the break, as UAX #14
/// prescribes. The end of a non-empty text is always the last opportunity, with
/// [`BreakKind::Mandatory`]; an empty text has none.
///
/// `unbreakable` lists byte ranges that must stay on one line: no allowed break falls
/// strictly inside any of them. Ranges may overlap, be unsorted, or reach past the end
/// of the text. Mandatory breaks are kept even inside such a range, because the text
/// itself asks for a new line there.
pub fn break_opportunities(text: &str, unbreakable: &[Range<usize>]) -> Vec<BreakOpportunity> {
    let segmenter = LineSegmenter::new_dictionary(LineBreakOptions::default());
    segmenter
        .segment_str(text)
        .filter(|&offset| offset > 0)
        .filter_map(|offset| {
            let kind = if offset == text.len() || ends_with_hard_break(&text[..offset]) {
                BreakKind::Mandatory
            } else {
                BreakKind::Allowed
            };
            let keep = kind == BreakKind::Mandatory
                || !(starts_with_no_break_before(&text[offset..])
                    || unbreakable.iter().any(|span| span.start < offset && offset < span.end));
            keep.then_some(BreakOpportunity { offset, kind })
        })
        .collect()
}

/// Whether `text` ends with a character that forces a line break (UAX #14 classes BK,
/// CR, LF and NL).
fn ends_with_hard_break(text: &str) -> bool {
    matches!(text.chars().next_back(), Some('\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// Whether the line that would start with `rest` must not start there, because its
/// first character belongs at the end of the previous line.
fn starts_with_no_break_before(rest: &str) -> bool {
    rest.chars().next().is_some_and(|c| is_thai_trailing_sign(c) || is_closing_punctuation(c))
}

/// ฯ (paiyannoi, abbreviation), ๆ (mai yamok, repetition), ๚ (angkhankhu) and
/// ๛ (khomut): Thai signs that close the word or passage before them.
fn is_thai_trailing_sign(c: char) -> bool {
    matches!(c, '\u{0E2F}' | '\u{0E46}' | '\u{0E5A}' | '\u{0E5B}')
}

/// Closing brackets, final quotation marks and the punctuation that ends a clause or
/// sentence (UAX #14 classes CL, CP, EX and IS, and final quotes).
fn is_closing_punctuation(c: char) -> bool {
    matches!(
        c,
        ')' | ']'
            | '}'
            | '!'
            | '?'
            | ','
            | '.'
            | ':'
            | ';'
            | '»'
            | '›'
            | '’'
            | '”'
            | '‼'
            | '⁇'
            | '⁈'
            | '⁉'
            | '、'
            | '。'
            | '〉'
            | '》'
            | '」'
            | '』'
            | '】'
            | '〕'
            | '〗'
            | '〙'
            | '〛'
            | '！'
            | '）'
            | '，'
            | '．'
            | '：'
            | '；'
            | '？'
            | '］'
            | '｝'
            | '｣'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `text` into the pieces between allowed or mandatory breaks.
    fn pieces<'a>(text: &'a str, unbreakable: &[Range<usize>]) -> Vec<&'a str> {
        let mut start = 0;
        break_opportunities(text, unbreakable)
            .into_iter()
            .map(|b| {
                let piece = &text[start..b.offset];
                start = b.offset;
                piece
            })
            .collect()
    }

    #[test]
    fn thai_words_without_spaces_get_break_opportunities_between_them() {
        let text = "ผู้ใหญ่บ้านไปไปรษณีย์";
        let got = pieces(text, &[]);
        assert!(got.len() >= 3, "expected several words, got {got:?}");
        assert_eq!(got.concat(), text);
        assert!(got.contains(&"ไปรษณีย์"), "got {got:?}");
    }

    #[test]
    fn no_break_falls_inside_a_thai_syllable() {
        // Tone marks and vowels stay with their consonant.
        for piece in pieces("ปู่ป่าฝั่งน้ำทั้งผู้ใหญ่บ้าน", &[])
        {
            let first = piece.chars().next().expect("pieces are never empty");
            assert!(
                !('\u{0E31}'..='\u{0E3A}').contains(&first) && !('\u{0E47}'..='\u{0E4E}').contains(&first),
                "piece {piece:?} starts with a combining mark"
            );
        }
    }

    #[test]
    fn latin_words_break_after_spaces() {
        assert_eq!(pieces("hybrid mail 2026", &[]), ["hybrid ", "mail ", "2026"]);
    }

    #[test]
    fn the_end_of_the_text_is_a_mandatory_break() {
        let breaks = break_opportunities("สวัสดี", &[]);
        assert_eq!(breaks.last(), Some(&BreakOpportunity { offset: "สวัสดี".len(), kind: BreakKind::Mandatory }));
    }

    #[test]
    fn empty_text_has_no_break_opportunities() {
        assert!(break_opportunities("", &[]).is_empty());
    }

    #[test]
    fn a_newline_makes_a_mandatory_break_after_it() {
        let text = "บ้านเลขที่ 99\nถนนพระราม 6";
        let newline_end = text.find('\n').expect("text has a newline") + 1;
        let breaks = break_opportunities(text, &[]);
        assert!(breaks.contains(&BreakOpportunity { offset: newline_end, kind: BreakKind::Mandatory }));
        assert_eq!(
            breaks.iter().filter(|b| b.kind == BreakKind::Mandatory).count(),
            2,
            "the newline and the end of the text"
        );
    }

    #[test]
    fn a_line_never_starts_with_paiyannoi() {
        // The dictionary alone would break before ฯ in the first two texts.
        for text in ["จังหวัดพระนครศรีอยุธยาฯ", "ผลไม้ ฯลฯ ทั้งหมด", "กรุงเทพฯ เป็นเมืองหลวง"]
        {
            for b in break_opportunities(text, &[]) {
                assert!(!text[b.offset..].starts_with('ฯ'), "break before ฯ in {text:?}");
            }
        }
    }

    #[test]
    fn a_line_never_starts_with_mai_yamok_even_after_a_space() {
        for text in ["เด็กๆ เล่นกัน", "เด็ก ๆ เล่นกัน", "ต่าง ๆ นานา"]
        {
            let mai_yamok = text.find('ๆ').expect("text has ๆ");
            assert!(break_opportunities(text, &[]).iter().all(|b| b.offset != mai_yamok), "break before ๆ in {text:?}");
        }
    }

    #[test]
    fn a_line_never_starts_with_closing_punctuation() {
        let text = "(ฉบับที่ 2) ได้รับแล้ว, ขอบคุณ.";
        for b in break_opportunities(text, &[]) {
            let next = text[b.offset..].chars().next();
            assert!(!matches!(next, Some(')' | ',' | '.')), "break before {next:?} at {}", b.offset);
        }
    }

    #[test]
    fn no_break_falls_inside_an_unbreakable_span() {
        let text = "นายสมชาย ใจดี บ้านเลขที่ 12 ตำบลบางรัก 10500";
        let name_start = text.find("นายสมชาย").expect("name");
        let name = name_start..text.find(" บ้าน").expect("address");
        let free = break_opportunities(text, &[]);
        assert!(
            free.iter().any(|b| name.start < b.offset && b.offset < name.end),
            "the segmenter alone breaks inside the name"
        );
        let kept = break_opportunities(text, std::slice::from_ref(&name));
        assert!(kept.iter().all(|b| !(name.start < b.offset && b.offset < name.end)));
        // Breaks at the edges of the span are still allowed.
        assert!(kept.iter().any(|b| b.offset > name.end));
    }

    #[test]
    fn unbreakable_spans_may_be_unsorted_overlapping_or_too_long() {
        let text = "ไปรษณีย์ไทยจำกัด";
        let spans = [5..text.len() + 10, 0..12, 3..9];
        let breaks = break_opportunities(text, &spans);
        assert_eq!(breaks, [BreakOpportunity { offset: text.len(), kind: BreakKind::Mandatory }]);
    }

    #[test]
    fn mandatory_breaks_survive_inside_unbreakable_spans() {
        let text = "ก\nข";
        let whole = 0..text.len();
        let breaks = break_opportunities(text, std::slice::from_ref(&whole));
        assert_eq!(breaks.len(), 2);
        assert!(breaks.iter().all(|b| b.kind == BreakKind::Mandatory));
    }

    #[test]
    fn pieces_always_reassemble_the_text() {
        let text = "ปู่ ป่า ฝั่ง น้ำ ทั้ง ผู้ใหญ่บ้าน ไปรษณีย์ กรุงเทพฯ 10500 (Bangkok) ต่าง ๆ";
        assert_eq!(pieces(text, &[]).concat(), text);
    }
}
