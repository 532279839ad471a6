//! `[clickhouse]`: where rows are stored and reports read: the endpoints
//! (one, or several tried in turn), the database, the ingest user and its
//! password, a private CA for `https`, and the cluster `migrate` creates
//! tables on.
//!
//! Refuses an endpoint that is not `http://` or `https://`, one listed twice,
//! an empty list, a `ca_file` with no `https` endpoint to verify, and a
//! database or cluster name that could not stand in SQL unquoted. Builds no
//! client: that is `store::clickhouse`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, string_or_number};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawClickHouse {
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
    /// roots (a private CA); read by `store::clickhouse`. Only with `https`.
    pub ca_file: Option<PathBuf>,
    /// The cluster of ClickHouse's `remote_servers` that `migrate` creates
    /// the tables on; `None` for a single server.
    pub cluster: Option<String>,
}

impl ClickHouseConfig {
    /// The database of released tables, the only one staff SQL may read:
    /// `<database>_released`. `migrate` creates it beside `database`.
    pub fn released_database(&self) -> String {
        format!("{}_released", self.database)
    }
}

impl RawClickHouse {
    pub(super) fn validate(self) -> Result<ClickHouseConfig, ConfigError> {
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

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys, load};
    use std::path::Path;

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
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
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
        ];
        assert_rejections_name_their_keys(cases);
    }
}
