//! Batches ClickHouse rejected as malformed, kept on disk for the operator:
//! one JSON-lines file per batch in `<spool.dir>/dead-letter/`, first line the
//! error, then one row per line. Replay one with
//! `clickhouse-client --query "INSERT INTO events FORMAT JSONEachRow" < file`
//! (after `tail -n +2`) once the cause is fixed.
//! Must never: hold anything a row does not (rows carry no address, user agent
//! or token).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub struct DeadLetter {
    dir: PathBuf,
}

impl DeadLetter {
    pub fn new(spool_dir: &Path) -> DeadLetter {
        DeadLetter {
            dir: spool_dir.join("dead-letter"),
        }
    }

    /// Writes and fsyncs one rejected batch; returns the file's path.
    pub fn write<T: Serialize>(
        &self,
        table: &str,
        error: &str,
        rows: &[T],
    ) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let mut suffix = [0u8; 4];
        let _ = getrandom::fill(&mut suffix);
        let name = format!(
            "{}-{table}-{:08x}.jsonl",
            crate::clock::now_unix(),
            u32::from_le_bytes(suffix)
        );
        let path = self.dir.join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
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

    #[test]
    fn writes_the_error_then_the_rows() {
        let spool = tempfile::tempdir().unwrap();
        let dead = DeadLetter::new(spool.path());
        let path = dead
            .write(
                "events",
                "Code: 53. Type mismatch",
                &[serde_json::json!({"path": "/a"})],
            )
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("Type mismatch"));
        assert_eq!(lines[1], r#"{"path":"/a"}"#);
    }
}
