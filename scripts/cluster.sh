#!/usr/bin/env bash
# Runs a three-member cluster on 127.0.0.1 for trying ectd out.
#
#   scripts/cluster.sh start [extra flags...]   build, start m1..m3, wait until healthy
#   scripts/cluster.sh stop                     SIGTERM the members, wait until they exit
#   scripts/cluster.sh status                   which members run and what /health says
#
#   member  client                  peer
#   m1      http://127.0.0.1:2379   http://127.0.0.1:2380
#   m2      http://127.0.0.1:22379  http://127.0.0.1:22380
#   m3      http://127.0.0.1:32379  http://127.0.0.1:32380
#
# Data directories (mN.etcd), logs (mN.log) and pid files (mN.pid) are kept in
# ./cluster-data/ (CLUSTER_DIR to move it). `stop` keeps the data, and a later `start`
# brings the same cluster back; `stop` then `rm -rf cluster-data` starts afresh.
# Extra flags given to `start` are passed to every member.
#
# Members get etcd's flags only, so any binary that takes them can stand in:
# ECTD_BIN=/usr/bin/etcd runs real etcd instead of building ectd. Builds go to
# $CARGO_TARGET_DIR (default /var/tmp/ectd-target). CLUSTER_WAIT (default 60) is how
# many seconds `start` waits for the members to become healthy, and `stop` for them
# to exit.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ectd-target}"
DIR="${CLUSTER_DIR:-cluster-data}"
WAIT="${CLUSTER_WAIT:-60}"
NAMES=(m1 m2 m3)
CLIENT_PORTS=(2379 22379 32379)
PEER_PORTS=(2380 22380 32380)
TOKEN=ectd-local-cluster
INITIAL_CLUSTER="m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
ENDPOINTS="127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379"

usage() {
  sed -n '2,23s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

# The pid of member $1 if it is running, from its pid file. A pid is only taken as
# the member's while that process still carries the member's --name and --data-dir,
# so a stale pid file never leads to signalling an unrelated process.
member_pid() {
  local name=$1 pid args
  [ -f "$DIR/$name.pid" ] || return 1
  pid=$(<"$DIR/$name.pid")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  args=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$args" == *" --name $name "* && "$args" == *" --data-dir $DIR/$name.etcd "* ]] || return 1
  echo "$pid"
}

# What member $1's GET /health answers, or nothing.
health() {
  curl -s --max-time 2 "http://127.0.0.1:$1/health" 2>/dev/null || true
}

is_healthy() {
  [[ "$(health "$1")" =~ \"health\":\ *\"true\" ]]
}

# Whether something already listens on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local bin
  command -v curl >/dev/null 2>&1 || {
    echo "error: curl is needed to ask the members' /health (apt-get install curl)" >&2
    exit 1
  }
  if [ -n "${ECTD_BIN:-}" ]; then
    bin=$ECTD_BIN
  else
    bash scripts/deps.sh
    cargo build --bins
    bin="$CARGO_TARGET_DIR/debug/ectd"
  fi
  [ -x "$bin" ] || {
    echo "error: $bin is not an executable" >&2
    exit 1
  }

  # Members read nothing but their flags: an ETCD_* variable left in this shell
  # (ETCD_CONFIG_FILE above all, which would replace every flag) is not passed on.
  local unset_etcd=() var
  for var in $(compgen -e); do
    [[ "$var" == ETCD_* ]] && unset_etcd+=(-u "$var")
  done

  local i name pid port answer to_start=() started=()
  for i in 0 1 2; do
    name=${NAMES[$i]}
    if pid=$(member_pid "$name"); then
      echo "$name is already running (pid $pid)"
      continue
    fi
    for port in "${CLIENT_PORTS[$i]}" "${PEER_PORTS[$i]}"; do
      if port_in_use "$port"; then
        echo "error: 127.0.0.1:$port is in use; $name needs it (is scripts/start.sh running?)" >&2
        exit 1
      fi
    done
    to_start+=("$i")
  done

  mkdir -p "$DIR"
  for i in "${to_start[@]}"; do
    name=${NAMES[$i]}
    # Plain-text logs without colour codes, and a session of its own: Ctrl-C or a
    # closed terminal does not reach the member.
    env "${unset_etcd[@]}" ECTD_LOG_FORMAT=text NO_COLOR=1 setsid "$bin" \
      --name "$name" --data-dir "$DIR/$name.etcd" \
      --listen-client-urls "http://127.0.0.1:${CLIENT_PORTS[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${CLIENT_PORTS[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${PEER_PORTS[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${PEER_PORTS[$i]}" \
      --initial-cluster "$INITIAL_CLUSTER" \
      --initial-cluster-token "$TOKEN" \
      --initial-cluster-state new \
      "$@" </dev/null >>"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
    started+=("$name")
    echo "started $name (pid $!), log in $DIR/$name.log"
  done

  # A new cluster answers once a majority is up and has elected a leader.
  local deadline=$((SECONDS + WAIT))
  for i in 0 1 2; do
    name=${NAMES[$i]}
    until is_healthy "${CLIENT_PORTS[$i]}"; do
      if ! member_pid "$name" >/dev/null; then
        echo "error: $name exited; the end of $DIR/$name.log:" >&2
        tail -n 20 "$DIR/$name.log" >&2
        stop_members "${started[@]}"
        exit 1
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        answer=$(health "${CLIENT_PORTS[$i]}")
        echo "error: $name is not healthy after ${WAIT}s; /health: ${answer:-no answer}" >&2
        echo "the end of $DIR/$name.log:" >&2
        tail -n 20 "$DIR/$name.log" >&2
        stop_members "${started[@]}"
        exit 1
      fi
      sleep 0.5
    done
    echo "$name is healthy on http://127.0.0.1:${CLIENT_PORTS[$i]}"
  done

  cat <<EOF

The cluster is up. Talk to it with ectl (or etcdctl, which takes the same flags):

  export PATH=$CARGO_TARGET_DIR/debug:\$PATH
  ectl --endpoints $ENDPOINTS put greeting hello
  ectl --endpoints $ENDPOINTS get greeting
  ectl --endpoints $ENDPOINTS member list -w table
  ectl --endpoints $ENDPOINTS endpoint status --cluster -w table
  etcdctl --endpoints $ENDPOINTS endpoint status --cluster -w table

Logs: $DIR/m1.log $DIR/m2.log $DIR/m3.log
Stop: scripts/cluster.sh stop
EOF
}

# Sends SIGTERM to the named members and waits up to $WAIT seconds for them to exit.
stop_members() {
  local name pid pids=() names=()
  for name in "$@"; do
    if pid=$(member_pid "$name"); then
      kill -TERM "$pid"
      pids+=("$pid")
      names+=("$name")
      echo "sent SIGTERM to $name (pid $pid)"
    else
      rm -f "$DIR/$name.pid"
    fi
  done
  local deadline=$((SECONDS + WAIT)) i status=0
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "error: ${names[$i]} (pid ${pids[$i]}) is still running after ${WAIT}s" >&2
        status=1
        continue 2
      fi
      sleep 0.2
    done
    rm -f "$DIR/${names[$i]}.pid"
    echo "${names[$i]} stopped"
  done
  return "$status"
}

stop() {
  local name running=0
  for name in "${NAMES[@]}"; do
    member_pid "$name" >/dev/null && running=1
  done
  if [ "$running" -eq 0 ]; then
    rm -f "$DIR"/m[123].pid
    echo "no member is running"
    return 0
  fi
  stop_members "${NAMES[@]}"
}

status() {
  local i name pid answer all=0
  for i in 0 1 2; do
    name=${NAMES[$i]}
    if pid=$(member_pid "$name"); then
      answer=$(health "${CLIENT_PORTS[$i]}")
      echo "$name  running (pid $pid)  http://127.0.0.1:${CLIENT_PORTS[$i]}  /health: ${answer:-no answer}"
      is_healthy "${CLIENT_PORTS[$i]}" || all=1
    else
      echo "$name  not running"
      all=1
    fi
  done
  return "$all"
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
  start) start "$@" ;;
  stop) [ $# -eq 0 ] || usage; stop ;;
  status) [ $# -eq 0 ] || usage; status ;;
  *) usage ;;
esac
