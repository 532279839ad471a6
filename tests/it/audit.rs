//! `beaconhouse audit` against a real installation: a clean one (migrated,
//! a collector with a few hits, the rollup run, the shipped staff user)
//! audits clean, and so does the collector's own daily audit; then each
//! problem the audit looks for is planted in turn and named, with a
//! non-zero exit and no planted value in the output. `serve` exports the
//! daily checks' findings in `/metrics`.
//! On a server of this module's own, since it adds the staff user to
//! `users.d` and then grants it the raw tables.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{
    self, Beaconhouse, CHROME, ClickHouse, Collector, SERVER_START, SETTLE, SITE_TOML, enc,
    eventually, staff,
};

/// A stats token, which makes a configuration file hold a secret.
const TOKEN: &str = "audit-test-token-0123456789abcdef0123";

fn clickhouse() -> &'static ClickHouse {
    static OWN: OnceLock<ClickHouse> = OnceLock::new();
    OWN.get_or_init(ClickHouse::start)
}

/// What `beaconhouse audit` is run against.
struct Install {
    database: String,
    /// The audit's configuration file.
    config: PathBuf,
    spool: PathBuf,
    /// `admin_listen`, whose `/metrics` the audit reads.
    admin: String,
}

impl Install {
    /// Runs the audit: whether it passed, and what it printed, which is
    /// also shown (`cargo test -- --nocapture`).
    fn audit(&self) -> (bool, String) {
        let (passed, stdout, stderr) = Beaconhouse::new()
            .config(&self.config)
            .clickhouse(clickhouse(), &self.database)
            .env("BEACONHOUSE_SPOOL_DIR", &self.spool)
            .env("BEACONHOUSE_ADMIN_LISTEN", &self.admin)
            .env("BEACONHOUSE_AUDIT_STAFF_PASSWORD", staff::PASSWORD)
            .arg("audit")
            .output();
        println!("$ beaconhouse audit\n{stdout}{stderr}");
        (passed, stdout)
    }

    /// Runs the audit, which must fail, and returns the checks of its
    /// FINDING lines and what it printed.
    fn findings(&self) -> (BTreeSet<String>, String) {
        let (passed, out) = self.audit();
        assert!(!passed, "the audit exits non-zero on a finding:\n{out}");
        (checks_found(&out), out)
    }
}

/// The checks named on FINDING lines.
fn checks_found(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|line| line.strip_prefix("FINDING"))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A configuration file of `toml`, with `mode`.
fn write_config(path: &Path, toml: &str, mode: u32) {
    std::fs::write(path, toml).unwrap();
    set_mode(path, mode);
}

/// An admin listener that answers every `/metrics` with `exposition`.
fn fake_metrics(exposition: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = write!(stream, "HTTP/1.0 200 OK\r\n\r\n{exposition}");
        }
    });
    address
}

#[test]
fn a_clean_install_audits_clean_and_each_planted_problem_is_named() {
    let clickhouse = clickhouse();
    let database = clickhouse.fresh_database("audit");
    let released = format!("{database}_released");
    common::migrate(clickhouse, &database);
    staff::add(clickhouse, &released);
    let collector = Collector::start(clickhouse, &database, "");
    // Page views whose text comes close to a shape, without taking one.
    let pages = [
        ("/pricing", "https://www.google.com/search?q=coworking"),
        (
            "/downloads/v1.2.3.4/setup.exe",
            "https://xn--80ak6aa92e.com/",
        ),
        ("/docs/std::fmt", "https://news.ycombinator.com/item?id=1"),
        (
            "/blog/2026/11/coworking-in-albuquerque?utm_content=banner_300x250_v2",
            "",
        ),
        ("/reset/3f2a9c1e-7b4d-4e8a-9c0f-1234567890ab", ""),
    ];
    for (path, referrer) in pages {
        let url = format!("https://optimumabq.com{path}");
        let answer = collector.get(
            &format!(
                "/p.gif?site=optimumabq.com&url={}&ref={}",
                enc(&url),
                enc(referrer)
            ),
            &[("User-Agent", CHROME)],
        );
        assert_eq!(answer.status, 200);
    }
    collector.settled();
    assert_eq!(
        clickhouse.number(&database, "SELECT count() FROM events"),
        pages.len() as u64
    );
    // The collector's own audit, after its first retention pass.
    let daily = eventually(
        "the collector's daily audit exports its findings",
        SETTLE,
        || {
            let counters = collector.counters();
            let text = counters.text();
            let all = ["files", "salts", "retention", "metrics"]
                .iter()
                .all(|check| {
                    text.contains(&format!(
                        "beaconhouse_audit_findings{{check=\"{check}\"}} 0\n"
                    ))
                });
            if all {
                Ok(text.to_string())
            } else {
                Err(text.to_string())
            }
        },
    );
    assert!(!daily.contains("check=\"personal_data\""), "{daily}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("beaconhouse.toml");
    let audit_toml = format!("{SITE_TOML}\n[audit]\nstaff_user = \"{}\"\n", staff::USER);
    write_config(&config, &audit_toml, 0o600);
    Beaconhouse::new()
        .config(&config)
        .clickhouse(clickhouse, &database)
        .arg("rollup")
        .run_ok();
    let mut install = Install {
        database: database.clone(),
        config: config.clone(),
        spool: collector.dir().join("spool"),
        admin: collector.admin.trim_start_matches("http://").to_string(),
    };
    let (passed, out) = install.audit();
    assert!(passed, "a clean install audits clean:\n{out}");
    for check in [
        "personal_data",
        "salts",
        "retention",
        "files",
        "staff_sql",
        "metrics",
    ] {
        assert!(
            out.lines()
                .any(|line| line.starts_with("ok") && line.contains(&format!(" {check} "))),
            "{check} ran and found nothing:\n{out}"
        );
    }
    assert!(
        out.contains(&format!("of {}/metrics", collector.admin)),
        "{out}"
    );
    assert!(out.contains("refused each of the"), "{out}");
    assert!(out.ends_with("audit passed: nothing found\n"), "{out}");

    // The spool stays for the file checks; the collector's keeper would
    // destroy a planted salt, and its metrics would be read.
    let (stopped, log, collector_dir) = collector.stop_keeping_dir();
    assert!(stopped, "{log}");
    install.admin = format!("127.0.0.1:{}", common::free_port());
    let mut expected = BTreeSet::new();

    // Personal data, in a raw table and in the released one.
    clickhouse.query(
        &database,
        "INSERT INTO events (site, ts, name, visitor_id, path, referrer_host, device) VALUES \
         ('optimumabq.com', now(), 'pageview', 7, '/from/203.0.113.9', 'fe80::1', 'desktop'), \
         ('optimumabq.com', now(), 'pageview', 8, '/t/9f86d081884c7d659a2feaa0c55ad015', '', 'desktop')",
    );
    clickhouse.query(
        &released,
        "INSERT INTO daily (site, day, dimension, value, visitors, pageviews, computed_at) VALUES \
         ('optimumabq.com', today(), 'path', '/u/carol@example.com', 20, 30, now())",
    );
    expected.insert("personal_data".to_string());
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    for (place, shape) in [
        (format!("{database}.events.path"), "an IPv4 address"),
        (
            format!("{database}.events.referrer_host"),
            "an IPv6 address",
        ),
        (format!("{database}.events.path"), "a token or UUID"),
        (format!("{released}.daily.value"), "an e-mail address"),
    ] {
        let named = format!("FINDING  personal_data {place}: text shaped like {shape} in 1 of ");
        assert!(out.contains(&named), "{named}\n{out}");
    }
    let lines = out
        .lines()
        .filter(|line| line.starts_with("FINDING"))
        .count();
    assert_eq!(lines, 4, "{out}");
    for planted in [
        "203.0.113.9",
        "fe80::1",
        "9f86d081884c7d659a2feaa0c55ad015",
        "carol@example.com",
    ] {
        assert!(
            !out.contains(planted),
            "the audit printed {planted}:\n{out}"
        );
    }

    // A salt the promise has destroyed.
    let today = beaconhouse::clock::day_of(beaconhouse::clock::now_unix());
    let old = today - 10;
    clickhouse.query(
        &database,
        &format!(
            "INSERT INTO visitor_salts VALUES (toDate({old}), '{}', now())",
            "a".repeat(64)
        ),
    );
    expected.insert("salts".to_string());
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    let partition = beaconhouse::clock::yyyymmdd(old);
    assert!(
        out.contains(&format!(
            "ALTER TABLE {database}.visitor_salts DROP PARTITION {partition}"
        )),
        "{out}"
    );

    // A month past [retention] (events: 732 days).
    clickhouse.query(
        &database,
        "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES \
         ('optimumabq.com', '2020-01-15 12:00:00', 'pageview', 9, '/', 'desktop')",
    );
    expected.insert("retention".to_string());
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    assert!(
        out.contains("FINDING  retention     events still holds the rows of 202001, kept past its retention period of 732 days"),
        "{out}"
    );

    // A spool file and a dead letter others may read.
    let ledger = install.spool.join("ledger");
    set_mode(&ledger, 0o644);
    let dead_letter = install
        .spool
        .join("dead-letter")
        .join("1700000000000.jsonl");
    std::fs::write(&dead_letter, "{\"error\":\"planted\"}\n").unwrap();
    set_mode(&dead_letter, 0o644);
    expected.insert("files".to_string());
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    for path in [&ledger, &dead_letter] {
        let named = format!(
            "{} has mode 0644, so its group or others may read it: run `chmod 600 {}`",
            path.display(),
            path.display()
        );
        assert!(out.contains(&named), "{named}\n{out}");
    }

    // A configuration file others may read, holding a token.
    write_config(
        &config,
        &format!(
            "{audit_toml}\n[[reporting.tokens]]\nname = \"marketing\"\ntoken = \"{TOKEN}\"\nsites = [\"*\"]\n"
        ),
        0o644,
    );
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    assert!(
        out.contains(&format!(
            "FINDING  files         the configuration file {} holds secrets (reporting.tokens)",
            config.display()
        )),
        "{out}"
    );
    assert!(!out.contains(TOKEN), "{out}");

    // The staff user granted the raw database too.
    let granted = common::shipped_users_file(
        "clickhouse-staff-user.xml",
        staff::PASSWORD,
        &[(
            "<database>beaconhouse_released</database>",
            &format!("<database>{released}</database><database>{database}</database>"),
        )],
    );
    clickhouse.add_users("beaconhouse-staff.xml", &granted);
    eventually(
        "clickhouse-server lets the staff user read the raw database",
        SERVER_START,
        || match clickhouse.try_query_as(
            staff::USER,
            staff::PASSWORD,
            &database,
            "SELECT count() FROM events",
        ) {
            Some((200, _)) => Ok(()),
            other => Err(other),
        },
    );
    expected.insert("staff_sql".to_string());
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    assert!(
        out.contains(&format!(
            "FINDING  staff_sql     the staff SQL user {} can read ",
            staff::USER
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{database}.events")), "{out}");

    // A collector whose /metrics counts Do-Not-Track.
    install.admin = fake_metrics(
        "# TYPE beaconhouse_hits_dropped_total counter\nbeaconhouse_hits_dropped_total{reason=\"bot\"} 2\nbeaconhouse_hits_dropped_total{reason=\"dnt\"} 1\n",
    );
    expected.insert("metrics".to_string());
    let (found, out) = install.findings();
    assert_eq!(found, expected, "{out}");
    assert!(
        out.contains(&format!("FINDING  metrics       beaconhouse_hits_dropped_total{{reason=\"dnt\"}}, of http://{}/metrics, speaks of", install.admin)),
        "{out}"
    );
    assert!(
        out.ends_with("each FINDING line says what to do\n"),
        "{out}"
    );
    drop(collector_dir);
}

/// `serve` audits its files after its first retention pass: a
/// configuration file others may read, holding a token, is one finding of
/// `files` in `/metrics`, and a line in the log that says what to do.
#[test]
fn serve_exports_the_daily_checks_in_metrics() {
    let clickhouse = clickhouse();
    let database = clickhouse.fresh_database("audit_serve");
    common::migrate(clickhouse, &database);
    let dir = tempfile::Builder::new()
        .prefix("beaconhouse-collector-")
        .tempdir()
        .unwrap();
    // The collector writes its configuration into this file, which keeps
    // the mode.
    write_config(&dir.path().join("beaconhouse.toml"), "", 0o644);
    let collector = Collector::start_in(
        dir,
        clickhouse,
        &database,
        &format!(
            "[[reporting.tokens]]\nname = \"marketing\"\ntoken = \"{TOKEN}\"\nsites = [\"*\"]\n"
        ),
    );
    let text = eventually(
        "the collector's daily audit finds its configuration file",
        SETTLE,
        || {
            let text = collector.counters().text().to_string();
            if text.contains("beaconhouse_audit_findings{check=\"metrics\"}") {
                Ok(text)
            } else {
                Err(text)
            }
        },
    );
    for (check, findings) in [("files", 1), ("salts", 0), ("retention", 0), ("metrics", 0)] {
        let series = format!("beaconhouse_audit_findings{{check=\"{check}\"}} {findings}\n");
        assert!(text.contains(&series), "{series}\n{text}");
    }
    for never in ["personal_data", "staff_sql"] {
        assert!(!text.contains(&format!("check=\"{never}\"")), "{text}");
    }
    assert!(
        text.contains("beaconhouse_audit_failures_total 0\n"),
        "{text}"
    );
    let log = collector.log();
    assert!(
        log.contains("audit: the configuration file") && log.contains("chmod 600"),
        "{log}"
    );
    assert!(!log.contains(TOKEN));
}
