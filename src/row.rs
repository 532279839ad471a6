//! The rows the collector stores: one `events` row per accepted page view or
//! custom event, one `email_opens` row per accepted open, one `email_clicks`
//! row per accepted click, and the random id each row carries.
//!
//! Owns: the exact column order of `events`, `email_opens` and
//! `email_clicks` (rows are sent as `RowBinary`, so field order is the
//! table's), the spool's record type, and the rows' `RowBinary` encoding
//! ([`row_binary`]).
//! Must never: carry an IP address, a user agent or a recipient token: rows are
//! built by `ingest` from already-hashed, already-coarsened values. This module
//! sits on the ground floor and imports nothing of the crate.

pub mod row_binary;

use serde::{Deserialize, Serialize};

/// The `name` of a page view's row; any other name is a custom event's.
pub const PAGEVIEW: &str = "pageview";
/// Longest `name` of a custom event, in characters.
pub const MAX_EVENT_NAME_CHARS: usize = 64;

/// A row of `events`, fields in column order (rows are sent as `RowBinary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct EventRow {
    pub site: String,
    /// Seconds since the epoch, UTC.
    pub ts: u32,
    pub name: String,
    pub visitor_id: u64,
    pub path: String,
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
    /// The kept properties' keys, in order (`enrich::props`), and their
    /// values: `prop_values[i]` is the value of `prop_keys[i]`.
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
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

/// A row of `email_clicks`, fields in column order: what a click needs and
/// nothing more (no address, user agent, country or client; the link's host
/// and path, no query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct ClickRow {
    pub campaign: String,
    pub ts: u32,
    /// The same id the recipient's opens of the campaign carry.
    pub recipient_id: u64,
    /// The destination's host and path, scrubbed; both empty for the honeypot.
    pub link_host: String,
    pub link_path: String,
    /// What the request showed of a scanner (`enrich::scanner::Signal::code`),
    /// 0 for nothing.
    pub scanner: u8,
    /// 1 for a click on the honeypot link.
    pub honeypot: u8,
    /// See [`next_event_id`].
    pub click_id: u64,
}

/// Anything the batcher ships.
///
/// The spool holds a record as its row in `RowBinary` behind a table tag
/// ([`row_binary`]). Versions before that spooled it with postcard, tagged
/// by variant number, and those records are still read, so an upgrade loses
/// nothing spooled: 1 is an open, 3 an event, 4 a click, 2 an event spooled
/// before properties were kept (it has none), 0 one spooled by versions that
/// stored page titles (the title is dropped on reading).
// Nearly every record is an event, so boxing the larger variant would add an
// allocation to almost every hit to save memory only on opens.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "Spooled")]
pub enum Record {
    Event(EventRow),
    Open(OpenRow),
    Click(ClickRow),
}

/// Every record layout the spool may hold, in variant-number order.
#[derive(Deserialize)]
enum Spooled {
    TitledEvent(TitledEventRow),
    Open(OpenRow),
    UnpropertiedEvent(UnpropertiedEventRow),
    Event(EventRow),
    Click(ClickRow),
}

/// An event as spooled before properties were kept: the fields of
/// [`EventRow`] up to `event_id`.
#[derive(Deserialize)]
struct UnpropertiedEventRow {
    site: String,
    ts: u32,
    name: String,
    visitor_id: u64,
    path: String,
    referrer_host: String,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    utm_term: String,
    utm_content: String,
    country: String,
    region: String,
    city: String,
    browser: String,
    os: String,
    device: i8,
    event_id: u64,
}

/// An event as spooled before titles stopped being stored.
#[derive(Deserialize)]
struct TitledEventRow {
    site: String,
    ts: u32,
    name: String,
    visitor_id: u64,
    path: String,
    _title: String,
    referrer_host: String,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    utm_term: String,
    utm_content: String,
    country: String,
    region: String,
    city: String,
    browser: String,
    os: String,
    device: i8,
    event_id: u64,
}

impl From<Spooled> for Record {
    fn from(spooled: Spooled) -> Record {
        match spooled {
            Spooled::Event(row) => Record::Event(row),
            Spooled::Open(row) => Record::Open(row),
            Spooled::Click(row) => Record::Click(row),
            Spooled::UnpropertiedEvent(old) => Record::Event(old.into()),
            Spooled::TitledEvent(old) => Record::Event(UnpropertiedEventRow::from(old).into()),
        }
    }
}

impl From<TitledEventRow> for UnpropertiedEventRow {
    fn from(old: TitledEventRow) -> UnpropertiedEventRow {
        UnpropertiedEventRow {
            site: old.site,
            ts: old.ts,
            name: old.name,
            visitor_id: old.visitor_id,
            path: old.path,
            referrer_host: old.referrer_host,
            utm_source: old.utm_source,
            utm_medium: old.utm_medium,
            utm_campaign: old.utm_campaign,
            utm_term: old.utm_term,
            utm_content: old.utm_content,
            country: old.country,
            region: old.region,
            city: old.city,
            browser: old.browser,
            os: old.os,
            device: old.device,
            event_id: old.event_id,
        }
    }
}

impl From<UnpropertiedEventRow> for EventRow {
    fn from(old: UnpropertiedEventRow) -> EventRow {
        EventRow {
            site: old.site,
            ts: old.ts,
            name: old.name,
            visitor_id: old.visitor_id,
            path: old.path,
            referrer_host: old.referrer_host,
            utm_source: old.utm_source,
            utm_medium: old.utm_medium,
            utm_campaign: old.utm_campaign,
            utm_term: old.utm_term,
            utm_content: old.utm_content,
            country: old.country,
            region: old.region,
            city: old.city,
            browser: old.browser,
            os: old.os,
            device: old.device,
            event_id: old.event_id,
            prop_keys: Vec::new(),
            prop_values: Vec::new(),
        }
    }
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
    fn records_spooled_with_a_title_are_read_without_it() {
        // The layout of an event before titles were dropped, as postcard
        // wrote it: variant 0, then the fields in order.
        #[derive(Serialize)]
        enum Old {
            Event(OldEvent),
        }
        #[derive(Serialize)]
        struct OldEvent {
            site: &'static str,
            ts: u32,
            name: &'static str,
            visitor_id: u64,
            path: &'static str,
            title: &'static str,
            rest: [&'static str; 11],
            device: i8,
            event_id: u64,
        }
        let old = Old::Event(OldEvent {
            site: "optimumabq.com",
            ts: 7,
            name: "pageview",
            visitor_id: 9,
            path: "/reset",
            title: "Password reset for carol@example.com",
            rest: [
                "google.com",
                "s",
                "m",
                "c",
                "t",
                "x",
                "US",
                "US-NM",
                "Albuquerque",
                "Firefox",
                "Linux",
            ],
            device: 1,
            event_id: 42,
        });
        let bytes = postcard::to_stdvec(&old).unwrap();
        let Record::Event(row) = postcard::from_bytes::<Record>(&bytes).unwrap() else {
            panic!("an old event reads as an event");
        };
        assert_eq!(
            (row.path.as_str(), row.referrer_host.as_str()),
            ("/reset", "google.com")
        );
        assert_eq!(
            (row.os.as_str(), row.device, row.event_id),
            ("Linux", 1, 42)
        );
        assert!(!format!("{row:?}").contains("carol"));
    }

    #[test]
    fn events_spooled_before_properties_are_read_with_none() {
        // The layout of an event before properties were kept, as postcard
        // wrote it: variant 2 (one varint byte), then the fields in order.
        #[derive(Serialize)]
        struct OldEvent {
            site: &'static str,
            ts: u32,
            name: &'static str,
            visitor_id: u64,
            rest: [&'static str; 12],
            device: i8,
            event_id: u64,
        }
        let old = OldEvent {
            site: "optimumabq.com",
            ts: 7,
            name: "book_tour",
            visitor_id: 9,
            rest: [
                "/tour", "", "", "", "", "", "", "US", "", "", "Firefox", "Linux",
            ],
            device: 1,
            event_id: 42,
        };
        let mut bytes = vec![2];
        bytes.extend(postcard::to_stdvec(&old).unwrap());
        let Record::Event(row) = postcard::from_bytes::<Record>(&bytes).unwrap() else {
            panic!("an old event reads as an event");
        };
        assert_eq!(
            (row.name.as_str(), row.path.as_str(), row.os.as_str()),
            ("book_tour", "/tour", "Linux")
        );
        assert_eq!((row.device, row.event_id), (1, 42));
        assert!(row.prop_keys.is_empty() && row.prop_values.is_empty());
    }

    #[test]
    fn records_spooled_by_the_last_postcard_version_read_back() {
        // That version wrote the variant number (one varint byte), then the
        // row's fields in order.
        fn spooled<T: Serialize>(variant: u8, row: &T) -> Vec<u8> {
            let mut bytes = vec![variant];
            bytes.extend(postcard::to_stdvec(row).unwrap());
            bytes
        }
        let open = OpenRow {
            campaign: "nov".into(),
            ts: 1,
            recipient_id: 2,
            proxied: 1,
            country: "US".into(),
            client: "Gmail".into(),
            open_id: 3,
        };
        let event = EventRow {
            site: "optimumabq.com".into(),
            ts: 1,
            name: "book_tour".into(),
            visitor_id: 2,
            path: "/tour".into(),
            referrer_host: String::new(),
            utm_source: String::new(),
            utm_medium: String::new(),
            utm_campaign: String::new(),
            utm_term: String::new(),
            utm_content: String::new(),
            country: "US".into(),
            region: String::new(),
            city: String::new(),
            browser: "Firefox".into(),
            os: "Linux".into(),
            device: 1,
            event_id: 3,
            prop_keys: vec!["location".into(), "plan".into()],
            prop_values: vec!["Downtown".into(), "monthly".into()],
        };
        let click = ClickRow {
            campaign: "nov".into(),
            ts: 1,
            recipient_id: 2,
            link_host: "optimumabq.com".into(),
            link_path: "/tour".into(),
            scanner: 4,
            honeypot: 0,
            click_id: 3,
        };
        let read = |bytes: Vec<u8>| postcard::from_bytes::<Record>(&bytes).unwrap();
        assert_eq!(read(spooled(1, &open)), Record::Open(open));
        assert_eq!(read(spooled(3, &event)), Record::Event(event));
        assert_eq!(read(spooled(4, &click)), Record::Click(click));
    }

    #[test]
    fn event_ids_do_not_repeat() {
        let ids: std::collections::HashSet<u64> = (0..100_000).map(|_| next_event_id()).collect();
        assert_eq!(ids.len(), 100_000);
    }
}
