//! UTC time as the pipeline stores it: seconds for `DateTime('UTC')` columns and
//! day numbers (days since 1970-01-01) for `Date` columns and daily salts.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as a `DateTime` column holds them.
pub fn now_unix() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// Milliseconds since the Unix epoch: when a dashboard session was opened
/// or signed out, fine enough that signing in again at once is later.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The UTC day a timestamp falls on.
pub fn day_of(unix: u32) -> u16 {
    (unix / 86_400) as u16
}

/// `20261125` for 2026-11-25: the partition name of a `toYYYYMMDD` partition.
pub fn yyyymmdd(day: u16) -> u32 {
    // Howard Hinnant's days-to-civil algorithm, for days after 1970.
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y * 10_000 + m * 100 + d) as u32
}

/// `2026-11-25` for a day number: the date, for people and for ClickHouse's
/// `toDate`.
pub fn iso_date(day: u16) -> String {
    let date = yyyymmdd(day);
    format!(
        "{:04}-{:02}-{:02}",
        date / 10_000,
        date / 100 % 100,
        date % 100
    )
}

/// `2026-11-25 18:05` for a timestamp: UTC to the minute, for people.
pub fn utc_minute(unix: u32) -> String {
    format!(
        "{} {:02}:{:02}",
        iso_date(day_of(unix)),
        unix % 86_400 / 3_600,
        unix % 3_600 / 60
    )
}

/// The day number of a calendar date, or `None` for a date that does not
/// exist or falls outside what a day number holds (1970-01-01 to 2149-06-06).
pub fn day_from_civil(year: u32, month: u32, day: u32) -> Option<u16> {
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    // Howard Hinnant's days-from-civil algorithm.
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let number = u16::try_from(days).ok()?;
    // Day 31 of a 30-day month lands on the 1st of the next: refuse it.
    (yyyymmdd(number) == year * 10_000 + month * 100 + day).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_minutes_for_people() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(11_016), "2000-02-29");
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(1_764_093_959), "2025-11-25 18:05");
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(yyyymmdd(0), 19700101);
        assert_eq!(yyyymmdd(59), 19700301);
        assert_eq!(yyyymmdd(11_016), 20000229);
        assert_eq!(yyyymmdd(20_446), 20251224);
        assert_eq!(yyyymmdd(day_of(1_795_564_800)), 20261125);
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(day_from_civil(1970, 1, 1), Some(0));
        assert_eq!(day_from_civil(2026, 11, 25), Some(day_of(1_795_564_800)));
        for day in [0u16, 59, 11_016, 20_446, 65_535] {
            let n = yyyymmdd(day);
            assert_eq!(
                day_from_civil(n / 10_000, n / 100 % 100, n % 100),
                Some(day)
            );
        }
        assert_eq!(day_from_civil(2026, 2, 29), None);
        assert_eq!(day_from_civil(2026, 4, 31), None);
        assert_eq!(day_from_civil(1969, 12, 31), None);
        assert_eq!(day_from_civil(2150, 1, 1), None);
    }

    #[test]
    fn day_boundaries_are_utc() {
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
    }
}
