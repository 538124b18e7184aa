//! Kafka as the stream jobs read it ([`StreamLog`]): each job is one consumer group subscribed to
//! every `user-behaviors-*` topic by pattern; Kafka splits the partitions among the group's
//! members — run two workers and each takes half; stop one and the other takes its partitions
//! over after the session timeout. Offsets are committed by the runner, after its sink
//! acknowledged, never automatically.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::{Error, Event, Result};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::kafka::KafkaBus;
use crate::BusRecord;
use crate::stream::{Partition, StreamLog, Subscription};

fn unavailable(error: impl std::fmt::Display) -> Error {
    Error::unavailable(format!("kafka: {error}"))
}

fn decode(message: &BorrowedMessage<'_>) -> Option<BusRecord> {
    let payload = message.payload()?;
    match serde_json::from_slice::<Event>(payload) {
        Ok(event) => Some(BusRecord { offset: message.offset() as u64 + 1, event }),
        Err(error) => {
            // Only polyrec writes these topics; a record it cannot read is logged and passed over
            // rather than stopping the partition for good.
            tracing::error!(topic = message.topic(), partition = message.partition(), offset = message.offset(), %error,
                "unreadable record on a behavior topic; skipped");
            None
        }
    }
}

#[async_trait]
impl StreamLog for KafkaBus {
    fn is_shared(&self) -> bool {
        true
    }

    async fn subscribe(self: Arc<Self>, group: &str, _fresh_since_ms: Option<i64>) -> Result<Box<dyn Subscription>> {
        let consumer = self.consumer(group)?;
        Ok(Box::new(KafkaSubscription { consumer: Some(consumer), group: group.to_owned() }))
    }

    async fn replay(&self, (topic, partition): &Partition, since_ms: i64, until: u64) -> Result<Vec<BusRecord>> {
        let from = self.offset_for_time(topic, *partition, since_ms).await?;
        // Record offset `until` is Kafka offset `until - 1`: read up to and with it.
        let messages = self.read_range(topic, *partition, from, until as i64).await?;
        Ok(messages
            .into_iter()
            .filter_map(|(offset, payload)| {
                let event = serde_json::from_slice::<Event>(&payload).ok()?;
                Some(BusRecord { offset: offset as u64 + 1, event })
            })
            .collect())
    }

    async fn end_offsets(&self) -> Result<Vec<(Partition, u64)>> {
        let ends = KafkaBus::end_offsets(self).await?;
        Ok(ends.into_iter().map(|(topic, partition, high)| ((topic, partition), high.max(0) as u64)).collect())
    }

    async fn group_offsets(&self, group: &str, partitions: &[Partition]) -> Result<Vec<(Partition, u64)>> {
        let committed = KafkaBus::committed(self, group, partitions).await?;
        Ok(committed.into_iter().map(|(partition, offset)| (partition, offset.max(0) as u64)).collect())
    }

    async fn apply_retention(&self, _before_received_ms: i64) -> Result<u64> {
        Ok(0) // The topics' own retention.ms does this.
    }

    async fn publish(&self, topic: &str, records: &[(String, Vec<u8>)]) -> Result<()> {
        KafkaBus::publish(self, topic, records).await
    }
}

/// A consumer group member. Closing its consumer (librdkafka's destroy: leave the group, stop its
/// threads) can block for ever when it lands in a partition reassignment (seen in tests
/// when a runtime shut down mid-rebalance), so it is never closed on a task: [`close_apart`] closes
/// it on a thread of its own. `close` waits for that, up to 10 s; a subscription dropped without
/// `close` (its runtime shutting down) does not wait. Either way a consumer that blocks keeps only
/// that thread; one that closes frees its connections and leaves its group, which a test binary,
/// running many runtimes in one process, needs: leaked consumers went on heartbeating and
/// fetching, and slowed the broker until its later tests timed out.
struct KafkaSubscription {
    /// Taken only by `close` and `drop`.
    consumer: Option<StreamConsumer>,
    group: String,
}

impl KafkaSubscription {
    fn consumer(&self) -> &StreamConsumer {
        self.consumer.as_ref().expect("the consumer is taken only when the subscription ends")
    }
}

/// Closes `consumer` on a thread of its own; the receiver hears when it is closed. The consumer
/// reaches the thread only once it runs: a thread that cannot be made would otherwise drop it
/// here, on the caller's (a runtime's) thread.
fn close_apart(consumer: StreamConsumer, group: &str) -> tokio::sync::oneshot::Receiver<()> {
    let (closed, done) = tokio::sync::oneshot::channel();
    let (hand, take) = std::sync::mpsc::channel::<StreamConsumer>();
    let spawned = std::thread::Builder::new().name(format!("close-{group}")).spawn(move || {
        if let Ok(consumer) = take.recv() {
            drop(consumer);
            let _ = closed.send(());
        }
    });
    match spawned {
        Ok(_) => {
            let _ = hand.send(consumer);
        }
        Err(error) => {
            tracing::warn!(group, %error, "no thread to close the consumer on; it stays open until the process exits");
            std::mem::forget(consumer);
        }
    }
    done
}

impl Drop for KafkaSubscription {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            drop(close_apart(consumer, &self.group));
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<(Partition, Vec<BusRecord>)>> {
        let mut by_partition: Vec<(Partition, Vec<BusRecord>)> = Vec::new();
        let mut taken = 0;
        let mut wait = wait;
        while taken < max {
            let message = match tokio::time::timeout(wait, self.consumer().recv()).await {
                Err(_) => break, // Nothing more within the wait.
                Ok(Err(error)) => return Err(unavailable(error)),
                Ok(Ok(message)) => message,
            };
            taken += 1;
            // After the first record, take only what has already arrived.
            wait = Duration::from_millis(1);
            let Some(record) = decode(&message) else { continue };
            let key = (message.topic().to_owned(), message.partition());
            match by_partition.iter_mut().find(|(p, _)| *p == key) {
                Some((_, records)) => records.push(record),
                None => by_partition.push((key, vec![record])),
            }
        }
        Ok(by_partition)
    }

    fn assignment(&self) -> Option<Vec<Partition>> {
        let assignment = self.consumer().assignment().ok()?;
        Some(assignment.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect())
    }

    fn positions(&self) -> Vec<(Partition, u64)> {
        Vec::new()
    }

    async fn commit(&mut self, offsets: &[(Partition, u64)]) -> Result<()> {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            // Kafka's committed offset is the next to read: record offset (Kafka + 1) is exactly it.
            list.add_partition_offset(topic, *partition, Offset::Offset(*offset as i64)).map_err(unavailable)?;
        }
        self.consumer().commit(&list, CommitMode::Sync).map_err(unavailable)
    }

    async fn close(mut self: Box<Self>) {
        let Some(consumer) = self.consumer.take() else { return };
        if tokio::time::timeout(Duration::from_secs(10), close_apart(consumer, &self.group)).await.is_err() {
            tracing::warn!(group = %self.group, "the consumer did not close within 10 s; leaving it to the process's exit");
        }
    }
}
