//! DeepFM (Guo et al. 2017) and Wide & Deep (Cheng et al. 2016) on candle, CPU only.
//!
//! Both models share one network with two variants. Numeric columns are standardised with the
//! mean and standard deviation of the training set (stored in the model) and a missing value
//! becomes 0 after standardisation, i.e. the mean. Each categorical field has its own embedding
//! table of `cardinality` rows; the tables are stored end to end in one matrix (field f owns the
//! rows from `offset[f]`), so a batch needs one gather instead of one per field.
//!
//! - Wide & Deep: logit = bias + wide + deep, where wide is a linear model over the one-hot
//!   categorical codes (one weight per code) and the numeric columns, and deep is an MLP (ReLU)
//!   over the concatenated field embeddings and numeric columns.
//! - DeepFM: the same plus the factorisation-machine second-order term over the field
//!   embeddings; each numeric column gets an embedding too, scaled by its value, so numeric ×
//!   categorical interactions are modelled.
//!
//! Training minimises binary cross-entropy written in the stable form
//! max(x, 0) − x·y + log(1 + e^−|x|) (candle's `binary_cross_entropy_with_logit` returned inf / NaN
//! on this kind of data, DESIGN §7) with AdamW, whose decoupled weight decay is the `l2`
//! parameter. Candle's CPU generator cannot be seeded, so every weight is initialised from a
//! `StdRng` seeded with `seed`: a fit is deterministic for a seed.
//!
//! The artifact stores the weights as raw f32 arrays, so save → load gives bit-identical scores.

use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{CtrData, FeatureSchema, LabelKind, RankError, Ranker, assert_schema};
use crate::artifact::{Artifact, ArtifactError};

impl From<candle_core::Error> for RankError {
    fn from(error: candle_core::Error) -> Self {
        RankError::Backend { library: "candle", message: error.to_string() }
    }
}

/// Hyper-parameters shared by DeepFM and Wide & Deep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeepParams {
    /// Size of every field embedding.
    pub embedding_dim: usize,
    /// Widths of the MLP's hidden layers (ReLU), input side first; may be empty.
    pub hidden: Vec<usize>,
    pub epochs: usize,
    pub batch_size: usize,
    /// AdamW step size.
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay; 0 is plain Adam.
    pub l2: f64,
    pub seed: u64,
}

impl Default for DeepParams {
    fn default() -> Self {
        Self {
            embedding_dim: 8,
            hidden: vec![64, 32],
            epochs: 10,
            batch_size: 256,
            learning_rate: 1e-3,
            l2: 0.0,
            seed: 42,
        }
    }
}

impl DeepParams {
    pub fn validate(&self) -> Result<(), RankError> {
        let fail = |message: &str| Err(RankError::InvalidParams(message.into()));
        if !(1..=256).contains(&self.embedding_dim) {
            return fail("embedding_dim must be between 1 and 256");
        }
        if self.hidden.len() > 8 || self.hidden.iter().any(|&width| !(1..=1024).contains(&width)) {
            return fail("hidden must list at most 8 layer widths, each between 1 and 1024");
        }
        if !(1..=200).contains(&self.epochs) {
            return fail("epochs must be between 1 and 200");
        }
        if !(1..=65536).contains(&self.batch_size) {
            return fail("batch_size must be between 1 and 65536");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return fail("learning_rate must be a number in (0, 1]");
        }
        if !(self.l2.is_finite() && (0.0..1.0).contains(&self.l2)) {
            return fail("l2 must be a number in [0, 1)");
        }
        Ok(())
    }
}

/// Factorisation machine + MLP over field embeddings.
#[derive(Debug)]
pub struct DeepFm(Net);

/// Wide linear model over one-hot codes + MLP over field embeddings.
#[derive(Debug)]
pub struct WideDeep(Net);

macro_rules! deep_ranker {
    ($type:ident, $arch:expr) => {
        impl $type {
            /// Fits on `train` (binary labels in [0, 1]); `progress` hears the share of epochs
            /// done after each one.
            pub fn fit(train: &CtrData, params: &DeepParams, progress: &dyn Fn(f32)) -> Result<Self, RankError> {
                Net::fit($arch, train, params, progress).map(Self)
            }

            pub fn params(&self) -> &DeepParams {
                &self.0.spec.params
            }

            pub fn to_artifact(&self) -> Artifact {
                self.0.to_artifact()
            }

            pub fn from_artifact(artifact: &Artifact) -> Result<Self, RankError> {
                Net::from_artifact($arch, artifact).map(Self)
            }
        }

        impl Ranker for $type {
            fn name(&self) -> &'static str {
                $arch.name()
            }

            fn schema(&self) -> &FeatureSchema {
                &self.0.spec.schema
            }

            fn predict(&self, data: &CtrData) -> Vec<f32> {
                self.0.predict(data)
            }

            fn to_bytes(&self) -> Vec<u8> {
                self.0.to_artifact().to_bytes()
            }
        }
    };
}

deep_ranker!(DeepFm, Arch::DeepFm);
deep_ranker!(WideDeep, Arch::WideDeep);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Arch {
    DeepFm,
    WideDeep,
}

impl Arch {
    fn name(self) -> &'static str {
        match self {
            Arch::DeepFm => "deepfm",
            Arch::WideDeep => "wide_deep",
        }
    }
}

/// Everything about a network but its weights: enough to lay the weights out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Spec {
    arch: Arch,
    params: DeepParams,
    schema: FeatureSchema,
}

/// How a weight starts.
#[derive(Clone, Copy)]
enum Init {
    Zeros,
    /// Uniform in (−a, a).
    Uniform(f32),
}

/// The weights of a network, in the order of [`Spec::slots`].
struct Parts<'a> {
    bias: &'a Tensor,
    /// `total_codes × 1`: the first-order (wide) weight of every code.
    linear_cat: Option<&'a Tensor>,
    /// `n_numeric × 1`.
    linear_num: Option<&'a Tensor>,
    /// `total_codes × k`.
    embed_cat: Option<&'a Tensor>,
    /// `n_numeric × k`, DeepFM only.
    embed_num: Option<&'a Tensor>,
    /// `(in × out weight, out bias)` per layer, the last with out = 1.
    layers: Vec<(&'a Tensor, &'a Tensor)>,
}

impl Spec {
    fn n_fields(&self) -> usize {
        self.schema.categorical_names.len()
    }

    fn n_numeric(&self) -> usize {
        self.schema.numeric_names.len()
    }

    fn total_codes(&self) -> usize {
        self.schema.cardinalities.iter().map(|&c| c as usize).sum()
    }

    /// Refuses embedding tables beyond [`MAX_EMBEDDING_VALUES`]: every AdamW step touches every
    /// row (the updates are dense), and the code offsets are u32.
    fn check_size(&self) -> Result<(), RankError> {
        let values = self.total_codes().saturating_mul(self.params.embedding_dim + 1);
        if values > MAX_EMBEDDING_VALUES {
            return Err(RankError::InvalidParams(format!(
                "the embedding tables would hold {values} values (Σ cardinalities × (embedding_dim + 1)); \
                 the limit is {MAX_EMBEDDING_VALUES}: bucket rare codes into 0 or lower embedding_dim"
            )));
        }
        Ok(())
    }

    /// Name, shape and initialisation of every weight, in storage order. [`Spec::unpack`] reads
    /// the same order under the same conditions.
    fn slots(&self) -> Vec<(String, Vec<usize>, Init)> {
        let (fields, numeric, codes, k) =
            (self.n_fields(), self.n_numeric(), self.total_codes(), self.params.embedding_dim);
        let mut slots = vec![("bias".to_string(), vec![1], Init::Zeros)];
        if fields > 0 {
            slots.push(("linear_cat".into(), vec![codes, 1], Init::Zeros));
        }
        if numeric > 0 {
            slots.push(("linear_num".into(), vec![numeric, 1], Init::Zeros));
        }
        // Small random embeddings: with zeros the FM term and the MLP would have no gradient.
        if fields > 0 {
            slots.push(("embed_cat".into(), vec![codes, k], Init::Uniform(0.05)));
        }
        if self.arch == Arch::DeepFm && numeric > 0 {
            slots.push(("embed_num".into(), vec![numeric, k], Init::Uniform(0.05)));
        }
        let mut width = fields * k + numeric;
        let widths: Vec<usize> = self.params.hidden.iter().copied().chain([1]).collect();
        for (i, &out) in widths.iter().enumerate() {
            // He initialisation for the ReLU layers, Glorot for the output.
            let bound = if out == 1 && i == widths.len() - 1 {
                (6.0 / (width + out) as f32).sqrt()
            } else {
                (6.0 / width as f32).sqrt()
            };
            slots.push((format!("layer{i}.weight"), vec![width, out], Init::Uniform(bound)));
            slots.push((format!("layer{i}.bias"), vec![out], Init::Zeros));
            width = out;
        }
        slots
    }

    fn unpack<'a>(&self, weights: &'a [Tensor]) -> Parts<'a> {
        let mut next = weights.iter();
        let mut take = || next.next().expect("weights follow Spec::slots");
        let (fields, numeric) = (self.n_fields(), self.n_numeric());
        let bias = take();
        let linear_cat = (fields > 0).then(&mut take);
        let linear_num = (numeric > 0).then(&mut take);
        let embed_cat = (fields > 0).then(&mut take);
        let embed_num = (self.arch == Arch::DeepFm && numeric > 0).then(&mut take);
        let layers = (0..=self.params.hidden.len()).map(|_| (take(), take())).collect();
        Parts { bias, linear_cat, linear_num, embed_cat, embed_num, layers }
    }

    /// The logit of every row of a batch: `numeric` is `rows × n_numeric` (standardised), `codes`
    /// is `rows × n_fields` indices into the concatenated tables.
    fn forward(
        &self,
        weights: &[Tensor],
        numeric: &Tensor,
        codes: &Tensor,
        rows: usize,
    ) -> candle_core::Result<Tensor> {
        let parts = self.unpack(weights);
        let (fields, k) = (self.n_fields(), self.params.embedding_dim);
        let mut logit = parts.bias.broadcast_as(rows)?.contiguous()?;
        let mut deep_inputs = Vec::with_capacity(2);
        let mut fm_fields = Vec::with_capacity(2);
        if let (Some(linear_cat), Some(embed_cat)) = (parts.linear_cat, parts.embed_cat) {
            logit = (logit + linear_cat.index_select(codes, 0)?.reshape((rows, fields))?.sum(1)?)?;
            let embedded = embed_cat.index_select(codes, 0)?;
            deep_inputs.push(embedded.reshape((rows, fields * k))?);
            fm_fields.push(embedded.reshape((rows, fields, k))?);
        }
        if let Some(linear_num) = parts.linear_num {
            logit = (logit + numeric.matmul(linear_num)?.squeeze(1)?)?;
            deep_inputs.push(numeric.clone());
        }
        if let Some(embed_num) = parts.embed_num {
            // Value × the column's embedding: rows × n_numeric × k.
            fm_fields.push(numeric.unsqueeze(2)?.broadcast_mul(&embed_num.unsqueeze(0)?)?);
        }
        if self.arch == Arch::DeepFm && !fm_fields.is_empty() {
            // ½ Σ_k ((Σ_f e_fk)² − Σ_f e_fk²): every pairwise dot product in linear time.
            let all = Tensor::cat(&fm_fields, 1)?;
            let square_of_sum = all.sum(1)?.sqr()?;
            let sum_of_squares = all.sqr()?.sum(1)?;
            logit = (logit + ((square_of_sum - sum_of_squares)?.sum(1)? * 0.5)?)?;
        }
        let mut hidden = Tensor::cat(&deep_inputs, 1)?;
        let n_layers = parts.layers.len();
        for (i, (weight, bias)) in parts.layers.into_iter().enumerate() {
            hidden = hidden.matmul(weight)?.broadcast_add(bias)?;
            if i + 1 < n_layers {
                hidden = hidden.relu()?;
            }
        }
        logit + hidden.squeeze(1)?
    }
}

/// A fitted network.
#[derive(Debug)]
struct Net {
    spec: Spec,
    /// Per numeric column: training mean and 1 / standard deviation.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// Per categorical field: the first row of its table in the concatenated tables.
    offsets: Vec<u32>,
    weights: Vec<Tensor>,
}

/// At most 256 M f32 (1 GiB) of embedding and first-order weights.
const MAX_EMBEDDING_VALUES: usize = 1 << 28;

/// Rows scored per forward pass, to bound memory on large scoring sets.
const PREDICT_CHUNK: usize = 16_384;

impl Net {
    fn fit(arch: Arch, train: &CtrData, params: &DeepParams, progress: &dyn Fn(f32)) -> Result<Self, RankError> {
        params.validate()?;
        train.validate_for_training(LabelKind::Binary)?;
        let spec = Spec { arch, params: params.clone(), schema: train.schema() };
        spec.check_size()?;
        let (mean, inv_std) = standardiser(train);
        let offsets = offsets(&spec.schema.cardinalities);
        let shell = Net { spec, mean, inv_std, offsets, weights: Vec::new() };
        let numeric = shell.standardise(train);
        let codes = shell.codes(train);

        let device = Device::Cpu;
        let mut rng = StdRng::seed_from_u64(params.seed);
        let vars = shell
            .spec
            .slots()
            .into_iter()
            .map(|(_, shape, init)| {
                let len = shape.iter().product();
                let values: Vec<f32> = match init {
                    Init::Zeros => vec![0.0; len],
                    Init::Uniform(bound) => (0..len).map(|_| rng.random_range(-bound..bound)).collect(),
                };
                Var::from_vec(values, shape, &device)
            })
            .collect::<candle_core::Result<Vec<Var>>>()?;
        let weights: Vec<Tensor> = vars.iter().map(|var| var.as_tensor().clone()).collect();
        let mut optimizer = AdamW::new(
            vars,
            ParamsAdamW { lr: params.learning_rate, weight_decay: params.l2, ..ParamsAdamW::default() },
        )?;

        let (n_numeric, n_fields) = (train.n_numeric(), train.n_categorical());
        let mut order: Vec<usize> = (0..train.n_rows).collect();
        let mut batch_numeric = Vec::with_capacity(params.batch_size * n_numeric);
        let mut batch_codes = Vec::with_capacity(params.batch_size * n_fields);
        let mut batch_labels = Vec::with_capacity(params.batch_size);
        for epoch in 0..params.epochs {
            order.shuffle(&mut rng);
            let mut loss_sum = 0.0f64;
            for batch in order.chunks(params.batch_size) {
                batch_numeric.clear();
                batch_codes.clear();
                batch_labels.clear();
                for &row in batch {
                    batch_numeric.extend_from_slice(&numeric[row * n_numeric..(row + 1) * n_numeric]);
                    batch_codes.extend_from_slice(&codes[row * n_fields..(row + 1) * n_fields]);
                    batch_labels.push(train.labels[row]);
                }
                let rows = batch.len();
                let x = Tensor::from_slice(&batch_numeric, (rows, n_numeric), &device)?;
                let c = Tensor::from_slice(&batch_codes, rows * n_fields, &device)?;
                let y = Tensor::from_slice(&batch_labels, rows, &device)?;
                let logits = shell.spec.forward(&weights, &x, &c, rows)?;
                let loss = stable_bce_with_logits(&logits, &y)?;
                optimizer.backward_step(&loss)?;
                loss_sum += f64::from(loss.to_scalar::<f32>()?) * rows as f64;
            }
            if !loss_sum.is_finite() {
                return Err(RankError::Backend {
                    library: "candle",
                    message: format!(
                        "training diverged in epoch {} (loss is {loss_sum}); lower learning_rate",
                        epoch + 1
                    ),
                });
            }
            progress((epoch + 1) as f32 / params.epochs as f32);
        }

        // Rebuild from plain arrays, exactly as a load does, so a fitted and a loaded model run
        // the same code on the same bits.
        let arrays =
            weights.iter().map(|w| w.flatten_all()?.to_vec1::<f32>()).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Net { weights: tensors(&shell.spec, &arrays)?, ..shell })
    }

    fn predict(&self, data: &CtrData) -> Vec<f32> {
        assert_schema(&self.spec.schema, data);
        let numeric = self.standardise(data);
        let codes = self.codes(data);
        let (n_numeric, n_fields) = (data.n_numeric(), data.n_categorical());
        let mut scores = Vec::with_capacity(data.n_rows);
        let mut start = 0;
        while start < data.n_rows {
            let rows = PREDICT_CHUNK.min(data.n_rows - start);
            let logits = (|| {
                let x = Tensor::from_slice(
                    &numeric[start * n_numeric..(start + rows) * n_numeric],
                    (rows, n_numeric),
                    &Device::Cpu,
                )?;
                let c = Tensor::from_slice(
                    &codes[start * n_fields..(start + rows) * n_fields],
                    rows * n_fields,
                    &Device::Cpu,
                )?;
                self.spec.forward(&self.weights, &x, &c, rows)?.to_vec1::<f32>()
            })()
            // The shapes were checked above and on load; candle's CPU kernels do not fail otherwise.
            .expect("forward pass on checked shapes");
            scores.extend(logits.into_iter().map(sigmoid));
            start += rows;
        }
        scores
    }

    /// Numeric columns standardised, NaN (and ±inf) → 0.
    fn standardise(&self, data: &CtrData) -> Vec<f32> {
        let n = data.n_numeric();
        if n == 0 {
            return Vec::new();
        }
        data.numeric
            .chunks_exact(n)
            .flat_map(|row| {
                row.iter().zip(self.mean.iter().zip(&self.inv_std)).map(|(&x, (&mean, &inv_std))| {
                    let z = (x - mean) * inv_std;
                    if z.is_finite() { z } else { 0.0 }
                })
            })
            .collect()
    }

    /// Categorical codes as rows of the concatenated tables; codes the model never saw (at or
    /// above its cardinality) become the field's unknown row.
    fn codes(&self, data: &CtrData) -> Vec<u32> {
        let n = data.n_categorical();
        if n == 0 {
            return Vec::new();
        }
        let cardinalities = &self.spec.schema.cardinalities;
        data.categorical
            .chunks_exact(n)
            .flat_map(|row| {
                row.iter()
                    .zip(cardinalities.iter().zip(&self.offsets))
                    .map(|(&code, (&cardinality, &offset))| offset + if code < cardinality { code } else { 0 })
            })
            .collect()
    }

    fn to_artifact(&self) -> Artifact {
        let mut arrays = vec![self.mean.clone(), self.inv_std.clone()];
        for weight in &self.weights {
            arrays.push(weight.flatten_all().and_then(|w| w.to_vec1::<f32>()).expect("f32 CPU tensor"));
        }
        Artifact::new(self.spec.arch.name(), &self.spec, arrays)
    }

    fn from_artifact(arch: Arch, artifact: &Artifact) -> Result<Self, RankError> {
        let spec: Spec = artifact.model(arch.name())?;
        if spec.arch != arch {
            return Err(ArtifactError::Invalid(format!("header says {:?}, expected {arch:?}", spec.arch)).into());
        }
        spec.params.validate()?;
        spec.check_size()?;
        let schema_data = CtrData::new(
            spec.schema.numeric_names.clone(),
            spec.schema.categorical_names.clone(),
            spec.schema.cardinalities.clone(),
        );
        schema_data.validate()?;
        let n_numeric = spec.n_numeric();
        let mean = artifact.array(0, n_numeric)?.to_vec();
        let inv_std = artifact.array(1, n_numeric)?.to_vec();
        let slots = spec.slots();
        let mut arrays = Vec::with_capacity(slots.len());
        for (i, (_, shape, _)) in slots.iter().enumerate() {
            arrays.push(artifact.array(i + 2, shape.iter().product())?.to_vec());
        }
        if artifact.arrays.len() != slots.len() + 2 {
            return Err(ArtifactError::Invalid(format!(
                "{} arrays, expected {}",
                artifact.arrays.len(),
                slots.len() + 2
            ))
            .into());
        }
        let weights = tensors(&spec, &arrays)?;
        let offsets = offsets(&spec.schema.cardinalities);
        Ok(Net { spec, mean, inv_std, offsets, weights })
    }
}

fn tensors(spec: &Spec, arrays: &[Vec<f32>]) -> candle_core::Result<Vec<Tensor>> {
    spec.slots()
        .into_iter()
        .zip(arrays)
        .map(|((_, shape, _), values)| Tensor::from_slice(values, shape, &Device::Cpu))
        .collect()
}

fn offsets(cardinalities: &[u32]) -> Vec<u32> {
    cardinalities
        .iter()
        .scan(0u32, |next, &cardinality| {
            let offset = *next;
            *next += cardinality;
            Some(offset)
        })
        .collect()
}

/// Per numeric column, the mean and 1 / standard deviation of its present values (0 and 1 when
/// it has none, 1 when it is constant).
fn standardiser(train: &CtrData) -> (Vec<f32>, Vec<f32>) {
    let n = train.n_numeric();
    let mut count = vec![0u64; n];
    let mut sum = vec![0f64; n];
    let mut sum_sq = vec![0f64; n];
    for row in train.numeric.chunks_exact(n.max(1)).take(if n == 0 { 0 } else { train.n_rows }) {
        for (j, &x) in row.iter().enumerate() {
            if x.is_finite() {
                count[j] += 1;
                sum[j] += f64::from(x);
                sum_sq[j] += f64::from(x) * f64::from(x);
            }
        }
    }
    let mut mean = Vec::with_capacity(n);
    let mut inv_std = Vec::with_capacity(n);
    for j in 0..n {
        if count[j] == 0 {
            mean.push(0.0);
            inv_std.push(1.0);
            continue;
        }
        let m = sum[j] / count[j] as f64;
        let variance = (sum_sq[j] / count[j] as f64 - m * m).max(0.0);
        mean.push(m as f32);
        inv_std.push(if variance > 1e-12 { (1.0 / variance.sqrt()) as f32 } else { 1.0 });
    }
    (mean, inv_std)
}

/// Mean binary cross-entropy of logits `x` against labels `y`, as
/// max(x, 0) − x·y + log(1 + e^−|x|), which neither overflows nor takes log(0).
fn stable_bce_with_logits(x: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    let softplus_tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((x.relu()? - (x * y)?)? + softplus_tail)?.mean_all()
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_loss_stays_finite_on_huge_logits() {
        let x = Tensor::new(&[-1000f32, -30.0, 0.0, 30.0, 1000.0], &Device::Cpu).unwrap();
        let y = Tensor::new(&[0f32, 1.0, 1.0, 0.0, 1.0], &Device::Cpu).unwrap();
        let loss = stable_bce_with_logits(&x, &y).unwrap().to_scalar::<f32>().unwrap();
        // (0 + 30 + ln 2 + 30 + 0) / 5, up to e^-30.
        assert!((loss - (60.0 + std::f32::consts::LN_2) / 5.0).abs() < 1e-4, "{loss}");
    }

    #[test]
    fn params_deserialize_strictly_with_defaults() {
        let params: DeepParams = serde_json::from_str(r#"{"epochs": 3}"#).unwrap();
        assert_eq!(params, DeepParams { epochs: 3, ..DeepParams::default() });
        assert!(serde_json::from_str::<DeepParams>(r#"{"epoch": 3}"#).is_err());
        assert!(DeepParams { batch_size: 0, ..DeepParams::default() }.validate().is_err());
    }

    #[test]
    fn standardiser_skips_missing_values() {
        let mut data = CtrData::new(vec!["a".into(), "b".into()], vec![], vec![]);
        for (a, b) in [(1.0, f32::NAN), (3.0, f32::NAN), (f32::NAN, f32::NAN)] {
            data.push_row(&[a, b], &[], None).unwrap();
        }
        let (mean, inv_std) = standardiser(&data);
        assert_eq!(mean, vec![2.0, 0.0]);
        assert_eq!(inv_std, vec![1.0, 1.0]);
    }
}
