#!/usr/bin/env bash
# Writes throw-away certificates for the TLS tests into DIR (nothing secret is committed: every
# test run makes its own). Used by the TypeScript, Python and Go tests alike.
#
#   make-test-certs.sh DIR [CLIENT_CN...]
#
# DIR gets:
#   ca.pem, ca.key              the test CA
#   server.pem, server.key      a server certificate from it for localhost, 127.0.0.1 and ::1
#   server-2.pem, server-2.key  a second one (serial differs), for reload tests
#   expired.pem, expired.key    an expired server certificate from the same CA (2020)
#   other-ca.pem, other-ca.key  a second CA nobody trusts
#   client-<CN>.pem/.key        a client certificate from the test CA for each CLIENT_CN
#                               (default: web-01.example)
#   other-client.pem/.key       a client certificate (CN web-01.example) from the other CA
set -euo pipefail
dir=${1:?usage: make-test-certs.sh DIR [CLIENT_CN...]}
shift
cns=("$@")
[ ${#cns[@]} -gt 0 ] || cns=(web-01.example)
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name cn
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 2 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$1.pem"
}

ext_server=$'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
ext_client=$'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'

leaf() { # name cn ca ext
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -sha256 -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "Stateward Test CA"
ca other-ca "Other Test CA"
leaf server localhost ca "$ext_server"
leaf server-2 localhost ca "$ext_server"
for cn in "${cns[@]}"; do leaf "client-$cn" "$cn" ca "$ext_client"; done
leaf other-client web-01.example other-ca "$ext_client"

# An expired certificate needs explicit dates, which only `openssl ca` sets in OpenSSL 3.0.
key expired.key
openssl req -new -key expired.key -subj "/CN=localhost" -out expired.csr
mkdir -p expired-ca && : > expired-ca/index.txt && echo 1000 > expired-ca/serial
cat > expired-ca/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = expired-ca/index.txt
serial = expired-ca/serial
new_certs_dir = expired-ca
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
CNF
openssl ca -batch -config expired-ca/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200102000000Z -extensions ext -notext 2>/dev/null
rm -rf expired.csr expired-ca ca.srl other-ca.srl
