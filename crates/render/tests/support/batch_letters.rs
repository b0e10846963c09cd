//! Realistic official letters with varied recipients for print batch tests and the batch
//! benchmark: the fixture letter (`fixtures/letters/official.json`) with names, addresses
//! and postcodes drawn from small tables, in postcode order.

use hybridpost_core::NewLetter;
use hybridpost_render::{LetterOptions, QrModules, Sender};
use time::macros::date;

const FIXTURE: &str = include_str!("../../../../fixtures/letters/official.json");

const TITLES: [&str; 3] = ["นาย", "นาง", "นางสาว"];
const FIRST_NAMES: [&str; 12] =
    ["สมชาย", "สมศรี", "ประเสริฐ", "วิไลวรรณ", "ธนากร", "พิมพ์ชนก", "ณัฐวุฒิ", "กนกวรรณ", "สุรเชษฐ์", "อรุณี", "ปิยะพงษ์", "ศิริพร"];
const SURNAMES: [&str; 10] = ["ใจดี", "รักษ์ไทย", "ทองคำ", "ศรีสุข", "บุญมา", "แก้วมณี", "สุขสวัสดิ์", "วงศ์ใหญ่", "พึ่งบุญ", "มั่นคง"];
const ROADS: [&str; 6] = ["พหลโยธิน", "สุขุมวิท", "เพชรเกษม", "รามคำแหง", "ลาดพร้าว", "มิตรภาพ"];
/// Subdistrict, district, province, postcode.
const PLACES: [(&str, &str, &str, &str); 8] = [
    ("สามเสนใน", "พญาไท", "กรุงเทพมหานคร", "10400"),
    ("บางรัก", "บางรัก", "กรุงเทพมหานคร", "10500"),
    ("ลาดยาว", "จตุจักร", "กรุงเทพมหานคร", "10900"),
    ("บางกะปิ", "ห้วยขวาง", "กรุงเทพมหานคร", "10310"),
    ("ในเมือง", "เมืองขอนแก่น", "ขอนแก่น", "40000"),
    ("ช้างคลาน", "เมืองเชียงใหม่", "เชียงใหม่", "50100"),
    ("หาดใหญ่", "หาดใหญ่", "สงขลา", "90110"),
    ("ในเมือง", "เมืองนครราชสีมา", "นครราชสีมา", "30000"),
];
/// A long body paragraph, repeated to make letters of more than one page.
pub const LONG_PARAGRAPH: &str = "สำนักงานเขตได้พิจารณาคำขอของท่านตามหลักเกณฑ์และเงื่อนไขที่กำหนดไว้ในระเบียบที่เกี่ยวข้อง \
     โดยได้ตรวจสอบเอกสารหลักฐานประกอบคำขอครบถ้วนแล้ว เห็นว่าเป็นไปตามหลักเกณฑ์ จึงแจ้งให้ท่านทราบและดำเนินการต่อไป";

/// The agency sending every letter.
pub fn sender() -> Sender {
    Sender {
        agency_name: "สำนักงานเขตพญาไท".to_string(),
        agency_address_lines: vec!["๑๒ ถนนพหลโยธิน".to_string(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".to_string()],
    }
}

/// The options of every letter: a seal of the real size (a 245-character URL, QR version 11)
/// with the verification host and PIN under it.
pub fn options() -> LetterOptions {
    let url = format!("HTTPS://HP.GO.TH/V#{}K7", "K7QFM2XA".repeat(28));
    let matrix = hybridpost_seal::qr_matrix(&url).expect("a seal-sized QR code");
    LetterOptions {
        emblem: None,
        issue_date: date!(2026 - 11 - 22),
        verification_host: "verify.hybridpost.example".to_string(),
        pin: Some("482913".to_string()),
        seal: Some(QrModules::new(matrix.width, matrix.modules).expect("a valid symbol")),
        reply: None,
        seal_url: Some(url),
    }
}

/// A letter to recipient number `n` whose body has `paragraphs` extra long paragraphs
/// (0 keeps the one-page fixture body).
pub fn letter(n: usize, paragraphs: usize) -> NewLetter {
    let mut value: serde_json::Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    let name = format!(
        "{}{} {}",
        TITLES[n % TITLES.len()],
        FIRST_NAMES[(n / 3) % FIRST_NAMES.len()],
        SURNAMES[(n / 7) % SURNAMES.len()]
    );
    let (subdistrict, district, province, postcode) = PLACES[(n / 11) % PLACES.len()];
    // Reply sheets are left out: their codes need a letter's reference and key.
    value.as_object_mut().expect("an object").remove("reply");
    let recipient = &mut value["recipient"];
    recipient["name"] = name.clone().into();
    let address = &mut recipient["address"];
    address["house_number"] = format!("{}/{}", 1 + n % 250, 1 + n % 9).into();
    address["moo"] = (1 + n % 12).to_string().into();
    address["soi"] = format!("{} {}", ROADS[(n / 5) % ROADS.len()], 1 + n % 40).into();
    address["road"] = ROADS[n % ROADS.len()].into();
    address["subdistrict"] = subdistrict.into();
    address["district"] = district.into();
    address["province"] = province.into();
    address["postcode"] = postcode.into();
    value["salutation"] = format!("เรียน {name}").into();
    value["reference"] = format!("มท 0808.2/ว {}", 1000 + n).into();
    let body = value["body"].as_array_mut().expect("the fixture has a body");
    // A mail merge: the first paragraph names the recipient's own request.
    body[0] = format!(
        "ตามที่ท่านได้ยื่นคำขอเลขที่ {}/2569 ลงวันที่ {} ตุลาคม 2569 ต่อสำนักงานเขตพญาไท ความละเอียดแจ้งแล้ว นั้น",
        1000 + n,
        1 + n % 28
    )
    .into();
    if paragraphs > 0 {
        body.extend(std::iter::repeat_n(serde_json::Value::from(LONG_PARAGRAPH), paragraphs));
    }
    serde_json::from_value(value).expect("the varied letter is still a letter")
}

/// The recipient's postcode of `letter`.
pub fn postcode(letter: &NewLetter) -> String {
    letter.recipient.address.postcode.to_string()
}
