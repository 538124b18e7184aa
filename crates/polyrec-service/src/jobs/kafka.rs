//! The stream jobs as Kafka consumer-group members (`polyrec worker`, and `serve` on a Kafka bus).
//!
//! Each job is one consumer group (`warehouse_sink`, `user_profile_aggregator`, `item_hot_score`,
//! `recommendation_metrics`) subscribed to every `user-behaviors-*` topic by pattern. Kafka splits
//! the partitions among the group's members — run two workers and each takes half; stop one and
//! the other takes its partitions over after the session timeout.
//!
//! A member runs one instance of the job per partition it holds, so every offset a job sees is
//! one partition's and its order is that partition's order — the same guarantees the embedded
//! log gives the in-process runner — and each partition's records go through the job unchanged:
//! - a batch is handed to the job, retried on failure, never skipped;
//! - the partition's offset is committed only after the job's sink acknowledged (its
//!   `safe_offset`), so a crash replays, and the sinks' idempotence makes the replay harmless;
//! - jobs with volatile state (hot score, metrics: `Start::ReceivedSince`) rebuild it when they are
//!   given a partition, by reading the partition from that time up to where the group stands.
//!
//! Record offsets are Kafka offsets plus one, so 0 keeps meaning "nothing yet".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polyrec_core::{Error, Event, Result};
use polyrec_storage::BusRecord;
use polyrec_storage::production::kafka::KafkaBus;
use polyrec_storage::production::kafka::rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use polyrec_storage::production::kafka::rdkafka::message::BorrowedMessage;
use polyrec_storage::production::kafka::rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;

use super::{BATCH, IDLE_TICK, Start, StreamJob};
use crate::App;

/// Builds the job instance for one partition, named by its source (`topic/partition`).
pub type JobFactory = Box<dyn Fn(&App, &str) -> Box<dyn StreamJob> + Send + Sync>;

struct Instance {
    job: Box<dyn StreamJob>,
    /// The last record offset handed to the job (Kafka offset + 1).
    processed: u64,
    /// The last offset committed for the partition (Kafka offset + 1 = next to read).
    committed: u64,
}

type Partition = (String, i32);

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

/// Runs one job as a consumer-group member until `stopped`.
pub async fn run(
    app: Arc<App>,
    kafka: Arc<KafkaBus>,
    name: &'static str,
    factory: JobFactory,
    mut stopped: watch::Receiver<bool>,
) {
    let consumer = loop {
        match kafka.consumer(name) {
            Ok(consumer) => break consumer,
            Err(error) => {
                tracing::error!(job = name, %error, "cannot join the consumer group; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    };
    tracing::info!(job = name, group = name, "stream job joined its consumer group");
    // Closing a consumer (its `Drop`) can block for ever when it lands in a partition
    // reassignment (librdkafka waits for the assignment without a timeout; seen in tests when a
    // runtime shut down mid-rebalance). So it is never dropped on the task: a stopped job closes
    // it on a thread of its own with a time limit (`close`), and a task dropped abruptly (its
    // runtime shutting down) leaks it, as its process is ending anyway.
    let consumer = std::mem::ManuallyDrop::new(consumer);
    let mut instances: HashMap<Partition, Instance> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    while !*stopped.borrow() {
        let batch = tokio::select! {
            batch = next_batch(&consumer) => batch,
            _ = stopped.changed() => break,
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(job = name, %error, "consuming failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        forget_revoked(&consumer, &mut instances, name);
        // Caught up (less than a full batch was waiting): windows and flushes advance now, as
        // they do between batches of the embedded runner.
        let idle = batch.iter().map(|(_, records)| records.len()).sum::<usize>() < BATCH;
        for (partition, records) in batch {
            let instance = match instances.get_mut(&partition) {
                Some(instance) => instance,
                None => {
                    let first = records.first().map_or(0, |r| r.offset - 1);
                    let instance = start_instance(&app, &kafka, &factory, &partition, first as i64, &mut stopped).await;
                    let Some(instance) = instance else { return };
                    instances.entry(partition.clone()).or_insert(instance)
                }
            };
            // Records the job already has (the replay overlapped) are not handed over twice.
            let fresh: Vec<BusRecord> = records.into_iter().filter(|r| r.offset > instance.processed).collect();
            if fresh.is_empty() {
                continue;
            }
            let last = fresh.last().map_or(0, |r| r.offset);
            if !process(&app, instance, &fresh, name, &mut stopped).await {
                return;
            }
            instance.processed = last;
        }
        backoff = Duration::from_millis(100);
        if idle {
            for instance in instances.values_mut() {
                if let Err(error) = instance.job.on_idle(&app).await {
                    tracing::error!(job = name, %error, "stream job idle step failed");
                }
            }
        }
        commit(&app, &consumer, &mut instances, name);
    }
    commit(&app, &consumer, &mut instances, name);
    close(std::mem::ManuallyDrop::into_inner(consumer), name).await;
    tracing::info!(job = name, "stream job left its consumer group");
}

/// Closes a consumer (leaves its group) on a thread of its own, waiting at most 10 s for it.
async fn close(consumer: StreamConsumer, name: &'static str) {
    let (closed, done) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new().name(format!("close-{name}")).spawn(move || {
        drop(consumer);
        let _ = closed.send(());
    });
    if spawned.is_ok() && tokio::time::timeout(Duration::from_secs(10), done).await.is_err() {
        tracing::warn!(job = name, "the consumer did not close within 10 s; leaving it to the process's exit");
    }
}

/// Up to `BATCH` records, grouped by partition in offset order; empty after `IDLE_TICK` with none.
async fn next_batch(consumer: &StreamConsumer) -> Result<Vec<(Partition, Vec<BusRecord>)>> {
    let mut by_partition: Vec<(Partition, Vec<BusRecord>)> = Vec::new();
    let mut taken = 0;
    let mut wait = IDLE_TICK;
    while taken < BATCH {
        let message = match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => break, // Nothing more within the wait.
            Ok(Err(error)) => return Err(Error::unavailable(format!("kafka: {error}"))),
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

/// A new instance for a partition this member was just given. A job with volatile state first
/// replays the partition from its start time up to `until` (the first offset the group hands
/// over now).
async fn start_instance(
    app: &App,
    kafka: &KafkaBus,
    factory: &JobFactory,
    (topic, partition): &Partition,
    until: i64,
    stopped: &mut watch::Receiver<bool>,
) -> Option<Instance> {
    let source = format!("{topic}/{partition}");
    let mut instance = Instance { job: factory(app, &source), processed: until as u64, committed: until as u64 };
    let name = instance.job.name();
    let Start::ReceivedSince(since_ms) = instance.job.start(app) else {
        tracing::info!(job = name, partition = %source, offset = until, "partition assigned");
        return Some(instance);
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let replay = async {
            let from = kafka.offset_for_time(topic, *partition, since_ms).await?;
            kafka.read_range(topic, *partition, from, until).await
        };
        match replay.await {
            Ok(messages) => {
                let records: Vec<BusRecord> = messages
                    .into_iter()
                    .filter_map(|(offset, payload)| {
                        let event = serde_json::from_slice::<Event>(&payload).ok()?;
                        Some(BusRecord { offset: offset as u64 + 1, event })
                    })
                    .collect();
                tracing::info!(job = name, partition = %source, replayed = records.len(), offset = until,
                    "partition assigned; volatile state rebuilt");
                instance.processed = 0;
                for chunk in records.chunks(BATCH) {
                    if !process(app, &mut instance, chunk, name, stopped).await {
                        return None;
                    }
                    instance.processed = chunk.last().map_or(0, |r| r.offset);
                }
                instance.processed = instance.processed.max(until as u64);
                return Some(instance);
            }
            Err(error) => {
                tracing::error!(job = name, partition = %source, %error, "replay failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => return None,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Hands a batch to the job until it takes it; false if the process is stopping.
async fn process(
    app: &App,
    instance: &mut Instance,
    records: &[BusRecord],
    name: &str,
    stopped: &mut watch::Receiver<bool>,
) -> bool {
    let mut backoff = Duration::from_millis(100);
    loop {
        match super::apply(app, instance.job.as_mut(), records).await {
            Ok(()) => return true,
            Err(error) => {
                let offset = records.first().map_or(0, |r| r.offset);
                tracing::error!(job = name, %error, offset, "stream job failed on a batch; retrying it");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => return false,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Commits each partition's safe offset (what the job's sink has acknowledged) and records the
/// job's progress for `App::wait_for_jobs`.
fn commit(app: &App, consumer: &StreamConsumer, instances: &mut HashMap<Partition, Instance>, name: &'static str) {
    let mut list = TopicPartitionList::new();
    let mut safe_offsets = Vec::new();
    for ((topic, partition), instance) in instances.iter() {
        let safe = instance.job.safe_offset(instance.processed);
        if safe > instance.committed {
            // Kafka's committed offset is the next to read: record offset (Kafka + 1) is exactly it.
            if list.add_partition_offset(topic, *partition, Offset::Offset(safe as i64)).is_ok() {
                safe_offsets.push(((topic.clone(), *partition), safe));
            }
        }
        app.progress.set_partition(name, topic, *partition, instance.job.visible_offset(instance.processed));
    }
    if safe_offsets.is_empty() {
        return;
    }
    match consumer.commit(&list, CommitMode::Sync) {
        Ok(()) => {
            for (partition, safe) in safe_offsets {
                if let Some(instance) = instances.get_mut(&partition) {
                    instance.committed = safe;
                    instance.job.committed(safe);
                }
            }
        }
        Err(error) => tracing::warn!(job = name, %error, "committing offsets failed; they will be retried"),
    }
}

/// Drops the instances of partitions this member no longer holds (a rebalance gave them to
/// another member, which resumes from the committed offsets).
fn forget_revoked(consumer: &StreamConsumer, instances: &mut HashMap<Partition, Instance>, name: &str) {
    let Ok(assignment) = consumer.assignment() else { return };
    let held: Vec<Partition> = assignment.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
    instances.retain(|partition, _| {
        let kept = held.contains(partition);
        if !kept {
            tracing::info!(job = name, partition = %format!("{}/{}", partition.0, partition.1), "partition revoked");
        }
        kept
    });
}
