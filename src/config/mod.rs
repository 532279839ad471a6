//! Configuration: one TOML file plus `BEACONHOUSE_<SECTION>_<KEY>` environment
//! overrides, read and validated once at start into [`Config`].
//!
//! Owns: the file format, the environment mapping and every validation rule;
//! each section validates itself into its part of [`Config`]. A `Config` that
//! exists is valid: the rest of the crate never re-checks it.
//!
//! Layout: one file per section of the file, each holding its raw form as
//! written, its defaults, its `validate` and the validated type it returns
//! (`clickhouse`, `geoip`, `http`, `email`, `filter`, `pipeline`, `spool`, `reporting`,
//! `retention`, `audit`, `sites`); `validate` holds [`ConfigError`] and the checks
//! several sections share. This file reads the file and the environment,
//! holds the top-level keys and assembles [`Config`]. It imports the
//! sections; they import only `validate` (and `reporting` the [`Site`] its
//! tokens name), never the loader: only their tests do, through `testing`,
//! so that a key is checked as an operator writes it.
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
//! refuses); one they may write is refused by both. A systemd credential is not: systemd makes it readable by the
//! service's user alone, with an ACL whose mask shows in the group bits.
//! Must never: touch the network or the disk beyond reading the config file
//! and its mode (the GeoIP file is opened by `enrich::geo`, ClickHouse is
//! reached by `store`), or quote a value or a line of the file in an error
//! (it may be a secret: errors name the key and the line).

mod audit;
mod clickhouse;
mod email;
mod filter;
mod geoip;
mod http;
mod pipeline;
mod reporting;
mod retention;
mod sites;
mod spool;
#[cfg(test)]
mod testing;
mod validate;

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::enrich::link::{LinkHost, LinkHosts};
use crate::goal::Conversions;
use crate::spool::SpoolSettings;

pub use audit::{AuditConfig, StaffUser};
pub use clickhouse::ClickHouseConfig;
pub use email::EmailConfig;
pub use filter::FilterConfig;
pub use geoip::GeoipConfig;
pub use http::HttpConfig;
pub use pipeline::PipelineConfig;
pub use reporting::{
    Access, ApiToken, ReportLimits, ReportingConfig, ReportsUser, SessionKey, ShareKey,
};
pub use retention::RetentionConfig;
pub use sites::Site;
pub use validate::ConfigError;

use audit::RawAudit;
use clickhouse::RawClickHouse;
use email::RawEmail;
use filter::RawFilter;
use geoip::RawGeoip;
use http::RawHttp;
use pipeline::RawPipeline;
use reporting::RawReporting;
use retention::RawRetention;
use sites::{RawSite, validate_sites};
use spool::RawSpool;

/// Prefix of every environment override.
const ENV_PREFIX: &str = "BEACONHOUSE_";
/// Variables under this prefix belong to the test harness, not to the service.
const ENV_TEST_PREFIX: &str = "BEACONHOUSE_TEST_";
/// Where systemd puts a service's credentials (`LoadCredential=`).
const ENV_CREDENTIALS: &str = "CREDENTIALS_DIRECTORY";
/// The keys that hold secrets, as written in the file.
const SECRET_KEYS: [&str; 7] = [
    "audit.staff_password",
    "clickhouse.password",
    "email.signing_key",
    "reporting.share_key",
    "reporting.session_key",
    "reporting.noise_key",
    "reporting.tokens",
];
/// Read permission for the file's group and for others.
const READABLE_BY_OTHERS: u32 = 0o044;
/// Write permission for the file's group and for others.
const WRITABLE_BY_OTHERS: u32 = 0o022;
/// Sections of the file, so `BEACONHOUSE_CLICKHOUSE_BATCH_ROWS` can be split into
/// `clickhouse.batch_rows` although keys themselves contain underscores.
const SECTIONS: &[&str] = &[
    "clickhouse",
    "geoip",
    "http",
    "email",
    "filter",
    "pipeline",
    "spool",
    "reporting",
    "retention",
    "audit",
];

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
    filter: RawFilter,
    pipeline: RawPipeline,
    spool: RawSpool,
    reporting: RawReporting,
    retention: RawRetention,
    audit: RawAudit,
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
            filter: RawFilter::default(),
            pipeline: RawPipeline::default(),
            spool: RawSpool::default(),
            reporting: RawReporting::default(),
            retention: RawRetention::default(),
            audit: RawAudit::default(),
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
    pub filter: FilterConfig,
    pub pipeline: PipelineConfig,
    pub spool: SpoolSettings,
    pub reporting: ReportingConfig,
    pub retention: RetentionConfig,
    pub audit: AuditConfig,
    /// Set when the file holds secrets and others may read or write it.
    pub exposed_secrets: Option<ExposedSecrets>,
}

/// A configuration file that holds secrets and that its group or others may
/// read, or write; its `Display` says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedSecrets {
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// The keys of the secrets written in the file itself.
    pub keys: Vec<&'static str>,
}

impl ExposedSecrets {
    /// Whether its group or others may write it: they could add a token of
    /// their own, or point the collector at their own ClickHouse. `serve`
    /// and `check-config` refuse such a file; one others may only read is a
    /// warning.
    pub fn writable(&self) -> bool {
        self.mode & WRITABLE_BY_OTHERS != 0
    }
}

impl std::fmt::Display for ExposedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        let (may, consequence) = if self.writable() {
            (
                "write",
                " anyone who may write it may add a token of their own, so beaconhouse will not start with it;",
            )
        } else {
            ("read", "")
        };
        write!(
            f,
            "the configuration file {path} holds secrets ({}) and its group or others may {may} it (mode {:04o}):{consequence} run `chmod 600 {path}` (the collector's user must own it), or keep the secrets out of the file: a systemd credential (LoadCredential=, as deploy/beaconhouse.service does) or environment variables (BEACONHOUSE_CLICKHOUSE_PASSWORD, BEACONHOUSE_REPORTING_SHARE_KEY, BEACONHOUSE_REPORTING_SESSION_KEY, BEACONHOUSE_REPORTING_TOKENS)",
            self.keys.join(", "),
            self.mode
        )
    }
}

impl Config {
    /// Every site's goals and funnels, for the reports.
    pub fn conversions(&self) -> Conversions {
        Arc::new(
            self.sites
                .iter()
                .map(|(id, site)| (id.clone(), site.conversions.clone()))
                .collect(),
        )
    }

    /// Where an email link may send a click unsigned: every site's hosts,
    /// and `email.link_hosts`.
    pub fn link_hosts(&self) -> LinkHosts {
        LinkHosts(
            self.sites
                .values()
                .flat_map(|site| &site.hostnames)
                .map(|host| LinkHost::Exact(host.to_ascii_lowercase()))
                .chain(self.email.link_hosts.iter().cloned())
                .collect(),
        )
    }

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
        // A credential is a read-only copy only the service may read.
        let others_may_read = mode & READABLE_BY_OTHERS != 0 && !credential;
        if (others_may_read || mode & WRITABLE_BY_OTHERS != 0) && !keys.is_empty() {
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
        toml_syntax(text)?;
        let mut figment =
            Figment::from(Serialized::defaults(RawConfig::default())).merge(Toml::string(text));
        let mut overridden = HashMap::new();
        for (name, value) in env {
            if let Some(key) = env_key(&name) {
                figment = figment.merge((key.as_str(), env_value(&key, &value)));
                overridden.insert(key, name);
            }
        }
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| describe_figment_error(&e, &overridden))?;
        raw.validate()
    }
}

/// Refuses text that is not TOML, naming the line, the column and the key
/// written there, never quoting the line (toml's own message does, and a
/// line such as `token = "...` holds a secret).
fn toml_syntax(text: &str) -> Result<(), ConfigError> {
    let Err(error) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    let mut at = error.span().map_or(0, |span| span.start).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    let lines: Vec<&str> = text.lines().collect();
    let key = lines.get(line - 1).and_then(|written| {
        let (key, _) = written.split_once('=')?;
        let key = key.trim();
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        let table = lines[..line - 1]
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| l.starts_with('['));
        bare.then(|| match table {
            Some(table) => format!("`{key}` in {table}"),
            None => format!("`{key}`"),
        })
    });
    Err(ConfigError::Syntax {
        line,
        column,
        key,
        problem: error.message().trim().replace('\n', "; "),
    })
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

/// What an environment variable sets `key` to. Its text, exactly as given,
/// when the key takes text, so a password `0123` keeps its zero and `"x"`
/// its quotes; a list or table (`["a", "b"]`) when the key takes that; a
/// number or a boolean otherwise. Whether a key takes a value is asked of
/// the keys' own types, on the defaults, so no list of keys can fall behind.
fn env_value(key: &str, text: &str) -> figment::value::Value {
    use figment::value::Value;
    let takes = |value: &Value| {
        Figment::from(Serialized::defaults(RawConfig::default()))
            .merge((key, value.clone()))
            .extract::<RawConfig>()
            .is_ok()
    };
    let parsed: Value = text.parse().unwrap_or_else(|_| text.into());
    let structured = matches!(parsed, Value::Array(..) | Value::Dict(..));
    let text = Value::from(text.to_string());
    if (structured && takes(&parsed)) || !takes(&text) {
        parsed
    } else {
        text
    }
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

/// Names the key (and the variable that set it) and what it must be, never
/// the value it was given: that may be a secret, such as a token in a
/// malformed `BEACONHOUSE_REPORTING_TOKENS`.
fn describe_figment_error(
    error: &figment::Error,
    overridden: &HashMap<String, String>,
) -> ConfigError {
    use figment::error::Kind;
    let mut key = error.path.join(".");
    if key.is_empty() {
        key = "(top level)".into();
    }
    let source = overridden
        .iter()
        .find(|(set, _)| key == **set || key.starts_with(&format!("{set}.")))
        .map(|(_, variable)| format!(" (set by the environment variable {variable})"))
        .unwrap_or_default();
    let problem = match &error.kind {
        Kind::InvalidType(actual, expected) => {
            format!("invalid type: expected {expected}, found {}", shape(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!(
                "invalid value: expected {expected}, found {}",
                shape(actual)
            )
        }
        Kind::UnknownVariant(_, expected) => format!("must be one of: {}", expected.join(", ")),
        Kind::Unsupported(actual) | Kind::UnsupportedKey(actual, _) => {
            format!("cannot be {}", shape(actual))
        }
        other => other.to_string(),
    };
    ConfigError::invalid(key, format!("{problem}{source}"))
}

/// What kind of value a refused one was, without the value itself.
fn shape(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) | Actual::Bytes(_) => "text",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "a value of another kind",
    }
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
            geoip: self.geoip.validate(),
            http: self.http.validate()?,
            email: self.email.validate()?,
            filter: self.filter.validate()?,
            pipeline: self.pipeline.validate()?,
            spool: self.spool.validate()?,
            reporting,
            retention: self.retention.validate()?,
            audit: self.audit.validate()?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys, load};
    use crate::enrich::geo::Precision;
    use std::time::Duration;

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
    fn text_from_the_environment_stays_exactly_as_given() {
        let share_key = "0000000000000000000000000000000012";
        for password in [
            "0123",
            "1.50",
            "true",
            "\"quoted\"",
            " spaced ",
            "[x]",
            "{a=1}",
            "-7",
        ] {
            let config = load(
                MINIMAL,
                &[
                    ("BEACONHOUSE_CLICKHOUSE_PASSWORD", password),
                    ("BEACONHOUSE_CLICKHOUSE_USER", "007"),
                    ("BEACONHOUSE_CLICKHOUSE_DATABASE", "2024"),
                    ("BEACONHOUSE_REPORTING_CLICKHOUSE_USER", "0x10"),
                    ("BEACONHOUSE_REPORTING_CLICKHOUSE_PASSWORD", password),
                    ("BEACONHOUSE_REPORTING_SHARE_KEY", share_key),
                ],
            )
            .unwrap();
            assert_eq!(config.clickhouse.password, password);
            assert_eq!(config.clickhouse.user, "007");
            assert_eq!(config.clickhouse.database, "2024");
            let reports = config.reporting.clickhouse_user.unwrap();
            assert_eq!(
                (reports.user.as_str(), reports.password.as_str()),
                ("0x10", password)
            );
            assert_eq!(
                config.reporting.share_key,
                Some(ShareKey::new(share_key.into()))
            );
        }
        // Numbers, lists and tables still read as such where a key takes one.
        let config = load(
            MINIMAL,
            &[
                ("BEACONHOUSE_PIPELINE_BATCH_ROWS", "077"),
                (
                    "BEACONHOUSE_CLICKHOUSE_URL",
                    "[\"http://a:8123\", \"http://b:8123\"]",
                ),
            ],
        )
        .unwrap();
        assert_eq!(config.pipeline.batch_rows, 77);
        assert_eq!(config.clickhouse.urls, ["http://a:8123", "http://b:8123"]);
    }

    #[test]
    fn errors_name_the_key_and_the_place_never_a_secret() {
        const SECRET: &str = "s3cret-0123456789abcdef0123456789abcdef";
        for (toml, line, key) in [
            (
                format!("{MINIMAL}\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"{SECRET}\n"),
                8,
                "token",
            ),
            (
                format!("{MINIMAL}\n[reporting]\nshare_key = {SECRET}\n"),
                7,
                "share_key",
            ),
            (
                format!("{MINIMAL}\n[clickhouse]\npassword = '{SECRET}\" # x\n"),
                7,
                "password",
            ),
        ] {
            let message = load(&toml, &[]).unwrap_err().to_string();
            assert!(!message.contains(SECRET), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
            assert!(message.contains(&format!("line {line}")), "{message}");
            assert!(message.contains(&format!("`{key}`")), "{message}");
        }
        for (variable, value, key) in [
            (
                "BEACONHOUSE_REPORTING_TOKENS",
                format!("[{{name=\"m\",token=\"{SECRET}\""),
                "reporting.tokens",
            ),
            (
                "BEACONHOUSE_REPORTING_TOKENS",
                format!("[{{name=\"m\",token=\"{SECRET}\"}} {{}}]"),
                "reporting.tokens",
            ),
            (
                "BEACONHOUSE_REPORTING_TOKENS",
                "[{name=\"m\",token=31415926535897932}]".into(),
                "reporting.tokens",
            ),
        ] {
            let message = load(MINIMAL, &[(variable, &value)])
                .unwrap_err()
                .to_string();
            assert!(!message.contains("s3cret"), "{message}");
            assert!(!message.contains("3141592653"), "{message}");
            assert!(message.contains(key), "{message}");
            assert!(message.contains(variable), "{message}");
        }
    }

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
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
            (MINIMAL, &[("BEACONHOUSE_LISTEN_PORT", "1")], "listen_port"),
            (
                "[clickhouse]\nurll = \"x\"\n[[sites]]\nid = \"a\"\nhostnames = [\"a\"]",
                &[],
                "clickhouse.urll",
            ),
        ];
        assert_rejections_name_their_keys(cases);
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
    fn secrets_in_a_file_others_may_read_are_flagged() {
        use std::os::unix::fs::PermissionsExt;
        let token = "t".repeat(32);
        let with_secrets = format!(
            "{MINIMAL}\n[clickhouse]\npassword = 1234\n[reporting]\nshare_key = \"{token}\"\nsession_key = \"{token}\"\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"{token}\"\n"
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
                    "reporting.session_key",
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
    fn secrets_in_a_file_others_may_write_are_told_apart() {
        use std::os::unix::fs::PermissionsExt;
        let with_token = format!(
            "{MINIMAL}\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"{}\"\n",
            "t".repeat(32)
        );
        let exposure = |toml: &str, mode: u32| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("beaconhouse.toml");
            std::fs::write(&path, toml).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            Config::load_with_env(Some(&path), Vec::new())
                .unwrap()
                .exposed_secrets
                .map(|e| (e.writable(), e.to_string().contains("may write it")))
        };
        for mode in [0o620, 0o602, 0o664, 0o666] {
            assert_eq!(exposure(&with_token, mode), Some((true, true)), "{mode:o}");
        }
        assert_eq!(exposure(&with_token, 0o640), Some((false, false)));
        assert_eq!(exposure(&with_token, 0o600), None);
        // Nothing secret to take or to add to: a file of sites only.
        assert_eq!(exposure(MINIMAL, 0o666), None);
    }

    #[test]
    fn missing_file_is_reported() {
        let error =
            Config::load_with_env(Some(Path::new("/nonexistent/bh.toml")), Vec::new()).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/bh.toml"));
    }
}
