//! The daily rollup, the second half of the pipeline: `daily_stats` and
//! `daily_filtered` for every UTC day that has ended, computed again whenever
//! the day's number of events changes (hits delivered late from a spool after
//! an outage) or the day was rolled up before `daily_filtered` existed, so
//! reports read finished numbers for whole days. Today so far, too: its
//! hours up to the last one that ended and settled go into `daily_stats`,
//! `daily_goals` and `daily_funnels` each time another hour ends
//! ([`today_so_far`]), so a report over a period that includes today reads
//! the rollup's rows, not every hit of today (with 3 million hits today, a
//! 30-day overview took 3.7 s from `events` and takes 0.11 s so:
//! `benches/today.sh`). And for a site whose midnight falls inside a UTC
//! day (America/Denver: 07:00 UTC), yesterday's and today's part from that
//! midnight go into the `local_*` tables ([`local_parts`]), so the site's
//! own "today" reads rows too.
//!
//! It also releases each ended day to staff SQL: `released.daily` (in the
//! database `<clickhouse.database>_released`, the only one staff may read)
//! gets, per site, dimension and value, the day's visitors and page views
//! through the release step (`release`: noise drawn for the cell under
//! `reporting.noise_key`, withheld under the threshold), once
//! `reporting.noise_key` is set.
//!
//! Owns: deciding which days to (re)compute ([`stale_days`], [`today_so_far`],
//! [`local_parts`]), running
//! [`sql::rollup_day`] and the release of a day for them, and the one client
//! of beaconhouse besides the shipper's that writes: [`Rollup`] holds the
//! ingest user's endpoints, so the reports, which hold read-only ones, write
//! nothing. Runs in `beaconhouse serve` every [`INTERVAL`], and once with
//! `beaconhouse rollup`.
//! Must never: change `events`, or write an exact count where staff may read
//! it. The rollup is derived data: safe to compute again, and safe to run
//! from several collectors at once (rows of the same day, dimension and
//! value replace each other; a released cell's noise is the same each time).

pub mod sql;

use std::time::Duration;

use std::collections::HashSet;

use chrono::{Days, TimeZone};
use chrono_tz::Tz;

use crate::clock;
use crate::config::Config;
use crate::goal::{SiteFunnel, SiteGoal, site_funnels, site_goals, steps_definition};
use crate::release::{Cell, Mechanism, Verdict};
use crate::report::released;
use crate::report::sql::{DAY_SECONDS, GoalDay, LocalDay, first_local_day, local_days};
use crate::store::clickhouse::{Endpoints, describe};
use sql::{CellCount, CountedSoFar, DayCount, DayPart, HeldFunnelDay, PartEvents};

/// How often `serve` looks for days to roll up.
pub const INTERVAL: Duration = Duration::from_secs(300);
/// How far back a changed day is noticed.
const LOOKBACK_DAYS: u16 = 400;

#[derive(Debug, thiserror::Error)]
#[error(
    "could not roll up days for reports: {0}; check that ClickHouse is up, that `beaconhouse migrate` ran, and that `clickhouse.user` may read events and write daily_stats, daily_filtered and daily_stats_days"
)]
pub struct RollupError(String);

impl From<clickhouse::error::Error> for RollupError {
    fn from(error: clickhouse::error::Error) -> Self {
        RollupError(describe(&error))
    }
}

/// Days whose events count differs from the count their rollup was computed
/// from, or that have none: what [`Rollup::roll_up`] computes.
pub fn stale_days(events: &[DayCount], rolled_up: &[DayCount]) -> Vec<DayCount> {
    events
        .iter()
        .filter(|day| !rolled_up.contains(day))
        .copied()
        .collect()
}

/// Of the rolled-up `days`, each day and goal (or funnel) the rollup table
/// does not hold yet (`held`: site, definition, day), each named by
/// `keyed` as (site, definition): what a goal or funnel added to the
/// configuration needs. Pure.
pub fn missing_days<'a, T>(
    days: &[u16],
    wanted: &'a [T],
    keyed: impl Fn(&T) -> (String, String),
    held: &[(&str, &str, u16)],
) -> Vec<(u16, &'a T)> {
    let held: HashSet<&(&str, &str, u16)> = held.iter().collect();
    let mut missing = Vec::new();
    for item in wanted {
        let (site, definition) = keyed(item);
        for &day in days {
            if !held.contains(&(site.as_str(), definition.as_str(), day)) {
                missing.push((day, item));
            }
        }
    }
    missing
}

/// Computes the rollup tables, as the ingest user (`clickhouse.user`): the
/// reports' own user may not write.
#[derive(Clone)]
pub struct Rollup {
    endpoints: Endpoints,
    /// What one visitor-day adds to a row's counts at most
    /// (`reporting.max_views_per_visitor_day`).
    views_cap: u64,
    /// `None` until `reporting.noise_key` is set: nothing is released.
    release: Option<Release>,
    /// Every site's goals, each with a row per rolled-up day in `daily_goals`.
    goals: Vec<SiteGoal>,
    /// Every site's funnels, each with rows per rolled-up day in
    /// `daily_funnels`.
    funnels: Vec<SiteFunnel>,
    /// Every site's time zone: a site whose midnight falls inside a UTC
    /// day has that day's part from it rolled up too ([`local_parts`]).
    time_zones: Vec<(String, Tz)>,
}

/// How days are released to `released.daily`.
#[derive(Clone)]
struct Release {
    mechanism: Mechanism,
    /// `<released database>.daily`, quoted.
    table: String,
}

/// One row of `released.daily`, in its column order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clickhouse::Row)]
pub struct ReleasedRow {
    pub site: String,
    pub day: u16,
    pub dimension: String,
    pub value: String,
    pub visitors: u64,
    pub pageviews: u64,
    pub computed_at: u32,
}

/// The cells of `released.daily` (and of every figure released from them)
/// are of this family: per site, UTC day, dimension and value.
pub const DAILY_CELLS: &str = "daily";

/// What one call of [`Rollup::roll_up`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// Days computed into `daily_stats` and `daily_filtered`.
    pub rolled_up: Vec<u16>,
    /// Days released to `released.daily`; `None` when release is off.
    pub released: Option<Vec<u16>>,
    /// Days counted of goals and funnels added since the day was rolled up.
    pub goal_days: usize,
    /// The instant today was rolled up to, when it was.
    pub today: Option<u32>,
    /// Parts of days from a site's local midnight rolled up.
    pub local: usize,
}

impl Rollup {
    pub fn new(endpoints: Endpoints, config: &Config) -> Rollup {
        let release = config.reporting.release.clone().map(|mechanism| Release {
            mechanism,
            table: format!("{}.daily", config.clickhouse.released_database()),
        });
        let conversions = config.conversions();
        let mut time_zones: Vec<(String, Tz)> = config
            .sites
            .values()
            .filter_map(|site| Some((site.id.clone(), site.time_zone.parse().ok()?)))
            .collect();
        time_zones.sort_by(|a, b| a.0.cmp(&b.0));
        Rollup {
            endpoints,
            views_cap: config.reporting.views_cap,
            release,
            goals: site_goals(&conversions),
            funnels: site_funnels(&conversions),
            time_zones,
        }
    }

    /// Rolls up, and releases, every ended day that needs it.
    pub async fn roll_up(&self, now: u32) -> Result<Done, RollupError> {
        let today = clock::day_of(now);
        let first = today.saturating_sub(LOOKBACK_DAYS);
        let events: Vec<DayCount> = self
            .endpoints
            .fetch_all(&sql::events_per_day(
                u32::from(first) * 86_400,
                u32::from(today) * 86_400,
            ))
            .await?;
        let rolled_up: Vec<DayCount> = self
            .endpoints
            .fetch_all(&sql::rolled_up_counts(first, self.views_cap))
            .await?;
        let mut done = Done {
            rolled_up: Vec::new(),
            released: None,
            goal_days: 0,
            today: None,
            local: 0,
        };
        let stale = stale_days(&events, &rolled_up);
        for day in &stale {
            self.compute(day.day, DayPart::Whole, day.events).await?;
            done.rolled_up.push(day.day);
        }
        // Goals and funnels added since a day was rolled up: their rows alone.
        let current: Vec<u16> = rolled_up
            .iter()
            .filter(|day| !stale.contains(day))
            .map(|day| day.day)
            .collect();
        if !self.goals.is_empty() {
            let held: Vec<GoalDay> = self
                .endpoints
                .fetch_all(&sql::held_goal_days(first, self.views_cap))
                .await?;
            let held: Vec<(&str, &str, u16)> = held
                .iter()
                .map(|h| (h.site.as_str(), h.goal.as_str(), h.day_number))
                .collect();
            let keyed = |g: &SiteGoal| (g.site.clone(), g.target.definition());
            for (day, goal) in missing_days(&current, &self.goals, keyed, &held) {
                self.endpoints
                    .execute(&sql::goal_day(day, DayPart::Whole, goal, self.views_cap))
                    .await?;
                done.goal_days += 1;
            }
        }
        if !self.funnels.is_empty() {
            let held: Vec<HeldFunnelDay> = self
                .endpoints
                .fetch_all(&sql::held_funnel_days(first))
                .await?;
            let held: Vec<(&str, &str, u16)> = held
                .iter()
                .map(|h| (h.site.as_str(), h.funnel.as_str(), h.day_number))
                .collect();
            let keyed = |f: &SiteFunnel| (f.site.clone(), steps_definition(&f.steps));
            for (day, funnel) in missing_days(&current, &self.funnels, keyed, &held) {
                for statement in sql::funnel_day(day, DayPart::Whole, funnel) {
                    self.endpoints.execute(&statement).await?;
                }
                done.goal_days += 1;
            }
        }
        done.today = self.roll_up_today(now).await?;
        done.local = self.roll_up_local(now).await?;
        if let Some(release) = &self.release {
            let released: Vec<DayCount> = self
                .endpoints
                .fetch_all(&sql::released_counts(first))
                .await?;
            let mut days = Vec::new();
            for day in stale_days(&events, &released) {
                self.release_day(release, day, now).await?;
                days.push(day.day);
            }
            done.released = Some(days);
        }
        Ok(done)
    }

    /// Rolls up today so far ([`today_so_far`]) when the ledger holds less
    /// of it, or holds it from another count of events (hits delivered late
    /// from a spool): reports over today then read it from the rollup.
    async fn roll_up_today(&self, now: u32) -> Result<Option<u32>, RollupError> {
        let Some((today, until)) = today_so_far(now) else {
            return Ok(None);
        };
        let midnight = u32::from(today) * DAY_SECONDS;
        let (of_today, counted) = (
            sql::events_per_day(midnight, until),
            sql::counted_so_far(today, self.views_cap),
        );
        let (events, counted): (Vec<DayCount>, Vec<CountedSoFar>) = tokio::try_join!(
            self.endpoints.fetch_all(&of_today),
            self.endpoints.fetch_all(&counted),
        )?;
        let events = events.first().map_or(0, |day| day.events);
        let current = CountedSoFar {
            events,
            counted_until: until,
        };
        if events == 0 || counted.first() == Some(&current) {
            return Ok(None);
        }
        self.compute(today, DayPart::Until(until), events).await?;
        Ok(Some(until))
    }

    /// Rolls up each part of yesterday and today from a site's local
    /// midnight ([`local_parts`]) that the ledger `local_days` holds less
    /// of, from another count of the site's events, or with other goals and
    /// funnels; returns how many.
    async fn roll_up_local(&self, now: u32) -> Result<usize, RollupError> {
        let parts = local_parts(&self.time_zones, now);
        let Some(first) = parts.iter().map(|part| part.day).min() else {
            return Ok(0);
        };
        let held: Vec<LocalDay> = self
            .endpoints
            .fetch_all(&local_days(None, first, clock::day_of(now), self.views_cap))
            .await?;
        let mut rolled_up = 0;
        for local in parts {
            let (day, part) = (local.day, local.part());
            let events = self
                .endpoints
                .fetch_all::<PartEvents>(&sql::events_of(part, day))
                .await?
                .first()
                .map_or(0, |count| count.events);
            let current = LocalDay {
                site: local.site.into(),
                day_number: day,
                counted_from: local.from,
                counted_until: local.until,
                events,
                conversions: sql::counted_conversions(part, &self.goals, &self.funnels),
            };
            if events == 0 || held.contains(&current) {
                continue;
            }
            self.compute(day, part, events).await?;
            rolled_up += 1;
        }
        Ok(rolled_up)
    }

    /// Runs [`sql::rollup_day`]'s statements for `part` of `day`, which
    /// held `events` events.
    async fn compute(&self, day: u16, part: DayPart<'_>, events: u64) -> Result<(), RollupError> {
        let statements = sql::rollup_day(
            day,
            part,
            events,
            self.views_cap,
            &self.goals,
            &self.funnels,
        );
        for statement in statements {
            self.endpoints.execute(&statement).await?;
        }
        Ok(())
    }

    /// Writes the released cells of `day` to `released.daily`, then records
    /// the day.
    async fn release_day(
        &self,
        release: &Release,
        day: DayCount,
        now: u32,
    ) -> Result<(), RollupError> {
        let mut cells: Vec<CellCount> = Vec::new();
        for statement in sql::cells_of_day(day.day, self.views_cap) {
            cells.extend(self.endpoints.fetch_all::<CellCount>(&statement).await?);
        }
        let rows = released_rows(&release.mechanism, self.views_cap, day.day, &cells, now);
        let table = release.table.as_str();
        let rows = &rows;
        self.endpoints
            .run(|client| async move {
                let mut insert = client.insert_unescaped::<ReleasedRow>(table).await?;
                for row in rows {
                    insert.write(row).await?;
                }
                insert.end().await
            })
            .await?;
        self.endpoints
            .execute(&sql::record_released(day.day, day.events))
            .await?;
        Ok(())
    }

    /// Rolls up every [`INTERVAL`] until the process ends.
    pub async fn run(self) {
        if self.release.is_none() {
            tracing::warn!(
                "reporting.noise_key is not set: nothing is released to staff SQL (README, \"Tables (for SQL)\"); make one with `openssl rand -hex 32`"
            );
        }
        loop {
            match self.roll_up(clock::now_unix()).await {
                Ok(done) => {
                    if !done.rolled_up.is_empty() {
                        tracing::info!(days = done.rolled_up.len(), "rolled up days for reports");
                    }
                    if let Some(until) = done.today {
                        tracing::info!(
                            until = %clock::utc_minute(until),
                            "rolled up today so far for reports"
                        );
                    }
                    if done.local > 0 {
                        tracing::info!(
                            parts = done.local,
                            "rolled up days from sites' local midnights for reports"
                        );
                    }
                    if let Some(days) = done.released.filter(|days| !days.is_empty()) {
                        tracing::info!(days = days.len(), "released days to staff SQL");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "reports read events instead until the next try");
                }
            }
            let now = clock::now_unix();
            tokio::time::sleep(Duration::from_secs(next_run(now))).await;
        }
    }
}

/// How long after reports may read an hour of today the rollup counts it:
/// a report that began before then, and reads today from `events`, has
/// ended by now (its statements stop after `reporting.query_timeout_ms`,
/// 10 s by default), so none reads rows of two rollups of today at once.
const TODAY_MARGIN: u32 = 60;

/// Today's day number at `now` and the end of what the rollup counts of it:
/// the hours reports may read (`report::released::complete_until`) as of
/// [`TODAY_MARGIN`] ago; none in the day's first hour. Pure.
pub fn today_so_far(now: u32) -> Option<(u16, u32)> {
    let today = clock::day_of(now);
    let until = released::complete_until(now.saturating_sub(TODAY_MARGIN));
    (until > u32::from(today) * DAY_SECONDS).then_some((today, until))
}

/// A part of a UTC day from a site's local midnight, `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalRun<'a> {
    pub site: &'a str,
    pub day: u16,
    pub from: u32,
    pub until: u32,
}

impl<'a> LocalRun<'a> {
    fn part(self) -> DayPart<'a> {
        DayPart::Local {
            site: self.site,
            from: self.from,
            until: self.until,
        }
    }
}

/// The parts of yesterday and today from each site's local midnight that
/// reports over a site's own day read (`time_zones`: each site's): from the
/// midnight, when one falls inside the UTC day ([`local_midnight`]), to the
/// day's end or to the last hour that [`today_so_far`] counts, whichever
/// comes first; none before an hour of it has ended. Pure.
pub fn local_parts(time_zones: &[(String, Tz)], now: u32) -> Vec<LocalRun<'_>> {
    let today = clock::day_of(now);
    let counted = released::complete_until(now.saturating_sub(TODAY_MARGIN));
    let mut parts = Vec::new();
    for (site, zone) in time_zones {
        for day in first_local_day(today)..=today {
            let Some(from) = local_midnight(*zone, day) else {
                continue;
            };
            let until = counted.min((u32::from(day) + 1) * DAY_SECONDS);
            if from < until {
                let site = site.as_str();
                parts.push(LocalRun {
                    site,
                    day,
                    from,
                    until,
                });
            }
        }
    }
    parts
}

/// The UTC instant of `zone`'s midnight inside the UTC day `day` (after
/// its start): none in UTC, nor on a day whose midnight the zone skips.
/// Pure.
pub fn local_midnight(zone: Tz, day: u16) -> Option<u32> {
    let start = u32::from(day) * DAY_SECONDS;
    let local_date = zone
        .timestamp_opt(start.into(), 0)
        .single()?
        .date_naive()
        .checked_add_days(Days::new(1))?;
    let midnight = zone
        .from_local_datetime(&local_date.and_hms_opt(0, 0, 0)?)
        .earliest()?
        .timestamp();
    let midnight = u32::try_from(midnight).ok()?;
    (midnight > start && midnight < start + DAY_SECONDS).then_some(midnight)
}

/// Seconds from `now` to the next rollup: [`INTERVAL`], or less when
/// [`today_so_far`] moves on to the next hour sooner. Pure.
pub fn next_run(now: u32) -> u64 {
    let counted = released::complete_until(now.saturating_sub(TODAY_MARGIN));
    let moves_on = counted + 3600 + released::SETTLE_SECONDS + TODAY_MARGIN;
    u64::from(moves_on.saturating_sub(now)).clamp(1, INTERVAL.as_secs())
}

/// The rows of `released.daily` for `day`'s exact `cells`: each count plus
/// its cell's noise, at least zero; a cell whose released visitors are
/// under the threshold has no row. Pure.
pub fn released_rows(
    mechanism: &Mechanism,
    views_cap: u64,
    day: u16,
    cells: &[CellCount],
    now: u32,
) -> Vec<ReleasedRow> {
    cells
        .iter()
        .filter_map(|exact| {
            let cell = |metric| {
                Cell::whole_day(
                    DAILY_CELLS,
                    &exact.site,
                    day,
                    &exact.dimension,
                    &exact.value,
                    metric,
                )
            };
            let visitors = mechanism.release(&cell("visitors"), exact.visitors, 1);
            let Verdict::Shown(visitors) = mechanism.shows(visitors) else {
                return None;
            };
            Some(ReleasedRow {
                site: exact.site.clone(),
                day,
                dimension: exact.dimension.clone(),
                value: exact.value.clone(),
                visitors,
                pageviews: mechanism.release(&cell("pageviews"), exact.pageviews, views_cap),
                computed_at: now,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: u16, events: u64) -> DayCount {
        DayCount { day, events }
    }

    fn exact(value: &str, visitors: u64, pageviews: u64) -> CellCount {
        CellCount {
            site: "optimumabq.com".into(),
            dimension: "path".into(),
            value: value.into(),
            visitors,
            pageviews,
        }
    }

    #[test]
    fn today_is_counted_up_to_the_hour_reports_read_a_minute_after_it_settles() {
        let midnight = u32::from(clock::day_from_civil(2026, 11, 10).unwrap()) * DAY_SECONDS;
        let at = |h: u32, m: u32, s: u32| midnight + h * 3600 + m * 60 + s;
        let today = clock::day_of(midnight);
        // Reports read up to 14:00 from 15:02; the rollup counts it from 15:03.
        assert_eq!(today_so_far(at(15, 2, 59)), Some((today, at(14, 0, 0))));
        assert_eq!(today_so_far(at(15, 3, 0)), Some((today, at(15, 0, 0))));
        assert_eq!(today_so_far(at(23, 59, 59)), Some((today, at(23, 0, 0))));
        // Nothing of today in its first hour, nor until 01:03.
        assert_eq!(today_so_far(at(0, 30, 0)), None);
        assert_eq!(today_so_far(at(1, 2, 59)), None);
        assert_eq!(today_so_far(at(1, 3, 0)), Some((today, at(1, 0, 0))));
        // The next run: at 15:03:00 when sooner than the interval.
        assert_eq!(next_run(at(15, 0, 0)), 180);
        assert_eq!(next_run(at(15, 2, 59)), 1);
        assert_eq!(next_run(at(15, 3, 0)), 300, "the next hour is an hour away");
        assert_eq!(next_run(at(15, 59, 0)), 240);
    }

    #[test]
    fn a_sites_day_from_its_local_midnight_is_rolled_up_for_yesterday_and_today() {
        let nov_10 = clock::day_from_civil(2026, 11, 10).unwrap();
        let midnight = u32::from(nov_10) * DAY_SECONDS;
        let zone = |name: &str| name.parse::<Tz>().unwrap();
        // Mountain Standard Time, then Daylight Time (March 9, 2026 is a
        // Monday after the switch), India's half hour, none in UTC, and
        // one east of UTC by more than half a day.
        assert_eq!(
            local_midnight(zone("America/Denver"), nov_10),
            Some(midnight + 7 * 3600)
        );
        let march_9 = clock::day_from_civil(2026, 3, 9).unwrap();
        assert_eq!(
            local_midnight(zone("America/Denver"), march_9),
            Some(u32::from(march_9) * DAY_SECONDS + 6 * 3600)
        );
        assert_eq!(
            local_midnight(zone("Asia/Kolkata"), nov_10),
            Some(midnight + 18 * 3600 + 1800)
        );
        assert_eq!(
            local_midnight(zone("Pacific/Kiritimati"), nov_10),
            Some(midnight + 10 * 3600)
        );
        assert_eq!(local_midnight(zone("UTC"), nov_10), None);
        assert_eq!(local_midnight(zone("Europe/London"), nov_10), None);

        let zones = vec![
            ("denver.example".to_string(), zone("America/Denver")),
            ("utc.example".to_string(), zone("UTC")),
        ];
        let at = |h: u32, m: u32| midnight + h * 3600 + m * 60;
        let run = |day: u16, from: u32, until: u32| LocalRun {
            site: "denver.example",
            day,
            from,
            until,
        };
        let yesterday_from = midnight - 17 * 3600;
        // 03:05 UTC: yesterday's part whole; today's midnight is to come.
        assert_eq!(
            local_parts(&zones, at(3, 5)),
            [run(nov_10 - 1, yesterday_from, midnight)]
        );
        // 00:02 UTC: yesterday's part to 23:00 (reports read its last hour
        // from 00:02, the rollup from 00:03).
        assert_eq!(
            local_parts(&zones, at(0, 2)),
            [run(nov_10 - 1, yesterday_from, midnight - 3600)]
        );
        // 08:03 UTC: an hour of today's part has ended and settled.
        assert_eq!(
            local_parts(&zones, at(8, 3)),
            [
                run(nov_10 - 1, yesterday_from, midnight),
                run(nov_10, at(7, 0), at(8, 0))
            ]
        );
        assert_eq!(local_parts(&zones, at(8, 2)).len(), 1, "not yet");
        // 15:03 UTC: today's part to 15:00.
        assert_eq!(
            local_parts(&zones, at(15, 3))[1],
            run(nov_10, at(7, 0), at(15, 0))
        );
    }

    #[test]
    fn goals_added_since_a_day_was_rolled_up_are_counted_for_it_alone() {
        use crate::goal::Target;
        let goal = |site: &str, target: Target| SiteGoal {
            site: site.into(),
            target,
        };
        let goals = [
            goal("a.com", Target::Event("book_tour".into())),
            goal("a.com", Target::Page("/blog/*".into())),
            goal("b.com", Target::Event("book_tour".into())),
        ];
        let held = [
            ("a.com", "event:book_tour", 10),
            ("a.com", "event:book_tour", 11),
            ("a.com", "page:/blog/*", 10),
            ("b.com", "event:book_tour", 10),
            // Of a day no longer rolled up, or a site's other goal: ignored.
            ("a.com", "event:book_tour", 3),
            ("b.com", "page:/blog/*", 11),
        ];
        let keyed = |g: &SiteGoal| (g.site.clone(), g.target.definition());
        let missing: Vec<(u16, &str, String)> = missing_days(&[10, 11], &goals, keyed, &held)
            .into_iter()
            .map(|(day, g)| (day, g.site.as_str(), g.target.definition()))
            .collect();
        assert_eq!(
            missing,
            [
                (11, "a.com", "page:/blog/*".to_string()),
                (11, "b.com", "event:book_tour".to_string()),
            ]
        );
        assert!(missing_days(&[10, 11], &[], keyed, &held).is_empty());
    }

    #[test]
    fn a_day_is_released_cell_by_cell_with_the_cells_own_noise() {
        let mechanism = Mechanism::new(
            crate::release::NoiseKey::new("k".repeat(32).as_str()),
            1.0,
            5,
        );
        let cells: Vec<CellCount> = (0..400)
            .map(|i| exact(&format!("/p/{i}"), i % 40, 3 * (i % 40)))
            .collect();
        let rows = released_rows(&mechanism, 10, 20_758, &cells, 1_800_000_000);
        let noise = |value: &str, metric, sensitivity| {
            mechanism.noise(
                &Cell::whole_day(DAILY_CELLS, "optimumabq.com", 20_758, "path", value, metric),
                sensitivity,
            )
        };
        for row in &rows {
            let cell = cells.iter().find(|c| c.value == row.value).unwrap();
            let visitors = cell.visitors as i64 + noise(&row.value, "visitors", 1);
            let pageviews = cell.pageviews as i64 + noise(&row.value, "pageviews", 10);
            assert_eq!(row.visitors as i64, visitors);
            assert_eq!(row.pageviews as i64, pageviews.max(0));
            assert!(
                row.visitors >= mechanism.threshold(),
                "released under the threshold: {row:?}"
            );
            assert_eq!((row.day, row.computed_at), (20_758, 1_800_000_000));
        }
        // Every cell whose released visitors reach the threshold has a row,
        // and no other.
        let expected: Vec<&str> = cells
            .iter()
            .filter(|c| {
                c.visitors as i64 + noise(&c.value, "visitors", 1) >= mechanism.threshold() as i64
            })
            .map(|c| c.value.as_str())
            .collect();
        let released: Vec<&str> = rows.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(released, expected);
        // Groups of 0 to 39 visitors, ten each; the threshold at ε = 1 is 15.
        assert!(rows.len() > 200 && rows.len() < 300, "{} rows", rows.len());
        assert_eq!(
            released_rows(&mechanism, 10, 20_758, &cells, 1_800_000_000),
            rows,
            "the same day is released the same way again"
        );
    }

    #[test]
    fn new_and_changed_days_are_stale() {
        let events = [day(1, 10), day(2, 20), day(3, 30)];
        let rolled_up = [day(1, 10), day(2, 19)];
        assert_eq!(
            stale_days(&events, &rolled_up),
            vec![day(2, 20), day(3, 30)]
        );
        assert!(stale_days(&events, &events).is_empty());
        assert!(stale_days(&[], &rolled_up).is_empty());
    }
}
