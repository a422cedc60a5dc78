//! A bounded pool of reader threads, each owning one SQLite connection.
//!
//! SQLite calls block, so they never run on the async workers: a request sends
//! a closure to the pool and awaits its answer. The queue is bounded; when it is
//! full the caller gets [`CatalogError::Busy`] at once instead of waiting
//! without limit. Each query runs under a time budget enforced by SQLite's
//! progress handler.

use crate::catalog::error::{CatalogError, Result};
use crossbeam_channel::{Sender, TrySendError, bounded};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Reader threads and their job queue.
pub struct ReaderPool {
    sender: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl ReaderPool {
    /// Starts `threads` readers, each with a connection made by `open`.
    pub fn start(
        threads: usize,
        queue: usize,
        timeout: Duration,
        open: impl Fn() -> Result<Connection>,
    ) -> Result<ReaderPool> {
        let (sender, receiver) = bounded::<Job>(queue.max(1));
        let mut handles = Vec::with_capacity(threads);
        for n in 0..threads.max(1) {
            let mut conn = open()?;
            // Deadline of the running job, in microseconds since `epoch` (0: none).
            let epoch = Instant::now();
            let deadline = Arc::new(AtomicU64::new(0));
            let watched = deadline.clone();
            conn.progress_handler(
                10_000,
                Some(move || {
                    let d = watched.load(Ordering::Relaxed);
                    d != 0 && epoch.elapsed().as_micros() as u64 > d
                }),
            )
            .map_err(|e| CatalogError::Storage(e.to_string()))?;
            let receiver = receiver.clone();
            let handle = std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || {
                    while let Ok(job) = receiver.recv() {
                        let budget = epoch.elapsed() + timeout;
                        deadline.store(budget.as_micros() as u64, Ordering::Relaxed);
                        // A panicking job must not take the reader down with it;
                        // its caller sees the dropped answer as an error.
                        let _ = catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                        deadline.store(0, Ordering::Relaxed);
                    }
                })
                .map_err(CatalogError::Io)?;
            handles.push(handle);
        }
        Ok(ReaderPool {
            sender: Some(sender),
            threads: handles,
        })
    }

    /// Runs `f` on a reader and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| CatalogError::Storage("the store is closed".into()))?;
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(CatalogError::Busy(
                    "too many catalogue queries are waiting; retry shortly".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(CatalogError::Storage("the store is closed".into()));
            }
        }
        rx.await
            .map_err(|_| CatalogError::Storage("a catalogue query failed unexpectedly".into()))?
    }
}

impl Drop for ReaderPool {
    fn drop(&mut self) {
        self.sender.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
