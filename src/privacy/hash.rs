//! The one-way ids that stand in for people: a visitor id that changes every UTC
//! day, and a recipient id that is stable for one campaign.
//!
//! Both are SHA-256 over a secret salt followed by length-prefixed fields (so
//! `("ab","c")` and `("a","bc")` differ), truncated to 64 bits. Without the salt
//! the inputs cannot be tested against an id; once a day's salt is destroyed,
//! nobody can link that day's ids to an address.

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// A 256-bit secret. Its `Debug` output never shows the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    /// A fresh salt from the operating system's random source.
    pub fn random() -> Salt {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system has no random source");
        Salt(bytes)
    }

    /// Hex form, as stored in ClickHouse.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Salt> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Salt(bytes))
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(<secret>)")
    }
}

/// Domain tags keep a visitor hash from ever equalling a recipient hash of the
/// same bytes.
const VISITOR_TAG: &[u8] = b"beaconhouse/visitor/v1";
const RECIPIENT_TAG: &[u8] = b"beaconhouse/recipient/v1";
const CAMPAIGN_TAG: &[u8] = b"beaconhouse/campaign/v1";

/// The visitor id for one site on the day `salt` belongs to.
pub fn visitor_id(salt: &Salt, site: &str, client: IpAddr, user_agent: &str) -> u64 {
    let address = match client {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    truncate(&keyed(
        salt,
        VISITOR_TAG,
        &[site.as_bytes(), &address, user_agent.as_bytes()],
    ))
}

/// The salt of one campaign, derived from the installation's recipient key so
/// that every collector agrees on it without asking ClickHouse per campaign.
pub fn campaign_salt(recipient_key: &Salt, campaign: &str) -> Salt {
    Salt(keyed(recipient_key, CAMPAIGN_TAG, &[campaign.as_bytes()]))
}

/// The recipient id for an email service's opaque token within a campaign.
pub fn recipient_id(campaign_salt: &Salt, campaign: &str, recipient_token: &str) -> u64 {
    truncate(&keyed(
        campaign_salt,
        RECIPIENT_TAG,
        &[campaign.as_bytes(), recipient_token.as_bytes()],
    ))
}

fn keyed(salt: &Salt, tag: &[u8], fields: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt.0);
    hasher.update(tag);
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hasher.finalize().into()
}

fn truncate(digest: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn same_inputs_same_day_same_id() {
        let salt = Salt([7; 32]);
        assert_eq!(
            visitor_id(&salt, "a.com", ip("203.0.113.7"), UA),
            visitor_id(&salt, "a.com", ip("203.0.113.7"), UA)
        );
    }

    #[test]
    fn every_input_changes_the_id() {
        let salt = Salt([7; 32]);
        let base = visitor_id(&salt, "a.com", ip("203.0.113.7"), UA);
        assert_ne!(
            base,
            visitor_id(&Salt([8; 32]), "a.com", ip("203.0.113.7"), UA)
        );
        assert_ne!(base, visitor_id(&salt, "b.com", ip("203.0.113.7"), UA));
        assert_ne!(base, visitor_id(&salt, "a.com", ip("203.0.113.8"), UA));
        assert_ne!(base, visitor_id(&salt, "a.com", ip("2001:db8::1"), UA));
        assert_ne!(base, visitor_id(&salt, "a.com", ip("203.0.113.7"), "curl"));
    }

    #[test]
    fn fields_are_length_prefixed() {
        let salt = Salt([1; 32]);
        assert_ne!(
            recipient_id(&salt, "ab", "c"),
            recipient_id(&salt, "a", "bc")
        );
    }

    #[test]
    fn known_answer_pins_the_algorithm() {
        // Changing the construction silently would split every id in a day's
        // data in two; this value must only change with a new tag version.
        // Computed independently with Python's hashlib:
        // sha256(salt || tag || len64le(field) || field ...)[..8] as little-endian.
        let id = visitor_id(&Salt([0; 32]), "a.com", ip("192.0.2.1"), "ua");
        assert_eq!(id, 16_298_784_818_239_697_443);
    }

    #[test]
    fn recipient_ids_are_scoped_to_the_campaign() {
        let key = Salt([3; 32]);
        let november = campaign_salt(&key, "nov");
        let december = campaign_salt(&key, "dec");
        assert_ne!(november, december);
        assert_eq!(
            recipient_id(&november, "nov", "r-1"),
            recipient_id(&campaign_salt(&key, "nov"), "nov", "r-1")
        );
        assert_ne!(
            recipient_id(&november, "nov", "r-1"),
            recipient_id(&december, "dec", "r-1")
        );
    }

    #[test]
    fn hex_round_trip_and_redacted_debug() {
        let salt = Salt::random();
        assert_eq!(Salt::from_hex(&salt.to_hex()), Some(salt));
        assert_eq!(Salt::from_hex("zz"), None);
        assert_eq!(Salt::from_hex(&"g".repeat(64)), None);
        assert_eq!(format!("{salt:?}"), "Salt(<secret>)");
        assert_ne!(Salt::random(), Salt::random());
    }
}
