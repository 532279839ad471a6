//! What staff SQL can read, tried as a curious staff member would: the
//! rollup releases each ended day to `<database>_released.daily` through the
//! release step, and the staff user of `deploy/clickhouse-staff-user.xml`
//! (as shipped, but for its password and database) reads that and nothing
//! of the raw database: not the events, the opens, the salts or the exact
//! rollups, neither directly nor through a subquery or a table function.
//! On a server of this module's own, since it adds a user to `users.d`.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::common::{self, Beaconhouse, ClickHouse, NOISE_KEY, staff};
use beaconhouse::release::{Cell, Mechanism, NoiseKey};

const VIEWS_CAP: u64 = 10;
/// 2026-11-01, a day that has ended.
const DAY: u16 = 20_758;

fn clickhouse() -> &'static ClickHouse {
    static OWN: OnceLock<ClickHouse> = OnceLock::new();
    OWN.get_or_init(ClickHouse::start)
}

/// One page view (or custom event, for a `name`) of one visitor.
struct Hit {
    visitor: u64,
    path: &'static str,
    name: &'static str,
}

/// 40 visitors of `/`, one of whom views it 30 times (past the cap); 12 of
/// `/pricing`; one of `/that-page`; 8 who book a tour.
fn hits() -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut view = |visitor, path, name, times| {
        for _ in 0..times {
            hits.push(Hit {
                visitor,
                path,
                name,
            });
        }
    };
    for visitor in 1..=40 {
        view(visitor, "/", "pageview", if visitor == 1 { 30 } else { 2 });
    }
    for visitor in 101..=112 {
        view(visitor, "/pricing", "pageview", 1);
    }
    view(201, "/that-page", "pageview", 1);
    for visitor in 1..=8 {
        view(visitor, "/", "book_tour", 1);
    }
    hits
}

fn insert(database: &str, hits: &[Hit]) {
    let rows: Vec<String> = hits
        .iter()
        .map(|h| {
            format!(
                "('optimumabq.com', '2026-11-01 15:00:00', '{}', {}, '{}', 'desktop')",
                h.name, h.visitor, h.path
            )
        })
        .collect();
    clickhouse().query(
        database,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES {}",
            rows.join(", ")
        ),
    );
}

/// Exact (visitors, capped page views or events) per `(dimension, value)`
/// of the cells this test checks: the path ones, the total and the names.
fn exact(hits: &[Hit]) -> HashMap<(&'static str, &'static str), (u64, u64)> {
    let mut per_visitor: HashMap<(&str, &str, u64), u64> = HashMap::new();
    for hit in hits {
        let cells: Vec<(&str, &str)> = if hit.name == "pageview" {
            vec![("path", hit.path), ("", "")]
        } else {
            vec![("name", hit.name)]
        };
        for (dimension, value) in cells {
            *per_visitor
                .entry((dimension, value, hit.visitor))
                .or_default() += 1;
        }
    }
    let mut cells: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
    for ((dimension, value, _), views) in per_visitor {
        let cell = cells.entry((dimension, value)).or_default();
        cell.0 += 1;
        cell.1 += views.min(VIEWS_CAP);
    }
    cells
}

/// What the release step makes of `exact`, cell by cell: `None` withheld.
fn released(
    exact: &HashMap<(&'static str, &'static str), (u64, u64)>,
) -> HashMap<(String, String), Option<(u64, u64)>> {
    let mechanism = Mechanism::new(NoiseKey::new(NOISE_KEY), 1.0, 5);
    exact
        .iter()
        .map(|(&(dimension, value), &(visitors, pageviews))| {
            let cell = |metric| {
                Cell::whole_day(
                    beaconhouse::rollup::DAILY_CELLS,
                    "optimumabq.com",
                    DAY,
                    dimension,
                    value,
                    metric,
                )
            };
            let visitors = mechanism.release(&cell("visitors"), visitors, 1);
            let pageviews = mechanism.release(&cell("pageviews"), pageviews, VIEWS_CAP);
            let shown = (visitors >= mechanism.threshold()).then_some((visitors, pageviews));
            ((dimension.to_string(), value.to_string()), shown)
        })
        .collect()
}

/// The rows of `released.daily` of the checked cells, as the default user
/// reads them.
fn stored(released_database: &str) -> HashMap<(String, String), Option<(u64, u64)>> {
    let text = clickhouse().query(
        released_database,
        "SELECT dimension, value, visitors, pageviews FROM daily FINAL WHERE dimension IN ('path', '', 'name') FORMAT TSV",
    );
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (
                (f[0].to_string(), f[1].to_string()),
                Some((f[2].parse().unwrap(), f[3].parse().unwrap())),
            )
        })
        .collect()
}

/// The expected cells that have a row, as [`stored`] lists them.
fn shown(
    expected: HashMap<(String, String), Option<(u64, u64)>>,
) -> HashMap<(String, String), Option<(u64, u64)>> {
    expected.into_iter().filter(|(_, v)| v.is_some()).collect()
}

#[test]
fn each_day_is_released_with_its_cells_noise_and_again_only_when_it_changes() {
    let ch = clickhouse();
    let database = ch.fresh_database("release");
    common::migrate(ch, &database);
    let released_database = format!("{database}_released");
    let mut all = hits();
    insert(&database, &all);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "{}\n[reporting]\nnoise_key = \"{NOISE_KEY}\"\nmax_views_per_visitor_day = {VIEWS_CAP}\n",
            common::SITE_TOML
        ),
    )
    .unwrap();
    let rollup = || {
        Beaconhouse::new()
            .config(config.path())
            .clickhouse(ch, &database)
            .arg("rollup")
            .run_ok()
    };
    assert_eq!(
        rollup(),
        format!("rolled up 1 day(s)\nreleased 1 day(s) to {released_database}.daily\n")
    );
    let expected = released(&exact(&all));
    assert_eq!(stored(&released_database), shown(expected.clone()));
    let below_threshold = ch.number(
        &released_database,
        &format!(
            "SELECT count() FROM daily FINAL WHERE visitors < {}",
            Mechanism::new(NoiseKey::new(NOISE_KEY), 1.0, 5).threshold()
        ),
    );
    assert_eq!(below_threshold, 0, "no released row is under the threshold");

    assert_eq!(
        rollup(),
        format!("rolled up 0 day(s)\nreleased 0 day(s) to {released_database}.daily\n")
    );
    // A late hit: the day is released again; every other cell keeps its
    // figures (same exact count, same noise), the changed one follows.
    let late = [Hit {
        visitor: 202,
        path: "/that-page",
        name: "pageview",
    }];
    insert(&database, &late);
    all.extend(late);
    assert_eq!(
        rollup(),
        format!("rolled up 1 day(s)\nreleased 1 day(s) to {released_database}.daily\n")
    );
    let again = released(&exact(&all));
    for (cell, figures) in &expected {
        if cell.1 != "/that-page" && !cell.0.is_empty() {
            assert_eq!(again[cell], *figures, "{cell:?} kept its noise");
        }
    }
    assert_eq!(stored(&released_database), shown(again.clone()));

    // A day released before the ledger recorded the noise derivation (as
    // an install upgraded to schema 0011 has): released again, with the
    // reports' noise.
    ch.query(
        &database,
        "INSERT INTO released_days (day, events, computed_at) SELECT day, events, now() + 1 FROM released_days FINAL",
    );
    assert_eq!(
        rollup(),
        format!("rolled up 0 day(s)\nreleased 1 day(s) to {released_database}.daily\n")
    );
    assert_eq!(stored(&released_database), shown(again));
}

#[test]
fn staff_sql_reads_the_released_database_and_nothing_raw() {
    let ch = clickhouse();
    let database = ch.fresh_database("staff");
    common::migrate(ch, &database);
    let released_database = format!("{database}_released");
    insert(&database, &hits());
    ch.query(
        &database,
        "INSERT INTO email_opens (campaign, ts, recipient_id, proxied) VALUES ('c', '2026-11-01 10:00:00', 7, 0)",
    );
    Beaconhouse::new()
        .clickhouse(ch, &database)
        .env(
            "BEACONHOUSE_SITES",
            "[{id=\"optimumabq.com\",hostnames=[\"optimumabq.com\"]}]",
        )
        .env("BEACONHOUSE_REPORTING_NOISE_KEY", NOISE_KEY)
        .arg("rollup")
        .run_ok();
    // A salt, as a collector would have stored one.
    ch.query(
        &database,
        "INSERT INTO visitor_salts VALUES (today(), 'a-salt', now())",
    );

    assert_ne!(
        staff::add(ch, &released_database),
        0,
        "staff read the released figures"
    );
    staff::assert_refused_everything_raw(ch, &database, &released_database);
}
