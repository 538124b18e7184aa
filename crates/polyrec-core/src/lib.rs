//! Domain types of polyrec: ids, events, items, scenarios and their configuration, user
//! profiles, the error type every service shares, and the clock.
//!
//! This crate performs no I/O and knows no storage engine or transport. Everything above it
//! (storage, engine, server) speaks in these types, so a tenant id, an event or a config means
//! the same thing on every path.
//!
//! Time is milliseconds since the Unix epoch (`i64`) everywhere inside the system; the HTTP layer
//! accepts RFC 3339 strings or epoch numbers and answers RFC 3339. All "now" comes from a
//! [`Clock`], so windows, TTLs and decay are testable without sleeping.

pub mod clock;
pub mod code;
pub mod error;
pub mod event;
pub mod experiment;
pub mod ids;
pub mod item;
pub mod limits;
pub mod math;
pub mod model;
pub mod profile;
pub mod scenario;
pub mod stats;
pub mod tenant;
pub mod timefmt;

pub use clock::{Clock, ManualClock, SystemClock};
pub use code::Code;
pub use error::{Error, FieldError, Result};
pub use event::{DeadLetter, Event, EventType};
pub use experiment::{Experiment, ExperimentGroup, ExperimentStatus};
pub use ids::{ItemId, ScenarioId, TenantId, UserId};
pub use item::{Item, ItemStatus};
pub use model::{JobRecord, JobState, ModelKind, ModelRecord, ModelStatus};
pub use profile::UserProfile;
pub use scenario::{ChannelWeight, Scenario, ScenarioConfig, ScenarioStatus};
pub use tenant::{Quota, TenantInfo, TenantStatus, UserInfo};
