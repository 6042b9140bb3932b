#!/bin/sh
# Install the Debian packages ITM needs to build, test and run its lab.
# Idempotent: installs only what is missing.  Run as root on Debian 12.
set -eu

PKGS="build-essential cmake pkg-config clang clang-format
libmnl-dev libbpf-dev bpftool llvm libnetfilter-queue-dev libnetfilter-acct-dev libuv1-dev
libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
libsqlite3-dev sqlite3 libyaml-dev libjansson-dev libcmocka-dev
iptables nftables iproute2 conntrack iperf3 tcpdump iputils-ping curl
openssl procps psmisc mount python3 python3-yaml nfacct"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages:$missing (run as root)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The nft backend only: never mix iptables-legacy tables in.
if command -v update-alternatives >/dev/null 2>&1 &&
   [ -e /usr/sbin/iptables-nft ]; then
	update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null 2>&1 || true
fi
