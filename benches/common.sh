# Shared by the benchmark scripts (sourced, not run): package installs, a work
# directory cleaned up on exit with every process started, free ports, a
# throw-away ClickHouse, synthetic report data, and wrk's figures.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages of the commands that are missing:
#   install_missing wrk:wrk clickhouse-server:clickhouse-server
install_missing() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    # On stderr: a benchmark's standard output is its tables.
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
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

# Builds the release binary (and whatever cargo arguments follow, e.g.
# `--example bare_gif`) that every benchmark runs.
build_release() {
  echo "==> building (release)" >&2
  cargo build --release --locked --bin beaconhouse "$@" >&2
}

# Starts clickhouse-server in the work directory and exports
# BEACONHOUSE_CLICKHOUSE_URL; it stops when this script exits. With
# CLICKHOUSE_CPUS set (a taskset list such as 1 or 2-3), it runs on those
# CPUs only.
start_clickhouse() {
  echo "==> starting ClickHouse" >&2
  local http pin=()
  http=$(free_port)
  [ -z "${CLICKHOUSE_CPUS:-}" ] || pin=(taskset -c "$CLICKHOUSE_CPUS")
  BEACONHOUSE_WATCH_PID=$$ "${pin[@]}" bash deploy/clickhouse-dev.sh "$work/clickhouse" "$http" "$(free_port)" "$(free_port)" >"$work/clickhouse.out" 2>&1 &
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

# wrk output -> "rps p50_ms p99_ms requests"
summarise() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / requests in / { n = $1 }
    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, n }' "$1"
}

# load_synthetic DATABASE EVENTS OPENS [START SECONDS]: EVENTS synthetic page
# views and custom events over 30 days of October 2026, or over the SECONDS
# from the Unix time START (300 paths with a long tail, 5,000 long-tailed
# referrers, campaigns, twelve countries, three hits per visitor) and OPENS
# email opens of one campaign, for the report benchmarks.
load_synthetic() {
  local db=$1 events=$2 opens=$3 start=${4:-1790812800} span=${5:-2592000}
  # Visitors view 1-6 pages each, minutes apart, sometimes with a gap of over
  # 30 minutes (a second visit); by default 2026-10-01 to 2026-10-30 UTC.
  # Sign-ups carry the property `plan`.
  ch_query "$db" "
  INSERT INTO events
  SELECT
    if(h % 10 = 0, 'other.example', 'optimumabq.com') AS site,
    toDateTime($start + intDiv(visitor * $span, intDiv($events, 3)) + (number % 3) * (h % 2400)) AS ts,
    if(cityHash64(number, 17) % 20 = 0, ['signup', 'download', 'contact'][1 + h % 3], 'pageview') AS name,
    intHash64(visitor + 1) AS visitor_id,
    if(p < 0.15, '/', concat('/blog/post-', toString(toUInt32(300 * pow(p, 3))))) AS path,
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
    number AS event_id,
    if(name = 'signup', ['plan'], CAST([] AS Array(String))) AS prop_keys,
    if(name = 'signup', [['monthly', 'annual', 'day-pass'][1 + cityHash64(number, 19) % 3]], CAST([] AS Array(String))) AS prop_values
  FROM (
    SELECT number, intDiv(number, 3) AS visitor, cityHash64(intDiv(number, 3)) AS h,
           cityHash64(number, 7) % 1000000 / 1000000 AS p,
           cityHash64(number, 11) % 1000000 / 1000000 AS r,
           cityHash64(intDiv(number, 3), 13) AS c
    FROM numbers($events)
  )"
  ch_query "$db" "
  INSERT INTO email_opens
  SELECT 'nov-newsletter', toDateTime($start + intDiv(number * $span, $opens)),
         intHash64(number % 120000), toUInt8(number % 3 = 0), ['US', 'US', 'MX', ''][1 + number % 4],
         ['Gmail', 'Apple Mail', 'Outlook', 'Thunderbird', ''][1 + number % 5], number
  FROM numbers($opens)"
}
