#![allow(dead_code)]

use hybridpost_seal::*;

pub const HOST: &str = "verify.hybridpost.go.th";

pub fn d(y: i32, m: u32, day: u32) -> Date {
    Date::from_ymd(y, m, day).expect("valid test date")
}

pub fn key_valid_2026_2027() -> Validity {
    Validity { not_before: d(2026, 1, 1), not_after: d(2027, 12, 31) }
}

pub fn issuer_key() -> SigningKey {
    SigningKey::generate("MDES01", key_valid_2026_2027()).expect("key generation")
}

pub fn realistic_payload() -> SealPayload {
    SealPayload {
        version: FORMAT_VERSION,
        issuer: "MDES01".into(),
        reference: Reference::generate(),
        issue_date: d(2026, 3, 1),
        document_type: DocumentType::Notice,
        reply_by: Some(d(2026, 4, 15)),
        digest: ContentDigest::of(b"%PDF-1.7 rendered letter"),
        expires: d(2036, 3, 1),
    }
}

pub fn trust_list_with(keys: &[&SigningKey]) -> TrustList {
    TrustList {
        sequence: 1,
        issued: d(2026, 1, 1),
        next_update: Some(d(2026, 2, 1)),
        keys: keys.iter().map(|k| k.trusted_key()).collect(),
    }
}

pub fn today() -> Date {
    d(2026, 3, 10)
}
