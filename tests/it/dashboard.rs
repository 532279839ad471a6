//! The dashboard against a real ClickHouse and the real binary: sign-in,
//! sessions and shared links over HTTP, then the page itself in Debian's
//! Chromium, driven by `tests/browser/dashboard.py` (Python Playwright,
//! pointed at `/usr/bin/chromium`; `tests/run.sh` installs both); and the
//! page's pure day and period functions and its requests under their own
//! tests in the same Chromium (`tests/browser/unit.py`); and three people on
//! the dashboard at once on a busy day (`tests/browser/crowd.py`).
//!
//! Seeded data: about 1,200 visitors over the last four weeks (some 45 a
//! day, so the release step's threshold lets a month's breakdowns show)
//! plus a few today, on a site whose reports are in America/Denver; two of
//! them from France, so `country==FR` is withheld; a campaign opened by 90
//! recipients, 70 of whom clicked its links, and whose links a mail
//! scanner clicked for 100 others; a small one opened (and clicked) by two,
//! and one the token may not read.
//! The site keeps two event properties and has three goals and two
//! funnels: some 350 visitors book a tour (a custom event with `plan` and
//! `location`), 300 of them after `/pricing` then `/tour`, where 150 go on
//! to book; three send the contact form, so that goal and the last step of
//! the funnel that ends with it are withheld. Hits not counted
//! (`filtered_hits`): bots of three kinds, referrer spam, hits from
//! elsewhere, unverifiable and malformed ones over the past weeks, none
//! for the other reasons, and some of another site's. Locations come from
//! a database that names itself DB-IP's, whose credit the page shows.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{self, Beaconhouse, ClickHouse, Collector, Response, released};
use beaconhouse::grant::{Holder, Link, Session, Signed};
use beaconhouse::http::access::SESSION_COOKIE;
use serde_json::Value;

const TOKEN: &str = "dashboard-token-0123456789abcdef0123456789";
const SHARE_KEY: &str = "share-key-0123456789abcdef0123456789abcdef";
const SITE: &str = "optimumabq.com";
const CAMPAIGN: &str = "2026-11-newsletter";

/// Appended to `common::SITE_TOML`: its first line still belongs to that
/// `[[sites]]` table.
const CONFIG_TOML: &str = r#"time_zone = "America/Denver"
props = ["plan", "location"]

[[sites.goals]]
name = "Book a tour"
event = "book_tour"

[[sites.goals]]
name = "Read the blog"
page = "/blog/*"

[[sites.goals]]
name = "Contact form"
event = "contact_sent"

[[sites.funnels]]
name = "Tour booking"
steps = [{ page = "/pricing" }, { page = "/tour" }, { goal = "Book a tour" }]

[[sites.funnels]]
name = "Blog to contact"
steps = [{ goal = "Read the blog" }, { goal = "Contact form" }]

[[sites]]
id = "elsewhere.example"
hostnames = ["elsewhere.example"]

# The browser test's email links lead to the dashboard itself.
[email]
link_hosts = ["127.0.0.1"]

[reporting]
share_key = "share-key-0123456789abcdef0123456789abcdef"
session_key = "session-key-0123456789abcdef0123456789abcd"

[[reporting.tokens]]
name = "marketing"
token = "dashboard-token-0123456789abcdef0123456789"
sites = ["optimumabq.com"]
campaigns = ["2026-11-newsletter", "2026-10-small"]

[[reporting.tokens]]
name = "agency"
token = "agency-token-0123456789abcdef0123456789ab"
sites = ["optimumabq.com"]
"#;
/// The second token's, for a colleague behind the same address.
const AGENCY_TOKEN: &str = "agency-token-0123456789abcdef0123456789ab";

struct Visitor {
    id: u64,
    country: (&'static str, &'static str, &'static str),
    browser: &'static str,
    os: &'static str,
    device: &'static str,
    referrer: &'static str,
    utm: (&'static str, &'static str, &'static str),
}

fn visitor(id: u64) -> Visitor {
    let pick = |options: &[&'static str]| options[id as usize % options.len()];
    Visitor {
        id,
        country: match id % 3 {
            _ if id < 2 => ("FR", "FR-IDF", "Paris"),
            0 => ("US", "US-NM", "Albuquerque"),
            1 => ("DE", "DE-BE", "Berlin"),
            _ => ("GB", "GB-ENG", "London"),
        },
        browser: pick(&["Chrome", "Firefox", "Safari"]),
        os: pick(&["Windows 10", "Mac OSX", "iOS", "Linux"]),
        device: if id % 4 == 2 { "mobile" } else { "desktop" },
        referrer: pick(&[
            "",
            "google.com",
            "duckduckgo.com",
            "news.ycombinator.com",
            "",
        ]),
        utm: if id.is_multiple_of(5) {
            ("newsletter", "email", "november")
        } else {
            ("", "", "")
        },
    }
}

/// The columns of [`seed_events`]' rows.
const EVENT_COLUMNS: &str = "site, ts, name, visitor_id, path, referrer_host, utm_source, utm_medium, utm_campaign, country, region, city, browser, os, device, prop_keys, prop_values";

/// Rows of [`EVENT_COLUMNS`].
fn seed_events(now: u64) -> Vec<String> {
    const PAGES: &[&str] = &["/", "/pricing", "/tour", "/blog/open-desk", "/contact"];
    const PLANS: &[&str] = &["monthly", "annual"];
    const LOCATIONS: &[&str] = &["downtown", "nob-hill", "uptown"];
    let midnight = now - now % 86_400;
    let mut rows = Vec::new();
    // Past days: 15:00 UTC is the morning in Denver, the same local day.
    for id in 0..1200 {
        let v = visitor(id);
        let start = midnight - (id % 27 + 1) * 86_400 + 15 * 3600 + id * 7;
        for k in 0..(1 + id % 3) {
            let path = PAGES[((id + k) % PAGES.len() as u64) as usize];
            rows.push(event(&v, start + k * 300, "pageview", path, &[]));
        }
        // Day passes; half of them say nothing of the location.
        if id.is_multiple_of(6) {
            let props: &[(&str, &str)] = match (id / 6) % 2 {
                0 => &[("plan", "day-pass"), ("location", "downtown")],
                _ => &[("plan", "day-pass")],
            };
            rows.push(event(&v, start + 1000, "book_tour", "/tour", props));
        }
        // The funnel's steps in order, a quarter of visitors; half book.
        if id % 4 == 1 {
            rows.push(event(&v, start + 1500, "pageview", "/pricing", &[]));
            rows.push(event(&v, start + 1800, "pageview", "/tour", &[]));
            if id % 8 == 1 {
                let props = [
                    ("plan", PLANS[(id / 8) as usize % PLANS.len()]),
                    ("location", LOCATIONS[(id / 8) as usize % LOCATIONS.len()]),
                ];
                rows.push(event(&v, start + 2100, "book_tour", "/tour", &props));
            }
        }
        // Three blog readers send the contact form: too few to show.
        if [3, 33, 63].contains(&id) {
            rows.push(event(&v, start + 2400, "contact_sent", "/contact", &[]));
        }
    }
    // Today, whatever the hour: a minute or two ago.
    for id in 5000..5006 {
        rows.push(event(
            &visitor(id),
            now - 120 + id % 60,
            "pageview",
            "/",
            &[],
        ));
    }
    rows
}

/// One row of [`EVENT_COLUMNS`]: `v`'s event at `ts` with `props`.
fn event(v: &Visitor, ts: u64, name: &str, path: &str, props: &[(&str, &str)]) -> String {
    let (country, region, city) = v.country;
    let (source, medium, campaign) = v.utm;
    let keys: Vec<String> = props.iter().map(|(key, _)| format!("'{key}'")).collect();
    let values: Vec<String> = props
        .iter()
        .map(|(_, value)| format!("'{value}'"))
        .collect();
    format!(
        "('{SITE}', {ts}, '{name}', {}, '{path}', '{}', '{source}', '{medium}', '{campaign}', '{country}', '{region}', '{city}', '{}', '{}', '{}', [{}], [{}])",
        v.id,
        v.referrer,
        v.browser,
        v.os,
        v.device,
        keys.join(", "),
        values.join(", ")
    )
}

/// `(site, hour, reason, kind, hits)` rows of `filtered_hits`: the site's
/// hits not counted over the past weeks (several reasons left at none),
/// and another site's and an unconfigured one's, which it must not show.
fn seed_filtered(now: u64) -> Vec<String> {
    let midnight = now - now % 86_400;
    let hour = |days_ago: u64, at: u64| midnight - days_ago * 86_400 + at * 3600;
    let seeded = [
        (SITE, hour(3, 15), "bot", "crawler", 400),
        (SITE, hour(9, 2), "bot", "crawler", 150),
        (SITE, hour(5, 16), "bot", "library", 250),
        (SITE, hour(12, 20), "bot", "headless", 90),
        (SITE, hour(4, 17), "referrer_spam", "", 120),
        (SITE, hour(6, 15), "unknown_site", "", 80),
        (SITE, hour(7, 18), "unverified", "", 60),
        (SITE, hour(8, 19), "invalid", "", 45),
        ("elsewhere.example", hour(3, 15), "bot", "monitor", 900),
        ("", hour(3, 15), "unknown_site", "", 700),
    ];
    seeded
        .iter()
        .map(|(site, hour, reason, kind, hits)| {
            format!("('{site}', {hour}, '{reason}', '{kind}', {hits})")
        })
        .collect()
}

/// `(campaign, ts, recipient_id, proxied, country, client)` rows.
fn seed_opens(now: u64) -> Vec<String> {
    let day = now - now % 86_400 - 3 * 86_400 + 16 * 3600;
    let mut rows = Vec::new();
    for recipient in 1..=90u64 {
        let (proxied, client) = match recipient % 3 {
            0 => (1, "Gmail"),
            1 => (0, "Apple Mail"),
            _ => (0, "Outlook"),
        };
        for k in 0..(1 + recipient % 2) {
            let ts = day + recipient * 600 + k * 86_400;
            rows.push(format!(
                "('{CAMPAIGN}', {ts}, {recipient}, {proxied}, 'US', '{client}')"
            ));
        }
    }
    for recipient in 1..=2u64 {
        rows.push(format!(
            "('2026-10-small', {day}, {recipient}, 0, 'US', 'Thunderbird')"
        ));
    }
    for recipient in 1..=7u64 {
        rows.push(format!(
            "('2026-09-not-yours', {day}, {recipient}, 0, 'US', 'Gmail')"
        ));
    }
    rows
}

/// `(campaign, ts, recipient_id, link_host, link_path)` rows: people click
/// the campaign's tour 20 seconds after their first open (70 of them) and
/// its pricing five minutes later (50); a scanner clicks three links within
/// a second for 100 recipients who never open (a burst).
fn seed_clicks(now: u64) -> Vec<String> {
    let day = now - now % 86_400 - 3 * 86_400 + 16 * 3600;
    let mut rows = Vec::new();
    let mut click = |campaign: &str, ts: u64, recipient: u64, path: &str| {
        rows.push(format!(
            "('{campaign}', {ts}, {recipient}, 'optimumabq.com', '{path}')"
        ));
    };
    for recipient in 1..=70u64 {
        let opened = day + recipient * 600;
        click(CAMPAIGN, opened + 20, recipient, "/tour");
        if recipient <= 50 {
            click(CAMPAIGN, opened + 300, recipient, "/pricing");
        }
    }
    for recipient in 101..=200u64 {
        let delivered = day - 7200 + recipient * 60;
        click(CAMPAIGN, delivered, recipient, "/tour");
        click(CAMPAIGN, delivered, recipient, "/pricing");
        click(CAMPAIGN, delivered + 1, recipient, "/blog/open-desk");
    }
    for recipient in 1..=2u64 {
        click("2026-10-small", day + 30, recipient, "/tour");
    }
    rows
}

struct Dashboard {
    collector: Collector,
    clickhouse: &'static ClickHouse,
    database: String,
    config: PathBuf,
    /// Holds the GeoIP database the collector reads.
    _geoip: tempfile::TempDir,
}

fn start() -> Dashboard {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("dashboard");
    common::migrate(clickhouse, &database);
    let now = u64::from(beaconhouse::clock::now_unix());
    clickhouse.query(
        &database,
        &format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES {}",
            seed_events(now).join(", ")
        ),
    );
    clickhouse.query(
        &database,
        &format!(
            "INSERT INTO email_opens (campaign, ts, recipient_id, proxied, country, client) VALUES {}",
            seed_opens(now).join(", ")
        ),
    );
    clickhouse.query(
        &database,
        &format!(
            "INSERT INTO filtered_hits (site, hour, reason, kind, hits) VALUES {}",
            seed_filtered(now).join(", ")
        ),
    );
    clickhouse.query(
        &database,
        &format!(
            "INSERT INTO email_clicks (campaign, ts, recipient_id, link_host, link_path) VALUES {}",
            seed_clicks(now).join(", ")
        ),
    );
    let geoip = tempfile::tempdir().unwrap();
    let mmdb = geoip.path().join("dbip-country-lite.mmdb");
    common::geoip::write_dbip_country_fixture(&mmdb);
    let collector = Collector::start(
        clickhouse,
        &database,
        &format!(
            "{CONFIG_TOML}\n[geoip]\ndatabase = \"{}\"\n",
            mmdb.display()
        ),
    );
    let config = collector.dir().join("beaconhouse.toml");
    Dashboard {
        collector,
        clickhouse,
        database,
        config,
        _geoip: geoip,
    }
}

impl Dashboard {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.collector.base)
    }

    /// `POST /dashboard/session` as the page sends it.
    fn sign_in(&self, body: &str) -> Response {
        common::request(
            "POST",
            &self.url("/dashboard/session"),
            body.as_bytes(),
            &[
                ("Content-Type", "application/json"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
    }

    /// `DELETE /dashboard/session` with the session `cookie` (`name=value`).
    fn sign_out(&self, cookie: &str) -> Response {
        let out = common::request(
            "DELETE",
            &self.url("/dashboard/session"),
            b"",
            &[("Cookie", cookie)],
        );
        assert_eq!(out.status, 204, "{}", text(&out));
        out
    }

    /// The `name=value` of a sign-in's `Set-Cookie`.
    fn session(&self, body: &str) -> String {
        let response = self.sign_in(body);
        assert_eq!(response.status, 204, "{}", text(&response));
        let cookie = response.header("set-cookie").expect("a session cookie");
        cookie.split(';').next().unwrap().to_string()
    }

    fn get_with(&self, path: &str, header: (&str, &str)) -> Response {
        self.collector.get(path, &[header])
    }

    fn json_with(&self, path: &str, header: (&str, &str)) -> Value {
        let response = self.get_with(path, header);
        assert_eq!(response.status, 200, "{path}: {}", text(&response));
        serde_json::from_slice(&response.body).unwrap()
    }

    /// `beaconhouse share ARGS` with the collector's configuration.
    fn share(&self, args: &[&str]) -> (bool, String, String) {
        Beaconhouse::new()
            .config(&self.config)
            .clickhouse(self.clickhouse, &self.database)
            .arg("share")
            .args(args)
            .output()
    }

    /// A link as `beaconhouse share` prints it, for the dashboard's base URL.
    fn shared_link(&self, expires: &str) -> String {
        let (ok, stdout, stderr) = self.share(&[
            "--site",
            SITE,
            "--expires",
            expires,
            "--url",
            &self.collector.base,
        ]);
        assert!(ok, "{stderr}");
        assert!(stderr.contains("change reporting.share_key"), "{stderr}");
        stdout.trim().to_string()
    }
}

fn text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// `/dashboard/api/me`'s answer to a session that is no longer one, for
/// `reason`.
fn assert_ended(me: &Value, reason: &str) {
    assert_eq!(me["signed_in"], false, "{me}");
    assert!(
        me["ended"].as_str().is_some_and(|m| m.contains(reason)),
        "{reason:?}: {me}"
    );
}

fn grant_of(link: &str) -> &str {
    link.split_once("#share=").expect("a #share= link").1
}

#[test]
fn every_dashboard_response_carries_the_security_headers_and_no_cookie() {
    let dashboard = start();
    for path in [
        "/dashboard",
        "/dashboard/",
        "/dashboard/app.js",
        "/dashboard/app.css",
        "/dashboard/api/me",
    ] {
        let response = dashboard.collector.get(path, &[]);
        assert_eq!(response.status, 200, "{path}");
        let csp = response
            .header("content-security-policy")
            .unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(response.header("set-cookie"), None, "{path}");
    }
    let page = text(&dashboard.collector.get("/dashboard", &[]));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no other host: {page}"
    );
    let me: Value =
        serde_json::from_slice(&dashboard.collector.get("/dashboard/api/me", &[]).body).unwrap();
    assert_eq!(me["signed_in"], false);
    // The reports need a session there as on the API.
    let refused = dashboard.collector.get(
        "/dashboard/api/stats/campaigns?from=2026-11-01&to=2026-11-30",
        &[],
    );
    assert_eq!(refused.status, 401);
}

#[test]
fn every_module_the_page_loads_is_javascript_under_the_same_headers() {
    let dashboard = start();
    let index = dashboard.collector.get("/dashboard", &[]);
    let page = text(&index);
    let modules: Vec<&str> = page
        .split(['"', '\''])
        .filter(|piece| piece.starts_with("/dashboard/") && piece.ends_with(".js"))
        .collect();
    assert!(
        modules.len() > 1,
        "the entry and the modules it imports: {page}"
    );
    for path in modules {
        let response = dashboard.collector.get(path, &[]);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{path}: a module needs a JavaScript type"
        );
        for header in ["content-security-policy", "x-content-type-options"] {
            assert_eq!(
                response.header(header),
                index.header(header),
                "{path}: {header}"
            );
        }
    }
}

#[test]
fn a_session_opens_only_with_a_valid_token_from_the_dashboard_and_reads_what_the_token_may() {
    let dashboard = start();
    for (body, status) in [
        (
            r#"{"token": "dashboard-token-0123456789abcdef012345678"}"#,
            401,
        ),
        (r#"{"token": ""}"#, 401),
        (r#"{"password": "x"}"#, 400),
        ("not json", 400),
    ] {
        let response = dashboard.sign_in(body);
        assert_eq!(response.status, status, "{body}: {}", text(&response));
        assert_eq!(response.header("set-cookie"), None, "{body}");
        let error: Value = serde_json::from_slice(&response.body).unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    // Another site's page cannot sign its visitor in.
    let cross_site = common::request(
        "POST",
        &dashboard.url("/dashboard/session"),
        format!(r#"{{"token": "{TOKEN}"}}"#).as_bytes(),
        &[
            ("Content-Type", "application/json"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
    );
    assert_eq!(cross_site.status, 403);

    let response = dashboard.sign_in(&format!(r#"{{"token": "{TOKEN}"}}"#));
    assert_eq!(response.status, 204);
    let set_cookie = response.header("set-cookie").unwrap();
    assert!(
        set_cookie.starts_with("__Host-beaconhouse_session="),
        "{set_cookie}"
    );
    for attribute in [
        "; Path=/;",
        "Max-Age=28800",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");

    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &cookie));
    assert_eq!(me["signed_in"], true);
    assert_eq!(me["name"], "marketing");
    // The GeoIP database names itself DB-IP's: its licence's credit.
    assert_eq!(
        me["locations_attribution"],
        serde_json::json!({"text": "IP Geolocation by DB-IP", "href": "https://db-ip.com"})
    );
    assert_eq!(me["shared"], false);
    assert_eq!(me["campaigns"], true);
    assert_eq!(
        me["sites"],
        serde_json::json!([{
            "id": SITE,
            "time_zone": "America/Denver",
            "goals": ["Book a tour", "Read the blog", "Contact form"],
            "funnels": ["Tour booking", "Blog to contact"],
            "props": ["plan", "location"],
        }]),
        "only the token's site, with its goals, funnels and property keys as configured"
    );

    // The same reports through the session and through the API, in the
    // site's own time zone when none is asked for.
    let bearer = format!("Bearer {TOKEN}");
    for (kind, query) in [
        ("breakdown", "from=2026-10-01&to=2026-11-30&by=country"),
        ("breakdown", "from=2026-10-01&to=2026-11-30&by=prop:plan"),
        (
            "goals",
            "from=2026-10-01&to=2026-11-30&filter=goal%3D%3DBook%20a%20tour",
        ),
        (
            "funnel",
            "from=2026-10-01&to=2026-11-30&funnel=Tour%20booking",
        ),
    ] {
        let by_session = dashboard.json_with(
            &format!("/dashboard/api/stats/{kind}?site={SITE}&{query}"),
            ("Cookie", &cookie),
        );
        let by_token = dashboard.json_with(
            &format!("/api/v1/stats/{kind}?site={SITE}&{query}"),
            ("Authorization", &bearer),
        );
        assert_eq!(by_session, by_token, "{kind}?{query}");
        assert_eq!(by_token["period"]["time_zone"], "America/Denver");
    }
    let other_site = dashboard.get_with(
        "/dashboard/api/stats/summary?site=elsewhere.example&from=2026-11-01&to=2026-11-30",
        ("Cookie", &cookie),
    );
    assert_eq!(other_site.status, 403);

    // Campaigns: only those the token may read, small ones withheld; every
    // one of them whatever the period, so the list dates no open.
    let campaigns = dashboard.json_with(
        "/dashboard/api/stats/campaigns?from=2020-01-01&to=2021-12-31",
        ("Cookie", &cookie),
    );
    assert_eq!(
        campaigns["campaigns"],
        serde_json::json!([
            {"campaign": CAMPAIGN, "opens": null, "unique_opens": null, "clicks": null, "unique_clicks": null},
            {"campaign": "2026-10-small", "opens": null, "unique_opens": null, "clicks": null, "unique_clicks": null},
        ])
    );
    // The 20 UTC days to yesterday, which hold the opens of three and two
    // days ago: 90 recipients, half of whom opened twice, released; the small
    // campaign's two withheld. (Today would end at the last whole hour.)
    let today = beaconhouse::clock::day_of(beaconhouse::clock::now_unix());
    let (from, to) = (
        beaconhouse::clock::iso_date(today - 20),
        beaconhouse::clock::iso_date(today - 1),
    );
    let period = format!("from={from}&to={to}&tz=UTC");
    let campaigns = dashboard.json_with(
        &format!("/api/v1/stats/campaigns?{period}"),
        ("Authorization", &bearer),
    );
    let window = (
        format!("{from} 00:00"),
        format!("{} 00:00", beaconhouse::clock::iso_date(today)),
    );
    let expected = |campaign: &str, opens, clicks| {
        let cells = released::Expect::email(campaign, &window.0, &window.1, 5);
        let opens = cells.figure(["", "", "recipients", "opens"], opens, false);
        let clicks = cells.figure(["", "", "clickers", "clicks"], clicks, false);
        serde_json::json!({
            "campaign": campaign,
            "opens": opens.1,
            "unique_opens": opens.0,
            "clicks": clicks.1,
            "unique_clicks": clicks.0,
        })
    };
    // Clicks are people's: 70 clickers, 120 clicks; the scanner's 300
    // clicks are not among them.
    assert_eq!(
        campaigns["campaigns"],
        serde_json::json!([
            expected(CAMPAIGN, (90, 135), (70, 120)),
            expected("2026-10-small", (2, 2), (2, 2))
        ])
    );
    assert!(campaigns["campaigns"][0]["unique_opens"].is_u64());
    assert!(campaigns["campaigns"][0]["unique_clicks"].is_u64());
    assert!(campaigns["campaigns"][1]["unique_opens"].is_null());
    assert!(campaigns["campaigns"][1]["unique_clicks"].is_null());
    let cli = Beaconhouse::new()
        .config(&dashboard.config)
        .clickhouse(dashboard.clickhouse, &dashboard.database)
        .report_json(&["campaigns", "--from", &from, "--to", &to, "--tz", "UTC"]);
    assert_eq!(
        cli["campaigns"].as_array().unwrap().len(),
        3,
        "the operator's CLI lists every campaign: {cli}"
    );

    // A session signed with the token's digest (which a debug print of the
    // configuration shows) is no session.
    let minted = Session {
        holder: Holder::Token("marketing".into()),
        issued_ms: beaconhouse::clock::now_millis(),
        expires: u64::from(beaconhouse::clock::now_unix()) + 86_400,
    }
    .sign(&beaconhouse::config::ApiToken::digest(TOKEN));
    let me = dashboard.json_with(
        "/dashboard/api/me",
        ("Cookie", &format!("{SESSION_COOKIE}={minted}")),
    );
    assert_eq!(me["signed_in"], false, "{me}");

    // A forged or damaged session is no session, and says why.
    let forged = cookie.replacen("=ts.", "=ls.", 1);
    assert_ne!(forged, cookie);
    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &forged));
    assert_ended(&me, "not valid");
    assert_eq!(
        dashboard
            .get_with(
                "/dashboard/api/stats/campaigns?from=2026-11-01&to=2026-11-30",
                ("Cookie", &forged)
            )
            .status,
        401
    );

    // Signing out clears the cookie and ends the session on the server: the
    // same cookie, sent again, is no session.
    let out = dashboard.sign_out(&cookie);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &cookie));
    assert_ended(&me, "signed out");
    // Signing in again at once opens a new session.
    let again = dashboard.session(&format!(r#"{{"token": "{TOKEN}"}}"#));
    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &again));
    assert_eq!(me["signed_in"], true, "{me}");

    // Neither the token nor the session reaches the log, at trace level.
    let log = dashboard.collector.log();
    assert!(
        !log.contains(TOKEN) && !log.contains(&cookie[20..]),
        "{log}"
    );
}

#[test]
fn a_shared_link_shows_one_site_until_it_expires_or_the_key_changes() {
    let dashboard = start();
    let link = dashboard.shared_link("30d");
    assert!(
        link.starts_with(&format!("{}/dashboard/#share=", dashboard.collector.base)),
        "{link}"
    );
    let cookie = dashboard.session(&format!(r#"{{"share": "{}"}}"#, grant_of(&link)));
    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &cookie));
    assert_eq!(me["shared"], true);
    assert_eq!(me["campaigns"], false);
    assert_eq!(me["sites"].as_array().unwrap().len(), 1);
    let expires = me["expires"].as_u64().unwrap();
    let now = u64::from(beaconhouse::clock::now_unix());
    assert!(
        expires <= now + 8 * 3600,
        "a shared session is short-lived too"
    );
    let summary = dashboard.get_with(
        &format!("/dashboard/api/stats/summary?site={SITE}&from=2026-11-01&to=2026-11-30"),
        ("Cookie", &cookie),
    );
    assert_eq!(summary.status, 200);
    for path in [
        "/dashboard/api/stats/summary?site=elsewhere.example&from=2026-11-01&to=2026-11-30"
            .to_string(),
        format!("/dashboard/api/stats/email?campaign={CAMPAIGN}&from=2026-11-01&to=2026-11-30"),
        "/dashboard/api/stats/campaigns?from=2026-11-01&to=2026-11-30".to_string(),
    ] {
        assert_eq!(
            dashboard.get_with(&path, ("Cookie", &cookie)).status,
            403,
            "{path}"
        );
    }

    // Expired, signed with another key (the key was rotated), for another
    // site than it claims, or not a link at all: refused with a reason.
    let expired = Link {
        site: SITE.into(),
        expires: now - 1,
    }
    .sign(SHARE_KEY.as_bytes());
    let rotated = Link {
        site: SITE.into(),
        expires: now + 600,
    }
    .sign(b"the-previous-share-key-0123456789abcdef");
    let token_session = Session {
        holder: Holder::Token("marketing".into()),
        issued_ms: now * 1000,
        expires: now + 600,
    }
    .sign(&beaconhouse::config::ApiToken::digest(TOKEN));
    for (grant, reason) in [
        (expired.as_str(), "expired"),
        (rotated.as_str(), "not valid here"),
        (token_session.as_str(), "not a shared link"),
        ("s.00.1", "damaged"),
    ] {
        let response = dashboard.sign_in(&format!(r#"{{"share": "{grant}"}}"#));
        assert_eq!(response.status, 401, "{grant}");
        assert!(
            text(&response).contains(reason),
            "{grant}: {}",
            text(&response)
        );
    }

    for (args, problem) in [
        (&["--site", SITE, "--expires", "400d"][..], "--expires"),
        (&["--site", "nowhere.example"][..], "not configured"),
    ] {
        let (ok, _, stderr) = dashboard.share(args);
        assert!(!ok && stderr.contains(problem), "{args:?}: {stderr}");
    }
    let (ok, _, stderr) = Beaconhouse::new()
        .config(&dashboard.config)
        .env("BEACONHOUSE_REPORTING_SHARE_KEY", "")
        .args(["share", "--site", SITE])
        .output();
    assert!(!ok && stderr.contains("reporting.share_key"), "{stderr}");
}

#[test]
fn a_guesser_behind_an_address_slows_only_the_token_name_it_guesses() {
    let dashboard = start();
    let sign_in = |name: &str, token: &str| {
        dashboard.sign_in(&format!(r#"{{"name": "{name}", "token": "{token}"}}"#))
    };
    for i in 0..10 {
        let wrong = sign_in(
            "marketing",
            &format!("guess-{i}-0123456789abcdef0123456789ab"),
        );
        assert_eq!(wrong.status, 401, "guess {i}: {}", text(&wrong));
    }
    // The name guessed at is slowed, even with its right token...
    let refused = sign_in("marketing", TOKEN);
    assert_eq!(refused.status, 429, "{}", text(&refused));
    assert!(refused.header("retry-after").is_some());
    // ...a colleague at the same address signing in with another name is not.
    let colleague = sign_in("agency", AGENCY_TOKEN);
    assert_eq!(colleague.status, 204, "{}", text(&colleague));
    // A name and a token that do not belong together are refused.
    assert_eq!(sign_in("agency", TOKEN).status, 401);
}

#[test]
fn signing_out_on_one_collector_ends_the_session_on_another() {
    let dashboard = start();
    let other = Collector::start(dashboard.clickhouse, &dashboard.database, CONFIG_TOML);
    let cookie = dashboard.session(&format!(r#"{{"token": "{TOKEN}"}}"#));
    let me_there = || {
        let response = other.get("/dashboard/api/me", &[("Cookie", &cookie)]);
        serde_json::from_slice::<Value>(&response.body).unwrap()
    };
    assert_eq!(me_there()["signed_in"], true, "the same session_key");
    dashboard.sign_out(&cookie);
    let me = common::eventually(
        "the other collector hears of the sign-out",
        common::SETTLE,
        || match me_there() {
            me if me["signed_in"] == false => Ok(me),
            me => Err(me),
        },
    );
    assert_ended(&me, "signed out");
    let rows = dashboard.clickhouse.query(
        &dashboard.database,
        "SELECT holder, subject FROM session_revocations FORMAT TSV",
    );
    assert_eq!(
        rows.trim(),
        "token\tmarketing",
        "no session is stored, only who signed out"
    );
}

#[test]
fn a_shared_link_sent_as_the_session_cookie_is_no_session() {
    let dashboard = start();
    let link = dashboard.shared_link("300d");
    let cookie = format!("{SESSION_COOKIE}={}", grant_of(&link));
    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &cookie));
    assert_ended(&me, "not a session");
    let summary = dashboard.get_with(
        &format!("/dashboard/api/stats/summary?site={SITE}&from=2026-11-01&to=2026-11-30"),
        ("Cookie", &cookie),
    );
    assert_eq!(summary.status, 401, "{}", text(&summary));
    // Opened at sign-in, the same link makes a session of at most 8 hours.
    let session = dashboard.session(&format!(r#"{{"share": "{}"}}"#, grant_of(&link)));
    let me = dashboard.json_with("/dashboard/api/me", ("Cookie", &session));
    assert_eq!(me["signed_in"], true, "{me}");
}

#[test]
fn the_dashboards_day_and_period_functions_pass_their_tests_in_chromium() {
    common::javascript_tests("tests/browser/dates.test.js");
}

#[test]
fn the_dashboards_requests_retry_a_busy_report_and_speak_plainly_in_chromium() {
    common::javascript_tests("tests/browser/api.test.js");
}

/// Where the browser test leaves its screenshots.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")
}

#[test]
fn the_dashboard_in_chromium_shows_the_apis_figures() {
    let dashboard = start();
    let link = dashboard.shared_link("30d");
    let now = u64::from(beaconhouse::clock::now_unix());
    let expired = Link {
        site: SITE.into(),
        expires: now - 1,
    }
    .sign(SHARE_KEY.as_bytes());
    let expired_link = format!("{}/dashboard/#share={expired}", dashboard.collector.base);
    let out = screenshots();
    // A screenshot left by an earlier run proves nothing.
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let mut run = common::browser_script("dashboard.py");
    run.args([
        "--base",
        &dashboard.collector.base,
        "--token",
        TOKEN,
        "--token-name",
        "marketing",
        "--site",
        SITE,
    ])
    .args(["--campaign", CAMPAIGN, "--small-filter", "country==FR"])
    .args(["--share-link", &link, "--expired-share-link", &expired_link])
    .arg("--out")
    .arg(&out);
    passes_in_chromium(run, &dashboard.collector);
    // What the reports make of the email links Chromium clicked (check 11):
    // the reader's click is a person's, the three links within a second a
    // burst, the honeypot and the link seconds after it a scanner's.
    dashboard.collector.settled();
    let until = beaconhouse::clock::now_unix() + 60;
    let classified = beaconhouse::report::sql::classified_clicks(Some(CAMPAIGN), until);
    let clicked = dashboard.clickhouse.query(
        &dashboard.database,
        &format!(
            "SELECT link, signal FROM ({}) WHERE link LIKE '127.0.0.1%' OR link = '' ORDER BY link FORMAT TSV",
            classified.bound_text()
        ),
    );
    assert_eq!(
        clicked.trim_end(),
        "\thoneypot\n\
         127.0.0.1/dashboard/\t\n\
         127.0.0.1/dashboard/a\tburst\n\
         127.0.0.1/dashboard/after-honeypot\tnear_honeypot\n\
         127.0.0.1/dashboard/b\tburst\n\
         127.0.0.1/dashboard/c\tburst"
    );
    let shots = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count();
    assert!(
        shots >= 20,
        "a screenshot of each page at both widths, and of the goals, the funnel, the properties and filtered traffic, found {shots} in {}",
        out.display()
    );
    for panel in ["goals.png", "funnel.png", "props.png", "filtered.png"] {
        assert!(out.join(panel).is_file(), "no {panel} in {}", out.display());
    }
}

/// Hits today on the busy site of the crowd test: reports over today read
/// them from today's rollup, which the collector computes as it starts.
/// (Read from `events`, the visits of a summary took longer than
/// `reporting.query_timeout_ms` on a test machine of two shared cores.)
const BUSY_DAY_HITS: u64 = 3_000_000;

/// Three people on the dashboard at once on a site with millions of hits
/// today (`tests/browser/crowd.py`): every panel of every page loads with no
/// console error, and a period changed three times quickly ends with the
/// last period's figures.
#[test]
fn three_dashboards_at_once_on_a_busy_day_load_every_panel() {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("crowd");
    common::migrate(clickhouse, &database);
    // Spread over today's seconds so far; three hits per visitor, 300 paths,
    // 50 referrers, four countries.
    clickhouse.query(
        &database,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, referrer_host, country, browser, os, device) \
             SELECT '{SITE}', toDateTime(toUInt32(toStartOfDay(now())) + number % (toUInt32(now()) - toUInt32(toStartOfDay(now())) + 1)), \
             'pageview', intHash64(intDiv(number, 3)), concat('/p', toString(number % 300)), \
             concat('r', toString(number % 50), '.example'), ['US', 'DE', 'GB', 'FR'][number % 4 + 1], \
             ['Chrome', 'Firefox', 'Safari'][number % 3 + 1], ['Linux', 'Windows', 'macOS'][number % 3 + 1], \
             ['desktop', 'mobile'][number % 2 + 1] FROM system.numbers LIMIT {BUSY_DAY_HITS}"
        ),
    );
    let collector = Collector::start(
        clickhouse,
        &database,
        &format!(
            "[[reporting.tokens]]\nname = \"marketing\"\ntoken = \"{TOKEN}\"\nsites = [\"{SITE}\"]\n"
        ),
    );
    // Today's hours so far are rolled up before anyone looks (but in the
    // first hour of the UTC day, when there are none).
    if beaconhouse::rollup::today_so_far(beaconhouse::clock::now_unix()).is_some() {
        common::eventually("today rolled up", Duration::from_secs(300), || {
            let counted = clickhouse.query(
                &database,
                "SELECT count() FROM daily_stats_days FINAL WHERE counted_until > 0 FORMAT TSV",
            );
            if counted.trim() == "1" {
                Ok(())
            } else {
                Err(counted)
            }
        });
    }
    let mut run = common::browser_script("crowd.py");
    run.args(["--base", &collector.base, "--token", TOKEN, "--site", SITE])
        .args(["--token-name", "marketing"]);
    passes_in_chromium(run, &collector);
}

/// Runs a browser script and fails with its report and the end of the
/// collector's log unless every check in it passed.
fn passes_in_chromium(mut script: std::process::Command, collector: &Collector) {
    let run = script.output().expect(common::PLAYWRIGHT);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\ncollector log:\n{}",
        collector
            .log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
