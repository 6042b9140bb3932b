#!/bin/bash
# procmod_restart.sh - process modules survive a restart of the agent.
#
# fig13 (TOS 0x2c on TCP to port 5621) and itm-counter run on r.  The agent
# is stopped with SIGTERM: its rules go, traffic flows on untouched, the
# modules keep running.  A new agent on the same socket: both modules
# attach again by themselves within two seconds of the agent answering
# (same pids, `module list` shows them; they say so once), the TOS
# is rewritten again, and the mangle table holds each rule once.  The same
# after kill -9 of the agent, whose rules stay behind until the new agent
# replaces them (the process keeps rewriting meanwhile).
. "$ITM_SRC/tests/integ/lib.sh"
itm_init lrestart
itm_topo_line
itm_agent_start r r
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
FIG13=$ITM_BUILD/modules/examples/fig13/fig13
COUNTER=$ITM_BUILD/modules/examples/counter/itm-counter
PORT=5621
TOS=0x2c

# "LABEL PID" of every registration in `module list`, sorted.
listed() {
	itm_ctl r r module list -o json | python3 -c '
import json, sys
for m in json.load(sys.stdin)["modules"]:
    for r in m["registrations"]:
        print(r["label"], m.get("pid", "-"))' | sort | tr '\n' ' '
}
both_listed() { [ "$(listed)" = "$WANT" ]; }
mangle() { itm_exec r iptables-nft-save -t mangle | grep -v '^#'; }
# Each rule of the mangle table once, and one NFQUEUE rule per module.
check_rules() {
	local dup
	dup=$(mangle | grep '^-A' | sort | uniq -d)
	[ -z "$dup" ] || itm_fail "$1: rules twice in the mangle table: $dup"
	itm_assert_eq "$(mangle | grep -c NFQUEUE)" 2 "$1: NFQUEUE rules"
	itm_assert_eq "$(mangle | grep -c -- '-A FORWARD -j ITM_FWD')" 1 \
		"$1: jumps to ITM_FWD"
}
# restart WHY: start the agent again and wait for both modules: within
# two seconds of the agent answering, however long it was away.
restart() {
	local t0 ms
	itm_agent_start r r
	t0=$(date +%s%N)
	itm_wait_for 10 both_listed ||
		itm_fail "$1: modules not back after 10 s: $(listed)"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	itm_log "$1: both modules attached again ${ms} ms after the agent answered"
	itm_assert_le "$ms" 2000 "$1: re-attach time (ms)"
	itm_assert_eq "$(itm_syn_tos "$PORT")" "$TOS" "$1: TOS after the restart"
	check_rules "$1"
}

itm_bg r --name fig13 "$FIG13" --label lr-fig13 --proto tcp --dport "$PORT" \
	--new-dport 0 --tos "$TOS"
FPID=$ITM_LAST_PID
itm_bg r --name counter "$COUNTER" --label lr-count --interval 1
CPID=$ITM_LAST_PID
WANT="lr-count $CPID lr-fig13 $FPID "
itm_wait_for 5 both_listed || itm_fail "modules did not register: $(listed)"
itm_assert_eq "$(itm_syn_tos "$PORT")" "$TOS" "TOS before the restart"
check_rules "first agent"

# SIGTERM: the agent takes its rules along; the modules wait for it.
itm_agent_stop r || itm_fail "agent exited with $? on SIGTERM"
itm_assert_eq "$(mangle | grep -c ITM_)" 0 "ITM rules with the agent stopped"
itm_assert_eq "$(itm_syn_tos "$PORT")" 0x00 "TOS with the agent stopped"
sleep 5		# long enough for gRPC's default reconnect backoff to grow
itm__dead "$FPID" && itm_fail "fig13 exited when the agent stopped"
itm__dead "$CPID" && itm_fail "itm-counter exited when the agent stopped"
restart "after SIGTERM"
grep -q "lr-fig13: re-attached to the agent" "$ITM_TMP/fig13.log" ||
	itm_fail "fig13 did not log its re-attach"
itm_assert_eq "$(grep -c "heartbeat: .*UNAVAILABLE" "$ITM_TMP/fig13.log")" 1 \
	"fig13's messages about the missing agent"

# kill -9: the rules stay, and fig13 still reads its queue.
kill -KILL "${ITM_AGENT_PID[r]}"
{ wait "${ITM_AGENT_PID[r]}"; } 2>/dev/null
unset 'ITM_AGENT_PID[r]'
itm_assert_eq "$(itm_syn_tos "$PORT")" "$TOS" "TOS with the agent killed"
restart "after kill -9"

# The modules still end cleanly, and take their rules along.
kill -INT "$FPID" "$CPID"
itm_wait_for 5 itm__all_dead "$FPID" "$CPID" || itm_fail "modules ignored SIGINT"
wait "$FPID" || itm_fail "fig13 exited with $? after SIGINT"
wait "$CPID" || itm_fail "itm-counter exited with $? after SIGINT"
itm_wait_for 3 eval '[ -z "$(listed)" ]' || itm_fail "still listed: $(listed)"
itm_assert_eq "$(mangle | grep -c NFQUEUE)" 0 "NFQUEUE rules after the modules left"
itm_log "ok"
