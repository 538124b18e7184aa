//! `business_rules`: operators' rules on item metadata, applied in order:
//!
//! - `filter`: drop matching items;
//! - `boost`: multiply their score by `factor` (default 1.5);
//! - `bury`: multiply their score by `factor` (default 0.2);
//! - `pin`: put matching items at `position` (0-based) of the answer.
//!
//! A match is `{"field", "op", "value"}` with op one of eq, ne, in, not_in, gt, gte, lt, lte,
//! exists, contains (an array field containing the value).

use polyrec_core::{Item, Result, ScenarioConfig};
use rustc_hash::FxHashSet as HashSet;
use serde::Deserialize;
use serde_json::Value;

use crate::pipeline::{Candidate, RequestContext, Rerank};
use crate::registry::{BuildError, parse_params};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Filter,
    Boost,
    Bury,
    Pin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
    Contains,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub action: Action,
    pub field: String,
    #[serde(default = "default_op")]
    pub op: Op,
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub factor: Option<f64>,
    #[serde(default)]
    pub position: Option<usize>,
}

fn default_op() -> Op {
    Op::Eq
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessRulesConfig {
    pub rules: Vec<RuleConfig>,
}

pub struct BusinessRules {
    rules: Vec<Rule>,
}

/// The most rules one step holds. Every rule is matched against every candidate of every
/// request, so the rules, their values and their `in` lists are bounded, and an `in` list of
/// strings is a hash set: a step costs at most `MAX_RULES` small lookups per candidate.
pub const MAX_RULES: usize = 64;
/// The most values of one `in` or `not_in` list.
pub const MAX_LISTED: usize = 1_024;
/// The largest `value` of a rule, or value of its list, as JSON (labels are at most 256 bytes).
pub const MAX_VALUE_BYTES: usize = 512;
/// The largest `position` of a `pin` (an answer holds at most 500 items).
pub const MAX_POSITION: usize = 1_000;

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    // Counted on the raw params first, so a million rules are refused before they are parsed.
    if let Some(rules) = params.get("rules").and_then(Value::as_array)
        && rules.len() > MAX_RULES
    {
        return Err(BuildError::new("params.rules", format!("at most {MAX_RULES} rules, got {}", rules.len())));
    }
    let config: BusinessRulesConfig = parse_params(params)?;
    for (index, rule) in config.rules.iter().enumerate() {
        let at = |field: &str| format!("params.rules[{index}].{field}");
        let values = rule.value.as_array().map_or(std::slice::from_ref(&rule.value), Vec::as_slice);
        if values.len() > MAX_LISTED {
            return Err(BuildError::new(at("value"), format!("at most {MAX_LISTED} values, got {}", values.len())));
        }
        if values.iter().any(|value| polyrec_core::limits::json_len(value) > MAX_VALUE_BYTES) {
            return Err(BuildError::new(at("value"), format!("each value at most {MAX_VALUE_BYTES} bytes of JSON")));
        }
        if rule.position.is_some_and(|position| position > MAX_POSITION) {
            return Err(BuildError::new(at("position"), format!("at most {MAX_POSITION}")));
        }
        if matches!(rule.op, Op::In | Op::NotIn) && !rule.value.is_array() {
            return Err(BuildError::new(at("value"), "`in` and `not_in` need an array value"));
        }
        if matches!(rule.op, Op::Gt | Op::Gte | Op::Lt | Op::Lte) && !rule.value.is_number() {
            return Err(BuildError::new(at("value"), "comparisons need a number value"));
        }
        if !matches!(rule.op, Op::Exists) && rule.value.is_null() {
            return Err(BuildError::new(at("value"), "missing value to compare with"));
        }
        if let Some(factor) = rule.factor
            && (!matches!(rule.action, Action::Boost | Action::Bury) || !(0.0..=100.0).contains(&factor))
        {
            return Err(BuildError::new(at("factor"), "only boost and bury take a factor, between 0 and 100"));
        }
        if rule.position.is_some() && rule.action != Action::Pin {
            return Err(BuildError::new(at("position"), "only pin takes a position"));
        }
    }
    let rules = config.rules.into_iter().map(Rule::new).collect();
    Ok(Box::new(BusinessRules { rules }))
}

/// A rule with its `in` list ready: the strings in a hash set, the rest (numbers, booleans) in
/// a short list.
struct Rule {
    config: RuleConfig,
    strings: HashSet<String>,
    others: Vec<Value>,
}

impl Rule {
    fn new(config: RuleConfig) -> Rule {
        let (mut strings, mut others) = (HashSet::default(), Vec::new());
        if matches!(config.op, Op::In | Op::NotIn) {
            for value in config.value.as_array().into_iter().flatten() {
                match value {
                    Value::String(text) => {
                        strings.insert(text.clone());
                    }
                    other => others.push(other.clone()),
                }
            }
        }
        Rule { config, strings, others }
    }

    fn listed(&self, field: &Value) -> bool {
        match field {
            Value::String(text) => self.strings.contains(text),
            other => self.others.contains(other),
        }
    }
}

fn matches(rule: &Rule, item: &Item) -> bool {
    let config = &rule.config;
    let field = item.metadata.get(&config.field);
    let number = || item.number(&config.field);
    let target = config.value.as_f64();
    match config.op {
        Op::Exists => field.is_some_and(|v| !v.is_null()),
        Op::Eq => field == Some(&config.value),
        Op::Ne => field != Some(&config.value),
        Op::In => field.is_some_and(|f| rule.listed(f)),
        Op::NotIn => !field.is_some_and(|f| rule.listed(f)),
        Op::Contains => field.and_then(Value::as_array).is_some_and(|values| values.contains(&config.value)),
        Op::Gt => matches!((number(), target), (Some(n), Some(t)) if n > t),
        Op::Gte => matches!((number(), target), (Some(n), Some(t)) if n >= t),
        Op::Lt => matches!((number(), target), (Some(n), Some(t)) if n < t),
        Op::Lte => matches!((number(), target), (Some(n), Some(t)) if n <= t),
    }
}

impl Rerank for BusinessRules {
    fn rerank(&self, _: &RequestContext<'_>, _weight: f64, candidates: &mut Vec<Candidate>) {
        for rule in &self.rules {
            match rule.config.action {
                Action::Filter => candidates.retain(|c| !matches(rule, &c.item)),
                Action::Boost | Action::Bury => {
                    let default = if rule.config.action == Action::Boost { 1.5 } else { 0.2 };
                    let factor = rule.config.factor.unwrap_or(default);
                    for candidate in candidates.iter_mut().filter(|c| matches(rule, &c.item)) {
                        candidate.score *= factor;
                    }
                }
                Action::Pin => {
                    for candidate in candidates.iter_mut().filter(|c| matches(rule, &c.item)) {
                        candidate.pin.get_or_insert(rule.config.position.unwrap_or(0));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::Fixture;
    use crate::recall::test_support::dummy;
    use crate::rerank::test_support::{order, scored};
    use serde_json::json;

    #[test]
    fn filter_boost_bury_and_pin() {
        let now = 0;
        let fx = Fixture::new(
            now,
            catalog(vec![
                item("ad", now, 0, json!({"sponsored": true, "price": 5})),
                item("cheap", now, 0, json!({"price": 1, "tags": ["sale"]})),
                item("adult", now, 0, json!({"rating": "R"})),
                item("plain", now, 0, json!({"price": 50})),
            ]),
        );
        let rules = build(
            &json!({"rules": [
                {"action": "filter", "field": "rating", "op": "in", "value": ["R", "X"]},
                {"action": "boost", "field": "tags", "op": "contains", "value": "sale", "factor": 3},
                {"action": "bury", "field": "price", "op": "gt", "value": 10},
                {"action": "pin", "field": "sponsored", "value": true, "position": 0}
            ]}),
            &dummy(),
        )
        .unwrap();
        let mut list = scored(&fx, &[("plain", 1.0), ("adult", 0.9), ("cheap", 0.5), ("ad", 0.1)]);
        rules.rerank(&fx.ctx(), 1.0, &mut list);
        assert_eq!(order(&list), ["cheap", "plain", "ad"]);
        assert_eq!(list.iter().find(|c| c.item_id() == "ad").unwrap().pin, Some(0));
    }

    #[test]
    fn bad_rules_name_their_field() {
        let error = build(&json!({"rules": [{"action": "filter", "field": "x", "op": "in", "value": 3}]}), &dummy())
            .err()
            .unwrap();
        assert_eq!(error.sub_path, "params.rules[0].value");
        let error =
            build(&json!({"rules": [{"action": "explode", "field": "x", "value": 1}]}), &dummy()).err().unwrap();
        assert_eq!(error.sub_path, "params.rules[0].action");
    }

    /// Rules run on every candidate of every request: their number, their lists, their values
    /// and a pin's position are bounded when the config is saved.
    #[test]
    fn rules_and_their_values_are_bounded() {
        let rule = json!({"action": "filter", "field": "x", "op": "eq", "value": 1});
        let sub_path = |params: Value| build(&params, &dummy()).err().map(|e| (e.sub_path, e.message));
        assert_eq!(sub_path(json!({"rules": vec![rule.clone(); MAX_RULES]})), None);
        let (path, message) = sub_path(json!({"rules": vec![rule; MAX_RULES + 1]})).unwrap();
        assert_eq!((path.as_str(), message.as_str()), ("params.rules", "at most 64 rules, got 65"));
        let listed =
            |n: usize| json!({"rules": [{"action": "filter", "field": "x", "op": "in", "value": vec!["v"; n]}]});
        assert_eq!(sub_path(listed(MAX_LISTED)), None);
        assert_eq!(sub_path(listed(MAX_LISTED + 1)).unwrap().0, "params.rules[0].value");
        let long = "v".repeat(MAX_VALUE_BYTES);
        for value in [json!(long), json!(["a", long])] {
            let params = json!({"rules": [{"action": "filter", "field": "x", "op": "in", "value": value}]});
            assert_eq!(sub_path(params).unwrap().0, "params.rules[0].value");
        }
        let pin =
            |position: usize| json!({"rules": [{"action": "pin", "field": "x", "value": 1, "position": position}]});
        assert_eq!(sub_path(pin(MAX_POSITION)), None);
        assert_eq!(sub_path(pin(usize::MAX)).unwrap().0, "params.rules[0].position");
    }

    /// An `in` list holds strings, numbers and booleans alike, each equal only to itself.
    #[test]
    fn in_lists_match_strings_numbers_and_booleans() {
        let now = 0;
        let fx = Fixture::new(
            now,
            catalog(vec![
                item("s", now, 0, json!({"k": "a"})),
                item("n", now, 0, json!({"k": 2})),
                item("b", now, 0, json!({"k": true})),
                item("other", now, 0, json!({"k": "2"})),
                item("none", now, 0, json!({})),
            ]),
        );
        let rules = build(
            &json!({"rules": [{"action": "filter", "field": "k", "op": "in", "value": ["a", 2, true]}]}),
            &dummy(),
        )
        .unwrap();
        let mut list = scored(&fx, &[("s", 1.0), ("n", 0.9), ("b", 0.8), ("other", 0.7), ("none", 0.6)]);
        rules.rerank(&fx.ctx(), 1.0, &mut list);
        assert_eq!(order(&list), ["other", "none"]);
        let keep = build(
            &json!({"rules": [{"action": "filter", "field": "k", "op": "not_in", "value": ["a", 2, true]}]}),
            &dummy(),
        )
        .unwrap();
        let mut list = scored(&fx, &[("s", 1.0), ("n", 0.9), ("b", 0.8), ("other", 0.7), ("none", 0.6)]);
        keep.rerank(&fx.ctx(), 1.0, &mut list);
        assert_eq!(order(&list), ["s", "n", "b"]);
    }
}
