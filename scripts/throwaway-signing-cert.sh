#!/usr/bin/env bash
# Makes a throwaway code-signing certificate for CI and tests: a CA of its own and a certificate
# for code signing issued by it, so scripts/build-windows.sh can sign and
# scripts/check-windows-zip.sh can verify every signature against that CA. Never for a zip that
# leaves the machine: a real release is signed with the organisation's certificate.
#
#   scripts/throwaway-signing-cert.sh DIR
#     DIR/ca.pem        the CA certificate (check-windows-zip.sh --ca)
#     DIR/signing.pfx   the code-signing key and certificate chain (SCT_SIGN_PFX)
#     DIR/password      the .pfx password (SCT_SIGN_PASSWORD_FILE)
set -euo pipefail
dir=${1:?usage: throwaway-signing-cert.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl rand -hex 16 >password
openssl req -x509 -newkey rsa:3072 -nodes -days 30 -keyout ca.key -out ca.pem \
  -subj "/CN=sct throwaway test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -newkey rsa:3072 -nodes -keyout signing.key -out signing.csr \
  -subj "/CN=sct throwaway code signing/O=The sct contributors" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=codeSigning" >signing.ext
openssl x509 -req -in signing.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile signing.ext -out signing.pem 2>/dev/null
openssl pkcs12 -export -inkey signing.key -in signing.pem -certfile ca.pem \
  -passout "file:password" -out signing.pfx
rm -f ca.key signing.key signing.csr signing.ext ca.srl
echo "$dir/signing.pfx"
