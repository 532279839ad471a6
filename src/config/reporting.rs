//! `[reporting]`: who may read and what a report may cost: the stats API
//! tokens (kept only as digests) and the sites and campaigns each may read,
//! the keys shared links and dashboard sessions are signed with, the smallest group a report shows,
//! a read-only ClickHouse user of the reports' own, and the limits of one
//! report.
//!
//! Refuses a token, share key or session key too short to resist guessing, a token
//! without a name or with another's name or value, a token naming a site
//! that is not configured, a reports password without its user, an empty
//! reports user, and every number outside its range. Never keeps a token
//! itself, and never shows a secret in `Debug`.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sites::Site;
use super::validate::{ConfigError, in_range, long_secret, millis, some_string_or_number};
use crate::release::{Mechanism, NoiseKey};

/// ε of each released count unless `reporting.epsilon` says otherwise: a
/// visitor-day's presence changes the odds of any one released figure by a
/// factor of at most e ≈ 2.7 (README, "What a released figure promises").
const DEFAULT_EPSILON: f64 = 1.0;
/// The ε a released count may have: below, figures drown in noise; above,
/// one count can tell a person's presence with odds past e² ≈ 7.4 to one.
const EPSILONS: std::ops::RangeInclusive<f64> = 0.1..=2.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawReporting {
    min_group_size: u64,
    tokens: Vec<RawToken>,
    share_key: Option<String>,
    session_key: Option<String>,
    noise_key: Option<String>,
    epsilon: f64,
    max_views_per_visitor_day: u64,
    #[serde(deserialize_with = "some_string_or_number")]
    clickhouse_user: Option<String>,
    #[serde(deserialize_with = "some_string_or_number")]
    clickhouse_password: Option<String>,
    query_timeout_ms: u64,
    max_memory_bytes: u64,
    max_concurrent: usize,
    queue_timeout_ms: u64,
}

impl Default for RawReporting {
    fn default() -> Self {
        RawReporting {
            min_group_size: 5,
            tokens: Vec::new(),
            share_key: None,
            session_key: None,
            noise_key: None,
            epsilon: DEFAULT_EPSILON,
            max_views_per_visitor_day: 10,
            clickhouse_user: None,
            clickhouse_password: None,
            query_timeout_ms: 10_000,
            max_memory_bytes: 1 << 30,
            // The dashboard asks for 8 reports at once per page load.
            max_concurrent: 8,
            // Three people opening the dashboard at once ask for some 30
            // reports; at well under a second each, they all start in time.
            queue_timeout_ms: 5_000,
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

#[derive(Debug, Clone)]
pub struct ReportingConfig {
    /// Groups of fewer unique visitors or recipients are folded into `(other)`.
    pub min_group_size: u64,
    /// Who may call the stats API and sign in to the dashboard.
    pub tokens: Vec<ApiToken>,
    /// Signs shared dashboard links; `None` means `beaconhouse share` is
    /// off. Changing it revokes every link.
    pub share_key: Option<ShareKey>,
    /// Signs dashboard sessions, with each token (`grant::token_session_key`);
    /// `None`: `serve` draws one at start, so sessions end when it restarts
    /// and no other collector accepts them.
    pub session_key: Option<SessionKey>,
    /// The release step (`release`): the noise key, ε and the threshold
    /// (`min_group_size`). `None` until `reporting.noise_key` is set: then
    /// nothing is released to staff SQL.
    pub release: Option<Mechanism>,
    /// Most page views (or custom events) one visitor counts for in one
    /// cell of one UTC day: what one visitor-day can change a released
    /// page-view count by.
    pub views_cap: u64,
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
    /// Most reports running at once in `serve`; past that, a report waits
    /// its turn (`report::bounded`).
    pub max_concurrent: usize,
    /// Longest a report waits for a slot; past that, a 503. Zero: reports
    /// never wait.
    pub queue_timeout: Duration,
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

/// The server's own secret that dashboard sessions are signed with, with
/// the token that opened each. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn new(key: String) -> SessionKey {
        SessionKey(key)
    }

    /// A key of 256 random bits, for a collector configured without one.
    pub fn random() -> SessionKey {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
        SessionKey(hex::encode(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<secret>)")
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

impl RawReporting {
    pub(super) fn validate(
        self,
        sites: &HashMap<String, Site>,
    ) -> Result<ReportingConfig, ConfigError> {
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
        let session_key = match self.session_key {
            Some(key) => {
                long_secret("reporting.session_key", &key)?;
                Some(SessionKey(key))
            }
            None => None,
        };
        if !EPSILONS.contains(&self.epsilon) {
            return Err(ConfigError::invalid(
                "reporting.epsilon",
                format!(
                    "must be from {} to {}: a larger ε gives no privacy worth the name, a smaller one no useful figure",
                    EPSILONS.start(),
                    EPSILONS.end()
                ),
            ));
        }
        let release = match self.noise_key {
            Some(key) => {
                long_secret("reporting.noise_key", &key)?;
                Some(Mechanism::new(
                    NoiseKey::new(&key),
                    self.epsilon,
                    min_group_size,
                ))
            }
            None => None,
        };
        let views_cap = in_range(
            "reporting.max_views_per_visitor_day",
            self.max_views_per_visitor_day,
            1..=100,
        )?;
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
            queue_timeout: millis(
                "reporting.queue_timeout_ms",
                self.queue_timeout_ms,
                0..=60_000,
            )?,
        };
        Ok(ReportingConfig {
            min_group_size,
            tokens,
            share_key,
            session_key,
            release,
            views_cap,
            clickhouse_user,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{
        Case, MINIMAL, assert_rejections_name_their_keys, load, rejected_key,
    };

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
                queue_timeout: Duration::from_secs(5),
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
            ("QUEUE_TIMEOUT_MS", "60001", "reporting.queue_timeout_ms"),
        ] {
            let variable = format!("BEACONHOUSE_REPORTING_{variable}");
            assert_eq!(
                rejected_key(MINIMAL, &[(&variable, value)]),
                key,
                "{variable}={value}"
            );
        }
    }

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_SHARE_KEY", "short")],
                "reporting.share_key",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_SESSION_KEY", "short")],
                "reporting.session_key",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"0123456789abcdef0123456789abcdef\"\n[[reporting.tokens]]\nname = \"m\"\ntoken = \"fedcba9876543210fedcba9876543210\"",
                &[],
                "reporting.tokens[1].name",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_NOISE_KEY", "short")],
                "reporting.noise_key",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_EPSILON", "5")],
                "reporting.epsilon",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_EPSILON", "0.01")],
                "reporting.epsilon",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_REPORTING_MAX_VIEWS_PER_VISITOR_DAY", "0")],
                "reporting.max_views_per_visitor_day",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }

    #[test]
    fn release_is_on_with_a_noise_key_and_keeps_it_out_of_debug() {
        let off = load(MINIMAL, &[]).unwrap();
        assert!(off.reporting.release.is_none());
        assert_eq!(off.reporting.views_cap, 10);
        let key = "n".repeat(40);
        let on = load(
            &format!("{MINIMAL}\n[reporting]\nnoise_key = \"{key}\"\nepsilon = 0.5\n"),
            &[],
        )
        .unwrap();
        let release = on.reporting.release.clone().unwrap();
        assert_eq!(
            release,
            Mechanism::new(NoiseKey::new(&key), 0.5, on.reporting.min_group_size)
        );
        assert!(!format!("{on:?}").contains(&key));
    }
}
