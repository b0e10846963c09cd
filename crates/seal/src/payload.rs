//! The signed content of a seal and its compact CBOR form (RFC 8949) with small integer keys.
//!
//! The payload deliberately carries no national id and no name: anyone holding the letter can
//! read the QR code, so it only proves *that* an agency sent a letter with this content on this
//! date, and lets the holder compare the printed reference and digest.

use ciborium::Value;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::encoding::{base32_decode, base32_encode};

/// The payload format version written by this crate (CBOR key 1).
pub const FORMAT_VERSION: u8 = 1;

/// Shortest accepted letter reference in bytes: 80 bits keeps guessing a valid reference
/// infeasible even with billions of letters in circulation.
pub const MIN_REFERENCE_LEN: usize = 10;
/// Longest accepted letter reference in bytes.
pub const MAX_REFERENCE_LEN: usize = 16;
/// Length of references made by [`Reference::generate`].
pub const DEFAULT_REFERENCE_LEN: usize = 12;
/// Longest accepted issuer code in bytes (UTF-8); agency codes are short ASCII strings.
pub const MAX_ISSUER_LEN: usize = 16;
/// Length of the truncated content digest in bytes.
pub const DIGEST_LEN: usize = 16;

// CBOR map keys of the payload. Small integers encode in one byte (RFC 8949 §3.1).
const KEY_VERSION: u64 = 1;
const KEY_ISSUER: u64 = 2;
const KEY_REFERENCE: u64 = 3;
const KEY_ISSUE_DATE: u64 = 4;
const KEY_DOCUMENT_TYPE: u64 = 5;
const KEY_REPLY_BY: u64 = 6;
const KEY_DIGEST: u64 = 7;
const KEY_EXPIRES: u64 = 8;

/// A calendar date, counted in days since 1970-01-01 (proleptic Gregorian).
///
/// Dates are Thai civil dates (Asia/Bangkok, UTC+07:00) chosen by the caller; the crate has no
/// clock. A day count encodes in 3 CBOR bytes where a timestamp needs 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(u32);

impl Date {
    /// Makes a date from its day number since 1970-01-01.
    pub const fn from_days(days: u32) -> Self {
        Date(days)
    }

    /// The day number since 1970-01-01.
    pub const fn days(self) -> u32 {
        self.0
    }

    /// Makes a date from a Gregorian year, month (1–12) and day; `None` if it does not exist or
    /// lies before 1970.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        // Days-from-civil (H. Hinnant's algorithm), valid for the whole proleptic calendar.
        let y = i64::from(year) - i64::from(month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u32::try_from(days).ok().map(Date)
    }

    /// The Gregorian (year, month, day) of this date.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        (year, month, day)
    }

    /// Parses an ISO 8601 calendar date `YYYY-MM-DD`.
    pub fn parse_iso(text: &str) -> Option<Self> {
        let mut parts = text.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::from_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }

    /// The date `days` later, or `None` on overflow.
    pub fn checked_add_days(self, days: u32) -> Option<Self> {
        self.0.checked_add(days).map(Date)
    }
}

impl core::fmt::Display for Date {
    /// Formats as ISO 8601 `YYYY-MM-DD`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The random letter reference, printed in text on the letter and carried in the seal.
///
/// It is random rather than sequential so that it reveals nothing about the recipient or the
/// agency's volume, and cannot be guessed to probe the withdrawal service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference(Vec<u8>);

impl Reference {
    /// Makes a fresh 12-byte (96-bit) reference from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; DEFAULT_REFERENCE_LEN];
        OsRng.fill_bytes(&mut bytes);
        Reference(bytes)
    }

    /// Wraps existing bytes; `None` unless the length is within 10..=16 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (MIN_REFERENCE_LEN..=MAX_REFERENCE_LEN).contains(&bytes.len()).then(|| Reference(bytes.to_vec()))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The human form: unpadded RFC 4648 base32 in groups of four joined by `-`,
    /// e.g. `K7QF-M2XA-…`. Base32 has no `0`/`1`/`8`/`9`, which avoids O/0 and I/1 confusion
    /// when a citizen types it from paper.
    pub fn to_human(&self) -> String {
        let plain = base32_encode(&self.0);
        let mut out = String::with_capacity(plain.len() + plain.len() / 4);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// Parses the human form, ignoring case, spaces and `-`, and reading `0` as `O`, `1` as `I`
    /// and `8` as `B` because people type what they see.
    pub fn parse_human(text: &str) -> Option<Self> {
        if text.len() > 64 {
            return None;
        }
        let cleaned: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                '0' => 'O',
                '1' => 'I',
                '8' => 'B',
                other => other,
            })
            .collect();
        Reference::from_bytes(&base32_decode(&cleaned).ok()?)
    }
}

impl core::fmt::Display for Reference {
    /// Formats as [`Reference::to_human`].
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_human())
    }
}

/// SHA-256 of the letter's rendered content, truncated to its first 16 bytes.
///
/// Why 16 bytes: a forger needs a *second preimage* for a digest the agency already signed,
/// which costs about 2^128 work for 128 bits. The 2^64 birthday bound only matters if the
/// attacker chooses both colliding documents *and* gets the agency to sign one, and letters are
/// rendered by the agency from its own templates. The 16 bytes saved shrink the QR code by
/// about 26 alphanumeric characters. Truncation of SHA-2 output is sanctioned by NIST SP 800-107.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentDigest(pub [u8; DIGEST_LEN]);

impl ContentDigest {
    /// Digests the rendered letter (for example the exact PDF bytes that were printed).
    pub fn of(rendered: &[u8]) -> Self {
        let full = Sha256::digest(rendered);
        let mut out = [0u8; DIGEST_LEN];
        out.copy_from_slice(&full[..DIGEST_LEN]);
        ContentDigest(out)
    }

    /// Lower-case hex, for display next to a re-rendered letter.
    pub fn to_hex(&self) -> String {
        crate::hex(&self.0)
    }
}

/// The kind of letter. Sensitive letters use [`DocumentType::Generic`] so that the seal does not
/// reveal, for instance, that a letter is a court summons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentType {
    /// No type disclosed.
    Generic,
    /// A general notice or information letter.
    Notice,
    /// A bill or demand for payment.
    Invoice,
    /// A decision on an application (permit, licence, benefit).
    Decision,
    /// A certificate or attestation.
    Certificate,
    /// A reminder of an earlier letter.
    Reminder,
}

impl DocumentType {
    /// The CBOR code of this type.
    pub fn code(self) -> u8 {
        match self {
            DocumentType::Generic => 0,
            DocumentType::Notice => 1,
            DocumentType::Invoice => 2,
            DocumentType::Decision => 3,
            DocumentType::Certificate => 4,
            DocumentType::Reminder => 5,
        }
    }

    /// The type for a CBOR code, `None` for codes this version does not know.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => DocumentType::Generic,
            1 => DocumentType::Notice,
            2 => DocumentType::Invoice,
            3 => DocumentType::Decision,
            4 => DocumentType::Certificate,
            5 => DocumentType::Reminder,
            _ => return None,
        })
    }
}

/// The signed content of a seal.
///
/// CBOR form (a map with integer keys, RFC 8949):
///
/// | key | field | CBOR type |
/// |---|---|---|
/// | 1 | `version` | uint, currently 1 |
/// | 2 | `issuer` | tstr, 1–16 bytes |
/// | 3 | `reference` | bstr, 10–16 bytes |
/// | 4 | `issue_date` | uint, days since 1970-01-01; doubles as the CWT `iat` claim (RFC 8392 §3.1.6) at day precision |
/// | 5 | `document_type` | uint, see [`DocumentType::code`] |
/// | 6 | `reply_by` | uint days, omitted when absent |
/// | 7 | `digest` | bstr, 16 bytes |
/// | 8 | `expires` | uint days; the seal's expiry, like the CWT `exp` claim (RFC 8392 §3.1.4) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealPayload {
    /// Format version, [`FORMAT_VERSION`].
    pub version: u8,
    /// The issuing agency's short code, e.g. `MDES01`; must match the signing key's issuer.
    pub issuer: String,
    /// The random letter reference also printed on the letter.
    pub reference: Reference,
    /// The date the letter was issued and sealed.
    pub issue_date: Date,
    /// The kind of letter.
    pub document_type: DocumentType,
    /// The date by which the citizen must reply, if any.
    pub reply_by: Option<Date>,
    /// Digest of the rendered letter.
    pub digest: ContentDigest,
    /// Last date on which the seal verifies as genuine.
    pub expires: Date,
}

/// Why bytes are not a valid payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PayloadError> {
    Err(PayloadError(msg.into()))
}

impl SealPayload {
    /// Checks the field constraints that the CBOR form relies on.
    pub fn validate(&self) -> Result<(), PayloadError> {
        if self.version != FORMAT_VERSION {
            return err(format!("unsupported version {}", self.version));
        }
        if self.issuer.is_empty() || self.issuer.len() > MAX_ISSUER_LEN {
            return err("issuer code must be 1-16 bytes");
        }
        if !(MIN_REFERENCE_LEN..=MAX_REFERENCE_LEN).contains(&self.reference.0.len()) {
            return err("reference must be 10-16 bytes");
        }
        if self.expires < self.issue_date {
            return err("expiry before issue date");
        }
        Ok(())
    }

    /// Encodes the payload as a CBOR map with integer keys in ascending order (the core
    /// deterministic ordering of RFC 8949 §4.2.1).
    pub fn to_cbor(&self) -> Result<Vec<u8>, PayloadError> {
        self.validate()?;
        let int = |v: u64| Value::Integer(v.into());
        let mut map = vec![
            (int(KEY_VERSION), int(u64::from(self.version))),
            (int(KEY_ISSUER), Value::Text(self.issuer.clone())),
            (int(KEY_REFERENCE), Value::Bytes(self.reference.0.clone())),
            (int(KEY_ISSUE_DATE), int(u64::from(self.issue_date.0))),
            (int(KEY_DOCUMENT_TYPE), int(u64::from(self.document_type.code()))),
        ];
        if let Some(reply_by) = self.reply_by {
            map.push((int(KEY_REPLY_BY), int(u64::from(reply_by.0))));
        }
        map.push((int(KEY_DIGEST), Value::Bytes(self.digest.0.to_vec())));
        map.push((int(KEY_EXPIRES), int(u64::from(self.expires.0))));
        let mut out = Vec::with_capacity(96);
        ciborium::into_writer(&Value::Map(map), &mut out).map_err(|e| PayloadError(format!("CBOR encoding: {e}")))?;
        Ok(out)
    }

    /// Decodes and validates a payload. Unknown or repeated keys, trailing bytes and wrong
    /// types are rejected: a strict reader leaves no room for two readings of one signature.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, PayloadError> {
        let mut reader = bytes;
        let value: Value = match ciborium::from_reader(&mut reader) {
            Ok(v) => v,
            Err(e) => return err(format!("payload is not CBOR: {e}")),
        };
        if !reader.is_empty() {
            return err("trailing bytes after payload");
        }
        let Value::Map(entries) = value else {
            return err("payload is not a CBOR map");
        };
        let mut fields: [Option<Value>; 8] = Default::default();
        for (k, v) in entries {
            let key = match k {
                Value::Integer(i) => i128::from(i),
                _ => return err("payload key is not an integer"),
            };
            let slot = usize::try_from(key - 1)
                .ok()
                .and_then(|i| fields.get_mut(i))
                .ok_or_else(|| PayloadError(format!("unknown payload key {key}")))?;
            if slot.replace(v).is_some() {
                return err(format!("repeated payload key {key}"));
            }
        }
        let [version, issuer, reference, issue_date, document_type, reply_by, digest, expires] = fields;
        let version = uint(version, "version")?;
        let version = u8::try_from(version).or_else(|_| err("version out of range"))?;
        let issuer = match issuer {
            Some(Value::Text(s)) => s,
            _ => return err("issuer missing or not text"),
        };
        let reference = match reference {
            Some(Value::Bytes(b)) => {
                Reference::from_bytes(&b).ok_or_else(|| PayloadError("bad reference length".into()))?
            }
            _ => return err("reference missing or not bytes"),
        };
        let issue_date = date(issue_date, "issue date")?;
        let code =
            u8::try_from(uint(document_type, "document type")?).or_else(|_| err("document type out of range"))?;
        let document_type =
            DocumentType::from_code(code).ok_or_else(|| PayloadError(format!("unknown document type {code}")))?;
        let reply_by = match reply_by {
            None => None,
            some => Some(date(some, "reply date")?),
        };
        let digest = match digest {
            Some(Value::Bytes(b)) => {
                ContentDigest(<[u8; DIGEST_LEN]>::try_from(b.as_slice()).or_else(|_| err("digest must be 16 bytes"))?)
            }
            _ => return err("digest missing or not bytes"),
        };
        let expires = date(expires, "expiry")?;
        let payload = SealPayload { version, issuer, reference, issue_date, document_type, reply_by, digest, expires };
        payload.validate()?;
        Ok(payload)
    }
}

fn uint(value: Option<Value>, what: &str) -> Result<u64, PayloadError> {
    match value {
        Some(Value::Integer(i)) => u64::try_from(i).or_else(|_| err(format!("{what} out of range"))),
        _ => err(format!("{what} missing or not an integer")),
    }
}

fn date(value: Option<Value>, what: &str) -> Result<Date, PayloadError> {
    let days = uint(value, what)?;
    u32::try_from(days).map(Date).or_else(|_| err(format!("{what} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SealPayload {
        SealPayload {
            version: FORMAT_VERSION,
            issuer: "MDES01".into(),
            reference: Reference::from_bytes(&[7; 12]).expect("12 bytes"),
            issue_date: Date::from_ymd(2026, 3, 1).expect("date"),
            document_type: DocumentType::Notice,
            reply_by: Date::from_ymd(2026, 4, 1),
            digest: ContentDigest::of(b"letter"),
            expires: Date::from_ymd(2036, 3, 1).expect("date"),
        }
    }

    #[test]
    fn payload_round_trips_through_cbor() {
        let p = sample();
        let bytes = p.to_cbor().expect("encodes");
        assert_eq!(SealPayload::from_cbor(&bytes).expect("decodes"), p);
        let mut q = p.clone();
        q.reply_by = None;
        assert_eq!(SealPayload::from_cbor(&q.to_cbor().expect("encodes")).expect("decodes"), q);
    }

    #[test]
    fn payload_with_trailing_byte_is_rejected() {
        let mut bytes = sample().to_cbor().expect("encodes");
        bytes.push(0);
        assert!(SealPayload::from_cbor(&bytes).is_err());
    }

    #[test]
    fn dates_convert_both_ways() {
        assert_eq!(Date::from_ymd(1970, 1, 1), Some(Date(0)));
        assert_eq!(Date::from_ymd(2000, 3, 1).map(Date::days), Some(11_017));
        assert_eq!(Date::from_ymd(2025, 2, 29), None);
        for days in (0..80_000).step_by(7) {
            let (y, m, d) = Date(days).ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(Date(days)));
        }
        assert_eq!(Date::parse_iso("2026-03-01").map(|d| d.to_string()), Some("2026-03-01".into()));
    }

    #[test]
    fn reference_human_form_round_trips_and_forgives_typing() {
        let r = Reference::generate();
        assert_eq!(r.as_bytes().len(), 12);
        let human = r.to_human();
        assert_eq!(human.len(), 20 + 4);
        assert_eq!(Reference::parse_human(&human), Some(r.clone()));
        assert_eq!(Reference::parse_human(&human.to_lowercase().replace('-', " ")), Some(r.clone()));
        let typed = human.replace('O', "0").replace('I', "1");
        assert_eq!(Reference::parse_human(&typed), Some(r));
    }
}
