//! The ClickHouse sink: builds the client and inserts batches, and decides
//! whether a failed insert is worth retrying.
//!
//! Compatibility: the same code runs against ClickHouse 18.16 (Debian's package)
//! and current releases. Schema validation is off, because 18.16 cannot describe
//! a table in `RowBinaryWithNamesAndTypes`; rows are therefore plain `RowBinary`
//! whose field order must match the table (see `row::EventRow`). No
//! `LowCardinality`, TTL, codecs or `{name:Type}` parameters are used anywhere;
//! values are bound with the client's `?` placeholders.
//! Must never: build SQL from request data.

use std::time::Duration;

use crate::config::{ClickHouseConfig, ReportingConfig};
use clickhouse::Client;

/// Longest an insert may take before it counts as failed and is retried.
const INSERT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// ClickHouse is down, slow, or failed for a reason that may pass.
    #[error("ClickHouse insert failed, will retry: {0}")]
    Retryable(String),
    /// ClickHouse refused the data itself; sending it again cannot help.
    #[error(
        "ClickHouse rejected the batch as malformed: {0}; check that `beaconhouse migrate` ran and the tables were not altered"
    )]
    Rejected(String),
}

/// A client for the configured server and database: what `serve`, the
/// rollup and `migrate` use (reports use [`reports_client`]).
pub fn client(config: &ClickHouseConfig) -> Client {
    server(config).with_database(&config.database)
}

/// A client for the configured server with no database chosen, for creating
/// the database before anything else.
pub fn server(config: &ClickHouseConfig) -> Client {
    server_as(config, &config.user, &config.password)
}

fn server_as(config: &ClickHouseConfig, user: &str, password: &str) -> Client {
    Client::default()
        .with_url(&config.url)
        .with_user(user)
        .with_password(password)
        .with_validation(false)
}

/// The client reports read with (the stats API, the dashboard, `beaconhouse
/// report`; not the rollup, which writes): as `reporting.clickhouse_user`
/// when set, else as `clickhouse.user`, and in every case with settings on
/// each query that ClickHouse enforces. `readonly = 2` refuses any write
/// whatever the user may do, and still lets a query carry settings
/// (`readonly = 1` would refuse the two limits); `max_execution_time` and
/// `max_memory_usage` stop a query past `reporting.limits`.
pub fn reports_client(config: &ClickHouseConfig, reporting: &ReportingConfig) -> Client {
    let (user, password) = match &reporting.clickhouse_user {
        Some(reports) => (reports.user.as_str(), reports.password.as_str()),
        None => (config.user.as_str(), config.password.as_str()),
    };
    let limits = &reporting.limits;
    server_as(config, user, password)
        .with_database(&config.database)
        .with_setting("readonly", "2")
        .with_setting(
            "max_execution_time",
            whole_seconds(limits.query_timeout).to_string(),
        )
        .with_setting("max_memory_usage", limits.max_memory_bytes.to_string())
}

/// A duration as ClickHouse 18.16 reads `max_execution_time`: whole seconds
/// (it cuts `2.5` to 2, and `0.5` to 0, which is no limit), rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration
        .as_millis()
        .div_ceil(1000)
        .try_into()
        .unwrap_or(u64::MAX)
}

/// The tables rows are inserted into, with the column holding each row's
/// random id. A fixed enum: table names never come from a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTable {
    Events,
    EmailOpens,
}

impl IdTable {
    pub fn name(self) -> &'static str {
        match self {
            IdTable::Events => "events",
            IdTable::EmailOpens => "email_opens",
        }
    }

    fn stored_ids_query(self) -> &'static str {
        match self {
            IdTable::Events => {
                "SELECT event_id FROM events WHERE ts BETWEEN toDateTime(?) AND toDateTime(?)"
            }
            IdTable::EmailOpens => {
                "SELECT open_id FROM email_opens WHERE ts BETWEEN toDateTime(?) AND toDateTime(?)"
            }
        }
    }
}

/// Inserts batches of rows.
#[derive(Clone)]
pub struct ClickHouseSink {
    client: Client,
}

impl ClickHouseSink {
    pub fn new(client: Client) -> ClickHouseSink {
        ClickHouseSink { client }
    }

    pub async fn insert<T>(&self, table: IdTable, rows: &[T]) -> Result<(), SinkError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        let result = async {
            let mut insert = self
                .client
                .insert::<T>(table.name())
                .await?
                .with_timeouts(Some(INSERT_TIMEOUT), Some(INSERT_TIMEOUT));
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        }
        .await;
        result.map_err(classify)
    }

    /// The row ids `table` holds with `ts` between `from` and `to` (inclusive).
    pub async fn stored_ids(
        &self,
        table: IdTable,
        from: u32,
        to: u32,
    ) -> Result<std::collections::HashSet<u64>, SinkError> {
        let ids: Vec<u64> = self
            .client
            .query(table.stored_ids_query())
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(|e| SinkError::Retryable(e.to_string()))?;
        Ok(ids.into_iter().collect())
    }
}

/// Whether an insert error is worth retrying.
pub fn classify(error: clickhouse::error::Error) -> SinkError {
    use clickhouse::error::Error;
    let message = error.to_string();
    match &error {
        Error::BadResponse(body) if exception_code(body).is_some_and(is_bad_data) => {
            SinkError::Rejected(message)
        }
        _ => SinkError::Retryable(message),
    }
}

/// The `Code: N` of a ClickHouse exception text.
fn exception_code(body: &str) -> Option<u32> {
    let start = body.find("Code:")? + "Code:".len();
    let digits: String = body[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Errors about the data or the table's shape, as opposed to the server's state.
fn is_bad_data(code: u32) -> bool {
    matches!(
        code,
        6       // CANNOT_PARSE_TEXT
        | 16    // NO_SUCH_COLUMN_IN_TABLE
        | 26    // CANNOT_PARSE_QUOTED_STRING
        | 27    // CANNOT_PARSE_INPUT_ASSERTION_FAILED
        | 33    // CANNOT_READ_ALL_DATA
        | 36    // BAD_ARGUMENTS
        | 41    // CANNOT_PARSE_DATETIME
        | 53    // TYPE_MISMATCH
        | 62    // SYNTAX_ERROR
        | 69    // ARGUMENT_OUT_OF_BOUND
        | 70    // CANNOT_CONVERT_TYPE
        | 117 // INCORRECT_DATA
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::error::Error;

    fn bad(body: &str) -> Error {
        Error::BadResponse(body.to_string())
    }

    #[test]
    fn retry_decision_table() {
        let cases: Vec<(Error, bool)> = vec![
            (bad("Code: 117. DB::Exception: Incorrect data"), false),
            (
                bad("Code: 53, e.displayText() = DB::Exception: Type mismatch"),
                false,
            ),
            (bad("Code: 33. DB::Exception: Cannot read all data"), false),
            (bad("Code: 16. DB::Exception: No such column"), false),
            (
                bad("Code: 60. DB::Exception: Table default.events doesn't exist"),
                true,
            ),
            (bad("Code: 241. DB::Exception: Memory limit exceeded"), true),
            (bad("Code: 252. DB::Exception: Too many parts"), true),
            (bad("bad response: 503 Service Unavailable"), true),
            (Error::TimedOut, true),
            (Error::Network("connection refused".into()), true),
        ];
        for (error, retryable) in cases {
            let text = error.to_string();
            assert_eq!(
                matches!(classify(error), SinkError::Retryable(_)),
                retryable,
                "{text}"
            );
        }
    }

    #[test]
    fn every_report_query_is_read_only_and_limited() {
        let config = crate::config::Config::parse(
            "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[reporting]\nquery_timeout_ms = 1500\nmax_memory_bytes = 20000000\n",
            Vec::new(),
        )
        .unwrap();
        let reports = reports_client(&config.clickhouse, &config.reporting);
        for (name, value) in [
            ("readonly", "2"),
            ("max_execution_time", "2"),
            ("max_memory_usage", "20000000"),
        ] {
            assert_eq!(reports.get_setting(name), Some(value), "{name}");
        }
        assert_eq!(client(&config.clickhouse).get_setting("readonly"), None);
    }

    #[test]
    fn time_limits_are_whole_seconds_rounded_up() {
        for (millis, seconds) in [(1000, 1), (1001, 2), (2500, 3), (10_000, 10)] {
            assert_eq!(whole_seconds(Duration::from_millis(millis)), seconds);
        }
    }

    #[test]
    fn exception_codes_are_read() {
        assert_eq!(exception_code("Code: 117. DB::Exception"), Some(117));
        assert_eq!(exception_code("x Code:53, e.displayText()"), Some(53));
        assert_eq!(exception_code("no code here"), None);
    }
}
