//! The release step against a determined insider: a staff member with a
//! stats token who adds their own hits and opens, then reads the reports,
//! trying to learn what one real person did (issue 19's attacks). Each test
//! builds the two worlds the attacker cannot tell apart (the person did it,
//! or did not) in two databases, reads the same reports in both, and works
//! out how much the answers shift the odds: the likelihood ratio of what the
//! attacker saw, under the mechanism the figures were released with. The
//! ratio is bounded (every figure the person is in moves the odds by at most
//! e^ε for a count of people, e^(ε/10) for a capped count), never infinite:
//! no answer tells the attacker with certainty. Without the release step the
//! same answers differ by exactly one, a certainty.
//!
//! Rows go in with SQL at fixed past times, as the endpoints would store
//! them: the release step releases only hours that have ended, so hits sent
//! now are invisible until then (`a_count_that_still_grows_is_not_shown`
//! sends one through the public endpoint to show it).

use std::time::Duration;

use serde_json::Value;

use crate::common::{self, Beaconhouse, ClickHouse, Collector};

/// A day that has ended, in UTC.
const DAY: &str = "2026-11-10";
/// The arguments of a site report over [`DAY`].
const ONE_DAY: [&str; 8] = [
    "--site",
    "optimumabq.com",
    "--from",
    DAY,
    "--to",
    DAY,
    "--tz",
    "UTC",
];
/// ε of every figure: the default.
const EPSILON: f64 = 1.0;
/// The count cap: the default `reporting.max_views_per_visitor_day`.
const CAP: f64 = 10.0;
/// The release threshold of a one-day (one-cell) figure at ε = 1.
const THRESHOLD: u64 = 15;

/// A migrated database of the test's own with `rows` inserted.
fn world(prefix: &str, inserts: &[String]) -> (&'static ClickHouse, String) {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database(prefix);
    common::migrate(clickhouse, &database);
    for insert in inserts {
        clickhouse.query(&database, insert);
    }
    (clickhouse, database)
}

fn report(world: &(&'static ClickHouse, String), args: &[&str]) -> Value {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!("{}\n[reporting]\nmin_group_size = 5\n", common::SITE_TOML),
    )
    .unwrap();
    Beaconhouse::new()
        .config(config.path())
        .clickhouse(world.0, &world.1)
        .report_json(args)
}

/// One figure as the attacker sees it, and its exact value in the world
/// where the person did it and in the one where they did not.
struct Seen {
    what: String,
    released: Option<u64>,
    exact_with: u64,
    exact_without: u64,
    /// A count of people (sensitivity 1), else a capped count.
    people: bool,
}

/// `P(released | exact)` for a one-cell figure: the discrete Laplace noise of
/// scale `sensitivity / ε`, a zero standing for every draw at or below it,
/// a withheld count of people for every draw under the threshold.
fn likelihood(released: Option<u64>, exact: u64, people: bool) -> f64 {
    let alpha = (-EPSILON / if people { 1.0 } else { CAP }).exp();
    let at = |z: i64| (1.0 - alpha) / (1.0 + alpha) * alpha.powi(z.unsigned_abs() as i32);
    // P(Z ≤ n) and P(Z < n), summed far enough out.
    let below = |n: i64| -> f64 { (n - 2_000..n).map(at).sum() };
    match released {
        None => below(THRESHOLD as i64 - exact as i64),
        Some(0) => below(1 - exact as i64),
        Some(y) => at(y as i64 - exact as i64),
    }
}

/// The likelihood ratio of everything seen, "did it" over "did not", and
/// its bound: e^ε per count of people the person is in, e^(ε/10) per count.
fn odds(seen: &[Seen]) -> (f64, f64) {
    let mut ratio = 1.0;
    let mut bound = 1.0;
    for s in seen {
        if s.exact_with == s.exact_without {
            continue;
        }
        // A withheld count is seen only through its count of people.
        if s.released.is_none() && !s.people {
            continue;
        }
        let with = likelihood(s.released, s.exact_with, s.people);
        let without = likelihood(s.released, s.exact_without, s.people);
        assert!(
            with > 0.0 && without > 0.0,
            "{}: impossible in one world",
            s.what
        );
        ratio *= with / without;
        bound *= (EPSILON / if s.people { 1.0 } else { CAP }).exp();
    }
    (ratio, bound)
}

fn figure(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// `(recipient, proxied, client)` opens of `test-send` at 09:00 on [`DAY`].
fn opens(recipients: impl Iterator<Item = u64>) -> String {
    let rows: Vec<String> = recipients
        .map(|r| format!("('test-send', '{DAY} 09:00:00', {r}, 0, 'US', 'Gmail')"))
        .collect();
    format!(
        "INSERT INTO email_opens (campaign, ts, recipient_id, proxied, country, client) VALUES {}",
        rows.join(", ")
    )
}

#[test]
fn adding_your_own_recipients_does_not_tell_whether_the_one_real_one_opened() {
    // The attacker sends `test-send` to one real person (recipient 1) and
    // 30 addresses of their own, which all open it: the campaign passes any
    // threshold, and whatever is left over is the real person's.
    let fakes = || 100..130u64;
    let opened = world("insider_opened", &[opens(fakes().chain([1]))]);
    let not_opened = world("insider_not", &[opens(fakes())]);
    let args = [
        "email",
        "--campaign",
        "test-send",
        "--from",
        DAY,
        "--to",
        DAY,
        "--tz",
        "UTC",
    ];
    for (world, did) in [(&opened, true), (&not_opened, false)] {
        let r = report(world, &args);
        let fake = 30;
        let mut seen = Vec::new();
        let mut both = |what: &str, unique: &Value, count: &Value| {
            seen.push(Seen {
                what: format!("{what} recipients"),
                released: figure(unique),
                exact_with: fake + 1,
                exact_without: fake,
                people: true,
            });
            seen.push(Seen {
                what: format!("{what} opens"),
                released: figure(count),
                exact_with: fake + 1,
                exact_without: fake,
                people: false,
            });
        };
        both("total", &r["unique_opens"], &r["opens"]);
        both("direct", &r["unique_direct_opens"], &r["direct_opens"]);
        let row = |key: &str, value: &str| -> (Value, Value) {
            let rows = r[key].as_array().unwrap();
            let row = rows.iter().find(|row| row["value"] == value);
            row.map_or((Value::Null, Value::Null), |row| {
                (row["unique"].clone(), row["count"].clone())
            })
        };
        let (u, c) = row("by_day", DAY);
        both("that day's", &u, &c);
        let (u, c) = row("by_client", "Gmail");
        both("Gmail's", &u, &c);
        let (u, c) = row("by_country", "US");
        both("the US's", &u, &c);
        let (ratio, bound) = odds(&seen);
        eprintln!(
            "n-1 on a campaign, the person {}: the answers multiply the odds that they opened by {ratio:.3} (at most {bound:.1}); seen: {}",
            if did { "opened" } else { "did not open" },
            seen.iter()
                .map(|s| format!("{} {:?}", s.what, s.released))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(ratio.is_finite() && ratio > 0.0);
        assert!(
            ratio <= bound * 1.0001 && ratio >= 1.0 / bound / 1.0001,
            "{ratio} outside [1/{bound}, {bound}]"
        );
        // Every figure was released over 30 or 31 recipients: shown, noisy.
        assert!(figure(&r["unique_opens"]).is_some(), "{r}");
    }
    // The worlds' answers differ only where the person is, and never by
    // exactly their one open everywhere, as exact figures would.
    let a = report(&opened, &args);
    let b = report(&not_opened, &args);
    let exact_difference = [
        "unique_opens",
        "opens",
        "unique_direct_opens",
        "direct_opens",
    ]
    .iter()
    .all(|k| {
        a[k].as_u64()
            .zip(b[k].as_u64())
            .is_some_and(|(x, y)| x == y + 1)
    });
    // The same cells carry the same noise in both worlds, so a difference
    // of exactly one is what the attacker would see if they could read both
    // worlds; they read one, and one world's figure is its exact count plus
    // noise they cannot remove.
    assert!(exact_difference, "same cells, same noise: {a} against {b}");
}

/// `(visitor, path)` page views at 14:00 on [`DAY`].
fn views(visitors: impl Iterator<Item = (u64, &'static str)>) -> String {
    let rows: Vec<String> = visitors
        .map(|(v, path)| {
            format!("('optimumabq.com', '{DAY} 14:00:00', 'pageview', {v}, '{path}', 'desktop')")
        })
        .collect();
    format!(
        "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES {}",
        rows.join(", ")
    )
}

#[test]
fn adding_your_own_visitors_to_a_page_does_not_tell_whether_one_person_saw_it() {
    // 200 ordinary visitors of /, 30 of the attacker's own on /members, and
    // the one person (visitor 7) on /members, or not.
    let ordinary = || (1000..1200u64).map(|v| (v, "/"));
    let fakes = || (100..130u64).map(|v| (v, "/members"));
    let saw = world(
        "insider_saw",
        &[views(ordinary().chain(fakes()).chain([(7, "/members")]))],
    );
    let did_not = world("insider_did_not", &[views(ordinary().chain(fakes()))]);
    for (world, did) in [(&saw, true), (&did_not, false)] {
        let by_path = report(
            world,
            &[&["breakdown", "--by", "path"][..], &ONE_DAY].concat(),
        );
        let filtered = report(
            world,
            &[&["summary", "--filter", "path==/members"][..], &ONE_DAY].concat(),
        );
        let members = by_path["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == "/members")
            .cloned()
            .unwrap_or(Value::Null);
        let pair = |what: &str, unique: &Value, count: &Value, fake: u64| {
            [
                Seen {
                    what: format!("{what} visitors"),
                    released: figure(unique),
                    exact_with: fake + 1,
                    exact_without: fake,
                    people: true,
                },
                Seen {
                    what: format!("{what} page views"),
                    released: figure(count),
                    exact_with: fake + 1,
                    exact_without: fake,
                    people: false,
                },
            ]
        };
        let current = &filtered["current"];
        let seen: Vec<Seen> = [
            pair(
                "(total)",
                &by_path["total"]["unique"],
                &by_path["total"]["count"],
                230,
            ),
            pair("/members", &members["unique"], &members["count"], 30),
            pair("filtered", &current["visitors"], &current["pageviews"], 30),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (ratio, bound) = odds(&seen);
        eprintln!(
            "n-1 on a page, the person {}: the odds that they saw it move by {ratio:.3} (at most {bound:.1})",
            if did { "saw it" } else { "did not" },
        );
        assert!(ratio.is_finite() && ratio > 0.0);
        assert!(ratio <= bound * 1.0001 && ratio >= 1.0 / bound / 1.0001);
        // Arithmetic: the total less the rows shown is (other)'s count, a
        // difference of released figures: noise, not the person.
        let shown: u64 = by_path["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["value"] != "(other)")
            .map(|r| r["count"].as_u64().unwrap())
            .sum();
        let other = by_path["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == "(other)")
            .expect("(other) is always listed");
        assert_eq!(
            other["count"].as_u64(),
            Some(
                by_path["total"]["count"]
                    .as_u64()
                    .unwrap()
                    .saturating_sub(shown)
            )
        );
    }
}

#[test]
fn one_person_behind_a_filter_and_nobody_answer_alike() {
    // Visitor 7 alone on /lonely, or nobody there; 300 others elsewhere.
    let others = || (1000..1300u64).map(|v| (v, "/"));
    let one = world("insider_one", &[views(others().chain([(7, "/lonely")]))]);
    let none = world("insider_none", &[views(others())]);
    for args in [
        [&["summary", "--filter", "path==/lonely"][..], &ONE_DAY].concat(),
        [
            &["breakdown", "--by", "browser", "--filter", "path==/lonely"][..],
            &ONE_DAY,
        ]
        .concat(),
        [
            &[
                "timeseries",
                "--interval",
                "hour",
                "--filter",
                "path==/lonely",
            ][..],
            &ONE_DAY,
        ]
        .concat(),
        [
            &["breakdown", "--by", "path", "--filter", "path~lonely"][..],
            &ONE_DAY,
        ]
        .concat(),
    ] {
        let (a, b) = (report(&one, &args), report(&none, &args));
        assert_eq!(a, b, "{args:?}: one person and nobody look alike");
    }
    // Unfiltered, the page is one row among others, withheld like an
    // absent one; (other) takes its page view, so the total adds up.
    let by_path = report(
        &one,
        &[&["breakdown", "--by", "path"][..], &ONE_DAY].concat(),
    );
    let values: Vec<&str> = by_path["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["/", "(other)"]);
}

#[test]
fn a_count_that_still_grows_is_not_shown() {
    // An open sent now, through the public pixel, lands in the current hour,
    // which no report releases until it has ended: asked before and after
    // the open, the campaign's figures for today are the same.
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("insider_now");
    common::migrate(clickhouse, &database);
    let collector = Collector::start(clickhouse, &database, "[email]\ncampaigns = [\"test-*\"]\n");
    let today =
        beaconhouse::clock::iso_date(beaconhouse::clock::day_of(beaconhouse::clock::now_unix()));
    let ask = || {
        Beaconhouse::new()
            .config(collector.dir().join("beaconhouse.toml"))
            .clickhouse(clickhouse, &database)
            .report_json(&[
                "email",
                "--campaign",
                "test-now",
                "--from",
                &today,
                "--to",
                &today,
                "--tz",
                "UTC",
            ])
    };
    let before = ask();
    let open = collector.get(
        "/o.gif?c=test-now&rid=the-real-person",
        &[(
            "User-Agent",
            "Mozilla/5.0 (Windows NT 10.0) Thunderbird/115.0",
        )],
    );
    assert_eq!(open.status, 200);
    common::eventually(
        "the open is stored",
        Duration::from_secs(10),
        || match clickhouse.number(&database, "SELECT count() FROM email_opens") {
            1 => Ok(()),
            n => Err(n),
        },
    );
    assert_eq!(ask(), before, "the open is in no released cell yet");
}

const TOKEN: &str = "insider-token-0123456789abcdef0123456789ab";

#[test]
fn the_same_figure_is_the_same_on_every_surface_in_any_order_and_another_key_changes_it() {
    // 120 visitors over two days, on three pages.
    let visitors = (1..=120u64).map(|v| {
        let path = ["/", "/pricing", "/tour"][v as usize % 3];
        let day = if v % 2 == 0 {
            "2026-11-10"
        } else {
            "2026-11-11"
        };
        format!("('optimumabq.com', '{day} 14:00:00', 'pageview', {v}, '{path}', 'desktop')")
    });
    let insert = format!(
        "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES {}",
        visitors.collect::<Vec<_>>().join(", ")
    );
    let (clickhouse, database) = world("insider_surfaces", &[insert]);
    let reporting = format!(
        "[reporting]\n[[reporting.tokens]]\nname = \"staff\"\ntoken = \"{TOKEN}\"\nsites = [\"*\"]\n"
    );
    let collector = Collector::start(clickhouse, &database, &reporting);
    let query = "site=optimumabq.com&from=2026-11-10&to=2026-11-11&tz=America/Denver";
    let bearer = format!("Bearer {TOKEN}");
    let api = |kind: &str, extra: &str| -> String {
        let response = collector.get(
            &format!("/api/v1/stats/{kind}?{query}{extra}"),
            &[("Authorization", &bearer)],
        );
        assert_eq!(response.status, 200);
        String::from_utf8(response.body).unwrap()
    };
    // One order, then the other: nothing a request asks changes another's.
    let summary = api("summary", "");
    let breakdown = api("breakdown", "&by=path");
    assert_eq!(api("breakdown", "&by=path"), breakdown);
    assert_eq!(api("summary", ""), summary);
    let summary: Value = serde_json::from_str(&summary).unwrap();
    let visitors = summary["current"]["visitors"].as_u64().unwrap();
    // CSV.
    let csv = api("summary", "&format=csv");
    assert!(
        csv.lines()
            .any(|line| line.split(',').any(|cell| cell == visitors.to_string())),
        "{visitors} not in\n{csv}"
    );
    // The dashboard, signed in with the same token.
    let signed_in = common::request(
        "POST",
        &format!("{}/dashboard/session", collector.base),
        format!(r#"{{"name": "staff", "token": "{TOKEN}"}}"#).as_bytes(),
        &[
            ("Content-Type", "application/json"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    assert_eq!(signed_in.status, 204);
    let cookie = signed_in
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let dashboard = collector.get(
        &format!("/dashboard/api/stats/summary?{query}"),
        &[("Cookie", &cookie)],
    );
    let dashboard: Value = serde_json::from_slice(&dashboard.body).unwrap();
    assert_eq!(dashboard["current"], summary["current"]);
    // The CLI.
    let cli = |key: &str| {
        Beaconhouse::new()
            .config(collector.dir().join("beaconhouse.toml"))
            .clickhouse(clickhouse, &database)
            .env("BEACONHOUSE_REPORTING_NOISE_KEY", key)
            .report_json(&[
                "summary",
                "--site",
                "optimumabq.com",
                "--from",
                "2026-11-10",
                "--to",
                "2026-11-11",
                "--tz",
                "America/Denver",
            ])
    };
    assert_eq!(cli(common::NOISE_KEY)["current"], summary["current"]);
    // Another key draws other noise: some figure changes.
    let other = cli("another-noise-key-0123456789abcdef0123456789");
    assert_ne!(other["current"], summary["current"]);
}
