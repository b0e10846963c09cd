//! Reply codes: the short code printed on every page of a reply sheet, and the letter
//! reference in digits for manual entry.
//!
//! A reply code is not a seal. It proves nothing to the citizen; it lets the intake scanner
//! tell which letter and which page of its reply sheet a scanned page is, and that the page was
//! printed by hybridpost and not made up. It holds the letter's [`Reference`], the page number
//! and the number of reply pages, and an HMAC-SHA256 (RFC 2104, FIPS 198-1) under a server
//! secret, truncated to [`MAC_LEN`] bytes (NIST SP 800-107 §5.3.3 allows truncation; 80 bits
//! make a forged page a 1 in 2^80 guess, and the scanner refuses it without asking anyone).
//!
//! The text is `HPR1` followed by unpadded RFC 4648 base32 of
//! `page ‖ pages ‖ reference ‖ mac`, so it stays in the QR alphanumeric set (ISO/IEC 18004
//! §7.4.4) and fits QR version 4 (33 × 33 modules) at error correction level H for every
//! reference length the seal allows: 12-byte references give 43 characters, 16-byte ones 49;
//! version 4-H holds 50.
//!
//! The digits form of a reference ([`Reference::to_digits`]) is the reference as a decimal
//! number with a Damm check digit, in groups of five: an operator types it in the review queue
//! when a page's codes are unreadable. The Damm check digit catches every single wrong digit
//! and every swap of two neighbouring digits.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{base32_decode, base32_encode};
use crate::payload::{MAX_REFERENCE_LEN, MIN_REFERENCE_LEN, Reference};
use crate::qr::{ErrorCorrection, QrError, QrMatrix, alphanumeric_qr_matrix};

/// The start of every reply code text; the digit is the format version.
pub const REPLY_CODE_PREFIX: &str = "HPR1";

/// Bytes of the truncated HMAC-SHA256 in a reply code.
pub const MAC_LEN: usize = 10;

/// Shortest accepted reply-code secret, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// The error correction level of reply codes.
pub const REPLY_CODE_EC: ErrorCorrection = ErrorCorrection::H;

/// Longest reply code text (a 16-byte reference), so callers can bound their input.
pub const MAX_REPLY_CODE_LEN: usize = REPLY_CODE_PREFIX.len() + (2 + MAX_REFERENCE_LEN + MAC_LEN) * 8 / 5 + 1;

/// Domain separation of the MAC input, so the key cannot be used to forge anything but reply
/// codes of this format.
const MAC_CONTEXT: &[u8] = b"hybridpost reply code HPR1\0";

/// The server secret under which reply codes are authenticated.
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct ReplyKey(Zeroizing<Vec<u8>>);

impl ReplyKey {
    /// Wraps a secret of at least [`MIN_KEY_LEN`] bytes; `None` if it is shorter.
    pub fn from_bytes(secret: &[u8]) -> Option<Self> {
        (secret.len() >= MIN_KEY_LEN).then(|| ReplyKey(Zeroizing::new(secret.to_vec())))
    }

    /// A fresh 32-byte secret from the operating system's random source.
    pub fn generate() -> Self {
        use rand_core::{OsRng, RngCore};
        let mut secret = Zeroizing::new(vec![0u8; 32]);
        OsRng.fill_bytes(&mut secret);
        ReplyKey(secret)
    }

    fn mac(&self, page: u8, pages: u8, reference: &Reference) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(MAC_CONTEXT);
        mac.update(&[page, pages]);
        mac.update(reference.as_bytes());
        mac
    }
}

impl core::fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ReplyKey(..)")
    }
}

/// Which letter and which page of its reply sheet a printed page is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyCode {
    reference: Reference,
    page: u8,
    pages: u8,
}

/// Why a reply code was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyCodeError {
    /// The text does not start with `HPR1`: it is not a hybridpost reply code (a seal, another
    /// barcode on the page, or a newer format).
    #[error("not a reply code: it does not start with {REPLY_CODE_PREFIX}")]
    WrongPrefix,
    /// The text starts like a reply code but is not one: bad characters, wrong length, or
    /// impossible page numbers.
    #[error("malformed reply code: {0}")]
    Malformed(&'static str),
    /// The code is well formed but its MAC does not match: a forged or altered code, or one
    /// made under another key.
    #[error("reply code rejected: its authentication code does not match")]
    BadMac,
    /// A page number outside `1..=pages`, or no pages.
    #[error("page {page} of {pages} is not a reply page; pages are numbered from 1")]
    InvalidPage {
        /// The page asked for.
        page: u8,
        /// The number of reply pages.
        pages: u8,
    },
}

impl ReplyCode {
    /// The code of reply page `page` (1-based) of `pages` for the letter `reference`.
    pub fn new(reference: Reference, page: u8, pages: u8) -> Result<Self, ReplyCodeError> {
        if page == 0 || page > pages {
            return Err(ReplyCodeError::InvalidPage { page, pages });
        }
        Ok(ReplyCode { reference, page, pages })
    }

    /// The letter's reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The page number, from 1.
    pub fn page(&self) -> u8 {
        self.page
    }

    /// The number of reply pages of the letter.
    pub fn pages(&self) -> u8 {
        self.pages
    }

    /// The text printed in the QR code: `HPR1` and base32 of page, pages, reference and MAC.
    pub fn to_text(&self, key: &ReplyKey) -> String {
        let tag = key.mac(self.page, self.pages, &self.reference).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(2 + self.reference.as_bytes().len() + MAC_LEN);
        bytes.extend_from_slice(&[self.page, self.pages]);
        bytes.extend_from_slice(self.reference.as_bytes());
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        format!("{REPLY_CODE_PREFIX}{}", base32_encode(&bytes))
    }

    /// Reads a scanned reply code and checks its MAC under `key`. Never panics.
    pub fn parse(text: &str, key: &ReplyKey) -> Result<ReplyCode, ReplyCodeError> {
        let body = text
            .get(..REPLY_CODE_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(REPLY_CODE_PREFIX))
            .and_then(|_| text.get(REPLY_CODE_PREFIX.len()..))
            .ok_or(ReplyCodeError::WrongPrefix)?;
        if body.len() > MAX_REPLY_CODE_LEN {
            return Err(ReplyCodeError::Malformed("too long"));
        }
        let bytes = base32_decode(body).map_err(|_| ReplyCodeError::Malformed("not base32"))?;
        let reference_len = bytes.len().checked_sub(2 + MAC_LEN).ok_or(ReplyCodeError::Malformed("too short"))?;
        if !(MIN_REFERENCE_LEN..=MAX_REFERENCE_LEN).contains(&reference_len) {
            return Err(ReplyCodeError::Malformed("the reference has an impossible length"));
        }
        let (page, pages) = (bytes[0], bytes[1]);
        let reference = Reference::from_bytes(&bytes[2..2 + reference_len])
            .ok_or(ReplyCodeError::Malformed("the reference has an impossible length"))?;
        key.mac(page, pages, &reference)
            .verify_truncated_left(&bytes[2 + reference_len..])
            .map_err(|_| ReplyCodeError::BadMac)?;
        if page == 0 || page > pages {
            return Err(ReplyCodeError::Malformed("the page number is outside the reply sheet"));
        }
        Ok(ReplyCode { reference, page, pages })
    }

    /// The QR symbol of this code at error correction level H, one alphanumeric segment.
    pub fn qr_matrix(&self, key: &ReplyKey) -> Result<QrMatrix, QrError> {
        alphanumeric_qr_matrix(&self.to_text(key), REPLY_CODE_EC)
    }
}

/// Why a typed reference in digits was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceDigitsError {
    /// A character other than a digit (Thai or Arabic), space or `-`.
    #[error("a reference number has only digits, spaces and dashes")]
    NotADigit,
    /// A number of digits that no reference has.
    #[error("{digits} digits is not the length of a reference number (a 12-byte reference has 30)")]
    WrongLength {
        /// Digits given, check digit included.
        digits: usize,
    },
    /// The check digit does not match: a digit was mistyped or two were swapped.
    #[error("the check digit does not match: a digit is mistyped or two are swapped")]
    WrongCheckDigit,
    /// The number is too large for a reference of its length.
    #[error("the number is too large for a reference")]
    OutOfRange,
}

/// Decimal digits needed for a reference of `len` bytes: the digits of 2^(8·len) − 1.
fn digits_for(len: usize) -> usize {
    let max = if len >= 16 { u128::MAX } else { (1u128 << (8 * len)) - 1 };
    max.to_string().len()
}

/// The Damm algorithm's quasigroup table (H. M. Damm, 2004): totally anti-symmetric, so every
/// single-digit error and every adjacent transposition changes the check digit.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm interim digit of `digits` (0 for a valid number whose last digit is its check).
fn damm(digits: &[u8]) -> u8 {
    digits.iter().fold(0, |interim, &d| DAMM[usize::from(interim)][usize::from(d)])
}

impl Reference {
    /// The reference as a decimal number with a Damm check digit, in groups of five digits
    /// separated by spaces: 30 digits for a 12-byte reference. Operators type it from a
    /// reply page whose codes cannot be read.
    pub fn to_digits(&self) -> String {
        let value = self.as_bytes().iter().fold(0u128, |v, &b| (v << 8) | u128::from(b));
        let mut digits: Vec<u8> =
            format!("{value:0width$}", width = digits_for(self.as_bytes().len())).bytes().map(|b| b - b'0').collect();
        digits.push(damm(&digits));
        let mut out = String::with_capacity(digits.len() * 6 / 5);
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                out.push(' ');
            }
            out.push(char::from(b'0' + d));
        }
        out
    }

    /// Parses the digits form, ignoring spaces and `-` and reading Thai digits (๐–๙) as
    /// digits. Refuses a wrong check digit. Never panics.
    pub fn parse_digits(text: &str) -> Result<Reference, ReferenceDigitsError> {
        let mut digits = Vec::new();
        for c in text.chars() {
            match c {
                ' ' | '-' => {}
                '0'..='9' => digits.push(c as u8 - b'0'),
                '๐'..='๙' => digits.push((u32::from(c) - u32::from('๐')) as u8),
                _ => return Err(ReferenceDigitsError::NotADigit),
            }
            if digits.len() > 64 {
                return Err(ReferenceDigitsError::WrongLength { digits: digits.len() });
            }
        }
        let len = (MIN_REFERENCE_LEN..=MAX_REFERENCE_LEN)
            .find(|&len| digits_for(len) + 1 == digits.len())
            .ok_or(ReferenceDigitsError::WrongLength { digits: digits.len() })?;
        if damm(&digits) != 0 {
            return Err(ReferenceDigitsError::WrongCheckDigit);
        }
        let mut value: u128 = 0;
        for &d in &digits[..digits.len() - 1] {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(d)))
                .ok_or(ReferenceDigitsError::OutOfRange)?;
        }
        if len < 16 && value >> (8 * len) != 0 {
            return Err(ReferenceDigitsError::OutOfRange);
        }
        let bytes = value.to_be_bytes();
        Reference::from_bytes(&bytes[16 - len..]).ok_or(ReferenceDigitsError::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReplyKey {
        ReplyKey::from_bytes(b"a test secret of 32 bytes length").expect("long enough")
    }

    fn reference() -> Reference {
        Reference::from_bytes(&[0xA5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xFF]).expect("12 bytes")
    }

    #[test]
    fn a_reply_code_round_trips_through_its_text() {
        let code = ReplyCode::new(reference(), 2, 3).expect("page 2 of 3");
        let text = code.to_text(&key());
        assert!(text.starts_with("HPR1"));
        assert_eq!(text.len(), 43);
        assert!(text.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(ReplyCode::parse(&text, &key()), Ok(code));
    }

    #[test]
    fn a_code_under_another_key_is_refused_as_bad_mac() {
        let text = ReplyCode::new(reference(), 1, 1).expect("page 1").to_text(&key());
        let other = ReplyKey::from_bytes(b"another secret of 32 bytes long!").expect("long enough");
        assert_eq!(ReplyCode::parse(&text, &other), Err(ReplyCodeError::BadMac));
    }

    #[test]
    fn a_changed_page_number_is_refused_as_bad_mac() {
        let code = ReplyCode::new(reference(), 1, 2).expect("page 1 of 2");
        let mut bytes = base32_decode(&code.to_text(&key())[4..]).expect("base32");
        bytes[0] = 2;
        let forged = format!("HPR1{}", base32_encode(&bytes));
        assert_eq!(ReplyCode::parse(&forged, &key()), Err(ReplyCodeError::BadMac));
    }

    #[test]
    fn other_texts_are_told_apart() {
        assert_eq!(ReplyCode::parse("HTTPS://HP.GO.TH/V#ABC", &key()), Err(ReplyCodeError::WrongPrefix));
        assert_eq!(ReplyCode::parse("HPR", &key()), Err(ReplyCodeError::WrongPrefix));
        assert_eq!(ReplyCode::parse("ก", &key()), Err(ReplyCodeError::WrongPrefix));
        assert!(matches!(ReplyCode::parse("HPR1ABC!", &key()), Err(ReplyCodeError::Malformed(_))));
        assert!(matches!(ReplyCode::parse("HPR1AAAA", &key()), Err(ReplyCodeError::Malformed(_))));
        assert!(matches!(ReplyCode::parse("HPR1", &key()), Err(ReplyCodeError::Malformed(_))));
    }

    #[test]
    fn page_numbers_start_at_one_and_stay_within_the_sheet() {
        assert_eq!(ReplyCode::new(reference(), 0, 1), Err(ReplyCodeError::InvalidPage { page: 0, pages: 1 }));
        assert_eq!(ReplyCode::new(reference(), 3, 2), Err(ReplyCodeError::InvalidPage { page: 3, pages: 2 }));
    }

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert!(ReplyKey::from_bytes(b"short").is_none());
        assert_eq!(format!("{:?}", key()), "ReplyKey(..)");
    }

    #[test]
    fn every_reference_length_fits_qr_version_4_at_level_h() {
        for len in MIN_REFERENCE_LEN..=MAX_REFERENCE_LEN {
            let reference = Reference::from_bytes(&vec![0xFF; len]).expect("valid length");
            let code = ReplyCode::new(reference, 255, 255).expect("page 255");
            let text = code.to_text(&key());
            assert!(text.len() <= MAX_REPLY_CODE_LEN, "{len}: {text}");
            let matrix = code.qr_matrix(&key()).expect("encodes");
            assert!(matrix.version <= 4, "{len} bytes: version {}", matrix.version);
        }
    }

    #[test]
    fn reference_digits_round_trip_for_every_length() {
        for len in MIN_REFERENCE_LEN..=MAX_REFERENCE_LEN {
            for fill in [0x00, 0x5A, 0xFF] {
                let reference = Reference::from_bytes(&vec![fill; len]).expect("valid length");
                let digits = reference.to_digits();
                assert_eq!(Reference::parse_digits(&digits), Ok(reference.clone()), "{digits}");
            }
        }
        let digits = reference().to_digits();
        assert_eq!(digits.chars().filter(char::is_ascii_digit).count(), 30);
        assert_eq!(digits.split(' ').count(), 6);
        let thai = hybridpost_thai_digits(&digits);
        assert_eq!(Reference::parse_digits(&thai), Ok(reference()));
    }

    fn hybridpost_thai_digits(text: &str) -> String {
        text.chars()
            .map(|c| c.to_digit(10).map_or(c, |d| char::from_u32(u32::from('๐') + d).expect("Thai digit")))
            .collect()
    }

    #[test]
    fn a_mistyped_or_swapped_digit_is_caught() {
        let digits: Vec<char> = reference().to_digits().chars().filter(char::is_ascii_digit).collect();
        for i in 0..digits.len() {
            for replacement in '0'..='9' {
                if replacement == digits[i] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[i] = replacement;
                let typo: String = typo.into_iter().collect();
                assert!(Reference::parse_digits(&typo).is_err(), "{typo} accepted");
            }
            if i + 1 < digits.len() && digits[i] != digits[i + 1] {
                let mut swapped = digits.clone();
                swapped.swap(i, i + 1);
                let swapped: String = swapped.into_iter().collect();
                assert!(Reference::parse_digits(&swapped).is_err(), "{swapped} accepted");
            }
        }
        assert_eq!(Reference::parse_digits("12a4"), Err(ReferenceDigitsError::NotADigit));
        assert_eq!(Reference::parse_digits("1234"), Err(ReferenceDigitsError::WrongLength { digits: 4 }));
    }
}
