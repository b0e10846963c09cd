//! Every error of the seal crate says the same words for each variant, and none reports an
//! underlying source (callers print the chain; a source would repeat the message).

use std::error::Error;

use hybridpost_seal::secrets::MIN_SECRET_LEN;

use hybridpost_seal::{
    DecodeError, KeyError, PayloadError, QrError, ReferenceDigitsError, ReplyCodeError, SealError, SecretError,
    TrustListError,
};

/// Each error, with the message it must print.
fn every_variant() -> Vec<(Box<dyn Error>, String)> {
    let cases: Vec<(Box<dyn Error>, &str)> = vec![
        (Box::new(DecodeError::InvalidCharacter(7)), "invalid character at position 7"),
        (Box::new(DecodeError::InvalidLength), "invalid length"),
        (Box::new(DecodeError::NonCanonical), "non-canonical encoding"),
        (Box::new(KeyError::Encoding("bad DER".into())), "key encoding: bad DER"),
        (Box::new(KeyError::InvalidParameters("issuer is empty".into())), "invalid key parameters: issuer is empty"),
        (Box::new(PayloadError("expiry before issue date".into())), "expiry before issue date"),
        (Box::new(QrError("data too long".into())), "QR encoding: data too long"),
        (Box::new(ReplyCodeError::WrongPrefix), "not a reply code: it does not start with HPR1"),
        (Box::new(ReplyCodeError::Malformed("wrong length")), "malformed reply code: wrong length"),
        (Box::new(ReplyCodeError::BadMac), "reply code rejected: its authentication code does not match"),
        (
            Box::new(ReplyCodeError::InvalidPage { page: 3, pages: 2 }),
            "page 3 of 2 is not a reply page; pages are numbered from 1",
        ),
        (Box::new(ReferenceDigitsError::NotADigit), "a reference number has only digits, spaces and dashes"),
        (
            Box::new(ReferenceDigitsError::WrongLength { digits: 29 }),
            "29 digits is not the length of a reference number (a 12-byte reference has 30)",
        ),
        (
            Box::new(ReferenceDigitsError::WrongCheckDigit),
            "the check digit does not match: a digit is mistyped or two are swapped",
        ),
        (Box::new(ReferenceDigitsError::OutOfRange), "the number is too large for a reference"),
        (Box::new(SealError::Payload(PayloadError("issuer is empty".into()))), "invalid payload: issuer is empty"),
        (Box::new(SealError::IssuerMismatch), "payload issuer differs from key issuer"),
        (Box::new(SealError::KeyNotValid), "issue date outside the key's validity"),
        (Box::new(SealError::TooLarge), "seal too large"),
        (Box::new(SealError::Encoding("CBOR".into())), "COSE encoding: CBOR"),
        (Box::new(SecretError::TooShort), "the service secret must be at least 32 bytes"),
        (
            Box::new(SecretError::Unwrap),
            "a stored private key does not unwrap: it was altered or wrapped under another secret",
        ),
        (Box::new(TrustListError::Malformed("no keys".into())), "malformed trust list: no keys"),
        (Box::new(TrustListError::UnsupportedAlgorithm), "trust list algorithm is not ES256"),
        (Box::new(TrustListError::UnknownRoot), "trust list signed by an unknown root key"),
        (Box::new(TrustListError::BadSignature), "trust list signature does not verify"),
        (Box::new(TrustListError::RootNotValid), "root key not valid on the trust list's issue date"),
    ];
    cases.into_iter().map(|(e, m)| (e, m.to_owned())).collect()
}

#[test]
fn every_error_variant_says_its_words_and_has_no_source() {
    assert_eq!(MIN_SECRET_LEN, 32, "the message above names 32 bytes");
    for (error, message) in every_variant() {
        assert_eq!(error.to_string(), message, "{error:?}");
        assert!(error.source().is_none(), "{error:?} reports a source");
    }
}
