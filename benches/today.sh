#!/usr/bin/env bash
# A busy day: HISTORY synthetic events over the 29 days before today and
# TODAY events since today's midnight (in ZONE, the site's time zone) go
# into a real ClickHouse, and `beaconhouse rollup` rolls them up as `serve`
# keeps them: the UTC days before whole, today up to its last hour that has
# ended, and, in a zone whose midnight is not UTC's, yesterday's and
# today's parts from the site's midnight. Then the dashboard's
# overview (summary, time series and the five panels' breakdowns, asked at
# once as the page asks them) is timed through the stats API for the last
# 30 days and for today, once by one person and once by three at the same
# moment.
#
#   bash benches/today.sh
#   BEFORE=path/to/an/older/beaconhouse bash benches/today.sh
#
# With BEFORE, that binary migrates a second database, which gets a copy of
# the same events, rolls it up as it does (a binary from before today's
# rollup reads today from `events`) and serves it; the runs alternate
# between the two collectors (before, after, before, ...), so both see the
# same machine at the same moments. Prints how long each rollup took and a
# Markdown table: median and worst wall time of an overview, and how many
# of its reports were refused (503) because every slot was taken or
# because one ran past `reporting.query_timeout_ms`. Run it at least an
# hour and three minutes after midnight in ZONE (and in UTC): until then
# today has no hour to roll up.
#
# Knobs (environment): HISTORY (1000000), TODAY (3000000), RUNS (7), ZONE
# (UTC: the site's time zone, which the overviews ask for; in another,
# today starts at a local midnight inside a UTC day, which a collector from
# before the `local_*` tables read from `events`).
set -euo pipefail
cd "$(dirname "$0")/.."
HISTORY=${HISTORY:-1000000}
TODAY=${TODAY:-3000000}
RUNS=${RUNS:-7}
ZONE=${ZONE:-UTC}
TOKEN=bench-token-0123456789abcdef0123456789abcdef

. benches/common.sh
install_missing clickhouse-server:clickhouse-server

build_release

start_clickhouse
cat >"$work/beaconhouse.toml" <<TOML
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]
time_zone = "$ZONE"

[reporting]
noise_key = "bench-noise-key-0123456789abcdef0123456789abcdef"

[[reporting.tokens]]
name = "bench"
token = "$TOKEN"
sites = ["*"]
campaigns = ["*"]
TOML
export BEACONHOUSE_CONFIG="$work/beaconhouse.toml"
export BEACONHOUSE_CLICKHOUSE_DATABASE=todaybench
export RUST_LOG=warn
migrate_when_up

now=$(date -u +%s)
# Today's midnight in ZONE, as a UTC instant.
midnight=$(python3 -c 'import datetime, sys, zoneinfo
z = zoneinfo.ZoneInfo(sys.argv[1])
d = datetime.datetime.now(z).date()
print(int(datetime.datetime(d.year, d.month, d.day, tzinfo=z).timestamp()))' "$ZONE")
# Hits of a synthetic visitor spread over 80 minutes after its start: none
# lands after now.
span=$((now - midnight - 4800))
[ "$span" -gt 600 ] || span=600
echo "==> loading $HISTORY events over 29 days and $TODAY today" >&2
load_synthetic todaybench "$HISTORY" 1000 $((midnight - 29 * 86400)) $((29 * 86400 - 4800))
load_synthetic todaybench "$TODAY" 1000 "$midnight" "$span"
# Timed runs should not race ClickHouse's merges of the fresh inserts.
ch_query todaybench "OPTIMIZE TABLE events FINAL" >/dev/null
# seconds COMMAND...: runs it, printing its output on stderr and its wall
# time in seconds on stdout.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >&2
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}
if [ -n "${BEFORE:-}" ]; then
  echo "==> copying the events for $BEFORE" >&2
  BEACONHOUSE_CLICKHOUSE_DATABASE=todaybench_before "$BEFORE" migrate >/dev/null
  ch_query todaybench_before "INSERT INTO events SELECT * FROM todaybench.events" >/dev/null
  ch_query todaybench_before "OPTIMIZE TABLE events FINAL" >/dev/null
  echo "==> rolling up with $BEFORE" >&2
  rollup_before=$(BEACONHOUSE_CLICKHOUSE_DATABASE=todaybench_before seconds "$BEFORE" rollup)
fi
echo "==> rolling up" >&2
rollup_after=$(seconds target/release/beaconhouse rollup)
rolled_today=$(ch_query todaybench "SELECT if(max(counted_until) = 0, 'not rolled up', toString(toDateTime(max(counted_until), 'UTC'))) FROM daily_stats_days FINAL WHERE day = today()")
rolled_local=$(ch_query todaybench "SELECT arrayStringConcat(groupArray(concat(toString(toDateTime(counted_from, 'UTC')), ' to ', toString(toDateTime(counted_until, 'UTC')))), ', ') FROM (SELECT * FROM local_days FINAL ORDER BY counted_from)")

# serve NAME BINARY DATABASE: starts a collector on the database and sets `base`.
serve() {
  local port
  port=$(free_port)
  BEACONHOUSE_LISTEN="127.0.0.1:$port" BEACONHOUSE_ADMIN_LISTEN="127.0.0.1:$(free_port)" \
    BEACONHOUSE_CLICKHOUSE_DATABASE="$3" \
    BEACONHOUSE_SPOOL_DIR="$work/spool-$1" "$2" serve >/dev/null 2>"$work/$1.log" &
  pids+=($!)
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/healthz" 2>/dev/null && break
    sleep 0.1
  done
}
collectors=()
if [ -n "${BEFORE:-}" ]; then
  serve before "$BEFORE" todaybench_before
  collectors+=("before=$base")
fi
serve after target/release/beaconhouse todaybench
collectors+=("after=$base")

today_rows=$(ch_query todaybench "SELECT count() FROM events WHERE ts >= toDateTime($midnight)")
python3 - "$TOKEN" "$RUNS" "$ZONE" "${collectors[@]}" >"$work/timings.md" <<'PY'
import datetime, statistics, sys, time, urllib.error, urllib.request, zoneinfo
from concurrent.futures import ThreadPoolExecutor
token, runs, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3]
today_date = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date()
today, first = today_date.isoformat(), (today_date - datetime.timedelta(days=29)).isoformat()
collectors = [c.split("=", 1) for c in sys.argv[4:]]
assert collectors, "no collector to time"
PANELS = ["path", "referrer_host", "country", "browser", "name"]

def overview(base, start, interval):
    """The dashboard's reports of one overview, as the page asks them."""
    period = f"site=optimumabq.com&from={start}&to={today}&tz={zone}"
    paths = [f"summary?{period}", f"timeseries?{period}&interval={interval}"]
    paths += [f"breakdown?{period}&by={by}&limit=10" for by in PANELS]
    return [f"{base}/api/v1/stats/{p}" for p in paths]

answers = {}

def get(url):
    """(refused as busy, stopped at the time limit): a 503 says which; any
    other answer but a 200 stops the benchmark. Keeps the answer by its
    path, per collector."""
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        body = urllib.request.urlopen(request, timeout=600).read()
        base, path = url.split("/api/v1/stats/", 1)
        answers.setdefault(path, {})[base] = body
        return (0, 0)
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        if e.code == 503 and "max_concurrent" in body:
            return (1, 0)
        if e.code == 503 and "query_timeout_ms" in body:
            return (0, 1)
        sys.exit(f"{url}: {e.code} {body}")

def timed(urls):
    with ThreadPoolExecutor(len(urls)) as pool:
        start = time.perf_counter()
        answers = list(pool.map(get, urls))
        return (time.perf_counter() - start) * 1000, [sum(a[i] for a in answers) for i in (0, 1)]

cases = [
    ("30-day overview, one person", first, "day", 1),
    ("today overview, one person", today, "hour", 1),
    ("30-day overview, three people at once", first, "day", 3),
    ("today overview, three people at once", today, "hour", 3),
]
print("| overview (7 reports at once per person) | collector | median ms | worst ms | refused: busy | refused: too slow |")
print("|---|---|---:|---:|---:|---:|")
for name, start, interval, people in cases:
    results = {label: [] for label, _ in collectors}
    for label, base in collectors:
        timed(overview(base, start, interval) * people)  # warm-up
    # Both collectors count the same events under the same noise key: the
    # same answers, byte for byte, whichever table each read them from.
    for path, bodies in answers.items():
        if len(set(bodies.values())) > 1:
            sys.exit(f"the collectors answer {path} differently: {bodies}")
    answers.clear()
    for _ in range(runs):
        for label, base in collectors:
            results[label].append(timed(overview(base, start, interval) * people))
    for label, _ in collectors:
        times = [t for t, _ in results[label]]
        busy, slow = (sum(r[i] for _, r in results[label]) for i in (0, 1))
        asked = 7 * people * runs
        print(f"| {name} | {label} | {statistics.median(times):.0f} | {max(times):.0f} | {busy} of {asked} | {slow} of {asked} |")
PY

cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); ClickHouse $(ch_query todaybench "SELECT version()") on the same machine.
Data: $HISTORY events over the 29 days before today and $today_rows today ($ZONE), 90% on optimumabq.com; $RUNS timed runs per case after one warm-up, collectors alternating; periods in $ZONE.
Rollup: ${rollup_after} s (the UTC days before today, today up to ${rolled_today} UTC, and from the site's midnight: ${rolled_local:-none})${BEFORE:+; $BEFORE: ${rollup_before} s}.

$(cat "$work/timings.md")
TABLE
