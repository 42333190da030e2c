#!/usr/bin/env bash
# compat-tests/moto/moto.sh: moto's server (PyPI: moto[server]), which emulates AWS Glue and S3 on
# one HTTP endpoint, for the Glue backend's tests and the federation compat tests.
#
#   moto.sh setup              install moto[server] (pinned) into its own venv (once; idempotent)
#   moto.sh start DIR PORT     start moto_server on 127.0.0.1:PORT in the background; state (pid
#                              file, log) lives in DIR; returns once the port answers HTTP
#   moto.sh stop DIR           stop the server started with that DIR
#   moto.sh status DIR         exit 0 if it is running and answers
#   moto.sh version            print the moto version this script installs
#   moto.sh bin                print the moto_server path (fails when not installed)
#
# Everything installed lives OUTSIDE the checkout:
#   ${PROPOLIS_CACHE:-$HOME/.cache/propolis}/moto-venv/   the venv, with .propolis-installed marker
# DIR gets: moto.pid, moto.port, moto.log.
#
# Environment: PROPOLIS_CACHE, MOTO_VERSION (default below), MOTO_PYTHON (default python3),
# MOTO_START_TIMEOUT (seconds, default 60).
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
CACHE="${PROPOLIS_CACHE:-$HOME/.cache/propolis}"
VENV="$CACHE/moto-venv"
PY="${MOTO_PYTHON:-python3}"
START_TIMEOUT="${MOTO_START_TIMEOUT:-60}"

say() { printf '\033[1m[moto]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[moto] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

want_marker() { echo "moto[server]==$MOTO_VERSION"; }
installed() {
  [ -f "$VENV/.propolis-installed" ] && [ "$(cat "$VENV/.propolis-installed")" = "$(want_marker)" ] \
    && [ -x "$VENV/bin/moto_server" ]
}

cmd_setup() {
  if installed; then
    say "moto $MOTO_VERSION already installed at $VENV"
    return 0
  fi
  command -v "$PY" >/dev/null || die "no $PY found: install Python 3 (apt-get install python3 python3-venv) or set MOTO_PYTHON"
  mkdir -p "$CACHE"
  : >"$CACHE/moto-setup.log"
  # An existing venv (another moto version) is upgraded in place, so a failed pip run leaves the
  # old install and its marker untouched. Only a missing or broken venv is (re)created.
  if [ ! -x "$VENV/bin/pip" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    say "creating venv $VENV with $("$PY" --version 2>&1)"
    if ! "$PY" -m venv "$VENV" >>"$CACHE/moto-setup.log" 2>&1; then
      cat "$CACHE/moto-setup.log" >&2
      rm -rf "$VENV"
      die "$PY -m venv failed (apt-get install python3-venv?); log: $CACHE/moto-setup.log"
    fi
  fi
  say "pip install 'moto[server]==$MOTO_VERSION' from PyPI (~40 packages, first time takes 1-2 minutes)"
  # pip's own progress goes to the terminal (one line per package) and, in full, to the log.
  local rc
  { rc=0; "$VENV/bin/pip" install --disable-pip-version-check --progress-bar off "moto[server]==$MOTO_VERSION" 2>&1 || rc=$?
    echo "$rc" >"$CACHE/moto-setup.rc"; } \
    | tee -a "$CACHE/moto-setup.log" | { grep --line-buffered -E '^(Collecting|Successfully|ERROR)' | cut -c1-200 >&2 || true; } || true
  rc="$(cat "$CACHE/moto-setup.rc" 2>/dev/null || echo 1)"
  if [ "$rc" != 0 ] || [ ! -x "$VENV/bin/moto_server" ]; then
    # pip's ERROR lines were shown above; anything else (a crash, a venv problem) shows as the log's tail.
    grep -q '^ERROR' "$CACHE/moto-setup.log" || tail -20 "$CACHE/moto-setup.log" | cut -c1-300 >&2
    die "pip could not install moto[server]==$MOTO_VERSION (exit $rc; full log: $CACHE/moto-setup.log). Is PyPI reachable?"
  fi
  want_marker > "$VENV/.propolis-installed"
  say "installed moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)') into $VENV"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_ping PORT: moto_server answers GET /moto-api/ (its dashboard API) once it is up.
http_ping() {
  local status
  status=$(timeout 5 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
    printf "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    head -c 12 <&3' 2>/dev/null) || return 1
  [[ "$status" == HTTP/1.?\ 2* ]]
}

running_pid() { # prints the pid if DIR's moto_server is alive
  local pf="$1/moto.pid" pid
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server \
    && echo "$pid"
}

log_tail() {
  printf '\033[1;31m[moto] ---- last 40 lines of %s ----\033[0m\n' "$1/moto.log" >&2
  tail -n 40 "$1/moto.log" >&2 2>/dev/null || true
}

cmd_start() {
  [ $# -eq 2 ] || die "usage: moto.sh start DIR PORT"
  local d port pid start elapsed
  mkdir -p "$1" || die "cannot create dir $1"
  d="$(cd "$1" && pwd)"; port="$2"
  [[ "$port" =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
  installed || die "moto server is not installed: run compat-tests/moto/moto.sh setup"

  if pid="$(running_pid "$d")"; then
    if [ "$(cat "$d/moto.port" 2>/dev/null)" = "$port" ] && http_ping "$port"; then
      say "already running (pid $pid) on http://127.0.0.1:$port"
      return 0
    fi
    die "a moto server (pid $pid) already runs with dir $d on port $(cat "$d/moto.port" 2>/dev/null): moto.sh stop $d first"
  fi
  port_busy "$port" && die "127.0.0.1:$port is already in use by another process (pick another port)"

  say "starting moto $MOTO_VERSION on http://127.0.0.1:$port (dir $d)"
  (
    cd "$d"
    exec setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$d/moto.log" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$d/moto.pid"
  echo "$port" >"$d/moto.port"
  start=$(date +%s)
  while :; do
    elapsed=$(( $(date +%s) - start ))
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$d"
      rm -f "$d/moto.pid"
      die "moto_server exited during start-up (after ${elapsed}s); log above, full log: $d/moto.log"
    fi
    if http_ping "$port"; then
      say "ready after ${elapsed}s: http://127.0.0.1:$port (pid $pid)"
      return 0
    fi
    if [ "$elapsed" -ge "$START_TIMEOUT" ]; then
      log_tail "$d"
      kill "$pid" 2>/dev/null || true
      rm -f "$d/moto.pid"
      die "moto_server did not answer on 127.0.0.1:$port within ${START_TIMEOUT}s (stopped it)"
    fi
    sleep 0.3
  done
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: moto.sh stop DIR"
  local d="$1" pid i
  [ -d "$d" ] || { say "no dir $d: nothing to stop"; return 0; }
  if ! pid="$(running_pid "$d")"; then
    rm -f "$d/moto.pid"
    say "not running (dir $d)"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "still alive after 10 s: kill -9 $pid"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$d/moto.pid"
  say "stopped (pid $pid)"
}

cmd_status() {
  [ $# -eq 1 ] || die "usage: moto.sh status DIR"
  local pid port
  pid="$(running_pid "$1")" || { say "not running"; return 1; }
  port="$(cat "$1/moto.port")"
  http_ping "$port" || { say "pid $pid alive but 127.0.0.1:$port does not answer"; return 1; }
  say "running: pid $pid, http://127.0.0.1:$port"
}

case "${1:-}" in
  setup) shift; cmd_setup "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  version) echo "$MOTO_VERSION" ;;
  bin) installed || die "moto server is not installed: run compat-tests/moto/moto.sh setup"; echo "$VENV/bin/moto_server" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
