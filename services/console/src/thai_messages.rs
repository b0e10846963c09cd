//! The letter checks' messages in Thai, for the console's Thai pages. The checks (shared with
//! the API, whose integrators read English) say what is wrong in English; the console shows a
//! clerk the same message in Thai, its values (a postcode, a name, a date) carried over. A
//! message this table does not know is shown as it is.

/// `message` in Thai, when it is one the letter checks give.
pub(crate) fn in_thai(message: &str) -> Option<String> {
    let fixed = match message {
        "must not be empty" => Some("ต้องไม่เว้นว่าง"),
        "a postcode has exactly 5 digits" => Some("รหัสไปรษณีย์ต้องเป็นตัวเลข 5 หลัก"),
        "moo (หมู่ที่) is a number of at most 3 digits" => Some("หมู่ที่ต้องเป็นตัวเลขไม่เกิน 3 หลัก"),
        "is not a date in the form YYYY-MM-DD" => Some("ไม่ใช่วันที่ในรูปแบบ ปปปป-ดด-วว (ปี ค.ศ. เช่น 2027-01-31)"),
        "give one of body, template or document_id" => Some("ต้องมีข้อความ แบบข้อความ หรือไฟล์ PDF อย่างใดอย่างหนึ่ง"),
        _ => None,
    };
    if let Some(t) = fixed {
        return Some(t.to_owned());
    }
    if message.starts_with("is not an e-mail address") {
        return Some("ไม่ใช่อีเมลที่ถูกต้อง".into());
    }
    if let Some(rest) = message.strip_prefix("postcode ") {
        let (code, rest) = rest.split_once(' ')?;
        if let Some(places) = rest.strip_prefix("does not belong to ") {
            return Some(format!("รหัสไปรษณีย์ {code} ไม่ใช่ของ {places}"));
        }
        if let Some(places) = rest.strip_prefix("is not used in ") {
            return Some(format!("รหัสไปรษณีย์ {code} ไม่ได้ใช้ใน {places}"));
        }
        return None;
    }
    if let Some((name, rest)) = quoted_then(message) {
        if rest == " is not a Thai province" {
            return Some(format!("{name} ไม่ใช่ชื่อจังหวัดของไทย"));
        }
        if let Some(province) = rest.strip_prefix(" is not a district of ") {
            return Some(format!("{name} ไม่ใช่อำเภอหรือเขตของ{province}"));
        }
        if let Some(place) = rest.strip_prefix(" is not a subdistrict of ") {
            return Some(format!("{name} ไม่ใช่ตำบลหรือแขวงของ {place}"));
        }
    }
    if let Some(rest) = message.strip_prefix("the check digit is wrong: the first 12 digits give ") {
        let (expected, found) = rest.split_once(", the 13th is ")?;
        return Some(format!("เลขตรวจสอบ (หลักที่ 13) ไม่ถูกต้อง: 12 หลักแรกให้ {expected} แต่หลักที่ 13 เป็น {found}"));
    }
    if let Some(rest) = message.strip_prefix("a citizen id has 13 digits, this has ") {
        return Some(format!("เลขประจำตัวประชาชนมี 13 หลัก แต่ช่องนี้มี {rest} หลัก"));
    }
    if message.starts_with("a citizen id holds only digits") {
        return Some("เลขประจำตัวประชาชนต้องเป็นตัวเลขเท่านั้น".into());
    }
    if let Some(digit) = message.strip_prefix("a citizen id starts with a digit from 1 to 8, this starts with ") {
        return Some(format!("เลขประจำตัวประชาชนขึ้นต้นด้วยเลข 1 ถึง 8 แต่ช่องนี้ขึ้นต้นด้วย {digit}"));
    }
    if let Some(day) = message.strip_prefix("must be after today (").and_then(|r| r.strip_suffix(')')) {
        return Some(format!("ต้องเป็นวันหลังจากวันนี้ ({day})"));
    }
    if let Some(rest) = message.strip_prefix("is ")
        && let Some((length, limit)) = rest.split_once(" characters long, the limit is ")
    {
        return Some(format!("ยาว {length} ตัวอักษร เกินกำหนด {limit} ตัวอักษร"));
    }
    if let Some(rest) = message.strip_prefix("character ")
        && let Some((position, what)) = rest.split_once(" is ")
        && (what.ends_with("which cannot be printed") || what.ends_with("which the letter fonts cannot print"))
    {
        let what = what.split(", which").next().unwrap_or(what);
        return Some(format!("ตัวอักษรตัวที่ {position} ({what}) พิมพ์ลงในหนังสือไม่ได้"));
    }
    if let Some(rest) = message.strip_prefix("content template ")
        && let Some((name, rest)) = quoted_then(rest)
        && let Some(line) = rest.strip_prefix(" needs a value the letter's data does not give, at line ")
    {
        let (number, source) = line.split_once(": ")?;
        return Some(format!("แบบข้อความ {name} ต้องใช้ข้อมูลที่แถวนี้ไม่มี (บรรทัดที่ {number}: {source})"));
    }
    if let Some(rest) = message.strip_prefix("there is no content template ")
        && let Some((name, rest)) = quoted_then(rest)
    {
        let known = rest.strip_prefix("; the templates are: ").unwrap_or_default();
        return Some(format!("ไม่มีแบบข้อความ {name} แบบที่มีคือ {known}"));
    }
    official_in_thai(message)
}

/// The checks of an official letter's date, urgency and secrecy in Thai.
fn official_in_thai(message: &str) -> Option<String> {
    let dated = |prefix: &str| message.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if let Some(day) = dated("is more than a year before today (") {
        return Some(format!("ลงวันที่ก่อนวันนี้ ({day}) เกินหนึ่งปี"));
    }
    if let Some(day) = dated("is after the day the letter is sent (") {
        return Some(format!("ลงวันที่หลังวันที่ส่งหนังสือ ({day}) ไม่ได้"));
    }
    if let Some(day) = dated("is before today (") {
        return Some(format!("ต้องไม่ก่อนวันนี้ ({day})"));
    }
    if message.ends_with("is not a time like 2027-01-05T14:00:00+07:00") {
        return Some("ไม่ใช่วันและเวลาที่ถูกต้อง".into());
    }
    if message.starts_with("a top secret (ลับที่สุด) letter cannot be sent through hybridpost") {
        return Some(
            "หนังสือลับที่สุดส่งผ่านระบบนี้ไม่ได้ ระเบียบว่าด้วยการรักษาความลับของทางราชการ พ.ศ. ๒๕๔๔ \
             ห้ามนำเข้าระบบอิเล็กทรอนิกส์ ให้ส่งด้วยมือโดยใส่ซองสองชั้น"
                .into(),
        );
    }
    None
}

/// A leading `"…"` of `text` and what follows it.
fn quoted_then(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some((&text[..end + 2], &rest[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::in_thai;

    #[test]
    fn the_official_letters_checks_read_in_thai() {
        assert_eq!(
            in_thai("is more than a year before today (2026-12-05)").unwrap(),
            "ลงวันที่ก่อนวันนี้ (2026-12-05) เกินหนึ่งปี"
        );
        assert!(in_thai("2027-13-01 is not a time like 2027-01-05T14:00:00+07:00").is_some());
        assert!(
            in_thai(
                "a top secret (ลับที่สุด) letter cannot be sent through hybridpost: the Regulation on Official Secrets \
             B.E. 2544 keeps it off electronic systems; it goes by hand, in a sealed double envelope"
            )
            .is_some_and(|t| t.contains("ลับที่สุด"))
        );
    }

    #[test]
    fn the_checks_messages_read_in_thai_with_their_values() {
        let cases = [
            ("must not be empty", "ต้องไม่เว้นว่าง"),
            (
                "postcode 10399 does not belong to สามเสนใน, พญาไท, กรุงเทพมหานคร",
                "รหัสไปรษณีย์ 10399 ไม่ใช่ของ สามเสนใน, พญาไท, กรุงเทพมหานคร",
            ),
            ("\"บางกอก\" is not a Thai province", "\"บางกอก\" ไม่ใช่ชื่อจังหวัดของไทย"),
            ("\"พญาไม้\" is not a district of กรุงเทพมหานคร", "\"พญาไม้\" ไม่ใช่อำเภอหรือเขตของกรุงเทพมหานคร"),
            (
                "the check digit is wrong: the first 12 digits give 8, the 13th is 9",
                "เลขตรวจสอบ (หลักที่ 13) ไม่ถูกต้อง: 12 หลักแรกให้ 8 แต่หลักที่ 13 เป็น 9",
            ),
            ("must be after today (2026-12-04)", "ต้องเป็นวันหลังจากวันนี้ (2026-12-04)"),
            ("is 301 characters long, the limit is 300", "ยาว 301 ตัวอักษร เกินกำหนด 300 ตัวอักษร"),
            (
                "character 4 is U+202E RIGHT-TO-LEFT OVERRIDE, which cannot be printed",
                "ตัวอักษรตัวที่ 4 (U+202E RIGHT-TO-LEFT OVERRIDE) พิมพ์ลงในหนังสือไม่ได้",
            ),
            (
                "content template \"tax-notice\" needs a value the letter's data does not give, at line 7: {{ due_date }}",
                "แบบข้อความ \"tax-notice\" ต้องใช้ข้อมูลที่แถวนี้ไม่มี (บรรทัดที่ 7: {{ due_date }})",
            ),
        ];
        for (english, thai) in cases {
            assert_eq!(in_thai(english).as_deref(), Some(thai), "{english}");
        }
        assert_eq!(in_thai("something new"), None, "an unknown message is left as it is");
    }
}
