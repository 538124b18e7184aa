//! How far the stream jobs running in this process (and, on Kafka, the group's other members)
//! have processed the bus: what `/metrics`' lag and `wait_for_jobs` read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use polyrec_core::Result;

use super::App;

#[derive(Default)]
pub struct JobProgress {
    /// The last bus offset each job has fully processed, by job name (embedded log).
    offsets: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    /// On Kafka: per job and partition, the next offset whose effects are not all stored yet.
    partitions: RwLock<HashMap<(&'static str, String, i32), u64>>,
    /// On Kafka: the stream jobs this process runs as consumer-group members.
    local_jobs: RwLock<std::collections::HashSet<&'static str>>,
}

impl JobProgress {
    /// The shared progress counter of a job (created on first use).
    pub fn job_offset(&self, job: &'static str) -> Arc<AtomicU64> {
        self.offsets.write().entry(job).or_default().clone()
    }

    /// Records a Kafka job's progress on one partition.
    pub fn set_partition(&self, job: &'static str, topic: &str, partition: i32, next: u64) {
        self.partitions.write().insert((job, topic.to_owned(), partition), next);
    }

    /// Marks a job as run by this process.
    pub(crate) fn runs_here(&self, job: &'static str) {
        self.local_jobs.write().insert(job);
    }
}

impl App {
    /// How far each stream job running in this process is behind the bus, in events: the
    /// embedded log's end minus the job's offset, or on Kafka the sum over the partitions the
    /// job holds of their end minus its next offset. Jobs that do not run here are left out.
    pub async fn stream_lag(&self) -> Result<Vec<(&'static str, u64)>> {
        let progress = &self.progress;
        if let Some(log) = &self.stores.log {
            let end = log.end_offset().await?;
            let offsets = progress.offsets.read();
            return Ok(offsets.iter().map(|(job, at)| (*job, end.saturating_sub(at.load(Ordering::SeqCst)))).collect());
        }
        #[cfg(feature = "kafka")]
        if let Some(kafka) = &self.stores.kafka {
            let marks = kafka.end_offsets().await?;
            let partitions = progress.partitions.read();
            let mut lag: HashMap<&'static str, u64> = HashMap::new();
            for ((job, topic, partition), next) in partitions.iter() {
                let high = marks.iter().find(|(t, p, _)| t == topic && p == partition).map_or(0, |(_, _, high)| *high);
                *lag.entry(*job).or_default() += (high - *next as i64).max(0) as u64;
            }
            return Ok(lag.into_iter().collect());
        }
        Ok(Vec::new())
    }

    /// Waits until every job has processed everything on the bus when called, or `timeout`.
    /// Returns whether they caught up.
    pub async fn wait_for_jobs(&self, timeout: Duration) -> Result<bool> {
        self.wait_for(None, timeout).await
    }

    /// Waits until one job has processed everything on the bus when called, or `timeout`.
    pub async fn wait_for_job(&self, job: &'static str, timeout: Duration) -> Result<bool> {
        self.wait_for(Some(job), timeout).await
    }

    async fn wait_for(&self, job: Option<&'static str>, timeout: Duration) -> Result<bool> {
        let progress = &self.progress;
        if let Some(log) = &self.stores.log {
            let target = log.end_offset().await?;
            return Ok(wait_until(timeout, || {
                let offsets = progress.offsets.read();
                match job {
                    Some(job) => offsets.get(job).is_some_and(|o| o.load(Ordering::SeqCst) >= target),
                    None => !offsets.is_empty() && offsets.values().all(|o| o.load(Ordering::SeqCst) >= target),
                }
            })
            .await);
        }
        #[cfg(feature = "kafka")]
        if let Some(kafka) = &self.stores.kafka {
            // Every partition's end when called; a partition nobody has read yet counts as behind
            // unless it is empty.
            let marks = kafka.end_offsets().await?;
            let jobs: &[&'static str] = match &job {
                Some(job) => std::slice::from_ref(job),
                None => &crate::jobs::STREAM_JOBS,
            };
            let caught_up = |job: &'static str, progress: &dyn Fn(&String, i32) -> Option<i64>| {
                marks
                    .iter()
                    .all(|(topic, partition, high)| {
                        *high <= 0 || progress(topic, *partition).is_some_and(|next| next >= *high)
                    })
                    .then_some(job)
            };
            let deadline = tokio::time::Instant::now() + timeout;
            let partitions: Vec<(String, i32)> = marks.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
            let mut remaining: Vec<&'static str> = jobs.to_vec();
            let mut asked = tokio::time::Instant::now();
            loop {
                // The jobs this process runs say how far they are…
                remaining.retain(|job| {
                    let partitions = progress.partitions.read();
                    let ours = |topic: &String, partition: i32| {
                        partitions.get(&(*job, topic.clone(), partition)).map(|next| *next as i64)
                    };
                    caught_up(job, &ours).is_none()
                });
                if remaining.is_empty() {
                    return Ok(true);
                }
                // …and the group's committed offsets say it for the jobs other processes run
                // (a split deployment's worker), a few times a second.
                if asked.elapsed() >= Duration::from_millis(200) {
                    asked = tokio::time::Instant::now();
                    let mut still = Vec::new();
                    for job in remaining {
                        if progress.local_jobs.read().contains(job) {
                            still.push(job);
                            continue;
                        }
                        let committed = kafka.committed(job, &partitions).await.unwrap_or_default();
                        let theirs = |topic: &String, partition: i32| {
                            committed.iter().find(|((t, p), _)| t == topic && *p == partition).map(|(_, o)| *o)
                        };
                        if caught_up(job, &theirs).is_none() {
                            still.push(job);
                        }
                    }
                    remaining = still;
                    if remaining.is_empty() {
                        return Ok(true);
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    return Ok(false);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(true)
    }
}

/// Polls `done` every 10 ms until it holds (true) or `timeout` passes (false).
async fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}
