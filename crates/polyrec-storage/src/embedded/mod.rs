//! The embedded backends: SQLite files under the data directory and an in-memory realtime store.

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
}

/// Read connections per embedded store.
const READERS: usize = 4;

impl Db {
    fn new(conn: Connection) -> Self {
        Self::pool(vec![conn])
    }

    fn pool(conns: Vec<Connection>) -> Self {
        let permits = Arc::new(tokio::sync::Semaphore::new(conns.len()));
        Self { conns: conns.into_iter().map(Mutex::new).collect(), permits }
    }

    /// [`READERS`] read connections to the file.
    fn readers(path: &Path) -> Result<Self> {
        Ok(Self::pool((0..READERS).map(|_| open(path, Role::Reader)).collect::<Result<_>>()?))
    }

    async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|e| Error::internal(format!("storage: {e}")))?;
        let conns = self.conns.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = conns
                .iter()
                .find_map(|conn| conn.try_lock())
                .ok_or_else(|| Error::internal("storage: a permit without a free connection"))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::internal(format!("storage task failed: {e}")))?
    }
}

#[cfg(test)]
mod durability_tests {
    use super::*;

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
