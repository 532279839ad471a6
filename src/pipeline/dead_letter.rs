//! Batches ClickHouse rejected as malformed, kept on disk for the operator:
//! one JSON-lines file per batch in `<spool.dir>/dead-letter/`, named after
//! the time it was written (so names sort oldest first), first line the
//! error, then one row per line. Replay one with
//! `clickhouse-client --query "INSERT INTO events FORMAT JSONEachRow" < file`
//! (after `tail -n +2`) once the cause is fixed.
//!
//! Bounded: past `spool.dead_letter_max_bytes` the oldest files are removed
//! (the newest is always kept, so the last rejection can be read), counted
//! in `/metrics` with the space still held. The limit stands apart from
//! `spool.max_bytes`, so rejected batches never make the collector shed live
//! hits. Files are 0600 in a 0700 directory, opened through no link
//! (`spool::files`).
//! Must never: hold anything a row does not (rows carry no address, user agent
//! or token), or remove a file that is not a dead letter.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::metrics::Metrics;
use crate::spool::{DEAD_LETTER, SpoolError, files};

/// How a dead-letter file's name ends; nothing else in the directory is
/// counted or removed.
const SUFFIX: &str = ".jsonl";

pub struct DeadLetter {
    dir: PathBuf,
    /// Past this, the oldest files are removed.
    max_bytes: u64,
}

/// One dead-letter file on disk.
struct Held {
    path: PathBuf,
    bytes: u64,
}

impl DeadLetter {
    /// Creates (or checks) the directory under `spool_dir` and brings it
    /// within `max_bytes`, as a lowered limit asks.
    pub fn open(
        spool_dir: &Path,
        max_bytes: u64,
        metrics: &Metrics,
    ) -> Result<DeadLetter, SpoolError> {
        let dir = spool_dir.join(DEAD_LETTER);
        files::private_dir(&dir, |name| name.ends_with(SUFFIX))?;
        let dead_letter = DeadLetter { dir, max_bytes };
        dead_letter.prune(metrics).map_err(|cause| SpoolError::Io {
            path: dead_letter.dir.clone(),
            cause,
        })?;
        Ok(dead_letter)
    }

    /// Writes and fsyncs one rejected batch, then removes the oldest files
    /// past the limit; returns the new file's path.
    pub fn write<T: Serialize>(
        &self,
        table: &str,
        error: &str,
        rows: &[T],
        metrics: &Metrics,
    ) -> std::io::Result<PathBuf> {
        let mut suffix = [0u8; 4];
        let _ = getrandom::fill(&mut suffix);
        // Nanoseconds, not the file's modification time: that is coarser
        // than the time between two rejected batches.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{:010}-{:09}-{table}-{:08x}{SUFFIX}",
            now.as_secs(),
            now.subsec_nanos(),
            u32::from_le_bytes(suffix)
        );
        let path = self.dir.join(name);
        let file = files::options().write(true).create_new(true).open(&path)?;
        let mut out = std::io::BufWriter::new(file);
        let header = serde_json::json!({ "table": table, "error": error, "rows": rows.len() });
        writeln!(out, "{header}")?;
        for row in rows {
            serde_json::to_writer(&mut out, row)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        if let Err(error) = self.prune(metrics) {
            tracing::error!(%error, dir = %self.dir.display(), "cannot remove old dead-letter files; check the directory's permissions");
        }
        Ok(path)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the oldest files, never the newest, while the directory
    /// holds more than `max_bytes`; records what was removed and what is held.
    fn prune(&self, metrics: &Metrics) -> std::io::Result<()> {
        let held = self.list()?;
        let mut bytes: u64 = held.iter().map(|file| file.bytes).sum();
        let mut files = held.len() as u64;
        let (mut pruned_files, mut pruned_bytes) = (0, 0);
        let mut outcome = Ok(());
        for file in held.iter().take(held.len().saturating_sub(1)) {
            if bytes <= self.max_bytes {
                break;
            }
            match std::fs::remove_file(&file.path) {
                Ok(()) => {
                    pruned_files += 1;
                    pruned_bytes += file.bytes;
                }
                // Removed meanwhile (by the operator, after a replay).
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            }
            bytes -= file.bytes;
            files -= 1;
        }
        metrics.dead_letter_pruned(pruned_files, pruned_bytes);
        metrics.dead_letter_held(files, bytes);
        if pruned_files > 0 {
            tracing::warn!(
                removed_files = pruned_files,
                removed_bytes = pruned_bytes,
                dir = %self.dir.display(),
                "dead letters exceeded spool.dead_letter_max_bytes ({}); removed the oldest. Replay or remove dead letters sooner, or raise the limit",
                self.max_bytes
            );
        }
        outcome
    }

    /// The dead-letter files, oldest first.
    fn list(&self) -> std::io::Result<Vec<Held>> {
        let mut held = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            // Not followed: a link is no dead letter.
            let metadata = entry.metadata()?;
            if !metadata.is_file() || !entry.file_name().to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            held.push(Held {
                path: entry.path(),
                bytes: metadata.len(),
            });
        }
        held.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::SpoolStats;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    /// `/metrics`' dead-letter figures: files and bytes held, files and
    /// bytes removed.
    fn counts(metrics: &Metrics) -> Vec<u64> {
        let text = metrics.render(SpoolStats {
            bytes: 0,
            segments: 0,
            max_bytes: 0,
            sync_failures: 0,
        });
        ["files", "bytes", "pruned_files_total", "pruned_bytes_total"]
            .iter()
            .map(|name| {
                let prefix = format!("beaconhouse_dead_letter_{name} ");
                let line = text.lines().find_map(|l| l.strip_prefix(&prefix));
                line.and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{prefix}"))
            })
            .collect()
    }

    fn held(dead: &DeadLetter) -> Vec<PathBuf> {
        dead.list().unwrap().into_iter().map(|f| f.path).collect()
    }

    #[test]
    fn writes_the_error_then_the_rows_privately() {
        let spool = tempfile::tempdir().unwrap();
        let metrics = Metrics::default();
        let dead = DeadLetter::open(spool.path(), 1 << 20, &metrics).unwrap();
        let path = dead
            .write(
                "events",
                "Code: 53. Type mismatch",
                &[serde_json::json!({"path": "/a"})],
                &metrics,
            )
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("Type mismatch"));
        assert_eq!(lines[1], r#"{"path":"/a"}"#);
        assert_eq!(mode(&path), files::FILE_MODE);
        assert_eq!(mode(dead.dir()), files::DIR_MODE);
        assert_eq!(counts(&metrics), [1, text.len() as u64, 0, 0]);
    }

    #[test]
    fn the_oldest_files_go_first_and_the_newest_stays() {
        let spool = tempfile::tempdir().unwrap();
        let metrics = Metrics::default();
        // Each file here is 55 bytes: two fit, a third does not.
        let dead = DeadLetter::open(spool.path(), 110, &metrics).unwrap();
        let row = |n: u32| [serde_json::json!({ "n": n })];
        let mut written = Vec::new();
        for n in 0..5 {
            let path = dead.write("events", "Code: 16", &row(n), &metrics).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 55);
            written.push(path);
        }
        assert_eq!(held(&dead), written[3..]);
        assert_eq!(counts(&metrics), [2, 110, 3, 165]);

        // One file over the whole limit is kept: the last rejection stays readable.
        let big: Vec<_> = (0..50).map(|n| serde_json::json!({ "n": n })).collect();
        let last = dead.write("events", "Code: 16", &big, &metrics).unwrap();
        let size = std::fs::metadata(&last).unwrap().len();
        assert!(size > 110);
        assert_eq!(held(&dead), [last]);
        assert_eq!(counts(&metrics), [1, size, 5, 275]);
    }

    #[test]
    fn a_lowered_limit_applies_at_start_and_other_files_are_left_alone() {
        let spool = tempfile::tempdir().unwrap();
        let dead = DeadLetter::open(spool.path(), 1 << 20, &Metrics::default()).unwrap();
        for n in 0..3 {
            dead.write("email_opens", "Code: 117", &[n], &Metrics::default())
                .unwrap();
        }
        let written = held(&dead);
        let sizes: Vec<u64> = dead.list().unwrap().iter().map(|f| f.bytes).collect();
        let notes = dead.dir().join("README.txt");
        std::fs::write(&notes, "replayed 2026-11-02").unwrap();
        let metrics = Metrics::default();
        let dead = DeadLetter::open(spool.path(), 1024, &metrics).unwrap();
        assert_eq!(held(&dead), written, "all fit in 1024 bytes");
        // Below one file's size: only the newest stays.
        let tiny = DeadLetter {
            max_bytes: 1,
            ..dead
        };
        tiny.prune(&metrics).unwrap();
        assert_eq!(held(&tiny), written[2..]);
        assert!(notes.exists(), "what is not a dead letter stays");
        assert_eq!(counts(&metrics), [1, sizes[2], 2, sizes[0] + sizes[1]]);
    }

    #[test]
    fn a_link_for_the_directory_is_refused() {
        let spool = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), spool.path().join(DEAD_LETTER)).unwrap();
        let refused = DeadLetter::open(spool.path(), 1 << 20, &Metrics::default());
        assert!(matches!(refused, Err(SpoolError::Link(_))));
    }
}
