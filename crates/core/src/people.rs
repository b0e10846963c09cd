//! People who use the consoles: post-office staff tied to one print site, agency staff tied to
//! one agency, each with one role. What a role may do is decided here, once, for both consoles.

use crate::ids::{AgencyId, SiteId};
use crate::wire::wire_enum;

wire_enum! {
    /// What a person may do where they work.
    pub enum PersonRole ("role") {
        /// Post office: prints, dispatches, scans and clears the review queue.
        Operator = "operator",
        /// Post office: an operator who also manages the site's people and reads its audit log.
        Supervisor = "supervisor",
        /// Agency: manages the agency's people, keys and settings, and sends.
        Admin = "admin",
        /// Agency: sends letters and reads replies.
        Sender = "sender",
        /// Agency: reads letters and replies.
        Viewer = "viewer",
    }
}

impl PersonRole {
    /// Whether the role belongs to a print site (else to an agency).
    pub fn is_site_role(self) -> bool {
        matches!(self, PersonRole::Operator | PersonRole::Supervisor)
    }

    /// Whether the role manages people and reads the audit log of its workplace.
    pub fn manages_people(self) -> bool {
        matches!(self, PersonRole::Supervisor | PersonRole::Admin)
    }

    /// The role's name in Thai.
    pub fn thai(self) -> &'static str {
        match self {
            PersonRole::Operator => "เจ้าหน้าที่ปฏิบัติงาน",
            PersonRole::Supervisor => "หัวหน้างาน",
            PersonRole::Admin => "ผู้ดูแลระบบ",
            PersonRole::Sender => "ผู้ส่งหนังสือ",
            PersonRole::Viewer => "ผู้อ่าน",
        }
    }
}

/// Where a person works: one print site or one agency, never both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workplace {
    /// A print site (post office).
    Site(SiteId),
    /// An agency.
    Agency(AgencyId),
}

/// A role that does not belong to the workplace it was given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the role {role} belongs to {expected}, not to {given}")]
pub struct RoleMismatch {
    /// The role.
    pub role: PersonRole,
    /// Where that role belongs.
    pub expected: &'static str,
    /// Where it was given.
    pub given: &'static str,
}

impl Workplace {
    /// `site` or `agency`.
    pub fn kind(self) -> &'static str {
        match self {
            Workplace::Site(_) => "site",
            Workplace::Agency(_) => "agency",
        }
    }

    /// Checks that `role` belongs to this kind of workplace.
    pub fn check_role(self, role: PersonRole) -> Result<(), RoleMismatch> {
        let expected = if role.is_site_role() { "site" } else { "agency" };
        if expected == self.kind() { Ok(()) } else { Err(RoleMismatch { role, expected, given: self.kind() }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_roles_belong_to_sites_and_agency_roles_to_agencies() {
        let site = Workplace::Site(SiteId::new());
        let agency = Workplace::Agency(AgencyId::new());
        for role in PersonRole::ALL {
            assert_eq!(site.check_role(*role).is_ok(), role.is_site_role(), "{role}");
            assert_eq!(agency.check_role(*role).is_ok(), !role.is_site_role(), "{role}");
        }
        assert_eq!(
            agency.check_role(PersonRole::Operator).unwrap_err().to_string(),
            "the role operator belongs to site, not to agency"
        );
    }
}
