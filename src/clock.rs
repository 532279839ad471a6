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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates() {
        assert_eq!(yyyymmdd(0), 19700101);
        assert_eq!(yyyymmdd(59), 19700301);
        assert_eq!(yyyymmdd(11_016), 20000229);
        assert_eq!(yyyymmdd(20_446), 20251224);
        assert_eq!(yyyymmdd(day_of(1_795_564_800)), 20261125);
    }

    #[test]
    fn day_boundaries_are_utc() {
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
    }
}
