//! Privacy decisions: whether a hit may be recorded at all, which address is the
//! client's, and the one-way hashes that stand in for visitors and recipients.
//!
//! Owns: the consent rule (DNT / Sec-GPC), client IP resolution, the hash
//! functions and the salts they use.
//! Must never: write an IP address, a user agent or a recipient token anywhere,
//! log included. Everything here but `salts` is pure.

pub mod client_ip;
pub mod consent;
pub mod hash;
pub mod salts;
