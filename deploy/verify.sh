#!/usr/bin/env bash
# Checks ectd.service with `systemd-analyze verify` without installing anything:
# verify insists that ExecStart's binary exists, so a copy of the unit is checked
# with ExecStart pointing at a stand-in executable in a temporary directory. Any
# warning (an unknown key, a bad value) fails the check, since verify itself exits
# 0 on those. Needs systemd-analyze (Debian: apt-get install systemd).
set -euo pipefail
cd "$(dirname "$0")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexit 0\n' >"$tmp/ectd"
chmod 0755 "$tmp/ectd"

status=0
for unit in *.service; do
  grep -q '^ExecStart=/usr/local/bin/ectd$' "$unit" || {
    echo "$unit: expected ExecStart=/usr/local/bin/ectd" >&2
    status=1
    continue
  }
  sed "s|^ExecStart=/usr/local/bin/ectd\$|ExecStart=$tmp/ectd|" "$unit" >"$tmp/$unit"
  if out=$(systemd-analyze verify "$tmp/$unit" 2>&1) && [ -z "$out" ]; then
    echo "$unit: ok"
  else
    printf '%s: systemd-analyze verify:\n%s\n' "$unit" "$out" >&2
    status=1
  fi
done
exit "$status"
