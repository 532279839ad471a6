//! What a report answers: one type per report kind, each a value that the
//! API serializes as JSON (its schema in the OpenAPI document comes from
//! these types), that `output` prints as tables or CSV, and that nothing
//! changes after the engine built it.
//!
//! Owns: the answers' shapes and the words they use ([`Counted`]).
//! Must never: compute a figure; the engine does, through `suppress`.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use super::vocabulary::{Dimension, Filter, Interval, Period, ReportKind, Vocabulary};

/// How unique visitors are counted; attached to every site report.
pub const NOTE_DAILY_IDS: &str = "Visitors are counted once per day: visitor ids change every UTC day, so a person who comes back on another day counts again.";

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

/// Half-widths of the intervals that hold a released figure's deliberate
/// noise with 95% probability (a figure of a longer period sums more cells,
/// and has wider margins; a time series gives its widest bucket's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Margins {
    /// Of each count of people (visitors, recipients).
    pub people: u64,
    /// Of each other count (page views, events, visits, bounces, opens).
    pub count: u64,
}

/// The figures of one period, released.
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
    pub margins: Margins,
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
    pub margins: Margins,
    pub notes: Vec<String>,
}

/// A row of a breakdown or of an email report's groups.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Row {
    pub value: String,
    /// Unique visitors (recipients, in email reports), released; null when
    /// withheld, and for `(other)`, where a person in several folded groups
    /// would count twice.
    pub unique: Option<u64>,
    /// Page views, visits, events or opens (see the report's `count`
    /// field), released; null when withheld (too few people).
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

impl Vocabulary for Counted {
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
    pub margins: Margins,
    pub notes: Vec<String>,
}

/// One goal's figures in one period, released; null when withheld (too few
/// converting visitors to show).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct GoalFigures {
    /// Visitors who reached the goal, once per UTC day.
    pub converting_visitors: Option<u64>,
    /// Custom events of the goal's name, or page views of its pages.
    pub conversions: Option<u64>,
    /// Percent of the period's visitors (with the report's filters) who
    /// reached the goal: converting visitors over visitors, both released.
    pub conversion_rate: Option<f64>,
}

/// One goal of a site.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct GoalRow {
    pub name: String,
    /// What reaches it: `event:<name>` or `page:<pattern>`.
    pub reached_by: String,
    pub current: GoalFigures,
    pub previous: GoalFigures,
    /// Percent change of converting visitors; null when either is withheld
    /// or the previous was zero.
    pub change: Option<f64>,
    /// Change of the conversion rate, in points.
    pub rate_change_points: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Goals {
    pub site: String,
    pub period: PeriodLabel,
    pub previous_period: PeriodLabel,
    pub filters: Vec<Filter>,
    /// Visitors in each period (with the filters): the rates' base. Null
    /// when withheld.
    pub visitors: Option<u64>,
    pub previous_visitors: Option<u64>,
    pub goals: Vec<GoalRow>,
    pub margins: Margins,
    pub notes: Vec<String>,
}

/// One step of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FunnelStep {
    /// 1 for the first.
    pub step: usize,
    /// What reaches it: `event:<name>` or `page:<pattern>`.
    pub reached_by: String,
    /// Visitors who reached this step after every one before it, the same
    /// UTC day; released, null when withheld.
    pub visitors: Option<u64>,
    /// Percent of the first step's visitors.
    pub of_first: Option<f64>,
    /// Percent of the previous step's visitors who did not reach this one
    /// (null for the first step).
    pub drop_off: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Funnel {
    pub site: String,
    pub funnel: String,
    pub period: PeriodLabel,
    pub steps: Vec<FunnelStep>,
    pub margins: Margins,
    pub notes: Vec<String>,
}

/// Hits not counted for one reason (and, for bots, one kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FilteredReason {
    /// `bot`, `referrer_spam`, `datacenter`, `unknown_site`, `unverified`,
    /// `invalid` or `rate_limited` (`/metrics`' `reason` label).
    pub reason: String,
    /// For bots: `crawler`, `library`, `headless`, `monitor` or
    /// `no_user_agent`; empty otherwise.
    pub kind: String,
    /// Released (noise added).
    pub hits: u64,
}

/// What the collector filtered out of a site's traffic.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FilteredTraffic {
    pub site: String,
    pub period: PeriodLabel,
    /// Every hit of the site not counted, released.
    pub total: u64,
    /// Every reason, in a fixed order, zeros included.
    pub reasons: Vec<FilteredReason>,
    pub margins: Margins,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EmailReport {
    pub campaign: String,
    pub period: PeriodLabel,
    /// Every figure is released, and `None` when its released recipients
    /// are under the threshold (a small campaign shows none of them).
    pub opens: Option<u64>,
    pub unique_opens: Option<u64>,
    pub proxied_opens: Option<u64>,
    pub direct_opens: Option<u64>,
    /// Recipients with at least one open that did not come through a proxy:
    /// the closest figure to "people who looked at the email".
    pub unique_direct_opens: Option<u64>,
    /// Clicks on the campaign's links by people: a mail scanner's are
    /// apart (`scanner_clicks`).
    pub clicks: Option<u64>,
    /// Recipients with a click by a person, once per campaign, in the
    /// period of their first.
    pub unique_clicks: Option<u64>,
    /// Percent: `unique_clicks` over `unique_direct_opens`, both released;
    /// null when either is withheld or there is no direct open. A reader
    /// whose client blocks images clicks without an open, so it may pass
    /// 100.
    pub click_to_open_rate: Option<f64>,
    /// Clicks that a mail scanner or prefetcher made (`by_signal` says
    /// which signal showed it).
    pub scanner_clicks: Option<u64>,
    /// Recipients with a scanner's click.
    pub unique_scanner_clicks: Option<u64>,
    pub by_day: Vec<Row>,
    pub by_client: Vec<Row>,
    pub by_country: Vec<Row>,
    /// People's clicks by link (host and path): `unique` counts clickers,
    /// `count` clicks.
    pub by_link: Vec<Row>,
    /// A scanner's clicks by the signal that flagged them (the first that
    /// applies: `honeypot`, `network`, `prefetch`, `agent`, `old_browser`,
    /// `near_honeypot`, `burst`, `early`).
    pub by_signal: Vec<Row>,
    pub margins: Margins,
    pub notes: Vec<String>,
}

/// One campaign in the list of campaigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CampaignRow {
    pub campaign: String,
    /// Null when withheld: its released recipients are under the threshold.
    pub opens: Option<u64>,
    pub unique_opens: Option<u64>,
    /// People's clicks (a scanner's left out); null when withheld: its
    /// released clickers are under the threshold.
    pub clicks: Option<u64>,
    pub unique_clicks: Option<u64>,
}

/// Every campaign, whatever the period, with its figures in the period,
/// newest id first (ids such as `2026-11-newsletter` sort by date). Listed
/// by name whatever their size and whenever they were opened: a name is the
/// sender's, and says nothing of who opened, or when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Campaigns {
    pub period: PeriodLabel,
    pub campaigns: Vec<CampaignRow>,
    pub margins: Margins,
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
    Goals(Goals),
    Funnel(Funnel),
    Filtered(FilteredTraffic),
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
            ReportKind::Goals => generator.subschema_for::<Goals>(),
            ReportKind::Funnel => generator.subschema_for::<Funnel>(),
            ReportKind::Filtered => generator.subschema_for::<FilteredTraffic>(),
            ReportKind::Email => generator.subschema_for::<EmailReport>(),
            ReportKind::Campaigns => generator.subschema_for::<Campaigns>(),
        }
    }
}
