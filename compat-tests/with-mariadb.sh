#!/usr/bin/env bash
# compat-tests/with-mariadb.sh CMD [ARGS...]: run CMD with PROPOLIS_TEST_MYSQL_DSN set.
# If the variable is already set, CMD just runs. Otherwise a MariaDB is started with
# compat-tests/mariadb.sh (installed with apt-get if missing), and stopped again after CMD
# unless it was already running before.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${PROPOLIS_TEST_MYSQL_DSN:-}" ]; then
  exec "$@"
fi
started=0
if ! "$HERE/mariadb.sh" status >/dev/null 2>&1; then started=1; fi
PROPOLIS_TEST_MYSQL_DSN="$("$HERE/mariadb.sh" start)"
export PROPOLIS_TEST_MYSQL_DSN
echo "[with-mariadb] PROPOLIS_TEST_MYSQL_DSN=$PROPOLIS_TEST_MYSQL_DSN" >&2
if [ "$started" = 1 ]; then trap '"$HERE/mariadb.sh" stop' EXIT; fi
rc=0
"$@" || rc=$?
exit "$rc"
