#!/bin/bash
# agent_order.sh - two in-agent modules at one hook run in priority order,
# and the second sees the packet as the first left it.
#
# fig13 writes TOS 0x55; qosmod then keeps the precedence and ECN bits and
# sets Minimize-Delay: 0x55 -> 0x51.  The other way round qosmod's mark is
# overwritten: 0x55.  The TOS on the wire at h2 tells the order.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_order
itm_topo_line
itm_agent_start r r

# The TOS of a new TCP flow's first packet (its SYN) at h2, in $TOS.
probe() {
	itm_capture h2 "$ITM_H2_DEV" "tcp and src host $ITM_H1_IP and dst port 5555" 1
	itm_exec h1 bash -c "exec 3<>/dev/tcp/$ITM_H2_IP/5555" 2>/dev/null || true
	itm_capture_wait 10 || itm_fail "no packet captured"
	TOS=$(itm_pcap_tos "$ITM_PCAP")
}

load() { itm_ctl r r module load "$@" >/dev/null || itm_fail "load $*"; }
unload() { itm_ctl r r module unload "$1" >/dev/null || itm_fail "unload $1"; }

# fig13 first (priority -5), then qosmod (priority 5), same hook.
load fig13 tos=0x55 new_dport=0 priority=-5
load qosmod hook=forward priority=5
itm_ctl r r module list
probe
itm_assert_eq "$TOS" 0x51 "fig13 then qosmod"
unload fig13
unload qosmod

# qosmod first now.
load fig13 tos=0x55 new_dport=0 priority=5
load qosmod hook=forward priority=-5
probe
itm_assert_eq "$TOS" 0x55 "qosmod then fig13"

# Equal priorities: registration order.
unload fig13
load fig13 tos=0x55 new_dport=0 priority=-5
unload qosmod
load qosmod hook=forward priority=-5
probe
itm_assert_eq "$TOS" 0x51 "same priority: fig13 registered first"
itm_log "ok"
