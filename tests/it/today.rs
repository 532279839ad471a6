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

use beaconhouse::config::Config;
use beaconhouse::goal::{Target, site_funnels, site_goals};
use beaconhouse::report::sql::{
    self, DayRow, GoalDay, Key, LedgerDay, Measure, RolledUp, VisitDay, Window,
};
use beaconhouse::report::vocabulary::{Dimension, Filter, Interval};
use beaconhouse::rollup::Rollup;
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

struct Setup {
    database: String,
    config: Config,
    runtime: tokio::runtime::Runtime,
    endpoints: Endpoints,
}

impl Setup {
    fn new(day: u16) -> Setup {
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
        let env = [
            (
                "BEACONHOUSE_CLICKHOUSE_URL".to_string(),
                clickhouse.url.clone(),
            ),
            (
                "BEACONHOUSE_CLICKHOUSE_DATABASE".to_string(),
                database.clone(),
            ),
        ];
        let config = Config::parse(CONFIG, env).unwrap();
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

    /// The rollup as `serve` runs it at `now`: how far it counted today.
    fn roll_up(&self, now: u32) -> Option<u32> {
        let conversions = self.config.conversions();
        let rollup = Rollup::new(
            self.endpoints.clone(),
            &self.config.clickhouse,
            &self.config.reporting,
            site_goals(&conversions),
            site_funnels(&conversions),
        );
        self.runtime.block_on(rollup.roll_up(now)).unwrap().today
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
        RolledUp::from_ledger(&ledger, window.end)
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
        let funnel = |days: &[u16], partial: Option<u16>| -> Vec<DayRow> {
            self.fetch(&sql::funnel(window, days, partial, &steps).by_day())
        };
        let funnel_days: Vec<u16> = rolled_up.stats.clone();
        assert_eq!(
            funnel(&funnel_days, rolled_up.partial),
            funnel(&[], None),
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

#[test]
fn today_so_far_reads_from_the_rollup_exactly_as_from_events() {
    let day = beaconhouse::clock::day_from_civil(2026, 11, 12).unwrap();
    let midnight = u32::from(day) * 86_400;
    let s = Setup::new(day);
    let clickhouse = common::clickhouse();

    // 14:05: the two days before are rolled up whole, today up to 14:00.
    assert_eq!(
        s.roll_up(midnight + 14 * HOUR + 300),
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
    assert_eq!(s.roll_up(midnight + 14 * HOUR + 600), None);
    clickhouse.query(
        &s.database,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, country) VALUES \
             ('optimumabq.com', toDateTime({}), 'book_tour', 1, '/blog/a', 'US')",
            midnight + 10 * HOUR
        ),
    );
    assert_eq!(
        s.roll_up(midnight + 14 * HOUR + 900),
        Some(midnight + 14 * HOUR)
    );
    let w = window(midnight, midnight + 14 * HOUR);
    s.assert_rollup_reads_as_events(&w, &s.rolled_up(&w), "today after a late hit");

    // At 15:05, up to 15:00; the day after, whole.
    assert_eq!(
        s.roll_up(midnight + 15 * HOUR + 300),
        Some(midnight + 15 * HOUR)
    );
    assert_eq!(
        s.roll_up(midnight + 86_400 + 600),
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
