//! Closed sets of names that cross crates, the database and the API: each is an enum with one
//! list of its wire names, so a name the service writes is always one it can read back, list
//! in its OpenAPI document and accept in a filter.

/// A stored or received name that is not one of its set's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("“{name}” is not a known {set}")]
pub struct UnknownName {
    /// The set (`event kind`, `scan status`, …).
    pub set: &'static str,
    /// The name given.
    pub name: String,
}

/// An enum of wire names: `ALL`, `as_str`, `FromStr`, `Display`, serde and an OpenAPI schema
/// from one list of `Variant = "name"` lines.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($set:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:tt, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in the order of the list.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::wire::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::wire::UnknownName { set: $set, name: s.to_owned() }),
                }
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;
