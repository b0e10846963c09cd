//! The demo's recipients and their letters: Thai names, citizen ids with their mod-11 check
//! digit, and real addresses drawn from the official table of subdistricts, districts,
//! provinces and postcodes, so that every letter passes the gateway's checks.

use hybridpost_scan::degrade::Rng;
use serde_json::{Value, json};

/// The table the gateway checks addresses against (`ops/gen-address-table.sh`).
const POSTAL_TABLE: &str = include_str!("../../../../crates/core/data/th_postal.tsv");

const TITLES: [&str; 3] = ["นาย", "นาง", "นางสาว"];
const GIVEN_NAMES: [&str; 24] = [
    "สมชาย",
    "สมศรี",
    "ประเสริฐ",
    "วิไล",
    "สุรชัย",
    "มาลี",
    "อนันต์",
    "จันทร์เพ็ญ",
    "ธนากร",
    "ปราณี",
    "วีระ",
    "สุภาพร",
    "ชัยวัฒน์",
    "รัตนา",
    "กิตติ",
    "นงลักษณ์",
    "พิชัย",
    "อรุณี",
    "สมบัติ",
    "ศิริพร",
    "บุญมี",
    "กาญจนา",
    "ณัฐพล",
    "พรทิพย์",
];
const FAMILY_NAMES: [&str; 20] = [
    "ใจดี",
    "รักไทย",
    "ศรีสุข",
    "มั่นคง",
    "แก้วมณี",
    "สุขสวัสดิ์",
    "ทองดี",
    "บุญเรือง",
    "วงศ์สวัสดิ์",
    "พูลผล",
    "ศักดิ์ศรี",
    "จันทร์หอม",
    "สายทอง",
    "เพชรรัตน์",
    "นาคสวัสดิ์",
    "ชัยมงคล",
    "อินทร์แก้ว",
    "คำภา",
    "ปัญญาดี",
    "ศรีวงศ์",
];
const ROADS: [&str; 6] = ["พหลโยธิน", "สุขุมวิท", "เพชรเกษม", "มิตรภาพ", "ราชดำเนิน", "เจริญกรุง"];
const SUBJECTS: [&str; 4] =
    ["แจ้งผลการพิจารณาคำขอ", "ขอให้ยืนยันข้อมูลผู้มีสิทธิ", "แจ้งกำหนดชำระภาษีโรงเรือน", "ขอเชิญประชุมประชาคมหมู่บ้าน"];

/// One row of the postal table.
#[derive(Clone, Debug)]
struct Place {
    province: String,
    district: String,
    subdistrict: String,
    postcode: String,
}

fn places() -> Vec<Place> {
    POSTAL_TABLE
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let [_, province, _, district, _, subdistrict, postcode] = cols[..] else { return None };
            Some(Place {
                province: province.to_owned(),
                district: district.to_owned(),
                subdistrict: subdistrict.to_owned(),
                postcode: postcode.to_owned(),
            })
        })
        .collect()
}

/// A demo recipient.
#[derive(Clone, Debug)]
pub struct Recipient {
    /// Title and name.
    pub name: String,
    /// 13 digits with a valid check digit; `None` for a letter sent without one.
    pub citizen_id: Option<String>,
    /// A verified e-mail address imported as the recipient's e-channel.
    pub email: Option<String>,
    /// The address as the gateway takes it.
    pub address: Value,
}

/// A citizen id that passes the mod-11 check: a first digit 1–8 and eleven digits from
/// `serial`, so every serial gives a different id.
pub fn citizen_id(serial: u64) -> String {
    let body = format!("{}{:011}", 1 + serial % 8, serial % 100_000_000_000);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", hybridpost_core::citizen_id::check_digit(&digits))
}

/// `count` recipients: about one in twenty without a citizen id, `digital` of the others with
/// a verified e-mail address.
pub fn recipients(count: usize, digital: usize, rng: &mut Rng) -> Vec<Recipient> {
    let places = places();
    let mut out: Vec<Recipient> = (0..count)
        .map(|i| {
            let place = &places[rng.below(places.len())];
            let title = TITLES[rng.below(TITLES.len())];
            let name = format!(
                "{title}{} {}",
                GIVEN_NAMES[rng.below(GIVEN_NAMES.len())],
                FAMILY_NAMES[rng.below(FAMILY_NAMES.len())]
            );
            let mut address = json!({
                "house_number": format!("{}/{}", 1 + rng.below(300), 1 + rng.below(20)),
                "subdistrict": place.subdistrict,
                "district": place.district,
                "province": place.province,
                "postcode": place.postcode,
            });
            if place.province != "กรุงเทพมหานคร" && rng.unit() < 0.7 {
                address["moo"] = json!((1 + rng.below(15)).to_string());
            }
            if rng.unit() < 0.4 {
                address["road"] = json!(ROADS[rng.below(ROADS.len())]);
            }
            let citizen_id = (i % 20 != 19).then(|| citizen_id(1_000_000 + i as u64 * 7919));
            Recipient { name, citizen_id, email: None, address }
        })
        .collect();
    // E-channels for `digital` recipients that have a citizen id, spread through the list.
    let with_id: Vec<usize> = (0..count).filter(|&i| out[i].citizen_id.is_some()).collect();
    let digital = digital.min(with_id.len());
    for k in 0..digital {
        let i = with_id[k * with_id.len() / digital.max(1)];
        out[i].email = Some(format!("citizen{i}@example.co.th"));
    }
    out
}

/// The subject of a letter, drawn from `rng` (before the letters are written, one at a time
/// as they are sent).
pub fn subject(rng: &mut Rng) -> u8 {
    u8::try_from(rng.below(SUBJECTS.len())).unwrap_or(0)
}

/// The letter to `recipient` as `POST /v1/letters` takes it, on [`subject`] `subject`; with a
/// reply sheet when `reply_by` is given (`YYYY-MM-DD`).
pub fn letter(number: usize, recipient: &Recipient, reply_by: Option<&str>, subject: u8) -> Value {
    let mut recipient_json = json!({"name": recipient.name, "address": recipient.address});
    if let Some(id) = &recipient.citizen_id {
        recipient_json["citizen_id"] = json!(id);
    }
    let mut letter = json!({
        "reference": format!("ขพ 0001/ว {}", number + 1),
        "language": "th",
        "recipient": recipient_json,
        "subject": SUBJECTS[usize::from(subject) % SUBJECTS.len()],
        "salutation": format!("เรียน {}", recipient.name),
        "body": [
            "ตามที่ท่านได้ยื่นคำขอต่อสำนักงานเขตพญาไท ความละเอียดแจ้งแล้ว นั้น",
            "สำนักงานเขตได้พิจารณาแล้ว เห็นควรอนุมัติตามคำขอ จึงขอให้ท่านยืนยันการรับทราบภายในวันที่กำหนด",
        ],
        "closing": "ขอแสดงความนับถือ",
        "signatory": {"name": "นางสาวสมศรี รักงาน", "position": "ผู้อำนวยการเขตพญาไท"},
        "contact": "ฝ่ายทะเบียน โทร. 0 2279 0000",
    });
    if let Some(deadline) = reply_by {
        letter["reply"] = json!({"deadline": deadline});
    }
    letter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citizen_ids_pass_the_check_digit() {
        for serial in [0, 1, 7919, 1_000_000, 99_999_999_999] {
            let id = citizen_id(serial);
            assert!(hybridpost_core::CitizenId::parse(&id).is_ok(), "{id}");
        }
    }

    #[test]
    fn every_address_of_the_table_is_accepted() {
        let mut rng = Rng::new(3);
        for r in recipients(200, 40, &mut rng) {
            let address: hybridpost_core::ThaiAddress =
                serde_json::from_value(r.address.clone()).expect("an address the gateway can read");
            assert!(address.check("recipient.address").is_ok(), "{}", r.address);
        }
    }

    #[test]
    fn digital_recipients_all_have_citizen_ids() {
        let mut rng = Rng::new(5);
        let people = recipients(100, 20, &mut rng);
        assert_eq!(people.iter().filter(|r| r.email.is_some()).count(), 20);
        assert!(people.iter().filter(|r| r.email.is_some()).all(|r| r.citizen_id.is_some()));
    }
}
