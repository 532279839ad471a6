#!/usr/bin/env bash
# Isolation benchmark: do reports slow down the hits? Pixel latency under a
# steady wrk load, without reports (A) and with the heaviest reports running
# in a loop through the stats API (B), interleaved A B A B ... in one run on
# one collector, so drift on a shared machine falls on both sides alike.
# Prints a Markdown table.
#
#   bash benches/isolation.sh
#
# The reports are the ones that read `events` rather than the daily rollup
# (filters on another dimension than the one broken down, `~` filters,
# sessions for entry pages, a filtered hourly week), over 30 days of
# EVENTS synthetic events, LOOPS at a time, each loop asking again as soon
# as it is answered. Pixels come at a fixed rate (wrk, CONNECTIONS
# connections each waiting about DELAY_MS between requests, see
# benches/wrk/pixel.lua), not at peak: the question is latency, not
# throughput.
#
# By default (PIN=1, on two cores or more) ClickHouse and the report clients
# run on the last CPU and the collector and wrk on the others: the question
# is whether the collector's own handling of reports slows its hits, and
# ClickHouse computing reports on the very cores that answer hits would
# slow them whatever the collector did. PIN=0 shares every core (what
# ClickHouse's CPU then costs the hits is worth knowing too).
#
# Knobs (environment): EVENTS (3000000), PAIRS (3), DURATION per run (s, 20),
# CONNECTIONS (32), DELAY_MS (10), LOOPS (4), WORKERS (collector HTTP
# workers, 1), PIN (1). Needs wrk, taskset and Debian's clickhouse-server
# (installed if missing, as root or with sudo) and python3. The default run
# takes about four minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-3000000}
PAIRS=${PAIRS:-3}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}
DELAY_MS=${DELAY_MS:-10}
LOOPS=${LOOPS:-4}
WORKERS=${WORKERS:-1}
PIN=${PIN:-1}
TOKEN=bench-token-0123456789abcdef0123456789abcdef

. benches/common.sh
install_missing wrk:wrk clickhouse-server:clickhouse-server

build_release

cpus=$(nproc)
hits=() others=() layout="every core shared by ClickHouse, the collector, wrk and the report clients"
if [ "$PIN" = 1 ] && [ "$cpus" -ge 2 ]; then
  export CLICKHOUSE_CPUS=$((cpus - 1))
  hit_cpus=0
  [ "$cpus" -eq 2 ] || hit_cpus="0-$((cpus - 2))"
  hits=(taskset -c "$hit_cpus")
  others=(taskset -c "$CLICKHOUSE_CPUS")
  layout="the collector and wrk on CPU $hit_cpus, ClickHouse and the report clients on CPU $CLICKHOUSE_CPUS"
fi

start_clickhouse
cat >"$work/beaconhouse.toml" <<TOML
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]
time_zone = "America/Denver"

[http]
trusted_proxies = ["127.0.0.1/32"]
rate_limit_per_second = 1000000
rate_limit_burst = 1000000
workers = $WORKERS

[[reporting.tokens]]
name = "bench"
token = "$TOKEN"
sites = ["*"]
campaigns = ["*"]
TOML
export BEACONHOUSE_CONFIG="$work/beaconhouse.toml"
export BEACONHOUSE_CLICKHOUSE_DATABASE=isolation
export BEACONHOUSE_SPOOL_DIR="$work/spool"
export RUST_LOG=warn
migrate_when_up

echo "==> loading $EVENTS events, rolling up" >&2
load_synthetic isolation "$EVENTS" 100000
target/release/beaconhouse rollup >/dev/null

port=$(free_port)
BEACONHOUSE_LISTEN="127.0.0.1:$port" "${hits[@]}" target/release/beaconhouse serve 2>"$work/collector.log" &
collector_pid=$!
pids+=($collector_pid)
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/healthz" 2>/dev/null && break; sleep 0.1; done

# The report load: LOOPS threads asking for the heaviest reports in turn
# until SIGTERM; writes "running" to $2 once every loop has an answer, and at
# the end "answered busy failed median_ms" (busy: 503 for a full pool).
cat >"$work/report_loop.py" <<'PY'
import signal, statistics, sys, threading, time, urllib.error, urllib.request
base, ready_file, token, loops = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
month = "site=optimumabq.com&from=2026-10-01&to=2026-10-30&tz=America/Denver"
week = "site=optimumabq.com&from=2026-10-10&to=2026-10-16&tz=America/Denver"
reports = [
    f"/api/v1/stats/summary?{month}&filter=country%3D%3DUS",
    f"/api/v1/stats/breakdown?{month}&by=path&filter=country%3D%3DUS",
    f"/api/v1/stats/breakdown?{month}&by=entry_page&filter=browser%3D%3DChrome",
    f"/api/v1/stats/breakdown?{month}&by=referrer_host&filter=path~blog",
    f"/api/v1/stats/timeseries?{week}&interval=hour&filter=path~blog",
]
stop = threading.Event()
lock = threading.Lock()
outcomes = {"ok": 0, "busy": 0, "failed": 0}
times = []
answered_loops = set()
def loop(i):
    n = i
    while not stop.is_set():
        request = urllib.request.Request(base + reports[n % len(reports)],
                                         headers={"Authorization": "Bearer " + token})
        n += 1
        start = time.perf_counter()
        try:
            urllib.request.urlopen(request, timeout=600).read()
            outcome = "ok"
        except urllib.error.HTTPError as e:
            outcome = "busy" if e.code == 503 else "failed"
        except OSError:
            outcome = "failed"
        with lock:
            outcomes[outcome] += 1
            if outcome == "ok":
                times.append((time.perf_counter() - start) * 1000)
            answered_loops.add(i)
            if len(answered_loops) == loops:
                open(ready_file, "w").write("running\n")
signal.signal(signal.SIGTERM, lambda *_: stop.set())
threads = [threading.Thread(target=loop, args=(i,)) for i in range(loops)]
for t in threads:
    t.start()
while not stop.is_set():
    stop.wait(0.1)
for t in threads:
    t.join()
median = statistics.median(times) if times else 0
print(f"{outcomes['ok']} {outcomes['busy']} {outcomes['failed']} {median:.0f}")
PY

# sched PREFIX: "on_cpu_ns waiting_ns" of the collector's threads whose name
# starts with PREFIX (the kernel's schedstat: time run, and time runnable but
# waiting for a CPU). The HTTP workers are "actix-rt|system...", the
# reports' runtime "beaconhouse-rep...".
sched() {
  local task comm
  for task in /proc/"$collector_pid"/task/*; do
    read -r comm <"$task/comm" || continue
    case $comm in "$1"*) cat "$task/schedstat" ;; esac
  done | awk '{ cpu += $1; wait += $2 } END { printf "%.0f %.0f\n", cpu, wait }'
}

# run_wrk NAME: "rps p50 p99 worker_wait_ms report_cpu_ms" of a run.
run_wrk() {
  local before_worker before_reports after_worker after_reports
  before_worker=$(sched "actix-rt|system") before_reports=$(sched beaconhouse-rep)
  WRK_DELAY_MS=$DELAY_MS "${hits[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s benches/wrk/pixel.lua "$base/p.gif" >"$work/$1.txt"
  after_worker=$(sched "actix-rt|system") after_reports=$(sched beaconhouse-rep)
  read -r rps p50 p99 _ < <(summarise "$work/$1.txt")
  awk -v r="$rps" -v a="$p50" -v b="$p99" -v w0="${before_worker#* }" -v w1="${after_worker#* }" \
      -v c0="${before_reports% *}" -v c1="${after_reports% *}" \
      'BEGIN { printf "%s %s %s %.0f %.0f\n", r, a, b, (w1 - w0) / 1e6, (c1 - c0) / 1e6 }'
}

echo "==> warm-up" >&2
DURATION=3 run_wrk warm >/dev/null

rows=()
worst_a=0 worst_b=0
for pair in $(seq 1 "$PAIRS"); do
  echo "==> pair $pair: pixels without reports" >&2
  read -r a_rps a_p50 a_p99 a_wait _ < <(run_wrk "a$pair")

  echo "==> pair $pair: pixels with reports in a loop" >&2
  "${others[@]}" python3 "$work/report_loop.py" "$base" "$work/ready$pair" "$TOKEN" "$LOOPS" >"$work/loop$pair.txt" &
  loop_pid=$!
  pids+=($loop_pid)
  for _ in $(seq 1 600); do [ -s "$work/ready$pair" ] && break; sleep 0.1; done
  [ -s "$work/ready$pair" ] || { echo "the report loop got no answer in a minute; see $work/collector.log" >&2; exit 1; }
  read -r b_rps b_p50 b_p99 b_wait b_reports_cpu < <(run_wrk "b$pair")
  kill -TERM "$loop_pid"
  wait "$loop_pid" || true
  read -r answered busy failed report_ms <"$work/loop$pair.txt"

  rows+=("| $pair | $a_rps | $a_p50 | $a_p99 | $a_wait | $b_rps | $b_p50 | $b_p99 | $b_wait | $answered ($busy busy, $failed failed), median $report_ms ms; $b_reports_cpu ms of CPU |")
  worst_a=$(awk -v a="$worst_a" -v b="$a_p99" 'BEGIN { print (b > a ? b : a) }')
  worst_b=$(awk -v a="$worst_b" -v b="$b_p99" 'BEGIN { print (b > a ? b : a) }')
done

cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); ClickHouse $(ch_query isolation "SELECT version()") on the same machine; $EVENTS events over 30 days, rolled up.
Layout: $layout.
Pixels: wrk -t1 -c$CONNECTIONS, each connection waiting about $DELAY_MS ms between requests, ${DURATION} s per run; $WORKERS HTTP worker(s). Reports: $LOOPS loops over 5 reports that read \`events\` (filtered summary, filtered path, entry-page and referrer breakdowns, a filtered hourly week), at most 8 at once (\`reporting.max_concurrent\`).

A: pixels alone; B: pixels while the reports run. "Waited" is how long the
collector's HTTP worker threads were ready to run but had no CPU during the
run (the kernel's schedstat): what other processes on their cores cost them.
The last column gives the CPU the collector's reports' runtime used.

| pair | A: req/s | A: p50 ms | A: p99 ms | A: waited ms | B: req/s | B: p50 ms | B: p99 ms | B: waited ms | B: reports answered |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
$(printf '%s\n' "${rows[@]}")

Worst pixel p99: $worst_a ms without reports, $worst_b ms with them.
TABLE
