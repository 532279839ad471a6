//! A curious staff member against the reports: one visitor who viewed a
//! page nobody else opened three times, one recipient who opened a test
//! campaign twice, and a crowd around them. Every attack of issue 8, through
//! the CLI and the stats API, in JSON and CSV, must show no figure of that
//! one person (`min_group_size` is the default, 5). The day is rolled up, as
//! `serve` does once it has ended, so the `==` filters the dashboard adds
//! are answered from `daily_filtered` and the others from `events`: both
//! paths are attacked.

use crate::common::{self, Beaconhouse, ClickHouse, Collector};
use serde_json::Value;

const TOKEN: &str = "curious-staff-token-0123456789abcdef012345";
const REPORTING: &str = r#"
[retention]
# The rows carry fixed dates: keep them however old they are by now.
events_days = 0
email_opens_days = 0

[[reporting.tokens]]
name = "staff"
token = "curious-staff-token-0123456789abcdef012345"
sites = ["*"]
campaigns = ["*"]
"#;
const DAY: [&str; 4] = ["--from", "2026-11-10", "--to", "2026-11-10"];

struct Setup {
    clickhouse: &'static ClickHouse,
    database: String,
    config: tempfile::NamedTempFile,
}

fn setup() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| {
        let clickhouse = common::clickhouse();
        let database = clickhouse.fresh_database("adversarial");
        common::migrate(clickhouse, &database);
        // The crowd: visitors 100-111 on `/`, Chrome, US, across the day; six
        // of them arrived with a formula as utm_source.
        let mut events: Vec<String> = (100..112)
            .map(|v| {
                let source = if v < 106 { "=HYPERLINK(\"http://x\")" } else { "" };
                format!(
                    "('optimumabq.com', '2026-11-10 {:02}:30:00', 'pageview', {v}, '/', '{source}', 'US', 'Chrome', 'desktop')",
                    8 + v % 10
                )
            })
            .collect();
        // The person: three views of a page nobody else opened, Firefox, Iceland.
        for minute in ["05", "10", "20"] {
            events.push(format!(
                "('optimumabq.com', '2026-11-10 14:{minute}:00', 'pageview', 1, '/that-page', '', 'IS', 'Firefox', 'desktop')"
            ));
        }
        clickhouse.query(
            &database,
            &format!(
                "INSERT INTO events (site, ts, name, visitor_id, path, utm_source, country, browser, device) VALUES {}",
                events.join(", ")
            ),
        );
        let mut opens: Vec<String> = (100..110)
            .map(|r| format!("('crowd', '2026-11-10 09:00:00', {r}, 0, 'US', 'Gmail')"))
            .collect();
        opens.push("('test-send', '2026-11-10 10:00:00', 1, 0, 'IS', 'Thunderbird')".into());
        opens.push("('test-send', '2026-11-10 16:00:00', 1, 0, 'IS', 'Thunderbird')".into());
        clickhouse.query(
            &database,
            &format!(
                "INSERT INTO email_opens (campaign, ts, recipient_id, proxied, country, client) VALUES {}",
                opens.join(", ")
            ),
        );
        let config = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(config.path(), format!("{}\n{REPORTING}", common::SITE_TOML)).unwrap();
        let (ok, stdout, stderr) = Beaconhouse::new()
            .config(config.path())
            .clickhouse(clickhouse, &database)
            .arg("rollup")
            .output();
        assert!(ok && stdout.contains("rolled up 1 day(s)"), "{stdout}{stderr}");
        let own_rows = clickhouse.query(
            &database,
            "SELECT count() FROM daily_filtered WHERE filter_dimension = 'path' AND filter_value = '/that-page' FORMAT TSV",
        );
        assert_ne!(own_rows.trim(), "0", "the person's filter rows are rolled up");
        Setup {
            clickhouse,
            database,
            config,
        }
    })
}

/// `beaconhouse` on the setup's database and config.
fn beaconhouse() -> Beaconhouse {
    let s = setup();
    Beaconhouse::new()
        .config(s.config.path())
        .clickhouse(s.clickhouse, &s.database)
}

/// `beaconhouse report ARGS` (the period of [`DAY`] added): (success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    beaconhouse().arg("report").args(args).args(DAY).output()
}

/// As [`cli`], in JSON, parsed.
fn cli_json(args: &[&str]) -> Value {
    beaconhouse().report_json(&[args, &DAY[..]].concat())
}

fn api(collector: &Collector, path_and_query: &str) -> (u16, String) {
    let response = collector.get(
        path_and_query,
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

/// Every number in a JSON answer that counts something (not a date).
fn figures(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.push(n.as_f64().unwrap()),
        Value::Array(items) => items.iter().for_each(|v| figures(v, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "period" | "previous_period" | "filters"))
            .for_each(|(_, v)| figures(v, out)),
        _ => {}
    }
}

/// The person's own figures: 1 visitor, 1 visit, 3 page views (3 per
/// visit, 0% bounce); the recipient's: 1 recipient, 2 opens.
const THE_PERSON: [f64; 4] = [1.0, 2.0, 3.0, 100.0];

fn assert_nothing_of_the_person(answer: &Value, what: &str) {
    let mut found = Vec::new();
    figures(answer, &mut found);
    for figure in found {
        assert!(
            !THE_PERSON.contains(&figure),
            "{what} shows {figure}:\n{answer:#}"
        );
    }
}

fn assert_no_small_csv_cell(csv: &str, what: &str) {
    for line in csv.lines().skip(1) {
        for cell in line.split(',').skip(1) {
            assert!(
                !["1", "2", "3", "100.00"].contains(&cell),
                "{what}: the cell {cell:?} in {line:?}\n{csv}"
            );
        }
    }
}

#[test]
fn filtered_breakdowns_show_nothing_of_one_person() {
    for filter in [
        "path==/that-page",
        "path~that",
        "country==IS",
        "browser==Firefox",
    ] {
        for by in [
            "browser",
            "os",
            "country",
            "city",
            "device",
            "path",
            "entry_page",
        ] {
            let what = format!("breakdown --by {by} --filter {filter}");
            let args = [
                "breakdown",
                "--site",
                "optimumabq.com",
                "--by",
                by,
                "--filter",
                filter,
            ];
            let report = cli_json(&args);
            assert_nothing_of_the_person(&report, &what);
            assert!(report["total"]["count"].is_null(), "{what}: (total)");
            let (ok, csv, stderr) = cli(&[&args[..], &["--format", "csv"]].concat());
            assert!(ok, "{stderr}");
            assert_no_small_csv_cell(&csv, &what);
        }
    }
}

#[test]
fn a_filtered_series_hides_when_the_person_came() {
    for filter in ["path==/that-page", "browser==Firefox"] {
        let report = cli_json(&[
            "timeseries",
            "--site",
            "optimumabq.com",
            "--interval",
            "hour",
            "--filter",
            filter,
        ]);
        let points = report["points"].as_array().unwrap();
        assert_eq!(points.len(), 24);
        assert!(
            points
                .iter()
                .all(|p| p["visitors"].is_null() && p["pageviews"].is_null()),
            "every hour looks the same, the 14:00 of the visit included:\n{report:#}"
        );
    }
}

#[test]
fn filtered_summaries_and_one_recipient_campaigns_show_nothing() {
    let summary = cli_json(&[
        "summary",
        "--site",
        "optimumabq.com",
        "--filter",
        "path==/that-page",
    ]);
    assert_nothing_of_the_person(&summary, "summary");
    assert!(summary["current"].is_null());

    let email = cli_json(&["email", "--campaign", "test-send"]);
    assert_nothing_of_the_person(&email, "email test-send");
    for key in [
        "opens",
        "unique_opens",
        "proxied_opens",
        "direct_opens",
        "unique_direct_opens",
    ] {
        assert!(email[key].is_null(), "{key}:\n{email:#}");
    }
    let (ok, csv, _) = cli(&["email", "--campaign", "test-send", "--format", "csv"]);
    assert!(ok);
    assert_no_small_csv_cell(&csv, "email csv");

    // A campaign of ten shows its figures.
    let crowd = cli_json(&["email", "--campaign", "crowd"]);
    assert_eq!(
        (crowd["opens"].as_u64(), crowd["unique_opens"].as_u64()),
        (Some(10), Some(10))
    );
}

/// Sliding a one-day window over the campaigns list, as one would to date a
/// recipient's open of a one-recipient campaign: every day reads the same.
#[test]
fn the_campaigns_list_dates_no_open() {
    let days: Vec<Value> = (5..=15)
        .map(|day| {
            let date = format!("2026-11-{day:02}");
            beaconhouse().report_json(&["campaigns", "--from", &date, "--to", &date])["campaigns"]
                .clone()
        })
        .collect();
    let test_send =
        serde_json::json!({"campaign": "test-send", "opens": null, "unique_opens": null});
    for (day, list) in (5..=15).zip(&days) {
        let rows = list.as_array().unwrap();
        assert!(rows.contains(&test_send), "2026-11-{day}: {list}");
        assert_eq!(
            rows.iter()
                .map(|r| r["campaign"].clone())
                .collect::<Vec<_>>(),
            days[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["campaign"].clone())
                .collect::<Vec<_>>(),
            "2026-11-{day} lists the same campaigns"
        );
    }
    // The crowd's figures show only on its day; the one recipient's never.
    assert_eq!(
        days[5]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["campaign"] == "crowd")
            .unwrap()["unique_opens"],
        10
    );
}

#[test]
fn the_api_answers_as_the_cli_does() {
    let s = setup();
    let collector = Collector::start(s.clickhouse, &s.database, REPORTING);
    let day = "from=2026-11-10&to=2026-11-10";
    for path in [
        format!(
            "/api/v1/stats/breakdown?site=optimumabq.com&{day}&by=browser&filter=path%3D%3D%2Fthat-page"
        ),
        format!("/api/v1/stats/summary?site=optimumabq.com&{day}&filter=path~that"),
        format!(
            "/api/v1/stats/timeseries?site=optimumabq.com&{day}&interval=hour&filter=country%3D%3DIS"
        ),
        format!("/api/v1/stats/email?campaign=test-send&{day}"),
    ] {
        let (status, body) = api(&collector, &path);
        assert_eq!(status, 200, "{path}: {body}");
        assert_nothing_of_the_person(&serde_json::from_str(&body).unwrap(), &path);
        let (status, csv) = api(&collector, &format!("{path}&format=csv"));
        assert_eq!(status, 200, "{path}: {csv}");
        assert_no_small_csv_cell(&csv, &path);
    }
    // Cheap differencing is refused with a 400 that names the limit.
    for (path, words) in [
        (
            format!(
                "/api/v1/stats/summary?site=optimumabq.com&{day}&filter=path%3D%3D%2F&filter=path%3D%3D%2F"
            ),
            "twice",
        ),
        (
            format!(
                "/api/v1/stats/summary?site=optimumabq.com&{day}&filter=os~a&filter=os~b&filter=os~c&filter=os~d"
            ),
            "at most 3",
        ),
        (
            "/api/v1/stats/timeseries?site=optimumabq.com&from=2026-11-01&to=2026-11-10&interval=hour&filter=path~that".to_string(),
            "at most 7 days",
        ),
    ] {
        let (status, body) = api(&collector, &path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(words), "{body}");
    }
}

/// What the threshold cannot stop, shown rather than claimed: an unfiltered
/// total minus a `!=` complement is the excluded page's figure. The README
/// says so under "What the figures mean".
#[test]
fn a_complement_filter_is_differencing_the_threshold_cannot_stop() {
    let whole = cli_json(&["summary", "--site", "optimumabq.com"]);
    let rest = cli_json(&[
        "summary",
        "--site",
        "optimumabq.com",
        "--filter",
        "path!=/that-page",
    ]);
    let pageviews = |r: &Value| r["current"]["pageviews"].as_u64().unwrap();
    assert_eq!(pageviews(&whole) - pageviews(&rest), 3);
}

#[test]
fn csv_cells_from_visitor_input_cannot_run_as_formulas() {
    let (ok, csv, stderr) = cli(&[
        "breakdown",
        "--site",
        "optimumabq.com",
        "--by",
        "utm_source",
        "--format",
        "csv",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\",6,6,"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .all(|line| !line.starts_with('=') && !line.starts_with("\"=")),
        "{csv}"
    );
}
