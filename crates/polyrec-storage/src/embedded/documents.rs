//! The document store on SQLite: one table per collection, the JSON document in `doc`, and the
//! unique indexes of SPEC §4.1 as primary keys.

use polyrec_core::Code;
use std::path::Path;

use async_trait::async_trait;
use polyrec_core::{
    DeadLetter, Error, Experiment, Item, ItemId, JobRecord, ModelRecord, Result, Scenario, ScenarioId, TenantId,
    UserId, UserProfile,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Db, Role, open, sql};
use crate::{DeadLetterStore, ExperimentStore, ItemStore, JobStore, ModelStore, ProfileStore, ScenarioStore};
use crate::{ItemFilter, SCENARIO_VERSIONS_KEPT, Upserted};

pub struct SqliteDocuments {
    writer: Db,
    reader: Db,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS scenarios (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scenario_versions (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    category    TEXT,
    status      TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, item_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_category ON items (tenant_id, scenario_id, category, item_id);
CREATE INDEX IF NOT EXISTS items_by_updated ON items (tenant_id, scenario_id, updated_ms);
CREATE TABLE IF NOT EXISTS user_profiles (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, scenario_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_configs (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    model_name  TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, model_name, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS experiments (
    tenant_id     TEXT NOT NULL,
    scenario_id   TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    version       INTEGER NOT NULL,
    doc           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, experiment_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS training_jobs (
    tenant_id    TEXT NOT NULL,
    job_id       TEXT NOT NULL,
    scenario_id  TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    finished     INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_by_created ON training_jobs (tenant_id, created_ms);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON training_jobs (finished, heartbeat_ms);
CREATE TABLE IF NOT EXISTS dead_letters (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    job          TEXT NOT NULL,
    dead_ms      INTEGER NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters (dead_ms);
";

/// Keeps a copy of a scenario version in its history (`DocumentStore::scenario_history`), and
/// drops the versions [`SCENARIO_VERSIONS_KEPT`] or more behind it.
fn keep_version(conn: &rusqlite::Connection, tenant: &str, id: &str, version: i64, doc: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO scenario_versions (tenant_id, scenario_id, version, doc) VALUES (?1, ?2, ?3, ?4)",
        params![tenant, id, version, doc],
    )
    .map_err(sql)?;
    conn.execute(
        "DELETE FROM scenario_versions WHERE tenant_id = ?1 AND scenario_id = ?2 AND version <= ?3",
        params![tenant, id, version - SCENARIO_VERSIONS_KEPT as i64],
    )
    .map_err(sql)?;
    Ok(())
}

impl SqliteDocuments {
    pub fn open(path: &Path) -> Result<Self> {
        let writer = open(path, Role::Writer)?;
        writer.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Self { writer: Db::new(writer), reader: Db::readers(path)? })
    }
}

/// The JSON document of the row `query` finds, if any.
fn read_doc<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    query: &str,
    args: impl rusqlite::Params,
) -> Result<Option<T>> {
    let doc: Option<String> =
        conn.prepare_cached(query).map_err(sql)?.query_row(args, |row| row.get(0)).optional().map_err(sql)?;
    doc.as_deref().map(from_json).transpose()
}

/// The JSON documents of the rows `query` finds, in its order.
fn read_docs<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    query: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(query).map_err(sql)?;
    let docs = stmt.query_map(args, |row| row.get::<_, String>(0)).map_err(sql)?;
    docs.map(|doc| from_json(&doc.map_err(sql)?)).collect()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("corrupt document: {e}")))
}

/// Inserts one row unless its key is taken (`ON CONFLICT DO NOTHING`); `taken` says why not:
/// the insert-only write every collection's create uses, so two concurrent creates cannot both
/// win.
fn insert_new(
    conn: &Connection,
    statement: &str,
    values: impl rusqlite::Params,
    taken: impl FnOnce() -> Error,
) -> Result<()> {
    let inserted = conn.prepare_cached(statement).map_err(sql)?.execute(values).map_err(sql)?;
    if inserted == 0 {
        return Err(taken());
    }
    Ok(())
}

#[async_trait]
impl ScenarioStore for SqliteDocuments {
    async fn insert_scenario(&self, tenant: &TenantId, scenario: &Scenario) -> Result<()> {
        let (tenant, id, version, doc) =
            (tenant.to_string(), scenario.scenario_id.to_string(), scenario.version as i64, to_json(scenario)?);
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let statement = "INSERT INTO scenarios (tenant_id, scenario_id, version, doc) VALUES (?1, ?2, ?3, ?4)
                                 ON CONFLICT DO NOTHING";
                insert_new(&tx, statement, params![tenant, id, version, doc], || Error::Conflict {
                    code: Code::ScenarioExists,
                    message: format!("scenario {id:?} exists already; update it with PUT or PATCH"),
                })?;
                keep_version(&tx, &tenant, &id, version, &doc)?;
                tx.commit().map_err(sql)
            })
            .await
    }

    async fn get_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<Option<Scenario>> {
        let (tenant, id) = (tenant.to_string(), scenario.to_string());
        self.reader
            .call(move |conn| {
                read_doc(
                    conn,
                    "SELECT doc FROM scenarios WHERE tenant_id = ?1 AND scenario_id = ?2",
                    params![tenant, id],
                )
            })
            .await
    }

    async fn list_scenarios(&self, tenant: &TenantId) -> Result<Vec<Scenario>> {
        let tenant = tenant.to_string();
        self.reader
            .call(move |conn| {
                read_docs(conn, "SELECT doc FROM scenarios WHERE tenant_id = ?1 ORDER BY scenario_id", [tenant])
            })
            .await
    }

    async fn replace_scenario(&self, tenant: &TenantId, scenario: &Scenario, expected_version: u64) -> Result<()> {
        let (tenant, id, version, doc) =
            (tenant.to_string(), scenario.scenario_id.to_string(), scenario.version as i64, to_json(scenario)?);
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let changed = tx
                    .execute(
                        "UPDATE scenarios SET version = ?3, doc = ?4
                         WHERE tenant_id = ?1 AND scenario_id = ?2 AND version = ?5",
                        params![tenant, id, version, doc, expected_version as i64],
                    )
                    .map_err(sql)?;
                if changed == 0 {
                    return Err(Error::Conflict {
                        code: Code::VersionConflict,
                        message: format!(
                            "scenario {id:?} was changed concurrently (expected version {expected_version}); read it again and retry"
                        ),
                    });
                }
                keep_version(&tx, &tenant, &id, version, &doc)?;
                tx.commit().map_err(sql)
            })
            .await
    }

    async fn scenario_history(&self, tenant: &TenantId, scenario: &ScenarioId, limit: usize) -> Result<Vec<Scenario>> {
        let (tenant, id) = (tenant.to_string(), scenario.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.reader
            .call(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM scenario_versions WHERE tenant_id = ?1 AND scenario_id = ?2 \
                     ORDER BY version DESC LIMIT ?3",
                    params![tenant, id, limit],
                )
            })
            .await
    }

    async fn delete_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<bool> {
        let (tenant, id) = (tenant.to_string(), scenario.to_string());
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let deleted = tx
                    .execute("DELETE FROM scenarios WHERE tenant_id = ?1 AND scenario_id = ?2", params![tenant, id])
                    .map_err(sql)?;
                tx.execute("DELETE FROM items WHERE tenant_id = ?1 AND scenario_id = ?2", params![tenant, id])
                    .map_err(sql)?;
                for table in ["scenario_versions", "user_profiles", "model_configs", "training_jobs", "experiments"] {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE tenant_id = ?1 AND scenario_id = ?2"),
                        params![tenant, id],
                    )
                    .map_err(sql)?;
                }
                tx.commit().map_err(sql)?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn all_scenarios(&self) -> Result<Vec<(TenantId, Scenario)>> {
        self.reader
            .call(move |conn| {
                let mut stmt = conn.prepare_cached("SELECT tenant_id, doc FROM scenarios").map_err(sql)?;
                let rows =
                    stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))).map_err(sql)?;
                rows.map(|row| {
                    let (tenant, doc) = row.map_err(sql)?;
                    Ok((TenantId::parse(tenant)?, from_json(&doc)?))
                })
                .collect()
            })
            .await
    }
}

#[async_trait]
impl ItemStore for SqliteDocuments {
    async fn upsert_items(&self, tenant: &TenantId, items: Vec<Item>) -> Result<Vec<(Item, Upserted)>> {
        let tenant = tenant.to_string();
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let mut stored = Vec::with_capacity(items.len());
                {
                    let mut created = tx
                        .prepare_cached(
                            "SELECT json_extract(doc, '$.created_ms') FROM items
                             WHERE tenant_id = ?1 AND scenario_id = ?2 AND item_id = ?3",
                        )
                        .map_err(sql)?;
                    let mut put = tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO items (tenant_id, scenario_id, item_id, category, status, updated_ms, doc)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        )
                        .map_err(sql)?;
                    for mut item in items {
                        let (scenario, id) = (item.scenario_id.as_str(), item.item_id.as_str());
                        let existing: Option<i64> =
                            created.query_row(params![tenant, scenario, id], |row| row.get(0)).optional().map_err(sql)?;
                        if let Some(created_ms) = existing {
                            item.created_ms = created_ms;
                            item.publish_memo = Default::default();
                        }
                        put.execute(params![
                            tenant,
                            scenario,
                            id,
                            item.category(),
                            item.status.as_str(),
                            item.updated_ms,
                            to_json(&item)?
                        ])
                        .map_err(sql)?;
                        let outcome = if existing.is_some() { Upserted::Updated } else { Upserted::Created };
                        stored.push((item, outcome));
                    }
                }
                tx.commit().map_err(sql)?;
                Ok(stored)
            })
            .await
    }

    async fn insert_item(&self, tenant: &TenantId, item: &Item) -> Result<()> {
        let row = (
            tenant.to_string(),
            item.scenario_id.to_string(),
            item.item_id.to_string(),
            item.category().map(str::to_owned),
            item.status.as_str(),
            item.updated_ms,
            to_json(item)?,
        );
        self.writer
            .call(move |conn| {
                let (tenant, scenario, id, category, status, updated_ms, doc) = row;
                let statement = "INSERT INTO items (tenant_id, scenario_id, item_id, category, status, updated_ms, doc)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
                let values = params![tenant, scenario, id, category, status, updated_ms, doc];
                insert_new(conn, statement, values, || Error::Conflict {
                    code: Code::ItemExists,
                    message: format!("item {id:?} exists already; change it with PATCH or the bulk import"),
                })
            })
            .await
    }

    async fn get_item(&self, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<Option<Item>> {
        let (tenant, scenario, item) = (tenant.to_string(), scenario.to_string(), item.to_string());
        self.reader
            .call(move |conn| {
                read_doc(
                    conn,
                    "SELECT doc FROM items WHERE tenant_id = ?1 AND scenario_id = ?2 AND item_id = ?3",
                    params![tenant, scenario, item],
                )
            })
            .await
    }

    async fn delete_item(&self, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<bool> {
        let (tenant, scenario, item) = (tenant.to_string(), scenario.to_string(), item.to_string());
        self.writer
            .call(move |conn| {
                let deleted = conn
                    .execute(
                        "DELETE FROM items WHERE tenant_id = ?1 AND scenario_id = ?2 AND item_id = ?3",
                        params![tenant, scenario, item],
                    )
                    .map_err(sql)?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn list_items(&self, tenant: &TenantId, scenario: &ScenarioId, filter: &ItemFilter) -> Result<Vec<Item>> {
        let (tenant, scenario, filter) = (tenant.to_string(), scenario.to_string(), filter.clone());
        self.reader
            .call(move |conn| {
                let mut sql_text = String::from("SELECT doc FROM items WHERE tenant_id = ?1 AND scenario_id = ?2");
                let mut args: Vec<rusqlite::types::Value> = vec![tenant.into(), scenario.into()];
                if let Some(category) = filter.category {
                    args.push(category.into());
                    sql_text.push_str(&format!(" AND category = ?{}", args.len()));
                }
                if let Some(status) = filter.status {
                    args.push(status.as_str().to_owned().into());
                    sql_text.push_str(&format!(" AND status = ?{}", args.len()));
                }
                if let Some(since) = filter.updated_since_ms {
                    args.push(since.into());
                    sql_text.push_str(&format!(" AND updated_ms >= ?{}", args.len()));
                }
                if let Some(cursor) = filter.cursor {
                    args.push(cursor.into());
                    sql_text.push_str(&format!(" AND item_id > ?{}", args.len()));
                }
                args.push((filter.limit as i64).into());
                sql_text.push_str(&format!(" ORDER BY item_id LIMIT ?{}", args.len()));
                let mut stmt = conn.prepare_cached(&sql_text).map_err(sql)?;
                let docs =
                    stmt.query_map(rusqlite::params_from_iter(args), |row| row.get::<_, String>(0)).map_err(sql)?;
                docs.map(|doc| from_json(&doc.map_err(sql)?)).collect()
            })
            .await
    }

    async fn scan_items(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<Vec<Item>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.to_string());
        self.reader
            .call(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM items WHERE tenant_id = ?1 AND scenario_id = ?2",
                    params![tenant, scenario],
                )
            })
            .await
    }
}

#[async_trait]
impl ProfileStore for SqliteDocuments {
    async fn get_profile(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
    ) -> Result<Option<UserProfile>> {
        let (tenant, user, scenario) = (tenant.to_string(), user.to_string(), scenario.to_string());
        self.reader
            .call(move |conn| {
                read_doc(
                    conn,
                    "SELECT doc FROM user_profiles WHERE tenant_id = ?1 AND user_id = ?2 AND scenario_id = ?3",
                    params![tenant, user, scenario],
                )
            })
            .await
    }

    async fn put_profiles(&self, tenant: &TenantId, profiles: &[UserProfile]) -> Result<()> {
        let tenant = tenant.to_string();
        let rows = profiles
            .iter()
            .map(|p| Ok((p.user_id.to_string(), p.scenario_id.to_string(), to_json(p)?)))
            .collect::<Result<Vec<_>>>()?;
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                {
                    let mut put = tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO user_profiles (tenant_id, user_id, scenario_id, doc)
                             VALUES (?1, ?2, ?3, ?4)",
                        )
                        .map_err(sql)?;
                    for (user, scenario, doc) in rows {
                        put.execute(params![tenant, user, scenario, doc]).map_err(sql)?;
                    }
                }
                tx.commit().map_err(sql)
            })
            .await
    }
}

#[async_trait]
impl ModelStore for SqliteDocuments {
    async fn insert_model(&self, tenant: &TenantId, model: &ModelRecord) -> Result<()> {
        let (tenant, id, name, sequence, doc) = (
            tenant.to_string(),
            model.scenario_id.to_string(),
            model.model_name.clone(),
            model.sequence as i64,
            to_json(model)?,
        );
        self.writer
            .call(move |conn| {
                let statement = "INSERT INTO model_configs (tenant_id, scenario_id, model_name, sequence, doc)
                                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
                insert_new(conn, statement, params![tenant, id, name, sequence, doc], || {
                    crate::model_version_exists(&name, sequence as u64)
                })
            })
            .await
    }

    async fn replace_model(&self, tenant: &TenantId, model: &ModelRecord) -> Result<()> {
        let (tenant, id, name, sequence, doc) = (
            tenant.to_string(),
            model.scenario_id.to_string(),
            model.model_name.clone(),
            model.sequence as i64,
            to_json(model)?,
        );
        self.writer
            .call(move |conn| {
                let updated = conn
                    .execute(
                        "UPDATE model_configs SET doc = ?5
                         WHERE tenant_id = ?1 AND scenario_id = ?2 AND model_name = ?3 AND sequence = ?4",
                        params![tenant, id, name, sequence, doc],
                    )
                    .map_err(sql)?;
                if updated == 0 {
                    return Err(Error::not_found(format!("model {name} version v{sequence}")));
                }
                Ok(())
            })
            .await
    }

    async fn list_models(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        name: Option<&str>,
    ) -> Result<Vec<ModelRecord>> {
        let (tenant, id, name) = (tenant.to_string(), scenario.to_string(), name.map(str::to_owned));
        self.reader
            .call(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM model_configs WHERE tenant_id = ?1 AND scenario_id = ?2
                         AND (?3 IS NULL OR model_name = ?3) ORDER BY model_name, sequence DESC",
                    params![tenant, id, name],
                )
            })
            .await
    }
}

#[async_trait]
impl ExperimentStore for SqliteDocuments {
    async fn insert_experiment(&self, tenant: &TenantId, experiment: &Experiment) -> Result<()> {
        let (tenant, scenario, id, version, doc) = (
            tenant.to_string(),
            experiment.scenario_id.to_string(),
            experiment.experiment_id.clone(),
            experiment.version as i64,
            to_json(experiment)?,
        );
        self.writer
            .call(move |conn| {
                let statement = "INSERT INTO experiments (tenant_id, scenario_id, experiment_id, version, doc)
                                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
                insert_new(conn, statement, params![tenant, scenario, id, version, doc], || {
                    crate::experiment_exists(&id)
                })
            })
            .await
    }

    async fn get_experiment(&self, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<Option<Experiment>> {
        let (tenant, scenario, id) = (tenant.to_string(), scenario.to_string(), id.to_owned());
        self.reader
            .call(move |conn| {
                read_doc(
                    conn,
                    "SELECT doc FROM experiments WHERE tenant_id = ?1 AND scenario_id = ?2 AND experiment_id = ?3",
                    params![tenant, scenario, id],
                )
            })
            .await
    }

    async fn list_experiments(&self, tenant: &TenantId, scenario: Option<&ScenarioId>) -> Result<Vec<Experiment>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.map(ScenarioId::to_string));
        self.reader
            .call(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM experiments WHERE tenant_id = ?1 AND (?2 IS NULL OR scenario_id = ?2)
                         ORDER BY scenario_id, experiment_id",
                    params![tenant, scenario],
                )
            })
            .await
    }

    async fn replace_experiment(
        &self,
        tenant: &TenantId,
        experiment: &Experiment,
        expected_version: u64,
    ) -> Result<()> {
        let (tenant, scenario, id, version, doc) = (
            tenant.to_string(),
            experiment.scenario_id.to_string(),
            experiment.experiment_id.clone(),
            experiment.version as i64,
            to_json(experiment)?,
        );
        self.writer
            .call(move |conn| {
                let updated = conn
                    .execute(
                        "UPDATE experiments SET version = ?4, doc = ?5
                         WHERE tenant_id = ?1 AND scenario_id = ?2 AND experiment_id = ?3 AND version = ?6",
                        params![tenant, scenario, id, version, doc, expected_version as i64],
                    )
                    .map_err(sql)?;
                if updated == 0 {
                    let exists: Option<i64> = conn
                        .query_row(
                            "SELECT version FROM experiments WHERE tenant_id = ?1 AND scenario_id = ?2 AND experiment_id = ?3",
                            params![tenant, scenario, id],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(sql)?;
                    return Err(match exists {
                        Some(_) => crate::experiment_changed(&id, expected_version),
                        None => Error::not_found(format!("experiment {id:?}")),
                    });
                }
                Ok(())
            })
            .await
    }

    async fn delete_experiment(&self, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<bool> {
        let (tenant, scenario, id) = (tenant.to_string(), scenario.to_string(), id.to_owned());
        self.writer
            .call(move |conn| {
                let deleted = conn
                    .execute(
                        "DELETE FROM experiments WHERE tenant_id = ?1 AND scenario_id = ?2 AND experiment_id = ?3",
                        params![tenant, scenario, id],
                    )
                    .map_err(sql)?;
                Ok(deleted > 0)
            })
            .await
    }
}

/// The columns of a job's `training_jobs` row: tenant, job id, scenario, created, finished,
/// heartbeat, document.
type JobRow = (String, String, String, i64, bool, i64, String);

fn job_row(tenant: &TenantId, job: &JobRecord) -> Result<JobRow> {
    Ok((
        tenant.to_string(),
        job.job_id.clone(),
        job.scenario_id.to_string(),
        job.created_ms,
        job.state.is_finished(),
        job.heartbeat_ms,
        to_json(job)?,
    ))
}

#[async_trait]
impl JobStore for SqliteDocuments {
    async fn put_job(&self, tenant: &TenantId, job: &JobRecord) -> Result<()> {
        let (tenant, job_id, id, created, finished, heartbeat, doc) = job_row(tenant, job)?;
        self.writer
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO training_jobs
                     (tenant_id, job_id, scenario_id, created_ms, finished, heartbeat_ms, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql)?
                .execute(params![tenant, job_id, id, created, finished, heartbeat, doc])
                .map_err(sql)?;
                Ok(())
            })
            .await
    }

    async fn get_job(&self, tenant: &TenantId, job_id: &str) -> Result<Option<JobRecord>> {
        let (tenant, job_id) = (tenant.to_string(), job_id.to_owned());
        self.reader
            .call(move |conn| {
                read_doc(
                    conn,
                    "SELECT doc FROM training_jobs WHERE tenant_id = ?1 AND job_id = ?2",
                    params![tenant, job_id],
                )
            })
            .await
    }

    async fn list_jobs(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        limit: usize,
    ) -> Result<Vec<JobRecord>> {
        let (tenant, id, limit) = (tenant.to_string(), scenario.map(ScenarioId::to_string), limit as i64);
        self.reader
            .call(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM training_jobs WHERE tenant_id = ?1 AND (?2 IS NULL OR scenario_id = ?2)
                         ORDER BY created_ms DESC, job_id DESC LIMIT ?3",
                    params![tenant, id, limit],
                )
            })
            .await
    }

    async fn pending_jobs(
        &self,
        lease_before: i64,
        except: &[TenantId],
        limit: usize,
    ) -> Result<Vec<(TenantId, JobRecord)>> {
        let limit = limit as i64;
        let except = serde_json::to_string(&except.iter().map(TenantId::as_str).collect::<Vec<_>>())
            .map_err(|e| Error::internal(format!("tenants to skip: {e}")))?;
        self.reader
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT tenant_id, doc FROM training_jobs WHERE finished = 0
                         AND (json_extract(doc, '$.state') = 'queued' OR heartbeat_ms < ?1)
                         AND tenant_id NOT IN (SELECT value FROM json_each(?3))
                         ORDER BY created_ms, job_id LIMIT ?2",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![lease_before, limit, except], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (tenant, doc) = row.map_err(sql)?;
                    Ok((TenantId::parse(tenant)?, from_json(&doc)?))
                })
                .collect()
            })
            .await
    }

    async fn count_unfinished_jobs(&self, tenant: &TenantId) -> Result<u64> {
        let tenant = tenant.to_string();
        self.reader
            .call(move |conn| {
                conn.prepare_cached("SELECT COUNT(*) FROM training_jobs WHERE tenant_id = ?1 AND finished = 0")
                    .map_err(sql)?
                    .query_row([tenant], |row| row.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(sql)
            })
            .await
    }

    async fn count_running_jobs(&self, tenant: &TenantId, lease_before: i64) -> Result<u64> {
        let tenant = tenant.to_string();
        self.reader
            .call(move |conn| {
                conn.prepare_cached(
                    "SELECT COUNT(*) FROM training_jobs WHERE tenant_id = ?1 AND finished = 0
                     AND json_extract(doc, '$.state') = 'running' AND heartbeat_ms >= ?2",
                )
                .map_err(sql)?
                .query_row(params![tenant, lease_before], |row| row.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(sql)
            })
            .await
    }

    async fn swap_job(&self, tenant: &TenantId, job: &JobRecord, expected: Option<u64>) -> Result<bool> {
        let (tenant, job_id, id, created, finished, heartbeat, doc) = job_row(tenant, job)?;
        self.writer
            .call(move |conn| {
                let changed = match expected {
                    None => conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO training_jobs
                             (tenant_id, job_id, scenario_id, created_ms, finished, heartbeat_ms, doc)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        )
                        .map_err(sql)?
                        .execute(params![tenant, job_id, id, created, finished, heartbeat, doc])
                        .map_err(sql)?,
                    Some(revision) => conn
                        .prepare_cached(
                            "UPDATE training_jobs SET finished = ?3, heartbeat_ms = ?4, doc = ?5
                             WHERE tenant_id = ?1 AND job_id = ?2
                             AND COALESCE(json_extract(doc, '$.revision'), 0) = ?6",
                        )
                        .map_err(sql)?
                        .execute(params![tenant, job_id, finished, heartbeat, doc, revision as i64])
                        .map_err(sql)?,
                };
                Ok(changed == 1)
            })
            .await
    }
}

#[async_trait]
impl DeadLetterStore for SqliteDocuments {
    async fn put_dead_letters(&self, letters: &[DeadLetter]) -> Result<()> {
        let rows: Vec<(String, String, String, i64, String)> = letters
            .iter()
            .map(|l| Ok((l.tenant_id.to_string(), l.id.clone(), l.job.clone(), l.dead_ms, to_json(l)?)))
            .collect::<Result<_>>()?;
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO dead_letters (tenant_id, id, job, dead_ms, doc)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .map_err(sql)?;
                    for (tenant, id, job, dead_ms, doc) in &rows {
                        stmt.execute(params![tenant, id, job, dead_ms, doc]).map_err(sql)?;
                    }
                }
                tx.commit().map_err(sql)
            })
            .await
    }

    async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        job: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>> {
        let (tenant, job, after, limit) =
            (tenant.to_string(), job.map(str::to_owned), after.unwrap_or("").to_owned(), limit as i64);
        self.reader
            .call(move |conn| {
                read_docs(
                    conn,
                    "SELECT doc FROM dead_letters WHERE tenant_id = ?1 AND (?2 IS NULL OR job = ?2) AND id > ?3
                         ORDER BY id LIMIT ?4",
                    params![tenant, job, after, limit],
                )
            })
            .await
    }

    async fn get_dead_letters(&self, tenant: &TenantId, ids: &[String]) -> Result<Vec<DeadLetter>> {
        let (tenant, mut ids) = (tenant.to_string(), ids.to_vec());
        ids.sort();
        ids.dedup();
        self.reader
            .call(move |conn| {
                let mut letters = Vec::new();
                for id in &ids {
                    letters.extend(read_doc::<DeadLetter>(
                        conn,
                        "SELECT doc FROM dead_letters WHERE tenant_id = ?1 AND id = ?2",
                        params![tenant, id],
                    )?);
                }
                Ok(letters)
            })
            .await
    }

    async fn count_dead_letters(&self, tenant: &TenantId) -> Result<u64> {
        let tenant = tenant.to_string();
        self.reader
            .call(move |conn| {
                conn.prepare_cached("SELECT COUNT(*) FROM dead_letters WHERE tenant_id = ?1")
                    .map_err(sql)?
                    .query_row([tenant], |row| row.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(sql)
            })
            .await
    }

    async fn delete_dead_letters(&self, tenant: &TenantId, ids: &[String]) -> Result<u64> {
        let (tenant, ids) = (tenant.to_string(), ids.to_vec());
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let mut deleted = 0;
                {
                    let mut stmt =
                        tx.prepare_cached("DELETE FROM dead_letters WHERE tenant_id = ?1 AND id = ?2").map_err(sql)?;
                    for id in &ids {
                        deleted += stmt.execute(params![tenant, id]).map_err(sql)? as u64;
                    }
                }
                tx.commit().map_err(sql)?;
                Ok(deleted)
            })
            .await
    }

    async fn trim_dead_letters(&self, before_ms: i64) -> Result<u64> {
        self.writer
            .call(move |conn| {
                conn.execute("DELETE FROM dead_letters WHERE dead_ms < ?1", [before_ms]).map(|n| n as u64).map_err(sql)
            })
            .await
    }
}
