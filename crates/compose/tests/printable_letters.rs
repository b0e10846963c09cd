//! Property: every letter intake accepts can be printed. Letters get arbitrary Unicode in every
//! text field (biased toward Thai, Latin, combining marks, controls, bidirectional formatting,
//! zero-width characters, emoji, CJK, noncharacters, private use and the astral planes); each
//! one that passes `NewLetter::check` and `check_glyphs` — what `POST /v1/letters` runs — must
//! render to a PDF with the real renderer and fonts.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::sync::atomic::{AtomicUsize, Ordering};

use hybridpost_core::letter::{Language, LetterLayout, NewLetter, NewRecipient, Signatory};
use hybridpost_core::validation::Lines;
use hybridpost_core::{ThaiAddress, ValidationErrors};
use hybridpost_render::{LetterOptions, Sender, render_letter};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use time::macros::date;

/// One character, from a mix of what agencies send and what breaks printing.
fn any_char() -> impl Strategy<Value = char> {
    let range = |lo: u32, hi: u32| (lo..=hi).prop_filter_map("a scalar value", char::from_u32);
    prop_oneof![
        8 => range(0x0E01, 0x0E5B),                        // Thai, marks included
        4 => range(0x20, 0x7E),                            // ASCII
        1 => range(0xA0, 0x17F),                           // Latin-1 and Latin Extended-A
        1 => range(0x300, 0x36F),                          // combining marks
        1 => range(0x0, 0x1F),                             // C0 controls
        1 => range(0x7F, 0x9F),                            // DEL and C1 controls
        1 => prop::sample::select(vec![
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}',
            '\u{FEFF}', '\u{00AD}', '\u{2028}', '\u{2029}', '\u{FFFD}', '\u{FFFE}', '\u{FFFF}', '\u{FDD0}',
            '\u{1FFFE}', '\u{10FFFF}', '\u{E000}', '\u{F70A}', '\u{3000}', '\u{2003}', '\n', '\t', '\r',
        ]),
        1 => range(0x2000, 0x206F),                        // general punctuation
        1 => range(0x1F300, 0x1F6FF),                      // emoji
        1 => range(0x4E00, 0x9FFF),                        // CJK
        1 => range(0x10000, 0x10FFFF),                     // astral planes
        1 => any::<char>(),
    ]
}

/// One character of the text agencies usually send: Thai, ASCII, Latin-1, combining marks,
/// spaces and now and then anything.
fn mild_char() -> impl Strategy<Value = char> {
    let range = |lo: u32, hi: u32| (lo..=hi).prop_filter_map("a scalar value", char::from_u32);
    prop_oneof![
        12 => range(0x0E01, 0x0E5B),
        8 => range(0x20, 0x7E),
        1 => range(0xA0, 0xFF),
        1 => range(0x300, 0x36F),
        1 => prop::sample::select(vec!['\n', '\u{a0}', '\u{3000}', ' ']),
        1 => any_char(),
    ]
}

fn text(max: usize, chars: BoxedStrategy<char>) -> impl Strategy<Value = String> {
    prop::collection::vec(chars, 1..=max).prop_map(|cs| cs.into_iter().collect())
}

/// A field that is mostly a good value and sometimes arbitrary text, so that a fair share of
/// letters pass intake and the property is tested on them.
fn field(good: &'static str, max: usize, chars: &BoxedStrategy<char>) -> impl Strategy<Value = String> + use<> {
    prop_oneof![5 => Just(good.to_owned()), 1 => text(max, chars.clone())]
}

fn optional(
    good: &'static str,
    max: usize,
    chars: &BoxedStrategy<char>,
) -> impl Strategy<Value = Option<String>> + use<> {
    prop_oneof![1 => Just(None), 3 => field(good, max, chars).prop_map(Some)]
}

/// Letters of which half draw their random text from [`mild_char`], half from [`any_char`].
fn letter() -> impl Strategy<Value = NewLetter> {
    prop_oneof![letter_of(mild_char().boxed()), letter_of(any_char().boxed())]
}

fn letter_of(c: BoxedStrategy<char>) -> impl Strategy<Value = NewLetter> {
    let c = &c;
    let recipient = (
        field("นายสมชาย ใจดี", 16, c),
        field("99/1", 6, c),
        optional("บ้านสุขใจ", 12, c),
        optional("สุขใจ", 12, c),
        optional("พหลโยธิน", 12, c),
    )
        .prop_map(|(name, house_number, village, soi, road)| NewRecipient {
            name,
            address: ThaiAddress {
                house_number,
                moo: Some("4".into()),
                village,
                soi,
                road,
                subdistrict: "สามเสนใน".into(),
                district: "พญาไท".into(),
                province: "กรุงเทพมหานคร".into(),
                postcode: "10400".into(),
            },
            citizen_id: None,
            email: None,
            position: None,
            ministry_id: None,
            department_id: None,
        });
    let head = (
        field("มท 0808.2/ว 1234", 16, c),
        field("แจ้งผลการพิจารณาคำขอ", 24, c),
        optional("เรียน นายสมชาย ใจดี", 16, c),
        prop::collection::vec(field("คำขอของท่าน ลงวันที่ 1 ตุลาคม 2569", 20, c), 0..3),
        prop::collection::vec(field("สำเนาคำขอ 1 ฉบับ", 20, c), 0..3),
    );
    let tail = (
        prop::collection::vec(field("ตามที่ท่านได้ยื่นคำขอ สำนักงานเขตได้พิจารณาแล้ว", 60, c), 1..4),
        optional("ขอแสดงความนับถือ", 16, c),
        (field("นางสาวสมศรี รักงาน", 16, c), field("ผู้อำนวยการเขตพญาไท", 16, c)),
        optional("ฝ่ายทะเบียน โทร. 0 2279 0000", 24, c),
        prop::sample::select(vec![Language::Thai, Language::ThaiEnglish, Language::English]),
        prop::sample::select(vec![LetterLayout::Official, LetterLayout::Plain]),
    );
    (recipient, head, tail).prop_map(|(recipient, (reference, subject, salutation, references, enclosures), tail)| {
        let (body, closing, (name, position), contact, language, layout) = tail;
        NewLetter {
            reference,
            language,
            layout,
            recipient,
            subject,
            salutation,
            date: None,
            urgency: None,
            secrecy: None,
            digits: None,
            sender: None,
            references: references.into_iter().map(Into::into).collect(),
            enclosures: enclosures.into_iter().map(Into::into).collect(),
            body: Some(body),
            template: None,
            document_id: None,
            data: None,
            closing,
            signatory: Some(Signatory { name, position }),
            contact,
            reply: None,
            send_after: None,
        }
    })
}

/// What `POST /v1/letters` runs before accepting a letter.
fn intake(letter: &NewLetter) -> Result<NewLetter, ValidationErrors> {
    let checked = letter.check(date!(2026 - 11 - 22));
    let mut errors = checked.as_ref().err().cloned().unwrap_or_default();
    hybridpost_compose::check_glyphs(letter, &mut errors);
    if errors.is_empty() { Ok(checked.unwrap().letter) } else { Err(errors) }
}

#[test]
fn every_letter_intake_accepts_renders() {
    let sender = Sender {
        agency_name: "สำนักงานเขตพญาไท".into(),
        agency_address_lines: vec!["ถนนพหลโยธิน เขตพญาไท กรุงเทพมหานคร 10400".into()],
    };
    let options = LetterOptions {
        emblem: None,
        issue_date: date!(2026 - 11 - 22),
        verification_host: "verify.example.go.th".into(),
        pin: Some("4821-0937".into()),
        seal: None,
        reply: None,
        seal_url: None,
    };
    let cases = std::env::var("HYBRIDPOST_TEST_PRINTABLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let (accepted, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&letter(), |letter| {
            match intake(&letter) {
                Err(errors) => {
                    if std::env::var_os("HYBRIDPOST_TEST_PRINTABLE_SHOW").is_some() {
                        println!("refused: {errors}");
                    }
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                Ok(checked) => {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let rendered = render_letter(&checked, &sender, &options);
                    prop_assert!(rendered.is_ok(), "accepted but does not render: {:?}\n{checked:#?}", rendered.err());
                }
            }
            Ok(())
        })
        .unwrap();
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    println!("{accepted} letters accepted and rendered, {refused} refused at intake");
    assert!(accepted >= cases as usize / 10, "too few letters passed intake for the property to mean much: {accepted}");
    assert!(refused >= cases as usize / 5, "too few letters were refused: the generator is too tame: {refused}");
}

#[test]
fn a_character_without_a_glyph_is_refused_at_intake_with_its_position() {
    let mut letter: NewLetter = serde_json::from_str(include_str!("../../../fixtures/letters/official.json")).unwrap();
    letter.subject = "แจ้งผล 😀".into();
    letter.recipient.name = "นาย 中文".into();
    let errors = intake(&letter).unwrap_err();
    let found: Vec<String> = errors.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
    assert_eq!(
        found,
        [
            "subject: character 8 is U+1F600 (😀), which the letter fonts cannot print",
            "recipient.name: character 5 is U+4E2D (中), which the letter fonts cannot print",
        ]
    );
}

#[test]
fn the_characters_the_api_schema_allows_are_exactly_those_printable_and_drawn() {
    let fonts = hybridpost_render::Fonts::laksaman();
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let text = c.to_string();
        let accepted = hybridpost_core::validation::unprintable(&text, Lines::One).is_none()
            && fonts.missing_glyph(&text).is_none();
        assert_eq!(hybridpost_core::schema::is_letter_char(c), accepted, "U+{:04X}", u32::from(c));
    }
}
