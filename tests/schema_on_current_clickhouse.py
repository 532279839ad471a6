#!/usr/bin/env python3
"""Applies every file of schema/ to a current ClickHouse engine (chdb, in-process),
twice (a lone `ALTER TABLE ... DROP COLUMN`, which `migrate`'s ledger runs once,
only the first time), then writes and reads a row of each table the collector writes, and runs
every report, rollup and audit statement listed in the file given as the first
argument (written by the unit tests report::sql::tests::every_report_statement_is_fully_bound,
rollup::sql::tests::every_rollup_statement_is_fully_bound and
store::audit_probe::tests::every_audit_statement_is_fully_bound).
The second argument lists the cluster form of schema/ (written by
migrate::cluster::tests::every_schema_statement_has_a_cluster_form): chdb has no
ZooKeeper, so each statement, and what retention runs on a cluster, is parsed
(EXPLAIN AST) rather than run, and the setting the collectors send on a
cluster must exist.

CI's clickhouse-server is 18.16; operators run current releases. A migration or
a report query that only the old server accepts fails here.
Usage: python3 tests/schema_on_current_clickhouse.py [REPORT_STATEMENTS_FILE [CLUSTER_STATEMENTS_FILE]]
"""
import pathlib
import re
import sys
import tempfile

from chdb import session

SCHEMA = pathlib.Path(__file__).resolve().parent.parent / "schema"


def statements(sql):
    # The same rules as migrate::statements, then migrate::in_released_database:
    # drop `--` comment lines, split at `;`, and create or alter a table the
    # schema names `released.<table>` in the released database.
    kept = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    split = [s.strip() for s in kept.split(";") if s.strip()]
    return [re.sub(r"^(CREATE TABLE IF NOT EXISTS |ALTER TABLE )released\.", r"\1beaconhouse_released.", s) for s in split]


def listed(index, what):
    """The statements, one a line, in the file named by argument `index`: []
    when no such argument is given, None (and a message) when the file lists
    none."""
    if len(sys.argv) <= index:
        return []
    statements = [l for l in pathlib.Path(sys.argv[index]).read_text().splitlines() if l.strip()]
    if not statements:
        print(f"FAIL {sys.argv[index]} lists no {what} statements")
        return None
    return statements


def run_each(db, statements, prefix, what):
    """Runs `prefix` + each statement; prints each failure; returns how many failed."""
    failures = 0
    for statement in statements:
        try:
            db.query(f"{prefix}{statement}", "TSV")
        except Exception as error:  # chdb raises a plain Exception
            failures += 1
            print(f"FAIL {what}: {error}\n  {statement}")
    return failures


def main():
    files = sorted(SCHEMA.glob("*.sql"))
    if not files:
        print("no schema files found", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as path:
        db = session.Session(path)
        version = db.query("SELECT version()", "TSV").bytes().decode().strip()
        db.query("CREATE DATABASE IF NOT EXISTS beaconhouse")
        db.query("CREATE DATABASE IF NOT EXISTS beaconhouse_released")
        db.query("USE beaconhouse")
        failures = 0
        for round_ in ("first", "repeat"):
            for file in files:
                for statement in statements(file.read_text()):
                    if round_ == "repeat" and statement.startswith("ALTER TABLE"):
                        continue
                    try:
                        db.query(statement)
                    except Exception as error:  # chdb raises a plain Exception
                        failures += 1
                        print(f"FAIL {file.name} ({round_} run) on ClickHouse {version}: {error}")
        if failures:
            print(f"0 passed, {failures} failed")
            return 1
        checks = {
            "events": "INSERT INTO events (site, ts, name, visitor_id, path, device) VALUES ('a.com', now(), 'pageview', 1, '/', 'desktop')",
            "email_opens": "INSERT INTO email_opens (campaign, ts, recipient_id, proxied) VALUES ('c', now(), 1, 1)",
            "email_clicks": "INSERT INTO email_clicks (campaign, ts, recipient_id, link_host, link_path, scanner, honeypot, click_id)"
            " VALUES ('c', now(), 1, 'a.com', '/', 0, 0, 7)",
            "visitor_salts": "INSERT INTO visitor_salts VALUES (today(), 'x', now())",
            "recipient_keys": "INSERT INTO recipient_keys VALUES ('x', now())",
            "session_revocations": "INSERT INTO session_revocations (holder, subject, revoked_ms) VALUES ('token', 'm', 1)",
            # Written by the rollup's release step (rollup::ReleasedRow).
            "beaconhouse_released.daily": "INSERT INTO beaconhouse_released.daily VALUES ('a.com', today(), '', '', 9, 12, now())",
        }
        for table, insert in checks.items():
            db.query(insert)
            count = db.query(f"SELECT count() FROM {table}", "TSV").bytes().decode().strip()
            if count != "1":
                print(f"FAIL {table}: expected 1 row, found {count}")
                return 1
        # The statements the collector itself runs on these tables
        # (store/salt_keeper.rs, store/sign_outs.rs, store/retention_job.rs),
        # values bound.
        runtime = [
            "SELECT salt FROM visitor_salts WHERE toUInt16(day) = 20000",
            "SELECT DISTINCT toUInt16(day) FROM visitor_salts",
            "ALTER TABLE visitor_salts DROP PARTITION 19700102",
            "SELECT key FROM recipient_keys",
            "SELECT holder, subject, max(revoked_ms) AS latest_ms FROM session_revocations"
            " WHERE revoked_ms > 0 GROUP BY holder, subject",
        ]
        for table in ("events", "email_opens", "email_clicks", "daily_stats", "daily_filtered"):
            runtime += [
                "SELECT DISTINCT partition_id FROM system.parts WHERE active"
                f" AND database = currentDatabase() AND table = '{table}'",
                f"ALTER TABLE {table} DROP PARTITION 197001",
            ]
        runtime += [
            "SELECT DISTINCT partition_id FROM system.parts WHERE active"
            " AND database = 'beaconhouse_released' AND table = 'daily'",
            "ALTER TABLE beaconhouse_released.daily DROP PARTITION 197001",
        ]
        for statement in runtime:
            db.query(statement)
        print(f"schema: {len(files)} files applied twice on ClickHouse {version}")
        reports = listed(1, "report")
        if reports is None:
            return 1
        failures = run_each(db, reports, "", f"report statement on ClickHouse {version}")
        if failures:
            print(f"{len(reports) - failures} report statements passed, {failures} failed")
            return 1
        print(f"reports: {len(reports)} statements ran on ClickHouse {version}")
        cluster = listed(2, "cluster")
        if cluster is None:
            return 1
        if cluster:
            # What retention runs on a cluster (store/retention_job.rs).
            cluster += [
                "ALTER TABLE beaconhouse.events_local ON CLUSTER analytics DROP PARTITION 197001",
                "SELECT DISTINCT partition_id FROM cluster('analytics', system, parts)"
                " WHERE active AND database = 'beaconhouse' AND table = 'events_local'",
            ]
        failures = run_each(db, cluster, "EXPLAIN AST ", f"cluster statement on ClickHouse {version}")
        if cluster:
            known = db.query("SELECT count() FROM system.settings WHERE name = 'insert_distributed_sync'", "TSV")
            if known.bytes().decode().strip() != "1":
                failures += 1
                print(f"FAIL ClickHouse {version} does not know the setting insert_distributed_sync")
        if failures:
            print(f"{len(cluster) - failures} cluster statements passed, {failures} failed")
            return 1
        if cluster:
            print(f"cluster: {len(cluster)} statements parsed on ClickHouse {version}")
        print(f"{len(files) + len(checks) + len(runtime) + len(reports) + len(cluster)} passed, 0 failed")
        return 0


if __name__ == "__main__":
    sys.exit(main())
