#!/usr/bin/env bash
# What the release step costs in accuracy: the figures staff SQL reads
# (`<database>_released.daily`, each cell's exact count plus its noise,
# withheld under the threshold) against the exact ones, by group size, over
# 1, 7 and 30 days, on two sites in one run:
# - the large one of benches/report.sh (EVENTS synthetic events over 30 days,
#   10 million by default: optimumabq.com and other.example);
# - a small one, small.example: about 150 visitors a day, three page views
#   each over a dozen pages, for 30 days.
# A figure over several days is what staff SQL gets by summing the released
# days (a withheld day adds nothing), against the sum of the exact days.
# The exact cells are computed here with the definition of the release
# (`rollup::sql::cells_of_day`: page views capped per visitor, cell and day),
# so the difference is the release step alone: noise, clamping at zero and
# withholding. Also prints each window's 95% noise margin, from the
# mechanism's distribution (sums of discrete Laplace draws), beside the errors
# seen. Then the same for the reports (the API, the dashboard, the CLI),
# whose period figures sum each day's cell with its noise and are withheld
# once, for the sum.
#
#   bash benches/release.sh
#
# Knobs (environment): EVENTS (10000000), EPSILON (1.0), CAP (10), BASELINE
# (another build's binary: its rollup is timed against this one's). The
# threshold is the release step's: min_group_size (5), or the existence
# threshold of ε (15 at ε = 1) when higher.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000000}
EPSILON=${EPSILON:-1.0}
CAP=${CAP:-10}
NOISE_KEY=bench-noise-key-0123456789abcdef0123456789abcdef

. benches/common.sh
install_missing clickhouse-server:clickhouse-server

build_release

start_clickhouse
cat >"$work/beaconhouse.toml" <<TOML
[[sites]]
id = "optimumabq.com"
hostnames = ["optimumabq.com"]

[[sites]]
id = "small.example"
hostnames = ["small.example"]
TOML
# The same sites, releasing: the first rollup runs without it, so that the
# daily rollups and the release are timed apart.
{
  cat "$work/beaconhouse.toml"
  printf '\n[reporting]\nnoise_key = "%s"\nepsilon = %s\nmax_views_per_visitor_day = %s\n' "$NOISE_KEY" "$EPSILON" "$CAP"
} >"$work/releasing.toml"
export BEACONHOUSE_CONFIG="$work/beaconhouse.toml" RELEASING="$work/releasing.toml"
export BEACONHOUSE_CLICKHOUSE_DATABASE=releasebench
export RUST_LOG=warn
migrate_when_up

echo "==> loading $EVENTS events, and the small site" >&2
load_synthetic releasebench "$EVENTS" 1000
# small.example: 150 visitors a day for the same 30 days, three page views
# each, over 12 pages of which two take most views.
ch_query releasebench "
INSERT INTO events (site, ts, name, visitor_id, path, referrer_host, country, device)
SELECT 'small.example',
       toDateTime(1790812800 + intDiv(number, 450) * 86400 + (number % 450) * 150),
       'pageview',
       intHash64(1000000000 + intDiv(number, 3)),
       if(cityHash64(number) % 3 = 0, '/', concat('/p', toString(cityHash64(number, 5) % 12))),
       if(cityHash64(intDiv(number, 3)) % 2 = 0, 'google.com', ''),
       ['US', 'US', 'MX', 'CA'][1 + cityHash64(intDiv(number, 3), 9) % 4],
       CAST('desktop' AS Enum8('desktop' = 1, 'mobile' = 2, 'tablet' = 3, 'other' = 4))
FROM numbers(13500)"

# The rollup's cost against a baseline binary (BASELINE=path), interleaved
# on the same data: each run starts from empty rollup tables.
if [ -n "${BASELINE:-}" ]; then
  echo "==> timing the rollup: $BASELINE against this build, interleaved" >&2
  baseline_runs=() build_runs=()
  for round in 1 2; do
    for binary in "$BASELINE" target/release/beaconhouse; do
      for table in daily_stats daily_filtered daily_stats_days; do
        ch_query releasebench "TRUNCATE TABLE $table"
      done
      start=$(date +%s.%N)
      "$binary" rollup >/dev/null
      took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
      if [ "$binary" = "$BASELINE" ]; then baseline_runs+=("$took"); else build_runs+=("$took"); fi
    done
  done
  for table in daily_stats daily_filtered daily_stats_days; do
    ch_query releasebench "TRUNCATE TABLE $table"
  done
  echo "Rollup of the 31 days, interleaved baseline / this build: ${baseline_runs[*]} s / ${build_runs[*]} s."
  echo
fi

echo "==> rolling up 30 days, then releasing them" >&2
rollup_start=$(date +%s.%N)
target/release/beaconhouse rollup >&2
release_start=$(date +%s.%N)
BEACONHOUSE_CONFIG="$work/releasing.toml" target/release/beaconhouse rollup >&2
release_end=$(date +%s.%N)
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Exact cells per UTC day, as the release counts them (the dimensions below
# cover every group size; the rest are the same computation).
exact_cells="
SELECT site, day, dimension, value, count() AS visitors, sum(least(views, $CAP)) AS pageviews
FROM (
  SELECT site, toDate(ts) AS day, tupleElement(dim, 1) AS dimension, tupleElement(dim, 2) AS value, visitor_id, count() AS views
  FROM events ARRAY JOIN [tuple('', ''), tuple('path', path), tuple('referrer_host', referrer_host), tuple('country', country)] AS dim
  WHERE name = 'pageview'
  GROUP BY site, day, dimension, value, visitor_id
)
GROUP BY site, day, dimension, value"
ch_query releasebench "CREATE TABLE exact_cells ENGINE = Memory AS $exact_cells"
ch_query releasebench "
CREATE TABLE compared ENGINE = Memory AS
SELECT site, day, dimension, value, visitors AS exact_visitors, pageviews AS exact_pageviews,
       released_visitors, released_pageviews
FROM exact_cells
ANY LEFT JOIN (
  SELECT site, day, dimension, value, visitors AS released_visitors, pageviews AS released_pageviews
  FROM releasebench_released.daily FINAL
) USING (site, day, dimension, value)"

# 95% margin of a sum of n days' noise, scale s: the normal approximation of
# a sum of n discrete Laplace draws (variance 2a/(1-a)^2 each, a = e^(-eps/s)).
margin() {
  awk -v n="$1" -v s="$2" -v eps="$EPSILON" 'BEGIN { a = exp(-eps / s); v = 2 * a / (1 - a) ^ 2; printf "%.1f", 1.96 * sqrt(n * v) }'
}

echo
echo "Release step: released against exact figures ($EVENTS events + small.example, ε = $EPSILON per figure, page views capped at $CAP per visitor, cell and day; threshold max(5, the existence threshold of ε))."
echo
echo "| site | days | exact visitors (group size) | groups | median / p95 error, visitors | median / p95 error, page views | groups withheld entirely | 95% noise margin, visitors / page views |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
for days in 1 7 30; do
  first=$(( 20727 + 30 - days ))  # the last $days of 2026-10-01 (day 20727) .. 2026-10-30
  while IFS=$'\t' read -r site bucket groups mv pv mp pp withheld; do
    echo "| $site | $days | $bucket | $groups | $mv% / $pv% | $mp% / $pp% | $withheld | ±$(margin "$days" 1) / ±$(margin "$days" "$CAP") |"
  done < <(ch_query releasebench "
    SELECT if(site = 'small.example', 'small.example', 'large (optimumabq.com, other.example)') AS s,
           multiIf(v < 10, '1-9', v < 100, '10-99', v < 1000, '100-999', v < 10000, '1,000-9,999', '10,000+') AS bucket,
           count(),
           round(100 * quantileExact(0.5)(abs(rv - v) / v), 2),
           round(100 * quantileExact(0.95)(abs(rv - v) / v), 2),
           round(100 * quantileExact(0.5)(abs(rp - p) / p), 2),
           round(100 * quantileExact(0.95)(abs(rp - p) / p), 2),
           countIf(rv = 0)
    FROM (
      SELECT site, dimension, value, sum(exact_visitors) AS v, sum(exact_pageviews) AS p,
             sum(released_visitors) AS rv, sum(released_pageviews) AS rp
      FROM compared WHERE toUInt16(day) >= $first
      GROUP BY site, dimension, value
    )
    GROUP BY s, bucket ORDER BY s, min(v)
    FORMAT TSV")
done
echo
echo "Each site's own total (dimension '') over 30 days:"
echo
echo "| site | exact visitors | released | error | exact page views | released | error |"
echo "|---|---:|---:|---:|---:|---:|---:|"
ch_query releasebench "
  SELECT site, sum(exact_visitors) AS v, sum(released_visitors) AS rv, concat(toString(round(100 * abs(rv - v) / v, 3)), '%'),
         sum(exact_pageviews) AS p, sum(released_pageviews) AS rp, concat(toString(round(100 * abs(rp - p) / p, 3)), '%')
  FROM compared WHERE dimension = ''
  GROUP BY site ORDER BY site FORMAT TSV" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }'
echo
# The reports: what the stats API, the dashboard and the CLI show. A period's
# figure is the sum over its UTC days of each day's exact count plus that
# day's noise (the cells of released.daily where they count the same), zero
# days included, and is withheld once, when the sum's released visitors are
# under the threshold of a sum over that many days.
echo "Reports (\`beaconhouse report breakdown --limit 1000\`, UTC days ending 2026-10-30): released against exact figures, by the group's exact visitors over the period."
echo
echo "| site | days | exact visitors (group size) | groups | shown | median / p95 error, visitors | median / p95 error, page views |"
echo "|---|---:|---|---:|---:|---:|---:|"
python3 - <<'PY'
import json, os, statistics, subprocess, sys, urllib.request
url = os.environ["BEACONHOUSE_CLICKHOUSE_URL"] + "/?database=releasebench"
def sql(statement):
    return urllib.request.urlopen(url, data=statement.encode(), timeout=3600).read().decode()
def report(site, dimension, first):
    args = ["target/release/beaconhouse", "--config", os.environ["RELEASING"], "report", "breakdown",
            "--site", site, "--by", dimension, "--from", first, "--to", "2026-10-30", "--tz", "UTC",
            "--limit", "1000", "--format", "json"]
    return json.loads(subprocess.run(args, check=True, capture_output=True).stdout)
buckets = [(1, 10, "1-9"), (10, 100, "10-99"), (100, 1000, "100-999"), (1000, 10000, "1,000-9,999"), (10000, 10**12, "10,000+")]
def quantiles(errors):
    if not errors:
        return "-"
    errors = sorted(errors)
    p95 = errors[min(len(errors) - 1, int(0.95 * len(errors)))]
    return f"{100 * statistics.median(errors):.2f}% / {100 * p95:.2f}%"
for site in ["optimumabq.com", "small.example"]:
    for days, first, first_day in [(1, "2026-10-30", 20756), (7, "2026-10-24", 20750), (30, "2026-10-01", 20727)]:
        groups = {}
        for dimension in ["path", "referrer_host", "country"]:
            exact = sql(f"SELECT value, sum(visitors), sum(pageviews) FROM exact_cells WHERE site = '{site}' AND dimension = '{dimension}' AND toUInt16(day) BETWEEN {first_day} AND 20756 GROUP BY value FORMAT TSV")
            answer = report(site, dimension, first)
            shown = {row["value"] if row["value"] != "(none)" else "": row for row in answer["rows"] if row["value"] != "(other)"}
            for line in exact.splitlines():
                value, visitors, views = line.split("\t")
                groups[(dimension, value)] = (int(visitors), int(views), shown.get(value))
        for low, high, label in buckets:
            inside = [g for g in groups.values() if low <= g[0] < high]
            if not inside:
                continue
            seen = [g for g in inside if g[2] is not None and g[2]["unique"] is not None]
            visitors = [abs(g[2]["unique"] - g[0]) / g[0] for g in seen]
            views = [abs(g[2]["count"] - g[1]) / g[1] for g in seen if g[1]]
            print(f"| {site} | {days} | {label} | {len(inside)} | {len(seen)} | {quantiles(visitors)} | {quantiles(views)} |")
PY
echo
released_rows=$(ch_query releasebench "SELECT count() FROM releasebench_released.daily FINAL")
events_rows=$(ch_query releasebench "SELECT count() FROM events")
cube_size=$(ch_query releasebench "SELECT round(sum(bytes_on_disk) / 1048576, 1) FROM system.parts WHERE active AND database = 'releasebench_released' AND table = 'daily'")
events_size=$(ch_query releasebench "SELECT round(sum(bytes_on_disk) / 1048576, 1) FROM system.parts WHERE active AND database = 'releasebench' AND table = 'events'")
echo "released.daily: $released_rows rows, $cube_size MiB, against $events_rows events in $events_size MiB. For the 31 days: the daily rollups (daily_stats, daily_filtered) took $(seconds "$rollup_start" "$release_start") s, the release $(seconds "$release_start" "$release_end") s."
