//! HTTPS to ClickHouse, for real: nginx terminates TLS in front of the test
//! clickhouse-server, with a server certificate signed by a certificate
//! authority this test makes with openssl, as an operator's private CA.
//!
//! `migrate`, a collector and `beaconhouse report` given the CA's file
//! (`clickhouse.ca_file`) work through it. Without it (Mozilla's roots) or
//! with another CA's, the server is refused: `migrate` fails, a collector
//! keeps answering and spooling, says the certificate is not trusted, and
//! delivers every spooled hit once restarted with the right file.
//!
//! nginx and openssl are Debian packages (`tests/run.sh` installs them).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::common::released::Expect;
use crate::common::{self, Beaconhouse, CHROME, ClickHouse, Collector, eventually, run, tool};

/// How long nginx may take to listen.
const PROXY_START: Duration = Duration::from_secs(30);
/// How long a collector may take to try (and fail) its first insert.
const FIRST_INSERT: Duration = Duration::from_secs(30);

const SITES: &str = "[{id=\"optimumabq.com\",hostnames=[\"optimumabq.com\"]}]";

/// Runs `openssl ARGS` (split at spaces) in `dir`; panics with its output
/// if it fails.
fn openssl(dir: &Path, args: &str) {
    let (ok, output) = run(Command::new(tool("openssl", "openssl"))
        .current_dir(dir)
        .args(args.split_whitespace()));
    assert!(ok, "openssl {args} failed:\n{output}");
}

/// A new elliptic-curve key: openssl's arguments.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A new certificate authority `name` in `dir`: returns its certificate,
/// the file an operator gives as `clickhouse.ca_file` (the key stays beside
/// it as `name.key`).
fn certificate_authority(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &format!(
            "req -x509 {NEW_KEY} -days 2 -subj /CN=beaconhouse-test-{name} -keyout {name}.key -out {name}.pem"
        ),
    );
    dir.join(format!("{name}.pem"))
}

/// A certificate for 127.0.0.1 and localhost signed by the authority `ca`
/// made in `dir`: (certificate, key).
fn server_certificate(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &format!("req {NEW_KEY} -subj /CN=127.0.0.1 -keyout server.key -out server.csr"),
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in server.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial -days 2 -extfile server.ext -out server.pem"
        ),
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

/// nginx terminating TLS on a free loopback port and passing everything to
/// `upstream` (ClickHouse's plain HTTP endpoint).
struct TlsProxy {
    process: Child,
    /// `https://127.0.0.1:PORT`.
    url: String,
    _dir: tempfile::TempDir,
}

impl TlsProxy {
    fn start(upstream: &str, certificate: &Path, key: &Path) -> TlsProxy {
        let dir = tempfile::Builder::new()
            .prefix("beaconhouse-tls-proxy-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        let port = common::free_port();
        let config = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n    access_log off;\n\
             client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
             server {{\n        listen 127.0.0.1:{port} ssl;\n\
             ssl_certificate {};\n        ssl_certificate_key {};\n\
             client_max_body_size 0;\n\
             location / {{\n            proxy_pass {upstream};\n            proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\";\n            proxy_request_buffering off;\n\
             proxy_buffering off;\n        }}\n    }}\n}}\n",
            certificate.display(),
            key.display()
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let mut process = common::spawn_nginx(
            &path,
            &dir.path().join("startup.log"),
            &dir.path().join("nginx.out"),
        );
        eventually("nginx listens", PROXY_START, || {
            if let Ok(Some(status)) = process.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("error.log"));
                panic!("nginx exited with {status}: {log:?}");
            }
            TcpStream::connect(("127.0.0.1", port)).map(drop)
        });
        TlsProxy {
            process,
            url: format!("https://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn hit(collector: &Collector, marker: usize) {
    let url = common::enc(&format!("https://optimumabq.com/tls/{marker}"));
    let response = collector.get(
        &format!("/p.gif?site=optimumabq.com&url={url}"),
        &[("User-Agent", CHROME)],
    );
    assert_eq!(response.status, 200);
}

fn trusting(ca: &Path) -> String {
    format!(
        "[clickhouse]\nca_file = \"{}\"\n[pipeline]\nshutdown_timeout_ms = 500\n",
        ca.display()
    )
}

#[test]
fn clickhouse_over_https_trusts_the_configured_ca_and_nothing_else() {
    let clickhouse = common::clickhouse();
    let pki = tempfile::tempdir().unwrap();
    let ca = certificate_authority(pki.path(), "ca");
    let other_ca = certificate_authority(pki.path(), "other-ca");
    let (certificate, key) = server_certificate(pki.path(), "ca");
    let proxy = TlsProxy::start(&clickhouse.url, &certificate, &key);
    let through_tls = ClickHouse::at(&proxy.url);
    let db = clickhouse.fresh_database("tls");

    // Mozilla's roots do not hold a private CA: refused, and said so.
    let (ok, _, stderr) = Beaconhouse::new()
        .clickhouse(&through_tls, &db)
        .env("BEACONHOUSE_SITES", SITES)
        .arg("migrate")
        .output();
    assert!(!ok, "migrate trusted a certificate from an unknown CA");
    assert!(
        stderr.contains("certificate is not trusted") && stderr.contains("clickhouse.ca_file"),
        "{stderr}"
    );
    let applied = Beaconhouse::new()
        .clickhouse(&through_tls, &db)
        .env("BEACONHOUSE_SITES", SITES)
        .env("BEACONHOUSE_CLICKHOUSE_CA_FILE", &ca)
        .arg("migrate")
        .run_ok();
    assert!(applied.contains("applied 0001_events.sql"), "{applied}");

    // The collector stores hits through TLS.
    let collector = Collector::start(&through_tls, &db, &trusting(&ca));
    const STORED: usize = 20;
    for marker in 0..STORED {
        hit(&collector, marker);
    }
    assert_eq!(collector.settled().stored(), STORED as u64);
    assert_eq!(
        clickhouse.number(&db, "SELECT count() FROM events"),
        STORED as u64
    );
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");

    // Another CA's file: the server is refused, hits stay spooled.
    let collector = Collector::start(&through_tls, &db, &trusting(&other_ca));
    const SPOOLED: usize = 10;
    for marker in STORED..STORED + SPOOLED {
        hit(&collector, marker);
    }
    let refusal = eventually(
        "the collector says the certificate is not trusted",
        FIRST_INSERT,
        || {
            let log = collector.log();
            match log.lines().find(|line| line.contains("not trusted")) {
                Some(line) => Ok(line.to_string()),
                None => Err(log),
            }
        },
    );
    eprintln!("untrusted certificate, as the collector logs it:\n{refusal}");
    assert!(refusal.contains("invalid peer certificate"), "{refusal}");
    let counters = collector.counters();
    assert_eq!(
        (counters.received(), counters.stored()),
        (SPOOLED as u64, 0)
    );
    assert!(counters.spool_bytes() > 0, "{counters:?}");
    assert_eq!(
        clickhouse.number(&db, "SELECT count() FROM events"),
        STORED as u64
    );
    let (clean_exit, log, dir) = collector.stop_keeping_dir();
    assert!(clean_exit, "{log}");

    // Given the right CA, the collector delivers what it spooled.
    let restarted = Collector::start_in(dir, &through_tls, &db, &trusting(&ca));
    restarted.settled();
    assert_eq!(
        clickhouse.number(&db, "SELECT count() FROM events"),
        (STORED + SPOOLED) as u64
    );
    let (clean_exit, log) = restarted.stop();
    assert!(clean_exit, "{log}");

    // Reports read through TLS. Not the hits above: they are in the current
    // hour, which no report releases yet. A past day's page views instead,
    // one each of VISITORS visitors (so as many visits, all bounces).
    const VISITORS: u64 = 20;
    let rows: Vec<String> = (0..VISITORS)
        .map(|v| format!("('optimumabq.com', '2026-11-10 12:00:00', 'pageview', {v}, '/')"))
        .collect();
    clickhouse.query(
        &db,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path) VALUES {}",
            rows.join(", ")
        ),
    );
    let report = Beaconhouse::new()
        .clickhouse(&through_tls, &db)
        .env("BEACONHOUSE_SITES", SITES)
        .env("BEACONHOUSE_CLICKHOUSE_CA_FILE", &ca)
        .report_json(&[
            "summary",
            "--site",
            "optimumabq.com",
            "--from",
            "2026-11-10",
            "--to",
            "2026-11-10",
        ]);
    // The default min_group_size; the whole site's figures show whatever
    // their size.
    let expect = Expect::site("optimumabq.com", "2026-11-10", "2026-11-11", &[], 5);
    assert_eq!(
        report["current"],
        expect.summary(VISITORS, VISITORS, VISITORS, VISITORS),
        "{report}"
    );
    eprintln!(
        "through TLS: {STORED} hits stored, {SPOOLED} hits spooled while the CA was wrong and delivered after a restart, a report of {VISITORS} visitors read"
    );
}
