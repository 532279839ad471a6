//! Known hits for the report tests: events and email opens whose every
//! figure is worked out by hand in `tests/it/report.rs`, inserted with SQL so
//! timestamps and visitor ids are exact. `tests/it/cluster.rs` inserts the same
//! into a cluster and expects the same reports.
//!
//! Site time zone America/Denver; clocks went back on 2026-11-01 at 08:00
//! UTC.
//!
//! Every visitor and recipient comes [`COPIES`] times (ids `id`, `id +
//! 1000`, `id + 2000`, ...), doing the same at the same times: a figure
//! worked out by hand for one of each is `COPIES` times that, and a group of
//! one of them is large enough for the release step's threshold.
//!
//! [`few`] adds, once each and on 2026-11-05 (UTC), after the windows of
//! most figures worked out for the copies: groups of one and two people,
//! which no report may show, and a visitor whose page views pass the cap on
//! both sides of a Denver midnight.
//!
//! [`CLICKS`] are clicks on the November newsletter's links by people and
//! by each kind of mail scanner (`enrich::scanner`), worked out by hand in
//! `tests/it/report.rs`.

/// How many times each known visitor and recipient comes.
pub const COPIES: u64 = 30;

/// A visitor: what every event of theirs says besides its time and page.
#[derive(Clone, Copy)]
struct Visitor {
    id: u64,
    site: &'static str,
    country: &'static str,
    browser: &'static str,
    device: &'static str,
}

/// A visitor of optimumabq.com.
const fn visitor(
    id: u64,
    country: &'static str,
    browser: &'static str,
    device: &'static str,
) -> Visitor {
    Visitor {
        id,
        site: "optimumabq.com",
        country,
        browser,
        device,
    }
}

const V1: Visitor = visitor(1, "US", "Chrome", "desktop");
const V2: Visitor = visitor(2, "US", "Chrome", "mobile");
const V3: Visitor = visitor(3, "US", "Firefox", "desktop");
const V4: Visitor = visitor(4, "DE", "Firefox", "desktop");
const V5: Visitor = visitor(5, "US", "Safari", "mobile");
const V6: Visitor = visitor(6, "US", "Chrome", "desktop");
const V7: Visitor = visitor(7, "US", "Chrome", "desktop");
const V8: Visitor = visitor(8, "US", "Chrome", "desktop");
/// Of another site: never counted.
const V9: Visitor = Visitor {
    site: "elsewhere.example",
    ..visitor(9, "US", "Chrome", "desktop")
};

#[derive(Clone, Copy)]
struct Event {
    visitor: Visitor,
    /// UTC.
    at: &'static str,
    name: &'static str,
    path: &'static str,
    referrer_host: &'static str,
}

/// A page view of `path`, coming from `referrer_host` (or "").
const fn view(
    visitor: Visitor,
    at: &'static str,
    path: &'static str,
    referrer_host: &'static str,
) -> Event {
    Event {
        visitor,
        at,
        name: "pageview",
        path,
        referrer_host,
    }
}

/// A custom event `name` on `path`.
const fn custom(
    visitor: Visitor,
    at: &'static str,
    name: &'static str,
    path: &'static str,
) -> Event {
    Event {
        visitor,
        at,
        name,
        path,
        referrer_host: "",
    }
}

impl Event {
    /// `(site, ts, name, visitor_id, path, referrer_host, country, browser, device)`
    fn values(&self) -> String {
        let Event {
            at,
            name,
            path,
            referrer_host,
            ..
        } = self;
        let Visitor {
            id,
            site,
            country,
            browser,
            device,
        } = self.visitor;
        format!(
            "('{site}', '{at}', '{name}', {id}, '{path}', '{referrer_host}', '{country}', '{browser}', '{device}')"
        )
    }
}

/// Who did what when (UTC).
const EVENTS: &[Event] = &[
    // V1: two visits (a 40-minute gap), the second a bounce.
    view(V1, "2026-11-01 15:00:00", "/", "google.com"),
    view(V1, "2026-11-01 15:10:00", "/pricing", ""),
    custom(V1, "2026-11-01 15:11:00", "signup", "/pricing"),
    view(V1, "2026-11-01 15:50:00", "/", ""),
    // V2: one bounce, one custom event.
    view(V2, "2026-11-01 16:00:00", "/", "google.com"),
    custom(V2, "2026-11-01 16:00:05", "signup", "/"),
    // V3: one visit of two pages.
    view(V3, "2026-11-01 17:00:00", "/pricing", ""),
    view(V3, "2026-11-01 17:20:00", "/tour", ""),
    // V4: one bounce from Hacker News, one custom event.
    view(V4, "2026-11-01 18:00:00", "/tour", "news.ycombinator.com"),
    custom(V4, "2026-11-01 18:01:00", "signup", "/tour"),
    // V5: 23:30 local on Nov 1, but Nov 2 in UTC.
    view(V5, "2026-11-02 06:30:00", "/pricing", ""),
    // V6: 00:30 local on Nov 2.
    view(V6, "2026-11-02 07:30:00", "/", ""),
    // V7: 01:30 MDT, then 01:30 MST an hour later: two visits, two bounces.
    view(V7, "2026-11-01 07:30:00", "/", ""),
    view(V7, "2026-11-01 08:30:00", "/", ""),
    // V8: 23:30 local on Oct 31: the previous period.
    view(V8, "2026-11-01 05:30:00", "/", ""),
    // Another site: never counted.
    view(V9, "2026-11-01 15:00:00", "/", ""),
];

/// Visitors of [`few`]: ids past every copy's.
const F1: Visitor = visitor(100_001, "FR", "Opera", "tablet");
const F2: Visitor = visitor(100_002, "FR", "Opera", "tablet");
const F3: Visitor = visitor(100_003, "IT", "Edge", "tablet");
const F4: Visitor = visitor(100_004, "US", "Chrome", "desktop");

/// What [`few`] inserts (UTC, all on Nov 5).
const FEW_EVENTS: &[Event] = &[
    // F1, F2: two people in France with Opera on tablets, from Bing, on
    // /about, where each downloads something.
    view(F1, "2026-11-05 12:00:00", "/about", "bing.com"),
    custom(F1, "2026-11-05 12:01:00", "download", "/about"),
    view(F2, "2026-11-05 12:30:00", "/about", "bing.com"),
    custom(F2, "2026-11-05 12:31:00", "download", "/about"),
    // F3: one person in Italy with Edge, from DuckDuckGo, on /contact.
    view(F3, "2026-11-05 13:00:00", "/contact", "duckduckgo.com"),
    // F4: 6 views at 20:00 MST on Nov 4 (03:00 UTC), then 8 at 05:00 MST
    // on Nov 5 (12:00 UTC), the same UTC day: 14 views, capped at 10 in
    // the day, but 8 in Denver's Nov 5 (and 6 in its Nov 4).
    view(F4, "2026-11-05 03:00:00", "/", ""),
    view(F4, "2026-11-05 03:01:00", "/", ""),
    view(F4, "2026-11-05 03:02:00", "/", ""),
    view(F4, "2026-11-05 03:03:00", "/", ""),
    view(F4, "2026-11-05 03:04:00", "/", ""),
    view(F4, "2026-11-05 03:05:00", "/", ""),
    view(F4, "2026-11-05 12:00:00", "/", ""),
    view(F4, "2026-11-05 12:01:00", "/", ""),
    view(F4, "2026-11-05 12:02:00", "/", ""),
    view(F4, "2026-11-05 12:03:00", "/", ""),
    view(F4, "2026-11-05 12:04:00", "/", ""),
    view(F4, "2026-11-05 12:05:00", "/", ""),
    view(F4, "2026-11-05 12:06:00", "/", ""),
    view(F4, "2026-11-05 12:07:00", "/", ""),
];

/// An email open: campaign, UTC time, recipient (R1, R2, ...), whether an
/// image proxy fetched it (rather than the reader's mail client), country,
/// mail client.
struct Open(
    &'static str,
    &'static str,
    u64,
    bool,
    &'static str,
    &'static str,
);

const NOV: &str = "nov-newsletter";
const DEC: &str = "dec-newsletter";
const PROXIED: bool = true;
const DIRECT: bool = false;

impl Open {
    /// `(campaign, ts, recipient_id, proxied, country, client)`
    fn values(&self) -> String {
        let Open(campaign, at, recipient, proxied, country, client) = self;
        let proxied = u8::from(*proxied);
        format!("('{campaign}', '{at}', {recipient}, {proxied}, '{country}', '{client}')")
    }
}

/// Who opened which campaign when (UTC), how and where.
const OPENS: &[Open] = &[
    Open(NOV, "2026-11-01 15:00:00", 1, PROXIED, "", "Gmail"),
    Open(NOV, "2026-11-01 18:00:00", 1, PROXIED, "", "Gmail"),
    Open(NOV, "2026-11-01 16:00:00", 2, PROXIED, "", "Apple Mail"),
    Open(NOV, "2026-11-01 17:00:00", 3, DIRECT, "US", "Outlook"),
    Open(NOV, "2026-11-02 15:00:00", 4, DIRECT, "US", "Thunderbird"),
    Open(NOV, "2026-11-02 16:00:00", 5, DIRECT, "US", "Gmail"),
    Open(NOV, "2026-11-02 17:00:00", 6, PROXIED, "", "Gmail"),
    Open(DEC, "2026-11-02 17:00:00", 1, DIRECT, "US", "Gmail"),
    // R1 opens the December newsletter again, R2 for the first time.
    Open(DEC, "2026-11-05 09:00:00", 1, DIRECT, "US", "Gmail"),
    Open(DEC, "2026-11-05 10:00:00", 2, DIRECT, "US", "Gmail"),
];

/// A click on an email link: campaign, UTC time, recipient, the link's path
/// on optimumabq.com (empty for the honeypot), the request-time scanner
/// code (`enrich::scanner::Signal::code`).
struct Click(&'static str, &'static str, u64, &'static str, u8);

impl Click {
    /// `(campaign, ts, recipient_id, link_host, link_path, scanner, honeypot)`
    fn values(&self) -> String {
        let Click(campaign, at, recipient, path, scanner) = self;
        let (host, honeypot) = if path.is_empty() {
            ("", 1)
        } else {
            ("optimumabq.com", 0)
        };
        format!("('{campaign}', '{at}', {recipient}, '{host}', '{path}', {scanner}, {honeypot})")
    }
}

/// The honeypot link's path: none.
const HONEYPOT: &str = "";

/// Who clicked which link of the November newsletter when (UTC), people
/// and scanners. People: R3 seconds after their open (as Outlook loads the
/// pixel and the reader clicks), R4 two links a second apart after theirs,
/// R1 after a proxied open, R7 with no open (images blocked), and R9 and
/// R10 a day after their scanner's clicks. Scanners: R8's three links
/// within a second (burst), R9's honeypot and a link five seconds later
/// (honeypot, near_honeypot), R10's two links six seconds apart before any
/// open (early), and R11 to R14 as their requests showed (network,
/// prefetch, agent, old_browser).
const CLICKS: &[Click] = &[
    Click(NOV, "2026-11-01 17:00:04", 3, "/tour", 0),
    Click(NOV, "2026-11-02 15:00:30", 4, "/pricing", 0),
    Click(NOV, "2026-11-02 15:00:31", 4, "/tour", 0),
    Click(NOV, "2026-11-01 18:00:10", 1, "/tour", 0),
    Click(NOV, "2026-11-01 20:00:00", 7, "/pricing", 0),
    Click(NOV, "2026-11-01 14:00:00", 8, "/tour", 0),
    Click(NOV, "2026-11-01 14:00:00", 8, "/pricing", 0),
    Click(NOV, "2026-11-01 14:00:01", 8, "/blog", 0),
    Click(NOV, "2026-11-01 14:10:00", 9, HONEYPOT, 0),
    Click(NOV, "2026-11-01 14:10:05", 9, "/tour", 0),
    Click(NOV, "2026-11-02 09:00:00", 9, "/tour", 0),
    Click(NOV, "2026-11-01 14:20:00", 10, "/tour", 0),
    Click(NOV, "2026-11-01 14:20:06", 10, "/pricing", 0),
    Click(NOV, "2026-11-02 10:00:00", 10, "/pricing", 0),
    Click(NOV, "2026-11-01 14:30:00", 11, "/tour", 4),
    Click(NOV, "2026-11-01 14:31:00", 12, "/tour", 1),
    Click(NOV, "2026-11-01 14:32:00", 13, "/tour", 2),
    Click(NOV, "2026-11-01 14:33:00", 14, "/tour", 3),
];

/// What [`few`] inserts: two recipients in France with Spark, one in Italy
/// with Airmail, ids past every copy's.
const FEW_OPENS: &[Open] = &[
    Open(NOV, "2026-11-05 12:00:00", 100_001, DIRECT, "FR", "Spark"),
    Open(NOV, "2026-11-05 12:30:00", 100_002, DIRECT, "FR", "Spark"),
    Open(NOV, "2026-11-05 13:00:00", 100_003, DIRECT, "IT", "Airmail"),
];

/// What [`few`] clicks: one recipient, on a link nobody else clicks.
const FEW_CLICKS: &[Click] = &[Click(NOV, "2026-11-05 12:00:10", 100_001, "/jobs", 0)];

/// The statements that insert every known event, open and click,
/// [`COPIES`] times over.
pub fn inserts() -> [String; 3] {
    let copies = || (0..COPIES).map(|copy| copy * 1000);
    let events: Vec<String> = copies()
        .flat_map(|offset| {
            EVENTS.iter().map(move |event| {
                Event {
                    visitor: Visitor {
                        id: event.visitor.id + offset,
                        ..event.visitor
                    },
                    ..*event
                }
                .values()
            })
        })
        .collect();
    let opens: Vec<String> = copies()
        .flat_map(|offset| {
            OPENS.iter().map(
                move |Open(campaign, at, recipient, proxied, country, client)| {
                    Open(campaign, at, recipient + offset, *proxied, country, client).values()
                },
            )
        })
        .collect();
    let clicks: Vec<String> = copies()
        .flat_map(|offset| {
            CLICKS
                .iter()
                .map(move |Click(campaign, at, recipient, path, scanner)| {
                    Click(campaign, at, recipient + offset, path, *scanner).values()
                })
        })
        .collect();
    statements(&events, &opens, &clicks)
}

/// The statements that insert the events, opens and clicks of a few
/// people, once each.
pub fn few() -> [String; 3] {
    let events: Vec<String> = FEW_EVENTS.iter().map(Event::values).collect();
    let opens: Vec<String> = FEW_OPENS.iter().map(Open::values).collect();
    let clicks: Vec<String> = FEW_CLICKS.iter().map(Click::values).collect();
    statements(&events, &opens, &clicks)
}

fn statements(events: &[String], opens: &[String], clicks: &[String]) -> [String; 3] {
    [
        format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, referrer_host, country, browser, device) VALUES {}",
            events.join(", ")
        ),
        format!(
            "INSERT INTO email_opens (campaign, ts, recipient_id, proxied, country, client) VALUES {}",
            opens.join(", ")
        ),
        format!(
            "INSERT INTO email_clicks (campaign, ts, recipient_id, link_host, link_path, scanner, honeypot) VALUES {}",
            clicks.join(", ")
        ),
    ]
}
