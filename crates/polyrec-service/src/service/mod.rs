//! The services of SPEC §3.1, free of any transport. Each takes the tenant first; request and
//! response bodies are defined here (with their OpenAPI schemas) so every transport shares them.

pub mod analytics;
pub mod behaviors;
pub mod experiments;
pub mod items;
pub mod models;
pub mod realtime;
pub mod recommend;
pub mod records;
pub mod scenarios;

use polyrec_core::Code;
use polyrec_core::Error;
use serde_json::Value;

pub use polyrec_core::limits::merge_patch;

/// Parses a JSON value into a body type, as a 422 with serde's words (which name the field).
pub fn parse_body<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    polyrec_core::limits::from_json_value(value).map_err(|e| Error::invalid(Code::InvalidBody, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(&mut doc, &json!({"a": null, "b": {"c": 5}, "e": [2], "f": "new"}));
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "e": [2], "f": "new"}));
    }
}
