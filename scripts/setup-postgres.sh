#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the chainseal log-server tests.
#
# Installs PostgreSQL from Debian if absent, inits a cluster under a temp dir as the
# `postgres` user (root cannot run postgres), starts it on 127.0.0.1:<port>, creates a
# database, and prints `export CHAINSEAL_TEST_POSTGRES_URL=…` (also written to
# target/postgres-url, which the tests read when the variable is unset).
#
#   eval "$(scripts/setup-postgres.sh)"        # port defaults to 55432
#   PORT=5433 scripts/setup-postgres.sh
#   scripts/setup-postgres.sh stop
set -euo pipefail

PORT="${PORT:-55432}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${TMPDIR:-/tmp}/chainseal-pg-$PORT"
DB=chainseal_test

find_bin() {
  local b="$1"
  if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
  ls /usr/lib/postgresql/*/bin/"$b" 2>/dev/null | sort -V | tail -1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

if [ "${1:-}" = stop ]; then
  PG_CTL="$(find_bin pg_ctl)"
  as_pg "'$PG_CTL' -D '$STATE/data' -m immediate stop" >&2 || true
  exit 0
fi

if [ -z "$(find_bin initdb)" ] || [ -z "$(find_bin pg_ctl)" ]; then
  echo "installing PostgreSQL from Debian…" >&2
  apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
fi
INITDB="$(find_bin initdb)"
PG_CTL="$(find_bin pg_ctl)"
PSQL="$(find_bin psql)"
id postgres >/dev/null 2>&1 || useradd --system --create-home postgres

if ! as_pg "'$PG_CTL' -D '$STATE/data' status" >/dev/null 2>&1; then
  rm -rf "$STATE"
  mkdir -p "$STATE"
  chown postgres "$STATE" 2>/dev/null || true
  as_pg "'$INITDB' -D '$STATE/data' -U postgres --auth=trust -E UTF8" >&2
  as_pg "'$PG_CTL' -D '$STATE/data' -l '$STATE/log' -w \
    -o \"-c listen_addresses=127.0.0.1 -p $PORT -k '$STATE' -c fsync=on -c max_connections=200\" start" >&2
fi
"$PSQL" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
  | grep -q 1 || "$PSQL" -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE $DB" >&2

URL="postgres://postgres@127.0.0.1:$PORT/$DB"
mkdir -p "$ROOT/target"
printf '%s\n' "$URL" > "$ROOT/target/postgres-url"
echo "export CHAINSEAL_TEST_POSTGRES_URL=$URL"
