//! The engine: answers any [`ReportRequest`] by running the statements of
//! `sql` (independent ones concurrently, identical ones in flight once) and
//! shaping their answers, with `suppress` applied to every group.
//!
//! Owns: [`Reporter`], the one way to run a report. Its endpoints are the
//! reports' own, read-only ones (`Endpoints::for_reports`): it writes nothing.
//! Must never: return a row of `events` or `email_opens`, or a group counted
//! over fewer than `min_group_size` people.

use std::future::Future;
use std::sync::Arc;

use super::answer::{
    AnyReport, Breakdown, CampaignRow, Campaigns, Counted, EmailReport, NOTE_DAILY_IDS, Point, Row,
    Summary, SummaryChange, SummaryFigures, Timeseries,
};
use super::coalesce;
use super::error::{ReportError, mentions_time_zone};
use super::request::{Details, ReportRequest};
use super::sql::{self, CountRow, GroupRow, Key, LedgerDay, Measure, RolledUp, VisitRow, Window};
use super::suppress;
use super::vocabulary::{Dimension, Filter, Interval, Period, RequestError};
use crate::clock;
use crate::store::clickhouse::Endpoints;
use crate::store::statement::Statement;

/// The label of hits without a value (no referrer, no campaign, unknown place).
const NONE: &str = "(none)";

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
}
