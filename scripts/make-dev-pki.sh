#!/usr/bin/env bash
# A private CA and the certificates an ERN deployment needs for TLS and mutual TLS, made with
# openssl: for trials, CI and single-host deployments (docker compose). Production deployments
# bring certificates from their own CA (e.g. cert-manager) instead.
#
# usage: make-dev-pki.sh DIR [NAME...]
#   DIR/ca.pem, ca.key          the CA (clients: --ca DIR/ca.pem; servers: tls.client_ca)
#   DIR/server.pem, server.key  a server certificate for 127.0.0.1, localhost and each NAME
#   DIR/client.pem, client.key  a client certificate (workers: --cert, --key)
# Existing files are kept: run it again and nothing changes. Certificates last 825 days.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: make-dev-pki.sh DIR [NAME...]" >&2; exit 2; }
dir=$1
shift
mkdir -p "$dir"
cd "$dir"
[ -f client.pem ] && exit 0
umask 077
san="IP:127.0.0.1,DNS:localhost"
for name in "$@"; do
  case "$name" in
    *[!A-Za-z0-9.-]*) echo "make-dev-pki.sh: '$name' is not a host name" >&2; exit 2 ;;
  esac
  san="$san,DNS:$name"
done

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
sign() {  # NAME SUBJECT EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%b\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=ERN development CA" -days 825 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem
sign server "/CN=ern-server" "subjectAltName=$san\nextendedKeyUsage=serverAuth"
sign client "/CN=ern-worker" "extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 0644 ca.pem server.pem client.pem
echo "make-dev-pki.sh: CA and certificates in $PWD (server names: $san)"
