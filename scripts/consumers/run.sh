#!/usr/bin/env bash
# Real-consumer checks of ectd's JSON gateway (`/v3/...`): etcd3gw's functional
# tests (etcd3gw_check.py) and a 2-node Patroni cluster on the etcd3 DCS
# (patroni_check.sh), each against a fresh single member.
#
# Usage: scripts/consumers/run.sh [--against ectd|etcd|both]
#   ectd (the default, or $CONSUMERS_AGAINST) checks $CARGO_TARGET_DIR/debug/ectd;
#   etcd runs the same checks against real etcd 3.4 (/usr/bin/etcd) as the control.
# Runs as root. Python packages are pinned in requirements.txt and installed once
# into $CONSUMERS_VENV (default /var/tmp/ectd-consumers-venv), reused afterwards.
set -euo pipefail

AGAINST="${CONSUMERS_AGAINST:-ectd}"
if [ "${1:-}" = "--against" ]; then AGAINST="${2:?--against takes ectd, etcd or both}"; fi
case "$AGAINST" in
  ectd | etcd) kinds=("$AGAINST") ;;
  both) kinds=(etcd ectd) ;;
  *) echo "usage: $0 [--against ectd|etcd|both]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
export CONSUMERS_VENV="${CONSUMERS_VENV:-/var/tmp/ectd-consumers-venv}"
# shellcheck source=lib.sh
. "$here/lib.sh"

# The venv is rebuilt only when requirements.txt changes.
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
stamp="$CONSUMERS_VENV/.requirements.sha256"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "== installing the consumers' Python packages into $CONSUMERS_VENV"
  rm -rf "$CONSUMERS_VENV"
  /usr/bin/python3 -m venv "$CONSUMERS_VENV"
  "$CONSUMERS_VENV/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

failed=()
for kind in "${kinds[@]}"; do
  echo "== etcd3gw against $kind"
  t0=$SECONDS
  dir="$(mktemp -d /tmp/ectd-etcd3gw-XXXXXX)"
  ok=1
  if start_member "$kind" "$dir"; then
    # A watch that never ends must not hang the run; the tests take about 30 s.
    timeout 180 "$CONSUMERS_VENV/bin/python" "$here/etcd3gw_check.py" "$MEMBER_ENDPOINT" || ok=0
  else
    ok=0
  fi
  stop_member
  if [ $ok -eq 0 ]; then
    failed+=("etcd3gw on $kind")
    echo "--- last lines of the $kind member's log ---"
    tail -n 20 "$dir/member.log" || true
  fi
  rm -rf "$dir"
  echo "   etcd3gw on $kind: $([ $ok -eq 1 ] && echo pass || echo FAIL) in $((SECONDS - t0))s"

  echo "== patroni against $kind"
  t0=$SECONDS
  timeout 240 bash "$here/patroni_check.sh" --against "$kind" || failed+=("patroni on $kind")
  echo "   patroni on $kind: took $((SECONDS - t0))s"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "real-consumer checks FAILED: ${failed[*]}" >&2
  [ "$AGAINST" = ectd ] && echo "(the same checks against real etcd: $0 --against etcd)" >&2
  exit 1
fi
echo "real-consumer checks passed against: ${kinds[*]}"
