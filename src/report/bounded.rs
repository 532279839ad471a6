//! The bounded path every report of `serve` takes: on a runtime of its own,
//! never on the threads that answer hits; at most `reporting.max_concurrent`
//! at a time; each within `reporting.query_timeout_ms`.
//!
//! Owns: admission (a free slot, or a turn in a short queue that is fair
//! between callers, or a refusal once `reporting.queue_timeout_ms` has
//! passed or the queue is full), the deadline of a whole report, stopping a
//! report whose caller has gone, and how the reports' runtime is built
//! (`serve` owns it and shuts it down).
//! Must never: run a report on the caller's threads, let one caller's
//! waiting reports go before another's turn, or keep a slot for a caller
//! that has hung up (its report is dropped, and dropped statements are
//! killed in ClickHouse: `engine`).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::ReportError;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

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

/// How many reports may wait per slot: three dashboards opened at once
/// ask for some 30 reports, and 8 slots hold 64 waiting.
pub const QUEUED_PER_SLOT: usize = 8;

/// Runs reports on the reports' runtime, a bounded number at a time.
pub struct Bounded {
    runtime: Handle,
    admission: Arc<Admission>,
    deadline: Duration,
}

impl Bounded {
    /// Reports run on `runtime`, at most `max_concurrent` at once, each
    /// stopped after `deadline`; one that finds every slot taken waits up
    /// to `queue_timeout` for its turn.
    pub fn new(
        runtime: Handle,
        max_concurrent: usize,
        deadline: Duration,
        queue_timeout: Duration,
    ) -> Bounded {
        Bounded {
            runtime,
            admission: Arc::new(Admission {
                queue: Mutex::new(Queue {
                    free: max_concurrent,
                    ..Queue::default()
                }),
                max_concurrent,
                max_waiting: max_concurrent * QUEUED_PER_SLOT,
                queue_timeout,
            }),
            deadline,
        }
    }

    /// Reports running now.
    pub fn running(&self) -> usize {
        self.admission.max_concurrent - self.admission.lock().free
    }

    /// Reports waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.admission.lock().waiting
    }

    /// Runs `report` for `caller` (who is reading: reports of different
    /// callers take turns) on the reports' runtime once a slot is free, and
    /// waits for its answer. With no slot free within the queue's timeout,
    /// or the queue full, answers [`ReportError::Busy`] or
    /// [`ReportError::QueueFull`]. A report past the deadline is dropped
    /// and answers [`ReportError::TooSlow`]. Dropping the returned future
    /// (the caller hung up) gives up its turn or drops its report at once.
    pub async fn run<T, F>(&self, caller: &str, report: F) -> Result<T, ReportError>
    where
        F: Future<Output = Result<T, ReportError>> + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::clone(&self.admission).acquire(caller).await?;
        let deadline = self.deadline;
        let mut task = self.runtime.spawn(async move {
            let answer = tokio::time::timeout(deadline, report).await;
            drop(slot);
            answer
        });
        let _stop_if_dropped = AbortOnDrop(task.abort_handle());
        match (&mut task).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_elapsed)) => Err(ReportError::TooSlow),
            Err(error) => {
                tracing::error!(%error, "a report task ended without an answer");
                Err(ReportError::Stopped)
            }
        }
    }
}

/// Aborts a report's task when its caller stops waiting for it: the task
/// drops the report, and with it the slot.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The slots, and the reports waiting for one.
struct Admission {
    queue: Mutex<Queue>,
    max_concurrent: usize,
    max_waiting: usize,
    queue_timeout: Duration,
}

#[derive(Default)]
struct Queue {
    /// Slots no report holds or is being handed.
    free: usize,
    /// Callers with reports waiting, in the order of their next turn. A
    /// caller is here exactly when `by_caller` holds reports of theirs.
    turns: VecDeque<String>,
    /// Each caller's waiting reports, oldest first, by ticket.
    by_caller: HashMap<String, VecDeque<(u64, oneshot::Sender<Slot>)>>,
    waiting: usize,
    next_ticket: u64,
}

impl Queue {
    /// The oldest report of the caller whose turn it is; that caller's
    /// next report waits for their next turn.
    fn next(&mut self) -> Option<oneshot::Sender<Slot>> {
        let caller = self.turns.pop_front()?;
        let reports = self.by_caller.get_mut(&caller)?;
        let (_, sender) = reports.pop_front()?;
        self.waiting -= 1;
        if reports.is_empty() {
            self.by_caller.remove(&caller);
        } else {
            self.turns.push_back(caller);
        }
        Some(sender)
    }

    /// Takes `ticket` out of the queue, if it is still there.
    fn leave(&mut self, caller: &str, ticket: u64) {
        let Some(reports) = self.by_caller.get_mut(caller) else {
            return;
        };
        let before = reports.len();
        reports.retain(|(t, _)| *t != ticket);
        self.waiting -= before - reports.len();
        if reports.is_empty() {
            self.by_caller.remove(caller);
            self.turns.retain(|c| c != caller);
        }
    }
}

impl Admission {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot: at once if one is free, else after the reports ahead of
    /// this one in turn.
    async fn acquire(self: Arc<Self>, caller: &str) -> Result<Slot, ReportError> {
        let (ticket, handed) = {
            let mut queue = self.lock();
            // A free slot means nothing waits: a freed slot goes to the
            // next waiting report before it is counted free.
            if queue.free > 0 {
                queue.free -= 1;
                return Ok(Slot::new(&self));
            }
            if self.queue_timeout.is_zero() {
                return Err(ReportError::Busy(self.max_concurrent));
            }
            if queue.waiting >= self.max_waiting {
                return Err(ReportError::QueueFull(queue.waiting));
            }
            let (sender, handed) = oneshot::channel();
            let ticket = queue.next_ticket;
            queue.next_ticket += 1;
            queue.waiting += 1;
            if !queue.by_caller.contains_key(caller) {
                queue.turns.push_back(caller.to_string());
            }
            queue
                .by_caller
                .entry(caller.to_string())
                .or_default()
                .push_back((ticket, sender));
            (ticket, handed)
        };
        let _leave = Leave {
            admission: &self,
            caller,
            ticket,
        };
        match tokio::time::timeout(self.queue_timeout, handed).await {
            Ok(Ok(slot)) => Ok(slot),
            // A slot handed over just as the wait ended is dropped with the
            // channel, and so goes to the next report.
            _ => Err(ReportError::Busy(self.max_concurrent)),
        }
    }

    /// Hands a freed slot to the next waiting report, or counts it free.
    fn release(self: &Arc<Self>) {
        loop {
            let next = {
                let mut queue = self.lock();
                match queue.next() {
                    Some(next) => next,
                    None => {
                        queue.free += 1;
                        return;
                    }
                }
            };
            // Sent outside the lock: a slot sent back (its report stopped
            // waiting in between) must not release itself under it.
            match next.send(Slot::new(self)) {
                Ok(()) => return,
                Err(mut unwanted) => unwanted.admission = None,
            }
        }
    }
}
/// A slot, held by a running report (or on its way to one): dropped, it
/// goes to the next report.
struct Slot {
    /// `None` once the slot has been taken back without a report.
    admission: Option<Arc<Admission>>,
}

impl Slot {
    fn new(admission: &Arc<Admission>) -> Slot {
        Slot {
            admission: Some(Arc::clone(admission)),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(admission) = self.admission.take() {
            admission.release();
        }
    }
}

/// Takes a waiting report out of the queue when it stops waiting, for
/// whatever reason: its turn came (then it is gone already), its time ran
/// out, or its caller hung up.
struct Leave<'a> {
    admission: &'a Admission,
    caller: &'a str,
    ticket: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.admission.lock().leave(self.caller, self.ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A bounded pool on a reports' runtime, and a runtime to call it from
    /// (as an HTTP worker's).
    fn pool(max_concurrent: usize, queue_timeout: Duration) -> (ReportThreads, Bounded, Runtime) {
        let reports = runtime().unwrap();
        let bounded = Bounded::new(
            reports.handle(),
            max_concurrent,
            Duration::from_secs(10),
            queue_timeout,
        );
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
        assert!(bounded.run("a", async { Ok(()) }).await.is_ok());
        assert_eq!(bounded.waiting(), 0);
    }

    /// A report that runs until `release` is sent, and says when it was
    /// dropped (ended or stopped).
    fn until_released() -> (
        oneshot::Sender<()>,
        oneshot::Receiver<()>,
        impl Future<Output = Result<(), ReportError>> + Send + 'static,
    ) {
        let (release, released) = oneshot::channel::<()>();
        let (dropped, on_drop) = oneshot::channel::<()>();
        (release, on_drop, async move {
            let _dropped = dropped;
            let _ = released.await;
            Ok(())
        })
    }

    #[test]
    fn reports_run_on_their_own_threads() {
        let (_reports, bounded, caller) = pool(2, Duration::ZERO);
        let thread = caller.block_on(bounded.run("a", async {
            Ok(std::thread::current().name().map(String::from))
        }));
        assert_eq!(thread.unwrap().as_deref(), Some(THREAD_NAME));
        assert_ne!(std::thread::current().name(), Some(THREAD_NAME));
    }

    #[test]
    fn without_a_queue_a_full_pool_refuses_at_once() {
        let (_reports, bounded, caller) = pool(1, Duration::ZERO);
        caller.block_on(async {
            let (release, _, report) = until_released();
            let first = bounded.run("a", report);
            let second = async {
                // The first has its slot once it is polled.
                tokio::task::yield_now().await;
                let answer = bounded.run("b", async { Ok(()) }).await;
                assert!(matches!(answer, Err(ReportError::Busy(1))), "{answer:?}");
                let _ = release.send(());
            };
            let (first, ()) = tokio::join!(first, second);
            assert!(first.is_ok());
            runs_again(&bounded).await;
        });
    }

    #[test]
    fn a_waiting_report_runs_when_a_slot_frees_and_is_refused_past_the_queue_timeout() {
        let (_reports, bounded, caller) = pool(1, Duration::from_millis(200));
        caller.block_on(async {
            let (release, _, report) = until_released();
            let first = bounded.run("a", report);
            let waits = async {
                tokio::task::yield_now().await;
                let started = Instant::now();
                let answer = bounded.run("b", async { Ok(()) }).await;
                assert!(matches!(answer, Err(ReportError::Busy(1))), "{answer:?}");
                assert!(started.elapsed() >= Duration::from_millis(200));
                let second = bounded.run("b", async { Ok("second") });
                let release = async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    assert_eq!(bounded.waiting(), 1);
                    let _ = release.send(());
                };
                let (second, ()) = tokio::join!(second, release);
                assert_eq!(second.unwrap(), "second");
            };
            let (first, ()) = tokio::join!(first, waits);
            assert!(first.is_ok());
            runs_again(&bounded).await;
        });
    }

    #[test]
    fn callers_take_turns_and_each_callers_reports_keep_their_order() {
        let (_reports, bounded, caller) = pool(1, Duration::from_secs(10));
        let order = Arc::new(Mutex::new(Vec::new()));
        caller.block_on(async {
            let (release, _, report) = until_released();
            let first = bounded.run("a", report);
            let queued = async {
                tokio::task::yield_now().await;
                // "a" reloads four times before "b" asks once.
                let ask = |caller: &'static str, n: u32| {
                    let order = Arc::clone(&order);
                    bounded.run(caller, async move {
                        order.lock().unwrap().push(format!("{caller}{n}"));
                        Ok(())
                    })
                };
                let release = async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    assert_eq!(bounded.waiting(), 6);
                    let _ = release.send(());
                };
                let answers = tokio::join!(
                    ask("a", 1),
                    ask("a", 2),
                    ask("a", 3),
                    ask("a", 4),
                    ask("b", 1),
                    ask("b", 2),
                    release
                );
                assert!(answers.0.is_ok() && answers.4.is_ok() && answers.5.is_ok());
            };
            let (first, ()) = tokio::join!(first, queued);
            assert!(first.is_ok());
        });
        assert_eq!(*order.lock().unwrap(), ["a1", "b1", "a2", "b2", "a3", "a4"]);
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let (_reports, bounded, caller) = pool(1, Duration::from_secs(10));
        caller.block_on(async {
            let (release, _, report) = until_released();
            let first = bounded.run("a", report);
            let queued = async {
                tokio::task::yield_now().await;
                let waiting: Vec<_> = (0..QUEUED_PER_SLOT)
                    .map(|_| Box::pin(bounded.run("a", async { Ok(()) })))
                    .collect();
                let waiting = futures_util::future::join_all(waiting);
                let refused = async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let answer = bounded.run("b", async { Ok(()) }).await;
                    assert!(
                        matches!(answer, Err(ReportError::QueueFull(QUEUED_PER_SLOT))),
                        "{answer:?}"
                    );
                    let _ = release.send(());
                };
                let (answers, ()) = tokio::join!(waiting, refused);
                assert!(answers.iter().all(Result::is_ok));
            };
            let (first, ()) = tokio::join!(first, queued);
            assert!(first.is_ok());
            runs_again(&bounded).await;
        });
    }

    #[test]
    fn a_caller_that_hangs_up_frees_its_slot_and_its_turn_at_once() {
        let (_reports, bounded, caller) = pool(1, Duration::from_secs(10));
        caller.block_on(async {
            let (_release, stopped, report) = until_released();
            let gave_up =
                tokio::time::timeout(Duration::from_millis(10), bounded.run("a", report)).await;
            assert!(gave_up.is_err(), "the caller stopped waiting");
            // The report itself was dropped on the reports' runtime.
            assert!(stopped.await.is_err());
            runs_again(&bounded).await;
            let (release, _, report) = until_released();
            let hold = bounded.run("a", report);
            let hang_up_while_waiting = async {
                tokio::task::yield_now().await;
                let waiting = bounded.run("b", async { Ok(()) });
                assert!(
                    tokio::time::timeout(Duration::from_millis(5), waiting)
                        .await
                        .is_err()
                );
                assert_eq!(bounded.waiting(), 0, "its turn is given up");
                let _ = release.send(());
            };
            let (held, ()) = tokio::join!(hold, hang_up_while_waiting);
            assert!(held.is_ok());
            runs_again(&bounded).await;
        });
    }

    #[test]
    fn a_report_past_its_deadline_is_too_slow_and_frees_its_slot() {
        let reports = runtime().unwrap();
        let bounded = Bounded::new(
            reports.handle(),
            1,
            Duration::from_millis(20),
            Duration::ZERO,
        );
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        caller.block_on(async {
            let slow = bounded.run("a", async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            });
            assert!(matches!(slow.await, Err(ReportError::TooSlow)));
            runs_again(&bounded).await;
        });
    }
}
