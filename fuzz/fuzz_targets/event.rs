//! Events as they come off the bus or a client: any bytes parse or fail cleanly, and an event
//! that passes `check_applicable` keeps every sum a stream job makes of it finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyrec_core::limits::{MAX_JSON_DEPTH, check_depth, json_depth};
use polyrec_core::timefmt::parse_timestamp;
use polyrec_core::{Event, EventType, TenantId};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        if event.check_applicable().is_ok() {
            let value = event.value.unwrap_or(0.0);
            // A million of the largest values still sums to a finite number.
            assert!((value * 1e6).is_finite(), "{value}");
            assert!(event.timestamp_ms >= 0);
        }
        assert!(event.is_for("warehouse_sink") || event.replay_for.is_some());
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        // Whatever a client sends as a timestamp is parsed or refused, never a panic.
        let _ = parse_timestamp(&value);
        if let Value::Object(map) = &value {
            let depth = map.values().map(json_depth).max().unwrap_or(0) + 1;
            assert_eq!(check_depth("context", map).is_ok(), depth <= MAX_JSON_DEPTH && !nul_key(&value));
        }
        if let Some(text) = value.as_str() {
            let _ = EventType::parse(text);
            if let Ok(id) = TenantId::parse(text) {
                assert!(!id.as_str().contains(':') && !id.as_str().chars().all(|c| c == '.'));
            }
        }
    }
});

/// Whether any key, however deep, holds a NUL (which `check_depth` refuses). Recursive: serde_json
/// parsed the value, so it is at most 128 deep.
fn nul_key(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, value)| key.contains('\0') || nul_key(value)),
        Value::Array(values) => values.iter().any(nul_key),
        _ => false,
    }
}
