#!/usr/bin/env bash
# Compares ectd with real etcd on this machine, from a fresh clone:
#
#   scripts/bench.sh [compare flags...]     e.g. --seconds 5 --keys 200000
#   scripts/bench.sh --micro [filter]       the criterion micro-benchmarks instead
#
# Installs what is missing from Debian (etcd-server among it), builds ectd and
# ectd-bench with the release profile, then runs `ectd-bench compare`: a 3-member
# ectd cluster and a 3-member etcd cluster on loopback, the same workloads against
# each, the two taking turns over two rounds, and the ratios ectd / etcd as a table. results.json and
# chart.svg go to ./bench-results (BENCH_OUT to move them). Builds go to
# $CARGO_TARGET_DIR (default /var/tmp/ectd-target).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ectd-target}"
bash scripts/deps.sh

if [ "${1:-}" = "--micro" ]; then
  shift
  exec cargo bench -p ectd-bench --bench hot_paths -- "$@"
fi

cargo build --release -p ectd-server -p ectd-bench --bins
exec "$CARGO_TARGET_DIR/release/ectd-bench" compare \
  --ectd "$CARGO_TARGET_DIR/release/ectd" \
  --etcd "$(command -v etcd || echo /usr/bin/etcd)" \
  --out "${BENCH_OUT:-bench-results}" "$@"
