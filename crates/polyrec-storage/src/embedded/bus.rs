//! The event bus on SQLite: an append-only log (`log`), per-topic counts and consumer-group
//! offsets.
//!
//! Appends go through one writer thread that commits whatever is queued as one transaction
//! (group commit) and only then answers each caller with its offsets: an acknowledged event is
//! committed — in the write-ahead log, which a crash of the process cannot lose, and synced to the
//! disk as well with [`Durability::Fsync`] — and a thousand concurrent single-event requests cost
//! a handful of commits, not a thousand.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::{Error, Event, Result, TenantId};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Db, Durability, Role, open, open_with, sql};
use crate::stream::{Partition, StreamLog, Subscription, local_partition};
use crate::{BusRecord, EventBus, EventLog, keys};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    offset      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       TEXT NOT NULL,
    key         TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    payload     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS topic_counts (
    topic TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consumer_offsets (
    group_id TEXT PRIMARY KEY,
    offset   INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The most events one commit takes; more queued wait for the next commit.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;

struct Append {
    rows: Vec<Row>,
    reply: oneshot::Sender<Result<Vec<u64>>>,
}

struct Row {
    topic: String,
    key: String,
    received_ms: i64,
    payload: String,
}

pub struct SqliteEventBus {
    appends: mpsc::Sender<Append>,
    readers: Vec<Db>,
    next_reader: AtomicUsize,
    offsets: Db,
    /// Woken after every append, so the stream jobs react at once instead of polling.
    appended: tokio::sync::Notify,
}

impl SqliteEventBus {
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, Durability::Process)
    }

    /// [`SqliteEventBus::open`], its appends as durable as `durability` says (what a `202`
    /// survives).
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self> {
        let writer = open_with(path, Role::Writer, durability)?;
        writer.execute_batch(SCHEMA).map_err(sql)?;
        let (appends, queue) = mpsc::channel::<Append>();
        std::thread::Builder::new()
            .name("event-bus-writer".into())
            .spawn(move || write_loop(writer, queue))
            .map_err(Error::internal)?;
        let readers = (0..2).map(|_| open(path, Role::Reader).map(Db::new)).collect::<Result<Vec<_>>>()?;
        let offsets = Db::new(open(path, Role::Reader)?);
        Ok(Self { appends, readers, next_reader: AtomicUsize::new(0), offsets, appended: tokio::sync::Notify::new() })
    }

    fn reader(&self) -> &Db {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        &self.readers[index]
    }
}

fn write_loop(mut conn: Connection, queue: mpsc::Receiver<Append>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        let mut n_rows = batch[0].rows.len();
        while n_rows < MAX_EVENTS_PER_COMMIT {
            match queue.try_recv() {
                Ok(next) => {
                    n_rows += next.rows.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        match commit(&mut conn, &batch) {
            Ok(offsets) => {
                for (append, offsets) in batch.into_iter().zip(offsets) {
                    let _ = append.reply.send(Ok(offsets));
                }
            }
            Err(error) => {
                tracing::error!(%error, "event bus commit failed");
                for append in batch {
                    let _ = append.reply.send(Err(Error::unavailable(format!(
                        "the event log could not store the events ({error}); retry"
                    ))));
                }
            }
        }
    }
}

fn commit(conn: &mut Connection, batch: &[Append]) -> Result<Vec<Vec<u64>>> {
    let tx = conn.transaction().map_err(sql)?;
    let mut all_offsets = Vec::with_capacity(batch.len());
    let mut counts: HashMap<&str, i64> = HashMap::new();
    {
        let mut insert = tx
            .prepare_cached("INSERT INTO log (topic, key, received_ms, payload) VALUES (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        for append in batch {
            let mut offsets = Vec::with_capacity(append.rows.len());
            for row in &append.rows {
                insert.execute(params![row.topic, row.key, row.received_ms, row.payload]).map_err(sql)?;
                offsets.push(tx.last_insert_rowid() as u64);
                *counts.entry(&row.topic).or_default() += 1;
            }
            all_offsets.push(offsets);
        }
        let mut count = tx
            .prepare_cached(
                "INSERT INTO topic_counts (topic, n) VALUES (?1, ?2)
                 ON CONFLICT (topic) DO UPDATE SET n = n + excluded.n",
            )
            .map_err(sql)?;
        for (topic, n) in counts {
            count.execute(params![topic, n]).map_err(sql)?;
        }
    }
    tx.commit().map_err(sql)?;
    Ok(all_offsets)
}

#[async_trait]
impl EventBus for SqliteEventBus {
    async fn append(&self, events: Vec<Event>) -> Result<Vec<u64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows = events
            .iter()
            .map(|event| {
                Ok(Row {
                    topic: keys::behavior_topic(&event.tenant_id),
                    key: event.user_id.to_string(),
                    received_ms: event.received_ms,
                    payload: serde_json::to_string(event).map_err(Error::internal)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (reply, answer) = oneshot::channel();
        self.appends
            .send(Append { rows, reply })
            .map_err(|_| Error::unavailable("the event log writer has stopped"))?;
        let offsets = answer.await.map_err(|_| Error::unavailable("the event log writer has stopped"))??;
        self.appended.notify_waiters();
        Ok(offsets)
    }

    async fn count(&self, tenant: &TenantId) -> Result<u64> {
        let topic = keys::behavior_topic(tenant);
        self.reader()
            .call(move |conn| {
                let n: Option<i64> = conn
                    .query_row("SELECT n FROM topic_counts WHERE topic = ?1", [topic], |row| row.get(0))
                    .optional()
                    .map_err(sql)?;
                Ok(n.unwrap_or(0) as u64)
            })
            .await
    }

    async fn check(&self) -> Result<()> {
        self.end_offset().await.map(|_| ())
    }
}

#[async_trait]
impl EventLog for SqliteEventBus {
    async fn read_after(&self, after: u64, max: usize) -> Result<Vec<BusRecord>> {
        self.reader()
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT offset, payload FROM log WHERE offset > ?1 ORDER BY offset LIMIT ?2")
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![after as i64, max as i64], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (offset, payload) = row.map_err(sql)?;
                    let event = serde_json::from_str(&payload)
                        .map_err(|e| Error::internal(format!("corrupt event at offset {offset}: {e}")))?;
                    Ok(BusRecord { offset: offset as u64, event })
                })
                .collect()
            })
            .await
    }

    async fn committed(&self, group: &str) -> Result<u64> {
        let group = group.to_owned();
        self.offsets
            .call(move |conn| {
                let offset: Option<i64> = conn
                    .query_row("SELECT offset FROM consumer_offsets WHERE group_id = ?1", [group], |row| row.get(0))
                    .optional()
                    .map_err(sql)?;
                Ok(offset.unwrap_or(0) as u64)
            })
            .await
    }

    async fn commit(&self, group: &str, offset: u64) -> Result<()> {
        let group = group.to_owned();
        self.offsets
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO consumer_offsets (group_id, offset) VALUES (?1, ?2)
                     ON CONFLICT (group_id) DO UPDATE SET offset = excluded.offset",
                    params![group, offset as i64],
                )
                .map_err(sql)?;
                Ok(())
            })
            .await
    }

    async fn offset_before_received(&self, received_ms: i64) -> Result<u64> {
        self.reader()
            .call(move |conn| {
                let first: Option<i64> = conn
                    .query_row(
                        "SELECT offset FROM log WHERE received_ms >= ?1 ORDER BY offset LIMIT 1",
                        [received_ms],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                match first {
                    Some(offset) => Ok(offset.saturating_sub(1) as u64),
                    None => Ok(conn
                        .query_row("SELECT COALESCE(MAX(offset), 0) FROM log", [], |row| row.get::<_, i64>(0))
                        .map_err(sql)? as u64),
                }
            })
            .await
    }

    async fn end_offset(&self) -> Result<u64> {
        self.reader()
            .call(|conn| {
                let end: i64 =
                    conn.query_row("SELECT COALESCE(MAX(offset), 0) FROM log", [], |row| row.get(0)).map_err(sql)?;
                Ok(end as u64)
            })
            .await
    }

    async fn trim(&self, before_received_ms: i64) -> Result<u64> {
        self.offsets
            .call(move |conn| {
                let mut dropped = 0u64;
                loop {
                    // In slices, so appends wait for the write lock milliseconds, not seconds.
                    let n = conn
                        .execute(
                            "DELETE FROM log WHERE offset IN (
                                 SELECT offset FROM log
                                 WHERE received_ms < ?1
                                   AND offset <= (SELECT MIN(offset) FROM consumer_offsets)
                                 ORDER BY offset LIMIT 10000)",
                            [before_received_ms],
                        )
                        .map_err(sql)?;
                    dropped += n as u64;
                    if n < 10_000 {
                        return Ok(dropped);
                    }
                }
            })
            .await
    }
}

/// The embedded log as a consumer group sees it: one partition, this process the one member.
#[async_trait]
impl StreamLog for SqliteEventBus {
    fn is_shared(&self) -> bool {
        false
    }

    async fn subscribe(self: Arc<Self>, group: &str, fresh_since_ms: Option<i64>) -> Result<Box<dyn Subscription>> {
        let committed = EventLog::committed(&*self, group).await?;
        let offset = match fresh_since_ms {
            Some(since) if committed == 0 => self.offset_before_received(since).await?,
            _ => committed,
        };
        Ok(Box::new(LocalSubscription { log: self, group: group.to_owned(), offset }))
    }

    async fn replay(&self, partition: &Partition, since_ms: i64, until: u64) -> Result<Vec<BusRecord>> {
        if *partition != local_partition() {
            return Ok(Vec::new());
        }
        let mut after = self.offset_before_received(since_ms).await?;
        let mut records = Vec::new();
        while after < until {
            let batch = self.read_after(after, 10_000).await?;
            let Some(last) = batch.last().map(|r| r.offset) else { break };
            records.extend(batch.into_iter().filter(|r| r.offset <= until));
            after = last;
        }
        Ok(records)
    }

    async fn end_offsets(&self) -> Result<Vec<(Partition, u64)>> {
        Ok(vec![(local_partition(), self.end_offset().await?)])
    }

    async fn group_offsets(&self, group: &str, partitions: &[Partition]) -> Result<Vec<(Partition, u64)>> {
        if !partitions.contains(&local_partition()) {
            return Ok(Vec::new());
        }
        Ok(vec![(local_partition(), EventLog::committed(self, group).await?)])
    }

    async fn apply_retention(&self, before_received_ms: i64) -> Result<u64> {
        EventLog::trim(self, before_received_ms).await
    }

    async fn publish(&self, _topic: &str, _records: &[(String, Vec<u8>)]) -> Result<()> {
        Ok(())
    }
}

struct LocalSubscription {
    log: Arc<SqliteEventBus>,
    group: String,
    /// The last record offset handed out.
    offset: u64,
}

#[async_trait]
impl Subscription for LocalSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<(Partition, Vec<BusRecord>)>> {
        // Registered before the read, so an append between the read and the wait still wakes us.
        let appended = self.log.appended.notified();
        let mut records = self.log.read_after(self.offset, max).await?;
        if records.is_empty() {
            let _ = tokio::time::timeout(wait, appended).await;
            records = self.log.read_after(self.offset, max).await?;
        }
        let Some(last) = records.last().map(|r| r.offset) else { return Ok(Vec::new()) };
        self.offset = last;
        Ok(vec![(local_partition(), records)])
    }

    fn assignment(&self) -> Option<Vec<Partition>> {
        Some(vec![local_partition()])
    }

    fn positions(&self) -> Vec<(Partition, u64)> {
        vec![(local_partition(), self.offset)]
    }

    async fn commit(&mut self, offsets: &[(Partition, u64)]) -> Result<()> {
        for (partition, offset) in offsets {
            if *partition == local_partition() {
                self.log.commit(&self.group, *offset).await?;
            }
        }
        Ok(())
    }

    async fn close(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyrec_core::{EventType, ItemId, ScenarioId, UserId};

    fn event(tenant: &str, received_ms: i64) -> Event {
        Event {
            event_id: format!("{tenant}-{received_ms}"),
            tenant_id: TenantId::parse(tenant).unwrap(),
            scenario_id: ScenarioId::parse("s").unwrap(),
            user_id: UserId::parse("u").unwrap(),
            item_id: ItemId::parse("i").unwrap(),
            event_type: EventType::Click,
            timestamp_ms: received_ms,
            received_ms,
            scenario_incarnation: 0,
            request_id: None,
            value: None,
            context: None,
            replay_for: None,
        }
    }

    #[tokio::test]
    async fn appends_read_back_in_order_with_per_tenant_counts_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let bus = SqliteEventBus::open(&dir.path().join("events.db")).unwrap();
        let offsets = bus.append(vec![event("a", 1), event("b", 2), event("a", 3)]).await.unwrap();
        assert_eq!(offsets, [1, 2, 3]);
        let records = bus.read_after(1, 10).await.unwrap();
        assert_eq!(records.iter().map(|r| r.event.event_id.as_str()).collect::<Vec<_>>(), ["b-2", "a-3"]);
        assert_eq!(bus.count(&TenantId::parse("a").unwrap()).await.unwrap(), 2);
        assert_eq!(bus.offset_before_received(2).await.unwrap(), 1);
        assert_eq!(bus.committed("g").await.unwrap(), 0);
        bus.commit("g", 2).await.unwrap();
        assert_eq!(bus.committed("g").await.unwrap(), 2);
    }

    #[tokio::test]
    async fn retention_drops_only_what_every_durable_group_has() {
        let dir = tempfile::tempdir().unwrap();
        let bus = SqliteEventBus::open(&dir.path().join("events.db")).unwrap();
        bus.append((1..=5).map(|t| event("a", t)).collect()).await.unwrap();
        assert_eq!(bus.trim(100).await.unwrap(), 0, "no group has committed anything");
        bus.commit("fast", 5).await.unwrap();
        bus.commit("slow", 2).await.unwrap();
        assert_eq!(bus.trim(4).await.unwrap(), 2, "offsets 1 and 2: old enough and committed by both");
        assert_eq!(bus.read_after(0, 10).await.unwrap().first().map(|r| r.offset), Some(3));
        assert_eq!(bus.count(&TenantId::parse("a").unwrap()).await.unwrap(), 5, "counts keep the history");
    }
}
