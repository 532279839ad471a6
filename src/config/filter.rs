//! `[filter]`: which hits are not counted beyond bots and unknown sites: the
//! operator's additions to the shipped referrer spam list, and removals from
//! it (`enrich::spam`), and the data-centre networks whose page views are not
//! counted (the strict level; none by default).
//!
//! Refuses an entry that is not a plain host name (`spam.example`, no
//! scheme, path or port), or a network that is not an address or a CIDR,
//! naming its key and place.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, parse_networks};
use crate::enrich::spam::{SpamHosts, is_host_name};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFilter {
    referrer_spam_add: Vec<String>,
    referrer_spam_remove: Vec<String>,
    datacenter_networks: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FilterConfig {
    /// The referrer spam hosts: the shipped list, plus and less the
    /// operator's.
    pub referrer_spam: SpamHosts,
    /// Networks of servers (hosting, cloud): page views and events from
    /// them are dropped as `datacenter`. Empty (the default): none is.
    pub datacenter_networks: Vec<IpNet>,
}

impl RawFilter {
    pub(super) fn validate(self) -> Result<FilterConfig, ConfigError> {
        for (key, hosts) in [
            ("filter.referrer_spam_add", &self.referrer_spam_add),
            ("filter.referrer_spam_remove", &self.referrer_spam_remove),
        ] {
            if let Some((i, bad)) = hosts.iter().enumerate().find(|(_, h)| !is_host_name(h)) {
                return Err(ConfigError::invalid(
                    format!("{key}[{i}]"),
                    format!(
                        "{bad:?} is not a host name; write the referrer's host alone, e.g. \"spam.example\""
                    ),
                ));
            }
        }
        Ok(FilterConfig {
            referrer_spam: SpamHosts::new(&self.referrer_spam_add, &self.referrer_spam_remove),
            datacenter_networks: parse_networks(
                "filter.datacenter_networks",
                &self.datacenter_networks,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys, load};

    #[test]
    fn the_operators_hosts_join_the_list_and_leave_it() {
        let config = load(
            &format!(
                "{MINIMAL}\n[filter]\nreferrer_spam_add = [\"spam.example\"]\nreferrer_spam_remove = [\"0-0.fr\"]\n"
            ),
            &[],
        )
        .unwrap();
        let spam = &config.filter.referrer_spam;
        assert!(spam.lists("www.spam.example"));
        assert!(!spam.lists("0-0.fr"));
        assert!(
            load(MINIMAL, &[])
                .unwrap()
                .filter
                .referrer_spam
                .lists("0-0.fr")
        );
    }

    #[test]
    fn datacenter_networks_are_none_unless_listed() {
        assert!(
            load(MINIMAL, &[])
                .unwrap()
                .filter
                .datacenter_networks
                .is_empty()
        );
        let listed = load(
            &format!(
                "{MINIMAL}\n[filter]\ndatacenter_networks = [\"192.0.2.0/24\", \"2001:db8::1\"]\n"
            ),
            &[],
        )
        .unwrap();
        let networks: Vec<String> = listed
            .filter
            .datacenter_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(networks, ["192.0.2.0/24", "2001:db8::1/128"]);
    }

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[filter]\nreferrer_spam_add = [\"ok.example\", \"https://spam.example/\"]",
                &[],
                "filter.referrer_spam_add[1]",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[filter]\nreferrer_spam_remove = [\"spam\"]",
                &[],
                "filter.referrer_spam_remove[0]",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[filter]\ndatacenter_networks = [\"192.0.2.0/24\", \"aws\"]",
                &[],
                "filter.datacenter_networks",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }
}
