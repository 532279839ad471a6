//! beaconhouse: a privacy-respecting web analytics collector.
//!
//! # Layout
//!
//! A hit flows through these modules, in this order:
//!
//! - [`http`]: the endpoints; parses a request into plain values and answers.
//! - [`ingest`]: runs the decisions on one hit and builds its row, or names
//!   the [`metrics::DropReason`] it is not stored for.
//!   - [`privacy`]: consent (DNT/GPC), client address, hashing and salts.
//!   - [`enrich`]: URL/referrer cleaning, user-agent classes and bots, GeoIP,
//!     mail clients and image proxies.
//! - [`spool`]: appends each row to checksummed segment files on disk.
//! - [`pipeline`]: the row types, and the shipper that reads the spool and
//!   inserts batches (dead-lettering what ClickHouse rejects).
//! - [`sink`]: inserts batches into ClickHouse and decides what to retry.
//!
//! Reading is separate: [`report`] answers aggregate-only reports (summary,
//! time series, breakdowns, email campaigns) from the daily rollup, for
//! `http::stats` and `beaconhouse report`.
//!
//! Around them: [`config`] (one validated struct), [`migrate`] (the `schema/`
//! files), [`metrics`] (counters for `/metrics`), [`rate_limit`] (per-client buckets),
//! [`serve`] (wiring), and [`clock`] (UTC seconds and days).
//!
//! Invariant for all of them: an IP address, a full user agent or a raw
//! recipient token never leaves the request's stack frame: not into a row,
//! not into the spool, not into a log line.

pub mod clock;
pub mod config;
pub mod enrich;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod migrate;
pub mod pipeline;
pub mod privacy;
pub mod rate_limit;
pub mod report;
pub mod serve;
pub mod sink;
pub mod spool;
