//! The event warehouse on SQLite: `user_behaviors` holds every event once (keyed by event id, so
//! a replayed batch inserts nothing twice), and two rollup tables play ClickHouse's materialized
//! views: they are updated in the same transaction as the raw rows, only for rows that were new.

use std::path::Path;

use async_trait::async_trait;
use polyrec_core::clock::{DAY_MS, HOUR_MS};
use polyrec_core::{Error, EventType, Result, ScenarioId, TenantId};
use rusqlite::params;

use super::{Db, Role, open, sql};
use crate::{BehaviorRow, BusRecord, GroupTotals, HourlyRow, Interaction, Warehouse};

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
";

pub struct SqliteWarehouse {
    writer: Db,
    reader: Db,
}

impl SqliteWarehouse {
    pub fn open(path: &Path) -> Result<Self> {
        let writer = open(path, Role::Writer)?;
        writer.execute_batch(SCHEMA).map_err(sql)?;
        let reader = open(path, Role::Reader)?;
        Ok(Self { writer: Db::new(writer), reader: Db::new(reader) })
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
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                let e = &r.event;
                (
                    e.event_id.clone(),
                    e.tenant_id.to_string(),
                    e.scenario_id.to_string(),
                    e.user_id.to_string(),
                    e.item_id.to_string(),
                    e.event_type.as_str(),
                    e.timestamp_ms,
                    e.received_ms,
                    e.value,
                    e.request_id.clone(),
                    e.context.as_ref().map(|c| serde_json::Value::Object(c.clone()).to_string()),
                    r.offset as i64,
                )
            })
            .collect();
        self.writer
            .call(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                let mut inserted = 0;
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO user_behaviors
                             (event_id, tenant_id, scenario_id, user_id, item_id, event_type, timestamp_ms,
                              received_ms, value, request_id, context, bus_offset)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        )
                        .map_err(sql)?;
                    let mut hourly = tx
                        .prepare_cached(
                            "INSERT INTO metrics_hourly (tenant_id, scenario_id, hour_ms, event_type, events, value_sum)
                             VALUES (?1, ?2, ?3, ?4, 1, ?5)
                             ON CONFLICT DO UPDATE SET events = events + 1, value_sum = value_sum + excluded.value_sum",
                        )
                        .map_err(sql)?;
                    let mut daily = tx
                        .prepare_cached(
                            "INSERT INTO item_stats_daily (tenant_id, scenario_id, item_id, day_ms, event_type, events)
                             VALUES (?1, ?2, ?3, ?4, ?5, 1)
                             ON CONFLICT DO UPDATE SET events = events + 1",
                        )
                        .map_err(sql)?;
                    for (id, tenant, scenario, user, item, event_type, ts, received, value, request, context, offset) in
                        &rows
                    {
                        let new = insert
                            .execute(params![
                                id, tenant, scenario, user, item, event_type, ts, received, value, request, context,
                                offset
                            ])
                            .map_err(sql)?;
                        if new == 0 {
                            continue;
                        }
                        inserted += 1;
                        let hour = ts.div_euclid(HOUR_MS) * HOUR_MS;
                        let day = ts.div_euclid(DAY_MS) * DAY_MS;
                        hourly
                            .execute(params![tenant, scenario, hour, event_type, value.unwrap_or(0.0)])
                            .map_err(sql)?;
                        daily.execute(params![tenant, scenario, item, day, event_type]).map_err(sql)?;
                    }
                }
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

    async fn sequences(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        types: &[EventType],
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64, EventType)>> {
        let (tenant, scenario) = (tenant.to_string(), scenario.to_string());
        let types: Vec<String> = types.iter().map(|t| format!("'{}'", t.as_str())).collect();
        let query = format!(
            "SELECT user_id, timestamp_ms, event_type FROM (
                 SELECT user_id, timestamp_ms, event_type, event_id FROM user_behaviors
                 WHERE tenant_id = ?1 AND scenario_id = ?2 AND timestamp_ms >= ?3 AND timestamp_ms < ?4
                   AND event_type IN ({})
                 ORDER BY timestamp_ms DESC, event_id DESC LIMIT ?5
             ) ORDER BY timestamp_ms, event_id",
            types.join(", ")
        );
        self.reader
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&query).map_err(sql)?;
                let rows = stmt
                    .query_map(params![tenant, scenario, since_ms, until_ms, limit as i64], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (user, ts, kind) = row.map_err(sql)?;
                    let kind = EventType::parse(&kind)
                        .ok_or_else(|| Error::internal(format!("stored event type {kind:?}")))?;
                    Ok((user, ts, kind))
                })
                .collect()
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
                for table in ["user_behaviors", "metrics_hourly", "item_stats_daily"] {
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
