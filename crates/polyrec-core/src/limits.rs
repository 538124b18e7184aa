//! Bounds on what a tenant sends that are shared by several services (the HTTP and gRPC edges,
//! the stream jobs, the importers): documented in the README's "Limits" and in `/openapi.json`.

use serde_json::Value;

pub use crate::event::MAX_EVENT_VALUE;

/// The deepest nesting of objects and arrays in an event's `context` or an item's `metadata`
/// (`{"a": {"b": 1}}` is 2 deep).
pub const MAX_JSON_DEPTH: usize = 8;

/// How deeply `value` nests objects and arrays; a scalar is 0 deep. Iterative, so a hostile
/// document cannot exhaust the stack here.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// Checks a JSON object a tenant sent (`context`, `metadata`) against the depth bound.
pub fn check_depth(what: &str, map: &serde_json::Map<String, Value>) -> Result<(), String> {
    let depth = map.values().map(json_depth).max().unwrap_or(0) + 1;
    if depth > MAX_JSON_DEPTH {
        return Err(format!("{what} nests {depth} levels deep; the limit is {MAX_JSON_DEPTH}"));
    }
    Ok(())
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` deletes, anything else replaces.
/// (Recursion is bounded by the patch's depth, which the JSON parser caps at 128.)
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn depth_counts_objects_and_arrays() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!({"a": 1})), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": 2}]})), 3);
        let nine = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": [1]}}}}}}}});
        assert!(check_depth("context", nine.as_object().unwrap()).is_err());
        let eight = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}});
        assert!(check_depth("context", eight.as_object().unwrap()).is_ok());
    }
}
