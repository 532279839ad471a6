//! beaconhouse: a privacy-respecting web analytics collector.
//!
//! # Layout
//!
//! Modules are declared below in the order they depend on each other: each
//! imports only modules above it, never one below.
//!
//! Ground floor, importing nothing of the crate:
//! - [`clock`]: UTC seconds and day numbers.
//! - [`outcome`]: [`outcome::DropReason`], why an answered hit was not stored.
//! - [`row`]: the rows of `events` and `email_opens`, and the spool's record.
//!
//! The decisions, pure functions over plain data:
//! - [`privacy`]: consent (DNT/GPC), client address, hashing, the salt rules,
//!   the retention rule.
//! - [`enrich`]: URL/referrer cleaning, user-agent classes and bots, GeoIP,
//!   mail clients and image proxies, event properties.
//! - [`goal`]: what reaches a site's goals and funnel steps.
//! - [`rate_limit`]: per-client token buckets.
//! - [`grant`]: signed, expiring dashboard sessions and shared links.
//!
//! Collection, in the order a hit flows (request → decision → enrichment →
//! spool → ClickHouse):
//! - [`spool`]: appends each row to checksummed segment files on disk.
//! - [`config`]: one validated struct, from a file and the environment.
//! - [`metrics`]: counters for `/metrics`; counts outcomes, decides nothing.
//! - [`store`]: the ClickHouse store: its clients (one per endpoint, tried
//!   in turn), inserts and the retry decision, statements and running them,
//!   the salts every collector shares, and dropping expired months;
//!   [`migrate`] applies `schema/`, or its cluster form.
//! - [`pipeline`]: the shipper that reads the spool and inserts batches
//!   (dead-lettering what ClickHouse rejects).
//! - [`ingest`]: runs the decisions on one hit and builds its row, or names
//!   the [`outcome::DropReason`] it is not stored for.
//!
//! Reading is separate: [`report`] answers aggregate-only reports (summary,
//! time series, breakdowns, goals, funnels, email campaigns) through
//! read-only clients, and imports nothing of the collection path but
//! [`store`] (of the decisions, the goals, the property keys and the email
//! scanner rules). [`rollup`], the
//! second half of the pipeline, computes the daily tables reports read, with
//! the ingest user's clients: the only writer besides the shipper.
//!
//! [`audit`] checks an installation against the promises (personal data in
//! any table, salts, retention, private files, the staff user, metrics),
//! reading only; `serve` runs its cheap checks daily.
//!
//! The edges: [`http`] (the endpoints) and [`serve`] (wiring, start-up and
//! shutdown order); on top, [`cli`], what each subcommand does (`main.rs`
//! only parses the arguments and reports errors).
//!
//! Invariant for all of them: an IP address, a full user agent or a raw
//! recipient token never leaves the request's stack frame: not into a row,
//! not into the spool, not into a log line.

pub mod clock;
pub mod outcome;
pub mod row;

pub mod enrich;
pub mod goal;
pub mod grant;
pub mod privacy;
pub mod rate_limit;
pub mod release;

pub mod spool;

pub mod config;
pub mod metrics;
pub mod store;

pub mod migrate;
pub mod pipeline;

pub mod ingest;

pub mod report;
pub mod rollup;

pub mod audit;

pub mod http;
pub mod serve;

pub mod cli;
