//! `[spool]`: the directory hits are spooled in before ClickHouse takes
//! them, its size, segment size and fsync policy, and the dead letters'
//! own size; validated into `spool::SpoolSettings`.
//!
//! Refuses an empty directory, a total smaller than one segment, an unknown
//! `sync`, and every number outside its range. Never creates the directory:
//! `spool` does.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::validate::{ConfigError, in_range, millis};
use crate::spool::{SpoolSettings, SyncMode};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSpool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    sync: SyncMode,
    fsync_interval_ms: u64,
    dead_letter_max_bytes: u64,
}

impl Default for RawSpool {
    fn default() -> Self {
        RawSpool {
            dir: PathBuf::from("/var/lib/beaconhouse/spool"),
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            sync: SyncMode::Interval,
            fsync_interval_ms: 5,
            dead_letter_max_bytes: 128 << 20,
        }
    }
}

impl RawSpool {
    pub(super) fn validate(self) -> Result<SpoolSettings, ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "spool.dir",
                "must name a directory the collector may write, e.g. /var/lib/beaconhouse/spool",
            ));
        }
        // A segment is reserved on disk whole and mapped while it is
        // written: a gigabyte is room for millions of hits.
        let segment_bytes = in_range("spool.segment_bytes", self.segment_bytes, 1 << 16..=1 << 30)?;
        if self.max_bytes < segment_bytes {
            return Err(ConfigError::invalid(
                "spool.max_bytes",
                "must be at least spool.segment_bytes",
            ));
        }
        Ok(SpoolSettings {
            dir: self.dir,
            max_bytes: self.max_bytes,
            segment_bytes,
            sync: self.sync,
            fsync_interval: millis(
                "spool.fsync_interval_ms",
                self.fsync_interval_ms,
                1..=10_000,
            )?,
            // Apart from spool.max_bytes: rejected batches must not make the
            // collector shed live hits.
            dead_letter_max_bytes: in_range(
                "spool.dead_letter_max_bytes",
                self.dead_letter_max_bytes,
                1024..=1 << 40,
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
                &[("BEACONHOUSE_SPOOL_SEGMENT_BYTES", "10")],
                "spool.segment_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_MAX_BYTES", "1000")],
                "spool.max_bytes",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_SYNC", "never")],
                "spool.sync",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_FSYNC_INTERVAL_MS", "0")],
                "spool.fsync_interval_ms",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_SPOOL_DEAD_LETTER_MAX_BYTES", "100")],
                "spool.dead_letter_max_bytes",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }
}
