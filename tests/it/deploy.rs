//! The deploy files as shipped (`deploy/`): nginx and Caddy run in front of a
//! real collector; `nginx -t`, `caddy validate`, `systemd-analyze verify` and
//! `security` on the units, `docker-compose config` on the compose file and
//! the image's build context, `beaconhouse healthcheck`, `grants.sql` on a
//! current ClickHouse's parser, and `fetch-geoip.sh` (what `run-local.sh`
//! runs without a GeoIP database) against a fixture served from this machine.
//!
//! Each file is used as it ships, with only what a test machine needs put in
//! (loopback addresses and ports, a throw-away certificate, log and temporary
//! paths) by [`render`], which fails when a line it replaces is no longer in
//! the file, so the tests cannot drift from what ships. Container images
//! cannot be pulled here: the Dockerfile and compose file are checked, not run.
//!
//! A proxy on this machine sees every client as a loopback address: clients
//! here connect from 127.0.0.2 and 127.0.0.3 (`common::try_request_from`), the
//! proxies listen on both, and the collector trusts 127.0.0.1 (the proxy's
//! side of the upstream connection).
//!
//! Missing tools fail the tests with the Debian package to install
//! (`tests/run.sh` installs them): nginx, caddy, systemd, docker-compose, openssl.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{
    self, Beaconhouse, CHROME, ClickHouse, Collector, Response, run, tool, within,
};

/// How long nginx or Caddy may take to answer on its port.
const PROXY_START: Duration = Duration::from_secs(30);
/// How long a stopped proxy may take to exit (and flush its logs).
const PROXY_STOP: Duration = Duration::from_secs(20);

/// The stats token the collectors under test accept.
const TOKEN: &str = "deploy-test-token-0123456789abcdef0123456789abcdef";

/// The two client addresses, as the proxies see them.
const CLIENT_A: &str = "127.0.0.2";
const CLIENT_B: &str = "127.0.0.3";
/// An address a client claims in its own X-Forwarded-For; never believed.
const SPOOFED: &str = "81.2.69.142";

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` (the shipped file `name`) with each `(from, to)` replaced; panics if
/// a `from` is not in it.
fn render(name: &str, text: &str, substitutions: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (from, to) in substitutions {
        assert!(
            text.contains(from),
            "deploy/{name} no longer contains {from:?}: update tests/it/deploy.rs with it"
        );
        text = text.replace(from, to);
    }
    text
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// A self-signed certificate and key for stats.optimumabq.com in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let openssl = tool("openssl", "openssl");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (ok, output) = run(Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=stats.optimumabq.com"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert!(ok, "openssl could not make a certificate:\n{output}");
    (cert, key)
}

/// Every file of `dir`, by name, with its contents.
fn files_in(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap_or_default())
        })
        .collect()
}

/// Asserts that no log holds a client's address, `markers` (the paths and
/// query values the test sent) or nginx's "client:" field.
fn assert_logs_hold_no_visitor(logs: &BTreeMap<String, String>, markers: &[&str]) {
    for (name, text) in logs {
        for needle in [CLIENT_A, CLIENT_B, SPOOFED, "client:", "remote_ip"]
            .iter()
            .chain(markers)
        {
            assert!(
                !text.contains(needle),
                "the proxy's log {name} holds {needle:?}:\n{text}"
            );
        }
    }
}

/// Stops a proxy process with SIGTERM and waits for it (so its logs are written).
fn terminate(process: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(process.id().to_string())
        .status();
    if within(PROXY_STOP, || process.try_wait().ok().flatten().ok_or(())).is_err() {
        let _ = process.kill();
        let _ = process.wait();
    }
}

// ---------------------------------------------------------------------------
// A collector behind a proxy: what both proxies' tests do.

fn collector_toml() -> String {
    format!(
        r#"
[http]
trusted_proxies = ["127.0.0.1/32"]

[[reporting.tokens]]
name = "staff"
token = "{TOKEN}"
sites = ["*"]
campaigns = ["*"]
"#
    )
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

fn pixel(path: &str) -> String {
    format!(
        "/p.gif?site=optimumabq.com&url={}",
        common::enc(&format!("https://optimumabq.com{path}"))
    )
}

/// A request through the proxy at `port`, from `client`.
fn through(
    client: &str,
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Response {
    let source: IpAddr = client.parse().unwrap();
    let url = format!("http://{client}:{port}{path}");
    common::try_request_from(Some(source), method, &url, body, headers)
        .unwrap_or_else(|| panic!("{method} {url} from {client}: no answer"))
}

/// With the collector down, the stats API and the dashboard get the proxy's
/// own 502 (staff see an error; nothing pretends to answer for them).
fn assert_staff_routes_fail_while_down(port: u16, headers: &[(&str, &str)]) {
    let staff = "/api/v1/stats/summary?site=while-down-site&from=2026-01-01&to=2026-01-02";
    for path in [staff, "/dashboard/while-down-dash"] {
        assert_eq!(
            through(CLIENT_B, port, "GET", path, &[], headers).status,
            502,
            "{path}"
        );
    }
}

fn today() -> String {
    let day =
        beaconhouse::clock::yyyymmdd(beaconhouse::clock::day_of(beaconhouse::clock::now_unix()));
    format!("{}-{:02}-{:02}", day / 10000, day / 100 % 100, day % 100)
}

/// Hits through the proxy from two clients and straight to the collector,
/// then the stats API and the dashboard through the proxy. Returns after the
/// collector has stored every hit, with each page's visitor id.
fn hits_through(
    proxy: &str,
    port: u16,
    clickhouse: &ClickHouse,
    database: &str,
    collector: &Collector,
) -> BTreeMap<String, String> {
    let ua = [("User-Agent", CHROME)];
    let spoofing = [("User-Agent", CHROME), ("X-Forwarded-For", SPOOFED)];
    // Through the proxy; client A also claims another address.
    for (client, page) in [(CLIENT_A, "a"), (CLIENT_B, "b")] {
        let answer = through(
            client,
            port,
            "GET",
            &pixel(&format!("/{proxy}-{page}")),
            &[],
            &spoofing,
        );
        assert_eq!(answer.status, 200, "{proxy}: pixel from {client}");
        assert_eq!(answer.header("Content-Type"), Some("image/gif"));
    }
    let event = format!(
        r#"{{"site":"optimumabq.com","url":"https://optimumabq.com/{proxy}-event","name":"book_tour"}}"#
    );
    let answer = through(
        CLIENT_A,
        port,
        "POST",
        "/api/event",
        event.as_bytes(),
        &[("User-Agent", CHROME), ("Content-Type", "text/plain")],
    );
    assert_eq!(answer.status, 202, "{proxy}: beacon");
    let tracker = through(CLIENT_A, port, "GET", "/t.js", &[], &ua);
    assert_eq!(tracker.status, 200, "{proxy}: /t.js");
    assert!(
        tracker
            .header("Content-Type")
            .unwrap_or_default()
            .contains("javascript")
    );
    let open = through(
        CLIENT_A,
        port,
        "GET",
        "/o.gif?c=deploy-test&rid=r1",
        &[],
        &ua,
    );
    assert_eq!(open.status, 200, "{proxy}: email pixel");
    // Straight to the collector, from its trusted proxy address, naming the
    // clients as a proxy would.
    for (client, page) in [(CLIENT_A, "direct-a"), (SPOOFED, "direct-spoofed")] {
        let answer = collector.get(
            &pixel(&format!("/{proxy}-{page}")),
            &[("User-Agent", CHROME), ("X-Forwarded-For", client)],
        );
        assert_eq!(answer.status, 200);
    }

    // Staff: the stats API, with and without a token, and the dashboard.
    let summary = format!(
        "/api/v1/stats/summary?site=optimumabq.com&from={0}&to={0}&tz=UTC",
        today()
    );
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    assert_eq!(
        through(CLIENT_A, port, "GET", &summary, &[], &[]).status,
        401,
        "{proxy}: the API without a token"
    );
    collector.settled();
    let via_proxy = through(CLIENT_A, port, "GET", &summary, &[], &auth);
    assert_eq!(
        via_proxy.status,
        200,
        "{proxy}: {}",
        String::from_utf8_lossy(&via_proxy.body)
    );
    let direct = collector.get(&summary, &auth);
    assert_eq!(
        String::from_utf8_lossy(&via_proxy.body),
        String::from_utf8_lossy(&direct.body),
        "{proxy}: the summary through the proxy is the collector's"
    );
    let openapi = through(CLIENT_A, port, "GET", "/api/v1/openapi.json", &[], &[]);
    assert_eq!(openapi.status, 200, "{proxy}: /api/v1/openapi.json");
    for page in ["/dashboard", "/dashboard/", "/dashboard/app.js"] {
        let answer = through(CLIENT_A, port, "GET", page, &[], &ua);
        assert_eq!(answer.status, 200, "{proxy}: {page}");
    }
    let me = through(CLIENT_A, port, "GET", "/dashboard/api/me", &[], &ua);
    assert_eq!(me.status, 200, "{proxy}: /dashboard/api/me");
    assert!(
        String::from_utf8_lossy(&me.body).contains(r#""signed_in":false"#),
        "{proxy}: /dashboard/api/me is the collector's answer: {me:?}"
    );
    // What the proxy must not serve.
    assert_eq!(
        through(CLIENT_A, port, "GET", "/metrics", &[], &ua).status,
        404,
        "{proxy}: /metrics"
    );

    let rows = clickhouse.query(
        database,
        "SELECT path, toString(visitor_id) FROM events ORDER BY path FORMAT TSV",
    );
    rows.lines()
        .map(|line| {
            let (path, id) = line.split_once('\t').unwrap();
            (path.trim_start_matches('/').to_string(), id.to_string())
        })
        .collect()
}

/// The visitor ids prove which address the collector used for each hit.
fn assert_addresses_from_the_proxy(proxy: &str, ids: &BTreeMap<String, String>) {
    let id = |page: &str| {
        ids.get(&format!("{proxy}-{page}"))
            .unwrap_or_else(|| panic!("no row for /{proxy}-{page} in {ids:?}"))
    };
    assert_eq!(ids.len(), 5, "every hit stored: {ids:?}");
    assert_eq!(
        id("a"),
        id("direct-a"),
        "{proxy}: a hit from {CLIENT_A} is counted as from {CLIENT_A}"
    );
    assert_eq!(id("a"), id("event"), "{proxy}: the beacon too");
    assert_ne!(id("a"), id("b"), "{proxy}: two clients, two visitors");
    assert_ne!(
        id("a"),
        id("direct-spoofed"),
        "{proxy}: the address a client claims is not believed"
    );
}

// ---------------------------------------------------------------------------
// nginx

/// What Debian's /etc/nginx/nginx.conf gives the site file: an error log at
/// the default level (here `info`, stricter) and a combined access log, both
/// of which would record a visitor were the site file to let them.
fn nginx_main_config(dir: &Path, site: &Path) -> PathBuf {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("log")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let main = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/log/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log {d}/log/access.log combined;\n\
         client_body_temp_path {d}/tmp/body;\n    proxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\n    uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n\
         include {};\n}}\n",
        site.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    path
}

/// deploy/nginx.conf with the certificate and the error log in `dir`.
fn nginx_site(dir: &Path, extra: &[(&str, &str)]) -> PathBuf {
    let (cert, key) = certificate(dir);
    let log = format!("{}/log/beaconhouse.error.log", dir.display());
    let mut substitutions = vec![
        (
            "/etc/ssl/certs/stats.optimumabq.com.pem",
            cert.to_str().unwrap(),
        ),
        (
            "/etc/ssl/private/stats.optimumabq.com.key",
            key.to_str().unwrap(),
        ),
        ("/var/log/nginx/beaconhouse.error.log", log.as_str()),
    ];
    substitutions.extend_from_slice(extra);
    let site = render("nginx.conf", &shipped("nginx.conf"), &substitutions);
    let path = dir.join("beaconhouse.conf");
    std::fs::write(&path, site).unwrap();
    path
}

#[test]
fn nginx_accepts_the_shipped_site() {
    let nginx = tool("nginx", "nginx");
    let dir = temp_dir("beaconhouse-nginx-t-");
    // As shipped: listen 443 ssl http2 on IPv4 and IPv6 (`nginx -t` binds nothing).
    let site = nginx_site(dir.path(), &[]);
    let main = nginx_main_config(dir.path(), &site);
    let (ok, output) = run(Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&main)
        .arg("-e")
        .arg(dir.path().join("log/startup.log")));
    assert!(ok, "nginx -t refused deploy/nginx.conf:\n{output}");
    assert!(output.contains("test is successful"), "{output}");
    assert!(!output.contains("[warn]"), "nginx -t warned:\n{output}");
    // Failed TLS handshakes are logged at `crit`, with the client's address;
    // the end-to-end test, over plain HTTP, cannot cause one.
    assert!(
        shipped("nginx.conf")
            .contains("\n    error_log /var/log/nginx/beaconhouse.error.log emerg;\n"),
        "deploy/nginx.conf's error log must stay at emerg"
    );
}

struct Nginx {
    process: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    /// deploy/nginx.conf on CLIENT_A and CLIENT_B's addresses (plain HTTP: the
    /// test client speaks no TLS; `nginx_accepts_the_shipped_site` checks the
    /// TLS lines), in front of the collector on `upstream`.
    fn start(upstream: u16) -> Nginx {
        let dir = temp_dir("beaconhouse-nginx-");
        let port = common::free_port();
        let listen = format!("listen {CLIENT_A}:{port};\n    listen {CLIENT_B}:{port};");
        let server = format!("server 127.0.0.1:{upstream};");
        let site = nginx_site(
            dir.path(),
            &[
                ("listen 443 ssl http2;", listen.as_str()),
                ("listen [::]:443 ssl http2;", ""),
                ("server 127.0.0.1:8080;", server.as_str()),
            ],
        );
        let main = nginx_main_config(dir.path(), &site);
        let mut process = common::spawn_nginx(
            &main,
            &dir.path().join("log/startup.log"),
            &dir.path().join("nginx.out"),
        );
        let answered = within(PROXY_START, || {
            if let Ok(Some(status)) = process.try_wait() {
                panic!("nginx exited with {status}: {:?}", files_in(dir.path()));
            }
            let source = Some(CLIENT_A.parse().unwrap());
            match common::try_request_from(
                source,
                "GET",
                &format!("http://{CLIENT_A}:{port}/t.js"),
                &[],
                &[],
            ) {
                Some(answer) if answer.status == 200 => Ok(()),
                other => Err(other.map(|a| a.status)),
            }
        });
        if answered.is_err() {
            let _ = process.kill();
            let _ = process.wait();
            panic!("nginx did not answer: {:?}", files_in(dir.path()));
        }
        Nginx { process, dir, port }
    }

    /// Stops it; returns every log it wrote (its own and the site's).
    fn stop(mut self) -> BTreeMap<String, String> {
        terminate(&mut self.process);
        files_in(&self.dir.path().join("log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn through_nginx_visitors_keep_their_address_and_nginx_logs_none_of_them() {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("deploy_nginx");
    common::migrate(clickhouse, &database);
    let collector = Collector::start(clickhouse, &database, &collector_toml());
    let nginx = Nginx::start(port_of(&collector.base));
    let port = nginx.port;

    let ids = hits_through("nginx", port, clickhouse, &database, &collector);
    assert_addresses_from_the_proxy("nginx", &ids);

    // The collector goes away (a restart): visitors still get their answers.
    let (stopped, log) = collector.stop();
    assert!(stopped, "{log}");
    let ua = [("User-Agent", CHROME), ("X-Forwarded-For", SPOOFED)];
    let down = through(
        CLIENT_A,
        port,
        "GET",
        &pixel("/while-down-page?q=while-down-query"),
        &[],
        &ua,
    );
    assert_eq!(down.status, 200, "a pixel while the collector is down");
    assert_eq!(down.header("Content-Type"), Some("image/gif"));
    assert_eq!(down.header("Cache-Control"), Some("no-store"));
    let open = through(
        CLIENT_B,
        port,
        "GET",
        "/o.gif?c=while-down-campaign&rid=while-down-rid",
        &[],
        &ua,
    );
    assert_eq!(open.status, 200);
    assert_eq!(open.header("Content-Type"), Some("image/gif"));
    let beacon = br#"{"site":"optimumabq.com","url":"https://optimumabq.com/while-down-beacon"}"#;
    assert_eq!(
        through(CLIENT_A, port, "POST", "/api/event", beacon, &ua).status,
        202
    );
    assert_staff_routes_fail_while_down(port, &ua);
    assert_eq!(
        through(CLIENT_B, port, "GET", "/t.js?while-down-tracker", &[], &ua).status,
        502
    );
    // Other errors nginx logs with the client's address: a path it does not
    // serve, /healthz from outside, a body too large.
    assert_eq!(
        through(
            CLIENT_A,
            port,
            "GET",
            "/while-down-unknown.php?x=while-down-x",
            &[],
            &ua
        )
        .status,
        404
    );
    assert_eq!(
        through(
            CLIENT_A,
            port,
            "GET",
            "/healthz?while-down-health",
            &[],
            &ua
        )
        .status,
        403
    );
    let large = vec![b'x'; 9 * 1024];
    assert_eq!(
        through(
            CLIENT_B,
            port,
            "POST",
            "/api/event?while-down-large",
            &large,
            &ua
        )
        .status,
        413
    );

    let logs = nginx.stop();
    assert!(
        logs.contains_key("beaconhouse.error.log"),
        "the site's error log is where the site file says: {logs:?}"
    );
    assert_logs_hold_no_visitor(
        &logs,
        &[
            "while-down",
            "nginx-a",
            "nginx-b",
            "optimumabq.com",
            "deploy-test",
            TOKEN,
        ],
    );
}

// ---------------------------------------------------------------------------
// Caddy

fn caddy_command(dir: &Path) -> Command {
    let mut command = Command::new(tool("caddy", "caddy"));
    // Caddy keeps its state (certificates, the last configuration) here.
    command
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    command
}

#[test]
fn caddy_accepts_the_shipped_caddyfile() {
    let dir = temp_dir("beaconhouse-caddy-validate-");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/Caddyfile");
    let (ok, output) = run(caddy_command(dir.path())
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(&path));
    assert!(ok, "caddy validate refused deploy/Caddyfile:\n{output}");
    assert!(output.contains("Valid configuration"), "{output}");
    // Caddy warns at every start about a file `caddy fmt` would change.
    let (ok, formatted) = run(caddy_command(dir.path()).arg("fmt").arg(&path));
    assert!(ok, "{formatted}");
    assert_eq!(
        formatted,
        shipped("Caddyfile"),
        "deploy/Caddyfile is not as `caddy fmt` writes it"
    );
}

#[test]
fn through_caddy_visitors_keep_their_address_and_caddy_logs_none_of_them() {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("deploy_caddy");
    common::migrate(clickhouse, &database);
    let collector = Collector::start(clickhouse, &database, &collector_toml());
    // No `-` after `caddy`: the random tail could spell `caddy-a`, a path
    // the test sends and then looks for in Caddy's log.
    let dir = temp_dir("beaconhouse-caddyrun.");
    let port = common::free_port();
    // No admin endpoint (its default port would clash between test runs), and
    // only the two client addresses.
    let bind = format!(
        "{{$BEACONHOUSE_SITE_ADDRESS:stats.optimumabq.com}} {{\n\tbind {CLIENT_A} {CLIENT_B}"
    );
    let caddyfile = render(
        "Caddyfile",
        &shipped("Caddyfile"),
        &[
            ("{\n\tlog default {", "{\n\tadmin off\n\tlog default {"),
            (
                "{$BEACONHOUSE_SITE_ADDRESS:stats.optimumabq.com} {",
                bind.as_str(),
            ),
        ],
    );
    std::fs::write(dir.path().join("Caddyfile"), caddyfile).unwrap();
    let log_path = dir.path().join("caddy.log");
    let out = std::fs::File::create(&log_path).unwrap();
    let mut caddy = caddy_command(dir.path())
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.path().join("Caddyfile"))
        .env("BEACONHOUSE_SITE_ADDRESS", format!("http://:{port}"))
        .env(
            "BEACONHOUSE_UPSTREAM",
            format!("127.0.0.1:{}", port_of(&collector.base)),
        )
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("caddy starts");
    let caddy_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let answered = within(PROXY_START, || {
        if let Ok(Some(status)) = caddy.try_wait() {
            panic!("caddy exited with {status}:\n{}", caddy_log());
        }
        let source = Some(CLIENT_A.parse().unwrap());
        match common::try_request_from(
            source,
            "GET",
            &format!("http://{CLIENT_A}:{port}/t.js"),
            &[],
            &[],
        ) {
            Some(answer) if answer.status == 200 => Ok(()),
            other => Err(other.map(|a| a.status)),
        }
    });
    if answered.is_err() {
        terminate(&mut caddy);
        panic!("caddy did not answer:\n{}", caddy_log());
    }

    let ids = hits_through("caddy", port, clickhouse, &database, &collector);
    assert_addresses_from_the_proxy("caddy", &ids);

    let (stopped, log) = collector.stop();
    assert!(stopped, "{log}");
    let ua = [("User-Agent", CHROME), ("X-Forwarded-For", SPOOFED)];
    let down = through(
        CLIENT_A,
        port,
        "GET",
        &pixel("/while-down-page?q=while-down-query"),
        &[],
        &ua,
    );
    assert_eq!(down.status, 204, "a pixel while the collector is down");
    let beacon = br#"{"site":"optimumabq.com","url":"https://optimumabq.com/while-down-beacon"}"#;
    assert_eq!(
        through(CLIENT_B, port, "POST", "/api/event", beacon, &ua).status,
        204
    );
    assert_staff_routes_fail_while_down(port, &ua);
    assert_eq!(
        through(
            CLIENT_A,
            port,
            "GET",
            "/while-down-unknown.php?x=while-down-x",
            &[],
            &ua
        )
        .status,
        404
    );

    terminate(&mut caddy);
    let logs = BTreeMap::from([("caddy.log".to_string(), caddy_log())]);
    assert!(
        logs["caddy.log"].contains("server running"),
        "Caddy's log is captured:\n{}",
        logs["caddy.log"]
    );
    assert_logs_hold_no_visitor(
        &logs,
        &[
            "while-down",
            "caddy-a",
            "caddy-b",
            "optimumabq.com",
            "deploy-test",
            TOKEN,
        ],
    );
}

// ---------------------------------------------------------------------------
// systemd

const UNITS: &[&str] = &[
    "beaconhouse.service",
    "beaconhouse-rollup.service",
    "beaconhouse-rollup.timer",
    "beaconhouse-geoip.path",
    "beaconhouse-geoip.service",
    "geoipupdate.service",
    "geoipupdate.timer",
];

/// The services that run beaconhouse, and the highest `systemd-analyze
/// security` exposure each may have (0 is best, 10 worst; the shipped 1.1).
const SANDBOXED: &[(&str, f64)] = &[
    ("beaconhouse.service", 2.0),
    ("beaconhouse-rollup.service", 2.0),
];

/// A root directory as an installation makes it: the units in
/// /etc/systemd/system, the binary in /usr/local/bin, the configuration in
/// /etc/beaconhouse, and the system's own units (targets) beside them.
fn systemd_root() -> tempfile::TempDir {
    let root = temp_dir("beaconhouse-systemd-");
    let path = |p: &str| root.path().join(p);
    for dir in [
        "etc/systemd/system",
        "usr/local/bin",
        "usr/bin",
        "etc/beaconhouse",
        "usr/lib/systemd",
    ] {
        std::fs::create_dir_all(path(dir)).unwrap();
    }
    for unit in UNITS {
        std::fs::write(path("etc/systemd/system").join(unit), shipped(unit)).unwrap();
    }
    // verify checks that each command exists and is executable; the test
    // below runs the real binary's command lines.
    for command in [
        "usr/local/bin/beaconhouse",
        "usr/bin/systemctl",
        "usr/bin/kill",
        "usr/bin/geoipupdate",
    ] {
        std::fs::write(path(command), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path(command), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(path("etc/beaconhouse/beaconhouse.toml"), common::SITE_TOML).unwrap();
    let system_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .find(|dir| Path::new(dir).join("sysinit.target").exists())
        .expect("systemd's own units (sysinit.target): apt-get install -y systemd");
    let (ok, output) = run(Command::new("cp")
        .arg("-r")
        .arg(system_units)
        .arg(path("usr/lib/systemd/")));
    assert!(ok, "{output}");
    root
}

#[test]
fn systemd_units_verify_and_are_sandboxed() {
    let analyze = tool("systemd-analyze", "systemd");
    let root = systemd_root();
    let units = root.path().join("etc/systemd/system");
    let (ok, output) = run(Command::new(&analyze)
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .args(UNITS)
        .current_dir(&units));
    assert!(
        ok && output.trim().is_empty(),
        "systemd-analyze verify:\n{output}"
    );

    for (unit, highest) in SANDBOXED {
        let (ok, output) = run(Command::new(&analyze)
            .args(["security", "--offline=true", "--no-pager"])
            .arg(units.join(unit)));
        assert!(ok, "systemd-analyze security {unit}:\n{output}");
        let exposure: f64 = output
            .lines()
            .find_map(|l| {
                l.split_once("Overall exposure level for ")?
                    .1
                    .split_once(": ")?
                    .1
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no exposure level in:\n{output}"));
        assert!(
            exposure <= *highest,
            "{unit}: exposure {exposure} > {highest}:\n{output}"
        );
    }

    // Every beaconhouse command line in the units is one the binary takes.
    for unit in UNITS {
        for line in shipped(unit).lines() {
            let Some((key, command)) = line.split_once('=') else {
                continue;
            };
            if !key.starts_with("Exec") {
                continue;
            }
            let Some(args) = command
                .trim_start_matches('-')
                .strip_prefix("/usr/local/bin/beaconhouse")
            else {
                continue;
            };
            let (ok, _, stderr) = Beaconhouse::new()
                .args(args.split_whitespace())
                .arg("--help")
                .output();
            assert!(
                ok,
                "{unit}: `beaconhouse{args}` is not a command of the binary: {stderr}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// `beaconhouse healthcheck`, the image's and compose file's health check

#[test]
fn healthcheck_asks_the_admin_listener() {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("deploy_health");
    let collector = Collector::start(clickhouse, &database, "");
    let config = collector.dir().join("beaconhouse.toml");
    let admin_port = port_of(&collector.admin);
    for admin in [
        format!("127.0.0.1:{admin_port}"),
        format!("0.0.0.0:{admin_port}"),
    ] {
        let (ok, stdout, stderr) = Beaconhouse::new()
            .config(&config)
            .env("BEACONHOUSE_ADMIN_LISTEN", &admin)
            .arg("healthcheck")
            .output();
        assert!(ok, "healthcheck against {admin}: {stderr}");
        assert!(stdout.contains("ready"), "{stdout}");
    }
    let nobody = format!("127.0.0.1:{}", common::free_port());
    let (ok, _, stderr) = Beaconhouse::new()
        .config(&config)
        .env("BEACONHOUSE_ADMIN_LISTEN", &nobody)
        .arg("healthcheck")
        .output();
    assert!(!ok, "healthcheck with nothing on {nobody} fails");
    assert!(stderr.contains("admin_listen"), "{stderr}");
}

// ---------------------------------------------------------------------------
// Containers: checked, not run (no registry here)

/// deploy/compose.yaml in a copy of deploy/ with `.env` made from
/// env.example (`password` filled in) and an empty configuration file.
fn compose_config(password: &str) -> (bool, String) {
    let compose = tool("docker-compose", "docker-compose");
    let dir = temp_dir("beaconhouse-compose-");
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    for file in ["compose.yaml", "Caddyfile", "Dockerfile"] {
        std::fs::write(deploy.join(file), shipped(file)).unwrap();
    }
    let filled = format!("CLICKHOUSE_PASSWORD={password}\n");
    let env = render(
        "env.example",
        &shipped("env.example"),
        &[("CLICKHOUSE_PASSWORD=\n", filled.as_str())],
    );
    std::fs::write(deploy.join(".env"), env).unwrap();
    std::fs::write(deploy.join("beaconhouse.toml"), "").unwrap();
    run(Command::new(compose)
        .args(["-f", "deploy/compose.yaml", "config"])
        .current_dir(dir.path()))
}

/// `docker-compose config`'s services, each with its top-level keys and
/// their text (the normalized YAML, two spaces a level).
fn services(config: &str) -> BTreeMap<String, String> {
    let mut services = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_services = false;
    for line in config.lines() {
        if !line.starts_with(' ') {
            in_services = line == "services:";
            current = None;
            continue;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            current = Some(name.trim_end_matches(':').to_string());
        } else if let Some(name) = &current {
            let text: &mut String = services.entry(name.clone()).or_default();
            text.push_str(line);
            text.push('\n');
        }
    }
    services
}

#[test]
fn compose_file_is_valid_and_publishes_only_the_tls_proxy() {
    let (ok, config) = compose_config("0123456789abcdef");
    assert!(
        ok,
        "docker-compose config refused deploy/compose.yaml:\n{config}"
    );
    let services = services(&config);
    assert_eq!(
        services.keys().map(String::as_str).collect::<Vec<_>>(),
        ["clickhouse", "collector", "migrate", "proxy"],
        "{config}"
    );
    for (name, text) in &services {
        assert_eq!(
            text.contains("\n    ports:") || text.starts_with("    ports:"),
            name == "proxy",
            "{name} publishes ports (only the proxy may):\n{text}"
        );
        if name != "migrate" {
            assert!(
                text.contains("restart: unless-stopped"),
                "{name}: no restart policy:\n{text}"
            );
        }
    }
    let collector = &services["collector"];
    for expected in [
        "condition: service_completed_successfully",
        "condition: service_healthy",
        "spool:/var/lib/beaconhouse",
        "/etc/beaconhouse/beaconhouse.toml:ro",
        "/var/lib/GeoIP:ro",
        "BEACONHOUSE_CLICKHOUSE_PASSWORD: 0123456789abcdef",
        "/usr/local/bin/beaconhouse",
        "stop_grace_period: 30s",
    ] {
        assert!(
            collector.contains(expected),
            "collector: no {expected:?}:\n{collector}"
        );
    }
    assert!(
        !collector.contains("BEACONHOUSE_ADMIN_LISTEN"),
        "/metrics stays inside the container"
    );
    let clickhouse = &services["clickhouse"];
    for expected in [
        "CLICKHOUSE_PASSWORD: 0123456789abcdef",
        "CLICKHOUSE_USER: beaconhouse",
        "healthcheck:",
        "clickhouse:/var/lib/clickhouse",
    ] {
        assert!(
            clickhouse.contains(expected),
            "clickhouse: no {expected:?}:\n{clickhouse}"
        );
    }
    assert!(
        services["migrate"].contains("restart: 'no'")
            || services["migrate"].contains("restart: \"no\""),
        "{}",
        services["migrate"]
    );
    assert!(
        services["proxy"].contains("/etc/caddy/Caddyfile:ro"),
        "{}",
        services["proxy"]
    );

    // As env.example ships, with no password: refused, naming what to set.
    let (ok, output) = compose_config("");
    assert!(
        !ok,
        "compose accepted an empty ClickHouse password:\n{output}"
    );
    assert!(output.contains("CLICKHOUSE_PASSWORD"), "{output}");
}

/// The files of the build context `docker build` would send for `root`, as
/// the Docker SDK for Python (Debian's python3-docker, a dependency of
/// docker-compose) reads .dockerignore.
fn build_context(root: &Path) -> Vec<String> {
    let script = r##"
import os, sys
from docker.utils.build import exclude_paths
root = sys.argv[1]
patterns = [l.strip() for l in open(os.path.join(root, ".dockerignore"))
            if l.strip() and not l.startswith("#")]
files = [f for f in exclude_paths(root, patterns) if os.path.isfile(os.path.join(root, f))]
print("\n".join(sorted(files)))
"##;
    let (ok, output) = run(Command::new("python3").arg("-c").arg(script).arg(root));
    assert!(
        ok,
        "python3-docker (apt-get install -y docker-compose) lists the build context:\n{output}"
    );
    output.lines().map(str::to_string).collect()
}

#[test]
fn image_build_context_has_the_sources_and_no_secrets() {
    tool("docker-compose", "docker-compose");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let context = build_context(repo);
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "src/http/dashboard/assets/index.html",
        "schema/0001_events.sql",
        "benches/hot_path.rs",
        "benches/bare_gif.rs",
        "deploy/Dockerfile",
        "deploy/beaconhouse.example.toml",
    ] {
        assert!(
            context.iter().any(|f| f == needed),
            "{needed} is not in the build context"
        );
    }
    for file in &context {
        for left_out in ["target", ".git", ".local"] {
            let inside = file == left_out || file.starts_with(&format!("{left_out}/"));
            assert!(!inside, "{file} is in the build context");
        }
    }

    // An operator's secrets next to compose.yaml stay out.
    let dir = temp_dir("beaconhouse-context-");
    let root = dir.path();
    for file in [
        ".dockerignore",
        "Cargo.toml",
        "src/main.rs",
        "deploy/.env",
        "deploy/beaconhouse.toml",
        "deploy/geoip/GeoLite2-City.mmdb",
        ".local/dashboard-token",
        "target/release/beaconhouse",
        ".git/HEAD",
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = if file == ".dockerignore" {
            std::fs::read_to_string(repo.join(file)).unwrap()
        } else {
            String::new()
        };
        std::fs::write(path, text).unwrap();
    }
    assert_eq!(
        build_context(root),
        [".dockerignore", "Cargo.toml", "src/main.rs"]
    );
}

#[test]
fn dockerfile_runs_unprivileged_reachable_and_health_checked() {
    let dockerfile = shipped("Dockerfile");
    let last_stage = dockerfile.rsplit("\nFROM ").next().unwrap();
    for expected in [
        "USER 10001:10001",
        "BEACONHOUSE_LISTEN=0.0.0.0:8080",
        "HEALTHCHECK",
        "\"healthcheck\"",
        "-o beaconhouse -g beaconhouse -m 0700 /var/lib/beaconhouse /var/lib/beaconhouse/spool",
        "VOLUME /var/lib/beaconhouse",
    ] {
        assert!(
            last_stage.contains(expected),
            "deploy/Dockerfile's image: no {expected:?}"
        );
    }
    assert!(
        !last_stage.contains("ADMIN_LISTEN"),
        "/metrics stays on the container's loopback"
    );
    assert!(!last_stage.contains("EXPOSE 9091"));
}

// ---------------------------------------------------------------------------
// deploy/grants.sql

/// Its statements, as `migrate` splits a file: `--` lines dropped, cut at `;`.
fn grant_statements() -> Vec<String> {
    let text = shipped("grants.sql");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    kept.join("\n")
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn grants_sql_gives_staff_the_released_database_and_nothing_raw() {
    let statements = grant_statements();
    let granted_to = |role: &str| -> Vec<&str> {
        let suffix = format!(" TO {role}");
        statements
            .iter()
            .filter_map(|s| {
                s.strip_prefix("GRANT SELECT ON beaconhouse.")?
                    .strip_suffix(suffix.as_str())
            })
            .collect()
    };
    // Staff: the released database, and nothing of the raw one; an earlier
    // grants.sql's raw tables are taken back.
    assert!(granted_to("beaconhouse_reporting").is_empty());
    assert!(
        statements
            .contains(&"GRANT SELECT ON beaconhouse_released.* TO beaconhouse_reporting".into())
    );
    for table in ["events", "email_opens", "daily_stats", "daily_filtered"] {
        assert!(
            statements.contains(&format!(
                "REVOKE SELECT ON beaconhouse.{table} FROM beaconhouse_reporting"
            )),
            "{table} is taken back from staff"
        );
    }
    // The collector's reports read the raw tables, the rollups and which
    // days are rolled up; no longer through the staff role. Every table a
    // report statement reads is granted, and nothing else.
    let mut read: Vec<String> = beaconhouse::report::sql::statement_shapes()
        .iter()
        .flat_map(|statement| {
            statement
                .text
                .split(" FROM ")
                .skip(1)
                .filter_map(|after| {
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    (!name.is_empty()).then_some(name)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    read.sort();
    read.dedup();
    let mut granted = granted_to("beaconhouse_report_reader");
    granted.sort();
    assert_eq!(granted, read);
    assert!(
        !statements.contains(&"GRANT beaconhouse_reporting TO beaconhouse_report_reader".into())
    );
    let granted = granted_to("beaconhouse_report_reader");
    for statement in &statements {
        assert!(
            statement.starts_with("GRANT SELECT ON beaconhouse.")
                || statement == "GRANT SELECT ON beaconhouse_released.* TO beaconhouse_reporting"
                || statement.starts_with("REVOKE ")
                || !statement.contains("ON "),
            "grants.sql grants more than SELECT on the staff tables: {statement}"
        );
        for secret in ["visitor_salts", "recipient_keys", "beaconhouse.*"] {
            assert!(!statement.contains(secret), "{statement}");
        }
    }
    // Each granted table is one the migrations create.
    let schema: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema"))
            .unwrap()
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
    let schema = schema
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for table in &granted {
        assert!(
            schema.contains(&format!("CREATE TABLE IF NOT EXISTS {table} ")),
            "schema/ creates no table {table}"
        );
    }

    // A current ClickHouse parses every statement (chdb, in-process; 18.16
    // has no SQL-driven users at all).
    let script = r#"
import sys
import chdb
for statement in sys.stdin.read().split("\0"):
    quoted = statement.replace("\\", "\\\\").replace("'", "\\'")
    chdb.query(f"SELECT formatQuery('{quoted}')", "TSV")
print(chdb.query("SELECT version()", "TSV").bytes().decode().strip())
"#;
    let mut python = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(statements.join("\0").as_bytes())
        .unwrap();
    let output = python.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "a current ClickHouse (chdb: `pip install chdb`, as tests/run.sh does) refuses deploy/grants.sql:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------
// GeoIP on the first run: deploy/fetch-geoip.sh, as deploy/run-local.sh runs it.

/// `YYYY-MM` of last month, UTC, as `date -u -d '... -1 month'` gives it.
fn last_month() -> String {
    let today =
        beaconhouse::clock::iso_date(beaconhouse::clock::day_of(beaconhouse::clock::now_unix()));
    let year: u32 = today[..4].parse().unwrap();
    let month: u32 = today[5..7].parse().unwrap();
    match month {
        1 => format!("{}-12", year - 1),
        _ => format!("{year}-{:02}", month - 1),
    }
}

/// What `bash deploy/fetch-geoip.sh DIR` did: its exit code, standard output
/// and standard error.
fn fetch_geoip(dir: &Path, source: &str, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/fetch-geoip.sh"))
        .arg(dir)
        .env("BEACONHOUSE_TEST_GEOIP_SOURCE", source)
        .envs(env.iter().copied())
        .output()
        .expect("bash runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// DB-IP's monthly file served from this machine (no test reaches
/// download.db-ip.com): only last month's is there, as early in a month, so
/// the script asks for this month's, then takes last month's; a second run
/// uses the file it left, without the network; with no server it says in
/// one line that locations stay empty and how to add a database later;
/// `BEACONHOUSE_FETCH_GEOIP=0` fetches nothing. And `deploy/run-local.sh`'s
/// own lines put the path into `geoip.database` of the example configuration.
#[test]
fn fetch_geoip_takes_db_ips_monthly_file_or_says_plainly_why_not() {
    let served = temp_dir("geoip-source-");
    let fixture = served.path().join("fixture.mmdb");
    common::geoip::write_dbip_country_fixture(&fixture);
    let gzipped = Command::new(tool("gzip", "gzip"))
        .arg("-c")
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(gzipped.status.success());
    std::fs::remove_file(&fixture).unwrap();
    let file = format!("dbip-country-lite-{}.mmdb.gz", last_month());
    std::fs::write(served.path().join(&file), &gzipped.stdout).unwrap();
    let port = common::free_port();
    let mut server = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(served.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    within(PROXY_START, || {
        std::net::TcpStream::connect(("127.0.0.1", port))
    })
    .expect("python3 -m http.server answers");
    let source = format!("http://127.0.0.1:{port}");
    let local = temp_dir("geoip-local-");
    let listing = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    let (code, stdout, stderr) =
        fetch_geoip(local.path(), &source, &[("BEACONHOUSE_FETCH_GEOIP", "0")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("locations stay empty"), "{stderr}");
    assert!(listing(local.path()).is_empty(), "nothing fetched");

    let (code, stdout, stderr) = fetch_geoip(local.path(), &source, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let database = local
        .path()
        .canonicalize()
        .unwrap()
        .join("dbip-country-lite.mmdb");
    assert_eq!(stdout.trim(), database.display().to_string());
    for words in [
        "IP to Country Lite",
        "CC BY 4.0",
        "IP Geolocation by DB-IP",
        "BEACONHOUSE_FETCH_GEOIP=0",
    ] {
        assert!(
            stderr.contains(words),
            "it does not say {words:?}: {stderr}"
        );
    }
    assert_eq!(
        listing(local.path()),
        ["dbip-country-lite.mmdb"],
        "no partial file left"
    );
    let geo = beaconhouse::enrich::geo::GeoLookup::open(
        &database,
        beaconhouse::enrich::geo::Precision::City,
    )
    .unwrap();
    assert_eq!(geo.attribution(), Some(beaconhouse::enrich::geo::DB_IP));
    assert_eq!(geo.locate("81.2.69.142".parse().unwrap()).country, "GB");

    // The network gone: the file from before serves; without one, one line.
    terminate(&mut server);
    let (code, stdout, stderr) = fetch_geoip(local.path(), &source, &[]);
    assert_eq!(
        (code, stdout.trim()),
        (Some(0), database.display().to_string().as_str()),
        "{stderr}"
    );
    let empty = temp_dir("geoip-offline-");
    let (code, stdout, stderr) = fetch_geoip(empty.path(), &source, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("could not download")
            && last.contains("locations stay empty")
            && last.contains("To add one later"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        2,
        "what it tried, then why not: {stderr}"
    );
    assert!(listing(empty.path()).is_empty(), "no partial file left");

    // deploy/run-local.sh: what it runs, and the line that sets the path.
    let run_local = shipped("run-local.sh");
    let set_database = r#"sed "/^\[geoip\]\$/a database = \"$geoip_database\"   # added by deploy/run-local.sh" \
        deploy/beaconhouse.example.toml"#;
    for line in [
        "unset BEACONHOUSE_FETCH_GEOIP",
        "bash deploy/fetch-geoip.sh .local) || geoip_database=\"\"",
        set_database,
    ] {
        assert!(
            run_local.contains(line),
            "deploy/run-local.sh no longer contains {line:?}: update tests/it/deploy.rs with it"
        );
    }
    let (parses, stderr) = run(Command::new("bash")
        .arg("-n")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/run-local.sh")));
    assert!(parses, "{stderr}");
    let written = Command::new("bash")
        .arg("-c")
        .arg(set_database)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("geoip_database", &database)
        .output()
        .unwrap();
    assert!(written.status.success());
    let toml = local.path().join("beaconhouse.toml");
    std::fs::write(&toml, &written.stdout).unwrap();
    let config = beaconhouse::config::Config::load_with_env(Some(&toml), Vec::new()).unwrap();
    assert_eq!(config.geoip.database.as_deref(), Some(database.as_path()));
}
