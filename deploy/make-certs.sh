#!/usr/bin/env bash
# Makes the certificates of a TLS ectd cluster with openssl, on an admin machine,
# without network access:
#
#   deploy/make-certs.sh OUT_DIR NAME=ADDR[,ADDR...] ...
#   deploy/make-certs.sh pki member1=192.0.2.11 member2=192.0.2.12 member3=192.0.2.13
#
# In OUT_DIR:
#   ca.crt, ca.key        the CA (RSA 2048, 10 years). Kept and reused when OUT_DIR
#                         already holds both, so running the script again renews
#                         the certificates below under the same CA. ca.key stays
#                         on the admin machine.
#   NAME.crt, NAME.key    per member: the one certificate it uses on both ports,
#                         as server and as client (serverAuth and clientAuth), with
#                         CN ectd-member (what ETCD_PEER_CERT_ALLOWED_CN admits) and
#                         subject alternative names ADDR..., 127.0.0.1 and
#                         localhost. An ADDR is an IP address or a DNS name.
#   client.crt, client.key
#                         the operator's client certificate (CN root, clientAuth)
#                         for ectl and etcdctl.
# Keys are RSA 2048 and mode 0600; certificates are signed with SHA-256, valid 825
# days, and mode 0644. Existing member and client files are replaced.
set -euo pipefail

prog=make-certs.sh
member_cn=ectd-member
client_cn=root
ca_days=3650
cert_days=825

usage() {
  echo "usage: $prog OUT_DIR NAME=ADDR[,ADDR...] ..." >&2
  echo "  e.g. $prog pki member1=192.0.2.11 member2=192.0.2.12 member3=192.0.2.13" >&2
  exit 2
}

command -v openssl >/dev/null 2>&1 || {
  echo "$prog: openssl is not installed (Debian: apt-get install openssl)" >&2
  exit 1
}
[ $# -ge 2 ] || usage
out=$1
shift

# Check every argument before making anything.
names=()
sans=()
for arg in "$@"; do
  name=${arg%%=*}
  addrs=${arg#*=}
  if [ "$name" = "$arg" ] || [ -z "$addrs" ]; then
    echo "$prog: $arg: expected NAME=ADDR[,ADDR...]" >&2
    usage
  fi
  if ! [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    echo "$prog: $name: a member name is letters, digits, '.', '_' and '-'" >&2
    exit 2
  fi
  case $name in
    ca | client)
      echo "$prog: $name: reserved, $name.crt and $name.key are not a member's files" >&2
      exit 2
      ;;
  esac
  for seen in "${names[@]}"; do
    if [ "$seen" = "$name" ]; then
      echo "$prog: $name: given twice" >&2
      exit 2
    fi
  done
  san=""
  IFS=, read -ra list <<<"$addrs"
  for addr in "${list[@]}" 127.0.0.1 localhost; do
    if [[ $addr =~ ^[0-9]+(\.[0-9]+){3}$ ]] || [[ $addr == *:* ]]; then
      entry="IP:$addr"
    elif [[ $addr =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
      entry="DNS:$addr"
    else
      echo "$prog: $name: $addr is neither an IP address nor a DNS name" >&2
      exit 2
    fi
    case ",$san," in
      *",$entry,"*) ;;
      *) san="${san:+$san,}$entry" ;;
    esac
  done
  names+=("$name")
  sans+=("$san")
done

if { [ -e "$out/ca.crt" ] && [ ! -e "$out/ca.key" ]; } ||
  { [ ! -e "$out/ca.crt" ] && [ -e "$out/ca.key" ]; }; then
  echo "$prog: $out holds only one of ca.crt and ca.key; give both or neither" >&2
  exit 1
fi

umask 077
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# openssl, its chatter kept out of sight unless it fails.
ossl() {
  if ! openssl "$@" 2>"$work/openssl.log" >/dev/null; then
    echo "$prog: openssl $1 failed:" >&2
    cat "$work/openssl.log" >&2
    exit 1
  fi
}

new_key() {
  ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
}

# A configuration for `openssl req` naming only the subject, so that nothing comes
# from the system's openssl.cnf.
req_config() {
  printf '[req]\nprompt = no\ndistinguished_name = dn\n[dn]\n'
  local part
  for part in "$@"; do
    printf '%s\n' "$part"
  done
}

# sign NAME CN EXTENSIONS...: NAME.key and a certificate for it, signed by the CA.
sign() {
  local name=$1 cn=$2
  shift 2
  new_key "$work/$name.key"
  req_config "O = ectd" "CN = $cn" >"$work/$name.req.cnf"
  ossl req -new -config "$work/$name.req.cnf" -key "$work/$name.key" -out "$work/$name.csr"
  {
    echo "[leaf]"
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    printf '%s\n' "$@"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid"
  } >"$work/$name.ext"
  ossl x509 -req -in "$work/$name.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$cert_days" -sha256 \
    -extfile "$work/$name.ext" -extensions leaf -out "$work/$name.crt"
  made+=("$name")
}

made=()
if [ -e "$out/ca.crt" ]; then
  cp "$out/ca.crt" "$out/ca.key" "$work/"
  echo "using the CA in $out"
else
  new_key "$work/ca.key"
  {
    req_config "O = ectd" "CN = ectd CA"
    echo "[ca]"
    echo "basicConstraints = critical, CA:TRUE, pathlen:0"
    echo "keyUsage = critical, keyCertSign, cRLSign"
    echo "subjectKeyIdentifier = hash"
  } >"$work/ca.cnf"
  ossl req -x509 -new -config "$work/ca.cnf" -extensions ca -key "$work/ca.key" \
    -sha256 -days "$ca_days" -set_serial "0x$(openssl rand -hex 16)" -out "$work/ca.crt"
  made+=(ca)
fi

for i in "${!names[@]}"; do
  sign "${names[$i]}" "$member_cn" \
    "extendedKeyUsage = serverAuth, clientAuth" \
    "subjectAltName = ${sans[$i]}"
done
sign client "$client_cn" "extendedKeyUsage = clientAuth"

for name in "${made[@]}"; do
  install -m 0600 "$work/$name.key" "$out/$name.key"
  install -m 0644 "$work/$name.crt" "$out/$name.crt"
  echo "made $out/$name.crt and $out/$name.key"
done
