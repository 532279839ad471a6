//! Aggregate reports for marketing staff: summary, time series, breakdowns
//! and email campaigns, for the stats API and `beaconhouse report`.
//!
//! Owns: answering any [`request::ReportRequest`] ([`Reporter::run`]):
//! running the statements of [`sql`] and shaping their answers, with
//! [`suppress`] applied to every group, and the daily [`rollup`]. Separate
//! from collection: it reads `events` and writes only the rollup, and nothing
//! on the collection path calls it. Of the collection path it uses only the
//! client ([`Endpoints`], the one place clients are built).
//! Must never: return a row of `events` or `email_opens`, or a group counted
//! over fewer than `min_group_size` people.

pub mod bounded;
mod coalesce;
pub mod output;
pub mod parameters;
pub mod request;
pub mod rollup;
pub mod sql;
pub mod suppress;

use std::sync::Arc;

use clickhouse::Client;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use crate::clock;
use crate::sink::clickhouse::Endpoints;

use request::{
    Choice, Details, Dimension, Filter, Interval, Period, ReportKind, ReportRequest, RequestError,
};
use sql::{
    Bind, CountRow, GroupRow, Key, LedgerDay, Measure, RolledUp, Statement, VisitRow, Window,
};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(
        "`tz` is {0:?}, which ClickHouse does not know; use an IANA name such as America/Denver"
    )]
    UnknownTimeZone(String),
    #[error(
        "the report took longer than `reporting.query_timeout_ms` allows; ask for a shorter period or fewer filters"
    )]
    TooSlow,
    #[error(
        "the report needed more memory than `reporting.max_memory_bytes` allows; ask for a shorter period or fewer filters"
    )]
    TooLarge,
    #[error(
        "{0} reports are running already, as many as `reporting.max_concurrent` allows; try again in a moment"
    )]
    Busy(usize),
    #[error(
        "the report stopped without an answer; try again, and tell the operator (the collector's log says why) if it persists"
    )]
    Stopped,
    #[error(
        "ClickHouse could not answer the report: {0}; check that it is up, that `beaconhouse migrate` ran, and that the reports' user (`reporting.clickhouse_user`, else `clickhouse.user`) may read events, email_opens, daily_stats, daily_filtered and daily_stats_days"
    )]
    ClickHouse(String),
}

impl From<clickhouse::error::Error> for ReportError {
    /// ClickHouse's own stops at the limits of `sink::clickhouse::reports_client`
    /// become their errors; anything else is ClickHouse's message.
    fn from(error: clickhouse::error::Error) -> Self {
        let message = error.to_string();
        if has_code(&message, TIMEOUT_EXCEEDED) {
            ReportError::TooSlow
        } else if has_code(&message, MEMORY_LIMIT_EXCEEDED) {
            ReportError::TooLarge
        } else {
            ReportError::ClickHouse(message)
        }
    }
}

/// ClickHouse's error code for a query stopped by `max_execution_time`.
const TIMEOUT_EXCEEDED: u32 = 159;
/// ClickHouse's error code for a query stopped by `max_memory_usage`.
const MEMORY_LIMIT_EXCEEDED: u32 = 241;

/// Whether a ClickHouse error is the exception `code`: `Code: 159,` on
/// 18.16, `Code: 159.` on current releases.
fn has_code(message: &str, code: u32) -> bool {
    [',', '.']
        .iter()
        .any(|end| message.contains(&format!("Code: {code}{end}")))
}

/// How unique visitors are counted; attached to every site report.
pub const NOTE_DAILY_IDS: &str = "Visitors are counted once per day: visitor ids change every UTC day, so a person who comes back on another day counts again.";

/// The label of hits without a value (no referrer, no campaign, unknown place).
const NONE: &str = "(none)";

/// The period a report covers, as it is printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PeriodLabel {
    #[schemars(extend("format" = "date"))]
    pub from: String,
    #[schemars(extend("format" = "date"))]
    pub to: String,
    pub time_zone: String,
}

impl From<&Period> for PeriodLabel {
    fn from(p: &Period) -> Self {
        PeriodLabel {
            from: p.from.to_string(),
            to: p.to.to_string(),
            time_zone: p.time_zone.clone(),
        }
    }
}

/// The figures of one period.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SummaryFigures {
    pub visitors: u64,
    pub pageviews: u64,
    pub visits: u64,
    pub views_per_visit: f64,
    /// Percent of visits with one page view.
    pub bounce_rate: f64,
}

/// How the current period compares with the previous one: percent change,
/// or null when the previous figure was zero; bounce rate in points (null
/// when the previous period had no visits).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SummaryChange {
    pub visitors: Option<f64>,
    pub pageviews: Option<f64>,
    pub visits: Option<f64>,
    pub views_per_visit: Option<f64>,
    pub bounce_rate_points: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Summary {
    pub site: String,
    pub period: PeriodLabel,
    pub previous_period: PeriodLabel,
    pub filters: Vec<Filter>,
    /// Null when the filters leave too few visitors to show.
    pub current: Option<SummaryFigures>,
    pub previous: Option<SummaryFigures>,
    pub change: Option<SummaryChange>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Point {
    /// Local date (`2026-11-01`) or hour (`2026-11-01 13:00`).
    pub bucket: String,
    /// Null when withheld: filtered, and too few visitors.
    pub visitors: Option<u64>,
    pub pageviews: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Timeseries {
    pub site: String,
    pub period: PeriodLabel,
    pub interval: Interval,
    pub filters: Vec<Filter>,
    pub points: Vec<Point>,
    pub notes: Vec<String>,
}

/// A row of a breakdown or of an email report's groups.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Row {
    pub value: String,
    /// Unique visitors (recipients, in email reports); null for `(other)`,
    /// where a person in several folded groups would count twice.
    pub unique: Option<u64>,
    /// Page views, visits, events or opens: see the report's `count` field;
    /// null when withheld (counted over too few people).
    pub count: Option<u64>,
    /// Percent of the total's uniques; null with `unique`.
    pub share: Option<f64>,
}

/// What the `count` of a breakdown's rows counts: `pageviews`, `visits` (that
/// entered on the page, by `entry_page`) or `events` (custom events, by
/// `name`).
// No doc comments on variants, as on `request::Dimension`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    Pageviews,
    Visits,
    Events,
}

impl Choice for Counted {
    const ALL: &'static [Counted] = &[Counted::Pageviews, Counted::Visits, Counted::Events];

    fn as_str(self) -> &'static str {
        match self {
            Counted::Pageviews => "pageviews",
            Counted::Visits => "visits",
            Counted::Events => "events",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Breakdown {
    pub site: String,
    pub period: PeriodLabel,
    pub dimension: Dimension,
    pub filters: Vec<Filter>,
    pub count: Counted,
    pub total: Row,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EmailReport {
    pub campaign: String,
    pub period: PeriodLabel,
    /// Every figure is `None` when counted over fewer recipients than
    /// `min_group_size` (a small campaign shows none of them).
    pub opens: Option<u64>,
    pub unique_opens: Option<u64>,
    pub proxied_opens: Option<u64>,
    pub direct_opens: Option<u64>,
    /// Recipients with at least one open that did not come through a proxy:
    /// the closest figure to "people who looked at the email".
    pub unique_direct_opens: Option<u64>,
    pub by_day: Vec<Row>,
    pub by_client: Vec<Row>,
    pub by_country: Vec<Row>,
    pub notes: Vec<String>,
}

/// One campaign in the list of campaigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CampaignRow {
    pub campaign: String,
    /// Null when withheld: opened by fewer recipients than `min_group_size`.
    pub opens: Option<u64>,
    pub unique_opens: Option<u64>,
}

/// The campaigns opened in a period, newest id first (ids such as
/// `2026-11-newsletter` sort by date). Listed by name only, whatever their
/// size: a name is the sender's, and says nothing of who opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Campaigns {
    pub period: PeriodLabel,
    pub campaigns: Vec<CampaignRow>,
    pub notes: Vec<String>,
}

impl Campaigns {
    /// Keeps the campaigns `may_read` allows: a caller learns nothing of the
    /// others, not even their names.
    pub fn retain_readable(&mut self, may_read: impl Fn(&str) -> bool) {
        self.campaigns.retain(|row| may_read(&row.campaign));
    }
}

/// The answer to a [`ReportRequest`]: one report, of the kind asked for.
/// Serialized as the report itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyReport {
    Summary(Summary),
    Timeseries(Timeseries),
    Breakdown(Breakdown),
    Email(EmailReport),
    Campaigns(Campaigns),
}

impl AnyReport {
    /// The JSON Schema of the report `kind` answers with: a `$ref` to its
    /// type's schema, which `generator` adds to its definitions.
    pub fn schema_of(kind: ReportKind, generator: &mut SchemaGenerator) -> Schema {
        match kind {
            ReportKind::Summary => generator.subschema_for::<Summary>(),
            ReportKind::Timeseries => generator.subschema_for::<Timeseries>(),
            ReportKind::Breakdown => generator.subschema_for::<Breakdown>(),
            ReportKind::Email => generator.subschema_for::<EmailReport>(),
            ReportKind::Campaigns => generator.subschema_for::<Campaigns>(),
        }
    }
}

/// Runs reports against ClickHouse, each statement on the first endpoint
/// that answers.
#[derive(Clone)]
pub struct Reporter {
    endpoints: Endpoints,
    min_group_size: u64,
    /// Shared by the clones of a reporter, so reports asked for together
    /// share their identical statements.
    in_flight: Arc<coalesce::InFlight>,
}

impl Reporter {
    pub fn new(endpoints: Endpoints, min_group_size: u64) -> Reporter {
        Reporter {
            endpoints,
            min_group_size,
            in_flight: Arc::default(),
        }
    }

    /// Runs any report request.
    pub async fn run(&self, request: &ReportRequest) -> Result<AnyReport, ReportError> {
        let period = &request.period;
        Ok(match &request.details {
            Details::Summary { site, filters } => {
                AnyReport::Summary(self.summary(site, period, filters).await?)
            }
            Details::Timeseries {
                site,
                interval,
                filters,
            } => AnyReport::Timeseries(self.timeseries(site, period, *interval, filters).await?),
            Details::Breakdown {
                site,
                dimension,
                filters,
                limit,
            } => AnyReport::Breakdown(
                self.breakdown(site, period, *dimension, filters, *limit)
                    .await?,
            ),
            Details::Email { campaign, limit } => {
                AnyReport::Email(self.email(campaign, period, *limit).await?)
            }
            Details::Campaigns => AnyReport::Campaigns(self.campaigns(period).await?),
        })
    }

    async fn summary(
        &self,
        site: &str,
        period: &Period,
        filters: &[Filter],
    ) -> Result<Summary, ReportError> {
        let previous_period = period.previous().ok_or_else(|| RequestError::Invalid {
            key: "from",
            value: period.from.to_string(),
            problem: "the previous period would start before 1970".into(),
        })?;
        let (current, previous) = tokio::try_join!(
            self.figures(site, period, filters),
            self.figures(site, &previous_period, filters)
        )?;
        let change = match (&current, &previous) {
            (Some(c), Some(p)) => Some(SummaryChange {
                visitors: percent_change(c.visitors as f64, p.visitors as f64),
                pageviews: percent_change(c.pageviews as f64, p.pageviews as f64),
                visits: percent_change(c.visits as f64, p.visits as f64),
                views_per_visit: percent_change(c.views_per_visit, p.views_per_visit),
                bounce_rate_points: (p.visits > 0).then(|| round2(c.bounce_rate - p.bounce_rate)),
            }),
            _ => None,
        };
        let mut notes = vec![NOTE_DAILY_IDS.to_string()];
        notes.push("Visits and bounces are counted from page views: a visit ends after 30 minutes without one, and at UTC midnight.".into());
        if current.is_none() || previous.is_none() {
            notes.push(self.withheld_note("visitors"));
        }
        Ok(Summary {
            site: site.into(),
            period: period.into(),
            previous_period: (&previous_period).into(),
            filters: filters.to_vec(),
            current,
            previous,
            change,
            notes,
        })
    }

    /// One period's figures; `None` when filters leave too few visitors.
    async fn figures(
        &self,
        site: &str,
        period: &Period,
        filters: &[Filter],
    ) -> Result<Option<SummaryFigures>, ReportError> {
        let (window, rolled_up) = self.window(site, period).await?;
        let totals = sql::site(
            &window,
            &rolled_up,
            &Key::Nothing,
            Measure::Everything,
            filters,
        );
        let (counts, visits): (CountRow, VisitRow) = tokio::try_join!(
            self.fetch_one(totals.total()),
            self.fetch_one(sql::visits(&window, &rolled_up, filters))
        )?;
        if !filters.is_empty() && !suppress::may_show(counts.unique, self.min_group_size) {
            return Ok(None);
        }
        Ok(Some(SummaryFigures {
            visitors: counts.unique,
            pageviews: counts.count,
            visits: visits.visits,
            views_per_visit: round2(ratio(visits.views, visits.visits)),
            bounce_rate: round2(100.0 * ratio(visits.bounces, visits.visits)),
        }))
    }

    async fn timeseries(
        &self,
        site: &str,
        period: &Period,
        interval: Interval,
        filters: &[Filter],
    ) -> Result<Timeseries, ReportError> {
        let (window, mut rolled_up) = self.window(site, period).await?;
        let labels: Vec<String> = self
            .fetch_all(sql::bucket_labels(&window, interval))
            .await?;
        if interval == Interval::Hour && labels.len() < window.hours() as usize {
            // Clocks went back: two UTC hours share a label, and the rollup's
            // per-hour visitor counts cannot be added up. Count from events.
            rolled_up = RolledUp::default();
        }
        let aggregation = sql::site(
            &window,
            &rolled_up,
            &Key::Bucket(interval),
            Measure::Everything,
            filters,
        );
        let groups: Vec<GroupRow> = self.fetch_all(aggregation.groups_by_key()).await?;
        let mut withheld = false;
        let points = every_bucket(labels, &groups)
            .map(|(bucket, visitors, pageviews)| {
                let show = filters.is_empty() || suppress::may_show(visitors, self.min_group_size);
                withheld |= !show;
                Point {
                    bucket,
                    visitors: show.then_some(visitors),
                    pageviews: show.then_some(pageviews),
                }
            })
            .collect();
        let mut notes = vec![NOTE_DAILY_IDS.to_string()];
        if withheld {
            notes.push(self.withheld_note("visitors"));
        }
        Ok(Timeseries {
            site: site.into(),
            period: period.into(),
            interval,
            filters: filters.to_vec(),
            points,
            notes,
        })
    }

    async fn breakdown(
        &self,
        site: &str,
        period: &Period,
        dimension: Dimension,
        filters: &[Filter],
        limit: usize,
    ) -> Result<Breakdown, ReportError> {
        let (window, rolled_up) = self.window(site, period).await?;
        let (measure, count) = match dimension {
            Dimension::Name => (Measure::CustomEvents, Counted::Events),
            Dimension::EntryPage => (Measure::Visits, Counted::Visits),
            _ => (Measure::PageViews, Counted::Pageviews),
        };
        let groups = sql::site(
            &window,
            &rolled_up,
            &Key::Dimension(dimension),
            measure,
            filters,
        );
        let total = sql::site(&window, &rolled_up, &Key::Nothing, measure, filters);
        let (totals, groups): (CountRow, Vec<GroupRow>) = tokio::try_join!(
            self.fetch_one(total.total()),
            self.fetch_all(groups.groups_by_size(suppress::groups_needed(limit)))
        )?;
        let rows = self.rows(groups, totals, limit);
        // Without filters the total is the whole site's, exact; with them it
        // is a figure like any other.
        let total = if filters.is_empty() {
            row(
                "(total)".into(),
                Some(totals.unique),
                Some(totals.count),
                totals.unique,
            )
        } else {
            let shown = |value| suppress::shown(value, totals.unique, self.min_group_size);
            row(
                "(total)".into(),
                shown(totals.unique),
                shown(totals.count),
                totals.unique,
            )
        };
        let mut notes = vec![NOTE_DAILY_IDS.to_string(), self.folded_note("visitors")];
        if !filters.is_empty() {
            notes.push(self.withheld_note("visitors"));
        }
        Ok(Breakdown {
            site: site.into(),
            period: period.into(),
            dimension,
            filters: filters.to_vec(),
            count,
            total,
            rows,
            notes,
        })
    }

    async fn email(
        &self,
        campaign: &str,
        period: &Period,
        limit: usize,
    ) -> Result<EmailReport, ReportError> {
        let window = self.bounds(campaign, period).await?;
        let largest = suppress::groups_needed(limit);
        let (totals, by_proxy, by_day, days, by_client, by_country) = tokio::try_join!(
            self.fetch_one::<CountRow>(sql::email(&window, &Key::Nothing).total()),
            self.fetch_all::<GroupRow>(sql::email(&window, &Key::Proxied).groups_by_key()),
            self.fetch_all::<GroupRow>(sql::email(&window, &Key::Day).groups_by_key()),
            self.fetch_all::<String>(sql::bucket_labels(&window, Interval::Day)),
            self.fetch_all::<GroupRow>(sql::email(&window, &Key::Client).groups_by_size(largest)),
            self.fetch_all::<GroupRow>(sql::email(&window, &Key::Country).groups_by_size(largest)),
        )?;
        let k = self.min_group_size;
        let proxied = |flag: &str| {
            let group = by_proxy.iter().find(|g| g.group_key == flag);
            group.map_or((0, 0), |g| (g.unique, g.count))
        };
        let ((proxied_people, proxied_opens), (direct_people, direct_opens)) =
            (proxied("1"), proxied("0"));
        Ok(EmailReport {
            campaign: campaign.into(),
            period: period.into(),
            opens: suppress::shown(totals.count, totals.unique, k),
            unique_opens: suppress::shown(totals.unique, totals.unique, k),
            proxied_opens: suppress::shown(proxied_opens, proxied_people, k),
            direct_opens: suppress::shown(direct_opens, direct_people, k),
            unique_direct_opens: suppress::shown(direct_people, direct_people, k),
            by_day: every_bucket(days, &by_day)
                .map(|(day, unique, count)| {
                    let shown = |value| suppress::shown(value, unique, k);
                    row(day, shown(unique), shown(count), totals.unique)
                })
                .collect(),
            by_client: self.rows(by_client, totals, limit),
            by_country: self.rows(by_country, totals, limit),
            notes: vec![
                "Unique opens count recipients exactly, once per campaign.".into(),
                "Proxied opens were fetched by a mail provider (Gmail's image proxy, Apple Mail Privacy Protection, Yahoo): they show delivery, not that a person looked.".into(),
                self.folded_note("recipients"),
                self.withheld_note("recipients"),
            ],
        })
    }

    async fn campaigns(&self, period: &Period) -> Result<Campaigns, ReportError> {
        let window = self.bounds("", period).await?;
        let groups: Vec<GroupRow> = self.fetch_all(sql::campaigns(&window)).await?;
        let k = self.min_group_size;
        Ok(Campaigns {
            period: period.into(),
            campaigns: groups
                .into_iter()
                .map(|g| CampaignRow {
                    opens: suppress::shown(g.count, g.unique, k),
                    unique_opens: suppress::shown(g.unique, g.unique, k),
                    campaign: g.group_key,
                })
                .collect(),
            notes: vec![
                "Unique opens count recipients exactly, once per campaign; opens include proxied ones.".into(),
                self.withheld_note("recipients"),
            ],
        })
    }

    /// The rows a grouped report shows, with `(other)` for what suppression
    /// folded.
    fn rows(&self, groups: Vec<GroupRow>, totals: CountRow, limit: usize) -> Vec<Row> {
        let folded = suppress::fold(groups, totals, self.min_group_size, limit);
        let mut rows: Vec<Row> = folded
            .shown
            .into_iter()
            .map(|g| {
                let value = if g.group_key.is_empty() {
                    NONE.to_string()
                } else {
                    g.group_key
                };
                row(value, Some(g.unique), Some(g.count), totals.unique)
            })
            .collect();
        if folded.has_other {
            rows.push(row(
                suppress::OTHER.into(),
                None,
                folded.other,
                totals.unique,
            ));
        }
        rows
    }

    /// The period's window, and the days in it that the daily rollups hold.
    async fn window(&self, site: &str, period: &Period) -> Result<(Window, RolledUp), ReportError> {
        let window = self.bounds(site, period).await?;
        let first = clock::day_of(window.start);
        let last = clock::day_of(window.end);
        let ledger: Vec<LedgerDay> = self.fetch_all(sql::rolled_up_days(first, last)).await?;
        Ok((window, RolledUp::from_ledger(&ledger)))
    }

    /// Resolves the period's local midnights to UTC instants.
    async fn bounds(&self, subject: &str, period: &Period) -> Result<Window, ReportError> {
        #[derive(Clone, serde::Deserialize, clickhouse::Row)]
        struct Bounds {
            start: u32,
            end: u32,
        }
        let end = period.to.plus(1).ok_or_else(|| RequestError::Invalid {
            key: "to",
            value: period.to.to_string(),
            problem: "must be before 2106".into(),
        })?;
        let statement = sql::midnights(&period.time_zone, period.from.midnight(), end.midnight());
        let bounds: Bounds = self.fetch_one(statement).await.map_err(|e| match e {
            ReportError::ClickHouse(message) if mentions_time_zone(&message) => {
                ReportError::UnknownTimeZone(period.time_zone.clone())
            }
            other => other,
        })?;
        Ok(Window {
            subject: subject.into(),
            start: bounds.start,
            end: bounds.end,
            time_zone: period.time_zone.clone(),
        })
    }

    fn folded_note(&self, people: &str) -> String {
        format!(
            "Groups of fewer than {k} {people}, and groups past the row limit, are folded into \"{}\", which counts their hits but not their {people} (a person in two groups would count twice), and is itself withheld unless it certainly holds {k} {people} or more.",
            suppress::OTHER,
            k = self.min_group_size,
        )
    }

    fn withheld_note(&self, people: &str) -> String {
        format!(
            "A figure over fewer than {} {people} is withheld (null, printed -), whatever it was, zero included: a withheld figure says nothing about how small it was.",
            self.min_group_size
        )
    }

    async fn fetch_all<T>(&self, statement: Statement) -> Result<Vec<T>, ReportError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead + Clone + Send + Sync + 'static,
    {
        let key = format!("{:?}", (&statement.text, &statement.binds));
        let endpoints = self.endpoints.clone();
        self.in_flight
            .run(key, async move {
                endpoints
                    .run(|client| query(&client, &statement).fetch_all())
                    .await
                    .map_err(ReportError::from)
            })
            .await
    }

    async fn execute(&self, statement: Statement) -> Result<(), ReportError> {
        Ok(self
            .endpoints
            .run(|client| query(&client, &statement).execute())
            .await?)
    }

    async fn fetch_one<T>(&self, statement: Statement) -> Result<T, ReportError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead + Clone + Send + Sync + 'static,
    {
        let key = format!("{:?}", (&statement.text, &statement.binds));
        let endpoints = self.endpoints.clone();
        self.in_flight
            .run(key, async move {
                endpoints
                    .run(|client| query(&client, &statement).fetch_one())
                    .await
                    .map_err(ReportError::from)
            })
            .await
    }
}

/// `statement` with its values bound, ready to run on `client`.
fn query(client: &Client, statement: &Statement) -> clickhouse::query::Query {
    let mut query = client.query(&statement.text);
    for bind in &statement.binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Number(n) => query.bind(*n),
        };
    }
    query
}

/// Each bucket label with its group's counts, zero where no group has it.
/// Both come `ORDER BY group_key` (ClickHouse compares strings byte by byte,
/// as Rust does), so one pass merges them: linear in labels and groups (an
/// hourly series has hundreds of buckets). A group whose key is no label is
/// skipped.
fn every_bucket(
    labels: Vec<String>,
    groups: &[GroupRow],
) -> impl Iterator<Item = (String, u64, u64)> + '_ {
    let mut groups = groups.iter().peekable();
    labels.into_iter().map(move |label| {
        while groups.next_if(|g| g.group_key < label).is_some() {}
        let found = groups.next_if(|g| g.group_key == label);
        let (unique, count) = found.map_or((0, 0), |g| (g.unique, g.count));
        (label, unique, count)
    })
}

fn mentions_time_zone(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("time zone") || lower.contains("timezone")
}

fn row(value: String, unique: Option<u64>, count: Option<u64>, total_unique: u64) -> Row {
    Row {
        value,
        unique,
        count,
        share: unique.map(|u| round2(100.0 * ratio(u, total_unique))),
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn percent_change(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| round2(100.0 * (current - previous) / previous))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    #[test]
    fn changes_and_shares() {
        assert_eq!(percent_change(150.0, 100.0), Some(50.0));
        assert_eq!(percent_change(1.0, 3.0), Some(-66.67));
        assert_eq!(percent_change(5.0, 0.0), None);
        assert_eq!(row("x".into(), Some(1), Some(2), 3).share, Some(33.33));
        assert_eq!(row("x".into(), Some(0), Some(0), 0).share, Some(0.0));
        assert_eq!(row("x".into(), None, Some(2), 3).share, None);
    }

    #[test]
    fn every_bucket_is_listed_with_its_group_or_zeros() {
        let group = |key: &str, unique: u64| GroupRow {
            group_key: key.into(),
            unique,
            count: unique * 2,
        };
        let labels: Vec<String> = ["01", "02", "03", "04", "05"].map(String::from).into();
        let groups = [
            group("00", 9),
            group("02", 2),
            group("025", 7),
            group("04", 4),
        ];
        let filled: Vec<(String, u64, u64)> = every_bucket(labels, &groups).collect();
        let expected = [
            ("01", 0, 0),
            ("02", 2, 4),
            ("03", 0, 0),
            ("04", 4, 8),
            ("05", 0, 0),
        ]
        .map(|(label, unique, count)| (label.to_string(), unique, count));
        assert_eq!(filled, expected);
        assert_eq!(every_bucket(Vec::new(), &groups).count(), 0);
        let labels: Vec<String> = (0..20_000).map(|n| format!("{n:05}")).collect();
        let groups: Vec<GroupRow> = labels.iter().step_by(2).map(|l| group(l, 1)).collect();
        let sum: u64 = every_bucket(labels, &groups)
            .map(|(_, unique, _)| unique)
            .sum();
        assert_eq!(sum, 10_000, "every group lands on its bucket");
    }

    #[test]
    fn clickhouse_stops_at_the_limits_become_their_errors() {
        use clickhouse::error::Error;
        let cases = [
            (
                "Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.003999978 seconds, maximum: 1",
                "TooSlow",
            ),
            (
                "Code: 159. DB::Exception: Timeout exceeded: elapsed 10.0 seconds",
                "TooSlow",
            ),
            (
                "Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded",
                "TooLarge",
            ),
            ("Code: 1590. DB::Exception: not a timeout", "ClickHouse"),
            (
                "Code: 60. DB::Exception: Table events doesn't exist",
                "ClickHouse",
            ),
        ];
        for (body, variant) in cases {
            let error = ReportError::from(Error::BadResponse(body.into()));
            assert!(
                format!("{error:?}").starts_with(variant),
                "{body}: {error:?}"
            );
        }
        assert!(
            ReportError::TooSlow
                .to_string()
                .contains("`reporting.query_timeout_ms`")
        );
    }

    #[test]
    fn time_zone_errors_are_recognised() {
        assert!(mentions_time_zone(
            "Code: 36. DB::Exception: Cannot load time zone Mars/Olympus"
        ));
        assert!(!mentions_time_zone("Code: 60. Table events doesn't exist"));
    }

    /// Every statement shape the reports run, bound as the client binds them:
    /// rollup and raw sources, every key, with and without filters.
    fn every_statement() -> Vec<String> {
        let client = Client::default();
        let nov_1_day = clock::day_from_civil(2026, 11, 1).unwrap();
        let nov_1 = u32::from(nov_1_day) * 86_400;
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
        let rolled_up = RolledUp {
            stats: days.clone(),
            filtered: days,
        };
        let filters: Vec<Filter> = ["country==US", "path~blog", "device!=mobile"]
            .into_iter()
            .map(|f| Filter::parse(f).unwrap())
            .collect();
        let same_dimension = [Filter::parse("path~blog").unwrap()];
        // `daily_filtered` alone, and with a filter on the path broken down.
        let one_equals = [Filter::parse("country==US").unwrap()];
        let filtered_and_same = [
            Filter::parse("path~blog").unwrap(),
            Filter::parse("device==mobile").unwrap(),
        ];
        let mut statements = vec![sql::midnights(
            "America/Denver",
            "2026-11-01 00:00:00".into(),
            "2026-11-02 00:00:00".into(),
        )];
        for window in [&denver, &utc, &kolkata] {
            assert!(sql::split(window, &rolled_up.stats, false).days.is_some());
            let mut keys = vec![Key::Nothing];
            keys.extend(Interval::ALL.iter().copied().map(Key::Bucket));
            keys.extend(Dimension::ALL.iter().copied().map(Key::Dimension));
            for key in keys {
                for (measure, filters) in [
                    (Measure::Everything, &filters[..]),
                    (Measure::PageViews, &[][..]),
                    (Measure::CustomEvents, &same_dimension[..]),
                    (Measure::Visits, &[][..]),
                    (Measure::Everything, &one_equals[..]),
                    (Measure::PageViews, &filtered_and_same[..]),
                    (Measure::Visits, &one_equals[..]),
                ] {
                    let a = sql::site(window, &rolled_up, &key, measure, filters);
                    statements.extend([a.groups_by_size(11), a.groups_by_key(), a.total()]);
                }
            }
            for key in [
                Key::Nothing,
                Key::Client,
                Key::Country,
                Key::Proxied,
                Key::Day,
            ] {
                let a = sql::email(window, &key);
                statements.extend([a.groups_by_size(11), a.groups_by_key(), a.total()]);
            }
            statements.push(sql::campaigns(window));
            statements.push(sql::visits(window, &rolled_up, &filters));
            statements.push(sql::visits(window, &rolled_up, &[]));
            statements.push(sql::visits(window, &rolled_up, &one_equals));
            statements.extend(
                Interval::ALL
                    .iter()
                    .map(|&interval| sql::bucket_labels(window, interval)),
            );
        }
        statements.extend([
            sql::rolled_up_days(nov_1_day, nov_1_day + 3),
            sql::rolled_up_counts(nov_1_day),
            sql::events_per_day(nov_1, nov_1 + 86_400),
        ]);
        statements.extend(sql::rollup_day(nov_1_day, 12));
        statements
            .into_iter()
            .map(|s| query(&client, &s).sql_display().to_string())
            .collect()
    }

    /// Also writes the statements to `$BEACONHOUSE_TEST_REPORT_SQL_OUT`, one per
    /// line, for `tests/schema_on_current_clickhouse.py` to run on a current
    /// ClickHouse (`tests/run.sh` does both).
    #[test]
    fn every_report_statement_is_fully_bound() {
        let statements = every_statement();
        assert!(statements.len() > 200);
        for statement in &statements {
            assert!(!statement.contains('?'), "{statement}");
            assert!(!statement.contains('\n'), "{statement}");
            assert!(
                statement.starts_with("SELECT ")
                    || statement.starts_with("INSERT INTO daily_stats")
                    || statement.starts_with("INSERT INTO daily_filtered"),
                "{statement}"
            );
        }
        if let Some(path) = std::env::var_os("BEACONHOUSE_TEST_REPORT_SQL_OUT") {
            std::fs::write(path, statements.join("\n") + "\n").unwrap();
        }
    }
}
