//! The warehouse sink (SPEC §3.4 job 1, ClickHouseSink): events into `user_behaviors` and its
//! rollups. Inserts skip event ids already stored, so a batch replayed after a crash adds nothing
//! twice.
//!
//! Batching (`storage.sink_batch_events`, `storage.sink_flush_ms`): with a flush interval the sink
//! holds events until it has a batch of that many or the oldest has waited that long — 40,000
//! events (SPEC's 1,000 made too many parts: docs/benchmarks.md) or SPEC's 5 s, the default on
//! ClickHouse, where every insert makes a part to merge. With
//! no interval (the default on the embedded warehouse) each read is inserted at once. The job's
//! committed offset stays below every held event, so a crash loses none of them.
//!
//! Each event is stored with its item's catalog category in `context.item_category` (the
//! category when the event was stored), which the warehouse's dimension rollup cuts by.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use polyrec_core::Result;
use polyrec_storage::{BusRecord, ITEM_CATEGORY};

use super::{Start, StreamJob};
use crate::App;

/// The job's name, and its consumer group's.
pub const NAME: &str = "warehouse_sink";

pub struct WarehouseSink {
    batch_events: usize,
    flush_after: Duration,
    held: Vec<BusRecord>,
    /// When the oldest held event was taken.
    held_since: Option<Instant>,
    /// The last offset taken; a batch the runner retries after a failure is not held twice.
    taken_through: u64,
}

impl WarehouseSink {
    pub fn new(app: &App) -> Self {
        let storage = &app.config.storage;
        Self {
            batch_events: storage.sink_batch_events(),
            flush_after: Duration::from_millis(storage.sink_flush_ms()),
            held: Vec::new(),
            held_since: None,
            taken_through: 0,
        }
    }

    async fn flush(&mut self, app: &App) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        // The scenarios are checked again at the insert, not only when the events were taken:
        // a scenario deleted while the sink held its events (up to `sink_flush_ms`) has had its
        // warehouse rows deleted, and inserting them now would bring them back.
        let live: Vec<BusRecord> = super::live(app, &self.held).await?.into_iter().cloned().collect();
        // The held events come from several reads: a poison one among them is isolated here,
        // where the insert fails, not by the runner (whose batch is only the latest read).
        let mut insert = Insert { app, inserted: 0 };
        let failed = super::dead_letters::isolate(&live, &mut insert).await?;
        super::dead_letters::record(app, self.name(), failed).await?;
        metrics::counter!("polyrec_warehouse_events_total").increment(insert.inserted as u64);
        // One sink per partition: the gauge is their sum.
        metrics::gauge!("polyrec_warehouse_sink_held_events").decrement(self.held.len() as f64);
        self.held.clear();
        self.held_since = None;
        Ok(())
    }

    fn due(&self) -> bool {
        self.held.len() >= self.batch_events || self.held_since.is_some_and(|since| since.elapsed() >= self.flush_after)
    }
}

impl Drop for WarehouseSink {
    /// A sink dropped with events held (its partition revoked, the process stopping) leaves
    /// them to whoever reads the partition next: they leave the gauge too.
    fn drop(&mut self) {
        metrics::gauge!("polyrec_warehouse_sink_held_events").decrement(self.held.len() as f64);
    }
}

/// The warehouse insert, as the dead-letter isolation applies it.
struct Insert<'a> {
    app: &'a App,
    inserted: usize,
}

#[async_trait]
impl super::dead_letters::Apply for Insert<'_> {
    async fn apply(&mut self, records: &[BusRecord]) -> Result<()> {
        self.inserted += self.app.stores.warehouse.insert(records).await?;
        Ok(())
    }
}

#[async_trait]
impl StreamJob for WarehouseSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self, _: &App) -> Start {
        Start::Committed
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let taken_through = self.taken_through;
        let live = super::live(app, records).await?;
        let fresh: Vec<&BusRecord> = live.into_iter().filter(|r| r.offset > taken_through).collect();
        let catalogs = super::catalogs(app, &fresh).await?;
        metrics::gauge!("polyrec_warehouse_sink_held_events").increment(fresh.len() as f64);
        self.held.extend(fresh.into_iter().map(|record| {
            let mut record = record.clone();
            let event = &record.event;
            let catalog = &catalogs[&(event.tenant_id.clone(), event.scenario_id.clone())];
            if let Some(category) = catalog.get(event.item_id.as_str()).and_then(|item| item.category()) {
                let category = serde_json::Value::from(category);
                record.event.context.get_or_insert_default().insert(ITEM_CATEGORY.to_owned(), category);
            }
            record
        }));
        self.taken_through = records.last().map_or(taken_through, |r| r.offset.max(taken_through));
        if !self.held.is_empty() && self.held_since.is_none() {
            self.held_since = Some(Instant::now());
        }
        if self.due() { self.flush(app).await } else { Ok(()) }
    }

    async fn on_idle(&mut self, app: &App) -> Result<()> {
        if self.due() { self.flush(app).await } else { Ok(()) }
    }

    fn visible_offset(&self, processed: u64) -> u64 {
        self.safe_offset(processed)
    }

    fn safe_offset(&self, processed: u64) -> u64 {
        match self.held.iter().map(|r| r.offset).min() {
            Some(oldest) => oldest - 1,
            None => processed,
        }
    }
}
