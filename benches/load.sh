#!/usr/bin/env bash
# Load benchmark: the collector against a bare actix-web GIF server, fairly.
# Prints Markdown tables.
#
#   bash benches/load.sh
#
# Fair means: both servers run side by side on the same machine, driven by
# the same wrk script (varied user agents, pages, referrers, campaigns and
# X-Forwarded-For addresses, built once and sent in turn), which is first
# shown not to be the bottleneck: the bare server answers it at 90% or more
# of its rate with one fixed request and no script (the table says so, or
# says it is not), then in interleaved pairs (baseline, collector,
# baseline, collector, ...), and every run starts with ClickHouse in the same
# state: the collector's earlier hits all stored and ClickHouse idle (merges
# done), so no run pays for the work another left behind. Every pair's ratio
# is printed, and the worst. This is done with 1 HTTP worker each and with
# the default (one per core).
#
# CPU per hit counts every thread of the collector (HTTP workers, spool,
# fsync, shipper) from the start of a run until ClickHouse holds every hit
# of it; ClickHouse's own CPU from the start of the run until it is idle
# again (inserts and the merges they cause), per row stored.
#
# With BEFORE=path/to/an/older/beaconhouse, that binary runs as a second
# collector, on a database and a spool of its own, and each round runs the
# baseline, the older collector and this one in turn (A B C A B C ...):
# before/after figures of a change to the hit path, under the same
# conditions.
#
# Knobs (environment): DURATION (s per run, default 15), PAIRS (3),
# CONNECTIONS (32), THREADS (wrk threads, 1), WORKER_COUNTS ("1 N", N = cores),
# FSYNC_INTERVAL_MS (unset: the collector's default). Needs wrk, Debian's
# clickhouse-server (both installed if missing, as root or with sudo) and
# python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
PAIRS=${PAIRS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKER_COUNTS=${WORKER_COUNTS:-"1 $(nproc)"}

. benches/common.sh
install_missing wrk:wrk clickhouse-server:clickhouse-server

hz=$(getconf CLK_TCK)
http_get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
# metric_sum ADMIN_URL METRIC: the sum of a metric's series (all labels) on
# a collector's admin listener.
metric_sum() { http_get "$1/metrics" | awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { printf "%d\n", s }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
stored() { ch_query "$1" "SELECT count() FROM events"; }
now() { date +%s.%N; }

# Collectors under test, by label: binary, database, and once started, pid,
# base URL and admin URL.
labels=(this)
declare -A binary=([this]=target/release/beaconhouse) database=([this]=bench) cpid cbase cadmin
if [ -n "${BEFORE:-}" ]; then
  labels=(before this)
  binary[before]=$BEFORE
  database[before]=bench_before
fi

# Waits (up to 120 s) until ClickHouse holds every hit each collector
# accepted and has used under 3% of a core for a whole second.
settle() {
  local label accepted before after behind
  for _ in $(seq 1 120); do
    behind=0
    for label in "${labels[@]}"; do
      accepted=$(( $(metric_sum "${cadmin[$label]}" beaconhouse_hits_received_total) - $(metric_sum "${cadmin[$label]}" beaconhouse_hits_dropped_total) ))
      [ "$(stored "${database[$label]}")" -ge "$accepted" ] || behind=1
    done
    before=$(cpu_ticks "$clickhouse_pid")
    sleep 1
    after=$(cpu_ticks "$clickhouse_pid")
    if [ "$behind" = 0 ] && [ $((after - before)) -le $((hz * 3 / 100)) ]; then
      return 0
    fi
  done
  echo "warning: ClickHouse did not settle within 120 s" >&2
}

run_wrk() { # name url [script]
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency ${3:+-s "$3"} "$2" >"$work/$1.txt"
  summarise "$work/$1.txt"
}

build_release --example bare_gif --example geoip_fixture
# The tests' GeoIP database, loaded as in production (one hit in four of the
# wrk scripts comes from a network it places).
target/release/examples/geoip_fixture "$work/city.mmdb"
export BEACONHOUSE_GEOIP_DATABASE="$work/city.mmdb"

start_clickhouse
clickhouse_pid=${pids[-1]}
export BEACONHOUSE_CLICKHOUSE_DATABASE=bench
export BEACONHOUSE_CONFIG=deploy/beaconhouse.example.toml
export BEACONHOUSE_HTTP_TRUSTED_PROXIES='["127.0.0.1/32"]'
export BEACONHOUSE_HTTP_RATE_LIMIT_PER_SECOND=1000000
export BEACONHOUSE_HTTP_RATE_LIMIT_BURST=1000000
[ -z "${FSYNC_INTERVAL_MS:-}" ] || export BEACONHOUSE_SPOOL_FSYNC_INTERVAL_MS=$FSYNC_INTERVAL_MS
export RUST_LOG=warn
migrate_when_up
[ -z "${BEFORE:-}" ] || BEACONHOUSE_CLICKHOUSE_DATABASE=bench_before "$BEFORE" migrate >/dev/null

for workers in $WORKER_COUNTS; do
  echo "==> $workers HTTP worker(s) each" >&2
  for label in "${labels[@]}"; do
    port=$(free_port)
    admin_port=$(free_port)
    BEACONHOUSE_HTTP_WORKERS=$workers BEACONHOUSE_SPOOL_DIR="$work/spool-$label-$workers" \
      BEACONHOUSE_CLICKHOUSE_DATABASE="${database[$label]}" \
      BEACONHOUSE_LISTEN="127.0.0.1:$port" BEACONHOUSE_ADMIN_LISTEN="127.0.0.1:$admin_port" \
      "${binary[$label]}" serve 2>"$work/collector-$label-$workers.log" &
    cpid[$label]=$!
    pids+=($!)
    cbase[$label]="http://127.0.0.1:$port"
    cadmin[$label]="http://127.0.0.1:$admin_port"
  done
  # "this" collector, for the runs that are its alone.
  collector_pid=${cpid[this]}
  collector=${cbase[this]}
  admin=${cadmin[this]}
  base_port=$(free_port)
  target/release/examples/bare_gif "127.0.0.1:$base_port" "$workers" 2>/dev/null &
  base_pid=$!
  pids+=($base_pid)
  base="http://127.0.0.1:$base_port"
  for label in "${labels[@]}"; do
    for _ in $(seq 1 100); do
      http_get "${cadmin[$label]}/healthz" >/dev/null 2>&1 && http_get "$base/p.gif" >/dev/null 2>&1 && break
      sleep 0.1
    done
    DURATION=3 run_wrk "warm-$label" "${cbase[$label]}/p.gif" benches/wrk/pixel.lua >/dev/null
  done
  DURATION=3 run_wrk warm-base "$base/p.gif" benches/wrk/pixel.lua >/dev/null

  # Is the load generator the bottleneck? The bare server driven by the
  # varied script against the same server asked one fixed request by wrk
  # with no script (its lightest load), interleaved; the varied script must
  # reach 90% of that for the ratios below to be the collector's.
  fixed="$base/p.gif?site=optimumabq.com&url=https%3A%2F%2Foptimumabq.com%2Fpricing"
  fixed_sum=0
  varied_sum=0
  for round in 1 2 3; do
    read -r f_rps _ < <(DURATION=5 run_wrk "fixed-$workers-$round" "$fixed")
    read -r v_rps _ < <(DURATION=5 run_wrk "varied-$workers-$round" "$base/p.gif" benches/wrk/pixel.lua)
    fixed_sum=$((fixed_sum + f_rps))
    varied_sum=$((varied_sum + v_rps))
  done
  generator=$(awk -v v="$varied_sum" -v f="$fixed_sum" 'BEGIN {
    r = v / f
    printf "Load generator: the bare server answered the varied requests of benches/wrk/pixel.lua at %d req/s and one fixed request (wrk without a script) at %d req/s, %.2f of it (3 rounds of 5 s, interleaved): ", v / 3, f / 3, r
    if (r >= 0.9) print "the generator is not the bottleneck."
    else print "BELOW 0.9: the generator is the bottleneck, and the ratios below flatter the collector; try THREADS=2."
  }')
  echo "$generator" >&2

  table="$work/pairs-$workers.md"
  : >"$table"
  for pair in $(seq 1 "$PAIRS"); do
    settle
    ch_before=$(cpu_ticks "$clickhouse_pid")
    before=$(cpu_ticks "$base_pid")
    read -r b_rps b_p50 b_p99 b_requests < <(run_wrk "base-$workers-$pair" "$base/p.gif" benches/wrk/pixel.lua)
    b_cpu=$(( $(cpu_ticks "$base_pid") - before ))
    b_ch=$(( $(cpu_ticks "$clickhouse_pid") - ch_before ))

    for label in "${labels[@]}"; do
      settle
      rows_before=$(stored "${database[$label]}")
      received_before=$(metric_sum "${cadmin[$label]}" 'beaconhouse_hits_received_total{endpoint="pixel"}')
      ch_before=$(cpu_ticks "$clickhouse_pid")
      before=$(cpu_ticks "${cpid[$label]}")
      read -r c_rps c_p50 c_p99 _ < <(run_wrk "pixel-$label-$workers-$pair" "${cbase[$label]}/p.gif" benches/wrk/pixel.lua)
      received=$(( $(metric_sum "${cadmin[$label]}" 'beaconhouse_hits_received_total{endpoint="pixel"}') - received_before ))
      settle
      c_cpu=$(( $(cpu_ticks "${cpid[$label]}") - before ))
      c_ch=$(( $(cpu_ticks "$clickhouse_pid") - ch_before ))
      landed=$(( $(stored "${database[$label]}") - rows_before ))
      awk -v p="$pair" -v l="$label" -v br="$b_rps" -v cr="$c_rps" -v bc="$b_cpu" -v bn="$b_requests" -v cc="$c_cpu" -v cn="$received" \
        -v ch="$c_ch" -v bch="$b_ch" -v rows="$landed" -v hz="$hz" -v bp="$b_p99" -v cp="$c_p99" 'BEGIN {
          bu = 1e6 * bc / hz / bn; cu = 1e6 * cc / hz / cn
          printf "| %d | %s | %d | %d | %.2f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %d of %d |\n",
            p, l, br, cr, cr / br, bu, cu, cu / bu, bp, cp, 1e6 * ch / hz / (rows > 0 ? rows : 1), rows, cn
          if (bch > hz / 10) printf "warning: ClickHouse used %.1f s of CPU during baseline run %d\n", bch / hz, p > "/dev/stderr"
        }' >>"$table"
    done
  done

  # Latency at a fixed rate: wrk has no rate option; each connection waits
  # WRK_DELAY_MS on average after every answer (pixel.lua), so with 10 ms
  # the rate is about connections / (10 ms + latency). A short calibration
  # sets the connection count that gives half of the median peak rate.
  peak=$(awk -F'|' '$3 ~ /this/ { print $5 }' "$table" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  half_target=$((peak / 2))
  half_conns=$(awk -v r="$half_target" 'BEGIN { c = int(r * 11 / 1000 + 0.5); print (c < 1 ? 1 : c) }')
  read -r calib_rps _ < <(WRK_DELAY_MS=10 CONNECTIONS=$half_conns DURATION=3 run_wrk "calibrate-$workers" "$collector/p.gif" benches/wrk/pixel.lua)
  half_conns=$(awk -v c="$half_conns" -v t="$half_target" -v r="$calib_rps" 'BEGIN { c = int(c * t / (r > 0 ? r : t) + 0.5); print (c < 1 ? 1 : c) }')
  settle
  read -r half_rps half_p50 half_p99 _ < <(WRK_DELAY_MS=10 CONNECTIONS=$half_conns run_wrk "half-$workers" "$collector/p.gif" benches/wrk/pixel.lua)

  # The beacon, paired with a baseline run of its own.
  settle
  read -r eb_rps _ < <(run_wrk "event-base-$workers" "$base/p.gif" benches/wrk/pixel.lua)
  settle
  read -r event_rps event_p50 event_p99 _ < <(run_wrk "event-$workers" "$collector/api/event" benches/wrk/event.lua)
  settle

  rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$collector_pid/status")
  {
    echo
    echo "### $workers HTTP worker(s) each"
    echo
    echo "$generator"
    echo
    echo "| pair | collector | baseline req/s | collector req/s | ratio | baseline CPU µs/request | collector CPU µs/hit | CPU ratio | baseline p99 ms | collector p99 ms | ClickHouse CPU µs/row | rows stored of hits answered |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    cat "$table"
    echo
    column() { awk -F'|' -v k="$1" -v l="$2" '$3 ~ l { print $k + 0 }' "$table" | sort -n; }
    median() { awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    for label in "${labels[@]}"; do
      echo "Ratio ($label): worst $(column 6 "$label" | head -1), median $(column 6 "$label" | median). CPU per hit against the bare server: median $(column 9 "$label" | median)x, worst $(column 9 "$label" | tail -1)x."
      echo
    done
    echo
    echo "| other runs (collector) | req/s | p50 ms | p99 ms |"
    echo "|---|---:|---:|---:|"
    echo "| \`GET /p.gif\` at a fixed rate, about half of the median peak ($half_conns connections, ~10 ms apart) | $half_rps | $half_p50 | $half_p99 |"
    echo "| \`POST /api/event\` at peak (its own baseline run: $eb_rps req/s, ratio $(awk -v a="$event_rps" -v b="$eb_rps" 'BEGIN { printf "%.2f", a / b }')) | $event_rps | $event_p50 | $event_p99 |"
    echo
    echo "Collector peak RSS: $rss MiB (the tests' GeoIP database loaded)."
  } >"$work/report-$workers.md"
  kill "${cpid[@]}" "$base_pid" 2>/dev/null || true
  wait "${cpid[@]}" "$base_pid" 2>/dev/null || true
done

cat <<HEAD

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), load average before the runs $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s per run, $PAIRS rounds (the baseline, then the collector: ${labels[*]}), each run started with ClickHouse $(ch_query bench "SELECT version()") idle and holding every earlier hit; spool fsync every ${FSYNC_INTERVAL_MS:-(default)} ms.
HEAD
for workers in $WORKER_COUNTS; do cat "$work/report-$workers.md"; done
