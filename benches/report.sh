#!/usr/bin/env bash
# Report benchmark: 10 million synthetic events over 30 days (a few hundred
# paths with a long tail, long-tailed referrers, campaigns, countries, custom
# events) and 300k email opens go into a real ClickHouse; then every report is
# timed through the stats API, next to two baselines measured in the same run:
# the cheapest possible scan of the same range (`SELECT count()` on `events`)
# and the same breakdown answered from `events` instead of the rollup.
# Prints a Markdown table.
#
#   bash benches/report.sh
#
# Knobs (environment): EVENTS (10000000), RUNS per report (15). Needs Debian's
# clickhouse-server (installed if missing, as root or with sudo) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-15}
TOKEN=bench-token-0123456789abcdef0123456789abcdef

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ch_query() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], data=sys.argv[2].encode(), timeout=3600).read().decode().strip())' "$BEACONHOUSE_CLICKHOUSE_URL/?database=reportbench" "$1"; }

echo "==> building (release)" >&2
cargo build --release --locked --bin beaconhouse >&2

echo "==> starting ClickHouse" >&2
ch_http=$(free_port)
BEACONHOUSE_WATCH_PID=$$ bash deploy/clickhouse-dev.sh "$work/clickhouse" "$ch_http" "$(free_port)" "$(free_port)" >"$work/clickhouse.out" 2>&1 &
pids+=($!)
cat >"$work/beaconhouse.toml" <<TOML
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]

[[reporting.tokens]]
name = "bench"
token = "$TOKEN"
sites = ["*"]
campaigns = ["*"]
TOML
export BEACONHOUSE_CONFIG="$work/beaconhouse.toml"
export BEACONHOUSE_CLICKHOUSE_URL="http://127.0.0.1:$ch_http"
export BEACONHOUSE_CLICKHOUSE_DATABASE=reportbench
export BEACONHOUSE_SPOOL_DIR="$work/spool"
export RUST_LOG=warn
for _ in $(seq 1 90); do target/release/beaconhouse migrate >/dev/null 2>&1 && break; sleep 1; done
target/release/beaconhouse migrate >/dev/null

echo "==> loading $EVENTS events and 300000 opens" >&2
load_start=$(date +%s.%N)
# Visitors view 1-6 pages each, minutes apart, sometimes with a gap of over
# 30 minutes (a second visit); 2026-10-01 to 2026-10-30 UTC.
ch_query "
INSERT INTO events
SELECT
  if(h % 10 = 0, 'other.example', 'optimumabq.com') AS site,
  toDateTime(1790812800 + intDiv(visitor * 2592000, intDiv($EVENTS, 3)) + (number % 3) * (h % 2400)) AS ts,
  if(cityHash64(number, 17) % 20 = 0, ['signup', 'download', 'contact'][1 + h % 3], 'pageview') AS name,
  intHash64(visitor + 1) AS visitor_id,
  if(p < 0.15, '/', concat('/blog/post-', toString(toUInt32(300 * pow(p, 3))))) AS path,
  '' AS title,
  if(r < 0.55, '', if(r < 0.75, 'google.com', if(r < 0.8, 'duckduckgo.com',
     concat('blog', toString(toUInt32(5000 * pow((r - 0.8) * 5, 4))), '.example.org')))) AS referrer_host,
  if(h % 9 = 0, 'newsletter', if(h % 13 = 0, 'google', '')) AS utm_source,
  if(h % 9 = 0, 'email', if(h % 13 = 0, 'cpc', '')) AS utm_medium,
  if(h % 9 = 0, 'nov', if(h % 13 = 0, 'desks', '')) AS utm_campaign,
  '' AS utm_term, '' AS utm_content,
  ['US', 'US', 'US', 'US', 'MX', 'CA', 'GB', 'DE', 'IN', 'FR', 'BR', 'JP'][1 + c % 12] AS country,
  if(c % 12 < 4, ['US-NM', 'US-NM', 'US-TX', 'US-CA'][1 + c % 4], '') AS region,
  if(c % 12 < 4, ['Albuquerque', 'Santa Fe', 'Austin', 'Oakland'][1 + c % 4], '') AS city,
  ['Chrome', 'Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'][1 + c % 6] AS browser,
  ['Windows 10', 'Mac OSX', 'iPhone', 'Android', 'Linux'][1 + c % 5] AS os,
  CAST(['desktop', 'desktop', 'mobile', 'tablet'][1 + c % 4] AS Enum8('desktop' = 1, 'mobile' = 2, 'tablet' = 3, 'other' = 4)) AS device,
  number AS event_id
FROM (
  SELECT number, intDiv(number, 3) AS visitor, cityHash64(intDiv(number, 3)) AS h,
         cityHash64(number, 7) % 1000000 / 1000000 AS p,
         cityHash64(number, 11) % 1000000 / 1000000 AS r,
         cityHash64(intDiv(number, 3), 13) AS c
  FROM numbers($EVENTS)
)"
ch_query "
INSERT INTO email_opens
SELECT 'nov-newsletter', toDateTime(1790812800 + intDiv(number * 2592000, 300000)),
       intHash64(number % 120000), toUInt8(number % 3 = 0), ['US', 'US', 'MX', ''][1 + number % 4],
       ['Gmail', 'Apple Mail', 'Outlook', 'Thunderbird', ''][1 + number % 5], number
FROM numbers(300000)"
load_end=$(date +%s.%N)
load_s=$(awk -v a="$load_start" -v b="$load_end" 'BEGIN { printf "%.0f", b - a }')

port=$(free_port)
BEACONHOUSE_LISTEN="127.0.0.1:$port" target/release/beaconhouse serve 2>"$work/collector.log" &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/healthz" 2>/dev/null && break; sleep 0.1; done

rows=$(ch_query "SELECT count() FROM events")
rollup_rows=$(ch_query "SELECT count() FROM events_hourly")
parts=$(ch_query "SELECT count() FROM system.parts WHERE database = 'reportbench' AND active AND table LIKE '%events_hourly%'")
exact=$(ch_query "SELECT uniqExact(visitor_id) FROM events WHERE site = 'optimumabq.com'")
approximate=$(ch_query "SELECT uniqMerge(visitors) FROM events_hourly WHERE site = 'optimumabq.com' AND dimension = ''")

# Median and max of RUNS timed calls (after one warm-up) of a URL or a SQL statement.
python3 - "$base" "$TOKEN" "$RUNS" "$BEACONHOUSE_CLICKHOUSE_URL" >"$work/timings.md" <<'PY'
import statistics, sys, time, urllib.request
base, token, runs, clickhouse = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
period = "site=optimumabq.com&from=2026-10-01&to=2026-10-30&tz=America/Denver"
def api(path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    return lambda: urllib.request.urlopen(request, timeout=600).read()
def sql(statement):
    url = clickhouse + "/?database=reportbench"
    return lambda: urllib.request.urlopen(url, data=statement.encode(), timeout=600).read()
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
    ("summary", f"/api/v1/stats/summary?{period}", "rollup + events (visits)"),
    ("summary, filter country==US", f"/api/v1/stats/summary?{period}&filter=country%3D%3DUS", "events"),
    ("timeseries by day", f"/api/v1/stats/timeseries?{period}&interval=day", "rollup"),
    ("timeseries by hour", f"/api/v1/stats/timeseries?{period}&interval=hour", "rollup"),
    ("breakdown by path", f"/api/v1/stats/breakdown?{period}&by=path", "rollup"),
    ("breakdown by entry_page", f"/api/v1/stats/breakdown?{period}&by=entry_page", "events (visits)"),
    ("breakdown by referrer_host", f"/api/v1/stats/breakdown?{period}&by=referrer_host", "rollup"),
    ("breakdown by utm_campaign", f"/api/v1/stats/breakdown?{period}&by=utm_campaign", "rollup"),
    ("breakdown by country", f"/api/v1/stats/breakdown?{period}&by=country", "rollup"),
    ("breakdown by city", f"/api/v1/stats/breakdown?{period}&by=city", "rollup"),
    ("breakdown by browser", f"/api/v1/stats/breakdown?{period}&by=browser", "rollup"),
    ("breakdown by name (custom events)", f"/api/v1/stats/breakdown?{period}&by=name", "rollup"),
    ("breakdown by path, filter country==US", f"/api/v1/stats/breakdown?{period}&by=path&filter=country%3D%3DUS", "events"),
    ("email campaign", "/api/v1/stats/email?campaign=nov-newsletter&from=2026-10-01&to=2026-10-30&tz=America/Denver", "rollup"),
]
print("| report (30 days) | answered from | median ms | max ms | vs `count()` scan |")
print("|---|---|---:|---:|---:|")
print(f"| baseline: `SELECT count()` over the range, straight to ClickHouse | events | {baseline:.1f} | | 1.0 |")
print(f"| baseline: breakdown by path forced onto `events` | events | {raw_path:.1f} | | {raw_path / baseline:.1f} |")
for name, path, source in reports:
    median, worst = measure(api(path))
    print(f"| {name} | {source} | {median:.1f} | {worst:.1f} | {median / baseline:.1f} |")
PY

cat <<TABLE

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); ClickHouse $(ch_query "SELECT version()") on the same machine; $RUNS timed calls per report through \`GET /api/v1/stats/...\` after one warm-up.
Data: $rows events (30 days, 90% on optimumabq.com), loaded in ${load_s} s with the rollups; \`events_hourly\` holds $rollup_rows rows in $parts parts.
Unique visitors over the 30 days: $exact exact (\`uniqExact\` on \`events\`), $approximate from the rollup (\`uniqMerge\`): $(awk -v a="$approximate" -v e="$exact" 'BEGIN { printf "%+.2f%%", 100 * (a - e) / e }').

$(cat "$work/timings.md")
TABLE
