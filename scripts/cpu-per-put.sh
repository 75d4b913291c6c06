#!/usr/bin/env bash
# Compares ectd builds by the CPU time their members spend on a fixed number of
# puts, which drifts less on a shared machine than puts per second:
#
#   scripts/cpu-per-put.sh ECTD_BIN [ECTD_BIN ...]
#
# For each build in turn (ROUNDS times, default 2): a fresh three-member cluster
# from scripts/cluster.sh, 20,000 puts to warm up, then PUTS (default 100,000) puts
# with 256 clients on 16 connections. Prints the members' user + system CPU seconds
# (from /proc/<pid>/stat) for those puts, the load generator's own CPU seconds, the
# wall time, and the load generator's summary. Any binary that takes etcd's flags
# can be measured, real etcd included.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ectd-target}"
bench="${BENCH_BIN:-$CARGO_TARGET_DIR/release/ectd-bench}"
puts="${PUTS:-100000}"
rounds="${ROUNDS:-2}"
endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379
hz=$(getconf CLK_TCK)

ticks() {
  local t=0 pid
  for m in m1 m2 m3; do
    pid=$(cat "$CLUSTER_DIR/$m.pid")
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$t"
}

for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    CLUSTER_DIR=$(mktemp -d)
    export CLUSTER_DIR ECTD_BIN=$bin
    trap 'bash scripts/cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$CLUSTER_DIR"' EXIT
    bash scripts/cluster.sh start >/dev/null
    "$bench" --endpoints "$endpoints" put --clients 256 --conns 16 --total 20000 --quiet >/dev/null
    before=$(ticks)
    started=$(date +%s.%N)
    out=$(mktemp)
    # bash's `time` reports the load generator's user and system seconds.
    { TIMEFORMAT='%U %S'; time "$bench" --endpoints "$endpoints" put --clients 256 --conns 16 \
        --total "$puts" --quiet >"$out" 2>&1; } 2>"$out.time" || { cat "$out" >&2; exit 1; }
    summary=$(tail -1 "$out")
    wall=$(echo "$(date +%s.%N) - $started" | bc)
    cpu=$(echo "scale=2; ($(ticks) - $before) / $hz" | bc)
    client=$(awk '{printf "%.2f", $1 + $2}' "$out.time")
    rm -f "$out" "$out.time"
    echo "$bin: ${cpu} CPU s for $puts puts (load generator ${client} s), ${wall%??????} s :: $summary"
    bash scripts/cluster.sh stop >/dev/null
    rm -rf "$CLUSTER_DIR"
    trap - EXIT
  done
done
