//! Whole-config validation (SPEC §5): every problem of a config, each with its JSON path, in one
//! answer. Two phases, like ripgrep's low/high args: the shape and ranges are checked on the raw
//! JSON (so one bad field does not hide the others), then every strategy is built from its typed
//! params exactly as the request path will build it.

use polyrec_core::Code;
use polyrec_core::limits::merge_patch;
use polyrec_core::{Error, ExperimentGroup, FieldError, ScenarioConfig};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Pipeline;

pub const MAX_RECALL_STRATEGIES: usize = 16;
pub const MAX_RECALL_LIMIT: u64 = 2_000;
pub const MAX_TIMEOUT_MS: u64 = 5_000;
pub const MAX_FEATURE_WEIGHT: f64 = 100.0;
pub const MAX_RERANK_RULES: usize = 16;
/// The most problems one answer lists; past it one more says how many were left out. A config
/// of a million unknown keys costs a short answer, not a million-line one.
pub const MAX_CONFIG_ERRORS: usize = 100;

/// A config that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors {
    pub errors: Vec<FieldError>,
    /// The model the config names that this build leaves out (a cargo feature it lacks).
    pub unavailable: Vec<String>,
}

/// The largest config, as JSON: far past any real one (a few KiB; long `in` lists of business
/// rules make tens), and every saved version is kept.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// Validates a whole `config` value; `Ok` is the typed config, ready to compile.
pub fn validate_config(config: &Value) -> Result<ScenarioConfig, ConfigErrors> {
    let size = polyrec_core::limits::json_len(config);
    if size > MAX_CONFIG_BYTES {
        let message = format!("the config is {size} bytes as JSON; at most {MAX_CONFIG_BYTES}");
        return Err(ConfigErrors { errors: vec![FieldError::new("config", message)], unavailable: Vec::new() });
    }
    // A count or a param written `537.0` is the integer 537 (JSON Schema's reading, and so every
    // generated client's), here and in each strategy's typed params.
    let mut whole = config.clone();
    polyrec_core::limits::whole_floats_to_integers(&mut whole);
    let config = &whole;
    let mut errors = Vec::new();
    check_shape(config, &mut errors);
    if errors.is_empty() {
        match ScenarioConfig::deserialize(config) {
            Ok(typed) => match Pipeline::compile(&typed) {
                Ok(_) => return Ok(typed),
                Err(build_errors) => errors.extend(capped(build_errors)),
            },
            Err(error) => errors.push(FieldError::new("config", error.to_string())),
        }
    }
    Err(ConfigErrors { errors, unavailable: crate::registry::unavailable_names(config) })
}

/// The last problem of an answer that lists [`MAX_CONFIG_ERRORS`]: how many more there are.
fn left_out(more: usize) -> FieldError {
    FieldError::new("config", format!("and {more} more problems, not listed; fix the ones above first"))
}

/// At most [`MAX_CONFIG_ERRORS`] of `errors`, and [`left_out`] for the rest.
fn capped(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    if errors.len() > MAX_CONFIG_ERRORS {
        let more = errors.len() - MAX_CONFIG_ERRORS;
        errors.truncate(MAX_CONFIG_ERRORS);
        errors.push(left_out(more));
    }
    errors
}

struct Checker<'a> {
    errors: &'a mut Vec<FieldError>,
    /// Problems found past [`MAX_CONFIG_ERRORS`], counted, not listed.
    left_out: usize,
}

impl Checker<'_> {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() < MAX_CONFIG_ERRORS {
            self.errors.push(FieldError::new(path, message));
        } else {
            self.left_out += 1;
        }
    }

    /// Closes the answer: one more problem saying how many were not listed, if any were not.
    fn finish(self) {
        if self.left_out > 0 {
            self.errors.push(left_out(self.left_out));
        }
    }

    fn object<'v>(&mut self, value: &'v Value, path: &str, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(object) = value.as_object() else {
            self.error(path, format!("must be an object, got {}", kind(value)));
            return None;
        };
        for key in object.keys().filter(|key| !allowed.contains(&key.as_str())) {
            self.error(format!("{path}.{key}"), format!("unknown field; allowed here: {}", allowed.join(", ")));
        }
        Some(object)
    }

    fn required<'v>(&mut self, object: &'v Map<String, Value>, path: &str, key: &str) -> Option<&'v Value> {
        let value = object.get(key);
        if value.is_none() {
            self.error(format!("{path}.{key}"), "missing required field");
        }
        value
    }

    fn string(&mut self, value: Option<&Value>, path: &str) {
        match value {
            Some(Value::String(s)) if s.trim().is_empty() => self.error(path, "must not be empty"),
            Some(Value::String(_)) | None => {}
            Some(other) => self.error(path, format!("must be a string, got {}", kind(other))),
        }
    }

    /// A string that may also be absent or `null` (an `Option<String>` of the typed config).
    fn optional_string(&mut self, value: Option<&Value>, path: &str) {
        if !matches!(value, Some(Value::Null)) {
            self.string(value, path);
        }
    }

    fn number_in(&mut self, value: Option<&Value>, path: &str, low: f64, high: f64) {
        match value {
            None => {}
            Some(Value::Number(n)) => {
                let n = n.as_f64().unwrap_or(f64::NAN);
                if !(low..=high).contains(&n) {
                    self.error(path, format!("must be between {low} and {high}, got {n}"));
                }
            }
            Some(other) => self.error(path, format!("must be a number between {low} and {high}, got {}", kind(other))),
        }
    }

    fn integer_in(&mut self, value: Option<&Value>, path: &str, low: u64, high: u64) {
        match value {
            None => {}
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                let n = n.as_u64().unwrap_or_default();
                if !(low..=high).contains(&n) {
                    self.error(path, format!("must be between {low} and {high}, got {n}"));
                }
            }
            Some(other) => self.error(path, format!("must be an integer between {low} and {high}, got {other}")),
        }
    }

    fn params(&mut self, value: Option<&Value>, path: &str) {
        if let Some(value) = value
            && !value.is_object()
        {
            self.error(path, format!("must be an object, got {}", kind(value)));
        }
    }

    /// The entries of an array of at most `max`; past it, an error and only the first `max`
    /// (checked for their own problems: the rest are not looked at, so a long array costs no
    /// more than a full one).
    fn array<'v>(&mut self, value: Option<&'v Value>, path: &str, max: usize) -> &'v [Value] {
        match value {
            None => &[],
            Some(Value::Array(items)) => {
                if items.len() > max {
                    self.error(path, format!("at most {max} entries, got {}", items.len()));
                }
                &items[..items.len().min(max)]
            }
            Some(other) => {
                self.error(path, format!("must be an array, got {}", kind(other)));
                &[]
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const FEATURE_TYPES: [&str; 4] = ["numeric", "categorical", "multi_categorical", "timestamp"];

fn check_shape(config: &Value, errors: &mut Vec<FieldError>) {
    let mut c = Checker { errors, left_out: 0 };
    check_sections(&mut c, config);
    c.finish();
}

fn check_sections(c: &mut Checker<'_>, config: &Value) {
    let Some(root) = c.object(config, "config", &["features", "recall", "rank", "rerank", "cache"]) else { return };

    if let Some(features) = root.get("features")
        && let Some(features) = c.object(features, "config.features", &["item_features", "user_features"])
    {
        for side in ["item_features", "user_features"] {
            let path = format!("config.features.{side}");
            for (index, feature) in c.array(features.get(side), &path, 64).iter().enumerate() {
                let path = format!("{path}[{index}]");
                let Some(feature) = c.object(feature, &path, &["name", "type", "weight"]) else { continue };
                let name = c.required(feature, &path, "name");
                c.string(name, &format!("{path}.name"));
                match c.required(feature, &path, "type") {
                    Some(Value::String(t)) if FEATURE_TYPES.contains(&t.as_str()) => {}
                    Some(other) => c.error(
                        format!("{path}.type"),
                        format!("unknown feature type {other}; known: {}", FEATURE_TYPES.join(", ")),
                    ),
                    None => {}
                }
                c.number_in(feature.get("weight"), &format!("{path}.weight"), 0.0, MAX_FEATURE_WEIGHT);
            }
        }
    }

    match root.get("recall") {
        None => c.error("config.recall", "missing required section: at least one recall strategy"),
        Some(recall) => {
            if let Some(recall) = c.object(recall, "config.recall", &["strategies"]) {
                let strategies =
                    c.array(c_get(recall, "strategies"), "config.recall.strategies", MAX_RECALL_STRATEGIES);
                if strategies.is_empty() {
                    c.error("config.recall.strategies", "must list at least one recall strategy");
                }
                let mut names = Vec::new();
                for (index, strategy) in strategies.iter().enumerate() {
                    let path = format!("config.recall.strategies[{index}]");
                    let allowed = ["name", "weight", "limit", "timeout_ms", "params"];
                    let Some(strategy) = c.object(strategy, &path, &allowed) else { continue };
                    let name = c.required(strategy, &path, "name");
                    c.string(name, &format!("{path}.name"));
                    if let Some(name) = name.and_then(Value::as_str) {
                        if names.contains(&name) {
                            c.error(format!("{path}.name"), format!("`{name}` is listed twice; each channel once"));
                        }
                        names.push(name);
                    }
                    // A number, or "auto": fitted by the training job.
                    let weight = c.required(strategy, &path, "weight");
                    match weight {
                        Some(Value::String(text)) if text == "auto" => {}
                        Some(Value::String(text)) => c.error(
                            format!("{path}.weight"),
                            format!("must be a number between 0 and 1 or \"auto\", got the string {text:?}"),
                        ),
                        _ => c.number_in(weight, &format!("{path}.weight"), 0.0, 1.0),
                    }
                    let limit = c.required(strategy, &path, "limit");
                    c.integer_in(limit, &format!("{path}.limit"), 1, MAX_RECALL_LIMIT);
                    let timeout = strategy.get("timeout_ms").filter(|t| !t.is_null());
                    c.integer_in(timeout, &format!("{path}.timeout_ms"), 1, MAX_TIMEOUT_MS);
                    c.params(strategy.get("params"), &format!("{path}.params"));
                }
            }
        }
    }

    match root.get("rank") {
        None => c.error("config.rank", "missing required section: name a rank model, e.g. {\"model\": \"weighted\"}"),
        Some(rank) => {
            if let Some(rank) = c.object(rank, "config.rank", &["model", "version", "objective", "params"]) {
                let model = c.required(rank, "config.rank", "model");
                c.string(model, "config.rank.model");
                c.optional_string(rank.get("version"), "config.rank.version");
                c.optional_string(rank.get("objective"), "config.rank.objective");
                c.params(rank.get("params"), "config.rank.params");
            }
        }
    }

    if let Some(rerank) = root.get("rerank")
        && let Some(rerank) = c.object(rerank, "config.rerank", &["rules"])
    {
        for (index, rule) in c.array(rerank.get("rules"), "config.rerank.rules", MAX_RERANK_RULES).iter().enumerate() {
            let path = format!("config.rerank.rules[{index}]");
            let Some(rule) = c.object(rule, &path, &["name", "weight", "params"]) else { continue };
            let name = c.required(rule, &path, "name");
            c.string(name, &format!("{path}.name"));
            c.number_in(rule.get("weight"), &format!("{path}.weight"), 0.0, 1.0);
            c.params(rule.get("params"), &format!("{path}.params"));
        }
    }
    check_cache(c, root);
}

fn check_cache(c: &mut Checker<'_>, root: &Map<String, Value>) {
    let Some(cache) = root.get("cache") else { return };
    let Some(cache) = c.object(cache, "config.cache", &["enabled", "ttl_seconds"]) else { return };
    if let Some(enabled) = cache.get("enabled")
        && !enabled.is_boolean()
    {
        c.error("config.cache.enabled", format!("must be true or false, got {}", kind(enabled)));
    }
    c.integer_in(
        cache.get("ttl_seconds"),
        "config.cache.ttl_seconds",
        1,
        polyrec_core::scenario::MAX_CACHE_TTL_SECONDS,
    );
}

fn c_get<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key)
}

/// The most groups an experiment has.
pub const MAX_GROUPS: usize = 10;
/// The most experiments a scenario has, drafts and stopped ones included: every process keeps
/// all of a scenario's experiments in memory (to stamp events with their users' groups), so a
/// tenant creating experiments without end would grow every process.
pub const MAX_EXPERIMENTS_PER_SCENARIO: usize = 100;
/// Ratios may sum to 1 within this (decimal fractions such as 0.1 + 0.2 do not add up exactly).
const RATIO_SLACK: f64 = 1e-9;

/// [`validate_config`] as the services answer it: a `422 invalid_config` with every problem at
/// its JSON path.
pub fn check_config(config: &Value) -> Result<ScenarioConfig, Error> {
    validate_config(config).map_err(|problems| {
        let mut message = format!(
            "the scenario config has {} problem{}; see `errors` for each, with its JSON path",
            problems.errors.len(),
            if problems.errors.len() == 1 { "" } else { "s" }
        );
        if !problems.unavailable.is_empty() {
            message.push_str(&format!(
                "; not in this build: {} (build polyrec with the model's cargo feature, e.g. `cargo build --release \
                 --features lightgbm`, or use the Docker image; or name another model)",
                problems.unavailable.join(", ")
            ));
        }
        Error::Validation { code: Code::InvalidConfig, message, errors: problems.errors }
    })
}

/// Checks groups, ratios, each group's merged config, and the times.
pub fn check_experiment(
    base: &ScenarioConfig,
    groups: &[ExperimentGroup],
    start: Option<i64>,
    end: Option<i64>,
) -> Result<(), Error> {
    if groups.is_empty() || groups.len() > MAX_GROUPS {
        return Err(Error::invalid(
            Code::InvalidGroups,
            format!("an experiment has 1 to {MAX_GROUPS} groups, got {}", groups.len()),
        ));
    }
    let mut errors = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        if let Err(e) = polyrec_core::ids::check_id("group_id", Code::InvalidGroupId, &group.group_id) {
            errors.push(FieldError::new(format!("groups[{i}].group_id"), e.to_string()));
        }
        if groups[..i].iter().any(|g| g.group_id == group.group_id) {
            errors
                .push(FieldError::new(format!("groups[{i}].group_id"), format!("{:?} is used twice", group.group_id)));
        }
        if !(group.traffic_ratio.is_finite() && group.traffic_ratio > 0.0 && group.traffic_ratio <= 1.0) {
            errors.push(FieldError::new(
                format!("groups[{i}].traffic_ratio"),
                format!("must be in (0, 1], got {}", group.traffic_ratio),
            ));
        }
        if !group.config.is_object() {
            errors.push(FieldError::new(
                format!("groups[{i}].config"),
                "must be an object (a merge patch of the scenario's config)",
            ));
            continue;
        }
        if let Err(problems) = group_config(base, group).map(|_| ()) {
            let Error::Validation { errors: found, .. } = problems else { return Err(problems) };
            errors.extend(found.into_iter().map(|e| {
                let path = e.path.strip_prefix("config").unwrap_or(&e.path).to_owned();
                FieldError::new(format!("groups[{i}].config{path}"), e.message)
            }));
        }
    }
    let sum: f64 = groups.iter().map(|g| g.traffic_ratio).sum();
    if sum > 1.0 + RATIO_SLACK {
        errors.push(FieldError::new(
            "groups",
            format!("traffic ratios sum to {sum}; they must sum to at most 1 (the rest is a holdout)"),
        ));
    }
    if let (Some(start), Some(end)) = (start, end)
        && start >= end
    {
        errors.push(FieldError::new("end_time", "must be after start_time"));
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::Validation {
        code: Code::InvalidExperiment,
        message: format!(
            "the experiment has {} problem{}; see `errors` for each, with its JSON path",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ),
        errors,
    })
}

/// A group's config: the scenario's with the group's patch merged in, validated whole.
pub fn group_config(base: &ScenarioConfig, group: &ExperimentGroup) -> Result<ScenarioConfig, Error> {
    let mut config = serde_json::to_value(base).map_err(Error::internal)?;
    merge_patch(&mut config, &group.config);
    check_config(&config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(errors: &ConfigErrors) -> Vec<&str> {
        errors.errors.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn whole_floats_are_integers() {
        let config = json!({
            "recall": {"strategies": [{"name": "latest", "weight": 1, "limit": 50.0, "timeout_ms": 20.0}]},
            "rank": {"model": "weighted"}
        });
        let typed = validate_config(&config).unwrap();
        assert_eq!(typed.recall.strategies[0].limit, 50);
        assert!(
            validate_config(&json!({
                "recall": {"strategies": [{"name": "latest", "weight": 1, "limit": 50.5}]},
                "rank": {"model": "weighted"}
            }))
            .is_err()
        );
    }

    #[test]
    fn a_good_config_passes() {
        let config = json!({
            "features": {"item_features": [{"name": "duration", "type": "numeric", "weight": 1.0}]},
            "recall": {"strategies": [{"name": "hot_items", "weight": 0.5, "limit": 50}]},
            "rank": {"model": "weighted"},
            "rerank": {"rules": [{"name": "freshness", "weight": 0.2, "params": {"decay_days": 7}}]}
        });
        let typed = validate_config(&config).unwrap();
        assert_eq!(typed.recall.strategies[0].limit, 50);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let config = json!({
            "recall": {"strategies": [
                {"name": "hot_items", "weight": 0.5, "limit": 50},
                {"name": "item_cf", "weight": 1.5, "limit": 0},
                {"name": "nope", "weight": 0.1, "limit": 10}
            ]},
            "rank": {"model": "weighted", "colour": "red"},
            "extra": 1
        });
        let errors = validate_config(&config).unwrap_err();
        let paths = paths(&errors);
        for expected in [
            "config.extra",
            "config.recall.strategies[1].weight",
            "config.recall.strategies[1].limit",
            "config.rank.colour",
        ] {
            assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
        }
    }

    /// A config that is all problems is answered with the first ones and a count of the rest,
    /// and of a too-long array only the first entries are looked at (the duplicate-name check
    /// was quadratic in all of them).
    #[test]
    fn a_huge_bad_config_gets_a_short_answer() {
        let strategies: Vec<Value> =
            (0..4_000).map(|i| json!({"name": "hot_items", "weight": 1, "limit": 1, format!("x{i}"): 1})).collect();
        let config = json!({"recall": {"strategies": strategies}, "rank": {"model": "weighted"}});
        assert!(polyrec_core::limits::json_len(&config) < MAX_CONFIG_BYTES);
        let errors = validate_config(&config).unwrap_err().errors;
        assert_eq!(errors[0].path, "config.recall.strategies");
        assert!(errors[0].message.contains("at most 16 entries, got 4000"), "{}", errors[0].message);
        // The 16 looked at: each an unknown field and, all but the first, a name listed twice.
        assert_eq!(errors.len(), 1 + 16 + 15, "{errors:?}");

        let mut config = json!({"recall": {"strategies": [{"name": "hot_items", "weight": 1, "limit": 1}]}});
        for i in 0..10_000 {
            config[format!("x{i}")] = json!(1);
        }
        let errors = validate_config(&config).unwrap_err().errors;
        assert_eq!(errors.len(), MAX_CONFIG_ERRORS + 1);
        assert!(errors[..MAX_CONFIG_ERRORS].iter().all(|e| e.message.starts_with("unknown field")), "{errors:?}");
        // The rank section is missing too: 10,001 problems, 100 listed.
        let last = errors.last().unwrap();
        assert_eq!(last.message, "and 9901 more problems, not listed; fix the ones above first", "{last:?}");

        // Past MAX_CONFIG_BYTES, the size is the one problem (nothing else is looked at).
        let strategies: Vec<Value> =
            (0..8_000).map(|_| json!({"name": "hot_items", "weight": 1, "limit": 1})).collect();
        let errors = validate_config(&json!({"recall": {"strategies": strategies}})).unwrap_err().errors;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "config");
        assert!(errors[0].message.ends_with("as JSON; at most 262144"), "{}", errors[0].message);
    }

    #[test]
    fn unknown_names_list_the_known_ones_and_models_left_out_are_named() {
        let config = json!({
            "recall": {"strategies": [
                {"name": "location", "weight": 0.3, "limit": 150},
                {"name": "magic", "weight": 0.3, "limit": 150}
            ]},
            "rank": {"model": "lightgbm", "version": "v1.0", "objective": "likes"}
        });
        let errors = validate_config(&config).unwrap_err();
        let left_out: &[&str] = if cfg!(feature = "lightgbm") { &[] } else { &["lightgbm"] };
        assert_eq!(errors.unavailable, left_out);
        let paths: Vec<_> = errors.errors.iter().map(|e| e.path.as_str()).collect();
        assert!(!paths.contains(&"config.recall.strategies[0].name"), "location is in the registry: {paths:?}");
        let by_path = |p: &str| errors.errors.iter().find(|e| e.path == p).unwrap().message.clone();
        assert!(by_path("config.recall.strategies[1].name").contains("known: hot_items, hot_news, latest, location"));
        assert!(by_path("config.rank.objective").contains("known: click_rate, watch_time, conversion"));
    }

    #[test]
    fn bad_params_and_missing_sections() {
        let errors = validate_config(&json!({"features": {}})).unwrap_err();
        assert_eq!(paths(&errors), ["config.recall", "config.rank"]);
        let errors = validate_config(&json!({
            "recall": {"strategies": [{"name": "latest", "weight": 0.3, "limit": 10, "params": {"max_age_days": "x"}}]},
            "rank": {"model": "weighted"}
        }))
        .unwrap_err();
        assert_eq!(paths(&errors), ["config.recall.strategies[0].params.max_age_days"]);
    }
}
