//! Collaborative filtering: item–item and user–user cosine similarities over the users' summed
//! interest weights, computed by a background job from the warehouse and handed to the request
//! path as an immutable [`CfModel`]. Nothing here runs on the request path but the lookups.
//!
//! The co-occurrence sums use a dense scratch row per item (or user) instead of a hash map of
//! pairs: the same number of additions, but each one is an indexed add, which keeps a catalog
//! of 100,000 items and a million events in the seconds.

use rustc_hash::FxHashMap as HashMap;

use polyrec_storage::Interaction;

/// Bounds that keep training time linear in the data.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CfParams {
    /// Neighbors kept per item and per user.
    pub neighbors: usize,
    /// Most recent items per user that take part.
    pub items_per_user: usize,
    /// Most recent users per item that take part (caps the cost of very popular items).
    pub users_per_item: usize,
    /// Items kept per user for user-based recall.
    pub user_items: usize,
    /// User-based recommendations precomputed per user.
    pub user_recs: usize,
    /// Shrinkage of item–item cosine: co / (|a| |b| + shrink), so a similarity resting on a
    /// handful of shared users counts less than one resting on many.
    pub shrink: f32,
}

impl Default for CfParams {
    fn default() -> Self {
        Self { neighbors: 200, items_per_user: 500, users_per_item: 1000, user_items: 50, user_recs: 300, shrink: 0.0 }
    }
}

impl CfParams {
    /// The largest neighbour list a config may ask for: the lists are kept for every item and
    /// user, so this bounds the model's memory (at most this many pairs per item and user).
    pub const MAX_NEIGHBORS: usize = 2_000;

    /// What a search over the neighbours ([`crate::learned::item_cf`]) tries: how many
    /// neighbours are kept and the shrinkage, the defaults first. The other bounds stay as
    /// given: they cap the cost, not the quality.
    pub fn candidates(self) -> Vec<CfParams> {
        let mut candidates = vec![self];
        for neighbors in [50, 100, 200, 500, 1_000] {
            for shrink in [0.0, 10.0, 50.0, 200.0] {
                let candidate = CfParams { neighbors, shrink, ..self };
                if !candidates.contains(&candidate) {
                    candidates.push(candidate);
                }
            }
        }
        candidates
    }

    /// Whether the bounds are usable: every count at least 1, the neighbours at most
    /// [`CfParams::MAX_NEIGHBORS`], the shrinkage a finite number ≥ 0.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("neighbors", self.neighbors),
            ("items_per_user", self.items_per_user),
            ("users_per_item", self.users_per_item),
            ("user_items", self.user_items),
            ("user_recs", self.user_recs),
        ] {
            if value == 0 {
                return Err(format!("{name}: must be at least 1"));
            }
        }
        if self.neighbors > Self::MAX_NEIGHBORS {
            return Err(format!("neighbors: at most {}", Self::MAX_NEIGHBORS));
        }
        for (name, value, most) in [
            ("items_per_user", self.items_per_user, 10_000),
            ("users_per_item", self.users_per_item, 100_000),
            ("user_items", self.user_items, 1_000),
            ("user_recs", self.user_recs, 2_000),
        ] {
            if value > most {
                return Err(format!("{name}: at most {most}"));
            }
        }
        if !(self.shrink.is_finite() && self.shrink >= 0.0) {
            return Err("shrink: must be a number ≥ 0".to_owned());
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct CfModel {
    items: Vec<String>,
    item_index: HashMap<String, u32>,
    user_index: HashMap<String, u32>,
    item_neighbors: Vec<Vec<(u32, f32)>>,
    /// Per user: Σ over neighbors v of sim(u, v) × v's interest, best first, without the
    /// user's own items — user-based recall as a lookup.
    user_recs: Vec<Vec<(u32, f32)>>,
    /// Per user: Σ over the user's training items j of sim(j, i), best first, without the
    /// user's own items — item-based recall over the whole history as a lookup.
    history_recs: Vec<Vec<(u32, f32)>>,
    /// Per user: the items that took part in training, sorted by index.
    user_history: Vec<Vec<u32>>,
    pub n_interactions: usize,
    pub trained_ms: i64,
    /// What it was built with.
    pub params: CfParams,
}

impl CfModel {
    pub fn train(interactions: &[Interaction], params: CfParams, trained_ms: i64) -> Self {
        let mut items = Vec::new();
        let mut item_index: HashMap<String, u32> = HashMap::default();
        let mut user_index: HashMap<String, u32> = HashMap::default();
        // Per user: (item, weight, last_ms).
        let mut by_user: Vec<Vec<(u32, f32, i64)>> = Vec::new();
        for interaction in interactions {
            let item = *item_index.entry(interaction.item_id.clone()).or_insert_with(|| {
                items.push(interaction.item_id.clone());
                (items.len() - 1) as u32
            });
            let user = *user_index.entry(interaction.user_id.clone()).or_insert_with(|| {
                by_user.push(Vec::new());
                (by_user.len() - 1) as u32
            });
            // log1p damps heavy repeat users without ignoring them.
            by_user[user as usize].push((item, (interaction.weight.max(0.0) as f32).ln_1p(), interaction.last_ms));
        }
        for user_items in &mut by_user {
            user_items.sort_by_key(|entry| std::cmp::Reverse(entry.2));
            user_items.truncate(params.items_per_user);
        }
        let mut by_item: Vec<Vec<(u32, f32, i64)>> = vec![Vec::new(); items.len()];
        for (user, user_items) in by_user.iter().enumerate() {
            for &(item, weight, last_ms) in user_items {
                by_item[item as usize].push((user as u32, weight, last_ms));
            }
        }
        for item_users in &mut by_item {
            item_users.sort_by_key(|entry| std::cmp::Reverse(entry.2));
            item_users.truncate(params.users_per_item);
        }
        let item_norms: Vec<f32> =
            by_item.iter().map(|users| users.iter().map(|u| u.1 * u.1).sum::<f32>().sqrt()).collect();
        let user_norms: Vec<f32> =
            by_user.iter().map(|items| items.iter().map(|i| i.1 * i.1).sum::<f32>().sqrt()).collect();

        let item_neighbors = similar(&by_item, &by_user, &item_norms, params.neighbors, params.shrink);
        let user_neighbors = similar(&by_user, &by_item, &user_norms, params.neighbors, 0.0);
        let user_items: Vec<Vec<(u32, f32)>> = by_user
            .iter()
            .map(|items| {
                let mut strongest: Vec<(u32, f32)> = items.iter().map(|&(i, w, _)| (i, w)).collect();
                strongest.sort_by(|a, b| b.1.total_cmp(&a.1));
                strongest.truncate(params.user_items);
                strongest
            })
            .collect();
        let user_recs = spread(&by_user, &user_neighbors, &user_items, items.len(), params.user_recs);
        let history: Vec<Vec<(u32, f32)>> =
            by_user.iter().map(|items| items.iter().map(|&(i, _, _)| (i, 1.0)).collect()).collect();
        let history_recs = spread(&by_user, &history, &item_neighbors, items.len(), params.user_recs);
        let user_history = history
            .into_iter()
            .map(|items| {
                let mut indices: Vec<u32> = items.into_iter().map(|(i, _)| i).collect();
                indices.sort_unstable();
                indices
            })
            .collect();
        Self {
            items,
            item_index,
            user_index,
            item_neighbors,
            user_recs,
            history_recs,
            user_history,
            n_interactions: interactions.len(),
            trained_ms,
            params,
        }
    }

    /// Trains on an interaction matrix (a search's validation split): each cell is one
    /// interaction of its value's weight, all equally recent.
    pub fn train_matrix(matrix: &polyrec_models::Interactions, params: CfParams) -> Self {
        let rows: Vec<Interaction> = (0..matrix.n_users())
            .flat_map(|u| {
                let user = matrix.users.name(u as u32);
                let (items, values) = matrix.by_user.row(u);
                items.iter().zip(values).map(move |(&i, &value)| Interaction {
                    user_id: user.to_owned(),
                    item_id: matrix.items.name(i).to_owned(),
                    weight: value as f64,
                    last_ms: 0,
                })
            })
            .collect();
        Self::train(&rows, params, 0)
    }

    /// The item-based score of every item of `items` for a training user (what `item_cf`
    /// serves from the history alone, without recent items), `None` for a user it does not
    /// know.
    pub fn history_scores(&self, items: &polyrec_models::Vocabulary, user_id: &str) -> Option<Vec<f32>> {
        self.user_index.get(user_id)?;
        let mut scores = vec![0f32; items.len()];
        for &(item, score) in self.history_items(user_id) {
            if let Some(index) = items.get(self.item_name(item)) {
                scores[index as usize] = score;
            }
        }
        Some(scores)
    }

    /// Items most similar to the item at `index`, as (item index, similarity).
    pub fn similar_items_of(&self, index: u32) -> &[(u32, f32)] {
        self.item_neighbors.get(index as usize).map(Vec::as_slice).unwrap_or_default()
    }

    /// The user's items that took part in training, as item indices in ascending order.
    pub fn user_history(&self, user_id: &str) -> &[u32] {
        self.user_index.get(user_id).map(|&u| self.user_history[u as usize].as_slice()).unwrap_or_default()
    }

    pub fn item_index(&self, item_id: &str) -> Option<u32> {
        self.item_index.get(item_id).copied()
    }

    pub fn item_name(&self, index: u32) -> &str {
        &self.items[index as usize]
    }

    /// Items similar to the user's training items (Σ of similarities), best first, as (item
    /// index, score); the user's own items are not among them.
    pub fn history_items(&self, user_id: &str) -> &[(u32, f32)] {
        self.user_index.get(user_id).map(|&u| self.history_recs[u as usize].as_slice()).unwrap_or_default()
    }

    /// What the users most similar to `user_id` took and `user_id` did not, best first, scored
    /// Σ over neighbors of (user similarity × the neighbor's interest).
    pub fn neighbor_items(&self, user_id: &str) -> impl Iterator<Item = (&str, f32)> {
        let recs = self.user_index.get(user_id).map(|&u| self.user_recs[u as usize].as_slice());
        recs.unwrap_or_default().iter().map(|&(i, score)| (self.items[i as usize].as_str(), score))
    }

    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    pub fn n_users(&self) -> usize {
        self.user_index.len()
    }
}

/// For each user u, Σ over u's `sources` (s, w) of w × each (item, x) in `table[s]`, without the
/// items u has taken, cut to the best `k` (dense scratch row again). User-based: the sources are
/// u's neighbours and the table their items; item-based: the sources are u's items and the
/// table the item neighbours.
fn spread(
    by_user: &[Vec<(u32, f32, i64)>],
    sources: &[Vec<(u32, f32)>],
    table: &[Vec<(u32, f32)>],
    n_items: usize,
    k: usize,
) -> Vec<Vec<(u32, f32)>> {
    let mut scratch = vec![0f32; n_items];
    let mut touched: Vec<u32> = Vec::new();
    by_user
        .iter()
        .zip(sources)
        .map(|(own, sources)| {
            for &(source, weight) in sources {
                for &(item, x) in &table[source as usize] {
                    if scratch[item as usize] == 0.0 {
                        touched.push(item);
                    }
                    scratch[item as usize] += weight * x;
                }
            }
            for &(item, _, _) in own {
                scratch[item as usize] = 0.0;
            }
            let best = touched.drain(..).map(|item| (item, std::mem::take(&mut scratch[item as usize])));
            best_k(best.collect(), k)
        })
        .collect()
}

/// The `k` highest positive scores, best first (ties by index), in a vector of their size:
/// `scored` holds every row the walk touched (up to the whole catalog for a popular item or an
/// active user), and a truncated vector keeps its capacity — kept per row, that was 150 KB per
/// user and item (15 GB for 100,000 users and items, `examples/memory.rs`).
fn best_k(mut scored: Vec<(u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    scored.retain(|&(_, score)| score > 0.0);
    if scored.len() > k {
        scored.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.shrink_to_fit();
    scored
}

/// Cosine similarity (shrunk by `shrink`) of every row of `rows` (a row = the (column, weight)
/// pairs of an item or a user) to the other rows through the shared columns, keeping the `k`
/// best per row.
fn similar(
    rows: &[Vec<(u32, f32, i64)>],
    columns: &[Vec<(u32, f32, i64)>],
    norms: &[f32],
    k: usize,
    shrink: f32,
) -> Vec<Vec<(u32, f32)>> {
    let mut scratch = vec![0f32; rows.len()];
    let mut touched: Vec<u32> = Vec::new();
    rows.iter()
        .enumerate()
        .map(|(row, entries)| {
            for &(column, weight, _) in entries {
                for &(other, other_weight, _) in &columns[column as usize] {
                    if other as usize == row {
                        continue;
                    }
                    if scratch[other as usize] == 0.0 {
                        touched.push(other);
                    }
                    scratch[other as usize] += weight * other_weight;
                }
            }
            let best = touched.drain(..).map(|other| {
                let dot = std::mem::take(&mut scratch[other as usize]);
                let denominator = norms[row] * norms[other as usize] + shrink;
                (other, if denominator > 0.0 { dot / denominator } else { 0.0 })
            });
            best_k(best.collect(), k)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row's walk touches every other row here; what is kept must be no larger than the
    /// `k` asked for (a truncated vector that kept its capacity held 150 KB per user and item at
    /// 100,000 of each).
    #[test]
    fn the_kept_neighbours_and_candidates_hold_no_more_than_their_k() {
        let mut rows = Vec::new();
        for user in 0..60 {
            for item in 0..80 {
                if (user + item) % 3 != 0 {
                    rows.push(interaction(&format!("u{user}"), &format!("i{item}")));
                }
            }
        }
        let params = CfParams { neighbors: 5, user_recs: 7, ..CfParams::default() };
        let model = CfModel::train(&rows, params, 0);
        assert!(model.item_neighbors.iter().all(|row| row.len() == 5 && row.capacity() == 5));
        for recs in model.user_recs.iter().chain(&model.history_recs) {
            assert!(recs.len() <= 7 && recs.capacity() == recs.len(), "{}", recs.capacity());
        }
    }

    fn similar<'m>(model: &'m CfModel, item: &str) -> Vec<(&'m str, f32)> {
        let neighbors = model.item_index(item).map(|i| model.similar_items_of(i)).unwrap_or_default();
        neighbors.iter().map(|&(i, s)| (model.item_name(i), s)).collect()
    }

    fn interaction(user: &str, item: &str) -> Interaction {
        Interaction { user_id: user.into(), item_id: item.into(), weight: 1.0, last_ms: 0 }
    }

    #[test]
    fn items_seen_together_are_neighbors() {
        // a and b are always seen together; c only by the third user.
        let data = [
            interaction("u1", "a"),
            interaction("u1", "b"),
            interaction("u2", "a"),
            interaction("u2", "b"),
            interaction("u3", "a"),
            interaction("u3", "c"),
        ];
        let model = CfModel::train(&data, CfParams::default(), 0);
        let neighbors = similar(&model, "b");
        assert_eq!(neighbors[0].0, "a");
        assert!(neighbors.iter().all(|(item, _)| *item != "b"), "an item is not its own neighbor");
        let c = similar(&model, "c");
        assert_eq!(c.len(), 1);
        assert!(neighbors[0].1 > c[0].1, "co-seen twice beats co-seen once");
        assert!(similar(&model, "unknown").is_empty());
    }

    #[test]
    fn users_get_their_neighbors_items() {
        let data = [
            interaction("u1", "a"),
            interaction("u1", "b"),
            interaction("u2", "a"),
            interaction("u2", "b"),
            interaction("u2", "z"),
            interaction("u3", "q"),
        ];
        let model = CfModel::train(&data, CfParams::default(), 0);
        let items: Vec<&str> = model.neighbor_items("u1").map(|(item, _)| item).collect();
        assert!(items.contains(&"z"), "u2 is u1's neighbor and saw z: {items:?}");
        assert!(!items.contains(&"q"), "u3 shares nothing with u1");
        assert_eq!(model.neighbor_items("nobody").count(), 0);
    }

    #[test]
    fn history_items_sum_the_similarities_of_the_users_own_items() {
        // u1 took a and b; c is similar to both, d to b only.
        let data = [
            interaction("u1", "a"),
            interaction("u1", "b"),
            interaction("u2", "a"),
            interaction("u2", "c"),
            interaction("u3", "b"),
            interaction("u3", "c"),
            interaction("u3", "d"),
        ];
        let model = CfModel::train(&data, CfParams::default(), 0);
        let items: Vec<(&str, f32)> =
            model.history_items("u1").iter().map(|&(i, score)| (model.item_name(i), score)).collect();
        let names: Vec<&str> = items.iter().map(|(item, _)| *item).collect();
        assert_eq!(names, ["c", "d"], "the user's own items are left out: {items:?}");
        let sim = |x: &str, y: &str| similar(&model, x).into_iter().find(|(n, _)| *n == y).unwrap().1;
        assert!((items[0].1 - (sim("a", "c") + sim("b", "c"))).abs() < 1e-6);
        assert!((items[1].1 - sim("b", "d")).abs() < 1e-6);
        let a = model.item_index("a").unwrap();
        let b = model.item_index("b").unwrap();
        let mut own = vec![a, b];
        own.sort_unstable();
        assert_eq!(model.user_history("u1"), own);
        assert!(model.history_items("nobody").is_empty());
    }
}
