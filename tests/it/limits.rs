//! The collector's bounds against careless or hostile callers, on the real
//! binary and a real clickhouse-server: reports read as a read-only user of
//! their own and carry ClickHouse limits; query strings with too many or
//! repeated parameters are refused; a slow body is cut off at
//! `http.request_timeout_ms` and an idle connection at `http.keep_alive_ms`;
//! a client that keeps failing to sign in is slowed.
//!
//! These tests start a clickhouse-server of their own, not the shared one,
//! whatever `BEACONHOUSE_TEST_CLICKHOUSE_URL` says: a test adds a user to its
//! `users.d`.

use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{self, ClickHouse, Collector, enc, eventually};
use serde_json::Value;

const TOKEN: &str = "limits-token-0123456789abcdef0123456789ab";

const READER_TOML: &str = r#"
[[reporting.tokens]]
name = "staff"
token = "limits-token-0123456789abcdef0123456789ab"
sites = ["*"]
campaigns = ["*"]
"#;

/// This module's own clickhouse-server.
fn clickhouse() -> &'static ClickHouse {
    static OWN: OnceLock<ClickHouse> = OnceLock::new();
    OWN.get_or_init(ClickHouse::start)
}

/// A new database with the schema applied.
fn database() -> String {
    let database = clickhouse().fresh_database("limits");
    common::migrate(clickhouse(), &database);
    database
}

/// A collector that writes to a database of its own.
fn collector(extra_toml: &str) -> Collector {
    collector_on(&database(), extra_toml)
}

/// A collector on `database`, with `extra_toml` and a stats token.
fn collector_on(database: &str, extra_toml: &str) -> Collector {
    Collector::start(
        clickhouse(),
        database,
        &format!("{extra_toml}\n{READER_TOML}"),
    )
}

fn bearer() -> (&'static str, String) {
    ("Authorization", format!("Bearer {TOKEN}"))
}

/// A page view of /pricing, with `extra` appended to its query string;
/// asserts that it is answered with the GIF.
fn pixel(c: &Collector, extra: &str) {
    let url = enc("https://optimumabq.com/pricing");
    let answer = c.get(
        &format!("/p.gif?site=optimumabq.com&url={url}{extra}"),
        &[("User-Agent", common::FIREFOX)],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("image/gif"));
}

/// The `error` of a JSON refusal.
fn error_of(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    value["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn too_many_or_repeated_parameters_are_refused_by_the_stats_api_and_pixels_still_answer() {
    let c = collector("");
    let (name, value) = bearer();
    let auth = [(name, value.as_str())];
    let period = "site=optimumabq.com&from=2026-11-01&to=2026-11-30";
    let ok = c.get(&format!("/api/v1/stats/summary?{period}"), &auth);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));

    // 33 parameters: before, the 33rd and later were dropped without a word.
    let padding: String = (0..30).map(|i| format!("&x{i}=1")).collect();
    for prefix in ["/api/v1/stats", "/dashboard/api/stats"] {
        let over = c.get(&format!("{prefix}/summary?{period}{padding}"), &auth);
        assert_eq!(over.status, 400, "{prefix}");
        assert_eq!(
            error_of(&over.body),
            "the query string has more than 32 parameters; a report takes each of its parameters once (`filter` up to 3 times)"
        );
        let repeated = c.get(
            &format!("{prefix}/summary?{period}&site=elsewhere.example"),
            &auth,
        );
        assert_eq!(repeated.status, 400, "{prefix}");
        assert_eq!(
            error_of(&repeated.body),
            "`site` is given more than once; give it once"
        );
    }

    // A pixel with as many parameters still answers its GIF.
    pixel(&c, &format!("{padding}{padding}"));
    c.settled();
}

const REPORTS_USER: &str = "beaconhouse_reports";
const REPORTS_PASSWORD: &str = "reports-password-0123456789";

/// One query ClickHouse logged, with the settings it ran with.
#[derive(Debug, serde::Deserialize)]
struct Logged {
    query: String,
    readonly: String,
    max_execution_time: String,
    max_memory_usage: String,
}

#[test]
fn reports_read_as_their_own_read_only_user_and_carry_their_limits() {
    let clickhouse = clickhouse();
    let database = database();
    // deploy/clickhouse-reports-user.xml as shipped, but for the password's
    // hash and the database; and its queries logged, for this test to read.
    let rendered = common::shipped_users_file(
        "clickhouse-reports-user.xml",
        REPORTS_PASSWORD,
        &[
            (
                "<database>beaconhouse</database>",
                &format!("<database>{database}</database>"),
            ),
            (
                "<readonly>2</readonly>",
                "<readonly>2</readonly><log_queries>1</log_queries>",
            ),
        ],
    );
    clickhouse.add_users("beaconhouse-reports.xml", &rendered);
    let as_reports =
        |sql: &str| clickhouse.try_query_as(REPORTS_USER, REPORTS_PASSWORD, &database, sql);
    eventually(
        "clickhouse-server loads the reports user from users.d",
        common::SERVER_START,
        || match as_reports("SELECT 1") {
            Some((200, _)) => Ok(()),
            other => Err(other),
        },
    );
    let write =
        "INSERT INTO daily_stats_days (day, events, computed_at) VALUES ('2026-11-01', 1, now())";
    let refused = as_reports(write);
    assert!(
        refused
            .as_ref()
            .is_some_and(|(status, body)| *status != 200 && body.contains("readonly mode")),
        "{refused:?}"
    );

    let c = collector_on(
        &database,
        &format!(
            "[reporting]\nclickhouse_user = \"{REPORTS_USER}\"\nclickhouse_password = \"{REPORTS_PASSWORD}\"\nquery_timeout_ms = 2500\nmax_memory_bytes = 123456789\n"
        ),
    );
    // Hits are stored as clickhouse.user, as before.
    pixel(&c, "");
    c.settled();
    assert_eq!(
        clickhouse.number(&database, "SELECT count() FROM events"),
        1
    );

    let (name, value) = bearer();
    let period = "from=2026-11-01&to=2026-11-01&tz=UTC";
    for report in [
        format!("summary?site=optimumabq.com&{period}"),
        format!("timeseries?site=optimumabq.com&{period}&interval=hour"),
        format!("breakdown?site=optimumabq.com&{period}&by=path"),
        format!("email?campaign=nov&{period}"),
        format!("campaigns?{period}"),
    ] {
        let answer = c.get(
            &format!("/api/v1/stats/{report}"),
            &[(name, value.as_str())],
        );
        assert_eq!(
            answer.status,
            200,
            "{report}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    clickhouse.query(&database, "SYSTEM FLUSH LOGS");
    let log = clickhouse.query(
        &database,
        &format!(
            "SELECT query, Settings.Values[indexOf(Settings.Names, 'readonly')] AS readonly, \
             Settings.Values[indexOf(Settings.Names, 'max_execution_time')] AS max_execution_time, \
             Settings.Values[indexOf(Settings.Names, 'max_memory_usage')] AS max_memory_usage \
             FROM system.query_log WHERE user = '{REPORTS_USER}' AND type = 1 \
             AND query != 'SELECT 1' AND query NOT LIKE 'INSERT%' FORMAT JSONEachRow"
        ),
    );
    let logged: Vec<Logged> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        logged
            .iter()
            .any(|q| q.query.contains("FROM daily_stats_days")),
        "the reports ran as {REPORTS_USER}: {logged:#?}"
    );
    for query in &logged {
        assert!(query.query.starts_with("SELECT "), "{query:?}");
        // 2500 ms, rounded up to whole seconds as ClickHouse 18.16 reads them.
        assert_eq!(
            (
                query.readonly.as_str(),
                query.max_execution_time.as_str(),
                query.max_memory_usage.as_str()
            ),
            ("2", "3", "123456789"),
            "{}",
            query.query
        );
    }
}

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_off_at_the_request_timeout() {
    let c = collector("[http]\nrequest_timeout_ms = 1000\n");
    let event = br#"{"site":"optimumabq.com","url":"https://optimumabq.com/","name":"pageview"}"#;
    let pace = Duration::from_millis(200);
    // Every byte comes well within the timeout; the whole body would take
    // 15 s.
    let sent = common::slow_exchange(
        &c.base,
        "POST",
        "/api/event",
        &[("Content-Type", "text/plain")],
        event,
        pace,
    );
    let response = sent.response.expect("an answer");
    assert_eq!(response.status, 408);
    assert_eq!(
        error_of(&response.body),
        "the request body did not arrive within 1000 ms (`http.request_timeout_ms`); send the request at once"
    );
    assert_eq!(response.header("connection"), Some("close"));
    let closed_after = sent
        .closed_after
        .expect("the collector closes the connection");
    assert!(
        closed_after < pace * event.len() as u32 / 2,
        "closed after {closed_after:?}"
    );
    // Answered and counted as not stored, like any unreadable beacon.
    let counters = c.settled();
    assert_eq!(
        (counters.received(), counters.dropped_for("invalid")),
        (1, 1)
    );

    // The dashboard's sign-in reads its body the same way.
    let sign_in = common::slow_exchange(
        &c.base,
        "POST",
        "/dashboard/session",
        &[("Content-Type", "application/json")],
        format!(r#"{{"token": "{TOKEN}"}}"#).as_bytes(),
        pace,
    );
    assert_eq!(sign_in.response.as_ref().map(|r| r.status), Some(408));
    assert!(sign_in.closed_after.is_some(), "{sign_in:?}");
}

#[test]
fn an_idle_connection_is_closed_after_the_keep_alive() {
    // actix's timers are coarse: the two cases are told apart by a margin.
    let half_a_second = Duration::from_millis(500);
    for keep_alive_ms in [0, 1000] {
        let c = collector(&format!("[http]\nkeep_alive_ms = {keep_alive_ms}\n"));
        let idle = common::slow_exchange(&c.base, "GET", "/healthz", &[], &[], Duration::ZERO);
        assert_eq!(idle.response.map(|r| r.status), Some(200));
        let closed_after = idle
            .closed_after
            .expect("the collector closes an idle connection");
        let expected = if keep_alive_ms == 0 {
            Duration::ZERO..half_a_second
        } else {
            half_a_second..Duration::from_secs(10)
        };
        assert!(
            expected.contains(&closed_after),
            "keep_alive_ms {keep_alive_ms}: closed after {closed_after:?}"
        );
    }
}

#[test]
fn a_client_that_keeps_guessing_tokens_is_slowed_and_its_guesses_go_unchecked() {
    let c = collector("[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n");
    let summary = "/api/v1/stats/summary?site=optimumabq.com&from=2026-11-01&to=2026-11-01";
    let guess = |token: &str, client: &str| {
        let authorization = format!("Bearer {token}");
        c.get(
            summary,
            &[
                ("Authorization", &authorization),
                ("X-Forwarded-For", client),
            ],
        )
    };
    let (guesser, colleague) = ("203.0.113.7", "203.0.113.8");
    for i in 0..10 {
        let wrong = guess(
            &format!("guess-{i}-0123456789abcdef0123456789abcdef"),
            guesser,
        );
        assert_eq!(wrong.status, 401, "guess {i}");
    }
    // Blocked: even the right token is refused, unchecked, with when to
    // come back.
    for token in ["guess-10-0123456789abcdef0123456789abcdef", TOKEN] {
        let refused = guess(token, guesser);
        assert_eq!(refused.status, 429);
        let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=30).contains(&retry_after), "{retry_after}");
        assert!(
            error_of(&refused.body)
                .starts_with("too many failed sign-ins from this address; try again in "),
            "{}",
            error_of(&refused.body)
        );
    }
    // So is a dashboard sign-in from the same client.
    let sign_in = c.post(
        "/dashboard/session",
        format!(r#"{{"token": "{TOKEN}"}}"#).as_bytes(),
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", guesser),
        ],
    );
    assert_eq!(sign_in.status, 429);
    assert_eq!(sign_in.header("set-cookie"), None);
    // Another client behind the same proxy is not slowed.
    assert_eq!(guess(TOKEN, colleague).status, 200);
    let counters = c.counters();
    assert_eq!(
        counters.get("beaconhouse_stats_auth_failures_total{reason=\"rejected\"}"),
        10
    );
    assert_eq!(
        counters.get("beaconhouse_stats_auth_failures_total{reason=\"throttled\"}"),
        3
    );
}
