//! Thai text rules for hybridpost: where a line of Thai (or mixed Thai/Latin) text may
//! break, Buddhist-era dates as printed on official letters, and Thai digits.
//!
//! This crate owns the language rules only. It does no I/O and knows nothing of fonts,
//! glyphs or PDF; `hybridpost-render` measures and places the text.

#![forbid(unsafe_code)]

mod date;
mod digits;
mod linebreak;

pub use date::{
    BUDDHIST_ERA_OFFSET, buddhist_year, format_english_date, format_english_datetime, format_thai_date,
    format_thai_date_short, format_thai_datetime, thai_month_abbreviation, thai_month_name,
};
pub use digits::{digits_for_print, to_arabic_digits, to_thai_digits};
pub use linebreak::{BreakKind, BreakOpportunity, break_opportunities};
