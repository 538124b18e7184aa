//! Builds each storage trait object from its URL in [`StorageConfig`] (DESIGN §2): the embedded
//! backend when the URL is empty, else the production engine the URL's scheme names — if this
//! build has its cargo feature.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use polyrec_core::clock::SharedClock;
use polyrec_storage::{
    BlobStore, DirBlobs, DocumentStore, EventBus, EventLog, HnswIndex, MemoryRealtime, RealtimeStore, SqliteDocuments,
    SqliteEventBus, SqliteWarehouse, VectorIndex, Warehouse,
};

use crate::config::StorageConfig;

/// The stores of one process, private to this crate: a transport reaches them only through a
/// service function.
pub struct Stores {
    pub documents: Arc<dyn DocumentStore>,
    pub bus: Arc<dyn EventBus>,
    /// The embedded log, when that is the bus: the in-process jobs read it.
    pub log: Option<Arc<dyn EventLog>>,
    /// The Kafka bus, when that is the bus: the jobs are consumer-group members on it.
    #[cfg(feature = "kafka")]
    pub kafka: Option<Arc<polyrec_storage::production::kafka::KafkaBus>>,
    pub warehouse: Arc<dyn Warehouse>,
    pub realtime: Arc<dyn RealtimeStore>,
    /// Set when the realtime store is the in-memory one (it needs sweeping, and it is private to
    /// this process, so the caches in front of the document store need no cross-process checks).
    pub memory_realtime: Option<Arc<MemoryRealtime>>,
    pub vectors: Arc<dyn VectorIndex>,
    pub blobs: Arc<dyn BlobStore>,
    /// Woken after every append to the bus, so the jobs react at once instead of polling.
    pub bus_appended: tokio::sync::Notify,
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
        Ok(Self {
            documents,
            bus: bus.bus,
            log: bus.log,
            #[cfg(feature = "kafka")]
            kafka: bus.kafka,
            warehouse,
            realtime,
            memory_realtime,
            vectors,
            blobs,
            bus_appended: tokio::sync::Notify::new(),
        })
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
        "" if url.is_empty() => Ok(Arc::new(HnswIndex::default())),
        "milvus" | "http" => {
            #[cfg(feature = "milvus")]
            {
                let index = polyrec_storage::production::milvus::MilvusIndex::connect(url)
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
                let store = polyrec_storage::production::mongo::MongoDocuments::connect(url, "polyrec")
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
    log: Option<Arc<dyn EventLog>>,
    #[cfg(feature = "kafka")]
    kafka: Option<Arc<polyrec_storage::production::kafka::KafkaBus>>,
}

async fn bus(url: &str, data_dir: &Path, durability: polyrec_storage::Durability) -> anyhow::Result<Bus> {
    match scheme(url) {
        "" if url.is_empty() => {
            let log = Arc::new(SqliteEventBus::open_with(&data_dir.join("events.db"), durability)?);
            Ok(Bus {
                bus: log.clone(),
                log: Some(log),
                #[cfg(feature = "kafka")]
                kafka: None,
            })
        }
        "kafka" => {
            #[cfg(feature = "kafka")]
            {
                use polyrec_storage::production::kafka::{KafkaBus, KafkaSettings};
                let settings = KafkaSettings::from_url(url)?;
                let kafka = Arc::new(KafkaBus::connect(settings).await.with_context(|| format!("event bus {url}"))?);
                Ok(Bus { bus: kafka.clone(), log: None, kafka: Some(kafka) })
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
                let store = polyrec_storage::production::clickhouse::ClickHouseWarehouse::connect(url)
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
        "redis" | "rediss" => {
            #[cfg(feature = "redis")]
            {
                let store =
                    polyrec_storage::production::redis::RedisRealtime::connect(url, clock, &storage.redis_key_prefix)
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
        other => bail!("realtime = {url:?}: unknown scheme {other:?} (use redis://host:port/db, or empty for memory)"),
    }
}

impl Stores {
    /// Publishes a stream job's output, `(key, value)` records, to a derived topic of SPEC §3.3
    /// (`user-profile-updates`, `item-stats-updates`, `recommendation-metrics`) for other
    /// consumers, when the bus is Kafka; the embedded bus has no derived topics. Keyed
    /// `{tenant}:{…}`; the values are absolute (a whole profile, a whole contribution), so a
    /// replay's re-delivery is harmless.
    pub async fn publish_derived(
        &self,
        topic: &str,
        records: &[(String, serde_json::Value)],
    ) -> polyrec_core::Result<()> {
        #[cfg(feature = "kafka")]
        if let Some(kafka) = &self.kafka {
            let payloads = records
                .iter()
                .map(|(key, value)| {
                    Ok((key.clone(), serde_json::to_vec(value).map_err(polyrec_core::Error::internal)?))
                })
                .collect::<polyrec_core::Result<Vec<_>>>()?;
            return kafka.publish(topic, &payloads).await;
        }
        let _ = (topic, records);
        Ok(())
    }
}
