//! The embedded backends: SQLite files under the data directory and an in-memory realtime store.

mod answers;
mod bus;
mod documents;
mod realtime;
mod warehouse;

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use polyrec_core::{Error, Result};
use rusqlite::Connection;

pub use bus::SqliteEventBus;
pub use documents::SqliteDocuments;
pub use realtime::{MAX_CACHED_ANSWER_BYTES, MemoryRealtime};
pub use warehouse::SqliteWarehouse;

/// What a commit of the embedded event bus survives, and so what a `202` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A crash of the process (`kill -9`): the commit is in the WAL file, not yet synced to
    /// the disk (`synchronous = NORMAL`). An OS crash or a power loss can lose the last commits.
    #[default]
    Process,
    /// A power loss too: every commit syncs the WAL to the disk (`synchronous = FULL`).
    Fsync,
}

/// Which side of a store a connection serves.
#[derive(Clone, Copy)]
enum Role {
    /// The one connection that writes: a large page cache, never invalidated by other writers.
    Writer,
    /// Readers: SQLite drops a reader's page cache whenever another connection has written, and
    /// dropping 64 MB of pages per read transaction measured ~10% of CPU during ingestion; a
    /// small cache plus memory-mapped reads avoids that.
    Reader,
}

/// Opens a SQLite file in WAL mode. `synchronous = NORMAL` under WAL makes a committed
/// transaction survive a process crash (kill -9); only an OS crash or power loss can lose the
/// last commits, which is the trade every embedded log of this kind makes for throughput.
fn open(path: &Path, role: Role) -> Result<Connection> {
    open_with(path, role, Durability::Process)
}

/// [`open`] with the durability of its commits chosen.
fn open_with(path: &Path, role: Role, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| Error::internal(format!("open {}: {e}", path.display())))?;
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Fsync => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {synchronous};
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;"
    ))
    .map_err(sql)?;
    let tuning = match role {
        // Checkpoints every 10,000 pages (40 MB of WAL) rather than 1,000: a checkpoint fsyncs,
        // and during ingestion the default made them a tenth of the write path.
        Role::Writer => "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 10000;",
        Role::Reader => "PRAGMA cache_size = -2048; PRAGMA mmap_size = 268435456;",
    };
    conn.execute_batch(tuning).map_err(sql)?;
    Ok(conn)
}

/// A SQLite failure as the caller should see it: the database being busy, locked, out of disk
/// or unreadable is the store being unavailable (`503`, retried by the stream jobs); anything
/// else — a constraint, a type, a statement — is about the data or the code (`Internal`, which
/// a stream job isolates to the events that cause it).
fn sql(error: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::*;
    match error.sqlite_error_code() {
        Some(
            DatabaseBusy
            | DatabaseLocked
            | SystemIoFailure
            | DiskFull
            | CannotOpen
            | OutOfMemory
            | FileLockingProtocolFailed
            | ReadOnly
            | NotADatabase
            | DatabaseCorrupt,
        ) => Error::unavailable(format!("sqlite: {error}")),
        _ => Error::internal(format!("sqlite: {error}")),
    }
}

/// SQLite connections used from async code: each call runs on the blocking pool, on whichever
/// connection is free. A writer is one connection (SQLite has one writer); readers are a few,
/// so one tenant's long query (a funnel over months) holds one of them, not every other
/// tenant's reads. Written here rather than with a pool crate: a semaphore and `try_lock` over a
/// fixed set is all it takes, and the pool crates for rusqlite pin its version.
#[derive(Clone)]
struct Db {
    conns: Arc<[Mutex<Connection>]>,
    /// As many permits as connections: holding one, a free connection exists.
    permits: Arc<tokio::sync::Semaphore>,
    /// Read pools: a call whose caller gave up (a request past its deadline) interrupts its
    /// query, so that one tenant's long query does not hold a connection of the few after its
    /// answer stopped mattering. Writes are never interrupted: a write runs to its end.
    interrupt_abandoned: bool,
}

/// A call of a read pool: while it runs, the interrupt handle of its connection (cleared, under
/// this lock, before the connection is released, so an interrupt never reaches the next call on
/// it); and whether its caller gave up (then a call not yet started does not start).
#[derive(Default)]
struct Running {
    handle: Option<rusqlite::InterruptHandle>,
    abandoned: bool,
}

type RunningSlot = Arc<std::sync::Mutex<Running>>;

fn running(slot: &RunningSlot) -> std::sync::MutexGuard<'_, Running> {
    slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Dropped with the caller's future: unless the call finished (`.1`), marks it abandoned and
/// interrupts its query.
struct Abandon(RunningSlot, bool);

impl Drop for Abandon {
    fn drop(&mut self) {
        if self.1 {
            return;
        }
        let mut running = running(&self.0);
        running.abandoned = true;
        if let Some(handle) = &running.handle {
            handle.interrupt();
        }
    }
}

/// Read connections per embedded store.
const READERS: usize = 4;

impl Db {
    fn new(conn: Connection) -> Self {
        Self::pool(vec![conn])
    }

    fn pool(conns: Vec<Connection>) -> Self {
        let permits = Arc::new(tokio::sync::Semaphore::new(conns.len()));
        Self { conns: conns.into_iter().map(Mutex::new).collect(), permits, interrupt_abandoned: false }
    }

    /// [`READERS`] read connections to the file; an abandoned call's query is interrupted.
    fn readers(path: &Path) -> Result<Self> {
        let pool = Self::pool((0..READERS).map(|_| open(path, Role::Reader)).collect::<Result<_>>()?);
        Ok(Self { interrupt_abandoned: true, ..pool })
    }

    async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|e| Error::internal(format!("storage: {e}")))?;
        let conns = self.conns.clone();
        let slot = RunningSlot::default();
        let mut abandon = Abandon(slot.clone(), !self.interrupt_abandoned);
        let interrupt = self.interrupt_abandoned;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = conns
                .iter()
                .find_map(|conn| conn.try_lock())
                .ok_or_else(|| Error::internal("storage: a permit without a free connection"))?;
            if interrupt {
                let mut running = running(&slot);
                if running.abandoned {
                    return Err(Error::unavailable("storage: the caller gave up before the query started"));
                }
                running.handle = Some(conn.get_interrupt_handle());
            }
            let result = f(&mut conn);
            if interrupt {
                running(&slot).handle = None;
            }
            result
        })
        .await;
        abandon.1 = true;
        result.map_err(|e| Error::internal(format!("storage task failed: {e}")))?
    }
}

#[cfg(test)]
mod durability_tests {
    use super::*;

    /// Counts far enough to run for minutes.
    const LONG: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                        SELECT count(*) FROM (SELECT x FROM c LIMIT 10000000000)";

    fn one(conn: &mut Connection, sql_text: &str) -> Result<i64> {
        conn.query_row(sql_text, [], |row| row.get(0)).map_err(sql)
    }

    /// A read pool of one connection: a query whose caller gave up is interrupted, and the
    /// connection serves the next call (it would wait minutes for the count to end).
    #[test]
    fn an_abandoned_read_is_interrupted_and_frees_its_connection() {
        let db = Db { interrupt_abandoned: true, ..Db::pool(vec![Connection::open_in_memory().unwrap()]) };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let next = runtime.block_on(async {
            let long = db.call(|conn| one(conn, LONG));
            assert!(tokio::time::timeout(std::time::Duration::from_millis(200), long).await.is_err());
            let next = db.call(|conn| one(conn, "SELECT 1"));
            tokio::time::timeout(std::time::Duration::from_secs(60), next).await
        });
        // Not waiting for a query that still runs (when this fails).
        runtime.shutdown_background();
        assert_eq!(next.expect("the connection is still held by the abandoned query").unwrap(), 1);
    }

    #[test]
    fn fsync_durability_syncs_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let level = |durability| {
            let conn = open_with(&dir.path().join("events.db"), Role::Writer, durability).unwrap();
            conn.query_row("PRAGMA synchronous", [], |row| row.get::<_, i64>(0)).unwrap()
        };
        // SQLite's levels: 1 NORMAL (a commit is in the WAL), 2 FULL (and the WAL is synced).
        assert_eq!(level(Durability::Process), 1);
        assert_eq!(level(Durability::Fsync), 2);
    }
}
