//! The path from an accepted hit to ClickHouse: rows, the bounded queue the
//! request path drops them into, and the batcher that drains it.
//!
//! Owns: the row types (the exact column order of `events` and `email_opens`)
//! and the queue's back-pressure rule: the request path never waits; when the
//! queue is full the row is dropped and counted.
//! Must never: carry an IP address, a user agent or a recipient token: rows are
//! built by `ingest` from already-hashed, already-coarsened values.

pub mod batcher;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::metrics::DropReason;

/// A row of `events`, fields in column order (rows are sent as `RowBinary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct EventRow {
    pub site: String,
    /// Seconds since the epoch, UTC.
    pub ts: u32,
    pub name: String,
    pub visitor_id: u64,
    pub path: String,
    pub title: String,
    pub referrer_host: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_term: String,
    pub utm_content: String,
    pub country: String,
    pub region: String,
    pub city: String,
    pub browser: String,
    pub os: String,
    /// `Enum8` value, see [`crate::enrich::ua::Device`].
    pub device: i8,
}

/// A row of `email_opens`, fields in column order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct OpenRow {
    pub campaign: String,
    pub ts: u32,
    pub recipient_id: u64,
    pub proxied: u8,
    pub country: String,
    pub client: String,
}

/// Anything the batcher ships.
// Nearly every record is an event, so boxing the larger variant would add an
// allocation to almost every hit to save memory only on opens.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Event(EventRow),
    Open(OpenRow),
}

/// The request path's end of the queue.
#[derive(Debug, Clone)]
pub struct Queue {
    sender: mpsc::Sender<Record>,
}

/// The batcher's end of the queue.
pub type QueueReceiver = mpsc::Receiver<Record>;

impl Queue {
    pub fn bounded(capacity: usize) -> (Queue, QueueReceiver) {
        let (sender, receiver) = mpsc::channel(capacity);
        (Queue { sender }, receiver)
    }

    /// Hands a record to the batcher without waiting.
    pub fn offer(&self, record: Record) -> Result<(), DropReason> {
        self.sender
            .try_send(record)
            .map_err(|_| DropReason::QueueFull)
    }

    /// Records waiting for the batcher.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Record {
        Record::Open(OpenRow {
            campaign: "c".into(),
            ts: 1,
            recipient_id: 2,
            proxied: 0,
            country: String::new(),
            client: String::new(),
        })
    }

    #[test]
    fn a_full_queue_refuses_without_waiting() {
        let (queue, mut receiver) = Queue::bounded(2);
        assert_eq!(queue.offer(open()), Ok(()));
        assert_eq!(queue.offer(open()), Ok(()));
        assert_eq!(queue.depth(), 2);
        assert_eq!(queue.offer(open()), Err(DropReason::QueueFull));
        assert_eq!(receiver.try_recv().ok(), Some(open()));
        assert_eq!(queue.offer(open()), Ok(()));
    }
}
