//! `beaconhouse audit`: checks the installation it runs against for what
//! would break a promise of the README, and says of each problem what to
//! do. The checks (`privacy::audit_rules::Check`): text shaped like an IP
//! address, an e-mail address or a token in any table (sampled); a visitor
//! salt kept past the promise; a month kept past `[retention]`; spool files
//! or a configuration file with secrets that others may read; a staff SQL
//! user that may read the raw tables; a metric that speaks of Do-Not-Track
//! or Global Privacy Control. `serve` runs the cheap ones
//! ([`Check::DAILY`]) after each retention pass (at start, then daily) and
//! exports their findings in `/metrics` ([`daily`]).
//!
//! Owns: running the checks ([`Auditor`], through the read-only endpoints of
//! `Endpoints::read_only`), judging what they read into a [`Report`] whose
//! every finding says what to do (pure functions, table-tested), and
//! rendering it as text or JSON.
//! Must never: print, log or return a value it sampled (only where, which
//! shape and how many), write to ClickHouse or the disk, or mend what it
//! finds: the operator decides.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::watch;

use crate::clock;
use crate::config::{Config, ExposedSecrets};
use crate::metrics::Metrics;
use crate::privacy::audit_rules::{self, Check};
use crate::spool::Spool;
use crate::spool::files::{self, Exposure};
use crate::store::audit_probe::{self, SAMPLE_DAYS, SAMPLE_ROWS, SAMPLE_SECONDS, Sample, Table};
use crate::store::clickhouse::{Endpoints, TlsError};
use crate::store::retention_job::{Expiry, Retention};
use crate::store::salt_keeper;

/// What one check came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing found: what was checked.
    Ok(String),
    /// Each problem, with what to do.
    Findings(Vec<String>),
    /// Not checked, and why; not a finding.
    Skipped(String),
    /// Could not check: the error, which says what to do.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub check: Check,
    pub status: Status,
}

/// What an audit came to, check by check, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A line per check, or per finding.
    Text,
    /// One JSON object.
    Json,
}

impl Report {
    /// Problems found, over every check.
    pub fn findings(&self) -> usize {
        self.outcomes
            .iter()
            .map(|outcome| match &outcome.status {
                Status::Findings(found) => found.len(),
                _ => 0,
            })
            .sum()
    }

    /// Checks that could not run.
    pub fn failures(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|outcome| matches!(outcome.status, Status::Failed(_)))
            .count()
    }

    /// Whether every check ran and found nothing (a skipped one aside).
    pub fn passed(&self) -> bool {
        self.findings() == 0 && self.failures() == 0
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Json => self.json(),
        }
    }

    /// A line per check (`ok`, `skipped`, `FAILED`) or per finding
    /// (`FINDING`), then the verdict.
    fn text(&self) -> String {
        let mut out = String::new();
        for outcome in &self.outcomes {
            let label = outcome.check.label();
            let mut line = |status: &str, text: &str| {
                let _ = writeln!(out, "{status:<8} {label:<13} {text}");
            };
            match &outcome.status {
                Status::Ok(text) => line("ok", text),
                Status::Findings(found) => found.iter().for_each(|f| line("FINDING", f)),
                Status::Skipped(why) => line("skipped", why),
                Status::Failed(error) => line("FAILED", error),
            }
        }
        let verdict = match (self.findings(), self.failures()) {
            (0, 0) => "audit passed: nothing found".to_string(),
            (0, failed) => format!(
                "audit incomplete: {failed} check(s) could not run; each FAILED line says why"
            ),
            (found, 0) => {
                format!("audit found {found} problem(s); each FINDING line says what to do")
            }
            (found, failed) => format!(
                "audit found {found} problem(s), and {failed} check(s) could not run; each line says what to do"
            ),
        };
        out.push_str(&verdict);
        out.push('\n');
        out
    }

    /// `{"passed", "findings", "checks": [{"check", "status", ...}]}`.
    fn json(&self) -> String {
        let checks: Vec<serde_json::Value> = self
            .outcomes
            .iter()
            .map(|outcome| {
                let check = outcome.check.label();
                match &outcome.status {
                    Status::Ok(text) => json!({"check": check, "status": "ok", "checked": text}),
                    Status::Findings(found) => {
                        json!({"check": check, "status": "finding", "findings": found})
                    }
                    Status::Skipped(why) => {
                        json!({"check": check, "status": "skipped", "reason": why})
                    }
                    Status::Failed(error) => {
                        json!({"check": check, "status": "failed", "error": error})
                    }
                }
            })
            .collect();
        let report = json!({
            "passed": self.passed(),
            "findings": self.findings(),
            "checks": checks,
        });
        format!("{report}\n")
    }
}

/// A Prometheus text exposition to check, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposition {
    /// For people: `http://127.0.0.1:9091/metrics`, or this binary's own.
    pub source: String,
    pub text: String,
}

/// Runs the checks against one installation.
pub struct Auditor {
    /// `clickhouse.user`, read-only.
    endpoints: Endpoints,
    /// `audit.staff_user` and its clients, when configured.
    staff: Option<(String, Endpoints)>,
    retention: Retention,
    database: String,
    released_database: String,
    spool_dir: PathBuf,
    /// The configuration file, when it holds secrets others may read.
    exposed_secrets: Option<ExposedSecrets>,
}

impl Auditor {
    /// Builds the clients; reaches nothing yet.
    pub fn new(config: &Config) -> Result<Auditor, TlsError> {
        let endpoints = Endpoints::read_only(&config.clickhouse)?;
        let staff = match &config.audit.staff {
            Some(staff) => Some((
                staff.user.clone(),
                Endpoints::as_staff(&config.clickhouse, staff)?,
            )),
            None => None,
        };
        Ok(Auditor {
            retention: Retention::new(
                endpoints.clone(),
                &config.clickhouse,
                config.retention.clone(),
            ),
            endpoints,
            staff,
            database: config.clickhouse.database.clone(),
            released_database: config.clickhouse.released_database(),
            spool_dir: config.spool.dir.clone(),
            exposed_secrets: config.exposed_secrets.clone(),
        })
    }

    /// Runs `checks` in order when it is `now` (UTC seconds), the metrics
    /// check on `metrics`.
    pub async fn run(&self, checks: &[Check], metrics: &Exposition, now: u32) -> Report {
        let mut outcomes = Vec::with_capacity(checks.len());
        for &check in checks {
            let status = self.check(check, metrics, now).await;
            outcomes.push(Outcome { check, status });
        }
        Report { outcomes }
    }

    async fn check(&self, check: Check, metrics: &Exposition, now: u32) -> Status {
        let today = clock::day_of(now);
        match check {
            Check::PersonalData => self.personal_data(today).await,
            Check::Salts => match salt_keeper::stored_salt_days(&self.endpoints).await {
                Ok(days) => salts_status(&audit_rules::overdue_salts(&days, now), &self.database),
                Err(error) => Status::Failed(error.to_string()),
            },
            Check::Retention => {
                let judged = audit_rules::retention_day(today);
                match self.retention.expired(judged).await {
                    Ok(expiries) => retention_status(&expiries),
                    Err(error) => Status::Failed(error.to_string()),
                }
            }
            Check::Files => files_status(
                &self.spool_dir,
                files::exposures(&self.spool_dir),
                self.exposed_secrets.as_ref(),
            ),
            Check::StaffSql => self.staff_sql().await,
            Check::Metrics => metrics_status(metrics),
        }
    }

    async fn tables(&self) -> Result<Vec<Table>, audit_probe::ProbeError> {
        audit_probe::tables(&self.endpoints, [&self.database, &self.released_database]).await
    }

    async fn personal_data(&self, today: u16) -> Status {
        let tables = match self.tables().await {
            Ok(tables) => tables,
            Err(error) => return Status::Failed(error.to_string()),
        };
        let mut samples = Vec::new();
        let mut unusual = Vec::new();
        for table in &tables {
            match audit_probe::plan(table, today) {
                Ok(None) => {}
                Ok(Some(plan)) => match audit_probe::sample(&self.endpoints, &plan).await {
                    Ok(sample) => samples.push(sample),
                    Err(error) => return Status::Failed(error.to_string()),
                },
                Err(name) => unusual.push(name.0),
            }
        }
        personal_data_status(
            &samples,
            &unusual,
            [&self.database, &self.released_database],
        )
    }

    async fn staff_sql(&self) -> Status {
        let Some((user, staff)) = &self.staff else {
            return Status::Skipped(
                "no staff SQL user is configured: set audit.staff_user and audit.staff_password (BEACONHOUSE_AUDIT_STAFF_PASSWORD) to check that staff SQL cannot read the raw tables".into(),
            );
        };
        let tables = match self.tables().await {
            Ok(tables) => tables,
            Err(error) => return Status::Failed(error.to_string()),
        };
        let raw: Vec<&Table> = tables
            .iter()
            .filter(|table| table.database == self.database)
            .collect();
        match audit_probe::staff_reads(staff, user, &self.released_database, &raw).await {
            Ok(readable) => staff_status(
                user,
                [&self.database, &self.released_database],
                raw.len(),
                &readable,
            ),
            Err(error) => Status::Failed(error.to_string()),
        }
    }
}

/// The samples' findings: where, which shape, how many rows (never a
/// value), and the condition to delete those rows by.
fn personal_data_status(
    samples: &[Sample],
    unusual: &[String],
    [database, released_database]: [&str; 2],
) -> Status {
    let mut findings = Vec::new();
    for sample in samples {
        for (cell, rows) in &sample.found {
            findings.push(format!(
                "{table}.{column}: text shaped like {shape} in {rows} of {sampled} rows sampled (not shown: it may be the personal data itself); find what wrote it and stop it (a path segment that only the site knows is personal needs a `path_patterns` entry for the site), then delete those rows: ALTER TABLE {table} DELETE WHERE {condition}",
                table = sample.table,
                column = cell.column,
                sampled = sample.rows,
                shape = cell.shape.describe(),
                condition = cell.condition.bound_text(),
            ));
        }
    }
    if !findings.is_empty() {
        return Status::Findings(findings);
    }
    let rows: u64 = samples.iter().map(|s| s.rows).sum();
    let mut text = format!(
        "no text shaped like an IP address, an e-mail address or a token in {rows} rows sampled from {} tables of {database} and {released_database} (the last {SAMPLE_DAYS} days of tables partitioned by date; at most {SAMPLE_ROWS} rows and {SAMPLE_SECONDS} s a table)",
        samples.len()
    );
    if !unusual.is_empty() {
        let _ = write!(
            text,
            "; not sampled, for names of other characters than letters, digits, `_` and `.`: {}",
            unusual.join(", ")
        );
    }
    Status::Ok(text)
}

/// A finding per stored salt past the promise.
fn salts_status(overdue: &[u16], database: &str) -> Status {
    if overdue.is_empty() {
        return Status::Ok(format!(
            "{database}.visitor_salts holds no salt of a day before yesterday (the promise: destroyed after two days)"
        ));
    }
    Status::Findings(
        overdue
            .iter()
            .map(|&day| {
                format!(
                    "{database}.visitor_salts still holds the salt of {}, which the promise destroys after two days, so that day's visitor ids can still be recomputed: a running collector destroys it within a minute of midnight (check its log for `salt rotation failed`); destroy it now with ALTER TABLE {database}.visitor_salts DROP PARTITION {}",
                    clock::iso_date(day),
                    clock::yyyymmdd(day)
                )
            })
            .collect(),
    )
}

/// A finding per table that holds months past its period, judged a day
/// late (`audit_rules::retention_day`).
fn retention_status(expiries: &[Expiry]) -> Status {
    let findings: Vec<String> = expiries
        .iter()
        .filter(|expiry| !expiry.partitions.is_empty())
        .map(|expiry| {
            format!(
                "{} still holds the rows of {}, kept past its retention period of {} days ([retention]): run `beaconhouse retention`, which drops such months; a running collector does so at start and daily, so check its log for `retention could not finish`",
                expiry.table.name(),
                expiry.months(),
                expiry.keep_days,
            )
        })
        .collect();
    if !findings.is_empty() {
        return Status::Findings(findings);
    }
    let periods: Vec<String> = expiries
        .iter()
        .map(|expiry| match expiry.keep_days {
            0 => format!("{} forever", expiry.table.name()),
            days => format!("{} {days} days", expiry.table.name()),
        })
        .collect();
    Status::Ok(format!(
        "no month is kept past its retention period ({})",
        periods.join(", ")
    ))
}

/// The spool's exposures and the configuration file's, each with what to do.
fn files_status(
    spool_dir: &Path,
    survey: std::io::Result<Option<(Vec<Exposure>, usize)>>,
    exposed_secrets: Option<&ExposedSecrets>,
) -> Status {
    let spool = match survey {
        Ok(survey) => survey,
        Err(error) => {
            return Status::Failed(format!(
                "cannot read spool.dir {}: {error}; run the audit as the collector's user or as root",
                spool_dir.display()
            ));
        }
    };
    let mut findings: Vec<String> = match &spool {
        Some((exposures, _)) => exposures.iter().map(Exposure::to_string).collect(),
        None => Vec::new(),
    };
    findings.extend(exposed_secrets.map(ExposedSecrets::to_string));
    if !findings.is_empty() {
        return Status::Findings(findings);
    }
    let spool = match spool {
        Some((_, entries)) => format!(
            "spool.dir {}: {entries} entries (segments, ledger, lock, dead letters), each its owner's alone",
            spool_dir.display()
        ),
        None => format!(
            "spool.dir {} does not exist yet (the collector makes it, 0700, at start)",
            spool_dir.display()
        ),
    };
    Status::Ok(format!(
        "{spool}; no secret in the configuration file that its group or others may read"
    ))
}

/// One finding when staff may read any raw table.
fn staff_status(
    user: &str,
    [database, released_database]: [&str; 2],
    asked: usize,
    readable: &[String],
) -> Status {
    if readable.is_empty() {
        return Status::Ok(format!(
            "the staff SQL user {user} is refused each of the {asked} tables of {database}"
        ));
    }
    Status::Findings(vec![format!(
        "the staff SQL user {user} can read {} table(s) of the raw database: {}; staff may read {released_database} alone: give the user deploy/clickhouse-staff-user.xml (ClickHouse 18.16: <allow_databases> with {released_database} only) or deploy/grants.sql (20.5 and later), then run the audit again",
        readable.len(),
        readable.join(", ")
    )])
}

/// A finding per series that speaks of Do-Not-Track or GPC.
fn metrics_status(exposition: &Exposition) -> Status {
    let found = audit_rules::consent_series(&exposition.text);
    if found.is_empty() {
        let series = exposition
            .text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .count();
        return Status::Ok(format!(
            "none of the {series} series of {} speaks of Do-Not-Track or Global Privacy Control",
            exposition.source
        ));
    }
    Status::Findings(
        found
            .iter()
            .map(|series| {
                format!(
                    "{series}, of {}, speaks of Do-Not-Track or Global Privacy Control, yet an opted-out request must be counted nowhere: run a beaconhouse release whose /metrics has no such series, and report this one",
                    exposition.source
                )
            })
            .collect(),
    )
}

/// `serve`'s audit: the cheap checks after each retention pass (`passes`:
/// at start, then daily, hourly while retention fails), their findings in
/// `/metrics` (`beaconhouse_audit_findings`) and each in the log; a check
/// that cannot run is logged and counted, its last findings stand. Ends
/// when retention's loop does.
pub async fn daily(
    auditor: Auditor,
    metrics: Arc<Metrics>,
    spool: Arc<Spool>,
    mut passes: watch::Receiver<()>,
) {
    while passes.changed().await.is_ok() {
        let exposition = Exposition {
            source: "this collector's /metrics".into(),
            text: metrics.render(spool.stats()),
        };
        let report = auditor
            .run(&Check::DAILY, &exposition, clock::now_unix())
            .await;
        for outcome in &report.outcomes {
            let check = outcome.check.label();
            match &outcome.status {
                Status::Ok(_) => metrics.audited(outcome.check, 0),
                Status::Findings(found) => {
                    metrics.audited(outcome.check, found.len() as u64);
                    for finding in found {
                        tracing::warn!(check, "audit: {finding}");
                    }
                }
                Status::Skipped(_) => {}
                Status::Failed(error) => {
                    metrics.audit_failed();
                    tracing::warn!(
                        check,
                        "audit: could not check, trying again after the next retention pass: {error}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::audit_rules::{Shape, TextColumn};
    use crate::privacy::retention_rule::Table as Retained;
    use crate::spool::files::Problem;
    use crate::store::audit_probe::Cell;

    fn day(y: u32, m: u32, d: u32) -> u16 {
        clock::day_from_civil(y, m, d).unwrap()
    }

    const DATABASES: [&str; 2] = ["stats", "stats_released"];

    #[test]
    fn sampled_text_is_named_by_place_shape_and_count_never_by_value() {
        let found = Cell {
            column: "path".into(),
            shape: Shape::Ipv4,
            condition: audit_probe::condition(
                "path",
                TextColumn {
                    array: false,
                    nullable: false,
                },
                Shape::Ipv4,
            ),
        };
        let samples = [
            Sample {
                table: "stats.events".into(),
                rows: 57,
                since: Some(day(2026, 10, 25)),
                found: vec![(found, 2)],
            },
            Sample {
                table: "stats_released.daily".into(),
                rows: 3,
                since: None,
                found: Vec::new(),
            },
        ];
        let Status::Findings(findings) = personal_data_status(&samples, &[], DATABASES) else {
            panic!("a finding");
        };
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert!(
            finding.starts_with(
                "stats.events.path: text shaped like an IPv4 address in 2 of 57 rows sampled (not shown"
            ),
            "{finding}"
        );
        assert!(
            finding.contains(
                "then delete those rows: ALTER TABLE stats.events DELETE WHERE match(`path`, '(^|"
            ),
            "{finding}"
        );

        let clean = [Sample {
            table: "stats.events".into(),
            rows: 57,
            since: None,
            found: Vec::new(),
        }];
        let Status::Ok(text) = personal_data_status(&clean, &["stats.odd`name".into()], DATABASES)
        else {
            panic!("nothing found");
        };
        assert!(text.starts_with("no text shaped like an IP address, an e-mail address or a token in 57 rows sampled from 1 tables of stats and stats_released"), "{text}");
        assert!(text.ends_with(": stats.odd`name"), "{text}");
    }

    #[test]
    fn each_overdue_salt_says_how_to_destroy_it() {
        assert!(matches!(salts_status(&[], "stats"), Status::Ok(_)));
        let Status::Findings(findings) = salts_status(&[day(2026, 11, 20)], "stats") else {
            panic!("a finding");
        };
        assert_eq!(findings.len(), 1);
        assert!(findings[0].starts_with("stats.visitor_salts still holds the salt of 2026-11-20"));
        assert!(findings[0].ends_with("ALTER TABLE stats.visitor_salts DROP PARTITION 20261120"));
    }

    #[test]
    fn each_table_past_its_period_says_to_run_retention() {
        let today = day(2026, 11, 25);
        let expiry = |table, keep_days, partitions: &[u32]| Expiry {
            table,
            keep_days,
            cutoff: crate::privacy::retention_rule::cutoff(today, keep_days),
            partitions: partitions.to_vec(),
        };
        let clean = [
            expiry(Retained::Events, 732, &[]),
            expiry(Retained::DailyStats, 0, &[]),
        ];
        assert_eq!(
            retention_status(&clean),
            Status::Ok(
                "no month is kept past its retention period (events 732 days, daily_stats forever)"
                    .into()
            )
        );
        let kept = [
            expiry(Retained::Events, 732, &[202001, 202002]),
            expiry(Retained::EmailOpens, 400, &[]),
        ];
        let Status::Findings(findings) = retention_status(&kept) else {
            panic!("a finding");
        };
        assert_eq!(
            findings,
            [
                "events still holds the rows of 202001, 202002, kept past its retention period of 732 days ([retention]): run `beaconhouse retention`, which drops such months; a running collector does so at start and daily, so check its log for `retention could not finish`"
            ]
        );
    }

    #[test]
    fn exposed_files_and_config_are_findings_and_a_missing_spool_is_not() {
        let dir = Path::new("/var/lib/beaconhouse/spool");
        let Status::Ok(text) = files_status(dir, Ok(None), None) else {
            panic!("nothing found");
        };
        assert!(text.contains("does not exist yet"), "{text}");
        let Status::Ok(text) = files_status(dir, Ok(Some((Vec::new(), 4))), None) else {
            panic!("nothing found");
        };
        assert!(
            text.starts_with("spool.dir /var/lib/beaconhouse/spool: 4 entries"),
            "{text}"
        );
        let exposure = Exposure {
            path: dir.join("ledger"),
            problem: Problem::Shared {
                mode: 0o644,
                directory: false,
            },
        };
        let config = ExposedSecrets {
            path: "/etc/beaconhouse.toml".into(),
            mode: 0o644,
            keys: vec!["reporting.tokens"],
        };
        let Status::Findings(findings) =
            files_status(dir, Ok(Some((vec![exposure.clone()], 4))), Some(&config))
        else {
            panic!("findings");
        };
        assert_eq!(findings, [exposure.to_string(), config.to_string()]);
        let error = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(matches!(
            files_status(dir, Err(error), None),
            Status::Failed(_)
        ));
    }

    #[test]
    fn staff_reading_a_raw_table_is_one_finding() {
        assert_eq!(
            staff_status("reporting", DATABASES, 12, &[]),
            Status::Ok(
                "the staff SQL user reporting is refused each of the 12 tables of stats".into()
            )
        );
        let Status::Findings(findings) = staff_status(
            "reporting",
            DATABASES,
            12,
            &["stats.events".into(), "stats.visitor_salts".into()],
        ) else {
            panic!("a finding");
        };
        assert_eq!(findings.len(), 1);
        assert!(findings[0].starts_with("the staff SQL user reporting can read 2 table(s) of the raw database: stats.events, stats.visitor_salts; staff may read stats_released alone"));
    }

    #[test]
    fn a_series_of_consent_is_a_finding() {
        let clean = Exposition {
            source: "http://127.0.0.1:9091/metrics".into(),
            text: "# HELP x y\nbeaconhouse_rows_stored_total 5\nbeaconhouse_clickhouse_up 1\n"
                .into(),
        };
        assert_eq!(
            metrics_status(&clean),
            Status::Ok("none of the 2 series of http://127.0.0.1:9091/metrics speaks of Do-Not-Track or Global Privacy Control".into())
        );
        let planted = Exposition {
            text: format!(
                "{}beaconhouse_hits_dropped_total{{reason=\"dnt\"}} 1\n",
                clean.text
            ),
            ..clean
        };
        let Status::Findings(findings) = metrics_status(&planted) else {
            panic!("a finding");
        };
        assert!(findings[0].starts_with("beaconhouse_hits_dropped_total{reason=\"dnt\"}, of http://127.0.0.1:9091/metrics, speaks of"));
    }

    #[test]
    fn a_report_passes_only_when_every_check_ran_clean() {
        let report = |statuses: Vec<Status>| Report {
            outcomes: Check::ALL
                .into_iter()
                .zip(statuses)
                .map(|(check, status)| Outcome { check, status })
                .collect(),
        };
        let clean = report(vec![
            Status::Ok("a".into()),
            Status::Ok("b".into()),
            Status::Skipped("no staff user".into()),
        ]);
        assert!(clean.passed());
        assert_eq!(
            clean.render(Format::Text),
            "ok       personal_data a\nok       salts         b\nskipped  retention     no staff user\naudit passed: nothing found\n"
        );
        let found = report(vec![
            Status::Findings(vec!["one".into(), "two".into()]),
            Status::Failed("down".into()),
        ]);
        assert!(!found.passed());
        assert_eq!((found.findings(), found.failures()), (2, 1));
        let text = found.render(Format::Text);
        assert!(text.starts_with("FINDING  personal_data one\nFINDING  personal_data two\nFAILED   salts         down\n"), "{text}");
        assert!(text.ends_with(
            "audit found 2 problem(s), and 1 check(s) could not run; each line says what to do\n"
        ));
        let json: serde_json::Value = serde_json::from_str(&found.render(Format::Json)).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["findings"], 2);
        assert_eq!(json["checks"][0]["findings"][1], "two");
        assert_eq!(json["checks"][1]["status"], "failed");
        assert!(!report(vec![Status::Failed("down".into())]).passed());
    }
}
