//! The engine: answers any [`ReportRequest`] by running the statements of
//! `sql` (independent ones concurrently, identical ones in flight once),
//! which return exact counts per group and UTC day, and passing every
//! figure through the release step (`released`) before it shapes them.
//!
//! Owns: [`Reporter`], the one way to run a report. Its endpoints are the
//! reports' own, read-only ones (`Endpoints::for_reports`): it writes nothing.
//! Must never: return a row of `events`, `email_opens` or `email_clicks`,
//! or a figure that did not go through the release step: it answers
//! [`Released`] reports only.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use super::answer::{
    self, AnyReport, Breakdown, CampaignRow, Campaigns, Counted, EmailReport, FilteredReason,
    FilteredTraffic, FunnelStep, GoalFigures, GoalRow, Goals, NOTE_DAILY_IDS, Point, Row, Summary,
    SummaryChange, SummaryFigures, Timeseries,
};
use super::coalesce;
use super::error::{ReportError, mentions_time_zone};
use super::released::{self, Figure, Names, Released, Releaser, Span};
use super::request::{Details, ReportRequest};
use super::sql::{
    self, BucketRow, DayRow, FunnelDay, GoalDay, Key, LedgerDay, LocalDay, LocalPart, Measure,
    RolledUp, VisitDay, Window,
};
use super::suppress::{self, Group};
use super::vocabulary::{Dimension, Filter, Interval, Period, RequestError, invalid};
use crate::clock;
use crate::enrich::ua::BotKind;
use crate::goal::{
    Conversions, Goal, SiteConversions, Target, conversions_definition, steps_definition,
};
use crate::outcome::DropReason;
use crate::release::Mechanism;
use crate::store::clickhouse::Endpoints;
use crate::store::statement::Statement;

/// The label of hits without a value (no referrer, no campaign, unknown place).
const NONE: &str = "(none)";

/// The family of the cells of site reports: the cells of `released.daily`
/// (`rollup::DAILY_CELLS`) where they count the same.
const SITE_CELLS: &str = "daily";
/// The family of the cells of opens and clicks.
const EMAIL_CELLS: &str = "email";
/// The family of the cells of hits not counted.
const FILTERED_CELLS: &str = "filtered";

/// The reasons a site's page views and events are not counted for, in the
/// order the filtered-traffic report lists them (the pipeline's own losses,
/// a full spool or a damaged record, are the operator's: `/metrics`).
const FILTERED_REASONS: [DropReason; 7] = [
    DropReason::Bot,
    DropReason::ReferrerSpam,
    DropReason::Datacenter,
    DropReason::UnknownSite,
    DropReason::Unverified,
    DropReason::Invalid,
    DropReason::RateLimited,
];

/// The cells of people's clicks of a campaign: the email report's total,
/// and the campaigns list's.
const PEOPLE_CLICKS: Names<'static> = Names {
    dimension: "",
    value: "",
    people: "clickers",
    count: "clicks",
};

/// The notes on clicks.
const CLICKS_NOTE: &str = "Clicks are people's: a mail scanner's or prefetcher's (by_signal says which signal showed it) are counted apart. Unique clicks count recipients once per campaign, in the period of their first click.";

/// The cell dimension of a site report's total: the page-view total is
/// `released.daily`'s `''` row; the others count something else, so their
/// cells are their own.
fn total_dimension(measure: Measure) -> &'static str {
    match measure {
        Measure::Everything => "all",
        Measure::PageViews => "",
        Measure::CustomEvents => "event_total",
        Measure::Visits => "entry_total",
    }
}

/// The metric of a site report's count, in its cells.
fn count_metric(measure: Measure) -> &'static str {
    match measure {
        Measure::Visits => "visits",
        // `released.daily`'s column, which holds custom events in `name` rows.
        _ => "pageviews",
    }
}

/// Runs reports against ClickHouse, each statement on the first endpoint
/// that answers, and releases them.
#[derive(Clone)]
pub struct Reporter {
    endpoints: Endpoints,
    /// `None` until `reporting.noise_key` is set: then no report is answered.
    mechanism: Option<Mechanism>,
    /// What one visitor-day (or recipient-campaign) adds to a cell's count
    /// at most: `reporting.max_views_per_visitor_day`.
    views_cap: u64,
    /// Shared by the clones of a reporter, so reports asked for together
    /// share their identical statements.
    in_flight: Arc<coalesce::InFlight>,
    /// Each site's goals and funnels.
    conversions: Conversions,
}

impl Reporter {
    pub fn new(
        endpoints: Endpoints,
        mechanism: Option<Mechanism>,
        views_cap: u64,
        conversions: Conversions,
    ) -> Reporter {
        Reporter {
            endpoints,
            mechanism,
            views_cap,
            in_flight: Arc::default(),
            conversions,
        }
    }

    /// Runs any report request, released.
    pub async fn run(&self, request: &ReportRequest) -> Result<Released<AnyReport>, ReportError> {
        let mechanism = self.mechanism.as_ref().ok_or(ReportError::NoNoiseKey)?;
        let period = &request.period;
        // Reports count with goal filters by the goal's definition (its
        // cells do not change when it is renamed) and show them as asked.
        let report = match &request.details {
            Details::Summary { site, filters } => {
                let counted = self.by_definition(site, filters)?;
                let mut report = self.summary(mechanism, site, period, &counted).await?;
                report.filters.clone_from(filters);
                AnyReport::Summary(report)
            }
            Details::Timeseries {
                site,
                interval,
                filters,
            } => {
                let counted = self.by_definition(site, filters)?;
                let mut report = self
                    .timeseries(mechanism, site, period, *interval, &counted)
                    .await?;
                report.filters.clone_from(filters);
                AnyReport::Timeseries(report)
            }
            Details::Breakdown {
                site,
                dimension,
                filters,
                limit,
            } => {
                let counted = self.by_definition(site, filters)?;
                let mut report = self
                    .breakdown(mechanism, site, period, *dimension, &counted, *limit)
                    .await?;
                report.filters.clone_from(filters);
                AnyReport::Breakdown(report)
            }
            Details::Goals { site, filters } => {
                let counted = self.by_definition(site, filters)?;
                let mut report = self.goals(mechanism, site, period, &counted).await?;
                report.filters.clone_from(filters);
                AnyReport::Goals(report)
            }
            Details::Funnel { site, funnel } => {
                AnyReport::Funnel(self.funnel(mechanism, site, period, funnel).await?)
            }
            Details::Filtered { site } => {
                AnyReport::Filtered(self.filtered(mechanism, site, period).await?)
            }
            Details::Email { campaign, limit } => {
                AnyReport::Email(self.email(mechanism, campaign, period, *limit).await?)
            }
            Details::Campaigns => AnyReport::Campaigns(self.campaigns(mechanism, period).await?),
        };
        Ok(Released::new(report))
    }

    /// The site's goals and funnels (none for a site without).
    fn conversions_of(&self, site: &str) -> &SiteConversions {
        static NONE: SiteConversions = SiteConversions {
            goals: Vec::new(),
            funnels: Vec::new(),
        };
        self.conversions.get(site).unwrap_or(&NONE)
    }

    /// `filters` with each goal's name replaced by its definition, as
    /// `sql` reads a goal filter; a name the site has no goal of is refused.
    fn by_definition(&self, site: &str, filters: &[Filter]) -> Result<Vec<Filter>, RequestError> {
        let conversions = self.conversions_of(site);
        filters
            .iter()
            .map(|filter| {
                if filter.dimension != Dimension::Goal {
                    return Ok(filter.clone());
                }
                let goal = conversions.goal(&filter.value).ok_or_else(|| {
                    invalid(
                        "filter",
                        &filter.to_string(),
                        unknown("goal", conversions.goals.iter().map(|g| g.name.as_str())),
                    )
                })?;
                Ok(Filter {
                    value: goal.target.definition(),
                    ..filter.clone()
                })
            })
            .collect()
    }

    fn releaser<'a>(
        &self,
        mechanism: &'a Mechanism,
        family: &'a str,
        subject: &'a str,
        filters: &'a str,
    ) -> Releaser<'a> {
        Releaser {
            mechanism,
            views_cap: self.views_cap,
            family,
            subject,
            filters,
        }
    }

    async fn summary(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
        filters: &[Filter],
    ) -> Result<Summary, ReportError> {
        let previous_period = previous(period)?;
        let canonical = released::canonical_filters(filters);
        let releaser = self.releaser(mechanism, SITE_CELLS, site, &canonical);
        let ((current, cells), (previous, _)) = tokio::try_join!(
            self.figures(&releaser, period, filters),
            self.figures(&releaser, &previous_period, filters)
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
        notes.push("Visits and bounces are counted from page views: a visit ends after 30 minutes without one, and at UTC midnight; views per visit and the bounce rate are worked out from the released figures.".into());
        notes.push(self.noise_note(&releaser, cells, "visitors"));
        if !filters.is_empty() {
            notes.push(self.withheld_note(&releaser, cells, "visitors"));
        }
        Ok(Summary {
            site: site.into(),
            period: period.into(),
            previous_period: (&previous_period).into(),
            filters: filters.to_vec(),
            current,
            previous,
            change,
            margins: releaser.margins(cells),
            notes,
        })
    }

    /// One period's released figures, and how many cells each sums; `None`
    /// when filters leave too few visitors to show.
    async fn figures(
        &self,
        releaser: &Releaser<'_>,
        period: &Period,
        filters: &[Filter],
    ) -> Result<(Option<SummaryFigures>, usize), ReportError> {
        let (window, rolled_up) = self.window(releaser.subject, period).await?;
        let totals = sql::site(
            &window,
            &rolled_up,
            &Key::Nothing,
            Measure::Everything,
            filters,
            self.views_cap,
        );
        let (days, visits): (Vec<DayRow>, Vec<VisitDay>) = tokio::try_join!(
            self.fetch_all(totals.by_day()),
            self.fetch_all(sql::visits(&window, &rolled_up, filters, self.views_cap))
        )?;
        let spans = released::spans(window.start, window.end);
        let total = Names {
            dimension: total_dimension(Measure::Everything),
            value: "",
            people: "visitors",
            count: "pageviews",
        };
        let figure = releaser.group(total, &spans, &days, filters.is_empty());
        if !figure.shown {
            return Ok((None, spans.len()));
        }
        let released = |count, pick: fn(&VisitDay) -> u64| {
            let days: Vec<(u16, u64)> = visits.iter().map(|v| (v.day_number, pick(v))).collect();
            releaser.count(Names { count, ..total }, &spans, &days)
        };
        let released_visits = released("visits", |v| v.visits);
        let bounces = released("bounces", |v| v.bounces);
        Ok((
            Some(SummaryFigures {
                visitors: figure.people,
                pageviews: figure.count,
                visits: released_visits,
                views_per_visit: round2(ratio(figure.count, released_visits)),
                bounce_rate: round2(100.0 * ratio(bounces, released_visits).min(1.0)),
            }),
            spans.len(),
        ))
    }

    async fn timeseries(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
        interval: Interval,
        filters: &[Filter],
    ) -> Result<Timeseries, ReportError> {
        let (window, mut rolled_up) = self.window(site, period).await?;
        let buckets: Vec<BucketRow> = self.fetch_all(sql::buckets(&window, interval)).await?;
        if interval == Interval::Hour && buckets.len() < window.hours() as usize {
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
            self.views_cap,
        );
        let rows: Vec<DayRow> = self.fetch_all(aggregation.by_day()).await?;
        let by_bucket = grouped(rows);
        let canonical = released::canonical_filters(filters);
        let releaser = self.releaser(mechanism, SITE_CELLS, site, &canonical);
        let names = Names {
            dimension: total_dimension(Measure::Everything),
            value: "",
            people: "visitors",
            count: "pageviews",
        };
        let mut widest = 0;
        let points = bucket_spans(&buckets, window.end)
            .map(|(label, spans)| {
                widest = widest.max(spans.len());
                let days = by_bucket.get(label).map_or(&[][..], Vec::as_slice);
                let figure = releaser.group(names, &spans, days, filters.is_empty());
                Point {
                    bucket: label.to_string(),
                    visitors: figure.people(),
                    pageviews: figure.count(),
                }
            })
            .collect();
        let mut notes = vec![NOTE_DAILY_IDS.to_string()];
        notes.push(self.noise_note(&releaser, widest, "visitors"));
        if !filters.is_empty() {
            notes.push(self.withheld_note(&releaser, widest, "visitors"));
        }
        Ok(Timeseries {
            site: site.into(),
            period: period.into(),
            interval,
            filters: filters.to_vec(),
            points,
            margins: releaser.margins(widest),
            notes,
        })
    }

    async fn breakdown(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
        dimension: Dimension,
        filters: &[Filter],
        limit: usize,
    ) -> Result<Breakdown, ReportError> {
        let (window, rolled_up) = self.window(site, period).await?;
        // Properties come with custom events (the tracker's own and
        // `beaconhouse(name, props)`): their breakdown counts those.
        let (measure, count) = match dimension {
            Dimension::Name | Dimension::Prop(_) => (Measure::CustomEvents, Counted::Events),
            Dimension::EntryPage => (Measure::Visits, Counted::Visits),
            _ => (Measure::PageViews, Counted::Pageviews),
        };
        let groups = sql::site(
            &window,
            &rolled_up,
            &Key::Dimension(dimension),
            measure,
            filters,
            self.views_cap,
        );
        let total = sql::site(
            &window,
            &rolled_up,
            &Key::Nothing,
            measure,
            filters,
            self.views_cap,
        );
        let (totals, groups): (Vec<DayRow>, Vec<DayRow>) = tokio::try_join!(
            self.fetch_all(total.by_day()),
            self.fetch_all(groups.by_day())
        )?;
        let spans = released::spans(window.start, window.end);
        let canonical = released::canonical_filters(filters);
        let releaser = self.releaser(mechanism, SITE_CELLS, site, &canonical);
        let dimension_name = dimension.name();
        let names = Names {
            dimension: &dimension_name,
            value: "",
            people: "visitors",
            count: count_metric(measure),
        };
        // Without filters the total is the whole site's, shown whatever its
        // size; with them it is a figure like any other.
        let total = releaser.group(
            Names {
                dimension: total_dimension(measure),
                ..names
            },
            &spans,
            &totals,
            filters.is_empty(),
        );
        let groups = release_groups(&releaser, names, &spans, groups);
        let rows = self.rows(groups, &total, limit);
        let mut notes = vec![
            NOTE_DAILY_IDS.to_string(),
            self.noise_note(&releaser, spans.len(), "visitors"),
            self.withheld_note(&releaser, spans.len(), "visitors"),
            self.folded_note("visitors"),
        ];
        if dimension == Dimension::EntryPage {
            notes.push("Visits are counted by the page they began on.".into());
        }
        Ok(Breakdown {
            site: site.into(),
            period: period.into(),
            dimension,
            filters: filters.to_vec(),
            count,
            total: row(
                "(total)".into(),
                total.people(),
                total.count(),
                total.people,
            ),
            rows,
            margins: releaser.margins(spans.len()),
            notes,
        })
    }

    async fn goals(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
        filters: &[Filter],
    ) -> Result<Goals, ReportError> {
        let previous_period = previous(period)?;
        let goals = &self.conversions_of(site).goals;
        let ((visitors, current, cells), (previous_visitors, previous, _)) = tokio::try_join!(
            self.goal_figures(mechanism, site, period, filters, goals),
            self.goal_figures(mechanism, site, &previous_period, filters, goals)
        )?;
        let rows = goals
            .iter()
            .zip(current.into_iter().zip(previous))
            .map(|(goal, (current, previous))| GoalRow {
                name: goal.name.clone(),
                reached_by: goal.target.definition(),
                change: current
                    .converting_visitors
                    .zip(previous.converting_visitors)
                    .and_then(|(c, p)| percent_change(c as f64, p as f64)),
                rate_change_points: current
                    .conversion_rate
                    .zip(previous.conversion_rate)
                    .map(|(c, p)| round2(c - p)),
                current,
                previous,
            })
            .collect();
        let canonical = released::canonical_filters(filters);
        let releaser = self.releaser(mechanism, SITE_CELLS, site, &canonical);
        let mut notes = vec![
            NOTE_DAILY_IDS.to_string(),
            "A visitor converts when they reach the goal within the same UTC day (visitor ids change daily): a person who comes back to convert on another day counts as two visitors, one of whom converted. The conversion rate is converting visitors over visitors, both released.".into(),
            self.noise_note(&releaser, cells, "visitors"),
            self.withheld_note(&releaser, cells, "visitors"),
        ];
        if goals.is_empty() {
            notes.push("The site defines no goals: add [[sites.goals]] to the configuration (README, \"Goals and funnels\").".into());
        }
        Ok(Goals {
            site: site.into(),
            period: period.into(),
            previous_period: (&previous_period).into(),
            filters: filters.to_vec(),
            visitors,
            previous_visitors,
            goals: rows,
            margins: releaser.margins(cells),
            notes,
        })
    }

    /// One period's released visitors (with the filters), each goal's
    /// figures, and how many cells each sums. A goal's figures are those of
    /// its events (or page views) with the filters: the same cells as a
    /// report filtered by its event name or path.
    async fn goal_figures(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
        filters: &[Filter],
        goals: &[Goal],
    ) -> Result<(Option<u64>, Vec<GoalFigures>, usize), ReportError> {
        let window = self.bounds(site, period).await?;
        let (first, last) = (clock::day_of(window.start), clock::day_of(window.end));
        // Without other filters one statement counts the visitors and every
        // goal (`sql::goals`): a goal's whole days from its rolled-up rows,
        // on the days the ledger holds too.
        let unfiltered = filters.is_empty() && !goals.is_empty();
        let (rolled_up, goal_days) = tokio::try_join!(self.rolled_up(&window), async {
            if unfiltered {
                self.fetch_all::<GoalDay>(sql::rolled_up_goal_days(
                    site,
                    first,
                    last,
                    self.views_cap,
                ))
                .await
            } else {
                Ok(Vec::new())
            }
        })?;
        let aggregation = |measure, filters: &[Filter]| {
            sql::site(
                &window,
                &rolled_up,
                &Key::Nothing,
                measure,
                filters,
                self.views_cap,
            )
            .by_day()
        };
        let reaching: Vec<(Measure, Vec<Filter>)> = goals
            .iter()
            .map(|goal| {
                let (measure, filter) = sql::reaching(&goal.target);
                (measure, filters.iter().cloned().chain([filter]).collect())
            })
            .collect();
        let (visitor_days, goal_days): (Vec<DayRow>, Vec<Vec<DayRow>>) = if unfiltered {
            let definitions: Vec<String> = goals.iter().map(|g| g.target.definition()).collect();
            let days: Vec<Vec<u16>> = definitions
                .iter()
                .map(|definition| {
                    goal_days
                        .iter()
                        .filter(|d| {
                            d.goal == *definition && rolled_up.stats.contains(&d.day_number)
                        })
                        .map(|d| d.day_number)
                        .collect()
                })
                .collect();
            let targets: Vec<(&Target, &[u16])> = goals
                .iter()
                .zip(&days)
                .map(|(goal, days)| (&goal.target, &days[..]))
                .collect();
            let rows: Vec<DayRow> = self
                .fetch_all(sql::goals(&window, &rolled_up, &targets, self.views_cap).by_day())
                .await?;
            let keyed = |key: &str| -> Vec<DayRow> {
                rows.iter()
                    .filter(|row| row.group_key == key)
                    .cloned()
                    .collect()
            };
            (keyed(""), definitions.iter().map(|d| keyed(d)).collect())
        } else {
            let statements = reaching
                .iter()
                .map(|(measure, with_goal)| self.fetch_all(aggregation(*measure, with_goal)));
            tokio::try_join!(
                self.fetch_all(aggregation(Measure::Everything, filters)),
                futures_util::future::try_join_all(statements)
            )?
        };
        let spans = released::spans(window.start, window.end);
        let canonical = released::canonical_filters(filters);
        let visitors = self
            .releaser(mechanism, SITE_CELLS, site, &canonical)
            .group(
                Names {
                    dimension: total_dimension(Measure::Everything),
                    value: "",
                    people: "visitors",
                    count: "pageviews",
                },
                &spans,
                &visitor_days,
                filters.is_empty(),
            )
            .people();
        let figures = reaching
            .iter()
            .zip(&goal_days)
            .map(|((measure, filters), days)| {
                let canonical = released::canonical_filters(filters);
                let figure = self
                    .releaser(mechanism, SITE_CELLS, site, &canonical)
                    .group(
                        Names {
                            dimension: total_dimension(*measure),
                            value: "",
                            people: "visitors",
                            count: count_metric(*measure),
                        },
                        &spans,
                        days,
                        false,
                    );
                GoalFigures {
                    converting_visitors: figure.people(),
                    conversions: figure.count(),
                    conversion_rate: figure
                        .people()
                        .zip(visitors)
                        .filter(|(_, all)| *all > 0)
                        .map(|(converting, all)| round2(100.0 * ratio(converting, all).min(1.0))),
                }
            })
            .collect();
        Ok((visitors, figures, spans.len()))
    }

    async fn funnel(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
        name: &str,
    ) -> Result<answer::Funnel, ReportError> {
        let conversions = self.conversions_of(site);
        let funnel = conversions.funnel(name).ok_or_else(|| {
            invalid(
                "funnel",
                name,
                unknown(
                    "funnel",
                    conversions.funnels.iter().map(|f| f.name.as_str()),
                ),
            )
        })?;
        let (window, rolled_up) = self.window(site, period).await?;
        // Whole days come from the funnel's rolled-up rows, on the days the
        // ledger holds too.
        let (first, last) = (clock::day_of(window.start), clock::day_of(window.end));
        let held: Vec<FunnelDay> = self
            .fetch_all(sql::rolled_up_funnel_days(site, first, last))
            .await?;
        let definition = steps_definition(&funnel.steps);
        let days: Vec<u16> = held
            .iter()
            .filter(|d| d.funnel == definition && rolled_up.stats.contains(&d.day_number))
            .map(|d| d.day_number)
            .collect();
        let levels: Vec<DayRow> = self
            .fetch_all(sql::funnel(&window, &rolled_up, &days, &funnel.steps).by_day())
            .await?;
        let spans = released::spans(window.start, window.end);
        // Each step's cells are named by every step up to it: a funnel
        // that shares its first steps with another shares their figures.
        let mut reached: Vec<Option<u64>> = Vec::new();
        let mut steps = Vec::new();
        for (i, step) in funnel.steps.iter().enumerate() {
            let level = i + 1;
            let path = steps_definition(&funnel.steps[..level]);
            let days = reached_days(&levels, level);
            let figure = self.releaser(mechanism, SITE_CELLS, site, &path).group(
                Names {
                    dimension: "funnel_step",
                    value: "",
                    people: "visitors",
                    count: "events",
                },
                &spans,
                &days,
                false,
            );
            let visitors = figure.people();
            let first = reached.first().copied().flatten().or(visitors);
            let before = reached.last().copied().flatten();
            steps.push(FunnelStep {
                step: level,
                reached_by: step.definition(),
                visitors,
                of_first: visitors
                    .zip(first)
                    .filter(|(_, first)| *first > 0)
                    .map(|(v, first)| round2(100.0 * ratio(v, first).min(1.0))),
                drop_off: visitors
                    .zip(before)
                    .filter(|(_, before)| *before > 0)
                    .map(|(v, before)| round2(100.0 * (1.0 - ratio(v, before).min(1.0)))),
            });
            reached.push(visitors);
        }
        let releaser = self.releaser(mechanism, SITE_CELLS, site, "");
        Ok(answer::Funnel {
            site: site.into(),
            funnel: funnel.name.clone(),
            period: period.into(),
            steps,
            margins: releaser.margins(spans.len()),
            notes: vec![
                NOTE_DAILY_IDS.to_string(),
                "A visitor reaches a step when they reached every step before it, in order, the same UTC day.".into(),
                self.noise_note(&releaser, spans.len(), "visitors"),
                self.withheld_note(&releaser, spans.len(), "visitors"),
            ],
        })
    }

    async fn filtered(
        &self,
        mechanism: &Mechanism,
        site: &str,
        period: &Period,
    ) -> Result<FilteredTraffic, ReportError> {
        let window = self.bounds(site, period).await?;
        let rows: Vec<DayRow> = self.fetch_all(sql::filtered(&window).by_day()).await?;
        let by_key = grouped(rows);
        let spans = released::spans(window.start, window.end);
        let releaser = self.releaser(mechanism, FILTERED_CELLS, site, "");
        let released = |value: &str, days: &[DayRow]| {
            let days: Vec<(u16, u64)> = days.iter().map(|d| (d.day_number, d.count)).collect();
            let names = Names {
                dimension: "reason",
                value,
                people: "",
                count: "hits",
            };
            releaser.count(names, &spans, &days)
        };
        let reasons: Vec<FilteredReason> = FILTERED_REASONS
            .iter()
            .flat_map(|&reason| {
                let kinds: Vec<&str> = match reason {
                    DropReason::Bot => BotKind::ALL.iter().map(|k| k.label()).collect(),
                    _ => vec![""],
                };
                kinds.into_iter().map(move |kind| (reason.label(), kind))
            })
            .map(|(reason, kind)| {
                let key = format!("{reason}:{kind}");
                let days = by_key.get(&key).map_or(&[][..], Vec::as_slice);
                FilteredReason {
                    reason: reason.into(),
                    kind: kind.into(),
                    hits: released(&key, days),
                }
            })
            .collect();
        // The total is a cell of its own, not the sum of the rows' noise.
        let mut all: BTreeMap<u16, u64> = BTreeMap::new();
        for row in by_key.values().flatten() {
            *all.entry(row.day_number).or_default() += row.count;
        }
        let all: Vec<DayRow> = all
            .into_iter()
            .map(|(day_number, count)| DayRow {
                group_key: String::new(),
                day_number,
                unique: 0,
                count,
            })
            .collect();
        Ok(FilteredTraffic {
            site: site.into(),
            period: period.into(),
            total: released("", &all),
            reasons,
            margins: releaser.margins(spans.len()),
            notes: vec![
                "Hits the collector answered but did not count, so that the figures are of people: bots (by kind), referrer spam, data-centre networks (when listed), pages that are not the site's, hits that cannot show they came from the site, malformed ones, and clients over the rate limit. Requests with Do-Not-Track or Global Privacy Control are not here: they are counted nowhere.".into(),
                "Counted per hour: a period is counted from the hour its first day begins in. Each count carries noise, as every figure does.".into(),
            ],
        })
    }

    async fn email(
        &self,
        mechanism: &Mechanism,
        campaign: &str,
        period: &Period,
        limit: usize,
    ) -> Result<EmailReport, ReportError> {
        let window = self.bounds(campaign, period).await?;
        let cap = self.views_cap;
        let (totals, by_proxy, by_day, buckets, by_client, by_country, clicks) = tokio::try_join!(
            self.fetch_all::<DayRow>(sql::email(&window, &Key::Nothing, cap).by_day()),
            self.fetch_all::<DayRow>(sql::email(&window, &Key::Proxied, cap).by_day()),
            self.fetch_all::<DayRow>(sql::email(&window, &Key::Day, cap).by_day()),
            self.fetch_all::<BucketRow>(sql::buckets(&window, Interval::Day)),
            self.fetch_all::<DayRow>(sql::email(&window, &Key::Client, cap).by_day()),
            self.fetch_all::<DayRow>(sql::email(&window, &Key::Country, cap).by_day()),
            self.fetch_all::<DayRow>(sql::clicks(&window, cap).by_day()),
        )?;
        let spans = released::spans(window.start, window.end);
        let releaser = self.releaser(mechanism, EMAIL_CELLS, campaign, "");
        let names = |dimension| Names {
            dimension,
            value: "",
            people: "recipients",
            count: "opens",
        };
        let total = releaser.group(names(""), &spans, &totals, false);
        let by_proxy = grouped(by_proxy);
        let proxied = |flag: &str| {
            let days = by_proxy.get(flag).map_or(&[][..], Vec::as_slice);
            let names = Names {
                value: flag,
                ..names("proxied")
            };
            releaser.group(names, &spans, days, false)
        };
        let (proxied, direct) = (proxied("1"), proxied("0"));
        let by_day = grouped(by_day);
        let mut widest = spans.len();
        let by_day: Vec<Row> = bucket_spans(&buckets, window.end)
            .map(|(label, day_spans)| {
                widest = widest.max(day_spans.len());
                let days = by_day.get(label).map_or(&[][..], Vec::as_slice);
                let names = Names {
                    value: label,
                    ..names("day")
                };
                let figure = releaser.group(names, &day_spans, days, false);
                row(
                    label.to_string(),
                    figure.people(),
                    figure.count(),
                    total.people,
                )
            })
            .collect();
        let rows = |groups, dimension| {
            let released = release_groups(&releaser, names(dimension), &spans, groups);
            self.rows(released, &total, limit)
        };
        // Clicks: people's and a scanner's, each with its groups.
        let mut clicks = grouped(clicks);
        let mut take = |key: &str| clicks.remove(key).unwrap_or_default();
        let (people, scanners) = (take("people"), take("scanner"));
        let people = releaser.group(PEOPLE_CLICKS, &spans, &people, false);
        let scanner_names = Names {
            dimension: "scanner",
            ..PEOPLE_CLICKS
        };
        let scanners = releaser.group(scanner_names, &spans, &scanners, false);
        let mut by_link = Vec::new();
        let mut by_signal = Vec::new();
        for (key, days) in clicks {
            let (rows, prefix) = if key.starts_with(sql::LINK_PREFIX) {
                (&mut by_link, sql::LINK_PREFIX)
            } else {
                (&mut by_signal, sql::SIGNAL_PREFIX)
            };
            rows.extend(days.into_iter().map(|day| DayRow {
                group_key: day.group_key[prefix.len()..].to_string(),
                ..day
            }));
        }
        let click_rows = |groups, dimension, total: &Figure| {
            let names = Names {
                dimension,
                ..PEOPLE_CLICKS
            };
            self.rows(
                release_groups(&releaser, names, &spans, groups),
                total,
                limit,
            )
        };
        let click_to_open_rate = people
            .people()
            .zip(direct.people())
            .filter(|(_, opened)| *opened > 0)
            .map(|(clicked, opened)| round2(100.0 * ratio(clicked, opened)));
        Ok(EmailReport {
            campaign: campaign.into(),
            period: period.into(),
            opens: total.count(),
            unique_opens: total.people(),
            proxied_opens: proxied.count(),
            direct_opens: direct.count(),
            unique_direct_opens: direct.people(),
            clicks: people.count(),
            unique_clicks: people.people(),
            click_to_open_rate,
            scanner_clicks: scanners.count(),
            unique_scanner_clicks: scanners.people(),
            by_day,
            by_client: rows(by_client, "client"),
            by_country: rows(by_country, "country"),
            by_link: click_rows(by_link, "link", &people),
            by_signal: click_rows(by_signal, "signal", &scanners),
            margins: releaser.margins(widest),
            notes: vec![
                "Unique opens count recipients once per campaign, in the period of their first open.".into(),
                "Proxied opens were fetched by a mail provider (Gmail's image proxy, Apple Mail Privacy Protection, Yahoo): they show delivery, not that a person looked.".into(),
                CLICKS_NOTE.into(),
                "The click-to-open rate is the recipients who clicked over those who opened directly; a reader whose mail client blocks images clicks without an open, so it may pass 100%.".into(),
                self.noise_note(&releaser, widest, "recipients"),
                self.withheld_note(&releaser, widest, "recipients"),
                self.folded_note("recipients"),
            ],
        })
    }

    async fn campaigns(
        &self,
        mechanism: &Mechanism,
        period: &Period,
    ) -> Result<Campaigns, ReportError> {
        let window = self.bounds("", period).await?;
        let (names, rows, clicks): (Vec<String>, Vec<DayRow>, Vec<DayRow>) = tokio::try_join!(
            self.fetch_all(sql::campaign_names()),
            self.fetch_all(sql::email(&window, &Key::Campaign, self.views_cap).by_day()),
            self.fetch_all(sql::campaign_clicks(&window, self.views_cap).by_day()),
        )?;
        let spans = released::spans(window.start, window.end);
        let by_campaign = grouped(rows);
        let clicks_by_campaign = grouped(clicks);
        let mut margins = None;
        let campaigns = names
            .into_iter()
            .map(|campaign| {
                let releaser = self.releaser(mechanism, EMAIL_CELLS, &campaign, "");
                margins.get_or_insert_with(|| releaser.margins(spans.len()));
                let days = by_campaign.get(&campaign).map_or(&[][..], Vec::as_slice);
                let names = Names {
                    dimension: "",
                    value: "",
                    people: "recipients",
                    count: "opens",
                };
                let figure = releaser.group(names, &spans, days, false);
                let days = clicks_by_campaign
                    .get(&campaign)
                    .map_or(&[][..], Vec::as_slice);
                let clicks = releaser.group(PEOPLE_CLICKS, &spans, days, false);
                CampaignRow {
                    opens: figure.count(),
                    unique_opens: figure.people(),
                    clicks: clicks.count(),
                    unique_clicks: clicks.people(),
                    campaign,
                }
            })
            .collect();
        let releaser = self.releaser(mechanism, EMAIL_CELLS, "", "");
        Ok(Campaigns {
            period: period.into(),
            campaigns,
            margins: margins.unwrap_or_else(|| releaser.margins(spans.len())),
            notes: vec![
                "Unique opens count recipients once per campaign, in the period of their first open; opens include proxied ones.".into(),
                CLICKS_NOTE.into(),
                self.noise_note(&releaser, spans.len(), "recipients"),
                self.withheld_note(&releaser, spans.len(), "recipients"),
            ],
        })
    }

    /// The rows a grouped report shows, with `(other)` for the rest.
    fn rows(&self, groups: Vec<Group>, total: &Figure, limit: usize) -> Vec<Row> {
        let folded = suppress::fold(groups, total, limit);
        let mut rows: Vec<Row> = folded
            .shown
            .into_iter()
            .map(|g| {
                let value = if g.key.is_empty() {
                    NONE.to_string()
                } else {
                    g.key
                };
                row(value, g.figure.people(), g.figure.count(), total.people)
            })
            .collect();
        rows.push(row(
            suppress::OTHER.into(),
            None,
            folded.other,
            total.people,
        ));
        rows
    }

    /// The period's window, and the days in it that the daily rollups hold.
    async fn window(&self, site: &str, period: &Period) -> Result<(Window, RolledUp), ReportError> {
        let window = self.bounds(site, period).await?;
        let rolled_up = self.rolled_up(&window).await?;
        Ok((window, rolled_up))
    }

    /// The days of `window` the rollup tables hold, per the ledgers. A
    /// part of a day from the site's local midnight counts only of
    /// yesterday and today, which the rollup keeps current
    /// (`rollup::local_parts`), and only when counted with the site's
    /// goals and funnels as they are now.
    async fn rolled_up(&self, window: &Window) -> Result<RolledUp, ReportError> {
        let (first, last) = (clock::day_of(window.start), clock::day_of(window.end));
        let kept_from = sql::first_local_day(clock::day_of(clock::now_unix()));
        let (ledger, local): (Vec<LedgerDay>, Vec<LocalDay>) = tokio::try_join!(
            self.fetch_all(sql::rolled_up_days(first, last, self.views_cap)),
            self.fetch_all(sql::local_days(
                Some(&window.subject),
                first.max(kept_from),
                last,
                self.views_cap,
            )),
        )?;
        let conversions = self.conversions_of(&window.subject);
        let current = conversions_definition(
            conversions.goals.iter().map(|g| &g.target),
            conversions.funnels.iter().map(|f| &f.steps[..]),
        );
        let local: Vec<LocalPart> = local
            .iter()
            .filter(|day| day.conversions == current)
            .map(LocalDay::part)
            .collect();
        Ok(RolledUp::from_ledger(&ledger, &local, window))
    }

    /// Resolves the period's local midnights to UTC instants, the end no
    /// later than the last complete hour.
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
        // Only cells that are complete are released: a cell whose count
        // still grows, under noise that stays the same, would give away each
        // hit that lands in it between two answers.
        let complete = released::complete_until(clock::now_unix());
        Ok(Window {
            subject: subject.into(),
            start: bounds.start,
            end: bounds.end.min(complete).max(bounds.start),
            time_zone: period.time_zone.clone(),
        })
    }

    fn folded_note(&self, people: &str) -> String {
        format!(
            "Withheld groups, and groups past the row limit, are folded into \"{}\", always listed, which counts what the total holds beyond the rows shown but not its {people} (a person in two groups would count twice).",
            suppress::OTHER,
        )
    }

    fn withheld_note(&self, releaser: &Releaser<'_>, cells: usize, people: &str) -> String {
        format!(
            "A figure whose released {people} are fewer than {} is withheld (null, printed -), whatever it was, zero included: a withheld figure says nothing about how small it was, and a group of one person looks like no group.",
            releaser.threshold(cells)
        )
    }

    fn noise_note(&self, releaser: &Releaser<'_>, cells: usize, people: &str) -> String {
        let margins = releaser.margins(cells);
        format!(
            "Figures are rounded by design: each carries deliberate random noise, the same every time it is asked, so that no figure gives a person away; 95% of {people} figures are within {} of the exact count, and 95% of the other counts within {} (see `margins`).",
            margins.people, margins.count
        )
    }

    async fn fetch_all<T>(&self, statement: Statement) -> Result<Vec<T>, ReportError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead + Clone + Send + Sync + 'static,
    {
        self.coalesced(statement, |endpoints, statement| async move {
            endpoints.fetch_all(&statement).await
        })
        .await
    }

    async fn fetch_one<T>(&self, statement: Statement) -> Result<T, ReportError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead + Clone + Send + Sync + 'static,
    {
        self.coalesced(statement, |endpoints, statement| async move {
            endpoints.fetch_one(&statement).await
        })
        .await
    }

    /// Runs `statement` once for every report that awaits the same one at
    /// the same time (`coalesce`), reading its answer with `fetch`. Dropped
    /// by every report that awaited it, the statement is killed.
    async fn coalesced<O, F, Fut>(&self, statement: Statement, fetch: F) -> Result<O, ReportError>
    where
        O: Clone + Send + Sync + 'static,
        F: FnOnce(Endpoints, Statement) -> Fut,
        Fut: Future<Output = Result<O, clickhouse::error::Error>> + Send + 'static,
    {
        let key = format!("{:?}", (&statement.text, &statement.binds));
        let execution = fetch(self.endpoints.clone(), statement.cancellable());
        self.in_flight
            .run(key, async move { Ok(execution.await?) })
            .await
    }
}

/// Each bucket's label and cells: a bucket runs from its start to the next
/// bucket's (the last to `end`).
fn bucket_spans(buckets: &[BucketRow], end: u32) -> impl Iterator<Item = (&str, Vec<Span>)> {
    buckets.iter().enumerate().map(move |(i, bucket)| {
        let until = buckets.get(i + 1).map_or(end, |next| next.start);
        (
            bucket.group_key.as_str(),
            released::spans(bucket.start, until),
        )
    })
}

/// Rows by group key, each group's days in order (as they come).
fn grouped(rows: Vec<DayRow>) -> BTreeMap<String, Vec<DayRow>> {
    let mut groups: BTreeMap<String, Vec<DayRow>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.group_key.clone()).or_default().push(row);
    }
    groups
}

/// Every group of a breakdown, released over `spans`. A group counted over
/// one person-day at most is left out without drawing its noise: released,
/// it would show with probability at most δ (`released`), so leaving it out
/// changes an answer no more often than that, and the long tail of one-off
/// values costs nothing.
///
/// The rows come ordered by group and day (`Aggregation::by_day`), so a
/// group is a run of them: no map of the thousands of groups of a long tail.
fn release_groups(
    releaser: &Releaser<'_>,
    names: Names<'_>,
    spans: &[Span],
    mut rows: Vec<DayRow>,
) -> Vec<Group> {
    let by_group_then_day =
        |a: &DayRow, b: &DayRow| (&a.group_key, a.day_number).cmp(&(&b.group_key, b.day_number));
    if !rows.is_sorted_by(|a, b| by_group_then_day(a, b).is_le()) {
        rows.sort_unstable_by(by_group_then_day);
    }
    rows.chunk_by(|a, b| a.group_key == b.group_key)
        .filter(|days| days.iter().map(|d| d.unique).sum::<u64>() > 1)
        .map(|days| {
            let key = days[0].group_key.clone();
            let names = Names {
                value: &key,
                ..names
            };
            let figure = releaser.group(names, spans, days, false);
            Group { key, figure }
        })
        .collect()
}

fn row(value: String, unique: Option<u64>, count: Option<u64>, total_unique: u64) -> Row {
    Row {
        value,
        unique,
        count,
        share: unique.map(|u| round2(100.0 * ratio(u, total_unique))),
    }
}

/// The period of the same length before `period`, which summaries and goals
/// compare with.
fn previous(period: &Period) -> Result<Period, RequestError> {
    period.previous().ok_or_else(|| RequestError::Invalid {
        key: "from",
        value: period.from.to_string(),
        problem: "the previous period would start before 1970".into(),
    })
}

/// Per UTC day, the visitors whose funnel level (`group_key`) is at least
/// `level`.
fn reached_days(levels: &[DayRow], level: usize) -> Vec<DayRow> {
    let mut by_day: BTreeMap<u16, u64> = BTreeMap::new();
    for row in levels {
        if row.group_key.parse::<usize>().is_ok_and(|l| l >= level) {
            *by_day.entry(row.day_number).or_default() += row.unique;
        }
    }
    by_day
        .into_iter()
        .map(|(day_number, unique)| DayRow {
            group_key: level.to_string(),
            day_number,
            unique,
            count: 0,
        })
        .collect()
}

/// What a request naming an unknown goal or funnel is told.
fn unknown<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        format!(
            "the site defines no {what}s; add them under [[sites.{what}s]] (README, \"Goals and funnels\")"
        )
    } else {
        format!(
            "the site has no {what} of this name; use one of: {}",
            names.join(", ")
        )
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
    fn each_bucket_runs_to_the_next() {
        let day = 20_758u32 * 86_400;
        let buckets = [
            BucketRow {
                group_key: "2026-11-01".into(),
                start: day + 6 * 3600,
            },
            BucketRow {
                group_key: "2026-11-02".into(),
                start: day + 31 * 3600,
            },
        ];
        let cut: Vec<(&str, Vec<Span>)> = bucket_spans(&buckets, day + 55 * 3600).collect();
        assert_eq!(cut[0].1, released::spans(day + 6 * 3600, day + 31 * 3600));
        assert_eq!(cut[1].1, released::spans(day + 31 * 3600, day + 55 * 3600));
        assert_eq!(cut[0].1.len(), 2, "a Denver day is two parts of UTC days");
    }
}
