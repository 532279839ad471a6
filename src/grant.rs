//! Signed, expiring read grants for the dashboard: a shared link to one
//! site's dashboard (`beaconhouse share`), and the session a stats token or
//! such a link opens when staff sign in.
//!
//! Each grant has a kind, and every reader names the kind it accepts
//! ([`Signed::read`]: `Link::read`, `Session::read`): a link is exchanged
//! for a session at sign-in and is never a session itself (sent as the
//! session cookie, it is refused), and a session is never a link. A link is
//! `s.<hex site>.<expiry>.<hex HMAC>` (unchanged since links were first
//! issued, so they keep working); a session is
//! `<ts|ls>.<hex subject>.<opened, ms>.<expiry>.<hex HMAC>`, signed under its
//! own domain tag, so no link's signature is a session's. Readable by
//! anyone, forgeable by no one without its key.
//!
//! Signing out ends every session its holder opened until then
//! ([`SignOuts`]): a per-holder epoch, not a store of sessions.
//!
//! A shared link is signed with `reporting.share_key`, so changing that key
//! revokes every link at once. A session is signed with a key derived from
//! the server's `reporting.session_key` and the token that opened it
//! ([`token_session_key`]), so removing the token ends its sessions and
//! neither the token's digest nor the share key alone signs one; a session
//! opened from a link, with one derived from the session key and the share
//! key ([`link_session_key`]). Nothing is stored: any collector with the
//! same configuration accepts them.
//!
//! Owns: the format, signing and checking, as pure functions of their
//! inputs (the key and the time are passed in), and the rule that a
//! sign-out ends the sessions opened before it.
//! Must never: accept a grant whose signature, kind or expiry does not
//! check out, or compare signatures in variable time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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

/// What a session lets its holder read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    /// Whatever the stats token of this name may read.
    Token(String),
    /// One site's reports, from a shared link.
    Shared(String),
}

/// A link to one site's dashboard, for whoever holds it; accepted only at
/// sign-in, where it opens a [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub site: String,
    /// UTC seconds.
    pub expires: u64,
}

/// A dashboard session; accepted only as the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub holder: Holder,
    /// When it was opened, UTC milliseconds: a sign-out of its holder since
    /// then ends it ([`SignOuts`]).
    pub issued_ms: u64,
    /// UTC seconds.
    pub expires: u64,
}

/// The kinds of grant, each accepted on its own path only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Link,
    Session,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Link => "shared link",
            Kind::Session => "session",
        }
    }

    fn of_tag(tag: &str) -> Option<Kind> {
        match tag {
            "s" => Some(Kind::Link),
            "ts" | "ls" => Some(Kind::Session),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("the link or session is damaged; sign in again or ask for a new link")]
    Malformed,
    #[error("it is a {found}, not a {expected}; sign in with a token or open the link itself")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("it has expired; sign in again or ask for a new link")]
    Expired,
    #[error("it was signed out; sign in again")]
    SignedOut,
    #[error(
        "it is not valid here (revoked, or issued by another installation); ask for a new link"
    )]
    BadSignature,
}

/// What signing and reading a kind of grant needs of it.
pub trait Signed: Sized {
    const KIND: Kind;
    /// The domain tag its signature starts with: no two kinds sign the same
    /// bytes.
    const DOMAIN: &'static [u8];
    fn tag(&self) -> &'static str;
    fn subject(&self) -> &str;
    fn expires(&self) -> u64;
    /// The numbers written after the subject, the expiry last.
    fn numbers(&self) -> Vec<u64>;
    /// The grant a tag of this kind, a subject and its numbers make.
    fn from_parts(tag: &str, subject: String, numbers: &[u64]) -> Option<Self>;

    /// The grant as text, signed with `key`.
    fn sign(&self, key: &[u8]) -> String {
        let mut text = format!("{}.{}", self.tag(), hex::encode(self.subject()));
        for number in self.numbers() {
            text.push_str(&format!(".{number}"));
        }
        let signature = hex::encode(mac(self, key).finalize().into_bytes());
        format!("{text}.{signature}")
    }

    /// Reads a grant of this kind from text, refusing any other kind,
    /// without checking its signature: the caller picks the key by what it
    /// claims, then calls [`Unchecked::check`].
    fn read(text: &str) -> Result<Unchecked<Self>, GrantError> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        let (Some(&tag), Some(&subject), Some(&signature)) =
            (parts.first(), parts.get(1), parts.last())
        else {
            return Err(GrantError::Malformed);
        };
        let kind = Kind::of_tag(tag).ok_or(GrantError::Malformed)?;
        if kind != Self::KIND {
            return Err(GrantError::WrongKind {
                expected: Self::KIND.name(),
                found: kind.name(),
            });
        }
        if parts.len() < 4 || subject.len() > 2 * MAX_SUBJECT_BYTES {
            return Err(GrantError::Malformed);
        }
        let subject = hex::decode(subject)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(GrantError::Malformed)?;
        let numbers = parts[2..parts.len() - 1]
            .iter()
            .map(|n| n.parse())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| GrantError::Malformed)?;
        let grant = Self::from_parts(tag, subject, &numbers).ok_or(GrantError::Malformed)?;
        let mut mac = [0u8; 32];
        hex::decode_to_slice(signature, &mut mac).map_err(|_| GrantError::Malformed)?;
        Ok(Unchecked { grant, mac })
    }
}

impl Signed for Link {
    const KIND: Kind = Kind::Link;
    // The first grants' own tag, kept so that links issued before sessions
    // had a kind of their own still check out.
    const DOMAIN: &'static [u8] = b"beaconhouse/grant/v1";

    fn tag(&self) -> &'static str {
        "s"
    }

    fn subject(&self) -> &str {
        &self.site
    }

    fn expires(&self) -> u64 {
        self.expires
    }

    fn numbers(&self) -> Vec<u64> {
        vec![self.expires]
    }

    fn from_parts(_tag: &str, site: String, numbers: &[u64]) -> Option<Link> {
        match *numbers {
            [expires] => Some(Link { site, expires }),
            _ => None,
        }
    }
}

impl Signed for Session {
    const KIND: Kind = Kind::Session;
    const DOMAIN: &'static [u8] = b"beaconhouse/session/v2";

    fn tag(&self) -> &'static str {
        match self.holder {
            Holder::Token(_) => "ts",
            Holder::Shared(_) => "ls",
        }
    }

    fn subject(&self) -> &str {
        match &self.holder {
            Holder::Token(name) | Holder::Shared(name) => name,
        }
    }

    fn expires(&self) -> u64 {
        self.expires
    }

    fn numbers(&self) -> Vec<u64> {
        vec![self.issued_ms, self.expires]
    }

    fn from_parts(tag: &str, subject: String, numbers: &[u64]) -> Option<Session> {
        let holder = match tag {
            "ts" => Holder::Token(subject),
            "ls" => Holder::Shared(subject),
            _ => return None,
        };
        match *numbers {
            [issued_ms, expires] => Some(Session {
                holder,
                issued_ms,
                expires,
            }),
            _ => None,
        }
    }
}

/// Length-prefixed fields under the kind's domain tag: no two grants sign
/// the same bytes.
fn mac<G: Signed>(grant: &G, key: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(G::DOMAIN);
    for field in [grant.tag(), grant.subject()] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    for number in grant.numbers() {
        mac.update(&number.to_be_bytes());
    }
    mac
}

/// When each holder last signed out, UTC milliseconds: a session of that
/// holder opened then or before is over, on every collector that has heard
/// of it (`store::sign_outs` shares them through ClickHouse). Shared by every
/// clone.
#[derive(Debug, Clone, Default)]
pub struct SignOuts(Arc<RwLock<HashMap<Holder, u64>>>);

impl SignOuts {
    /// Whether `session` was opened before its holder's latest sign-out.
    pub fn ended(&self, session: &Session) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session.holder)
            .is_some_and(|&signed_out| session.issued_ms <= signed_out)
    }

    /// Notes a sign-out; an earlier one than already known changes nothing.
    pub fn record(&self, holder: &Holder, at_ms: u64) {
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        let latest = known.entry(holder.clone()).or_insert(at_ms);
        *latest = (*latest).max(at_ms);
    }
}

/// The key a token's sessions are signed with: the server's session key
/// (`reporting.session_key`) and the token (its name and digest). Whoever
/// sees the digest (`ApiToken`'s `Debug` shows it) still cannot sign a
/// session; removing or changing the token still ends its sessions.
pub fn token_session_key(server_key: &[u8], name: &str, token_sha256: &[u8; 32]) -> [u8; 32] {
    derive(
        server_key,
        b"beaconhouse/session-key/token/v1",
        &[name.as_bytes(), token_sha256],
    )
}

/// The key sessions opened from shared links are signed with: the server's
/// session key and the share key, so changing the share key ends them too.
pub fn link_session_key(server_key: &[u8], share_key: &[u8]) -> [u8; 32] {
    derive(server_key, b"beaconhouse/session-key/link/v1", &[share_key])
}

/// HMAC-SHA256 under `key` of a purpose and length-prefixed parts.
fn derive(key: &[u8], purpose: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(purpose);
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// A grant read from text, of the kind its reader accepts, not yet checked.
#[derive(Debug)]
pub struct Unchecked<G> {
    grant: G,
    mac: [u8; 32],
}

impl<G: Signed> Unchecked<G> {
    /// What the grant claims: what picks the key.
    pub fn claims(&self) -> &G {
        &self.grant
    }

    /// The grant, if `key` signed it and it has not expired at `now`.
    pub fn check(self, key: &[u8], now: u64) -> Result<G, GrantError> {
        mac(&self.grant, key)
            .verify_slice(&self.mac)
            .map_err(|_| GrantError::BadSignature)?;
        if now >= self.grant.expires() {
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

    fn link(expires: u64) -> Link {
        Link {
            site: "optimumabq.com".into(),
            expires,
        }
    }

    fn check<G: Signed>(text: &str, key: &[u8]) -> Result<G, GrantError> {
        G::read(text).and_then(|g| g.check(key, NOW))
    }

    fn reads_back<G: Signed + Clone + PartialEq + std::fmt::Debug>(grant: G) {
        let text = grant.sign(KEY);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
        let read = G::read(&text).unwrap();
        assert_eq!(read.claims(), &grant);
        assert_eq!(read.check(KEY, NOW), Ok(grant.clone()));
        let at_expiry = G::read(&text).unwrap().check(KEY, grant.expires());
        assert_eq!(at_expiry, Err(GrantError::Expired));
    }

    #[test]
    fn a_signed_grant_reads_back_until_it_expires() {
        reads_back(link(NOW + 60));
        reads_back(Session {
            holder: Holder::Token("marketing team".into()),
            issued_ms: NOW * 1000 + 999,
            expires: NOW + SESSION_SECONDS,
        });
        reads_back(Session {
            holder: Holder::Shared("optimumabq.com".into()),
            issued_ms: NOW * 1000,
            expires: NOW + 60,
        });
    }

    #[test]
    fn a_link_issued_before_kinds_still_checks_out_as_a_link() {
        // Signed by the first release, which had one grant format for all.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY).unwrap();
        mac.update(b"beaconhouse/grant/v1");
        for field in ["s", "optimumabq.com"] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.update(&(NOW + 60).to_be_bytes());
        let old = format!(
            "s.{}.{}.{}",
            hex::encode("optimumabq.com"),
            NOW + 60,
            hex::encode(mac.finalize().into_bytes())
        );
        assert_eq!(old, link(NOW + 60).sign(KEY));
        assert_eq!(check(&old, KEY), Ok(link(NOW + 60)));
    }

    #[test]
    fn each_path_accepts_its_own_kind_only() {
        let link = link(NOW + 60).sign(KEY);
        let session = Session {
            holder: Holder::Shared("optimumabq.com".into()),
            issued_ms: NOW * 1000,
            expires: NOW + 60,
        }
        .sign(KEY);
        let wrong = |expected: Kind, found: Kind| GrantError::WrongKind {
            expected: expected.name(),
            found: found.name(),
        };
        assert_eq!(
            check::<Session>(&link, KEY),
            Err(wrong(Kind::Session, Kind::Link))
        );
        assert_eq!(
            check::<Link>(&session, KEY),
            Err(wrong(Kind::Link, Kind::Session))
        );
        // Nor does renaming the kind make one of the other: their texts
        // differ in shape too.
        let as_session = link.replacen("s.", "ls.", 1);
        assert_eq!(
            check::<Session>(&as_session, KEY),
            Err(GrantError::Malformed)
        );
        let as_link = session.replacen("ls.", "s.", 1);
        assert_eq!(check::<Link>(&as_link, KEY), Err(GrantError::Malformed));
    }

    #[test]
    fn a_sign_out_ends_the_holders_sessions_opened_until_then_and_no_later_ones() {
        let session = |holder: &str, issued_ms: u64| Session {
            holder: Holder::Token(holder.into()),
            issued_ms,
            expires: NOW + 60,
        };
        let sign_outs = SignOuts::default();
        let at = NOW * 1000 + 500;
        assert!(!sign_outs.ended(&session("marketing", at)));
        sign_outs
            .clone()
            .record(&Holder::Token("marketing".into()), at);
        assert!(sign_outs.ended(&session("marketing", at - 400)));
        assert!(sign_outs.ended(&session("marketing", at)));
        assert!(
            !sign_outs.ended(&session("marketing", at + 1)),
            "signed in again a millisecond later"
        );
        assert!(!sign_outs.ended(&session("agency", at - 400)));
        let link = Session {
            holder: Holder::Shared("marketing".into()),
            ..session("marketing", at - 400)
        };
        assert!(
            !sign_outs.ended(&link),
            "a link's sessions are another holder"
        );
        sign_outs.record(&Holder::Token("marketing".into()), at - 1000);
        assert!(
            sign_outs.ended(&session("marketing", at)),
            "an older sign-out heard later changes nothing"
        );
    }

    #[test]
    fn session_keys_need_the_server_key_and_change_with_each_input() {
        let server = b"the-servers-session-key-0123456789abcdef";
        let other_server = b"another-servers-session-key-0123456789ab";
        let digest = [7u8; 32];
        let key = token_session_key(server, "marketing", &digest);
        assert_ne!(key, digest, "the digest is not the key");
        for other in [
            token_session_key(other_server, "marketing", &digest),
            token_session_key(server, "agency", &digest),
            token_session_key(server, "marketing", &[8u8; 32]),
            link_session_key(server, &digest),
        ] {
            assert_ne!(key, other);
        }
        let share_key = b"a-share-key-of-at-least-32-characters!";
        assert_ne!(
            link_session_key(server, share_key),
            link_session_key(server, b"a-rotated-share-key-of-32-characters!!")
        );
        assert_ne!(
            link_session_key(server, share_key),
            link_session_key(other_server, share_key)
        );
        assert_eq!(key, token_session_key(server, "marketing", &digest));
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
        let text = link(NOW + 60).sign(KEY);
        assert_eq!(
            check::<Link>(&text, b"another-key-after-rotation-0000000000"),
            Err(GrantError::BadSignature)
        );
        // Later expiry, other site, other holder: each breaks the signature.
        let later = link(NOW + 6000).sign(KEY);
        let (head, _) = later.rsplit_once('.').unwrap();
        let (_, signature) = text.rsplit_once('.').unwrap();
        assert_eq!(
            check::<Link>(&format!("{head}.{signature}"), KEY),
            Err(GrantError::BadSignature)
        );
        let other_site = text.replacen(&hex::encode("optimumabq.com"), &hex::encode("x.com"), 1);
        assert_eq!(
            check::<Link>(&other_site, KEY),
            Err(GrantError::BadSignature)
        );
        let shared_session = Session {
            holder: Holder::Shared("marketing".into()),
            issued_ms: NOW * 1000,
            expires: NOW + 60,
        }
        .sign(KEY);
        let as_token = shared_session.replacen("ls.", "ts.", 1);
        assert_eq!(
            check::<Session>(&as_token, KEY),
            Err(GrantError::BadSignature)
        );
        for garbage in [
            "",
            "s",
            "s.zz.1.00",
            "x.6f.1.00",
            "t.6f.1.00",
            "s.6f.-1.00",
            "s.6f.1.abc",
            &format!("{text}.extra"),
            &format!("s.{}.1.{}", "ab".repeat(300), "00".repeat(32)),
            &format!("s.ff.1.{}", "00".repeat(32)),
        ] {
            assert_eq!(
                check::<Link>(garbage, KEY),
                Err(GrantError::Malformed),
                "{garbage}"
            );
        }
    }
}
