//! Everything the collector keeps in ClickHouse: the one place clients are
//! built ([`clickhouse::Endpoints`]), batch inserts and their retry decision
//! ([`clickhouse`]), the shared hashing salts ([`salts`]), and dropping the
//! months whose retention period has ended ([`retention`]).
//!
//! Must never: build SQL from request data, or log a row or a salt.

pub mod clickhouse;
pub mod retention;
pub mod salts;
