//! Batches ClickHouse rejected as malformed, kept on disk for the operator:
//! one JSON-lines file per batch in `<spool.dir>/dead-letter/`, first line the
//! error, then one row per line. Replay one with
//! `clickhouse-client --query "INSERT INTO events FORMAT JSONEachRow" < file`
//! (after `tail -n +2`) once the cause is fixed. Files are 0600 in a 0700
//! directory, opened through no link (`spool::files`).
//! Must never: hold anything a row does not (rows carry no address, user agent
//! or token).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::spool::{DEAD_LETTER, SpoolError, files};

pub struct DeadLetter {
    dir: PathBuf,
}

impl DeadLetter {
    /// Creates (or checks) the directory under `spool_dir`.
    pub fn open(spool_dir: &Path) -> Result<DeadLetter, SpoolError> {
        let dir = spool_dir.join(DEAD_LETTER);
        files::private_dir(&dir, |name| name.ends_with(".jsonl"))?;
        Ok(DeadLetter { dir })
    }

    /// Writes and fsyncs one rejected batch; returns the file's path.
    pub fn write<T: Serialize>(
        &self,
        table: &str,
        error: &str,
        rows: &[T],
    ) -> std::io::Result<PathBuf> {
        let mut suffix = [0u8; 4];
        let _ = getrandom::fill(&mut suffix);
        let name = format!(
            "{}-{table}-{:08x}.jsonl",
            crate::clock::now_unix(),
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
        Ok(path)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_the_error_then_the_rows_privately() {
        let spool = tempfile::tempdir().unwrap();
        let dead = DeadLetter::open(spool.path()).unwrap();
        let path = dead
            .write(
                "events",
                "Code: 53. Type mismatch",
                &[serde_json::json!({"path": "/a"})],
            )
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("Type mismatch"));
        assert_eq!(lines[1], r#"{"path":"/a"}"#);
        assert_eq!(mode(&path), files::FILE_MODE);
        assert_eq!(mode(dead.dir()), files::DIR_MODE);
    }

    #[test]
    fn a_link_for_the_directory_is_refused() {
        let spool = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), spool.path().join(DEAD_LETTER)).unwrap();
        assert!(matches!(
            DeadLetter::open(spool.path()),
            Err(SpoolError::Link(_))
        ));
    }
}
