//! `[email]`: the networks of mail providers' image proxies, so an open
//! fetched through one is told apart although its user agent does not say so.
//!
//! Refuses an entry that is neither a network (`10.0.0.0/8`) nor an address.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, parse_networks};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEmail {
    proxy_networks: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// Networks of mail providers' image proxies whose user agent does not say so.
    pub proxy_networks: Vec<IpNet>,
}

impl RawEmail {
    pub(super) fn validate(self) -> Result<EmailConfig, ConfigError> {
        Ok(EmailConfig {
            proxy_networks: parse_networks("email.proxy_networks", &self.proxy_networks)?,
        })
    }
}
