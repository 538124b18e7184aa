//! Scenario configs and the merge patches of `PATCH /api/v1/scenarios/{id}`: any document is
//! validated into a config or a list of errors with JSON paths, never a panic, and a config that
//! validates validates again after a round trip through its own JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyrec_core::limits::merge_patch;
use polyrec_engine::validate::validate_config;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<Value>(data) else { return };
    // The document as a whole config, and as a patch over a valid one.
    let base = json!({
        "recall": {"strategies": [{"name": "hot_items", "weight": 1.0, "limit": 50}]},
        "rank": {"model": "weighted"},
        "rerank": {"rules": [{"name": "diversity", "weight": 0.3}]}
    });
    let mut patched = base.clone();
    merge_patch(&mut patched, &document);
    for config in [&document, &patched] {
        match validate_config(config) {
            Ok(valid) => {
                let again = serde_json::to_value(&valid).expect("a valid config serializes");
                assert!(validate_config(&again).is_ok(), "round trip of {config} failed");
            }
            Err(errors) => assert!(!errors.errors.is_empty() || !errors.unavailable.is_empty()),
        }
    }
});
