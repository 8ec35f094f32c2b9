#!/bin/sh
# Makes the certificates the TLS tests use, fresh at test time, in directory $1:
#   ca.pem/ca.key (test CA), server.pem/server.key (127.0.0.1 and localhost, signed by the CA),
#   self.pem/self.key (self-signed, 127.0.0.1 and localhost),
#   client.pem/client.key (a client certificate signed by the CA).
set -eu
d=$1
mkdir -p "$d"
cd "$d"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
run() { "$@" >/dev/null 2>&1 || { echo "mkcerts: failed: $*" >&2; "$@"; exit 1; }; }
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > ext_srv
printf 'extendedKeyUsage=clientAuth\n' > ext_cli
run openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj "/CN=websocket module test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
run openssl req -new $ec -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
run openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
  -extfile ext_srv
run openssl req -x509 $ec -keyout self.key -out self.pem -days 2 -subj "/CN=127.0.0.1" \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost
run openssl req -new $ec -keyout client.key -out client.csr -subj "/CN=websocket module test client"
run openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 \
  -extfile ext_cli
