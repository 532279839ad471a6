//! `[email]`: the networks of mail providers' image proxies, so an open
//! fetched through one is told apart although its user agent does not say so;
//! which opens and clicks are counted: the campaigns they may name, and the
//! key of signed open pixels and links, perhaps required; the hosts an email
//! link may send a click to unsigned; and the networks of mail scanners,
//! whose clicks are told apart (the shipped list, and the operator's).
//!
//! Refuses an entry that is neither a network (`10.0.0.0/8`) nor an address,
//! a campaign entry that is not a plain name (letters, digits, `-`, `_`, `.`,
//! perhaps ending in `*`) or that scrubbing would change, a link host that
//! is not a host name (or `*.` and one), a signing key too short to resist
//! guessing, and a required signature without a key. Never shows the key
//! in `Debug`.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, long_secret, parse_networks};
use crate::enrich::campaign::{Allowed, CampaignRules, SigningKey};
use crate::enrich::link::LinkHost;
use crate::enrich::{scanner, scrub};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEmail {
    proxy_networks: Vec<String>,
    campaigns: Vec<String>,
    signing_key: Option<String>,
    require_signature: bool,
    link_hosts: Vec<String>,
    scanner_networks: Vec<String>,
    shipped_scanner_networks: bool,
}

impl Default for RawEmail {
    fn default() -> Self {
        RawEmail {
            proxy_networks: Vec::new(),
            campaigns: Vec::new(),
            signing_key: None,
            require_signature: false,
            link_hosts: Vec::new(),
            scanner_networks: Vec::new(),
            shipped_scanner_networks: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// Networks of mail providers' image proxies whose user agent does not say so.
    pub proxy_networks: Vec<IpNet>,
    /// Which opens and clicks are counted.
    pub campaigns: CampaignRules,
    /// Hosts besides the sites' own that an email link may send a click to
    /// without a signature.
    pub link_hosts: Vec<LinkHost>,
    /// Networks of mail scanners: a click from one is a scanner's. The
    /// shipped list (`enrich::scanner`) unless turned off, and the
    /// operator's.
    pub scanner_networks: Vec<IpNet>,
}

impl RawEmail {
    pub(super) fn validate(self) -> Result<EmailConfig, ConfigError> {
        let allowed = self
            .campaigns
            .iter()
            .map(|entry| {
                let refused = |problem: String| ConfigError::invalid("email.campaigns", problem);
                let allowed = Allowed::parse(entry.trim()).ok_or_else(|| {
                    refused(format!(
                        "lists {entry:?}; list campaign names of letters, digits, `-`, `_` and `.` (at most 100), or such a prefix followed by `*`"
                    ))
                })?;
                let name = entry.trim().trim_end_matches('*');
                let stored = scrub::value(name);
                if stored != name {
                    return Err(refused(format!(
                        "lists {entry:?}, which would be stored as {stored:?} (it looks like personal data); rename the campaign, e.g. without six digits in a row"
                    )));
                }
                Ok(allowed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let signing_key = match self.signing_key {
            Some(key) => {
                long_secret("email.signing_key", &key)?;
                Some(SigningKey::new(key))
            }
            None => None,
        };
        if self.require_signature && signing_key.is_none() {
            return Err(ConfigError::invalid(
                "email.require_signature",
                "is on without email.signing_key; set the key the mail tool signs open pixels with (`openssl rand -hex 32`)",
            ));
        }
        let link_hosts = self
            .link_hosts
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                LinkHost::parse(entry).ok_or_else(|| {
                    ConfigError::invalid(
                        format!("email.link_hosts[{i}]"),
                        format!(
                            "{entry:?} is not a host name; write a host (\"optimumabq.com\") or `*.` and a domain for its subdomains (\"*.optimumabq.com\"), without scheme, port or path"
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut scanner_networks = if self.shipped_scanner_networks {
            scanner::shipped_networks()
        } else {
            Vec::new()
        };
        scanner_networks.extend(parse_networks(
            "email.scanner_networks",
            &self.scanner_networks,
        )?);
        Ok(EmailConfig {
            link_hosts,
            scanner_networks,
            proxy_networks: parse_networks("email.proxy_networks", &self.proxy_networks)?,
            campaigns: CampaignRules {
                allowed,
                signing_key,
                require_signature: self.require_signature,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys, load};
    use crate::enrich::campaign::Allowed;
    use crate::enrich::link::LinkHost;

    #[test]
    fn campaigns_a_key_and_a_required_signature_are_read() {
        let key = "k".repeat(32);
        let config = load(
            &format!(
                "{MINIMAL}\n[email]\ncampaigns = [\"welcome\", \"2026-*\"]\nsigning_key = \"{key}\"\nrequire_signature = true\n"
            ),
            &[],
        )
        .unwrap();
        let rules = &config.email.campaigns;
        assert_eq!(
            rules.allowed,
            [
                Allowed::Name("welcome".into()),
                Allowed::Prefix("2026-".into())
            ]
        );
        assert!(rules.require_signature && rules.signing_key.is_some());
        assert!(!format!("{config:?}").contains(&key));
        let defaults = load(MINIMAL, &[]).unwrap().email.campaigns;
        assert!(defaults.allowed.is_empty() && defaults.signing_key.is_none());
        assert!(!defaults.require_signature);
    }

    #[test]
    fn link_hosts_and_scanner_networks_are_read() {
        let config = load(
            &format!(
                "{MINIMAL}\n[email]\nlink_hosts = [\"optimumabq.events\", \"*.optimumabq.com\"]\nscanner_networks = [\"198.51.100.0/24\"]\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.email.link_hosts,
            [
                LinkHost::Exact("optimumabq.events".into()),
                LinkHost::Subdomains("optimumabq.com".into())
            ]
        );
        let shipped = crate::enrich::scanner::shipped_networks();
        assert_eq!(config.email.scanner_networks.len(), shipped.len() + 1);
        assert!(
            config
                .email
                .scanner_networks
                .contains(&"198.51.100.0/24".parse().unwrap())
        );
        let defaults = load(MINIMAL, &[]).unwrap().email;
        assert!(defaults.link_hosts.is_empty());
        assert_eq!(defaults.scanner_networks, shipped);
        let own_only = load(
            &format!("{MINIMAL}\n[email]\nshipped_scanner_networks = false\n"),
            &[],
        )
        .unwrap();
        assert!(own_only.email.scanner_networks.is_empty());
    }

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            (
                MINIMAL,
                &[("BEACONHOUSE_EMAIL_CAMPAIGNS", "[\"nov newsletter\"]")],
                "email.campaigns",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_EMAIL_CAMPAIGNS", "[\"newsletter-20261101\"]")],
                "email.campaigns",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_EMAIL_SIGNING_KEY", "short")],
                "email.signing_key",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_EMAIL_REQUIRE_SIGNATURE", "true")],
                "email.require_signature",
            ),
            (
                MINIMAL,
                &[(
                    "BEACONHOUSE_EMAIL_LINK_HOSTS",
                    "[\"https://optimumabq.com/\"]",
                )],
                "email.link_hosts[0]",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_EMAIL_SCANNER_NETWORKS", "[\"scanner\"]")],
                "email.scanner_networks",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }
}
