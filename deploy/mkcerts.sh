#!/bin/sh
# mkcerts.sh - a small lab CA and per-name certificates for ITM's mutual TLS
# (itm-agent, itm-controller and itmctl --tls-ca/--tls-cert/--tls-key).
#
#   deploy/mkcerts.sh DIR name...
#
# Makes DIR/ca.pem + DIR/ca.key once (reused on later runs), then for each
# name DIR/NAME.pem + DIR/NAME.key: CN=name, subjectAltName DNS:name (IP:name
# for an address), usable both as a server and as a client certificate.
# Keys are EC P-256, mode 0600.  For labs and tests: never commit the output.
set -eu

usage() {
	echo "usage: mkcerts.sh DIR name..." >&2
	exit 2
}

[ $# -ge 2 ] || usage
dir=$1
shift
command -v openssl >/dev/null || { echo "mkcerts: openssl not found" >&2; exit 1; }
umask 077
mkdir -p "$dir"

newkey="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca.key" ]; then
	# A distinct subject per CA, so two labs' CAs are never confused.
	# shellcheck disable=SC2086
	openssl req -x509 -new $newkey -sha256 -days 3650 \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" \
		-subj "/O=ITM lab/CN=ITM lab CA $(openssl rand -hex 4)" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	chmod 644 "$dir/ca.pem"
	echo "mkcerts: made $dir/ca.pem"
fi

for name in "$@"; do
	case $name in
	""|*[!A-Za-z0-9._:-]*|ca)
		echo "mkcerts: bad name '$name' (letters, digits, . _ : - only; not 'ca')" >&2
		exit 2 ;;
	esac
	case $name in
	*[!0-9.]*) san="DNS:$name" ;;
	*) san="IP:$name" ;;
	esac
	case $name in
	*:*) san="IP:$name" ;;
	esac
	ext="$dir/.$name.ext"
	cat >"$ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT
	# shellcheck disable=SC2086
	openssl req -new $newkey -keyout "$dir/$name.key" \
		-out "$dir/.$name.csr" -subj "/CN=$name" 2>/dev/null
	openssl x509 -req -sha256 -days 825 -in "$dir/.$name.csr" \
		-CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" \
		-extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
	chmod 644 "$dir/$name.pem"
	rm -f "$ext" "$dir/.$name.csr"
	echo "mkcerts: made $dir/$name.pem ($san)"
done
