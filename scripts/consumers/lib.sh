# Sourced by the real-consumer checks: starts and stops one member of ectd or of
# real etcd on 127.0.0.1, on free ports, in a directory the caller owns.
#
# After `start_member KIND DIR`, MEMBER_PID is the member's process id and
# MEMBER_ENDPOINT its client URL; the member logs to DIR/member.log.

ECTD_BIN="${ECTD_BIN:-${CARGO_TARGET_DIR:-/var/tmp/ectd-target}/debug/ectd}"
ETCD_BIN="${ETCD_BIN:-/usr/bin/etcd}"

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_member ectd|etcd DIR: starts a single member whose data lives in DIR/data
# and waits until it answers /health. A port found free may be taken before the
# member binds it; then the member is started again on fresh ports.
start_member() {
  local kind="$1" dir="$2" bin attempt client peer
  case "$kind" in
    ectd) bin="$ECTD_BIN" ;;
    etcd) bin="$ETCD_BIN" ;;
    *) echo "unknown server kind: $kind (ectd or etcd)" >&2; return 2 ;;
  esac
  if [ ! -x "$bin" ]; then
    echo "error: $bin is missing; build it with: cargo build -p ectd-server --bin ectd" >&2
    return 1
  fi
  for attempt in 1 2 3; do
    client="http://127.0.0.1:$(free_port)"
    peer="http://127.0.0.1:$(free_port)"
    rm -rf "$dir/data"
    local args=(--name default --data-dir "$dir/data"
      --listen-client-urls "$client" --advertise-client-urls "$client"
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer"
      --initial-cluster "default=$peer" --log-level info)
    # etcd 3.4 defaults to the capnslog logger, which ignores --log-level.
    [ "$kind" = etcd ] && args+=(--logger zap)
    "$bin" "${args[@]}" >>"$dir/member.log" 2>&1 &
    MEMBER_PID=$!
    MEMBER_ENDPOINT="$client"
    local deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
      if ! kill -0 "$MEMBER_PID" 2>/dev/null; then
        break
      fi
      if curl -fsS --max-time 2 "$client/health" 2>/dev/null | grep -q '"health": *"true"'; then
        echo "$kind member up at $client (pid $MEMBER_PID)"
        return 0
      fi
      sleep 0.2
    done
    stop_member
    if ! grep -qi 'address already in use' "$dir/member.log"; then
      break
    fi
    echo "$kind lost a port race (attempt $attempt); retrying on fresh ports" >&2
  done
  echo "error: $kind member did not become healthy; last lines of its log:" >&2
  tail -n 30 "$dir/member.log" >&2
  return 1
}

# Kills the member started last, if it still runs, and reaps it.
stop_member() {
  if [ -n "${MEMBER_PID:-}" ] && kill -0 "$MEMBER_PID" 2>/dev/null; then
    kill "$MEMBER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
      kill -0 "$MEMBER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$MEMBER_PID" 2>/dev/null || true
    { wait "$MEMBER_PID"; } 2>/dev/null || true
  fi
  MEMBER_PID=""
}
