#!/usr/bin/env bash
# Load benchmark: the collector against a bare actix-web GIF server, same run,
# same machine, same wrk script. Prints a Markdown table.
#
#   bash benches/load.sh
#
# Knobs (environment): DURATION (s, default 15), CONNECTIONS (32), THREADS (1),
# WORKERS (collector and baseline HTTP workers, 1). Needs wrk and Debian's
# clickhouse-server (installed if missing, as root or with sudo) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}

. benches/common.sh
install_missing wrk:wrk clickhouse-server:clickhouse-server

http_get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
metric() { http_get "$collector/metrics" | awk -v m="$1" 'index($0, m" ") == 1 { print $2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "==> building (release)" >&2
cargo build --release --locked --bin beaconhouse --example bare_gif >&2

echo "==> starting ClickHouse" >&2
start_clickhouse
export BEACONHOUSE_CLICKHOUSE_DATABASE=bench
export BEACONHOUSE_CONFIG=deploy/beaconhouse.example.toml
export BEACONHOUSE_SPOOL_DIR="$work/spool"
export BEACONHOUSE_HTTP_TRUSTED_PROXIES='["127.0.0.1/32"]'
export BEACONHOUSE_HTTP_RATE_LIMIT_PER_SECOND=1000000
export BEACONHOUSE_HTTP_RATE_LIMIT_BURST=1000000
export BEACONHOUSE_HTTP_WORKERS=$WORKERS
export RUST_LOG=warn
migrate_when_up

port=$(free_port)
BEACONHOUSE_LISTEN="127.0.0.1:$port" target/release/beaconhouse serve 2>"$work/collector.log" &
collector_pid=$!
pids+=($collector_pid)
collector="http://127.0.0.1:$port"
base_port=$(free_port)
target/release/examples/bare_gif "127.0.0.1:$base_port" "$WORKERS" 2>/dev/null &
base_pid=$!
pids+=($base_pid)
for _ in $(seq 1 100); do
  http_get "$collector/healthz" >/dev/null 2>&1 && http_get "http://127.0.0.1:$base_port/p.gif" >/dev/null 2>&1 && break
  sleep 0.1
done

run_wrk() { # name url script
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$3" "$2" >"$work/$1.txt"
  summarise "$work/$1.txt"
}

echo "==> warm-up" >&2
DURATION=3 run_wrk warm "$collector/p.gif" benches/wrk/pixel.lua >/dev/null
DURATION=3 run_wrk warm-base "http://127.0.0.1:$base_port/p.gif" benches/wrk/pixel.lua >/dev/null

echo "==> baseline: bare GIF server" >&2
base_before=$(cpu_ticks "$base_pid")
read -r base_rps base_p50 base_p99 base_requests < <(run_wrk base "http://127.0.0.1:$base_port/p.gif" benches/wrk/pixel.lua)
base_after=$(cpu_ticks "$base_pid")

echo "==> collector: GET /p.gif at peak" >&2
received_before=$(metric 'beaconhouse_hits_received_total{endpoint="pixel"}')
stored_before=$(ch_query bench "SELECT count() FROM events")
before=$(cpu_ticks "$collector_pid")
start=$(date +%s.%N)
read -r rps p50 p99 requests < <(run_wrk pixel "$collector/p.gif" benches/wrk/pixel.lua)
end=$(date +%s.%N)
after=$(cpu_ticks "$collector_pid")
cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", 100 * t / hz / (e - s) }')

# Every answered hit must land: wait until ClickHouse has them all.
received=$(( $(metric 'beaconhouse_hits_received_total{endpoint="pixel"}') - received_before ))
dropped=$(http_get "$collector/metrics" | awk '/^beaconhouse_hits_dropped_total/ { s += $2 } END { print s + 0 }')
expected=$((received - dropped))
landed=0
for _ in $(seq 1 600); do
  landed=$(( $(ch_query bench "SELECT count() FROM events") - stored_before ))
  [ "$landed" -ge "$expected" ] && break
  sleep 0.1
done
drained=$(date +%s.%N)
drain_s=$(awk -v a="$end" -v b="$drained" 'BEGIN { printf "%.1f", b - a }')
landed_rps=$(awk -v n="$landed" -v a="$start" -v b="$drained" 'BEGIN { printf "%.0f", n / (b - a) }')

echo "==> collector: GET /p.gif at half of peak" >&2
# wrk has no rate option; each connection waits WRK_DELAY_MS (whole ms) after
# every answer (drawn from 0..2x that, see pixel.lua), so the rate is about connections / (delay + latency). With a
# 10 ms delay, a short calibration run sets the connection count that gives
# half of the peak rate; the table shows the rate reached.
half_target=$(( rps / 2 ))
half_conns=$(awk -v r="$half_target" -v l="$p50" 'BEGIN { c = int(r * (10 + l) / 1000 + 0.5); print (c < 1 ? 1 : c) }')
read -r calib_rps _ < <(WRK_DELAY_MS=10 CONNECTIONS=$half_conns DURATION=3 run_wrk calibrate "$collector/p.gif" benches/wrk/pixel.lua)
half_conns=$(awk -v c="$half_conns" -v t="$half_target" -v r="$calib_rps" 'BEGIN { c = int(c * t / (r > 0 ? r : t) + 0.5); print (c < 1 ? 1 : c) }')
read -r half_rps half_p50 half_p99 _ < <(WRK_DELAY_MS=10 CONNECTIONS=$half_conns run_wrk half "$collector/p.gif" benches/wrk/pixel.lua)

echo "==> collector: POST /api/event at peak" >&2
read -r event_rps event_p50 event_p99 _ < <(run_wrk event "$collector/api/event" benches/wrk/event.lua)

peak_rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$collector_pid/status")
ratio=$(awk -v a="$rps" -v b="$base_rps" 'BEGIN { printf "%.2f", a / b }')
hz=$(getconf CLK_TCK)
cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$received" 'BEGIN { printf "%.1f", 1e6 * t / hz / n }')
base_cpu_us=$(awk -v t=$((base_after - base_before)) -v hz="$hz" -v n="$base_requests" 'BEGIN { printf "%.1f", 1e6 * t / hz / n }')
event_ratio=$(awk -v a="$event_rps" -v b="$base_rps" 'BEGIN { printf "%.2f", a / b }')
rows=$(ch_query bench "SELECT count() FROM events")

cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s; $WORKERS HTTP worker(s) each; ClickHouse $(ch_query bench "SELECT version()") on the same machine.

| run | req/s | ratio to bare GIF | p50 ms | p99 ms |
|---|---:|---:|---:|---:|
| bare actix-web GIF (baseline) | $base_rps | 1.00 | $base_p50 | $base_p99 |
| collector \`GET /p.gif\`, peak | $rps | $ratio | $p50 | $p99 |
| collector \`GET /p.gif\`, fixed rate (~half of peak; $half_conns connections, 10 ms apart) | $half_rps | | $half_p50 | $half_p99 |
| collector \`POST /api/event\`, peak | $event_rps | $event_ratio | $event_p50 | $event_p99 |

| collector | value |
|---|---|
| CPU during the peak pixel run | ${cpu}% of one core |
| CPU per pixel hit (all threads: HTTP, spool, shipper) | ${cpu_us} µs, against ${base_cpu_us} µs per request for the bare server |
| peak RSS (no GeoIP database loaded) | ${peak_rss} MiB |
| pixel hits answered in the peak run | $requests completed (wrk), $received received (collector) |
| rows landed in ClickHouse from that run | $landed of $expected answered and accepted, the last ${drain_s} s after the load stopped |
| rows/s landed (answer to last row stored) | $landed_rps |
| rows in ClickHouse after every run | $rows |
TABLE
