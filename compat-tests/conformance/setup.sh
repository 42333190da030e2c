#!/usr/bin/env bash
# compat-tests/conformance/setup.sh: download Apache Hive's published metastore test suites and
# everything they need to run (Maven Central, through mvn, into ~/.m2), one class path per suite:
#   ${PROPOLIS_CACHE:-$HOME/.cache/propolis}/conformance/hive-<version>/lib/*.jar
# compat-tests/setup.sh calls it; idempotent (a marker records the pom it was resolved from).
#
#   hive-3.1.3  org.apache.hive:hive-standalone-metastore:3.1.3 (+ classifier tests)
#   hive-4.0.1  org.apache.hive:hive-standalone-metastore-server:4.0.1 (+ classifier tests); the
#               newest 4.x with that test jar on Maven Central (4.1.0 and 4.2.0 publish no
#               hive-standalone-metastore-server artifact)
set -euo pipefail

CACHE="${PROPOLIS_CACHE:-$HOME/.cache/propolis}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MVN="${MVN:-mvn}"

say() { printf '\033[1m[conformance]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[conformance] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

resolve() { # profile version test-jar-name
  local profile="$1" version="$2" jar="$3"
  local home="$CACHE/conformance/hive-$version"
  local want="hive=$version pom=$(sha1sum "$HERE/pom.xml" | cut -c1-12)"
  if [ -f "$home/.propolis-installed" ] && [ "$(cat "$home/.propolis-installed")" = "$want" ]; then
    say "Hive $version metastore test suite already installed ($(ls "$home/lib" | wc -l) jars)"
    return 0
  fi
  command -v "$MVN" >/dev/null || die "Maven ($MVN) not found: apt-get install maven"
  mkdir -p "$home"
  # Maven runs on a copy of the pom in the cache, so nothing is ever written in the checkout.
  cp "$HERE/pom.xml" "$home/pom.xml"
  say "resolving the Hive $version metastore test suite from Maven Central into ~/.m2 (first time: 1-3 minutes)"
  rm -rf "$home/lib.tmp"
  if ! "$MVN" -B -f "$home/pom.xml" -P "$profile" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$home/lib.tmp" \
      -Dorg.slf4j.simpleLogger.log.org.apache.maven.cli.transfer.Slf4jMavenTransferListener=warn \
      >"$home/setup.log" 2>&1; then
    grep -E 'ERROR|Could not|Failed' "$home/setup.log" | head -20 >&2 || tail -20 "$home/setup.log" >&2
    die "Maven could not download the Hive $version test suite (full log: $home/setup.log)"
  fi
  [ -f "$home/lib.tmp/$jar" ] || die "Maven finished but $jar is not in $home/lib.tmp (log: $home/setup.log)"
  rm -rf "$home/lib" && mv "$home/lib.tmp" "$home/lib"
  echo "$want" > "$home/.propolis-installed"
  say "Hive $version metastore test suite: $(ls "$home/lib" | wc -l) jars ($(du -sh "$home/lib" | cut -f1))"
}

resolve hive3 3.1.3 hive-standalone-metastore-3.1.3-tests.jar
resolve hive4 4.0.1 hive-standalone-metastore-server-4.0.1-tests.jar
