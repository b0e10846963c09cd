//! Dates in the Buddhist era (พุทธศักราช) as written in Thai official correspondence.

use time::{Date, Month};

/// Years between the Common Era and the Thai Buddhist era: BE = CE + 543.
///
/// Thailand has started its year on 1 January since 1941 (BE 2484), so the offset is
/// the same for the whole year. Dates before 1941, when the year began on 1 April, are
/// converted with the same offset and are not historically adjusted.
pub const BUDDHIST_ERA_OFFSET: i32 = 543;

/// Full Thai month names, January first.
const MONTHS: [&str; 12] = [
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
];

/// Standard abbreviated Thai month names, January first.
const MONTH_ABBREVIATIONS: [&str; 12] =
    ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."];

/// Zero-based index of `month` into the month tables.
fn month_index(month: Month) -> usize {
    usize::from(u8::from(month)) - 1
}

/// The Buddhist-era year of `date` (2026 CE → 2569 BE).
pub fn buddhist_year(date: Date) -> i32 {
    date.year() + BUDDHIST_ERA_OFFSET
}

/// The full Thai name of `month` (`Month::November` → `"พฤศจิกายน"`).
pub fn thai_month_name(month: Month) -> &'static str {
    MONTHS[month_index(month)]
}

/// The standard Thai abbreviation of `month` (`Month::November` → `"พ.ย."`).
pub fn thai_month_abbreviation(month: Month) -> &'static str {
    MONTH_ABBREVIATIONS[month_index(month)]
}

/// The date as written in the date line of an official letter: day, full month name,
/// Buddhist-era year, e.g. `"22 พฤศจิกายน 2569"`.
///
/// Digits are ASCII; pass the result through [`crate::to_thai_digits`] for Thai digits.
pub fn format_thai_date(date: Date) -> String {
    format!("{} {} {}", date.day(), thai_month_name(date.month()), buddhist_year(date))
}

/// The short form: day, abbreviated month, last two digits of the Buddhist-era year,
/// e.g. `"22 พ.ย. 69"`.
///
/// Digits are ASCII; pass the result through [`crate::to_thai_digits`] for Thai digits.
pub fn format_thai_date_short(date: Date) -> String {
    format!("{} {} {:02}", date.day(), thai_month_abbreviation(date.month()), buddhist_year(date).rem_euclid(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_thai_digits;
    use time::macros::date;

    #[test]
    fn full_date_uses_the_full_month_name_and_buddhist_year() {
        assert_eq!(format_thai_date(date!(2026 - 11 - 22)), "22 พฤศจิกายน 2569");
    }

    #[test]
    fn short_date_uses_the_abbreviation_and_two_digit_year() {
        assert_eq!(format_thai_date_short(date!(2026 - 11 - 22)), "22 พ.ย. 69");
    }

    #[test]
    fn day_of_month_is_not_zero_padded() {
        assert_eq!(format_thai_date(date!(2027 - 01 - 05)), "5 มกราคม 2570");
        assert_eq!(format_thai_date_short(date!(2027 - 01 - 05)), "5 ม.ค. 70");
    }

    #[test]
    fn short_year_keeps_a_leading_zero() {
        // 2057 CE is 2600 BE.
        assert_eq!(format_thai_date_short(date!(2057 - 03 - 01)), "1 มี.ค. 00");
        assert_eq!(format_thai_date_short(date!(2065 - 03 - 01)), "1 มี.ค. 08");
    }

    #[test]
    fn buddhist_year_is_common_era_plus_543() {
        assert_eq!(buddhist_year(date!(2026 - 01 - 01)), 2569);
        assert_eq!(buddhist_year(date!(2026 - 12 - 31)), 2569);
        assert_eq!(buddhist_year(date!(1941 - 01 - 01)), 2484);
    }

    #[test]
    fn every_month_has_a_name_and_an_abbreviation() {
        let months = [
            (Month::January, "มกราคม", "ม.ค."),
            (Month::February, "กุมภาพันธ์", "ก.พ."),
            (Month::March, "มีนาคม", "มี.ค."),
            (Month::April, "เมษายน", "เม.ย."),
            (Month::May, "พฤษภาคม", "พ.ค."),
            (Month::June, "มิถุนายน", "มิ.ย."),
            (Month::July, "กรกฎาคม", "ก.ค."),
            (Month::August, "สิงหาคม", "ส.ค."),
            (Month::September, "กันยายน", "ก.ย."),
            (Month::October, "ตุลาคม", "ต.ค."),
            (Month::November, "พฤศจิกายน", "พ.ย."),
            (Month::December, "ธันวาคม", "ธ.ค."),
        ];
        for (month, name, abbreviation) in months {
            assert_eq!(thai_month_name(month), name);
            assert_eq!(thai_month_abbreviation(month), abbreviation);
        }
    }

    #[test]
    fn dates_compose_with_thai_digits() {
        assert_eq!(to_thai_digits(&format_thai_date(date!(2026 - 11 - 22))), "๒๒ พฤศจิกายน ๒๕๖๙");
        assert_eq!(to_thai_digits(&format_thai_date_short(date!(2026 - 11 - 22))), "๒๒ พ.ย. ๖๙");
    }
}
