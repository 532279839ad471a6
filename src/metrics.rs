//! Counters for everything the collector receives, stores or drops, rendered in
//! Prometheus' text exposition format at `GET /metrics`.
//!
//! Every hit that is answered but not stored is counted under exactly one
//! [`DropReason`] (defined in `outcome`; this module only counts), so `received = stored + dropped + in flight` always balances.
//! Must never: label a series with anything that comes from a request (a URL,
//! an address, a user agent): labels are fixed enums only.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::outcome::DropReason;
use crate::privacy::audit_rules::Check;
use crate::privacy::retention_rule::Table;
use crate::spool::SpoolStats;

/// Which endpoint a hit came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Pixel,
    Event,
    EmailOpen,
    EmailClick,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Pixel,
        Endpoint::Event,
        Endpoint::EmailOpen,
        Endpoint::EmailClick,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Pixel => "pixel",
            Endpoint::Event => "event",
            Endpoint::EmailOpen => "email_open",
            Endpoint::EmailClick => "email_click",
        }
    }
}

/// Why a stats authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// A bearer token or a sign-in was checked and is not valid.
    Rejected,
    /// Refused unchecked: the client failed too often (`http::throttle`).
    Throttled,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 2] = [AuthFailure::Rejected, AuthFailure::Throttled];

    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::Rejected => "rejected",
            AuthFailure::Throttled => "throttled",
        }
    }
}

/// Process-wide counters; shared by reference, updated with relaxed atomics.
#[derive(Debug, Default)]
pub struct Metrics {
    received: [AtomicU64; Endpoint::ALL.len()],
    dropped: [AtomicU64; DropReason::ALL.len()],
    stored_rows: AtomicU64,
    batches_ok: AtomicU64,
    batches_failed: AtomicU64,
    clickhouse_up: AtomicU64,
    insert_seconds: Histogram,
    partitions_dropped: [AtomicU64; Table::ALL.len()],
    retention_failures: AtomicU64,
    /// Dead-letter files on disk now, and their bytes.
    dead_letter_files: AtomicU64,
    dead_letter_bytes: AtomicU64,
    /// Dead-letter files removed to stay within `spool.dead_letter_max_bytes`.
    dead_letter_pruned_files: AtomicU64,
    dead_letter_pruned_bytes: AtomicU64,
    auth_failures: [AtomicU64; AuthFailure::ALL.len()],
    /// Findings of each check at its last run, plus one: 0 until it ran,
    /// and a check that never ran is not rendered.
    audit_findings: [AtomicU64; Check::ALL.len()],
    /// Audit checks that could not run (ClickHouse down, an unreadable spool).
    audit_failures: AtomicU64,
}

/// Upper bounds (seconds) of the insert latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A Prometheus histogram with fixed buckets; counts are per bucket, made
/// cumulative when rendered.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        let index = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let bound = LATENCY_BUCKETS
                .get(i)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
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

    /// Rows of a retried batch that ClickHouse turned out to hold already.
    pub fn already_stored(&self, rows: u64) {
        self.stored_rows.fetch_add(rows, Ordering::Relaxed);
    }

    pub fn batch_failed(&self) {
        self.batches_failed.fetch_add(1, Ordering::Relaxed);
        self.clickhouse_up.store(0, Ordering::Relaxed);
    }

    /// How long a successful insert took.
    pub fn insert_took(&self, elapsed: std::time::Duration) {
        self.insert_seconds.observe(elapsed.as_secs_f64());
    }

    /// A month of `table` dropped because its retention period ended.
    pub fn partition_dropped(&self, table: Table) {
        self.partitions_dropped[table as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A retention run that could not finish.
    pub fn retention_failed(&self) {
        self.retention_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The dead-letter files on disk now.
    pub fn dead_letter_held(&self, files: u64, bytes: u64) {
        self.dead_letter_files.store(files, Ordering::Relaxed);
        self.dead_letter_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Dead-letter files removed, oldest first, past the limit.
    pub fn dead_letter_pruned(&self, files: u64, bytes: u64) {
        self.dead_letter_pruned_files
            .fetch_add(files, Ordering::Relaxed);
        self.dead_letter_pruned_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// A stats authentication that failed, or was refused unchecked.
    pub fn auth_failed(&self, why: AuthFailure) {
        self.auth_failures[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// `check` ran and found `findings` problems.
    pub fn audited(&self, check: Check, findings: u64) {
        self.audit_findings[check as usize].store(findings.saturating_add(1), Ordering::Relaxed);
    }

    /// An audit check that could not run; its last findings stand.
    pub fn audit_failed(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stored_count(&self) -> u64 {
        self.stored_rows.load(Ordering::Relaxed)
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self, spool: SpoolStats) -> String {
        let mut out = String::with_capacity(2048);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counters_by(
            &mut out,
            "beaconhouse_hits_received_total",
            "Hits answered, by endpoint.",
            "endpoint",
            Endpoint::ALL.map(|e| (e.label(), get(&self.received[e as usize]))),
        );
        counters_by(
            &mut out,
            "beaconhouse_hits_dropped_total",
            "Hits answered but not stored, by reason.",
            "reason",
            DropReason::ALL.map(|r| (r.label(), get(&self.dropped[r as usize]))),
        );
        counters_by(
            &mut out,
            "beaconhouse_retention_partitions_dropped_total",
            "Monthly partitions dropped at the end of their retention period, by table.",
            "table",
            Table::ALL.map(|t| (t.name(), get(&self.partitions_dropped[t as usize]))),
        );
        counters_by(
            &mut out,
            "beaconhouse_stats_auth_failures_total",
            "Failed stats API tokens and dashboard sign-ins: rejected when checked, throttled when refused unchecked after too many.",
            "reason",
            AuthFailure::ALL.map(|a| (a.label(), get(&self.auth_failures[a as usize]))),
        );
        let _ = writeln!(
            out,
            "# HELP beaconhouse_audit_findings Problems the last daily audit found, by check (beaconhouse audit says what to do); a check not run yet has no sample."
        );
        let _ = writeln!(out, "# TYPE beaconhouse_audit_findings gauge");
        for check in Check::ALL {
            if let Some(findings) = get(&self.audit_findings[check as usize]).checked_sub(1) {
                let _ = writeln!(
                    out,
                    "beaconhouse_audit_findings{{check=\"{}\"}} {findings}",
                    check.label()
                );
            }
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
                "clickhouse_up",
                "gauge",
                "1 when the last insert succeeded.",
                &self.clickhouse_up,
            ),
            (
                "retention_failures_total",
                "counter",
                "Retention runs that could not finish (retried within the hour).",
                &self.retention_failures,
            ),
            (
                "audit_failures_total",
                "counter",
                "Daily audit checks that could not run (retried with the next retention pass, within the hour).",
                &self.audit_failures,
            ),
            (
                "dead_letter_files",
                "gauge",
                "Dead-letter files (rejected batches) on disk.",
                &self.dead_letter_files,
            ),
            (
                "dead_letter_bytes",
                "gauge",
                "Bytes of dead-letter files on disk.",
                &self.dead_letter_bytes,
            ),
            (
                "dead_letter_pruned_files_total",
                "counter",
                "Dead-letter files removed, oldest first, past spool.dead_letter_max_bytes.",
                &self.dead_letter_pruned_files,
            ),
            (
                "dead_letter_pruned_bytes_total",
                "counter",
                "Bytes of the dead-letter files removed past spool.dead_letter_max_bytes.",
                &self.dead_letter_pruned_bytes,
            ),
        ];
        let spool_values = [
            (
                "spool_bytes",
                "gauge",
                "Bytes of spool segments on disk.",
                spool.bytes,
            ),
            (
                "spool_max_bytes",
                "gauge",
                "spool.max_bytes.",
                spool.max_bytes,
            ),
            (
                "spool_segments",
                "gauge",
                "Spool segment files on disk.",
                spool.segments,
            ),
            (
                "spool_fsync_failures_total",
                "counter",
                "Spool fsyncs that failed.",
                spool.sync_failures,
            ),
        ];
        let all = scalars
            .into_iter()
            .map(|(name, kind, help, value)| (name, kind, help, get(value)))
            .chain(spool_values);
        for (name, kind, help, value) in all {
            let _ = writeln!(out, "# HELP beaconhouse_{name} {help}");
            let _ = writeln!(out, "# TYPE beaconhouse_{name} {kind}");
            let _ = writeln!(out, "beaconhouse_{name} {value}");
        }
        self.insert_seconds.render(
            "beaconhouse_insert_duration_seconds",
            "Time taken by successful ClickHouse inserts.",
            &mut out,
        );
        out
    }
}

/// A counter with one label: its HELP and TYPE lines, then a sample for each
/// `(label value, count)`.
fn counters_by<const N: usize>(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    samples: [(&str, u64); N],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (value, count) in samples {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
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
        metrics.insert_took(std::time::Duration::from_millis(30));
        metrics.partition_dropped(Table::EmailOpens);
        metrics.retention_failed();
        metrics.auth_failed(AuthFailure::Throttled);
        let text = metrics.render(SpoolStats {
            bytes: 10,
            segments: 1,
            max_bytes: 100,
            sync_failures: 0,
        });
        assert!(text.contains("beaconhouse_spool_bytes 10\n"));
        assert!(text.contains("beaconhouse_insert_duration_seconds_bucket{le=\"0.025\"} 0\n"));
        assert!(text.contains("beaconhouse_insert_duration_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("beaconhouse_insert_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("beaconhouse_hits_dropped_total{reason=\"bot\"} 2\n"));
        assert!(text.contains("beaconhouse_hits_dropped_total{reason=\"invalid\"} 0\n"));
        assert!(
            !text.contains("dnt") && !text.contains("gpc"),
            "opt-outs are counted nowhere"
        );
        assert!(text.contains("beaconhouse_hits_received_total{endpoint=\"pixel\"} 1\n"));
        assert!(text.contains("beaconhouse_rows_stored_total 5\n"));
        assert!(text.contains("beaconhouse_clickhouse_up 1\n"));
        assert!(
            text.contains(
                "beaconhouse_retention_partitions_dropped_total{table=\"email_opens\"} 1\n"
            )
        );
        assert!(
            text.contains("beaconhouse_retention_partitions_dropped_total{table=\"events\"} 0\n")
        );
        assert!(text.contains("beaconhouse_retention_failures_total 1\n"));
        assert!(text.contains("beaconhouse_stats_auth_failures_total{reason=\"rejected\"} 0\n"));
        assert!(text.contains("beaconhouse_stats_auth_failures_total{reason=\"throttled\"} 1\n"));
        for reason in DropReason::ALL {
            assert!(text.contains(&format!("reason=\"{}\"", reason.label())));
        }
    }

    #[test]
    fn audit_findings_show_once_a_check_ran_and_speak_of_no_consent() {
        let metrics = Metrics::default();
        let spool = SpoolStats {
            bytes: 0,
            segments: 0,
            max_bytes: 1,
            sync_failures: 0,
        };
        assert!(
            !metrics
                .render(spool)
                .contains("beaconhouse_audit_findings{")
        );
        metrics.audited(Check::Files, 2);
        metrics.audited(Check::Salts, 0);
        metrics.audit_failed();
        let text = metrics.render(spool);
        assert!(text.contains("beaconhouse_audit_findings{check=\"files\"} 2\n"));
        assert!(text.contains("beaconhouse_audit_findings{check=\"salts\"} 0\n"));
        assert!(!text.contains("check=\"retention\""), "not run yet");
        assert!(text.contains("beaconhouse_audit_failures_total 1\n"));
        for check in Check::ALL {
            metrics.audited(check, 0);
        }
        assert_eq!(
            crate::privacy::audit_rules::consent_series(&metrics.render(spool)),
            Vec::<String>::new(),
            "every series the collector exports"
        );
    }
}
