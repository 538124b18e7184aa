//! The event warehouse on SQLite: `user_behaviors` holds every event once (keyed by event id, so
//! a replayed batch inserts nothing twice), and the rollup tables play ClickHouse's materialized
//! views: they are updated in the same transaction as the raw rows, only for rows that were new.
//!
//! `user_sequences` is the embedded warehouse's own rollup: per (scenario, quarter hour, user) the
//! (time, type) pairs of the user's events packed in blobs, 5 bytes an event, so a funnel over 10
//! million events reads tens of megabytes in one ordered scan instead of 10 million rows. A blob
//! grows to about 1 KB, then a new part starts, so appending never rewrites much.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, HOUR_MS, MINUTE_MS};
use polyrec_core::{Error, Event, EventType, Result, ScenarioId, TenantId};
use rusqlite::{OptionalExtension, params};

use super::{Db, Role, open, sql};
use crate::{BehaviorRow, BusRecord, Dimension, GroupTotals, HourlyRow, Interaction, Warehouse};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS user_behaviors (
    event_id     TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    scenario_id  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    received_ms  INTEGER NOT NULL,
    value        REAL,
    request_id   TEXT,
    context      TEXT,
    bus_offset   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS behaviors_by_scenario_time ON user_behaviors (tenant_id, scenario_id, timestamp_ms);
CREATE TABLE IF NOT EXISTS metrics_hourly (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    hour_ms     INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    events      INTEGER NOT NULL,
    value_sum   REAL NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, hour_ms, event_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_stats_daily (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    day_ms      INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    events      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, item_id, day_ms, event_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics_hourly_dims (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    dimension   TEXT NOT NULL,
    hour_ms     INTEGER NOT NULL,
    dim_value   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    events      INTEGER NOT NULL,
    value_sum   REAL NOT NULL,
    PRIMARY KEY (tenant_id, dimension, scenario_id, hour_ms, dim_value, event_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_sequences (
    tenant_id   TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    bucket_ms   INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    part        INTEGER NOT NULL,
    seq         BLOB NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, bucket_ms, user_id, part)
) WITHOUT ROWID;
";

/// One event in a `user_sequences` blob: the ms since the bucket's start (u32 LE), then the
/// event type's index in `EventType::ALL`.
const SEQ_BYTES: usize = 5;
/// The time span of one `user_sequences` row.
const SEQ_BUCKET_MS: i64 = 15 * MINUTE_MS;
/// A part of a row is appended to until it holds about this many bytes.
const SEQ_PART_BYTES: usize = 1_000;

fn type_code(kind: EventType) -> u8 {
    EventType::ALL.iter().position(|k| *k == kind).expect("every type is in ALL") as u8
}

pub struct SqliteWarehouse {
    writer: Db,
    reader: Db,
}

impl SqliteWarehouse {
    pub fn open(path: &Path) -> Result<Self> {
        let writer = open(path, Role::Writer)?;
        writer.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Self { writer: Db::new(writer), reader: Db::readers(path)? })
    }
}

/// The interest weight of each event type as a SQL expression, from the one definition in
/// `EventType::interest_weight`.
fn weight_case() -> String {
    let arms: String =
        EventType::ALL.iter().map(|t| format!(" WHEN '{}' THEN {:?}", t.as_str(), t.interest_weight())).collect();
    format!("CASE event_type{arms} ELSE 0 END")
}

#[async_trait]
impl Warehouse for SqliteWarehouse {
    async fn insert(&self, records: &[BusRecord]) -> Result<usize> {
        let records = records.to_vec();
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let mut rollups = Rollups::default();
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO user_behaviors
                             (event_id, tenant_id, scenario_id, user_id, item_id, event_type, timestamp_ms,
                              received_ms, value, request_id, context, bus_offset)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        )
                        .map_err(sql)?;
                    for record in &records {
                        let e = &record.event;
                        let context = e.context.as_ref().map(|c| serde_json::Value::Object(c.clone()).to_string());
                        let new = insert
                            .execute(params![
                                e.event_id,
                                e.tenant_id.as_str(),
                                e.scenario_id.as_str(),
                                e.user_id.as_str(),
                                e.item_id.as_str(),
                                e.event_type.as_str(),
                                e.timestamp_ms,
                                e.received_ms,
                                e.value,
                                e.request_id,
                                context,
                                record.offset as i64
                            ])
                            .map_err(sql)?;
                        if new > 0 {
                            rollups.add(e);
                        }
                    }
                }
                let inserted = rollups.events;
                rollups.write(&tx)?;
                tx.commit().map_err(sql)?;
                Ok(inserted)
            })
            .await
    }

    async fn count(&self, tenant: &TenantId, scenario: Option<&ScenarioId>) -> Result<u64> {
        let (tenant, scenario) = (tenant.to_string(), scenario.map(ToString::to_string));
        self.reader
            .call(move |conn| {
                let n: i64 = match scenario {
                    Some(scenario) => conn.query_row(
                        "SELECT COALESCE(SUM(events), 0) FROM metrics_hourly WHERE tenant_id = ?1 AND scenario_id = ?2",
                        params![tenant, scenario],
                        |row| row.get(0),
                    ),
                    None => conn.query_row(
                        "SELECT COALESCE(SUM(events), 0) FROM metrics_hourly WHERE tenant_id = ?1",
                        params![tenant],
                        |row| row.get(0),
                    ),
                }
                .map_err(sql)?;
                Ok(n as u64)
            })
            .await
    }

    async fn interactions(&self, tenant: &TenantId, scenario: &ScenarioId, since_ms: i64) -> Result<Vec<Interaction>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.to_string());
        let query = format!(
            "SELECT user_id, item_id, SUM({}) AS w, MAX(timestamp_ms) FROM user_behaviors
             WHERE tenant_id = ?1 AND scenario_id = ?2 AND timestamp_ms >= ?3 AND event_type != 'impression'
             GROUP BY user_id, item_id",
            weight_case()
        );
        self.reader
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&query).map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, scenario, since_ms], |row| {
                        Ok(Interaction {
                            user_id: row.get(0)?,
                            item_id: row.get(1)?,
                            weight: row.get(2)?,
                            last_ms: row.get(3)?,
                        })
                    })
                    .map_err(sql)?;
                rows.map(|r| r.map_err(sql)).collect()
            })
            .await
    }

    async fn behaviors(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        since_ms: i64,
        types: &[EventType],
        limit: usize,
    ) -> Result<Vec<BehaviorRow>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.to_string());
        let types: Vec<String> = types.iter().map(|t| format!("'{}'", t.as_str())).collect();
        // The latest `limit`, returned oldest first.
        let query = format!(
            "SELECT user_id, item_id, event_type, timestamp_ms, value, request_id, context FROM (
                 SELECT * FROM user_behaviors
                 WHERE tenant_id = ?1 AND scenario_id = ?2 AND timestamp_ms >= ?3 AND event_type IN ({})
                 ORDER BY timestamp_ms DESC, event_id DESC LIMIT ?4
             ) ORDER BY timestamp_ms, event_id",
            types.join(", ")
        );
        self.reader
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&query).map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, scenario, since_ms, limit as i64], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, i64>(3)?,
                            row.get::<_, Option<f64>>(4)?,
                            row.get::<_, Option<String>>(5)?,
                            row.get::<_, Option<String>>(6)?,
                        ))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (user_id, item_id, event_type, timestamp_ms, value, request_id, context) = row.map_err(sql)?;
                    Ok(BehaviorRow {
                        user_id,
                        item_id,
                        event_type: EventType::parse(&event_type)
                            .ok_or_else(|| Error::internal(format!("stored event type {event_type:?}")))?,
                        timestamp_ms,
                        value,
                        request_id,
                        context: crate::parse_context(context.as_deref())?,
                    })
                })
                .collect()
            })
            .await
    }

    async fn funnel(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        steps: &[EventType],
        window_ms: i64,
        span: std::ops::Range<i64>,
    ) -> Result<Vec<u64>> {
        let (tenant, scenario, steps) = (tenant.to_string(), scenario.to_string(), steps.to_vec());
        self.reader
            .call(move |conn| {
                let mut wanted = [false; 256];
                for kind in &steps {
                    wanted[type_code(*kind) as usize] = true;
                }
                // Buckets in order (the key's order), so each user's events arrive bucket by bucket.
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT user_id, bucket_ms, seq FROM user_sequences
                         WHERE tenant_id = ?1 AND scenario_id = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
                         ORDER BY bucket_ms, user_id, part",
                    )
                    .map_err(sql)?;
                let first_bucket = span.start - span.start.rem_euclid(SEQ_BUCKET_MS);
                let mut rows = stmt.query(params![tenant, scenario, first_bucket, span.end]).map_err(sql)?;
                let mut by_user: rustc_hash::FxHashMap<String, Vec<(i64, u8)>> = Default::default();
                while let Some(row) = rows.next().map_err(sql)? {
                    let bucket: i64 = row.get(1).map_err(sql)?;
                    let seq = row
                        .get_ref(2)
                        .map_err(sql)?
                        .as_blob()
                        .map_err(|e| Error::internal(format!("stored sequence: {e}")))?;
                    let mut events = Vec::new();
                    for packed in seq.chunks_exact(SEQ_BYTES) {
                        let at = bucket + i64::from(u32::from_le_bytes([packed[0], packed[1], packed[2], packed[3]]));
                        if wanted[packed[4] as usize] && span.contains(&at) {
                            events.push((at, packed[4]));
                        }
                    }
                    if events.is_empty() {
                        continue;
                    }
                    let user = row
                        .get_ref(0)
                        .map_err(sql)?
                        .as_str()
                        .map_err(|e| Error::internal(format!("stored user id: {e}")))?;
                    match by_user.get_mut(user) {
                        Some(list) => list.extend(events),
                        None => {
                            by_user.insert(user.to_owned(), events);
                        }
                    }
                }
                let mut reached = vec![0u64; steps.len()];
                for events in by_user.values_mut() {
                    // Rows hold events in arrival order, buckets come in time order: a stable
                    // sort by time (near-linear on such runs) leaves ties in arrival order.
                    events.sort_by_key(|(at, _)| *at);
                    let depth = crate::funnel_depth(
                        events.iter().map(|(at, code)| (*at, EventType::ALL[*code as usize])),
                        &steps,
                        window_ms,
                    );
                    crate::count_depth(&mut reached, depth, 1);
                }
                Ok(reached)
            })
            .await
    }

    async fn experiment_totals(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        experiment: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<GroupTotals>> {
        let (tenant, scenario, experiment) = (tenant.to_string(), scenario.to_string(), experiment.to_owned());
        self.reader
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT json_extract(context, '$.group') AS g, COUNT(DISTINCT user_id),
                                SUM(event_type = 'impression'), SUM(event_type = 'click'), SUM(event_type = 'order'),
                                SUM(event_type IN ('play', 'view') AND value IS NOT NULL),
                                TOTAL(CASE WHEN event_type IN ('play', 'view') THEN value END),
                                TOTAL(CASE WHEN event_type IN ('play', 'view') THEN value * value END),
                                TOTAL(CASE WHEN event_type = 'order' THEN value END)
                         FROM user_behaviors
                         WHERE tenant_id = ?1 AND scenario_id = ?2 AND timestamp_ms >= ?3 AND timestamp_ms < ?4
                           AND json_extract(context, '$.experiment_id') = ?5 AND g IS NOT NULL
                         GROUP BY g ORDER BY g",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, scenario, since_ms, until_ms, experiment], |row| {
                        Ok(GroupTotals {
                            group: row.get(0)?,
                            users: row.get::<_, i64>(1)? as u64,
                            impressions: row.get::<_, i64>(2)? as u64,
                            clicks: row.get::<_, i64>(3)? as u64,
                            orders: row.get::<_, i64>(4)? as u64,
                            watches: row.get::<_, i64>(5)? as u64,
                            watch_sum: row.get(6)?,
                            watch_sum_squares: row.get(7)?,
                            revenue: row.get(8)?,
                        })
                    })
                    .map_err(sql)?;
                rows.map(|r| r.map_err(sql)).collect()
            })
            .await
    }

    async fn hourly(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HourlyRow>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.map(ScenarioId::to_string));
        self.reader
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT hour_ms, scenario_id, event_type, events, value_sum FROM metrics_hourly
                         WHERE tenant_id = ?1 AND (?2 IS NULL OR scenario_id = ?2) AND hour_ms >= ?3 AND hour_ms < ?4
                         ORDER BY hour_ms, scenario_id, event_type",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, scenario, from_ms, to_ms], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, i64>(3)?,
                            row.get::<_, f64>(4)?,
                        ))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (hour_ms, scenario_id, event_type, events, value_sum) = row.map_err(sql)?;
                    let event_type = EventType::parse(&event_type)
                        .ok_or_else(|| Error::internal(format!("stored event type {event_type:?}")))?;
                    Ok(HourlyRow { hour_ms, scenario_id, event_type, events: events as u64, value_sum })
                })
                .collect()
            })
            .await
    }

    async fn hourly_by(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        dimension: Dimension,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, HourlyRow)>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.map(ScenarioId::to_string));
        self.reader
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT dim_value, hour_ms, scenario_id, event_type, events, value_sum FROM metrics_hourly_dims
                         WHERE tenant_id = ?1 AND dimension = ?2 AND (?3 IS NULL OR scenario_id = ?3)
                           AND hour_ms >= ?4 AND hour_ms < ?5
                         ORDER BY hour_ms, scenario_id, dim_value, event_type",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, dimension.as_str(), scenario, from_ms, to_ms], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, i64>(4)?,
                            row.get::<_, f64>(5)?,
                        ))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (key, hour_ms, scenario_id, event_type, events, value_sum) = row.map_err(sql)?;
                    let event_type = EventType::parse(&event_type)
                        .ok_or_else(|| Error::internal(format!("stored event type {event_type:?}")))?;
                    Ok((key, HourlyRow { hour_ms, scenario_id, event_type, events: events as u64, value_sum }))
                })
                .collect()
            })
            .await
    }

    async fn top_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        event_type: EventType,
        from_ms: i64,
        to_ms: i64,
        n: usize,
    ) -> Result<Vec<(String, u64)>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.to_string());
        self.reader
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT item_id, SUM(events) AS n FROM item_stats_daily
                         WHERE tenant_id = ?1 AND scenario_id = ?2 AND event_type = ?3 AND day_ms >= ?4 AND day_ms < ?5
                         GROUP BY item_id ORDER BY n DESC, item_id LIMIT ?6",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, scenario, event_type.as_str(), from_ms, to_ms, n as i64], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
                    })
                    .map_err(sql)?;
                rows.map(|r| r.map_err(sql)).collect()
            })
            .await
    }

    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()> {
        let (tenant, scenario) = (tenant.to_string(), scenario.to_string());
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                for table in
                    ["user_behaviors", "metrics_hourly", "item_stats_daily", "metrics_hourly_dims", "user_sequences"]
                {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE tenant_id = ?1 AND scenario_id = ?2"),
                        params![tenant, scenario],
                    )
                    .map_err(sql)?;
                }
                tx.commit().map_err(sql)
            })
            .await
    }
}

/// (tenant, scenario, dimension, hour, value, type).
type DimKey = (String, String, &'static str, i64, String, &'static str);

/// The rollup rows of one insert's new events, summed before they are written (a batch of
/// events falls into few hours, days and users).
#[derive(Default)]
struct Rollups {
    events: usize,
    /// (tenant, scenario, hour, type) → (events, value sum).
    hourly: HashMap<(String, String, i64, &'static str), (i64, f64)>,
    /// (tenant, scenario, item, day, type) → events.
    daily: HashMap<(String, String, String, i64, &'static str), i64>,
    /// (tenant, scenario, dimension, hour, value, type) → (events, value sum).
    dims: HashMap<DimKey, (i64, f64)>,
    /// (tenant, scenario, quarter hour, user) → packed (time, type) pairs, in arrival order.
    sequences: HashMap<(String, String, i64, String), Vec<u8>>,
}

impl Rollups {
    fn add(&mut self, e: &Event) {
        self.events += 1;
        let (tenant, scenario, kind) = (e.tenant_id.to_string(), e.scenario_id.to_string(), e.event_type.as_str());
        let hour = e.timestamp_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let day = e.timestamp_ms.div_euclid(DAY_MS) * DAY_MS;
        let value = e.value.unwrap_or(0.0);
        let sum = self.hourly.entry((tenant.clone(), scenario.clone(), hour, kind)).or_default();
        *sum = (sum.0 + 1, sum.1 + value);
        *self.daily.entry((tenant.clone(), scenario.clone(), e.item_id.to_string(), day, kind)).or_default() += 1;
        for dimension in Dimension::ALL {
            if let Some(key) = dimension.of(e) {
                let sum = self
                    .dims
                    .entry((tenant.clone(), scenario.clone(), dimension.as_str(), hour, key, kind))
                    .or_default();
                *sum = (sum.0 + 1, sum.1 + value);
            }
        }
        let bucket = e.timestamp_ms.div_euclid(SEQ_BUCKET_MS) * SEQ_BUCKET_MS;
        let packed = self.sequences.entry((tenant, scenario, bucket, e.user_id.to_string())).or_default();
        packed.extend_from_slice(&((e.timestamp_ms - bucket) as u32).to_le_bytes());
        packed.push(type_code(e.event_type));
    }

    fn write(self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let mut hourly = tx
            .prepare_cached(
                "INSERT INTO metrics_hourly (tenant_id, scenario_id, hour_ms, event_type, events, value_sum)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO UPDATE SET events = events + excluded.events, value_sum = value_sum + excluded.value_sum",
            )
            .map_err(sql)?;
        for ((tenant, scenario, hour, kind), (events, value)) in self.hourly {
            hourly.execute(params![tenant, scenario, hour, kind, events, value]).map_err(sql)?;
        }
        let mut daily = tx
            .prepare_cached(
                "INSERT INTO item_stats_daily (tenant_id, scenario_id, item_id, day_ms, event_type, events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO UPDATE SET events = events + excluded.events",
            )
            .map_err(sql)?;
        for ((tenant, scenario, item, day, kind), events) in self.daily {
            daily.execute(params![tenant, scenario, item, day, kind, events]).map_err(sql)?;
        }
        let mut dims = tx
            .prepare_cached(
                "INSERT INTO metrics_hourly_dims
                 (tenant_id, scenario_id, dimension, hour_ms, dim_value, event_type, events, value_sum)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT DO UPDATE SET events = events + excluded.events, value_sum = value_sum + excluded.value_sum",
            )
            .map_err(sql)?;
        for ((tenant, scenario, dimension, hour, key, kind), (events, value)) in self.dims {
            dims.execute(params![tenant, scenario, dimension, hour, key, kind, events, value]).map_err(sql)?;
        }
        // Blobs are appended in Rust (SQLite's `||` makes text of them), to the last part while
        // it is small, else as a new part.
        let mut last = tx
            .prepare_cached(
                "SELECT part, seq FROM user_sequences
                 WHERE tenant_id = ?1 AND scenario_id = ?2 AND bucket_ms = ?3 AND user_id = ?4
                 ORDER BY part DESC LIMIT 1",
            )
            .map_err(sql)?;
        let mut write = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO user_sequences (tenant_id, scenario_id, bucket_ms, user_id, part, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(sql)?;
        for ((tenant, scenario, bucket, user), packed) in self.sequences {
            let stored: Option<(i64, Vec<u8>)> = last
                .query_row(params![tenant, scenario, bucket, user], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(sql)?;
            let (part, seq) = match stored {
                Some((part, mut seq)) if seq.len() + packed.len() <= SEQ_PART_BYTES => {
                    seq.extend_from_slice(&packed);
                    (part, seq)
                }
                Some((part, _)) => (part + 1, packed),
                None => (0, packed),
            };
            write.execute(params![tenant, scenario, bucket, user, part, seq]).map_err(sql)?;
        }
        Ok(())
    }
}
