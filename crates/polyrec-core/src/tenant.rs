//! What the platform knows about a tenant and a user from the outside (SPEC §6.2): a tenant's
//! name, status and quota, and a user's profile fields (age, gender, location). They come from
//! the external tenant and user services, or from the tenant registry of the config file.

use crate::Code;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Whether a tenant may use the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    #[default]
    Active,
    /// Every request is refused with `403 tenant_suspended`.
    Suspended,
    /// A status polyrec does not know (`deleted`, `closed`, a typo, an empty one): refused with
    /// `403 tenant_status_unknown`, because letting an unknown state in could admit a deleted
    /// tenant.
    #[serde(other)]
    Unknown,
}

impl TenantStatus {
    /// The status named by the tenant service: `active` (or `enabled`, `trial`) is active,
    /// `suspended` (or `disabled`, `inactive`) suspended, anything else unknown.
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "active" | "enabled" | "trial" => Self::Active,
            "suspended" | "disabled" | "inactive" => Self::Suspended,
            _ => Self::Unknown,
        }
    }

    /// Admits an active tenant, or says why not.
    pub fn admit(self, tenant: &str) -> Result<(), crate::Error> {
        match self {
            Self::Active => Ok(()),
            Self::Suspended => Err(crate::Error::forbidden(
                Code::TenantSuspended,
                format!("tenant {tenant:?} is suspended; contact the operator"),
            )),
            Self::Unknown => Err(crate::Error::forbidden(
                Code::TenantStatusUnknown,
                format!("tenant {tenant:?} has a status this service does not know; contact the operator"),
            )),
        }
    }
}

/// A tenant's limits (SPEC §6.2 `TenantQuota`). Zero means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    /// Recommend requests per second (sustained; a second's worth may come at once).
    pub recommend_per_second: f64,
    /// Behavior events per second, counted per event (a batch of 100 takes 100).
    pub events_per_second: f64,
    /// Scenarios the tenant may have.
    pub max_scenarios: u64,
    /// Items per scenario.
    pub max_items: u64,
    /// Analytics queries per second (dashboards, trends, distributions, top items, funnels):
    /// each can scan a year of rollups, so a tenant's share of the CPU is bounded here.
    pub analytics_per_second: f64,
}

/// A tenant as the tenant service (or the registry) describes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TenantInfo {
    pub name: String,
    pub status: TenantStatus,
    pub quota: Quota,
}

/// A user as the user service describes them: free profile fields, of which `age`, `gender` and
/// `location` feed ranking features.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserInfo {
    pub profile: BTreeMap<String, String>,
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_active_statuses_are_admitted() {
        assert_eq!(TenantStatus::parse(" Active "), TenantStatus::Active);
        assert_eq!(TenantStatus::parse("disabled"), TenantStatus::Suspended);
        for raw in ["deleted", "", "actve", "closed"] {
            assert_eq!(TenantStatus::parse(raw), TenantStatus::Unknown, "{raw:?}");
            assert_eq!(TenantStatus::parse(raw).admit("t").unwrap_err().code(), "tenant_status_unknown");
        }
        assert!(TenantStatus::Active.admit("t").is_ok());
        assert_eq!(serde_json::from_str::<TenantStatus>("\"deleted\"").unwrap(), TenantStatus::Unknown);
    }
}
