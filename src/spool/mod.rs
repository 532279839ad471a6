//! The durable spool between the request path and ClickHouse.
//!
//! Every accepted row is serialized into the current segment file
//! (`segment-N.log`) as a checksummed frame ([`frame`]): the segment is
//! reserved on disk whole and memory-mapped ([`segment`]), so an append is a
//! copy into the page cache, not a system call. The shipper reads segments in order,
//! inserts batches into ClickHouse, and records the position ClickHouse has
//! acknowledged in `ledger`. A segment is deleted only once every record in it
//! is acknowledged, never as it is read (a crash mid-batch must not lose it).
//! On start the reader resumes at the ledger's position, so whatever was not
//! acknowledged is replayed. Modelled on Vector's disk buffer (`disk_v2`):
//! segment files, a ledger, a lock file, group-commit fsync, damaged records
//! skipped and counted.
//!
//! Guarantee: at-least-once delivery of every row whose frame was fsynced.
//! With `sync = "interval"` a hit is answered once its frame is copied into the
//! page cache (the mapping is shared); a SIGKILL of the collector loses
//! nothing, a power loss or kernel crash loses at most the last
//! `fsync_interval_ms`. With `sync = "always"` a hit is
//! answered only after its frame is fsynced (group commit: one fsync covers
//! every hit that arrived meanwhile). Duplicates after a replay are removed by
//! the shipper (see `pipeline::shipper`), so ClickHouse sees each row once.
//!
//! Files: every file of the spool is created 0600 and its directory 0700,
//! and no link is followed (see [`files`]).
//!
//! Must never: hold anything a row does not (rows carry no address, user agent
//! or token), or delete a segment that holds an unacknowledged record.

pub mod files;
pub mod frame;
mod segment;

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::row::Record;
use crate::row::row_binary::EncodedRows;
use segment::MappedSegment;

/// Bytes read from a segment at a time.
const READ_CHUNK: usize = 4 * 1024 * 1024;
const LEDGER: &str = "ledger";
const LEDGER_TEMPORARY: &str = "ledger.tmp";
const LOCK: &str = "lock";
/// The directory `pipeline::dead_letter` keeps rejected batches in.
pub const DEAD_LETTER: &str = "dead-letter";

/// When a frame is fsynced relative to the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// fsync every `fsync_interval`; answer without waiting.
    #[default]
    Interval,
    /// Answer only once the hit's frame is fsynced.
    Always,
}

#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    /// Appends are refused once the segments on disk reach this size.
    pub max_bytes: u64,
    /// A new segment is started past this size.
    pub segment_bytes: u64,
    pub sync: SyncMode,
    pub fsync_interval: Duration,
    /// Past this, the oldest dead-letter files (in `DEAD_LETTER`) are
    /// removed; read by `pipeline::dead_letter`.
    pub dead_letter_max_bytes: u64,
}

/// A place in the spool: a segment and a byte offset within it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the spool is full; the hit was not stored")]
    Full,
    #[error("spool I/O failed on {path}: {cause}; check free space and permissions of spool.dir")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the spool at {0} is in use by another collector; give each collector its own spool.dir"
    )]
    Locked(PathBuf),
    #[error(
        "a row is larger than a spool frame may be ({} bytes) or than spool.segment_bytes; the hit was not stored",
        frame::MAX_PAYLOAD_BYTES
    )]
    TooLarge,
    #[error(
        "{0} is a symbolic link, and the collector follows no link in its spool (spool.dir): remove the link and check what else writes there, or set spool.dir to the directory it points to"
    )]
    Link(PathBuf),
    #[error(
        "{dir} (spool.dir) has mode {mode:04o}, so others may read it, and holds {entry:?}, which is not the collector's: give spool.dir a directory of its own (`install -d -m 0700 DIR`), or `chmod 700 {dir}` if only the collector uses it"
    )]
    Shared {
        dir: PathBuf,
        mode: u32,
        entry: String,
    },
}

/// Wraps an I/O error on `path`; an open refused because `path` is a link
/// (`O_NOFOLLOW`, or `O_EXCL` finding one) says so.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |cause| {
        let link = match cause.raw_os_error() {
            Some(libc::ELOOP) => true,
            Some(libc::EEXIST) => fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()),
            _ => false,
        };
        if link {
            return SpoolError::Link(path.to_path_buf());
        }
        SpoolError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// The writing end, shared by every request handler.
pub struct Spool {
    writer: Mutex<Writer>,
    shared: Arc<Shared>,
    syncer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Writer {
    /// Where appends go; `None` once `close` has closed it (an append after
    /// that starts the next segment).
    current: Option<MappedSegment>,
    /// The current segment's number, or the last one's after `close`.
    segment: u64,
    /// Frames appended since start; a frame's number is its sync ticket.
    appended: u64,
}

struct Shared {
    settings: SpoolSettings,
    /// Bytes of frames in all segments on disk. The disk holds the current
    /// segment's unused room as well: `rotate` keeps both within
    /// `max_bytes`.
    bytes: AtomicU64,
    segments: AtomicU64,
    /// How far the reader may read: published by the syncer (every frame
    /// before it is complete in the page cache).
    readable: watch::Sender<Position>,
    /// The number of the last frame known to be fsynced.
    durable: watch::Sender<u64>,
    /// Set by `wait_durable` to ask the syncer for an fsync now.
    sync_wanted: Mutex<bool>,
    sync_wake: Condvar,
    stopping: AtomicBool,
    sync_failures: AtomicU64,
    /// Held for the spool's lifetime: one collector per spool directory.
    _lock: File,
}

/// Spool sizes for `/metrics` and readiness.
#[derive(Debug, Clone, Copy)]
pub struct SpoolStats {
    pub bytes: u64,
    pub segments: u64,
    pub max_bytes: u64,
    pub sync_failures: u64,
}

impl Spool {
    /// Opens (or creates) the spool in `settings.dir`, starts the syncer, and
    /// returns the writer and a reader positioned at the first unacknowledged
    /// record.
    pub fn open(settings: SpoolSettings) -> Result<(Arc<Spool>, SpoolReader), SpoolError> {
        let dir = settings.dir.clone();
        files::private_dir(&dir, is_spool_entry)?;
        let lock_path = dir.join(LOCK);
        let lock = files::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(SpoolError::Locked(dir));
        }

        let existing = list_segments(&dir)?;
        let acked = read_ledger(&dir).unwrap_or(Position {
            segment: existing.first().copied().unwrap_or(1),
            offset: 0,
        });
        let mut bytes = 0;
        let mut segments = 0;
        for &id in &existing {
            let path = segment_path(&dir, id);
            if id < acked.segment {
                fs::remove_file(&path).map_err(io_error(&path))?;
            } else {
                bytes += segment::cut_unused_room(&path)?;
                segments += 1;
            }
        }
        // Never append to a segment from a previous run: its tail may be torn.
        let segment = existing
            .last()
            .map(|last| last + 1)
            .unwrap_or(1)
            .max(acked.segment);
        let current = MappedSegment::create(&segment_path(&dir, segment), settings.segment_bytes)?;
        segments += 1;

        let start = Position { segment, offset: 0 };
        let (readable, _) = watch::channel(start);
        let (durable, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            settings,
            bytes: AtomicU64::new(bytes),
            segments: AtomicU64::new(segments),
            readable,
            durable,
            sync_wanted: Mutex::new(false),
            sync_wake: Condvar::new(),
            stopping: AtomicBool::new(false),
            sync_failures: AtomicU64::new(0),
            _lock: lock,
        });
        let spool = Arc::new(Spool {
            writer: Mutex::new(Writer {
                current: Some(current),
                segment,
                appended: 0,
            }),
            shared: shared.clone(),
            syncer: Mutex::new(None),
        });
        let syncer_spool = spool.clone();
        let handle = std::thread::Builder::new()
            .name("spool-sync".into())
            .spawn(move || syncer_spool.sync_loop())
            .map_err(io_error(&dir))?;
        *spool.syncer.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);

        let reader = SpoolReader {
            readable: shared.readable.subscribe(),
            shared,
            next: acked,
            chunk: Vec::new(),
        };
        Ok((spool, reader))
    }

    /// Appends a record; returns its sync ticket for [`Spool::wait_durable`].
    /// The room of the current segment is already reserved, so only an
    /// append that starts a new segment can find the spool full.
    pub fn append(&self, record: &Record) -> Result<u64, SpoolError> {
        let mut writer = self.lock_writer();
        let stored = match &mut writer.current {
            Some(current) => current.append(record)?,
            None => None,
        };
        let length = match stored {
            Some(length) => length,
            // Not even an empty segment holds it.
            None => self
                .rotate(&mut writer)?
                .append(record)?
                .ok_or(SpoolError::TooLarge)?,
        };
        self.shared.bytes.fetch_add(length, Ordering::Relaxed);
        writer.appended += 1;
        Ok(writer.appended)
    }

    /// Waits until the frame with `ticket` is fsynced (for `sync = "always"`).
    pub async fn wait_durable(&self, ticket: u64) {
        let mut durable = self.shared.durable.subscribe();
        if *durable.borrow() >= ticket {
            return;
        }
        self.request_sync();
        let _ = durable.wait_for(|synced| *synced >= ticket).await;
    }

    pub fn sync_mode(&self) -> SyncMode {
        self.shared.settings.sync
    }

    /// Over 90% full, so readiness can say so before hits are refused. The
    /// spool holds as many whole segments as `max_bytes` has room for
    /// (`rotate`), so that is what it is full at.
    pub fn nearly_full(&self) -> bool {
        let settings = &self.shared.settings;
        let capacity = settings.max_bytes / settings.segment_bytes * settings.segment_bytes;
        let bytes = self.shared.bytes.load(Ordering::Relaxed);
        bytes.saturating_mul(10) >= capacity.saturating_mul(9)
    }

    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            bytes: self.shared.bytes.load(Ordering::Relaxed),
            segments: self.shared.segments.load(Ordering::Relaxed),
            max_bytes: self.shared.settings.max_bytes,
            sync_failures: self.shared.sync_failures.load(Ordering::Relaxed),
        }
    }

    /// Flushes and fsyncs everything appended, stops the syncer. Appends after
    /// this still work but are only synced by the next `close` or by the OS.
    pub fn close(&self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.request_sync();
        let handle = self.syncer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        if let Err(error) = self.close_current(&mut self.lock_writer()) {
            tracing::error!(%error, "closing the spool's segment failed");
        }
    }

    fn request_sync(&self) {
        *self
            .shared
            .sync_wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.sync_wake.notify_one();
    }

    fn sync_loop(&self) {
        let interval = self.shared.settings.fsync_interval;
        loop {
            {
                let mut wanted = self
                    .shared
                    .sync_wanted
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if !*wanted {
                    wanted = self
                        .shared
                        .sync_wake
                        .wait_timeout(wanted, interval)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                *wanted = false;
            }
            if let Err(error) = self.sync() {
                self.shared.sync_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "spool fsync failed; will retry");
            }
            if self.shared.stopping.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    /// Publishes what was appended as readable, then fsyncs outside the lock
    /// so appends continue meanwhile. (A closed segment was fsynced as it
    /// was closed.)
    fn sync(&self) -> Result<(), SpoolError> {
        let (file, position, appended) = {
            let writer = self.lock_writer();
            if writer.appended == *self.shared.durable.borrow() {
                return Ok(());
            }
            let Some(current) = &writer.current else {
                return Ok(());
            };
            let position = Position {
                segment: writer.segment,
                offset: current.written(),
            };
            (current.file()?, position, writer.appended)
        };
        self.publish_readable(position);
        file.sync_data().map_err(io_error(&segment_path(
            &self.shared.settings.dir,
            position.segment,
        )))?;
        self.publish_durable(appended);
        Ok(())
    }

    /// Closes the current segment and starts the next; refuses when the
    /// frames on disk and a whole new segment's room would pass `max_bytes`.
    /// Returns the new segment.
    fn rotate<'w>(&self, writer: &'w mut Writer) -> Result<&'w mut MappedSegment, SpoolError> {
        let settings = &self.shared.settings;
        if self.shared.bytes.load(Ordering::Relaxed) + settings.segment_bytes > settings.max_bytes {
            return Err(SpoolError::Full);
        }
        self.close_current(writer)?;
        let next = writer.segment + 1;
        let segment =
            MappedSegment::create(&segment_path(&settings.dir, next), settings.segment_bytes)?;
        self.shared.segments.fetch_add(1, Ordering::Relaxed);
        writer.segment = next;
        self.publish_readable(Position {
            segment: next,
            offset: 0,
        });
        Ok(writer.current.insert(segment))
    }

    /// Cuts the current segment's unused room off, fsyncs it and publishes
    /// all of it; the next append starts a new segment.
    fn close_current(&self, writer: &mut Writer) -> Result<(), SpoolError> {
        let Some(current) = writer.current.take() else {
            return Ok(());
        };
        let end = Position {
            segment: writer.segment,
            offset: current.written(),
        };
        current.close()?;
        self.publish_readable(end);
        self.publish_durable(writer.appended);
        Ok(())
    }

    fn publish_readable(&self, position: Position) {
        self.shared.readable.send_if_modified(|readable| {
            position > *readable && {
                *readable = position;
                true
            }
        });
    }

    fn publish_durable(&self, appended: u64) {
        self.shared.durable.send_if_modified(|durable| {
            appended > *durable && {
                *durable = appended;
                true
            }
        });
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        // Every mutation of `Writer` completes before the guard drops or fails
        // with an error that leaves it consistent, so a poisoned lock is usable.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a read of the spool stopped, and what it skipped.
#[derive(Debug, Default)]
pub struct ReadProgress {
    /// Acknowledge up to here once the rows read are stored.
    pub end: Position,
    /// Frames that failed their checksum or hold no row, skipped.
    pub damaged: u64,
}

/// The reading end, owned by the shipper.
pub struct SpoolReader {
    shared: Arc<Shared>,
    readable: watch::Receiver<Position>,
    /// The first byte not yet read.
    next: Position,
    /// Bytes read from a segment, kept between reads: a fresh buffer of up
    /// to `READ_CHUNK` each time cost the shipper page faults.
    chunk: Vec<u8>,
}

impl SpoolReader {
    /// Reads what is readable now, without waiting, into `rows` until they
    /// hold `max_rows`.
    pub fn read(
        &mut self,
        rows: &mut EncodedRows,
        max_rows: usize,
    ) -> Result<ReadProgress, SpoolError> {
        let dir = self.shared.settings.dir.clone();
        let mut progress = ReadProgress::default();
        while rows.len() < max_rows {
            let limit = *self.readable.borrow_and_update();
            let closed = self.next.segment < limit.segment;
            let path = segment_path(&dir, self.next.segment);
            // A closed segment is read to its end; the current one up to what
            // the writer has published. A missing closed segment is skipped.
            let file = match files::open_read(&path) {
                Ok(file) => Some(file),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) => return Err(io_error(&path)(error)),
            };
            let end = match &file {
                Some(file) if closed => file.metadata().map_err(io_error(&path))?.len(),
                Some(_) => limit.offset,
                None => 0,
            };
            if self.next.offset >= end {
                if !closed {
                    break;
                }
                self.next = Position {
                    segment: self.next.segment + 1,
                    offset: 0,
                };
                continue;
            }
            let Some(mut file) = file else { break };
            let length = ((end - self.next.offset) as usize).min(READ_CHUNK);
            if self.chunk.len() < length {
                self.chunk.resize(length, 0);
            }
            let chunk = &mut self.chunk[..length];
            file.seek(SeekFrom::Start(self.next.offset))
                .and_then(|_| file.read_exact(chunk))
                .map_err(io_error(&path))?;
            let at_end = self.next.offset + length as u64 == end;
            let consumed = scan_chunk(
                chunk,
                closed && at_end,
                max_rows,
                rows,
                &mut progress.damaged,
            );
            self.next.offset += consumed as u64;
            if consumed == 0 {
                break;
            }
        }
        progress.end = self.next;
        Ok(progress)
    }

    /// Records that ClickHouse has everything before `upto`: writes the ledger
    /// and deletes the segments wholly before it.
    pub fn acknowledge(&mut self, upto: Position) -> Result<(), SpoolError> {
        let dir = &self.shared.settings.dir;
        write_ledger(dir, upto)?;
        for id in list_segments(dir)? {
            if id >= upto.segment {
                break;
            }
            let path = segment_path(dir, id);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path).map_err(io_error(&path))?;
            self.shared.bytes.fetch_sub(size, Ordering::Relaxed);
            self.shared.segments.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether everything readable has been read.
    pub fn caught_up(&self) -> bool {
        let limit = *self.readable.borrow();
        self.next.segment >= limit.segment && self.next.offset >= limit.offset
    }

    /// Waits until more becomes readable.
    pub async fn readable_changed(&mut self) {
        if self.readable.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Adds the rows of the frames in `buf` to `rows`, counting the damaged
/// ones; returns the bytes consumed.
fn scan_chunk(
    buf: &[u8],
    final_chunk: bool,
    max_rows: usize,
    rows: &mut EncodedRows,
    damaged: &mut u64,
) -> usize {
    let mut at = 0;
    while at < buf.len() && rows.len() < max_rows {
        match frame::scan(&buf[at..]) {
            frame::Scan::Frame { payload, next } => {
                if rows.push_spooled(payload).is_err() {
                    *damaged += 1;
                }
                at += next;
            }
            frame::Scan::Damaged { resume } => {
                *damaged += 1;
                at += resume;
            }
            frame::Scan::Incomplete if final_chunk => {
                *damaged += 1;
                at += frame::skip_damaged(&buf[at..]);
            }
            frame::Scan::Incomplete => break,
        }
    }
    at
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("segment-{id:020}.log"))
}

/// Whether `name` is one the spool (or its dead-letter directory) uses.
fn is_spool_entry(name: &str) -> bool {
    [LEDGER, LEDGER_TEMPORARY, LOCK, DEAD_LETTER].contains(&name)
        || name.starts_with("segment-") && name.ends_with(".log")
}

/// Segment ids present on disk, ascending.
fn list_segments(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut ids: Vec<u64> = fs::read_dir(dir)
        .map_err(io_error(dir))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let name = name.to_str()?;
            name.strip_prefix("segment-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn read_ledger(dir: &Path) -> Option<Position> {
    let mut text = String::new();
    files::open_read(&dir.join(LEDGER))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    let mut parts = text.split_whitespace();
    let position = Position {
        segment: parts.next()?.parse().ok()?,
        offset: parts.next()?.parse().ok()?,
    };
    Some(position)
}

/// Replaces the ledger atomically: a crash leaves the old or the new one.
fn write_ledger(dir: &Path, position: Position) -> Result<(), SpoolError> {
    let temporary = dir.join(LEDGER_TEMPORARY);
    let mut file = files::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    writeln!(file, "{} {}", position.segment, position.offset)
        .and_then(|_| file.sync_data())
        .map_err(io_error(&temporary))?;
    let ledger = dir.join(LEDGER);
    fs::rename(&temporary, &ledger).map_err(io_error(&ledger))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::OpenRow;

    fn settings(dir: &Path, max_bytes: u64, segment_bytes: u64) -> SpoolSettings {
        SpoolSettings {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes,
            sync: SyncMode::Interval,
            fsync_interval: Duration::from_millis(1),
            dead_letter_max_bytes: 1 << 20,
        }
    }

    fn open(n: u64) -> Record {
        Record::Open(OpenRow {
            campaign: format!("campaign-{n}"),
            ts: n as u32,
            recipient_id: n,
            proxied: 0,
            country: String::new(),
            client: String::new(),
            open_id: n,
        })
    }

    fn ids(records: &[Record]) -> Vec<u64> {
        records
            .iter()
            .map(|r| match r {
                Record::Open(o) => o.open_id,
                Record::Event(e) => e.event_id,
                Record::Click(c) => c.click_id,
            })
            .collect()
    }

    /// What a test read: the rows decoded, and where reading stopped.
    #[derive(Default)]
    struct Read {
        records: Vec<Record>,
        end: Position,
        damaged: u64,
    }

    fn read_now(reader: &mut SpoolReader, max_rows: usize) -> Read {
        let mut rows = EncodedRows::default();
        let progress = reader.read(&mut rows, max_rows).unwrap();
        Read {
            records: rows.decode_all().unwrap(),
            end: progress.end,
            damaged: progress.damaged,
        }
    }

    /// Reads until `want` records arrived (the syncer publishes within a ms).
    fn read_n(reader: &mut SpoolReader, want: usize) -> Read {
        let mut all = Read::default();
        for _ in 0..2000 {
            let batch = read_now(reader, want - all.records.len());
            all.records.extend(batch.records);
            all.damaged += batch.damaged;
            all.end = batch.end;
            if all.records.len() == want {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        all
    }

    #[test]
    fn records_an_earlier_version_spooled_are_replayed() {
        // Before rows were spooled as RowBinary, postcard wrote the variant
        // number (1, an open) and the row's fields.
        let dir = tempfile::tempdir().unwrap();
        files::private_dir(dir.path(), is_spool_entry).unwrap();
        let Record::Open(row) = open(7) else {
            unreachable!()
        };
        let mut payload = vec![1];
        payload.extend(postcard::to_stdvec(&row).unwrap());
        let mut segment = Vec::new();
        frame::encode(&payload, &mut segment);
        fs::write(segment_path(dir.path(), 1), &segment).unwrap();
        let (spool, mut reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 12)).unwrap();
        spool.append(&open(8)).unwrap();
        let batch = read_n(&mut reader, 2);
        assert_eq!(ids(&batch.records), vec![7, 8]);
        assert_eq!(batch.damaged, 0);
        spool.close();
    }

    #[test]
    fn appended_records_are_read_back_in_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 10)).unwrap();
        for n in 0..200 {
            spool.append(&open(n)).unwrap();
        }
        assert!(spool.stats().segments > 1, "small segments rotate");
        let batch = read_n(&mut reader, 200);
        assert_eq!(ids(&batch.records), (0..200).collect::<Vec<_>>());
        assert_eq!(batch.damaged, 0);
        reader.acknowledge(batch.end).unwrap();
        assert_eq!(
            spool.stats().segments,
            1,
            "acknowledged segments are deleted"
        );
        spool.close();
    }

    #[test]
    fn unacknowledged_records_are_replayed_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (spool, mut reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 10)).unwrap();
            for n in 0..50 {
                spool.append(&open(n)).unwrap();
            }
            let first = read_n(&mut reader, 20);
            reader.acknowledge(first.end).unwrap();
            let _unacknowledged = read_n(&mut reader, 30);
            spool.close();
        }
        let (spool, mut reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 10)).unwrap();
        spool.append(&open(50)).unwrap();
        let replay = read_n(&mut reader, 31);
        assert_eq!(ids(&replay.records), (20..51).collect::<Vec<_>>());
        spool.close();
    }

    /// The spool's files as a killed collector leaves them: what the page
    /// cache holds, copied while the writer still has them open.
    fn snapshot(from: &Path, to: &Path) {
        fs::create_dir(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name() != Some(LOCK.as_ref()) {
                fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
        files::private_dir(to, is_spool_entry).unwrap();
    }

    fn segment_lengths(dir: &Path) -> Vec<u64> {
        list_segments(dir)
            .unwrap()
            .iter()
            .map(|&id| fs::metadata(segment_path(dir, id)).unwrap().len())
            .collect()
    }

    #[test]
    fn a_killed_writers_segments_replay_every_frame_and_no_unused_room() {
        let root = tempfile::tempdir().unwrap();
        let live = root.path().join("live");
        let (spool, _reader) = Spool::open(settings(&live, 1 << 20, 1 << 12)).unwrap();
        for n in 0..150 {
            spool.append(&open(n)).unwrap();
        }
        let killed = root.path().join("killed");
        snapshot(&live, &killed);
        let lengths = segment_lengths(&killed);
        assert!(lengths.len() > 1, "{lengths:?}");
        assert!(
            lengths[..lengths.len() - 1].iter().all(|&l| l < 1 << 12),
            "closed segments hold only their frames: {lengths:?}"
        );
        assert_eq!(
            lengths.last(),
            Some(&(1 << 12)),
            "the current one is reserved whole"
        );

        // A frame torn by the kill, in a copy of its own: its header is
        // written last, so it is its payload alone.
        let torn = root.path().join("torn");
        snapshot(&live, &torn);
        let last = segment_path(&torn, *list_segments(&torn).unwrap().last().unwrap());
        let mut bytes = fs::read(&last).unwrap();
        let end = frame::data_end(&bytes);
        bytes[end..end + 20].fill(0x5a);
        fs::write(&last, &bytes).unwrap();
        spool.close();

        let (replayed, mut reader) = Spool::open(settings(&killed, 1 << 20, 1 << 12)).unwrap();
        let batch = read_n(&mut reader, 150);
        assert_eq!(ids(&batch.records), (0..150).collect::<Vec<_>>());
        assert_eq!(batch.damaged, 0, "the zeroed room is not damage");
        assert_eq!(read_now(&mut reader, 10).records.len(), 0);
        replayed.close();

        let (replayed, mut reader) = Spool::open(settings(&torn, 1 << 20, 1 << 12)).unwrap();
        let batch = read_n(&mut reader, 150);
        assert_eq!(ids(&batch.records), (0..150).collect::<Vec<_>>());
        let after = read_now(&mut reader, 10);
        assert_eq!(
            (after.records.len(), after.damaged),
            (0, 1),
            "the torn frame is counted"
        );
        replayed.close();
    }

    #[test]
    fn a_closed_spool_holds_exactly_its_frames_and_takes_appends_after() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 12)).unwrap();
        for n in 0..10 {
            spool.append(&open(n)).unwrap();
        }
        spool.close();
        assert_eq!(segment_lengths(dir.path()), vec![spool.stats().bytes]);
        spool.append(&open(10)).unwrap();
        spool.close();
        let batch = read_n(&mut reader, 11);
        assert_eq!(ids(&batch.records), (0..11).collect::<Vec<_>>());
        assert_eq!(
            segment_lengths(dir.path()).iter().sum::<u64>(),
            spool.stats().bytes
        );
    }

    #[test]
    fn a_row_larger_than_a_segment_is_refused_and_the_next_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 10)).unwrap();
        let mut huge = open(0);
        if let Record::Open(row) = &mut huge {
            row.campaign = "c".repeat(2000);
        }
        assert!(matches!(spool.append(&huge), Err(SpoolError::TooLarge)));
        spool.append(&open(1)).unwrap();
        assert_eq!(ids(&read_n(&mut reader, 1).records), vec![1]);
        spool.close();
    }

    #[test]
    fn a_spool_has_one_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _reader) = Spool::open(settings(dir.path(), 1 << 20, 1 << 16)).unwrap();
        assert!(matches!(
            Spool::open(settings(dir.path(), 1 << 20, 1 << 16)),
            Err(SpoolError::Locked(_))
        ));
        spool.close();
    }

    #[test]
    fn a_full_spool_refuses_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut reader) = Spool::open(settings(dir.path(), 2048, 1024)).unwrap();
        let mut accepted = 0;
        while spool.append(&open(accepted)).is_ok() {
            accepted += 1;
        }
        assert!(matches!(spool.append(&open(0)), Err(SpoolError::Full)));
        assert!(spool.stats().bytes <= 2048);
        let batch = read_n(&mut reader, accepted as usize);
        reader.acknowledge(batch.end).unwrap();
        assert!(spool.append(&open(0)).is_ok(), "room again once shipped");
        spool.close();
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn spool_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        let (spool, mut reader) = Spool::open(settings(&dir, 1 << 20, 1 << 10)).unwrap();
        for n in 0..50 {
            spool.append(&open(n)).unwrap();
        }
        let batch = read_n(&mut reader, 50);
        reader.acknowledge(batch.end).unwrap();
        spool.close();
        assert_eq!(mode(&dir), files::DIR_MODE);
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"ledger".to_string()), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("segment-")), "{names:?}");
        for name in names {
            assert_eq!(mode(&dir.join(&name)), files::FILE_MODE, "{name}");
        }
    }

    #[test]
    fn a_link_planted_in_the_spool_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        let target = root.path().join("target");
        fs::write(&target, "precious").unwrap();
        let target_mode = mode(&target);
        // At start: the collector refuses to open the spool and names the link.
        fs::create_dir(&dir).unwrap();
        let ledger = dir.join(LEDGER);
        std::os::unix::fs::symlink(&target, &ledger).unwrap();
        assert!(matches!(
            Spool::open(settings(&dir, 1 << 20, 1 << 16)),
            Err(SpoolError::Link(path)) if path == ledger
        ));
        fs::remove_file(&ledger).unwrap();

        // While running: where the next segment would be.
        let (spool, _reader) = Spool::open(settings(&dir, 1 << 20, 1 << 16)).unwrap();
        let next = segment_path(&dir, 2);
        std::os::unix::fs::symlink(&target, &next).unwrap();
        let refused = (0..10_000)
            .map(|n| spool.append(&open(n)))
            .find_map(Result::err);
        assert!(
            matches!(&refused, Some(SpoolError::Link(path)) if *path == next),
            "{refused:?}"
        );
        spool.close();
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(mode(&target), target_mode);
    }

    #[tokio::test]
    async fn always_mode_waits_for_the_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let mut always = settings(dir.path(), 1 << 20, 1 << 16);
        always.sync = SyncMode::Always;
        always.fsync_interval = Duration::from_secs(3600);
        let (spool, _reader) = Spool::open(always).unwrap();
        let ticket = spool.append(&open(1)).unwrap();
        tokio::time::timeout(Duration::from_secs(5), spool.wait_durable(ticket))
            .await
            .expect("a waiting append triggers an fsync at once");
        spool.close();
    }
}
