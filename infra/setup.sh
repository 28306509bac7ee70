#!/usr/bin/env bash
# Install whatever is missing, and nothing else: system packages (Java 17, Maven, PostgreSQL),
# the Python environment (.venv, pinned by constraints.txt) and the Java artifacts (infra/maven/pom.xml).
# Safe to run again: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=${STREAMPULSE_STATE_DIR:-$ROOT/.state}
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
started=$(date +%s)

# --- system packages (Debian) ---------------------------------------------------------------------
apt_missing=()
java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then JAVA_BIN=$JAVA_HOME/bin/java; else JAVA_BIN=$(command -v java || true); fi
if [ -z "$JAVA_BIN" ] || [ "$(java_major "$JAVA_BIN")" -lt 17 ] 2>/dev/null; then apt_missing+=(openjdk-17-jre-headless); fi
command -v mvn >/dev/null || apt_missing+=(maven)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || apt_missing+=(postgresql)
# The dashboard's browser test drives Debian's Chromium (Playwright never downloads a browser here).
command -v chromium >/dev/null || apt_missing+=(chromium)
# The REST API benchmark's load generator (bench/api_load.py).
command -v wrk >/dev/null || apt_missing+=(wrk)
PY=""
for candidate in python3.11 python3.12 python3.10 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'; then
    PY=$(command -v "$candidate"); break
  fi
done
[ -n "$PY" ] || apt_missing+=(python3 python3-venv)
if [ -n "$PY" ] && ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then apt_missing+=(python3-venv); fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  log "installing Debian packages: ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  [ -n "$PY" ] || PY=$(command -v python3)
fi

# --- Python environment -----------------------------------------------------------------------------
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
py_stamp=$(stamp_of pyproject.toml constraints.txt)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.streampulse-stamp 2>/dev/null)" != "$py_stamp" ]; then
  log "creating the Python environment in .venv with $PY (pinned by constraints.txt; first time takes 2-3 minutes)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --progress-bar on -c constraints.txt -e '.[dev]'
  echo "$py_stamp" > .venv/.streampulse-stamp
else
  log "Python environment up to date"
fi

# --- Java artifacts (Kafka broker, Flink connectors, schema registry) --------------------------------
jar_stamp=$(stamp_of infra/maven/pom.xml)
if [ "$(cat "$STATE/lib/.stamp" 2>/dev/null)" != "$jar_stamp" ]; then
  log "fetching Java artifacts from Maven Central into $STATE/lib"
  # Build into a fresh folder, then swap: no stale jar of an older version survives.
  rm -rf "$STATE/lib.new"
  mkdir -p "$STATE/lib.new"
  mvn -q -B -f infra/maven/pom.xml -Dstreampulse.lib="$STATE/lib.new" package
  echo "$jar_stamp" > "$STATE/lib.new/.stamp"
  rm -rf "$STATE/lib.old"
  [ ! -d "$STATE/lib" ] || mv "$STATE/lib" "$STATE/lib.old"
  mv "$STATE/lib.new" "$STATE/lib"
  rm -rf "$STATE/lib.old"
else
  log "Java artifacts up to date"
fi

# --- StreamPulse's Flink functions (flink_jobs/udf), into the jars that travel with the job ---------
udf_stamp=$(stamp_of flink_jobs/udf/pom.xml $(find flink_jobs/udf/src -type f | sort))
if [ "$(cat "$STATE/lib/.udf-stamp" 2>/dev/null)" != "$udf_stamp" ]; then
  log "building the Flink functions (flink_jobs/udf)"
  # Its tests (flink_jobs/udf/src/test) run in `make check` (tests/unit/test_flink_udf.py), not here.
  mvn -q -B -f flink_jobs/udf/pom.xml -Dstreampulse.lib="$STATE/lib" -Dmaven.test.skip=true package
  echo "$udf_stamp" > "$STATE/lib/.udf-stamp"
else
  log "Flink functions up to date"
fi
log "done in $(( $(date +%s) - started )) s"
