//! The metrics helpers the services share: a bounded tenant label for per-tenant series and the
//! cache hit counter. Exporting them (Prometheus) and traces (OTLP) is the server's part.

use std::collections::{HashMap, HashSet};
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
/// …and at most this many of one tenant's scenarios, so that one tenant creating scenarios
/// cannot take every label and leave the others' scenarios unlabelled.
pub const MAX_SCENARIO_LABELS_PER_TENANT: usize = 50;

/// The scenarios labelled so far, per tenant label, and how many in all.
#[derive(Default)]
struct ScenarioLabels {
    by_tenant: HashMap<String, HashSet<String>>,
    total: usize,
}

/// The (tenant, scenario) label values of per-scenario series: the tenant's [`tenant_label`], and
/// the scenario's id while its tenant has fewer than [`MAX_SCENARIO_LABELS_PER_TENANT`] and the
/// process fewer than [`MAX_SCENARIO_LABELS`] labelled (and the tenant has a label of its own),
/// else `other`.
pub fn scenario_labels(tenant: &TenantId, scenario: &ScenarioId) -> (String, String) {
    static LABELLED: OnceLock<Mutex<ScenarioLabels>> = OnceLock::new();
    let tenant_label = tenant_label(tenant);
    let scenario_label = bounded_scenario(&mut LABELLED.get_or_init(Default::default).lock(), &tenant_label, scenario);
    (tenant_label, scenario_label)
}

/// The scenario label of [`scenario_labels`] given the pairs labelled so far.
fn bounded_scenario(labelled: &mut ScenarioLabels, tenant_label: &str, scenario: &ScenarioId) -> String {
    if tenant_label == "other" {
        return "other".to_owned();
    }
    let full = labelled.total >= MAX_SCENARIO_LABELS;
    let scenarios = labelled.by_tenant.entry(tenant_label.to_owned()).or_default();
    if scenarios.contains(scenario.as_str()) {
        return scenario.to_string();
    }
    if full || scenarios.len() >= MAX_SCENARIO_LABELS_PER_TENANT {
        return "other".to_owned();
    }
    scenarios.insert(scenario.to_string());
    labelled.total += 1;
    scenario.to_string()
}

/// Counts `events` of a scenario as the recommendation-metrics job folds them
/// (`polyrec_recommendation_events_total{tenant, scenario, kind}`, `kind` one of impressions,
/// clicks, views, conversions, engagements): CTR is clicks over impressions, the conversion rate
/// conversions over impressions.
pub fn recommendation_events(tenant: &TenantId, scenario: &ScenarioId, kind: &'static str, events: u64) {
    let (tenant, scenario) = scenario_labels(tenant, scenario);
    metrics::counter!("polyrec_recommendation_events_total", "tenant" => tenant, "scenario" => scenario, "kind" => kind)
        .increment(events);
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
        let mut labelled = ScenarioLabels::default();
        let scenario = |i: usize| ScenarioId::parse(format!("s{i}")).unwrap();
        // Tenants t0, t1, … with as many scenarios as one tenant may label, past the total bound.
        let pairs = (0..MAX_SCENARIO_LABELS + 50).map(|i| {
            (format!("t{}", i / MAX_SCENARIO_LABELS_PER_TENANT), scenario(i % MAX_SCENARIO_LABELS_PER_TENANT))
        });
        let labels: HashSet<(String, String)> = pairs
            .map(|(tenant, scenario)| {
                let label = bounded_scenario(&mut labelled, &tenant, &scenario);
                if label == "other" { ("any".to_owned(), label) } else { (tenant, label) }
            })
            .collect();
        assert_eq!(labels.len(), MAX_SCENARIO_LABELS + 1);
        assert!(labels.contains(&("any".to_owned(), "other".to_owned())));
        assert_eq!(bounded_scenario(&mut labelled, "t0", &scenario(0)), "s0", "a labelled pair keeps its label");
        assert_eq!(bounded_scenario(&mut labelled, "u", &scenario(0)), "other", "the bound is over every tenant");
        assert_eq!(
            bounded_scenario(&mut ScenarioLabels::default(), "other", &scenario(0)),
            "other",
            "an unlabelled tenant"
        );
    }

    #[test]
    fn one_tenant_cannot_take_every_scenario_label() {
        let mut labelled = ScenarioLabels::default();
        let scenario = |i: usize| ScenarioId::parse(format!("s{i}")).unwrap();
        let greedy: HashSet<String> =
            (0..MAX_SCENARIO_LABELS).map(|i| bounded_scenario(&mut labelled, "greedy", &scenario(i))).collect();
        assert_eq!(greedy.len(), MAX_SCENARIO_LABELS_PER_TENANT + 1, "its own cap, then `other`");
        assert_eq!(bounded_scenario(&mut labelled, "quiet", &scenario(7)), "s7", "another tenant still gets labels");
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
