//! `location`: items near the request's place, two ways, either or both per request:
//!
//! - **by region**: items whose `metadata.<field>` equals the request's `context.<context_key>`
//!   (both default to `location`; the user service's profile fills `context.location` when the
//!   request has none), newest first, score 1;
//! - **by distance**: when the request's context has `<lat_field>` and `<lon_field>` (default
//!   `lat`, `lon`, degrees) and items carry the same metadata fields, the items within
//!   `radius_km` (default 50), nearest first, scored 1 − distance / radius (an R*-tree over the
//!   catalog snapshot, see [`crate::geo`]).
//!
//! An item found both ways keeps the higher score. A request with neither gets nothing from this
//! channel; a request whose coordinates are not a point on the globe makes the channel fail with
//! `invalid_context` (shown by `explain`), the other channels still answer.

use crate::catalog::CatalogIndex;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use async_trait::async_trait;
use polyrec_core::code::Code;
use polyrec_core::{Error, Item, Result, ScenarioConfig};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::Value;

use crate::geo::{MAX_DISTANCE_KM, valid};
use crate::pipeline::{Hit, Recall, RequestContext};
use crate::registry::{BuildError, parse_params, positive};

/// The longest metadata or context field name the params may name.
const MAX_FIELD_LEN: usize = 128;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    #[serde(default = "default_location")]
    pub field: String,
    #[serde(default = "default_location")]
    pub context_key: String,
    #[serde(default = "default_lat")]
    pub lat_field: String,
    #[serde(default = "default_lon")]
    pub lon_field: String,
    #[serde(default = "default_radius")]
    pub radius_km: f64,
}

fn default_location() -> String {
    "location".into()
}
fn default_lat() -> String {
    "lat".into()
}
fn default_lon() -> String {
    "lon".into()
}
fn default_radius() -> f64 {
    50.0
}

pub struct Location {
    config: LocationConfig,
}

pub fn build(params: &Value, _: &ScenarioConfig) -> Result<Box<dyn Recall>, BuildError> {
    let config: LocationConfig = parse_params(params)?;
    for (name, value) in [
        ("field", &config.field),
        ("context_key", &config.context_key),
        ("lat_field", &config.lat_field),
        ("lon_field", &config.lon_field),
    ] {
        if value.is_empty() || value.len() > MAX_FIELD_LEN {
            return Err(BuildError::new(format!("params.{name}"), format!("must be 1 to {MAX_FIELD_LEN} bytes")));
        }
    }
    if config.lat_field == config.lon_field {
        return Err(BuildError::new("params.lon_field", "must differ from lat_field"));
    }
    if !positive(config.radius_km) || config.radius_km > MAX_DISTANCE_KM {
        return Err(BuildError::new("params.radius_km", format!("must be > 0 and at most {MAX_DISTANCE_KM:.0} km")));
    }
    Ok(Box::new(Location { config }))
}

impl Location {
    /// The request's point, if its context has one; an error if it has half of one or a value
    /// that is not a point.
    fn point(&self, ctx: &RequestContext<'_>) -> Result<Option<(f64, f64)>> {
        let (lat_key, lon_key) = (&self.config.lat_field, &self.config.lon_field);
        let (lat, lon) = match (ctx.context.get(lat_key), ctx.context.get(lon_key)) {
            (None, None) => return Ok(None),
            (Some(lat), Some(lon)) => (lat.as_f64(), lon.as_f64()),
            _ => {
                return Err(Error::invalid(
                    Code::InvalidContext,
                    format!("context.{lat_key} and context.{lon_key} go together; the request has one of them"),
                ));
            }
        };
        match (lat, lon) {
            (Some(lat), Some(lon)) if valid(lat, lon) => Ok(Some((lat, lon))),
            _ => Err(Error::invalid(
                Code::InvalidContext,
                format!(
                    "context.{lat_key} must be a number within ±90 and context.{lon_key} within ±180 (degrees); got {} and {}",
                    ctx.context[lat_key], ctx.context[lon_key]
                ),
            )),
        }
    }
}

#[async_trait]
impl Recall for Location {
    fn catalog_indexes(&self) -> Vec<CatalogIndex> {
        vec![
            CatalogIndex::Field(self.config.field.clone()),
            CatalogIndex::Places(self.config.lat_field.clone(), self.config.lon_field.clone()),
        ]
    }

    async fn recall(&self, ctx: &RequestContext<'_>, limit: usize) -> Result<Vec<Hit>> {
        let point = self.point(ctx)?;
        let region = ctx.context.get(&self.config.context_key).and_then(Value::as_str);
        // Each hit's position by the address of its catalog entry; first-found order is kept, so
        // equal scores keep a stable order.
        let mut position: FxHashMap<usize, usize> = FxHashMap::default();
        let mut hits: Vec<Hit> = Vec::new();
        let mut offer = |item: &Arc<Item>, score: f64, hits: &mut Vec<Hit>| {
            let id = item.item_id.as_str();
            if ctx.exclude.contains(id) || ctx.is_recent(id) {
                return;
            }
            match position.entry(Arc::as_ptr(item) as usize) {
                Entry::Occupied(at) => hits[*at.get()].1 = hits[*at.get()].1.max(score),
                Entry::Vacant(slot) => {
                    slot.insert(hits.len());
                    hits.push((item.clone(), score));
                }
            }
        };
        let by_field;
        if let Some(region) = region {
            by_field = ctx.catalog.by_field(&self.config.field);
            for item in
                by_field.get(region).into_iter().flatten().take(limit + ctx.exclude.len() + ctx.recent_items.len())
            {
                offer(item, 1.0, &mut hits);
            }
        }
        let places;
        if let Some((lat, lon)) = point {
            places = ctx.catalog.places(&self.config.lat_field, &self.config.lon_field);
            let radius = self.config.radius_km;
            for (item, km) in places.nearest(lat, lon, radius).take(limit + ctx.exclude.len() + ctx.recent_items.len())
            {
                // Never 0: an item at the edge of the radius is still a candidate.
                offer(item, (1.0 - km / radius).max(1e-6), &mut hits);
            }
        }
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        hits.truncate(limit);
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, item};
    use crate::recall::test_support::{Fixture, dummy, ids};
    use polyrec_core::ItemStatus;
    use serde_json::json;

    fn fixture() -> Fixture {
        let now = 1_700_000_000_000;
        let mut gone = (*item("gone", now, 0, json!({"location": "lyon", "lat": 45.76, "lon": 4.84}))).clone();
        gone.status = ItemStatus::Inactive;
        Fixture::new(
            now,
            catalog(vec![
                item("lyon_old", now, 48, json!({"location": "lyon"})),
                item("lyon_new", now, 1, json!({"location": "lyon"})),
                item("paris", now, 1, json!({"location": "paris", "lat": 48.8566, "lon": 2.3522})),
                // Lyon's centre, Villeurbanne (4 km), Grenoble (about 95 km).
                item("centre", now, 5, json!({"lat": 45.764, "lon": 4.8357})),
                item("villeurbanne", now, 5, json!({"lat": "45.7667", "lon": "4.8803"})),
                item("grenoble", now, 5, json!({"location": "lyon", "lat": 45.1885, "lon": 5.7245})),
                Arc::new(gone),
            ]),
        )
    }

    #[tokio::test]
    async fn region_matches_come_newest_first_and_points_nearest_first() {
        let mut fx = fixture();
        let strategy = build(&json!({}), &dummy()).unwrap();
        assert!(strategy.recall(&fx.ctx(), 10).await.unwrap().is_empty(), "no place, no items");

        fx.context.insert("location".into(), json!("lyon"));
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["lyon_new", "grenoble", "lyon_old"]);

        fx.context.clear();
        fx.context.insert("lat".into(), json!(45.764));
        fx.context.insert("lon".into(), json!(4.8357));
        let hits = strategy.recall(&fx.ctx(), 10).await.unwrap();
        assert_eq!(ids(&hits), ["centre", "villeurbanne"], "Grenoble is past 50 km, Paris far past");
        assert!(hits[0].1 > 0.99 && hits[1].1 > 0.9 && hits[1].1 < 0.95, "{hits:?}");

        let wide = build(&json!({"radius_km": 500}), &dummy()).unwrap();
        assert_eq!(ids(&wide.recall(&fx.ctx(), 10).await.unwrap()), ["centre", "villeurbanne", "grenoble", "paris"]);
        assert_eq!(ids(&wide.recall(&fx.ctx(), 2).await.unwrap()), ["centre", "villeurbanne"]);

        // Both: a region match scores 1 and a point near the request almost 1.
        fx.context.insert("location".into(), json!("lyon"));
        let both = ids(&wide.recall(&fx.ctx(), 10).await.unwrap()).join(" ");
        assert_eq!(both, "lyon_new grenoble lyon_old centre villeurbanne paris");
    }

    #[tokio::test]
    async fn excluded_recent_and_inactive_items_are_skipped() {
        let mut fx = fixture();
        fx.context.insert("location".into(), json!("lyon"));
        fx.context.insert("lat".into(), json!(45.764));
        fx.context.insert("lon".into(), json!(4.8357));
        fx.exclude.insert("lyon_new".into());
        fx.set_recent(&["centre"]);
        let strategy = build(&json!({"radius_km": 500}), &dummy()).unwrap();
        let found = ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()).join(" ");
        assert_eq!(found, "grenoble lyon_old villeurbanne paris");
    }

    #[tokio::test]
    async fn other_fields_and_keys_are_read_when_named() {
        let now = 0;
        let mut fx = Fixture::new(
            now,
            catalog(vec![
                item("a", now, 0, json!({"city": "oslo", "y": 59.91, "x": 10.75})),
                item("b", now, 0, json!({"location": "oslo", "lat": 59.91, "lon": 10.75})),
            ]),
        );
        let strategy =
            build(&json!({"field": "city", "context_key": "town", "lat_field": "y", "lon_field": "x"}), &dummy())
                .unwrap();
        fx.context.insert("town".into(), json!("oslo"));
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["a"]);
        fx.context.clear();
        fx.context.insert("y".into(), json!(59.9));
        fx.context.insert("x".into(), json!(10.7));
        assert_eq!(ids(&strategy.recall(&fx.ctx(), 10).await.unwrap()), ["a"]);
    }

    #[tokio::test]
    async fn a_bad_point_in_the_request_is_an_invalid_context() {
        let mut fx = fixture();
        let strategy = build(&json!({}), &dummy()).unwrap();
        for (lat, lon, says) in [
            (json!(91.0), json!(0.0), "within ±90"),
            (json!("north"), json!(0.0), "within ±90"),
            (json!(0.0), json!(-180.5), "within ±180"),
            (json!(null), json!(0.0), "within ±90"),
        ] {
            fx.context.insert("lat".into(), lat);
            fx.context.insert("lon".into(), lon);
            let error = strategy.recall(&fx.ctx(), 10).await.unwrap_err();
            assert_eq!(error.code(), Code::InvalidContext);
            assert!(error.to_string().contains(says), "{error}");
        }
        fx.context.remove("lon");
        let error = strategy.recall(&fx.ctx(), 10).await.unwrap_err();
        assert!(error.to_string().contains("go together"), "{error}");
    }

    #[test]
    fn params_are_strict() {
        for (params, path) in [
            (json!({"radius": 5}), "params.radius"),
            (json!({"radius_km": 0}), "params.radius_km"),
            (json!({"radius_km": -1}), "params.radius_km"),
            (json!({"radius_km": 30_000}), "params.radius_km"),
            (json!({"radius_km": "far"}), "params.radius_km"),
            (json!({"field": ""}), "params.field"),
            (json!({"context_key": "k".repeat(129)}), "params.context_key"),
            (json!({"lat_field": "p", "lon_field": "p"}), "params.lon_field"),
        ] {
            let error = build(&params, &dummy()).err().unwrap_or_else(|| panic!("{params} was accepted"));
            assert_eq!(error.sub_path, path, "{params}: {}", error.message);
        }
        assert!(build(&json!({"radius_km": 20_000, "field": "city"}), &dummy()).is_ok());
    }
}
