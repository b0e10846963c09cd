//! Thai citizen identification numbers (เลขประจำตัวประชาชน): 13 digits, the last a check digit
//! computed modulo 11 over the first twelve with weights 13 down to 2, as the Department of
//! Provincial Administration issues them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 13-digit Thai citizen id whose check digit is right.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CitizenId([u8; 13]);

/// Why a text is not a citizen id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    /// Not 13 digits once spaces and dashes are removed.
    #[error("a citizen id has 13 digits, this has {0}")]
    Length(usize),
    /// A character other than a digit, space or dash.
    #[error("a citizen id holds only digits (spaces and dashes are ignored), found “{0}”")]
    NotADigit(char),
    /// The first digit is 0 or 9, which are never issued to persons.
    #[error("a citizen id starts with a digit from 1 to 8, this starts with {0}")]
    FirstDigit(u8),
    /// The 13th digit does not match the first twelve.
    #[error("the check digit is wrong: the first 12 digits give {expected}, the 13th is {found}")]
    CheckDigit {
        /// The check digit the first twelve digits call for.
        expected: u8,
        /// The check digit given.
        found: u8,
    },
}

impl CitizenId {
    /// Parses a citizen id written with or without the usual separators (`1-1017-00230-70-8`).
    pub fn parse(s: &str) -> Result<CitizenId, CitizenIdError> {
        let mut digits = Vec::with_capacity(13);
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                // Thai digits are written on paper forms too.
                '๐'..='๙' => digits.push((c as u32 - '๐' as u32) as u8),
                ' ' | '-' => {}
                other => return Err(CitizenIdError::NotADigit(other)),
            }
        }
        let digits: [u8; 13] = digits.as_slice().try_into().map_err(|_| CitizenIdError::Length(digits.len()))?;
        if digits[0] == 0 || digits[0] == 9 {
            return Err(CitizenIdError::FirstDigit(digits[0]));
        }
        let expected = check_digit(&digits[..12]);
        if expected != digits[12] {
            return Err(CitizenIdError::CheckDigit { expected, found: digits[12] });
        }
        Ok(CitizenId(digits))
    }

    /// The 13 digits without separators.
    pub fn digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// HMAC-SHA256 of the digits under a server-held key, hex: the registry of e-channels is
    /// keyed by this, so it holds no citizen ids, and without the key the 10¹² possible ids
    /// cannot be hashed through to find one.
    pub fn keyed_hash(&self, key: &[u8]) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(self.digits().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The id with its last four digits only, for showing back to a person (`xxxxxxxxx0708`).
    pub fn masked(&self) -> String {
        let digits = self.digits();
        format!("{}{}", "x".repeat(9), &digits[9..])
    }
}

/// The check digit for the first twelve digits: (11 - Σ dᵢ·(13-i) mod 11) mod 10.
pub fn check_digit(first_twelve: &[u8]) -> u8 {
    let sum: u32 = first_twelve.iter().enumerate().map(|(i, &d)| u32::from(d) * (13 - i as u32)).sum();
    ((11 - sum % 11) % 10) as u8
}

// Debug never prints the number: it is personal data and Debug ends up in logs.
impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CitizenId({})", self.masked())
    }
}

impl Serialize for CitizenId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.digits())
    }
}

impl<'de> Deserialize<'de> for CitizenId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        CitizenId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_valid_id_parses_with_or_without_separators() {
        let id = CitizenId::parse("1101700230708").unwrap();
        assert_eq!(id.digits(), "1101700230708");
        assert_eq!(CitizenId::parse("1-1017-00230-70-8").unwrap(), id);
        assert_eq!(CitizenId::parse("๑๑๐๑๗๐๐๒๓๐๗๐๘").unwrap(), id);
    }

    #[test]
    fn a_wrong_check_digit_is_rejected_and_named() {
        assert_eq!(CitizenId::parse("1101700230709"), Err(CitizenIdError::CheckDigit { expected: 8, found: 9 }));
    }

    #[test]
    fn wrong_lengths_and_characters_are_rejected() {
        assert_eq!(CitizenId::parse("110170023070"), Err(CitizenIdError::Length(12)));
        assert_eq!(CitizenId::parse("11017002307081"), Err(CitizenIdError::Length(14)));
        assert_eq!(CitizenId::parse("110170023070x"), Err(CitizenIdError::NotADigit('x')));
        assert_eq!(CitizenId::parse("0101700230708"), Err(CitizenIdError::FirstDigit(0)));
    }

    #[test]
    fn keyed_hashes_depend_on_the_key() {
        let id = CitizenId::parse("1101700230708").unwrap();
        assert_eq!(id.keyed_hash(b"k1"), id.keyed_hash(b"k1"));
        assert_ne!(id.keyed_hash(b"k1"), id.keyed_hash(b"k2"));
        assert_eq!(id.keyed_hash(b"k1").len(), 64);
    }

    #[test]
    fn debug_output_masks_the_number() {
        let id = CitizenId::parse("1101700230708").unwrap();
        let shown = format!("{id:?}");
        assert!(!shown.contains("110170023"), "{shown}");
        assert!(shown.ends_with("0708)"), "{shown}");
    }

    proptest! {
        #[test]
        fn every_twelve_digits_with_their_check_digit_parse(first in 1u8..=8, rest in proptest::collection::vec(0u8..=9, 11)) {
            let mut digits = vec![first];
            digits.extend(rest);
            let check = check_digit(&digits);
            let text: String = digits.iter().chain([check].iter()).map(|d| char::from(b'0' + d)).collect();
            prop_assert!(CitizenId::parse(&text).is_ok());
            // Any other last digit is refused.
            let wrong = (check + 1) % 10;
            let bad: String = digits.iter().chain([wrong].iter()).map(|d| char::from(b'0' + d)).collect();
            let refused = matches!(CitizenId::parse(&bad), Err(CitizenIdError::CheckDigit { .. }));
            prop_assert!(refused);
        }
    }
}
