//! The bounded path every report of `serve` takes: on a runtime of its own,
//! never on the threads that answer hits; at most `reporting.max_concurrent`
//! at a time; each within `reporting.query_timeout_ms`.
//!
//! Owns: admission (a free slot now, or a refusal now: reports never
//! queue), the deadline of a whole report, and how the reports' runtime is
//! built (`serve` owns it and shuts it down).
//! Must never: run a report on the caller's threads, queue one, or free a
//! slot before its report has ended (a caller that hangs up does not stop
//! ClickHouse, so its slot stays taken until the report ends or its deadline
//! passes).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::Semaphore;

use super::error::ReportError;

/// Threads of the reports' runtime. Reports mostly wait on ClickHouse; two
/// threads shape answers while others wait.
pub const THREADS: usize = 2;
/// The name of its threads, as `top -H` shows them.
pub const THREAD_NAME: &str = "beaconhouse-reports";

/// The runtime reports run on. Dropped (on any path out of `serve`, an
/// error at start included), it stops without waiting: `serve` drops it
/// from async code, where a runtime may not block on its threads.
pub struct ReportThreads {
    handle: Handle,
    /// Taken only when dropped.
    runtime: Option<Runtime>,
}

impl ReportThreads {
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl Drop for ReportThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Builds the runtime reports run on.
pub fn runtime() -> std::io::Result<ReportThreads> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .thread_name(THREAD_NAME)
        .enable_all()
        .build()
        .map(|runtime| ReportThreads {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
}

/// Runs reports on the reports' runtime, a bounded number at a time.
pub struct Bounded {
    runtime: Handle,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    deadline: Duration,
}

impl Bounded {
    /// Reports run on `runtime`, at most `max_concurrent` at once, each
    /// stopped after `deadline`.
    pub fn new(runtime: Handle, max_concurrent: usize, deadline: Duration) -> Bounded {
        Bounded {
            runtime,
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            deadline,
        }
    }

    /// Reports running now.
    pub fn running(&self) -> usize {
        self.max_concurrent - self.slots.available_permits()
    }

    /// Runs `report` on the reports' runtime if a slot is free, and waits
    /// for its answer; refuses at once with [`ReportError::Busy`] if none
    /// is. A report past the deadline is dropped (its queries are stopped
    /// by ClickHouse's own `max_execution_time`) and answers
    /// [`ReportError::TooSlow`].
    pub async fn run<T, F>(&self, report: F) -> Result<T, ReportError>
    where
        F: Future<Output = Result<T, ReportError>> + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| ReportError::Busy(self.max_concurrent))?;
        let deadline = self.deadline;
        let task = self.runtime.spawn(async move {
            let answer = tokio::time::timeout(deadline, report).await;
            drop(slot);
            answer
        });
        match task.await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_elapsed)) => Err(ReportError::TooSlow),
            Err(error) => {
                tracing::error!(%error, "a report task ended without an answer");
                Err(ReportError::Stopped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::sync::oneshot;

    /// A bounded pool on a reports' runtime, and a runtime to call it from
    /// (as an HTTP worker's).
    fn pool(max_concurrent: usize, deadline: Duration) -> (ReportThreads, Bounded, Runtime) {
        let reports = runtime().unwrap();
        let bounded = Bounded::new(reports.handle(), max_concurrent, deadline);
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (reports, bounded, caller)
    }

    /// Waits until no report runs (panics after ten seconds), then runs one.
    async fn runs_again(bounded: &Bounded) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while bounded.running() > 0 {
            assert!(Instant::now() < deadline, "a slot was never freed");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(bounded.run(async { Ok(()) }).await.is_ok());
    }

    #[test]
    fn reports_run_on_their_own_threads() {
        let (_reports, bounded, caller) = pool(2, Duration::from_secs(10));
        let thread = caller
            .block_on(bounded.run(async { Ok(std::thread::current().name().map(String::from)) }));
        assert_eq!(thread.unwrap().as_deref(), Some(THREAD_NAME));
        assert_ne!(std::thread::current().name(), Some(THREAD_NAME));
    }

    /// A report that runs until `release` is sent.
    fn until_released() -> (
        oneshot::Sender<()>,
        impl Future<Output = Result<(), ReportError>> + Send + 'static,
    ) {
        let (release, released) = oneshot::channel::<()>();
        (release, async move {
            let _ = released.await;
            Ok(())
        })
    }

    /// Asserts that the only slot is taken.
    async fn refused(bounded: &Bounded) {
        let answer = bounded.run(async { Ok(()) }).await;
        assert!(matches!(answer, Err(ReportError::Busy(1))), "{answer:?}");
        assert_eq!(bounded.running(), 1);
    }

    #[test]
    fn a_full_pool_refuses_at_once_and_a_slot_frees_when_its_report_ends() {
        let (_reports, bounded, caller) = pool(1, Duration::from_secs(10));
        caller.block_on(async {
            let (release, report) = until_released();
            let first = bounded.run(report);
            let second = async {
                // The first has its slot once it is polled.
                tokio::task::yield_now().await;
                refused(&bounded).await;
                let _ = release.send(());
            };
            let (first, ()) = tokio::join!(first, second);
            assert!(first.is_ok());
            runs_again(&bounded).await;
        });
    }

    #[test]
    fn a_caller_that_stops_waiting_keeps_the_slot_until_the_report_ends() {
        let (_reports, bounded, caller) = pool(1, Duration::from_secs(10));
        caller.block_on(async {
            let (release, report) = until_released();
            let gave_up =
                tokio::time::timeout(Duration::from_millis(10), bounded.run(report)).await;
            assert!(gave_up.is_err(), "the caller stopped waiting");
            refused(&bounded).await;
            let _ = release.send(());
            runs_again(&bounded).await;
        });
    }

    #[test]
    fn a_report_past_its_deadline_is_too_slow_and_frees_its_slot() {
        let (_reports, bounded, caller) = pool(1, Duration::from_millis(20));
        caller.block_on(async {
            let slow = bounded.run(async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            });
            assert!(matches!(slow.await, Err(ReportError::TooSlow)));
            runs_again(&bounded).await;
        });
    }
}
