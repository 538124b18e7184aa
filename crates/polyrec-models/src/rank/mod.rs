//! CTR rankers: models that score (user, item, context) rows for the rank stage.
//!
//! - [`CtrData`]: the one table every ranker trains and scores on — numeric columns (NaN for
//!   missing) and categorical columns (dense codes, 0 for missing / unknown), labels, and query
//!   groups for lambdarank.
//! - [`Ranker`]: the runtime trait of a fitted model; each model type reads its artifact back
//!   (`from_artifact`), and `polyrec_engine::learned` lists them.
//! - [`lightgbm`] (cargo feature `lightgbm`): gradient-boosted trees, binary or lambdarank.
//! - [`deep`] (cargo feature `deep`, on by default): DeepFM and Wide & Deep on candle, CPU only.
//!
//! Every ranker saves itself as an [`Artifact`](crate::artifact::Artifact) whose header carries the [`FeatureSchema`] it was
//! trained on, so a loaded model can check that the rows it is asked to score have the columns it
//! expects, by name and in order. Categorical codes at or above the cardinality a model was
//! trained with (a vocabulary that grew since) are scored as unknown (0), not rejected: the
//! request path must not fail because a new item appeared.

use serde::{Deserialize, Serialize};

use crate::artifact::ArtifactError;

#[cfg(feature = "deep")]
pub mod deep;
#[cfg(feature = "lightgbm")]
pub mod lightgbm;
pub mod trees;

#[derive(Debug, thiserror::Error)]
pub enum RankError {
    /// The rows handed to fit / predict are malformed; the message says which field.
    #[error("invalid ranking data: {0}")]
    InvalidData(String),
    #[error("invalid ranker parameters: {0}")]
    InvalidParams(String),
    /// Rows whose columns differ from the ones the model was trained on.
    #[error("data does not match the model's features: {0}")]
    SchemaMismatch(String),
    #[error("ranker `{name}` is not part of this build (enable cargo feature `{feature}`)")]
    NotBuilt { name: String, feature: &'static str },
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The training library itself failed (LightGBM, candle).
    #[error("{library} failed: {message}")]
    Backend { library: &'static str, message: String },
}

impl RankError {
    fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidData(message.into())
    }
}

/// The columns a model was trained on: names in order, and per categorical field the number of
/// codes (0 meaning missing / unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSchema {
    pub numeric_names: Vec<String>,
    pub categorical_names: Vec<String>,
    pub cardinalities: Vec<u32>,
}

impl FeatureSchema {
    /// Whether `data` has exactly these columns (names and order). Cardinalities may differ:
    /// codes the model never saw are scored as unknown.
    pub fn check(&self, data: &CtrData) -> Result<(), RankError> {
        if data.numeric_names != self.numeric_names {
            return Err(RankError::SchemaMismatch(format!(
                "numeric columns are {:?}, the model expects {:?}",
                data.numeric_names, self.numeric_names
            )));
        }
        if data.categorical_names != self.categorical_names {
            return Err(RankError::SchemaMismatch(format!(
                "categorical columns are {:?}, the model expects {:?}",
                data.categorical_names, self.categorical_names
            )));
        }
        Ok(())
    }
}

/// A CTR / ranking training or scoring set: one row per (user, item, context) pair.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CtrData {
    pub numeric_names: Vec<String>,
    pub categorical_names: Vec<String>,
    /// Per categorical field: values are 0..cardinality, 0 meaning missing/unknown.
    pub cardinalities: Vec<u32>,
    pub n_rows: usize,
    /// n_rows × numeric_names.len(), row-major; NaN = missing.
    pub numeric: Vec<f32>,
    /// n_rows × categorical_names.len(), row-major.
    pub categorical: Vec<u32>,
    /// 0/1 for binary; graded relevance >= 0 for lambdarank; may be empty when only scoring.
    pub labels: Vec<f32>,
    /// Query (group) sizes for lambdarank, summing to n_rows; empty otherwise.
    pub groups: Vec<u32>,
}

/// What a training objective needs of the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// Every label in [0, 1] (0/1, or a click probability).
    Binary,
    /// Graded relevance, whole numbers in 0..=max, and query groups.
    Graded { max: u32 },
}

impl CtrData {
    /// An empty set with these columns; fill it with [`CtrData::push_row`].
    pub fn new(numeric_names: Vec<String>, categorical_names: Vec<String>, cardinalities: Vec<u32>) -> Self {
        Self { numeric_names, categorical_names, cardinalities, ..Self::default() }
    }

    pub fn n_numeric(&self) -> usize {
        self.numeric_names.len()
    }

    pub fn n_categorical(&self) -> usize {
        self.categorical_names.len()
    }

    pub fn schema(&self) -> FeatureSchema {
        FeatureSchema {
            numeric_names: self.numeric_names.clone(),
            categorical_names: self.categorical_names.clone(),
            cardinalities: self.cardinalities.clone(),
        }
    }

    /// Appends one row, checked against the columns. Labels are all-or-nothing: pass `Some` for
    /// every row of a training set and `None` for every row of a scoring set.
    pub fn push_row(&mut self, numeric: &[f32], categorical: &[u32], label: Option<f32>) -> Result<(), RankError> {
        let row = self.n_rows;
        if numeric.len() != self.n_numeric() {
            return Err(RankError::invalid(format!(
                "row {row} has {} numeric values, expected {}",
                numeric.len(),
                self.n_numeric()
            )));
        }
        if categorical.len() != self.n_categorical() {
            return Err(RankError::invalid(format!(
                "row {row} has {} categorical values, expected {}",
                categorical.len(),
                self.n_categorical()
            )));
        }
        for (field, &value) in categorical.iter().enumerate() {
            self.check_code(row, field, value)?;
        }
        match label {
            Some(label) if self.labels.len() == row => self.labels.push(label),
            None if self.labels.is_empty() => {}
            _ => return Err(RankError::invalid(format!("row {row}: either every row has a label or none has"))),
        }
        self.numeric.extend_from_slice(numeric);
        self.categorical.extend_from_slice(categorical);
        self.n_rows += 1;
        Ok(())
    }

    /// The numeric values of row `row`.
    pub fn numeric_row(&self, row: usize) -> &[f32] {
        let n = self.n_numeric();
        &self.numeric[row * n..(row + 1) * n]
    }

    /// The categorical codes of row `row`.
    pub fn categorical_row(&self, row: usize) -> &[u32] {
        let n = self.n_categorical();
        &self.categorical[row * n..(row + 1) * n]
    }

    /// A new set holding `rows` (in that order), with their labels. Groups are dropped, since an
    /// arbitrary selection cut across queries; use [`CtrData::select_groups`] to keep them.
    pub fn select(&self, rows: &[usize]) -> Self {
        let mut out = Self::new(self.numeric_names.clone(), self.categorical_names.clone(), self.cardinalities.clone());
        out.n_rows = rows.len();
        out.numeric.reserve(rows.len() * self.n_numeric());
        out.categorical.reserve(rows.len() * self.n_categorical());
        for &row in rows {
            out.numeric.extend_from_slice(self.numeric_row(row));
            out.categorical.extend_from_slice(self.categorical_row(row));
            if !self.labels.is_empty() {
                out.labels.push(self.labels[row]);
            }
        }
        out
    }

    /// A new set holding whole query groups `groups` (indices into `self.groups`), in that order.
    pub fn select_groups(&self, groups: &[usize]) -> Self {
        let mut starts = Vec::with_capacity(self.groups.len());
        let mut start = 0usize;
        for &size in &self.groups {
            starts.push(start);
            start += size as usize;
        }
        let rows: Vec<usize> = groups.iter().flat_map(|&g| starts[g]..starts[g] + self.groups[g] as usize).collect();
        let mut out = self.select(&rows);
        out.groups = groups.iter().map(|&g| self.groups[g]).collect();
        out
    }

    /// Checks the shape of the set: lengths of every array, code ranges, labels and groups when
    /// present. Does not require labels.
    pub fn validate(&self) -> Result<(), RankError> {
        if self.cardinalities.len() != self.n_categorical() {
            return Err(RankError::invalid(format!(
                "{} categorical columns but {} cardinalities",
                self.n_categorical(),
                self.cardinalities.len()
            )));
        }
        if let Some(field) = self.cardinalities.iter().position(|&c| c == 0) {
            return Err(RankError::invalid(format!(
                "categorical column `{}` has cardinality 0; it must be at least 1 (code 0 is unknown)",
                self.categorical_names[field]
            )));
        }
        let mut names: Vec<&String> = self.numeric_names.iter().chain(&self.categorical_names).collect();
        names.sort();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(RankError::invalid(format!("column name `{}` appears twice", pair[0])));
        }
        let expected = self.n_rows.checked_mul(self.n_numeric());
        if expected != Some(self.numeric.len()) {
            return Err(RankError::invalid(format!(
                "numeric holds {} values, expected n_rows × columns = {} × {}",
                self.numeric.len(),
                self.n_rows,
                self.n_numeric()
            )));
        }
        let expected = self.n_rows.checked_mul(self.n_categorical());
        if expected != Some(self.categorical.len()) {
            return Err(RankError::invalid(format!(
                "categorical holds {} values, expected n_rows × columns = {} × {}",
                self.categorical.len(),
                self.n_rows,
                self.n_categorical()
            )));
        }
        if self.n_categorical() > 0 {
            for (i, &value) in self.categorical.iter().enumerate() {
                self.check_code(i / self.n_categorical(), i % self.n_categorical(), value)?;
            }
        }
        if let Some(i) = self.numeric.iter().position(|x| x.is_infinite()) {
            return Err(RankError::invalid(format!(
                "row {}, numeric column `{}` is infinite (use NaN for missing)",
                i / self.n_numeric(),
                self.numeric_names[i % self.n_numeric()]
            )));
        }
        if !self.labels.is_empty() && self.labels.len() != self.n_rows {
            return Err(RankError::invalid(format!("{} labels for {} rows", self.labels.len(), self.n_rows)));
        }
        if let Some(row) = self.labels.iter().position(|y| !y.is_finite()) {
            return Err(RankError::invalid(format!("label of row {row} is not a finite number")));
        }
        if !self.groups.is_empty() {
            if self.groups.contains(&0) {
                return Err(RankError::invalid("a query group has size 0"));
            }
            let total: u64 = self.groups.iter().map(|&g| u64::from(g)).sum();
            if total != self.n_rows as u64 {
                return Err(RankError::invalid(format!(
                    "query groups sum to {total} rows, but there are {}",
                    self.n_rows
                )));
            }
        }
        Ok(())
    }

    /// [`CtrData::validate`], plus what training with labels of `kind` needs: rows, at least one
    /// feature column, a label per row in the range `kind` allows, and groups for graded labels.
    /// Every trainer calls it first; callers may too, before queueing a training job.
    pub fn validate_for_training(&self, kind: LabelKind) -> Result<(), RankError> {
        self.validate()?;
        if self.n_rows == 0 {
            return Err(RankError::invalid("no rows to train on"));
        }
        if self.n_numeric() + self.n_categorical() == 0 {
            return Err(RankError::invalid("no feature columns"));
        }
        if self.labels.is_empty() {
            return Err(RankError::invalid("training needs a label for every row, and labels is empty"));
        }
        match kind {
            LabelKind::Binary => {
                if let Some(row) = self.labels.iter().position(|y| !(0.0..=1.0).contains(y)) {
                    return Err(RankError::invalid(format!(
                        "label of row {row} is {}; binary labels must lie in [0, 1]",
                        self.labels[row]
                    )));
                }
            }
            LabelKind::Graded { max } => {
                if let Some(row) = self.labels.iter().position(|&y| y < 0.0 || y.fract() != 0.0 || y > max as f32) {
                    return Err(RankError::invalid(format!(
                        "label of row {row} is {}; relevance grades must be whole numbers in 0..={max}",
                        self.labels[row]
                    )));
                }
                if self.groups.is_empty() {
                    return Err(RankError::invalid("lambdarank needs query groups, and groups is empty"));
                }
            }
        }
        Ok(())
    }

    fn check_code(&self, row: usize, field: usize, value: u32) -> Result<(), RankError> {
        let cardinality = self.cardinalities.get(field).copied().unwrap_or(0);
        if value >= cardinality {
            return Err(RankError::invalid(format!(
                "row {row}, categorical column `{}` has code {value}, which is not below its cardinality {cardinality}",
                self.categorical_names.get(field).map_or("?", String::as_str)
            )));
        }
        Ok(())
    }
}

/// A fitted ranker, ready for the request path.
pub trait Ranker: Send + Sync {
    /// The registry name: `lightgbm`, `deepfm` or `wide_deep`.
    fn name(&self) -> &'static str;

    /// The columns the model was trained on.
    fn schema(&self) -> &FeatureSchema;

    /// One score per row: a probability in (0, 1) for binary models, a relevance score for
    /// lambdarank. Columns are matched by position, so `data` must have the model's columns:
    /// panics otherwise (call [`Ranker::try_predict`] on rows that were not built against
    /// [`Ranker::schema`]).
    fn predict(&self, data: &CtrData) -> Vec<f32>;

    /// The self-contained artifact: parameters, feature schema and weights.
    fn to_bytes(&self) -> Vec<u8>;

    /// [`Ranker::predict`] after checking that `data` is well formed and has the model's columns.
    fn try_predict(&self, data: &CtrData) -> Result<Vec<f32>, RankError> {
        data.validate()?;
        self.schema().check(data)?;
        Ok(self.predict(data))
    }
}

/// Panics with the schema mismatch, for [`Ranker::predict`] on rows of the wrong shape.
#[cfg(any(feature = "deep", feature = "lightgbm"))]
pub(crate) fn assert_schema(schema: &FeatureSchema, data: &CtrData) {
    if let Err(error) = schema.check(data) {
        panic!("{error}");
    }
    assert_eq!(data.numeric.len(), data.n_rows * data.n_numeric(), "numeric holds the wrong number of values");
    assert_eq!(
        data.categorical.len(),
        data.n_rows * data.n_categorical(),
        "categorical holds the wrong number of values"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_only() -> CtrData {
        CtrData::new(vec!["price".into()], vec!["user_group".into(), "item_group".into()], vec![3, 4])
    }

    #[test]
    fn push_row_checks_lengths_codes_and_labels() {
        let mut data = schema_only();
        data.push_row(&[1.0], &[2, 3], Some(1.0)).unwrap();
        assert!(matches!(data.push_row(&[1.0, 2.0], &[2, 3], Some(1.0)), Err(RankError::InvalidData(_))));
        assert!(matches!(data.push_row(&[1.0], &[3, 0], Some(1.0)), Err(RankError::InvalidData(_))));
        assert!(matches!(data.push_row(&[1.0], &[0, 0], None), Err(RankError::InvalidData(_))));
        assert_eq!(data.n_rows, 1);
        data.validate().unwrap();
    }

    #[test]
    fn validate_reports_each_shape_problem() {
        let mut data = schema_only();
        for i in 0..4 {
            data.push_row(&[i as f32], &[1, 2], Some((i % 2) as f32)).unwrap();
        }
        data.validate_for_training(LabelKind::Binary).unwrap();

        let mut bad = data.clone();
        bad.numeric.pop();
        assert!(bad.validate().unwrap_err().to_string().contains("numeric holds 3 values"));
        let mut bad = data.clone();
        bad.categorical[5] = 4;
        assert!(bad.validate().unwrap_err().to_string().contains("item_group"));
        let mut bad = data.clone();
        bad.labels.clear();
        assert!(bad.validate_for_training(LabelKind::Binary).unwrap_err().to_string().contains("label"));
        let mut bad = data.clone();
        bad.groups = vec![3];
        assert!(bad.validate().is_err());
        assert!(data.validate_for_training(LabelKind::Graded { max: 4 }).is_err(), "no groups");
    }

    #[test]
    fn select_groups_keeps_whole_queries() {
        let mut data = schema_only();
        for i in 0..5 {
            data.push_row(&[i as f32], &[0, 0], Some(0.0)).unwrap();
        }
        data.groups = vec![2, 3];
        let second = data.select_groups(&[1]);
        assert_eq!(second.numeric, vec![2.0, 3.0, 4.0]);
        assert_eq!(second.groups, vec![3]);
        second.validate().unwrap();
    }
}
