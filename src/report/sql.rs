//! The SQL of every report, built as text plus bound values, and the choice
//! between the daily rollups and the raw tables.
//!
//! Visitor ids change every UTC day, so unique visitors over whole UTC days
//! are the sum of each day's exact count. A report window is split
//! ([`split`]) into the longest run of whole days that `daily_stats` holds,
//! answered from there, and the rest (the partial days at its edges, today,
//! days not rolled up yet), answered from `events` with one exact count per
//! UTC day; a window that starts at the site's local midnight inside a UTC
//! day reads that day's part from `local_stats` when the rollup holds it
//! ([`split_after`]). Every statement returns such per-day parts, and the reports sum
//! them: rollup and raw answers are the same numbers. A report with one
//! `dimension==value` filter on another dimension than the one broken down
//! reads `daily_filtered` instead ([`rollup_for`]), which holds the same
//! per-day numbers computed over only the events that match the filter.
//!
//! Owns: which table answers what, and every report statement's text; the
//! pieces the rollup computes its rows with too ([`SESSIONS`],
//! [`events_column`], [`in_ranges`], [`Measure::condition`],
//! [`FILTERED_DIMENSIONS`]), so both count the same way. Every query
//! aggregates: none selects a row of `events`, `email_opens` or
//! `email_clicks` as it is.
//! Must never: put a value from a request into the text; values travel as
//! [`Bind`]s, names come from fixed enums. Statements use only what
//! ClickHouse 18.16 and current releases both accept.

use serde::Serialize;

use super::vocabulary::{Day, Dimension, Filter, FilterOp, Interval, Vocabulary, like_pattern};
use crate::clock;
use crate::goal::{Target, steps_definition};
use crate::store::statement::{Bind, Statement};

/// What is counted, over the UTC instants `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The site id or campaign id.
    pub subject: String,
    pub start: u32,
    pub end: u32,
    pub time_zone: String,
}

pub const DAY_SECONDS: u32 = 86_400;

/// Which rows the rollup writes of a day, as this module reads them
/// (`daily_stats_days.layout`): a day rolled up in another layout is read
/// from `events` until the rollup computes it again. 1: hours as `hour`
/// rows and their excess over a prefix or suffix of the day.
pub const ROLLUP_LAYOUT: u8 = 1;

impl Window {
    /// The UTC hours the window touches.
    pub fn hours(&self) -> u32 {
        (self.end - self.start).div_ceil(3600)
    }
}

/// How a window is answered: a run of whole UTC days from `daily_stats`
/// (first and last day, both included), a part of a day from a local
/// midnight from `local_stats`, and UTC ranges from `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub days: Option<(u16, u16)>,
    pub local: Option<LocalPart>,
    pub raw: Vec<(u32, u32)>,
}

/// A part of a UTC day that starts at a site's local midnight, as the
/// rollup holds it in the `local_*` tables: `[from, until)`, `until` the
/// start of an hour or the day's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalPart {
    pub day: u16,
    pub from: u32,
    pub until: u32,
}

impl LocalPart {
    /// Whether the part can answer the start of `window`: it starts where
    /// the window does and ends where the window or its UTC day does, so
    /// no other rows count the same day (a day's visitors are counted once,
    /// in one row).
    fn starts(&self, window: &Window) -> bool {
        let day_end = (u32::from(self.day) + 1) * DAY_SECONDS;
        self.from == window.start
            && self.until <= window.end
            && (self.until == window.end || self.until == day_end)
    }
}

/// The rolled-up rows a statement reads: a run of whole days (the last one
/// perhaps today so far) of a `daily_*` table, or a part of a day from a
/// local midnight of a `local_*` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    Days(u16, u16),
    Local(LocalPart),
}

impl Split {
    /// What the split reads of the rollup.
    fn rows(&self) -> impl Iterator<Item = Rows> {
        let days = self.days.map(|(first, last)| Rows::Days(first, last));
        self.local.map(Rows::Local).into_iter().chain(days)
    }
}

impl Rows {
    /// `daily_<name>`, or `local_<name>` for a part of a day.
    fn table(self, name: &str) -> String {
        match self {
            Rows::Days(..) => format!("daily_{name}"),
            Rows::Local(_) => format!("local_{name}"),
        }
    }

    /// ` AND` the condition on the rows' days (and part).
    fn days(self) -> Statement {
        let mut s = Statement::default();
        match self {
            Rows::Days(first, last) => s
                .push_bound(" AND day >= toDate(?)", Bind::Text(Day(first).to_string()))
                .push_bound(" AND day <= toDate(?)", Bind::Text(Day(last).to_string())),
            Rows::Local(part) => s
                .push_bound(
                    " AND day = toDate(?)",
                    Bind::Text(Day(part.day).to_string()),
                )
                .push_bound(" AND counted_from = ?", Bind::Number(part.from.into())),
        };
        s
    }
}

/// Splits `window` around the longest run of consecutive `rolled_up` days
/// (sorted) that lie wholly inside it, or, with `partial_days`, that overlap
/// it at all (time series, which [`site`] can cut at any whole hour). The
/// `partial` day's rows count its midnight to the window's end: it lies
/// inside when its midnight does.
pub fn split(
    window: &Window,
    rolled_up: &[u16],
    partial: Option<u16>,
    partial_days: bool,
) -> Split {
    let usable = |day: u16| {
        let start = u32::from(day) * DAY_SECONDS;
        let end = if Some(day) == partial {
            window.end
        } else {
            start + DAY_SECONDS
        };
        if partial_days {
            start < window.end && end > window.start
        } else {
            start >= window.start && end <= window.end
        }
    };
    let mut best: Option<(u16, u16)> = None;
    let mut run: Option<(u16, u16)> = None;
    for &day in rolled_up.iter().filter(|d| usable(**d)) {
        let (first, last) = match run {
            Some((first, last)) if last.checked_add(1) == Some(day) => (first, day),
            _ => (day, day),
        };
        run = Some((first, last));
        if best.is_none_or(|(b_first, b_last)| last - first > b_last - b_first) {
            best = run;
        }
    }
    let Some((first, last)) = best else {
        return Split {
            days: None,
            local: None,
            raw: vec![(window.start, window.end)],
        };
    };
    let (from, to) = (
        u32::from(first) * DAY_SECONDS,
        (u32::from(last) + 1) * DAY_SECONDS,
    );
    Split {
        days: Some((first, last)),
        local: None,
        raw: [(window.start, from), (to, window.end)]
            .into_iter()
            .filter(|(a, b)| a < b)
            .collect(),
    }
}

/// [`split`] of a window of whole days, that first reads `local` (a part
/// of a day from a local midnight that the rollup holds, [`RolledUp::local`])
/// when it answers the window's start ([`LocalPart::starts`]).
fn split_after(
    window: &Window,
    local: Option<LocalPart>,
    rolled_up: &[u16],
    partial: Option<u16>,
) -> Split {
    let Some(part) = local.filter(|part| part.starts(window)) else {
        return split(window, rolled_up, partial, false);
    };
    let rest = Window {
        start: part.until,
        ..window.clone()
    };
    let mut split = if rest.start < rest.end {
        split(&rest, rolled_up, partial, false)
    } else {
        Split {
            days: None,
            local: None,
            raw: Vec::new(),
        }
    };
    split.local = Some(part);
    split
}

/// What a site report counts. Unique counts are always of visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Visitors with any event; the count is of page views (summary, series).
    Everything,
    /// Page views (breakdowns of pages, sources, places, software).
    PageViews,
    /// Custom events (the `name` breakdown).
    CustomEvents,
    /// Visits, keyed by their first page (the `entry_page` breakdown).
    Visits,
}

impl Measure {
    /// The `daily_stats` dimension that holds this measure's totals.
    fn total_dimension(self) -> &'static str {
        match self {
            Measure::Everything => "",
            Measure::PageViews => "pageview_total",
            Measure::CustomEvents => "event_total",
            Measure::Visits => "entry_total",
        }
    }

    /// The condition on `name` that picks the measure's events.
    pub fn condition(self) -> &'static str {
        match self {
            Measure::PageViews | Measure::Visits => " AND name = 'pageview'",
            Measure::CustomEvents => " AND name != 'pageview'",
            Measure::Everything => "",
        }
    }
}

/// What the group key of an aggregation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// One group: totals.
    Nothing,
    Dimension(Dimension),
    Bucket(Interval),
    /// Emails: the mail client, the country, proxied (`0`/`1`), the day,
    /// the campaign (the list of campaigns).
    Client,
    Country,
    Proxied,
    Day,
    Campaign,
}

/// Rows of `(group_key, day_number, unique, count)`: each group's exact
/// counts within one UTC day of the window, the parts the release step
/// releases cell by cell ([`DayRow`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    parts: Statement,
    /// Each part holds one row per group and day, and no two parts share a
    /// day: the rows need no summing (a breakdown's long tail is most of
    /// its time in ClickHouse otherwise).
    one_row_per_cell: bool,
}

/// A group's exact counts within one UTC day (of the window, or of a time
/// bucket): the unique people with a hit there, and the count, each person
/// counting for at most the views cap of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct DayRow {
    pub group_key: String,
    pub day_number: u16,
    pub unique: u64,
    pub count: u64,
}

impl Aggregation {
    /// Every group's rows, by group and day: a released figure sums the
    /// noise of every cell of its window, so every group is needed.
    pub fn by_day(&self) -> Statement {
        let (sums, group_by) = if self.one_row_per_cell {
            ("unique, count", "")
        } else {
            (
                "sum(unique) AS unique, sum(count) AS count",
                " GROUP BY group_key, day_number",
            )
        };
        let mut s = Statement::new(&format!("SELECT group_key, day_number, {sums} FROM ("));
        s.append(self.parts.clone())
            .push(&format!("){group_by} ORDER BY group_key, day_number"));
        s
    }
}

/// The filter dimensions `daily_filtered` holds: every dimension the
/// dashboard filters by on a click. Of 10M synthetic events a day holds some
/// 20 times the rows of `daily_stats` for them (benches/report.sh), most for
/// `referrer_host`, whose long tail of hosts each get their own rows.
pub const FILTERED_DIMENSIONS: &[Dimension] = &[
    Dimension::Path,
    Dimension::ReferrerHost,
    Dimension::UtmSource,
    Dimension::UtmMedium,
    Dimension::UtmCampaign,
    Dimension::Country,
    Dimension::Region,
    Dimension::City,
    Dimension::Browser,
    Dimension::Os,
    Dimension::Device,
    Dimension::Name,
];

/// Which rollup table answers the whole days of a site query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup<'a> {
    /// `daily_stats`: no filters, or filters on the dimension broken down
    /// only (they select rows by `value`).
    Stats,
    /// `daily_filtered`: the rows of this `dimension==value` filter, on
    /// another dimension than the one broken down (filters on that one
    /// select rows by `value`, as in `daily_stats`).
    Filtered(&'a Filter),
}

/// The rollup that can answer a site query, if any: the rollup keeps one
/// dimension per row, and `daily_filtered` one `==` filter of
/// [`FILTERED_DIMENSIONS`] per row, so every other filter must be on the
/// dimension broken down. Time buckets also need edges on whole UTC hours
/// (every time zone with whole-hour offsets); hourly buckets also need each
/// local hour to be one UTC hour, which the caller knows from the bucket
/// labels.
pub fn rollup_for<'a>(window: &Window, key: &Key, filters: &'a [Filter]) -> Option<Rollup<'a>> {
    let whole_hours = window.start.is_multiple_of(3600) && window.end.is_multiple_of(3600);
    if matches!(key, Key::Bucket(_)) && !whole_hours {
        return None;
    }
    // The rollup keeps no property, and a goal is a condition on each
    // visitor's day, which no rollup row can answer.
    let not_rolled_up = |d: &Dimension| matches!(d, Dimension::Prop(_) | Dimension::Goal);
    if matches!(key, Key::Dimension(d) if not_rolled_up(d))
        || filters.iter().any(|f| not_rolled_up(&f.dimension))
    {
        return None;
    }
    let mut others = filters
        .iter()
        .filter(|f| !matches!(key, Key::Dimension(d) if f.dimension == *d));
    match (others.next(), others.next()) {
        (None, _) => Some(Rollup::Stats),
        (Some(filter), None)
            if filter.op == FilterOp::Equals && FILTERED_DIMENSIONS.contains(&filter.dimension) =>
        {
            Some(Rollup::Filtered(filter))
        }
        _ => None,
    }
}

/// The days each rollup table holds, sorted: [`split`] takes its whole days
/// from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolledUp {
    /// Days in `daily_stats`.
    pub stats: Vec<u16>,
    /// Days in `daily_filtered` too (rolled up since it exists).
    pub filtered: Vec<u16>,
    /// The day of `stats` that is today so far, whose rows count from its
    /// midnight to the window's end ([`split`]).
    pub partial: Option<u16>,
    /// The part of a day from the site's local midnight that answers the
    /// window's start, when `local_stats` holds one ([`split_after`]).
    pub local: Option<LocalPart>,
}

impl RolledUp {
    fn days(&self, rollup: Rollup<'_>) -> &[u16] {
        match rollup {
            Rollup::Stats => &self.stats,
            Rollup::Filtered(_) => &self.filtered,
        }
    }
}

/// ` FROM` the rollup table `FINAL`, ` WHERE` the site (and, in
/// `daily_filtered`, the filter) is the window's: the leading columns of
/// the tables' keys; then the condition on the days of `rows`. A part of a
/// day from a local midnight is in `local_stats` alone, unfiltered.
fn rollup_rows(window: &Window, rollup: Rollup<'_>, rows: Rows) -> Statement {
    let mut s = Statement::default();
    match rollup {
        Rollup::Stats => {
            s.push(&format!(" FROM {} FINAL", rows.table("stats")))
                .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()));
        }
        Rollup::Filtered(filter) => {
            debug_assert!(matches!(rows, Rows::Days(..)), "no filtered local rows");
            s.push(" FROM daily_filtered FINAL")
                .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
                .push_bound(
                    " AND filter_dimension = ?",
                    Bind::Text(filter.dimension.name().into_owned()),
                )
                .push_bound(" AND filter_value = ?", Bind::Text(filter.value.clone()));
        }
    }
    s.append(rows.days());
    s
}

/// `ts` in any of the ranges. Each range also bounds `toDate(ts)`: the
/// primary key of `events` holds `toDate(ts)`, and ClickHouse 18.16 uses an
/// index only for conditions on the key expression itself (without them, a
/// one-day range scans the whole site: 45 ms against 20 ms on 10M events).
pub fn in_ranges(column: &str, ranges: &[(u32, u32)]) -> Statement {
    let mut s = Statement::new(" AND (");
    for (i, (start, end)) in ranges.iter().enumerate() {
        if i > 0 {
            s.push(" OR ");
        }
        let first_day = Day(clock::day_of(*start)).to_string();
        let last_day = Day(clock::day_of(end.saturating_sub(1))).to_string();
        s.push_bound(
            &format!("({column} >= toDateTime(?)"),
            Bind::Number((*start).into()),
        )
        .push_bound(
            &format!(" AND {column} < toDateTime(?)"),
            Bind::Number((*end).into()),
        )
        .push_bound(
            &format!(" AND toDate({column}) >= toDate(?)"),
            Bind::Text(first_day),
        )
        .push_bound(
            &format!(" AND toDate({column}) <= toDate(?))"),
            Bind::Text(last_day),
        );
    }
    s.push(")");
    s
}

/// The column of `events` a dimension reads. A property is read by its key
/// ([`value_of`]); a goal is a condition on the visitor's day, never a value
/// (a filter only, [`goal_condition`]): neither is one column.
pub fn events_column(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Device => "toString(device)",
        // Not a column: the sessionized query computes it.
        Dimension::EntryPage => "path",
        Dimension::Prop(_) | Dimension::Goal => "''",
        other => other.word().unwrap_or("''"),
    }
}

/// What a dimension reads of `events`: its column, or a property's value
/// by its key (`''` where the event has none).
fn value_of(dimension: Dimension) -> Statement {
    match dimension {
        Dimension::Prop(key) => {
            let mut s = Statement::default();
            s.push_bound(
                "prop_values[indexOf(prop_keys, ?)]",
                Bind::Text(key.to_string()),
            );
            s
        }
        other => plain(events_column(other)),
    }
}

/// The SQL of a time bucket over the DateTime column `column`, as text.
fn bucket(interval: Interval, column: &str, time_zone: &str) -> Statement {
    let zone = || Bind::Text(time_zone.into());
    let mut s = Statement::default();
    if interval == Interval::Hour {
        // Local wall-clock hours; on the night clocks go back, the repeated
        // hour is one bucket.
        s.push("formatDateTime(toStartOfHour(")
            .push(column)
            .push_bound(", ?), '%Y-%m-%d %H:00', ", zone())
            .push_bound("?)", zone());
        return s;
    }
    let function = match interval {
        Interval::Week => "toMonday",
        Interval::Month => "toStartOfMonth",
        _ => "toDate",
    };
    s.push(&format!("toString({function}("))
        .push(column)
        .push_bound(", ?))", zone());
    s
}

/// The condition `filter` sets on `value` (a value of `events`, or the
/// rollup's `value` column).
fn compare(value: Statement, filter: &Filter) -> Statement {
    let mut s = Statement::new(" AND ");
    let given = Bind::Text(filter.value.clone());
    match filter.op {
        FilterOp::Equals => s.append(value).push_bound(" = ?", given),
        FilterOp::NotEquals => s.append(value).push_bound(" != ?", given),
        FilterOp::Contains => s
            .push("positionCaseInsensitiveUTF8(")
            .append(value)
            .push_bound(", ?) > 0", given),
        FilterOp::Matches => s
            .append(value)
            .push_bound(" LIKE ?", Bind::Text(like_pattern(&filter.value))),
    };
    s
}

/// The condition `filter` sets on the site's events in `ranges`. A goal
/// filter's value is the goal's definition (`goal::Target::definition`,
/// which the engine puts in place of its name): it keeps the events of the
/// visitors who reached the goal within `ranges` that UTC day.
fn event_filter(window: &Window, ranges: &[(u32, u32)], filter: &Filter) -> Statement {
    if filter.dimension != Dimension::Goal {
        return compare(value_of(filter.dimension), filter);
    }
    // `GLOBAL`: on a cluster `events` is distributed, and ClickHouse refuses
    // a distributed subquery inside a distributed query otherwise.
    let mut s = Statement::new(
        " AND (visitor_id, toDate(ts)) GLOBAL IN (SELECT visitor_id, toDate(ts) FROM events",
    );
    s.push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
        .append(in_ranges("ts", ranges))
        .append(reaches(Target::parse(&filter.value).as_ref()))
        .push(")");
    s
}

/// The condition on `events` that an event reaches `target` (none, for
/// none), as [`Target::reached_by`] says, to follow a `WHERE`.
pub fn reaches(target: Option<&Target>) -> Statement {
    let mut s = Statement::new(" AND ");
    s.append(reached(target));
    s
}

/// That condition as an expression of its own.
fn reached(target: Option<&Target>) -> Statement {
    let mut s = Statement::default();
    match target {
        Some(Target::Event(name)) => s.push_bound(
            "(name != 'pageview' AND name = ?)",
            Bind::Text(name.clone()),
        ),
        Some(Target::Page(pattern)) => s.push_bound(
            "(name = 'pageview' AND path LIKE ?)",
            Bind::Text(like_pattern(pattern)),
        ),
        None => s.push("0"),
    };
    s
}

/// An aggregation of a site's hits over `window`, from the `rolled_up` days
/// of the rollup that can answer ([`rollup_for`]) and from `events` for the
/// rest.
pub fn site(
    window: &Window,
    rolled_up: &RolledUp,
    key: &Key,
    measure: Measure,
    filters: &[Filter],
    views_cap: u64,
) -> Aggregation {
    let rollup = rollup_for(window, key, filters);
    let split = match (rollup, key) {
        (Some(rollup), Key::Bucket(_)) => {
            split(window, rolled_up.days(rollup), rolled_up.partial, true)
        }
        (Some(Rollup::Stats), _) => {
            split_after(window, rolled_up.local, &rolled_up.stats, rolled_up.partial)
        }
        (Some(rollup), _) => split(window, rolled_up.days(rollup), rolled_up.partial, false),
        (None, _) => split(window, &[], None, false),
    };
    let mut parts = Statement::default();
    if let Some(rollup) = rollup {
        for rows in split.rows() {
            let part = match (key, rows) {
                (Key::Bucket(interval), Rows::Days(first, last)) => {
                    rolled_up_series(window, rollup, first, last, *interval)
                }
                _ => rolled_up_groups(window, rollup, rows, key, measure, filters),
            };
            union(&mut parts, part);
        }
    }
    if !split.raw.is_empty() {
        union(
            &mut parts,
            raw_site(window, &split.raw, key, measure, filters, views_cap),
        );
    }
    Aggregation {
        parts,
        // Rollup rows (`FINAL`: one per value and day) of the split's
        // days, `events` grouped by day for the others; a time series'
        // rollup part sums hourly rows.
        one_row_per_cell: !matches!(key, Key::Bucket(_)),
    }
}

/// Rollup rows of whole days, one part per day and group. Filters on the
/// dimension broken down select by `value`; [`rollup_rows`] applies the
/// `daily_filtered` one.
fn rolled_up_groups(
    window: &Window,
    rollup: Rollup<'_>,
    rows: Rows,
    key: &Key,
    measure: Measure,
    filters: &[Filter],
) -> Statement {
    let (group, dimension) = match key {
        Key::Dimension(d) => ("value", d.name()),
        _ => ("''", measure.total_dimension().into()),
    };
    let mut s = Statement::new(&format!(
        "SELECT {group} AS group_key, toUInt16(day) AS day_number, visitors AS unique, hits AS count"
    ));
    s.append(rollup_rows(window, rollup, rows))
        .push_bound(" AND dimension = ?", Bind::Text(dimension.into_owned()));
    let broken_down = |f: &&Filter| matches!(key, Key::Dimension(d) if f.dimension == *d);
    for filter in filters.iter().filter(broken_down) {
        s.append(compare(plain("value"), filter));
    }
    s
}

/// Visitors and page views per time bucket from `daily_stats`, for buckets
/// that start and end on whole UTC hours. A bucket holds, of each UTC day,
/// either the day's start and the hours after it (a prefix, or the whole
/// day) or a run of hours that ends the day (a suffix). An hourly bucket is
/// an `hour` row; a prefix counts each visitor in their first hour only and
/// their page views capped over the prefix, which is its `hour` rows less its
/// `prefix_excess` rows, and a suffix likewise with `suffix_excess` (see
/// `rollup::sql`). A part is a prefix only when the window holds the day's
/// midnight: the window's first day is cut at a local midnight, and its
/// part after the cut is a suffix even when a week or month bucket holds the
/// hours before the cut too.
fn rolled_up_series(
    window: &Window,
    rollup: Rollup<'_>,
    first: u16,
    last: u16,
    interval: Interval,
) -> Statement {
    let zone = &window.time_zone;
    let mut s = Statement::new("SELECT ");
    s.append(bucket(interval, "toDateTime(hour_start)", zone));
    if interval == Interval::Hour {
        s.push(" AS group_key, day_number, hour_visitors AS unique, hour_views AS count");
    } else {
        let is_prefix = || {
            let mut condition = bucket(interval, "toDateTime(day_start)", zone);
            condition.push(" = group_key AND from_midnight");
            condition
        };
        s.push(" AS group_key, day_number, toUInt64(hour_visitors - if(")
            .append(is_prefix())
            .push(", prefix_excess_visitors, suffix_excess_visitors)) AS unique, toUInt64(hour_views - if(")
            .append(is_prefix())
            .push(", prefix_excess_views, suffix_excess_views)) AS count");
    }
    s.push(
        " FROM (SELECT toUInt16(day) AS day_number, toUInt32(day) * 86400 AS day_start, \
         day_start + toUInt32(value) * 3600 AS hour_start",
    )
    .push_bound(
        ", day_start >= ? AS from_midnight",
        Bind::Number(window.start.into()),
    )
    .push(
        ", sumIf(visitors, dimension = 'hour') AS hour_visitors, sumIf(hits, dimension = 'hour') AS hour_views, \
         sumIf(visitors, dimension = 'prefix_excess') AS prefix_excess_visitors, sumIf(hits, dimension = 'prefix_excess') AS prefix_excess_views, \
         sumIf(visitors, dimension = 'suffix_excess') AS suffix_excess_visitors, sumIf(hits, dimension = 'suffix_excess') AS suffix_excess_views",
    )
    .append(rollup_rows(window, rollup, Rows::Days(first, last)))
    .push(" AND dimension IN ('hour', 'prefix_excess', 'suffix_excess')")
    .push(" GROUP BY day, value)")
    .push_bound(" WHERE hour_start >= ?", Bind::Number(window.start.into()))
    .push_bound(" AND hour_start < ?", Bind::Number(window.end.into()));
    s
}

/// The hits of `events` in `ranges`, one exact count per group and UTC day,
/// each visitor counting for at most `views_cap` of a group's day.
fn raw_site(
    window: &Window,
    ranges: &[(u32, u32)],
    key: &Key,
    measure: Measure,
    filters: &[Filter],
    views_cap: u64,
) -> Statement {
    let mut hits = Statement::new(" FROM events");
    hits.push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
        .append(in_ranges("ts", ranges))
        .push(measure.condition());
    for filter in filters {
        hits.append(event_filter(window, ranges, filter));
    }
    let count = match measure {
        Measure::Everything => "countIf(name = 'pageview')",
        _ => "count()",
    };
    let mut s = Statement::new(
        "SELECT group_key, day_number, count() AS unique, toUInt64(sum(least(n, ?))) AS count FROM (",
    );
    s.binds.push(Bind::Number(views_cap));
    if measure == Measure::Visits {
        // One row per visit, keyed by its first page (or by nothing, for
        // the total). A visit is a run of one visitor's page views with no
        // gap over 30 minutes, within a UTC day.
        let entry = if matches!(key, Key::Dimension(Dimension::EntryPage)) {
            "tupleElement(v, 2)"
        } else {
            "''"
        };
        s.push(&format!(
            "SELECT group_key, day_number, visitor_id, count() AS n FROM (\
             SELECT visitor_id, toUInt16(day) AS day_number, arrayJoin(arrayMap(v -> {entry}, entries)) AS group_key FROM ({}",
            SESSIONS
        ))
        .append(hits)
        .push(" GROUP BY visitor_id, day))");
    } else {
        s.push("SELECT group_key, day_number, visitor_id, ")
            .push(count)
            .push(" AS n FROM (SELECT ")
            .append(match key {
                Key::Bucket(interval) => bucket(*interval, "ts", &window.time_zone),
                Key::Dimension(d) => value_of(*d),
                _ => plain("''"),
            })
            .push(" AS group_key, toUInt16(toDate(ts)) AS day_number, visitor_id, name")
            .append(hits)
            .push(")");
    }
    s.push(" GROUP BY group_key, day_number, visitor_id) GROUP BY group_key, day_number");
    s
}

/// Per visitor and UTC day: the day, the page views as (time, path) in
/// order, the views that start a visit, and each visit's length (none for a
/// visitor with other events only, whom the rollup counts too). Followed by
/// `FROM events WHERE ...` and `GROUP BY visitor_id, day`: a visit ends at
/// UTC midnight, where visitor ids change anyway, so the rollup (one day at
/// a time) and `events` (any range) split visits the same way.
pub const SESSIONS: &str = "SELECT visitor_id, toDate(ts) AS day, \
     arraySort(groupArrayIf(tuple(toUInt32(ts), path), name = 'pageview')) AS views, \
     arrayMap(v -> tupleElement(v, 1), views) AS times, \
     arrayFilter((v, i, gap) -> i = 1 OR gap > 1800, views, arrayEnumerate(times), arrayDifference(times)) AS entries, \
     arrayPopFront(arrayDifference(arrayPushBack(arrayFilter((i, gap) -> i = 1 OR gap > 1800, arrayEnumerate(times), arrayDifference(times)), length(times) + 1))) AS visit_views";

fn plain(text: &str) -> Statement {
    Statement::new(text)
}

/// Visits and bounces (visits of one page view) per UTC day of the window,
/// each visitor counting for at most `views_cap` of each.
pub fn visits(
    window: &Window,
    rolled_up: &RolledUp,
    filters: &[Filter],
    views_cap: u64,
) -> Statement {
    let rollup = rollup_for(window, &Key::Nothing, filters);
    let split = match rollup {
        Some(Rollup::Stats) => {
            split_after(window, rolled_up.local, &rolled_up.stats, rolled_up.partial)
        }
        _ => split(
            window,
            rollup.map_or(&[], |r| rolled_up.days(r)),
            rolled_up.partial,
            false,
        ),
    };
    let mut parts = Statement::default();
    if let Some(rollup) = rollup {
        for rows in split.rows() {
            let mut part = Statement::new("SELECT toUInt16(day) AS day_number, visits, bounces");
            part.append(rollup_rows(window, rollup, rows))
                .push(" AND dimension = ''");
            union(&mut parts, part);
        }
    }
    let raw = split.raw;
    if !raw.is_empty() {
        let mut s = Statement::default();
        s.push(
            "SELECT day_number, toUInt64(sum(least(length(visit_views), ?))) AS visits, \
             toUInt64(sum(least(arrayCount(v -> v = 1, visit_views), ?))) AS bounces \
             FROM (SELECT toUInt16(day) AS day_number, visit_views FROM (",
        );
        s.binds
            .extend([Bind::Number(views_cap), Bind::Number(views_cap)]);
        s.push(SESSIONS)
            .push(" FROM events")
            .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
            .append(in_ranges("ts", &raw))
            .push(Measure::PageViews.condition());
        for filter in filters {
            s.append(event_filter(window, &raw, filter));
        }
        s.push(" GROUP BY visitor_id, day)) GROUP BY day_number");
        union(&mut parts, s);
    }
    let mut s =
        Statement::new("SELECT day_number, sum(visits) AS visits, sum(bounces) AS bounces FROM (");
    s.append(parts)
        .push(") GROUP BY day_number ORDER BY day_number");
    s
}

/// Visits and bounces of one UTC day, as [`visits`] returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct VisitDay {
    pub day_number: u16,
    pub visits: u64,
    pub bounces: u64,
}

/// An aggregation of opens over `window`, read from `email_opens`, per
/// group and UTC day: the recipients whose first open of the campaign (with
/// the group's value) falls on that day, and the opens, each recipient
/// counting for at most `views_cap` of a group's day. Recipient ids last a
/// whole campaign, so a recipient counts once however many days they
/// opened on, and a period's unique opens are the sum of its days'. Opens
/// of the campaign `window.subject`, or (by [`Key::Campaign`]) of every
/// campaign.
pub fn email(window: &Window, key: &Key, views_cap: u64) -> Aggregation {
    let group = || match key {
        Key::Client => plain("client"),
        Key::Country => plain("country"),
        Key::Proxied => plain("toString(proxied)"),
        Key::Day => bucket(Interval::Day, "ts", &window.time_zone),
        Key::Campaign => plain("campaign"),
        _ => plain("''"),
    };
    let opens = |s: &mut Statement| {
        s.push(" FROM email_opens WHERE 1");
        if *key != Key::Campaign {
            s.push_bound(" AND campaign = ?", Bind::Text(window.subject.clone()));
        }
    };
    let mut parts = Statement::new(
        "SELECT group_key, toUInt16(toDate(first)) AS day_number, count() AS unique, toUInt64(0) AS count \
         FROM (SELECT group_key, recipient_id, min(ts) AS first FROM (SELECT ",
    );
    parts
        .append(group())
        .push(" AS group_key, recipient_id, ts");
    opens(&mut parts);
    parts
        .push_bound(" AND ts < toDateTime(?)", Bind::Number(window.end.into()))
        .push(") GROUP BY group_key, recipient_id)")
        .push_bound(" WHERE first >= toDateTime(?)", Bind::Number(window.start.into()))
        .push(" GROUP BY group_key, day_number UNION ALL ")
        .push(
            "SELECT group_key, day_number, toUInt64(0) AS unique, toUInt64(sum(least(n, ?))) AS count \
             FROM (SELECT ",
        );
    parts.binds.push(Bind::Number(views_cap));
    parts
        .append(group())
        .push(" AS group_key, recipient_id, toUInt16(toDate(ts)) AS day_number, count() AS n");
    opens(&mut parts);
    parts
        .append(in_ranges("ts", &[(window.start, window.end)]))
        .push(" GROUP BY group_key, recipient_id, day_number) GROUP BY group_key, day_number");
    Aggregation {
        parts,
        one_row_per_cell: false,
    }
}

/// Every click on a campaign's links (of `campaign`, or of every campaign)
/// before `until`, with what it is: rows of `(campaign, recipient_id, at,
/// link, signal)`, `at` the UTC second, `link` its host and path, `signal`
/// the name of the scanner signal that flags it (`enrich::scanner`: the
/// first that applies) or `''` for a person's. The rules of
/// `scanner::classify`, computed for every click from the recipient's
/// clicks and opens of the campaign, read up to
/// `scanner::LOOKAHEAD_SECONDS` past `until` (released cells end two
/// minutes before now, so those rows are in), so a click's class does not
/// depend on the window that asks.
///
/// Each step is linear in the clicks: the neighbourhood rules (honeypot,
/// burst) group each second with its neighbours' clicks (a click stands in
/// the 21 seconds around it), the opening rule (early) each recipient's
/// clicks and opens; no pair of clicks is compared (a recipient who clicks
/// thousands of times costs thousands, not millions). ClickHouse 18.16 has
/// no window functions: arrays and `ARRAY JOIN` do.
pub fn classified_clicks(campaign: Option<&str>, until: u32) -> Statement {
    use crate::enrich::scanner::{
        BURST_LINKS, BURST_SECONDS, EARLY_LINKS, EARLY_SECONDS, HONEYPOT_SECONDS,
        LOOKAHEAD_SECONDS, Signal,
    };
    let read_until = until.saturating_add(LOOKAHEAD_SECONDS);
    let of_campaign = |s: &mut Statement| {
        if let Some(campaign) = campaign {
            s.push_bound(" AND campaign = ?", Bind::Text(campaign.into()));
        }
        s.push_bound(" AND ts < toDateTime(?)", Bind::Number(read_until.into()));
    };
    let h = HONEYPOT_SECONDS;
    let request_signals: String = Signal::REQUEST
        .iter()
        .map(|signal| {
            format!(
                "tupleElement(c, 4) = {}, '{}', ",
                signal.code(),
                signal.name()
            )
        })
        .collect();
    // Click tuples: (at, link, honeypot, scanner code, near_honeypot, burst).
    let mut s = Statement::new(&format!(
        "SELECT campaign, recipient_id, tupleElement(c, 1) AS at, tupleElement(c, 2) AS link, \
         multiIf(tupleElement(c, 3) = 1, '{honeypot}', {request_signals}\
         tupleElement(c, 5) = 1, '{near}', tupleElement(c, 6) = 1, '{burst}', \
         early_run AND tupleElement(c, 1) <= first_click + {EARLY_SECONDS} \
         AND tupleElement(c, 1) < first_open, '{early}', '') AS signal \
         FROM (SELECT campaign, recipient_id, \
         arraySort(groupArrayIf(click, opened = 0)) AS clicks, \
         if(countIf(opened = 1) = 0, toUInt32(4294967295), minIf(at, opened = 1)) AS first_open, \
         tupleElement(clicks[1], 1) AS first_click, \
         arrayFilter(c -> tupleElement(c, 1) <= first_click + {EARLY_SECONDS} \
         AND tupleElement(c, 1) < first_open AND tupleElement(c, 3) = 0, clicks) AS opening, \
         first_click < first_open \
         AND length(arrayDistinct(arrayMap(c -> tupleElement(c, 2), opening))) >= {EARLY_LINKS} AS early_run \
         FROM (SELECT campaign, recipient_id, tupleElement(o, 1) AS at, toUInt8(0) AS opened, \
         (tupleElement(o, 1), tupleElement(o, 2), tupleElement(o, 3), tupleElement(o, 4), \
         near_honeypot, burst) AS click \
         FROM (SELECT campaign, recipient_id, moment, \
         groupArrayIf((at, link, honeypot, scanner), shift = {h}) AS own, \
         toUInt8(max(honeypot)) AS near_honeypot, \
         toUInt8(length(groupUniqArrayIf(link, shift >= {burst_from} AND shift <= {burst_to} \
         AND honeypot = 0)) >= {BURST_LINKS}) AS burst \
         FROM (SELECT campaign, recipient_id, toUInt32(ts) AS at, \
         concat(link_host, link_path) AS link, honeypot, scanner, \
         arrayJoin(range({width})) AS shift, toInt64(at) + shift - {h} AS moment \
         FROM email_clicks WHERE 1",
        honeypot = Signal::Honeypot.name(),
        near = Signal::NearHoneypot.name(),
        burst = Signal::Burst.name(),
        early = Signal::Early.name(),
        burst_from = h - BURST_SECONDS,
        burst_to = h + BURST_SECONDS,
        width = 2 * h + 1,
    ));
    of_campaign(&mut s);
    s.push(
        ") GROUP BY campaign, recipient_id, moment HAVING length(own) > 0) ARRAY JOIN own AS o \
         UNION ALL SELECT campaign, recipient_id, toUInt32(ts) AS at, toUInt8(1) AS opened, \
         (toUInt32(0), '', toUInt8(0), toUInt8(0), toUInt8(0), toUInt8(0)) AS click \
         FROM email_opens WHERE 1",
    );
    of_campaign(&mut s);
    s.push(") GROUP BY campaign, recipient_id HAVING length(clicks) > 0) ARRAY JOIN clicks AS c");
    s
}

/// The prefixes of the group keys of [`clicks`]: a person's clicks by
/// link, a scanner's by signal.
pub const LINK_PREFIX: &str = "link:";
pub const SIGNAL_PREFIX: &str = "signal:";

/// People's clicks and a scanner's of the campaign `window.subject` in
/// `window`, per group and UTC day, counted as [`email`] counts opens: the
/// recipients whose first click of the group falls on that day, and the
/// clicks, each recipient counting for at most `views_cap` of a group's
/// day. The groups: `people` and `scanner` (every click of each), and
/// [`LINK_PREFIX`] and a person's click's link, [`SIGNAL_PREFIX`] and a
/// scanner's click's signal. Classified by [`classified_clicks`].
pub fn clicks(window: &Window, views_cap: u64) -> Aggregation {
    let mut groups = Statement::new(&format!(
        "SELECT arrayJoin(if(signal = '', \
         ['people', concat('{LINK_PREFIX}', link)], \
         ['scanner', concat('{SIGNAL_PREFIX}', signal)])) AS group_key, \
         recipient_id, at FROM ("
    ));
    groups
        .append(classified_clicks(Some(&window.subject), window.end))
        .push(")");
    first_and_capped(groups, window, views_cap)
}

/// People's clicks of every campaign in `window`, per campaign and UTC
/// day, counted as [`clicks`] counts them: the campaigns list's.
pub fn campaign_clicks(window: &Window, views_cap: u64) -> Aggregation {
    let mut groups = Statement::new("SELECT campaign AS group_key, recipient_id, at FROM (");
    groups
        .append(classified_clicks(None, window.end))
        .push(") WHERE signal = ''");
    first_and_capped(groups, window, views_cap)
}

/// Of `rows` (`group_key, recipient_id, at`), per group and UTC day of
/// `window`: the recipients whose first row of the group before the
/// window's end falls on that day, and the rows in the window, each
/// recipient counting for at most `views_cap` of a group's day.
fn first_and_capped(rows: Statement, window: &Window, views_cap: u64) -> Aggregation {
    let mut parts = Statement::new(
        "SELECT group_key, toUInt16(intDiv(first, 86400)) AS day_number, \
         count() AS unique, toUInt64(0) AS count \
         FROM (SELECT group_key, recipient_id, min(at) AS first FROM (",
    );
    parts
        .append(rows.clone())
        .push_bound(") WHERE at < ?", Bind::Number(window.end.into()))
        .push(" GROUP BY group_key, recipient_id)")
        .push_bound(" WHERE first >= ?", Bind::Number(window.start.into()))
        .push(" GROUP BY group_key, day_number UNION ALL ")
        .push_bound(
            "SELECT group_key, day_number, toUInt64(0) AS unique, \
             toUInt64(sum(least(n, ?))) AS count \
             FROM (SELECT group_key, recipient_id, toUInt16(intDiv(at, 86400)) AS day_number, \
             count() AS n FROM (",
            Bind::Number(views_cap),
        )
        .append(rows)
        .push_bound(") WHERE at >= ?", Bind::Number(window.start.into()))
        .push_bound(" AND at < ?", Bind::Number(window.end.into()))
        .push(" GROUP BY group_key, recipient_id, day_number) GROUP BY group_key, day_number");
    Aggregation {
        parts,
        one_row_per_cell: false,
    }
}

/// What a goal's figures count, and the filter that picks its events: a
/// goal's figures are those of a report filtered so.
pub fn reaching(target: &Target) -> (Measure, Filter) {
    match target {
        Target::Event(name) => (
            Measure::CustomEvents,
            Filter {
                dimension: Dimension::Name,
                op: FilterOp::Equals,
                value: name.clone(),
            },
        ),
        Target::Page(pattern) => (
            Measure::PageViews,
            Filter {
                dimension: Dimension::Path,
                op: if target.is_pattern() {
                    FilterOp::Matches
                } else {
                    FilterOp::Equals
                },
                value: pattern.clone(),
            },
        ),
    }
}

/// The site's visitors and page views over `window` (keyed by `''`, as
/// [`site`] counts them without filters, its whole days from `daily_stats`
/// on the days given with them, `rolled_up`), and each of `goals`' exact
/// counts (keyed by its definition, as a report filtered by [`reaching`]
/// counts them, its whole days from `daily_goals` on the days given with
/// it), per UTC day, without other filters: from the longest run of whole
/// days the rollup holds, from `events` for the rest. Figures whose days
/// are split alike (all of them, but a goal added since the rollup ran)
/// share one pass over `events`, which counts each visitor's events of each
/// figure at once: a pass per goal and one for the visitors cost a report
/// 166 ms where the count of the same events cost 71 (benches/conversions.sh).
pub fn goals(
    window: &Window,
    rolled_up: &RolledUp,
    goals: &[(&Target, &[u16])],
    views_cap: u64,
) -> Aggregation {
    let split = |days| split_after(window, rolled_up.local, days, rolled_up.partial);
    let mut alike: Vec<(Split, Vec<Option<&Target>>)> = vec![(split(&rolled_up.stats), vec![None])];
    for &(target, days) in goals {
        let split = split(days);
        match alike.iter_mut().find(|(other, _)| *other == split) {
            Some((_, figures)) => figures.push(Some(target)),
            None => alike.push((split, vec![Some(target)])),
        }
    }
    let mut parts = Statement::default();
    for (split, figures) in alike {
        for rows in split.rows() {
            if figures.contains(&None) {
                let totals = rolled_up_groups(
                    window,
                    Rollup::Stats,
                    rows,
                    &Key::Nothing,
                    Measure::Everything,
                    &[],
                );
                union(&mut parts, totals);
            }
            let targets: Vec<&Target> = figures.iter().flatten().copied().collect();
            if !targets.is_empty() {
                let mut goal_rows = Statement::new(&format!(
                    "SELECT goal AS group_key, toUInt16(day) AS day_number, visitors AS unique, hits AS count \
                     FROM {} FINAL",
                    rows.table("goals")
                ));
                goal_rows
                    .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
                    .append(one_of("goal", targets.iter().map(|t| t.definition())))
                    .push_bound(" AND views_cap = ?", Bind::Number(views_cap))
                    .append(rows.days());
                union(&mut parts, goal_rows);
            }
        }
        if !split.raw.is_empty() {
            union(
                &mut parts,
                raw_goals(window, &split.raw, &figures, views_cap),
            );
        }
    }
    Aggregation {
        parts,
        // Rollup rows (`FINAL`: one per figure and day) and `events`
        // grouped by day, on different days for each figure.
        one_row_per_cell: true,
    }
}

/// `part` after `parts`, ` UNION ALL` between them.
fn union(parts: &mut Statement, part: Statement) {
    if !parts.text.is_empty() {
        parts.push(" UNION ALL ");
    }
    parts.append(part);
}

/// ` AND column IN (...)` of `values`, each bound.
fn one_of(column: &str, values: impl Iterator<Item = String>) -> Statement {
    let mut s = Statement::new(&format!(" AND {column} IN ("));
    for (i, value) in values.enumerate() {
        s.push_bound(if i == 0 { "?" } else { ", ?" }, Bind::Text(value));
    }
    s.push(")");
    s
}

/// One pass over the site's events in `ranges` that counts, per visitor and
/// UTC day, their events of each of `figures` (`None`: their page views,
/// the visitor counting with any event; a goal: the events that reach it),
/// then each figure's visitors and their counts, each capped at
/// `views_cap`, as rows keyed as [`goals`] says (a figure without visitors
/// that day has no row).
fn raw_goals(
    window: &Window,
    ranges: &[(u32, u32)],
    figures: &[Option<&Target>],
    views_cap: u64,
) -> Statement {
    let list = |each: &dyn Fn(usize, Option<&Target>) -> Statement| {
        let mut s = Statement::new("[");
        for (i, figure) in figures.iter().enumerate() {
            if i > 0 {
                s.push(", ");
            }
            s.append(each(i, *figure));
        }
        s.push("]");
        s
    };
    // `materialize`: a constant read through a `Distributed` table is one
    // on this node and a column from the others, which 18.16 refuses to
    // unite with the rollup's part.
    let mut s = Statement::new(
        "SELECT group_key, day_number, unique, count FROM (SELECT day_number, materialize(",
    );
    s.append(list(&|_, figure| {
        let mut key = Statement::default();
        key.push_bound(
            "?",
            Bind::Text(figure.map(Target::definition).unwrap_or_default()),
        );
        key
    }))
    .push(") AS keys, ")
    .append(list(&|i, figure| match figure {
        None => Statement::new("count()"),
        Some(_) => Statement::new(&format!("countIf(n{i} > 0)")),
    }))
    .push(" AS uniques, ")
    .append(list(&|i, _| {
        let mut sum = Statement::default();
        sum.push_bound(
            &format!("toUInt64(sum(least(n{i}, ?)))"),
            Bind::Number(views_cap),
        );
        sum
    }))
    .push(" AS counts FROM (SELECT toUInt16(toDate(ts)) AS day_number, visitor_id");
    for (i, figure) in figures.iter().enumerate() {
        s.push(", countIf(");
        match figure {
            None => s.push("name = 'pageview'"),
            Some(target) => s.append(reached(Some(target))),
        };
        s.push(&format!(") AS n{i}"));
    }
    s.push(" FROM events")
        .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
        .append(in_ranges("ts", ranges));
    if !figures.contains(&None) {
        s.push(" AND (0");
        for target in figures.iter().flatten() {
            s.push(" OR ").append(reached(Some(target)));
        }
        s.push(")");
    }
    s.push(
        " GROUP BY day_number, visitor_id) GROUP BY day_number) \
         ARRAY JOIN keys AS group_key, uniques AS unique, counts AS count WHERE unique > 0",
    );
    s
}

/// The days `daily_goals` holds of the site's goals from `first` to
/// `last`, counted with `views_cap`: rows of ([`GoalDay`]).
pub fn rolled_up_goal_days(site: &str, first: u16, last: u16, views_cap: u64) -> Statement {
    let mut s =
        Statement::new("SELECT site, goal, toUInt16(day) AS day_number FROM daily_goals FINAL");
    s.push_bound(" WHERE site = ?", Bind::Text(site.into()))
        .push_bound(" AND day >= toDate(?)", Bind::Text(Day(first).to_string()))
        .push_bound(" AND day <= toDate(?)", Bind::Text(Day(last).to_string()))
        .push_bound(" AND views_cap = ?", Bind::Number(views_cap))
        .push(" ORDER BY goal, day");
    s
}

/// A day `daily_goals` holds of a site's goal (by its definition).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct GoalDay {
    pub site: String,
    pub goal: String,
    pub day_number: u16,
}

/// The hits of the site not counted in `window`, per `reason:kind` and UTC
/// day (`filtered_hits` counts them per hour: a window cut at a half hour
/// counts the hour it cuts).
pub fn filtered(window: &Window) -> Aggregation {
    let mut parts = Statement::new(
        "SELECT concat(reason, ':', kind) AS group_key, toUInt16(toDate(hour)) AS day_number, \
         materialize(toUInt64(0)) AS unique, sum(hits) AS count FROM filtered_hits",
    );
    parts
        .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
        .push_bound(
            " AND hour >= toDateTime(?)",
            Bind::Number((window.start / 3600 * 3600).into()),
        )
        .push_bound(" AND hour < toDateTime(?)", Bind::Number(window.end.into()))
        .push(" GROUP BY group_key, day_number");
    Aggregation {
        parts,
        one_row_per_cell: true,
    }
}

/// Per visitor and UTC day of the site's events in `ranges`, how many of
/// `steps` they reached in order (`level`, 0 for a visitor with an event of
/// a step but not the first before it): `windowFunnel` (ClickHouse 18.16
/// has it) walks each visitor-day's events in time order, its window the
/// whole day. Rows of (`visitor_id`, `day_number`, `level`).
pub fn funnel_levels(site: &str, ranges: &[(u32, u32)], steps: &[Target]) -> Statement {
    let mut s = Statement::new(
        "SELECT visitor_id, toUInt16(toDate(ts)) AS day_number, windowFunnel(86400)(ts",
    );
    for step in steps {
        s.push(", ").append(reached(Some(step)));
    }
    s.push(") AS level FROM events")
        .push_bound(" WHERE site = ?", Bind::Text(site.into()))
        .append(in_ranges("ts", ranges))
        .push(" AND (0");
    for step in steps {
        s.push(" OR ").append(reached(Some(step)));
    }
    s.push(") GROUP BY visitor_id, day_number");
    s
}

/// How far the visitors got through a funnel of `steps`, per UTC day of
/// `window`: rows of (the number of steps reached in order, that UTC day,
/// visitors), visitors who reached none left out; from `daily_funnels` for
/// the longest run of whole days it holds of the funnel (`days`, sorted;
/// today so far, as in [`split`]), from `local_funnels` for a part of a day
/// from a local midnight (as in [`split_after`]), from `events` for the
/// rest.
pub fn funnel(
    window: &Window,
    rolled_up: &RolledUp,
    days: &[u16],
    steps: &[Target],
) -> Aggregation {
    let split = split_after(window, rolled_up.local, days, rolled_up.partial);
    let mut parts = Statement::default();
    for rows in split.rows() {
        let mut levels = Statement::new(&format!(
            // `materialize`: as in [`raw_goals`].
            "SELECT toString(level) AS group_key, toUInt16(day) AS day_number, visitors AS unique, \
             materialize(toUInt64(0)) AS count FROM {} FINAL",
            rows.table("funnels")
        ));
        levels
            .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
            .push_bound(" AND funnel = ?", Bind::Text(steps_definition(steps)))
            .push(" AND level > 0")
            .append(rows.days());
        union(&mut parts, levels);
    }
    if !split.raw.is_empty() {
        let mut levels = Statement::new(
            "SELECT toString(level) AS group_key, day_number, count() AS unique, materialize(toUInt64(0)) AS count FROM (",
        );
        levels
            .append(funnel_levels(&window.subject, &split.raw, steps))
            .push(") WHERE level > 0 GROUP BY group_key, day_number");
        union(&mut parts, levels);
    }
    Aggregation {
        parts,
        one_row_per_cell: true,
    }
}

/// The days `daily_funnels` holds of the site's funnels from `first` to
/// `last`: rows of ([`FunnelDay`]).
pub fn rolled_up_funnel_days(site: &str, first: u16, last: u16) -> Statement {
    let mut s =
        Statement::new("SELECT funnel, toUInt16(day) AS day_number FROM daily_funnels FINAL");
    s.push_bound(" WHERE site = ?", Bind::Text(site.into()))
        .push(" AND level = 0")
        .push_bound(" AND day >= toDate(?)", Bind::Text(Day(first).to_string()))
        .push_bound(" AND day <= toDate(?)", Bind::Text(Day(last).to_string()))
        .push(" ORDER BY funnel, day");
    s
}

/// A day `daily_funnels` holds of a site's funnel (by its steps).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct FunnelDay {
    pub funnel: String,
    pub day_number: u16,
}

/// Every campaign ever opened or clicked (within retention), newest id
/// first. Which campaigns are listed does not depend on the period: a
/// campaign listed only for the periods it was opened in would date one
/// recipient's open by sliding a window.
pub fn campaign_names() -> Statement {
    Statement::new(
        "SELECT DISTINCT campaign FROM (SELECT campaign FROM email_opens UNION ALL SELECT campaign FROM email_clicks) ORDER BY campaign DESC",
    )
}

/// The days `daily_stats` holds between `first` and `last`, counted with
/// `views_cap`, in order, each
/// with whether `daily_filtered` holds it too ([`LedgerDay`]).
pub fn rolled_up_days(first: u16, last: u16, views_cap: u64) -> Statement {
    let mut s = Statement::new(
        "SELECT toUInt16(day) AS day_number, filtered, counted_until FROM daily_stats_days FINAL",
    );
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push_bound(" AND day <= toDate(?)", Bind::Text(Day(last).to_string()))
    .append(current_ledger_days(views_cap))
    .push(" ORDER BY day");
    s
}

/// The condition on `daily_stats_days` rows whose days hold the figures
/// this module reads: counted with `views_cap` and in [`ROLLUP_LAYOUT`].
/// Days counted with another cap, or laid out otherwise, are not the same
/// figures: reports read them from `events`, and the rollup computes them
/// again.
pub fn current_ledger_days(views_cap: u64) -> Statement {
    let mut s = Statement::default();
    s.push_bound(" AND views_cap = ?", Bind::Number(views_cap))
        .push_bound(" AND layout = ?", Bind::Number(ROLLUP_LAYOUT.into()));
    s
}

/// The first day whose parts from a local midnight the rollup keeps
/// current (yesterday, of `today`): it does not count an older part again
/// for a late hit, so reports do not read one.
pub fn first_local_day(today: u16) -> u16 {
    today.saturating_sub(1)
}

/// The parts of days from a local midnight that `local_days` holds from
/// `first` to `last`, counted with `views_cap` in [`ROLLUP_LAYOUT`], of
/// `site` (or of every site): rows of [`LocalDay`].
pub fn local_days(site: Option<&str>, first: u16, last: u16, views_cap: u64) -> Statement {
    let mut s = Statement::new(
        "SELECT site, toUInt16(day) AS day_number, counted_from, counted_until, events, conversions \
         FROM local_days FINAL",
    );
    s.push_bound(
        " WHERE day >= toDate(?)",
        Bind::Text(Day(first).to_string()),
    )
    .push_bound(" AND day <= toDate(?)", Bind::Text(Day(last).to_string()));
    if let Some(site) = site {
        s.push_bound(" AND site = ?", Bind::Text(site.into()));
    }
    s.append(current_ledger_days(views_cap))
        .push(" ORDER BY site, day, counted_from");
    s
}

/// A part of a day from a site's local midnight in the ledger `local_days`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct LocalDay {
    pub site: String,
    pub day_number: u16,
    pub counted_from: u32,
    pub counted_until: u32,
    /// The site's events in the part when it was counted.
    pub events: u64,
    /// The site's goals and funnels it was counted with
    /// (`goal::conversions_definition`).
    pub conversions: String,
}

impl LocalDay {
    pub fn part(&self) -> LocalPart {
        LocalPart {
            day: self.day_number,
            from: self.counted_from,
            until: self.counted_until,
        }
    }
}

/// A day of the rollup's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct LedgerDay {
    pub day_number: u16,
    /// 1 when `daily_filtered` was computed with `daily_stats`.
    pub filtered: u8,
    /// 0 for a whole day; for today so far, the instant its rows count up to.
    pub counted_until: u32,
}

impl RolledUp {
    /// The days of the ledger's rows, in their order, for `window`: today
    /// so far only when its rows count up to exactly the window's end; of
    /// `local` (parts of days from the site's local midnight that hold what
    /// the reports read), the one that answers the window's start.
    pub fn from_ledger(days: &[LedgerDay], local: &[LocalPart], window: &Window) -> RolledUp {
        let window_end = window.end;
        let partial = days
            .iter()
            .find(|d| d.counted_until != 0 && d.counted_until == window_end)
            .map(|d| d.day_number);
        RolledUp {
            stats: days
                .iter()
                .filter(|d| d.counted_until == 0 || Some(d.day_number) == partial)
                .map(|d| d.day_number)
                .collect(),
            filtered: days
                .iter()
                .filter(|d| d.filtered == 1 && d.counted_until == 0)
                .map(|d| d.day_number)
                .collect(),
            partial,
            local: local.iter().copied().find(|part| part.starts(window)),
        }
    }
}
/// knows the time zone rules, and refuses a zone it does not know.
pub fn midnights(time_zone: &str, first: String, second: String) -> Statement {
    let mut s = Statement::default();
    s.push_bound("SELECT toUInt32(toDateTime(?, ", Bind::Text(first))
        .push_bound("?)) AS start, ", Bind::Text(time_zone.into()))
        .push_bound("toUInt32(toDateTime(?, ", Bind::Text(second))
        .push_bound("?)) AS end", Bind::Text(time_zone.into()));
    s
}

/// Every bucket of `interval` that falls in `window`, in order, with the
/// UTC instant it starts at (the window's start, for the first), so a time
/// series lists empty buckets too, and each bucket's cells are known. The
/// hours come from `range`, not the `numbers` table function, which a
/// read-only user may not call (`readonly = 1` on 18.16, a missing
/// `CREATE TEMPORARY TABLE` grant on some releases).
pub fn buckets(window: &Window, interval: Interval) -> Statement {
    let hours = window.hours();
    let mut s = Statement::default();
    s.push("SELECT group_key, toUInt32(min(hour)) AS start FROM (SELECT ")
        .append(bucket(
            interval,
            &format!("toDateTime({} + number * 3600)", window.start),
            &window.time_zone,
        ))
        .push(&format!(
            " AS group_key, {} + number * 3600 AS hour",
            window.start
        ))
        .push_bound(
            " FROM (SELECT arrayJoin(range(?)) AS number))",
            Bind::Number(hours.into()),
        )
        .push(" GROUP BY group_key ORDER BY group_key");
    s
}

/// A time bucket: its label and the UTC instant it starts at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct BucketRow {
    pub group_key: String,
    pub start: u32,
}

/// Every statement shape the reports run: rollup and raw sources, every
/// key, measure and interval, with and without filters, in UTC and in time
/// zones whose midnights are not UTC's. What the checks of the schema on a
/// current ClickHouse release and on every node of a cluster run, so a
/// statement the reports can send is never left out of them.
pub fn statement_shapes() -> Vec<Statement> {
    let nov_1_day = clock::day_from_civil(2026, 11, 1).expect("a valid date");
    let nov_1 = u32::from(nov_1_day) * DAY_SECONDS;
    let denver = Window {
        subject: "optimumabq.com".into(),
        start: nov_1 + 6 * 3600,
        end: nov_1 + (3 * 24 + 7) * 3600,
        time_zone: "America/Denver".into(),
    };
    let utc = Window {
        start: nov_1,
        end: nov_1 + 3 * 86_400,
        time_zone: "UTC".into(),
        ..denver.clone()
    };
    let kolkata = Window {
        start: denver.start - 1800,
        end: denver.end - 1800,
        time_zone: "Asia/Kolkata".into(),
        ..denver.clone()
    };
    let days: Vec<u16> = (nov_1_day..nov_1_day + 5).collect();
    let whole_days = RolledUp {
        stats: days.clone(),
        filtered: days,
        partial: None,
        local: None,
    };
    let filters: Vec<Filter> = ["country==US", "path~blog", "device!=mobile"]
        .into_iter()
        .map(|f| Filter::parse(f).expect("a valid filter"))
        .collect();
    let same_dimension = [Filter::parse("path~blog").expect("a valid filter")];
    // `daily_filtered` alone, and with a filter on the path broken down.
    let one_equals = [Filter::parse("country==US").expect("a valid filter")];
    let filtered_and_same = [
        Filter::parse("path~blog").expect("a valid filter"),
        Filter::parse("device==mobile").expect("a valid filter"),
    ];
    // As the engine hands them over: a goal by its definition.
    let props_goals_patterns: Vec<Filter> = [
        "prop:plan==monthly",
        "goal==page:/blog/*",
        "path=~/pricing*",
    ]
    .into_iter()
    .map(|f| Filter::parse(f).expect("a valid filter"))
    .collect();
    let event_goal = [Filter::parse("goal==event:book_tour").expect("a valid filter")];
    let steps = [
        Target::Page("/pricing".into()),
        Target::Page("/tour/*".into()),
        Target::Event("book_tour".into()),
    ];
    let mut statements = vec![
        midnights(
            "America/Denver",
            "2026-11-01 00:00:00".into(),
            "2026-11-02 00:00:00".into(),
        ),
        rolled_up_goal_days("optimumabq.com", nov_1_day, nov_1_day + 30, 10),
        rolled_up_funnel_days("optimumabq.com", nov_1_day, nov_1_day + 30),
        local_days(Some("optimumabq.com"), nov_1_day, nov_1_day + 30, 10),
    ];
    for window in [&denver, &utc, &kolkata] {
        // Each window reads whole days from the rollups, and edges from
        // events; Denver's first day from its local midnight from the rollup.
        let rolled_up = RolledUp {
            local: Some(LocalPart {
                day: nov_1_day,
                from: denver.start,
                until: nov_1 + DAY_SECONDS,
            })
            .filter(|part| part.starts(window)),
            ..whole_days.clone()
        };
        debug_assert!(split(window, &rolled_up.stats, None, false).days.is_some());
        let mut keys = vec![Key::Nothing];
        keys.extend(Interval::ALL.iter().copied().map(Key::Bucket));
        keys.extend(
            Dimension::ALL
                .iter()
                .copied()
                .filter(|d| *d != Dimension::Goal)
                .map(Key::Dimension),
        );
        let plan = Dimension::parse("by", "prop:plan").expect("a valid dimension");
        keys.push(Key::Dimension(plan));
        for key in keys {
            for (measure, filters) in [
                (Measure::Everything, &filters[..]),
                (Measure::PageViews, &[][..]),
                (Measure::CustomEvents, &same_dimension[..]),
                (Measure::Visits, &[][..]),
                (Measure::Everything, &one_equals[..]),
                (Measure::PageViews, &filtered_and_same[..]),
                (Measure::Visits, &one_equals[..]),
                (Measure::PageViews, &props_goals_patterns[..]),
                (Measure::Everything, &event_goal[..]),
            ] {
                statements.push(site(window, &rolled_up, &key, measure, filters, 10).by_day());
            }
        }
        for key in [
            Key::Nothing,
            Key::Client,
            Key::Country,
            Key::Proxied,
            Key::Day,
            Key::Campaign,
        ] {
            statements.push(email(window, &key, 10).by_day());
        }
        statements.push(clicks(window, 10).by_day());
        statements.push(campaign_clicks(window, 10).by_day());
        statements.push(visits(window, &rolled_up, &filters, 10));
        statements.push(visits(window, &rolled_up, &[], 10));
        statements.push(visits(window, &rolled_up, &one_equals, 10));
        statements.push(visits(window, &rolled_up, &props_goals_patterns, 10));
        statements.push(funnel(window, &rolled_up, &rolled_up.stats, &steps).by_day());
        statements.push(funnel(window, &RolledUp::default(), &[], &steps).by_day());
        statements.push(filtered(window).by_day());
        let all_days: Vec<(&Target, &[u16])> =
            steps.iter().map(|t| (t, &rolled_up.stats[..])).collect();
        statements.push(goals(window, &rolled_up, &all_days, 10).by_day());
        // A goal added since the rollup ran: its own pass over `events`.
        let one_new = [(&steps[0], &[][..]), (&steps[2], &rolled_up.stats[..])];
        statements.push(goals(window, &rolled_up, &one_new, 10).by_day());
        statements.extend(
            Interval::ALL
                .iter()
                .map(|&interval| buckets(window, interval)),
        );
    }
    statements.push(rolled_up_days(nov_1_day, nov_1_day + 3, 10));
    statements.push(campaign_names());
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_1: u16 = 20_758;

    fn window(start: u32, end: u32) -> Window {
        Window {
            subject: "optimumabq.com".into(),
            start,
            end,
            time_zone: "America/Denver".into(),
        }
    }

    fn midnight(day: u16) -> u32 {
        u32::from(day) * DAY_SECONDS
    }

    fn filter(text: &str) -> Filter {
        Filter::parse(text).unwrap()
    }

    #[test]
    fn the_day_constant_is_november_first() {
        assert_eq!(Day(NOV_1).to_string(), "2026-11-01");
    }

    #[test]
    fn windows_split_around_the_longest_run_of_rolled_up_days() {
        // Denver, Nov 1-30: 06:00 UTC Nov 1 to 07:00 UTC Dec 1.
        let w = window(midnight(NOV_1) + 6 * 3600, midnight(NOV_1 + 30) + 7 * 3600);
        let all: Vec<u16> = (NOV_1 - 5..NOV_1 + 40).collect();
        assert_eq!(
            split(&w, &all, None, false),
            Split {
                days: Some((NOV_1 + 1, NOV_1 + 29)),
                local: None,
                raw: vec![
                    (w.start, midnight(NOV_1 + 1)),
                    (midnight(NOV_1 + 30), w.end)
                ],
            }
        );
        // A gap (a day waiting to be rolled up again): the longer run wins,
        // the rest is raw.
        let gappy: Vec<u16> = (NOV_1..NOV_1 + 40).filter(|d| *d != NOV_1 + 10).collect();
        assert_eq!(
            split(&w, &gappy, None, false),
            Split {
                days: Some((NOV_1 + 11, NOV_1 + 29)),
                local: None,
                raw: vec![
                    (w.start, midnight(NOV_1 + 11)),
                    (midnight(NOV_1 + 30), w.end)
                ],
            }
        );
        // Nothing rolled up, or a window inside one day: all raw.
        assert_eq!(split(&w, &[], None, false).raw, vec![(w.start, w.end)]);
        let short = window(midnight(NOV_1) + 3600, midnight(NOV_1) + 7200);
        assert_eq!(split(&short, &all, None, false).days, None);
        // A time series can cut days at any hour: partial days count too.
        assert_eq!(
            split(&w, &all, None, true),
            Split {
                days: Some((NOV_1, NOV_1 + 30)),
                local: None,
                raw: vec![],
            }
        );
        assert_eq!(
            split(&short, &all, None, true).days,
            Some((NOV_1, NOV_1)),
            "an hour of a rolled-up day"
        );
        // Whole UTC days exactly: no raw part at all.
        let utc = window(midnight(NOV_1), midnight(NOV_1 + 2));
        assert_eq!(
            split(&utc, &all, None, false),
            Split {
                days: Some((NOV_1, NOV_1 + 1)),
                local: None,
                raw: vec![]
            }
        );
    }

    #[test]
    fn a_day_from_a_local_midnight_answers_the_start_of_a_window_that_starts_there() {
        // Denver (UTC-7), read at 03:30 UTC on Nov 10: its today runs from
        // 07:00 UTC on Nov 9 to 03:00 on Nov 10. The rollup holds Nov 9
        // from 07:00 to its end, and Nov 10 up to 03:00.
        let (today, from, end) = (
            NOV_1 + 9,
            midnight(NOV_1 + 8) + 7 * 3600,
            midnight(NOV_1 + 9) + 3 * 3600,
        );
        let yesterday = LocalPart {
            day: NOV_1 + 8,
            from,
            until: midnight(today),
        };
        let ledger: Vec<LedgerDay> = (NOV_1..=today)
            .map(|day| LedgerDay {
                day_number: day,
                filtered: u8::from(day < today),
                counted_until: if day == today { end } else { 0 },
            })
            .collect();
        let w = window(from, end);
        let rolled_up = RolledUp::from_ledger(&ledger, &[yesterday], &w);
        assert_eq!(
            (rolled_up.local, rolled_up.partial),
            (Some(yesterday), Some(today))
        );
        assert_eq!(
            split_after(&w, rolled_up.local, &rolled_up.stats, rolled_up.partial),
            Split {
                days: Some((today, today)),
                local: Some(yesterday),
                raw: vec![],
            }
        );
        // Later that day, its today from 07:00 to 15:00, all of it one part.
        let (from, end) = (midnight(today) + 7 * 3600, midnight(today) + 15 * 3600);
        let part = LocalPart {
            day: today,
            from,
            until: end,
        };
        let w = window(from, end);
        let rolled_up = RolledUp::from_ledger(&ledger, &[yesterday, part], &w);
        assert_eq!(rolled_up.local, Some(part));
        assert_eq!(
            split_after(&w, rolled_up.local, &rolled_up.stats, rolled_up.partial),
            Split {
                days: None,
                local: Some(part),
                raw: vec![],
            }
        );
        // A part that ends before the window and inside its day would count
        // the day's visitors in two rows: it is not used. Nor is one that
        // starts elsewhere, or ends past the window.
        for (part, w) in [
            (
                LocalPart {
                    until: end - 3600,
                    ..part
                },
                w.clone(),
            ),
            (part, window(from + 3600, end)),
            (part, window(from, end - 3600)),
        ] {
            assert_eq!(RolledUp::from_ledger(&ledger, &[part], &w).local, None);
            assert_eq!(
                split_after(&w, Some(part), &rolled_up.stats, None),
                split(&w, &rolled_up.stats, None, false),
            );
        }
        // Denver's yesterday: its part of Nov 9, then Nov 10 to 07:00 from
        // events.
        let w = window(yesterday.from, from);
        assert_eq!(
            split_after(&w, Some(yesterday), &rolled_up.stats, None),
            Split {
                days: None,
                local: Some(yesterday),
                raw: vec![(midnight(today), from)],
            }
        );
    }

    #[test]
    fn today_so_far_counts_as_a_day_when_it_ends_where_the_window_does() {
        // Nov 1-10 in UTC, read at 14:30 on Nov 10: the window ends at
        // 14:00, and the rollup counted Nov 10 up to 14:00.
        let end = midnight(NOV_1 + 9) + 14 * 3600;
        let ledger: Vec<LedgerDay> = (NOV_1..NOV_1 + 10)
            .map(|day| LedgerDay {
                day_number: day,
                filtered: u8::from(day < NOV_1 + 9),
                counted_until: if day == NOV_1 + 9 { end } else { 0 },
            })
            .collect();
        let rolled_up = RolledUp::from_ledger(&ledger, &[], &window(midnight(NOV_1), end));
        assert_eq!(rolled_up.partial, Some(NOV_1 + 9));
        assert_eq!(rolled_up.stats.len(), 10);
        assert_eq!(
            rolled_up.filtered.len(),
            9,
            "today so far has no daily_filtered rows"
        );
        let w = Window {
            time_zone: "UTC".into(),
            ..window(midnight(NOV_1), end)
        };
        let whole = Split {
            days: Some((NOV_1, NOV_1 + 9)),
            local: None,
            raw: vec![],
        };
        assert_eq!(split(&w, &rolled_up.stats, rolled_up.partial, false), whole);
        assert_eq!(split(&w, &rolled_up.stats, rolled_up.partial, true), whole);
        // Counted up to another hour (the rollup is behind, or the window
        // ends earlier): today is read from events.
        let behind = RolledUp::from_ledger(&ledger, &[], &window(midnight(NOV_1), end + 3600));
        assert_eq!((behind.partial, behind.stats.len()), (None, 9));
        let later = Window {
            end: end + 3600,
            ..w.clone()
        };
        assert_eq!(
            split(&later, &behind.stats, behind.partial, false),
            Split {
                days: Some((NOV_1, NOV_1 + 8)),
                local: None,
                raw: vec![(midnight(NOV_1 + 9), end + 3600)],
            }
        );
        // A day counted whole is never read as far as a window that ends
        // inside it.
        let inside = window(midnight(NOV_1), midnight(NOV_1 + 8) + 3600);
        assert_eq!(
            split(&inside, &rolled_up.stats, rolled_up.partial, false).raw,
            vec![(midnight(NOV_1 + 8), inside.end)]
        );
    }

    #[test]
    fn rollups_answer_unless_filters_or_time_zones_stop_them() {
        let w = window(0, DAY_SECONDS);
        let utc = Window {
            time_zone: "UTC".into(),
            ..w.clone()
        };
        let path = Key::Dimension(Dimension::Path);
        assert_eq!(rollup_for(&w, &path, &[]), Some(Rollup::Stats));
        assert_eq!(
            rollup_for(&w, &path, &[filter("path~blog")]),
            Some(Rollup::Stats)
        );
        assert_eq!(
            rollup_for(&w, &Key::Dimension(Dimension::EntryPage), &[]),
            Some(Rollup::Stats)
        );
        assert_eq!(rollup_for(&w, &Key::Nothing, &[]), Some(Rollup::Stats));
        assert_eq!(
            rollup_for(&w, &Key::Bucket(Interval::Day), &[]),
            Some(Rollup::Stats)
        );
        assert_eq!(
            rollup_for(&utc, &Key::Bucket(Interval::Week), &[]),
            Some(Rollup::Stats)
        );
        assert_eq!(
            rollup_for(&utc, &Key::Bucket(Interval::Hour), &[]),
            Some(Rollup::Stats)
        );
        let kolkata = Window {
            start: 1800,
            ..w.clone()
        };
        assert_eq!(rollup_for(&kolkata, &Key::Bucket(Interval::Day), &[]), None);
        assert_eq!(
            rollup_for(&kolkata, &Key::Nothing, &[]),
            Some(Rollup::Stats),
            "half-hour edges stop only time buckets"
        );
    }

    #[test]
    fn one_equals_filter_on_another_dimension_reads_daily_filtered() {
        let w = window(0, DAY_SECONDS);
        let us = [filter("country==US")];
        let path = Key::Dimension(Dimension::Path);
        for key in [
            path.clone(),
            Key::Dimension(Dimension::EntryPage),
            Key::Dimension(Dimension::Name),
            Key::Nothing,
            Key::Bucket(Interval::Day),
        ] {
            assert_eq!(
                rollup_for(&w, &key, &us),
                Some(Rollup::Filtered(&us[0])),
                "{key:?}"
            );
        }
        // Filters on the dimension broken down still select by value.
        let with_path = [filter("path~blog"), filter("os==iOS"), filter("path!=/")];
        assert_eq!(
            rollup_for(&w, &path, &with_path),
            Some(Rollup::Filtered(&with_path[1]))
        );
        // Every dimension the dashboard filters by on a click is held.
        for &dimension in Dimension::ALL {
            let f = Filter {
                dimension,
                op: FilterOp::Equals,
                value: "x".into(),
            };
            let answered = rollup_for(&w, &Key::Nothing, std::slice::from_ref(&f));
            assert_eq!(
                answered.is_some(),
                !matches!(dimension, Dimension::EntryPage | Dimension::Goal),
                "{dimension:?}"
            );
        }
        // Anything else reads `events`: another operator, two filters off
        // the dimension broken down, or time buckets cut at half hours.
        for filters in [
            vec![filter("country!=US")],
            vec![filter("country~U")],
            vec![filter("country==US"), filter("os==iOS")],
            vec![filter("country==US"), filter("path~blog")],
        ] {
            assert_eq!(rollup_for(&w, &Key::Nothing, &filters), None, "{filters:?}");
        }
        let kolkata = Window { start: 1800, ..w };
        assert_eq!(rollup_for(&kolkata, &Key::Bucket(Interval::Day), &us), None);
    }

    #[test]
    fn filtered_reports_read_their_filter_rows_and_only_days_rolled_up_with_them() {
        // Denver, Nov 1-3: whole UTC days Nov 2 and 3, edges from events.
        let w = window(midnight(NOV_1) + 6 * 3600, midnight(NOV_1 + 3) + 7 * 3600);
        let rolled_up = RolledUp {
            stats: vec![NOV_1, NOV_1 + 1, NOV_1 + 2, NOV_1 + 3],
            filtered: vec![NOV_1 + 2, NOV_1 + 3],
            partial: None,
            local: None,
        };
        let us = [filter("country==US")];
        let a = site(
            &w,
            &rolled_up,
            &Key::Dimension(Dimension::Path),
            Measure::PageViews,
            &us,
            10,
        )
        .by_day();
        assert!(a.text.contains("FROM daily_filtered FINAL"), "{}", a.text);
        assert!(!a.text.contains("daily_stats"), "{}", a.text);
        assert!(
            a.text
                .contains("AND filter_dimension = ? AND filter_value = ?")
        );
        assert!(a.binds.contains(&Bind::Text("country".into())));
        assert!(a.binds.contains(&Bind::Text("US".into())));
        assert!(
            a.binds.contains(&Bind::Text("2026-11-03".into())),
            "the first day rolled up with daily_filtered"
        );
        assert!(
            a.binds.contains(&Bind::Number(midnight(NOV_1 + 2).into())),
            "Nov 2 is not in daily_filtered: events up to Nov 3, 00:00 UTC"
        );
        assert!(
            a.text.contains("AND country = ?"),
            "the rest from events, filtered"
        );
        let v = visits(&w, &rolled_up, &us, 10);
        assert!(v.text.contains("FROM daily_filtered FINAL"), "{}", v.text);
        let series = site(
            &w,
            &rolled_up,
            &Key::Bucket(Interval::Day),
            Measure::Everything,
            &us,
            10,
        )
        .by_day();
        assert!(
            series.text.contains("FROM daily_filtered FINAL"),
            "{}",
            series.text
        );
        let raw = visits(&w, &rolled_up, &[filter("country!=US")], 10);
        assert!(!raw.text.contains("FINAL"), "{}", raw.text);
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let hostile = "x' OR 1=1 --";
        let w = Window {
            subject: hostile.into(),
            ..window(midnight(NOV_1) + 3600, midnight(NOV_1 + 3))
        };
        let sp = RolledUp {
            stats: vec![NOV_1 + 1],
            filtered: vec![NOV_1 + 1],
            partial: None,
            local: None,
        };
        let filters = [filter(&format!("city=={hostile}"))];
        let path = Key::Dimension(Dimension::Path);
        let rolled_up_filter = site(&w, &sp, &path, Measure::PageViews, &filters, 10);
        assert!(rolled_up_filter.by_day().text.contains("daily_filtered"));
        for statement in [
            site(&w, &sp, &path, Measure::PageViews, &filters, 10).by_day(),
            site(&w, &sp, &path, Measure::PageViews, &[], 10).by_day(),
            site(
                &w,
                &sp,
                &Key::Bucket(Interval::Hour),
                Measure::Everything,
                &filters,
                10,
            )
            .by_day(),
            site(&w, &sp, &Key::Nothing, Measure::Everything, &[], 10).by_day(),
            visits(&w, &sp, &filters, 10),
            visits(&w, &sp, &[], 10),
            email(&w, &Key::Client, 10).by_day(),
            rolled_up_filter.by_day(),
        ] {
            assert!(!statement.text.contains(hostile), "{}", statement.text);
            assert_eq!(
                statement.text.matches('?').count(),
                statement.binds.len(),
                "{}",
                statement.text
            );
            assert!(statement.binds.contains(&Bind::Text(hostile.into())));
        }
    }

    #[test]
    fn the_rollup_answers_whole_days_and_events_the_edges() {
        let w = window(midnight(NOV_1) + 6 * 3600, midnight(NOV_1 + 3) + 7 * 3600);
        let sp = RolledUp {
            stats: vec![NOV_1, NOV_1 + 1, NOV_1 + 2],
            filtered: vec![],
            partial: None,
            local: None,
        };
        let a = site(
            &w,
            &sp,
            &Key::Dimension(Dimension::Path),
            Measure::PageViews,
            &[],
            10,
        );
        let text = a.by_day().text;
        assert!(text.contains("FROM daily_stats FINAL"), "{text}");
        assert!(text.contains(" UNION ALL "), "{text}");
        assert!(
            text.contains("GROUP BY group_key, day_number, visitor_id"),
            "{text}"
        );
        let a = site(
            &w,
            &sp,
            &Key::Dimension(Dimension::Path),
            Measure::PageViews,
            &[filter("os~iOS")],
            10,
        );
        assert!(
            a.by_day()
                .text
                .contains("positionCaseInsensitiveUTF8(os, ?)")
        );
        assert!(!a.by_day().text.contains("daily_"));
    }

    #[test]
    fn device_and_contains_filters_read_the_right_columns() {
        let w = window(1, 2);
        let s = site(
            &w,
            &RolledUp::default(),
            &Key::Nothing,
            Measure::Everything,
            &[filter("device==mobile"), filter("referrer_host~Google")],
            10,
        )
        .by_day();
        assert!(s.text.contains("AND toString(device) = ?"), "{}", s.text);
        assert!(
            s.text
                .contains("AND positionCaseInsensitiveUTF8(referrer_host, ?) > 0"),
            "{}",
            s.text
        );
    }
    /// Also writes the statements to `$BEACONHOUSE_TEST_REPORT_SQL_OUT`, one per
    /// line, for `tests/schema_on_current_clickhouse.py` to run on a current
    /// ClickHouse (`tests/run.sh` does both).
    #[test]
    fn every_report_statement_is_fully_bound() {
        let statements: Vec<String> = statement_shapes()
            .iter()
            .map(Statement::bound_text)
            .collect();
        assert!(statements.len() > 200);
        for statement in &statements {
            assert!(!statement.contains('?'), "{statement}");
            assert!(!statement.contains('\n'), "{statement}");
            assert!(statement.starts_with("SELECT "), "{statement}");
        }
        if let Some(path) = std::env::var_os("BEACONHOUSE_TEST_REPORT_SQL_OUT") {
            std::fs::write(path, statements.join("\n") + "\n").unwrap();
        }
    }
}
