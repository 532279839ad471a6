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
//! TLS: an `https://` `clickhouse.url` is reached through a rustls connector
//! (ring, HTTP/1) that verifies the server's certificate against Mozilla's
//! roots (`webpki-roots`, compiled in: no dependence on the host's trust
//! store, so it works the same in a slim image and under systemd's
//! sandbox), or, when `clickhouse.ca_file` is set, against that file's
//! certificates alone (a private CA). An `http://` URL gets the crate's own
//! plain client, as before. A certificate that is not trusted is an error
//! like any connection error (retried, hits stay spooled), and [`describe`]
//! says so and what to set.
//!
//! Compatibility: the same code runs against ClickHouse 18.16 (Debian's package)
//! and current releases. Schema validation is off, because 18.16 cannot describe
//! a table in `RowBinaryWithNamesAndTypes`; rows are therefore plain `RowBinary`,
//! which the spool already holds them in (`row::row_binary`), so an insert
//! sends their bytes as they are. No
//! `LowCardinality`, TTL, codecs or `{name:Type}` parameters are used anywhere;
//! values are bound with the client's `?` placeholders.
//! Must never: build SQL from request data.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::config::{ClickHouseConfig, ReportingConfig, StaffUser};
use crate::row::row_binary::{Table, TableRows};
use clickhouse::Client;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

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

/// Keep-alive probes on idle connections, as the crate's own client does.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// Idle connections are closed before ClickHouse's own keep-alive timeout
/// (3 s on 18.16), as the crate's own client does.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why no client could be built for an `https://` URL.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read clickhouse.ca_file {path}: {cause}; give the PEM file of the certificate authority that signed ClickHouse's certificate, readable by the collector"
    )]
    CaFile { path: PathBuf, cause: String },
    #[error(
        "clickhouse.ca_file {0} holds no certificate rustls can use; it must hold PEM certificates (-----BEGIN CERTIFICATE-----), such as the CA's `ca.pem`"
    )]
    NoCertificate(PathBuf),
    #[error("cannot set up TLS for ClickHouse: {0}")]
    Setup(rustls::Error),
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
    pub fn new(config: &ClickHouseConfig) -> Result<Endpoints, TlsError> {
        Endpoints::build(
            config,
            Some(&config.database),
            (&config.user, &config.password),
            cluster_settings(config),
        )
    }

    /// Clients with no database chosen, for creating the database before
    /// anything else.
    pub fn server(config: &ClickHouseConfig) -> Result<Endpoints, TlsError> {
        Endpoints::build(
            config,
            None,
            (&config.user, &config.password),
            cluster_settings(config),
        )
    }

    /// The clients `beaconhouse audit` reads with: as `clickhouse.user`,
    /// which may read the salts and every raw table, with `readonly = 2` on
    /// every query, so the audit writes nothing whatever the user may do.
    /// Each of its statements bounds itself (`store::audit_probe`).
    pub fn read_only(config: &ClickHouseConfig) -> Result<Endpoints, TlsError> {
        let mut settings = cluster_settings(config);
        settings.push(("readonly", "2".to_string()));
        Endpoints::build(
            config,
            Some(&config.database),
            (&config.user, &config.password),
            settings,
        )
    }

    /// The clients of the staff SQL user `staff`, in the released database,
    /// as staff reach it: the audit asks through them whether staff are
    /// refused the raw tables. No setting is sent: the shipped staff user
    /// (`readonly = 1`) is refused any.
    pub fn as_staff(config: &ClickHouseConfig, staff: &StaffUser) -> Result<Endpoints, TlsError> {
        Endpoints::build(
            config,
            Some(&config.released_database()),
            (&staff.user, &staff.password),
            Vec::new(),
        )
    }

    /// The clients reports read with (the stats API, the dashboard,
    /// `beaconhouse report`; not the rollup, which writes): as
    /// `reporting.clickhouse_user` when set, else as `clickhouse.user`, and in
    /// every case with settings on each query that ClickHouse enforces.
    /// `readonly = 2` refuses any write whatever the user may do, and still
    /// lets a query carry settings (`readonly = 1` would refuse the two
    /// limits); `max_execution_time` and `max_memory_usage` stop a query past
    /// `reporting.limits`. A `GROUP BY` that grows past half the memory limit
    /// goes on on disk (`max_bytes_before_external_group_by`, as ClickHouse
    /// advises) rather than fail: capping counts groups a period's hits by
    /// visitor, which outgrew 1 GiB over 30 days of 10M events.
    pub fn for_reports(
        config: &ClickHouseConfig,
        reporting: &ReportingConfig,
    ) -> Result<Endpoints, TlsError> {
        let user = match &reporting.clickhouse_user {
            Some(reports) => (reports.user.as_str(), reports.password.as_str()),
            None => (config.user.as_str(), config.password.as_str()),
        };
        let limits = &reporting.limits;
        let mut settings = cluster_settings(config);
        settings.extend([
            ("readonly", "2".to_string()),
            (
                "max_execution_time",
                whole_seconds(limits.query_timeout).to_string(),
            ),
            ("max_memory_usage", limits.max_memory_bytes.to_string()),
            (
                "max_bytes_before_external_group_by",
                (limits.max_memory_bytes / 2).to_string(),
            ),
        ]);
        Endpoints::build(config, Some(&config.database), user, settings)
    }

    fn build(
        config: &ClickHouseConfig,
        database: Option<&str>,
        (user, password): (&str, &str),
        settings: Vec<(&str, String)>,
    ) -> Result<Endpoints, TlsError> {
        let clients = config
            .urls
            .iter()
            .map(|url| {
                let plain_or_tls = if url.starts_with("https://") {
                    https_client(config.ca_file.as_deref())?
                } else {
                    Client::default()
                };
                let mut client = plain_or_tls
                    .with_url(url)
                    .with_user(user)
                    .with_password(password)
                    .with_validation(false);
                if let Some(database) = database {
                    client = client.with_database(database);
                }
                for (name, value) in &settings {
                    client = client.with_setting(*name, value.clone());
                }
                Ok((url.clone(), client))
            })
            .collect::<Result<_, TlsError>>()?;
        Ok(Endpoints {
            clients,
            first: Arc::new(AtomicUsize::new(0)),
        })
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

/// On a cluster, inserts into a `Distributed` table wait until every shard
/// has its rows (see the module's doc); nothing on one server.
fn cluster_settings(config: &ClickHouseConfig) -> Vec<(&'static str, String)> {
    match config.cluster {
        Some(_) => vec![("insert_distributed_sync", "1".to_string())],
        None => Vec::new(),
    }
}

/// How the schema, and the names of `privacy::retention_rule`, write a table
/// of the released database (`ClickHouseConfig::released_database`):
/// `released.<table>`. `migrate` creates it there.
pub const RELEASED_QUALIFIER: &str = "released.";

/// On a cluster (`clickhouse.cluster`), the table on each node that holds
/// its shard's rows of the `Distributed` table `table`: `migrate::cluster`
/// creates it, retention drops its partitions.
pub fn local_table(table: &str) -> String {
    format!("{table}_local")
}

/// A client that speaks only HTTPS and trusts `ca_file`'s certificates, or
/// Mozilla's roots without one.
fn https_client(ca_file: Option<&Path>) -> Result<Client, TlsError> {
    let roots = match ca_file {
        Some(path) => certificate_authorities(path)?,
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::Setup)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.set_keepalive(Some(TCP_KEEPALIVE));
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::with_http_client(
        HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector),
    ))
}

/// The certificates in the PEM file `path`, as the only roots to trust.
fn certificate_authorities(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let unreadable = |cause: rustls::pki_types::pem::Error| TlsError::CaFile {
        path: path.to_path_buf(),
        cause: cause.to_string(),
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _unusable) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(roots)
}

/// A client error in words: the error and its causes (a TLS failure is
/// only in the causes), and what to do when ClickHouse's certificate is
/// not trusted.
pub fn describe(error: &clickhouse::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let words = current.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        cause = current.source();
    }
    if untrusted_certificate(error) {
        text.push_str(
            "; ClickHouse's certificate is not trusted: set clickhouse.ca_file to the PEM file of the certificate authority that signed it, and check that clickhouse.url names a host the certificate is for",
        );
    }
    text
}

/// Whether rustls refused the server's certificate somewhere in `error`'s
/// causes, looking inside `io::Error`s too (they show the error they wrap
/// but hide it from `source`; hyper-rustls wraps it twice).
fn untrusted_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(rustls::Error::InvalidCertificate(_)) = error.downcast_ref::<rustls::Error>() {
        return true;
    }
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    wrapped
        .into_iter()
        .chain(error.source())
        .any(untrusted_certificate)
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

/// The query for the row ids `table` holds in a time range: the column
/// holding each row's random id.
fn stored_ids_query(table: Table) -> &'static str {
    match table {
        Table::Events => {
            "SELECT event_id FROM events WHERE ts BETWEEN toDateTime(?) AND toDateTime(?)"
        }
        Table::EmailOpens => {
            "SELECT open_id FROM email_opens WHERE ts BETWEEN toDateTime(?) AND toDateTime(?)"
        }
        Table::EmailClicks => {
            "SELECT click_id FROM email_clicks WHERE ts BETWEEN toDateTime(?) AND toDateTime(?)"
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

    /// Inserts rows already encoded as `RowBinary`: their bytes are sent as
    /// they are, compressed, in the chunks the rows were cut into.
    pub async fn insert(&self, table: Table, rows: &TableRows) -> Result<(), SinkError> {
        let endpoint = self.endpoints.current();
        let statement = format!(
            "INSERT INTO {}({}) FORMAT RowBinary",
            table.name(),
            table.columns().join(",")
        );
        let result = async {
            let mut insert = endpoint
                .client
                .insert_formatted_with(statement)
                .with_timeouts(Some(INSERT_TIMEOUT), Some(INSERT_TIMEOUT));
            for chunk in rows.chunks() {
                insert.send(bytes::Bytes::copy_from_slice(chunk)).await?;
            }
            insert.end().await
        }
        .await;
        result.map_err(|error| self.attempt_failed(&endpoint, error))
    }

    /// The row ids `table` holds with `ts` between `from` and `to` (inclusive).
    pub async fn stored_ids(
        &self,
        table: Table,
        from: u32,
        to: u32,
    ) -> Result<std::collections::HashSet<u64>, SinkError> {
        let endpoint = self.endpoints.current();
        let ids: Vec<u64> = endpoint
            .client
            .query(stored_ids_query(table))
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
        let message = format!("{}: {}", endpoint.url, describe(&error));
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
pub(super) fn exception_code(body: &str) -> Option<u32> {
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
            ca_file: None,
            cluster: Some("analytics".into()),
        })
        .unwrap()
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
    fn every_report_query_is_read_only_and_limited() {
        let config = crate::config::Config::parse(
            "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[reporting]\nquery_timeout_ms = 1500\nmax_memory_bytes = 20000000\n",
            Vec::new(),
        )
        .unwrap();
        let reports = Endpoints::for_reports(&config.clickhouse, &config.reporting).unwrap();
        let ingest = Endpoints::new(&config.clickhouse).unwrap();
        for (name, value) in [
            ("readonly", "2"),
            ("max_execution_time", "2"),
            ("max_memory_usage", "20000000"),
            ("max_bytes_before_external_group_by", "10000000"),
        ] {
            assert_eq!(
                reports.current().client.get_setting(name),
                Some(value),
                "{name}"
            );
        }
        assert_eq!(ingest.current().client.get_setting("readonly"), None);
    }

    #[test]
    fn the_audit_reads_only_and_asks_as_staff_with_no_setting() {
        let config = ClickHouseConfig {
            urls: vec!["http://10.0.0.1:8123".into()],
            database: "stats".into(),
            user: "default".into(),
            password: String::new(),
            ca_file: None,
            cluster: Some("analytics".into()),
        };
        let audit = Endpoints::read_only(&config).unwrap();
        let client = audit.current().client;
        assert_eq!(client.get_setting("readonly"), Some("2"));
        assert_eq!(client.get_setting("insert_distributed_sync"), Some("1"));
        let staff = StaffUser {
            user: "reporting".into(),
            password: "pw".into(),
        };
        let staff = Endpoints::as_staff(&config, &staff).unwrap();
        let client = staff.current().client;
        for setting in ["readonly", "insert_distributed_sync"] {
            assert_eq!(client.get_setting(setting), None, "{setting}");
        }
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

    #[test]
    fn an_untrusted_certificate_is_named_with_what_to_do() {
        use std::io::{Error as Io, ErrorKind};
        // As hyper-rustls reports it: rustls' error in two io::Errors.
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = Io::other(Io::new(ErrorKind::InvalidData, untrusted));
        let text = describe(&Error::Network(Box::new(nested)));
        assert!(
            text.contains("invalid peer certificate: UnknownIssuer"),
            "{text}"
        );
        assert!(
            text.contains("certificate is not trusted: set clickhouse.ca_file"),
            "{text}"
        );
        assert!(!refused(&Error::Network(Box::new(Io::other("x")))));
        let text = describe(&Error::Network("connection refused".into()));
        assert_eq!(text, "network error: connection refused");
    }

    #[test]
    fn a_ca_file_must_be_readable_pem() {
        let missing = Path::new("/nonexistent/ca.pem");
        let error = certificate_authorities(missing).unwrap_err().to_string();
        assert!(
            error.contains("clickhouse.ca_file /nonexistent/ca.pem"),
            "{error}"
        );
        let not_pem = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(not_pem.path(), "not a certificate\n").unwrap();
        assert!(matches!(
            certificate_authorities(not_pem.path()),
            Err(TlsError::NoCertificate(_))
        ));
        let config = ClickHouseConfig {
            urls: vec!["https://127.0.0.1:8443".into()],
            database: "default".into(),
            user: "default".into(),
            password: String::new(),
            ca_file: Some(missing.to_path_buf()),
            cluster: None,
        };
        assert!(matches!(
            Endpoints::new(&config),
            Err(TlsError::CaFile { .. })
        ));
    }
}
