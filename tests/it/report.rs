//! Reports against a real clickhouse-server: known events and opens
//! (`common::known_hits`) go in with SQL (so timestamps and visitor ids are
//! exact), every figure comes back
//! through `beaconhouse report` and through the stats API, and is checked
//! against the value worked out by hand in the comments.
//!
//! Site time zone America/Denver; clocks went back on 2026-11-01 at 08:00 UTC,
//! so that local day runs from 06:00 UTC to 07:00 UTC the next day (25 hours).
//! `min_group_size` is 3 here.

use std::sync::OnceLock;

use crate::common::{self, Beaconhouse, ClickHouse, Collector, known_hits};
use serde_json::{Value, json};

const MARKETING: &str = "marketing-token-0123456789abcdef0123456789";
const AGENCY: &str = "agency-token-0123456789abcdef0123456789abcd";

const REPORTING_TOML: &str = r#"
[retention]
# The rows carry fixed dates: keep them however old they are by now.
events_days = 0
email_opens_days = 0

[reporting]
min_group_size = 3

[[reporting.tokens]]
name = "marketing"
token = "marketing-token-0123456789abcdef0123456789"
sites = ["optimumabq.com"]
campaigns = ["nov-newsletter"]

[[reporting.tokens]]
name = "agency"
token = "agency-token-0123456789abcdef0123456789abcd"
sites = ["*"]
"#;

struct Fixture {
    db: Scratch,
    /// `RAW_ONLY_REPORTS` as printed before the daily rollup existed.
    raw_only: [String; 7],
}

/// Reports (command lines) run before and after the rollup; the answers must
/// not change.
const RAW_ONLY_REPORTS: [&str; 7] = [
    "report summary --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --tz America/Denver --format json",
    "report breakdown --by path --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --tz America/Denver --format json",
    "report breakdown --by entry_page --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --format json",
    "report timeseries --interval week --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --format json",
    "report timeseries --interval day --site optimumabq.com --from 2026-10-31 --to 2026-11-03 --tz America/Denver --format json",
    "report timeseries --interval week --site optimumabq.com --from 2026-10-20 --to 2026-11-10 --tz America/Los_Angeles --format json",
    "report timeseries --interval hour --site optimumabq.com --from 2026-11-01 --to 2026-11-01 --tz UTC --format json",
];

/// The `[reporting]` of the small tests: nothing is folded.
const FOLD_NOTHING: &str = "[reporting]\nmin_group_size = 1\n";

/// A migrated database of a test's own, and a config of the test site plus
/// `reporting_toml`.
struct Scratch {
    clickhouse: &'static ClickHouse,
    database: String,
    config: tempfile::NamedTempFile,
}

impl Scratch {
    fn new(prefix: &str, reporting_toml: &str) -> Scratch {
        let clickhouse = common::clickhouse();
        let database = clickhouse.fresh_database(prefix);
        common::migrate(clickhouse, &database);
        let config = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            config.path(),
            format!("{}\n{reporting_toml}", common::SITE_TOML),
        )
        .unwrap();
        Scratch {
            clickhouse,
            database,
            config,
        }
    }

    fn insert_events(&self, rows: &str) {
        self.clickhouse.query(
            &self.database,
            &format!("INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES {rows}"),
        );
    }

    /// `beaconhouse --config CONFIG` against this database.
    fn beaconhouse(&self) -> Beaconhouse {
        Beaconhouse::new()
            .config(self.config.path())
            .clickhouse(self.clickhouse, &self.database)
    }

    /// Runs `beaconhouse ARGS`; panics unless it succeeds, returns standard output.
    fn run(&self, args: &[&str]) -> String {
        self.beaconhouse().args(args).run_ok()
    }

    /// The current figures of the summary from `from` to `to`, UTC.
    fn summary(&self, from: &str, to: &str) -> Value {
        let args = [
            "summary",
            "--site",
            "optimumabq.com",
            "--from",
            from,
            "--to",
            to,
        ];
        self.beaconhouse().report_json(&args)["current"].clone()
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let db = Scratch::new("report", REPORTING_TOML);
        for insert in known_hits::inserts() {
            db.clickhouse.query(&db.database, &insert);
        }
        // Before the rollup, every report reads `events` alone.
        let raw_only = RAW_ONLY_REPORTS.map(|line| {
            let args: Vec<&str> = line.split_whitespace().collect();
            db.run(&args)
        });
        let rolled = db.run(&["rollup"]);
        assert_eq!(rolled.trim(), "rolled up 2 day(s)", "Nov 1 and Nov 2, UTC");
        Fixture { db, raw_only }
    })
}

/// A collector serving the stats API on the fixture's database, for one test
/// (it stops when dropped).
fn collector() -> Collector {
    let db = &fixture().db;
    Collector::start(db.clickhouse, &db.database, REPORTING_TOML)
}

/// `beaconhouse report ARGS` on the fixture: (success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    fixture().db.beaconhouse().arg("report").args(args).output()
}

fn cli_json(args: &[&str]) -> Value {
    fixture().db.beaconhouse().report_json(args)
}

/// GET on the stats API with a token: (status, body).
fn api(collector: &Collector, path_and_query: &str, token: Option<&str>) -> (u16, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let response = collector.get(path_and_query, &headers);
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

fn api_json(collector: &Collector, path_and_query: &str) -> Value {
    let (status, body) = api(collector, path_and_query, Some(MARKETING));
    assert_eq!(status, 200, "{path_and_query}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// CLI and API give the same report; returns it.
fn both(collector: &Collector, cli_args: &[&str], api_path: &str) -> Value {
    let from_cli = cli_json(cli_args);
    let from_api = api_json(collector, api_path);
    assert_eq!(from_cli, from_api, "CLI and API disagree on {api_path}");
    from_cli
}

const DENVER: &str = "site=optimumabq.com&from=2026-11-01&to=2026-11-02&tz=America/Denver";
const DENVER_ARGS: [&str; 8] = [
    "--site",
    "optimumabq.com",
    "--from",
    "2026-11-01",
    "--to",
    "2026-11-02",
    "--tz",
    "America/Denver",
];

fn args<'a>(report: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![report];
    all.extend(DENVER_ARGS);
    all.extend(extra);
    all
}

/// (value, unique, count) of a report's rows; `(other)` has no unique count,
/// and a withheld count is `None`.
fn rows(report: &Value, key: &str) -> Vec<(String, Option<u64>, Option<u64>)> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["value"].as_str().unwrap().to_string(),
                r["unique"].as_u64(),
                r["count"].as_u64(),
            )
        })
        .collect()
}

/// A count the report must withhold, in [`owned`]'s expectations.
const WITHHELD: u64 = u64::MAX;

/// Expected rows; `(other)` never has a unique count, and a count of
/// [`WITHHELD`] stands for none.
fn owned(expected: &[(&str, u64, u64)]) -> Vec<(String, Option<u64>, Option<u64>)> {
    expected
        .iter()
        .map(|(v, u, c)| {
            let count = (*c != WITHHELD).then_some(*c);
            (v.to_string(), (*v != "(other)").then_some(*u), count)
        })
        .collect()
}

#[test]
fn summary_counts_visitors_visits_and_bounces_across_the_dst_change() {
    let c = collector();
    let report = both(
        &c,
        &args("summary", &[]),
        &format!("/api/v1/stats/summary?{DENVER}"),
    );
    // V1..V7; 11 page views; visits V1 2, V7 2, the others 1 = 9; bounces:
    // V1's second, V2, V4, V5, V6, V7 twice = 7.
    assert_eq!(
        report["current"],
        json!({"visitors": 7, "pageviews": 11, "visits": 9, "views_per_visit": 1.22, "bounce_rate": 77.78})
    );
    // Oct 30-31 local: only V8.
    assert_eq!(
        report["previous"],
        json!({"visitors": 1, "pageviews": 1, "visits": 1, "views_per_visit": 1.0, "bounce_rate": 100.0})
    );
    assert_eq!(report["previous_period"]["from"], "2026-10-30");
    assert_eq!(
        report["change"],
        json!({"visitors": 600.0, "pageviews": 1000.0, "visits": 800.0, "views_per_visit": 22.0, "bounce_rate_points": -22.22})
    );
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("once per day")
    );
}

#[test]
fn filters_combine_and_small_filtered_groups_are_withheld() {
    let c = collector();
    // Not mobile and in the US: V1, V3, V6, V7; views 3+2+1+2; visits 2+1+1+2;
    // bounces V1's second, V6, V7 twice.
    let report = both(
        &c,
        &args(
            "summary",
            &["--filter", "device!=mobile", "--filter", "country==US"],
        ),
        &format!("/api/v1/stats/summary?{DENVER}&filter=device!%3Dmobile&filter=country%3D%3DUS"),
    );
    assert_eq!(
        report["current"],
        json!({"visitors": 4, "pageviews": 8, "visits": 6, "views_per_visit": 1.33, "bounce_rate": 66.67})
    );
    // /pricing: V1, V3, V5, one page view each, so three one-view visits.
    let report = cli_json(&args("summary", &["--filter", "path==/pricing"]));
    assert_eq!(
        report["current"],
        json!({"visitors": 3, "pageviews": 3, "visits": 3, "views_per_visit": 1.0, "bounce_rate": 100.0})
    );
    // Referrer contains "GOOGLE" (any case): V1 and V2, fewer than 3.
    let report = cli_json(&args("summary", &["--filter", "referrer_host~GOOGLE"]));
    assert_eq!(report["current"], Value::Null);
    assert_eq!(report["change"], Value::Null);
    // A day series filtered to Germany: V4 alone on Nov 1 is withheld, and so
    // is Nov 2's zero, which must look the same as a small figure.
    let report = both(
        &c,
        &args("timeseries", &["--filter", "country==DE"]),
        &format!("/api/v1/stats/timeseries?{DENVER}&filter=country%3D%3DDE"),
    );
    assert_eq!(
        report["points"],
        json!([
            {"bucket": "2026-11-01", "visitors": null, "pageviews": null},
            {"bucket": "2026-11-02", "visitors": null, "pageviews": null}
        ])
    );
}

#[test]
fn time_series_follow_the_time_zone() {
    let c = collector();
    // Denver days: Nov 1 (25 hours) has V1-V5 and V7; Nov 2 has V6.
    let report = both(
        &c,
        &args("timeseries", &["--interval", "day"]),
        &format!("/api/v1/stats/timeseries?{DENVER}&interval=day"),
    );
    assert_eq!(
        report["points"],
        json!([
            {"bucket": "2026-11-01", "visitors": 6, "pageviews": 10},
            {"bucket": "2026-11-02", "visitors": 1, "pageviews": 1}
        ])
    );
    // UTC days: V8 and V7 move into Nov 1, V5 into Nov 2.
    let report = cli_json(&[
        "timeseries",
        "--site",
        "optimumabq.com",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    assert_eq!(
        report["points"],
        json!([
            {"bucket": "2026-11-01", "visitors": 6, "pageviews": 10},
            {"bucket": "2026-11-02", "visitors": 2, "pageviews": 2}
        ])
    );
    // Hours: the day clocks went back has 25 hours, and 01:00 happens twice
    // (V7 at 01:30 MDT and 01:30 MST): one bucket, one visitor, two views.
    let report = cli_json(&args("timeseries", &["--interval", "hour"]));
    let points = report["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        48,
        "25 + 24 local hours, the repeated one merged"
    );
    assert_eq!(
        points[1],
        json!({"bucket": "2026-11-01 01:00", "visitors": 1, "pageviews": 2})
    );
    // V1's three page views at 15:00-15:50 UTC are 08:00-08:50 MST.
    assert_eq!(
        points[8],
        json!({"bucket": "2026-11-01 08:00", "visitors": 1, "pageviews": 3})
    );
    // Weeks start on Monday (Oct 26 and Nov 2); months on the 1st.
    let report = cli_json(&args("timeseries", &["--interval", "week"]));
    assert_eq!(
        report["points"],
        json!([
            {"bucket": "2026-10-26", "visitors": 6, "pageviews": 10},
            {"bucket": "2026-11-02", "visitors": 1, "pageviews": 1}
        ])
    );
    let report = cli_json(&args("timeseries", &["--interval", "month"]));
    assert_eq!(
        report["points"],
        json!([{"bucket": "2026-11-01", "visitors": 7, "pageviews": 11}])
    );
}

#[test]
fn breakdowns_fold_small_groups_and_keep_totals_exact() {
    let c = collector();
    // Paths: / (V1 twice, V2, V6, V7 twice), /pricing (V1, V3, V5), /tour (V3,
    // V4: two visitors, folded). (other) holds at most 2 people for certain,
    // so its 2 page views are withheld too.
    let report = both(
        &c,
        &args("breakdown", &["--by", "path"]),
        &format!("/api/v1/stats/breakdown?{DENVER}&by=path"),
    );
    assert_eq!(report["count"], "pageviews");
    assert_eq!(
        rows(&report, "rows"),
        owned(&[("/", 4, 6), ("/pricing", 3, 3), ("(other)", 2, WITHHELD)])
    );
    assert_eq!(report["total"]["unique"], 7);
    assert_eq!(report["total"]["count"], 11);
    assert_eq!(report["rows"][0]["share"], 57.14);

    // Entry pages, one per visit: / (V1 twice, V2, V6, V7 twice); /pricing
    // (V3, V5) and /tour (V4) are folded. 7 visitors, 4 in the shown group:
    // (other) certainly holds the other 3, so its count is shown.
    let report = cli_json(&args("breakdown", &["--by", "entry_page"]));
    assert_eq!(report["count"], "visits");
    assert_eq!(
        rows(&report, "rows"),
        owned(&[("/", 4, 6), ("(other)", 3, 3)])
    );
    assert_eq!(
        (
            report["total"]["unique"].as_u64(),
            report["total"]["count"].as_u64()
        ),
        (Some(7), Some(9))
    );

    // Referrers: none for 5 visitors; google.com (V1, V2) and Hacker News
    // (V4) folded. They hold 3 people, but what the report knows proves only
    // 2 (V1 is also in (none)), so (other) is withheld.
    let report = cli_json(&args("breakdown", &["--by", "referrer_host"]));
    assert_eq!(
        rows(&report, "rows"),
        owned(&[("(none)", 5, 8), ("(other)", 3, WITHHELD)])
    );

    // Custom events: signup by V1, V2, V4.
    let report = cli_json(&args("breakdown", &["--by", "name"]));
    assert_eq!(report["count"], "events");
    assert_eq!(rows(&report, "rows"), owned(&[("signup", 3, 3)]));

    // A limit folds the rest even when large enough.
    let report = cli_json(&args("breakdown", &["--by", "path", "--limit", "1"]));
    assert_eq!(
        rows(&report, "rows"),
        owned(&[("/", 4, 6), ("(other)", 4, 5)])
    );

    // Browsers of US visitors (read from events, not the rollup): Chrome
    // V1, V2, V6, V7; Firefox (V3) and Safari (V5) folded, two people: withheld.
    let report = both(
        &c,
        &args("breakdown", &["--by", "browser", "--filter", "country==US"]),
        &format!("/api/v1/stats/breakdown?{DENVER}&by=browser&filter=country%3D%3DUS"),
    );
    assert_eq!(
        rows(&report, "rows"),
        owned(&[("Chrome", 4, 7), ("(other)", 2, WITHHELD)])
    );
    assert_eq!(report["total"]["unique"], 6);
}

#[test]
fn reports_say_the_same_before_and_after_the_daily_rollup() {
    let f = fixture();
    for (line, before) in RAW_ONLY_REPORTS.iter().zip(&f.raw_only) {
        let args: Vec<&str> = line.split_whitespace().collect();
        let after = f.db.run(&args);
        assert_eq!(&after, before, "{line}");
    }
}

#[test]
fn late_hits_are_rolled_up_again() {
    let scratch = Scratch::new("rollup", FOLD_NOTHING);
    let insert = |visitor: u32| {
        scratch.insert_events(&format!(
            "('optimumabq.com', '2026-11-10 12:00:00', 'pageview', {visitor}, '/', 'desktop')"
        ));
    };
    let visitors = || {
        scratch.summary("2026-11-10", "2026-11-10")["visitors"]
            .as_u64()
            .unwrap()
    };
    insert(1);
    insert(2);
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 1 day(s)");
    assert_eq!(visitors(), 2);
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 0 day(s)");
    // A hit for that day arrives late (a spool drained after an outage): the
    // day is computed again and the old rows are replaced, not added to.
    insert(3);
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 1 day(s)");
    assert_eq!(visitors(), 3);
}

#[test]
fn visits_end_at_utc_midnight_whichever_table_answers() {
    let scratch = Scratch::new("midnight", FOLD_NOTHING);
    // One id across midnight (real ids change there; these rows pretend
    // not), 20 minutes apart: two visits, each a bounce.
    scratch.insert_events(
        "('optimumabq.com', '2026-11-10 23:50:00', 'pageview', 7, '/', 'desktop'), \
         ('optimumabq.com', '2026-11-11 00:10:00', 'pageview', 7, '/', 'desktop')",
    );
    let expected = json!({"visitors": 2, "pageviews": 2, "visits": 2, "views_per_visit": 1.0, "bounce_rate": 100.0});
    assert_eq!(
        scratch.summary("2026-11-10", "2026-11-11"),
        expected,
        "from events"
    );
    scratch.run(&["rollup"]);
    assert_eq!(
        scratch.summary("2026-11-10", "2026-11-11"),
        expected,
        "from the rollup"
    );
}

#[test]
fn the_rollup_and_the_events_table_agree() {
    // A filter on another dimension makes the events table answer; one that
    // matches everything must give the rollup's figures.
    let rolled = cli_json(&args("summary", &[]));
    let raw = cli_json(&args("summary", &["--filter", "city!=Nowhere"]));
    assert_eq!(rolled["current"], raw["current"]);
    for by in [
        "path",
        "country",
        "browser",
        "device",
        "referrer_host",
        "name",
        "utm_source",
    ] {
        let rollup = cli_json(&args("breakdown", &["--by", by]));
        let raw = cli_json(&args(
            "breakdown",
            &["--by", by, "--filter", "city!=Nowhere"],
        ));
        assert_eq!(rollup["rows"], raw["rows"], "{by}");
        assert_eq!(rollup["total"], raw["total"], "{by}");
    }
    // A half-hour zone cannot use hourly rollups; the answer is still exact.
    let report = cli_json(&[
        "summary",
        "--site",
        "optimumabq.com",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
        "--tz",
        "Asia/Kolkata",
    ]);
    // Kolkata days Nov 1-2 run from 2026-10-31 18:30 to 2026-11-02 18:30 UTC:
    // V1-V8 all fall inside, so 8 visitors and 12 page views.
    assert_eq!(report["current"]["visitors"], 8);
    assert_eq!(report["current"]["pageviews"], 12);
}

/// Every report the dashboard issues for one `==` filter (summary with the
/// previous period, time series, breakdowns), over `window` (CLI arguments
/// after the report kind), answered with `filter` alone (from
/// `daily_filtered` on whole rolled-up UTC days) and with `city!=Nowhere`
/// added, which matches every hit and makes `events` answer: the two must
/// be the same. Returns how many reports were compared.
fn filtered_agrees_with_events(db: &Scratch, window: &[&str], filter: &str) -> usize {
    let report = |kind: &str, extra: &[&str], filters: &[&str]| {
        let mut all = vec![kind];
        all.extend(window);
        all.extend(extra);
        for f in filters {
            all.extend(["--filter", f]);
        }
        db.beaconhouse().report_json(&all)
    };
    let mut compared = 0;
    let mut same = |kind: &str, extra: &[&str], keys: &[&str]| {
        let rolled = report(kind, extra, &[filter]);
        let raw = report(kind, extra, &[filter, "city!=Nowhere"]);
        for key in keys {
            assert_eq!(
                rolled[key], raw[key],
                "{kind} {extra:?} {key} with {filter} over {window:?}"
            );
        }
        compared += 1;
    };
    same("summary", &[], &["current", "previous"]);
    for interval in ["day", "hour"] {
        same("timeseries", &["--interval", interval], &["points"]);
    }
    for by in [
        "path",
        "entry_page",
        "referrer_host",
        "country",
        "browser",
        "device",
        "name",
    ] {
        same("breakdown", &["--by", by], &["rows", "total"]);
    }
    compared
}

#[test]
fn filtered_reports_from_the_rollup_equal_the_same_from_events() {
    let db = &fixture().db;
    let rows = db.clickhouse.query(
        &db.database,
        "SELECT count() FROM daily_filtered WHERE filter_dimension = 'country' AND filter_value = 'US' FORMAT TSV",
    );
    assert!(
        rows.trim().parse::<u64>().unwrap() > 0,
        "the rollup filled daily_filtered"
    );
    for filter in [
        "country==US",
        "browser==Chrome",
        "device==mobile",
        "path==/pricing",
        "referrer_host==google.com",
        "name==signup",
    ] {
        // Whole UTC days from the rollup alone; in Denver, partial UTC days
        // at both edges from `events`.
        // The fixture's window without its time zone is the same days in UTC.
        for window in [&DENVER_ARGS[..6], &DENVER_ARGS[..]] {
            assert_eq!(filtered_agrees_with_events(db, window, filter), 10);
        }
    }
    // By hand, UTC Nov 1-2 with country==US: V1-V3 and V5-V8 (7 visitors),
    // page views of V1 (3), V2, V3 (2), V5, V6, V7 (2), V8: 11.
    let us = db.beaconhouse().report_json(&[
        "summary",
        "--site",
        "optimumabq.com",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
        "--filter",
        "country==US",
    ]);
    assert_eq!(us["current"]["visitors"], 7);
    assert_eq!(us["current"]["pageviews"], 11);
}

#[test]
fn filtered_rollups_are_computed_again_for_late_hits_and_old_days() {
    let scratch = Scratch::new("filtered", FOLD_NOTHING);
    let hit = |at: &str, visitor: u32, path: &str, device: &str| {
        format!("('optimumabq.com', '2026-11-{at}', 'pageview', {visitor}, '{path}', '{device}')")
    };
    scratch.insert_events(
        &[
            hit("10 12:00:00", 1, "/", "mobile"),
            hit("10 12:05:00", 1, "/pricing", "mobile"),
            hit("10 13:00:00", 2, "/pricing", "mobile"),
            hit("10 14:00:00", 3, "/", "desktop"),
            hit("11 02:00:00", 4, "/tour", "mobile"),
            hit("11 02:40:00", 4, "/", "mobile"),
        ]
        .join(", "),
    );
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 2 day(s)");
    let utc = [
        "--site",
        "optimumabq.com",
        "--from",
        "2026-11-10",
        "--to",
        "2026-11-11",
    ];
    let denver = [&utc[..], &["--tz", "America/Denver"]].concat();
    let mobile = |tz: &[&str]| {
        let mut args = vec!["summary"];
        args.extend(tz);
        args.extend(["--filter", "device==mobile"]);
        scratch.beaconhouse().report_json(&args)["current"].clone()
    };
    for window in [&utc[..], &denver[..]] {
        assert_eq!(
            filtered_agrees_with_events(&scratch, window, "device==mobile"),
            10
        );
        assert_eq!(
            filtered_agrees_with_events(&scratch, window, "path==/pricing"),
            10
        );
    }
    // Mobile, UTC: visitors 1, 2 (Nov 10) and 4 (Nov 11); visits: 1's two
    // views, 2's one (a bounce), 4's two views 40 minutes apart (two
    // bounces).
    assert_eq!(
        mobile(&utc),
        json!({"visitors": 3, "pageviews": 5, "visits": 4, "views_per_visit": 1.25, "bounce_rate": 75.0})
    );

    // A late mobile hit for Nov 10: until the day is computed again, the
    // rollup still holds the old figures (so it is what answered above)...
    scratch.insert_events(&hit("10 20:00:00", 5, "/tour", "mobile"));
    assert_eq!(mobile(&utc)["visitors"], 3);
    // ...then both tables are computed again, and the answers agree.
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 1 day(s)");
    assert_eq!(mobile(&utc)["visitors"], 4);
    for window in [&utc[..], &denver[..]] {
        assert_eq!(
            filtered_agrees_with_events(&scratch, window, "device==mobile"),
            10
        );
    }

    // A day rolled up before daily_filtered existed (the ledger's `filtered`
    // is 0): filtered reports read it from `events`, unfiltered ones still
    // from daily_stats, and the next rollup computes it again into both.
    scratch.clickhouse.query(
        &scratch.database,
        "INSERT INTO daily_filtered (site, day, filter_dimension, filter_value, dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) \
         SELECT site, day, filter_dimension, filter_value, dimension, value, visitors + 100, hits, visits, bounces, visit_views, computed_at + 1 \
         FROM daily_filtered WHERE day = '2026-11-11'",
    );
    scratch.clickhouse.query(
        &scratch.database,
        "INSERT INTO daily_stats_days (day, events, computed_at, filtered) \
         SELECT day, events, computed_at + 1, 0 FROM daily_stats_days FINAL WHERE day = '2026-11-11'",
    );
    assert_eq!(
        mobile(&utc)["visitors"],
        4,
        "Nov 11 from events, not the stale rows"
    );
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 1 day(s)");
    assert_eq!(scratch.run(&["rollup"]).trim(), "rolled up 0 day(s)");
    let filtered_days = scratch.clickhouse.query(
        &scratch.database,
        "SELECT sum(filtered) FROM daily_stats_days FINAL FORMAT TSV",
    );
    assert_eq!(
        filtered_days.trim(),
        "2",
        "both days are in daily_filtered again"
    );
    assert_eq!(mobile(&utc)["visitors"], 4);
    assert_eq!(
        filtered_agrees_with_events(&scratch, &utc, "device==mobile"),
        10
    );
}

#[test]
fn no_report_shows_a_group_smaller_than_the_threshold() {
    for by in [
        "path",
        "entry_page",
        "referrer_host",
        "utm_source",
        "country",
        "region",
        "city",
        "browser",
        "os",
        "device",
        "name",
    ] {
        let report = cli_json(&args("breakdown", &["--by", by]));
        for (value, unique, _) in rows(&report, "rows") {
            assert!(
                value == "(other)" && unique.is_none() || unique.is_some_and(|u| u >= 3),
                "{by}: group {value:?} of {unique:?} visitors shown"
            );
        }
    }
    let report = cli_json(&[
        "email",
        "--campaign",
        "nov-newsletter",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    for key in ["by_client", "by_country"] {
        for (value, unique, _) in rows(&report, key) {
            assert!(
                value == "(other)" && unique.is_none() || unique.is_some_and(|u| u >= 3),
                "{key}: {value:?}"
            );
        }
    }
}

#[test]
fn email_reports_count_opens_recipients_and_proxies() {
    let c = collector();
    let report = both(
        &c,
        &[
            "email",
            "--campaign",
            "nov-newsletter",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ],
        "/api/v1/stats/email?campaign=nov-newsletter&from=2026-11-01&to=2026-11-02",
    );
    // 7 opens by 6 recipients; proxied: R1 twice, R2, R6; direct: R3, R4, R5.
    assert_eq!(report["opens"], 7);
    assert_eq!(report["unique_opens"], 6);
    assert_eq!(report["proxied_opens"], 4);
    assert_eq!(report["direct_opens"], 3);
    assert_eq!(report["unique_direct_opens"], 3);
    assert_eq!(
        rows(&report, "by_day"),
        owned(&[("2026-11-01", 3, 4), ("2026-11-02", 3, 3)])
    );
    // Gmail: R1 (twice), R5, R6; Apple Mail, Outlook, Thunderbird folded.
    assert_eq!(
        rows(&report, "by_client"),
        owned(&[("Gmail", 3, 4), ("(other)", 3, 3)])
    );
    assert_eq!(
        rows(&report, "by_country"),
        owned(&[("(none)", 3, 4), ("US", 3, 3)])
    );
}

#[test]
fn the_api_wants_a_token_allowed_for_the_site_and_says_what_is_wrong() {
    let c = collector();
    let summary = format!("/api/v1/stats/summary?{DENVER}");
    let (status, body) = api(&c, &summary, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, _) = api(
        &c,
        &summary,
        Some("marketing-token-0123456789abcdef012345678X"),
    );
    assert_eq!(status, 401);
    let (status, _) = api(&c, &summary, Some(AGENCY));
    assert_eq!(status, 200);
    let (status, body) = api(
        &c,
        "/api/v1/stats/email?campaign=nov-newsletter&from=2026-11-01&to=2026-11-02",
        Some(AGENCY),
    );
    assert_eq!(status, 403, "{body}");
    let (status, body) = api(
        &c,
        "/api/v1/stats/summary?site=elsewhere.example&from=2026-11-01&to=2026-11-02",
        Some(MARKETING),
    );
    assert_eq!(status, 403, "{body}");
    let (status, body) = api(
        &c,
        "/api/v1/stats/summary?site=elsewhere.example&from=2026-11-01&to=2026-11-02",
        Some(AGENCY),
    );
    assert_eq!(status, 404, "{body}");
    for (query, mentions) in [
        ("site=optimumabq.com&from=2026-11-01", "`to` is missing"),
        (
            "site=optimumabq.com&from=2026-11-31&to=2026-12-01",
            "YYYY-MM-DD",
        ),
        (
            &format!("{DENVER}&by=visitor_id") as &str,
            "unknown parameter `by`",
        ),
        (
            "site=optimumabq.com&from=2026-11-01&to=2026-11-02&tz=Mars/Base",
            "does not know",
        ),
        (
            "site=optimumabq.com&from=2026-11-01&to=2026-11-02&filter=ip%3D%3D1.2.3.4",
            "use one of",
        ),
    ] {
        let (status, body) = api(
            &c,
            &format!("/api/v1/stats/summary?{query}"),
            Some(MARKETING),
        );
        assert_eq!(status, 400, "{query}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(
            error["error"].as_str().unwrap().contains(mentions),
            "{query}: {body}"
        );
    }
}

#[test]
fn csv_and_tables_carry_the_same_figures() {
    let c = collector();
    let response = c.get(
        &format!("/api/v1/stats/breakdown?{DENVER}&by=path"),
        &[
            ("Authorization", &format!("Bearer {MARKETING}")),
            ("Accept", "text/csv"),
        ],
    );
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "path,visitors,pageviews,share_%\r\n/,4,6,57.14\r\n/pricing,3,3,42.86\r\n(other),-,-,-\r\n(total),7,11,100.00\r\n"
    );
    let (ok, table, stderr) = cli(&args("breakdown", &["--by", "path"]));
    assert!(ok, "{stderr}");
    assert!(
        table.contains("path      visitors  pageviews  share_%"),
        "{table}"
    );
    assert!(
        table.contains("/pricing         3          3    42.86"),
        "{table}"
    );
    let (status, body) = api(&c, "/api/v1/openapi.json", None);
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\""));
}

#[test]
fn the_cli_refuses_unknown_sites_and_bad_arguments_by_name() {
    let (ok, _, stderr) = cli(&[
        "summary",
        "--site",
        "nope.example",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("not configured; configured sites: optimumabq.com"),
        "{stderr}"
    );
    let (ok, _, stderr) = cli(&args("breakdown", &["--by", "ip"]));
    assert!(!ok);
    assert!(stderr.contains("`by` is \"ip\""), "{stderr}");
}
