//! Outcomes: why an answered hit was not stored.
//!
//! Owns: the one list of drop reasons. The decisions (`privacy`, `ingest`),
//! the request edge and the shipper return or report a [`DropReason`];
//! `metrics` merely counts them. Kept on the ground floor (it imports nothing
//! of the crate) so that a decision can name an outcome without reaching up
//! into the metrics.
//! Must never: carry anything of the request (a reason is a fixed enum), or
//! name an opt-out: a DNT or GPC request is not a drop, it is never counted.

/// Why an answered hit was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A crawler, monitor or other non-human client.
    Bot,
    /// `site` is not configured, or the page's host is not one of the site's.
    UnknownSite,
    /// Required parameters missing or unreadable (a pixel still answers the GIF).
    Invalid,
    /// Nothing shows the hit came from where it claims: a page that names no
    /// host of the site and was not sent from the site's pages, or an email
    /// open or click of a campaign `email.campaigns` does not list, or
    /// without the valid signature `email.require_signature` asks for (or
    /// with a wrong one), or a click on a link to a destination neither
    /// allowed nor signed (answered with a page that sends nowhere).
    Unverified,
    /// The referrer is a referrer spam host, or a subdomain of one
    /// (`enrich::spam`, `[filter]`).
    ReferrerSpam,
    /// The client's address is in `filter.datacenter_networks` (servers,
    /// not people; off unless the operator lists networks).
    Datacenter,
    /// The client sent more hits than `http.rate_limit_*` allow.
    RateLimited,
    /// The spool reached `spool.max_bytes`.
    SpoolFull,
    /// The spool could not be written (disk error).
    SpoolError,
    /// ClickHouse rejected the batch as malformed; it is in the dead-letter directory.
    DeadLettered,
    /// A spooled record failed its checksum and was skipped.
    Damaged,
}

impl DropReason {
    pub const ALL: [DropReason; 11] = [
        DropReason::Bot,
        DropReason::UnknownSite,
        DropReason::Invalid,
        DropReason::Unverified,
        DropReason::ReferrerSpam,
        DropReason::Datacenter,
        DropReason::RateLimited,
        DropReason::SpoolFull,
        DropReason::SpoolError,
        DropReason::DeadLettered,
        DropReason::Damaged,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Bot => "bot",
            DropReason::UnknownSite => "unknown_site",
            DropReason::Invalid => "invalid",
            DropReason::Unverified => "unverified",
            DropReason::ReferrerSpam => "referrer_spam",
            DropReason::Datacenter => "datacenter",
            DropReason::RateLimited => "rate_limited",
            DropReason::SpoolFull => "spool_full",
            DropReason::SpoolError => "spool_error",
            DropReason::DeadLettered => "dead_letter",
            DropReason::Damaged => "damaged",
        }
    }
}
