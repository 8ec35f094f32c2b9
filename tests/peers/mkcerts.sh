#!/bin/sh
# Creates the certificates the TLS tests use, in the directory given as $1 (created if needed).
# Everything is generated afresh at test time with the openssl CLI; nothing secret is checked in.
#
#   ca.pem / ca.key            root CA ("ws_api test CA")
#   int.pem / int.key          intermediate CA signed by the root
#   server.pem / server.key    server leaf for 127.0.0.1 and localhost, signed by the
#                              intermediate; server.pem holds the leaf followed by int.pem (a chain)
#   wronghost.pem / .key       server leaf for wrong.example only, signed by the root
#   expired.pem / .key         server leaf for 127.0.0.1, signed by the root, valid only in 2020
#   self.pem / self.key        self-signed server certificate for 127.0.0.1 and localhost
#   selfexpired.pem / .key     self-signed, for 127.0.0.1, valid only in 2020
#   client.pem / client.key    client certificate signed by the root
#   ca2.pem / ca2.key          an unrelated root CA
#   client2.pem / client2.key  client certificate signed by ca2
#   rsa.pem / rsa.key          server leaf for 127.0.0.1 with a traditional "BEGIN RSA PRIVATE
#                              KEY" key, signed by the root
set -eu
d=$1
mkdir -p "$d"
cd "$d"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
q() { "$@" >/dev/null 2>&1 || { echo "mkcerts: failed: $*" >&2; "$@"; exit 1; }; }

printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ext_ca
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext_srv
printf 'subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n' >ext_wrong
printf 'extendedKeyUsage=clientAuth\n' >ext_cli

root() { # name subject
  q openssl req -x509 $ec -keyout "$1.key" -out "$1.pem" -days 30 -subj "$2"
}
leaf() { # name subject issuer extfile
  q openssl req -new $ec -keyout "$1.key" -out "$1.csr" -subj "$2"
  q openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
    -out "$1.pem" -days 30 -extfile "$4"
}

root ca "/CN=ws_api test CA"
root ca2 "/CN=ws_api other CA"
leaf int "/CN=ws_api test intermediate" ca ext_ca
leaf server "/CN=localhost" int ext_srv
cat int.pem >>server.pem
leaf wronghost "/CN=wrong.example" ca ext_wrong
leaf client "/CN=ws_api test client" ca ext_cli
leaf client2 "/CN=ws_api other client" ca2 ext_cli
q openssl req -x509 $ec -keyout self.key -out self.pem -days 30 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost
q openssl req -new -newkey rsa:2048 -nodes -keyout rsa.pkcs8 -out rsa.csr -subj /CN=localhost
q openssl rsa -in rsa.pkcs8 -out rsa.key -traditional
q openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out rsa.pem -days 30 \
  -extfile ext_srv

# Certificates valid only in the past need `openssl ca`, the one CLI that sets explicit dates.
mkdir -p ca.db
: >ca.db/index.txt
echo 01 >ca.db/serial
cat >ca.cnf <<CNF
[ca]
default_ca = d
[d]
dir = $PWD/ca.db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
past() { # name signer-cert signer-key (signer "self" = self-signed)
  q openssl req -new $ec -keyout "$1.key" -out "$1.csr" -subj /CN=localhost
  if [ "$2" = self ]; then
    q openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" -in "$1.csr" -out "$1.pem" \
      -startdate 20200101000000Z -enddate 20200201000000Z -notext -extfile ext_srv
  else
    q openssl ca -batch -config ca.cnf -cert "$2" -keyfile "$3" -in "$1.csr" -out "$1.pem" \
      -startdate 20200101000000Z -enddate 20200201000000Z -notext -extfile ext_srv
  fi
}
past expired ca.pem ca.key
past selfexpired self
rm -f ./*.csr
