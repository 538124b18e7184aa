//! Bounds on what a tenant sends that are shared by several services (the HTTP and gRPC edges,
//! the stream jobs, the importers): documented in the README's "Limits" and in `/openapi.json`.

use serde::de::DeserializeOwned;
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

/// Checks a JSON object a tenant sent (`context`, `metadata`) against the depth bound, and that
/// no key, however deep, holds a NUL character ([`nul_key`]).
pub fn check_depth(what: &str, map: &serde_json::Map<String, Value>) -> Result<(), String> {
    let depth = map.values().map(json_depth).max().unwrap_or(0) + 1;
    if depth > MAX_JSON_DEPTH {
        return Err(format!("{what} nests {depth} levels deep; the limit is {MAX_JSON_DEPTH}"));
    }
    match nul_key(map) {
        Some(key) => Err(format!("{what} has the key {key:?}, with a NUL character; keys cannot hold one")),
        None => Ok(()),
    }
}

/// The first key, however deep in `map`, that holds a NUL character. MongoDB keeps keys as C
/// strings, so no document holding one can be written there (an item, a dead letter of the
/// event); the edge refuses them and the MongoDB store checks what it writes. Iterative.
pub fn nul_key(map: &serde_json::Map<String, Value>) -> Option<&str> {
    let mut pending = vec![map];
    while let Some(map) = pending.pop() {
        if let Some(key) = map.keys().find(|key| key.contains('\0')) {
            return Some(key);
        }
        let mut children: Vec<&Value> = map.values().collect();
        while let Some(child) = children.pop() {
            match child {
                Value::Object(map) => pending.push(map),
                Value::Array(values) => children.extend(values),
                _ => {}
            }
        }
    }
    None
}

/// The length in bytes of `value` as compact JSON, counted without building the text.
pub fn json_len(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// Parses `text` into `T`, taking a whole number written as a float (`294.0`, `1e3`) where `T`
/// wants an integer: JSON Schema, and so every client generated from `/openapi.json`, calls
/// `294.0` an integer; serde's integers do not take it. serde's own parse comes first; only a text
/// that fails it is read again with its whole floats (up to 2^53, where a float is exact) made
/// integers, so a body that parses costs nothing more. A field that wants a float takes either.
pub fn from_json_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str(text).or_else(|first| {
        let Ok(mut value) = serde_json::from_str::<Value>(text) else { return Err(first) };
        if !whole_floats_to_integers(&mut value) {
            return Err(first);
        }
        serde_json::from_str(&value.to_string())
    })
}

/// [`from_json_str`] for a value already parsed.
pub fn from_json_value<T: DeserializeOwned>(mut value: Value) -> serde_json::Result<T> {
    T::deserialize(&value).or_else(|first| {
        if !whole_floats_to_integers(&mut value) {
            return Err(first);
        }
        T::deserialize(value)
    })
}

/// Rewrites every float of `value` that is a whole number within ±2^53 as an integer; whether it
/// rewrote any. Iterative, like [`json_depth`].
pub fn whole_floats_to_integers(value: &mut Value) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let mut changed = false;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => pending.extend(map.values_mut()),
            Value::Array(items) => pending.extend(items.iter_mut()),
            Value::Number(number) if number.is_f64() => {
                let float = number.as_f64().unwrap_or(f64::NAN);
                if float.fract() == 0.0 && float.abs() <= EXACT {
                    *number = if float >= 0.0 { (float as u64).into() } else { (float as i64).into() };
                    changed = true;
                }
            }
            _ => {}
        }
    }
    changed
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
    #[test]
    fn whole_floats_parse_as_integers_and_nothing_else_changes() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Body {
            count: usize,
            offset: i64,
            weight: f64,
        }
        let body: Body = super::from_json_str(r#"{"count": 294.0, "offset": -3e0, "weight": 2.0}"#).unwrap();
        assert_eq!(body, Body { count: 294, offset: -3, weight: 2.0 });
        // What is not a whole number, or is past where a float is exact, is still refused.
        for text in [r#"{"count": 2.5, "offset": 0, "weight": 0}"#, r#"{"count": 1e300, "offset": 0, "weight": 0}"#] {
            assert!(super::from_json_str::<Body>(text).is_err(), "{text}");
        }
        let err = super::from_json_str::<Body>(r#"{"count": 1.0, "offset": "x", "weight": 0}"#).unwrap_err();
        assert!(err.to_string().contains("expected i64"), "{err}");
    }

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
        let nul = serde_json::json!({"a": [1, {"b": {"c\u{0}d": 1}}]});
        assert_eq!(nul_key(nul.as_object().unwrap()), Some("c\u{0}d"));
        assert_eq!(json_len(&nul), nul.to_string().len());
        assert!(check_depth("context", nul.as_object().unwrap()).unwrap_err().contains("NUL"));
    }
}
