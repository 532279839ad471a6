//! Identical statements in flight at the same moment run once.
//!
//! The dashboard asks for a site's summary, series and five breakdowns at
//! once; their period bounds, rolled-up days and (for breakdowns counting
//! page views) totals are the same statements with the same values. Each
//! caller awaits the one execution and gets the same rows it would have got
//! running it alone.
//!
//! Owns: the table of statements being executed. Must never: answer from a
//! finished execution (this is not a cache: an entry leaves the table when
//! its execution ends), or hand rows of one type to a caller of another.

use std::any::{Any, type_name};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use super::error::ReportError;

type Answer = Result<Arc<dyn Any + Send + Sync>, ReportError>;

/// The executions in flight, by statement.
#[derive(Default)]
pub struct InFlight {
    running: Mutex<HashMap<String, Shared<BoxFuture<'static, Answer>>>>,
}

impl InFlight {
    /// Runs `execute` for `statement`, unless the same statement, read as
    /// the same type, is already running: then waits for that one.
    pub async fn run<T, F>(&self, statement: String, execute: F) -> Result<T, ReportError>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, ReportError>> + Send + 'static,
    {
        // The type is part of the key, so a downcast never fails.
        let key = format!("{}\u{0}{statement}", type_name::<T>());
        let shared = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running
                .entry(key.clone())
                .or_insert_with(|| {
                    execute
                        .map(|answer| {
                            answer.map(|rows| Arc::new(rows) as Arc<dyn Any + Send + Sync>)
                        })
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let answer = shared.clone().await;
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            // Only this execution's entry: a later one may have replaced it.
            if running.get(&key).is_some_and(|entry| entry.ptr_eq(&shared)) {
                running.remove(&key);
            }
        }
        let rows = answer?;
        rows.downcast_ref::<T>().cloned().ok_or_else(|| {
            ReportError::ClickHouse(format!("rows of {statement} read as another type"))
        })
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
            assert!(in_flight.running.lock().unwrap().is_empty());
        });
    }
}
