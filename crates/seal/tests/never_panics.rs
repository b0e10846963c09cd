//! Property tests: no input makes reading or verification panic. Run with more cases via
//! `PROPTEST_CASES=100000`.

mod common;

use common::*;
use hybridpost_seal::*;
use proptest::prelude::*;
use std::sync::OnceLock;

struct Fixture {
    key: SigningKey,
    trust: TrustList,
    seal_bytes: Vec<u8>,
    text: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = issuer_key();
        let trust = trust_list_with(&[&key]);
        let seal = Seal::sign(&realistic_payload(), &key).expect("sign");
        let text = seal.to_qr_text(HOST);
        Fixture { seal_bytes: seal.as_bytes().to_vec(), key, trust, text }
    })
}

fn check(text: &str) -> Verdict {
    let f = fixture();
    verify_qr_text(text, &VerifyContext { trust_list: &f.trust, today: today(), withdrawn: &no_withdrawals })
}

fn check_bytes(bytes: Vec<u8>) -> Verdict {
    let f = fixture();
    Seal::from_bytes(bytes).verify(&VerifyContext { trust_list: &f.trust, today: today(), withdrawn: &no_withdrawals })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        let _ = check(&text);
    }

    #[test]
    fn arbitrary_strings_after_our_prefix_never_panic(tail in "[ -~]{0,400}") {
        let _ = check(&format!("HTTPS://VERIFY.HYBRIDPOST.GO.TH/V#{tail}"));
        let _ = check(&format!("HP1:{tail}"));
    }

    #[test]
    fn arbitrary_base32_fragments_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = check(&format!("https://h/v#{}", base32_encode(&bytes)));
        let _ = check(&format!("HP1:{}", base45_encode(&bytes)));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        prop_assert!(!check_bytes(bytes).is_genuine());
    }

    #[test]
    fn mutated_genuine_seals_never_panic_and_never_verify(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let f = fixture();
        let mut bytes = f.seal_bytes.clone();
        for (index, value) in edits {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        // A later edit can put back what an earlier one changed: only a seal that differs from
        // the genuine one must fail.
        let changed = bytes != f.seal_bytes;
        let verdict = check_bytes(bytes);
        prop_assert!(!changed || !verdict.is_genuine(), "{verdict:?}");
    }

    #[test]
    fn truncated_or_extended_qr_texts_never_panic(cut in 0usize..400, extra in "[A-Z2-7]{0,20}") {
        let f = fixture();
        let end = cut.min(f.text.len());
        let _ = check(&f.text[..end]);
        let _ = check(&format!("{}{extra}", f.text));
        let _ = f.key.id();
    }

    #[test]
    fn arbitrary_payload_cbor_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SealPayload::from_cbor(&bytes);
    }

    #[test]
    fn arbitrary_trust_list_json_never_panics(text in any::<String>()) {
        let _ = TrustList::from_signed_json(&text, &[]);
    }
}

fn reply_key() -> ReplyKey {
    ReplyKey::from_bytes(b"never-panics reply code secret!!").expect("32 bytes")
}

proptest! {
    #[test]
    fn arbitrary_reply_code_texts_never_panic(text in any::<String>()) {
        let _ = ReplyCode::parse(&text, &reply_key());
        let _ = Reference::parse_digits(&text);
    }

    #[test]
    fn arbitrary_base32_after_the_reply_prefix_never_panics_and_never_verifies(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let text = format!("{REPLY_CODE_PREFIX}{}", base32_encode(&bytes));
        prop_assert!(matches!(
            ReplyCode::parse(&text, &reply_key()),
            Err(ReplyCodeError::Malformed(_) | ReplyCodeError::BadMac)
        ));
    }

    #[test]
    fn arbitrary_digit_strings_never_panic(text in "[0-9๐-๙ -]{0,80}") {
        let _ = Reference::parse_digits(&text);
    }
}
