//! The production backends (DESIGN §2), each behind its cargo feature and selected at run time
//! by URL: MongoDB documents, Redis realtime data, ClickHouse warehouse, Kafka event bus, Milvus
//! vector index.

#[cfg(feature = "clickhouse")]
pub mod clickhouse;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "kafka")]
mod kafka_stream;
#[cfg(feature = "milvus")]
pub mod milvus;
#[cfg(feature = "mongodb")]
pub mod mongo;
#[cfg(feature = "redis")]
pub mod redis;

/// FNV-1a 64 over the parts, each followed by 0xFF (a byte no UTF-8 string contains, so the
/// parts cannot run into each other): names that must stay under a length limit end in it.
#[cfg(any(feature = "kafka", feature = "milvus"))]
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xFF]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}
