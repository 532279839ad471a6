//! The staff SQL user of `deploy/clickhouse-staff-user.xml`, as shipped but
//! for its password and database, on a server (or every node) this harness
//! started, and what a curious staff member tries with it.

use super::{ClickHouse, SERVER_START, eventually};

pub const USER: &str = "reporting";
pub const PASSWORD: &str = "staff password for the tests";

/// Adds the staff user, limited to `released_database`, to `clickhouse`'s
/// `users.d`, and waits until it can read `released_database.daily`;
/// returns that table's row count as staff read it.
pub fn add(clickhouse: &ClickHouse, released_database: &str) -> u64 {
    let rendered = super::shipped_users_file(
        "clickhouse-staff-user.xml",
        PASSWORD,
        &[(
            "<database>beaconhouse_released</database>",
            &format!("<database>{released_database}</database>"),
        )],
    );
    clickhouse.add_users("beaconhouse-staff.xml", &rendered);
    let rows = eventually(
        "clickhouse-server loads the staff user from users.d",
        SERVER_START,
        || match clickhouse.try_query_as(
            USER,
            PASSWORD,
            released_database,
            "SELECT count() FROM daily FINAL",
        ) {
            Some((200, body)) => Ok(body),
            other => Err(other),
        },
    );
    rows.trim().parse().unwrap()
}

/// Asserts that staff are refused, for who they are (not for how the query
/// is written), every way into the raw `database` that a curious staff
/// member would try from `released_database`: its tables directly, a
/// subquery, table functions that connect as another user, writing, and
/// lifting read-only.
pub fn assert_refused_everything_raw(
    clickhouse: &ClickHouse,
    database: &str,
    released_database: &str,
) {
    let tcp = clickhouse.tcp_port();
    let mut attempts: Vec<String> = [
        "events",
        "email_opens",
        "email_clicks",
        "visitor_salts",
        "recipient_keys",
        "daily_stats",
        "daily_filtered",
        "daily_stats_days",
        "released_days",
    ]
    .iter()
    .map(|table| format!("SELECT * FROM {database}.{table} LIMIT 1"))
    .collect();
    attempts.extend([
        format!(
            "SELECT count() FROM {released_database}.daily WHERE value IN (SELECT path FROM {database}.events)"
        ),
        format!("SELECT count() FROM remote('127.0.0.1:{tcp}', {database}.events)"),
        format!("SELECT count() FROM remote('127.0.0.1:{tcp}', {database}.events, 'default', '')"),
        "SELECT * FROM url('http://127.0.0.1:1/', TSV, 'x String')".to_string(),
        format!(
            "INSERT INTO {released_database}.daily (site, day, dimension, value, visitors, pageviews, computed_at) VALUES ('x', today(), '', '', 1, 1, now())"
        ),
        "SET readonly = 0".to_string(),
    ]);
    for sql in &attempts {
        for db in [released_database, database] {
            let answer = clickhouse.try_query_as(USER, PASSWORD, db, sql);
            let refused = |(status, body): &(u16, String)| {
                *status != 200
                    && (body.contains("Access denied") || body.contains("in readonly mode"))
            };
            assert!(
                answer.as_ref().is_some_and(refused),
                "as staff, in {db}: {sql}\nanswered {answer:?}"
            );
        }
    }
}
