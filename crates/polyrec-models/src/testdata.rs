//! Generated data with a planted preference structure, for the models' tests.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::data::{Interactions, Vocabulary};

/// `groups` groups of `users` users and `items` items each. Every user takes 60 % of their own
/// group's items and one item of another group, and one more of their group's items is held
/// out: returns the training data and (user, held-out item, the user's training items).
pub fn planted(
    users: usize,
    items: usize,
    groups: usize,
    seed: u64,
) -> (Interactions, Vec<(String, String, Vec<String>)>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut held_out = Vec::new();
    for g in 0..groups {
        for u in 0..users {
            let user = format!("g{g}-u{u}");
            let mut own: Vec<usize> = (0..items).collect();
            own.shuffle(&mut rng);
            let take = items * 6 / 10;
            let mut seen: Vec<String> = own[..take].iter().map(|i| format!("g{g}-i{i}")).collect();
            let other = (g + 1 + rng.random_range(0..groups - 1)) % groups;
            seen.push(format!("g{other}-i{}", rng.random_range(0..items)));
            held_out.push((user.clone(), format!("g{g}-i{}", own[take]), seen.clone()));
            rows.extend(seen.into_iter().map(|item| (user.clone(), item)));
        }
    }
    let catalog: Vec<String> = (0..groups).flat_map(|g| (0..items).map(move |i| format!("g{g}-i{i}"))).collect();
    let data =
        Interactions::build(rows.iter().map(|(u, i)| (u.as_str(), i.as_str(), 1.0)), Vocabulary::from_names(catalog));
    (data, held_out)
}
