#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster and Redis server on the loopback.
#
#   tests/services/with-postgres-and-redis.sh .venv/bin/python -m pytest
#
# Both live in a fresh temporary folder, listen on free ports of 127.0.0.1 only, and are stopped
# and deleted when the command ends, however it ends. The command sees the scale-out settings
# (CONTEST_SQLALCHEMY_DATABASE_URI, CONTEST_HUEY_URL, CONTEST_RATELIMIT_STORAGE_URI); the test
# fixtures make a database per test on that PostgreSQL server (tests/databases.py).
# Debian's packages provide the servers (`make test-postgres` installs them when missing).
set -euo pipefail

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    exit 1
fi
command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The cluster lives in memory when the machine has a tmpfs with room for it (/dev/shm): a test's
# database is made and dropped as a few hundred files, and on this machine's ext4 that took
# 90 to 400 ms of CPU a database, against 25 ms on tmpfs. Nothing in it outlives the run.
services_tmp=${TMPDIR:-/tmp}
if [[ -d /dev/shm && -w /dev/shm ]] &&
    (($(df -Pk /dev/shm | awk 'NR == 2 {print $4}') > 2 * 1024 * 1024)); then
    services_tmp=/dev/shm
fi
root=$(mktemp -d -p "$services_tmp" contest-services-XXXXXX)
chmod 755 "$root"
# initdb refuses to run as root: as root, the cluster belongs to Debian's postgres user.
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$root"
    as_owner=(runuser -u postgres --)
fi

pg_port=$(free_port)
redis_port=$(free_port)
pg_data="$root/pgdata"

stop_services() {
    status=$?
    "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
    if [[ -f "$root/redis.pid" ]]; then kill "$(cat "$root/redis.pid")" 2>/dev/null || true; fi
    for _ in $(seq 50); do [[ -e "$root/redis.pid" ]] || break; sleep 0.1; done
    rm -rf "$root"
    exit "$status"
}
trap stop_services EXIT INT TERM

"${as_owner[@]}" "$PG_BIN/initdb" -D "$pg_data" -U contest --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$root/initdb.log" 2>&1 || { cat "$root/initdb.log" >&2; exit 1; }
# A throwaway cluster: durability off (fsync, full-page writes) makes the per-test databases
# cheap; nothing in it outlives the run.
"${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$pg_data" -l "$root/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$root \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$root/postgres.log" >&2; exit 1; }
"${as_owner[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U contest contest

"${as_owner[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --daemonize yes --pidfile "$root/redis.pid" --logfile "$root/redis.log" --dir "$root"
for _ in $(seq 100); do
    redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done

export CONTEST_SQLALCHEMY_DATABASE_URI="postgresql+psycopg://contest@127.0.0.1:$pg_port/contest"
export CONTEST_HUEY_URL="redis://127.0.0.1:$redis_port/0"
export CONTEST_RATELIMIT_STORAGE_URI="redis://127.0.0.1:$redis_port/1"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port," \
    "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$redis_port"
"$@"
