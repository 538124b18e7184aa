//! The production backends (DESIGN §2), each behind its cargo feature and selected at run time
//! by URL: MongoDB documents, Redis realtime data, ClickHouse warehouse, Kafka event bus, Milvus
//! vector index.

#[cfg(feature = "clickhouse")]
pub mod clickhouse;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "milvus")]
pub mod milvus;
#[cfg(feature = "mongodb")]
pub mod mongo;
#[cfg(feature = "redis")]
pub mod redis;
