//! Field errors gathered over a whole request, so a caller learns every problem at once.

use serde::{Deserialize, Serialize};

/// One field that failed validation, named by its JSON path (`recipient.address.postcode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field, dot separated, with list indexes (`body[2]`).
    pub field: String,
    /// What is wrong, in words the sender can act on.
    pub message: String,
    /// Valid values close to the one given, when there are some (nearest province, postcode…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

/// A field that was accepted, but that the sender should look at: the letter goes as checked
/// (a postcode known to serve the district but not the subdistrict, a place written under its
/// former name or district, a subdistrict since split).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldWarning {
    /// JSON path of the field, dot separated, with list indexes (`letters[2].recipient.address.postcode`).
    pub field: String,
    /// What to look at, in plain words; Thai names in Thai script.
    pub message: String,
    /// Values known to be right, when there are some (the subdistrict's own postcodes…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

/// `value` in quotation marks for a message a person reads: Thai and every other visible
/// character as it is (never `\u{e31}` as `{:?}` writes it), a character that cannot be seen
/// or printed ([`unprintable`]) as its code point, `U+202E`, so that it is seen.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 6);
    out.push('“');
    for c in value.chars() {
        if refusal(c, Lines::One).is_some() {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('”');
    out
}

/// Every field error found in one input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records that `field` is wrong.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into(), suggestions: Vec::new() });
    }

    /// Records that `field` is wrong and what the nearest valid values are.
    pub fn add_with_suggestions(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        suggestions: Vec<String>,
    ) {
        self.0.push(FieldError { field: field.into(), message: message.into(), suggestions });
    }

    /// Checks a required one-line text field: present, not blank, at most `max` characters,
    /// every character printable ([`unprintable`]).
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        self.required(field, value, max, Lines::One);
    }

    /// Checks a required paragraph: like [`ValidationErrors::text`], but `\n` may break its lines.
    pub fn paragraph(&mut self, field: &str, value: &str, max: usize) {
        self.required(field, value, max, Lines::Several);
    }

    fn required(&mut self, field: &str, value: &str, max: usize, lines: Lines) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        } else {
            self.limited(field, value, max, lines);
        }
    }

    /// Checks that an optional one-line text field is at most `max` characters, every one
    /// printable.
    pub fn max_len(&mut self, field: &str, value: &str, max: usize) {
        self.limited(field, value, max, Lines::One);
    }

    fn limited(&mut self, field: &str, value: &str, max: usize, lines: Lines) {
        let len = value.chars().count();
        if len > max {
            self.add(field, format!("is {len} characters long, the limit is {max}"));
        } else if let Some(why) = unprintable(value, lines) {
            self.add(field, why);
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

/// Whether a text may break its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    /// One line: a name, a reference, an address part.
    One,
    /// A paragraph, in which `\n` (and only `\n`) breaks the line, as the renderer does.
    Several,
}

/// The first character of `value` that cannot be printed on a letter or shown in an e-mail,
/// said as "character 5 is U+202E RIGHT-TO-LEFT OVERRIDE, which cannot be printed"
/// (positions count characters from 1). `None` when every character is printable.
///
/// Refused: C0 and C1 controls, NUL and DEL (tab and carriage return too: the renderer has no
/// tab stops, and a line break is `\n`, allowed only in paragraphs); noncharacters (Unicode
/// 3.2 "Noncharacters": U+FDD0..U+FDEF and U+xFFFE/U+xFFFF in every plane); bidirectional
/// formatting characters (UAX #9: the embeddings, overrides and isolates, LRM, RLM, ALM),
/// which reorder what is printed without being visible ("Trojan Source", CVE-2021-42574);
/// zero-width and other invisible format characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM,
/// soft hyphen, variation selectors, tags, the line and paragraph separators); the
/// replacement character U+FFFD, a sign of text damaged in an encoding conversion; and
/// private-use characters, whose meaning is a private agreement (old Thai fonts put positional
/// forms of tone marks there), so that what is printed, searched and read aloud differs.
///
/// Lone surrogates cannot occur in a Rust string: a JSON `\ud800` is refused when the
/// request is parsed.
pub fn unprintable(value: &str, lines: Lines) -> Option<String> {
    value.chars().enumerate().find_map(|(i, c)| {
        let why = refusal(c, lines)?;
        Some(format!("character {} is {}, {why}", i + 1, describe_char(c)))
    })
}

fn refusal(c: char, lines: Lines) -> Option<&'static str> {
    let code = c as u32;
    Some(match c {
        '\n' if lines == Lines::Several => return None,
        '\n' => "which cannot be printed: this field is one line",
        '\r' => "which cannot be printed: a line break is \\n alone",
        '\t' => "which cannot be printed: use spaces",
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => "a control character, which cannot be printed",
        '\u{fdd0}'..='\u{fdef}' => "a noncharacter, which cannot be printed",
        _ if code & 0xfffe == 0xfffe => "a noncharacter, which cannot be printed",
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            "a bidirectional formatting character, which cannot be printed"
        }
        '\u{ad}' | '\u{34f}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180b}'..='\u{180f}' => {
            "an invisible character, which cannot be printed"
        }
        '\u{200b}'..='\u{200d}' | '\u{2028}'..='\u{2029}' | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{feff}' => {
            "an invisible character, which cannot be printed"
        }
        '\u{fe00}'..='\u{fe0f}' | '\u{ffa0}' | '\u{fff0}'..='\u{fffc}' | '\u{1d173}'..='\u{1d17a}' => {
            "an invisible character, which cannot be printed"
        }
        '\u{e0000}'..='\u{e0fff}' => "an invisible character, which cannot be printed",
        '\u{fffd}' => "the replacement character: the text was damaged by an encoding conversion",
        '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{10ffff}' => {
            "a private-use character, which has no agreed meaning and cannot be printed"
        }
        _ => return None,
    })
}

/// `U+202E RIGHT-TO-LEFT OVERRIDE` for the characters [`unprintable`] names, `U+0E01 (ก)` for
/// a visible one, `U+0007` otherwise.
pub fn describe_char(c: char) -> String {
    let code = c as u32;
    let name = match c {
        '\0' => "NULL",
        '\t' => "CHARACTER TABULATION",
        '\n' => "LINE FEED",
        '\r' => "CARRIAGE RETURN",
        '\u{7f}' => "DELETE",
        '\u{85}' => "NEXT LINE",
        '\u{ad}' => "SOFT HYPHEN",
        '\u{61c}' => "ARABIC LETTER MARK",
        '\u{200b}' => "ZERO WIDTH SPACE",
        '\u{200c}' => "ZERO WIDTH NON-JOINER",
        '\u{200d}' => "ZERO WIDTH JOINER",
        '\u{200e}' => "LEFT-TO-RIGHT MARK",
        '\u{200f}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{feff}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{fffd}' => "REPLACEMENT CHARACTER",
        _ if refusal(c, Lines::Several).is_none() && !c.is_whitespace() => {
            return format!("U+{code:04X} ({c})");
        }
        _ => return format!("U+{code:04X}"),
    };
    format!("U+{code:04X} {name}")
}

/// Levenshtein distance over characters (not bytes, so Thai letters count as one each): how
/// far a misspelt name is from a valid one, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprintable_characters_are_named_with_their_position() {
        assert_eq!(
            unprintable("นายสมชาย\u{202e}", Lines::One).as_deref(),
            Some(
                "character 9 is U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional formatting character, which cannot be printed"
            )
        );
        let mut errors = ValidationErrors::default();
        errors.text("recipient.name", "abcd\u{202e}x", 200);
        assert_eq!(
            errors.to_string(),
            "recipient.name: character 5 is U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional formatting character, \
             which cannot be printed"
        );
    }

    #[test]
    fn every_kind_of_unprintable_character_is_refused() {
        let refused = [
            '\0',
            '\u{1}',
            '\u{7}',
            '\u{1b}',
            '\u{1f}',
            '\u{7f}',
            '\u{80}',
            '\u{85}',
            '\u{9f}',
            '\t',
            '\r',
            '\u{fffe}',
            '\u{ffff}',
            '\u{fdd0}',
            '\u{fdef}',
            '\u{1fffe}',
            '\u{2ffff}',
            '\u{10fffe}',
            '\u{10ffff}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{61c}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{ad}',
            '\u{2028}',
            '\u{2029}',
            '\u{fe0f}',
            '\u{e0041}',
            '\u{fffd}',
            '\u{e000}',
            '\u{f700}',
            '\u{f8ff}',
            '\u{f0000}',
            '\u{10fffd}',
        ];
        for c in refused {
            for lines in [Lines::One, Lines::Several] {
                let text = format!("ก{c}ข");
                let why = unprintable(&text, lines).unwrap_or_else(|| panic!("U+{:04X} must be refused", c as u32));
                assert!(why.starts_with(&format!("character 2 is U+{:04X}", c as u32)), "{why}");
            }
        }
    }

    #[test]
    fn quoted_shows_thai_as_thai_and_invisible_characters_by_code() {
        assert_eq!(quoted("จักรวรรดิ"), "“จักรวรรดิ”");
        assert_eq!(quoted("a\u{202e}b\n"), "“a<U+202E>b<U+000A>”");
    }

    #[test]
    fn a_line_break_is_allowed_only_in_paragraphs() {
        assert!(unprintable("บรรทัดแรก\nบรรทัดสอง", Lines::Several).is_none());
        let why = unprintable("บรรทัดแรก\nบรรทัดสอง", Lines::One).expect("one line");
        assert!(why.contains("U+000A LINE FEED") && why.contains("one line"), "{why}");
        assert!(unprintable("a\r\nb", Lines::Several).expect("CR").contains("CARRIAGE RETURN"));
    }

    #[test]
    fn thai_latin_marks_and_spaces_are_printable() {
        for ok in [
            "นายสมชาย ใจดี",
            "น้ำ ปู่ ฤๅษี กรุงเทพฯ ๑๒๓",
            "Mr. José Müller-Lüdenscheidt",
            "e\u{301}",
            "a\u{a0}b",
            "“quoted” – ok",
        ] {
            assert_eq!(unprintable(ok, Lines::One), None, "{ok}");
        }
    }
}
