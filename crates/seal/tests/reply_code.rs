//! Reply codes: round trips for every page and reference, and a real QR reader.

use hybridpost_seal::*;
use proptest::prelude::*;

fn key() -> ReplyKey {
    ReplyKey::from_bytes(b"reply-code round trip secret 32b").expect("32 bytes")
}

proptest! {
    #[test]
    fn every_reply_code_round_trips(
        reference in proptest::collection::vec(any::<u8>(), 10..=16),
        pages in 1u8..=255,
        page_seed in any::<u8>(),
    ) {
        let page = page_seed % pages + 1;
        let code = ReplyCode::new(Reference::from_bytes(&reference).expect("valid length"), page, pages)
            .expect("valid page");
        let text = code.to_text(&key());
        prop_assert!(text.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        prop_assert_eq!(ReplyCode::parse(&text, &key()), Ok(code.clone()));
        prop_assert!(code.qr_matrix(&key()).expect("encodes").version <= 4);
        let digits = code.reference().to_digits();
        prop_assert_eq!(Reference::parse_digits(&digits), Ok(code.reference().clone()));
    }

    #[test]
    fn a_flipped_character_is_never_accepted(index in 4usize..43, replacement in "[A-Z2-7]") {
        let code = ReplyCode::new(Reference::from_bytes(&[7; 12]).expect("12 bytes"), 1, 1).expect("page 1");
        let text = code.to_text(&key());
        let mut chars: Vec<char> = text.chars().collect();
        let replacement = replacement.chars().next().expect("one char");
        prop_assume!(chars[index] != replacement);
        chars[index] = replacement;
        let altered: String = chars.into_iter().collect();
        prop_assert!(ReplyCode::parse(&altered, &key()).is_err());
    }
}

#[test]
fn a_reply_code_is_version_4_at_level_h() {
    let code = ReplyCode::new(Reference::generate(), 1, 2).expect("page 1 of 2");
    let matrix = code.qr_matrix(&key()).expect("encodes");
    println!("{}: version {}, {} modules", code.to_text(&key()), matrix.version, matrix.width);
    assert_eq!(matrix.version, 4);
    assert_eq!(matrix.width, 33);
}
