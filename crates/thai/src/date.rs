//! Dates in the Buddhist era (พุทธศักราช) as written in Thai official correspondence.

use time::{Date, Month, OffsetDateTime};

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

/// Bangkok's offset from UTC (Thailand keeps no summer time).
const BANGKOK: time::UtcOffset = time::macros::offset!(+7);

/// A moment as a Thai reader reads it: Bangkok time, full month name, Buddhist-era year and
/// `น.`, e.g. `"4 ธันวาคม 2569 เวลา 14:38 น."`.
pub fn format_thai_datetime(at: OffsetDateTime) -> String {
    let at = at.to_offset(BANGKOK);
    format!("{} เวลา {:02}:{:02} น.", format_thai_date(at.date()), at.hour(), at.minute())
}

/// A date as an English reader writes it: `"3 January 2027"` (Common Era).
pub fn format_english_date(date: Date) -> String {
    format!("{} {} {}", date.day(), date.month(), date.year())
}

/// A moment in English, in Bangkok time: `"4 December 2026 at 14:38 (Bangkok time)"`.
pub fn format_english_datetime(at: OffsetDateTime) -> String {
    let at = at.to_offset(BANGKOK);
    format!("{} at {:02}:{:02} (Bangkok time)", format_english_date(at.date()), at.hour(), at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_written_in_bangkok_time() {
        let at = time::macros::datetime!(2026-12-04 07:38:14.436 UTC);
        assert_eq!(format_thai_datetime(at), "4 ธันวาคม 2569 เวลา 14:38 น.");
        assert_eq!(format_english_datetime(at), "4 December 2026 at 14:38 (Bangkok time)");
        // 20:00 UTC on New Year's Eve is already the next day, and year, in Bangkok.
        let late = time::macros::datetime!(2026-12-31 20:00 UTC);
        assert_eq!(format_thai_datetime(late), "1 มกราคม 2570 เวลา 03:00 น.");
        assert_eq!(format_english_date(time::macros::date!(2027 - 01 - 03)), "3 January 2027");
    }
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
