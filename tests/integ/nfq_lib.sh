#!/bin/bash
# nfq_lib.sh - shared helpers of the nfq_* integration tests: a three-node
# lab h1 -- r -- h2 in network namespaces named after the test and its pid,
# removed on exit even when the test fails.
#
#   h1 eth0 10.77.1.1/24 --- eth1 10.77.1.254 [r] eth2 10.77.2.254 --- eth0 10.77.2.1/24 h2
#
# Use: source it, set NFQ_TEST, call nfq_lab_up (or nfq_pair_up), then
# run commands with "in_ns h1 cmd...".  Background processes started
# with nfq_bg are killed by pid on exit.

set -u

NFQ_TEST=${NFQ_TEST:-nfq}
NFQ_ID="${NFQ_TEST}-$$"
NFQ_TMP=$(mktemp -d "/tmp/${NFQ_ID}.XXXXXX")
NFQ_NS=()
NFQ_PIDS=()
NFQ_FAILED=0

NFQ_BUILD=${ITM_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
PROBE="$NFQ_BUILD/tests/tools/itmq_probe"

ns() { echo "${NFQ_ID}-$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

nfq_cleanup() {
	local p n
	for p in "${NFQ_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${NFQ_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	# Processes still running inside our namespaces (iperf3 servers...).
	for n in "${NFQ_NS[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
		ip netns del "$n" 2>/dev/null
	done
	if [ "$NFQ_FAILED" = 0 ] && [ "${NFQ_KEEP:-0}" = 0 ]; then
		rm -rf "$NFQ_TMP"
	else
		echo "logs kept in $NFQ_TMP" >&2
	fi
}
trap nfq_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	NFQ_FAILED=1
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "SKIP: $c missing"; exit 77; }
	done
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
}

nfq_ns_add() {
	ip netns add "$(ns "$1")" || fail "ip netns add $1"
	NFQ_NS+=("$(ns "$1")")
	in_ns "$1" ip link set lo up
}

# Veth between $1:$2 and $3:$4, created inside the namespaces so the names
# never exist in the host's namespace.
nfq_link() {
	ip -n "$(ns "$1")" link add "$2" type veth peer name "$4" \
		netns "$(ns "$3")" || fail "veth $1:$2 - $3:$4"
	ip -n "$(ns "$1")" link set "$2" up
	ip -n "$(ns "$3")" link set "$4" up
}

nfq_lab_up() {
	nfq_ns_add h1; nfq_ns_add r; nfq_ns_add h2
	nfq_link h1 eth0 r eth1
	nfq_link r eth2 h2 eth0
	ip -n "$(ns h1)" addr add 10.77.1.1/24 dev eth0
	ip -n "$(ns r)" addr add 10.77.1.254/24 dev eth1
	ip -n "$(ns r)" addr add 10.77.2.254/24 dev eth2
	ip -n "$(ns h2)" addr add 10.77.2.1/24 dev eth0
	ip -n "$(ns h1)" route add default via 10.77.1.254
	ip -n "$(ns h2)" route add default via 10.77.2.254
	in_ns r sysctl -qw net.ipv4.ip_forward=1
	in_ns h1 ping -c 1 -W 2 10.77.2.1 >/dev/null || fail "lab: no route h1 -> h2"
}

# Two nodes only: h1 eth0 10.77.1.1 --- eth0 10.77.1.2 h2.
nfq_pair_up() {
	nfq_ns_add h1; nfq_ns_add h2
	nfq_link h1 eth0 h2 eth0
	ip -n "$(ns h1)" addr add 10.77.1.1/24 dev eth0
	ip -n "$(ns h2)" addr add 10.77.1.2/24 dev eth0
	in_ns h1 ping -c 1 -W 2 10.77.1.2 >/dev/null || fail "pair: no link"
}

# nfq_bg NODE LOGNAME cmd...: run in the background inside NODE, output to
# $NFQ_TMP/LOGNAME.log; the pid is in $NFQ_LAST_PID.
nfq_bg() {
	local n=$1 log=$2; shift 2
	ip netns exec "$(ns "$n")" "$@" >"$NFQ_TMP/$log.log" 2>&1 &
	NFQ_LAST_PID=$!
	NFQ_PIDS+=("$NFQ_LAST_PID")
}

# Wait until FILE contains PATTERN (up to $3 tenths of a second).
wait_for() {
	local i
	for ((i = 0; i < ${3:-50}; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Stop a background process with SIGTERM and wait for it.
nfq_stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# Bytes received by an iperf3 client run (-J output in $1).
iperf_rx_bytes() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bytes"]))' "$1" 2>/dev/null || echo 0
}
iperf_rx_gbps() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' "$1" 2>/dev/null || echo 0
}
