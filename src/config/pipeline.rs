//! `[pipeline]`: when the shipper sends a batch (rows, age of the oldest)
//! and how long shutdown may spend delivering what is spooled.
//!
//! Refuses every number outside its range.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, in_range, millis};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPipeline {
    batch_rows: usize,
    flush_interval_ms: u64,
    shutdown_timeout_ms: u64,
}

impl Default for RawPipeline {
    fn default() -> Self {
        RawPipeline {
            batch_rows: 10_000,
            flush_interval_ms: 1_000,
            shutdown_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// A batch is sent when it has this many rows...
    pub batch_rows: usize,
    /// ...or when its oldest row is this old.
    pub flush_interval: Duration,
    /// How long shutdown may spend delivering what is spooled.
    pub shutdown_timeout: Duration,
}

impl RawPipeline {
    pub(super) fn validate(self) -> Result<PipelineConfig, ConfigError> {
        Ok(PipelineConfig {
            batch_rows: in_range("pipeline.batch_rows", self.batch_rows, 1..=1_000_000)?,
            flush_interval: millis(
                "pipeline.flush_interval_ms",
                self.flush_interval_ms,
                1..=600_000,
            )?,
            // Past a few minutes a service manager kills the process anyway;
            // what is not delivered by then stays spooled for the next start.
            shutdown_timeout: millis(
                "pipeline.shutdown_timeout_ms",
                self.shutdown_timeout_ms,
                100..=600_000,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys};

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_BATCH_ROWS", "0")],
                "pipeline.batch_rows",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_FLUSH_INTERVAL_MS", "0")],
                "pipeline.flush_interval_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_SHUTDOWN_TIMEOUT_MS", "0")],
                "pipeline.shutdown_timeout_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_PIPELINE_SHUTDOWN_TIMEOUT_MS", "3600000")],
                "pipeline.shutdown_timeout_ms",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }
}
