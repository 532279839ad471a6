//! Ships spooled rows to ClickHouse: reads a batch (`batch_rows` rows, or
//! whatever arrived within `flush_interval` of its first row), inserts it,
//! then acknowledges it in the spool so its segments can be deleted.
//!
//! Failures: a batch ClickHouse cannot take now (down, slow, 5xx) is retried
//! with capped, jittered exponential backoff while the spool keeps filling,
//! each retry through the next configured endpoint (the sink moves on after
//! a failure); a batch it rejects as malformed goes to the dead-letter
//! directory and is counted. Nothing is acknowledged before it is stored or
//! dead-lettered.
//!
//! Duplicates: an insert that failed may still have been stored (a timeout
//! after ClickHouse committed), and the first batch after a restart may have
//! been stored before the crash. Before sending such a batch the shipper asks
//! ClickHouse which of its random row ids (`event_id`, `open_id`,
//! `click_id`) it already
//! holds in the batch's time range and sends only the others. This works on
//! ClickHouse 18.16, which has no `insert_deduplication_token`.
//!
//! On a cluster the replicated tables also drop a block identical to one
//! they stored (through any node: the sharding keys split a batch the same
//! way every time), which covers a retry whose check read a replica that had
//! not yet fetched the first attempt. The check remains what prevents
//! duplicates on a single server, for the first batch after a restart (cut
//! anew from the spool, so in general a different block), and for a retry
//! that comes after more than 100 other inserts into the shard (18.16's
//! `replicated_deduplication_window`). `tests/it/cluster.rs` measures what the
//! engine catches and what it does not.
//! Must never: log row contents.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::dead_letter::DeadLetter;
use crate::metrics::Metrics;
use crate::outcome::DropReason;
use crate::row::row_binary::{EncodedRows, Table, TableRow, TableRows};
use crate::row::{ClickRow, EventRow, OpenRow};
use crate::spool::SpoolReader;
use crate::store::clickhouse::{ClickHouseSink, SinkError};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub struct ShipSettings {
    pub batch_rows: usize,
    pub flush_interval: Duration,
    pub shutdown_timeout: Duration,
}

/// Ships until `shutdown` resolves and the spool is drained, or the shutdown
/// deadline passes (what is left stays in the spool for the next start).
pub async fn run(
    mut reader: SpoolReader,
    sink: ClickHouseSink,
    dead_letter: DeadLetter,
    settings: ShipSettings,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut stop = Stop {
        signal: Box::pin(shutdown),
        deadline: None,
        timeout: settings.shutdown_timeout,
    };
    // The batch in flight before a restart may already be stored.
    let mut maybe_stored = true;
    // Emptied by each delivery; its buffers are kept for the next batch.
    let mut rows = EncodedRows::default();
    loop {
        let mut end = None;
        let mut first_row_at: Option<Instant> = None;
        loop {
            match reader.read(&mut rows, settings.batch_rows) {
                Ok(progress) => {
                    if progress.damaged > 0 {
                        metrics.dropped_many(DropReason::Damaged, progress.damaged);
                        tracing::warn!(
                            damaged = progress.damaged,
                            "skipped damaged spool records (failed checksum or unreadable)"
                        );
                    }
                    if !rows.is_empty() {
                        first_row_at.get_or_insert_with(Instant::now);
                    }
                    end = Some(progress.end);
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read the spool; retrying in a second");
                    if !stop.sleep(Duration::from_secs(1)).await {
                        return;
                    }
                }
            }
            if rows.len() >= settings.batch_rows || (stop.stopping() && reader.caught_up()) {
                break;
            }
            let flush_at = first_row_at.map(|t| t + settings.flush_interval);
            if flush_at.is_some_and(|t| t <= Instant::now()) {
                break;
            }
            tokio::select! {
                () = reader.readable_changed() => {}
                () = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => break,
                () = stop.signalled() => {}
            }
        }
        if !rows.is_empty()
            && !deliver(
                &sink,
                &dead_letter,
                &mut rows,
                &metrics,
                &mut maybe_stored,
                &mut stop,
            )
            .await
        {
            tracing::warn!(
                "shutdown deadline passed; undelivered rows stay in the spool for the next start"
            );
            return;
        }
        if let Some(end) = end
            && let Err(error) = reader.acknowledge(end)
        {
            tracing::error!(%error, "cannot record delivery in the spool ledger; rows may be sent again after a restart (they are deduplicated)");
        }
        if stop.stopping() && reader.caught_up() {
            tracing::info!("spool drained");
            return;
        }
    }
}

/// The shutdown signal and the deadline it starts.
struct Stop<F> {
    signal: std::pin::Pin<Box<F>>,
    deadline: Option<Instant>,
    timeout: Duration,
}

impl<F: std::future::Future<Output = ()>> Stop<F> {
    fn stopping(&self) -> bool {
        self.deadline.is_some()
    }

    /// Resolves when the signal fires (once); never again after that.
    async fn signalled(&mut self) {
        if self.deadline.is_some() {
            return std::future::pending().await;
        }
        (&mut self.signal).await;
        self.deadline = Some(Instant::now() + self.timeout);
    }

    /// Waits `wait`, or less if shutdown starts meanwhile; `false` when the
    /// deadline comes first.
    async fn sleep(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            if self.deadline.is_some_and(|d| until > d) {
                return false;
            }
            tokio::select! {
                () = sleep_until(until) => return true,
                () = self.signalled() => {}
            }
        }
    }

    /// Runs `work`, giving up at the deadline (the signal may start it meanwhile).
    async fn bounded<T>(&mut self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            let deadline = self.deadline;
            tokio::select! {
                result = &mut work => return Some(result),
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => return None,
                () = self.signalled() => {}
            }
        }
    }
}

/// Inserts one batch; `false` when the deadline passed before it was stored.
async fn deliver<F: std::future::Future<Output = ()>>(
    sink: &ClickHouseSink,
    dead_letter: &DeadLetter,
    rows: &mut EncodedRows,
    metrics: &Metrics,
    maybe_stored: &mut bool,
    stop: &mut Stop<F>,
) -> bool {
    let mut attempt = 0u32;
    loop {
        let attempt_once = async {
            if *maybe_stored {
                skip_stored(sink, rows, metrics).await?;
            }
            for (table, table_rows) in rows.by_table() {
                ship(sink, dead_letter, table, table_rows, metrics).await?;
            }
            Ok::<(), SinkError>(())
        };
        let Some(outcome) = stop.bounded(attempt_once).await else {
            // Abandoned mid-insert: it may have landed.
            *maybe_stored = true;
            return false;
        };
        match outcome {
            Ok(()) => {
                *maybe_stored = false;
                return true;
            }
            Err(error) => {
                *maybe_stored = true;
                metrics.batch_failed();
                let wait = backoff(attempt, random_fraction());
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "insert failed");
                if !stop.sleep(wait).await {
                    return false;
                }
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Removes the rows ClickHouse already holds, by each table's time range
/// and the rows' random ids.
async fn skip_stored(
    sink: &ClickHouseSink,
    rows: &mut EncodedRows,
    metrics: &Metrics,
) -> Result<(), SinkError> {
    let before = rows.len();
    for (table, table_rows) in rows.by_table() {
        if let Some((from, to)) = table_rows.time_range() {
            let stored = sink.stored_ids(table, from, to).await?;
            table_rows.retain_ids(|id| !stored.contains(&id));
        }
    }
    let skipped = before - rows.len();
    if skipped > 0 {
        metrics.already_stored(skipped as u64);
        tracing::info!(skipped, "rows of a retried batch were already stored");
    }
    Ok(())
}

/// Inserts `rows` into `table`, or dead-letters them if ClickHouse rejects them;
/// empties `rows` either way. Errors are the retryable ones.
async fn ship(
    sink: &ClickHouseSink,
    dead_letter: &DeadLetter,
    table: Table,
    rows: &mut TableRows,
    metrics: &Metrics,
) -> Result<(), SinkError> {
    if rows.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    match sink.insert(table, rows).await {
        Ok(()) => {
            metrics.insert_took(started.elapsed());
            metrics.stored(rows.len() as u64);
        }
        Err(SinkError::Rejected(reason)) => {
            metrics.batch_failed();
            match write_dead_letter(dead_letter, table, &reason, rows, metrics) {
                Ok(path) => {
                    metrics.dropped_many(DropReason::DeadLettered, rows.len() as u64);
                    tracing::error!(
                        error = %reason,
                        rows = rows.len(),
                        file = %path.display(),
                        "ClickHouse rejected a batch; moved to the dead-letter directory"
                    );
                }
                Err(error) => {
                    return Err(SinkError::Retryable(format!(
                        "a rejected batch could not be written to {}: {error}",
                        dead_letter.dir().display()
                    )));
                }
            }
        }
        Err(error) => return Err(error),
    }
    rows.clear();
    Ok(())
}

/// Writes rejected rows decoded, so the operator reads them as JSON.
fn write_dead_letter(
    dead_letter: &DeadLetter,
    table: Table,
    reason: &str,
    rows: &TableRows,
    metrics: &Metrics,
) -> std::io::Result<std::path::PathBuf> {
    match table {
        Table::Events => write_decoded::<EventRow>(dead_letter, reason, rows, metrics),
        Table::EmailOpens => write_decoded::<OpenRow>(dead_letter, reason, rows, metrics),
        Table::EmailClicks => write_decoded::<ClickRow>(dead_letter, reason, rows, metrics),
    }
}

fn write_decoded<T: TableRow + serde::Serialize>(
    dead_letter: &DeadLetter,
    reason: &str,
    rows: &TableRows,
    metrics: &Metrics,
) -> std::io::Result<std::path::PathBuf> {
    // The rows were walked whole as they were read, so they decode.
    let decoded = rows.decode::<T>().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the rejected rows could not be decoded",
        )
    })?;
    dead_letter.write(T::TABLE.name(), reason, &decoded, metrics)
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
            assert!((0.0..1.0).contains(&random_fraction()));
        }
    }
}
