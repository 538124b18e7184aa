//! The warehouse sink (SPEC §3.4 job 1, ClickHouseSink): events into `user_behaviors` and its
//! rollups. A batch is what one read returns (up to 1,000 events): under load that is 1,000,
//! when traffic is light it is whatever has arrived, so events reach the warehouse at once
//! rather than after a 5-second timer. Inserts skip event ids already stored, so a batch
//! replayed after a crash adds nothing twice.

use async_trait::async_trait;
use polyrec_core::Result;
use polyrec_storage::BusRecord;

use super::{Start, StreamJob};
use crate::App;

pub struct WarehouseSink;

#[async_trait]
impl StreamJob for WarehouseSink {
    fn name(&self) -> &'static str {
        "warehouse_sink"
    }

    fn start(&self, _: &App) -> Start {
        Start::Committed
    }

    async fn process(&mut self, app: &App, records: &[BusRecord]) -> Result<()> {
        let live = super::live(app, records).await?;
        let inserted = if live.len() == records.len() {
            app.warehouse.insert(records).await?
        } else {
            let live: Vec<BusRecord> = live.into_iter().cloned().collect();
            app.warehouse.insert(&live).await?
        };
        metrics::counter!("polyrec_warehouse_events_total").increment(inserted as u64);
        Ok(())
    }
}
