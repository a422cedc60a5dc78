//! WAL checkpoints on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside the committing writer, which then
//! spends a good part of a bulk ingest copying pages from the WAL into the
//! database. Here the writer only appends to the WAL; this thread copies pages
//! back (PASSIVE checkpoints, which never block the writer or readers) after
//! commits, on the other core.

use crossbeam_channel::{Receiver, Sender, bounded, select, tick};
use rusqlite::Connection;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

/// Handle on the checkpoint thread; stops it when dropped.
pub struct Checkpointer {
    wake: Sender<()>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    pub fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (wake, woken) = bounded::<()>(1);
        let (stop, stopped) = bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(conn, woken, stopped))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer {
            wake,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Tells the thread a transaction was committed.
    pub fn committed(&self) {
        let _ = self.wake.try_send(());
    }
}

fn run(conn: Connection, woken: Receiver<()>, stopped: Receiver<()>) {
    let idle = tick(Duration::from_secs(2));
    loop {
        select! {
            recv(woken) -> msg => if msg.is_err() { break },
            recv(idle) -> _ => {},
            recv(stopped) -> _ => break,
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!("passive checkpoint: {e}");
        }
    }
    // Leave a short WAL behind when nobody else uses the database.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
