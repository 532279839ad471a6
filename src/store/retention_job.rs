//! Carries out the retention periods in ClickHouse: lists each table's
//! monthly partitions in `system.parts` and drops the months
//! `privacy::retention_rule` says have expired, `events` before `daily_stats`.
//!
//! Owns: the two statements retention runs ([`partitions_query`] and
//! [`drop_partition_statement`]), and the loop `beaconhouse serve` runs: once
//! at start, then daily, again within the hour after a failure; `serve`'s
//! audit runs after each pass. `beaconhouse audit` reads [`Retention::expired`]
//! (the dry run) to find months kept too long. Several
//! collectors may run it at once: dropping a month that is already gone does
//! nothing.
//!
//! On a cluster (`clickhouse.cluster`) the months are those of the local
//! tables (`events_local`, ...) on every shard, listed through the
//! `cluster()` table function and dropped `ON CLUSTER`: one replica of each
//! shard drops the month, and replication drops it on the others.
//! Must never: drop a partition the rule did not name, drop anything on a
//! dry run, or build SQL from anything but [`Table`] (partitions are bound
//! as numbers).

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::watch;

use super::clickhouse::{Endpoints, RELEASED_QUALIFIER, local_table};
use crate::clock;
use crate::config::{ClickHouseConfig, RetentionConfig};
use crate::metrics::Metrics;
use crate::privacy::retention_rule::{self, Table};

/// How often `serve` enforces retention.
const INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// How soon `serve` tries again after a failure.
const RETRY: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(
        "cannot list the partitions of {table}: {cause}; check that ClickHouse is up and `beaconhouse migrate` has run"
    )]
    List {
        table: &'static str,
        cause: clickhouse::error::Error,
    },
    #[error(
        "cannot drop partition {partition} of {table}: {cause}; check that the ClickHouse user may ALTER {table}, then run `beaconhouse retention` (or wait for the collector's next try)"
    )]
    Drop {
        table: &'static str,
        partition: u32,
        cause: clickhouse::error::Error,
    },
}

/// What one table's retention period lets go of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub table: Table,
    /// `retention.<table>_days`; 0 keeps the table forever.
    pub keep_days: u16,
    /// Months that ended before this day go; `None` when kept forever.
    pub cutoff: Option<u16>,
    /// The expired months (`202410`), oldest first.
    pub partitions: Vec<u32>,
}

impl Expiry {
    /// One line for people: `events (732 days, months ended before
    /// 2024-11-23): dropped 202410`, or `would drop` on a dry run.
    pub fn describe(&self, dry_run: bool) -> String {
        let period = match self.cutoff {
            Some(cutoff) => format!(
                "{} days, months ended before {}",
                self.keep_days,
                clock::iso_date(cutoff)
            ),
            None => "kept forever".to_string(),
        };
        let action = match (self.partitions.is_empty(), dry_run) {
            (true, _) => "nothing to drop".to_string(),
            (false, true) => format!("would drop {}", self.months()),
            (false, false) => format!("dropped {}", self.months()),
        };
        format!("{} ({period}): {action}", self.table.name())
    }

    /// The expired months, `202409, 202410`.
    pub fn months(&self) -> String {
        let months: Vec<String> = self.partitions.iter().map(u32::to_string).collect();
        months.join(", ")
    }
}

/// Where the months are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// One server: the tables themselves, in the client's database.
    Server,
    /// A cluster: each table's local tables on every shard.
    Cluster { name: String, database: String },
}

/// A table of the released database (`released.<table>`): its name there.
/// It is whole on every node of a cluster, so on any scope its months are
/// those of the node reached, and dropping one there drops it everywhere
/// (replication carries it).
fn released_table(table: Table) -> Option<&'static str> {
    table.name().strip_prefix(RELEASED_QUALIFIER)
}

/// The table's partitions that hold rows, as `system.parts` names them: on a
/// cluster, those of its local tables on one replica of every shard.
fn partitions_query(
    client: &Client,
    table: Table,
    scope: &Scope,
    released_database: &str,
) -> clickhouse::query::Query {
    if let Some(released) = released_table(table) {
        return client
            .query("SELECT DISTINCT partition_id FROM system.parts WHERE active AND database = ? AND table = ?")
            .bind(released_database)
            .bind(released);
    }
    match scope {
        Scope::Server => client
            .query("SELECT DISTINCT partition_id FROM system.parts WHERE active AND database = currentDatabase() AND table = ?")
            .bind(table.name()),
        Scope::Cluster { name, database } => client
            .query("SELECT DISTINCT partition_id FROM cluster(?, system, parts) WHERE active AND database = ? AND table = ?")
            .bind(name.as_str())
            .bind(database.as_str())
            .bind(local_table(table.name())),
    }
}

/// `ALTER TABLE <table> DROP PARTITION ?`, the partition bound as its
/// `toYYYYMM` value (which ClickHouse 18.16 and current releases both
/// accept); on a cluster, of the local table on every shard. The one DDL
/// statement of retention.
fn drop_partition_statement(table: Table, scope: &Scope, released_database: &str) -> String {
    if let Some(released) = released_table(table) {
        return format!("ALTER TABLE {released_database}.{released} DROP PARTITION ?");
    }
    match scope {
        Scope::Server => format!("ALTER TABLE {} DROP PARTITION ?", table.name()),
        Scope::Cluster { name, database } => format!(
            "ALTER TABLE {database}.{} ON CLUSTER {name} DROP PARTITION ?",
            local_table(table.name())
        ),
    }
}

/// Lists and drops expired partitions.
#[derive(Clone)]
pub struct Retention {
    endpoints: Endpoints,
    scope: Scope,
    /// Where `released.<table>`s are.
    released_database: String,
    periods: RetentionConfig,
}

impl Retention {
    pub fn new(
        endpoints: Endpoints,
        clickhouse: &ClickHouseConfig,
        periods: RetentionConfig,
    ) -> Retention {
        let scope = match &clickhouse.cluster {
            None => Scope::Server,
            Some(name) => Scope::Cluster {
                name: name.clone(),
                database: clickhouse.database.clone(),
            },
        };
        Retention {
            endpoints,
            scope,
            released_database: clickhouse.released_database(),
            periods,
        }
    }

    /// What each table's period lets go of when it is `today`, in the order
    /// tables are dropped. Drops nothing: this is the dry run.
    pub async fn expired(&self, today: u16) -> Result<Vec<Expiry>, RetentionError> {
        let mut all = Vec::with_capacity(Table::ALL.len());
        for table in Table::ALL {
            let keep_days = self.periods.days(table);
            let cutoff = retention_rule::cutoff(today, keep_days);
            let partitions = match cutoff {
                Some(_) => {
                    retention_rule::expired(&self.partition_ids(table).await?, today, keep_days)
                }
                None => Vec::new(),
            };
            all.push(Expiry {
                table,
                keep_days,
                cutoff,
                partitions,
            });
        }
        Ok(all)
    }

    /// Drops every expired partition, table by table in [`Table::ALL`]'s
    /// order, calling `dropped` after each one; stops at the first failure, so
    /// `daily_stats` never loses a month whose events are still there.
    pub async fn enforce(
        &self,
        today: u16,
        mut dropped: impl FnMut(Table),
    ) -> Result<Vec<Expiry>, RetentionError> {
        let expired = self.expired(today).await?;
        for expiry in &expired {
            let statement =
                drop_partition_statement(expiry.table, &self.scope, &self.released_database);
            for &partition in &expiry.partitions {
                self.endpoints
                    .run(|client| client.query(&statement).bind(partition).execute())
                    .await
                    .map_err(|cause| RetentionError::Drop {
                        table: expiry.table.name(),
                        partition,
                        cause,
                    })?;
                dropped(expiry.table);
            }
        }
        Ok(expired)
    }

    async fn partition_ids(&self, table: Table) -> Result<Vec<String>, RetentionError> {
        self.endpoints
            .run(|client| {
                partitions_query(&client, table, &self.scope, &self.released_database).fetch_all()
            })
            .await
            .map_err(|cause| RetentionError::List {
                table: table.name(),
                cause,
            })
    }
}

/// Enforces retention now, then every [`INTERVAL`] (every [`RETRY`] after a
/// failure) until the process ends. Failures are logged and counted, never
/// fatal: the collector keeps collecting. After each pass, done or not, it
/// signals `passes`: `serve`'s audit runs then, so it never finds a month
/// that this pass was about to drop.
pub async fn run(retention: Retention, metrics: Arc<Metrics>, passes: watch::Sender<()>) {
    loop {
        let today = clock::day_of(clock::now_unix());
        let outcome = retention
            .enforce(today, |table| metrics.partition_dropped(table))
            .await;
        let wait = match outcome {
            Ok(expired) => {
                for expiry in expired.iter().filter(|e| !e.partitions.is_empty()) {
                    tracing::info!("retention: {}", expiry.describe(false));
                }
                INTERVAL
            }
            Err(error) => {
                metrics.retention_failed();
                tracing::warn!(%error, "retention could not finish; expired rows stay until the next try, within the hour");
                RETRY
            }
        };
        // Nobody may be listening (a collector's audit ended): nothing to do.
        let _ = passes.send(());
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiry(table: Table, keep_days: u16, partitions: &[u32]) -> Expiry {
        Expiry {
            table,
            keep_days,
            cutoff: retention_rule::cutoff(clock::day_from_civil(2026, 11, 25).unwrap(), keep_days),
            partitions: partitions.to_vec(),
        }
    }

    #[test]
    fn each_table_is_described_in_one_line() {
        let cases = [
            (
                expiry(Table::Events, 732, &[202409, 202410]),
                true,
                "events (732 days, months ended before 2024-11-23): would drop 202409, 202410",
            ),
            (
                expiry(Table::EmailOpens, 400, &[202509]),
                false,
                "email_opens (400 days, months ended before 2025-10-21): dropped 202509",
            ),
            (
                expiry(Table::EmailOpens, 400, &[]),
                false,
                "email_opens (400 days, months ended before 2025-10-21): nothing to drop",
            ),
            (
                expiry(Table::DailyStats, 0, &[]),
                true,
                "daily_stats (kept forever): nothing to drop",
            ),
        ];
        for (expiry, dry_run, line) in cases {
            assert_eq!(expiry.describe(dry_run), line);
        }
    }

    #[test]
    fn the_drop_statement_names_the_table_and_binds_the_partition() {
        assert_eq!(
            drop_partition_statement(Table::DailyStats, &Scope::Server, "stats_released"),
            "ALTER TABLE daily_stats DROP PARTITION ?"
        );
    }

    #[test]
    fn the_released_months_are_the_released_databases_on_any_scope() {
        let cluster = Scope::Cluster {
            name: "analytics".into(),
            database: "stats".into(),
        };
        let client = Client::default();
        for scope in [Scope::Server, cluster] {
            assert_eq!(
                drop_partition_statement(Table::ReleasedDaily, &scope, "stats_released"),
                "ALTER TABLE stats_released.daily DROP PARTITION ?"
            );
            assert_eq!(
                partitions_query(&client, Table::ReleasedDaily, &scope, "stats_released")
                    .sql_display()
                    .to_string(),
                "SELECT DISTINCT partition_id FROM system.parts WHERE active AND database = 'stats_released' AND table = 'daily'"
            );
        }
    }

    #[test]
    fn on_a_cluster_the_local_tables_of_every_shard_are_listed_and_dropped() {
        let cluster = Scope::Cluster {
            name: "analytics".into(),
            database: "stats".into(),
        };
        assert_eq!(
            drop_partition_statement(Table::Events, &cluster, "stats_released"),
            "ALTER TABLE stats.events_local ON CLUSTER analytics DROP PARTITION ?"
        );
        let client = Client::default();
        assert_eq!(
            partitions_query(&client, Table::EmailOpens, &cluster, "stats_released")
                .sql_display()
                .to_string(),
            "SELECT DISTINCT partition_id FROM cluster('analytics', system, parts) WHERE active AND database = 'stats' AND table = 'email_opens_local'"
        );
        assert_eq!(
            partitions_query(&client, Table::EmailOpens, &Scope::Server, "stats_released")
                .sql_display()
                .to_string(),
            "SELECT DISTINCT partition_id FROM system.parts WHERE active AND database = currentDatabase() AND table = 'email_opens'"
        );
    }
}
