#!/usr/bin/env bash
# Installs what building and testing ectd needs from Debian, if it is missing:
# clang/libclang for RocksDB's bindings, make for jemalloc's build (the member's
# allocator), protoc for the .proto files, and real etcd
# (server and etcdctl) as the reference the differential tests compare against,
# systemd-analyze and openssl to check the units and certificates in deploy/,
# PostgreSQL, python3-venv and procps for the real-consumer checks (Patroni, etcd3gw),
# and prometheus for `promtool check metrics` on ectd's /metrics
set -euo pipefail

need=()
for pkg in clang libclang-dev make protobuf-compiler etcd-server etcd-client curl systemd openssl postgresql python3-venv procps prometheus; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts the packaged etcd as a service; the tests start their own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
    $SUDO systemctl stop etcd || true
  fi
  # Only promtool is wanted from the prometheus package, not its server.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
  fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install a Rust toolchain (1.80 or newer) first" >&2
  exit 1
fi
