//! Poison isolation: a batch a stream job fails on is split until the events that make it fail
//! are alone; those go to the tenant's dead letters and the job moves on. So no event of one
//! tenant can stop a job for the others.
//!
//! What is poison and what is a backend failure is told by the error's kind:
//! [`Error::Unavailable`] (a store down, a timeout, a busy database) is the backend's and is
//! retried — the whole batch, with backoff, for as long as it takes — and never dead-lettered;
//! every other error is about the records and is isolated by splitting. Events that break a
//! bound the edge enforces ([`Event::check_applicable`]: a value that is not finite or out of
//! range) are dead-lettered before the job sees them, since the bus may hold events accepted
//! before the bound existed or written by another producer.
//!
//! For every job, events applied + dead-lettered = events on the bus: an event leaves the
//! runner's hands only through the job or through [`record`], and [`record`] is durable before
//! the job's offset moves past it.

use polyrec_core::Code;
use std::borrow::Cow;

use async_trait::async_trait;
use polyrec_core::{DeadLetter, Error, Result};
use polyrec_storage::BusRecord;

use crate::App;

/// Whether an error is a backend's (retry the batch) rather than the data's (isolate it).
pub(crate) fn is_backend_failure(error: &Error) -> bool {
    matches!(error, Error::Unavailable { .. })
}

/// What [`isolate`] applies to a batch and its parts.
#[async_trait]
pub(crate) trait Apply: Send {
    async fn apply(&mut self, records: &[BusRecord]) -> Result<()>;
}

/// A stream job's `process`, as [`isolate`] applies it.
pub(crate) struct Process<'a> {
    pub app: &'a App,
    pub job: &'a mut dyn super::StreamJob,
}

#[async_trait]
impl Apply for Process<'_> {
    async fn apply(&mut self, records: &[BusRecord]) -> Result<()> {
        self.job.process(self.app, records).await
    }
}

/// Applies `apply` to `records`; when it fails on the data, applies it to each half, and so on
/// down to single records, always in offset order. Returns the records it could not apply,
/// with their errors; a backend failure is returned as an error for the caller to retry the
/// whole (`apply` must be idempotent, as every job's effects are). With `k` poison records
/// among `n`, `apply` runs about `2k·log2(n)` times.
pub(crate) async fn isolate(records: &[BusRecord], apply: &mut dyn Apply) -> Result<Vec<(BusRecord, Error)>> {
    let mut failed = Vec::new();
    // Ranges still to apply, the next on top: a failed range is replaced by its two halves.
    let mut pending = Vec::with_capacity(64);
    pending.push(0..records.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        match apply.apply(&records[range.clone()]).await {
            Ok(()) => {}
            Err(error) if is_backend_failure(&error) => return Err(error),
            Err(error) if range.len() == 1 => failed.push((records[range.start].clone(), error)),
            Err(_) => {
                let middle = range.start + range.len() / 2;
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
        }
    }
    Ok(failed)
}

/// Splits off the records no job may apply ([`polyrec_core::Event::check_applicable`]), and
/// those that are replays for another job (skipped: that job already applied them). The usual
/// batch has neither, and is handed on as it is, uncopied.
pub(crate) fn screen<'r>(job: &str, records: &'r [BusRecord]) -> (Cow<'r, [BusRecord]>, Vec<(BusRecord, Error)>) {
    let clean = |record: &BusRecord| record.event.is_for(job) && record.event.check_applicable().is_ok();
    if records.iter().all(clean) {
        return (Cow::Borrowed(records), Vec::new());
    }
    let mut fit = Vec::with_capacity(records.len());
    let mut poison = Vec::new();
    for record in records.iter().filter(|record| record.event.is_for(job)) {
        match record.event.check_applicable() {
            Ok(()) => fit.push(record.clone()),
            Err(reason) => poison.push((record.clone(), Error::invalid(Code::InvalidEvent, reason))),
        }
    }
    (Cow::Owned(fit), poison)
}

/// Stores the dead letters of `job` (durably, before the job's offset moves past them) and
/// counts them in `polyrec_dead_letters_total{job}`.
pub(crate) async fn record(app: &App, job: &'static str, failed: Vec<(BusRecord, Error)>) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    let now = app.now_ms();
    let letters: Vec<DeadLetter> = failed
        .into_iter()
        .map(|(record, error)| DeadLetter::new(job, record.offset, record.event, error, now))
        .collect();
    match app.stores.documents.put_dead_letters(&letters).await {
        // A letter its store cannot hold — a context key with a NUL, which MongoDB cannot keep
        // and the edge refuses now, on an event from before or from another producer — is kept
        // with its keys made storable, rather than holding the job for every tenant.
        Err(error) if !is_backend_failure(&error) => {
            tracing::warn!(job, %error, "dead letters kept with the NUL characters of their keys replaced");
            let letters: Vec<DeadLetter> = letters.iter().cloned().map(storable).collect();
            app.stores.documents.put_dead_letters(&letters).await?;
        }
        stored => stored?,
    }
    // One line per batch, not per event: a tenant sending a million poison events must not
    // flood the log everyone shares. The letters themselves say which and why.
    let first = &letters[0];
    tracing::warn!(job, count = letters.len(), tenant = %first.tenant_id, event_id = %first.event.event_id,
        error = %first.error, "events dead-lettered (the first shown)");
    metrics::counter!("polyrec_dead_letters_total", "job" => job).increment(letters.len() as u64);
    Ok(())
}

/// The letter with every NUL in its event's context keys, however deep, replaced by U+FFFD.
fn storable(mut letter: DeadLetter) -> DeadLetter {
    fn keys(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                map.into_iter().map(|(key, value)| (key.replace('\0', "\u{fffd}"), keys(value))).collect()
            }
            serde_json::Value::Array(values) => values.into_iter().map(keys).collect(),
            other => other,
        }
    }
    if let Some(context) = letter.event.context.take()
        && let serde_json::Value::Object(context) = keys(serde_json::Value::Object(context))
    {
        letter.event.context = Some(context);
    }
    letter
}

#[cfg(test)]
pub(crate) mod tests {
    use polyrec_core::{Event, EventType, ItemId, ScenarioId, TenantId, UserId};

    use super::*;

    /// A play of one tenant's one item at offset `offset` with `value`.
    pub(crate) fn record(offset: u64, value: f64) -> BusRecord {
        BusRecord {
            offset,
            event: Event {
                event_id: format!("e{offset}"),
                tenant_id: TenantId::parse("t").unwrap(),
                scenario_id: ScenarioId::parse("s").unwrap(),
                user_id: UserId::parse("u").unwrap(),
                item_id: ItemId::parse("i").unwrap(),
                event_type: EventType::Play,
                timestamp_ms: 1,
                received_ms: 1,
                scenario_incarnation: 0,
                request_id: None,
                value: Some(value),
                context: None,
                replay_for: None,
            },
        }
    }

    /// A sink that fails on any batch holding a negative value, and remembers what it applied.
    struct Sink {
        down: bool,
        applied: Vec<u64>,
        calls: usize,
    }

    #[async_trait]
    impl Apply for Sink {
        async fn apply(&mut self, batch: &[BusRecord]) -> Result<()> {
            self.calls += 1;
            if self.down {
                Err(Error::unavailable("the store is down"))
            } else if batch.iter().any(|r| r.event.value.unwrap() < 0.0) {
                Err(Error::internal("NOT NULL constraint failed"))
            } else {
                self.applied.extend(batch.iter().map(|r| r.offset));
                Ok(())
            }
        }
    }

    async fn run(records: &[BusRecord], down: bool) -> (Result<Vec<u64>>, Vec<u64>, usize) {
        let mut sink = Sink { down, applied: Vec::new(), calls: 0 };
        let failed = isolate(records, &mut sink).await.map(|f| f.into_iter().map(|(r, _)| r.offset).collect());
        let (applied, calls) = (sink.applied, sink.calls);
        (failed, applied, calls)
    }

    #[tokio::test]
    async fn the_poison_records_are_found_and_the_rest_applied_in_order() {
        let records: Vec<BusRecord> =
            (1..=100).map(|offset| record(offset, if [7, 8, 63].contains(&offset) { -1.0 } else { 1.0 })).collect();
        let (failed, applied, calls) = run(&records, false).await;
        assert_eq!(failed.unwrap(), vec![7, 8, 63]);
        let expected: Vec<u64> = (1..=100).filter(|o| ![7, 8, 63].contains(o)).collect();
        assert_eq!(applied, expected, "applied + dead-lettered = every record, in offset order");
        assert!(calls < 45, "isolating 3 of 100 took {calls} calls");
    }

    #[tokio::test]
    async fn a_clean_batch_is_applied_in_one_call() {
        let records: Vec<BusRecord> = (1..=10).map(|offset| record(offset, 1.0)).collect();
        let (failed, applied, calls) = run(&records, false).await;
        assert!(failed.unwrap().is_empty());
        assert_eq!((applied.len(), calls), (10, 1));
    }

    #[tokio::test]
    async fn a_backend_failure_is_not_poison() {
        let records: Vec<BusRecord> = (1..=10).map(|offset| record(offset, 1.0)).collect();
        let (failed, applied, calls) = run(&records, true).await;
        assert!(matches!(failed, Err(Error::Unavailable { .. })), "the batch is retried, nothing dead-lettered");
        assert!(applied.is_empty());
        assert_eq!(calls, 1, "no splitting on a backend failure");
    }

    #[test]
    fn screening_refuses_unbounded_values_and_skips_replays_for_other_jobs() {
        let mut replay = record(3, 1.0);
        replay.event.replay_for = Some("warehouse_sink".into());
        let records = vec![record(1, 1.7e308), record(2, 1.0), replay, record(4, f64::NAN)];
        let (fit, poison) = screen("item_hot_score", &records);
        assert_eq!(fit.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![2]);
        assert_eq!(poison.iter().map(|(r, _)| r.offset).collect::<Vec<_>>(), vec![1, 4]);
        let (fit, _) = screen("warehouse_sink", &records);
        assert_eq!(fit.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![2, 3]);
    }
}
