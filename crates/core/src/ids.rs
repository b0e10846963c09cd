//! Typed identifiers. Every id is a UUID (version 7, so ids sort by creation time) carried in a
//! newtype, so a letter id can never be passed where an agency id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!(@ hyphenated $(#[$doc])* $name);
    };
    // `simple`: written as 32 hex digits without hyphens (how these ids were first stored).
    (simple $(#[$doc:meta])* $name:ident) => {
        id_type!(@ simple $(#[$doc])* $name);
    };
    (@ $format:ident $(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// The id as its UUID.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.$format().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// Identifies a letter.
    LetterId
);
id_type!(
    /// Identifies an agency (a sender).
    AgencyId
);
id_type!(
    /// Identifies a post-office site that prints and scans.
    SiteId
);
id_type!(
    /// Identifies one event on a letter's timeline; unique across the system.
    EventId
);
id_type!(
    /// Identifies a print batch.
    BatchId
);
id_type!(
    /// Identifies a batch of scanned pages uploaded by a post-office site.
    ScanId
);
id_type!(
    /// Identifies one scanned page.
    ScanPageId
);
id_type!(
    /// Identifies a citizen's reply rebuilt from scanned pages.
    ReplyId
);
id_type!(
    /// Identifies a PDF an agency uploaded to send as a letter.
    DocumentId
);
id_type!(
    simple
    /// Identifies a webhook endpoint of an agency.
    EndpointId
);
id_type!(
    /// Identifies a person who signs in to a console.
    PersonId
);
id_type!(
    /// Identifies a batch of letters sent at once (`POST /v1/letter-batches`, the console's
    /// mail merge).
    LetterBatchId
);

/// Whose letters a caller may see: one agency, in one mode. Test mode is a world of its own,
/// as in payment APIs: a test key sees and acts on test letters only (and their events,
/// webhooks, replies and documents), a live key on live ones only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AgencyScope {
    /// The agency.
    pub agency_id: AgencyId,
    /// Test mode: letters are sealed with a key no trust list carries and are never printed,
    /// sent or used to register a channel.
    pub test: bool,
}

impl AgencyScope {
    /// The agency's live letters.
    pub fn live(agency_id: AgencyId) -> Self {
        Self { agency_id, test: false }
    }

    /// The agency's test letters.
    pub fn test(agency_id: AgencyId) -> Self {
        Self { agency_id, test: true }
    }

    /// `live` or `test`, for logs and messages.
    pub fn mode(&self) -> &'static str {
        if self.test { "test" } else { "live" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ids_are_written_without_hyphens_and_read_either_way() {
        let id = EndpointId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 32, "{text}");
        assert_eq!(text.parse::<EndpointId>().unwrap(), id);
        assert_eq!(id.as_uuid().hyphenated().to_string().parse::<EndpointId>().unwrap(), id);
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = LetterId::new();
        let parsed: LetterId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = LetterId::new();
        let b = LetterId::new();
        assert!(a < b, "{a} should sort before {b}");
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn a_non_uuid_is_not_an_id() {
        assert!("letter-1".parse::<LetterId>().is_err());
    }
}
