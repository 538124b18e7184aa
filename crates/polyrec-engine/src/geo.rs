//! Items by distance, for the `location` recall: an R*-tree (`rstar`) over the points of the unit
//! sphere. Each latitude/longitude becomes a 3-D unit vector; the straight-line (chord) distance
//! between two such vectors grows with the great-circle distance, so the tree's nearest-first walk
//! in Euclidean space is the nearest-first walk on the globe — across the antimeridian and at the
//! poles too, where a tree over raw degrees would be wrong.

use std::sync::Arc;

use polyrec_core::Item;
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// The mean Earth radius (IUGG), in km.
pub const EARTH_RADIUS_KM: f64 = 6_371.008_8;
/// Half the Earth's circumference: no two points are farther apart.
pub const MAX_DISTANCE_KM: f64 = std::f64::consts::PI * EARTH_RADIUS_KM;

type Point = GeomWithData<[f64; 3], u32>;

/// Whether a latitude and longitude in degrees name a point.
pub fn valid(lat: f64, lon: f64) -> bool {
    lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0
}

fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// The great-circle distance in km whose chord on the unit sphere has this squared length.
fn km_of_chord_2(chord_2: f64) -> f64 {
    2.0 * (chord_2.sqrt() / 2.0).min(1.0).asin() * EARTH_RADIUS_KM
}

/// The squared chord on the unit sphere of a great-circle distance in km.
fn chord_2_of_km(km: f64) -> f64 {
    let chord = 2.0 * (km.min(MAX_DISTANCE_KM) / EARTH_RADIUS_KM / 2.0).sin();
    chord * chord
}

/// The items of a catalog snapshot that carry valid coordinates, by place.
#[derive(Debug)]
pub struct GeoIndex {
    tree: RTree<Point>,
    items: Vec<Arc<Item>>,
}

impl GeoIndex {
    /// Indexes the items whose `lat_field` and `lon_field` are numbers (or numeric strings) of a
    /// valid point; the others are left out.
    pub fn build<'a>(items: impl IntoIterator<Item = &'a Arc<Item>>, lat_field: &str, lon_field: &str) -> Self {
        let mut indexed = Vec::new();
        let mut points = Vec::new();
        for item in items {
            if let (Some(lat), Some(lon)) = (item.number(lat_field), item.number(lon_field))
                && valid(lat, lon)
            {
                points.push(Point::new(unit_vector(lat, lon), indexed.len() as u32));
                indexed.push(item.clone());
            }
        }
        Self { tree: RTree::bulk_load(points), items: indexed }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The indexed items within `radius_km` of the point, nearest first, with their distance in
    /// km. Lazy: a caller that stops after `k` items pays for about `k` tree steps.
    pub fn nearest(&self, lat: f64, lon: f64, radius_km: f64) -> impl Iterator<Item = (&Arc<Item>, f64)> + '_ {
        let limit = chord_2_of_km(radius_km);
        self.tree
            .nearest_neighbor_iter_with_distance_2(&unit_vector(lat, lon))
            .take_while(move |(_, chord_2)| *chord_2 <= limit)
            .map(|(point, chord_2)| (&self.items[point.data as usize], km_of_chord_2(chord_2)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::item;
    use serde_json::json;

    /// The great-circle (haversine) distance in km between two points in degrees: the reference
    /// the index's chord distances are checked against.
    fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (b.1 - a.1).to_radians();
        let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * h.sqrt().min(1.0).asin() * EARTH_RADIUS_KM
    }

    const PARIS: (f64, f64) = (48.8566, 2.3522);
    const LYON: (f64, f64) = (45.764, 4.8357);

    #[test]
    fn distances_match_known_values() {
        // Paris–Lyon is about 392 km; a quarter of a great circle is 10,007.5 km.
        assert!((distance_km(PARIS, LYON) - 392.0).abs() < 2.0, "{}", distance_km(PARIS, LYON));
        assert!((distance_km((0.0, 0.0), (0.0, 90.0)) - MAX_DISTANCE_KM / 2.0).abs() < 1e-6);
        for km in [0.0, 0.001, 1.0, 392.0, 10_000.0, MAX_DISTANCE_KM] {
            assert!((km_of_chord_2(chord_2_of_km(km)) - km).abs() < 1e-6 * km.max(1.0), "{km}");
        }
    }

    #[test]
    fn the_walk_is_nearest_first_and_equals_a_scan_of_every_item() {
        // Points over the whole globe (poles and the antimeridian included): the index's answer
        // within each radius is exactly the brute-force haversine answer, in its order.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let items: Vec<_> = (0..2_000)
            .map(|i| {
                let (lat, lon) = (next() * 180.0 - 90.0, next() * 360.0 - 180.0);
                item(&format!("i{i}"), 0, 0, json!({"lat": lat, "lon": lon}))
            })
            .collect();
        let index = GeoIndex::build(&items, "lat", "lon");
        assert_eq!(index.len(), 2_000);
        for (lat, lon, radius) in [(0.0, 179.9, 1_500.0), (89.9, 0.0, 2_000.0), (-45.0, -60.0, 800.0), PARIS_R] {
            let mut truth: Vec<(f64, &str)> = items
                .iter()
                .map(|it| {
                    (
                        distance_km((lat, lon), (it.number("lat").unwrap(), it.number("lon").unwrap())),
                        it.item_id.as_str(),
                    )
                })
                .filter(|(d, _)| *d <= radius)
                .collect();
            truth.sort_by(|a, b| a.0.total_cmp(&b.0));
            let found: Vec<(f64, &str)> =
                index.nearest(lat, lon, radius).map(|(it, d)| (d, it.item_id.as_str())).collect();
            assert!(!truth.is_empty());
            assert_eq!(found.iter().map(|f| f.1).collect::<Vec<_>>(), truth.iter().map(|t| t.1).collect::<Vec<_>>());
            for (f, t) in found.iter().zip(&truth) {
                assert!((f.0 - t.0).abs() < 1e-6, "{} vs {}", f.0, t.0);
            }
        }
    }
    const PARIS_R: (f64, f64, f64) = (PARIS.0, PARIS.1, 3_000.0);

    #[test]
    fn items_without_a_valid_point_are_left_out() {
        let items = [
            item("ok", 0, 0, json!({"lat": 1.0, "lon": 2.0})),
            item("text", 0, 0, json!({"lat": "1.5", "lon": "2.5"})),
            item("no_lon", 0, 0, json!({"lat": 1.0})),
            item("off_globe", 0, 0, json!({"lat": 91.0, "lon": 0.0})),
            item("not_a_number", 0, 0, json!({"lat": "north", "lon": 0.0})),
        ];
        let index = GeoIndex::build(&items, "lat", "lon");
        let ids: Vec<_> = index.nearest(1.0, 2.0, MAX_DISTANCE_KM).map(|(it, _)| it.item_id.as_str()).collect();
        assert_eq!(ids, ["ok", "text"]);
    }
}
