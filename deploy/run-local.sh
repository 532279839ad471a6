#!/usr/bin/env bash
# The run command (README, "Set up"): runs the collector on this machine.
#
# Without BEACONHOUSE_CLICKHOUSE_URL it installs Debian's clickhouse-server if
# missing and starts one on 127.0.0.1:8123 with its data in .local/clickhouse.
# Then it builds the release binary, applies schema/ and serves with
# .local/beaconhouse.toml: deploy/beaconhouse.example.toml plus a dashboard
# token, a share key, a session key and a noise key made on the first run and kept in
# .local/ (or with the file in BEACONHOUSE_CONFIG, as it is).
#
# Without a GeoIP database (BEACONHOUSE_GEOIP_DATABASE) it sets geoip.database
# to one in .local/: a .mmdb already there, else DB-IP's free IP to Country
# Lite (CC BY 4.0), fetched by deploy/fetch-geoip.sh when the network allows;
# without one, locations stay empty and it says so. BEACONHOUSE_FETCH_GEOIP=0
# fetches nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export BEACONHOUSE_SPOOL_DIR=${BEACONHOUSE_SPOOL_DIR:-$PWD/.local/spool}
# Read here only: the collector takes BEACONHOUSE_* variables as configuration
# and would refuse this one as an unknown key.
fetch_geoip=${BEACONHOUSE_FETCH_GEOIP:-1}
unset BEACONHOUSE_FETCH_GEOIP

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
secret() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

mkdir -p .local
chmod 700 .local
if [ -z "${BEACONHOUSE_CONFIG:-}" ]; then
  umask 077
  [ -s .local/dashboard-token ] || secret >.local/dashboard-token
  [ -s .local/share-key ] || secret >.local/share-key
  [ -s .local/session-key ] || secret >.local/session-key
  [ -s .local/noise-key ] || secret >.local/noise-key
  umask 022
  geoip_database=""
  if [ -z "${BEACONHOUSE_GEOIP_DATABASE:-}" ]; then
    # Never fails the run: without a database, locations stay empty.
    geoip_database=$(BEACONHOUSE_FETCH_GEOIP=$fetch_geoip bash deploy/fetch-geoip.sh .local) || geoip_database=""
  fi
  umask 077
  {
    if [ -n "$geoip_database" ]; then
      sed "/^\[geoip\]\$/a database = \"$geoip_database\"   # added by deploy/run-local.sh" \
        deploy/beaconhouse.example.toml
    else
      cat deploy/beaconhouse.example.toml
    fi
    echo
    echo "# Added by deploy/run-local.sh: the local secrets, kept in .local/."
    echo "share_key = \"$(cat .local/share-key)\""
    echo "session_key = \"$(cat .local/session-key)\""
    echo "noise_key = \"$(cat .local/noise-key)\""
    echo
    echo "[[reporting.tokens]]"
    echo "name = \"local\""
    echo "token = \"$(cat .local/dashboard-token)\""
    echo "sites = [\"*\"]"
    echo "campaigns = [\"*\"]"
  } >.local/beaconhouse.toml
  umask 022
  export BEACONHOUSE_CONFIG=$PWD/.local/beaconhouse.toml
  dashboard_hint="sign in with the token in .local/dashboard-token"
else
  dashboard_hint="sign in with a token from [[reporting.tokens]] in $BEACONHOUSE_CONFIG"
fi

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

listen=${BEACONHOUSE_LISTEN:-127.0.0.1:8080}
echo "==> serving on $listen; stop with Ctrl-C"
echo "==> dashboard: http://$listen/dashboard ($dashboard_hint)"
exec "$bin" serve
