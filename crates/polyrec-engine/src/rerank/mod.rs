//! Rerank rules, one file each, applied in config order after ranking. Each rule changes
//! scores (the pipeline re-sorts after it), removes candidates, or pins them.

pub mod business_rules;
pub mod diversity;
pub mod freshness;
pub mod location_match;
pub mod mmr;

#[cfg(test)]
pub(crate) mod test_support {
    use crate::pipeline::Candidate;
    use crate::recall::test_support::Fixture;

    /// Candidates for the fixture's items with the given scores.
    pub fn scored(fx: &Fixture, scores: &[(&str, f64)]) -> Vec<Candidate> {
        scores
            .iter()
            .map(|(id, score)| Candidate {
                item: fx.catalog.get(id).unwrap().clone(),
                channels: vec![],
                recall_score: *score,
                rank_score: 0.0,
                score: *score,
                stages: vec![],
                pin: None,
            })
            .collect()
    }

    pub fn order(list: &[Candidate]) -> Vec<&str> {
        let mut sorted: Vec<&Candidate> = list.iter().collect();
        sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
        sorted.iter().map(|c| c.item_id()).collect()
    }
}
