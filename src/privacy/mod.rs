//! Privacy decisions: whether a hit may be recorded at all, which address is the
//! client's, the one-way hashes that stand in for visitors and recipients,
//! how long what was recorded is kept, and what the self-audit looks for.
//!
//! Owns: the consent rule (DNT / Sec-GPC), client IP resolution, the hash
//! functions and the salts they use, the retention rule, and the audit's
//! rules (`audit_rules`: the shapes of personal data, overdue salts,
//! metrics that speak of consent).
//! Must never: write an IP address, a user agent or a recipient token anywhere,
//! log included, or do I/O: every function here is pure (the salts are
//! stored and shared by `store::salt_keeper`; old partitions are dropped by
//! `store::retention_job`; the audit samples ClickHouse through
//! `store::audit_probe`). Imports nothing of ClickHouse, HTTP
//! or the spool.

pub mod audit_rules;
pub mod client_ip;
pub mod consent;
pub mod hash;
pub mod retention_rule;
pub mod salt_rules;
