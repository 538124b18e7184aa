//! Interaction files and train/test splits for offline evaluation.
//!
//! The file is `user_id,item_id,rating,timestamp` (comma- or tab-separated; a header line is
//! recognised by a non-numeric timestamp field and skipped; rating and timestamp may be empty).

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub user_id: String,
    pub item_id: String,
    pub rating: f32,
    /// Seconds (as in the file).
    pub timestamp: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

pub fn parse_interactions(text: &str) -> Result<Vec<Rating>, ParseError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split([',', '\t']).map(str::trim).collect();
        let error = |message: String| ParseError { line: n + 1, message };
        if fields.len() < 2 {
            return Err(error(format!("expected user_id,item_id,rating,timestamp; found {} field(s)", fields.len())));
        }
        let numeric = |s: Option<&&str>| s.is_none_or(|s| s.is_empty() || s.parse::<f64>().is_ok());
        if n == 0 && !(numeric(fields.get(2)) && numeric(fields.get(3))) {
            continue; // header
        }
        if fields[0].is_empty() || fields[1].is_empty() {
            return Err(error("user_id and item_id must not be empty".into()));
        }
        let rating = match fields.get(2).filter(|s| !s.is_empty()) {
            Some(s) => s.parse::<f32>().map_err(|_| error(format!("rating `{s}` is not a number")))?,
            None => 1.0,
        };
        let timestamp = match fields.get(3).filter(|s| !s.is_empty()) {
            Some(s) => s.parse::<f64>().map_err(|_| error(format!("timestamp `{s}` is not a number")))? as i64,
            None => 0,
        };
        out.push(Rating { user_id: fields[0].to_owned(), item_id: fields[1].to_owned(), rating, timestamp });
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitKind {
    /// Per user, a random `fraction` of their interactions is held out.
    Random,
    /// The latest `fraction` of all interactions, by timestamp, is held out.
    Time,
}

/// Splits into (train, test). Random: each user with at least two interactions gets
/// round(n × fraction) of them (at least one, at most n − 1) held out, chosen by a generator
/// seeded with `seed` and visiting users in id order, so a split is reproducible.
pub fn split(ratings: &[Rating], kind: SplitKind, fraction: f64, seed: u64) -> (Vec<Rating>, Vec<Rating>) {
    match kind {
        SplitKind::Random => {
            let mut by_user: BTreeMap<&str, Vec<&Rating>> = BTreeMap::new();
            for r in ratings {
                by_user.entry(&r.user_id).or_default().push(r);
            }
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut train, mut test) = (Vec::new(), Vec::new());
            for (_, mut rows) in by_user {
                rows.shuffle(&mut rng);
                let n = rows.len();
                let held = if n < 2 { 0 } else { ((n as f64 * fraction).round() as usize).clamp(1, n - 1) };
                test.extend(rows[..held].iter().map(|r| (*r).clone()));
                train.extend(rows[held..].iter().map(|r| (*r).clone()));
            }
            (train, test)
        }
        SplitKind::Time => {
            let mut sorted: Vec<&Rating> = ratings.iter().collect();
            sorted.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.user_id.cmp(&b.user_id)));
            let cut = sorted.len() - (sorted.len() as f64 * fraction).round() as usize;
            let train = sorted[..cut].iter().map(|r| (*r).clone()).collect();
            let test = sorted[cut..].iter().map(|r| (*r).clone()).collect();
            (train, test)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n_users: usize, per_user: usize) -> Vec<Rating> {
        (0..n_users)
            .flat_map(|u| {
                (0..per_user).map(move |i| Rating {
                    user_id: format!("u{u}"),
                    item_id: format!("i{i}"),
                    rating: 1.0,
                    timestamp: (u * 100 + i) as i64,
                })
            })
            .collect()
    }

    #[test]
    fn parses_with_and_without_header() {
        let with = parse_interactions("user_id,item_id,rating,timestamp\n1,2,4,881250949\n1,3,,\n").unwrap();
        assert_eq!(with.len(), 2);
        assert_eq!(with[0].timestamp, 881250949);
        assert_eq!(with[1].rating, 1.0);
        assert_eq!(parse_interactions("1\t2\t4\t5\n").unwrap().len(), 1);
        let bad = parse_interactions("1,2,4,5\n1,2,x,5\n").unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(bad.message.contains("rating"));
    }

    #[test]
    fn random_split_is_per_user_reproducible_and_seed_dependent() {
        let data = rows(20, 8);
        let (train, test) = split(&data, SplitKind::Random, 0.25, 42);
        assert_eq!(test.len(), 20 * 2);
        assert_eq!(train.len() + test.len(), data.len());
        for u in 0..20 {
            assert_eq!(test.iter().filter(|r| r.user_id == format!("u{u}")).count(), 2);
        }
        assert_eq!(split(&data, SplitKind::Random, 0.25, 42).1, test);
        assert_ne!(split(&data, SplitKind::Random, 0.25, 7).1, test);
    }

    #[test]
    fn time_split_holds_out_the_latest() {
        let data = rows(4, 5);
        let (train, test) = split(&data, SplitKind::Time, 0.25, 0);
        assert_eq!(test.len(), 5);
        let latest_train = train.iter().map(|r| r.timestamp).max().unwrap();
        assert!(test.iter().all(|r| r.timestamp >= latest_train));
    }
}
