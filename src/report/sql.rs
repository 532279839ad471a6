//! The SQL of every report, built as text plus bound values, and the choice
//! between the hourly rollups and the raw tables.
//!
//! Owns: which table answers what, and every statement's text. Every query
//! here aggregates: none selects a row of `events` or `email_opens` as it is.
//! Must never: put a value from a request into the text; values travel as
//! [`Bind`]s, names come from fixed enums. Statements use only what
//! ClickHouse 18.16 and current releases both accept.

use serde::Serialize;

use super::request::{Dimension, Filter, FilterOp, Interval};

/// A value bound to a `?` of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Number(u32),
    List(Vec<String>),
}

/// A statement and its bound values, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Statement {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Statement {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `text`, which holds one `?` for `bind`.
    fn push_bound(&mut self, text: &str, bind: Bind) -> &mut Self {
        debug_assert_eq!(text.matches('?').count(), 1);
        self.text.push_str(text);
        self.binds.push(bind);
        self
    }

    fn append(&mut self, other: Statement) -> &mut Self {
        self.text.push_str(&other.text);
        self.binds.extend(other.binds);
        self
    }
}

/// What is counted, over the UTC instants `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The site id or campaign id.
    pub subject: String,
    pub start: u32,
    pub end: u32,
    pub time_zone: String,
}

impl Window {
    /// The hourly rollups can answer when the window starts and ends on
    /// whole UTC hours (time zones with whole-hour offsets, which is nearly
    /// all of them); day boundaries then fall on hour boundaries too.
    pub fn on_whole_hours(&self) -> bool {
        self.start.is_multiple_of(3600) && self.end.is_multiple_of(3600)
    }
}

/// Which hits a count covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Page views only (breakdowns of pages, sources, places, software).
    PageViews,
    /// Custom events only (the `name` breakdown).
    CustomEvents,
    /// Everything; the count column counts page views (summary, time series).
    Everything,
}

impl Scope {
    fn condition(self) -> &'static str {
        match self {
            Scope::PageViews => " AND name = 'pageview'",
            Scope::CustomEvents => " AND name != 'pageview'",
            Scope::Everything => "",
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
    /// Emails: the mail client, the country, proxied (`0`/`1`), the day.
    Client,
    Country,
    Proxied,
    Day,
}

/// Where an aggregation reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Rollup,
    Raw,
}

/// A subquery with a `group_key` column, and how to count over it: the
/// unique count (visitors, recipients) and the plain count (page views,
/// events, visits, opens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    pub source: Source,
    from: Statement,
    unique: &'static str,
    count: &'static str,
}

/// A group: its key, unique count and count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct GroupRow {
    pub group_key: String,
    pub unique: u64,
    pub count: u64,
}

/// The unique count and count over all (or some) groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct CountRow {
    pub unique: u64,
    pub count: u64,
}

impl Aggregation {
    /// Every group, largest first (ties by key, so answers are stable).
    pub fn groups_by_size(&self) -> Statement {
        self.groups("ORDER BY unique DESC, count DESC, group_key")
    }

    /// Every group, in key order (time buckets).
    pub fn groups_by_key(&self) -> Statement {
        self.groups("ORDER BY group_key")
    }

    fn groups(&self, order: &str) -> Statement {
        let mut s = Statement::default();
        s.push(&format!(
            "SELECT group_key, {} AS unique, {} AS count FROM (",
            self.unique, self.count
        ))
        .append(self.from.clone())
        .push(&format!(") GROUP BY group_key {order}"));
        s
    }

    /// The counts over every group.
    pub fn total(&self) -> Statement {
        let mut s = Statement::default();
        s.push(&format!(
            "SELECT {} AS unique, {} AS count FROM (",
            self.unique, self.count
        ))
        .append(self.from.clone())
        .push(")");
        s
    }

    /// The counts over every group but `shown`: the `(other)` row.
    pub fn total_except(&self, shown: Vec<String>) -> Statement {
        let mut s = self.total();
        if shown.is_empty() {
            // `has([], x)` does not type-check on 18.16; nothing is excluded.
            return s;
        }
        s.push_bound(" WHERE NOT has(?, group_key)", Bind::List(shown));
        s
    }
}

/// Whether the hourly rollup can answer a site query: whole-hour windows,
/// and filters only on the dimension being broken down (the rollup keeps
/// one dimension per row).
pub fn rollup_answers(window: &Window, key: &Key, filters: &[Filter]) -> bool {
    if !window.on_whole_hours() {
        return false;
    }
    match key {
        Key::Dimension(Dimension::EntryPage) => false,
        Key::Dimension(d) => filters.iter().all(|f| f.dimension == *d),
        _ => filters.is_empty(),
    }
}

/// The column of `events` a dimension reads.
fn events_column(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Device => "toString(device)",
        // Not a column: the sessionized query computes it.
        Dimension::EntryPage => "path",
        other => other.as_str(),
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

fn filter_condition(column: &str, filter: &Filter) -> Statement {
    let mut s = Statement::default();
    let value = Bind::Text(filter.value.clone());
    match filter.op {
        FilterOp::Equals => s.push_bound(&format!(" AND {column} = ?"), value),
        FilterOp::NotEquals => s.push_bound(&format!(" AND {column} != ?"), value),
        FilterOp::Contains => s.push_bound(
            &format!(" AND positionCaseInsensitiveUTF8({column}, ?) > 0"),
            value,
        ),
    };
    s
}

/// An aggregation of a site's hits over `window`.
pub fn site(window: &Window, key: &Key, scope: Scope, filters: &[Filter]) -> Aggregation {
    let count_pageviews_only = scope == Scope::Everything;
    if rollup_answers(window, key, filters) {
        let dimension = match key {
            Key::Dimension(d) => d.as_str(),
            _ => "",
        };
        let mut from = Statement::default();
        from.push("SELECT ")
            .append(match key {
                Key::Bucket(interval) => bucket(*interval, "hour", &window.time_zone),
                Key::Dimension(_) => plain("value"),
                _ => plain("''"),
            })
            .push(" AS group_key, visitors, hits, name FROM events_hourly")
            .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
            .push_bound(" AND dimension = ?", Bind::Text(dimension.into()))
            .push_bound(" AND hour >= toDateTime(?)", Bind::Number(window.start))
            .push_bound(" AND hour < toDateTime(?)", Bind::Number(window.end))
            .push(scope.condition());
        for filter in filters {
            from.append(filter_condition("value", filter));
        }
        return Aggregation {
            source: Source::Rollup,
            from,
            unique: "uniqMerge(visitors)",
            count: if count_pageviews_only {
                "countMergeIf(hits, name = 'pageview')"
            } else {
                "countMerge(hits)"
            },
        };
    }
    let mut hits = Statement::default();
    hits.push_bound(
        " FROM events WHERE site = ?",
        Bind::Text(window.subject.clone()),
    )
    .push_bound(" AND ts >= toDateTime(?)", Bind::Number(window.start))
    .push_bound(" AND ts < toDateTime(?)", Bind::Number(window.end))
    .push(scope.condition());
    for filter in filters {
        hits.append(filter_condition(events_column(filter.dimension), filter));
    }
    let mut from = Statement::default();
    match key {
        Key::Dimension(Dimension::EntryPage) => {
            // One row per visit, keyed by its first page. A visit is a run of
            // one visitor's page views with no gap over 30 minutes; visitor
            // ids change daily, so no visit spans a UTC midnight.
            from.push(
                "SELECT visitor_id, arrayJoin(arrayMap(v -> tupleElement(v, 2), entries)) AS group_key \
                 FROM (SELECT visitor_id, arraySort(groupArray(tuple(toUInt32(ts), path))) AS views, \
                 arrayMap(v -> tupleElement(v, 1), views) AS times, \
                 arrayFilter((v, i, gap) -> i = 1 OR gap > 1800, views, arrayEnumerate(times), arrayDifference(times)) AS entries",
            )
            .append(hits)
            .push(" GROUP BY visitor_id)");
        }
        _ => {
            from.push("SELECT ")
                .append(match key {
                    Key::Bucket(interval) => bucket(*interval, "ts", &window.time_zone),
                    Key::Dimension(d) => plain(events_column(*d)),
                    _ => plain("''"),
                })
                .push(" AS group_key, visitor_id, name")
                .append(hits);
        }
    }
    let count = match key {
        // One row per visit: the count is of visits, whatever the scope.
        Key::Dimension(Dimension::EntryPage) => "count()",
        _ if count_pageviews_only => "countIf(name = 'pageview')",
        _ => "count()",
    };
    Aggregation {
        source: Source::Raw,
        from,
        unique: "uniq(visitor_id)",
        count,
    }
}

fn plain(text: &str) -> Statement {
    let mut s = Statement::default();
    s.push(text);
    s
}

/// Visits, bounces (visits of one page view) and the page views in them.
/// Only the raw table can split a visitor's hits into visits.
pub fn visits(window: &Window, filters: &[Filter]) -> Statement {
    let mut s = Statement::default();
    s.push(
        "SELECT count() AS visits, countIf(visit_views = 1) AS bounces, sum(visit_views) AS views \
         FROM (SELECT arrayJoin(arrayPopFront(arrayDifference(arrayPushBack(starts, length(times) + 1)))) AS visit_views \
         FROM (SELECT arraySort(groupArray(toUInt32(ts))) AS times, \
         arrayFilter((i, gap) -> i = 1 OR gap > 1800, arrayEnumerate(times), arrayDifference(times)) AS starts \
         FROM events",
    )
    .push_bound(" WHERE site = ?", Bind::Text(window.subject.clone()))
    .push_bound(" AND ts >= toDateTime(?)", Bind::Number(window.start))
        .push_bound(" AND ts < toDateTime(?)", Bind::Number(window.end))
        .push(Scope::PageViews.condition());
    for filter in filters {
        s.append(filter_condition(events_column(filter.dimension), filter));
    }
    s.push(" GROUP BY visitor_id))");
    s
}

/// Visits, as [`visits`] returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clickhouse::Row)]
pub struct VisitRow {
    pub visits: u64,
    pub bounces: u64,
    pub views: u64,
}

/// An aggregation of a campaign's opens over `window`; the unique count is
/// of recipients, the count of opens.
pub fn email(window: &Window, key: &Key) -> Aggregation {
    let rollup = window.on_whole_hours();
    let time = if rollup { "hour" } else { "ts" };
    let mut from = Statement::default();
    from.push("SELECT ").append(match key {
        Key::Client => plain("client"),
        Key::Country => plain("country"),
        Key::Proxied => plain("toString(proxied)"),
        Key::Day => bucket(Interval::Day, time, &window.time_zone),
        _ => plain("''"),
    });
    if rollup {
        from.push(" AS group_key, opens, recipients FROM email_opens_hourly");
    } else {
        from.push(" AS group_key, recipient_id FROM email_opens");
    }
    from.push_bound(" WHERE campaign = ?", Bind::Text(window.subject.clone()))
        .push_bound(
            &format!(" AND {time} >= toDateTime(?)"),
            Bind::Number(window.start),
        )
        .push_bound(
            &format!(" AND {time} < toDateTime(?)"),
            Bind::Number(window.end),
        );
    if rollup {
        Aggregation {
            source: Source::Rollup,
            from,
            unique: "uniqExactMerge(recipients)",
            count: "countMerge(opens)",
        }
    } else {
        Aggregation {
            source: Source::Raw,
            from,
            unique: "uniqExact(recipient_id)",
            count: "count()",
        }
    }
}

/// The UTC instants of two local midnights, in one round trip. ClickHouse
/// knows the time zone rules, and refuses a zone it does not know.
pub fn midnights(time_zone: &str, first: String, second: String) -> Statement {
    let mut s = Statement::default();
    s.push_bound("SELECT toUInt32(toDateTime(?, ", Bind::Text(first))
        .push_bound("?)) AS start, ", Bind::Text(time_zone.into()))
        .push_bound("toUInt32(toDateTime(?, ", Bind::Text(second))
        .push_bound("?)) AS end", Bind::Text(time_zone.into()));
    s
}

/// Every bucket label of `interval` that falls in `window`, in order, so a
/// time series lists empty buckets too.
pub fn bucket_labels(window: &Window, interval: Interval) -> Statement {
    let hours = (window.end - window.start).div_ceil(3600);
    let mut s = Statement::default();
    s.push("SELECT group_key FROM (SELECT ")
        .append(bucket(
            interval,
            &format!("toDateTime({} + number * 3600)", window.start),
            &window.time_zone,
        ))
        .push_bound(" AS group_key FROM numbers(?))", Bind::Number(hours))
        .push(" GROUP BY group_key ORDER BY group_key");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: u32, end: u32) -> Window {
        Window {
            subject: "optimumabq.com".into(),
            start,
            end,
            time_zone: "America/Denver".into(),
        }
    }

    fn filter(text: &str) -> Filter {
        Filter::parse(text).unwrap()
    }

    #[test]
    fn rollups_answer_whole_hours_without_foreign_filters() {
        let whole = window(1_793_516_400, 1_796_112_000);
        let half = window(1_793_516_400 + 1800, 1_796_112_000);
        let path = Key::Dimension(Dimension::Path);
        assert!(rollup_answers(&whole, &path, &[]));
        assert!(!rollup_answers(&half, &path, &[]));
        assert!(rollup_answers(&whole, &path, &[filter("path~blog")]));
        assert!(!rollup_answers(&whole, &path, &[filter("country==US")]));
        assert!(!rollup_answers(
            &whole,
            &Key::Bucket(Interval::Day),
            &[filter("country==US")]
        ));
        assert!(!rollup_answers(
            &whole,
            &Key::Dimension(Dimension::EntryPage),
            &[]
        ));
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let hostile = "x' OR 1=1 --";
        let w = Window {
            subject: hostile.into(),
            ..window(3600, 7200)
        };
        let filters = [filter(&format!("city=={hostile}"))];
        for statement in [
            site(
                &w,
                &Key::Dimension(Dimension::Path),
                Scope::PageViews,
                &filters,
            )
            .groups_by_size(),
            site(
                &w,
                &Key::Bucket(Interval::Hour),
                Scope::Everything,
                &filters,
            )
            .groups_by_key(),
            site(&w, &Key::Nothing, Scope::Everything, &[]).total(),
            visits(&w, &filters),
            email(&w, &Key::Client).total_except(vec![hostile.into()]),
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
    fn the_source_follows_the_window_and_the_filters() {
        let whole = window(3600, 7200);
        let path = Key::Dimension(Dimension::Path);
        let a = site(&whole, &path, Scope::PageViews, &[]);
        assert_eq!(a.source, Source::Rollup);
        assert!(a.groups_by_size().text.contains("FROM events_hourly"));
        let a = site(&whole, &path, Scope::PageViews, &[filter("os==iOS")]);
        assert_eq!(a.source, Source::Raw);
        assert!(a.total().text.contains("AND os = ?"));
        let a = email(&window(1800, 7200), &Key::Day);
        assert_eq!(a.source, Source::Raw);
        assert!(a.total().text.contains("FROM email_opens WHERE"));
    }

    #[test]
    fn device_and_contains_filters_read_the_right_columns() {
        let s = site(
            &window(1, 2),
            &Key::Nothing,
            Scope::Everything,
            &[filter("device==mobile"), filter("referrer_host~Google")],
        )
        .total();
        assert!(s.text.contains("AND toString(device) = ?"), "{}", s.text);
        assert!(
            s.text
                .contains("AND positionCaseInsensitiveUTF8(referrer_host, ?) > 0"),
            "{}",
            s.text
        );
    }
}
