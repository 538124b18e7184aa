//! Gradient-boosted trees through LightGBM 4 (crate `lightgbm3`), binary or lambdarank.
//!
//! The feature matrix is the numeric columns (NaN = missing, LightGBM's own missing-value
//! handling) followed by the categorical columns, which LightGBM is told are categorical by
//! column index, so it splits on sets of codes instead of thresholds.
//!
//! Why training uses `lightgbm3-sys` directly: the safe `lightgbm3::Dataset` is built with an
//! empty parameter string and hides its handle. LightGBM bins a dataset when it is created, from
//! the parameters passed *then* (booster parameters cannot change it later), so through the safe
//! API `categorical_feature` is silently ignored, and the `group` field that lambdarank needs
//! cannot be set (the crate's only way is a data file with a `.query` sidecar). So this module
//! creates the dataset and runs the boosting rounds over the C API, and hands the result to the
//! safe `lightgbm3::Booster` as a model string, the form the artifact stores too. A fitted and a
//! loaded ranker therefore run the same parsed model: save → load gives identical scores.
//!
//! Prediction runs the same trees compiled into flat arrays ([`super::trees::CompiledTrees`]),
//! scored in batches, equal to LightGBM's own predict (tests/rankers.rs compares them); a model
//! the compiler does not take (linear trees) is predicted by LightGBM.
//!
//! This build of LightGBM has no OpenMP (the `lightgbm3` default), so training and prediction
//! run on the calling thread and `num_threads` has no effect; nothing spins idle threads.

use std::ffi::{CStr, CString, c_void};

use lightgbm3_sys as sys;
use serde::{Deserialize, Serialize};

use super::trees::CompiledTrees;
use super::{CtrData, FeatureSchema, LabelKind, RankError, Ranker, assert_schema};
use crate::artifact::{Artifact, ArtifactError};

pub const KIND: &str = "lightgbm";

/// LightGBM's default `label_gain` covers relevance grades 0..=30.
const MAX_GRADE: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Objective {
    /// Click / no click: `predict` gives a probability.
    #[default]
    #[serde(rename = "binary")]
    Binary,
    /// Graded relevance within query groups (LambdaMART): `predict` gives a score.
    #[serde(rename = "lambdarank")]
    LambdaRank,
}

impl Objective {
    fn lightgbm_name(self) -> &'static str {
        match self {
            Objective::Binary => "binary",
            Objective::LambdaRank => "lambdarank",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbdtParams {
    pub objective: Objective,
    /// Boosting rounds (trees); training stops earlier when a round can no longer split.
    pub num_iterations: usize,
    pub learning_rate: f64,
    pub num_leaves: usize,
    pub min_data_in_leaf: usize,
    /// Share of columns each tree sees.
    pub feature_fraction: f64,
    /// Share of rows each bagging round sees; used when `bagging_freq` > 0.
    pub bagging_fraction: f64,
    /// Re-sample rows every this many rounds; 0 turns bagging off.
    pub bagging_freq: usize,
    /// LightGBM threads, 0 = rayon's thread count. No effect in a build without OpenMP.
    pub num_threads: usize,
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            objective: Objective::Binary,
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            min_data_in_leaf: 20,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            num_threads: 0,
            seed: 42,
        }
    }
}

impl GbdtParams {
    pub fn validate(&self) -> Result<(), RankError> {
        let fail = |message: &str| Err(RankError::InvalidParams(message.into()));
        // Bounds for a shared service: one tenant's training must end in reasonable time.
        if !(1..=10_000).contains(&self.num_iterations) {
            return fail("num_iterations must be between 1 and 10000");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return fail("learning_rate must be a number in (0, 1]");
        }
        if !(2..=4_096).contains(&self.num_leaves) {
            return fail("num_leaves must be between 2 and 4096");
        }
        if self.min_data_in_leaf == 0 || self.min_data_in_leaf > i32::MAX as usize {
            return fail("min_data_in_leaf must be at least 1");
        }
        for (name, value) in [("feature_fraction", self.feature_fraction), ("bagging_fraction", self.bagging_fraction)]
        {
            if !(value.is_finite() && value > 0.0 && value <= 1.0) {
                return Err(RankError::InvalidParams(format!("{name} must be a number in (0, 1]")));
            }
        }
        if self.bagging_freq > i32::MAX as usize || self.num_threads > 64 {
            return fail("bagging_freq or num_threads is out of range");
        }
        Ok(())
    }

    /// The LightGBM parameter string, for the dataset and the booster alike (the Python package
    /// passes both the same set too: binning reads `categorical_feature`, `min_data_in_leaf`…).
    fn to_lightgbm(&self, schema: &FeatureSchema) -> String {
        let num_threads = if self.num_threads == 0 { rayon::current_num_threads() } else { self.num_threads };
        let mut out = format!(
            "objective={} learning_rate={} num_leaves={} min_data_in_leaf={} feature_fraction={} \
             bagging_fraction={} bagging_freq={} num_threads={} seed={} deterministic=true \
             force_row_wise=true verbosity=-1",
            self.objective.lightgbm_name(),
            self.learning_rate,
            self.num_leaves,
            self.min_data_in_leaf,
            self.feature_fraction,
            self.bagging_fraction,
            self.bagging_freq,
            num_threads,
            // LightGBM reads seeds as int32.
            self.seed % (i32::MAX as u64),
        );
        let n_numeric = schema.numeric_names.len();
        let categorical: Vec<String> =
            (0..schema.categorical_names.len()).map(|field| (n_numeric + field).to_string()).collect();
        if !categorical.is_empty() {
            out.push_str(" categorical_feature=");
            out.push_str(&categorical.join(","));
        }
        out
    }
}

/// A LightGBM model and the columns it was trained on.
pub struct GbdtRanker {
    params: GbdtParams,
    schema: FeatureSchema,
    model: String,
    booster: SharedBooster,
    /// The trees as flat arrays, what `predict` runs (`None`: a model only LightGBM predicts).
    compiled: Option<CompiledTrees>,
}

impl std::fmt::Debug for GbdtRanker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbdtRanker").field("params", &self.params).field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// `lightgbm3::Booster` holds a raw pointer, so it is neither `Send` nor `Sync` by default.
struct SharedBooster(lightgbm3::Booster);

// SAFETY: the booster handle is owned by this value alone and freed on drop. Every LightGBM C API
// call on a booster takes the booster's own lock (`SHARED_LOCK` / `UNIQUE_LOCK(mutex_)` in
// c_api.cpp), so it may move between threads and be used from several at once; the wrapper only
// calls `&self` prediction methods, which keep no state on the Rust side.
unsafe impl Send for SharedBooster {}
// SAFETY: see above.
unsafe impl Sync for SharedBooster {}

#[derive(Serialize, Deserialize)]
struct Header {
    params: GbdtParams,
    schema: FeatureSchema,
    /// LightGBM's text model.
    model: String,
}

impl GbdtRanker {
    pub fn fit(train: &CtrData, params: &GbdtParams) -> Result<Self, RankError> {
        Self::fit_with_progress(train, params, &|_| {})
    }

    /// [`GbdtRanker::fit`], with the share of rounds done reported every 5 %.
    pub fn fit_with_progress(train: &CtrData, params: &GbdtParams, progress: &dyn Fn(f32)) -> Result<Self, RankError> {
        params.validate()?;
        let kind = match params.objective {
            Objective::Binary => LabelKind::Binary,
            Objective::LambdaRank => LabelKind::Graded { max: MAX_GRADE },
        };
        train.validate_for_training(kind)?;
        if train.n_rows > i32::MAX as usize {
            return Err(RankError::InvalidData(format!("{} rows; LightGBM takes at most {}", train.n_rows, i32::MAX)));
        }
        let schema = train.schema();
        let parameters = CString::new(params.to_lightgbm(&schema)).expect("no NUL in numbers");
        let matrix = feature_matrix(&schema, train);
        let n_columns = schema.numeric_names.len() + schema.categorical_names.len();

        let dataset = Dataset::from_matrix(&matrix, train.n_rows, n_columns, &parameters)?;
        dataset.set_field_f32(c"label", &train.labels)?;
        if params.objective == Objective::LambdaRank {
            let groups: Vec<i32> = train.groups.iter().map(|&g| g as i32).collect();
            dataset.set_field_i32(c"group", &groups)?;
        }
        let booster = TrainingBooster::new(&dataset, &parameters)?;
        let report_every = (params.num_iterations / 20).max(1);
        for round in 0..params.num_iterations {
            if booster.update_one_iter()? {
                // No split is possible any more: further rounds would add empty trees.
                break;
            }
            if (round + 1) % report_every == 0 {
                progress((round + 1) as f32 / params.num_iterations as f32);
            }
        }
        let model = booster.model_string()?;
        drop(booster);
        drop(dataset);
        progress(1.0);
        Self::from_parts(params.clone(), schema, model)
    }

    pub fn params(&self) -> &GbdtParams {
        &self.params
    }

    /// LightGBM's text form of the trees.
    pub fn model_string(&self) -> &str {
        &self.model
    }

    pub fn to_artifact(&self) -> Artifact {
        let header = Header { params: self.params.clone(), schema: self.schema.clone(), model: self.model.clone() };
        Artifact::new(KIND, header, Vec::new())
    }

    pub fn from_artifact(artifact: &Artifact) -> Result<Self, RankError> {
        let header: Header = artifact.model(KIND)?;
        header.params.validate()?;
        CtrData::new(
            header.schema.numeric_names.clone(),
            header.schema.categorical_names.clone(),
            header.schema.cardinalities.clone(),
        )
        .validate()?;
        Self::from_parts(header.params, header.schema, header.model)
    }

    fn from_parts(params: GbdtParams, schema: FeatureSchema, model: String) -> Result<Self, RankError> {
        let booster = lightgbm3::Booster::from_string(&model)
            .map_err(|error| ArtifactError::Invalid(format!("LightGBM model: {error}")))?;
        let n_columns = schema.numeric_names.len() + schema.categorical_names.len();
        if booster.num_features() as usize != n_columns {
            return Err(ArtifactError::Invalid(format!(
                "the LightGBM model has {} features, the schema {n_columns}",
                booster.num_features()
            ))
            .into());
        }
        let compiled = CompiledTrees::parse(&model).ok().filter(|trees| trees.n_features() == n_columns);
        Ok(Self { params, schema, model, booster: SharedBooster(booster), compiled })
    }

    /// Whether `predict` runs the compiled trees (else LightGBM's predict).
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// LightGBM's own predict on the same rows (what the compiled trees are checked against).
    pub fn predict_with_lightgbm(&self, data: &CtrData) -> Vec<f64> {
        assert_schema(&self.schema, data);
        if data.n_rows == 0 {
            return Vec::new();
        }
        let matrix = feature_matrix(&self.schema, data);
        let n_columns = (self.schema.numeric_names.len() + self.schema.categorical_names.len()) as i32;
        self.booster
            .0
            .predict(&matrix, n_columns, true)
            // Only a width mismatch makes LightGBM refuse, and the width was checked above.
            .expect("LightGBM prediction on a checked matrix")
    }
}

impl Ranker for GbdtRanker {
    fn name(&self) -> &'static str {
        KIND
    }

    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    fn predict(&self, data: &CtrData) -> Vec<f32> {
        let Some(compiled) = &self.compiled else {
            return self.predict_with_lightgbm(data).into_iter().map(|score| score as f32).collect();
        };
        assert_schema(&self.schema, data);
        compiled.predict(&feature_matrix(&self.schema, data)).into_iter().map(|score| score as f32).collect()
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.to_artifact().to_bytes()
    }
}

/// Row-major `rows × (numeric + categorical)` in f64, so every u32 code is exact. Codes at or
/// above the model's cardinality are unknown (0); numeric ±inf counts as missing.
fn feature_matrix(schema: &FeatureSchema, data: &CtrData) -> Vec<f64> {
    let (n_numeric, n_fields) = (data.n_numeric(), data.n_categorical());
    let mut out = Vec::with_capacity(data.n_rows * (n_numeric + n_fields));
    for row in 0..data.n_rows {
        out.extend(data.numeric_row(row).iter().map(|&x| if x.is_finite() { f64::from(x) } else { f64::NAN }));
        out.extend(
            data.categorical_row(row)
                .iter()
                .zip(&schema.cardinalities)
                .map(|(&code, &cardinality)| if code < cardinality { f64::from(code) } else { 0.0 }),
        );
    }
    out
}

/// Turns a LightGBM return code into a Result, with LightGBM's (thread-local) last error.
fn check(code: i32) -> Result<(), RankError> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: LGBM_GetLastError returns a pointer to a NUL-terminated thread-local buffer.
    let message = unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) }.to_string_lossy().into_owned();
    Err(RankError::Backend { library: "LightGBM", message })
}

/// An owned LightGBM dataset handle.
struct Dataset(sys::DatasetHandle);

impl Dataset {
    fn from_matrix(matrix: &[f64], rows: usize, columns: usize, parameters: &CStr) -> Result<Self, RankError> {
        assert_eq!(matrix.len(), rows * columns);
        let mut handle: sys::DatasetHandle = std::ptr::null_mut();
        // SAFETY: `matrix` holds rows × columns f64 in row-major order and outlives the call
        // (LightGBM copies it into its bins); `parameters` is NUL-terminated; `handle` is written
        // on success only.
        check(unsafe {
            sys::LGBM_DatasetCreateFromMat(
                matrix.as_ptr() as *const c_void,
                sys::C_API_DTYPE_FLOAT64 as i32,
                rows as i32,
                columns as i32,
                1,
                parameters.as_ptr(),
                std::ptr::null_mut(),
                &mut handle,
            )
        })?;
        Ok(Self(handle))
    }

    fn set_field_f32(&self, name: &CStr, values: &[f32]) -> Result<(), RankError> {
        // SAFETY: a live handle; LightGBM copies `values.len()` f32 out of the slice.
        check(unsafe {
            sys::LGBM_DatasetSetField(
                self.0,
                name.as_ptr(),
                values.as_ptr() as *const c_void,
                values.len() as i32,
                sys::C_API_DTYPE_FLOAT32 as i32,
            )
        })
    }

    fn set_field_i32(&self, name: &CStr, values: &[i32]) -> Result<(), RankError> {
        // SAFETY: as for set_field_f32, with i32 values.
        check(unsafe {
            sys::LGBM_DatasetSetField(
                self.0,
                name.as_ptr(),
                values.as_ptr() as *const c_void,
                values.len() as i32,
                sys::C_API_DTYPE_INT32 as i32,
            )
        })
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once; any booster
        // trained on it has been dropped first (see GbdtRanker::fit).
        unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

/// An owned booster under training; it borrows the dataset, which LightGBM keeps a pointer to.
struct TrainingBooster<'a> {
    handle: sys::BoosterHandle,
    _dataset: std::marker::PhantomData<&'a Dataset>,
}

impl<'a> TrainingBooster<'a> {
    fn new(dataset: &'a Dataset, parameters: &CStr) -> Result<Self, RankError> {
        let mut handle: sys::BoosterHandle = std::ptr::null_mut();
        // SAFETY: a live dataset handle that outlives the booster (the lifetime 'a), a
        // NUL-terminated parameter string, and an out-pointer written on success.
        check(unsafe { sys::LGBM_BoosterCreate(dataset.0, parameters.as_ptr(), &mut handle) })?;
        Ok(Self { handle, _dataset: std::marker::PhantomData })
    }

    /// One boosting round; true when LightGBM could not split any more (an empty tree).
    fn update_one_iter(&self) -> Result<bool, RankError> {
        let mut finished = 0;
        // SAFETY: a live booster handle and an out-pointer.
        check(unsafe { sys::LGBM_BoosterUpdateOneIter(self.handle, &mut finished) })?;
        Ok(finished != 0)
    }

    fn model_string(&self) -> Result<String, RankError> {
        let mut length = 0i64;
        // SAFETY: a null buffer of length 0 only asks for the length.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(self.handle, 0, -1, 0, 0, &mut length, std::ptr::null_mut())
        })?;
        let mut buffer = vec![0u8; length.max(1) as usize];
        // SAFETY: `buffer` holds `length` bytes, which LightGBM fills with a NUL-terminated string.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                self.handle,
                0,
                -1,
                0,
                buffer.len() as i64,
                &mut length,
                buffer.as_mut_ptr() as *mut std::ffi::c_char,
            )
        })?;
        let text = CStr::from_bytes_until_nul(&buffer).map_err(|_| RankError::Backend {
            library: "LightGBM",
            message: "model string is not terminated".into(),
        })?;
        Ok(text.to_string_lossy().into_owned())
    }
}

impl Drop for TrainingBooster<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_BoosterCreate and is freed once.
        unsafe { sys::LGBM_BoosterFree(self.handle) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_deserialize_strictly_with_defaults() {
        let params: GbdtParams = serde_json::from_str(r#"{"objective": "lambdarank", "num_leaves": 7}"#).unwrap();
        assert_eq!(params, GbdtParams { objective: Objective::LambdaRank, num_leaves: 7, ..GbdtParams::default() });
        assert!(serde_json::from_str::<GbdtParams>(r#"{"leaves": 7}"#).is_err());
        assert!(GbdtParams { learning_rate: 0.0, ..GbdtParams::default() }.validate().is_err());
    }

    #[test]
    fn categorical_columns_follow_the_numeric_ones() {
        let schema = FeatureSchema {
            numeric_names: vec!["a".into(), "b".into()],
            categorical_names: vec!["c".into(), "d".into()],
            cardinalities: vec![3, 3],
        };
        assert!(GbdtParams::default().to_lightgbm(&schema).ends_with(" categorical_feature=2,3"));
    }
}
