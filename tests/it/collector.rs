//! End to end: a real clickhouse-server, the real binary, real HTTP hits, rows
//! read back with SQL.

use std::path::Path;

use crate::common::{self, CHROME, ClickHouse, Collector, FIREFOX, enc};

const GOOGLE_PROXY: &str =
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";

/// A migrated database and a collector trusting loopback as its proxy, with
/// the GeoIP fixture.
fn setup(prefix: &str) -> (&'static ClickHouse, String, Collector) {
    let geo_dir = tempfile::tempdir().unwrap().keep();
    let mmdb = geo_dir.join("city.mmdb");
    common::geoip::write_city_fixture(&mmdb);
    started(prefix, &with_geo(&mmdb))
}

/// A fresh migrated database and a collector on it with `config`.
fn started(prefix: &str, config: &str) -> (&'static ClickHouse, String, Collector) {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database(prefix);
    common::migrate(clickhouse, &database);
    let collector = Collector::start(clickhouse, &database, config);
    (clickhouse, database, collector)
}

/// The configuration of a collector trusting loopback as its proxy, with the
/// GeoIP database at `mmdb`.
fn with_geo(mmdb: &Path) -> String {
    format!(
        "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[geoip]\ndatabase = \"{}\"\n",
        mmdb.display()
    )
}

fn pixel(collector: &Collector, query: &str, headers: &[(&str, &str)]) {
    let response = collector.get(&format!("/p.gif?{query}"), headers);
    assert_eq!(response.status, 200, "{query}");
    assert_eq!(response.header("content-type"), Some("image/gif"));
    assert_eq!(
        response.header("cache-control"),
        Some("no-store, max-age=0")
    );
    assert!(response.body.starts_with(b"GIF89a"));
    assert!(response.header("set-cookie").is_none());
}

#[test]
fn page_views_events_and_opens_land_in_clickhouse() {
    let (clickhouse, db, collector) = setup("e2e");
    let page = "https://www.optimumabq.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=nov&email=jo%40example.com#plans";
    pixel(
        &collector,
        &format!(
            "site=optimumabq.com&url={}&ref={}&title=Password+reset+for+carol%40example.com",
            enc(page),
            enc("https://www.google.com/search?q=coworking")
        ),
        &[("User-Agent", CHROME), ("X-Forwarded-For", "81.2.69.142")],
    );
    let beacon = collector.post(
        "/api/event",
        br#"{"site":"optimumabq.com","url":"https://optimumabq.com/tour","ref":"https://optimumabq.com/","name":"book_tour","w":390}"#,
        &[
            ("Content-Type", "text/plain;charset=UTF-8"),
            ("User-Agent", FIREFOX),
            ("X-Forwarded-For", "2001:db8:1::7"),
        ],
    );
    assert_eq!(beacon.status, 202);
    assert!(beacon.body.is_empty());
    for rid in ["r-1", "r-1", "r-2"] {
        let response = collector.get(
            &format!("/o.gif?c=nov-newsletter&rid={rid}"),
            &[
                ("User-Agent", GOOGLE_PROXY),
                ("X-Forwarded-For", "192.0.2.10"),
            ],
        );
        assert_eq!(response.status, 200);
        assert!(response.body.starts_with(b"GIF89a"));
    }

    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 2);
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM email_opens"), 3);

    let pageview = clickhouse.query(
        &db,
        "SELECT site, name, path, referrer_host, utm_source, utm_medium, utm_campaign, country, region, city, browser, os, device FROM events WHERE name = 'pageview' FORMAT TSV",
    );
    assert_eq!(
        pageview.trim_end(),
        "optimumabq.com\tpageview\t/pricing\tgoogle.com\tnewsletter\temail\tnov\tGB\tGB-ENG\tLondon\tChrome\tWindows 10\tdesktop"
    );
    let event = clickhouse.query(
        &db,
        "SELECT name, path, referrer_host, country, region, city, browser, device FROM events WHERE name = 'book_tour' FORMAT TSV",
    );
    assert_eq!(
        event.trim_end(),
        "book_tour\t/tour\t\tUS\tUS-NM\tAlbuquerque\tFirefox\tdesktop"
    );
    let opens = clickhouse.query(
        &db,
        "SELECT campaign, count(), uniqExact(recipient_id), sum(proxied), any(country), any(client) FROM email_opens GROUP BY campaign FORMAT TSV",
    );
    assert_eq!(opens.trim_end(), "nov-newsletter\t3\t2\t3\tDE\tGmail");
    let timestamps = clickhouse.query(
        &db,
        "SELECT countIf(abs(toInt64(ts) - toInt64(now())) < 120) FROM events FORMAT TSV",
    );
    assert_eq!(timestamps.trim(), "2", "ts is the current UTC time");

    assert_eq!(collector.metric("beaconhouse_rows_stored_total"), 5);
    let (clean_exit, log) = collector.stop();
    assert!(
        clean_exit,
        "SIGTERM ends the collector with status 0:\n{log}"
    );
}

#[test]
fn refusals_are_answered_like_any_hit_and_stored_nowhere() {
    let (clickhouse, db, collector) = setup("refusals");
    let url = enc("https://optimumabq.com/private");
    let human = [("User-Agent", CHROME)];
    pixel(
        &collector,
        &format!("site=optimumabq.com&url={url}"),
        &[("User-Agent", CHROME), ("DNT", "1")],
    );
    pixel(
        &collector,
        &format!("site=optimumabq.com&url={url}"),
        &[("User-Agent", CHROME), ("Sec-GPC", "1")],
    );
    pixel(
        &collector,
        &format!("site=unknown.example&url={url}"),
        &human,
    );
    pixel(
        &collector,
        &format!(
            "site=optimumabq.com&url={}",
            enc("https://copycat.example/private")
        ),
        &human,
    );
    pixel(
        &collector,
        &format!("site=optimumabq.com&url={url}"),
        &[(
            "User-Agent",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        )],
    );
    pixel(&collector, &format!("site=optimumabq.com&url={url}"), &[]);
    let beacon = collector.post(
        "/api/event",
        br#"{"site":"optimumabq.com","url":"https://optimumabq.com/private"}"#,
        &[("User-Agent", CHROME), ("DNT", "1")],
    );
    assert_eq!(
        beacon.status, 202,
        "a refused beacon is answered as an accepted one"
    );
    let open = collector.get(
        "/o.gif?c=nov&rid=r-9",
        &[("User-Agent", CHROME), ("Sec-GPC", "1")],
    );
    assert_eq!(open.status, 200);

    // One accepted hit: the refused ones are missing because they were
    // refused, not because nothing was stored.
    pixel(
        &collector,
        &format!(
            "site=optimumabq.com&url={}",
            enc("https://optimumabq.com/ok")
        ),
        &human,
    );
    // Every answered hit is stored or dropped by now: nothing else will arrive.
    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 1);
    assert_eq!(
        clickhouse
            .query(&db, "SELECT groupArray(path) FROM events FORMAT TSV")
            .trim(),
        "['/ok']"
    );
    assert_eq!(
        clickhouse
            .query(&db, "SELECT count() FROM email_opens FORMAT TSV")
            .trim(),
        "0"
    );

    let dropped = |reason: &str| {
        collector.metric(&format!(
            "beaconhouse_hits_dropped_total{{reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(dropped("unknown_site"), 2);
    assert_eq!(
        dropped("bot"),
        2,
        "Googlebot and the request without a user agent"
    );
    assert_eq!(
        collector.metric("beaconhouse_hits_received_total{endpoint=\"pixel\"}"),
        5,
        "the two opted-out pixels are not even counted as received"
    );
    for endpoint in ["event", "email_open"] {
        let series = format!("beaconhouse_hits_received_total{{endpoint=\"{endpoint}\"}}");
        assert_eq!(collector.metric(&series), 0, "{series}");
    }
    let metrics = collector.counters().text().to_string();
    for word in ["dnt", "gpc"] {
        assert!(!metrics.contains(word), "{word} in\n{metrics}");
    }
}

/// The key the mail tool signs open pixels with, in `email.signing_key`.
const EMAIL_KEY: &str = "email-signing-key-0123456789abcdef0123456789";

#[test]
fn hits_that_cannot_show_where_they_come_from_are_not_counted() {
    let clickhouse = common::clickhouse();
    let db = clickhouse.fresh_database("pollution");
    common::migrate(clickhouse, &db);
    let email =
        format!("[email]\ncampaigns = [\"2026-*\", \"welcome\"]\nsigning_key = \"{EMAIL_KEY}\"\n");
    let collector = Collector::start(clickhouse, &db, &email);
    let ua = ("User-Agent", CHROME);
    // A page that names no host of the site and nothing saying it came from
    // the site's pages: no `url`, or a host-relative one, without a Referer
    // or Sec-Fetch-Site (what curl sends), or from another site.
    for (query, headers) in [
        ("site=optimumabq.com", vec![ua]),
        ("site=optimumabq.com&url=%2Fpricing", vec![ua]),
        (
            "site=optimumabq.com&url=%2Fpricing",
            vec![ua, ("Sec-Fetch-Site", "cross-site")],
        ),
        (
            "site=optimumabq.com&url=%2Fpricing",
            vec![ua, ("Referer", "https://copycat.example/pricing")],
        ),
    ] {
        pixel(&collector, query, &headers);
    }
    // What the site's own pages send: counted.
    pixel(
        &collector,
        "site=optimumabq.com&url=%2Fpricing",
        &[ua, ("Sec-Fetch-Site", "same-site")],
    );
    pixel(
        &collector,
        "site=optimumabq.com&url=%2Fabout",
        &[ua, ("Referer", "https://optimumabq.com/about")],
    );

    let open = |query: &str| {
        let response = collector.get(&format!("/o.gif?{query}"), &[ua]);
        assert_eq!(response.status, 200, "{query}");
        assert!(response.body.starts_with(b"GIF89a"));
    };
    let signed = |campaign: &str, recipient: &str| {
        let url = common::Beaconhouse::new()
            .config(collector.dir().join("beaconhouse.toml"))
            .email_url(campaign, recipient, "https://stats.optimumabq.com");
        assert!(url.contains("&sig="), "{url}");
        url.strip_prefix("https://stats.optimumabq.com")
            .unwrap()
            .to_string()
    };
    // Listed (as is or by prefix), unsigned: counted; a name that is an id
    // is scrubbed like a path.
    open("c=2026-11-newsletter&rid=r-1");
    open("c=2026-4155550123&rid=r-2");
    // Signed: counted.
    let welcome = signed("welcome", "r-3");
    let response = collector.get(&welcome, &[ua]);
    assert_eq!(response.status, 200);
    // Outside the alphabet, not listed, or signed wrongly: not counted.
    open("c=carol%40example.com&rid=r-4");
    open("c=2026-11%20newsletter&rid=r-5");
    open(&format!("c={}&rid=r-6", "2026-".repeat(30)));
    open("c=free-money&rid=r-7");
    open(&format!(
        "c=2026-11-newsletter&rid=r-8&sig={}",
        "0".repeat(64)
    ));
    let moved = welcome.replace("rid=r-3", "rid=r-9");
    assert_eq!(collector.get(&moved, &[ua]).status, 200);

    collector.settled();
    assert_eq!(
        clickhouse
            .query(
                &db,
                "SELECT arraySort(groupArray(path)) FROM events FORMAT TSV"
            )
            .trim(),
        "['/about','/pricing']"
    );
    assert_eq!(
        clickhouse
            .query(
                &db,
                "SELECT arraySort(groupArray(campaign)) FROM email_opens FORMAT TSV"
            )
            .trim(),
        "['2026-11-newsletter',':id','welcome']"
    );
    let dropped = |reason: &str| {
        collector.metric(&format!(
            "beaconhouse_hits_dropped_total{{reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(
        (
            dropped("unverified"),
            dropped("unknown_site"),
            dropped("invalid")
        ),
        (6, 1, 3),
        "unverified: 3 pages, 1 campaign not listed, 2 signatures"
    );

    // With email.require_signature, an unsigned open is not counted.
    let strict = Collector::start(
        clickhouse,
        &db,
        &format!("{email}require_signature = true\n"),
    );
    let response = strict.get("/o.gif?c=welcome&rid=r-10", &[ua]);
    assert_eq!(response.status, 200);
    let response = strict.get(&welcome, &[ua]);
    assert_eq!(response.status, 200);
    strict.settled();
    assert_eq!(
        strict.metric("beaconhouse_hits_dropped_total{reason=\"unverified\"}"),
        1
    );
    assert_eq!(
        clickhouse.number(
            &db,
            "SELECT count() FROM email_opens WHERE campaign = 'welcome'"
        ),
        2
    );
}

#[test]
fn metrics_are_served_on_the_admin_listener_only() {
    let (_clickhouse, _db, collector) = setup("admin");
    let public = collector.get("/metrics", &[]);
    assert_eq!(public.status, 404, "no /metrics where visitors reach");
    for path in ["/healthz", "/readyz"] {
        assert_eq!(collector.get(path, &[]).status, 200, "public {path}");
        let admin = common::request("GET", &format!("{}{path}", collector.admin), &[], &[]);
        assert_eq!(admin.status, 200, "admin {path}");
    }
    let admin = common::request("GET", &format!("{}/p.gif", collector.admin), &[], &[]);
    assert_eq!(admin.status, 404, "no hits on the admin listener");
    assert!(
        collector
            .counters()
            .text()
            .contains("beaconhouse_rows_stored_total")
    );
}

#[test]
fn visitor_ids_follow_address_and_browser_within_a_day() {
    let (clickhouse, db, collector) = setup("visitors");
    let hit = |path: &str, address: &str, agent: &str| {
        pixel(
            &collector,
            &format!(
                "site=optimumabq.com&url={}",
                enc(&format!("https://optimumabq.com{path}"))
            ),
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        )
    };
    hit("/a", "81.2.69.1", CHROME);
    hit("/b", "81.2.69.1", CHROME);
    hit("/c", "81.2.69.2", CHROME);
    hit("/d", "81.2.69.1", FIREFOX);
    // From an untrusted peer the header is ignored: this is the loopback peer.
    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 4);
    let ids = clickhouse.query(
        &db,
        "SELECT path, visitor_id FROM events ORDER BY path FORMAT TSV",
    );
    let ids: Vec<(String, String)> = ids
        .lines()
        .map(|l| {
            let (p, v) = l.split_once('\t').unwrap();
            (p.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(ids[0].1, ids[1].1, "same address and browser: same visitor");
    assert_ne!(ids[0].1, ids[2].1, "another address: another visitor");
    assert_ne!(ids[0].1, ids[3].1, "another browser: another visitor");
    let salts = clickhouse.query(&db, "SELECT count() FROM visitor_salts FORMAT TSV");
    assert_eq!(
        salts.trim(),
        "2",
        "today's and tomorrow's salts, nothing older"
    );
}

#[test]
fn bad_input_gets_a_clear_answer_and_loses_no_other_hit() {
    let (clickhouse, db, collector) = setup("badinput");
    let human = [("User-Agent", CHROME)];
    // Pixels always answer the GIF. These come from the site's pages, as a
    // browser says (a page without a host is counted only then).
    let from_the_site = [("User-Agent", CHROME), ("Sec-Fetch-Site", "same-site")];
    for query in [
        "".to_string(),
        "site=optimumabq.com".to_string(),
        "site=optimumabq.com&url=%E0%A4%A&ref=%ZZ".to_string(),
        format!("site=optimumabq.com&url={}", "a".repeat(6000)),
        "site=optimumabq.com&url=javascript%3Aalert(1)".to_string(),
        "site=%00%FF&url=http%3A%2F%2F%5B%3A%3A1".to_string(),
    ] {
        pixel(&collector, &query, &from_the_site);
    }
    for query in [
        "",
        "c=nov",
        "rid=x",
        "c=&rid=",
        &format!("c={}&rid=x", "c".repeat(500)),
    ] {
        let response = collector.get(&format!("/o.gif?{query}"), &human);
        assert_eq!(response.status, 200, "{query}");
        assert!(response.body.starts_with(b"GIF89a"));
    }
    let huge_agent = format!("Mozilla/5.0 {}", "x".repeat(6000));
    pixel(
        &collector,
        &format!(
            "site=optimumabq.com&url={}",
            enc("https://optimumabq.com/huge-agent")
        ),
        &[
            ("User-Agent", &huge_agent),
            ("X-Forwarded-For", "garbage, [2001:db8:1::9]:443"),
        ],
    );

    // The beacon answers 400 with a JSON error, or 413.
    for body in [
        &b"not json"[..],
        b"{\"url\":\"https://optimumabq.com/\"}",
        b"{\"site\": 5}",
        b"\xff\xfe\x00garbage",
        b"",
        b"[1,2,3]",
    ] {
        let response = collector.post("/api/event", body, &human);
        assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(body));
        let error: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| e.len() > 10),
            "{error}"
        );
    }
    let too_big = format!(
        r#"{{"site":"optimumabq.com","name":"{}"}}"#,
        "n".repeat(10_000)
    );
    let response = collector.post("/api/event", too_big.as_bytes(), &human);
    assert_eq!(response.status, 413);
    let error: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("4096"));

    let response = collector.get("/t.js", &[]);
    assert_eq!(response.status, 200);
    assert!(response.body.len() < 1536);
    assert!(
        response
            .header("cache-control")
            .unwrap()
            .contains("max-age")
    );

    // Other visitors' hits still land, with odd-but-valid input cleaned.
    pixel(
        &collector,
        &format!(
            "site=optimumabq.com&url={}",
            enc("https://optimumabq.com/caf%C3%A9?x=%FF")
        ),
        &human,
    );
    let response = collector.post(
        "/api/event",
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/beacon","name":"ünïcode ✓","w":"wide"}"#.as_bytes(),
        &human,
    );
    assert_eq!(response.status, 400, "w must be a number");
    let response = collector.post(
        "/api/event",
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/beacon","name":"ünïcode ✓","w":1e308,"extra":[1]}"#.as_bytes(),
        &[("User-Agent", CHROME), ("Content-Type", "application/json")],
    );
    assert_eq!(response.status, 202);

    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 4);
    let paths = clickhouse.query(
        &db,
        "SELECT arraySort(groupArray(path)) FROM events FORMAT TSV",
    );
    // `site=optimumabq.com` alone (no `url`, no `Referer`) from the site's
    // pages is a page view of an unknown page.
    assert_eq!(
        paths.trim(),
        "['(unknown)','/beacon','/café','/huge-agent']"
    );
    let names = clickhouse.query(
        &db,
        "SELECT name FROM events WHERE path = '/beacon' FORMAT TSV",
    );
    assert_eq!(names.trim(), "ünïcode ✓");
    let huge = clickhouse.query(
        &db,
        "SELECT country, browser FROM events WHERE path = '/huge-agent' FORMAT TSV",
    );
    assert_eq!(
        huge.trim_end_matches('\n'),
        "US\t",
        "the client behind a garbage hop is still located; a 6 kB user agent has no browser"
    );
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn no_address_token_or_user_agent_reaches_clickhouse_or_logs() {
    let (clickhouse, db, collector) = setup("privacy");
    let addresses = [
        "81.2.69.142",
        "2001:db8:1::abcd",
        "192.0.2.77",
        "198.51.100.23",
    ];
    let agent = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/121.0 PrivacyProbe/9.9.9";
    let token = "recipient-token-5f3c9e";
    for address in addresses {
        pixel(
            &collector,
            &format!(
                "site=optimumabq.com&url={}",
                enc("https://optimumabq.com/p?email=someone%40example.com")
            ),
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        );
        let _ = collector.post(
            "/api/event",
            br#"{"site":"optimumabq.com","url":"https://optimumabq.com/b?secret=hunter2"}"#,
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        );
        // Personal data where a site might put it: in the path, the title,
        // campaign values and an event name.
        pixel(
            &collector,
            &format!(
                "site=optimumabq.com&url={}&title={}",
                enc(
                    "https://optimumabq.com/u/carol.probe@example.org/reset/3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab;jsessionid=JSESSIONPROBE?utm_source=dave.probe@example.net&utm_campaign=9f86d081884c7d659a2feaa0c55ad015"
                ),
                enc("Password reset for erin.probe@example.com")
            ),
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        );
        let _ = collector.post(
            "/api/event",
            br#"{"site":"optimumabq.com","url":"https://optimumabq.com/orders/55512345","name":"paid a1b2c3d4e5f60718293a4b5c6d7e8f90"}"#,
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        );
        let _ = collector.get(
            &format!("/o.gif?c=privacy&rid={token}"),
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        );
        // An email link whose destination carries personal data in its
        // path and query, and one a DNT browser follows.
        let click = collector.get(
            &format!(
                "/l?c=privacy&rid={token}&u={}",
                enc("https://optimumabq.com/u/carol.probe@example.org/reset?secret=hunter2&utm_source=dave.probe@example.net")
            ),
            &[("User-Agent", agent), ("X-Forwarded-For", address)],
        );
        assert_eq!(click.status, 302);
        let _ = collector.get(
            &format!(
                "/l?c=privacy&rid={token}&u={}",
                enc("https://optimumabq.com/dnt-marker")
            ),
            &[
                ("User-Agent", agent),
                ("X-Forwarded-For", address),
                ("Sec-GPC", "1"),
            ],
        );
        pixel(
            &collector,
            &format!(
                "site=optimumabq.com&url={}",
                enc("https://optimumabq.com/dnt-marker")
            ),
            &[
                ("User-Agent", agent),
                ("X-Forwarded-For", address),
                ("DNT", "1"),
            ],
        );
    }
    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 16);
    assert_eq!(
        clickhouse
            .query(
                &db,
                "SELECT DISTINCT path, utm_source, utm_campaign, name FROM events WHERE path LIKE '/u/%' OR path LIKE '/orders/%' ORDER BY path FORMAT TSV"
            )
            .trim_end(),
        "/orders/:id\t\t\t:token\n/u/:email/reset/:uuid\t:email\t:token\tpageview",
        "personal data is stored as markers"
    );
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM email_opens"), 4);
    assert_eq!(
        clickhouse
            .query(
                &db,
                "SELECT DISTINCT link_host, link_path FROM email_clicks FORMAT TSV"
            )
            .trim_end(),
        "optimumabq.com\t/u/:email/reset",
        "a link's host and scrubbed path, no query"
    );
    assert_eq!(
        clickhouse.number(&db, "SELECT count() FROM email_clicks"),
        4
    );
    let (clean_exit, log, dir) = collector.stop_keeping_dir();
    assert!(clean_exit, "{log}");
    assert!(
        log.contains("TRACE"),
        "the log was captured at the finest level"
    );
    let mut on_disk = Vec::new();
    for entry in walk(&dir.path().join("spool")) {
        on_disk.extend(std::fs::read(&entry).unwrap());
    }
    assert!(
        on_disk.windows(14).any(|w| w == b"optimumabq.com"),
        "the spool holds the rows"
    );

    let tables = clickhouse.query(
        &db,
        &format!("SELECT name FROM system.tables WHERE database = '{db}' FORMAT TSV"),
    );
    let mut stored = String::new();
    for table in tables.lines() {
        stored.push_str(&clickhouse.query(&db, &format!("SELECT * FROM `{table}` FORMAT TSV")));
    }
    assert!(stored.contains("optimumabq.com"), "the dump has the rows");
    let forbidden = [
        "81.2.69.142",
        "81.2.69.",
        "2001:db8:1::abcd",
        "2001:db8:1:",
        "192.0.2.77",
        "198.51.100.23",
        "198.51.100.",
        token,
        "PrivacyProbe",
        agent,
        "someone",
        "example.com",
        "hunter2",
        "dnt-marker",
        "carol.probe",
        "3f2a9c1e",
        "JSESSIONPROBE",
        "dave.probe",
        "9f86d081",
        "erin.probe",
        "Password reset",
        "55512345",
        "a1b2c3d4e5f6",
    ];
    for needle in forbidden {
        assert!(!stored.contains(needle), "{needle:?} reached ClickHouse");
        assert!(!log.contains(needle), "{needle:?} reached the log");
        assert!(
            !on_disk
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "{needle:?} reached the spool on disk"
        );
    }
    for address in addresses {
        let octets: Vec<u8> = match address.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        assert!(
            !on_disk
                .windows(octets.len())
                .any(|w| w == octets.as_slice()),
            "{address} in binary form reached the spool"
        );
    }
    // Nor as numbers: ClickHouse could hold an address as IPv4 integer.
    for address in ["81.2.69.142", "192.0.2.77", "198.51.100.23"] {
        let number: u32 = address.parse::<std::net::Ipv4Addr>().unwrap().into();
        assert!(
            !stored.contains(&number.to_string()),
            "{address} as an integer"
        );
    }
}

#[test]
fn migrate_is_idempotent() {
    let clickhouse = common::clickhouse();
    let db = clickhouse.fresh_database("migrate");
    let first = common::migrate(clickhouse, &db);
    assert!(first.contains("applied 0001_events.sql"), "{first}");
    let second = common::migrate(clickhouse, &db);
    assert_eq!(second.trim(), "schema is up to date");
    let ledger = clickhouse.query(&db, "SELECT groupArray(version) FROM (SELECT version FROM schema_migrations ORDER BY version) FORMAT TSV");
    assert_eq!(ledger.trim(), common::every_migration());
    let engines = clickhouse.query(
        &db,
        &format!("SELECT name, partition_key FROM system.tables WHERE database = '{db}' AND name IN ('events','email_opens') ORDER BY name FORMAT TSV"),
    );
    assert_eq!(
        engines.trim(),
        "email_opens\ttoYYYYMM(ts)\nevents\ttoYYYYMM(ts)"
    );
}

#[test]
fn without_a_geoip_database_locations_are_empty_and_one_warning_is_logged() {
    let (clickhouse, db, collector) =
        started("nogeo", "[http]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    pixel(
        &collector,
        &format!("site=optimumabq.com&url={}", enc("https://optimumabq.com/")),
        &[("User-Agent", CHROME), ("X-Forwarded-For", "81.2.69.142")],
    );
    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 1);
    let location = clickhouse.query(
        &db,
        "SELECT concat(country, region, city) FROM events FORMAT TSV",
    );
    assert_eq!(location.trim(), "");
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
    assert_eq!(
        log.matches("no GeoIP database configured").count(),
        1,
        "{log}"
    );
}

/// geoipupdate replaces the file, then `systemctl reload` sends SIGHUP: the
/// next hits are located with the new database, none is lost, and a file
/// that cannot be read leaves the one read before in use.
#[test]
fn sighup_reads_a_replaced_geoip_database_without_losing_a_hit() {
    let geo_dir = tempfile::tempdir().unwrap();
    let mmdb = geo_dir.path().join("city.mmdb");
    common::geoip::write_city_fixture(&mmdb);
    let (clickhouse, db, collector) = started("georeload", &with_geo(&mmdb));
    let hit = |page: &str| {
        pixel(
            &collector,
            &format!(
                "site=optimumabq.com&url={}",
                enc(&format!("https://optimumabq.com/{page}"))
            ),
            &[("User-Agent", CHROME), ("X-Forwarded-For", "81.2.69.142")],
        )
    };
    let hang_up = |logged: &str| {
        let before = collector.log().matches(logged).count();
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &collector.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        common::eventually(
            "the collector answers SIGHUP in its log",
            std::time::Duration::from_secs(10),
            || {
                let log = collector.log();
                if log.matches(logged).count() > before {
                    Ok(())
                } else {
                    Err(log)
                }
            },
        );
    };

    hit("before");
    common::geoip::replace_with_country_database(&mmdb, &[("81.2.69.0/24", "IE")]);
    hang_up("GeoIP database read again");
    hit("after");
    std::fs::write(&mmdb, b"half a download").unwrap();
    hang_up("locations keep coming from the database read before");
    hit("after-a-bad-file");

    collector.settled();
    let rows = clickhouse.query(
        &db,
        "SELECT path, country, region, city FROM events ORDER BY ts, path FORMAT TSV",
    );
    let mut rows: Vec<&str> = rows.lines().collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            "/after\tIE\t\t",
            "/after-a-bad-file\tIE\t\t",
            "/before\tGB\tGB-ENG\tLondon",
        ]
    );
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
}

#[test]
fn collectors_agree_on_salts_and_old_salts_are_destroyed() {
    use beaconhouse::store::salt_keeper::SaltKeeper;
    let clickhouse = common::clickhouse();
    let db = clickhouse.fresh_database("salts");
    common::migrate(clickhouse, &db);
    let today = beaconhouse::clock::day_of(beaconhouse::clock::now_unix());
    for old in [today - 5, today - 2] {
        clickhouse.query(
            &db,
            &format!(
                "INSERT INTO visitor_salts VALUES (toDate({old}), '{}', now())",
                "a".repeat(64)
            ),
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = beaconhouse::config::ClickHouseConfig {
        urls: vec![clickhouse.url.clone()],
        database: db.clone(),
        user: "default".into(),
        password: String::new(),
        ca_file: None,
        cluster: None,
    };
    let (first, second) = runtime.block_on(async {
        let one = SaltKeeper::new(beaconhouse::store::clickhouse::Endpoints::new(&config).unwrap());
        let two = SaltKeeper::new(beaconhouse::store::clickhouse::Endpoints::new(&config).unwrap());
        one.rotate(today).await.unwrap();
        two.rotate(today).await.unwrap();
        (one.salts(), two.salts())
    });
    assert_eq!(first.visitor_salt(today), second.visitor_salt(today));
    assert_eq!(
        first.visitor_salt(today + 1),
        second.visitor_salt(today + 1)
    );
    assert_ne!(first.visitor_salt(today), first.visitor_salt(today + 1));
    assert_eq!(first.recipient_key(), second.recipient_key());
    let days = clickhouse.query(
        &db,
        "SELECT groupArray(d) FROM (SELECT DISTINCT toUInt16(day) AS d FROM visitor_salts ORDER BY d) FORMAT TSV",
    );
    assert_eq!(
        days.trim(),
        format!("[{today},{}]", today + 1),
        "days before yesterday are gone"
    );
    let keys = clickhouse.query(&db, "SELECT count() FROM recipient_keys FORMAT TSV");
    assert_eq!(
        keys.trim(),
        "1",
        "the second collector adopted the first one's key"
    );
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The strict level: page views and events from the networks listed in
/// `filter.datacenter_networks` are answered like any hit, counted under
/// `datacenter`, and stored nowhere; email opens from them still count (a
/// mail scanner's fetch is marked `proxied` there, not dropped), and other
/// addresses are visits.
#[test]
fn datacenter_networks_are_answered_and_not_counted() {
    let (clickhouse, db, collector) = started(
        "datacenter",
        "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[filter]\ndatacenter_networks = [\"192.0.2.0/24\", \"2001:db8:1::/48\"]\n",
    );
    let page = |from: &str, path: &str| {
        let query = format!(
            "site=optimumabq.com&url={}",
            common::enc(&format!("https://optimumabq.com{path}"))
        );
        pixel(
            &collector,
            &query,
            &[("User-Agent", CHROME), ("X-Forwarded-For", from)],
        );
    };
    page("192.0.2.10", "/from-a-server");
    page("2001:db8:1::7", "/from-a-server-v6");
    let beacon = collector.post(
        "/api/event",
        br#"{"site":"optimumabq.com","url":"https://optimumabq.com/tour","name":"book_tour"}"#,
        &[
            ("Content-Type", "text/plain;charset=UTF-8"),
            ("User-Agent", FIREFOX),
            ("X-Forwarded-For", "192.0.2.11"),
        ],
    );
    assert_eq!(beacon.status, 202);
    let open = collector.get(
        "/o.gif?c=nov-newsletter&rid=r-1",
        &[("User-Agent", CHROME), ("X-Forwarded-For", "192.0.2.12")],
    );
    assert_eq!(open.status, 200);
    page("81.2.69.142", "/from-a-person");
    let counters = collector.settled();
    assert_eq!(counters.dropped_for("datacenter"), 3);
    let stored = clickhouse.query(&db, "SELECT path FROM events FORMAT TSV");
    assert_eq!(stored.trim(), "/from-a-person");
    let opens = clickhouse.number(&db, "SELECT count() FROM email_opens");
    assert_eq!(opens, 1, "an open is not a page view: the level leaves it");
}

/// Referrer spam, from the shipped list and the operator's additions, and
/// their subdomains, is answered like any hit and counted under its own
/// reason; a removed host, and ordinary referrers, are counted as visits.
#[test]
fn referrer_spam_is_answered_and_not_counted() {
    let (clickhouse, db, collector) = started(
        "spam",
        "[filter]\nreferrer_spam_add = [\"spam.example\"]\nreferrer_spam_remove = [\"0-0.fr\"]\n",
    );
    let page = |referrer: &str| {
        let query = format!(
            "site=optimumabq.com&url={}&ref={}",
            common::enc("https://optimumabq.com/pricing"),
            common::enc(referrer)
        );
        pixel(&collector, &query, &[("User-Agent", CHROME)]);
    };
    // Listed (shipped, a subdomain of a shipped one, the operator's).
    page("https://007agent-i.fr/");
    page("http://www.zvuker.net/some/page");
    page("https://promo.spam.example/");
    // Not spam: removed by the operator, an ordinary one, a look-alike.
    page("https://0-0.fr/");
    page("https://www.google.com/search");
    page("https://notzvuker.net/");
    let counters = collector.settled();
    assert_eq!(counters.dropped_for("referrer_spam"), 3);
    let stored = clickhouse.query(
        &db,
        "SELECT arrayStringConcat(groupArray(referrer_host), ' ') FROM (SELECT referrer_host FROM events ORDER BY referrer_host) FORMAT TSV",
    );
    assert_eq!(stored.trim(), "0-0.fr google.com notzvuker.net");
}

/// Properties: the site's allowed keys are stored, scrubbed and cut; a key
/// it did not allow (a careless `email`) is stored nowhere, nor a value
/// that is an address; the tracker's own events keep their own key; a
/// site that routes by fragment keeps the route in the path.
#[test]
fn event_properties_keep_only_allowed_keys_scrubbed() {
    // Keys written first belong to `SITE_TOML`'s `[[sites]]` table.
    let (clickhouse, db, collector) = started(
        "props",
        "props = [\"plan\", \"location\", \"note\"]\n[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
    );
    let long = "n".repeat(300);
    let bodies = [
        format!(
            r#"{{"site":"optimumabq.com","url":"https://optimumabq.com/tour","name":"book_tour","props":{{"plan":"monthly","location":"Downtown","email":"carol@example.com","note":"{long}","seats":3}}}}"#
        ),
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/tour","name":"book_tour","props":{"plan":"carol@example.com","location":""}}"#.into(),
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/tour","name":"book_tour","props":"plan=monthly"}"#.into(),
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/blog","name":"outbound","props":{"host":"Docs.Example.org","path":"/private"}}"#.into(),
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/blog","name":"download","props":{"file":"/files/price-list.pdf?t=abc"}}"#.into(),
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/app#/settings?tab=carol","h":1}"#.into(),
        r#"{"site":"optimumabq.com","url":"https://optimumabq.com/app#/ignored"}"#.into(),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let response = collector.post(
            "/api/event",
            body.as_bytes(),
            &[
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("User-Agent", FIREFOX),
                ("X-Forwarded-For", &format!("81.2.69.{}", 10 + i)),
            ],
        );
        assert_eq!(response.status, 202, "{body}");
    }
    collector.settled();
    let rows = clickhouse.query(
        &db,
        "SELECT name, path, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', substring(v, 1, 12), '/', toString(lengthUTF8(v))), prop_keys, prop_values), ' ') FROM events ORDER BY name, path, length(prop_keys) DESC FORMAT TSV",
    );
    assert_eq!(
        rows.trim_end_matches('\n'),
        [
            "book_tour\t/tour\tlocation=Downtown/8 note=nnnnnnnnnnnn/256 plan=monthly/7",
            "book_tour\t/tour\tplan=:email/6",
            "book_tour\t/tour\t",
            "download\t/blog\tfile=/files/price/21",
            "outbound\t/blog\thost=docs.example/16",
            "pageview\t/app\t",
            "pageview\t/app#/settings\t",
        ]
        .join("\n")
    );
    let everything = clickhouse.query(&db, "SELECT * FROM events FORMAT TSV");
    for never in ["carol", "example.com", "private", "t=abc", "tab="] {
        assert!(!everything.contains(never), "{never} was stored");
    }
}

/// Hits answered but not counted are counted, per configured site, reason
/// and bot kind, in `filtered_hits` (written at the latest when the
/// collector stops); a site that is not configured is counted under none,
/// and a request with Do-Not-Track or Global Privacy Control nowhere.
#[test]
fn filtered_traffic_is_counted_per_site_reason_and_kind_and_opt_outs_nowhere() {
    let (clickhouse, db, collector) = started(
        "filtered",
        "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[filter]\ndatacenter_networks = [\"192.0.2.0/24\"]\nreferrer_spam_add = [\"spam.example\"]\n",
    );
    let page = |site: &str, url: &str, referrer: &str, headers: &[(&str, &str)]| {
        let query = format!(
            "site={site}&url={}&ref={}",
            common::enc(url),
            common::enc(referrer)
        );
        pixel(&collector, &query, headers);
    };
    let home = "https://optimumabq.com/";
    let curl = [("User-Agent", "curl/8.5.0")];
    page("optimumabq.com", home, "", &curl);
    page("optimumabq.com", home, "", &curl);
    page(
        "optimumabq.com",
        home,
        "",
        &[(
            "User-Agent",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        )],
    );
    page("optimumabq.com", home, "", &[]);
    page(
        "optimumabq.com",
        "https://copied.example/",
        "",
        &[("User-Agent", CHROME)],
    );
    page(
        "evil.example",
        "https://evil.example/",
        "",
        &[("User-Agent", CHROME)],
    );
    page(
        "optimumabq.com",
        home,
        "https://promo.spam.example/",
        &[("User-Agent", CHROME)],
    );
    page(
        "optimumabq.com",
        home,
        "",
        &[("User-Agent", CHROME), ("X-Forwarded-For", "192.0.2.10")],
    );
    let invalid = collector.post("/api/event", b"{not json", &[("User-Agent", CHROME)]);
    assert_eq!(invalid.status, 400);
    // Opted out: answered, counted nowhere, whatever else they are.
    page("optimumabq.com", home, "", &[curl[0], ("DNT", "1")]);
    page(
        "evil.example",
        home,
        "",
        &[("User-Agent", CHROME), ("Sec-GPC", "1")],
    );
    // A person's page view is stored.
    page("optimumabq.com", home, "", &[("User-Agent", CHROME)]);
    let counters = collector.settled();
    assert_eq!(counters.dropped(), 9, "{}", counters.text());
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
    let counted = clickhouse.query(
        &db,
        "SELECT site, reason, kind, sum(hits) FROM filtered_hits GROUP BY site, reason, kind ORDER BY site, reason, kind FORMAT TSV",
    );
    assert_eq!(
        counted.trim_end(),
        [
            "\tinvalid\t\t1",
            "\tunknown_site\t\t1",
            "optimumabq.com\tbot\tcrawler\t1",
            "optimumabq.com\tbot\tlibrary\t2",
            "optimumabq.com\tbot\tno_user_agent\t1",
            "optimumabq.com\tdatacenter\t\t1",
            "optimumabq.com\treferrer_spam\t\t1",
            "optimumabq.com\tunknown_site\t\t1",
        ]
        .join("\n")
    );
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 1);
    let hours = clickhouse.number(
        &db,
        "SELECT count() FROM filtered_hits WHERE toMinute(hour) != 0 OR toSecond(hour) != 0",
    );
    assert_eq!(hours, 0, "counted per hour");
}
