//! Newtypes for the ids that scope every piece of data. Each is 1..=128 characters of
//! `[A-Za-z0-9_.@-]` — never ':' — so an id can be embedded in a key (`hot:items:{tenant}:{scenario}`), a
//! topic name or a file name without escaping, and a malformed one is rejected at the edge.

use crate::Code;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::Error;

pub const MAX_ID_LEN: usize = 128;

pub fn check_id(kind: &'static str, code: Code, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            code,
            format!("{kind} must be 1 to {MAX_ID_LEN} characters long, got {}", value.len()),
        ));
    }
    if value.bytes().all(|b| b == b'.') {
        return Err(Error::invalid(
            code,
            format!("{kind} {value:?} is only dots; such names mean a directory and its parent in paths"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))) {
        return Err(Error::invalid(
            code,
            format!("{kind} {value:?} contains {bad:?}; use only letters, digits, '_', '-', '.', '@'"),
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($name:ident, $kind:literal, $code:expr) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id.
            pub fn parse(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_id($kind, $code, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(TenantId, "tenant id", Code::InvalidTenantId);
id_type!(ScenarioId, "scenario_id", Code::InvalidScenarioId);
id_type!(ItemId, "item_id", Code::InvalidItemId);
id_type!(UserId, "user_id", Code::InvalidUserId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids_and_rejects_separators() {
        assert!(TenantId::parse("tenant_123").is_ok());
        assert!(TenantId::parse("a.b-c@d").is_ok());
        assert_eq!(TenantId::parse("").unwrap_err().code(), "invalid_tenant_id");
        assert!(TenantId::parse("a:b").is_err(), "':' separates key parts");
        assert!(TenantId::parse("a b").is_err());
        assert!(ItemId::parse("x".repeat(129)).is_err());
        assert!(ItemId::parse("x".repeat(128)).is_ok());
        for dots in [".", "..", "..."] {
            assert!(TenantId::parse(dots).is_err(), "{dots:?} is a directory name in the blob store");
            assert!(ScenarioId::parse(dots).is_err());
        }
        assert!(TenantId::parse(".a").is_ok());
    }
}
