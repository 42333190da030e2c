#!/usr/bin/env bash
# compat-tests/hms/hms.sh: a real Apache Hive standalone metastore (from Maven Central) on 127.0.0.1,
# with an embedded Derby database, for the compat tests and `make bench`.
#
#   hms.sh setup                 download the metastore's jars (once) into the cache below
#   hms.sh start DATA_DIR PORT   start a metastore on 127.0.0.1:PORT whose state lives in DATA_DIR;
#                                returns once it answers a Thrift call (get_all_databases)
#   hms.sh stop DATA_DIR         stop the metastore started with that DATA_DIR
#   hms.sh status DATA_DIR       exit 0 if it is running and answers
#   hms.sh version               print the Hive version this script uses
#   hms.sh java                  print the java binary that runs the metastore
#   hms.sh classpath             print the classpath (for java -cp)
#
# Everything downloaded lives OUTSIDE the checkout:
#   ~/.m2/repository                                     Maven's own cache of the jars
#   ${PROPOLIS_CACHE:-$HOME/.cache/propolis}/hms-<ver>/  pom.xml copy, lib/ (the classpath), .propolis-installed
# DATA_DIR gets: conf/metastore-site.xml, conf/metastore-log4j2.properties, metastore_db/ (Derby),
#   warehouse/, hms.log, derby.log, hms.pid, hms.port.
#
# Which Hive: 4.0.1 (hive-standalone-metastore-server, the newest release whose metastore server is
# published on Maven Central; 4.1/4.2 publish only the client/common parts). It runs as is on Java 17.
# Override with HMS_VERSION/HMS_HADOOP_VERSION/HMS_DERBY_VERSION at your own risk.
#
# Environment: PROPOLIS_CACHE, HMS_JAVA_HOME (default /usr/lib/jvm/java-17-openjdk-amd64, else
# JAVA_HOME), HMS_START_TIMEOUT (seconds, default 180), HMS_HEAP (default 1g), HMS_JAVA_OPTS (extra JVM
# options, word-split), MVN (default mvn).
set -euo pipefail

HMS_VERSION="${HMS_VERSION:-4.0.1}"
HMS_HADOOP_VERSION="${HMS_HADOOP_VERSION:-3.3.6}"
HMS_DERBY_VERSION="${HMS_DERBY_VERSION:-10.14.2.0}"
CACHE="${PROPOLIS_CACHE:-$HOME/.cache/propolis}"
HOME_DIR="$CACHE/hms-$HMS_VERSION"
LIB="$HOME_DIR/lib"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START_TIMEOUT="${HMS_START_TIMEOUT:-180}"
HEAP="${HMS_HEAP:-1g}"
MVN="${MVN:-mvn}"
MAIN_CLASS="org.apache.hadoop.hive.metastore.HiveMetaStore"

say() { printf '\033[1m[hms]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[hms] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

java_bin() {
  local jh
  for jh in "${HMS_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 "${JAVA_HOME:-}"; do
    if [ -n "$jh" ] && [ -x "$jh/bin/java" ]; then echo "$jh/bin/java"; return 0; fi
  done
  command -v java || die "no Java found: install OpenJDK 17 or set HMS_JAVA_HOME"
}

# The install marker records what was installed, so changing a version re-runs setup.
want_marker() { echo "hive=$HMS_VERSION hadoop=$HMS_HADOOP_VERSION derby=$HMS_DERBY_VERSION pom=$(sha1sum "$HERE/pom.xml" | cut -c1-12)"; }
installed() { [ -f "$HOME_DIR/.propolis-installed" ] && [ "$(cat "$HOME_DIR/.propolis-installed")" = "$(want_marker)" ]; }

cmd_setup() {
  if installed; then
    say "Hive metastore $HMS_VERSION already installed at $LIB ($(ls "$LIB" | wc -l) jars)"
    return 0
  fi
  command -v "$MVN" >/dev/null || die "Maven ($MVN) not found: apt-get install maven"
  mkdir -p "$HOME_DIR"
  # Maven runs on a copy of the pom in the cache, so nothing (target/) is ever written in the checkout.
  cp "$HERE/pom.xml" "$HOME_DIR/pom.xml"
  say "resolving org.apache.hive:hive-standalone-metastore-server:$HMS_VERSION + hadoop-common $HMS_HADOOP_VERSION + derby $HMS_DERBY_VERSION"
  say "from Maven Central into ~/.m2 (~140 MB, ~190 jars; first time takes 1-3 minutes)"
  rm -rf "$LIB.tmp"
  local log="$HOME_DIR/setup.log"
  if ! "$MVN" -B -f "$HOME_DIR/pom.xml" \
      -Dhive.version="$HMS_VERSION" -Dhadoop.version="$HMS_HADOOP_VERSION" -Dderby.version="$HMS_DERBY_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" \
      -Dorg.slf4j.simpleLogger.log.org.apache.maven.cli.transfer.Slf4jMavenTransferListener=warn \
      >"$log" 2>&1; then
    grep -E 'ERROR|Could not|Failed' "$log" | head -20 >&2 || tail -20 "$log" >&2
    die "Maven could not download the metastore's jars (full log: $log). Is Maven Central (https://repo.maven.apache.org) reachable? Proxy settings go in ~/.m2/settings.xml"
  fi
  say "$(grep -cE 'Copying|Downloaded' "$log" || true) artifacts copied/downloaded"
  [ -f "$LIB.tmp/hive-standalone-metastore-server-$HMS_VERSION.jar" ] \
    || die "Maven finished but hive-standalone-metastore-server-$HMS_VERSION.jar is not in $LIB.tmp (log: $log)"
  rm -rf "$LIB" && mv "$LIB.tmp" "$LIB"
  want_marker > "$HOME_DIR/.propolis-installed"
  say "installed $(ls "$LIB" | wc -l) jars ($(du -sh "$LIB" | cut -f1)) into $LIB"
  say "java: $("$(java_bin)" -version 2>&1 | head -1)"
}

# thrift_ping PORT: sends get_all_databases (binary protocol, unframed) and checks the answer is a
# REPLY message. Pure bash (/dev/tcp), so no client needs to be built first.
thrift_ping() {
  local reply
  reply=$(timeout 10 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
    printf "\x80\x01\x00\x01\x00\x00\x00\x11get_all_databases\x00\x00\x00\x00\x00" >&3
    head -c 4 <&3 | od -An -tx1 | tr -d " \n"' 2>/dev/null) || return 1
  [ "$reply" = "80010002" ]
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() { # prints the pid if DATA_DIR's metastore process is alive
  local pf="$1/hms.pid" pid
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MAIN_CLASS" \
    && echo "$pid"
}

log_tail() {
  local d="$1"
  printf '\033[1;31m[hms] ---- last 40 lines of %s ----\033[0m\n' "$d/hms.log" >&2
  tail -n 40 "$d/hms.log" >&2 2>/dev/null || true
  if [ -s "$d/derby.log" ] && grep -q -iE 'error|exception' "$d/derby.log"; then
    printf '\033[1;31m[hms] ---- last 15 lines of %s ----\033[0m\n' "$d/derby.log" >&2
    tail -n 15 "$d/derby.log" >&2
  fi
}

write_conf() { # DATA_DIR PORT
  local d="$1" port="$2"
  mkdir -p "$d/conf" "$d/warehouse" "$d/warehouse-external"
  cat >"$d/conf/metastore-site.xml" <<EOF
<?xml version="1.0"?>
<!-- written by compat-tests/hms/hms.sh; rewritten on every start -->
<configuration>
  <property><name>javax.jdo.option.ConnectionURL</name><value>jdbc:derby:$d/metastore_db;create=true</value></property>
  <property><name>javax.jdo.option.ConnectionDriverName</name><value>org.apache.derby.jdbc.EmbeddedDriver</value></property>
  <property><name>datanucleus.schema.autoCreateAll</name><value>true</value></property>
  <property><name>metastore.schema.verification</name><value>false</value></property>
  <property><name>hive.metastore.schema.verification</name><value>false</value></property>
  <property><name>metastore.warehouse.dir</name><value>file://$d/warehouse</value></property>
  <property><name>hive.metastore.warehouse.dir</name><value>file://$d/warehouse</value></property>
  <property><name>metastore.warehouse.external.dir</name><value>file://$d/warehouse-external</value></property>
  <property><name>metastore.thrift.port</name><value>$port</value></property>
  <property><name>hive.metastore.port</name><value>$port</value></property>
  <property><name>metastore.thrift.bind.host</name><value>127.0.0.1</value></property>
  <property><name>metastore.event.db.notification.api.auth</name><value>false</value></property>
  <property><name>hive.metastore.event.db.notification.api.auth</name><value>false</value></property>
  <property><name>metastore.stats.autogather</name><value>false</value></property>
</configuration>
EOF
  # WARN by default (the INFO audit log, one line per call, would only slow it down); start-up lines kept.
  cat >"$d/conf/metastore-log4j2.properties" <<EOF
status = WARN
name = PropolisHMS
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %5p [%t] %c{2}: %m%n
rootLogger.level = WARN
rootLogger.appenderRef.console.ref = console
logger.hms.name = org.apache.hadoop.hive.metastore.HiveMetaStore
logger.hms.level = INFO
logger.audit.name = org.apache.hadoop.hive.metastore.HiveMetaStore.audit
logger.audit.level = WARN
EOF
}

cmd_start() {
  [ $# -eq 2 ] || die "usage: hms.sh start DATA_DIR PORT"
  local d port pid java start elapsed
  mkdir -p "$1" || die "cannot create data dir $1"
  d="$(cd "$1" && pwd)"; port="$2"
  [[ "$port" =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
  installed || die "Hive metastore $HMS_VERSION is not installed: run compat-tests/hms/hms.sh setup"

  if pid="$(running_pid "$d")"; then
    if [ "$(cat "$d/hms.port" 2>/dev/null)" = "$port" ] && thrift_ping "$port"; then
      say "already running (pid $pid) on 127.0.0.1:$port with data dir $d"
      return 0
    fi
    die "a metastore (pid $pid) already runs with data dir $d on port $(cat "$d/hms.port" 2>/dev/null): hms.sh stop $d first"
  fi
  port_busy "$port" && die "127.0.0.1:$port is already in use by another process (pick another port)"

  write_conf "$d" "$port"
  java="$(java_bin)"
  say "starting Hive metastore $HMS_VERSION on 127.0.0.1:$port (data: $d, java: $java)"
  if [ ! -d "$d/metastore_db" ]; then
    say "first start with this data dir: Derby creates the metastore schema (can take 30-60 s on 2 cores)"
  fi
  (
    cd "$d"
    # --add-opens: Hadoop/DataNucleus reflection on Java 17 (harmless when not needed).
    exec setsid "$java" -Xmx"$HEAP" -XX:+UseParallelGC \
      --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
      --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
      -Dderby.stream.error.file="$d/derby.log" -Dderby.system.home="$d" \
      ${HMS_JAVA_OPTS:-} \
      -Dlog4j.configurationFile="$d/conf/metastore-log4j2.properties" \
      -Djava.io.tmpdir="$d" \
      -cp "$d/conf:$LIB/*" "$MAIN_CLASS" -p "$port" </dev/null >"$d/hms.log" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$d/hms.pid"
  echo "$port" >"$d/hms.port"
  start=$(date +%s)
  while :; do
    elapsed=$(( $(date +%s) - start ))
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$d"
      rm -f "$d/hms.pid"
      die "the metastore process exited during start-up (after ${elapsed}s); log above, full log: $d/hms.log"
    fi
    if thrift_ping "$port"; then
      say "ready after ${elapsed}s: thrift://127.0.0.1:$port (pid $pid)"
      return 0
    fi
    if [ "$elapsed" -ge "$START_TIMEOUT" ]; then
      log_tail "$d"
      kill "$pid" 2>/dev/null || true
      rm -f "$d/hms.pid"
      die "the metastore did not answer get_all_databases on 127.0.0.1:$port within ${START_TIMEOUT}s (stopped it)"
    fi
    if [ "$elapsed" -gt 0 ] && [ $((elapsed % 10)) -eq 0 ]; then say "  waiting for the metastore... ${elapsed}s"; fi
    sleep 1
  done
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: hms.sh stop DATA_DIR"
  local d="$1" pid i
  [ -d "$d" ] || { say "no data dir $d: nothing to stop"; return 0; }
  if ! pid="$(running_pid "$d")"; then
    rm -f "$d/hms.pid"
    say "not running (data dir $d)"
    return 0
  fi
  say "stopping metastore pid $pid"
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "still alive after 30 s: kill -9 $pid"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$d/hms.pid"
  say "stopped"
}

cmd_status() {
  [ $# -eq 1 ] || die "usage: hms.sh status DATA_DIR"
  local pid port
  pid="$(running_pid "$1")" || { say "not running"; return 1; }
  port="$(cat "$1/hms.port")"
  thrift_ping "$port" || { say "pid $pid alive but 127.0.0.1:$port does not answer"; return 1; }
  say "running: pid $pid, thrift://127.0.0.1:$port"
}

case "${1:-}" in
  setup) shift; cmd_setup "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  version) echo "$HMS_VERSION" ;;
  java) java_bin ;;
  classpath) installed || die "not installed: run hms.sh setup"; echo "$LIB/*" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
