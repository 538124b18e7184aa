//! How far the stream jobs have processed the bus, per job and partition: what `/metrics`' lag
//! and `wait_for_jobs` read. The jobs this process runs report their progress here; for the
//! others (a split deployment's worker), their groups' committed offsets say it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use parking_lot::RwLock;
use polyrec_core::Result;
use polyrec_storage::Partition;

use super::App;

#[derive(Default)]
pub struct JobProgress {
    /// Per job and partition, the last record offset whose effects are visible.
    partitions: RwLock<HashMap<(&'static str, Partition), u64>>,
    /// The stream jobs this process runs.
    local_jobs: RwLock<HashSet<&'static str>>,
}

impl JobProgress {
    /// Records a job's progress on one partition.
    pub fn set_partition(&self, job: &'static str, topic: &str, partition: i32, offset: u64) {
        self.partitions.write().insert((job, (topic.to_owned(), partition)), offset);
    }

    /// Marks a job as run by this process.
    pub(crate) fn runs_here(&self, job: &'static str) {
        self.local_jobs.write().insert(job);
    }

    fn local(&self, job: &'static str, partition: &Partition) -> Option<u64> {
        self.partitions.read().get(&(job, partition.clone())).copied()
    }
}

impl App {
    /// How far each stream job running in this process is behind the bus, in events: the sum
    /// over the partitions the job holds of their end minus its offset.
    pub async fn stream_lag(&self) -> Result<Vec<(&'static str, u64)>> {
        let ends = self.stores.stream.end_offsets().await?;
        let partitions = self.progress.partitions.read();
        let mut lag: HashMap<&'static str, u64> = HashMap::new();
        for ((job, partition), offset) in partitions.iter() {
            let end = ends.iter().find(|(p, _)| p == partition).map_or(0, |(_, end)| *end);
            *lag.entry(*job).or_default() += end.saturating_sub(*offset);
        }
        Ok(lag.into_iter().collect())
    }

    /// Waits until every job has processed everything on the bus when called, or `timeout`.
    /// Returns whether they caught up.
    pub async fn wait_for_jobs(&self, timeout: Duration) -> Result<bool> {
        self.wait_for(&crate::jobs::STREAM_JOBS, timeout).await
    }

    /// Waits until one job has processed everything on the bus when called, or `timeout`.
    pub async fn wait_for_job(&self, job: &'static str, timeout: Duration) -> Result<bool> {
        self.wait_for(&[job], timeout).await
    }

    async fn wait_for(&self, jobs: &[&'static str], timeout: Duration) -> Result<bool> {
        let stream = &self.stores.stream;
        // Every partition's end when called; an empty partition is caught up by everyone.
        let ends: Vec<(Partition, u64)> = stream.end_offsets().await?.into_iter().filter(|(_, end)| *end > 0).collect();
        let partitions: Vec<Partition> = ends.iter().map(|(p, _)| p.clone()).collect();
        let caught_up = |at: &dyn Fn(&Partition) -> Option<u64>| {
            ends.iter().all(|(partition, end)| at(partition).is_some_and(|offset| offset >= *end))
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut remaining: Vec<&'static str> = jobs.to_vec();
        let mut asked = tokio::time::Instant::now();
        loop {
            // The jobs this process runs say how far they are…
            remaining.retain(|job| !caught_up(&|partition| self.progress.local(job, partition)));
            if remaining.is_empty() {
                return Ok(true);
            }
            // …and the group's committed offsets say it for the jobs other processes run (a split
            // deployment's worker), a few times a second.
            if asked.elapsed() >= Duration::from_millis(200) {
                asked = tokio::time::Instant::now();
                let mut still = Vec::new();
                for job in remaining {
                    if self.progress.local_jobs.read().contains(job) {
                        still.push(job);
                        continue;
                    }
                    let committed = stream.group_offsets(job, &partitions).await.unwrap_or_default();
                    let theirs =
                        |partition: &Partition| committed.iter().find(|(p, _)| p == partition).map(|(_, o)| *o);
                    if !caught_up(&theirs) {
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
}
