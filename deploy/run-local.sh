#!/usr/bin/env bash
# The run command (README, "Set up"): runs the collector on this machine.
#
# Without BEACONHOUSE_CLICKHOUSE_URL it installs Debian's clickhouse-server if
# missing and starts one on 127.0.0.1:8123 with its data in .local/clickhouse.
# Then it builds the release binary, applies schema/ and serves with
# deploy/beaconhouse.example.toml (or the file in BEACONHOUSE_CONFIG).
set -euo pipefail
cd "$(dirname "$0")/.."
export BEACONHOUSE_CONFIG=${BEACONHOUSE_CONFIG:-deploy/beaconhouse.example.toml}
export BEACONHOUSE_SPOOL_DIR=${BEACONHOUSE_SPOOL_DIR:-$PWD/.local/spool}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

echo "==> building beaconhouse (release)"
cargo build --release --locked
bin=target/release/beaconhouse
"$bin" check-config

if [ -z "${BEACONHOUSE_CLICKHOUSE_URL:-}" ]; then
  export BEACONHOUSE_CLICKHOUSE_URL=http://127.0.0.1:8123
  if ! "$bin" migrate >/dev/null 2>&1; then
    if ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then
      echo "==> installing clickhouse-server (Debian package)"
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server
    fi
    mkdir -p .local
    echo "==> starting ClickHouse on 127.0.0.1:8123 (data in .local/clickhouse, log in .local/clickhouse.log)"
    nohup bash deploy/clickhouse-dev.sh "$PWD/.local/clickhouse" 8123 9000 9009 \
      >.local/clickhouse.log 2>&1 &
  fi
fi

echo "==> applying schema/"
for attempt in $(seq 1 60); do
  # ClickHouse takes a few seconds to start: only the last attempt's error is shown.
  if [ "$attempt" -lt 60 ]; then
    "$bin" migrate 2>/dev/null && break
  else
    "$bin" migrate && break
    echo "ClickHouse at $BEACONHOUSE_CLICKHOUSE_URL did not come up; see .local/clickhouse.log" >&2
    exit 1
  fi
  sleep 1
done

echo "==> serving; stop with Ctrl-C"
exec "$bin" serve
