//! The event bus as the stream jobs read it: consumer groups over partitions. One trait pair for
//! both buses, so the service has one stream-job runner: Kafka's groups and partitions
//! ([`crate::production::kafka`]), and the embedded log as one partition read by one member
//! ([`crate::embedded::SqliteEventBus`]).
//!
//! Offsets are record offsets: on Kafka the partition offset plus one, so 0 keeps meaning
//! "nothing yet", and a committed offset is both the last record processed and the next Kafka
//! offset to read.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::Result;

use crate::BusRecord;

/// A partition of the bus: `(topic, index)`. The embedded log is the one partition `("local", 0)`.
pub type Partition = (String, i32);

/// The embedded log's one partition.
pub fn local_partition() -> Partition {
    ("local".to_owned(), 0)
}

/// One stream job's membership in its consumer group.
#[async_trait]
pub trait Subscription: Send {
    /// Up to `max` records, grouped by partition in offset order; empty after `wait` with none.
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<(Partition, Vec<BusRecord>)>>;
    /// The partitions this member holds now (after a rebalance, the others are another
    /// member's); `None` when it cannot tell (keep them all).
    fn assignment(&self) -> Option<Vec<Partition>>;
    /// Where this member starts in the partitions it knows it holds before any record came:
    /// the offset after which it reads (the embedded log's committed offset; Kafka: none known).
    fn positions(&self) -> Vec<(Partition, u64)>;
    /// Commits, per partition, the last record offset whose effects are all stored.
    async fn commit(&mut self, offsets: &[(Partition, u64)]) -> Result<()>;
    /// Leaves the group, within a bounded time.
    async fn close(self: Box<Self>);
}

/// The bus as consumer groups read it.
#[async_trait]
pub trait StreamLog: Send + Sync {
    /// Whether other processes' members share the groups (Kafka): then a `polyrec worker` can
    /// run the jobs; the embedded log is read by this process's own jobs only.
    fn is_shared(&self) -> bool;
    /// Joins `group`. A group that has committed nothing starts, on the embedded log, at the
    /// first record received at or after `fresh_since_ms` when given (Kafka: at its start).
    async fn subscribe(self: Arc<Self>, group: &str, fresh_since_ms: Option<i64>) -> Result<Box<dyn Subscription>>;
    /// A partition's records received at or after `since_ms`, up to record offset `until`
    /// (inclusive): what a job with volatile state reads again when it is given a partition.
    async fn replay(&self, partition: &Partition, since_ms: i64, until: u64) -> Result<Vec<BusRecord>>;
    /// Each partition's last record offset (0: empty).
    async fn end_offsets(&self) -> Result<Vec<(Partition, u64)>>;
    /// `group`'s committed offsets in `partitions`.
    async fn group_offsets(&self, group: &str, partitions: &[Partition]) -> Result<Vec<(Partition, u64)>>;
    /// Retention (SPEC §3.3: 7 days) where the bus does not keep it itself: drops records
    /// received before `before_received_ms` that every group has committed. Returns how many.
    async fn apply_retention(&self, before_received_ms: i64) -> Result<u64>;
    /// Publishes a stream job's output, `(key, JSON)` records, to a derived topic of SPEC §3.3
    /// for other consumers; the embedded bus has no derived topics and takes none.
    async fn publish(&self, topic: &str, records: &[(String, Vec<u8>)]) -> Result<()>;
}
