//! What building a learned ranker's rows costs per request: the feature space of
//! `bench/scenario_learned.json` (two numeric item features, category, tags, the user's favourite
//! categories), its vocabularies fitted on 50,000 observations of a 100,000-item catalog shaped
//! like `bench/gen_data.py`'s (50 categories, 200 tags, one to three tags an item), and requests
//! of 316 random candidates for users with full profiles (100 recent items, 20 category scores,
//! 200 tag scores), one thread. Prints rows per second and µs per request.
//!
//! ```text
//! cargo run --release -p polyrec-engine --example feature_bench -- [--batch 316] [--requests 3000]
//! ```

use std::time::Instant;

use polyrec_core::clock::HOUR_MS;
use polyrec_core::item::ItemInput;
use polyrec_core::scenario::{FeatureSpec, FeatureType, FeaturesConfig};
use polyrec_core::{Item, ScenarioId, UserId, UserProfile};
use polyrec_engine::features::{FeatureSpace, Observation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

const ITEMS: usize = 100_000;
const CATEGORIES: usize = 50;
const TAGS: usize = 200;
const NOW_MS: i64 = 1_750_000_000_000;

fn spec(name: &str, feature_type: FeatureType) -> FeatureSpec {
    FeatureSpec { name: name.into(), feature_type, weight: 1.0 }
}

fn items(rng: &mut StdRng) -> Vec<Item> {
    (0..ITEMS)
        .map(|i| {
            let tags: Vec<String> =
                (0..rng.random_range(1..=3)).map(|_| format!("t{}", rng.random_range(0..TAGS))).collect();
            let metadata = json!({
                "category": format!("c{}", rng.random_range(0..CATEGORIES)),
                "tags": tags,
                "duration": rng.random_range(5..600),
                "completion_rate": rng.random::<f64>(),
                "publish_time": NOW_MS - rng.random_range(0..30 * 24 * HOUR_MS),
            });
            let input = ItemInput {
                item_id: format!("i{i}"),
                metadata: metadata.as_object().unwrap().clone(),
                embedding: None,
                status: None,
            };
            input.into_item(&ScenarioId::parse("bench_learned").unwrap(), 0).expect("a valid item")
        })
        .collect()
}

fn profile(rng: &mut StdRng, user: usize) -> UserProfile {
    let mut p = UserProfile::empty(UserId::parse(format!("u{user}")).unwrap(), ScenarioId::parse("s").unwrap());
    p.features.total_impressions = rng.random_range(0..5_000);
    p.features.total_watch_count = rng.random_range(0..500);
    p.features.active_hours = (0..24).map(|_| rng.random_range(0..50)).collect();
    p.features.recent_items = (0..100).map(|_| format!("i{}", rng.random_range(0..ITEMS))).collect();
    for _ in 0..20 {
        p.preferences
            .category_scores
            .insert(format!("c{}", rng.random_range(0..CATEGORIES)), rng.random::<f64>() * 10.0);
    }
    for t in 0..TAGS {
        p.preferences.tag_scores.insert(format!("t{t}"), rng.random::<f64>());
    }
    p.features.favorite_categories = p.preferences.category_scores.keys().take(5).cloned().collect();
    p
}

#[derive(clap::Parser)]
struct Args {
    /// Candidates a request.
    #[arg(long, default_value_t = 316)]
    batch: usize,
    /// Requests timed.
    #[arg(long, default_value_t = 3_000)]
    requests: usize,
}

fn main() {
    let Args { batch, requests } = clap::Parser::parse();
    let mut rng = StdRng::seed_from_u64(7);
    let catalog = items(&mut rng);
    let profiles: Vec<UserProfile> = (0..1_000).map(|u| profile(&mut rng, u)).collect();
    let context: Map<String, Value> =
        json!({"device_type": "mobile", "location": "CN-BJ"}).as_object().unwrap().clone();
    let mut space = FeatureSpace::new(&FeaturesConfig {
        item_features: vec![
            spec("duration", FeatureType::Numeric),
            spec("completion_rate", FeatureType::Numeric),
            spec("category", FeatureType::Categorical),
            spec("tags", FeatureType::MultiCategorical),
        ],
        user_features: vec![spec("favorite_categories", FeatureType::MultiCategorical)],
    });
    let fitted: Vec<(usize, usize)> =
        (0..50_000).map(|_| (rng.random_range(0..ITEMS), rng.random_range(0..profiles.len()))).collect();
    space.fit(fitted.iter().map(|&(item, user)| Observation {
        item: &catalog[item],
        profile: Some(&profiles[user]),
        context: &context,
        at_ms: NOW_MS,
    }));
    let requests: Vec<(usize, Vec<usize>)> = (0..requests)
        .map(|_| (rng.random_range(0..profiles.len()), (0..batch).map(|_| rng.random_range(0..ITEMS)).collect()))
        .collect();
    let run = || {
        let mut checksum = 0f64;
        for (user, candidates) in &requests {
            let mut data = space.empty_data();
            space
                .push_items(
                    &mut data,
                    candidates.iter().map(|&i| &catalog[i]),
                    Some(&profiles[*user]),
                    &context,
                    NOW_MS,
                )
                .expect("valid rows");
            checksum += data.numeric.iter().filter(|x| x.is_finite()).map(|&x| f64::from(x)).sum::<f64>();
            checksum += data.categorical.iter().map(|&c| f64::from(c)).sum::<f64>();
        }
        checksum
    };
    run(); // warm
    let started = Instant::now();
    let checksum = run();
    let elapsed = started.elapsed().as_secs_f64();
    let rows = (requests.len() * batch) as f64;
    println!(
        "feature rows: {:.0} rows/s, {:.1} µs a request of {batch} candidates ({} requests, checksum {checksum:.6e})",
        rows / elapsed,
        elapsed / requests.len() as f64 * 1e6,
        requests.len()
    );
}
