#!/usr/bin/env bash
# The test command (README, "Set up"): installs what the tests need, then runs
# them all. Needs a Rust toolchain and Python 3 with pip; installing
# clickhouse-server, zookeeper, chromium, nodejs, npm, nginx, caddy, systemd,
# docker-compose and openssl (Debian packages) needs root (or sudo).
#
# BEACONHOUSE_TEST_CLICKHOUSE_URL=http://host:8123 uses a running server instead
# of starting one for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -z "${BEACONHOUSE_TEST_CLICKHOUSE_URL:-}" ] \
  && ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then
  echo "==> installing clickhouse-server (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server
fi

if [ ! -f /usr/share/java/zookeeper.jar ] || ! command -v java >/dev/null; then
  echo "==> installing zookeeper and a Java runtime (Debian packages; tests/it/cluster.rs runs a ClickHouse cluster on them)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper default-jre-headless
fi

if ! command -v chromium >/dev/null; then
  echo "==> installing chromium (Debian package; the dashboard's browser tests drive it)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "==> installing nodejs and npm (Debian packages; tests/it/tracker.rs makes /t.js from its source with tools/tracker)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi

# tools/tracker's terser, as package-lock.json pins it: again whenever the
# lock file is newer than what is installed.
if [ tools/tracker/package-lock.json -nt tools/tracker/node_modules/.package-lock.json ]; then
  echo "==> installing tools/tracker's pinned terser (npm ci)"
  npm ci --prefix tools/tracker --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# tests/it/deploy.rs runs the deploy files with the real tools; tests/it/clickhouse_tls.rs
# runs nginx and openssl too.
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v caddy >/dev/null || missing+=(caddy)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (Debian packages; tests/it/deploy.rs runs them)"
  as_root apt-get update -qq
  # nginx's and caddy's packages start their service on ports 80 and 2019
  # where the init system lets them; the tests start their own, so a
  # temporary policy-rc.d keeps those from starting.
  policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
    made_policy=1
  fi
  installed=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || installed=$?
  [ -z "$made_policy" ] || as_root rm -f "$policy"
  [ "$installed" = 0 ] || exit "$installed"
fi

if ! python3 -c "import playwright" 2>/dev/null; then
  # Only the Python driver: the tests point it at /usr/bin/chromium, and
  # nothing downloads a browser.
  echo "==> installing Python Playwright (drives the system chromium)"
  python3 -m pip install --quiet --disable-pip-version-check "playwright==1.65.2"
fi

if ! python3 -c "import chdb" 2>/dev/null; then
  echo "==> installing chdb (a current ClickHouse engine, to check schema/ on it)"
  python3 -m pip install --quiet --disable-pip-version-check chdb
fi

echo "==> schema/, its cluster form and report queries on a current ClickHouse release"
statements=$(mktemp)
rollup_statements=$(mktemp)
audit_statements=$(mktemp)
cluster_statements=$(mktemp)
BEACONHOUSE_TEST_REPORT_SQL_OUT="$statements" BEACONHOUSE_TEST_ROLLUP_SQL_OUT="$rollup_statements" \
  BEACONHOUSE_TEST_AUDIT_SQL_OUT="$audit_statements" BEACONHOUSE_TEST_CLUSTER_SQL_OUT="$cluster_statements" \
  cargo test --locked --quiet --lib -- every_report_statement_is_fully_bound \
  every_rollup_statement_is_fully_bound every_audit_statement_is_fully_bound \
  every_schema_statement_has_a_cluster_form
cat "$rollup_statements" "$audit_statements" >>"$statements"
python3 tests/schema_on_current_clickhouse.py "$statements" "$cluster_statements"
rm -f "$rollup_statements" "$audit_statements" "$cluster_statements"

echo "==> cargo test"
# Doc tests are left out: the crate has none, and their empty "0 passed" line
# would be the last word of the run.
log=$(mktemp)
trap 'rm -f "$log" "$statements"' EXIT
set +e
cargo test --locked --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo "total: $passed passed, $failed failed"
exit "$status"
