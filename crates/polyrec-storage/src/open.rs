//! Opens the stores of one process ([`Stores::open`]): each storage trait object from its URL in
//! [`StorageConfig`] (DESIGN §2) — the embedded backend when the URL is empty, else the
//! production engine the URL's scheme names, if this build has its cargo feature. Adding a
//! backend is this file and its module under `production/`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use polyrec_core::clock::SharedClock;
use serde::Deserialize;

use crate::{
    BlobStore, DirBlobs, DocumentStore, Durability, EventBus, IvfIndex, MemoryRealtime, RealtimeStore, SqliteDocuments,
    SqliteEventBus, SqliteWarehouse, StreamLog, VectorIndex, Warehouse,
};

/// The backend of each storage purpose (DESIGN §2), by URL. An empty value is the embedded
/// default. Environment variables override the file: `POLYREC_DOCUMENTS_URL`,
/// `POLYREC_REALTIME_URL`, `POLYREC_WAREHOUSE_URL`, `POLYREC_BUS_URL`, `POLYREC_VECTORS_URL`,
/// `POLYREC_BLOBS_URL`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `mongodb://host:port/database?…` (database `polyrec` when the URL names none).
    pub documents: String,
    /// `redis://host:port/db`, or a Redis Cluster: `redis+cluster://host:port,host:port,…`
    /// (any of its nodes; the others are found from them).
    pub realtime: String,
    /// `clickhouse://host:port/database` (over ClickHouse's HTTP port, 8123 by default).
    pub warehouse: String,
    /// `kafka://host:port[,host:port…]`.
    pub bus: String,
    /// The vector index: `milvus://host:port` (or `http://host:port`, Milvus's gRPC port);
    /// empty keeps item vectors in an in-process HNSW index.
    pub vectors: String,
    /// Where model artifacts are kept: `file:///path` (a directory every process of a split
    /// deployment mounts); empty keeps them under `{data_dir}/models`.
    pub blobs: String,
    /// Prepended to every Redis key, for deployments (and tests) that share one Redis between
    /// isolated installations; empty in production, where the keys are SPEC §4.2's with Redis
    /// Cluster hash tags (`polyrec_storage::keys`). It may not hold braces.
    pub redis_key_prefix: String,
    /// The warehouse sink inserts when it has this many events… Default: 40,000 on ClickHouse
    /// (every insert makes a part in each of its five tables for the server to merge: with
    /// SPEC §3.4's 1,000 the sink managed 29,000 events/s here, with 10,000 52,000–65,000, with
    /// 40,000 64,000–68,000, for about 100 MB more held by the worker — docs/benchmarks.md),
    /// 1,000 on the embedded warehouse.
    pub sink_batch_events: Option<usize>,
    /// …or when the oldest buffered event has waited this long (SPEC §3.4: 1,000 or 5 s).
    /// 0 inserts every batch as it comes. Default: 5,000 on ClickHouse, 0 on the embedded
    /// warehouse.
    pub sink_flush_ms: Option<u64>,
    /// What an acknowledged event survives on the embedded bus: `process` (default; a crash of
    /// the process) or `fsync` (a power loss too, each commit synced to the disk). Kafka's is
    /// its brokers' (`acks=all`).
    pub durability: Durability,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            documents: String::new(),
            realtime: String::new(),
            warehouse: String::new(),
            bus: String::new(),
            vectors: String::new(),
            blobs: String::new(),
            redis_key_prefix: String::new(),
            sink_batch_events: None,
            sink_flush_ms: None,
            durability: Durability::Process,
        }
    }
}

impl StorageConfig {
    /// The warehouse sink's batch size (see `sink_batch_events`).
    pub fn sink_batch_events(&self) -> usize {
        self.sink_batch_events.unwrap_or(if self.warehouse.is_empty() { 1_000 } else { 40_000 }).max(1)
    }

    /// The warehouse sink's flush interval (see `sink_flush_ms`).
    pub fn sink_flush_ms(&self) -> u64 {
        self.sink_flush_ms.unwrap_or(if self.warehouse.is_empty() { 0 } else { 5_000 })
    }

    /// Applies the `POLYREC_*_URL` environment variables that are set.
    pub fn apply_env(&mut self) {
        for (var, field) in [
            ("POLYREC_DOCUMENTS_URL", &mut self.documents),
            ("POLYREC_REALTIME_URL", &mut self.realtime),
            ("POLYREC_WAREHOUSE_URL", &mut self.warehouse),
            ("POLYREC_BUS_URL", &mut self.bus),
            ("POLYREC_VECTORS_URL", &mut self.vectors),
            ("POLYREC_BLOBS_URL", &mut self.blobs),
        ] {
            if let Ok(value) = std::env::var(var) {
                *field = value;
            }
        }
    }
}

/// The stores of one process (private to polyrec-service: a transport reaches them only through
/// a service function).
pub struct Stores {
    pub documents: Arc<dyn DocumentStore>,
    pub bus: Arc<dyn EventBus>,
    /// The same bus as the stream jobs read it (consumer groups over partitions).
    pub stream: Arc<dyn StreamLog>,
    pub warehouse: Arc<dyn Warehouse>,
    pub realtime: Arc<dyn RealtimeStore>,
    /// Set when the realtime store is the in-memory one (it needs sweeping, and it is private to
    /// this process, so the caches in front of the document store need no cross-process checks).
    pub memory_realtime: Option<Arc<MemoryRealtime>>,
    pub vectors: Arc<dyn VectorIndex>,
    pub blobs: Arc<dyn BlobStore>,
}

fn scheme(url: &str) -> &str {
    url.split_once("://").map(|(scheme, _)| scheme).unwrap_or("")
}

#[cfg_attr(
    all(feature = "redis", feature = "mongodb", feature = "clickhouse", feature = "kafka", feature = "milvus"),
    allow(dead_code)
)]
fn missing_feature(what: &str, feature: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs the `{feature}` cargo feature, which this build lacks: rebuild with --features {feature}"
    )
}

impl Stores {
    pub async fn open(storage: &StorageConfig, data_dir: &Path, clock: SharedClock) -> anyhow::Result<Self> {
        let embedded = [&storage.documents, &storage.bus, &storage.warehouse].iter().any(|url| url.is_empty());
        if embedded {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        }
        let documents = documents(&storage.documents, data_dir).await?;
        let bus = bus(&storage.bus, data_dir, storage.durability).await?;
        let warehouse = warehouse(&storage.warehouse, data_dir).await?;
        let (realtime, memory_realtime) = realtime(storage, clock).await?;
        let vectors = vectors(&storage.vectors).await?;
        let blobs = blobs(&storage.blobs, data_dir)?;
        Ok(Self { documents, bus: bus.bus, stream: bus.stream, warehouse, realtime, memory_realtime, vectors, blobs })
    }
}

fn blobs(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn BlobStore>> {
    match scheme(url) {
        "" if url.is_empty() => Ok(Arc::new(DirBlobs::open(&data_dir.join("models"))?)),
        "file" => Ok(Arc::new(DirBlobs::open(Path::new(&url["file://".len()..]))?)),
        other => bail!(
            "blobs = {url:?}: unknown scheme {other:?} (use file:///path for a directory every process mounts, \
             or empty for {{data_dir}}/models; object storage is not in this build)"
        ),
    }
}

async fn vectors(url: &str) -> anyhow::Result<Arc<dyn VectorIndex>> {
    match scheme(url) {
        "" if url.is_empty() => Ok(Arc::new(IvfIndex::default())),
        "milvus" | "http" => {
            #[cfg(feature = "milvus")]
            {
                let index = crate::production::milvus::MilvusIndex::connect(url)
                    .await
                    .with_context(|| format!("vector index {url}"))?;
                Ok(Arc::new(index))
            }
            #[cfg(not(feature = "milvus"))]
            Err(missing_feature("a Milvus vector index", "milvus"))
        }
        other => {
            bail!("vectors = {url:?}: unknown scheme {other:?} (use milvus://host:19530, or empty for in-process HNSW)")
        }
    }
}

async fn documents(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn DocumentStore>> {
    match scheme(url) {
        "" if url.is_empty() => Ok(Arc::new(SqliteDocuments::open(&data_dir.join("documents.db"))?)),
        "mongodb" | "mongodb+srv" => {
            #[cfg(feature = "mongodb")]
            {
                let store = crate::production::mongo::MongoDocuments::connect(url, "polyrec")
                    .await
                    .with_context(|| format!("document store {url}"))?;
                Ok(Arc::new(store))
            }
            #[cfg(not(feature = "mongodb"))]
            Err(missing_feature("a MongoDB document store", "mongodb"))
        }
        other => bail!(
            "documents = {url:?}: unknown scheme {other:?} (use mongodb://host:port/database, or empty for SQLite)"
        ),
    }
}

struct Bus {
    bus: Arc<dyn EventBus>,
    stream: Arc<dyn StreamLog>,
}

async fn bus(url: &str, data_dir: &Path, durability: Durability) -> anyhow::Result<Bus> {
    match scheme(url) {
        "" if url.is_empty() => {
            let log = Arc::new(SqliteEventBus::open_with(&data_dir.join("events.db"), durability)?);
            Ok(Bus { bus: log.clone(), stream: log })
        }
        "kafka" => {
            #[cfg(feature = "kafka")]
            {
                use crate::production::kafka::{KafkaBus, KafkaSettings};
                let settings = KafkaSettings::from_url(url)?;
                let kafka = Arc::new(KafkaBus::connect(settings).await.with_context(|| format!("event bus {url}"))?);
                Ok(Bus { bus: kafka.clone(), stream: kafka })
            }
            #[cfg(not(feature = "kafka"))]
            Err(missing_feature("a Kafka event bus", "kafka"))
        }
        other => {
            bail!("bus = {url:?}: unknown scheme {other:?} (use kafka://host:port, or empty for the embedded log)")
        }
    }
}

async fn warehouse(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn Warehouse>> {
    match scheme(url) {
        "" if url.is_empty() => Ok(Arc::new(SqliteWarehouse::open(&data_dir.join("warehouse.db"))?)),
        "clickhouse" | "http" | "https" => {
            #[cfg(feature = "clickhouse")]
            {
                let store = crate::production::clickhouse::ClickHouseWarehouse::connect(url)
                    .await
                    .with_context(|| format!("warehouse {url}"))?;
                Ok(Arc::new(store))
            }
            #[cfg(not(feature = "clickhouse"))]
            Err(missing_feature("a ClickHouse warehouse", "clickhouse"))
        }
        other => bail!(
            "warehouse = {url:?}: unknown scheme {other:?} (use clickhouse://host:8123/database, or empty for SQLite)"
        ),
    }
}

async fn realtime(
    storage: &StorageConfig,
    clock: SharedClock,
) -> anyhow::Result<(Arc<dyn RealtimeStore>, Option<Arc<MemoryRealtime>>)> {
    let url = storage.realtime.as_str();
    match scheme(url) {
        "" if url.is_empty() => {
            let memory = Arc::new(MemoryRealtime::new(clock));
            Ok((memory.clone(), Some(memory)))
        }
        "redis" | "rediss" | "redis+cluster" => {
            #[cfg(feature = "redis")]
            {
                let store = crate::production::redis::RedisRealtime::connect(url, clock, &storage.redis_key_prefix)
                    .await
                    .with_context(|| format!("realtime store {url}"))?;
                Ok((Arc::new(store), None))
            }
            #[cfg(not(feature = "redis"))]
            {
                let _ = clock;
                Err(missing_feature("a Redis realtime store", "redis"))
            }
        }
        other => bail!(
            "realtime = {url:?}: unknown scheme {other:?} (use redis://host:port/db, redis+cluster://host:port,host:port,…, or empty for memory)"
        ),
    }
}
