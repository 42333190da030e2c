#!/usr/bin/env bash
# compat-tests/mariadb.sh start|stop|status|dsn
#
# A throw-away MariaDB for the MySQL-store tests, on 127.0.0.1:${PROPOLIS_MARIADB_PORT:-3306}.
#   start   install mariadb-server with apt-get if mysqld is missing, initialise a datadir under
#           ${PROPOLIS_MARIADB_DIR:-${TMPDIR:-/tmp}/propolis-mariadb}, start mysqld, wait for the port,
#           create database propolis_test, print the DSN (go-sql-driver/mysql form) on stdout.
#   stop    stop the mysqld this script started (by its pid file).
#   status  exit 0 if it is running.
#   dsn     print the DSN.
# The DSN is also what the Go tests read from env PROPOLIS_TEST_MYSQL_DSN, e.g.
#   export PROPOLIS_TEST_MYSQL_DSN="$(compat-tests/mariadb.sh start)"
# root is reachable over TCP from 127.0.0.1 without a password. Progress goes to stderr.
set -euo pipefail

PORT="${PROPOLIS_MARIADB_PORT:-3306}"
DIR="${PROPOLIS_MARIADB_DIR:-${TMPDIR:-/tmp}/propolis-mariadb}"
DB="${PROPOLIS_MARIADB_DB:-propolis_test}"
DATA="$DIR/data"
SOCK="$DIR/mysqld.sock"
PIDF="$DIR/mysqld.pid"
LOG="$DIR/mysqld.log"

say() { printf '[mariadb] %s\n' "$*" >&2; }
die() { printf '[mariadb] ERROR: %s\n' "$*" >&2; exit 1; }
dsn() { echo "root@tcp(127.0.0.1:$PORT)/$DB"; }

find_bin() { for b in "$@"; do command -v "$b" 2>/dev/null && return 0; [ -x "/usr/sbin/$b" ] && { echo "/usr/sbin/$b"; return 0; }; done; return 1; }

running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

client() { "$(find_bin mariadb mysql)" --no-defaults -uroot --socket="$SOCK" "$@"; }

install() {
  if find_bin mariadbd mysqld >/dev/null; then return 0; fi
  say "mysqld missing: apt-get install mariadb-server"
  export DEBIAN_FRONTEND=noninteractive
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq || die "apt-get update failed"
  $sudo apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >&2 \
    || die "could not install mariadb-server with apt-get"
  # Debian starts the packaged service on install; we run our own instance instead.
  $sudo service mariadb stop >/dev/null 2>&1 || true
  find_bin mariadbd mysqld >/dev/null || die "mariadb-server installed but no mysqld/mariadbd found"
}

start() {
  if running; then say "already running (pid $(cat "$PIDF")) on 127.0.0.1:$PORT"; dsn; return 0; fi
  install
  local mysqld; mysqld="$(find_bin mariadbd mysqld)"
  local installdb; installdb="$(find_bin mariadb-install-db mysql_install_db)" || die "mariadb-install-db not found"
  if port_open; then die "127.0.0.1:$PORT is already taken by another process (set PROPOLIS_MARIADB_PORT)"; fi
  mkdir -p "$DIR"
  if [ ! -d "$DATA/mysql" ]; then
    say "initialising datadir $DATA"
    rm -rf "$DATA"
    "$installdb" --no-defaults --datadir="$DATA" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$DIR/install.log" 2>&1 \
      || { tail -20 "$DIR/install.log" >&2; die "mariadb-install-db failed (log: $DIR/install.log)"; }
  fi
  say "starting $mysqld on 127.0.0.1:$PORT (log $LOG)"
  nohup "$mysqld" --no-defaults --datadir="$DATA" --user="$(id -un)" \
    --bind-address=127.0.0.1 --port="$PORT" --socket="$SOCK" --pid-file="$PIDF" \
    --skip-name-resolve --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=1 \
    --max-connections=500 --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
    --log-error="$LOG" </dev/null >/dev/null 2>&1 &
  local i
  for i in $(seq 1 60); do
    if port_open && [ -S "$SOCK" ]; then break; fi
    sleep 0.5
  done
  port_open || { tail -30 "$LOG" >&2 || true; die "mysqld did not open 127.0.0.1:$PORT within 30 s"; }
  client -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
             CREATE DATABASE IF NOT EXISTS \`$DB\`; FLUSH PRIVILEGES;" \
    || die "could not create database $DB / the TCP root user"
  say "ready: $(dsn)"
  dsn
}

stop() {
  if ! running; then say "not running"; return 0; fi
  local pid; pid="$(cat "$PIDF")"
  say "stopping mysqld pid $pid"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { say "stopped"; return 0; }; sleep 0.5; done
  die "mysqld pid $pid did not stop within 30 s"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running && { say "running (pid $(cat "$PIDF"))"; exit 0; } || { say "not running"; exit 1; } ;;
  dsn) dsn ;;
  *) echo "usage: $0 start|stop|status|dsn" >&2; exit 2 ;;
esac
