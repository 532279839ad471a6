//! Reports past `reporting.max_concurrent`, on the real binary and the
//! shared clickhouse-server: they wait their turn instead of failing, two
//! callers take turns, a report that cannot start within
//! `reporting.queue_timeout_ms` is a 503 with `Retry-After`, and a caller
//! that hangs up frees its slot and its query leaves ClickHouse.
//!
//! Reports here are slow on purpose: `events` is a view that sleeps on each
//! row of a table whose rows are parts of their own (merges stopped), so
//! each statement reading it takes rows × the sleep, whatever the machine.
//! The hits are today's, which the daily rollup never holds: every report
//! reads `events`.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{self, Collector, eventually};

const TOKEN_A: &str = "admission-token-a-0123456789abcdef012345";
const TOKEN_B: &str = "admission-token-b-0123456789abcdef012345";

const READERS_TOML: &str = r#"
[[reporting.tokens]]
name = "a"
token = "admission-token-a-0123456789abcdef012345"
sites = ["*"]
campaigns = ["*"]
[[reporting.tokens]]
name = "b"
token = "admission-token-b-0123456789abcdef012345"
sites = ["*"]
campaigns = ["*"]
"#;

/// A database whose `events` sleeps `seconds` on each of its `rows` hits
/// of today.
fn slow_database(rows: u32, seconds: f64) -> String {
    let clickhouse = common::clickhouse();
    let database = clickhouse.fresh_database("admission");
    common::migrate(clickhouse, &database);
    clickhouse.query(&database, "RENAME TABLE events TO events_data");
    clickhouse.query(&database, "SYSTEM STOP MERGES events_data");
    for visitor in 0..rows {
        clickhouse.query(
            &database,
            &format!(
                "INSERT INTO events_data (site, ts, name, visitor_id, path) \
                 VALUES ('optimumabq.com', now(), 'pageview', {visitor}, '/')"
            ),
        );
    }
    clickhouse.query(
        &database,
        &format!(
            "CREATE VIEW events AS SELECT * FROM events_data WHERE sleepEachRow({seconds}) = 0"
        ),
    );
    database
}

fn collector(database: &str, reporting: &str) -> Collector {
    Collector::start(
        common::clickhouse(),
        database,
        &format!("[reporting]\n{reporting}\n{READERS_TOML}"),
    )
}

/// Today's breakdown by `by`, as the ClickHouse server's clock says.
fn breakdown(by: &str) -> String {
    let today = common::clickhouse()
        .query("system", "SELECT toString(toDate(now(), 'UTC'))")
        .trim()
        .to_string();
    format!("/api/v1/stats/breakdown?site=optimumabq.com&from={today}&to={today}&tz=UTC&by={by}")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The error of a JSON refusal.
fn error_of(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    value["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn reports_past_the_limit_wait_and_two_callers_take_turns() {
    // Each report takes about a second (its statements read events several
    // times); two run at once.
    let database = slow_database(1, 0.2);
    let c = collector(
        &database,
        "max_concurrent = 2\nqueue_timeout_ms = 10000\nquery_timeout_ms = 30000",
    );
    let asks = [
        ("a", TOKEN_A, "path"),
        ("a", TOKEN_A, "referrer_host"),
        ("a", TOKEN_A, "utm_source"),
        ("a", TOKEN_A, "country"),
        ("a", TOKEN_A, "browser"),
        ("a", TOKEN_A, "os"),
        ("b", TOKEN_B, "path"),
        ("b", TOKEN_B, "device"),
    ];
    let started = Instant::now();
    let answers: Vec<(String, u16, Duration)> = std::thread::scope(|scope| {
        let asked: Vec<_> = asks
            .iter()
            .map(|&(caller, token, by)| {
                let c = &c;
                let handle = scope.spawn(move || {
                    let answer = c.get(&breakdown(by), &[("Authorization", &bearer(token))]);
                    (format!("{caller}:{by}"), answer.status, started.elapsed())
                });
                // They reach the queue in this order.
                std::thread::sleep(Duration::from_millis(100));
                handle
            })
            .collect();
        asked.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (ask, status, took) in &answers {
        assert_eq!(*status, 200, "{ask} after {took:?}: {answers:?}");
        assert!(*took < Duration::from_secs(10), "{ask}: {answers:?}");
    }
    let at = |ask: &str| answers.iter().find(|a| a.0 == ask).unwrap().2;
    // b:path is a:path, asked while a:path runs: answered with it. Then the
    // queue: a:utm_source, a:country, a:browser, a:os, b:device; when
    // a:path and a:referrer_host end, a's turn (a:utm_source), then b's
    // (b:device); in a queue without turns, b:device would go last.
    assert!(at("b:path") < at("a:utm_source"), "{answers:?}");
    assert!(at("b:device") < at("a:country"), "{answers:?}");
}

#[test]
fn a_report_that_cannot_start_within_the_queue_timeout_is_a_503_with_retry_after() {
    // The one slot is held three seconds.
    let database = slow_database(1, 3.0);
    let c = collector(
        &database,
        "max_concurrent = 1\nqueue_timeout_ms = 500\nquery_timeout_ms = 30000",
    );
    let token = bearer(TOKEN_A);
    std::thread::scope(|scope| {
        let holds = scope.spawn(|| c.get(&breakdown("path"), &[("Authorization", &token)]));
        std::thread::sleep(Duration::from_millis(300));
        let asked = Instant::now();
        let refused = c.get(
            &breakdown("country"),
            &[("Authorization", &bearer(TOKEN_B))],
        );
        let waited = asked.elapsed();
        assert_eq!(
            refused.status,
            503,
            "{}",
            String::from_utf8_lossy(&refused.body)
        );
        assert_eq!(refused.header("retry-after"), Some("1"));
        assert!(
            error_of(&refused.body).contains("`reporting.queue_timeout_ms`"),
            "{}",
            String::from_utf8_lossy(&refused.body)
        );
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_millis(2500),
            "{waited:?}"
        );
        assert_eq!(holds.join().unwrap().status, 200);
    });
}

/// The ids of the report queries by city running longer than a second
/// (no other test asks for a slow one).
fn slow_city_queries() -> Vec<String> {
    common::clickhouse()
        .query(
            "system",
            "SELECT query_id FROM system.processes \
             WHERE query_id LIKE 'beaconhouse-%' AND elapsed > 1 AND query LIKE '%city%'",
        )
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_caller_that_hangs_up_frees_its_slot_and_its_query_is_killed() {
    // Each statement reading events would take 30 s.
    let database = slow_database(60, 0.5);
    let c = collector(
        &database,
        "max_concurrent = 1\nqueue_timeout_ms = 500\nquery_timeout_ms = 60000",
    );
    let host = c.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\r\n",
        breakdown("city"),
        bearer(TOKEN_A)
    )
    .unwrap();
    let running = eventually(
        "the report's queries run in ClickHouse",
        Duration::from_secs(10),
        || {
            let ids = slow_city_queries();
            if ids.is_empty() { Err(ids) } else { Ok(ids) }
        },
    );
    drop(stream);
    let gone = common::within(Duration::from_secs(5), || {
        let still: Vec<String> = slow_city_queries()
            .into_iter()
            .filter(|id| running.contains(id))
            .collect();
        if still.is_empty() { Ok(()) } else { Err(still) }
    });
    if let Err(still) = gone {
        panic!(
            "the hung-up report's queries still run in ClickHouse: {still:?}\n{}",
            c.log()
        );
    }
    // Its slot is free: the one slot takes another report at once.
    let campaigns = c.get(
        "/api/v1/stats/campaigns?from=2026-11-01&to=2026-11-01&tz=UTC",
        &[("Authorization", &bearer(TOKEN_B))],
    );
    assert_eq!(
        campaigns.status,
        200,
        "{}",
        String::from_utf8_lossy(&campaigns.body)
    );
}
