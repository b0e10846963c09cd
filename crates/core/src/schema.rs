//! What the checks of a submitted letter require, as JSON Schema keywords for the OpenAPI
//! document: lengths, patterns and list sizes, from the same limits the checks use, so that
//! data generated from the document and clients generated from it agree with the service.
//!
//! What JSON Schema cannot say is left to the checks and said in the descriptions: an address
//! must be in the official table, a citizen id's check digit must match (the document names
//! the format `th-citizen-id`), a reply deadline must be after today, and only one of `body`,
//! `template` and `document_id` is given.

use serde_json::{Value, json};

use crate::letter::limits;

/// Characters a letter's text may hold: those the checks accept as printable and the letter
/// fonts (TLWG Laksaman) draw, as ranges. A test in `hybridpost-compose` holds this list
/// against the fonts and the printable check, character by character, so it stays exact.
pub const LETTER_CHARS: &[(char, char)] = &[
    ('\u{0020}', '\u{007E}'),
    ('\u{00A0}', '\u{00AC}'),
    ('\u{00AE}', '\u{00FF}'),
    ('\u{0102}', '\u{0103}'),
    ('\u{0106}', '\u{0107}'),
    ('\u{010C}', '\u{010D}'),
    ('\u{0110}', '\u{0111}'),
    ('\u{011E}', '\u{011F}'),
    ('\u{0128}', '\u{0129}'),
    ('\u{0130}', '\u{0131}'),
    ('\u{0141}', '\u{0142}'),
    ('\u{0152}', '\u{0153}'),
    ('\u{015E}', '\u{0161}'),
    ('\u{0168}', '\u{0169}'),
    ('\u{0178}', '\u{0178}'),
    ('\u{017D}', '\u{017E}'),
    ('\u{0192}', '\u{0192}'),
    ('\u{01A0}', '\u{01A1}'),
    ('\u{01AF}', '\u{01B0}'),
    ('\u{02BC}', '\u{02BC}'),
    ('\u{02C6}', '\u{02C7}'),
    ('\u{02D7}', '\u{02DD}'),
    ('\u{0300}', '\u{0301}'),
    ('\u{0303}', '\u{0303}'),
    ('\u{0309}', '\u{0309}'),
    ('\u{0323}', '\u{0323}'),
    ('\u{0331}', '\u{0331}'),
    ('\u{0E00}', '\u{0E3A}'),
    ('\u{0E3F}', '\u{0E5B}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{1EA0}', '\u{1EF9}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2013}', '\u{2014}'),
    ('\u{2018}', '\u{201A}'),
    ('\u{201C}', '\u{201E}'),
    ('\u{2020}', '\u{2022}'),
    ('\u{2026}', '\u{2026}'),
    ('\u{202F}', '\u{2030}'),
    ('\u{2032}', '\u{2033}'),
    ('\u{2039}', '\u{203A}'),
    ('\u{2044}', '\u{2044}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{20A3}', '\u{20A3}'),
    ('\u{20AB}', '\u{20AC}'),
    ('\u{2113}', '\u{2113}'),
    ('\u{2122}', '\u{2122}'),
    ('\u{2126}', '\u{2126}'),
    ('\u{212E}', '\u{212E}'),
    ('\u{2153}', '\u{215E}'),
    ('\u{2202}', '\u{2202}'),
    ('\u{2206}', '\u{2206}'),
    ('\u{220F}', '\u{220F}'),
    ('\u{2211}', '\u{2212}'),
    ('\u{221A}', '\u{221A}'),
    ('\u{221E}', '\u{221E}'),
    ('\u{222B}', '\u{222B}'),
    ('\u{2248}', '\u{2248}'),
    ('\u{2260}', '\u{2260}'),
    ('\u{2264}', '\u{2265}'),
    ('\u{25CA}', '\u{25CA}'),
    ('\u{25CC}', '\u{25CC}'),
    ('\u{3000}', '\u{3000}'),
    ('\u{FB00}', '\u{FB04}'),
];

/// Whether `c` is one of [`LETTER_CHARS`].
pub fn is_letter_char(c: char) -> bool {
    LETTER_CHARS.iter().any(|&(first, last)| (first..=last).contains(&c))
}

/// [`LETTER_CHARS`] as the inside of a regular-expression class (ECMA-262 and Python read it
/// alike: every character outside printable ASCII is written `\uXXXX`), without the blank ones
/// when `visible`.
fn class(visible: bool) -> String {
    let write = |c: char| match c {
        '!'..='~' if !"\\]^-[".contains(c) => c.to_string(),
        _ => format!("\\u{:04X}", u32::from(c)),
    };
    let mut out = String::new();
    for &(first, last) in LETTER_CHARS {
        let chars: Vec<char> = (first..=last).filter(|c| !(visible && c.is_whitespace())).collect();
        // Split a range where a blank character was left out.
        let mut run: Vec<char> = Vec::new();
        let flush = |run: &mut Vec<char>, out: &mut String| {
            match run.as_slice() {
                [] => {}
                [one] => out.push_str(&write(*one)),
                [a, .., b] => {
                    out.push_str(&write(*a));
                    out.push('-');
                    out.push_str(&write(*b));
                }
            }
            run.clear();
        };
        for c in chars {
            if run.last().is_some_and(|&p| u32::from(p) + 1 != u32::from(c)) {
                flush(&mut run, &mut out);
            }
            run.push(c);
        }
        flush(&mut run, &mut out);
    }
    out
}

/// Adds to `errors` the first character of `value` outside [`LETTER_CHARS`], with its
/// position, for a text kept with letters that is not itself a letter's (a letter's fields are
/// checked against the fonts by `hybridpost-compose`).
pub fn check_letter_chars(errors: &mut crate::ValidationErrors, field: &str, value: &str) {
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| *c != '\n' && !is_letter_char(*c)) {
        let what = crate::validation::describe_char(c);
        errors.add(field, format!("character {} is {what}, which cannot be printed", i + 1));
    }
}

/// A required text in a letter's characters, with at least one that is not blank; `\n`
/// between lines when `lines`.
pub fn letter_text_pattern(lines: bool) -> String {
    let newline = if lines { "\\n" } else { "" };
    let (all, visible) = (class(false), class(true));
    format!("^[{newline}{all}]*[{visible}][{newline}{all}]*$")
}

/// Thai and Arabic digits, as addresses and ids may be written.
const DIGITS: &str = "0-9\\u0E50-\\u0E59";

/// A required one-line text of at most `max` characters.
fn line(max: usize) -> Value {
    json!({"minLength": 1, "maxLength": max, "pattern": letter_text_pattern(false)})
}

/// A required paragraph: like [`line`], with `\n` between lines.
fn paragraph(max: usize) -> Value {
    json!({"minLength": 1, "maxLength": max, "pattern": letter_text_pattern(true)})
}

/// An optional one-line text that may be empty.
fn optional_text(max: usize) -> Value {
    json!({"maxLength": max, "pattern": format!("^[{}]*$", class(false))})
}

/// The schema of a required one-line text of at most `max` characters (for fields outside a
/// letter that are kept with it and printed or shown beside it, such as a reason for the record).
pub fn line_schema(max: usize) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(letter_text_pattern(false)))
        .build()
}

/// The keywords to add, by component schema (merged into what utoipa writes).
pub fn letter_field_limits() -> Value {
    json!({
        "NewLetter": {"properties": {
            "reference": line(limits::REFERENCE),
            "subject": line(limits::SUBJECT),
            "salutation": line(limits::LINE),
            "closing": line(limits::LINE),
            "contact": line(limits::LINE),
            "references": {"maxItems": limits::LIST_ENTRIES, "items": line(limits::LINE)},
            "enclosures": {"maxItems": limits::LIST_ENTRIES, "items": line(limits::LINE)},
            "body": {"minItems": 1, "maxItems": limits::PARAGRAPHS, "items": paragraph(limits::PARAGRAPH)},
            "template": {"pattern": "^[a-z0-9_-]{1,64}$"},
            "document_id": {"format": "uuid"},
            "date": {"format": "date"},
        }},
        "ReferencedLetter": {"properties": {
            "reference": line(limits::REFERENCE),
            "date": {"format": "date"},
            "from": optional_text(limits::NAME),
            "subject": optional_text(limits::SUBJECT),
        }},
        "EnclosedDocument": {"properties": {
            "title": line(limits::LINE),
            "document_id": {"format": "uuid"},
        }},
        "UrgentWithin": {"properties": {
            "within": {"format": "date-time"},
        }},
        "SenderParty": {"properties": {
            "ministry_id": optional_text(crate::official::PARTY_CODE),
            "department_id": optional_text(crate::official::PARTY_CODE),
            "office": optional_text(limits::LINE),
        }},
        "NewRecipient": {"properties": {
            "name": line(limits::NAME),
            // 13 digits whose last is the check digit of the others (a custom format: JSON
            // Schema has no check digits); a stored letter shows it masked (`xxxxxxxxx0708`).
            "citizen_id": {"format": "th-citizen-id", "maxLength": 40},
            "email": {"format": "email", "maxLength": 254},
            "position": optional_text(limits::LINE),
            "ministry_id": optional_text(crate::official::PARTY_CODE),
            "department_id": optional_text(crate::official::PARTY_CODE),
        }},
        "Signatory": {"properties": {
            "name": line(limits::NAME),
            "position": line(limits::LINE),
        }},
        "ReplyRequest": {"properties": {
            "deadline": {"format": "date"},
            "pages": {"minimum": 1, "maximum": crate::letter::MAX_REPLY_PAGES},
            "form_document_id": {"format": "uuid"},
            "answers": {"maxItems": crate::letter::MAX_FORM_ANSWER_BOXES},
        }},
        "FormAnswerBox": {"properties": {
            "page": {"minimum": 1},
            "x": {"minimum": 5.0, "maximum": 202.0},
            "y": {"minimum": 5.0, "maximum": 289.0},
            "side": {"minimum": 3.0, "maximum": 15.0},
            "label_th": line(limits::LINE),
            "label_en": line(limits::LINE),
        }},
        "ThaiAddress": {"properties": {
            "house_number": line(40),
            "moo": {"pattern": format!("^[{DIGITS}]{{0,3}}$")},
            "village": optional_text(120),
            "soi": optional_text(80),
            "road": optional_text(80),
            "subdistrict": optional_text(80),
            "district": optional_text(80),
            "province": optional_text(80),
            "postcode": {"pattern": format!("^[{DIGITS}]{{5}}$")},
        }},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{Lines, unprintable};

    #[test]
    fn every_letter_character_passes_the_printable_check() {
        for &(first, last) in LETTER_CHARS {
            for c in first..=last {
                assert_eq!(unprintable(&c.to_string(), Lines::One), None, "U+{:04X}", u32::from(c));
            }
        }
    }

    #[test]
    fn the_pattern_matches_what_the_checks_accept() {
        let one_line = regex_lite(&letter_text_pattern(false));
        assert!(one_line("นายสมชาย ใจดี") && one_line("a") && one_line("“ก–ข…”"));
        assert!(!one_line("") && !one_line("   ") && !one_line("a\nb") && !one_line("a\u{AD}") && !one_line("中"));
        let lines = regex_lite(&letter_text_pattern(true));
        assert!(lines("บรรทัดหนึ่ง\nบรรทัดสอง") && !lines("\n\n"));
    }

    /// A matcher for the patterns written here: `^[A]*[B][A]*$` with classes of ranges.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool + use<> {
        let inner = pattern.strip_prefix("^[").and_then(|p| p.strip_suffix("]*$")).expect("the pattern's shape");
        let parts: Vec<&str> = inner.split("]*[").collect();
        let [all, rest] = parts.as_slice() else { panic!("{pattern}") };
        let (visible, all_again) = rest.split_once("][").expect("three classes");
        assert_eq!(*all, all_again);
        let (all, visible) = (parse_class(all), parse_class(visible));
        move |text: &str| {
            text.chars().all(|c| all.iter().any(|r| r.contains(&c)))
                && text.chars().any(|c| visible.iter().any(|r| r.contains(&c)))
        }
    }

    fn parse_class(class: &str) -> Vec<std::ops::RangeInclusive<char>> {
        // (character, whether it is an unescaped `-` between two others)
        let mut tokens: Vec<(char, bool)> = Vec::new();
        let mut it = class.chars();
        while let Some(c) = it.next() {
            tokens.push(match c {
                '\\' => match it.next() {
                    Some('n') => ('\n', false),
                    Some('u') => {
                        let hex: String = it.by_ref().take(4).collect();
                        (char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap(), false)
                    }
                    other => panic!("{other:?}"),
                },
                '-' => ('-', true),
                c => (c, false),
            });
        }
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if tokens.get(i + 1).is_some_and(|t| t.1) && i + 2 < tokens.len() {
                ranges.push(tokens[i].0..=tokens[i + 2].0);
                i += 3;
            } else {
                ranges.push(tokens[i].0..=tokens[i].0);
                i += 1;
            }
        }
        ranges
    }
}
