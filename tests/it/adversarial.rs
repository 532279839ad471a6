//! A curious staff member against the reports: one visitor who viewed a
//! page nobody else opened three times, one recipient who opened a test
//! campaign twice and clicked its links (and whose mail scanner did), and a
//! crowd around them. Every attack of issue 8, through
//! the CLI and the stats API, in JSON and CSV, must show no figure of that
//! one person: every figure over them is withheld, and the answer reads
//! exactly as it does for a filter (or campaign) nobody is in. The crowd is
//! large enough for its own figures to pass the release step's threshold
//! (`min_group_size` is the default, 5; the threshold of a one-day figure
//! at ε = 1 is 15). The day is rolled up, as `serve` does once it has
//! ended, so the `==` filters the dashboard adds are answered from
//! `daily_filtered` and the others from `events`: both paths are attacked.

use crate::common::released::{Expect, VIEWS_CAP};
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
/// The UTC day of [`DAY`], as `Expect` takes a window: one cell.
const WINDOW: (&str, &str) = ("2026-11-10", "2026-11-11");
/// The crowd's visitors, each with one page view of `/`, and the crowd
/// campaign's recipients, each with one open.
const CROWD: u64 = 60;
/// How many of the crowd arrived with a formula as utm_source.
const FORMULA_VISITORS: u64 = 30;
const FORMULA: &str = "=HYPERLINK(\"http://x\")";
const CROWD_RECIPIENTS: u64 = 30;

struct Setup {
    clickhouse: &'static ClickHouse,
    database: String,
    config: tempfile::NamedTempFile,
}

fn setup() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| {
        let setup = Setup::rolled_up("adversarial", "", |clickhouse, database| {
            // The crowd: CROWD visitors on `/`, Chrome, US, across the day;
            // FORMULA_VISITORS of them arrived with a formula as utm_source.
            let mut events: Vec<String> = (100..100 + CROWD)
                .map(|v| {
                    let source = if v < 100 + FORMULA_VISITORS { FORMULA } else { "" };
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
                database,
                &format!(
                    "INSERT INTO events (site, ts, name, visitor_id, path, utm_source, country, browser, device) VALUES {}",
                    events.join(", ")
                ),
            );
            let mut opens: Vec<String> = (100..100 + CROWD_RECIPIENTS)
                .map(|r| format!("('crowd', '2026-11-10 09:00:00', {r}, 0, 'US', 'Gmail')"))
                .collect();
            opens.push("('test-send', '2026-11-10 10:00:00', 1, 0, 'IS', 'Thunderbird')".into());
            opens.push("('test-send', '2026-11-10 16:00:00', 1, 0, 'IS', 'Thunderbird')".into());
            clickhouse.query(
                database,
                &format!(
                    "INSERT INTO email_opens (campaign, ts, recipient_id, proxied, country, client) VALUES {}",
                    opens.join(", ")
                ),
            );
            // The recipient's clicks: their scanner's burst before they
            // opened, then their own click on a link nobody else has.
            clickhouse.query(
                database,
                "INSERT INTO email_clicks (campaign, ts, recipient_id, link_host, link_path, scanner, honeypot) VALUES \
                 ('test-send', '2026-11-10 09:59:00', 1, 'optimumabq.com', '/a', 0, 0), \
                 ('test-send', '2026-11-10 09:59:00', 1, 'optimumabq.com', '/b', 0, 0), \
                 ('test-send', '2026-11-10 09:59:01', 1, 'optimumabq.com', '/c', 0, 0), \
                 ('test-send', '2026-11-10 10:00:05', 1, 'optimumabq.com', '/secret', 0, 0)",
            );
        });
        let (clickhouse, database) = (setup.clickhouse, &setup.database);
        let own_rows = clickhouse.query(
            database,
            "SELECT count() FROM daily_filtered WHERE filter_dimension = 'path' AND filter_value = '/that-page' FORMAT TSV",
        );
        assert_ne!(own_rows.trim(), "0", "the person's filter rows are rolled up");
        setup
    })
}

impl Setup {
    /// A fresh database with the rows `seed` inserts, and the site's
    /// configuration with `toml` and [`REPORTING`], the day rolled up, as
    /// `serve` leaves it once the day has ended.
    fn rolled_up(prefix: &str, toml: &str, seed: impl FnOnce(&ClickHouse, &str)) -> Setup {
        let clickhouse = common::clickhouse();
        let database = clickhouse.fresh_database(prefix);
        common::migrate(clickhouse, &database);
        seed(clickhouse, &database);
        let config = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            config.path(),
            format!("{}{toml}\n{REPORTING}", common::SITE_TOML),
        )
        .unwrap();
        let (ok, stdout, stderr) = Beaconhouse::new()
            .config(config.path())
            .clickhouse(clickhouse, &database)
            .arg("rollup")
            .output();
        assert!(
            ok && stdout.contains("rolled up 1 day(s)"),
            "{stdout}{stderr}"
        );
        Setup {
            clickhouse,
            database,
            config,
        }
    }
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

/// Every number in a JSON answer that counts something: not a date, and
/// not its margins (how wide the noise of its figures is, the same for
/// every answer over as many cells).
fn figures(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.push(n.as_f64().unwrap()),
        Value::Array(items) => items.iter().for_each(|v| figures(v, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    "period" | "previous_period" | "filters" | "margins" | "step"
                )
            })
            .for_each(|(_, v)| figures(v, out)),
        _ => {}
    }
}

/// An answer over the person alone shows no figure at all: every one is
/// withheld (null), `(total)` and `(other)` included. A released figure of
/// them would be noisy, but its existence would say someone was there.
fn assert_nothing_of_the_person(answer: &Value, what: &str) {
    let mut found = Vec::new();
    figures(answer, &mut found);
    assert!(found.is_empty(), "{what} shows {found:?}:\n{answer:#}");
}

/// The same of a CSV answer: no cell is a number (a withheld figure is `-`,
/// a figure a row does not have is empty).
fn assert_no_figure_in_csv(csv: &str, what: &str) {
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            assert!(
                cell.parse::<f64>().is_err(),
                "{what}: the cell {cell:?} in {line:?}\n{csv}"
            );
        }
    }
}

/// What tells an answer's subject: its filters and campaign. The rest of an
/// answer over the person must read exactly as one over nobody.
fn without_subject(mut answer: Value) -> Value {
    let map = answer.as_object_mut().unwrap();
    map.remove("filters");
    map.remove("campaign");
    answer
}

/// Filters down to the person alone, each with a filter of the same kind
/// that matches nobody.
const THE_PERSON_OR_NOBODY: [(&str, &str); 4] = [
    ("path==/that-page", "path==/nobody-came"),
    ("path~that", "path~nobody"),
    ("country==IS", "country==NZ"),
    ("browser==Firefox", "browser==Opera"),
];

#[test]
fn filtered_breakdowns_show_nothing_of_one_person() {
    for (filter, nobody) in THE_PERSON_OR_NOBODY {
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
            let args = |filter| {
                [
                    "breakdown",
                    "--site",
                    "optimumabq.com",
                    "--by",
                    by,
                    "--filter",
                    filter,
                ]
            };
            let report = cli_json(&args(filter));
            assert_nothing_of_the_person(&report, &what);
            assert_eq!(
                report["rows"],
                serde_json::json!([{"value": "(other)", "unique": null, "count": null, "share": null}]),
                "{what}: the person's row is left out, (other) withheld with (total)"
            );
            assert_eq!(
                without_subject(report),
                without_subject(cli_json(&args(nobody))),
                "{what} reads as --filter {nobody}"
            );
            let csv = |filter| {
                let (ok, csv, stderr) = cli(&[&args(filter)[..], &["--format", "csv"]].concat());
                assert!(ok, "{stderr}");
                csv
            };
            let person = csv(filter);
            assert_no_figure_in_csv(&person, &what);
            assert_eq!(person, csv(nobody), "{what}, in CSV");
        }
    }
}

#[test]
fn a_filtered_series_hides_when_the_person_came() {
    for (filter, nobody) in [THE_PERSON_OR_NOBODY[0], THE_PERSON_OR_NOBODY[3]] {
        let series = |filter| {
            cli_json(&[
                "timeseries",
                "--site",
                "optimumabq.com",
                "--interval",
                "hour",
                "--filter",
                filter,
            ])
        };
        let report = series(filter);
        let points = report["points"].as_array().unwrap();
        assert_eq!(points.len(), 24);
        assert!(
            points
                .iter()
                .all(|p| p["visitors"].is_null() && p["pageviews"].is_null()),
            "every hour looks the same, the 14:00 of the visit included:\n{report:#}"
        );
        assert_eq!(
            without_subject(report),
            without_subject(series(nobody)),
            "--filter {filter} reads as --filter {nobody}"
        );
    }
}

#[test]
fn filtered_summaries_and_one_recipient_campaigns_show_nothing() {
    let summary = |filter| cli_json(&["summary", "--site", "optimumabq.com", "--filter", filter]);
    let (filter, nobody) = THE_PERSON_OR_NOBODY[0];
    let person = summary(filter);
    assert_nothing_of_the_person(&person, "summary");
    assert!(person["current"].is_null());
    // And says why: the threshold of its one cell (the person's one visitor
    // is far under it), the same for a filter that matches nobody.
    let threshold = Expect::site("optimumabq.com", WINDOW.0, WINDOW.1, &[filter], 5).threshold();
    let withheld = format!("fewer than {threshold} is withheld");
    assert!(
        person["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|note| note.as_str().unwrap().contains(&withheld)),
        "{withheld}: {person:#}"
    );
    assert_eq!(without_subject(person), without_subject(summary(nobody)));

    let email = cli_json(&["email", "--campaign", "test-send"]);
    assert_nothing_of_the_person(&email, "email test-send");
    for key in [
        "opens",
        "unique_opens",
        "proxied_opens",
        "direct_opens",
        "unique_direct_opens",
        "clicks",
        "unique_clicks",
        "click_to_open_rate",
        "scanner_clicks",
        "unique_scanner_clicks",
    ] {
        assert!(email[key].is_null(), "{key}:\n{email:#}");
    }
    let never_opened = cli_json(&["email", "--campaign", "never-opened"]);
    assert_eq!(
        without_subject(email),
        without_subject(never_opened),
        "a campaign one recipient opened reads as one nobody opened"
    );
    let (ok, csv, _) = cli(&["email", "--campaign", "test-send", "--format", "csv"]);
    assert!(ok);
    assert_no_figure_in_csv(&csv, "email csv");

    // A campaign of CROWD_RECIPIENTS, each opening once, shows its figures.
    let crowd = cli_json(&["email", "--campaign", "crowd"]);
    let (unique_opens, opens) = Expect::email("crowd", WINDOW.0, WINDOW.1, 5).figure(
        ["", "", "recipients", "opens"],
        (CROWD_RECIPIENTS, CROWD_RECIPIENTS),
        false,
    );
    assert!(unique_opens.is_some(), "the crowd passes the threshold");
    assert_eq!(
        (crowd["opens"].as_u64(), crowd["unique_opens"].as_u64()),
        (opens, unique_opens)
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
    let test_send = serde_json::json!({"campaign": "test-send", "opens": null, "unique_opens": null, "clicks": null, "unique_clicks": null});
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
    // Each day lists what the release step makes of the crowd's exact count
    // that day: CROWD_RECIPIENTS on its day, which shows, and nobody on the
    // others, which does not. The one recipient's figures never show.
    let crowd = |list: &Value| {
        let row = list
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["campaign"] == "crowd")
            .unwrap();
        (row["unique_opens"].as_u64(), row["opens"].as_u64())
    };
    let crowd_cells = Expect::email("crowd", WINDOW.0, WINDOW.1, 5);
    for (day, list) in (5..=15).zip(&days) {
        let exact = if day == 10 { CROWD_RECIPIENTS } else { 0 };
        let that_day = crowd_cells.over(
            &format!("2026-11-{day:02}"),
            &format!("2026-11-{:02}", day + 1),
        );
        let expected = that_day.figure(["", "", "recipients", "opens"], (exact, exact), false);
        assert_eq!(
            expected.0.is_some(),
            day == 10,
            "2026-11-{day}: only the crowd's day passes the threshold"
        );
        assert_eq!(crowd(list), expected, "2026-11-{day}: {list}");
    }
}

#[test]
fn the_api_answers_as_the_cli_does() {
    let s = setup();
    let collector = Collector::start(s.clickhouse, &s.database, REPORTING);
    let day = "from=2026-11-10&to=2026-11-10";
    for (path, cli_args) in [
        (
            format!(
                "/api/v1/stats/breakdown?site=optimumabq.com&{day}&by=browser&filter=path%3D%3D%2Fthat-page"
            ),
            vec![
                "breakdown",
                "--site",
                "optimumabq.com",
                "--by",
                "browser",
                "--filter",
                "path==/that-page",
            ],
        ),
        (
            format!("/api/v1/stats/summary?site=optimumabq.com&{day}&filter=path~that"),
            vec![
                "summary",
                "--site",
                "optimumabq.com",
                "--filter",
                "path~that",
            ],
        ),
        (
            format!(
                "/api/v1/stats/timeseries?site=optimumabq.com&{day}&interval=hour&filter=country%3D%3DIS"
            ),
            vec![
                "timeseries",
                "--site",
                "optimumabq.com",
                "--interval",
                "hour",
                "--filter",
                "country==IS",
            ],
        ),
        (
            format!("/api/v1/stats/email?campaign=test-send&{day}"),
            vec!["email", "--campaign", "test-send"],
        ),
    ] {
        let (status, body) = api(&collector, &path);
        assert_eq!(status, 200, "{path}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_nothing_of_the_person(&answer, &path);
        assert_eq!(answer, cli_json(&cli_args), "{path}");
        let (status, csv) = api(&collector, &format!("{path}&format=csv"));
        assert_eq!(status, 200, "{path}: {csv}");
        assert_no_figure_in_csv(&csv, &path);
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
/// total minus a `!=` complement is the excluded page's figure, blurred by
/// the noise of the two figures alone. Both are shown (the whole site
/// always, the complement holds the crowd), and the exact counts behind
/// them, each released figure less its cell's noise, differ by exactly the
/// person's three page views.
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
    let exact = |report: &Value, filters: &[&str]| {
        let released = report["current"]["pageviews"]
            .as_u64()
            .unwrap_or_else(|| panic!("shown: {report:#}"));
        Expect::site("optimumabq.com", WINDOW.0, WINDOW.1, filters, 5).exact(
            ["all", "", "pageviews"],
            released,
            VIEWS_CAP,
        )
    };
    let (whole, rest) = (exact(&whole, &[]), exact(&rest, &["path!=/that-page"]));
    assert_eq!((whole, rest), (CROWD as i64 + 3, CROWD as i64));
    assert_eq!(whole - rest, 3);
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
    // FORMULA_VISITORS visitors, one page view each, of the whole site's
    // CROWD + 1 (the person's three page views have no utm_source).
    let expect = Expect::site("optimumabq.com", WINDOW.0, WINDOW.1, &[], 5);
    let (Some(visitors), Some(pageviews)) = expect.figure(
        ["utm_source", FORMULA, "visitors", "pageviews"],
        (FORMULA_VISITORS, FORMULA_VISITORS),
        false,
    ) else {
        panic!("the formula's visitors pass the threshold")
    };
    let (Some(total), _) = expect.figure(
        ["", "", "visitors", "pageviews"],
        (CROWD + 1, CROWD + 3),
        true,
    ) else {
        panic!("the whole site's total is shown")
    };
    let share = (100.0 * (visitors as f64 / total as f64) * 100.0).round() / 100.0;
    assert!(
        csv.contains(&format!(
            "\r\n\"'=HYPERLINK(\"\"http://x\"\")\",{visitors},{pageviews},{share:.2}\r\n"
        )),
        "{csv}"
    );
    assert!(
        csv.lines()
            .all(|line| !line.starts_with('=') && !line.starts_with("\"=")),
        "{csv}"
    );
}

/// The conversions setup: the crowd, half of whom book a tour (plan
/// `monthly`); the person, who views `/that-page` and books a tour on the
/// plan `private-office`; and three visitors the curious staff member made
/// up themselves, who do the same as the person (they also carry
/// `desk=staff-test`, which tells them apart). Goals, properties and a
/// funnel are configured; the day is rolled up.
const CONVERSIONS: &str = r#"props = ["plan", "desk"]

[[sites.goals]]
name = "Book a tour"
event = "book_tour"

[[sites.goals]]
name = "Never reached"
event = "never_sent"

[[sites.funnels]]
name = "That page to a tour"
steps = [{ page = "/that-page" }, { goal = "Book a tour" }]
"#;
const STAFF_OWN: [u64; 3] = [900, 901, 902];

fn conversions_setup() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| {
        Setup::rolled_up("adversarial_conversions", CONVERSIONS, |clickhouse, database| {
            let row = |visitor: u64, time: &str, name: &str, path: &str, browser: &str, props: &str| {
                let (keys, values): (Vec<String>, Vec<String>) = props
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap();
                        (format!("'{k}'"), format!("'{v}'"))
                    })
                    .unzip();
                // The crowd is in the US; the person and the made-up visitors
                // in Iceland.
                let country = if browser == "Chrome" { "US" } else { "IS" };
                format!(
                    "('optimumabq.com', '2026-11-10 {time}', '{name}', {visitor}, '{path}', '{country}', '{browser}', 'desktop', [{}], [{}])",
                    keys.join(", "),
                    values.join(", ")
                )
            };
            let mut events = Vec::new();
            for v in 100..100 + CROWD {
                let time = format!("{:02}:30:00", 8 + v % 10);
                events.push(row(v, &time, "pageview", "/", "Chrome", ""));
                if v < 100 + CROWD / 2 {
                    events.push(row(v, &time, "book_tour", "/", "Chrome", "plan=monthly"));
                }
            }
            events.push(row(1, "14:05:00", "pageview", "/that-page", "Firefox", ""));
            events.push(row(1, "14:06:00", "book_tour", "/that-page", "Firefox", "plan=private-office"));
            for v in STAFF_OWN {
                events.push(row(v, "15:05:00", "pageview", "/that-page", "Opera", ""));
                events.push(row(v, "15:06:00", "book_tour", "/that-page", "Opera", "plan=private-office,desk=staff-test"));
            }
            clickhouse.query(
                database,
                &format!(
                    "INSERT INTO events (site, ts, name, visitor_id, path, country, browser, device, prop_keys, prop_values) VALUES {}",
                    events.join(", ")
                ),
            );
        })
    })
}

/// Goal and property filters narrow a report to the person and the staff
/// member's own three made-up visitors: every figure is withheld, and the
/// answer reads exactly as one over the made-up visitors alone, so neither
/// the person's conversion, nor their plan, nor their path through the
/// funnel shows, whether the figures come from the rollup or from `events`.
#[test]
fn goal_and_property_filters_with_made_up_hits_show_nothing_of_one_person() {
    let s = conversions_setup();
    let report = |args: &[&str]| {
        Beaconhouse::new()
            .config(s.config.path())
            .clickhouse(s.clickhouse, &s.database)
            .report_json(
                &[
                    &args[..1],
                    &["--site", "optimumabq.com"],
                    &args[1..],
                    &DAY[..],
                ]
                .concat(),
            )
    };
    // The crowd's conversions are shown (the goal's figures come from the
    // rollup here): the report works, and the person is in it.
    let goals = report(&["goals"]);
    assert!(
        goals["goals"][0]["current"]["converting_visitors"].is_u64(),
        "{goals:#}"
    );

    // The person with the made-up visitors, against the made-up ones alone.
    let with_person_and_own = [
        ("prop:plan==private-office", "prop:desk==staff-test"),
        ("path==/that-page", "browser==Opera"),
    ];
    for (person_and_own, own) in with_person_and_own {
        for args in [
            vec!["goals"],
            vec!["breakdown", "--by", "prop:plan"],
            vec!["breakdown", "--by", "browser"],
            vec!["summary"],
        ] {
            let what = format!("{args:?} --filter {person_and_own}");
            let answer = report(&[&args[..], &["--filter", person_and_own]].concat());
            assert_nothing_of_the_person(&answer, &what);
            assert_eq!(
                without_subject(answer),
                without_subject(report(&[&args[..], &["--filter", own]].concat())),
                "{what} reads as --filter {own}"
            );
        }
    }
    // A goal filter with a filter to the person's browser or country.
    for narrowing in ["browser==Firefox", "country==IS"] {
        for args in [vec!["breakdown", "--by", "prop:plan"], vec!["summary"]] {
            let what = format!("{args:?} --filter goal==Book a tour --filter {narrowing}");
            let answer = report(
                &[
                    &args[..],
                    &["--filter", "goal==Book a tour", "--filter", narrowing],
                ]
                .concat(),
            );
            assert_nothing_of_the_person(&answer, &what);
        }
    }
    let by_plan = report(&[
        "breakdown",
        "--by",
        "prop:plan",
        "--filter",
        "goal==Book a tour",
    ]);
    let plans: Vec<&str> = by_plan["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["value"].as_str().unwrap())
        .collect();
    assert!(!plans.contains(&"private-office"), "{by_plan:#}");
    // Nobody but the person and the made-up visitors went through the
    // funnel: none of its steps shows a figure.
    let funnel = report(&["funnel", "--funnel", "That page to a tour"]);
    assert_nothing_of_the_person(&funnel, "funnel");
}
