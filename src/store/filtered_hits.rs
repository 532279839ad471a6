//! Hits answered but not stored, counted for the "Filtered traffic" figures:
//! per configured site (or none), UTC hour, reason and, for bots, their kind,
//! added up in memory and written to `filtered_hits` every
//! [`FLUSH_INTERVAL`] (and once more at shutdown).
//!
//! Owns: [`FilteredHits`], the tally and its flush. Counts of a flush that
//! ClickHouse did not take are kept for the next one; counts of the last
//! interval before a crash are lost (they are not hits).
//! Must never: hold anything of a request but a configured site's id, the
//! reason and the bot kind (a site a hit names that is not configured is
//! counted under `''`, so no visitor-written text is stored); count a
//! request with Do-Not-Track or Global Privacy Control, which never reaches
//! it (the request edge answers those first).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::enrich::ua::BotKind;
use crate::outcome::DropReason;
use crate::store::clickhouse::{Endpoints, describe};

/// How often counts are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// What one row of `filtered_hits` counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    site: String,
    hour: u32,
    reason: &'static str,
    kind: &'static str,
}

/// A row of `filtered_hits`, in column order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, clickhouse::Row)]
struct FilteredRow {
    site: String,
    hour: u32,
    reason: String,
    kind: String,
    hits: u64,
}

/// The counts not yet written.
#[derive(Debug, Default)]
pub struct FilteredHits {
    tally: Mutex<HashMap<Key, u64>>,
}

impl FilteredHits {
    /// Counts one hit of `site` (a configured site's id, or `None`) not
    /// stored for `reason` at `now`; a bot's kind is read from its
    /// `user_agent`, which goes no further.
    pub fn count(&self, site: Option<&str>, now: u32, reason: DropReason, user_agent: &str) {
        let kind = match reason {
            DropReason::Bot => BotKind::of(user_agent).label(),
            _ => "",
        };
        let key = Key {
            site: site.unwrap_or_default().to_string(),
            hour: now / 3600 * 3600,
            reason: reason.label(),
            kind,
        };
        *self.lock().entry(key).or_default() += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, u64>> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the counts so far; on failure they are kept for the next try.
    /// The number of rows written.
    pub async fn flush(&self, endpoints: &Endpoints) -> Result<usize, clickhouse::error::Error> {
        let taken = std::mem::take(&mut *self.lock());
        if taken.is_empty() {
            return Ok(0);
        }
        let rows: Vec<FilteredRow> = taken
            .iter()
            .map(|(key, hits)| FilteredRow {
                site: key.site.clone(),
                hour: key.hour,
                reason: key.reason.into(),
                kind: key.kind.into(),
                hits: *hits,
            })
            .collect();
        let rows = &rows;
        let written = endpoints
            .run(|client| async move {
                let mut insert = client.insert::<FilteredRow>("filtered_hits").await?;
                for row in rows {
                    insert.write(row).await?;
                }
                insert.end().await
            })
            .await;
        if let Err(error) = written {
            let mut tally = self.lock();
            for (key, hits) in taken {
                *tally.entry(key).or_default() += hits;
            }
            return Err(error);
        }
        Ok(rows.len())
    }

    /// Flushes every [`FLUSH_INTERVAL`] until the process ends.
    pub async fn run(self: Arc<Self>, endpoints: Endpoints) {
        loop {
            tokio::time::sleep(FLUSH_INTERVAL).await;
            if let Err(error) = self.flush(&endpoints).await {
                tracing::warn!(
                    error = %describe(&error),
                    "filtered-traffic counts were not written; they are kept for the next try (check that ClickHouse is up and `beaconhouse migrate` has run)"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    #[test]
    fn counts_add_up_per_site_hour_reason_and_kind() {
        let hits = FilteredHits::default();
        let at = clock::day_from_civil(2026, 11, 10).map_or(0, |d| u32::from(d) * 86_400);
        hits.count(Some("a.com"), at + 10, DropReason::Bot, "curl/8.5.0");
        hits.count(Some("a.com"), at + 20, DropReason::Bot, "curl/8.4.0");
        hits.count(Some("a.com"), at + 30, DropReason::Bot, "Googlebot/2.1");
        hits.count(Some("a.com"), at + 3600, DropReason::Bot, "curl/8.5.0");
        hits.count(None, at, DropReason::UnknownSite, "Mozilla/5.0");
        hits.count(Some("a.com"), at, DropReason::RateLimited, "curl/8.5.0");
        let tally = hits.lock();
        let count = |site: &str, hour: u32, reason: &'static str, kind: &'static str| {
            tally.get(&Key {
                site: site.into(),
                hour,
                reason,
                kind,
            })
        };
        assert_eq!(count("a.com", at, "bot", "library"), Some(&2));
        assert_eq!(count("a.com", at, "bot", "crawler"), Some(&1));
        assert_eq!(count("a.com", at + 3600, "bot", "library"), Some(&1));
        assert_eq!(count("", at, "unknown_site", ""), Some(&1));
        assert_eq!(
            count("a.com", at, "rate_limited", ""),
            Some(&1),
            "no kind but for bots"
        );
        assert_eq!(tally.len(), 5);
    }
}
