#!/usr/bin/env bash
# A 2-node Patroni cluster (PostgreSQL 15 from Debian) whose DCS is one member of
# ectd, reached through Patroni's `etcd3` DCS, which speaks the JSON gateway.
# Shows that
#   1. a primary is elected and the other node follows it as a replica;
#   2. a row written on the primary (psql) reaches the replica;
#   3. after `kill -9` of the primary's Patroni and postgres, the replica is
#      promoted within FAILOVER_BOUND seconds.
#
# Usage: patroni_check.sh [--against ectd|etcd]   (default ectd; etcd is the control)
# Patroni and PostgreSQL run as the `postgres` user; everything listens on
# 127.0.0.1 on free ports, and everything started here is stopped on exit.
set -euo pipefail

AGAINST="${CONSUMERS_AGAINST:-ectd}"
if [ "${1:-}" = "--against" ]; then AGAINST="$2"; fi
VENV="${CONSUMERS_VENV:-/var/tmp/ectd-consumers-venv}"
PG_BIN=/usr/lib/postgresql/15/bin
# Leader key TTL 20 s (Patroni's minimum), loop every 2 s: the replica may take
# the leader key about 20 s after the primary stops renewing it.
TTL=20
FAILOVER_BOUND=45
SU_PASSWORD=consumer-check-su
export PGCONNECT_TIMEOUT=3

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "patroni_check.sh runs as root (it starts Patroni as the postgres user)" >&2
  exit 2
fi
[ -x "$PG_BIN/postgres" ] || { echo "error: $PG_BIN/postgres missing (apt-get install postgresql)" >&2; exit 1; }
[ -x "$VENV/bin/patroni" ] || { echo "error: $VENV/bin/patroni missing (run scripts/consumers/run.sh)" >&2; exit 1; }

work="$(mktemp -d /tmp/ectd-patroni-XXXXXX)"
chmod 755 "$work"
declare -A PATRONI_PID=()
started=$SECONDS

# The postmaster of a node (first line of postmaster.pid) and its children.
postgres_pids() {
  local pidfile="$work/$1/data/postmaster.pid" pm
  [ -f "$pidfile" ] || return 0
  pm="$(head -n1 "$pidfile" 2>/dev/null || true)"
  [ -n "$pm" ] || return 0
  echo "$pm"
  ps -o pid= --ppid "$pm" 2>/dev/null || true
}

cleanup() {
  local rc=$? node pids
  for node in "${!PATRONI_PID[@]}"; do
    kill "${PATRONI_PID[$node]}" 2>/dev/null || true
  done
  sleep 1
  for node in "${!PATRONI_PID[@]}"; do
    pids="$(postgres_pids "$node")"
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    kill -9 "${PATRONI_PID[$node]}" 2>/dev/null || true
    { wait "${PATRONI_PID[$node]}"; } 2>/dev/null || true
  done
  stop_member
  if [ $rc -ne 0 ]; then
    for f in "$work"/member.log "$work"/node*/patroni.log; do
      [ -f "$f" ] || continue
      echo "--- last lines of $f ---"
      tail -n 25 "$f"
    done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
# A signal ends the check as a failure; the EXIT trap then cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL (patroni on $AGAINST): $*" >&2
  exit 1
}

start_member "$AGAINST" "$work"
dcs_host="${MEMBER_ENDPOINT#http://}"

declare -A API_PORT=() PG_PORT=()
for node in node1 node2; do
  API_PORT[$node]="$(free_port)"
  PG_PORT[$node]="$(free_port)"
  mkdir -p "$work/$node/data"
  chmod 700 "$work/$node/data"
  cat >"$work/$node/patroni.yml" <<EOF
scope: consumer-check
name: $node
log:
  level: INFO
restapi:
  listen: 127.0.0.1:${API_PORT[$node]}
  connect_address: 127.0.0.1:${API_PORT[$node]}
etcd3:
  hosts: $dcs_host
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: false
      parameters:
        wal_level: replica
        max_wal_senders: 5
        max_replication_slots: 5
        hot_standby: "on"
  initdb:
    - encoding: UTF8
    - auth: md5
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5
postgresql:
  listen: 127.0.0.1:${PG_PORT[$node]}
  connect_address: 127.0.0.1:${PG_PORT[$node]}
  data_dir: $work/$node/data
  bin_dir: $PG_BIN
  pgpass: $work/$node/pgpass
  parameters:
    unix_socket_directories: $work/$node
    shared_buffers: 16MB
    max_connections: 20
  authentication:
    superuser:
      username: postgres
      password: $SU_PASSWORD
    replication:
      username: replicator
      password: consumer-check-repl
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
EOF
done
chown -R postgres:postgres "$work"
chown root:root "$work" "$work/member.log"
[ -d "$work/data" ] && chown -R root:root "$work/data"

start_patroni() {
  local node="$1"
  # setpriv execs Patroni in place, so $! is Patroni's own pid (what kill -9 hits).
  HOME="$work/$node" setpriv --reuid postgres --regid postgres --init-groups \
    "$VENV/bin/patroni" "$work/$node/patroni.yml" >>"$work/$node/patroni.log" 2>&1 &
  PATRONI_PID[$node]=$!
}

# role NODE: what the node's REST API says it is, as ROLE:STATE (primary:running,
# replica:streaming, ...; a replica's STATE is its replication state), or "down".
role() {
  curl -fsS --max-time 2 "http://127.0.0.1:${API_PORT[$1]}/patroni" 2>/dev/null |
    "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("role","?") + ":" + d.get("replication_state", d.get("state","?")))' 2>/dev/null ||
    echo "down"
}

sql() {
  local node="$1"; shift
  PGPASSWORD="$SU_PASSWORD" "$PG_BIN/psql" -h 127.0.0.1 -p "${PG_PORT[$node]}" -U postgres -d postgres \
    -X -A -t -q -v ON_ERROR_STOP=1 -c "$*"
}

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND every half second.
wait_for() {
  local limit="$1" what="$2" deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within ${limit}s (node1 $(role node1), node2 $(role node2))"
    sleep 0.5
  done
}

is_role() { [ "$(role "$1")" = "$2" ]; }

# 1. A primary is elected; node1 starts first so that it bootstraps.
start_patroni node1
wait_for 60 "node1 bootstraps and becomes primary" is_role node1 primary:running
start_patroni node2
wait_for 60 "node2 clones and runs as a replica" is_role node2 replica:streaming
echo "ok: node1 is primary, node2 a streaming replica ($((SECONDS - started))s)"

# 2. A write on the primary reaches the replica.
sql node1 "CREATE TABLE consumer_check(note text); INSERT INTO consumer_check VALUES ('written on node1')"
replica_has_row() { [ "$(sql node2 "SELECT note FROM consumer_check")" = "written on node1" ]; }
wait_for 20 "the row written on node1 reaches node2" replica_has_row
echo "ok: a row written on the primary is read on the replica"

# 3. kill -9 the primary's Patroni and postgres; the replica takes over.
victims="${PATRONI_PID[node1]} $(postgres_pids node1 | tr '\n' ' ')"
# Out of the job table first, so that the shell does not report the kill as an error.
disown "${PATRONI_PID[node1]}"
# shellcheck disable=SC2086
kill -9 $victims
unset 'PATRONI_PID[node1]'
killed_at=$SECONDS
promoted() { is_role node2 primary:running && [ "$(sql node2 "SELECT pg_is_in_recovery()")" = "f" ]; }
wait_for $FAILOVER_BOUND "node2 is promoted after kill -9 of the primary" promoted
echo "ok: node2 promoted $((SECONDS - killed_at))s after kill -9 of the primary (bound ${FAILOVER_BOUND}s)"
sql node2 "INSERT INTO consumer_check VALUES ('written on node2')"
[ "$(sql node2 "SELECT count(*) FROM consumer_check")" = "2" ] || fail "node2 does not accept writes after promotion"
echo "PASS: patroni on $AGAINST ($((SECONDS - started))s)"
