#!/usr/bin/env bash
# Runs a throw-away clickhouse-server for development, tests and benchmarks.
#
#   deploy/clickhouse-dev.sh DIR HTTP_PORT TCP_PORT INTERSERVER_PORT
#
# Copies the packaged config (Debian's clickhouse-server), moves every data and log
# path into DIR, sets the ports, listens on 127.0.0.1 only, then execs the server
# in the foreground. With BEACONHOUSE_WATCH_PID set, the server is stopped and
# DIR removed when that process exits, so a test run leaves neither behind.
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 DIR HTTP_PORT TCP_PORT INTERSERVER_PORT" >&2
  exit 2
fi
dir=$1 http_port=$2 tcp_port=$3 interserver_port=$4
server=$(command -v clickhouse-server || true)
[ -n "$server" ] || server=/usr/sbin/clickhouse-server
packaged=/etc/clickhouse-server
if [ ! -x "$server" ] || [ ! -f "$packaged/config.xml" ]; then
  echo "clickhouse-server is not installed: run 'apt-get install -y clickhouse-server' (as root) and try again" >&2
  exit 127
fi

mkdir -p "$dir/data" "$dir/log"
cp "$packaged/users.xml" "$dir/users.xml"
sed -e "s#/var/lib/clickhouse/#$dir/data/#g" \
    -e "s#/var/log/clickhouse-server/#$dir/log/#g" \
    -e "s#<http_port>8123</http_port>#<http_port>$http_port</http_port>#" \
    -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$tcp_port</tcp_port>#" \
    -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$interserver_port</interserver_http_port>#" \
    -e '/<listen_host>::1<\/listen_host>/d' \
    -e '/<listen_host>::<\/listen_host>/d' \
    "$packaged/config.xml" > "$dir/config.xml"

# shellcheck source=deploy/dev-watch.sh
. "$(dirname "$0")/dev-watch.sh"
stop_with_watched_process "$dir"
cd "$dir"
exec "$server" --config-file="$dir/config.xml"
