//! Today so far from the rollup: the rollup run as `serve` runs it at 14:05
//! on a fixed day counts that day up to 14:00 into `daily_stats`,
//! `daily_goals` and `daily_funnels`, and every report statement over a
//! window that ends at 14:00 (the hour reports may read by then) reads the
//! same rows from it as from `events`, row for row: totals, hourly and
//! daily series (a window from midnight, and one from 06:00, whose day is
//! a suffix of what was counted), breakdowns, visits, goals and the funnel,
//! with visits, heavy visitors and custom events that run past 14:00. A hit
//! delivered late counts again; once the day has ended it is rolled up
//! whole. The rollup's clock is passed in, so the test reads the same at
//! any hour.
//!
//! A site in America/Denver, whose day starts at 07:00 UTC: its day from
//! that midnight, yesterday's and today's so far, is rolled up into the
//! `local_*` tables, and its "today" and "yesterday" read them exactly as
//! they read `events`, before 07:00 UTC (yesterday's part and today's
//! first hours) and after.

use beaconhouse::config::Config;
use beaconhouse::goal::Target;
use beaconhouse::report::sql::{
    self, DayRow, GoalDay, Key, LedgerDay, LocalDay, LocalPart, Measure, RolledUp, VisitDay, Window,
};
use beaconhouse::report::vocabulary::{Dimension, Filter, Interval};
use beaconhouse::rollup::{Done, Rollup};
use beaconhouse::store::clickhouse::Endpoints;
use beaconhouse::store::statement::Statement;

use crate::common;

const CONFIG: &str = r#"
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]

[[sites.goals]]
name = "Book a tour"
event = "book_tour"

[[sites.goals]]
name = "Read the blog"
page = "/blog/*"

[[sites.funnels]]
name = "Blog to tour"
steps = [{ page = "/" }, { page = "/blog/*" }, { goal = "Book a tour" }]

[reporting]
max_views_per_visitor_day = 4
"#;
const HOUR: u32 = 3600;

/// [`CONFIG`] with the site's reports in America/Denver.
fn in_denver() -> String {
    CONFIG.replacen(
        "hostnames = [\"optimumabq.com\"]\n",
        "hostnames = [\"optimumabq.com\"]\ntime_zone = \"America/Denver\"\n",
        1,
    )
}

/// Two whole days before `day`, and `day` itself around the clock: 400
/// visitors, each with 1 to 7 hits minutes apart (so visits and visitors
/// run across hours and across 14:00), a custom event now and then, and a
/// few heavy visitors over the cap.
fn seed(day: u16) -> Vec<String> {
    let midnight = u32::from(day) * 86_400;
    let mut rows = Vec::new();
    // Ids from 1: the rollup marks visitors under the cap with id 0, which
    // no salted hash gives in practice.
    for visitor in 1..=400u32 {
        let start = midnight - 2 * 86_400 + (visitor * 7919) % (3 * 86_400);
        let hits = if visitor % 37 == 0 {
            9
        } else {
            1 + visitor % 7
        };
        for hit in 0..hits {
            let at = start + hit * (60 + (visitor * 31 + hit * 17) % 2400);
            let path = ["/", "/blog/a", "/blog/b", "/pricing"][((visitor + hit) % 4) as usize];
            let name = if (visitor + hit) % 5 == 0 {
                "book_tour"
            } else {
                "pageview"
            };
            let country = ["US", "MX", "IS"][(visitor % 3) as usize];
            rows.push(format!(
                "('optimumabq.com', toDateTime({at}), '{name}', {visitor}, '{path}', '{country}')"
            ));
        }
    }
    rows
}

/// The environment that points the configuration at `database`.
fn env_of(database: &str) -> [(String, String); 2] {
    [
        (
            "BEACONHOUSE_CLICKHOUSE_URL".to_string(),
            common::clickhouse().url.clone(),
        ),
        (
            "BEACONHOUSE_CLICKHOUSE_DATABASE".to_string(),
            database.to_string(),
        ),
    ]
}

struct Setup {
    database: String,
    config: Config,
    runtime: tokio::runtime::Runtime,
    endpoints: Endpoints,
}

impl Setup {
    fn new(day: u16, config: &str) -> Setup {
        let clickhouse = common::clickhouse();
        let database = clickhouse.fresh_database("today");
        common::migrate(clickhouse, &database);
        clickhouse.query(
            &database,
            &format!(
                "INSERT INTO events (site, ts, name, visitor_id, path, country) VALUES {}",
                seed(day).join(", ")
            ),
        );
        let config = Config::parse(config, env_of(&database)).unwrap();
        let endpoints = Endpoints::new(&config.clickhouse).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Setup {
            database,
            config,
            runtime,
            endpoints,
        }
    }

    /// The rollup as `serve` runs it at `now`.
    fn roll_up(&self, now: u32) -> Done {
        let rollup = Rollup::new(self.endpoints.clone(), &self.config);
        self.runtime.block_on(rollup.roll_up(now)).unwrap()
    }

    fn fetch<T>(&self, statement: &Statement) -> Vec<T>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.runtime
            .block_on(self.endpoints.fetch_all(statement))
            .unwrap_or_else(|e| panic!("{e}: {}", statement.bound_text()))
    }

    /// What the ledger says is rolled up of `window`, as the engine reads it.
    fn rolled_up(&self, window: &Window) -> RolledUp {
        let (first, last) = (
            beaconhouse::clock::day_of(window.start),
            beaconhouse::clock::day_of(window.end),
        );
        let views_cap = self.config.reporting.views_cap;
        let ledger: Vec<LedgerDay> = self.fetch(&sql::rolled_up_days(first, last, views_cap));
        let local: Vec<LocalPart> = self
            .fetch::<LocalDay>(&sql::local_days(
                Some(&window.subject),
                first,
                last,
                views_cap,
            ))
            .iter()
            .map(LocalDay::part)
            .collect();
        RolledUp::from_ledger(&ledger, &local, window)
    }

    /// Every report statement over `window`, as read with `rolled_up` and
    /// as read from `events` alone, must give the same rows.
    fn assert_rollup_reads_as_events(&self, window: &Window, rolled_up: &RolledUp, what: &str) {
        let views_cap = self.config.reporting.views_cap;
        let nothing = RolledUp::default();
        let us = [Filter::parse("country==US").unwrap()];
        // What the engine asks of each key.
        let asked = [
            (Key::Nothing, Measure::Everything),
            (Key::Nothing, Measure::PageViews),
            (Key::Nothing, Measure::CustomEvents),
            (Key::Nothing, Measure::Visits),
            (Key::Bucket(Interval::Hour), Measure::Everything),
            (Key::Bucket(Interval::Day), Measure::Everything),
            (Key::Dimension(Dimension::Path), Measure::PageViews),
            (Key::Dimension(Dimension::Country), Measure::PageViews),
            (Key::Dimension(Dimension::EntryPage), Measure::Visits),
            (Key::Dimension(Dimension::Name), Measure::CustomEvents),
        ];
        for (key, measure) in &asked {
            for filters in [&[][..], &us[..]] {
                let rows = |rolled_up: &RolledUp| -> Vec<DayRow> {
                    self.fetch(
                        &sql::site(window, rolled_up, key, *measure, filters, views_cap).by_day(),
                    )
                };
                let expected = rows(&nothing);
                assert!(
                    !expected.is_empty(),
                    "{what}: {key:?} {measure:?} {filters:?}"
                );
                assert_eq!(
                    rows(rolled_up),
                    expected,
                    "{what}: {key:?} {measure:?} {filters:?}"
                );
            }
        }
        for filters in [&[][..], &us[..]] {
            let visits = |rolled_up: &RolledUp| -> Vec<VisitDay> {
                self.fetch(&sql::visits(window, rolled_up, filters, views_cap))
            };
            assert_eq!(
                visits(rolled_up),
                visits(&nothing),
                "{what}: visits {filters:?}"
            );
        }
        let (first, last) = (
            beaconhouse::clock::day_of(window.start),
            beaconhouse::clock::day_of(window.end),
        );
        let held: Vec<GoalDay> = self.fetch(&sql::rolled_up_goal_days(
            "optimumabq.com",
            first,
            last,
            views_cap,
        ));
        let targets = [
            Target::Event("book_tour".into()),
            Target::Page("/blog/*".into()),
        ];
        let days: Vec<Vec<u16>> = targets
            .iter()
            .map(|t| {
                held.iter()
                    .filter(|d| d.goal == t.definition() && rolled_up.stats.contains(&d.day_number))
                    .map(|d| d.day_number)
                    .collect()
            })
            .collect();
        let goals = |rolled_up: &RolledUp, days: &[Vec<u16>]| -> Vec<DayRow> {
            let targets: Vec<(&Target, &[u16])> =
                targets.iter().zip(days).map(|(t, d)| (t, &d[..])).collect();
            self.fetch(&sql::goals(window, rolled_up, &targets, views_cap).by_day())
        };
        assert_eq!(
            goals(rolled_up, &days),
            goals(&nothing, &[vec![], vec![]]),
            "{what}: goals"
        );
        let steps = [
            Target::Page("/".into()),
            Target::Page("/blog/*".into()),
            Target::Event("book_tour".into()),
        ];
        let funnel = |rolled_up: &RolledUp, days: &[u16]| -> Vec<DayRow> {
            self.fetch(&sql::funnel(window, rolled_up, days, &steps).by_day())
        };
        assert_eq!(
            funnel(rolled_up, &rolled_up.stats),
            funnel(&nothing, &[]),
            "{what}: funnel"
        );
    }
}

fn window(start: u32, end: u32) -> Window {
    Window {
        subject: "optimumabq.com".into(),
        start,
        end,
        time_zone: "UTC".into(),
    }
}

fn denver(start: u32, end: u32) -> Window {
    Window {
        time_zone: "America/Denver".into(),
        ..window(start, end)
    }
}

#[test]
fn today_so_far_reads_from_the_rollup_exactly_as_from_events() {
    let day = beaconhouse::clock::day_from_civil(2026, 11, 12).unwrap();
    let midnight = u32::from(day) * 86_400;
    let s = Setup::new(day, CONFIG);
    let clickhouse = common::clickhouse();

    // 14:05: the two days before are rolled up whole, today up to 14:00.
    assert_eq!(
        s.roll_up(midnight + 14 * HOUR + 300).today,
        Some(midnight + 14 * HOUR)
    );
    let ledger = clickhouse.query(
        &s.database,
        "SELECT toUInt16(day), filtered, counted_until FROM daily_stats_days FINAL ORDER BY day FORMAT CSV",
    );
    assert_eq!(
        ledger,
        format!(
            "{},1,0\n{},1,0\n{day},0,{}\n",
            day - 2,
            day - 1,
            midnight + 14 * HOUR
        )
    );
    for (start, what) in [
        (midnight - 2 * 86_400, "three days to 14:00"),
        (midnight, "today to 14:00"),
        (midnight + 6 * HOUR, "today from 06:00 to 14:00"),
    ] {
        let w = window(start, midnight + 14 * HOUR);
        let rolled_up = s.rolled_up(&w);
        assert_eq!(rolled_up.partial, Some(day), "{what}");
        let whole_days = sql::split(&w, &rolled_up.stats, rolled_up.partial, false).days;
        if start % 86_400 == 0 {
            assert_eq!(
                whole_days.map(|(_, last)| last),
                Some(day),
                "{what}: today from the rollup"
            );
        }
        s.assert_rollup_reads_as_events(&w, &rolled_up, what);
    }
    // A window that ends at another hour reads today from events.
    let later = window(midnight, midnight + 15 * HOUR);
    assert_eq!(s.rolled_up(&later).partial, None);

    // Nothing new: nothing to do. A hit delivered late, at 10:00: counted again.
    assert_eq!(s.roll_up(midnight + 14 * HOUR + 600).today, None);
    clickhouse.query(
        &s.database,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, country) VALUES \
             ('optimumabq.com', toDateTime({}), 'book_tour', 1, '/blog/a', 'US')",
            midnight + 10 * HOUR
        ),
    );
    assert_eq!(
        s.roll_up(midnight + 14 * HOUR + 900).today,
        Some(midnight + 14 * HOUR)
    );
    let w = window(midnight, midnight + 14 * HOUR);
    s.assert_rollup_reads_as_events(&w, &s.rolled_up(&w), "today after a late hit");

    // At 15:05, up to 15:00; the day after, whole.
    assert_eq!(
        s.roll_up(midnight + 15 * HOUR + 300).today,
        Some(midnight + 15 * HOUR)
    );
    assert_eq!(
        s.roll_up(midnight + 86_400 + 600).today,
        None,
        "not yet an hour of the next day"
    );
    assert_eq!(
        clickhouse.query(
            &s.database,
            &format!(
                "SELECT filtered, counted_until FROM daily_stats_days FINAL WHERE day = toDate('{}') FORMAT CSV",
                beaconhouse::clock::iso_date(day)
            ),
        ),
        "1,0\n",
        "the day is rolled up whole once it has ended"
    );
    let whole = window(midnight, midnight + 86_400);
    let rolled_up = s.rolled_up(&whole);
    assert_eq!(
        (rolled_up.partial, rolled_up.stats.contains(&day)),
        (None, true)
    );
    s.assert_rollup_reads_as_events(&whole, &rolled_up, "the whole day");
}

#[test]
fn a_sites_day_from_its_local_midnight_reads_from_the_rollup_exactly_as_from_events() {
    let day = beaconhouse::clock::day_from_civil(2026, 11, 12).unwrap();
    let midnight = u32::from(day) * 86_400;
    // Mountain Standard Time: the site's days start at 07:00 UTC.
    let (yesterday_from, today_from) = (midnight - 17 * HOUR, midnight + 7 * HOUR);
    let s = Setup::new(day, &in_denver());
    let clickhouse = common::clickhouse();
    let local_ledger = || {
        clickhouse.query(
            &s.database,
            "SELECT toUInt16(day), counted_from, counted_until, events > 0 FROM local_days FINAL ORDER BY day FORMAT CSV",
        )
    };

    // 03:05 UTC, 20:05 in Denver: yesterday's part from its midnight is
    // whole; today's UTC day is rolled up to 03:00, and has no part yet.
    let done = s.roll_up(midnight + 3 * HOUR + 300);
    assert_eq!((done.today, done.local), (Some(midnight + 3 * HOUR), 1));
    assert_eq!(
        local_ledger(),
        format!("{},{yesterday_from},{midnight},1\n", day - 1)
    );
    let today_in_denver = denver(yesterday_from, midnight + 3 * HOUR);
    let rolled_up = s.rolled_up(&today_in_denver);
    let yesterday_part = LocalPart {
        day: day - 1,
        from: yesterday_from,
        until: midnight,
    };
    assert_eq!(
        (rolled_up.local, rolled_up.partial),
        (Some(yesterday_part), Some(day))
    );
    s.assert_rollup_reads_as_events(&today_in_denver, &rolled_up, "Denver's today at 20:05");

    // 14:05 UTC: today's part from 07:00 to 14:00 as well.
    let done = s.roll_up(midnight + 14 * HOUR + 300);
    assert_eq!((done.today, done.local), (Some(midnight + 14 * HOUR), 1));
    assert_eq!(
        local_ledger(),
        format!(
            "{},{yesterday_from},{midnight},1\n{day},{today_from},{},1\n",
            day - 1,
            midnight + 14 * HOUR
        )
    );
    let today_in_denver = denver(today_from, midnight + 14 * HOUR);
    let rolled_up = s.rolled_up(&today_in_denver);
    assert_eq!(
        rolled_up.local,
        Some(LocalPart {
            day,
            from: today_from,
            until: midnight + 14 * HOUR
        })
    );
    s.assert_rollup_reads_as_events(&today_in_denver, &rolled_up, "Denver's today at 07:05");
    // Yesterday in Denver: its part of the UTC day before, then today's
    // first seven hours from events.
    let yesterday_in_denver = denver(yesterday_from, today_from);
    let rolled_up = s.rolled_up(&yesterday_in_denver);
    assert_eq!(rolled_up.local, Some(yesterday_part));
    s.assert_rollup_reads_as_events(&yesterday_in_denver, &rolled_up, "Denver's yesterday");
    // A window that starts at another hour reads no part.
    assert_eq!(
        s.rolled_up(&denver(today_from + HOUR, midnight + 14 * HOUR))
            .local,
        None
    );

    // A late hit at 09:00 is counted again; so is the part when a goal is
    // added to the configuration (its ledger names the goals it counted).
    clickhouse.query(
        &s.database,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, country) VALUES \
             ('optimumabq.com', toDateTime({}), 'book_tour', 1, '/blog/a', 'US')",
            midnight + 9 * HOUR
        ),
    );
    assert_eq!(s.roll_up(midnight + 14 * HOUR + 600).local, 1);
    let today_in_denver = denver(today_from, midnight + 14 * HOUR);
    s.assert_rollup_reads_as_events(
        &today_in_denver,
        &s.rolled_up(&today_in_denver),
        "Denver's today after a late hit",
    );
    let database = s.database.clone();
    let conversions = || {
        clickhouse.query(
            &database,
            &format!(
                "SELECT conversions FROM local_days FINAL WHERE counted_from = {today_from} FORMAT TSV"
            ),
        )
    };
    let before = conversions();
    let with_pricing = in_denver().replace(
        "[[sites.funnels]]",
        "[[sites.goals]]\nname = \"Pricing\"\npage = \"/pricing\"\n\n[[sites.funnels]]",
    );
    let s = Setup {
        config: Config::parse(&with_pricing, env_of(&s.database)).unwrap(),
        ..s
    };
    assert_eq!(
        s.roll_up(midnight + 14 * HOUR + 900).local,
        2,
        "yesterday's and today's"
    );
    assert_ne!(conversions(), before);
    assert!(conversions().contains("page:/pricing"), "{}", conversions());
}
