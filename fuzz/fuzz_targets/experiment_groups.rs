//! An experiment's groups against a valid scenario config: any groups (ids, traffic ratios,
//! config patches, times) are accepted or refused with JSON paths, never a panic, and groups that
//! pass have ratios that sum to at most 1 and configs that validate on their own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyrec_core::{Code, ExperimentGroup};
use polyrec_engine::validate::{check_config, check_experiment, group_config};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(groups) = serde_json::from_value::<Vec<ExperimentGroup>>(document["groups"].clone()) else { return };
    let start = document["start"].as_i64();
    let end = document["end"].as_i64();
    let base = check_config(&json!({
        "recall": {"strategies": [{"name": "hot_items", "weight": 1.0, "limit": 50}]},
        "rank": {"model": "weighted"}
    }))
    .expect("the base config is valid");
    match check_experiment(&base, &groups, start, end) {
        Ok(()) => {
            let sum: f64 = groups.iter().map(|g| g.traffic_ratio).sum();
            assert!(sum <= 1.0 + 1e-9 && groups.iter().all(|g| g.traffic_ratio > 0.0), "{sum}");
            for group in &groups {
                assert!(group_config(&base, group).is_ok());
            }
        }
        Err(error) => assert!(
            matches!(
                error.code(),
                Code::InvalidGroups | Code::InvalidExperiment | Code::InvalidConfig | Code::InvalidGroupId
            ),
            "{error:?}"
        ),
    }
});
