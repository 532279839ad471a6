//! Email campaign names, and whether an open may name one: anyone can fetch
//! `/o.gif`, so a name is taken only when it is a plain name (letters,
//! digits, `-`, `_`, `.`; at most [`MAX_CAMPAIGN_CHARS`]), then scrubbed of
//! personal data as a path segment is (`scrub::value`: an e-mail or an id
//! in it becomes `:email`, `:id`); when `email.campaigns` lists names or
//! prefixes, only those; and when the open carries a signature, or
//! `email.require_signature` asks for one, only with a signature the mail
//! tool made with `email.signing_key` over the campaign and the recipient
//! token ([`signature`]). A click (`/l`) is admitted the same way, its
//! signature made over the campaign, the recipient token and the link's
//! destination ([`link_signature`]), which also vouches for the
//! destination (`enrich::link`).
//!
//! Owns: these rules and the signature's formula, as pure functions.
//! Must never: keep or log a recipient token, or compare a signature in
//! variable time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::scrub;
use crate::outcome::DropReason;

/// Longest campaign name taken.
pub const MAX_CAMPAIGN_CHARS: usize = 100;

/// Whether `name` is a plain campaign name: 1 to [`MAX_CAMPAIGN_CHARS`]
/// letters, digits, `-`, `_` and `.`.
pub fn is_plain(name: &str) -> bool {
    (1..=MAX_CAMPAIGN_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A name `email.campaigns` allows: exactly, or every name it starts
/// (written with a trailing `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    Name(String),
    Prefix(String),
}

impl Allowed {
    /// An entry of `email.campaigns`: a plain name, or one followed by `*`.
    pub fn parse(entry: &str) -> Option<Allowed> {
        match entry.strip_suffix('*') {
            Some(prefix) if is_plain(prefix) => Some(Allowed::Prefix(prefix.to_string())),
            Some(_) => None,
            None => is_plain(entry).then(|| Allowed::Name(entry.to_string())),
        }
    }

    fn allows(&self, name: &str) -> bool {
        match self {
            Allowed::Name(allowed) => name == allowed,
            Allowed::Prefix(prefix) => name.starts_with(prefix.as_str()),
        }
    }
}

/// The key of signed open pixels (`email.signing_key`). Its `Debug` output
/// never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(String);

impl SigningKey {
    pub fn new(key: String) -> SigningKey {
        SigningKey(key)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<secret>)")
    }
}

/// The `sig` of an open pixel: lowercase hex of HMAC-SHA256 under the key
/// (its UTF-8 bytes) of the campaign, a line feed and the recipient token,
/// both exactly as the URL's `c` and `rid` carry them once decoded. What a
/// mail tool computes, e.g. `printf '%s\n%s' "$c" "$rid" | openssl dgst
/// -sha256 -hmac "$key"`.
pub fn signature(key: &SigningKey, campaign: &str, recipient: &str) -> String {
    hex::encode(mac(key, campaign, recipient).finalize().into_bytes())
}

fn mac(key: &SigningKey, campaign: &str, recipient: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.0.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(campaign.as_bytes());
    mac.update(b"\n");
    mac.update(recipient.as_bytes());
    mac
}

/// What a link's signature begins with: `/` is in no campaign name, so no
/// open pixel's signature is ever a link's.
const LINK_DOMAIN: &[u8] = b"/l\n";

/// The `sig` of an email link (`/l`): lowercase hex of HMAC-SHA256 under
/// the key of `/l`, a line feed, the campaign, a line feed, the recipient
/// token, a line feed and the destination `u`, each exactly as the URL
/// carries it once decoded (`u` empty for the honeypot link). What a mail
/// tool computes, e.g. `printf '/l\n%s\n%s\n%s' "$c" "$rid" "$u" | openssl
/// dgst -sha256 -hmac "$key"`.
pub fn link_signature(key: &SigningKey, campaign: &str, recipient: &str, url: &str) -> String {
    hex::encode(
        link_mac(key, campaign, recipient, url)
            .finalize()
            .into_bytes(),
    )
}

fn link_mac(key: &SigningKey, campaign: &str, recipient: &str, url: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.0.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(LINK_DOMAIN);
    mac.update(campaign.as_bytes());
    mac.update(b"\n");
    mac.update(recipient.as_bytes());
    mac.update(b"\n");
    mac.update(url.as_bytes());
    mac
}

/// Whether `sig` (hex, either case) is `mac`'s, compared in constant time.
fn verifies(sig: &str, mac: Hmac<Sha256>) -> bool {
    let mut presented = [0u8; 32];
    hex::decode_to_slice(sig.trim(), &mut presented).is_ok() && mac.verify_slice(&presented).is_ok()
}

/// `text` as a query string value.
fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `base` and `path` with the campaign and the recipient (`c`, `rid`): as
/// given when it is the mail tool's merge tag (`placeholder`), else encoded.
fn addressed(base: &str, path: &str, campaign: &str, recipient: &str, placeholder: bool) -> String {
    let recipient = if placeholder {
        recipient.to_string()
    } else {
        encoded(recipient)
    };
    format!("{base}{path}?c={}&rid={recipient}", encoded(campaign))
}

/// Which opens are taken, from `[email]`.
#[derive(Debug, Clone, Default)]
pub struct CampaignRules {
    /// Empty: any plain name.
    pub allowed: Vec<Allowed>,
    pub signing_key: Option<SigningKey>,
    /// An open without a valid `sig` is not counted.
    pub require_signature: bool,
}

impl CampaignRules {
    /// Whether `email.campaigns` allows `name` (an empty list allows all).
    pub fn lists(&self, name: &str) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|a| a.allows(name))
    }

    /// An open pixel's URL at `base` (the collector's address) for
    /// `campaign` and `recipient`, signed when a key is configured: what
    /// `beaconhouse email-url` prints. `recipient` goes in as it is when it
    /// is the mail tool's merge tag (`placeholder`), which the tool replaces,
    /// and then no signature can be made.
    pub fn url(&self, base: &str, campaign: &str, recipient: &str, placeholder: bool) -> String {
        let mut url = addressed(base, "/o.gif", campaign, recipient, placeholder);
        if let (Some(key), false) = (&self.signing_key, placeholder) {
            url.push_str("&sig=");
            url.push_str(&signature(key, campaign, recipient));
        }
        url
    }

    /// The URL of an email link at `base` (the collector's address) for
    /// `campaign` and `recipient` that leads to `destination`, or the
    /// honeypot link (`None`), signed when a key is configured: what
    /// `beaconhouse email-url --link` and `--honeypot` print. As in
    /// [`CampaignRules::url`], a `placeholder` recipient goes in as it is
    /// and no signature can be made.
    pub fn link_url(
        &self,
        base: &str,
        campaign: &str,
        recipient: &str,
        placeholder: bool,
        destination: Option<&str>,
    ) -> String {
        let mut url = addressed(base, "/l", campaign, recipient, placeholder);
        match destination {
            Some(destination) => {
                url.push_str("&u=");
                url.push_str(&encoded(destination));
            }
            None => url.push_str("&h=1"),
        }
        if let (Some(key), false) = (&self.signing_key, placeholder) {
            url.push_str("&sig=");
            url.push_str(&link_signature(
                key,
                campaign,
                recipient,
                destination.unwrap_or(""),
            ));
        }
        url
    }

    /// The campaign name to store for an open of `campaign` by `recipient`
    /// with signature `sig`, or why the open is not counted: `Invalid` for
    /// a name that is not plain, `Unverified` for one not allowed, a missing
    /// signature that is required, or a wrong one.
    pub fn admit(
        &self,
        campaign: &str,
        recipient: &str,
        sig: Option<&str>,
    ) -> Result<String, DropReason> {
        self.admit_signed(campaign, sig, |key| mac(key, campaign, recipient))
    }

    /// As [`CampaignRules::admit`], for a click by `recipient` on a link of
    /// `campaign` to `url` (empty for the honeypot), signed with
    /// [`link_signature`].
    pub fn admit_click(
        &self,
        campaign: &str,
        recipient: &str,
        url: &str,
        sig: Option<&str>,
    ) -> Result<String, DropReason> {
        self.admit_signed(campaign, sig, |key| link_mac(key, campaign, recipient, url))
    }

    /// Whether `sig` is the mail tool's signature of a link to `url`: what
    /// vouches for a destination whose host is not allowed.
    pub fn signs_link(
        &self,
        campaign: &str,
        recipient: &str,
        url: &str,
        sig: Option<&str>,
    ) -> bool {
        match (&self.signing_key, sig) {
            (Some(key), Some(sig)) => verifies(sig, link_mac(key, campaign, recipient, url)),
            _ => false,
        }
    }

    fn admit_signed(
        &self,
        campaign: &str,
        sig: Option<&str>,
        mac: impl FnOnce(&SigningKey) -> Hmac<Sha256>,
    ) -> Result<String, DropReason> {
        if !is_plain(campaign) {
            return Err(DropReason::Invalid);
        }
        if !self.lists(campaign) {
            return Err(DropReason::Unverified);
        }
        let signed = match (sig, &self.signing_key) {
            (Some(sig), Some(key)) => verifies(sig, mac(key)),
            // A signature no key can check says nothing either way.
            (Some(_), None) | (None, _) => !self.require_signature,
        };
        if !signed {
            return Err(DropReason::Unverified);
        }
        Ok(scrub::value(campaign))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new("email-signing-key-0123456789abcdef0123".into())
    }

    #[test]
    fn a_name_is_plain_bounded_and_scrubbed() {
        let any = CampaignRules::default();
        assert_eq!(
            any.admit("2026-11-newsletter", "r", None),
            Ok("2026-11-newsletter".into())
        );
        assert_eq!(
            any.admit("welcome_v2.1", "r", None),
            Ok("welcome_v2.1".into())
        );
        assert_eq!(any.admit("u-4155550123", "r", None), Ok(":id".into()));
        assert_eq!(
            any.admit("3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab", "r", None),
            Ok(":uuid".into())
        );
        let longest = "c".repeat(MAX_CAMPAIGN_CHARS);
        assert_eq!(any.admit(&longest, "r", None), Ok(longest.clone()));
        for bad in [
            "",
            "carol@example.com",
            "nov newsletter",
            "nov/newsletter",
            "nov%20x",
            "<script>",
            "névsletter",
            "a\u{0}b",
            &format!("{longest}c"),
        ] {
            assert_eq!(
                any.admit(bad, "r", None),
                Err(DropReason::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_list_allows_its_names_and_prefixes_only() {
        let entries = ["welcome", "2026-*"];
        let rules = CampaignRules {
            allowed: entries.iter().map(|e| Allowed::parse(e).unwrap()).collect(),
            ..CampaignRules::default()
        };
        for name in ["welcome", "2026-", "2026-11-newsletter"] {
            assert!(rules.admit(name, "r", None).is_ok(), "{name}");
        }
        for name in ["welcome2", "Welcome", "2025-11", "spam"] {
            assert_eq!(
                rules.admit(name, "r", None),
                Err(DropReason::Unverified),
                "{name}"
            );
        }
        for bad in ["", "*", "a b*", "a*b", "we*come", "x@y"] {
            assert_eq!(Allowed::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_link_signature_covers_the_campaign_the_recipient_and_the_destination() {
        let url = "https://optimumabq.com/tour?utm_source=nov";
        let sig = link_signature(&key(), "welcome", "r-1", url);
        // The documented formula: HMAC-SHA256(key, "/l\n" campaign "\n"
        // recipient "\n" destination).
        let mut expected =
            <Hmac<Sha256> as KeyInit>::new_from_slice(b"email-signing-key-0123456789abcdef0123")
                .unwrap();
        expected.update(b"/l\nwelcome\nr-1\nhttps://optimumabq.com/tour?utm_source=nov");
        assert_eq!(sig, hex::encode(expected.finalize().into_bytes()));
        assert_ne!(sig, signature(&key(), "welcome", "r-1"));
        let rules = CampaignRules {
            signing_key: Some(key()),
            require_signature: true,
            ..CampaignRules::default()
        };
        assert!(rules.signs_link("welcome", "r-1", url, Some(&sig)));
        assert!(rules.signs_link("welcome", "r-1", url, Some(&sig.to_uppercase())));
        assert_eq!(
            rules.admit_click("welcome", "r-1", url, Some(&sig)),
            Ok("welcome".into())
        );
        for (campaign, recipient, to) in [
            ("welcome", "r-1", "https://evil.example/"),
            ("welcome", "r-2", url),
            ("welcome2", "r-1", url),
        ] {
            assert!(!rules.signs_link(campaign, recipient, to, Some(&sig)));
            assert_eq!(
                rules.admit_click(campaign, recipient, to, Some(&sig)),
                Err(DropReason::Unverified)
            );
        }
        // An open pixel's signature signs no link, and a link's no open.
        let open = signature(&key(), "welcome", "r-1");
        assert!(!rules.signs_link("welcome", "r-1", "", Some(&open)));
        assert_eq!(
            rules.admit(
                "welcome",
                "r-1",
                Some(&link_signature(&key(), "welcome", "r-1", ""))
            ),
            Err(DropReason::Unverified)
        );
        assert_eq!(
            rules.admit_click("welcome", "r-1", url, None),
            Err(DropReason::Unverified),
            "required"
        );
        assert!(!CampaignRules::default().signs_link("welcome", "r-1", url, Some(&sig)));

        assert_eq!(
            rules.link_url("https://stats.example", "welcome", "r 1", false, Some(url)),
            format!(
                "https://stats.example/l?c=welcome&rid=r+1&u=https%3A%2F%2Foptimumabq.com%2Ftour%3Futm_source%3Dnov&sig={}",
                link_signature(&key(), "welcome", "r 1", url)
            )
        );
        assert_eq!(
            rules.link_url("https://stats.example", "welcome", "r-1", false, None),
            format!(
                "https://stats.example/l?c=welcome&rid=r-1&h=1&sig={}",
                link_signature(&key(), "welcome", "r-1", "")
            )
        );
        assert_eq!(
            rules.link_url(
                "https://stats.example",
                "welcome",
                "{{ .Subscriber.UUID }}",
                true,
                None
            ),
            "https://stats.example/l?c=welcome&rid={{ .Subscriber.UUID }}&h=1"
        );
    }

    #[test]
    fn a_signature_covers_the_campaign_and_the_recipient() {
        let sig = signature(&key(), "welcome", "r-1");
        assert_eq!(sig.len(), 64);
        assert!(
            sig.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        // The documented formula: HMAC-SHA256(key, campaign "\n" recipient).
        let mut expected =
            <Hmac<Sha256> as KeyInit>::new_from_slice(b"email-signing-key-0123456789abcdef0123")
                .unwrap();
        expected.update(b"welcome\nr-1");
        assert_eq!(sig, hex::encode(expected.finalize().into_bytes()));

        let optional = CampaignRules {
            signing_key: Some(key()),
            ..CampaignRules::default()
        };
        let required = CampaignRules {
            require_signature: true,
            ..optional.clone()
        };
        for rules in [&optional, &required] {
            assert_eq!(
                rules.admit("welcome", "r-1", Some(&sig)),
                Ok("welcome".into())
            );
            assert_eq!(
                rules.admit("welcome", "r-1", Some(&sig.to_uppercase())),
                Ok("welcome".into()),
                "hex in either case"
            );
            for (campaign, recipient, sig) in [
                ("welcome", "r-2", sig.as_str()),
                ("welcome2", "r-1", &sig),
                ("welcome", "r-1", "00"),
                ("welcome", "r-1", "not hex"),
                ("welcome", "r-1", &"0".repeat(64)),
            ] {
                assert_eq!(
                    rules.admit(campaign, recipient, Some(sig)),
                    Err(DropReason::Unverified),
                    "{campaign} {recipient} {sig}"
                );
            }
        }
        assert_eq!(optional.admit("welcome", "r-1", None), Ok("welcome".into()));
        assert_eq!(
            required.admit("welcome", "r-1", None),
            Err(DropReason::Unverified)
        );
        assert_eq!(
            format!("{:?}", key()),
            "SigningKey(<secret>)",
            "the key never shows"
        );
    }
}
