-- Two read-only users: `reporting`, for plain SQL on what staff may read
-- (README, "Tables"), and `beaconhouse_reports`, the collector's own reports
-- (`reporting.clickhouse_user`). Neither may read visitor_salts or
-- recipient_keys, with which visitor and recipient ids become recomputable.
--
-- For ClickHouse 20.5 and later (SQL-driven access control). First replace the
-- hash below with the SHA-256 of the user's password
--   (printf '%s' "$PASSWORD" | sha256sum)
-- and `beaconhouse.` with your clickhouse.database, then run it as a user with
-- access management (deploy/compose.yaml's user has it):
--   clickhouse-client -u ADMIN --password ... --multiquery < deploy/grants.sql
-- Unchanged, CREATE USER fails: the placeholder is not a hash. On a cluster,
-- add `ON CLUSTER name` after each role, grant and user name, or keep users in
-- replicated access storage.
--
-- ClickHouse 18.16 (Debian bookworm's clickhouse-server) has no SQL users and
-- cannot limit a user to some tables of a database: users.xml grants whole
-- databases (<allow_databases>); its per-table row filters came later (18.16
-- ignores them: the salts stay readable); a view in another database needs
-- the user to have the first one; a Distributed table over it runs the user's
-- IN subqueries with the cluster's credentials, so they read the salts. All
-- checked on 18.16.1. There, give staff the stats API, the dashboard or
-- `beaconhouse report`, and SQL to nobody who may not see the salts; the
-- collector's reports user is deploy/clickhouse-reports-user.xml, which can
-- write nothing but reads the whole database.
--
-- tests/it/deploy.rs parses every statement with a current ClickHouse (chdb).

CREATE ROLE IF NOT EXISTS beaconhouse_reporting;
GRANT SELECT ON beaconhouse.events TO beaconhouse_reporting;
GRANT SELECT ON beaconhouse.email_opens TO beaconhouse_reporting;
GRANT SELECT ON beaconhouse.daily_stats TO beaconhouse_reporting;
-- Aggregates like daily_stats (no visitor id), per filter value.
GRANT SELECT ON beaconhouse.daily_filtered TO beaconhouse_reporting;

CREATE USER IF NOT EXISTS reporting
    IDENTIFIED WITH sha256_hash BY 'replace-with-the-sha256-of-the-password';
-- Granted roles are the user's default roles.
GRANT beaconhouse_reporting TO reporting;

-- The collector's reports (the stats API, the dashboard, `beaconhouse
-- report`) read these five tables and nothing else; the rollup, which writes
-- daily_stats and daily_filtered, keeps clickhouse.user. Set reporting.clickhouse_user =
-- "beaconhouse_reports" and reporting.clickhouse_password to its password.
-- Every report query also carries readonly = 2, max_execution_time and
-- max_memory_usage (reporting.query_timeout_ms, reporting.max_memory_bytes).
-- What staff may read, and which days the rollup holds.
CREATE ROLE IF NOT EXISTS beaconhouse_report_reader;
GRANT beaconhouse_reporting TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.daily_stats_days TO beaconhouse_report_reader;

CREATE USER IF NOT EXISTS beaconhouse_reports
    IDENTIFIED WITH sha256_hash BY 'replace-with-the-sha256-of-the-password';
GRANT beaconhouse_report_reader TO beaconhouse_reports;
