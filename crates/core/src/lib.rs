//! The hybridpost domain: identifiers, letters and recipients, Thai postal addresses, Thai
//! citizen ids, delivery channels and the letter status machine with its events.
//!
//! This crate does no I/O: no database, no network, no files. Everything here is plain data and
//! the rules on it, so every other crate can depend on it.
#![forbid(unsafe_code)]

pub mod address;
pub mod citizen_id;
pub mod egress;
pub mod event_kind;
pub mod ids;
pub mod letter;
pub mod official;
pub mod people;
pub mod returns;
pub mod scan;
pub mod schema;
pub mod status;
pub mod tracking;
pub mod validation;
pub mod whole_number;
mod wire;

pub use address::{AddressError, CheckedAddress, ThaiAddress};
pub use citizen_id::{CitizenId, CitizenIdError};
pub use event_kind::{EventKind, HoldReason};
pub use ids::{
    AgencyId, AgencyScope, BatchId, DocumentId, EndpointId, EventId, LetterBatchId, LetterId, PersonId, ReplyId,
    ScanId, ScanPageId, SiteId,
};
pub use letter::{
    Channel, ChannelReason, FormAnswerBox, Language, LetterLayout, NewLetter, NewRecipient, ReplyRequest,
};
pub use official::{Digits, Enclosure, ReferenceEntry, Secrecy, SenderParty, Urgency, UrgencyLevel};
pub use people::{PersonRole, RoleMismatch, Workplace};
pub use returns::ReturnReason;
pub use scan::{BatchStatus, PageOutcome, ReplySource, ScanFileStatus, ScanMode, ScanStatus};
pub use status::{LetterStatus, TransitionError};
pub use tracking::{TrackingError, TrackingNumber};
pub use validation::{FieldError, FieldWarning, ValidationErrors, quoted};
pub use wire::UnknownName;
