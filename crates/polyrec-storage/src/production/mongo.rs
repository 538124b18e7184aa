//! The document store on MongoDB (SPEC §4.1): collections `scenarios`, `items`,
//! `user_profiles`, `model_configs` and `experiments`, with the specification's indexes created
//! at start-up:
//!
//! | collection | unique index | secondary index |
//! |---|---|---|
//! | `scenarios` | (tenant_id, scenario_id) | — |
//! | `items` | (tenant_id, scenario_id, item_id) | metadata.category |
//! | `user_profiles` | (tenant_id, user_id, scenario_id) | — |
//! | `model_configs` | (tenant_id, scenario_id, model_name, sequence) | — |
//! | `training_jobs` | (tenant_id, job_id) | — |
//! | `experiments` | (tenant_id, scenario_id, experiment_id) | — |
//!
//! Each document is the serde form of its core type plus `tenant_id`. Correctness never needs a
//! multi-document transaction (the test server, like a standalone MongoDB, has none): every write
//! is one document, keyed by a unique index, so a retried write converges; the scenario version
//! makes concurrent replaces fail rather than overwrite; deleting a scenario removes its items
//! and profiles before the scenario itself, so an interrupted delete can be retried.

use async_trait::async_trait;
use mongodb::bson::{Bson, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, Database, IndexModel};
use polyrec_core::Code;
use polyrec_core::{
    DeadLetter, Error, Experiment, Item, ItemId, JobRecord, ModelRecord, Result, Scenario, ScenarioId, TenantId,
    UserId, UserProfile,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DeadLetterStore, ExperimentStore, ItemStore, JobStore, ModelStore, ProfileStore, ScenarioStore};
use crate::{ItemFilter, SCENARIO_VERSIONS_KEPT, Upserted, model_version_exists};

/// A BSON document (for [`MongoDocuments::raw`]).
pub use mongodb::bson::Document;

pub struct MongoDocuments {
    db: Database,
    scenarios: Collection<Document>,
    items: Collection<Document>,
    profiles: Collection<Document>,
}

fn unavailable(error: mongodb::error::Error) -> Error {
    Error::unavailable(format!("mongodb: {error}"))
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        ErrorKind::InsertMany(e) => {
            e.write_errors.as_ref().is_some_and(|errors| errors.iter().any(|e| e.code == 11000))
        }
        _ => error.to_string().contains("E11000"),
    }
}

/// The stored form: the value's fields plus `tenant_id`. The value goes through its JSON form,
/// which is the API's and the embedded store's, so both stores hold the same fields (maps keyed
/// by numbers get string keys, as in JSON).
fn to_doc<T: Serialize>(tenant: &TenantId, value: &T) -> Result<Document> {
    let json = serde_json::to_value(value).map_err(Error::internal)?;
    // MongoDB keeps keys as C strings: the driver reports a key with a NUL as an invalid reply,
    // as if the server had failed. Found here, it is what it is — a document no retry can store —
    // so a stream job sets its events aside instead of waiting for ever.
    if let Some(key) = json.as_object().and_then(polyrec_core::limits::nul_key) {
        return Err(Error::internal(format!("mongodb cannot store the key {key:?}: it holds a NUL character")));
    }
    let Bson::Document(mut doc) = Bson::try_from(json).map_err(|e| Error::internal(format!("to bson: {e}")))? else {
        return Err(Error::internal("to bson: not a document"));
    };
    doc.insert("tenant_id", tenant.as_str());
    Ok(doc)
}

fn from_doc<T: DeserializeOwned>(mut doc: Document) -> Result<T> {
    doc.remove("_id");
    doc.remove("tenant_id");
    let json = Bson::Document(doc).into_relaxed_extjson();
    serde_json::from_value(json).map_err(|e| Error::internal(format!("corrupt document: {e}")))
}

/// One query, as options of the `find` command.
#[derive(Default)]
struct Find {
    filter: Document,
    sort: Option<Document>,
    projection: Option<Document>,
    limit: Option<i64>,
}

impl MongoDocuments {
    /// Connects to `mongodb://…` and uses database `database` (the URL's own database name
    /// wins when it has one), creating the collections and indexes that are missing.
    pub async fn connect(url: &str, database: &str) -> Result<Self> {
        let mut options = mongodb::options::ClientOptions::parse(url)
            .await
            .map_err(|e| Error::invalid(Code::BadBackendUrl, format!("bad mongodb url {url:?}: {e}")))?;
        options.app_name = Some("polyrec".into());
        options.connect_timeout.get_or_insert(std::time::Duration::from_secs(5));
        options.server_selection_timeout.get_or_insert(std::time::Duration::from_secs(5));
        let name = options.default_database.clone().unwrap_or_else(|| database.to_owned());
        let client = Client::with_options(options).map_err(unavailable)?;
        let db = client.database(&name);
        let store = Self {
            scenarios: db.collection("scenarios"),
            items: db.collection("items"),
            profiles: db.collection("user_profiles"),
            db,
        };
        store.create_indexes().await?;
        Ok(store)
    }

    async fn create_indexes(&self) -> Result<()> {
        // The raw command: the driver's listing rejects mongoeco's 32-bit cursor ids.
        let reply = self.db.run_command(doc! { "listCollections": 1, "nameOnly": true }).await.map_err(unavailable)?;
        let existing: Vec<String> = reply
            .get_document("cursor")
            .and_then(|cursor| cursor.get_array("firstBatch"))
            .map(|batch| {
                batch.iter().filter_map(|c| c.as_document()?.get_str("name").ok().map(str::to_owned)).collect()
            })
            .unwrap_or_default();
        for name in [
            "scenarios",
            "scenario_versions",
            "items",
            "user_profiles",
            "model_configs",
            "experiments",
            "training_jobs",
            "dead_letters",
        ] {
            if existing.iter().any(|e| e == name) {
                continue;
            }
            // Another process starting at the same moment may create it first: not an error.
            match self.db.create_collection(name).await {
                Ok(()) => {}
                Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 48) => {}
                Err(e)
                    if e.to_string().contains("already exists") || e.to_string().contains("missing field `code`") => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        let unique = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(true).name(name.to_owned()).build())
                .build()
        };
        self.scenarios
            .create_index(unique(doc! { "tenant_id": 1, "scenario_id": 1 }, "tenant_scenario"))
            .await
            .map_err(unavailable)?;
        self.db
            .collection::<Document>("scenario_versions")
            .create_index(unique(doc! { "tenant_id": 1, "scenario_id": 1, "version": 1 }, "tenant_scenario_version"))
            .await
            .map_err(unavailable)?;
        self.items
            .create_index(unique(doc! { "tenant_id": 1, "scenario_id": 1, "item_id": 1 }, "tenant_scenario_item"))
            .await
            .map_err(unavailable)?;
        self.db
            .collection::<Document>("model_configs")
            .create_index(unique(
                doc! { "tenant_id": 1, "scenario_id": 1, "model_name": 1, "sequence": 1 },
                "tenant_scenario_model_sequence",
            ))
            .await
            .map_err(unavailable)?;
        self.db
            .collection::<Document>("training_jobs")
            .create_index(unique(doc! { "tenant_id": 1, "job_id": 1 }, "tenant_job"))
            .await
            .map_err(unavailable)?;
        self.db
            .collection::<Document>("dead_letters")
            .create_index(unique(doc! { "tenant_id": 1, "id": 1 }, "tenant_dead_letter"))
            .await
            .map_err(unavailable)?;
        self.db
            .collection::<Document>("experiments")
            .create_index(unique(
                doc! { "tenant_id": 1, "scenario_id": 1, "experiment_id": 1 },
                "tenant_scenario_experiment",
            ))
            .await
            .map_err(unavailable)?;
        self.items
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "metadata.category": 1 })
                    .options(IndexOptions::builder().name("metadata_category".to_owned()).build())
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        self.profiles
            .create_index(unique(doc! { "tenant_id": 1, "user_id": 1, "scenario_id": 1 }, "tenant_user_scenario"))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Names and keys of a collection's indexes (for the tests that check the layout).
    pub async fn index_keys(&self, collection: &str) -> Result<Vec<(String, Document, bool)>> {
        // The raw command: the first batch holds every index of a collection.
        let reply = self.db.run_command(doc! { "listIndexes": collection }).await.map_err(unavailable)?;
        let batch = reply
            .get_document("cursor")
            .and_then(|cursor| cursor.get_array("firstBatch"))
            .map_err(|e| Error::internal(format!("listIndexes reply: {e}")))?;
        Ok(batch
            .iter()
            .filter_map(Bson::as_document)
            .map(|index| {
                let name = index.get_str("name").unwrap_or_default().to_owned();
                let keys = index.get_document("key").cloned().unwrap_or_default();
                (name, keys, index.get_bool("unique").unwrap_or(false))
            })
            .collect())
    }

    /// Raw documents of a collection matching `filter`, for tests that look at the database
    /// directly.
    pub async fn raw(&self, collection: &str, filter: Document) -> Result<Vec<Document>> {
        self.find(collection, Find { filter, ..Default::default() }).await
    }

    /// Runs a query with the `find` and `getMore` commands. (The driver's cursor type would do
    /// the same, but it rejects the 32-bit cursor ids the mongoeco test server answers with.)
    async fn find(&self, collection: &str, query: Find) -> Result<Vec<Document>> {
        let mut command = doc! { "find": collection, "filter": query.filter };
        if let Some(sort) = query.sort {
            command.insert("sort", sort);
        }
        if let Some(projection) = query.projection {
            command.insert("projection", projection);
        }
        if let Some(limit) = query.limit {
            // An int32, as drivers send it (mongoeco refuses an int64 here).
            command.insert("limit", i32::try_from(limit).unwrap_or(i32::MAX));
        }
        let mut reply = self.db.run_command(command).await.map_err(unavailable)?;
        let mut docs = Vec::new();
        let mut batch_key = "firstBatch";
        loop {
            let cursor = reply.get_document("cursor").map_err(|e| Error::internal(format!("find reply: {e}")))?;
            let batch = cursor.get_array(batch_key).map_err(|e| Error::internal(format!("find reply: {e}")))?;
            docs.extend(batch.iter().filter_map(|d| d.as_document().cloned()));
            let id = cursor.get("id").and_then(bson_i64).unwrap_or(0);
            if id == 0 || query.limit.is_some_and(|limit| docs.len() as i64 >= limit) {
                return Ok(docs);
            }
            reply = self.db.run_command(doc! { "getMore": id, "collection": collection }).await.map_err(unavailable)?;
            batch_key = "nextBatch";
        }
    }

    async fn find_one<T: DeserializeOwned>(&self, collection: &str, filter: Document) -> Result<Option<T>> {
        let docs = self.find(collection, Find { filter, limit: Some(1), ..Default::default() }).await?;
        docs.into_iter().next().map(from_doc).transpose()
    }

    /// Replaces (or inserts) many documents in one round trip: one `update` command with a
    /// statement per document, each keyed by its unique index.
    async fn upsert_many(&self, collection: &str, statements: Vec<(Document, Document)>) -> Result<()> {
        for chunk in statements.chunks(1_000) {
            let updates: Vec<Bson> = chunk
                .iter()
                .map(|(filter, doc)| Bson::Document(doc! { "q": filter.clone(), "u": doc.clone(), "upsert": true }))
                .collect();
            let reply = self
                .db
                .run_command(doc! { "update": collection, "updates": updates, "ordered": true })
                .await
                .map_err(unavailable)?;
            if let Ok(errors) = reply.get_array("writeErrors")
                && !errors.is_empty()
            {
                return Err(Error::internal(format!("mongodb: {collection} upsert failed: {errors:?}")));
            }
        }
        Ok(())
    }
}

fn scenario_key(tenant: &TenantId, scenario: &ScenarioId) -> Document {
    doc! { "tenant_id": tenant.as_str(), "scenario_id": scenario.as_str() }
}

fn profile_key(tenant: &TenantId, user: &UserId, scenario: &ScenarioId) -> Document {
    doc! { "tenant_id": tenant.as_str(), "user_id": user.as_str(), "scenario_id": scenario.as_str() }
}

impl MongoDocuments {
    /// Keeps a copy of a scenario version in `scenario_versions` (one document, after the write of
    /// the scenario itself: a crash in between loses that history entry, not the scenario), and
    /// drops the versions [`SCENARIO_VERSIONS_KEPT`] or more behind it (a crash before that
    /// leaves them to the next write's delete, which covers every older version).
    async fn keep_version(&self, tenant: &TenantId, scenario: &Scenario) -> Result<()> {
        let mut key = scenario_key(tenant, &scenario.scenario_id);
        key.insert("version", scenario.version as i64);
        let collection = self.db.collection::<Document>("scenario_versions");
        collection.replace_one(key, to_doc(tenant, scenario)?).upsert(true).await.map_err(unavailable)?;
        let mut old = scenario_key(tenant, &scenario.scenario_id);
        old.insert("version", doc! { "$lte": scenario.version as i64 - SCENARIO_VERSIONS_KEPT as i64 });
        collection.delete_many(old).await.map_err(unavailable)?;
        Ok(())
    }
}

fn item_key(tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Document {
    doc! { "tenant_id": tenant.as_str(), "scenario_id": scenario.as_str(), "item_id": item.as_str() }
}

#[async_trait]
impl ScenarioStore for MongoDocuments {
    async fn insert_scenario(&self, tenant: &TenantId, scenario: &Scenario) -> Result<()> {
        match self.scenarios.insert_one(to_doc(tenant, scenario)?).await {
            Ok(_) => self.keep_version(tenant, scenario).await,
            Err(e) if is_duplicate_key(&e) => Err(Error::Conflict {
                code: Code::ScenarioExists,
                message: format!("scenario {:?} exists already; update it with PUT or PATCH", scenario.scenario_id),
            }),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<Option<Scenario>> {
        self.find_one("scenarios", scenario_key(tenant, scenario)).await
    }

    async fn list_scenarios(&self, tenant: &TenantId) -> Result<Vec<Scenario>> {
        let query = Find {
            filter: doc! { "tenant_id": tenant.as_str() },
            sort: Some(doc! { "scenario_id": 1 }),
            ..Default::default()
        };
        self.find("scenarios", query).await?.into_iter().map(from_doc).collect()
    }

    async fn replace_scenario(&self, tenant: &TenantId, scenario: &Scenario, expected_version: u64) -> Result<()> {
        let mut filter = scenario_key(tenant, &scenario.scenario_id);
        filter.insert("version", expected_version as i64);
        let result = self.scenarios.replace_one(filter, to_doc(tenant, scenario)?).await.map_err(unavailable)?;
        if result.matched_count == 0 {
            return Err(Error::Conflict {
                code: Code::VersionConflict,
                message: format!(
                    "scenario {:?} was changed concurrently (expected version {expected_version}); read it again and retry",
                    scenario.scenario_id
                ),
            });
        }
        self.keep_version(tenant, scenario).await
    }

    async fn scenario_history(&self, tenant: &TenantId, scenario: &ScenarioId, limit: usize) -> Result<Vec<Scenario>> {
        let query = Find {
            filter: scenario_key(tenant, scenario),
            sort: Some(doc! { "version": -1 }),
            limit: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
            ..Default::default()
        };
        self.find("scenario_versions", query).await?.into_iter().map(from_doc).collect()
    }

    async fn delete_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<bool> {
        let key = scenario_key(tenant, scenario);
        self.items.delete_many(key.clone()).await.map_err(unavailable)?;
        self.profiles.delete_many(key.clone()).await.map_err(unavailable)?;
        for collection in ["scenario_versions", "model_configs", "training_jobs", "experiments"] {
            self.db.collection::<Document>(collection).delete_many(key.clone()).await.map_err(unavailable)?;
        }
        let deleted = self.scenarios.delete_one(key).await.map_err(unavailable)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn all_scenarios(&self) -> Result<Vec<(TenantId, Scenario)>> {
        let docs = self.find("scenarios", Find::default()).await?;
        docs.into_iter()
            .map(|doc| {
                let tenant = doc.get_str("tenant_id").map_err(|e| Error::internal(format!("corrupt scenario: {e}")))?;
                Ok((TenantId::parse(tenant)?, from_doc(doc)?))
            })
            .collect()
    }
}

#[async_trait]
impl ItemStore for MongoDocuments {
    async fn upsert_items(&self, tenant: &TenantId, items: Vec<Item>) -> Result<Vec<(Item, Upserted)>> {
        let mut stored = Vec::with_capacity(items.len());
        // Items of one call share a scenario in practice; group to find existing ones per scenario.
        let mut scenarios: Vec<&ScenarioId> = items.iter().map(|item| &item.scenario_id).collect();
        scenarios.sort();
        scenarios.dedup();
        let mut created: std::collections::HashMap<(String, String), i64> = std::collections::HashMap::new();
        for scenario in scenarios {
            let ids: Vec<&str> =
                items.iter().filter(|item| &item.scenario_id == scenario).map(|item| item.item_id.as_str()).collect();
            for chunk in ids.chunks(1_000) {
                let mut filter = scenario_key(tenant, scenario);
                filter.insert("item_id", doc! { "$in": chunk.to_vec() });
                let query =
                    Find { filter, projection: Some(doc! { "item_id": 1, "created_ms": 1 }), ..Default::default() };
                let docs = self.find("items", query).await?;
                for doc in docs {
                    if let (Ok(id), Some(ms)) = (doc.get_str("item_id"), doc.get("created_ms").and_then(bson_i64)) {
                        created.insert((scenario.to_string(), id.to_owned()), ms);
                    }
                }
            }
        }
        let mut statements = Vec::with_capacity(items.len());
        for mut item in items {
            let existing = created.get(&(item.scenario_id.to_string(), item.item_id.to_string())).copied();
            if let Some(created_ms) = existing {
                item.created_ms = created_ms;
                item.publish_memo = Default::default();
            }
            statements.push((item_key(tenant, &item.scenario_id, &item.item_id), to_doc(tenant, &item)?));
            stored.push((item, if existing.is_some() { Upserted::Updated } else { Upserted::Created }));
        }
        self.upsert_many("items", statements).await?;
        Ok(stored)
    }

    async fn insert_item(&self, tenant: &TenantId, item: &Item) -> Result<()> {
        match self.items.insert_one(to_doc(tenant, item)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(Error::Conflict {
                code: Code::ItemExists,
                message: format!("item {:?} exists already; change it with PATCH or the bulk import", item.item_id),
            }),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_item(&self, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<Option<Item>> {
        self.find_one("items", item_key(tenant, scenario, item)).await
    }

    async fn delete_item(&self, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<bool> {
        let deleted = self.items.delete_one(item_key(tenant, scenario, item)).await.map_err(unavailable)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn list_items(&self, tenant: &TenantId, scenario: &ScenarioId, filter: &ItemFilter) -> Result<Vec<Item>> {
        let mut query = scenario_key(tenant, scenario);
        if let Some(category) = &filter.category {
            query.insert("metadata.category", category.as_str());
        }
        if let Some(status) = filter.status {
            query.insert("status", status.as_str());
        }
        if let Some(since) = filter.updated_since_ms {
            query.insert("updated_ms", doc! { "$gte": since });
        }
        if let Some(cursor) = &filter.cursor {
            query.insert("item_id", doc! { "$gt": cursor.as_str() });
        }
        let query = Find {
            filter: query,
            sort: Some(doc! { "item_id": 1 }),
            limit: Some(filter.limit as i64),
            ..Default::default()
        };
        self.find("items", query).await?.into_iter().map(from_doc).collect()
    }

    async fn scan_items(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<Vec<Item>> {
        let query = Find { filter: scenario_key(tenant, scenario), ..Default::default() };
        let docs = self.find("items", query).await?;
        // A whole catalog (a second or more at a million items): decoded off the runtime threads.
        crate::blocking(move || docs.into_iter().map(from_doc).collect()).await?
    }
}

#[async_trait]
impl ProfileStore for MongoDocuments {
    async fn get_profile(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
    ) -> Result<Option<UserProfile>> {
        self.find_one("user_profiles", profile_key(tenant, user, scenario)).await
    }

    async fn put_profiles(&self, tenant: &TenantId, profiles: &[UserProfile]) -> Result<()> {
        let statements = profiles
            .iter()
            .map(|profile| Ok((profile_key(tenant, &profile.user_id, &profile.scenario_id), to_doc(tenant, profile)?)))
            .collect::<Result<Vec<_>>>()?;
        self.upsert_many("user_profiles", statements).await
    }
}

#[async_trait]
impl ModelStore for MongoDocuments {
    async fn insert_model(&self, tenant: &TenantId, model: &ModelRecord) -> Result<()> {
        let collection = self.db.collection::<Document>("model_configs");
        match collection.insert_one(to_doc(tenant, model)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(model_version_exists(&model.model_name, model.sequence)),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn replace_model(&self, tenant: &TenantId, model: &ModelRecord) -> Result<()> {
        let mut filter = scenario_key(tenant, &model.scenario_id);
        filter.insert("model_name", model.model_name.as_str());
        filter.insert("sequence", model.sequence as i64);
        let collection = self.db.collection::<Document>("model_configs");
        let result = collection.replace_one(filter, to_doc(tenant, model)?).await.map_err(unavailable)?;
        if result.matched_count == 0 {
            return Err(Error::not_found(format!("model {} version {}", model.model_name, model.model_version)));
        }
        Ok(())
    }

    async fn list_models(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        name: Option<&str>,
    ) -> Result<Vec<ModelRecord>> {
        let mut filter = scenario_key(tenant, scenario);
        if let Some(name) = name {
            filter.insert("model_name", name);
        }
        let query = Find { filter, sort: Some(doc! { "model_name": 1, "sequence": -1 }), ..Default::default() };
        self.find("model_configs", query).await?.into_iter().map(from_doc).collect()
    }
}

#[async_trait]
impl ExperimentStore for MongoDocuments {
    async fn insert_experiment(&self, tenant: &TenantId, experiment: &Experiment) -> Result<()> {
        let collection = self.db.collection::<Document>("experiments");
        match collection.insert_one(to_doc(tenant, experiment)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(crate::experiment_exists(&experiment.experiment_id)),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_experiment(&self, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<Option<Experiment>> {
        let mut filter = scenario_key(tenant, scenario);
        filter.insert("experiment_id", id);
        self.find_one("experiments", filter).await
    }

    async fn list_experiments(&self, tenant: &TenantId, scenario: Option<&ScenarioId>) -> Result<Vec<Experiment>> {
        let mut filter = doc! { "tenant_id": tenant.as_str() };
        if let Some(scenario) = scenario {
            filter.insert("scenario_id", scenario.as_str());
        }
        let query = Find { filter, sort: Some(doc! { "scenario_id": 1, "experiment_id": 1 }), ..Default::default() };
        self.find("experiments", query).await?.into_iter().map(from_doc).collect()
    }

    async fn replace_experiment(
        &self,
        tenant: &TenantId,
        experiment: &Experiment,
        expected_version: u64,
    ) -> Result<()> {
        let mut key = scenario_key(tenant, &experiment.scenario_id);
        key.insert("experiment_id", experiment.experiment_id.as_str());
        let mut filter = key.clone();
        filter.insert("version", expected_version as i64);
        let collection = self.db.collection::<Document>("experiments");
        let result = collection.replace_one(filter, to_doc(tenant, experiment)?).await.map_err(unavailable)?;
        if result.matched_count == 0 {
            let exists = self.find_one::<Experiment>("experiments", key).await?.is_some();
            return Err(if exists {
                crate::experiment_changed(&experiment.experiment_id, expected_version)
            } else {
                Error::not_found(format!("experiment {:?}", experiment.experiment_id))
            });
        }
        Ok(())
    }

    async fn delete_experiment(&self, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<bool> {
        let mut key = scenario_key(tenant, scenario);
        key.insert("experiment_id", id);
        let deleted = self.db.collection::<Document>("experiments").delete_one(key).await.map_err(unavailable)?;
        Ok(deleted.deleted_count > 0)
    }
}

#[async_trait]
impl JobStore for MongoDocuments {
    async fn put_job(&self, tenant: &TenantId, job: &JobRecord) -> Result<()> {
        let mut stored = to_doc(tenant, job)?;
        // What the reaper filters on.
        stored.insert("finished", job.state.is_finished());
        let key = doc! { "tenant_id": tenant.as_str(), "job_id": job.job_id.as_str() };
        self.upsert_many("training_jobs", vec![(key, stored)]).await
    }

    async fn get_job(&self, tenant: &TenantId, job_id: &str) -> Result<Option<JobRecord>> {
        self.find_one("training_jobs", doc! { "tenant_id": tenant.as_str(), "job_id": job_id }).await
    }

    async fn list_jobs(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        limit: usize,
    ) -> Result<Vec<JobRecord>> {
        let mut filter = doc! { "tenant_id": tenant.as_str() };
        if let Some(scenario) = scenario {
            filter.insert("scenario_id", scenario.as_str());
        }
        let query = Find {
            filter,
            sort: Some(doc! { "created_ms": -1, "job_id": -1 }),
            limit: Some(limit as i64),
            ..Default::default()
        };
        self.find("training_jobs", query).await?.into_iter().map(from_doc).collect()
    }

    async fn pending_jobs(
        &self,
        lease_before: i64,
        except: &[TenantId],
        limit: usize,
    ) -> Result<Vec<(TenantId, JobRecord)>> {
        let except: Vec<&str> = except.iter().map(TenantId::as_str).collect();
        let query = Find {
            filter: doc! {
                "finished": false,
                "$or": [{ "state": "queued" }, { "heartbeat_ms": { "$lt": lease_before } }],
                "tenant_id": { "$nin": except },
            },
            sort: Some(doc! { "created_ms": 1, "job_id": 1 }),
            limit: Some(limit as i64),
            ..Default::default()
        };
        self.find("training_jobs", query)
            .await?
            .into_iter()
            .map(|doc| {
                let tenant = doc.get_str("tenant_id").map_err(|e| Error::internal(format!("corrupt job: {e}")))?;
                Ok((TenantId::parse(tenant)?, from_doc(doc)?))
            })
            .collect()
    }

    async fn count_unfinished_jobs(&self, tenant: &TenantId) -> Result<u64> {
        let query = Find {
            filter: doc! { "tenant_id": tenant.as_str(), "finished": false },
            projection: Some(doc! { "_id": 1 }),
            ..Default::default()
        };
        Ok(self.find("training_jobs", query).await?.len() as u64)
    }

    async fn count_running_jobs(&self, tenant: &TenantId, lease_before: i64) -> Result<u64> {
        let query = Find {
            filter: doc! {
                "tenant_id": tenant.as_str(),
                "finished": false,
                "state": "running",
                "heartbeat_ms": { "$gte": lease_before },
            },
            projection: Some(doc! { "_id": 1 }),
            ..Default::default()
        };
        Ok(self.find("training_jobs", query).await?.len() as u64)
    }

    async fn swap_job(&self, tenant: &TenantId, job: &JobRecord, expected: Option<u64>) -> Result<bool> {
        let mut stored = to_doc(tenant, job)?;
        stored.insert("finished", job.state.is_finished());
        let jobs = self.db.collection::<Document>("training_jobs");
        let Some(revision) = expected else {
            // The unique (tenant_id, job_id) index refuses a second insert.
            return match jobs.insert_one(stored).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate_key(&e) => Ok(false),
                Err(e) => Err(unavailable(e)),
            };
        };
        let mut filter = doc! { "tenant_id": tenant.as_str(), "job_id": job.job_id.as_str() };
        if revision == 0 {
            filter.insert("$or", vec![doc! { "revision": 0_i64 }, doc! { "revision": { "$exists": false } }]);
        } else {
            filter.insert("revision", revision as i64);
        }
        let replaced = jobs.replace_one(filter, stored).await.map_err(unavailable)?;
        Ok(replaced.matched_count == 1)
    }
}

#[async_trait]
impl DeadLetterStore for MongoDocuments {
    async fn put_dead_letters(&self, letters: &[DeadLetter]) -> Result<()> {
        let statements = letters
            .iter()
            .map(|letter| {
                let key = doc! { "tenant_id": letter.tenant_id.as_str(), "id": letter.id.as_str() };
                Ok((key, to_doc(&letter.tenant_id, letter)?))
            })
            .collect::<Result<Vec<_>>>()?;
        self.upsert_many("dead_letters", statements).await
    }

    async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        job: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>> {
        let mut filter = doc! { "tenant_id": tenant.as_str() };
        if let Some(job) = job {
            filter.insert("job", job);
        }
        if let Some(after) = after {
            filter.insert("id", doc! { "$gt": after });
        }
        let query = Find { filter, sort: Some(doc! { "id": 1 }), limit: Some(limit as i64), ..Default::default() };
        self.find("dead_letters", query).await?.into_iter().map(dead_letter).collect()
    }

    async fn get_dead_letters(&self, tenant: &TenantId, ids: &[String]) -> Result<Vec<DeadLetter>> {
        let filter = doc! { "tenant_id": tenant.as_str(), "id": { "$in": ids.to_vec() } };
        let query = Find { filter, sort: Some(doc! { "id": 1 }), ..Default::default() };
        self.find("dead_letters", query).await?.into_iter().map(dead_letter).collect()
    }

    async fn count_dead_letters(&self, tenant: &TenantId) -> Result<u64> {
        let query = Find {
            filter: doc! { "tenant_id": tenant.as_str() },
            projection: Some(doc! { "_id": 1 }),
            ..Default::default()
        };
        Ok(self.find("dead_letters", query).await?.len() as u64)
    }

    async fn delete_dead_letters(&self, tenant: &TenantId, ids: &[String]) -> Result<u64> {
        let collection = self.db.collection::<Document>("dead_letters");
        let mut deleted = 0;
        for id in ids {
            let result = collection
                .delete_one(doc! { "tenant_id": tenant.as_str(), "id": id.as_str() })
                .await
                .map_err(unavailable)?;
            deleted += result.deleted_count;
        }
        Ok(deleted)
    }

    async fn trim_dead_letters(&self, before_ms: i64) -> Result<u64> {
        let collection = self.db.collection::<Document>("dead_letters");
        let result = collection.delete_many(doc! { "dead_ms": { "$lt": before_ms } }).await.map_err(unavailable)?;
        Ok(result.deleted_count)
    }
}

/// A stored dead letter: `tenant_id` is a field of the letter itself, so not [`from_doc`], which
/// strips it.
fn dead_letter(mut doc: Document) -> Result<DeadLetter> {
    doc.remove("_id");
    serde_json::from_value(Bson::Document(doc).into_relaxed_extjson())
        .map_err(|e| Error::internal(format!("corrupt dead letter: {e}")))
}

fn bson_i64(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(*n as i64),
        Bson::Double(f) => Some(*f as i64),
        _ => None,
    }
}
