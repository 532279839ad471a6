//! The cluster form of `schema/`: what `migrate` runs instead of each schema
//! statement when `clickhouse.cluster` is set. [`statements`] is pure:
//! statement text in, statements out.
//!
//! Owns: where every table's rows live on a cluster ([`TABLES`]: spread over
//! the shards by a sharding key, or kept whole on every node, each sharded
//! table as `<table>_local` on every node, named by
//! `store::clickhouse::local_table`, under a `Distributed` table `<table>`),
//! and the ZooKeeper paths of the replicated tables.
//! `schema/` stays plain SQL for one server; this module rewrites it.
//!
//! The rewrite, per statement:
//! - `CREATE TABLE IF NOT EXISTS t (...) ENGINE = MergeTree() ...` of a
//!   sharded table becomes `t_local ON CLUSTER`, `ReplicatedMergeTree` with
//!   a `{shard}`/`{replica}` path, plus `t ON CLUSTER AS t_local ENGINE =
//!   Distributed(cluster, database, t_local, key)`: every statement that
//!   reads or inserts `t` (reports, staff SQL, the shipper) goes through the
//!   `Distributed` table unchanged. `ReplacingMergeTree(v)` becomes
//!   `ReplicatedReplacingMergeTree(path, replica, v)`.
//! - A table kept on every node (the salts, the ledger, the sign-outs)
//!   becomes one replicated table under its own name whose path has no
//!   `{shard}`: every node is a replica of it, so every collector reads the
//!   same salts and sign-outs, and a `DROP PARTITION` on any node destroys a
//!   salt on all of them.
//! - `ALTER TABLE t ...` of a sharded table runs on `t_local ON CLUSTER`,
//!   then, unless it is a `DELETE`, the `Distributed` table is created again
//!   over the new columns
//!   (ClickHouse 18.16 refuses `ALTER ... ON CLUSTER` on a `Distributed`
//!   table when the shards replicate internally). Of a table on every node,
//!   it runs once, without `ON CLUSTER`: replication carries it everywhere.
//!
//! Must never: take a name from anywhere but `schema/` and the validated
//! configuration (database and cluster are plain names), or place a table
//! that [`TABLES`] does not list.

use crate::store::clickhouse::{RELEASED_QUALIFIER, local_table};

/// Where a table's rows live on a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Spread over the shards by the sharding key (an integer expression),
    /// each shard's rows on every replica of that shard.
    Sharded { key: &'static str },
    /// Every row on every node.
    EveryNode,
}

/// Every table of `schema/` and where its rows live on a cluster. A sharding
/// key decides which rows meet on one shard, where `FINAL` and per-row work
/// happen.
pub const TABLES: &[(&str, Placement)] = &[
    // The ledger: recorded once for the whole cluster.
    ("schema_migrations", Placement::EveryNode),
    // By visitor: a visitor's rows of a day (ids change daily) on one shard.
    ("events", Placement::Sharded { key: "visitor_id" }),
    // By recipient of a campaign: a recipient's opens and clicks of a
    // campaign, which the scanner rules read together, on one shard.
    (
        "email_opens",
        Placement::Sharded {
            key: "cityHash64(campaign, recipient_id)",
        },
    ),
    (
        "email_clicks",
        Placement::Sharded {
            key: "cityHash64(campaign, recipient_id)",
        },
    ),
    // Shared by every collector on every node.
    ("visitor_salts", Placement::EveryNode),
    ("recipient_keys", Placement::EveryNode),
    // Read whole by every collector, as the salts are.
    ("session_revocations", Placement::EveryNode),
    // By day: FINAL replaces rows only within a shard, so a day computed
    // again must land where its earlier rows are.
    (
        "daily_stats",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "daily_filtered",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "daily_stats_days",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "daily_goals",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "daily_funnels",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "local_stats",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "local_goals",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "local_funnels",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    (
        "local_days",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
    // Summed in every report that reads it: any shard will do.
    ("filtered_hits", Placement::Sharded { key: "rand()" }),
    // Staff SQL reads it on the node it reaches, never through a
    // `Distributed` table: one would run a staff query's subqueries on the
    // other nodes as the cluster's own user, who may read the raw tables.
    ("released.daily", Placement::EveryNode),
    (
        "released_days",
        Placement::Sharded {
            key: "toUInt16(day)",
        },
    ),
];

/// The cluster and database the statements are for.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    /// A cluster of the servers' `<remote_servers>`.
    pub name: &'a str,
    pub database: &'a str,
    /// Where the schema's `released.<table>`s live.
    pub released_database: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterFormError {
    #[error(
        "the table {0} has no placement on a cluster; add it to migrate::cluster::TABLES (sharded by a key, or on every node)"
    )]
    UnknownTable(String),
    #[error(
        "migrate::cluster cannot rewrite this schema statement for a cluster: {0}; write it as CREATE TABLE IF NOT EXISTS or ALTER TABLE, or teach migrate::cluster the new kind"
    )]
    Unsupported(String),
}

/// The statements that apply one statement of `schema/` on `cluster`.
pub fn statements(statement: &str, cluster: Cluster<'_>) -> Result<Vec<String>, ClusterFormError> {
    let unsupported = || ClusterFormError::Unsupported(statement.to_string());
    if let Some(rest) = statement.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
        let (schema_name, definition) = split_name(rest).ok_or_else(unsupported)?;
        let (columns, engine) = definition.split_once("ENGINE = ").ok_or_else(unsupported)?;
        let (engine, arguments, rest) = engine_parts(engine).ok_or_else(unsupported)?;
        let (database, table) = cluster.place(schema_name);
        let name = cluster.name;
        let replicated = |path: String, created: &str| {
            let arguments = match arguments {
                "" => String::new(),
                more => format!(", {more}"),
            };
            format!(
                "CREATE TABLE IF NOT EXISTS {database}.{created} ON CLUSTER {name}\n{columns}ENGINE = Replicated{engine}('{path}', '{{replica}}'{arguments}){rest}"
            )
        };
        return Ok(match placement(schema_name)? {
            Placement::Sharded { key } => vec![
                replicated(
                    format!("/clickhouse/tables/{{shard}}/{database}/{table}"),
                    &local_table(table),
                ),
                distributed(table, key, cluster),
            ],
            Placement::EveryNode => vec![replicated(
                format!("/clickhouse/tables/every_node/{database}/{table}"),
                table,
            )],
        });
    }
    if let Some(rest) = statement.strip_prefix("ALTER TABLE ") {
        let (schema_name, action) = split_name(rest).ok_or_else(unsupported)?;
        let (database, table) = cluster.place(schema_name);
        let name = cluster.name;
        return Ok(match placement(schema_name)? {
            Placement::Sharded { key } => {
                let mut statements = vec![format!(
                    "ALTER TABLE {database}.{} ON CLUSTER {name} {action}",
                    local_table(table)
                )];
                // A `DELETE` leaves the columns as they were.
                if !action.starts_with("DELETE ") {
                    statements.extend([
                        format!("DROP TABLE IF EXISTS {database}.{table} ON CLUSTER {name}"),
                        distributed(table, key, cluster),
                    ]);
                }
                statements
            }
            Placement::EveryNode => vec![format!("ALTER TABLE {database}.{table} {action}")],
        });
    }
    Err(unsupported())
}

impl Cluster<'_> {
    /// The database and table a schema name stands for: `released.<table>`
    /// in the released database, any other name in the database.
    fn place<'n>(&self, schema_name: &'n str) -> (&str, &'n str) {
        match schema_name.strip_prefix(RELEASED_QUALIFIER) {
            Some(table) => (self.released_database, table),
            None => (self.database, schema_name),
        }
    }
}

fn placement(table: &str) -> Result<Placement, ClusterFormError> {
    TABLES
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, placement)| *placement)
        .ok_or_else(|| ClusterFormError::UnknownTable(table.to_string()))
}

/// The `Distributed` table a sharded table is read and written through.
fn distributed(table: &str, key: &str, cluster: Cluster<'_>) -> String {
    let Cluster { name, database, .. } = cluster;
    let local = local_table(table);
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {name} AS {database}.{local} ENGINE = Distributed({name}, {database}, {local}, {key})"
    )
}

/// `name rest` → (`name`, `rest`), the name ending at a space, a line break
/// or `(`; a plain name, or one of the released database
/// (`released.<plain name>`).
fn split_name(text: &str) -> Option<(&str, &str)> {
    let end = text.find(|c: char| c.is_whitespace() || c == '(')?;
    let (name, rest) = text.split_at(end);
    let table = name.strip_prefix(RELEASED_QUALIFIER).unwrap_or(name);
    let plain = !table.is_empty() && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| (name, rest.trim_start()))
}

/// `MergeTree() PARTITION BY ...` → (`MergeTree`, ``, ` PARTITION BY ...`);
/// `ReplacingMergeTree(v) ...` → (`ReplacingMergeTree`, `v`, ...). Only the
/// MergeTree family has a replicated form.
fn engine_parts(engine: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = engine.split_once('(')?;
    let (arguments, rest) = rest.split_once(')')?;
    name.ends_with("MergeTree")
        .then(|| (name, arguments.trim(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::{MIGRATIONS, statements as split};

    const CLUSTER: Cluster<'static> = Cluster {
        name: "analytics",
        database: "stats",
        released_database: "stats_released",
    };

    #[test]
    fn a_sharded_table_becomes_replicated_local_tables_under_a_distributed_one() {
        let statement = "CREATE TABLE IF NOT EXISTS events\n(\n    site String,\n    ts DateTime('UTC')\n)\nENGINE = MergeTree()\nPARTITION BY toYYYYMM(ts)\nORDER BY (site, ts)";
        assert_eq!(
            statements(statement, CLUSTER).unwrap(),
            [
                "CREATE TABLE IF NOT EXISTS stats.events_local ON CLUSTER analytics\n(\n    site String,\n    ts DateTime('UTC')\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/stats/events', '{replica}')\nPARTITION BY toYYYYMM(ts)\nORDER BY (site, ts)",
                "CREATE TABLE IF NOT EXISTS stats.events ON CLUSTER analytics AS stats.events_local ENGINE = Distributed(analytics, stats, events_local, visitor_id)",
            ]
        );
    }

    #[test]
    fn a_replacing_table_keeps_its_version_column() {
        let statement = "CREATE TABLE IF NOT EXISTS daily_stats_days\n(\n    day Date\n)\nENGINE = ReplacingMergeTree(computed_at)\nORDER BY day";
        let out = statements(statement, CLUSTER).unwrap();
        assert_eq!(
            out[0],
            "CREATE TABLE IF NOT EXISTS stats.daily_stats_days_local ON CLUSTER analytics\n(\n    day Date\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/stats/daily_stats_days', '{replica}', computed_at)\nORDER BY day"
        );
        assert!(
            out[1]
                .ends_with("Distributed(analytics, stats, daily_stats_days_local, toUInt16(day))")
        );
    }

    #[test]
    fn the_released_cube_is_whole_on_every_node_in_the_released_database() {
        let statement = "CREATE TABLE IF NOT EXISTS released.daily\n(\n    day Date\n)\nENGINE = ReplacingMergeTree(computed_at)\nORDER BY day";
        assert_eq!(
            statements(statement, CLUSTER).unwrap(),
            [
                "CREATE TABLE IF NOT EXISTS stats_released.daily ON CLUSTER analytics\n(\n    day Date\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/every_node/stats_released/daily', '{replica}', computed_at)\nORDER BY day"
            ]
        );
        assert_eq!(
            statements("ALTER TABLE released.daily ADD COLUMN x UInt8", CLUSTER).unwrap(),
            ["ALTER TABLE stats_released.daily ADD COLUMN x UInt8"]
        );
    }

    #[test]
    fn salts_and_the_ledger_are_one_replicated_table_on_every_node() {
        let statement = "CREATE TABLE IF NOT EXISTS visitor_salts\n(\n    day Date\n)\nENGINE = MergeTree()\nPARTITION BY toYYYYMMDD(day)\nORDER BY (day, salt)";
        assert_eq!(
            statements(statement, CLUSTER).unwrap(),
            [
                "CREATE TABLE IF NOT EXISTS stats.visitor_salts ON CLUSTER analytics\n(\n    day Date\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/every_node/stats/visitor_salts', '{replica}')\nPARTITION BY toYYYYMMDD(day)\nORDER BY (day, salt)"
            ]
        );
    }

    #[test]
    fn alters_reach_every_shard_and_the_distributed_table_follows() {
        assert_eq!(
            statements("ALTER TABLE events DROP COLUMN title", CLUSTER).unwrap(),
            [
                "ALTER TABLE stats.events_local ON CLUSTER analytics DROP COLUMN title",
                "DROP TABLE IF EXISTS stats.events ON CLUSTER analytics",
                "CREATE TABLE IF NOT EXISTS stats.events ON CLUSTER analytics AS stats.events_local ENGINE = Distributed(analytics, stats, events_local, visitor_id)",
            ]
        );
        assert_eq!(
            statements("ALTER TABLE recipient_keys ADD COLUMN note String", CLUSTER).unwrap(),
            ["ALTER TABLE stats.recipient_keys ADD COLUMN note String"]
        );
        assert_eq!(
            statements(
                "ALTER TABLE daily_stats DELETE WHERE dimension = 'x'",
                CLUSTER
            )
            .unwrap(),
            [
                "ALTER TABLE stats.daily_stats_local ON CLUSTER analytics DELETE WHERE dimension = 'x'"
            ],
            "a DELETE changes no column: the distributed table stays"
        );
    }

    #[test]
    fn what_it_cannot_place_or_rewrite_is_refused_by_name() {
        let unknown =
            "CREATE TABLE IF NOT EXISTS pageviews (x UInt8) ENGINE = MergeTree() ORDER BY x";
        assert_eq!(
            statements(unknown, CLUSTER),
            Err(ClusterFormError::UnknownTable("pageviews".into()))
        );
        for unsupported in [
            "CREATE TABLE IF NOT EXISTS events (x UInt8) ENGINE = Memory",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT 1",
            "DROP TABLE events",
            "ALTER TABLE `events` DROP COLUMN x",
        ] {
            assert!(
                matches!(
                    statements(unsupported, CLUSTER),
                    Err(ClusterFormError::Unsupported(_))
                ),
                "{unsupported}"
            );
        }
    }

    /// Every statement of every schema file has a cluster form, every table
    /// a placement, and every sharded table a local and a distributed table.
    /// Also writes the cluster form to `$BEACONHOUSE_TEST_CLUSTER_SQL_OUT`,
    /// one statement per line, for `tests/schema_on_current_clickhouse.py` to
    /// parse on a current ClickHouse (`tests/run.sh` does both; the cluster
    /// tests run it on 18.16).
    #[test]
    fn every_schema_statement_has_a_cluster_form() {
        let mut created = Vec::new();
        let mut all = Vec::new();
        for migration in MIGRATIONS {
            for statement in split(migration.sql) {
                let out = statements(&statement, CLUSTER)
                    .unwrap_or_else(|e| panic!("{}: {e}", migration.file));
                all.extend(out.iter().map(|line| line.replace('\n', " ")));
                for line in &out {
                    assert!(
                        line.contains(" ON CLUSTER analytics")
                            || line.starts_with("ALTER TABLE stats."),
                        "{line}"
                    );
                    if let Some(rest) = line.strip_prefix("CREATE TABLE IF NOT EXISTS stats.") {
                        created.push(rest.split_whitespace().next().unwrap().to_string());
                    }
                    // Named as the schema names it, `released.<table>`.
                    if let Some(rest) =
                        line.strip_prefix("CREATE TABLE IF NOT EXISTS stats_released.")
                    {
                        let table = rest.split_whitespace().next().unwrap();
                        created.push(format!("{RELEASED_QUALIFIER}{table}"));
                    }
                }
            }
        }
        let mut expected: Vec<String> = TABLES
            .iter()
            .flat_map(|(table, placement)| match placement {
                Placement::Sharded { .. } => vec![local_table(table), table.to_string()],
                Placement::EveryNode => vec![table.to_string()],
            })
            .collect();
        // The ALTERs of 0005, 0007, 0010, 0011, 0012, 0014 and 0019 create
        // `events` (twice), `daily_stats_days` (four times) and
        // `released_days` again over the new columns; 0013's DELETEs change
        // no column.
        expected.extend([
            "events".into(),
            "events".into(),
            "daily_stats_days".into(),
            "daily_stats_days".into(),
            "daily_stats_days".into(),
            "daily_stats_days".into(),
            "released_days".into(),
        ]);
        created.sort();
        expected.sort();
        assert_eq!(created, expected);
        if let Some(path) = std::env::var_os("BEACONHOUSE_TEST_CLUSTER_SQL_OUT") {
            std::fs::write(path, all.join("\n") + "\n").unwrap();
        }
    }
}
