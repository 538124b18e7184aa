//! A/B experiments between scenario configurations (SPEC §4.1 `experiments`, §5).
//!
//! An experiment splits a scenario's users into groups, each with a config override that is
//! merged (RFC 7386) into the scenario's config for that user's requests. Assignment is a pure
//! function of (tenant, experiment, user): the same user is in the same group for the
//! experiment's whole life, in every process, without storing anything; the traffic ratios may
//! sum to less than 1, and the rest is a holdout served the scenario's own config.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ScenarioId, TenantId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    /// Created, not serving yet; groups and times can change.
    Draft,
    /// Assigning users (between its start and end times).
    Running,
    /// Ended; kept for its results.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentGroup {
    pub group_id: String,
    /// The share of the scenario's users in this group, in (0, 1].
    pub traffic_ratio: f64,
    /// A merge patch of the scenario's config (`{}` for a control group).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Experiment {
    pub experiment_id: String,
    #[schema(value_type = String)]
    pub scenario_id: ScenarioId,
    pub name: String,
    pub groups: Vec<ExperimentGroup>,
    pub status: ExperimentStatus,
    /// Assigns users only from this time on (epoch ms), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    /// And until this time, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// Grows by one with every change.
    pub version: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Experiment {
    /// Whether it assigns users at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.status == ExperimentStatus::Running
            && self.start_ms.is_none_or(|start| now_ms >= start)
            && self.end_ms.is_none_or(|end| now_ms < end)
    }

    /// The user's group, or `None` for the holdout (the ratios' remainder).
    pub fn assign(&self, tenant: &TenantId, user: &UserId) -> Option<&ExperimentGroup> {
        let point = bucket(tenant.as_str(), &self.experiment_id, user.as_str());
        let mut upper = 0.0;
        for group in &self.groups {
            upper += group.traffic_ratio;
            if point < upper {
                return Some(group);
            }
        }
        None
    }
}

/// A point in [0, 1) from (tenant, experiment, user): FNV-1a over the three ids (with separators
/// that ids cannot contain), finished with a 64-bit mixer so that nearby ids spread evenly.
/// Stable across processes, builds and platforms: it is part of the data's meaning.
pub fn bucket(tenant: &str, experiment: &str, user: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [tenant, ":", experiment, ":", user] {
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // splitmix64's finaliser.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(ratios: &[f64]) -> Experiment {
        Experiment {
            experiment_id: "exp1".into(),
            scenario_id: ScenarioId::parse("feed").unwrap(),
            name: "test".into(),
            groups: ratios
                .iter()
                .enumerate()
                .map(|(i, r)| ExperimentGroup { group_id: format!("g{i}"), traffic_ratio: *r, config: empty_object() })
                .collect(),
            status: ExperimentStatus::Running,
            start_ms: None,
            end_ms: None,
            version: 1,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn a_user_keeps_their_group_and_the_split_matches_the_ratios() {
        let tenant = TenantId::parse("t1").unwrap();
        let exp = experiment(&[0.5, 0.3, 0.1]);
        let mut counts = [0usize; 4];
        let n = 100_000;
        for u in 0..n {
            let user = UserId::parse(format!("u{u}")).unwrap();
            let group = exp.assign(&tenant, &user).map(|g| g.group_id.clone());
            assert_eq!(group, exp.assign(&tenant, &user).map(|g| g.group_id.clone()), "stable");
            let slot = group.map_or(3, |g| g[1..].parse::<usize>().unwrap());
            counts[slot] += 1;
        }
        // Each share within 4 standard deviations of its expectation (binomial).
        for (count, ratio) in counts.iter().zip([0.5, 0.3, 0.1, 0.1]) {
            let expected = n as f64 * ratio;
            let sd = (n as f64 * ratio * (1.0 - ratio)).sqrt();
            assert!((*count as f64 - expected).abs() < 4.0 * sd, "{counts:?}");
        }
        // Another experiment shuffles users independently of this one.
        let mut other = exp.clone();
        other.experiment_id = "exp2".into();
        let same = (0..10_000)
            .filter(|u| {
                let user = UserId::parse(format!("u{u}")).unwrap();
                exp.assign(&tenant, &user).map(|g| &g.group_id) == other.assign(&tenant, &user).map(|g| &g.group_id)
            })
            .count();
        // Independent: P(same) = 0.5² + 0.3² + 0.1² + 0.1² = 0.36.
        assert!((3_300..3_900).contains(&same), "{same}");
    }

    #[test]
    fn only_a_running_experiment_inside_its_times_is_live() {
        let mut exp = experiment(&[1.0]);
        exp.start_ms = Some(100);
        exp.end_ms = Some(200);
        assert!(!exp.is_live(99) && exp.is_live(100) && exp.is_live(199) && !exp.is_live(200));
        exp.status = ExperimentStatus::Stopped;
        assert!(!exp.is_live(150));
    }
}
