//! Email clicks (`GET /l`) end to end: the real binary, real HTTP clicks, a
//! real clickhouse-server. Where a click goes (a redirect only to an allowed
//! host or a signed destination, else a page that sends nowhere), what is
//! stored of it (the link's host and path, never its query, the token, the
//! address or the user agent), DNT and GPC (sent on, recorded nowhere),
//! what each request-time scanner signal stores, the timing patterns of
//! scanners clicked over HTTP told from people's clicks, and the reports'
//! SQL held to `enrich::scanner::classify` on random clicks and opens.

use beaconhouse::enrich::campaign::{SigningKey, link_signature};

use crate::common::{self, CHROME, ClickHouse, Collector, enc};

const KEY: &str = "email-signing-key-0123456789abcdef0123";

/// Links to the site's hosts and to `*.optimumabq.events` go unsigned;
/// anything else needs the signature.
const CONFIG: &str = r#"
[http]
trusted_proxies = ["127.0.0.1/32"]

[email]
link_hosts = ["*.optimumabq.events"]
signing_key = "email-signing-key-0123456789abcdef0123"
"#;

fn started(prefix: &str) -> (&'static ClickHouse, String, Collector) {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database(prefix);
    common::migrate(clickhouse, &database);
    let collector = Collector::start(clickhouse, &database, CONFIG);
    (clickhouse, database, collector)
}

/// `/l` for `rid` leading to `u`, with more query parameters.
fn link(rid: &str, u: &str, more: &str) -> String {
    format!("/l?c=nov&rid={rid}&u={}{more}", enc(u))
}

fn signed(rid: &str, u: &str) -> String {
    let sig = link_signature(&SigningKey::new(KEY.into()), "nov", rid, u);
    link(rid, u, &format!("&sig={sig}"))
}

/// Request headers of one click.
type Headers<'a> = &'a [(&'a str, &'a str)];

fn browser() -> Vec<(&'static str, &'static str)> {
    vec![("User-Agent", CHROME), ("X-Forwarded-For", "203.0.113.9")]
}

#[test]
fn links_redirect_only_where_vouched_and_keep_host_and_path_alone() {
    let (clickhouse, db, collector) = started("clicks_redirect");
    let redirected = |path: &str, headers: &[(&str, &str)], to: &str| {
        let response = collector.get(path, headers);
        assert_eq!(response.status, 302, "{path}");
        assert_eq!(response.header("location"), Some(to), "{path}");
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        assert!(response.header("set-cookie").is_none());
    };
    // A site's own host, with a query and a fragment that go along but are
    // not kept; a path of personal data, kept scrubbed.
    let tour = "https://www.optimumabq.com/tour/?utm_source=nov&email=jo%40example.com#book";
    redirected(&link("r-1", tour, ""), &browser(), tour);
    let member = "https://tickets.optimumabq.events/members/jo.probe@example.com/3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab";
    redirected(&link("r-2", member, ""), &browser(), member);
    // Elsewhere, signed by the mail tool.
    let partner = "https://partner.example/offer?code=NOV26";
    redirected(&signed("r-3", partner), &browser(), partner);

    // Elsewhere, unsigned or signed for another destination or recipient:
    // a page that shows the address and sends nowhere.
    let phish = "https://evil.example/login?next=<script>";
    for path in [
        link("r-4", phish, ""),
        link("r-4", phish, "&sig=00"),
        format!(
            "{}&sig={}",
            link("r-4", phish, ""),
            link_signature(&SigningKey::new(KEY.into()), "nov", "r-4", partner)
        ),
        link(
            "r-5",
            phish,
            &format!(
                "&sig={}",
                link_signature(&SigningKey::new(KEY.into()), "nov", "r-4", phish)
            ),
        ),
        // A host the site has, after a user name: the host is evil.example.
        link("r-4", "https://optimumabq.com@evil.example/", ""),
    ] {
        let response = collector.get(&path, &browser());
        let body = String::from_utf8_lossy(&response.body);
        match response.status {
            200 => {
                assert!(
                    body.contains("https://evil.example/login?next=&lt;script&gt;"),
                    "{body}"
                );
                assert!(!body.contains("<script>"), "escaped: {body}");
            }
            400 => assert!(path.contains("%40evil.example"), "{path}"),
            other => panic!("{path} answered {other}"),
        }
        assert_eq!(response.header("location"), None, "{path}");
        assert!(!body.contains("href"), "no link to follow: {body}");
        assert_eq!(
            response.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
    }
    // No destination, or none a browser may go to: 400, nowhere.
    for u in ["", "javascript:alert(1)", "//evil.example/", "/tour"] {
        let response = collector.get(&link("r-6", u, ""), &browser());
        assert_eq!(response.status, 400, "{u:?}");
        assert_eq!(response.header("location"), None);
    }
    let response = collector.get("/l?c=nov&rid=r-6", &browser());
    assert_eq!(response.status, 400);

    // The honeypot: nothing there, and the click stored.
    let response = collector.get("/l?c=nov&rid=r-7&h=1", &browser());
    assert_eq!(response.status, 200);
    assert_eq!(response.header("location"), None);
    assert!(String::from_utf8_lossy(&response.body).contains("Nothing here"));

    // DNT and GPC: sent on all the same, recorded nowhere, not even counted.
    let before = collector.counters();
    for (name, value) in [("DNT", "1"), ("Sec-GPC", "1")] {
        let mut headers = browser();
        headers.push((name, value));
        redirected(&link("r-8", tour, ""), &headers, tour);
        let response = collector.get(&link("r-8", phish, ""), &headers);
        assert_eq!((response.status, response.header("location")), (200, None));
    }
    let after = collector.counters();
    assert_eq!(
        after.received(),
        before.received(),
        "opted out: not counted"
    );

    let counters = collector.settled();
    // Stored: the site's host, the scrubbed path, the signed partner, the
    // honeypot. Refused destinations are `unverified`; links without one
    // `invalid`.
    assert_eq!(
        clickhouse
            .query(
                &db,
                "SELECT link_host, link_path, scanner, honeypot FROM email_clicks ORDER BY link_host, link_path FORMAT TSV"
            )
            .trim_end(),
        "\t\t0\t1\npartner.example\t/offer\t0\t0\ntickets.optimumabq.events\t/members/:email/:uuid\t0\t0\nwww.optimumabq.com\t/tour/\t0\t0"
    );
    assert_eq!(counters.dropped_for("unverified"), 4);
    assert_eq!(counters.dropped_for("invalid"), 6);
    assert_eq!(
        collector.metric("beaconhouse_hits_received_total{endpoint=\"email_click\"}"),
        14
    );
    let recipients = clickhouse.number(&db, "SELECT uniqExact(recipient_id) FROM email_clicks");
    assert_eq!(recipients, 4, "r-1, r-2, r-3 and r-7");
    let stored = clickhouse.query(&db, "SELECT * FROM email_clicks FORMAT TSV");
    for needle in [
        "utm_source",
        "NOV26",
        "jo",
        "example.com",
        "book",
        "r-1",
        "203.0.113",
    ] {
        assert!(!stored.contains(needle), "{needle} stored: {stored}");
    }
}

#[test]
fn a_click_from_the_same_recipient_has_the_id_of_their_opens() {
    let (clickhouse, db, collector) = started("clicks_recipient");
    let tour = "https://optimumabq.com/tour";
    collector.get("/o.gif?c=nov&rid=r-1", &browser());
    collector.get(&link("r-1", tour, ""), &browser());
    collector.get(&link("r-2", tour, ""), &browser());
    collector.settled();
    assert_eq!(
        clickhouse.number(
            &db,
            "SELECT count() FROM email_clicks WHERE recipient_id IN (SELECT recipient_id FROM email_opens)"
        ),
        1
    );
}

#[test]
fn each_request_signal_of_a_scanner_is_stored_with_its_click() {
    let (clickhouse, db, collector) = started("clicks_signals");
    let tour = "https://optimumabq.com/tour";
    let old_chrome = "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.101 Safari/537.36";
    let cases: &[(&str, Headers)] = &[
        ("person", &[("User-Agent", CHROME)]),
        (
            "purpose",
            &[("User-Agent", CHROME), ("Purpose", "prefetch")],
        ),
        (
            "sec-purpose",
            &[
                ("User-Agent", CHROME),
                ("Sec-Purpose", "prefetch;prerender"),
            ],
        ),
        ("x-moz", &[("User-Agent", CHROME), ("X-Moz", "prefetch")]),
        ("agent", &[("User-Agent", "python-requests/2.31.0")]),
        ("no-agent", &[]),
        ("old", &[("User-Agent", old_chrome)]),
        (
            "network",
            &[("User-Agent", CHROME), ("X-Forwarded-For", "40.107.12.34")],
        ),
    ];
    for (rid, headers) in cases {
        let response = collector.get(&link(rid, tour, ""), headers);
        assert_eq!(response.status, 302, "{rid}");
        assert_eq!(response.header("location"), Some(tour));
    }
    // A check of the link by HEAD: the same redirect, and a prefetch.
    let head = common::request(
        "HEAD",
        &format!("{}{}", collector.base, link("head", tour, "")),
        &[],
        &[("User-Agent", CHROME)],
    );
    assert_eq!(head.status, 302);
    // An open from a scanner network is an open like any other: the
    // network rule is for clicks only.
    collector.get(
        "/o.gif?c=nov&rid=network",
        &[("User-Agent", CHROME), ("X-Forwarded-For", "40.107.12.34")],
    );
    collector.settled();
    let stored = clickhouse.query(
        &db,
        "SELECT recipient_id, scanner FROM email_clicks FORMAT TSV",
    );
    assert_eq!(stored.lines().count(), cases.len() + 1, "{stored}");
    // Counted by code: one person; the purpose headers and HEAD; a
    // library and no user agent; Chrome 41; the Microsoft network.
    let by_code = clickhouse.query(
        &db,
        "SELECT scanner, count() FROM email_clicks GROUP BY scanner ORDER BY scanner FORMAT TSV",
    );
    assert_eq!(by_code.trim_end(), "0\t1\n1\t4\n2\t2\n3\t1\n4\t1");
    assert_eq!(
        clickhouse
            .query(
                &db,
                "SELECT count(), sum(proxied) FROM email_opens FORMAT TSV"
            )
            .trim_end(),
        "1\t0"
    );
    // The scanner network's click and its open are one recipient's.
    assert_eq!(
        clickhouse.number(
            &db,
            "SELECT count() FROM email_clicks WHERE scanner = 4 AND recipient_id IN (SELECT recipient_id FROM email_opens)"
        ),
        1
    );
}

#[test]
fn scanner_patterns_clicked_over_http_are_told_from_people() {
    let (clickhouse, db, collector) = started("clicks_patterns");
    let at = |path: &str| format!("https://optimumabq.com{path}");
    let click = |rid: &str, path: &str| {
        let response = collector.get(&link(rid, &at(path), ""), &browser());
        assert_eq!(response.status, 302, "{rid} {path}");
    };
    // A reader in Outlook: the pixel as the message shows, the click
    // seconds later; another whose client blocks images, one click.
    collector.get("/o.gif?c=nov&rid=outlook", &browser());
    click("outlook", "/people/outlook");
    click("blocked", "/people/blocked");
    // A gateway: every link of the message at once.
    for path in ["/burst/a", "/burst/b", "/burst/c"] {
        click("burst", path);
    }
    // Another: the honeypot, and a link right after it.
    assert_eq!(
        collector
            .get("/l?c=nov&rid=honeypot&h=1", &browser())
            .status,
        200
    );
    click("honeypot", "/honeypot/after");
    // Another, before any open: two links, as fast as a script goes.
    click("early", "/early/a");
    click("early", "/early/b");
    collector.settled();
    let until = beaconhouse::clock::now_unix() + 60;
    let statement = beaconhouse::report::sql::classified_clicks(Some("nov"), until);
    let classified = clickhouse.query(
        &db,
        &format!(
            "SELECT link, signal FROM ({}) ORDER BY link FORMAT TSV",
            statement.bound_text()
        ),
    );
    // The burst's three links are within 2 s, so it is a burst before it
    // is early; the early recipient's two links are early.
    assert_eq!(
        classified.trim_end_matches('\n'),
        "\thoneypot\n\
         optimumabq.com/burst/a\tburst\n\
         optimumabq.com/burst/b\tburst\n\
         optimumabq.com/burst/c\tburst\n\
         optimumabq.com/early/a\tearly\n\
         optimumabq.com/early/b\tearly\n\
         optimumabq.com/honeypot/after\tnear_honeypot\n\
         optimumabq.com/people/blocked\t\n\
         optimumabq.com/people/outlook\t"
    );
}

/// A small deterministic generator (a linear congruential one), so a
/// failing case can be run again.
struct Draws(u64);

impl Draws {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn the_reports_classify_clicks_as_the_scanner_rules_say() {
    use beaconhouse::enrich::scanner::{self, Hit, LOOKAHEAD_SECONDS, Signal};
    use beaconhouse::report::sql;
    use std::collections::BTreeMap;

    let clickhouse = common::clickhouse();
    let db = clickhouse.fresh_database("clicks_rules");
    common::migrate(clickhouse, &db);
    // 400 recipients, each with up to 8 hits within 40 seconds (dense
    // enough for every rule to apply to some and not to others), of four
    // links, the honeypot, stored request signals and opens.
    let base: u32 = 1_793_613_600;
    let until = base + 30;
    let mut draws = Draws(20_261_102);
    let mut hits: BTreeMap<u64, Vec<Hit>> = BTreeMap::new();
    let (mut clicks, mut opens) = (Vec::new(), Vec::new());
    for recipient in 1..=400u64 {
        for _ in 0..=draws.below(8) {
            let at = base + draws.below(41) as u32;
            let hit = match draws.below(10) {
                0..=2 => Hit::Open { at },
                3 => Hit::Click {
                    at,
                    link: String::new(),
                    honeypot: true,
                    request: None,
                },
                kind => Hit::Click {
                    at,
                    link: format!("optimumabq.com/{}", draws.below(4)),
                    honeypot: false,
                    request: (kind == 4).then(|| Signal::REQUEST[draws.below(4) as usize]),
                },
            };
            match &hit {
                Hit::Open { at } => opens.push(format!("('c', {at}, {recipient}, 0)")),
                Hit::Click {
                    at,
                    link,
                    honeypot,
                    request,
                } => {
                    let (host, path) = link.split_at(link.find('/').unwrap_or(0));
                    clicks.push(format!(
                        "('c', {at}, {recipient}, '{host}', '{path}', {}, {})",
                        request.map_or(0, Signal::code),
                        u8::from(*honeypot)
                    ));
                }
            }
            hits.entry(recipient).or_default().push(hit);
        }
    }
    // Another campaign's hits change nothing.
    clicks.push(format!(
        "('other', {base}, 1, 'optimumabq.com', '/9', 0, 1)"
    ));
    clickhouse.query(
        &db,
        &format!(
            "INSERT INTO email_clicks (campaign, ts, recipient_id, link_host, link_path, scanner, honeypot) VALUES {}",
            clicks.join(", ")
        ),
    );
    clickhouse.query(
        &db,
        &format!(
            "INSERT INTO email_opens (campaign, ts, recipient_id, proxied) VALUES {}",
            opens.join(", ")
        ),
    );

    // What the model says of the hits the statement reads.
    let read_until = until + LOOKAHEAD_SECONDS;
    let mut expected = Vec::new();
    let mut flagged = BTreeMap::new();
    for (recipient, hits) in &hits {
        let read: Vec<Hit> = hits
            .iter()
            .filter(|hit| match hit {
                Hit::Open { at } | Hit::Click { at, .. } => *at < read_until,
            })
            .cloned()
            .collect();
        for (hit, signal) in read.iter().zip(scanner::classify(&read)) {
            if let Hit::Click { at, link, .. } = hit {
                let name = signal.map_or("", Signal::name);
                *flagged.entry(name).or_insert(0) += 1;
                expected.push(format!("{recipient}\t{at}\t{link}\t{name}"));
            }
        }
    }
    expected.sort();
    let statement = sql::classified_clicks(Some("c"), until);
    let answer = clickhouse.query(
        &db,
        &format!(
            "SELECT recipient_id, at, link, signal FROM ({}) FORMAT TSV",
            statement.bound_text()
        ),
    );
    let mut got: Vec<String> = answer.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }
    // Every signal and people's clicks are among them.
    for signal in Signal::ALL {
        assert!(
            flagged.get(signal.name()).is_some_and(|n| *n > 0),
            "{flagged:?}"
        );
    }
    assert!(flagged[""] > 0, "{flagged:?}");
}
