//! Why a letter came back undelivered: the reasons a post-office operator picks for a batch of
//! returned letters, as on the postal service's return slip (ใบแจ้งการนำจ่ายไม่ได้).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a letter could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    /// Nobody of that name at the address (ไม่มีผู้รับตามจ่าหน้า).
    AddresseeUnknown,
    /// The addressee has moved away (ย้ายไม่ทราบที่อยู่ใหม่).
    Moved,
    /// The addressee refused the letter (ปฏิเสธการรับ).
    Refused,
    /// The addressee has died (ผู้รับถึงแก่กรรม).
    Deceased,
    /// The address is incomplete or wrong (จ่าหน้าไม่ชัดเจน / ไม่มีเลขที่บ้านตามจ่าหน้า).
    InsufficientAddress,
}

impl ReturnReason {
    /// Every reason, for documentation and checks.
    pub const ALL: [ReturnReason; 5] = [
        ReturnReason::AddresseeUnknown,
        ReturnReason::Moved,
        ReturnReason::Refused,
        ReturnReason::Deceased,
        ReturnReason::InsufficientAddress,
    ];

    /// The wire name (`addressee_unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnReason::AddresseeUnknown => "addressee_unknown",
            ReturnReason::Moved => "moved",
            ReturnReason::Refused => "refused",
            ReturnReason::Deceased => "deceased",
            ReturnReason::InsufficientAddress => "insufficient_address",
        }
    }

    /// The reason in Thai, as the return slip says it.
    pub fn thai(self) -> &'static str {
        match self {
            ReturnReason::AddresseeUnknown => "ไม่มีผู้รับตามจ่าหน้า",
            ReturnReason::Moved => "ย้ายไม่ทราบที่อยู่ใหม่",
            ReturnReason::Refused => "ผู้รับปฏิเสธการรับ",
            ReturnReason::Deceased => "ผู้รับถึงแก่กรรม",
            ReturnReason::InsufficientAddress => "จ่าหน้าไม่ชัดเจนหรือไม่ครบถ้วน",
        }
    }

    /// The reason in English.
    pub fn english(self) -> &'static str {
        match self {
            ReturnReason::AddresseeUnknown => "addressee unknown at this address",
            ReturnReason::Moved => "addressee moved, new address unknown",
            ReturnReason::Refused => "refused by the addressee",
            ReturnReason::Deceased => "addressee deceased",
            ReturnReason::InsufficientAddress => "insufficient or wrong address",
        }
    }
}

impl fmt::Display for ReturnReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReturnReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReturnReason::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = ReturnReason::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown return reason {}; one of {}", crate::quoted(s), names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_through_its_wire_name() {
        for r in ReturnReason::ALL {
            assert_eq!(r.as_str().parse::<ReturnReason>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.as_str()));
        }
        assert!("lost".parse::<ReturnReason>().unwrap_err().contains("addressee_unknown"));
    }
}
