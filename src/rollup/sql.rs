//! The rollup's SQL: which days have events, which the rollup holds, and
//! the statements that compute one UTC day into `daily_stats` and
//! `daily_filtered` and record it in the ledger `daily_stats_days`.
//!
//! The rows are the per-day parts that `report::sql` reads back: the same
//! dimensions, columns, page-view conditions and sessionization
//! (`report::sql::SESSIONS`), so a report reads the same numbers whether the
//! rollup answers or `events` does.
//! Must never: put a value into the text (days and counts are bound), or
//! write anything but the rollup tables.

use crate::clock;
use crate::report::sql::{
    DAY_SECONDS, FILTERED_DIMENSIONS, Measure, SESSIONS, events_column, in_ranges,
};
use crate::report::vocabulary::{Day, Dimension, Vocabulary};
use crate::store::statement::{Bind, Statement};

/// Events per UTC day in `[start, end)`, to find days to roll up (again).
pub fn events_per_day(start: u32, end: u32) -> Statement {
    let mut s =
        Statement::new("SELECT toUInt16(toDate(ts)) AS day, count() AS events FROM events WHERE 1");
    s.append(in_ranges("ts", &[(start, end)]))
        .push(" GROUP BY day ORDER BY day");
    s
}

/// The events count both rollup tables were computed from, per rolled-up
/// day. A day rolled up before `daily_filtered` existed, or with another
/// `views_cap` (or before counts were capped), is left out, so it is
/// computed again, into both.
pub fn rolled_up_counts(first: u16, views_cap: u64) -> Statement {
    let mut s =
        Statement::new("SELECT toUInt16(day) AS day_number, events FROM daily_stats_days FINAL");
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push(" AND filtered = 1")
    .push_bound(" AND views_cap = ?", Bind::Number(views_cap))
    .push(" ORDER BY day");
    s
}

/// A day and a count of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct DayCount {
    pub day: u16,
    pub events: u64,
}

/// The events one day's rollup statement aggregates, and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subset {
    /// Every event, into `daily_stats`.
    Everything,
    /// The events of each value of a dimension, into `daily_filtered`.
    FilteredBy(Dimension),
}

/// The columns of `events` the rollup statements read.
const ROLLUP_COLUMNS: &str = "site, ts, name, visitor_id, path, referrer_host, utm_source, \
     utm_medium, utm_campaign, country, region, city, browser, os, device";

impl Subset {
    fn insert(self) -> String {
        let (table, filter) = match self {
            Subset::Everything => ("daily_stats", ""),
            Subset::FilteredBy(_) => ("daily_filtered", "filter_dimension, filter_value, "),
        };
        format!(
            "INSERT INTO {table} (site, day, {filter}dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) "
        )
    }

    /// What the statements group by after `site` (and `day`) and before
    /// anything else: the filter's value, in the order of the insert.
    fn key(self) -> &'static str {
        match self {
            Subset::Everything => "",
            Subset::FilteredBy(_) => "filter_dimension, filter_value, ",
        }
    }

    /// ` FROM` the subset's events in `range`, `array_join`ed, then
    /// ` WHERE 1`, for more conditions to follow. A filtered subset reads
    /// `events` in a subquery that bounds the range itself: ClickHouse 18.16
    /// does not push conditions into subqueries.
    fn from(self, range: Statement, array_join: &str) -> Statement {
        let mut s = Statement::default();
        match self {
            Subset::Everything => {
                s.push(&format!(" FROM events{array_join} WHERE 1"))
                    .append(range);
            }
            Subset::FilteredBy(dimension) => {
                s.push(&format!(
                    " FROM (SELECT {ROLLUP_COLUMNS}, '{}' AS filter_dimension, {} AS filter_value FROM events WHERE 1",
                    dimension.as_str(),
                    events_column(dimension)
                ))
                .append(range)
                .push(&format!("){array_join} WHERE 1"));
            }
        }
        s
    }

    /// The statements that compute the subset's rows of one day, in
    /// `daily_stats`'s dimensions (see `schema/0004_rollups.sql`).
    fn statements(self, range: impl Fn() -> Statement, views_cap: u64) -> Vec<Statement> {
        let (insert, key) = (self.insert(), self.key());
        let page_dimensions = page_dimensions("pageview_total");
        let by_value = |dimensions: &str, condition: &str| {
            let mut s = Statement::new(&format!(
                "{insert}SELECT site, day, {key}dimension, value, count(), toUInt64(sum(least(n, ?))), 0, 0, 0, now() \
                 FROM (SELECT site, toDate(ts) AS day, {key}tupleElement(dim, 1) AS dimension, tupleElement(dim, 2) AS value, \
                 visitor_id, count() AS n"
            ));
            s.binds.push(Bind::Number(views_cap));
            s.append(self.from(range(), &format!(" ARRAY JOIN [{dimensions}] AS dim")))
                .push(condition)
                .push(&format!(
                    " GROUP BY site, day, {key}dimension, value, visitor_id) GROUP BY site, day, {key}dimension, value"
                ));
            s
        };
        let pages = by_value(&page_dimensions.join(", "), Measure::PageViews.condition());
        let custom = by_value(
            "tuple('name', name), tuple('event_total', '')",
            Measure::CustomEvents.condition(),
        );
        let mut totals = Statement::new(&format!(
            "{insert}SELECT site, day, {key}'', '', count(), toUInt64(sum(least(pageviews, ?))), toUInt64(sum(least(length(visit_views), ?))), \
             toUInt64(sum(least(arrayCount(v -> v = 1, visit_views), ?))), sum(arraySum(visit_views)), now() \
             FROM (SELECT site, {key}visitor_id, any(toDate(ts)) AS day, countIf(name = 'pageview') AS pageviews, \
             arraySort(groupArrayIf(toUInt32(ts), name = 'pageview')) AS times, \
             arrayPopFront(arrayDifference(arrayPushBack(arrayFilter((i, gap) -> i = 1 OR gap > 1800, arrayEnumerate(times), arrayDifference(times)), length(times) + 1))) AS visit_views"
        ));
        totals.binds = vec![Bind::Number(views_cap); 3];
        totals.append(self.from(range(), "")).push(&format!(
            " GROUP BY site, {key}visitor_id) GROUP BY site, {key}day"
        ));
        let mut entries = Statement::new(&format!(
            "{insert}SELECT site, day, {key}dimension, value, count(), toUInt64(sum(least(n, ?))), 0, 0, 0, now() \
             FROM (SELECT site, day, {key}tupleElement(dim, 1) AS dimension, tupleElement(dim, 2) AS value, visitor_id, count() AS n \
             FROM (SELECT site, {key}visitor_id, day, arrayJoin(arrayMap(v -> tupleElement(v, 2), entries)) AS path \
             FROM ({SESSIONS}, {key}site"
        ));
        entries.binds.push(Bind::Number(views_cap));
        entries
            .append(self.from(range(), ""))
            .push(Measure::PageViews.condition())
            .push(&format!(
                " GROUP BY site, {key}visitor_id, day)) ARRAY JOIN [tuple('entry_page', path), tuple('entry_total', '')] AS dim \
                 GROUP BY site, day, {key}dimension, value, visitor_id) GROUP BY site, day, {key}dimension, value"
            ));
        // Everything a time series needs of each UTC hour, in one pass over
        // each visitor's hours (the hour and its page views, in order):
        // - `first_hour` and `last_hour`: the visitors whose first (last) hit
        //   of the day falls in it, so that a prefix (suffix) of the day sums
        //   its visitors;
        // - `hour`: the visitors with a hit in it and their page views, each
        //   visitor counting for at most `views_cap`;
        // - `prefix_views` and `suffix_views`: how much a visitor's capped
        //   page views from midnight grow in the hour, and their capped views
        //   to the next midnight counted backwards, so that a prefix (suffix)
        //   of the day sums to its capped page views (telescoping sums).
        let mut hourly = Statement::new(&format!(
            "{insert}SELECT site, day, {key}tupleElement(part, 1), toString(tupleElement(part, 2)), \
             sum(tupleElement(part, 3)), sum(tupleElement(part, 4)), 0, 0, 0, now() \
             FROM (SELECT site, day, {key}arrayCumSum(ns) AS cum, arraySum(ns) AS total, arrayConcat(\
             [tuple('first_hour', tupleElement(hn[1], 1), toUInt64(1), toUInt64(0)), \
             tuple('last_hour', tupleElement(hn[length(hn)], 1), toUInt64(1), toUInt64(0))], \
             arrayMap((x, n) -> tuple('hour', tupleElement(x, 1), toUInt64(1), toUInt64(least(n, ?))), hn, ns), \
             arrayMap((x, n, c) -> tuple('prefix_views', tupleElement(x, 1), toUInt64(0), toUInt64(least(c, ?) - least(c - n, ?))), hn, ns, cum), \
             arrayMap((x, n, c) -> tuple('suffix_views', tupleElement(x, 1), toUInt64(0), toUInt64(least(total - c + n, ?) - least(total - c, ?))), hn, ns, cum)) AS parts \
             FROM (SELECT site, day, {key}visitor_id, arraySort(groupArray(tuple(h, n))) AS hn, arrayMap(x -> tupleElement(x, 2), hn) AS ns \
             FROM (SELECT site, toDate(ts) AS day, {key}visitor_id, intDiv(toUInt32(ts) % 86400, 3600) AS h, countIf(name = 'pageview') AS n"
        ));
        hourly.binds = vec![Bind::Number(views_cap); 5];
        hourly
            .append(self.from(range(), ""))
            .push(&format!(
                " GROUP BY site, day, {key}visitor_id, h) GROUP BY site, day, {key}visitor_id)) \
                 ARRAY JOIN parts AS part GROUP BY site, day, {key}tupleElement(part, 1), tupleElement(part, 2)"
            ));
        vec![pages, custom, totals, entries, hourly]
    }
}

/// The statements that (re)compute `daily_stats` and `daily_filtered` for
/// one UTC day, every site at once, then record the day with its `events`
/// count. Run in order; re-running replaces the day's rows. One filter
/// dimension per statement: grouping by all of them at once holds every
/// group of the day in memory together, and took 9 s a day on 10M synthetic
/// events against some 0.5 s per dimension. Counts (page views, events,
/// visits, bounces) are capped per visitor and row at `views_cap`, as the
/// release step's sensitivity assumes; the ledger records the cap.
pub fn rollup_day(day: u16, events: u64, views_cap: u64) -> Vec<Statement> {
    let start = u32::from(day) * DAY_SECONDS;
    let range = || in_ranges("ts", &[(start, start + DAY_SECONDS)]);
    let mut statements = Subset::Everything.statements(range, views_cap);
    for &dimension in FILTERED_DIMENSIONS {
        statements.extend(Subset::FilteredBy(dimension).statements(range, views_cap));
    }
    let mut ledger = Statement::new(
        "INSERT INTO daily_stats_days (day, events, computed_at, filtered, views_cap) SELECT toDate(?), ?, now(), 1, ?",
    );
    ledger.binds = vec![
        Bind::Text(Day(day).to_string()),
        Bind::Number(events),
        Bind::Number(views_cap),
    ];
    statements.push(ledger);
    statements
}

/// `tuple('<dimension>', <column>)` of every dimension a page view has a
/// value of, then `tuple('<total>', '')` for the total of them.
fn page_dimensions(total: &str) -> Vec<String> {
    Dimension::ALL
        .iter()
        .copied()
        .filter(|d| !matches!(d, Dimension::EntryPage | Dimension::Name))
        .map(|d| format!("tuple('{}', {})", d.as_str(), events_column(d)))
        .chain([format!("tuple('{total}', '')")])
        .collect()
}

/// What the release step needs of one UTC day, per site and cell of
/// `released.daily` (`schema/0009_released.sql`): the visitors, and the page
/// views (`name` cells: custom events) with each visitor counting for at
/// most `views_cap` of them ([`CellCount`]). Page views first, then custom
/// events.
pub fn cells_of_day(day: u16, views_cap: u64) -> [Statement; 2] {
    let start = u32::from(day) * DAY_SECONDS;
    let per_cell = |dimensions: &str, condition: &str| {
        let mut s = Statement::new(
            "SELECT site, dimension, value, count() AS visitors, toUInt64(sum(least(views, ?))) AS pageviews \
             FROM (SELECT site, tupleElement(dim, 1) AS dimension, tupleElement(dim, 2) AS value, visitor_id, count() AS views FROM events",
        );
        s.binds.push(Bind::Number(views_cap));
        s.push(&format!(" ARRAY JOIN [{dimensions}] AS dim WHERE 1"))
            .append(in_ranges("ts", &[(start, start + DAY_SECONDS)]))
            .push(condition)
            .push(" GROUP BY site, dimension, value, visitor_id) GROUP BY site, dimension, value");
        s
    };
    [
        per_cell(
            &page_dimensions("").join(", "),
            Measure::PageViews.condition(),
        ),
        per_cell("tuple('name', name)", Measure::CustomEvents.condition()),
    ]
}

/// One cell of a day, exact, as [`cells_of_day`] counts it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct CellCount {
    pub site: String,
    pub dimension: String,
    pub value: String,
    pub visitors: u64,
    pub pageviews: u64,
}

/// The events count `released.daily` was computed from, per released day.
pub fn released_counts(first: u16) -> Statement {
    let mut s =
        Statement::new("SELECT toUInt16(day) AS day_number, events FROM released_days FINAL");
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push(" ORDER BY day");
    s
}

/// Records that `released.daily` holds `day`, computed from `events` events.
pub fn record_released(day: u16, events: u64) -> Statement {
    let mut s = Statement::new(
        "INSERT INTO released_days (day, events, computed_at) SELECT toDate(?), ?, now()",
    );
    s.binds = vec![Bind::Text(Day(day).to_string()), Bind::Number(events)];
    s
}

/// Every statement shape the rollup runs: what the checks of the schema on a
/// current ClickHouse release and on every node of a cluster run, beside
/// `report::sql::statement_shapes`.
pub fn statement_shapes() -> Vec<Statement> {
    let nov_1_day = clock::day_from_civil(2026, 11, 1).expect("a valid date");
    let nov_1 = u32::from(nov_1_day) * DAY_SECONDS;
    let mut statements = vec![
        rolled_up_counts(nov_1_day, 10),
        events_per_day(nov_1, nov_1 + DAY_SECONDS),
    ];
    statements.extend(rollup_day(nov_1_day, 12, 10));
    statements.extend(cells_of_day(nov_1_day, 10));
    statements.extend([released_counts(nov_1_day), record_released(nov_1_day, 12)]);
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_1: u16 = 20_758;

    #[test]
    fn a_day_is_rolled_up_into_both_tables_before_the_ledger_marks_it() {
        let statements = rollup_day(NOV_1, 12, 10);
        let per_subset = Subset::Everything.statements(Statement::default, 10).len();
        assert_eq!(
            statements.len(),
            per_subset * (1 + FILTERED_DIMENSIONS.len()) + 1
        );
        let (ledger, rollups) = statements.split_last().unwrap();
        assert!(
            ledger.text.starts_with("INSERT INTO daily_stats_days")
                && ledger.text.ends_with(", 1, ?"),
            "the ledger comes last and marks the day filtered: {}",
            ledger.text
        );
        let (stats, filtered) = rollups.split_at(per_subset);
        assert!(
            stats
                .iter()
                .all(|s| s.text.starts_with("INSERT INTO daily_stats ("))
        );
        for (statements, dimension) in filtered.chunks(per_subset).zip(FILTERED_DIMENSIONS) {
            let selects = format!(
                "'{}' AS filter_dimension, {} AS filter_value FROM events",
                dimension.as_str(),
                events_column(*dimension)
            );
            for s in statements {
                assert!(
                    s.text.starts_with("INSERT INTO daily_filtered ("),
                    "{}",
                    s.text
                );
                assert!(s.text.contains(&selects), "{dimension:?}: {}", s.text);
                assert_eq!(
                    s.text.matches("toDateTime(?)").count(),
                    2,
                    "the range bounds the subquery"
                );
            }
        }
    }

    #[test]
    fn rollup_values_are_bound_never_spliced() {
        for statement in rollup_day(NOV_1, 12, 10) {
            assert_eq!(statement.text.matches('?').count(), statement.binds.len());
            assert!(statement.text.starts_with("INSERT INTO daily_"));
        }
    }

    /// Also writes the statements to `$BEACONHOUSE_TEST_ROLLUP_SQL_OUT`, one
    /// per line, for `tests/schema_on_current_clickhouse.py` to run on a
    /// current ClickHouse (`tests/run.sh` does both).
    #[test]
    fn every_rollup_statement_is_fully_bound() {
        let statements: Vec<String> = statement_shapes()
            .iter()
            .map(Statement::bound_text)
            .collect();
        for statement in &statements {
            assert!(!statement.contains('?'), "{statement}");
            assert!(!statement.contains('\n'), "{statement}");
            assert!(
                statement.starts_with("SELECT ")
                    || statement.starts_with("INSERT INTO daily_stats")
                    || statement.starts_with("INSERT INTO daily_filtered")
                    || statement.starts_with("INSERT INTO released_days"),
                "{statement}"
            );
        }
        if let Some(path) = std::env::var_os("BEACONHOUSE_TEST_ROLLUP_SQL_OUT") {
            std::fs::write(path, statements.join("\n") + "\n").unwrap();
        }
    }
}
