#!/bin/bash
# agent_settle_rules.sh - connection tracking only where a module may settle
# (ITM_MAY_SETTLE, plugin ABI 1.4).
#
#  - fig13 in the agent and fig13 as a process (neither settles): r's rules
#    (iptables-nft-save, nft list ruleset) have no conntrack match and no
#    CONNMARK, and forwarded pings leave no conntrack entry in r;
#  - qosmod loaded (it declares it may settle): its hook's chain has the
#    CONNMARK rules at once, before any flow settled, and r tracks
#    connections;
#  - qosmod unloaded: the conntrack rules are gone again;
#  - the agent logs both changes;
#  - a module built as for ABI 1.3 (no flags: tests/plugins/oldabi.c) is
#    taken to settle, as before: its hook (FORWARD) gets the rules; so is
#    a process module that called the old libitm_init symbol (INPUT).
. "$ITM_SRC/tests/integ/lib.sh"
itm__need iptables-nft-save nft conntrack ping
itm_init agent_settle_rules
itm_topo_line
export ITM_AGENT_MODDIRS="$ITM_BUILD/tests/modules"
itm_agent_start r r --load "fig13 proto=any new_dport=0 tos=0x55"
AGENT_LOG=$ITM_LAST_LOG
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
FIG13=$ITM_BUILD/modules/examples/fig13/fig13

rules() { itm_exec r iptables-nft-save -t mangle; }
ct_rules() { rules | grep -cE -- '-m conntrack|CONNMARK|-m connmark'; }
nft_ct() { itm_exec r nft list ruleset | grep -cE '\bct (direction|mark)\b'; }
tracked() {	# conntrack entries in r towards h2
	itm_exec r conntrack -L -d "$ITM_H2_IP" 2>/dev/null | grep -c "$ITM_H2_IP"
}
registered() {
	itm_ctl r r module list -o json | grep -q "\"label\": *\"$1\""
}
has_ct_rules() { [ "$(ct_rules)" -gt 0 ]; }
no_ct_rules() { [ "$(ct_rules)" -eq 0 ]; }

itm_bg r --name fig13-p "$FIG13" --label rw-p --hook post_route \
	--proto udp --new-dport 0 --tos 0x55
itm_wait_for 5 registered rw-p || itm_fail "process fig13 did not register"
rules | grep -q -- '-A ITM_FWD .*NFQUEUE' || itm_fail "no queue rule at FORWARD"
rules | grep -q -- '-A ITM_POST .*NFQUEUE' || itm_fail "no queue rule at POSTROUTING"
itm_exec r conntrack -F >/dev/null 2>&1 || true
itm_exec h1 ping -c 3 -i 0.2 "$ITM_H2_IP" >/dev/null ||
	itm_fail "ping through r with fig13 loaded"
itm_assert_eq "$(ct_rules)" 0 "conntrack rules in iptables-nft-save with fig13 only"
itm_assert_eq "$(nft_ct)" 0 "ct expressions in nft list ruleset with fig13 only"
itm_assert_eq "$(tracked)" 0 "connections tracked in r with fig13 only"

itm_ctl r r module load qosmod >/dev/null || itm_fail "load qosmod"
itm_wait_for 5 has_ct_rules || itm_fail "qosmod loaded: no conntrack rules"
rules | grep -qE -- '-A ITM_POST .*--ctdir ORIGINAL -j CONNMARK' ||
	itm_fail "qosmod's hook has no CONNMARK rule"
rules | grep -qE -- '-A ITM_FWD .*(conntrack|CONNMARK)' &&
	itm_fail "FORWARD (fig13 only) got conntrack rules"
itm_assert_ge "$(nft_ct)" 1 "ct expressions in nft list ruleset with qosmod"
itm_exec h1 ping -c 3 -i 0.2 "$ITM_H2_IP" >/dev/null ||
	itm_fail "ping through r with qosmod loaded"
itm_assert_ge "$(tracked)" 1 "connections tracked in r with qosmod"
settles() {	# SETTLES column of registration $1 in `itmctl module list`
	itm_ctl r r module list | awk -v l="$1" '$5 == l { print $11 }'
}
itm_assert_eq "$(settles qos_ctrl)" yes "module list SETTLES of qosmod"
itm_assert_eq "$(settles fig13)" no "module list SETTLES of fig13"
itm_assert_eq "$(settles rw-p)" no "module list SETTLES of the fig13 process"
grep -q "POST_ROUTE: settlement rules written: connection tracking on" \
	"$AGENT_LOG" || itm_fail "agent did not log that tracking is on"

itm_ctl r r module unload qosmod >/dev/null || itm_fail "unload qosmod"
itm_wait_for 5 no_ct_rules || itm_fail "qosmod unloaded: conntrack rules stay"
grep -q "POST_ROUTE: settlement rules removed" "$AGENT_LOG" ||
	itm_fail "agent did not log that the settlement rules went"
grep -q "FORWARD: settlement rules" "$AGENT_LOG" &&
	itm_fail "agent logged settlement rules at FORWARD (fig13 only)"

itm_ctl r r module load oldabi >/dev/null || itm_fail "load oldabi (ABI 1.3)"
itm_wait_for 5 has_ct_rules || itm_fail "ABI 1.3 module: no conntrack rules"
rules | grep -qE -- '-A ITM_FWD .*--ctdir ORIGINAL -j CONNMARK' ||
	itm_fail "ABI 1.3 module's hook (FORWARD) has no CONNMARK rule"
itm_ctl r r module unload oldabi >/dev/null || itm_fail "unload oldabi"
itm_wait_for 5 no_ct_rules || itm_fail "oldabi unloaded: conntrack rules stay"

in_ct() { rules | grep -qE -- '-A ITM_IN .*--ctdir ORIGINAL -j CONNMARK'; }
itm_bg r --name pub-new "$ITM_BUILD/tests/tools/procpub_mod" t1 p1 d1 v1
PUB=$ITM_LAST_PID
itm_wait_for 10 registered procpub || itm_fail "procpub_mod did not register"
in_ct && itm_fail "a process module of ABI 1.4 without the flag got conntrack rules"
itm_stop "$PUB" 10 || true
itm_wait_for 5 eval '! registered procpub' || itm_fail "procpub_mod stays"
itm_bg r --name pub-old env PROCPUB_OLD_INIT=1 \
	"$ITM_BUILD/tests/tools/procpub_mod" t1 p1 d1 v1
PUB=$ITM_LAST_PID
itm_wait_for 10 registered procpub || itm_fail "old procpub_mod did not register"
itm_wait_for 5 in_ct ||
	itm_fail "a process module on the old libitm_init got no conntrack rules"
itm_stop "$PUB" 10 || true
itm_log "ok"
