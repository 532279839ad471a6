//! Turns one parsed hit into a row, or into the reason it is not stored.
//!
//! Consent is settled before a hit gets here: the HTTP edge answers a DNT or
//! GPC request without counting it (`privacy::consent`).
//! The steps run cheapest first and stop at the first refusal: size, client
//! address (X-Forwarded-For only from trusted proxies), rate limit,
//! site, page host (one of the site's, or no host but sent from the site's
//! pages: `from_the_site`), referrer spam (`enrich::spam`), bot; then the
//! address is hashed and located
//! and goes no further than this function's stack. An open's campaign passes
//! `enrich::campaign`'s rules (a plain name, listed, signed if asked). An
//! event keeps the properties `enrich::props` keeps. A click on an email link
//! passes them too, once its destination is vouched for (`enrich::link`:
//! [`Ingest::link_target`], which the HTTP edge asks whether or not the
//! click is recorded); a scanner's click is kept, with what its request
//! showed of one (`enrich::scanner`).
//! Owns: the order of the privacy decisions.
//! Must never: do I/O (salts and the GeoIP database are in memory), or let the
//! address, user agent or recipient token into the row it returns.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;

use crate::clock;
use crate::config::{Config, Site};
use crate::enrich::campaign::CampaignRules;
use crate::enrich::email::classify_open;
use crate::enrich::geo::GeoLookup;
use crate::enrich::link::{self, LinkHosts, Target};
use crate::enrich::scanner::{self, ClickRequest};
use crate::enrich::spam::SpamHosts;
use crate::enrich::ua::{Device, UaClassifier};
use crate::enrich::url::{
    MAX_PATH_CHARS, PageEvidence, UNKNOWN_PAGE, clean_page_url, page_of, referrer_host,
    route_fragment,
};
use crate::enrich::{bounded, truncate_bytes};
use crate::enrich::{props, scrub};
use crate::outcome::DropReason;
use crate::privacy::salt_rules::Salts;
use crate::privacy::{client_ip, hash};
use crate::rate_limit::RateLimiter;
use crate::row::{ClickRow, EventRow, MAX_EVENT_NAME_CHARS, OpenRow, PAGEVIEW, next_event_id};

/// Recipient tokens longer than this are hashed by their first bytes only.
const MAX_RECIPIENT_BYTES: usize = 512;

/// What the transport says about a request, whichever endpoint it hit.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta<'a> {
    /// The TCP peer.
    pub peer: Option<IpAddr>,
    /// Every `X-Forwarded-For` value, in order.
    pub forwarded_for: Vec<&'a str>,
    pub user_agent: &'a str,
    /// The `Referer` header: the page, for a pixel that did not send `url`.
    pub referer: Option<&'a str>,
    /// The `Sec-Fetch-Site` header: whether that `Referer` may have been cut.
    pub fetch_site: Option<&'a str>,
    /// More headers, or header bytes, than `http.max_headers`/`max_header_bytes`.
    pub oversized: bool,
}

/// A page view or custom event, from the pixel's query or the beacon's body.
#[derive(Debug, Clone, Default)]
pub struct PageHit<'a> {
    pub site: &'a str,
    pub url: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub name: Option<&'a str>,
    pub screen_width: Option<u32>,
    /// The pixel says its `Referer` is the whole page URL (`page=referrer`).
    pub referer_whole: bool,
    /// The tracker says the site routes by fragment (`h`): the `url`'s
    /// fragment is part of the page's path.
    pub hash_route: bool,
    /// The properties the beacon sent, values as text (`enrich::props`
    /// decides which are kept).
    pub props: Vec<(&'a str, Cow<'a, str>)>,
}

/// An email open, from the open pixel's query.
#[derive(Debug, Clone, Default)]
pub struct OpenHit<'a> {
    pub campaign: &'a str,
    pub recipient: &'a str,
    /// `sig`: the mail tool's signature of the two (`enrich::campaign`).
    pub signature: Option<&'a str>,
}

/// A click on an email link, from `/l`'s query and method.
#[derive(Debug, Clone, Default)]
pub struct ClickHit<'a> {
    pub campaign: &'a str,
    pub recipient: &'a str,
    /// `u`: where the link leads.
    pub url: Option<&'a str>,
    /// `sig`: the mail tool's signature (`enrich::campaign::link_signature`).
    pub signature: Option<&'a str>,
    /// `h=1`: the honeypot link.
    pub honeypot: bool,
    /// The method was `HEAD`.
    pub head: bool,
    /// The values of the purpose headers (`enrich::scanner::ClickRequest`).
    pub purposes: Vec<&'a str>,
}

impl ClickHit<'_> {
    /// The destination the signature covers: empty for the honeypot.
    fn signed_url(&self) -> &str {
        if self.honeypot {
            ""
        } else {
            self.url.unwrap_or("")
        }
    }
}

/// Everything the decisions need, built once at start.
pub struct Ingest {
    sites: HashMap<String, Site>,
    trusted_proxies: Vec<IpNet>,
    email_proxy_networks: Vec<IpNet>,
    campaigns: CampaignRules,
    /// Where an email link may send a click unsigned: every site's hosts and
    /// `email.link_hosts`.
    link_hosts: LinkHosts,
    scanner_networks: Vec<IpNet>,
    referrer_spam: SpamHosts,
    datacenter_networks: Vec<IpNet>,
    ua: UaClassifier,
    geo: Arc<GeoLookup>,
    salts: Salts,
    rate_limit: RateLimiter,
}

impl Ingest {
    pub fn new(config: &Config, geo: Arc<GeoLookup>, salts: Salts) -> Ingest {
        Ingest {
            sites: config.sites.clone(),
            trusted_proxies: config.http.trusted_proxies.clone(),
            email_proxy_networks: config.email.proxy_networks.clone(),
            campaigns: config.email.campaigns.clone(),
            link_hosts: config.link_hosts(),
            scanner_networks: config.email.scanner_networks.clone(),
            referrer_spam: config.filter.referrer_spam.clone(),
            datacenter_networks: config.filter.datacenter_networks.clone(),
            ua: UaClassifier::default(),
            geo,
            salts,
            rate_limit: RateLimiter::new(
                config.http.rate_limit_per_second,
                config.http.rate_limit_burst,
            ),
        }
    }

    /// `id` when it is a configured site's.
    pub fn configured_site<'a>(&self, id: &'a str) -> Option<&'a str> {
        self.sites.contains_key(id).then_some(id)
    }

    pub fn page(
        &self,
        meta: &RequestMeta<'_>,
        hit: &PageHit<'_>,
        now: u32,
    ) -> Result<EventRow, DropReason> {
        let client = self.admit(meta)?;
        let site = self.sites.get(hit.site).ok_or(DropReason::UnknownSite)?;
        let page = page_of(&PageEvidence {
            url: hit.url,
            referer: meta.referer,
            referer_whole: hit.referer_whole,
            fetch_site: meta.fetch_site,
        })
        .ok_or(DropReason::Invalid)?;
        from_the_site(&site.hostnames, &page.host, meta)?;
        let referrer_host = hit
            .referrer
            .map(|r| referrer_host(r, &site.hostnames))
            .unwrap_or_default();
        if self.referrer_spam.lists(&referrer_host) {
            return Err(DropReason::ReferrerSpam);
        }
        if self
            .datacenter_networks
            .iter()
            .any(|net| net.contains(&client))
        {
            return Err(DropReason::Datacenter);
        }
        let class = self.ua.classify(meta.user_agent).ok_or(DropReason::Bot)?;
        let name = match hit
            .name
            .map(|n| scrub::value(&bounded(n, MAX_EVENT_NAME_CHARS)))
        {
            Some(name) if !name.is_empty() => name,
            _ => PAGEVIEW.to_string(),
        };
        let props = props::kept(&hit.props, &name, &site.props, &site.path_patterns);
        let device = match (class.device, hit.screen_width) {
            (Device::Other, Some(width)) => Device::from_screen_width(width),
            (device, _) => device,
        };

        let salt = self.salts.visitor_salt(clock::day_of(now));
        let visitor_id = hash::visitor_id(&salt, &site.id, client, meta.user_agent);
        let location = self.geo.locate(client);

        Ok(EventRow {
            site: site.id.clone(),
            ts: now,
            name,
            visitor_id,
            // The label of an unknown page is not a path: no pattern applies.
            path: if page.path == UNKNOWN_PAGE {
                page.path
            } else {
                let route = hit.url.filter(|_| hit.hash_route).and_then(route_fragment);
                let path = match route {
                    Some(route) => bounded(&(page.path + &route), MAX_PATH_CHARS),
                    None => page.path,
                };
                scrub::path(&path, &site.path_patterns)
            },
            referrer_host,
            utm_source: page.utm.source,
            utm_medium: page.utm.medium,
            utm_campaign: page.utm.campaign,
            utm_term: page.utm.term,
            utm_content: page.utm.content,
            country: location.country,
            region: location.region,
            city: location.city,
            browser: class.browser,
            os: class.os,
            device: device.code(),
            event_id: next_event_id(),
            prop_keys: props.keys,
            prop_values: props.values,
        })
    }

    pub fn open(
        &self,
        meta: &RequestMeta<'_>,
        hit: &OpenHit<'_>,
        now: u32,
    ) -> Result<OpenRow, DropReason> {
        let client = self.admit(meta)?;
        if hit.recipient.trim().is_empty() {
            return Err(DropReason::Invalid);
        }
        let campaign = &self
            .campaigns
            .admit(hit.campaign, hit.recipient, hit.signature)?;
        let class = classify_open(meta.user_agent, client, &self.email_proxy_networks);
        if !class.proxied && self.ua.is_bot(meta.user_agent) {
            // Link scanners and security gateways fetch images too; they are not readers.
            return Err(DropReason::Bot);
        }
        Ok(OpenRow {
            campaign: campaign.to_string(),
            ts: now,
            recipient_id: self.recipient_id(campaign, hit.recipient),
            proxied: u8::from(class.proxied),
            country: self.geo.locate(client).country,
            client: class.client.to_string(),
            open_id: next_event_id(),
        })
    }

    /// Where a click on an email link goes, recorded or not: to its
    /// destination when the host is allowed or the signature checks, else
    /// nowhere (`enrich::link`).
    pub fn link_target(&self, hit: &ClickHit<'_>) -> Target {
        if hit.honeypot {
            return Target::Honeypot;
        }
        let Some(url) = hit.url.filter(|u| !u.trim().is_empty()) else {
            return Target::NoLink;
        };
        let Some(destination) = link::destination(url) else {
            return Target::NoLink;
        };
        let vouched = self.link_hosts.allows(&destination.host)
            || self
                .campaigns
                .signs_link(hit.campaign, hit.recipient, url, hit.signature);
        if vouched {
            Target::Redirect(destination)
        } else {
            Target::NotVouched(url.to_string())
        }
    }

    /// The row of a click on an email link that goes to `target`
    /// ([`Ingest::link_target`]), or why it is not stored: a link that
    /// sends nowhere is not the mail tool's (`Unverified`, or `Invalid`
    /// without a destination), and the campaign passes the rules an open's
    /// does, with the link's signature. A scanner's click is stored, with
    /// what its request showed.
    pub fn click(
        &self,
        meta: &RequestMeta<'_>,
        hit: &ClickHit<'_>,
        target: &Target,
        now: u32,
    ) -> Result<ClickRow, DropReason> {
        let client = self.admit(meta)?;
        if hit.recipient.trim().is_empty() {
            return Err(DropReason::Invalid);
        }
        let (link_host, link_path) = match target {
            Target::Redirect(destination) => {
                let patterns = self
                    .sites
                    .values()
                    .find(|site| {
                        site.hostnames
                            .iter()
                            .any(|h| h.eq_ignore_ascii_case(&destination.host))
                    })
                    .map_or(&[][..], |site| site.path_patterns.as_slice());
                (
                    destination.host.clone(),
                    scrub::path(&destination.path, patterns),
                )
            }
            Target::Honeypot => (String::new(), String::new()),
            Target::NotVouched(_) => return Err(DropReason::Unverified),
            Target::NoLink => return Err(DropReason::Invalid),
        };
        let campaign = &self.campaigns.admit_click(
            hit.campaign,
            hit.recipient,
            hit.signed_url(),
            hit.signature,
        )?;
        let signal = scanner::request_signal(
            &ClickRequest {
                head: hit.head,
                purposes: &hit.purposes,
                user_agent: meta.user_agent,
            },
            client,
            |agent| self.ua.is_bot(agent),
            &self.scanner_networks,
        );
        Ok(ClickRow {
            campaign: campaign.to_string(),
            ts: now,
            recipient_id: self.recipient_id(campaign, hit.recipient),
            link_host,
            link_path,
            scanner: signal.map_or(0, scanner::Signal::code),
            honeypot: u8::from(hit.honeypot),
            click_id: next_event_id(),
        })
    }

    /// The id of the recipient whose token is `recipient` in `campaign`
    /// (the name stored): the same for their opens and their clicks.
    fn recipient_id(&self, campaign: &str, recipient: &str) -> u64 {
        let recipient = truncate_bytes(recipient.trim(), MAX_RECIPIENT_BYTES);
        let campaign_salt = hash::campaign_salt(&self.salts.recipient_key(), campaign);
        hash::recipient_id(&campaign_salt, campaign, recipient)
    }

    /// The checks every hit passes first, in this order: the request's size,
    /// then the client's rate. (Consent comes before ingest: the HTTP edge
    /// answers an opted-out request before counting it, see
    /// `privacy::consent`.)
    fn admit(&self, meta: &RequestMeta<'_>) -> Result<IpAddr, DropReason> {
        if meta.oversized {
            return Err(DropReason::Invalid);
        }
        let peer = meta.peer.ok_or(DropReason::Invalid)?;
        let client = client_ip::resolve(
            peer,
            meta.forwarded_for.iter().copied(),
            &self.trusted_proxies,
        );
        if !self.rate_limit.allow(client, Instant::now()) {
            return Err(DropReason::RateLimited);
        }
        Ok(client)
    }
}

/// Whether a page is the site's: its host (from the hit's `url`, else from
/// the `Referer`) is one of the site's hosts (`UnknownSite` when not: the
/// snippet was copied elsewhere). A page that names no host (no `url` and no
/// `Referer`, or a host-relative `url` without one) is taken only when the
/// browser says it was requested from the site's own pages
/// (`Sec-Fetch-Site: same-origin` or `same-site`, as with the collector on a
/// subdomain of the site); otherwise anyone could count views with a bare
/// `?site=` (`Unverified`).
fn from_the_site(
    hostnames: &[String],
    page_host: &str,
    meta: &RequestMeta<'_>,
) -> Result<(), DropReason> {
    let referer_host = || {
        meta.referer
            .and_then(clean_page_url)
            .map(|referer| referer.host)
            .unwrap_or_default()
    };
    let host = match page_host {
        "" => referer_host(),
        host => host.to_string(),
    };
    if !host.is_empty() {
        return if hostnames.contains(&host) {
            Ok(())
        } else {
            Err(DropReason::UnknownSite)
        };
    }
    let requested_by_the_site = meta.fetch_site.is_some_and(|site| {
        let site = site.trim();
        site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("same-site")
    });
    if requested_by_the_site {
        Ok(())
    } else {
        Err(DropReason::Unverified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_the_sites_by_its_host_or_by_coming_from_the_sites_pages() {
        let hostnames = [
            "optimumabq.com".to_string(),
            "www.optimumabq.com".to_string(),
        ];
        let check = |page_host: &str, referer: Option<&str>, fetch_site: Option<&str>| {
            let meta = RequestMeta {
                referer,
                fetch_site,
                ..RequestMeta::default()
            };
            from_the_site(&hostnames, page_host, &meta)
        };
        let site = Some("https://www.optimumabq.com/pricing");
        let copycat = Some("https://copycat.example/pricing");
        // A host, from the page's `url` or the Referer, decides.
        assert_eq!(check("optimumabq.com", None, None), Ok(()));
        assert_eq!(check("optimumabq.com", copycat, Some("cross-site")), Ok(()));
        assert_eq!(
            check("copycat.example", site, Some("same-site")),
            Err(DropReason::UnknownSite)
        );
        assert_eq!(check("", site, None), Ok(()));
        assert_eq!(
            check("", copycat, Some("same-site")),
            Err(DropReason::UnknownSite)
        );
        // No host anywhere: only from the site's own pages.
        for from_the_site in ["same-site", "same-origin", " Same-Site "] {
            assert_eq!(check("", None, Some(from_the_site)), Ok(()));
        }
        for elsewhere in [None, Some("cross-site"), Some("none"), Some("")] {
            assert_eq!(
                check("", None, elsewhere),
                Err(DropReason::Unverified),
                "{elsewhere:?}"
            );
            assert_eq!(
                check("", Some("about:blank"), elsewhere),
                Err(DropReason::Unverified)
            );
        }
    }
}
