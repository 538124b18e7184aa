//! The model registry's records (SPEC §4.1 `model_configs`) and the training jobs that produce
//! them (the role Celery tasks play, DESIGN §5).
//!
//! A trained model is an artifact in the blob store plus a [`ModelRecord`]: its version, the
//! parameters it was trained with, the offline metrics measured on held-out data, and a status.
//! At most one version per (scenario, model name) serves: the `active` one with the latest
//! `activated_ms` (a write that activates one version and retires the others is two document
//! writes; readers resolve an interrupted pair by that rule).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ScenarioId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Recall,
    Rank,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Serves (the latest activated one, if a crash left two).
    Active,
    /// Registered, not serving; can be activated (or rolled back to).
    Inactive,
}

/// One trained version of one model of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRecord {
    #[schema(value_type = String)]
    pub scenario_id: ScenarioId,
    pub model_type: ModelKind,
    /// One of `polyrec_engine::learned::LEARNED`.
    pub model_name: String,
    /// `v1`, `v2`, … in training order per (scenario, model name).
    pub model_version: String,
    /// The number in `model_version`.
    pub sequence: u64,
    /// Where the artifact is, in the blob store.
    pub model_path: String,
    /// The parameters it was trained with, and what it was trained on.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Offline metrics on held-out data (`ndcg@10`, `auc`, `log_loss`, …).
    pub metrics: BTreeMap<String, f64>,
    pub status: ModelStatus,
    /// The training job that produced it.
    pub job_id: String,
    pub created_ms: i64,
    /// When it was last activated (never: `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_ms: Option<i64>,
}

impl ModelRecord {
    pub fn version_name(sequence: u64) -> String {
        format!("v{sequence}")
    }
}

/// Whether a version named in a config (`rank.version`, e.g. `v2.0` as in the specification's
/// examples) names the registry version `version` (`v2`): equal, or the same number with a
/// zero minor part.
pub fn same_version(pin: &str, version: &str) -> bool {
    if pin == version {
        return true;
    }
    let number = |v: &str| -> Option<u64> {
        let v = v.strip_prefix('v').unwrap_or(v);
        let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
        (minor.chars().all(|c| c == '0') && !minor.is_empty()).then_some(())?;
        major.parse().ok()
    };
    number(pin).is_some_and(|n| number(version) == Some(n))
}

/// Which of a model's versions serves: the active one activated last.
pub fn serving_version(versions: &[ModelRecord]) -> Option<&ModelRecord> {
    versions.iter().filter(|m| m.status == ModelStatus::Active).max_by_key(|m| (m.activated_ms, m.sequence))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed)
    }
}

/// A training job: what it trains, how far it is, and what it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub job_id: String,
    #[schema(value_type = String)]
    pub scenario_id: ScenarioId,
    /// `train`.
    pub kind: String,
    /// The models asked for; empty means every model the scenario's config uses.
    pub models: Vec<String>,
    /// `api`, `cli`, `schedule`.
    pub trigger: String,
    /// Whether its recall models search their hyperparameters on a validation split (`POST
    /// …/jobs/train`, `polyrec train`); otherwise each is fitted with its serving version's, or
    /// the defaults (the schedule's rounds, the synchronous `POST …/jobs/cf`).
    #[serde(default)]
    pub tune: bool,
    pub state: JobState,
    /// 0 to 1.
    pub progress: f64,
    /// What it is doing now (`reading events`, `training als`, …).
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The stable code of `error` (`no_training_data`, `internal`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The versions it registered, model name → version.
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// Counts of what it trained on (interactions, users, items, impressions).
    #[serde(default)]
    pub data: BTreeMap<String, u64>,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
    /// Refreshed while it runs; a running job whose heartbeat stopped lost its process.
    pub heartbeat_ms: i64,
    /// How many times a worker has claimed it (a claim whose worker died is retried, up to a
    /// limit).
    #[serde(default)]
    pub attempts: u32,
    /// The process that holds it while it runs (its instance id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Bumped by every write: the job queue's compare-and-swap token, so a worker that lost its
    /// claim (its lease ran out and another took the job) can no longer write the record.
    #[serde(default)]
    pub revision: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_name_versions_with_or_without_a_zero_minor() {
        assert!(same_version("v2", "v2"));
        assert!(same_version("v2.0", "v2"));
        assert!(same_version("2", "v2"));
        assert!(!same_version("v2.1", "v2"));
        assert!(!same_version("v1.0", "v2"));
        assert!(!same_version("latest", "v2"));
    }
}
