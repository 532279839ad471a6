# Shared by the benchmark scripts (sourced, not run): package installs, a work
# directory cleaned up on exit with every process started, free ports, and a
# throw-away ClickHouse.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages of the commands that are missing:
#   install_missing wrk:wrk clickhouse-server:clickhouse-server
install_missing() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts clickhouse-server in the work directory and exports
# BEACONHOUSE_CLICKHOUSE_URL; it stops when this script exits.
start_clickhouse() {
  local http
  http=$(free_port)
  BEACONHOUSE_WATCH_PID=$$ bash deploy/clickhouse-dev.sh "$work/clickhouse" "$http" "$(free_port)" "$(free_port)" >"$work/clickhouse.out" 2>&1 &
  pids+=($!)
  export BEACONHOUSE_CLICKHOUSE_URL="http://127.0.0.1:$http"
}

# `beaconhouse migrate`, once ClickHouse answers (up to 90 s).
migrate_when_up() {
  for _ in $(seq 1 90); do target/release/beaconhouse migrate >/dev/null 2>&1 && return 0; sleep 1; done
  target/release/beaconhouse migrate >/dev/null
}

# ch_query DATABASE SQL: the answer, trimmed.
ch_query() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], data=sys.argv[2].encode(), timeout=3600).read().decode().strip())' "$BEACONHOUSE_CLICKHOUSE_URL/?database=$1" "$2"; }
