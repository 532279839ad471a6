//! `[[sites]]`: the websites whose hits are accepted: each one's id, the
//! hosts its pages are served from, the paths only it knows to be personal,
//! the time zone its reports use, and the event property keys it keeps.
//!
//! Refuses no site at all, an empty or overlong id, an id given twice, a
//! site without hosts, a host that is a URL rather than a bare name, a path
//! pattern `enrich::scrub` cannot parse, an unknown time zone, and more than
//! ten property keys or one `enrich::props` would not read back.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::validate::ConfigError;
use crate::enrich::props::{MAX_KEY_CHARS, MAX_KEYS_PER_SITE, is_valid_key};
use crate::enrich::scrub::PathPattern;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    id: String,
    hostnames: Vec<String>,
    #[serde(default)]
    path_patterns: Vec<String>,
    #[serde(default = "utc")]
    time_zone: String,
    #[serde(default)]
    props: Vec<String>,
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
    /// The event property keys kept (`enrich::props`); any other is dropped.
    pub props: Vec<String>,
}

/// Sites by id, host names lower-cased.
pub(super) fn validate_sites(raw: Vec<RawSite>) -> Result<HashMap<String, Site>, ConfigError> {
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
        if site.props.len() > MAX_KEYS_PER_SITE {
            return Err(ConfigError::invalid(
                format!("{key}.props"),
                format!("may list at most {MAX_KEYS_PER_SITE} property keys"),
            ));
        }
        if let Some(bad) = site.props.iter().find(|k| !is_valid_key(k)) {
            return Err(ConfigError::invalid(
                format!("{key}.props"),
                format!(
                    "must be keys of 1 to {MAX_KEY_CHARS} letters, digits, `_`, `-` or `.`, such as \"plan\", got {bad:?}"
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
                    props: site.props,
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

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, assert_rejections_name_their_keys};

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            ("", &[], "sites"),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\ntime_zone = \"America/Denvr\"",
                &[],
                "sites[0].time_zone",
            ),
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
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\nprops = [\"plan\", \"e mail\"]",
                &[],
                "sites[0].props",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\nprops = [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]",
                &[],
                "sites[0].props",
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
        ];
        assert_rejections_name_their_keys(cases);
    }
}
