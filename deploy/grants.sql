-- Two read-only users: `reporting`, for plain SQL on what staff may read
-- (README, "Tables (for SQL)": the released database, nothing else), and
-- `beaconhouse_reports`, the collector's own reports
-- (`reporting.clickhouse_user`). Neither may read visitor_salts or
-- recipient_keys, with which visitor and recipient ids become recomputable.
--
-- For ClickHouse 20.5 and later (SQL-driven access control). First replace the
-- hash below with the SHA-256 of the user's password
--   (printf '%s' "$PASSWORD" | sha256sum)
-- and `beaconhouse` with your clickhouse.database (in `beaconhouse.` and
-- `beaconhouse_released.`), then run it as a user with
-- access management (deploy/compose.yaml's user has it):
--   clickhouse-client -u ADMIN --password ... --multiquery < deploy/grants.sql
-- Unchanged, CREATE USER fails: the placeholder is not a hash. On a cluster,
-- add `ON CLUSTER name` after each role, grant and user name, or keep users in
-- replicated access storage.
--
-- ClickHouse 18.16 (Debian bookworm's clickhouse-server) has no SQL users and
-- cannot limit a user to some tables of a database: users.xml grants whole
-- databases (<allow_databases>). That is why staff's tables have a database
-- of their own: deploy/clickhouse-staff-user.xml gives staff that one. The
-- collector's reports user there is deploy/clickhouse-reports-user.xml,
-- which can write nothing but reads the whole raw database.
--
-- tests/it/deploy.rs parses every statement with a current ClickHouse (chdb).

-- Staff: the released database only (noisy, thresholded daily figures the
-- rollup writes), nothing of the raw database.
CREATE ROLE IF NOT EXISTS beaconhouse_reporting;
-- Installations that ran an earlier grants.sql gave staff the raw tables:
-- take them back (revoking what was never granted does nothing).
REVOKE SELECT ON beaconhouse.events FROM beaconhouse_reporting;
REVOKE SELECT ON beaconhouse.email_opens FROM beaconhouse_reporting;
REVOKE SELECT ON beaconhouse.daily_stats FROM beaconhouse_reporting;
REVOKE SELECT ON beaconhouse.daily_filtered FROM beaconhouse_reporting;
GRANT SELECT ON beaconhouse_released.* TO beaconhouse_reporting;

CREATE USER IF NOT EXISTS reporting
    IDENTIFIED WITH sha256_hash BY 'replace-with-the-sha256-of-the-password';
-- Granted roles are the user's default roles.
GRANT beaconhouse_reporting TO reporting;

-- The collector's reports (the stats API, the dashboard, `beaconhouse
-- report`) read the raw tables, the rollups and which days the rollup
-- holds (every table a report statement names: tests/it/deploy.rs checks),
-- never the salts; the rollup, which writes daily_stats,
-- daily_filtered and the released tables, keeps clickhouse.user. Set
-- reporting.clickhouse_user = "beaconhouse_reports" and
-- reporting.clickhouse_password to its password: it is the collector's, not
-- a staff member's. Every report query also carries readonly = 2,
-- max_execution_time and max_memory_usage (reporting.query_timeout_ms,
-- reporting.max_memory_bytes).
CREATE ROLE IF NOT EXISTS beaconhouse_report_reader;
-- Earlier grants.sql gave it the staff role, which no longer reads these.
REVOKE beaconhouse_reporting FROM beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.events TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.email_opens TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.email_clicks TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.daily_stats TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.daily_filtered TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.daily_stats_days TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.daily_goals TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.daily_funnels TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.filtered_hits TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.local_stats TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.local_goals TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.local_funnels TO beaconhouse_report_reader;
GRANT SELECT ON beaconhouse.local_days TO beaconhouse_report_reader;

CREATE USER IF NOT EXISTS beaconhouse_reports
    IDENTIFIED WITH sha256_hash BY 'replace-with-the-sha256-of-the-password';
GRANT beaconhouse_report_reader TO beaconhouse_reports;
