//! The rollup's SQL: which days have events, which the rollup holds, and
//! the statements that compute one UTC day into `daily_stats`,
//! `daily_filtered`, `daily_goals` and `daily_funnels` and record it in the
//! ledger `daily_stats_days`, or a site's part of a day from its local
//! midnight into the `local_*` tables and `local_days`.
//!
//! The rows are the per-day parts that `report::sql` reads back: the same
//! dimensions, columns, page-view conditions and sessionization
//! (`report::sql::SESSIONS`), so a report reads the same numbers whether the
//! rollup answers or `events` does.
//! Must never: put a value into the text (days and counts are bound), or
//! write anything but the rollup tables.

use crate::clock;
use crate::goal::{SiteFunnel, SiteGoal, Target, conversions_definition, steps_definition};
use crate::release;
use crate::report::sql::{
    DAY_SECONDS, FILTERED_DIMENSIONS, Measure, ROLLUP_LAYOUT, SESSIONS, current_ledger_days,
    events_column, funnel_levels, in_ranges, local_days, reaches,
};
use crate::report::vocabulary::{Day, Dimension};
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
/// day. A day rolled up before `daily_filtered` existed, with another
/// `views_cap` (or before counts were capped), or in another layout, is left
/// out, so it is computed again, into both.
pub fn rolled_up_counts(first: u16, views_cap: u64) -> Statement {
    let mut s =
        Statement::new("SELECT toUInt16(day) AS day_number, events FROM daily_stats_days FINAL");
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push(" AND filtered = 1 AND counted_until = 0")
    .append(current_ledger_days(views_cap))
    .push(" ORDER BY day");
    s
}

/// The ledger's row of `day` if the rollup counted part of it (today so
/// far), counted with `views_cap`: rows of ([`CountedSoFar`]).
pub fn counted_so_far(day: u16, views_cap: u64) -> Statement {
    let mut s = Statement::new("SELECT events, counted_until FROM daily_stats_days FINAL");
    s.push_bound(" WHERE day = toDate(?)", Bind::Text(Day(day).to_string()))
        .push(" AND counted_until > 0")
        .append(current_ledger_days(views_cap));
    s
}

/// The number of events of `part` of `day`: rows of [`PartEvents`].
pub fn events_of(part: DayPart, day: u16) -> Statement {
    let mut s = Statement::new("SELECT count() AS events FROM events WHERE 1");
    s.append(part.events(day));
    s
}

/// How many events a part of a day holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct PartEvents {
    pub events: u64,
}

/// How much of today the rollup counted, and of how many events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct CountedSoFar {
    pub events: u64,
    pub counted_until: u32,
}

/// How much of a UTC day one rollup counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayPart<'a> {
    /// The day has ended: all of it, into every rollup table.
    Whole,
    /// Today, from its midnight to this instant (the start of an hour), into
    /// `daily_stats`, `daily_goals` and `daily_funnels`: what reports over
    /// today need most, at a small part of the whole rollup's cost
    /// (`daily_filtered` is most of it).
    Until(u32),
    /// One site's events from its local midnight `from` inside the day to
    /// `until` (the start of an hour, or the day's end), into `local_stats`,
    /// `local_goals` and `local_funnels`: a report over the site's own day
    /// starts at `from`, where no row of `daily_stats` begins.
    Local {
        site: &'a str,
        from: u32,
        until: u32,
    },
}

impl DayPart<'_> {
    /// The UTC instants counted of `day`.
    fn range(self, day: u16) -> (u32, u32) {
        let midnight = u32::from(day) * DAY_SECONDS;
        match self {
            DayPart::Whole => (midnight, midnight + DAY_SECONDS),
            DayPart::Until(end) => (midnight, end),
            DayPart::Local { from, until, .. } => (from, until),
        }
    }

    /// The condition on `events` that picks the part's events of `day`.
    fn events(self, day: u16) -> Statement {
        let mut s = Statement::default();
        if let DayPart::Local { site, .. } = self {
            s.push_bound(" AND site = ?", Bind::Text(site.into()));
        }
        s.append(in_ranges("ts", &[self.range(day)]));
        s
    }

    /// `daily_<name>` or, of a part from a local midnight, `local_<name>`
    /// with its key column `counted_from`.
    fn table(self, name: &str) -> (String, &'static str) {
        match self {
            DayPart::Local { .. } => (format!("local_{name}"), "counted_from, "),
            _ => (format!("daily_{name}"), ""),
        }
    }

    /// Whether the part counts `site`'s events.
    fn counts(self, site: &str) -> bool {
        match self {
            DayPart::Local { site: own, .. } => own == site,
            _ => true,
        }
    }

    /// The binds of the columns [`DayPart::table`] adds, in its order.
    fn key_binds(self) -> Vec<Bind> {
        match self {
            DayPart::Local { from, .. } => vec![Bind::Number(from.into())],
            _ => Vec::new(),
        }
    }
}

/// The days `daily_goals` holds from `first` on, counted with `views_cap`,
/// of every site's goals: rows of `report::sql::GoalDay`.
pub fn held_goal_days(first: u16, views_cap: u64) -> Statement {
    let mut s =
        Statement::new("SELECT site, goal, toUInt16(day) AS day_number FROM daily_goals FINAL");
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push_bound(" AND views_cap = ?", Bind::Number(views_cap));
    s
}

/// The statement that (re)computes one goal's row of one UTC day in
/// `daily_goals`: the visitors with an event that reaches it, and those
/// events, each visitor counting for at most `views_cap` (as a report
/// filtered by `report::sql::reaching` counts them). A day without any
/// gets a row of zeros: the row says the day was counted.
pub fn goal_day(day: u16, part: DayPart, goal: &SiteGoal, views_cap: u64) -> Statement {
    let (table, key) = part.table("goals");
    let mut s = Statement::new(&format!(
        "INSERT INTO {table} (site, day, {key}goal, visitors, hits, views_cap, computed_at) "
    ));
    s.push_bound("SELECT ?", Bind::Text(goal.site.clone()))
        .push_bound(", toDate(?)", Bind::Text(Day(day).to_string()));
    for bind in part.key_binds() {
        s.push_bound(", ?", bind);
    }
    s.push_bound(", ?", Bind::Text(goal.target.definition()))
        .push_bound(
            ", count(), toUInt64(sum(least(n, ?)))",
            Bind::Number(views_cap),
        )
        .push_bound(", ?, now()", Bind::Number(views_cap))
        .push(" FROM (SELECT visitor_id, count() AS n FROM events")
        .push_bound(" WHERE site = ?", Bind::Text(goal.site.clone()))
        .append(in_ranges("ts", &[part.range(day)]))
        .append(reaches(Some(&goal.target)))
        .push(" GROUP BY visitor_id)");
    s
}

/// The days `daily_funnels` holds from `first` on, of every site's
/// funnels: rows of (`site`, `funnel`, `day_number`): [`HeldFunnelDay`].
pub fn held_funnel_days(first: u16) -> Statement {
    let mut s =
        Statement::new("SELECT site, funnel, toUInt16(day) AS day_number FROM daily_funnels FINAL");
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push(" AND level = 0");
    s
}

/// A day `daily_funnels` holds of a site's funnel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct HeldFunnelDay {
    pub site: String,
    pub funnel: String,
    pub day_number: u16,
}

/// The statements that (re)compute one funnel's rows of one UTC day in
/// `daily_funnels`: visitors per level reached, then the row of level 0,
/// which is written whatever the day holds and says it was counted.
pub fn funnel_day(day: u16, part: DayPart, funnel: &SiteFunnel) -> Vec<Statement> {
    let levels = || funnel_levels(&funnel.site, &[part.range(day)], &funnel.steps);
    let (table, key) = part.table("funnels");
    let insert = |select: &str| {
        let mut s = Statement::new(&format!(
            "INSERT INTO {table} (site, day, {key}funnel, level, visitors, computed_at) "
        ));
        s.push_bound("SELECT ?", Bind::Text(funnel.site.clone()))
            .push_bound(", toDate(?)", Bind::Text(Day(day).to_string()));
        for bind in part.key_binds() {
            s.push_bound(", ?", bind);
        }
        s.push_bound(", ?", Bind::Text(steps_definition(&funnel.steps)))
            .push(select);
        s
    };
    let mut reached = insert(", toUInt8(level), count(), now() FROM (");
    reached
        .append(levels())
        .push(") WHERE level > 0 GROUP BY level");
    let mut counted = insert(", toUInt8(0), toUInt64(countIf(level = 0)), now() FROM (");
    counted.append(levels()).push(")");
    vec![reached, counted]
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
    /// A site's events from its local midnight, this instant, on: into
    /// `local_stats`, keyed by it.
    Local(u32),
}

/// The columns of `events` the rollup statements read.
const ROLLUP_COLUMNS: &str = "site, ts, name, visitor_id, path, referrer_host, utm_source, \
     utm_medium, utm_campaign, country, region, city, browser, os, device";

impl Subset {
    fn insert(self) -> String {
        let table = match self {
            Subset::Everything => "daily_stats",
            Subset::FilteredBy(_) => "daily_filtered",
            Subset::Local(_) => "local_stats",
        };
        format!(
            "INSERT INTO {table} (site, day, {}dimension, value, visitors, hits, visits, bounces, visit_views, computed_at) ",
            self.key()
        )
    }

    /// What the statements group by after `site` (and `day`) and before
    /// anything else: the filter's value, in the order of the insert.
    fn key(self) -> &'static str {
        match self {
            Subset::Everything => "",
            Subset::FilteredBy(_) => "filter_dimension, filter_value, ",
            Subset::Local(_) => "counted_from, ",
        }
    }

    /// ` FROM` the subset's events in `range`, then `array_join`, then
    /// ` WHERE 1`, for more conditions to follow. The events are read in a
    /// subquery that bounds them itself: ClickHouse 18.16 does not push
    /// conditions into subqueries, nor before an `ARRAY JOIN`.
    fn read(self, range: Statement, array_join: &str) -> Statement {
        let mut s = Statement::new(&format!(" FROM (SELECT {ROLLUP_COLUMNS}"));
        match self {
            Subset::Everything => {}
            Subset::FilteredBy(dimension) => {
                s.push(&format!(
                    ", '{}' AS filter_dimension, {} AS filter_value",
                    dimension.name(),
                    events_column(dimension)
                ));
            }
            Subset::Local(from) => {
                s.push_bound(", toUInt32(?) AS counted_from", Bind::Number(from.into()));
            }
        }
        s.push(" FROM events WHERE 1")
            .append(range)
            .push(&format!("){array_join} WHERE 1"));
        s
    }

    /// The statements that compute the subset's rows of one day, in
    /// `daily_stats`'s dimensions (see `schema/0004_rollups.sql`).
    fn statements(self, range: impl Fn() -> Statement, views_cap: u64) -> Vec<Statement> {
        let (insert, key) = (self.insert(), self.key());
        // A page view's row under each page dimension, a custom event's
        // under its name, and each under its measure's total; in one pass.
        // A visitor with at most `views_cap` hits in the whole day has at
        // most that many in every row: only the day's heavy visitors are
        // grouped apart and capped, the rest counted as in an uncapped
        // rollup (grouping every row by visitor cost 1.7 times as much).
        // `heavy_id` is the visitor if they have more than `views_cap` hits
        // that day on any site (marking a lighter one too changes no
        // count), else 0. Computed here, after the `ARRAY JOIN`: in the
        // subquery that reads `events`, 18.16 ran what follows on one
        // thread (0.8 s against 0.45 s for a day of 330k events). `GLOBAL`:
        // on a cluster `events` is distributed, and ClickHouse refuses a
        // distributed subquery inside a distributed query otherwise.
        let mut by_value = Statement::new(&format!(
            "{insert}SELECT site, day, {key}dimension, value, sum(visitors), \
             toUInt64(sum(if(heavy_id = 0, hits, least(hits, ?)))), 0, 0, 0, now() \
             FROM (SELECT site, toDate(ts) AS day, {key}tupleElement(dim, 1) AS dimension, \
             tupleElement(dim, 2) AS value, \
             if(visitor_id GLOBAL IN (SELECT visitor_id FROM events WHERE 1"
        ));
        by_value.binds.push(Bind::Number(views_cap));
        by_value
            .append(range())
            .push_bound(
                " GROUP BY visitor_id HAVING count() > ?), visitor_id, 0) AS heavy_id, \
                 uniqExact(visitor_id) AS visitors, count() AS hits",
                Bind::Number(views_cap),
            )
            .append(self.read(
                range(),
                &format!(
                    " ARRAY JOIN if(name = 'pageview', [{}], [tuple('name', name), tuple('event_total', '')]) AS dim",
                    page_dimensions("pageview_total").join(", ")
                ),
            ))
            .push(&format!(
                " GROUP BY site, day, {key}dimension, value, heavy_id) GROUP BY site, day, {key}dimension, value"
            ));
        // One pass over each visitor's day (`SESSIONS`, which also counts
        // visitors with custom events only) gives their rows: the totals
        // (visitors, page views, visits, bounces, visit lengths), their
        // entry pages (each counting the visits it began, capped, under
        // `entry_page` and in all under `entry_total`), and each UTC hour
        // they were seen in (`hour`: the visitor, and their page views in it
        // capped). A prefix of the day (midnight to some hour) counts a
        // visitor in their first hour only, and their page views capped
        // over the whole prefix: `prefix_excess` is what the prefix's `hour`
        // rows count beyond that, per hour (the visitor, if seen earlier;
        // the views the cap cuts), so a prefix's figures are its `hour` rows
        // less its `prefix_excess` rows; `suffix_excess` likewise for a run
        // of hours that ends the day. Excess rows are written only when not
        // zero: for a visitor seen in one hour and under the cap, never.
        let excess = |dimension: &str, cumulative: &str, position: &str| {
            format!(
                "arrayMap((h, n, c, i) -> tuple('{dimension}', toString(h), toUInt64(i > 1), \
                 toUInt64(least(n, ?) - (least(c, ?) - least(c - n, ?))), toUInt64(0), toUInt64(0), toUInt64(0)), \
                 hours, ns, {cumulative}, {position})"
            )
        };
        let mut per_visitor = Statement::new(&format!(
            "{insert}SELECT site, day, {key}tupleElement(part, 1), tupleElement(part, 2), sum(tupleElement(part, 3)), \
             sum(tupleElement(part, 4)), sum(tupleElement(part, 5)), sum(tupleElement(part, 6)), sum(tupleElement(part, 7)), now() \
             FROM (SELECT site, day, {key}arrayMap(v -> tupleElement(v, 2), entries) AS entry_paths, \
             arrayConcat(\
             [tuple('', '', toUInt64(1), toUInt64(least(pageviews, ?)), toUInt64(least(length(visit_views), ?)), \
             toUInt64(least(arrayCount(v -> v = 1, visit_views), ?)), toUInt64(arraySum(visit_views)))], \
             arrayMap((h, n) -> tuple('hour', toString(h), toUInt64(1), toUInt64(least(n, ?)), toUInt64(0), toUInt64(0), toUInt64(0)), hours, ns), \
             arrayFilter(x -> tupleElement(x, 3) + tupleElement(x, 4) > 0, arrayConcat({prefix}, {suffix})), \
             arrayMap(path -> tuple('entry_page', path, toUInt64(1), toUInt64(least(countEqual(entry_paths, path), ?)), toUInt64(0), toUInt64(0), toUInt64(0)), \
             arrayFilter((path, i) -> i = 1, entry_paths, arrayEnumerateUniq(entry_paths))), \
             arrayMap(n -> tuple('entry_total', '', toUInt64(1), toUInt64(least(n, ?)), toUInt64(0), toUInt64(0), toUInt64(0)), \
             arrayFilter(n -> n > 0, [length(entry_paths)]))) AS parts \
             FROM ({SESSIONS}, site, {key}countIf(name = 'pageview') AS pageviews, \
             arraySort(groupUniqArray(intDiv(toUInt32(ts) % 86400, 3600))) AS hours, \
             arrayMap(t -> intDiv(t % 86400, 3600), times) AS view_hours, \
             arrayMap(h -> toUInt64(countEqual(view_hours, h)), hours) AS ns",
            prefix = excess("prefix_excess", "arrayCumSum(ns)", "arrayEnumerate(hours)"),
            suffix = excess(
                "suffix_excess",
                "arrayReverse(arrayCumSum(arrayReverse(ns)))",
                "arrayReverse(arrayEnumerate(hours))"
            ),
        ));
        per_visitor.binds = vec![Bind::Number(views_cap); 12];
        per_visitor.append(self.read(range(), "")).push(&format!(
            " GROUP BY site, {key}visitor_id, day)) ARRAY JOIN parts AS part \
             GROUP BY site, day, {key}tupleElement(part, 1), tupleElement(part, 2)"
        ));
        vec![by_value, per_visitor]
    }
}

/// The statements that (re)compute `daily_stats` and `daily_filtered` for
/// one UTC day (of a [`DayPart::Until`], `daily_stats` alone), every site at
/// once, and the day's rows of each of `goals` in `daily_goals` and of each
/// of `funnels` in `daily_funnels`, then record the day with its `events`
/// count and how much of it was counted (of a [`DayPart::Local`]: the
/// site's rows and its goals' and funnels' in the `local_*` tables, and
/// its ledger `local_days`). Run in order; re-running replaces the day's
/// rows. One filter dimension per statement: grouping by all of
/// them at once holds every group of the day in memory together, and took
/// 9 s a day on 10M synthetic events against some 0.5 s per dimension.
/// Counts (page views, events, visits, bounces) are capped per visitor and
/// row at `views_cap`, as the release step's sensitivity assumes; the
/// ledger records the cap.
pub fn rollup_day(
    day: u16,
    part: DayPart,
    events: u64,
    views_cap: u64,
    goals: &[SiteGoal],
    funnels: &[SiteFunnel],
) -> Vec<Statement> {
    let range = || part.events(day);
    let subset = match part {
        DayPart::Local { from, .. } => Subset::Local(from),
        _ => Subset::Everything,
    };
    let mut statements = subset.statements(range, views_cap);
    if part == DayPart::Whole {
        for &dimension in FILTERED_DIMENSIONS {
            statements.extend(Subset::FilteredBy(dimension).statements(range, views_cap));
        }
    }
    let (goals, funnels) = counted(part, goals, funnels);
    statements.extend(
        goals
            .iter()
            .map(|goal| goal_day(day, part, goal, views_cap)),
    );
    statements.extend(
        funnels
            .iter()
            .flat_map(|funnel| funnel_day(day, part, funnel)),
    );
    statements.push(ledger(day, part, events, views_cap, &goals, &funnels));
    statements
}

/// The goals and funnels of `goals` and `funnels` that `part` counts: of a
/// part from a local midnight, its site's alone.
fn counted<'g>(
    part: DayPart,
    goals: &'g [SiteGoal],
    funnels: &'g [SiteFunnel],
) -> (Vec<&'g SiteGoal>, Vec<&'g SiteFunnel>) {
    (
        goals.iter().filter(|g| part.counts(&g.site)).collect(),
        funnels.iter().filter(|f| part.counts(&f.site)).collect(),
    )
}

/// What `local_days.conversions` records of a part: the goals and funnels
/// it counts ([`counted`]), as [`conversions_definition`] names them. The
/// rollup compares its ledger with this to know whether a part must be
/// counted again.
pub fn counted_conversions(part: DayPart, goals: &[SiteGoal], funnels: &[SiteFunnel]) -> String {
    let (goals, funnels) = counted(part, goals, funnels);
    definition_of(&goals, &funnels)
}

fn definition_of(goals: &[&SiteGoal], funnels: &[&SiteFunnel]) -> String {
    conversions_definition(
        goals.iter().map(|g| &g.target),
        funnels.iter().map(|f| &f.steps[..]),
    )
}

/// The ledger's row of what [`rollup_day`] counted: `daily_stats_days`,
/// or `local_days` for a part from a local midnight (with the site's goals
/// and funnels it counted, [`counted_conversions`]).
fn ledger(
    day: u16,
    part: DayPart,
    events: u64,
    views_cap: u64,
    goals: &[&SiteGoal],
    funnels: &[&SiteFunnel],
) -> Statement {
    let day = Bind::Text(Day(day).to_string());
    let (cap, layout) = (Bind::Number(views_cap), Bind::Number(ROLLUP_LAYOUT.into()));
    let (text, binds) = match part {
        DayPart::Local { site, from, until } => (
            "INSERT INTO local_days (site, day, counted_from, counted_until, events, views_cap, layout, conversions, computed_at) \
             SELECT ?, toDate(?), ?, ?, ?, ?, ?, ?, now()",
            vec![
                Bind::Text(site.into()),
                day,
                Bind::Number(from.into()),
                Bind::Number(until.into()),
                Bind::Number(events),
                cap,
                layout,
                Bind::Text(definition_of(goals, funnels)),
            ],
        ),
        DayPart::Whole | DayPart::Until(_) => {
            let (filtered, counted_until) = match part {
                DayPart::Until(end) => (0, end),
                _ => (1, 0),
            };
            (
                "INSERT INTO daily_stats_days (day, events, computed_at, filtered, views_cap, layout, counted_until) \
                 SELECT toDate(?), ?, now(), ?, ?, ?, ?",
                vec![
                    day,
                    Bind::Number(events),
                    Bind::Number(filtered),
                    cap,
                    layout,
                    Bind::Number(counted_until.into()),
                ],
            )
        }
    };
    let mut s = Statement::new(text);
    s.binds = binds;
    s
}

/// `tuple('<dimension>', <column>)` of every dimension a page view has a
/// value of, then `tuple('<total>', '')` for the total of them.
fn page_dimensions(total: &str) -> Vec<String> {
    Dimension::ALL
        .iter()
        .copied()
        .filter(|d| !matches!(d, Dimension::EntryPage | Dimension::Name | Dimension::Goal))
        .map(|d| format!("tuple('{}', {})", d.name(), events_column(d)))
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
/// A day released with another noise derivation is left out, so it is
/// released again.
pub fn released_counts(first: u16) -> Statement {
    let mut s =
        Statement::new("SELECT toUInt16(day) AS day_number, events FROM released_days FINAL");
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push_bound(
        " AND noise_derivation = ?",
        Bind::Number(release::DERIVATION),
    )
    .push(" ORDER BY day");
    s
}

/// Records that `released.daily` holds `day`, computed from `events` events
/// with the current noise derivation.
pub fn record_released(day: u16, events: u64) -> Statement {
    let mut s = Statement::new(
        "INSERT INTO released_days (day, events, computed_at, noise_derivation) SELECT toDate(?), ?, now(), ?",
    );
    s.binds = vec![
        Bind::Text(Day(day).to_string()),
        Bind::Number(events),
        Bind::Number(release::DERIVATION),
    ];
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
    let goals = [
        SiteGoal {
            site: "optimumabq.com".into(),
            target: Target::Page("/blog/*".into()),
        },
        SiteGoal {
            site: "optimumabq.com".into(),
            target: Target::Event("book_tour".into()),
        },
    ];
    let funnels = [SiteFunnel {
        site: "optimumabq.com".into(),
        steps: goals.iter().map(|g| g.target.clone()).collect(),
    }];
    statements.push(held_goal_days(nov_1_day, 10));
    statements.push(held_funnel_days(nov_1_day));
    statements.extend(rollup_day(
        nov_1_day,
        DayPart::Whole,
        12,
        10,
        &goals,
        &funnels,
    ));
    let today_to_14h = DayPart::Until(nov_1 + 14 * 3600);
    statements.extend(rollup_day(
        nov_1_day,
        today_to_14h,
        12,
        10,
        &goals,
        &funnels,
    ));
    statements.push(counted_so_far(nov_1_day, 10));
    let from_denver_midnight = DayPart::Local {
        site: "optimumabq.com",
        from: nov_1 + 6 * 3600,
        until: nov_1 + 14 * 3600,
    };
    statements.extend(rollup_day(
        nov_1_day,
        from_denver_midnight,
        12,
        10,
        &goals,
        &funnels,
    ));
    statements.push(local_days(None, nov_1_day, nov_1_day, 10));
    statements.push(events_of(from_denver_midnight, nov_1_day));
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
        let statements = rollup_day(NOV_1, DayPart::Whole, 12, 10, &[], &[]);
        let per_subset = Subset::Everything.statements(Statement::default, 10).len();
        assert_eq!(
            statements.len(),
            per_subset * (1 + FILTERED_DIMENSIONS.len()) + 1
        );
        let (ledger, rollups) = statements.split_last().unwrap();
        assert!(
            ledger.text.starts_with("INSERT INTO daily_stats_days")
                && ledger.binds[2..]
                    == [
                        Bind::Number(1),
                        Bind::Number(10),
                        Bind::Number(1),
                        Bind::Number(0)
                    ],
            "the ledger comes last and marks the day filtered and whole: {ledger:?}"
        );
        let (stats, filtered) = rollups.split_at(per_subset);
        assert!(
            stats
                .iter()
                .all(|s| s.text.starts_with("INSERT INTO daily_stats ("))
        );
        for (statements, dimension) in filtered.chunks(per_subset).zip(FILTERED_DIMENSIONS) {
            let selects = format!(
                "'{}' AS filter_dimension, {} AS filter_value",
                dimension.name(),
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
                    s.text
                        .matches("FROM events WHERE 1 AND ((ts >= toDateTime(?)")
                        .count(),
                    s.text.matches("FROM events").count(),
                    "the range bounds every read of events: {}",
                    s.text
                );
            }
        }
    }

    #[test]
    fn today_so_far_is_rolled_up_into_daily_stats_alone_up_to_its_end() {
        let until = u32::from(NOV_1) * DAY_SECONDS + 14 * 3600;
        let goals = [SiteGoal {
            site: "optimumabq.com".into(),
            target: Target::Event("book_tour".into()),
        }];
        let statements = rollup_day(NOV_1, DayPart::Until(until), 12, 10, &goals, &[]);
        let per_subset = Subset::Everything.statements(Statement::default, 10).len();
        assert_eq!(statements.len(), per_subset + 2);
        let (ledger, rollups) = statements.split_last().unwrap();
        assert_eq!(
            ledger.binds[2..],
            [
                Bind::Number(0),
                Bind::Number(10),
                Bind::Number(1),
                Bind::Number(until.into())
            ],
            "not filtered, counted until 14:00"
        );
        assert!(
            rollups[..per_subset]
                .iter()
                .all(|s| s.text.starts_with("INSERT INTO daily_stats ("))
        );
        assert!(
            rollups[per_subset]
                .text
                .starts_with("INSERT INTO daily_goals")
        );
        for statement in rollups {
            assert!(
                statement.binds.contains(&Bind::Number(until.into())),
                "every read of events ends at 14:00: {}",
                statement.text
            );
        }
    }

    #[test]
    fn a_sites_day_from_its_local_midnight_is_rolled_up_into_the_local_tables_alone() {
        let (from, until) = (
            u32::from(NOV_1) * DAY_SECONDS + 7 * 3600,
            u32::from(NOV_1) * DAY_SECONDS + 14 * 3600,
        );
        let goal = |site: &str| SiteGoal {
            site: site.into(),
            target: Target::Event("book_tour".into()),
        };
        let funnel = |site: &str| SiteFunnel {
            site: site.into(),
            steps: vec![Target::Page("/".into()), Target::Event("book_tour".into())],
        };
        let part = DayPart::Local {
            site: "denver.example",
            from,
            until,
        };
        let statements = rollup_day(
            NOV_1,
            part,
            12,
            10,
            &[goal("denver.example"), goal("other.example")],
            &[funnel("other.example"), funnel("denver.example")],
        );
        let per_subset = Subset::Everything.statements(Statement::default, 10).len();
        // The site's own goal and funnel (two statements) only.
        assert_eq!(statements.len(), per_subset + 1 + 2 + 1);
        let (ledger, rollups) = statements.split_last().unwrap();
        assert!(ledger.text.starts_with("INSERT INTO local_days"));
        assert_eq!(
            ledger.binds[..5],
            [
                Bind::Text("denver.example".into()),
                Bind::Text("2026-11-01".into()),
                Bind::Number(from.into()),
                Bind::Number(until.into()),
                Bind::Number(12),
            ]
        );
        assert_eq!(
            ledger.binds.last(),
            Some(&Bind::Text(conversions_definition(
                [goal("x").target].iter(),
                [&funnel("x").steps[..]].into_iter()
            )))
        );
        for (statement, table) in rollups.iter().zip(["local_stats"; 2].into_iter().chain([
            "local_goals",
            "local_funnels",
            "local_funnels",
        ])) {
            assert!(
                statement
                    .text
                    .starts_with(&format!("INSERT INTO {table} (site, day, counted_from, ")),
                "{}",
                statement.text
            );
            for bind in [
                Bind::Text("denver.example".into()),
                Bind::Number(from.into()),
                Bind::Number(until.into()),
            ] {
                assert!(
                    statement.binds.contains(&bind),
                    "{bind:?}: {}",
                    statement.text
                );
            }
            assert!(
                !statement
                    .binds
                    .contains(&Bind::Text("other.example".into()))
            );
            assert_eq!(statement.text.matches('?').count(), statement.binds.len());
        }
    }

    #[test]
    fn rollup_values_are_bound_never_spliced() {
        for statement in rollup_day(NOV_1, DayPart::Whole, 12, 10, &[], &[]) {
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
                    || statement.starts_with("INSERT INTO daily_goals")
                    || statement.starts_with("INSERT INTO daily_funnels")
                    || statement.starts_with("INSERT INTO local_")
                    || statement.starts_with("INSERT INTO released_days"),
                "{statement}"
            );
        }
        if let Some(path) = std::env::var_os("BEACONHOUSE_TEST_ROLLUP_SQL_OUT") {
            std::fs::write(path, statements.join("\n") + "\n").unwrap();
        }
    }
}
