//! How long rows are kept: the retention rule for the tables that hold hits
//! and what is computed from them.
//!
//! ClickHouse 18.16 has no TTL, so old rows go a whole month at a time, by
//! dropping the table's `toYYYYMM` partition. A month goes only once its last
//! day is older than the retention period ([`cutoff`], [`expired`]): rows are
//! kept at least that many days, and at most about a month longer.
//!
//! Owns: the tables retention applies to ([`Table`]) and the rule, as pure
//! functions, table-tested. Listing and dropping partitions in ClickHouse is
//! `store::retention_job`'s job.
//! Must never: do I/O, or name a month that still holds a day inside the
//! retention period.

use crate::clock;

/// The tables whose old rows are dropped, in the order they are: `events`
/// before `daily_stats`, `daily_filtered`, `daily_goals`,
/// `daily_funnels` and the `local_*` tables of days from a local midnight,
/// the rollups computed from it, `filtered_hits`, and `released.daily`,
/// released from `events` (all nine kept
/// `retention.daily_stats_days`). A fixed enum: a table name never comes
/// from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Events,
    EmailOpens,
    /// Kept as long as the opens (`retention.email_opens_days`): the scanner
    /// rules read a recipient's opens and clicks together.
    EmailClicks,
    DailyStats,
    DailyFiltered,
    DailyGoals,
    DailyFunnels,
    LocalStats,
    LocalGoals,
    LocalFunnels,
    FilteredHits,
    /// `released.daily`, in the released database.
    ReleasedDaily,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::Events,
        Table::EmailOpens,
        Table::EmailClicks,
        Table::DailyStats,
        Table::DailyFiltered,
        Table::DailyGoals,
        Table::DailyFunnels,
        Table::LocalStats,
        Table::LocalGoals,
        Table::LocalFunnels,
        Table::FilteredHits,
        Table::ReleasedDaily,
    ];

    /// The table's name as the schema writes it (`released.daily` for the
    /// one in the released database), and its label in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::EmailOpens => "email_opens",
            Table::EmailClicks => "email_clicks",
            Table::DailyStats => "daily_stats",
            Table::DailyFiltered => "daily_filtered",
            Table::DailyGoals => "daily_goals",
            Table::DailyFunnels => "daily_funnels",
            Table::LocalStats => "local_stats",
            Table::LocalGoals => "local_goals",
            Table::LocalFunnels => "local_funnels",
            Table::FilteredHits => "filtered_hits",
            Table::ReleasedDaily => "released.daily",
        }
    }
}

/// The oldest day kept when it is `today` and rows are kept `keep_days`
/// days: a month ending before it may go. `None` when `keep_days` is 0, which
/// keeps the table forever.
pub fn cutoff(today: u16, keep_days: u16) -> Option<u16> {
    (keep_days > 0).then(|| today.saturating_sub(keep_days))
}

/// Of a table's partition ids (`202410` for October 2024, as `system.parts`
/// names a `toYYYYMM` partition), the months whose last day is before
/// [`cutoff`]: sorted, each once. An id that is not such a month is never
/// named.
pub fn expired(partition_ids: &[String], today: u16, keep_days: u16) -> Vec<u32> {
    let Some(cutoff) = cutoff(today, keep_days) else {
        return Vec::new();
    };
    let mut months: Vec<u32> = partition_ids
        .iter()
        .filter_map(|id| {
            let month = id.parse::<u32>().ok().filter(|_| id.len() == 6)?;
            // The month has ended before the cutoff when the next one has
            // begun by then.
            (first_day_after(month)? <= cutoff).then_some(month)
        })
        .collect();
    months.sort_unstable();
    months.dedup();
    months
}

/// The day number of the first day after the month `yyyymm`; `None` for a
/// month that does not exist or ends past what a day number holds.
fn first_day_after(yyyymm: u32) -> Option<u16> {
    let (year, month) = (yyyymm / 100, yyyymm % 100);
    if !(1..=12).contains(&month) {
        return None;
    }
    let (year, month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    clock::day_from_civil(year, month, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The day number of `2026-11-25`.
    fn day(iso: &str) -> u16 {
        let parts: Vec<u32> = iso.split('-').map(|p| p.parse().unwrap()).collect();
        clock::day_from_civil(parts[0], parts[1], parts[2]).unwrap()
    }

    /// The partition ids of `"202609 202610"`.
    fn ids(months: &str) -> Vec<String> {
        months.split_whitespace().map(str::to_string).collect()
    }

    /// (today, keep_days, partition ids, expired months)
    type Case = (&'static str, u16, &'static str, &'static [u32]);

    #[test]
    fn a_month_goes_once_its_last_day_is_older_than_the_period() {
        let cases: &[Case] = &[
            // Cutoff 2026-10-31: October's last day is not before it.
            ("2026-11-30", 30, "202609 202610 202611", &[202609]),
            // Cutoff 2026-11-01: October has ended.
            ("2026-12-01", 30, "202609 202610 202611", &[202609, 202610]),
            // 31 days before 2026-03-31 is 2026-02-28, February's last day:
            // it stays one more day.
            ("2026-03-31", 31, "202601 202602 202603", &[202601]),
            ("2026-04-01", 31, "202601 202602 202603", &[202601, 202602]),
            // A leap year: February 2024 ends on the 29th.
            ("2024-03-31", 31, "202402", &[]),
            ("2024-04-01", 31, "202402", &[202402]),
            // Across a year: December 2025 goes on 2026-02-01 with 31 days.
            ("2026-01-31", 31, "202512 202601", &[]),
            ("2026-02-01", 31, "202512 202601", &[202512]),
            // The defaults: events 732 days (cutoff 2024-11-23), email opens
            // 400 (cutoff 2025-10-21).
            ("2026-11-25", 732, "202410 202411 202412", &[202410]),
            ("2026-11-25", 400, "202509 202510 202511", &[202509]),
            // Unsorted and repeated ids (one per part) come out sorted, once.
            ("2026-12-01", 30, "202610 202609 202610", &[202609, 202610]),
            // 0 keeps the table forever.
            ("2026-11-25", 0, "197001 202001", &[]),
            // Fewer days since 1970 than the period: nothing has expired.
            ("1970-03-01", 400, "197001", &[]),
            // Ids that are not a month are never named.
            ("2026-11-25", 31, "all 2026 20261 2024101", &[]),
            ("2026-11-25", 31, "202400 202413 -20241 +20241", &[]),
        ];
        for (today, keep_days, partitions, expected) in cases {
            assert_eq!(
                expired(&ids(partitions), day(today), *keep_days),
                *expected,
                "today {today}, keeping {keep_days} days"
            );
        }
    }

    #[test]
    fn the_cutoff_is_today_minus_the_period_and_none_for_forever() {
        assert_eq!(cutoff(day("2026-03-31"), 31), Some(day("2026-02-28")));
        assert_eq!(cutoff(day("2026-03-31"), 0), None);
        assert_eq!(cutoff(10, 400), Some(0));
    }

    #[test]
    fn the_last_representable_month_never_expires() {
        // 2149-06 ends after the last day a `Date` holds (2149-06-06).
        assert_eq!(first_day_after(214906), None);
        assert_eq!(expired(&ids("214906"), u16::MAX, 31), Vec::<u32>::new());
        assert_eq!(first_day_after(202412), Some(day("2025-01-01")));
    }
}
