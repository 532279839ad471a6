//! The daily rollup, the second half of the pipeline: `daily_stats` and
//! `daily_filtered` for every UTC day that has ended, computed again whenever
//! the day's number of events changes (hits delivered late from a spool after
//! an outage) or the day was rolled up before `daily_filtered` existed, so
//! reports read finished numbers for whole days.
//!
//! Owns: deciding which days to (re)compute ([`stale_days`]), running
//! [`sql::rollup_day`] for them, and the one client of beaconhouse besides
//! the shipper's that writes: [`Rollup`] holds the ingest user's endpoints,
//! so the reports, which hold read-only ones, write nothing. Runs in
//! `beaconhouse serve` every [`INTERVAL`], and once with `beaconhouse rollup`.
//! Must never: change `events`. The rollup is derived data: safe to compute
//! again, and safe to run from several collectors at once (rows of the same
//! day, dimension and value replace each other).

pub mod sql;

use std::time::Duration;

use crate::clock;
use crate::store::clickhouse::{Endpoints, describe};
use sql::DayCount;

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

/// Computes the rollup tables, as the ingest user (`clickhouse.user`): the
/// reports' own user may not write.
#[derive(Clone)]
pub struct Rollup {
    endpoints: Endpoints,
}

impl Rollup {
    pub fn new(endpoints: Endpoints) -> Rollup {
        Rollup { endpoints }
    }

    /// Rolls up every ended day that needs it; returns those days.
    pub async fn roll_up(&self, now: u32) -> Result<Vec<u16>, RollupError> {
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
            .fetch_all(&sql::rolled_up_counts(first))
            .await?;
        let mut done = Vec::new();
        for day in stale_days(&events, &rolled_up) {
            for statement in sql::rollup_day(day.day, day.events) {
                self.endpoints.execute(&statement).await?;
            }
            done.push(day.day);
        }
        Ok(done)
    }

    /// Rolls up every [`INTERVAL`] until the process ends.
    pub async fn run(self) {
        loop {
            match self.roll_up(clock::now_unix()).await {
                Ok(days) if !days.is_empty() => {
                    tracing::info!(days = days.len(), "rolled up days for reports");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "reports read events instead until the next try");
                }
            }
            tokio::time::sleep(INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: u16, events: u64) -> DayCount {
        DayCount { day, events }
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
