//! Training labels for the learned rankers, from the event warehouse: every impression of an
//! item to a user is one row, positive when the user acted on that item within the label window
//! after it, by `rank.objective`:
//! - `click_rate` (default): any action but another impression (click, view, play, like, …);
//! - `watch_time`: a play, view, read or learn worth at least `min_watch_seconds` (its `value`);
//! - `conversion`: an order or a payment.

use std::collections::HashMap;

use polyrec_core::EventType;
use polyrec_storage::BehaviorRow;
use serde_json::{Map, Value};

/// One impression with its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Impression {
    pub user_id: String,
    pub item_id: String,
    pub at_ms: i64,
    /// The request that showed it, when the client reported one (groups for lambdarank).
    pub request_id: Option<String>,
    pub context: Map<String, Value>,
    pub label: f32,
}

/// Whether `event` is a positive for `objective`.
fn positive(objective: &str, event: &BehaviorRow, min_watch_seconds: f64) -> bool {
    use EventType::*;
    match objective {
        "watch_time" => {
            matches!(event.event_type, Play | View | Read | Learn) && event.value.unwrap_or(0.0) >= min_watch_seconds
        }
        "conversion" => matches!(event.event_type, Order | Payment),
        _ => event.event_type != Impression,
    }
}

/// Labels the impressions among `rows` (any order), oldest first.
pub fn label_impressions(
    rows: &[BehaviorRow],
    objective: &str,
    min_watch_seconds: f64,
    window_ms: i64,
) -> Vec<Impression> {
    let mut actions: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    for row in rows.iter().filter(|r| r.event_type != EventType::Impression) {
        if positive(objective, row, min_watch_seconds) {
            actions.entry((row.user_id.as_str(), row.item_id.as_str())).or_default().push(row.timestamp_ms);
        }
    }
    for times in actions.values_mut() {
        times.sort_unstable();
    }
    let mut impressions: Vec<Impression> = rows
        .iter()
        .filter(|r| r.event_type == EventType::Impression)
        .map(|r| {
            let acted = actions.get(&(r.user_id.as_str(), r.item_id.as_str())).is_some_and(|times| {
                // The first action at or after the impression, if within the window.
                let first = times.partition_point(|t| *t < r.timestamp_ms);
                times.get(first).is_some_and(|t| *t - r.timestamp_ms <= window_ms)
            });
            Impression {
                user_id: r.user_id.clone(),
                item_id: r.item_id.clone(),
                at_ms: r.timestamp_ms,
                request_id: r.request_id.clone(),
                context: r.context.clone(),
                label: f32::from(u8::from(acted)),
            }
        })
        .collect();
    impressions.sort_by_key(|i| i.at_ms);
    impressions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str, item: &str, event_type: EventType, at: i64, value: Option<f64>) -> BehaviorRow {
        BehaviorRow {
            user_id: user.into(),
            item_id: item.into(),
            event_type,
            timestamp_ms: at,
            value,
            request_id: None,
            context: Map::new(),
        }
    }

    #[test]
    fn an_impression_is_positive_when_the_objective_s_action_follows_within_the_window() {
        use EventType::*;
        let rows = [
            row("u", "a", Impression, 100, None),
            row("u", "a", Click, 150, None),
            row("u", "b", Impression, 100, None),
            row("u", "b", Play, 90, Some(60.0)), // before the impression: does not count
            row("u", "c", Impression, 100, None),
            row("u", "c", Play, 5_000, Some(5.0)),
            row("u", "c", Order, 200, None),
            row("v", "a", Impression, 100, None),
            row("u", "d", Impression, 100, None),
            row("u", "d", Click, 100 + 2_000, None), // after the window
        ];
        let labels = |objective: &str| -> Vec<(String, f32)> {
            label_impressions(&rows, objective, 10.0, 1_000)
                .into_iter()
                .map(|i| (format!("{}{}", i.user_id, i.item_id), i.label))
                .collect()
        };
        let clicks = labels("click_rate");
        assert_eq!(
            clicks,
            [("ua".into(), 1.0), ("ub".into(), 0.0), ("uc".into(), 1.0), ("va".into(), 0.0), ("ud".into(), 0.0)]
        );
        // Watch time: the play of c is too short and too late; nothing else is a watch.
        assert!(labels("watch_time").iter().all(|(_, label)| *label == 0.0));
        let orders = labels("conversion");
        assert_eq!(orders.iter().filter(|(_, l)| *l == 1.0).map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["uc"]);
    }
}
