//! An immutable snapshot of one scenario's recommendable items, indexed the ways the recall
//! strategies read them: by id, by recency, by category and by tag. The server rebuilds a
//! snapshot after item writes; a request holds an `Arc` to one snapshot for its whole run.
//!
//! Numeric metadata is also kept in columns (one `f64` per item and field): ranking reads a
//! feature of every candidate, and a column read costs one cache line where walking each item's
//! metadata map cost several — it measured a fifth of the request's CPU time. A column is built
//! on first ask, for the fields a config's features name: built up front for every numeric field
//! any item had, a tenant's items with thousands of distinct numeric keys made them items ×
//! fields × 8 bytes (gigabytes from a few hundred items).

use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use polyrec_core::Item;

use crate::geo::GeoIndex;

/// Active items by the value of one metadata field, newest first.
pub type FieldIndex = HashMap<String, Vec<Arc<Item>>>;

#[derive(Debug, Default)]
pub struct Catalog {
    items: HashMap<String, Arc<Item>>,
    /// Active items, newest publish time first.
    by_recency: Vec<Arc<Item>>,
    /// Active items per category, newest first.
    by_category: HashMap<String, Vec<Arc<Item>>>,
    /// Active items per tag, newest first.
    by_tag: HashMap<String, Vec<Arc<Item>>>,
    /// Each item's row in the columns, by the address of its entry.
    rows: HashMap<usize, u32>,
    /// Numeric metadata by field, one value per row (NaN where the item has none), built on
    /// first ask; `None` for a field no item has as a number.
    numeric: Mutex<HashMap<String, Option<Arc<[f64]>>>>,
    /// Each row's category as an index into `category_names` (`NO_CATEGORY` where none).
    category_ids: Vec<u32>,
    category_names: Vec<String>,
    /// Built on first use (by the `location` recall), one per metadata field it reads: a scenario
    /// that never asks pays nothing, and a snapshot's indexes die with it.
    regions: Mutex<HashMap<String, Arc<FieldIndex>>>,
    places: Mutex<HashMap<(String, String), Arc<GeoIndex>>>,
}

const NO_CATEGORY: u32 = u32::MAX;

/// An index a catalog builds on first ask (work proportional to the catalog), named so that a
/// pipeline can list the ones it reads and the server build them on the blocking pool before
/// the request runs ([`Catalog::is_built`], [`Catalog::build_index`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CatalogIndex {
    /// [`Catalog::numeric_column`] of a field.
    Numeric(String),
    /// [`Catalog::by_field`] of a field.
    Field(String),
    /// [`Catalog::places`] of a latitude and a longitude field.
    Places(String, String),
}

impl Catalog {
    pub fn build(items: impl IntoIterator<Item = Arc<Item>>) -> Self {
        let items: HashMap<String, Arc<Item>> =
            items.into_iter().map(|item| (item.item_id.to_string(), item)).collect();
        let mut by_recency: Vec<Arc<Item>> = items.values().filter(|item| item.is_active()).cloned().collect();
        by_recency.sort_by(|a, b| b.publish_ms().cmp(&a.publish_ms()).then_with(|| a.item_id.cmp(&b.item_id)));
        let mut by_category: HashMap<String, Vec<Arc<Item>>> = HashMap::default();
        let mut by_tag: HashMap<String, Vec<Arc<Item>>> = HashMap::default();
        for item in &by_recency {
            if let Some(category) = item.category() {
                by_category.entry(category.to_owned()).or_default().push(item.clone());
            }
            for tag in item.tags() {
                by_tag.entry(tag.to_owned()).or_default().push(item.clone());
            }
        }
        let mut rows: HashMap<usize, u32> = HashMap::default();
        let mut category_ids = vec![NO_CATEGORY; items.len()];
        let mut category_names: Vec<String> = Vec::new();
        let mut category_index: HashMap<&str, u32> = HashMap::default();
        for (row, item) in items.values().enumerate() {
            rows.insert(Arc::as_ptr(item) as usize, row as u32);
            if let Some(category) = item.category() {
                category_ids[row] = *category_index.entry(category).or_insert_with(|| {
                    category_names.push(category.to_owned());
                    (category_names.len() - 1) as u32
                });
            }
        }
        drop(category_index);
        Self {
            items,
            by_recency,
            by_category,
            by_tag,
            rows,
            numeric: Mutex::default(),
            category_ids,
            category_names,
            regions: Mutex::default(),
            places: Mutex::default(),
        }
    }

    /// [`Catalog::build`], then the indexes built on ask in `previous` (the snapshot this one
    /// replaces) built here too: a scenario's reads then find them built in every snapshot after
    /// the first, and the work proportional to the catalog stays with the builder (the blocking
    /// pool) rather than the first request after each item write.
    pub fn build_like(items: impl IntoIterator<Item = Arc<Item>>, previous: &Catalog) -> Self {
        let catalog = Self::build(items);
        let numeric: Vec<String> =
            previous.numeric.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        let regions: Vec<String> =
            previous.regions.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        let places: Vec<(String, String)> =
            previous.places.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        for field in &numeric {
            catalog.numeric_column(field);
        }
        for field in &regions {
            catalog.by_field(field);
        }
        for (lat, lon) in &places {
            catalog.places(lat, lon);
        }
        catalog
    }

    /// Whether `index` is built. Never waits: `false` while another thread holds the lock it is
    /// built under (building it, perhaps), so a caller on a runtime thread goes to the blocking
    /// pool rather than block its thread.
    pub fn is_built(&self, index: &CatalogIndex) -> bool {
        match index {
            CatalogIndex::Numeric(field) => self.numeric.try_lock().is_ok_and(|built| built.contains_key(field)),
            CatalogIndex::Field(field) => self.regions.try_lock().is_ok_and(|built| built.contains_key(field)),
            CatalogIndex::Places(lat, lon) => {
                self.places.try_lock().is_ok_and(|built| built.contains_key(&(lat.clone(), lon.clone())))
            }
        }
    }

    /// Builds `index` unless it is built (on the blocking pool: it takes time proportional to
    /// the catalog).
    pub fn build_index(&self, index: &CatalogIndex) {
        match index {
            CatalogIndex::Numeric(field) => drop(self.numeric_column(field)),
            CatalogIndex::Field(field) => drop(self.by_field(field)),
            CatalogIndex::Places(lat, lon) => drop(self.places(lat, lon)),
        }
    }

    /// How many indexes were built on ask (numeric columns, field and place indexes).
    pub fn indexes_built_on_ask(&self) -> usize {
        self.numeric.lock().unwrap_or_else(PoisonError::into_inner).len()
            + self.regions.lock().unwrap_or_else(PoisonError::into_inner).len()
            + self.places.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Active items by the string value of `metadata.<field>`, newest first; built on first ask.
    pub fn by_field(&self, field: &str) -> Arc<FieldIndex> {
        let mut regions = self.regions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = regions.get(field) {
            return index.clone();
        }
        let mut index = FieldIndex::default();
        for item in &self.by_recency {
            if let Some(value) = item.metadata.get(field).and_then(|v| v.as_str()) {
                index.entry(value.to_owned()).or_default().push(item.clone());
            }
        }
        let index = Arc::new(index);
        regions.insert(field.to_owned(), index.clone());
        index
    }

    /// Active items with a valid point in `metadata.<lat_field>` and `<lon_field>`, by place;
    /// built on first ask.
    pub fn places(&self, lat_field: &str, lon_field: &str) -> Arc<GeoIndex> {
        let mut places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (lat_field.to_owned(), lon_field.to_owned());
        if let Some(index) = places.get(&key) {
            return index.clone();
        }
        let index = Arc::new(GeoIndex::build(&self.by_recency, lat_field, lon_field));
        places.insert(key, index.clone());
        index
    }

    /// The category of the item at `row`, as a small id (equal ids, equal categories) and name.
    pub fn category_at(&self, row: usize) -> Option<(u32, &str)> {
        let id = *self.category_ids.get(row)?;
        (id != NO_CATEGORY).then(|| (id, self.category_names[id as usize].as_str()))
    }

    /// The row of an item of this catalog in [`Catalog::numeric_column`].
    pub fn row(&self, item: &Arc<Item>) -> Option<usize> {
        self.rows.get(&(Arc::as_ptr(item) as usize)).map(|row| *row as usize)
    }

    /// A numeric metadata field of every item, by row; NaN where an item has none. `None` when
    /// no item has it as a number. Built on first ask.
    pub fn numeric_column(&self, field: &str) -> Option<Arc<[f64]>> {
        let mut numeric = self.numeric.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(column) = numeric.get(field) {
            return column.clone();
        }
        let mut column = vec![f64::NAN; self.items.len()];
        let mut any = false;
        for item in self.items.values() {
            if let (Some(value), Some(row)) = (item.number(field), self.row(item)) {
                column[row] = value;
                any = true;
            }
        }
        let column: Option<Arc<[f64]>> = any.then(|| column.into());
        numeric.insert(field.to_owned(), column.clone());
        column
    }

    /// Any item, active or not.
    pub fn get(&self, item_id: &str) -> Option<&Arc<Item>> {
        self.items.get(item_id)
    }

    /// An item that may be recommended.
    pub fn active(&self, item_id: &str) -> Option<&Arc<Item>> {
        self.items.get(item_id).filter(|item| item.is_active())
    }

    pub fn newest(&self) -> &[Arc<Item>] {
        &self.by_recency
    }

    pub fn newest_in_category(&self, category: &str) -> &[Arc<Item>] {
        self.by_category.get(category).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn newest_with_tag(&self, tag: &str) -> &[Arc<Item>] {
        self.by_tag.get(tag).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use polyrec_core::{Item, ItemId, ItemStatus, ScenarioId};
    use serde_json::{Value, json};

    use super::Catalog;

    /// An item published `age_hours` before `now_ms`, with the given metadata merged in.
    pub fn item(id: &str, now_ms: i64, age_hours: i64, metadata: Value) -> Arc<Item> {
        let mut meta = metadata.as_object().cloned().unwrap_or_default();
        meta.entry("publish_time").or_insert(json!(now_ms - age_hours * 3_600_000));
        Arc::new(Item {
            item_id: ItemId::parse(id).unwrap(),
            scenario_id: ScenarioId::parse("s").unwrap(),
            metadata: meta,
            embedding: None,
            status: ItemStatus::Active,
            created_ms: 0,
            updated_ms: 0,
            publish_memo: Default::default(),
        })
    }

    pub fn catalog(items: Vec<Arc<Item>>) -> Arc<Catalog> {
        Arc::new(Catalog::build(items))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::test_support::item;
    use super::*;

    #[test]
    fn a_rebuilt_catalog_has_the_indexes_its_predecessor_was_asked_for() {
        let now = 1_000_000_000_000;
        let meta = json!({"price": 3.0, "region": "north", "lat": 52.5, "lon": 13.4});
        let first = Catalog::build([item("a", now, 1, meta.clone())]);
        assert_eq!(first.indexes_built_on_ask(), 0);
        first.numeric_column("price");
        first.by_field("region");
        first.places("lat", "lon");
        let next = Catalog::build_like([item("a", now, 1, meta.clone()), item("b", now, 0, meta)], &first);
        assert_eq!(next.indexes_built_on_ask(), 3, "built with the snapshot, not on the next request");
        assert_eq!(next.numeric_column("price").unwrap().len(), 2);
        assert_eq!(next.by_field("region")["north"].len(), 2);
        assert_eq!(next.indexes_built_on_ask(), 3);
    }

    /// A request on a runtime thread asks without waiting: while the lock is held (an index
    /// being built) the answer is "not built", and the request goes to the blocking pool.
    #[test]
    fn asking_whether_an_index_is_built_never_waits() {
        let catalog = Catalog::build([item("a", 0, 1, json!({"price": 3.0}))]);
        let price = CatalogIndex::Numeric("price".into());
        catalog.build_index(&price);
        assert!(catalog.is_built(&price));
        let held = catalog.numeric.lock().unwrap();
        assert!(!catalog.is_built(&price), "answered while the lock is held");
        drop(held);
        assert!(catalog.is_built(&price));
    }

    #[test]
    fn indexes_active_items_newest_first() {
        let now = 1_000_000_000_000;
        let mut old = (*item("old", now, 10, json!({"category": "a", "tags": ["x"]}))).clone();
        old.status = polyrec_core::ItemStatus::Active;
        let mut hidden = (*item("hidden", now, 0, json!({"category": "a"}))).clone();
        hidden.status = polyrec_core::ItemStatus::Inactive;
        let catalog = Catalog::build([
            Arc::new(old),
            item("new", now, 1, json!({"category": "a", "tags": ["x", "y"]})),
            Arc::new(hidden),
        ]);
        let ids = |items: &[Arc<Item>]| items.iter().map(|i| i.item_id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(catalog.newest()), ["new", "old"]);
        assert_eq!(ids(catalog.newest_in_category("a")), ["new", "old"]);
        assert_eq!(ids(catalog.newest_with_tag("y")), ["new"]);
        assert!(catalog.get("hidden").is_some());
        assert!(catalog.active("hidden").is_none());
        assert_eq!((catalog.len(), catalog.newest().len()), (3, 2));
    }

    #[test]
    fn numeric_metadata_is_in_columns() {
        let catalog = Catalog::build([
            item("a", 0, 0, json!({"price": 3, "size": "7.5"})),
            item("b", 0, 0, json!({"price": 10, "name": "x"})),
        ]);
        let price = catalog.numeric_column("price").unwrap();
        let size = catalog.numeric_column("size").unwrap();
        let (a, b) = (catalog.row(catalog.get("a").unwrap()).unwrap(), catalog.row(catalog.get("b").unwrap()).unwrap());
        assert_eq!((price[a], price[b]), (3.0, 10.0));
        assert_eq!(size[a], 7.5);
        assert!(size[b].is_nan());
        assert!(catalog.numeric_column("name").is_none());
        assert_eq!(catalog.category_at(a), None);
        let stranger = item("a", 0, 0, json!({}));
        assert_eq!(catalog.row(&stranger), None, "rows belong to this catalog's entries");
    }

    /// Items with many distinct numeric keys cost no column until a feature asks for one: each
    /// column is items × 8 bytes, and here there would be 30,000 of them.
    #[test]
    fn numeric_columns_are_built_only_for_the_fields_asked() {
        let catalog = Catalog::build((0..300).map(|i| {
            let metadata: serde_json::Map<String, Value> = (0..100).map(|k| (format!("f{i}_{k}"), json!(k))).collect();
            item(&format!("i{i}"), 0, 0, Value::Object(metadata))
        }));
        let built = || catalog.numeric.lock().unwrap().len();
        assert_eq!(built(), 0);
        let column = catalog.numeric_column("f7_3").unwrap();
        assert_eq!(column.iter().filter(|v| !v.is_nan()).count(), 1);
        assert!(catalog.numeric_column("nope").is_none());
        assert_eq!(built(), 2, "the two fields asked, one of them absent");
        assert!(Arc::ptr_eq(&column, &catalog.numeric_column("f7_3").unwrap()), "built once");
    }
}
