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
pub use realtime::MemoryRealtime;
pub use warehouse::SqliteWarehouse;

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
    let conn = Connection::open(path).map_err(|e| Error::internal(format!("open {}: {e}", path.display())))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;",
    )
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

fn sql(error: rusqlite::Error) -> Error {
    Error::internal(format!("sqlite: {error}"))
}

/// One SQLite connection used from async code: each call runs on the blocking pool.
#[derive(Clone)]
struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    fn new(conn: Connection) -> Self {
        Self { conn: Arc::new(Mutex::new(conn)) }
    }

    async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock()))
            .await
            .map_err(|e| Error::internal(format!("storage task failed: {e}")))?
    }
}
