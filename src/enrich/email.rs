//! Email opens: was the pixel fetched by a mail provider's image proxy or
//! privacy prefetch, and which mail client opened it.
//!
//! A proxied open says a message was delivered to a provider that loads images
//! on its own (Gmail caches them, Apple Mail Privacy Protection prefetches every
//! message), not that a person read it; reports keep the two apart.
//! Sources, each from the provider's or mail-testing vendors' public notes:
//! Gmail's proxy sends `GoogleImageProxy` (via ggpht.com); Yahoo's sends
//! `YahooMailProxy`; Apple Mail Privacy Protection fetches with the bare user
//! agent `Mozilla/5.0` from Apple's relay networks (configure those, published
//! by Apple as its egress ranges, in `email.proxy_networks`).

use std::net::IpAddr;

use ipnet::IpNet;

/// What an open request tells about how the message was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenClass {
    /// Fetched by a provider's proxy or prefetch rather than by the reader's client.
    pub proxied: bool,
    /// Mail client family; empty when the user agent does not tell.
    pub client: &'static str,
}

/// User-agent marks of image proxies, with the client family they stand for.
const PROXY_MARKS: &[(&str, &str)] = &[
    ("GoogleImageProxy", "Gmail"),
    ("YahooMailProxy", "Yahoo Mail"),
];

/// Apple Mail Privacy Protection's prefetcher sends exactly this.
const APPLE_PRIVACY_PREFETCH_UA: &str = "Mozilla/5.0";

pub fn classify_open(user_agent: &str, client: IpAddr, proxy_networks: &[IpNet]) -> OpenClass {
    let ua = user_agent.trim();
    if let Some((_, family)) = PROXY_MARKS.iter().find(|(mark, _)| ua.contains(mark)) {
        return OpenClass {
            proxied: true,
            client: family,
        };
    }
    if ua == APPLE_PRIVACY_PREFETCH_UA {
        return OpenClass {
            proxied: true,
            client: "Apple Mail",
        };
    }
    OpenClass {
        proxied: proxy_networks.iter().any(|net| net.contains(&client)),
        client: mail_client(ua),
    }
}

/// The mail client family named by a user agent that fetched the pixel itself.
fn mail_client(ua: &str) -> &'static str {
    let has = |mark: &str| ua.contains(mark);
    if has("Thunderbird/") {
        "Thunderbird"
    } else if has("Outlook-iOS") || has("Outlook-Android") {
        "Outlook Mobile"
    } else if has("Microsoft Outlook") || has("ms-office") || has("MSOffice") {
        "Outlook"
    } else if has("AppleWebKit")
        && (has("Macintosh") || has("iPhone") || has("iPad"))
        && !has("Safari/")
    {
        // Apple Mail embeds WebKit without Safari's product token.
        "Apple Mail"
    } else if has("Chrome/") || has("Firefox/") || has("Safari/") || has("Edg/") {
        "Webmail"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn open_classes() {
        let apple_relays: Vec<IpNet> = vec!["172.224.0.0/12".parse().unwrap()];
        let cases: &[(&str, &str, bool, &str)] = &[
            (
                "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                "66.249.84.1",
                true,
                "Gmail",
            ),
            (
                "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
                "98.136.1.1",
                true,
                "Yahoo Mail",
            ),
            ("Mozilla/5.0", "172.226.1.1", true, "Apple Mail"),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
                "172.226.1.1",
                true,
                "Apple Mail",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
                "203.0.113.9",
                false,
                "Apple Mail",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                "203.0.113.9",
                false,
                "Apple Mail",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0",
                "203.0.113.9",
                false,
                "Thunderbird",
            ),
            (
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
                "203.0.113.9",
                false,
                "Outlook",
            ),
            (
                "Outlook-iOS/723.4027091.prod.iphone (4.2348.0)",
                "203.0.113.9",
                false,
                "Outlook Mobile",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "203.0.113.9",
                false,
                "Webmail",
            ),
            ("", "203.0.113.9", false, ""),
            ("SomethingElse/1.0", "2001:db8::1", false, ""),
        ];
        for (ua, address, proxied, client) in cases {
            assert_eq!(
                classify_open(ua, ip(address), &apple_relays),
                OpenClass {
                    proxied: *proxied,
                    client
                },
                "{ua}"
            );
        }
    }
}
