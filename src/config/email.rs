//! `[email]`: the networks of mail providers' image proxies, so an open
//! fetched through one is told apart although its user agent does not say so;
//! and which opens are counted: the campaigns they may name, and the key of
//! signed open pixels, perhaps required.
//!
//! Refuses an entry that is neither a network (`10.0.0.0/8`) nor an address,
//! a campaign entry that is not a plain name (letters, digits, `-`, `_`, `.`,
//! perhaps ending in `*`) or that scrubbing would change, a signing key too
//! short to resist guessing, and a required signature without a key. Never
//! shows the key in `Debug`.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, long_secret, parse_networks};
use crate::enrich::campaign::{Allowed, CampaignRules, SigningKey};
use crate::enrich::scrub;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEmail {
    proxy_networks: Vec<String>,
    campaigns: Vec<String>,
    signing_key: Option<String>,
    require_signature: bool,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// Networks of mail providers' image proxies whose user agent does not say so.
    pub proxy_networks: Vec<IpNet>,
    /// Which opens are counted.
    pub campaigns: CampaignRules,
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
        Ok(EmailConfig {
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
        ];
        assert_rejections_name_their_keys(cases);
    }
}
