#!/bin/sh
# Install the Debian packages ITM needs to build, test and run its lab.
# Idempotent: installs only what is missing.  Run as root on Debian 12.
# prometheus is there for its promtool (the tests check /metrics with it),
# etcd-server for the controller's etcd store (tests start their own):
# Debian 12 has no smaller package holding it.  Packages are installed
# without starting their daemons, and the servers of packages we only need
# for their tools (SERVERS below) are left disabled when this script
# installed them: nothing new listens on this host afterwards.
set -eu

PKGS="build-essential cmake pkg-config clang clang-format
libmnl-dev libbpf-dev bpftool llvm libnetfilter-queue-dev libnetfilter-acct-dev libuv1-dev libmicrohttpd-dev
libgrpc-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev
libssl-dev libsqlite3-dev sqlite3 libyaml-dev libjansson-dev libcmocka-dev
iptables nftables iproute2 conntrack iperf3 tcpdump iputils-ping curl
openssl procps psmisc mount ethtool python3 python3-yaml python3-matplotlib nfacct prometheus
python3-grpcio python3-grpc-tools python3-protobuf
etcd-server etcd-client"

# Services of packages installed only for their tools (PACKAGE or
# PACKAGE:SERVICE): etcd-server is for the tests and labs, which start
# their own etcd on their own ports.
SERVERS="prometheus etcd-server:etcd"

# While apt installs, invoke-rc.d asks /usr/sbin/policy-rc.d whether a
# service may start: 101 says no.  An existing policy file is left alone.
POLICY=/usr/sbin/policy-rc.d
no_daemons_start() {
	[ -e "$POLICY" ] && { POLICY=""; return 0; }
	printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY"
}
no_daemons_end() { [ -z "$POLICY" ] || rm -f "$POLICY"; }

# disable_servers "PKG...": the SERVERS among the packages just installed
# stay off at boot too.
disable_servers() {
	command -v systemctl >/dev/null 2>&1 || return 0
	for s in $SERVERS; do
		case " $1 " in
		*" ${s%%:*} "*) systemctl disable --now "${s#*:}" >/dev/null 2>&1 || true ;;
		esac
	done
}

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
	no_daemons_start
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ no_daemons_end; exit 1; }
	no_daemons_end
	disable_servers "$missing"
fi

# The nft backend only: never mix iptables-legacy tables in.
if command -v update-alternatives >/dev/null 2>&1 &&
   [ -e /usr/sbin/iptables-nft ]; then
	update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null 2>&1 || true
fi
