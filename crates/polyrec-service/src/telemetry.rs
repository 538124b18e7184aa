//! The metrics helpers the services share: a bounded tenant label for per-tenant series and the
//! cache hit counter. Exporting them (Prometheus) and traces (OTLP) is the server's part.

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;
use polyrec_core::TenantId;

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
    fn tenant_labels_stop_growing_at_the_bound() {
        let labels: HashSet<String> =
            (0..MAX_TENANT_LABELS + 50).map(|i| tenant_label(&TenantId::parse(format!("t{i}")).unwrap())).collect();
        assert!(labels.len() <= MAX_TENANT_LABELS + 1, "{}", labels.len());
        assert!(labels.contains("other"));
        assert_eq!(tenant_label(&TenantId::parse("t0").unwrap()), "t0", "a labelled tenant keeps its label");
    }
}
