//! Counters for everything the collector receives, stores or drops, rendered in
//! Prometheus' text exposition format at `GET /metrics`.
//!
//! Every hit that is answered but not stored is counted under exactly one
//! [`DropReason`], so `received = stored + dropped + in flight` always balances.
//! Must never: label a series with anything that comes from a request (a URL,
//! an address, a user agent): labels are fixed enums only.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an answered hit was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The request carried `DNT: 1`.
    DoNotTrack,
    /// The request carried `Sec-GPC: 1`.
    GlobalPrivacyControl,
    /// A crawler, monitor or other non-human client.
    Bot,
    /// `site` is not configured, or the page's host is not one of the site's.
    UnknownSite,
    /// Required parameters missing or unreadable (a pixel still answers the GIF).
    Invalid,
    /// The in-memory queue to the batcher was full.
    QueueFull,
    /// ClickHouse rejected the batch as malformed; retrying cannot help.
    Rejected,
    /// Still undelivered when the shutdown deadline passed.
    ShutdownUndelivered,
}

impl DropReason {
    pub const ALL: [DropReason; 8] = [
        DropReason::DoNotTrack,
        DropReason::GlobalPrivacyControl,
        DropReason::Bot,
        DropReason::UnknownSite,
        DropReason::Invalid,
        DropReason::QueueFull,
        DropReason::Rejected,
        DropReason::ShutdownUndelivered,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::DoNotTrack => "dnt",
            DropReason::GlobalPrivacyControl => "gpc",
            DropReason::Bot => "bot",
            DropReason::UnknownSite => "unknown_site",
            DropReason::Invalid => "invalid",
            DropReason::QueueFull => "queue_full",
            DropReason::Rejected => "rejected",
            DropReason::ShutdownUndelivered => "shutdown",
        }
    }
}

/// Which endpoint a hit came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Pixel,
    Event,
    EmailOpen,
}

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [Endpoint::Pixel, Endpoint::Event, Endpoint::EmailOpen];

    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Pixel => "pixel",
            Endpoint::Event => "event",
            Endpoint::EmailOpen => "email_open",
        }
    }
}

/// Process-wide counters; shared by reference, updated with relaxed atomics.
#[derive(Debug, Default)]
pub struct Metrics {
    received: [AtomicU64; 3],
    dropped: [AtomicU64; 8],
    stored_rows: AtomicU64,
    batches_ok: AtomicU64,
    batches_failed: AtomicU64,
    queue_depth: AtomicU64,
    clickhouse_up: AtomicU64,
}

impl Metrics {
    pub fn received(&self, endpoint: Endpoint) {
        self.received[endpoint as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self, reason: DropReason) {
        self.dropped_many(reason, 1);
    }

    pub fn dropped_many(&self, reason: DropReason, count: u64) {
        self.dropped[reason as usize].fetch_add(count, Ordering::Relaxed);
    }

    pub fn dropped_count(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize].load(Ordering::Relaxed)
    }

    pub fn stored(&self, rows: u64) {
        self.stored_rows.fetch_add(rows, Ordering::Relaxed);
        self.batches_ok.fetch_add(1, Ordering::Relaxed);
        self.clickhouse_up.store(1, Ordering::Relaxed);
    }

    pub fn batch_failed(&self) {
        self.batches_failed.fetch_add(1, Ordering::Relaxed);
        self.clickhouse_up.store(0, Ordering::Relaxed);
    }

    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.store(depth as u64, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP beaconhouse_hits_received_total Hits answered, by endpoint.\n");
        out.push_str("# TYPE beaconhouse_hits_received_total counter\n");
        for endpoint in Endpoint::ALL {
            let _ = writeln!(
                out,
                "beaconhouse_hits_received_total{{endpoint=\"{}\"}} {}",
                endpoint.label(),
                get(&self.received[endpoint as usize])
            );
        }
        out.push_str(
            "# HELP beaconhouse_hits_dropped_total Hits answered but not stored, by reason.\n",
        );
        out.push_str("# TYPE beaconhouse_hits_dropped_total counter\n");
        for reason in DropReason::ALL {
            let _ = writeln!(
                out,
                "beaconhouse_hits_dropped_total{{reason=\"{}\"}} {}",
                reason.label(),
                get(&self.dropped[reason as usize])
            );
        }
        let scalars = [
            (
                "rows_stored_total",
                "counter",
                "Rows ClickHouse acknowledged.",
                &self.stored_rows,
            ),
            (
                "batches_total",
                "counter",
                "Batches ClickHouse acknowledged.",
                &self.batches_ok,
            ),
            (
                "batch_failures_total",
                "counter",
                "Batch inserts that failed.",
                &self.batches_failed,
            ),
            (
                "queue_depth",
                "gauge",
                "Rows waiting for the batcher.",
                &self.queue_depth,
            ),
            (
                "clickhouse_up",
                "gauge",
                "1 when the last insert succeeded.",
                &self.clickhouse_up,
            ),
        ];
        for (name, kind, help, value) in scalars {
            let _ = writeln!(out, "# HELP beaconhouse_{name} {help}");
            let _ = writeln!(out, "# TYPE beaconhouse_{name} {kind}");
            let _ = writeln!(out, "beaconhouse_{name} {}", get(value));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_reason_with_its_count() {
        let metrics = Metrics::default();
        metrics.dropped(DropReason::Bot);
        metrics.dropped(DropReason::Bot);
        metrics.received(Endpoint::Pixel);
        metrics.stored(5);
        let text = metrics.render();
        assert!(text.contains("beaconhouse_hits_dropped_total{reason=\"bot\"} 2\n"));
        assert!(text.contains("beaconhouse_hits_dropped_total{reason=\"dnt\"} 0\n"));
        assert!(text.contains("beaconhouse_hits_received_total{endpoint=\"pixel\"} 1\n"));
        assert!(text.contains("beaconhouse_rows_stored_total 5\n"));
        assert!(text.contains("beaconhouse_clickhouse_up 1\n"));
        for reason in DropReason::ALL {
            assert!(text.contains(&format!("reason=\"{}\"", reason.label())));
        }
    }
}
