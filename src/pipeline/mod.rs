//! The path from the spool to ClickHouse: the shipper that reads spooled rows
//! and inserts them in batches, and the dead-letter files for batches
//! ClickHouse rejects.
//!
//! Owns: batching, retries, the skip of rows ClickHouse already holds, and
//! dead-lettering.
//! Must never: delete a spooled row before ClickHouse acknowledged it.

pub mod dead_letter;
pub mod shipper;
