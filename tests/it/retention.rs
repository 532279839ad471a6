//! Retention against a real clickhouse-server: rows go in by SQL, months
//! before now (30 and 3) and now, so each table holds an expired month and
//! kept ones; `beaconhouse retention` (with and without `--dry-run`) and
//! `beaconhouse serve` must drop exactly the expired months, and every other
//! row must stay.

use crate::common::{self, Beaconhouse, ClickHouse, Collector, SETTLE};

/// A migrated database of a test's own.
struct Scratch {
    clickhouse: &'static ClickHouse,
    database: String,
}

impl Scratch {
    fn new(prefix: &str) -> Scratch {
        let clickhouse = common::clickhouse();
        let database = clickhouse.fresh_database(prefix);
        common::migrate(clickhouse, &database);
        Scratch {
            clickhouse,
            database,
        }
    }

    /// Inserts `rows` rows into `table`, dated `months_ago` months before now.
    fn seed(&self, table: Table, months_ago: u32, rows: u32) {
        let at = format!("addMonths(now(), -{months_ago})");
        let select = match table {
            Table::Events => format!(
                "INSERT INTO events (site, ts, name, visitor_id, path, device) SELECT 'optimumabq.com', {at}, 'pageview', number, '/', 'desktop'"
            ),
            Table::EmailOpens => format!(
                "INSERT INTO email_opens (campaign, ts, recipient_id, proxied) SELECT 'nov', {at}, number, 0"
            ),
            Table::EmailClicks => format!(
                "INSERT INTO email_clicks (campaign, ts, recipient_id, link_host, link_path) SELECT 'nov', {at}, number, 'optimumabq.com', '/'"
            ),
            // A distinct value per row, so that no row replaces another.
            Table::DailyStats => format!(
                "INSERT INTO daily_stats (site, day, dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) SELECT 'optimumabq.com', toDate({at}), 'path', toString(number), 1, 1, 1, 0, 1, now()"
            ),
            Table::DailyFiltered => format!(
                "INSERT INTO daily_filtered (site, day, filter_dimension, filter_value, dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) SELECT 'optimumabq.com', toDate({at}), 'country', 'US', 'path', toString(number), 1, 1, 1, 0, 1, now()"
            ),
            Table::ReleasedDaily => format!(
                "INSERT INTO {}_released.daily (site, day, dimension, value, visitors, pageviews, computed_at) SELECT 'optimumabq.com', toDate({at}), 'path', toString(number), 9, 9, now()",
                self.database
            ),
        };
        self.clickhouse
            .query(&self.database, &format!("{select} FROM numbers({rows})"));
    }

    /// The rows of `table` in each month it holds, oldest first: `(202405, 2)`.
    fn months(&self, table: Table) -> Vec<(u32, u64)> {
        let (name, column) = table.name_and_date_column();
        let name = name.replace("released.", &format!("{}_released.", self.database));
        let answer = self.clickhouse.query(
            &self.database,
            &format!(
                "SELECT toYYYYMM({column}) AS month, count() FROM {name} GROUP BY month ORDER BY month"
            ),
        );
        answer
            .lines()
            .map(|line| {
                let (month, rows) = line.split_once('\t').expect("two columns");
                (month.parse().unwrap(), rows.parse().unwrap())
            })
            .collect()
    }

    fn beaconhouse(&self) -> Beaconhouse {
        Beaconhouse::new()
            .clickhouse(self.clickhouse, &self.database)
            .env("BEACONHOUSE_SITES", "[{id=\"x\",hostnames=[\"x\"]}]")
    }
}

#[derive(Clone, Copy)]
enum Table {
    Events,
    EmailOpens,
    EmailClicks,
    DailyStats,
    DailyFiltered,
    ReleasedDaily,
}

impl Table {
    fn name_and_date_column(self) -> (&'static str, &'static str) {
        match self {
            Table::Events => ("events", "ts"),
            Table::EmailOpens => ("email_opens", "ts"),
            Table::EmailClicks => ("email_clicks", "ts"),
            Table::DailyStats => ("daily_stats", "day"),
            Table::DailyFiltered => ("daily_filtered", "day"),
            Table::ReleasedDaily => ("released.daily", "day"),
        }
    }
}

/// The row counts of [`Scratch::months`], oldest month first.
fn rows(months: &[(u32, u64)]) -> Vec<u64> {
    months.iter().map(|(_, rows)| *rows).collect()
}

/// The line `beaconhouse retention` printed for `table`.
fn line<'a>(stdout: &'a str, table: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{table} (")))
        .unwrap_or_else(|| panic!("no line for {table} in\n{stdout}"))
}

/// Asserts that `table`'s line keeps `period` and ends with `action`.
fn says(stdout: &str, table: &str, period: &str, action: &str) {
    let line = line(stdout, table);
    assert!(
        line.starts_with(&format!("{table} ({period}")) && line.ends_with(&format!("): {action}")),
        "expected {table} ({period}...): {action}, got {line:?}"
    );
}

#[test]
fn retention_drops_whole_expired_months_and_a_dry_run_drops_nothing() {
    let db = Scratch::new("retention_cli");
    for (table, old, recent, now) in [
        (Table::Events, 2, 3, 4),
        (Table::EmailOpens, 1, 2, 1),
        (Table::EmailClicks, 3, 1, 2),
        (Table::DailyStats, 1, 2, 0),
        (Table::DailyFiltered, 1, 2, 0),
    ] {
        db.seed(table, 30, old);
        db.seed(table, 3, recent);
        if now > 0 {
            db.seed(table, 0, now);
        }
    }
    let events = db.months(Table::Events);
    let opens = db.months(Table::EmailOpens);
    let clicks = db.months(Table::EmailClicks);
    let daily = db.months(Table::DailyStats);
    let filtered = db.months(Table::DailyFiltered);
    // 30 and 3 months ago and now are three months.
    assert_eq!(rows(&events), [2, 3, 4], "{events:?}");
    assert_eq!(rows(&opens), [1, 2, 1], "{opens:?}");
    assert_eq!(rows(&clicks), [3, 1, 2], "{clicks:?}");
    assert_eq!(rows(&daily), [1, 2], "{daily:?}");
    let (old_events, old_opens) = (events[0].0, opens[0].0);

    // The defaults: events 732 days, email opens and clicks 400,
    // daily_stats forever.
    let dry = db.beaconhouse().args(["retention", "--dry-run"]).run_ok();
    says(
        &dry,
        "events",
        "732 days, months ended before ",
        &format!("would drop {old_events}"),
    );
    says(
        &dry,
        "email_opens",
        "400 days, months ended before ",
        &format!("would drop {old_opens}"),
    );
    says(
        &dry,
        "email_clicks",
        "400 days, months ended before ",
        &format!("would drop {old_opens}"),
    );
    assert_eq!(
        line(&dry, "daily_stats"),
        "daily_stats (kept forever): nothing to drop"
    );
    assert_eq!(
        line(&dry, "daily_filtered"),
        "daily_filtered (kept forever): nothing to drop"
    );
    for table in ["daily_goals", "daily_funnels", "filtered_hits"] {
        assert_eq!(
            line(&dry, table),
            format!("{table} (kept forever): nothing to drop")
        );
    }
    assert_eq!(
        line(&dry, "released.daily"),
        "released.daily (kept forever): nothing to drop"
    );
    // A site's days from its local midnight, kept as the events they count
    // (none here).
    for table in ["local_stats", "local_goals", "local_funnels"] {
        let events = line(&dry, "events");
        let kept = &events[events.find(" (").unwrap()..events.find(')').unwrap() + 1];
        assert_eq!(line(&dry, table), format!("{table}{kept}: nothing to drop"));
    }
    // One line per table: the eleven above and released.daily.
    assert_eq!(dry.lines().count(), 12, "{dry}");
    assert_eq!(db.months(Table::Events), events, "a dry run drops nothing");
    assert_eq!(db.months(Table::EmailOpens), opens);
    assert_eq!(db.months(Table::EmailClicks), clicks);
    assert_eq!(db.months(Table::DailyStats), daily);

    let done = db.beaconhouse().arg("retention").run_ok();
    says(
        &done,
        "events",
        "732 days",
        &format!("dropped {old_events}"),
    );
    says(
        &done,
        "email_opens",
        "400 days",
        &format!("dropped {old_opens}"),
    );
    says(
        &done,
        "email_clicks",
        "400 days",
        &format!("dropped {old_opens}"),
    );
    assert_eq!(
        line(&done, "daily_stats"),
        "daily_stats (kept forever): nothing to drop"
    );
    assert_eq!(db.months(Table::Events), events[1..]);
    assert_eq!(db.months(Table::EmailOpens), opens[1..]);
    assert_eq!(db.months(Table::EmailClicks), clicks[1..]);
    assert_eq!(
        db.months(Table::DailyStats),
        daily,
        "the rollup is kept forever"
    );
    assert_eq!(db.months(Table::DailyFiltered), filtered);

    let again = db.beaconhouse().arg("retention").run_ok();
    for table in [
        "events",
        "email_opens",
        "email_clicks",
        "daily_stats",
        "daily_filtered",
    ] {
        assert!(
            line(&again, table).ends_with("): nothing to drop"),
            "{again}"
        );
    }
}

#[test]
fn both_rollups_expire_after_daily_stats_days() {
    let db = Scratch::new("retention_rollups");
    for table in [Table::DailyStats, Table::DailyFiltered] {
        db.seed(table, 30, 1);
        db.seed(table, 3, 2);
    }
    let (daily, filtered) = (
        db.months(Table::DailyStats),
        db.months(Table::DailyFiltered),
    );
    assert_eq!((rows(&daily), rows(&filtered)), (vec![1, 2], vec![1, 2]));
    let done = db
        .beaconhouse()
        .env("BEACONHOUSE_RETENTION_DAILY_STATS_DAYS", "800")
        .arg("retention")
        .run_ok();
    for (table, months) in [("daily_stats", &daily), ("daily_filtered", &filtered)] {
        says(
            &done,
            table,
            "800 days",
            &format!("dropped {}", months[0].0),
        );
    }
    assert_eq!(db.months(Table::DailyStats), daily[1..]);
    assert_eq!(db.months(Table::DailyFiltered), filtered[1..]);
}

#[test]
fn released_days_expire_with_the_rollups() {
    let db = Scratch::new("retention_released");
    db.seed(Table::ReleasedDaily, 30, 1);
    db.seed(Table::ReleasedDaily, 3, 2);
    let released = db.months(Table::ReleasedDaily);
    assert_eq!(rows(&released), vec![1, 2]);
    let kept = db.beaconhouse().arg("retention").run_ok();
    says(&kept, "released.daily", "kept forever", "nothing to drop");
    let done = db
        .beaconhouse()
        .env("BEACONHOUSE_RETENTION_DAILY_STATS_DAYS", "800")
        .arg("retention")
        .run_ok();
    says(
        &done,
        "released.daily",
        "800 days",
        &format!("dropped {}", released[0].0),
    );
    assert_eq!(db.months(Table::ReleasedDaily), released[1..]);
}

#[test]
fn serve_drops_expired_months_at_start() {
    let db = Scratch::new("retention_serve");
    // Older than the rollup looks back (400 days): serve's first rollup,
    // which runs alongside retention, must not race it to these events and
    // add their day to daily_stats.
    db.seed(Table::Events, 30, 2);
    db.seed(Table::Events, 0, 4);
    db.seed(Table::EmailOpens, 30, 1);
    db.seed(Table::EmailOpens, 0, 1);
    db.seed(Table::EmailClicks, 30, 2);
    db.seed(Table::EmailClicks, 0, 1);
    db.seed(Table::DailyStats, 30, 1);
    let events = db.months(Table::Events);
    let opens = db.months(Table::EmailOpens);
    let clicks = db.months(Table::EmailClicks);
    let daily = db.months(Table::DailyStats);
    assert_eq!(
        (rows(&events), rows(&opens), rows(&clicks), rows(&daily)),
        (vec![2, 4], vec![1, 1], vec![2, 1], vec![1])
    );

    let collector = Collector::start(
        db.clickhouse,
        &db.database,
        "[retention]\nevents_days = 31\n",
    );
    let dropped = |table: &str| {
        collector.metric(&format!(
            "beaconhouse_retention_partitions_dropped_total{{table=\"{table}\"}}"
        ))
    };
    common::eventually(
        "the collector drops the expired months of events, email_opens and email_clicks",
        SETTLE,
        || match (
            dropped("events"),
            dropped("email_opens"),
            dropped("email_clicks"),
        ) {
            (1, 1, 1) => Ok(()),
            other => Err(other),
        },
    );
    assert_eq!(
        db.months(Table::Events),
        events[1..],
        "the 4 rows of now kept"
    );
    assert_eq!(db.months(Table::EmailOpens), opens[1..]);
    assert_eq!(db.months(Table::EmailClicks), clicks[1..]);
    assert_eq!(db.months(Table::DailyStats), daily);
    assert_eq!(dropped("daily_stats"), 0);
    assert_eq!(collector.metric("beaconhouse_retention_failures_total"), 0);
    assert!(
        collector.log().contains("retention: events (31 days"),
        "{}",
        collector.log()
    );
}

#[test]
fn serve_keeps_collecting_when_retention_fails() {
    // A database that does not exist: listing its partitions fails.
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("retention_missing");
    let collector = Collector::start(clickhouse, &database, "");
    common::eventually(
        "the collector counts the failed retention run",
        SETTLE,
        || match collector.metric("beaconhouse_retention_failures_total") {
            1 => Ok(()),
            other => Err(other),
        },
    );
    assert!(
        collector
            .log()
            .contains("retention could not finish; expired rows stay until the next try"),
        "{}",
        collector.log()
    );
    let (stopped_cleanly, log) = collector.stop();
    assert!(stopped_cleanly, "{log}");
}
