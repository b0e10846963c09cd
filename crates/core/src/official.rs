//! What makes a letter official beyond its text: its urgency (ชั้นความเร็ว) and secrecy
//! (ชั้นความลับ) as the Regulation of the Prime Minister's Office on Correspondence and the
//! Regulation on Official Secrets set them, the digits it is written in, dated references to
//! earlier letters (อ้างถึง), enclosures that are the agency's own PDFs (สิ่งที่ส่งมาด้วย), and
//! the parties as correspondence (e-Saraban) systems name them.
//!
//! Every field here has the meaning of its counterpart in an e-Saraban `CorrespondenceLetter`
//! (`SpeedCode`, `SecretCode`, `ReferenceCorrespondence`, `Attachment`, `SenderParty`,
//! `ReceiverParty`); `docs/esaraban.md` maps them one by one.

use serde::{Deserialize, Serialize};

/// How fast a letter must be handled (ชั้นความเร็ว): one of the three levels, or "urgent
/// within" a date and time (ด่วนภายใน). Printed in red, at least 32 pt, above the reference on
/// page 1; urgent letters go into the next print batch first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Urgency {
    /// `urgent` (ด่วน), `very_urgent` (ด่วนมาก) or `most_urgent` (ด่วนที่สุด); the Thai words
    /// are accepted too.
    Level(UrgencyLevel),
    /// ด่วนภายใน: to reach the recipient by a time.
    Within(UrgentWithin),
}

/// The three levels of urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyLevel {
    /// ด่วน.
    #[serde(alias = "ด่วน")]
    Urgent,
    /// ด่วนมาก.
    #[serde(alias = "ด่วนมาก")]
    VeryUrgent,
    /// ด่วนที่สุด.
    #[serde(alias = "ด่วนที่สุด")]
    MostUrgent,
}

/// `{"within": "2027-01-05T14:00:00+07:00"}`: ด่วนภายใน, with the time the letter must reach
/// its recipient by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrgentWithin {
    /// An RFC 3339 time, printed in Thai time.
    pub within: String,
}

impl UrgencyLevel {
    /// The words printed on the letter.
    pub fn thai(self) -> &'static str {
        match self {
            UrgencyLevel::Urgent => "ด่วน",
            UrgencyLevel::VeryUrgent => "ด่วนมาก",
            UrgencyLevel::MostUrgent => "ด่วนที่สุด",
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UrgencyLevel::Urgent => "urgent",
            UrgencyLevel::VeryUrgent => "very_urgent",
            UrgencyLevel::MostUrgent => "most_urgent",
        }
    }
}

impl Urgency {
    /// Print priority: 3 for ด่วนที่สุด and ด่วนภายใน, 2 for ด่วนมาก, 1 for ด่วน (0 is a letter
    /// without urgency). Batches take letters of higher priority first.
    pub fn priority(&self) -> i64 {
        match self {
            Urgency::Level(UrgencyLevel::Urgent) => 1,
            Urgency::Level(UrgencyLevel::VeryUrgent) => 2,
            Urgency::Level(UrgencyLevel::MostUrgent) | Urgency::Within(_) => 3,
        }
    }

    /// The time of ด่วนภายใน, when it reads.
    pub fn within_time(&self) -> Option<time::OffsetDateTime> {
        match self {
            Urgency::Within(w) => {
                time::OffsetDateTime::parse(w.within.trim(), &time::format_description::well_known::Rfc3339).ok()
            }
            Urgency::Level(_) => None,
        }
    }

    /// A short label for lists and manifests: the wire name, or `within 2027-01-05T14:00+07:00`.
    pub fn label(&self) -> String {
        match self {
            Urgency::Level(level) => level.as_str().to_owned(),
            Urgency::Within(w) => format!("within {}", w.within.trim()),
        }
    }
}

/// How secret a letter is (ชั้นความลับ), from the Regulation on Official Secrets B.E. 2544.
/// `top_secret` (ลับที่สุด) is always refused: it is kept off electronic systems. The other two
/// are refused unless the agency was allowed to send classified letters; their content never
/// shows on the public verification page, PIN or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Secrecy {
    /// ลับ.
    #[serde(alias = "ลับ")]
    Confidential,
    /// ลับมาก.
    #[serde(alias = "ลับมาก")]
    Secret,
    /// ลับที่สุด.
    #[serde(alias = "ลับที่สุด")]
    TopSecret,
}

impl Secrecy {
    /// The words printed on the letter.
    pub fn thai(self) -> &'static str {
        match self {
            Secrecy::Confidential => "ลับ",
            Secrecy::Secret => "ลับมาก",
            Secrecy::TopSecret => "ลับที่สุด",
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Secrecy::Confidential => "confidential",
            Secrecy::Secret => "secret",
            Secrecy::TopSecret => "top_secret",
        }
    }
}

/// The digits a letter is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Digits {
    /// Thai digits (๐–๙) throughout: dates, numbers, the address, page numbers.
    Thai,
    /// Arabic digits (0–9) throughout.
    Arabic,
}

/// An entry of อ้างถึง: a line of text, or an earlier letter by its number and date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ReferenceEntry {
    /// Printed as given.
    Text(String),
    /// An earlier letter, printed as "{from} ที่ {reference} ลงวันที่ {date}".
    Letter(ReferencedLetter),
}

/// An earlier letter referred to (e-Saraban `ReferenceCorrespondence`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferencedLetter {
    /// Its number (เลขที่หนังสือ), e.g. `มท 0808.2/ว 100`.
    pub reference: String,
    /// Its date (ลงวันที่), `YYYY-MM-DD`.
    pub date: String,
    /// The agency or person that wrote it (หนังสือ…); "หนังสือ" alone when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Its subject; kept with the letter, not printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl From<String> for ReferenceEntry {
    fn from(text: String) -> Self {
        ReferenceEntry::Text(text)
    }
}

impl From<&str> for ReferenceEntry {
    fn from(text: &str) -> Self {
        ReferenceEntry::Text(text.to_owned())
    }
}

/// An entry of สิ่งที่ส่งมาด้วย: a line of text (something enclosed by hand, or a description),
/// or a titled enclosure that is one of the agency's PDFs, printed after the letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Enclosure {
    /// Printed as given.
    Text(String),
    /// A titled enclosure (e-Saraban `Attachment`), with its PDF when it has one.
    Document(EnclosedDocument),
}

/// A titled enclosure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnclosedDocument {
    /// What it is, as listed under สิ่งที่ส่งมาด้วย.
    pub title: String,
    /// The PDF, uploaded with `POST /v1/documents`: printed after the letter, in the order
    /// listed, and part of its digital copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
}

impl From<String> for Enclosure {
    fn from(text: String) -> Self {
        Enclosure::Text(text)
    }
}

impl From<&str> for Enclosure {
    fn from(text: &str) -> Self {
        Enclosure::Text(text.to_owned())
    }
}

impl Enclosure {
    /// The line listed under สิ่งที่ส่งมาด้วย.
    pub fn title(&self) -> &str {
        match self {
            Enclosure::Text(t) => t,
            Enclosure::Document(d) => &d.title,
        }
    }

    /// The enclosed PDF's document id, when it has one.
    pub fn document_id(&self) -> Option<&str> {
        match self {
            Enclosure::Text(_) => None,
            Enclosure::Document(d) => d.document_id.as_deref(),
        }
    }
}

/// The sending side as correspondence systems name it (e-Saraban `SenderParty`). Kept with the
/// letter and given back by the API; the printed letterhead is the agency's registered name
/// and address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SenderParty {
    /// The ministry's code (`MinistryID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ministry_id: Option<String>,
    /// The department's code (`DepartmentID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    /// The office within the agency that owns the matter (ส่วนราชการเจ้าของเรื่อง).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
}

/// Characters in a code of the sending or receiving party.
pub const PARTY_CODE: usize = 50;

/// Enclosures that are PDFs, per letter.
pub const ENCLOSED_DOCUMENTS: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thai_and_english_names_are_the_same_levels() {
        let thai: Urgency = serde_json::from_str("\"ด่วนที่สุด\"").unwrap();
        let english: Urgency = serde_json::from_str("\"most_urgent\"").unwrap();
        assert_eq!(thai, english);
        assert_eq!(serde_json::to_string(&thai).unwrap(), "\"most_urgent\"");
        let secret: Secrecy = serde_json::from_str("\"ลับมาก\"").unwrap();
        assert_eq!(secret, Secrecy::Secret);
    }

    #[test]
    fn urgent_within_is_an_object_with_a_time() {
        let u: Urgency = serde_json::from_str(r#"{"within": "2027-01-05T14:00:00+07:00"}"#).unwrap();
        assert_eq!(u.priority(), 3);
        assert_eq!(u.within_time().unwrap().hour(), 14);
        assert!(serde_json::from_str::<Urgency>("\"hurry\"").is_err());
    }

    #[test]
    fn references_and_enclosures_are_text_or_objects() {
        let r: Vec<ReferenceEntry> = serde_json::from_str(
            r#"["หนังสือกรมการปกครอง ที่ มท 0300/1", {"reference": "มท 0808.2/ว 100", "date": "2026-11-20"}]"#,
        )
        .unwrap();
        assert!(matches!(&r[1], ReferenceEntry::Letter(l) if l.date == "2026-11-20"));
        let e: Vec<Enclosure> = serde_json::from_str(
            r#"["แผนที่", {"title": "แบบคำขอ", "document_id": "0190c5a0-0000-7000-8000-000000000000"}]"#,
        )
        .unwrap();
        assert_eq!(e[0].title(), "แผนที่");
        assert!(e[1].document_id().is_some());
    }
}
