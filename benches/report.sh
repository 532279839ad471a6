#!/usr/bin/env bash
# Report benchmark: 10 million synthetic events over 30 days (a few hundred
# paths with a long tail, long-tailed referrers, campaigns, countries, custom
# events) and 300k email opens go into a real ClickHouse; `beaconhouse rollup`
# computes the daily rollup; then every report over a 30-day window (in
# America/Denver, so its edges are partial UTC days) is timed through the
# stats API, next to two baselines measured in the same run:
# the cheapest possible scan of the same range (`SELECT count()` on `events`)
# and the same breakdown answered from `events` instead of the rollup.
# Then the reports the dashboard issues after a click on a row (one
# `dimension==value` filter: summary, time series, breakdowns), each next to
# the same report forced onto `events` (a second filter that matches every
# hit), the way they were answered before `daily_filtered`.
# Prints Markdown tables.
#
#   bash benches/report.sh
#
# Then the dashboard's 30-day overview is timed in Debian's Chromium (from
# navigation to every panel rendered) and its files are weighed
# (benches/dashboard_render.py).
#
# Knobs (environment): EVENTS (10000000), RUNS per report (15). Needs Debian's
# clickhouse-server and chromium (installed if missing, as root or with sudo),
# python3, and Python Playwright (installed if missing; it drives the system
# chromium and downloads no browser).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-15}
TOKEN=bench-token-0123456789abcdef0123456789abcdef

. benches/common.sh
install_missing clickhouse-server:clickhouse-server chromium:chromium
python3 -c "import playwright" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check "playwright==1.65.2"

build_release

start_clickhouse
cat >"$work/beaconhouse.toml" <<TOML
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]
time_zone = "America/Denver"

[reporting]
noise_key = "bench-noise-key-0123456789abcdef0123456789abcdef"
# The baselines read 30 days of events, longer than the default 10 s allows.
query_timeout_ms = 120000

[[reporting.tokens]]
name = "bench"
token = "$TOKEN"
sites = ["*"]
campaigns = ["*"]
TOML
export BEACONHOUSE_CONFIG="$work/beaconhouse.toml"
export BEACONHOUSE_CLICKHOUSE_DATABASE=reportbench
export BEACONHOUSE_SPOOL_DIR="$work/spool"
export RUST_LOG=warn
migrate_when_up

echo "==> loading $EVENTS events and 300000 opens" >&2
load_start=$(date +%s.%N)
load_synthetic reportbench "$EVENTS" 300000
load_end=$(date +%s.%N)
load_s=$(awk -v a="$load_start" -v b="$load_end" 'BEGIN { printf "%.0f", b - a }')

echo "==> rolling up" >&2
rollup_start=$(date +%s.%N)
rolled=$(target/release/beaconhouse rollup | head -1)
rollup_end=$(date +%s.%N)

# The same events without the rollups, for the check that a report reads the
# same figures whichever table answers: the same request, the same cells.
echo "==> copying the events into a database without rollups" >&2
BEACONHOUSE_CLICKHOUSE_DATABASE=reportbench_raw target/release/beaconhouse migrate >&2
ch_query reportbench_raw "INSERT INTO events SELECT * FROM reportbench.events"
ch_query reportbench_raw "INSERT INTO email_opens SELECT * FROM reportbench.email_opens"
rollup_s=$(awk -v a="$rollup_start" -v b="$rollup_end" 'BEGIN { printf "%.1f", b - a }')

port=$(free_port)
BEACONHOUSE_LISTEN="127.0.0.1:$port" target/release/beaconhouse serve 2>"$work/collector.log" &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/healthz" 2>/dev/null && break; sleep 0.1; done

rows=$(ch_query reportbench "SELECT count() FROM events")
rollup_rows=$(ch_query reportbench "SELECT count() FROM daily_stats")
table_size() { ch_query reportbench "SELECT concat(toString(sum(rows)), ' rows, ', toString(round(sum(bytes_on_disk) / 1048576, 1)), ' MiB') FROM system.parts WHERE active AND database = 'reportbench' AND table = '$1'"; }
stats_size=$(table_size daily_stats)
filtered_size=$(table_size daily_filtered)
events_size=$(table_size events)
filtered_by=$(ch_query reportbench "SELECT arrayStringConcat(groupArray(concat(filter_dimension, ' ', toString(c))), ', ') FROM (SELECT filter_dimension, count() AS c FROM daily_filtered GROUP BY filter_dimension ORDER BY c DESC)")

# Median and max of RUNS timed calls (after one warm-up) of a URL or a SQL statement.
python3 - "$base" "$TOKEN" "$RUNS" "$BEACONHOUSE_CLICKHOUSE_URL" >"$work/timings.md" <<'PY'
import os, statistics, subprocess, sys, time, urllib.parse, urllib.request
base, token, runs, clickhouse = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
period = "site=optimumabq.com&from=2026-10-01&to=2026-10-30&tz=America/Denver"
def api(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    return lambda: urllib.request.urlopen(request, timeout=600).read()
def sql(statement):
    url = clickhouse + "/?database=reportbench"
    return lambda: urllib.request.urlopen(url, data=statement.encode(), timeout=600).read()
def from_events(path):
    # The same request through `beaconhouse report` on the copy without
    # rollups: the CLI's flags reach the API's parser.
    url = urllib.parse.urlsplit(path)
    args = ["target/release/beaconhouse", "report", url.path.rsplit("/", 1)[1], "--format", "json"]
    for key, value in urllib.parse.parse_qsl(url.query):
        args += ["--" + key, value]
    env = dict(os.environ, BEACONHOUSE_CLICKHOUSE_DATABASE="reportbench_raw")
    return subprocess.run(args, env=env, check=True, capture_output=True).stdout
def measure(call):
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)
window = "site = 'optimumabq.com' AND ts >= toDateTime('2026-10-01 00:00:00', 'America/Denver') AND ts < toDateTime('2026-10-31 00:00:00', 'America/Denver')"
baseline, _ = measure(sql(f"SELECT count() FROM events WHERE {window}"))
raw_path, _ = measure(api(f"/api/v1/stats/breakdown?{period}&by=path&filter=city!%3DNowhere"))
reports = [
    ("summary (with the previous 30 days)", f"/api/v1/stats/summary?{period}", "rollup"),
    ("summary, filter country==US", f"/api/v1/stats/summary?{period}&filter=country%3D%3DUS", "daily_filtered, edges events"),
    ("timeseries by day, UTC", "/api/v1/stats/timeseries?site=optimumabq.com&from=2026-10-01&to=2026-10-30&interval=day", "rollup"),
    ("timeseries by day, America/Denver", f"/api/v1/stats/timeseries?{period}&interval=day", "rollup"),
    ("timeseries by hour (720 points)", f"/api/v1/stats/timeseries?{period}&interval=hour", "rollup"),
    ("breakdown by path", f"/api/v1/stats/breakdown?{period}&by=path", "rollup"),
    ("breakdown by entry_page", f"/api/v1/stats/breakdown?{period}&by=entry_page", "rollup"),
    ("breakdown by referrer_host", f"/api/v1/stats/breakdown?{period}&by=referrer_host", "rollup"),
    ("breakdown by utm_campaign", f"/api/v1/stats/breakdown?{period}&by=utm_campaign", "rollup"),
    ("breakdown by country", f"/api/v1/stats/breakdown?{period}&by=country", "rollup"),
    ("breakdown by city", f"/api/v1/stats/breakdown?{period}&by=city", "rollup"),
    ("breakdown by browser", f"/api/v1/stats/breakdown?{period}&by=browser", "rollup"),
    ("breakdown by name (custom events)", f"/api/v1/stats/breakdown?{period}&by=name", "rollup"),
    ("breakdown by path, filter country==US", f"/api/v1/stats/breakdown?{period}&by=path&filter=country%3D%3DUS", "daily_filtered, edges events"),
    ("email campaign (300k opens)", "/api/v1/stats/email?campaign=nov-newsletter&from=2026-10-01&to=2026-10-30&tz=America/Denver", "email_opens"),
]
print("| report (30 days) | answered from | median ms | max ms | vs `count()` scan |")
print("|---|---|---:|---:|---:|")
print(f"| baseline: `SELECT count()` over the range, straight to ClickHouse | events | {baseline:.1f} | | 1.0 |")
print(f"| baseline: breakdown by path forced onto `events` (a filter that matches everything) | events | {raw_path:.1f} | | {raw_path / baseline:.1f} |")
for name, path, source in reports:
    median, worst = measure(api(path))
    print(f"| {name} | {source} | {median:.1f} | {worst:.1f} | {median / baseline:.1f} |")
# The same reports read from `events` alone (the copy without rollups) must
# give the same released figures: the same cells, the same exact counts.
import json
same = all(
    json.loads(api(path)())[key] == json.loads(from_events(path))[key]
    for path, key in [
        (f"/api/v1/stats/summary?{period}", "current"),
        (f"/api/v1/stats/breakdown?{period}&by=path", "rows"),
        (f"/api/v1/stats/breakdown?{period}&by=entry_page", "rows"),
        (f"/api/v1/stats/timeseries?{period}&interval=day", "points"),
    ]
)
print()
print(f"Summary, path and entry-page breakdowns and the day series from the rollup equal the same reports read from `events` alone: {'yes' if same else 'NO'}.")
# Filtered: what the dashboard asks after a click on a row, from
# `daily_filtered`, and the same forced onto `events` (before).
EVERYTHING = "&filter=city!%3DNowhere"
utc_period = "site=optimumabq.com&from=2026-10-01&to=2026-10-30&tz=UTC"
filtered = []
for filter, by in [
    ("country%3D%3DUS", "path"),
    ("path%3D%3D%2F", "referrer_host"),
    ("referrer_host%3D%3Dgoogle.com", "path"),
    ("utm_source%3D%3Dnewsletter", "country"),
    ("browser%3D%3DSafari", "entry_page"),
    ("device%3D%3Dmobile", "name"),
]:
    for kind, path in [
        ("summary", f"/api/v1/stats/summary?{period}&filter={filter}"),
        ("timeseries by day", f"/api/v1/stats/timeseries?{period}&interval=day&filter={filter}"),
        (f"breakdown by {by}", f"/api/v1/stats/breakdown?{period}&by={by}&filter={filter}"),
    ]:
        filtered.append((f"{kind}, filter {urllib.parse.unquote(filter)}", path))
filtered.append(("breakdown by path, filter country==US, UTC (no partial days)", f"/api/v1/stats/breakdown?{utc_period}&by=path&filter=country%3D%3DUS"))
filtered.append(("summary, filter country==US, UTC (no partial days)", f"/api/v1/stats/summary?{utc_period}&filter=country%3D%3DUS"))
print()
print("| filtered report (30 days, America/Denver) | after: `daily_filtered` median ms | max ms | before: `events` median ms | max ms | same figures from `events` alone |")
print("|---|---:|---:|---:|---:|---|")
afters, befores = [], []
for name, path in filtered:
    after, after_max = measure(api(path))
    before, before_max = measure(api(path + EVERYTHING))
    afters.append(after)
    befores.append(before)
    a, b = json.loads(api(path)()), json.loads(from_events(path))
    equal = all(a.get(k) == b.get(k) for k in ("current", "previous", "points", "rows", "total"))
    print(f"| {name} | {after:.1f} | {after_max:.1f} | {before:.1f} | {before_max:.1f} | {'yes' if equal else 'NO'} |")
print(f"| median of the rows above | {statistics.median(afters):.1f} | | {statistics.median(befores):.1f} | | |")
PY

python3 benches/dashboard_render.py "$base" "$TOKEN" "$RUNS" 2026-10-01 2026-10-30 >"$work/dashboard.md"

cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); ClickHouse $(ch_query reportbench "SELECT version()") on the same machine; $RUNS timed calls per report through \`GET /api/v1/stats/...\` after one warm-up.
Data: $rows events (30 days, 90% on optimumabq.com), inserted in ${load_s} s; \`beaconhouse rollup\` then took ${rollup_s} s (${rolled#rolled up }) and left $rollup_rows rows in \`daily_stats\`.
On disk (system.parts): \`events\` $events_size; \`daily_stats\` $stats_size; \`daily_filtered\` $filtered_size, rows by filter dimension: $filtered_by.
Every figure is released (noise and threshold) from exact counts: rollup rows hold each UTC day's exact counts, and the partial days at a window's edges come from \`events\`.

$(cat "$work/timings.md")

Dashboard: the same data, the same 30 days (America/Denver), $RUNS page loads after one warm-up, signed in, in Debian's Chromium $(chromium --version 2>/dev/null | awk '{print $2}') (headless, same machine).

$(cat "$work/dashboard.md")
TABLE
