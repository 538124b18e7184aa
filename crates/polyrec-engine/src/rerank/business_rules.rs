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
    config: BusinessRulesConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Rerank>, BuildError> {
    let config: BusinessRulesConfig = parse_params(params)?;
    for (index, rule) in config.rules.iter().enumerate() {
        let at = |field: &str| format!("params.rules[{index}].{field}");
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
    Ok(Box::new(BusinessRules { config }))
}

fn matches(rule: &RuleConfig, item: &Item) -> bool {
    let field = item.metadata.get(&rule.field);
    let number = || item.number(&rule.field);
    let target = rule.value.as_f64();
    match rule.op {
        Op::Exists => field.is_some_and(|v| !v.is_null()),
        Op::Eq => field == Some(&rule.value),
        Op::Ne => field != Some(&rule.value),
        Op::In => rule.value.as_array().is_some_and(|values| field.is_some_and(|f| values.contains(f))),
        Op::NotIn => !rule.value.as_array().is_some_and(|values| field.is_some_and(|f| values.contains(f))),
        Op::Contains => field.and_then(Value::as_array).is_some_and(|values| values.contains(&rule.value)),
        Op::Gt => matches!((number(), target), (Some(n), Some(t)) if n > t),
        Op::Gte => matches!((number(), target), (Some(n), Some(t)) if n >= t),
        Op::Lt => matches!((number(), target), (Some(n), Some(t)) if n < t),
        Op::Lte => matches!((number(), target), (Some(n), Some(t)) if n <= t),
    }
}

impl Rerank for BusinessRules {
    fn rerank(&self, _: &RequestContext<'_>, _weight: f64, candidates: &mut Vec<Candidate>) {
        for rule in &self.config.rules {
            match rule.action {
                Action::Filter => candidates.retain(|c| !matches(rule, &c.item)),
                Action::Boost | Action::Bury => {
                    let default = if rule.action == Action::Boost { 1.5 } else { 0.2 };
                    let factor = rule.factor.unwrap_or(default);
                    for candidate in candidates.iter_mut().filter(|c| matches(rule, &c.item)) {
                        candidate.score *= factor;
                    }
                }
                Action::Pin => {
                    for candidate in candidates.iter_mut().filter(|c| matches(rule, &c.item)) {
                        candidate.pin.get_or_insert(rule.position.unwrap_or(0));
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
}
