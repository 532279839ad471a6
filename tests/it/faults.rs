//! Fault tests: real clickhouse-server processes that the tests stop and
//! start, a collector that is killed and restarted on its spool, a damaged
//! spool, a rejected batch, dead letters past their limit, a full spool. Each
//! asserts exact counts, read once the collector has accounted for every hit
//! (`Collector::settled`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{self, CHROME, ClickHouse, Collector, enc};

/// One fault test at a time: each runs its own server, and they measure time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A page view of `/hit/{marker}`; the pixel must answer.
fn hit(collector: &Collector, marker: usize) {
    let url = enc(&format!("https://optimumabq.com/hit/{marker}"));
    let response = collector.get(
        &format!("/p.gif?site=optimumabq.com&url={url}"),
        &[("User-Agent", CHROME), ("X-Forwarded-For", "81.2.69.142")],
    );
    assert_eq!(response.status, 200);
}

/// Rows in `events` and distinct paths among them, once `collector` has
/// accounted for every hit: the final figures, duplicates included.
fn stored_rows(collector: &Collector, clickhouse: &ClickHouse, db: &str) -> (u64, u64) {
    collector.settled();
    let body = clickhouse.query(db, "SELECT count(), uniqExact(path) FROM events FORMAT TSV");
    let (c, u) = body.trim().split_once('\t').unwrap();
    (c.parse().unwrap(), u.parse().unwrap())
}

fn setup(prefix: &str) -> (ClickHouse, String) {
    let clickhouse = ClickHouse::start();
    let db = clickhouse.fresh_database(prefix);
    common::migrate(&clickhouse, &db);
    (clickhouse, db)
}

/// A new database on the server shared by every module's tests, for those
/// that do not stop it.
fn shared(prefix: &str) -> (&'static ClickHouse, String) {
    let clickhouse = common::clickhouse();
    let db = clickhouse.fresh_database(prefix);
    common::migrate(clickhouse, &db);
    (clickhouse, db)
}

const PROXY: &str = "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";

#[test]
fn clickhouse_outage_mid_run_loses_and_duplicates_nothing() {
    let _serial = serial();
    let (mut clickhouse, db) = setup("outage");
    let collector = Collector::start(&clickhouse, &db, PROXY);
    const N: usize = 3000;
    for marker in 0..N {
        if marker == N / 3 {
            clickhouse.stop();
        }
        if marker == 2 * N / 3 {
            clickhouse.resume();
        }
        hit(&collector, marker);
    }
    let (count, unique) = stored_rows(&collector, &clickhouse, &db);
    eprintln!("outage: sent {N}, stored {count} rows, {unique} distinct");
    assert_eq!((count, unique), (N as u64, N as u64));
    assert!(
        collector.metric("beaconhouse_batch_failures_total") > 0,
        "the outage was felt"
    );
    assert_eq!(collector.metric("beaconhouse_rows_stored_total"), N as u64);
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
}

#[test]
fn sigkill_and_restart_replays_every_answered_hit_exactly_once() {
    let _serial = serial();
    let (clickhouse, db) = setup("sigkill");
    const N: usize = 2000;
    let always = format!("{PROXY}[spool]\nsync = \"always\"\n");
    let collector = Collector::start(&clickhouse, &db, &always);
    // Hits are answered while the shipper is mid-way through them: some are
    // stored, some acknowledged, some only spooled when the process dies.
    for marker in 0..N {
        hit(&collector, marker);
    }
    let dir = collector.kill();
    let restarted = Collector::start_in(dir, &clickhouse, &db, &always);
    let (count, unique) = stored_rows(&restarted, &clickhouse, &db);
    eprintln!("sigkill (sync=always): sent {N}, stored {count} rows, {unique} distinct");
    assert_eq!((count, unique), (N as u64, N as u64));

    // The interval mode loses nothing to SIGKILL either: the page cache survives.
    let (clean_exit, log, dir) = restarted.stop_keeping_dir();
    assert!(clean_exit, "{log}");
    let interval = Collector::start_in(dir, &clickhouse, &db, PROXY);
    for marker in N..2 * N {
        hit(&interval, marker);
    }
    let dir = interval.kill();
    let last = Collector::start_in(dir, &clickhouse, &db, PROXY);
    let (count, unique) = stored_rows(&last, &clickhouse, &db);
    eprintln!(
        "sigkill (sync=interval): sent {}, stored {count} rows, {unique} distinct",
        2 * N
    );
    assert_eq!((count, unique), (2 * N as u64, 2 * N as u64));
    let (clean_exit, log) = last.stop();
    assert!(clean_exit, "{log}");
}

/// The markers of `/hit/{marker}` rows in `events`, once `collector` has
/// accounted for every hit, one entry per row (duplicates kept).
fn stored_markers(collector: &Collector, clickhouse: &ClickHouse, db: &str) -> Vec<usize> {
    collector.settled();
    let body = clickhouse.query(db, "SELECT path FROM events FORMAT TSV");
    let mut markers: Vec<usize> = body
        .lines()
        .map(|path| path.strip_prefix("/hit/").unwrap().parse().unwrap())
        .collect();
    markers.sort_unstable();
    markers
}

#[test]
fn sigkill_under_load_loses_no_answered_hit() {
    let _serial = serial();
    let (clickhouse, db) = setup("sigkill_load");
    // Small segments, so the kill lands among rotations as well as copies.
    let small_segments = format!("{PROXY}[spool]\nsegment_bytes = 65536\n");
    let collector = Collector::start(&clickhouse, &db, &small_segments);
    const SENDERS: usize = 8;
    const BEFORE_KILL: usize = 3000;
    let next = AtomicUsize::new(0);
    let answered = Mutex::new(Vec::new());
    let pixel = format!("{}/p.gif?site=optimumabq.com&url=", collector.base);
    let dir = std::thread::scope(|scope| {
        for _ in 0..SENDERS {
            scope.spawn(|| {
                loop {
                    let marker = next.fetch_add(1, Ordering::Relaxed);
                    let url = enc(&format!("https://optimumabq.com/hit/{marker}"));
                    let response = common::try_request(
                        "GET",
                        &format!("{pixel}{url}"),
                        &[],
                        &[("User-Agent", CHROME), ("X-Forwarded-For", "81.2.69.142")],
                    );
                    match response {
                        Some(response) if response.status == 200 => {
                            answered.lock().unwrap().push(marker)
                        }
                        // The collector is gone.
                        _ => return,
                    }
                }
            });
        }
        while answered.lock().unwrap().len() < BEFORE_KILL {
            std::thread::sleep(Duration::from_millis(5));
        }
        collector.kill()
    });
    let sent = next.into_inner();
    let answered = answered.into_inner().unwrap();
    let restarted = Collector::start_in(dir, &clickhouse, &db, PROXY);
    let stored = stored_markers(&restarted, &clickhouse, &db);
    let damaged = restarted.metric("beaconhouse_hits_dropped_total{reason=\"damaged\"}");
    eprintln!(
        "sigkill under load: {} answered of {sent} sent by {SENDERS} senders, {} stored, {damaged} damaged",
        answered.len(),
        stored.len()
    );
    let mut distinct = stored.clone();
    distinct.dedup();
    assert_eq!(distinct, stored, "no hit is stored twice");
    for marker in &answered {
        assert!(
            stored.binary_search(marker).is_ok(),
            "answered hit {marker} was lost"
        );
    }
    assert!(stored.iter().all(|&marker| marker < sent));
    // Only a hit that was never answered may be lost, torn mid-copy.
    assert!(damaged <= SENDERS as u64, "{damaged}");
    let (clean_exit, log) = restarted.stop();
    assert!(clean_exit, "{log}");
}

/// Mounts a tmpfs of `kib` KiB at `at`, as root (or through `sudo -n`, as
/// the test command's installs do); unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, kib: u64) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let mount = as_root(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={kib}k,mode=0700"),
            "tmpfs",
            at.to_str().unwrap(),
        ]);
        assert!(
            mount,
            "this test mounts a {kib} KiB tmpfs to fill a disk: run the tests as root or with passwordless sudo (CI runs them as root)"
        );
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        as_root(&["umount", "-l", self.0.to_str().unwrap()]);
    }
}

fn as_root(command: &[&str]) -> bool {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut run = if root {
        std::process::Command::new(command[0])
    } else {
        let mut sudo = std::process::Command::new("sudo");
        sudo.args(["-n", command[0]]);
        sudo
    };
    run.args(&command[1..])
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn a_full_disk_drops_hits_visibly_and_the_spool_recovers_when_room_returns() {
    let _serial = serial();
    let (mut clickhouse, db) = setup("fulldisk");
    clickhouse.stop();
    let dir = tempfile::Builder::new()
        .prefix("beaconhouse-fulldisk-")
        .tempdir()
        .unwrap();
    // Room for three 64 KiB segments and the spool's small files; the
    // spool's own limit (1 GiB by default) is never what refuses.
    let disk = SmallDisk::mount(&dir.path().join("spool"), 224);
    let small_segments = format!("{PROXY}[spool]\nsegment_bytes = 65536\n");
    let collector = Collector::start_in(dir, &clickhouse, &db, &small_segments);
    const N: usize = 3000;
    for marker in 0..N {
        hit(&collector, marker);
    }
    let refused = collector.metric("beaconhouse_hits_dropped_total{reason=\"spool_error\"}");
    let accepted = N as u64 - refused;
    eprintln!("full disk: sent {N}, refused {refused}, spooled {accepted}");
    assert!(refused > 0, "the disk filled up");
    assert!(
        accepted > 600,
        "three segments' worth was spooled: {accepted}"
    );
    assert_eq!(
        collector.get("/healthz", &[]).status,
        200,
        "no SIGBUS, no crash"
    );
    let log = collector.log();
    let reports = log.matches("hits cannot be spooled").count();
    assert!(
        (1..=2).contains(&reports),
        "the full disk is logged, not once per hit ({reports} lines):\n{log}"
    );
    assert!(log.contains("No space left on device"), "{log}");

    // Once ClickHouse takes the spooled hits, their segments are deleted and
    // the disk has room again.
    clickhouse.resume();
    let (count, unique) = stored_rows(&collector, &clickhouse, &db);
    assert_eq!(
        (count, unique),
        (accepted, accepted),
        "every spooled hit is stored once"
    );
    for marker in N..N + 100 {
        hit(&collector, marker);
    }
    let counters = collector.settled();
    assert_eq!(
        counters.dropped_for("spool_error"),
        refused,
        "hits are spooled again"
    );
    assert_eq!(counters.stored(), accepted + 100);
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
    drop(disk);
}

#[test]
fn damaged_spool_records_are_skipped_counted_and_nothing_else_is_lost() {
    let _serial = serial();
    let (mut clickhouse, db) = setup("damaged");
    clickhouse.stop();
    let short_deadline = format!("{PROXY}[pipeline]\nshutdown_timeout_ms = 500\n");
    let collector = Collector::start(&clickhouse, &db, &short_deadline);
    const N: usize = 500;
    for marker in 0..N {
        hit(&collector, marker);
    }
    let (clean_exit, log, dir) = collector.stop_keeping_dir();
    assert!(
        clean_exit,
        "ClickHouse down at shutdown still exits 0:\n{log}"
    );

    let spool = dir.path().join("spool");
    let mut segments: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("segment-")
        })
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    segments.sort();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let mut bytes = std::fs::read(&segments[0]).unwrap();
    // Flip one byte in the middle (inside one record), cut the last record short.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&segments[0], &bytes).unwrap();

    clickhouse.resume();
    let restarted = Collector::start_in(dir, &clickhouse, &db, PROXY);
    let (count, unique) = stored_rows(&restarted, &clickhouse, &db);
    let damaged = restarted.metric("beaconhouse_hits_dropped_total{reason=\"damaged\"}");
    eprintln!("damaged spool: sent {N}, stored {count}, skipped as damaged {damaged}");
    assert_eq!(damaged, 2);
    assert_eq!((count, unique), ((N - 2) as u64, (N - 2) as u64));
    let (clean_exit, log) = restarted.stop();
    assert!(clean_exit, "{log}");
    assert!(log.contains("skipped damaged spool records"), "{log}");
}

#[test]
fn a_rejected_batch_is_dead_lettered_and_later_batches_flow() {
    let _serial = serial();
    let (clickhouse, db) = shared("deadletter");
    let collector = Collector::start(clickhouse, &db, PROXY);
    hit(&collector, 1);
    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 1);

    // The table no longer has a column the collector writes: Code 16, not retryable.
    clickhouse.query(&db, "ALTER TABLE events DROP COLUMN utm_content");
    hit(&collector, 2);
    let dead_letter = collector.dir().join("spool").join("dead-letter");
    assert_eq!(
        collector.settled().dropped_for("dead_letter"),
        1,
        "no dead letter:\n{}",
        collector.log()
    );
    let files = files_in(&dead_letter);
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.lines().next().unwrap().contains("utm_content"),
        "{text}"
    );
    assert!(text.contains("/hit/2"), "{text}");

    clickhouse.query(
        &db,
        "ALTER TABLE events ADD COLUMN utm_content String AFTER utm_term",
    );
    hit(&collector, 3);
    collector.settled();
    assert_eq!(clickhouse.number(&db, "SELECT count() FROM events"), 2);
    let paths = clickhouse.query(
        &db,
        "SELECT arraySort(groupArray(path)) FROM events FORMAT TSV",
    );
    assert_eq!(paths.trim(), "['/hit/1','/hit/3']");
    assert_eq!(
        collector.metric("beaconhouse_hits_dropped_total{reason=\"dead_letter\"}"),
        1
    );
    eprintln!(
        "dead letter: 3 sent, 2 stored, 1 dead-lettered in {}",
        files[0].display()
    );

    // Segments, the ledger, the lock and the dead letter: 0600, in 0700
    // directories, although the test's umask would give 0644 and 0755.
    let (clean_exit, log, dir) = collector.stop_keeping_dir();
    assert!(clean_exit, "{log}");
    assert_private(&dir.path().join("spool"));
}

/// The entries of `dir`, by name.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Asserts that every directory under `dir` (itself included) is 0700 and
/// every file 0600, and that no entry is a link.
fn assert_private(dir: &Path) {
    let mode = |path: &Path| {
        let metadata = std::fs::symlink_metadata(path).unwrap();
        assert!(!metadata.is_symlink(), "{} is a link", path.display());
        metadata.permissions().mode() & 0o7777
    };
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for path in files_in(dir) {
        if path.is_dir() {
            assert_private(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[test]
fn dead_letters_stay_within_their_limit_the_oldest_removed_first() {
    let _serial = serial();
    let (clickhouse, db) = shared("deadlimit");
    clickhouse.query(&db, "ALTER TABLE events DROP COLUMN utm_content");
    // Room for two of this test's dead-letter files, not three.
    const LIMIT: u64 = 1200;
    let collector = Collector::start(
        clickhouse,
        &db,
        &format!("{PROXY}[spool]\ndead_letter_max_bytes = {LIMIT}\n"),
    );
    let dead_letter = collector.dir().join("spool").join("dead-letter");

    // One hit at a time, so each rejected batch is one file; its size is
    // read as it appears.
    const REJECTED: usize = 5;
    let mut sizes = Vec::new();
    for marker in 0..REJECTED {
        hit(&collector, marker);
        assert_eq!(
            collector.settled().dropped_for("dead_letter"),
            marker as u64 + 1
        );
        let path = format!("\"/hit/{marker}\"");
        let file = files_in(&dead_letter)
            .into_iter()
            .find(|file| std::fs::read_to_string(file).unwrap().contains(&path))
            .unwrap_or_else(|| panic!("no dead letter holds {path}"));
        sizes.push(std::fs::metadata(&file).unwrap().len());
    }
    let (smallest, largest) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
    assert!(
        2 * largest <= LIMIT && LIMIT < 3 * smallest,
        "the test assumes two files fit in {LIMIT} bytes and three do not: {sizes:?}"
    );

    // Each file from the third on pushed out the oldest: three went, the
    // newest two stayed.
    let kept = files_in(&dead_letter);
    assert_eq!(kept.len(), 2, "{kept:?}");
    for (file, marker) in kept.iter().zip([3, 4]) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(&format!("\"/hit/{marker}\"")), "{text}");
    }
    let counters = collector.counters();
    let pruned_bytes: u64 = sizes[..3].iter().sum();
    let kept_bytes: u64 = sizes[3..].iter().sum();
    for (series, value) in [
        ("beaconhouse_dead_letter_pruned_files_total", 3),
        ("beaconhouse_dead_letter_pruned_bytes_total", pruned_bytes),
        ("beaconhouse_dead_letter_files", 2),
        ("beaconhouse_dead_letter_bytes", kept_bytes),
        ("beaconhouse_hits_dropped_total{reason=\"dead_letter\"}", 5),
    ] {
        assert_eq!(counters.get(series), value, "{series}");
    }
    eprintln!(
        "dead-letter limit {LIMIT}: {REJECTED} rejected batches of {sizes:?} bytes; 3 files ({pruned_bytes} bytes) removed, 2 ({kept_bytes} bytes) kept"
    );
    assert!(
        collector.log().contains("removed the oldest"),
        "{}",
        collector.log()
    );
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
}

#[test]
fn a_full_spool_sheds_load_visibly_with_bounded_memory() {
    let _serial = serial();
    let (mut clickhouse, db) = setup("spoolfull");
    clickhouse.stop();
    let small = format!("{PROXY}[spool]\nmax_bytes = 65536\nsegment_bytes = 65536\n");
    let collector = Collector::start(&clickhouse, &db, &small);
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap()
    };
    const N: usize = 1500;
    for marker in 0..N {
        hit(&collector, marker);
    }
    let shed = collector.metric("beaconhouse_hits_dropped_total{reason=\"spool_full\"}");
    assert!(shed > 0, "the spool filled up");
    let ready = collector.get("/readyz", &[]);
    assert_eq!(ready.status, 503, "readiness reflects the full spool");
    let rss_full = rss(collector.pid());
    const MORE: usize = 5000;
    for marker in N..N + MORE {
        hit(&collector, marker);
    }
    let rss_after = rss(collector.pid());
    let shed = collector.metric("beaconhouse_hits_dropped_total{reason=\"spool_full\"}");
    let accepted = (N + MORE) as u64 - shed;
    eprintln!(
        "spool full: sent {}, shed {shed}, accepted {accepted}; RSS {rss_full} kB when full, {rss_after} kB after {MORE} more hits",
        N + MORE
    );
    assert!(shed >= MORE as u64, "every hit past the limit is shed");
    assert!(
        rss_after < rss_full + 4096,
        "memory stays flat while shedding"
    );

    clickhouse.resume();
    let (count, unique) = stored_rows(&collector, &clickhouse, &db);
    assert_eq!(
        (count, unique),
        (accepted, accepted),
        "exactly the accepted hits are stored"
    );
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
    assert!(log.contains("the spool is full"), "a warning was logged");
}

#[test]
fn rows_replayed_after_a_crash_before_the_ledger_write_are_not_stored_twice() {
    let _serial = serial();
    let (clickhouse, db) = shared("replay");
    let collector = Collector::start(clickhouse, &db, PROXY);
    const N: usize = 300;
    for marker in 0..N {
        hit(&collector, marker);
    }
    assert_eq!(
        stored_rows(&collector, clickhouse, &db),
        (N as u64, N as u64)
    );
    let dir = collector.kill();
    // As if the process died after ClickHouse stored the rows but before the
    // ledger recorded it: the whole spool is replayed on start.
    std::fs::remove_file(dir.path().join("spool").join("ledger")).unwrap();
    let restarted = Collector::start_in(dir, clickhouse, &db, PROXY);
    let (count, unique) = stored_rows(&restarted, clickhouse, &db);
    assert!(
        restarted.log().contains("already stored"),
        "{}",
        restarted.log()
    );
    eprintln!("replay: {N} rows replayed, {count} stored, {unique} distinct");
    assert_eq!((count, unique), (N as u64, N as u64));
    assert_eq!(restarted.metric("beaconhouse_rows_stored_total"), N as u64);
    let (clean_exit, log) = restarted.stop();
    assert!(clean_exit, "{log}");
}
