//! The one stream-job runner, for both buses: each job is one consumer group on the bus's
//! [`StreamLog`] — on Kafka a group member subscribed to every `user-behaviors-*` topic (more
//! processes split the partitions), on the embedded log the one member of its one partition.
//!
//! A member runs one instance of the job per partition it holds, so every offset a job sees is
//! one partition's and its order is that partition's order, and each partition's records go
//! through the job unchanged:
//! - a batch is handed to the job, retried on failure, never skipped;
//! - the partition's offset is committed only after the job's sink acknowledged (its
//!   `safe_offset`), so a crash replays, and the sinks' idempotence makes the replay harmless;
//! - jobs with volatile state (hot score, metrics: `Start::ReceivedSince`) rebuild it when they are
//!   given a partition, by reading the partition from that time up to where the group stands.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyrec_storage::{BusRecord, Partition, StreamLog, Subscription};
use tokio::sync::watch;

use super::{BATCH, IDLE_TICK, Start, StreamJob};
use crate::App;

/// Builds the job instance for one partition, named by its source (`topic/partition`).
pub type JobFactory = fn(&App, &str) -> Box<dyn StreamJob>;

struct Instance {
    job: Box<dyn StreamJob>,
    /// The last record offset handed to the job.
    processed: u64,
    /// The last offset committed for the partition.
    committed: u64,
    /// The idle step's failures, which repeat at every tick while a store is down.
    idle_failures: Repeating,
}

/// How often a failure that repeats at every idle tick is logged again.
const LOG_REPEAT_EVERY: Duration = Duration::from_secs(30);

/// When to log a failure that repeats at every idle tick (a store down: five times a second for
/// each partition's instance of each job): the first one, then at most one every
/// [`LOG_REPEAT_EVERY`] with the number left out, and the end of the run. Written here because
/// it is a counter and a time, not worth a crate.
#[derive(Default)]
pub(super) struct Repeating {
    last_logged: Option<Instant>,
    left_out: u64,
}

impl Repeating {
    /// A failure at `now`: `Some(failures left out since the last line)` when it is to be logged.
    pub(super) fn failed(&mut self, now: Instant) -> Option<u64> {
        match self.last_logged {
            Some(at) if now.duration_since(at) < LOG_REPEAT_EVERY => {
                self.left_out += 1;
                None
            }
            _ => {
                self.last_logged = Some(now);
                Some(std::mem::take(&mut self.left_out))
            }
        }
    }

    /// A success: whether it ends a run of failures.
    pub(super) fn succeeded(&mut self) -> bool {
        std::mem::take(self).last_logged.is_some()
    }
}

/// Runs one job as a member of its consumer group until `stopped`.
pub async fn run(
    app: Arc<App>,
    log: Arc<dyn StreamLog>,
    name: &'static str,
    factory: JobFactory,
    mut stopped: watch::Receiver<bool>,
) {
    // Where a group that has committed nothing starts (embedded log): what the job's state needs.
    let fresh_since = match factory(&app, "").start(&app) {
        Start::ReceivedSince(ms) => Some(ms),
        Start::Committed => None,
    };
    let mut subscription = loop {
        match log.clone().subscribe(name, fresh_since).await {
            Ok(subscription) => break subscription,
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
    for ((topic, partition), offset) in subscription.positions() {
        app.progress.set_partition(name, &topic, partition, offset);
    }
    let mut instances: HashMap<Partition, Instance> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    while !*stopped.borrow() {
        let batch = tokio::select! {
            batch = subscription.next_batch(BATCH, IDLE_TICK) => batch,
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
        let held = subscription.assignment();
        forget_revoked(held.as_deref(), &mut instances, name);
        // Caught up (less than a full batch was waiting): windows and flushes advance now.
        let idle = batch.iter().map(|(_, records)| records.len()).sum::<usize>() < BATCH;
        for (partition, records) in still_held(batch, held.as_deref(), name) {
            let instance = match instances.get_mut(&partition) {
                Some(instance) => instance,
                None => {
                    let first = records.first().map_or(0, |r| r.offset - 1);
                    let started = start_instance(&app, log.as_ref(), &factory, &partition, first, &mut stopped);
                    let Some(instance) = started.await else { break };
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
                break;
            }
            instance.processed = last;
        }
        backoff = Duration::from_millis(100);
        if idle {
            for instance in instances.values_mut() {
                match instance.job.on_idle(&app).await {
                    Err(error) => {
                        if let Some(left_out) = instance.idle_failures.failed(Instant::now()) {
                            tracing::error!(job = name, %error, left_out, "stream job idle step failed");
                        }
                    }
                    Ok(()) => {
                        if instance.idle_failures.succeeded() {
                            tracing::info!(job = name, "stream job idle step works again");
                        }
                    }
                }
            }
        }
        commit(&app, subscription.as_mut(), &mut instances, name).await;
    }
    commit(&app, subscription.as_mut(), &mut instances, name).await;
    subscription.close().await;
    tracing::info!(job = name, "stream job left its consumer group");
}

/// A new instance for a partition this member was just given. A job with volatile state first
/// replays the partition from its start time up to `until` (the record before the first the
/// group hands over now).
async fn start_instance(
    app: &App,
    log: &dyn StreamLog,
    factory: &JobFactory,
    partition: &Partition,
    until: u64,
    stopped: &mut watch::Receiver<bool>,
) -> Option<Instance> {
    let source = format!("{}/{}", partition.0, partition.1);
    let mut instance = Instance {
        job: factory(app, &source),
        processed: until,
        committed: until,
        idle_failures: Repeating::default(),
    };
    instance.job.replays_through(until);
    let name = instance.job.name();
    let Start::ReceivedSince(since_ms) = instance.job.start(app) else {
        tracing::info!(job = name, partition = %source, offset = until, "partition assigned");
        return Some(instance);
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        match log.replay(partition, since_ms, until).await {
            Ok(records) => {
                tracing::info!(job = name, partition = %source, replayed = records.len(), offset = until,
                    "partition assigned; volatile state rebuilt");
                instance.processed = 0;
                for chunk in records.chunks(BATCH) {
                    if !process(app, &mut instance, chunk, name, stopped).await {
                        return None;
                    }
                    instance.processed = chunk.last().map_or(0, |r| r.offset);
                }
                instance.processed = instance.processed.max(until);
                return Some(instance);
            }
            Err(error) => {
                tracing::error!(job = name, partition = %source, %error, "replay failed; retrying");
                if !back_off(&mut backoff, stopped).await {
                    return None;
                }
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
                if !back_off(&mut backoff, stopped).await {
                    return false;
                }
            }
        }
    }
}

/// Waits `backoff` (doubled for next time, up to 5 s); false if the process is stopping.
async fn back_off(backoff: &mut Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(*backoff) => {}
        _ = stopped.changed() => return false,
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(5));
    true
}

/// Commits each partition's safe offset (what the job's sink has acknowledged) and records the
/// job's progress for `App::wait_for_jobs`.
async fn commit(
    app: &App,
    subscription: &mut dyn Subscription,
    instances: &mut HashMap<Partition, Instance>,
    name: &'static str,
) {
    let mut safe_offsets = Vec::new();
    for ((topic, partition), instance) in instances.iter() {
        let safe = instance.job.safe_offset(instance.processed);
        if safe > instance.committed {
            safe_offsets.push(((topic.clone(), *partition), safe));
        }
        app.progress.set_partition(name, topic, *partition, instance.job.visible_offset(instance.processed));
    }
    if safe_offsets.is_empty() {
        return;
    }
    match subscription.commit(&safe_offsets).await {
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

/// The batch's records of the partitions this member still holds. A batch fetched across a
/// rebalance can carry records of a partition given to another member meanwhile; that member
/// reads them from the committed offset, so applying them here too — a warehouse sink holding
/// them for its next insert — would store them twice.
fn still_held(
    batch: Vec<(Partition, Vec<BusRecord>)>,
    held: Option<&[Partition]>,
    name: &str,
) -> Vec<(Partition, Vec<BusRecord>)> {
    let Some(held) = held else { return batch };
    batch
        .into_iter()
        .filter(|(partition, records)| {
            let kept = held.contains(partition);
            if !kept {
                tracing::info!(job = name, partition = %format!("{}/{}", partition.0, partition.1), records = records.len(),
                    "records of a revoked partition left to its new member");
            }
            kept
        })
        .collect()
}

/// Drops the instances of partitions this member no longer holds (a rebalance gave them to
/// another member, which resumes from the committed offsets).
fn forget_revoked(held: Option<&[Partition]>, instances: &mut HashMap<Partition, Instance>, name: &str) {
    let Some(held) = held else { return };
    instances.retain(|partition, _| {
        let kept = held.contains(partition);
        if !kept {
            tracing::info!(job = name, partition = %format!("{}/{}", partition.0, partition.1), "partition revoked");
        }
        kept
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: u64) -> BusRecord {
        crate::jobs::dead_letters::tests::record(offset, 1.0)
    }

    #[test]
    fn a_failure_at_every_tick_is_logged_every_30_seconds_with_the_count_left_out() {
        let (mut repeating, start) = (Repeating::default(), Instant::now());
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(repeating.failed(at(0)), Some(0), "the first is logged");
        // Five a second for a minute.
        let logged: Vec<(u64, u64)> =
            (1..=300).filter_map(|tick| repeating.failed(at(tick * 200)).map(|n| (tick * 200, n))).collect();
        assert_eq!(logged, [(30_000, 149), (60_000, 149)]);
        assert!(repeating.succeeded(), "the end of the run is told");
        assert!(!repeating.succeeded(), "once");
        assert_eq!(repeating.failed(at(60_200)), Some(0), "a new run is logged at once");
    }

    #[test]
    fn records_of_a_partition_revoked_while_the_batch_was_fetched_are_left_alone() {
        let (a, b) = (("topic".to_owned(), 0), ("topic".to_owned(), 1));
        let batch = vec![(a.clone(), vec![record(1), record(2)]), (b.clone(), vec![record(7)])];
        // A rebalance during the fetch gave partition 1 to another member.
        let kept = still_held(batch.clone(), Some(std::slice::from_ref(&a)), "warehouse_sink");
        assert_eq!(kept.iter().map(|(p, r)| (p.1, r.len())).collect::<Vec<_>>(), [(0, 2)]);
        // A member that cannot tell what it holds keeps everything.
        assert_eq!(still_held(batch, None, "warehouse_sink").len(), 2);
    }
}
