//! The job queue (the SPEC's task queue, the role Celery plays): training jobs and scheduled
//! work are records in the document store's `training_jobs`, and every process that runs the
//! queue (`polyrec worker`, with or without `--jobs training`, and the all-in-one `polyrec
//! serve`) claims them one at a time by compare-and-swap: the oldest job that is queued, or
//! running with its lease run out, becomes `running` under this process's instance id with one
//! attempt more. No two workers can win the same swap, so each claim runs once; see
//! [`super::training`] for the lease, the heartbeat and the retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polyrec_core::{JobRecord, JobState, Result, TenantId};
use tokio::sync::watch;

use super::training::{self, MAX_ATTEMPTS};
use crate::App;

/// How often an idle worker looks for jobs other processes enqueued (its own wake it at once).
const POLL: Duration = Duration::from_millis(500);

/// How many candidates one claim reads at a time (others may win the first ones).
const CANDIDATES: usize = 16;

/// The most pages of candidates one claim reads (each past the first skips at least one more
/// tenant at its cap; the next round goes on from the start).
const MAX_PAGES: usize = 64;

/// Runs the queue until `stopped`: claims a job whenever a training slot of this process
/// (`limits.max_concurrent_trainings`) is free, and runs it.
pub(super) async fn run(app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    loop {
        let permit = tokio::select! {
            permit = app.training_permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stopped.changed() => break,
        };
        match claim(&app).await {
            Ok(Some((tenant, job))) => {
                tracing::info!(tenant = %tenant, job = %job.job_id, kind = %job.kind, attempt = job.attempts, worker = %app.instance, "job claimed");
                let app = app.clone();
                tokio::spawn(async move {
                    training::run_claimed(app, tenant, job).await;
                    drop(permit);
                });
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not claim a job; will retry"),
        }
        drop(permit);
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = app.job_queued.notified() => {}
            _ = stopped.changed() => break,
        }
    }
}

/// Claims the oldest claimable job for this process, if there is one, of a tenant with fewer
/// than `limits.max_running_jobs_per_tenant` jobs running (in every process: their workers'
/// leases hold), so a tenant's queue of jobs — a schedule round of fifty scenarios, or its
/// every allowed job at once — takes one training slot at a time while other tenants' jobs wait
/// for none of them. A claim racing in another process may let a tenant past its cap by one.
pub async fn claim(app: &App) -> Result<Option<(TenantId, JobRecord)>> {
    let now = app.now_ms();
    let lease_before = now - training::lease_ms(app);
    let cap = app.config.limits.max_running_jobs_per_tenant as u64;
    // Whether each tenant met is at its cap. Each page of candidates either gives a claim or
    // finds one more tenant at its cap, so the pages are bounded by the jobs running everywhere.
    let mut at_cap: HashMap<TenantId, bool> = HashMap::new();
    for _ in 0..MAX_PAGES {
        let full: Vec<TenantId> = at_cap.iter().filter(|(_, full)| **full).map(|(tenant, _)| tenant.clone()).collect();
        let candidates = app.stores.documents.pending_jobs(lease_before, &full, CANDIDATES).await?;
        let last_page = candidates.len() < CANDIDATES;
        for (tenant, job) in candidates {
            // Past its attempts it is the reaper's to fail.
            if job.state == JobState::Running && job.attempts >= MAX_ATTEMPTS {
                continue;
            }
            if cap > 0 {
                let full = match at_cap.get(&tenant) {
                    Some(full) => *full,
                    None => {
                        let running = app.stores.documents.count_running_jobs(&tenant, lease_before).await?;
                        *at_cap.entry(tenant.clone()).or_insert(running >= cap)
                    }
                };
                if full {
                    continue;
                }
            }
            let mut claimed = job.clone();
            claimed.state = JobState::Running;
            claimed.attempts += 1;
            claimed.worker = Some(app.instance.clone());
            claimed.heartbeat_ms = now;
            claimed.started_ms.get_or_insert(now);
            claimed.stage = "starting".to_owned();
            claimed.revision += 1;
            if app.stores.documents.swap_job(&tenant, &claimed, Some(job.revision)).await? {
                return Ok(Some((tenant, claimed)));
            }
        }
        // Every candidate lost to another worker, or was past its attempts: wait for the next
        // round. Only tenants newly found at their cap make another page worth reading.
        let skipped = at_cap.values().filter(|full| **full).count() > full.len();
        if last_page || !skipped {
            return Ok(None);
        }
    }
    Ok(None)
}
