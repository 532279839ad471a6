//! Email clicks: which were made by a security scanner or a prefetcher, not
//! by a reader. Mail gateways (Microsoft Defender's Safe Links, Mimecast,
//! Proofpoint, Barracuda) fetch the links of a message, often every one of
//! them within seconds of its delivery, so a click count that takes every
//! fetch for a person's is inflated wherever recipients sit behind one.
//! A scanner's click is kept and reported apart, as a proxied open is.
//!
//! Two kinds of signal ([`Signal`]):
//! - what one request shows, decided at ingest ([`request_signal`]) and
//!   stored as the click's `scanner` code: a prefetch (`HEAD`, or a
//!   `Purpose`, `X-Purpose`, `Sec-Purpose` or `X-Moz` header saying
//!   `prefetch` or `preview`), an agent no browser sends (`ua`'s bots:
//!   HTTP libraries, headless browsers, crawlers, no user agent), a browser
//!   version years out of use ([`old_browser`]), or an address in the
//!   scanner networks (the shipped `scanner_networks.txt` and
//!   `email.scanner_networks`; clicks only: a provider's image proxy
//!   fetching a pixel is still a real open);
//! - what the recipient's other clicks and opens of the campaign show,
//!   decided at report time by `report::sql` from the stored facts (time,
//!   link, honeypot, request code), by the rules [`classify`] states and
//!   the tests hold the SQL to: a click on the hidden honeypot link and the
//!   recipient's clicks within [`HONEYPOT_SECONDS`] of one; at least
//!   [`BURST_LINKS`] different links clicked within [`BURST_SECONDS`]; and
//!   a recipient whose first hit of the campaign is a click, with no open,
//!   who clicks [`EARLY_LINKS`] different links within [`EARLY_SECONDS`] of
//!   it.
//!
//! Never a rule that flags what people do: an open followed by a click
//! seconds later (Outlook, Thunderbird and Apple Mail load the pixel as the
//! message is shown), one click with no open (a client that blocks images,
//! Outlook's default), the same link clicked twice (a double click), two
//! links a few seconds apart after an open. Each rule looks at most
//! [`LOOKAHEAD_SECONDS`] past the click it judges, so a click's class is
//! settled before the release step's cells are (`report::released`).
//!
//! Owns: the signals, their names and codes, the request-time rules, the
//! shipped network list (its source and date at its head), and the timing
//! rules as a model.
//! Must never: keep or log the user agent, the headers or the address.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::truncate_bytes;

/// Why a click is taken for a scanner's. Listed in the order a report
/// names one: a click that several signals flag counts under the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// A click on the honeypot link, hidden from readers.
    Honeypot,
    /// From a network of mail scanners.
    Network,
    /// A prefetch or preview, not a navigation.
    Prefetch,
    /// A user agent no browser sends.
    Agent,
    /// A browser version years out of use.
    OldBrowser,
    /// Within [`HONEYPOT_SECONDS`] of the recipient's click on the honeypot.
    NearHoneypot,
    /// One of [`BURST_LINKS`] different links within [`BURST_SECONDS`].
    Burst,
    /// The first seconds of a recipient who clicked before any open.
    Early,
}

impl Signal {
    /// Every signal, in the order a report names them.
    pub const ALL: [Signal; 8] = [
        Signal::Honeypot,
        Signal::Network,
        Signal::Prefetch,
        Signal::Agent,
        Signal::OldBrowser,
        Signal::NearHoneypot,
        Signal::Burst,
        Signal::Early,
    ];

    /// The signals one request shows, stored as the click's `scanner` code.
    pub const REQUEST: [Signal; 4] = [
        Signal::Network,
        Signal::Prefetch,
        Signal::Agent,
        Signal::OldBrowser,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Honeypot => "honeypot",
            Signal::Network => "network",
            Signal::Prefetch => "prefetch",
            Signal::Agent => "agent",
            Signal::OldBrowser => "old_browser",
            Signal::NearHoneypot => "near_honeypot",
            Signal::Burst => "burst",
            Signal::Early => "early",
        }
    }

    /// The `email_clicks.scanner` code of a request-time signal; 0 (no
    /// signal) for the others, which are not stored.
    pub fn code(self) -> u8 {
        match self {
            Signal::Prefetch => 1,
            Signal::Agent => 2,
            Signal::OldBrowser => 3,
            Signal::Network => 4,
            _ => 0,
        }
    }

    /// The request-time signal of a stored code.
    pub fn of_code(code: u8) -> Option<Signal> {
        Signal::REQUEST.into_iter().find(|s| s.code() == code)
    }
}

/// What a click's request shows, as the HTTP edge reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClickRequest<'a> {
    /// The method was `HEAD`: a check of the link, not a visit.
    pub head: bool,
    /// The values of the `Purpose`, `X-Purpose`, `Sec-Purpose` and `X-Moz`
    /// headers, as sent.
    pub purposes: &'a [&'a str],
    pub user_agent: &'a str,
}

/// The request-time signal of a click from `client`, if any: the first of
/// prefetch, agent (`is_bot`, the `ua` classifier's bot decision), old
/// browser, network.
pub fn request_signal(
    request: &ClickRequest<'_>,
    client: IpAddr,
    is_bot: impl FnOnce(&str) -> bool,
    networks: &[IpNet],
) -> Option<Signal> {
    if prefetch(request.head, request.purposes) {
        Some(Signal::Prefetch)
    } else if is_bot(request.user_agent) {
        Some(Signal::Agent)
    } else if old_browser(request.user_agent) {
        Some(Signal::OldBrowser)
    } else if networks.iter().any(|net| net.contains(&client)) {
        Some(Signal::Network)
    } else {
        None
    }
}

/// Whether a request says it only looks ahead: `HEAD`, or a purpose header
/// of `prefetch` (Safari's and older Chrome's `Purpose`, Chrome's
/// `Sec-Purpose: prefetch` and `prefetch;prerender`, Firefox's `X-Moz`) or
/// `preview` (Safari's `X-Purpose`).
pub fn prefetch(head: bool, purposes: &[&str]) -> bool {
    head || purposes.iter().any(|value| {
        let value = value.trim().to_ascii_lowercase();
        value.contains("prefetch") || value.contains("preview")
    })
}

/// The oldest version of each browser taken for a person's: older ones
/// were released before 2017 (Chrome 60, Firefox 52 ESR, Safari 9, the
/// last an iPad 2 runs), and every device that ran them could update
/// past them. Scanners that pose as a browser often pose as an old one.
/// Internet Explorer up to 10 (`MSIE`, 2012 and before) counts as old;
/// 11 does not say `MSIE`.
const OLDEST: &[(&str, u32)] = &[
    ("Chrome/", 60),
    ("CriOS/", 60),
    ("Firefox/", 52),
    ("Version/", 9),
];

/// Whether a user agent names a browser version years out of use
/// ([`OLDEST`]).
pub fn old_browser(user_agent: &str) -> bool {
    let ua = truncate_bytes(user_agent, 1024);
    if ua.contains("MSIE ") {
        return true;
    }
    // Safari says its version in `Version/`, beside `Safari/`; Chrome's
    // Android web views say `Version/4.0` beside their own.
    let safari = ua.contains("Safari/")
        && !["Chrome/", "CriOS/", "Chromium/"]
            .iter()
            .any(|c| ua.contains(c));
    OLDEST.iter().any(|(token, oldest)| {
        if *token == "Version/" && !safari {
            return false;
        }
        ua.match_indices(token).any(|(at, _)| {
            // `HeadlessChrome/` and the like are not the browser's token.
            let own = ua[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            let major: String = ua[at + token.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            own && major.parse::<u32>().is_ok_and(|major| major < *oldest)
        })
    })
}

/// The shipped list of scanner networks (`scanner_networks.txt`: its
/// source and date at its head).
const SHIPPED_NETWORKS: &str = include_str!("scanner_networks.txt");

/// The shipped scanner networks.
pub fn shipped_networks() -> Vec<IpNet> {
    SHIPPED_NETWORKS
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|line| line.parse().expect("scanner_networks.txt lists networks"))
        .collect()
}

/// Clicks of one recipient within this many seconds of their click on the
/// honeypot (before or after it) are the same scanner's.
pub const HONEYPOT_SECONDS: u32 = 10;
/// A click is a burst's when, within this many seconds before or after it,
/// the recipient clicked [`BURST_LINKS`] different links.
pub const BURST_SECONDS: u32 = 2;
/// See [`BURST_SECONDS`]: more than a person opens in tabs that fast.
pub const BURST_LINKS: u32 = 3;
/// A recipient whose first hit of a campaign is a click, before any open,
/// and who clicks [`EARLY_LINKS`] different links within this many seconds
/// of it, is a scanner for those seconds.
pub const EARLY_SECONDS: u32 = 10;
/// See [`EARLY_SECONDS`].
pub const EARLY_LINKS: u32 = 2;
/// The furthest any rule looks past the click it judges.
pub const LOOKAHEAD_SECONDS: u32 = if HONEYPOT_SECONDS > EARLY_SECONDS {
    HONEYPOT_SECONDS
} else {
    EARLY_SECONDS
};

/// One of a recipient's hits of a campaign, as the timing rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    Open {
        at: u32,
    },
    Click {
        at: u32,
        /// The link's host and path (empty for the honeypot).
        link: String,
        honeypot: bool,
        /// The request-time signal stored with it.
        request: Option<Signal>,
    },
}

/// The signal of each of one recipient's hits of a campaign (in any
/// order), in the order given: `None` for an open and for a person's
/// click. The rules `report::sql` computes for every click; the model its
/// tests check it against.
pub fn classify(hits: &[Hit]) -> Vec<Option<Signal>> {
    let clicks: Vec<(u32, &str, bool)> = hits
        .iter()
        .filter_map(|hit| match hit {
            Hit::Click {
                at, link, honeypot, ..
            } => Some((*at, link.as_str(), *honeypot)),
            Hit::Open { .. } => None,
        })
        .collect();
    let first_open = hits
        .iter()
        .filter_map(|hit| match hit {
            Hit::Open { at } => Some(*at),
            Hit::Click { .. } => None,
        })
        .min();
    let first_click = clicks.iter().map(|c| c.0).min();
    let before_open = |at: u32| first_open.is_none_or(|open| at < open);
    // The clicks that open a recipient's activity, before any open.
    let opening = |at: u32| first_click.is_some_and(|first| at <= first + EARLY_SECONDS);
    let opening_links: BTreeSet<&str> = clicks
        .iter()
        .filter(|(at, _, honeypot)| !honeypot && opening(*at) && before_open(*at))
        .map(|(_, link, _)| *link)
        .collect();
    let early_run =
        first_click.is_some_and(before_open) && opening_links.len() as u32 >= EARLY_LINKS;
    hits.iter()
        .map(|hit| {
            let Hit::Click {
                at,
                honeypot,
                request,
                ..
            } = hit
            else {
                return None;
            };
            let near = |seconds: u32| {
                clicks
                    .iter()
                    .filter(move |(other, _, _)| other.abs_diff(*at) <= seconds)
            };
            let burst = near(BURST_SECONDS)
                .filter(|(_, _, honeypot)| !honeypot)
                .map(|(_, link, _)| *link)
                .collect::<BTreeSet<_>>()
                .len() as u32
                >= BURST_LINKS;
            if *honeypot {
                Some(Signal::Honeypot)
            } else if request.is_some() {
                *request
            } else if near(HONEYPOT_SECONDS).any(|(_, _, honeypot)| *honeypot) {
                Some(Signal::NearHoneypot)
            } else if burst {
                Some(Signal::Burst)
            } else if early_run && opening(*at) && before_open(*at) {
                Some(Signal::Early)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const SAFARI_IPAD_2: &str = "Mozilla/5.0 (iPad; CPU OS 9_3_5 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile/13G36 Safari/601.1";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn signal(request: &ClickRequest<'_>, client: &str) -> Option<Signal> {
        let ua = crate::enrich::ua::UaClassifier::default();
        request_signal(
            request,
            ip(client),
            |agent| ua.is_bot(agent),
            &shipped_networks(),
        )
    }

    fn browser(user_agent: &str) -> ClickRequest<'_> {
        ClickRequest {
            user_agent,
            ..ClickRequest::default()
        }
    }

    #[test]
    fn a_person_s_click_shows_no_signal() {
        for ua in [
            CHROME,
            SAFARI_IPAD_2,
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
        ] {
            assert_eq!(signal(&browser(ua), "203.0.113.9"), None, "{ua}");
        }
    }

    #[test]
    fn a_prefetch_or_a_head_request_is_a_scanner_s() {
        for purpose in ["prefetch", "Prefetch", "prefetch;prerender", "preview"] {
            let purposes = [purpose];
            let request = ClickRequest {
                purposes: &purposes,
                ..browser(CHROME)
            };
            assert_eq!(
                signal(&request, "203.0.113.9"),
                Some(Signal::Prefetch),
                "{purpose}"
            );
        }
        let head = ClickRequest {
            head: true,
            ..browser(CHROME)
        };
        assert_eq!(signal(&head, "203.0.113.9"), Some(Signal::Prefetch));
        let other = ClickRequest {
            purposes: &["navigate"],
            ..browser(CHROME)
        };
        assert_eq!(signal(&other, "203.0.113.9"), None);
    }

    #[test]
    fn an_agent_no_browser_sends_is_a_scanner_s() {
        for ua in [
            "",
            "curl/8.4.0",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "okhttp/4.12.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
        ] {
            assert_eq!(
                signal(&browser(ua), "203.0.113.9"),
                Some(Signal::Agent),
                "{ua:?}"
            );
        }
    }

    #[test]
    fn a_browser_years_out_of_use_is_a_scanner_s() {
        for ua in [
            "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.101 Safari/537.36",
            "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
            "Mozilla/5.0 (Windows NT 6.1; rv:38.0) Gecko/20100101 Firefox/38.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/600.8.9 (KHTML, like Gecko) Version/8.0.8 Safari/600.8.9",
        ] {
            assert!(old_browser(ua), "{ua}");
            assert_eq!(
                signal(&browser(ua), "203.0.113.9"),
                Some(Signal::OldBrowser),
                "{ua}"
            );
        }
        for ua in [
            CHROME,
            SAFARI_IPAD_2,
            "Mozilla/5.0 (Windows NT 10.0; rv:115.0) Gecko/20100101 Firefox/115.0",
            // A version token that is not the browser's own.
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko) XChrome/41.0 Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.0.0 Mobile Safari/537.36",
        ] {
            assert!(!old_browser(ua), "{ua}");
        }
    }

    #[test]
    fn a_click_from_a_scanner_network_is_a_scanner_s() {
        for address in [
            "40.92.1.1",
            "40.107.255.1",
            "52.101.0.9",
            "104.47.0.1",
            "2a01:111:f400::5",
        ] {
            assert_eq!(
                signal(&browser(CHROME), address),
                Some(Signal::Network),
                "{address}"
            );
        }
        for address in ["40.94.1.1", "52.96.0.1", "203.0.113.9", "2a01:111:f401::5"] {
            assert_eq!(signal(&browser(CHROME), address), None, "{address}");
        }
        assert!(shipped_networks().len() >= 6);
    }

    #[test]
    fn codes_are_request_signals_only() {
        for signal in Signal::REQUEST {
            assert_ne!(signal.code(), 0);
            assert_eq!(Signal::of_code(signal.code()), Some(signal));
        }
        assert_eq!(Signal::of_code(0), None);
        let names: BTreeSet<&str> = Signal::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Signal::ALL.len());
        // A click's class is settled before its cell is released (two
        // minutes after its hour: `report::released::complete_until`).
        const {
            assert!(LOOKAHEAD_SECONDS >= BURST_SECONDS);
            assert!(LOOKAHEAD_SECONDS < 120);
        }
    }

    fn open(at: u32) -> Hit {
        Hit::Open { at }
    }

    fn click(at: u32, link: &str) -> Hit {
        Hit::Click {
            at,
            link: link.into(),
            honeypot: false,
            request: None,
        }
    }

    fn honeypot(at: u32) -> Hit {
        Hit::Click {
            at,
            link: String::new(),
            honeypot: true,
            request: None,
        }
    }

    const T: u32 = 1_793_613_600;

    #[test]
    fn people_are_not_flagged() {
        let people: &[(&str, Vec<Hit>)] = &[
            (
                "an open and a click seconds apart",
                vec![open(T), click(T + 3, "/a")],
            ),
            ("the click logged first", vec![click(T, "/a"), open(T + 1)]),
            ("one click, images blocked", vec![click(T, "/a")]),
            (
                "a double click",
                vec![click(T, "/a"), click(T, "/a"), click(T + 2, "/a")],
            ),
            (
                "links a few seconds apart after an open",
                vec![
                    open(T),
                    click(T + 2, "/a"),
                    click(T + 5, "/b"),
                    click(T + 9, "/c"),
                ],
            ),
            (
                "two links a minute apart, images blocked",
                vec![click(T, "/a"), click(T + 60, "/b")],
            ),
            (
                "two links in tabs, after an open",
                vec![open(T), click(T + 10, "/a"), click(T + 11, "/b")],
            ),
        ];
        for (what, hits) in people {
            assert!(classify(hits).iter().all(Option::is_none), "{what}");
        }
    }

    #[test]
    fn a_honeypot_click_flags_itself_and_the_recipient_s_clicks_within_seconds() {
        let hits = [
            click(T - 8, "/a"),
            honeypot(T),
            click(T + 10, "/b"),
            click(T + 11, "/c"),
            click(T + 600, "/a"),
        ];
        assert_eq!(
            classify(&hits),
            [
                Some(Signal::NearHoneypot),
                Some(Signal::Honeypot),
                Some(Signal::NearHoneypot),
                None,
                None
            ]
        );
    }

    #[test]
    fn three_links_within_two_seconds_are_a_burst() {
        let hits = [
            open(T - 60),
            click(T, "/a"),
            click(T + 1, "/b"),
            click(T + 2, "/c"),
            click(T + 3, "/d"),
            click(T + 3600, "/a"),
        ];
        assert_eq!(
            classify(&hits),
            [
                None,
                Some(Signal::Burst),
                Some(Signal::Burst),
                Some(Signal::Burst),
                Some(Signal::Burst),
                None
            ]
        );
        // Two links are not enough; three of one link are one link.
        let two = [
            open(T - 60),
            click(T, "/a"),
            click(T + 1, "/b"),
            click(T + 1, "/b"),
        ];
        assert!(classify(&two).iter().all(Option::is_none));
    }

    #[test]
    fn clicking_before_any_open_on_two_links_within_seconds_is_early() {
        let hits = [
            click(T, "/a"),
            click(T + 4, "/b"),
            click(T + 9, "/a"),
            click(T + 11, "/c"),
            open(T + 7200),
            click(T + 7230, "/a"),
        ];
        assert_eq!(
            classify(&hits),
            [
                Some(Signal::Early),
                Some(Signal::Early),
                Some(Signal::Early),
                None,
                None,
                None
            ]
        );
        // An open within those seconds ends them.
        let opened = [click(T, "/a"), open(T + 2), click(T + 4, "/b")];
        assert!(classify(&opened).iter().all(Option::is_none));
        // An open before the first click: the reader's own.
        let read = [open(T - 1), click(T, "/a"), click(T + 4, "/b")];
        assert!(classify(&read).iter().all(Option::is_none));
    }

    #[test]
    fn a_stored_request_signal_comes_before_the_timing_rules() {
        let hits = [
            Hit::Click {
                at: T,
                link: "/a".into(),
                honeypot: false,
                request: Some(Signal::Network),
            },
            honeypot(T + 1),
        ];
        assert_eq!(
            classify(&hits),
            [Some(Signal::Network), Some(Signal::Honeypot)]
        );
    }
}
