//! Configuration: one TOML file plus `BEACONHOUSE_<SECTION>_<KEY>` environment
//! overrides, read and validated once at start into [`Config`].
//!
//! Owns: the file format, the environment mapping and every validation rule;
//! each section validates itself into its part of [`Config`]. A `Config` that
//! exists is valid: the rest of the crate never re-checks it.
//!
//! The only reader of the environment. Two documented exceptions are read
//! elsewhere: `RUST_LOG` (the log filter, by `main`) and `BEACONHOUSE_CONFIG`
//! (the file's path, by the command line). `BEACONHOUSE_TEST_*` variables
//! belong to the test suite and are never taken for configuration keys;
//! `CREDENTIALS_DIRECTORY` (set by systemd) only tells a credential apart.
//!
//! Secrets: a file that itself holds a stats token, the share key or the
//! ClickHouse password, and that its group or others may read, is described
//! in [`Config::exposed_secrets`] (`serve` warns, `check-config --strict`
//! refuses). A systemd credential is not: systemd makes it readable by the
//! service's user alone, with an ACL whose mask shows in the group bits.
//! Must never: touch the network or the disk beyond reading the config file
//! and its mode (the GeoIP file is opened by `enrich::geo`, ClickHouse is
//! reached by `sink`).

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::enrich::geo::Precision;
use crate::enrich::scrub::PathPattern;
use crate::privacy::retention_rule::Table;
use crate::spool::{SpoolSettings, SyncMode};

/// Prefix of every environment override.
const ENV_PREFIX: &str = "BEACONHOUSE_";
/// Variables under this prefix belong to the test harness, not to the service.
const ENV_TEST_PREFIX: &str = "BEACONHOUSE_TEST_";
/// Where systemd puts a service's credentials (`LoadCredential=`).
const ENV_CREDENTIALS: &str = "CREDENTIALS_DIRECTORY";
/// The keys that hold secrets, as written in the file.
const SECRET_KEYS: [&str; 3] = [
    "clickhouse.password",
    "reporting.share_key",
    "reporting.tokens",
];
/// Read permission for the file's group and for others.
const READABLE_BY_OTHERS: u32 = 0o044;
/// Sections of the file, so `BEACONHOUSE_CLICKHOUSE_BATCH_ROWS` can be split into
/// `clickhouse.batch_rows` although keys themselves contain underscores.
const SECTIONS: &[&str] = &[
    "clickhouse",
    "geoip",
    "http",
    "email",
    "pipeline",
    "spool",
    "reporting",
    "retention",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Load(String),
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid { key: String, problem: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The file as written by the operator, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    listen: String,
    admin_listen: String,
    log_format: LogFormat,
    sites: Vec<RawSite>,
    clickhouse: RawClickHouse,
    geoip: RawGeoip,
    http: RawHttp,
    email: RawEmail,
    pipeline: RawPipeline,
    spool: RawSpool,
    reporting: RawReporting,
    retention: RawRetention,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawClickHouse {
    url: UrlList,
    #[serde(deserialize_with = "string_or_number")]
    database: String,
    #[serde(deserialize_with = "string_or_number")]
    user: String,
    #[serde(deserialize_with = "string_or_number")]
    password: String,
    ca_file: Option<PathBuf>,
    cluster: Option<String>,
}

/// `clickhouse.url` as written: one endpoint, several separated by commas,
/// or a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum UrlList {
    One(String),
    Many(Vec<String>),
}

impl UrlList {
    fn entries(&self) -> Vec<&str> {
        let all: Vec<&str> = match self {
            UrlList::One(text) => text.split(',').collect(),
            UrlList::Many(list) => list.iter().map(String::as_str).collect(),
        };
        all.into_iter().map(str::trim).collect()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawGeoip {
    database: Option<PathBuf>,
    precision: Precision,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    trusted_proxies: Vec<String>,
    max_body_bytes: usize,
    max_headers: usize,
    max_header_bytes: usize,
    request_timeout_ms: u64,
    keep_alive_ms: u64,
    max_connections: usize,
    rate_limit_per_second: u32,
    rate_limit_burst: u32,
    workers: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEmail {
    proxy_networks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPipeline {
    batch_rows: usize,
    flush_interval_ms: u64,
    shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSpool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    sync: SyncMode,
    fsync_interval_ms: u64,
    dead_letter_max_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReporting {
    min_group_size: u64,
    tokens: Vec<RawToken>,
    share_key: Option<String>,
    #[serde(deserialize_with = "some_string_or_number")]
    clickhouse_user: Option<String>,
    #[serde(deserialize_with = "some_string_or_number")]
    clickhouse_password: Option<String>,
    query_timeout_ms: u64,
    max_memory_bytes: u64,
    max_concurrent: usize,
}

impl Default for RawReporting {
    fn default() -> Self {
        RawReporting {
            min_group_size: 5,
            tokens: Vec::new(),
            share_key: None,
            clickhouse_user: None,
            clickhouse_password: None,
            query_timeout_ms: 10_000,
            max_memory_bytes: 1 << 30,
            // The dashboard asks for 7 reports at once per page load.
            max_concurrent: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRetention {
    events_days: u16,
    email_opens_days: u16,
    daily_stats_days: u16,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            // The longest period a report covers.
            events_days: 732,
            email_opens_days: 400,
            // Aggregates hold no visitor or recipient ids.
            daily_stats_days: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    token: String,
    #[serde(default)]
    sites: Vec<String>,
    #[serde(default)]
    campaigns: Vec<String>,
}

impl Default for RawSpool {
    fn default() -> Self {
        RawSpool {
            dir: PathBuf::from("/var/lib/beaconhouse/spool"),
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            sync: SyncMode::Interval,
            fsync_interval_ms: 5,
            dead_letter_max_bytes: 128 << 20,
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:9091".into(),
            log_format: LogFormat::Text,
            sites: Vec::new(),
            clickhouse: RawClickHouse::default(),
            geoip: RawGeoip::default(),
            http: RawHttp::default(),
            email: RawEmail::default(),
            pipeline: RawPipeline::default(),
            spool: RawSpool::default(),
            reporting: RawReporting::default(),
            retention: RawRetention::default(),
        }
    }
}

impl Default for RawClickHouse {
    fn default() -> Self {
        RawClickHouse {
            url: UrlList::One("http://127.0.0.1:8123".into()),
            database: "default".into(),
            user: "default".into(),
            password: String::new(),
            ca_file: None,
            cluster: None,
        }
    }
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            trusted_proxies: Vec::new(),
            max_body_bytes: 4096,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            request_timeout_ms: 5_000,
            keep_alive_ms: 5_000,
            max_connections: 10_000,
            rate_limit_per_second: 20,
            rate_limit_burst: 200,
            workers: 0,
        }
    }
}

impl Default for RawPipeline {
    fn default() -> Self {
        RawPipeline {
            batch_rows: 10_000,
            flush_interval_ms: 1_000,
            shutdown_timeout_ms: 10_000,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: String,
    hostnames: Vec<String>,
    #[serde(default)]
    path_patterns: Vec<String>,
    #[serde(default = "utc")]
    time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}

/// A website whose hits are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The id pages send as `site`, e.g. `optimumabq.com`.
    pub id: String,
    /// Hosts the site's pages are served from; a hit whose page URL names
    /// another host is not counted (someone copied the snippet elsewhere).
    pub hostnames: Vec<String>,
    /// Paths whose segments only the site knows to be personal, such as
    /// `/members/:id`; applied before a path is stored.
    pub path_patterns: Vec<PathPattern>,
    /// The IANA time zone its reports use unless a request names another.
    pub time_zone: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where `serve` answers hits, `/t.js`, the stats API and health checks.
    pub listen: SocketAddr,
    /// Where `serve` answers `/metrics` and health checks: an address no
    /// reverse proxy exposes, since operational counters are not for visitors.
    pub admin_listen: SocketAddr,
    pub log_format: LogFormat,
    /// Accepted sites by id, hostnames lower-cased.
    pub sites: HashMap<String, Site>,
    pub clickhouse: ClickHouseConfig,
    pub geoip: GeoipConfig,
    pub http: HttpConfig,
    pub email: EmailConfig,
    pub pipeline: PipelineConfig,
    pub spool: SpoolSettings,
    pub reporting: ReportingConfig,
    pub retention: RetentionConfig,
    /// Set when the file holds secrets and others may read it.
    pub exposed_secrets: Option<ExposedSecrets>,
}

/// A configuration file that holds secrets and that its group or others may
/// read; its `Display` says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedSecrets {
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// The keys of the secrets written in the file itself.
    pub keys: Vec<&'static str>,
}

impl std::fmt::Display for ExposedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        write!(
            f,
            "the configuration file {path} holds secrets ({}) and its group or others may read it (mode {:04o}): run `chmod 600 {path}` (the collector's user must own it), or keep the secrets out of the file: a systemd credential (LoadCredential=, as deploy/beaconhouse.service does) or environment variables (BEACONHOUSE_CLICKHOUSE_PASSWORD, BEACONHOUSE_REPORTING_SHARE_KEY, BEACONHOUSE_REPORTING_TOKENS)",
            self.keys.join(", "),
            self.mode
        )
    }
}

#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    /// HTTP endpoints, e.g. `http://127.0.0.1:8123` or
    /// `https://clickhouse.internal:8443`, in the order they are tried;
    /// never empty. On a cluster, one per node (or some of them).
    pub urls: Vec<String>,
    pub database: String,
    pub user: String,
    pub password: String,
    /// PEM certificates to trust for `https` URLs instead of the built-in
    /// roots (a private CA); read by `sink::clickhouse`. Only with `https`.
    pub ca_file: Option<PathBuf>,
    /// The cluster of ClickHouse's `remote_servers` that `migrate` creates
    /// the tables on; `None` for a single server.
    pub cluster: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GeoipConfig {
    /// A GeoIP2/GeoLite2 City or Country database; `None` leaves geo columns empty.
    pub database: Option<PathBuf>,
    /// How fine a location is stored.
    pub precision: Precision,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Peers allowed to name the client in `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted `POST /api/event` body; larger ones get 413.
    pub max_body_bytes: usize,
    /// A hit with more headers than this, or more header bytes, is answered
    /// and not stored (no browser sends that much).
    pub max_headers: usize,
    pub max_header_bytes: usize,
    /// A client that has not sent its request head within this is cut off;
    /// so is one whose body has not arrived within this of its head (a beacon,
    /// a dashboard sign-in), with a 408.
    pub request_timeout: Duration,
    /// How long an idle connection is kept open for a next request; zero
    /// closes it after each answer.
    pub keep_alive: Duration,
    /// Open connections per HTTP worker; past it, new ones wait to be
    /// accepted.
    pub max_connections: usize,
    /// Hits per second one client may have stored, and the burst above that.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// actix worker threads; 0 means one per core.
    pub workers: usize,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// Networks of mail providers' image proxies whose user agent does not say so.
    pub proxy_networks: Vec<IpNet>,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// A batch is sent when it has this many rows...
    pub batch_rows: usize,
    /// ...or when its oldest row is this old.
    pub flush_interval: Duration,
    /// How long shutdown may spend delivering what is spooled.
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ReportingConfig {
    /// Groups of fewer unique visitors or recipients are folded into `(other)`.
    pub min_group_size: u64,
    /// Who may call the stats API and sign in to the dashboard.
    pub tokens: Vec<ApiToken>,
    /// Signs shared dashboard links; `None` means `beaconhouse share` is
    /// off. Changing it revokes every link.
    pub share_key: Option<ShareKey>,
    /// Who reports read ClickHouse as; `None`: `clickhouse.user`. The
    /// rollup, which writes `daily_stats`, always uses `clickhouse.user`.
    pub clickhouse_user: Option<ReportsUser>,
    /// What one report may cost.
    pub limits: ReportLimits,
}

/// A ClickHouse user of its own for reports. Its `Debug` output never shows
/// the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportsUser {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for ReportsUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReportsUser({:?}, <password>)", self.user)
    }
}

/// What one report may cost; ClickHouse stops each of its queries past
/// either limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLimits {
    /// Longest a report may take (whole seconds: ClickHouse 18.16 reads
    /// `max_execution_time` as an integer).
    pub query_timeout: Duration,
    /// Most memory one of its queries may use (`max_memory_usage`).
    pub max_memory_bytes: u64,
    /// Most reports running at once in `serve`; past that, a 503.
    pub max_concurrent: usize,
}

/// How many days each table's rows are kept (0: forever). Rows go a month at
/// a time (`privacy::retention`), so they stay up to a month longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    pub events_days: u16,
    pub email_opens_days: u16,
    /// 0, or at least `events_days`: a report reads a rolled-up day from
    /// `daily_stats` alone, so the rollup must outlive the events under it.
    pub daily_stats_days: u16,
}

impl RetentionConfig {
    /// The days `table`'s rows are kept; 0 keeps them forever.
    pub fn days(&self, table: Table) -> u16 {
        match table {
            Table::Events => self.events_days,
            Table::EmailOpens => self.email_opens_days,
            // Both rollups, so a filtered report never finds one without the other.
            Table::DailyStats | Table::DailyFiltered => self.daily_stats_days,
        }
    }
}

/// The key shared links are signed with. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareKey(String);

impl ShareKey {
    pub fn new(key: String) -> ShareKey {
        ShareKey(key)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareKey(<secret>)")
    }
}

/// A stats API token: only its SHA-256 is kept, so neither a log line nor a
/// debug print can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Names the token in logs.
    pub name: String,
    pub sha256: [u8; 32],
    pub sites: Access,
    pub campaigns: Access,
}

/// Which sites (or campaigns) a token may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    All,
    /// Only these; empty means none.
    Only(Vec<String>),
}

impl Access {
    pub fn allows(&self, id: &str) -> bool {
        match self {
            Access::All => true,
            Access::Only(ids) => ids.iter().any(|allowed| allowed == id),
        }
    }

    fn from_list(list: Vec<String>) -> Access {
        if list.iter().any(|id| id == "*") {
            Access::All
        } else {
            Access::Only(list)
        }
    }
}

impl ApiToken {
    /// What is kept of a token, and what a presented token is compared by.
    pub fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }
}

/// Shortest accepted API token: 128 bits written in hex.
const MIN_TOKEN_CHARS: usize = 32;

impl Config {
    /// Reads `path` (if given), applies the environment, validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As [`Config::load`], with the environment passed in (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Self::parse("", env);
        };
        let env: Vec<(String, String)> = env.into_iter().collect();
        let unreadable = |e: std::io::Error| {
            ConfigError::Load(format!(
                "{}: {e}; pass an existing, readable TOML file to --config",
                path.display()
            ))
        };
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let mode = file.metadata().map_err(unreadable)?.permissions().mode() & 0o7777;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(unreadable)?;
        let mut config = Self::parse(&text, env.iter().cloned())?;
        let credential = env
            .iter()
            .find(|(name, _)| name == ENV_CREDENTIALS)
            .is_some_and(|(_, dir)| !dir.is_empty() && path.starts_with(dir));
        let keys = secrets_in(&text);
        if mode & READABLE_BY_OTHERS != 0 && !credential && !keys.is_empty() {
            config.exposed_secrets = Some(ExposedSecrets {
                path: path.to_path_buf(),
                mode,
                keys,
            });
        }
        Ok(config)
    }

    /// Validates TOML text with the environment applied.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment =
            Figment::from(Serialized::defaults(RawConfig::default())).merge(Toml::string(text));
        let mut overridden = HashMap::new();
        for (name, value) in env {
            if let Some(key) = env_key(&name) {
                let value: figment::value::Value = value.parse().unwrap_or_else(|_| value.into());
                figment = figment.merge((key.as_str(), value));
                overridden.insert(key, name);
            }
        }
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| describe_figment_error(&e, &overridden))?;
        raw.validate()
    }
}

/// The secret keys the file's text itself sets (an empty password or an
/// empty token list is none).
fn secrets_in(text: &str) -> Vec<&'static str> {
    use figment::value::Value;
    let file = Figment::from(Toml::string(text));
    SECRET_KEYS
        .into_iter()
        .filter(|key| match file.find_value(key) {
            Ok(Value::String(_, value)) => !value.is_empty(),
            Ok(Value::Array(_, values)) => !values.is_empty(),
            Ok(_) => true,
            Err(_) => false,
        })
        .collect()
}

/// Maps `BEACONHOUSE_CLICKHOUSE_URL` to `clickhouse.url`, `BEACONHOUSE_LISTEN` to
/// `listen`; `None` for variables that are not configuration.
fn env_key(name: &str) -> Option<String> {
    if name.starts_with(ENV_TEST_PREFIX) || name == "BEACONHOUSE_CONFIG" {
        return None;
    }
    let rest = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(key) = rest.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return Some(format!("{section}.{key}"));
        }
    }
    Some(rest)
}

fn describe_figment_error(
    error: &figment::Error,
    overridden: &HashMap<String, String>,
) -> ConfigError {
    let mut key = error.path.join(".");
    if key.is_empty() {
        key = "(top level)".into();
    }
    let source = match overridden.get(&key) {
        Some(variable) => format!(" (set by the environment variable {variable})"),
        None => String::new(),
    };
    ConfigError::invalid(key, format!("{}{source}", error.kind))
}

/// As [`string_or_number`], for a key that may be left out.
fn some_string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Lenient(#[serde(deserialize_with = "string_or_number")] String);
    Ok(Option::<Lenient>::deserialize(deserializer)?.map(|Lenient(text)| text))
}

/// Accepts `1234` as well as `"1234"` for keys that are strings but may look like
/// numbers when they come from an environment variable.
fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(match Lenient::deserialize(deserializer)? {
        Lenient::Text(s) => s,
        Lenient::Unsigned(n) => n.to_string(),
        Lenient::Signed(n) => n.to_string(),
    })
}

/// `value` if it lies in `range`, otherwise an error naming `key` and the range.
fn in_range<T>(key: &str, value: T, range: std::ops::RangeInclusive<T>) -> Result<T, ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            key,
            format!(
                "must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ),
        ))
    }
}

fn millis(
    key: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    in_range(key, value, range).map(Duration::from_millis)
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let listen = socket_address("listen", &self.listen, "127.0.0.1:8080")?;
        let admin_listen = socket_address("admin_listen", &self.admin_listen, "127.0.0.1:9091")?;
        if admin_listen == listen {
            return Err(ConfigError::invalid(
                "admin_listen",
                "must differ from `listen`: /metrics must not be reachable where hits are",
            ));
        }
        let sites = validate_sites(self.sites)?;
        let reporting = self.reporting.validate(&sites)?;
        Ok(Config {
            listen,
            admin_listen,
            log_format: self.log_format,
            clickhouse: self.clickhouse.validate()?,
            geoip: GeoipConfig {
                database: self.geoip.database,
                precision: self.geoip.precision,
            },
            http: self.http.validate()?,
            email: EmailConfig {
                proxy_networks: parse_networks("email.proxy_networks", &self.email.proxy_networks)?,
            },
            pipeline: self.pipeline.validate()?,
            spool: self.spool.validate()?,
            reporting,
            retention: self.retention.validate()?,
            sites,
            exposed_secrets: None,
        })
    }
}

fn socket_address(key: &str, text: &str, example: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("must be an address and port such as {example}, got {text:?}"),
        )
    })
}

/// Sites by id, host names lower-cased.
fn validate_sites(raw: Vec<RawSite>) -> Result<HashMap<String, Site>, ConfigError> {
    let mut sites = HashMap::new();
    for (i, site) in raw.into_iter().enumerate() {
        let key = format!("sites[{i}]");
        if site.id.trim().is_empty() || site.id.len() > 100 {
            return Err(ConfigError::invalid(
                format!("{key}.id"),
                "must be 1 to 100 characters, e.g. \"optimumabq.com\"",
            ));
        }
        if site.hostnames.is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.hostnames"),
                "must list at least one host the site is served from",
            ));
        }
        let hostnames: Vec<String> = site
            .hostnames
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if let Some(bad) = hostnames
            .iter()
            .find(|h| h.is_empty() || h.contains(['/', ':', ' ']))
        {
            return Err(ConfigError::invalid(
                format!("{key}.hostnames"),
                format!("must be bare host names such as www.example.com, got {bad:?}"),
            ));
        }
        let path_patterns = site
            .path_patterns
            .iter()
            .map(|p| PathPattern::parse(p))
            .collect::<Result<_, _>>()
            .map_err(|e| ConfigError::invalid(format!("{key}.path_patterns"), e.to_string()))?;
        let time_zone = site.time_zone.trim().to_string();
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::invalid(
                format!("{key}.time_zone"),
                format!(
                    "must be an IANA time zone name such as \"America/Denver\" or \"UTC\", got {time_zone:?}"
                ),
            ));
        }
        let id = site.id.clone();
        if sites
            .insert(
                id.clone(),
                Site {
                    id: site.id,
                    hostnames,
                    path_patterns,
                    time_zone,
                },
            )
            .is_some()
        {
            return Err(ConfigError::invalid(
                format!("{key}.id"),
                format!("{id:?} is configured twice"),
            ));
        }
    }
    if sites.is_empty() {
        return Err(ConfigError::invalid(
            "sites",
            "must list at least one site, e.g. [[sites]] id = \"example.com\" hostnames = [\"example.com\"]",
        ));
    }
    Ok(sites)
}

impl RawClickHouse {
    fn validate(self) -> Result<ClickHouseConfig, ConfigError> {
        let mut urls: Vec<String> = Vec::new();
        for entry in self.url.entries() {
            let url = http_endpoint(entry)?;
            if urls.contains(&url) {
                return Err(ConfigError::invalid(
                    "clickhouse.url",
                    format!("lists {url} twice; list each endpoint once"),
                ));
            }
            urls.push(url);
        }
        if urls.is_empty() {
            return Err(ConfigError::invalid(
                "clickhouse.url",
                "must list at least one endpoint such as http://127.0.0.1:8123",
            ));
        }
        if self.ca_file.is_some() && !urls.iter().any(|url| url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "clickhouse.ca_file",
                "is set but no clickhouse.url is https://: nothing would be verified; use ClickHouse's HTTPS port (8443 by default) or remove clickhouse.ca_file",
            ));
        }
        if !plain_name(&self.database) {
            return Err(ConfigError::invalid(
                "clickhouse.database",
                "must be a plain name of letters, digits and underscores",
            ));
        }
        let cluster = match self.cluster {
            Some(name) if !plain_name(&name) => {
                return Err(ConfigError::invalid(
                    "clickhouse.cluster",
                    format!(
                        "must name a cluster of the servers' <remote_servers> in letters, digits and underscores, got {name:?}"
                    ),
                ));
            }
            cluster => cluster,
        };
        Ok(ClickHouseConfig {
            urls,
            database: self.database,
            user: self.user,
            password: self.password,
            ca_file: self.ca_file,
            cluster,
        })
    }
}

/// One entry of `clickhouse.url`, without a trailing slash.
fn http_endpoint(entry: &str) -> Result<String, ConfigError> {
    let url = entry.trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 8 {
        return Err(ConfigError::invalid(
            "clickhouse.url",
            format!(
                "must be ClickHouse's HTTP endpoint such as http://127.0.0.1:8123 or https://clickhouse.internal:8443 (or several, comma-separated or a list), got {url:?}"
            ),
        ));
    }
    Ok(url)
}

/// A name that may stand in SQL unquoted: a database or a cluster.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How many open connections per HTTP worker may be configured.
const CONNECTIONS: std::ops::RangeInclusive<usize> = 16..=1_000_000;

impl RawHttp {
    fn validate(self) -> Result<HttpConfig, ConfigError> {
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            return Err(ConfigError::invalid(
                "http.rate_limit_per_second",
                "and http.rate_limit_burst must be at least 1",
            ));
        }
        Ok(HttpConfig {
            trusted_proxies: parse_networks("http.trusted_proxies", &self.trusted_proxies)?,
            max_body_bytes: in_range("http.max_body_bytes", self.max_body_bytes, 256..=1_048_576)?,
            max_headers: in_range("http.max_headers", self.max_headers, 8..=1024)?,
            max_header_bytes: in_range(
                "http.max_header_bytes",
                self.max_header_bytes,
                1024..=1_048_576,
            )?,
            request_timeout: millis(
                "http.request_timeout_ms",
                self.request_timeout_ms,
                100..=600_000,
            )?,
            keep_alive: millis("http.keep_alive_ms", self.keep_alive_ms, 0..=600_000)?,
            max_connections: in_range("http.max_connections", self.max_connections, CONNECTIONS)?,
            rate_limit_per_second: self.rate_limit_per_second,
            rate_limit_burst: self.rate_limit_burst,
            // 0 means one per core.
            workers: in_range("http.workers", self.workers, 0..=256)?,
        })
    }
}

impl RawPipeline {
    fn validate(self) -> Result<PipelineConfig, ConfigError> {
        Ok(PipelineConfig {
            batch_rows: in_range("pipeline.batch_rows", self.batch_rows, 1..=1_000_000)?,
            flush_interval: millis(
                "pipeline.flush_interval_ms",
                self.flush_interval_ms,
                1..=600_000,
            )?,
            // Past a few minutes a service manager kills the process anyway;
            // what is not delivered by then stays spooled for the next start.
            shutdown_timeout: millis(
                "pipeline.shutdown_timeout_ms",
                self.shutdown_timeout_ms,
                100..=600_000,
            )?,
        })
    }
}

impl RawSpool {
    fn validate(self) -> Result<SpoolSettings, ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "spool.dir",
                "must name a directory the collector may write, e.g. /var/lib/beaconhouse/spool",
            ));
        }
        let segment_bytes = in_range("spool.segment_bytes", self.segment_bytes, 1 << 16..=1 << 40)?;
        if self.max_bytes < segment_bytes {
            return Err(ConfigError::invalid(
                "spool.max_bytes",
                "must be at least spool.segment_bytes",
            ));
        }
        Ok(SpoolSettings {
            dir: self.dir,
            max_bytes: self.max_bytes,
            segment_bytes,
            sync: self.sync,
            fsync_interval: millis(
                "spool.fsync_interval_ms",
                self.fsync_interval_ms,
                1..=10_000,
            )?,
            // Apart from spool.max_bytes: rejected batches must not make the
            // collector shed live hits.
            dead_letter_max_bytes: in_range(
                "spool.dead_letter_max_bytes",
                self.dead_letter_max_bytes,
                1024..=1 << 40,
            )?,
        })
    }
}

impl RawReporting {
    fn validate(self, sites: &HashMap<String, Site>) -> Result<ReportingConfig, ConfigError> {
        let min_group_size = in_range("reporting.min_group_size", self.min_group_size, 1..=1000)?;
        let mut tokens: Vec<ApiToken> = Vec::new();
        for (i, raw) in self.tokens.into_iter().enumerate() {
            let key = format!("reporting.tokens[{i}]");
            if raw.name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    "must name the token's holder, e.g. \"marketing\"",
                ));
            }
            if tokens.iter().any(|t| t.name == raw.name) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!(
                        "{:?} names another token too; give each token its own name (sessions are signed per name)",
                        raw.name
                    ),
                ));
            }
            long_secret(&format!("{key}.token"), &raw.token)?;
            if let Some(unknown) = raw
                .sites
                .iter()
                .find(|id| *id != "*" && !sites.contains_key(*id))
            {
                return Err(ConfigError::invalid(
                    format!("{key}.sites"),
                    format!(
                        "names {unknown:?}, which is not a configured site (use \"*\" for all)"
                    ),
                ));
            }
            let sha256 = ApiToken::digest(&raw.token);
            if tokens.iter().any(|t| t.sha256 == sha256) {
                return Err(ConfigError::invalid(
                    format!("{key}.token"),
                    "is the same as another token's; give each holder their own",
                ));
            }
            tokens.push(ApiToken {
                name: raw.name,
                sha256,
                sites: Access::from_list(raw.sites),
                campaigns: Access::from_list(raw.campaigns),
            });
        }
        let share_key = match self.share_key {
            Some(key) => {
                long_secret("reporting.share_key", &key)?;
                Some(ShareKey(key))
            }
            None => None,
        };
        let clickhouse_user = match (self.clickhouse_user, self.clickhouse_password) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "reporting.clickhouse_password",
                    "is set without reporting.clickhouse_user; name the user it belongs to (the ingest user's password is clickhouse.password)",
                ));
            }
            (Some(user), _) if user.trim().is_empty() => {
                return Err(ConfigError::invalid(
                    "reporting.clickhouse_user",
                    "is empty; name a read-only ClickHouse user (deploy/grants.sql), or leave it out to read as clickhouse.user",
                ));
            }
            (Some(user), password) => Some(ReportsUser {
                user,
                password: password.unwrap_or_default(),
            }),
        };
        let limits = ReportLimits {
            query_timeout: millis(
                "reporting.query_timeout_ms",
                self.query_timeout_ms,
                1_000..=600_000,
            )?,
            max_memory_bytes: in_range(
                "reporting.max_memory_bytes",
                self.max_memory_bytes,
                (16 << 20)..=(1 << 40),
            )?,
            max_concurrent: in_range("reporting.max_concurrent", self.max_concurrent, 1..=256)?,
        };
        Ok(ReportingConfig {
            min_group_size,
            tokens,
            share_key,
            clickhouse_user,
            limits,
        })
    }
}

/// Shortest retention period other than 0 (forever): a month partition can
/// only go whole, and a typo must not empty a table.
const MIN_RETENTION_DAYS: u16 = 31;
/// Longest retention period other than 0: a century.
const MAX_RETENTION_DAYS: u16 = 36_500;

impl RawRetention {
    fn validate(self) -> Result<RetentionConfig, ConfigError> {
        let events_days = retention_days("retention.events_days", self.events_days)?;
        let email_opens_days = retention_days("retention.email_opens_days", self.email_opens_days)?;
        let daily_stats_days = retention_days("retention.daily_stats_days", self.daily_stats_days)?;
        let rollup_too_short = match (events_days, daily_stats_days) {
            (_, 0) => None,
            (0, _) => Some("must be 0 (forever) while retention.events_days is 0".to_string()),
            (events, rollup) if rollup < events => Some(format!(
                "must be 0 (forever) or at least retention.events_days ({events}), got {rollup}"
            )),
            _ => None,
        };
        if let Some(problem) = rollup_too_short {
            return Err(ConfigError::invalid(
                "retention.daily_stats_days",
                format!(
                    "{problem}: a report reads a rolled-up day from daily_stats alone, so the rollup must be kept as long as the events it was computed from"
                ),
            ));
        }
        Ok(RetentionConfig {
            events_days,
            email_opens_days,
            daily_stats_days,
        })
    }
}

/// A retention period: 0 (forever) or within the accepted range.
fn retention_days(key: &str, days: u16) -> Result<u16, ConfigError> {
    if days == 0 {
        return Ok(0);
    }
    in_range(key, days, MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).map_err(|error| match error {
        ConfigError::Invalid { key, problem } => ConfigError::Invalid {
            key,
            problem: format!("{problem} (or 0 to keep the table forever)"),
        },
        other => other,
    })
}

/// Refuses a secret too short to resist guessing.
fn long_secret(key: &str, secret: &str) -> Result<(), ConfigError> {
    if secret.chars().count() < MIN_TOKEN_CHARS || secret.contains(char::is_whitespace) {
        return Err(ConfigError::invalid(
            key,
            format!(
                "must be at least {MIN_TOKEN_CHARS} characters without spaces; make one with `openssl rand -hex 32`"
            ),
        ));
    }
    Ok(())
}

/// Parses CIDR networks; a bare address means that single host.
fn parse_networks(key: &str, entries: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::invalid(
                        key,
                        format!("must list networks such as 10.0.0.0/8 or ::1/128, got {entry:?}"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MINIMAL: &str = r#"
        [[sites]]
        id = "optimumabq.com"
        hostnames = ["optimumabq.com", "WWW.optimumabq.com"]
    "#;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(toml.as_bytes()).unwrap();
        Config::load_with_env(
            Some(file.path()),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn rejected_key(toml: &str, env: &[(&str, &str)]) -> String {
        match load(toml, env) {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let config = load(MINIMAL, &[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.admin_listen, "127.0.0.1:9091".parse().unwrap());
        assert_eq!(config.clickhouse.urls, ["http://127.0.0.1:8123"]);
        assert_eq!(config.clickhouse.cluster, None);
        assert_eq!(
            config.sites["optimumabq.com"].hostnames,
            vec!["optimumabq.com", "www.optimumabq.com"]
        );
        assert!(config.http.trusted_proxies.is_empty());
        assert_eq!(config.http.request_timeout, Duration::from_secs(5));
        assert_eq!(config.http.keep_alive, Duration::from_secs(5));
        assert_eq!(config.http.max_connections, 10_000);
        assert_eq!(config.geoip.precision, Precision::City);
        assert_eq!(config.sites["optimumabq.com"].time_zone, "UTC");
        assert_eq!(config.reporting.share_key, None);
        let denver = format!("{MINIMAL}time_zone = \"America/Denver\"\n");
        let config = load(&denver, &[]).unwrap();
        assert_eq!(config.sites["optimumabq.com"].time_zone, "America/Denver");
    }

    #[test]
    fn environment_overrides_the_file() {
        let config = load(
            MINIMAL,
            &[
                ("BEACONHOUSE_CLICKHOUSE_URL", "http://10.1.2.3:8123/"),
                ("BEACONHOUSE_LISTEN", "0.0.0.0:9000"),
                ("BEACONHOUSE_GEOIP_DATABASE", "/srv/geo.mmdb"),
                ("BEACONHOUSE_GEOIP_PRECISION", "country"),
                ("BEACONHOUSE_PIPELINE_BATCH_ROWS", "77"),
                (
                    "BEACONHOUSE_HTTP_TRUSTED_PROXIES",
                    "[\"127.0.0.1\", \"fd00::/8\"]",
                ),
                ("BEACONHOUSE_TEST_CLICKHOUSE_URL", "ignored"),
                ("BEACONHOUSE_TEST_REPORT_SQL_OUT", "/tmp/ignored"),
                ("BEACONHOUSE_CONFIG", "/etc/ignored.toml"),
                ("PATH", "/usr/bin"),
            ],
        )
        .unwrap();
        assert_eq!(config.clickhouse.urls, ["http://10.1.2.3:8123"]);
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(
            config.geoip.database.as_deref(),
            Some(Path::new("/srv/geo.mmdb"))
        );
        assert_eq!(config.geoip.precision, Precision::Country);
        assert_eq!(config.pipeline.batch_rows, 77);
        assert_eq!(config.http.trusted_proxies.len(), 2);
    }

    #[test]
    fn https_urls_are_taken_with_a_ca_file_or_without() {
        let https = [
            (
                "BEACONHOUSE_CLICKHOUSE_URL",
                "https://clickhouse.internal:8443/",
            ),
            ("BEACONHOUSE_CLICKHOUSE_CA_FILE", "/etc/beaconhouse/ca.pem"),
        ];
        let config = load(MINIMAL, &https).unwrap().clickhouse;
        assert_eq!(config.urls, ["https://clickhouse.internal:8443"]);
        assert_eq!(
            config.ca_file.as_deref(),
            Some(Path::new("/etc/beaconhouse/ca.pem"))
        );
        let config = load(MINIMAL, &https[..1]).unwrap().clickhouse;
        assert_eq!(config.ca_file, None, "Mozilla's roots, built in");
    }

    #[test]
    fn several_endpoints_and_a_cluster() {
        let two = ["http://10.0.0.1:8123", "http://10.0.0.2:8123"];
        let file = format!(
            "{MINIMAL}\n[clickhouse]\nurl = [\"http://10.0.0.1:8123/\", \"http://10.0.0.2:8123\"]\ncluster = \"analytics\"\n"
        );
        let config = load(&file, &[]).unwrap();
        assert_eq!(config.clickhouse.urls, two);
        assert_eq!(config.clickhouse.cluster.as_deref(), Some("analytics"));
        for (url, cluster) in [
            ("http://10.0.0.1:8123, http://10.0.0.2:8123/", "analytics"),
            (
                "[\"http://10.0.0.1:8123\",\"http://10.0.0.2:8123\"]",
                "analytics",
            ),
        ] {
            let env = [
                ("BEACONHOUSE_CLICKHOUSE_URL", url),
                ("BEACONHOUSE_CLICKHOUSE_CLUSTER", cluster),
            ];
            let config = load(MINIMAL, &env).unwrap();
            assert_eq!(config.clickhouse.urls, two, "{url}");
            assert_eq!(config.clickhouse.cluster.as_deref(), Some("analytics"));
        }
        let file = format!("{MINIMAL}\n[clickhouse]\nurl = \"http://10.0.0.1:8123\"\n");
        let env = [("BEACONHOUSE_CLICKHOUSE_URL", "http://10.0.0.3:8123")];
        assert_eq!(
            load(&file, &env).unwrap().clickhouse.urls,
            ["http://10.0.0.3:8123"],
            "the environment overrides the file's list"
        );
    }

    #[test]
    fn numeric_looking_password_stays_a_string() {
        let config = load(MINIMAL, &[("BEACONHOUSE_CLICKHOUSE_PASSWORD", "1234")]).unwrap();
        assert_eq!(config.clickhouse.password, "1234");
    }

    #[test]
    fn each_rejection_names_its_key() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("", &[], "sites"),
            (MINIMAL, &[("BEACONHOUSE_LISTEN", "localhost")], "listen"),
            (
                MINIMAL,
                &[("BEACONHOUSE_ADMIN_LISTEN", "9091")],
                "admin_listen",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_ADMIN_LISTEN", "127.0.0.1:8080")],
                "admin_listen",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_CLICKHOUSE_URL", "127.0.0.1:8123")],
                "clickhouse.url",
            ),
            (
                MINIMAL,
                &[(
                    "BEACONHOUSE_CLICKHOUSE_URL",
                    "http://10.0.0.1:8123,10.0.0.2:8123",
                )],
                "clickhouse.url",
            ),
            (
                MINIMAL,
                &[(
                    "BEACONHOUSE_CLICKHOUSE_URL",
                    "http://10.0.0.1:8123,http://10.0.0.1:8123/",
                )],
                "clickhouse.url",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[clickhouse]\nurl = []",
                &[],
                "clickhouse.url",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_CLICKHOUSE_DATABASE", "a;b")],
                "clickhouse.database",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_CLICKHOUSE_CA_FILE", "/etc/ssl/ca.pem")],
                "clickhouse.ca_file",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_CLICKHOUSE_CLUSTER", "my-cluster")],
                "clickhouse.cluster",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_CLICKHOUSE_CLUSTER", "")],
                "clickhouse.cluster",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_TRUSTED_PROXIES", "[\"10.0.0.0/33\"]")],
                "http.trusted_proxies",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_MAX_BODY_BYTES", "10")],
                "http.max_body_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_BATCH_ROWS", "0")],
                "pipeline.batch_rows",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_FLUSH_INTERVAL_MS", "0")],
                "pipeline.flush_interval_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_SHUTDOWN_TIMEOUT_MS", "0")],
                "pipeline.shutdown_timeout_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_SHUTDOWN_TIMEOUT_MS", "3600000")],
                "pipeline.shutdown_timeout_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_WORKERS", "1000")],
                "http.workers",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_REQUEST_TIMEOUT_MS", "5")],
                "http.request_timeout_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_KEEP_ALIVE_MS", "600001")],
                "http.keep_alive_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_MAX_CONNECTIONS", "8")],
                "http.max_connections",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_SEGMENT_BYTES", "10")],
                "spool.segment_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_MAX_BYTES", "1000")],
                "spool.max_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_SYNC", "never")],
                "spool.sync",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_FSYNC_INTERVAL_MS", "0")],
                "spool.fsync_interval_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_DEAD_LETTER_MAX_BYTES", "100")],
                "spool.dead_letter_max_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_RATE_LIMIT_BURST", "0")],
                "http.rate_limit_per_second",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_HTTP_MAX_HEADERS", "2")],
                "http.max_headers",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\ntime_zone = \"America/Denvr\"",
                &[],
                "sites[0].time_zone",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_SHARE_KEY", "short")],
                "reporting.share_key",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"0123456789abcdef0123456789abcdef\"\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"fedcba9876543210fedcba9876543210\"",
                &[],
                "reporting.tokens[1].name",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_GEOIP_PRECISION", "street")],
                "geoip.precision",
            ),
            (MINIMAL, &[("BEACONHOUSE_LISTEN_PORT", "1")], "listen_port"),
            (
                "[[sites]]\nid = \"a\"\nhostnames = []",
                &[],
                "sites[0].hostnames",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\npath_patterns = [\"members/:id\"]",
                &[],
                "sites[0].path_patterns",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"https://a.com/\"]",
                &[],
                "sites[0].hostnames",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[[sites]]\nid = \"a\"\nhostnames = [\"b\"]",
                &[],
                "sites[1].id",
            ),
            (
                "[clickhouse]\nurll = \"x\"\n[[sites]]\nid = \"a\"\nhostnames = [\"a\"]",
                &[],
                "clickhouse.urll",
            ),
        ];
        for (toml, env, key) in cases {
            assert_eq!(&rejected_key(toml, env), key, "case {toml:?} {env:?}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let message = load(MINIMAL, &[("BEACONHOUSE_LISTEN", "localhost")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("`listen`"), "{message}");
        assert!(message.contains("127.0.0.1:8080"), "{message}");
        let message = load(
            MINIMAL,
            &[("BEACONHOUSE_PIPELINE_SHUTDOWN_TIMEOUT_MS", "0")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            message,
            "invalid configuration: `pipeline.shutdown_timeout_ms` must be between 100 and 600000, got 0"
        );
    }

    #[test]
    fn retention_periods_have_defaults_overrides_and_limits() {
        let defaults = load(MINIMAL, &[]).unwrap().retention;
        assert_eq!(
            defaults,
            RetentionConfig {
                events_days: 732,
                email_opens_days: 400,
                daily_stats_days: 0,
            }
        );
        assert_eq!(defaults.days(Table::EmailOpens), 400);
        let set = load(
            &format!("{MINIMAL}\n[retention]\nemail_opens_days = 31\n"),
            &[
                ("BEACONHOUSE_RETENTION_EVENTS_DAYS", "0"),
                ("BEACONHOUSE_RETENTION_DAILY_STATS_DAYS", "0"),
            ],
        )
        .unwrap()
        .retention;
        assert_eq!((set.events_days, set.email_opens_days), (0, 31));
        let rollup_kept_as_long = load(
            MINIMAL,
            &[
                ("BEACONHOUSE_RETENTION_EVENTS_DAYS", "400"),
                ("BEACONHOUSE_RETENTION_DAILY_STATS_DAYS", "400"),
            ],
        );
        assert_eq!(rollup_kept_as_long.unwrap().retention.daily_stats_days, 400);

        // (the [retention] lines, the key refused, what its message says)
        let refused = [
            (
                "events_days = 30",
                "events_days",
                "31 and 36500, got 30 (or 0 to keep",
            ),
            (
                "email_opens_days = 36501",
                "email_opens_days",
                "got 36501 (or 0",
            ),
            ("events_days = -1", "events_days", "invalid value"),
            (
                "daily_stats_days = 400",
                "daily_stats_days",
                "or at least retention.events_days (732), got 400: a report reads",
            ),
            (
                "events_days = 0\ndaily_stats_days = 800",
                "daily_stats_days",
                "must be 0 (forever) while retention.events_days is 0",
            ),
        ];
        for (lines, key, problem) in refused {
            let toml = format!("{MINIMAL}\n[retention]\n{lines}\n");
            assert_eq!(rejected_key(&toml, &[]), format!("retention.{key}"));
            let message = load(&toml, &[]).unwrap_err().to_string();
            assert!(message.contains(problem), "{lines}: {message}");
        }
    }

    #[test]
    fn secrets_in_a_file_others_may_read_are_flagged() {
        use std::os::unix::fs::PermissionsExt;
        let token = "t".repeat(32);
        let with_secrets = format!(
            "{MINIMAL}\n[clickhouse]\npassword = 1234\n[reporting]\nshare_key = \"{token}\"\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"{token}\"\n"
        );
        let exposed = |toml: &str, mode: u32, env: &[(&str, &str)]| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("beaconhouse.toml");
            std::fs::write(&path, toml).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let mut env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if env.iter().any(|(k, _)| k == "CREDENTIALS_DIRECTORY") {
                env = vec![(
                    "CREDENTIALS_DIRECTORY".into(),
                    dir.path().display().to_string(),
                )];
            }
            Config::load_with_env(Some(&path), env)
                .unwrap()
                .exposed_secrets
                .map(|e| {
                    let says_what_to_do = e.to_string().contains("chmod 600");
                    (e.keys, e.mode, says_what_to_do)
                })
        };
        assert_eq!(
            exposed(&with_secrets, 0o644, &[]),
            Some((
                vec![
                    "clickhouse.password",
                    "reporting.share_key",
                    "reporting.tokens"
                ],
                0o644,
                true
            ))
        );
        assert_eq!(
            exposed(&with_secrets, 0o640, &[]).map(|e| e.1),
            Some(0o640),
            "the group is others too"
        );
        assert_eq!(exposed(&with_secrets, 0o600, &[]), None);
        assert_eq!(exposed(&with_secrets, 0o400, &[]), None);
        // Secrets from the environment are not in the file.
        let password = [("BEACONHOUSE_CLICKHOUSE_PASSWORD", "secret")];
        assert_eq!(exposed(MINIMAL, 0o644, &password), None);
        let tokens = format!("[{{name=\"m\",token=\"{token}\",sites=[\"*\"]}}]");
        let from_env = [("BEACONHOUSE_REPORTING_TOKENS", tokens.as_str())];
        assert_eq!(exposed(MINIMAL, 0o644, &from_env), None);
        assert_eq!(load(MINIMAL, &from_env).unwrap().reporting.tokens.len(), 1);
        let empty = format!("{MINIMAL}\n[clickhouse]\npassword = \"\"\n");
        assert_eq!(exposed(&empty, 0o644, &[]), None);
        // A systemd credential reads 0440 (its ACL's mask) and is the
        // service's alone.
        let credential = [("CREDENTIALS_DIRECTORY", "")];
        assert_eq!(exposed(&with_secrets, 0o440, &credential), None);
    }

    #[test]
    fn missing_file_is_reported() {
        let error =
            Config::load_with_env(Some(Path::new("/nonexistent/bh.toml")), Vec::new()).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/bh.toml"));
    }

    #[test]
    fn reporting_tokens_are_validated_and_kept_only_as_digests() {
        let toml = format!(
            "{MINIMAL}\n[reporting]\nmin_group_size = 10\n[[reporting.tokens]]\nname = \"marketing\"\ntoken = \"{}\"\nsites = [\"optimumabq.com\"]\n[[reporting.tokens]]\nname = \"all\"\ntoken = \"{}\"\nsites = [\"*\"]\ncampaigns = [\"*\"]\n",
            "m".repeat(32),
            "a".repeat(40)
        );
        let config = load(&toml, &[]).unwrap();
        assert_eq!(config.reporting.min_group_size, 10);
        let marketing = &config.reporting.tokens[0];
        assert!(marketing.sites.allows("optimumabq.com"));
        assert!(!marketing.sites.allows("other.example"));
        assert!(!marketing.campaigns.allows("nov"));
        assert!(config.reporting.tokens[1].campaigns.allows("nov"));
        assert!(!format!("{config:?}").contains(&"m".repeat(32)));
        assert_eq!(load(MINIMAL, &[]).unwrap().reporting.min_group_size, 5);

        let token = |name: &str, token: &str, sites: &str| {
            format!(
                "{MINIMAL}\n[[reporting.tokens]]\nname = \"{name}\"\ntoken = \"{token}\"\nsites = [{sites}]\n"
            )
        };
        let long = "t".repeat(32);
        assert_eq!(
            rejected_key(&token("m", "short", ""), &[]),
            "reporting.tokens[0].token"
        );
        assert_eq!(
            rejected_key(&token("", &long, ""), &[]),
            "reporting.tokens[0].name"
        );
        assert_eq!(
            rejected_key(&token("m", &long, "\"nope.example\""), &[]),
            "reporting.tokens[0].sites"
        );
        assert_eq!(
            rejected_key(MINIMAL, &[("BEACONHOUSE_REPORTING_MIN_GROUP_SIZE", "0")]),
            "reporting.min_group_size"
        );
    }

    #[test]
    fn reports_read_as_the_ingest_user_unless_told_and_within_limits() {
        let defaults = load(MINIMAL, &[]).unwrap().reporting;
        assert_eq!(defaults.clickhouse_user, None);
        assert_eq!(
            defaults.limits,
            ReportLimits {
                query_timeout: Duration::from_secs(10),
                max_memory_bytes: 1 << 30,
                max_concurrent: 8,
            }
        );
        let set = load(
            &format!("{MINIMAL}\n[reporting]\nclickhouse_user = \"beaconhouse_reports\"\n"),
            &[
                ("BEACONHOUSE_REPORTING_CLICKHOUSE_PASSWORD", "1234"),
                ("BEACONHOUSE_REPORTING_QUERY_TIMEOUT_MS", "2500"),
                ("BEACONHOUSE_REPORTING_MAX_MEMORY_BYTES", "100000000"),
            ],
        )
        .unwrap()
        .reporting;
        assert_eq!(
            set.clickhouse_user,
            Some(ReportsUser {
                user: "beaconhouse_reports".into(),
                password: "1234".into(),
            })
        );
        assert!(!format!("{set:?}").contains("1234"), "{set:?}");
        assert_eq!(set.limits.query_timeout, Duration::from_millis(2500));
        assert_eq!(set.limits.max_memory_bytes, 100_000_000);
        let without_password = load(MINIMAL, &[("BEACONHOUSE_REPORTING_CLICKHOUSE_USER", "r")]);
        assert_eq!(
            without_password
                .unwrap()
                .reporting
                .clickhouse_user
                .unwrap()
                .password,
            ""
        );

        for (variable, value, key) in [
            (
                "CLICKHOUSE_PASSWORD",
                "secret",
                "reporting.clickhouse_password",
            ),
            ("CLICKHOUSE_USER", " ", "reporting.clickhouse_user"),
            ("QUERY_TIMEOUT_MS", "999", "reporting.query_timeout_ms"),
            ("QUERY_TIMEOUT_MS", "600001", "reporting.query_timeout_ms"),
            ("MAX_MEMORY_BYTES", "1000000", "reporting.max_memory_bytes"),
            ("MAX_CONCURRENT", "0", "reporting.max_concurrent"),
        ] {
            let variable = format!("BEACONHOUSE_REPORTING_{variable}");
            assert_eq!(
                rejected_key(MINIMAL, &[(&variable, value)]),
                key,
                "{variable}={value}"
            );
        }
    }
}
