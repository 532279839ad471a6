//! Privacy decisions: whether a hit may be recorded at all, which address is the
//! client's, and the one-way hashes that stand in for visitors and recipients.
//!
//! Owns: the consent rule (DNT / Sec-GPC), client IP resolution, the hash
//! functions and the salts they use.
//! Must never: write an IP address, a user agent or a recipient token anywhere,
//! log included, or do I/O: every function here is pure (the salts are
//! stored and shared by `sink::salts`). Imports nothing of ClickHouse, HTTP
//! or the spool.

pub mod client_ip;
pub mod consent;
pub mod hash;
pub mod salts;
