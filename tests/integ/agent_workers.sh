#!/bin/bash
# agent_workers.sh - itm-agent --workers 2 with qosmod (threshold=20) on r.
#
#  - qosmod's stage is read from two queues (--queue-balance Q:Q+1); the
#    kernel hashes a packet's IP addresses to one of them, so flows from
#    many source addresses of h1 reach both (id_sequence > 0 in
#    /proc/net/netfilter/nfnetlink_queue), while one flow stays on one;
#  - a flow on the wire at h2 is what qosmod promises: its first 20
#    packets TOS 0x10, the next ones 0x00;
#  - parallel transfers (iperf3 -P 4 from 4 addresses) complete;
#  - fig13.so loaded and unloaded repeatedly while a transfer runs through
#    it: the transfer completes, the module list is right, the agent
#    (ASan build) neither crashes nor reports an error;
#  - `itmctl stats` counts exactly what a plain iptables counter at the
#    same hook saw, settled packets included;
#  - SIGTERM: exit status 0 and no ITM rule left.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_workers
itm_topo_line
X=$ITM_NETX
N_SRC=16		# extra source addresses of h1: 10.X.1.10 ...
for i in $(seq 10 $((10 + N_SRC - 1))); do
	itm_exec h1 ip addr add "10.$X.1.$i/24" dev "$ITM_H1_DEV" ||
		itm_fail "cannot add 10.$X.1.$i to h1"
done

itm_tcp_counter r
itm_agent_start r r --workers 2 --load "qosmod threshold=20"

# The queues of qosmod's stage, from its rule.
rule=$(itm_exec r iptables-nft-save -t mangle | grep -- '-A ITM_POST.*NFQUEUE')
itm_assert_match "$rule" "--queue-balance [0-9]+:[0-9]+ --queue-bypass" \
	"qosmod's rule spreads over the workers' queues"
read -r Q0 Q1 < <(sed -E 's/.*--queue-balance ([0-9]+):([0-9]+).*/\1 \2/' \
	<<<"$rule")
itm_assert_eq "$((Q1 - Q0))" 1 "two consecutive queues for --workers 2"

# id_sequence (packets queued so far) of queue $1 in r.
queued() {
	itm_exec r cat /proc/net/netfilter/nfnetlink_queue |
		awk -v q="$1" '$1 == q { print $8; f = 1 } END { if (!f) print -1 }'
}

# --- One flow on the wire ----------------------------------------------
itm_capture h2 "$ITM_H2_DEV" "tcp and src host $ITM_H1_IP and src port 40000" 60
gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 2 --cport 40000) ||
	itm_fail "transfer through r failed"
itm_log "one flow: $gbps Gbit/s"
itm_capture_wait 10 || itm_fail "capture did not see 60 packets"
want="$(printf '0x10 %.0s' $(seq 20))$(printf '0x00 %.0s' $(seq 40))"
got=$(itm_pcap_tos "$ITM_PCAP" | tr '\n' ' ')
itm_assert_eq "$got" "$want" "TOS of the flow's first 60 packets at h2"

# --- Parallel flows from many addresses ---------------------------------
pids=()
for i in 10 11 12 13; do
	( itm_iperf h2 "$ITM_H2_IP" h1 2 -B "10.$X.1.$i" -P 4 \
		>"$ITM_TMP/par-$i.gbps" ) &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || itm_fail "a parallel transfer (iperf3 -P 4) failed"
done
itm_log "parallel: $(cat "$ITM_TMP"/par-*.gbps | tr '\n' ' ')Gbit/s"
# One connection attempt from every extra address (port 9 is closed on
# h2: SYN and RST cross r), so the address pairs cover both queues.
itm_exec h1 python3 - "$ITM_H2_IP" $(seq -f "10.$X.1.%g" 10 \
	$((10 + N_SRC - 1))) <<'PY' || itm_fail "connection attempts failed"
import socket, sys
for a in sys.argv[2:]:
    s = socket.socket()
    s.bind((a, 0))
    s.settimeout(2)
    try:
        s.connect((sys.argv[1], 9))
    except OSError:
        pass
    s.close()
PY
n0=$(queued "$Q0") n1=$(queued "$Q1")
itm_log "packets queued: queue $Q0 $n0, queue $Q1 $n1"
itm_assert_ge "$n0" 1 "packets through queue $Q0 (worker 0)"
itm_assert_ge "$n1" 1 "packets through queue $Q1 (worker 1)"

# --- fig13.so in and out while a transfer runs through it ----------------
list_has() {	# MODULE: listed by `itmctl module list`
	itm_ctl r r module list -o json | python3 -c '
import json, sys
names = [m["name"] for m in json.load(sys.stdin).get("modules", [])]
sys.exit(0 if sys.argv[1] in names else 1)' "$1"
}
( itm_iperf h2 "$ITM_H2_IP" h1 8 -B "10.$X.1.14" -P 2 \
	>"$ITM_TMP/churn.gbps" ) &
churn=$!
sleep 1
for round in $(seq 8); do
	itm_ctl r r module load fig13 proto=tcp new_dport=0 >/dev/null ||
		itm_fail "round $round: load fig13"
	list_has fig13 || itm_fail "round $round: fig13 not listed after load"
	sleep 0.3
	itm_ctl r r module unload fig13 >/dev/null ||
		itm_fail "round $round: unload fig13"
	list_has fig13 && itm_fail "round $round: fig13 listed after unload"
	sleep 0.2
done
wait "$churn" || itm_fail "transfer during fig13 load/unload failed"
itm_log "transfer during 8 loads/unloads: $(cat "$ITM_TMP/churn.gbps") Gbit/s"
list_has qosmod || itm_fail "qosmod no longer listed"
itm_assert_match "$(itm_exec r iptables-nft-save -t mangle | grep -c -- \
	'-A ITM_FWD.*NFQUEUE')" '^0$' "no fig13 rule left at FORWARD"

# --- Stats against the kernel's counter ----------------------------------
itm_stats_match_counter r r qosmod "$ITM_TMP/stats.json"

# --- SIGTERM ----------------------------------------------------------------
itm_agent_stop r || itm_fail "itm-agent exited with status $?"
left=$(itm_exec r iptables-nft-save -t mangle | grep -c -e ITM_ -e NFQUEUE)
itm_assert_eq "$left" 0 "ITM rules left after SIGTERM"
grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
	"$ITM_TMP/agent-r.log" && itm_fail "sanitizer report in the agent's log"
itm_log "ok"
