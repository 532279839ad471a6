# Sourced by deploy/clickhouse-dev.sh and deploy/zookeeper-dev.sh, before they
# exec their server in the foreground.
#
#   stop_with_watched_process DIR
#
# With BEACONHOUSE_WATCH_PID set (by a test harness or a benchmark), stops the
# server (this script's process, once it has exec'd) when that process exits,
# then removes DIR once the server is gone (or after 60 s): a harness's shared
# server is never dropped, so nothing else would remove it. Without it, does
# nothing.
stop_with_watched_process() {
  [ -n "${BEACONHOUSE_WATCH_PID:-}" ] || return 0
  local watched=$BEACONHOUSE_WATCH_PID server_pid=$$ dir=$1
  (
    while kill -0 "$watched" 2>/dev/null; do sleep 1; done
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 1; done
    rm -rf "$dir"
  ) &
}
