//! Test harness: a real clickhouse-server (or a real cluster of them,
//! [`cluster`]), the real `beaconhouse` binary, the known hits of the report
//! tests ([`known_hits`]), and a GeoIP fixture written by the tests
//! themselves.
//!
//! `BEACONHOUSE_TEST_CLICKHOUSE_URL` points the tests at a running server;
//! otherwise one is started, once for every module of the test binary, on
//! free loopback ports with its own data directory (`deploy/clickhouse-dev.sh`)
//! and stopped when the tests end.
//! A missing server binary fails the tests with the command that installs it.
//!
//! Tests wait on facts, never on time: [`eventually`] polls a check until it
//! holds, and [`Collector::settled`] waits until a collector has accounted for
//! every hit it answered, after which ClickHouse's contents are final.

pub mod cluster;
pub mod geoip;
pub mod known_hits;
pub mod released;
pub mod staff;

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// How long a clickhouse-server may take to answer `/ping` on a new data
/// directory (it creates its system tables first).
pub const SERVER_START: Duration = Duration::from_secs(90);
/// How long a killed clickhouse-server may hold its port.
pub const SERVER_STOP: Duration = Duration::from_secs(20);
/// How long a collector may take to answer `/healthz`.
pub const COLLECTOR_START: Duration = Duration::from_secs(30);
/// How long a collector may take to exit after SIGTERM: its shipper has
/// `pipeline.shutdown_timeout_ms` (10 s by default) to drain the spool.
pub const COLLECTOR_STOP: Duration = Duration::from_secs(30);
/// How long a collector may take to account for every hit it answered. It may
/// follow a ClickHouse outage, after which the shipper's retry backoff (capped
/// at 30 s) decides when the spool starts draining.
pub const SETTLE: Duration = Duration::from_secs(60);
/// How often a fact is checked again.
const POLL: Duration = Duration::from_millis(25);

/// Runs `check` until it returns `Ok`, every [`POLL`], for at most `timeout`;
/// then returns its last `Err` (the last thing it saw).
pub fn within<T, E>(timeout: Duration, mut check: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + timeout;
    loop {
        let outcome = check();
        if outcome.is_ok() || Instant::now() >= deadline {
            return outcome;
        }
        std::thread::sleep(POLL);
    }
}

/// As [`within`], and panics with `what` and the last thing `check` saw when
/// time runs out.
pub fn eventually<T, E: Debug>(
    what: &str,
    timeout: Duration,
    check: impl FnMut() -> Result<T, E>,
) -> T {
    within(timeout, check)
        .unwrap_or_else(|last| panic!("{what}: not within {timeout:?}; last seen: {last:?}"))
}

/// A clickhouse-server for the tests.
pub struct ClickHouse {
    pub url: String,
    process: Option<Child>,
    dir: Option<tempfile::TempDir>,
    ports: [u16; 3],
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        if let Some(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The server shared by every test of every module.
pub fn clickhouse() -> &'static ClickHouse {
    static SHARED: OnceLock<ClickHouse> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("BEACONHOUSE_TEST_CLICKHOUSE_URL") {
        Ok(url) if !url.is_empty() => ClickHouse::at(&url),
        _ => ClickHouse::start(),
    })
}

impl ClickHouse {
    /// A server running elsewhere, reached at `url`: one the harness did
    /// not start, or the shared one through a proxy (whose URL only the
    /// collector's configuration takes; run queries on the plain one).
    pub fn at(url: &str) -> ClickHouse {
        ClickHouse {
            url: url.trim_end_matches('/').to_string(),
            process: None,
            dir: None,
            ports: [0; 3],
        }
    }

    /// Starts a dedicated server and waits until it answers.
    pub fn start() -> ClickHouse {
        let mut clickhouse = ClickHouse::unstarted();
        clickhouse.launch();
        clickhouse
    }

    /// A data directory and free ports for a server, not started yet: a
    /// cluster node gets its configuration (`config.d/` in [`ClickHouse::dir`])
    /// before [`ClickHouse::launch`].
    pub fn unstarted() -> ClickHouse {
        let dir = tempfile::Builder::new()
            .prefix("beaconhouse-clickhouse-")
            .tempdir()
            .expect("temporary directory");
        let ports = [free_port(), free_port(), free_port()];
        ClickHouse {
            url: format!("http://127.0.0.1:{}", ports[0]),
            process: None,
            dir: Some(dir),
            ports,
        }
    }

    /// The data directory of a server this harness started.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("a server this harness started")
            .path()
    }

    /// The native protocol port, which other nodes of a cluster reach it on.
    pub fn tcp_port(&self) -> u16 {
        self.ports[1]
    }

    /// Whether this harness runs its process (not stopped, not an outside server).
    pub fn running(&self) -> bool {
        self.process.is_some()
    }

    /// Starts the server process on this instance's directory and ports.
    pub fn launch(&mut self) {
        let dir = self.dir();
        let mut args = vec![dir.display().to_string()];
        args.extend(self.ports.iter().map(u16::to_string));
        let process = run_dev_script(
            "clickhouse-dev.sh",
            &args,
            &dir.join("server.out"),
            SERVER_START,
            "clickhouse-server is not installed. Install it with `apt-get install -y clickhouse-server` (as root), or set BEACONHOUSE_TEST_CLICKHOUSE_URL to a running server.",
            || ping(&self.url),
        );
        self.process = Some(process);
    }

    /// Stops the server (an outage); [`ClickHouse::resume`] starts it again on
    /// the same data and ports.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        // The server may still hold its port for a moment after it exits.
        eventually(
            "the stopped clickhouse-server lets go of its port",
            SERVER_STOP,
            || match http_get(&format!("{}/ping", self.url)) {
                None => Ok(()),
                Some(answer) => Err(answer),
            },
        );
    }

    pub fn resume(&mut self) {
        self.launch();
    }

    /// Runs a statement and returns the TSV answer; panics on an error status.
    pub fn query(&self, database: &str, sql: &str) -> String {
        let (status, body) = self
            .try_query(database, sql)
            .unwrap_or_else(|| panic!("ClickHouse did not answer {sql}"));
        assert_eq!(status, 200, "{sql}: {body}");
        body
    }

    pub fn try_query(&self, database: &str, sql: &str) -> Option<(u16, String)> {
        http_post(
            &format!("{}/?database={database}", self.url),
            sql.as_bytes(),
            &[],
        )
    }

    /// Adds `xml` to the `users.d` of a server this harness started, as the
    /// file `name`; clickhouse-server loads it by itself within seconds, so
    /// wait until the user answers. Panics for a server named by
    /// `BEACONHOUSE_TEST_CLICKHOUSE_URL`.
    pub fn add_users(&self, name: &str, xml: &str) {
        let dir = self
            .dir
            .as_ref()
            .expect("users are added to a server this harness started")
            .path()
            .join("users.d");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), xml).unwrap();
    }

    /// As [`ClickHouse::try_query`], as `user` with `password`.
    pub fn try_query_as(
        &self,
        user: &str,
        password: &str,
        database: &str,
        sql: &str,
    ) -> Option<(u16, String)> {
        let (user, password) = (enc(user), enc(password));
        http_post(
            &format!(
                "{}/?database={database}&user={user}&password={password}",
                self.url
            ),
            sql.as_bytes(),
            &[],
        )
    }

    /// A new, empty database name for one test.
    pub fn fresh_database(&self, prefix: &str) -> String {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{prefix}_{suffix}")
    }

    /// Runs a statement whose answer is one number, e.g. `SELECT count() FROM events`.
    pub fn number(&self, database: &str, sql: &str) -> u64 {
        let answer = self.query(database, sql);
        answer
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql} answered {answer:?}, not a number"))
    }
}

/// Placeholder for the SHA-256 of the password in the users files of `deploy/`.
const PASSWORD_PLACEHOLDER: &str = "replace-with-the-sha256-of-the-password";

/// The users file `deploy/<file>` as shipped, but for its password (the
/// SHA-256 of `password`) and each `(from, to)` of `replace`, each of which
/// must stand in the shipped file once.
pub fn shipped_users_file(file: &str, password: &str, replace: &[(&str, &str)]) -> String {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(file),
    )
    .unwrap();
    let hash = hex::encode(beaconhouse::config::ApiToken::digest(password));
    let mut rendered = shipped.clone();
    for &(from, to) in [(PASSWORD_PLACEHOLDER, hash.as_str())]
        .iter()
        .chain(replace)
    {
        assert_eq!(shipped.matches(from).count(), 1, "{from} in deploy/{file}");
        rendered = rendered.replace(from, to);
    }
    rendered
}

/// Starts `deploy/SCRIPT ARGS` (a `*-dev.sh` server), its output appended
/// to `log`, to be stopped when the test process exits
/// (`BEACONHOUSE_WATCH_PID`), and waits up to `timeout` until `ready` holds.
/// A script that exits first fails the test with its output, and with
/// `install` when the server is not installed (status 127).
// The child is reaped by its owner's `Drop`, and here when it fails.
#[allow(clippy::zombie_processes)]
pub fn run_dev_script<E: Debug>(
    script: &str,
    args: &[String],
    log: &Path,
    timeout: Duration,
    install: &str,
    ready: impl Fn() -> Result<(), E>,
) -> Child {
    let output = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(script);
    let mut process = Command::new("bash")
        .arg(&path)
        .args(args)
        .env("BEACONHOUSE_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .spawn()
        .unwrap_or_else(|e| panic!("bash cannot run {}: {e}", path.display()));
    let outcome = within(timeout, || {
        if let Ok(Some(status)) = process.try_wait() {
            let output = std::fs::read_to_string(log).unwrap_or_default();
            if status.code() == Some(127) {
                panic!("{install}\n{output}");
            }
            panic!("{script} exited with {status} before it was ready:\n{output}");
        }
        ready()
    });
    if let Err(last) = outcome {
        let _ = process.kill();
        let _ = process.wait();
        panic!(
            "{script} was not ready within {timeout:?} (last seen: {last:?}); see {}",
            log.display()
        );
    }
    process
}

/// `Ok` once the server at `url` answers `/ping`; else what it answered.
fn ping(url: &str) -> Result<(), Option<(u16, String)>> {
    match http_get(&format!("{url}/ping")) {
        Some((200, _)) => Ok(()),
        other => Err(other),
    }
}

/// A port nothing listens on, never handed out before in this test run: the
/// kernel may offer a port it just offered (the probe is closed at once), and
/// two servers of one test given the same port fail to start, as a collector
/// whose `listen` and `admin_listen` were equal once did in CI.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// The path of `command`, or a panic naming the Debian package that has it.
pub fn tool(command: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{command}` is not installed: run `apt-get install -y {package}` (as root), or `bash tests/run.sh`, which does"
            )
        })
}

/// Runs `command` to its end: (succeeded, standard output and error).
pub fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// `python3 tests/browser/<script>`: the browser tests' drivers, Python
/// Playwright on Debian's `/usr/bin/chromium`.
pub fn browser_script(script: &str) -> Command {
    let mut command = Command::new("python3");
    command.arg(format!(
        "{}/tests/browser/{script}",
        env!("CARGO_MANIFEST_DIR")
    ));
    command
}

/// What a failure to start [`browser_script`] means.
pub const PLAYWRIGHT: &str =
    "python3 runs (tests/run.sh installs Python Playwright and Debian's chromium)";

/// Runs the JavaScript test module at `module` (a path in the repository)
/// in Chromium with `tests/browser/unit.py`, and fails with its report
/// unless every test in it passed.
pub fn javascript_tests(module: &str) {
    let run = browser_script("unit.py")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(module))
        .output()
        .expect(PLAYWRIGHT);
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "{module} failed in Chromium:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Starts nginx in the foreground on the main configuration `config` (which
/// says `daemon off;`), its start-up errors going to `startup_log` and its
/// output to `output`, not to the system's log directory.
pub fn spawn_nginx(config: &Path, startup_log: &Path, output: &Path) -> Child {
    let out = std::fs::File::create(output).unwrap();
    Command::new(tool("nginx", "nginx"))
        .arg("-c")
        .arg(config)
        .arg("-e")
        .arg(startup_log)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("nginx starts")
}

/// `reporting.noise_key` of every command the tests run against ClickHouse:
/// the tests work out the released figures they expect with it.
pub const NOISE_KEY: &str = "tests-noise-key-0123456789abcdef0123456789";

/// The built `beaconhouse` binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_beaconhouse")
}

/// A command line of the `beaconhouse` binary, as every test builds one:
/// `Beaconhouse::new().config(path).clickhouse(&ch, db).env(k, v).arg("serve")`,
/// then [`output`](Beaconhouse::output), [`run_ok`](Beaconhouse::run_ok) or
/// [`spawn`](Beaconhouse::spawn). `BEACONHOUSE_CONFIG` is not inherited: only
/// what the test sets counts.
#[derive(Default)]
pub struct Beaconhouse {
    config: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    args: Vec<OsString>,
}

impl Beaconhouse {
    pub fn new() -> Beaconhouse {
        Beaconhouse::default()
    }

    /// `--config PATH`.
    pub fn config(mut self, path: impl AsRef<Path>) -> Beaconhouse {
        self.config = Some(path.as_ref().to_path_buf());
        self
    }

    /// Writes to (and reads from) `database` on `clickhouse`.
    pub fn clickhouse(self, clickhouse: &ClickHouse, database: &str) -> Beaconhouse {
        self.on(&clickhouse.target(), database)
    }

    /// Writes to (and reads from) `database` on a server or a cluster.
    pub fn on(self, target: &Target, database: &str) -> Beaconhouse {
        // Reports answer only with the release step's key; a test that
        // wants another sets its own after this.
        let with_database = self
            .env("BEACONHOUSE_CLICKHOUSE_URL", target.urls.join(","))
            .env("BEACONHOUSE_CLICKHOUSE_DATABASE", database)
            .env("BEACONHOUSE_REPORTING_NOISE_KEY", NOISE_KEY);
        match &target.cluster {
            Some(cluster) => with_database.env("BEACONHOUSE_CLICKHOUSE_CLUSTER", cluster),
            None => with_database,
        }
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Beaconhouse {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn arg(self, arg: impl AsRef<OsStr>) -> Beaconhouse {
        self.args([arg])
    }

    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Beaconhouse {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command.env_remove("BEACONHOUSE_CONFIG");
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        command.args(&self.args).envs(self.env.iter().cloned());
        command
    }

    /// Runs it to its end: (exited successfully, standard output, standard error).
    pub fn output(self) -> (bool, String, String) {
        let output = self
            .command()
            .output()
            .expect("the beaconhouse binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// As [`Beaconhouse::output`]; panics with the command line and standard
    /// error unless it succeeds, and returns standard output.
    pub fn run_ok(self) -> String {
        let command = format!("{:?}", self.command());
        let (ok, stdout, stderr) = self.output();
        assert!(ok, "{command} failed:\n{stderr}");
        stdout
    }

    /// `report ARGS --format json`: the report, parsed; panics unless the
    /// command succeeds.
    pub fn report_json(self, args: &[&str]) -> serde_json::Value {
        let out = self
            .arg("report")
            .args(args)
            .args(["--format", "json"])
            .run_ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }

    /// `email-url --campaign CAMPAIGN --recipient RECIPIENT --url BASE`:
    /// the signed open pixel's URL; panics unless the command succeeds.
    pub fn email_url(self, campaign: &str, recipient: &str, base: &str) -> String {
        self.args(["email-url", "--campaign", campaign])
            .args(["--recipient", recipient, "--url", base])
            .run_ok()
            .trim()
            .to_string()
    }

    /// Starts it, its standard output and error going to a new file `log`.
    pub fn spawn(self, log: &Path) -> Child {
        let log = std::fs::File::create(log).unwrap();
        self.command()
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the beaconhouse binary starts")
    }
}

/// What a command of the binary reads and writes: the endpoints, in the
/// order it tries them, and the cluster they form, if any.
#[derive(Debug, Clone)]
pub struct Target {
    pub urls: Vec<String>,
    pub cluster: Option<String>,
}

impl ClickHouse {
    /// This one server.
    pub fn target(&self) -> Target {
        Target {
            urls: vec![self.url.clone()],
            cluster: None,
        }
    }
}

/// Runs `beaconhouse migrate` against `database`.
/// What `schema_migrations` holds once every migration ran, as
/// `SELECT groupArray(version)` prints it: each version once, in order.
pub fn every_migration() -> String {
    let versions: Vec<String> = beaconhouse::migrate::MIGRATIONS
        .iter()
        .filter(|m| m.version > 0)
        .map(|m| m.version.to_string())
        .collect();
    format!("[{}]", versions.join(","))
}

pub fn migrate(clickhouse: &ClickHouse, database: &str) -> String {
    migrate_on(&clickhouse.target(), database)
}

/// Runs `beaconhouse migrate` against `database` on a server or a cluster.
pub fn migrate_on(target: &Target, database: &str) -> String {
    Beaconhouse::new()
        .on(target, database)
        .env("BEACONHOUSE_SITES", "[{id=\"x\",hostnames=[\"x\"]}]")
        .arg("migrate")
        .run_ok()
}

/// A running collector process with its own config and log file.
pub struct Collector {
    /// The public listener: hits, `/t.js`, the stats API.
    pub base: String,
    /// The admin listener: `/metrics`.
    pub admin: String,
    pub log_path: PathBuf,
    process: Child,
    dir: tempfile::TempDir,
    /// It started on a spool a previous collector left behind.
    replaying: bool,
    /// The endpoint it writes to first.
    clickhouse_url: String,
}

/// The site every collector test configures.
pub const SITE_TOML: &str = r#"
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com", "www.optimumabq.com"]
"#;

impl Collector {
    /// Starts `beaconhouse serve` with `SITE_TOML` plus `extra_toml`, writing to
    /// `database`, with a spool in a new directory, and waits for `/healthz`.
    pub fn start(clickhouse: &ClickHouse, database: &str, extra_toml: &str) -> Collector {
        Collector::start_on(&clickhouse.target(), database, extra_toml)
    }

    /// As [`Collector::start`], in `dir` (whose `spool/` a previous collector may
    /// have left behind).
    pub fn start_in(
        dir: tempfile::TempDir,
        clickhouse: &ClickHouse,
        database: &str,
        extra_toml: &str,
    ) -> Collector {
        Collector::start_in_on(dir, &clickhouse.target(), database, extra_toml)
    }

    /// As [`Collector::start`], on a server or a cluster.
    pub fn start_on(target: &Target, database: &str, extra_toml: &str) -> Collector {
        let dir = tempfile::Builder::new()
            .prefix("beaconhouse-collector-")
            .tempdir()
            .unwrap();
        Collector::start_in_on(dir, target, database, extra_toml)
    }

    fn start_in_on(
        dir: tempfile::TempDir,
        target: &Target,
        database: &str,
        extra_toml: &str,
    ) -> Collector {
        let config = dir.path().join("beaconhouse.toml");
        std::fs::write(&config, format!("{SITE_TOML}\n{extra_toml}")).unwrap();
        let spool = dir.path().join("spool");
        let port = free_port();
        let admin_port = free_port();
        let log_path = dir.path().join(format!("collector-{port}.log"));
        let process = Beaconhouse::new()
            .config(&config)
            .on(target, database)
            .env("BEACONHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "BEACONHOUSE_ADMIN_LISTEN",
                format!("127.0.0.1:{admin_port}"),
            )
            .env("BEACONHOUSE_SPOOL_DIR", &spool)
            .env("BEACONHOUSE_PIPELINE_FLUSH_INTERVAL_MS", "100")
            .env("BEACONHOUSE_HTTP_WORKERS", "2")
            .env("BEACONHOUSE_HTTP_RATE_LIMIT_PER_SECOND", "100000")
            .env("BEACONHOUSE_HTTP_RATE_LIMIT_BURST", "100000")
            .env("RUST_LOG", "trace")
            .arg("serve")
            .spawn(&log_path);
        let mut collector = Collector {
            base: format!("http://127.0.0.1:{port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
            log_path,
            process,
            dir,
            // A directory of its own mounted there (a small disk) is not a
            // spool left behind.
            replaying: spool
                .read_dir()
                .is_ok_and(|mut entries| entries.next().is_some()),
            clickhouse_url: target.urls[0].clone(),
        };
        let healthy = within(COLLECTOR_START, || {
            if let Ok(Some(status)) = collector.process.try_wait() {
                panic!("collector exited with {status}:\n{}", collector.log());
            }
            match http_get(&format!("{}/healthz", collector.base)) {
                Some((200, _)) => Ok(()),
                other => Err(other),
            }
        });
        if healthy.is_err() {
            panic!("collector did not become healthy:\n{}", collector.log());
        }
        collector
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// SIGKILL: a crash. Returns the directory, spool included, for a restart,
    /// once ClickHouse runs no insert the dead process may have begun (so no
    /// row of it can land later).
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let inserts = format!("{}/", self.clickhouse_url);
        eventually(
            "ClickHouse ends the inserts of a killed collector",
            SETTLE,
            || match http_post(&inserts, INSERTS_RUNNING.as_bytes(), &[]) {
                // A server that does not answer runs nothing.
                None => Ok(()),
                Some((200, running)) if running.trim() == "0" => Ok(()),
                Some(other) => Err(other),
            },
        );
        let placeholder = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, placeholder)
    }

    /// SIGTERM and wait, keeping the directory for a restart.
    pub fn stop_keeping_dir(mut self) -> (bool, String, tempfile::TempDir) {
        let (ok, log) = self.terminate();
        let placeholder = tempfile::tempdir().unwrap();
        (ok, log, std::mem::replace(&mut self.dir, placeholder))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// GET with headers; returns status, content type and body bytes.
    pub fn get(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Response {
        request(
            "GET",
            &format!("{}{path_and_query}", self.base),
            &[],
            headers,
        )
    }

    pub fn post(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
        request("POST", &format!("{}{path}", self.base), body, headers)
    }

    /// Its counters now: the one place the tests read `/metrics`.
    pub fn counters(&self) -> Counters {
        let metrics = request("GET", &format!("{}/metrics", self.admin), &[], &[]);
        Counters(String::from_utf8(metrics.body).unwrap())
    }

    /// The value of one Prometheus sample, e.g. `beaconhouse_hits_dropped_total{reason="bot"}`.
    pub fn metric(&self, series: &str) -> u64 {
        self.counters().get(series)
    }

    /// Waits until the collector has accounted for every hit it answered, and
    /// returns its counters then. From then on nothing more of it reaches
    /// ClickHouse, so a test can assert ClickHouse's exact contents.
    ///
    /// A collector that started on an empty spool has done so when every hit
    /// it answered is stored or dropped under one reason:
    /// `received == rows_stored + dropped` (summed over every endpoint and
    /// every reason). One started on a spool a previous collector left also
    /// stores (or drops as damaged) rows it never received, so its counters
    /// cannot balance; it has done so when its spool is empty, the previous
    /// run's segments acknowledged and deleted. That holds only while it has
    /// received no hit of its own (its own segment is never deleted), which is
    /// how the fault tests use it; the counters tell replayed rows from new
    /// ones in no other way.
    pub fn settled(&self) -> Counters {
        eventually(
            "the collector accounts for every hit it answered",
            SETTLE,
            || {
                let counters = self.counters();
                let settled = if self.replaying {
                    assert_eq!(
                        counters.received(),
                        0,
                        "a collector replaying a spool is settled before it receives hits"
                    );
                    counters.spool_bytes() == 0
                } else {
                    counters.received() == counters.stored() + counters.dropped()
                };
                if settled { Ok(counters) } else { Err(counters) }
            },
        )
    }

    /// SIGTERM, then waits; returns whether it exited successfully.
    pub fn stop(mut self) -> (bool, String) {
        self.terminate()
    }

    fn terminate(&mut self) -> (bool, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.process.id().to_string())
            .status();
        match within(COLLECTOR_STOP, || {
            self.process.try_wait().ok().flatten().ok_or(())
        }) {
            Ok(status) => (status.success(), self.log()),
            Err(()) => {
                let _ = self.process.kill();
                let _ = self.process.wait();
                (false, self.log())
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// How many inserts ClickHouse is running, whoever sent them
/// (system.processes has no database column on 18.16). On the shared server
/// that counts other modules' inserts too, which only makes the wait longer:
/// none of them lasts.
const INSERTS_RUNNING: &str =
    "SELECT count() FROM system.processes WHERE query LIKE 'INSERT%' FORMAT TSV";

/// One reading of a collector's `/metrics`.
pub struct Counters(String);

impl Counters {
    /// The whole exposition, as the collector wrote it.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The value of one sample, e.g. `beaconhouse_hits_dropped_total{reason="bot"}`.
    pub fn get(&self, series: &str) -> u64 {
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no series {series} in\n{}", self.0))
    }

    /// The sum of every sample of `name`, whatever its labels.
    fn sum(&self, name: &str) -> u64 {
        let values: Vec<u64> = self
            .0
            .lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|l| l.starts_with(['{', ' ']))
            })
            .map(|line| {
                let value = line.rsplit(' ').next().and_then(|v| v.parse().ok());
                value.unwrap_or_else(|| panic!("not a count: {line}"))
            })
            .collect();
        assert!(
            !values.is_empty(),
            "no series {name} in
{}",
            self.0
        );
        values.iter().sum()
    }

    /// Hits answered, over every endpoint.
    pub fn received(&self) -> u64 {
        self.sum("beaconhouse_hits_received_total")
    }

    /// Rows ClickHouse acknowledged (or already held).
    pub fn stored(&self) -> u64 {
        self.get("beaconhouse_rows_stored_total")
    }

    /// Hits not stored, over every reason.
    pub fn dropped(&self) -> u64 {
        self.sum("beaconhouse_hits_dropped_total")
    }

    /// Hits not stored for `reason`, e.g. `"bot"`.
    pub fn dropped_for(&self, reason: &str) -> u64 {
        self.get(&format!(
            "beaconhouse_hits_dropped_total{{reason=\"{reason}\"}}"
        ))
    }

    pub fn spool_bytes(&self) -> u64 {
        self.get("beaconhouse_spool_bytes")
    }
}

impl Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "received {}, stored {}, dropped {}, spool {} bytes",
            self.received(),
            self.stored(),
            self.dropped(),
            self.spool_bytes()
        )
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client over a raw socket: it lets tests send exactly the
/// bytes a hostile client would (invalid UTF-8, oversized headers) and keeps the
/// harness free of an HTTP client's own normalisation.
pub fn request(method: &str, url: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
    try_request(method, url, body, headers).unwrap_or_else(|| panic!("{method} {url} failed"))
}

pub fn try_request(
    method: &str,
    url: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Option<Response> {
    try_request_from(None, method, url, body, headers)
}

/// As [`try_request`], from the local address `source` when given: a loopback
/// address such as 127.0.0.2 is the client's address as a reverse proxy on
/// this machine sees it (the kernel would otherwise pick 127.0.0.1).
pub fn try_request_from(
    source: Option<IpAddr>,
    method: &str,
    url: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Option<Response> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = match source {
        None => TcpStream::connect(host).ok()?,
        Some(source) => {
            let target: SocketAddr = host.to_socket_addrs().ok()?.next()?;
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(target),
                socket2::Type::STREAM,
                None,
            )
            .ok()?;
            socket.bind(&SocketAddr::new(source, 0).into()).ok()?;
            socket.connect(&target.into()).ok()?;
            socket.into()
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = request_head(
        method,
        path,
        host,
        "Connection: close\r\n",
        body.len(),
        headers,
    );
    // One write, as a browser sends a small request. A server may answer and
    // close before reading the body (a proxy whose upstream is down does), so
    // a failed write still leaves its answer to read, and a reset that comes
    // after the answer keeps what arrived; any other read error is no answer.
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    let _ = stream.write_all(&request);
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => break,
            Err(_) => return None,
        }
    }
    parse_response(&raw)
}

/// A request line and headers, ending in the blank line; `extra` is
/// whole header lines (`Connection: close\r\n`) or nothing.
fn request_head(
    method: &str,
    path: &str,
    host: &str,
    extra: &str,
    body_len: usize,
    headers: &[(&str, &str)],
) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {body_len}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head + "\r\n"
}

/// What a slow client saw: the server's answer, and how long after the
/// request head the server closed the connection (`None`: still open when
/// the 30 s read timeout ran out).
#[derive(Debug)]
pub struct Exchange {
    pub response: Option<Response>,
    pub closed_after: Option<Duration>,
}

/// Sends a request head to `base` (without `Connection: close`), then its
/// `body` one byte every `pace` from another thread, as a slow client does,
/// and reads until the server closes the connection.
pub fn slow_exchange(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    pace: Duration,
) -> Exchange {
    let host = base.strip_prefix("http://").expect("an http:// base URL");
    let mut stream = TcpStream::connect(host).expect("the server accepts a connection");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = request_head(method, path, host, "", body.len(), headers);
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    std::thread::spawn(move || {
        for byte in body {
            // The pace is the client's behaviour under test, not a wait.
            std::thread::sleep(pace);
            if writer.write_all(&[byte]).is_err() {
                return;
            }
        }
    });
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    // A server that closes with bytes of the body still unread resets the
    // connection; that closes it too.
    let closed = match read {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    Exchange {
        response: parse_response(&raw),
        closed_after: closed.then(|| started.elapsed()),
    }
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
}

fn http_get(url: &str) -> Option<(u16, String)> {
    try_request("GET", url, &[], &[])
        .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

fn http_post(url: &str, body: &[u8], headers: &[(&str, &str)]) -> Option<(u16, String)> {
    try_request("POST", url, body, headers)
        .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
