#!/usr/bin/env bash
# compat-tests/setup.sh: install the real peers the compat tests run against Propolis.
#
# Everything goes into a cache OUTSIDE the checkout (re-used by every clone and by CI):
#   ${PROPOLIS_CACHE:-$HOME/.cache/propolis}/
#     venv/                      Python venv: pyspark 3.5.x, pyiceberg[hive,pyarrow]
#     trino/trino-server-VER/    Trino server, unpacked from Maven Central, plugins pruned to hive
#     trino/jvm.config           the JVM config the tests hand to Trino
#     downloads/                 archives while being downloaded and verified (deleted after unpacking)
#   and, through their own scripts: hms-<ver>/ (compat-tests/hms/hms.sh setup: a real Hive Metastore),
#   moto (compat-tests/moto/moto.sh setup: the S3/Glue emulator).
#
# Idempotent: a step whose result is already in place (and whose recorded version matches) is skipped.
# Needs: python3 (>=3.9), curl, tar, sha1sum; Java 17 for Spark; a Java >= 24 (Temurin 25) for Trino.
set -euo pipefail

CACHE="${PROPOLIS_CACHE:-$HOME/.cache/propolis}"
PYSPARK_VERSION="${PYSPARK_VERSION:-3.5.9}"
PYICEBERG_VERSION="${PYICEBERG_VERSION:-0.12.0}"
TRINO_VERSION="${TRINO_VERSION:-476}"
MAVEN_REPO="${MAVEN_REPO:-https://repo1.maven.org/maven2}"
PYTHON="${PYTHON:-python3}"

say()  { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31m[setup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

mkdir -p "$CACHE/downloads" "$CACHE/trino"
say "cache: $CACHE"

# ---------------------------------------------------------------- Java
JAVA17_HOME="${JAVA17_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"
TRINO_JAVA_HOME="${TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
[ -x "$JAVA17_HOME/bin/java" ] || die "Java 17 not found at $JAVA17_HOME (Spark 3.5 needs it; set JAVA17_HOME)"
[ -x "$TRINO_JAVA_HOME/bin/java" ] || die "Java >= 24 not found at $TRINO_JAVA_HOME (Trino $TRINO_VERSION needs it; set TRINO_JAVA_HOME)"
say "java for spark: $("$JAVA17_HOME/bin/java" -version 2>&1 | head -1)"
say "java for trino: $("$TRINO_JAVA_HOME/bin/java" -version 2>&1 | head -1)"

# ---------------------------------------------------------------- Python venv
VENV="$CACHE/venv"
DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
want_py="pyspark==$PYSPARK_VERSION pyiceberg[hive,pyarrow]==$PYICEBERG_VERSION duckdb==$DUCKDB_VERSION"
if [ -f "$VENV/.propolis-installed" ] && [ "$(cat "$VENV/.propolis-installed")" = "$want_py" ]; then
  say "python venv up to date ($want_py)"
else
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create a Python venv with $PYTHON (apt-get install python3-venv?)"
  fi
  say "pip install $want_py (pyspark is a ~320 MB download; built once, then served from pip's cache)"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --progress-bar on $want_py \
    || die "pip could not download/install: $want_py (from PyPI)"
  "$VENV/bin/python" -c 'import pyspark, pyiceberg, pyarrow, pyarrow.flight, thrift, duckdb' \
    || die "the venv at $VENV cannot import pyspark/pyiceberg/pyarrow(.flight)/thrift/duckdb after install"
  echo "$want_py" > "$VENV/.propolis-installed"
fi
say "pyspark $("$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)'), pyiceberg $("$VENV/bin/python" -c 'import pyiceberg; print(pyiceberg.__version__)')"

# ---------------------------------------------------------------- hadoop-aws for Spark's s3a
# Spark reads worker-path tables through s3a: hadoop-aws matching pyspark's Hadoop (3.3.4) and
# the AWS SDK bundle it was built against, from Maven Central, checked against their .sha1.
JARS="$CACHE/jars"
mkdir -p "$JARS"
fetch_jar() { # group-path artifact version
  local url="$MAVEN_REPO/$1/$2/$3/$2-$3.jar" out="$JARS/$2-$3.jar"
  if [ -f "$out" ]; then return 0; fi
  local sha1
  sha1="$(curl -fsSL --retry 3 "$url.sha1" | awk '{print $1}')" || die "could not download $url.sha1"
  say "downloading $2-$3.jar from Maven Central"
  curl -fL --retry 5 --retry-delay 3 --progress-bar -o "$out.part" "$url" || { rm -f "$out.part"; die "could not download $url"; }
  echo "$sha1  $out.part" | sha1sum -c --quiet - || { rm -f "$out.part"; die "checksum mismatch for $url"; }
  mv "$out.part" "$out"
}
fetch_jar org/apache/hadoop hadoop-aws 3.3.4
fetch_jar com/amazonaws aws-java-sdk-bundle 1.12.262
say "s3a jars ready in $JARS"

# ---------------------------------------------------------------- Trino
TRINO_HOME="$CACHE/trino/trino-server-$TRINO_VERSION"
if [ -f "$TRINO_HOME/.propolis-installed" ]; then
  say "trino $TRINO_VERSION already unpacked at $TRINO_HOME"
else
  base="$MAVEN_REPO/io/trino/trino-server/$TRINO_VERSION/trino-server-$TRINO_VERSION.tar.gz"
  tgz="$CACHE/downloads/trino-server-$TRINO_VERSION.tar.gz"
  say "fetching sha1 of $base"
  sha1="$(curl -fsSL --retry 3 "$base.sha1" | awk '{print $1}')" || die "could not download $base.sha1"
  [ -n "$sha1" ] || die "empty sha1 from $base.sha1"
  if [ -f "$tgz" ] && [ "$(sha1sum "$tgz" | awk '{print $1}')" = "$sha1" ]; then
    say "archive already downloaded and verified"
  else
    say "downloading Trino $TRINO_VERSION (~800 MB) from Maven Central"
    # -C - resumes a partial download from an earlier, interrupted run.
    curl -fL --retry 5 --retry-delay 3 -C - --progress-bar -o "$tgz" "$base" \
      || { rm -f "$tgz"; die "could not download $base"; }
    got="$(sha1sum "$tgz" | awk '{print $1}')"
    [ "$got" = "$sha1" ] || { rm -f "$tgz"; die "sha1 mismatch for $base: got $got, want $sha1 (archive deleted, re-run)"; }
    say "sha1 verified: $sha1"
  fi
  say "unpacking into $CACHE/trino"
  rm -rf "$TRINO_HOME"
  tar -xzf "$tgz" -C "$CACHE/trino" || die "could not unpack $tgz"
  # Prune every plugin but hive: saves ~85% of the disk and a lot of Trino's start-up time.
  for p in "$TRINO_HOME"/plugin/*; do
    case "$(basename "$p")" in hive) ;; *) rm -rf "$p" ;; esac
  done
  [ -d "$TRINO_HOME/plugin/hive" ] || die "no plugin/hive in the Trino $TRINO_VERSION archive"
  touch "$TRINO_HOME/.propolis-installed"
  rm -f "$tgz"
fi
cat > "$CACHE/trino/jvm.config" <<JVM
-server
-Xmx2G
-XX:InitialRAMPercentage=10
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:+HeapDumpOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-XX:+EnableDynamicAgentLoading
JVM
echo "$TRINO_HOME" > "$CACHE/trino/current"
echo "$TRINO_JAVA_HOME" > "$CACHE/trino/java-home"
echo "$JAVA17_HOME" > "$CACHE/java17-home"
say "trino $TRINO_VERSION ready at $TRINO_HOME ($(du -sh "$TRINO_HOME" | cut -f1))"

# ---------------------------------------------------------------- reference Hive Metastore
# compat-tests/hms/hms.sh installs a real Apache Hive standalone metastore (jars from Maven Central)
# for the side-by-side tests; it keeps its own idempotence marker.
# compat-tests/moto/moto.sh installs moto[server] (the S3/Glue emulator, from PyPI) likewise.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -f "$HERE/hms/hms.sh" ]; then
  say "reference Hive Metastore: compat-tests/hms/hms.sh setup"
  bash "$HERE/hms/hms.sh" setup || die "compat-tests/hms/hms.sh setup failed: could not download the Hive Metastore jars from Maven Central"
fi
if [ -f "$HERE/conformance/setup.sh" ]; then
  say "Apache Hive's metastore test suites: compat-tests/conformance/setup.sh"
  bash "$HERE/conformance/setup.sh" || die "compat-tests/conformance/setup.sh failed: could not download Hive's metastore test jars from Maven Central"
fi
if [ -f "$HERE/moto/moto.sh" ]; then
  say "moto server: compat-tests/moto/moto.sh setup"
  bash "$HERE/moto/moto.sh" setup || die "compat-tests/moto/moto.sh setup failed: could not install moto[server] from PyPI"
fi
say "done"
