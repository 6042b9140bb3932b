#!/bin/bash
# procmod_bypass.sh - a packet that leaves a hook by --queue-bypass does not
# carry that hook's stage bits on to the next hook.
#
# On r: the fig13 process A at PRE_ROUTE (TOS 0x08, first), the fig13.so
# plugin in the agent at PRE_ROUTE after it (TOS 0x04), and the fig13
# process C at POST_ROUTE (TOS 0x28).  With everything running, C's TOS
# reaches the wire.  Then the agent is killed with -9: its rules stay, the
# plugin's queue has no reader, and packets leave PRE_ROUTE by
# --queue-bypass right after A handed them on with its stage bit set.  A
# and C keep their queues, so C must still see every packet at POST_ROUTE:
# the wire shows 0x28, not A's 0x08.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init pbypass
itm_topo_line
itm_agent_start r r
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
FIG13=$ITM_BUILD/modules/examples/fig13/fig13
PORT=5631

labels() {
	itm_ctl r r module list -o json | python3 -c '
import json, sys
print(" ".join(sorted(r["label"] for m in json.load(sys.stdin)["modules"]
                      for r in m["registrations"])))'
}
all_three() { [ "$(labels)" = "fig13 pb-a pb-c" ]; }

itm_bg r --name fig13-a "$FIG13" --label pb-a --hook pre_route --proto tcp \
	--dport "$PORT" --new-dport 0 --tos 0x08 --priority 0
A=$ITM_LAST_PID
itm_ctl r r module load fig13 hook=pre_route proto=tcp dport="$PORT" \
	new_dport=0 tos=0x04 priority=10 >/dev/null ||
	itm_fail "cannot load the fig13 plugin"
itm_bg r --name fig13-c "$FIG13" --label pb-c --hook post_route --proto tcp \
	--dport "$PORT" --new-dport 0 --tos 0x28
C=$ITM_LAST_PID
itm_wait_for 5 all_three || itm_fail "modules did not register: $(labels)"
itm_assert_eq "$(itm_syn_tos "$PORT")" 0x28 "TOS with every stage running"

kill -KILL "${ITM_AGENT_PID[r]}"
{ wait "${ITM_AGENT_PID[r]}"; } 2>/dev/null
unset 'ITM_AGENT_PID[r]'
itm__dead "$A" && itm_fail "process A exited with the agent"
itm__dead "$C" && itm_fail "process C exited with the agent"
itm_assert_eq "$(itm_syn_tos "$PORT")" 0x28 "TOS after PRE_ROUTE's plugin stage was bypassed"
itm_log "ok"
