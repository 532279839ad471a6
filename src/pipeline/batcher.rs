//! Drains the queue into ClickHouse in batches: a batch is sent when it has
//! `batch_rows` rows or its oldest row is `flush_interval` old.
//!
//! A batch ClickHouse cannot take right now is retried with capped, jittered
//! exponential backoff; meanwhile the queue fills and the request path counts
//! what it cannot hand over. A batch ClickHouse rejects as malformed is dropped
//! and counted, never retried forever. When the queue closes (shutdown) the
//! batcher delivers what it holds, retrying until `shutdown_timeout`.
//! Must never: log row contents.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use super::{EventRow, OpenRow, QueueReceiver, Record};
use crate::metrics::{DropReason, Metrics};
use crate::sink::clickhouse::{ClickHouseSink, SinkError};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// When batches are cut and how long shutdown may take.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    pub batch_rows: usize,
    pub flush_interval: Duration,
    pub shutdown_timeout: Duration,
}

/// Runs until `shutdown` resolves (or every sender is gone), then delivers
/// everything still queued or held, giving up at the shutdown deadline.
pub async fn run(
    mut receiver: QueueReceiver,
    sink: ClickHouseSink,
    settings: BatchSettings,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut batches = Batches::default();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut closing = false;
    loop {
        let flush_at = batches.oldest.map(|t| t + settings.flush_interval);
        tokio::select! {
            received = receiver.recv() => match received {
                Some(record) => {
                    batches.push(record);
                    if batches.events.len() >= settings.batch_rows {
                        deliver_events(&sink, &mut batches, &metrics, None).await;
                    }
                    if batches.opens.len() >= settings.batch_rows {
                        deliver_opens(&sink, &mut batches, &metrics, None).await;
                    }
                }
                None => break,
            },
            () = &mut shutdown, if !closing => {
                // Stop new rows; those already queued are still received below.
                closing = true;
                receiver.close();
            }
            () = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() && !closing => {
                deliver_events(&sink, &mut batches, &metrics, None).await;
                deliver_opens(&sink, &mut batches, &metrics, None).await;
            }
        }
        metrics.set_queue_depth(receiver.len());
    }
    let deadline = Instant::now() + settings.shutdown_timeout;
    deliver_events(&sink, &mut batches, &metrics, Some(deadline)).await;
    deliver_opens(&sink, &mut batches, &metrics, Some(deadline)).await;
    tracing::info!("batcher stopped; queue delivered");
}

#[derive(Default)]
struct Batches {
    events: Vec<EventRow>,
    opens: Vec<OpenRow>,
    /// When the oldest row now held arrived.
    oldest: Option<Instant>,
}

impl Batches {
    fn push(&mut self, record: Record) {
        self.oldest.get_or_insert_with(Instant::now);
        match record {
            Record::Event(row) => self.events.push(row),
            Record::Open(row) => self.opens.push(row),
        }
    }

    fn after_delivery(&mut self) {
        if self.events.is_empty() && self.opens.is_empty() {
            self.oldest = None;
        }
    }
}

async fn deliver_events(
    sink: &ClickHouseSink,
    batches: &mut Batches,
    metrics: &Metrics,
    deadline: Option<Instant>,
) {
    if !batches.events.is_empty() {
        let rows = std::mem::take(&mut batches.events);
        deliver(rows.len(), metrics, deadline, || sink.insert_events(&rows)).await;
    }
    batches.after_delivery();
}

async fn deliver_opens(
    sink: &ClickHouseSink,
    batches: &mut Batches,
    metrics: &Metrics,
    deadline: Option<Instant>,
) {
    if !batches.opens.is_empty() {
        let rows = std::mem::take(&mut batches.opens);
        deliver(rows.len(), metrics, deadline, || sink.insert_opens(&rows)).await;
    }
    batches.after_delivery();
}

/// Sends one batch until it is stored, rejected, or `deadline` passes.
async fn deliver<F, Fut>(rows: usize, metrics: &Metrics, deadline: Option<Instant>, mut send: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), SinkError>>,
{
    let mut attempt = 0u32;
    loop {
        match send().await {
            Ok(()) => {
                metrics.stored(rows as u64);
                return;
            }
            Err(error @ SinkError::Rejected(_)) => {
                metrics.batch_failed();
                metrics.dropped_many(DropReason::Rejected, rows as u64);
                tracing::error!(%error, rows, "batch dropped");
                return;
            }
            Err(error @ SinkError::Retryable(_)) => {
                metrics.batch_failed();
                let wait = backoff(attempt, random_fraction());
                if deadline.is_some_and(|d| Instant::now() + wait > d) {
                    metrics.dropped_many(DropReason::ShutdownUndelivered, rows as u64);
                    tracing::error!(%error, rows, "shutdown deadline passed; batch not delivered");
                    return;
                }
                tracing::warn!(%error, rows, retry_in_ms = wait.as_millis() as u64, "insert failed");
                sleep(wait).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Exponential backoff capped at [`LONGEST_RETRY`], with "equal jitter": half
/// the step fixed, half random, so collectors that failed together spread out.
fn backoff(attempt: u32, jitter: f64) -> Duration {
    let step = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(LONGEST_RETRY);
    step / 2 + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(3, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(30, 1.0), LONGEST_RETRY);
        assert_eq!(backoff(30, 0.0), LONGEST_RETRY / 2);
        assert_eq!(backoff(u32::MAX, 7.0), LONGEST_RETRY);
    }

    #[test]
    fn random_fraction_is_a_fraction() {
        for _ in 0..1000 {
            let f = random_fraction();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
