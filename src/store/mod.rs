//! The ClickHouse store: everything beaconhouse keeps in ClickHouse and the
//! one place its clients are built ([`clickhouse::Endpoints`]); batch inserts
//! and their retry decision ([`clickhouse`]); statements as text plus bound
//! values, and running them ([`statement`]); the shared hashing salts
//! ([`salt_keeper`], the I/O half of `privacy::salt_rules`); dashboard
//! sign-outs every collector hears of ([`sign_outs`], the I/O half of
//! `grant::SignOuts`); dropping the months whose retention period has
//! ended ([`retention_job`], the I/O half of `privacy::retention_rule`); and
//! what `beaconhouse audit` reads ([`audit_probe`], the I/O half of
//! `privacy::audit_rules`: tables, bounded samples of their text, the staff
//! user's refusals).
//!
//! Must never: build SQL from request data, or log a row or a salt.

pub mod audit_probe;
pub mod clickhouse;
pub mod filtered_hits;
pub mod retention_job;
pub mod salt_keeper;
pub mod sign_outs;
pub mod statement;
