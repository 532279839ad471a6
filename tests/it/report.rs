//! Reports against a real clickhouse-server: known events and opens
//! (`common::known_hits`) go in with SQL (so timestamps and visitor ids are
//! exact), every figure comes back through `beaconhouse report` and through
//! the stats API, and is checked against the value worked out by hand in the
//! comments, as the release step makes it: every known visitor and
//! recipient comes `known_hits::COPIES` (30) times, so each figure worked
//! out for one of them is ×30 (written `4×30 = 120`), and the report shows
//! it plus the noise of its cells, withheld under the threshold where it is
//! not a whole-site figure (`common::released::Expect` works both out).
//! Where two reports count the same people over other cells (other
//! filters), the exact figures behind them must agree: released less noise.
//!
//! Site time zone America/Denver; clocks went back on 2026-11-01 at 08:00 UTC,
//! so that local day runs from 06:00 UTC to 07:00 UTC the next day (25 hours).
//! `min_group_size` is 3 here, below every threshold of the release step.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::common::released::{Expect, VIEWS_CAP, instant};
use crate::common::{self, Beaconhouse, ClickHouse, Collector, known_hits};
use beaconhouse::clock;
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

/// `min_group_size` of [`REPORTING_TOML`].
const MIN_GROUP_SIZE: u64 = 3;

const SITE: &str = "optimumabq.com";

struct Fixture {
    db: Scratch,
    /// `RAW_ONLY_REPORTS` as printed before the daily rollup existed.
    raw_only: [String; 9],
}

/// Reports (command lines) run before and after the rollup; the answers must
/// not change. The last two cut the rolled-up UTC day Nov 5 at Denver
/// midnights, around which one visitor's page views pass the cap
/// (`known_hits::few`).
const RAW_ONLY_REPORTS: [&str; 9] = [
    "report summary --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --tz America/Denver --format json",
    "report breakdown --by path --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --tz America/Denver --format json",
    "report breakdown --by entry_page --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --format json",
    "report timeseries --interval week --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --format json",
    "report timeseries --interval day --site optimumabq.com --from 2026-10-31 --to 2026-11-03 --tz America/Denver --format json",
    "report timeseries --interval week --site optimumabq.com --from 2026-10-20 --to 2026-11-10 --tz America/Los_Angeles --format json",
    "report timeseries --interval hour --site optimumabq.com --from 2026-11-01 --to 2026-11-01 --tz UTC --format json",
    "report timeseries --interval day --site optimumabq.com --from 2026-11-04 --to 2026-11-05 --tz America/Denver --format json",
    "report timeseries --interval week --site optimumabq.com --from 2026-11-05 --to 2026-11-06 --tz America/Denver --format json",
];

/// The `[reporting]` of the small tests: no `min_group_size` beyond the
/// release step's threshold.
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

    /// Runs `beaconhouse rollup`, which must say it rolled up `rolled_up`
    /// days and released `released` days to staff SQL.
    fn roll_up(&self, rolled_up: usize, released: usize, why: &str) {
        assert_eq!(
            self.run(&["rollup"]),
            format!(
                "rolled up {rolled_up} day(s)\nreleased {released} day(s) to {}_released.daily\n",
                self.database
            ),
            "{why}"
        );
    }

    /// The current figures of the summary from `from` to `to`, UTC.
    fn summary(&self, from: &str, to: &str) -> Value {
        let args = ["summary", "--site", SITE, "--from", from, "--to", to];
        self.beaconhouse().report_json(&args)["current"].clone()
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let db = Scratch::new("report", REPORTING_TOML);
        for insert in known_hits::inserts().into_iter().chain(known_hits::few()) {
            db.clickhouse.query(&db.database, &insert);
        }
        // Before the rollup, every report reads `events` alone.
        let raw_only = RAW_ONLY_REPORTS.map(|line| {
            let args: Vec<&str> = line.split_whitespace().collect();
            db.run(&args)
        });
        db.roll_up(3, 3, "Nov 1, 2 and 5, UTC");
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
/// Denver's Nov 1-2 in UTC, where its cells begin and end.
const DENVER_FROM: &str = "2026-11-01 06:00";
const DENVER_TO: &str = "2026-11-03 07:00";

fn args<'a>(report: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![report];
    all.extend(DENVER_ARGS);
    all.extend(extra);
    all
}

/// The cells of a site report over Denver's Nov 1-2 with `filters`.
fn denver(filters: &[&str]) -> Expect {
    Expect::site(SITE, DENVER_FROM, DENVER_TO, filters, MIN_GROUP_SIZE)
}

/// The cells of a site report over the UTC instants `[from, to)`, without
/// filters.
fn site(from: &str, to: &str) -> Expect {
    Expect::site(SITE, from, to, &[], MIN_GROUP_SIZE)
}

/// A released figure: people and count, each `None` when withheld.
type Figure = (Option<u64>, Option<u64>);

/// (value, unique, count) of a report's row.
type ReportRow = (String, Option<u64>, Option<u64>);

/// The rows of a report; `(other)` has no unique count, and a withheld
/// figure is `None`.
fn rows(report: &Value, key: &str) -> Vec<ReportRow> {
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

/// The rows a grouped report must list: the `shown` groups, largest
/// released people first, then `(other)`, which counts what the
/// released `total` holds beyond them (at least zero) and no people.
fn expected_rows(shown: &[(&str, Figure)], total: Figure) -> Vec<ReportRow> {
    let mut rows: Vec<ReportRow> = shown
        .iter()
        .map(|(value, (people, count))| {
            assert!(people.is_some(), "the release step withholds {value}");
            (value.to_string(), *people, *count)
        })
        .collect();
    // In the order a breakdown shows them: released people, then count,
    // then value.
    rows.sort_by(|a, b| (b.1, b.2).cmp(&(a.1, a.2)).then_with(|| a.0.cmp(&b.0)));
    let shown_count: u64 = shown.iter().map(|(_, (_, count))| count.unwrap()).sum();
    let total_count = total.1.expect("a shown total");
    rows.push((
        "(other)".into(),
        None,
        Some(total_count.saturating_sub(shown_count)),
    ));
    rows
}

/// A time-series point of `exact` (visitors, page views) over `cells`.
fn point(bucket: &str, cells: &Expect, exact: (u64, u64), public: bool) -> Value {
    let (visitors, pageviews) = cells.figure(["all", "", "visitors", "pageviews"], exact, public);
    json!({"bucket": bucket, "visitors": visitors, "pageviews": pageviews})
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A summary's `change`, worked out from its released `current` and
/// `previous` figures.
fn change(current: &Value, previous: &Value) -> Value {
    let figure = |figures: &Value, key: &str| figures[key].as_f64().unwrap();
    let percent = |key: &str| {
        let (c, p) = (figure(current, key), figure(previous, key));
        (p != 0.0).then(|| round2(100.0 * (c - p) / p))
    };
    let points = (figure(previous, "visits") > 0.0)
        .then(|| round2(figure(current, "bounce_rate") - figure(previous, "bounce_rate")));
    json!({
        "visitors": percent("visitors"),
        "pageviews": percent("pageviews"),
        "visits": percent("visits"),
        "views_per_visit": percent("views_per_visit"),
        "bounce_rate_points": points,
    })
}

/// The UTC instant (`2026-11-01 06:00`) of a local midnight (`2026-11-01`)
/// or hour (`2026-11-01 01:00`) in UTC or in America/Denver, which is UTC-6
/// until clocks went back at 08:00 UTC on 2026-11-01 and UTC-7 after; the
/// hour that happens twice stands for its first time, where its time
/// bucket starts.
fn utc(local: &str, time_zone: &str) -> String {
    let at = instant(local);
    let hours_behind = match time_zone {
        "UTC" => 0,
        "America/Denver" if at + 6 * 3600 < instant("2026-11-01 08:00") => 6,
        "America/Denver" => 7,
        other => panic!("no rule for {other}"),
    };
    clock::utc_minute(at + hours_behind * 3600)
}

/// The local date after `date`.
fn next_day(date: &str) -> String {
    clock::iso_date(clock::day_of(instant(date)) + 1)
}

/// Where a report's `period` (or `previous_period`) begins and ends, UTC.
fn bounds(period: &Value) -> (String, String) {
    let time_zone = period["time_zone"].as_str().unwrap();
    let from = utc(period["from"].as_str().unwrap(), time_zone);
    let to = utc(&next_day(period["to"].as_str().unwrap()), time_zone);
    (from, to)
}

/// The exact counts a released count may stand for, as an inclusive range:
/// `released`, the range the count was in before it was clamped at zero,
/// less the noise of the cells `names` of `cells`; at least zero.
fn exact_between(
    cells: &Expect,
    names: [&str; 3],
    released: (i64, i64),
    sensitivity: u64,
) -> (i64, i64) {
    let noise = -cells.exact(names, 0, sensitivity);
    (
        released.0.saturating_sub(noise).max(0),
        released.1.saturating_sub(noise),
    )
}

/// What a released count was before it was clamped at zero: itself, or,
/// for 0, anything up to 0.
fn unclamped(released: u64) -> (i64, i64) {
    match released {
        0 => (i64::MIN, 0),
        n => (n as i64, n as i64),
    }
}

/// What a released site report (summary, time series or breakdown) with
/// `filters` says of the exact figures behind it, by name: the range each
/// lies in ([`exact_between`]), `None` when withheld. The rows of a
/// breakdown are named by their values; `(other)`, arithmetic on the
/// others, is left out.
fn exact_figures(report: &Value, filters: &[&str]) -> BTreeMap<String, Option<(i64, i64)>> {
    let mut exact = BTreeMap::new();
    let cells_of = |period: &Value| {
        let (from, to) = bounds(period);
        Expect::site(SITE, &from, &to, filters, 1)
    };
    if let Some(points) = report["points"].as_array() {
        let period = &report["period"];
        let time_zone = period["time_zone"].as_str().unwrap();
        let (start, end) = bounds(period);
        let window = cells_of(period);
        for (i, point) in points.iter().enumerate() {
            // A bucket runs from its start (the window's, for the first) to
            // the next one's.
            let label = point["bucket"].as_str().unwrap();
            let from = utc(label, time_zone).max(start.clone());
            let to = points.get(i + 1).map_or(end.clone(), |next| {
                utc(next["bucket"].as_str().unwrap(), time_zone)
            });
            let cells = window.over(&from, &to);
            for (metric, sensitivity) in [("visitors", 1), ("pageviews", VIEWS_CAP)] {
                let range = point[metric].as_u64().map(|released| {
                    exact_between(
                        &cells,
                        ["all", "", metric],
                        unclamped(released),
                        sensitivity,
                    )
                });
                exact.insert(format!("{label} {metric}"), range);
            }
        }
    } else if let Some(by) = report["dimension"].as_str() {
        let cells = cells_of(&report["period"]);
        let count = if by == "entry_page" {
            "visits"
        } else {
            "pageviews"
        };
        let total = match by {
            "entry_page" => "entry_total",
            "name" => "event_total",
            _ => "",
        };
        let mut figure = |name: &str, dimension: &str, value: &str, row: &Value| {
            for (key, metric, sensitivity) in
                [("unique", "visitors", 1), ("count", count, VIEWS_CAP)]
            {
                let range = row[key].as_u64().map(|released| {
                    exact_between(
                        &cells,
                        [dimension, value, metric],
                        unclamped(released),
                        sensitivity,
                    )
                });
                exact.insert(format!("{name} {metric}"), range);
            }
        };
        figure("(total)", total, "", &report["total"]);
        for row in report["rows"].as_array().unwrap() {
            let value = row["value"].as_str().unwrap();
            let cell_value = if value == "(none)" { "" } else { value };
            if value != "(other)" {
                figure(value, by, cell_value, row);
            }
        }
    } else {
        for (key, period) in [("current", "period"), ("previous", "previous_period")] {
            let cells = cells_of(&report[period]);
            let figures = &report[key];
            let released = |metric: &str| figures[metric].as_u64();
            for (metric, sensitivity) in [
                ("visitors", 1),
                ("pageviews", VIEWS_CAP),
                ("visits", VIEWS_CAP),
            ] {
                let range = released(metric).map(|released| {
                    exact_between(
                        &cells,
                        ["all", "", metric],
                        unclamped(released),
                        sensitivity,
                    )
                });
                exact.insert(format!("{key} {metric}"), range);
            }
            // Bounces show as a rate of the released visits, to two decimals:
            // enough to give the released count back, unless it is 100%
            // (bounces clamped at visits) or there are no visits.
            let bounces = released("visits").map(|visits| {
                let rate = figures["bounce_rate"].as_f64().unwrap();
                let released = match visits {
                    0 => (i64::MIN, i64::MAX),
                    _ if rate >= 100.0 => (visits as i64, i64::MAX),
                    _ => unclamped((rate * visits as f64 / 100.0).round() as u64),
                };
                exact_between(&cells, ["all", "", "bounces"], released, VIEWS_CAP)
            });
            exact.insert(format!("{key} bounces"), bounces);
        }
    }
    exact
}

/// Two released reports of the same people over other cells (other
/// filters) say the same: the same figures shown and withheld, and exact
/// figures that agree (their ranges meet; where neither was clamped at
/// zero, they are equal).
fn assert_same_exact(a: (&Value, &[&str]), b: (&Value, &[&str]), what: &str) {
    let (a, b) = (exact_figures(a.0, a.1), exact_figures(b.0, b.1));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: other figures shown"
    );
    for (name, x) in &a {
        match (x, &b[name]) {
            (None, None) => {}
            (Some((a_low, a_high)), Some((b_low, b_high)))
                if a_low <= b_high && b_low <= a_high => {}
            (x, y) => panic!("{what}: {name}: exact {x:?} against {y:?}"),
        }
    }
}

#[test]
fn summary_counts_visitors_visits_and_bounces_across_the_dst_change() {
    let c = collector();
    let report = both(
        &c,
        &args("summary", &[]),
        &format!("/api/v1/stats/summary?{DENVER}"),
    );
    // V1..V7: 7×30 = 210; 11×30 = 330 page views; visits V1 2, V7 2, the
    // others 1: 9×30 = 270; bounces: V1's second, V2, V4, V5, V6, V7 twice:
    // 7×30 = 210.
    let current = denver(&[]).summary(210, 330, 270, 210);
    assert_eq!(report["current"], current);
    // Oct 30-31 local (06:00 UTC Oct 30 to 06:00 UTC Nov 1): only V8, 30
    // visitors of one bouncing page view each.
    let previous = site("2026-10-30 06:00", "2026-11-01 06:00").summary(30, 30, 30, 30);
    assert_eq!(report["previous"], previous);
    assert_eq!(report["previous_period"]["from"], "2026-10-30");
    assert_eq!(report["change"], change(&current, &previous));
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
    // Not mobile and in the US: V1, V3, V6, V7: 4×30 = 120; views 3+2+1+2 =
    // 8×30 = 240; visits 2+1+1+2 = 6×30 = 180; bounces V1's second, V6, V7
    // twice: 4×30 = 120.
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
        denver(&["device!=mobile", "country==US"]).summary(120, 240, 180, 120)
    );
    // /pricing: V1, V3, V5, one page view each, so three one-view visits:
    // 3×30 = 90 of each.
    let report = cli_json(&args("summary", &["--filter", "path==/pricing"]));
    assert_eq!(
        report["current"],
        denver(&["path==/pricing"]).summary(90, 90, 90, 90)
    );
    // A day series filtered to Germany: V4's 30 on Nov 1 (06:00 UTC Nov 1
    // to 07:00 UTC Nov 2) show; Nov 2's zero is withheld.
    let report = both(
        &c,
        &args("timeseries", &["--filter", "country==DE"]),
        &format!("/api/v1/stats/timeseries?{DENVER}&filter=country%3D%3DDE"),
    );
    let germany = denver(&["country==DE"]);
    assert_eq!(
        report["points"],
        json!([
            point(
                "2026-11-01",
                &germany.over(DENVER_FROM, "2026-11-02 07:00"),
                (30, 30),
                false
            ),
            point(
                "2026-11-02",
                &germany.over("2026-11-02 07:00", DENVER_TO),
                (0, 0),
                false
            ),
        ])
    );
    assert!(report["points"][0]["visitors"].is_u64());
    assert!(report["points"][1]["visitors"].is_null());

    // Denver's Nov 4-5 holds only the few of `known_hits::few`. From Bing:
    // F1 and F2, two people, withheld; from Google: nobody, withheld alike.
    let few = |report: &'static str, extra: [&'static str; 2]| {
        let mut all = vec![
            report,
            "--site",
            SITE,
            "--from",
            "2026-11-04",
            "--to",
            "2026-11-05",
            "--tz",
            "America/Denver",
        ];
        all.extend(extra);
        cli_json(&all)
    };
    for filter in ["referrer_host~BING", "referrer_host~GOOGLE"] {
        let report = few("summary", ["--filter", filter]);
        assert_eq!(report["current"], Value::Null, "{filter}");
        assert_eq!(report["change"], Value::Null, "{filter}");
    }
    // Italy: F3 alone on Nov 5, withheld; nobody on Nov 4, withheld the same.
    assert_eq!(
        few("timeseries", ["--filter", "country==IT"])["points"],
        json!([
            {"bucket": "2026-11-04", "visitors": null, "pageviews": null},
            {"bucket": "2026-11-05", "visitors": null, "pageviews": null}
        ])
    );
}

#[test]
fn time_series_follow_the_time_zone() {
    let c = collector();
    // Denver days: Nov 1 (25 hours, 06:00 UTC Nov 1 to 07:00 UTC Nov 2) has
    // V1-V5 and V7: 6×30 = 180 visitors, 10×30 = 300 views; Nov 2 has V6:
    // 30 and 30.
    let report = both(
        &c,
        &args("timeseries", &["--interval", "day"]),
        &format!("/api/v1/stats/timeseries?{DENVER}&interval=day"),
    );
    let nov_1 = denver(&[]).over(DENVER_FROM, "2026-11-02 07:00");
    let nov_2 = denver(&[]).over("2026-11-02 07:00", DENVER_TO);
    assert_eq!(
        report["points"],
        json!([
            point("2026-11-01", &nov_1, (180, 300), true),
            point("2026-11-02", &nov_2, (30, 30), true)
        ])
    );
    // UTC days: V8 and V7 move into Nov 1 (6×30 = 180, 10×30 = 300), V5
    // into Nov 2 (2×30 = 60, 60).
    let report = cli_json(&[
        "timeseries",
        "--site",
        SITE,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    assert_eq!(
        report["points"],
        json!([
            point(
                "2026-11-01",
                &site("2026-11-01 00:00", "2026-11-02 00:00"),
                (180, 300),
                true
            ),
            point(
                "2026-11-02",
                &site("2026-11-02 00:00", "2026-11-03 00:00"),
                (60, 60),
                true
            )
        ])
    );
    // Hours: the day clocks went back has 25 hours, and 01:00 happens twice
    // (V7 at 01:30 MDT and 01:30 MST): one bucket of two UTC hours (07:00 to
    // 09:00), 30 visitors, 2×30 = 60 views.
    let report = cli_json(&args("timeseries", &["--interval", "hour"]));
    let points = report["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        48,
        "25 + 24 local hours, the repeated one merged"
    );
    assert_eq!(
        points[1],
        point(
            "2026-11-01 01:00",
            &denver(&[]).over("2026-11-01 07:00", "2026-11-01 09:00"),
            (30, 60),
            true
        )
    );
    // V1's three page views at 15:00-15:50 UTC are 08:00-08:50 MST: 30
    // visitors, 3×30 = 90 views.
    assert_eq!(
        points[8],
        point(
            "2026-11-01 08:00",
            &denver(&[]).over("2026-11-01 15:00", "2026-11-01 16:00"),
            (30, 90),
            true
        )
    );
    // Weeks start on Monday (Oct 26 and Nov 2): the same cells as the days.
    let report = cli_json(&args("timeseries", &["--interval", "week"]));
    assert_eq!(
        report["points"],
        json!([
            point("2026-10-26", &nov_1, (180, 300), true),
            point("2026-11-02", &nov_2, (30, 30), true)
        ])
    );
    // Months on the 1st: the whole window, V1-V7.
    let report = cli_json(&args("timeseries", &["--interval", "month"]));
    assert_eq!(
        report["points"],
        json!([point("2026-11-01", &denver(&[]), (210, 330), true)])
    );
}

/// The path breakdown of Denver's Nov 1-2, released: / (V1, V2, V6, V7:
/// 4×30 = 120 visitors; views V1 2, V2, V6, V7 2: 6×30 = 180), /pricing (V1,
/// V3, V5: 90 and 90), /tour (V3, V4: 60 and 60); the page-view total, V1-V7
/// (210) and 11×30 = 330 views.
fn denver_paths() -> ([(&'static str, Figure); 3], Figure) {
    let cells = denver(&[]);
    let path = |value, exact| cells.figure(["path", value, "visitors", "pageviews"], exact, false);
    (
        [
            ("/", path("/", (120, 180))),
            ("/pricing", path("/pricing", (90, 90))),
            ("/tour", path("/tour", (60, 60))),
        ],
        cells.figure(["", "", "visitors", "pageviews"], (210, 330), true),
    )
}

#[test]
fn breakdowns_fold_small_groups_and_keep_totals_exact() {
    let c = collector();
    let cells = denver(&[]);
    let report = both(
        &c,
        &args("breakdown", &["--by", "path"]),
        &format!("/api/v1/stats/breakdown?{DENVER}&by=path"),
    );
    let (paths, total) = denver_paths();
    assert_eq!(report["count"], "pageviews");
    assert_eq!(rows(&report, "rows"), expected_rows(&paths, total));
    assert_eq!(report["total"]["unique"].as_u64(), total.0);
    assert_eq!(report["total"]["count"].as_u64(), total.1);
    let share = 100.0 * paths[0].1.0.unwrap() as f64 / total.0.unwrap() as f64;
    assert_eq!(report["rows"][0]["share"], round2(share));

    // Entry pages, one per visit: / (V1 twice, V2, V6, V7 twice: 4×30 =
    // 120 visitors, 6×30 = 180 visits), /pricing (V3, V5: 60, 60), /tour
    // (V4: 30, 30); in all 210 visitors and 9×30 = 270 visits.
    let report = cli_json(&args("breakdown", &["--by", "entry_page"]));
    assert_eq!(report["count"], "visits");
    let entry =
        |value, exact| cells.figure(["entry_page", value, "visitors", "visits"], exact, false);
    let total = cells.figure(["entry_total", "", "visitors", "visits"], (210, 270), true);
    assert_eq!(
        rows(&report, "rows"),
        expected_rows(
            &[
                ("/", entry("/", (120, 180))),
                ("/pricing", entry("/pricing", (60, 60))),
                ("/tour", entry("/tour", (30, 30))),
            ],
            total
        )
    );
    assert_eq!(
        (
            report["total"]["unique"].as_u64(),
            report["total"]["count"].as_u64()
        ),
        total
    );

    // Referrers of page views: none for V1 (2 views), V3 (2), V5, V6, V7
    // (2): 5×30 = 150 visitors, 8×30 = 240 views; google.com (V1, V2: 60,
    // 60); Hacker News (V4: 30, 30).
    let report = cli_json(&args("breakdown", &["--by", "referrer_host"]));
    let referrer = |value, exact| {
        cells.figure(
            ["referrer_host", value, "visitors", "pageviews"],
            exact,
            false,
        )
    };
    assert_eq!(
        rows(&report, "rows"),
        expected_rows(
            &[
                ("(none)", referrer("", (150, 240))),
                ("google.com", referrer("google.com", (60, 60))),
                (
                    "news.ycombinator.com",
                    referrer("news.ycombinator.com", (30, 30))
                ),
            ],
            denver_paths().1
        )
    );

    // Custom events: signup by V1, V2, V4: 90 people, 90 events, all there are.
    let report = cli_json(&args("breakdown", &["--by", "name"]));
    assert_eq!(report["count"], "events");
    assert_eq!(
        rows(&report, "rows"),
        expected_rows(
            &[(
                "signup",
                cells.figure(["name", "signup", "visitors", "pageviews"], (90, 90), false)
            )],
            cells.figure(["event_total", "", "visitors", "pageviews"], (90, 90), true)
        )
    );

    // A limit folds the rest even when large enough.
    let report = cli_json(&args("breakdown", &["--by", "path", "--limit", "1"]));
    let (paths, total) = denver_paths();
    assert_eq!(rows(&report, "rows"), expected_rows(&paths[..1], total));

    // Browsers of US visitors (from daily_filtered): Chrome V1 (3 views),
    // V2, V6, V7 (2): 4×30 = 120, 7×30 = 210; Firefox V3 (30, 60); Safari
    // V5 (30, 30). The total is filtered, so shown only as large enough:
    // 6×30 = 180 visitors, 10×30 = 300 views.
    let report = both(
        &c,
        &args("breakdown", &["--by", "browser", "--filter", "country==US"]),
        &format!("/api/v1/stats/breakdown?{DENVER}&by=browser&filter=country%3D%3DUS"),
    );
    let us = denver(&["country==US"]);
    let browser =
        |value, exact| us.figure(["browser", value, "visitors", "pageviews"], exact, false);
    let total = us.figure(["", "", "visitors", "pageviews"], (180, 300), false);
    assert_eq!(
        rows(&report, "rows"),
        expected_rows(
            &[
                ("Chrome", browser("Chrome", (120, 210))),
                ("Firefox", browser("Firefox", (30, 60))),
                ("Safari", browser("Safari", (30, 30))),
            ],
            total
        )
    );
    assert_eq!(report["total"]["unique"].as_u64(), total.0);

    // Denver's Nov 4-5 (07:00 UTC Nov 4 to 07:00 UTC Nov 6) holds only the
    // few: /about (F1, F2) is withheld, /contact (F3) and / (F4) are one
    // person each; all fold into (other), which counts the whole site's
    // page views: F1, F2, F3 one each, F4's 14 capped at 10 in the UTC day.
    let report = cli_json(&[
        "breakdown",
        "--by",
        "path",
        "--site",
        SITE,
        "--from",
        "2026-11-04",
        "--to",
        "2026-11-05",
        "--tz",
        "America/Denver",
    ]);
    let total = site("2026-11-04 07:00", "2026-11-06 07:00").figure(
        ["", "", "visitors", "pageviews"],
        (4, 13),
        true,
    );
    assert_eq!(rows(&report, "rows"), expected_rows(&[], total));
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
    // The whole site's visitors of Nov 10, shown whatever their number.
    let released = |exact| {
        Expect::site(SITE, "2026-11-10 00:00", "2026-11-11 00:00", &[], 1)
            .figure(["all", "", "visitors", "pageviews"], (exact, exact), true)
            .0
    };
    insert(1);
    insert(2);
    scratch.roll_up(1, 1, "Nov 10");
    assert_eq!(Some(visitors()), released(2));
    scratch.roll_up(0, 0, "nothing new");
    // A hit for that day arrives late (a spool drained after an outage): the
    // day is computed again and the old rows are replaced, not added to (2
    // and 3 would be 5).
    insert(3);
    scratch.roll_up(1, 1, "Nov 10 again");
    assert_eq!(Some(visitors()), released(3));
    assert_ne!(released(3), released(5));
}

#[test]
fn visits_end_at_utc_midnight_whichever_table_answers() {
    let scratch = Scratch::new("midnight", FOLD_NOTHING);
    // One id across midnight (real ids change there; these rows pretend
    // not), 20 minutes apart: two visitors (one a day), two visits, each a
    // bounce.
    scratch.insert_events(
        "('optimumabq.com', '2026-11-10 23:50:00', 'pageview', 7, '/', 'desktop'), \
         ('optimumabq.com', '2026-11-11 00:10:00', 'pageview', 7, '/', 'desktop')",
    );
    let cells = Expect::site(SITE, "2026-11-10 00:00", "2026-11-12 00:00", &[], 1);
    let expected = cells.summary(2, 2, 2, 2);
    assert_ne!(expected, cells.summary(2, 2, 1, 1), "one visit would show");
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
    // matches everything must give the rollup's exact figures (its own
    // cells carry other noise).
    let all_cities = ["city!=Nowhere"];
    let rolled = cli_json(&args("summary", &[]));
    let raw = cli_json(&args("summary", &["--filter", all_cities[0]]));
    assert_same_exact((&rolled, &[]), (&raw, &all_cities), "summary");
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
        let raw = cli_json(&args("breakdown", &["--by", by, "--filter", all_cities[0]]));
        assert_same_exact((&rollup, &[]), (&raw, &all_cities), by);
    }
    // A half-hour zone cannot use hourly rollups; the answer is still exact.
    let report = cli_json(&[
        "summary",
        "--site",
        SITE,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
        "--tz",
        "Asia/Kolkata",
    ]);
    // Kolkata days Nov 1-2 run from 2026-10-31 18:30 to 2026-11-02 18:30 UTC:
    // V1-V8 all fall inside, so 8×30 = 240 visitors and 12×30 = 360 views.
    let (visitors, pageviews) = site("2026-10-31 18:30", "2026-11-02 18:30").figure(
        ["all", "", "visitors", "pageviews"],
        (240, 360),
        true,
    );
    assert_eq!(report["current"]["visitors"].as_u64(), visitors);
    assert_eq!(report["current"]["pageviews"].as_u64(), pageviews);
}

/// Every report the dashboard issues for one `==` filter (summary with the
/// previous period, time series, breakdowns), over `window` (CLI arguments
/// after the report kind), answered with `filter` alone (from
/// `daily_filtered` on whole rolled-up UTC days) and with `city!=Nowhere`
/// added, which matches every hit and makes `events` answer: the exact
/// figures behind the two must be the same. Returns how many reports were
/// compared.
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
    let mut same = |kind: &str, extra: &[&str]| {
        let raw_filters = [filter, "city!=Nowhere"];
        let rolled = report(kind, extra, &[filter]);
        let raw = report(kind, extra, &raw_filters);
        assert_same_exact(
            (&rolled, &[filter]),
            (&raw, &raw_filters),
            &format!("{kind} {extra:?} with {filter} over {window:?}"),
        );
        compared += 1;
    };
    same("summary", &[]);
    for interval in ["day", "hour"] {
        same("timeseries", &["--interval", interval]);
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
        same("breakdown", &["--by", by]);
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
    // By hand, UTC Nov 1-2 with country==US: V1-V3 and V5-V8 (7×30 = 210
    // visitors), page views of V1 (3), V2, V3 (2), V5, V6, V7 (2), V8: 11×30
    // = 330.
    let us = db.beaconhouse().report_json(&[
        "summary",
        "--site",
        SITE,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
        "--filter",
        "country==US",
    ]);
    let (visitors, pageviews) = Expect::site(
        SITE,
        "2026-11-01 00:00",
        "2026-11-03 00:00",
        &["country==US"],
        MIN_GROUP_SIZE,
    )
    .figure(["all", "", "visitors", "pageviews"], (210, 330), false);
    assert_eq!(us["current"]["visitors"].as_u64(), visitors);
    assert_eq!(us["current"]["pageviews"].as_u64(), pageviews);
}

#[test]
fn filtered_rollups_are_computed_again_for_late_hits_and_old_days() {
    let scratch = Scratch::new("filtered", FOLD_NOTHING);
    // Every visitor comes 30 times, so that filtered figures show.
    let hit = |at: &str, visitor: u64, path: &str, device: &str| {
        (0..known_hits::COPIES)
            .map(|copy| {
                let id = visitor + 1000 * copy;
                format!(
                    "('optimumabq.com', '2026-11-{at}', 'pageview', {id}, '{path}', '{device}')"
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
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
    scratch.roll_up(2, 2, "Nov 10 and 11");
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
    // Mobile, UTC: visitors 1, 2 (Nov 10) and 4 (Nov 11): 3×30 = 90; page
    // views 5×30 = 150; visits: 1's two views, 2's one (a bounce), 4's two
    // views 40 minutes apart (two bounces): 4×30 = 120, bounces 3×30 = 90.
    let cells = Expect::site(
        SITE,
        "2026-11-10 00:00",
        "2026-11-12 00:00",
        &["device==mobile"],
        1,
    );
    assert_eq!(mobile(&utc), cells.summary(90, 150, 120, 90));
    let visitors = |exact| {
        cells
            .figure(["all", "", "visitors", "pageviews"], (exact, 0), false)
            .0
    };

    // A late mobile visitor for Nov 10 (30 of them): until the day is
    // computed again, the rollup still holds the old figures (so it is what
    // answered above)...
    scratch.insert_events(&hit("10 20:00:00", 5, "/tour", "mobile"));
    assert_eq!(mobile(&utc)["visitors"].as_u64(), visitors(90));
    // ...then both tables are computed again, and the answers agree.
    scratch.roll_up(1, 1, "Nov 10 again");
    assert_eq!(mobile(&utc)["visitors"].as_u64(), visitors(120));
    for window in [&utc[..], &denver[..]] {
        assert_eq!(
            filtered_agrees_with_events(&scratch, window, "device==mobile"),
            10
        );
    }

    // A day rolled up before daily_filtered existed (the ledger's `filtered`
    // is 0): filtered reports read it from `events`, unfiltered ones still
    // from daily_stats, and the next rollup computes it again into both
    // (its events, and so what was released of it, are the same).
    scratch.clickhouse.query(
        &scratch.database,
        "INSERT INTO daily_filtered (site, day, filter_dimension, filter_value, dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) \
         SELECT site, day, filter_dimension, filter_value, dimension, value, visitors + 100, hits, visits, bounces, visit_views, computed_at + 1 \
         FROM daily_filtered WHERE day = '2026-11-11'",
    );
    scratch.clickhouse.query(
        &scratch.database,
        "INSERT INTO daily_stats_days (day, events, computed_at, filtered, views_cap, layout) \
         SELECT day, events, computed_at + 1, 0, views_cap, layout FROM daily_stats_days FINAL WHERE day = '2026-11-11'",
    );
    assert_eq!(
        mobile(&utc)["visitors"].as_u64(),
        visitors(120),
        "Nov 11 from events, not the stale rows"
    );
    scratch.roll_up(1, 0, "Nov 11 into daily_filtered");
    scratch.roll_up(0, 0, "nothing new");
    let filtered_days = scratch.clickhouse.query(
        &scratch.database,
        "SELECT sum(filtered) FROM daily_stats_days FINAL FORMAT TSV",
    );
    assert_eq!(
        filtered_days.trim(),
        "2",
        "both days are in daily_filtered again"
    );
    assert_eq!(mobile(&utc)["visitors"].as_u64(), visitors(120));
    assert_eq!(
        filtered_agrees_with_events(&scratch, &utc, "device==mobile"),
        10
    );

    // A day rolled up in an older layout of its rows (the ledger's `layout`
    // is 0, schema 0012): every report reads it from `events`, whatever rows
    // of it the rollup tables hold, and the next rollup computes it again.
    let everyone = |tz: &[&str]| {
        let mut args = vec!["timeseries", "--interval", "day"];
        args.extend(tz);
        scratch.beaconhouse().report_json(&args)
    };
    let (before_utc, before_denver) = (everyone(&utc), everyone(&denver));
    scratch.clickhouse.query(
        &scratch.database,
        "INSERT INTO daily_stats (site, day, dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) \
         SELECT site, day, dimension, value, visitors + 100, hits + 100, visits, bounces, visit_views, computed_at + 1 \
         FROM daily_stats WHERE day = '2026-11-10'",
    );
    scratch.clickhouse.query(
        &scratch.database,
        "INSERT INTO daily_stats_days (day, events, computed_at, filtered, views_cap, layout) \
         SELECT day, events, computed_at + 1, filtered, views_cap, 0 FROM daily_stats_days FINAL WHERE day = '2026-11-10'",
    );
    assert_eq!(everyone(&utc), before_utc, "Nov 10 from events");
    assert_eq!(everyone(&denver), before_denver, "Nov 10 from events");
    scratch.roll_up(1, 0, "Nov 10 in the current layout");
    let layouts = scratch.clickhouse.query(
        &scratch.database,
        "SELECT groupArray(layout) FROM (SELECT layout FROM daily_stats_days FINAL ORDER BY day) FORMAT TSV",
    );
    assert_eq!(layouts.trim(), "[1,1]");
    assert_eq!(everyone(&utc), before_utc);
    assert_eq!(everyone(&denver), before_denver);
}

#[test]
fn no_report_shows_a_group_smaller_than_the_threshold() {
    // Denver's Nov 1-5 (06:00 UTC Nov 1 to 07:00 UTC Nov 6): the known
    // visitors, 30 of each, and the few of `known_hits::few`, in groups of
    // two (F1 and F2: France, Opera, Bing, /about, download) or one (F3:
    // Italy, Edge, DuckDuckGo, /contact), and three on tablets: none may
    // show, and a group of one is missing as a group of nobody is.
    let threshold = site("2026-11-01 06:00", "2026-11-06 07:00").threshold();
    let few = [
        "FR",
        "IT",
        "Opera",
        "Edge",
        "tablet",
        "bing.com",
        "duckduckgo.com",
        "/about",
        "/contact",
        "download",
        "Spark",
        "Airmail",
        "optimumabq.com/jobs",
    ];
    let check = |report: &Value, key: &str, threshold: u64| {
        let rows = rows(report, key);
        let mut shown = 0;
        for (value, unique, _) in &rows {
            assert!(!few.contains(&value.as_str()), "{key}: {value} shown");
            match unique {
                None => assert_eq!(value, "(other)", "{key}"),
                Some(u) => {
                    assert!(*u >= threshold, "{key}: {value} of {u} shown");
                    shown += 1;
                }
            }
        }
        assert!(shown > 0, "{key}: the known groups show: {rows:?}");
    };
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
        let report = cli_json(&[
            "breakdown",
            "--by",
            by,
            "--site",
            SITE,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-05",
            "--tz",
            "America/Denver",
        ]);
        check(&report, "rows", threshold);
    }
    // Opens of Nov 1-5, UTC: Spark (two recipients in France) and Airmail
    // (one in Italy) never show.
    let report = cli_json(&[
        "email",
        "--campaign",
        "nov-newsletter",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-05",
    ]);
    let threshold =
        Expect::email("nov-newsletter", "2026-11-01 00:00", "2026-11-06 00:00", 3).threshold();
    for key in ["by_client", "by_country", "by_link", "by_signal"] {
        check(&report, key, threshold);
    }
}

/// The November newsletter's email report over Nov 1-2 (UTC), the same
/// through the CLI and the API.
fn november(c: &Collector) -> Value {
    both(
        c,
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
    )
}

#[test]
fn email_reports_count_opens_recipients_and_proxies() {
    let c = collector();
    let report = november(&c);
    // 7×30 = 210 opens by 6×30 = 180 recipients, each opening first within
    // Nov 1-2; proxied: R1 twice, R2, R6 (90 recipients, 120 opens); direct:
    // R3, R4, R5 (90, 90).
    let cells = Expect::email("nov-newsletter", "2026-11-01 00:00", "2026-11-03 00:00", 3);
    let figure = |dimension, value, exact| {
        cells.figure([dimension, value, "recipients", "opens"], exact, false)
    };
    let total = figure("", "", (180, 210));
    assert_eq!(report["opens"].as_u64(), total.1);
    assert_eq!(report["unique_opens"].as_u64(), total.0);
    assert_eq!(
        report["proxied_opens"].as_u64(),
        figure("proxied", "1", (90, 120)).1
    );
    let direct = figure("proxied", "0", (90, 90));
    assert_eq!(report["direct_opens"].as_u64(), direct.1);
    assert_eq!(report["unique_direct_opens"].as_u64(), direct.0);
    // Each UTC day counts the recipients who opened first that day: R1, R2,
    // R3 on Nov 1 (4×30 = 120 opens), R4, R5, R6 on Nov 2 (90 opens).
    let day = |label, from, to, exact| {
        let (people, count) =
            cells
                .over(from, to)
                .figure(["day", label, "recipients", "opens"], exact, false);
        (String::from(label), people, count)
    };
    assert_eq!(
        rows(&report, "by_day"),
        [
            day(
                "2026-11-01",
                "2026-11-01 00:00",
                "2026-11-02 00:00",
                (90, 120)
            ),
            day(
                "2026-11-02",
                "2026-11-02 00:00",
                "2026-11-03 00:00",
                (90, 90)
            ),
        ]
    );
    // Gmail: R1 (twice), R5, R6; Apple Mail (R2), Outlook (R3) and
    // Thunderbird (R4) one recipient and open each.
    assert_eq!(
        rows(&report, "by_client"),
        expected_rows(
            &[
                ("Gmail", figure("client", "Gmail", (90, 120))),
                ("Thunderbird", figure("client", "Thunderbird", (30, 30))),
                ("Apple Mail", figure("client", "Apple Mail", (30, 30))),
                ("Outlook", figure("client", "Outlook", (30, 30))),
            ],
            total
        )
    );
    // No country for proxied opens; R3, R4, R5 in the US.
    assert_eq!(
        rows(&report, "by_country"),
        expected_rows(
            &[
                ("(none)", figure("country", "", (90, 120))),
                ("US", figure("country", "US", (90, 90))),
            ],
            total
        )
    );

    // The December newsletter: R1 opened it first on Nov 2 and again on Nov
    // 5, R2 first on Nov 5. Nov 5 alone counts R1's open (30 + 30 = 60
    // opens) but not R1, who first opened before: 30 recipients.
    let december = |from, to| {
        cli_json(&[
            "email",
            "--campaign",
            "dec-newsletter",
            "--from",
            from,
            "--to",
            to,
        ])
    };
    let nov_5 = december("2026-11-05", "2026-11-05");
    let (recipients, opens) =
        Expect::email("dec-newsletter", "2026-11-05 00:00", "2026-11-06 00:00", 3).figure(
            ["", "", "recipients", "opens"],
            (30, 60),
            false,
        );
    assert_eq!(nov_5["unique_opens"].as_u64(), recipients);
    assert_eq!(nov_5["opens"].as_u64(), opens);
    // Nov 2-5 counts R1 (on Nov 2) and R2: 60 recipients, 90 opens.
    let nov_2_to_5 = december("2026-11-02", "2026-11-05");
    let (recipients, opens) =
        Expect::email("dec-newsletter", "2026-11-02 00:00", "2026-11-06 00:00", 3).figure(
            ["", "", "recipients", "opens"],
            (60, 90),
            false,
        );
    assert_eq!(nov_2_to_5["unique_opens"].as_u64(), recipients);
    assert_eq!(nov_2_to_5["opens"].as_u64(), opens);
}

#[test]
fn email_reports_count_people_s_clicks_and_a_scanner_s_apart() {
    let c = collector();
    let report = november(&c);
    let cells = Expect::email("nov-newsletter", "2026-11-01 00:00", "2026-11-03 00:00", 3);
    let figure = |dimension, value, exact| {
        cells.figure([dimension, value, "clickers", "clicks"], exact, false)
    };
    // People (`known_hits::CLICKS`): R3 (1 click), R4 (2), R1, R7, R9 and
    // R10 (1 each): 6×30 = 180 clickers, 7×30 = 210 clicks.
    let people = figure("", "", (180, 210));
    assert_eq!(report["clicks"].as_u64(), people.1);
    assert_eq!(report["unique_clicks"].as_u64(), people.0);
    // The rate: released clickers over released direct openers (R3, R4,
    // R5: 90).
    let (direct, _) = cells.figure(["proxied", "0", "recipients", "opens"], (90, 90), false);
    assert_eq!(
        report["click_to_open_rate"].as_f64(),
        Some(round2(
            100.0 * people.0.unwrap() as f64 / direct.unwrap() as f64
        ))
    );
    // Scanners: R8 (3 clicks), R9 (2), R10 (2), R11 to R14 (1 each): 7×30 =
    // 210 recipients, 11×30 = 330 clicks.
    let scanners = figure("scanner", "", (210, 330));
    assert_eq!(report["scanner_clicks"].as_u64(), scanners.1);
    assert_eq!(report["unique_scanner_clicks"].as_u64(), scanners.0);
    // People's links: /tour by R3, R4, R1 and R9; /pricing by R4, R7 and
    // R10. R8's /blog is a scanner's only.
    assert_eq!(
        rows(&report, "by_link"),
        expected_rows(
            &[
                (
                    "optimumabq.com/tour",
                    figure("link", "optimumabq.com/tour", (120, 120))
                ),
                (
                    "optimumabq.com/pricing",
                    figure("link", "optimumabq.com/pricing", (90, 90))
                ),
            ],
            people
        )
    );
    // Each scanner pattern under its signal.
    let signal = |name, exact| (name, figure("signal", name, exact));
    assert_eq!(
        rows(&report, "by_signal"),
        expected_rows(
            &[
                signal("burst", (30, 90)),
                signal("early", (30, 60)),
                signal("honeypot", (30, 30)),
                signal("near_honeypot", (30, 30)),
                signal("network", (30, 30)),
                signal("prefetch", (30, 30)),
                signal("agent", (30, 30)),
                signal("old_browser", (30, 30)),
            ],
            scanners
        )
    );
    // The same figures as a table, as the CLI prints them.
    let (ok, table, _) = cli(&[
        "email",
        "--campaign",
        "nov-newsletter",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    assert!(ok);
    println!(
        "beaconhouse report email --campaign nov-newsletter --from 2026-11-01 --to 2026-11-02\n{table}"
    );
    for line in ["clicks", "scanner_clicks", "by_link", "by_signal"] {
        assert!(table.lines().any(|l| l.starts_with(line)), "{table}");
    }

    // The campaigns list: people's clicks, the same cells as the report's.
    let list = cli_json(&["campaigns", "--from", "2026-11-01", "--to", "2026-11-02"]);
    let nov = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == "nov-newsletter")
        .unwrap();
    assert_eq!(
        (nov["unique_clicks"].as_u64(), nov["clicks"].as_u64()),
        people
    );
    // The December newsletter has no click: withheld, as nobody is.
    let dec = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == "dec-newsletter")
        .unwrap();
    assert_eq!(
        (&dec["unique_clicks"], &dec["clicks"]),
        (&Value::Null, &Value::Null)
    );
    let (ok, table, _) = cli(&["campaigns", "--from", "2026-11-01", "--to", "2026-11-02"]);
    assert!(ok);
    println!("beaconhouse report campaigns --from 2026-11-01 --to 2026-11-02\n{table}");
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
    let (paths, total) = denver_paths();
    let (total_visitors, total_views) = (total.0.unwrap(), total.1.unwrap());
    let share = |visitors: u64| round2(100.0 * visitors as f64 / total_visitors as f64);
    let mut csv = String::from("path,visitors,pageviews,share_%\r\n");
    for (path, (visitors, views)) in &paths {
        let (visitors, views) = (visitors.unwrap(), views.unwrap());
        csv += &format!("{path},{visitors},{views},{:.2}\r\n", share(visitors));
    }
    let other = expected_rows(&paths, total).pop().unwrap().2.unwrap();
    csv += &format!("(other),-,{other},-\r\n(total),{total_visitors},{total_views},100.00\r\n");
    assert_eq!(String::from_utf8_lossy(&response.body), csv);
    let (ok, table, stderr) = cli(&args("breakdown", &["--by", "path"]));
    assert!(ok, "{stderr}");
    assert!(
        table.contains("path      visitors  pageviews  share_%"),
        "{table}"
    );
    let (visitors, views) = (paths[1].1.0.unwrap(), paths[1].1.1.unwrap());
    let pricing = format!(
        "/pricing  {visitors:>8}  {views:>9}  {:>7.2}",
        share(visitors)
    );
    assert!(table.contains(&pricing), "{pricing:?} in {table}");
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
