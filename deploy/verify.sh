#!/usr/bin/env bash
# Checks the deploy/ examples without installing anything.
#
# The unit: `systemd-analyze verify` insists that ExecStart's binary exists, so a
# copy of ectd.service is checked with ExecStart pointing at a stand-in executable
# in a temporary directory. Any warning (an unknown key, a bad value) fails the
# check, since verify itself exits 0 on those.
#
# TLS: make-certs.sh makes certificates for the members of member*.env in a
# temporary directory; then, with openssl, every member certificate and the client
# certificate must chain to ca.crt and carry the right extended key usage, each
# member's certificate must name every host in its URLs (127.0.0.1 among them),
# every key must match its certificate and be mode 0600, and every file the
# examples name under /etc/ectd/pki/ must be one make-certs.sh makes.
#
# Needs systemd-analyze (Debian: apt-get install systemd) and openssl (Debian:
# apt-get install openssl).
set -euo pipefail
cd "$(dirname "$0")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexit 0\n' >"$tmp/ectd"
chmod 0755 "$tmp/ectd"

status=0
fail() {
  printf '%s\n' "$*" >&2
  status=1
}

for unit in *.service; do
  grep -q '^ExecStart=/usr/local/bin/ectd$' "$unit" || {
    fail "$unit: expected ExecStart=/usr/local/bin/ectd"
    continue
  }
  sed "s|^ExecStart=/usr/local/bin/ectd\$|ExecStart=$tmp/ectd|" "$unit" >"$tmp/$unit"
  if out=$(systemd-analyze verify "$tmp/$unit" 2>&1) && [ -z "$out" ]; then
    echo "$unit: ok"
  else
    fail "$(printf '%s: systemd-analyze verify:\n%s' "$unit" "$out")"
  fi
done

if ! command -v openssl >/dev/null 2>&1; then
  fail "verify.sh: openssl is not installed, so the TLS setup cannot be checked (Debian: apt-get install openssl)"
  exit "$status"
fi

# The value of VAR in an environment file.
env_value() {
  sed -n "s/^$2=//p" "$1"
}

# The hosts of a comma-separated URL list, one a line.
url_hosts() {
  tr ',' '\n' <<<"$1" | sed -E 's#^https?://##; s#/$##; s#:[0-9]+$##; s#^\[(.*)\]$#\1#; /^$/d'
}

# The member env files, and the member arguments make-certs.sh gets from them.
members=()
member_args=()
for env in member*.env; do
  name=$(env_value "$env" ETCD_NAME)
  host=$(url_hosts "$(env_value "$env" ETCD_INITIAL_ADVERTISE_PEER_URLS)" | head -n 1)
  if [ -z "$name" ] || [ -z "$host" ]; then
    fail "$env: no ETCD_NAME or ETCD_INITIAL_ADVERTISE_PEER_URLS"
    continue
  fi
  members+=("$env")
  member_args+=("$name=$host")
done

pki=$tmp/pki
if out=$(bash ./make-certs.sh "$pki" "${member_args[@]}" 2>&1); then
  echo "make-certs.sh: ok (${member_args[*]})"
else
  fail "$(printf 'make-certs.sh %s:\n%s' "${member_args[*]}" "$out")"
  exit "$status"
fi

if openssl x509 -in "$pki/ca.crt" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
  echo "ca.crt: ok (CA:TRUE)"
else
  fail "ca.crt: no basicConstraints CA:TRUE"
fi

# check_pair CRT KEY PURPOSE...: CRT chains to ca.crt for every purpose (sslserver,
# sslclient), and KEY is its key, mode 0600.
check_pair() {
  local crt=$1 key=$2 ok=1 purpose out
  shift 2
  for purpose in "$@"; do
    if ! out=$(openssl verify -CAfile "$pki/ca.crt" -purpose "$purpose" "$pki/$crt" 2>&1); then
      fail "$(printf '%s: openssl verify -purpose %s:\n%s' "$crt" "$purpose" "$out")"
      ok=0
    fi
  done
  if [ ! -f "$pki/$key" ]; then
    fail "$crt: make-certs.sh makes no $key"
    return 1
  fi
  if [ "$(openssl x509 -in "$pki/$crt" -noout -pubkey)" != "$(openssl pkey -in "$pki/$key" -pubout)" ]; then
    fail "$crt: $key is not its key"
    ok=0
  fi
  if [ "$(stat -c %a "$pki/$key")" != 600 ]; then
    fail "$key: mode $(stat -c %a "$pki/$key"), expected 0600"
    ok=0
  fi
  [ "$ok" = 1 ]
}

# check_names CRT HOST...: the certificate CRT is valid for every HOST.
check_names() {
  local crt=$1 host opt out ok=1
  shift
  for host in "$@"; do
    if [[ $host =~ ^[0-9.]+$ ]] || [[ $host == *:* ]]; then opt=-checkip; else opt=-checkhost; fi
    out=$(openssl x509 -in "$pki/$crt" -noout "$opt" "$host")
    if ! grep -q ' does match certificate' <<<"$out"; then
      fail "$crt: not valid for $host (its subject alternative names lack it)"
      ok=0
    fi
  done
  [ "$ok" = 1 ]
}

for env in "${members[@]}"; do
  # Every host the member listens on or is reached at, and 127.0.0.1.
  hosts=$(
    {
      for var in ETCD_LISTEN_CLIENT_URLS ETCD_ADVERTISE_CLIENT_URLS ETCD_LISTEN_PEER_URLS \
        ETCD_INITIAL_ADVERTISE_PEER_URLS; do
        url_hosts "$(env_value "$env" "$var")"
      done
      echo 127.0.0.1
    } | sort -u | tr '\n' ' '
  )
  # The client port's pair, then the peer port's (the same files, in the examples).
  checked=""
  for port in "" PEER_; do
    crt=$(basename "$(env_value "$env" "ETCD_${port}CERT_FILE")")
    key=$(basename "$(env_value "$env" "ETCD_${port}KEY_FILE")")
    case " $checked " in *" $crt:$key "*) continue ;; esac
    checked="$checked $crt:$key"
    [ -f "$pki/$crt" ] || continue # reported by the path check below
    # shellcheck disable=SC2086 # one host a word
    if check_pair "$crt" "$key" sslserver sslclient && check_names "$crt" $hosts; then
      echo "$crt: ok ($env; signed by ca.crt; serverAuth, clientAuth; names ${hosts% }; $key matches, 0600)"
    fi
  done
done

if check_pair client.crt client.key sslclient; then
  echo "client.crt: ok (signed by ca.crt; clientAuth; client.key matches, 0600)"
fi

# Every file the examples name under /etc/ectd/pki/ is one make-certs.sh makes, and
# none of them is the CA's key, which stays on the admin machine.
for file in *.env *.yaml; do
  ok=1
  named=$(grep -oE '/etc/ectd/pki/[A-Za-z0-9._-]+' "$file" | sed 's#.*/##' | sort -u | tr '\n' ' ' || true)
  for base in $named; do
    path=/etc/ectd/pki/$base
    if [ "$base" = ca.key ]; then
      fail "$file: names $path; the CA key must not be on the hosts"
      ok=0
    elif [ ! -f "$pki/$base" ]; then
      fail "$file: names $path, which make-certs.sh does not make"
      ok=0
    fi
  done
  if [ -n "$named" ] && [ "$ok" = 1 ]; then
    echo "$file: ok (names ${named% } under /etc/ectd/pki/)"
  fi
done

exit "$status"
