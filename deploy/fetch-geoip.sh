#!/usr/bin/env bash
# GeoIP on the first run (README, "Set up"): deploy/run-local.sh runs this
# when no geoip.database is configured.
#
#   bash deploy/fetch-geoip.sh DIR
#
# Prints the path of a GeoIP database in DIR on its standard output and
# exits 0: a .mmdb already in DIR (DB-IP's from an earlier run, or a
# GeoLite2 or GeoIP2 file put there), else DB-IP's free "IP to Country Lite"
# database, fetched from download.db-ip.com (this month's file, else last
# month's: a new one appears early each month) and unpacked into
# DIR/dbip-country-lite.mmdb. What it does goes to standard error. When it
# cannot fetch one (no network, or no curl or python3), it says so in one
# line and exits 1; with BEACONHOUSE_FETCH_GEOIP=0 it fetches nothing and
# exits 2. It never leaves a partial file behind.
#
# The data: "IP to Country Lite" by DB-IP.com, under the Creative Commons
# Attribution 4.0 International licence
# (https://creativecommons.org/licenses/by/4.0/; terms at
# https://db-ip.com/db/lite.php). A web page that shows its results must
# link back to DB-IP.com; the dashboard does, under its locations ("IP
# Geolocation by DB-IP", read from the database's metadata).
#
# BEACONHOUSE_TEST_GEOIP_SOURCE replaces https://download.db-ip.com/free, so
# the tests can serve a fixture from this machine.
set -euo pipefail

dir=${1:?usage: bash deploy/fetch-geoip.sh DIR}
source_url=${BEACONHOUSE_TEST_GEOIP_SOURCE:-https://download.db-ip.com/free}
later="To add one later: put a GeoIP2, GeoLite2 or DB-IP .mmdb file in $dir/ and run deploy/run-local.sh again, or set BEACONHOUSE_GEOIP_DATABASE to one."

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

shopt -s nullglob
existing=("$dir"/*.mmdb)
shopt -u nullglob
if [ "${#existing[@]}" -gt 0 ]; then
  echo "==> GeoIP: using ${existing[0]}" >&2
  echo "${existing[0]}"
  exit 0
fi

if [ "${BEACONHOUSE_FETCH_GEOIP:-1}" = 0 ]; then
  echo "==> GeoIP: not fetched (BEACONHOUSE_FETCH_GEOIP=0); locations stay empty. $later" >&2
  exit 2
fi

# Fetches URL into FILE; fails on any HTTP error.
download() {
  if command -v curl >/dev/null; then
    curl --fail --silent --location --connect-timeout 10 --max-time 300 --output "$2" "$1"
  elif command -v python3 >/dev/null; then
    python3 - "$1" "$2" <<'PY'
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as answer, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(answer, out)
PY
  else
    return 1
  fi
}

# Whether FILE is a MaxMind DB: its metadata starts with this marker.
is_mmdb() {
  tail -c 131072 "$1" | LC_ALL=C grep -qaF "$(printf '\xab\xcd\xefMaxMind.com')"
}

this_month=$(date -u +%Y-%m)
last_month=$(date -u -d "$this_month-01 -1 month" +%Y-%m)
target=$dir/dbip-country-lite.mmdb
partial=$dir/.dbip-country-lite.partial
trap 'rm -f "$partial" "$partial.gz"' EXIT
echo "==> GeoIP: no database configured; fetching DB-IP's free IP to Country Lite (CC BY 4.0: the dashboard credits \"IP Geolocation by DB-IP\" under its locations) from ${source_url%/}/ into $dir/ (BEACONHOUSE_FETCH_GEOIP=0 skips this)" >&2
for month in "$this_month" "$last_month"; do
  url="${source_url%/}/dbip-country-lite-$month.mmdb.gz"
  if download "$url" "$partial.gz" 2>/dev/null && gzip -dc "$partial.gz" >"$partial" 2>/dev/null \
    && is_mmdb "$partial"; then
    chmod 644 "$partial"
    mv "$partial" "$target"
    echo "==> GeoIP: $target (DB-IP, $month)" >&2
    echo "$target"
    exit 0
  fi
done
echo "==> GeoIP: could not download DB-IP's free country database from ${source_url%/}/ (no network?); locations stay empty. $later" >&2
exit 1
