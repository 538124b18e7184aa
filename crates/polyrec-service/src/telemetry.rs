//! The metrics helpers the services share: a bounded tenant label for per-tenant series and the
//! cache hit counter. Exporting them (Prometheus) and traces (OTLP) is the server's part.

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;
use polyrec_core::{ScenarioId, TenantId};

/// Per-tenant series carry the tenant as a label for at most this many tenants per process;
/// the rest are counted as `other`, so a flood of tenant ids cannot blow up the metrics.
pub const MAX_TENANT_LABELS: usize = 100;

/// The label value of `tenant` on per-tenant series: its id while fewer than
/// [`MAX_TENANT_LABELS`] tenants have been labelled, else `other`.
pub fn tenant_label(tenant: &TenantId) -> String {
    static LABELLED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut labelled = LABELLED.get_or_init(Default::default).lock();
    if labelled.contains(tenant.as_str()) {
        return tenant.to_string();
    }
    if labelled.len() < MAX_TENANT_LABELS {
        labelled.insert(tenant.to_string());
        return tenant.to_string();
    }
    "other".to_owned()
}

/// Per-scenario series carry the scenario as a label for at most this many (tenant, scenario)
/// pairs per process; the rest are counted as scenario `other` (of their tenant's label).
pub const MAX_SCENARIO_LABELS: usize = 500;

/// The (tenant, scenario) label values of per-scenario series: the tenant's [`tenant_label`], and
/// the scenario's id while fewer than [`MAX_SCENARIO_LABELS`] pairs have been labelled (and the
/// tenant has a label of its own), else `other`.
pub fn scenario_labels(tenant: &TenantId, scenario: &ScenarioId) -> (String, String) {
    static LABELLED: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    let tenant_label = tenant_label(tenant);
    let scenario_label = bounded_scenario(&mut LABELLED.get_or_init(Default::default).lock(), &tenant_label, scenario);
    (tenant_label, scenario_label)
}

/// The scenario label of [`scenario_labels`] given the set of pairs labelled so far.
fn bounded_scenario(labelled: &mut HashSet<(String, String)>, tenant_label: &str, scenario: &ScenarioId) -> String {
    if tenant_label == "other" {
        return "other".to_owned();
    }
    let key = (tenant_label.to_owned(), scenario.to_string());
    if labelled.contains(&key) || labelled.len() < MAX_SCENARIO_LABELS {
        labelled.insert(key);
        return scenario.to_string();
    }
    "other".to_owned()
}

/// Counts events of a scenario as the recommendation-metrics job folds them
/// (`polyrec_recommendation_events_total{tenant, scenario, kind}`, `kind` one of impressions,
/// clicks, views, conversions, engagements): CTR is clicks over impressions, the conversion rate
/// conversions over impressions.
pub fn recommendation_event(tenant: &TenantId, scenario: &ScenarioId, kind: &'static str) {
    let (tenant, scenario) = scenario_labels(tenant, scenario);
    metrics::counter!("polyrec_recommendation_events_total", "tenant" => tenant, "scenario" => scenario, "kind" => kind)
        .increment(1);
}

/// Counts a lookup in one of the caches (`polyrec_cache_lookups_total{cache, result}`): the hit
/// ratio is `hit / (hit + miss)`.
pub fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!("polyrec_cache_lookups_total", "cache" => cache, "result" => if hit { "hit" } else { "miss" })
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_labels_stop_growing_at_the_bound() {
        let mut labelled = HashSet::new();
        let scenario = |i: usize| ScenarioId::parse(format!("s{i}")).unwrap();
        let labels: HashSet<String> =
            (0..MAX_SCENARIO_LABELS + 50).map(|i| bounded_scenario(&mut labelled, "t", &scenario(i))).collect();
        assert_eq!(labels.len(), MAX_SCENARIO_LABELS + 1);
        assert!(labels.contains("other"));
        assert_eq!(bounded_scenario(&mut labelled, "t", &scenario(0)), "s0", "a labelled pair keeps its label");
        assert_eq!(bounded_scenario(&mut labelled, "u", &scenario(0)), "other", "the bound is over every tenant");
        assert_eq!(bounded_scenario(&mut HashSet::new(), "other", &scenario(0)), "other", "an unlabelled tenant");
    }

    #[test]
    fn tenant_labels_stop_growing_at_the_bound() {
        let labels: HashSet<String> =
            (0..MAX_TENANT_LABELS + 50).map(|i| tenant_label(&TenantId::parse(format!("t{i}")).unwrap())).collect();
        assert!(labels.len() <= MAX_TENANT_LABELS + 1, "{}", labels.len());
        assert!(labels.contains("other"));
        assert_eq!(tenant_label(&TenantId::parse("t0").unwrap()), "t0", "a labelled tenant keeps its label");
    }
}
