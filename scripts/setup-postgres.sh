#!/usr/bin/env bash
# A project-local PostgreSQL server for the dbt package's integration tests (and anyone who wants one):
#   bash scripts/setup-postgres.sh          install (apt-get, when its binaries are missing), initdb, start, create db
#   bash scripts/setup-postgres.sh stop     stop the server (the data directory is kept)
# Idempotent and quick when the server already runs. It listens on 127.0.0.1 only, on port $ACTIVATION_PG_PORT
# (default 54329), trusts loopback connections, and keeps its data in <repo>/.pg/data (gitignored).
# Prints the connection as shell assignments on stdout (ACTIVATION_PG_HOST=…), everything else goes to stderr.
# Concurrent callers (parallel test runs) are serialized by a lock file; the server is shared, callers use own schemas.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${ACTIVATION_PG_PORT:-54329}"
host=127.0.0.1
user=postgres
database="${ACTIVATION_PG_DATABASE:-activation}"
pgdir="$root/.pg"
data="$pgdir/data"
logfile="$pgdir/postgres.log"

log() { echo "setup-postgres: $*" >&2; }

find_bindir() {
  local candidate
  if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/pg_ctl" ]; then echo "$PG_BINDIR"; return 0; fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/initdb" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir="$(find_bindir || true)"

if [ "${1:-}" = "stop" ]; then
  if [ -n "$bindir" ] && [ -f "$data/postmaster.pid" ]; then
    as_postgres "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2 || true
  else
    log "not running"
  fi
  exit 0
fi

if [ -z "$bindir" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin) and installing them needs root: run as root, or"
    log "  sudo apt-get install -y postgresql   (or set PG_BINDIR to a directory holding pg_ctl and initdb)"
    exit 1
  fi
  log "installing postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # Debian's postgresql-common creates and starts a default cluster on port 5432 unless told not to.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/50-activation-no-main.conf
  apt-get install -y -qq --no-install-recommends postgresql >&2
  bindir="$(find_bindir)" || { log "postgresql installed but pg_ctl not found"; exit 1; }
fi

mkdir -p "$pgdir"
exec 9>"$pgdir/setup.lock"
flock 9

ready() { "$bindir/pg_isready" -q -h "$host" -p "$port" -U "$user" >/dev/null 2>&1; }

if ! ready; then
  # The server runs as the postgres user (initdb and postgres refuse root), so it must own its directories.
  if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    chown postgres:postgres "$pgdir"
    touch "$logfile" && chown postgres:postgres "$logfile"
  fi
  if [ ! -s "$data/PG_VERSION" ]; then
    log "initdb into $data"
    rm -rf "$data"
    as_postgres mkdir -p "$data"
    as_postgres "$bindir/initdb" -D "$data" -U "$user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2 \
      || as_postgres "$bindir/initdb" -D "$data" -U "$user" --auth=trust --encoding=UTF8 --no-locale >&2
  fi
  # A stale pid file from a crash would make pg_ctl refuse to start.
  if [ -f "$data/postmaster.pid" ] && ! as_postgres "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    rm -f "$data/postmaster.pid"
  fi
  log "starting on $host:$port"
  # Loopback TCP only; the unix socket goes in the data directory, not /var/run/postgresql (may not exist).
  as_postgres "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
    -o "-c listen_addresses=$host -p $port -c unix_socket_directories='$data' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2 9>&- || { log "start failed; last log lines:"; tail -n 20 "$logfile" >&2; exit 1; }
  for _ in $(seq 1 50); do ready && break; sleep 0.2; done
  ready || { log "server did not become ready"; tail -n 20 "$logfile" >&2; exit 1; }
fi

if ! "$bindir/psql" -h "$host" -p "$port" -U "$user" -d postgres -Atqc \
  "select 1 from pg_database where datname = '$database'" | grep -q 1; then
  log "creating database $database"
  "$bindir/createdb" -h "$host" -p "$port" -U "$user" "$database" >&2
fi

echo "ACTIVATION_PG_HOST=$host"
echo "ACTIVATION_PG_PORT=$port"
echo "ACTIVATION_PG_USER=$user"
echo "ACTIVATION_PG_DATABASE=$database"
echo "PG_BINDIR=$bindir"
