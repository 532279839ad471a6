//! Who is reading reports, and what they may read: a stats token presented
//! as `Authorization: Bearer`, a dashboard session cookie opened with such a
//! token, or a session opened from a shared link to one site.
//!
//! Owns: finding the reader of a request (tokens compared in constant time,
//! grants checked by `crate::grant`), and whether that reader may read a
//! site or a campaign.
//! Must never: let in a request without a valid credential, tell a reader
//! whether a site it may not read exists, or log a token or a grant.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use actix_web::http::header;
use subtle::ConstantTimeEq;

use crate::config::{Access, ApiToken, ReportingConfig, SessionKey, ShareKey, Site};
use crate::grant::{self, GrantError, Holder, Link, Session, SignOuts, Signed};
use crate::report::request::Subject;

/// The dashboard's session cookie. The `__Host-` prefix makes browsers take
/// it only when set by this host over HTTPS with `Path=/` and no `Domain`, so
/// a page on a sibling subdomain cannot plant one for this host.
pub const SESSION_COOKIE: &str = "__Host-beaconhouse_session";

/// What access decisions are made from.
pub struct Readers {
    tokens: Vec<ApiToken>,
    share_key: Option<ShareKey>,
    /// What every session's key is derived from.
    session_key: SessionKey,
    /// Who signed out when: their earlier sessions are over.
    sign_outs: SignOuts,
    /// Configured sites by id: a report on another site is a 404; the
    /// dashboard describes each (time zone, goals, funnels, properties).
    sites: BTreeMap<String, Site>,
}

/// Who is reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader<'r> {
    Token(&'r ApiToken),
    /// A session opened from a shared link: this site's reports only.
    Shared(String),
}

/// Whose failed attempts a client's attempt counts among, for
/// `http::throttle`: a sign-in names the token it tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A dashboard sign-in naming this configured token.
    Token(&'a str),
    /// Everything else: bearer tokens, shared links, unknown names.
    Other,
}

/// Why a request is not let in, or not let at what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No credential, or one that is not valid: 401.
    Unauthorized(String),
    /// A valid reader asking for what it may not read: 403.
    Forbidden(String),
    /// A reader asking for a site that is not configured: 404.
    NotFound(String),
    /// A client that failed to authenticate too often, refused before its
    /// credential is checked (`http::throttle`): 429, try again in
    /// `retry_after` seconds.
    Throttled { retry_after: u64 },
}

impl Readers {
    /// `session_key`: `reporting.session_key`, or one drawn at start;
    /// `sign_outs`: kept current by `store::sign_outs`.
    pub fn new(
        reporting: &ReportingConfig,
        session_key: SessionKey,
        sign_outs: SignOuts,
        sites: &std::collections::HashMap<String, Site>,
    ) -> Readers {
        Readers {
            tokens: reporting.tokens.clone(),
            share_key: reporting.share_key.clone(),
            session_key,
            sign_outs,
            sites: sites
                .values()
                .map(|site| (site.id.clone(), site.clone()))
                .collect(),
        }
    }

    /// The configured sites, in id order.
    pub fn sites(&self) -> impl Iterator<Item = &Site> {
        self.sites.values()
    }

    /// The time zone a site's reports use unless a request names one.
    pub fn time_zone(&self, site: &str) -> Option<&str> {
        self.sites.get(site).map(|site| site.time_zone.as_str())
    }

    /// The reader of a request: its bearer token if it sends one, else its
    /// session cookie.
    pub fn of_request(&self, request: &HttpRequest, now: u64) -> Result<Reader<'_>, Denied> {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match (authorization, session_cookie(request)) {
            (Some(authorization), _) => self.bearer(authorization),
            (None, Some(cookie)) => self.session(cookie, now).map(|(reader, _)| reader),
            (None, None) => Err(Denied::Unauthorized(
                "send an API token from the configuration as `Authorization: Bearer <token>`, or sign in to the dashboard".into(),
            )),
        }
    }

    /// The token of an `Authorization: Bearer` header, checked against
    /// every configured token without stopping at the first match, so the
    /// time taken says nothing about how close a guess was.
    pub fn bearer(&self, authorization: &str) -> Result<Reader<'_>, Denied> {
        let presented = authorization
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Denied::Unauthorized(
                    "send an API token from the configuration as `Authorization: Bearer <token>`"
                        .into(),
                )
            })?;
        self.token(presented, None).map(Reader::Token)
    }

    /// The configured token `presented` is, among those named `name` when
    /// a name is given (a dashboard sign-in may name its token).
    pub fn token(&self, presented: &str, name: Option<&str>) -> Result<&ApiToken, Denied> {
        let digest = ApiToken::digest(presented);
        let mut found = None;
        for token in self
            .tokens
            .iter()
            .filter(|token| name.is_none_or(|name| token.name == name))
        {
            if bool::from(token.sha256.ct_eq(&digest)) {
                found = Some(token);
            }
        }
        found.ok_or_else(|| {
            Denied::Unauthorized(match name {
                Some(_) => "the token name or the token is not valid".into(),
                None => "the API token is not valid".into(),
            })
        })
    }

    /// Whose failures a dashboard sign-in counts among (`http::throttle`):
    /// its token name's when a configured token has that name, so a guesser
    /// slows only the name it guesses at.
    pub fn throttle_scope<'n>(&self, name: Option<&'n str>) -> Scope<'n> {
        match name {
            Some(name) if self.tokens.iter().any(|token| token.name == name) => Scope::Token(name),
            _ => Scope::Other,
        }
    }

    /// The reader of a session grant (the dashboard's cookie), and the
    /// session; a shared link sent as the cookie is refused, and so is a
    /// session its holder has signed out of since.
    pub fn session(&self, text: &str, now: u64) -> Result<(Reader<'_>, Session), Denied> {
        let refused = |e: GrantError| Denied::Unauthorized(format!("the session ended: {e}"));
        let unchecked = Session::read(text).map_err(refused)?;
        let (reader, key) = match &unchecked.claims().holder {
            Holder::Token(name) => {
                let token = self
                    .tokens
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| refused(GrantError::BadSignature))?;
                (Reader::Token(token), self.token_session_key(token))
            }
            Holder::Shared(site) => (Reader::Shared(site.clone()), self.link_session_key()?),
        };
        let session = unchecked.check(&key, now).map_err(refused)?;
        if self.sign_outs.ended(&session) {
            return Err(refused(GrantError::SignedOut));
        }
        Ok((reader, session))
    }

    /// A session's cookie value: `holder` may read from `issued_ms` until
    /// `expires`.
    pub fn open_session(
        &self,
        holder: Holder,
        issued_ms: u64,
        expires: u64,
    ) -> Result<String, Denied> {
        let key = match &holder {
            Holder::Token(name) => {
                let token = self
                    .tokens
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| Denied::Unauthorized("the API token is not valid".into()))?;
                self.token_session_key(token)
            }
            Holder::Shared(_) => self.link_session_key()?,
        };
        Ok(Session {
            holder,
            issued_ms,
            expires,
        }
        .sign(&key))
    }

    fn token_session_key(&self, token: &ApiToken) -> [u8; 32] {
        grant::token_session_key(self.session_key.as_bytes(), &token.name, &token.sha256)
    }

    fn link_session_key(&self) -> Result<[u8; 32], Denied> {
        Ok(grant::link_session_key(
            self.session_key.as_bytes(),
            self.share_key()?,
        ))
    }

    /// Checks a shared link's grant, as `beaconhouse share` printed it (a
    /// session is refused).
    pub fn shared_link(&self, text: &str, now: u64) -> Result<Link, Denied> {
        let refused =
            |e: GrantError| Denied::Unauthorized(format!("this shared link cannot be used: {e}"));
        let unchecked = Link::read(text).map_err(refused)?;
        unchecked.check(self.share_key()?, now).map_err(refused)
    }

    /// The key of shared links; without one, no shared link is valid.
    fn share_key(&self) -> Result<&[u8], Denied> {
        self.share_key
            .as_ref()
            .map(ShareKey::as_bytes)
            .ok_or_else(|| {
                Denied::Unauthorized(
                "shared links are turned off here (the operator has not set `reporting.share_key`)"
                    .into(),
            )
            })
    }

    /// Whether `reader` may read `subject`, and (for a site) whether it
    /// exists; a reader that may not read a site learns nothing of whether
    /// it exists.
    pub fn may_read(&self, reader: &Reader, subject: Subject) -> Result<(), Denied> {
        match subject {
            Subject::Site(site) => {
                if !reader.may_read_site(site) {
                    return Err(Denied::Forbidden(format!(
                        "{} may not read site {site:?}",
                        reader.describe()
                    )));
                }
                if !self.sites.contains_key(site) {
                    return Err(Denied::NotFound(format!("no site {site:?} is configured")));
                }
            }
            Subject::Campaign(campaign) => {
                if !reader.may_read_campaign(campaign) {
                    return Err(Denied::Forbidden(format!(
                        "{} may not read campaign {campaign:?}",
                        reader.describe()
                    )));
                }
            }
            Subject::Campaigns => {
                if let Reader::Shared(_) = reader {
                    return Err(Denied::Forbidden(
                        "a shared link shows one site's reports, not email campaigns".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Reader<'_> {
    pub fn may_read_site(&self, site: &str) -> bool {
        match self {
            Reader::Token(token) => token.sites.allows(site),
            Reader::Shared(shared) => shared == site,
        }
    }

    pub fn may_read_campaign(&self, campaign: &str) -> bool {
        self.readable_campaigns().allows(campaign)
    }

    /// The campaigns the reader may read, to take along where the reader
    /// cannot go (the reports' runtime).
    pub fn readable_campaigns(&self) -> Access {
        match self {
            Reader::Token(token) => token.campaigns.clone(),
            Reader::Shared(_) => Access::Only(Vec::new()),
        }
    }

    /// The reader as messages and the dashboard name it.
    pub fn describe(&self) -> String {
        match self {
            Reader::Token(token) => format!("the token {:?}", token.name),
            Reader::Shared(site) => format!("a shared link to {site:?}"),
        }
    }
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::SESSION_SECONDS;
    use actix_web::test::TestRequest;

    const NOW: u64 = 1_764_000_000;
    /// When the tests' sessions were opened: a minute before `NOW`.
    const OPENED_MS: u64 = (NOW - 60) * 1000;
    const MARKETING: &str = "a-very-long-secret-token-of-marketing";
    const AGENCY: &str = "another-long-secret-token-for-agency";
    const SHARE_KEY: &str = "a-share-key-that-is-long-enough-0123";
    const SESSION_KEY: &str = "the-servers-session-key-0123456789abc";

    fn token(name: &str, secret: &str) -> ApiToken {
        ApiToken {
            name: name.into(),
            sha256: ApiToken::digest(secret),
            sites: Access::Only(vec!["optimumabq.com".into()]),
            campaigns: Access::All,
        }
    }

    fn configured(share_key: Option<&str>) -> Readers {
        Readers {
            tokens: vec![
                token("marketing", MARKETING),
                ApiToken {
                    campaigns: Access::Only(vec!["dec-newsletter".into()]),
                    ..token("agency", AGENCY)
                },
            ],
            share_key: share_key.map(|k| ShareKey::new(k.into())),
            session_key: SessionKey::new(SESSION_KEY.into()),
            sign_outs: SignOuts::default(),
            sites: [Site {
                id: "optimumabq.com".into(),
                hostnames: vec!["optimumabq.com".into()],
                path_patterns: Vec::new(),
                time_zone: "America/Denver".into(),
                props: Vec::new(),
                conversions: Default::default(),
            }]
            .into_iter()
            .map(|site| (site.id.clone(), site))
            .collect(),
        }
    }

    fn unauthorized<T: std::fmt::Debug>(result: Result<T, Denied>) -> bool {
        matches!(result, Err(Denied::Unauthorized(_)))
    }

    #[test]
    fn only_a_configured_bearer_token_is_let_in() {
        let readers = configured(None);
        let found = readers.bearer(&format!("Bearer {AGENCY}")).unwrap();
        assert_eq!(found.describe(), "the token \"agency\"");
        for bad in [
            "",
            "Bearer ",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            MARKETING,
            "Bearer a-very-long-secret-token-of-marketin",
            "Bearer a-very-long-secret-token-of-marketingX",
        ] {
            assert!(unauthorized(readers.bearer(bad)), "{bad:?}");
        }
        let none = Readers {
            tokens: vec![],
            ..readers
        };
        assert!(unauthorized(none.bearer("Bearer anything-at-all")));
    }

    #[test]
    fn a_reader_reads_only_its_sites_and_campaigns_and_learns_of_sites_only_then() {
        let readers = configured(Some(SHARE_KEY));
        let marketing = Reader::Token(&readers.tokens[0]);
        let agency = Reader::Token(&readers.tokens[1]);
        let shared = Reader::Shared("optimumabq.com".into());
        assert_eq!(
            readers.may_read(&marketing, Subject::Site("optimumabq.com")),
            Ok(())
        );
        assert_eq!(
            readers.may_read(&shared, Subject::Site("optimumabq.com")),
            Ok(())
        );
        for reader in [&marketing, &shared] {
            assert!(matches!(
                readers.may_read(reader, Subject::Site("elsewhere.example")),
                Err(Denied::Forbidden(_))
            ));
        }
        let everything = Reader::Token(&ApiToken {
            sites: Access::All,
            ..token("all", MARKETING)
        });
        assert!(matches!(
            readers.may_read(&everything, Subject::Site("elsewhere.example")),
            Err(Denied::NotFound(_))
        ));
        assert_eq!(
            readers.may_read(&marketing, Subject::Campaign("nov-newsletter")),
            Ok(())
        );
        for reader in [&agency, &shared] {
            assert!(matches!(
                readers.may_read(reader, Subject::Campaign("nov-newsletter")),
                Err(Denied::Forbidden(_))
            ));
        }
        assert_eq!(readers.may_read(&agency, Subject::Campaigns), Ok(()));
        assert!(matches!(
            readers.may_read(&shared, Subject::Campaigns),
            Err(Denied::Forbidden(_))
        ));
    }

    fn shared_session(expires: u64) -> String {
        configured(Some(SHARE_KEY))
            .open_session(Holder::Shared("optimumabq.com".into()), OPENED_MS, expires)
            .unwrap()
    }

    fn link(expires: u64) -> String {
        Link {
            site: "optimumabq.com".into(),
            expires,
        }
        .sign(SHARE_KEY.as_bytes())
    }

    #[test]
    fn a_session_holds_while_its_token_and_key_are_configured_and_it_has_not_expired() {
        let readers = configured(Some(SHARE_KEY));
        let marketing = Holder::Token("marketing".into());
        let signed = readers
            .open_session(marketing.clone(), OPENED_MS, NOW + SESSION_SECONDS)
            .unwrap();
        let (reader, session) = readers.session(&signed, NOW).unwrap();
        assert_eq!(reader.describe(), "the token \"marketing\"");
        assert_eq!(
            session,
            Session {
                holder: marketing.clone(),
                issued_ms: OPENED_MS,
                expires: NOW + SESSION_SECONDS
            }
        );
        assert!(unauthorized(
            readers.session(&signed, NOW + SESSION_SECONDS)
        ));
        // Another token's session renamed: a session cannot be moved to
        // another token's name.
        let agency = readers
            .open_session(Holder::Token("agency".into()), OPENED_MS, NOW + 60)
            .unwrap();
        let moved = agency.replacen(&hex::encode("agency"), &hex::encode("marketing"), 1);
        assert!(unauthorized(readers.session(&moved, NOW)));
        // The token removed from the configuration: its sessions end.
        let without = Readers {
            tokens: readers.tokens[1..].to_vec(),
            ..configured(Some(SHARE_KEY))
        };
        assert!(unauthorized(without.session(&signed, NOW)));
        assert!(unauthorized(without.open_session(
            marketing,
            OPENED_MS,
            NOW + 60
        )));
        // Another session key (another installation): no session of this one.
        let elsewhere = Readers {
            session_key: SessionKey::new("another-servers-session-key-0123456789".into()),
            ..configured(Some(SHARE_KEY))
        };
        assert!(unauthorized(elsewhere.session(&signed, NOW)));

        let opened = shared_session(NOW + 3600);
        let (reader, session) = readers.session(&opened, NOW).unwrap();
        assert_eq!(reader, Reader::Shared("optimumabq.com".into()));
        assert_eq!(session.expires, NOW + 3600);
        let link = link(NOW + 30 * 86_400);
        assert!(readers.shared_link(&link, NOW).is_ok());
        // Another key (rotated) or none: every link and shared session ends.
        let rotated = configured(Some("a-new-share-key-after-rotation-000000"));
        assert!(unauthorized(rotated.session(&opened, NOW)));
        assert!(unauthorized(rotated.shared_link(&link, NOW)));
        assert!(unauthorized(configured(None).shared_link(&link, NOW)));
        assert!(unauthorized(configured(None).session(&opened, NOW)));
    }

    #[test]
    fn a_sign_out_ends_the_holders_earlier_sessions_only() {
        let readers = configured(Some(SHARE_KEY));
        let open = |holder: Holder, opened_ms: u64| {
            readers.open_session(holder, opened_ms, NOW + 3600).unwrap()
        };
        let marketing = Holder::Token("marketing".into());
        let earlier = open(marketing.clone(), OPENED_MS);
        let agency = open(Holder::Token("agency".into()), OPENED_MS);
        let shared = open(Holder::Shared("optimumabq.com".into()), OPENED_MS);
        readers.sign_outs.record(&marketing, OPENED_MS + 1);
        let refused = readers.session(&earlier, NOW);
        assert!(
            matches!(&refused, Err(Denied::Unauthorized(m)) if m.contains("signed out")),
            "{refused:?}"
        );
        let again = open(marketing, OPENED_MS + 2);
        assert!(readers.session(&again, NOW).is_ok(), "signed in again");
        assert!(readers.session(&agency, NOW).is_ok());
        assert!(readers.session(&shared, NOW).is_ok());
    }

    #[test]
    fn whoever_sees_a_tokens_digest_cannot_mint_its_session() {
        let readers = configured(Some(SHARE_KEY));
        // The digest is what `ApiToken`'s Debug shows.
        let digest = readers.tokens[0].sha256;
        assert!(format!("{:?}", readers.tokens[0]).contains("sha256"));
        let minted = Session {
            holder: Holder::Token("marketing".into()),
            issued_ms: OPENED_MS,
            expires: NOW + 365 * 86_400,
        }
        .sign(&digest);
        assert!(unauthorized(readers.session(&minted, NOW)));
        // Nor does the share key alone mint a session from a link.
        let minted = Session {
            holder: Holder::Shared("optimumabq.com".into()),
            issued_ms: OPENED_MS,
            expires: NOW + 365 * 86_400,
        }
        .sign(SHARE_KEY.as_bytes());
        assert!(unauthorized(readers.session(&minted, NOW)));
    }

    #[test]
    fn a_links_grant_is_not_a_session_nor_a_session_a_link() {
        let readers = configured(Some(SHARE_KEY));
        let link = link(NOW + 300 * 86_400);
        assert!(readers.shared_link(&link, NOW).is_ok());
        assert!(
            unauthorized(readers.session(&link, NOW)),
            "a link sent as the session cookie"
        );
        let session = shared_session(NOW + 3600);
        assert!(readers.session(&session, NOW).is_ok());
        assert!(
            unauthorized(readers.shared_link(&session, NOW)),
            "a session is not a link"
        );
    }

    #[test]
    fn a_bearer_header_wins_over_a_cookie_and_the_cookie_is_found_among_others() {
        let readers = configured(Some(SHARE_KEY));
        let session = shared_session(NOW + 60);
        let with_cookie = TestRequest::default()
            .insert_header((
                header::COOKIE,
                format!("a=b; {SESSION_COOKIE}={session}; c=d"),
            ))
            .to_http_request();
        assert_eq!(
            readers.of_request(&with_cookie, NOW),
            Ok(Reader::Shared("optimumabq.com".into()))
        );
        let both = TestRequest::default()
            .insert_header((header::COOKIE, format!("{SESSION_COOKIE}={session}")))
            .insert_header((header::AUTHORIZATION, "Bearer wrong-token"))
            .to_http_request();
        assert!(unauthorized(readers.of_request(&both, NOW)));
        let neither = TestRequest::default().to_http_request();
        assert!(unauthorized(readers.of_request(&neither, NOW)));
    }
}
