#!/usr/bin/env bash
# Goals, funnel and property benchmark: the 10 million synthetic events of
# benches/report.sh (sign-ups carry the property `plan`) go into a real
# ClickHouse, `beaconhouse rollup` computes the daily rollup, and the goals
# report (an event goal, an exact page, a page pattern), a four-step funnel,
# a breakdown by a property and a breakdown filtered by a goal are timed
# over 30 days (America/Denver) through the stats API, next to the cheapest
# scan of the same range (`SELECT count()` on `events`) measured in the same
# run, the calls of each round interleaved (A B C ... A B C ...).
# Prints a Markdown table.
#
#   bash benches/conversions.sh
#
# Knobs (environment): EVENTS (10000000), RUNS per report (15). Needs
# Debian's clickhouse-server (installed if missing, as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-15}
TOKEN=bench-token-0123456789abcdef0123456789abcdef

. benches/common.sh
install_missing clickhouse-server:clickhouse-server

build_release

start_clickhouse
cat >"$work/beaconhouse.toml" <<TOML
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]
time_zone = "America/Denver"
props = ["plan"]

[[sites.goals]]
name = "Sign up"
event = "signup"

[[sites.goals]]
name = "Home page"
page = "/"

[[sites.goals]]
name = "Read the blog"
page = "/blog/*"

[[sites.funnels]]
name = "Home to sign-up"
steps = [{ page = "/" }, { page = "/blog/*" }, { page = "/blog/post-0" }, { goal = "Sign up" }]

[reporting]
noise_key = "bench-noise-key-0123456789abcdef0123456789abcdef"
query_timeout_ms = 120000

[[reporting.tokens]]
name = "bench"
token = "$TOKEN"
sites = ["*"]
TOML
export BEACONHOUSE_CONFIG="$work/beaconhouse.toml"
export BEACONHOUSE_CLICKHOUSE_DATABASE=conversionbench
export BEACONHOUSE_SPOOL_DIR="$work/spool"
export RUST_LOG=warn
migrate_when_up

echo "==> loading $EVENTS events" >&2
load_synthetic conversionbench "$EVENTS" 1000
echo "==> rolling up" >&2
rollup_start=$(date +%s.%N)
rolled=$(target/release/beaconhouse rollup | head -1)
rollup_end=$(date +%s.%N)
rollup_s=$(awk -v a="$rollup_start" -v b="$rollup_end" 'BEGIN { printf "%.1f", b - a }')

port=$(free_port)
BEACONHOUSE_LISTEN="127.0.0.1:$port" target/release/beaconhouse serve 2>"$work/collector.log" &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/healthz" 2>/dev/null && break; sleep 0.1; done
rows=$(ch_query conversionbench "SELECT count() FROM events")

python3 - "$base" "$TOKEN" "$RUNS" "$BEACONHOUSE_CLICKHOUSE_URL" >"$work/timings.md" <<'PY'
import json, statistics, sys, time, urllib.parse, urllib.request
base, token, runs, clickhouse = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
period = "site=optimumabq.com&from=2026-10-01&to=2026-10-30&tz=America/Denver"
window = "site = 'optimumabq.com' AND ts >= toDateTime('2026-10-01 00:00:00', 'America/Denver') AND ts < toDateTime('2026-10-31 00:00:00', 'America/Denver')"
def api(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    return lambda: urllib.request.urlopen(request, timeout=600).read()
def sql(statement):
    url = clickhouse + "/?database=conversionbench"
    return lambda: urllib.request.urlopen(url, data=statement.encode(), timeout=600).read()
calls = [
    ("baseline: `SELECT count()` of the 30 days on `events`", sql(f"SELECT count() FROM events WHERE {window}")),
    ("goals: 3 goals (event, page, `/blog/*`), with the previous 30 days", api(f"/api/v1/stats/goals?{period}")),
    ("funnel: 4 steps", api(f"/api/v1/stats/funnel?{period}&funnel=" + urllib.parse.quote("Home to sign-up"))),
    ("breakdown by prop:plan", api(f"/api/v1/stats/breakdown?{period}&by=prop:plan")),
    ("breakdown by referrer_host, filter goal==Sign up", api(f"/api/v1/stats/breakdown?{period}&by=referrer_host&filter=" + urllib.parse.quote("goal==Sign up"))),
]
for _, call in calls:
    call()
times = {name: [] for name, _ in calls}
for _ in range(runs):
    for name, call in calls:
        start = time.perf_counter()
        call()
        times[name].append((time.perf_counter() - start) * 1000)
baseline = statistics.median(times[calls[0][0]])
print("| call (30 days) | median ms | max ms | vs `count()` scan |")
print("|---|---:|---:|---:|")
for name, _ in calls:
    median = statistics.median(times[name])
    print(f"| {name} | {median:.1f} | {max(times[name]):.1f} | {median / baseline:.1f} |")
goals = json.loads(api(f"/api/v1/stats/goals?{period}")())
print()
print("| goal | converting visitors | conversions | rate % |")
print("|---|---:|---:|---:|")
for goal in goals["goals"]:
    c = goal["current"]
    print(f"| {goal['name']} | {c['converting_visitors']} | {c['conversions']} | {c['conversion_rate']} |")
PY

cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); ClickHouse $(ch_query conversionbench "SELECT version()") on the same machine; $RUNS rounds after one warm-up, the calls of a round one after another.
Data: $rows events (30 days, 90% on optimumabq.com); \`beaconhouse rollup\` took ${rollup_s} s (${rolled#rolled up }).

$(cat "$work/timings.md")
TABLE
