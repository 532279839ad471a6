//! `[retention]`: how many days each table's rows are kept (0: forever);
//! `privacy::retention_rule` says which whole months that lets go.
//!
//! Refuses a period shorter than a month or longer than a century (other
//! than 0), and a rollup kept for less time than the events it is computed
//! from. Drops nothing itself.

use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, in_range};
use crate::privacy::retention_rule::Table;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRetention {
    events_days: u16,
    email_opens_days: u16,
    daily_stats_days: u16,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            // The longest period a report covers.
            events_days: 732,
            email_opens_days: 400,
            // Aggregates hold no visitor or recipient ids.
            daily_stats_days: 0,
        }
    }
}

/// How many days each table's rows are kept (0: forever). Rows go a month at
/// a time (`privacy::retention_rule`), so they stay up to a month longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    pub events_days: u16,
    pub email_opens_days: u16,
    /// 0, or at least `events_days`: a report reads a rolled-up day from
    /// `daily_stats` alone, so the rollup must outlive the events under it.
    pub daily_stats_days: u16,
}

impl RetentionConfig {
    /// The days `table`'s rows are kept; 0 keeps them forever.
    pub fn days(&self, table: Table) -> u16 {
        match table {
            // Read for yesterday and today only: kept as the hits they count.
            Table::Events | Table::LocalStats | Table::LocalGoals | Table::LocalFunnels => {
                self.events_days
            }
            // A recipient's opens and clicks are read together.
            Table::EmailOpens | Table::EmailClicks => self.email_opens_days,
            // Both rollups, so a filtered report never finds one without the
            // other, and the released figures computed with them.
            Table::DailyStats
            | Table::DailyFiltered
            | Table::DailyGoals
            | Table::DailyFunnels
            | Table::FilteredHits
            | Table::ReleasedDaily => self.daily_stats_days,
        }
    }
}

/// Shortest retention period other than 0 (forever): a month partition can
/// only go whole, and a typo must not empty a table.
const MIN_RETENTION_DAYS: u16 = 31;
/// Longest retention period other than 0: a century.
const MAX_RETENTION_DAYS: u16 = 36_500;

impl RawRetention {
    pub(super) fn validate(self) -> Result<RetentionConfig, ConfigError> {
        let events_days = retention_days("retention.events_days", self.events_days)?;
        let email_opens_days = retention_days("retention.email_opens_days", self.email_opens_days)?;
        let daily_stats_days = retention_days("retention.daily_stats_days", self.daily_stats_days)?;
        let rollup_too_short = match (events_days, daily_stats_days) {
            (_, 0) => None,
            (0, _) => Some("must be 0 (forever) while retention.events_days is 0".to_string()),
            (events, rollup) if rollup < events => Some(format!(
                "must be 0 (forever) or at least retention.events_days ({events}), got {rollup}"
            )),
            _ => None,
        };
        if let Some(problem) = rollup_too_short {
            return Err(ConfigError::invalid(
                "retention.daily_stats_days",
                format!(
                    "{problem}: a report reads a rolled-up day from daily_stats alone, so the rollup must be kept as long as the events it was computed from"
                ),
            ));
        }
        Ok(RetentionConfig {
            events_days,
            email_opens_days,
            daily_stats_days,
        })
    }
}

/// A retention period: 0 (forever) or within the accepted range.
fn retention_days(key: &str, days: u16) -> Result<u16, ConfigError> {
    if days == 0 {
        return Ok(0);
    }
    in_range(key, days, MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).map_err(|error| match error {
        ConfigError::Invalid { key, problem } => ConfigError::Invalid {
            key,
            problem: format!("{problem} (or 0 to keep the table forever)"),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{MINIMAL, load, rejected_key};

    #[test]
    fn retention_periods_have_defaults_overrides_and_limits() {
        let defaults = load(MINIMAL, &[]).unwrap().retention;
        assert_eq!(
            defaults,
            RetentionConfig {
                events_days: 732,
                email_opens_days: 400,
                daily_stats_days: 0,
            }
        );
        assert_eq!(defaults.days(Table::EmailOpens), 400);
        let set = load(
            &format!("{MINIMAL}\n[retention]\nemail_opens_days = 31\n"),
            &[
                ("BEACONHOUSE_RETENTION_EVENTS_DAYS", "0"),
                ("BEACONHOUSE_RETENTION_DAILY_STATS_DAYS", "0"),
            ],
        )
        .unwrap()
        .retention;
        assert_eq!((set.events_days, set.email_opens_days), (0, 31));
        let rollup_kept_as_long = load(
            MINIMAL,
            &[
                ("BEACONHOUSE_RETENTION_EVENTS_DAYS", "400"),
                ("BEACONHOUSE_RETENTION_DAILY_STATS_DAYS", "400"),
            ],
        );
        assert_eq!(rollup_kept_as_long.unwrap().retention.daily_stats_days, 400);

        // (the [retention] lines, the key refused, what its message says)
        let refused = [
            (
                "events_days = 30",
                "events_days",
                "31 and 36500, got 30 (or 0 to keep",
            ),
            (
                "email_opens_days = 36501",
                "email_opens_days",
                "got 36501 (or 0",
            ),
            ("events_days = -1", "events_days", "invalid value"),
            (
                "daily_stats_days = 400",
                "daily_stats_days",
                "or at least retention.events_days (732), got 400: a report reads",
            ),
            (
                "events_days = 0\ndaily_stats_days = 800",
                "daily_stats_days",
                "must be 0 (forever) while retention.events_days is 0",
            ),
        ];
        for (lines, key, problem) in refused {
            let toml = format!("{MINIMAL}\n[retention]\n{lines}\n");
            assert_eq!(rejected_key(&toml, &[]), format!("retention.{key}"));
            let message = load(&toml, &[]).unwrap_err().to_string();
            assert!(message.contains(problem), "{lines}: {message}");
        }
    }
}
