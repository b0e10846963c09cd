//! A real verification seal and real reply codes for the letter tests and the example: a key
//! generated on the spot signs the seal, a fixed secret authenticates the reply codes.

use hybridpost_render::{QrModules, ReplySheet};
use hybridpost_seal::{
    ContentDigest, Date as SealDate, DocumentType, FORMAT_VERSION, QrMatrix, Reference, ReplyCode, ReplyKey, Seal,
    SealPayload, SigningKey, Validity, qr_matrix,
};

/// Host printed under the seal and put in its URL.
pub const HOST: &str = "HP.GO.TH";

/// The reference of the sample letter: fixed so its digits can be checked.
pub fn reference() -> Reference {
    Reference::from_bytes(&[0x4E, 0x91, 0x07, 0xC3, 0x22, 0xA8, 0x5D, 0x10, 0xF6, 0x3B, 0x88, 0x01]).expect("12 bytes")
}

/// The secret under which the sample's reply codes are made.
pub fn reply_key() -> ReplyKey {
    ReplyKey::from_bytes(b"sample reply-code secret 32 byte").expect("32 bytes")
}

/// A QR matrix as the renderer takes it.
pub fn modules(matrix: QrMatrix) -> QrModules {
    QrModules::new(matrix.width, matrix.modules).expect("a QR symbol is square")
}

/// The seal's QR text: a seal over the sample letter signed by a freshly generated key.
pub fn seal_text() -> String {
    let day = |y, m, d| SealDate::from_ymd(y, m, d).expect("valid date");
    let key = SigningKey::generate("BKK-PT", Validity { not_before: day(2026, 1, 1), not_after: day(2027, 12, 31) })
        .expect("key generation");
    let payload = SealPayload {
        version: FORMAT_VERSION,
        issuer: "BKK-PT".into(),
        reference: reference(),
        issue_date: day(2026, 11, 22),
        document_type: DocumentType::Decision,
        reply_by: Some(day(2027, 1, 31)),
        digest: ContentDigest::of(b"the letter's text"),
        expires: day(2036, 11, 22),
    };
    Seal::sign(&payload, &key).expect("sign").to_qr_text(HOST)
}

/// The seal's QR symbol.
pub fn seal_modules(text: &str) -> QrModules {
    modules(qr_matrix(text).expect("the seal fits a QR code"))
}

/// The reply code texts of a reply sheet of `pages` pages.
pub fn reply_texts(pages: u8) -> Vec<String> {
    (1..=pages)
        .map(|page| ReplyCode::new(reference(), page, pages).expect("valid page").to_text(&reply_key()))
        .collect()
}

/// A reply sheet of `pages` pages with real reply codes.
pub fn reply_sheet(pages: u8, deadline: time::Date) -> ReplySheet {
    let codes = (1..=pages)
        .map(|page| {
            let code = ReplyCode::new(reference(), page, pages).expect("valid page");
            modules(code.qr_matrix(&reply_key()).expect("a reply code fits a QR code"))
        })
        .collect();
    ReplySheet { pages: codes, reference_digits: reference().to_digits(), deadline }
}
