//! Everything the collector keeps in ClickHouse: the one place a client is
//! built ([`clickhouse::client`]), batch inserts and their retry decision
//! ([`clickhouse`]), and the shared hashing salts ([`salts`]).
//!
//! Must never: build SQL from request data, or log a row or a salt.

pub mod clickhouse;
pub mod salts;
