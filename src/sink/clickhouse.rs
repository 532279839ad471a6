//! The ClickHouse sink: builds the clients ([`Endpoints`], one per configured
//! endpoint, tried in turn), inserts batches, and decides whether a failed
//! insert is worth retrying.
//!
//! Several endpoints (`clickhouse.url` as a list): every part of beaconhouse
//! (the shipper, the salt keeper, the reports, `migrate`) reaches ClickHouse
//! through [`Endpoints`], which starts at the endpoint that answered last and
//! moves on to the next when one fails in a way another may not (any error
//! but ClickHouse refusing the data). On a cluster (`clickhouse.cluster`)
//! every client sends `insert_distributed_sync=1`: an insert into a
//! `Distributed` table is acknowledged once each shard's replica stored its
//! rows, not when the node that took it has queued them on its own disk.
//!
//! Compatibility: the same code runs against ClickHouse 18.16 (Debian's package)
//! and current releases. Schema validation is off, because 18.16 cannot describe
//! a table in `RowBinaryWithNamesAndTypes`; rows are therefore plain `RowBinary`
//! whose field order must match the table (see `row::EventRow`). No
//! `LowCardinality`, TTL, codecs or `{name:Type}` parameters are used anywhere;
//! values are bound with the client's `?` placeholders.
//! Must never: build SQL from request data.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::config::ClickHouseConfig;
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

/// The configured ClickHouse endpoints, each with its client, and which one
/// to try first.
#[derive(Clone)]
pub struct Endpoints {
    /// `(url, client)` in the configured order; never empty.
    clients: Arc<[(String, Client)]>,
    /// The index of the endpoint work starts at: the last one that answered.
    first: Arc<AtomicUsize>,
}

/// One endpoint, as [`Endpoints::current`] hands it out.
struct Endpoint<'a> {
    /// Its place in the list, for [`Endpoints::failed`].
    index: usize,
    url: &'a str,
    client: &'a Client,
}

impl Endpoints {
    /// Clients for the configured endpoints and database: what `serve`, the
    /// reports and `migrate` all use.
    pub fn new(config: &ClickHouseConfig) -> Endpoints {
        Endpoints::build(config, Some(&config.database))
    }

    /// Clients with no database chosen, for creating the database before
    /// anything else.
    pub fn server(config: &ClickHouseConfig) -> Endpoints {
        Endpoints::build(config, None)
    }

    fn build(config: &ClickHouseConfig, database: Option<&str>) -> Endpoints {
        let clients = config
            .urls
            .iter()
            .map(|url| {
                let mut client = Client::default()
                    .with_url(url)
                    .with_user(&config.user)
                    .with_password(&config.password)
                    .with_validation(false);
                if let Some(database) = database {
                    client = client.with_database(database);
                }
                if config.cluster.is_some() {
                    client = client.with_setting("insert_distributed_sync", "1");
                }
                (url.clone(), client)
            })
            .collect();
        Endpoints {
            clients,
            first: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The endpoints, in the configured order, for messages.
    pub fn urls(&self) -> String {
        let urls: Vec<&str> = self.clients.iter().map(|(url, _)| url.as_str()).collect();
        urls.join(", ")
    }

    /// The endpoint work goes to first.
    fn current(&self) -> Endpoint<'_> {
        let index = self.first.load(Ordering::Relaxed) % self.clients.len();
        let (url, client) = &self.clients[index];
        Endpoint { index, url, client }
    }

    /// Records that the endpoint at `index` failed: work starts at the next
    /// one from now on (unless a concurrent failure moved on already).
    fn failed(&self, index: usize) {
        let next = (index + 1) % self.clients.len();
        let _ = self
            .first
            .compare_exchange(index, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Runs `work` with the current endpoint's client and, while it fails
    /// in a way another endpoint may not ([`refused`] says which errors do
    /// not), with each of the others in turn; returns the first answer or
    /// the last error.
    pub async fn run<T, F, Fut>(&self, mut work: F) -> Result<T, clickhouse::error::Error>
    where
        F: FnMut(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, clickhouse::error::Error>>,
    {
        let mut tried = 1;
        loop {
            let Endpoint { index, url, client } = self.current();
            match work(client.clone()).await {
                Err(error) if !refused(&error) => {
                    self.failed(index);
                    if tried == self.clients.len() {
                        return Err(error);
                    }
                    tracing::warn!(%url, %error, "ClickHouse endpoint failed; trying the next one");
                    tried += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

/// On a cluster (`clickhouse.cluster`), the table on each node that holds
/// its shard's rows of the `Distributed` table `table`: `migrate::cluster`
/// creates it, retention drops its partitions.
pub fn local_table(table: &str) -> String {
    format!("{table}_local")
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

/// Inserts batches of rows, each attempt through one endpoint: a failure
/// that may pass moves the next attempt (the shipper's retry) to the next
/// endpoint.
#[derive(Clone)]
pub struct ClickHouseSink {
    endpoints: Endpoints,
}

impl ClickHouseSink {
    pub fn new(endpoints: Endpoints) -> ClickHouseSink {
        ClickHouseSink { endpoints }
    }

    pub async fn insert<T>(&self, table: IdTable, rows: &[T]) -> Result<(), SinkError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        let endpoint = self.endpoints.current();
        let result = async {
            let mut insert = endpoint
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
        result.map_err(|error| self.attempt_failed(&endpoint, error))
    }

    /// The row ids `table` holds with `ts` between `from` and `to` (inclusive).
    pub async fn stored_ids(
        &self,
        table: IdTable,
        from: u32,
        to: u32,
    ) -> Result<std::collections::HashSet<u64>, SinkError> {
        let endpoint = self.endpoints.current();
        let ids: Vec<u64> = endpoint
            .client
            .query(table.stored_ids_query())
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(|error| self.attempt_failed(&endpoint, error))?;
        Ok(ids.into_iter().collect())
    }

    /// Classifies a failed attempt, naming its endpoint, and moves the next
    /// attempt to the next endpoint unless ClickHouse refused the data itself.
    fn attempt_failed(
        &self,
        endpoint: &Endpoint<'_>,
        error: clickhouse::error::Error,
    ) -> SinkError {
        let message = format!("{}: {error}", endpoint.url);
        if refused(&error) {
            SinkError::Rejected(message)
        } else {
            self.endpoints.failed(endpoint.index);
            SinkError::Retryable(message)
        }
    }
}

/// Whether ClickHouse refused the statement or its data itself, which no
/// retry and no other endpoint can mend; every other error may pass.
pub fn refused(error: &clickhouse::error::Error) -> bool {
    matches!(error, clickhouse::error::Error::BadResponse(body) if exception_code(body).is_some_and(is_bad_data))
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
            assert_eq!(refused(&error), !retryable, "{error}");
        }
    }

    fn three_endpoints() -> Endpoints {
        Endpoints::new(&ClickHouseConfig {
            urls: [
                "http://10.0.0.1:8123",
                "http://10.0.0.2:8123",
                "http://10.0.0.3:8123",
            ]
            .map(String::from)
            .to_vec(),
            database: "default".into(),
            user: "default".into(),
            password: String::new(),
            cluster: Some("analytics".into()),
        })
    }

    /// Runs `answers` through [`Endpoints::run`], one answer per attempt;
    /// returns the outcome, the attempts made and where the next run starts.
    async fn run_through(
        endpoints: &Endpoints,
        answers: Vec<Result<u8, Error>>,
    ) -> (Result<u8, Error>, usize, usize) {
        let answers = std::sync::Mutex::new(answers.into_iter());
        let attempts = AtomicUsize::new(0);
        let outcome = endpoints
            .run(|_client| {
                attempts.fetch_add(1, Ordering::Relaxed);
                let answer = answers
                    .lock()
                    .unwrap()
                    .next()
                    .expect("an answer per attempt");
                async move { answer }
            })
            .await;
        (outcome, attempts.into_inner(), endpoints.current().index)
    }

    #[tokio::test]
    async fn work_moves_to_the_next_endpoint_only_when_another_may_answer() {
        let endpoints = three_endpoints();
        assert_eq!(endpoints.current().url, "http://10.0.0.1:8123");
        let down = || Error::Network("connection refused".into());

        let (outcome, attempts, next) = run_through(&endpoints, vec![Err(down()), Ok(7)]).await;
        assert_eq!((outcome.unwrap(), attempts, next), (7, 2, 1));
        let (outcome, attempts, next) = run_through(&endpoints, vec![Ok(8)]).await;
        assert_eq!(
            (outcome.unwrap(), attempts, next),
            (8, 1, 1),
            "the endpoint that answered last goes first"
        );

        let (outcome, attempts, next) = run_through(
            &endpoints,
            vec![Err(bad("Code: 62. DB::Exception: Syntax error"))],
        )
        .await;
        assert!(outcome.is_err());
        assert_eq!(
            (attempts, next),
            (1, 1),
            "a refused statement fails everywhere"
        );

        let (outcome, attempts, next) = run_through(
            &endpoints,
            vec![Err(down()), Err(down()), Err(Error::TimedOut)],
        )
        .await;
        assert!(matches!(outcome, Err(Error::TimedOut)), "the last error");
        assert_eq!(
            (attempts, next),
            (3, 1),
            "each endpoint once, round to the start"
        );
    }

    #[test]
    fn a_failure_moves_on_once_however_many_saw_it() {
        let endpoints = three_endpoints();
        endpoints.failed(0);
        endpoints.failed(0);
        assert_eq!(endpoints.current().index, 1);
        endpoints.failed(1);
        endpoints.failed(2);
        assert_eq!(
            endpoints.current().index,
            0,
            "after the last comes the first"
        );
        assert_eq!(
            endpoints.urls(),
            "http://10.0.0.1:8123, http://10.0.0.2:8123, http://10.0.0.3:8123"
        );
    }

    #[test]
    fn exception_codes_are_read() {
        assert_eq!(exception_code("Code: 117. DB::Exception"), Some(117));
        assert_eq!(exception_code("x Code:53, e.displayText()"), Some(53));
        assert_eq!(exception_code("no code here"), None);
    }
}
