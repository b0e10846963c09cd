//! Thai digits (U+0E50..U+0E59) and their conversion to and from ASCII digits.

/// Unicode offset from an ASCII digit to the Thai digit of the same value.
const THAI_ZERO: u32 = 0x0E50;

/// Replaces every ASCII digit `0`–`9` with the Thai digit of the same value
/// (`"2569"` → `"๒๕๖๙"`); every other character is kept as it is.
pub fn to_thai_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => {
                char::from_u32(THAI_ZERO + d).expect("U+0E50..U+0E59 are valid scalar values")
            }
            _ => c,
        })
        .collect()
}

/// Replaces every Thai digit `๐`–`๙` with the ASCII digit of the same value
/// (`"๒๕๖๙"` → `"2569"`); every other character is kept as it is.
pub fn to_arabic_digits(text: &str) -> String {
    text.chars()
        .map(|c| match u32::from(c).checked_sub(THAI_ZERO) {
            Some(d) if d <= 9 => char::from_digit(d, 10).expect("0..=9 is a decimal digit"),
            _ => c,
        })
        .collect()
}

/// `text` with its digits made Thai (`thai`) or Arabic, for a letter written in one kind of
/// digits throughout; e-mail addresses and web addresses keep theirs, since a reader types
/// them as printed.
pub fn digits_for_print(text: &str, thai: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, token) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = token.to_ascii_lowercase();
        if token.contains('@') || lower.contains("://") || lower.contains("www.") {
            out.push_str(token);
        } else if thai {
            out.push_str(&to_thai_digits(token));
        } else {
            out.push_str(&to_arabic_digits(token));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_change_their_digits_but_not_addresses_people_type() {
        let text = "โทร. 0 2123 4567 หรือ saraban2@example.go.th และ https://x.go.th/a1 ภายใน ๑๕ วัน";
        assert_eq!(
            digits_for_print(text, true),
            "โทร. ๐ ๒๑๒๓ ๔๕๖๗ หรือ saraban2@example.go.th และ https://x.go.th/a1 ภายใน ๑๕ วัน"
        );
        assert_eq!(
            digits_for_print(text, false),
            "โทร. 0 2123 4567 หรือ saraban2@example.go.th และ https://x.go.th/a1 ภายใน 15 วัน"
        );
    }

    #[test]
    fn ascii_digits_become_thai_digits() {
        assert_eq!(to_thai_digits("2569"), "๒๕๖๙");
        assert_eq!(to_thai_digits("0123456789"), "๐๑๒๓๔๕๖๗๘๙");
    }

    #[test]
    fn text_around_digits_is_left_alone() {
        assert_eq!(to_thai_digits("ที่ นร 0105/123 ABC"), "ที่ นร ๐๑๐๕/๑๒๓ ABC");
    }

    #[test]
    fn non_ascii_decimal_digits_are_not_converted() {
        // Arabic-Indic and full-width digits are left as written.
        assert_eq!(to_thai_digits("٣３"), "٣３");
    }

    #[test]
    fn thai_digits_convert_back_to_ascii() {
        assert_eq!(to_arabic_digits("๒๒ พ.ย. ๖๙"), "22 พ.ย. 69");
        assert_eq!(to_arabic_digits(&to_thai_digits("10400")), "10400");
    }
}
