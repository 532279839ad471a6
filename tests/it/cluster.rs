//! beaconhouse on a real ClickHouse cluster (`common::cluster`): ZooKeeper
//! and three clickhouse-server nodes in two shards, the first of two
//! replicas (nodes 0 and 1), the second of one (node 2). `migrate` creates
//! the cluster form of `schema/`; collectors, reports and salts run through
//! the `Distributed` and replicated tables.
//!
//! The tests share the cluster and take turns (one kills a node); each has
//! its own database. They wait on facts: a collector's counters, every node
//! answering the same.

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crate::common::cluster::{self, Cluster, REPLICA_CATCH_UP};
use crate::common::{self, Beaconhouse, CHROME, Collector, FIREFOX, eventually, known_hits};

/// The cluster, for one test at a time, with every node running.
fn cluster() -> MutexGuard<'static, Cluster> {
    static CLUSTER: OnceLock<Mutex<Cluster>> = OnceLock::new();
    let mut cluster = CLUSTER
        .get_or_init(|| {
            let started = Instant::now();
            let cluster = Cluster::start();
            eprintln!(
                "cluster: ZooKeeper and 3 ClickHouse nodes ready in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Mutex::new(cluster)
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cluster.restore();
    cluster
}

/// A new database, migrated on the cluster through node 0.
fn migrated(cluster: &Cluster, prefix: &str) -> String {
    let db = cluster.nodes[0].fresh_database(prefix);
    common::migrate_on(&cluster.target(&[0, 1, 2]), &db);
    db
}

const PROXY: &str = "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";

/// A page view of `/hit/{marker}` from a client address of its own (so
/// visitors, and with them rows, spread over both shards).
fn hit(collector: &Collector, marker: usize) {
    let url = common::enc(&format!("https://optimumabq.com/hit/{marker}"));
    let address = format!(
        "10.{}.{}.{}",
        marker / 65536 % 256,
        marker / 256 % 256,
        marker % 256
    );
    let response = collector.get(
        &format!("/p.gif?site=optimumabq.com&url={url}"),
        &[("User-Agent", CHROME), ("X-Forwarded-For", &address)],
    );
    assert_eq!(response.status, 200);
}

/// What `beaconhouse rollup` prints when it rolled up `days` day(s) of `db`
/// and, a noise key being set, released them to staff SQL.
fn rolled_up_and_released(days: usize, db: &str) -> String {
    format!("rolled up {days} day(s)\nreleased {days} day(s) to {db}_released.daily\n")
}

/// `SELECT count(), uniqExact(path) FROM table` on node `i`.
fn count_and_paths(cluster: &Cluster, i: usize, db: &str, table: &str) -> (u64, u64) {
    let answer = cluster.nodes[i].query(
        db,
        &format!("SELECT count(), uniqExact(path) FROM {table} FORMAT TSV"),
    );
    let (count, paths) = answer.trim().split_once('\t').unwrap();
    (count.parse().unwrap(), paths.parse().unwrap())
}

#[test]
fn the_example_node_configs_are_what_the_harness_runs() {
    let layout = cluster::example_layout();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/cluster");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("cluster.xml"), cluster::shared_config(&layout));
    assert_eq!(
        read("node-ch1.xml"),
        cluster::node_config(0, &layout.shards[0][0])
    );
}

#[test]
fn migrate_on_the_cluster_twice_applies_once_and_records_once() {
    let cluster = cluster();
    let db = cluster.nodes[0].fresh_database("migrate");
    let started = Instant::now();
    let first = common::migrate_on(&cluster.target(&[0, 1, 2]), &db);
    let took = started.elapsed();
    assert!(first.contains("applied 0005_no_titles.sql"), "{first}");
    // Through another node first: it reads the ledger node 0 recorded.
    let second = common::migrate_on(&cluster.target(&[2, 1, 0]), &db);
    assert_eq!(second.trim(), "schema is up to date");
    eprintln!(
        "migrate on the cluster: {:.1} s the first time; the second: {}",
        took.as_secs_f64(),
        second.trim()
    );

    let tables = format!(
        "SELECT arrayStringConcat(groupArray(concat(name, ':', engine)), ' ') FROM (SELECT name, engine FROM system.tables WHERE database = '{db}' ORDER BY name) FORMAT TSV"
    );
    cluster.everywhere(
        "every node has every table",
        &db,
        &tables,
        "daily_filtered:Distributed daily_filtered_local:ReplicatedReplacingMergeTree \
         daily_funnels:Distributed daily_funnels_local:ReplicatedReplacingMergeTree \
         daily_goals:Distributed daily_goals_local:ReplicatedReplacingMergeTree \
         daily_stats:Distributed daily_stats_days:Distributed \
         daily_stats_days_local:ReplicatedReplacingMergeTree \
         daily_stats_local:ReplicatedReplacingMergeTree email_clicks:Distributed \
         email_clicks_local:ReplicatedMergeTree email_opens:Distributed \
         email_opens_local:ReplicatedMergeTree events:Distributed \
         events_local:ReplicatedMergeTree filtered_hits:Distributed \
         filtered_hits_local:ReplicatedSummingMergeTree local_days:Distributed \
         local_days_local:ReplicatedReplacingMergeTree local_funnels:Distributed \
         local_funnels_local:ReplicatedReplacingMergeTree local_goals:Distributed \
         local_goals_local:ReplicatedReplacingMergeTree local_stats:Distributed \
         local_stats_local:ReplicatedReplacingMergeTree recipient_keys:ReplicatedMergeTree \
         released_days:Distributed released_days_local:ReplicatedReplacingMergeTree \
         schema_migrations:ReplicatedMergeTree \
         session_revocations:ReplicatedReplacingMergeTree visitor_salts:ReplicatedMergeTree",
    );
    cluster.everywhere(
        "every node holds the ledger, each migration once",
        &db,
        "SELECT groupArray(version) FROM (SELECT version FROM schema_migrations ORDER BY version) FORMAT TSV",
        &common::every_migration(),
    );
    cluster.everywhere(
        "0005 dropped `title` from the local and the distributed table",
        &db,
        &format!(
            "SELECT count() FROM system.columns WHERE database = '{db}' AND name = 'title' FORMAT TSV"
        ),
        "0",
    );
    cluster.everywhere(
        "0011 added `noise_derivation` to the local and the distributed ledger",
        &db,
        &format!(
            "SELECT count() FROM system.columns WHERE database = '{db}' AND name = 'noise_derivation' FORMAT TSV"
        ),
        "2",
    );
}

#[test]
fn collectors_on_different_nodes_give_a_visitor_the_same_id() {
    let cluster = cluster();
    let db = migrated(&cluster, "salts");
    let first = Collector::start_on(&cluster.target(&[0]), &db, PROXY);
    // The first collector's salts reach node 2 by replication.
    cluster.everywhere(
        "the first collector's salts (today's, tomorrow's, the recipient key) are on every node",
        &db,
        "SELECT (SELECT count() FROM visitor_salts), (SELECT count() FROM recipient_keys) FORMAT TSV",
        "2\t1",
    );
    let second = Collector::start_on(&cluster.target(&[2]), &db, PROXY);
    let headers = [("User-Agent", FIREFOX), ("X-Forwarded-For", "198.51.100.7")];
    for collector in [&first, &second] {
        let view = collector.get(
            &format!(
                "/p.gif?site=optimumabq.com&url={}",
                common::enc("https://optimumabq.com/")
            ),
            &headers,
        );
        assert_eq!(view.status, 200);
        let open = collector.get("/o.gif?c=nov-newsletter&rid=token-1", &headers);
        assert_eq!(open.status, 200);
        collector.settled();
    }
    let ids = "SELECT (SELECT concat(toString(count()), ' ', toString(uniqExact(visitor_id))) FROM events), \
               (SELECT concat(toString(count()), ' ', toString(uniqExact(recipient_id))) FROM email_opens) FORMAT TSV";
    cluster.everywhere(
        "two rows of one visitor and two opens of one recipient, read from any node",
        &db,
        ids,
        "2 1\t2 1",
    );
    let salts =
        "SELECT groupArray(salt) FROM (SELECT salt FROM visitor_salts ORDER BY day) FORMAT TSV";
    let on_node_0 = cluster.nodes[0].query(&db, salts);
    cluster.everywhere(
        "every node holds the same salts",
        &db,
        salts,
        on_node_0.trim(),
    );
    for collector in [first, second] {
        let (clean_exit, log) = collector.stop();
        assert!(clean_exit, "{log}");
    }
}

#[test]
fn an_expired_salt_is_gone_from_every_node() {
    let cluster = cluster();
    let db = migrated(&cluster, "expiry");
    let today = beaconhouse::clock::day_of(beaconhouse::clock::now_unix());
    let expired = today - 3;
    cluster.nodes[2].query(
        &db,
        &format!(
            "INSERT INTO visitor_salts VALUES (toDate({expired}), '{}', now())",
            "b".repeat(64)
        ),
    );
    let old_salt =
        format!("SELECT count() FROM visitor_salts WHERE toUInt16(day) = {expired} FORMAT TSV");
    cluster.everywhere("the old salt reached every node", &db, &old_salt, "1");
    // A collector rotates the salts when it starts, through node 1: a
    // replica that may not lead the table (18.16 hands the drop to the leader).
    let collector = Collector::start_on(&cluster.target(&[1]), &db, PROXY);
    cluster.everywhere(
        "the expired salt is gone from every node",
        &db,
        &old_salt,
        "0",
    );
    cluster.everywhere(
        "today's and tomorrow's salts are on every node",
        &db,
        "SELECT groupArray(d) FROM (SELECT DISTINCT toUInt16(day) - toUInt16(today()) AS d FROM visitor_salts ORDER BY d) FORMAT TSV",
        "[0,1]",
    );
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
}

/// The report the test prints, as read through the cluster.
const BY_PATH: &str = "breakdown --by path --site optimumabq.com --from 2026-11-01 --to 2026-11-02";

/// Reports (command lines) compared between a single server and the
/// cluster, before and after the rollup.
const REPORTS: &[&str] = &[
    "summary --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --tz America/Denver",
    "summary --site optimumabq.com --from 2026-11-01 --to 2026-11-02",
    "summary --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --filter device==desktop",
    "timeseries --interval day --site optimumabq.com --from 2026-10-31 --to 2026-11-03 --tz America/Denver",
    "timeseries --interval hour --site optimumabq.com --from 2026-11-01 --to 2026-11-01",
    "timeseries --interval week --site optimumabq.com --from 2026-10-20 --to 2026-11-10 --tz America/Los_Angeles",
    "breakdown --by path --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --tz America/Denver",
    BY_PATH,
    "breakdown --by entry_page --site optimumabq.com --from 2026-11-01 --to 2026-11-02",
    "breakdown --by entry_page --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --filter path~pri",
    "breakdown --by device --site optimumabq.com --from 2026-10-31 --to 2026-11-03 --tz America/Denver",
    "timeseries --interval month --site optimumabq.com --from 2026-10-01 --to 2026-11-30",
    "timeseries --interval day --site optimumabq.com --from 2026-10-31 --to 2026-11-03 --tz Asia/Kolkata",
    "breakdown --by referrer_host --site optimumabq.com --from 2026-11-01 --to 2026-11-02",
    "breakdown --by browser --site optimumabq.com --from 2026-11-01 --to 2026-11-02 --filter country==US",
    "breakdown --by name --site optimumabq.com --from 2026-11-01 --to 2026-11-02",
    "email --campaign nov-newsletter --from 2026-11-01 --to 2026-11-02",
    "campaigns --from 2026-11-01 --to 2026-11-30",
];

#[test]
fn reports_through_the_cluster_equal_a_single_servers() {
    let cluster = cluster();
    let single = common::clickhouse();
    let single_db = single.fresh_database("single");
    common::migrate(single, &single_db);
    let cluster_db = migrated(&cluster, "reports");
    for insert in known_hits::inserts() {
        single.query(&single_db, &insert);
        cluster.insert(0, &cluster_db, &insert);
    }
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!("{}\n[reporting]\nmin_group_size = 2\n", common::SITE_TOML),
    )
    .unwrap();
    let on_single = || {
        Beaconhouse::new()
            .config(config.path())
            .clickhouse(single, &single_db)
    };
    // Through node 1: a replica of the first shard reading both.
    let on_cluster = || {
        Beaconhouse::new()
            .config(config.path())
            .on(&cluster.target(&[1, 0, 2]), &cluster_db)
    };
    let compare = |stage: &str| {
        for report in REPORTS {
            let args: Vec<&str> = report.split_whitespace().collect();
            let expected = on_single().report_json(&args);
            let got = on_cluster().report_json(&args);
            assert_eq!(got, expected, "{stage}: {report}");
        }
    };
    compare("before the rollup");
    for (rollup, db) in [(on_single(), &single_db), (on_cluster(), &cluster_db)] {
        assert_eq!(rollup.arg("rollup").run_ok(), rolled_up_and_released(2, db));
    }
    compare("after the rollup");

    // A late hit changes Nov 1: the day is computed again, and its new rows
    // replace the old ones on the shard that holds that day.
    let late = "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES ('optimumabq.com', '2026-11-01 20:00:00', 'pageview', 42, '/late', 'desktop')";
    single.query(&single_db, late);
    cluster.insert(2, &cluster_db, late);
    for (rollup, db) in [(on_single(), &single_db), (on_cluster(), &cluster_db)] {
        assert_eq!(rollup.arg("rollup").run_ok(), rolled_up_and_released(1, db));
    }
    compare("after a day was rolled up again");
    let totals_of_nov_1 = cluster.nodes[0].number(
        &cluster_db,
        "SELECT count() FROM daily_stats FINAL WHERE site = 'optimumabq.com' AND day = '2026-11-01' AND dimension = ''",
    );
    assert_eq!(
        totals_of_nov_1, 1,
        "the day's second computation replaced its first"
    );

    let [on_one_server, through_the_cluster] = [on_single(), on_cluster()].map(|command| {
        command
            .arg("report")
            .args(BY_PATH.split_whitespace())
            .run_ok()
    });
    assert_eq!(through_the_cluster, on_one_server);
    eprintln!(
        "{} reports equal on a single server and on the cluster, before and after the rollup; \
         `report {BY_PATH}` on one server:\n{on_one_server}and through the cluster:\n{through_the_cluster}",
        REPORTS.len()
    );

    // Every statement shape the reports and the rollup run, on every node.
    let statements: Vec<String> = beaconhouse::report::sql::statement_shapes()
        .into_iter()
        .chain(beaconhouse::rollup::sql::statement_shapes())
        .map(|statement| statement.bound_text())
        .collect();
    assert!(
        statements.len() > 200,
        "{} statement shapes",
        statements.len()
    );
    for (i, node) in cluster.nodes.iter().enumerate() {
        for statement in &statements {
            let answer = node.try_query(&cluster_db, statement);
            assert!(
                matches!(answer, Some((200, _))),
                "node {i}: {answer:?}\n{statement}"
            );
        }
    }
    eprintln!(
        "{} report and rollup statement shapes ran on each of the 3 nodes",
        statements.len()
    );
}

#[test]
fn a_replica_killed_mid_load_loses_and_duplicates_nothing_and_catches_up() {
    let mut cluster = cluster();
    let db = migrated(&cluster, "kill");
    // Node 1 first: the node this test kills.
    let collector = Collector::start_on(&cluster.target(&[1, 0, 2]), &db, PROXY);
    const N: usize = 3000;
    let mut killed_at = None;
    for marker in 0..N {
        if marker == N / 3 {
            cluster.nodes[1].stop();
            killed_at = Some(Instant::now());
        }
        hit(&collector, marker);
    }
    let counters = collector.settled();
    let delivered_after = killed_at.unwrap().elapsed();
    assert_eq!(counters.stored(), N as u64, "{counters:?}");
    assert!(
        collector.metric("beaconhouse_batch_failures_total") > 0,
        "the dead node was felt"
    );
    // With node 1 down, reports still answer through the next endpoint.
    let today =
        beaconhouse::clock::yyyymmdd(beaconhouse::clock::day_of(beaconhouse::clock::now_unix()));
    let today = format!(
        "{}-{:02}-{:02}",
        today / 10000,
        today / 100 % 100,
        today % 100
    );
    let summary = Beaconhouse::new()
        .config(collector.dir().join("beaconhouse.toml"))
        .on(&cluster.target(&[1, 0]), &db)
        .report_json(&[
            "summary",
            "--site",
            "optimumabq.com",
            "--from",
            &today,
            "--to",
            &today,
        ]);
    assert!(
        summary["current"]["pageviews"].as_u64().is_some(),
        "{summary}"
    );

    cluster.nodes[1].resume();
    let returned = Instant::now();
    let n = N as u64;
    eventually(
        "every row once, read from every node, and node 1 holds what node 0 holds",
        REPLICA_CATCH_UP,
        || {
            let seen = [
                count_and_paths(&cluster, 0, &db, "events"),
                count_and_paths(&cluster, 1, &db, "events"),
                count_and_paths(&cluster, 2, &db, "events"),
                count_and_paths(&cluster, 0, &db, "events_local"),
                count_and_paths(&cluster, 1, &db, "events_local"),
            ];
            let whole = seen[..3].iter().all(|&c| c == (n, n));
            if whole && seen[3] == seen[4] {
                Ok(())
            } else {
                Err(seen)
            }
        },
    );
    cluster.sync_replicas(&db, "events_local");
    assert_eq!(count_and_paths(&cluster, 0, &db, "events"), (n, n));
    let (shard_1, _) = count_and_paths(&cluster, 0, &db, "events_local");
    let (shard_2, _) = count_and_paths(&cluster, 2, &db, "events_local");
    eprintln!(
        "killed a replica after {} of {N} hits: all delivered {:.1} s after the kill through another node; \
         {shard_1} rows on shard 1 and {shard_2} on shard 2, none lost or twice; the replica caught up {:.1} s after it returned",
        N / 3,
        delivered_after.as_secs_f64(),
        returned.elapsed().as_secs_f64()
    );
    assert_eq!(shard_1 + shard_2, n);
    let (clean_exit, log) = collector.stop();
    assert!(clean_exit, "{log}");
}

#[test]
fn retention_drops_an_expired_month_from_every_shard_and_replica() {
    let cluster = cluster();
    let db = migrated(&cluster, "retention");
    for months_ago in [30, 3] {
        cluster.insert(
            0,
            &db,
            &format!(
                "INSERT INTO events (site, ts, name, visitor_id, path, device) SELECT 'optimumabq.com', addMonths(now(), -{months_ago}), 'pageview', number, '/', 'desktop' FROM numbers(20)"
            ),
        );
    }
    let expired_here =
        "SELECT count() > 0 FROM events_local WHERE ts < addMonths(now(), -12) FORMAT TSV";
    cluster.everywhere(
        "every node holds rows of the expired month",
        &db,
        expired_here,
        "1",
    );
    // Through node 1, which need not lead the tables it drops from.
    let out = Beaconhouse::new()
        .on(&cluster.target(&[1]), &db)
        .env("BEACONHOUSE_SITES", "[{id=\"x\",hostnames=[\"x\"]}]")
        .env("BEACONHOUSE_RETENTION_EVENTS_DAYS", "365")
        .arg("retention")
        .run_ok();
    assert!(out.contains("events (365 days"), "{out}");
    cluster.everywhere(
        "the expired month is gone from every node",
        &db,
        expired_here,
        "0",
    );
    cluster.everywhere(
        "the kept month stays whole, read from any node",
        &db,
        "SELECT count() FROM events FORMAT TSV",
        "20",
    );
    eprintln!("retention on the cluster: {}", out.trim());
}

/// ClickHouse's own insert deduplication, measured: what it catches, and
/// what is left to the shipper's `event_id` check.
#[test]
fn the_engine_deduplicates_a_retried_block_only_when_it_is_the_same_block() {
    let cluster = cluster();
    let db = migrated(&cluster, "dedup");
    let rows = |n: u64| -> String {
        let rows: Vec<String> = (1..=n)
            .map(|i| format!("('optimumabq.com', '2026-11-01 12:00:00', 'pageview', {i}, '/{i}', 'desktop', {i})"))
            .collect();
        format!(
            "INSERT INTO {{table}} (site, ts, name, visitor_id, path, device, event_id) VALUES {}",
            rows.join(", ")
        )
    };
    // Every row any insert stored, once each replica holds what its shard holds.
    let stored = || {
        cluster.sync_replicas(&db, "events_local");
        cluster.nodes[0].number(&db, "SELECT count() FROM events")
    };

    // The same block through `events` (sharded by visitor_id), through
    // every node: stored once.
    let block = rows(40).replace("{table}", "events");
    for node in 0..3 {
        cluster.insert(node, &db, &block);
    }
    assert_eq!(stored(), 40, "a retried identical block is stored once");

    // A batch cut differently (a replay after a restart starts anew from
    // the ledger): a different block, stored again.
    cluster.insert(1, &db, &rows(45).replace("{table}", "events"));
    assert_eq!(stored(), 85, "a differently cut batch is not deduplicated");

    // A random sharding key splits the same block differently each time.
    cluster.nodes[0].query(
        &db,
        &format!(
            "CREATE TABLE events_random ON CLUSTER {} AS {db}.events_local ENGINE = Distributed({}, {db}, events_local, rand())",
            cluster::NAME,
            cluster::NAME
        ),
    );
    cluster.everywhere(
        "events_random exists on every node",
        &db,
        "EXISTS TABLE events_random FORMAT TSV",
        "1",
    );
    let random_block = rows(40).replace("{table}", "events_random");
    cluster.insert(0, &db, &random_block);
    cluster.insert(0, &db, &random_block);
    let (before, after) = (85, stored());
    eprintln!(
        "deduplication: an identical block sent through 3 nodes was stored once (40 rows); \
         a batch of 45 overlapping it added 45; the same 40 rows sent twice with a random sharding key added {}",
        after - before
    );
    assert!(
        after - before > 40,
        "rand() defeats deduplication: {}",
        after - before
    );
}

#[test]
fn staff_on_every_node_read_the_released_day_and_nothing_raw() {
    let cluster = cluster();
    let db = migrated(&cluster, "staff");
    let released = format!("{db}_released");
    let rows: Vec<String> = (0..60)
        .map(|visitor| {
            format!(
                "('optimumabq.com', '2026-11-01 12:00:00', 'pageview', {visitor}, '/page/{}', 'desktop')",
                visitor % 3
            )
        })
        .collect();
    cluster.insert(
        0,
        &db,
        &format!(
            "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES {}",
            rows.join(", ")
        ),
    );
    let out = Beaconhouse::new()
        .on(&cluster.target(&[0, 1, 2]), &db)
        .env(
            "BEACONHOUSE_SITES",
            "[{id=\"optimumabq.com\",hostnames=[\"optimumabq.com\"]}]",
        )
        .env(
            "BEACONHOUSE_REPORTING_NOISE_KEY",
            "a-noise-key-for-the-cluster-tests-0123456789",
        )
        .arg("rollup")
        .run_ok();
    assert_eq!(out, rolled_up_and_released(1, &db));
    // The released day is whole on every node (replicated, no shards): each
    // node's staff read the same rows, from that node alone.
    let as_default = |i: usize| {
        cluster.nodes[i].query(
            &released,
            "SELECT dimension, value, visitors, pageviews FROM daily FINAL ORDER BY dimension, value FORMAT TSV",
        )
    };
    let on_node_0 = as_default(0);
    assert!(on_node_0.contains("path\t/page/0\t"), "{on_node_0}");
    for i in 0..3 {
        eventually(
            &format!("node {i} holds the released day"),
            REPLICA_CATCH_UP,
            || (as_default(i) == on_node_0).then_some(()).ok_or(i),
        );
        let staff_rows = common::staff::add(&cluster.nodes[i], &released);
        assert_eq!(staff_rows as usize, on_node_0.lines().count(), "node {i}");
        common::staff::assert_refused_everything_raw(&cluster.nodes[i], &db, &released);
    }
}
