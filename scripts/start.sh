#!/usr/bin/env bash
# Builds ectd and starts a single member in the foreground on 127.0.0.1:2379.
# Usage: scripts/start.sh [extra ectd flags...]   (data in ./default.etcd unless --data-dir)
#        scripts/start.sh --cluster [extra flags...]
#          starts a three-member cluster on 127.0.0.1 in the background instead
#          (scripts/cluster.sh start; scripts/cluster.sh stop stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
cluster=0
for arg in "$@"; do
  if [ "$arg" = --cluster ]; then cluster=1; else args+=("$arg"); fi
done
if [ "$cluster" -eq 1 ]; then
  exec bash scripts/cluster.sh start "${args[@]}"
fi
bash scripts/deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ectd-target}"
cargo build --bins
echo "ectd and ectl are in $CARGO_TARGET_DIR/debug/"
exec "$CARGO_TARGET_DIR/debug/ectd" \
  --name default \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --log-format text "${args[@]}"
