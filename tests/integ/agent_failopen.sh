#!/bin/bash
# agent_failopen.sh - the agent never holds traffic hostage.
#
#  1. kill -9 of itm-agent (with qosmod) in the middle of a TCP transfer:
#     the transfer completes (--queue-bypass, fail-open queues);
#  2. a new agent cleans up what the dead one left: exactly one jump per
#     hook, no stale chains or nfacct objects;
#  3. SIGTERM removes every rule and chain it installed;
#  4. and neither touches the operator's own mangle rules around ours.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_failopen
itm_topo_line

jumps() {
	itm_exec r iptables-nft-save -t mangle | grep -c -- '-j ITM_' || true
}

# The operator's own rules, before and (once the agent inserted its
# jumps at the top) around ours.
operator_rules() {
	itm_exec r iptables-nft-save -t mangle | grep -- '-j OPERATOR' || true
}
itm_exec r iptables-nft -t mangle -N OPERATOR
itm_exec r iptables-nft -t mangle -A OPERATOR -j DSCP --set-dscp 10
itm_exec r iptables-nft -t mangle -A FORWARD -p tcp --dport 22 -j OPERATOR
itm_exec r iptables-nft -t mangle -A POSTROUTING -p udp -j OPERATOR
own=$(operator_rules)
itm_assert_eq "$(wc -l <<<"$own")" 2 "operator's jumps"

itm_agent_start r r --load "qosmod threshold=5 settle=no"
pid=${ITM_AGENT_PID[r]}

# A transfer long enough to kill the agent in its middle.  settle=no keeps
# every packet crossing to user space, so the kill lands on live queues.
itm_bg h2 --name iperf-srv iperf3 -s -1 -B "$ITM_H2_IP" -p 5301
itm_wait_for 5 itm__listening h2 5301 || itm_fail "iperf3 server did not start"
itm_bg h1 --name iperf-cli iperf3 -c "$ITM_H2_IP" -p 5301 -t 4 -J
cli=$ITM_LAST_PID
sleep 1.5
kill -9 "$pid"
unset 'ITM_AGENT_PID[r]'
itm_log "killed itm-agent (pid $pid) mid-transfer"
itm_wait_for 15 itm__dead "$cli" || itm_fail "transfer hung after kill -9"
wait "$cli" || itm_fail "iperf3 failed after the agent was killed"
gbps=$(itm_iperf_gbps "$ITM_LAST_LOG") || itm_fail "no iperf3 result"
itm_log "transfer completed at $gbps Gbit/s"

# The dead agent's rules are still there (bypass lets traffic through).
itm_assert_ge "$(jumps)" 5 "jumps left by the killed agent"

# A new agent starts clean: one jump per hook, its own stage only.
itm_agent_start r r --load "qosmod threshold=5"
itm_assert_eq "$(jumps)" 5 "jumps after restart"
itm_assert_eq "$(operator_rules)" "$own" \
	"operator's rules after the new agent cleaned up"
itm_assert_eq "$(itm_exec r iptables-nft-save -t mangle | grep -c NFQUEUE)" 1 \
	"queue rules after restart"
itm_exec h1 ping -c 2 -W 2 "$ITM_H2_IP" >/dev/null || itm_fail "no ping"
gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 1) || itm_fail "transfer through new agent"

# SIGTERM: everything goes.
itm_agent_stop r || itm_fail "agent exited with an error on SIGTERM"
left=$(itm_exec r iptables-nft-save -t mangle | grep -c 'ITM_' || true)
itm_assert_eq "$left" 0 "ITM rules and chains after SIGTERM"
itm_assert_eq "$(operator_rules)" "$own" "operator's rules after SIGTERM"
accts=$(itm_exec r nfacct list) || itm_fail "nfacct list failed"
itm_assert_eq "$(grep -c itm_ <<<"$accts" || true)" 0 \
	"nfacct objects after SIGTERM"
itm_log "ok"
