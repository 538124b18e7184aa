//! Memory of what the engine holds per user, item and model (issue 19, part 6): builds `n` of
//! one kind the way the service holds them and prints the process's resident memory before and
//! after, per unit. One kind and size per process, so each number starts from the same base.
//!
//! ```text
//! cargo run --release -p polyrec --example memory -- profiles 100000
//! cargo run --release -p polyrec --example memory -- catalog 1000000
//! cargo run --release -p polyrec --example memory -- cf 100000
//! ```
//!
//! - `profiles`: `n` user profiles as a busy user's look (100 recent items, 8 categories, 16
//!   tags, 24 hourly windows folded) in the service's profile cache (a moka cache of
//!   `Arc<UserProfile>` by tenant, user and scenario); also the mean size of the JSON the
//!   document store and Redis keep per profile.
//! - `catalog`: `n` items with the metadata of `bench/gen_data.py` (category, 3 tags, duration,
//!   completion rate, publish time) in a scenario's `Catalog`.
//! - `cf`: the item–item and user–user neighbours (`CfModel`) of `n` users over `n` items,
//!   30 interactions per user drawn with a popularity skew.
//! - `ease`: the dense EASE fit over `n` items (5n users, 30 interactions each): its peak over
//!   the input, per item², and the model it keeps.
//!
//! - `hot` (`hot_per_event`: the window the job kept before 2026-12-07): one scenario's
//!   hot-score window under `n` events a second over 100,000 item ids, filled with an hour of
//!   them; then a minute of one flush a second, timed.
//!
//! Prints one JSON line: `{"kind", "n", "rss_before", "rss_after", "bytes_per_unit", ...}`.

use std::sync::Arc;

use polyrec_core::{Item, ItemId, ItemStatus, ScenarioId, TenantId, UserId, UserProfile};
use polyrec_engine::cf::CfParams;
use polyrec_engine::{Catalog, CfModel};
use polyrec_storage::Interaction;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The process's resident bytes (`/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm's resident field");
    pages * 4096
}

/// The process's peak resident bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("kB") * 1024
}

/// A seeded xorshift: the same data every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Skewed towards small values (popular items first).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((u * u * u) * n as f64) as u64
    }
}

fn profile(user: usize, rng: &mut Rng, scenario: &ScenarioId) -> UserProfile {
    let mut profile = UserProfile::empty(UserId::parse(format!("user_{user}")).unwrap(), scenario.clone());
    profile.features.total_watch_count = 120;
    profile.features.total_impressions = 900;
    profile.features.total_watch_value = 5_400.0;
    profile.features.favorite_categories = (0..3).map(|c| format!("category_{c}")).collect();
    profile.features.active_hours = (0..24).map(|h| h as u64 % 5).collect();
    profile.features.recent_items =
        (0..UserProfile::RECENT_ITEMS_CAP).map(|_| format!("item_{}", rng.skewed(100_000))).collect();
    for c in 0..8 {
        profile.preferences.category_scores.insert(format!("category_{c}"), 1.0 + c as f64);
    }
    for t in 0..16 {
        profile.preferences.tag_scores.insert(format!("tag_{}", rng.next() % 200 + t), 0.5);
    }
    for w in 0..24 {
        profile.applied_windows.insert(1_765_000_000_000 + w * 3_600_000, 1_000 + w as u64);
    }
    profile.window_end_ms = 1_765_086_400_000;
    profile.updated_ms = 1_765_086_400_000;
    profile
}

/// A hot-score window: the job's, or the one it kept before 2026-12-07, for comparison.
trait Window {
    fn add(&mut self, item: &str, at_ms: i64, weight: f64) -> bool;
    fn scores(&mut self) -> Vec<(String, f64)>;
}

impl Window for polyrec_server::jobs::HotWindow {
    fn add(&mut self, item: &str, at_ms: i64, weight: f64) -> bool {
        self.add(item, at_ms, weight)
    }

    fn scores(&mut self) -> Vec<(String, f64)> {
        self.scores()
    }
}

/// The window as the job kept it before 2026-12-07: every event of the hour, each decayed at
/// every flush.
#[derive(Default)]
struct PerEvent {
    items: std::collections::HashMap<String, std::collections::VecDeque<(i64, f64)>>,
    end_ms: i64,
}

impl Window for PerEvent {
    fn add(&mut self, item: &str, at_ms: i64, weight: f64) -> bool {
        self.end_ms = self.end_ms.max(at_ms);
        if at_ms <= self.end_ms - 3_600_000 {
            return false;
        }
        self.items.entry(item.to_owned()).or_default().push_back((at_ms, weight));
        true
    }

    fn scores(&mut self) -> Vec<(String, f64)> {
        let (start, end) = (self.end_ms - 3_600_000, self.end_ms);
        self.items.retain(|_, events| {
            events.retain(|(t, _)| *t > start);
            !events.is_empty()
        });
        let decay = |t: i64| (-((end - t).max(0) as f64) / 1_800_000.0).exp();
        self.items
            .iter()
            .map(|(item, events)| (item.clone(), events.iter().map(|(t, w)| w * decay(*t)).sum()))
            .collect()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "profiles".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let scenario = ScenarioId::parse("feed").unwrap();
    let tenant = TenantId::parse("tenant").unwrap();
    let before = rss();
    let mut extra = serde_json::Map::new();
    match kind.as_str() {
        "profiles" => {
            type Entry = (Option<Arc<UserProfile>>, i64);
            let cache: moka::sync::Cache<(TenantId, UserId, ScenarioId), Entry> =
                moka::sync::Cache::builder().max_capacity(n as u64).support_invalidation_closures().build();
            let mut json_bytes = 0usize;
            for user in 0..n {
                let profile = profile(user, &mut rng, &scenario);
                if user % 100 == 0 {
                    json_bytes += serde_json::to_vec(&profile).unwrap().len();
                }
                cache.insert((tenant.clone(), profile.user_id.clone(), scenario.clone()), (Some(Arc::new(profile)), 0));
            }
            cache.run_pending_tasks();
            extra.insert("entries".into(), json!(cache.entry_count()));
            extra.insert("json_bytes_per_profile".into(), json!(json_bytes / n.div_ceil(100)));
            measure(&kind, n, before, extra);
            drop(cache);
        }
        "catalog" => {
            let items: Vec<Arc<Item>> = (0..n)
                .map(|i| {
                    let metadata = json!({
                        "category": format!("category_{}", i % 20),
                        "tags": [format!("tag_{}", i % 200), format!("tag_{}", (i * 7) % 200), format!("tag_{}", (i * 13) % 200)],
                        "duration": 30 + i % 600,
                        "completion_rate": (i % 100) as f64 / 100.0,
                        "publish_time": 1_765_000_000 + i as i64,
                    });
                    Arc::new(Item {
                        item_id: ItemId::parse(format!("item_{i}")).unwrap(),
                        scenario_id: scenario.clone(),
                        metadata: metadata.as_object().unwrap().clone(),
                        embedding: None,
                        status: ItemStatus::Active,
                        created_ms: 0,
                        updated_ms: 0,
                        publish_memo: Default::default(),
                    })
                })
                .collect();
            let started = std::time::Instant::now();
            let catalog = Catalog::build(items);
            extra.insert("build_ms".into(), json!(started.elapsed().as_millis()));
            extra.insert("items".into(), json!(catalog.len()));
            measure(&kind, n, before, extra);
            // The indexes built on first ask (`Catalog::is_built`), timed after the memory is
            // measured, on a line of their own.
            let started = std::time::Instant::now();
            catalog.numeric_column("duration");
            let numeric_ms = started.elapsed().as_millis();
            let started = std::time::Instant::now();
            catalog.by_field("category");
            let field_ms = started.elapsed().as_millis();
            println!(
                "{}",
                json!({"kind": "catalog_indexes", "n": n, "numeric_column_ms": numeric_ms, "field_index_ms": field_ms})
            );
            drop(catalog);
        }
        "cf" => {
            let interactions: Vec<Interaction> = (0..n)
                .flat_map(|user| {
                    let items: Vec<u64> = (0..30).map(|_| rng.skewed(n as u64)).collect();
                    items.into_iter().map(move |item| Interaction {
                        user_id: format!("user_{user}"),
                        item_id: format!("item_{item}"),
                        weight: 1.0,
                        last_ms: 1_765_000_000_000,
                    })
                })
                .collect();
            // The interactions are the job's input, read and dropped; the model is what stays
            // (the allocator is given a moment to return the freed pages). The peak is what the
            // training needed.
            let model = CfModel::train(&interactions, CfParams::default(), 0);
            drop(interactions);
            std::thread::sleep(std::time::Duration::from_millis(500));
            extra.insert("users".into(), json!(model.n_users()));
            extra.insert("items".into(), json!(model.n_items()));
            extra.insert("peak_rss".into(), json!(peak_rss()));
            measure(&kind, n, before, extra);
            drop(model);
        }
        "ease" => {
            // The dense EASE fit over `n` items (5 users per item, 30 interactions each with a
            // popularity skew): the peak is what a training job needs for the model, the rest is
            // what serving holds.
            let users: Vec<String> = (0..5 * n).map(|u| format!("user_{u}")).collect();
            let items: Vec<String> = (0..n).map(|i| format!("item_{i}")).collect();
            let rows: Vec<(&str, &str, f32)> = users
                .iter()
                .flat_map(|user| {
                    let picks: Vec<usize> = (0..30).map(|_| rng.skewed(n as u64) as usize).collect();
                    picks.into_iter().map(|i| (user.as_str(), items[i].as_str(), 1.0))
                })
                .collect();
            let data = polyrec_models::Interactions::build(rows.iter().copied(), Default::default());
            drop(rows);
            let base = peak_rss().max(rss());
            let started = std::time::Instant::now();
            let params = polyrec_models::EaseParams { max_items: n, ..Default::default() };
            let model = polyrec_models::EaseModel::fit(&data, params).expect("the fit");
            extra.insert("fit_seconds".into(), json!(started.elapsed().as_secs_f64()));
            let peak = peak_rss();
            extra.insert("peak_rss".into(), json!(peak));
            extra.insert("fit_peak_over_input".into(), json!(peak.saturating_sub(base)));
            extra.insert(
                "fit_peak_bytes_per_item_squared".into(),
                json!(peak.saturating_sub(base) as f64 / (n * n) as f64),
            );
            measure(&kind, n, before, extra);
            drop(model);
        }
        "hot" | "hot_per_event" => {
            // One scenario's hot-score window under `n` events a second over 100,000 item ids:
            // filled with an hour of them, then a minute of one flush a second, timed.
            let mut window: Box<dyn Window> = match kind.as_str() {
                "hot" => Box::new(polyrec_server::jobs::HotWindow::default()),
                _ => Box::new(PerEvent::default()),
            };
            let ids: Vec<String> = (0..100_000).map(|i| format!("item_{i}")).collect();
            let start = 1_765_000_000_000i64;
            let second = |window: &mut dyn Window, at: i64, rng: &mut Rng| {
                for j in 0..n {
                    let item = &ids[rng.skewed(ids.len() as u64) as usize];
                    window.add(item, at + (j * 1_000 / n) as i64, if j % 10 == 0 { 3.0 } else { 1.0 });
                }
            };
            for s in 0..3_540 {
                second(window.as_mut(), start + s * 1_000, &mut rng);
                if s % 60 == 59 {
                    window.scores();
                }
            }
            let mut cycles = Vec::new();
            for s in 3_540..3_600 {
                let began = std::time::Instant::now();
                second(window.as_mut(), start + s * 1_000, &mut rng);
                std::hint::black_box(window.scores());
                cycles.push(began.elapsed().as_secs_f64() * 1e3);
            }
            let mean = cycles.iter().sum::<f64>() / cycles.len() as f64;
            extra.insert("ms_per_second_of_events_mean".into(), json!(mean));
            extra.insert("ms_per_second_of_events_max".into(), json!(cycles.iter().cloned().fold(0.0, f64::max)));
            extra.insert("events_per_second_one_core_keeps_up_with".into(), json!((n as f64 / (mean / 1e3)) as u64));
            extra.insert("items_followed".into(), json!(window.scores().len()));
            measure(&kind, n, before, extra);
        }
        "hot_agreement" => {
            // Both windows fed the same two hours of `n` events a second, flushed each minute:
            // how many of the per-event window's 1,000 hottest items the job's hot set shares.
            let (mut job, mut reference) = (polyrec_server::jobs::HotWindow::default(), PerEvent::default());
            let ids: Vec<String> = (0..100_000).map(|i| format!("item_{i}")).collect();
            let (mut overlap, mut worst) = (Vec::new(), 0.0f64);
            for s in 0..7_200i64 {
                for j in 0..n {
                    let item = &ids[rng.skewed(ids.len() as u64) as usize];
                    let (at, weight) = (1_765_000_000_000 + s * 1_000 + (j * 1_000 / n) as i64, 1.0 + (j % 3) as f64);
                    Window::add(&mut job, item, at, weight);
                    reference.add(item, at, weight);
                }
                if s % 60 == 59 {
                    let top = |mut scores: Vec<(String, f64)>| {
                        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                        scores.truncate(1_000);
                        scores.into_iter().collect::<std::collections::HashMap<_, _>>()
                    };
                    let (ours, theirs) = (top(Window::scores(&mut job)), top(reference.scores()));
                    overlap.push(ours.keys().filter(|item| theirs.contains_key(*item)).count());
                    for (item, score) in &ours {
                        if let Some(exact) = theirs.get(item) {
                            worst = worst.max((score - exact).abs() / exact);
                        }
                    }
                }
            }
            extra.insert("top_1000_shared_min".into(), json!(overlap.iter().min()));
            extra.insert(
                "top_1000_shared_mean".into(),
                json!(overlap.iter().sum::<usize>() as f64 / overlap.len() as f64),
            );
            extra.insert("max_relative_score_difference".into(), json!(worst));
            measure(&kind, n, before, extra);
        }
        other => panic!("unknown kind {other:?}: profiles, catalog, cf, ease, hot, hot_per_event or hot_agreement"),
    }
}

fn measure(kind: &str, n: usize, before: u64, extra: serde_json::Map<String, serde_json::Value>) {
    let after = rss();
    let mut line = json!({
        "kind": kind, "n": n, "rss_before": before, "rss_after": after,
        "bytes_per_unit": (after.saturating_sub(before)) as f64 / n as f64,
    });
    line.as_object_mut().unwrap().extend(extra);
    println!("{line}");
}
