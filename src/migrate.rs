//! `beaconhouse migrate`: applies the numbered SQL files of `schema/`, in order,
//! each once, recording each in `schema_migrations`.
//!
//! Every file is compiled into the binary, so the schema always matches the
//! code that writes to it. Statements use only syntax that ClickHouse 18.16 and
//! current releases both accept (the test suite runs every file on both).
//! With `clickhouse.cluster` set, each statement is run in its [`cluster`]
//! form (`ON CLUSTER`, replicated, under `Distributed` tables) and the
//! ledger is a table on every node, so a migration is recorded once for the
//! whole cluster. Each statement goes to the first endpoint that answers.
//! Must never: take SQL from anywhere but `schema/`.

pub mod cluster;

use clickhouse::sql::Identifier;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::ClickHouseConfig;
use crate::store::clickhouse::{Endpoints, RELEASED_QUALIFIER};
use cluster::{Cluster, ClusterFormError};

/// One file of `schema/`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub file: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal => $file:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            file: $file,
            sql: include_str!(concat!("../schema/", $file)),
        }),*]
    };
}

/// Every migration, in order. Version 0 is the ledger itself, applied always.
pub const MIGRATIONS: &[Migration] = migrations![
    0 => "0000_schema_migrations.sql",
    1 => "0001_events.sql",
    2 => "0002_email_opens.sql",
    3 => "0003_salts.sql",
    4 => "0004_rollups.sql",
    5 => "0005_no_titles.sql",
    6 => "0006_daily_filtered.sql",
    7 => "0007_filtered_ledger.sql",
    8 => "0008_session_revocations.sql",
    9 => "0009_released.sql",
    10 => "0010_capped_rollups.sql",
    11 => "0011_noise_derivation.sql",
    12 => "0012_rollup_layout.sql",
    13 => "0013_old_hour_rows.sql",
    14 => "0014_event_props.sql",
    15 => "0015_daily_goals.sql",
    16 => "0016_filtered_hits.sql",
    17 => "0017_daily_funnels.sql",
    18 => "0018_email_clicks.sql",
    19 => "0019_today_so_far.sql",
    20 => "0020_local_days.sql",
];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Tls(#[from] crate::store::clickhouse::TlsError),
    #[error(
        "ClickHouse at {urls} did not answer: {}; start it (README, \"Set up\") or set BEACONHOUSE_CLICKHOUSE_URL",
        crate::store::clickhouse::describe(.cause)
    )]
    Unreachable {
        urls: String,
        cause: clickhouse::error::Error,
    },
    #[error(
        "migration {file} failed: {cause}; fix the statement or the server (on a cluster, start every node), then run migrate again"
    )]
    Statement {
        file: &'static str,
        cause: clickhouse::error::Error,
    },
    #[error("migration {file} cannot run on a cluster: {cause}")]
    ClusterForm {
        file: &'static str,
        cause: ClusterFormError,
    },
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct LedgerRow {
    version: u32,
    name: String,
    applied_at: u32,
}

/// Creates the database if needed and applies what is missing; returns the
/// files applied by this call.
pub async fn apply(config: &ClickHouseConfig) -> Result<Vec<&'static str>, MigrateError> {
    let server = Endpoints::server(config)?;
    let released = config.released_database();
    for database in [config.database.as_str(), released.as_str()] {
        let database = Identifier(database);
        server
            .run(|client| async move {
                let query = match &config.cluster {
                    None => client
                        .query("CREATE DATABASE IF NOT EXISTS ?")
                        .bind(database),
                    Some(cluster) => client
                        .query("CREATE DATABASE IF NOT EXISTS ? ON CLUSTER ?")
                        .bind(database)
                        .bind(Identifier(cluster)),
                };
                query.execute().await
            })
            .await
            .map_err(|cause| MigrateError::Unreachable {
                urls: server.urls(),
                cause,
            })?;
    }
    let endpoints = Endpoints::new(config)?;
    let cluster = config.cluster.as_deref().map(|name| Cluster {
        name,
        database: &config.database,
        released_database: &released,
    });

    let (ledger, rest) = MIGRATIONS
        .split_first()
        .expect("the ledger migration exists");
    run_file(&endpoints, cluster, &released, ledger).await?;
    let applied: Vec<u32> = endpoints
        .run(|client| async move {
            if cluster.is_some() {
                // The ledger is replicated: read it once this node holds
                // what other nodes recorded.
                client
                    .query("SYSTEM SYNC REPLICA schema_migrations")
                    .execute()
                    .await?;
            }
            client
                .query("SELECT version FROM schema_migrations")
                .fetch_all()
                .await
        })
        .await
        .map_err(|cause| MigrateError::Statement {
            file: ledger.file,
            cause,
        })?;

    let mut newly_applied = Vec::new();
    for migration in rest.iter().filter(|m| !applied.contains(&m.version)) {
        run_file(&endpoints, cluster, &released, migration).await?;
        let record = LedgerRow {
            version: migration.version,
            name: migration.file.to_string(),
            applied_at: clock::now_unix(),
        };
        endpoints
            .run(|client| {
                let record = &record;
                async move {
                    let mut insert = client.insert::<LedgerRow>("schema_migrations").await?;
                    insert.write(record).await?;
                    insert.end().await
                }
            })
            .await
            .map_err(|cause| MigrateError::Statement {
                file: migration.file,
                cause,
            })?;
        newly_applied.push(migration.file);
    }
    Ok(newly_applied)
}

/// Runs a file's statements, each in its cluster form on a cluster.
async fn run_file(
    endpoints: &Endpoints,
    cluster: Option<Cluster<'_>>,
    released: &str,
    migration: &Migration,
) -> Result<(), MigrateError> {
    for statement in statements(migration.sql) {
        let texts = match cluster {
            None => vec![in_released_database(&statement, released)],
            Some(cluster) => cluster::statements(&statement, cluster).map_err(|cause| {
                MigrateError::ClusterForm {
                    file: migration.file,
                    cause,
                }
            })?,
        };
        for text in &texts {
            endpoints
                .run(|client| async move { client.query(text).execute().await })
                .await
                .map_err(|cause| MigrateError::Statement {
                    file: migration.file,
                    cause,
                })?;
        }
    }
    Ok(())
}

/// `statement` with the table it creates or alters named in `released`
/// when the schema names it `released.<table>`; any other unchanged.
pub fn in_released_database(statement: &str, released: &str) -> String {
    for head in ["CREATE TABLE IF NOT EXISTS ", "ALTER TABLE "] {
        if let Some(table) = statement
            .strip_prefix(head)
            .and_then(|rest| rest.strip_prefix(RELEASED_QUALIFIER))
        {
            return format!("{head}{released}.{table}");
        }
    }
    statement.to_string()
}

/// The statements of a file: `--` comment lines removed, split at `;`.
/// (Schema files keep `;` out of string literals, which the tests check.)
pub fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_tables_are_created_in_the_released_database() {
        assert_eq!(
            in_released_database(
                "CREATE TABLE IF NOT EXISTS released.daily\n(\n    day Date\n)",
                "stats_released"
            ),
            "CREATE TABLE IF NOT EXISTS stats_released.daily\n(\n    day Date\n)"
        );
        assert_eq!(
            in_released_database("ALTER TABLE released.daily ADD COLUMN x UInt8", "r"),
            "ALTER TABLE r.daily ADD COLUMN x UInt8"
        );
        for unchanged in [
            "CREATE TABLE IF NOT EXISTS released_days\n(\n    day Date\n)",
            "ALTER TABLE events DROP COLUMN title",
        ] {
            assert_eq!(in_released_database(unchanged, "r"), unchanged);
        }
    }

    #[test]
    fn every_schema_file_is_compiled_in_and_numbered_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schema");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let compiled: Vec<&str> = MIGRATIONS.iter().map(|m| m.file).collect();
        assert_eq!(files, compiled);
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, i);
            assert!(migration.file.starts_with(&format!("{:04}_", i)));
        }
    }

    #[test]
    fn statements_split_and_skip_comments() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n  -- more\nCREATE TABLE b (y UInt8) ENGINE = Memory;\n";
        assert_eq!(
            statements(sql),
            vec![
                "CREATE TABLE a (x UInt8) ENGINE = Memory",
                "CREATE TABLE b (y UInt8) ENGINE = Memory"
            ]
        );
    }

    /// Creating and deleting rows are safe to repeat; the changes ClickHouse
    /// 18.16 cannot guard with `IF [NOT] EXISTS`, dropping or adding a
    /// column, stand alone in their file so the ledger runs each exactly
    /// once.
    #[test]
    fn schema_statements_are_safe_to_repeat_or_run_once_alone() {
        for migration in MIGRATIONS {
            let all = statements(migration.sql);
            for statement in &all {
                let repeatable = statement.starts_with("CREATE TABLE IF NOT EXISTS")
                    || statement.starts_with("CREATE MATERIALIZED VIEW IF NOT EXISTS")
                    || (statement.starts_with("ALTER TABLE")
                        && statement.contains(" DELETE WHERE "));
                let alters_alone = statement.starts_with("ALTER TABLE")
                    && (statement.contains(" DROP COLUMN ") || statement.contains(" ADD COLUMN "))
                    && all.len() == 1;
                assert!(
                    repeatable || alters_alone,
                    "{}: statements must be safe to repeat, or a lone DROP or ADD COLUMN: {statement}",
                    migration.file
                );
            }
        }
    }
}
