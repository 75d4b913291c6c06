#!/usr/bin/env bash
# Profiles a local three-member cluster under one benchmark workload and renders a
# flamegraph of all three members (and OUT.svg.folded, the collapsed stacks):
#
#   scripts/profile.sh WORKLOAD OUT.svg
#
# put            ectd-bench put --clients 256 --conns 16
# range          linearizable single-key ranges, 256 clients on 16 conns, 20,000 keys
# range-serial   the same, serializable
# txn-cas        ectd-bench txn-cas --clients 64 --conns 16, 20,000 keys
# mixed          90 % linearizable ranges, 10 % puts, 256 clients on 16 conns
# watch          10,000 watchers on 100 streams, 1,000 puts
# watch-streams  1,000 watchers on 1,000 streams, 200 puts (repeated)
#
# The read workloads write their keys during the warm-up, which is not sampled.
# The members run from ECTD_BIN (default: the release build) in a scratch
# directory, on scripts/cluster.sh's ports. Needs perf and inferno
# (`cargo install inferno`); PROFILE_HZ (default 199) and PROFILE_SECONDS (default 8)
# set the sampling.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 2 ] || { sed -n '2,21s/^# \{0,1\}//p' "$0" >&2; exit 2; }
workload=$1
out=$(realpath -m "$2")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ectd-target}"
bench="${BENCH_BIN:-$CARGO_TARGET_DIR/release/ectd-bench}"
export ECTD_BIN="${ECTD_BIN:-$CARGO_TARGET_DIR/release/ectd}"
hz="${PROFILE_HZ:-199}"
seconds="${PROFILE_SECONDS:-8}"
endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379

scratch=$(mktemp -d)
export CLUSTER_DIR="$scratch/cluster"
cleanup() {
  bash scripts/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
bash scripts/cluster.sh start >/dev/null

# $1: seconds; $2: extra flags of the read workloads (--no-preload once warm).
load() {
  local wide=(--clients 256 --conns 16 --duration "$1" --quiet)
  case "$workload" in
    put) "$bench" --endpoints "$endpoints" put "${wide[@]}" ;;
    range) "$bench" --endpoints "$endpoints" range "${wide[@]}" --key-space 20000 ${2:-} ;;
    range-serial)
      "$bench" --endpoints "$endpoints" range "${wide[@]}" --key-space 20000 --serializable ${2:-}
      ;;
    txn-cas)
      "$bench" --endpoints "$endpoints" txn-cas --clients 64 --conns 16 --duration "$1" \
        --key-space 20000 --quiet
      ;;
    mixed)
      "$bench" --endpoints "$endpoints" mixed "${wide[@]}" --read-percent 90 --key-space 20000 ${2:-}
      ;;
    watch) "$bench" --endpoints "$endpoints" watch --quiet ;;
    watch-streams)
      local until=$((SECONDS + $1))
      while [ "$SECONDS" -lt "$until" ]; do
        "$bench" --endpoints "$endpoints" watch --watchers 1000 --streams 1000 --puts 200 --quiet
      done
      ;;
    *) echo "unknown workload: $workload" >&2; exit 2 ;;
  esac
}

load 2 >/dev/null 2>&1 # warm up
pids=$(for m in m1 m2 m3; do cat "$CLUSTER_DIR/$m.pid"; done | paste -sd,)
load $((seconds + 4)) --no-preload >&2 &
# The watch load creates its 10,000 watchers first.
if [ "$workload" = watch ]; then sleep 6; else sleep 2; fi
perf record -q -F "$hz" -e cpu-clock --call-graph dwarf,16384 -p "$pids" \
  -o "$scratch/perf.data" -- sleep "$seconds" >/dev/null 2>&1
wait
perf script -i "$scratch/perf.data" 2>/dev/null | inferno-collapse-perf | tee "$out.folded" |
  inferno-flamegraph --minwidth 0.1 --title "ectd, $workload" > "$out"
echo "$out"
