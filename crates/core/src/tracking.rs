//! Postal item tracking numbers in the UPU S10 form: two letters for the service, eight
//! digits of serial number, one check digit, and the two-letter ISO country code of the issuing
//! postal operator (`RB123456785TH`).

use std::fmt;
use std::str::FromStr;

/// A checked S10 tracking number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackingNumber(String);

/// Why a tracking number was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    /// Not 13 characters of the form `AA00000000CAA`.
    #[error("“{0}” is not a tracking number of the form RB123456785TH (2 letters, 9 digits, 2 letters)")]
    Form(String),
    /// The ninth digit does not match the serial.
    #[error("“{number}” has check digit {found}, but its serial number gives {expected}")]
    CheckDigit {
        /// The number as given.
        number: String,
        /// The check digit printed.
        found: u32,
        /// The check digit the serial gives.
        expected: u32,
    },
}

/// The S10 check digit of an eight-digit serial number (UPU S10 §5.1: weights 8 6 4 2 3 5 9 7,
/// 11 minus the sum mod 11, with 10 → 0 and 11 → 5).
pub fn check_digit(serial: u32) -> u32 {
    const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let digits = format!("{serial:08}");
    let sum: u32 = digits.bytes().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c,
    }
}

impl TrackingNumber {
    /// Parses and checks a tracking number; spaces are ignored and letters upper-cased.
    pub fn parse(text: &str) -> Result<TrackingNumber, TrackingError> {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let b = cleaned.as_bytes();
        let form_ok = b.len() == 13
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..11].iter().all(u8::is_ascii_digit)
            && b[11..].iter().all(u8::is_ascii_uppercase);
        if !form_ok {
            return Err(TrackingError::Form(text.to_owned()));
        }
        let serial: u32 = cleaned[2..10].parse().map_err(|_| TrackingError::Form(text.to_owned()))?;
        let found = u32::from(b[10] - b'0');
        let expected = check_digit(serial);
        if found != expected {
            return Err(TrackingError::CheckDigit { number: cleaned, found, expected });
        }
        Ok(TrackingNumber(cleaned))
    }

    /// The number with the given service indicator, serial and country.
    pub fn new(service: &str, serial: u32, country: &str) -> Result<TrackingNumber, TrackingError> {
        if serial > 99_999_999 {
            return Err(TrackingError::Form(format!("{service}{serial}{country}")));
        }
        TrackingNumber::parse(&format!("{service}{serial:08}{}{country}", check_digit(serial)))
    }

    /// The next number in a roll of labels: the serial plus `n`, same service and country.
    pub fn advance(&self, n: u32) -> Result<TrackingNumber, TrackingError> {
        let serial: u32 = self.0[2..10].parse().map_err(|_| TrackingError::Form(self.0.clone()))?;
        let next = serial.checked_add(n).ok_or_else(|| TrackingError::Form(self.0.clone()))?;
        TrackingNumber::new(&self.0[..2], next, &self.0[11..])
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TrackingNumber {
    type Err = TrackingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrackingNumber::parse(s)
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upu_example_and_known_numbers_check() {
        // 4·8 + 7·6 + 3·4 + 1·2 + 2·3 + 4·5 + 8·9 + 2·7 = 200; 200 mod 11 = 2; 11 − 2 = 9.
        assert_eq!(check_digit(47_312_482), 9);
        // 1·8 + 2·6 + 3·4 + 4·2 + 5·3 + 6·5 + 7·9 + 8·7 = 204; 204 mod 11 = 6; 11 − 6 = 5.
        assert_eq!(check_digit(12_345_678), 5);
        assert_eq!(TrackingNumber::parse("RB123456785TH").unwrap().as_str(), "RB123456785TH");
        assert_eq!(TrackingNumber::parse(" ee 473124829 th ").unwrap().as_str(), "EE473124829TH");
    }

    #[test]
    fn the_special_remainders_map_to_0_and_5() {
        // Find serials whose raw check value is 10 and 11, and see them mapped.
        let ten = (0..1000).find(|&s| {
            let d = format!("{s:08}");
            let sum: u32 = d.bytes().zip([8, 6, 4, 2, 3, 5, 9, 7]).map(|(c, w)| u32::from(c - b'0') * w).sum();
            sum % 11 == 1
        });
        let eleven = (0..1000).find(|&s| {
            let d = format!("{s:08}");
            let sum: u32 = d.bytes().zip([8, 6, 4, 2, 3, 5, 9, 7]).map(|(c, w)| u32::from(c - b'0') * w).sum();
            sum.is_multiple_of(11)
        });
        assert_eq!(check_digit(ten.unwrap()), 0);
        assert_eq!(check_digit(eleven.unwrap()), 5);
    }

    #[test]
    fn wrong_check_digits_and_forms_are_refused_with_the_reason() {
        assert_eq!(
            TrackingNumber::parse("RB123456784TH").unwrap_err(),
            TrackingError::CheckDigit { number: "RB123456784TH".into(), found: 4, expected: 5 }
        );
        for bad in ["", "RB12345678TH", "R1123456785TH", "RB123456785T1", "RB1234567855TH", "RBxxxxxxxx5TH"] {
            assert!(matches!(TrackingNumber::parse(bad), Err(TrackingError::Form(_))), "{bad}");
        }
    }

    #[test]
    fn a_roll_of_labels_advances_with_fresh_check_digits() {
        let first = TrackingNumber::parse("RB123456785TH").unwrap();
        let next = first.advance(1).unwrap();
        assert_eq!(next.as_str(), format!("RB12345679{}TH", check_digit(12_345_679)));
        assert!(TrackingNumber::parse(next.as_str()).is_ok());
        assert!(TrackingNumber::new("RB", 99_999_999, "TH").unwrap().advance(1).is_err());
    }
}
