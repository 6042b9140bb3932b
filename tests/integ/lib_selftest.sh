#!/bin/bash
# lib_selftest.sh - proves tests/integ/lib.sh does what tests rely on: a
# line topology that forwards, exact TOS bytes from a capture, traffic
# shaping, a chain, and a cleanup that leaves nothing behind, also when a
# test fails halfway (in a subshell, by `set -e`, by SIGTERM), without
# touching anybody else's namespaces.
. "$(dirname "$0")/lib.sh"
itm_init lib_selftest

# Run a child test (a separate bash sourcing lib.sh) that builds a line,
# starts processes inside and outside its namespaces, records what it made
# in $1, then runs the failure given as the rest of the arguments.
child_test() {
	local out=$1
	shift
	ITM_TMP_PARENT=$ITM_TMP bash -c '
		. "$ITM_SRC/tests/integ/lib.sh"
		itm_init child
		itm_topo_line
		itm_bg h2 sleep 1000
		itm_bg - sleep 1000
		ip netns exec "$(itm_nsname r)" sleep 1000 &   # untracked
		{ echo "$ITM_PFX"; echo "$ITM_TMP"; echo "${ITM_PIDS[*]}"
		  echo "$!"; } >"'"$out"'"
		eval "$1"
		echo "child: not reached" >&2
		exit 0' child "$1" >"$ITM_TMP/child.log" 2>&1
}

# Nothing of the child described in $1 may remain.
assert_child_gone() {
	local pfx tmp pids upid p
	{ read -r pfx; read -r tmp; read -r pids; read -r upid; } <"$1"
	itm_assert_match "$pfx" '^itm-child-[0-9]+$' "child prefix"
	[ -z "$(ip netns list | grep -F -- "$pfx-")" ] ||
		itm_fail "$2: namespaces left: $(ip netns list | grep -F -- "$pfx-")"
	for p in $pids $upid; do
		itm_wait_for 3 itm__dead "$p" ||
			itm_fail "$2: process $p still running"
	done
	[ ! -e "$tmp" ] || itm_fail "$2: temp dir $tmp left"
}

check_line() {
	local rtt
	rtt=$(itm_ping h1 "$ITM_H2_IP" 3 0.1) || itm_fail "h1 cannot ping h2"
	itm_log "h1 -> h2 rtt ${rtt} ms"
	for d in "$ITM_H1_DEV" "$ITM_R_DEV1" "$ITM_R_DEV2" "$ITM_H2_DEV"; do
		[ "${#d}" -le 15 ] || itm_fail "device name $d too long"
	done
	itm_assert_eq "$ITM_R_DEV2" "to-h2" "r's device towards h2"
	itm_assert_eq "$(itm_addr h2)" "$ITM_H2_IP" "itm_addr h2"
	itm_assert_eq "$(itm_exec r sysctl -n net.ipv4.ip_forward)" 1 "r forwards"
}

# The TOS byte of `ping -Q 0x10` must read 0x10 on every packet, and 0x00
# without -Q: the parser is exact and the check can fail.
check_tos() {
	local tos tcp_v
	itm_capture h2 "$ITM_H2_DEV" "icmp[icmptype] = icmp-echo" 3
	itm_exec h1 ping -n -q -c 3 -i 0.1 -Q 0x10 "$ITM_H2_IP" >/dev/null ||
		itm_fail "ping -Q 0x10 failed"
	itm_capture_wait 5 || itm_fail "capture did not see 3 echo requests"
	tos=$(itm_pcap_tos "$ITM_PCAP" | tr '\n' ' ')
	itm_assert_eq "$tos" "0x10 0x10 0x10 " "TOS of ping -Q 0x10"
	itm_assert_eq "$(itm_pcap_count "$ITM_PCAP")" 3 "packets in pcap"
	# The same bytes as tcpdump's own decoder reads them.
	tcp_v=$(tcpdump -r "$ITM_PCAP" -n -v 2>/dev/null |
		grep -o 'tos 0x[0-9a-f]*' |
		while read -r _ v; do printf '0x%02x ' "$((v))"; done)
	itm_assert_eq "$tcp_v" "$tos" "tcpdump -v agrees"

	itm_capture h2 "$ITM_H2_DEV" "icmp[icmptype] = icmp-echo" 2
	itm_exec h1 ping -n -q -c 2 -i 0.1 "$ITM_H2_IP" >/dev/null
	itm_capture_wait 5 || itm_fail "capture did not see 2 echo requests"
	itm_assert_eq "$(itm_pcap_tos "$ITM_PCAP" | tr '\n' ' ')" "0x00 0x00 " \
		"TOS of plain ping"
}

# iperf3 through r, then r's egress shaped to 50 Mbit/s by itm_shape.
check_traffic() {
	local g
	g=$(itm_iperf h2 "$ITM_H2_IP" h1 1) || itm_fail "iperf3 failed"
	itm_log "unshaped: $g Gbit/s"
	itm_assert_ge "$g" 0.2 "unshaped throughput"
	itm_shape r "$ITM_R_DEV2" 50mbit
	g=$(itm_iperf h2 "$ITM_H2_IP" h1 2) || itm_fail "iperf3 failed"
	itm_log "shaped to 50mbit: $g Gbit/s"
	itm_assert_le "$g" 0.056 "shaped throughput (Gbit/s)"
	itm_assert_ge "$g" 0.035 "shaped throughput"
}

check_cleanup() {
	local f=$ITM_TMP/child.out rc
	child_test "$f" '( itm_fail "forced failure in a subshell" )'
	rc=$?
	itm_assert_eq "$rc" 1 "exit status after itm_fail in a subshell"
	grep -q "forced failure in a subshell" "$ITM_TMP/child.log" ||
		itm_fail "child's failure message missing"
	grep -q "child: not reached" "$ITM_TMP/child.log" &&
		itm_fail "child went on after itm_fail"
	assert_child_gone "$f" "itm_fail in subshell"

	child_test "$f" 'set -e; false'
	itm_assert_eq "$?" 1 "exit status after set -e failure"
	assert_child_gone "$f" "set -e"

	child_test "$f" 'kill -TERM $$; sleep 5'
	itm_assert_eq "$?" 143 "exit status after SIGTERM"
	assert_child_gone "$f" "SIGTERM"
	# Ours are untouched.
	itm_ping h1 "$ITM_H2_IP" 1 >/dev/null || itm_fail "child broke our line"
}

# Agent helpers: a clear failure without the binary; with it, the agent
# answers itmctl and stops cleanly on SIGTERM.
check_agent() {
	local out
	out=$(ITM_BUILD=$ITM_TMP/nobuild bash -c '
		. "$ITM_SRC/tests/integ/lib.sh"; itm_init child
		itm_ns r; itm_agent_start r r' 2>&1)
	itm_assert_eq "$?" 1 "itm_agent_start without a build"
	itm_assert_match "$out" "itm-agent is not built: $ITM_TMP/nobuild/agent/itm-agent" \
		"error without a build"
	if [ ! -x "$(itm_agent_bin)" ]; then
		itm_log "itm-agent not built: agent start/stop not exercised"
		return 0
	fi
	itm_agent_start r r
	if [ -x "$(itm_ctl_bin)" ]; then
		out=$(itm_ctl r r status) || itm_fail "itmctl status failed"
		itm_assert_match "$out" "r" "itmctl status names the node"
	fi
	itm_agent_stop r || itm_fail "itm-agent exited with status $? on SIGTERM"
	itm_log "itm-agent started, answered and stopped"
}

# The assertions fail when they should, with the values in the message.
check_asserts() {
	local a out
	for a in "itm_assert_eq 1 2 eq|eq: expected '2', got '1'" \
		 "itm_assert_ge 1.5 2 ge|ge: expected >= 2, got 1.5" \
		 "itm_assert_le 3 2.5 le|le: expected <= 2.5, got 3" \
		 "itm_assert_ge abc 2 num|num: 'abc' is not a number" \
		 "itm_assert_match abc ^b m|m: does not match /^b/: abc"; do
		out=$(bash -c ". '$ITM_SRC/tests/integ/lib.sh'; ${a%%|*}" 2>&1)
		itm_assert_eq "$?" 1 "exit status of ${a%%|*}"
		[[ $out == *"${a#*|}"* ]] || itm_fail "${a%%|*}: message '$out'"
	done
	bash -c ". '$ITM_SRC/tests/integ/lib.sh'; itm_assert_eq x x &&
		itm_assert_ge 2 2 && itm_assert_le 2 2.0 && itm_assert_match abc b" ||
		itm_fail "a true assertion failed"
}

check_asserts
itm_topo_line
check_line
check_agent
check_tos
check_traffic
check_cleanup

# A 4-node chain in the same run: n1 reaches n4 and back.
itm_topo_chain 4
itm_ping n1 "$(itm_chain_ip 4)" 2 0.1 >/dev/null || itm_fail "n1 cannot reach n4"
itm_ping n4 "$(itm_chain_ip 1)" 2 0.1 >/dev/null || itm_fail "n4 cannot reach n1"
itm_log "chain of 4: ok"

itm_log "PASS"
