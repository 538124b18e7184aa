//! The user × item matrix the models learn from: dense indices for users and items, and the
//! interactions in compressed sparse rows both ways (by user and by item).

use rustc_hash::FxHashMap as HashMap;

/// Ids ↔ dense indices, in first-seen order.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl PartialEq for Vocabulary {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl Vocabulary {
    pub fn from_names(names: Vec<String>) -> Self {
        let index = names.iter().enumerate().map(|(i, name)| (name.clone(), i as u32)).collect();
        Self { names, index }
    }

    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, index: u32) -> &str {
        &self.names[index as usize]
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Compressed sparse rows: row `r`'s entries are `indices[indptr[r]..indptr[r + 1]]` with the
/// same positions in `values`.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    /// Builds from (row, column, value) triples; duplicates of a cell are summed, and the
    /// columns of each row are sorted.
    pub fn from_triples(rows: usize, triples: &[(u32, u32, f32)]) -> Self {
        let mut counts = vec![0usize; rows + 1];
        for &(r, _, _) in triples {
            counts[r as usize + 1] += 1;
        }
        for r in 0..rows {
            counts[r + 1] += counts[r];
        }
        let mut cursor = counts.clone();
        let mut entries = vec![(0u32, 0f32); triples.len()];
        for &(r, c, v) in triples {
            entries[cursor[r as usize]] = (c, v);
            cursor[r as usize] += 1;
        }
        let mut indptr = Vec::with_capacity(rows + 1);
        let mut indices = Vec::with_capacity(triples.len());
        let mut values = Vec::with_capacity(triples.len());
        indptr.push(0);
        for r in 0..rows {
            let row = &mut entries[counts[r]..counts[r + 1]];
            row.sort_unstable_by_key(|e| e.0);
            for &(c, v) in row.iter() {
                if indices.len() > *indptr.last().unwrap() && *indices.last().unwrap() == c {
                    *values.last_mut().unwrap() += v;
                } else {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Self { indptr, indices, values }
    }

    pub fn rows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let range = self.indptr[r]..self.indptr[r + 1];
        (&self.indices[range.clone()], &self.values[range])
    }

    /// The transpose, with `columns` rows.
    pub fn transpose(&self, columns: usize) -> Self {
        let mut triples = Vec::with_capacity(self.nnz());
        for r in 0..self.rows() {
            let (cols, vals) = self.row(r);
            triples.extend(cols.iter().zip(vals).map(|(&c, &v)| (c, r as u32, v)));
        }
        Self::from_triples(columns, &triples)
    }
}

/// A user × item matrix of interaction strengths, by user and by item.
#[derive(Debug, Clone)]
pub struct Interactions {
    pub users: Vocabulary,
    pub items: Vocabulary,
    pub by_user: Csr,
    pub by_item: Csr,
}

impl Interactions {
    /// From (user, item, strength) rows; repeated pairs add up. `items` may list items with no
    /// interaction (they are part of the catalog and get indices first).
    pub fn build<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, f32)>, items: Vocabulary) -> Self {
        let mut users = Vocabulary::default();
        let mut items = items;
        let triples: Vec<(u32, u32, f32)> =
            rows.into_iter().map(|(u, i, v)| (users.intern(u), items.intern(i), v)).collect();
        let by_user = Csr::from_triples(users.len(), &triples);
        let by_item = by_user.transpose(items.len());
        Self { users, items, by_user, by_item }
    }

    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn n_items(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_duplicates_and_transpose_back() {
        let data = Interactions::build(
            [("u1", "a", 1.0), ("u1", "b", 2.0), ("u2", "a", 1.0), ("u1", "a", 0.5)],
            Vocabulary::from_names(vec!["z".into()]),
        );
        assert_eq!(data.n_users(), 2);
        assert_eq!(data.n_items(), 3, "z is in the catalog without interactions");
        let u1 = data.users.get("u1").unwrap() as usize;
        let (cols, vals) = data.by_user.row(u1);
        let a = data.items.get("a").unwrap();
        let b = data.items.get("b").unwrap();
        assert_eq!(cols, &[a, b]);
        assert_eq!(vals, &[1.5, 2.0]);
        let (users, _) = data.by_item.row(a as usize);
        assert_eq!(users.len(), 2);
        assert_eq!(data.by_item.row(0).0.len(), 0, "z has no users");
    }
}
