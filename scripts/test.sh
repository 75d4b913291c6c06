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
echo "== cargo test"
cargo test --workspace -- --test-threads 2
