//! Why a report has no answer: the request was refused, or ClickHouse or the
//! reports' limits stopped it. Every message says what to do.
//!
//! Owns: [`ReportError`] and reading ClickHouse's own stops (the time and
//! memory limits) out of its errors.
//! Must never: carry a figure; an error says why there is no answer, not
//! part of one.

use super::vocabulary::RequestError;

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
        "{0} reports are running, as many as `reporting.max_concurrent` allows, and none ended within `reporting.queue_timeout_ms`; try again in a moment"
    )]
    Busy(usize),
    #[error(
        "{0} reports are waiting for a slot already, as many as the queue holds (8 per `reporting.max_concurrent`); try again in a moment"
    )]
    QueueFull(usize),
    #[error(
        "the report stopped without an answer; try again, and tell the operator (the collector's log says why) if it persists"
    )]
    Stopped,
    #[error(
        "reports are off until `reporting.noise_key` is set: every figure passes through the release step, whose noise is drawn from it; make one with `openssl rand -hex 32` (README, \"Reading the figures\")"
    )]
    NoNoiseKey,
    #[error(
        "ClickHouse could not answer the report: {0}; check that it is up, that `beaconhouse migrate` ran, and that the reports' user (`reporting.clickhouse_user`, else `clickhouse.user`) may read events, email_opens, email_clicks, daily_stats, daily_filtered and daily_stats_days"
    )]
    ClickHouse(String),
}

impl From<clickhouse::error::Error> for ReportError {
    /// ClickHouse's own stops at the limits of `store::clickhouse::reports_client`
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

/// Whether a ClickHouse error is about a time zone it does not know.
pub(super) fn mentions_time_zone(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("time zone") || lower.contains("timezone")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
