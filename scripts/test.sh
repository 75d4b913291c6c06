#!/usr/bin/env bash
# Runs every check ectd has: formatting, clippy, unit tests, and the cross-process
# suites (differential tests against real etcd, etcdctl compatibility, crash recovery,
# request limits, multi-member clusters), and the systemd units in deploy/. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ectd-target}"
export CARGO_TERM_COLOR=never

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== deploy/ units (systemd-analyze verify)"
bash deploy/verify.sh
echo "== ectd with failpoints, for the fault tests only"
# Built first and copied aside: the fault tests that arm failpoints find it through
# ECTD_FAILPOINTS_BIN. Every other test runs the binary users run, which
# `cargo test` builds next, without the feature (and so without /debug/failpoints).
cargo build -p ectd-server --bin ectd --features failpoints
mkdir -p "$CARGO_TARGET_DIR/failpoints"
cp "$CARGO_TARGET_DIR/debug/ectd" "$CARGO_TARGET_DIR/failpoints/ectd"
export ECTD_FAILPOINTS_BIN="$CARGO_TARGET_DIR/failpoints/ectd"
echo "== cargo test"
cargo test --workspace -- --test-threads 2
echo "== real consumers (etcd3gw, Patroni) on the JSON gateway"; bash scripts/consumers/run.sh
