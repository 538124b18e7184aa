//! The job queue (the SPEC's task queue, the role Celery plays): training jobs and scheduled
//! work are records in the document store's `training_jobs`, and every process that runs the
//! queue (`polyrec worker`, with or without `--jobs training`, and the all-in-one `polyrec
//! serve`) claims them one at a time by compare-and-swap: the oldest job that is queued, or
//! running with its lease run out, becomes `running` under this process's instance id with one
//! attempt more. No two workers can win the same swap, so each claim runs once; see
//! [`super::training`] for the lease, the heartbeat and the retries.

use std::sync::Arc;
use std::time::Duration;

use polyrec_core::{JobRecord, JobState, Result, TenantId};
use tokio::sync::watch;

use super::training::{self, MAX_ATTEMPTS};
use crate::App;

/// How often an idle worker looks for jobs other processes enqueued (its own wake it at once).
const POLL: Duration = Duration::from_millis(500);

/// How many candidates one claim looks at (others may win the first ones).
const CANDIDATES: usize = 16;

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

/// Claims the oldest claimable job for this process, if there is one.
pub async fn claim(app: &App) -> Result<Option<(TenantId, JobRecord)>> {
    let now = app.now_ms();
    let candidates = app.stores.documents.pending_jobs(now - training::lease_ms(app), CANDIDATES).await?;
    for (tenant, job) in candidates {
        // Past its attempts it is the reaper's to fail.
        if job.state == JobState::Running && job.attempts >= MAX_ATTEMPTS {
            continue;
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
    Ok(None)
}
