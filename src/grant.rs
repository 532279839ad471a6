//! Signed, expiring read grants for the dashboard: the session a stats token
//! opens when staff sign in, and a shared link to one site's dashboard
//! (`beaconhouse share`).
//!
//! A grant is `<kind>.<hex subject>.<expiry>.<hex HMAC-SHA256>`, readable by
//! anyone and forgeable by no one without its key. A session is signed with
//! the digest of the token that opened it, so removing the token from the
//! configuration ends its sessions; a shared link is signed with
//! `reporting.share_key`, so changing that key revokes every link at once.
//! Nothing is stored: any collector with the same configuration accepts it.
//!
//! Owns: the format, signing and checking, as pure functions of their
//! inputs (the key and the time are passed in).
//! Must never: accept a grant whose signature, kind or expiry does not
//! check out, or compare signatures in variable time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Longest life of a staff session, in seconds: a working day. A session
/// opened from a shared link ends sooner if the link does.
pub const SESSION_SECONDS: u64 = 8 * 3600;

/// Longest subject (token name or site id) a grant carries.
const MAX_SUBJECT_BYTES: usize = 256;

/// Longest life of a shared link: a year, after which the link is asked
/// for again.
pub const MAX_LINK_SECONDS: u64 = 366 * 86_400;

/// A shared link's life as `beaconhouse share --expires` takes it: `30d`,
/// `12h` or `90m`, at most [`MAX_LINK_SECONDS`].
pub fn parse_lifetime(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let unit = match text.chars().last() {
        Some('d') => 86_400,
        Some('h') => 3_600,
        Some('m') => 60,
        _ => {
            return Err(format!(
                "{text:?} is not a duration; write it as 30d, 12h or 90m"
            ));
        }
    };
    let number: u64 = text[..text.len() - 1]
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write it as 30d, 12h or 90m"))?;
    match number.checked_mul(unit) {
        Some(seconds) if (1..=MAX_LINK_SECONDS).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "{text:?} is out of range; a shared link lasts from 1 minute to 366 days"
        )),
    }
}

/// What a grant lets its holder read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Whatever the stats token of this name may read.
    Token(String),
    /// One site's reports, from a shared link.
    Shared(String),
}

impl Holder {
    fn tag(&self) -> &'static str {
        match self {
            Holder::Token(_) => "t",
            Holder::Shared(_) => "s",
        }
    }

    fn subject(&self) -> &str {
        match self {
            Holder::Token(name) | Holder::Shared(name) => name,
        }
    }
}

/// A grant: who may read, until when (UTC seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub holder: Holder,
    pub expires: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("the link or session is damaged; sign in again or ask for a new link")]
    Malformed,
    #[error("it has expired; sign in again or ask for a new link")]
    Expired,
    #[error(
        "it is not valid here (revoked, or issued by another installation); ask for a new link"
    )]
    BadSignature,
}

impl Grant {
    /// The grant as text, signed with `key`.
    pub fn sign(&self, key: &[u8]) -> String {
        let subject = hex::encode(self.holder.subject());
        let signature = hex::encode(self.mac(key).finalize().into_bytes());
        format!(
            "{}.{subject}.{}.{signature}",
            self.holder.tag(),
            self.expires
        )
    }

    /// Reads a grant's text without checking it: the caller picks the key by
    /// the holder, then calls [`Unchecked::check`].
    pub fn read(text: &str) -> Result<Unchecked, GrantError> {
        let mut parts = text.trim().split('.');
        let (Some(tag), Some(subject), Some(expires), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(GrantError::Malformed);
        };
        if subject.len() > 2 * MAX_SUBJECT_BYTES {
            return Err(GrantError::Malformed);
        }
        let subject = hex::decode(subject)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(GrantError::Malformed)?;
        let holder = match tag {
            "t" => Holder::Token(subject),
            "s" => Holder::Shared(subject),
            _ => return Err(GrantError::Malformed),
        };
        let expires = expires.parse().map_err(|_| GrantError::Malformed)?;
        let mut mac = [0u8; 32];
        hex::decode_to_slice(signature, &mut mac).map_err(|_| GrantError::Malformed)?;
        Ok(Unchecked {
            grant: Grant { holder, expires },
            mac,
        })
    }

    fn mac(&self, key: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
        // Length-prefixed fields under a domain tag: no two grants sign the
        // same bytes.
        mac.update(b"beaconhouse/grant/v1");
        for field in [self.holder.tag(), self.holder.subject()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.update(&self.expires.to_be_bytes());
        mac
    }
}

/// A grant read from text, not yet checked.
#[derive(Debug)]
pub struct Unchecked {
    grant: Grant,
    mac: [u8; 32],
}

impl Unchecked {
    /// Who the grant claims to be for: what picks the key.
    pub fn holder(&self) -> &Holder {
        &self.grant.holder
    }

    /// The grant, if `key` signed it and it has not expired at `now`.
    pub fn check(self, key: &[u8], now: u64) -> Result<Grant, GrantError> {
        self.grant
            .mac(key)
            .verify_slice(&self.mac)
            .map_err(|_| GrantError::BadSignature)?;
        if now >= self.grant.expires {
            return Err(GrantError::Expired);
        }
        Ok(self.grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a-share-key-of-at-least-32-characters!";
    const NOW: u64 = 1_764_000_000;

    fn shared(expires: u64) -> Grant {
        Grant {
            holder: Holder::Shared("optimumabq.com".into()),
            expires,
        }
    }

    #[test]
    fn a_signed_grant_reads_back_until_it_expires() {
        for grant in [
            shared(NOW + 60),
            Grant {
                holder: Holder::Token("marketing team".into()),
                expires: NOW + SESSION_SECONDS,
            },
        ] {
            let text = grant.sign(KEY);
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
            let read = Grant::read(&text).unwrap();
            assert_eq!(read.holder(), &grant.holder);
            assert_eq!(read.check(KEY, NOW), Ok(grant.clone()));
            let at_expiry = Grant::read(&text).unwrap().check(KEY, grant.expires);
            assert_eq!(at_expiry, Err(GrantError::Expired));
        }
    }

    #[test]
    fn link_lifetimes_are_minutes_hours_or_days_up_to_a_year() {
        assert_eq!(parse_lifetime("30d"), Ok(30 * 86_400));
        assert_eq!(parse_lifetime("12h"), Ok(12 * 3_600));
        assert_eq!(parse_lifetime("90m"), Ok(90 * 60));
        assert_eq!(parse_lifetime("366d"), Ok(MAX_LINK_SECONDS));
        for bad in [
            "",
            "d",
            "30",
            "30x",
            "-1d",
            "0d",
            "367d",
            "99999999999999999999d",
            "1.5d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn another_key_a_changed_field_or_garbage_is_refused() {
        let text = shared(NOW + 60).sign(KEY);
        let check = |text: &str, key: &[u8]| Grant::read(text).and_then(|g| g.check(key, NOW));
        assert_eq!(
            check(&text, b"another-key-after-rotation-0000000000"),
            Err(GrantError::BadSignature)
        );
        // Later expiry, other site, other kind: each breaks the signature.
        let later = shared(NOW + 6000).sign(KEY);
        let (head, _) = later.rsplit_once('.').unwrap();
        let (_, signature) = text.rsplit_once('.').unwrap();
        assert_eq!(
            check(&format!("{head}.{signature}"), KEY),
            Err(GrantError::BadSignature)
        );
        let other_site = text.replacen(&hex::encode("optimumabq.com"), &hex::encode("x.com"), 1);
        assert_eq!(check(&other_site, KEY), Err(GrantError::BadSignature));
        let as_token = format!("t{}", &text[1..]);
        assert_eq!(check(&as_token, KEY), Err(GrantError::BadSignature));
        for garbage in [
            "",
            "s",
            "s.zz.1.00",
            "x.6f.1.00",
            "s.6f.-1.00",
            "s.6f.1.abc",
            &format!("{text}.extra"),
            &format!("s.{}.1.{}", "ab".repeat(300), "00".repeat(32)),
            &format!("s.ff.1.{}", "00".repeat(32)),
        ] {
            assert_eq!(check(garbage, KEY), Err(GrantError::Malformed), "{garbage}");
        }
    }
}
