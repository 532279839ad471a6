#!/usr/bin/env bash
# Runs a throw-away, single-server ZooKeeper for a development or test cluster
# of ClickHouse nodes (Debian's `zookeeper` package, on its JRE).
#
#   deploy/zookeeper-dev.sh DIR CLIENT_PORT
#
# Writes zoo.cfg and a console-only log4j.properties into DIR, keeps the data
# in DIR/data, listens on 127.0.0.1 only (its admin web server off), then
# execs ZooKeeper in the foreground. It is ready when the four-letter word
# `srvr` answers with a `Mode:` line (`ruok` answers before the data is
# loaded). With BEACONHOUSE_WATCH_PID set, it is stopped and DIR removed when
# that process exits, so a test run leaves neither behind.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 DIR CLIENT_PORT" >&2
  exit 2
fi
dir=$1 port=$2
jars=/usr/share/java
java=$(command -v java || true)
if [ ! -f "$jars/zookeeper.jar" ] || [ -z "$java" ]; then
  echo "zookeeper is not installed: run 'apt-get install -y zookeeper default-jre-headless' (as root) and try again" >&2
  exit 127
fi

mkdir -p "$dir/data" "$dir/conf"
# A short tick lets the tests' ClickHouse nodes ask for short sessions: a node
# killed with SIGKILL can register again once its old session expired.
cat > "$dir/conf/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr
CFG
cat > "$dir/conf/log4j.properties" <<CFG
log4j.rootLogger=WARN, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p %m%n
CFG

# shellcheck source=deploy/dev-watch.sh
. "$(dirname "$0")/dev-watch.sh"
stop_with_watched_process "$dir"
# zookeeper.jar's manifest names the rest of its class path; the log4j
# binding makes it read the log4j.properties above.
classpath="$jars/zookeeper.jar:$jars/slf4j-log4j12.jar:$jars/log4j-1.2.jar:$dir/conf"
exec "$java" -Xmx256m -cp "$classpath" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/conf/zoo.cfg"
