//! The CTR rankers on generated data with a planted structure: each must separate a separable
//! set, survive save → load bit for bit, and reject malformed input with an error. DeepFM must
//! learn a pure interaction, LightGBM's lambdarank must order planted relevance.
#![cfg(any(feature = "deep", feature = "lightgbm"))]

use polyrec_models::Artifact;
use polyrec_models::metrics::auc;
use polyrec_models::rank::{CtrData, RankError, Ranker};

/// Reads a saved ranker back as the model type `name` (the engine's learned-model list does this
/// for the server).
fn load_ranker(name: &str, bytes: &[u8]) -> Result<Box<dyn Ranker>, RankError> {
    let artifact = Artifact::from_bytes(bytes)?;
    Ok(match name {
        #[cfg(feature = "lightgbm")]
        "lightgbm" => Box::new(polyrec_models::rank::lightgbm::GbdtRanker::from_artifact(&artifact)?),
        "deepfm" => Box::new(polyrec_models::rank::deep::DeepFm::from_artifact(&artifact)?),
        "wide_deep" => Box::new(polyrec_models::rank::deep::WideDeep::from_artifact(&artifact)?),
        other => panic!("no ranker {other}"),
    })
}
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A standard normal draw (Box–Muller), so the tests need no extra crate.
fn normal(rng: &mut StdRng) -> f32 {
    let u: f32 = rng.random_range(f32::EPSILON..1.0);
    let v: f32 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
}

/// Two numeric columns (2 % missing) and two categorical ones; the label is 1 when
/// 2·x1 − 1.5·x2 + the item category's effect > 0, so the classes are separable.
fn separable(n_rows: usize, seed: u64) -> CtrData {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data =
        CtrData::new(vec!["x1".into(), "x2".into()], vec!["user_group".into(), "item_category".into()], vec![11, 21]);
    let category_effect: Vec<f32> = (0..21).map(|_| normal(&mut rng) * 1.5).collect();
    for _ in 0..n_rows {
        let (x1, x2) = (normal(&mut rng), normal(&mut rng));
        let user_group = rng.random_range(1..11u32);
        let item_category = rng.random_range(0..21u32);
        let score = 2.0 * x1 - 1.5 * x2 + category_effect[item_category as usize];
        let x1 = if rng.random::<f32>() < 0.02 { f32::NAN } else { x1 };
        data.push_row(&[x1, x2 * 10.0 + 100.0], &[user_group, item_category], Some(f32::from(score > 0.0))).unwrap();
    }
    data
}

/// Clicks depend only on whether the user group's and the item group's parities match: every
/// group alone has a 50 % click rate, so a model without interactions scores at chance.
fn interaction(n_rows: usize, seed: u64) -> CtrData {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = CtrData::new(vec!["noise".into()], vec!["user_group".into(), "item_group".into()], vec![9, 9]);
    for _ in 0..n_rows {
        let user_group = rng.random_range(1..9u32);
        let item_group = rng.random_range(1..9u32);
        let click = (user_group % 2 == item_group % 2) != (rng.random::<f32>() < 0.03);
        data.push_row(&[normal(&mut rng)], &[user_group, item_group], Some(f32::from(click))).unwrap();
    }
    data
}

/// First `share` of the rows for training, the rest held out.
fn split(data: &CtrData, share: f64) -> (CtrData, CtrData) {
    let cut = (data.n_rows as f64 * share) as usize;
    (data.select(&(0..cut).collect::<Vec<_>>()), data.select(&(cut..data.n_rows).collect::<Vec<_>>()))
}

fn auc_of(ranker: &dyn Ranker, data: &CtrData) -> f64 {
    let scores: Vec<f64> = ranker.predict(data).into_iter().map(f64::from).collect();
    let labels: Vec<bool> = data.labels.iter().map(|&y| y > 0.5).collect();
    let auc = auc(&scores, &labels).expect("both classes present");
    eprintln!("{}: held-out AUC {auc:.4}", ranker.name());
    auc
}

/// Save → load through the registry gives the same bits.
fn assert_round_trip(ranker: &dyn Ranker, data: &CtrData) {
    let loaded = load_ranker(ranker.name(), &ranker.to_bytes()).unwrap();
    assert_eq!(loaded.name(), ranker.name());
    assert_eq!(loaded.schema(), ranker.schema());
    let before: Vec<u32> = ranker.predict(data).iter().map(|x| x.to_bits()).collect();
    let after: Vec<u32> = loaded.predict(data).iter().map(|x| x.to_bits()).collect();
    assert_eq!(before, after, "{}: scores changed across save → load", ranker.name());
}

/// A trainer with its parameters bound.
type Fit<'a> = dyn Fn(&CtrData) -> Result<Box<dyn Ranker>, RankError> + 'a;

/// Every way of handing a trainer bad rows ends in an InvalidData error, not a panic.
fn assert_rejects_bad_input(fit: &Fit<'_>) {
    let good = separable(200, 9);
    let mut short_row = good.clone();
    short_row.numeric.pop();
    let mut no_labels = good.clone();
    no_labels.labels.clear();
    let mut code_too_big = good.clone();
    code_too_big.categorical[7] = 21;
    let mut label_count = good.clone();
    label_count.labels.pop();
    for (what, data) in [
        ("row-length mismatch", short_row),
        ("labels missing", no_labels),
        ("code >= cardinality", code_too_big),
        ("fewer labels than rows", label_count),
    ] {
        match fit(&data) {
            Err(RankError::InvalidData(message)) => assert!(!message.is_empty(), "{what}"),
            Err(other) => panic!("{what}: expected InvalidData, got {other}"),
            Ok(_) => panic!("{what}: training accepted bad data"),
        }
    }
}

#[cfg(feature = "deep")]
mod deep {
    use std::cell::RefCell;

    use polyrec_models::rank::deep::{DeepFm, DeepParams, WideDeep};

    use super::*;

    fn params() -> DeepParams {
        DeepParams { epochs: 8, ..DeepParams::default() }
    }

    #[test]
    fn deepfm_separates_a_separable_set_and_round_trips() {
        let (train, test) = split(&separable(5000, 1), 0.8);
        let progress = RefCell::new(Vec::new());
        let model = DeepFm::fit(&train, &params(), &|p| progress.borrow_mut().push(p)).unwrap();
        let auc = auc_of(&model, &test);
        assert!(auc > 0.95, "deepfm held-out AUC {auc}");
        assert_eq!(progress.borrow().len(), 8);
        assert_eq!(progress.borrow().last(), Some(&1.0));
        assert!(model.predict(&test).iter().all(|&p| p > 0.0 && p < 1.0));
        assert_round_trip(&model, &test);
    }

    #[test]
    fn wide_deep_separates_a_separable_set_and_round_trips() {
        let (train, test) = split(&separable(5000, 2), 0.8);
        let model = WideDeep::fit(&train, &params(), &|_| {}).unwrap();
        let auc = auc_of(&model, &test);
        assert!(auc > 0.95, "wide_deep held-out AUC {auc}");
        assert_round_trip(&model, &test);
    }

    #[test]
    fn deepfm_learns_a_planted_interaction() {
        let (train, test) = split(&interaction(6000, 3), 0.8);
        let model = DeepFm::fit(&train, &params(), &|_| {}).unwrap();
        let auc = auc_of(&model, &test);
        assert!(auc > 0.85, "deepfm interaction AUC {auc}");
    }

    #[test]
    fn fitting_is_deterministic_for_a_seed() {
        let train = separable(1000, 4);
        let small = DeepParams { epochs: 2, ..DeepParams::default() };
        let first = DeepFm::fit(&train, &small, &|_| {}).unwrap().to_bytes();
        let second = DeepFm::fit(&train, &small, &|_| {}).unwrap().to_bytes();
        assert!(first == second, "two fits with one seed differ");
        let other = DeepFm::fit(&train, &DeepParams { seed: 7, ..small }, &|_| {}).unwrap().to_bytes();
        assert!(first != other, "the seed has no effect");
    }

    #[test]
    fn deep_models_reject_bad_input() {
        let small = DeepParams { epochs: 1, ..DeepParams::default() };
        assert_rejects_bad_input(&|data| DeepFm::fit(data, &small, &|_| {}).map(|m| Box::new(m) as Box<dyn Ranker>));
        assert_rejects_bad_input(&|data| WideDeep::fit(data, &small, &|_| {}).map(|m| Box::new(m) as Box<dyn Ranker>));
        let mut not_binary = separable(100, 5);
        not_binary.labels[0] = 2.0;
        assert!(matches!(DeepFm::fit(&not_binary, &small, &|_| {}), Err(RankError::InvalidData(_))));
        let bad_params = DeepParams { hidden: vec![0], ..small };
        assert!(matches!(DeepFm::fit(&separable(100, 5), &bad_params, &|_| {}), Err(RankError::InvalidParams(_))));
    }

    #[test]
    fn scoring_checks_the_schema_and_tolerates_new_codes() {
        let train = separable(500, 6);
        let model = DeepFm::fit(&train, &DeepParams { epochs: 1, ..DeepParams::default() }, &|_| {}).unwrap();
        // Columns renamed: a clear error from try_predict.
        let mut renamed = train.select(&[0, 1, 2]);
        renamed.numeric_names[0] = "other".into();
        assert!(matches!(model.try_predict(&renamed), Err(RankError::SchemaMismatch(_))));
        // A vocabulary that grew since training: the new code scores as unknown (0).
        let mut grown = train.select(&[0]);
        grown.cardinalities[1] = 40;
        grown.categorical[1] = 35;
        let mut unknown = grown.clone();
        unknown.categorical[1] = 0;
        assert_eq!(model.try_predict(&grown).unwrap(), model.try_predict(&unknown).unwrap());
        // Scoring rows need no labels.
        let mut unlabelled = train.select(&[0, 1]);
        unlabelled.labels.clear();
        assert_eq!(model.try_predict(&unlabelled).unwrap().len(), 2);
        // The wrong registry name for an artifact is an error too.
        assert!(load_ranker("wide_deep", &model.to_bytes()).is_err());
    }

    #[test]
    fn a_request_of_500_rows_is_one_quick_forward_pass() {
        let train = separable(2000, 8);
        let model = DeepFm::fit(&train, &DeepParams { epochs: 1, ..DeepParams::default() }, &|_| {}).unwrap();
        let request = separable(500, 10);
        let start = std::time::Instant::now();
        let scores = model.predict(&request);
        eprintln!("deepfm: 500 rows scored in {:?}", start.elapsed());
        assert_eq!(scores.len(), 500);
    }
}

#[cfg(feature = "lightgbm")]
mod lightgbm {
    use polyrec_models::rank::lightgbm::{GbdtParams, GbdtRanker, Objective};

    use super::*;

    #[test]
    fn lightgbm_separates_a_separable_set_and_round_trips() {
        let (train, test) = split(&separable(5000, 1), 0.8);
        let model = GbdtRanker::fit(&train, &GbdtParams::default()).unwrap();
        let auc = auc_of(&model, &test);
        assert!(auc > 0.95, "lightgbm held-out AUC {auc}");
        assert!(model.predict(&test).iter().all(|&p| p > 0.0 && p < 1.0));
        assert!(model.model_string().contains("objective=binary"));
        assert_round_trip(&model, &test);
    }

    /// Batches shaped like one request's candidates: the given numeric and categorical columns
    /// hold the same value in every row, as the user's and the context's columns do (the
    /// compiled trees decide splits on such columns once per batch).
    fn one_request(data: &CtrData, numeric: &[usize], categorical: &[usize], value: f32) -> CtrData {
        let mut batch = data.clone();
        let (n_numeric, n_fields) = (data.numeric_names.len(), data.categorical_names.len());
        for row in 0..batch.n_rows {
            for &column in numeric {
                batch.numeric[row * n_numeric + column] = value;
            }
            for &field in categorical {
                batch.categorical[row * n_fields + field] = data.categorical[field];
            }
        }
        batch
    }

    /// The compiled trees score every row as LightGBM's own predict does (to 1e-6, in practice
    /// to the bit): binary with missing values, categorical splits, codes the model never saw
    /// (0 in the matrix) and tiny values, lambdarank's raw scores, and batches in which some
    /// columns hold one value (one user's request), missing or not.
    #[test]
    fn the_compiled_trees_equal_lightgbms_predict() {
        let (train, test) = split(&separable(5000, 1), 0.8);
        let model = GbdtRanker::fit(&train, &GbdtParams::default()).unwrap();
        assert!(model.is_compiled());
        let mut odd = test.clone();
        for row in 0..odd.n_rows.min(50) {
            odd.numeric[row * 2] = [f32::NAN, 1e-38, -0.0, f32::INFINITY][row % 4];
        }
        let (train, _) = split(&interaction(6000, 3), 0.8);
        let categorical = GbdtRanker::fit(&train, &GbdtParams::default()).unwrap();
        assert!(categorical.model_string().contains("cat_threshold="));
        let ranking = GbdtParams { objective: Objective::LambdaRank, ..GbdtParams::default() };
        let graded = planted_queries(200, 5);
        let ranker = GbdtRanker::fit(&graded, &ranking).unwrap();
        // Missing values in columns that had none in training (LightGBM reads them as 0).
        let mut unseen_missing = interaction(500, 8);
        for row in (0..unseen_missing.n_rows).step_by(2) {
            unseen_missing.numeric[row] = f32::NAN;
        }
        let mut graded_missing = graded.clone();
        for row in (0..graded_missing.n_rows).step_by(3) {
            graded_missing.numeric[row * 2] = f32::NAN;
        }
        for (model, data) in [
            (&model, &test),
            (&model, &odd),
            (&categorical, &interaction(500, 8)),
            (&categorical, &unseen_missing),
            (&ranker, &graded),
            (&ranker, &graded_missing),
            (&model, &one_request(&test, &[0], &[0], 0.7)),
            (&model, &one_request(&test, &[0], &[], f32::NAN)),
            (&model, &one_request(&test, &[0, 1], &[0, 1], -1.5)),
            (&categorical, &one_request(&interaction(500, 9), &[], &[0], 0.0)),
            (&ranker, &one_request(&graded, &[0], &[], 0.2)),
        ] {
            let ours = model.predict(data);
            let theirs = model.predict_with_lightgbm(data);
            assert_eq!(ours.len(), theirs.len());
            for (row, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert!((f64::from(*a) - b).abs() <= 1e-6, "row {row}: compiled {a}, LightGBM {b}");
            }
        }
    }

    #[test]
    fn lightgbm_splits_categorical_fields_as_categories() {
        // The interaction set: only a categorical split (a set of codes) on both fields learns
        // it in few trees; LightGBM writes such splits as `cat_threshold`.
        let (train, test) = split(&interaction(6000, 3), 0.8);
        let model = GbdtRanker::fit(&train, &GbdtParams::default()).unwrap();
        assert!(model.model_string().contains("cat_threshold="));
        let auc = auc_of(&model, &test);
        assert!(auc > 0.9, "lightgbm interaction AUC {auc}");
    }

    /// Queries of 20 candidates; the grade (0–3) follows a noisy numeric signal plus a bonus
    /// for one item category.
    fn planted_queries(n_queries: usize, seed: u64) -> CtrData {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut data = CtrData::new(vec!["signal".into(), "noise".into()], vec!["item_category".into()], vec![6]);
        for _ in 0..n_queries {
            for _ in 0..20 {
                let signal = normal(&mut rng);
                let category = rng.random_range(0..6u32);
                let latent = signal + if category == 3 { 1.0 } else { 0.0 };
                let grade = match latent {
                    x if x > 1.8 => 3.0,
                    x if x > 1.0 => 2.0,
                    x if x > 0.3 => 1.0,
                    _ => 0.0,
                };
                data.push_row(&[signal, normal(&mut rng)], &[category], Some(grade)).unwrap();
            }
            data.groups.push(20);
        }
        data
    }

    /// Mean NDCG@k over the queries, gains 2^grade − 1.
    fn mean_ndcg(scores: &[f32], data: &CtrData, k: usize) -> f64 {
        let mut start = 0;
        let mut total = 0.0;
        for &size in &data.groups {
            let range = start..start + size as usize;
            let grades = &data.labels[range.clone()];
            let mut order: Vec<usize> = (0..grades.len()).collect();
            order.sort_by(|&a, &b| scores[range.start + b].total_cmp(&scores[range.start + a]));
            let dcg = |ranked: &[usize]| -> f64 {
                ranked
                    .iter()
                    .take(k)
                    .enumerate()
                    .map(|(i, &j)| (2f64.powf(f64::from(grades[j])) - 1.0) / ((i + 2) as f64).log2())
                    .sum()
            };
            let mut ideal = order.clone();
            ideal.sort_by(|&a, &b| grades[b].total_cmp(&grades[a]));
            let best = dcg(&ideal);
            total += if best > 0.0 { dcg(&order) / best } else { 1.0 };
            start = range.end;
        }
        total / data.groups.len() as f64
    }

    #[test]
    fn lambdarank_puts_the_relevant_items_first() {
        let data = planted_queries(300, 11);
        let train = data.select_groups(&(0..240).collect::<Vec<_>>());
        let test = data.select_groups(&(240..300).collect::<Vec<_>>());
        let params = GbdtParams { objective: Objective::LambdaRank, min_data_in_leaf: 10, ..GbdtParams::default() };
        let model = GbdtRanker::fit(&train, &params).unwrap();
        let ndcg = mean_ndcg(&model.predict(&test), &test, 5);
        eprintln!("lightgbm lambdarank: held-out NDCG@5 {ndcg:.4}");
        // The bar means something: ordering by the noise column scores far below it.
        let noise: Vec<f32> = (0..test.n_rows).map(|row| test.numeric_row(row)[1]).collect();
        assert!(mean_ndcg(&noise, &test, 5) < 0.6);
        assert!(ndcg > 0.9, "lambdarank NDCG@5 {ndcg}");
        assert_round_trip(&model, &test);

        // Lambdarank without groups, or with fractional grades, is refused before LightGBM.
        let mut no_groups = train.clone();
        no_groups.groups.clear();
        assert!(matches!(GbdtRanker::fit(&no_groups, &params), Err(RankError::InvalidData(_))));
        let mut fractional = train.clone();
        fractional.labels[0] = 0.5;
        assert!(matches!(GbdtRanker::fit(&fractional, &params), Err(RankError::InvalidData(_))));
    }

    #[test]
    fn lightgbm_rejects_bad_input() {
        assert_rejects_bad_input(&|data| {
            GbdtRanker::fit(data, &GbdtParams::default()).map(|m| Box::new(m) as Box<dyn Ranker>)
        });
        assert!(matches!(load_ranker("lightgbm", b"not an artifact"), Err(RankError::Artifact(_))));
    }

    #[test]
    fn rankers_are_shared_across_threads() {
        let train = separable(1000, 12);
        let model: std::sync::Arc<dyn Ranker> = std::sync::Arc::new(
            GbdtRanker::fit(&train, &GbdtParams { num_iterations: 20, ..GbdtParams::default() }).unwrap(),
        );
        let expected = model.predict(&train);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let model = model.clone();
                let (train, expected) = (&train, &expected);
                scope.spawn(move || assert_eq!(&model.predict(train), expected));
            }
        });
    }
}
