//! The rows the collector stores: one `events` row per accepted page view or
//! custom event, one `email_opens` row per accepted open, and the random id
//! each row carries.
//!
//! Owns: the exact column order of `events` and `email_opens` (rows are sent as
//! `RowBinary`, so field order is the table's), and the spool's record type.
//! Must never: carry an IP address, a user agent or a recipient token: rows are
//! built by `ingest` from already-hashed, already-coarsened values. This module
//! sits on the ground floor and imports nothing of the crate.

use serde::{Deserialize, Serialize};

/// A row of `events`, fields in column order (rows are sent as `RowBinary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
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
    /// The `device` column's `Enum8` value (`enrich::ua::Device`).
    pub device: i8,
    /// See [`next_event_id`].
    pub event_id: u64,
}

/// A row of `email_opens`, fields in column order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct OpenRow {
    pub campaign: String,
    pub ts: u32,
    pub recipient_id: u64,
    pub proxied: u8,
    pub country: String,
    pub client: String,
    /// See [`next_event_id`].
    pub open_id: u64,
}

/// Anything the batcher ships.
// Nearly every record is an event, so boxing the larger variant would add an
// allocation to almost every hit to save memory only on opens.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    Event(EventRow),
    Open(OpenRow),
}

thread_local! {
    static EVENT_IDS: std::cell::Cell<u64> = std::cell::Cell::new(seed());
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    // Without an OS random source the ids are still unique per thread, just guessable.
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes) | 1
}

/// A random id for one row, used to recognise a row ClickHouse already holds
/// when a batch is retried. Random, so it links the row to nothing.
pub fn next_event_id() -> u64 {
    EVENT_IDS.with(|state| {
        // splitmix64: a full-period generator whose output is well mixed.
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_do_not_repeat() {
        let ids: std::collections::HashSet<u64> = (0..100_000).map(|_| next_event_id()).collect();
        assert_eq!(ids.len(), 100_000);
    }
}
