//! Identical work in flight at the same moment runs once: statements
//! (`engine`) and whole requests (`http::stats`).
//!
//! The dashboard asks for a site's summary, series and five breakdowns at
//! once; their period bounds, rolled-up days and (for breakdowns counting
//! page views) totals are the same statements with the same values, and
//! several people opening it at once ask for the same reports. Each caller
//! awaits the one execution and gets the same answer it would have got
//! running it alone.
//!
//! Owns: the table of work being executed. Must never: answer from a
//! finished execution (this is not a cache: an entry leaves the table when
//! its execution ends), keep an execution alive that no caller awaits any
//! more (the table holds it weakly, so the last caller to hang up drops
//! it), or hand an answer of one type to a caller of another. Whether two
//! callers may share an answer is the key's: the caller puts into it
//! everything the answer depends on.

use std::any::{Any, type_name};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, WeakShared};

use super::error::ReportError;

type Answer = Result<Arc<dyn Any + Send + Sync>, ReportError>;
type Execution = Shared<BoxFuture<'static, Answer>>;

/// The executions in flight, by key.
#[derive(Default)]
pub struct InFlight {
    running: Mutex<HashMap<String, WeakShared<BoxFuture<'static, Answer>>>>,
}

impl InFlight {
    /// Runs `execute` for `key`, unless the same key, read as the same
    /// type, is already running: then waits for that one.
    pub async fn run<T, F>(&self, key: String, execute: F) -> Result<T, ReportError>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, ReportError>> + Send + 'static,
    {
        // The type is part of the key, so a downcast never fails.
        let key = format!("{}\u{0}{key}", type_name::<T>());
        let shared: Execution = {
            let mut running = self.lock();
            match running.get(&key).and_then(WeakShared::upgrade) {
                Some(shared) => shared,
                None => {
                    let shared = execute
                        .map(|answer| {
                            answer.map(|rows| Arc::new(rows) as Arc<dyn Any + Send + Sync>)
                        })
                        .boxed()
                        .shared();
                    if let Some(weak) = shared.downgrade() {
                        running.insert(key.clone(), weak);
                    }
                    shared
                }
            }
        };
        let leave = Leave {
            in_flight: self,
            key,
            shared: Some(shared.clone()),
        };
        let answer = shared.await;
        drop(leave);
        let answer = answer?;
        answer.downcast_ref::<T>().cloned().ok_or_else(|| {
            ReportError::ClickHouse(format!(
                "an answer of {} read as another type",
                type_name::<T>()
            ))
        })
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, WeakShared<BoxFuture<'static, Answer>>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes a caller's execution out of the table when the caller stops
/// awaiting it: once it has ended (a later caller runs it anew), or once no
/// caller awaits it any more (it was dropped).
struct Leave<'a> {
    in_flight: &'a InFlight,
    key: String,
    shared: Option<Execution>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let ended = shared.peek().is_some();
        // This caller's hold goes first, so a dropped execution is seen as one.
        drop(shared);
        let mut running = self.in_flight.lock();
        let entry = running.get(&self.key).map(WeakShared::upgrade);
        let remove = match &entry {
            // Only this execution's entry: a later one may have replaced it.
            Some(Some(entry)) => ended && entry.peek().is_some(),
            Some(None) => true,
            None => false,
        };
        if remove {
            running.remove(&self.key);
        }
        // Should the entry's hold be the last, its execution is dropped
        // outside the lock.
        drop(running);
        drop(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrent_identical_statements_run_once_and_finished_ones_run_again() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let in_flight = Arc::new(InFlight::default());
        let executions = Arc::new(AtomicUsize::new(0));
        let run = |statement: &str, value: u64| {
            let executions = executions.clone();
            let in_flight = in_flight.clone();
            let statement = statement.to_string();
            async move {
                in_flight
                    .run(statement, async move {
                        executions.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok::<u64, ReportError>(value)
                    })
                    .await
            }
        };
        runtime.block_on(async {
            let (a, b, c) =
                tokio::join!(run("SELECT 1", 1), run("SELECT 1", 2), run("SELECT 2", 3));
            // The second caller of SELECT 1 gets the first execution's rows.
            assert_eq!((a.ok(), b.ok(), c.ok()), (Some(1), Some(1), Some(3)));
            assert_eq!(executions.load(Ordering::SeqCst), 2);
            assert_eq!(run("SELECT 1", 4).await.ok(), Some(4), "not a cache");
            assert_eq!(executions.load(Ordering::SeqCst), 3);
            assert!(in_flight.lock().is_empty());
        });
    }

    #[test]
    fn an_execution_no_caller_awaits_is_dropped_and_left_out_of_the_table() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let in_flight = InFlight::default();
        runtime.block_on(async {
            let (dropped, on_drop) = tokio::sync::oneshot::channel::<()>();
            let hangs = in_flight.run("SELECT 1".into(), async move {
                let _dropped = dropped;
                std::future::pending::<Result<u64, ReportError>>().await
            });
            let (first, second) = tokio::join!(
                tokio::time::timeout(std::time::Duration::from_millis(10), hangs),
                // Joins the first, then hangs up too.
                tokio::time::timeout(
                    std::time::Duration::from_millis(5),
                    in_flight.run("SELECT 1".into(), async { Ok(2u64) })
                ),
            );
            assert!(first.is_err() && second.is_err());
            assert!(on_drop.await.is_err(), "the execution was dropped");
            assert!(in_flight.lock().is_empty());
            assert_eq!(
                in_flight
                    .run("SELECT 1".into(), async { Ok(3u64) })
                    .await
                    .ok(),
                Some(3)
            );
        });
    }
}
