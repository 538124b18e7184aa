//! The polyrec services without a transport.
//!
//! - [`app`]: the [`App`] — the stores (private to this crate), the caches in front of them and
//!   what the jobs share with the request path, as named components.
//! - [`service`]: the scenario, item, behavior, recommendation, model, experiment and analytics
//!   services: every rule of the API is here, so the HTTP routes and the gRPC methods of
//!   `polyrec-server` give the same answer for the same case.
//! - [`jobs`]: the four stream jobs of SPEC §3.4 on the event bus, training and the schedule.
//! - [`internal`]: the service tokens of internal calls between the split services.
//! - [`tenancy`]: bearer tokens, tenant and user information, quotas as rate limits.
//! - [`sources`]: what the recommendation path reads from the other services, one trait per
//!   service (in process: the document store; split: gRPC clients given by `polyrec-server`).
//!
//! **Architecture invariant:** this crate knows no transport — its `Cargo.toml` has no axum,
//! tonic or hyper — and reads no store outside the tenant a service function is given first.
//!
//! [`TenantId`]: polyrec_core::TenantId

pub mod app;
pub mod blocking;
pub mod config;
pub mod internal;
pub mod jobs;
pub mod service;
pub mod sources;
pub mod telemetry;
pub mod tenancy;

pub use app::{App, Remote};
pub use config::{ServerConfig, StorageConfig};
