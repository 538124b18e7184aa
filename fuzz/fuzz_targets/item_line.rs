//! One line of an NDJSON item import (`POST …/items/bulk`, `polyrec import items`): any bytes
//! are an item or a refusal, never a panic, and an item taken keeps every bound the item
//! service promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyrec_core::item::{ItemInput, MAX_EMBEDDING_DIM, MAX_EMBEDDING_VALUE, MAX_METADATA_BYTES};
use polyrec_core::limits::{MAX_JSON_DEPTH, json_depth};
use polyrec_core::{Item, ScenarioId};

fuzz_target!(|data: &[u8]| {
    let line = data.strip_suffix(b"\r").unwrap_or(data);
    let Ok(input) = serde_json::from_slice::<ItemInput>(line) else { return };
    let scenario = ScenarioId::parse("feed").unwrap();
    let Ok(item) = input.into_item(&scenario, 1_768_471_350_000) else { return };
    assert!(serde_json::to_string(&item.metadata).unwrap().len() <= MAX_METADATA_BYTES);
    assert!(json_depth(&serde_json::Value::Object(item.metadata.clone())) <= MAX_JSON_DEPTH);
    if let Some(embedding) = &item.embedding {
        assert!((1..=MAX_EMBEDDING_DIM).contains(&embedding.len()));
        assert!(embedding.iter().all(|x| x.is_finite() && x.abs() <= MAX_EMBEDDING_VALUE));
        // Inner products over the whole embedding stay finite.
        let dot: f32 = embedding.iter().map(|x| x * x).sum();
        assert!(dot.is_finite());
    }
    assert_ne!(item.item_id.as_str(), "bulk");
    // What is stored reads back the same.
    let stored = serde_json::to_string(&item).unwrap();
    let read: Item = serde_json::from_str(&stored).unwrap();
    assert_eq!(read.item_id, item.item_id);
});
