//! LightGBM's trees compiled into flat arrays and scored in batches, in Rust: what a request's
//! candidates are ranked with. The trees come from LightGBM's own text model (the artifact's
//! `model`), and each decision follows LightGBM's `Tree::NumericalDecision` /
//! `CategoricalDecision` (`include/LightGBM/tree.h`): missing values by the node's missing type
//! and default direction, categorical splits by the node's bitset of codes. Scores are summed
//! tree by tree in LightGBM's order, in `f64`, so they equal `LGBM_BoosterPredictForMat`'s (the
//! tests compare them on data with missing values, categorical splits and unknown codes).
//!
//! Why not LightGBM's own predict on the request path: each call of the C API re-parses its
//! parameter string and builds per-row feature vectors of (index, value) pairs, and walks the
//! trees row by row; here the nodes of all trees lie in a few flat arrays, and every tree runs
//! over the whole batch of candidates before the next, so the tree stays in the cache.
//!
//! A batch is one request's candidates, so the columns of the user and the request context hold
//! one value in every row. Splits on those columns are decided once per tree and batch, and the
//! walk jumps over them (`predict`'s `jump` table): a row walks only the splits on its own item's
//! columns. On `tree_bench`'s model this scores a request's rows several times faster than rows
//! drawn independently; how much depends on how often the trees split on the user's columns.

/// One node's decision bits (LightGBM's `decision_type`).
const CATEGORICAL: u8 = 1;
const DEFAULT_LEFT: u8 = 2;
/// `(decision_type >> 2) & 3`: LightGBM's `MissingType`.
const MISSING_ZERO: u8 = 1;
const MISSING_NAN: u8 = 2;
/// LightGBM's `kZeroThreshold` (a float literal widened to double).
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// How raw scores become predictions (LightGBM's `ConvertOutput`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Output {
    Raw,
    /// `binary sigmoid:s`: 1 / (1 + exp(−s·x)).
    Sigmoid(f64),
}

/// One split: the column, how it decides, and where each side goes (a child below zero is the
/// leaf `!child` of the same tree); a categorical split's bitset is `cat_words[bits.0..bits.1]`.
/// 32 bytes: a node is one load.
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    feature: u32,
    decision: u8,
    children: [i32; 2],
    bits: (u32, u32),
}

/// The trees, flat: node `n` of tree `t` is `nodes[node_offsets[t] + n]`, its leaf `l` is
/// `leaf_values[leaf_offsets[t] + l]`.
#[derive(Debug, Clone)]
pub struct CompiledTrees {
    nodes: Vec<Node>,
    node_offsets: Vec<usize>,
    leaf_values: Vec<f64>,
    leaf_offsets: Vec<usize>,
    /// Every categorical split's bitset, one after the other.
    cat_words: Vec<u32>,
    n_features: usize,
    output: Output,
}

/// Rows walked down a tree together, so their node loads overlap.
const LANES: usize = 8;

impl CompiledTrees {
    /// Parses LightGBM's text model. Linear trees and averaged outputs (random forests) are not
    /// compiled: the caller keeps LightGBM's predict for them.
    pub fn parse(model: &str) -> Result<Self, String> {
        let mut lines = model.lines().peekable();
        let mut header = std::collections::HashMap::new();
        while let Some(line) = lines.peek() {
            if line.starts_with("Tree=") {
                break;
            }
            if let Some((key, value)) = line.split_once('=') {
                header.insert(key.trim().to_owned(), value.trim().to_owned());
            } else if line.trim() == "average_output" {
                return Err("averaged outputs (random forest) are not compiled".into());
            }
            lines.next();
        }
        let n_features = header
            .get("max_feature_idx")
            .ok_or("no max_feature_idx")?
            .parse::<usize>()
            .map_err(|e| format!("max_feature_idx: {e}"))?
            + 1;
        let objective = header.get("objective").map(String::as_str).unwrap_or("");
        let output = if objective.starts_with("binary") {
            let sigmoid = objective
                .split_whitespace()
                .find_map(|part| part.strip_prefix("sigmoid:"))
                .map_or(Ok(1.0), |s| s.parse::<f64>().map_err(|e| format!("sigmoid: {e}")))?;
            Output::Sigmoid(sigmoid)
        } else if objective.starts_with("lambdarank") || objective.starts_with("regression") || objective.is_empty() {
            Output::Raw
        } else {
            return Err(format!("objective `{objective}` is not compiled"));
        };
        let mut trees = CompiledTrees {
            nodes: Vec::new(),
            node_offsets: Vec::new(),
            leaf_values: Vec::new(),
            leaf_offsets: Vec::new(),
            cat_words: Vec::new(),
            n_features,
            output,
        };
        while let Some(line) = lines.next() {
            if !line.starts_with("Tree=") {
                if line.starts_with("end of trees") {
                    break;
                }
                continue;
            }
            let mut fields = std::collections::HashMap::new();
            while let Some(line) = lines.peek() {
                if line.trim().is_empty() || line.starts_with("Tree=") || line.starts_with("end of trees") {
                    break;
                }
                if let Some((key, value)) = line.split_once('=') {
                    fields.insert(key.to_owned(), value.to_owned());
                }
                lines.next();
            }
            trees.push_tree(&fields)?;
        }
        if trees.node_offsets.is_empty() {
            return Err("no trees".into());
        }
        Ok(trees)
    }

    fn push_tree(&mut self, fields: &std::collections::HashMap<String, String>) -> Result<(), String> {
        fn list<T: std::str::FromStr>(
            fields: &std::collections::HashMap<String, String>,
            key: &str,
        ) -> Result<Vec<T>, String>
        where
            T::Err: std::fmt::Display,
        {
            let Some(text) = fields.get(key) else { return Ok(Vec::new()) };
            text.split_whitespace().map(|x| x.parse::<T>().map_err(|e| format!("{key}: {e}"))).collect()
        }
        if fields.get("is_linear").is_some_and(|v| v.trim() != "0") {
            return Err("linear trees are not compiled".into());
        }
        let leaves: usize = fields
            .get("num_leaves")
            .ok_or("a tree without num_leaves")?
            .trim()
            .parse()
            .map_err(|e| format!("num_leaves: {e}"))?;
        let leaf_values: Vec<f64> = list(fields, "leaf_value")?;
        if leaf_values.len() != leaves || leaves == 0 {
            return Err(format!("{} leaf values for {leaves} leaves", leaf_values.len()));
        }
        self.node_offsets.push(self.nodes.len());
        self.leaf_offsets.push(self.leaf_values.len());
        self.leaf_values.extend(&leaf_values);
        if leaves == 1 {
            // A constant tree: one leaf, no node (LightGBM returns leaf_value[0]).
            return Ok(());
        }
        let nodes = leaves - 1;
        let features: Vec<u32> = list(fields, "split_feature")?;
        let thresholds: Vec<f64> = list(fields, "threshold")?;
        let decisions: Vec<u8> = list::<i32>(fields, "decision_type")?.into_iter().map(|d| d as u8).collect();
        let left: Vec<i32> = list(fields, "left_child")?;
        let right: Vec<i32> = list(fields, "right_child")?;
        if [features.len(), thresholds.len(), decisions.len(), left.len(), right.len()].iter().any(|&n| n != nodes) {
            return Err(format!("a tree of {leaves} leaves needs {nodes} nodes in every node field"));
        }
        let boundaries: Vec<usize> = list(fields, "cat_boundaries")?;
        let words: Vec<u32> = list(fields, "cat_threshold")?;
        for node in 0..nodes {
            if features[node] as usize >= self.n_features {
                return Err(format!("split on feature {} of {}", features[node], self.n_features));
            }
            for child in [left[node], right[node]] {
                let fits = if child < 0 {
                    ((!child) as usize) < leaves
                } else {
                    (child as usize) < nodes && child as usize > node
                };
                if !fits {
                    return Err(format!("node {node} has child {child} in a tree of {leaves} leaves"));
                }
            }
            if decisions[node] & CATEGORICAL != 0 {
                let at = thresholds[node] as usize;
                if at + 1 >= boundaries.len() || boundaries[at] > boundaries[at + 1] || boundaries[at + 1] > words.len()
                {
                    return Err(format!("node {node}'s categories {at} are outside cat_boundaries"));
                }
            }
        }
        let base = self.cat_words.len();
        self.cat_words.extend(&words);
        self.nodes.extend((0..nodes).map(|n| {
            let bits = if decisions[n] & CATEGORICAL != 0 {
                let at = thresholds[n] as usize;
                ((base + boundaries[at]) as u32, (base + boundaries[at + 1]) as u32)
            } else {
                (0, 0)
            };
            Node {
                threshold: thresholds[n],
                feature: features[n],
                decision: decisions[n],
                children: [left[n], right[n]],
                bits,
            }
        }));
        Ok(())
    }

    /// Trees in the model.
    pub fn n_trees(&self) -> usize {
        self.node_offsets.len()
    }

    /// Tree `tree`'s splits.
    fn tree_nodes(&self, tree: usize) -> &[Node] {
        let end = self.node_offsets.get(tree + 1).copied().unwrap_or(self.nodes.len());
        &self.nodes[self.node_offsets[tree]..end]
    }

    /// Columns a row has.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Predictions for `rows` rows of `n_features` columns (row-major), as LightGBM's normal
    /// predict gives them (probabilities for `binary`, raw scores otherwise).
    pub fn predict(&self, matrix: &[f64]) -> Vec<f64> {
        let width = self.n_features;
        assert_eq!(matrix.len() % width, 0, "rows of {width} columns");
        // At least one column: `max_feature_idx` + 1.
        let rows = matrix.len() / width;
        let mut scores = vec![0f64; rows];
        // A batch is one request's candidates: the user's and the context's columns hold one
        // value in every row. A split on such a column decides the same way for every row, so it
        // is decided once per batch and the walk skips it (`jump`).
        let same: Vec<bool> = (0..width)
            .map(|column| {
                rows >= LANES && matrix.chunks_exact(width).all(|row| row[column].to_bits() == matrix[column].to_bits())
            })
            .collect();
        let specialise = same.contains(&true);
        let longest = (0..self.n_trees()).map(|tree| self.tree_nodes(tree).len()).max().unwrap_or(0);
        let mut jump = vec![[0i32; 2]; longest];
        for tree in 0..self.n_trees() {
            let leaves = &self.leaf_values[self.leaf_offsets[tree]..];
            let nodes = self.tree_nodes(tree);
            if nodes.is_empty() {
                for score in &mut scores {
                    *score += leaves[0];
                }
                continue;
            }
            let words = &self.cat_words;
            let decide = |node: &Node, value: f64| -> bool {
                if node.decision & CATEGORICAL != 0 {
                    categorical_left(value, &words[node.bits.0 as usize..node.bits.1 as usize])
                } else {
                    numerical_left(value, node.threshold, node.decision)
                }
            };
            // Where each side of a node leads once the batch's decided splits are followed:
            // children come after their parent, so the nodes are resolved from the last.
            let jump = &mut jump[..nodes.len()];
            let through = |jump: &[[i32; 2]], child: i32| -> i32 {
                if child < 0 {
                    return child;
                }
                let node = &nodes[child as usize];
                if same[node.feature as usize] {
                    jump[child as usize][usize::from(!decide(node, matrix[node.feature as usize]))]
                } else {
                    child
                }
            };
            for n in (0..nodes.len()).rev() {
                jump[n] =
                    if specialise { nodes[n].children.map(|child| through(jump, child)) } else { nodes[n].children };
            }
            let root = if specialise { through(jump, 0) } else { 0 };
            let jump = &*jump;
            let step = |row: &[f64], node: i32| -> i32 {
                let split = &nodes[node as usize];
                jump[node as usize][usize::from(!decide(split, row[split.feature as usize]))]
            };
            let mut row_chunks = matrix.chunks_exact(width * LANES);
            let mut score_chunks = scores.chunks_exact_mut(LANES);
            for (block, block_scores) in (&mut row_chunks).zip(&mut score_chunks) {
                let mut at = [root; LANES];
                // Every lane steps until all are at a leaf: their loads are independent.
                while at.iter().any(|&node| node >= 0) {
                    for (lane, node) in at.iter_mut().enumerate() {
                        if *node >= 0 {
                            *node = step(&block[lane * width..(lane + 1) * width], *node);
                        }
                    }
                }
                for (score, node) in block_scores.iter_mut().zip(at) {
                    *score += leaves[(!node) as usize];
                }
            }
            for (row, score) in row_chunks.remainder().chunks_exact(width).zip(score_chunks.into_remainder()) {
                let mut node = root;
                while node >= 0 {
                    node = step(row, node);
                }
                *score += leaves[(!node) as usize];
            }
        }
        if let Output::Sigmoid(sigmoid) = self.output {
            for score in &mut scores {
                *score = 1.0 / (1.0 + (-sigmoid * *score).exp());
            }
        }
        scores
    }
}

/// LightGBM's `NumericalDecision`: whether the value goes left.
#[inline]
fn numerical_left(value: f64, threshold: f64, decision: u8) -> bool {
    // LightGBM's predictor drops values within its zero threshold (its rows are sparse pairs).
    let value = if value.abs() <= ZERO_THRESHOLD { 0.0 } else { value };
    let missing = (decision >> 2) & 3;
    let value = if value.is_nan() && missing != MISSING_NAN { 0.0 } else { value };
    if (missing == MISSING_ZERO && value.abs() <= ZERO_THRESHOLD) || (missing == MISSING_NAN && value.is_nan()) {
        return decision & DEFAULT_LEFT != 0;
    }
    value <= threshold
}

/// LightGBM's `CategoricalDecision`: left when the value's code is in the node's bitset.
#[inline]
fn categorical_left(value: f64, bits: &[u32]) -> bool {
    // NaN goes right, and so does a code below zero after truncation toward zero (C's cast,
    // which Rust's `as` matches; −0.5 is code 0).
    if value.is_nan() {
        return false;
    }
    let code = value as i64;
    if code < 0 {
        return false;
    }
    let word = (code / 32) as usize;
    word < bits.len() && (bits[word] >> (code % 32)) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two trees written as LightGBM writes them: a numerical split with NaN going left, and a
    /// categorical split on codes {1, 33}, then a constant tree.
    const MODEL: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=binary sigmoid:1\nfeature_names=x c\n\n\
Tree=0\nnum_leaves=3\nnum_cat=1\nsplit_feature=0 1\nsplit_gain=1 1\nthreshold=0.5 0\n\
decision_type=10 1\nleft_child=-1 -2\nright_child=1 -3\nleaf_value=0.25 -0.5 1\n\
cat_boundaries=0 2\ncat_threshold=2 2\nis_linear=0\nshrinkage=1\n\n\n\
Tree=1\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\n\
left_child=\nright_child=\nleaf_value=0.125\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn decisions_follow_lightgbms_rules() {
        let trees = CompiledTrees::parse(MODEL).unwrap();
        assert_eq!((trees.n_trees(), trees.n_features()), (2, 2));
        let rows = [
            (0.4, 7.0, 0.25),      // x ≤ 0.5: the first leaf
            (f64::NAN, 7.0, 0.25), // missing: NaN type, default left (decision 10 = NaN | left)
            (0.6, 1.0, -0.5),      // right, then code 1 is in the set
            (0.6, 33.0, -0.5),     // code 33: the second word's bit 1
            (0.6, 2.0, 1.0),       // code 2 is not
            (0.6, 64.0, 1.0),      // past the bitset
            (0.6, f64::NAN, 1.0),  // a missing category goes right
            (0.6, -1.0, 1.0),      // so does a negative one
            (0.6, 1.7, -0.5),      // a fraction is truncated to its code, as C casts
            (0.6, -0.5, 1.0),      // −0.5 truncates to code 0, not in the set
        ];
        let matrix: Vec<f64> = rows.iter().flat_map(|&(x, c, _)| [x, c]).collect();
        let got = trees.predict(&matrix);
        for (score, &(x, c, leaf)) in got.iter().zip(&rows) {
            assert_eq!(*score, sigmoid(leaf + 0.125), "x {x}, c {c}");
        }
    }

    #[test]
    fn malformed_models_are_refused_with_the_reason() {
        for (change, reason) in [
            (("left_child=-1 -2", "left_child=-1 -9"), "child -9"),
            (("split_feature=0 1", "split_feature=0 5"), "feature 5"),
            (("leaf_value=0.25 -0.5 1", "leaf_value=0.25 -0.5"), "leaf values"),
            (("cat_boundaries=0 2", "cat_boundaries=0"), "cat_boundaries"),
            (("is_linear=0", "is_linear=1"), "linear"),
            (("objective=binary sigmoid:1", "objective=multiclass num_class:3"), "multiclass"),
        ] {
            let model = MODEL.replacen(change.0, change.1, 1);
            let error = CompiledTrees::parse(&model).unwrap_err();
            assert!(error.contains(reason), "{error}");
        }
        let raw = CompiledTrees::parse(&MODEL.replace("objective=binary sigmoid:1", "objective=lambdarank")).unwrap();
        assert_eq!(raw.predict(&[0.4, 0.0]), [0.375]);
    }
}
